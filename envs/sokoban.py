"""Sokoban: push every box onto a target, many boards stepped at once by Numba kernels.

Rules (documented in the README too):
- The board is ``size``×``size`` cells **including** its outer wall ring (so 8×8 has a 6×6 inside);
  allowed 6–16. Cells are ``[x, y]``, x to the right, y downward. There are as many targets as boxes.
- Actions UP, DOWN, LEFT, RIGHT move the player one cell. Walking into a box pushes it one cell on if
  the cell beyond is floor (not a wall, not another box); otherwise nothing moves (the step still
  counts). Boxes can only be pushed, never pulled; two boxes in a row cannot be pushed.
- Rewards follow gym-sokoban (Schrader 2018): −0.1 every step, +1 for pushing a box onto a target,
  −1 for pushing one off a target, +10 more when all boxes are on targets, which terminates the
  episode (so the finishing push pays −0.1 + 1 + 10 = 10.9). The episode is truncated after
  ``max_steps`` steps (default 120 on easy/medium, 200 on hard).
- ``deadlock_end`` (default False): pushing a box into a corner (a wall above or below it and a wall
  left or right of it) that is not a target ends the episode, since that box can never move again.
  The board is then charged the step cost of every step it had left (−0.1 × remaining steps), so a
  deadlock never pays better than playing on to the step limit.
- Score = boxes on targets at the end; ``episode_info`` also gives ``solved`` (1.0/0.0).

Levels are made at reset from the board's seed (``envs.rng`` stream), solvable by construction: a
room is carved by a random walk inside the wall ring, boxes are put on random targets, and the
player then plays *backwards* (walks at random, mostly pulling a box along when it walks away from
one). Every backward move has a forward move that undoes it, so the level it leaves behind can be
solved. Of several backward runs the state with the most boxes off targets and the largest box
displacement is kept, and the player is put on a random cell it can reach there. A level takes
≈10–80 µs (hard the slowest); shortest solutions average ≈4.6 moves on easy, ≈14 on medium
(max ≈30), ≈27 on hard (max ≈50).

Difficulty: ``easy`` 6×6 with 1 box, ``medium`` (default) 8×8 with 2 boxes, ``hard`` 10×10 with 3–4
boxes (drawn per level); ``size``, ``num_boxes`` (an int or a ``[lo, hi]`` range, at most 6 and one
per 8 inside cells) and ``max_steps`` override the preset.

Observation: uint8 (5, size, size), one pixel per cell, 0/255 planes: wall, target (every target
cell, whatever stands on it), box off target, box on target, player.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numba
import numpy as np
from gymnasium import spaces

from envs.base import (
    MAX_RENDER_SCALE,
    MOVE_KEYS,
    RENDER_SCALE,
    ActionKeys,
    Game,
    check_derived_key,
    check_state_keys,
    check_state_size,
    count_setting,
    flag,
    flag_setting,
    state_cell,
    state_cells,
    state_on_board,
    whole,
)
from envs.choices import SOKOBAN_DIFFICULTIES
from envs.rng import randint

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
_DX = np.array([0, 0, -1, 1], dtype=np.int64)
_DY = np.array([-1, 1, 0, 0], dtype=np.int64)

STEP_REWARD = -0.1
BOX_ON_REWARD = 1.0
BOX_OFF_REWARD = -1.0
FINISH_REWARD = 10.0

#: difficulty -> (size incl. walls, (min boxes, max boxes), max_steps); the table is in envs/choices.py
DIFFICULTIES = SOKOBAN_DIFFICULTIES

_ROOMS = 64      # rooms tried per level before falling back to an open room (never needed in practice)
_RUNS = 4        # backward runs per room; the best state of all of them is kept


# --------------------------------------------------------------------------------------------- generation
@numba.njit(cache=True)
def _carve_room(rng: np.ndarray, b: int, size: int, open_room: bool, wall: np.ndarray) -> int:
    """Carve a connected floor area inside the wall ring of the flat ``wall``; return its cell count."""
    n = size - 2
    wall[:] = 1
    if open_room:
        for y in range(1, size - 1):
            for x in range(1, size - 1):
                wall[y * size + x] = 0
        return n * n
    # Aim for 50–75% of the inside as floor: enough room to manoeuvre, enough walls to matter.
    goal = n * n * (50 + randint(rng, b, 26)) // 100
    x = 1 + randint(rng, b, n)
    y = 1 + randint(rng, b, n)
    d = randint(rng, b, 4)
    floors = 0
    for _ in range(40 * n * n):
        c = y * size + x
        if wall[c]:
            wall[c] = 0
            floors += 1
        if floors >= goal:
            break
        if randint(rng, b, 100) < 35:  # widen the corridor sideways now and then
            e = randint(rng, b, 4)
            xx = x + _DX[e]
            yy = y + _DY[e]
            if 1 <= xx <= n and 1 <= yy <= n and wall[yy * size + xx]:
                wall[yy * size + xx] = 0
                floors += 1
        if randint(rng, b, 100) < 30:
            d = randint(rng, b, 4)
        xx = x + _DX[d]
        yy = y + _DY[d]
        if 1 <= xx <= n and 1 <= yy <= n:
            x = xx
            y = yy
        else:
            d = randint(rng, b, 4)
    return floors


@numba.njit(cache=True)
def _backward_run(rng: np.ndarray, b: int, size: int, wall: np.ndarray, nbox: int, moves: int,
                  target: np.ndarray, box: np.ndarray, box_at: np.ndarray, best_box: np.ndarray,
                  floor_cells: np.ndarray, nfloor: int) -> tuple[int, int]:
    """One backward game from boxes on random targets; return (best score, player cell there).

    ``target``/``box``/``best_box`` hold cell indices per box; ``box_at`` is scratch (box id or -1).
    """
    step = np.array([-size, size, -1, 1], dtype=np.int64)
    box_at[:] = -1
    # Distinct random floor cells: targets first, then the player.
    k = 0
    while k < nbox:
        c = floor_cells[randint(rng, b, nfloor)]
        if box_at[c] < 0:
            box_at[c] = k
            target[k] = c
            box[k] = c
            k += 1
    p = floor_cells[randint(rng, b, nfloor)]
    while box_at[p] >= 0:
        p = floor_cells[randint(rng, b, nfloor)]
    best = 0  # nothing moved yet: every box on its target
    best_p = p
    best_box[:] = box
    for _ in range(moves):
        a = randint(rng, b, 4)
        q = p + step[a]
        if wall[q] or box_at[q] >= 0:
            continue
        j = box_at[p - step[a]]
        pull = j >= 0 and randint(rng, b, 100) < 80  # pull the box behind the player along
        if pull:
            box_at[p - step[a]] = -1
            box_at[p] = j
            box[j] = p
        p = q
        if not pull:  # the boxes stand where they were last scored
            continue
        # Score: boxes off every target first, then how far the boxes travelled from their targets.
        off = 0
        dist = 0
        for m in range(nbox):
            t = target[m]
            dist += abs(box[m] % size - t % size) + abs(box[m] // size - t // size)
            on = False
            for mm in range(nbox):
                if box[m] == target[mm]:
                    on = True
            if not on:
                off += 1
        score = off * 10000 + dist
        if score > best:
            best = score
            best_p = p
            best_box[:] = box
    return best, best_p


@numba.njit(cache=True)
def _generate(rng: np.ndarray, b: int, size: int, nbox: int, wall: np.ndarray, targets: np.ndarray,
              boxes: np.ndarray) -> int:
    """Make one solvable level into the flat ``wall``/``targets``/``boxes`` (0/1); return the player cell."""
    cells = size * size
    floor_cells = np.empty(cells, dtype=np.int64)
    target = np.empty(nbox, dtype=np.int64)
    box = np.empty(nbox, dtype=np.int64)
    run_box = np.empty(nbox, dtype=np.int64)
    keep_box = np.empty(nbox, dtype=np.int64)
    keep_target = np.empty(nbox, dtype=np.int64)
    keep_wall = np.empty(cells, dtype=np.uint8)
    box_at = np.empty(cells, dtype=np.int64)
    keep = -1
    keep_p = 0
    for room in range(_ROOMS + 1):
        nfloor = _carve_room(rng, b, size, room == _ROOMS, wall)
        if nfloor < nbox + 2:
            continue
        k = 0
        for c in range(cells):
            if not wall[c]:
                floor_cells[k] = c
                k += 1
        moves = 12 * nfloor + 40 * nbox
        for _ in range(_RUNS):
            score, p = _backward_run(rng, b, size, wall, nbox, moves, target, box, box_at, run_box,
                                     floor_cells, nfloor)
            if score > keep:
                keep = score
                keep_p = p
                keep_box[:] = run_box
                keep_target[:] = target
                keep_wall[:] = wall
        if keep >= nbox * 10000:  # every box starts off a target
            break
    wall[:] = keep_wall
    targets[:] = 0
    boxes[:] = 0
    for m in range(nbox):
        targets[keep_target[m]] = 1
        boxes[keep_box[m]] = 1
    # The player may start anywhere it can walk to from where the backward game left it.
    step = np.array([-size, size, -1, 1], dtype=np.int64)
    seen = np.zeros(cells, dtype=np.uint8)
    stack = np.empty(cells, dtype=np.int64)
    stack[0] = keep_p
    seen[keep_p] = 1
    top = 1
    n = 0
    while top > 0:
        top -= 1
        c = stack[top]
        floor_cells[n] = c
        n += 1
        for a in range(4):
            q = c + step[a]
            if not seen[q] and not wall[q] and not boxes[q]:
                seen[q] = 1
                stack[top] = q
                top += 1
    return floor_cells[randint(rng, b, n)]


@numba.njit(cache=True)
def _reset(indices, seeds, size, nbox_lo, nbox_hi, wall, target, box, player, nbox, on_target, steps,
           done, deadlocked, rng):
    for j in range(indices.shape[0]):
        b = indices[j]
        rng[b] = seeds[j]
        nb = nbox_lo + randint(rng, b, nbox_hi - nbox_lo + 1)
        player[b] = _generate(rng, b, size, nb, wall[b], target[b], box[b])
        nbox[b] = nb
        on = 0
        for c in range(size * size):
            if box[b, c] and target[b, c]:
                on += 1
        on_target[b] = on
        steps[b] = 0
        done[b] = False
        deadlocked[b] = False


# --------------------------------------------------------------------------------------------- stepping
@numba.njit(cache=True)
def _dead_corner(wall, target, b, c, size):
    """Whether a box on board ``b``'s cell ``c`` sits in a non-target corner (a wall above or below it and
    one left or right of it), where it can never move again: ``deadlock_end``'s deadlock."""
    return (target[b, c] == 0 and wall[b, c - size] + wall[b, c + size] > 0
            and wall[b, c - 1] + wall[b, c + 1] > 0)


@numba.njit(cache=True)
def _step(actions, size, max_steps, deadlock_end, wall, target, box, player, nbox, on_target, steps,
          done, deadlocked, reward, terminated, truncated):
    # Checked before any board moves: any other number would silently be played as RIGHT.
    for b in range(actions.shape[0]):
        if actions[b] < 0 or actions[b] > 3:
            raise ValueError("sokoban: actions must be in 0..3 (UP, DOWN, LEFT, RIGHT)")
    for b in range(actions.shape[0]):
        reward[b] = 0.0
        terminated[b] = False
        truncated[b] = False
        if done[b]:
            continue
        a = actions[b]
        d = -size if a == UP else size if a == DOWN else -1 if a == LEFT else 1
        p = player[b]
        q = p + d
        r = STEP_REWARD
        pushed = -1
        if not wall[b, q]:
            if box[b, q]:
                c = q + d
                if not wall[b, c] and not box[b, c]:
                    box[b, q] = 0
                    box[b, c] = 1
                    if target[b, q]:
                        r += BOX_OFF_REWARD
                        on_target[b] -= 1
                    if target[b, c]:
                        r += BOX_ON_REWARD
                        on_target[b] += 1
                    player[b] = q
                    pushed = c
            else:
                player[b] = q
        steps[b] += 1
        if on_target[b] == nbox[b]:
            r += FINISH_REWARD
            terminated[b] = True
        elif deadlock_end[b] and pushed >= 0 and _dead_corner(wall, target, b, pushed, size):
            r += STEP_REWARD * max(max_steps[b] - steps[b], 0)
            deadlocked[b] = True
            terminated[b] = True
        elif steps[b] >= max_steps[b]:
            truncated[b] = True
        done[b] = terminated[b] or truncated[b]
        reward[b] = r


@numba.njit(cache=True)
def _observe(boards, wall, target, box, player, out):
    # ``out`` is the (n, 5, cells) view of the observations; branch-free planes so the loops vectorise.
    cells = wall.shape[1]
    for o in range(boards.shape[0]):
        b = boards[o]
        for c in range(cells):
            out[o, 0, c] = wall[b, c] * np.uint8(255)
        for c in range(cells):
            out[o, 1, c] = target[b, c] * np.uint8(255)
        for c in range(cells):
            out[o, 2, c] = (box[b, c] & (target[b, c] ^ np.uint8(1))) * np.uint8(255)
        for c in range(cells):
            out[o, 3, c] = (box[b, c] & target[b, c]) * np.uint8(255)
        out[o, 4, :] = 0
        out[o, 4, player[b]] = 255


# --------------------------------------------------------------------------------------------- rendering
_FLOOR = np.array([222, 212, 186], dtype=np.uint8)
_WALL = np.array([96, 64, 48], dtype=np.uint8)
_MORTAR = np.array([70, 46, 34], dtype=np.uint8)
_TARGET = np.array([214, 48, 49], dtype=np.uint8)
_BOX = np.array([214, 150, 60], dtype=np.uint8)
_BOX_ON = np.array([72, 170, 72], dtype=np.uint8)
_PLAYER = np.array([40, 90, 220], dtype=np.uint8)


class Sokoban(Game):
    """Batched Sokoban with procedurally generated, solvable levels (see the module docstring)."""

    name = "sokoban"
    ACTION_NAMES: ClassVar[tuple[str, ...]] = ("UP", "DOWN", "LEFT", "RIGHT")
    ACTION_KEYS: ClassVar[ActionKeys] = MOVE_KEYS  # WASD or the arrows
    STATE_KEYS: ClassVar[tuple[str, ...]] = ("size", "walls", "boxes", "targets", "player", "step", "done")
    STATE_OPTIONAL_KEYS: ClassVar[tuple[str, ...]] = ("max_steps", "deadlock_end", "score", "deadlocked",
                                                      "rng")
    #: set_attr may change these (checked as the constructor checks them); each board takes them at its reset
    max_steps = count_setting(default=lambda game, name: DIFFICULTIES[game.difficulty][2])  # None: its preset
    deadlock_end = flag_setting()

    def __init__(self, num_envs: int = 1, difficulty: str = "medium", size: int | None = None,
                 num_boxes: int | list[int] | tuple[int, int] | None = None, max_steps: int | None = None,
                 deadlock_end: bool = False) -> None:
        super().__init__(num_envs)
        if not isinstance(difficulty, str) or difficulty not in DIFFICULTIES:  # a list is unhashable
            raise ValueError(f"sokoban difficulty must be one of {', '.join(DIFFICULTIES)}, "
                             f"got {difficulty!r}")
        d_size, d_boxes, _ = DIFFICULTIES[difficulty]
        self.difficulty = difficulty
        self.size = d_size if size is None else whole("sokoban size", size, 6, 16, " (walls included)")
        # At most 6 boxes (the solver packs a state in 63 bits), and one per 8 inside cells: more crowded
        # rooms take milliseconds to generate and often leave a box on its target.
        most = min(6, (self.size - 2) ** 2 // 8)
        board = f" on the {self.size}x{self.size} board"
        if num_boxes is None:
            lo, hi = d_boxes
            if hi > most:  # the preset's boxes on a board the user shrank: say which option to change
                fits = next(n for n in range(self.size, 17) if (n - 2) ** 2 // 8 >= hi)
                raise ValueError(f"difficulty {difficulty!r} places {lo}-{hi} boxes; at most {most} fit"
                                 f"{board}: use size {fits} or more, an easier difficulty, or num_boxes "
                                 f"of at most {most}")
        elif isinstance(num_boxes, (list, tuple)):
            if len(num_boxes) != 2:
                raise ValueError(f"num_boxes must be a whole number or a [lo, hi] pair, got {num_boxes!r}")
            lo, hi = (whole("num_boxes", v, 1, most, board) for v in num_boxes)
            if lo > hi:
                raise ValueError(f"num_boxes [lo, hi] must have lo <= hi, got {num_boxes!r}")
        else:
            lo = hi = whole("num_boxes", num_boxes, 1, most, board)
        self.num_boxes = (lo, hi)
        self.max_steps = max_steps  # None: the difficulty's
        self.deadlock_end = deadlock_end
        n, cells = num_envs, self.size * self.size
        # Boards as flat cell arrays (cell = y * size + x): neighbours are +-1 and +-size.
        self._wall = np.ones((n, cells), dtype=np.uint8)
        self._target = np.zeros((n, cells), dtype=np.uint8)
        self._box = np.zeros((n, cells), dtype=np.uint8)
        self._player = np.full(n, self.size + 1, dtype=np.int64)
        self._nbox = np.ones(n, dtype=np.int64)
        self._on_target = np.zeros(n, dtype=np.int64)
        self._steps = np.zeros(n, dtype=np.int64)
        self._done = np.ones(n, dtype=np.bool_)
        self._deadlocked = np.zeros(n, dtype=np.bool_)
        self._rng = np.zeros(n, dtype=np.uint64)
        # Each board's limit and deadlock rule: the game's, or a state's that set_state restored (until the
        # board resets).
        self._max_steps = np.full(n, self.max_steps, dtype=np.int64)
        self._deadlock_end = np.full(n, self.deadlock_end, dtype=np.bool_)
        self._reward = np.zeros(n, dtype=np.float32)
        self._terminated = np.zeros(n, dtype=np.bool_)
        self._truncated = np.zeros(n, dtype=np.bool_)
        self.observation_space = spaces.Box(0, 255, (5, self.size, self.size), dtype=np.uint8)

    def reset(self, indices: np.ndarray, seeds: np.ndarray) -> None:
        boards, seeds = self._reset_args(indices, seeds)
        self._max_steps[boards], self._deadlock_end[boards] = self.max_steps, self.deadlock_end
        _reset(boards, seeds, self.size,
               self.num_boxes[0], self.num_boxes[1], self._wall, self._target, self._box, self._player,
               self._nbox, self._on_target, self._steps, self._done, self._deadlocked, self._rng)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        actions = self._actions(actions)
        _step(actions, self.size, self._max_steps, self._deadlock_end, self._wall, self._target, self._box,
              self._player, self._nbox, self._on_target, self._steps, self._done, self._deadlocked,
              self._reward, self._terminated, self._truncated)
        return self._reward.copy(), self._terminated.copy(), self._truncated.copy()

    def observe(self, out: np.ndarray, indices: np.ndarray | None = None) -> None:
        boards = self._boards(indices, out)
        flat = out.reshape(len(boards), 5, self.size * self.size)
        _observe(boards, self._wall, self._target, self._box, self._player, flat)
        if not np.shares_memory(flat, out):  # ``out`` is not contiguous: reshape made a copy
            out[:] = flat.reshape(out.shape)

    def _episode_info(self, i: int) -> dict[str, float]:
        return {"score": float(self._on_target[i]), "solved": float(self._on_target[i] == self._nbox[i]),
                "num_boxes": float(self._nbox[i]), "steps": float(self._steps[i]),
                "deadlocked": float(self._deadlocked[i])}

    def _started(self, i: int) -> bool:
        # Until then the board is all wall, the player on it; reset and set_state put the player on floor.
        return not self._wall[i, self._player[i]]

    def get_state(self, i: int) -> dict[str, Any]:
        self._check_started(i, "get_state")
        s = self.size

        def cells(plane: np.ndarray) -> list[list[int]]:
            return [[int(c % s), int(c // s)] for c in np.flatnonzero(plane)]

        p = int(self._player[i])
        return {
            "game": self.name,
            "size": s,
            "walls": self._wall[i].reshape(s, s).astype(int).tolist(),  # walls[y][x], 1 = wall
            "targets": cells(self._target[i]),
            "boxes": cells(self._box[i]),
            "player": [p % s, p // s],
            "step": int(self._steps[i]),
            "max_steps": int(self._max_steps[i]),
            "deadlock_end": bool(self._deadlock_end[i]),
            "score": int(self._on_target[i]),
            "done": bool(self._done[i]),
            "deadlocked": bool(self._deadlocked[i]),
            "rng": int(self._rng[i]),
        }

    def set_state(self, i: int, state: dict[str, Any]) -> None:
        self._check_state(i, state)
        s = self.size
        check_state_size(state, s)
        walls = state_walls(state, s)
        # Every level has the full ring, and the kernels look one cell past the player and box without
        # bounds checks. A gap was closed silently: the board then differed from the state, whose picture
        # (render_state) and solver (its own ring outside) kept the gap as floor.
        ring = np.ones_like(walls, dtype=bool)
        ring[1:-1, 1:-1] = False
        if not walls[ring].all():
            y, x = np.argwhere(ring & (walls == 0))[0]
            raise ValueError(f"state's walls have floor at [{x}, {y}] on the outer ring: every level is "
                             "closed in by walls")
        targets, boxes, player = state_pieces(state, walls)
        if len(boxes) != len(targets) or not boxes:
            raise ValueError("a sokoban state needs as many boxes as targets, at least one")
        # The state's own limit and deadlock rule, so that it re-simulates to the same episode end (hand-made
        # states may leave them out: then the game's).
        max_steps = whole("state's max_steps", state.get("max_steps", self.max_steps), 1)
        deadlock_end = flag("state's deadlock_end", state.get("deadlock_end", self.deadlock_end))
        # Everything is read before board i changes: a refused state leaves it as it was.
        # bool() took "false" for true; the step that reaches max_steps ends the episode, as does a deadlock.
        done = flag("state's done", state["done"])
        deadlocked = flag("state's deadlocked", state.get("deadlocked", False))
        solved = sorted(boxes) == sorted(targets)
        if deadlocked and not done:
            raise ValueError("state is deadlocked but not done: a deadlock ends the episode")
        if deadlocked and not deadlock_end:
            raise ValueError("state is deadlocked but its deadlock_end is off: only deadlock_end ends an "
                             "episode at a deadlock")
        if deadlocked and solved:
            raise ValueError("state is deadlocked with every box on a target: the push that solves the "
                             "puzzle is no deadlock")
        if not done and solved:  # its next step, any step, paid the solve's +10
            raise ValueError("state has every box on a target but not done: placing the last box solves the "
                             "puzzle and ends the episode")
        # The kernel's own test: a deadlock is a box in a non-target corner, and with deadlock_end the push
        # there ends the episode (no level starts with one: boxes start on targets and are only pulled).
        target = np.zeros((1, s * s), dtype=np.uint8)
        target[0, [y * s + x for x, y in targets]] = 1
        dead = [[x, y] for x, y in boxes if _dead_corner(walls.reshape(1, -1), target, 0, y * s + x, s)]
        if deadlocked and not dead:
            raise ValueError("state is deadlocked but no box is in a non-target corner (a wall above or "
                             "below it and one left or right of it): only a push into one is a deadlock")
        if deadlock_end and dead and not deadlocked:
            raise ValueError(f"state's box {dead[0]} is in a non-target corner but the state is not "
                             "deadlocked: with deadlock_end the push there ends the episode as a deadlock")
        steps = whole("state's step", state["step"], 0, max_steps if done else max_steps - 1,
                      f" with max_steps {max_steps} in a state {'that is' if done else 'not'} done")
        if done and not (solved or deadlocked or steps == max_steps):  # it stayed done, every step a no-op
            raise ValueError(f"state is done at step {steps} of max_steps {max_steps} but neither solved nor "
                             "deadlocked: only those and the step limit end an episode")
        rng = np.uint64(whole("state's rng", state.get("rng", 0), 0, 2**64 - 1))
        # get_state's score is derived (boxes on targets), counted again below: a stale one was taken
        # silently and came back as another number. Hand-made states may leave it out.
        if "score" in state:
            whole("state's score", state["score"], 0)  # a type error first: "1.5" is no score at all
        check_derived_key(state, "score", sum(b in targets for b in boxes), "its number of boxes on targets")
        self._wall[i] = walls.reshape(-1)
        self._target[i] = target[0]
        self._box[i] = 0
        for x, y in boxes:
            self._box[i, y * s + x] = 1
        x, y = player
        self._player[i] = y * s + x
        self._nbox[i] = len(boxes)
        self._on_target[i] = int(np.sum(self._box[i] & self._target[i]))
        self._steps[i], self._done[i], self._deadlocked[i], self._rng[i] = steps, done, deadlocked, rng
        self._max_steps[i], self._deadlock_end[i] = max_steps, deadlock_end

    @classmethod
    def render_state(cls, state: dict[str, Any], scale: int = RENDER_SCALE) -> np.ndarray:
        scale = whole("scale", scale, 1, MAX_RENDER_SCALE)
        # What the picture reads is checked as set_state reads it (states come back from files): a number
        # for the boxes raised a bare TypeError, a cell off the board an IndexError or (negative) was drawn
        # at the board's other end.
        check_state_keys(cls.name, state, ("size", "walls", "targets", "boxes", "player"))
        s = whole("state's size", state["size"], 1)
        walls = state_walls(state, s).astype(bool)
        targets_xy = state_on_board("state's targets", state_cells("state's targets", state["targets"]), s,
                                    "x")
        boxes = state_on_board("state's boxes", state_cells("state's boxes", state["boxes"]), s, "x")
        player = state_on_board("state's player", [state_cell("state's player", state["player"])], s, "x")[0]
        # Each cell is one of 16 pre-drawn tiles (wall·8 + target·4 + box·2 + player), gathered at once:
        # drawing cell by cell in Python took ~6 ms a board at task scales.
        kind = walls.astype(np.intp) * 8
        for cells, bit in ((targets_xy, 4), (boxes, 2), ([player], 1)):
            if cells:
                xy = np.asarray(cells)
                kind[xy[:, 1], xy[:, 0]] |= bit
        h, w = kind.shape
        # Image row j of board row y is row j of each of its cells' tiles: one gather of tile rows lands
        # them in place (gathering whole tiles then transposing was 5-10x slower at task scales).
        rows = kind[:, None, :] * scale + np.arange(scale)[None, :, None]
        return _tile_rows(scale)[rows].reshape(h * scale, w * scale, 3)


@functools.lru_cache(maxsize=16)  # a few scales in use: the default, videos', one per board size in tasks
def _tile_rows(scale: int) -> np.ndarray:
    """The 16 cell pictures at ``scale`` as rows (read-only, (16·scale, scale·3)), tile k having a wall if
    k & 8, a target if k & 4, a box if k & 2 and the player if k & 1, drawn in that order over the floor,
    so a cell holding several (a box on a target, the player on a target) shows what it always did."""
    tiles = np.empty((16, scale, scale, 3), dtype=np.uint8)
    tiles[:] = _FLOOR
    yy, xx = np.mgrid[0:scale, 0:scale] + 0.5
    r = scale / 2
    dist = np.maximum(np.abs(xx - r), np.abs(yy - r))  # square rings around the cell centre
    disc = (xx - r) ** 2 + (yy - r) ** 2
    brick = np.zeros((scale, scale), dtype=bool)
    if scale >= 6:
        brick[[0, scale // 2], :] = True
        brick[: scale // 2, 0] = True
        brick[scale // 2:, scale // 2] = True
    # A target is a square ring, so the player standing on it leaves it visible: at scales 3-5 the cell's
    # outer pixels (a centre dot there was hidden under the player). Scales 1-2 have no pixel to spare.
    if scale >= 6:
        ring = (dist <= r * 0.9) & (dist > r * 0.65)
    elif scale >= 3:
        ring = dist > r - 1
    else:
        ring = dist <= max(r * 0.35, 0.5)
    for k, c in enumerate(tiles):
        if k & 8:
            c[:] = _WALL
            c[brick] = _MORTAR
        if k & 4:
            c[ring] = _TARGET
        if k & 2:
            colour = _BOX_ON if k & 4 else _BOX
            c[dist <= max(r * 0.8, 0.5)] = colour
            if scale >= 8:  # a darker frame so neighbouring boxes read as two
                frame = (dist <= r * 0.8) & (dist > r * 0.8 - max(1, scale // 10))
                c[frame] = (colour * 0.6).astype(np.uint8)
        if k & 1:  # at least 0.75 wide, so it covers the pixels nearest the centre at scale 2 too
            c[disc <= max(r * 0.6, 0.75) ** 2] = _PLAYER
    rows = tiles.reshape(16 * scale, scale * 3)
    rows.flags.writeable = False
    return rows


def state_pieces(state: dict[str, Any], walls: np.ndarray
                 ) -> tuple[list[list[int]], list[list[int]], list[int]]:
    """The state's targets, boxes and player as ``[x, y]`` lists, each on a floor cell of ``walls``
    (``[y][x]``, nonzero for a wall), no two targets or boxes on one cell and the player on no box; else a
    ValueError naming the key. ``set_state`` and the solver read them so: a number for the boxes was a bare
    TypeError, a player [1.5, 2] an IndexError, a string was read a character at a time, and a coordinate
    off the board indexed another cell (or memory past the board in the compiled code)."""
    targets = state_cells("state's targets", state["targets"])
    boxes = state_cells("state's boxes", state["boxes"])
    player = state_cell("state's player", state["player"])
    h, w = walls.shape
    for what, where in (("target", targets), ("box", boxes), ("player", [player])):
        for x, y in where:
            if not (0 <= x < w and 0 <= y < h) or walls[y, x]:
                raise ValueError(f"state's {what} {[x, y]} must be on a floor cell of the {w}x{h} board "
                                 "(inside the wall ring, not on a wall)")
    for what, where in (("targets", targets), ("boxes", boxes)):
        if len({tuple(c) for c in where}) != len(where):
            raise ValueError(f"state's {what} {where} cover a cell twice")
    if player in boxes:
        raise ValueError(f"state's player {player} stands on a box")
    return targets, boxes, player


def state_walls(state: dict[str, Any], s: int | None) -> np.ndarray:
    """The state's walls as an (s, s) uint8 array (any 2-D shape when ``s`` is None, as the solver takes),
    1 for a wall, else a ValueError naming the key: NumPy read None or a string with its own TypeError or
    ValueError, cut 0.5 to floor and refused -1 with an OverflowError."""
    try:
        walls = np.asarray(state["walls"])
    except ValueError:  # rows of different lengths
        walls = np.zeros(0)
    shape_ok = walls.ndim == 2 and walls.size > 0 if s is None else walls.shape == (s, s)
    if not shape_ok or walls.dtype.kind not in "biuf" or not ((walls == 0) | (walls == 1)).all():
        rows = "rows of equal length" if s is None else f"{s} rows of {s}"
        raise ValueError(f"state's walls must be {rows} numbers, 1 for a wall and 0 for floor, "
                         f"got {state['walls']!r}")
    return walls.astype(np.uint8)
