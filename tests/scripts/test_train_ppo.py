"""scripts/train_ppo.py in process and without training, with the checks it runs (agents/preflight.py,
agents/train_cli.py): the memory check's figures, the flags its errors name, the paths it stores, the command
it records, and a --resume's first check."""

import os
import pathlib
import re
import shlex
import sys

import pytest
import yaml

from tests.agents.test_machine import GiB, fake_cgroup
from tests.conftest import RECORDED_ENV, ROOT

TINY_SNAKE = {"policy": "tiny", "env": "snake"}  # the network a check's configuration names


@pytest.fixture
def buffers_only(monkeypatch):
    """The network's passes counted as nothing: these tests count the buffers' bytes (the network's:
    tests/agents/test_training.py)."""
    import agents.policies

    monkeypatch.setattr(agents.policies, "activation_bytes", lambda *args: (0, 0))


def test_the_memory_limit_is_ram_plus_swap_and_a_run_that_just_fits_is_taken(monkeypatch, buffers_only):
    from agents import preflight

    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 1000}
    monkeypatch.setattr(os, "sysconf", lambda name: pages[name])
    read_text = pathlib.Path.read_text

    def meminfo(self, *args, **kwargs):
        if str(self) == "/proc/meminfo":
            return "MemTotal:        4000 kB\nSwapTotal:       2000 kB\nSwapFree:        1000 kB\n"
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", meminfo)
    assert preflight.memory_bytes() == 4096 * 1000 + 2000 * 1024  # RAM plus swap, swap in kB
    pages["SC_PHYS_PAGES"] = 0
    assert preflight.memory_bytes() is None  # the system cannot say
    # 10 boards × (3 × 100 + 8 steps × (100 + 32)) = 13,560: exactly the machine's memory still fits.
    monkeypatch.setattr(preflight, "memory_bytes", lambda: 13_560)
    cfg = {"num_envs": 10, "ppo": {"n_steps": 8, "batch_size": 2}, "recurrent": False, "device": "cpu",
           **TINY_SNAKE}
    preflight.check_memory(cfg, (10, 10))
    monkeypatch.setattr(preflight, "memory_bytes", lambda: 13_559)
    with pytest.raises(ValueError, match=r"does not fit in memory; use a smaller --num-envs or --set ppo"):
        preflight.check_memory(cfg, (10, 10))


def test_a_refusal_names_the_cgroup_limit_it_met(monkeypatch, buffers_only, tmp_path):
    from agents import preflight

    fake_cgroup(monkeypatch, tmp_path, "0::/job\n", {"job/memory.max": str(GiB), "job/memory.swap.max": "0"})
    cfg = {"num_envs": 2**20, "ppo": {"n_steps": 128, "batch_size": 2}, "recurrent": False,
           "device": "cpu", **TINY_SNAKE}  # 13 GiB
    with pytest.raises(ValueError, match=r"more than this machine has \(1\.0 GiB of RAM and swap, as "
                                         r"capped by its cgroup: a container's or job's memory limit\)"):
        preflight.check_memory(cfg, (10, 10))
    for name in ("memory.max", "memory.swap.max"):  # no limit: the host's RAM and swap
        (tmp_path / "fs" / "job" / name).write_text("max")
    with pytest.raises(ValueError, match=r"more than this machine has \(6\.0 GiB of RAM and swap\): the run"):
        preflight.check_memory(cfg, (10, 10))


def test_a_refusal_names_each_figure_by_its_own_flag_and_any_cuda_device_holds_the_rollout(monkeypatch,
                                                                                          buffers_only):
    from agents import preflight

    monkeypatch.setattr(preflight, "memory_bytes", lambda: 5000)
    cfg = {"num_envs": 10, "ppo": {"n_steps": 8, "batch_size": 2}, "recurrent": False, "device": "cpu",
           **TINY_SNAKE}  # 13,560 bytes
    with pytest.raises(ValueError, match=r"^ppo\.n_steps 8 × --num-envs 10 steps of 132 bytes \(the "
                                         r"rollout buffer: an observation of 100, and the action, reward and "
                                         r"value\), with the step buffers, (and the network's .*)?need at "
                                         r"least"):
        preflight.check_memory(cfg, (10, 10))
    # --device cuda:1 puts the rollout buffer on that GPU as --device cuda does: 3,000 bytes in RAM fit.
    preflight.check_memory({**cfg, "device": "cuda:1"}, (10, 10))


ON_GPU = r"use --device cuda, where the rollout buffer and the network's passes are not in RAM"


def test_a_resume_that_does_not_fit_says_what_can_still_change(monkeypatch, buffers_only):
    # A --resume keeps its --num-envs and ppo.n_steps: only --device cuda moves a PPO rollout out of RAM;
    # RecurrentPPO's stays in host memory on any device, and the step buffers are in RAM anyway.
    import torch

    from agents import preflight

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a CUDA box; without one, see below
    # 10 boards of 100-byte observations: 13,560 bytes on the CPU (8 steps), 3,000 on CUDA (step buffers).
    monkeypatch.setattr(preflight, "memory_bytes", lambda: 5000)
    cfg = {"num_envs": 10, "ppo": {"n_steps": 8, "batch_size": 2}, "recurrent": False, "device": "cpu",
           **TINY_SNAKE}
    with pytest.raises(ValueError, match=ON_GPU):
        preflight.check_memory(cfg, (10, 10), resume=True)
    # Where the step buffers (and the games' state: 10 × (300 + 300) bytes) outgrow it on CUDA too,
    # --device cuda cannot help: it was named all the same.
    with pytest.raises(ValueError, match=r"use a machine with more memory$"):
        preflight.check_memory(cfg, (10, 10), resume=True, board_bytes=300)
    # RecurrentPPO keeps its rollout buffer in host memory on any device: --device cuda cannot help it.
    with pytest.raises(ValueError, match=r"use a machine with more memory$"):
        preflight.check_memory({**cfg, "recurrent": True}, (10, 10), resume=True)
    monkeypatch.setattr(preflight, "memory_bytes", lambda: 3000)  # the step buffers just fit on CUDA
    with pytest.raises(ValueError, match=ON_GPU):
        preflight.check_memory(cfg, (10, 10), resume=True)
    monkeypatch.setattr(preflight, "memory_bytes", lambda: 2999)
    for other in ({}, {"recurrent": True}, {"recurrent": True, "device": "cuda"}, {"device": "cuda"}):
        with pytest.raises(ValueError, match=r"use a machine with more memory$"):
            preflight.check_memory({**cfg, **other}, (10, 10), resume=True)
    # On a box without CUDA the advice says where --device cuda applies.
    monkeypatch.setattr(preflight, "memory_bytes", lambda: 3000)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"use --device cuda on a machine with a CUDA GPU \(this one has "
                                         r"none\), where the rollout buffer"):
        preflight.check_memory(cfg, (10, 10), resume=True)


def test_a_bad_value_without_a_config_file_mentions_none(scripts, tmp_path, capsys):
    # The "(a value in --config ... counts as that flag)" note is for a run given --config only.
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--set", "ppo.n_steps=0", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "ppo.n_steps must be >= 1" in err and "--config" not in err and not run.exists()


@pytest.mark.parametrize(("env", "item", "message"), [
    ("gameboy", "env_kwargs.rom=  ", r"--set 'env_kwargs.rom=  ': the rom path is empty; name a file$"),
    ("gameboy", "env_kwargs.state=", r"--set 'env_kwargs.state=': the state path is empty; name a file \(or "
                                     r"none: boot the ROM\)$"),
    ("pokemon_red", "env_kwargs.state='  '", r"""--set "env_kwargs.state='  '": the state path is empty"""),
    ("pokemon_red", "env_kwargs.archive_dir= ", r"--set 'env_kwargs.archive_dir= ': .* name a folder$"),
    # spaces around a name are dropped by every reader of --set: the game's own check names the flag
    ("snake", "env_kwargs.size =3", r"snake size must be .*, got 3 \(change --set env_kwargs\.size\)$"),
])
def test_a_blank_set_key_or_path_is_refused_naming_set(scripts, tmp_path, capsys, env, item, message):
    # A blank path read as YAML's null took the default ROM or booted without the state, or was a name of
    # spaces; a name with spaces after it was "not one of its options" (a key of spaces: test_training.py).
    run = tmp_path / "run"
    argv = ["--env", env, "--device", "cpu", "--set", item, "--run-dir", str(run)]
    assert scripts.train_ppo.main(argv) == 2
    assert re.search(rf"^error: {message}", capsys.readouterr().err.strip())
    assert not run.exists()


def test_an_option_of_another_game_is_named_by_its_flag_as_typed(scripts, tmp_path, capsys):
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--allow-unknown-rom", "--run-dir", str(run)]) == 2
    assert "error: --allow-unknown-rom does not apply to --env snake" in capsys.readouterr().err
    assert scripts.train_ppo.main(["--env", "snake", "--swarm", "--run-dir", str(run)]) == 2
    assert "error: --swarm does not apply to --env snake" in capsys.readouterr().err
    assert scripts.train_ppo.main(["--env", "snake", "--set", "env_kwargs.allow_unknown_rom=true",
                                   "--run-dir", str(run)]) == 2
    assert "error: --set env_kwargs.allow_unknown_rom does not apply" in capsys.readouterr().err
    # A blank path of an option the game lacks: that it does not apply comes first, not "name a file".
    assert scripts.train_ppo.main(["--env", "snake", "--set", "env_kwargs.rom=", "--run-dir", str(run)]) == 2
    assert "error: --set env_kwargs.rom does not apply to --env snake" in capsys.readouterr().err
    assert not run.exists()


def test_an_error_names_each_entry_of_a_mapping_option_once():
    from agents.preflight import flags_named

    named = flags_named("reward.bdge is unknown (did you mean reward.badge?): reward.bdge", "reward",
                        {"bdge": 1})
    assert named == ["--set env_kwargs.reward.bdge", "--set env_kwargs.reward.badge"]


def test_an_error_names_an_option_only_by_its_whole_name():
    # swarm_prob's refusal is not --swarm's to fix, nor allow_unknown_rom's --rom's.
    from agents.preflight import flags_named

    message = "swarm_prob must be between 0 and 1, got 2"
    assert flags_named(message, "swarm", True) == []
    assert flags_named(message, "swarm_prob", 2) == ["--set env_kwargs.swarm_prob"]
    assert flags_named("unknown ROM: pass allow_unknown_rom", "rom", "red.gb") == []


def test_paths_from_set_or_a_config_file_expand_the_tilde_too(tmp_path, monkeypatch):
    # A path flag expands ~ itself; --set env_kwargs.rom=~/red.gb or a --config file's rom: ~/red.gb
    # reach config.yaml only through absolute_paths.
    from agents.preflight import absolute_paths

    monkeypatch.setenv("HOME", str(tmp_path))
    kwargs = {"rom": "~/red.gb", "state": "~/start.state", "archive_dir": "~/archive", "swarm": True}
    absolute_paths("pokemon_red", kwargs)
    assert kwargs == {"rom": str(tmp_path / "red.gb"), "state": str(tmp_path / "start.state"),
                      "archive_dir": str(tmp_path / "archive"), "swarm": True}


def test_a_blank_path_from_a_config_file_is_not_made_the_current_folder():
    # Left as it is for the game's own refusal naming the option; made absolute it named the folder training
    # started in: a state path that is a folder, or a swarm archive written among the user's files.
    from agents.preflight import absolute_paths

    kwargs = {"rom": "red.gb", "state": "", "archive_dir": "  "}
    absolute_paths("pokemon_red", kwargs)
    assert kwargs == {"rom": os.path.abspath("red.gb"), "state": "", "archive_dir": "  "}


def test_a_command_line_run_records_the_python_and_script_it_ran(scripts, tmp_path, monkeypatch):
    # command.txt holds the command as run, to run again from any folder: back to the one it ran in, then
    # the interpreter, the script (by its own path, wherever argv[0] pointed) and its arguments as typed.
    import agents.train

    calls = []
    monkeypatch.setattr(agents.train, "train", lambda cfg, run, command, **kwargs: calls.append(command))
    args = ["--env", "snake", "--policy", "tiny", "--device", "cpu", "--run-dir", str(tmp_path / "my run")]
    monkeypatch.setattr(sys, "argv", ["train_ppo.py", *args])
    monkeypatch.chdir(tmp_path)
    assert scripts.train_ppo.main() == 0
    script = str(ROOT / "scripts" / "train_ppo.py")
    assert calls == [f"cd {shlex.quote(str(tmp_path))} && {RECORDED_ENV}"
                     + shlex.join([sys.executable, script, *args])]


def test_a_resume_without_a_checkpoint_is_refused_before_the_game_is_built(scripts, tmp_path, monkeypatch,
                                                                          capsys):
    # Checked first: building a board (a Game Boy boots its ROM) and the memory check come after.
    import agents.train
    import agents.train_cli
    from agents.config import load_config, resolve

    built, trained = [], []
    monkeypatch.setattr(agents.train_cli, "probe_game", lambda env, *_: built.append(env))
    monkeypatch.setattr(agents.train, "train", lambda *args, **kwargs: trained.append(args))
    run = tmp_path / "run"
    run.mkdir()
    cfg = resolve({**load_config("snake"), "policy": "tiny", "device": "cpu"}, False)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    assert "no checkpoint to load" in capsys.readouterr().err
    assert built == [] and trained == []


def test_a_resumes_memory_check_makes_its_board_without_the_swarm_archive(scripts, tmp_path, monkeypatch):
    # The board a --resume's memory check makes opens no archive: with the run's archive_dir it would open
    # one (a damaged one refused there, as "give a folder", before train() says what a --resume can do).
    import agents.train
    import agents.train_cli
    from agents.config import load_config, resolve
    from agents.evaluation import GameSpec

    probed = []
    monkeypatch.setattr(agents.train_cli, "probe_game",
                        lambda env, kwargs, workers: probed.append(kwargs) or GameSpec((1, 10, 10), 4, 0))
    monkeypatch.setattr(agents.train, "train", lambda *args, **kwargs: None)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"a model")  # loaded by train(), faked here
    (tmp_path / "red.gb").write_bytes(b"a ROM")  # read by the game, which the check's stand-in never makes
    cfg = resolve({**load_config("pokemon_red"), "policy": "tiny", "device": "cpu"}, False)
    cfg["env_kwargs"].update(rom=str(tmp_path / "red.gb"), state=None, swarm=True,
                             archive_dir=str(tmp_path / "archive"))
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 0
    assert probed[0]["swarm"] is False and "archive_dir" not in probed[0]
    assert probed[0]["rom"] == str(tmp_path / "red.gb")  # the rest of the run's options, as they are


def test_a_resumes_start_state_the_game_refuses_is_named_as_config_yamls_not_as_state(scripts, tmp_path,
                                                                                      monkeypatch, capsys):
    # --resume takes no --state: a start state its config.yaml names and the game refuses is said so, not as
    # "--state PATH", a flag the resume would refuse.
    import agents.train
    import agents.train_cli
    from agents.config import load_config, resolve
    from envs.gameboy.roms import StateError

    state = tmp_path / "damaged.state"
    state.write_bytes(b"not a state")

    def refuse(env, kwargs, workers):  # the game's refusal of the state, without booting PyBoy
        raise StateError(kwargs["state"], "cannot be loaded (damaged)")

    monkeypatch.setattr(agents.train_cli, "probe_game", refuse)
    monkeypatch.setattr(agents.train, "train", lambda *args, **kwargs: pytest.fail("trained"))
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"a model")
    (tmp_path / "red.gb").write_bytes(b"a ROM")  # read by the game, which the stand-in never makes
    cfg = resolve({**load_config("pokemon_red"), "policy": "tiny", "device": "cpu"}, False)
    cfg["env_kwargs"].update(rom=str(tmp_path / "red.gb"), state=str(state))
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    assert capsys.readouterr().err == (f"error: --resume {run}: the run's start state {state} "
                                       "(env_kwargs.state in its config.yaml) cannot be loaded (damaged)\n")


def test_a_config_inside_an_existing_run_without_force_is_told_of_the_run_not_of_force(scripts, tmp_path,
                                                                                     capsys):
    # The check for inputs inside the run --force replaces is for --force: without it the folder is kept,
    # and the error is the existing run's ("continue it with --resume, or pass --force").
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("env: snake\n")
    (run / "command.txt").write_text("train_ppo.py --env snake\n")
    (run / "model.zip").write_bytes(b"")  # a run to resume (one without a model is told to --force)
    argv = ["--config", str(run / "config.yaml"), "--run-dir", str(run), "--policy", "tiny",
            "--device", "cpu"]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    assert "or pass --force to replace it" in err and "which --force replaces" not in err
    assert sorted(p.name for p in run.iterdir()) == ["command.txt", "config.yaml", "model.zip"]


@pytest.mark.parametrize("flag", ["--run-dir", "--resume"])
def test_a_run_folder_name_that_is_not_utf8_is_refused_before_anything_is_made(scripts, tmp_path, capsys,
                                                                                flag):
    """A Latin-1 folder name (as argv decodes it: a surrogate for each byte that is not UTF-8) was made, then
    TensorBoard's writer failed to encode it: "error: 'utf-8' codec can't encode character '\\udce9'"."""
    run = os.fsdecode(bytes(tmp_path) + b"/r\xe9")
    with pytest.raises(SystemExit) as e:
        scripts.train_ppo.main(["--env", "snake", flag, run])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: {tmp_path}/r\\xe9: it is not valid UTF-8, which TensorBoard needs" in err
    assert list(tmp_path.iterdir()) == []
    utf8 = str(tmp_path / "ré")  # not ASCII, yet UTF-8: taken
    assert scripts.train_ppo.parser().parse_args(["--run-dir", utf8]).run_dir == utf8


def record_starts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The workers' fork server and the games train_ppo starts, in order; the first game stops the command."""
    import agents.evaluation  # noqa: F401 (imported here, not first by main() below, where it kept the stand-in)
    import envs
    import envs.vector

    order: list[str] = []
    monkeypatch.setattr(envs.vector, "prepare_workers", lambda game: order.append(f"fork server for {game}"))

    def made(*args, **kwargs):
        order.append("game")
        raise ValueError("stop at the check")

    monkeypatch.setattr(envs, "make_game", made)
    return order


@pytest.mark.parametrize("workers", [0, 1])
def test_the_workers_fork_server_starts_before_the_game_is_checked(scripts, tmp_path, monkeypatch, workers):
    """The fork server of the workers to come imports (Numba's set-up, a Game Boy game's PyBoy: 1-2 s) while
    the game is checked; it started only with the vector env, once the check's board had been made."""
    order = record_starts(monkeypatch)
    run = tmp_path / "run"
    argv = ["--env", "snake", "--num-envs", "8", "--num-workers", str(workers), "--policy", "tiny",
            "--device", "cpu", "--run-dir", str(run)]
    assert scripts.train_ppo.main(argv) == 2 and not run.exists()
    assert order == (["fork server for snake", "game"] if workers else ["game"]), order


@pytest.mark.parametrize("workers", [0, 1])
def test_a_resumes_workers_fork_server_starts_before_its_game_is_checked(scripts, tmp_path, monkeypatch,
                                                                          workers):
    # As for a new run: a resume checks its game's memory on one board, then makes its vector env.
    from agents.config import load_config, resolve

    order = record_starts(monkeypatch)
    run = tmp_path / "run"
    run.mkdir()
    cfg = resolve({**load_config("snake"), "policy": "tiny", "device": "cpu"}, False)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    (run / "model.zip").write_bytes(b"")  # a checkpoint to resume from: the game is checked before it loads
    argv = ["--resume", str(run), "--num-workers", str(workers), "--no-progress"]
    assert scripts.train_ppo.main(argv) == 2
    assert order == (["fork server for snake", "game"] if workers else ["game"]), order


def test_help_gives_the_defaults_and_bounds_the_readme_gives(scripts):
    # --help said nothing of --seed's range, --num-workers' bound or the defaults of these flags.
    text = " ".join(scripts.train_ppo.parser().format_help().split())
    for phrase in ("(0 to 2**32 - 1, default 0)",
                   "at most --num-envs (0: in this process; default: 0 for the batched games, one per core "
                   "for the Game Boy ones)",
                   "(default: a tenth of the run, at most 1M)", "(default: a fifth of the run)",
                   "(default: the env's preset, configs/<env>.yaml)"):
        assert phrase in text


def test_a_game_that_cannot_list_its_options_has_an_unknown_one_named(scripts, monkeypatch, capsys):
    # Options are checked against the game's __init__; a game taking **kwargs throughout cannot list them,
    # and the TypeError its constructor raises is the error, worded as one of the run's options.
    import agents.runs

    monkeypatch.setattr(agents.runs, "game_options", lambda env: None)
    argv = ["--env", "snake", "--set", "env_kwargs.wrap_walls=true", "--policy", "tiny", "--device", "cpu"]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    assert "error: env_kwargs for snake: " in err and "'wrap_walls'" in err, err


def test_no_env_and_no_config_is_refused_naming_the_envs(scripts, capsys):
    with pytest.raises(SystemExit) as e:
        scripts.train_ppo.main(["--policy", "tiny"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "error: --env is required (one of: gameboy, pokemon_red, rotation, snake," in err, err


def test_force_into_a_run_dir_not_there_yet_trains_there(scripts, tmp_path, monkeypatch):
    # --force is harmless where there is no run to replace (a script passing it every time): nothing there
    # can be an input it would delete.
    import agents.train

    trained = []
    monkeypatch.setattr(agents.train, "train", lambda cfg, run, *args, **kwargs: trained.append(run))
    run = tmp_path / "new"
    argv = ["--env", "snake", "--run-dir", str(run), "--force", "--config", str(tmp_path / "new.yaml"),
            "--policy", "tiny", "--device", "cpu"]
    (tmp_path / "new.yaml").write_text("env: snake\n")
    assert scripts.train_ppo.main(argv) == 0
    assert trained == [run]


def test_force_refuses_a_start_state_inside_the_run_it_replaces(scripts, tmp_path, monkeypatch, capsys):
    # The state would be moved aside with the old run as the new one starts, then deleted with it.
    import agents.train_cli

    monkeypatch.setattr(agents.train_cli, "check_game", lambda cfg, typed=(): None)  # no ROM is read
    run = tmp_path / "run"
    run.mkdir()
    (run / "start.state").write_bytes(b"a state")
    argv = ["--env", "gameboy", "--state", str(run / "start.state"), "--run-dir", str(run), "--force",
            "--device", "cpu", "--policy", "tiny"]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    assert f"--state {run / 'start.state'} is inside --run-dir {run}, which --force replaces" in err
    assert (run / "start.state").read_bytes() == b"a state"


def test_a_run_that_fails_before_training_leaves_no_folder_it_made_above_its_run_dir(scripts, tmp_path,
                                                                                    monkeypatch, capsys):
    # Its run folder went, but the folders above it that --run-dir a/b/run had made stayed, empty.
    import agents.train

    def refused(*args, **kwargs):
        raise ValueError("PPO refused the settings: stood in for")

    monkeypatch.setattr(agents.train, "train", refused)
    (tmp_path / "kept").mkdir()
    for run in (tmp_path / "a" / "b" / "run", tmp_path / "kept" / "c" / "run"):
        argv = ["--env", "snake", "--run-dir", str(run), "--policy", "tiny", "--device", "cpu"]
        assert scripts.train_ppo.main(argv) == 2
        assert "stood in for" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"] and not any((tmp_path / "kept").iterdir())


def test_a_reward_weight_set_as_1e1_is_a_number_as_any_other_option():
    # README: 1e-2 in a --set or --config is a number (YAML alone reads it as text); Pokémon's reward weights,
    # entries of a mapping option, were refused: "reward.badge must be a finite number, got '1e1'".
    from envs import game_class
    from envs.base import whole_options

    kwargs = {"reward": {"badge": "1e1", "still": "-5e-3", "event": 1.0}, "visit_decay": "9.995e-1"}
    read = whole_options(game_class("pokemon_red"), kwargs)
    assert read == {"reward": {"badge": 10.0, "still": -0.005, "event": 1.0}, "visit_decay": 0.9995}
    text = {"reward": {"badge": "ten"}}  # not a number: left for the game to refuse
    assert whole_options(game_class("pokemon_red"), text) == text


def test_a_run_folder_made_but_not_claimed_goes_with_the_folders_above_it(scripts, tmp_path, monkeypatch,
                                                                         capsys):
    # new_run_dir made a/b/run and then failed (the lock file refused: a full disk): the command never
    # learned of the folder, and a/b/run stayed, empty.
    import agents.runs
    import agents.train_cli  # noqa: F401 (imported here, not first by main() below, where it kept the stand-in)

    def refused(path):
        raise agents.runs.RunError(f"{path}: cannot write in the run folder (stood in for)")

    monkeypatch.setattr(agents.runs, "claim_run", refused)
    argv = ["--env", "snake", "--run-dir", str(tmp_path / "a" / "b" / "run"), "--policy", "tiny", "--device",
            "cpu"]
    assert scripts.train_ppo.main(argv) == 2
    assert "stood in for" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_relative_rom_from_set_reaches_the_run_config_absolute(scripts, tmp_path, monkeypatch):
    # README: config.yaml must find the ROM again from any folder, so main stores it absolute (kills a
    # mutant that dropped main's absolute_paths call; the helper alone is tested above).
    import agents.train_cli
    from agents.runs import RunError

    seen = []

    def stop(cfg, run_dir, force):  # the config the run folder would be made with; no ROM is read
        seen.append(cfg)
        raise RunError("stop here")

    monkeypatch.setattr(agents.train_cli, "check_game", lambda cfg, typed=(): None)
    monkeypatch.setattr(agents.train_cli, "new_run_dir", stop)
    monkeypatch.chdir(tmp_path)
    assert scripts.train_ppo.main(["--env", "pokemon_red", "--set", "env_kwargs.rom=red.gb", "--device",
                                   "cpu", "--policy", "tiny", "--run-dir", str(tmp_path / "run")]) == 2
    assert seen[0]["env_kwargs"]["rom"] == str(tmp_path / "red.gb")


@pytest.mark.parametrize(("env", "source", "rom"), [
    ("pokemon_red", ["--set", "env_kwargs.rom=null"], "roms/pokemon_red.gb"),
    ("pokemon_red", ["--set", "env_kwargs.rom=~"], "roms/pokemon_red.gb"),
    ("pokemon_red", ["--config", "blank.yaml"], "roms/pokemon_red.gb"),
    ("gameboy", ["--config", "blank.yaml"], "roms/tetris.gb"),
    ("gameboy", ["--set", "env_kwargs.rom=null"], "roms/tetris.gb"),
])
def test_a_null_rom_is_the_games_default_from_set_and_a_config_file_alike(scripts, tmp_path, monkeypatch,
                                                                           env, source, rom):
    # README: null (or an empty rom: in a --config file) is the game's own ROM path, as the presets write
    # it; Pokémon Red's refused it ("rom must be a path, got None") where Game Boy's took roms/<game>.gb.
    # Only a blank --set is refused (test_a_blank_set_key_or_path_is_refused_naming_set).
    import agents.train_cli
    from agents.runs import RunError

    seen = []

    def stop(cfg, run_dir, force):  # the config the run folder would be made with; no ROM is read
        seen.append(cfg)
        raise RunError("stop here")

    monkeypatch.setattr(agents.train_cli, "check_game", lambda cfg, typed=(): None)
    monkeypatch.setattr(agents.train_cli, "new_run_dir", stop)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blank.yaml").write_text("env_kwargs:\n  rom:\n  archive_dir:\n", encoding="utf-8")
    assert scripts.train_ppo.main(["--env", env, *source, "--device", "cpu", "--policy", "tiny",
                           "--run-dir", str(tmp_path / "run")]) == 2
    assert seen[0]["env_kwargs"]["rom"] == str(tmp_path / rom)
    assert seen[0]["env_kwargs"].get("archive_dir") is None  # the run's own archive/ (README, swarm)


def test_a_file_given_by_set_is_named_by_set_even_with_a_config_file(scripts, tmp_path):
    # input_name's docstring: --set env_kwargs.state=... is named as typed, not as the --config file's
    # entry the user did not write (kills a mutant that dropped the ``typed`` test).
    from agents.train_cli import input_name

    argv = ["--config", str(tmp_path / "c.yaml"), "--set", "env_kwargs.state=s"]
    args = scripts.train_ppo.parser().parse_args(argv)
    assert input_name("state", args, {"state"}) == "--set env_kwargs.state"
    assert input_name("rom", args, {"state"}) == f"--config {tmp_path / 'c.yaml'}: env_kwargs.rom ="
    # A path given by its flag beside a --config file is the flag's, not the file's entry.
    args = scripts.train_ppo.parser().parse_args(["--config", str(tmp_path / "c.yaml"), "--state", "s"])
    assert input_name("state", args, set()) == "--state"


def test_a_flag_given_as_0_wins_over_a_config_file_as_any_other_value(scripts, tmp_path, monkeypatch):
    # README (Options): flags win over --config. A 0 (--seed 0, --num-workers 0) is a value given too.
    import agents.train_cli
    from agents.runs import RunError

    seen = []

    def stop(cfg, run_dir, force):  # the config the run folder would be made with
        seen.append(cfg)
        raise RunError("stop here")

    monkeypatch.setattr(agents.train_cli, "new_run_dir", stop)
    (tmp_path / "c.yaml").write_text("env: snake\nseed: 5\nnum_workers: 2\n")
    argv = ["--config", str(tmp_path / "c.yaml"), "--seed", "0", "--num-workers", "0", "--device", "cpu",
            "--policy", "tiny", "--run-dir", str(tmp_path / "run")]
    assert scripts.train_ppo.main(argv) == 2
    assert (seen[0]["seed"], seen[0]["num_workers"]) == (0, 0)


def test_a_game_flag_given_as_0_wins_over_a_config_file_and_is_refused_by_the_game(scripts, tmp_path, capsys,
                                                                                    monkeypatch):
    # --size 0 is a value given, as --seed 0 is: the game refuses it, naming the flag, rather than the
    # config file's size training in its place.
    import agents.train_cli
    from agents.runs import RunError

    def stop(cfg, run_dir, force):  # the game's check comes first: a run made with size 8 is the defect
        raise RunError(f"made with size {cfg['env_kwargs']['size']}")

    monkeypatch.setattr(agents.train_cli, "new_run_dir", stop)
    (tmp_path / "c.yaml").write_text("env: snake\nenv_kwargs: {size: 8}\n")
    run = tmp_path / "run"
    argv = ["--config", str(tmp_path / "c.yaml"), "--size", "0", "--run-dir", str(run)]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: snake size must be between 4 and 32, got 0 (change --size)"), err
    assert not run.exists()


def test_a_runs_config_yaml_given_as_config_trains_again(scripts, tmp_path, monkeypatch):
    # README (--config): "--config RUN/config.yaml trains it again". Its self_play section restates the
    # defaults (a run without self-play has them too), read anew from YAML: the same values, not settings.
    import agents.train_cli
    from agents.config import load_config, resolve
    from agents.runs import RunError

    seen = []

    def stop(cfg, run_dir, force):  # the run folder would be made: every check passed
        seen.append(cfg)
        raise RunError("stop here")

    monkeypatch.setattr(agents.train_cli, "new_run_dir", stop)
    cfg = resolve({**load_config("snake"), "policy": "tiny", "device": "cpu"}, False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    argv = ["--config", str(tmp_path / "config.yaml"), "--run-dir", str(tmp_path / "run")]
    assert scripts.train_ppo.main(argv) == 2
    assert seen and seen[0]["self_play"] == cfg["self_play"]


def test_intervals_a_config_files_total_chose_follow_a_new_total(scripts, tmp_path, monkeypatch, capsys):
    # A 30k-step trial's config.yaml given as --config for a 4M-step run kept its save_every 3,000 and
    # video_every 6,000: a checkpoint and a 1,000-step video every rollout or two, for 4M steps. As for a
    # --resume, intervals the file's total chose follow the new one, said with the flag that keeps them.
    import agents.train
    from agents.config import load_config, resolve

    seen, said = [], []

    def fake_train(cfg, *args, **kwargs):  # what was said as training starts: a note after it is late
        seen.append(cfg)
        said.append(capsys.readouterr().err)

    monkeypatch.setattr(agents.train, "train", fake_train)
    base = {**load_config("snake"), "policy": "tiny", "device": "cpu", "total_timesteps": 30_000}
    save = ("note: save_every follows the new --total-timesteps, 3,000 -> 400,000 steps (the automatic "
            "value; give --save-every 3000 to keep 3,000)")
    video = ("note: video_every follows the new --total-timesteps, 6,000 -> 800,000 steps (the automatic "
             "value; give --video-every 6000 to keep 6,000)")
    for i, (own, argv, expected, notes) in enumerate((
            ({}, ["--total-timesteps", "4000000"], (400_000, 800_000), [save, video]),
            ({}, ["--set", "total_timesteps=4000000"], (400_000, 800_000), [save, video]),
            ({"save_every": 5_000}, ["--total-timesteps", "4000000"], (5_000, 800_000), [video]),  # kept
            ({}, ["--total-timesteps", "4000000", "--save-every", "777"], (777, 800_000), [video]),
            ({}, ["--total-timesteps", "4000000", "--set", "save_every=3000"], (3_000, 800_000), [video]),
            ({}, ["--seed", "1"], (3_000, 6_000), []))):  # the file's own total: trained again as it was
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(resolve({**base, **own}, False)))
        argv = ["--config", str(tmp_path / "config.yaml"), "--run-dir", str(tmp_path / f"run{i}"), *argv]
        assert scripts.train_ppo.main(argv) == 0
        assert (seen[-1]["save_every"], seen[-1]["video_every"]) == expected, (own, argv)
        assert [line for line in said[-1].splitlines() if line.startswith("note: ")] == notes, (own, argv)
        assert "note: " not in capsys.readouterr().err, (own, argv)
    # A run refused (its --run-dir is taken) says no note: nothing follows anything.
    (tmp_path / "run0").mkdir(exist_ok=True)
    (tmp_path / "run0" / "mine.txt").write_text("a file of the user's")
    argv = ["--config", str(tmp_path / "config.yaml"), "--run-dir", str(tmp_path / "run0"),
            "--total-timesteps", "4000000"]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "note:" not in err, err


@pytest.mark.parametrize("env", ["snake", "snake_duel", "sokoban", "rotation", "gameboy", "pokemon_red"])
def test_a_presets_batch_size_fits_fewer_boards(env, scripts, tmp_path, monkeypatch, capsys):
    # `--env sokoban --num-envs 8` was refused: "ppo.batch_size (2048) exceeds ppo.n_steps × --num-envs
    # (128 × 8 = 1024)", a batch size the preset fixed, not the user. Too large for the smaller rollout, it
    # is auto's eighth, said in a note; a default run keeps the preset's; one given is still refused.
    import agents.train
    from envs.gameboy.roms import TEST_CARTRIDGE

    seen = []
    monkeypatch.setattr(agents.train, "train", lambda cfg, *args, **kwargs: seen.append(cfg))
    game = {"gameboy": ["--game", "depthfirst_test", "--state", "none"],
            "pokemon_red": ["--rom", str(TEST_CARTRIDGE), "--state", "none"]}.get(env, [])
    preset = yaml.safe_load((ROOT / "configs" / f"{env}.yaml").read_text())
    n_steps, fixed = preset["ppo"]["n_steps"], preset["ppo"]["batch_size"]
    argv = ["--env", env, *game, "--device", "cpu", "--policy", "tiny", "--no-progress"]
    assert scripts.train_ppo.main([*argv, "--run-dir", str(tmp_path / "default")]) == 0
    # The default run's batch size, as before: the preset's, Snake's auto an eighth of 64 boards' rollout
    assert seen[-1]["ppo"]["batch_size"] == {"snake": 1_024}.get(env, 2_048) and "note:" not in \
        capsys.readouterr().err
    for boards in (8, 1):
        rollout = n_steps * boards
        follows = fixed != "auto" and fixed > rollout
        expected = fixed if fixed != "auto" and not follows else rollout // 8
        assert scripts.train_ppo.main([*argv, "--num-envs", str(boards), "--run-dir",
                                       str(tmp_path / f"run{boards}")]) == 0, capsys.readouterr().err
        assert seen[-1]["ppo"]["batch_size"] == expected, boards
        notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
        assert notes == ([f"note: ppo.batch_size follows the new --num-envs, 2,048 -> {expected:,} (the "
                          "automatic value, each rollout in 8 minibatches; 2,048 exceeds ppo.n_steps × "
                          f"--num-envs, {n_steps} × {boards} = {rollout:,})"] if follows else []), notes
    # A batch size the user gives, with --set or in a --config file, is still refused where it cannot fit.
    (tmp_path / "mine.yaml").write_text("ppo: {batch_size: 4096}\n")
    for given, batch in ((["--set", "ppo.batch_size=2048"], 2048),
                         (["--config", str(tmp_path / "mine.yaml")], 4096)):
        assert scripts.train_ppo.main([*argv, *given, "--num-envs", "1", "--run-dir",
                                       str(tmp_path / "no")]) == 2
        assert f"ppo.batch_size ({batch}) exceeds ppo.n_steps × --num-envs ({n_steps} × 1" in \
            capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_a_presets_batch_size_names_what_made_the_rollout_smaller(scripts, tmp_path, monkeypatch, capsys):
    # Hand mutants of fit_preset_batch passed every test: its note named --num-envs alone where ppo.n_steps
    # shrank the rollout too, or nothing ("follows the new , 2,048 -> 128") for a --config file's num_envs;
    # and a batch size set to the rollout's eighth in place of auto's (at least 2) refused a rollout of 8.
    import agents.train

    seen = []
    monkeypatch.setattr(agents.train, "train", lambda cfg, *args, **kwargs: seen.append(cfg))
    (tmp_path / "mine.yaml").write_text("num_envs: 8\n")
    argv = ["--env", "sokoban", "--device", "cpu", "--policy", "tiny", "--no-progress"]
    for i, (given, batch, by, fits) in enumerate((
            (["--num-envs", "1", "--set", "ppo.n_steps=8"], 2, "--num-envs and ppo.n_steps", "8 × 1 = 8"),
            (["--config", str(tmp_path / "mine.yaml")], 128, f"num_envs of --config {tmp_path / 'mine.yaml'}",
             "128 × 8 = 1,024"))):
        assert scripts.train_ppo.main([*argv, *given, "--run-dir", str(tmp_path / f"run{i}")]) == 0
        assert seen[-1]["ppo"]["batch_size"] == batch
        notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
        assert notes == [f"note: ppo.batch_size follows the new {by}, 2,048 -> {batch:,} (the automatic "
                         "value, each rollout in 8 minibatches; 2,048 exceeds ppo.n_steps × --num-envs, "
                         f"{fits})"]


def test_a_batch_size_a_config_files_boards_chose_follows_new_boards(scripts, tmp_path, monkeypatch, capsys):
    # A 16-board run's config.yaml given as --config with --num-envs 64 kept its ppo.batch_size 256, auto's
    # for 16 boards: 32 minibatches an epoch, not auto's 8 (1,024). As for intervals and a new total, a
    # batch size the file's boards and n_steps chose follows new ones, said with the --set that keeps it.
    import agents.train
    from agents.config import load_config, resolve

    seen = []
    monkeypatch.setattr(agents.train, "train", lambda cfg, *args, **kwargs: seen.append(cfg))
    base = {**load_config("snake"), "policy": "tiny", "device": "cpu", "num_envs": 16}
    boards = ("note: ppo.batch_size follows the new --num-envs, 256 -> 1,024 (the automatic value, each "
              "rollout in 8 minibatches; give --set ppo.batch_size=256 to keep 256)")
    steps = ("note: ppo.batch_size follows the new ppo.n_steps, 256 -> 512 (the automatic value, each "
             "rollout in 8 minibatches; give --set ppo.batch_size=256 to keep 256)")
    for i, (own, argv, expected, notes) in enumerate((
            ({}, ["--num-envs", "64"], 1_024, [boards]),
            ({}, ["--set", "num_envs=64"], 1_024, [boards]),
            ({}, ["--set", "ppo.n_steps=256"], 512, [steps]),
            ({}, ["--num-envs", "64", "--set", "ppo.n_steps=256"], 2_048, [boards.replace(
                "--num-envs", "--num-envs and ppo.n_steps").replace("1,024", "2,048")]),
            ({"batch_size": 512}, ["--num-envs", "64"], 512, []),  # set by hand: kept
            ({}, ["--num-envs", "64", "--set", "ppo.batch_size=256"], 256, []),
            ({}, ["--seed", "1"], 256, []))):  # the file's own boards: trained again as it was
        cfg = resolve({**base, "ppo": {**base["ppo"], **own}}, False)
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
        argv = ["--config", str(tmp_path / "config.yaml"), "--run-dir", str(tmp_path / f"run{i}"), *argv]
        assert scripts.train_ppo.main(argv) == 0
        assert seen[-1]["ppo"]["batch_size"] == expected, (own, argv)
        err = capsys.readouterr().err
        assert [line for line in err.splitlines() if line.startswith("note: ")] == notes, (own, argv)


def test_settings_given_anew_with_a_config_file_that_chose_nothing_else_say_no_note(scripts, tmp_path,
                                                                                    monkeypatch, capsys):
    # The same --num-envs as the file's (its batch size stays auto's own: no "256 -> 256" note), and a
    # hand-written file whose total and n_steps YAML reads as text (1e6, no dot): resolved as numbers later,
    # nothing follows from them (auto's arithmetic on text was a TypeError traceback in place of training).
    import agents.train
    from agents.config import load_config, resolve

    seen = []
    monkeypatch.setattr(agents.train, "train", lambda cfg, *args, **kwargs: seen.append(cfg))
    base = {**load_config("snake"), "policy": "tiny", "device": "cpu", "num_envs": 16}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(resolve(base, False)))
    argv = ["--config", str(tmp_path / "config.yaml"), "--run-dir", str(tmp_path / "run0"), "--num-envs",
            "16"]
    assert scripts.train_ppo.main(argv) == 0
    assert seen[-1]["ppo"]["batch_size"] == 256
    assert "note: " not in capsys.readouterr().err
    text = "total_timesteps: 1e6\nnum_envs: 16\nppo: {n_steps: 1e2, batch_size: 200}\n"
    (tmp_path / "text.yaml").write_text(text)
    argv = ["--env", "snake", "--config", str(tmp_path / "text.yaml"), "--run-dir", str(tmp_path / "run1"),
            "--total-timesteps", "4000", "--num-envs", "8", "--policy", "tiny", "--device", "cpu"]
    assert scripts.train_ppo.main(argv) == 0
    assert (seen[-1]["total_timesteps"], seen[-1]["ppo"]["n_steps"], seen[-1]["ppo"]["batch_size"]) == (
        4000, 100, 200)


def test_device_auto_is_the_cpu_where_torch_sees_no_gpu_for_a_new_run_and_a_resume(scripts, tmp_path,
                                                                                  monkeypatch):
    # README (--device): auto is CUDA when available. Either command read as if it were, on a machine
    # without one, chose cuda (and the CUDA presets) for a run that then could not start.
    import torch

    import agents.train
    from agents.config import load_config, resolve

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    given = []
    monkeypatch.setattr(agents.train, "train", lambda cfg, run, *args, **kwargs: given.append(cfg))
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(tmp_path / "new"), "--no-progress"
                                   ]) == 0
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"a model")  # loaded by train(), stubbed here
    own = resolve({**load_config("snake"), "device": "cpu"}, False)
    (run / "config.yaml").write_text(yaml.safe_dump(own))
    assert scripts.train_ppo.main(["--resume", str(run), "--device", "auto", "--no-progress"]) == 0
    assert [(cfg["device"], cfg["policy"]) for cfg in given] == [("cpu", "tiny"), ("cpu", "tiny")]


@pytest.mark.parametrize("env, kwargs, obs", [("rotation", {}, 3 * 24 * 48),
                                              ("gameboy", {"game": "depthfirst_test"}, 4 * 72 * 80)])
def test_the_memory_check_counts_each_boards_game_state(env, kwargs, obs, monkeypatch):
    # On CUDA the rollout buffer is off the host and only the step buffers were counted: a Rotation board's
    # 24 pre-rendered views (41,760 bytes) are 4 times its step buffers, a Game Boy's emulator (0.9 MB) 13
    # times, so a --num-envs twice what RAM held passed and met the out-of-memory killer.
    if env == "gameboy":
        pytest.importorskip("pyboy")
    from agents import preflight
    from agents.config import load_config, resolve

    cfg = resolve({**load_config(env), "device": "cuda", "num_workers": 0}, True)
    cfg["env_kwargs"].update(kwargs)
    monkeypatch.setattr(preflight, "memory_bytes", lambda: cfg["num_envs"] * 3 * obs * 2)
    with pytest.raises(ValueError, match=rf"the step buffers of --num-envs {cfg['num_envs']} boards "
                       rf"\({obs:,} bytes an observation\) and the games' state \([\d,]+ bytes a board\) "
                       r"need at least .*; use a smaller --num-envs$"):
        preflight.check_game(cfg)


def test_a_batch_size_that_fills_the_new_rollout_is_told_how_to_keep_it(scripts, tmp_path, monkeypatch,
                                                                        capsys):
    # Hand mutation pass: followed_notes telling a batch size equal to the new rollout that it "exceeds" it
    # (< for <=) passed every test: 128 fits a rollout of 128 × 1 = 128, and --set keeps it.
    import agents.train
    from agents.config import load_config, resolve

    seen = []
    monkeypatch.setattr(agents.train, "train", lambda cfg, *args, **kwargs: seen.append(cfg))
    base = {**load_config("snake"), "policy": "tiny", "device": "cpu", "num_envs": 8}
    cfg = resolve({**base, "ppo": {**base["ppo"], "n_steps": 128}}, False)
    assert cfg["ppo"]["batch_size"] == 128
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    argv = ["--config", str(tmp_path / "config.yaml"), "--run-dir", str(tmp_path / "run"), "--num-envs", "1"]
    assert scripts.train_ppo.main(argv) == 0 and seen[-1]["ppo"]["batch_size"] == 16
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert notes == ["note: ppo.batch_size follows the new --num-envs, 128 -> 16 (the automatic value, each "
                     "rollout in 8 minibatches; give --set ppo.batch_size=128 to keep 128)"]
