"""Shared question and answer-format helpers for the task modules (``vlm/tasks/<game>.py``).

Every question carries its answer-format instruction, and every draft built here pairs the reference
answer with the verifier spec that accepts it (``vlm/verify.py`` documents the rules). Builders:

- ``choice_draft``: multiple choice, options lettered A, B, C…; the answer is the letter.
- ``integer_draft``, ``coordinate_draft``: one number / one ``(x, y)`` cell.
- ``word_draft``: one word out of a closed set (moves, yes/no); several words may be right.
- ``vision_zero_drafts``: Vision-Zero style image games from a state and minimally edited copies:
  "spot the difference", "where is the difference" and "who is the spy".

The analysis is a list of engine-computed steps joined by newlines; its last line states the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vlm.record import TaskDraft

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

THINK_ANSWER = ("Think step by step inside <think></think>, then give only your final answer inside "
                "<answer></answer>.")


def grid_text(size: int, wall_ring: bool = False) -> str:
    """How cells are named on an N×N board (the images carry no axis labels)."""
    ring = " (the outer ring of cells is wall)" if wall_ring else ""
    return (f"The board is {size}×{size} cells{ring}. A cell is (x, y): x counts columns from 0 at the left "
            f"to {size - 1} at the right, y counts rows from 0 at the top to {size - 1} at the bottom.")


def grid_image_scale(size: int) -> int:
    """Pixels per cell of a task image of an N×N board: about 384 pixels a side, 12..48 per cell."""
    return int(np.clip(384 // size, 12, 48))


def cell(xy: Sequence[int]) -> str:
    return f"({int(xy[0])}, {int(xy[1])})"


def letter(i: int) -> str:
    return LETTERS[i]


def options_text(options: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))


def level(value: float, bounds: tuple[float, float]) -> int:
    """GameQA-style level 1..3: 1 while ``value <= bounds[0]``, 2 while ``<= bounds[1]``, else 3."""
    return 1 if value <= bounds[0] else 2 if value <= bounds[1] else 3


def _finish(steps: Sequence[str], conclusion: str) -> str:
    return "\n".join([*steps, conclusion])


def _check_words(helper: str, name: str, words: Any, what: str) -> None:
    """A ValueError naming ``helper``'s argument ``name`` unless it is a list (or tuple) of str: a task module
    of another package builds drafts by hand, and a None read "'NoneType' object is not iterable"."""
    if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) for w in words):
        raise ValueError(f"{helper}'s {name} must be a list of {what}, got {words!r}")


def choice_draft(family: str, qa_type: str, plot_level: int, qa_level: int, images: list[np.ndarray],
                 context: str, stem: str, options: Sequence[str], correct: int, steps: Sequence[str],
                 extra: dict[str, Any] | None = None) -> TaskDraft:
    """A multiple-choice draft: ``options[correct]`` is right; the answer is its letter."""
    _check_words("choice_draft", "options", options, "option texts")
    if not 0 <= correct < len(options) or len(set(options)) != len(options):
        raise ValueError(f"need distinct options and a correct index in range, got {options}, {correct}")
    options = list(options)
    question = (f"{context}\n\n{stem}\n\nOptions:\n{options_text(options)}\n\n{THINK_ANSWER} Answer with the "
                "option's letter.")
    answer = LETTERS[correct]
    return TaskDraft(family, qa_type, plot_level, qa_level, images, question, answer,
                     _finish(steps, f"So the answer is {answer}: {options[correct]}."),
                     {"rule": "choice", "options": options, "answer": answer}, options, dict(extra or {}))


def integer_draft(family: str, qa_type: str, plot_level: int, qa_level: int, images: list[np.ndarray],
                  context: str, stem: str, value: int, steps: Sequence[str],
                  extra: dict[str, Any] | None = None, count: bool = True,
                  noun: str | None = None) -> TaskDraft:
    """One integer; ``count=False`` for an id (a map, a player's number), where "None" is no answer 0;
    ``noun``: the plural a count asks about ("apples"), so that "No apples, 3 walls" reads 0."""
    question = f"{context}\n\n{stem}\n\n{THINK_ANSWER} Answer with a single integer."
    spec: dict[str, Any] = {"rule": "integer", "value": int(value)}
    if not count:  # a count's spec stays as before: older exports read the same
        spec["count"] = False
    if noun:
        spec["noun"] = noun
    return TaskDraft(family, qa_type, plot_level, qa_level, images, question, str(int(value)),
                     _finish(steps, f"So the answer is {int(value)}."), spec, None, dict(extra or {}))


def coordinate_draft(family: str, qa_type: str, plot_level: int, qa_level: int, images: list[np.ndarray],
                     context: str, stem: str, xy: Sequence[int], steps: Sequence[str],
                     extra: dict[str, Any] | None = None) -> TaskDraft:
    question = f"{context}\n\n{stem}\n\n{THINK_ANSWER} Answer with the cell as (x, y)."
    value = [int(xy[0]), int(xy[1])]
    return TaskDraft(family, qa_type, plot_level, qa_level, images, question, cell(value),
                     _finish(steps, f"So the answer is {cell(value)}."),
                     {"rule": "coordinate", "value": value}, None, dict(extra or {}))


def word_draft(family: str, qa_type: str, plot_level: int, qa_level: int, images: list[np.ndarray],
               context: str, stem: str, choices: Sequence[str], accepted: Sequence[str], steps: Sequence[str],
               extra: dict[str, Any] | None = None, how: str = "") -> TaskDraft:
    """One word out of ``choices``; any of ``accepted`` is right (the answer names the first)."""
    _check_words("word_draft", "choices", choices,
                 "words (the answers it takes; a move question's: the game's ACTION_NAMES)")
    _check_words("word_draft", "accepted", accepted, "words (the right ones among its choices)")
    if not accepted or not set(accepted) <= set(choices):
        raise ValueError(f"accepted {list(accepted)} must be a non-empty subset of {list(choices)}")
    how = how or f"Answer with exactly one of: {', '.join(choices)}."
    question = f"{context}\n\n{stem}\n\n{THINK_ANSWER} {how}"
    right = " or ".join(accepted)
    return TaskDraft(family, qa_type, plot_level, qa_level, images, question, accepted[0],
                     _finish(steps, f"So the answer is {right}."),
                     {"rule": "word", "choices": list(choices), "accepted": list(accepted)}, None,
                     dict(extra or {}))


# ------------------------------------------------------------------------------------- Vision-Zero
SAME = "The two images are identical"
SAME_SHARE = 0.15  # spot-the-difference pairs that show the same picture twice


@dataclass
class Edit:
    """A minimal edit of a state, applied by a game module: what changed and where."""

    kind: str  # a key of the game's edit descriptions, e.g. "apple_moved"
    state: dict[str, Any]  # the edited copy (renderable)
    appeared: list[int] | None  # the cell where something is in the edited image and not the original
    steps: list[str]  # engine facts that explain the edit


#: A game module's edit maker for one state: draws an edit with the generator, or None when none fits.
MakeEdit = Callable[[np.random.Generator], Edit | None]


def redraw_cells(image: np.ndarray, edited_image: np.ndarray, before: dict[tuple[int, int], Any],
                 after: dict[tuple[int, int], Any], scale: int) -> np.ndarray:
    """An edit's picture that differs from the original ``image`` only in the cells whose content
    changed (``before``/``after`` map a cell to what stands on it): those cells' squares come from the
    whole redrawn ``edited_image``, every other cell is the original's. A picture redrawn as a whole can
    change other cells too (a snake's fade depends on its length), and "which cell differs" would then
    have several answers."""
    out = image.copy()
    for x, y in {c for c in before.keys() | after.keys() if before.get(c) != after.get(c)}:
        square = np.s_[y * scale:(y + 1) * scale, x * scale:(x + 1) * scale]
        out[square] = edited_image[square]
    return out


def vision_zero_drafts(rng: np.random.Generator, image: np.ndarray,
                       render: Callable[[dict[str, Any]], np.ndarray],
                       make_edit: MakeEdit, kinds: dict[str, str],
                       context: str, plot_level: int, where_text: str,
                       extra: dict[str, Any] | None = None) -> TaskDraft | None:
    """One Vision-Zero draft for a state whose picture is ``image``: a spot-the-difference pair, the cell
    of the difference, or a "who is the spy" game; None when the game module finds no valid edit.

    ``kinds`` maps edit kinds to the option text that describes them; ``make_edit`` draws an edit (or
    None); ``where_text`` says how to name a cell (e.g. the board's coordinate system).
    """
    edit = make_edit(rng)
    if edit is None:
        return None
    edited = render(edit.state)
    if edited.shape == image.shape and np.array_equal(edited, image):
        return None  # the edit is invisible at this size: not a fair question
    extra = {**(extra or {}), "edit": edit.kind, "edited_state": edit.state}
    game = int(rng.integers(3))
    if game == 2:
        players = int(rng.integers(3, 6))
        spy = int(rng.integers(players))
        images = [edited if p == spy else image for p in range(players)]
        steps = [*edit.steps, f"Player {spy + 1} holds the edited picture; the other {players - 1} players "
                              "hold the original."]
        return integer_draft(
            "vision_zero", "spy_game", plot_level, 2 if players == 3 else 3, images, context,
            f"Who is the spy? {players} players each hold one of the {players} images, in order (player 1 "
            "holds the first image). All players but one hold the same picture; the spy's picture differs "
            "in one small detail. Which player is the spy? Give the player's number.",
            spy + 1, steps, {**extra, "players": players, "spy": spy + 1}, count=False)
    pair = ["The first image is the original; the second is an edited copy.", *edit.steps]
    if game == 1 and edit.appeared is not None:
        return coordinate_draft(
            "vision_zero", "difference_cell", plot_level, 2, [image, edited], context,
            "The two images show the same position except for one small edit. In which cell does the second "
            f"image show something that the first image does not? {where_text}",
            edit.appeared, pair, extra)
    options = [*kinds.values(), SAME]
    shuffled = [options[k] for k in rng.permutation(len(options))]
    if rng.random() < SAME_SHARE:  # now and then nothing changed: "identical" must be earned too
        extra = {**extra, "edit": None, "edited_state": None}
        return choice_draft("vision_zero", "spot_difference", plot_level, 1, [image, image], context,
                            "Compare the first image with the second. What is different?", shuffled,
                            shuffled.index(SAME), ["Both images are the same picture, pixel for pixel."],
                            extra)
    return choice_draft("vision_zero", "spot_difference", plot_level, 1, [image, edited], context,
                        "Compare the first image with the second. What is different?",
                        shuffled, shuffled.index(kinds[edit.kind]), pair, extra)
