import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs import make_env, make_game
from envs.env import GameEnv
from envs.rng import seeds_from
from envs.snake import DOWN, LEFT, RIGHT, UP, Snake
from tests.conftest import ROOT
from tests.envs.roundtrip import assert_round_trips


def game_with(body, apple, direction="RIGHT", size=6, hunger=0, starvation=None, rng=7):
    # A snake of 3 + score cells, one apple a step and then `hunger` steps without one: as a game plays it.
    g = Snake(num_envs=1, size=size, starvation=starvation)
    score = len(body) - 3
    g.set_state(0, {"size": size, "body": body, "apple": apple, "direction": direction,
                    "step": score + hunger, "steps_since_apple": hunger, "starvation": g.starvation,
                    "score": score, "done": False, "rng": rng})
    return g


def step1(g, action):
    r, te, tr = g.step(np.array([action]))
    return float(r[0]), bool(te[0]), bool(tr[0])


def test_eats_apple_grows_and_scores():
    g = game_with([[2, 2], [1, 2], [0, 2]], apple=[3, 2])
    assert step1(g, RIGHT) == (1.0, False, False)
    s = g.get_state(0)
    assert s["body"] == [[3, 2], [2, 2], [1, 2], [0, 2]] and s["score"] == 1
    assert s["apple"] not in s["body"]


def test_wall_kills_with_minus_one():
    g = game_with([[5, 2], [4, 2], [3, 2]], apple=[0, 0])
    assert step1(g, RIGHT) == (-1.0, True, False)
    assert g.episode_info(0)["score"] == 0
    # A finished board ignores further actions until reset.
    assert step1(g, UP) == (0.0, False, False)


def test_the_fatal_step_counts_in_step_and_in_steps_since_apple_alike():
    # step - steps_since_apple is the step of the last apple (0: none yet) in every state, the last too.
    for body, direction, action in (([[5, 2], [4, 2], [3, 2], [2, 2]], "RIGHT", RIGHT),  # wall
                                    ([[2, 2], [3, 2], [3, 3], [2, 3], [1, 3]], "LEFT", DOWN)):  # body
        g = game_with(body, apple=[0, 0], direction=direction, hunger=4)
        g.set_state(0, {**g.get_state(0), "step": 9})  # the last apple at step 5
        assert step1(g, action) == (-1.0, True, False)
        s = g.get_state(0)
        assert (s["step"], s["steps_since_apple"]) == (10, 5)


def test_self_collision_kills():
    # Head at (2,2) moving down into its own body at (2,3).
    g = game_with([[2, 2], [3, 2], [3, 3], [2, 3], [1, 3]], apple=[0, 0], direction="LEFT")
    assert step1(g, DOWN) == (-1.0, True, False)


def test_tail_chase_is_legal():
    square = [[2, 2], [3, 2], [3, 3], [2, 3]]  # head (2,2); tail (2,3) right below it
    g = game_with(square, apple=[0, 0], direction="LEFT")
    assert step1(g, DOWN) == (0.0, False, False)
    assert g.get_state(0)["body"][0] == [2, 3]
    assert len(g.get_state(0)["body"]) == 4


def test_moving_into_the_body_kills():
    square = [[2, 2], [3, 2], [3, 3], [2, 3], [1, 3]]  # now (2,3) is body, not the leaving tail
    g = game_with(square, apple=[0, 0], direction="LEFT")
    assert step1(g, DOWN) == (-1.0, True, False)


@pytest.mark.parametrize("body, apple, error", [
    # The apple on the tail: "eat the tail's cell" cannot happen.
    ([[2, 2], [3, 2], [3, 3], [2, 3]], [2, 3], "state's apple .* must be on a free cell"),
    ([[2, 2], [3, 2], [3, 3]], [6, 0], "state's apple .* must be on a free cell"),  # off the 6×6 board
    ([[2, 2], [3, 2], [2, 2]], [0, 0], "covers a cell twice"),
    ([[2, 2], [3, 2], [-1, 2]], [0, 0], "all on the board"),
    # One past the last row or column: read as a cell of the next row, or past the board's arrays.
    ([[4, 2], [5, 2], [6, 2]], [0, 0], "all on the board"),
    ([[2, 6], [3, 6], [4, 6]], [0, 0], "all on the board"),
    ([[2, 2], [3, 2], [3, 3]], [0, 6], "state's apple .* must be on a free cell"),
    ([], [0, 0], "at least one cell"),
])
def test_set_state_refuses_impossible_boards(body, apple, error):
    # The step relies on what reset and step guarantee: an apple only on a free cell, one cell per segment.
    # Each board is otherwise valid (heading LEFT), so the refusal is for the reason named.
    with pytest.raises(ValueError, match=error):
        game_with(body, apple=apple, direction="LEFT")


@pytest.mark.parametrize("body, direction, error", [
    ([[2, 2], [1, 2], [0, 2]], "NORTH", "state's snake direction must be one of UP, DOWN, LEFT, RIGHT, got"),
    ([[2, 2], [1, 2], [1, 4]], "RIGHT", r"state's snake .* has \[1, 2\] next to \[1, 4\]"),  # a gap
    ([[2, 2], [1, 3], [0, 3]], "RIGHT", r"state's snake .* has \[2, 2\] next to \[1, 3\]"),  # a diagonal step
    ([[2, 2], [1, 2], [0, 2]], "LEFT", r"state's snake direction LEFT is not the way its head last moved"),
])
def test_set_state_refuses_a_snake_no_game_makes_and_leaves_the_board(body, direction, error):
    # A bad name was a bare "tuple.index(x): x not in tuple" after the body was already written; a gap
    # or a diagonal let the snake's tail jump; a direction into the neck let the snake turn back into
    # itself (the step turns a move back into the neck straight on by the direction).
    g = game_with([[3, 3], [3, 4], [3, 5]], apple=[0, 0], direction="UP")
    before = g.get_state(0)
    with pytest.raises(ValueError, match=error):
        g.set_state(0, {**before, "body": body, "direction": direction})
    assert g.get_state(0) == before


@pytest.mark.parametrize("change, error", [
    ({"body": 5}, r"state's body must be a list as get_state returns, got int"),  # was a bare TypeError
    ({"body": [[3, 3], 4]}, r"state's body\[1\] must be a list of 2 whole numbers .*, got 4"),
    ({"body": [[3, 3], [3]]}, r"state's body\[1\] must be a list of 2 whole numbers"),  # Python's unpacking
    ({"body": [[3, 3], [3, 4.5]]}, r"state's body\[1\] must be a list of 2 whole numbers"),  # an IndexError
    ({"apple": [0, 0, 1]}, r"state's apple must be a list of 2 whole numbers .*, got \[0, 0, 1\]"),  # taken
    ({"apple": [0.5, 0]}, r"state's apple must be a list of 2 whole numbers"),  # taken as [0, 0]
    ({"apple": 3}, r"state's apple must be a list of 2 whole numbers .*, got 3"),  # a bare TypeError
    ({"apple": [1]}, r"state's apple must be a list of 2 whole numbers"),  # a bare IndexError
    ({"crash": "up", "done": True}, r"state's crash must be a list of 2 whole numbers"),
])
def test_set_state_names_a_cell_that_is_no_pair_of_whole_numbers_and_leaves_the_board(change, error):
    g = game_with([[3, 3], [3, 4], [3, 5]], apple=[0, 0], direction="UP")
    before = g.get_state(0)
    with pytest.raises(ValueError, match=error):
        g.set_state(0, {**before, **change})
    assert g.get_state(0) == before
    # Integral floats (a state through a float-only JSON reader) still load, as the game's other numbers do.
    g.set_state(0, {**before, "body": [[3.0, 3.0], [3, 4], [3, 5]], "apple": [0.0, 0]})
    assert g.get_state(0) == before


@pytest.mark.parametrize("change, error", [
    ({"done": "false"}, "state's done must be true or false, got 'false'"),  # bool("false") is True
    ({"done": 0}, "state's done must be true or false, got 0"),
    ({"step": -1}, "state's step must be >= 0, got -1"),
    ({"score": -1}, "state's score must be >= 0, got -1"),
    ({"steps_since_apple": -1}, "state's steps_since_apple must be between 0 and 4 with starvation 5 in a "
                                "state not done, got -1"),
    ({"steps_since_apple": 5}, "between 0 and 4 with starvation 5 in a state not done, got 5"),
    ({"steps_since_apple": 6, "done": True}, "between 0 and 5 with starvation 5 in a state that is done"),
    ({"rng": -1}, r"state's rng must be between 0 and 18446744073709551615, got -1"),  # was an OverflowError
])
def test_set_state_refuses_a_done_flag_or_counter_no_game_makes_and_leaves_the_board(change, error):
    # All were taken through bool() and int(): "false" counted as done, and a game still playing at its
    # starvation limit (or past it) played on, as the step only checks for the limit when it reaches it.
    g = game_with([[3, 3], [3, 4], [3, 5]], apple=[0, 0], direction="UP", starvation=5)
    before = g.get_state(0)
    with pytest.raises(ValueError, match=error):
        g.set_state(0, {**before, **change})
    assert g.get_state(0) == before
    # The step that reaches the limit ends the episode: a done state holds the limit itself.
    g.set_state(0, {**before, "step": 5, "steps_since_apple": 5, "done": True})
    assert g.get_state(0)["steps_since_apple"] == 5


@pytest.mark.parametrize("change, error", [
    ({"score": 1}, r"state's snake has 3 cells with score 1: a snake starts with 3 and grows one per apple"),
    ({"body": [[3, 3], [3, 4]]}, r"state's snake has 2 cells with score 0"),  # shorter than any start
    ({"body": [[3, 2], [3, 3], [3, 4], [3, 5]]}, r"state's snake has 4 cells with score 0"),  # grown unfed
    ({"step": 5}, r"state's steps_since_apple 2 does not fit step 5 and score 0"),  # no apple, yet a pause
    ({"step": 1}, r"state's steps_since_apple 2 does not fit step 1 and score 0"),  # more hunger than steps
    # An apple a step: with score 1 the 2 hungry steps need 3 steps in all.
    ({"body": [[3, 2], [3, 3], [3, 4], [3, 5]], "score": 1, "step": 2},
     r"state's steps_since_apple 2 does not fit step 2 and score 1"),
])
def test_set_state_refuses_a_length_score_or_step_count_no_game_makes_and_leaves_the_board(change, error):
    # A 3-cell snake with score 1 (or a 2-cell one with score 0) was taken: the score, the picture and the
    # snake_length figure disagreed, and the VLM tasks' answers about the length or score came from it.
    g = game_with([[3, 3], [3, 4], [3, 5]], apple=[0, 0], direction="UP", hunger=2)
    before = g.get_state(0)
    with pytest.raises(ValueError, match=error):
        g.set_state(0, {**before, **change})
    assert g.get_state(0) == before
    # After an apple the steps may outrun the hunger: the apple was eaten on an earlier step.
    g.set_state(0, {**before, "body": [[3, 2], *before["body"]], "score": 1, "step": 9})
    assert g.get_state(0)["step"] == 9


def test_every_state_the_game_makes_round_trips():
    assert assert_round_trips(lambda: Snake(16, size=5), 150) > 16
    assert assert_round_trips(lambda: Snake(8, size=4, starvation=6), 100) > 8  # starved and won boards


@pytest.mark.parametrize("body, direction, action, crash", [
    ([[5, 2], [4, 2], [3, 2]], "RIGHT", RIGHT, [6, 2]),  # into the wall: a cell off the board
    ([[2, 2], [3, 2], [3, 3], [2, 3], [1, 3]], "LEFT", DOWN, [2, 3]),  # into its own body
])
def test_a_death_shows_in_the_picture_and_nowhere_else(body, direction, action, crash):
    g = game_with(body, apple=[0, 0], direction=direction)
    obs_before, obs_after = g.new_obs_buffer(), g.new_obs_buffer()
    g.observe(obs_before)
    before = g.get_state(0)
    assert before["crash"] is None
    assert step1(g, action) == (-1.0, True, False)
    after = g.get_state(0)
    # The board stays as it was (the policy's observation and every other field too) ...
    g.observe(obs_after)
    assert np.array_equal(obs_before, obs_after)
    counters = ("step", "steps_since_apple")  # the fatal step is a step: both count it
    assert [after[k] for k in counters] == [before[k] + 1 for k in counters]
    assert {k: v for k, v in after.items() if k not in (*counters, "done", "crash")} == \
        {k: v for k, v in before.items() if k not in (*counters, "done", "crash")}
    # ... but the state says where the head ran into, and the picture shows it: a video's last frame
    # was the frame before, as if the snake had lived on.
    assert after["done"] and after["crash"] == crash
    assert json.loads(json.dumps(after)) == after
    for scale in (4, 16):
        shown, alive = g.render(0, scale), Snake.render_state(before, scale)
        assert not np.array_equal(shown, alive)
        hx, hy = body[0]
        changed = np.argwhere((shown != alive).any(axis=2))
        assert (changed // scale == [hy, hx]).all()  # on the head's cell only
    copy = game_with(body, apple=[0, 0], direction=direction)
    copy.set_state(0, after)
    assert copy.get_state(0) == after and np.array_equal(copy.render(0), g.render(0))
    g.reset(np.zeros(1, dtype=np.int64), np.array([3], dtype=np.uint64))
    assert g.get_state(0)["crash"] is None


@pytest.mark.parametrize("body, crash", [
    ([[2, 2], [3, 2], [3, 3], [2, 3], [1, 3]], [1, 2]),  # a free cell
    ([[2, 2], [3, 2], [3, 3], [2, 3], [1, 3]], [2, 1]),  # the apple
    ([[2, 2], [3, 2], [3, 3], [2, 3], [1, 3]], [3, 2]),  # the neck: a move back into it goes straight on
    ([[2, 2], [3, 2], [3, 3], [2, 3]], [2, 3]),  # the tail, which moves away
])
def test_set_state_refuses_a_crash_where_no_snake_dies(body, crash):
    # All were taken: the picture framed the head thick toward an empty cell, and the Snake tasks' text
    # said the snake had run into a wall or body cell there.
    g = game_with(body, apple=[2, 1], direction="LEFT")
    state = {**g.get_state(0), "done": True}
    error = rf"state's crash \[{crash[0]}, {crash[1]}\] must be off the board or on the snake's body"
    with pytest.raises(ValueError, match=error):
        g.set_state(0, {**state, "crash": crash})
    # A crash into the body or the wall is taken: test_a_death_shows_in_the_picture_and_nowhere_else.


def test_set_state_refuses_a_crash_in_a_state_still_playing():
    g = game_with([[2, 2], [3, 2], [3, 3], [2, 3], [1, 3]], apple=[2, 1], direction="LEFT")
    state = g.get_state(0)
    with pytest.raises(ValueError, match=r"crash \[2, 3\] must be a cell next to the head .* that is done"):
        g.set_state(0, {**state, "crash": [2, 3]})
    assert g.get_state(0) == state
    g.set_state(0, {**state, "crash": [2, 3], "done": True})  # the same crash into the body, once dead
    assert g.get_state(0)["crash"] == [2, 3]


def test_set_state_refuses_a_done_state_that_nothing_ended():
    # A snake that is done with crash null, not starved and not filling the board was taken: its episode
    # had ended with no death, starvation or win (the picture showed no crash, the figures no win).
    g = game_with([[0, 2], [1, 2], [2, 2]], apple=[0, 5], direction="LEFT", hunger=2, starvation=5)
    state = g.get_state(0)
    error = r"^state is done with crash null, steps_since_apple 2 of starvation 5 and 3 of 36 cells: a snake"
    with pytest.raises(ValueError, match=error):
        g.set_state(0, {**state, "done": True})
    assert g.get_state(0) == state  # the board is left as it was
    g.set_state(0, {**state, "step": 5, "steps_since_apple": 5, "done": True})  # starved
    g.set_state(0, {**state, "done": True, "crash": [-1, 2]})  # ran into the wall
    old = {k: v for k, v in state.items() if k != "crash"}  # saved before states kept crash: taken as it was
    g.set_state(0, {**old, "done": True})
    assert g.get_state(0)["done"]


def test_starving_and_states_without_crash_show_no_crash():
    g = game_with([[2, 2], [1, 2], [0, 2]], apple=[0, 5], starvation=1)
    assert step1(g, RIGHT) == (0.0, False, True)
    assert g.get_state(0)["crash"] is None
    old = {k: v for k, v in g.get_state(0).items() if k != "crash"}  # saved before states kept it
    g.set_state(0, old)
    assert g.get_state(0)["crash"] is None
    # Refused as not next to the head (where a move leads), not only as a free cell no snake dies on.
    with pytest.raises(ValueError, match=r"^state's crash \[5, 5\] must be a cell next to the head \[3, 2\]"):
        g.set_state(0, {**old, "crash": [5, 5]})


def test_step_returns_arrays_that_a_later_step_leaves_as_they_were():
    # Callers keep them (a list of transitions, a rollout buffer): they must not be the game's own arrays,
    # which the next step overwrites.
    g = game_with([[5, 2], [4, 2], [3, 2]], apple=[0, 0])
    first = g.step(np.array([RIGHT]))  # into the wall
    assert step1(g, UP) == (0.0, False, False)  # an ended board reports nothing
    assert [x.tolist() for x in first] == [[-1.0], [True], [False]]


def test_reversing_into_neck_continues_straight():
    g = game_with([[2, 2], [1, 2], [0, 2]], apple=[0, 5])
    assert step1(g, LEFT) == (0.0, False, False)
    assert g.get_state(0)["body"][0] == [3, 2]


def test_starvation_truncates():
    g = game_with([[2, 2], [1, 2], [0, 2]], apple=[0, 5], starvation=3, hunger=0)
    assert step1(g, RIGHT)[1:] == (False, False)
    assert step1(g, UP)[1:] == (False, False)
    assert step1(g, UP) == (0.0, False, True)


def test_a_death_on_the_starving_step_is_terminated_not_truncated():
    # Both end the episode on one step: the death wins (terminated, -1), so a value target bootstraps from
    # no state past it; README and the module docstring say so. A pin: the step already did this.
    g = game_with([[5, 2], [4, 2], [3, 2]], apple=[0, 5], starvation=3, hunger=2)
    assert step1(g, RIGHT) == (-1.0, True, False)
    assert g.get_state(0)["steps_since_apple"] == 3 and g.get_state(0)["crash"] == [6, 2]


def test_eating_restarts_the_starvation_count():
    # Two steps from starving, the snake eats: it gets the whole starvation budget again.
    g = game_with([[2, 2], [1, 2], [0, 2]], apple=[3, 2], starvation=3, hunger=2)
    assert step1(g, RIGHT) == (1.0, False, False)
    assert g.get_state(0)["steps_since_apple"] == 0
    g.set_state(0, {**g.get_state(0), "apple": [0, 5]})
    assert step1(g, DOWN) == (0.0, False, False)
    assert step1(g, DOWN) == (0.0, False, False)
    assert step1(g, DOWN) == (0.0, False, True)


def test_a_state_keeps_its_own_starvation_limit_until_the_board_resets():
    # A state from a game with another limit (an export of a --set env_kwargs.starvation=3 run) ends
    # where its own episode did, and reports that limit; a new episode takes the game's.
    state = game_with([[2, 2], [1, 2], [0, 2]], apple=[0, 5], starvation=3, hunger=1).get_state(0)
    g = Snake(num_envs=2, size=6)
    g.reset(np.array([0, 1]), np.array([0, 1], dtype=np.uint64))
    g.set_state(1, state)
    assert g.get_state(1)["starvation"] == 3
    for a in (RIGHT, UP):
        _, _, truncated = g.step(np.array([0, a]))
    assert truncated[1] and g.get_state(0)["steps_since_apple"] < 72
    g.reset(np.array([1]), np.array([0], dtype=np.uint64))
    assert g.get_state(1)["starvation"] == g.get_state(0)["starvation"] == 72
    without = {k: v for k, v in state.items() if k != "starvation"}  # hand-made: the game's limit
    g.set_state(0, without)
    assert g.get_state(0)["starvation"] == 72
    with pytest.raises(ValueError, match="state's starvation must be >= 1"):
        g.set_state(0, {**state, "starvation": 0})


def test_default_starvation_is_two_board_areas():
    assert Snake(size=10).starvation == 200


def test_win_on_full_board():
    # 4×4 board filled but for the apple cell (3,0) in front of the head: eating it wins.
    body = [[2, 0], [1, 0], [0, 0], [0, 1], [1, 1], [2, 1], [3, 1], [3, 2], [2, 2], [1, 2], [0, 2],
            [0, 3], [1, 3], [2, 3], [3, 3]]
    g = game_with(body, apple=[3, 0], size=4)
    assert step1(g, RIGHT) == (1.0, True, False)
    info = g.episode_info(0)
    assert info["won"] == 1.0 and g.get_state(0)["apple"] is None
    # The batched figures (what the vector env reports) agree, and one cell short is no win.
    assert {k: float(v[0]) for k, v in g.episode_infos(np.array([0])).items()} == info
    short = game_with(body, apple=[3, 0], size=4)
    assert short.episode_info(0)["won"] == 0.0 and short.episode_infos(np.array([0]))["won"][0] == 0.0


def test_apples_land_on_every_free_cell_the_last_one_too():
    # The apple is drawn among the free cells: over many streams it lands on each of them.
    seen = set()
    for rng in range(400):
        g = game_with([[2, 2], [1, 2], [0, 2]], apple=[3, 2], rng=rng)
        assert step1(g, RIGHT) == (1.0, False, False)
        seen.add(tuple(g.get_state(0)["apple"]))
    body = {(3, 2), (2, 2), (1, 2), (0, 2)}
    assert seen == {(x, y) for x in range(6) for y in range(6)} - body
    # One cell short of a full board the apple goes on the only free cell, and the game plays on.
    g = game_with(FULL_4X4[1:15], apple=[3, 0], size=4)  # free: [3, 0] and [3, 3]
    assert step1(g, RIGHT) == (1.0, False, False)
    assert g.get_state(0)["apple"] == [3, 3] and g.episode_info(0)["won"] == 0.0


FULL_4X4 = [[3, 0], [2, 0], [1, 0], [0, 0], [0, 1], [1, 1], [2, 1], [3, 1], [3, 2], [2, 2], [1, 2], [0, 2],
            [0, 3], [1, 3], [2, 3], [3, 3]]


@pytest.mark.parametrize("body, done", [
    (FULL_4X4[:3], False),  # no apple with 13 free cells: the snake played on until it starved
    (FULL_4X4[:3], True),
    (FULL_4X4, False),  # a full board still playing: its next move died, and episode_info said won
])
def test_set_state_refuses_a_missing_apple_or_a_full_board_that_is_not_a_win(body, done):
    # The game leaves the apple out only when the snake fills the board, and that ends the episode.
    g = game_with([[3, 3], [3, 2], [3, 1]], apple=[0, 0], direction="DOWN", size=4)
    before = g.get_state(0)
    with pytest.raises(ValueError, match="state's apple must be None exactly when the snake fills the board"):
        g.set_state(0, {**before, "body": body, "direction": "RIGHT", "apple": None, "done": done})
    assert g.get_state(0) == before
    g.set_state(0, {**before, "body": FULL_4X4, "direction": "RIGHT", "apple": None, "done": True,
                    "score": 13, "step": 13})  # a win
    assert g.episode_info(0)["won"] == 1.0


def test_set_state_refuses_a_crash_on_a_won_board():
    # A snake that fills the board won on the move that ate the last apple: no move killed it. With a crash
    # kept, episode_info said won while the picture drew a death frame (found by mutation testing).
    g = game_with([[3, 3], [3, 2], [3, 1]], apple=[0, 0], direction="DOWN", size=4)
    won = {**g.get_state(0), "body": FULL_4X4, "direction": "RIGHT", "apple": None, "done": True,
           "score": 13, "step": 13}
    before = g.get_state(0)
    with pytest.raises(ValueError, match=r"state's crash .* fills the board"):
        g.set_state(0, {**won, "crash": [3, 1]})  # next to the head [3, 0], on the body: passed before
    assert g.get_state(0) == before


def test_reset_places_a_straight_three_cell_snake_inside_the_board():
    n, size = 512, 4  # a small board: every head position the reset can draw comes up
    g = Snake(num_envs=n, size=size)
    g.reset(np.arange(n), seeds_from(11, n))
    step = {"UP": (0, -1), "DOWN": (0, 1), "LEFT": (-1, 0), "RIGHT": (1, 0)}
    for i in range(n):
        s = g.get_state(i)
        dx, dy = step[s["direction"]]
        (hx, hy) = s["body"][0]
        # Head first, then the cells behind it, against the heading.
        assert s["body"] == [[hx - k * dx, hy - k * dy] for k in range(3)], s
        assert all(0 <= x < size and 0 <= y < size for x, y in s["body"]), s
    # And every placement whose body fits comes up: none is left out at an edge of the board.
    drawn = {(*g.get_state(i)["body"][0], g.get_state(i)["direction"]) for i in range(n)}
    fits = {(x, y, d) for d, (dx, dy) in step.items() for x in range(size) for y in range(size)
            if 0 <= x - 2 * dx < size and 0 <= y - 2 * dy < size}
    assert drawn == fits


def test_apple_never_spawns_on_body():
    g = Snake(num_envs=256, size=5)
    g.reset(np.arange(256), seeds_from(3, 256))
    rng = np.random.default_rng(0)
    for _ in range(300):
        _, te, tr = g.step(rng.integers(0, 4, 256))
        done = np.flatnonzero(te | tr)
        g.reset(done, seeds_from(1000, len(done)))
        for i in range(0, 256, 17):
            s = g.get_state(i)
            if s["apple"] is not None:
                assert s["apple"] not in s["body"]


def test_size_limits_and_bad_obs():
    with pytest.raises(ValueError, match="between 4 and 32"):
        Snake(size=3)
    with pytest.raises(ValueError, match=r"^snake obs must be 'grid' or 'pixels', got 'voxels'$"):  # choices
        Snake(obs="voxels")


def test_determinism_and_state_roundtrip():
    def play(seed):
        g = Snake(num_envs=8)
        g.reset(np.arange(8), seeds_from(seed, 8))
        rng = np.random.default_rng(1)
        states = []
        for _ in range(50):
            g.step(rng.integers(0, 4, 8))
            states.append([g.get_state(i) for i in range(8)])
        return g, states

    _, s1 = play(5)
    _, s2 = play(5)
    _, s3 = play(6)
    assert s1 == s2 and s1 != s3
    json.dumps(s1)
    # Re-simulation: restoring a state (rng included) replays the same future.
    h = Snake(num_envs=1)
    h.set_state(0, s1[10][3])
    assert h.get_state(0) == s1[10][3]


def test_batched_equals_single():
    n, seed = 16, 40
    g = Snake(num_envs=n)
    g.reset(np.arange(n), seeds_from(seed, n))
    envs = [GameEnv("snake") for _ in range(n)]
    obs_b = g.new_obs_buffer()
    g.observe(obs_b)
    for k, e in enumerate(envs):
        o, _ = e.reset(seed=seed + k)
        assert np.array_equal(o, obs_b[k])
    rng = np.random.default_rng(2)
    live = np.ones(n, bool)
    for _ in range(60):
        a = rng.integers(0, 4, n)
        r, te, tr = g.step(a)
        g.observe(obs_b)
        for k, e in enumerate(envs):
            if not live[k]:
                continue
            o, rk, tek, trk, _ = e.step(a[k])
            assert (rk, tek, trk) == (r[k], te[k], tr[k])
            assert np.array_equal(o, obs_b[k]) and e.get_state() == g.get_state(k)
            live[k] = not (tek or trk)


@pytest.mark.filterwarnings("error::UserWarning")  # check_env reports what it skips or finds as warnings
@pytest.mark.parametrize("obs", ["grid", "pixels"])
def test_check_env_and_registered_id(obs):
    # A registered env has a spec; without one check_env skips its render-mode and close checks.
    check_env(gym.make("depthfirst/Snake-v0", obs=obs).unwrapped, skip_render_check=False)
    env = gym.make("depthfirst/Snake-v0", obs=obs)
    o, _ = env.reset(seed=0)
    assert o.dtype == np.uint8 and o.shape == env.observation_space.shape


def test_observation_channels():
    g = game_with([[2, 2], [1, 2], [0, 2]], apple=[4, 4])
    out = g.new_obs_buffer()
    g.observe(out)
    head, body, apple, inside = out[0]
    assert head[2, 2] == 255 and head.sum() == 255
    assert body[2, 1] == 255 and 0 < body[2, 0] < 255 and body[2, 2] == 0
    assert apple[4, 4] == 255 and (inside == 255).all()


def test_pixels_of_one_board_asked_for_many_times_are_all_its_frame():
    # observe checks each index, not how many there are: the pixel path drew the cells into a scratch of
    # one row per board, so 64 copies of board 0 wrote 63 rows past it (a segfault, in a fresh process
    # so that the corrupted memory cannot take this one down).
    code = """
import numpy as np
from envs.snake import Snake
g = Snake(1, size=32, obs="pixels", pixel_scale=1)
g.reset(np.array([0]), np.array([3], dtype=np.uint64))
one, many = g.new_obs_buffer(), np.zeros((64, *g.observation_space.shape), np.uint8)
g.observe(one)
g.observe(many, np.zeros(64, dtype=np.int64))
assert (many == one).all()
print("fine")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and done.stdout == "fine\n", done.stderr[-2000:]


def test_long_snake_tail_is_visible():
    # 300 cells on 20x20 (a serpentine over rows 0..14): past 256 cells the body fade used to round
    # the last cells down to 0, so the tail vanished from the observation, the pixels and render().
    size = 20
    body = [[x if y % 2 == 0 else size - 1 - x, y] for y in range(15) for x in range(size)][::-1]
    g = game_with(body, apple=[0, 19], direction="RIGHT", size=size)  # the head [19, 14] came from [18, 14]
    out = g.new_obs_buffer()
    g.observe(out)
    head, plane = out[0, 0], out[0, 1]
    assert (head > 0).sum() == 1 and (plane > 0).sum() == len(body) - 1
    tx, ty = body[-1]
    assert plane[ty, tx] >= 1
    empty = Snake.render_state({**g.get_state(0), "body": body[:-1]}, scale=1)
    assert (g.render(0, scale=1)[ty, tx] != empty[ty, tx]).any()
    pixels = Snake(1, size=size, obs="pixels", pixel_scale=1)
    pixels.set_state(0, g.get_state(0))
    frame = pixels.new_obs_buffer()
    pixels.observe(frame)
    assert (frame[0, :, ty, tx] == g.render(0, scale=1)[ty, tx]).all()


def test_render_any_scale():
    g = make_game("snake")
    g.reset(np.zeros(1, np.int64), seeds_from(0, 1))
    s = g.get_state(0)
    assert (s["body"], s["apple"], s["direction"]) == ([[6, 9], [5, 9], [4, 9]], [5, 3], "RIGHT")
    for scale in (1, 4, 16):
        img = g.render(0, scale)
        assert img.shape == (10 * scale, 10 * scale, 3) and img.dtype == np.uint8
        # The colours the VLM tasks' prompts name (vlm/tasks/snake.py): a yellow head, the body green (the
        # neck brightest), a red apple, on the board's dark colour (a head drawn in the neck's green passed).
        # Each read mid-row, clear of grid lines, and the head's in its back half, clear of the eyes.
        mid, back = scale // 2, scale // 4
        read = [img[y * scale + mid, x * scale + dx].tolist() for x, y, dx in ((6, 9, back), (5, 9, mid),
                                                                             (5, 3, mid), (0, 0, mid))]
        assert read == [[255, 214, 10], [82, 196, 26], [230, 57, 70], [24, 26, 33]], scale
    env = make_env("snake", render_mode="rgb_array", render_scale=8)
    env.reset(seed=1)
    assert env.render().shape == (80, 80, 3)


@pytest.mark.parametrize("body, direction, action", [
    ([[5, 2], [4, 2], [3, 2]], "RIGHT", RIGHT),
    ([[0, 2], [1, 2], [2, 2]], "LEFT", LEFT),
    ([[2, 0], [2, 1], [2, 2]], "UP", UP),
    ([[2, 5], [2, 4], [2, 3]], "DOWN", DOWN),
])
def test_the_death_frame_is_thick_on_the_side_the_head_ran_into_from_scale_3(body, direction, action):
    # README: the death shows as a red frame around the head, thick on the side it ran into, from scale 3.
    g = game_with(body, apple=[4, 4], direction=direction)
    assert step1(g, action) == (-1.0, True, False)
    state = g.get_state(0)
    hx, hy = body[0]
    s = 10  # the frame 1 pixel thin, 2 thick
    cell = g.render(0, s)[hy * s:(hy + 1) * s, hx * s:(hx + 1) * s]
    red = (cell == (255, 0, 0)).all(axis=2)
    assert red[0].all() and red[-1].all() and red[:, 0].all() and red[:, -1].all()
    second = {"UP": red[1, 2:-2], "DOWN": red[-2, 2:-2], "LEFT": red[2:-2, 1], "RIGHT": red[2:-2, -2]}
    assert second[direction].all()
    assert not any(ring.any() for side, ring in second.items() if side != direction)
    unmarked = {**state, "crash": None}
    assert not np.array_equal(g.render(0, 3), Snake.render_state(unmarked, 3))
    assert np.array_equal(g.render(0, 2), Snake.render_state(unmarked, 2))


def test_pictures_add_grid_lines_a_round_apple_and_eyes_from_scale_6():
    # README: pictures are the cells blown up, with grid lines, eyes and a round apple from scale 6 on.
    state = {"size": 6, "body": [[2, 2], [1, 2], [0, 2]], "apple": [4, 4], "direction": "RIGHT"}
    cells = Snake.render_state(state, 1)
    assert np.array_equal(Snake.render_state(state, 5), cells.repeat(5, 0).repeat(5, 1))
    assert not np.array_equal(Snake.render_state(state, 6), cells.repeat(6, 0).repeat(6, 1))
    s = 10
    img, plain = Snake.render_state(state, s), cells.repeat(s, 0).repeat(s, 1)
    x, y = 5 * s, 0  # an empty cell: its first row and column are darker than its inside
    assert (img[y, x + 5] < plain[y, x + 5]).all() and (img[y + 5, x] < plain[y + 5, x]).all()
    assert (img[y + 5, x + 5] == plain[y + 5, x + 5]).all()
    apple = img[4 * s:5 * s, 4 * s:5 * s]
    assert (apple[5, 5] == cells[4, 4]).all() and (apple[1, 1] == cells[0, 0]).all()  # round: board corners
    with pytest.raises(ValueError, match="state's direction must be one of UP, DOWN, LEFT, RIGHT"):
        Snake.render_state({**state, "direction": "NORTH"}, 6)


def test_pictures_fade_the_body_from_the_neck_to_the_tail_as_the_observation_does():
    # The pixel observation is these colours: its body must read as the grid's does, the neck brightest.
    body = [[3, 2], [2, 2], [1, 2], [0, 2]]
    img = Snake.render_state({"size": 6, "body": body, "apple": [5, 5], "direction": "RIGHT"}, 1).astype(int)
    brightness = [img[y, x].sum() for x, y in body[1:]]
    assert brightness == sorted(brightness, reverse=True) and brightness[0] > brightness[-1]


@pytest.mark.parametrize("body, direction", [
    ([[2, 2], [1, 2], [0, 2]], "RIGHT"), ([[2, 2], [3, 2], [4, 2]], "LEFT"),
    ([[2, 2], [2, 3], [2, 4]], "UP"), ([[2, 2], [2, 1], [2, 0]], "DOWN"),
])
def test_the_eyes_look_the_way_the_snake_heads(body, direction):
    # In the front half of the head, one each side: a picture (the VLM tasks' too) shows the heading.
    s, (dx, dy) = 10, {"UP": (0, -1), "DOWN": (0, 1), "LEFT": (-1, 0), "RIGHT": (1, 0)}[direction]
    img = Snake.render_state({"size": 6, "body": body, "apple": [5, 5], "direction": direction}, s)
    ys, xs = np.nonzero((img[2 * s:3 * s, 2 * s:3 * s] == 0).all(axis=2))  # black: the eyes
    ahead, across = (xs - 4.5) * dx + (ys - 4.5) * dy, (xs - 4.5) * dy + (ys - 4.5) * dx
    assert len(xs) and (ahead > 0).all()  # in the half of the head toward its heading
    assert (across < 0).any() and (across > 0).any()  # one on each side


@pytest.mark.parametrize("change, error", [
    ({"body": 5}, "state's body must be a list"),
    ({"body": "abc"}, "state's body must be a list"),
    ({"body": [[5, 5, 1]]}, r"state's body\[0\] must be a list of 2"),
    ({"body": [[5, 5], [-1, 5]]}, r"state's body\[1\] \[-1, 5\] is off the 10×10 board"),
    ({"body": [[5, 5], [10, 5]]}, r"state's body\[1\] \[10, 5\] is off"),
    ({"apple": [1.5, 2]}, "state's apple must be a list of 2"),
    ({"apple": [0, -2]}, r"state's apple\[0\] \[0, -2\] is off"),
    ({"size": "10"}, "state's size must be a whole number"),
    # Past the largest board a game makes: a state of size 30,000 (a few bytes in a file) allocated
    # gigabytes, a MemoryError; at 2**62 NumPy's "array is too big".
    ({"size": 33}, r"state's size must be between 1 and 32 \(the largest board\), got 33"),
    ({"size": 2**62}, r"state's size must be between 1 and 32 \(the largest board\)"),
    ({"direction": "NORTH"}, "state's direction must be one of UP, DOWN, LEFT, RIGHT"),
    ({"crash": 3}, "state's crash must be a list of 2"),
    ({"crash": [9, 9]}, r"state's crash \[9, 9\] must be a cell next to the head"),
    ({"apple": None, "body": None}, "state's body must be a list"),
])
def test_render_state_refuses_a_malformed_state_naming_the_key(change, error):
    # render_state draws states read back from files: a bad value raised a bare TypeError, IndexError or
    # KeyError, or (a negative cell) was drawn at the board's other end.
    g = make_game("snake")
    g.reset(np.zeros(1, np.int64), seeds_from(0, 1))
    state = {**g.get_state(0), "body": [[5, 5], [4, 5]], "apple": [1, 1], "direction": "RIGHT"}
    Snake.render_state(state, 16)
    with pytest.raises(ValueError, match=error):
        Snake.render_state({**state, **change}, 16)
    for key in ("size", "body", "apple"):
        with pytest.raises(ValueError, match=f"not a snake state: it lacks '{key}'"):
            Snake.render_state({k: v for k, v in state.items() if k != key})
    with pytest.raises(ValueError, match="must be a dict"):
        Snake.render_state([1, 2])


@pytest.mark.parametrize("bad", [4, 7, -1, 1000])
def test_out_of_range_action_is_refused_before_any_board_moves(bad):
    # Action 4 used to read past the move tables (Numba does not check bounds) and killed the snake.
    g = Snake(num_envs=2, size=6)
    g.reset(np.arange(2), seeds_from(3, 2))
    before = [g.get_state(i) for i in range(2)]
    with pytest.raises(ValueError, match=r"0\.\.3"):
        g.step(np.array([UP, bad]))
    assert [g.get_state(i) for i in range(2)] == before


@pytest.mark.parametrize("size, error", [
    (8, "state's board is 8×8, this game's 6×6: load it into a game made with size=8"),
    ("6", "state's size must be a whole number >= 1, got '6'"),  # was "a 6×6 board, this game is 6×6"
])
def test_set_state_of_another_board_size_names_the_size_to_make_the_game_with(size, error):
    g = game_with([[3, 3], [3, 4], [3, 5]], apple=[0, 0], direction="UP")
    before = g.get_state(0)
    with pytest.raises(ValueError, match=error):
        g.set_state(0, {**before, "size": size})
    assert g.get_state(0) == before
    g.set_state(0, {**before, "size": 6.0})  # an integral float, as the game's other numbers
    assert g.get_state(0) == before


def test_a_state_whose_cells_are_a_numpy_array_loads_as_their_list() -> None:
    # A body kept as an array (np.array(state["body"]), to edit it with NumPy) is read as the list it holds.
    g = Snake(num_envs=1, size=6)
    g.reset(np.zeros(1, dtype=np.int64), seeds_from(0, 1))
    state = g.get_state(0)
    g.set_state(0, {**state, "body": np.array(state["body"])})
    assert g.get_state(0) == state


def test_state_cells_fast_path_copies_and_still_refuses_what_the_checks_refuse() -> None:
    from envs.base import state_cells

    body = [[1, 2], [1, 3]]
    cells = state_cells("state's body", body)
    assert cells == body and cells[0] is not body[0]  # fresh lists, never the state's own
    assert state_cells("state's body", [[1, 2], [3, 4.0]]) == [[1, 2], [3, 4]]
    assert state_cells("state's body", ([1, 2], (3, np.int64(4)))) == [[1, 2], [3, 4]]
    for bad in ([[1, 2], [1, True]], [[1, 2], [1, 2, 3]], [[1, 2], [1, 2.5]]):
        with pytest.raises(ValueError, match=r"state's body\[1\]"):
            state_cells("state's body", bad)


def test_a_dead_board_stays_as_it_died_whatever_it_is_given() -> None:
    # Until reset, an ended board reports 0 and neither flag and moves nowhere: without the check the
    # dead snake died again on the same wall (-1, terminated) or walked on from where it died.
    for body, direction, fatal in (([[5, 2], [4, 2], [3, 2]], "RIGHT", RIGHT),  # wall
                                   ([[2, 2], [3, 2], [3, 3], [2, 3], [1, 3]], "LEFT", DOWN)):  # body
        g = game_with(body, apple=[0, 0], direction=direction)
        assert step1(g, fatal) == (-1.0, True, False)
        dead = g.get_state(0)
        for action in (fatal, UP, DOWN, LEFT, RIGHT):
            assert step1(g, action) == (0.0, False, False)
            assert g.get_state(0) == dead


def test_checked_path_refuses_a_repeated_cell_and_a_two_cell_snake_heading_off_its_neck() -> None:
    # Snake Duel's snakes may have 2 cells (start_length 2): their direction is checked as a longer one's.
    from envs.snake import checked_path

    assert checked_path("snake 1", [[2, 1], [1, 1]], "RIGHT") == RIGHT
    with pytest.raises(ValueError, match=r"snake 1 direction UP is not the way its head last moved, from "
                                         r"\[1, 1\] to \[2, 1\]"):
        checked_path("snake 1", [[2, 1], [1, 1]], "UP")
    # A cell given twice in a row is no step at all (set_state's own check of cells twice comes later).
    with pytest.raises(ValueError, match=r"snake 1 \[\[2, 1\], \[1, 1\], \[1, 1\]\] has \[1, 1\] next to "
                                         r"\[1, 1\]: each cell must be one step"):
        checked_path("snake 1", [[2, 1], [1, 1], [1, 1]], "RIGHT")


def test_set_state_refuses_a_done_state_one_step_short_of_starvation():
    # Hand mutation pass: refusing only below starvation - 1 passed every test (they used 2 of 5), so a done
    # state one step short of starving, with no crash, was taken as an episode that nothing ended.
    g = game_with([[0, 2], [1, 2], [2, 2]], apple=[0, 5], direction="LEFT", hunger=2, starvation=5)
    state = g.get_state(0)
    error = r"^state is done with crash null, steps_since_apple 4 of starvation 5 and 3 of 36 cells"
    with pytest.raises(ValueError, match=error):
        g.set_state(0, {**state, "step": 5, "steps_since_apple": 4, "done": True})
    assert g.get_state(0) == state
