"""agents.evaluation's figures on hand-made and replayed episodes, without a trained model."""

import numpy as np
import pytest

from agents.evaluation import Episode, summarize


def test_summary_figures_are_the_statistics_of_the_episodes():
    def episode(score: float, length: int, ret: float, won: float) -> Episode:
        return Episode(0, score, length, ret, {"score": score, "won": won}, [])

    episodes = [episode(1.0, 10, 0.5, 0.0), episode(2.0, 20, 1.5, 0.0), episode(6.0, 60, 5.0, 1.0)]
    assert summarize(episodes) == {
        "episodes": 3, "mean_score": 3.0, "median_score": 2.0, "max_score": 6.0, "min_score": 1.0,
        "std_score": pytest.approx(float(np.std([1.0, 2.0, 6.0]))), "mean_length": 30.0,
        "mean_return": pytest.approx(7 / 3), "mean_won": pytest.approx(1 / 3)}

