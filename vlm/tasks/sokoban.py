"""Sokoban tasks: perception, state prediction, strategy (next optimal move and fewest moves, from the
exact breadth-first solver ``envs.sokoban_solver``) and Vision-Zero image games. Moves are simulated by
``envs.sokoban`` (a scratch game, ``set_state``, ``step``).

An optimal next move is any move that starts a shortest solution: the solver's solution length from
the state after that move is one less than from the state now. States the solver cannot finish within
``SOLVER_STATES`` searched states (or cannot solve at all) get no strategy question; their move question
accepts every move and says so (``extra["scored"]`` false). So does the move question of a state after one
of whose moves the solver runs out of budget: that move might be optimal.

Levels: ``plot_level`` from the board size (6, 8, larger: the difficulty presets); ``qa_level`` from the
moves to simulate (1, 2–3, 4–6) or the plan length (≤5, ≤15, more moves); both box questions' from the
box count (≤2, ≤4, more), however many stand on targets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.sokoban import Sokoban
from envs.sokoban_solver import BUDGET, SOLVED, solve_status
from vlm.prompts import (
    Edit,
    MakeEdit,
    cell,
    coordinate_draft,
    grid_image_scale,
    grid_text,
    integer_draft,
    level,
    vision_zero_drafts,
    word_draft,
)
from vlm.record import TaskDraft
from vlm.tasks import STEP, play_moves, plural, scratch_game

GAME = "sokoban"
MOVES: tuple[str, ...] = Sokoban.ACTION_NAMES
SOLVER_STATES = 300_000

RULES_TEXT = ("Moves: UP (y − 1), DOWN (y + 1), LEFT (x − 1), RIGHT (x + 1) move the player one cell. "
              "A move into a wall does nothing: the player stays where it is. Walking into a box pushes it "
              "one cell further if that cell is floor (not a wall, not another box); otherwise nothing "
              "moves. Boxes are never pulled. The puzzle is solved when every box is on a target.")


def render(state: dict[str, Any]) -> np.ndarray:
    return Sokoban.render_state(state, grid_image_scale(state["size"]))


def context(state: dict[str, Any]) -> str:
    return (f"The image shows a Sokoban puzzle. {grid_text(state['size'], wall_ring=True)} Brown brick cells "
            "are walls, beige cells are floor, red square rings are targets, orange squares are boxes "
            "(green when on a target), and the blue disc is the player.")


def plot_level(state: dict[str, Any]) -> int:
    return level(state["size"], (6, 8))


def _scratch(state: dict[str, Any]) -> Sokoban:
    return scratch_game((GAME, state["size"]), lambda: Sokoban(1, size=state["size"], num_boxes=1,
                                                               max_steps=10**9))


def simulate(state: dict[str, Any], moves: list[str]) -> list[dict[str, Any]]:
    """Play ``moves`` on the engine from ``state`` (episode bookkeeping reset: no step limit, and no end at a
    cornered box, whatever the run's ``deadlock_end``); the states after each move, stopping when the
    puzzle is solved."""
    return play_moves(_scratch(state), {**state, "step": 0, "max_steps": 10**9, "deadlock_end": False,
                                        "done": False, "deadlocked": False}, moves)


def describe_move(state: dict[str, Any], move: str, after: dict[str, Any]) -> str:
    """What one move did, from the engine's states before and after."""
    px, py = state["player"]
    dx, dy = STEP[move]
    ahead = (px + dx, py + dy)
    targets = {tuple(t) for t in state["targets"]}
    if after["player"] == state["player"]:
        blocker = "a wall" if state["walls"][ahead[1]][ahead[0]] else "a box that cannot move"
        return f"{move}: {cell(ahead)} is {blocker}, so nothing moves."
    if sorted(map(tuple, after["boxes"])) != sorted(map(tuple, state["boxes"])):
        to = (ahead[0] + dx, ahead[1] + dy)
        onto = " onto a target" if to in targets else (" off its target" if ahead in targets else "")
        return (f"{move}: the player pushes the box at {cell(ahead)} to {cell(to)}{onto} and stands at "
                f"{cell(ahead)}.")
    return f"{move}: the player walks to {cell(ahead)}."


def _solve(state: dict[str, Any]) -> list[str] | None:
    status, actions = solve_status(state, SOLVER_STATES)
    return [MOVES[a] for a in actions] if status == SOLVED else None


def optimal_moves(state: dict[str, Any]) -> tuple[list[str], list[str]] | None:
    """(every optimal first move, one shortest solution), or None when the solver finds none (or the
    puzzle is solved already), or cannot finish the state after some move within ``SOLVER_STATES``."""
    solution = _solve(state)
    if not solution:
        return None
    best = []
    for m in MOVES:
        after = simulate(state, [m])[0]
        if after["player"] == state["player"]:
            continue
        status, rest = solve_status(after, SOLVER_STATES)
        if status == BUDGET:
            # The state after a move can take more search than the state itself: whether m is optimal is
            # then unknown, and leaving it out would score a right answer wrong.
            return None
        if status == SOLVED and len(rest) == len(solution) - 1:
            best.append(m)
    return best, solution


def move_task(state: dict[str, Any]) -> TaskDraft:
    """Which move next? Any move that starts a shortest solution is right."""
    if state.get("done"):
        raise ValueError("the Sokoban episode is over (state['done'] is true): there is no move to make")
    found = optimal_moves(state)
    ask = "Which move should the player make next to solve the puzzle in the fewest moves?"
    extra: dict[str, Any] = {"state": state}
    if found is None:
        steps = ["The solver cannot tell the optimal moves from here (a box is stuck, or the search budget "
                 "ran out), so every move is accepted."]
        return word_draft("strategy", "next_move", plot_level(state), 3, [render(state)],
                          f"{context(state)}\n\n{RULES_TEXT}", ask, list(MOVES), list(MOVES), steps,
                          {**extra, "scored": False})
    best, solution = found
    steps = [f"A shortest solution takes {plural(len(solution), 'move')}: {', '.join(solution)}.",
             f"Moves that start a shortest solution (the rest then takes {len(solution) - 1}): "
             f"{', '.join(best)}."]
    return word_draft("strategy", "next_move", plot_level(state), level(len(solution), (5, 15)),
                      [render(state)],
                      f"{context(state)}\n\n{RULES_TEXT}", ask, list(MOVES), best, steps,
                      {**extra, "solution": solution})


def _fewest_task(state: dict[str, Any], image: np.ndarray) -> TaskDraft | None:
    solution = _solve(state)
    if not solution:
        return None
    n = len(solution)
    steps = [f"A breadth-first search over player and box positions finds the shortest solution: "
             f"{plural(n, 'move')}, "
             f"e.g. {', '.join(solution)}.", "Every shorter move sequence leaves a box off its target."]
    return integer_draft("strategy", "fewest_moves", plot_level(state), level(n, (5, 15)), [image],
                         f"{context(state)}\n\n{RULES_TEXT}",
                         "What is the fewest number of moves that solves the puzzle?", n, steps,
                         {"state": state, "solution": solution})


def _prediction_task(state: dict[str, Any], rng: np.random.Generator, image: np.ndarray) -> TaskDraft:
    qa = int(rng.integers(1, 4))
    k = {1: 1, 2: int(rng.integers(2, 4)), 3: int(rng.integers(4, 7))}[qa]
    moves = [MOVES[int(rng.integers(4))] for _ in range(k)]
    played = simulate(state, moves)
    steps, before = [], state
    for j, after in enumerate(played):
        steps.append(f"Move {j + 1}, {describe_move(before, moves[j], after)}")
        before = after
    if len(played) < len(moves):
        steps.append("Every box is on a target: the puzzle is solved and the remaining moves are not played.")
    final = played[-1]
    # The engine ends the game at the solving move: said in the question, since moves played on could
    # walk the player further or push a box off its target.
    seq = f"{', '.join(moves)} (the game ends as soon as the puzzle is solved: any moves left are not played)"
    ctx = f"{context(state)}\n\n{RULES_TEXT}"
    extra = {"state": state, "moves": moves}
    if rng.random() < 0.5:
        return coordinate_draft("state_prediction", "player_after_moves", plot_level(state), qa, [image], ctx,
                                f"The player makes these moves in order: {seq}. Where does the player stand "
                                "then?",
                                final["player"], steps, extra)
    on = final["score"]
    steps.append(f"Boxes on targets then: {on}.")
    return integer_draft("state_prediction", "boxes_on_targets_after_moves", plot_level(state), qa, [image],
                         ctx,
                         f"The player makes these moves in order: {seq}. How many boxes are on targets then?",
                         on, steps, extra)


def _perception_task(state: dict[str, Any], rng: np.random.Generator, image: np.ndarray) -> TaskDraft:
    ctx, pl, extra = context(state), plot_level(state), {"state": state}
    targets = {tuple(t) for t in state["targets"]}
    boxes = [tuple(b) for b in state["boxes"]]
    kind = int(rng.integers(3))
    if kind == 0:
        p = state["player"]
        return coordinate_draft("perception", "player_position", pl, 1, [image], ctx, "Where is the player?",
                                p,
                                [f"The blue disc is in column {p[0]} from the left and row {p[1]} from the "
                                 "top."],
                                extra)
    on = [b for b in boxes if b in targets]
    listing = ", ".join(f"{cell(b)}{' (on a target)' if b in targets else ''}" for b in boxes)
    if kind == 1:
        return integer_draft("perception", "boxes_on_targets", pl, level(len(boxes), (2, 4)), [image], ctx,
                             "How many boxes are on targets?", len(on), [f"The boxes are at {listing}."],
                             extra)
    return integer_draft("perception", "box_count", pl, level(len(boxes), (2, 4)), [image], ctx,
                         "How many boxes are there?", len(boxes), [f"The boxes are at {listing}."], extra,
                         noun="boxes")


EDIT_KINDS = {"box_moved": "A box is in a different place", "player_moved": "The player is in a different "
                                                                            "place",
              "target_moved": "A target is in a different place"}


def _make_edit(state: dict[str, Any]) -> MakeEdit:
    size = state["size"]
    boxes = [tuple(b) for b in state["boxes"]]
    targets = [tuple(t) for t in state["targets"]]
    player = tuple(state["player"])
    floor = [(x, y) for y in range(size) for x in range(size) if not state["walls"][y][x]]
    free = [c for c in floor if c not in boxes and c != player and c not in targets]

    def make(rng: np.random.Generator) -> Edit | None:
        if not free:
            return None
        open_targets = [t for t in targets if t not in boxes and t != player]
        kinds = ["box_moved", "player_moved"] + (["target_moved"] if open_targets else [])
        kind = kinds[int(rng.integers(len(kinds)))]
        new = free[int(rng.integers(len(free)))]
        edited = {**state, "boxes": [list(b) for b in boxes], "targets": [list(t) for t in targets]}
        if kind == "box_moved":
            j = int(rng.integers(len(boxes)))
            edited["boxes"][j] = list(new)
            old = boxes[j]
            if "score" in state:  # a box moved off its target: set_state refuses a stale score
                edited["score"] = sum(tuple(b) in targets for b in edited["boxes"])
            steps = [f"The box at {cell(old)} in the first picture is at {cell(new)} in the edited one."]
        elif kind == "player_moved":
            edited["player"] = list(new)
            old = player
            steps = [f"The player stands at {cell(player)} in the first picture and at {cell(new)} in the "
                     "edited one."]
        else:
            old = open_targets[int(rng.integers(len(open_targets)))]
            edited["targets"][targets.index(old)] = list(new)
            steps = [f"The empty target at {cell(old)} in the first picture is at {cell(new)} in the edited "
                     "one."]
        # A box or player moved off a target uncovers its ring: the edited picture then shows something
        # new in two cells, so no "which cell" question (None) is asked about this edit.
        return Edit(kind, edited, None if kind != "target_moved" and old in targets else list(new), steps)
    return make


def make_tasks(state: dict[str, Any], rng: np.random.Generator, source: dict[str, Any] | None = None
               ) -> list[TaskDraft]:
    """One draft per family for ``state`` (prediction and strategy only while the puzzle is unsolved)."""
    image = render(state)
    drafts: list[TaskDraft | None] = [_perception_task(state, rng, image)]
    if not state.get("done"):
        drafts.append(_prediction_task(state, rng, image))
        if rng.random() < 0.5:
            drafts.append(_fewest_task(state, image))
        else:
            draft = move_task(state)
            drafts.append(draft if draft.extra.get("scored", True) else None)
    drafts.append(vision_zero_drafts(rng, image, render, _make_edit(state), EDIT_KINDS, context(state),
                                     plot_level(state), "Give it as (x, y)."))
    return [d for d in drafts if d is not None]
