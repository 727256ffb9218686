import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_json_has_every_figure(scripts, capsys, tmp_path, monkeypatch):
    # Where SB3's default logger would write: conftest's SB3_LOGDIR, which it reads first, unset.
    monkeypatch.delenv("SB3_LOGDIR")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # One timed rollout a training figure, not the default two: the figures' plumbing is the same.
    assert scripts.benchmark.main(["--quick", "--json", "--workers", "2", "--rollouts", "1"]) == 0
    assert not list(tmp_path.glob("SB3-*"))  # no empty log folder left per training figure
    out = json.loads(capsys.readouterr().out)
    for key in ("env_sps", "vec_env_sps", "vec_env_sps_in_process", "train_sps", "sb3_train_sps",
                "train_speedup", "sb3_dummy_train_sps", "train_speedup_dummy", "mfu", "mfu_10m",
                "peak_flops"):
        assert out[key] > 0, key
    assert 8.5e6 <= out["parameters_10m"] <= 11.5e6  # the 10m preset is 10M ± 15%
    assert {"rotation", "snake_duel", "sokoban"} <= set(out["games"])
    assert out["quick"] is True  # plumbing figures say so


def test_gameboy_benchmark_json():
    pytest.importorskip("pyboy")
    # In a fresh process, as a user runs it: its PyBoy check printed PyBoy's SDL2 notice ("UserWarning:
    # Using SDL2 binaries from pysdl2-dll"), which the env itself silences. (PySDL2 says so only where
    # PYSDL2_DLL_PATH is unset, as in a user's shell; this test process may have set it.)
    env = {k: v for k, v in os.environ.items() if k != "PYSDL2_DLL_PATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])  # this checkout
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "benchmark.py"), "--env", "gameboy",
                           "--quick", "--json", "--workers", "2", "--emulators", "2"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "SDL2" not in proc.stderr, proc.stderr
    out = json.loads(proc.stdout)
    for key in ("pyboy_sps", "env_sps", "vec_env_sps_w1", "vec_env_sps_w2", "memory_per_emulator_mb"):
        assert out[key] > 0, key
    assert 0 < out["env_overhead"] < 10  # the env's own time over its time inside PyBoy


@pytest.mark.parametrize("argv, message", [
    (["--device", "gpu"], "--device: unknown device 'gpu'"),
    (["--device", ""], "--device: unknown device ''"),  # was measured on the CPU, as evaluate refuses it
    (["--policy", "bogus"], "--policy: invalid choice"),
    (["--rollouts", "0"], "--rollouts: must be >= 1"),
    (["--seconds", "0"], "--seconds: must be > 0"),
    (["--seconds", "0.000001"], "--seconds: must be >= 0.1"),
    (["--seconds", "inf"], "--seconds: must be a finite number"),
    (["--workers", "3", "--boards", "2"], "--workers (3) must not exceed the boards (2)"),
    (["--env", "gameboy", "--emulators", "0"], "--emulators: must be >= 1"),
    (["--emulators", "3"], "--emulators: not used with --env snake"),  # they were ignored silently
    # Sizes past any rate's use failed on memory with a traceback (1e12 boards: NumPy asked for 7 TiB; 1e12
    # Game Boy workers: the step buffers' error named train_ppo's --num-envs).
    (["--boards", "1e12"], "--boards: must be at most 1,048,576"),
    (["--env", "gameboy", "--emulators", "1e12"], "--emulators: must be at most 64 (emulators per worker)"),
    (["--env", "gameboy", "--workers", "1e12"], "--workers: must be at most 256 (worker processes)"),
    (["--env", "gameboy", "--policy", "10m", "--boards", "64"],
     "--policy, --boards: not used with --env gameboy (leave them out, or choose the other --env)"),
    # Every Snake-only flag, one at a time: each was ignored silently by the Game Boy figures.
    (["--env", "gameboy", "--device", "cpu"],
     "--device: not used with --env gameboy (leave it out, or choose the other --env)"),
    (["--env", "gameboy", "--rollouts", "3"], "--rollouts: not used with --env gameboy"),
])
def test_bad_options_name_the_flag(scripts, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        scripts.benchmark.main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_help_names_every_bound_the_options_enforce(scripts, capsys):
    # The bounds were refused with a message but missing from --help (only the README gave them).
    with pytest.raises(SystemExit):
        scripts.benchmark.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for bound in ("(default 4, at most 64)", "(default 4096, at most 1,048,576)",
                  "(default: one per core, at most 256)", "(default 3, at least 0.1, at most 600)",
                  "(default 2, at most 1,000)"):
        assert bound in text
    assert scripts.benchmark.measure_seconds("0.1") == 0.1  # "at least": the bound itself is taken
    assert scripts.benchmark.measure_seconds("600") == 600  # and "at most"


def test_every_training_figure_times_the_given_rollouts(scripts, capsys, monkeypatch):
    import agents.throughput
    import envs.bench

    timed, counted = [], []

    def report(pipeline, env, preset, num_envs, ppo, device, rollouts=2, flops=True):  # timing not tested
        timed.append((pipeline.__name__, preset, rollouts))
        counted.append((pipeline.__name__, flops))
        return {"sps": 100.0, "rollout_s": 1.0, "update_s": 2.0, **(
            {"flops_per_step": 1e6, "parameters": 1e7} if flops else {})}

    monkeypatch.setattr(agents.throughput, "train_report", report)
    for module, name in ((agents.throughput, "peak_flops"), (agents.throughput, "vec_env_sps"),
                         (envs.bench, "game_sps")):  # the other figures: not what is tested, and slow
        monkeypatch.setattr(module, name, lambda *args, **kwargs: 1e6)
    assert scripts.benchmark.main(["--quick", "--json", "--workers", "2", "--rollouts", "3"]) == 0
    capsys.readouterr()
    assert ("ours", "10m", 3) in timed  # mfu_10m's: it timed one whatever --rollouts said
    assert {r for *_, r in timed} == {3} and len(timed) == 4  # ours, the two stock peers, 10m
    # mfu is ours' alone: the stock peers' FLOPs were counted, then thrown away.
    assert counted == [("ours", True), ("stock", False), ("stock_dummy", False), ("ours", True)]


def test_the_figures_from_the_readmes_defaults_and_their_table(scripts, capsys, monkeypatch):
    # Only --quick runs were tested, whose figures were only checked to be > 0: the sizes the defaults give
    # (README: --boards 4096, --seconds 3, --rollouts 2, --workers one per core), how the ratios are formed
    # from the figures and the table printed without --json went unchecked.
    calls = []
    _fake_figures(monkeypatch, calls)
    benchmark = scripts.benchmark
    monkeypatch.setattr(benchmark, "usable_cores", lambda: 3)
    assert benchmark.main(["--policy", "tiny"]) == 0
    n_steps = 128  # configs/snake.yaml's

    def brief(c: tuple) -> tuple:  # what this test pins of a call: no game options, PPO's n_steps only
        if c[0] == "game":
            return c[:4]
        if c[0] == "train":
            return (*c[:2], *c[3:5], c[5]["n_steps"], *c[6:])
        return c

    assert [brief(c) for c in calls[:9]] == [
        ("peak", "cpu", 3.0), ("game", "snake", 3.0, 4096), ("vec", "snake", 4096, 3, 3.0),
        ("vec", "snake", 4096, 0, 3.0), ("train", "ours", "tiny", 64, n_steps, "cpu", 2),
        ("train", "stock", "tiny", 64, n_steps, "cpu", 2),
        ("train", "stock_dummy", "tiny", 64, n_steps, "cpu", 2), ("train", "ours", "10m", 64, 32, "cpu", 2),
        ("peak", "cpu", 3.0)]
    others = {c[1]: c[3] for c in calls[9:]}
    assert {k: others[k] for k in ("rotation", "snake_duel", "sokoban")} == dict.fromkeys(
        ("rotation", "snake_duel", "sokoban"), 1024)
    captured = capsys.readouterr()
    table = captured.out
    assert captured.err.startswith("peak matmul ...\nraw Snake core ...\n")  # progress, off the table
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in table.splitlines())
    # One column of values: each name padded to the longest.
    starts = {line.index(value) for line, value in zip(table.splitlines(), rows.values(), strict=True)}
    assert starts == {max(map(len, rows)) + 2}
    assert {name: rows[name] for name in list(rows)[:12]} == {
        "peak matmul": "3.0 GFLOP/s",  # the better of the two
        "env_sps (Snake core, 1 core)": "1,000",
        "vec_env_sps (3 workers)": "1,500  (50% of env_sps × workers)",
        "vec_env_sps (in process)": "600  (60% of env_sps)",  # not the 50% above: each its own ratio
        "train_sps (ours, tiny)": "400",
        "sb3_train_sps (stock, SubprocVecEnv, tiny)": "100",
        "train_speedup": "4.00×",
        "sb3_dummy_train_sps (stock, DummyVecEnv, tiny)": "200",
        "train_speedup_dummy": "2.00×",
        "PPO iteration, rollout + update": "ours 0.25 + 2.50 s, SubprocVecEnv 1.50 + 2.50 s, "
                                           "DummyVecEnv 0.75 + 2.50 s",
        "mfu (tiny, 100,000 params)": "0.133",
        "mfu_10m (10,000,000 params, 50 sps)": "0.050"}
    assert rows["rotation core"] == "10 steps/s"
    # the cartridge's row read "pokemon_red (test cartridge, 1 core) core": "core" goes after the game's name
    assert rows["pokemon_red core (test cartridge, 1 core)"] == "10 steps/s"
    assert "--quick" not in table


def test_the_gameboy_figures_from_the_readmes_defaults_and_their_table(scripts, capsys, monkeypatch):
    # The one --env gameboy test gives --emulators 2 and --quick, and checks only that figures are > 0.
    calls = []
    _fake_gameboy_figures(monkeypatch, calls)
    assert scripts.benchmark.main(["--env", "gameboy", "--workers", "2"]) == 0
    assert calls == [("bare", 3.0), ("make", "pokemon_red", 4), ("play", 1.0), ("play", 3.0), ("close",),
                     ("vec", 4, 1, 3.0), ("vec", 8, 2, 3.0), ("memory", 8)]
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in capsys.readouterr().out.splitlines())
    assert rows == {"bare PyBoy (1 core)": "250 steps/s (6,000 frames/s)",
                    "full env (1 core)": "200 steps/s, overhead 25.0%",
                    "VecEnv, 1 worker × 4 emulators": "100 steps/s",
                    "VecEnv, 2 workers × 4 emulators": "200 steps/s",
                    "memory per emulator": "3.0 MB"}


def test_gameboy_quick_times_each_figure_as_long_as_snakes_quick(scripts, capsys, monkeypatch):
    """0.2 s a figure, the untimed warm-up too, as Snake's --quick: the plumbing check, not a speed."""
    calls = []
    _fake_gameboy_figures(monkeypatch, calls)
    assert scripts.benchmark.main(["--env", "gameboy", "--workers", "2", "--quick", "--json"]) == 0
    assert calls == [("bare", 0.2), ("make", "pokemon_red", 4), ("play", 0.2), ("play", 0.2), ("close",),
                     ("vec", 4, 1, 0.2), ("vec", 8, 2, 0.2), ("memory", 8)]
    assert json.loads(capsys.readouterr().out)["quick"] is True


def test_the_gameboy_json_has_every_figure_on_the_test_cartridge(scripts, capsys, monkeypatch):
    # Only test_gameboy_benchmark_json read this JSON, for five keys > 0: its other keys (the env measured,
    # the emulators per worker, the frames/s, the overhead) went unchecked, and so did the cartridge each
    # figure's game was made with.
    import envs.bench
    from envs.gameboy.roms import TEST_CARTRIDGE

    calls, roms = [], []
    _fake_gameboy_figures(monkeypatch, calls, roms)
    argv = ["--env", "gameboy", "--workers", "2", "--emulators", "3", "--json"]
    assert scripts.benchmark.main(argv) == 0
    assert json.loads(capsys.readouterr().out) == {
        "env": "pokemon_red on the test cartridge", "emulators_per_worker": 3, "quick": False,
        "pyboy_sps": 250.0, "pyboy_fps": 6000.0, "env_sps": 200.0, "env_overhead": pytest.approx(0.25),
        "vec_env_sps_w1": 100.0, "vec_env_sps_w2": 200.0, "memory_per_emulator_mb": 3.0}
    assert roms == [str(TEST_CARTRIDGE)] * 4  # the env, both VecEnv figures and the memory
    # Where resident memory cannot be read (no /proc): null in the JSON, "n/a" in the table.
    monkeypatch.setattr(envs.bench, "memory_per_emulator", lambda name, count, **kwargs: None)
    assert scripts.benchmark.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["memory_per_emulator_mb"] is None
    assert scripts.benchmark.main(argv[:-1]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["memory", "per", "emulator", "n/a"]


def _fake_gameboy_figures(monkeypatch, calls, roms=None):
    """benchmark.py's --env gameboy measurements replaced by fixed figures, each call in ``calls`` (and the
    ``rom`` each game was made with in ``roms``, where given)."""
    import agents.throughput
    import envs
    import envs.bench
    import envs.gameboy.core

    class Game:
        emulator_seconds = 0.0

        def close(self):
            calls.append(("close",))

    def make_game(name, num_envs=0, **kwargs):
        calls.append(("make", name, num_envs))
        roms is None or roms.append(kwargs.get("rom"))
        return Game()

    def random_play(game, seconds):
        calls.append(("play", seconds))
        game.emulator_seconds = 0.8
        return 200.0, 1.0

    def vec_env_sps(env, num_envs, num_workers, seconds=0.0, **kwargs):
        calls.append(("vec", num_envs, num_workers, seconds))
        roms is None or roms.append(kwargs.get("rom"))
        return 100.0 * num_workers

    def memory_per_emulator(name, count, **kwargs):
        calls.append(("memory", count))  # README: the memory 8 more emulators add, over 8
        roms is None or roms.append(kwargs.get("rom"))
        return 3 * 2**20

    monkeypatch.setattr(envs.gameboy.core, "load_pyboy_class", lambda: None)
    monkeypatch.setattr(envs, "make_game", make_game)
    monkeypatch.setattr(envs.bench, "random_play", random_play)
    monkeypatch.setattr(envs.bench, "pyboy_bare_sps",
                        lambda rom, seconds: calls.append(("bare", seconds)) or 250.0)
    monkeypatch.setattr(envs.bench, "memory_per_emulator", memory_per_emulator)
    monkeypatch.setattr(agents.throughput, "vec_env_sps", vec_env_sps)


def _fake_figures(monkeypatch, calls):
    """benchmark.py's measurements replaced by fixed figures, each call recorded in ``calls``."""
    import agents.throughput
    import envs.bench
    import envs.gameboy.core

    peaks = iter([2e9, 3e9])

    def game_sps(name, seconds=0.0, num_envs=0, **kwargs):
        calls.append(("game", name, seconds, num_envs, kwargs))
        return 1000.0 if name == "snake" else 10.0

    def vec_env_sps(env, num_envs, num_workers, seconds=0.0, **kwargs):
        calls.append(("vec", env, num_envs, num_workers, seconds))
        return 1500.0 if num_workers else 600.0

    def train_report(pipeline, env, preset, num_envs, ppo, device, rollouts=0, flops=True):
        calls.append(("train", pipeline.__name__, env, preset, num_envs, ppo, device, rollouts))
        sps = {("ours", "10m"): 50.0, ("stock", "tiny"): 100.0, ("stock", "10m"): 25.0,
               ("stock_dummy", "tiny"): 200.0, ("stock_dummy", "10m"): 40.0}.get(
            (pipeline.__name__, preset), 400.0)
        rollout_s = {"ours": 0.25, "stock": 1.5, "stock_dummy": 0.75}[pipeline.__name__]
        big = preset == "10m"
        return {"sps": sps, "rollout_s": rollout_s, "update_s": 2.0 if big else 2.5,
                "flops_per_step": 3e6 if big else 1e6, "parameters": 1e7 if big else 1e5}

    def peak_flops(device, seconds=0.0):
        calls.append(("peak", device, seconds))
        return next(peaks)

    monkeypatch.setattr(envs.bench, "game_sps", game_sps)
    for fake in (vec_env_sps, train_report, peak_flops):
        monkeypatch.setattr(agents.throughput, fake.__name__, fake)
    monkeypatch.setattr(envs.gameboy.core, "load_pyboy_class", lambda: None)  # the cartridge's figure too


def test_a_cuda_run_takes_every_figure_on_its_device_with_the_cuda_policy(scripts, capsys, monkeypatch):
    # Only CPU runs were tested: a peak matmul or a training figure taken on the host for a --device cuda:1
    # run, or the CPU's default policy, still printed figures; the JSON's keys were checked only to be > 0.
    import torch

    import agents.benchmark_cli
    from agents.config import load_config
    from envs.gameboy.roms import TEST_CARTRIDGE

    calls = []
    _fake_figures(monkeypatch, calls)
    monkeypatch.setattr(agents.benchmark_cli, "check_device", lambda device: None)  # no GPU here
    assert scripts.benchmark.main(["--device", "cuda:1", "--json", "--workers", "2", "--boards", "512",
                                   "--seconds", "0.5", "--rollouts", "1"]) == 0
    # The CPU default's 64 boards on a GPU too (the stock peer runs a process per board), so its minibatch:
    # an eighth of 128 × 64 samples.
    ppo = {**load_config("snake")["ppo"], "batch_size": 1024}
    assert calls == [("peak", "cuda:1", 0.5), ("game", "snake", 0.5, 512, {}), ("vec", "snake", 512, 2, 0.5),
                     ("vec", "snake", 512, 0, 0.5), ("train", "ours", "snake", "10m", 64, ppo, "cuda:1", 1),
                     ("train", "stock", "snake", "10m", 64, ppo, "cuda:1", 1),
                     ("train", "stock_dummy", "snake", "10m", 64, ppo, "cuda:1", 1), ("peak", "cuda:1", 0.5),
                     ("game", "rotation", 0.5, 512, {}), ("game", "snake_duel", 0.5, 512, {}),
                     ("game", "sokoban", 0.5, 512, {}),
                     ("game", "pokemon_red", 0.5, 4, {"rom": TEST_CARTRIDGE})]
    captured = capsys.readouterr()
    assert captured.err == ""  # --json: the object alone, no progress lines
    out = json.loads(captured.out)
    assert out == {
        "device": "cuda:1", "policy": "10m", "torch_threads": torch.get_num_threads(), "quick": False,
        "env_sps": 1000.0, "vec_env_workers": 2, "vec_env_sps": 1500.0, "vec_env_efficiency": 0.75,
        "vec_env_sps_in_process": 600.0, "peak_flops": 3e9,
        "train_sps": 50.0, "sb3_train_sps": 25.0, "train_speedup": 2.0, "sb3_dummy_train_sps": 40.0,
        "train_speedup_dummy": 1.25, "rollout_s": 0.25, "update_s": 2.0, "sb3_rollout_s": 1.5,
        "sb3_update_s": 2.0, "sb3_dummy_rollout_s": 0.75, "sb3_dummy_update_s": 2.0,
        "mfu": pytest.approx(3e6 * 50 / 3e9), "flops_per_step": 3e6, "parameters": 10_000_000,
        "mfu_10m": pytest.approx(3e6 * 50 / 3e9), "train_sps_10m": 50.0, "parameters_10m": 10_000_000,
        "games": {"rotation": 10.0, "snake_duel": 10.0, "sokoban": 10.0,
                  "pokemon_red (test cartridge, 1 core)": 10.0}}


def test_a_cpu_runs_json_keeps_its_policys_figures_apart_from_the_10m_ones(scripts, capsys, monkeypatch):
    # --device auto on a host without CUDA is a CPU run (the CPU's default policy); flops_per_step and
    # parameters are the policy's own, the *_10m figures the 10m model's (the table shows no flops_per_step).
    import torch

    calls = []
    _fake_figures(monkeypatch, calls)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert scripts.benchmark.main(["--device", "auto", "--json", "--workers", "2", "--quick"]) == 0
    assert {c[1] for c in calls if c[0] == "peak"} == {c[6] for c in calls if c[0] == "train"} == {"cpu"}
    # --quick's training: 8 boards, 16 steps, one epoch (README: a minute), not the 64 boards' processes
    sizes = {(c[4], c[5]["n_steps"], c[5]["batch_size"], c[5]["n_epochs"]) for c in calls if c[0] == "train"}
    assert sizes == {(8, 16, 64, 1)}
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("device", "policy", "quick", "train_sps", "sb3_train_sps", "train_speedup",
                                "flops_per_step", "parameters", "train_sps_10m", "parameters_10m")} == {
        "device": "cpu", "policy": "tiny", "quick": True, "train_sps": 400.0, "sb3_train_sps": 100.0,
        "train_speedup": 4.0, "flops_per_step": 1e6, "parameters": 100_000, "train_sps_10m": 50.0,
        "parameters_10m": 10_000_000}
    assert out["mfu"] == pytest.approx(1e6 * 400 / 3e9) and out["mfu_10m"] == pytest.approx(3e6 * 50 / 3e9)
    assert set(out["games"]) == {"rotation", "snake_duel", "sokoban", "pokemon_red (test cartridge, 1 core)"}


def test_mfu_10m_of_a_cuda_run_with_a_smaller_policy_is_timed_on_that_device(scripts, capsys, monkeypatch):
    import agents.benchmark_cli

    calls = []
    _fake_figures(monkeypatch, calls)
    monkeypatch.setattr(agents.benchmark_cli, "check_device", lambda device: None)  # no GPU here
    argv = ["--device", "cuda", "--policy", "tiny", "--json", "--workers", "2", "--quick"]
    assert scripts.benchmark.main(argv) == 0
    capsys.readouterr()
    trained = [(c[1], c[3], c[6]) for c in calls if c[0] == "train"]
    assert trained == [("ours", "tiny", "cuda"), ("stock", "tiny", "cuda"), ("stock_dummy", "tiny", "cuda"),
                       ("ours", "10m", "cuda")]


def test_as_many_workers_as_boards_are_taken(scripts, capsys, monkeypatch):
    # One board per worker is the bound: --workers is refused past it (test_bad_options_name_the_flag).
    # The most workers the flag takes also fit --quick's boards (two modules' constants).
    calls = []
    _fake_figures(monkeypatch, calls)
    most = scripts.benchmark.MAX_WORKERS
    assert scripts.benchmark.main(["--quick", "--json", "--workers", str(most)]) == 0
    assert ("vec", "snake", 256, most, 0.2) in calls
    assert json.loads(capsys.readouterr().out)["vec_env_workers"] == most
    # The default, one per core, stops there too: on a 300-core machine a plain --quick was refused for
    # more workers than its boards, a --workers the user never gave.
    _fake_figures(monkeypatch, calls)
    benchmark = scripts.benchmark  # each scripts.benchmark is the script loaded afresh
    monkeypatch.setattr(benchmark, "usable_cores", lambda: most + 44)
    assert benchmark.main(["--quick", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["vec_env_workers"] == most


def test_one_worker_is_named_in_the_singular_in_the_table(scripts, capsys, monkeypatch):
    # `benchmark.py --workers 1` printed the row "vec_env_sps (1 workers)".
    _fake_figures(monkeypatch, [])
    assert scripts.benchmark.main(["--quick", "--workers", "1"]) == 0
    table = capsys.readouterr().out
    assert "vec_env_sps (1 worker)  " in table and "(1 workers)" not in table


def test_without_pyboy_the_table_leaves_the_cartridge_out_and_gameboy_says_how_to_install_it(
        scripts, capsys, monkeypatch):
    import envs.gameboy.core

    def no_pyboy():
        raise ImportError("No module named 'pyboy'")

    _fake_figures(monkeypatch, [])
    monkeypatch.setattr(envs.gameboy.core, "load_pyboy_class", no_pyboy)
    assert scripts.benchmark.main(["--quick", "--workers", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == ("--quick: tiny sizes that check the plumbing; these figures are not the "
                         "project's speeds")
    assert any(line.startswith("rotation core ") for line in lines)
    assert not any("pokemon_red" in line for line in lines)
    assert scripts.benchmark.main(["--env", "gameboy", "--quick", "--workers", "2"]) == 2
    assert capsys.readouterr().err == 'error: --env gameboy needs PyBoy: pip install -e ".[gameboy]"\n'


def test_a_target_kl_in_the_measured_settings_is_refused_before_any_figure(scripts, monkeypatch):
    # mfu's FLOPs count every epoch of each update, which target_kl may cut short: flops_per_env_step refuses
    # it, but only once the peak matmul, the core, the VecEnv and our training had been timed (minutes).
    import agents.config

    calls = []
    _fake_figures(monkeypatch, calls)
    snake = agents.config.load_config("snake")
    monkeypatch.setattr(agents.config, "load_config",
                        lambda env, path=None: {**snake, "ppo": {**snake["ppo"], "target_kl": 0.01}})
    with pytest.raises(ValueError, match=r"target_kl=0\.01.*configs/snake\.yaml"):
        scripts.benchmark.main(["--quick", "--json"])
    assert calls == []


@pytest.mark.parametrize("argv, given, them", [
    (["--quick", "--seconds", "30"], "--seconds", "it"),
    (["--quick", "--boards", "64", "--seconds", "5"], "--boards, --seconds", "them"),
    (["--env", "gameboy", "--quick", "--seconds", "5"], "--seconds", "it"),
])
def test_quick_refuses_the_sizes_it_replaces(scripts, capsys, monkeypatch, argv, given, them):
    # --quick put its own boards and seconds in place of the given ones without a word: a measured run
    # ("--quick --seconds 30") was timed for 0.2 s. One flag is "it" (c27f4e1), two are "them".
    _fake_figures(monkeypatch, [])
    with pytest.raises(SystemExit) as exc:
        scripts.benchmark.main(argv)
    assert exc.value.code == 2
    assert (f"{given}: --quick replaces {them} with its tiny sizes (drop --quick to measure with {them})"
            in capsys.readouterr().err)


@pytest.mark.parametrize("argv, message", [
    (["--seconds", "1e99"], "--seconds: must be at most 600 (a rate stops changing long before), got 1e99"),
    (["--rollouts", "1e99"],
     "--rollouts: must be at most 1,000 (a rate stops changing long before), got 1e99"),
])
def test_seconds_and_rollouts_past_any_rates_use_are_refused(scripts, capsys, monkeypatch, argv, message):
    # Both were taken: 1e99 seconds a figure, or 1e99 timed PPO iterations, was a benchmark without end.
    _fake_figures(monkeypatch, [])
    with pytest.raises(SystemExit) as exc:
        scripts.benchmark.main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_cuda_on_a_machine_without_it_is_refused_before_any_figure(scripts, capsys, monkeypatch):
    # README: --device cpu|cuda[:N]|auto. On a host without CUDA, --device cuda is an error naming the way
    # out, given before any figure; taking it failed in the peak matmul with torch's traceback.
    import torch

    calls = []
    _fake_figures(monkeypatch, calls)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exc:
        scripts.benchmark.main(["--device", "cuda", "--quick", "--json"])
    assert exc.value.code == 2 and calls == []
    err = capsys.readouterr().err
    assert "--device cuda: " in err and "(use --device cpu)" in err, err


@pytest.mark.parametrize("argv, device, policy", [
    ([], "cpu", "tiny"),  # README: cpu by default, with a GPU there too
    (["--device", "auto"], "cuda", "10m"),  # auto takes the GPU, and the GPU's default policy
])
def test_the_default_device_is_the_cpu_and_auto_takes_cuda_where_there_is_one(
        scripts, capsys, monkeypatch, argv, device, policy):
    import torch

    import agents.benchmark_cli

    calls = []
    _fake_figures(monkeypatch, calls)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(agents.benchmark_cli, "check_device", lambda device: None)  # no GPU here
    assert scripts.benchmark.main([*argv, "--json", "--workers", "2", "--quick"]) == 0
    assert {c[1] for c in calls if c[0] == "peak"} == {c[6] for c in calls if c[0] == "train"} == {device}
    out = json.loads(capsys.readouterr().out)
    assert (out["device"], out["policy"]) == (device, policy)


def test_the_games_figures_time_the_built_in_cores_only(scripts, capsys, monkeypatch):
    # The games section looped over all of envs.GAMES: an installed package's game was timed too, with
    # default options, and one that failed ended the benchmark after the other figures.
    import envs

    calls = []
    _fake_figures(monkeypatch, calls)
    monkeypatch.setitem(envs.GAMES, "catch", ("catchplug.game:Catch", "depthfirst/Catch-v0"))
    assert scripts.benchmark.main(["--quick", "--json", "--workers", "2"]) == 0
    timed = {c[1] for c in calls if c[0] == "game"}
    assert timed == {"snake", "rotation", "snake_duel", "sokoban", "pokemon_red"}
    assert set(json.loads(capsys.readouterr().out)["games"]) == {
        "rotation", "snake_duel", "sokoban", "pokemon_red (test cartridge, 1 core)"}
