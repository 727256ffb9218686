"""agents/throughput.py's figures on a virtual clock: what benchmark.py prints as steps/s, FLOP/s and FLOPs
per env step is the work done over the time it took (tests/scripts/test_benchmark.py checks only that
each figure is there and positive)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from agents import throughput


class Clock:
    """perf_counter for agents.throughput: time moves only when ``advance`` is called."""

    def __init__(self) -> None:
        self.now = 100.0

    def perf_counter(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _slow_steps(venv: Any, clock: Clock) -> Any:
    """Every step of ``venv``'s boards takes one virtual second."""
    real = venv.step_wait

    def step_wait() -> Any:
        clock.advance(1.0)
        return real()

    venv.step_wait = step_wait
    return venv


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(throughput, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    return clock


def test_peak_flops_is_the_best_rate_at_two_n_cubed_per_matmul(clock: Clock,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        clock.advance(0.25 if len(calls) <= 4 else 1.0)  # the first four n×n matmuls fast, then slow
        return a

    monkeypatch.setattr(torch, "mm", mm)
    assert throughput.peak_flops("cpu", n=8, seconds=5.0) == 2 * 8**3 / 0.25
    assert len(calls) > 4  # the slower rounds were timed too


def test_vec_env_sps_counts_every_board_of_every_timed_step(clock: Clock,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real = throughput.make_vec
    monkeypatch.setattr(throughput, "make_vec", lambda *a, **k: _slow_steps(real(*a, **k), clock))
    assert throughput.vec_env_sps("snake", 4, 0, seconds=40.0) == 4.0  # 4 boards a second


def test_training_sps_and_flops_per_env_step(clock: Clock) -> None:
    ppo = {"n_steps": 4, "batch_size": 8, "n_epochs": 3}
    model, venv = throughput.ours("snake", "tiny", 2, ppo, "cpu")
    try:
        _slow_steps(venv, clock)
        # The warm-up rollout left out; each timed one's 4 steps took 4 s, its update no virtual time.
        report = throughput.measure_train_sps(model, rollouts=2)
        assert report == {"sps": 2.0, "rollout_s": 4.0, "update_s": 0.0}
        assert model.num_timesteps == 3 * 4 * 2
        assert "train" not in vars(model) and "collect_rollouts" not in vars(model)  # the timers removed
        assert model.logger.get_dir() is None  # SB3's default logger makes an SB3-<time> folder a figure
        small = throughput.flops_per_env_step(model, batch=4)
        large = throughput.flops_per_env_step(model, batch=8)
        assert all(p.grad is None for p in model.policy.parameters())  # counting left no gradients behind
    finally:
        venv.close()
    assert small == pytest.approx(large)  # per env step, whatever the batch counted
    assert 0 < small["forward"] < small["train"]  # the update adds a backward pass
    assert small["per_step"] == pytest.approx(small["forward"] + 3 * small["train"])  # n_epochs updates
    # The tiny preset on 10x10 Snake, 2 FLOPs a multiply-add: its two 3x3 convolutions at every cell, the
    # dense layer, the policy and value heads. The backward pass costs twice that, less the input gradient
    # of the first convolution (nothing upstream needs it).
    conv, first_conv = 2 * 9 * 100 * (4 * 16 + 16 * 32), 2 * 9 * 100 * 4 * 16
    assert small["forward"] == conv + 2 * (32 * 100 * 128 + 128 * 4 + 128 * 1)
    assert small["train"] == 3 * small["forward"] - first_conv


def test_peak_flops_defaults_to_a_2048_matmul_on_the_given_device_and_waits_for_it(
        clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    # README: "2048² torch.mm" on the --device: a smaller matmul or one run on the host reads a lower peak
    # (a higher MFU); timing a GPU without synchronising reads only the kernel launches.
    made, synced = [], []

    def randn(*shape: int, device: str = "cpu") -> torch.Tensor:
        made.append((shape, device))
        return torch.zeros(1)

    def mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        clock.advance(0.25)
        return a

    monkeypatch.setattr(torch, "randn", randn)
    monkeypatch.setattr(torch, "mm", mm)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: synced.append(device))
    assert throughput.peak_flops("cuda:1", seconds=3.0) == 4 * 2 * 2048**3 / 1.0
    assert made == [((2048, 2048), "cuda:1")] * 2
    # Before and after each round of four matmuls, on the matmuls' GPU: with no device, torch waits for the
    # current one (cuda:0), and cuda:1's queued matmuls went untimed.
    assert synced == ["cuda:1"] * 2 * 3
    throughput.sync("cpu")
    assert len(synced) == 6  # no CUDA call for the host


class _FakeVenv:
    """A VecEnv whose every step takes one virtual second; records how it was made."""

    def __init__(self, clock: Clock, made: list, env: str, num_envs: int, **kwargs: Any) -> None:
        made.append((env, num_envs, kwargs))
        self.num_envs = num_envs
        self.clock, self.closed, self.played = clock, False, set()
        self.action_space = SimpleNamespace(n=4)

    def reset(self) -> None:
        pass

    def step_async(self, actions: Any) -> None:
        assert len(actions) == self.num_envs
        self.played.update(actions.tolist())

    def step_wait(self) -> None:
        self.clock.advance(1.0)

    def close(self) -> None:
        self.closed = True


def test_vec_env_sps_uses_the_workers_and_game_options_given(clock: Clock,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # benchmark.py's vec_env_sps (W workers) and vec_env_sps_in_process (W=0) differ only by num_workers,
    # and the Game Boy figures pass the cartridge: dropping either still printed a figure.
    made: list = []
    venvs = []
    monkeypatch.setattr(throughput, "make_vec",
                        lambda *a, **k: venvs.append(_FakeVenv(clock, made, *a, **k)) or venvs[-1])
    assert throughput.vec_env_sps("pokemon_red", 6, 3, seconds=40.0, rom="x.gb") == 6.0
    assert made == [("pokemon_red", 6, {"num_workers": 3, "seed": 0, "rom": "x.gb"})]
    assert venvs[0].played == {0, 1, 2, 3} and venvs[0].closed  # uniformly random actions, every one


def test_vec_env_sps_leaves_the_first_step_out(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    # A VecEnv's first step after reset is a cold one (workers waking, caches empty): timed, a slow one
    # lowered vec_env_sps, a steady-state rate.
    class Cold(_FakeVenv):
        waited = 0

        def step_wait(self) -> None:
            self.waited += 1
            self.clock.advance(100.0 if self.waited == 1 else 1.0)

    monkeypatch.setattr(throughput, "make_vec", lambda *a, **k: Cold(clock, [], *a, **k))
    assert throughput.vec_env_sps("snake", 4, 0, seconds=40.0) == 4.0


def test_train_report_returns_the_per_step_flops_of_the_rollouts_asked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The per-step FLOPs (forward + n_epochs updates) are mfu's numerator, not the forward or one update;
    # --rollouts reaches the timing; the pipeline's env is closed.
    timed = []
    policy = torch.nn.Linear(3, 2)  # 8 parameters
    model = SimpleNamespace(policy=policy)
    venv = SimpleNamespace(closed=False)
    venv.close = lambda: setattr(venv, "closed", True)
    built = []

    def pipeline(*args: Any) -> tuple[Any, Any]:
        built.append(args)
        return model, venv

    monkeypatch.setattr(throughput, "measure_train_sps", lambda m, rollouts=2: timed.append((m, rollouts))
                        or {"sps": 5.0, "rollout_s": 1.0, "update_s": 2.0})
    monkeypatch.setattr(throughput, "flops_per_env_step",
                        lambda m, batch=256: {"forward": 1.0, "train": 2.0, "per_step": 7.0})
    ppo = {"n_steps": 4}
    report = throughput.train_report(pipeline, "snake", "small", 3, ppo, "cpu", rollouts=3)
    assert report == {"sps": 5.0, "rollout_s": 1.0, "update_s": 2.0, "flops_per_step": 7.0, "parameters": 8.0}
    assert timed == [(model, 3)] and built == [("snake", "small", 3, ppo, "cpu")] and venv.closed
    # A stock peer's figures are its timing alone (the benchmark's mfu is ours'): no FLOPs counted for them.
    monkeypatch.setattr(throughput, "flops_per_env_step", lambda m, batch=256: pytest.fail("counted"))
    report = throughput.train_report(pipeline, "snake", "small", 3, ppo, "cpu", rollouts=3, flops=False)
    assert report == {"sps": 5.0, "rollout_s": 1.0, "update_s": 2.0}


def test_the_stock_pipelines_train_the_same_network_with_the_same_ppo() -> None:
    # train_speedup compares two pipelines: the stock one with another net or SB3's default hyperparameters
    # (n_steps 2048, 10 epochs of batch 64) would time other work.
    import multiprocessing.context

    from stable_baselines3.common.buffers import RolloutBuffer
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from agents.buffers import DeviceRolloutBuffer

    ppo = {"n_steps": 8, "batch_size": 16, "n_epochs": 3, "learning_rate": 1e-3, "gamma": 0.9,
           "gae_lambda": 0.8, "clip_range": 0.3, "ent_coef": 0.02, "vf_coef": 0.4, "max_grad_norm": 0.7}
    mine, my_env = throughput.ours("snake", "small", 2, ppo, "cpu")
    try:
        theirs, their_env = throughput.stock("snake", "small", 2, ppo, "cpu")
        their_env.close()
        dummy, dummy_env = throughput.stock_dummy("snake", "small", 2, ppo, "cpu")
        dummy_env.close()
    finally:
        my_env.close()
    # The peer the speed target names (one process per board), and make_vec_env's default, the faster
    # stock choice for a cheap game (64 SubprocVecEnv processes stepped Snake ~10x slower on 2 cores).
    assert type(their_env) is SubprocVecEnv and their_env.num_envs == 2
    # Forked, the cheapest start (SB3's default is forkserver), as README's Ctrl-C note on its workers says.
    assert all(isinstance(p, multiprocessing.context.ForkProcess) for p in their_env.processes)
    assert type(dummy_env) is DummyVecEnv and dummy_env.num_envs == 2
    assert type(theirs.rollout_buffer) is type(dummy.rollout_buffer) is RolloutBuffer
    assert isinstance(mine.rollout_buffer, DeviceRolloutBuffer)
    for model in (theirs, dummy):
        assert str(model.policy) == str(mine.policy)  # the same layers, the small preset's widths
        assert [p.shape for p in model.policy.parameters()] == [p.shape for p in mine.policy.parameters()]
    for model in (mine, theirs, dummy):
        assert (model.n_steps, model.batch_size, model.n_epochs, model.gamma, model.gae_lambda,
                model.ent_coef, model.vf_coef, model.max_grad_norm, model.seed) == (
                    8, 16, 3, 0.9, 0.8, 0.02, 0.4, 0.7, 0)
        assert model.learning_rate == 1e-3 and model.clip_range(1.0) == 0.3
        assert model.observation_space == mine.observation_space and str(model.device) == "cpu"


def test_the_stock_pipeline_folds_a_paired_observation_as_ours_does() -> None:
    # Rotation's target|current picture: the stock peer builds its net for the game too (panels as channels).
    ppo = {"n_steps": 4, "batch_size": 4, "n_epochs": 1}
    mine, my_env = throughput.ours("rotation", "tiny", 1, ppo, "cpu")
    my_env.close()
    dummy, dummy_env = throughput.stock_dummy("rotation", "tiny", 1, ppo, "cpu")
    dummy_env.close()
    assert dummy.policy.features_extractor.panels == mine.policy.features_extractor.panels == 2
    assert [p.shape for p in dummy.policy.parameters()] == [p.shape for p in mine.policy.parameters()]


@pytest.mark.parametrize("device, backend, waited_for", [("cuda:1", torch.cuda, ("cuda:1",)),
                                                         ("mps", torch.mps, ())])  # one Apple GPU: no index
def test_training_sps_on_a_gpu_waits_for_the_device_before_and_after_the_timed_rollouts(
        clock: Clock, monkeypatch: pytest.MonkeyPatch, device: str, backend: Any, waited_for: tuple) -> None:
    # A GPU runs behind the host: the warm-up's queued work must finish before the clock starts, and the timed
    # rollouts' before it stops, else the figure counts other work or only the kernel launches. (An Apple GPU,
    # which --device accepts, was never waited for.)
    queued = []

    class Model:
        n_steps, n_envs, num_timesteps = 2, 3, 0

        def set_logger(self, logger: Any) -> None:
            pass

        def collect_rollouts(self) -> None:
            clock.advance(0.5)  # the host's part
            queued.append(0.25)  # and device work it leaves queued

        def train(self) -> None:
            clock.advance(1.0)
            queued.append(0.5)

        def learn(self, total: int, reset_num_timesteps: bool = True) -> None:
            for _ in range(total // (self.n_steps * self.n_envs)):
                self.collect_rollouts()
                self.num_timesteps += self.n_steps * self.n_envs
                queued.append(0.125)  # bookkeeping's device work between the two: in neither part
                self.train()

    waits = set()

    def synchronize(*device: str) -> None:
        waits.add(device)  # the model's GPU, not torch's current one (cuda:0)
        clock.advance(sum(queued))
        queued.clear()

    Model.device = device
    monkeypatch.setattr(backend, "synchronize", synchronize)
    # 2 x 6 steps, each iteration 0.75 s of rollout, 0.125 s of bookkeeping and 1.5 s of update, the device's
    # share included; the warm-up's queued work is waited for before the clock starts.
    assert throughput.measure_train_sps(Model(), rollouts=2) == {"sps": 12 / 4.75, "rollout_s": 0.75,
                                                                 "update_s": 1.5}
    assert waits == {waited_for}


def test_flops_per_env_step_refuses_a_model_whose_update_may_stop_early() -> None:
    # per_step counts n_epochs full passes; with target_kl SB3 ends the update once the KL passes 1.5×
    # it, so mfu would divide FLOPs never run by the peak: refused, naming the setting.
    model, venv = throughput.ours("snake", "tiny", 2, {"n_steps": 4, "batch_size": 8, "n_epochs": 3,
                                                      "target_kl": 0.01}, "cpu")
    venv.close()
    with pytest.raises(ValueError, match=r"target_kl=0\.01.*configs/snake\.yaml"):
        throughput.flops_per_env_step(model, batch=4)
    with pytest.raises(ValueError, match=r"target_kl=0\.0:"):  # a zero stops after the first minibatch
        throughput.check_whole_updates(0.0)


@pytest.mark.parametrize("waiting", [False, True], ids=["in-an-update", "in-a-step"])
def test_a_stop_that_ended_the_stock_workers_first_stops_the_benchmark(
        waiting: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C, or the SIGHUP of a terminal that closes, reaches the stock peer's SubprocVecEnv workers too,
    which end at once; the benchmark, inside a torch call of an update, took it after them, and SB3's
    ``close`` then wrote to their closed pipes: a BrokenPipeError traceback and status 1, not the stop
    (one of four Ctrl-Cs of ``benchmark.py --quick`` there). Inside a step it read EOFError."""
    ended: list[Any] = []

    def stopped(model: Any, rollouts: int) -> dict[str, float]:
        venv = model.get_env().unwrapped
        if waiting:
            venv.reset()
            venv.step_async(np.zeros(venv.num_envs, dtype=np.int64))
        for process in venv.processes:  # ended by the same signal, before this process took it
            process.kill()
            process.join()
        ended.extend(venv.processes)
        raise KeyboardInterrupt

    monkeypatch.setattr(throughput, "measure_train_sps", stopped)
    with pytest.raises(KeyboardInterrupt):
        throughput.train_report(throughput.stock, "snake", "tiny", 2, {"n_steps": 8, "batch_size": 16}, "cpu")
    assert len(ended) == 2 and not any(p.is_alive() for p in ended)
