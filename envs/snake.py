"""Snake: one snake on an N×N board, many boards stepped at once by Numba kernels.

Rules (documented in the README too):
- Board N×N (default 10, allowed 4–32); cells are ``[x, y]``, x to the right, y downward.
- The snake starts with length 3 in a straight line at a seeded random place and heading.
- Actions are absolute: UP, DOWN, LEFT, RIGHT. Turning back into the neck is impossible, so that action
  continues straight on (the snake never dies by reversing).
- Reward +1 per apple (the snake grows by one), −1 on death (wall or own body). Moving into the cell
  the tail is leaving is legal (the tail moves away first; the apple is never on the snake, so that
  move never eats and the tail always moves).
- On death the board stays as it was before the fatal move; ``crash`` (in ``get_state``) keeps the cell
  the head ran into, and ``render_state`` marks the head with a red frame, thick on that side.
- The episode terminates on death or when the snake fills the board (a win, score N²−3), and is
  truncated after ``starvation`` steps without an apple (default 2·N², 200 on 10×10: long enough for a
  full-length snake to reach any apple, short enough to end endless loops). A death on the step that
  reaches the limit is terminated (−1), not truncated: a step never reports both.
- Apples appear on a uniformly random free cell, never on the snake. Score = apples eaten.

Observation ``obs="grid"`` (default): uint8 (4, N, N), one pixel per cell — head (255), body (order
coded: the neck brightest, fading toward the tail, so the net sees which cells free up first), apple
(255), and an all-255 "inside" plane so a CNN's zero padding reads as a wall. ``obs="pixels"``: the
scale-1 picture with each cell an s×s block, (3, N·s, N·s) with ``pixel_scale`` s (none of the details
``render_state`` adds at larger scales: the death frame, grid lines, eyes, a round apple).
"""

from __future__ import annotations

import itertools
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
    check_state_keys,
    check_state_size,
    count_setting,
    state_cell,
    state_cells,
    state_on_board,
    whole,
)
from envs.choices import SNAKE_OBS
from envs.rng import randint

# The largest obs="pixels" block per cell: a 32-cell board is then 2,048 pixels a side (12 MB a board).
# Unbounded, pixel_scale=8_000 on a 10×10 board made a (3, 80000, 80000) observation space, whose Box
# holds low and high arrays of that shape: the constructor took 38 GB and the process was killed for memory.
MAX_PIXEL_SCALE = 64

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
_DX = np.array([0, 0, -1, 1], dtype=np.int64)
_DY = np.array([-1, 1, 0, 0], dtype=np.int64)
_OPPOSITE = np.array([DOWN, UP, RIGHT, LEFT], dtype=np.int64)
INITIAL_LENGTH = 3
#: The largest board (both Snake games): render_state refuses a state's size past it, as a few bytes of a
#: file (size 30000) allocated gigabytes there.
MAX_SIZE = 32


@numba.njit(cache=True)
def _spawn_apple(b: int, size: int, occ: np.ndarray, length: np.ndarray, apple: np.ndarray,
                 rng: np.ndarray) -> None:
    free = size * size - length[b]
    if free <= 0:
        apple[b] = -1
        return
    k = randint(rng, b, free)
    for c in range(size * size):
        if not occ[b, c]:
            if k == 0:
                apple[b] = c
                return
            k -= 1


@numba.njit(cache=True)
def _reset(indices, seeds, size, body, head, length, occ, apple, direction, steps, hunger, score,
           done, crash, rng, dx, dy):
    cells = size * size
    for j in range(indices.shape[0]):
        b = indices[j]
        rng[b] = seeds[j]
        occ[b, :] = False
        d = randint(rng, b, 4)
        # The head must leave room behind it for the two body cells.
        lo_x = 2 if d == 3 else 0
        hi_x = size - 3 if d == 2 else size - 1
        lo_y = 2 if d == 1 else 0
        hi_y = size - 3 if d == 0 else size - 1
        hx = lo_x + randint(rng, b, hi_x - lo_x + 1)
        hy = lo_y + randint(rng, b, hi_y - lo_y + 1)
        # Body ring buffer: body[b, head[b]] is the head, going backwards is toward the tail.
        for k in range(INITIAL_LENGTH):
            c = (hy - k * dy[d]) * size + (hx - k * dx[d])
            body[b, (INITIAL_LENGTH - 1 - k) % cells] = c
            occ[b, c] = True
        head[b] = INITIAL_LENGTH - 1
        length[b] = INITIAL_LENGTH
        direction[b] = d
        steps[b] = 0
        hunger[b] = 0
        score[b] = 0
        done[b] = False
        crash[b] = -1
        _spawn_apple(b, size, occ, length, apple, rng)


@numba.njit(cache=True)
def _step(actions, size, starvation, body, head, length, occ, apple, direction, steps, hunger,
          score, done, crash, rng, dx, dy, opposite, reward, terminated, truncated):
    cells = size * size
    # Checked before any board moves: an action past 3 would index dx/dy out of bounds (Numba does not
    # check) and move or kill the snake by whatever lies in memory there.
    for b in range(actions.shape[0]):
        if actions[b] < 0 or actions[b] > 3:
            raise ValueError("snake: actions must be in 0..3 (UP, DOWN, LEFT, RIGHT)")
    for b in range(actions.shape[0]):
        reward[b] = 0.0
        terminated[b] = False
        truncated[b] = False
        if done[b]:
            continue
        a = actions[b]
        if a == opposite[direction[b]]:
            a = direction[b]
        h = body[b, head[b]]
        x = h % size + dx[a]
        y = h // size + dy[a]
        steps[b] += 1
        hunger[b] += 1  # every step counts, the fatal one too (eating sets it back to 0 below)
        if x < 0 or x >= size or y < 0 or y >= size:
            reward[b] = -1.0
            terminated[b] = True
            done[b] = True
            crash[b] = a  # the board stays as it was; the move that killed is kept for the picture
            continue
        c = y * size + x
        eats = c == apple[b]
        tail = body[b, (head[b] - length[b] + 1) % cells]
        if occ[b, c] and c != tail:  # the apple is never on the snake: eating leaves no tail there
            reward[b] = -1.0
            terminated[b] = True
            done[b] = True
            crash[b] = a
            continue
        direction[b] = a
        if eats:
            length[b] += 1
        else:
            occ[b, tail] = False
        head[b] = (head[b] + 1) % cells
        body[b, head[b]] = c
        occ[b, c] = True
        if eats:
            score[b] += 1
            reward[b] = 1.0
            hunger[b] = 0
            if length[b] == cells:
                apple[b] = -1
                terminated[b] = True
                done[b] = True
            else:
                _spawn_apple(b, size, occ, length, apple, rng)
        elif hunger[b] >= starvation[b]:
            truncated[b] = True
            done[b] = True


@numba.njit(cache=True)
def _observe_grid(size, boards, body, head, length, apple, out):
    cells = size * size
    for o in range(boards.shape[0]):
        b = boards[o]
        out[o, :3] = 0
        out[o, 3] = 255
        n = length[b]
        for k in range(n):
            c = body[b, (head[b] - k) % cells]
            if k == 0:
                out[o, 0, c // size, c % size] = 255
            else:
                # Neck 255, tail 255//(n-1): how soon each cell frees up. At least 1: past 256 cells the
                # integer fade reaches 0 near the tail, which would read as an empty cell.
                out[o, 1, c // size, c % size] = max(1, 255 * (n - k) // (n - 1))
        if apple[b] >= 0:
            out[o, 2, apple[b] // size, apple[b] % size] = 255


# Colours for rendering (RGB): background, checker, apple, head, body near head, body at tail.
_BG = np.array([24, 26, 33], dtype=np.float32)
_CHECKER = np.array([32, 35, 44], dtype=np.float32)
_APPLE = np.array([230, 57, 70], dtype=np.float32)
_HEAD = np.array([255, 214, 10], dtype=np.float32)
_BODY_NEAR = np.array([82, 196, 26], dtype=np.float32)
_BODY_FAR = np.array([25, 90, 40], dtype=np.float32)
_CRASH = np.array([255, 0, 0], dtype=np.uint8)


def _paint_cells(head: np.ndarray, body: np.ndarray, apple: np.ndarray) -> np.ndarray:
    """Per-cell RGB colours (..., N, N, 3) from the head/body/apple planes of grid observations."""
    n = head.shape[-1]
    yy, xx = np.indices((n, n))
    rgb = np.where(((xx + yy) % 2 == 1)[..., None], _CHECKER, _BG) * np.ones((*head.shape, 1), np.float32)
    t = (body.astype(np.float32) / 255.0)[..., None]
    rgb = np.where((body > 0)[..., None], _BODY_FAR + t * (_BODY_NEAR - _BODY_FAR), rgb)
    rgb = np.where((apple > 0)[..., None], _APPLE, rgb)
    rgb = np.where((head > 0)[..., None], _HEAD, rgb)
    return rgb.astype(np.uint8)


def checked_path(what: str, body: list[list[int]], direction: Any) -> int:
    """The action index of ``direction`` for a snake ``body`` (cells ``[x, y]``, head first, on the board),
    else a ValueError naming ``what`` (``"state's snake"``, ``"snake 1"``): the direction must be an action
    name and, as in every game played, the way the head last moved (neck to head: the step turns a move
    back into the neck straight on by it), and each cell must be one step up, down, left or right of the
    one before it (a gap or a diagonal step let the snake move as no snake can)."""
    names = Snake.ACTION_NAMES
    if not isinstance(direction, str) or direction not in names:
        raise ValueError(f"{what} direction must be one of {', '.join(names)}, got {direction!r}")
    for (x0, y0), (x1, y1) in itertools.pairwise(body):
        if abs(x0 - x1) + abs(y0 - y1) != 1:
            raise ValueError(f"{what} {body} has {[x0, y0]} next to {[x1, y1]}: each cell must be one step "
                             "up, down, left or right of the one before it")
    d = names.index(direction)
    if len(body) > 1 and (body[0][0] - body[1][0], body[0][1] - body[1][1]) != (_DX[d], _DY[d]):
        raise ValueError(f"{what} direction {direction} is not the way its head last moved, from "
                         f"{list(body[1])} to {list(body[0])}")
    return d


class Snake(Game):
    """Batched classic Snake (see the module docstring for the rules)."""

    name = "snake"
    ACTION_NAMES: ClassVar[tuple[str, ...]] = ("UP", "DOWN", "LEFT", "RIGHT")
    ACTION_KEYS: ClassVar[ActionKeys] = MOVE_KEYS  # WASD or the arrows
    STATE_KEYS: ClassVar[tuple[str, ...]] = ("size", "body", "apple", "direction", "step",
                                             "steps_since_apple", "score", "done", "rng")
    STATE_OPTIONAL_KEYS: ClassVar[tuple[str, ...]] = ("starvation", "crash")
    #: set_attr may change it (checked as the constructor checks it); each board takes it at its reset
    starvation = count_setting(default=lambda game, name: 2 * game.size * game.size)  # None: 2·N²

    def __init__(self, num_envs: int = 1, size: int = 10, obs: str = "grid", pixel_scale: int = 4,
                 starvation: int | None = None) -> None:
        super().__init__(num_envs)
        size = whole("snake size", size, 4, MAX_SIZE)
        if obs not in SNAKE_OBS:
            raise ValueError(f"snake obs must be {' or '.join(map(repr, SNAKE_OBS))}, got {obs!r}")
        pixel_scale = whole("pixel_scale", pixel_scale, 1, MAX_PIXEL_SCALE)
        self.size = size
        self.obs = obs
        self.pixel_scale = pixel_scale
        self.starvation = starvation  # after size: None stands for 2·N²
        n, cells = num_envs, size * size
        self._body = np.zeros((n, cells), dtype=np.int64)
        self._head = np.zeros(n, dtype=np.int64)
        self._length = np.zeros(n, dtype=np.int64)
        self._occ = np.zeros((n, cells), dtype=np.bool_)
        self._apple = np.full(n, -1, dtype=np.int64)
        self._direction = np.zeros(n, dtype=np.int64)
        self._steps = np.zeros(n, dtype=np.int64)
        self._hunger = np.zeros(n, dtype=np.int64)
        self._score = np.zeros(n, dtype=np.int64)
        self._done = np.ones(n, dtype=np.bool_)
        self._crash = np.full(n, -1, dtype=np.int64)  # the fatal move once the snake has crashed, else -1
        self._rng = np.zeros(n, dtype=np.uint64)
        # Each board's limit: the game's, or a state's that set_state restored (until the board resets).
        self._starvation = np.full(n, self.starvation, dtype=np.int64)
        self._reward = np.zeros(n, dtype=np.float32)
        self._terminated = np.zeros(n, dtype=np.bool_)
        self._truncated = np.zeros(n, dtype=np.bool_)
        if obs == "grid":
            self.observation_space = spaces.Box(0, 255, (4, size, size), dtype=np.uint8)
        else:
            side = size * pixel_scale
            self.observation_space = spaces.Box(0, 255, (3, side, side), dtype=np.uint8)

    def reset(self, indices: np.ndarray, seeds: np.ndarray) -> None:
        boards, seeds = self._reset_args(indices, seeds)
        self._starvation[boards] = self.starvation
        _reset(boards, seeds, self.size,
               self._body, self._head, self._length, self._occ, self._apple, self._direction,
               self._steps, self._hunger, self._score, self._done, self._crash, self._rng, _DX, _DY)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        actions = self._actions(actions)
        _step(actions, self.size, self._starvation, self._body, self._head, self._length, self._occ,
              self._apple, self._direction, self._steps, self._hunger, self._score, self._done,
              self._crash, self._rng, _DX, _DY, _OPPOSITE, self._reward, self._terminated, self._truncated)
        return self._reward.copy(), self._terminated.copy(), self._truncated.copy()

    def observe(self, out: np.ndarray, indices: np.ndarray | None = None) -> None:
        boards = self._boards(indices, out)
        if self.obs == "grid":
            _observe_grid(self.size, boards, self._body, self._head, self._length, self._apple, out)
            return
        # One row per board asked for, which may be more than num_envs (a board asked for twice).
        grid = np.empty((len(boards), 4, self.size, self.size), dtype=np.uint8)
        _observe_grid(self.size, boards, self._body, self._head, self._length, self._apple, grid)
        rgb = _paint_cells(grid[:, 0], grid[:, 1], grid[:, 2])  # (n, N, N, 3)
        s = self.pixel_scale
        # Channels first, then columns, then whole rows: ~9x faster than scaling (n, N, N, 3) rows first.
        out[:] = rgb.transpose(0, 3, 1, 2).repeat(s, axis=3).repeat(s, axis=2)

    def _episode_info(self, i: int) -> dict[str, float]:
        return {k: float(v[0]) for k, v in self._figures(np.array([i])).items()}

    def episode_infos(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        self._check_open("episode_infos")  # a closed game gave figures here, where episode_info refused
        boards = self._board_indices(indices, "episode_infos")
        figures = self._figures(boards)
        if not figures["snake_length"].all():  # a board never reset (no snake): refused as the others are
            self._check_started(int(boards[np.argmin(figures["snake_length"])]), "episode_infos")
        return figures

    def _figures(self, boards: np.ndarray) -> dict[str, np.ndarray]:
        """The figures of ``boards`` (board numbers in range), unchecked: ``episode_infos`` checks them."""
        length = self._length[boards]
        return {"score": self._score[boards].astype(np.float64), "snake_length": length.astype(np.float64),
                "won": (length == self.size * self.size).astype(np.float64)}

    def _started(self, i: int) -> bool:
        return bool(self._length[i])  # reset and set_state give the snake at least one cell

    def get_state(self, i: int) -> dict[str, Any]:
        self._check_started(i, "get_state")
        cells = self.size * self.size
        n = int(self._length[i])
        body = self._body[i, (int(self._head[i]) - np.arange(n)) % cells].tolist()  # head first, plain ints
        apple = int(self._apple[i])
        crash = int(self._crash[i])
        hx, hy = body[0] % self.size, body[0] // self.size
        return {
            "game": self.name,
            "size": self.size,
            "body": [[c % self.size, c // self.size] for c in body],
            "apple": None if apple < 0 else [apple % self.size, apple // self.size],
            "direction": self.ACTION_NAMES[int(self._direction[i])],
            "step": int(self._steps[i]),
            "steps_since_apple": int(self._hunger[i]),
            "starvation": int(self._starvation[i]),
            "score": int(self._score[i]),
            "done": bool(self._done[i]),
            # The cell the head ran into when the snake died (off the board for a wall), else None.
            "crash": None if crash < 0 else [hx + int(_DX[crash]), hy + int(_DY[crash])],
            "rng": int(self._rng[i]),
        }

    def set_state(self, i: int, state: dict[str, Any]) -> None:
        self._check_state(i, state)
        check_state_size(state, self.size)
        n = self.size
        cells = n * n
        # Cells are read as pairs of ints first: a number for the body, or an apple of three numbers or
        # 1.5, raised a bare TypeError or was loaded as another cell.
        cells_xy = state_cells("state's body", state["body"])
        if not cells_xy or any(not (0 <= x < n and 0 <= y < n) for x, y in cells_xy):
            raise ValueError(f"state's snake {cells_xy} must have at least one cell, all on the board")
        body = [y * self.size + x for x, y in cells_xy]
        if len(set(body)) != len(body):
            raise ValueError(f"state's snake {cells_xy} covers a cell twice")
        apple = None if state["apple"] is None else state_cell("state's apple", state["apple"])
        if apple is not None and (not (0 <= apple[0] < n and 0 <= apple[1] < n)
                                  or apple[1] * n + apple[0] in body):
            # The step takes the apple for a free cell (apples only ever spawn there): on the snake it
            # would let the head eat its way onto the tail.
            raise ValueError(f"state's apple {apple} must be on a free cell of the board, not on the snake")
        # The state's own limit, so that it re-simulates to the same episode end (hand-made states may
        # leave it out: then the game's).
        starvation = whole("state's starvation", state.get("starvation", self.starvation), 1)
        direction = checked_path("state's snake", cells_xy, state["direction"])
        done = state["done"]
        if not isinstance(done, bool):
            raise ValueError(f"state's done must be true or false, got {done!r}")  # "false" counted as true
        full = len(body) == cells
        if (apple is None) != full or (full and not done):
            # Without an apple the snake played on until it starved; a full board still playing died on its
            # next move while episode_info counted it won.
            raise ValueError(f"state's apple must be None exactly when the snake fills the board, a win "
                             f"that ends the episode: got apple {apple}, {len(body)} of {cells} cells, done "
                             f"{done}")
        crash = state.get("crash")  # states saved before it was kept have none
        crash = None if crash is None else state_cell("state's crash", crash)
        moves = [(int(_DX[m]), int(_DY[m])) for m in range(4)]
        hx, hy = cells_xy[0]
        if crash is not None and (not done or (crash[0] - hx, crash[1] - hy) not in moves):
            raise ValueError(f"state's crash {crash} must be a cell next to the head {[hx, hy]}, in a state "
                             "that is done")
        if crash is not None and full:  # it won on the move that ate the last apple: no move killed it
            raise ValueError(f"state's crash {crash} must be None in a state whose snake fills the board: "
                             "that is a win, not a death")
        on_board = crash is not None and 0 <= crash[0] < n and 0 <= crash[1] < n
        if on_board and crash[1] * n + crash[0] not in body[2:-1]:
            # The head dies only off the board or on its body: never on a free cell or the apple, nor on the
            # tail (it moves away) or the neck (a move back into it goes straight on). The picture and the
            # task text said the snake ran into a wall or body cell there.
            raise ValueError(f"state's crash {crash} must be off the board or on the snake's body (not its "
                             "neck or tail): a snake dies only there")
        # Every step counts toward the starvation limit, and the step that reaches it ends the episode (the
        # fatal step too): only a done state holds steps_since_apple equal to its starvation.
        steps, score = whole("state's step", state["step"], 0), whole("state's score", state["score"], 0)
        hunger = whole("state's steps_since_apple", state["steps_since_apple"], 0,
                       starvation if done else starvation - 1, f" with starvation {starvation} in a state "
                       f"{'that is' if done else 'not'} done")
        if done and crash is None and "crash" in state and not full and hunger < starvation:
            # Nothing ended it (states saved before crash was kept, without the key, may be deaths).
            raise ValueError(f"state is done with crash null, steps_since_apple {hunger} of starvation "
                             f"{starvation} and {len(body)} of {cells} cells: a snake's episode ends only at "
                             "a crash (give its cell), at starvation or on a full board")
        # The snake starts with INITIAL_LENGTH cells and grows one per apple, eaten each on a step of its
        # own that sets steps_since_apple back to 0: the picture, the score and the step count must agree.
        if len(body) != INITIAL_LENGTH + score:
            raise ValueError(f"state's snake has {len(body)} cells with score {score}: a snake starts with "
                             f"{INITIAL_LENGTH} and grows one per apple, so it has {INITIAL_LENGTH} + score")
        if hunger > steps - score or (score == 0 and hunger != steps):
            raise ValueError(f"state's steps_since_apple {hunger} does not fit step {steps} and score "
                             f"{score}: each apple takes a step, and before the first every step counts")
        # Everything is read before board i changes: a refused state leaves it as it was.
        rng = np.uint64(whole("state's rng", state["rng"], 0, 2**64 - 1))
        self._occ[i] = False
        # Head at ring slot len-1, tail at slot 0.
        for k, c in enumerate(reversed(body)):
            self._body[i, k] = c
            self._occ[i, c] = True
        self._head[i] = (len(body) - 1) % cells
        self._length[i] = len(body)
        self._apple[i] = -1 if apple is None else apple[1] * self.size + apple[0]
        self._direction[i] = direction
        self._steps[i] = steps
        self._hunger[i] = hunger
        self._score[i] = score
        self._done[i] = done
        self._crash[i] = -1 if crash is None else moves.index((crash[0] - hx, crash[1] - hy))
        self._rng[i] = rng
        self._starvation[i] = starvation

    @classmethod
    def render_state(cls, state: dict[str, Any], scale: int = RENDER_SCALE) -> np.ndarray:
        scale = whole("scale", scale, 1, MAX_RENDER_SCALE)  # 0 drew an empty image, 1.5 drew scale 1
        # What the picture reads is checked as set_state reads it (states come back from files): a number
        # for the body raised a bare TypeError, a cell off the board an IndexError or (negative) was drawn
        # at the board's other end.
        check_state_keys(cls.name, state, ("size", "body", "apple"))
        n = whole("state's size", state["size"], 1, MAX_SIZE, " (the largest board)")
        cells = state_on_board("state's body", state_cells("state's body", state["body"]), n)
        apple = None if state["apple"] is None else state_cell("state's apple", state["apple"])
        if apple is not None:
            state_on_board("state's apple", [apple], n)
        direction = state.get("direction")
        if scale >= 6 and cells and (not isinstance(direction, str) or direction not in cls.ACTION_NAMES):
            names = ", ".join(cls.ACTION_NAMES)
            raise ValueError(f"state's direction must be one of {names}, got {direction!r}")
        crash = state.get("crash")
        if crash is not None and cells:
            crash = state_cell("state's crash", crash)
            if abs(crash[0] - cells[0][0]) + abs(crash[1] - cells[0][1]) != 1:
                raise ValueError(f"state's crash {crash} must be a cell next to the head {cells[0]}")
        head = np.zeros((n, n), np.uint8)
        body = np.zeros((n, n), np.uint8)
        apple_img = np.zeros((n, n), np.uint8)
        for k, (x, y) in enumerate(cells[1:], start=1):
            # The observation's fade, kept >= 1 so that long snakes' tails are still drawn.
            body[y, x] = max(1, 255 * (len(cells) - k) // max(len(cells) - 1, 1))
        if cells:
            head[cells[0][1], cells[0][0]] = 255
        if apple is not None:
            apple_img[apple[1], apple[0]] = 255
        # Columns first, then whole rows: ~10x faster than rows first (a 3-byte copy per pixel).
        img = _paint_cells(head, body, apple_img).repeat(scale, 1).repeat(scale, 0)
        if scale >= 6:
            _draw_details(img, cells, apple, direction, scale)
        if crash is not None and cells and scale >= 3:
            _draw_crash(img, cells[0], crash, scale)
        return img


def _draw_details(img: np.ndarray, body: list[list[int]], apple: list[int] | None, direction: str,
                  scale: int) -> None:
    """Grid gaps, a round apple and eyes on the head: readable at video and VLM sizes."""
    gap = max(1, scale // 10)
    img[::scale, :] = (img[::scale, :] * 0.6).astype(np.uint8)
    img[:, ::scale] = (img[:, ::scale] * 0.6).astype(np.uint8)
    yy, xx = np.mgrid[0:scale, 0:scale] + 0.5
    r = scale / 2
    if apple is not None:
        ax, ay = apple
        cell = img[ay * scale:(ay + 1) * scale, ax * scale:(ax + 1) * scale]
        outside = (xx - r) ** 2 + (yy - r) ** 2 > (r - gap) ** 2
        bg = _CHECKER if (ax + ay) % 2 else _BG
        cell[outside] = bg.astype(np.uint8)
    if body:
        hx, hy = body[0]
        d = Snake.ACTION_NAMES.index(direction)
        fx, fy = _DX[d], _DY[d]
        cell = img[hy * scale:(hy + 1) * scale, hx * scale:(hx + 1) * scale]
        for side in (-1, 1):
            ex = r + fx * r * 0.35 + side * fy * r * 0.4
            ey = r + fy * r * 0.35 + side * fx * r * 0.4
            cell[(xx - ex) ** 2 + (yy - ey) ** 2 <= (scale * 0.1) ** 2] = 0


def _draw_crash(img: np.ndarray, head: list[int], crash: list[int], scale: int) -> None:
    """The death, on the head's cell: a red frame, thick on the side of the wall or body cell the head
    ran into (the board stays as it was before the fatal move, so without it the last frame of a video
    looked like the one before). The head keeps its colour and eyes."""
    hx, hy = head
    cell = img[hy * scale:(hy + 1) * scale, hx * scale:(hx + 1) * scale]
    thin, thick = max(1, scale // 10), max(1, scale // 5)  # clear of the eyes
    cell[:thin], cell[-thin:], cell[:, :thin], cell[:, -thin:] = _CRASH, _CRASH, _CRASH, _CRASH
    dx, dy = crash[0] - hx, crash[1] - hy
    side = {(0, -1): cell[:thick], (0, 1): cell[-thick:], (-1, 0): cell[:, :thick], (1, 0): cell[:, -thick:]}
    side[(dx, dy)][...] = _CRASH
