"""Shortest-move Sokoban solver: breadth-first search over (player, boxes) states in Numba.

``solve(state)`` takes a state dict (as ``Sokoban.get_state`` returns: ``walls[y][x]``, ``targets``,
``boxes`` and ``player`` as ``[x, y]``, checked as ``set_state`` checks them, but for the board: any
rectangle, its outer wall ring optional since the solver adds its own) and returns a list of
action ids (UP 0, DOWN 1, LEFT 2, RIGHT 3) of the fewest possible MOVES (every step counts, not just
pushes) that puts every box on a target, or None when there is none. Breadth-first search over moves is
exact; it only skips states that provably cannot be finished, so optimality is kept:

- a box on a *dead* cell, from which no push sequence could bring it to any target even with the
  rest of the board empty (computed once by pulling a lone box backwards from every target);
- a box frozen in a 2×2 block of walls and boxes while not on a target.

A state is one int64: 9 bits for the player's cell and 9 for each box (sorted, so boxes are
interchangeable), hence at most 6 boxes and boards up to 20×20 (22×22 with the solver's own padding
ring: at most 512 cells). Visited states live in an open-addressing hash table. Default-difficulty
(medium, 8×8, 2 boxes) levels take well under a millisecond; hard levels (10×10, 3–4 boxes) a few
milliseconds, the slowest about two seconds.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from envs.base import check_state_keys, whole
from envs.sokoban import state_pieces, state_walls

_BITS = 9
_MASK = (1 << _BITS) - 1
_MAX_BOXES = 6

SOLVED, UNSOLVABLE, BUDGET = 0, 1, 2
MAX_STATES = 5_000_000  # the search's default budget: states visited before it answers BUDGET


def _board(state: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Flat (wall, target) arrays padded by a wall ring, box cells, player cell, padded width."""
    check_state_keys("sokoban", state, ("walls", "targets", "boxes", "player"))
    walls = state_walls(state, None)
    targets, boxes_xy, (x, y) = state_pieces(state, walls)
    h, w = walls.shape
    wall = np.ones((h + 2, w + 2), dtype=np.uint8)
    wall[1:-1, 1:-1] = walls
    width = w + 2
    if wall.size > (1 << _BITS):
        raise ValueError(f"the solver handles boards up to 20x20 cells, got {w}x{h}")
    target = np.zeros_like(wall)
    for tx, ty in targets:
        target[ty + 1, tx + 1] = 1
    boxes = np.array(sorted((by + 1) * width + bx + 1 for bx, by in boxes_xy), dtype=np.int64)
    if not 1 <= boxes.size <= _MAX_BOXES:
        raise ValueError(f"the solver handles 1 to {_MAX_BOXES} boxes, got {boxes.size}")
    return wall.reshape(-1), target.reshape(-1), boxes, (y + 1) * width + x + 1, width


@numba.njit(cache=True)
def _dead_cells(wall: np.ndarray, target: np.ndarray, width: int) -> np.ndarray:
    """1 where a lone box can never reach a target: not reachable by pulling one back from a target."""
    step = np.array([-width, width, -1, 1], dtype=np.int64)
    live = np.zeros(wall.size, dtype=np.uint8)
    stack = np.empty(wall.size, dtype=np.int64)
    top = 0
    for c in range(wall.size):
        if target[c] and not wall[c]:
            live[c] = 1
            stack[top] = c
            top += 1
    while top > 0:
        top -= 1
        c = stack[top]
        for a in range(4):
            # Pull: the player stands at c+d and steps to c+2d; the box follows to c+d.
            n1 = c + step[a]
            n2 = n1 + step[a]
            if 0 <= n2 < wall.size and not wall[n1] and not wall[n2] and not live[n1]:
                live[n1] = 1
                stack[top] = n1
                top += 1
    dead = np.zeros(wall.size, dtype=np.uint8)
    for c in range(wall.size):
        dead[c] = not wall[c] and not live[c]
    return dead


@numba.njit(cache=True, inline="always")
def _hash(key: np.int64, shift: int) -> int:
    # Fibonacci hashing; back to int64 at once (uint64 mixed with int64 turns into float64 in Numba).
    return np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(shift))


@numba.njit(cache=True)
def _frozen_block(c: int, wall: np.ndarray, target: np.ndarray, boxes: np.ndarray, width: int) -> bool:
    """True if box cell ``c`` closes a 2×2 block of walls/boxes holding a box off target."""
    for dy in (-width, width):
        for dx in (-1, 1):
            block_cells = (c, c + dx, c + dy, c + dx + dy)
            full = True
            off = False
            for k in range(4):
                q = block_cells[k]
                is_box = False
                for m in range(boxes.size):
                    if boxes[m] == q:
                        is_box = True
                if is_box:
                    if not target[q]:
                        off = True
                elif not wall[q]:
                    full = False
            if full and off:
                return True
    return False


@numba.njit(cache=True)
def _bfs(wall, target, dead, width, player, boxes0, max_states):
    """Breadth-first search; return (status, actions of the shortest solution)."""
    nb = boxes0.size
    step = np.array([-width, width, -1, 1], dtype=np.int64)
    empty = np.empty(0, dtype=np.int64)

    key = np.int64(player)
    for m in range(nb):
        key |= np.int64(boxes0[m]) << np.int64(_BITS * (m + 1))
    solved = True
    for m in range(nb):
        if not target[boxes0[m]]:
            solved = False
    if solved:
        return SOLVED, empty

    cap = 1 << 12
    keys = np.empty(cap, dtype=np.int64)
    parent = np.empty(cap, dtype=np.int32)
    move = np.empty(cap, dtype=np.int8)
    hbits = 13
    table = np.full(1 << hbits, -1, dtype=np.int32)
    keys[0] = key
    parent[0] = -1
    move[0] = -1
    table[_hash(key, 64 - hbits)] = 0
    count = 1
    bx = np.empty(nb, dtype=np.int64)
    nbx = np.empty(nb, dtype=np.int64)
    head = 0
    while head < count:
        key = keys[head]
        p = key & _MASK
        for m in range(nb):
            bx[m] = (key >> np.int64(_BITS * (m + 1))) & _MASK
        for a in range(4):
            q = p + step[a]
            if wall[q]:
                continue
            j = -1
            for m in range(nb):
                if bx[m] == q:
                    j = m
            nbx[:] = bx
            if j >= 0:
                c = q + step[a]
                if wall[c] or dead[c]:
                    continue
                blocked = False
                for m in range(nb):
                    if bx[m] == c:
                        blocked = True
                if blocked:
                    continue
                # Move box j to c and keep the list sorted (one insertion pass each way).
                nbx[j] = c
                k = j
                while k > 0 and nbx[k - 1] > nbx[k]:
                    nbx[k - 1], nbx[k] = nbx[k], nbx[k - 1]
                    k -= 1
                while k < nb - 1 and nbx[k + 1] < nbx[k]:
                    nbx[k + 1], nbx[k] = nbx[k], nbx[k + 1]
                    k += 1
                if _frozen_block(c, wall, target, nbx, width):
                    continue
            nkey = np.int64(q)
            for m in range(nb):
                nkey |= nbx[m] << np.int64(_BITS * (m + 1))
            h = _hash(nkey, 64 - hbits)
            mask = (1 << hbits) - 1
            found = False
            while table[h] >= 0:
                if keys[table[h]] == nkey:
                    found = True
                    break
                h = (h + 1) & mask
            if found:
                continue
            if count >= max_states:
                return BUDGET, empty
            if count == cap:  # grow the node arrays
                cap *= 2
                keys2 = np.empty(cap, dtype=np.int64)
                parent2 = np.empty(cap, dtype=np.int32)
                move2 = np.empty(cap, dtype=np.int8)
                keys2[:count] = keys[:count]
                parent2[:count] = parent[:count]
                move2[:count] = move[:count]
                keys, parent, move = keys2, parent2, move2
            keys[count] = nkey
            parent[count] = head
            move[count] = a
            table[h] = count
            count += 1
            if 2 * count > (1 << hbits):  # keep the table at most half full
                hbits += 1
                mask = (1 << hbits) - 1
                table = np.full(1 << hbits, -1, dtype=np.int32)
                for n in range(count):
                    h = _hash(keys[n], 64 - hbits)
                    while table[h] >= 0:
                        h = (h + 1) & mask
                    table[h] = n
            if j >= 0:
                done = True
                for m in range(nb):
                    if not target[nbx[m]]:
                        done = False
                if done:
                    length = 0
                    n = count - 1
                    while parent[n] >= 0:
                        length += 1
                        n = parent[n]
                    out = np.empty(length, dtype=np.int64)
                    n = count - 1
                    for k in range(length - 1, -1, -1):
                        out[k] = move[n]
                        n = parent[n]
                    return SOLVED, out
        head += 1
    return UNSOLVABLE, empty


def solve(state: dict[str, Any], max_states: int = MAX_STATES) -> list[int] | None:
    """Fewest-moves solution of ``state`` as action ids, ``[]`` if already solved.

    Returns None when the level cannot be solved, or when the search visited ``max_states`` states
    without finishing (use ``solve_status`` to tell the two apart).
    """
    status, actions = solve_status(state, max_states)
    return actions if status == SOLVED else None


def solve_status(state: dict[str, Any], max_states: int = MAX_STATES) -> tuple[int, list[int]]:
    """(status, actions): status SOLVED (0), UNSOLVABLE (1) or BUDGET (2, gave up at ``max_states``)."""
    # Checked here: the search compiled anew for a float and raised Numba's TypingError for a str or None,
    # and answered BUDGET for a budget below 1 (its start state alone counts one).
    max_states = whole("max_states", max_states, 1)
    wall, target, boxes, player, width = _board(state)
    if target.sum() < boxes.size:
        return UNSOLVABLE, []
    dead = _dead_cells(wall, target, width)
    status, actions = _bfs(wall, target, dead, width, player, boxes, max_states)
    return int(status), [int(a) for a in actions]


def next_optimal_action(state: dict[str, Any], max_states: int = MAX_STATES) -> int | None:
    """The first action of a shortest solution; None if solved already, unsolvable or over budget."""
    actions = solve(state, max_states)
    return actions[0] if actions else None
