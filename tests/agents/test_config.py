"""agents/config.py on its own: the ``auto`` choices ``resolve`` makes (README, Options), the bounds of the
values it accepts, and a config file's top-level keys. No training; tests/agents/test_training.py runs
the same checks through scripts/train_ppo.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.config import apply_set, load_config, resolve


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


def test_auto_workers_run_batched_cores_in_process_and_emulators_one_per_core(monkeypatch):
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 6)
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
