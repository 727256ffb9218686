"""Learning curves from a run's TensorBoard events, drawn as PNG (for the README and reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents.runs import not_written, written_beside


class FolderError(OSError):
    """The output file's folder cannot be made (the message names the folder, the caller the file)."""


def read_scalars(run: Path, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, values, minutes since the run's first event) of one scalar tag, in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not (run / "tb").is_dir():
        raise ValueError(f"{run}: no TensorBoard folder tb/ (give a run folder written by "
                         "scripts/train_ppo.py)")
    ea = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0})
    ea.Reload()
    if tag not in ea.Tags()["scalars"]:
        raise ValueError(f"{run}: no scalar {tag!r} in its TensorBoard events")
    events = sorted(ea.Scalars(tag), key=lambda e: e.step)
    steps = np.array([e.step for e in events])
    values = np.array([e.value for e in events])
    return steps, values, training_minutes(np.array([e.wall_time for e in events]), sessions(run / "tb"))


def sessions(tb: Path) -> np.ndarray:
    """(start, end) wall times of each training session, oldest first: every start or --resume writes a
    new event file, its first event when training begins."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    spans = []
    for file in tb.glob("**/events.out.tfevents.*"):
        times = [event.wall_time for event in EventFileLoader(str(file)).Load()]
        if times:
            spans.append((min(times), max(times)))
    return np.array(sorted(spans), dtype=np.float64).reshape(-1, 2)


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


def plot_curve(run: Path, out: Path, tag: str = "rollout/score_mean", title: str | None = None,
               baseline: float | None = None, baseline_label: str = "random agent") -> Path:
    """Score against env steps and against wall-clock minutes, side by side."""
    plt = pyplot()
    steps, values, minutes = read_scalars(run, tag)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    panels = ((axes[0], steps / 1e6, "env steps (millions)"), (axes[1], minutes, "wall clock (minutes)"))
    for ax, x, label in panels:
        # A line needs two points: a run's first one is drawn as a dot, or the panel stays empty.
        ax.plot(x, values, color="#2a9d8f", lw=1.8, label=tag.split("/")[-1],
                marker="o" if len(values) == 1 else None)
        if baseline is not None:
            ax.axhline(baseline, color="#888", ls="--", lw=1, label=baseline_label)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(tag)
    axes[0].legend(loc="upper left")
    fig.suptitle(title or str(run))
    fig.tight_layout()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a full disk, a read-only place
        plt.close(fig)
        raise FolderError(f"its folder {out.parent} cannot be made ({e.strerror or e}); choose another "
                          "place") from None
    try:
        with written_beside(out) as tmp:  # a failed write never leaves half a PNG in place of a good one
            fig.savefig(tmp, dpi=110)
    except OSError as e:  # a full disk: say which file, not only the errno
        raise OSError(not_written(out, e)) from None
    finally:
        plt.close(fig)
    return out
