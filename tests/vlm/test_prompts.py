"""vlm/prompts.py's builders on their own: level bounds, image scale, the drafts' answers and checks, the
cells an edit redraws, and the Vision-Zero games' levels. tests/vlm/test_tasks.py checks them through
each game's task module."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from vlm.prompts import (
    SAME,
    Edit,
    choice_draft,
    coordinate_draft,
    grid_image_scale,
    grid_text,
    integer_draft,
    letter,
    level,
    options_text,
    redraw_cells,
    vision_zero_drafts,
    word_draft,
)
from vlm.verify import verify


def test_level_bounds_are_inclusive():
    assert [level(v, (3, 6)) for v in (0, 3, 4, 6, 7)] == [1, 1, 2, 2, 3]


def test_grid_image_scale_is_about_384_pixels_within_12_to_48_per_cell():
    assert [grid_image_scale(n) for n in (4, 8, 10, 32, 40)] == [48, 48, 38, 12, 12]


def test_choice_and_word_drafts_answer_and_refuse_what_cannot_be_verified():
    d = choice_draft("perception", "q", 1, 1, [], "Context.", "Which?", ["red", "green", "blue"], 1,
                     ["Look."])
    assert d.answer == "B" and "A. red\nB. green\nC. blue" in d.question
    assert d.analysis == "Look.\nSo the answer is B: green."
    unverifiable = r"^need distinct options and a correct index in range, got \['red', "
    with pytest.raises(ValueError, match=unverifiable + r"'red', 'blue'\], 2$"):
        choice_draft("perception", "q", 1, 1, [], "C", "S", ["red", "red", "blue"], 2, [])
    with pytest.raises(ValueError, match=unverifiable + r"'blue'\], 2$"):
        choice_draft("perception", "q", 1, 1, [], "C", "S", ["red", "blue"], 2, [])
    w = word_draft("strategy", "m", 1, 1, [], "C", "S", ["UP", "DOWN", "LEFT"], ["LEFT", "UP"], ["Step."])
    assert w.answer == "LEFT" and w.analysis.endswith("So the answer is LEFT or UP.")
    assert w.verifier == {"rule": "word", "choices": ["UP", "DOWN", "LEFT"], "accepted": ["LEFT", "UP"]}
    with pytest.raises(ValueError, match=r"^accepted \['RIGHT'\] must be a non-empty subset of "
                                         r"\['UP', 'DOWN'\]$"):
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


def _game(seed: int, edited_pixels: int = 255, appeared: tuple[int, int] | None = (0, 0),
          plot_level: int = 1) -> Any:
    image = np.zeros((4, 4, 3), np.uint8)

    def render(state: dict[str, Any]) -> np.ndarray:
        out = image.copy()
        out[0, 0] = state["v"]
        return out

    def make_edit(rng: np.random.Generator) -> Edit:
        return Edit("moved", {"v": edited_pixels}, appeared and list(appeared), ["It moved."])

    return vision_zero_drafts(np.random.default_rng(seed), image, render, make_edit, {"moved": "It moved"},
                              "Context.", plot_level, "Cells are (x, y).")


def test_vision_zero_skips_an_invisible_edit_and_levels_the_spy_game_by_players():
    """qa levels (the curriculum's stages are built on them): naming the edit 1, locating it 2, the spy game
    2 with three players, else 3; the plot level is the game module's."""
    assert _game(0, edited_pixels=0) is None  # the edited picture is the original: no fair question
    levels = set()
    for seed in range(60):
        d = _game(seed, plot_level=3)
        levels.add((d.qa_type, d.extra.get("players"), d.plot_level, d.qa_level))
    assert levels == {("spot_difference", None, 3, 1), ("difference_cell", None, 3, 2),
                      ("spy_game", 3, 3, 2), ("spy_game", 4, 3, 3), ("spy_game", 5, 3, 3)}


def test_grid_text_names_the_last_column_and_row_and_the_wall_ring():
    text = grid_text(7)
    assert "7×7 cells. " in text and "from 0 at the left to 6 at the right" in text
    assert "from 0 at the top to 6 at the bottom" in text and "wall" not in text
    assert "x counts columns from 0 at the left" in text and "y counts rows from 0 at the top" in text
    assert "7×7 cells (the outer ring of cells is wall). " in grid_text(7, wall_ring=True)


def test_each_draft_states_its_answer_format_and_verifies_its_own_answer():
    c = choice_draft("perception", "q", 1, 1, [], "C", "S", ["red", "green"], 0, [])
    assert c.question.endswith("</answer>. Answer with the option's letter.")
    assert c.verifier == {"rule": "choice", "options": ["red", "green"], "answer": "A"}
    assert c.options == ["red", "green"]
    with pytest.raises(ValueError, match=r"index in range, got \['red', 'green'\], -1$"):  # not options[-1]
        choice_draft("perception", "q", 1, 1, [], "C", "S", ["red", "green"], -1, [])
    n = integer_draft("perception", "n", 1, 1, [], "C", "How many?", 4, ["Count."])
    # The verifier reads only what is inside <answer></answer>: the prompt must say so.
    assert ("Think step by step inside <think></think>, then give only your final answer inside "
            "<answer></answer>.") in n.question
    assert n.question.endswith("</answer>. Answer with a single integer.") and n.answer == "4"
    assert n.verifier == {"rule": "integer", "value": 4} and n.analysis == "Count.\nSo the answer is 4."
    # An id (count=False) takes no "None" for 0; a count's noun reads "No apples, 3 walls" as 0: both ride
    # in the spec, so the verifier scores the same reply differently.
    none = "<think>.</think><answer>None</answer>"
    mixed = "<think>.</think><answer>No apples, 3 walls</answer>"
    count = integer_draft("perception", "n", 1, 1, [], "C", "How many?", 0, [])
    player = integer_draft("perception", "n", 1, 1, [], "C", "Which?", 0, [], count=False)
    apples = integer_draft("perception", "n", 1, 1, [], "C", "How many apples?", 0, [], noun="apples")
    assert player.verifier == {"rule": "integer", "value": 0, "count": False}
    assert apples.verifier == {"rule": "integer", "value": 0, "noun": "apples"}
    assert [verify(none, d.verifier)["accuracy"] for d in (count, player)] == [1.0, 0.0]
    assert [verify(mixed, d.verifier)["accuracy"] for d in (count, apples)] == [0.0, 1.0]
    xy = coordinate_draft("perception", "c", 1, 1, [], "C", "Where?", (3, 5), [])
    assert xy.question.endswith("</answer>. Answer with the cell as (x, y).")
    assert xy.answer == "(3, 5)" and xy.verifier == {"rule": "coordinate", "value": [3, 5]}
    w = word_draft("strategy", "m", 1, 1, [], "C", "S", ["yes", "no"], ["no"], [], how="Say yes or no.")
    assert w.question.endswith("</answer>. Say yes or no.") and "exactly one of" not in w.question
    assert word_draft("strategy", "m", 1, 1, [], "C", "S", ["yes", "no"], ["no"], []).question.endswith(
        "Answer with exactly one of: yes, no.")
    with pytest.raises(ValueError, match="non-empty subset"):
        word_draft("strategy", "m", 1, 1, [], "C", "S", ["yes", "no"], [], [])


def test_spot_the_difference_names_the_edit_and_now_and_then_shows_the_same_picture_twice():
    same = edited = 0
    for seed in range(120):
        d = _game(seed)
        if d.qa_type != "spot_difference":
            continue
        picked = d.options[ord(d.answer) - ord("A")]
        assert sorted(d.options) == sorted(["It moved", SAME])
        if np.array_equal(d.images[0], d.images[1]):
            same += 1
            assert picked == SAME and d.extra["edit"] is None and d.extra["edited_state"] is None
        else:
            edited += 1
            assert picked == "It moved" and d.extra["edit"] == "moved"
    assert same and edited > same  # SAME_SHARE: about one pair in seven shows no edit


def test_drafts_hold_plain_copies_of_what_they_are_given():
    """A draft's verifier is JSON with plain lists and ints (a task module passes tuples and numpy ints), and
    neither its extra nor the images given to redraw_cells are the caller's objects."""
    extra = {"seed": 1}
    c = choice_draft("perception", "q", 1, 1, [], "C", "S", ("red", "green"), 0, [], extra)
    assert c.verifier["options"] == ["red", "green"] == c.options and c.extra == extra
    assert c.extra is not extra
    n = integer_draft("perception", "n", 1, 1, [], "C", "S", np.int64(4), [])
    xy = coordinate_draft("perception", "c", 1, 1, [], "C", "S", np.array([3, 5]), [])
    assert json.loads(json.dumps([n.verifier, xy.verifier])) == [{"rule": "integer", "value": 4},
                                                                {"rule": "coordinate", "value": [3, 5]}]
    w = word_draft("strategy", "m", 1, 1, [], "C", "S", ("UP", "DOWN"), ("DOWN",), [], extra)
    assert w.verifier == {"rule": "word", "choices": ["UP", "DOWN"], "accepted": ["DOWN"]}
    drafts = [w, integer_draft("perception", "n", 1, 1, [], "C", "S", 4, [], extra),
              coordinate_draft("perception", "c", 1, 1, [], "C", "S", (3, 5), [], extra)]
    assert all(d.extra == extra and d.extra is not extra for d in drafts)
    image = np.zeros((2, 2, 3), np.uint8)
    redraw_cells(image, np.full_like(image, 9), {}, {(0, 0): "apple"}, 1)
    assert not image.any()


def test_each_vision_zero_game_shows_the_edit_where_its_answer_says():
    """The spy's number names the one edited picture; the difference cell's pair is original then edited,
    and an edit with no appeared cell never asks for one; the options' order is shuffled; the edited state
    travels in extra."""
    kinds, orders = set(), set()
    for seed in range(60):
        d = _game(seed)
        kinds.add(d.qa_type)
        if d.qa_type == "spy_game":
            edited = [i + 1 for i, im in enumerate(d.images) if im.any()]
            assert edited == [int(d.answer)] == [d.extra["spy"]]
            players = d.extra["players"]
            assert f"{players} players each hold one of the {players} images" in d.question
            assert (f"Player {d.extra['spy']} holds the edited picture; the other {players - 1} players hold "
                    "the original.") in d.analysis.splitlines()
        elif d.qa_type == "difference_cell":
            assert not d.images[0].any() and d.images[1].any() and d.answer == "(0, 0)"
        else:
            orders.add(tuple(d.options))
        if d.extra["edit"] is not None:
            assert d.extra["edited_state"] == {"v": 255}
    assert kinds == {"spy_game", "difference_cell", "spot_difference"} and len(orders) == 2
    assert all(_game(seed, appeared=None).qa_type != "difference_cell" for seed in range(30))


def test_letter_names_an_option_as_options_text_lists_it():
    """Task modules that letter their own options (vlm/tasks/rotation.py) answer with ``letter``."""
    options = ["90°", "180°", "270°"]
    listed = [line.split(". ")[0] for line in options_text(options).splitlines()]
    assert listed == [letter(i) for i in range(3)]
    assert letter(0) == "A" and letter(2) == "C"
