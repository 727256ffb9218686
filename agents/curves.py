"""Learning curves from a run's TensorBoard events, drawn as PNG (for the README and reports)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from agents.cli import not_utf8, safe_text
from agents.outputs import folders_made_for, not_written, written_beside
from agents.runs import given_a_file, run_hint


class FolderError(OSError):
    """The output file's folder cannot be made (the message names the folder, the caller the file)."""


class OutputError(OSError):
    """The output file could not be written (the message names the file, the caller its flag)."""


def read_scalars(run: Path, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, values, minutes of training up to each) of one scalar tag, in step order, each event
    file read once (a run's videos make them large). As TensorBoard shows them: the files in name order,
    and a session start (``SessionLog.START``, which ``--resume`` writes) drops the points logged at or
    past its step before it (a crashed run's, which the resumed run logs again); so does a point whose
    step is not past the tag's last one (the server's rule: a run resumed before ``--resume`` wrote
    session starts)."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader
    from tensorboard.compat.proto.event_pb2 import SessionLog
    from tensorboard.util.tensor_util import make_ndarray

    if not run.is_dir():
        if run.is_file():  # its model or a checkpoint: the run it belongs to is named
            raise ValueError(given_a_file(run))
        raise ValueError(f"{run}: no such run folder" if not run.exists() else
                         f"{run} is not a folder (give a run folder written by scripts/train_ppo.py)")
    tb = run / "tb"
    if not tb.is_dir():  # the run to give where it is plain: tb/ itself (as for --logdir), a folder of runs
        raise ValueError(f"{run}: no TensorBoard folder tb/"
                         f"{run_hint(run) or ' (give a run folder written by scripts/train_ppo.py)'}")
    points: list[tuple[int, float, float]] = []  # (step, value, wall time)
    spans = []
    scalars: set[str] = set()  # every scalar tag seen, named should --tag be none of them
    files = sorted(f for f in tb.iterdir() if "tfevents" in f.name and f.is_file())
    if not files:  # training writes one at its start: a run copied without them
        raise ValueError(f"{run}: tb/ holds no TensorBoard events file (events.out.tfevents.*): was the run "
                         "copied without it?")
    for file in files:
        times = []
        for event in _events(LegacyEventFileLoader, file):
            times.append(event.wall_time)
            if event.HasField("session_log") and event.session_log.status == SessionLog.START:
                points = [p for p in points if p[0] < event.step]
            for value in event.summary.value:
                simple = value.HasField("simple_value")
                if not (simple or value.metadata.plugin_data.plugin_name == "scalars"):  # or a tensor scalar
                    continue
                scalars.add(value.tag)
                if value.tag == tag:
                    if points and event.step <= points[-1][0]:  # points stay in strictly rising steps
                        points = [p for p in points if p[0] < event.step]
                    number = value.simple_value if simple else float(make_ndarray(value.tensor))
                    points.append((event.step, number, event.wall_time))
        if times:
            spans.append((min(times), max(times)))
    if not points:
        # Episode figures (SB3's ep_len_mean among them) come from the first rollout in which an episode
        # ended: a run of long episodes on few boards logs rollouts without them.
        early = (tag.startswith("rollout/") and tag != "rollout/video_score" and scalars
                 and "rollout/ep_len_mean" not in scalars)
        why = (" (no episode has ended in its logged rollouts yet: the episode figures come once one has; "
               "train it further)" if early else "")
        raise ValueError(f"{run}: no scalar {tag!r} in its TensorBoard events{why}; --tag takes one of: "
                         f"{', '.join(sorted(scalars)) or '(none logged yet)'}")
    steps = np.array([p[0] for p in points])
    values = np.array([p[1] for p in points])
    sessions = np.array(sorted(spans), dtype=np.float64).reshape(-1, 2)
    return steps, values, training_minutes(np.array([p[2] for p in points]), sessions)


def _events(loader: Any, file: Path) -> Iterator[Any]:
    """The events of ``file``. TensorBoard's reader takes a path as UTF-8 text only: a run folder whose name
    is not UTF-8 (a Latin-1 name, an ASCII locale's UTF-8) is read through a link named in ASCII."""
    if not not_utf8(str(file)):
        yield from loader(str(file)).Load()
        return
    with tempfile.TemporaryDirectory() as tmp:
        link = os.path.join(tmp, "events")
        os.symlink(os.path.abspath(file), link)
        yield from loader(link).Load()


def training_minutes(wall: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Minutes of training up to each wall time: the time between sessions (from a Ctrl-C to the
    --resume) is left out."""
    starts, ends = spans[:, 0], spans[:, 1]
    before = np.concatenate([[0.0], np.cumsum(ends - starts)[:-1]])  # training done in earlier sessions
    k = np.clip(np.searchsorted(starts, wall, side="right") - 1, 0, None)
    return (before[k] + wall - starts[k]) / 60


def pyplot() -> Any:
    """matplotlib's pyplot drawing to files; ``ValueError`` naming the install line when it is missing."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError('matplotlib is not installed: pip install -e ".[plot]" (or ".[vlm]")') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def image_formats() -> set[str]:
    """The file suffixes (without the dot) that matplotlib writes."""
    pyplot()  # matplotlib installed (else the install line), drawing with Agg
    from matplotlib.backend_bases import FigureCanvasBase

    return set(FigureCanvasBase.get_supported_filetypes())


def plot_curve(run: Path, out: Path, tag: str = "rollout/score_mean", title: str | None = None,
               baseline: float | None = None, last: bool = False, new: bool = False) -> Path:
    """Scalar ``tag`` (by default the score) against env steps and against wall-clock minutes, side by
    side (``last``: the command's last output; ``new``: written only where no file is, see
    ``outputs.written_together``)."""
    plt = pyplot()
    steps, values, minutes = read_scalars(run, tag)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    panels = ((axes[0], steps / 1e6, "env steps (millions)"), (axes[1], minutes, "wall clock (minutes)"))
    for ax, x, label in panels:
        # A line needs two points: a run's first one is drawn as a dot, or the panel stays empty.
        ax.plot(x, values, color="#2a9d8f", lw=1.8, label=tag.split("/")[-1],
                marker="o" if len(values) == 1 else None)
        if baseline is not None:
            ax.axhline(baseline, color="#888", ls="--", lw=1, label="random agent")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(tag)
    # "best": a falling curve (an episode length, a loss) starts at the upper left, where a pinned legend
    # hid it.
    axes[0].legend(loc="best")
    # A lone surrogate (a byte of a --title that is not UTF-8) is drawn as U+FFFD: matplotlib's font code
    # refused it with a TypeError traceback.
    fig.suptitle(safe_text(title or str(run)))
    fig.tight_layout()
    with folders_made_for(out.parent):
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a full disk, a read-only place
            plt.close(fig)
            raise FolderError(f"its folder {out.parent} cannot be made ({e.strerror or e}); choose another "
                              "place") from None
        try:
            with written_beside(out, last, new) as tmp:  # never half a PNG in place of a good one
                fig.savefig(tmp, dpi=110)
        except FileExistsError:  # new: checked before the drawing, by the caller
            raise OutputError(f"{out} appeared while the curve was drawn (another command wrote it); pass "
                              "--force to replace it, or choose another --out") from None
        except OSError as e:  # a full disk: say which file, not only the errno
            raise OutputError(not_written(out, e)) from None
        finally:
            plt.close(fig)
    return out
