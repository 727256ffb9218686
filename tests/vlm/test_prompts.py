"""vlm/prompts.py's builders on their own: level bounds, image scale, the drafts' answers and checks, the
cells an edit redraws, and the Vision-Zero games' levels. tests/vlm/test_tasks.py checks them through
each game's task module."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vlm.prompts import (
    Edit,
    choice_draft,
    grid_image_scale,
    level,
    redraw_cells,
    vision_zero_drafts,
    word_draft,
)


def test_level_bounds_are_inclusive():
    assert [level(v, (3, 6)) for v in (0, 3, 4, 6, 7)] == [1, 1, 2, 2, 3]


def test_grid_image_scale_is_about_384_pixels_within_12_to_48_per_cell():
    assert [grid_image_scale(n) for n in (4, 8, 10, 32, 40)] == [48, 48, 38, 12, 12]


def test_choice_and_word_drafts_answer_and_refuse_what_cannot_be_verified():
    d = choice_draft("perception", "q", 1, 1, [], "Context.", "Which?", ["red", "green", "blue"], 1,
                     ["Look."])
    assert d.answer == "B" and "A. red\nB. green\nC. blue" in d.question
    assert d.analysis == "Look.\nSo the answer is B: green."
    with pytest.raises(ValueError, match="distinct options"):
        choice_draft("perception", "q", 1, 1, [], "C", "S", ["red", "red", "blue"], 2, [])
    with pytest.raises(ValueError, match="distinct options"):
        choice_draft("perception", "q", 1, 1, [], "C", "S", ["red", "blue"], 2, [])
    w = word_draft("strategy", "m", 1, 1, [], "C", "S", ["UP", "DOWN", "LEFT"], ["LEFT", "UP"], ["Step."])
    assert w.answer == "LEFT" and w.analysis.endswith("So the answer is LEFT or UP.")
    assert w.verifier == {"rule": "word", "choices": ["UP", "DOWN", "LEFT"], "accepted": ["LEFT", "UP"]}
    with pytest.raises(ValueError, match="subset"):
        word_draft("strategy", "m", 1, 1, [], "C", "S", ["UP", "DOWN"], ["RIGHT"], [])


def test_an_edit_redraws_only_the_cells_whose_content_changed():
    scale = 2
    image = np.zeros((2 * scale, 3 * scale, 3), np.uint8)
    edited = np.full_like(image, 200)  # redrawn as a whole: every cell differs (a snake's fade)
    before: dict[tuple[int, int], Any] = {(0, 0): "apple", (1, 0): "head"}
    after: dict[tuple[int, int], Any] = {(0, 0): "apple", (2, 0): "head"}
    out = redraw_cells(image, edited, before, after, scale)
    changed = {(x, y) for x in range(3) for y in range(2)
               if out[y * scale:(y + 1) * scale, x * scale:(x + 1) * scale].any()}
    assert changed == {(1, 0), (2, 0)}  # the apple's cell stays as it was


def _game(seed: int, edited_pixels: int = 255) -> Any:
    image = np.zeros((4, 4, 3), np.uint8)

    def render(state: dict[str, Any]) -> np.ndarray:
        out = image.copy()
        out[0, 0] = state["v"]
        return out

    def make_edit(rng: np.random.Generator) -> Edit:
        return Edit("moved", {"v": edited_pixels}, [0, 0], ["It moved."])

    return vision_zero_drafts(np.random.default_rng(seed), image, render, make_edit, {"moved": "It moved"},
                              "Context.", 1, "Cells are (x, y).")


def test_vision_zero_skips_an_invisible_edit_and_levels_the_spy_game_by_players():
    assert _game(0, edited_pixels=0) is None  # the edited picture is the original: no fair question
    levels = {}
    for seed in range(60):
        d = _game(seed)
        if d.qa_type == "spy_game":
            levels[d.extra["players"]] = d.qa_level
    assert levels == {3: 2, 4: 3, 5: 3}
