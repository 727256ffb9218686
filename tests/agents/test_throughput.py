"""agents/throughput.py's figures on a virtual clock: what benchmark.py prints as steps/s, FLOP/s and FLOPs
per env step is the work done over the time it took (tests/scripts/test_benchmark.py checks only that
each figure is there and positive)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

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
        assert throughput.measure_train_sps(model, rollouts=2) == 2.0  # the warm-up rollout left out
        assert model.num_timesteps == 3 * 4 * 2
        small = throughput.flops_per_env_step(model, batch=4)
        large = throughput.flops_per_env_step(model, batch=8)
    finally:
        venv.close()
    assert small == pytest.approx(large)  # per env step, whatever the batch counted
    assert 0 < small["forward"] < small["train"]  # the update adds a backward pass
    assert small["per_step"] == pytest.approx(small["forward"] + 3 * small["train"])  # n_epochs updates
