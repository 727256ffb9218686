import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_json_has_every_figure(scripts, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where SB3's default logger would write
    assert scripts.benchmark.main(["--quick", "--json", "--workers", "2"]) == 0
    assert not list(tmp_path.glob("SB3-*"))  # no empty log folder left per training figure
    out = json.loads(capsys.readouterr().out)
    for key in ("env_sps", "vec_env_sps", "vec_env_sps_in_process", "train_sps", "sb3_train_sps",
                "train_speedup", "mfu", "mfu_10m", "peak_flops"):
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
    (["--policy", "bogus"], "--policy: invalid choice"),
    (["--rollouts", "0"], "--rollouts: must be >= 1"),
    (["--seconds", "0"], "--seconds: must be > 0"),
    (["--seconds", "0.000001"], "--seconds: must be >= 0.1"),
    (["--seconds", "inf"], "--seconds: must be a finite number"),
    (["--workers", "3", "--boards", "2"], "--workers (3) must not exceed the boards (2)"),
    (["--env", "gameboy", "--emulators", "0"], "--emulators: must be >= 1"),
    (["--emulators", "3"], "--emulators: not used with --env snake"),  # they were ignored silently
    (["--env", "gameboy", "--policy", "10m", "--boards", "64"],
     "--policy, --boards: not used with --env gameboy"),
])
def test_bad_options_name_the_flag(scripts, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        scripts.benchmark.main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_every_training_figure_times_the_given_rollouts(scripts, capsys, monkeypatch):
    import agents.throughput
    import envs.bench

    timed = []

    def report(pipeline, env, preset, num_envs, ppo, device, rollouts=2):  # the timing itself is not tested
        timed.append((pipeline.__name__, preset, rollouts))
        return {"sps": 100.0, "flops_per_step": 1e6, "parameters": 1e7}

    monkeypatch.setattr(agents.throughput, "train_report", report)
    for module, name in ((agents.throughput, "peak_flops"), (agents.throughput, "vec_env_sps"),
                         (envs.bench, "game_sps")):  # the other figures: not what is tested, and slow
        monkeypatch.setattr(module, name, lambda *args, **kwargs: 1e6)
    assert scripts.benchmark.main(["--quick", "--json", "--workers", "2", "--rollouts", "3"]) == 0
    capsys.readouterr()
    assert ("ours", "10m", 3) in timed  # mfu_10m's: it timed one whatever --rollouts said
    assert {r for *_, r in timed} == {3} and len(timed) == 3
