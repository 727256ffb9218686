"""Run configuration: project defaults < ``configs/<env>.yaml`` < command-line flags, then resolved.

The resolved config (every ``auto`` replaced by what was chosen) is written into the run folder, so a
run describes itself and ``--resume`` rebuilds exactly the same thing.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

DEFAULTS: dict[str, Any] = {
    "env": None,
    "env_kwargs": {},
    "num_envs": 64,  # boards stepped per rollout step
    "num_workers": "auto",  # worker processes; auto: 0 for cheap batched cores, else one per core
    "policy": "auto",  # preset name (agents/policies.py); auto: cuda_policy on CUDA, cpu_policy on CPU
    "cpu_policy": "tiny",
    "cuda_policy": "10m",
    "device": "auto",
    "seed": 0,
    "total_timesteps": 1_000_000,
    "save_every": "auto",  # env steps between checkpoints; auto: a tenth of the run, at most 1M
    "video_every": "auto",  # env steps between TensorBoard rollout videos; auto: a fifth of the run
    "video_max_steps": 1000,  # cap on a recorded episode's length
    "recurrent": False,  # sb3-contrib RecurrentPPO with an LSTM after the CNN
    # Two-player games with env_kwargs.opponent: policy play earlier snapshots of the learner.
    "self_play": {"snapshot_every": 200_000, "pool_size": 5},
    "ppo": {
        "n_steps": 128,  # steps per env per rollout
        "batch_size": 2048,  # minibatch size
        "n_epochs": 4,
        "learning_rate": 2.5e-4,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "clip_range": 0.2,
        "ent_coef": 0.01,
        "vf_coef": 0.5,
        "max_grad_norm": 0.5,
    },
}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(env: str, path: str | Path | None = None) -> dict[str, Any]:
    """Defaults merged with the env's preset file (or ``path``)."""
    file = Path(path) if path else CONFIG_DIR / f"{env}.yaml"
    if path and not file.is_file():
        raise FileNotFoundError(f"--config: no such file {file}")
    preset = yaml.safe_load(file.read_text()) if file.is_file() else {}
    if not isinstance(preset, dict):
        raise ValueError(f"{file}: expected a mapping at the top level")
    unknown = set(preset) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"{file}: unknown keys {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    cfg = deep_merge(DEFAULTS, preset)
    cfg["env"] = env
    return cfg


def apply_set(cfg: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (value parsed as YAML: numbers, bools, lists...)."""
    cfg = copy.deepcopy(cfg)
    for item in assignments:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE (e.g. ppo.learning_rate=1e-4), got {item!r}")
        key, raw = item.split("=", 1)
        parts = key.split(".")
        if parts[0] not in DEFAULTS:
            raise ValueError(f"--set {key}: unknown key {parts[0]!r}; known: {sorted(DEFAULTS)}")
        node = cfg
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {key}: {p!r} is not a section")
        if parts[0] == "ppo" and len(parts) == 2 and parts[1] not in DEFAULTS["ppo"]:
            raise ValueError(f"--set {key}: unknown PPO setting; known: {sorted(DEFAULTS['ppo'])}")
        node[parts[-1]] = yaml.safe_load(raw)
    return cfg


def resolve(cfg: dict[str, Any], cuda_available: bool) -> dict[str, Any]:
    """Replace every ``auto`` with the concrete choice for this machine."""
    from envs.vector import default_workers

    cfg = copy.deepcopy(cfg)
    if cfg["device"] == "auto":
        cfg["device"] = "cuda" if cuda_available else "cpu"
    if cfg["device"].startswith("cuda") and not cuda_available:
        raise ValueError("--device cuda: CUDA is not available on this machine (use --device cpu)")
    if cfg["policy"] == "auto":
        cfg["policy"] = cfg["cuda_policy"] if cfg["device"].startswith("cuda") else cfg["cpu_policy"]
    if cfg["num_workers"] == "auto":
        cfg["num_workers"] = default_workers(cfg["env"], cfg["num_envs"])
    total = int(cfg["total_timesteps"])
    if cfg["save_every"] == "auto":
        cfg["save_every"] = max(1, min(total // 10, 1_000_000))
    if cfg["video_every"] == "auto":
        cfg["video_every"] = max(1, total // 5)
    for key in ("num_envs", "total_timesteps", "save_every", "video_every"):
        if int(cfg[key]) < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be >= 1, got {cfg[key]}")
    if int(cfg["num_workers"]) < 0 or int(cfg["num_workers"]) > int(cfg["num_envs"]):
        raise ValueError(f"--num-workers must be between 0 and --num-envs ({cfg['num_envs']}), "
                         f"got {cfg['num_workers']}")
    rollout = cfg["ppo"]["n_steps"] * cfg["num_envs"]
    if rollout % cfg["ppo"]["batch_size"] and cfg["ppo"]["batch_size"] > rollout:
        raise ValueError(f"ppo.batch_size ({cfg['ppo']['batch_size']}) exceeds "
                         f"n_steps × num_envs ({rollout})")
    return cfg
