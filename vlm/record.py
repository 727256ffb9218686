"""The task record: one verifiable question about game images. Every trainer format is a pure mapping
of this record (``vlm/formats.py``); every answer and analysis is computed by the game engine.

Contract between the parts of ``vlm/``:
- A task module ``vlm/tasks/<game>.py`` (``<game>`` as in ``envs.GAMES``; for a game of another package, the
  module its entry point of group ``depthfirst.tasks`` names) defines
  ``GAME: str`` and ``make_tasks(state, rng, source) -> list[TaskDraft]`` (drafts for one game state, at
  most one of each family, of the families its optional ``FAMILIES`` names; ``rng`` a
  ``numpy.random.Generator`` seeded by the exporter, so exports are reproducible), and
  ``move_task(state) -> TaskDraft``: the "which move now?" question for the state (ViGaL best-move
  style for Snake), used by both the export and the VLM player, so both send the same prompt.
- The exporter turns drafts into ``TaskRecord``s: it writes the images (PNG, identical images once),
  assigns ids (``record_id``) and fills ``source``.
- ``vlm.verify.verify(response, record)`` scores a model response against a record using
  ``record.verifier`` (a JSON-able spec naming the rule and its data).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

import numpy as np

FAMILIES = ("perception", "state_prediction", "strategy", "vision_zero")
LEVELS = (1, 2, 3)  # GameQA's 3×3 scheme: plot_level (image complexity) × qa_level (question complexity)
ID_TAG_CHARS = 8  # hex digits of the content tag that ends a record id


def record_id(game: str, episode: int, step: int, draft: int, question: str, options: list[str] | None,
              images: list[str]) -> str:
    """``<game>-<episode:06d>-<step:05d>-<draft:02d>-<tag>``: where in the play the question was asked, then
    a digest of what a model is shown (the question, its options, the content-addressed image paths).

    The position alone repeats in every export of the same seeds (another checkpoint, --stochastic), so
    predictions made for one export matched the other's split id for id and were scored against other
    questions. With the tag, an id answers exactly one question: an identical re-export keeps its ids,
    and a record that asks the same thing in two exports (a start state) has the same id in both."""
    shown = json.dumps([game, question, options, images], ensure_ascii=False, separators=(",", ":"))
    tag = hashlib.sha1(shown.encode()).hexdigest()[:ID_TAG_CHARS]
    return f"{game}-{episode:06d}-{step:05d}-{draft:02d}-{tag}"


@dataclass
class TaskDraft:
    """A task before export: images are uint8 arrays (RGB, RGBA or gray), not yet files. The question,
    answer and analysis hold no ``<image>``: trainers read it as an image placeholder (the exporter
    refuses it)."""

    family: str  # one of FAMILIES
    qa_type: str  # e.g. "head_position", "best_move", "rotation_angle", "spot_difference"
    plot_level: int  # 1..3
    qa_level: int  # 1..3
    images: list[np.ndarray]
    question: str  # the full prompt text, including the answer-format instruction
    answer: str  # the reference answer, as a string a verifier accepts (e.g. "B", "UP", "(3, 4)", "90")
    analysis: str  # step-by-step reasoning computed by the engine
    verifier: dict[str, Any]  # {"rule": ..., ...}: see vlm/verify.py
    options: list[str] | None = None  # multiple-choice options, if any (answer is then a letter)
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-able, e.g. the state(s) asked about


@dataclass
class TaskRecord:
    id: str
    game: str
    family: str
    qa_type: str
    plot_level: int
    qa_level: int
    images: list[str]  # paths relative to the dataset root
    question: str
    options: list[str] | None
    answer: str
    analysis: str
    verifier: dict[str, Any]
    source: dict[str, Any]  # env, run, seed, episode, step, policy
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> TaskRecord:
        """The record ``d`` (a JSON object with ``to_dict``'s keys; ``extra`` may be left out), or a
        ``ValueError`` naming the keys missing or unknown: the constructor's TypeError said them in Python's
        words ("__init__() missing 1 required positional argument"). Checked only once the constructor
        refused it, so a good record (every line of a split) costs no more than the constructor."""
        try:
            return cls(**d)
        except TypeError:  # not a mapping, a key missing or unknown: said in our words below
            pass
        # Here, not at the top: vlm.tasks imports envs, which reading a record never needs.
        from vlm.tasks import listed

        if not isinstance(d, dict):
            kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
            raise ValueError(f"a JSON {kinds.get(type(d), 'null')}, not an object")
        names = [f.name for f in fields(cls)]
        needed = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [repr(k) for k in needed if k not in d]
        unknown = [repr(k) for k in d if k not in names]
        problems = []
        if missing:
            problems.append(f"no {listed(missing, 'or')}")
        if unknown:
            problems.append(f"unknown key{'s' if unknown[1:] else ''} {listed(unknown)}")
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**d)  # refused for another reason: its own TypeError
