"""Duel Snake: collision rules on hand-set boards, apples, outcome, bots, and the Game contract."""

from __future__ import annotations

import json
import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the depthfirst/ ids gym.make reads)
from envs.env import GameEnv
from envs.snake_duel import (
    BODY_BASE,
    BODY_STEP,
    DOWN,
    LEFT,
    RIGHT,
    UP,
    SnakeDuel,
    greedy_action,
)
from tests.envs.roundtrip import assert_round_trips

FAR_APPLES = [[9, 9], [8, 9], [7, 9], [9, 8], [8, 8]]  # out of the way of the hand-set snakes


def board(s0: list, d0: str, s1: list, d1: str, apples: list | None = None, rnd: int = 0,
          score0: int | None = None, score1: int | None = None) -> dict:
    """A hand-set state (bodies head first) in get_state's format. As play would have it, unless given
    the scores are the apples the longer snake ate since both had the shorter one's length, and the round
    is at least the higher score (one apple a round)."""
    start = min(len(s0), len(s1))
    score0 = len(s0) - start if score0 is None else score0
    score1 = len(s1) - start if score1 is None else score1
    rnd = max(rnd, score0, score1)
    return {
        "size": 10, "round": rnd, "done": False, "rng": 12345,
        "apples": FAR_APPLES if apples is None else apples,
        "snakes": [
            {"body": s0, "direction": d0, "alive": True, "score": score0},
            {"body": s1, "direction": d1, "alive": True, "score": score1},
        ],
    }


def play(state: dict, a0: int, a1: int, **kwargs) -> tuple[SnakeDuel, float, bool, dict]:
    """One round from ``state`` with both actions given; returns the game, reward, terminated, new state."""
    game = SnakeDuel(1, opponent="policy", **kwargs)
    game.set_state(0, state)
    game.set_opponent_actions(np.array([a1]))
    reward, term, trunc = game.step(np.array([a0]))
    assert not trunc[0]
    return game, float(reward[0]), bool(term[0]), game.get_state(0)


def alive(state: dict) -> list[bool]:
    return [s["alive"] for s in state["snakes"]]


# Two snakes far apart in the top-left and bottom-right.
S0 = [[2, 2], [1, 2], [0, 2]]  # heading RIGHT
S1 = [[7, 7], [8, 7], [9, 7]]  # heading LEFT


# ------------------------------------------------------------------------------------- collision rules
def test_both_move_simultaneously_and_reverse_goes_straight():
    _, reward, term, s = play(board(S0, "RIGHT", S1, "LEFT"), LEFT, UP)  # LEFT = into the neck
    assert not term and reward == 0.0
    assert s["snakes"][0]["body"] == [[3, 2], [2, 2], [1, 2]]
    assert s["snakes"][1]["body"] == [[7, 6], [7, 7], [8, 7]]
    assert s["snakes"][0]["direction"] == "RIGHT" and s["snakes"][1]["direction"] == "UP"
    assert s["round"] == 1


def test_wall_kills_and_board_freezes():
    start = board([[0, 2], [1, 2], [2, 2]], "LEFT", S1, "LEFT")
    game, reward, term, s = play(start, LEFT, LEFT)
    assert term and alive(s) == [False, True]
    assert reward == -2.0  # -1 death, -1 loss
    assert s["result"] == "loss" and s["round"] == 1
    assert s["snakes"] == [{**start["snakes"][0], "alive": False}, start["snakes"][1]]  # nobody moved
    info = game.episode_info(0)
    assert (info["win"], info["draw"], info["loss"]) == (0.0, 0.0, 1.0)


def test_step_returns_arrays_that_a_later_step_leaves_as_they_were():
    # Callers keep them (a list of transitions, a rollout buffer): they must not be the game's own arrays,
    # which the next step overwrites.
    game = SnakeDuel(1, opponent="policy")
    game.set_state(0, board([[9, 2], [8, 2], [7, 2]], "RIGHT", S1, "LEFT"))
    game.set_opponent_actions(np.array([LEFT]))
    first = game.step(np.array([RIGHT]))  # into the wall: -1 death, -1 loss
    game.set_opponent_actions(np.array([LEFT]))
    assert [x.tolist() for x in game.step(np.array([RIGHT]))] == [[0.0], [False], [False]]  # ended board
    assert [x.tolist() for x in first] == [[-2.0], [True], [False]]


def test_opponent_wall_death_is_a_win():
    game, reward, term, s = play(board(S0, "RIGHT", [[9, 7], [8, 7], [7, 7]], "RIGHT"), RIGHT, RIGHT)
    assert term and alive(s) == [True, False]
    assert reward == 1.0 and s["result"] == "win"
    assert game.episode_info(0)["win"] == 1.0


def test_own_tail_moving_away_is_safe():
    loop = [[1, 1], [2, 1], [2, 2], [1, 2]]  # head (1,1) came from the right; its tail is right below
    _, reward, term, s = play(board(loop, "LEFT", S1, "LEFT"), DOWN, UP)
    assert not term and reward == 0.0
    assert s["snakes"][0]["body"] == [[1, 2], [1, 1], [2, 1], [2, 2]]


def test_own_body_kills():
    hook = [[1, 1], [2, 1], [2, 2], [1, 2], [0, 2]]  # (1,2) is a body cell, not the tail
    _, reward, term, s = play(board(hook, "LEFT", S1, "LEFT"), DOWN, UP)
    assert term and alive(s) == [False, True] and reward == -2.0


def test_opponent_tail_frees_unless_the_opponent_eats():
    s0 = [[4, 4], [3, 4], [2, 4]]  # heads RIGHT into (5,4), the opponent's tail
    s1 = [[5, 2], [5, 3], [5, 4]]  # heads UP
    _, reward, term, s = play(board(s0, "RIGHT", s1, "UP"), RIGHT, UP)
    assert not term and alive(s) == [True, True] and reward == 0.0
    assert s["snakes"][0]["body"][0] == [5, 4]
    # Same move, but the opponent eats an apple at (5,1): its tail stays and the learner crashes.
    apples = [[5, 1], *FAR_APPLES[:4]]
    _, reward, term, s = play(board(s0, "RIGHT", s1, "UP", apples=apples), RIGHT, UP)
    assert term and alive(s) == [False, True] and reward == -2.0
    assert s["snakes"][1]["score"] == 0  # the board froze: nobody eats in a fatal round


def test_opponent_body_kills():
    s1 = [[5, 3], [5, 4], [5, 5]]  # (5,4) is the opponent's neck after it moves up
    _, reward, term, s = play(board([[4, 4], [3, 4], [2, 4]], "RIGHT", s1, "UP"), RIGHT, UP)
    assert term and alive(s) == [False, True] and reward == -2.0


def test_both_crashing_into_bodies_die_together():
    # Both run into each other's bodies (not heads): both die, equal length -> draw.
    s0 = [[4, 4], [4, 5], [4, 6]]  # heading UP, moves RIGHT into (5,4)
    s1 = [[5, 5], [5, 4], [5, 3]]  # heading DOWN, moves LEFT into (4,5)
    _, reward, term, s = play(board(s0, "UP", s1, "DOWN"), RIGHT, LEFT)
    assert term and alive(s) == [False, False]
    assert reward == -1.0 and s["result"] == "draw"


@pytest.mark.parametrize(("extra0", "result", "reward"), [(0, "draw", -1.0), (1, "win", 0.0)])
def test_head_on_same_cell_kills_both_and_longer_wins(extra0, result, reward):
    s0 = [[3, 5], [2, 5], [1, 5], [0, 5]][:3 + extra0]
    s1 = [[5, 5], [6, 5], [7, 5]]
    # Both move into (4,5); an apple there changes nothing: nobody eats in a fatal round.
    _, r, term, s = play(board(s0, "RIGHT", s1, "LEFT", apples=[[4, 5], *FAR_APPLES[:4]]), RIGHT, LEFT)
    assert term and alive(s) == [False, False]
    assert s["result"] == result and r == reward
    assert [4, 5] in s["apples"] and s["snakes"][0]["score"] == extra0  # as before the round


def test_heads_swapping_cells_kill_both():
    s0 = [[4, 5], [3, 5], [2, 5]]
    s1 = [[5, 5], [6, 5], [7, 5], [8, 5]]  # longer: it wins the double death
    _, reward, term, s = play(board(s0, "RIGHT", s1, "LEFT"), RIGHT, LEFT)
    assert term and alive(s) == [False, False]
    assert s["result"] == "loss" and reward == -2.0


# --------------------------------------------------------------------------------------------- apples
def test_eating_grows_scores_and_respawns_off_bodies():
    apples = [[3, 2], *FAR_APPLES[:4]]
    game, reward, term, s = play(board(S0, "RIGHT", S1, "LEFT", apples=apples), RIGHT, UP)
    assert not term and reward == 1.0
    assert s["snakes"][0]["body"] == [[3, 2], [2, 2], [1, 2], [0, 2]]  # the tail stayed
    assert s["snakes"][0]["score"] == 1 and game.episode_info(0)["score"] == 1.0
    assert len(s["apples"]) == 5 and [3, 2] not in s["apples"]
    cells = [tuple(c) for sn in s["snakes"] for c in sn["body"]]
    assert not set(cells) & {tuple(a) for a in s["apples"]}
    assert s["rng"] != 12345  # the new apple came from the board's stream


def test_the_opponents_apple_scores_for_the_opponent_not_the_learner():
    apples = [[6, 7], *FAR_APPLES[:4]]
    game, reward, term, s = play(board(S0, "RIGHT", S1, "LEFT", apples=apples), RIGHT, LEFT)
    assert not term and reward == 0.0  # the learner ate nothing
    assert s["snakes"][1]["score"] == 1 and len(s["snakes"][1]["body"]) == 4
    assert s["snakes"][0]["score"] == 0 and len(s["snakes"][0]["body"]) == 3
    info = game.episode_info(0)
    assert info["score"] == 0.0 and info["opponent_score"] == 1.0
    assert (info["snake_length"], info["opponent_length"]) == (3.0, 4.0)
    # A game still on has no outcome yet: neither won, drawn nor lost.
    assert (info["win"], info["draw"], info["loss"]) == (0.0, 0.0, 0.0)


def test_apples_never_on_bodies_and_count_kept():
    n = 256
    game = SnakeDuel(n, opponent="random")
    game.reset(np.arange(n), np.arange(n, dtype=np.uint64) + 7)
    obs = game.new_obs_buffer()
    rng = np.random.default_rng(0)
    eaten = 0
    for _ in range(60):
        before = game._done.copy()
        game.observe(obs)
        snakes = obs[:, :4].max(axis=1) > 0
        apples = obs[:, 4] > 0
        live = ~before
        assert not (snakes & apples)[live].any()
        assert (apples.sum(axis=(1, 2))[live] == 5).all()
        greedy = game.bot_actions(0)
        actions = np.where(rng.random(n) < 0.8, greedy, rng.integers(0, 4, n))
        game.step(actions)
        eaten += int(game._score.sum())
    assert eaten > 0  # apples were eaten and respawned along the way


# ----------------------------------------------------------------------------------- end and outcome
@pytest.mark.parametrize(("extra0", "extra1", "result", "reward"),
                         [(1, 0, "win", 1.0), (0, 0, "draw", 0.0), (0, 1, "loss", -1.0)])
def test_round_limit_decides_by_length(extra0, extra1, result, reward):
    s0 = [[2, 2], [1, 2], [0, 2]] + [[0, 3]] * extra0
    s1 = [[7, 7], [8, 7], [9, 7]] + [[9, 8]] * extra1
    state = board(s0, "RIGHT", s1, "LEFT", rnd=99, apples=[[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]])
    game, r, term, s = play(state, RIGHT, LEFT)
    assert term and alive(s) == [True, True] and s["round"] == 100
    assert s["result"] == result and r == reward
    info = game.episode_info(0)
    assert info[result] == 1.0 and info["win"] + info["draw"] + info["loss"] == 1.0
    # A finished board stays as it is and reports nothing until reset.
    game.set_opponent_actions(np.array([UP]))
    r2, term2, trunc2 = game.step(np.array([UP]))
    assert (r2[0], term2[0], trunc2[0]) == (0.0, False, False) and game.get_state(0) == s


def test_a_state_keeps_its_own_round_limit_and_apple_count_until_the_board_resets():
    # A state of a 30-round, 2-apple game (an export of such a run) replayed in a default game: its
    # episode ends at round 30 and an eaten apple is replaced up to 2, as in its own game; it used to be
    # refused ("state has max_rounds=30"), which also stopped score_predictions --specialist.
    state = {**board(S0, "RIGHT", S1, "LEFT", apples=[[3, 2], [5, 5]], rnd=29), "num_apples": 2,
             "max_rounds": 30}
    game, reward, term, s = play(state, RIGHT, UP)
    assert term and reward == 1.0 + 1.0  # the apple, then the win as the longer snake at the limit
    assert (s["round"], s["max_rounds"], s["num_apples"], len(s["apples"])) == (30, 30, 2, 2)
    game.reset(np.array([0]), np.array([0], dtype=np.uint64))
    s = game.get_state(0)
    assert (s["max_rounds"], s["num_apples"], len(s["apples"])) == (100, 5, 5)


def test_round_limit_over_whole_episodes():
    n = 64
    game = SnakeDuel(n, max_rounds=30)
    game.reset(np.arange(n), np.arange(n, dtype=np.uint64))
    ended_at = np.zeros(n, dtype=np.int64)
    for t in range(1, 31):
        _, term, _ = game.step(game.bot_actions(0))
        ended_at[term] = t
    assert (ended_at > 0).all()  # every episode ended by round 30
    survivors = [i for i in range(n) if all(alive(game.get_state(i)))]
    assert survivors and all(ended_at[i] == 30 for i in survivors)
    for i in range(n):
        info = game.episode_info(i)
        assert info["win"] + info["draw"] + info["loss"] == 1.0
        assert info["rounds"] == ended_at[i]


def test_greedy_beats_random():
    n = 256
    game = SnakeDuel(n, opponent="random")
    game.reset(np.arange(n), np.arange(n, dtype=np.uint64) + 1000)
    for _ in range(100):
        game.step(game.bot_actions(0, "greedy"))
    infos = [game.episode_info(i) for i in range(n)]
    wins = sum(i["win"] for i in infos)
    losses = sum(i["loss"] for i in infos)
    assert all(i["win"] + i["draw"] + i["loss"] == 1.0 for i in infos)
    assert wins > 0.7 * n and losses < 0.15 * n, (wins, losses)
    assert np.mean([i["score"] for i in infos]) > 2 * np.mean([i["opponent_score"] for i in infos])


# --------------------------------------------------------------------------------------------- bots
def test_greedy_heads_for_the_nearest_apple_and_avoids_death():
    # Straight on (UP) is the wall; the apple is to the right.
    s0 = [[4, 0], [4, 1], [4, 2]]
    state = board(s0, "UP", S1, "LEFT", apples=[[7, 0], *FAR_APPLES[:4]])
    assert greedy_action(state, 0) == RIGHT
    # Apple to the left instead.
    state = board(s0, "UP", S1, "LEFT", apples=[[1, 0], *FAR_APPLES[:4]])
    assert greedy_action(state, 0) == LEFT
    # For snake 1 (heading LEFT at (7,7)): apple straight below its head, the others far off straight on.
    state = board(s0, "UP", S1, "LEFT", apples=[[7, 9], [0, 9], [1, 9], [0, 8], [0, 7]])
    assert greedy_action(state, 1) == DOWN


def test_greedy_breaks_a_tie_by_going_straight_on():
    # The apple is one move away both straight on and by turning: the documented tie-break is straight on.
    cases = (([[2, 5], [2, 6], [2, 7]], "UP", UP), ([[2, 5], [1, 5], [0, 5]], "RIGHT", RIGHT))
    for s0, heading, straight in cases:
        state = board(s0, heading, S1, "LEFT", apples=[[3, 4], *FAR_APPLES[:4]])
        assert greedy_action(state, 0) == straight, heading


def test_greedy_takes_the_nearer_apple_over_going_straight_on():
    # Heading UP from (4,5): RIGHT is one move from the apple (6,5), straight on two from (4,2). Going
    # straight on breaks only a tie of distances; it does not make up for a move more.
    s0 = [[4, 5], [4, 6], [4, 7]]
    state = board(s0, "UP", S1, "LEFT", apples=[[6, 5], [4, 2], *FAR_APPLES[:3]])
    assert greedy_action(state, 0) == RIGHT


def test_greedy_measures_the_way_to_an_apple_through_its_own_freeing_tail():
    # Heading UP from (2,1): LEFT reaches the apple (0,3) in 3 moves over its own tail (0,2), which moves
    # away; around the body RIGHT takes 5. A path search that walled the own tail off went RIGHT.
    s0 = [[2, 1], [2, 2], [1, 2], [0, 2]]
    state = board(s0, "UP", S1, "LEFT", apples=[[0, 3], *FAR_APPLES[:4]])
    assert greedy_action(state, 0) == LEFT


def test_greedy_breaks_a_tie_of_two_moves_by_going_straight_on():
    # Along the left wall heading UP from (0,5): UP and RIGHT are both 2 moves from the apple (2,4); the
    # search reached RIGHT first and stopped one move short of measuring UP, taking RIGHT.
    state = board([[0, 5], [0, 6], [0, 7]], "UP", S1, "LEFT", apples=[[2, 4], *FAR_APPLES[:4]])
    assert greedy_action(state, 0) == UP


def test_greedy_breaks_a_tie_between_turns_up_down_left_right():
    # Straight on is farther; the two turns are equally near an apple: LEFT goes before RIGHT, UP before
    # DOWN, as documented.
    s0 = [[4, 5], [4, 6], [4, 7]]
    state = board(s0, "UP", S1, "LEFT", apples=[[2, 5], [6, 5], *FAR_APPLES[:3]])
    assert greedy_action(state, 0) == LEFT
    s0 = [[4, 4], [5, 4], [6, 4]]
    state = board(s0, "LEFT", S1, "LEFT", apples=[[4, 2], [4, 6], *FAR_APPLES[:3]])
    assert greedy_action(state, 0) == UP


def test_greedy_goes_straight_on_when_every_move_is_fatal():
    # Heading LEFT in the corner (0,0): LEFT and UP leave the board, DOWN is the opponent's neck.
    s0 = [[0, 0], [1, 0], [2, 0]]
    s1 = [[1, 1], [0, 1], [0, 2]]
    state = board(s0, "LEFT", s1, "RIGHT")
    assert greedy_action(state, 0) == LEFT


def test_bots_cornered_take_the_opponents_tail_over_a_sure_death():
    # Heading LEFT in the corner (0,0): LEFT and UP leave the board; DOWN is the opponent's tail, which
    # stays only if it eats the apple (3,2) by its head. Both bots went straight on into the wall, a sure
    # death, where DOWN dies only if the opponent eats.
    s0 = [[0, 0], [1, 0], [2, 0]]
    s1 = [[2, 2], [1, 2], [0, 2], [0, 1]]
    state = board(s0, "LEFT", s1, "RIGHT", apples=[[3, 2], *FAR_APPLES[:4]], score1=1)
    assert greedy_action(state, 0) == DOWN
    game = SnakeDuel(1)
    game.set_state(0, state)
    assert game.bot_actions(0, "random")[0] == DOWN


def test_greedy_avoids_a_dead_end_pocket():
    # Head at (1,1) heading UP: LEFT leads into the dead-end column x=0 rows 0..1 (2 cells < length 6);
    # the apple (0,0) lures it there, RIGHT is open.
    s0 = [[1, 1], [1, 2], [1, 3], [1, 4], [1, 5], [1, 6]]
    wall = [[0, 2], [0, 3], [0, 4], [0, 5], [0, 6], [0, 7]]  # the opponent walls off column 0
    state = board(s0, "UP", wall, "UP", apples=[[0, 0], *FAR_APPLES[:4]])
    assert greedy_action(state, 0) in (UP, RIGHT)
    assert greedy_action(state, 0) != LEFT


def test_greedy_follows_the_opponent_tail_only_when_it_surely_moves():
    s0 = [[4, 4], [3, 4], [2, 4]]
    s1 = [[5, 2], [5, 3], [5, 4]]  # its tail (5,4) is right of the learner's head; apple behind it
    state = board(s0, "RIGHT", s1, "UP", apples=[[6, 4], *FAR_APPLES[:4]])
    assert greedy_action(state, 0) == RIGHT
    # With an apple next to the opponent's head it may eat and keep its tail: the tail is a wall.
    state = board(s0, "RIGHT", s1, "UP", apples=[[6, 4], [6, 2], *FAR_APPLES[:3]])
    assert greedy_action(state, 0) == DOWN


def test_an_apple_across_the_board_edge_is_not_next_to_the_opponents_head():
    # The opponent's head (9,2) is on the right edge; (0,3), the next row's first cell, is no neighbour of
    # it, so the apple there leaves its tail (9,4) moving away. Straight on (UP) onto that tail and LEFT
    # are both one move from the apple (8,4): the tie goes straight on.
    s0 = [[9, 5], [9, 6], [9, 7]]
    s1 = [[9, 2], [9, 3], [9, 4]]
    state = board(s0, "UP", s1, "UP", apples=[[8, 4], [0, 3], [0, 9], [1, 9], [2, 9]])
    assert greedy_action(state, 0) == UP


def test_greedy_risks_a_head_on_only_when_longer():
    # The apple at (5,4) is next to both heads: a head-on there kills both, and the longer snake wins.
    s1 = [[6, 4], [7, 4], [8, 4]]
    for s0, expect_right in (([[4, 4], [4, 5], [4, 6]], False), ([[4, 4], [4, 5], [4, 6], [4, 7]], True)):
        state = board(s0, "UP", s1, "LEFT", apples=[[5, 4], *FAR_APPLES[:4]])
        assert (greedy_action(state, 0) == RIGHT) == expect_right


def test_greedy_opponent_in_step_matches_greedy_action():
    n = 16
    game = SnakeDuel(n)  # greedy opponent inside the kernel
    mirror = SnakeDuel(n, opponent="policy")
    seeds = np.arange(n, dtype=np.uint64) + 50
    game.reset(np.arange(n), seeds)
    mirror.reset(np.arange(n), seeds)
    rng = np.random.default_rng(3)
    for _ in range(40):
        a = rng.integers(0, 4, n)
        greedy = np.array([greedy_action(mirror.get_state(i), 1) for i in range(n)])
        assert (mirror.bot_actions(1) == greedy).all()
        mirror.set_opponent_actions(greedy)
        game.step(a)
        mirror.step(a)
        assert [game.get_state(i) for i in range(n)] == [mirror.get_state(i) for i in range(n)]


def test_greedy_action_takes_every_state_set_state_takes():
    # It made a game of the state's num_apples, which a game refuses past N² − 4 (2-cell snakes) while
    # set_state takes more on a board the apples fill; and a state without a size was a bare KeyError.
    s0, s1 = [[0, 0], [1, 0], [2, 0]], [[5, 5], [4, 5], [3, 5]]
    taken = {tuple(c) for c in s0 + s1}
    full = {**board(s0, "LEFT", s1, "RIGHT"), "size": 6, "num_apples": 40,
            "apples": [[x, y] for y in range(6) for x in range(6) if (x, y) not in taken]}
    SnakeDuel(1, size=6).set_state(0, full)
    assert greedy_action(full, 0) == DOWN  # LEFT is the wall, UP off the board: DOWN eats
    with pytest.raises(ValueError, match="not a snake_duel state: it lacks 'size'"):
        greedy_action({k: v for k, v in full.items() if k != "size"})


def test_random_bot_picks_uniformly_among_safe_moves():
    n = 300
    game = SnakeDuel(n, opponent="random")
    corner = board(S0, "RIGHT", [[0, 9], [0, 8], [0, 7]], "DOWN")  # DOWN and LEFT are walls
    open_ = board(S0, "RIGHT", S1, "LEFT")
    for state, safe in ((corner, {RIGHT}), (open_, {UP, DOWN, LEFT})):
        for i in range(n):
            game.set_state(i, {**state, "rng": i})
        moves = game.bot_actions(1, "random")
        assert set(moves.tolist()) == safe
        counts = np.bincount(moves, minlength=4)[sorted(safe)]
        assert counts.min() > n / len(safe) * 0.7  # roughly uniform
    # Its moves come from the board's stream: replaying the same stream gives the same moves.
    for i in range(n):
        game.set_state(i, {**open_, "rng": i})
    assert (game.bot_actions(1, "random") == moves).all()


@pytest.mark.parametrize("player, kind, error", [
    (True, "greedy", "player must be a whole number between 0 and 1, got True"),  # Numba's TypingError
    (0.5, "greedy", "player must be a whole number between 0 and 1, got 0.5"),
    (2, "greedy", "player must be between 0 and 1, got 2"),
    ("1", "greedy", "player must be a whole number between 0 and 1, got '1'"),  # was shown as 1
    (0, "policy", "kind must be 'greedy' or 'random', got 'policy'"),
])
def test_bot_actions_names_a_bad_player_or_kind(player, kind, error):
    game = SnakeDuel(1)
    game.set_state(0, board(S0, "RIGHT", S1, "LEFT"))
    with pytest.raises(ValueError, match=re.escape(error)):
        game.bot_actions(player, kind)
    assert greedy_action(game.get_state(0), 1.0) == game.bot_actions(np.int64(1))[0]  # 1.0 plays as 1


def test_random_bot_draws_from_the_stream_only_when_it_has_a_choice():
    # A forced move takes no draw, so the apples that follow (and every replay of a recorded game) do not
    # depend on it; a choice among safe moves takes one.
    game = SnakeDuel(2, opponent="random")
    game.set_state(0, board(S0, "RIGHT", [[0, 9], [0, 8], [0, 7]], "DOWN"))  # only RIGHT is safe
    game.set_state(1, board(S0, "RIGHT", S1, "LEFT"))
    assert game.bot_actions(1, "random")[0] == RIGHT
    streams = [game.get_state(i)["rng"] for i in range(2)]
    assert streams[0] == 12345 and streams[1] != 12345


def test_policy_opponent_needs_actions_every_step():
    game = SnakeDuel(2, opponent="policy")
    game.reset(np.arange(2), np.arange(2, dtype=np.uint64))
    with pytest.raises(RuntimeError, match="set_opponent_actions"):
        game.step(np.zeros(2, dtype=np.int64))
    game.set_opponent_actions(np.array([UP, DOWN]))
    game.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(RuntimeError):
        game.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError):
        game.set_opponent_actions(np.array([0, 4]))
    with pytest.raises(RuntimeError):
        SnakeDuel(2).set_opponent_actions(np.zeros(2))


# ---------------------------------------------------------------------------------------- observation
def test_observation_planes():
    s0 = [[2, 2], [1, 2], [0, 2], [0, 3]]
    game = SnakeDuel(1)
    state = board(s0, "RIGHT", S1, "LEFT")
    game.set_state(0, state)
    obs = game.new_obs_buffer()
    game.observe(obs)
    o = obs[0]
    assert o.shape == (6, 10, 10) and o.dtype == np.uint8
    assert o[0, 2, 2] == 255 and o[0].sum() == 255  # own head at (x=2, y=2): row y, column x
    # Body: neck frees in 3 rounds, tail in 1; the head is not in the body plane.
    assert [o[1, 2, 1], o[1, 2, 0], o[1, 3, 0]] == [BODY_BASE + 3 * BODY_STEP, BODY_BASE + 2 * BODY_STEP,
                                                    BODY_BASE + BODY_STEP]
    assert o[1, 2, 2] == 0 and np.count_nonzero(o[1]) == 3
    assert o[2, 7, 7] == 255 and np.count_nonzero(o[2]) == 1
    assert o[3, 7, 8] > o[3, 7, 9] > 0 and np.count_nonzero(o[3]) == 2
    assert np.count_nonzero(o[4]) == 5 and o[4, 9, 9] == 255
    assert (o[5] == 255).all()


def test_observe_opponent_is_the_mirror_of_observe():
    n = 32
    game = SnakeDuel(n)
    game.reset(np.arange(n), np.arange(n, dtype=np.uint64))
    mine, theirs = game.new_obs_buffer(), game.new_obs_buffer()
    for _ in range(10):
        game.step(game.bot_actions(0))
        game.observe(mine)
        game.observe_opponent(theirs)
        assert (theirs == mine[:, [2, 3, 0, 1, 4, 5]]).all()
        assert not (theirs == mine).all()


def test_observe_opponent_refuses_a_buffer_without_a_row_per_board():
    # The kernel does not check bounds: a one-board buffer on a two-board game had board 1's view written
    # past its end, here into the array it is a view of (elsewhere, into whatever memory follows it).
    game = SnakeDuel(2)
    game.reset(np.arange(2), np.arange(2, dtype=np.uint64))
    whole_buffer = np.zeros((2, 6, 10, 10), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"out must be a uint8 array of shape \(2, 6, 10, 10\)"):
        game.observe_opponent(whole_buffer[:1])
    assert not whole_buffer.any()


def test_opponent_sees_itself_as_the_learner():
    # Swap the two snakes in the state: snake 1's view of the original equals the learner's of the swap.
    game = SnakeDuel(1)
    game.reset(np.arange(1), np.array([5], dtype=np.uint64))
    state = game.get_state(0)
    swapped = {**state, "snakes": state["snakes"][::-1], "done": False}
    other = SnakeDuel(1)
    other.set_state(0, swapped)
    a, b = game.new_obs_buffer(), other.new_obs_buffer()
    game.observe_opponent(a)
    other.observe(b)
    assert (a == b).all()
    assert greedy_action(state, 1) == greedy_action(swapped, 0)


# -------------------------------------------------------------------------------------- the contract
def run(game: SnakeDuel, actions: np.ndarray) -> list:
    states = [[game.get_state(i) for i in range(game.num_envs)]]
    for a in actions:
        game.step(a)
        states.append([game.get_state(i) for i in range(game.num_envs)])
    return states


def test_determinism():
    actions = np.random.default_rng(1).integers(0, 4, (60, 8))
    runs = []
    for _ in range(2):
        for opponent in ("greedy", "random"):
            game = SnakeDuel(8, opponent=opponent)
            game.reset(np.arange(8), np.arange(8, dtype=np.uint64) + 99)
            runs.append(run(game, actions))
    assert runs[0] == runs[2] and runs[1] == runs[3]
    assert runs[0] != runs[1]
    game = SnakeDuel(8)
    game.reset(np.arange(8), np.arange(8, dtype=np.uint64) + 100)
    assert run(game, actions) != runs[0]  # other seeds, other games


def test_reset_is_fair_and_varied():
    n = 200
    game = SnakeDuel(n)
    game.reset(np.arange(n), np.arange(n, dtype=np.uint64))
    tops = []
    for i in range(n):
        s = game.get_state(i)
        b0, b1 = s["snakes"][0]["body"], s["snakes"][1]["body"]
        assert b1 == [[9 - x, 9 - y] for x, y in b0]  # the 180° image of each other
        assert len(s["apples"]) == 5 and not ({tuple(c) for c in b0 + b1} & {tuple(a) for a in s["apples"]})
        tops.append(b0[0][1] < 5)
    assert 0.3 < np.mean(tops) < 0.7  # the learner starts in either half


@pytest.mark.parametrize("size", [7, 9, 11])
def test_heads_never_start_facing_each_other_across_one_cell(size):
    # On an odd board the middle row is empty at the start: two heads aimed at its centre cell would
    # meet head-on in the first round by going straight (about 1 start in 40 on 7x7 did).
    n = 1000
    game = SnakeDuel(n, size=size)
    game.reset(np.arange(n), np.arange(n, dtype=np.uint64))
    step = {"UP": (0, -1), "DOWN": (0, 1), "LEFT": (-1, 0), "RIGHT": (1, 0)}
    mid, aimed = size // 2, set()
    for i in range(n):
        snakes = game.get_state(i)["snakes"]
        ahead = [(s["body"][0][0] + step[s["direction"]][0], s["body"][0][1] + step[s["direction"]][1])
                 for s in snakes]
        assert ahead[0] != ahead[1], snakes
        assert snakes[1]["body"] == [[size - 1 - x, size - 1 - y] for x, y in snakes[0]["body"]]
        aimed |= {("row" if y == mid else "column") for x, y in ahead if mid in (x, y)}
    # Only the start aimed at the centre is drawn again: heads aimed elsewhere in the middle row or column
    # still start (redrawing those too made the starts less varied).
    assert aimed == {"row", "column"}


@pytest.mark.filterwarnings("error::UserWarning")  # check_env reports what it skips or finds as warnings
def test_check_env():
    # Registered, for its spec: on a bare GameEnv check_env skips its render-mode and close checks.
    for opponent in ("greedy", "random"):
        check_env(gym.make("depthfirst/SnakeDuel-v0", opponent=opponent, render_mode="rgb_array").unwrapped)


def test_registry_and_gym_make():
    env = gym.make("depthfirst/SnakeDuel-v0", opponent="random", render_mode="rgb_array")
    obs, _ = env.reset(seed=3)
    assert obs.shape == (6, 10, 10)
    assert env.render().shape == (160, 160, 3)
    assert env.unwrapped.game.opponent == "random"


def test_batched_equals_single():
    n, seed = 6, 40
    actions = np.random.default_rng(2).integers(0, 4, (80, n))
    game = SnakeDuel(n)
    game.reset(np.arange(n), np.arange(n, dtype=np.uint64) + seed)
    obs = game.new_obs_buffer()
    envs_ = [GameEnv(SnakeDuel(1)) for _ in range(n)]
    single = [e.reset(seed=seed + k)[0] for k, e in enumerate(envs_)]
    game.observe(obs)
    assert all((obs[k] == single[k]).all() for k in range(n))
    done = np.zeros(n, dtype=bool)
    for a in actions:
        reward, term, _ = game.step(a)
        game.observe(obs)
        for k, e in enumerate(envs_):
            if done[k]:
                continue
            o, r, t, _, info = e.step(a[k])
            assert (o == obs[k]).all() and r == reward[k] and t == term[k]
            assert e.get_state() == game.get_state(k)
            if t:
                assert info == game.episode_info(k)
        done |= term
    assert done.any()


def test_state_round_trip_and_json():
    game = SnakeDuel(4, opponent="random")
    game.reset(np.arange(4), np.arange(4, dtype=np.uint64))
    for _ in range(12):
        game.step(game.bot_actions(0))
    states = [game.get_state(i) for i in range(4)]
    copy = SnakeDuel(4, opponent="random")
    for i in (3, 2, 1, 0):
        copy.set_state(i, json.loads(json.dumps(states[i])))
    assert [copy.get_state(i) for i in range(4)] == states
    a = np.random.default_rng(5).integers(0, 4, (30, 4))
    assert run(game, a) == run(copy, a)  # the state is complete: both boards play on identically
    # Refused for its size, not for a cell the smaller board lacks (which would refuse it as well).
    with pytest.raises(ValueError, match="state's board is 10×10, this game's 8×8: load it into a game made "
                                         "with size=10"):
        SnakeDuel(1, size=8).set_state(0, states[0])
    # An apple off the board is refused, not wrapped onto another cell (-1 indexed the last cell).
    copy.set_state(0, states[0])
    for apple in ([-1, 0], [0, 10], [10, 0]):  # [10, 0] wrapped onto [0, 1] with x <= size
        with pytest.raises(ValueError, match=r"apple \[-?\d+, \d+\] is off the board"):
            copy.set_state(0, {**states[0], "snakes": states[1]["snakes"], "apples": [apple]})
    assert copy.get_state(0) == states[0]  # refused before anything was changed


def test_render_shape_and_content():
    game = SnakeDuel(1)
    state = board(S0, "RIGHT", S1, "LEFT")
    img = SnakeDuel.render_state(state, scale=12)
    assert img.shape == (120, 120, 3) and img.dtype == np.uint8
    cell = img[2 * 12:3 * 12, 2 * 12:3 * 12]  # learner's head: yellow centre
    assert tuple(cell[6, 6]) == (255, 214, 10)
    apple = img[9 * 12:10 * 12, 9 * 12:10 * 12]
    assert tuple(apple[6, 6]) == (230, 57, 70)
    game.set_state(0, state)
    assert (game.render(0, 12) == img).all()
    dead = SnakeDuel.render_state({**state, "snakes": [{**state["snakes"][0], "alive": False},
                                                        state["snakes"][1]]}, scale=12)
    # The dead snake's head (its cell's centre lies on the cross) is marked; the living opponent is not.
    assert tuple(dead[2 * 12 + 6, 2 * 12 + 6]) == (0, 0, 0)
    # A cross: both diagonals, corner to corner (one of them alone passed)
    assert all(tuple(dead[2 * 12 + y, 2 * 12 + x]) == (0, 0, 0) for y in (0, 11) for x in (0, 11))
    assert (dead[7 * 12:8 * 12, 7 * 12:8 * 12] == img[7 * 12:8 * 12, 7 * 12:8 * 12]).all()
    assert tuple(img[7 * 12 + 6, 7 * 12 + 6]) == (120, 230, 255)  # the opponent's head: cyan, not yellow
    # Each body fades from the neck to the tail, whose colour is the snake's tail colour (the fade drawn the
    # other way round, the tail brightest, passed).
    for (neck, tail), colour in ((([1, 2], [0, 2]), (25, 90, 40)), (([8, 7], [9, 7]), (25, 45, 110))):
        neck_rgb, tail_rgb = (img[y * 12 + 6, x * 12 + 6].astype(int) for x, y in (neck, tail))
        assert tuple(tail_rgb) == colour and neck_rgb.sum() > tail_rgb.sum(), (neck_rgb, tail_rgb)
    assert SnakeDuel.render_state(state, scale=1).shape == (10, 10, 3)


def test_a_bodys_segments_are_joined_to_their_neighbours_with_board_showing_around_them():
    # scale // 8 pixels of margin round each segment show the board, so two cells side by side that are no
    # neighbours along the body read as two; a bridge fills the margin between neighbours.
    scale, m = 16, 2
    img = SnakeDuel.render_state(board(S0, "RIGHT", S1, "LEFT"), scale)

    def pixel(x: float, y: float) -> tuple[int, ...]:
        return tuple(int(v) for v in img[int(y * scale), int(x * scale)])

    def board_at(x: int, y: int) -> tuple[int, ...]:  # an empty cell's, of the same checker colour
        return pixel(4 - (x + y) % 2 + 0.5, 0.5)

    neck = pixel(1.5, 2.5)
    assert neck != board_at(1, 2) and pixel(1.5, 2) == pixel(1.5, 3 - 1 / scale) == board_at(1, 2)  # margins
    assert pixel(2 - m / scale, 2.5) == pixel(2 + (m - 1) / scale, 2.5) == neck  # the head's joint
    assert pixel(0, 2.5) == pixel(0, 2) == board_at(0, 2)  # the tail's far end: nothing joins it there


@pytest.mark.parametrize("change, error", [
    ({"body": [[20, 0], [1, 1]]}, r"snake 1 cell \[20, 0\] is off the board"),
    ({"body": [[5, 5]]}, "snake 1 needs at least 2 cells"),
    ({"direction": "NORTH"}, "snake 1 direction must be one of UP, DOWN, LEFT, RIGHT, got 'NORTH'"),
])
def test_a_refused_state_leaves_the_board_as_it_was(change, error):
    # Snake 0 was written before snake 1 was checked: the refusal left a board of two games' snakes.
    game = SnakeDuel(1)
    game.reset(np.zeros(1, dtype=np.int64), np.array([3], dtype=np.uint64))
    before = game.get_state(0)
    obs_before, obs_after = game.new_obs_buffer(), game.new_obs_buffer()
    game.observe(obs_before)
    state = board(S0, "RIGHT", S1, "LEFT")
    state["snakes"][1].update(change)
    with pytest.raises(ValueError, match=error):
        game.set_state(0, state)
    game.observe(obs_after)
    assert game.get_state(0) == before and np.array_equal(obs_before, obs_after)


@pytest.mark.parametrize("opponent", ["greedy", "random", "policy"])
def test_every_state_the_game_makes_round_trips(opponent):
    # The refusals of impossible boards must not refuse a real one: fatal rounds (a head-on, a swap, a
    # dead snake's frozen body), full-length games and every opponent's boards restore and play on alike.
    ended = assert_round_trips(lambda: SnakeDuel(16, size=6, opponent=opponent, max_rounds=40), 100)
    assert ended > 16


@pytest.mark.parametrize("s0, d0, apples, error", [
    (S0, "RIGHT", [[1, 2], *FAR_APPLES[1:]], r"apple \[1, 2\] is on snake 0"),
    (S0, "RIGHT", [[8, 7], *FAR_APPLES[1:]], r"apple \[8, 7\] is on snake 1"),
    ([[7, 6], [7, 7], [7, 8]], "UP", None, r"both snakes cover cell \[7, 7\]"),
    ([[2, 2], [2, 3], [3, 3], [3, 2], [2, 2]], "UP", None, r"snake 0 covers cell \[2, 2\]"),
    ([[2, 2], [1, 2], [1, 4]], "RIGHT", None, r"snake 0 .* has \[1, 2\] next to \[1, 4\]"),
    ([[2, 2], [1, 3], [0, 3]], "RIGHT", None, r"snake 0 .* has \[2, 2\] next to \[1, 3\]"),  # a diagonal
    (S0, "LEFT", None, r"snake 0 direction LEFT is not the way its head last moved, from \[1, 2\]"),
    (S0, "RIGHT", [[7, 9], *FAR_APPLES[1:]], r"apple \[7, 9\] is listed twice: a cell holds one apple"),
])
def test_set_state_refuses_boards_the_game_never_makes(s0, d0, apples, error):
    # All were taken as they came, boards no game reaches that the step was not written for: an apple under
    # a tail made the legal move onto that tail a death; a cell held twice stayed taken when one tail left;
    # a direction into the neck let the snake turn back into itself, and a gap let it jump; two apples on
    # one cell merged into one, so get_state gave back fewer apples than the state had.
    game = SnakeDuel(1)
    with pytest.raises(ValueError, match=error):
        game.set_state(0, board(s0, d0, S1, "LEFT", apples=apples))


@pytest.mark.parametrize("alive0, alive1, done, error", [
    (False, True, False, "snake 0 is dead in a state that is not done: a death ends the episode"),
    (True, False, False, "snake 1 is dead in a state that is not done"),
    (False, False, False, "snake 0 is dead in a state that is not done"),
    (True, True, "false", "state's done 'false' and snakes' alive .* must be true or false"),
    ("no", True, False, "state's done False and snakes' alive \\['no', True\\] must be true or false"),
])
def test_set_state_refuses_a_dead_snake_in_a_game_still_playing(alive0, alive1, done, error):
    # A dead snake on a board not done kept moving and the game never ended; a round in which a snake
    # dies ends the episode (dead snakes in a done state, as every fatal round leaves them, are taken).
    game = SnakeDuel(1)
    state = board(S0, "RIGHT", S1, "LEFT", rnd=1)  # a death comes in a round: round 1 at the earliest
    state["snakes"][0]["alive"], state["snakes"][1]["alive"], state["done"] = alive0, alive1, done
    with pytest.raises(ValueError, match=error):
        game.set_state(0, state)
    state["done"] = True
    state["snakes"][0]["alive"], state["snakes"][1]["alive"] = False, True
    game.set_state(0, state)
    assert game.get_state(0)["result"] == "loss"


@pytest.mark.parametrize("alive0, alive1", [(False, True), (True, False), (False, False)])
def test_set_state_refuses_a_dead_snake_at_round_0(alive0: bool, alive1: bool):
    # Loaded as a game lost, won or drawn before its first round; reset starts both snakes alive, and the
    # round a snake dies in is counted (test_wall_kills_and_board_freezes: round 1).
    game = SnakeDuel(1)
    game.set_state(0, board(S0, "RIGHT", S1, "LEFT"))
    before = game.get_state(0)
    state = board(S0, "RIGHT", S1, "LEFT")
    state["snakes"][0]["alive"], state["snakes"][1]["alive"], state["done"] = alive0, alive1, True
    with pytest.raises(ValueError, match=f"snake {int(alive0)} is dead at round 0: a snake dies in a round"):
        game.set_state(0, state)
    assert game.get_state(0) == before


@pytest.mark.parametrize("size, error", [
    (8, "state's board is 8×8, this game's 10×10: load it into a game made with size=8"),
    ("10", "state's size must be a whole number >= 1, got '10'"),  # was "a 10x10 board, this game is 10"
])
def test_set_state_of_another_board_size_names_the_size_to_make_the_game_with(size, error):
    # As Snake's: the message said "this game is 10", neither the board nor the game to make.
    game = SnakeDuel(1)
    game.set_state(0, board(S0, "RIGHT", S1, "LEFT"))
    before = game.get_state(0)
    with pytest.raises(ValueError, match=error):
        game.set_state(0, {**before, "size": size})
    assert game.get_state(0) == before
    game.set_state(0, {**before, "size": 10.0})  # an integral float, as the game's other numbers
    assert game.get_state(0) == before


def test_set_state_names_a_negative_rng():
    """np.uint64(-1) was a bare OverflowError."""
    game = SnakeDuel(1)
    state = board(S0, "RIGHT", S1, "LEFT")
    with pytest.raises(ValueError, match="state's rng must be between 0 and"):
        game.set_state(0, {**state, "rng": -1})


@pytest.mark.parametrize("key, value, error", [
    ("snakes", 5, "state's snakes must be a list as get_state returns, got int"),
    ("snakes", None, "state's snakes must be a list as get_state returns, got NoneType"),
    ("apples", 7, "state's apples must be a list as get_state returns, got int"),
    ("body", 3, "state's snake 1 body must be a list as get_state returns, got int"),
])
def test_set_state_names_a_key_that_is_no_list(key, value, error):
    """A number for snakes, apples or a body raised a bare TypeError (len or a loop), not naming the key."""
    game = SnakeDuel(1)
    state = board(S0, "RIGHT", S1, "LEFT")
    if key == "body":
        state["snakes"][1]["body"] = value
    else:
        state[key] = value
    with pytest.raises(ValueError, match=error):
        game.set_state(0, state)


@pytest.mark.parametrize("apples, body, error", [
    ([[1]], S1, r"state's apples\[0\] must be a list of 2 whole numbers .*, got \[1\]"),  # Python's unpacking
    ([[4, 4], [5, 5, 5]], S1, r"state's apples\[1\] must be a list of 2 whole numbers"),
    ([[4, 4], None], S1, r"state's apples\[1\] must be a list of 2 whole numbers .*, got None"),  # TypeError
    ([[4.5, 4]], S1, r"state's apples\[0\] must be a list of 2 whole numbers"),
    (None, [[7, 7], [8]], r"state's snake 1 body\[1\] must be a list of 2 whole numbers .*, got \[8\]"),
    (None, [[7, 7], 8], r"state's snake 1 body\[1\] must be a list of 2 whole numbers"),  # a bare TypeError
])
def test_set_state_names_a_cell_that_is_no_pair_of_whole_numbers(apples, body, error):
    """An apple or body cell that was no pair raised Python's 'not enough values to unpack' or a TypeError,
    naming no key; the board is left as it was."""
    game = SnakeDuel(1)
    game.set_state(0, board(S0, "RIGHT", S1, "LEFT"))
    before = game.get_state(0)
    with pytest.raises(ValueError, match=error):
        game.set_state(0, board(S0, "RIGHT", body, "LEFT", apples=apples))
    assert game.get_state(0) == before


@pytest.mark.parametrize("change, error", [
    ({"round": 101}, r"state's round must be between 0 and 100 \(its max_rounds 100\), got 101"),
    ({"round": -1}, r"state's round must be between 0 and 100"),
    ({"round": 3, "max_rounds": 2}, r"state's round must be between 0 and 2 \(its max_rounds 2\), got 3"),
    ({"round": 100}, "state is at its max_rounds 100 but not done: the game ends there"),
    ({"round": 40, "done": True},
     "state is done at round 40 with both snakes alive: such a game ends only at its max_rounds 100"),
    ({"apples": [*FAR_APPLES, [0, 0]]}, "state holds 6 apples, its num_apples is 5"),
    ({"apples": FAR_APPLES[:4]}, "state holds 4 apples, its num_apples is 5"),
    ({"apples": FAR_APPLES[:1], "num_apples": 2}, "state holds 1 apples, its num_apples is 2"),
    ({"score0": -1}, r"snake 0 score must be between 0 and 1 \(apples eaten by a snake of 3 cells\), got -1"),
    ({"score1": 2}, r"snake 1 score must be between 0 and 1 .*, got 2"),
])
def test_set_state_refuses_a_round_score_or_apple_count_no_game_reaches(change, error):
    # All were taken: a round past max_rounds (or one at it, not done) played on past the game's end, a game
    # done with both snakes alive before its limit got a result by length, a short apple count was topped up
    # several at once at the next apple eaten (and an extra one never), and a score could be negative or
    # more apples than the snake had grown by.
    change = dict(change)
    state = board(S0, "RIGHT", S1, "LEFT", score0=change.pop("score0", 0), score1=change.pop("score1", 0))
    game = SnakeDuel(1)
    with pytest.raises(ValueError, match=error):
        game.set_state(0, {**state, **change})


@pytest.mark.parametrize("s1, score0, score1, rnd", [
    ([[7, 7], [8, 7], [9, 7], [9, 6]], 0, 0, 5),  # 4 cells against 3 with no apple eaten
    ([[7, 7], [8, 7], [9, 7], [9, 6]], 1, 1, 5),  # both ate one, yet snake 1 is longer: it started so
    ([[7, 7], [8, 7], [9, 7], [9, 6]], 0, 1, 0),  # an apple eaten before any round was played
])
def test_set_state_refuses_lengths_scores_and_round_no_game_reaches_and_leaves_the_board(s1, score0, score1,
                                                                                         rnd):
    # Both snakes start with the game's start_length and grow one per apple, at most one a round; such
    # states were taken, and the duel tasks' answers about lengths and apples eaten came from them.
    game = SnakeDuel(1)
    game.set_state(0, board(S0, "RIGHT", S1, "LEFT"))
    before = game.get_state(0)
    state = {**board(S0, "RIGHT", s1, "LEFT", score0=score0, score1=score1), "round": rnd}
    with pytest.raises(ValueError, match=r"both start with one length and grow one per apple, at most one"):
        game.set_state(0, state)
    assert game.get_state(0) == before


def test_set_state_refuses_a_round_limit_past_64_bits_leaving_the_board_as_it_was():
    # Read as any whole number, it was NumPy's OverflowError on the last line of set_state, after the
    # snakes, apples and round had been replaced.
    game = SnakeDuel(1)
    game.set_state(0, board(S0, "RIGHT", S1, "LEFT"))
    before = game.get_state(0)
    state = {**board(S1, "LEFT", S0, "RIGHT", rnd=3), "max_rounds": 2**63}
    with pytest.raises(ValueError, match=r"state's max_rounds must be at most 2\*\*63 - 1"):
        game.set_state(0, state)
    assert game.get_state(0) == before


def test_set_state_takes_the_round_limit_and_a_board_too_full_for_its_apples():
    game = SnakeDuel(1, size=6, num_apples=30)
    state = {**board(S0, "RIGHT", S1, "LEFT", rnd=100, score0=1), "size": 6, "done": True, "max_rounds": 100}
    state["snakes"] = [{**state["snakes"][0], "body": [[2, 2], [1, 2], [0, 2], [0, 3]]},
                       {**state["snakes"][1], "body": [[3, 3], [4, 3], [5, 3]]}]
    state["apples"] = [[0, 0]]
    state["num_apples"] = 1
    game.set_state(0, state)  # done at the limit, both alive: decided by length
    assert game.get_state(0)["result"] == "win"
    # 13 snake cells on 36: 23 apples fill every free cell of a 30-apple game, as play leaves it.
    long0 = [[5, 0], [4, 0], [3, 0], [2, 0], [1, 0], [0, 0], [0, 1], [1, 1], [2, 1], [3, 1]]
    short1 = [[5, 5], [4, 5], [3, 5]]
    taken = {tuple(c) for c in long0 + short1}
    full = {**state, "round": 50, "done": False, "num_apples": 30,
            "apples": [[x, y] for y in range(6) for x in range(6) if (x, y) not in taken],
            "snakes": [{"body": long0, "direction": "RIGHT", "alive": True, "score": 7},
                       {"body": short1, "direction": "RIGHT", "alive": True, "score": 0}]}
    game.set_state(0, full)
    assert len(game.get_state(0)["apples"]) == 23
    # One free cell left still takes an apple: 22 of 30 on this board is short of what play leaves.
    with pytest.raises(ValueError, match="state holds 22 apples, its num_apples is 30"):
        game.set_state(0, {**full, "apples": full["apples"][1:]})


@pytest.mark.parametrize("length, pocket_taken", [(5, False), (4, True)])
def test_greedy_dead_end_rule_at_its_bounds(length, pocket_taken):
    # UP from (0,3) leads into a pocket of 4 cells, (0,2), (0,1), (0,0), (1,0), walled by the opponent,
    # with the nearest apple inside; RIGHT is open. A pocket smaller than the snake (4 < 5) is a dead end
    # and avoided; one as big as the snake (4 = 4) is not, and the apple there wins.
    s0 = [[0, 3 + k] for k in range(length)]
    s1 = [[2, 0], [2, 1], [1, 1], [1, 2], [2, 2], [3, 2], [4, 2]]
    state = board(s0, "UP", s1, "UP", apples=[[0, 1], *FAR_APPLES[:4]])
    assert greedy_action(state, 0) == (UP if pocket_taken else RIGHT)


def test_greedy_counts_a_pocket_open_through_the_opponents_tail_as_no_dead_end():
    # As above, but the opponent's tail (2,0) closes the pocket: it moves away (no apple is next to that
    # snake's head), so the pocket opens onto the board and UP, toward the apple, is no dead end.
    s0 = [[0, 3 + k] for k in range(5)]
    s1 = [[4, 2], [3, 2], [2, 2], [1, 2], [1, 1], [2, 1], [2, 0]]
    state = board(s0, "UP", s1, "RIGHT", apples=[[0, 1], *FAR_APPLES[:4]])
    assert greedy_action(state, 0) == UP


def test_greedy_ranks_a_dead_end_below_a_possible_head_on():
    # UP leads into the 4-cell pocket (0,2), (0,1), (0,0), (1,0) with the apple, too small for 5 cells;
    # RIGHT, the only other move, is next to the longer opponent's head. The dead end is the worse risk.
    s0 = [[0, 3 + k] for k in range(5)]
    s1 = [[2, 3], [2, 2], [1, 2], [1, 1], [2, 1], [2, 0], [3, 0]]
    state = board(s0, "UP", s1, "DOWN", apples=[[0, 1], *FAR_APPLES[:4]])
    assert greedy_action(state, 0) == RIGHT


def test_each_board_refills_to_its_own_apple_count():
    # Board 1 holds a 2-apple state beside board 0's default 5: its eaten apple is replaced up to 2.
    game = SnakeDuel(2, opponent="policy")
    game.reset(np.arange(2), np.arange(2, dtype=np.uint64))
    game.set_state(1, {**board(S0, "RIGHT", S1, "LEFT", apples=[[3, 2], [5, 5]]), "num_apples": 2})
    game.set_opponent_actions(np.array([UP, UP]))
    reward, _, _ = game.step(np.array([UP, RIGHT]))
    s = game.get_state(1)
    assert reward[1] == 1.0 and s["snakes"][0]["score"] == 1
    assert (s["num_apples"], len(s["apples"])) == (2, 2)


def test_each_board_ends_at_its_own_round_limit():
    # Board 1 holds a 30-round state at round 29 beside board 0's default 100: it ends next round, alone.
    game = SnakeDuel(2, opponent="policy")
    game.reset(np.arange(2), np.arange(2, dtype=np.uint64))
    game.set_state(1, {**board(S0, "RIGHT", S1, "LEFT", rnd=29), "max_rounds": 30})
    game.set_opponent_actions(game.bot_actions(1))
    _, term, _ = game.step(game.bot_actions(0))
    assert term.tolist() == [False, True] and game.get_state(1)["result"] == "draw"


@pytest.mark.parametrize("alive0, done, result, error", [
    (False, True, "win", "state's result 'win' is not the outcome its snakes' alive and lengths give .*, "
                         "'loss'"),
    (True, False, "draw", "state's result 'draw' is not the outcome .*, None"),  # none while the game runs
])
def test_set_state_refuses_a_result_its_snakes_do_not_give(alive0, done, result, error):
    # Taken silently and computed again: a state saying its learner won loaded as a loss.
    game = SnakeDuel(1)
    game.set_state(0, board(S0, "RIGHT", S1, "LEFT"))
    before = game.get_state(0)
    state = board(S0, "RIGHT", S1, "LEFT", rnd=1)
    state["snakes"][0]["alive"], state["done"] = alive0, done
    with pytest.raises(ValueError, match=error):
        game.set_state(0, {**state, "result": result})
    assert game.get_state(0) == before
    game.set_state(0, state)  # left out (a hand-made state), it is computed
    assert game.get_state(0)["result"] == ("loss" if done else None)
    game.set_state(0, game.get_state(0))


def test_result_is_none_while_the_duel_runs():
    game = SnakeDuel(1)
    game.reset(np.array([0]), np.array([3], dtype=np.uint64))
    assert game.get_state(0)["result"] is None
    game.set_state(0, board(S0, "RIGHT", S1, "LEFT"))
    assert game.get_state(0)["result"] is None


def test_a_board_never_played_reports_no_outcome():
    # Made done with result 0 until its first reset, such a board's figures said it was drawn (draw 1.0);
    # board 1 of two, only board 0 reset. It has no figures at all now, as no game's unplayed board has.
    from gymnasium.error import ResetNeeded

    game = SnakeDuel(2)
    game.reset(np.array([0]), np.array([3], dtype=np.uint64))
    with pytest.raises(ResetNeeded, match=r"^board 1 holds no episode yet"):
        game.episode_info(1)
    assert game.episode_info(0)["draw"] == 0.0


def test_body_planes_cap_at_255_on_a_long_snake():
    # A 30-cell snake: its neck frees in 29 rounds, 40 + 8 * 29 = 272, shown as 255 (not wrapped to 16).
    path = [[x, 0] for x in range(10)] + [[x, 1] for x in range(9, -1, -1)] + [[x, 2] for x in range(10)]
    game = SnakeDuel(1, opponent="policy")
    game.set_state(0, board(path[::-1], "RIGHT", S1, "LEFT"))
    obs = game.new_obs_buffer()
    game.observe(obs)
    own_body = obs[0, 1]
    assert own_body[2, 8] == 255  # the neck, (8, 2)
    assert own_body[0, 0] == BODY_BASE + BODY_STEP  # the tail frees next round
    assert own_body[2, 9] == 0  # the head is in its own plane


def test_resetting_one_board_keeps_another_boards_state_settings():
    game = SnakeDuel(2)
    game.reset(np.arange(2), np.arange(2, dtype=np.uint64))
    game.set_state(1, {**board(S0, "RIGHT", S1, "LEFT", apples=[[3, 2], [5, 5]]), "num_apples": 2,
                       "max_rounds": 30})
    game.reset(np.array([0]), np.array([9], dtype=np.uint64))
    s = game.get_state(1)
    assert (s["num_apples"], s["max_rounds"]) == (2, 30)


def test_starts_keep_the_snakes_in_their_own_halves():
    # Each snake lies in its own half of the board, so the two never share a cell.
    for size in (6, 7, 10):
        game = SnakeDuel(300, size=size, start_length=size // 2)
        game.reset(np.arange(300), np.arange(300, dtype=np.uint64))
        for i in range(300):
            s0, s1 = (game.get_state(i)["snakes"][p]["body"] for p in range(2))
            assert {y < size // 2 for _, y in s0} != {y < size // 2 for _, y in s1}, (size, i)
            assert len({y < size // 2 for _, y in s0}) == 1


def test_a_wall_death_frees_the_tail_for_the_other_snake():
    # Snake 0 runs off the top; snake 1 moves onto snake 0's tail, which moves away this round: snake 1
    # lives and wins (the apple on the last cell, (9, 9), is not eaten by a head off the board).
    s0, s1 = [[0, 0], [0, 1], [0, 2]], [[1, 2], [2, 2], [3, 2]]
    _, reward, term, s = play(board(s0, "UP", s1, "LEFT"), UP, LEFT)
    assert term and alive(s) == [False, True] and s["result"] == "loss" and reward == -2.0


def test_apples_spawn_on_every_free_cell_even_the_last():
    # A uniform draw among the free cells: the last free cell, (9, 9) here, gets an apple too.
    game = SnakeDuel(2000)
    game.reset(np.arange(2000), np.arange(2000, dtype=np.uint64))
    hits = sum([9, 9] in game.get_state(i)["apples"] for i in range(2000))
    assert 50 < hits < 200  # about 5 in 94 free cells


def test_a_reset_needs_fresh_opponent_actions():
    # Actions given before a reset were played at the first step after it, though computed from the
    # boards the reset replaced.
    game = SnakeDuel(1, opponent="policy")
    game.reset(np.array([0]), np.array([0], dtype=np.uint64))
    game.set_opponent_actions(np.array([UP]))
    game.reset(np.array([0]), np.array([1], dtype=np.uint64))
    with pytest.raises(RuntimeError, match="set_opponent_actions"):
        game.step(np.array([UP]))
    game.set_opponent_actions(np.array([UP]))
    game.step(np.array([UP]))


def test_a_set_state_needs_fresh_opponent_actions():
    # set_state puts the whole board from the state, as a reset does: actions given before it were played
    # on the new board, computed from the one it replaced. A refused state changes nothing, so keeps them.
    game = SnakeDuel(1, opponent="policy")
    game.reset(np.array([0]), np.array([1], dtype=np.uint64))
    other = game.get_state(0)
    game.reset(np.array([0]), np.array([0], dtype=np.uint64))
    game.set_opponent_actions(np.array([UP]))
    with pytest.raises(ValueError, match="exactly two snakes"):
        game.set_state(0, {**other, "snakes": []})
    game.step(np.array([UP]))
    game.set_opponent_actions(np.array([UP]))
    game.set_state(0, other)
    with pytest.raises(RuntimeError, match="set_opponent_actions"):
        game.step(np.array([UP]))
    assert game.get_state(0) == other


def test_a_new_opponent_setting_needs_fresh_opponent_actions():
    game = SnakeDuel(1, opponent="policy")
    game.reset(np.array([0]), np.array([0], dtype=np.uint64))
    game.set_opponent_actions(np.array([UP]))
    game.opponent = "greedy"
    game.opponent = "policy"
    with pytest.raises(RuntimeError, match="set_opponent_actions"):
        game.step(np.array([UP]))


@pytest.mark.parametrize("change, error", [
    ({"apples": 5}, "state's apples must be a list"),
    ({"apples": [[1, 2, 3]]}, r"state's apples\[0\] must be a list of 2"),
    ({"apples": [[-1, 3]]}, r"state's apples\[0\] \[-1, 3\] is off the 10×10 board"),
    ({"snakes": None}, "state's snakes must be a list"),
    ({"snakes": [{}, {}, {}]}, "state must hold exactly two snakes"),
    ({"snakes": [{"alive": True}, {"alive": True}]}, "not a snake_duel state's snake 0: it lacks 'body'"),
    ({"size": None}, "state's size must be a whole number"),
    # Past the largest board a game makes: a state of size 30,000 allocated gigabytes, a MemoryError.
    ({"size": 33}, r"state's size must be between 1 and 32 \(the largest board\), got 33"),
    ({"size": 2**62}, r"state's size must be between 1 and 32 \(the largest board\)"),
])
def test_render_state_refuses_a_malformed_state_naming_the_key(change, error):
    # render_state draws states read back from files: a bad value raised a bare TypeError, IndexError or
    # KeyError, or (a negative cell) was drawn at the board's other end.
    state = board(S0, "RIGHT", S1, "LEFT")
    SnakeDuel.render_state(state)
    with pytest.raises(ValueError, match=error):
        SnakeDuel.render_state({**state, **change})
    bad = {**state["snakes"][1], "body": [[3, 3], [3, 10]]}
    with pytest.raises(ValueError, match=r"state's snake 1 body\[1\] \[3, 10\] is off"):
        SnakeDuel.render_state({**state, "snakes": [state["snakes"][0], bad]})
    with pytest.raises(ValueError, match="state's snake 0 alive must be true or false"):
        dead = {**state["snakes"][0], "alive": "no"}
        SnakeDuel.render_state({**state, "snakes": [dead, state["snakes"][1]]})
