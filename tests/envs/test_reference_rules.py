"""Differential tests: each compiled core against a small pure-Python model of the README's rules.

Every ``reference_step`` works on the JSON state ``get_state(i)`` gives and follows the README's "Games"
section word by word, not the kernels. Apple places are random: the model takes a newly spawned apple
(and the board's random state after a spawn) from the core's next state, and checks only that it is legal.
The cores are driven batched, over several boards, sizes and settings, with random and biased actions
chosen to reach every rule (tail chases, head-ons, wins on a full board, deadlocks, step limits).
"""

from __future__ import annotations

import copy
import itertools
from collections import Counter
from typing import Any

import numpy as np
import pytest

from envs.rotation import Rotation
from envs.snake import Snake
from envs.snake_duel import SnakeDuel
from envs.sokoban import Sokoban

State = dict[str, Any]
MOVES = {"UP": (0, -1), "DOWN": (0, 1), "LEFT": (-1, 0), "RIGHT": (1, 0)}
NAMES = ("UP", "DOWN", "LEFT", "RIGHT")
REVERSE = {"UP": "DOWN", "DOWN": "UP", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def _add(cell: list[int], move: str) -> list[int]:
    dx, dy = MOVES[move]
    return [cell[0] + dx, cell[1] + dy]


def _on(cell: list[int], n: int) -> bool:
    return 0 <= cell[0] < n and 0 <= cell[1] < n


def _move_of(state_direction: str, action: int) -> str:
    """README: turning back into the neck is impossible, that action continues straight on."""
    move = NAMES[action]
    return state_direction if move == REVERSE[state_direction] else move


# --------------------------------------------------------------------------------------------------- Snake
def snake_reference_step(state: State, action: int, spawned: State) -> tuple[State, float, bool, bool]:
    """README Snake rules; ``spawned`` (the core's next state) supplies a new apple and its random state."""
    s = copy.deepcopy(state)
    if s["done"]:
        return s, 0.0, False, False
    n, body = s["size"], s["body"]
    move = _move_of(s["direction"], action)
    new = _add(body[0], move)
    s["step"] += 1
    s["steps_since_apple"] += 1  # the fatal step counts too
    eats = new == s["apple"]
    # The tail's cell is free to enter (the apple is never on the snake, so that move never eats).
    blocked = body if eats else body[:-1]
    if not _on(new, n) or new in blocked:
        s["done"], s["crash"] = True, new  # the board stays as it was
        return s, -1.0, True, False
    s["body"] = [new, *blocked]
    s["direction"] = move
    if eats:
        s["score"] += 1
        s["steps_since_apple"] = 0
        if len(s["body"]) == n * n:  # the snake fills the board: a win
            s["apple"], s["done"] = None, True
            return s, 1.0, True, False
        apple = spawned["apple"]
        assert apple is not None and _on(apple, n) and apple not in s["body"], f"apple {apple} is not free"
        s["apple"], s["rng"] = apple, spawned["rng"]
        return s, 1.0, False, False
    if s["steps_since_apple"] >= s["starvation"]:
        s["done"] = True
        return s, 0.0, False, True
    return s, 0.0, False, False


def snake_reference_obs(state: State, obs: np.ndarray) -> None:
    """README: head 255; body on the body cells only, the neck brightest (255) and fading toward the tail
    (never to 0, an empty cell); apple 255; an all-255 inside plane."""
    n, body = state["size"], state["body"]
    head = np.zeros((n, n), np.uint8)
    head[body[0][1], body[0][0]] = 255
    np.testing.assert_array_equal(obs[0], head)
    fade = [int(obs[1, y, x]) for x, y in body[1:]]
    assert fade[0] == 255 and min(fade) >= 1 and fade == sorted(fade, reverse=True), fade
    assert np.count_nonzero(obs[1]) == len(body) - 1
    apple = np.zeros((n, n), np.uint8)
    if state["apple"] is not None:
        apple[state["apple"][1], state["apple"][0]] = 255
    np.testing.assert_array_equal(obs[2], apple)
    assert (obs[3] == 255).all()


def _hamiltonian_next(n: int) -> dict[tuple[int, int], str]:
    """The move along one Hamiltonian cycle of an even n×n board from each cell: down column 0, then
    snaking up and down the other columns over rows 1..n-1, back along row 0."""
    nxt: dict[tuple[int, int], str] = {}
    for x in range(n):
        nxt[(x, 0)] = "LEFT" if x > 0 else "DOWN"
    for y in range(1, n):
        nxt[(0, y)] = "DOWN" if y < n - 1 else "RIGHT"
    for x in range(1, n):
        for y in range(1, n):
            down = x % 2 == 0
            if down:
                nxt[(x, y)] = "DOWN" if y < n - 1 else "RIGHT"
            else:
                nxt[(x, y)] = "UP" if y > 1 else ("RIGHT" if x < n - 1 else "UP")
    return nxt


def _snake_action(rng: np.random.Generator, state: State, style: str, cycle: dict | None) -> int:
    if style == "random":
        return int(rng.integers(4))
    head, apple = state["body"][0], state["apple"] or state["body"][0]
    if style == "cycle" and cycle is not None and rng.random() < 0.95:
        return NAMES.index(cycle[tuple(head)])
    if style == "circle" and rng.random() < 0.9:  # tight right turns: a 4-cell snake chases its tail
        turn = {"UP": "RIGHT", "RIGHT": "DOWN", "DOWN": "LEFT", "LEFT": "UP"}
        return NAMES.index(turn[state["direction"]])
    if rng.random() < 0.75:  # toward the apple, through safe cells when it can
        n, body = state["size"], state["body"]
        options = [a for a in range(4) if _on(_add(head, _move_of(state["direction"], a)), n)
                   and _add(head, _move_of(state["direction"], a)) not in body[:-1]]
        options = options or list(range(4))
        return min(options, key=lambda a: abs(_add(head, NAMES[a])[0] - apple[0])
                   + abs(_add(head, NAMES[a])[1] - apple[1]) + rng.random())
    return int(rng.integers(4))


def _snake_events(s: State, nxt: State, action: int, reward: float, term: bool, trunc: bool) -> list[str]:
    events = []
    if s["body"][-1] == _add(s["body"][0], _move_of(s["direction"], action)) and not s["done"]:
        events.append("tail-chase" if not term else "tail-death?")
    if term and reward < 0:
        events.append("wall" if not _on(nxt["crash"], s["size"]) else "body")
    if term and reward > 0:
        events.append("win")
    if trunc:
        events.append("starved")
    if term and reward < 0 and s["steps_since_apple"] + 1 == s["starvation"]:
        events.append("death-at-starvation")
    if reward > 0 and s["steps_since_apple"] + 1 == s["starvation"]:
        events.append("apple-at-starvation")
    if NAMES[action] == REVERSE[s["direction"]]:
        events.append("reverse")
    if reward > 0:
        events.append("apple")
    return events


@pytest.mark.parametrize(("size", "starvation", "style", "steps"), [
    (4, None, "cycle", 500), (6, None, "cycle", 300), (4, 9, "circle", 300), (5, 12, "biased", 300),
    (10, None, "biased", 250), (7, 20, "random", 250),
])
def test_snake_core_matches_the_readme_rules(size: int, starvation: int | None, style: str,
                                             steps: int) -> None:
    boards = 12
    game = Snake(num_envs=boards, size=size, starvation=starvation)
    rng = np.random.default_rng(size * 1000 + (starvation or 0))
    seed = size * 100_000
    game.reset(np.arange(boards), np.arange(seed, seed + boards))
    seed += boards
    cycle = _hamiltonian_next(size) if size % 2 == 0 else None
    seen: Counter[str] = Counter()
    states = [game.get_state(i) for i in range(boards)]
    obs = game.new_obs_buffer()
    for t in range(steps):
        actions = np.array([_snake_action(rng, s, style, cycle) for s in states])
        rewards, terms, truncs = game.step(actions)
        game.observe(obs)
        for i, s in enumerate(states):
            got = game.get_state(i)
            want, r, te, tr = snake_reference_step(s, int(actions[i]), got)
            where = f"size {size} step {t} board {i} action {NAMES[actions[i]]} from {s}"
            assert got == want, where
            snake_reference_obs(want, obs[i])
            assert (float(rewards[i]), bool(terms[i]), bool(truncs[i])) == (r, te, tr), where
            seen.update(_snake_events(s, got, int(actions[i]), r, te, tr))
            n_body = len(want["body"])  # README: score = apples eaten; a win fills the board
            assert game.episode_info(i) == {"score": want["score"], "snake_length": n_body,
                                            "won": float(n_body == size * size)}, where
            if got["done"]:
                game.reset(np.array([i]), np.array([seed]))
                seed += 1
            states[i] = game.get_state(i)
    expected = {"cycle": {"win", "apple"}, "circle": {"tail-chase", "body", "starved"},
                "biased": {"wall", "body", "apple", "reverse", "tail-chase"},
                "random": {"wall", "body", "reverse", "starved"}}[style]
    assert expected <= set(seen), seen  # the run reached the rules it is meant to test


# ---------------------------------------------------------------------------------------------- Duel Snake
def duel_reference_step(state: State, actions: tuple[int, int], spawned: State, apple_reward: float = 1.0,
                        death_penalty: float = 1.0,
                        win_reward: float = 1.0) -> tuple[State, float, bool, bool]:
    """README Duel Snake rules for one round, from snake 0's side; ``spawned`` supplies refilled apples."""
    s = copy.deepcopy(state)
    if s["done"]:
        return s, 0.0, False, False
    n, snakes = s["size"], s["snakes"]
    moves = [_move_of(snake["direction"], a) for snake, a in zip(snakes, actions, strict=True)]
    heads = [_add(snake["body"][0], m) for snake, m in zip(snakes, moves, strict=True)]
    eats = [h in s["apples"] for h in heads]
    # Body cells after the tails have moved: a tail frees its cell unless that snake eats this round.
    held = [c for snake, e in zip(snakes, eats, strict=True)
            for c in (snake["body"] if e else snake["body"][:-1])]
    swap = heads[0] == snakes[1]["body"][0] and heads[1] == snakes[0]["body"][0]
    dies = [not _on(h, n) or h in held or heads[0] == heads[1] or swap for h in heads]
    s["round"] += 1
    reward = 0.0
    if any(dies):  # the board freezes: nobody moves or eats
        for snake, d in zip(snakes, dies, strict=True):
            snake["alive"] = not d
        reward -= death_penalty if dies[0] else 0.0
    else:
        for snake, m, h, e in zip(snakes, moves, heads, eats, strict=True):
            snake["body"] = [h, *(snake["body"] if e else snake["body"][:-1])]
            snake["direction"] = m
            snake["score"] += int(e)
        reward += apple_reward if eats[0] else 0.0
        if any(eats):
            kept = [a for a in s["apples"] if a not in heads]
            bodies = [c for snake in snakes for c in snake["body"]]
            free = n * n - len(bodies) - len(kept)
            new = [a for a in spawned["apples"] if a not in kept]
            assert all(a in spawned["apples"] for a in kept), "an uneaten apple moved"
            assert all(_on(a, n) and a not in bodies for a in new), f"apples {new} not on free cells"
            assert len(spawned["apples"]) == min(s["num_apples"], len(kept) + free), "apples not refilled"
            s["apples"], s["rng"] = spawned["apples"], spawned["rng"]
    if any(dies) or s["round"] >= s["max_rounds"]:
        alive = [snake["alive"] for snake in snakes]
        lengths = [len(snake["body"]) for snake in snakes]
        if alive[0] != alive[1]:
            result = 1 if alive[0] else -1
        else:
            result = (lengths[0] > lengths[1]) - (lengths[0] < lengths[1])
        s["done"], s["result"] = True, {1: "win", 0: "draw", -1: "loss"}[result]
        return s, reward + win_reward * result, True, False
    return s, reward, False, False


def duel_reference_obs(state: State, swap: int = 0) -> np.ndarray:
    """README: own head, own body, opponent head, opponent body (40 + 8·rounds until the cell frees, at
    most 255), apples, an all-255 inside plane; ``swap`` 1 for snake 1's view."""
    n = state["size"]
    obs = np.zeros((6, n, n), np.uint8)
    for p, snake in enumerate(state["snakes"]):
        ch, body = 2 * (p ^ swap), snake["body"]
        for k, (x, y) in enumerate(body[1:], start=1):
            obs[ch + 1, y, x] = min(255, 40 + 8 * (len(body) - k))  # the tail frees in 1 round
        obs[ch, body[0][1], body[0][0]] = 255
    for x, y in state["apples"]:
        obs[4, y, x] = 255
    obs[5] = 255
    return obs


def _duel_action(rng: np.random.Generator, state: State, p: int, style: str) -> int:
    snake, other = state["snakes"][p], state["snakes"][1 - p]
    head = snake["body"][0]
    if style == "random" or rng.random() < 0.2:
        return int(rng.integers(4))
    if style == "hunt":  # toward the other head: head-ons and swaps
        goal = other["body"][0]
    else:
        goal = min(state["apples"], key=lambda a: abs(a[0] - head[0]) + abs(a[1] - head[1]), default=head)
    return min(range(4), key=lambda a: abs(_add(head, NAMES[a])[0] - goal[0])
               + abs(_add(head, NAMES[a])[1] - goal[1]) + rng.random())


def _duel_events(s: State, got: State, actions: tuple[int, int], reward: float) -> list[str]:
    events = []
    heads = [_add(k["body"][0], _move_of(k["direction"], a))
             for k, a in zip(s["snakes"], actions, strict=True)]
    if heads[0] == heads[1]:
        events.append("head-on")
    if heads[0] == s["snakes"][1]["body"][0] and heads[1] == s["snakes"][0]["body"][0]:
        events.append("swap")
    for p in range(2):
        if heads[p] == s["snakes"][1 - p]["body"][-1]:
            events.append("onto-other-tail-" + ("died" if not got["snakes"][p]["alive"] else "lived"))
    if heads[0] == heads[1] and heads[0] in s["apples"]:
        events.append("head-on-apple")
    if got["done"] and got["round"] == got["max_rounds"] and any(
            k["score"] > j["score"] for k, j in zip(got["snakes"], s["snakes"], strict=True)):
        events.append("apple-in-last-round")
    if got["done"] and not any(k["alive"] for k in got["snakes"]) and got["result"] != "draw":
        events.append("both-died-longer-wins")
    if got["done"]:
        events.append(f"result-{got['result']}")
        if all(k["alive"] for k in got["snakes"]):
            events.append("round-limit")
    if any(k["score"] > j["score"] for k, j in zip(got["snakes"], s["snakes"], strict=True)):
        events.append("apple")
    return events


@pytest.mark.parametrize(("size", "kwargs", "style", "rounds"), [
    (6, {"num_apples": 3, "max_rounds": 40}, "hunt", 250),
    (7, {"num_apples": 5, "max_rounds": 60, "start_length": 2}, "hunt", 250),
    (10, {"max_rounds": 25}, "apples", 250),
    (6, {"num_apples": 28, "max_rounds": 12, "start_length": 3}, "apples", 200),
    (8, {"num_apples": 2, "apple_reward": 0.5, "death_penalty": 2.0, "win_reward": 3.0}, "random", 250),
])
def test_duel_core_matches_the_readme_rules(size: int, kwargs: dict[str, Any], style: str,
                                            rounds: int) -> None:
    boards = 12
    game = SnakeDuel(num_envs=boards, size=size, opponent="policy", **kwargs)
    rewards_kw = {k: kwargs[k] for k in ("apple_reward", "death_penalty", "win_reward") if k in kwargs}
    rng = np.random.default_rng(size * 7 + len(kwargs))
    seed = 10_000 * size + len(kwargs)
    game.reset(np.arange(boards), np.arange(seed, seed + boards))
    seed += boards
    seen: Counter[str] = Counter()
    states = [game.get_state(i) for i in range(boards)]
    obs, opp_obs = game.new_obs_buffer(), game.new_obs_buffer()
    for t in range(rounds):
        a0 = np.array([_duel_action(rng, s, 0, style) for s in states])
        # Half the boards' snake 1 plays the greedy bot (deterministic: it draws nothing from the stream).
        a1 = np.array([_duel_action(rng, s, 1, style) for s in states])
        a1[::2] = game.bot_actions(1, "greedy")[::2]
        game.set_opponent_actions(a1)
        rewards, terms, truncs = game.step(a0)
        game.observe(obs)
        game.observe_opponent(opp_obs)
        for i, s in enumerate(states):
            got = game.get_state(i)
            acts = (int(a0[i]), int(a1[i]))
            want, r, te, tr = duel_reference_step(s, acts, got, **rewards_kw)
            where = f"size {size} round {t} board {i} actions {acts} from {s}"
            assert got == want, where
            np.testing.assert_array_equal(obs[i], duel_reference_obs(want), where)
            np.testing.assert_array_equal(opp_obs[i], duel_reference_obs(want, swap=1), where)
            assert float(rewards[i]) == pytest.approx(r, abs=1e-6), where
            assert (bool(terms[i]), bool(truncs[i])) == (te, tr), where
            seen.update(_duel_events(s, got, acts, r))
            if want["done"]:
                info = game.episode_info(i)
                snakes = want["snakes"]
                assert info == {"score": snakes[0]["score"], "opponent_score": snakes[1]["score"],
                                **{k: float(want["result"] == k) for k in ("win", "draw", "loss")},
                                "snake_length": len(snakes[0]["body"]),
                                "opponent_length": len(snakes[1]["body"]),
                                "rounds": want["round"]}, where
            if got["done"]:
                game.reset(np.array([i]), np.array([seed]))
                seed += 1
            states[i] = game.get_state(i)
    expected = {"hunt": {"head-on", "result-draw", "result-win", "result-loss"},
                "apples": {"apple", "round-limit", "result-win"},
                "random": {"result-loss", "result-win"}}[style]
    assert expected <= set(seen), seen


# ------------------------------------------------------------------------------------------------- Sokoban
def sokoban_reference_step(state: State, action: int) -> tuple[State, float, bool, bool]:
    """README Sokoban rules (gym-sokoban's rewards, the step limit and ``deadlock_end``)."""
    s = copy.deepcopy(state)
    if s["done"]:
        return s, 0.0, False, False
    walls, boxes, targets = s["walls"], s["boxes"], s["targets"]
    move = NAMES[action]
    q = _add(s["player"], move)
    reward, pushed = -0.1, None
    if not walls[q[1]][q[0]]:
        if q in boxes:
            beyond = _add(q, move)
            if not walls[beyond[1]][beyond[0]] and beyond not in boxes:  # pushed if the cell beyond is free
                boxes[boxes.index(q)] = beyond
                reward += (-1.0 if q in targets else 0.0) + (1.0 if beyond in targets else 0.0)
                s["player"], pushed = q, beyond
        else:
            s["player"] = q
    s["boxes"] = sorted(boxes, key=lambda c: (c[1], c[0]))  # get_state lists cells row by row
    s["step"] += 1
    s["score"] = sum(b in targets for b in boxes)
    term = trunc = False
    if s["score"] == len(targets):
        reward += 10.0
        term = True
    elif s["deadlock_end"] and pushed is not None and pushed not in targets and (
            walls[pushed[1] - 1][pushed[0]] or walls[pushed[1] + 1][pushed[0]]) and (
            walls[pushed[1]][pushed[0] - 1] or walls[pushed[1]][pushed[0] + 1]):
        reward += -0.1 * (s["max_steps"] - s["step"])  # the step cost of the steps left
        term = s["deadlocked"] = True
    elif s["step"] >= s["max_steps"]:
        trunc = True
    s["done"] = term or trunc
    return s, reward, term, trunc


def sokoban_reference_obs(state: State) -> np.ndarray:
    """README: 0/255 planes wall, target, box off target, box on target, player."""
    obs = np.zeros((5, state["size"], state["size"]), np.uint8)
    obs[0] = np.array(state["walls"]) * 255
    for x, y in state["targets"]:
        obs[1, y, x] = 255
    for x, y in state["boxes"]:
        obs[3 if [x, y] in state["targets"] else 2, y, x] = 255
    obs[4, state["player"][1], state["player"][0]] = 255
    return obs


def _sokoban_action(rng: np.random.Generator, state: State, style: str) -> int:
    if style == "random" or rng.random() < 0.3:
        return int(rng.integers(4))
    # Toward the nearest box, to push boxes about (onto and off targets, into corners).
    p = state["player"]
    box = min(state["boxes"], key=lambda b: abs(b[0] - p[0]) + abs(b[1] - p[1]))
    return min(range(4), key=lambda a: abs(_add(p, NAMES[a])[0] - box[0]) + abs(_add(p, NAMES[a])[1] - box[1])
               + rng.random())


@pytest.mark.parametrize(("kwargs", "style", "steps"), [
    ({"difficulty": "easy", "max_steps": 40}, "boxes", 400),
    ({"difficulty": "easy", "deadlock_end": True}, "boxes", 300),
    ({"difficulty": "medium", "deadlock_end": True, "max_steps": 60}, "boxes", 300),
    ({"difficulty": "hard", "max_steps": 50}, "random", 200),
    ({"size": 7, "num_boxes": [1, 3], "max_steps": 30, "deadlock_end": True}, "boxes", 300),
])
def test_sokoban_core_matches_the_readme_rules(kwargs: dict[str, Any], style: str, steps: int) -> None:
    boards = 12
    game = Sokoban(num_envs=boards, **kwargs)
    rng = np.random.default_rng(len(str(kwargs)))
    seed = 1000 * len(str(kwargs))
    game.reset(np.arange(boards), np.arange(seed, seed + boards))
    seed += boards
    seen: Counter[str] = Counter()
    states = [game.get_state(i) for i in range(boards)]
    obs = game.new_obs_buffer()
    for t in range(steps):
        actions = np.array([_sokoban_action(rng, s, style) for s in states])
        rewards, terms, truncs = game.step(actions)
        game.observe(obs)
        for i, s in enumerate(states):
            got = game.get_state(i)
            want, r, te, tr = sokoban_reference_step(s, int(actions[i]))
            where = f"{kwargs} step {t} board {i} action {NAMES[actions[i]]} from {s}"
            assert got == want, where
            np.testing.assert_array_equal(obs[i], sokoban_reference_obs(want), where)
            assert float(rewards[i]) == pytest.approx(r, abs=1e-5), where
            assert (bool(terms[i]), bool(truncs[i])) == (te, tr), where
            assert game.episode_info(i) == {  # README: score = boxes on targets
                "score": want["score"], "solved": float(want["score"] == len(want["targets"])),
                "num_boxes": len(want["targets"]), "steps": want["step"],
                "deadlocked": float(want["deadlocked"])}
            left = [b for b in s["boxes"] if b not in got["boxes"]]
            came = [b for b in got["boxes"] if b not in s["boxes"]]
            seen.update(["deadlock-at-limit"] * (want["deadlocked"] and want["step"] == want["max_steps"])
                        + ["target-to-target"] * (bool(left) and all(b in s["targets"] for b in left + came)))
            seen.update(["solved"] * (te and not want["deadlocked"]) + ["deadlock"] * want["deadlocked"]
                        + ["limit"] * tr + ["push"] * (got["boxes"] != s["boxes"])
                        + ["off-target"] * (r < -0.5 and not te) + ["on-target"] * (r > 0.5 and not te))
            if got["done"]:
                game.reset(np.array([i]), np.array([seed]))
                seed += 1
            states[i] = game.get_state(i)
    expected = {"push", "limit"} | ({"deadlock"} if kwargs.get("deadlock_end") else set())
    if kwargs.get("difficulty") != "easy":  # one box: the push onto its target solves the level
        expected |= {"on-target", "off-target"}
    assert expected <= set(seen), seen


# ----------------------------------------------------------------------------------------- starting states
def _straight(body: list[list[int]], direction: str) -> bool:
    """Each cell one step behind the one before it, against ``direction`` (a straight snake heading so)."""
    return all(_add(b, direction) == a for a, b in itertools.pairwise(body))


@pytest.mark.parametrize("size", [4, 5, 10, 32])
def test_snake_starts_as_the_readme_says(size: int) -> None:
    boards = 64
    game = Snake(num_envs=boards, size=size)
    game.reset(np.arange(boards), np.arange(boards) + 3 * size)
    headings = set()
    for i in range(boards):
        s = game.get_state(i)
        body = s["body"]
        assert len(body) == 3 and all(_on(c, size) for c in body) and _straight(body, s["direction"]), s
        assert s["apple"] is not None and _on(s["apple"], size) and s["apple"] not in body, s
        assert (s["step"], s["steps_since_apple"], s["score"]) == (0, 0, 0)
        assert (s["done"], s["crash"]) == (False, None)
        assert s["starvation"] == 2 * size * size  # README: default 2·N²
        headings.add(s["direction"])
    assert headings == set(NAMES)
    again = Snake(num_envs=1, size=size)
    again.reset(np.array([0]), np.array([3 * size + 5]))
    assert again.get_state(0) == game.get_state(5)  # seeded: the same seed gives the same start


@pytest.mark.parametrize(("size", "start_length", "num_apples"), [(6, 3, 5), (7, 2, 5), (10, 3, 5), (9, 4, 1),
                                                                  (6, 2, 28)])
def test_duel_starts_as_the_readme_says(size: int, start_length: int, num_apples: int) -> None:
    boards = 64
    game = SnakeDuel(num_envs=boards, size=size, start_length=start_length, num_apples=num_apples)
    game.reset(np.arange(boards), np.arange(boards) + 7 * size)
    for i in range(boards):
        s = game.get_state(i)
        a, b = s["snakes"]
        for snake in (a, b):
            assert len(snake["body"]) == start_length and _straight(snake["body"], snake["direction"]), s
            assert snake["alive"] and snake["score"] == 0
        # Point-symmetric: a 180° turn of the board maps one snake onto the other.
        assert b["body"] == [[size - 1 - x, size - 1 - y] for x, y in a["body"]], s
        assert b["direction"] == REVERSE[a["direction"]]
        # Never the heads facing each other across one cell (nor next to each other, facing).
        ahead = [_add(a["body"][0], a["direction"]), _add(b["body"][0], b["direction"])]
        assert ahead[0] != ahead[1] and ahead[0] != b["body"][0], s
        bodies = a["body"] + b["body"]
        assert len(s["apples"]) == num_apples and not any(c in bodies for c in s["apples"]), s
        assert all(_on(c, size) for c in s["apples"] + bodies)
        assert (s["round"], s["done"], s["result"]) == (0, False, None)


@pytest.mark.parametrize(("difficulty", "size", "boxes", "max_steps"), [
    ("easy", 6, (1, 1), 120), ("medium", 8, (2, 2), 120), ("hard", 10, (3, 4), 200)])
def test_sokoban_starts_as_the_readme_says(difficulty: str, size: int, boxes: tuple[int, int],
                                           max_steps: int) -> None:
    from envs.sokoban_solver import solve

    boards = 24
    game = Sokoban(num_envs=boards, difficulty=difficulty)
    game.reset(np.arange(boards), np.arange(boards))
    counts = set()
    for i in range(boards):
        s = game.get_state(i)
        walls = np.array(s["walls"])
        assert walls.shape == (size, size) and walls[[0, -1]].all() and walls[:, [0, -1]].all()
        assert len(s["boxes"]) == len(s["targets"]) and boxes[0] <= len(s["boxes"]) <= boxes[1]
        for x, y in s["boxes"] + s["targets"] + [s["player"]]:
            assert walls[y, x] == 0
        assert s["player"] not in s["boxes"] and sorted(s["boxes"]) != sorted(s["targets"])
        assert (s["step"], s["max_steps"], s["done"]) == (0, max_steps, False)
        counts.add(len(s["boxes"]))
        if difficulty != "hard":  # solvable by construction (the hard levels take the solver longer)
            assert solve(s) is not None, s
    assert counts == set(range(boxes[0], boxes[1] + 1))


# ------------------------------------------------------------------------------------------- Duel opponents
def _surely_fatal(state: State, p: int, move: str) -> bool:
    """README/docstring: off the board, or onto a body cell that stays (its own tail moves away; the
    other snake's only when no apple lies next to that snake's head)."""
    n, me, other = state["size"], state["snakes"][p], state["snakes"][1 - p]
    new = _add(me["body"][0], move)
    oh = other["body"][0]
    could_eat = any(_add(oh, m) in state["apples"] for m in NAMES if m != REVERSE[other["direction"]])
    stays = me["body"][:-1] + (other["body"] if could_eat else other["body"][:-1])
    return not _on(new, n) or new in stays


@pytest.mark.parametrize("kind", ["random", "greedy"])
def test_duel_bots_play_the_rules_and_never_a_sure_death(kind: str) -> None:
    boards, size = 16, 7
    game = SnakeDuel(num_envs=boards, size=size, num_apples=4, max_rounds=80, opponent=kind)
    scratch = SnakeDuel(num_envs=boards, size=size, num_apples=4, max_rounds=80, opponent="policy")
    rng = np.random.default_rng(11)
    seed = 500
    game.reset(np.arange(boards), np.arange(seed, seed + boards))
    seed += boards
    states = [game.get_state(i) for i in range(boards)]
    choices: Counter[int] = Counter()
    for t in range(200):
        # The bot's move on each board, from a copy of it: the same stream, so the same draw as the step's.
        for i, s in enumerate(states):
            scratch.set_state(i, s)
        bot = scratch.bot_actions(1, kind)
        a0 = np.array([_duel_action(rng, s, 0, "apples") for s in states])
        rewards, terms, _ = game.step(a0)
        for i, s in enumerate(states):
            got = game.get_state(i)
            move = _move_of(s["snakes"][1]["direction"], int(bot[i]))
            options = [m for m in NAMES if m != REVERSE[s["snakes"][1]["direction"]]]
            assert not _surely_fatal(s, 1, move) or all(_surely_fatal(s, 1, m) for m in options), (t, i, s)
            if all(_surely_fatal(s, 1, m) for m in options) and kind == "random":  # with none, as greedy
                assert int(bot[i]) == greedy_reference(s, 1), (t, i, s)
            choices[len([m for m in options if not _surely_fatal(s, 1, m)])] += 1
            before = {**s, "rng": scratch.get_state(i)["rng"]}  # the random bot draws from the stream
            want, r, te, _ = duel_reference_step(before, (int(a0[i]), int(bot[i])), got)
            assert got == want, (t, i, s)
            assert (float(rewards[i]), bool(terms[i])) == (pytest.approx(r), te), (t, i, s)
            if got["done"]:
                game.reset(np.array([i]), np.array([seed]))
                seed += 1
            states[i] = game.get_state(i)
    assert choices[0] and choices[2] and choices[3], choices  # cornered, and free choices, both came up


# ------------------------------------------------------------------------------------------------ Rotation
def _quarter(axis: int, sign: int) -> np.ndarray:
    """A quarter turn by the right-hand rule about world axis ``axis`` (0 x, 1 y, 2 z), ``sign`` ±1."""
    m = np.zeros((3, 3), dtype=np.int64)
    u, v = (axis + 1) % 3, (axis + 2) % 3
    m[axis, axis] = 1
    m[v, u], m[u, v] = sign, -sign  # +u goes to +v for a positive turn
    return m


TURNS = [_quarter(axis, sign) for axis in range(3) for sign in (1, -1)]  # X+ X- Y+ Y- Z+ Z-


def _distance(a: np.ndarray, b: np.ndarray) -> int:
    """Fewest quarter turns from orientation a to b (BFS over matrices)."""
    frontier, seen, d = [a], {a.tobytes()}, 0
    while not any((m == b).all() for m in frontier):
        nxt = []
        for m in frontier:
            for g in TURNS:
                r = g @ m
                if r.tobytes() not in seen:
                    seen.add(r.tobytes())
                    nxt.append(r)
        frontier, d = nxt, d + 1
    return d


def rotation_reference_step(state: State, action: int, step_cost: float,
                            progress_reward: float) -> tuple[State, float, bool, bool]:
    """README Rotation rules: a quarter turn about a world axis, +1 on the match, −step_cost otherwise,
    plus progress_reward × (distance before − after), truncated at max_steps."""
    s = copy.deepcopy(state)
    if s["done"]:
        return s, 0.0, False, False
    rot, target = np.array(s["rotation"]), np.array(s["target_rotation"])
    new = TURNS[action] @ rot
    before, after = _distance(rot, target), _distance(new, target)
    s["rotation"], s["distance"], s["step"] = new.tolist(), after, s["step"] + 1
    s.pop("rotation_index")  # the core's own numbering
    shaping = progress_reward * (before - after)
    if after == 0:
        s.update(solved=True, done=True, score=1.0)
        return s, 1.0 + shaping, True, False
    if s["step"] >= s["max_steps"]:
        s["done"] = True
        return s, shaping - step_cost, False, True
    return s, shaping - step_cost, False, False


def _assert_asymmetric_polycube(cubes: list[list[int]], colors: list[list[int]]) -> None:
    """README: one connected polycube (cubes face to face), and no turn but the identity maps it, colours
    and all, onto itself up to a shift (two orientations would look the same)."""
    cells = {tuple(c) for c in cubes}
    reached, todo = {tuple(cubes[0])}, [tuple(cubes[0])]
    while todo:
        c = todo.pop()
        for axis in range(3):
            for step in (-1, 1):
                nb = tuple(v + step * (k == axis) for k, v in enumerate(c))
                if nb in cells and nb not in reached:
                    reached.add(nb)
                    todo.append(nb)
    assert reached == cells, cubes

    def normal(points: np.ndarray) -> set[tuple[Any, ...]]:
        low = points.min(axis=0)
        return {(*(p - low), *col) for p, col in zip(points, colors, strict=True)}

    orientations, todo = {np.eye(3, dtype=np.int64).tobytes()}, [np.eye(3, dtype=np.int64)]
    while todo:  # the 24 cube rotations, from the quarter turns
        m = todo.pop()
        for g in TURNS:
            r = g @ m
            if r.tobytes() not in orientations:
                orientations.add(r.tobytes())
                todo.append(r)
    assert len(orientations) == 24
    shape = np.array(cubes)
    for raw in orientations:
        m = np.frombuffer(raw, dtype=np.int64).reshape(3, 3)
        if not (m == np.eye(3)).all():
            assert normal(shape @ m.T) != normal(shape), (cubes, m.tolist())


@pytest.mark.parametrize(("kwargs", "optimal_share"), [
    ({}, 0.0), ({"max_steps": 6, "progress_reward": 0.1, "min_turns": 3}, 0.5),
    ({"step_cost": 0.25, "progress_reward": 0.5, "max_steps": 9, "min_cubes": 6, "max_cubes": 8}, 0.3)])
def test_rotation_core_matches_the_readme_rules(kwargs: dict[str, Any], optimal_share: float) -> None:
    from envs.rotation import optimal_action, render_view

    boards = 8
    game = Rotation(num_envs=boards, view_size=16, **kwargs)
    step_cost, progress = game.step_cost, game.progress_reward
    rng = np.random.default_rng(len(kwargs))
    seed = 77
    game.reset(np.arange(boards), np.arange(seed, seed + boards))
    seed += boards
    seen: Counter[str] = Counter()
    states = [game.get_state(i) for i in range(boards)]
    starts = [s["distance"] for s in states]
    obs = game.new_obs_buffer()
    for t in range(120):
        actions = np.array([optimal_action(s) if rng.random() < optimal_share else int(rng.integers(6))
                            for s in states])
        rewards, terms, truncs = game.step(actions)
        game.observe(obs)
        for i, s in enumerate(states):
            got = game.get_state(i)
            want, r, te, tr = rotation_reference_step(s, int(actions[i]), step_cost, progress)
            where = f"{kwargs} step {t} board {i} action {actions[i]} from {s}"
            assert {k: v for k, v in got.items() if k != "rotation_index"} == want, where
            # README: the target view on the left, the current view on the right.
            views = [render_view(got, got[key], 16).transpose(2, 0, 1)
                     for key in ("target_rotation", "rotation")]
            np.testing.assert_array_equal(obs[i], np.concatenate(views, axis=2), where)
            assert float(rewards[i]) == pytest.approx(r, abs=1e-6), where
            assert (bool(terms[i]), bool(truncs[i])) == (te, tr), where
            seen.update(["solved"] * te + ["limit"] * tr)
            # README: score 1 if solved; turns = the start distance; optimal = solved in exactly turns steps.
            solved = float(want["solved"])
            assert game.episode_info(i) == {"score": solved, "solved": solved, "turns": starts[i],
                                            "steps": want["step"], "cubes": len(want["cubes"]),
                                            "optimal": float(solved and want["step"] == starts[i])}, where
            if got["done"]:
                game.reset(np.array([i]), np.array([seed]))
                seed += 1
                new = game.get_state(i)
                lo, hi = game.min_turns, game.max_turns
                assert lo <= new["turns"] == new["distance"] == _distance(
                    np.array(new["rotation"]), np.array(new["target_rotation"])) <= hi, new
                assert game.min_cubes <= len(new["cubes"]) <= game.max_cubes
                assert len({tuple(c) for c in new["colors"]}) == len(new["colors"])  # a colour per cube
                _assert_asymmetric_polycube(new["cubes"], new["colors"])
                starts[i] = new["distance"]
            states[i] = game.get_state(i)
    assert seen["solved"] and seen["limit"], seen


def test_snake_apples_appear_on_a_uniformly_random_free_cell() -> None:
    # README: an eaten apple comes back on a uniformly random free cell. One position, 6,300 streams.
    draws, size = 6300, 5
    body, apple = [[2, 2], [1, 2], [0, 2], [0, 3]], [3, 2]
    game = Snake(num_envs=draws, size=size)
    for i in range(draws):
        game.set_state(i, {"size": size, "body": body, "apple": apple, "direction": "RIGHT", "step": 1,
                           "steps_since_apple": 0, "score": 1, "done": False, "rng": 12345 + 7919 * i})
    game.step(np.full(draws, NAMES.index("RIGHT")))
    counts = Counter(tuple(game.get_state(i)["apple"]) for i in range(draws))
    new_body = [apple, *body]
    free = [(x, y) for y in range(size) for x in range(size) if [x, y] not in new_body]
    assert set(counts) == set(free)
    expected = draws / len(free)  # 300 a cell
    chi2 = sum((counts[c] - expected) ** 2 / expected for c in free)
    assert chi2 < 52.6, counts  # 20 degrees of freedom: p < 0.0001 for a uniform draw to fail


def _duel_position(a: list[list[int]], a_dir: str, b: list[list[int]], b_dir: str, apples: list[list[int]],
                   score: int = 0) -> State:
    snakes = [{"body": body, "direction": d, "alive": True, "score": score}
              for body, d in ((a, a_dir), (b, b_dir))]
    return {"size": 6, "num_apples": len(apples), "max_rounds": 100, "round": 2, "snakes": snakes,
            "apples": apples, "done": False, "rng": 99}


@pytest.mark.parametrize(("state", "actions", "alive"), [
    # The heads swap cells (never in a played game: both heads move each round, so their distance stays
    # even, as it starts).
    (_duel_position([[2, 2], [1, 2], [0, 2]], "RIGHT", [[3, 2], [4, 2], [5, 2]], "LEFT", [[0, 5]]),
     ("RIGHT", "LEFT"), [False, False]),
    # Head-on on an apple: both die, nobody eats.
    (_duel_position([[2, 1], [1, 1], [0, 1]], "RIGHT", [[4, 1], [5, 1], [5, 2]], "LEFT", [[3, 1]]),
     ("RIGHT", "LEFT"), [False, False]),
    # Onto the other's tail: fatal when that snake eats (its tail stays), free when it does not.
    (_duel_position([[2, 2], [2, 3], [2, 4]], "UP", [[4, 1], [3, 1], [2, 1]], "RIGHT", [[5, 1]]),
     ("UP", "RIGHT"), [False, True]),
    (_duel_position([[2, 2], [2, 3], [2, 4]], "UP", [[4, 1], [3, 1], [2, 1]], "RIGHT", [[5, 1]]),
     ("UP", "DOWN"), [True, True]),
    # Onto its own tail, the other snake going on.
    (_duel_position([[2, 2], [3, 2], [3, 3], [2, 3]], "LEFT", [[5, 5], [5, 4], [5, 3], [5, 2]], "DOWN",
                    [[0, 0]], score=1), ("DOWN", "LEFT"), [True, True]),
])
def test_duel_core_matches_the_readme_rules_in_rare_positions(state: State, actions: tuple[str, str],
                                                              alive: list[bool]) -> None:
    game = SnakeDuel(num_envs=1, size=6, opponent="policy")
    game.set_state(0, state)
    before = game.get_state(0)
    a0, a1 = (NAMES.index(a) for a in actions)
    game.set_opponent_actions(np.array([a1]))
    rewards, terms, truncs = game.step(np.array([a0]))
    got = game.get_state(0)
    want, r, te, tr = duel_reference_step(before, (a0, a1), got)
    assert got == want
    assert (float(rewards[0]), bool(terms[0]), bool(truncs[0])) == (r, te, tr)
    assert [k["alive"] for k in got["snakes"]] == alive  # the case is the one its comment names


@pytest.mark.parametrize("scale", [1, 4, 8])
def test_snake_pixels_are_the_scale_1_picture_blown_up(scale: int) -> None:
    # README: each cell an s×s block of the pictures' colours, without the details pictures add at larger
    # scales (at 8 the picture has grid lines and eyes; a dead snake's has its red frame from 3 on).
    boards, size = 8, 6
    game = Snake(num_envs=boards, size=size, obs="pixels", pixel_scale=scale)
    game.reset(np.arange(boards), np.arange(boards))
    rng = np.random.default_rng(scale)
    obs = game.new_obs_buffer()
    ended = 0
    for _ in range(60):
        game.step(np.array([_snake_action(rng, game.get_state(i), "biased", None) for i in range(boards)]))
        game.observe(obs)
        for i in range(boards):
            state = game.get_state(i)
            cells = Snake.render_state(state, 1).transpose(2, 0, 1)
            np.testing.assert_array_equal(obs[i], cells.repeat(scale, 1).repeat(scale, 2))
            if state["done"]:
                ended += 1
                game.reset(np.array([i]), np.array([1000 + ended]))
    assert ended  # dead boards were compared too


def greedy_reference(state: State, p: int) -> int:
    """The greedy bot as envs/snake_duel.py's docstring words it: no sure death when another move exists
    (else onto the other's tail if next, else straight on); then no pocket smaller than its length (a flood
    fill through free cells); then no cell next to the other head unless it is the longer snake; then the
    shortest path to the nearest apple (BFS through free cells); ties straight on, then UP..RIGHT."""
    n, me, other = state["size"], state["snakes"][p], state["snakes"][1 - p]
    head, straight = me["body"][0], me["direction"]
    oh = other["body"][0]
    could_eat = any(_add(oh, m) in state["apples"] for m in NAMES if m != REVERSE[other["direction"]])
    held = me["body"][:-1] + (other["body"] if could_eat else other["body"][:-1])

    def free(c: list[int]) -> bool:
        return _on(c, n) and c not in held

    options = [m for m in NAMES if m != REVERSE[straight]]
    safe = [m for m in options if free(_add(head, m))]
    if not safe:
        onto_tail = [m for m in options if _add(head, m) == other["body"][-1]]
        return NAMES.index(onto_tail[0] if onto_tail else straight)

    def reach(start: list[int], limit: int) -> int:
        seen, todo = [start], [start]
        while todo and len(seen) < limit:
            c = todo.pop()
            for m in NAMES:
                nb = _add(c, m)
                if free(nb) and nb not in seen:
                    seen.append(nb)
                    todo.append(nb)
        return len(seen)

    def tier(m: str) -> tuple[bool, bool]:
        c = _add(head, m)
        cramped = reach(c, len(me["body"])) < len(me["body"])
        risky = abs(c[0] - oh[0]) + abs(c[1] - oh[1]) == 1 and len(me["body"]) <= len(other["body"])
        return cramped, risky

    best = min(tier(m) for m in safe)
    moves = [m for m in safe if tier(m) == best]

    def apple_distance(c: list[int]) -> float:
        frontier, seen, d = [c], [c], 0
        while frontier:
            if any(x in state["apples"] for x in frontier):
                return d
            nxt = [nb for x in frontier for nb in (_add(x, m) for m in NAMES) if free(nb) and nb not in seen]
            seen += nxt
            frontier, d = [list(t) for t in {tuple(x) for x in nxt}], d + 1
        return float("inf")

    return NAMES.index(min(moves, key=lambda m: (apple_distance(_add(head, m)), m != straight)))


def test_duel_greedy_bot_plays_as_documented() -> None:
    boards, size = 16, 8
    game = SnakeDuel(num_envs=boards, size=size, num_apples=3, max_rounds=60, opponent="policy")
    rng = np.random.default_rng(5)
    seed = 900
    game.reset(np.arange(boards), np.arange(seed, seed + boards))
    seed += boards
    compared = 0
    for _ in range(120):
        states = [game.get_state(i) for i in range(boards)]
        bots = [game.bot_actions(p, "greedy") for p in range(2)]
        for i, s in enumerate(states):
            for p in range(2):
                assert bots[p][i] == greedy_reference(s, p), (p, s)
                compared += 1
        # Snake 0 half greedy, half random; snake 1 greedy: varied positions, tight ones included.
        a0 = np.where(rng.random(boards) < 0.5, bots[0], rng.integers(4, size=boards))
        game.set_opponent_actions(bots[1])
        game.step(a0)
        for i in range(boards):
            if game.get_state(i)["done"]:
                game.reset(np.array([i]), np.array([seed]))
                seed += 1
    assert compared == 2 * boards * 120


def test_duel_random_bot_draws_uniformly_among_its_safe_moves() -> None:
    # Snake 1 at [3, 3] heading UP: UP, LEFT and RIGHT are safe, DOWN is its neck. 3,000 streams.
    draws = 3000
    game = SnakeDuel(num_envs=draws, size=7, num_apples=1, opponent="random")
    state = _duel_position([[0, 6], [1, 6], [2, 6]], "LEFT", [[3, 3], [3, 4], [3, 5]], "UP", [[6, 0]])
    state["size"] = 7
    for i in range(draws):
        game.set_state(i, {**state, "rng": 31 + 104_729 * i})
    counts = Counter(NAMES[a] for a in game.bot_actions(1, "random"))
    assert set(counts) == {"UP", "LEFT", "RIGHT"}
    chi2 = sum((counts[m] - draws / 3) ** 2 / (draws / 3) for m in counts)
    assert chi2 < 18.4, counts  # 2 degrees of freedom: p < 0.0001 for a uniform draw to fail
