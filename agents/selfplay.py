"""Self-play for two-player games (duel Snake with ``opponent: policy``).

The opponent is an earlier snapshot of the learner: a pool of frozen copies of the policy, one taken at
the first rollout start at or past each multiple of ``snapshot_every`` env steps (the oldest dropped past
``pool_size``); each rollout draws one of them, uniformly. Before every env step the callback observes
the board from snake 1's side, lets the snapshot act and hands its actions to the game. The game must run
in the training process (``num_workers: 0``, the default for cheap cores) so the callback can reach it
between steps.

The pool is not saved with a checkpoint (``pool_size`` copies of the policy at every save); a --resume
refills it from the run's own checkpoints within the pool's span (``pool_size × snapshot_every`` steps
back), which are earlier snapshots of the same learner, instead of starting from the current policy alone.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from agents.callbacks import next_multiple
from envs.base import whole


def uses_self_play(cfg: dict[str, Any]) -> bool:
    return cfg["env_kwargs"].get("opponent") == "policy"


def no_snapshot_warning(total: int, rollout: int, snapshot_every: int) -> str | None:
    """For a new run of ``total`` steps in rollouts of ``rollout``: the warning that no snapshot is taken
    after the first (the untrained starting policy, the pool's only one, is the opponent throughout), else
    None. Snapshots come at rollout starts, and PPO starts its last rollout below ``total``."""
    last = -(-total // rollout) * rollout - rollout  # the last rollout's start
    if -(-snapshot_every // rollout) * rollout <= last:  # the first rollout start at or past snapshot_every
        return None
    fix = (f"--set self_play.snapshot_every={last} or less" if last > 0 else
           f"more --total-timesteps (this run is one rollout, ppo.n_steps × --num-envs = {rollout:,} steps)")
    return (f"warning: self-play takes no snapshot in this run (self_play.snapshot_every {snapshot_every:,}, "
            f"its last rollout starting at step {last:,}): the learner plays its untrained starting policy "
            f"throughout; give {fix}")


def frozen_copy(policy: Any) -> Any:
    """A new policy of ``policy``'s class and settings holding its weights, in eval mode: built as SB3's
    ``BasePolicy.load`` builds one, drawing no random numbers (the training's stream stays as it was).
    ``copy.deepcopy`` failed once PPO had updated the policy (the last forward pass's distribution holds
    tensors that are not graph leaves), so a second ``learn()`` in one process could not start, and it
    copied the optimizer's state too."""
    with torch.random.fork_rng(devices=[]):
        fresh = type(policy)(**policy._get_constructor_parameters())
    fresh.load_state_dict(policy.state_dict())
    return fresh.to(policy.device).eval()


class SelfPlayCallback(BaseCallback):
    def __init__(self, snapshot_every: int, pool_size: int, seed: int = 0, run: Path | None = None) -> None:
        super().__init__()
        # config.resolve checks a run's values before its folder exists; checked here too for one's own
        # code, where pool_size 0 kept every snapshot (del pool[:-0] drops nothing) and 0 steps divided by 0.
        self.snapshot_every = whole("self-play snapshot_every", snapshot_every, 1)
        self.pool_size = whole("self-play pool_size", pool_size, 1)
        self.seed, self.run = seed, run
        self.pool: list[dict[str, torch.Tensor]] = []
        self._next = 0

    def _on_training_start(self) -> None:
        local = getattr(self.training_env, "_local", None)
        if local is None or not hasattr(local.game, "observe_opponent"):
            raise ValueError("self-play (env_kwargs.opponent: policy) needs a two-player game stepped in "
                             "the training process: use --num-workers 0")
        self.game = local.game
        self.opponent = frozen_copy(self.model.policy)
        self.obs = self.game.new_obs_buffer()
        now = self.model.num_timesteps
        self.rng = np.random.default_rng(self.seed + now)  # a resumed run does not replay the first draws
        self._refill(now)
        self._snapshot()
        # The opponent is drawn, and acts, as each rollout starts (the first one too).
        self._next = next_multiple(now, self.snapshot_every)

    def _refill(self, now: int) -> None:
        """On --resume: the policies of the run's checkpoints taken in the pool's span before ``now``."""
        if self.run is None or now == 0:
            return
        from stable_baselines3.common.save_util import load_from_zip_file

        from agents.runs import CHECKPOINT_ERRORS, checkpoints

        start = now - self.pool_size * self.snapshot_every
        span = [f for step, f in checkpoints(self.run) if start < step < now]
        for f in span[max(0, len(span) - (self.pool_size - 1)):]:  # the current policy is the last snapshot
            try:
                _, params, _ = load_from_zip_file(f, load_data=False, device=self.model.device)
                self.pool.append(params["policy"])
            except CHECKPOINT_ERRORS as e:
                # An older opponent is worth less than the run: the pool goes on without it.
                print(f"warning: self-play leaves out checkpoint {f} ({type(e).__name__}: {e})",
                      file=sys.stderr)

    def _snapshot(self) -> None:
        self.pool.append({k: v.detach().clone() for k, v in self.model.policy.state_dict().items()})
        del self.pool[:-self.pool_size]

    def _load_random(self) -> None:
        self.opponent.load_state_dict(self.pool[int(self.rng.integers(len(self.pool)))])

    def _act(self) -> None:
        self.game.observe_opponent(self.obs)
        with torch.no_grad():
            obs = torch.as_tensor(self.obs, device=self.model.device)
            actions = self.opponent.get_distribution(obs).get_actions(deterministic=False)
        self.game.set_opponent_actions(actions.cpu().numpy())

    def _on_rollout_start(self) -> None:
        if self.model.num_timesteps >= self._next:
            self._snapshot()
            self._next = next_multiple(self.model.num_timesteps, self.snapshot_every)
        self._load_random()
        self._act()

    def _on_step(self) -> bool:
        self._act()  # for the next step (the vector env has already reset finished boards)
        return True
