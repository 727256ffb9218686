"""Training callbacks on stand-in models (no training): what MetricsCallback writes and when, and when a
periodic callback fires. tests/agents/test_training.py checks them inside real runs."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import agents.callbacks
from agents.callbacks import MetricsCallback, PeriodicCallback


class Logger:
    def __init__(self) -> None:
        self.records: list[tuple[str, Any]] = []
        self.dumps: list[tuple[int, dict[str, Any]]] = []  # (step, what was recorded since the last dump)
        self.output_formats: list[Any] = []  # no TensorBoard writer

    def record(self, key: str, value: Any, exclude: Any = None) -> None:
        self.records.append((key, value))

    def dump(self, step: int) -> None:
        self.dumps.append((step, dict(self.records)))
        self.records = []


def test_sps_counts_this_session_s_steps_over_each_update_s_wall_time(monkeypatch):
    clock = iter([10.0, 10.5, 12.0, 16.0, 17.0])
    monkeypatch.setattr(agents.callbacks.time, "perf_counter", lambda: next(clock))
    logger = Logger()
    model = SimpleNamespace(num_timesteps=1000, logger=logger, get_env=lambda: None)  # a --resume at 1000
    callback = MetricsCallback({"lr": 1e-4})
    callback.init_callback(model)
    callback._on_training_start()  # t = 10
    assert logger.records == []  # the settings go to TensorBoard's writers alone
    callback._on_rollout_start()  # t = 10.5: the first rollout starts, no update yet: nothing dumped
    assert logger.dumps == []
    model.num_timesteps = 1256
    callback._on_rollout_start()  # t = 12: 256 steps (rollout and update) in 1.5 s
    model.num_timesteps = 1512
    callback._on_training_end()  # t = 16: 256 more in 4 s
    callback._on_training_end()  # t = 17: no step since: nothing more
    assert [step for step, _ in logger.dumps] == [1256, 1512]
    assert logger.dumps[0][1]["time/sps"] == pytest.approx(256 / 1.5)
    assert logger.dumps[1][1]["time/sps"] == pytest.approx(256 / 4)


class Every(PeriodicCallback):
    def __init__(self, every: int) -> None:
        super().__init__(every)
        self.fired: list[int] = []

    def fire(self) -> None:
        self.fired.append(self.model.num_timesteps)


@pytest.mark.parametrize("start, rollout, every, fired", [
    (0, 256, 300, [512, 768, 1024]),  # the first rollout boundary at or past 300, 600, 900
    (0, 256, 256, [256, 512, 768, 1024]),  # exactly on each multiple
    (500, 256, 300, [756, 1012, 1268, 1524]),  # resumed at 500: 600, 900, 1200, 1500; not 800
    (650, 100, 300, [950, 1250, 1550]),  # resumed at 650, past 600: nothing after its first rollout
    (0, 100, 1000, [1000]),
])
def test_a_periodic_callback_fires_after_the_update_on_the_first_rollout_past_each_multiple(start, rollout,
                                                                                             every, fired):
    # As the next rollout starts, once the update is done: fired at the rollout's end, a checkpoint held the
    # weights from before the update on it. Not at the rollout that starts a learn(): no update came yet.
    callback = Every(every)
    callback.model = SimpleNamespace(num_timesteps=start)
    callback._on_training_start()
    callback._on_rollout_start()
    assert callback.fired == []
    while callback.model.num_timesteps + rollout <= start + 1024:
        callback.model.num_timesteps += rollout
        before = list(callback.fired)
        callback._on_rollout_end()
        assert callback.fired == before
        callback._on_rollout_start()
    assert callback.fired == fired


def test_rollout_figures_before_any_score_and_the_worker_restart_count():
    # The first rollouts can end before any episode (or a game that reports no score): no score_max, no
    # crash on the max of nothing. The restarts are the vector env's count; a VecEnv without one logs none.
    logged: dict[str, Any] = {}
    logger = SimpleNamespace(record=lambda key, value, exclude=None: logged.__setitem__(key, value))
    callback = MetricsCallback({})
    venv = SimpleNamespace(worker_restarts=2)
    callback.init_callback(SimpleNamespace(ep_info_buffer=[], logger=logger, get_env=lambda: venv))
    callback._on_rollout_end()
    assert logged == {"env/worker_restarts": 2}
    logged.clear()
    episodes = [{"r": 1.0, "l": 5, "t": 0.1, "won": 1.0}]
    callback.init_callback(SimpleNamespace(ep_info_buffer=episodes, logger=logger,
                                           get_env=lambda: SimpleNamespace()))
    callback._on_rollout_end()
    assert logged == {"rollout/won_mean": 1.0}


def test_rollout_figures_are_the_best_score_beside_the_mean_and_restarts_from_zero():
    # score_max is the best of the buffer's episodes, not their mean; a run whose workers never died logs
    # its 0 restarts, so the curve starts with the run rather than at the first death.
    logged: dict[str, Any] = {}
    logger = SimpleNamespace(record=lambda key, value, exclude=None: logged.__setitem__(key, value))
    callback = MetricsCallback({})
    episodes = [{"r": 1.0, "l": 5, "t": 0.1, "score": s} for s in (1.0, 2.0, 6.0)]
    callback.init_callback(SimpleNamespace(ep_info_buffer=episodes, logger=logger,
                                           get_env=lambda: SimpleNamespace(worker_restarts=0)))
    callback._on_rollout_end()
    assert logged == {"rollout/score_mean": 3.0, "rollout/score_max": 6.0, "env/worker_restarts": 0}


def test_the_progress_bar_shows_a_mean_score_just_below_zero_as_0_00():
    # A Game Boy score is a sum of float rewards: a mean of -0.001 read "-0.00".
    from agents.callbacks import ProgressCallback

    shown: dict[str, Any] = {}
    callback = ProgressCallback(1000)
    callback.bar = SimpleNamespace(set_postfix=lambda refresh=False, **fields: shown.update(fields))
    callback.model = SimpleNamespace(ep_info_buffer=[{"r": 1.0}])  # no episode with a score yet
    callback._on_rollout_end()
    assert shown == {"score": "-"}  # not "nan", nor a 0.00 no episode scored
    callback.model = SimpleNamespace(ep_info_buffer=[{"score": -0.001}, {"score": -0.003}])
    callback._on_rollout_end()
    assert shown == {"score": "0.00"}
    callback.model.ep_info_buffer = [{"score": -0.01}]
    callback._on_rollout_end()
    assert shown == {"score": "-0.01"}


def test_a_warning_logged_while_the_bar_runs_gets_a_line_of_its_own(capsys, monkeypatch):
    # A worker's death, logged by envs.vector while training, was printed onto the bar's line:
    # "... score=-]worker 0 (pid 7, env 0) died with exit code -9; restarting it ...".
    from agents.callbacks import ProgressCallback

    monkeypatch.setattr(logging.root, "handlers", [])  # as the scripts run: pytest's capture handler off
    callback = ProgressCallback(1000)
    callback.model = SimpleNamespace(num_timesteps=0, n_steps=100, n_envs=1)
    callback._on_training_start()
    logging.getLogger("envs.vector").warning("worker 0 died; restarting it")
    callback.close()
    assert logging.root.handlers == []  # the handlers given back with the bar: no tqdm one left behind
    logging.getLogger("envs.vector").warning("after the bar")  # said as before once the bar closed
    err = capsys.readouterr().err
    lines = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]
    assert "worker 0 died; restarting it" in lines and "after the bar" in lines, err


@pytest.mark.parametrize("step, every, next_step", [(0, 300, 300), (299, 300, 300), (300, 300, 600),
                                                      (301, 300, 600)])
def test_next_multiple_is_the_first_multiple_past_the_step(step, every, next_step):
    assert agents.callbacks.next_multiple(step, every) == next_step


def test_the_hparams_dashboard_shows_every_run_s_settings_beside_its_scalars(tmp_path):
    """Each run wrote its own experiment (SB3's HParam: the columns, its settings and two metrics), but
    TensorBoard takes the first run's for all of them: `tensorboard --logdir runs` over a Snake and a Sokoban
    run showed no env_kwargs.difficulty column, whichever run it read first. Without one, the columns are
    every run's settings and scalars (a metric whose tag had no scalar was an empty column)."""
    from stable_baselines3.common.logger import configure

    from tests.conftest import served_hparams

    for run, game_only in (("snake", {"env_kwargs.size": 10}), ("sokoban", {"env_kwargs.difficulty": 2})):
        logger = configure(str(tmp_path / run / "tb"), ["tensorboard"])
        callback = MetricsCallback({"lr": 1e-4, "policy": "tiny", **game_only})
        callback.init_callback(SimpleNamespace(num_timesteps=0, logger=logger, get_env=lambda: None))
        callback._on_training_start()
        logger.record("rollout/score_mean", 3.0)
        logger.dump(256)
        logger.close()
    experiment, groups = served_hparams(tmp_path)
    assert sorted(h.name for h in experiment.hparam_infos) == [
        "env_kwargs.difficulty", "env_kwargs.size", "lr", "policy"]
    assert [m.name.tag for m in experiment.metric_infos] == ["rollout/score_mean"]
    assert sorted(g.name for g in groups) == ["snake/tb", "sokoban/tb"]  # one row per run, each its values
    for group in groups:
        assert [(m.name.tag, m.training_step, m.value) for m in group.metric_values] == [
            ("rollout/score_mean", 256, 3.0)]
        assert group.hparams["policy"].string_value == "tiny"
    sokoban = next(g for g in groups if g.name == "sokoban/tb")
    assert sorted(sokoban.hparams) == ["env_kwargs.difficulty", "lr", "policy"]


def test_a_resumed_run_is_one_hparams_row_with_the_values_it_started_with(tmp_path):
    # What the README says of a --resume (a new --total-timesteps, a ppo value edited in config.yaml): each
    # command writes its settings into the run's tb/, and TensorBoard keeps the first.
    from stable_baselines3.common.logger import configure

    from tests.conftest import served_hparams, tb_in_order

    for lr in (3e-4, 1e-4):  # the run, then its --resume into the same folder
        logger = configure(str(tmp_path / "run" / "tb"), ["tensorboard"])
        callback = MetricsCallback({"ppo.learning_rate": lr})
        callback.init_callback(SimpleNamespace(num_timesteps=0, logger=logger, get_env=lambda: None))
        callback._on_training_start()
        logger.close()
    with tb_in_order(tmp_path / "run") as folder:  # the resumed file read second, as in a real run
        _, groups = served_hparams(Path(folder))
    assert [g.hparams["ppo.learning_rate"].number_value for g in groups] == [3e-4]


def test_a_yes_or_no_setting_shows_as_true_or_false(tmp_path):
    # torch's hparams summary writes a bool as a number (its bool branch comes after int's): recurrent: false
    # showed as 0 in the HPARAMS tab, with a range filter where a true/false one fits.
    from stable_baselines3.common.logger import configure
    from tensorboard.plugins.hparams import api_pb2

    from tests.conftest import served_hparams

    logger = configure(str(tmp_path / "run" / "tb"), ["tensorboard"])
    callback = MetricsCallback({"recurrent": False, "env_kwargs.deadlock_end": True, "seed": 1})
    callback.init_callback(SimpleNamespace(num_timesteps=0, logger=logger, get_env=lambda: None))
    callback._on_training_start()
    logger.close()
    experiment, [group] = served_hparams(tmp_path)
    assert {h.name: h.type for h in experiment.hparam_infos} == {
        "recurrent": api_pb2.DATA_TYPE_BOOL, "env_kwargs.deadlock_end": api_pb2.DATA_TYPE_BOOL,
        "seed": api_pb2.DATA_TYPE_FLOAT64}
    assert {k: v.WhichOneof("kind") for k, v in group.hparams.items()} == {
        "recurrent": "bool_value", "env_kwargs.deadlock_end": "bool_value", "seed": "number_value"}
    assert (group.hparams["recurrent"].bool_value, group.hparams["env_kwargs.deadlock_end"].bool_value) == (
        False, True)


def test_a_setting_too_large_for_a_float_is_logged_as_its_text(tmp_path):
    # TensorBoard's hparams store numbers as floats: train_ppo --save-every with 400 digits trained, then
    # ended in an OverflowError traceback at its first log.
    from stable_baselines3.common.logger import configure

    from agents.train import hparams

    flat = hparams({"save_every": 10**400, "seed": 3, "ppo": {"gamma": 0.99, "policy_kwargs": [1]}})
    assert flat == {"save_every": str(10**400), "seed": 3, "ppo.gamma": 0.99, "ppo.policy_kwargs": "[1]"}
    logger = configure(str(tmp_path), ["tensorboard"])
    callback = MetricsCallback(flat)
    callback.init_callback(SimpleNamespace(num_timesteps=0, logger=logger, get_env=lambda: None))
    callback._on_training_start()
    logger.dump(0)
    logger.close()


def test_the_hparams_stay_out_of_a_logger_s_text_outputs(tmp_path, capsys):
    # SB3's stdout and log formats refuse an HParam: recorded for them too, it would stop a script's own
    # logger with text outputs (the trainer's writes TensorBoard alone) at its first dump.
    from stable_baselines3.common.logger import configure

    logger = configure(str(tmp_path), ["stdout", "log", "csv", "json", "tensorboard"])
    capsys.readouterr()  # "Logging to <tmp_path>", whose name holds "hparams"
    callback = MetricsCallback({"lr": 1e-4})
    callback.init_callback(SimpleNamespace(num_timesteps=0, logger=logger, get_env=lambda: None))
    callback._on_training_start()
    logger.record("time/sps", 100.0)
    logger.dump(0)
    logger.close()
    out, csv = capsys.readouterr().out, (tmp_path / "progress.csv").read_text()
    assert "sps" in out and "time/sps" in csv and "hparams" not in out + csv


class Filmed(agents.callbacks.VideoCallback):
    """A video callback that notes the steps it films at instead of playing an episode."""

    def __init__(self, every: int = 300) -> None:
        super().__init__("snake", {}, every=every)
        self.fired: list[int] = []

    def fire(self) -> None:
        self.fired.append(self.model.num_timesteps)


def test_a_video_long_overdue_comes_once_then_one_per_multiple():
    # A run whose last video was made at step 0 (a --video-every too large for it), resumed at 5000 with
    # --video-every 300: the overdue video comes after the first update, then one at the first rollout
    # boundary past each later multiple (5400, 5700, 6000, 6300, 6600), not one per rollout until the
    # schedule, counted up 300 at a time from 0, caught up with the step.
    callback = Filmed()
    callback.model = SimpleNamespace(num_timesteps=5000, **{Filmed.MADE: 0})
    callback._on_training_start()
    for step in range(5000, 7000, 256):
        callback.model.num_timesteps = step
        callback._on_rollout_start()
    assert callback.fired == [5256, 5512, 5768, 6024, 6536, 6792]


def test_the_last_video_comes_as_training_ends_once_its_multiple_is_reached():
    # No rollout starts after the last update: the video of a run that ends past a multiple of --video-every
    # is made as training ends (the README's "after the update on the rollout that reached its step").
    callback = Filmed(every=300)
    callback.model = SimpleNamespace(num_timesteps=0)
    callback._on_training_start()
    callback._on_rollout_start()
    callback.model.num_timesteps = 256
    callback._on_training_end()  # short of 300: no video
    assert callback.fired == []
    callback._on_training_start()  # a --resume from 256
    callback.model.num_timesteps = 512
    callback._on_training_end()
    callback._on_training_end()
    assert callback.fired == [512]


def test_a_checkpoint_is_saved_after_the_update_past_each_multiple_of_save_every(tmp_path):
    # README "The run folder": checkpoints/step_<N>.zip at each --save-every, and model.zip beside them.
    from agents.callbacks import CheckpointCallback
    from agents.runs import checkpoints

    callback = CheckpointCallback(tmp_path, every=300, keep=3)
    model = SimpleNamespace(num_timesteps=0, save=lambda f: f.write(str(model.num_timesteps).encode()))
    callback.model = model
    callback._on_training_start()
    for step in (0, 256, 512, 768, 1024):
        model.num_timesteps = step
        callback._on_rollout_start()
    assert [s for s, _ in checkpoints(tmp_path)] == [512, 768, 1024]
    assert (tmp_path / "model.zip").read_bytes() == b"1024"


def test_a_stop_signal_stops_training_at_the_next_env_step():
    # The stop point of a rollout (README "Stopping and resuming"): a Ctrl-C or SIGTERM during training is
    # taken at the next env step, not left until the rollout, or the run, is done.
    import signal

    from agents.callbacks import StopCallback
    from agents.interrupts import stop_at_safe_points, stop_signals_interrupt

    callback = StopCallback()
    with stop_signals_interrupt(), stop_at_safe_points():
        assert callback._on_step() is True  # no signal: training goes on
        signal.raise_signal(signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):
            callback._on_step()


def test_the_visit_heatmap_stays_out_of_a_logger_s_text_outputs(tmp_path, monkeypatch, capsys):
    # SB3's stdout and log formats refuse an image, as they do the hparams: recorded for them too, the
    # heatmap would stop a script's own logger with text outputs at its first dump.
    import numpy as np
    from stable_baselines3.common.logger import configure

    import envs
    from agents.callbacks import GameStatsCallback

    class Game:  # a Game Boy game with a heatmap and no milestones
        def visit_heatmap(self) -> np.ndarray:
            return np.zeros((1, 1))

    monkeypatch.setattr(envs, "game_class", lambda name: Game)
    venv = SimpleNamespace(_slices=[(0, 2)], get_attr=lambda name, indices=None: ["game"],
                           env_method=lambda name, indices=None: [np.ones((2, 3))])
    logger = configure(str(tmp_path), ["stdout", "log", "csv", "json", "tensorboard"])
    callback = GameStatsCallback(image_every=500, run=tmp_path)
    callback.init_callback(SimpleNamespace(num_timesteps=0, logger=logger, get_env=lambda: venv))
    callback._on_training_start()
    callback._on_rollout_end()
    logger.record("time/sps", 100.0)
    logger.dump(256)
    logger.close()
    assert "sps" in capsys.readouterr().out and "visit_heatmap" not in (tmp_path / "progress.csv").read_text()


def test_only_a_tensorboard_writer_thread_s_os_error_is_kept_from_the_previous_excepthook():
    # That one surfaces in the training thread as EventsNotWritten; any other thread's failure, an OSError
    # too, is still shown (by the hook that was there before).
    import queue
    import threading

    from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread

    shown: list[Any] = []
    hook = agents.callbacks._writer_thread_failed(shown.append)
    writer = _AsyncWriterThread(queue.Queue(), None, 120)  # not started: only its class is asked
    quiet = SimpleNamespace(thread=writer, exc_type=OSError)
    others = [SimpleNamespace(thread=writer, exc_type=ValueError),
              SimpleNamespace(thread=threading.Thread(), exc_type=OSError)]
    for args in [quiet, *others]:
        hook(args)
    assert shown == others
