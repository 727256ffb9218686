"""Policy presets: one CNN family, sized by name, for any uint8 channels-first observation.

Grid observations (one pixel per cell, Snake/Sokoban) keep full resolution: every cell matters.
Larger images (rendered pixels, Game Boy screens) are downsampled by stride-2 convolutions until
their longer side is at most ``MAX_SIDE``, then treated the same way. The trunk ends in a dense
layer over the flattened map, which gives the policy global position information.

An observation made of ``panels`` equal images side by side (Rotation: target | current) is folded
into channels first: with both views at the same pixels the first convolution can compare them,
which a trunk over the side-by-side picture only does in its last dense layer. On Rotation this
lifts a supervised probe (tiny preset, 60 s on 2 CPU cores, best move at one quarter turn) from
61% to 76% test accuracy, and it is what lets PPO learn the game (README, learning figures).
"""

from __future__ import annotations

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from agents.presets import PRESETS
from envs import game_class

MAX_SIDE = 12

# Float32 matmuls on CUDA run on TF32 tensor cores, as cuDNN already runs the convolutions by default.
# Every process that builds or loads these policies imports this module (training, evaluation, the
# benchmark's peak). TF32 keeps float32's range with a 10-bit mantissa (~1e-3 relative error), far below
# PPO's gradient noise. No effect on a CPU. Measured gain: README, "On a GPU".
torch.backends.cuda.matmul.allow_tf32 = True

# oneDNN's convolutions run faster on channels-last input once they are wide, from a width that depends on
# the CPU's vector unit. A PPO iteration (rollout + update) on 10×10 Snake took 1.28× (small), 1.33–1.38×
# (medium) and 1.25× (10m) less time so on an AVX-512 Xeon, tiny's 16 and 32 channels the same (0.96×). On
# an AVX2 AMD EPYC only 10m's 128 channels gained (139 against 118 steps/s, 1.17×; five of six alternated
# pairs faster), small lost (0.86×), medium was even (1.04×) and tiny slower. Other CPUs: not measured,
# so the default layout.
WIDE_CHANNELS_ON_CPU = {"AVX512": 64, "AVX2": 128}.get(torch.backends.cpu.get_cpu_capability())


class GridCNN(BaseFeaturesExtractor):
    """Conv trunk + dense layer. Input: the uint8 observation as floats in [0, 1] (SB3's preprocessing,
    ``normalize_images``, divides by 255 before the extractor)."""

    def __init__(self, observation_space: spaces.Box, channels: tuple[int, ...] = (32, 64, 64),
                 hidden: int = 256, panels: int = 1) -> None:
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 3:
            raise ValueError("GridCNN takes image observations, a Box shaped (channels, height, width); got "
                             f"{observation_space} (give a 2-D grid a channel axis of 1)")
        super().__init__(observation_space, features_dim=hidden)
        c, h, w = observation_space.shape
        if panels < 1 or w % panels:
            raise ValueError(f"an observation {w} pixels wide does not split into {panels} equal panels")
        self.panels = panels
        c, w = c * panels, w // panels
        strides = []
        side = max(h, w)
        while side > MAX_SIDE:
            strides.append(2)
            side = (side + 1) // 2
        widths = list(channels) + [channels[-1]] * max(0, len(strides) - len(channels))
        strides += [1] * (len(widths) - len(strides))
        layers: list[nn.Module] = []
        c_in = c
        for width, stride in zip(widths, strides, strict=True):
            layers += [nn.Conv2d(c, width, 3, stride=stride, padding=1), nn.ReLU()]
            c = width
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        # Strided convolutions over few-channel images run ~2x faster (forward and backward, oneDNN on
        # CPU) on channels-last input; full-resolution grids are a little faster as they are, unless
        # wide enough for this CPU (WIDE_CHANNELS_ON_CPU).
        self.channels_last = bool(strides) and strides[0] == 2
        self.cpu_channels_last = self.channels_last or (WIDE_CHANNELS_ON_CPU is not None
                                                        and max(widths) >= WIDE_CHANNELS_ON_CPU)
        with torch.no_grad():
            n_flat = self.trunk(torch.zeros(1, c_in, h, w)).shape[1]
        self.head = nn.Sequential(nn.Linear(n_flat, hidden), nn.ReLU())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.panels > 1:  # (B, C, H, P*W) -> (B, P*C, H, W), panel by panel
            b, c, h, w = obs.shape
            obs = obs.reshape(b, c, h, self.panels, w // self.panels).permute(0, 3, 1, 2, 4)
            obs = obs.reshape(b, self.panels * c, h, w // self.panels)
        if self.cpu_channels_last if obs.device.type == "cpu" else self.channels_last:
            obs = obs.contiguous(memory_format=torch.channels_last)
        return self.head(self.trunk(obs))


def policy_kwargs(preset: str, env: str | None = None) -> dict:
    """SB3 ``policy_kwargs`` for a named preset (shared trunk, linear policy and value heads), shaped
    for ``env``'s observation layout when given."""
    if preset not in PRESETS:
        raise ValueError(f"unknown policy preset {preset!r}; known presets: {', '.join(PRESETS)}")
    p = PRESETS[preset]
    return {
        "features_extractor_class": GridCNN,
        "features_extractor_kwargs": {"channels": p.channels, "hidden": p.hidden,
                                      "panels": game_class(env).OBS_PANELS if env else 1},
        "net_arch": [],
        "normalize_images": True,
    }


def activation_bytes(preset: str, env: str, obs_shape: tuple[int, ...]) -> tuple[int, int]:
    """Bytes a board the network's passes hold at least, on the device it runs on, the float input the
    caller holds through them included: in a rollout step (no gradients: the input's copy in the trunk's
    layout, if one is made, and the largest layer's input and output at once) and in an update step (what
    autograd keeps for the backward pass: each convolution's and dense layer's input, each ReLU's output;
    the gradients come on top). The trunk's layers only: the heads are a few hundred bytes. Traced with one
    observation on the CPU, whose input layout it takes (0.3 s for the 10m preset's weights; the meta device
    would not allocate them, but its shape rules import sympy, 5 s)."""
    kwargs = policy_kwargs(preset, env)
    net = kwargs["features_extractor_class"](spaces.Box(0, 255, obs_shape, "uint8"),
                                             **kwargs["features_extractor_kwargs"])
    x = torch.zeros((1, *obs_shape))  # as SB3's preprocessing hands it over: float32
    held: list[torch.Tensor] = [x]  # through the whole pass: the input, then its copy in the trunk's layout
    kept: list[torch.Tensor] = []  # alive till the end, so no two share an address
    rollout = 0

    def size(*tensors: torch.Tensor) -> int:  # a view shares its tensor's memory
        return sum({t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}.values())

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal rollout
        if len(held) == 1:  # the first layer's input, which forward() holds (x itself, or its copy)
            held.append(inputs[0])
        rollout = max(rollout, size(*held, inputs[0], out))
        if isinstance(module, nn.ReLU):  # what autograd saves for the backward pass
            kept.append(out)
        elif isinstance(module, nn.Conv2d | nn.Linear):
            kept.append(inputs[0])

    for module in net.modules():
        if not any(module.children()):
            module.register_forward_hook(hook)
    net(x)
    return rollout, size(x, *kept)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
