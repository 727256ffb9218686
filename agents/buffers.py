"""``DeviceRolloutBuffer``: PPO's rollout storage kept on the training device, observations as uint8.

SB3's ``RolloutBuffer`` keeps everything in host NumPy arrays (observations in their own dtype, uint8
here too) and copies every minibatch to the device on every epoch (and ``get`` makes flattened copies of
the whole buffer first). This buffer writes each step straight into device tensors (observations stay
``uint8`` there, divided by 255 inside the network), computes GAE with tensor ops, and serves minibatches
by indexing on the device. A plug-in through SB3's ``rollout_buffer_class``; ``PPO.train`` is unchanged.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.type_aliases import RolloutBufferSamples

from agents.interrupts import stop_point


class DeviceRolloutBuffer(RolloutBuffer):
    def __init__(self, buffer_size: int, observation_space: spaces.Space, action_space: spaces.Space,
                 device: torch.device | str = "auto", gae_lambda: float = 1, gamma: float = 0.99,
                 n_envs: int = 1) -> None:
        if not isinstance(observation_space, spaces.Box) or observation_space.dtype != np.uint8:
            # The common cause is VecNormalize's float32 observations: say what to change.
            raise TypeError("DeviceRolloutBuffer stores uint8 Box observations (images); got "
                            f"{observation_space}: keep VecNormalize's norm_obs=False, or leave "
                            "rollout_buffer_class out for SB3's own RolloutBuffer")
        if not isinstance(action_space, spaces.Discrete):
            raise TypeError(f"DeviceRolloutBuffer supports Discrete actions; got {action_space}")
        super().__init__(buffer_size, observation_space, action_space, device, gae_lambda, gamma, n_envs)

    #: Each tensor, (step, env) first, and its dtype; observations also carry the observation's shape.
    _TENSORS: ClassVar[dict[str, torch.dtype]] = {
        "observations": torch.uint8, "actions": torch.int64, "rewards": torch.float32,
        "returns_t": torch.float32, "episode_starts": torch.float32, "values_t": torch.float32,
        "log_probs": torch.float32, "advantages": torch.float32}

    def reset(self) -> None:
        """Zeros the buffer, in place after the first: new tensors, made each rollout while the old ones were
        still held, doubled the buffer's peak memory (a run whose buffer fit failed at its second rollout)."""
        for name, dtype in self._TENSORS.items():
            tensor = getattr(self, name, None)
            if isinstance(tensor, torch.Tensor):
                tensor.zero_()
            else:  # the first reset (SB3's __init__ calls it)
                extra = self.obs_shape if name == "observations" else ()
                setattr(self, name, torch.zeros((self.buffer_size, self.n_envs, *extra), dtype=dtype,
                                                device=self.device))
        self.pos, self.full = 0, False

    def add(self, obs: np.ndarray, action: np.ndarray, reward: np.ndarray, episode_start: np.ndarray,
            value: torch.Tensor, log_prob: torch.Tensor) -> None:
        p = self.pos
        self.observations[p].copy_(torch.from_numpy(np.asarray(obs)), non_blocking=True)
        self.actions[p].copy_(torch.from_numpy(np.asarray(action).reshape(self.n_envs)))
        self.rewards[p].copy_(torch.from_numpy(np.asarray(reward, dtype=np.float32)))
        self.episode_starts[p].copy_(torch.from_numpy(np.asarray(episode_start, dtype=np.float32)))
        self.values_t[p] = value.detach().flatten()
        self.log_probs[p] = log_prob.detach().flatten()
        self.pos += 1
        if self.pos == self.buffer_size:
            self.full = True

    def compute_returns_and_advantage(self, last_values: torch.Tensor, dones: np.ndarray) -> None:
        next_values = last_values.detach().flatten().to(self.device)
        next_non_terminal = 1.0 - torch.as_tensor(dones, dtype=torch.float32, device=self.device)
        last_gae = torch.zeros(self.n_envs, device=self.device)
        for step in reversed(range(self.buffer_size)):
            delta = self.rewards[step] + self.gamma * next_values * next_non_terminal - self.values_t[step]
            last_gae = delta + self.gamma * self.gae_lambda * next_non_terminal * last_gae
            self.advantages[step] = last_gae
            next_values = self.values_t[step]
            next_non_terminal = 1.0 - self.episode_starts[step]
        torch.add(self.advantages, self.values_t, out=self.returns_t)

    # PPO.train reads these two as NumPy arrays (explained variance), once per update.
    @property
    def values(self) -> np.ndarray:  # type: ignore[override]
        return self.values_t.cpu().numpy()

    @property
    def returns(self) -> np.ndarray:  # type: ignore[override]
        return self.returns_t.cpu().numpy()

    def get(self, batch_size: int | None = None) -> Generator[RolloutBufferSamples, None, None]:
        assert self.full, "the rollout buffer is read only when full"
        total = self.buffer_size * self.n_envs
        flat = {name: getattr(self, name).flatten(0, 1)  # (step, env, ...) -> (sample, ...), a view
                for name in ("observations", "actions", "values_t", "log_probs", "advantages", "returns_t")}
        batch_size = total if batch_size is None else batch_size
        order = torch.randperm(total, device=self.device)
        for start in range(0, total, batch_size):
            idx = order[start:start + batch_size]
            yield RolloutBufferSamples(
                observations=flat["observations"][idx],
                actions=flat["actions"][idx].unsqueeze(1),
                old_values=flat["values_t"][idx],
                old_log_prob=flat["log_probs"][idx],
                advantages=flat["advantages"][idx],
                returns=flat["returns_t"][idx],
            )


def stop_between_minibatches(buffer: Any) -> None:
    """A stop point (``agents.interrupts``) before each minibatch the update reads from ``buffer``: a
    Ctrl-C inside ``learn()`` waits for one minibatch, not the whole update (188 s for RecurrentPPO's
    first with the CPU defaults on two busy cores; a recurrent minibatch, 20-40 s there, gets stop points of
    its own: ``agents.train.stop_inside_lstm_steps``). Any algorithm's
    buffer (RecurrentPPO builds sb3-contrib's own); set on the instance, which each load builds anew, as
    SB3 saves no rollout buffer."""
    get = buffer.get

    def get_with_stop_points(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for samples in get(*args, **kwargs):
            stop_point()
            yield samples

    buffer.get = get_with_stop_points
