"""Snake tasks: perception, state prediction, strategy (ViGaL best/worst move, shortest safe path) and
Vision-Zero image games, every answer computed by ``envs.snake`` (a scratch game, ``set_state``, ``step``).

Definitions the questions state and the analysis follows:
- *fatal* move: the engine kills the snake on it (wall or body). A move back into the neck is played
  as straight on, so it is fatal exactly when straight on is.
- *best* move (ViGaL): a safe move, never back into the neck, that is not into a dead end (from the
  new head fewer free cells are reachable than the snake is long, on the board after the move, where the
  tail's cell is free and the head's own is not counted; a dead end only when every safe move is one)
  and, among those, leaves the head fewest moves from the apple along free cells on that same board
  after the move (the question says so: on the board shown, the cell the tail frees is still body).
  Ties are all accepted.
- *shortest safe path*: the fewest moves to eat the apple. Found by a search in which a body cell
  counts as free once the tail has passed it (segment k of n, head = 0, frees after n − k moves); that
  search ignores the cells the path itself fills, so it is a lower bound, and the engine then plays the
  path found: only paths the engine confirms become questions, so the answer is exact.

Levels (GameQA 3×3): ``plot_level`` from the snake's length (≤5, ≤12, more) shifted by the board size
(≤6 one easier, ≥16 one harder); ``qa_level`` from the moves to simulate (1, 2–3, 4–5) or the plan
length (distance to the apple ≤2 / ≤6 / more for the best move; path ≤4 / ≤10 / more); the length
question's from the length (≤5, ≤12, more).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from envs.snake import Snake
from vlm.prompts import (
    Edit,
    MakeEdit,
    cell,
    coordinate_draft,
    grid_image_scale,
    grid_text,
    integer_draft,
    level,
    redraw_cells,
    vision_zero_drafts,
    word_draft,
)
from vlm.record import TaskDraft
from vlm.tasks import OPPOSITE, STEP, grid_bfs, plural, scratch_game

GAME = "snake"
MOVES: tuple[str, ...] = Snake.ACTION_NAMES
FAR = 10**6  # the distance of an apple out of reach: farther than any path

RULES_TEXT = ("Moves: UP (y − 1), DOWN (y + 1), LEFT (x − 1), RIGHT (x + 1). Each move the head steps one "
              "cell and the body follows, so the tail's cell frees up, unless the snake eats the apple and "
              "grows by one. Moving off the board or into the body kills the snake; moving into the cell "
              "the tail is leaving is safe. A move back into the neck is ignored: the snake goes straight "
              "on.")


def render(state: dict[str, Any]) -> np.ndarray:
    return Snake.render_state(state, grid_image_scale(state["size"]))


def _occupants(state: dict[str, Any]) -> dict[tuple[int, int], str]:
    cells = {tuple(c): "body" for c in state["body"][1:]}
    cells[tuple(state["body"][0])] = "head " + state["direction"]
    if state["apple"] is not None:
        cells[tuple(state["apple"])] = "apple"
    return cells


def render_edit(state: dict[str, Any], edited: dict[str, Any], image: np.ndarray | None = None) -> np.ndarray:
    """The picture of ``edited``, a Vision-Zero edit of ``state`` (whose picture is ``image``): only the
    cells the edit changed are redrawn, so the body's fade, which depends on the snake's length, keeps
    every other cell's shade (the added cell is drawn as the longer snake's tail, the darkest)."""
    return redraw_cells(render(state) if image is None else image, render(edited), _occupants(state),
                        _occupants(edited), grid_image_scale(state["size"]))


def context(state: dict[str, Any]) -> str:
    crashed = (" The snake has crashed: the red frame around its head is thick on the side of the wall or "
               "body cell it ran into.") if state.get("crash") is not None else ""
    return (f"The image shows a game of Snake. {grid_text(state['size'])} The snake's head is yellow (with "
            "eyes), its body green (brightest next to the head, darkest at the tail), and the apple red."
            + crashed)


def plot_level(state: dict[str, Any]) -> int:
    lv = level(len(state["body"]), (5, 12))
    if state["size"] >= 16:
        lv += 1
    elif state["size"] <= 6:
        lv -= 1
    return int(np.clip(lv, 1, 3))


# ------------------------------------------------------------------------------------------- engine
def _scratch(state: dict[str, Any]) -> Snake:
    # One game per board size: set_state takes the starvation limit from the state (or the game's
    # default when the state has none, as hand-made states may).
    return scratch_game((GAME, state["size"]), lambda: Snake(1, size=state["size"]))


def simulate(state: dict[str, Any], moves: list[str]) -> list[tuple[dict[str, Any], float, bool, bool]]:
    """Play ``moves`` from ``state`` on the engine: (state after, reward, terminated, truncated) per move
    played; stops early when the episode ends."""
    game = _scratch(state)
    game.set_state(0, state)
    out = []
    for m in moves:
        r, te, tr = game.step(np.array([MOVES.index(m)]))
        out.append((game.get_state(0), float(r[0]), bool(te[0]), bool(tr[0])))
        if te[0] or tr[0]:
            break
    return out


def effective_move(state: dict[str, Any], move: str) -> str:
    """The move the engine plays for a snake (``state``: a Snake state, or one snake of a SnakeDuel
    state): back into the neck means straight on."""
    return state["direction"] if move == OPPOSITE[state["direction"]] else move


def target_cell(state: dict[str, Any], move: str) -> tuple[int, int]:
    """The cell ``move`` takes the snake's head to (``state`` as in ``effective_move``)."""
    x, y = state["body"][0]
    dx, dy = STEP[effective_move(state, move)]
    return x + dx, y + dy


def random_moves(rng: np.random.Generator, state: dict[str, Any], k: int) -> list[str]:
    """``k`` random moves for a snake (``state`` as in ``effective_move``), never back into the neck: a
    question about that move would only test the rule that it goes straight on."""
    moves, heading = [], state["direction"]
    for _ in range(k):
        heading = str(rng.choice([m for m in MOVES if m != OPPOSITE[heading]]))
        moves.append(heading)
    return moves


def describe_target(state: dict[str, Any], move: str) -> str:
    """What lies where ``move`` takes the head, in words (the engine decides life or death)."""
    x, y = target_cell(state, move)
    n = state["size"]
    body = [tuple(c) for c in state["body"]]
    if not (0 <= x < n and 0 <= y < n):
        return f"{cell((x, y))} is off the board (a wall)"
    if (x, y) in body:
        k = body.index((x, y))
        if k == len(body) - 1:
            return f"{cell((x, y))} is the tail, which moves away this turn"
        return f"{cell((x, y))} is the snake's body (segment {k + 1} of {len(body)}, counting the head as 1)"
    if state["apple"] is not None and [x, y] == list(state["apple"]):
        return f"{cell((x, y))} holds the apple"
    return f"{cell((x, y))} is empty"


def _blocked(state: dict[str, Any]) -> set[tuple[int, int]]:
    """Body cells that stay occupied on the next move (the tail moves away)."""
    return {tuple(c) for c in state["body"][:-1]}


def move_analysis(state: dict[str, Any]) -> dict[str, Any]:
    """Every move's fate on the engine, and the best moves (see the module docstring), with reasons."""
    heading = state["direction"]
    back = OPPOSITE[heading]
    fatal, key, lines = [], {}, []
    lines.append(f"The head is at {cell(state['body'][0])}, heading {heading}; the snake is "
                 f"{plural(len(state['body']), 'cell')} long; "
                 + (f"the apple is at {cell(state['apple'])}." if state["apple"] is not None
                    else "no apple."))
    lines.append(f"{back} would go back into the neck, so the engine plays it as {heading}.")
    for m in MOVES:
        after, reward, terminated, _ = simulate(state, [m])[0]
        if terminated and reward < 0:
            fatal.append(m)
            if m != back:
                lines.append(f"{m}: {describe_target(state, m)}. Fatal.")
            continue
        if m == back:
            continue
        where = describe_target(state, m)
        head = tuple(after["body"][0])
        if reward > 0 and terminated:  # the last apple: the board is full, no dead end to fear
            dist, reach = 0, len(after["body"])
            lines.append(f"{m}: {where}. Safe: it eats the last apple, fills the board and wins.")
        elif reward > 0:
            dist, reach = 0, grid_bfs(after["size"], head, _blocked(after), ())[1]
            lines.append(f"{m}: {where}. Safe, and it eats the apple.")
        else:
            goals = () if after["apple"] is None else {tuple(after["apple"])}
            dist, reach = grid_bfs(after["size"], head, _blocked(after), goals)
            far = ("the apple cannot be reached" if dist is None
                   else f"the apple is {plural(dist, 'move')} away")
            lines.append(f"{m}: {where}. Safe; from there {far} along free cells, and "
                         f"{plural(reach, 'free cell is', 'free cells are')} reachable.")
        trapped = reach < len(after["body"])
        if trapped:
            lines.append(f"  {m} leads into a dead end: {plural(reach, 'reachable cell')} < length "
                         f"{len(after['body'])}.")
        key[m] = (int(trapped), FAR if dist is None else dist)
    if back in fatal:
        lines.append(f"{back}: played as {heading}, which is fatal, so {back} is fatal too.")
    good = [m for m in key if key[m] == min(key.values())]  # key follows MOVES' order
    return {"fatal": fatal, "good": good, "key": key, "lines": lines}


# ---------------------------------------------------------------------------------------- questions
def move_task(state: dict[str, Any]) -> TaskDraft:
    """ViGaL's Snake question: the best move and the exact set of fatal moves."""
    if state.get("done"):
        raise ValueError("the snake's episode is over (state['done'] is true): there is no move to make")
    info = move_analysis(state)
    best_line = None
    if info["good"]:
        trapped, dist = info["key"][info["good"][0]]
        best_line = (f"Best: {' or '.join(info['good'])} (safe, "
                     + ("every safe move leads into a dead end" if trapped else "no dead end") + ", apple "
                     + (f"{plural(dist, 'move')} away)." if dist < FAR
                        else "unreachable, so any such move)."))
    question = (
        f"{context(state)}\n\n{RULES_TEXT}\n\nYou control the snake. Which move is best now, and which moves "
        "are fatal? A fatal move kills the snake at once. The best move is never the move back into the "
        "neck (the engine plays that as straight on). It is safe and does not lead into a dead end (if "
        "every safe move does, it is one of them), and among those it brings the head closest to the apple "
        "counting moves along free cells on the board after the move (eating the apple is 0 moves; an "
        "apple out of reach is farthest). "
        "A move leads into a dead end when, on the board after the move, fewer cells are reachable from "
        "the new head along free cells than the snake is then long; the tail's cell counts as free (it "
        "moves away next) and the head's own cell is not counted. Equally good moves are all accepted."
        "\n\nThink step by step inside <think></think>. Then give the "
        "best move inside <best_answer></best_answer> (one of UP, DOWN, LEFT, RIGHT; None if every move is "
        "fatal) and every fatal move inside <worst_answer></worst_answer> (comma-separated; None if no move "
        "is fatal).")
    return best_worst_draft(state, info, best_line, question, render(state), plot_level(state))


def best_worst_draft(state: dict[str, Any], info: dict[str, Any], best_line: str | None, question: str,
                     image: np.ndarray, plot: int) -> TaskDraft:
    """ViGaL's best/worst-move draft (verifier rule ``snake_best_worst``) for Snake and Duel Snake, from
    their ``move_analysis`` ``info``: the analysis is its lines, ``best_line`` (why the best move is best;
    None when every move is fatal) and the fatal moves; the qa level is the best move's distance to the
    apple (all best moves share it). Duel Snake's ``info`` also gives its safe moves, which the verifier
    spec keeps (``safe``)."""
    best = info["good"][0] if info["good"] else "None"
    worst = ", ".join(info["fatal"]) or "None"
    no_best = "Every move is fatal, so there is no best move: None."
    lines = [*info["lines"], no_best if best_line is None else best_line, f"Fatal: {worst}."]
    dist = info["key"][info["good"][0]][1] if info["good"] else 0
    verifier = {"rule": "snake_best_worst", "moves": list(MOVES), "good": info["good"],
                "fatal": info["fatal"]}
    if "safe" in info:  # Duel Snake: none safe makes the best move risky, which a reply may say
        verifier["safe"] = info["safe"]
    answer = f"<best_answer>{best}</best_answer><worst_answer>{worst}</worst_answer>"
    return TaskDraft("strategy", "best_worst_move", plot, level(dist, (2, 6)), [image], question, answer,
                     "\n".join(lines), verifier, None, {"state": state})


def shortest_path(state: dict[str, Any]) -> list[str] | None:
    """The fewest moves that eat the apple, confirmed by the engine; None if not found/confirmed."""
    if state["apple"] is None:
        return None
    n, body = state["size"], [tuple(c) for c in state["body"]]
    length = len(body)
    frees_after = {c: length - k for k, c in enumerate(body)}
    apple = tuple(state["apple"])
    frontier: dict[tuple[int, int], None] = {body[0]: None}
    parents: list[dict[tuple[int, int], tuple[int, int]]] = []
    for t in range(1, n * n + length + 1):
        layer: dict[tuple[int, int], tuple[int, int]] = {}
        for c in frontier:
            for m in MOVES:
                dx, dy = STEP[m]
                nxt = (c[0] + dx, c[1] + dy)
                if (0 <= nxt[0] < n and 0 <= nxt[1] < n and nxt not in layer
                        and t >= frees_after.get(nxt, 0)):
                    layer[nxt] = c
        parents.append(layer)
        if apple in layer:
            break
        if not layer:
            return None
        frontier = dict.fromkeys(layer)
    else:
        return None
    cells = [apple]
    for layer in reversed(parents):
        cells.append(layer[cells[-1]])
    cells.reverse()
    moves = [next(m for m, d in STEP.items() if (a[0] + d[0], a[1] + d[1]) == b)
             for a, b in itertools.pairwise(cells)]
    played = simulate(state, moves)
    ok = (len(played) == len(moves) and played[-1][1] > 0
          and all(r >= 0 and not tr for _, r, _, tr in played))
    return moves if ok else None


def _path_task(state: dict[str, Any], image: np.ndarray) -> TaskDraft | None:
    moves = shortest_path(state)
    if moves is None:
        return None
    d = len(moves)
    steps = [f"The head is at {cell(state['body'][0])} and the apple at {cell(state['apple'])}; the snake is "
             f"{plural(len(state['body']), 'cell')} long.",
             "A body cell frees once the tail has passed it: segment k (head = 1) of n frees after n − k + "
             "1 moves. Searching outward one move at a time over the cells the head can stand on, the apple "
             f"is first reached after {plural(d, 'move')}, so no shorter path exists.",
             f"One such path: {', '.join(moves)}. Playing it, the snake survives every move and eats the "
             f"apple on move {d}."]
    return integer_draft("strategy", "shortest_path", plot_level(state), level(d, (4, 10)), [image],
                         f"{context(state)}\n\n{RULES_TEXT}",
                         "What is the fewest number of moves in which the snake can eat the apple without "
                         "dying?", d, steps, {"state": state, "path": moves})


def _prediction_task(state: dict[str, Any], rng: np.random.Generator, image: np.ndarray) -> TaskDraft | None:
    qa = int(rng.integers(1, 4))
    for _ in range(10):
        k = {1: 1, 2: int(rng.integers(2, 4)), 3: int(rng.integers(4, 6))}[qa]
        moves = random_moves(rng, state, k)
        played = simulate(state, moves)
        # Not truncated, and the visible apple eaten on the plan's last move if at all: after an apple is
        # eaten a new one appears at random, off the image, and the moves after that could eat it (longer
        # snake, tail staying put, another death). Read against the plan, not the moves played: the last
        # apple fills the board and ends the game, leaving the plan's later moves unplayed.
        if not played[-1][3] and all(r <= 0 for _, r, _, _ in played[:k - 1]):
            break
    else:
        return None
    steps, before = [], state
    for j, (after, r, te, _) in enumerate(played):
        what = describe_target(before, moves[j])
        if te and r < 0:
            steps.append(f"Move {j + 1}, {moves[j]}: {what}, so the snake dies.")
        elif r > 0:
            steps.append(f"Move {j + 1}, {moves[j]}: {what}; the snake eats it and grows to "
                         f"{len(after['body'])} cells.")
        else:
            steps.append(f"Move {j + 1}, {moves[j]}: {what}; the head moves there.")
        before = after
    final, dead = played[-1][0], played[-1][2] and played[-1][1] < 0
    seq = ", ".join(moves)
    ctx = f"{context(state)}\n\n{RULES_TEXT}"
    extra = {"state": state, "moves": moves}
    kinds = ["alive"] if dead else ["alive", "head", "length"]
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "alive":
        return word_draft("state_prediction", "alive_after_moves", plot_level(state), qa, [image], ctx,
                          f"The snake makes these moves in order: {seq}. Is it still alive after all of "
                          "them?",
                          ["yes", "no"], ["no" if dead else "yes"], steps, extra, "Answer yes or no.")
    if kind == "head":
        return coordinate_draft("state_prediction", "head_after_moves", plot_level(state), qa, [image], ctx,
                                f"The snake makes these moves in order: {seq}. Where is its head then?",
                                final["body"][0], steps, extra)
    return integer_draft("state_prediction", "length_after_moves", plot_level(state), qa, [image], ctx,
                         f"The snake makes these moves in order: {seq}. How many cells long is it then?",
                         len(final["body"]), steps, extra)


def _perception_task(state: dict[str, Any], rng: np.random.Generator, image: np.ndarray) -> TaskDraft:
    ctx, pl = context(state), plot_level(state)
    body = state["body"]
    kinds = ["head", "length", "heading"] + (["apple"] if state["apple"] is not None else [])
    kind = kinds[int(rng.integers(len(kinds)))]
    extra = {"state": state}
    if kind == "head":
        return coordinate_draft("perception", "head_position", pl, 1, [image], ctx,
                                "Where is the snake's head?", body[0],
                                [f"The head is the yellow cell with eyes, column {body[0][0]} from the left "
                                 f"and row {body[0][1]} from the top."], extra)
    if kind == "apple":
        a = state["apple"]
        return coordinate_draft("perception", "apple_position", pl, 1, [image], ctx, "Where is the apple?", a,
                                [f"The apple is the red cell, column {a[0]} from the left and row {a[1]} "
                                 "from the top."], extra)
    if kind == "heading":
        d = state["direction"]
        return word_draft("perception", "heading", pl, 1, [image], ctx,
                          "In which direction did the snake move last (where its eyes look)?", list(MOVES),
                          [d],
                          [f"The neck is at {cell(body[1])} and the head at {cell(body[0])}: the head is one "
                           f"step {d} of the neck."], extra)
    cells = ", ".join(cell(c) for c in body)
    return integer_draft("perception", "snake_length", pl, level(len(body), (5, 12)), [image], ctx,
                         "How many cells long is the snake, head included?", len(body),
                         [f"From the head to the tail the snake covers {cells}.",
                          f"That is {plural(len(body), 'cell')}."], extra)


def _make_edit(state: dict[str, Any]) -> MakeEdit:
    n, body = state["size"], [tuple(c) for c in state["body"]]
    apple = None if state["apple"] is None else tuple(state["apple"])
    taken = {*body, apple}  # sets: a long snake made this n² x length list scans
    free = [(x, y) for y in range(n) for x in range(n) if (x, y) not in taken]
    open_cells = set(free)

    def make(rng: np.random.Generator) -> Edit | None:
        kinds = ["longer"] + (["apple_moved"] if apple is not None and free else []) + \
            (["shorter"] if len(body) >= 3 else [])
        kind = kinds[int(rng.integers(len(kinds)))]
        edited = dict(state)
        if kind == "apple_moved":
            new = free[int(rng.integers(len(free)))]
            edited["apple"] = list(new)
            return Edit(kind, edited, list(new), [f"The apple is at {cell(apple)} in the original and at "
                                                  f"{cell(new)} in the edited picture; the snake is "
                                                  "unchanged."])
        if kind == "shorter":
            edited["body"] = [list(c) for c in body[:-1]]
            return Edit(kind, edited, None, [f"The edited picture lacks the tail cell {cell(body[-1])}: the "
                                             f"snake has {len(body) - 1} cells instead of {len(body)}."])
        tx, ty = body[-1]
        spots = [(tx + dx, ty + dy) for dx, dy in STEP.values() if (tx + dx, ty + dy) in open_cells]
        if not spots:
            return None
        new = spots[int(rng.integers(len(spots)))]
        edited["body"] = [list(c) for c in [*body, new]]
        return Edit(kind, edited, list(new), [f"The edited picture has one more body cell at {cell(new)}, "
                                              f"after the tail {cell(body[-1])}: {len(body) + 1} cells "
                                              f"instead of {len(body)}."])
    return make


EDIT_KINDS = {"apple_moved": "The apple is in a different place", "longer": "The snake is one cell longer",
              "shorter": "The snake is one cell shorter"}


def make_tasks(state: dict[str, Any], rng: np.random.Generator, source: dict[str, Any] | None = None
               ) -> list[TaskDraft]:
    """One draft per family for ``state`` (prediction and strategy only while the game runs)."""
    image = render(state)
    drafts: list[TaskDraft | None] = [_perception_task(state, rng, image)]
    if not state.get("done"):
        drafts.append(_prediction_task(state, rng, image))
        strategy = _path_task(state, image) if rng.random() < 0.4 else None
        drafts.append(strategy or move_task(state))
    drafts.append(vision_zero_drafts(rng, image, lambda edited: render_edit(state, edited, image),
                                     _make_edit(state), EDIT_KINDS, context(state), plot_level(state),
                                     "Give it as (x, y)."))
    return [d for d in drafts if d is not None]
