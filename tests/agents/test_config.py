"""agents/config.py on its own: the ``auto`` choices ``resolve`` makes (README, Options), the bounds of the
values it accepts, and a config file's top-level keys. No training; tests/agents/test_training.py runs
the same checks through scripts/train_ppo.py."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from agents.config import apply_set, check_device_defaults, load_config, load_yaml, resolve
from tests.conftest import ROOT


def resolved(*sets: str, cuda: bool = False) -> dict:
    return resolve(apply_set(load_config("snake"), list(sets)), cuda_available=cuda)


def test_auto_device_and_policy_follow_the_machine():
    # README: --policy defaults to 10m on CUDA, tiny on CPU; --device auto takes CUDA when available.
    on_gpu, on_cpu = resolved(cuda=True), resolved(cuda=False)
    assert (on_gpu["device"], on_gpu["policy"]) == ("cuda", "10m")
    assert (on_cpu["device"], on_cpu["policy"]) == ("cpu", "tiny")
    assert resolved("device=cpu", cuda=True)["policy"] == "tiny"  # the device chosen, not the machine
    assert resolved("cuda_policy=small", cuda=True)["policy"] == "small"
    assert resolved("cpu_policy=medium", cuda=False)["policy"] == "medium"
    # An unknown preset auto took is named by its key (a --resume's config.yaml skips check_device_defaults).
    with pytest.raises(ValueError, match=r"^--set cuda_policy: unknown preset 'huge'"):
        resolved("cuda_policy=huge", cuda=True)


def test_auto_boards_and_minibatch_follow_the_device():
    # README: Snake steps 256 boards on CUDA (minibatches of 4,096), 64 on a CPU (1,024): an eighth of
    # each rollout of 128 steps, whatever the boards.
    def boards_and_minibatch(*sets: str, cuda: bool) -> tuple[int, int]:
        cfg = resolved(*sets, cuda=cuda)
        return cfg["num_envs"], cfg["ppo"]["batch_size"]

    assert boards_and_minibatch(cuda=True) == (256, 4096)
    assert boards_and_minibatch(cuda=False) == (64, 1024)
    assert boards_and_minibatch("device=cpu", cuda=True) == (64, 1024)  # the device chosen, not the machine
    assert boards_and_minibatch("cuda_num_envs=128", cuda=True) == (128, 2048)
    assert boards_and_minibatch("num_envs=32", cuda=True) == (32, 512)  # a value given wins over auto
    assert boards_and_minibatch("ppo.n_steps=64", cuda=False) == (64, 512)
    assert boards_and_minibatch("ppo.batch_size=256", cuda=True) == (256, 256)
    assert boards_and_minibatch("num_envs=1", "ppo.n_steps=4", cuda=False) == (1, 2)  # never 1 (SB3 needs 2)
    # A bad value auto took is named by its key; the other device's is checked for a new run.
    with pytest.raises(ValueError, match=r"^--set cuda_num_envs must be >= 1, got 0"):
        resolved("cuda_num_envs=0", cuda=True)
    with pytest.raises(ValueError, match=r"^--set cpu_num_envs must be a whole number, got 'many'"):
        resolved("cpu_num_envs=many", cuda=False)
    for bad, error in (("cuda_num_envs=0", "--set cuda_num_envs must be >= 1, got 0"),
                       ("cuda_num_envs=2.5", "--set cuda_num_envs must be a whole number, got 2.5")):
        with pytest.raises(ValueError, match=f"^{re.escape(error)}"):
            check_device_defaults(apply_set(load_config("snake"), [bad]))
    check_device_defaults(load_config("snake"))


@pytest.mark.parametrize("total, save, video", [
    (4_000_000, 400_000, 800_000),  # a tenth / a fifth of the run
    (50_000_000, 1_000_000, 10_000_000),  # checkpoints at most every 1M steps; videos not capped
    (3, 1, 1),  # never 0
])
def test_auto_intervals_are_a_tenth_and_a_fifth_of_the_run(total, save, video):
    cfg = resolved(f"total_timesteps={total}")
    assert (cfg["save_every"], cfg["video_every"]) == (save, video)
    given = resolved(f"total_timesteps={total}", "save_every=7", "video_every=9")
    assert (given["save_every"], given["video_every"]) == (7, 9)


def test_bounds_of_accepted_values():
    assert resolved(f"seed={2**32 - 1}")["seed"] == 2**32 - 1
    with pytest.raises(ValueError, match=r"--seed must be between 0 and 2\*\*32 - 1"):
        resolved(f"seed={2**32}")
    assert resolved("num_envs=8", "num_workers=8", "ppo.batch_size=8")["num_workers"] == 8
    with pytest.raises(ValueError, match=r"--num-workers must be between 0 and --num-envs \(8\), got 9"):
        resolved("num_envs=8", "num_workers=9", "ppo.batch_size=8")
    edges = resolved("ppo.gamma=1", "ppo.gae_lambda=0", "ppo.ent_coef=0", "ppo.vf_coef=0")
    assert [edges["ppo"][k] for k in ("gamma", "gae_lambda", "ent_coef", "vf_coef")] == [1, 0, 0, 0]
    for key in ("gamma", "gae_lambda"):
        with pytest.raises(ValueError, match=rf"ppo\.{key} must be between 0 and 1, got 1.01"):
            resolved(f"ppo.{key}=1.01")


def test_a_batch_of_the_whole_rollout_is_accepted_and_a_larger_one_says_how_many_envs():
    cfg = resolved("num_envs=8", "ppo.n_steps=32", "ppo.batch_size=256")  # 32 × 8 = 256: one minibatch
    assert cfg["ppo"]["batch_size"] == 256
    # 100 samples need ceil(100 / 32) = 4 envs of 32 steps
    with pytest.raises(ValueError, match=r"use --num-envs 4 or more"):
        resolved("num_envs=3", "ppo.n_steps=32", "ppo.batch_size=100")


def test_a_one_sample_last_minibatch_is_refused_only_where_recurrent_ppo_normalises_it():
    lone = ["recurrent=true", "num_envs=5", "ppo.n_steps=5", "ppo.batch_size=8"]  # 25 = 3 × 8 + 1
    with pytest.raises(ValueError, match="leaves a last minibatch of 1 sample"):
        resolved(*lone)
    assert resolved(*lone, "ppo.normalize_advantage=false")["ppo"]["batch_size"] == 8
    assert resolved(*lone[1:])["ppo"]["batch_size"] == 8  # SB3's PPO skips a one-sample minibatch
    whole = ["recurrent=true", "num_envs=4", "ppo.n_steps=4", "ppo.batch_size=8"]  # 16 = 2 × 8: no remainder
    assert resolved(*whole)["ppo"]["batch_size"] == 8


def test_auto_workers_run_batched_cores_in_process_and_emulators_one_per_core(monkeypatch):
    import envs.vector

    monkeypatch.setattr(envs.vector, "usable_cores", lambda: 6)
    assert resolved()["num_workers"] == 0  # Snake's batched core
    gameboy = resolve(load_config("gameboy"), cuda_available=False)
    assert gameboy["num_workers"] == min(6, gameboy["num_envs"]) > 0


def test_set_reaches_a_section_the_config_lacks_and_keeps_an_equals_sign_in_its_value():
    cfg = apply_set(load_config("snake"), ["env_kwargs.reward.badge=2", "env_kwargs.rom=/roms/a=b.gb"])
    assert cfg["env_kwargs"]["reward"] == {"badge": 2} and cfg["env_kwargs"]["rom"] == "/roms/a=b.gb"


def test_a_config_file_with_an_unknown_top_level_key_is_refused(tmp_path: Path):
    own = tmp_path / "mine.yaml"
    own.write_text("sed: 5\n")  # seed, mistyped: would train with seed 0 without a word
    with pytest.raises(ValueError, match=r"--config .*mine.yaml: unknown keys \['sed'\]"):
        load_config("snake", own)
    own.write_text("learning_rate: 1.0e-4\n")  # a ppo setting at the top level: named with its section
    with pytest.raises(ValueError, match=r"unknown keys \['learning_rate'\]; known: \[.*\]; learning_rate "
                                         r"is a setting of ppo: put it under ppo:$"):
        load_config("snake", own)
    # A game's option at the top level of a file naming its game: named with env_kwargs, the game's section.
    own.write_text("env: sokoban\ndifficulty: hard\n")
    with pytest.raises(ValueError, match=r"unknown keys \['difficulty'\]; known: \[.*\]; difficulty is a "
                                         r"setting of env_kwargs: put it under env_kwargs:$"):
        load_config(None, own)
    own.write_text("difficulty: hard\n")  # no env: in the file, the game named by --env
    with pytest.raises(ValueError, match=r"difficulty is a setting of env_kwargs: put it under env_kwargs:$"):
        load_config("sokoban", own)


def test_a_key_nested_in_the_wrong_section_is_named_with_its_own(scripts, tmp_path: Path, capsys):
    # ppo: {size: 12} in a config file got ppo's list alone, not where size goes (a top-level key did).
    from agents.config import resolve

    base = load_config("snake_duel")
    with pytest.raises(ValueError, match=r"^ppo: unknown settings \['size'\] .*; size is a setting of "
                                         r"env_kwargs \(env_kwargs\.size\)$"):
        resolve({**base, "ppo": {**base["ppo"], "size": 12}}, False)
    with pytest.raises(ValueError, match=r"^self_play: unknown settings \['seed', 'size'\] .*; seed is a "
                                         r"top-level setting, not one of self_play; size is a setting of "
                                         r"env_kwargs \(env_kwargs\.size\)$"):
        resolve({**base, "self_play": {**base["self_play"], "seed": 3, "size": 12}}, False)
    with pytest.raises(ValueError, match=r"ppo\.seed is the run's --seed .*: set that instead$"):  # said once
        resolve({**base, "ppo": {**base["ppo"], "seed": 3}}, False)
    own = tmp_path / "mine.yaml"
    own.write_text("env_kwargs:\n  n_epochs: 2\n")
    argv = ["--env", "snake", "--config", str(own), "--run-dir", str(tmp_path / "r")]
    assert scripts.train_ppo.main(argv) == 2
    assert ("snake's options: obs, pixel_scale, size, starvation); n_epochs is a setting of ppo "
            "(ppo.n_epochs)") in capsys.readouterr().err


def test_a_whole_section_nested_in_another_is_named_as_a_top_level_section():
    # A config file indented one level too far (env_kwargs: under ppo:) got ppo's list of keys alone: a
    # misplaced key was told where it goes, a misplaced section was not.
    base = load_config("snake")
    with pytest.raises(ValueError, match=r"^ppo: unknown settings \['env_kwargs'\] .*; env_kwargs is a "
                                         r"top-level section, not one of ppo$"):
        resolve({**base, "ppo": {**base["ppo"], "env_kwargs": {"size": 12}}}, False)
    with pytest.raises(ValueError, match=r"; ppo is a top-level section, not one of self_play$"):
        resolve({**base, "self_play": {**base["self_play"], "ppo": {"n_epochs": 2}}}, False)


def test_keys_nested_in_the_wrong_section_are_named_in_the_order_of_the_unknown_list():
    # The hints follow the refusal's sorted list of unknown keys, not the order of a set (which changes with
    # each process's hash seed): the same config file gets the same message every time.
    base = load_config("snake")
    keys = ("total_timesteps", "starvation", "pool_size", "size", "num_envs")
    with pytest.raises(ValueError) as refused:
        resolve({**base, "ppo": {**base["ppo"], **dict.fromkeys(keys, 1)}}, False)
    assert str(refused.value).endswith(
        "; num_envs is a top-level setting, not one of ppo; pool_size is a setting of self_play "
        "(self_play.pool_size); size is a setting of env_kwargs (env_kwargs.size); starvation is a setting "
        "of env_kwargs (env_kwargs.starvation); total_timesteps is a top-level setting, not one of ppo")


def test_a_rocm_build_of_torch_is_not_called_a_cpu_build_and_a_cpu_build_is_named_first(monkeypatch):
    # A ROCm (HIP) torch has no torch.version.cuda but drives AMD GPUs through torch.cuda: "a CPU build" would
    # send its user to install another torch. A CPU build is the cause whatever CUDA_VISIBLE_DEVICES hides.
    import torch

    from agents.config import check_device

    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", "6.2.41133")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(ValueError, match=r"^--device cuda: CUDA is not available on this machine "
                                         r"\(use --device cpu\)$"):
        check_device("cuda", cuda_available=False)
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.raises(ValueError, match=r"^--device cuda: this torch \(.+\) is a CPU build"):
        check_device("cuda", cuda_available=False)


def test_an_empty_config_file_or_section_changes_nothing(tmp_path: Path):
    """README: a --config file is any part of a config; one whose every line is commented out is none."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("# ppo: {learning_rate: 1.0e-4}\n")
    assert load_config("snake", empty) == load_config("snake")
    empty.write_text("ppo:\n  # learning_rate: 1.0e-4\nenv_kwargs:\n")  # YAML reads each section as None
    assert load_config("snake", empty) == load_config("snake")


def test_a_config_file_with_nothing_in_it_is_refused(tmp_path: Path):
    """README: an empty --config (0 bytes or blank lines: a file saved before it was written, a <(...) whose
    command failed) is refused; it trained the preset without a word, as if its settings were there."""
    empty = tmp_path / "mine.yaml"
    # A BOM alone: Notepad's empty UTF-8 file; a tab (an editor's indent) was "not valid YAML: found
    # character '\t' that cannot start any token" for a file that looks blank.
    for text in ("", "\n  \n", "\ufeff", "\ufeff\n", "\t\n", "  \n\t\n", "\ufeff\t"):
        empty.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=rf"^--config {re.escape(str(empty))} is empty: write your "
                                             r"settings in it \(ppo: \{learning_rate: 1.0e-4\}\), or leave "
                                             r"--config out$"):
            load_config("snake", empty)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: open(fifo, "w").close())  # bash's <(false): nothing comes
    writer.start()
    with pytest.raises(ValueError, match=r"is empty: .* did the command in <\(\.\.\.\) fail\?"):
        load_config("snake", fifo)
    writer.join()


def test_a_config_file_holding_only_null_or_an_empty_mapping_is_refused(tmp_path: Path):
    """README: a --config holding only null (or ~) or {} is refused, as an empty one is: what a tool writes
    that found nothing (yq of a missing key, yaml.dump of None or {}); it trained the preset silently. A
    template whose every line is commented out, after --- too, stays accepted (it changes nothing)."""
    mine = tmp_path / "mine.yaml"
    for text, held in (("null\n", "null"), ("~", "null"), ("---\nnull\n", "null"), ("null\n...\n", "null"),
                       ("{}\n", "an empty mapping ({})"), ("--- {}", "an empty mapping ({})")):
        mine.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=rf"^--config {re.escape(str(mine))} holds only "
                                             rf"{re.escape(held)}, no settings: write your settings in it "
                                             r"\(ppo: \{learning_rate: 1.0e-4\}\), or leave --config out$"):
            load_config("snake", mine)
    for text in ("---\n# ppo: {learning_rate: 1.0e-4}\n", "---\n", "# seed: 7\n"):
        mine.write_text(text, encoding="utf-8")
        assert load_config("snake", mine) == load_config("snake")
    # Through a pipe, <(yq .missing x.yaml): the hint an empty pipe gets, what its command found.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for text, held in (("null\n", "null"), ("{}\n", r"an empty mapping \(\{\}\)")):
        writer = threading.Thread(target=lambda text=text: Path(fifo).write_text(text))
        writer.start()
        with pytest.raises(ValueError, match=rf"holds only {held}, no settings: .* or leave --config out; "
                                             r"did the command in <\(\.\.\.\) find nothing\?$"):
            load_config("snake", fifo)
        writer.join()


def test_values_at_zero_and_booleans_are_refused_where_the_readme_says():
    with pytest.raises(ValueError, match=r"--num-workers must be between 0 and --num-envs \(64\), got -1"):
        resolved("num_workers=-1")  # --set passes no argparse type: resolve is the only check
    for key in ("learning_rate", "clip_range", "max_grad_norm"):
        with pytest.raises(ValueError, match=rf"--set ppo\.{key} must be > 0, got 0"):
            resolved(f"ppo.{key}=0")
    for value in ("true", "false"):  # YAML booleans are ints to Python: true trained with 1 board
        with pytest.raises(ValueError, match=rf"--num-envs must be a whole number, got {value.title()}"):
            resolved(f"num_envs={value}")


@pytest.mark.parametrize("text, message", [
    ("ppo: 5\n", r"--config .*mine.yaml: ppo must be a mapping of settings, got 5"),
    # What the file holds and what to write instead: "expected a mapping" named neither.
    ("- seed\n", r"^--config .*mine.yaml holds a list, not a mapping of settings: write one key: value a "
                 r"line \(seed: 7, or ppo: \{n_epochs: 2\}\)$"),
    ("seed\n", r"^--config .*mine.yaml holds the value 'seed', not a mapping of settings: write one key: "
               r"value a line"),
    ("cd /x && python a.py --env snake\n", r"holds the value 'cd /x && python a.py --env snake', not a "),
    # The bound of the cut: a value shown in 60 characters is shown whole, one of 61 cut to 56 and "...".
    ("a" * 58 + "\n", rf"holds the value '{'a' * 58}', not a "),
    ("a" * 59 + "\n", rf"holds the value '{'a' * 55}\.\.\., not a "),
])
def test_a_config_file_of_the_wrong_shape_is_named(tmp_path: Path, text: str, message: str):
    own = tmp_path / "mine.yaml"
    own.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_config("snake", own)


def test_a_config_file_that_is_not_utf8_is_named_not_a_traceback(tmp_path: Path):
    own = tmp_path / "mine.yaml"
    own.write_bytes("seed: 5\n".encode("utf-16"))
    # Text in another encoding is told apart from a binary file only by its user: both are named.
    with pytest.raises(ValueError, match=r"mine.yaml is no YAML text \(.* text not saved as UTF-8"):
        load_config("snake", own)


def test_a_binary_config_file_is_named_as_no_yaml_text(tmp_path: Path):
    """A run's model.zip given for its config.yaml was "not valid YAML: 'utf-8' codec can't decode byte
    0x..": a codec's words, naming neither what the file is nor what to give."""
    run = tmp_path / "run"
    run.mkdir()
    model = run / "model.zip"
    with zipfile.ZipFile(model, "w") as z:  # a real zip: its bytes are no UTF-8
        z.writestr("data", bytes(range(256)) * 4)
    no_text = (rf"^--config {re.escape(str(model))} is no YAML text \(a binary file, such as a model zip, or "
               r"text not saved as UTF-8\); give a YAML file")
    with pytest.raises(ValueError, match=no_text + "$"):
        load_config("snake", model)
    # Beside a run's config.yaml, that file is named, as for a run folder; UTF-8 bytes holding NULs too.
    (run / "config.yaml").write_text("env: snake\n")
    model.write_bytes(b"PK\x03\x04\x00\x00seed: 5\n")
    with pytest.raises(ValueError, match=no_text + rf" \(a run's is its config.yaml: --config "
                                         rf"{re.escape(str(run / 'config.yaml'))}\)$"):
        load_config("snake", model)
    # A run's config.yaml that is itself no text is not named as the one to give.
    (run / "config.yaml").write_bytes(model.read_bytes())
    with pytest.raises(ValueError, match=r"config.yaml is no YAML text .*; give a YAML file$"):
        load_config("snake", run / "config.yaml")


def test_config_files_are_read_as_utf8_whatever_the_locale(tmp_path: Path):
    """The presets' comments hold "×" and "é": in an ASCII locale every preset read as "not valid YAML"."""
    own = tmp_path / "mine.yaml"
    own.write_text("# Pokémon × 2\ncpu_policy: small  # é\n", encoding="utf-8")
    code = ("import locale, sys; from agents.config import load_config; "
            "print(locale.getpreferredencoding(False), load_config('snake', sys.argv[1])['cpu_policy'])")
    env = {**os.environ, "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "LC_ALL": "C", "LANG": "C",
           "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, str(own)], capture_output=True, text=True, env=env,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    encoding, policy = out.stdout.split()
    if encoding.lower() in ("utf-8", "utf8"):
        pytest.skip("this system gives no ASCII locale")
    assert policy == "small"


def test_set_under_a_plain_value_names_it_not_a_traceback():
    with pytest.raises(ValueError, match=r"--set seed.x: 'seed' is not a section"):
        apply_set(load_config("snake"), ["seed.x=1"])


def test_a_cuda_device_index_past_the_machines_last_is_refused(monkeypatch):
    import torch

    from agents.config import check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    check_device("cuda:1")  # the last of two
    with pytest.raises(ValueError, match=r"--device cuda:2: this machine has 2 CUDA devices$"):
        check_device("cuda:2")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # "1 CUDA device(s)" before
    with pytest.raises(ValueError, match=r"--device cuda:1: this machine has 1 CUDA device$"):
        check_device("cuda:1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    # A training run's too: it failed with a traceback in SB3, after its run folder was made.
    on_cuda_1 = resolved("device=cuda:1", cuda=True)
    assert (on_cuda_1["device"], on_cuda_1["policy"]) == ("cuda:1", "10m")  # a CUDA device: cuda_policy
    with pytest.raises(ValueError, match=r"--device cuda:2: this machine has 2 CUDA devices"):
        resolved("device=cuda:2", cuda=True)


def test_a_hand_edited_section_that_is_no_mapping_is_named():
    """A run's config.yaml (read by --resume) is resolved without read_yaml's checks."""
    for section in ("env_kwargs", "ppo", "self_play"):
        cfg = load_config("snake")
        cfg[section] = 5
        with pytest.raises(ValueError, match=f"^{section} must be a mapping of settings, got 5$"):
            resolve(cfg, cuda_available=False)


def test_whole_numbers_given_as_text_stay_exact_and_workers_are_whole():
    from agents.config import whole_number

    # scripts' --seed goes through whole_number as text: 64-bit seeds must not round through a float
    assert whole_number(str(2**64 - 1), "--seed") == 2**64 - 1
    assert resolved("num_workers=2.0")["num_workers"] == 2
    with pytest.raises(ValueError, match="--num-workers must be a whole number, got 'abc'"):
        resolved("num_workers=abc")


@pytest.mark.parametrize("script", ["train_ppo", "evaluate", "compare", "score_predictions",
                                    "export_trajectories", "benchmark"])
def test_every_device_the_check_takes_is_named_by_the_help_and_the_refusal(script, scripts, capsys):
    # --help of train_ppo.py and benchmark.py listed auto, cpu and cuda[:N], not mps, which check_device
    # takes and the README documents; the others named no device at all, and an unknown one was told to
    # use auto, cpu or cuda[:N].
    from agents.config import check_device

    with pytest.raises(SystemExit):
        getattr(scripts, script).main(["--help"])
    lines = capsys.readouterr().out.splitlines()
    start = next(k for k, line in enumerate(lines) if line.lstrip().startswith("--device DEVICE"))
    entry = lines[start]
    for line in lines[start + 1:]:  # its help's wrapped lines, indented past the option column
        if not line.startswith(" " * 10):
            break
        entry += line
    entry = " ".join(entry.split())
    assert "auto, cpu, cuda[:N] or mps" in entry, (script, entry)
    with pytest.raises(ValueError, match=r"^--device: unknown device 'banana' \(use auto, cpu, cuda\[:N\] "
                                         r"or mps\)$"):
        check_device("banana")


def test_device_auto_is_always_possible_and_mps_only_where_torch_has_it(monkeypatch):
    import torch

    from agents.config import check_device

    check_device("auto")
    check_device("auto", cuda_available=False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)  # a torch without MPS (Linux's)
    with pytest.raises(ValueError, match="--device mps: this torch build has no MPS"):
        check_device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)  # an Apple GPU
    check_device("mps")
    with pytest.raises(ValueError, match="--device meta: not available with this torch build"):
        check_device("meta")  # a device torch names but no run can train on
    # Why, as the user can mend it: a CPU build of torch (this project's CPU install on a GPU node), a job's
    # CUDA_VISIBLE_DEVICES, or no GPU at all; "not on this machine" was said for all three.
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(ValueError, match=r"^--device cuda: this torch \(.+\) is a CPU build; for a GPU, "
                                         r"install a CUDA build of torch \(use --device cpu\)$"):
        check_device("cuda", cuda_available=False)
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    with pytest.raises(ValueError, match=r"^--device cuda: CUDA is not available on this machine "
                                         r"\(use --device cpu\)$"):
        check_device("cuda", cuda_available=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(ValueError, match=r"^--device cuda: CUDA is not available to this process "
                                         r"\(CUDA_VISIBLE_DEVICES='': it sees only the GPUs named there\)"):
        check_device("cuda", cuda_available=False)


def test_a_cpu_device_index_other_than_0_is_refused(scripts, tmp_path, capsys):
    # torch takes cpu:3 and puts every tensor on the one CPU device: the index pinned no core, yet a run
    # recorded device: cpu:3 as if it had.
    from agents.config import check_device

    check_device("cpu")
    check_device("cpu:0")  # torch's own name for the CPU; runs have trained on it
    with pytest.raises(ValueError, match=r"^--device cpu:3: torch has one CPU device \(cpu or cpu:0\)"):
        check_device("cpu:3")
    with pytest.raises(ValueError, match=r"^--device cpu:3: torch has one CPU device"):
        resolved("device=cpu:3")
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--device", "cpu:3", "--run-dir", str(run)]) == 2
    assert "--device cpu:3: torch has one CPU device" in capsys.readouterr().err and not run.exists()


def test_resolve_refuses_a_setting_it_does_not_know():
    """A run's config.yaml is not read through --config's check: a hand-edited typo (save_evry: 100) was
    ignored by --resume without a word, and written back into config.yaml."""
    cfg = load_config("snake")
    cfg["save_evry"] = 100
    with pytest.raises(ValueError, match=r"^unknown settings \['save_evry'\]; known: \[.*'save_every'.*\]$"):
        resolve(cfg, cuda_available=False)


@pytest.mark.parametrize(("env", "text", "sets", "message"), [
    ("snake", None, [], r"^--config .*missing.yaml: no such file$"),
    (None, "seed: 1\n", [], r"^--env is required \(or an env: key in the --config file\)$"),
    ("snake", "", ["ppo.n_steps"], r"^--set expects KEY=VALUE \(e.g. ppo.learning_rate=1e-4\), got 'ppo.n_"),
    ("snake", "", ["ppo_.n_steps=8"], r"^--set ppo_.n_steps: unknown key 'ppo_'; known: \["),
    # The known list leaves out env, which --set refuses (--env chooses the game).
    ("snake", "", ["nv=8"], r"^--set nv: unknown key 'nv'; known: \['cpu_num_envs', 'cpu_policy', "
                            r"'cuda_num_envs', 'cuda_policy', 'device', 'env_kwargs', "),
    ("snake", "", ["ppo.gamma=high"], r"^--set ppo.gamma must be a number, got 'high'$"),
    # A section's setting given bare (found trying `--set learning_rate=1e-4`): the full KEY is named.
    ("snake", "", ["learning_rate=1e-4"], r"^--set learning_rate: unknown key .*; learning_rate is a setting "
                                          r"of ppo: --set ppo.learning_rate=1e-4$"),
    ("snake", "", ["pool_size=8"], r"; pool_size is a setting of self_play: --set self_play.pool_size=8$"),
    ("sokoban", "", ["difficulty=hard"], r"; difficulty is a setting of env_kwargs: --set "
                                         r"env_kwargs.difficulty=hard$"),
])
def test_a_config_or_set_that_names_no_setting_is_refused_by_its_flag(tmp_path: Path, env, text, sets,
                                                                     message):
    file = tmp_path / ("missing.yaml" if text is None else "mine.yaml")
    if text is not None:
        file.write_text(text)
    with pytest.raises(ValueError, match=message):  # text "": no --config (an empty one is refused)
        resolve(apply_set(load_config(env, file if text != "" else None), sets), cuda_available=False)


def test_ppo_numbers_written_without_a_dot_are_numbers_and_booleans_are_not():
    """README: --set ppo.learning_rate=1e-4; YAML reads 1e-4 (no dot) as text, and true as the int 1."""
    cfg = resolved("ppo.learning_rate=1e-4", "ppo.target_kl=1e-2", "ppo.clip_range_vf=null")
    assert [cfg["ppo"][k] for k in ("learning_rate", "target_kl", "clip_range_vf")] == [1e-4, 1e-2, None]
    with pytest.raises(ValueError, match=r"^--set ppo\.gamma must be a number, got True$"):
        resolved("ppo.gamma=true")
    for value, shown in (("true", "True"), ("0", "0")):  # 0: SB3 ends every update after one minibatch
        with pytest.raises(ValueError, match=rf"^--set ppo\.target_kl must be a number > 0 .*, got {shown}$"):
            resolved(f"ppo.target_kl={value}")


def test_the_lowest_accepted_run_and_ppo_values():
    least = resolved("ppo.n_steps=1", "ppo.n_epochs=1", "ppo.batch_size=2", "ppo.stats_window_size=1",
                     "ppo.sde_sample_freq=-1")  # -1: SB3 samples the gSDE noise only at a rollout's start
    ppo = least["ppo"]
    assert [ppo[k] for k in ("n_steps", "n_epochs", "batch_size", "sde_sample_freq")] == [1, 1, 2, -1]
    for key, flag in (("num_envs", "--num-envs"), ("total_timesteps", "--total-timesteps"),
                      ("save_every", "--save-every"), ("video_every", "--video-every"),
                      ("video_max_steps", "--set video_max_steps"),
                      ("self_play.pool_size", "--set self_play.pool_size")):
        with pytest.raises(ValueError, match=rf"^{flag} must be >= 1, got 0$"):
            resolved(f"{key}=0")


def test_keep_checkpoints_in_a_config_file_is_a_whole_number_of_at_least_0():
    # The flag's own check (nonneg_int) does not see a config file's value: -1 there would prune with
    # [:1], deleting every checkpoint but the oldest at each save.
    assert resolved("keep_checkpoints=0")["keep_checkpoints"] == 0
    assert resolved("keep_checkpoints=1e1")["keep_checkpoints"] == 10
    with pytest.raises(ValueError, match=r"^--keep-checkpoints must be >= 0, got -1$"):
        resolved("keep_checkpoints=-1")


def test_ppo_keywords_the_run_sets_itself_are_refused():
    for key in ("verbose", "tensorboard_log", "seed"):
        with pytest.raises(ValueError, match=rf"^ppo: unknown settings \['{key}'\]"):
            resolved(f"ppo.{key}=1")
    # PPO's own keywords that a flag sets: the refusal names the flag to use instead.
    for key, flag in (("seed", "--seed"), ("policy", "--policy"), ("device", "--device")):
        hint = rf"; ppo\.{key} is the run's {flag} \(top-level {key}: in a config file\): set that instead$"
        with pytest.raises(ValueError, match=hint):
            resolved(f"ppo.{key}=1")


def test_a_key_given_twice_in_a_config_file_is_refused(tmp_path):
    # PyYAML keeps the last of two equal keys without a word: a second ppo: section dropped the first's
    # learning_rate, and the run trained with the preset's.
    own = tmp_path / "mine.yaml"
    own.write_text("ppo:\n  learning_rate: 1.0e-3\nnum_envs: 4\nppo:\n  n_epochs: 2\n")
    # One line naming the file and where, not PyYAML's "<unicode string>" and a caret drawn under the key
    twice = r"^--config .*mine\.yaml is not valid YAML: 'ppo' is given twice \(line 4, column 1\)$"
    with pytest.raises(ValueError, match=twice):
        load_config("snake", own)
    own.write_text("ppo:\n  n_epochs: [2, 3\n")  # any syntax error so
    broken = r"^--config .*mine\.yaml is not valid YAML: expected ',' or ']', but got '<stream end>' "
    with pytest.raises(ValueError, match=broken + r"\(line 3, column 1\)$"):
        load_config("snake", own)
    own.write_text("env_kwargs: {size: 8, size: 12}\n")  # within a section too
    with pytest.raises(ValueError, match="'size' is given twice"):
        load_config("snake", own)
    own.write_text("ppo:\n  <<: {n_epochs: 2}\n  <<: {n_steps: 64}\n")  # YAML's merge keys are no twins
    ppo = load_config("snake", own)["ppo"]
    assert (ppo["n_epochs"], ppo["n_steps"]) == (2, 64)


def test_gsde_settings_are_refused_as_no_game_has_continuous_actions():
    # ppo.use_sde=true failed in SB3 after the run folder was made, naming no key; ppo.sde_sample_freq, which
    # only gSDE reads, trained on without a word.
    with pytest.raises(ValueError, match=r"--set ppo\.use_sde: .*discrete actions"):
        resolved("ppo.use_sde=true")
    with pytest.raises(ValueError, match=r"--set ppo\.sde_sample_freq=4 applies to ppo\.use_sde only"):
        resolved("ppo.sde_sample_freq=4")
    assert resolved("ppo.use_sde=false", "ppo.sde_sample_freq=-1")["ppo"]["use_sde"] is False
    # Nor offered: a mistyped key's list of known settings named both, then refused them.
    with pytest.raises(ValueError, match=r"^ppo: unknown settings \['lr'\]") as refused:
        resolved("ppo.lr=1")
    assert "'learning_rate'" in str(refused.value) and "sde" not in str(refused.value)


def test_the_other_devices_board_count_is_stored_as_the_number_it_was_read_as():
    # cuda_num_envs=1e3 on a CPU was checked as 1,000, then written to config.yaml as the string '1e3'.
    cfg = apply_set(load_config("snake"), ["cuda_num_envs=1e3", "cpu_num_envs=32.0"])
    check_device_defaults(cfg)
    out = resolve(cfg, cuda_available=False)
    assert (out["cuda_num_envs"], out["cpu_num_envs"], out["num_envs"]) == (1000, 32, 32)
    assert all(type(out[k]) is int for k in ("cuda_num_envs", "cpu_num_envs"))


@pytest.mark.parametrize("text, key", [
    ("1: 2\nfoo: 3\n", "1"), ("ppo: {on: 1, x: 3}\n", "ppo.True"),
    ("self_play: {2: 1, x: 3}\n", "self_play.2"),
    ("env_kwargs: {reward: {null: 1, badge: 2}}\n", "env_kwargs.reward.None")])
def test_a_key_yaml_reads_as_no_name_is_refused_by_name(tmp_path, text, key):
    # A key YAML reads as a number, switch or null beside named ones ended in a TypeError traceback (sorted).
    own = tmp_path / "mine.yaml"
    own.write_text(text)
    with pytest.raises(ValueError, match=rf"--config .*mine\.yaml: the key {re.escape(key)} is not a name"):
        load_config("snake", own)


# Mutation testing of agents/config.py: each test below kills mutants the tests above left alive.


def test_config_file_env_key_names_the_game_and_must_agree_with_env(tmp_path: Path):
    own = tmp_path / "mine.yaml"
    assert load_config("snake")["env"] == "snake"  # the preset-less default env is None: --env fills it
    own.write_text("env:\n")  # YAML's null, merged over the preset's env: --env still names the game
    assert load_config("snake", own)["env"] == "snake"
    own.write_text("env: sokoban\n")
    with pytest.raises(ValueError, match=r"--config .*mine.yaml is for env 'sokoban', not --env snake"):
        load_config("snake", own)
    own.write_text("env: [snake]\n")  # unhashable: was a TypeError from the GAMES lookup
    with pytest.raises(ValueError, match=r"env must be a game's name, got \['snake'\]"):
        load_config(None, own)
    own.write_text("env: tetris\n")  # the unknown name came from the file: the message names the file
    with pytest.raises(ValueError, match=r"^--config .*mine.yaml: unknown env 'tetris'"):
        load_config(None, own)
    with pytest.raises(ValueError, match=r"^--env: unknown env 'tetris'"):
        load_config("tetris")


def test_a_config_path_that_is_a_folder_is_named_as_one(tmp_path: Path):
    with pytest.raises(ValueError, match=r"--config .* is a folder; give a YAML file$"):
        load_config("snake", tmp_path)
    # A run folder (to train it again): its config.yaml is named, the file that does so.
    (tmp_path / "config.yaml").write_text("env: snake\n")
    with pytest.raises(ValueError, match=rf"is a folder; give a YAML file \(a run's is its config.yaml: "
                                         rf"--config {re.escape(str(tmp_path / 'config.yaml'))}\)$"):
        load_config("snake", tmp_path)


def test_a_config_path_that_is_no_regular_file_says_what_it_is(tmp_path: Path):
    # It exists: "no such file" sent the user looking for a missing file.
    with pytest.raises(ValueError, match=r"^--config /dev/null is a character device, not a file;"):
        load_config("snake", "/dev/null")
    with pytest.raises(ValueError, match=r"^--config /dev/zero is a character device, not a file;"):
        load_config("snake", "/dev/zero")  # no end: never read


def test_a_config_given_through_a_pipe_is_read(tmp_path: Path):
    # bash's --config <(sed ... configs/snake.yaml) names a FIFO (/dev/fd/63): read once, as a file is.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_text, args=("seed: 7\nppo: {n_epochs: 3}\n",),
                              daemon=True)  # unblocked by no reader if the read is refused
    writer.start()
    try:
        cfg = load_config("snake", fifo)
    finally:
        writer.join(timeout=10)
    assert cfg["seed"] == 7 and cfg["ppo"]["n_epochs"] == 3


def test_a_config_file_that_cannot_be_read_is_named_not_a_traceback(tmp_path: Path, monkeypatch):
    # An OSError (no permission to read it; /proc/self/mem's I/O error) is no ValueError: train_ppo.py
    # printed a traceback. Tests run as root here, so the refusal to read is simulated.
    own = tmp_path / "mine.yaml"
    own.write_text("seed: 1\n")

    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(ValueError, match=r"^--config .*mine\.yaml cannot be read \(Permission denied\)"):
        load_config("snake", own)


def test_a_value_nested_past_the_readers_depth_is_named_not_a_traceback(tmp_path: Path):
    # PyYAML reads nesting by recursion: 5,000 brackets were a RecursionError (no YAMLError, no ValueError)
    # out of load_config and apply_set, and train_ppo.py printed its traceback.
    deep = "[" * 5000 + "]" * 5000
    with pytest.raises(yaml.YAMLError, match=r"^nested too deeply to read$"):  # each caller's YAML error
        load_yaml(deep)
    own = tmp_path / "mine.yaml"
    own.write_text(f"env_kwargs: {{a: {deep}}}\n")
    with pytest.raises(ValueError, match=r"^--config .*mine\.yaml is not valid YAML: nested too deeply to "
                                         r"read$"):
        load_config("snake", own)
    # The value is cut short in the message: 10,000 brackets were not all repeated.
    with pytest.raises(ValueError, match=r"^--set env_kwargs\.a: '\[{60}\.\.\.' is not a YAML value "
                                         r"\(nested too deeply to read\)$"):
        apply_set(load_config("snake"), [f"env_kwargs.a={deep}"])


def test_aliases_that_expand_past_the_readers_bound_are_refused(tmp_path: Path):
    # A YAML "billion laughs": ten lists of nine aliases of the one before, 9**10 values once expanded.
    # PyYAML shares an alias's object, so it loaded at once, but the message that showed the value
    # (learning_rate's "got [...]") built its text for ever: train_ppo.py --config hung.
    laughs = ", ".join(["&a0 [x, x, x, x, x, x, x, x, x]"] +
                       [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)])
    with pytest.raises(yaml.YAMLError, match=r"^its aliases expand to more than 100,000 values$"):
        load_yaml(f"[{laughs}]")
    own = tmp_path / "mine.yaml"
    own.write_text(f"ppo: {{learning_rate: [{laughs}]}}\n")
    with pytest.raises(ValueError, match=r"^--config .*mine\.yaml is not valid YAML: its aliases expand to "
                                         r"more than 100,000 values$"):
        load_config("snake", own)
    shared = "a: &a [1, 2]\nb: *a\nc: [*a, *a]\n"  # aliases as people use them: read as before
    assert load_yaml(shared) == {"a": [1, 2], "b": [1, 2], "c": [[1, 2], [1, 2]]}


def test_a_bad_set_value_is_shown_whole_up_to_60_characters_and_cut_past_them():
    # The bound of the cut: a value of exactly 60 characters is quoted as given, with no "..." after it.
    for raw, shown in (("[" + "a" * 59, "[" + "a" * 59), ("[" + "a" * 60, "[" + "a" * 59 + "...")):
        with pytest.raises(ValueError, match=r"^--set env_kwargs\.a: " + re.escape(repr(shown)) + " is not"):
            apply_set(load_config("snake"), [f"env_kwargs.a={raw}"])


def test_load_config_and_set_leave_the_defaults_and_their_input_alone():
    from agents.config import DEFAULTS

    before = copy.deepcopy(DEFAULTS)
    cfg = load_config("gameboy")  # a preset without a self_play section: it came from DEFAULTS
    cfg["self_play"]["pool_size"] = 99
    assert before == DEFAULTS
    base = load_config("snake")
    apply_set(base, ["ppo.n_steps=7", "seed=3"])
    assert base == load_config("snake")


@pytest.mark.parametrize("item, message", [
    ("env=sokoban", r"--set env: choose the game with --env"),
    ("ppo=3", r"--set ppo: a section; set one of its values"),
])
def test_set_refuses_the_game_and_a_whole_section(item: str, message: str):
    with pytest.raises(ValueError, match=message):
        apply_set(load_config("snake"), [item])


@pytest.mark.parametrize("item, problem", [
    ("ppo.n_steps=[", "expected the node content"),  # an unclosed list
    ("seed=!!python/object:os.system x", "could not determine a constructor"),  # safe_load's refusal
    ("ppo.gamma=*a", "found undefined alias 'a'"),
    ("env_kwargs.reward={a: 1, a: 2}", "'a' is given twice"),  # as a --config file refuses it
])
def test_set_of_a_value_that_is_no_yaml_names_it_not_a_traceback(item: str, problem: str):
    # yaml.YAMLError is no ValueError: train_ppo.py printed PyYAML's traceback
    key, raw = item.split("=", 1)
    with pytest.raises(ValueError, match=rf"--set {re.escape(key)}: {re.escape(repr(raw))} is not a YAML "
                                         rf"value \({re.escape(problem)}"):
        apply_set(load_config("snake"), [item])


@pytest.mark.parametrize("item, message", [
    ("self_play.pool_sise=3", r"self_play: unknown settings \['pool_sise'\]"),
    ("recurrent=yes please", r"--set recurrent must be true or false"),
    ("seed=-1", r"--seed must be between 0 and 2\*\*32 - 1, got -1"),
    ("self_play.snapshot_every=0", r"--set self_play.snapshot_every must be >= 1, got 0"),
    ("policy=[tiny]", r"--policy: unknown preset \['tiny'\]"),
    ("ppo.learning_rate=.nan", r"--set ppo.learning_rate must be a finite number"),
    # Whole numbers past float's range: an OverflowError traceback, or (target_kl) taken, and SB3's
    # 1.5 * target_kl an OverflowError at the first update, its run folder made.
    pytest.param("ppo.learning_rate=1" + "0" * 400, r"--set ppo.learning_rate must be a finite number",
                 id="learning_rate-1e400-as-digits"),
    pytest.param("ppo.target_kl=1" + "0" * 400, r"--set ppo.target_kl must be a number > 0 \(or null",
                 id="target_kl-1e400-as-digits"),
    ("ppo.ent_coef=-0.01", r"--set ppo.ent_coef must be >= 0, got -0.01"),
    ("ppo.stats_window_size=0", r"--set ppo.stats_window_size must be >= 1, got 0"),
    ("ppo.normalize_advantage=maybe", r"--set ppo.normalize_advantage must be true or false, got 'maybe'"),
    ("ppo.batch_size=1", r"--set ppo.batch_size must be >= 2, got 1"),  # SB3 normalises each minibatch
    ("ppo.n_epochs=0", r"--set ppo.n_epochs must be >= 1, got 0"),  # SB3 would run without learning
])
def test_resolve_refuses_each_bad_value_by_its_flag(item: str, message: str):
    with pytest.raises(ValueError, match=message):
        resolved(item)


def test_the_unused_devices_policy_is_checked_too():
    cfg = apply_set(load_config("snake"), ["cuda_policy=10M"])  # a typo the CPU run would never read
    with pytest.raises(ValueError, match=r"--set cuda_policy: unknown preset '10M'"):
        check_device_defaults(cfg)


def test_a_config_file_may_bring_a_section_the_preset_lacks(tmp_path: Path):
    own = tmp_path / "mine.yaml"
    own.write_text("env_kwargs: {reward: {badge: 2}}\n")  # snake's preset env_kwargs has no reward:
    assert load_config("snake", own)["env_kwargs"]["reward"] == {"badge": 2}


def test_every_ppo_number_and_the_run_length_may_be_written_as_1e_text():
    # YAML reads 5e-1 and 1e6 (no dot) as text. Only learning_rate and target_kl were tried: clip_range,
    # max_grad_norm or vf_coef left as text was a TypeError traceback at its bound's check, and a text
    # total_timesteps one in the auto intervals worked out from it.
    keys = ("learning_rate", "clip_range", "max_grad_norm", "gamma", "gae_lambda", "ent_coef", "vf_coef")
    ppo = resolved(*(f"ppo.{key}=5e-1" for key in keys))["ppo"]
    assert {key: ppo[key] for key in keys} == dict.fromkeys(keys, 0.5)
    cfg = resolved("total_timesteps=1e6")
    assert (cfg["total_timesteps"], cfg["save_every"], cfg["video_every"]) == (1_000_000, 100_000, 200_000)


def test_a_copy_of_the_packages_without_the_presets_is_refused(monkeypatch, tmp_path):
    """``pip install .`` copies the packages, not configs/: every game trained on the defaults alone (Snake
    at half its learning rate, 64 boards on CUDA), without a word."""
    import agents.config

    monkeypatch.setattr(agents.config, "CONFIG_DIR", tmp_path / "site-packages" / "configs")
    with pytest.raises(RuntimeError, match=r"no preset .*snake\.yaml for snake: .*pip install -e"):
        agents.config.load_config("snake")


def test_a_game_without_its_preset_in_a_checkout_is_named_so(monkeypatch, tmp_path):
    # A checkout's configs/ lacking one game's preset (one added to GAMES alone): not told to reinstall.
    import agents.config

    monkeypatch.setattr(agents.config, "CONFIG_DIR", tmp_path)
    with pytest.raises(RuntimeError, match=r"no preset .*snake\.yaml for snake: every game needs one") as e:
        agents.config.load_config("snake")
    assert "pip install" not in str(e.value)


def test_an_mps_device_index_past_the_one_apple_gpu_is_refused(monkeypatch):
    """torch has one MPS device: mps:1 passed the check, as cuda:N past the last one does not."""
    import torch

    from agents.config import check_device

    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    check_device("mps:0")
    with pytest.raises(ValueError, match=r"--device mps:1: torch has one MPS device \(mps or mps:0\)"):
        check_device("mps:1")


def test_mps_where_torch_has_it_but_this_mac_cannot_use_it_says_so(monkeypatch):
    """A Mac whose torch has MPS (is_built) but cannot use it (macOS before 12.3, no Metal GPU) was told the
    torch build lacks it and offered cuda, which no Mac has."""
    import torch

    from agents.config import check_device

    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    with pytest.raises(ValueError, match=r"^--device mps: this torch has MPS, but this machine cannot use "
                                         r"it \(it needs macOS 12.3 or later on Apple silicon or an AMD "
                                         r"GPU\); use --device cpu$"):
        check_device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)  # Linux's and Windows' torch
    with pytest.raises(ValueError, match=r"^--device mps: this torch build has no MPS \(Apple GPUs, macOS "
                                         r"only\); use --device cpu$"):
        check_device("mps")


def test_the_alias_bound_counts_every_value_once_expanded_containers_too(tmp_path: Path):
    # The bound is on the values once expanded, each list and mapping counting as one too: exactly 100,000
    # (a list of an anchored list of 368 and 270 aliases of it: 1 + 271 * 369) is read, one more refused.
    anchored = f"&a [{', '.join(['x'] * 368)}]"
    exact = f"[{anchored}, {', '.join(['*a'] * 270)}]"
    assert len(load_yaml(exact)) == 271
    with pytest.raises(yaml.YAMLError, match=r"^its aliases expand to more than 100,000 values$"):
        load_yaml(exact[:-1] + ", y]")
    # A mapping's keys count as its values do: 1 + 2 keys + 361 + 1 + 276 * 361 = 100,001 (99,999 without).
    mapped = f"{{k: &b [{', '.join(['x'] * 360)}], v: [{', '.join(['*b'] * 276)}]}}"
    with pytest.raises(yaml.YAMLError, match=r"^its aliases expand to more than 100,000 values$"):
        load_yaml(mapped)
