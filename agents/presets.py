"""Named policy sizes (torch-free, so command-line parsing stays light). Built by agents/policies.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    channels: tuple[int, ...]  # 3x3 conv widths
    hidden: int  # width of the dense layer after the conv trunk (the features both heads read)
    about: str


PRESETS: dict[str, Preset] = {
    "tiny": Preset((16, 32), 128, "≈0.4M params on 10×10 Snake; the fastest on a CPU"),
    "small": Preset((32, 64, 64), 256, "≈1.7M params on 10×10 Snake"),
    "medium": Preset((64, 64, 64), 512, "≈3.4M params on 10×10 Snake"),
    "10m": Preset((64, 128, 128), 768, "≈10.1M params on 10×10 Snake; the headline specialist, CUDA default"),
}
