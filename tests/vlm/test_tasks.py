"""Task modules: every game and family re-simulated on a fresh engine (answers and analysis agree with
it), the verifier scores 1.0 for the reference answer and 0 for a wrong one, determinism, move_task,
and the task-module registry. States come from short seeded episodes of each game."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict, deque
from typing import Any

import numpy as np
import pytest

from envs.rotation import ACTION_NAMES as TURNS
from envs.rotation import (
    COLOR_NAMES,
    DISTANCE,
    GENERATORS,
    PALETTE,
    ROTATIONS,
    TURN,
    Rotation,
    optimal_actions,
    render_view,
    rotation_index,
)
from envs.snake import Snake
from envs.snake_duel import SnakeDuel, greedy_action
from envs.sokoban import Sokoban
from envs.sokoban_solver import solve
from tests.conftest import ROOT, load_script
from vlm.prompts import grid_image_scale
from vlm.record import FAMILIES, LEVELS, TaskDraft
from vlm.tasks import TASK_GAMES, drawn_families, play_moves, task_module
from vlm.verify import ground_truth_json, parse_move, reference_response, verify

GRID_GAMES = ("snake", "snake_duel", "rotation", "sokoban")
MOVES4 = ("UP", "DOWN", "LEFT", "RIGHT")
OPPOSITE = {"UP": "DOWN", "DOWN": "UP", "LEFT": "RIGHT", "RIGHT": "LEFT"}


# ------------------------------------------------------------------------------------------- states
# The apple sits in a dead end: LEFT is nearest to it but walls the snake in; RIGHT is the best move.
TRAP = {"game": "snake", "size": 6, "apple": [0, 0], "direction": "UP", "step": 30, "steps_since_apple": 2,
        "starvation": 72, "score": 7, "done": False, "rng": 1,
        "body": [[2, 0], [2, 1], [2, 2], [1, 2], [0, 2], [0, 3], [1, 3], [2, 3], [3, 3], [4, 3]]}


def snake_states() -> list[dict[str, Any]]:
    mod, game, out = task_module("snake"), Snake(1, size=8), [TRAP]
    for seed in range(4):
        game.reset(np.array([0]), np.array([seed], dtype=np.uint64))
        for t in range(40):
            s = game.get_state(0)
            if s["done"]:
                out.append(s)
                break
            if t % 4 == 0:
                out.append(s)
            good = mod.move_task(s).verifier["good"]
            # now and then a random move, so some states are cramped or fatal
            move = good[0] if good and t % 7 else MOVES4[(seed + t) % 4]
            game.step(np.array([MOVES4.index(move)]))
    return out


def duel_states() -> list[dict[str, Any]]:
    game, out = SnakeDuel(1, size=8, num_apples=3), []
    for seed in range(4):
        game.reset(np.array([0]), np.array([seed], dtype=np.uint64))
        for t in range(30):
            s = game.get_state(0)
            if t % 4 == 0 or s["done"]:
                out.append(s)
            if s["done"]:
                break
            game.step(np.array([greedy_action(s, 0) if t % 5 else (seed + t) % 4]))
    return out


def rotation_states() -> list[dict[str, Any]]:
    game, out = Rotation(1, max_cubes=8), []
    for seed in range(10):
        game.reset(np.array([0]), np.array([seed], dtype=np.uint64))
        s = game.get_state(0)
        out.append(s)
        game.step(np.array([optimal_actions(s)[0]]))
        out.append(game.get_state(0))
    return out


def sokoban_states() -> list[dict[str, Any]]:
    out = []
    for difficulty in ("easy", "medium", "hard"):
        game = Sokoban(1, difficulty=difficulty)
        for seed in range(3):
            game.reset(np.array([0]), np.array([seed], dtype=np.uint64))
            plan = solve(game.get_state(0)) or []
            for t in range(min(len(plan), 6) + 1):
                s = game.get_state(0)
                if t % 2 == 0 or s["done"]:
                    out.append(s)
                if t < len(plan):
                    game.step(np.array([plan[t]]))
            out.append(game.get_state(0))
    return out


STATES = {"snake": snake_states, "snake_duel": duel_states, "rotation": rotation_states,
          "sokoban": sokoban_states}


@pytest.fixture(scope="module")
def drafts() -> dict[str, list[tuple[dict[str, Any], TaskDraft]]]:
    out = {}
    for game in GRID_GAMES:
        mod = task_module(game)
        out[game] = [(s, d) for k, s in enumerate(STATES[game]())
                     for d in mod.make_tasks(s, np.random.default_rng(k), {"env": game})]
    return out


# ------------------------------------------------------------------------------------ generic checks
def wrong_response(d: TaskDraft) -> str | None:
    """A well-formed reply with a wrong answer, or None when every answer is right."""
    spec = d.verifier
    rule = spec["rule"]
    if rule == "choice":
        wrong = next(chr(65 + k) for k in range(len(spec["options"])) if chr(65 + k) != spec["answer"])
    elif rule == "integer":
        wrong = str(spec["value"] + 1)
    elif rule == "coordinate":
        wrong = f"({spec['value'][0] + 1}, {spec['value'][1]})"
    elif rule == "word":
        others = [c for c in spec["choices"] if c not in spec["accepted"]]
        if not others:
            return None
        wrong = others[0]
    elif rule == "rotation_angle":
        wrong = (chr(65 + (ord(spec["answer"]) - 64) % len(spec["options"])) if spec["options"]
                 else f"{(spec['angle'] + 90) % 360} about {spec['axis']}")
    else:
        fatal = set(spec["fatal"])
        extra = [m for m in spec["moves"] if m not in fatal]
        worst = sorted(fatal | {extra[0]}) if extra else sorted(fatal)[1:]
        best = spec["good"][0] if spec["good"] else "None"
        return (f"<think>x</think><best_answer>{best}</best_answer>"
                f"<worst_answer>{', '.join(worst) or 'None'}</worst_answer>")
    return f"<think>x</think><answer>{wrong}</answer>"


def check_generic(d: TaskDraft) -> None:
    assert d.family in FAMILIES and d.plot_level in LEVELS and d.qa_level in LEVELS
    assert d.images and all(im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3 for im in d.images)
    assert "<think></think>" in d.question
    json.dumps([d.verifier, d.extra, d.options, d.answer, d.analysis])
    assert verify(reference_response(d), d)["overall"] == 1.0, (d.qa_type, d.answer)
    assert verify(d.answer, d)["accuracy"] == 1.0
    assert verify(reference_response(d), ground_truth_json({**d.__dict__, "game": "g"}))["overall"] == 1.0
    wrong = wrong_response(d)
    if wrong is not None:
        assert verify(wrong, d)["accuracy"] == 0.0, (d.qa_type, wrong)
    if d.verifier["rule"] == "snake_best_worst":
        assert d.analysis.splitlines()[-1] == f"Fatal: {', '.join(d.verifier['fatal']) or 'None'}."
    else:
        assert d.analysis.splitlines()[-1].startswith(f"So the answer is {d.answer}")


def check_vision_zero(d: TaskDraft, render: Any) -> None:
    """The edit is real: the edited picture is what the draft shows, and it differs from the original."""
    edited = d.extra["edited_state"]
    if d.qa_type == "spot_difference":
        if edited is None:
            assert np.array_equal(d.images[0], d.images[1])
            assert d.options[ord(d.answer) - 65].endswith("identical")
            return
        assert np.array_equal(d.images[1], render(edited)) and not np.array_equal(d.images[0], d.images[1])
        # The answer names the edit made (its game's text for that kind), not another option
        said = d.options[ord(d.answer) - 65]
        assert said in {task_module(g).EDIT_KINDS.get(d.extra["edit"]) for g in TASK_GAMES}, (said, d.extra)
    elif d.qa_type == "difference_cell":
        assert np.array_equal(d.images[1], render(edited)) and not np.array_equal(d.images[0], d.images[1])
    else:
        spy = d.extra["spy"] - 1
        assert len(d.images) == d.extra["players"] and int(d.answer) == spy + 1
        assert np.array_equal(d.images[spy], render(edited))
        assert all(np.array_equal(im, d.images[spy - 1]) for k, im in enumerate(d.images) if k != spy)
        assert not np.array_equal(d.images[spy], d.images[spy - 1])


EMPTY_BOARD = {  # each game's state with nothing on the board (Sokoban's player parked on the wall at (0, 0))
    "snake": lambda s: {**s, "body": [], "apple": None},
    "snake_duel": lambda s: {**s, "apples": [], "snakes": [{**p, "body": []} for p in s["snakes"]]},
    "sokoban": lambda s: {**s, "boxes": [], "targets": [], "player": [0, 0]}}


@pytest.mark.parametrize("game", ["snake", "snake_duel", "sokoban"])
def test_difference_cell_is_the_only_cell_that_shows_something_new(game: str, monkeypatch) -> None:
    """"Which cell shows something the first image does not" has one answer: the pictures differ in the
    answer's cell and, for a moved apple, box, player or target, in the cell it left, which then shows
    the empty board. An added cell (longer snake, extra apple) changes that cell alone: a redrawn snake
    would change the other cells' shade too (the body's fade depends on the length), and a box or player
    moved off a target would uncover its ring."""
    mod, asked = task_module(game), Counter()
    if game == "sokoban":  # each seed's drafts solved the same states again: most of the test's time
        solved: dict[str, list[str] | None] = {}
        solve_once = mod._solve

        def memo(state: dict[str, Any]) -> list[str] | None:
            key = json.dumps(state, sort_keys=True)
            if key not in solved:
                solved[key] = solve_once(state)
            return None if solved[key] is None else list(solved[key])

        monkeypatch.setattr(mod, "_solve", memo)
    for k, s in enumerate(STATES[game]()):
        empty, scale = mod.render(EMPTY_BOARD[game](s)), grid_image_scale(s["size"])
        for seed in range(10):
            for d in mod.make_tasks(s, np.random.default_rng(100 * k + seed)):
                if d.qa_type != "difference_cell":
                    continue
                differs = np.any(d.images[0] != d.images[1], axis=2)
                cells = {(int(x) // scale, int(y) // scale) for y, x in np.argwhere(differs)}
                answer = tuple(d.verifier["value"])
                assert answer in cells, (d.extra["edit"], answer)
                for x, y in cells - {answer}:
                    square = np.s_[y * scale:(y + 1) * scale, x * scale:(x + 1) * scale]
                    assert np.array_equal(d.images[1][square], empty[square]), (d.extra["edit"], (x, y))
                if d.extra["edit"] in ("longer", "yours_longer", "blue_longer", "extra_apple"):
                    assert cells == {answer}, (d.extra["edit"], sorted(cells))
                asked[d.extra["edit"]] += 1
    assert asked.keys() == mod.EDIT_KINDS.keys() - {"shorter"}, asked  # a shorter snake has no new cell


@pytest.mark.parametrize("game", GRID_GAMES)
def test_every_family_and_generic_checks(drafts: dict, game: str) -> None:
    pairs = drafts[game]
    assert {d.family for _, d in pairs} == set(FAMILIES)
    for _, d in pairs:
        check_generic(d)


@pytest.mark.parametrize("game", GRID_GAMES)
def test_a_state_gives_at_most_one_task_per_family(game: str) -> None:
    # export's --tasks-per-state note and README say a state gives at most len(FAMILIES) records.
    mod = task_module(game)
    sizes = []
    for k, s in enumerate(STATES[game]()):
        families = [d.family for d in mod.make_tasks(s, np.random.default_rng(k), {"env": game})]
        assert len(families) == len(set(families)), families
        sizes.append(len(families))
    assert max(sizes) == len(drawn_families(mod))


def test_the_most_tasks_per_state_that_help_and_readme_state_are_the_modules():
    # export --help and README say "4 (Pokemon Red 2)": a module that draws another family must change them.
    counts = {game: len(drawn_families(task_module(game))) for game in TASK_GAMES}
    assert counts.pop("pokemon_red") == 2 and set(counts.values()) == {4}, counts
    assert "4 (Pokemon Red 2)" in " ".join(load_script("export_trajectories").parser().format_help().split())
    assert "4 (Pokémon Red: 2)" in " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())


# -------------------------------------------------------------------------------------------- snake
def snake_play(state: dict[str, Any], moves: list[str]) -> list[tuple[dict, float, bool, bool]]:
    g = Snake(1, size=state["size"], starvation=state["starvation"])
    g.set_state(0, state)
    out = []
    for m in moves:
        r, te, tr = g.step(np.array([MOVES4.index(m)]))
        out.append((g.get_state(0), float(r[0]), bool(te[0]), bool(tr[0])))
        if te[0] or tr[0]:
            break
    return out


def bfs(size: int, start: tuple, blocked: set, goal: tuple | None) -> tuple[int | None, int]:
    dist, queue = {start: 0}, deque([start])
    while queue:
        c = queue.popleft()
        for dx, dy in ((0, -1), (0, 1), (-1, 0), (1, 0)):
            n = (c[0] + dx, c[1] + dy)
            if 0 <= n[0] < size and 0 <= n[1] < size and n not in blocked and n not in dist:
                dist[n] = dist[c] + 1
                queue.append(n)
    return dist.get(goal), len(dist) - 1


def no_shorter_snake_path(state: dict[str, Any], d: int) -> bool:
    """No move sequence shorter than d eats the apple (exhaustive search on the engine)."""
    frontier = [state]
    for _ in range(d - 1):
        nxt = []
        for s in frontier:
            for m in MOVES4:
                if m == OPPOSITE[s["direction"]]:
                    continue
                after, r, te, tr = snake_play(s, [m])[0]
                if r > 0:
                    return False
                if not te and not tr:
                    nxt.append(after)
        frontier = nxt
    return True


def test_snake_answers_match_the_engine(drafts: dict) -> None:
    seen = set()
    for s, d in drafts["snake"]:
        seen.add(d.qa_type)
        x = d.extra
        if d.qa_type == "head_position":
            assert d.verifier["value"] == s["body"][0]
        elif d.qa_type == "apple_position":
            assert d.verifier["value"] == s["apple"]
        elif d.qa_type == "snake_length":
            assert d.verifier["value"] == len(s["body"])
        elif d.qa_type == "heading":
            assert d.verifier["accepted"] == [s["direction"]]
        elif d.qa_type.endswith("_after_moves"):
            played = snake_play(s, x["moves"])
            dead = played[-1][2] and played[-1][1] < 0
            assert all(r <= 0 for _, r, _, _ in played[:-1]) and not played[-1][3]
            assert len(d.analysis.splitlines()) == len(played) + 1
            if d.qa_type == "alive_after_moves":
                assert d.verifier["accepted"] == ["no" if dead else "yes"]
            else:
                assert not dead
                body = played[-1][0]["body"]
                want = body[0] if d.qa_type == "head_after_moves" else len(body)
                assert d.verifier["value"] == want
        elif d.qa_type == "best_worst_move":
            check_snake_best_worst(s, d)
        elif d.qa_type == "shortest_path":
            n = d.verifier["value"]
            played = snake_play(s, x["path"])
            assert len(x["path"]) == n and len(played) == n and played[-1][1] > 0
            assert all(r >= 0 for _, r, _, _ in played)
            if n <= 6:
                assert no_shorter_snake_path(s, n)
        else:
            check_vision_zero(d, lambda e, s=s: task_module("snake").render_edit(s, e))
    assert seen >= {"head_position", "snake_length", "alive_after_moves", "head_after_moves",
                    "best_worst_move", "shortest_path", "spot_difference", "difference_cell", "spy_game"}


def check_snake_best_worst(s: dict[str, Any], d: TaskDraft) -> None:
    fatal = [m for m in MOVES4 if (p := snake_play(s, [m])[0])[2] and p[1] < 0]
    assert d.verifier["fatal"] == fatal
    back = OPPOSITE[s["direction"]]
    assert (back in fatal) == (s["direction"] in fatal)
    options = {}
    for m in MOVES4:
        if m in fatal or m == back:
            continue
        after, r, _, _ = snake_play(s, [m])[0]
        head = tuple(after["body"][0])
        blocked = {tuple(c) for c in after["body"][:-1]}
        goal = None if r > 0 or after["apple"] is None else tuple(after["apple"])
        dist, reach = bfs(after["size"], head, blocked, goal)
        options[m] = (reach < len(after["body"]), 0 if r > 0 else (10**6 if dist is None else dist))
    best = min(options.values(), default=None)
    assert d.verifier["good"] == [m for m in MOVES4 if options.get(m) == best and best is not None]


def test_snake_shortest_path_may_enter_the_tail_cell_as_the_tail_leaves() -> None:
    # The tail (1,1) is right below the head and the apple below it: DOWN, DOWN eats in 2 moves.
    state = {"game": "snake", "size": 5, "apple": [1, 2], "direction": "LEFT", "step": 10,
             "steps_since_apple": 0, "starvation": 50, "score": 1, "done": False, "rng": 1,
             "body": [[1, 0], [2, 0], [2, 1], [1, 1]]}
    assert task_module("snake").shortest_path(state) == ["DOWN", "DOWN"]


def test_snake_shortest_path_never_waits_by_stepping_back_into_the_neck() -> None:
    # The search may wait for the body to move by stepping back and forth (UP, UP, DOWN, LEFT, LEFT here),
    # but the engine plays a move back into the neck as straight on: the snake survives those moves without
    # reaching the apple, so that path is no answer.
    state = {"game": "snake", "size": 5, "body": [[2, 3], [1, 3], [1, 2], [1, 1], [0, 1]], "apple": [0, 2],
             "direction": "RIGHT", "step": 71, "steps_since_apple": 25, "starvation": 50, "score": 2,
             "done": False, "crash": None, "rng": 13064056694810536063}
    path = task_module("snake").shortest_path(state)
    assert path is None or snake_play(state, path)[-1][1] > 0, path


def test_snake_shortest_path_enters_a_body_cell_only_once_it_is_free() -> None:
    # Segment 4 of 5, (2,1), right of the head, frees after 2 moves: RIGHT, RIGHT (2 moves) runs into it,
    # so the fewest is 4. A search freeing each segment a move early found the 2 and no path at all.
    state = {"game": "snake", "size": 5, "apple": [3, 1], "direction": "DOWN", "step": 10,
             "steps_since_apple": 0, "starvation": 50, "score": 2, "done": False, "rng": 1,
             "body": [[1, 1], [1, 0], [2, 0], [2, 1], [2, 2]]}
    path = task_module("snake").shortest_path(state)
    assert path is not None and len(path) == 4 and snake_play(state, path)[-1][1] > 0, path


def test_snake_random_moves_never_turn_back_into_the_neck() -> None:
    from vlm.tasks import OPPOSITE

    rng = np.random.default_rng(0)
    for heading in ("UP", "DOWN", "LEFT", "RIGHT"):
        moves = task_module("snake").random_moves(rng, {"direction": heading}, 50)
        assert all(b != OPPOSITE[a] for a, b in itertools.pairwise([heading, *moves])), moves


def test_snake_describe_target_names_the_wall_the_tail_a_segment_and_the_apple() -> None:
    """The analysis's words for the cell a move reaches, as the board shows it: off the board past every
    edge, the tail (which moves away), a body segment counted from the head as 1, the apple, an empty
    cell; the move back into the neck is described as the straight-on move the engine plays."""
    describe = task_module("snake").describe_target
    # Head (3, 1) heading RIGHT; the tail (4, 1) is right of it, segment 4 (3, 2) below, the apple above.
    state = {"size": 5, "direction": "RIGHT", "apple": [3, 0],
             "body": [[3, 1], [2, 1], [2, 2], [3, 2], [4, 2], [4, 1]]}
    assert describe(state, "RIGHT") == "(4, 1) is the tail, which moves away this turn"
    assert describe(state, "LEFT") == describe(state, "RIGHT")  # into the neck: straight on
    assert describe(state, "DOWN") == "(3, 2) is the snake's body (segment 4 of 6, counting the head as 1)"
    assert describe(state, "UP") == "(3, 0) holds the apple"
    assert describe({**state, "apple": None}, "UP") == "(3, 0) is empty"
    top_right = {"size": 5, "direction": "RIGHT", "apple": None, "body": [[4, 0], [3, 0], [2, 0]]}
    assert describe(top_right, "RIGHT") == "(5, 0) is off the board (a wall)"
    assert describe(top_right, "UP") == "(4, -1) is off the board (a wall)"
    assert describe(top_right, "DOWN") == "(4, 1) is empty"
    bottom_left = {"size": 5, "direction": "LEFT", "apple": None, "body": [[0, 4], [1, 4], [2, 4]]}
    assert describe(bottom_left, "LEFT") == "(-1, 4) is off the board (a wall)"
    assert describe(bottom_left, "DOWN") == "(0, 5) is off the board (a wall)"


def test_snake_eating_into_a_pocket_smaller_than_the_longer_snake_is_a_dead_end() -> None:
    """Eating makes the snake one longer, and the dead-end rule reads that length against the cells
    reachable on the board after the move: RIGHT eats the apple at (3, 1) and leaves 10 reachable cells
    (columns 3 and 4, and the cell (2, 0) the tail frees) for a snake now 11 long, so it is a dead end;
    UP into the tail's cell is not, and is the best move though the apple is farther."""
    state = {"game": "snake", "size": 5, "apple": [3, 1], "direction": "UP", "step": 40,
             "steps_since_apple": 12, "starvation": 50, "score": 7, "done": False, "rng": 1,
             "body": [[2, 1], [2, 2], [2, 3], [2, 4], [1, 4], [1, 3], [1, 2], [1, 1], [1, 0], [2, 0]]}
    d = task_module("snake").move_task(state)
    check_snake_best_worst(state, d)
    assert d.verifier["good"] == ["UP"] and d.verifier["fatal"] == ["LEFT"]  # DOWN is played as UP
    assert "RIGHT leads into a dead end: 10 reachable cells < length 11." in d.analysis


def test_snake_levels_at_their_length_and_plan_bounds() -> None:
    """The documented bounds, on boards where nothing else moves the level: plot level from the length
    (≤5, ≤12, more) and the snake-length question's qa level likewise; the shortest path's qa level from
    its length (≤4, ≤10, more), each path checked on the engine."""
    mod = task_module("snake")
    plot, count = {}, {}
    for n in (5, 6, 12, 13):
        body = [[x, 0] for x in range(n - 1, -1, -1)]  # a straight snake heading RIGHT along the top row
        state = {"game": "snake", "size": 14, "apple": [0, 13], "direction": "RIGHT", "step": 0,
                 "steps_since_apple": 0, "starvation": 392, "score": n - 3, "done": False, "rng": 1,
                 "body": body}
        plot[n] = mod.plot_level(state)
        for seed in range(40):
            d = mod._perception_task(state, np.random.default_rng(seed), mod.render(state))
            if d.qa_type == "snake_length":
                assert d.verifier["value"] == n
                count[n] = d.qa_level
    assert plot == count == {5: 1, 6: 2, 12: 2, 13: 3}
    path = {}
    for d in (4, 5, 10, 11):
        state = {"game": "snake", "size": 14, "apple": [2 + d, 0], "direction": "RIGHT", "step": 0,
                 "steps_since_apple": 0, "starvation": 392, "score": 0, "done": False, "rng": 1,
                 "body": [[2, 0], [1, 0], [0, 0]]}
        draft = mod._path_task(state, mod.render(state))
        played = snake_play(state, draft.extra["path"])
        assert draft.verifier["value"] == d == len(played) and played[-1][1] > 0
        path[d] = draft.qa_level
    assert path == {4: 1, 5: 2, 10: 2, 11: 3}


def test_snake_prediction_plays_one_to_five_moves_at_their_levels() -> None:
    """The moves to simulate, as documented: 1 at qa level 1, 2–3 at level 2, 4–5 at level 3."""
    mod, seen = task_module("snake"), set()
    state = {"game": "snake", "size": 14, "apple": [0, 13], "direction": "RIGHT", "step": 0,
             "steps_since_apple": 0, "starvation": 392, "score": 0, "done": False, "rng": 1,
             "body": [[8, 7], [7, 7], [6, 7]]}  # room for five moves any way: every plan is asked
    for seed in range(200):
        d = mod._prediction_task(state, np.random.default_rng(seed), mod.render(state))
        seen.add((d.qa_level, len(d.extra["moves"])))
    assert seen == {(1, 1), (2, 2), (2, 3), (3, 4), (3, 5)}


def test_snake_prediction_never_plays_past_an_eaten_apple() -> None:
    """Once the apple is eaten a new one appears at random, off the image: a move after that could eat
    it, so the question would depend on a cell nobody can see."""
    mod = task_module("snake")
    state = {"game": "snake", "size": 6, "body": [[2, 2], [2, 3], [2, 4]], "apple": [2, 1], "direction": "UP",
             "step": 3, "steps_since_apple": 3, "starvation": 72, "score": 0, "done": False, "rng": 5}
    asked = eaten_last = 0
    for seed in range(200):
        for d in mod.make_tasks(state, np.random.default_rng(seed)):
            if d.family == "state_prediction" and len(d.extra["moves"]) > 1:
                played = snake_play(state, d.extra["moves"])
                assert all(r <= 0 for _, r, _, _ in played[:-1]), d.extra["moves"]
                asked += 1
            if d.family == "state_prediction" and snake_play(state, d.extra["moves"])[-1][1] > 0:
                eaten_last += 1  # the apple eaten on the plan's last move is still asked about
    assert asked > 20 and eaten_last > 0


def test_snake_prediction_never_asks_about_moves_after_the_winning_one() -> None:
    """UP eats the last apple and fills the 4×4 board: the game ends there, so a plan that goes on (UP,
    LEFT) has moves the engine never plays. The filter read only the moves played before the last one
    played, so the win looked like the last move and "where is the head then?" was asked anyway."""
    mod = task_module("snake")
    state = {"game": "snake", "size": 4, "apple": [0, 2], "direction": "LEFT", "step": 53,
             "steps_since_apple": 0, "starvation": 32, "score": 12, "done": False, "rng": 1,
             "body": [[0, 3], [1, 3], [2, 3], [3, 3], [3, 2], [2, 2], [1, 2], [1, 1], [2, 1], [3, 1], [3, 0],
                      [2, 0], [1, 0], [0, 0], [0, 1]]}
    asked = 0
    for seed in range(100):
        d = mod._prediction_task(state, np.random.default_rng(seed), mod.render(state))
        if d is not None:
            played = snake_play(state, d.extra["moves"])
            assert all(r <= 0 for _, r, _, _ in played[:len(d.extra["moves"]) - 1]), d.extra["moves"]
            asked += 1
    assert asked > 10
    # The win ends the game with the snake alive: "is it still alive after UP?" is yes, not a death.
    image = mod.render(state)
    drafts = (mod._prediction_task(state, np.random.default_rng(seed), image) for seed in range(1000))
    won = next(d for d in drafts if d and d.qa_type == "alive_after_moves" and d.extra["moves"] == ["UP"])
    assert won.verifier["accepted"] == ["yes"]


def test_snake_prediction_never_asks_about_a_plan_the_snake_starves_in() -> None:
    # One step from starving and no apple in reach: every plan is cut on its first move (truncated), so the
    # moves after it are never played and no prediction is asked.
    mod = task_module("snake")
    state = {"game": "snake", "size": 6, "body": [[2, 2], [2, 3], [2, 4]], "apple": [5, 0], "direction": "UP",
             "step": 71, "steps_since_apple": 71, "starvation": 72, "score": 0, "done": False, "rng": 5}
    assert all(snake_play(state, [m])[-1][3] for m in ("UP", "LEFT", "RIGHT"))
    for seed in range(30):
        assert mod._prediction_task(state, np.random.default_rng(seed), mod.render(state)) is None


@pytest.mark.parametrize("game", ["snake", "snake_duel"])
def test_best_move_question_says_the_move_back_into_the_neck_is_never_best(drafts: dict, game: str) -> None:
    """The engine plays the move back into the neck as straight on, so when straight on is best that move
    does exactly the same; the verifier never accepts it, so the question must say it is excluded."""
    asked = 0
    for s, d in drafts[game]:
        if d.qa_type != "best_worst_move":
            continue
        me = s["snakes"][0] if game == "snake_duel" else s
        back = OPPOSITE[me["direction"]]
        if me["direction"] in d.verifier["good"] and back not in d.verifier["fatal"]:
            reply = (f"<think>x</think><best_answer>{back}</best_answer>"
                     f"<worst_answer>{', '.join(d.verifier['fatal']) or 'None'}</worst_answer>")
            assert verify(reply, d)["accuracy"] == 0.0
            assert "never the move back into" in d.question
            asked += 1
    assert asked


def test_snake_dead_end_is_not_best() -> None:
    d = task_module("snake").move_task(TRAP)
    assert d.verifier["good"] == ["RIGHT"] and d.verifier["fatal"] == ["UP", "DOWN"]
    assert "dead end" in d.analysis
    check_snake_best_worst(TRAP, d)
    # qa_level follows the best move's distance (the apple is out of its reach: hardest), not the dead
    # end's (1 move from the apple)
    assert d.qa_level == 3


def test_snake_best_move_that_eats_the_apple_is_0_moves_from_it_in_the_analysis() -> None:
    # The question says eating the apple is 0 moves; an analysis reading 1 would contradict it while the
    # best move stayed the same (a neighbour of the head is never 1 move from another neighbour).
    state = {"game": "snake", "size": 6, "apple": [2, 1], "direction": "UP", "step": 3,
             "steps_since_apple": 3, "starvation": 72, "score": 0, "done": False, "rng": 1,
             "body": [[2, 2], [2, 3], [2, 4]]}
    d = task_module("snake").move_task(state)
    assert d.verifier["good"] == ["UP"]
    assert "Best: UP (safe, no dead end, apple 0 moves away)." in d.analysis.splitlines()
    assert d.qa_level == 1


def test_snake_tasks_for_a_state_without_starvation_use_the_games_default() -> None:
    # Snake.set_state accepts a state without "starvation" (2·size², here 72 as TRAP's); the task module
    # read it as a key and raised KeyError.
    mod = task_module("snake")
    bare = {k: v for k, v in TRAP.items() if k != "starvation"}
    assert mod.move_task(bare).verifier == mod.move_task(TRAP).verifier
    assert mod.simulate(bare, ["RIGHT"])[0][0]["starvation"] == 72
    assert mod.make_tasks(bare, np.random.default_rng(0))


def test_snake_pocket_exactly_as_big_as_the_snake_is_no_dead_end() -> None:
    # DOWN leaves 8 reachable cells (the tail's counted) for a snake 8 long: not fewer, so no dead end,
    # and the apple is 1 move away; UP cannot reach the apple past the snake's row.
    state = {"game": "snake", "size": 5, "apple": [4, 4], "direction": "RIGHT", "step": 10,
             "steps_since_apple": 0, "starvation": 50, "score": 5, "done": False, "rng": 1,
             "body": [[4, 2], [3, 2], [2, 2], [1, 2], [0, 2], [0, 3], [1, 3], [1, 4]]}
    d = task_module("snake").move_task(state)
    assert d.verifier["good"] == ["DOWN"] and d.verifier["fatal"] == ["LEFT", "RIGHT"]
    assert "leads into a dead end" not in d.analysis and "no dead end" in d.analysis
    check_snake_best_worst(state, d)


def test_duel_pocket_exactly_as_big_as_the_snake_is_no_dead_end() -> None:
    # DOWN leads into the bottom-right room: 8 free cells for a snake 8 long, so no dead end, and the
    # apple (5,4) is 1 move away; UP's nearest apple is 6 moves away.
    state = {"game": "snake_duel", "size": 6, "num_apples": 2, "max_rounds": 100, "round": 5,
             "apples": [[5, 4], [1, 3]], "done": False, "result": None, "rng": 1,
             "snakes": [{"body": [[5, 2], [4, 2], [3, 2], [2, 2], [2, 3], [2, 4], [2, 5], [1, 5]],
                         "direction": "RIGHT", "alive": True, "score": 5},
                        {"body": [[1, 4], [0, 4], [0, 5]], "direction": "RIGHT", "alive": True, "score": 0}]}
    d = task_module("snake_duel").move_task(state)
    assert d.verifier["good"] == ["DOWN"] and "a dead end" not in d.analysis
    # The rule is read with the length before the move (eating on it would make the snake longer): the
    # question must say so, or a model reading the other way is marked wrong where the two differ.
    assert "than your snake is long now, before the move." in d.question


def test_duel_best_move_is_a_safe_one_when_there_is_one() -> None:
    # RIGHT lands on the apple, but blue's LEFT lands there too (both die): risky. UP (apple 2 moves away)
    # and LEFT (4) are safe: the best is UP, not the risky move onto the apple.
    state = {"game": "snake_duel", "size": 10, "num_apples": 2, "max_rounds": 100, "round": 5,
             "apples": [[5, 4], [9, 9]], "done": False, "result": None, "rng": 1,
             "snakes": [{"body": [[4, 4], [4, 5], [4, 6]], "direction": "UP", "alive": True, "score": 0},
                        {"body": [[6, 4], [7, 4], [8, 4]], "direction": "LEFT", "alive": True, "score": 0}]}
    d = task_module("snake_duel").move_task(state)
    assert d.verifier["good"] == ["UP"] and d.verifier["fatal"] == []


def test_duel_with_every_move_fatal_has_no_best_move() -> None:
    # Head in the top-left corner heading LEFT: LEFT and UP leave the board, DOWN runs into the body (not
    # its tail), RIGHT is played as LEFT. Whatever blue does, there is no best move.
    state = {"game": "snake_duel", "size": 6, "num_apples": 1, "max_rounds": 100, "round": 5,
             "apples": [[5, 0]], "done": False, "result": None, "rng": 1,
             "snakes": [{"body": [[0, 0], [1, 0], [1, 1], [0, 1], [0, 2]], "direction": "LEFT", "alive": True,
                         "score": 2},
                        {"body": [[4, 4], [4, 5], [5, 5]], "direction": "UP", "alive": True, "score": 0}]}
    d = task_module("snake_duel").move_task(state)
    assert d.verifier["good"] == [] and d.verifier["fatal"] == ["UP", "DOWN", "LEFT", "RIGHT"]
    assert d.analysis.splitlines()[-2:] == ["Every move is fatal, so there is no best move: None.",
                                            "Fatal: UP, DOWN, LEFT, RIGHT."]
    assert verify(reference_response(d), d)["accuracy"] == 1.0


# Every candidate move leads into a dead end; LEFT eats an apple, so it is the closest and the best.
ALL_DEAD_ENDS = {
    "snake": {"game": "snake", "size": 6, "apple": [0, 4], "direction": "UP", "step": 64,
              "steps_since_apple": 11, "starvation": 72, "score": 7, "done": False, "rng": 1,
              "body": [[1, 4], [1, 5], [2, 5], [2, 4], [2, 3], [2, 2], [2, 1], [2, 0], [3, 0], [4, 0]]},
    "snake_duel": {"game": "snake_duel", "size": 6, "num_apples": 2, "max_rounds": 100, "round": 17,
                   "apples": [[0, 0], [4, 2]], "done": False, "result": None, "rng": 1,
                   "snakes": [{"body": [[1, 0], [2, 0], [2, 1], [2, 2], [1, 2], [1, 3]], "direction": "LEFT",
                               "alive": True, "score": 3},
                              {"body": [[0, 3], [0, 4], [1, 4], [2, 4], [3, 4], [4, 4]], "direction": "UP",
                               "alive": True, "score": 3}]}}


@pytest.mark.parametrize("game", ["snake", "snake_duel"])
def test_best_move_question_states_the_dead_end_rule_the_answer_follows(game: str) -> None:
    """When every candidate leads into a dead end the answer still names the one closest to an apple: the
    question must say so (it said the best move never leads into one), and state how cells are counted
    (the tail's cell is free, the head's new cell is not counted), which decides what a dead end is."""
    mod, s = task_module(game), ALL_DEAD_ENDS[game]
    info, d = mod.move_analysis(s), mod.move_task(s)
    assert sorted(info["key"]) == ["DOWN", "LEFT"] if game == "snake_duel" else ["LEFT", "UP"]
    assert all(trapped for trapped, _ in info["key"].values()) and d.verifier["good"] == ["LEFT"]
    best = d.analysis.splitlines()[-2]
    assert best.startswith("Best: LEFT (safe, every safe move leads into a dead end"), best
    rule = d.question.split("The best move is never")[1]
    assert "tails" in rule if game == "snake_duel" else "the tail's cell counts as free" in rule
    assert "not counted" in rule
    assert "(if every safe move does, it is one of them)" in d.question if game == "snake" \
        else "(if every such move does, it is one of them)" in d.question
    assert "Equally good moves are all accepted" in d.question
    if game == "snake":
        check_snake_best_worst(s, d)


def test_snake_best_move_question_says_apple_distance_is_on_the_board_after_the_move() -> None:
    """Found in an export (snake-000026-00015): UP frees the tail's cell (4, 3) and reaches the apple in 7
    moves on the board after the move, 9 on the board shown (where (4, 3) is still body); the answer
    counts after the move, so the question must say so for the distance too, not only for dead ends."""
    s = {"game": "snake", "size": 10, "body": [[3, 4], [4, 4], [4, 3], [4, 2]], "apple": [9, 4],
         "direction": "LEFT", "step": 15, "steps_since_apple": 2, "starvation": 200, "score": 1,
         "done": False, "crash": None, "rng": 1}
    d = task_module("snake").move_task(s)
    assert d.verifier["good"] == ["UP", "DOWN"]
    assert bfs(10, (3, 3), {(3, 4), (4, 4), (4, 3)}, (9, 4))[0] == 9  # the board shown: UP is not best
    closest = next(part for part in d.question.split(". ") if "closest to the apple" in part)
    assert "on the board after the move" in closest, closest


def test_duel_best_move_question_says_the_heads_block() -> None:
    """Found in an export (snake_duel-000053-00036): through blue's head cell (3, 1) UP would reach the
    apple (4, 1) in 4 moves and tie DOWN; the answer blocks the heads (they leave their necks there), and
    "both bodies block" alone leaves heads out, as the picture's words tell head and body apart."""
    s = {"game": "snake_duel", "size": 10, "num_apples": 5, "max_rounds": 100, "round": 36, "done": False,
         "result": None, "rng": 1, "apples": [[4, 1], [3, 4], [4, 7], [6, 8], [9, 9]],
         "snakes": [{"body": [[1, 1], [0, 1], [0, 2], [0, 3]], "direction": "RIGHT", "alive": True,
                     "score": 1},
                    {"body": [[3, 1], [3, 0], [4, 0], [5, 0], [6, 0], [7, 0], [8, 0], [8, 1], [8, 2], [8, 3],
                              [8, 4], [8, 5], [7, 5]], "direction": "DOWN", "alive": True, "score": 10}]}
    d = task_module("snake_duel").move_task(s)
    assert d.verifier["good"] == ["DOWN"]
    bodies_only = {tuple(c) for p in s["snakes"] for c in p["body"][1:-1]}
    assert bfs(10, (1, 0), bodies_only, (4, 1))[0] == 4  # heads left free: UP ties DOWN's 4 moves
    assert "heads included" in d.question


def test_snake_move_task_and_parse_move() -> None:
    mod = task_module("snake")
    states = snake_states()
    for s in states:
        if s["done"]:
            with pytest.raises(ValueError, match="over"):
                mod.move_task(s)
            continue
        d = mod.move_task(s)
        assert d.family == "strategy" and d.qa_type == "best_worst_move"
        move = parse_move(reference_response(d), d)
        assert move == (d.verifier["good"][0] if d.verifier["good"] else None)
    assert any(s["done"] for s in states)


# --------------------------------------------------------------------------------------- snake duel
def duel_play(state: dict[str, Any], mine: list[str], theirs: list[str]) -> list[dict[str, Any]]:
    g = SnakeDuel(1, size=state["size"], num_apples=state["num_apples"], max_rounds=state["max_rounds"],
                  start_length=2, opponent="policy")
    g.set_state(0, state)
    out = []
    for a, b in zip(mine, theirs, strict=True):
        g.set_opponent_actions(np.array([MOVES4.index(b)]))
        g.step(np.array([MOVES4.index(a)]))
        out.append(g.get_state(0))
        if out[-1]["done"]:
            break
    return out


def test_duel_answers_match_the_engine(drafts: dict) -> None:
    seen = set()
    for s, d in drafts["snake_duel"]:
        seen.add(d.qa_type)
        me, other = s["snakes"]
        if d.qa_type == "longer_snake":
            a, b = len(me["body"]), len(other["body"])
            assert d.answer == ("A" if a > b else "B" if b > a else "C")
        elif d.qa_type == "apple_count":
            assert d.verifier["value"] == len(s["apples"])
        elif d.qa_type == "head_position":
            assert d.verifier["value"] == s["snakes"][d.extra["player"]]["body"][0]
        elif d.qa_type in ("duel_outcome", "length_after_moves", "head_after_moves"):
            final = duel_play(s, d.extra["moves"], d.extra["opponent_moves"])[-1]
            alive = tuple(p["alive"] for p in final["snakes"])
            if d.qa_type == "duel_outcome":
                want = {(True, True): 0, (False, True): 1, (True, False): 2, (False, False): 3}[alive]
                assert d.answer == chr(65 + want)
            else:
                assert alive == (True, True)
                body = final["snakes"][0]["body"]
                assert d.verifier["value"] == (len(body) if d.qa_type == "length_after_moves" else body[0])
        elif d.qa_type == "best_worst_move":
            dies = {m: [not duel_play(s, [m], [b])[0]["snakes"][0]["alive"] for b in MOVES4] for m in MOVES4}
            assert d.verifier["fatal"] == [m for m in MOVES4 if all(dies[m])]
            safe = [m for m in MOVES4 if not any(dies[m]) and m != OPPOSITE[me["direction"]]]
            if safe:
                assert set(d.verifier["good"]) <= set(safe) and d.verifier["good"]
        else:
            check_vision_zero(d, lambda e, s=s: task_module("snake_duel").render_edit(s, e))
    assert seen >= {"best_worst_move", "duel_outcome", "spot_difference", "spy_game", "head_position"}


def test_duel_prediction_never_plays_past_an_eaten_apple() -> None:
    """An eaten apple is replaced at random, off the image; a later round could eat the new one (and a
    snake that eats keeps its tail, which kills a snake entering it): no round may follow an eating. The
    last round may eat: then the length asked about grows (else it would always be the length shown)."""
    mod = task_module("snake_duel")
    state = {"game": "snake_duel", "size": 6, "num_apples": 3, "max_rounds": 100, "round": 4,
             "snakes": [{"body": [[1, 2], [1, 3], [2, 3]], "direction": "UP", "alive": True, "score": 0},
                        {"body": [[4, 3], [4, 2], [3, 2]], "direction": "DOWN", "alive": True, "score": 0}],
             "apples": [[1, 1], [4, 4], [0, 5]], "done": False, "result": None, "rng": 7}
    asked = eats_last = 0
    for seed in range(150):
        for d in mod.make_tasks(state, np.random.default_rng(seed)):
            if d.family == "state_prediction" and len(d.extra["moves"]) > 1:
                played = duel_play(state, d.extra["moves"], d.extra["opponent_moves"])
                lengths = [[len(p["body"]) for p in s["snakes"]] for s in [state, *played]]
                assert all(a == b for a, b in itertools.pairwise(lengths[:-1])), d.extra
                asked += 1
                eats_last += lengths[-1] != lengths[-2]
    assert asked > 20 and eats_last > 0


def test_duel_prediction_asks_about_one_snake_dying_and_never_turns_a_snake_back() -> None:
    """Both heads one move from a wall: plans in which only your snake, only the blue one, or both die
    are asked (a death ends the game, so the plan is predictable), each answer as the engine plays it;
    and neither snake's moves ever turn back into its neck (blue's drawn from blue's heading)."""
    mod, outcomes = task_module("snake_duel"), Counter()
    state = {"game": "snake_duel", "size": 6, "num_apples": 1, "max_rounds": 100, "round": 3, "done": False,
             "result": None, "rng": 1, "apples": [[3, 3]],
             "snakes": [{"body": [[0, 1], [1, 1], [2, 1]], "direction": "LEFT", "alive": True, "score": 0},
                        {"body": [[5, 4], [4, 4], [3, 4]], "direction": "RIGHT", "alive": True, "score": 0}]}
    for seed in range(120):
        d = mod._prediction_task(state, np.random.default_rng(seed), mod.render(state))
        if d is None:
            continue
        for p, key in ((0, "moves"), (1, "opponent_moves")):
            heading = state["snakes"][p]["direction"]
            assert all(b != OPPOSITE[a] for a, b in itertools.pairwise([heading, *d.extra[key]])), d.extra
        final = duel_play(state, d.extra["moves"], d.extra["opponent_moves"])[-1]
        alive = tuple(s["alive"] for s in final["snakes"])
        if d.qa_type == "duel_outcome":
            outcomes[d.options[ord(d.answer) - 65]] += 1
            order = [(True, True), (False, True), (True, False), (False, False)]
            assert d.answer == "ABCD"[order.index(alive)]
    assert outcomes.keys() >= {"Only your snake has died", "Only the blue snake has died",
                               "Both snakes have died"}, outcomes


def cramped_duel_states() -> list[dict[str, Any]]:
    """States from mostly greedy, sometimes random play on a 6×6 board: ties, risky moves and dead ends."""
    game, out = SnakeDuel(1, size=6, num_apples=2, opponent="policy"), []
    for seed in range(12):
        game.reset(np.array([0]), np.array([seed], dtype=np.uint64))
        rng = np.random.default_rng(seed)
        for _ in range(60):
            s = game.get_state(0)
            if s["done"]:
                break
            out.append(s)
            mine = greedy_action(s, 0) if rng.random() < 0.8 else int(rng.integers(4))
            theirs = greedy_action(s, 1) if rng.random() < 0.8 else int(rng.integers(4))
            game.set_opponent_actions(np.array([theirs]))
            game.step(np.array([mine]))
    return out


def test_duel_best_and_fatal_moves_follow_the_stated_rule() -> None:
    """Recomputed from the question's words: fatal = dead against all four blue moves on the engine; the
    best among the safe moves (else the risky ones), not the move back into the neck, not into a dead end
    (fewer free cells reachable than your length, both bodies blocking except their tails, the new
    head's cell not counted) unless all are, then nearest to an apple; every tie is accepted."""
    mod, ties, trapped = task_module("snake_duel"), 0, 0
    for s in cramped_duel_states():
        me = s["snakes"][0]
        blocked = {tuple(c) for p in s["snakes"] for c in p["body"][:-1]}
        dies = {m: sum(not duel_play(s, [m], [b])[0]["snakes"][0]["alive"] for b in MOVES4) for m in MOVES4}
        pool = [m for m in MOVES4 if m != OPPOSITE[me["direction"]] and dies[m] == 0] or \
               [m for m in MOVES4 if m != OPPOSITE[me["direction"]] and dies[m] < 4]
        key = {}
        for m in pool:
            dx, dy = {"UP": (0, -1), "DOWN": (0, 1), "LEFT": (-1, 0), "RIGHT": (1, 0)}[m]
            start = (me["body"][0][0] + dx, me["body"][0][1] + dy)
            dists = [bfs(s["size"], start, blocked, tuple(a))[0] for a in s["apples"]]
            reach = bfs(s["size"], start, blocked, None)[1]
            key[m] = (reach < len(me["body"]), min((d for d in dists if d is not None), default=10**6))
        good = [m for m in pool if key[m] == min(key.values())]
        d = mod.move_task(s)
        assert d.verifier["fatal"] == [m for m in MOVES4 if dies[m] == 4], s
        assert d.verifier["good"] == good, (s, key)
        ties += len(good) > 1
        trapped += any(t for t, _ in key.values())
    assert ties > 10 and trapped > 3


def test_duel_move_that_most_blue_moves_punish_is_risky_not_fatal() -> None:
    # RIGHT enters blue's tail (3, 5): blue UP (and DOWN, played as UP) or LEFT eats an apple, so its
    # tail stays and kills you; blue RIGHT eats nothing and the tail moves away. Three of four blue moves
    # kill you, not all of them.
    state = {"game": "snake_duel", "size": 6, "num_apples": 2, "max_rounds": 100, "round": 5,
             "apples": [[3, 2], [2, 3]], "done": False, "result": None, "rng": 1,
             "snakes": [{"body": [[2, 5], [1, 5], [0, 5]], "direction": "RIGHT", "alive": True, "score": 0},
                        {"body": [[3, 3], [3, 4], [3, 5]], "direction": "UP", "alive": True, "score": 0}]}
    deaths = [b for b in MOVES4 if not duel_play(state, ["RIGHT"], [b])[0]["snakes"][0]["alive"]]
    assert deaths == ["UP", "DOWN", "LEFT"]
    info = task_module("snake_duel").move_analysis(state)
    assert "RIGHT" in info["risky"] and "RIGHT" not in info["fatal"]
    right = next(line for line in info["lines"] if line.startswith("RIGHT:"))
    assert "you die if blue moves UP or LEFT." in right, right


def test_duel_describe_target_names_whose_cell_and_which_part() -> None:
    """The analysis's words for the cell a move reaches: the snake's own or the other snake's head, tail or
    body segment (counted from the head), an apple, an empty cell, or off the board on every side (the move
    back into the neck described as the straight-on move the engine plays)."""
    describe = task_module("snake_duel").describe_target
    state = {"game": "snake_duel", "size": 6, "num_apples": 1, "max_rounds": 100, "round": 3, "done": False,
             "result": None, "rng": 1, "apples": [[3, 3]],
             "snakes": [{"body": [[5, 1], [5, 0], [4, 0], [3, 0]], "direction": "DOWN", "alive": True,
                         "score": 0},
                        {"body": [[4, 3], [4, 2], [5, 2], [5, 3]], "direction": "DOWN", "alive": True,
                         "score": 0}]}
    assert describe(state, 0, "DOWN") == "(5, 2) is the other snake's body (segment 3)"
    assert describe(state, 0, "UP") == describe(state, 0, "DOWN")  # into the neck: straight on
    assert describe(state, 0, "RIGHT") == "(6, 1) is off the board"
    assert describe(state, 0, "LEFT") == "(4, 1) is empty"
    assert describe(state, 1, "RIGHT") == "(5, 3) is its own tail"
    assert describe(state, 1, "LEFT") == "(3, 3) holds an apple"
    assert describe(state, 1, "DOWN") == "(4, 4) is empty"
    me, blue = state["snakes"]
    corner = {**state, "snakes": [{**me, "body": [[0, 0], [1, 0], [2, 0]], "direction": "LEFT"},
                                  {**blue, "body": [[0, 1], [0, 2], [0, 3]], "direction": "UP"}]}
    assert describe(corner, 0, "LEFT") == "(-1, 0) is off the board"
    assert describe(corner, 0, "UP") == "(0, -1) is off the board"
    assert describe(corner, 0, "DOWN") == "(0, 1) is the other snake's head"
    assert describe(corner, 1, "UP") == "(0, 0) is the other snake's head"
    assert describe(corner, 1, "RIGHT") == "(1, 1) is empty"
    low = {**state, "snakes": [{**me, "body": [[2, 5], [2, 4]], "direction": "DOWN"}, blue]}
    assert describe(low, 0, "DOWN") == "(2, 6) is off the board"


def test_duel_perception_and_levels_follow_the_docstring() -> None:
    """Longer snake with equal lengths, whose head is asked about, the levels (plot from both snakes'
    total length, qa from the rounds, the apple count or the best move's distance), and no move question
    once the duel is over."""
    mod = task_module("snake_duel")
    states = [*duel_states(), *cramped_duel_states()[::4]]
    seen = Counter()
    for k, s in enumerate(states):
        me, other = s["snakes"]
        total = len(me["body"]) + len(other["body"])
        for d in mod.make_tasks(s, np.random.default_rng(k)):
            assert d.plot_level == _level(total, 8, 16), d.qa_type
            seen[d.qa_type] += 1
            if d.qa_type == "longer_snake":
                a, b = len(me["body"]), len(other["body"])
                assert d.answer == ("A" if a > b else "B" if b > a else "C")
                seen["same length"] += a == b
            elif d.qa_type == "head_position":
                assert d.qa_level == 1
                who = ("your snake's", "the blue snake's")[d.extra["player"]]
                assert f"Where is {who} head?" in d.question
                assert d.verifier["value"] == s["snakes"][d.extra["player"]]["body"][0]
            elif d.qa_type == "apple_count":
                assert d.qa_level == _level(len(s["apples"]), 3, 6)
            elif d.family == "state_prediction":
                assert d.qa_level == _level(len(d.extra["moves"]), 1, 3)
            elif d.qa_type == "best_worst_move" and d.verifier["good"]:
                info = mod.move_analysis(s)
                assert d.qa_level == _level(info["key"][info["good"][0]][1], 2, 6)
                seen[f"best level {d.qa_level}"] += 1
        if s["done"]:
            seen["done"] += 1
            with pytest.raises(ValueError, match="over"):
                mod.move_task(s)
    assert seen["same length"] and seen["done"], seen
    assert {"best level 1", "best level 2", "best level 3"} <= seen.keys(), seen
    two = {"game": "snake_duel", "size": 6, "num_apples": 1, "max_rounds": 100, "round": 1, "apples": [],
           "done": False, "result": None, "rng": 1,
           "snakes": [{"body": [[0, 0]] * n, "direction": "UP", "alive": True, "score": 0} for n in (4, 5)]}
    assert mod.plot_level(two) == 2  # 9 cells in all, though each snake alone has at most 8


def test_duel_simulate_stops_at_the_round_the_duel_ends() -> None:
    mod = task_module("snake_duel")
    state = {"game": "snake_duel", "size": 6, "num_apples": 1, "max_rounds": 100, "round": 3, "done": False,
             "result": None, "rng": 1, "apples": [[5, 5]],
             "snakes": [{"body": [[0, 1], [1, 1], [2, 1]], "direction": "LEFT", "alive": True, "score": 0},
                        {"body": [[3, 4], [4, 4], [5, 4]], "direction": "LEFT", "alive": True, "score": 0}]}
    played = mod.simulate(state, ["LEFT", "DOWN", "DOWN"], ["UP", "UP", "UP"])  # the wall in round 1
    assert len(played) == 1 and played[0]["done"] and played[0]["result"] == "loss"
    played = mod.simulate(state, ["DOWN", "DOWN", "RIGHT"], ["UP", "UP", "UP"])
    assert [p["snakes"][0]["body"][0] for p in played] == [[0, 2], [0, 3], [1, 3]]
    assert not played[-1]["done"]


def test_duel_apple_count_levels_at_their_bounds() -> None:
    """The apple count's qa level: up to 3 apples 1, up to 6 apples 2, more 3 (the tested games hold 5)."""
    mod = task_module("snake_duel")
    apples = [[x, y] for y in (3, 4, 5) for x in range(6)]
    snakes = [{"body": [[0, 1], [1, 1], [2, 1]], "direction": "LEFT", "alive": False, "score": 0},
              {"body": [[3, 0], [4, 0], [5, 0]], "direction": "LEFT", "alive": True, "score": 0}]
    levels = {}
    for n in (3, 4, 6, 7):
        state = {"game": "snake_duel", "size": 6, "num_apples": n, "max_rounds": 100, "round": 3,
                 "done": True, "result": "loss", "rng": 1, "apples": apples[:n], "snakes": snakes}
        for seed in range(40):
            for d in mod.make_tasks(state, np.random.default_rng(seed)):
                if d.qa_type == "apple_count":
                    assert d.answer == str(n)
                    levels[n] = d.qa_level
    assert levels == {3: 1, 4: 2, 6: 2, 7: 3}


def test_duel_best_move_level_at_its_bounds() -> None:
    """The best move's qa level from its distance to the apple: up to 2 moves 1, up to 6 moves 2, more 3."""
    mod = task_module("snake_duel")
    snakes = [{"body": [[2, 2], [1, 2], [0, 2]], "direction": "RIGHT", "alive": True, "score": 0},
              {"body": [[9, 9], [8, 9], [7, 9]], "direction": "RIGHT", "alive": True, "score": 0}]
    levels = {}
    for ax in (4, 8, 9):  # the best moves (RIGHT and DOWN) are ax - 2 moves from the apple at (ax, 3)
        state = {"game": "snake_duel", "size": 10, "num_apples": 1, "max_rounds": 100, "round": 3,
                 "done": False, "result": None, "rng": 1, "apples": [[ax, 3]], "snakes": snakes}
        d = mod.move_task(state)
        assert d.verifier["good"] == ["DOWN", "RIGHT"]
        levels[ax - 2] = d.qa_level
    assert levels == {2: 1, 6: 2, 7: 3}


def test_duel_longer_snake_edit_adds_a_cell_after_the_tail() -> None:
    """A "one cell longer" edit extends that snake past its tail, as its text says: the edited body is the
    old one plus a free cell next to the old tail, a snake the game could show."""
    mod, kinds = task_module("snake_duel"), Counter()
    for k, s in enumerate(duel_states()):
        make = mod._make_edit(s)
        for seed in range(8):
            edit = make(np.random.default_rng(100 * k + seed))
            if edit is None or edit.kind not in ("yours_longer", "blue_longer"):
                continue
            p = 0 if edit.kind == "yours_longer" else 1
            body = s["snakes"][p]["body"]
            assert edit.state["snakes"][p]["body"] == [*body, edit.appeared]
            (tx, ty), (x, y) = body[-1], edit.appeared
            assert abs(x - tx) + abs(y - ty) == 1, (body, edit.appeared)
            kinds[edit.kind] += 1
    assert kinds.keys() == {"yours_longer", "blue_longer"}, kinds


def test_duel_analysis_explains_a_fatal_move_back_into_the_neck() -> None:
    """Straight on runs into the wall, so the move back into the neck, played as straight on, is fatal too:
    the analysis says why, as it lists that move among the fatal ones."""
    state = {"game": "snake_duel", "size": 6, "num_apples": 1, "max_rounds": 100, "round": 3, "done": False,
             "result": None, "rng": 1, "apples": [[5, 5]],
             "snakes": [{"body": [[0, 1], [1, 1], [2, 1]], "direction": "LEFT", "alive": True, "score": 0},
                        {"body": [[3, 4], [4, 4], [5, 4]], "direction": "LEFT", "alive": True, "score": 0}]}
    d = task_module("snake_duel").move_task(state)
    assert d.verifier["fatal"] == ["LEFT", "RIGHT"]
    assert "RIGHT: played as LEFT, which is fatal, so RIGHT is fatal too." in d.analysis.splitlines()


def test_duel_prediction_plays_every_round_unless_a_snake_dies() -> None:
    """Near the round limit the game would end with both alive before the plan's last round: such plans
    are never asked (the question says only a death ends the game)."""
    mod = task_module("snake_duel")
    asked = 0
    for k, s in enumerate(duel_states()):
        if s["done"]:
            continue
        near = {**s, "max_rounds": s["round"] + 2}
        for seed in range(6):
            for d in mod.make_tasks(near, np.random.default_rng(100 * k + seed)):
                if d.family == "state_prediction":
                    played = duel_play(near, d.extra["moves"], d.extra["opponent_moves"])
                    final, moves = played[-1], d.extra["moves"]
                    assert len(played) == len(moves) or not all(p["alive"] for p in final["snakes"])
                    # the analysis walks through the rounds played, none after a death
                    rounds = [ln.split(":")[0] for ln in d.analysis.splitlines() if ln.startswith("Round")]
                    assert rounds == [f"Round {j + 1}" for j in range(len(played))], d.analysis
                    assert not (final["done"] and all(p["alive"] for p in final["snakes"])), d.extra
                    asked += 1
    assert asked > 10


# ----------------------------------------------------------------------------------------- rotation
def test_rotation_answers_match_the_engine(drafts: dict) -> None:
    seen, edits = set(), set()
    for s, d in drafts["rotation"]:
        seen.add(d.qa_type)
        r, t = rotation_index(s["rotation"]), rotation_index(s["target_rotation"])
        if d.qa_type == "cube_count":
            assert d.verifier["value"] == len(s["cubes"])
        elif d.qa_type == "absent_colour":
            answer = d.options[ord(d.answer) - 65]
            assert answer not in s["color_names"]
            assert all(o in s["color_names"] for o in d.options if o != answer)
        elif d.qa_type == "turns_left_after_moves":
            cur = r
            for m in d.extra["moves"]:
                cur = int(TURN[cur, TURNS.index(m)])
                if cur == t:
                    break
            assert d.verifier["value"] == int(DISTANCE[cur, t])
        elif d.qa_type == "min_turns":
            assert d.verifier["value"] == int(DISTANCE[r, t])
        elif d.qa_type == "next_turn":
            assert d.verifier["accepted"] == [TURNS[a] for a in optimal_actions(s)]
        elif d.qa_type == "rotation_angle":
            check_rotation_angle(s, d)
        else:
            check_vision_zero(d, lambda e, r=r: render_view(e, r, task_module("rotation").VIEW))
            if d.extra["edit"]:
                changed = [k for k, (a, b) in enumerate(zip(s["colors"], d.extra["edited_state"]["colors"],
                                                            strict=True)) if a != b]
                assert len(changed) == (1 if d.extra["edit"] == "recoloured" else 2)
                edited, palette = d.extra["edited_state"], PALETTE.tolist()  # named as get_state names them
                assert edited["color_names"] == [COLOR_NAMES[palette.index(c)] for c in edited["colors"]]
                edits.add(d.extra["edit"])
    assert seen >= {"turns_left_after_moves", "rotation_angle", "spot_difference", "spy_game"}
    assert edits == {"recoloured", "swapped"}, edits
    assert seen & {"cube_count", "absent_colour"} and seen & {"min_turns", "next_turn"}


def test_rotation_questions_describe_the_images_they_show(drafts: dict) -> None:
    """Questions on the state's picture say it holds the target (left) and current (right) views; the
    angle and Vision-Zero questions, asked on single views, do not."""
    for _, d in drafts["rotation"]:
        pair = d.family in ("perception", "state_prediction") or d.qa_type in ("min_turns", "next_turn")
        assert ("the target view on the left" in d.question) == pair, (d.qa_type, d.question)


def test_rotation_never_asks_a_next_turn_that_every_turn_answers() -> None:
    module = task_module("rotation")
    game = Rotation(1, max_cubes=8)
    game.reset(np.array([0]), np.array([0], dtype=np.uint64))
    state = game.get_state(0)
    t = rotation_index(state["target_rotation"])
    far = next(r for r in range(24) if all(DISTANCE[TURN[r, a], t] == DISTANCE[r, t] - 1 for a in range(6)))
    state = {**state, "rotation": ROTATIONS[far].tolist(), "rotation_index": far}
    kinds = set()
    for seed in range(30):
        kinds |= {d.qa_type for d in module.make_tasks(state, np.random.default_rng(seed))}
    assert "min_turns" in kinds and "next_turn" not in kinds
    assert len(module.move_task(state).verifier["accepted"]) == 6  # the VLM player still gets asked


def rotation_state(seed: int, rotation: int | None = None) -> dict[str, Any]:
    game = Rotation(1, max_cubes=8)
    game.reset(np.array([0]), np.array([seed], dtype=np.uint64))
    state = game.get_state(0)
    if rotation is not None:
        state = {**state, "rotation": ROTATIONS[rotation].tolist(), "rotation_index": rotation}
    return state


def test_rotation_absent_colour_question_needs_three_colours_in_view(monkeypatch) -> None:
    """Its four options are three colours the views show and one the object lacks: with two in view
    there is no such question."""
    mod = task_module("rotation")
    state = rotation_state(0)
    n = len(state["color_names"])
    monkeypatch.setattr(mod, "_shown", lambda shape, views: np.arange(n) < 2)
    for seed in range(10):
        assert mod._perception_task(state, np.random.default_rng(seed), np.zeros((1, 1, 3))) is None


def test_rotation_option_answers_name_the_pictured_turn() -> None:
    """With options, the answer's letter is the option naming the turn the two views show."""
    mod, levels = task_module("rotation"), Counter()
    for k in range(4):
        s = rotation_state(k)
        for seed in range(15):
            for d in mod.make_tasks(s, np.random.default_rng(seed)):
                if d.qa_type != "rotation_angle":
                    continue
                check_rotation_angle(s, d)
                angle, axis = d.extra["angle"], d.extra["axis"]
                if d.options:
                    want = f"{angle}°" if d.qa_level == 1 else f"{angle}° about {axis}"
                    assert d.options[ord(d.answer) - 65] == want, (d.answer, d.options, want)
                else:
                    assert d.answer == f"{angle} about {axis}"
                # The angle alone answers only the question that names the axis (level 1).
                bare = verify(f"<think>x</think><answer>{angle}</answer>", d)["accuracy"]
                assert bare == float(d.qa_level == 1), (d.qa_level, angle)
                levels[d.qa_level] += 1
    assert levels.keys() == {1, 2, 3}, levels


def test_rotation_angle_questions_ask_every_axis_and_angle() -> None:
    """ViGaL's angle question draws its turn from all three world axes and all of 90°, 180° and 270°: a
    question set without 270° (or without Z) teaches a model that it never occurs."""
    mod, s = task_module("rotation"), rotation_state(0)
    asked = {(d.extra["axis"], d.extra["angle"]) for d in (mod._angle_task(s, np.random.default_rng(seed))
                                                          for seed in range(40))}
    assert asked == set(itertools.product("XYZ", (90, 180, 270))), asked


def test_rotation_prediction_asks_one_to_three_turns_at_that_level() -> None:
    """The module's rule: a prediction question's qa level is the number of turns to simulate, 1 to 3;
    every one of the six turns is asked."""
    mod, s = task_module("rotation"), rotation_state(0)
    image = mod._pair(s)
    asked, moves = Counter(), set()
    for seed in range(30):
        d = mod._prediction_task(s, np.random.default_rng(seed), image)
        assert d.qa_level == len(d.extra["moves"]), (d.qa_level, d.extra["moves"])
        asked[d.qa_level] += 1
        moves |= set(d.extra["moves"])
    assert asked.keys() == {1, 2, 3} and moves == set(TURNS), (asked, moves)


def test_rotation_asks_each_of_its_three_turn_questions_of_an_unsolved_state() -> None:
    """make_tasks draws one of the angle, fewest-turns and next-turn questions for an unsolved state: a draw
    that never reached one (next_turn) dropped that family from every export while each check passed."""
    mod = task_module("rotation")
    s = rotation_state(0)
    t = rotation_index(s["target_rotation"])
    near = rotation_state(0, int(TURN[t, 0]))  # one turn away: a next-turn question has one answer
    asked = set()
    for seed in range(20):
        asked |= {d.qa_type for d in mod.make_tasks(near, np.random.default_rng(seed))}
    assert {"rotation_angle", "min_turns", "next_turn"} <= asked, asked


def test_rotation_questions_rely_only_on_cubes_the_views_show() -> None:
    """A cube counts as shown when it covers MIN_VISIBLE of either view: the cube count is asked only when
    every cube is shown, an absent-colour question offers only shown colours, and an edit recolours only
    cubes the edited (current) view shows."""
    mod = task_module("rotation")
    need = mod.MIN_VISIBLE * mod.VIEW ** 2
    letters = set()  # the absent colour's option letters: shuffled in among the shown colours
    for seed in (12, 10):  # seed 12: two cubes hidden in both views; seed 10: one hidden in the current view
        s = rotation_state(seed)
        names = s["color_names"]
        target, current = (mod.visible_cubes(s, rotation_index(s[k])) >= need
                           for k in ("target_rotation", "rotation"))
        shown = target | current
        assert shown.all() != (seed == 12) and not (target & current).all()
        kinds = Counter()
        for k in range(40):
            for d in mod.make_tasks(s, np.random.default_rng(k)):
                kinds[d.qa_type] += 1
                if d.qa_type == "cube_count":
                    assert shown.all()
                elif d.qa_type == "absent_colour":
                    answer = d.options[ord(d.answer) - 65]
                    assert all(shown[names.index(o)] for o in d.options if o != answer), d.options
                    assert answer not in names, (answer, names)  # a hidden cube's colour still appears
                    letters.add(d.answer)
                elif d.family == "vision_zero" and d.extra["edit"]:
                    edited = d.extra["edited_state"]["colors"]
                    changed = [i for i, (a, b) in enumerate(zip(s["colors"], edited, strict=True)) if a != b]
                    assert changed and all(current[i] for i in changed), (changed, current)
        # Both perception questions where every cube is shown; only the absent colour where one is hidden.
        assert kinds["absent_colour"] > 0 and (kinds["cube_count"] > 0) == (seed == 10), kinds
    assert letters == {"A", "B", "C", "D"}, letters


def test_rotation_turn_questions_follow_the_engine_and_their_levels() -> None:
    """Turns stop once the object matches the target (as the question says); the next-turn level is the
    distance; a solved state gets no prediction or turn question, and move_task refuses it; the plot
    level follows the cube count (≤4, ≤6, more)."""
    mod = task_module("rotation")
    s = rotation_state(0)
    t = rotation_index(s["target_rotation"])
    near = rotation_state(0, int(TURN[t, 0]))  # one X+ away from the target (an X- brings it back)
    passed = 0
    for seed in range(60):
        for d in mod.make_tasks(near, np.random.default_rng(seed)):
            if d.qa_type == "turns_left_after_moves":
                cur, path = near["rotation_index"], []
                for m in d.extra["moves"]:
                    cur = int(TURN[cur, TURNS.index(m)])
                    path.append(cur)
                    if cur == t:
                        break
                assert d.verifier["value"] == int(DISTANCE[cur, t]), d.extra["moves"]
                assert d.analysis.count("After ") == len(path), d.analysis
                if len(path) < len(d.extra["moves"]):  # the analysis says why the later turns are not played
                    assert d.analysis.splitlines()[len(path) - 1].endswith(
                        "; it now matches the target and the game ends."), d.analysis
                passed += len(path) < len(d.extra["moves"])
    assert passed > 0
    for distance in (1, 2, 3):
        r = next(r for r in range(24) if DISTANCE[r, t] == distance)
        assert mod.move_task(rotation_state(0, r)).qa_level == distance
    solved = rotation_state(0, t)
    with pytest.raises(ValueError, match="matches the target"):
        mod.move_task(solved)
    for seed in range(10):
        kinds = {d.qa_type for d in mod.make_tasks(solved, np.random.default_rng(seed))}
        assert "rotation_angle" in kinds and not kinds & {"turns_left_after_moves", "next_turn", "min_turns"}
    sizes = set()
    for seed in range(60):
        state = rotation_state(seed)
        assert mod.plot_level(state) == _level(len(state["cubes"]), 4, 6)
        sizes.add(len(state["cubes"]))
        for d in mod.make_tasks(state, np.random.default_rng(seed)):
            if d.qa_type == "cube_count":
                assert d.qa_level == _level(len(state["cubes"]), 4, 6)
                sizes.add(f"asked {len(state['cubes'])}")
    assert {4, 5, 6, 7, "asked 4", "asked 5"} <= sizes, sizes


def check_rotation_angle(s: dict[str, Any], d: TaskDraft) -> None:
    """The pictured turn is exactly the answer: of the nine axis/angle turns only it gives the second view."""
    x = d.extra
    size = d.images[0].shape[0]
    assert np.array_equal(d.images[0], render_view(s, x["from_index"], size))
    gen = {"X": TURN[:, 0], "Y": TURN[:, 2], "Z": TURN[:, 4]}
    matches = []
    for axis, step in gen.items():
        cur = x["from_index"]
        for quarter in (1, 2, 3):
            cur = int(step[cur])
            if np.array_equal(render_view(s, cur, size), d.images[1]):
                matches.append((axis, 90 * quarter))
    assert matches == [(x["axis"], x["angle"])]
    turned = np.linalg.matrix_power(GENERATORS[2 * "XYZ".index(x["axis"])], x["angle"] // 90)
    assert x["to_index"] == rotation_index(turned @ ROTATIONS[x["from_index"]])


# ------------------------------------------------------------------------------------------ sokoban
def sokoban_play(state: dict[str, Any], moves: list[str]) -> list[dict[str, Any]]:
    g = Sokoban(1, size=state["size"], num_boxes=1, max_steps=10**6)
    g.set_state(0, {**state, "step": 0, "done": False})
    out = []
    for m in moves:
        g.step(np.array([MOVES4.index(m)]))
        out.append(g.get_state(0))
        if out[-1]["done"]:
            break
    return out


def test_sokoban_answers_match_the_engine(drafts: dict) -> None:
    seen = set()
    for s, d in drafts["sokoban"]:
        seen.add(d.qa_type)
        targets = {tuple(t) for t in s["targets"]}
        if d.qa_type == "player_position":
            assert d.verifier["value"] == s["player"]
        elif d.qa_type == "box_count":
            assert d.verifier["value"] == len(s["boxes"])
        elif d.qa_type == "boxes_on_targets":
            assert d.verifier["value"] == sum(tuple(b) in targets for b in s["boxes"])
        elif d.qa_type in ("player_after_moves", "boxes_on_targets_after_moves"):
            final = sokoban_play(s, d.extra["moves"])[-1]
            on = sum(tuple(b) in targets for b in final["boxes"])
            assert d.verifier["value"] == (final["player"] if d.qa_type == "player_after_moves" else on)
        elif d.qa_type == "fewest_moves":
            assert d.verifier["value"] == len(solve(s))
        elif d.qa_type == "next_move":
            n = len(solve(s))
            good = [m for m in MOVES4 if (a := sokoban_play(s, [m])[0])["player"] != s["player"]
                    and (rest := solve(a)) is not None and len(rest) == n - 1]
            assert d.verifier["accepted"] == good
        else:
            check_vision_zero(d, task_module("sokoban").render)
    assert seen >= {"player_after_moves", "fewest_moves", "next_move", "spot_difference", "difference_cell",
                    "spy_game"}


def test_sokoban_prediction_says_the_game_ends_when_solved() -> None:
    """RIGHT solves this puzzle; a sequence that goes on (RIGHT, LEFT, ...) stops there on the engine, so
    the question must say later moves are not played: played on, the player ends elsewhere."""
    walls = [[1] * 6] + [[1, 0, 0, 0, 0, 1] for _ in range(4)] + [[1] * 6]
    state = {"game": "sokoban", "size": 6, "walls": walls, "targets": [[3, 2]], "boxes": [[2, 2]],
             "player": [1, 2], "step": 0, "max_steps": 120, "score": 0, "done": False, "deadlocked": False,
             "rng": 1}
    asked = 0
    for seed in range(200):
        for d in task_module("sokoban").make_tasks(state, np.random.default_rng(seed)):
            moves = d.extra.get("moves", [])
            if d.family == "state_prediction" and len(sokoban_play(state, moves)) < len(moves):
                assert "any moves left are not played" in d.question
                asked += 1
    assert asked


def test_sokoban_questions_say_a_move_into_a_wall_does_nothing() -> None:
    """LEFT from (1, 2) walks into the wall: the engine leaves the player there and plays on. The rules
    text said only what walking into a box does, so the answer to a sequence with such a move (over
    half of the prediction questions in random play) rested on a rule the question never stated."""
    walls = [[1] * 6] + [[1, 0, 0, 0, 0, 1] for _ in range(4)] + [[1] * 6]
    state = {"game": "sokoban", "size": 6, "walls": walls, "targets": [[4, 4]], "boxes": [[3, 3]],
             "player": [1, 2], "step": 0, "max_steps": 120, "score": 0, "done": False, "deadlocked": False,
             "rng": 1}
    assert sokoban_play(state, ["LEFT"])[0]["player"] == [1, 2]
    asked = 0
    for seed in range(20):
        for d in task_module("sokoban").make_tasks(state, np.random.default_rng(seed)):
            if d.family in ("state_prediction", "strategy"):
                assert "A move into a wall does nothing: the player stays where it is." in d.question
                asked += 1
    assert asked


def test_sokoban_moves_play_on_past_a_cornered_box_whatever_the_runs_deadlock_end() -> None:
    """A state exported from a deadlock_end run keeps that rule for its board; the questions' moves are
    the puzzle's own, so the engine plays them on past a box pushed into a corner, as without it."""
    from vlm.tasks.sokoban import simulate

    walls = [[1] * 6] + [[1, 0, 0, 0, 0, 1] for _ in range(4)] + [[1] * 6]
    state = {"game": "sokoban", "size": 6, "walls": walls, "targets": [[3, 1]], "boxes": [[2, 4]],
             "player": [3, 4], "step": 0, "max_steps": 120, "deadlock_end": True, "score": 0, "done": False,
             "deadlocked": False, "rng": 1}
    after = simulate(state, ["LEFT", "UP", "RIGHT"])  # the box into the corner (1, 4), then on
    assert len(after) == 3 and after[-1]["player"] == [3, 3] and not after[-1]["done"]


def sokoban_room(**state: Any) -> dict[str, Any]:
    """A hand-made 6×6 Sokoban state (walls on the border), as the engine exports one."""
    walls = [[1] * 6] + [[1, 0, 0, 0, 0, 1] for _ in range(4)] + [[1] * 6]
    return {"game": "sokoban", "size": 6, "walls": walls, "step": 0, "max_steps": 120, "score": 0,
            "done": False, "deadlocked": False, "rng": 1, **state}


def sokoban_told(before: dict[str, Any], move: str, after: dict[str, Any]) -> str:
    """What one move does by the rules the prompt states, checked against the engine's state after it."""
    (px, py), (dx, dy) = before["player"], {"UP": (0, -1), "DOWN": (0, 1), "LEFT": (-1, 0),
                                             "RIGHT": (1, 0)}[move]
    ahead, to = (px + dx, py + dy), (px + 2 * dx, py + 2 * dy)
    boxes, targets = {tuple(b) for b in before["boxes"]}, {tuple(t) for t in before["targets"]}
    moved = {tuple(b) for b in after["boxes"]}
    wall = before["walls"][ahead[1]][ahead[0]]
    if wall or (ahead in boxes and (before["walls"][to[1]][to[0]] or to in boxes)):
        assert after["player"] == before["player"] and moved == boxes
        what = "a wall" if wall else "a box that cannot move"
        return f"{move}: ({ahead[0]}, {ahead[1]}) is {what}, so nothing moves."
    assert tuple(after["player"]) == ahead
    if ahead not in boxes:
        assert moved == boxes
        return f"{move}: the player walks to ({ahead[0]}, {ahead[1]})."
    assert moved == boxes - {ahead} | {to}
    where = " onto a target" if to in targets else " off its target" if ahead in targets else ""
    return (f"{move}: the player pushes the box at ({ahead[0]}, {ahead[1]}) to ({to[0]}, {to[1]}){where} and "
            f"stands at ({ahead[0]}, {ahead[1]}).")


def test_sokoban_prediction_analysis_tells_each_move_as_the_engine_plays_it() -> None:
    """The state-prediction analysis walks through the moves one by one: each line says what the rules
    make of that move from the state the moves before it left (a wall or a stuck box stops the player, a
    push onto or off a target), and a sequence cut short by the solving move says so and tells no more."""
    mod, told = task_module("sokoban"), Counter()
    crowded = sokoban_room(player=[2, 3], boxes=[[2, 2], [3, 3], [4, 3]], targets=[[2, 2], [1, 1], [3, 2]],
                           score=1)  # a box on a target, one stuck behind another, one to push onto one
    solved_by_right = sokoban_room(player=[1, 2], boxes=[[2, 2]], targets=[[3, 2]])
    states = [crowded, solved_by_right, *sokoban_states()[::3]]
    for k, s in enumerate(states):
        for seed in range(60 if k < 2 else 4):
            d = mod._prediction_task(s, np.random.default_rng(seed), np.zeros((1, 1, 3), np.uint8))
            moves, played = d.extra["moves"], sokoban_play(s, d.extra["moves"])
            lines = [line for line in d.analysis.splitlines() if line.startswith("Move ")]
            assert len(lines) == len(played), (moves, d.analysis)
            before = s
            for j, (line, after) in enumerate(zip(lines, played, strict=True)):
                want = sokoban_told(before, moves[j], after)
                assert line == f"Move {j + 1}, {want}", (moves, j)
                told.update(w for w in ("a wall", "a box that cannot", "onto a target", "off its target",
                                        "walks", "pushes") if w in want)
                before = after
            cut = "the puzzle is solved and the remaining moves are not played" in d.analysis
            assert cut == (len(played) < len(moves)), (moves, d.analysis)
            told["cut"] += cut
    assert told.keys() == {"a wall", "a box that cannot", "onto a target", "off its target", "walks",
                           "pushes", "cut"}, told


def test_sokoban_prediction_asks_the_documented_move_counts_and_answers_after_the_last_move() -> None:
    """qa level 1, 2, 3 simulate 1, 2-3, 4-6 moves (the module docstring), and boxes on targets is counted
    after the last move played: pushes late in the sequence change the answer (random moves on the drafts'
    states rarely push a box onto a target, so an answer taken after the first move passed)."""
    from vlm.tasks.sokoban import _prediction_task, render

    # Boxes beside the player: a push onto the target (4, 2) or (2, 4) after a walk or two changes the count.
    s = sokoban_room(player=[2, 2], boxes=[[3, 2], [2, 3], [3, 4]], targets=[[4, 2], [2, 4], [1, 1]])
    lengths, changed = defaultdict(set), 0
    for seed in range(300):
        d = _prediction_task(s, np.random.default_rng(seed), render(s))
        moves = d.extra["moves"]
        lengths[d.qa_level].add(len(moves))
        if d.qa_type == "boxes_on_targets_after_moves":
            played = sokoban_play(s, moves)
            assert d.verifier["value"] == played[-1]["score"]
            changed += played[-1]["score"] != played[0]["score"]
    assert dict(lengths) == {1: {1}, 2: {2, 3}, 3: {4, 5, 6}}
    assert changed > 0


def _room(size: int, player: list[int], boxes: list[list[int]], targets: list[list[int]]) -> dict[str, Any]:
    """A Sokoban state: an empty room inside the wall ring."""
    walls = [[int(x in (0, size - 1) or y in (0, size - 1)) for x in range(size)] for y in range(size)]
    return {"game": "sokoban", "size": size, "walls": walls, "targets": targets, "boxes": boxes,
            "player": player, "step": 0, "max_steps": 200, "deadlock_end": False,
            "score": sum(b in targets for b in boxes), "done": False, "deadlocked": False, "rng": 1}


def test_sokoban_plan_levels_at_their_upper_bound() -> None:
    """The plan length's qa level (≤5, ≤15, more) at 15 and 16 moves, for the next move and the fewest
    moves: the box on the bottom row can only be pushed along it, so the player walks to the cell left of
    it ((p − 1) + 7 moves from (p, 1)) and pushes it 6 times onto the target (8, 8)."""
    mod = task_module("sokoban")
    levels = {}
    for p in (3, 4):
        state = _room(10, [p, 1], [[2, 8]], [[8, 8]])
        n = (p - 1) + 7 + 6
        nxt = mod.move_task(state)
        assert len(nxt.extra["solution"]) == n and nxt.verifier["accepted"] == ["DOWN", "LEFT"]
        fewest = mod._fewest_task(state, mod.render(state))
        assert fewest.verifier["value"] == n == len(sokoban_play(state, fewest.extra["solution"]))
        assert nxt.qa_level == fewest.qa_level
        levels[n] = fewest.qa_level
    assert levels == {15: 2, 16: 3}


def test_sokoban_box_questions_level_by_the_box_count() -> None:
    """Both box questions' qa level follows the number of boxes (≤2, ≤4, more), however many of them
    stand on targets."""
    mod = task_module("sokoban")
    cells = [[x, 2] for x in range(2, 8)]
    levels: dict[tuple[str, int, int], int] = {}
    for n in (2, 3, 4, 5):
        for on in (0, n):
            state = _room(10, [1, 1], cells[:n], cells[:on] + [[x, 5] for x in range(2, 2 + n - on)])
            for seed in range(30):
                d = mod._perception_task(state, np.random.default_rng(seed), mod.render(state))
                if d.qa_type in ("box_count", "boxes_on_targets"):
                    assert d.verifier["value"] == (n if d.qa_type == "box_count" else on)
                    levels[(d.qa_type, n, on)] = d.qa_level
    assert levels == {(q, n, on): _level(n, 2, 4) for q in ("box_count", "boxes_on_targets")
                      for n in (2, 3, 4, 5) for on in (0, n)}


def test_sokoban_pushes_are_told_onto_and_off_targets() -> None:
    mod = task_module("sokoban")
    s = sokoban_room(player=[2, 3], boxes=[[2, 2], [3, 3]], targets=[[2, 2], [4, 3]], score=1)
    for move, want in (("UP", "to (2, 1) off its target"), ("DOWN", "walks to (2, 4)"),
                       ("RIGHT", "to (4, 3) onto a target")):
        after = sokoban_play(s, [move])[0]
        text = mod.describe_move(s, move, after)
        assert want in text and text == sokoban_told(s, move, after)
    moved = sokoban_room(player=[1, 3], boxes=[[2, 3]], targets=[[4, 1]])
    after = sokoban_play(moved, ["RIGHT"])[0]  # a push from floor to floor: neither onto nor off
    assert mod.describe_move(moved, "RIGHT", after) == sokoban_told(moved, "RIGHT", after)


def test_sokoban_strategy_and_perception_analyses_agree_with_the_engine(drafts: dict) -> None:
    """The solution an analysis gives solves the puzzle on the engine in the number of moves it says,
    the moves after an optimal first one take one fewer, and a box listing marks exactly the boxes
    that stand on targets."""
    seen = set()
    for s, d in drafts["sokoban"]:
        if d.qa_type in ("next_move", "fewest_moves"):
            solution = d.extra["solution"]
            played = sokoban_play(s, solution)
            assert len(played) == len(solution) and played[-1]["done"]
            assert played[-1]["score"] == len(s["boxes"])
            n = len(solution)
            assert f"{n} move{'s' * (n != 1)}" in d.analysis.splitlines()[0]
            if d.qa_type == "next_move":
                assert f"(the rest then takes {n - 1})" in d.analysis
        elif d.qa_type in ("box_count", "boxes_on_targets"):
            targets = {tuple(t) for t in s["targets"]}
            listed = ", ".join(f"({x}, {y})" + (" (on a target)" if (x, y) in targets else "")
                               for x, y in s["boxes"])
            assert d.analysis.splitlines()[0] == f"The boxes are at {listed}."
        else:
            continue
        seen.add(d.qa_type)
    assert {"next_move", "fewest_moves"} <= seen and seen & {"box_count", "boxes_on_targets"}


def test_sokoban_an_unsolvable_state_gets_no_strategy_question() -> None:
    """A box pushed into a corner off any target (a run without deadlock_end plays on): the solver finds
    no solution, so no strategy record is made, and the VLM player's move prompt accepts any move
    and says it is unscored. A finished episode has no move to make."""
    mod = task_module("sokoban")
    stuck = sokoban_room(player=[2, 2], boxes=[[1, 1]], targets=[[3, 3]])
    for seed in range(12):
        assert all(d.family != "strategy" for d in mod.make_tasks(stuck, np.random.default_rng(seed)))
    move = mod.move_task(stuck)
    assert move.extra["scored"] is False and move.verifier["accepted"] == list(MOVES4)
    with pytest.raises(ValueError, match="over"):
        mod.move_task(sokoban_room(player=[2, 2], boxes=[[3, 3]], targets=[[3, 3]], score=1, done=True))


def test_sokoban_next_move_drops_no_optimal_move_past_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """DOWN and LEFT both start a 22-move solution of this level. Within 1,058 searched states the solver
    finishes the level but not the state after LEFT: LEFT was then left out of the accepted moves, so a right
    answer scored wrong. A move whose outcome the budget leaves unknown makes the question unscored."""
    mod = task_module("sokoban")
    rows = ("########", "#      #", "#      #", "#   ####", "# # ####", "#      #", "########", "########")
    walls = [[int(c == "#") for c in row] for row in rows]  # medium level 58
    state = {"game": "sokoban", "size": 8, "walls": walls, "targets": [[6, 1], [6, 5]],
             "boxes": [[2, 2], [2, 5]], "player": [3, 1], "step": 0, "max_steps": 120, "score": 0,
             "done": False, "deadlocked": False, "rng": 0}
    assert mod.move_task(state).verifier["accepted"] == ["DOWN", "LEFT"]
    monkeypatch.setattr(mod, "SOLVER_STATES", 1058)
    assert mod._solve(state) is not None  # the level itself is still solved within the budget
    move = mod.move_task(state)
    assert move.verifier["accepted"] == list(MOVES4) and move.extra["scored"] is False  # was ["DOWN"]


# ------------------------------------------------------------------------------ all games, registry
@pytest.mark.parametrize("game", GRID_GAMES)
def test_same_state_and_seed_give_identical_drafts(game: str) -> None:
    mod = task_module(game)
    state = STATES[game]()[1]
    a = mod.make_tasks(state, np.random.default_rng(11), {})
    b = mod.make_tasks(json.loads(json.dumps(state)), np.random.default_rng(11), {})
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert (x.family, x.qa_type, x.question, x.answer, x.analysis, x.options) == \
               (y.family, y.qa_type, y.question, y.answer, y.analysis, y.options)
        assert json.dumps(x.verifier) == json.dumps(y.verifier) and json.dumps(x.extra) == json.dumps(y.extra)
        assert all(np.array_equal(i, j) for i, j in zip(x.images, y.images, strict=True))


@pytest.mark.parametrize("game", GRID_GAMES)
def test_move_task_for_every_game(game: str) -> None:
    mod = task_module(game)
    state = next(s for s in STATES[game]() if not s["done"])
    d = mod.move_task(state)
    assert d.family == "strategy" and d.verifier["rule"] in ("word", "snake_best_worst")
    move = parse_move(reference_response(d), d)
    accepted = d.verifier.get("accepted", d.verifier.get("good"))
    assert move in accepted and move in mod.MOVES
    assert verify(reference_response(d), d)["overall"] == 1.0


def test_registry_lists_modules_and_explains_missing_ones() -> None:
    import envs

    assert set(GRID_GAMES) | {"pokemon_red"} <= set(TASK_GAMES) <= set(envs.GAMES)
    for game in TASK_GAMES:
        assert game == task_module(game).GAME
    with pytest.raises(ValueError, match=r"no VLM task module for 'gameboy' \(a known env\).*snake"):
        task_module("gameboy")
    # A name no package registers is not taken for another package's game: the file to add is named.
    with pytest.raises(ValueError, match=r"not an env .*; add vlm/tasks/tetris\.py \(GAME, make_tasks"):
        task_module("tetris")


def test_plural_and_grid_bfs_as_documented() -> None:
    """plural: "1 move", "0 moves", thousands with commas, an irregular plural when given; listed: "a, b and
    c". grid_bfs: the moves to the nearest goal and the cells reachable from the start, against a plain
    flood fill."""
    from vlm.tasks import grid_bfs, listed, plural

    assert [plural(n, "move") for n in (0, 1, 2)] == ["0 moves", "1 move", "2 moves"]
    assert plural(1000, "box", "boxes") == "1,000 boxes" and plural(1, "box", "boxes") == "1 box"
    # listed: "and" before the last word only (the card lists an export's three splits this way).
    assert [listed(["a", "b", "c"][:n]) for n in range(4)] == ["", "a", "a and b", "a, b and c"]
    rng = np.random.default_rng(0)
    for _ in range(40):
        size = int(rng.integers(2, 7))
        cells = [(x, y) for x in range(size) for y in range(size)]
        picked = rng.permutation(len(cells))
        start = cells[picked[0]]
        blocked = {cells[k] for k in picked[1:1 + int(rng.integers(size * size // 2))]}
        goals = {cells[k] for k in picked[:int(rng.integers(4))] if cells[k] not in blocked}
        dist, changed = {start: 0}, True
        while changed:  # relax every cell from its neighbours until nothing shortens
            changed = False
            for x, y in cells:
                if (x, y) in blocked or (x, y) == start:
                    continue
                near_cells = ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1))
                best = min((dist[n] + 1 for n in near_cells if n in dist), default=None)
                if best is not None and best < dist.get((x, y), size * size):
                    dist[(x, y)], changed = best, True
        near = min((dist[g] for g in goals if g in dist), default=None)
        assert grid_bfs(size, start, blocked, goals) == (near, len(dist) - 1), (size, start, blocked, goals)


def test_scratch_game_is_made_once_per_key_and_thread() -> None:
    import threading

    from vlm.tasks import scratch_game

    made: list[object] = []

    def make() -> object:
        made.append(object())
        return made[-1]

    first = scratch_game(("test", 1), make)
    assert scratch_game(("test", 1), make) is first and scratch_game(("test", 2), make) is not first
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(scratch_game(("test", 1), make)))
    thread.start()
    thread.join()
    assert other[0] is not first and len(made) == 3  # a game is not shared between threads


def test_a_task_module_without_the_contract_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    import vlm.tasks

    broken = types.ModuleType("vlm.tasks.snake")
    broken.GAME, broken.make_tasks = "snake", lambda *a: []
    monkeypatch.setitem(sys.modules, "vlm.tasks.snake", broken)
    with pytest.raises(TypeError, match=r"vlm/tasks/snake.py lacks move_task"):
        vlm.tasks.task_module("snake")


# -------------------------------------------------------------------------------------- Pokémon Red
def test_pokemon_red_tasks_on_the_test_cartridge() -> None:
    pytest.importorskip("pyboy")
    from envs.gameboy.pokemon import PokemonRed
    from envs.gameboy.roms import TEST_CARTRIDGE

    mod = task_module("pokemon_red")
    game = PokemonRed(1, rom=TEST_CARTRIDGE)
    try:
        game.reset(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.uint64))
        kinds = set()
        for t in range(12):
            game.step(np.array([3 if t < 3 else 1]))  # walk right, then down
            state, facts = game.get_state(0), game.read_facts(0)
            for d in (mod.make_tasks(state, np.random.default_rng(t), {})
                      + mod.make_tasks(state, np.random.default_rng(100 + t), {})):
                kinds.add(d.qa_type)
                check_generic(d)
                # the prompt names the game the screens come from: the cartridge, not Pokémon Red
                assert "screenshot of depthfirst's Game Boy test cartridge" in d.question
                assert d.question.count("Game Boy") == 1  # it read "... memory layout) (Game Boy)."
                want = {"badge_count": facts["badges"], "party_size": facts["party_count"],
                        "map_id": facts["map"], "player_tile": [facts["x"], facts["y"]]}
                if d.qa_type in want:
                    assert d.verifier["value"] == want[d.qa_type]
                elif d.qa_type == "in_battle":
                    assert d.verifier["accepted"] == ["yes" if facts["battle_type"] else "no"]
                else:
                    check_vision_zero(d, mod.render)
                    if d.qa_type == "difference_cell":
                        x, y = d.verifier["value"]
                        diff = np.argwhere(np.any(d.images[0] != d.images[1], axis=2))
                        cell = mod.CELL * (mod.SCALE // 8)
                        assert (diff // cell == [y, x]).all()  # only that square changed
        assert {"spot_difference", "difference_cell", "spy_game"} <= kinds and len(kinds) >= 6
        move = mod.move_task(state)
        assert "test cartridge" in move.question
        # a state exported before `title` existed is named by its ROM
        old = {k: v for k, v in state.items() if k != "title"}
        assert mod.context(old) == mod.context(state)
        blue = "d7037c83e1ae5b39bde3c30787637ba1d4c48ce2"
        assert "Pokémon Blue (Game Boy)" in mod.context({"rom_sha1": blue})
        # an unknown ROM's name says Game Boy itself: "... memory layout (Game Boy)" said it twice
        assert mod.context({"rom_sha1": "ab" * 20}).startswith(
            "The image is a screenshot of a Game Boy game in Pokémon Red's memory layout. The questions")
        assert move.extra["scored"] is False and parse_move("<answer>start</answer>", move) == "start"
        assert verify("<think>a</think><answer>b</answer>", move)["overall"] == 1.0
    finally:
        game.close()


def test_pokemon_edit_never_picks_a_square_whose_mirror_is_its_flip() -> None:
    """A square unchanged by a half turn mirrors into exactly its upside-down flip, so "mirrored" and
    "flipped" would both describe the edit: only a square where they differ may be edited."""
    import base64

    from envs.png import encode_png

    mod = task_module("pokemon_red")
    rgb = np.full((144, 160, 3), 255, np.uint8)
    for r in range(9):
        for c in range(10):
            rgb[16 * r, 16 * c] = rgb[16 * r + 15, 16 * c + 15] = 0  # the same after a half turn
    rgb[2 * 16 + 15, 3 * 16 + 15] = 255  # square (3, 2): one corner only, so mirror and flip differ
    state = {"screen_png": base64.b64encode(encode_png(rgb)).decode("ascii")}
    make = mod._make_edit(state)
    for seed in range(20):
        edit = make(np.random.default_rng(seed))
        assert edit is not None and edit.appeared == [3, 2], edit


def pokemon_state(rgb: np.ndarray, **facts: Any) -> dict[str, Any]:
    """A Pokémon state as the env exports it, with its RAM facts, built without an emulator."""
    import base64

    from envs.png import encode_png

    return {"screen_png": base64.b64encode(encode_png(rgb)).decode("ascii"), "title": "Pokémon Red",
            **{"map": 0, "x": 3, "y": 4, "badges": 0, "event_flags": 0, "party_count": 1, "levels": [5],
               "battle_type": 0, **facts}}


def test_pokemon_s_map_id_and_the_spy_s_number_are_no_counts() -> None:
    """A map id and a player's number are marked "count": false, so "None" is no map 0 (Pallet Town);
    the badge count and the party size stay counts, where "None" is 0."""
    mod = task_module("pokemon_red")
    state = pokemon_state(np.random.default_rng(0).integers(0, 256, (144, 160, 3), dtype=np.uint8))
    seen = {}
    for seed in range(40):
        for d in mod.make_tasks(state, np.random.default_rng(seed), {}):
            if d.verifier["rule"] == "integer":
                seen[d.qa_type] = d
    assert set(seen) == {"badge_count", "party_size", "map_id", "spy_game"}, set(seen)
    assert seen["map_id"].verifier == {"rule": "integer", "value": 0, "count": False}
    assert seen["spy_game"].verifier["count"] is False
    assert "count" not in seen["badge_count"].verifier  # a count's spec is as before
    assert verify("<think>a</think><answer>None</answer>", seen["map_id"])["accuracy"] == 0.0
    assert verify("<think>a</think><answer>0</answer>", seen["map_id"])["accuracy"] == 1.0
    assert verify("<think>a</think><answer>None</answer>", seen["badge_count"])["accuracy"] == 1.0


NOUNS = {"apple_count": "apples", "cube_count": "cubes", "box_count": "boxes", "badge_count": "badges",
         "party_size": "Pok\u00e9mon"}


@pytest.mark.parametrize("game", [*GRID_GAMES, "pokemon_red"])
def test_a_count_that_asks_how_many_of_a_noun_names_it_in_its_spec(drafts: dict, game: str) -> None:
    """"No apples, 3 walls" read 3 on the apple count: the spec named no noun. The perception counts that ask
    "How many <noun>?" now name it ("noun"), so "No <noun>, 7 walls" is 0; other integers carry none."""
    if game == "pokemon_red":
        mod = task_module("pokemon_red")
        state = pokemon_state(np.random.default_rng(0).integers(0, 256, (144, 160, 3), dtype=np.uint8))
        pairs = [(None, d) for seed in range(40)
                 for d in mod.make_tasks(state, np.random.default_rng(seed), {})]
    else:
        pairs = drafts[game]
    integers = [d for _, d in pairs if d.verifier["rule"] == "integer"]
    assert integers
    for d in integers:
        noun = NOUNS.get(d.qa_type)
        assert d.verifier.get("noun") == noun, d.qa_type
        assert verify(reference_response(d), d)["accuracy"] == 1.0
        if noun:
            zero = float(d.verifier["value"] == 0)
            assert verify(f"<answer>No {noun}, 7 walls</answer>", d)["accuracy"] == zero, d.qa_type


def test_pokemon_edit_turns_the_square_the_way_its_kind_says() -> None:
    """"Mirrored" is left to right and "flipped" upside down, in the answer's square, nothing else: the
    spot-the-difference answer is the kind's text."""
    mod = task_module("pokemon_red")
    rgb = np.random.default_rng(0).integers(0, 256, (144, 160, 3), dtype=np.uint8)
    state = pokemon_state(rgb)
    kinds = Counter()
    for seed in range(12):
        edit = mod._make_edit(state)(np.random.default_rng(seed))
        edited = mod.screen(edit.state)
        (x, y), square = edit.appeared, np.s_[16 * edit.appeared[1]:16 * edit.appeared[1] + 16,
                                              16 * edit.appeared[0]:16 * edit.appeared[0] + 16]
        block = rgb[square]
        want = block[:, ::-1] if edit.kind == "mirrored" else block[::-1, :]
        assert np.array_equal(edited[square], want), edit.kind
        rest = np.ones(rgb.shape[:2], bool)
        rest[square] = False
        assert np.array_equal(edited[rest], rgb[rest]) and 0 <= x < 10 and 0 <= y < 9
        kinds[edit.kind] += 1
    assert kinds.keys() == {"mirrored", "flipped"}


def test_pokemon_edit_picks_a_square_the_turn_changes() -> None:
    """A square that is its own mirror image (or its own flip) looks the same after that edit: the edit
    skips it for a square the turn does change, so the edited screenshot always differs. Any of the
    10 × 9 squares may be the one, the last column and row too."""
    mod = task_module("pokemon_red")
    rgb = np.full((144, 160, 3), 255, np.uint8)
    rgb[::16] = 0  # every square's top pixel row dark: each square is its own mirror image, not its own flip
    rgb[16 * 5 + 3, 16 * 7 + 2] = 0  # square (7, 5): one pixel more, so mirroring changes it too
    state = pokemon_state(rgb)
    kinds = Counter()
    for seed in range(16):
        edit = mod._make_edit(state)(np.random.default_rng(seed))
        assert edit is not None and not np.array_equal(mod.screen(edit.state), rgb), edit
        if edit.kind == "mirrored":
            assert edit.appeared == [7, 5]
        way = {"mirrored": "turned left to right", "flipped": "turned upside down"}[edit.kind]
        assert way in " ".join(edit.steps), (edit.kind, edit.steps)
        kinds[edit.kind] += 1
    assert kinds.keys() == {"mirrored", "flipped"}
    corner = np.full((144, 160, 3), 255, np.uint8)
    corner[16 * 8 + 1, 16 * 9 + 2] = 0  # only the bottom-right square, (9, 8), changes when turned
    for seed in range(4):
        assert mod._make_edit(pokemon_state(corner))(np.random.default_rng(seed)).appeared == [9, 8]


def test_pokemon_plot_level_counts_distinct_8x8_tiles() -> None:
    """Levels by distinct 8×8 tiles of the screen: ≤40 level 1, ≤120 level 2, more level 3."""
    mod = task_module("pokemon_red")

    def screen_with(n: int) -> dict[str, Any]:
        # tile (row r, column c) is one flat grey, n different greys in all, the first n tiles distinct
        grey = np.minimum(np.arange(18 * 20), n - 1).reshape(18, 20).astype(np.uint8)
        return pokemon_state(np.repeat(np.repeat(grey, 8, axis=0), 8, axis=1)[..., None].repeat(3, axis=2))

    assert [mod.plot_level(screen_with(n)) for n in (1, 40, 41, 120, 121, 256)] == [1, 1, 2, 2, 3, 3]
    # a tile is an 8×8 square, not 64 pixels in a row: vertical stripes 8 wide give one tile per column
    stripes = np.repeat(np.arange(20, dtype=np.uint8) * 12, 8)[None, :, None].repeat(144, 0).repeat(3, 2)
    stripes[::2] //= 2  # every other pixel row darker: 20 distinct tiles, each with both shades
    assert mod.plot_level(pokemon_state(stripes)) == 1
    # distinct tiles, not distinct colours: 360 tiles of black and white (tile k shows the bits of k)
    bits = (np.arange(360)[:, None] >> np.arange(64)[None, :]) & 1
    tiles = (bits * 255).astype(np.uint8).reshape(18, 20, 8, 8).transpose(0, 2, 1, 3).reshape(144, 160)
    assert mod.plot_level(pokemon_state(tiles[..., None].repeat(3, axis=2))) == 3


def test_pokemon_battle_question_counts_any_battle_type() -> None:
    """wIsInBattle is 0 outside battle, 1 in a wild one, 2 in a trainer battle: both are battles. -1 (255)
    is a lost battle already over: pokered's overworld loop sets it after EndOfBattle cleared the flag,
    once AnyPartyAlive finds no Pokémon standing, until the blackout resets it (a white or fading
    screen); it was answered "yes"."""
    mod = task_module("pokemon_red")
    rgb = np.zeros((144, 160, 3), np.uint8)
    for battle_type, answer in ((0, "no"), (1, "yes"), (2, "yes"), (255, "no")):
        state = pokemon_state(rgb, battle_type=battle_type)
        drafts = [d for seed in range(20) for d in mod.make_tasks(state, np.random.default_rng(seed))
                  if d.qa_type == "in_battle"]
        assert drafts and all(d.verifier["accepted"] == [answer] for d in drafts), battle_type
        why = {0: "no battle.", 255: "a lost battle, over: the player blacks out."}.get(battle_type,
                                                                                   "a battle is on.")
        assert all(f"(wIsInBattle) is {battle_type}: {why}" in d.analysis for d in drafts), battle_type


def test_counts_in_analyses_are_pluralised():
    near = {**TRAP, "apple": [2, 0], "body": [[2, 2], [2, 3], [2, 4]], "step": 2, "score": 0}
    analysis = task_module("snake").move_task(near).analysis
    assert "the apple is 1 move away" in analysis and "apple 1 move away)" in analysis
    assert "the apple is 3 moves away" in analysis and " 1 moves" not in analysis


def test_the_move_that_fills_the_board_is_the_best_a_win_not_a_dead_end() -> None:
    body = [[1, 3], [2, 3], [3, 3], [3, 2], [2, 2], [1, 2], [0, 2], [0, 1], [1, 1], [2, 1], [3, 1], [3, 0],
            [2, 0], [1, 0], [0, 0]]  # 15 of 16 cells; the apple on the last one, left of the head
    state = {"game": "snake", "size": 4, "apple": [0, 3], "direction": "LEFT", "step": 99,
             "steps_since_apple": 0, "starvation": 32, "score": 12, "done": False, "rng": 1, "body": body}
    d = task_module("snake").move_task(state)
    assert d.verifier["good"] == ["LEFT"]
    assert "wins" in d.analysis and "dead end:" not in d.analysis


def test_rotation_analyses_count_turns_in_the_right_number() -> None:
    """The analyses read "1 quarter turn", "2 quarter turns", "then 1 turn remains": they said "1 turn(s)
    remain" and "2 quarter turn(s) X+"."""
    import re

    mod = task_module("rotation")
    wrong = re.compile(r"\(s\)|\b1 (quarter )?turns\b|\b1 turns? remain\b|\b([02-9]|\d\d+) (quarter )?turn\b|"
                       r"\b([02-9]|\d\d+) turns remains\b")
    seen: Counter[str] = Counter()
    for seed in range(40):
        state = rotation_state(seed)
        drafts = mod.make_tasks(state, np.random.default_rng(seed))
        if state["rotation_index"] != rotation_index(state["target_rotation"]):
            drafts.append(mod.move_task(state))
        for d in drafts:
            assert not wrong.search(d.analysis), d.analysis
            seen.update(m.group(0) for m in re.finditer(r"\b\d+ (quarter )?turns?( remains?)?\b", d.analysis))
    assert {"1 quarter turn", "2 quarter turns", "1 turn remains", "2 turns remain"} <= set(seen), seen


def test_rotation_turns_are_all_played_near_the_episodes_step_limit() -> None:
    # A state two steps before its episode's 50-step truncation: the question's three turns are all
    # applied ("stop early if it matches the target" is the only early stop it states).
    module = task_module("rotation")
    game = Rotation(1, max_cubes=8)
    game.reset(np.array([0]), np.array([3], dtype=np.uint64))
    state = {**game.get_state(0), "step": 48}
    r, t = state["rotation_index"], state["target_index"]
    moves, cur = None, r
    for seq in itertools.product(TURNS, repeat=3):  # three turns that never match the target on the way
        cur, path = r, []
        for m in seq:
            cur = int(TURN[cur, TURNS.index(m)])
            path.append(cur)
        if t not in path:
            moves = list(seq)
            break
    assert moves is not None
    played = module.simulate(state, moves)
    assert [p["rotation_index"] for p in played] == path
    assert not any(p["done"] for p in played)
    # An episode's last state, cut off at its step limit unsolved (done): the turns are still played.
    truncated = {**state, "step": state["max_steps"], "done": True}
    played = module.simulate(truncated, moves)
    assert [p["rotation_index"] for p in played] == path
    assert not any(p["done"] for p in played)


def test_play_moves_gives_the_state_after_each_move_and_stops_at_the_one_that_ends_the_episode() -> None:
    # Rotation's and Sokoban's simulate. Twelve UPs (straight on when heading DOWN) on a 10×10 board run the
    # snake into a wall before the last: the moves after it are not played.
    game = Snake(1)
    game.reset(np.array([0]), np.array([5], dtype=np.uint64))
    state = game.get_state(0)
    played = play_moves(Snake(1), state, ["UP"] * 12)
    assert played[-1]["done"] and not any(p["done"] for p in played[:-1])
    for after in played:  # each as the engine steps it
        game.step(np.array([0]))
        assert game.get_state(0) == after


def test_sokoban_moves_are_all_played_whatever_the_states_step_limit() -> None:
    # The game keeps a state's own max_steps; the questions' moves are played without one.
    game = Sokoban(1, difficulty="medium")
    game.reset(np.array([0]), np.array([1], dtype=np.uint64))
    state = {**game.get_state(0), "max_steps": 1}
    moves = ["UP", "DOWN", "UP", "DOWN"]
    played = task_module("sokoban").simulate(state, moves)
    assert len(played) == len(moves) and not any(p["done"] for p in played)


def test_rotation_questions_describe_the_axes_as_the_picture_draws_them() -> None:
    # A bar of three cubes along each world axis, blue at 0 and red at +2: where red lies from blue on
    # screen is where that axis points in the picture.
    frame = task_module("rotation").FRAME_TEXT
    shown = {}
    for k, axis in enumerate("xyz"):
        cubes = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
        cubes[1][k], cubes[2][k] = 1, 2
        img = render_view({"cubes": cubes, "colors": [[0, 0, 255], [0, 255, 0], [255, 0, 0]]}, 0, 200)
        img = img.astype(int)
        red = np.argwhere((img[..., 0] > 0) & (img[..., 1] == 0) & (img[..., 2] == 0)).mean(axis=0)
        blue = np.argwhere((img[..., 2] > 0) & (img[..., 0] == 0) & (img[..., 1] == 0)).mean(axis=0)
        dy, dx = red - blue  # image rows grow downward
        shown[axis] = np.degrees(np.arctan2(dy, dx))  # 0 right, 90 down, 180 left, -90 up
    assert 120 < shown["x"] < 150 and "+x points down-left" in frame
    assert 5 < shown["y"] < 30 and "+y points right and slightly down" in frame
    assert abs(shown["z"] + 90) < 1 and "+z points up" in frame


def _level(value: int, low: int, high: int) -> int:
    return 1 if value <= low else 2 if value <= high else 3


def test_levels_follow_each_modules_documented_rule(drafts: dict) -> None:
    """GameQA levels as the task modules' docstrings define them (the curriculum's stages are built on
    them): Snake's plot level from the length shifted by the board size, its qa level from the moves to
    simulate or the plan length; Rotation's from the cube count, and for the rotation angle 1 exactly
    when the axis is given; Sokoban's from the board size and the solution length."""
    snake = task_module("snake")
    checked = Counter()
    for s, d in drafts["snake"]:
        shift = 1 if s["size"] >= 16 else -1 if s["size"] <= 6 else 0
        assert d.plot_level == min(3, max(1, _level(len(s["body"]), 5, 12) + shift))
        if "moves" in d.extra:
            assert d.qa_level == _level(len(d.extra["moves"]), 1, 3), d.qa_type
        elif d.qa_type == "shortest_path":
            assert d.qa_level == _level(len(d.extra["path"]), 4, 10)
        elif d.qa_type == "best_worst_move" and d.verifier["good"]:
            info = snake.move_analysis(s)
            assert d.qa_level == _level(info["key"][info["good"][0]][1], 2, 6)
        else:
            continue
        checked[d.qa_type] += 1
    for s, d in drafts["rotation"]:
        assert d.plot_level == _level(len(s["cubes"]), 4, 6)
        if d.qa_type == "rotation_angle":
            assert d.verifier["axis_given"] == (d.qa_level == 1) == (d.verifier["options"] == [
                "90°", "180°", "270°"])
            if d.verifier["axis_given"]:  # the angle alone, without the letter or the axis, is right
                assert verify(f"<think>x</think><answer>{d.extra['angle']}°</answer>", d)["accuracy"] == 1.0
            checked[d.qa_type] += 1
        elif d.qa_type == "min_turns":
            assert d.qa_level == max(1, d.verifier["value"])
            checked[d.qa_type] += 1
    for s, d in drafts["sokoban"]:
        assert d.plot_level == _level(s["size"], 6, 8)
        if "moves" in d.extra:
            assert d.qa_level == _level(len(d.extra["moves"]), 1, 3)
        elif "solution" in d.extra:
            assert d.qa_level == _level(len(d.extra["solution"]), 5, 15)
        else:
            continue
        checked[d.qa_type] += 1
    assert {"best_worst_move", "rotation_angle", "fewest_moves"} <= checked.keys(), checked
    # The board-size shift at its bounds: ≤6 one easier, ≥16 one harder (a 3-cell snake is level 1).
    body = [[0, 0], [0, 1], [0, 2]]
    assert [snake.plot_level({"size": n, "body": body}) for n in (6, 7, 15, 16)] == [1, 1, 1, 2]
    assert snake.plot_level({"size": 6, "body": body * 2}) == 1 and snake.plot_level(
        {"size": 7, "body": body * 2}) == 2


def test_snake_shortest_path_is_none_without_an_apple_or_a_way_out() -> None:
    mod = task_module("snake")
    # The head (0,0) is boxed in by its own neck and a body cell that frees only after 2 moves: no first move.
    boxed = {"game": "snake", "size": 3, "apple": [2, 2], "direction": "LEFT", "step": 10,
             "steps_since_apple": 0, "starvation": 50, "score": 3, "done": False, "rng": 1,
             "body": [[0, 0], [1, 0], [1, 1], [0, 1], [0, 2]]}
    assert mod.shortest_path(boxed) is None
    assert mod._path_task(boxed, mod.render(boxed)) is None  # no path: no strategy question
    assert mod.shortest_path({**boxed, "apple": None}) is None  # a snake that filled the board: no apple


def edits(make: Any, seeds: int = 40) -> list[Any]:
    return [make(np.random.default_rng(seed)) for seed in range(seeds)]


def test_edit_makers_give_none_where_no_edit_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    """An edit that needs a free cell (or a cube in view) is not drawn where there is none: the maker says
    None (the state then gets no Vision-Zero question) instead of failing on an empty choice."""
    # Snake: the tail (0,0) touches only the apple and the neck, so "longer" fits nowhere; the apple can move.
    snake = {"game": "snake", "size": 2, "apple": [1, 0], "direction": "DOWN", "step": 3,
             "steps_since_apple": 0, "starvation": 50, "score": 1, "done": False, "rng": 1,
             "body": [[0, 1], [0, 0]]}
    made = edits(task_module("snake")._make_edit(snake))
    assert None in made and {e.kind for e in made if e is not None} == {"apple_moved"}
    # Duel: apples on every free cell but one that touches no tail: neither snake can grow.
    duel = duel_states()[0]
    tails = [tuple(s["body"][-1]) for s in duel["snakes"]]
    taken = {tuple(c) for s in duel["snakes"] for c in s["body"]} | {tuple(a) for a in duel["apples"]}
    free = [(x, y) for y in range(duel["size"]) for x in range(duel["size"]) if (x, y) not in taken]
    spare = next(c for c in free if all(abs(c[0] - x) + abs(c[1] - y) > 1 for x, y in tails))
    duel = {**duel, "apples": [*duel["apples"], *([x, y] for x, y in free if (x, y) != spare)]}
    made = edits(task_module("snake_duel")._make_edit(duel))
    assert None in made and {e.kind for e in made if e is not None} == {"apple_moved", "extra_apple"}
    full = {**duel, "apples": [*duel["apples"], list(spare)]}  # no free cell at all
    assert edits(task_module("snake_duel")._make_edit(full)) == [None] * 40
    # Sokoban: walls on every cell the player, a box or a target does not hold.
    room = sokoban_states()[0]
    held = {tuple(room["player"]), *map(tuple, room["boxes"]), *map(tuple, room["targets"])}
    n = room["size"]
    walled = {**room, "walls": [[(x, y) not in held for x in range(n)] for y in range(n)]}
    assert edits(task_module("sokoban")._make_edit(walled)) == [None] * 40
    # Rotation: no cube clearly in view, so none to recolour or swap.
    rotation = task_module("rotation")
    monkeypatch.setattr(rotation, "_shown", lambda state, rotations: np.zeros(len(state["colors"]), bool))
    assert edits(rotation._make_edit(rotation_state(0), 0)) == [None] * 40


def test_an_apple_edit_puts_the_apple_on_a_cell_that_was_free() -> None:
    """A moved or extra apple lands on a cell nothing held: never under a snake (a picture the game can
    never show, whose snake the text calls unchanged) nor on another apple."""
    for game in ("snake", "snake_duel"):
        mod, kinds = task_module(game), set()
        for s in STATES[game]():
            bodies = [s["body"]] if game == "snake" else [p["body"] for p in s["snakes"]]
            apples = [s["apple"]] if game == "snake" else s["apples"]
            taken = {tuple(c) for b in bodies for c in b} | {tuple(a) for a in apples if a is not None}
            for e in edits(mod._make_edit(s), 20):
                if e is not None and e.kind in ("apple_moved", "extra_apple"):
                    assert tuple(e.appeared) not in taken, (game, e.kind, e.appeared)
                    kinds.add(e.kind)
        assert kinds == {k for k in mod.EDIT_KINDS if "apple" in k}, (game, kinds)


def test_sokoban_an_edited_state_loads_back_with_its_score_counted_again() -> None:
    """A box moved off its target by a Vision-Zero edit kept the original's score: ``set_state`` refuses a
    score other than the boxes on targets, so the exported ``edited_state`` could not be loaded back."""
    mod = task_module("sokoban")
    s = sokoban_room(player=[1, 1], boxes=[[2, 2], [3, 3]], targets=[[2, 2], [4, 4]], score=1)
    edits = [e for e in (mod._make_edit(s)(np.random.default_rng(k)) for k in range(60))
             if e is not None and e.kind == "box_moved"]
    assert any(e.state["boxes"][0] != [2, 2] for e in edits)  # the box on its target moved, in some
    for e in edits:
        targets = {tuple(t) for t in e.state["targets"]}
        assert e.state["score"] == sum(tuple(b) in targets for b in e.state["boxes"])
        game = Sokoban(1, size=6, num_boxes=2)
        game.set_state(0, e.state)
        assert game.get_state(0)["score"] == e.state["score"]


def test_an_analysis_counting_one_thing_names_it_in_the_singular() -> None:
    """Exported analyses said "1 apples instead of 0" (duel Snake's extra apple on a board with none) and
    "has 1 bits set" (Pokémon's badge count): they name the count's thing as ``plural`` does."""
    duel = task_module("snake_duel")
    state = dict(duel_states()[0], apples=[])
    edits = [duel._make_edit(state)(np.random.default_rng(seed)) for seed in range(20)]
    (steps, *_) = [e.steps for e in edits if e is not None and e.kind == "extra_apple"]
    assert steps[0].endswith(": 1 apple instead of 0."), steps
    mod = task_module("pokemon_red")
    rgb = np.random.default_rng(0).integers(0, 256, (144, 160, 3), dtype=np.uint8)
    for badges, said in [(1, "has 1 bit set."), (2, "has 2 bits set.")]:
        drafts = [d for seed in range(40)
                  for d in mod.make_tasks(pokemon_state(rgb, badges=badges), np.random.default_rng(seed), {})
                  if d.qa_type == "badge_count"]
        assert drafts and all(said in d.analysis for d in drafts), drafts[:1]
