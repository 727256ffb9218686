"""Training callbacks: progress bar, extra TensorBoard scalars and videos, periodic checkpoints."""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Image, Logger, TensorBoardOutputFormat
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
from tensorboard.summary.writer.event_file_writer import EventFileWriter, _AsyncWriterThread
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summaries
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from agents.cli import bar_size, decimals
from agents.evaluation import animated_gif, replay_frames, run_episodes
from agents.interrupts import stop_point
from agents.outputs import atomic_write_text, not_written, read_json_object
from agents.runs import MILESTONES_FILE, RunError, save_checkpoint

_NOT_TEXT = ("stdout", "log", "json", "csv")


def tensorboard_writers(logger: Logger) -> list[SummaryWriter]:
    """TensorBoard's writers among ``logger``'s outputs: for what SB3's ``record`` cannot write as wanted."""
    return [out.writer for out in logger.output_formats if isinstance(out, TensorBoardOutputFormat)]


class EventsNotWritten(RunError):
    """TensorBoard's events file could not be written (a full disk): training stops, saving what it can."""


def events_not_written(where: Path | str, e: OSError) -> EventsNotWritten:
    return EventsNotWritten(f"TensorBoard's events {where} could not be written ({e.strerror or e})")


class _GuardedEvents:
    """A TensorBoard writer's events file whose write the disk refuses (raised by its writer thread at the
    next write or flush, from inside SB3's ``learn``) is an ``EventsNotWritten`` naming the file, once: a
    run it stops writes nothing more there (its session end, the close), which would fail again."""

    def __init__(self, events: EventFileWriter) -> None:
        self._events = events
        self._failed = False

    def __getattr__(self, name: str) -> Any:  # get_logdir, reopen: as the writer's own
        return getattr(self._events, name)

    def _guarded(self, write: Any, *args: Any) -> None:
        if self._failed:
            return
        try:
            write(*args)
        except OSError as e:
            self._failed = True
            # The file's name is kept only privately: else its folder, tb/, is named.
            file = getattr(self._events, "_file_name", self._events.get_logdir())
            raise events_not_written(file, e) from None

    def add_event(self, event: Any) -> None:
        self._guarded(self._events.add_event, event)

    def flush(self) -> None:
        self._guarded(self._events.flush)

    def close(self) -> None:
        self._guarded(self._events.close)


def _writer_thread_failed(previous: Any) -> Any:
    def hook(args: Any) -> None:
        # A writer thread's OSError surfaces in the training thread as EventsNotWritten: no traceback too.
        if not (isinstance(args.thread, _AsyncWriterThread) and issubclass(args.exc_type, OSError)):
            previous(args)
    hook.quiets_event_writers = True  # type: ignore[attr-defined]
    return hook


def quiet_event_writer_threads() -> None:
    """A TensorBoard writer thread's ``OSError`` prints no traceback of its own: the training thread says it
    (``guard_events``, or the writer's start). Called before the first writer is made: its start writes and
    flushes the file's first event, whose refusal came with the thread's traceback too."""
    if not getattr(threading.excepthook, "quiets_event_writers", False):
        threading.excepthook = _writer_thread_failed(threading.excepthook)


def guard_events(logger: Logger) -> None:
    """``logger``'s TensorBoard writers raise ``EventsNotWritten`` where the disk refuses their events."""
    for writer in tensorboard_writers(logger):
        writer.file_writer.event_writer = _GuardedEvents(writer.file_writer.event_writer)
    quiet_event_writer_threads()


def _session_summaries(hparams: dict[str, Any]) -> tuple[Summary, Summary]:
    """TensorBoard's session start and end summaries of ``hparams``: torch's, with no experiment summary
    (see ``MetricsCallback``), and bools as bools (torch writes them as numbers, its bool branch coming after
    int's: ``recurrent: false`` showed as 0, with a range filter)."""
    _, start, end = hparams_summaries(hparams, {})
    value = start.value[0]
    data = HParamsPluginData.FromString(value.metadata.plugin_data.content)
    for key, v in hparams.items():
        if isinstance(v, bool):
            data.session_start_info.hparams[key].bool_value = v
    value.metadata.plugin_data.content = data.SerializeToString()
    return start, end


def _mean_key(model: Any, key: str) -> float:
    values = [ep[key] for ep in model.ep_info_buffer if key in ep]
    return float(np.mean(values)) if values else float("nan")


class ProgressCallback(BaseCallback):
    """A tqdm bar over env steps with SPS and the mean score of the last 100 episodes."""

    def __init__(self, total_timesteps: int) -> None:
        super().__init__()
        self.total = total_timesteps
        self.bar: tqdm | None = None
        self._logs_above = contextlib.ExitStack()  # log lines printed above the bar while it runs

    def _on_training_start(self) -> None:
        # PPO stops after a whole rollout (n_steps × n_envs), so the run ends on the next multiple.
        start, rollout = self.model.num_timesteps, self.model.n_steps * self.model.n_envs
        end = start + -(-(self.total - start) // rollout) * rollout
        self.bar = tqdm(total=end, initial=start, unit="step", unit_scale=True, mininterval=0.5,
                        smoothing=0.05, **bar_size())
        self.bar.set_postfix(score="-", refresh=False)  # from the start: no score field until a rollout ended
        # A warning logged meanwhile (envs.vector's worker restarts) was printed onto the bar's line.
        self._logs_above.enter_context(logging_redirect_tqdm())

    def _on_step(self) -> bool:
        assert self.bar is not None
        self.bar.update(self.model.num_timesteps - self.bar.n)
        return True

    def _on_rollout_end(self) -> None:
        assert self.bar is not None
        score = _mean_key(self.model, "score")  # nan until an episode has ended: "-" says so, "nan" puzzled
        self.bar.set_postfix(score="-" if np.isnan(score) else decimals(score, 2), refresh=False)

    def _on_training_end(self) -> None:
        self.close()

    def close(self) -> None:
        """End the bar's line (also on a stop, where SB3 calls no ``_on_training_end``)."""
        self._logs_above.close()
        if self.bar is not None:
            # The terminal's reader may have gone (`| tee log` ends with the same Ctrl-C): the stop must still
            # save its checkpoint. tqdm marks the bar closed before it writes, so nothing is left open.
            with contextlib.suppress(BrokenPipeError):
                self.bar.close()


class MetricsCallback(BaseCallback):
    """Score, SPS (wall clock, rollout + update), worker restarts, game extras; hparams once."""

    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self.hparams = hparams
        self._t = 0.0
        self._steps = 0

    def _on_training_start(self) -> None:
        self._t, self._steps = time.perf_counter(), self.model.num_timesteps
        # The run's settings without an experiment summary (SB3's HParam writes one): TensorBoard takes the
        # first run's experiment as the HPARAMS tab's columns for every run, so another game's settings (or a
        # --set only one run has) had none. Without it the columns are all runs' settings and scalars.
        start, end = _session_summaries(self.hparams)
        for writer in tensorboard_writers(self.logger):
            writer.file_writer.add_summary(start)
            writer.file_writer.add_summary(end)

    def _on_step(self) -> bool:
        return True

    # SB3 would write an update's losses at the next rollout's end (so the last update of every learn(),
    # a whole run of one rollout or each --resume chunk, never): written right after the update instead,
    # each lands once, at the step of the rollout it learned from.
    def _on_rollout_start(self) -> None:
        self._write_update()

    def _on_training_end(self) -> None:
        self._write_update()

    def _write_update(self) -> None:
        now = time.perf_counter()
        if self.model.num_timesteps > self._steps:  # a rollout (and its update) since the last call
            self.logger.record("time/sps", (self.model.num_timesteps - self._steps) / (now - self._t))
            self.logger.dump(self.model.num_timesteps)
        self._t, self._steps = now, self.model.num_timesteps

    def _on_rollout_end(self) -> None:
        # An episode cut by a worker's death is not in ep_info_buffer (the vector env reports no "episode"
        # for it); the restarts are counted in env/worker_restarts instead.
        keys = {k for ep in self.model.ep_info_buffer for k in ep} - {"r", "l", "t"}
        for key in sorted(keys):
            self.logger.record(f"rollout/{key}_mean", _mean_key(self.model, key))
        scores = [ep["score"] for ep in self.model.ep_info_buffer if "score" in ep]
        if scores:
            self.logger.record("rollout/score_max", float(np.max(scores)))
        restarts = getattr(self.training_env, "worker_restarts", None)
        if restarts is not None:
            self.logger.record("env/worker_restarts", restarts)


class StopCallback(BaseCallback):
    """Stops training at the next env step once a stop signal came: the rollout's stop point (see
    ``stop_at_safe_points``, around ``learn()``). ``ended``: learn() has run its last update and is ending
    (a failure from then on, in a later callback's end, leaves nothing to learn)."""

    ended = False

    def _on_step(self) -> bool:
        stop_point()
        return True

    def _on_training_end(self) -> None:
        self.ended = True


def next_multiple(step: int, every: int) -> int:
    """The first multiple of ``every`` past ``step``: a periodic event falls at the first rollout boundary at
    or past it (``step + every`` would round every gap up to whole rollouts, and restart on --resume)."""
    return (step // every + 1) * every


class PeriodicCallback(BaseCallback):
    """Calls ``fire()`` at the first rollout boundary at or past each multiple of ``every`` env steps, once
    the update on the rollout that reached it is done (as the next rollout starts). Fired at the rollout's
    end, before SB3's ``train()``, a checkpoint ``step_N.zip`` held weights that had learned nothing from
    the last rollout's steps, which a ``--resume`` from it then skipped."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every = every
        self._next = 0
        self._start = 0

    def _on_training_start(self) -> None:
        self._start = self.model.num_timesteps
        self._next = next_multiple(self._start, self.every)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        # Not the rollout that starts a learn(): no update since (a video due when a run was stopped comes
        # after the resumed run's first update, at a rollout boundary, as it would have come unstopped).
        if self.model.num_timesteps >= self._next and self.model.num_timesteps > self._start:
            self._next = next_multiple(self.model.num_timesteps, self.every)
            self.fire()

    def fire(self) -> None:
        raise NotImplementedError


class VideoCallback(PeriodicCallback):
    """Every ``every`` env steps, one deterministic episode of the current policy as a TB video: the step's
    checkpoint's policy, and the last video comes as training ends (no rollout starts after the last update).

    The multiple of ``every`` whose video was made last is kept on the model, so in its checkpoints: a run
    stopped past a multiple but before the update on that rollout (no video yet) makes that video once
    resumed, where counting from the checkpoint's step skipped it. (An older checkpoint without it counts
    from its step, as before.)"""

    MADE = "depthfirst_video_made"  # the model attribute, saved by SB3 with the model's other data

    def __init__(self, env: str, env_kwargs: dict[str, Any], every: int, max_steps: int = 1000,
                 seed: int = 12345, scale: int = 8) -> None:
        super().__init__(every)
        self.env, self.env_kwargs = env, env_kwargs
        self.max_steps, self.seed, self.scale = max_steps, seed, scale

    def _on_training_start(self) -> None:
        made = getattr(self.model, self.MADE, None)
        # A new run (step 0), a checkpoint saved before it was kept, or a learn() that reset the step count.
        if not isinstance(made, int) or made > self.model.num_timesteps:
            made = self.model.num_timesteps // self.every * self.every
            setattr(self.model, self.MADE, made)
        super()._on_training_start()
        self._next = next_multiple(made, self.every)  # past it, in this run's (perhaps new) every

    def _on_training_end(self) -> None:
        self._on_rollout_start()

    def fire(self) -> None:
        ep = run_episodes(self.model, self.env, self.env_kwargs, 1, seed=self.seed,
                          max_steps=self.max_steps)[0]
        frames = replay_frames(self.env, self.env_kwargs, ep.seed, ep.actions, scale=self.scale)
        gif = animated_gif(frames)
        height, width = frames.shape[1:3]
        video = Summary(value=[Summary.Value(tag="rollout/video", image=Summary.Image(
            height=height, width=width, colorspace=3, encoded_image_string=gif))])
        step = self.model.num_timesteps
        for writer in tensorboard_writers(self.logger):
            # At the video's step: the logger's next dump comes a rollout later.
            writer.file_writer.add_summary(video, step)
            writer.add_scalar("rollout/video_score", ep.score, step)
        setattr(self.model, self.MADE, self.model.num_timesteps // self.every * self.every)


class CheckpointCallback(PeriodicCallback):
    """Atomic checkpoint every ``every`` env steps (the trainer also saves at the end and on Ctrl-C)."""

    def __init__(self, run: Path, every: int, keep: int) -> None:
        super().__init__(every)
        self.run = run
        self.keep = keep

    def fire(self) -> None:
        save_checkpoint(self.model, self.run, self.keep)


class MilestonesNotWritten(RunError):
    """The run's milestones.json could not be written (a full disk): training stops, saving what it can."""


def read_milestones(file: Path) -> dict[str, float]:
    """A run's best ``game/*`` figures so far (``GameStatsCallback``); none when the file is missing or
    damaged (a run from before it was written starts its bests again, as it always did; a damaged one holds
    none to keep). One the system will not read (another user's, an I/O error) may hold them, and the first
    new best would write over it: ``RunError`` naming it, which ``--resume`` checks before it trains."""
    try:
        data = read_json_object(file) or {}
    except OSError as e:
        raise RunError(f"{file.parent}: {file} (the run's best game/* figures, which the resume continues "
                       f"from) cannot be read ({e.strerror or e}): make it readable to go on from them, or "
                       "delete it to start them again") from None
    return {str(k): float(v) for k, v in data.items() if _finite_number(v)}


def _finite_number(v: object) -> bool:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int no float holds (a hand-edited file): float(v) would raise too
        return False


class GameStatsCallback(BaseCallback):
    """Figures a game exposes beyond episode stats (Game Boy games): ``milestones()`` as ``game/<name>``
    every rollout, and ``visit_heatmap()`` (this session's visits) as an image every ``image_every`` steps.

    The milestones are bests over the whole run: the games keep them per process since it started, so a
    --resume or a restarted worker would start them again and the curves would drop. The run's bests are
    kept in ``<run>/milestones.json``, from which a --resume continues."""

    def __init__(self, image_every: int, run: Path) -> None:
        super().__init__()
        self.image_every = image_every
        self._next = 0
        self.file = run / MILESTONES_FILE
        self.best: dict[str, float] = {}

    def _on_training_start(self) -> None:
        venv = self.training_env
        self.boards = [lo for lo, _ in venv._slices]  # one board per worker: the methods are per process
        game = venv.get_attr("name", indices=[0])[0]
        from envs import game_class

        cls = game_class(game)
        self.has_milestones = hasattr(cls, "milestones")
        self.has_heatmap = hasattr(cls, "visit_heatmap")
        self._next = self.model.num_timesteps
        self.best = read_milestones(self.file) if self.has_milestones else {}

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        venv = self.training_env
        if self.has_milestones:
            per_worker = venv.env_method("milestones", indices=self.boards)
            before = dict(self.best)
            for key in sorted({k for m in per_worker for k in m} | set(self.best)):
                self.best[key] = max(self.best.get(key, 0.0), *(m.get(key, 0.0) for m in per_worker))
                self.logger.record(f"game/{key}", self.best[key])
            if self.best != before:  # written when a best moves, not every rollout
                try:  # a stop mid-write keeps the previous file
                    atomic_write_text(self.file, json.dumps(self.best, indent=1))
                except OSError as e:  # a full disk: train() tries a checkpoint and says what it saved
                    raise MilestonesNotWritten(not_written(self.file, e)) from None
        if self.has_heatmap and self.model.num_timesteps >= self._next:
            self._next = self.model.num_timesteps + self.image_every
            maps = venv.env_method("visit_heatmap", indices=self.boards)
            height = max(m.shape[0] for m in maps)
            padded = [np.pad(m, ((0, height - m.shape[0]), (0, 1))) for m in maps]
            image = torch.from_numpy(np.concatenate(padded, axis=1))
            self.logger.record("game/visit_heatmap", Image(image, "HW"), exclude=_NOT_TEXT)
