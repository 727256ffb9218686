"""Named policy sizes (torch-free, so command-line parsing stays light). Built by agents/policies.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    channels: tuple[int, ...]  # 3x3 conv widths
    hidden: int  # width of the dense layer after the conv trunk (the features both heads read)


# Parameter counts on 10×10 Snake and speeds: README, "Policies and PPO".
PRESETS: dict[str, Preset] = {
    "tiny": Preset((16, 32), 128),  # the fastest on a CPU, its default
    "small": Preset((32, 64, 64), 256),
    "medium": Preset((64, 64, 64), 512),
    "10m": Preset((64, 128, 128), 768),  # the headline specialist, the CUDA default
}


def policy_label(cfg: Mapping[str, Any]) -> str:
    """A run's policy as training's start line and compare's report name it: ``tiny+LSTM`` for a
    ``--recurrent`` run, whose parameter count holds the LSTMs, not the preset's alone."""
    return f"{cfg.get('policy')}{'+LSTM' if cfg.get('recurrent') else ''}"
