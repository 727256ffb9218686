"""Duel Snake tasks (you are snake 0, green with a yellow head; the opponent is blue): perception, state
prediction, strategy (ViGaL best/worst move against every reply) and Vision-Zero image games. Every
answer comes from ``envs.snake_duel`` (a scratch game with ``opponent="policy"``, ``set_state``, ``step``).

Definitions the questions state and the analysis follows:
- a *fatal* move kills your snake whatever the opponent does (each of its four moves is played on the
  engine); a *safe* move survives all of them; the others are *risky*.
- a *best* move is safe (risky when no move is safe), is not into a dead end (from the new head fewer
  free cells are reachable than your snake is long now, both snakes blocking, heads included (the
  question says so: its pictures call the head apart from the body), except the tails, which move
  away, and the new head's cell not counted; a dead end only when every candidate is one) and, among
  those, is closest to an apple along the same free cells. Ties are all accepted.
- state prediction gives both snakes' moves; questions are only asked when no apple is eaten before
  the last round (new apples appear at random, off the image).

Levels: ``plot_level`` from the two snakes' total length (≤8, ≤16, more); ``qa_level`` from the rounds
to simulate (1, 2–3, 4–5) or, for the best move, the distance to the apple (≤2, ≤6, more).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.snake_duel import ACTION_NAMES, SnakeDuel
from vlm.prompts import (
    Edit,
    MakeEdit,
    cell,
    choice_draft,
    coordinate_draft,
    grid_image_scale,
    grid_text,
    integer_draft,
    level,
    redraw_cells,
    vision_zero_drafts,
)
from vlm.record import TaskDraft
from vlm.tasks import OPPOSITE, STEP, grid_bfs, plural, scratch_game
from vlm.tasks.snake import FAR, best_worst_draft, effective_move, random_moves, target_cell

GAME = "snake_duel"
MOVES: tuple[str, ...] = ACTION_NAMES

RULES_TEXT = ("Both snakes move at the same time, one cell per round: UP (y − 1), DOWN (y + 1), LEFT (x − "
              "1), RIGHT (x + 1). A snake that lands on an apple grows by one (its tail stays); otherwise "
              "its tail cell frees up. A snake dies if its head leaves the board, enters a body cell (a "
              "tail leaving this round does not count), lands on the other head's new cell, or swaps cells "
              "with the other head. A move back into the neck is ignored: that snake goes straight on. The "
              "game ends when a snake dies.")


def render(state: dict[str, Any]) -> np.ndarray:
    return SnakeDuel.render_state(state, grid_image_scale(state["size"]))


def _occupants(state: dict[str, Any]) -> dict[tuple[int, int], tuple[str, ...]]:
    cells: dict[tuple[int, int], tuple[str, ...]] = {}
    for a in state["apples"]:
        cells[tuple(a)] = ("apple",)
    for p, snake in enumerate(state["snakes"]):  # in drawing order: a dead head may lie on a body
        for k, c in enumerate(snake["body"]):
            part = f"snake {p} " + ("body" if k else f"head alive={snake['alive']}")
            cells[tuple(c)] = (*cells.get(tuple(c), ()), part)
    return cells


def render_edit(state: dict[str, Any], edited: dict[str, Any], image: np.ndarray | None = None) -> np.ndarray:
    """The picture of ``edited``, a Vision-Zero edit of ``state`` (whose picture is ``image``): only the
    cells the edit changed are redrawn, so a body's fade, which depends on the snake's length, keeps
    every other cell's shade (an added tail cell is drawn with its half of the joint to the old tail)."""
    return redraw_cells(render(state) if image is None else image, render(edited), _occupants(state),
                        _occupants(edited), grid_image_scale(state["size"]))


def context(state: dict[str, Any]) -> str:
    return (f"The image shows a two-player Snake game. {grid_text(state['size'])} Your snake is green with a "
            "yellow head; the opponent's snake is blue with a light-blue head (bodies are brightest next to "
            "the head). Apples are red. A dead snake's head is crossed out.")


def plot_level(state: dict[str, Any]) -> int:
    return level(sum(len(s["body"]) for s in state["snakes"]), (8, 16))


def _scratch(state: dict[str, Any]) -> SnakeDuel:
    # One game per board size: set_state takes num_apples and max_rounds from the state (or the game's
    # defaults, 5 and 100, when the state has none).
    return scratch_game((GAME, state["size"]),
                        lambda: SnakeDuel(1, size=state["size"], start_length=2, opponent="policy"))


def simulate(state: dict[str, Any], mine: list[str], theirs: list[str]) -> list[dict[str, Any]]:
    """Play the rounds (your move, the opponent's move) on the engine; the states after each round,
    stopping when the game ends."""
    game = _scratch(state)
    game.set_state(0, state)
    out = []
    for a, b in zip(mine, theirs, strict=True):
        game.set_opponent_actions(np.array([MOVES.index(b)]))
        game.step(np.array([MOVES.index(a)]))
        out.append(game.get_state(0))
        if out[-1]["done"]:
            break
    return out


def describe_target(state: dict[str, Any], p: int, move: str) -> str:
    x, y = target_cell(state["snakes"][p], move)
    n = state["size"]
    if not (0 <= x < n and 0 <= y < n):
        return f"{cell((x, y))} is off the board"
    for q, snake in enumerate(state["snakes"]):
        body = [tuple(c) for c in snake["body"]]
        if (x, y) in body:
            whose = "its own" if q == p else "the other snake's"
            k = body.index((x, y))
            part = "head" if k == 0 else "tail" if k == len(body) - 1 else f"body (segment {k + 1})"
            return f"{cell((x, y))} is {whose} {part}"
    if [x, y] in state["apples"]:
        return f"{cell((x, y))} holds an apple"
    return f"{cell((x, y))} is empty"


def move_analysis(state: dict[str, Any]) -> dict[str, Any]:
    """Your every move against every opponent reply on the engine; fatal, safe and best moves."""
    me, other = state["snakes"]
    heading, back = me["direction"], OPPOSITE[me["direction"]]
    lines = [f"Your head is at {cell(me['body'][0])}, heading {heading}, length {len(me['body'])}; the blue "
             f"head is at {cell(other['body'][0])}, heading {other['direction']}, length "
             f"{len(other['body'])}.",
             f"{back} would go back into your neck, so the engine plays it as {heading}."]
    fatal, safe, risky, key = [], [], [], {}
    # A move's room is counted through the cells free now: both bodies block, except their tails.
    blocked = {tuple(c) for s in state["snakes"] for c in s["body"][:-1]}
    apples = {tuple(a) for a in state["apples"]}
    for m in MOVES:
        deaths = [b for b in MOVES if not simulate(state, [m], [b])[0]["snakes"][0]["alive"]]
        what = describe_target(state, 0, m)
        if len(deaths) == len(MOVES):
            fatal.append(m)
            if m != back:
                lines.append(f"{m}: {what}. You die whatever blue does: fatal.")
            continue
        if deaths:
            risky.append(m)
            kills = sorted({effective_move(other, b) for b in deaths}, key=MOVES.index)
            note = f"Risky: you die if blue moves {' or '.join(kills)}."
        else:
            safe.append(m)
            note = "Safe against every blue move."
        if m == back:
            continue
        dist, reach = grid_bfs(state["size"], target_cell(me, m), blocked, apples)
        far = "no apple is reachable" if dist is None else f"the nearest apple is {plural(dist, 'move')} away"
        trapped = reach < len(me["body"])
        lines.append(f"{m}: {what}. {note} From there {far}; "
                     f"{plural(reach, 'free cell is', 'free cells are')} reachable"
                     + (f", fewer than your length {len(me['body'])}: a dead end." if trapped else "."))
        key[m] = (int(trapped), FAR if dist is None else dist)
    if back in fatal:
        lines.append(f"{back}: played as {heading}, which is fatal, so {back} is fatal too.")
    pool = [m for m in safe if m in key] or [m for m in risky if m in key]
    good = []
    if pool:
        best_key = min(key[m] for m in pool)
        good = [m for m in MOVES if m in pool and key[m] == best_key]
    return {"fatal": fatal, "safe": safe, "risky": risky, "good": good, "key": key, "lines": lines}


def move_task(state: dict[str, Any]) -> TaskDraft:
    """ViGaL's best/worst question for your snake (fatal = dead whatever the opponent does)."""
    if state.get("done"):
        raise ValueError("the duel is over (state['done'] is true): there is no move to make")
    info = move_analysis(state)
    best_line = None
    if info["good"]:
        kind = "safe" if info["good"][0] in info["safe"] else "risky (no move is safe)"
        trapped, d = info["key"][info["good"][0]]
        end = f"every {kind.split()[0]} move leads into a dead end" if trapped else "no dead end"
        best_line = (f"Best: {' or '.join(info['good'])} ({kind}, {end}, "
                     + (f"nearest apple {plural(d, 'move')} away)." if d < FAR else "no apple reachable)."))
    question = (
        f"{context(state)}\n\n{RULES_TEXT}\n\nYou control the green snake. Which move is best now, and which "
        "moves are fatal? A fatal move kills your snake whatever the blue snake does. The best move is "
        "never the move back into your neck (the engine plays that as straight on). It survives every "
        "blue move if any move does, and does not lead into a dead end (if every such move does, it is "
        "one of them); among those it brings your head closest to an apple counting moves along free "
        "cells (landing on an apple is 0 moves; apples out of reach are farthest). Free cells are those "
        "free now: every cell of both snakes blocks, heads included, except the two tails (they move "
        "away). A move leads into a dead "
        "end when fewer free cells are reachable from the cell it takes your head to (that cell not "
        "counted) than your snake is long now, before the move. Equally good moves are all accepted.\n\n"
        "Think step by step inside <think></think>. Then give the best move inside "
        "<best_answer></best_answer> (one of UP, DOWN, LEFT, RIGHT; None if every move is fatal) and every "
        "fatal move inside <worst_answer></worst_answer> (comma-separated; None if no move is fatal).")
    return best_worst_draft(state, info, best_line, question, render(state), plot_level(state))


def _predictable(state: dict[str, Any], played: list[dict[str, Any]]) -> bool:
    """No apple is eaten before the last round, and the round limit did not end the game. An eaten apple
    is replaced at random, off the image, and a later round could eat the new one: a longer snake, or a
    tail that stays and kills the other snake (in that round the board freezes, so no growth shows)."""
    before = state
    for after in played[:-1]:
        if any(len(a["body"]) > len(b["body"])
               for a, b in zip(after["snakes"], before["snakes"], strict=True)):
            return False
        before = after
    last = played[-1]
    return not (last["done"] and all(s["alive"] for s in last["snakes"]))


OUTCOMES = ("Both snakes are alive", "Only your snake has died", "Only the blue snake has died",
            "Both snakes have died")


def _prediction_task(state: dict[str, Any], rng: np.random.Generator, image: np.ndarray) -> TaskDraft | None:
    qa = int(rng.integers(1, 4))
    for _ in range(10):
        k = {1: 1, 2: int(rng.integers(2, 4)), 3: int(rng.integers(4, 6))}[qa]
        mine, theirs = random_moves(rng, state["snakes"][0], k), random_moves(rng, state["snakes"][1], k)
        played = simulate(state, mine, theirs)
        if _predictable(state, played):
            break
    else:
        return None
    steps, before = [], state
    for j, after in enumerate(played):
        steps.append(f"Round {j + 1}: you move {mine[j]}: {describe_target(before, 0, mine[j])}; blue moves "
                     f"{theirs[j]}: {describe_target(before, 1, theirs[j])}.")
        dead = [name for p, name in enumerate(("your snake", "the blue snake"))
                if not after["snakes"][p]["alive"]]
        if dead:
            steps.append(f"  {' and '.join(dead).capitalize()} {'die' if len(dead) == 2 else 'dies'}; the "
                         "game ends, the remaining moves are not played.")
        else:
            steps.append(f"  Lengths now: yours {len(after['snakes'][0]['body'])}, blue "
                         f"{len(after['snakes'][1]['body'])}.")
        before = after
    final = played[-1]
    alive = [s["alive"] for s in final["snakes"]]
    outcome = {(True, True): 0, (False, True): 1, (True, False): 2, (False, False): 3}[tuple(alive)]
    ctx = f"{context(state)}\n\n{RULES_TEXT}"
    plan = (f"For the next {plural(len(mine), 'round')} your snake moves "
            f"{', '.join(mine)} and the blue snake moves {', '.join(theirs)}.")
    extra = {"state": state, "moves": mine, "opponent_moves": theirs}
    kind = int(rng.integers(3)) if outcome == 0 else 0
    if kind == 0:
        return choice_draft("state_prediction", "duel_outcome", plot_level(state), qa, [image], ctx,
                            f"{plan} What is the situation after these rounds?", OUTCOMES, outcome, steps,
                            extra)
    if kind == 1:
        return integer_draft("state_prediction", "length_after_moves", plot_level(state), qa, [image], ctx,
                             f"{plan} How long is your snake then?", len(final["snakes"][0]["body"]), steps,
                             extra)
    return coordinate_draft("state_prediction", "head_after_moves", plot_level(state), qa, [image], ctx,
                            f"{plan} Where is your snake's head then?", final["snakes"][0]["body"][0], steps,
                            extra)


def _perception_task(state: dict[str, Any], rng: np.random.Generator, image: np.ndarray) -> TaskDraft:
    ctx, pl = context(state), plot_level(state)
    me, other = state["snakes"]
    extra = {"state": state}
    kind = int(rng.integers(4))
    if kind == 0:
        a, b = len(me["body"]), len(other["body"])
        return choice_draft("perception", "longer_snake", pl, 1, [image], ctx, "Which snake is longer?",
                            ["Your (green) snake", "The blue snake", "Both have the same length"],
                            0 if a > b else 1 if b > a else 2,
                            [f"Your snake covers {plural(a, 'cell')}: {', '.join(map(cell, me['body']))}.",
                             f"The blue snake covers {plural(b, 'cell')}: "
                             f"{', '.join(map(cell, other['body']))}."],
                            extra)
    if kind == 1:
        n = len(state["apples"])
        return integer_draft("perception", "apple_count", pl, level(n, (3, 6)), [image], ctx,
                             "How many apples are on the board?", n,
                             [f"Red apples lie at {', '.join(map(cell, state['apples'])) or 'no cell'}."],
                             extra, noun="apples")
    p = kind - 2
    who = ("your snake's", "the blue snake's")[p]
    head = state["snakes"][p]["body"][0]
    return coordinate_draft("perception", "head_position", pl, 1, [image], ctx, f"Where is {who} head?", head,
                            [f"{who.capitalize()} head is at column {head[0]} from the left, row {head[1]} "
                             "from the top."], {**extra, "player": p})


EDIT_KINDS = {"apple_moved": "An apple is in a different place", "extra_apple": "There is one more apple",
              "yours_longer": "Your (green) snake is one cell longer",
              "blue_longer": "The blue snake is one cell longer"}


def _make_edit(state: dict[str, Any]) -> MakeEdit:
    n = state["size"]
    taken = {tuple(c) for s in state["snakes"] for c in s["body"]} | {tuple(a) for a in state["apples"]}
    free = [(x, y) for y in range(n) for x in range(n) if (x, y) not in taken]

    def make(rng: np.random.Generator) -> Edit | None:
        if not free:
            return None
        kinds = list(EDIT_KINDS) if state["apples"] else ["extra_apple", "yours_longer", "blue_longer"]
        kind = kinds[int(rng.integers(len(kinds)))]
        edited = {**state, "apples": [list(a) for a in state["apples"]],
                  "snakes": [dict(s) for s in state["snakes"]]}
        if kind == "apple_moved":
            j = int(rng.integers(len(state["apples"])))
            old, new = state["apples"][j], free[int(rng.integers(len(free)))]
            edited["apples"][j] = list(new)
            steps = [f"The apple at {cell(old)} in the original is at {cell(new)} in the edited picture; "
                     "nothing else changed."]
            return Edit(kind, edited, list(new), steps)
        if kind == "extra_apple":
            new = free[int(rng.integers(len(free)))]
            edited["apples"].append(list(new))
            return Edit(kind, edited, list(new), [f"The edited picture has a new apple at {cell(new)}: "
                                                  f"{plural(len(state['apples']) + 1, 'apple')} instead "
                                                  f"of {len(state['apples']):,}."])
        p = 0 if kind == "yours_longer" else 1
        body = [tuple(c) for c in state["snakes"][p]["body"]]
        tx, ty = body[-1]
        spots = [(tx + dx, ty + dy) for dx, dy in STEP.values() if (tx + dx, ty + dy) in free]
        if not spots:
            return None
        new = spots[int(rng.integers(len(spots)))]
        edited["snakes"][p]["body"] = [list(c) for c in [*body, new]]
        name = ("your", "the blue")[p]
        return Edit(kind, edited, list(new), [f"In the edited picture {name} snake has one more cell at "
                                              f"{cell(new)}, after its tail {cell(body[-1])}."])
    return make


def make_tasks(state: dict[str, Any], rng: np.random.Generator, source: dict[str, Any] | None = None
               ) -> list[TaskDraft]:
    """One draft per family for ``state`` (prediction and strategy only while the game runs)."""
    image = render(state)
    drafts: list[TaskDraft | None] = [_perception_task(state, rng, image)]
    if not state.get("done"):
        drafts.append(_prediction_task(state, rng, image))
        drafts.append(move_task(state))
    drafts.append(vision_zero_drafts(rng, image, lambda edited: render_edit(state, edited, image),
                                     _make_edit(state), EDIT_KINDS, context(state), plot_level(state),
                                     "Give it as (x, y)."))
    return [d for d in drafts if d is not None]
