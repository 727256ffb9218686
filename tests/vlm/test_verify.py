"""Verifiers: every rule scores the reference answer 1 and a wrong one 0; adversarial replies earn no
accuracy in bounded time; parse_move; the ground-truth JSON round trip; the trainer reward adapters,
loaded by file path from outside the repository."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from vlm.record import TaskRecord
from vlm.verify import (
    _BARE_CHARS,
    FORMAT_WEIGHT,
    MAX_ANSWER_CHARS,
    MAX_RESPONSE_CHARS,
    ground_truth_json,
    load_ground_truth,
    names_no_move,
    parse_move,
    reference_response,
    spec_problem,
    verify,
)

ROOT = Path(__file__).resolve().parents[2]
REWARDS = ROOT / "vlm" / "rewards.py"

MOVES = ["UP", "DOWN", "LEFT", "RIGHT"]
SNAKE = {"rule": "snake_best_worst", "moves": MOVES, "good": ["UP", "LEFT"], "fatal": ["DOWN", "RIGHT"]}
CHOICE = {"rule": "choice", "options": ["3", "5", "7", "9"], "answer": "B"}
INTEGER = {"rule": "integer", "value": 5}
COORD = {"rule": "coordinate", "value": [3, 4]}
WORD = {"rule": "word", "choices": MOVES, "accepted": ["UP", "LEFT"]}
TURN = {"rule": "word", "choices": ["X+", "X-", "Y+", "Y-", "Z+", "Z-"], "accepted": ["X-"]}
# Sokoban's spot-the-difference options: two of them hold a capital standing alone ("A box").
ARTICLES = {"rule": "choice", "answer": "B",
            "options": ["The player is in a different place", "A box is in a different place",
                        "The two images are identical", "A target is in a different place"]}
ANGLE_FREE = {"rule": "rotation_angle", "axis": "Z", "angle": 270, "axis_given": False, "options": None,
              "answer": None}
ANGLE_OPTS = {"rule": "rotation_angle", "axis": "Y", "angle": 90, "axis_given": True,
              "options": ["90°", "180°", "270°"], "answer": "A"}

# Rotation's axis-and-angle question: nine options, A to I, so the pronoun I could read as option I.
NINE = [f"{a}° about {x}" for x in "XYZ" for a in (90, 180, 270)]
NINE_B = {"rule": "rotation_angle", "axis": "X", "angle": 180, "axis_given": False, "options": NINE,
          "answer": "B"}
NINE_I = {**NINE_B, "axis": "Z", "angle": 270, "answer": "I"}


def record(spec: dict, answer: str = "", analysis: str = "Reasoning.") -> TaskRecord:
    return TaskRecord(id="t", game="snake", family="strategy", qa_type="q", plot_level=1, qa_level=1,
                      images=[], question="?", options=spec.get("options"), answer=answer, analysis=analysis,
                      verifier=spec, source={})


def wrap(answer: str) -> str:
    return f"<think>I looked carefully.</think>\n<answer>{answer}</answer>"


def snake_reply(best: str, worst: str) -> str:
    return (f"<think>Checked every move.</think><best_answer>{best}</best_answer>"
            f"<worst_answer>{worst}</worst_answer>")


# Snake's best/worst question where DOWN alone is fatal (a worst answer must name DOWN); verify only reads it.
DOWN_FATAL = record({**SNAKE, "good": ["UP", "LEFT", "RIGHT"], "fatal": ["DOWN"]})


@pytest.mark.parametrize("spec, right, wrong", [
    (CHOICE, ["B", "(B)", "B.", "Option B", "B. 5", "5", "b", "B, not E", "B, not (e)"],  # E: no option
     ["A", "C", "B or C", "A, B, C, D", "9", ""]),
    (ARTICLES, ["B", "B. A box is in a different place", "(B) A box is in a different place.",
                "b) a box is in a different place", "A box is in a different place"],
     ["A", "D", "C. A box is in a different place", "B. A target is in a different place", "A. B", "A, B"]),
    (INTEGER, ["5", "five", "\\boxed{5}", "5 boxes", " 5 "], ["4", "5 or 6", "(5, 6)", "", "fifty"]),
    (COORD, ["(3, 4)", "[3,4]", "x=3, y=4", "3 4", '{"x":3,"y":4}'],  # braces without \boxed
     ["(4, 3)", "(3, 4) or (4, 5)", "(4, 5) or (3, 4)", "3", "(3, 4, 5)"]),
    (WORD, ["UP", "up", "Left", "**LEFT**", "I move UP."], ["DOWN", "UP or LEFT", "UP, DOWN", "none", ""]),
    (TURN, ["X-", "x-", "Turn X- now", "X\u2212", "X\u2013"], ["X+", "X- or Y+", "X", "-", "X\u2212 or Y+"]),
    (ANGLE_FREE, ["270 about Z", "Z, 270°", "-90 degrees about the z axis", "270° around Z",
                  "\u221290° about Z", "270° about the Z-axis", "270 about Z+",
                  # a signed axis, as the prompts name turns: 90° about Z− is −90° about Z
                  "90° about Z\u2212", "90 about Z-", "Z-, 90°"],
     ["90 about Z", "270 about X", "270", "270 about Z or X", "270 or 90 about Z", "270 about Z-",
      "Z\u2212 270°", "90 about Z- or Z+", "270 about Z+ or Z-"]),
    (ANGLE_OPTS, ["A", "90", "90° about Y", "450", "270 about Y-"],
     ["B", "90 about Z", "90 or 180", "C", "\u221290°", "90° about Y\u2212"]),
    (NINE_B, ["B", "I think it's B", "I'd say B.", "I\u2019m fairly sure it is B", "B, I think",
              "I believe the answer is (B)"],
     ["I", "Option I", "I think it's I", "Option I is right, not B", "I think B or C", "I, not B", "B or I"]),
    (NINE_I, ["I", "(I)", "Option I", "option I", "I.", "I)", "I think it's I", "I think the answer is I",
              "I choose I", "I is correct", "(I) I think"],
     ["I think it's B", "I'd say B", "B", "Option B", "I think so", "I don't know", "I\u2019m not sure"]),
])
def test_rules_accept_right_and_reject_wrong(spec: dict, right: list[str], wrong: list[str]) -> None:
    for answer in right:
        scores = verify(wrap(answer), record(spec))
        assert scores == {"overall": 1.0, "format": 1.0, "accuracy": 1.0}, (answer, scores)
    for answer in wrong:
        scores = verify(wrap(answer), record(spec))
        assert scores["accuracy"] == 0.0, (answer, scores)
        assert scores["overall"] == pytest.approx(FORMAT_WEIGHT)


def test_a_lowercase_option_letter_counts_where_only_a_letter_can_stand() -> None:
    # "option b" scored 0: only capitals were read. The article in "a box" must still name no option A.
    for spec in (CHOICE, ARTICLES):
        for answer in ("option b", "Option b is correct", "(b)", "I pick (b)", "answer: b", "the answer is b",
                       "choice [b].", "I think it's option b", "option b: a box is in a different place"):
            assert verify(wrap(answer), record(spec))["accuracy"] == 1.0, (spec["options"], answer)
        for answer in ("option b, not option c", "option b or (c)", "answer: a", "option e"):
            assert verify(wrap(answer), record(spec))["accuracy"] == 0.0, (spec["options"], answer)
    for answer in ("my choice: a box is in a different place", "the answer is a box",
                   "answer: a box is in a different place", "a box is in a different place, b"):
        assert verify(wrap(answer), record(ARTICLES))["accuracy"] == 0.0, answer
    assert verify(wrap("option i"), record(NINE_I))["accuracy"] == 1.0
    assert verify(wrap("answer: b"), record(NINE_B))["accuracy"] == 1.0
    # A bracket after a word is an argument or an index: "f(i)" named option I beside the B (no answer).
    assert verify(wrap("B, as f(i) grows"), record(NINE_B))["accuracy"] == 1.0


def test_an_option_letter_with_option_text_counts_only_when_they_agree() -> None:
    # The letter then its own option's text counted only as "B. text" or "(B) text": "Option B: A box is in a
    # different place" also read the capital opening "A box" as option A, so the right answer scored 0.
    for answer in ("Option B: A box is in a different place", "B - A box is in a different place",
                   "**B.** A box is in a different place", "The answer is B. A box is in a different place",
                   "[B] A box is in a different place", "So the answer is B: A box is in a different place.",
                   "B \u2014 A box is in a different place",
                   "The correct answer is B: A box is in a different place",
                   "My final answer is (B) a box is in a different place",
                   "Choice B: A box is in a different place",
                   "The answer is: B. A box is in a different place",
                   "B. A box is in a\ndifferent place"):  # the text broken over lines is still its text
        assert verify(wrap(answer), record(ARTICLES))["accuracy"] == 1.0, answer
    # A letter with another option's text contradicts itself: it scored as the letter wherever that text held
    # no capital standing alone ("B. 7", "B. The player is in a different place").
    for spec, answer in ((CHOICE, "B. 7"), (CHOICE, "Option B: 3"),
                         (ARTICLES, "B. The player is in a different place"),
                         (ARTICLES, "B: the two images are identical"),
                         (CHOICE, "E. 5")):  # no option E: neither E nor B, and no IndexError
        assert verify(wrap(answer), record(spec))["accuracy"] == 0.0, answer
    assert verify(wrap("B. 5 boxes"), record(CHOICE))["accuracy"] == 1.0  # no option's text: the letter


def test_a_rotation_option_letter_with_option_text_counts_only_when_they_agree() -> None:
    # The angle in the text alone was scored: "C. 180° about X" (option C is 270° about X) and "C. 90°"
    # (option C is 270°) earned full accuracy, though the choice rule scores a letter before another
    # option's text 0. Found by answering exported Rotation tasks with an independent oracle.
    for spec, wrong in ((NINE_B, "C. 180° about X"), (NINE_B, "Option A: 180° about X"),
                        (NINE_B, "(H) 180° about X"), (ANGLE_OPTS, "C. 90°"), (ANGLE_OPTS, "B: 90°")):
        assert verify(wrap(wrong), record(spec))["accuracy"] == 0.0, wrong
    for spec, right in ((NINE_B, "B. 180° about X"), (NINE_B, "Option B: 180° about X"),
                        (NINE_B, "180 about X"), (NINE_B, "180° about X"), (ANGLE_OPTS, "A. 90°"),
                        (ANGLE_OPTS, "90")):
        assert verify(wrap(right), record(spec))["accuracy"] == 1.0, right


def test_an_axis_named_with_a_hyphen_is_no_signed_turn() -> None:
    # "X-axis" read as the turn X-: a reply naming only an axis scored as the X- turn, and parse_move played
    # it, though the rotation_angle rule already keeps "Z-axis" unsigned.
    for reply in ("X-axis", "the X-axis", "about the x-axis", "X+Y", "X-90"):  # a digit goes on, too
        assert verify(wrap(reply), record(TURN))["accuracy"] == 0.0, reply
        assert parse_move(wrap(reply), record(TURN)) is None, reply
    for reply in ("X-", "X- about the x-axis", "X-, then done", "(X-)"):
        assert verify(wrap(reply), record(TURN))["accuracy"] == 1.0, reply


def test_an_axis_signed_before_its_letter_turns_the_angle_as_one_signed_after() -> None:
    # The prompts write axes "+x", "+y", "+z": 90 about -Z (the negative axis) is -90 about Z, as 90 about Z-
    # is. The sign before the letter was not read: "90 about -Z" scored as 90 about Z, "270 about -Z" as 0.
    for right in ("90 about -Z", "90° about the -z axis", "-90 about +Z", "90 about \u2212Z",
                  "-270 about -Z", "90 about Z -"):  # a space between the axis and its sign, too
        assert verify(wrap(right), record(ANGLE_FREE))["accuracy"] == 1.0, right
    for wrong in ("270 about -Z", "90 about +Z", "90 about -Z or +Z", "270 about Z, not -Z"):
        assert verify(wrap(wrong), record(ANGLE_FREE))["accuracy"] == 0.0, wrong
    # A minus after a word or a number is no sign: "270-Z" keeps the angle.
    assert verify(wrap("270-Z"), record(ANGLE_FREE))["accuracy"] == 1.0


def test_every_rule_s_spec_passes_the_check_that_readers_run() -> None:
    for spec in (SNAKE, CHOICE, INTEGER, COORD, WORD, TURN, ANGLE_FREE, ANGLE_OPTS,
                 {"rule": "exact", "answer": "x"}):
        assert spec_problem(spec) is None, spec
    problem = spec_problem({"rule": "word", "choices": MOVES})
    assert problem == "verifier rule 'word' needs 'accepted' (a list of words)"
    # A key present but of the wrong kind is refused too, by name.
    assert spec_problem({"rule": "integer", "value": True}) == ("verifier rule 'integer': 'value' must be an "
                                                                "integer, got true")
    assert "a pair of integers" in spec_problem({"rule": "coordinate", "value": [3, 4, 5]})
    assert "an option letter" in spec_problem({**CHOICE, "answer": 1})
    # A fraction or an infinity (JSON's Infinity) is no integer: int() truncated 5.5 to 5, so "5" scored
    # right, and raised OverflowError on infinity instead of naming the key.
    assert spec_problem({"rule": "integer", "value": 5.0}) is None
    for bad in (5.5, float("inf"), float("nan"), "five", None, [5]):  # int() refuses the last three
        assert "'value' must be an integer" in spec_problem({"rule": "integer", "value": bad}), bad
        assert "a pair of integers" in spec_problem({"rule": "coordinate", "value": [3, bad]}), bad
    assert "an angle in degrees" in spec_problem({**ANGLE_FREE, "angle": 90.5})


@pytest.mark.parametrize("spec, key, reply", [
    ({**CHOICE, "options": [3, 5, 7, 9]}, "options", wrap("B")),  # an AttributeError (.strip)
    ({**WORD, "choices": ["UP", ""]}, "choices", wrap("UP")),  # an IndexError (a sign after no letter)
    ({**WORD, "choices": [1, 2]}, "choices", wrap("UP")),
    ({**SNAKE, "fatal": [["DOWN"]]}, "fatal", snake_reply("UP", "DOWN")),  # a TypeError (unhashable)
    ({**SNAKE, "moves": [None, "UP"]}, "moves", snake_reply("UP", "DOWN")),
    ({**ANGLE_OPTS, "options": 5}, "options", wrap("A")),  # optional, but a TypeError when no list
    ({**ANGLE_OPTS, "options": [90, 180]}, "options", wrap("A")),
])
def test_a_spec_whose_lists_hold_no_text_is_refused_by_the_readers_check(spec: dict, key: str,
                                                                         reply: str) -> None:
    # spec_problem passed them and verify raised a bare TypeError, AttributeError or IndexError while it
    # scored a reply: the reward adapters, which score a ValueError's malformed record 0, passed it on.
    problem = spec_problem(spec)
    assert problem is not None and f"'{key}' must be" in problem, problem
    with pytest.raises(ValueError, match=f"verifier rule '{spec['rule']}': '{key}' must be"):
        verify(reply, record(spec))


def test_vigal_snake_rule() -> None:
    spec = record(SNAKE)
    assert verify(snake_reply("UP", "DOWN, RIGHT"), spec)["overall"] == 1.0
    assert verify(snake_reply("left", "RIGHT and DOWN"), spec)["accuracy"] == 1.0  # order, case, words
    assert verify(snake_reply("RIGHT", "DOWN, RIGHT"), spec)["accuracy"] == 0.0  # best is fatal
    assert verify(snake_reply("UP", "DOWN"), spec)["accuracy"] == 0.0  # fatal set incomplete
    assert verify(snake_reply("UP", "UP, DOWN, LEFT, RIGHT"), spec)["accuracy"] == 0.0  # every move listed
    assert verify(snake_reply("UP, LEFT", "DOWN, RIGHT"), spec)["accuracy"] == 0.0  # two best moves
    assert verify(snake_reply("UP", "None"), spec)["accuracy"] == 0.0
    assert verify(snake_reply("UP", "None, DOWN, RIGHT"), spec)["accuracy"] == 0.0
    # Only one tag: no credit, and the answer tags must both be there, for the format too.
    assert verify("<think>x</think><best_answer>UP</best_answer>", spec) == {"overall": 0.0, "format": 0.0,
                                                                            "accuracy": 0.0}
    # One <answer> wrapping both tags still counts; a second <answer> beside it is a second answer.
    tags = "<best_answer>UP</best_answer><worst_answer>DOWN, RIGHT</worst_answer>"
    assert verify(f"<think>x</think><answer>{tags}</answer>", spec)["accuracy"] == 1.0
    assert verify(f"<think>x</think><answer>zzz</answer><answer>{tags}</answer>", spec)["accuracy"] == 0.0
    safe = record({**SNAKE, "fatal": []})
    assert verify(snake_reply("UP", "None"), safe)["accuracy"] == 1.0
    assert verify(snake_reply("UP", ""), safe)["accuracy"] == 1.0
    assert verify(snake_reply("UP", "No fatal move"), safe)["accuracy"] == 1.0
    for wrong in ("I don't know", "N/A", "unclear", "No idea"):  # names no move, does not say none
        assert verify(snake_reply("UP", wrong), safe)["accuracy"] == 0.0, wrong
    assert verify(snake_reply("UP", "DOWN (no way out), RIGHT"), spec)["accuracy"] == 1.0
    trapped = record({**SNAKE, "good": [], "fatal": MOVES})
    assert verify(snake_reply("None", "UP, DOWN, LEFT, RIGHT"), trapped)["accuracy"] == 1.0
    assert verify(snake_reply("UP", "UP, DOWN, LEFT, RIGHT"), trapped)["accuracy"] == 0.0
    # "None" with a reason, as a move or the fatal "None" may carry one ("UP (safe)", "None (all safe)")
    for right in ("None (every move is fatal)", "None.", "**None**"):
        assert verify(snake_reply(right, "UP, DOWN, LEFT, RIGHT"), trapped)["accuracy"] == 1.0, right
    for wrong in ("N/A", "I don't know", "None, UP", "None or UP"):
        assert verify(snake_reply(wrong, "UP, DOWN, LEFT, RIGHT"), trapped)["accuracy"] == 0.0, wrong
    # An essay in <best_answer> is no answer; nor is a second <best_answer> hidden in the reasoning.
    assert verify(snake_reply("UP " + "because " * 80, "DOWN, RIGHT"), spec)["accuracy"] == 0.0
    hidden = "<think><best_answer>DOWN</best_answer></think>" + snake_reply("UP", "DOWN, RIGHT")[29:]
    assert hidden.count("<best_answer>") == 2 and verify(hidden, spec)["accuracy"] == 0.0


def test_format_is_scored_apart_from_accuracy() -> None:
    spec = record(INTEGER)
    assert verify("5", spec) == {"overall": 1.0 - FORMAT_WEIGHT, "format": 0.0, "accuracy": 1.0}
    assert verify("<answer>5</answer>", spec)["format"] == 0.0  # no reasoning
    assert verify("<think></think><answer>5</answer>", spec)["format"] == 0.0  # empty reasoning
    assert verify("Let me see.</think><answer>5</answer>", spec)["format"] == 1.0  # template opened <think>
    assert verify("hi <think>a</think><answer>5</answer>", spec)["format"] == 0.0  # text before <think>
    assert verify("<think>a</think>\n\n<answer>5</answer>\n", spec)["overall"] == 1.0
    assert verify("<think>a</think><answer>\\boxed{5}</answer>", spec)["overall"] == 1.0
    assert verify("<think>a</think> so \\boxed{5}", spec) == {"overall": 0.9, "format": 0.0, "accuracy": 1.0}
    # The box holds everything up to its balanced closing brace, inner braces included.
    assert verify("<think>a</think> so \\boxed{\\mathbf{5}}", spec)["accuracy"] == 1.0
    assert verify("<think>a</think> so \\boxed{{5} or {6}}", spec)["accuracy"] == 0.0  # two numbers
    assert verify("< think >a</ think >< answer > 5 </answer >", spec)["overall"] == 1.0  # spaced tags
    assert verify("<think>a<think>b</think><answer>5</answer>", spec)["format"] == 0.0  # opened twice
    for twice_closed in ("<think>a</think>b</think><answer>5</answer>",
                         "a</think>b</think><answer>5</answer>"):
        assert verify(twice_closed, spec)["format"] == 0.0, twice_closed  # not one <think>…</think>


ADVERSARIAL = [
    "",
    "   ",
    "<think>The answer is 5.</think>",  # answer only inside the reasoning
    "<think><answer>5</answer></think>",
    "<think>a</think><answer>5</answer><answer>5</answer>",  # several answer tags
    "<think><answer>4</answer></think><answer>5</answer>",  # one hidden, one shown
    "<think>a <answer>4</think><answer>5</answer>",  # one opened in the reasoning, never closed
    "<think>a</think><answer>5",  # never closed
    "<think>a</think></answer>5<answer>",
    "<think>unclosed reasoning <answer>5</answer>",
    "<think>a</think><answer>" + "5 " * 300 + "</answer>",  # an essay of answers
    "<think>a</think>\\boxed{5} \\boxed{5}",
    "0 1 2 3 4 5 6 7 8 9 10",  # every number
    "<think>a</think><answer>5</answer> or not</think>",  # answers are read after the last </think>
    "<best_answer>5</best_answer>",  # another question's tags: no <answer>, and no tag-free bare reply
    "Looking at the picture carefully, I count the boxes and get 5 in all.",  # no bare reply: too long
    "<think>" + "x" * 1_000_000 + "</think><answer>5</answer>",  # 1 MB
]


@pytest.mark.parametrize("reply", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_replies_earn_no_accuracy(reply: str) -> None:
    assert verify(reply, record(INTEGER))["accuracy"] == 0.0


def test_non_text_input_never_raises() -> None:
    spec = record(INTEGER)
    for reply in (None, 5, b"\xff\xfe<answer>5</answer>", "\udcff<think>a</think><answer>5</answer>",
                  bytearray(b"\x80\x81"), ["<answer>5</answer>"], {"answer": 5}):
        assert verify(reply, spec) == {"overall": 0.0, "format": 0.0, "accuracy": 0.0}
    assert verify(b"<think>a</think><answer>5</answer>", spec)["overall"] == 1.0  # UTF-8 bytes are text
    assert verify("<think>a</think><answer>5</answer>".encode("utf-16"), spec)["accuracy"] == 0.0


PATHOLOGICAL = [
    "<" + " " * 200_000,  # whitespace after an opening bracket (catastrophic with unbounded \s*)
    "< " * 50_000,
    "<answer>" * 12_000,
    "\\boxed{" * 14_000,
    "{" * 99_000 + "\\boxed{",
    "<think>" + "</think>" * 12_000,
    "UP " * 33_000,
    "(" + "1, " * 33_000 + ")",
]


@pytest.mark.parametrize("reply", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_replies_take_bounded_time(reply: str) -> None:
    for spec in (INTEGER, COORD, CHOICE, WORD, ANGLE_FREE, SNAKE):
        start = time.perf_counter()
        scores = verify(reply, record(spec))
        assert time.perf_counter() - start < 0.5
        assert scores["accuracy"] == 0.0
        parse_move(reply, record(WORD))


def test_parse_move() -> None:
    assert parse_move(snake_reply("left", "DOWN"), record(SNAKE)) == "LEFT"  # any legal move, best or not
    assert parse_move(snake_reply("DOWN", "DOWN"), record(SNAKE)) == "DOWN"
    assert parse_move("<answer>RIGHT</answer>", record(SNAKE)) == "RIGHT"  # without ViGaL's tags
    assert parse_move("up", record(SNAKE)) == "UP"
    assert parse_move(snake_reply("UP or LEFT", "None"), record(SNAKE)) is None
    assert parse_move("<think>UP</think>", record(SNAKE)) is None
    assert parse_move(wrap("z-"), record(TURN)) == "Z-"
    assert parse_move(wrap("Y\u2212"), record(TURN)) == "Y-"  # the minus sign Rotation's prompt writes
    assert parse_move(wrap("press start"), record({"rule": "word", "choices": ["up", "a", "start"],
                                                   "accepted": ["up", "a", "start"]})) == "start"
    # One <answer> wrapping both of ViGaL's tags (verify accepts it): the move is the best_answer's.
    both = "<best_answer>UP</best_answer><worst_answer>DOWN, RIGHT</worst_answer>"
    assert parse_move(f"<think>x</think><answer>{both}</answer>", record(SNAKE)) == "UP"
    # A broken <best_answer> is no move, even beside an <answer>; nor is an essay naming one.
    assert parse_move("UP</best_answer><answer>DOWN</answer>", record(SNAKE)) is None
    assert parse_move(wrap("UP " + "because " * 80), record(WORD)) is None
    assert parse_move(snake_reply("UP " + "because " * 80, "DOWN"), record(SNAKE)) is None
    assert parse_move(b"\xff", record(WORD)) is None
    assert parse_move(None, record(WORD)) is None
    with pytest.raises(ValueError, match="move question"):
        parse_move("5", record(INTEGER))


BUTTONS = ["up", "down", "left", "right", "a", "b", "start"]  # Pokémon's next_button question
NEXT_BUTTON = {"rule": "word", "choices": BUTTONS, "accepted": BUTTONS}


def test_a_one_letter_button_counts_only_where_it_stands_as_an_answer() -> None:
    # The article in "Walk up a bit" read as button a, so the reply named two buttons and none was read.
    cases = {"Walk up a bit": "up", "A bit further up": "up", "Up, a step at a time": "up",
             "press a button to go up": "up", "up\nA bit more, then stop": "up",
             "a": "a", "B": "b", "**a**": "a", "Press A": "a", "I press A to talk": "a", "press a.": "a",
             "the b button": "b", "button: b": "b", "(a)": "a", "`b`": "b", "A to talk": "a",
             "a, then up": None, "press a, then up": None, "Press A, then walk up": None, "A or B": None,
             "Walk up a bit or press the a button": None}
    for answer, button in cases.items():
        assert parse_move(wrap(answer), record(NEXT_BUTTON)) == button, answer
        assert verify(wrap(answer), record(NEXT_BUTTON))["accuracy"] == float(button is not None), answer
    only_a = {**NEXT_BUTTON, "accepted": ["a"]}
    assert verify(wrap("Walk up a bit"), record(only_a))["accuracy"] == 0.0
    assert verify(wrap("Press A"), record(only_a))["accuracy"] == 1.0


def test_a_lowercase_button_in_underscore_emphasis_is_read() -> None:
    """"press __a__" and "(__a__)" named no button (lost credit where a is the answer) while "press **a**" and
    "(**a**)" name a: the button reader took asterisks for emphasis, not underscores. Both are now."""
    for reply in ("press __a__", "(__a__)", "(_a_)", "press (__a__)", "press _a_ to talk", "___a___"):
        assert parse_move(wrap(reply), record(NEXT_BUTTON)) == "a", reply
        assert verify(wrap(reply), record({**NEXT_BUTTON, "accepted": ["a"]}))["accuracy"] == 1.0, reply
    assert parse_move(wrap("__a__, not __b__"), record(NEXT_BUTTON)) is None


def test_a_lowercase_letter_joined_by_underscores_is_no_button() -> None:
    """A letter inside a name joined by underscores is no button: the reply names only its other word."""
    for reply in ("go up: snake_a_b", "up x__a__y", "up __a_b__", "____a____ up"):
        assert parse_move(wrap(reply), record(NEXT_BUTTON)) == "up", reply


def test_a_lowercase_button_b_or_a_before_a_link_is_read() -> None:
    # fec7285 read lowercase b, no English word, only after "press ... " at the end: "press b to go back"
    # named no button, and "b then up" read as up; nor did it read "press a to talk" or "a to confirm".
    cases = {"press b to go back": "b", "hit b twice": "b", "go back with b": "b", "b then up": None,
             "press a to talk": "a", "a to confirm": "a", "use a": "a", "up and a": None,
             "Walk up a bit": "up", "press a button to go up": "up", "choose a path: up": "up"}
    for answer, button in cases.items():
        assert parse_move(wrap(answer), record(NEXT_BUTTON)) == button, answer


def test_start_counts_only_where_it_stands_as_the_button() -> None:
    # The verb in "Start by going up" read as button start, so the reply named two buttons and none was read.
    cases = {"Start by going up": "up", "Start moving up": "up", "start with up": "up",
             "start to walk up": "up", "Start from here and go left": "left",
             "Go up from the start of the path": "up",
             "I would start by pressing A": "a", "Start over and go down": "down",
             "Start": "start", "start.": "start", "press start": "start", "Press the Start button": "start",
             "Start to open the menu": "start", "Press start by the door": "start", "Hit start now": "start",
             "`start`": "start", "Start, then up": None, "up, then start": None}
    for answer, button in cases.items():
        assert parse_move(wrap(answer), record(NEXT_BUTTON)) == button, answer
        assert verify(wrap(answer), record(NEXT_BUTTON))["accuracy"] == float(button is not None), answer


def test_a_ground_truth_nested_past_json_s_depth_is_an_exact_rule_on_its_text() -> None:
    # json.loads raised RecursionError (no ValueError) for it, out of verify and the reward adapters, which
    # score a ground truth that is none of ours as an exact rule on its text.
    deep = "[" * 100_000
    assert load_ground_truth(deep)["verifier"] == {"rule": "exact", "answer": deep}
    assert verify(wrap("5"), deep)["accuracy"] == 0.0
    assert load_rewards().compute_score(wrap("5"), deep)["accuracy"] == 0.0


def test_ground_truth_json_round_trip() -> None:
    rec = record(SNAKE, answer="<best_answer>UP</best_answer><worst_answer>DOWN, RIGHT</worst_answer>")
    gt = ground_truth_json(rec)
    assert gt == ground_truth_json(rec.to_dict())  # records and their dicts encode alike
    payload = json.loads(gt)
    assert payload["verifier"] == SNAKE and payload["answer"] == rec.answer
    for reply in (snake_reply("UP", "DOWN, RIGHT"), snake_reply("DOWN", "DOWN"), "", b"\xff"):
        assert verify(reply, gt) == verify(reply, rec) == verify(reply, payload)
    assert verify(rec.answer, gt)["accuracy"] == 1.0
    plain = load_ground_truth("42")
    assert plain["verifier"] == {"rule": "exact", "answer": "42"}
    foreign = '{"answer": "B"}'  # JSON, but no ground truth of ours: an exact rule on its text
    assert load_ground_truth(foreign)["verifier"] == {"rule": "exact", "answer": foreign}
    assert verify(wrap("pallet Town."), "Pallet town")["accuracy"] == 1.0  # exact: case and wrapping aside
    assert payload["qa_type"] == "q" and payload["game"] == "snake"
    reordered = record(dict(reversed(list(SNAKE.items()))), answer=rec.answer)
    assert ground_truth_json(reordered) == gt  # keys sorted: the same record, the same bytes
    assert verify(wrap("42"), "42")["overall"] == 1.0 and verify(wrap("41"), "42")["accuracy"] == 0.0
    # The whole answer equals the label: one that only holds it is another answer
    for reply, label in (("142", "42"), ("42 or 43", "42"), ("Not Pallet Town", "Pallet Town")):
        assert verify(wrap(reply), label)["accuracy"] == 0.0, reply
    with pytest.raises(ValueError, match="verifier rule 'telepathy' is not one of"):
        verify("x", {"rule": "telepathy"})
    # RULES is read from the spec table; a rule JSON made a list is refused by name, not a TypeError.
    with pytest.raises(ValueError, match=r"verifier rule \[1\] is not one of choice, integer, .*, exact$"):
        verify("x", {"rule": [1]})
    with pytest.raises(ValueError, match="TaskRecord"):
        verify("x", 42)
    # A dict is accepted, so "got dict" told nothing: the message names the key it lacks and those it has.
    with pytest.raises(ValueError, match=r"a 'verifier' .* keys \['answer', 'problem'\]"):
        verify("x", {"problem": "?", "answer": "5"})


def test_a_task_record_round_trips_through_a_dict_of_its_own() -> None:
    """to_dict is a deep copy (a format that edits its row leaves the record alone) and from_dict keeps
    every field, extra included."""
    rec = TaskRecord(**{**record(CHOICE, "B").to_dict(), "extra": {"state": {"head": [1, 2]}}})
    d = rec.to_dict()
    assert TaskRecord.from_dict(d) == rec
    d["verifier"]["answer"] = "C"
    d["extra"]["state"]["head"].append(3)
    assert rec.verifier["answer"] == "B" and rec.extra == {"state": {"head": [1, 2]}}


def test_reference_response_scores_one() -> None:
    for spec, answer in ((CHOICE, "B"), (INTEGER, "5"), (COORD, "(3, 4)"), (WORD, "UP"),
                         (ANGLE_FREE, "270 about Z"),
                         (SNAKE, "<best_answer>UP</best_answer><worst_answer>DOWN, RIGHT</worst_answer>")):
        rec = record(spec, answer, "Step 1.\nStep 2.")
        assert verify(reference_response(rec), rec)["overall"] == 1.0
        assert verify(reference_response(rec.to_dict()), rec)["overall"] == 1.0


# ------------------------------------------------------------------------------------------ rewards
def load_rewards():
    spec = importlib.util.spec_from_file_location("custom_reward_fn", REWARDS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reward_adapters_in_process() -> None:
    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    good, bad = wrap("5"), wrap("6")
    # TRL: standard and conversational completions, ground truth from a dataset column
    assert rewards.trl_reward([good, bad], ground_truth=[gt, gt]) == [1.0, pytest.approx(0.1)]
    chat = [[{"role": "assistant", "content": good}],
            [{"role": "assistant", "content": [{"type": "text", "text": bad}]}]]
    assert rewards.trl_accuracy_reward(chat, prompts=["p", "p"], ground_truth=[gt, gt]) == [1.0, 0.0]
    assert rewards.trl_format_reward(chat, reward_model=[{"ground_truth": gt}] * 2) == [1.0, 1.0]
    # A completion of any other shape (None, an empty conversation, a message without content) scores 0.
    assert rewards.trl_reward([None, [], [{"role": "assistant"}]], ground_truth=[gt] * 3) == [0.0] * 3
    with pytest.raises(ValueError, match="ground truth"):
        rewards.trl_reward([good], prompts=["p"])
    # EasyR1: batch and sequential
    batch = rewards.compute_score([{"response": good, "response_length": 9, "ground_truth": gt},
                                   {"response": bad, "response_length": 9, "ground_truth": gt}])
    assert [s["overall"] for s in batch] == [1.0, pytest.approx(0.1)]
    assert set(batch[0]) == {"overall", "format", "accuracy"}
    assert rewards.compute_score({"response": good, "ground_truth": gt})["accuracy"] == 1.0
    # Older EasyR1 (one response at a time): compute_score(predict_str, ground_truth) was taken for verl's
    # call and raised a TypeError (no ground_truth)
    assert rewards.compute_score(good, gt) == {"overall": 1.0, "format": 1.0, "accuracy": 1.0}
    assert rewards.compute_score(bad, gt, format_weight=0.5)["overall"] == pytest.approx(0.5)
    weighted = rewards.compute_score([{"response": bad, "ground_truth": gt}], format_weight=0.5)
    assert weighted[0]["overall"] == pytest.approx(0.5)
    # A weight other than 0.5 tells the format share from the accuracy share: right format, wrong answer
    # earns the weight; a wrong format with the right answer earns the rest.
    unformatted = "The answer is <answer>5</answer>"
    assert verify(unformatted, gt) == {"overall": pytest.approx(0.9), "format": 0.0, "accuracy": 1.0}
    weighted = rewards.compute_score([{"response": bad, "ground_truth": gt},
                                      {"response": unformatted, "ground_truth": gt}], format_weight=0.2)
    assert [s["overall"] for s in weighted] == [pytest.approx(0.2), pytest.approx(0.8)]
    # verl: keyword call as verl makes it, and positional
    out = rewards.compute_score(data_source="depthfirst/snake", solution_str=good, ground_truth=gt,
                                extra_info={"index": 0})
    assert out == {"score": 1.0, "format": 1.0, "accuracy": 1.0}
    assert rewards.compute_score("depthfirst/snake", bad, gt, None)["accuracy"] == 0.0
    assert rewards.compute_score("depthfirst/snake", good, ground_truth=gt)["score"] == 1.0
    # verl passes custom_reward_function.reward_kwargs by keyword: format_weight as in EasyR1
    assert rewards.compute_score(data_source="depthfirst/snake", solution_str=bad, ground_truth=gt,
                                 extra_info=None, format_weight=0.5)["score"] == pytest.approx(0.5)
    assert rewards.compute_score(data_source="depthfirst/snake", solution_str=bad, ground_truth=gt,
                                 extra_info=None, format_weight=0.2)["score"] == pytest.approx(0.2)
    assert rewards.REWARD_TYPE == "batch"  # EasyR1's manager passes compute_score a list
    assert rewards.compute_score("depthfirst/snake", good, "not json and not 5")["accuracy"] == 0.0
    # A ground truth of our shape with a malformed spec scores 0 too: it raised a KeyError or TypeError
    # mid-training, as verify read the missing or mistyped key.
    for spec in ({"rule": "word"}, {"rule": "coordinate", "value": 5}, {"rule": "choice", "options": 5,
                                                                        "answer": "B"}):
        malformed = json.dumps({"verifier": spec})
        assert rewards.compute_score(good, malformed) == {"overall": 0.0, "format": 0.0, "accuracy": 0.0}
        with pytest.raises(ValueError, match=f"verifier rule '{spec['rule']}'"):
            verify(good, malformed)
    # OpenRLHF: query = prompt + response
    prompt = "<|im_start|>user\nHow many? <think></think><answer></answer><|im_end|>\n<|im_start|>assistant\n"
    result = rewards.reward_func([prompt + good + "<|im_end|>", prompt + bad], [prompt, "another prompt"],
                                 [gt, gt])
    assert result["rewards"].tolist() == pytest.approx([1.0, 0.1])
    assert result["scores"].tolist() == [1.0, 0.0]
    assert result["format_rewards"].tolist() == [1.0, 1.0]
    assert result["accuracy_rewards"].tolist() == [1.0, 0.0]
    moved = {k: v.to("cpu") for k, v in result.items()}  # as ViGaL's experience maker does with every value
    assert set(moved) == {"rewards", "scores", "accuracy_rewards", "format_rewards"}
    assert rewards.response_from_query(prompt + good + "<|im_end|>", "unrelated") == good


def test_verl_s_batch_reward_manager_gets_one_score_per_response() -> None:
    """verl's BatchRewardManager (``reward_manager=batch``) calls ``compute_score(data_sources=...,
    solution_strs=..., ground_truths=..., extra_infos=..., **reward_kwargs)`` and reads a list of scores; the
    call went to EasyR1's branch, which found no reward inputs and raised a TypeError."""
    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    out = rewards.compute_score(data_sources=["depthfirst/snake"] * 2, solution_strs=[wrap("5"), wrap("6")],
                                ground_truths=[gt, gt], extra_infos=[None, {"index": 1}], format_weight=0.5)
    assert out == [{"score": 1.0, "format": 1.0, "accuracy": 1.0},
                   {"score": 0.5, "format": 1.0, "accuracy": 0.0}]
    with pytest.raises(ValueError):  # a response without its ground truth is an error, not dropped unscored
        rewards.compute_score(data_sources=["d"] * 2, solution_strs=[wrap("5"), wrap("6")],
                              ground_truths=[gt], extra_infos=[None, None])


def test_reward_adapters_read_the_whole_reply() -> None:
    """A message's text parts are one reply; OpenRLHF's reply is the text after the prompt, or else after the
    last assistant turn, stripped; EasyR1's sequential manager may name its one input ``reward_input``."""
    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    parts = [[{"role": "assistant", "content": [{"type": "text", "text": "<think>I looked.</think>\n"},
                                                 {"type": "image"},
                                                 {"type": "text", "text": "<answer>5</answer>"}]}]]
    assert rewards.trl_accuracy_reward(parts, ground_truth=[gt]) == [1.0]
    chat = ("<|im_start|>user\nHow many?<|im_end|>\n<|im_start|>assistant\n<think>4?</think>\n<answer>4"
            "</answer><|im_end|>\n<|im_start|>user\nLook again.<|im_end|>\n<|im_start|>assistant\n")
    assert rewards.response_from_query(chat + wrap("5") + "<|im_end|>", "another prompt") == wrap("5")
    # An empty prompt is no prompt: the reply is found by its assistant marker, not the whole query.
    assert rewards.response_from_query(chat + wrap("5"), "") == wrap("5")
    assert rewards.response_from_query("P \n" + wrap("5") + " \n<|endoftext|>", "P") == wrap("5")
    assert rewards.reward_func([chat + wrap("6")], [""], [gt])["accuracy_rewards"].tolist() == [0.0]
    one = rewards.compute_score(reward_input={"response": wrap("5"), "response_length": 9,
                                              "ground_truth": gt})
    assert one == {"overall": 1.0, "format": 1.0, "accuracy": 1.0}


def test_reward_adapters_hold_their_edge_cases() -> None:
    """The edges the adapter tests left open: the reply is a conversation's last message, its text parts
    joined as written; TRL's ground_truth column wins over the plain answer column every TRL export also
    holds; a format weight of 0 is a weight; a count mismatch is an error, never a silently shorter batch;
    OpenRLHF's reply starts right after its prompt, a Llama 3 assistant header marks it too, and its
    tensors are float32."""
    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    turns = [[{"role": "assistant", "content": wrap("6")}, {"role": "tool", "content": "ok"},
              {"role": "assistant", "content": wrap("5")}]]
    assert rewards.trl_accuracy_reward(turns, ground_truth=[gt]) == [1.0]
    split = [[{"role": "assistant", "content": [{"type": "text", "text": "<think>a</think><answer>1"},
                                                {"type": "text", "text": "2</answer>"}]}]]
    twelve = ground_truth_json(record({"rule": "integer", "value": 12}))
    assert rewards.trl_accuracy_reward(split, ground_truth=[twelve]) == [1.0]
    choice = ground_truth_json(record(CHOICE, "B"))
    assert rewards.trl_accuracy_reward([wrap("5")], ground_truth=[choice], answer=["B"]) == [1.0]
    assert rewards.trl_accuracy_reward([wrap("5")], ground_truth=None, solution=[gt]) == [1.0]
    unformatted = "The answer is <answer>5</answer>"
    assert rewards.compute_score(unformatted, gt, format_weight=0.0)["overall"] == 1.0
    assert rewards.compute_score(wrap("6"), gt, format_weight=0.0)["overall"] == 0.0
    for n_completions, n_truths in ((2, 1), (1, 2)):
        with pytest.raises(ValueError, match=f"{n_completions} completions but {n_truths} ground truths"):
            rewards.trl_reward([wrap("5")] * n_completions, ground_truth=[gt] * n_truths)
    # verl's reward_model dict without its ground_truth is malformed: no reward, never a KeyError
    zero = {"overall": 0.0, "format": 0.0, "accuracy": 0.0}
    assert rewards.compute_score(wrap("5"), {"style": "rule"}) == zero
    assert rewards.trl_reward([wrap("5")], reward_model=[{"style": "rule"}]) == [0.0]
    with pytest.raises(ValueError):
        rewards.reward_func(["P" + wrap("5"), "P" + wrap("6")], ["P", "P"], [gt])
    assert rewards.response_from_query("Q:" + wrap("5"), "Q:") == wrap("5")
    llama = ("<|start_header_id|>user<|end_header_id|>\n\nHow many?<|eot_id|><|start_header_id|>assistant"
             "<|end_header_id|>\n\n")
    assert rewards.response_from_query(llama + wrap("5") + "<|eot_id|>", "another prompt") == wrap("5")
    out = rewards.reward_func(["P" + wrap("5")], ["P"], [gt])
    assert {k: str(v.dtype) for k, v in out.items()} == dict.fromkeys(out, "torch.float32")


def test_a_trl_completion_parsed_into_reasoning_and_content_is_scored_whole() -> None:
    """TRL 1.16 parses a completion with the tokenizer's response schema where it has one (tools given, or
    a tokenizer that ships a response template): the <think> block's text goes to ``reasoning_content``
    (LFM2.5: ``thinking``), and ``content`` keeps only what follows. A right reply then lost its format
    share (0.9); the reasoning is put back in its tags. Without it, or empty, the content is all."""
    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    parsed = [[{"role": "assistant", "reasoning_content": "Five boxes.", "content": "<answer>5</answer>"}],
              [{"role": "assistant", "thinking": "Five boxes.", "content": "<answer>5</answer>"}],
              [{"role": "assistant", "reasoning_content": "Six?",
                "content": [{"type": "text", "text": "<answer>6</answer>"}]}]]
    assert rewards.trl_reward(parsed, ground_truth=[gt] * 3) == [1.0, 1.0, pytest.approx(0.1)]
    plain = [[{"role": "assistant", "reasoning_content": "", "content": "<answer>5</answer>"}],
             [{"role": "assistant", "reasoning_content": None, "content": wrap("5")}],
             [{"role": "assistant", "thinking": ["not text"], "content": wrap("5")}]]
    assert rewards.trl_reward(plain, ground_truth=[gt] * 3) == [pytest.approx(0.9), 1.0, 1.0]


def test_reward_file_loads_by_path_from_anywhere(tmp_path: Path) -> None:
    """Trainers import the reward file by path in their own working directory and sys.path."""
    gt = ground_truth_json(record(SNAKE, "x"))
    script = f"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("custom_reward_fn", {str(REWARDS)!r})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
gt = {gt!r}
good = "<think>a</think><best_answer>UP</best_answer><worst_answer>DOWN, RIGHT</worst_answer>"
bad = "<think>a</think><best_answer>DOWN</best_answer><worst_answer>None</worst_answer>"
out = {{"trl": m.trl_reward([good, bad], ground_truth=[gt, gt]),
        "easyr1": [s["accuracy"] for s in m.compute_score([{{"response": good, "response_length": 1,
                                                              "ground_truth": gt}}])],
        "verl": m.compute_score(data_source="s", solution_str=bad, ground_truth=gt, extra_info=None)["score"],
        "openrlhf": m.reward_func(["P" + good], ["P"], [gt])["rewards"].tolist()}}
print(json.dumps(out))
"""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ""}
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["trl"] == [1.0, pytest.approx(0.1)]
    assert out["easyr1"] == [1.0]
    assert out["verl"] == pytest.approx(0.1)
    assert out["openrlhf"] == [1.0]


def test_reward_file_registers_with_ms_swift_when_swift_loads_it(tmp_path: Path) -> None:
    """ms-swift imports --external_plugins files by path inside its own process and calls
    ``orms[name](args=...)(completions, **columns)``; a stand-in swift.rewards (ORM, orms) plays ms-swift."""
    fake = tmp_path / "swift"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "rewards.py").write_text("class ORM:\n    def __init__(self, args=None, **kwargs):\n"
                                     "        self.args = args\n\norms = {}\n")
    gt = ground_truth_json(record(SNAKE, "x"))
    script = f"""
import importlib.util, json, sys
def load():
    spec = importlib.util.spec_from_file_location("plugin", {str(REWARDS)!r})
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
load()
untouched = "swift" not in sys.modules  # another trainer's process: swift never imported
import swift.rewards
load()
good = "<think>a</think><best_answer>UP</best_answer><worst_answer>DOWN, RIGHT</worst_answer>"
bad = "<think>a</think><best_answer>DOWN</best_answer><worst_answer>None</worst_answer>"
columns = dict(solution=[{gt!r}] * 2, messages=[[], []], trainer_state=None, images=[[], []])
orms = swift.rewards.orms
out = {{name: orms[name](args=None)([good, bad], **columns) for name in sorted(orms)}}
print(json.dumps({{"untouched": untouched, "out": out}}))
"""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["untouched"]
    out = result["out"]
    assert sorted(out) == ["depthfirst", "depthfirst_accuracy", "depthfirst_format"]
    assert out["depthfirst"] == [1.0, pytest.approx(0.1)]
    assert out["depthfirst_accuracy"] == [1.0, 0.0] and out["depthfirst_format"] == [1.0, 1.0]


def load_as_swift_plugin(monkeypatch: pytest.MonkeyPatch, home: str = "swift.rewards") -> tuple[Any, dict]:
    """The reward file loaded by path under a stand-in ms-swift 4 (``swift.rewards``) or 3 (``swift.plugin``)
    with its ``ORM`` base and ``orms`` table, in this process; returns the module and the table."""
    import types

    orms: dict[str, type] = {}
    module = types.ModuleType(home)
    module.ORM = type("ORM", (), {"__init__": lambda self, args=None, **kwargs: None})  # type: ignore[attr-defined]
    module.orms = orms  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "swift", types.ModuleType("swift"))  # no __path__: only `home` imports
    monkeypatch.setitem(sys.modules, home, module)
    spec = importlib.util.spec_from_file_location("swift_plugin", REWARDS)
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    return plugin, orms


@pytest.mark.parametrize("home", ["swift.rewards", "swift.plugin"])  # ms-swift 4, ms-swift 3
def test_the_ms_swift_rewards_score_as_the_trl_ones(home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process (so the registration is traced): a stand-in ms-swift 4 (``swift.rewards``) or 3
    (``swift.plugin``, no ``swift.rewards``) loads the file by path; each registered reward scores a batch
    as its TRL counterpart does."""
    plugin, orms = load_as_swift_plugin(monkeypatch, home)
    assert sorted(orms) == ["depthfirst", "depthfirst_accuracy", "depthfirst_format"]
    gt = ground_truth_json(record(SNAKE, "x"))
    good = "<think>a</think><best_answer>UP</best_answer><worst_answer>DOWN, RIGHT</worst_answer>"
    bad = "<think>a</think><best_answer>DOWN</best_answer><worst_answer>None</worst_answer>"
    columns = {"solution": [gt, gt], "messages": [[], []], "trainer_state": None}
    for name, trl in (("depthfirst", plugin.trl_reward), ("depthfirst_accuracy", plugin.trl_accuracy_reward),
                      ("depthfirst_format", plugin.trl_format_reward)):
        scores = orms[name](args=None)([good, bad], **columns)
        assert scores == trl([good, bad], **columns), name
    assert orms["depthfirst"](args=None)([good, bad], **columns) == [1.0, pytest.approx(0.1)]
    assert orms["depthfirst_accuracy"](args=None)([good, bad], **columns) == [1.0, 0.0]


def test_an_empty_reply_never_matches_an_empty_ground_truth() -> None:
    """A blank label (a trainer's label column missing or empty) reads as an exact rule on "": an empty
    reply or answer tag then matched it and earned full accuracy, rewarding a policy for saying nothing."""
    for gt in ("", "   ", ground_truth_json({"game": "x", "qa_type": "q", "answer": "",
                                              "verifier": {"rule": "exact", "answer": ""}})):
        for reply in ("", "  \n", wrap(""), wrap("  "), "\\boxed{}", "<answer>.</answer>", b""):
            assert verify(reply, gt)["accuracy"] == 0.0, (gt, reply)
        assert verify(wrap("42"), gt)["accuracy"] == 0.0
    assert verify(wrap("Pallet Town"), "Pallet Town")["accuracy"] == 1.0


def test_whitespace_inside_or_around_an_answer_does_not_change_it() -> None:
    """An option's text counts with its spaces, tabs and line breaks collapsed ("A  box is in a\\ndifferent
    place" is option B), and a short bare reply padded with blank lines is still short."""
    articles = record(ARTICLES, answer="B")
    for text in ("A box  is in a different place", "A box is in a\ndifferent place", "a box\tis in a "
                 "different place."):
        assert verify(wrap(text), articles)["accuracy"] == 1.0, text
    assert verify(wrap("A box is in a place"), articles)["accuracy"] == 0.0
    # The exact rule (a foreign ground truth) normalises the same way: "Pallet  Town" scored 0.
    for text in ("Pallet  Town", "pallet\ntown.", " Pallet\tTown "):
        assert verify(wrap(text), "Pallet Town")["accuracy"] == 1.0, text
    assert verify(wrap("PalletTown"), "Pallet Town")["accuracy"] == 0.0
    # A \\boxed{} inside the answer tag is unwrapped: the exact rule compares its content, not the LaTeX.
    assert verify(wrap("\\boxed{Pallet Town}"), "Pallet Town")["accuracy"] == 1.0
    # Around a lowercase option letter too: "option b" then spaces named no option.
    assert verify(wrap("option b" + " " * 5), record(CHOICE))["accuracy"] == 1.0
    padded = "\n" * 40 + "  UP  " + " \n" * 20
    assert verify(padded, record(WORD))["accuracy"] == 1.0
    assert verify("UP" + " because" * 10, record(WORD))["accuracy"] == 0.0  # a long reply is no bare answer


def test_the_length_limits_hold_at_their_bounds() -> None:
    """A reply of MAX_RESPONSE_CHARS is scored and one character more is not; a bare reply (no tags) of
    _BARE_CHARS characters, surrounding blanks aside, is an answer and one character more is not."""
    right = wrap("5")
    at_limit = "x" * (MAX_RESPONSE_CHARS - len(right)) + right
    assert verify(at_limit, record(INTEGER))["accuracy"] == 1.0
    assert verify("x" + at_limit, record(INTEGER))["accuracy"] == 0.0
    bare = "The answer is 5".ljust(_BARE_CHARS, ".")
    assert verify(f"\n{bare}\n", record(INTEGER))["accuracy"] == 1.0
    assert verify(bare + ".", record(INTEGER))["accuracy"] == 0.0
    # An answer tag's content (padding included) of MAX_ANSWER_CHARS is an answer; one character more is not.
    assert verify(wrap("5".ljust(MAX_ANSWER_CHARS)), record(INTEGER))["accuracy"] == 1.0
    assert verify(wrap("5".ljust(MAX_ANSWER_CHARS + 1)), record(INTEGER))["accuracy"] == 0.0


def test_names_no_move_only_where_every_move_is_fatal() -> None:
    """The VLM player's "None" is a right answer only to a Snake move question whose good list is empty."""
    trapped = record({**SNAKE, "good": [], "fatal": MOVES})
    assert names_no_move(snake_reply("None", "UP, DOWN, LEFT, RIGHT"), trapped)
    assert not names_no_move(snake_reply("UP", "UP, DOWN, LEFT, RIGHT"), trapped)
    assert not names_no_move(snake_reply("None", "DOWN, RIGHT"), record(SNAKE))  # UP and LEFT are good
    assert not names_no_move(wrap("None"), record({**WORD, "accepted": []}))  # not ViGaL's rule
    assert not names_no_move(b"\xff", trapped)


def test_a_decimal_with_a_zero_fraction_is_its_integer() -> None:
    """"5.0" read as the two integers 5 and 0, so a right count, coordinate or angle written as a decimal
    scored 0; a decimal with another fraction ("5.5") still names no integer."""
    for spec, right, wrong in (
            (INTEGER, ["5.0", "5.00 boxes", "\\boxed{5.0}", "There are 5.0."], ["5.5", "4.90", "5.0 or 6.0"]),
            (COORD, ["(3.0, 4.0)", "(3, 4.00)"], ["(3.5, 4)", "(3.0, 4.5)", "(3.0, 4.0, 0.0)"]),
            (ANGLE_FREE, ["270.0° about Z", "-90.0 about Z", "90.0 about Z-"],
             ["270.5 about Z", "90.0 about Z"])):
        for answer in right:
            assert verify(wrap(answer), record(spec))["accuracy"] == 1.0, answer
        for answer in wrong:
            assert verify(wrap(answer), record(spec))["accuracy"] == 0.0, answer


def test_a_turn_signed_only_with_minus_is_read_signed() -> None:
    """Signed words are read wherever a choice ends in a sign, "-" as well as "+": a choice list whose only
    signed turn is X- still names it."""
    minus_only = record({"rule": "word", "choices": ["UP", "X-"], "accepted": ["X-"]})
    assert verify(wrap("X-"), minus_only)["accuracy"] == 1.0
    assert verify(wrap("UP"), minus_only)["accuracy"] == 0.0


def test_openrlhf_replies_lose_every_end_and_pad_token() -> None:
    """A batch's shorter queries end in several pad tokens (Qwen's pad is <|endoftext|>) after <|im_end|>:
    every one goes, not only a last one, so a bare reply is still bare."""
    rewards = load_rewards()
    padded = "P" + wrap("5") + "<|im_end|>" + "<|endoftext|>" * 3
    assert rewards.response_from_query(padded, "P") == wrap("5")
    gt = ground_truth_json(record(INTEGER, "5"))
    bare = rewards.reward_func(["P5<|im_end|><|endoftext|><|endoftext|>"], ["P"], [gt])
    assert bare["accuracy_rewards"].tolist() == [1.0]


def test_openrlhf_tensors_are_float32_whatever_torch_s_default_dtype() -> None:
    """A trainer may set torch's default dtype (float64, bfloat16); the rewards stay float32 as named."""
    import torch

    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        out = rewards.reward_func(["P" + wrap("5")], ["P"], [gt])
    finally:
        torch.set_default_dtype(before)
    assert {k: v.dtype for k, v in out.items()} == dict.fromkeys(out, torch.float32)


def test_mutation_gaps_in_the_verifier_are_pinned() -> None:
    """Behaviours no test held (each found by a mutant of vlm/verify.py that every test passed)."""
    # Tags in capitals are tags ("<ANSWER>"), as spaced ones are.
    assert verify("<Think>a</Think><ANSWER>5</ANSWER>", record(INTEGER))["overall"] == 1.0
    # Each answer tag counts for the format only after the reasoning, opened before it is closed.
    for reply in ("<think><answer>5</answer></think>", "<think>a</think></answer>5<answer>"):
        assert verify(reply, record(INTEGER))["format"] == 0.0, reply
    # UTF-8 bytes are measured as the text they decode to: 60,000 two-byte characters are 120,000 bytes.
    long_bytes = ("<think>" + "\u00e9" * 60_000 + "</think><answer>5</answer>").encode()
    assert len(long_bytes) > MAX_RESPONSE_CHARS and verify(long_bytes, record(INTEGER))["overall"] == 1.0
    # A letter after a word that names one is the letter, whatever word follows: not the pronoun I.
    assert verify(wrap("The answer is I because of the turn"), record(NINE_I))["accuracy"] == 1.0
    # An essay in <worst_answer> is no answer, as one in <best_answer> is not.
    assert verify(snake_reply("UP", "DOWN, RIGHT " + "because " * 80), record(SNAKE))["accuracy"] == 0.0
    # ViGaL's reference reply is its two tags after the reasoning, not wrapped in an <answer> tag.
    tags = "<best_answer>UP</best_answer><worst_answer>DOWN, RIGHT</worst_answer>"
    assert reference_response(record(SNAKE, tags)) == f"<think>\nReasoning.\n</think>\n{tags}"


def test_an_openrlhf_vlm_query_whose_image_tokens_grew_is_cut_after_its_prompt() -> None:
    """OpenRLHF 0.11 (utils/agent.py) decodes the processor's token ids into the query, where each image
    placeholder of the prompt stands once per image patch: the query no longer starts with the prompt, and
    the reply was found only after a known assistant marker. Under a template with another one (Gemma's
    <start_of_turn>model) the whole query, question and its <answer></answer> instruction included, was
    scored: a right reply earned 0. The query is called as OpenRLHF calls it, one at a time."""
    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    question = "How many boxes? Think inside <think></think>, answer inside <answer></answer>."
    gemma = ("<start_of_image><image_soft_token><end_of_image>", "<image_soft_token>",
             "<bos><start_of_turn>user\n", "<end_of_turn>\n<start_of_turn>model\n")
    for image, patch, head, tail, end in (
            (*gemma, "<end_of_turn>"), (*gemma, "<eos>"),  # Gemma 3 it stops at either
            ("<|vision_start|><|image_pad|><|vision_end|>", "<|image_pad|>", "<|im_start|>user\n",
             "<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>")):
        prompt = head + image * 2 + question + tail
        query = prompt.replace(patch, patch * 64) + wrap("5") + end
        assert rewards.response_from_query(query, prompt) == wrap("5"), head
        assert rewards.reward_func([query], [prompt], [gt])["rewards"].tolist() == [1.0], head
        # A reply run on past its turn (its stop token not a stop) into a turn like the prompt's: the first
        # of the prompt's ends is where it begins.
        run_on = prompt + wrap("5") + end + head + image + question + tail + "more"
        query = run_on.replace(patch, patch * 64)
        assert rewards.response_from_query(query, prompt).startswith(wrap("5")), head
    # A prompt the query shares only a few characters with is no prompt: the markers decide, as before.
    assert rewards.response_from_query("Human: Hi\nAssistant: " + wrap("5"), "xx: " + "q" * 40) == wrap("5")


def test_an_openrlhf_reply_after_a_plain_assistant_turn_is_found() -> None:
    """Without a chat template the query is "Human: ... Assistant: reply": the reply follows "Assistant:"."""
    rewards = load_rewards()
    assert rewards.response_from_query("Human: How many?\nAssistant: " + wrap("5"), "other") == wrap("5")


def test_a_decimal_is_read_whole_whatever_its_length_or_leading_point() -> None:
    """The fraction was cut at 12 digits and the rest read as another number: "3.0000000000001" was the
    coordinate (3, 1) and "5.0000000000000" the two numbers 5 and 0. ".5" (no leading zero) was 5."""
    assert verify(wrap("3.0000000000001"), record({"rule": "coordinate", "value": [3, 1]}))["accuracy"] == 0.0
    assert verify(wrap("5." + "0" * 13), record(INTEGER))["accuracy"] == 1.0
    for answer in (".5", "-.5", "0.5"):
        assert verify(wrap(answer), record(INTEGER))["accuracy"] == 0.0, answer


def test_a_decimal_without_a_leading_zero_is_a_number_like_any_other() -> None:
    """".5" was read as no number at all, so an answer holding it scored as if it were not there: "5 or .5"
    was the count 5 (where "5 or 0.5" is not) and "(.5, 3, 4)" the coordinate (3, 4)."""
    for answer in ("5 or .5", "5 or -.5", "5, .0"):
        assert verify(wrap(answer), record(INTEGER))["accuracy"] == 0.0, answer
    assert verify(wrap("(.5, 3, 4)"), record(COORD))["accuracy"] == 0.0
    assert verify(wrap("(3, 4)."), record(COORD))["accuracy"] == 1.0  # a full stop is no decimal point
    assert verify(wrap(".0"), record({"rule": "integer", "value": 0}))["accuracy"] == 1.0


def test_a_number_repeated_or_in_latex_math_is_that_number() -> None:
    """A reply that restates its answer ("5, so the answer is 5") read as two integers and scored 0, as
    "5 or 6" does; one number written again is still one answer. LaTeX inline or display math around it
    (as math-tuned models write) is its number. Near misses still score 0."""
    right = [
        (INTEGER, ["5, so the answer is 5", "5 boxes; 5 in all", "five, that is 5", "5 (5.0)", "$5$",
                  "\\(5\\)", "$$5$$", "\\[5\\]", "$\\boxed{5}$", "$5$, so 5"]),
        (COORD, ["(3, 4), so the answer is (3, 4)", "$(3, 4)$", "\\((3,4)\\)", "x=3, y=4: (3, 4)"]),
        (ANGLE_FREE, ["270 about Z, so 270", "$270^\\circ$ about Z", "270° about Z (270)"]),
    ]
    wrong = [
        (INTEGER, ["5, so the answer is 6", "6, so the answer is 5", "5, not -5", "5 or 55", "5, so 5.5",
                  "$5$ or $6$", "\\(5\\), \\(6\\)", "$-5$", "$5.5$", "five, so six", "5, 5, 6", "2+3=5"]),
        (COORD, ["(3, 4), so (4, 3)", "(3, 4), so 3", "(3, 4, 3)", "$(4, 3)$", "(3, 4) or (3, 5)",
                 "3, 4, 4, 3"]),
        (ANGLE_FREE, ["270 about Z, so 90", "270 about Z, not -270", "270 or 270 about X",
                      "90 about Z, so 90"]),
    ]
    for spec, answers in right:
        for answer in answers:
            assert verify(wrap(answer), record(spec))["accuracy"] == 1.0, answer
    for spec, answers in wrong:
        for answer in answers:
            assert verify(wrap(answer), record(spec))["accuracy"] == 0.0, answer


@pytest.mark.parametrize("weight", [1.5, -0.1, float("nan"), "0.2", True])
def test_reward_format_weight_outside_0_to_1_is_refused(weight: object) -> None:
    """``format_weight`` is the format's share of the score: 1.5 gave a right answer in the wrong format
    -0.5 (the accuracy share went negative) and "0.2" (a string from a trainer's config) a TypeError from
    inside the arithmetic; either is a misconfigured run, named at its first reward call."""
    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    with pytest.raises(ValueError, match="format_weight"):
        rewards.compute_score("The answer is <answer>5</answer>", gt, format_weight=weight)
    with pytest.raises(ValueError, match="format_weight"):
        rewards.compute_score(data_source="d", solution_str=wrap("5"), ground_truth=gt, format_weight=weight)


def test_second_round_of_verifier_mutation_gaps_is_pinned() -> None:
    """Documented behaviours no test held: each was found by a mutant of vlm/verify.py or vlm/rewards.py
    that every test passed."""
    # README: a reply over 100,000 characters earns nothing, so one of exactly 100,000 is scored.
    right = wrap("5")
    assert verify("x" * (100_000 - len(right)) + right, record(INTEGER))["accuracy"] == 1.0
    assert verify("x" * (100_001 - len(right)) + right, record(INTEGER))["accuracy"] == 0.0
    # The limit is in characters: 90,000 four-byte characters (360,000 UTF-8 bytes) are within it.
    emoji = ("<think>" + "\U0001F600" * 90_000 + "</think><answer>5</answer>").encode()
    assert len(emoji) > 3 * MAX_RESPONSE_CHARS and verify(emoji, record(INTEGER))["overall"] == 1.0
    # Exactly one of each answer tag for the format: a stray closing tag in the reasoning is a second one.
    assert verify("<think>a</answer></think><answer>5</answer>", record(INTEGER))["format"] == 0.0
    # A stray closing answer tag is a broken answer tag, as an unclosed one is: the \\boxed{} beside it is no
    # tag-free answer.
    assert verify("<think>a</think>\\boxed{5}</answer>", record(INTEGER))["accuracy"] == 0.0
    # Brackets around the answer are wrapping, as emphasis and quotes are: the option's or label's text.
    assert verify(wrap("(5)"), record(CHOICE))["accuracy"] == 1.0
    assert verify(wrap("[Pallet Town]"), "Pallet Town")["accuracy"] == 1.0
    # A number word up to twenty, twenty included.
    assert verify(wrap("twenty"), record({"rule": "integer", "value": 20}))["accuracy"] == 1.0
    # A lowercase button a after "with" stands as the button (_LOWER_BUTTON).
    assert parse_move(wrap("confirm with a"), record(NEXT_BUTTON)) == "a"
    # A letter after a word that names one is the letter, however long that word: not the pronoun I.
    assert verify(wrap("Option I fits best"), record(NINE_I))["accuracy"] == 1.0
    # A digit that is no decimal digit ("²") gives no angle, and never an IndexError.
    assert verify(wrap("Z\u00b2"), record(ANGLE_FREE))["accuracy"] == 0.0
    # An axis given in the question: a reply naming another axis beside it names the wrong turn.
    assert verify(wrap("90 about Y and Z"), record(ANGLE_OPTS))["accuracy"] == 0.0
    # The worst answer names exactly the fatal moves: a safe move listed with them is wrong.
    assert verify(snake_reply("UP", "DOWN, RIGHT, LEFT"), record(SNAKE))["accuracy"] == 0.0
    # A trainer that hands the reward a ground truth already decoded from JSON (a dict) is scored on it.
    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    assert rewards.compute_score(wrap("5"), json.loads(gt))["accuracy"] == 1.0
    assert rewards.compute_score(wrap("5"), INTEGER)["accuracy"] == 1.0


def test_a_long_number_is_read_whole_not_cut_at_twelve_digits() -> None:
    """A run of digits was cut after 12 and the rest dropped (no number starts right after a digit): the
    wrong count "1234567890123" scored as 123456789012, and a right 13-digit answer scored 0."""
    for value, accuracy in ((123456789012, 0.0), (1234567890123, 1.0)):
        scores = verify(wrap("1234567890123"), record({"rule": "integer", "value": value}))
        assert scores["accuracy"] == accuracy, value
    coord = record({"rule": "coordinate", "value": [123456789012, 4]})
    assert verify(wrap("(1234567890123, 4)"), coord)["accuracy"] == 0.0


def test_a_number_word_beside_digits_is_a_second_number() -> None:
    """Number words were read only where no digit was: "5 or six" was the count 5, though "5 or 6" and
    "five or six" are two answers and no count (README: two different numbers are none)."""
    for wrong in ("5 or six", "six, so the answer is 5", "5, not six"):
        assert verify(wrap(wrong), record(INTEGER))["accuracy"] == 0.0, wrong
    for right in ("five, that is 5", "5 (five)"):
        assert verify(wrap(right), record(INTEGER))["accuracy"] == 1.0, right


def test_no_before_a_noun_is_no_answer_no() -> None:
    """A yes/no question's "no" was read wherever the word stood: "no idea" and "I have no clue" scored as
    the answer no, and "Yes, there is no wall in the way" as both words, so no answer. A "no" that a word
    follows is the determiner ("no idea", "no wall"), not the answer, as "No idea" names no fatal move."""
    alive = record({"rule": "word", "choices": ["yes", "no"], "accepted": ["no"]})
    for wrong in ("no idea", "I have no idea", "No clue, sorry", "there is no way to tell", "no one knows",
                  "no or yes"):
        assert verify(wrap(wrong), alive)["accuracy"] == 0.0, wrong
        assert verify(wrong, alive)["accuracy"] == 0.0, wrong  # a bare reply alike
    for right in ("no", "No.", "**No**", "No, it hits the wall", "no: the body blocks it", "No (it dies)",
                  "no\nIt dies", "No - it dies"):
        assert verify(wrap(right), alive)["accuracy"] == 1.0, right
    dead = record({"rule": "word", "choices": ["yes", "no"], "accepted": ["yes"]})
    for right in ("Yes, there is no wall in the way", "yes (no collision)"):
        assert verify(wrap(right), dead)["accuracy"] == 1.0, right
    for wrong in ("yes or no", "no or yes", "yes and no"):
        assert verify(wrap(wrong), dead)["accuracy"] == 0.0, wrong


def test_no_before_a_word_no_noun_follows_is_the_answer_no() -> None:
    """The determiner rule read every "no" that a word followed as "no idea": "No because it hits the wall",
    "No it dies" and "No the snake would crash" (a pronoun, an article or a conjunction, which no determiner
    takes) scored as no answer, where they had scored as no."""
    alive = record({"rule": "word", "choices": ["yes", "no"], "accepted": ["no"]})
    for right in ("No because it hits the wall", "no since the body is there", "No it dies",
                  "No it would not", "No the snake would crash", "No I think it dies",
                  "No as the wall is there", "No so it dies", "No there is a wall", "No that kills it"):
        assert verify(wrap(right), alive)["accuracy"] == 1.0, right
        assert verify(right, alive)["accuracy"] == 1.0, right  # a bare reply alike
    for wrong in ("no idea", "no one knows", "there is no way to tell", "no clue because it is dark"):
        assert verify(wrap(wrong), alive)["accuracy"] == 0.0, wrong


def test_the_pronoun_one_beside_digits_is_no_second_number() -> None:
    """Beside digits "one" is the pronoun ("5 boxes, one on each target"), as "I" is mostly no option: read
    as the number 1 since number words counted beside digits, such a right count scored 0."""
    for right in ("5 boxes, one on each target", "5 (each one is on a target)", "5, the one at the top too"):
        assert verify(wrap(right), record(INTEGER))["accuracy"] == 1.0, right
    # Where no digit is, "one" is the number, and any other word beside digits is a second number still.
    assert verify(wrap("one"), record({**INTEGER, "value": 1}))["accuracy"] == 1.0
    assert verify(wrap("five or one"), record(INTEGER))["accuracy"] == 0.0
    assert verify(wrap("5, one on each of two targets"), record(INTEGER))["accuracy"] == 0.0


def test_one_joined_by_or_to_a_number_is_a_second_answer() -> None:
    """"5 or one" scored as the count 5 ("one" beside digits read as the pronoun), though "5 or 6" and
    "five or one" name two answers and score 0."""
    # A number word beside the "or" joins it as digits do: "five or one" is two answers beside a 5 too.
    for wrong in ("5 or one", "one or 5", "5, or one", "It is 5 or one", "It is 5 (five or one)"):
        assert verify(wrap(wrong), record(INTEGER))["accuracy"] == 0.0, wrong
        assert verify(wrap(wrong), record({**INTEGER, "value": 1}))["accuracy"] == 0.0, wrong
    assert verify(wrap("5 boxes, one on each target"), record(INTEGER))["accuracy"] == 1.0
    # "or" joining "one" to a word is the pronoun still: only a number beside the "or" makes it an answer.
    for right in ("5 boxes, one or more of them on a target", "5: pushing one or the other deadlocks"):
        assert verify(wrap(right), record(INTEGER))["accuracy"] == 1.0, right


def test_third_round_of_verifier_mutation_gaps_is_pinned() -> None:
    """More documented behaviours no test held, each found by a mutant that every test passed."""
    # Start after a word that presses a button is the button, whatever word follows (_PRESSES_START).
    assert parse_move(wrap("Use start by the door"), record(NEXT_BUTTON)) == "start"
    # One of each ViGaL tag: a second closing <best_answer> tag makes the tag no answer.
    doubled = snake_reply("UP", "DOWN, RIGHT").replace("</best_answer>", "</best_answer></best_answer>")
    assert verify(doubled, record(SNAKE))["accuracy"] == 0.0
    # A \\boxed{} whose braces never balance is no answer, as an unclosed answer tag is not.
    assert verify("<think>a</think> so \\boxed{5", record(INTEGER))["accuracy"] == 0.0
    # A verifier that is no object is refused by name, never an AttributeError in the reader that checks it.
    for spec in ("integer", ["rule"], 5):
        assert spec_problem(spec).startswith("verifier must be an object with a 'rule'"), spec
    # The word rule's accepted words must be a list ("UP" would match by substring).
    assert "'accepted' must be a list of words" in spec_problem({**WORD, "accepted": "UP"})
    # A spec built in Python may hold tuples where JSON holds lists.
    as_tuples = {**CHOICE, "options": tuple(CHOICE["options"])}
    assert spec_problem(as_tuples) is None and verify(wrap("B"), record(as_tuples))["accuracy"] == 1.0
    # Any bytes-like reply that is UTF-8 is text, a memoryview as bytes are.
    assert verify(memoryview(wrap("5").encode()), record(INTEGER))["overall"] == 1.0
    # TRL completions: a content part that is no message part is skipped, never an AttributeError; a list
    # that holds no message is no completion (scored 0, not read as the text of its repr).
    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    parts = [[{"role": "assistant", "content": ["stray", {"type": "text", "text": wrap("5")}]}]]
    assert rewards.trl_accuracy_reward(parts, ground_truth=[gt]) == [1.0]
    assert rewards.trl_accuracy_reward([["5"]], ground_truth=[gt]) == [0.0]


def test_fourth_round_of_verifier_mutation_gaps_is_pinned() -> None:
    """Documented behaviours no test held, each found by a mutant of vlm/verify.py that every test passed."""
    # A tag may hold up to three spaces on each side of its name, as "< answer >" holds one.
    spaced = "<   think   >a</   think   ><   answer   >5<   /answer   >"
    assert verify(spaced, record(INTEGER))["overall"] == 1.0
    # A stray closing answer tag in the reasoning is a second answer tag: it costs the accuracy too.
    assert verify("<think>a</answer></think><answer>5</answer>", record(INTEGER))["accuracy"] == 0.0
    # Quotes around the answer are wrapping, as brackets and emphasis are.
    assert verify(wrap('"Pallet Town"'), "Pallet Town")["accuracy"] == 1.0
    assert verify(wrap("'5'"), record(CHOICE))["accuracy"] == 1.0
    # A lowercase button a before a link word, or in quotes or emphasis inside a sentence, names the button.
    for reply in ("press a twice", "I would press 'a' here", "I would press *a* here"):
        assert parse_move(wrap(reply), record(NEXT_BUTTON)) == "a", reply
    # The capital A opening a sentence before a verb of the button is the button, not the article.
    for reply in ("A confirms it", "A talks to him", "A opens the door", "A selects the item"):
        assert parse_move(wrap(reply), record(NEXT_BUTTON)) == "a", reply
    # Start before a word that says what the button does, or after one that presses it, is the button.
    for reply in ("Start opens the menu", "Start pauses the game", "Start brings the menu",
                  "Open the start menu", "Pause using start by the door"):
        assert parse_move(wrap(reply), record(NEXT_BUTTON)) == "start", reply
    # The pronoun I before a contraction is no option I; I before a verb that fits an option, or after a
    # word that picks one, is option I.
    for reply in ("I'll go with B", "I've picked B"):
        assert verify(wrap(reply), record(NINE_B))["accuracy"] == 1.0, reply
    for reply in ("I matches the turn", "I pick I because it fits"):
        assert verify(wrap(reply), record(NINE_I))["accuracy"] == 1.0, reply
    # Every key a rule reads is checked by name: a malformed record is refused, never a crash mid-training.
    assert "'axis' must be an axis name" in spec_problem({**ANGLE_FREE, "axis": None})
    assert "'answer' must be the answer text" in spec_problem({"rule": "exact", "answer": None})
    assert "'good' must be a list of moves" in spec_problem({**SNAKE, "good": [1]})
    assert spec_problem({"rule": None}).startswith("verifier rule None is not one of choice, integer")


def test_start_again_before_a_punctuation_mark_is_the_button() -> None:
    """_VERB_START meant "again" before the end or a punctuation mark to keep start the button, but the word
    boundary after the group never matched after a punctuation mark: "Start again" was the button and
    "Start again." the verb, so a full stop scored a right answer 0. Found by a mutant that dropped the
    punctuation branch and every test passed."""
    for reply in ("Start again", "Start again.", "start again!", "Start again, then stop"):
        assert parse_move(wrap(reply), record(NEXT_BUTTON)) == "start", reply
    assert parse_move(wrap("Start again and go up"), record(NEXT_BUTTON)) == "up"  # the verb: "start over"


def test_reward_adapter_mutation_gaps_are_pinned() -> None:
    """Documented behaviours of vlm/rewards.py no test held, each found by a mutant that every test passed."""
    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    # A format weight of 1 is a weight (the format alone), as 0 is (the accuracy alone).
    assert rewards.compute_score(wrap("6"), gt, format_weight=1.0)["overall"] == 1.0
    # Every end-of-turn token a template ends a reply with goes, so a bare reply is still bare.
    for end in ("</s>", "<\uff5cend\u2581of\u2581sentence\uff5c>", "<|eot_id|>", "<end_of_turn>", "<eos>"):
        assert rewards.response_from_query("P5" + end, "P") == "5", end
    # A suffix of the prompt under 32 characters found in the query is no prompt: "</answer>", which the
    # prompt's instruction ends with and the reply holds, cut the reply at its own answer tag.
    query = "Human: How many?\nAssistant: " + wrap("5")
    assert rewards.response_from_query(query, "q" * 40 + " inside <answer></answer>") == wrap("5")
    # The assistant marker without its line break marks the reply too.
    chat = "<|im_start|>user\nHow many?<|im_end|><|im_start|>assistant"
    assert rewards.response_from_query(chat + wrap("5"), "another prompt") == wrap("5")


def test_fifth_round_of_verifier_mutation_gaps_is_pinned() -> None:
    """Word lists and boundaries in vlm/verify.py's patterns that a mutant changed, every test passing."""
    # A capital counts as a letter only standing alone: the first letter of "Definitely" is no option D.
    assert verify(wrap("Definitely B"), record(CHOICE))["accuracy"] == 1.0
    assert verify(wrap("Having checked, B"), record(NINE_B))["accuracy"] == 1.0
    # A lowercase option letter before a verb that judges it is the letter.
    for reply in ("option b seems right", "option b looks right", "option b matches"):
        assert verify(wrap(reply), record(CHOICE))["accuracy"] == 1.0, reply
    # A lowercase button a after "select" or "choose", start after "hitting" or "tapping", the capital A
    # before "twice": each is the button.
    for reply, button in (("select a", "a"), ("choose a.", "a"), ("hitting start by the door", "start"),
                          ("tapping start by the door", "start"), ("A twice", "a")):
        assert parse_move(wrap(reply), record(NEXT_BUTTON)) == button, reply


def test_start_again_closed_by_a_quote_bracket_or_emphasis_is_the_button() -> None:
    """"Start again" before the end is the button, but quoted, bracketed or in Markdown emphasis the mark
    that closes it was no punctuation mark of _VERB_START's: the verb, a right answer scored 0. The marks
    are those that close a one-letter option (_LETTER); a word after them still makes start the verb."""
    for reply in ('"Start again"', "'Start again'", "**Start again**", "(Start again)", "`Start again`",
                  "[Start again]", "Start again*"):
        assert parse_move(wrap(reply), record(NEXT_BUTTON)) == "start", reply
    assert parse_move(wrap('Start again "up"'), record(NEXT_BUTTON)) == "up"


def test_a_boxed_answer_is_read_after_the_reasoning_whatever_the_reasoning_boxed() -> None:
    """Without an answer tag the single \\boxed{} after </think> is the answer: math-tuned models box
    intermediate results while they reason, and counting those too made a right boxed answer two
    answers, scored 0. A box only inside the reasoning is still no answer."""
    boxed_twice = "<think>Two rows: \\boxed{4} boxes, plus one.</think>\n\\boxed{5}"
    assert verify(boxed_twice, record(INTEGER))["accuracy"] == 1.0
    guessed = "<think>First guess \\boxed{(4, 3)}, but x comes first.</think>\nSo \\boxed{(3, 4)}"
    assert verify(guessed, record(COORD))["accuracy"] == 1.0
    assert verify("<think>Maybe \\boxed{5}.</think>\n\\boxed{4}", record(INTEGER))["accuracy"] == 0.0
    assert verify("<think>It is \\boxed{5}.</think>\nDone.", record(INTEGER))["accuracy"] == 0.0


def test_a_bare_reply_after_the_reasoning_is_read_from_just_after_its_end() -> None:
    """A short reply with no answer tag after </think> is the answer, all of it and nothing of the tag:
    an option's own text or an exact answer must match whole (a stray ">" of the tag was no option)."""
    for reply in ("<think>Counted.</think>5", "<think>Counted.</think>\n5 "):
        assert verify(reply, record(CHOICE))["accuracy"] == 1.0, reply
    assert verify("<think>Checked.</think>ok", {"rule": "exact", "answer": "ok"})["accuracy"] == 1.0
    assert verify("<think>Counted.</think>7", record(CHOICE))["accuracy"] == 0.0


def test_easyr1_s_batch_given_by_keyword_is_scored_as_given_by_position() -> None:
    """compute_score takes current EasyR1's batch by its parameter's name, reward_inputs, as well as by
    position: a keyword call read only reward_input, found None and failed iterating it."""
    rewards = load_rewards()
    gt = ground_truth_json(record(INTEGER, "5"))
    batch = [{"response": wrap("5"), "response_length": 9, "ground_truth": gt},
             {"response": wrap("6"), "response_length": 9, "ground_truth": gt}]
    assert rewards.compute_score(reward_inputs=batch) == rewards.compute_score(batch)
    assert [s["overall"] for s in rewards.compute_score(reward_inputs=batch, format_weight=0.5)] == [1.0, 0.5]


def test_answer_tags_inside_the_reasoning_are_never_read_as_the_answer() -> None:
    """Tags are read after </think> only: Snake's two tags written only in the reasoning, or an answer
    opened in the reasoning and closed after it, earn no accuracy and name no move (ADVERSARIAL held only
    <answer> wholly inside the reasoning, so reading the tags from the whole reply passed)."""
    hidden = ("<think>Maybe <best_answer>UP</best_answer><worst_answer>DOWN, RIGHT</worst_answer></think>"
              "I am not sure.")
    assert verify(hidden, record(SNAKE))["accuracy"] == 0.0
    every_fatal = {**SNAKE, "good": [], "fatal": MOVES}
    none = ("<think>Maybe <best_answer>None</best_answer><worst_answer>UP, DOWN, LEFT, RIGHT</worst_answer>"
            "</think>Not sure.")
    assert verify(none, record(every_fatal))["accuracy"] == 0.0
    assert not names_no_move(none, record(every_fatal))
    assert verify("<think>Count <answer>5</think> boxes</answer>", record(INTEGER))["accuracy"] == 0.0


def test_a_reply_whose_think_block_the_template_opened_is_read_after_its_close() -> None:
    """Chat templates that open <think> in the prompt (Qwen3, DeepSeek-R1) leave the reply only its
    </think>: the answer is still what follows it, a bare one included, and tags in the reasoning before
    it are no answer."""
    reasoning = "Four boxes, then one more.\n</think>\n"
    assert verify(reasoning + "5", record(INTEGER))["accuracy"] == 1.0
    assert verify(reasoning + "<answer>5</answer>", record(INTEGER))["overall"] == 1.0
    hidden = "Maybe <best_answer>UP</best_answer><worst_answer>DOWN, RIGHT</worst_answer>\n</think>\nUnsure."
    assert verify(hidden, record(SNAKE))["accuracy"] == 0.0


YES_NO = {"rule": "word", "choices": ["yes", "no"], "accepted": ["no"]}  # Snake's alive, Pokémon's in battle


def test_a_negated_answer_is_not_credited() -> None:
    """Every rule read the answer a reply negated as the one it gave: "Not RIGHT", "All except RIGHT",
    "Don't go RIGHT", "Not yes", "Not (3, 4)", "Not 5", "Not B" scored 1 where that was the answer. A
    negation takes back what follows it up to the next punctuation mark or "is": a reply whose answer it
    covers names none, where a negation of anything else changes nothing."""
    yes = {**YES_NO, "accepted": ["yes"]}
    for reply, spec in (("Not RIGHT", WORD | {"accepted": ["RIGHT"]}), ("All except UP", WORD),
                        ("Anything but LEFT", WORD), ("Don't go UP", WORD), ("I would never move UP", WORD),
                        ("Avoid LEFT", WORD), ("LEFT instead of DOWN", WORD), ("Not yes", yes),
                        ("Not (3, 4)", COORD), ("not (3,4)", COORD), ("Not 5", INTEGER),
                        ("It is not 5.0", INTEGER), ("The answer is not 5", INTEGER), ("Not B", CHOICE),
                        ("not option b", CHOICE), ("Not X-", TURN), ("Not 270 about Z", ANGLE_FREE),
                        ("Don't press a", NEXT_BUTTON | {"accepted": ["a"]}),
                        # the negated answer is a second one beside the answer given: none is credited
                        ("Not RIGHT, LEFT", WORD), ("UP, not DOWN", WORD), ("I would not go DOWN; UP", WORD),
                        ("(3, 4), not (4, 3)", COORD), ("B, not C", CHOICE),
                        ("Not 90: 270 about Z", ANGLE_FREE)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    for reply in ("Not RIGHT", "All except RIGHT", "Not RIGHT, LEFT"):
        assert parse_move(wrap(reply), record(WORD)) is None, reply
    assert verify(snake_reply("Not UP", "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 0
    assert verify(snake_reply("UP", "DOWN, RIGHT, not LEFT"), record(SNAKE))["accuracy"] == 0
    # A negation of anything but an answer changes nothing.
    for reply, spec in (("No, it is not alive", YES_NO), ("It doesn't survive, so no", YES_NO),
                        ("5 (not counting the head)", INTEGER), ("Not sure, but B", CHOICE),
                        ("The colour that does not appear is B", CHOICE), ("Yes, it does not die", yes),
                        ("(3, 4), not the apple", COORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply
    assert verify(snake_reply("UP (not fatal)", "DOWN, RIGHT (not safe)"), record(SNAKE))["accuracy"] == 1.0


def test_digits_with_two_points_are_no_number() -> None:
    """A run of digits with two points (a version, a date, "1.0.5") was read as its first decimal: "1.0.5"
    scored as the count 1 and "(1.0.3, 4)" as the cell (1, 4). It is no number at all now."""
    for reply, spec in (("1.0.5", {**INTEGER, "value": 1}), ("v1.0.5", {**INTEGER, "value": 1}),
                        ("12.0.5", {**INTEGER, "value": 12}), ("12.0.5", {**INTEGER, "value": 1}),
                        ("5.1.2024", INTEGER), ("(1.0.3, 4)", {**COORD, "value": [1, 4]}),
                        ("3.0.0 about Z", {**ANGLE_FREE, "angle": 3})):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    for reply in ("5.", "5.0.", "It is 5. Then it grows.", "5.0"):  # a full stop after a number ends it
        assert verify(wrap(reply), record(INTEGER))["accuracy"] == 1.0, reply


def test_spoken_yes_and_no_and_no_longer_answer_a_yes_no_question() -> None:
    """"Nope", "Nah", "Yep", "Yeah", "Yup" and "It is no longer alive" (Snake's alive question) named
    neither yes nor no, so a plain answer scored 0; they are that answer now, and two of them still none."""
    yes = record({**YES_NO, "accepted": ["yes"]})
    for reply in ("Nope", "nope.", "**Nope**", "Nah", "Nope, it hits the wall", "It is no longer alive",
                  "no longer in a battle"):
        assert verify(wrap(reply), record(YES_NO))["accuracy"] == 1.0, reply
        assert verify(wrap(reply), yes)["accuracy"] == 0.0, reply
    for reply in ("Yep", "Yeah.", "Yup, it survives"):
        assert verify(wrap(reply), yes)["accuracy"] == 1.0, reply
    for reply in ("Yeah, no", "Nope, yes", "Yes, but it is no longer growing"):
        assert verify(wrap(reply), yes)["accuracy"] == 0.0, reply
        assert verify(wrap(reply), record(YES_NO))["accuracy"] == 0.0, reply
    # Other questions' words are read as before: "nah" names no move.
    assert verify(wrap("Nah, UP"), record(WORD))["accuracy"] == 1.0


# Free-form replies of each question kind, right, wrong, hedged, negated, doubled; every trainer's reward
# must score each as score_predictions.py does.
FREE_FORM = [
    (YES_NO, ["No", "Nope", "No battle", "It is no longer alive", "Not yes", "Yes or no? No.", "**No**",
              "The snake hits its own body on move 3.\nAnswer: No", "I don't think so", "no idea"]),
    (INTEGER, ["5", "five", "5 cells", "Not 5", "1.0.5", "5 or 6", "$5$", "\\boxed{5}", "5, not six",
               "Not sure but I think 5", "5 isn't right", "None", "5 boxes, none on a target"]),
    ({**INTEGER, "value": 0}, ["None", "None yet", "No badges", "zero", "0 or none", "No idea",
                               "There aren't any apples", "Not any of them"]),  # badges
    ({**INTEGER, "value": 0, "count": False}, ["None", "0", "Map 0"]),  # Pokémon's map id
    (COORD, ["(3, 4)", "Not (3, 4)", "(3, 4) or (4, 3)", "x=3, y=4", "(1.0.3, 4)"]),
    (WORD, ["UP", "All except UP", "Don't go LEFT", "UP or LEFT", "**LEFT**", "Move UP, not DOWN",
            "I cannot see a wall so UP", "Don't go UP so it lives", "Dont go UP",
            "UP is not safe", "Moving UP would be a mistake", "UP, which is wrong",
            "UP (that would be fatal)", "UP -- that is wrong"]),
    (CHOICE, ["B", "Not B", "B, not C", "The answer is B.", "B. 5", "Option B is not correct", "B is wrong"]),
    (NEXT_BUTTON, ["Press A", "Walk up a bit", "Not A"]),
    (ANGLE_FREE, ["270 about Z", "Not 270 about Z", "-90 degrees about the z axis"]),
]


def test_the_trainers_rewards_score_a_reply_as_score_predictions_does() -> None:
    """score_predictions.py (vlm.scoring.score_predictions) and the reward functions every trainer loads
    from vlm/rewards.py, given the ground truth the export writes, agree on each free-form reply."""
    from vlm.scoring import score_predictions

    rewards = load_rewards()
    prompt = "<|im_start|>user\nHow many? Answer in <answer></answer>.<|im_end|>\n<|im_start|>assistant\n"
    seen = set()
    for spec, answers in FREE_FORM:
        rec = record(spec)
        gt = ground_truth_json(rec)
        for answer in answers:
            for reply in (answer, wrap(answer)):
                got = score_predictions([rec], {rec.id: reply}).as_dict()["overall"]
                want = [got["accuracy"], got["format"]]
                seen.add(got["accuracy"])
                assert [rewards.trl_accuracy_reward([reply], ground_truth=[gt])[0],
                        rewards.trl_format_reward([reply], ground_truth=[gt])[0]] == want, reply
                # EasyR1 (batch and older), verl
                for s in (rewards.compute_score([{"response": reply, "ground_truth": gt}])[0],
                          rewards.compute_score(reply, gt),
                          rewards.compute_score(data_source="d", solution_str=reply, ground_truth=gt)):
                    assert [s["accuracy"], s["format"]] == want, reply
                out = rewards.reward_func([prompt + reply + "<|im_end|>"], [prompt], [gt])  # OpenRLHF
                assert [out["accuracy_rewards"][0], out["format_rewards"][0]] == want, reply
    assert seen == {0.0, 1.0}  # right and wrong replies both met


def test_an_option_text_or_exact_answer_holding_a_negation_is_compared_whole() -> None:
    """A negation takes back an answer it covers, but an option's own text and an exact ground truth are
    the answer as written: "The box is not on a target" names its option, "Not Pallet Town" matches."""
    spec = record({"rule": "choice", "answer": "B",
                   "options": ["The box is on a target", "The box is not on a target", "No box moved"]})
    for right in ("The box is not on a target", "B. The box is not on a target",
                  "(b) the box is not on a target"):
        assert verify(wrap(right), spec)["accuracy"] == 1.0, right
    for wrong in ("A. The box is not on a target", "Not B", "Not A"):
        assert verify(wrap(wrong), spec)["accuracy"] == 0.0, wrong
    exact = record({"rule": "exact", "answer": "Not Pallet Town"})
    assert verify(wrap("Not Pallet Town"), exact)["accuracy"] == 1.0


def test_a_negation_ends_at_a_conjunction_or_a_dash() -> None:
    """A negation took back everything up to a punctuation mark, so a right answer after a hedge joined by
    a conjunction or a dash scored 0 where it had scored 1 before negations were read: "I cannot see a
    wall so UP", "Not sure but I think 5", "It won't die - yes". It ends at "but", "so", "and" and a
    dash too; the answer it covers before them is still none."""
    yes = {**YES_NO, "accepted": ["yes"]}
    for reply, spec in (("I cannot see a wall so UP", WORD), ("Not sure but I think 5", INTEGER),
                        ("Avoid the wall and go UP", WORD), ("I can't be sure - B", CHOICE),
                        ("It won't die - yes", yes), ("Not alive — no", YES_NO), ("Not alive—no", YES_NO),
                        ("I don't see a wall so (3, 4)", COORD), ("Never mind and turn X-", TURN),
                        ("I'm not so sure, but UP", WORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply
    for reply, spec in (("Don't go UP so the snake lives", WORD), ("Not 5 - 6", INTEGER),
                        ("Not B but C", CHOICE), ("I'm not so sure about UP", WORD), ("Not X- and", TURN),
                        ("Never (3, 4) and", COORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply


def test_an_answer_said_to_be_wrong_is_not_credited() -> None:
    """A negation after the answer ("Option B is not correct", "5 isn't right") took back nothing before
    it, so the reply was credited with the answer it rejects. The word (or bracketed pair) before "is
    not"/"isn't"/"was not"/"wasn't" with correct, right, true, valid or the answer is taken back; other
    predicates keep it, as an option's text may say ("B is not on a target", "UP is not blocked")."""
    for reply, spec in (("Option B is not correct", CHOICE), ("B is not correct", CHOICE),
                        ("**B** isn't right", CHOICE), ("b is not the answer", CHOICE),
                        ("5 is not right", INTEGER), ("(3, 4) is not the correct answer", COORD),
                        ("UP is not correct", WORD),
                        ("Yes is not the answer", YES_NO | {"accepted": ["yes"]}),
                        ("X- wasn't valid", TURN), ("270 about Z is not true", ANGLE_FREE),
                        ("A is not correct; B is", CHOICE)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    for reply, spec in (("B: the rest is not correct", CHOICE), ("No, that is not right", YES_NO),
                        ("UP is not blocked", WORD),
                        ("B is the answer", CHOICE)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply
    target = record({"rule": "choice", "answer": "B",
                     "options": ["B is on a target", "B is not on a target", "No box moved"]})
    for right in ("B is not on a target", "B. B is not on a target", "Option B"):
        assert verify(wrap(right), target)["accuracy"] == 1.0, right


def test_none_is_the_count_zero() -> None:
    """A count of zero written "None" (Pokémon's badges at the start, Sokoban's boxes on targets) named no
    number, so the right answer scored 0; "none" is the number 0 now, as "zero" is. Beside digits it is
    the pronoun, as "one" is ("5 boxes, none on a target" is 5), unless "or" joins it to them; "no
    idea" stays no answer ("No badges", no before a plural noun, is 0 too: see below)."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("None", "none.", "**None**", "None yet", "None of the boxes", "I see none", "zero", "0"):
        assert verify(wrap(reply), zero)["accuracy"] == 1.0, reply
        assert verify(wrap(reply), record(INTEGER))["accuracy"] == 0.0, reply
    for reply in ("None or 1", "1 or none", "None, two", "Not none", "no idea"):
        assert verify(wrap(reply), zero)["accuracy"] == 0.0, reply
    assert verify(wrap("5 boxes, none on a target"), record(INTEGER))["accuracy"] == 1.0
    assert verify(wrap("5 or none"), record(INTEGER))["accuracy"] == 0.0


def test_the_negation_rule_s_mutation_gaps_are_pinned() -> None:
    """Mutants of _NEGATION that every test passed: a negation word, the curly n’t or the word boundary
    dropped, a bracket read piece by piece, a terminator (punctuation, comma, line end, are/was/were, the
    word boundary before "is", the space after a punctuation mark) dropped. Each reply below tells the
    mutant from the rule (the body's "any character but a line break" written "." is the same pattern)."""
    right = {**WORD, "accepted": ["RIGHT"]}
    for reply, spec in (("Cannot go UP", WORD), ("Avoiding UP", WORD), ("Instead of UP", WORD),
                        ("Rather than UP", WORD), ("Anything other than UP", WORD),
                        ("Everything but UP", WORD), ("All but UP", WORD), ("Don’t go UP", WORD),
                        ("Never go (it is fatal) RIGHT", right), ("Never go [it is fatal] RIGHT", right),
                        ("Not 5\n(I counted twice)", INTEGER), ("Avoid this UP move", WORD),
                        ("It is not 0.0", {**INTEGER, "value": 0})):  # a point inside a number ends nothing
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    for reply, spec in (("Nothing blocks UP", WORD), ("Note that UP is free", WORD),
                        ("Never mind: RIGHT", right), ("Not sure. B", CHOICE), ("I can't tell; 5", INTEGER),
                        ("Not sure! UP", WORD), ("Not sure, UP", WORD),
                        ("Those that are not fatal are UP", WORD),
                        ("The move that was not blocked was UP", WORD),
                        ("The cells that were not walls were (3, 4)", COORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply


def test_the_denial_rule_s_mutation_gaps_are_pinned() -> None:
    """Mutants that every test passed: _DENIED's brackets read piece by piece, "my answer", the word
    boundary after its predicate or its case folding dropped, and _snake_moves no longer reading a
    negated fatal move as none (the only such test named a third move besides)."""
    for reply, spec in (("(5 boxes) is not right", INTEGER), ("[5 boxes] is not right", INTEGER),
                        ("B is not my answer", CHOICE), ("Option B Is Not Correct", CHOICE)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    assert verify(wrap("UP is not rightmost"), record(WORD))["accuracy"] == 1.0
    assert verify(snake_reply("UP", "DOWN"), DOWN_FATAL)["accuracy"] == 1.0
    assert verify(snake_reply("UP", "Not DOWN"), DOWN_FATAL)["accuracy"] == 0.0


def test_a_negation_written_without_its_apostrophe_takes_back_the_answer() -> None:
    """"Dont go UP", "It isnt yes", "Cant be 5": a contraction without its apostrophe, as models often write
    it, negated nothing, so the answer it took back was credited. It is a negation as "don't" is; a
    negation of anything else still changes nothing."""
    yes = {**YES_NO, "accepted": ["yes"]}
    for reply, spec in (("Dont go UP", WORD), ("dont UP", WORD), ("I wont go UP", WORD), ("Cant go UP", WORD),
                        ("You shouldnt go UP", WORD), ("It isnt yes", yes), ("It doesnt say yes", yes),
                        ("It didnt reach 5", INTEGER), ("The answer isnt 5", INTEGER),
                        ("Dont pick B", CHOICE), ("Dont go UP so it lives", WORD), ("5 isnt right", INTEGER),
                        ("B wasnt correct", CHOICE),
                        ("Don’t go UP", WORD), ("It isn’t 5", INTEGER)):  # the curly apostrophe as before
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    for reply, spec in (("It doesnt survive, so no", YES_NO), ("I cant see a wall so UP", WORD),
                        ("Dont know, but B", CHOICE), ("5 (dont count the head)", INTEGER),
                        ("UP isnt blocked", WORD), ("It wont die - yes", yes), ("I cant tell; 5", INTEGER)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply


def test_every_auxiliary_without_its_apostrophe_negates() -> None:
    """Mutation survivors of the apostrophe-less contractions: the test above names dont, doesnt, didnt,
    isnt, cant, wont and shouldnt alone, so "wasnt", "werent", "hasnt", "havent", "hadnt", "wouldnt",
    "couldnt" and "mustnt" could each be dropped from the list with every test passing, and a reply with
    it credited the move it took back ("It wasnt UP" scored 1 where UP was right)."""
    for aux in ("do", "does", "did", "is", "are", "was", "were", "has", "have", "had", "ca", "wo", "would",
                "could", "should", "must", "need"):
        assert verify(wrap(f"It {aux}nt go UP"), record(WORD))["accuracy"] == 0.0, aux
    assert verify(wrap("It will go UP"), record(WORD))["accuracy"] == 1.0  # UP, not negated


def test_aint_without_its_apostrophe_negates() -> None:
    """"I aint going UP", "It aint 5": "ain't" negated as every contraction with n't does, but written
    without its apostrophe it was no auxiliary of _NT's, so the move or count it takes back was credited."""
    for reply, spec in (("I aint going UP", WORD), ("It aint 5", INTEGER), ("Aint B", CHOICE)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
        assert verify(wrap(reply.replace("aint", "ain't")), record(spec))["accuracy"] == 0.0, reply


def test_an_answer_the_reply_calls_wrong_or_bad_is_not_credited() -> None:
    """"B is wrong", "UP is incorrect", "(3, 4) is wrong", "UP is not safe", "UP is a bad move", "Moving UP
    would be a mistake": a reply that rejects an answer in its own words was credited with it. The word
    (or bracketed pair) before is/was/would be with wrong, incorrect, false, invalid, unsafe, fatal, deadly,
    a mistake, an error, a bad move/idea/choice/answer, or before is not/would not be with safe or a good
    move/idea/choice/answer is taken back; a worst answer, which asks for the bad moves, keeps them."""
    yes = {**YES_NO, "accepted": ["yes"]}
    for reply, spec in (("B is wrong", CHOICE), ("Option B is incorrect", CHOICE), ("UP is incorrect", WORD),
                        ("(3, 4) is wrong", COORD), ("UP is not safe", WORD), ("UP isn't safe", WORD),
                        ("UP is unsafe", WORD), ("UP is a bad move", WORD), ("UP was a bad idea", WORD),
                        ("Moving UP would be a mistake", WORD), ("Going UP is fatal", WORD),
                        ("5 is false", INTEGER), ("Yes is wrong", yes), ("X- would be an error", TURN),
                        ("UP would not be safe", WORD), ("UP is not a good move", WORD),
                        ("270 about Z is wrong", ANGLE_FREE), ("UP is the wrong move", WORD),
                        ("B would not be correct", CHOICE)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    assert verify(snake_reply("UP is unsafe", "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 0.0
    # Other predicates, or a negated verdict, keep the answer; so does a worst answer calling a move bad.
    for reply, spec in (("UP is not blocked", WORD), ("UP is safe", WORD), ("UP is not wrong", WORD),
                        ("B is right", CHOICE), ("No, that would be a mistake", YES_NO),
                        ("DOWN is fatal, so UP", WORD | {"choices": ["UP", "LEFT"]}),
                        ("The wrong move is DOWN; UP", WORD | {"choices": ["UP", "LEFT"]})):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply
    for worst in ("DOWN is fatal, RIGHT is fatal", "DOWN would be a mistake, RIGHT too",
                  "DOWN, RIGHT (both are unsafe)", "DOWN is unsafe, RIGHT is unsafe"):
        assert verify(snake_reply("UP", worst), record(SNAKE))["accuracy"] == 1.0, worst


def test_each_verdict_word_takes_the_answer_back() -> None:
    """Hand-mutation survivors of _WRONG: "invalid", "a bad choice", "a bad answer" and "the wrong option"
    had no test, so each could be dropped with every test passing, and "B is invalid", "B was a bad choice",
    "5 is a bad answer" or "B is the wrong option" credited the answer it rejects."""
    for reply, spec in (("B is invalid", CHOICE), ("B was a bad choice", CHOICE),
                        ("5 is a bad answer", INTEGER), ("B is the wrong option", CHOICE),
                        ("UP, which is invalid", WORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply


def test_wouldnt_be_with_a_verdict_takes_the_answer_back() -> None:
    """A hand-mutation survivor of _IS_NOT: "wouldn't be" (and "wouldnt be") had no test beside "would not
    be", so it could be dropped with every test passing, and "UP wouldn't be safe" or "B wouldnt be correct"
    credited the answer it rejects."""
    for reply, spec in (("UP wouldn't be safe", WORD), ("B wouldnt be correct", CHOICE),
                        ("UP wouldn\u2019t be a good move", WORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply


def test_none_is_no_number_where_the_integer_is_no_count() -> None:
    """"None" read as 0 for every integer question, so a reply that named no map scored as Pokémon's map 0
    (Pallet Town). An integer spec with "count": false (an id: a map, a player's number) reads "none" as
    no number; a count, marked or not (older exports), still reads it as 0, and "zero" is 0 for both."""
    map_zero = record({**INTEGER, "value": 0, "count": False})
    for reply in ("None", "none.", "None yet", "I see none"):
        assert verify(wrap(reply), map_zero)["accuracy"] == 0.0, reply
        assert verify(wrap(reply), record({**INTEGER, "value": 0, "count": True}))["accuracy"] == 1.0, reply
    for reply in ("0", "zero", "Map 0", "0, none other"):
        assert verify(wrap(reply), map_zero)["accuracy"] == 1.0, reply
    assert verify(wrap("5 or none"), record({**INTEGER, "count": False}))["accuracy"] == 1.0
    assert spec_problem({**INTEGER, "count": None}) is None
    assert "'count' must be true, false or null" in spec_problem({**INTEGER, "count": "no"})


def test_no_before_a_plural_noun_is_the_count_zero() -> None:
    """"No badges yet", "No boxes on targets", "There are no apples": a count of zero said with the
    question's plural noun named no number, so the right answer scored 0. "no" before a plural noun is the
    count 0 now, as "none" is (beside other numbers a determiner: "No walls, so 5" is 5), where the
    integer is a count; "No idea", "No clue", "No, 5" and "No less than 3" are no 0."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("No badges yet", "No boxes on targets", "There are no apples", "NO MOVES NEEDED",
                  "**No cubes**", "I see no turns left"):
        assert verify(wrap(reply), zero)["accuracy"] == 1.0, reply
        assert verify(wrap(reply), record({**zero.verifier, "count": False}))["accuracy"] == 0.0, reply
    for reply, spec in (("No, 5", INTEGER), ("No walls in the way, so 5 moves", INTEGER),
                        ("5 moves, no walls in the way", INTEGER)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply
    for reply in ("No idea", "No clue", "no answer", "No, 5", "No less than 3",
                  "No boxes or 1", "1 or no boxes", "Not no boxes", "No badges, not 1", "no matter"):
        assert verify(wrap(reply), zero)["accuracy"] == 0.0, reply
    for reply in ("No boxes or 1", "1 or no boxes"):  # two answers, as "1 or none"
        assert verify(wrap(reply), record({**INTEGER, "value": 1}))["accuracy"] == 0.0, reply


def test_no_before_a_plural_noun_is_a_determiner_beside_a_number_word_too() -> None:
    """"No walls, so five" and "No apples are eaten, so it stays three cells long" scored 0 (before "no"
    before a plural noun read as 0 they scored 1): "none" was a determiner beside digits only, so the
    number word made two answers. Beside any other number it is the determiner ("five boxes, none on a
    target" is 5, as "5 boxes, none on a target" is); "or" still joins it to one ("No boxes or one")."""
    for reply, value in (("No walls, so five", 5), ("No apples are eaten, so it stays three cells long", 3),
                         ("five boxes, none on a target", 5), ("one box, no targets", 1),
                         ("No walls, so 5", 5)):
        assert verify(wrap(reply), record({**INTEGER, "value": value}))["accuracy"] == 1.0, reply
        assert verify(wrap(reply), record({**INTEGER, "value": 0}))["accuracy"] == 0.0, reply
    for reply in ("No boxes or one", "one or none", "none or five", "No walls, not five"):
        for value in (0, 1, 5):
            assert verify(wrap(reply), record({**INTEGER, "value": value}))["accuracy"] == 0.0, (reply, value)


def test_no_before_a_plural_of_knowing_or_replying_is_no_count() -> None:
    """"No ideas", "No clues", "No answers", "No comments", "No thanks" scored 1 where the count is 0 (each
    plural noun read as the question's, as "No badges" is), though "No idea" and "No clue" say the reply
    knows nothing and score 0. Such nouns are no count's; the question's own still are."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("No ideas", "no clues", "No answers", "No comments", "No thanks", "No guesses",
                  "No thoughts", "No hints", "No details", "No means to tell", "NO CLUES"):
        assert verify(wrap(reply), zero)["accuracy"] == 0.0, reply
    for reply in ("No badges yet", "No boxes on targets", "No ideas, 0", "No clues needed: no apples"):
        assert verify(wrap(reply), zero)["accuracy"] == 1.0, reply
    assert verify(wrap("No ideas, so 5"), record(INTEGER))["accuracy"] == 1.0


def test_no_words_opinions_or_worries_are_no_count() -> None:
    """Mutation survivors of _NO_COUNT_NOUNS: "words", "opinions" and "worries" could each be dropped from
    it with every test passing, and then "No worries, I think", "No words for it" or "No opinions here",
    a reply that names no number, scored 1 on every count whose answer is 0."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("No worries, I think", "No words for it", "No opinions here"):
        assert verify(wrap(reply), zero)["accuracy"] == 0.0, reply


def test_a_count_marked_null_reads_none_and_no_as_zero() -> None:
    """A mutation survivor of the integer spec's "count": a spec with "count": null (spec_problem allows
    it, and a parquet of specs with and without the key gives null to those without) could be read as an
    id, so "None", "No badges" and "There aren't any apples" scored 0 where the count is 0. Null is a count,
    as the key left out is."""
    for reply in ("None", "No badges yet", "There aren't any apples"):
        assert verify(wrap(reply), record({**INTEGER, "value": 0, "count": None}))["accuracy"] == 1.0, reply


def test_no_before_a_long_plural_is_the_count_zero() -> None:
    """A mutation survivor of "no" before a plural noun: the length its noun may have had no test past
    seven letters, so "No obstacles in the way" could be read as no number."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("No obstacles in the way", "No checkpoints reached"):
        assert verify(wrap(reply), zero)["accuracy"] == 1.0, reply


def test_no_images_is_no_count() -> None:
    """A model that got no image ("No images were provided", "I see no images", "No pictures attached")
    scored 1 on every count whose answer is 0, "images" read as the question's plural noun. The reply's
    own materials (images, pictures, screenshots, photos) are no count's noun."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("No images were provided", "I see no images", "No pictures attached", "No screenshots",
                  "No photos given"):
        assert verify(wrap(reply), zero)["accuracy"] == 0.0, reply
    assert verify(wrap("No images, but none of the boxes"), zero)["accuracy"] == 1.0


def test_no_pokemon_is_the_count_zero() -> None:
    """Pokémon's party size at the start is 0, and "No Pokémon yet" (the question's own noun, a plural
    without an s, and with an é the reading of "no" skipped) scored 0 where "No badges yet" scores 1."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("No Pokémon yet", "The player has no Pokémon", "no pokemon", "NO POKÉMON"):
        assert verify(wrap(reply), zero)["accuracy"] == 1.0, reply
        assert verify(wrap(reply), record({**INTEGER, "value": 0, "count": False}))["accuracy"] == 0.0, reply
    for reply in ("No Pokémon yet", "No café"):
        assert verify(wrap(reply), record({**INTEGER, "value": 1}))["accuracy"] == 0.0, reply
    assert verify(wrap("No café"), zero)["accuracy"] == 0.0


def test_the_new_negations_read_whole_words_only() -> None:
    """Mutation survivors of the apostrophe-less contractions and the verdicts: a word that only holds the
    letters of one ("Cantor", "vacant", "scant"; "wrongly") negates nothing, where the words themselves
    ("deadly", "UP" opening a bracket) do."""
    for reply, spec in (("Cantor would say UP", WORD), ("Move UP into the vacant cell", WORD),
                        ("The head moves into the vacant cell (3, 4)", COORD), ("Scant room: 5", INTEGER),
                        ("UP is wrongly drawn as blocked", WORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply
    for reply in ("UP is deadly", "(UP is a bad move)", "[UP is fatal]"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply


def test_no_before_a_word_that_only_ends_in_s_is_no_count() -> None:
    """Mutation survivors of the plural test: a short word ("its"), or one ending in ss, us or is ("No
    guess", "No bonus", "No analysis"), is no plural noun, so "no" before it is no count 0."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("No its hard to say", "No guess", "No bonus", "No analysis", "no this"):
        assert verify(wrap(reply), zero)["accuracy"] == 0.0, reply
    # Nor is "no" at a line's end before the next line's word.
    assert verify(wrap("I see no\nboxes"), zero)["accuracy"] == 0.0


def test_no_before_a_plural_of_four_letters_is_the_count_zero() -> None:
    """A mutation survivor of the plural test: its length bound ("over three letters") had no test on its
    near side, so "No keys" and "not any gems" could be read as no number, though a plural noun of four
    letters is a count's noun as any longer one is; three letters ("its") is not (the test above)."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("No keys", "No gems yet", "There aren't any keys"):
        assert verify(wrap(reply), zero)["accuracy"] == 1.0, reply


def test_not_any_spaced_apart_is_the_count_zero_as_no_is() -> None:
    """A mutation survivor of "not any": its spaces between the words ("not  any", as "no  apples" reads)
    had no test beyond one, so "There aren't  any apples" could be taken back whole by the negation."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("There aren't  any apples", "There are not\t any boxes on targets", "No  apples"):
        assert verify(wrap(reply), zero)["accuracy"] == 1.0, reply


def test_no_one_is_nobody_not_the_number_one() -> None:
    """"No one" and "No one is the spy" read "one" as the number 1: the spy game's answer "player 1"
    (an id) and a count of 1 were credited to a reply that names nobody. "No one" (or "no-one") is
    "none" now: the count 0, and no number at all for an id."""
    spy = record({**INTEGER, "value": 1, "count": False})
    for reply in ("No one", "No one is the spy", "no-one", "NO ONE"):
        assert verify(wrap(reply), spy)["accuracy"] == 0.0, reply
        assert verify(wrap(reply), record({**INTEGER, "value": 1}))["accuracy"] == 0.0, reply
        assert verify(wrap(reply), record({**INTEGER, "value": 0}))["accuracy"] == 1.0, reply
    for reply in ("Player one", "One", "5, no one else"):
        assert verify(wrap(reply), record({**INTEGER, "value": 5 if "5" in reply else 1}))["accuracy"] == 1.0


def test_a_verdict_pointing_back_at_the_answer_takes_it_back() -> None:
    """"UP, which is wrong", "UP - that is wrong", "UP. That is a mistake", "UP (that would be fatal)": a
    reply that names the answer and then rejects it with which/that/this was credited with it, as "UP is
    wrong" no longer is. The same verdicts (and "is not" with _DENIED's correct, right, ...) after which,
    that or this right after the word or bracketed pair take it back; another predicate, a negated verdict,
    yes or no before it (the "that" is the question's: "No, that would be a mistake") and a worst answer,
    which asks for the bad moves, keep it."""
    yes = {**YES_NO, "accepted": ["yes"]}
    two = WORD | {"choices": ["UP", "LEFT"]}
    for reply, spec in (("UP, which is wrong", WORD), ("UP - that is wrong", WORD),
                        ("UP. That is a mistake", WORD), ("UP (that would be fatal)", WORD),
                        ("UP, which is not safe", WORD), ("UP; that's fatal", WORD),
                        ("UP \u2014 that would be a bad move", WORD), ("UP, which isn't a good move", WORD),
                        ("UP: this is wrong", WORD), ("B, which is wrong", CHOICE),
                        ("5, which isn't right", INTEGER), ("(3, 4), which is wrong", COORD),
                        ("X-, that was a mistake", TURN), ("LEFT? That is fatal.", WORD),
                        ("**UP**, which is deadly", WORD), ("UP (which is the wrong move)", WORD),
                        ("UP, that's not correct", WORD), ("UP, WHICH IS WRONG", WORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    assert verify(snake_reply("UP, which is fatal", "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 0.0
    for reply, spec in (("UP, which is safe", WORD), ("UP, which is not wrong", WORD),
                        ("UP - that is free", WORD), ("UP (that is not fatal)", WORD),
                        ("No, that would be a mistake", YES_NO), ("No. That is wrong", YES_NO),
                        ("Yes, that is wrong", yes), ("**No**, which is fatal", YES_NO),
                        ("DOWN, which is fatal; so UP", two), ("5, which is right", INTEGER),
                        ("UP, which is wrongly drawn as blocked", WORD), ("UP, as that is safe", WORD),
                        ("UP. It is wrong to go DOWN", two), ("UP, which is not a mistake", WORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply
    for worst in ("DOWN, which is fatal, RIGHT, which is fatal", "DOWN, RIGHT - that is deadly",
                  "DOWN (that would be fatal), RIGHT (that too)"):
        assert verify(snake_reply("UP", worst), record(SNAKE))["accuracy"] == 1.0, worst


def test_a_verdict_after_a_spoken_yes_or_no_is_the_questions() -> None:
    """Mutation survivors of the verdict pointing back: the spoken forms of yes and no (yep, yup, yeah, nope,
    nah) could each be dropped from the words it never points back to, so "Nope, that would be a mistake"
    took back its own no, as "No, that would be a mistake" does not; and a word that only begins with one
    ("NORTH, which is wrong", a package game's move) must still be taken back."""
    yes = {**YES_NO, "accepted": ["yes"]}
    for reply, spec in (("Nope, that would be a mistake", YES_NO), ("Nah, that is wrong", YES_NO),
                        ("Yep, that is fatal", yes), ("Yup, which is wrong", yes),
                        ("Yeah, that would be a mistake", yes)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply
    compass = WORD | {"choices": ["NORTH", "SOUTH"], "accepted": ["NORTH"]}
    for reply in ("NORTH, which is wrong", "NORTH - that is a mistake"):
        assert verify(wrap(reply), record(compass))["accuracy"] == 0.0, reply
    assert verify(wrap("NORTH, which is safe"), record(compass))["accuracy"] == 1.0


def test_a_verdict_pointing_back_with_a_curly_apostrophe_or_a_dash_spaced_on_one_side() -> None:
    """Mutation survivors of the pointer: "that\u2019s" with the curly apostrophe (as "that's" is) and an em
    dash with a space on one side only ("UP\u2014 that is wrong") had no test, so either could be dropped and
    such a reply credited with the move it rejects."""
    for reply in ("UP; that\u2019s fatal", "UP, that\u2019s not correct", "UP\u2014 that is wrong",
                  "UP \u2014that is wrong"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply


def test_not_any_before_a_plural_noun_is_the_count_zero() -> None:
    """"There aren't any apples", "There are not any boxes on targets": a count of zero said so scored 0,
    the negation taking back "any apples". "not any" (n't any, nt any) before a plural noun is "none", the
    count 0, as "no" before one is; not for an id, nor before a singular or another word ("Not any of UP"
    names nothing, "Not any of them: 5" is 5)."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("There aren't any apples", "There are not any boxes on targets", "Not any badges yet",
                  "There arent any apples", "There weren\u2019t any boxes", "**Not any cubes**",
                  "there are NOT ANY turns left", "The player hasn't any Pok\u00e9mon"):
        assert verify(wrap(reply), zero)["accuracy"] == 1.0, reply
        assert verify(wrap(reply), record({**zero.verifier, "count": False}))["accuracy"] == 0.0, reply
        assert verify(wrap(reply), record(INTEGER))["accuracy"] == 0.0, reply
    for reply in ("Not any", "There isn't any apple", "Not any ideas", "Not any of them",
                  "Not any more apples", "There aren't any apples, not 1", "Not any apples or 5"):
        assert verify(wrap(reply), zero)["accuracy"] == 0.0, reply
    for reply, value in (("There aren't any apples, so 5", 5), ("Not any of them: 5", 5)):
        assert verify(wrap(reply), record({**INTEGER, "value": value}))["accuracy"] == 1.0, reply
    assert verify(wrap("Not any apples or 5"), record(INTEGER))["accuracy"] == 0.0  # as "none or 5"
    for spec in (WORD, YES_NO, CHOICE):
        for reply in ("Not any of UP", "Not any UP", "Not any of B", "Not any yes", "Not any apples"):
            assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, (reply, spec)


def test_a_dash_written_as_two_or_three_hyphens_is_a_dash() -> None:
    """"UP -- that is wrong" scored 1 where "UP - that is wrong" scores 0, and "I can't be sure -- B" scored
    0 where "I can't be sure - B" scores 1: a dash typed as two or three hyphens (plain text's em dash)
    was no dash, so neither the pointer back at the answer nor the negation's end read it. It is one now;
    the en and em dash were read already."""
    for reply, spec in (("UP -- that is wrong", WORD), ("UP --- that would be fatal", WORD),
                        ("UP \u2013 that is wrong", WORD), ("UP\u2014that is wrong", WORD),
                        ("5 -- which isn't right", INTEGER), ("Not 5 -- 6", INTEGER),
                        ("UP--that is wrong", WORD), ("5 apples---which is wrong", INTEGER)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    for reply, spec in (("I can't be sure -- B", CHOICE), ("Not alive --- no", YES_NO),
                        ("UP -- that is safe", WORD), ("No -- that would be a mistake", YES_NO),
                        ("Not sure --- 5", INTEGER), ("UP-- that is free", WORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply


def test_a_verdict_on_a_count_and_its_noun_takes_back_the_count() -> None:
    """"5 apples, which is wrong", "5 apples - that is wrong", "5 apples would be wrong": the verdict took
    back only the word before it ("apples"), so the count it rejects was credited. A number (digits or a
    word up to twenty) right before that one word is taken back with it; the count stays where the
    verdict is another's or says it is right."""
    for reply in ("5 apples, which is wrong", "5 apples - that is wrong", "5 apples would be wrong",
                  "five apples, which isn't right", "5 apples, which is not correct",
                  "5 cells (that is wrong)", "**5** apples, which is incorrect",
                  "5 Pok\u00e9mon, which is wrong", "5.0 apples is false"):
        assert verify(wrap(reply), record(INTEGER))["accuracy"] == 0.0, reply
    for reply in ("5 apples, which is right", "5 apples, which is not wrong", "5 apples; going UP is wrong",
                  "5 apples, which is safe", "5 apples, but 6 would be wrong", "5, so 6 apples is wrong"):
        assert verify(wrap(reply), record(INTEGER))["accuracy"] == (0.0 if "6" in reply else 1.0), reply
    for reply, spec in (("2 cells UP, which is safe", WORD), ("Move 2 cells UP", WORD),
                        ("3 boxes is wrong, B", CHOICE)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply


def test_a_count_of_zero_said_with_a_word_between_is_the_count_zero() -> None:
    """"No gym badges yet" (an adjective between "no" and the plural noun), "I don't see any apples" and "I
    do not see any boxes on targets" (a verb of seeing or having between the negation and "any") scored 0
    where the count is 0, as "No badges yet" and "There aren't any apples" score 1. One word may stand
    between: before "any" a verb of seeing, finding, counting or having, after "no" any word but a link,
    pronoun, article, comparative or number; before a singular, another word or a number it is as before."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("No gym badges yet", "There are no red cubes", "I see no visible apples",
                  "I don't see any apples", "I do not see any boxes on targets", "I can't find any apples",
                  "The player doesn't have any Pok\u00e9mon", "I dont count any boxes on targets"):
        assert verify(wrap(reply), zero)["accuracy"] == 1.0, reply
        assert verify(wrap(reply), record({**zero.verifier, "count": False}))["accuracy"] == 0.0, reply
        assert verify(wrap(reply), record(INTEGER))["accuracy"] == 0.0, reply
    for reply in ("I don't see any wall so 3", "No gym badges, so 3", "No, 3", "I don't see any apples, so 3",
                  "No more than 3 apples", "No gym badges; 3 apples"):
        assert verify(wrap(reply), record({**INTEGER, "value": 3}))["accuracy"] == 1.0, reply
        assert verify(wrap(reply), zero)["accuracy"] == 0.0, reply
    for reply in ("No more apples than boxes", "No other apples", "No because walls block it", "No the boxes",
                  "I'm not sure any boxes are on targets", "I don't think any apples", "No good ideas",
                  "I don't see any wall", "No gym badge", "I don't really see any apples", "No five apples",
                  "No gym leader badges", "No fewer apples than boxes", "No less apples than boxes"):
        assert verify(wrap(reply), zero)["accuracy"] == 0.0, reply


def test_a_worst_answer_reads_a_verdict_on_the_answer_as_every_answer_does() -> None:
    """In a Snake <worst_answer> "DOWN is incorrect" named DOWN while "DOWN is not correct" named none: the
    worst answer skipped _REJECTED (wrong, incorrect, false, invalid with fatal, unsafe, ...) but not
    _DENIED (not correct, right, ...). A verdict on the answer (wrong, incorrect, false, invalid, the wrong
    answer, not a good answer; not correct, right, true, valid) takes it back in every answer, a worst one
    too, where it may say the move is no fatal one; a verdict on the move (fatal, unsafe, deadly, a
    mistake, a bad move, the wrong move, not safe) names it there, as the worst answer asks."""
    for worst in ("DOWN is incorrect", "DOWN is wrong", "DOWN is false", "DOWN is invalid",
                  "DOWN, which is incorrect", "DOWN is the wrong answer", "DOWN is not a good answer",
                  "DOWN is not correct", "DOWN isn't right", "DOWN -- that is wrong",
                  "DOWN is wrong because it hits the wall"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 0.0, worst
    for worst in ("DOWN", "DOWN is fatal", "DOWN is unsafe", "DOWN would be a mistake",
                  "DOWN is the wrong move", "DOWN is a bad move", "DOWN is not safe",
                  "DOWN is not a good move", "DOWN, which is deadly", "DOWN (that would be an error)"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst
    # A verdict on the answer may correct it: "DOWN is wrong, LEFT" names no set, not both moves.
    two_fatal = record({**SNAKE, "good": ["UP", "RIGHT"], "fatal": ["DOWN", "LEFT"]})
    assert verify(snake_reply("UP", "DOWN is wrong, LEFT"), two_fatal)["accuracy"] == 0.0
    for reply, spec in (("UP is incorrect", WORD), ("UP is the wrong answer", WORD), ("B is wrong", CHOICE),
                        ("UP is not a good answer", WORD), ("UP is fatal", WORD), ("UP is not safe", WORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply


def test_cannot_and_a_verb_of_earning_before_any_are_the_count_zero() -> None:
    """"I cannot see any apples" and "The player hasn't earned any badges" (Pokémon's badge question) scored
    0 where the count is 0, as "I can't see any apples" scores 1: "cannot" was no negation before "any", and
    earning, getting, collecting, obtaining or winning was no verb that may stand before it."""
    zero = record({**INTEGER, "value": 0})
    for reply in ("I cannot see any apples", "The player hasn't earned any badges",
                  "He hasn't got any badges", "The player has not collected any badges yet",
                  "The player hasn't obtained any badges", "The player has not won any badges",
                  "I cannot find any boxes on targets"):
        assert verify(wrap(reply), zero)["accuracy"] == 1.0, reply
        assert verify(wrap(reply), record({**zero.verifier, "count": False}))["accuracy"] == 0.0, reply
    for reply in ("I cannot see any walls, so 5", "The player hasn't earned any badges, 5 Pok\u00e9mon"):
        assert verify(wrap(reply), record(INTEGER))["accuracy"] == 1.0, reply
    assert verify(wrap("I cannot say any apples"), zero)["accuracy"] == 0.0


def test_a_verdict_on_a_count_with_an_adjective_or_none_takes_back_the_count() -> None:
    """"3 red cubes, which is wrong" and "None yet, which is wrong" scored 1 on a count of 3 and 0: a count
    was taken back with its noun only where the noun came right after it, never with an adjective between
    (as "No gym badges" allows one after "no"), and "none" was no count there. One word may stand between
    now, and "none" is a count; the count stays where the verdict says it is right or is another's."""
    three, zero = record({**INTEGER, "value": 3}), record({**INTEGER, "value": 0})
    for reply in ("3 red cubes, which is wrong", "3 red cubes is incorrect",
                  "three red boxes - that is wrong", "3 boxes total, which is not correct"):
        assert verify(wrap(reply), three)["accuracy"] == 0.0, reply
    for reply in ("None yet, which is wrong", "None yet is wrong", "none here, which isn't right"):
        assert verify(wrap(reply), zero)["accuracy"] == 0.0, reply
    for reply in ("3 red cubes, which is right", "3 red cubes, which is not wrong",
                  "3 red cubes; UP is wrong", "3 cubes in all, which is right"):
        assert verify(wrap(reply), three)["accuracy"] == 1.0, reply
    for reply in ("None yet, which is right", "None yet"):
        assert verify(wrap(reply), zero)["accuracy"] == 1.0, reply
    for reply, spec in (("2 cells UP, which is safe", WORD), ("Move 2 cells UP", WORD),
                        ("3 red boxes is wrong, B", CHOICE)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply


def test_a_worst_answer_reads_every_verdict_on_a_choice_as_one_on_the_move() -> None:
    """In a Snake <worst_answer> "DOWN is a bad choice" and "DOWN is not a good choice" named DOWN while "DOWN
    is the wrong choice" named no move: "choice" stood with the verdicts on the move (a bad move/idea/choice)
    and with those on the answer (the wrong answer/choice/option) both. It is the move's in all three; a
    verdict that names the answer or an option still takes the move back there, and outside a worst answer
    each takes the answer back as before."""
    for worst in ("DOWN is the wrong choice", "DOWN is a bad choice", "DOWN is not a good choice",
                  "DOWN, which is the wrong choice"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst
    for worst in ("DOWN is a bad answer", "DOWN is the wrong option", "DOWN is the wrong answer"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 0.0, worst
    for reply, spec in (("UP is the wrong choice", WORD), ("B is the wrong choice", CHOICE),
                        ("B is the wrong option", CHOICE), ("UP is a bad choice", WORD),
                        ("UP is not a good choice", WORD), ("B is a bad answer", CHOICE)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply


def test_a_count_with_its_noun_reads_no_noun_as_zero_over_other_nouns_counts() -> None:
    """"No apples, 3 walls" scored 1 on an apple count of 3 and 0 on one of 0: the spec had no noun, so "no
    apples" beside "3 walls" read as the determiner and the walls' 3 as the count. A count spec may name its
    noun ("noun": "apples", written by exports since): a reply that says "no <noun>" (one word between
    allowed, "not any <noun>" too) then reads 0 over the numbers right before another plural noun, which are
    not the count; any other number reads as before. Without the key a spec reads as before."""
    apples = {**INTEGER, "noun": "apples"}
    badges = {**INTEGER, "noun": "badges"}
    for reply, spec, value in (("No apples, 3 walls", apples, 0),
                               ("No gym badges, 3 Pok\u00e9mon", badges, 0),
                               ("The player hasn't earned any badges, 3 Pok\u00e9mon", badges, 0),
                               ("There are no apples; two walls and 3 snakes", apples, 0),
                               ("No walls, so 3 apples", apples, 3), ("No walls, so 3", apples, 3),
                               ("No Apples left, 3 walls", apples, 0),
                               ("No apples... wait, 3 apples", apples, 3),
                               ("No red apples, 2 green apples", apples, 2), ("No apples, 3", apples, 3)):
        assert verify(wrap(reply), record({**spec, "value": value}))["accuracy"] == 1.0, reply
    for reply, spec, value in (("No apples, 3 walls", apples, 3),
                               ("No gym badges, 3 Pok\u00e9mon", badges, 3),
                               ("No apples, 3", apples, 0), ("No apples, 3 walls", apples, 1),
                               ("3 apples, 2 walls", apples, 3)):  # without "no apples" every number counts
        assert verify(wrap(reply), record({**spec, "value": value}))["accuracy"] == 0.0, reply
    # Without the noun (every export before it) the reading is as before.
    assert verify(wrap("No apples, 3 walls"), record({**INTEGER, "value": 3}))["accuracy"] == 1.0
    assert verify(wrap("No apples, 3 walls"), record({**INTEGER, "value": 0}))["accuracy"] == 0.0
    party = {**INTEGER, "value": 0, "noun": "Pok\u00e9mon"}
    for reply in ("No Pokemon, 2 badges", "The player doesn't have any Pok\u00e9mon, 2 badges"):
        assert verify(wrap(reply), record(party))["accuracy"] == 1.0, reply
    for noun in (5, "", ["apples"]):
        problem = spec_problem({**INTEGER, "noun": noun})
        assert problem is not None and "'noun'" in problem, noun
    assert spec_problem({**INTEGER, "noun": None}) is None and spec_problem(apples) is None


def test_a_verdict_with_a_move_noun_legality_or_danger_takes_the_answer_back() -> None:
    """"UP is not a valid move", "UP is an invalid move", "UP is a wrong move", "UP is the wrong direction",
    "UP is illegal", "UP is dangerous" scored 1 where UP is the answer: the verdicts knew "a bad move" and
    "the wrong move" but no other adjective before a move noun, no direction, and neither danger nor
    legality. They take the answer back now; a verdict that says the move is right, or denies a bad one,
    keeps it."""
    two = WORD | {"choices": ["UP", "LEFT"]}
    for reply, spec in (("UP is not a valid move", WORD), ("UP is an invalid move", WORD),
                        ("UP is a wrong move", WORD), ("UP is the wrong direction", WORD),
                        ("UP is illegal", WORD), ("UP is dangerous", WORD), ("UP is not legal", WORD),
                        ("UP is not a legal move", WORD), ("UP is an illegal move", WORD),
                        ("UP is a dangerous move", WORD), ("UP is a fatal move", WORD),
                        ("UP is not the right direction", two), ("UP would not be the correct move", WORD),
                        ("UP is wrong direction", WORD), ("UP is not a safe move", WORD),
                        ("UP is a bad direction", WORD), ("UP, which is an invalid move", WORD),
                        ("B is an incorrect answer", CHOICE), ("B is a wrong answer", CHOICE),
                        ("B is not a valid option", CHOICE), ("B is not the right option", CHOICE),
                        ("5 is an invalid answer", INTEGER)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    for reply, spec in (("UP is not blocked", WORD), ("UP is not wrong", WORD), ("UP is safe", WORD),
                        ("UP, which is safe", WORD), ("UP is valid", WORD),
                        ("UP is the right direction", two), ("The wrong move is DOWN, so UP", two),
                        ("UP is not a wrong move", WORD), ("UP is not dangerous", WORD),
                        ("UP is not illegal", WORD), ("UP is a valid move", WORD),
                        ("UP is the correct move", WORD), ("The dangerous move is DOWN, so UP", two),
                        ("UP is not the wrong direction", WORD), ("B is a valid option", CHOICE)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply


def test_a_bare_verdict_after_a_dash_colon_or_which_takes_the_answer_back() -> None:
    """"UP which is wrong" (no comma), "UP - wrong", "UP: wrong" scored 1 where UP is the answer: a verdict
    pointing back needed a punctuation mark, dash or bracket and then which/that/this. "which" right after
    the word counts too, and a verdict alone after a punctuation mark, dash or opening bracket that ends its
    clause (or goes on with because, since or as) takes the word before back; a verdict that says it is
    right, an adjective before another noun, and yes or no before it keep it."""
    two = WORD | {"choices": ["UP", "LEFT"]}
    for reply, spec in (("UP which is wrong", WORD), ("UP - wrong", WORD), ("UP: wrong", WORD),
                        ("UP which would be fatal", WORD), ("UP which isn't correct", WORD),
                        ("UP (wrong)", WORD), ("UP -- dangerous", WORD), ("UP \u2014 illegal.", WORD),
                        ("UP: not safe", WORD), ("UP - wrong move", WORD), ("UP: a bad move", WORD),
                        ("UP, wrong", WORD), ("UP - wrong because it hits the wall", WORD),
                        ("UP: the wrong direction!", WORD), ("UP: not correct", WORD),
                        ("B: wrong", CHOICE), ("5 apples: wrong", INTEGER), ("(3, 4) - wrong", COORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    for reply, spec in (("UP - safe", WORD), ("UP: not wrong", WORD), ("UP which is safe", WORD),
                        ("UP which is not wrong", WORD), ("UP: wrongly drawn as blocked", WORD),
                        ("UP. Dangerous moves are DOWN and RIGHT", two), ("UP - wrong moves hit walls", WORD),
                        ("The move which is wrong is DOWN, so UP", two), ("UP: valid", WORD),
                        ("UP - the right direction", two), ("No - wrong", YES_NO), ("No: dangerous", YES_NO),
                        ("No (illegal)", YES_NO), ("5: correct", INTEGER)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply
    # The trainers' rewards read them as score_predictions does.
    rewards = load_rewards()
    gt = ground_truth_json(record(WORD))
    for reply, want in (("UP which is wrong", 0.0), ("UP - wrong", 0.0), ("UP is dangerous", 0.0),
                        ("UP - safe", 1.0)):
        assert rewards.compute_score(wrap(reply), gt)["accuracy"] == want, reply


def test_a_worst_answer_splits_the_new_verdicts_on_the_move_from_those_on_the_answer() -> None:
    """In a Snake <worst_answer> a verdict on the move (dangerous, illegal, not legal, a wrong/invalid move,
    not a valid move, the wrong direction) names the move, as the worst answer asks for the fatal moves; a
    verdict on the answer (wrong, an incorrect answer, not a valid option), bare after a dash or colon or
    after "which" too, takes it back there as everywhere."""
    for worst in ("DOWN is dangerous", "DOWN is illegal", "DOWN is not legal", "DOWN is a wrong move",
                  "DOWN is an invalid move", "DOWN is not a valid move", "DOWN is the wrong direction",
                  "DOWN is wrong direction", "DOWN is a fatal move", "DOWN is not the correct direction",
                  "DOWN which is fatal", "DOWN - dangerous", "DOWN: fatal", "DOWN - wrong move",
                  "DOWN (illegal)"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst
    for worst in ("DOWN which is wrong", "DOWN - wrong", "DOWN: wrong", "DOWN (wrong)", "DOWN: not correct",
                  "DOWN is an incorrect answer", "DOWN is not a valid option", "DOWN is a wrong answer"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 0.0, worst


def test_a_verdict_alone_conceded_with_as_it_may_seem_keeps_the_answer() -> None:
    """"UP, wrong as it may seem" and "UP (dangerous as it looks)" scored 0
    where UP is the answer: a verdict alone after a mark took the word back where "as" went on, and "as it
    may seem" concedes the verdict, it gives no reason for it. A reason with "as" still takes it back."""
    for reply in ("UP, wrong as it may seem", "UP (dangerous as it looks)", "UP - wrong as that sounds",
                  "UP: fatal as this might appear, the tail moves away"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for reply in ("UP - wrong as it hits the wall", "UP: dangerous as the wall is next to it"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply


def test_the_widened_verdict_lists_mutation_gaps_are_pinned() -> None:
    """Words of the verdict lists that no test held (a hand mutant dropping each one passed every test): an
    adjective before a move noun is a verdict on the move, "my final answer" one on the answer, and a bare
    verdict word before a move noun in a worst answer names the move there, "not" with it too; a verdict
    alone after a mark that goes on with "since" takes the answer back as one with "because" does."""
    for reply in ("UP is an incorrect move", "UP is an unsafe move", "UP is a deadly move",
                  "UP is a false move", "UP is not the true direction", "UP is not my final answer",
                  "UP is not valid move", "UP: dangerous since it hits the wall"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN is not valid move", "DOWN is not correct direction"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_a_verdict_alone_asked_with_a_question_mark_keeps_the_answer() -> None:
    """"UP. Dangerous? Not really" and "UP - wrong? No, it is safe" scored 0 where UP is the answer: a verdict
    alone after a mark took the word back where a question mark ended it, though a verdict asked is not said
    (the reply went on to deny it). One ended by any other mark still takes the word back."""
    for reply in ("UP. Dangerous? Not really", "UP - wrong? No, it is safe",
                  "UP (fatal?) No, the tail moves"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for reply in ("UP. Dangerous!", "UP - wrong.", "UP (fatal)"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply


def test_a_verdict_of_risk_badness_or_disallowance_takes_the_answer_back() -> None:
    """"UP is not allowed", "UP is not possible", "UP is risky", "UP is bad", "UP is suicidal", "UP is a
    terrible move", "UP is a losing move" and "UP - **wrong**" scored 1 where UP is the answer (false credit):
    the verdict lists had none of these words, and no emphasis around a verdict. They are verdicts on the
    move now (the emphasised "wrong" one on the answer), said with "is", of "which" or alone after a mark."""
    for reply in ("UP is not allowed", "UP is not possible", "UP is risky", "UP is bad", "UP is suicidal",
                  "UP is a terrible move", "UP is a losing move", "UP - **wrong**", "UP is terrible",
                  "UP is not an allowed move", "UP is not a possible move", "UP is a risky move",
                  "UP is a suicidal move", "UP, which is risky", "UP: not allowed", "UP - bad.",
                  "UP (**suicidal**)", "UP - *fatal*, it hits the wall", "UP: **not safe**",
                  "UP is **wrong**", "UP is **a bad move**", "UP - **wrong** because of the wall"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    rewards = load_rewards()
    gt = ground_truth_json(record(WORD))
    for reply in ("UP is risky", "UP - **wrong**"):
        assert rewards.compute_score(wrap(reply), gt)["accuracy"] == 0.0, reply


def test_a_denied_or_conceded_or_asked_risk_or_badness_keeps_the_answer() -> None:
    """The new verdict words keep the answer where the reply denies them, says the move is allowed,
    concedes them with "as it may seem", asks them, or sets them before another noun; emphasis that goes on
    into another noun or a question keeps it too."""
    two = WORD | {"choices": ["UP", "LEFT"]}
    for reply, spec in (("UP is not bad", WORD), ("UP is not risky", WORD), ("UP is possible", WORD),
                        ("UP is allowed", WORD), ("UP is not a losing move", WORD),
                        ("UP, risky as it may seem", WORD), ("UP. Risky? Not really", WORD),
                        ("UP is not suicidal", WORD), ("UP is not a terrible move", WORD),
                        ("UP - **risky?** No, the tail moves", WORD), ("UP - **bad** moves hit walls", WORD),
                        ("UP: bad moves are DOWN and RIGHT", two), ("DOWN is risky, so UP", two),
                        ("No - **bad**", YES_NO), ("UP - **safe**", WORD),
                        ("UP is not the only possible move", WORD), ("UP, which is not risky", WORD),
                        ("UP is **not** wrong", WORD), ("UP: not possible to reverse into the neck", WORD)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply


def test_a_worst_answer_takes_back_an_emphasised_verdict_on_the_answer() -> None:
    """In a Snake <worst_answer> "DOWN - **wrong**" named DOWN (scored 1 where DOWN is the fatal move) while
    "DOWN - wrong" names no move: a verdict on the answer takes the word back there as everywhere, emphasis
    around it or not."""
    for worst in ("DOWN - **wrong**", "DOWN: **not correct**", "DOWN is **wrong**"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 0.0, worst


def test_a_worst_answer_still_names_the_move_the_new_verdicts_on_the_move_reject() -> None:
    """In a Snake <worst_answer> the new verdicts on the move (risky, bad, suicidal, terrible, a losing move,
    not allowed, not possible, an emphasised fatal) name the move, as "dangerous" and "not legal" do: the
    worst answer asks for the fatal moves."""
    for worst in ("DOWN is risky", "DOWN is bad", "DOWN is suicidal", "DOWN is a terrible move",
                  "DOWN is a losing move", "DOWN is not allowed", "DOWN is not possible", "DOWN - **fatal**",
                  "DOWN: not allowed", "DOWN, which is risky"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_impossible_and_poor_are_verdicts_on_the_move() -> None:
    """"UP is impossible" and "UP is a poor move" scored 1 where UP is the answer (false credit): neither
    word was in the verdict lists. They are verdicts on the move now, bare or before a move noun, said with
    "is", of "which" or alone after a mark; in a Snake worst answer they name the move."""
    for reply in ("UP is impossible", "UP is a poor move", "UP is an impossible move", "UP is poor",
                  "UP is a poor choice", "UP, which is impossible", "UP - impossible", "UP: poor",
                  "UP (impossible)"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    rewards = load_rewards()
    gt = ground_truth_json(record(WORD))
    for reply in ("UP is impossible", "UP is a poor move"):
        assert rewards.compute_score(wrap(reply), gt)["accuracy"] == 0.0, reply
    for worst in ("DOWN is impossible", "DOWN is a poor move", "DOWN: impossible"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_possible_or_a_denied_poor_move_keeps_the_answer() -> None:
    """The replies that say the move is possible, deny it is poor, or concede "impossible" keep the answer."""
    for reply in ("UP is possible", "UP is not a poor move", "UP, impossible as it may seem, works",
                  "UP is not impossible", "UP is not poor", "UP: poor visibility, but the way is clear",
                  "UP: impossible to say, the tail moves"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply


def test_a_verdict_on_the_answer_without_an_article_takes_it_back_in_a_worst_answer() -> None:
    """In a Snake <worst_answer> "DOWN is bad answer" named DOWN (scored 1 where DOWN is the fatal move) while
    "DOWN is wrong answer" and "DOWN is a bad answer" take it back, and "UP is not good answer" scored 1 where
    UP is the answer: an adjective before answer/option needed an article, where a bare one ("wrong") did
    not. Without the article it is a verdict on the answer too, which takes the word back in every answer."""
    for worst in ("DOWN is bad answer", "DOWN is bad option", "DOWN is not good answer", "DOWN - bad answer",
                  "DOWN, which is not good answer"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 0.0, worst
    for reply, spec in (("UP is not good answer", WORD), ("B is not good option", CHOICE),
                        ("5 is bad answer", INTEGER)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply


def test_a_verdict_on_the_move_or_a_good_answer_without_an_article_keeps_its_reading() -> None:
    """A bare adjective before a move noun stays a verdict on the move, which names the move in a worst
    answer; a good answer, or one denied bad, keeps the answer."""
    for worst in ("DOWN is bad move", "DOWN is not good move", "DOWN is bad choice"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst
    for reply, spec in (("UP is good answer", WORD), ("UP is not bad answer", WORD),
                        ("B is good option", CHOICE), ("5 is not bad answer", INTEGER)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply


def test_a_verdict_in_underscore_emphasis_takes_the_answer_back() -> None:
    """"UP is __wrong__" scored 1 where UP is the answer (false credit) while "UP is **wrong**" scores 0:
    emphasis around a verdict was read with asterisks only, and an underscore after the verdict's word left
    it no word end. Underscores now read as asterisks do, on the answer (taken back in a worst answer too)
    and on the move (which names the move in a worst answer)."""
    for reply, spec in (("UP is __wrong__", WORD), ("UP - __wrong__", WORD), ("UP, which is __wrong__", WORD),
                        ("UP is _fatal_", WORD), ("UP: __not safe__", WORD), ("UP (__suicidal__)", WORD),
                        ("UP is __a bad move__", WORD), ("B is __incorrect__", CHOICE),
                        ("5 apples - __wrong__ because of the wall", INTEGER)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    rewards = load_rewards()
    assert rewards.compute_score(wrap("UP is __wrong__"), ground_truth_json(record(WORD)))["accuracy"] == 0.0
    assert verify(snake_reply("UP", "DOWN is __wrong__"), DOWN_FATAL)["accuracy"] == 0.0
    for worst in ("DOWN - __fatal__", "DOWN is _dangerous_"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_underscore_emphasis_around_no_verdict_keeps_the_answer() -> None:
    """Underscores around a word that says the answer is right, a verdict that goes on into another noun or
    a question, or a denied one keep the answer, as the same in asterisks do ("right" with moves that have
    no RIGHT: in WORD's it names the move RIGHT, as "UP is **right**" does)."""
    assert verify(wrap("UP is __right__"), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0
    for reply in ("UP is __safe__", "UP - __bad__ moves hit walls",
                  "UP - __risky?__ No, the tail moves", "UP is not __wrong__", "UP is __wrongly__ drawn",
                  "UP is __not__ wrong"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply


def test_emphasis_inside_a_verdict_takes_the_answer_back() -> None:
    """"UP is **not** safe" and "UP - **dangerous** move" scored 1 where UP is the answer (false credit):
    emphasis was read before a verdict and after one alone, never between its words, so emphasis around
    "not", an article, an adjective or the noun after it left no verdict. It may open or close at any space
    of a verdict now; one on the answer is taken back in a worst answer too, one on the move names it
    there."""
    two = WORD | {"choices": ["UP", "LEFT"]}
    for reply, spec in (("UP is **not** safe", WORD), ("UP is **not safe**", WORD),
                        ("UP: **not** safe", WORD), ("UP - **dangerous** move", WORD),
                        ("UP is a **bad** move", WORD), ("UP is **a bad** move", WORD),
                        ("UP is a **bad move**", WORD),
                        ("UP would **not** be a good move", WORD), ("UP would not be a **good** move", WORD),
                        ("UP - **wrong** move", WORD), ("UP, which is **not** allowed", WORD),
                        ("UP is __not__ safe", WORD), ("UP is **not** the right direction", two),
                        ("B is **not** correct", CHOICE), ("B is an **incorrect** answer", CHOICE),
                        ("5 is **not** my final answer", INTEGER)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    rewards = load_rewards()
    gt = ground_truth_json(record(WORD))
    for reply in ("UP is **not** safe", "UP - **dangerous** move"):
        assert rewards.compute_score(wrap(reply), gt)["accuracy"] == 0.0, reply
    for worst in ("DOWN - **dangerous** move", "DOWN is **not** safe", "DOWN is a **fatal** move"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst
    for worst in ("DOWN is **not** correct", "DOWN is a **bad** answer"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 0.0, worst


def test_emphasis_inside_a_denied_or_good_verdict_keeps_the_answer() -> None:
    """Emphasis inside a verdict that is denied, says the move is good, or goes on into another noun keeps
    the answer."""
    for reply in ("UP is **not** wrong", "UP is **not** dangerous", "UP is **not** a bad move",
                  "UP is a **good** move", "UP - **wrong** moves hit walls", "UP is **not** a **poor** move",
                  "UP is **safe**, not **dangerous**", "UP - **not** safe to say, but it works"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply


def test_a_fatal_verb_after_would_or_will_takes_the_answer_back() -> None:
    """"UP would kill the snake", "UP will kill the snake" and "UP would crash into the wall" scored 1 where
    UP is the answer (false credit): a verb phrase was no verdict. A closed list of fatal verbs right after
    would, will ('d, 'll after a pointer) is one on the move now: crash, die and collide, kill with the
    snake, itself, us, me, you or it, hit with the/a wall, itself or its (own) body/tail; said of the word or
    of which/that/this after it. In a Snake worst answer it names the move."""
    for reply in ("UP would kill the snake", "UP will kill the snake", "UP would crash into the wall",
                  "UP will die", "UP would collide with its body", "UP would hit the wall",
                  "UP will hit itself", "UP would **kill** our snake", "UP, which would crash",
                  "UP - that'd kill it", "UP (this will hit its own tail)", "Moving UP would kill us"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    rewards = load_rewards()
    gt = ground_truth_json(record(WORD))
    for reply in ("UP would kill the snake", "UP would crash into the wall"):
        assert rewards.compute_score(wrap(reply), gt)["accuracy"] == 0.0, reply
    for worst in ("DOWN would kill the snake", "DOWN will crash into the wall",
                  "DOWN, which would hit the wall"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_a_fatal_verb_denied_or_of_another_keeps_the_answer() -> None:
    """A fatal verb denied (would not, won't, wouldn't, never), one that kills or hits anything but the
    player's own snake, a possibility (could, might), or one said of another move keeps the answer."""
    for reply, spec in (("UP would not kill the snake", WORD), ("UP won't kill the snake", WORD),
                        ("UP wouldn't crash", WORD), ("UP will never die", WORD),
                        ("UP would kill the other snake", WORD), ("UP would hit the apple", WORD),
                        ("UP will kill the enemy snake", WORD), ("UP could crash later", WORD),
                        ("UP would crashland", WORD), ("UP would be no crash", WORD),
                        ("DOWN would kill the snake, so UP", WORD | {"choices": ["UP", "LEFT"]})):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply


def test_a_fatal_verb_after_would_and_an_adverb_of_certainty_takes_the_answer_back() -> None:
    """"UP would definitely crash" and "UP will surely die" scored 1 where UP is the answer (false credit)
    while "UP would crash" scores 0: an adverb between would/will and the verb left it unread. A closed list
    of them (definitely, surely, certainly, immediately, instantly) may stand there now."""
    for reply in ("UP would definitely crash", "UP will surely die", "UP would immediately hit the wall",
                  "UP will instantly kill the snake", "UP is going to certainly crash",
                  "UP, which would definitely crash", "UP - that'd immediately kill it",
                  "UP would **definitely** crash", "UP would definitely lead to death"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN would definitely crash", "DOWN will surely die"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_a_hedged_denied_or_harmless_verb_after_an_adverb_keeps_the_answer() -> None:
    """Another adverb (a risk), a denial, another verb or object, or another word keeps the answer."""
    for reply in ("UP would probably crash", "UP would definitely not crash", "UP wouldn't definitely crash",
                  "UP would definitely reach the apple", "UP would immediately eat the apple",
                  "UP would definitely kill the other snake", "DOWN would definitely crash, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_a_fatal_verb_after_almost_or_most_certainly_takes_the_answer_back() -> None:
    """"UP would almost certainly crash" scored 1 where UP is the answer (false credit) while "UP would
    certainly crash" scores 0: "almost" before the adverb left it unread. "almost certainly", "almost surely"
    and "most certainly" are adverbs of certainty now; they name the move in a Snake worst answer."""
    for reply in ("UP would almost certainly crash", "UP will almost surely die",
                  "UP would most certainly crash", "UP, which would almost certainly crash",
                  "UP'll almost certainly hit the wall", "UP would **almost certainly** crash"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    assert verify(snake_reply("UP", "DOWN would almost certainly crash"), DOWN_FATAL)["accuracy"] == 1.0


def test_almost_alone_or_almost_certainly_denied_keeps_the_answer() -> None:
    """"almost" alone says it does not happen; denied or with a harmless verb, it keeps the answer."""
    for reply in ("UP would almost crash", "UP would almost certainly not crash", "UP almost crashes",
                  "UP would almost certainly reach the apple", "UP would almost die but it is safe",
                  "DOWN would almost certainly crash, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_not_good_and_the_worst_move_are_verdicts_on_the_move() -> None:
    """"UP is not good" and "UP is the worst move" scored 1 where UP is the answer (false credit): "good" was
    a verdict only before a noun ("not a good move") and "worst" none. "not good" bare and "worst" before a
    move noun are verdicts on the move now, which name the move in a Snake worst answer."""
    for reply in ("UP is not good", "UP is the worst move", "UP: not good", "UP, which is not good",
                  "UP isn't good", "UP is the **worst** choice", "UP is worst direction"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN is not good", "DOWN is the worst move"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst
    assert verify(snake_reply("UP", "DOWN is not good answer"), DOWN_FATAL)["accuracy"] == 0.0


def test_good_or_worst_elsewhere_keeps_the_answer() -> None:
    """"good" said, "not good" of something else and "worst" before any other word keep the answer."""
    for reply in ("UP is good", "UP is not only good but safe", "UP: worst case, the tail moves away",
                  "UP is not the worst move", "UP is good, not the worst", "UP: not good for the wall"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply


def test_underscore_emphasis_around_the_answer_reads_as_the_answer() -> None:
    """"__UP__" and "Go __UP__" scored 0 where UP is the answer (lost credit) while "**UP**" scores 1: the
    word reader took "_" for a letter, so "__up__" was a word of its own. Underscores around a word are
    emphasis now, as asterisks are, for moves, turns, number words, axes and yes/no."""
    yes_no = {"rule": "word", "choices": ["yes", "no"], "accepted": ["yes"]}
    for reply, spec in (("__UP__", WORD), ("Go __UP__", WORD), ("_UP_", WORD), ("I move __UP__.", WORD),
                        ("__X-__", TURN), ("Turn _X-_ now", TURN), ("__five__", INTEGER),
                        ("__five__ boxes", INTEGER), ("270 about __Z__", ANGLE_FREE), ("__yes__", yes_no)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply
    rewards = load_rewards()
    assert rewards.compute_score(wrap("Go __UP__"), ground_truth_json(record(WORD)))["accuracy"] == 1.0
    assert verify(snake_reply("__UP__", "__DOWN__"), DOWN_FATAL)["accuracy"] == 1.0
    assert parse_move(wrap("Go __LEFT__"), record(WORD)) == "LEFT"


def test_an_underscore_inside_a_name_keeps_it_one_word() -> None:
    """An underscore between letters joins a name ("UP_LEFT", "snake_body", "__init__"): no move is read in
    it, and a reply that names the answer beside such a name keeps it."""
    for reply in ("UP_LEFT", "__UP_LEFT__", "go_up"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 0.0, reply
    for reply in ("UP: snake_body is clear", "UP_LEFT is blocked, so UP", "UP because __init__ says so",
                  "UP, since `snake_body` is far", "X_- is no turn: X-"):
        spec = TURN if "X-" in reply else WORD
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, reply
    assert verify(wrap("X-_axis"), record(TURN))["accuracy"] == 0.0


def test_blocked_is_a_verdict_on_the_move() -> None:
    """"UP is blocked" scored 1 where UP is the answer (false credit): "blocked" was no verdict, where "UP
    is not blocked" is documented as keeping UP. It is one on the move now, which names the move in a Snake
    worst answer."""
    for reply in ("UP is blocked", "UP, which is blocked", "UP - blocked", "UP (blocked)",
                  "UP is **blocked**", "UP was blocked", "UP is blocked because of the wall",
                  "UP is a blocked direction"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    assert verify(snake_reply("UP", "DOWN is blocked"), DOWN_FATAL)["accuracy"] == 1.0


def test_not_blocked_or_blocked_elsewhere_keeps_the_answer() -> None:
    """"blocked" denied, said of another word, or going on into a noun keeps the answer."""
    for reply in ("UP is not blocked", "UP isn't blocked", "UP is unblocked", "UP, which is not blocked",
                  "UP: blocked cells are far", "UP: wrongly drawn as blocked", "DOWN is blocked, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_no_good_is_a_verdict_on_the_move() -> None:
    """"UP is no good" scored 1 where UP is the answer (false credit): "no good" was no verdict. Where it
    ends its clause, goes on with because, since or as, or comes before a move noun it is one on the move
    now, which names the move in a Snake worst answer; before answer/option it is one on the answer."""
    for reply, spec in (("UP is no good", WORD), ("UP is no good.", WORD), ("UP, which is no good", WORD),
                        ("UP - no good", WORD), ("UP is **no good**", WORD), ("UP is no good move", WORD),
                        ("UP is no good because of the wall", WORD), ("UP is no good, it dies", WORD),
                        ("B is no good option", CHOICE), ("5 is no good answer", INTEGER)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply
    for worst in ("DOWN is no good", "DOWN is no good move"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst
    assert verify(snake_reply("UP", "DOWN is no good answer"), DOWN_FATAL)["accuracy"] == 0.0


def test_no_good_going_on_into_another_word_keeps_the_answer() -> None:
    """"no good" before a word that is no move noun, asked, or after "not", keeps the answer."""
    for reply in ("UP is no good reason to stop, so it goes", "UP: no good way around it but it is safe",
                  "UP is no good? No, it is safe", "UP is not no good", "UP, no good alternatives remain"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply


def test_no_before_a_pronoun_a_verdict_is_said_of_is_the_answer_no() -> None:
    """"No it would crash", "No it is dangerous" scored 0 where no is the answer (lost credit): the verdict
    took back the word before it, the pronoun, and "no" before "would" then read as the determiner ("no
    idea"). A pronoun is never an answer, so a verdict said of it takes nothing back."""
    alive = record({"rule": "word", "choices": ["yes", "no"], "accepted": ["no"]})
    for reply in ("No it would crash", "No it will die", "No it would hit the wall", "No it is dangerous",
                  "No it is not safe", "No that would kill it", "No this would kill the snake",
                  "No it would be a mistake", "no they would crash"):
        assert verify(wrap(reply), alive)["accuracy"] == 1.0, reply


def test_a_verdict_after_a_pronoun_still_takes_back_an_answer_word() -> None:
    """The answer's word before a verdict is taken back still, and option I is a letter, no pronoun."""
    for reply, spec in (("UP is dangerous", WORD), ("UP would crash", WORD), ("UP, which is wrong", WORD),
                        ("UP - that would kill it", WORD), ("I is wrong", NINE_I),
                        ("Option I is wrong", NINE_I)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 0.0, reply


def test_a_fatal_verb_in_the_present_takes_the_answer_back() -> None:
    """"UP kills the snake" scored 1 where UP is the answer (false credit): a fatal verb was read only after
    would or will. Its present tense right after the word (or which/that/this after it) is a verdict on the
    move now, with the same closed list of verbs and objects; it names the move in a Snake worst answer."""
    for reply in ("UP kills the snake", "UP crashes", "UP dies", "UP collides with the body",
                  "UP hits the wall", "UP hits its own tail", "UP **kills** the snake", "UP, which kills it",
                  "UP - that crashes into the wall", "UP (this hits itself)"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN kills the snake", "DOWN hits the wall", "DOWN, which crashes"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_a_fatal_verb_in_the_present_of_another_or_denied_keeps_the_answer() -> None:
    """A present fatal verb denied, of another snake or thing, or said of another word keeps the answer."""
    for reply in ("UP kills the other snake", "UP kills the enemy snake", "UP hits the apple",
                  "UP never crashes", "UP doesn't kill the snake", "UP crashesh", "UP: the other snake dies",
                  "DOWN kills the snake, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_getting_killed_takes_the_answer_back() -> None:
    """"UP gets killed" scored 1 where UP is the answer (false credit) while "UP would be killed" scores 0:
    "get" was no fatal verb. "get killed" is one now, after would/will and in the present; it names the move
    in a Snake worst answer."""
    for reply in ("UP gets killed", "UP would get killed", "UP will get killed", "UP is going to get killed",
                  "UP, which gets killed", "UP - that'd get killed", "UP **gets** killed",
                  "UP gets __killed__"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN gets killed", "DOWN would get killed"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_getting_anything_else_or_not_getting_killed_keeps_the_answer() -> None:
    """"get" with another object, denied, or said of another word keeps the answer."""
    for reply in ("UP gets the apple", "UP doesn't get killed", "UP won't get killed", "UP never gets killed",
                  "UP would not get killed", "UP gets killedd", "UP: the other snake gets killed",
                  "UP gets the other snake killed", "DOWN gets killed, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_got_killed_takes_the_answer_back() -> None:
    """"UP got killed" scored 1 where UP is the answer (false credit) while "UP gets killed" scores 0: "get"
    was read in the present only. "got killed" is read as "gets killed" now; it names the move in a Snake
    worst answer."""
    for reply in ("UP got killed", "UP, which got killed", "UP - that got killed", "UP **got** killed",
                  "UP got __killed__"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    assert verify(snake_reply("UP", "DOWN got killed"), DOWN_FATAL)["accuracy"] == 1.0


def test_got_anything_else_or_not_killed_keeps_the_answer() -> None:
    """"got" with another object, denied, or said of another word keeps the answer."""
    for reply in ("UP got the apple", "UP never got killed", "UP didn't get killed", "UP got killedd",
                  "UP: the other snake got killed", "UP got the other snake killed",
                  "DOWN got killed, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_ending_or_losing_the_game_takes_the_answer_back() -> None:
    """"UP would end the game", "UP ends the game" and "UP would lose" scored 1 where UP is the answer (false
    credit): ending or losing the game was no fatal verb. "end the game", "lose" and "lose the game" are now,
    where they end their clause or go on with because, since or as, after would/will and in the present;
    they name the move in a Snake worst answer."""
    for reply in ("UP would end the game", "UP ends the game", "UP would lose", "UP loses.",
                  "UP will lose the game", "UP is going to end the game because it hits the wall",
                  "UP, which would lose", "UP - that ends the game", "UP'll lose", "UP would **lose**",
                  "UP would definitely end the game!"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN would end the game", "DOWN ends the game", "DOWN would lose"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_ending_or_losing_denied_going_on_or_of_another_keeps_the_answer() -> None:
    """Ending or losing denied, going on into other words (a win, another object), asked, or said of another
    word keeps the answer."""
    for reply in ("UP won't end the game", "UP would not lose", "UP never loses", "UP doesn't end the game",
                  "UP would end the game with a win", "UP ends the game by killing the other snake",
                  "UP would lose the apple", "UP would lose? No", "UP would end the gamer",
                  "UP: the other snake would lose", "DOWN would lose, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_a_negation_in_underscore_emphasis_takes_the_answer_back() -> None:
    """"__Not__ UP" and "_Never_ go UP" scored 1 where UP is the answer (false credit) while "**Not** UP"
    scores 0: an underscore after "not" left it no word end. A negation in underscore emphasis reads as one
    without it, as in asterisks."""
    for reply in ("__Not__ UP", "_Never_ go UP", "__Don't__ go UP", "_dont_ go UP", "__Avoid__ UP"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply


def test_a_negation_inside_a_name_keeps_the_answer() -> None:
    """"not" joined to a name by underscores ("is_not_blocked") is no negation."""
    for reply in ("UP: is_not_blocked is true", "UP, since cannot_move_x is false", "UP (dont_care flag)"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply


def test_underscore_emphasis_around_an_option_letter_reads_as_the_letter() -> None:
    """"Option __B__" scored 0 where B is the answer (lost credit) while "Option **B**" scores 1: the letter
    reader took "_" for a word character, so no letter stood alone. Underscores around a letter are
    emphasis now, as asterisks are, for options, rotation options and buttons."""
    for reply, spec in (("Option __B__", CHOICE), ("I pick _B_.", CHOICE), ("__B__ is correct", CHOICE),
                        ("Option __B__", NINE_B), ("Option __I__", NINE_I), ("__A__", ANGLE_OPTS)):
        assert verify(wrap(reply), record(spec))["accuracy"] == 1.0, (reply, spec["answer"])
    assert verify(wrap("Option __B__, not __C__"), record(CHOICE))["accuracy"] == 0.0
    # Button a, also a word, is read where it stands as a letter (``_named_letters``).
    assert parse_move(wrap("Press __A__"), record(NEXT_BUTTON)) == "a"


def test_an_option_letter_inside_a_name_is_no_option() -> None:
    """A letter joined to a name by underscores ("B_2", "A_B", "__B_2__") is no option letter; a reply that
    names the answer beside such a name keeps it."""
    for reply in ("B_2", "__B_2__", "A_B", "Option C_B"):
        assert verify(wrap(reply), record(CHOICE))["accuracy"] == 0.0, reply
    for reply in ("B, since C_2 is clear", "Option B: D_1 is far", "B because __init__ holds"):
        assert verify(wrap(reply), record(CHOICE))["accuracy"] == 1.0, reply
    assert verify(wrap("I, as I_x shows"), record(NINE_I))["accuracy"] == 1.0


def test_a_dead_end_killed_or_suicide_is_a_verdict_on_the_move() -> None:
    """"UP is a dead end", "UP would be killed" and "UP would be suicide" scored 1 where UP is the answer
    (false credit): none was in a verdict list. They are verdicts on the move now (_BAD), which name the move
    in a Snake worst answer."""
    for reply in ("UP is a dead end", "UP would be killed", "UP would be suicide", "UP is dead-end",
                  "UP, which is a dead end", "UP - dead end", "UP is **a dead end**", "UP is __suicide__",
                  "UP (killed)"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN is a dead end", "DOWN would be killed", "DOWN is suicide"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_a_dead_end_killed_or_suicide_denied_or_conceded_keeps_the_answer() -> None:
    """Denied, conceded or said of another word, a dead end, killed or suicide keeps the answer."""
    for reply in ("UP is not a dead end", "UP won't be killed", "UP isn't suicide", "UP would not be killed",
                  "UP, a dead end as it may seem, works", "UP: dead ends are far",
                  "DOWN is a dead end, so UP", "UP is a dead ending? No"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_death_is_a_verdict_on_the_move() -> None:
    """"UP is death" scored 1 where UP is the answer (false credit) while "UP is suicide" scores 0: "death"
    was in no verdict list. It is a verdict on the move now (_BAD), which names the move in a Snake worst
    answer."""
    for reply in ("UP is death", "UP would be death", "UP, which is death", "UP - death", "UP (death)",
                  "UP is **death**", "UP is __death__", "UP: death.", "UP is death because it hits the wall"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN is death", "DOWN (death)"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_death_denied_conceded_or_in_another_word_keeps_the_answer() -> None:
    """Denied, conceded, asked, going on into a clause, or part of another word, death keeps the answer."""
    for reply in ("UP is not death", "UP isn't death", "UP, death as it may seem, is safe",
                  "UP: death is far away", "UP. Death? No", "UP - death of the snake is avoided",
                  "UP: no death", "UP is deathly quiet", "UP is deaths away", "UP is death-free",
                  "DOWN is death, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_game_over_is_a_verdict_on_the_move() -> None:
    """"UP is game over" scored 1 where UP is the answer (false credit) while "UP is death" scores 0: "game
    over" was in no verdict list. It is one on the move now, bare as death is, and an object of lead to,
    result in, cause or mean; it names the move in a Snake worst answer."""
    for reply in ("UP is game over", "UP would be game over", "UP, which is game over", "UP - game over",
                  "UP (game over)", "UP: game-over.", "UP is **game over**", "UP means game over",
                  "UP would lead to game over", "UP'll be game over"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN is game over", "DOWN means game over"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_game_over_denied_conceded_or_elsewhere_keeps_the_answer() -> None:
    """"game over" denied, conceded, asked, going on into a clause, in another word, said avoided or of
    another word keeps the answer."""
    for reply in ("UP is not game over", "UP isn't game over", "UP, game over as it may seem, is safe",
                  "UP: game over is far away", "UP. Game over? No", "UP is game overkill",
                  "UP means game over is avoided", "UP does not mean game over", "DOWN is game over, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_certain_or_instant_death_takes_the_answer_back() -> None:
    """"UP is certain death", "UP leads to certain death" and "UP means instant death" scored 1 where UP is
    the answer (false credit) while "UP is death" and "UP leads to death" score 0: an adjective before death
    left it unread. Death may now be certain, instant or immediate, as a verdict and after a verb of
    consequence; it names the move in a Snake worst answer."""
    for reply in ("UP is certain death", "UP leads to certain death", "UP means instant death",
                  "UP would be certain death", "UP, which is instant death", "UP - certain death",
                  "UP (immediate death)", "UP results in immediate death", "UP is **certain death**",
                  "UP is certain **death**"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN is certain death", "DOWN leads to instant death"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_certain_or_instant_death_denied_or_elsewhere_keeps_the_answer() -> None:
    """Denied, conceded, broken by a mark, plural or hyphened, or of another word, it keeps the answer."""
    for reply in ("UP is not certain death", "UP, certain death as it may seem, works",
                  "UP is certain: death is far", "UP: certain deaths are elsewhere",
                  "UP is certain death-free", "UP is certain", "UP does not lead to certain death",
                  "UP is certainly deathly", "DOWN is certain death, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_will_be_with_a_verdict_takes_the_answer_back() -> None:
    """"UP will be killed" scored 1 where UP is the answer (false credit) while "UP would be killed" scores 0:
    only "would be" stood for "is". "will be" does now ("'ll be" after a pointer, "won't be" for "is not"),
    with every verdict; a verdict on the move names the move in a Snake worst answer."""
    for reply in ("UP will be killed", "UP will be fatal", "UP will be a mistake", "UP, which will be fatal",
                  "UP - that'll be fatal", "UP won't be safe", "UP will not be safe",
                  "UP will **be** killed"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("B will be wrong", "B won't be correct"):
        assert verify(wrap(reply), record(CHOICE))["accuracy"] == 0.0, reply
    for worst in ("DOWN will be killed", "DOWN won't be safe"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_will_be_with_a_denied_or_good_verdict_keeps_the_answer() -> None:
    """"will be" denied, with a good verdict, or said of another word keeps the answer."""
    for reply in ("UP won't be killed", "UP will not be killed", "UP will be safe", "UP will not be wrong",
                  "UP won't be a mistake", "UP, which won't be killed", "UP will be killedd",
                  "DOWN will be killed, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply
    assert verify(wrap("B will be correct"), record(CHOICE))["accuracy"] == 1.0


def test_going_to_be_or_d_be_with_a_verdict_takes_the_answer_back() -> None:
    """"UP is going to be killed", "UP is gonna be fatal" and "UP - that'd be fatal" scored 1 where UP is the
    answer (false credit) while "UP is going to crash" and "UP (that would be fatal)" score 0: "is going to
    be" was no "would be", nor "'d be" after a pointer. Both are now, with every verdict."""
    for reply in ("UP is going to be killed", "UP is gonna be fatal", "UP is going to be a mistake",
                  "UP, which is going to be fatal", "UP - that's going to be fatal", "UP - that'd be fatal",
                  "UP, which'd be fatal", "UP isn't going to be safe", "UP is not gonna be safe"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("B is going to be wrong", "B isn't going to be correct"):
        assert verify(wrap(reply), record(CHOICE))["accuracy"] == 0.0, reply
    for worst in ("DOWN is going to be killed", "DOWN - that'd be fatal"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_going_to_be_or_d_be_denied_or_good_keeps_the_answer() -> None:
    """"is going to be" or "'d be" denied, with a good verdict or another predicate keeps the answer."""
    for reply in ("UP is going to be safe", "UP is not going to be killed", "UP isn't gonna be fatal",
                  "UP, which isn't going to be fatal", "UP - that'd be safe", "UP is going to be the apple",
                  "DOWN is going to be killed, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply
    assert verify(wrap("B is going to be correct"), record(CHOICE))["accuracy"] == 1.0


def test_leading_to_death_or_going_to_crash_takes_the_answer_back() -> None:
    """"UP leads to death" and "UP is going to crash" scored 1 where UP is the answer (false credit): "lead
    to" was no fatal verb and "is going to" no would or will. Both are read now, with the same closed lists;
    they name the move in a Snake worst answer."""
    for reply in ("UP leads to death", "UP would lead to a crash", "UP will lead to a collision",
                  "UP is going to crash", "UP is going to hit the wall", "UP is going to kill the snake",
                  "UP, which leads to death", "UP - that is going to crash", "UP (that's going to die)",
                  "UP **leads** to death"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN leads to death", "DOWN is going to crash", "DOWN, which is going to hit the wall"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_leading_elsewhere_or_not_going_to_crash_keeps_the_answer() -> None:
    """Leading to anything else, going somewhere, or a denied "going to" keeps the answer."""
    for reply in ("UP leads to the apple", "UP is not going to crash", "UP isn't going to die",
                  "UP is going to the apple", "UP would not lead to death", "UP never leads to a crash",
                  "UP is going to kill the other snake", "UP leads to deathtraps later? No",
                  "DOWN leads to death, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_resulting_in_causing_or_meaning_death_takes_the_answer_back() -> None:
    """"UP results in death", "UP causes a crash" and "UP means death" scored 1 where UP is the answer (false
    credit) while "UP leads to death" scores 0: only "lead to" took death or a crash. "result in", "cause" and
    "mean" take the same closed objects now; they name the move in a Snake worst answer."""
    for reply in ("UP results in death", "UP causes a crash", "UP means death",
                  "UP would result in a collision", "UP will cause death", "UP would mean a crash",
                  "UP is going to result in death", "UP, which results in death", "UP - that means death",
                  "UP (this causes a crash)", "UP **means** death"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN results in death", "DOWN causes a crash", "DOWN means death"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_resulting_in_causing_or_meaning_anything_else_keeps_the_answer() -> None:
    """Another object, a denial, or the verb said of another word keeps the answer."""
    for reply in ("UP does not result in death", "UP means the apple", "UP would not cause a crash",
                  "UP never causes a crash", "UP causes no crash", "UP results in the apple",
                  "UP means deathly", "UP causes the apple to move", "UP won't mean death",
                  "UP: the other snake's move means death", "DOWN means death, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_a_crash_without_an_article_after_a_verb_of_consequence_takes_the_answer_back() -> None:
    """"UP leads to crash" and "UP results in collision with its body" scored 1 where UP is the answer (false
    credit) while "UP leads to a crash" scores 0: the objects crash and collision needed a or the. Without
    one they are read where they end their clause or go on with because, since, as, with or into, as models
    writing without articles put them; before another word they may be a compound's first part ("collision
    avoidance"), so they are not read there. They name the move in a Snake worst answer."""
    for reply in ("UP leads to crash", "UP results in collision with its body", "UP causes crash.",
                  "UP would lead to collision", "UP means crash into the wall", "UP, which leads to crash",
                  "UP leads to **crash**", "UP leads to crash because the wall is there"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    assert verify(snake_reply("UP", "DOWN leads to crash"), DOWN_FATAL)["accuracy"] == 1.0


def test_a_crash_without_an_article_in_a_compound_or_avoided_keeps_the_answer() -> None:
    """A bare crash or collision before another word, hyphened, asked, said avoided, denied or of another
    word keeps the answer."""
    for reply in ("UP leads to collision avoidance", "UP results in crash-free play", "UP leads to crash? No",
                  "UP means collision is avoided", "UP does not lead to crash", "UP leads to crashes later",
                  "DOWN leads to crash, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_death_or_a_crash_said_avoided_after_a_verb_of_consequence_keeps_the_answer() -> None:
    """"UP means death is avoided" and "UP, which means a crash is prevented" scored 0 where UP is the answer
    (lost credit since 031ebff5): "means death" read as the verdict though death is the subject of a clause
    that says it does not come. Death, a crash or a collision said avoided, averted, prevented or escaped
    (a closed list) is no fatal object; said anything else it still is."""
    for reply in ("UP means death is avoided", "UP means a crash is avoided",
                  "UP means the collision is averted", "UP, which means death is prevented",
                  "UP - that means a crash gets avoided", "UP results in death being escaped",
                  "UP means certain death is avoided", "UP means death **is** avoided",
                  "UP means death will be avoided", "UP means death's avoided",
                  "UP causes the crash to be avoided"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for reply in ("UP means death is certain", "UP means death, avoided only by LEFT",
                  "UP means death. Avoided?", "UP means death"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    assert verify(snake_reply("UP", "DOWN means death is certain"), DOWN_FATAL)["accuracy"] == 1.0


def test_death_or_a_crash_hyphened_to_a_word_after_a_verb_of_consequence_keeps_the_answer() -> None:
    """"UP causes a crash-free path", "UP results in a collision-free route" and "UP means death-free moves"
    scored 0 where UP is the answer (lost credit since 031ebff5) while "UP is death-free" scores 1: the
    objects of lead to, result in, cause and mean were read even where a hyphen joins them to a word. They are
    not now, as death after "is" is not, past emphasis too; a hyphen before no letter still ends them."""
    for reply in ("UP causes a crash-free path", "UP results in a collision-free route",
                  "UP means death-free moves", "UP, which means a collision-free path",
                  "UP would mean a crash-free path", "UP leads to a crash-free path",
                  "UP means certain death-free moves", "UP means a **crash**-free path",
                  "UP is **death**-free"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for reply in ("UP means a crash - free of doubt", "UP causes a crash-", "UP leads to death-2",
                  "UP means death"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply


def test_gonna_with_a_fatal_verb_takes_the_answer_back() -> None:
    """"UP is gonna crash" scored 1 where UP is the answer (false credit) while "UP is going to crash" scores
    0: "gonna" was no "going to". It is now, after the word and a pointer; it names the move in a Snake worst
    answer."""
    for reply in ("UP is gonna crash", "UP is gonna die", "UP is gonna hit the wall",
                  "UP, which is gonna crash", "UP - that's gonna kill it", "UP is **gonna** crash",
                  "UP is gonna get killed"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN is gonna crash", "DOWN, which is gonna hit the wall"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_gonna_denied_or_going_elsewhere_keeps_the_answer() -> None:
    """"gonna" denied, with another verb or object, or said of another word keeps the answer."""
    for reply in ("UP is not gonna crash", "UP isn't gonna die", "UP is gonna get the apple",
                  "UP is gonna kill the other snake", "UP is gonnacrash", "UP is gonna crashh",
                  "DOWN is gonna crash, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply


def test_a_contraction_on_the_answer_word_with_a_fatal_verb_takes_the_answer_back() -> None:
    """"UP'll crash" and "UP's gonna crash" scored 1 where UP is the answer (false credit) while "UP will
    crash" and "UP, which'll crash" score 0: 'll, 'd and 's going to (gonna) were read after a pointer only.
    On the answer's word they are would, will and is going to now, before a fatal verb or be and a verdict on
    the move; they name the move in a Snake worst answer."""
    for reply in ("UP'll crash", "UP's gonna crash", "UP'd crash", "UP’ll die", "UP's going to hit the wall",
                  "UP'll definitely crash", "UP'd **kill** the snake", "UP'll be fatal", "UP'd be a mistake",
                  "UP's gonna be killed", "UP'll get killed"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    assert verify(wrap("B'll be wrong"), record(CHOICE))["accuracy"] == 0.0
    for worst in ("DOWN'll crash", "DOWN's gonna crash"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_a_contraction_on_the_answer_word_denied_harmless_or_on_a_pronoun_keeps_the_answer() -> None:
    """'ll, 'd or 's with another verb, a denial, a good verdict, the possessive 's, or said of a pronoun
    ("No it'll crash" answers no) keeps the answer."""
    for reply in ("UP'll get the apple", "UP's safe", "UP's gonna eat", "UP'll not crash", "UP'd never die",
                  "UP'll be safe", "UP's gonna kill the other snake", "UP's path is clear",
                  "DOWN'll crash, so UP"):
        assert verify(wrap(reply), record(WORD | {"choices": ["UP", "LEFT"]}))["accuracy"] == 1.0, reply
    for reply in ("No it'll crash", "No, it's gonna die", "No that'd kill it", "No they'll crash"):
        assert verify(wrap(reply), record(YES_NO))["accuracy"] == 1.0, reply


def test_a_lowercase_option_letter_in_emphasis_counts() -> None:
    """"option __b__" and "Option **b**" scored 0 where B is the answer (lost credit) while "option b" scores
    1: the lowercase letter was read bare or in brackets only. Emphasis around it reads as without it."""
    for reply in ("option __b__", "Option **b**", "option _b_.", "answer: **b**", "Option **b** is correct",
                  "option *b*, I think"):
        assert verify(wrap(reply), record(CHOICE))["accuracy"] == 1.0, reply
    assert verify(wrap("option **b**, not option **c**"), record(CHOICE))["accuracy"] == 0.0


def test_a_lowercase_option_letter_in_emphasis_in_brackets_counts() -> None:
    """"(**b**)" scored 0 where B is the answer (lost credit) while "(b)", "(**B**)" and "option **b**" score
    1: a lowercase letter in brackets was read bare only. Emphasis inside the brackets reads as without it."""
    for reply in ("(**b**)", "(*b*)", "(__b__)", "(_b_)", "[**b**]", "I pick (**b**)",
                  "the answer is (__b__).", "(**b**) because 5"):
        assert verify(wrap(reply), record(CHOICE))["accuracy"] == 1.0, reply
    for reply in ("(**b**), not (**c**)", "(**b**) or (c)"):
        assert verify(wrap(reply), record(CHOICE))["accuracy"] == 0.0, reply


def test_a_bracketed_lowercase_letter_in_emphasis_after_a_word_or_in_a_name_is_no_option() -> None:
    """Emphasis does not make an argument, an index, a name or a word a letter: "f(**b**)", "cell[**b**]"."""
    for reply in ("f(**b**)", "cell[**b**]", "(**b_2**)", "(**bc**)", "(**b**c)", "(****b****)"):
        assert verify(wrap(reply), record(CHOICE))["accuracy"] == 0.0, reply


def test_a_lowercase_letter_in_emphasis_in_running_text_is_no_option() -> None:
    """Emphasis does not make running text a letter: an article, a name joined by underscores, a word."""
    for reply in ("my answer: **a** box", "option **b_2**", "option __b2__", "answer: **bc**"):
        assert verify(wrap(reply), record(CHOICE | {"answer": "A"}))["accuracy"] == 0.0, reply


def test_a_verdict_in_triple_emphasis_or_spaced_out_takes_the_answer_back() -> None:
    """Bold italic (three asterisks or underscores) around a verdict, and up to three spaces between its
    words, read as the plain verdict: a bound one short of either credited the answer rejected."""
    for reply in ("UP is ***wrong***", "UP is ***not*** safe", "UP - ***bad*** move", "UP is ___wrong___",
                  "UP would ***crash***", "UP is   wrong", "UP is not   safe", "UP would   crash",
                  "UP would be   a mistake"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply


def test_every_object_of_a_fatal_verb_takes_the_answer_back() -> None:
    """Each object of the fatal verbs' closed lists, not only those the first tests used: "the" crash or
    collision, killing itself, hitting its body or tail without "own"."""
    for reply in ("UP would lead to the crash", "UP leads to the collision", "UP would kill itself",
                  "UP kills itself", "UP would hit its body", "UP hits its tail"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for worst in ("DOWN would kill itself", "DOWN hits its tail", "DOWN leads to the collision"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_an_option_letter_in_triple_emphasis_counts_and_past_three_is_none() -> None:
    """Bold italic (three underscores or asterisks) around an option letter reads as the letter, capital or
    lowercase; the bound is three, as documented: four are no emphasis, and name no option."""
    for reply in ("Option ___B___", "___B___ is correct", "option ___b___", "Option ***b***",
                  "answer: ***b***."):
        assert verify(wrap(reply), record(CHOICE))["accuracy"] == 1.0, reply
    for reply in ("Option B____", "Option ___B____", "option ____b____", "Option ****b****"):
        assert verify(wrap(reply), record(CHOICE))["accuracy"] == 0.0, reply


def test_a_word_that_only_begins_with_a_verdict_keeps_the_answer() -> None:
    """A verdict word ends where no letter goes on: "not safest" or "not goodness" is no "not safe"."""
    for reply in ("UP is not safest, but it works", "UP is not goodness itself, but it works"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply


def test_a_contracted_would_or_will_then_not_be_is_is_not() -> None:
    """"UP'll not be safe", "UP'd not be a good move" were credited as UP: the contraction read only before
    "be" ("UP'll be fatal"), so the negation after it took back "be safe" alone. It is "would not be" ("will
    not be"), after the word or a pointer, on the move or on the answer; "not be" with no verdict keeps UP."""
    for reply in ("UP'll not be safe", "UP'd not be a good move", "UP\u2019ll not be **safe**",
                  "UP, which'll not be safe", "UP - that'd not be allowed", "UP'll not be correct",
                  "UP'd not be a valid answer"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("UP'll not be dangerous", "UP'd not be wrong", "UP'll not crash",
                  "UP, which'll not be fatal", "UP'd not be a bad move"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    assert verify(snake_reply("UP", "DOWN'll not be safe"), DOWN_FATAL)["accuracy"] == 1.0
    assert verify(snake_reply("UP", "DOWN'll not be correct"), DOWN_FATAL)["accuracy"] == 0.0


def test_losing_or_ending_the_game_at_once_or_for_the_player_takes_the_answer_back() -> None:
    """"UP would lose immediately" and "UP would end the game for us" were credited as UP: losing and ending
    the game are verdicts only where they end their clause, and an adverb of speed ("immediately", "at
    once") or the one who loses ("for us", "for the snake") came between. Those may close the clause too;
    a clause that goes on after them ("with a win") keeps UP, as it does without them."""
    for reply in ("UP would lose immediately", "UP would lose instantly", "UP will lose at once",
                  "UP loses immediately", "UP would lose the game outright",
                  "UP would end the game immediately", "UP ends the game **instantly**",
                  "UP would end the game for us", "UP ends the game for me.",
                  "UP would end the game for the snake", "UP, which would end the game for you"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("UP would lose the apple", "UP would end the game immediately with a win",
                  "UP ends the game for us with a win"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for worst in ("DOWN would lose immediately", "DOWN would end the game for us"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_an_arrow_or_a_dash_before_a_fatal_outcome_takes_the_answer_back() -> None:
    """"UP → dies", "UP -> death", "UP = death", "UP - dies", "UP: crash" were credited as UP: an arrow or
    equals sign was no mark before a verdict alone, and a fatal verb in the present or a bare crash was no
    verdict alone after any mark (only "UP: dies" was read, its colon taken as part of the word). Both are
    now; a safe outcome, a crash-free one or a verdict asked keep UP."""
    for reply in ("UP → dies", "UP -> dies", "UP->dies", "UP => crashes into the wall", "UP → death",
                  "UP → fatal", "UP = death", "UP -> game over", "UP ⇒ hits its own body", "UP - dies",
                  "UP (dies)", "UP — crashes", "UP: crash", "UP -> crash", "UP - collision with the wall"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("UP → safe", "UP -> eats the apple", "UP = free space", "UP: collision-free",
                  "UP - crash avoidance", "UP → the other snake dies"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for worst in ("DOWN → dies", "DOWN -> death", "DOWN: crash"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_an_adverb_before_a_verdict_keeps_it_a_verdict() -> None:
    """"UP is very dangerous", "UP is definitely fatal", "UP is also not safe", "UP would also crash", "UP is
    a very bad move" were credited as UP: an adverb was read only between would and a fatal verb, and from a
    short list. One closed list of adverbs of certainty, speed, degree or addition (``_ADVERB``) may now come
    before any verdict or "not", and between an article and its adjective; any other word, or a verdict
    they do not make ("UP is not very dangerous", "UP is not just safe"), keeps UP."""
    for reply in ("UP is very dangerous", "UP is extremely risky", "UP is too risky", "UP is clearly fatal",
                  "UP is definitely a bad move", "UP is also fatal", "UP is likewise **fatal**",
                  "UP would be really bad", "UP is certainly not safe", "UP is also not safe",
                  "UP would definitely not be safe", "UP would also crash", "UP also crashes",
                  "UP immediately dies", "UP, which also crashes", "UP is a very bad move",
                  "UP would be a really bad idea", "UP'll also crash"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    assert verify(wrap("B is clearly wrong"), record(CHOICE))["accuracy"] == 0.0
    assert verify(wrap("B is clearly right"), record(CHOICE))["accuracy"] == 1.0
    for reply in ("UP is very safe", "UP is not very dangerous", "UP is not just safe but best",
                  "UP is also safe", "UP would also eat the apple", "UP is probably fatal",
                  "UP would almost crash", "UP is not too risky"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for worst in ("DOWN is also fatal", "DOWN is very dangerous", "DOWN also crashes"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_a_move_said_to_be_avoided_is_taken_back() -> None:
    """"UP should be avoided", "UP must be avoided", "UP is the move to avoid" were credited as UP: "avoid"
    takes back what follows it, and here nothing does. "avoided" (best or better avoided) is a verdict on the
    move after "is" (should, must, is to be too), and so is "the move (one) to avoid" ending its clause; a
    crash or wall said avoided, another move said to be avoided, or a move to avoid something keep UP."""
    for reply in ("UP should be avoided", "UP must be avoided", "UP is to be avoided", "UP is best avoided",
                  "UP, which should be avoided", "UP (avoided)", "UP is the move to avoid",
                  "UP is the one to avoid.", "UP should be avoided because it hits the wall"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("UP, so the wall is avoided", "UP, as the crash must be avoided", "UP: crash avoided",
                  "UP is the move to avoid the wall", "UP should be safe", "UP must be the best move"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for worst in ("DOWN should be avoided", "DOWN is the move to avoid"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_more_words_of_a_bad_or_not_good_move_take_the_answer_back() -> None:
    """"UP is lethal", "UP would be a fatal mistake", "UP is a death trap", "UP is a no-go", "UP is out of the
    question", "UP is not an option", "UP is not viable", "UP is not recommended" were credited as UP: their
    words were in no closed list of verdicts. They are now (_BAD, _NOT_GOOD); words that only begin alike,
    the same verdicts said of nothing the move is, or negated, keep UP."""
    for reply in ("UP is lethal", "UP would be a lethal move", "UP is unwise", "UP is inadvisable",
                  "UP would be a fatal mistake", "UP is a big mistake", "UP is a death trap",
                  "UP is a death sentence", "UP is a trap", "UP is a no-go", "UP is no go",
                  "UP is out of the question", "UP is a suicide move", "UP is not an option",
                  "UP isn't a viable option", "UP is not viable", "UP is not a viable move",
                  "UP is not recommended", "UP is not advisable", "UP: not an option", "UP - lethal"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("UP is not lethal", "UP is not a trap", "UP is viable", "UP is recommended",
                  "UP is an option", "UP is not a mistake", "UP is a trap-free path", "UP avoids the trap",
                  "UP is the only viable option", "UP is not only viable but best"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for worst in ("DOWN is lethal", "DOWN is not an option", "DOWN is a death trap"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_more_objects_of_the_fatal_verbs_take_the_answer_back() -> None:
    """"UP leads to a game over", "UP would cause an immediate crash", "UP would run into the wall", "UP would
    hit the boundary", "UP would get the snake killed", "UP would bite its own tail", "UP would go out of
    bounds", "UP would result in a loss" were credited as UP: the fatal verbs' closed lists of objects lacked
    them. Objects that are no harm to the snake, or a loss that goes on ("a loss of time"), keep UP."""
    for reply in ("UP leads to a game over", "UP would cause an immediate crash",
                  "UP causes a certain collision", "UP would run into the wall", "UP runs into its own body",
                  "UP would hit the boundary",
                  "UP hits the edge", "UP would get the snake killed", "UP gets us killed",
                  "UP would bite its own tail", "UP bites itself", "UP would go out of bounds",
                  "UP goes out of bounds", "UP is out of bounds", "UP would result in a loss",
                  "UP leads to the loss", "UP, which runs into the wall"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("UP would run into the apple", "UP hits the apple's edge", "UP would get the apple",
                  "UP would bite the apple", "UP would go out of danger", "UP would result in a loss of time",
                  "UP would cause an immediate win",
                  "UP runs into open space", "UP gets the other snake killed"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for worst in ("DOWN would run into the wall", "DOWN goes out of bounds", "DOWN leads to a game over"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_never_before_a_not_good_verdict_is_not() -> None:
    """"UP would never be safe", "UP is never safe", "UP'll never be safe" were credited as UP: "never" took
    back only what follows it, where "not" in the same place makes a verdict on the move or the answer.
    "never" there reads as "not"; "UP would never crash" and "UP is never fatal" keep UP."""
    for reply in ("UP would never be safe", "UP is never safe", "UP'll never be safe",
                  "UP is never a good move", "UP, which is never safe", "UP is never correct",
                  "UP will never be allowed"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("UP would never crash", "UP is never fatal", "UP'd never be wrong", "UP is never blocked"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    assert verify(snake_reply("UP", "DOWN is never safe"), DOWN_FATAL)["accuracy"] == 1.0


def test_a_fatal_outcome_said_of_the_snake_or_without_an_article_takes_the_answer_back() -> None:
    """"UP hits wall", "UP goes straight into the wall", "UP would result in the snake's death", "UP would
    cause the snake to collide with the wall", "UP results in the snake dying" were credited as UP: a wall
    without an article, a verb of motion into the wall, and the snake (its, our) as death's owner or the one
    made to crash were in no closed list of the fatal verbs' objects. They are now; another snake, the apple
    or open space keep UP."""
    for reply in ("UP hits wall", "UP would hit wall", "UP goes straight into the wall",
                  "UP moves into the wall", "UP would head directly into its own body",
                  "UP leads straight into the wall",
                  "UP would result in the snake's death", "UP leads to our death", "UP means its death",
                  "UP would cause the snake to collide with the wall", "UP makes the snake crash",
                  "UP would make us die", "UP results in the snake dying", "UP, which causes it to crash"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("UP goes into open space", "UP moves toward the apple",
                  "UP would lead to the other snake's death", "UP would cause the other snake to crash",
                  "UP makes the snake grow",
                  "UP results in the snake eating", "UP hits apple"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for worst in ("DOWN hits wall", "DOWN would cause the snake to crash", "DOWN goes into the wall"):
        assert verify(snake_reply("UP", worst), DOWN_FATAL)["accuracy"] == 1.0, worst


def test_a_square_bracket_or_not_wise_is_a_verdict_as_a_round_bracket_or_not_safe_is() -> None:
    """"UP [unsafe]", "UP [fatal]" and "UP is not wise" were credited as UP: only a round bracket was a mark
    before a verdict alone, and "wise" was in no list of what a move is not. Both are now read."""
    for reply in ("UP [unsafe]", "UP [fatal]", "UP [not safe]", "UP [dies]", "UP is not wise",
                  "UP isn't wise", "UP would not be wise", "UP [which is wrong]"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("UP [safe]", "UP [not fatal]", "UP is wise", "UP is not unwise", "UP [wrongly drawn]"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply


def test_a_disastrous_or_game_ending_move_is_taken_back() -> None:
    """"UP would be disastrous", "UP is catastrophic", "UP is game-ending", "UP would be a disaster" were
    credited as UP: the words were in no closed list of verdicts. They are now, bare and before a move noun;
    negated, or said of something else, they keep UP."""
    for reply in ("UP would be disastrous", "UP is catastrophic", "UP is game-ending", "UP is game ending",
                  "UP is a game-ending move", "UP is a disastrous move", "UP would be a disaster",
                  "UP - catastrophic", "UP, which would be a catastrophe"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("UP is not disastrous", "UP is not game-ending", "UP avoids a disaster",
                  "UP is not a disaster"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    assert verify(snake_reply("UP", "DOWN is game-ending"), DOWN_FATAL)["accuracy"] == 1.0


def test_a_verdict_said_of_the_other_snake_keeps_the_answer() -> None:
    """"UP is lethal for blue", "UP would be a disaster for the opponent", "UP is a death trap for the blue
    snake" lost their credit when the new verdict words came in: a Duel Snake move that kills the other snake
    is a good one, and a verdict said for (to, by) the other snake (blue, the opponent, the enemy, the rival,
    the other one) is none on the move, as "UP would kill the other snake" is none. Said of the player's
    snake, or with no one named, it takes the move back still."""
    for reply in ("UP is lethal for blue", "UP is a trap for blue", "UP would be disastrous for the opponent",
                  "UP would be a disaster for the blue snake", "UP, which is lethal for blue",
                  "UP - that's catastrophic for the opponent", "UP'd be game-ending for blue",
                  "UP is very dangerous for blue", "UP is a death trap for the blue snake",
                  "UP is a no-go for the enemy", "UP is deadly to the other snake",
                  "UP is **fatal** for blue",
                  "UP means certain death for blue", "UP would lead to a crash for the rival snake"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    duel = record({**SNAKE, "good": ["UP", "LEFT"], "fatal": ["DOWN"]})
    assert verify(snake_reply("UP is lethal for blue", "DOWN"), duel)["accuracy"] == 1.0
    for reply in ("UP is lethal", "UP is lethal for us", "UP is lethal for our snake",
                  "UP would be a disaster for the snake", "UP is a trap for me", "UP means death for us",
                  "UP is very dangerous for the green snake"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply


def test_a_move_into_the_edge_row_or_a_wall_side_lane_keeps_the_answer() -> None:
    """"UP moves into the edge column", "UP goes into the border row", "UP heads into the wall-side lane"
    lost their credit when verbs of motion into a wall, edge or border came in: the board's edge row (column,
    cell, lane) is cells inside the board, and a word hyphened to the wall is another word. Into the edge,
    border or wall itself takes the move back still."""
    for reply in ("UP moves into the edge column", "UP goes into the border row, which is free",
                  "UP heads into the wall-side lane", "UP runs into the wall-adjacent free cell",
                  "UP moves into the edge cell", "UP goes into the edge lane safely"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
    for reply in ("UP moves into the edge", "UP runs into the wall on the left", "UP goes into the border.",
                  "UP would hit the edge of the board", "UP runs into the wall cell",
                  "UP hits the wall - dies"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply


def test_other_alone_names_no_other_snake() -> None:
    """"UP is a mistake for other reasons", "UP is fatal for other moves' sake" were credited as UP: "for
    other" was read as said for the other snake. The other snake is named (the other snake, one or player);
    "other" alone keeps the verdict on the move."""
    for reply in ("UP is a mistake for other reasons", "UP is fatal for other moves' sake",
                  "UP is deadly to other parts of the board", "UP means death for other reasons"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    for reply in ("UP is lethal for the other snake", "UP is a trap for the other one",
                  "UP is deadly to the other player"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply


def test_an_outcome_after_an_option_letter_or_a_number_describes_it() -> None:
    """Duel Snake's outcome question ("Only your snake has died" is B, "Both snakes have died" D): "B → dies",
    "B (crash)", "D: crash", "D - collision" scored 0, as did "2 → dies" for a count: a fatal outcome alone
    after a mark, arrow or bracket, read as a verdict on the move, took the letter or the number back, where
    no option, count or cell is a move and the outcome is the answer's own. That outcome is read only where
    the answer is a move; a verdict on the answer ("B is wrong", "B → wrong") and a negation ("Not B") still
    take it back, and "UP → dies", "UP (crash)" are still none."""
    outcomes = ["Both snakes are alive", "Only your snake has died", "Only the blue snake has died",
                "Both snakes have died"]
    only_you = record({"rule": "choice", "options": outcomes, "answer": "B"})
    both = record({"rule": "choice", "options": outcomes, "answer": "D"})
    for reply in ("B → dies", "B - crashes into the wall", "B (crash)", "B: collision with the wall",
                  "B [dies]", "B (dies on round 2)", "Option B → crash"):
        assert verify(wrap(reply), only_you)["accuracy"] == 1.0, reply
    for reply in ("D - collision", "D: crash", "D → crash into each other"):
        assert verify(wrap(reply), both)["accuracy"] == 1.0, reply
    count = record({"rule": "integer", "value": 2})
    for reply in ("2 → dies", "2 - crash into walls", "2 (collision with the wall)"):
        assert verify(wrap(reply), count)["accuracy"] == 1.0, reply
    assert verify(wrap("(3, 4) - crash"), record(COORD))["accuracy"] == 1.0
    for reply in ("B is wrong", "B → wrong", "Not B", "B, not D", "B (not correct)", "B is the wrong choice"):
        assert verify(wrap(reply), only_you)["accuracy"] == 0.0, reply
    for reply in ("UP → dies", "UP (crash)", "UP - hits the wall", "UP: collision with the wall"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
    assert verify(snake_reply("UP → dies", "DOWN"), DOWN_FATAL)["accuracy"] == 0.0
    assert verify(snake_reply("UP", "DOWN → dies"), DOWN_FATAL)["accuracy"] == 1.0


def test_death_or_game_over_after_an_option_letter_describes_it() -> None:
    """"D → death", "D → game over", "B = death", "B (game over)" scored 0 on Duel Snake's outcome question
    ("Only your snake has died" is B, "Both snakes have died" D): death or game over alone after a mark was
    read as a verdict on the move after any answer, and the new arrow and equals marks read more of them.
    After an option letter, a number or a cell it is the answer's outcome; after a move it still takes the
    move back ("UP → death", "UP (game over)"), and any other verdict alone ("B → wrong") the letter."""
    outcomes = ["Both snakes are alive", "Only your snake has died", "Only the blue snake has died",
                "Both snakes have died"]
    only_you = record({"rule": "choice", "options": outcomes, "answer": "B"})
    both = record({"rule": "choice", "options": outcomes, "answer": "D"})
    for reply in ("B = death", "B → game over", "B (game over)", "B: certain death"):
        assert verify(wrap(reply), only_you)["accuracy"] == 1.0, reply
    for reply in ("D → death", "D → game over", "D (game over)", "D: game-over"):
        assert verify(wrap(reply), both)["accuracy"] == 1.0, reply
    for reply in ("B → wrong", "B (bad choice)", "B: not correct"):
        assert verify(wrap(reply), only_you)["accuracy"] == 0.0, reply
    for reply in ("UP → death", "UP (game over)", "UP = certain death", "UP: game-over"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply


def test_a_fatal_outcome_after_no_set_off_by_a_mark_is_why_it_is_no() -> None:
    """Snake's "Is it still alive?" answered "No → dies", "No. Dies", "No - crashes into wall" scored 0: the
    arrow or dash was read as the subject of the fatal verb and dropped, leaving "No dies", no as the
    determiner, and "No." was the subject of "Dies". After a no set off by a mark the outcome is its reason;
    a yes before it is still no answer no, and "Yes. Dies" contradicts itself (its yes taken back)."""
    dead = record({"rule": "word", "choices": ["yes", "no"], "accepted": ["no"]})
    alive = record({"rule": "word", "choices": ["yes", "no"], "accepted": ["yes"]})
    for reply in ("No → dies", "No. Dies", "No - crashes into wall", "No: dies", "No -> dies", "**No.** Dies",
                  "Nope: dies"):
        assert verify(wrap(reply), dead)["accuracy"] == 1.0, reply
        assert verify(wrap(reply), alive)["accuracy"] == 0.0, reply
    for reply in ("Yes → dies", "Yes. Dies", "Yes - crashes into wall", "No dies", "no idea", "No is wrong"):
        assert verify(wrap(reply), dead)["accuracy"] == 0.0, reply
    assert verify(wrap("Yes. Dies"), alive)["accuracy"] == 0.0
    for reply in ("UP → dies", "UP. Dies", "UP - crashes into wall"):  # after a move: still a verdict
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply


def test_a_direction_naming_where_a_wall_is_names_no_move() -> None:
    """"UP, away from the wall on the right" scored 0: the RIGHT of "the wall on the right" was read as a
    second move. A direction after a wall (boundary, border, edge) "on the" or "is on (to) the" names where
    the wall is; "along the wall to the right" may be the move and still names RIGHT, and a move that hits
    the wall on the right is still taken back."""
    spec = record(WORD)  # UP and LEFT accepted
    for reply in ("UP, away from the wall on the right", "UP (the wall is on the right)",
                  "LEFT, the wall is to the right", "UP, away from the border on its **right**"):
        assert verify(wrap(reply), spec)["accuracy"] == 1.0, reply
    for reply in ("UP hits the wall on the right", "UP, along the wall to the right", "the wall on the right",
                  "DOWN, away from the wall on the left", "UP runs into the wall on the left"):
        assert verify(wrap(reply), spec)["accuracy"] == 0.0, reply
    assert verify(snake_reply("UP, away from the wall on the right", "DOWN"), DOWN_FATAL)["accuracy"] == 1.0
    assert verify(snake_reply("UP", "DOWN (the wall on the left)"), DOWN_FATAL)["accuracy"] == 1.0
    up_fatal = record({**SNAKE, "good": ["LEFT"], "fatal": ["UP"]})
    assert verify(snake_reply("UP hits the wall on the right", "UP"), up_fatal)["accuracy"] == 0.0


def test_risky_said_of_the_best_move_where_no_move_is_safe_keeps_it() -> None:
    """Duel Snake's best move where no move is safe is a risky one, as its analysis says, but "DOWN (risky,
    no move is safe)" scored 0: "risky" was read as a verdict against DOWN. Its record now says which moves
    are safe (``safe``); given and empty, "risky" said of the best move is no verdict. Where a move is safe,
    or the record does not say (exports before the key), it still is; any other verdict still is one."""
    from vlm.tasks import snake_duel

    def duel(blue: list[list[int]]) -> dict:
        return {"game": "snake_duel", "size": 6, "num_apples": 1, "max_rounds": 100, "round": 5,
                "apples": [[5, 5]], "done": False, "result": None, "rng": 1,
                "snakes": [{"body": [[1, 0], [2, 0]], "direction": "LEFT", "alive": True, "score": 0},
                           {"body": blue, "direction": "UP", "alive": True, "score": 0}]}

    # Blue's head beside both of your free cells: each move it makes may meet yours, UP leaves the board.
    cornered = snake_duel.move_task(duel([[0, 1], [0, 2]]))
    assert cornered.verifier["safe"] == [] and cornered.verifier["good"] == ["DOWN"]
    for best in ("DOWN (risky, no move is safe)", "DOWN - risky", "DOWN is risky", "DOWN, a risky move"):
        assert verify(snake_reply(best, "UP"), cornered)["accuracy"] == 1.0, best
        assert parse_move(snake_reply(best, "UP"), cornered) == "DOWN", best
    for best in ("DOWN is fatal", "DOWN (not safe)", "LEFT (risky, no move is safe)"):
        assert verify(snake_reply(best, "UP"), cornered)["accuracy"] == 0.0, best
    before_the_key = {k: v for k, v in cornered.verifier.items() if k != "safe"}
    assert verify(snake_reply("DOWN (risky, no move is safe)", "UP"), before_the_key)["accuracy"] == 0.0
    free = snake_duel.move_task(duel([[5, 2], [5, 3]]))  # blue far away: every move but UP is safe
    assert free.verifier["safe"] and set(free.verifier["good"]) <= set(free.verifier["safe"])
    best = free.verifier["good"][0]
    for reply in (f"{best} is risky", f"{best} (risky, no move is safe)"):
        assert verify(snake_reply(reply, "UP"), free)["accuracy"] == 0.0, reply
    assert verify(snake_reply(best, "UP"), free)["accuracy"] == 1.0
    assert "'safe' must be null or a list of moves" in spec_problem({**SNAKE, "safe": "UP"})


def test_ending_the_game_with_the_other_snake_dead_or_the_puzzle_solved_keeps_the_answer() -> None:
    """"UP → ends the game (blue dies)", "UP ends the game immediately: blue is trapped" (Duel Snake) and "UP
    → game over (solved!)" (Sokoban) scored 0: ending the game and game over were read as losing, where the
    words set off after them say the game ends in a win. An ending (game over) followed, past a mark or
    because, by the other snake's death or a win that ends its clause is no verdict; alone, or followed by
    anything else (blue winning, both dying, a question), it is one still."""
    duel = record({**SNAKE, "good": ["UP", "LEFT"], "fatal": ["DOWN"], "safe": ["UP", "LEFT"]})
    for best in ("UP → ends the game (blue dies)", "UP ends the game immediately: blue is trapped",
                 "UP ends the game because the opponent dies", "UP -> game over (the blue snake is dead)",
                 "UP would end the game - the other snake crashes", "UP leads to game over (we win)"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 1.0, best
    for reply in ("UP → game over (solved!)", "UP is game over: puzzle solved", "UP ends the game (a win)",
                  "UP → game over (level complete)",
                  "UP completes the level and ends the game"):  # credited before: "and" ends no clause
        assert verify(wrap(reply), record(WORD))["accuracy"] == 1.0, reply
        assert parse_move(wrap(reply), record(WORD)) == "UP", reply
    for reply in ("UP ends the game", "UP → ends the game", "UP → game over", "UP ends the game immediately",
                  "UP ends the game (blue wins)", "UP ends the game (blue dies too)",
                  "UP → game over (solved?)", "UP ends the game: green dies", "UP ends the game (we die)",
                  "UP would lose (blue dies)", "UP ends the game, blue is trapped and so are we"):
        assert verify(wrap(reply), record(WORD))["accuracy"] == 0.0, reply
        assert verify(snake_reply(reply, "DOWN"), duel)["accuracy"] == 0.0, reply
    single = record({**SNAKE, "good": ["UP", "LEFT"], "fatal": ["DOWN"]})
    assert verify(snake_reply("UP ends the game", "DOWN"), single)["accuracy"] == 0.0
    # In a worst answer an ending is a fatal move's reason either way: DOWN is named.
    assert verify(snake_reply("UP", "DOWN ends the game (blue wins)"), duel)["accuracy"] == 1.0


def test_it_after_a_sentence_about_the_other_snake_is_the_other_snake() -> None:
    """"Blue is next to our head. UP would make it crash into our body" and "The opponent is trapped. UP
    causes it to die" scored 0 where UP was the best move: "it" was always read as the player's snake, so
    killing blue read as dying. Where the sentence right before names the other snake as its subject, "it" is
    that snake; with no such sentence (single Snake, or our snake the subject just before) it is ours still,
    and "its" (whose body a head may hit) is left as it is."""
    duel = record({**SNAKE, "good": ["UP", "LEFT"], "fatal": ["DOWN"], "safe": ["UP", "LEFT"]})
    for best in ("Blue is next to our head. UP would make it crash into our body",
                 "The opponent is trapped. UP causes it to die",
                 "The blue snake has one free cell. UP kills it.",
                 "Blue is cornered!\nUP would make it collide with our tail",
                 "The other snake is boxed in. UP would end the game for it"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 1.0, best
        assert parse_move(snake_reply(best, "DOWN"), duel) == "UP", best
    assert verify(wrap("The opponent is trapped. UP causes it to die"), record(WORD))["accuracy"] == 1.0
    for best in ("UP would make it crash into our body", "UP causes it to die",
                 "Our snake is next to blue. UP causes it to die",
                 "Blue is far away. Our snake is boxed in. UP would make it crash",
                 "Blue is next to us. UP would hit its body"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 0.0, best
    single = record({**SNAKE, "good": ["UP", "LEFT"], "fatal": ["DOWN"]})
    for best in ("UP would make it crash", "UP would make it crash into our body", "UP causes it to die"):
        assert verify(snake_reply(best, "DOWN"), single)["accuracy"] == 0.0, best


def test_a_verdict_joined_to_risky_still_takes_the_best_move_back_where_no_move_is_safe() -> None:
    """Where no move is safe "risky" said of the best move is no verdict, but the one that followed it was
    skipped with it: "DOWN is risky and fatal" and "DOWN (risky, fatal)" scored 1 (0 before the ``safe``
    key, and with a safe move). A verdict after "risky" and a comma, "and" or "or" is still one."""
    from vlm.tasks import snake_duel

    state = {"game": "snake_duel", "size": 6, "num_apples": 1, "max_rounds": 100, "round": 5,
             "apples": [[5, 5]], "done": False, "result": None, "rng": 1,
             "snakes": [{"body": [[1, 0], [2, 0]], "direction": "LEFT", "alive": True, "score": 0},
                        {"body": [[0, 1], [0, 2]], "direction": "UP", "alive": True, "score": 0}]}
    cornered = snake_duel.move_task(state)
    assert cornered.verifier["safe"] == [] and cornered.verifier["good"] == ["DOWN"]
    for best in ("DOWN is risky and fatal", "DOWN (risky, fatal)", "DOWN is risky and deadly",
                 "DOWN is risky or fatal", "DOWN is risky and a bad move", "DOWN - risky, dangerous",
                 "DOWN would be risky and unsafe"):
        assert verify(snake_reply(best, "UP"), cornered)["accuracy"] == 0.0, best
        assert parse_move(snake_reply(best, "UP"), cornered) is None, best
    for best in ("DOWN (risky, no move is safe)", "DOWN is risky but the best", "DOWN (risky, least bad)",
                 "DOWN is risky, and the best"):
        assert verify(snake_reply(best, "UP"), cornered)["accuracy"] == 1.0, best


def _cornered_duel() -> TaskRecord:
    """A Duel Snake move question where no move is safe ("safe": []): DOWN is the best move, UP fatal."""
    from vlm.tasks import snake_duel

    state = {"game": "snake_duel", "size": 6, "num_apples": 1, "max_rounds": 100, "round": 5,
             "apples": [[5, 5]], "done": False, "result": None, "rng": 1,
             "snakes": [{"body": [[1, 0], [2, 0]], "direction": "LEFT", "alive": True, "score": 0},
                        {"body": [[0, 1], [0, 2]], "direction": "UP", "alive": True, "score": 0}]}
    cornered = snake_duel.move_task(state)
    assert cornered.verifier["safe"] == [] and cornered.verifier["good"] == ["DOWN"]
    return cornered


def test_a_verdict_joined_by_and_or_or_takes_the_move_back() -> None:
    """A verdict after "and" or "or" joining verdicts of the same subject was not read, nor one a mark set
    before that went on with "and": "DOWN is safe and fatal" and "DOWN, risky and dangerous" scored 1 for a
    move the reply calls fatal. The twins that join good verdicts, or negated ones, keep the move."""
    from vlm.verify import _affirmed

    down_good = record({**SNAKE, "good": ["DOWN", "LEFT"], "fatal": ["UP", "RIGHT"]})
    for best in ("DOWN is safe and fatal", "DOWN, risky and dangerous", "DOWN is safe or deadly",
                 "DOWN is safe, and fatal", "DOWN is good and very dangerous", "DOWN'll be safe and fatal",
                 "DOWN is **safe** and **fatal**", "DOWN, which is safe and fatal", "DOWN (fatal and risky)",
                 "DOWN: not safe and fatal", "DOWN - safe and a bad move", "DOWN is safe and fatal for us"):
        assert verify(snake_reply(best, "UP, RIGHT"), down_good)["accuracy"] == 0.0, best
        assert verify(wrap(best), record({**WORD, "accepted": ["DOWN"]}))["accuracy"] == 0.0, best
    for best in ("UP is safe and good", "UP avoids the wall and is safe", "UP: not risky and not fatal",
                 "UP is not risky or fatal", "UP (safe and good)", "UP is safe and fatal for blue",
                 "UP is safe and death is avoided", "UP is safe and bad moves hit walls"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best
    # A second move named scores 0 anyway; a verdict on it is no verdict on UP (the clause ends at "DOWN").
    for best in ("UP and then LEFT is safe", "UP is safe, and DOWN is fatal"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 0.0, best
    assert "UP" in _affirmed("UP is safe, and DOWN is fatal", move=True).split()
    assert "UP" in _affirmed("UP is safe and DOWN is fatal", move=True).split()
    # Where no move is safe "risky" is no verdict on the best move, joined or not; a verdict joined to it is.
    cornered = _cornered_duel()
    for best in ("DOWN is safe and fatal", "DOWN is risky and fatal", "DOWN (fatal and risky)",
                 "DOWN, risky and dangerous", "DOWN is safe or deadly"):
        assert verify(snake_reply(best, "UP"), cornered)["accuracy"] == 0.0, best
    for best in ("DOWN is risky and the best", "DOWN (risky and least bad)", "DOWN is safe and risky",
                 "DOWN is risky or not", "DOWN, risky and safe"):
        assert verify(snake_reply(best, "UP"), cornered)["accuracy"] == 1.0, best


def test_an_adverb_after_a_mark_leaves_the_verdict_a_verdict() -> None:
    """An adverb (``_ADVERB``) between a mark and the verdict alone after it hid the verdict: "DOWN (too
    risky)", "DOWN - very dangerous" and "B (definitely wrong)" scored 1, where "DOWN is too risky" scored
    0. Where no move is safe "too risky" said of the best move is no verdict, as "risky" is."""
    down_good = record({**SNAKE, "good": ["DOWN", "LEFT"], "fatal": ["UP", "RIGHT"]})
    for best in ("DOWN (too risky)", "DOWN - very dangerous", "DOWN (definitely fatal)",
                 "DOWN: clearly not safe", "DOWN, really a bad move", "DOWN (extremely risky and fatal)",
                 "DOWN → immediately dies", "DOWN, which is too risky", "DOWN is too risky"):
        assert verify(snake_reply(best, "UP, RIGHT"), down_good)["accuracy"] == 0.0, best
        assert verify(wrap(best), record({**WORD, "accepted": ["DOWN"]}))["accuracy"] == 0.0, best
    for answer in ("B (definitely wrong)", "B - clearly wrong", "B: certainly not correct"):
        assert verify(wrap(answer), record(CHOICE))["accuracy"] == 0.0, answer
    for best in ("UP (very safe)", "UP - clearly not risky", "UP: really good", "UP (too far from the wall)",
                 "UP, very dangerous as it may seem", "UP. Very risky? Not really",
                 "UP - also wrong moves hit walls"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 1.0, best
    for answer in ("B (definitely right)", "B - clearly not wrong"):
        assert verify(wrap(answer), record(CHOICE))["accuracy"] == 1.0, answer
    cornered = _cornered_duel()
    for best in ("DOWN (too risky)", "DOWN - very risky", "DOWN is too risky"):
        assert verify(snake_reply(best, "UP"), cornered)["accuracy"] == 1.0, best
    for best in ("DOWN - very dangerous", "DOWN (too risky and fatal)", "DOWN: clearly not safe"):
        assert verify(snake_reply(best, "UP"), cornered)["accuracy"] == 0.0, best


def test_a_cross_mark_after_a_move_takes_it_back() -> None:
    """A cross mark after the answer (❌, ✗, ✘, ✖, as models mark a move they rule out) was read past:
    "DOWN ❌" and "DOWN ✗" scored 1 for a move the reply crosses out. It is a verdict against the word
    before it, as "DOWN (fatal)" is; a tick ("UP ✓", "UP ✅") keeps the answer, and a worst answer names
    the moves it crosses."""
    down_good = record({**SNAKE, "good": ["DOWN", "LEFT"], "fatal": ["UP", "RIGHT"]})
    for best in ("DOWN ❌", "DOWN ✗", "DOWN ✘", "DOWN ✖️", "DOWN❌", "**DOWN** ❌", "DOWN: ❌ hits the wall",
                 "DOWN (❌)", "DOWN → ❌", "DOWN ❌ (hits the wall)"):
        assert verify(snake_reply(best, "UP, RIGHT"), down_good)["accuracy"] == 0.0, best
        assert verify(wrap(best), record({**WORD, "accepted": ["DOWN"]}))["accuracy"] == 0.0, best
    for answer in ("B ❌", "B ✗"):
        assert verify(wrap(answer), record(CHOICE))["accuracy"] == 0.0, answer
    for best in ("UP ✓", "UP ✅", "UP ✔️", "UP: ✅ safe", "UP → ✅", "UP (✓ no collision)"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best
    for worst in ("DOWN ❌, RIGHT ❌", "DOWN ✗ RIGHT ✗", "DOWN: ❌ wall, RIGHT: ❌ body"):
        assert verify(snake_reply("UP", worst), record(SNAKE))["accuracy"] == 1.0, worst


def test_a_dash_before_is_and_its_verdict_takes_the_answer_back() -> None:
    """A dash between the answer and "is" hid the verdict after it: "DOWN - is fatal" and "DOWN — is not
    safe" scored 1, where "DOWN is fatal" and "DOWN - that is fatal" scored 0. The dash stands for the
    pointer "that" before is (was, would or will be, and their "not"); the twins that call the move good
    keep it, and after yes or no the verdict is why ("No - is fatal" is no)."""
    down_good = record({**SNAKE, "good": ["DOWN", "LEFT"], "fatal": ["UP", "RIGHT"]})
    for best in ("DOWN - is fatal", "DOWN — is not safe", "DOWN -- is deadly", "DOWN - would be fatal",
                 "DOWN - isn't safe", "**DOWN** - is a bad move"):
        assert verify(snake_reply(best, "UP, RIGHT"), down_good)["accuracy"] == 0.0, best
        assert verify(wrap(best), record({**WORD, "accepted": ["DOWN"]}))["accuracy"] == 0.0, best
    assert verify(wrap("B - is wrong"), record(CHOICE))["accuracy"] == 0.0
    for best in ("UP - is safe", "UP - is the best move", "UP — is not risky", "UP - would be safe"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best
    assert verify(wrap("B - is correct"), record(CHOICE))["accuracy"] == 1.0
    yes_no = record({"rule": "word", "choices": ["yes", "no"], "accepted": ["no"]})
    assert verify(wrap("No - is fatal"), yes_no)["accuracy"] == 1.0
    # A worst answer asks for the fatal moves: a dash and a verdict name them.
    assert verify(snake_reply("UP", "DOWN - is fatal, RIGHT - is fatal"), record(SNAKE))["accuracy"] == 1.0


def test_a_verdict_joined_by_but_takes_the_move_back() -> None:
    """"DOWN is safe but fatal" scored 1 for a move the reply calls fatal: one-word verdicts of the same
    subject were joined by "and" or "or" only. "but" joins them too; a verdict on another move after "but"
    is that move's ("UP is safe, but LEFT is fatal" leaves UP said), and a good word after "but" keeps UP."""
    from vlm.verify import _affirmed

    down_good = record({**SNAKE, "good": ["DOWN", "LEFT"], "fatal": ["UP", "RIGHT"]})
    for best in ("DOWN is safe but fatal", "DOWN is safe, but deadly", "DOWN (safe but fatal)",
                 "DOWN, which is good but dangerous", "DOWN: safe but risky"):
        assert verify(snake_reply(best, "UP, RIGHT"), down_good)["accuracy"] == 0.0, best
        assert verify(wrap(best), record({**WORD, "accepted": ["DOWN"]}))["accuracy"] == 0.0, best
    for best in ("UP is safe but slow", "UP is safe, but far from the apple", "UP (safe but slow)",
                 "UP is safe but bad moves hit walls"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best
    assert "UP" in _affirmed("UP is safe, but LEFT is fatal", move=True).split()
    cornered = _cornered_duel()  # "risky" is no verdict on its best move; one joined to it by "but" is
    assert verify(snake_reply("DOWN is risky but the best", "UP"), cornered)["accuracy"] == 1.0
    assert verify(snake_reply("DOWN is risky but fatal", "UP"), cornered)["accuracy"] == 0.0


def test_a_verb_phrase_then_and_is_with_a_verdict_takes_the_move_back() -> None:
    """"DOWN avoids the wall and is fatal" scored 1: a verdict after "and is" was read only right after the
    word. A verb in the present after the move, up to five words more and "and is" (is not) before the
    verdict say it of the move too; the good twins keep it, and a verdict of the other snake is none."""
    down_good = record({**SNAKE, "good": ["DOWN", "LEFT"], "fatal": ["UP", "RIGHT"]})
    for best in ("DOWN avoids the wall and is fatal", "DOWN moves toward the apple and is deadly",
                 "DOWN keeps us away from the wall and is not safe", "DOWN gets the apple and is a bad move",
                 "Moving DOWN avoids blue and would be fatal"):
        assert verify(snake_reply(best, "UP, RIGHT"), down_good)["accuracy"] == 0.0, best
        assert verify(wrap(best), record({**WORD, "accepted": ["DOWN"]}))["accuracy"] == 0.0, best
    for best in ("UP avoids the wall and is safe", "UP moves toward the apple and is the best",
                 "UP leads to open space and is not blocked", "UP traps blue and is fatal for the opponent",
                 "UP is the move that avoids the wall and is safe"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best
    # A worst answer asks for the fatal moves: such a verdict names them.
    assert verify(snake_reply("UP", "DOWN hits the wall and is fatal, RIGHT too"), record(SNAKE))[
        "accuracy"] == 1.0


def test_the_other_snake_named_with_a_possessive_is_the_other_snake() -> None:
    """"UP ends the game: the opponent's snake dies" and "The opponent's snake is trapped. UP causes it to
    die" scored 0 where UP wins the duel: the other snake was read only as "blue" or "the opponent (snake)",
    not "the opponent's snake". A possessive before snake or player names it too; "Blue's head is next to
    ours." names a head, so "it" after it is still ours, and the other snake winning is still a loss."""
    duel = record({**SNAKE, "good": ["UP", "LEFT"], "fatal": ["DOWN"], "safe": ["UP", "LEFT"]})
    for best in ("UP ends the game: the opponent's snake dies", "UP → ends the game (the enemy's snake dies)",
                 "UP would end the game - the other player's snake crashes",
                 "The opponent's snake is trapped. UP causes it to die"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best
    for best in ("UP ends the game (the opponent's snake wins)", "UP ends the game: the opponent's head dies",
                 "Blue's head is next to ours. UP causes it to die"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 0.0, best


def test_an_ending_with_the_other_snake_dead_without_is_or_to_come_keeps_the_answer() -> None:
    """"UP → ends the game (blue dead)", "(blue trapped)" and "(blue would die)" scored 0 where "(blue is
    dead)" and "(blue dies)" scored 1: the other snake's end was read only with "is" (gets, got) or in the
    present. Bare, or with would or will, it is a win too; blue winning, or more words after it, is not."""
    duel = record({**SNAKE, "good": ["UP", "LEFT"], "fatal": ["DOWN"], "safe": ["UP", "LEFT"]})
    for best in ("UP → ends the game (blue dead)", "UP → ends the game (blue trapped)",
                 "UP ends the game: the opponent eliminated", "UP → ends the game (blue would die)",
                 "UP ends the game because blue will crash"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best
    for best in ("UP → ends the game (blue would win)", "UP → ends the game (blue trapped us)",
                 "UP → ends the game (blue would die too)", "UP ends the game (we would die)"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 0.0, best


def test_a_conjunction_after_the_move_opens_another_clause_not_a_verb_and_is() -> None:
    """"UP, as the alternative hits the wall and is fatal" scored 0 for the safe move UP: the rule that reads
    "UP avoids the wall and is fatal" as "UP is fatal" took "as" (whereas, unless, ..., any word ending in s)
    for UP's verb, so the other move's verdict in the clause it opens took UP back. Such a conjunction has a
    subject of its own; a verb of the move's still reads."""
    down_good = record({**SNAKE, "good": ["DOWN", "LEFT"], "fatal": ["UP", "RIGHT"]})
    for best in ("UP, as the alternative hits the wall and is fatal", "UP as the opposite side is tight and "
                 "is risky", "UP, whereas the other way is blocked and is fatal", "UP, unless the tail stays "
                 "and is deadly", "UP, as blue approaches from below and is dangerous"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best
    for best in ("DOWN avoids the wall and is fatal", "DOWN: this hits the wall and is fatal"):
        assert verify(snake_reply(best, "UP, RIGHT"), down_good)["accuracy"] == 0.0, best


def test_an_ending_with_both_snakes_dead_stays_a_loss() -> None:
    """"UP ends the game (blue dead, us too)" and "UP ends the game: blue would die, and so would we"
    scored 1: the other snake's end (bare or with would, b3d3bf54; "(blue dies, but so do we)" before it)
    ended its clause at the comma and read as a win, though the reply says our snake dies too. Our death
    said after it in the same bracket or sentence leaves the ending a loss; our win or survival does not."""
    duel = record({**SNAKE, "good": ["UP", "LEFT"], "fatal": ["DOWN"], "safe": ["UP", "LEFT"]})
    for best in ("UP ends the game (blue dead, us too)", "UP ends the game: blue would die, and so would we",
                 "UP → game over (blue dies, but so do we)", "UP ends the game (blue will crash, as will we)",
                 "UP ends the game (blue trapped; we crash too)",
                 "UP ends the game: blue dead, our snake dead",
                 "UP ends the game (blue would die — but we would die first)",
                 "UP ends the game (blue dead — and us)"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 0.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 0.0, best
    for best in ("UP ends the game (blue dead, we win)", "UP ends the game (blue would die, we survive)",
                 "UP → ends the game (blue dies)", "UP ends the game (blue dies, our snake survives)"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best


def test_a_cross_opening_the_next_sentence_is_no_verdict_on_the_answer() -> None:
    """"Go UP. ❌ Never toward the wall." and "UP.\\n❌ Avoid: the wall" scored 0 for the safe move UP: a
    cross past the answer's sentence end (c4e05157 read it past any mark) opens the next item, as one on the
    next line does, not a verdict on the word before. Past . ! or ? a cross is a verdict only where it ends
    its line ("UP. ❌"); past a comma, colon, dash or bracket it still is one."""
    for best in ("Go UP. ❌ Never toward the wall.", "UP.\n❌ Avoid: the wall", "UP! ❌ Not toward the wall",
                 "UP.\n\n❌ Dangerous alternatives: none"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best
    down_good = record({**SNAKE, "good": ["DOWN", "LEFT"], "fatal": ["UP", "RIGHT"]})
    for best in ("DOWN. ❌", "DOWN.\n❌\n", "DOWN! ✗", "DOWN, ❌", "DOWN: ❌ hits the wall", "DOWN ❌"):
        assert verify(snake_reply(best, "UP, RIGHT"), down_good)["accuracy"] == 0.0, best


def test_our_win_said_with_also_after_the_other_snakes_end_stays_a_win() -> None:
    """"UP ends the game (blue dies, and we also survive)" scored 0 where UP wins the duel: _OURS_TOO, which
    reads our death after the other snake's end ("(blue dead, us too)"), took "also" right after "we" for
    "we too". "also" is a filler there, as "would" is, and our death with it still reads."""
    duel = record({**SNAKE, "good": ["UP", "LEFT"], "fatal": ["DOWN"], "safe": ["UP", "LEFT"]})
    for best in ("UP ends the game (blue dead, we also win)",
                 "UP ends the game (blue dies, and we also survive)"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 1.0, best
    for best in ("UP ends the game (blue dies, we also die)", "UP ends the game (blue dead, we die also)"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 0.0, best


def test_a_cross_past_the_sentence_end_explained_in_brackets_takes_the_answer_back() -> None:
    """"DOWN. ❌ (hits the wall)" scored 1 for a move the reply crosses out: past . ! or ? a cross was read
    as a verdict only where it ended its line (b312d09f), though the bracket after it gives the reason for
    it, as in "DOWN ❌ (hits the wall)". A bracket after the cross keeps it a verdict; words do not."""
    down_good = record({**SNAKE, "good": ["DOWN", "LEFT"], "fatal": ["UP", "RIGHT"]})
    for best in ("DOWN. ❌ (hits the wall)", "DOWN! ✗ [body]"):
        assert verify(snake_reply(best, "UP, RIGHT"), down_good)["accuracy"] == 0.0, best
    assert verify(snake_reply("Go UP. ❌ Never toward the wall.", "DOWN, RIGHT"), record(SNAKE))[
        "accuracy"] == 1.0


def test_every_mark_after_a_pointed_word_is_one_the_quick_check_lets_through() -> None:
    """_POINTED_NEXT lets the lookaheads after a pointed word run only before a character that _SEP, _POINTER
    or _CROSSED can start with (a speed-up): a mark added to those but not to it would silently go unread."""
    from vlm.verify import _CROSSED, _POINTED_NEXT, _POINTER, _SEP
    starts = re.compile("(?:" + _SEP + "|" + _POINTER + "|" + _CROSSED + ")", re.IGNORECASE)
    allowed = re.compile(_POINTED_NEXT)
    tails = ("", " ", " which", "which", "> ", "-> ", "- ", "-- ", "❌", "*❌", "_❌", "(", " (", "= ", ">")
    for code in range(0x3000):
        for tail in tails:
            text = chr(code) + tail
            assert not starts.match(text) or allowed.match(text), repr(text)


def test_the_quick_test_for_a_wall_finds_every_name_the_wall_side_pattern_reads() -> None:
    """_without_wall_sides skips _WALL_SIDE where no name of _WALL_NAMES is in the text (a speed-up): a name
    the pattern reads but the list lacks would leave "the wall on the right" naming RIGHT."""
    from vlm.verify import _WALL_SIDE, _without_wall_sides
    for name in ("wall", "Walls", "BOUNDARY", "border", "Edge"):
        for side in ("on the right", "is to the LEFT", "are on our **up"):
            text = f"UP, away from the {name} {side}"
            assert _WALL_SIDE.search(text), text
            assert _without_wall_sides(text) == _WALL_SIDE.sub(r"\1", text) != text, text


def test_our_win_and_the_other_snake_dying_or_crashing_end_the_game_with_a_win() -> None:
    """"UP ends the game (our win)", "(blue dying)" and "(blue crashing)" scored 0 where UP wins the duel:
    _WON read "we win" and "blue dies" but not "our win" nor the other snake dying or crashing, though the
    docstring listed them. Something after them still leaves the ending a loss."""
    duel = record({**SNAKE, "good": ["UP", "LEFT"], "fatal": ["DOWN"], "safe": ["UP", "LEFT"]})
    for best in ("UP ends the game (our win)", "UP → game over (our victory)",
                 "UP ends the game (blue dying)", "UP ends the game: blue crashing",
                 "UP ends the game (the opponent is dying)"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 1.0, best
    for best in ("UP ends the game (our loss)", "UP ends the game (blue dying too)",
                 "UP ends the game (blue crashing, and we crash too)", "UP ends the game (our win?)"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 0.0, best


def test_nobody_is_a_count_of_zero_as_no_one_is() -> None:
    """"Nobody" alone scored 0 where the count is 0, while "No one" scored 1: _NO_ONE read "no one" as
    "none" but not its one-word form. Neither is the number 1, nor a player id where the spec is no count."""
    for answer in ("Nobody", "**nobody**", "Nobody."):
        assert verify(wrap(answer), record({"rule": "integer", "value": 0}))["accuracy"] == 1.0, answer
        assert verify(wrap(answer), record({"rule": "integer", "value": 1}))["accuracy"] == 0.0, answer
        player = record({"rule": "integer", "value": 0, "count": False})
        assert verify(wrap(answer), player)["accuracy"] == 0.0, answer
    assert verify(wrap("Nobody, 3"), record({"rule": "integer", "value": 3}))["accuracy"] == 1.0
    assert verify(wrap("None or 3"), record({"rule": "integer", "value": 3}))["accuracy"] == 0.0
    assert verify(wrap("Nobody or 3"), record({"rule": "integer", "value": 3}))["accuracy"] == 0.0  # 0 or 3


def test_a_verdict_after_a_dash_without_spaces_takes_the_move_back() -> None:
    """"UP—is fatal" scored 1 for a move the reply calls fatal, while "UP — is fatal" scored 0: the dash
    before is (would, will, ...) stood for "that" only with a space after it. An em dash ("—", "--") needs
    none; its verdict reads either way ("UP—is safe" keeps UP)."""
    for best in ("UP—is fatal", "UP--is deadly", "UP—would be fatal", "UP—is not safe", "UP—will crash"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 0.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 0.0, best
    for best in ("UP—is safe", "UP—is the best move", "UP—would keep the snake alive", "UP—is not fatal"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best
    assert verify(snake_reply("UP", "DOWN—is fatal, RIGHT"), record(SNAKE))["accuracy"] == 1.0


def test_a_verdict_after_a_verb_of_the_word_and_but_or_a_comma_takes_the_move_back() -> None:
    """"UP avoids the wall but is fatal" and "UP avoids the wall, and is fatal" scored 1 for a move the
    reply calls fatal, where "UP avoids the wall and is fatal" scored 0: _DOES_AND read the verb's clause
    up to "and" alone. "but", and a comma before either, join the same subject's verdict."""
    for best in ("UP avoids the wall but is fatal", "UP avoids the wall, and is fatal",
                 "UP avoids the wall, but is deadly", "UP moves toward the apple but is not safe"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 0.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 0.0, best
    for best in ("UP avoids the wall but is safe", "UP avoids the wall, and is safe",
                 "UP looks bad, but is safe", "UP avoids the wall, but is not risky",
                 "UP, as the alternative hits the wall but is fatal"):
        assert verify(snake_reply(best, "DOWN, RIGHT"), record(SNAKE))["accuracy"] == 1.0, best
        assert verify(wrap(best), record(WORD))["accuracy"] == 1.0, best
    assert verify(snake_reply("UP", "DOWN avoids the wall but is fatal, RIGHT"), record(SNAKE))[
        "accuracy"] == 1.0


def test_the_blue_players_snake_is_the_other_snake() -> None:
    """"UP ends the game (the blue player's snake dies)" scored 0 where UP wins the duel: _OTHER_NAMED read
    "the blue player" and "the blue snake" but not "the blue player's snake", so the win went unread. Our
    snake's death after it still leaves the ending a loss."""
    duel = record({**SNAKE, "good": ["UP", "LEFT"], "fatal": ["DOWN"], "safe": ["UP", "LEFT"]})
    for best in ("UP ends the game (the blue player's snake dies)",
                 "UP → game over: the blue player’s snake is dead",
                 "UP ends the game (the opponent player's snake crashes)"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 1.0, best
    for best in ("UP ends the game (the blue player's snake wins)",
                 "UP ends the game (the blue player's snake dies, and so do we)"):
        assert verify(snake_reply(best, "DOWN"), duel)["accuracy"] == 0.0, best
