"""Training throughput and model FLOPs utilisation, measured against the stock SB3 pipeline.

``scripts/benchmark.py`` prints these; nothing here asserts a speed (tests only check the plumbing).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv
from torch.utils.flop_counter import FlopCounterMode

from agents.interrupts import stop_signals_held
from agents.policies import count_params, policy_kwargs
from agents.train import build_model
from envs import make_env, make_vec


def peak_flops(device: str = "cpu", n: int = 2048, seconds: float = 2.0) -> float:
    """The best matmul FLOP/s of ``n``×``n`` float32 ``torch.mm`` on ``device`` (the MFU denominator), at the
    precision the policies train in (TF32 on CUDA: ``agents.policies``, imported above, turns it on)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sync(device)
        t = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        sync(device)
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t))
    return best


def sync(device: str) -> None:
    """Wait for the work a GPU has queued: it runs behind the host, so a clock read earlier times launches."""
    kind = torch.device(device).type
    if kind == "cuda":
        torch.cuda.synchronize(device)  # with no device, torch waits for the current one: cuda:0, not cuda:1
    elif kind == "mps":  # an Apple GPU, which --device accepts too
        torch.mps.synchronize()


def check_whole_updates(target_kl: float | None) -> None:
    """A ValueError for a ``target_kl``: the FLOPs per env step count all n_epochs of each update, which SB3
    ends early once the KL passes 1.5 × target_kl, so an mfu from them would count work not done.
    scripts/benchmark.py checks its settings with it before it measures anything."""
    if target_kl is not None:
        raise ValueError(f"target_kl={target_kl}: the FLOPs per env step count all n_epochs of each update, "
                         "which target_kl may cut short (an mfu of work not done); leave target_kl out of "
                         "the ppo settings measured (configs/snake.yaml for scripts/benchmark.py)")


def flops_per_env_step(model: Any, batch: int = 256) -> dict[str, float]:
    """FLOPs one env step costs PPO: a rollout forward + n_epochs × (forward + backward) in the update.

    Counted with ``FlopCounterMode`` on the model's real policy (convolutions and matmuls). Every epoch is
    counted whole, so a model with ``target_kl`` (SB3 ends its update early past it) is refused.
    """
    check_whole_updates(getattr(model, "target_kl", None))
    policy = model.policy
    shape = model.observation_space.shape
    obs = torch.randint(0, 256, (batch, *shape), dtype=torch.uint8, device=model.device)
    actions = torch.randint(0, model.action_space.n, (batch,), device=model.device)
    with torch.no_grad(), FlopCounterMode(display=False) as fwd:
        policy(obs)
    with FlopCounterMode(display=False) as train:
        values, log_prob, entropy = policy.evaluate_actions(obs, actions)
        (values.sum() + log_prob.sum() + entropy.sum()).backward()
    policy.zero_grad(set_to_none=True)
    forward = fwd.get_total_flops() / batch
    update = train.get_total_flops() / batch
    return {"forward": forward, "train": update, "per_step": forward + model.n_epochs * update}


def measure_train_sps(model: Any, rollouts: int = 2) -> dict[str, float]:
    """Env steps/s of ``model.learn`` (rollouts + updates), after one warm-up rollout, and the seconds one
    timed PPO iteration spent collecting its rollout and updating (the rest is SB3's bookkeeping): where a
    pipeline's time goes, which bounds how much a faster env or buffer can gain over the same network."""
    per_rollout = model.n_steps * model.n_envs
    device = str(model.device)
    # A logger that writes nothing: SB3's default makes an empty /tmp/SB3-<time> folder on every learn().
    model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(per_rollout)
    spent = {"rollout_s": 0.0, "update_s": 0.0}

    def timed(name: str, method: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            sync(device)
            t = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                sync(device)
                spent[name] += time.perf_counter() - t
        return run

    # learn() calls both through the instance, so these attributes shadow the methods for the timed part.
    model.collect_rollouts = timed("rollout_s", model.collect_rollouts)
    model.train = timed("update_s", model.train)
    try:
        sync(device)  # the warm-up's queued work, outside the clock
        start = model.num_timesteps
        t = time.perf_counter()
        # No wait after it: SB3's learn() ends with the timed train() (which waited), then only host work.
        model.learn(per_rollout * rollouts, reset_num_timesteps=False)
        sps = (model.num_timesteps - start) / (time.perf_counter() - t)
    finally:
        del model.collect_rollouts, model.train
    return {"sps": sps, **{name: seconds / rollouts for name, seconds in spent.items()}}


def ours(env: str, preset: str, num_envs: int, ppo: dict[str, Any], device: str) -> tuple[PPO, Any]:
    """This project's pipeline, built by training's own ``build_model``: the batched game in
    ``GameVecEnv`` (default workers), device buffer."""
    venv = make_vec(env, num_envs, seed=0)
    model = build_model({"env": env, "policy": preset, "device": device, "seed": 0, "ppo": ppo}, venv)
    return model, venv


def stock(env: str, preset: str, num_envs: int, ppo: dict[str, Any], device: str) -> tuple[PPO, Any]:
    """The stock pipeline the speed target is set against, as a user assembles it by hand: the same game
    as a plain Gymnasium env, ``make_vec_env`` with ``SubprocVecEnv`` (one process per board, forked: its
    cheapest start), SB3's default ``RolloutBuffer`` and Adam (a per-tensor loop on a CPU, torch's ``foreach``
    on CUDA; not the fused one this project's pipeline uses: part of what the speed-up measures); same net
    and PPO. For a game this cheap one process
    per board is the slower stock choice (64 of them stepped Snake at 4k steps/s on 2 cores), so
    ``stock_dummy`` is measured too."""
    return _stock(env, preset, num_envs, ppo, device, SubprocVecEnv, {"start_method": "fork"})


def stock_dummy(env: str, preset: str, num_envs: int, ppo: dict[str, Any], device: str) -> tuple[PPO, Any]:
    """``stock`` with ``make_vec_env``'s default ``DummyVecEnv`` (all boards in this process): the fastest
    stock choice for a cheap game (45k steps/s where ``SubprocVecEnv`` stepped 4k), the harder peer."""
    return _stock(env, preset, num_envs, ppo, device, DummyVecEnv, {})


def _stock(env: str, preset: str, num_envs: int, ppo: dict[str, Any], device: str, vec_env_cls: type,
           vec_env_kwargs: dict[str, Any]) -> tuple[PPO, Any]:
    with stop_signals_held():  # a Ctrl-C while SubprocVecEnv forks its workers was lost, or a traceback
        venv = make_vec_env(make_env, n_envs=num_envs, seed=0, env_kwargs={"name": env},
                            vec_env_cls=vec_env_cls, vec_env_kwargs=vec_env_kwargs)
    model = PPO("CnnPolicy", venv, policy_kwargs=policy_kwargs(preset, env), device=device, seed=0, **ppo)
    return model, venv


def train_report(pipeline: Any, env: str, preset: str, num_envs: int, ppo: dict[str, Any], device: str,
                 rollouts: int = 2, flops: bool = True) -> dict[str, float]:
    """Training steps/s and seconds per iteration in rollout and update of ``pipeline`` (``ours``, ``stock``
    or ``stock_dummy``); with ``flops``, also its FLOPs per env step and parameter count (an MFU's figures:
    counting them runs the policy forward and backward, work a peer timed only for its speed need not do)."""
    model, venv = pipeline(env, preset, num_envs, ppo, device)
    try:
        report = measure_train_sps(model, rollouts)
        if flops:
            report |= {"flops_per_step": flops_per_env_step(model)["per_step"],
                       "parameters": float(count_params(model.policy))}
    except BaseException:
        _close_after_stop(venv)
        raise
    venv.close()
    return report


def _close_after_stop(venv: Any) -> None:
    """``venv`` closed as the measurement stops (a Ctrl-C, a closed terminal's SIGHUP, an error). The stock
    peer's ``SubprocVecEnv`` workers get the signal too, as the terminal's whole job does, and end at once;
    this process, inside a torch call of an update, takes it after them, and SB3's ``close`` then failed on
    their closed pipes (BrokenPipeError, or EOFError inside a step) in place of the stop: a traceback and
    status 1. Those that still run are stopped and every one is reaped."""
    try:
        venv.close()
    except (EOFError, OSError):  # a pipe whose worker has ended (BrokenPipeError, ConnectionResetError)
        for process in getattr(venv, "processes", ()):
            process.terminate()
            process.join()


def vec_env_sps(env: str, num_envs: int, num_workers: int, seconds: float = 3.0, **game_kwargs: Any) -> float:
    """Env steps/s through ``GameVecEnv`` with random actions (autoreset and infos included)."""
    venv = make_vec(env, num_envs, num_workers=num_workers, seed=0, **game_kwargs)
    try:
        venv.reset()
        rng = np.random.default_rng(0)
        actions = rng.integers(0, venv.action_space.n, size=(16, num_envs))
        venv.step_async(actions[0])
        venv.step_wait()
        steps, t = 0, time.perf_counter()
        while time.perf_counter() - t < seconds:
            for a in actions:
                venv.step_async(a)
                venv.step_wait()
            steps += len(actions) * num_envs
        return steps / (time.perf_counter() - t)
    finally:
        venv.close()
