"""Duel Snake: two snakes on one N×N board moving at the same time, many boards stepped by Numba kernels.

The learner is snake 0; snake 1 is the opponent (a scripted bot, or actions supplied from outside).

Rules (documented in the README too):
- Board N×N (default 10, allowed 6–32); cells are ``[x, y]``, x to the right, y downward. Several apples
  (default 5) lie on free cells; whenever one is eaten a new one appears on a uniformly random free cell
  (never on a body or a head), so the count stays constant while free cells exist.
- Both snakes start with length 3 (``start_length``) in straight lines, point-symmetric to each other
  (a 180° turn of the board maps one onto the other, so the start is fair); a seeded draw picks the
  place, heading and which of the two halves the learner gets. The heads never face each other across
  one cell (on odd boards, the centre), where going straight would be a head-on in the first round.
- Actions are absolute: UP, DOWN, LEFT, RIGHT. Turning back into the neck is impossible, so that action
  continues straight on (as in single Snake).
- Each round both snakes move at once. A snake *eats* when its new head lands on an apple (it grows by
  one: its tail stays). A snake dies when its new head is
  1. off the board (wall), or
  2. on any body cell after the tails have moved: a tail that moves away frees its cell (own or the
     opponent's) unless that snake eats this round, or
  3. on the other snake's new head (head-on: both die), or the two heads swap cells (both die).
- In a round in which any snake dies the board freezes as it was before the round (nobody moves or
  eats); the dead snake(s) are flagged (``alive`` false) and the episode ends.
- The episode ends when either snake dies or after ``max_rounds`` rounds (default 100); it is
  *terminated* (never truncated), because the outcome is decided there. Outcome, from the learner's side:
  the sole survivor wins; otherwise (both alive at the round limit, or both died in the same round) the
  longer snake wins, and equal lengths are a draw.
- Reward for the learner per round: +``apple_reward`` (1) per apple it eats, −``death_penalty`` (1) if
  it dies, and at the end +``win_reward`` (1) for a win, −``win_reward`` for a loss, 0 for a draw. So a
  lone crash scores −2, a double death as the longer snake 0 (−1 death, +1 win).

Opponent (``opponent`` kwarg, changeable later through the ``opponent`` attribute):
- ``"greedy"``: a scripted bot inside the Numba step. It never makes a move that is surely fatal when
  another exists (walls, bodies: its own tail counts as freeing, the other snake's tail only when no
  apple is next to that snake's head; with no such move, onto that tail if it is next, as it kills only
  if the other snake eats, else straight on); then it avoids moves into a pocket smaller than its own length
  (flood fill); then cells next to the other head (a possible head-on) unless it is the longer snake;
  then it takes the shortest path (BFS around bodies; freeing tails are passable) to the nearest apple;
  ties go straight on, then UP, DOWN, LEFT, RIGHT. It is deterministic. ``greedy_action(state, player)``
  gives its move on one board for either snake; ``SnakeDuel.bot_actions(player, kind)`` on every board.
- ``"random"``: uniformly random among the moves that are not surely fatal (with none, as the greedy bot),
  drawn from the board's seeded stream.
- ``"policy"``: the opponent's actions come from outside. Before every ``step`` call
  ``set_opponent_actions(actions)`` (int array, one per board; ignored on finished boards), computed by a
  policy from ``observe_opponent(out)``: the observation from snake 1's point of view (own/opponent
  channels swapped, same board orientation and absolute actions). A self-play callback runs an earlier
  snapshot of the learner this way. Stepping without fresh opponent actions (given since the last step
  and the last ``reset`` or ``set_state``) raises an error.

Observation: uint8 (6, N, N), one pixel per cell: own head (255), own body, opponent head (255),
opponent body, apples (255), and an all-255 "inside" plane so a CNN's zero padding reads as a wall. Body
cells (head excluded) hold ``min(255, 40 + 8·t)`` where t is the number of rounds until that cell frees
(tail 1, neck length−1, if nothing is eaten): brighter near the head, and equal values mean the same
timing for both snakes.

``get_state``: ``snakes`` (two dicts: ``body`` head first as ``[x, y]`` cells, ``direction`` name,
``alive``, ``score`` = apples eaten), ``apples``, ``round`` (rounds played), ``done``, ``result``
("win"/"draw"/"loss" for the learner once done, else None), ``rng`` (the board's stream) and the board
settings. ``episode_info``: ``score`` (learner's apples), ``opponent_score``, ``win``/``draw``/``loss``
(1.0 or 0.0), ``snake_length``, ``opponent_length``, ``rounds``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numba
import numpy as np
from gymnasium import spaces

from envs.base import (
    MAX_RENDER_SCALE,
    RENDER_SCALE,
    ActionKeys,
    Game,
    Setting,
    check_derived_key,
    check_state_keys,
    check_state_size,
    check_unknown_keys,
    checked_actions,
    count_setting,
    flag,
    reward_setting,
    state_cells,
    state_list,
    state_on_board,
    whole,
)
from envs.choices import SNAKE_DUEL_OPPONENTS
from envs.rng import randint
from envs.snake import (  # noqa: F401
    _APPLE,
    _BG,
    _CHECKER,
    _DX,
    _DY,
    _OPPOSITE,
    DOWN,
    LEFT,
    MAX_SIZE,
    RIGHT,
    UP,
    Snake,
    checked_path,
)

# Snake's moves, under its names and numbers (UP..RIGHT re-exported): checked_path reads a state's
# direction by them, so the two games must not drift apart.
ACTION_NAMES = Snake.ACTION_NAMES

OPPONENTS = SNAKE_DUEL_OPPONENTS  # the names, in envs/choices.py; their indices:
GREEDY, RANDOM, POLICY = (OPPONENTS.index(name) for name in ("greedy", "random", "policy"))

# Body plane value: BODY_BASE + BODY_STEP * (rounds until the cell frees), capped at 255.
BODY_BASE, BODY_STEP = 40, 8
_FAR = 1 << 20  # "unreachable" apple distance for the bot


# ---------------------------------------------------------------------------------------------- kernels
@numba.njit(cache=True, inline="always")
def _tail(b, p, body, head, length, cells):
    return body[b, p, (head[b, p] - length[b, p] + 1) % cells]


@numba.njit(cache=True, inline="always")
def _could_eat(b, p, size, body, head, direction, apple, dx, dy, opposite):
    """Whether some move of snake p lands on an apple this round (then its tail may stay)."""
    h = body[b, p, head[b, p]]
    x, y = h % size, h // size
    for a in range(4):
        if a == opposite[direction[b, p]]:
            continue
        nx, ny = x + dx[a], y + dy[a]
        if 0 <= nx < size and 0 <= ny < size and apple[b, ny * size + nx]:
            return True
    return False


@numba.njit(cache=True)
def _spawn_apples(b, size, num_apples, occ, apple, rng):
    """Top the apples up to ``num_apples`` on uniformly random free cells (never on a snake)."""
    cells = size * size
    have = 0
    free = 0
    for c in range(cells):
        if apple[b, c]:
            have += 1
        elif occ[b, c] == 0:
            free += 1
    while have < num_apples and free > 0:
        k = randint(rng, b, free)
        for c in range(cells):
            if not apple[b, c] and occ[b, c] == 0:
                if k == 0:
                    apple[b, c] = True
                    break
                k -= 1
        have += 1
        free -= 1


@numba.njit(cache=True)
def _reset(indices, seeds, size, start_length, num_apples, body, head, length, direction, alive, score,
           occ, apple, rounds, done, result, rng, dx, dy, opposite):
    half = size // 2
    for j in range(indices.shape[0]):
        b = indices[j]
        rng[b] = seeds[j]
        occ[b, :] = 0
        apple[b, :] = False
        # A straight snake inside the top half; its 180° image lies in the bottom half. On an odd board
        # a head in the middle column facing down the middle row's centre cell faces its image's head
        # across that cell: going straight would be a head-on in the first round, so that start is drawn
        # again (an even board has no centre cell, and its starts are unchanged).
        while True:
            d = randint(rng, b, 4)
            hx = randint(rng, b, size)
            hy = randint(rng, b, half)
            tx = hx - (start_length - 1) * dx[d]
            ty = hy - (start_length - 1) * dy[d]
            centre = 2 * (hx + dx[d]) == size - 1 and 2 * (hy + dy[d]) == size - 1
            if 0 <= tx < size and 0 <= ty < half and not centre:
                break
        first = randint(rng, b, 2)  # which snake gets the top half
        for p in range(2):
            top = p == first
            for k in range(start_length):
                x = hx - k * dx[d]
                y = hy - k * dy[d]
                if not top:
                    x, y = size - 1 - x, size - 1 - y
                c = y * size + x
                # Ring buffer: slot start_length-1 is the head, going backwards reaches the tail.
                body[b, p, start_length - 1 - k] = c
                occ[b, c] += 1
            head[b, p] = start_length - 1
            length[b, p] = start_length
            direction[b, p] = d if top else opposite[d]
            alive[b, p] = True
            score[b, p] = 0
        rounds[b] = 0
        done[b] = False
        result[b] = 0
        _spawn_apples(b, size, num_apples, occ, apple, rng)


@numba.njit(cache=True)
def _neighbours(size):
    """nbr[c] = the cells above, below, left and right of cell c (-1 off the board)."""
    nbr = np.full((size * size, 4), -1, np.int64)
    for c in range(size * size):
        x, y = c % size, c // size
        if y > 0:
            nbr[c, 0] = c - size
        if y < size - 1:
            nbr[c, 1] = c + size
        if x > 0:
            nbr[c, 2] = c - 1
        if x < size - 1:
            nbr[c, 3] = c + 1
    return nbr


@numba.njit(cache=True)
def _flood(b, start, limit, nbr, occ, t1, t2, queue, seen, stamp):
    """Cells reachable from ``start`` through empty cells or the freeing tails t1, t2 (start counted),
    counting stops at ``limit``."""
    stamp[0] += 1
    s = stamp[0]
    seen[start] = s
    queue[0] = start
    lo, hi = 0, 1
    while lo < hi and hi < limit:
        c = queue[lo]
        lo += 1
        for j in range(4):
            n = nbr[c, j]
            if n >= 0 and seen[n] != s and (occ[b, n] == 0 or n in (t1, t2)):
                seen[n] = s
                queue[hi] = n
                hi += 1
    return hi


@numba.njit(cache=True)
def _apple_distances(b, cells, nbr, occ, apple, t1, t2, targets, n_targets, dist, queue):
    """BFS from every apple through empty cells and the freeing tails t1, t2: dist[c] = moves from c to
    the nearest apple, -1 if none. Stops once every cell in ``targets[:n_targets]`` has its distance."""
    hi = 0
    for c in range(cells):
        dist[c] = -1
    for c in range(cells):
        if apple[b, c]:
            dist[c] = 0
            queue[hi] = c
            hi += 1
    left = n_targets
    for j in range(n_targets):
        if dist[targets[j]] == 0:
            left -= 1
    lo = 0
    while lo < hi and left > 0:
        c = queue[lo]
        lo += 1
        for j in range(4):
            n = nbr[c, j]
            if n >= 0 and dist[n] < 0 and (occ[b, n] == 0 or n in (t1, t2)):
                dist[n] = dist[c] + 1
                queue[hi] = n
                hi += 1
                for k in range(n_targets):
                    if targets[k] == n:
                        left -= 1


@numba.njit(cache=True)
def _bot_scratch(size):
    """The work arrays ``_bot_action`` reuses from board to board: dist, queue, seen, stamp, targets and
    the neighbour table."""
    cells = size * size
    return (np.empty(cells, np.int64), np.empty(cells, np.int64), np.zeros(cells, np.int64),
            np.zeros(1, np.int64), np.empty(12, np.int64), _neighbours(size))


@numba.njit(cache=True)
def _bot_action(b, p, kind, size, body, head, length, direction, occ, apple, rng, dx, dy, opposite,
                dist, queue, seen, stamp, targets, nbr):
    """The scripted move of snake p on board b: ``kind`` GREEDY or RANDOM (see the module docstring)."""
    cells = size * size
    q = 1 - p
    h = body[b, p, head[b, p]]
    x, y = h % size, h // size
    oh = body[b, q, head[b, q]]
    ox, oy = oh % size, oh // size
    own_tail = _tail(b, p, body, head, length, cells)
    may_stay = _tail(b, q, body, head, length, cells)
    opp_tail = may_stay
    if _could_eat(b, q, size, body, head, direction, apple, dx, dy, opposite):
        opp_tail = -1  # the other snake's tail may stay: treat it as a wall
    straight = direction[b, p]
    # With no safe move, that tail (fatal only if the other snake eats) before a sure death straight on.
    fallback = straight
    # Moves that are not surely fatal: on the board, onto an empty cell or a tail that moves away.
    n_safe = 0
    for a in range(4):
        if a == opposite[straight]:
            continue
        nx, ny = x + dx[a], y + dy[a]
        if nx < 0 or nx >= size or ny < 0 or ny >= size:
            continue
        c = ny * size + nx
        eats = apple[b, c]
        o = occ[b, c]
        if c == own_tail and not eats:
            o -= 1
        if c == opp_tail:
            o -= 1
        if o <= 0:
            targets[n_safe] = a
            n_safe += 1
        elif c == may_stay:
            fallback = a
    if n_safe == 0:
        return fallback
    if kind == RANDOM:
        return targets[randint(rng, b, n_safe) if n_safe > 1 else 0]
    # Greedy: keep the moves of the best tier (not cramped before not risky), then the nearest apple.
    moves = targets[4:8]
    moves[:n_safe] = targets[:n_safe]
    best_tier = 4
    for j in range(n_safe):
        nx, ny = x + dx[moves[j]], y + dy[moves[j]]
        c = ny * size + nx
        cramped = _flood(b, c, length[b, p], nbr, occ, own_tail, opp_tail, queue, seen, stamp) < length[b, p]
        risky = abs(nx - ox) + abs(ny - oy) == 1 and length[b, p] <= length[b, q]
        targets[8 + j] = 2 * int(cramped) + int(risky)
        best_tier = min(best_tier, targets[8 + j])
    m = 0
    near = False  # an apple right next to the head: distance 0, no search needed
    for j in range(n_safe):
        if targets[8 + j] == best_tier:
            moves[m] = moves[j]
            targets[m] = (y + dy[moves[j]]) * size + x + dx[moves[j]]
            near = near or apple[b, targets[m]]
            m += 1
    if m == 1:
        return moves[0]
    if not near:
        _apple_distances(b, cells, nbr, occ, apple, own_tail, opp_tail, targets, m, dist, queue)
    best_a = straight
    best_key = -1
    for j in range(m):
        c = targets[j]
        if apple[b, c]:
            d = 0
        elif near or dist[c] < 0:
            d = _FAR
        else:
            d = dist[c]
        key = d * 2 + int(moves[j] != straight)
        if best_key < 0 or key < best_key:
            best_key = key
            best_a = moves[j]
    return best_a


@numba.njit(cache=True)
def _bot_actions(player, kind, size, body, head, length, direction, occ, apple, rng, dx, dy, opposite,
                 out):
    dist, queue, seen, stamp, targets, nbr = _bot_scratch(size)
    for b in range(out.shape[0]):
        out[b] = _bot_action(b, player, kind, size, body, head, length, direction, occ, apple, rng, dx, dy,
                             opposite, dist, queue, seen, stamp, targets, nbr)


# get_state's "result" for _outcome's +1, 0, -1 (snake 0's, the learner's, side).
RESULT_NAMES: dict[int, str] = {1: "win", 0: "draw", -1: "loss"}


@numba.njit(cache=True)
def _outcome(b, alive, length):
    """+1 learner wins, -1 loses, 0 draw: the sole survivor wins, else the longer snake."""
    if alive[b, 0] != alive[b, 1]:
        return 1 if alive[b, 0] else -1
    if length[b, 0] != length[b, 1]:
        return 1 if length[b, 0] > length[b, 1] else -1
    return 0


@numba.njit(cache=True)
def _step(actions, opp_actions, mode, size, num_apples, max_rounds, apple_reward, death_penalty,
          win_reward, body, head, length, direction, alive, score, occ, apple, rounds, done, result, rng,
          dx, dy, opposite, reward, terminated):
    cells = size * size
    dist, queue, seen, stamp, targets, nbr = _bot_scratch(size)
    move = np.empty(2, np.int64)
    new = np.empty(2, np.int64)  # new head cell, -1 when off the board
    eats = np.zeros(2, np.bool_)
    tail = np.empty(2, np.int64)
    dies = np.zeros(2, np.bool_)
    for b in range(actions.shape[0]):
        reward[b] = 0.0
        terminated[b] = False
        if done[b]:
            continue
        move[0] = actions[b]
        if mode == POLICY:
            move[1] = opp_actions[b]
        else:
            move[1] = _bot_action(b, 1, mode, size, body, head, length, direction, occ, apple, rng, dx, dy,
                                  opposite, dist, queue, seen, stamp, targets, nbr)
        for p in range(2):
            if move[p] == opposite[direction[b, p]]:
                move[p] = direction[b, p]  # into the neck: straight on
            h = body[b, p, head[b, p]]
            nx = h % size + dx[move[p]]
            ny = h // size + dy[move[p]]
            new[p] = ny * size + nx if 0 <= nx < size and 0 <= ny < size else -1
            eats[p] = new[p] >= 0 and apple[b, new[p]]
            tail[p] = _tail(b, p, body, head, length, cells)
        for p in range(2):
            q = 1 - p
            if new[p] < 0:
                dies[p] = True
                continue
            o = occ[b, new[p]]
            for s in range(2):
                if new[p] == tail[s] and not eats[s]:
                    o -= 1  # that tail moves away this round
            # Heads that swap cells need no test of their own: each new head lands on the other's head, a
            # held cell that is no tail (a snake has at least 2 cells), so o > 0 kills both.
            dies[p] = o > 0 or new[p] == new[q]
        rounds[b] += 1
        if dies[0] or dies[1]:
            # The board freezes before the fatal round; only the flags change.
            alive[b, 0] = not dies[0]
            alive[b, 1] = not dies[1]
            if dies[0]:
                reward[b] -= death_penalty
        else:
            for p in range(2):
                if eats[p]:
                    length[b, p] += 1
                    score[b, p] += 1
                    apple[b, new[p]] = False
                else:
                    occ[b, tail[p]] -= 1
            for p in range(2):
                head[b, p] = (head[b, p] + 1) % cells
                body[b, p, head[b, p]] = new[p]
                occ[b, new[p]] += 1
                direction[b, p] = move[p]
            if eats[0]:
                reward[b] += apple_reward
            if eats[0] or eats[1]:
                _spawn_apples(b, size, num_apples[b], occ, apple, rng)
        if dies[0] or dies[1] or rounds[b] >= max_rounds[b]:
            done[b] = True
            terminated[b] = True
            result[b] = _outcome(b, alive, length)
            reward[b] += win_reward * result[b]


@numba.njit(cache=True)
def _observe(size, swap, boards, body, head, length, apple, out):
    cells = size * size
    for o in range(boards.shape[0]):
        b = boards[o]
        out[o, :5] = 0
        out[o, 5] = 255
        for p in range(2):
            ch = 2 * (p ^ swap)
            n = length[b, p]
            for k in range(1, n):
                c = body[b, p, (head[b, p] - k) % cells]
                out[o, ch + 1, c // size, c % size] = min(255, BODY_BASE + BODY_STEP * (n - k))
            c = body[b, p, head[b, p]]
            out[o, ch, c // size, c % size] = 255
        for c in range(cells):
            if apple[b, c]:
                out[o, 4, c // size, c % size] = 255


# -------------------------------------------------------------------------------------------- rendering
# The board and apples take Snake's colours (_BG, _CHECKER, _APPLE, imported above). Per snake: head, body
# near the head, body at the tail. Learner green/yellow, opponent blue/cyan.
_SNAKE_COLOURS = (
    (np.array([255, 214, 10]), np.array([82, 196, 26]), np.array([25, 90, 40])),
    (np.array([120, 230, 255]), np.array([40, 110, 230]), np.array([25, 45, 110])),
)
_DEAD = np.array([0, 0, 0], dtype=np.uint8)


def _draw_snake(img: np.ndarray, body: list[list[int]], colours: tuple, alive: bool, scale: int) -> None:
    head_c, near, far = colours
    m = scale // 8  # margin: gaps between segments show the body's order, bridges join neighbours
    n = len(body)
    shades = [head_c if k == 0 else near + (k / max(n - 1, 1)) * (far - near) for k in range(n)]
    if m > 0:
        for k in range(1, n):  # bridges first: the cells drawn next cover all but the gap
            (x0, x1), (y0, y1) = sorted((body[k][0], body[k - 1][0])), sorted((body[k][1], body[k - 1][1]))
            img[y0 * scale + m:(y1 + 1) * scale - m, x0 * scale + m:(x1 + 1) * scale - m] = shades[k]
    for k in range(n - 1, -1, -1):
        x, y = body[k]
        img[y * scale + m:(y + 1) * scale - m, x * scale + m:(x + 1) * scale - m] = shades[k]
    if not alive and n:
        x, y = body[0]
        cell = img[y * scale:(y + 1) * scale, x * scale:(x + 1) * scale]
        i = np.arange(scale)
        w = max(1, scale // 10)
        for off in range(-(w // 2), w - w // 2):
            j = np.clip(i + off, 0, scale - 1)
            cell[i, j] = _DEAD
            cell[i, scale - 1 - j] = _DEAD


# ------------------------------------------------------------------------------------------------ game
class SnakeDuel(Game):
    """Two snakes on one board, learner = snake 0 against a scripted or external opponent (module docs)."""

    name = "snake_duel"
    ACTION_NAMES: ClassVar[tuple[str, ...]] = ACTION_NAMES
    ACTION_KEYS: ClassVar[ActionKeys] = Snake.ACTION_KEYS  # the learner's snake, as in Snake
    STATE_KEYS: ClassVar[tuple[str, ...]] = ("size", "snakes", "apples", "round", "done", "rng")
    STATE_OPTIONAL_KEYS: ClassVar[tuple[str, ...]] = ("num_apples", "max_rounds", "result")
    SNAKE_KEYS: ClassVar[tuple[str, ...]] = ("body", "direction", "alive", "score")  # each of "snakes"
    #: set_attr may change these (checked as the constructor checks them); each board takes them at its reset
    num_apples = Setting(lambda game, name, value: whole(
        name, value, 1, game.size ** 2 - 2 * game.start_length,
        f" on the {game.size}×{game.size} board with {game.start_length}-cell snakes"))
    max_rounds = count_setting()
    apple_reward = reward_setting()  # from the next step
    death_penalty = reward_setting()
    win_reward = reward_setting()
    # The last round pays ±win_reward on top of an apple or (never with one) a death.
    FLOAT32_TOGETHER: ClassVar[tuple[tuple[str, ...], ...]] = (("apple_reward", "win_reward"),
                                                               ("death_penalty", "win_reward"))

    def __init__(self, num_envs: int = 1, size: int = 10, num_apples: int = 5, max_rounds: int = 100,
                 start_length: int = 3, opponent: str = "greedy", apple_reward: float = 1.0,
                 death_penalty: float = 1.0, win_reward: float = 1.0) -> None:
        super().__init__(num_envs)
        self.size = size = whole("snake_duel size", size, 6, MAX_SIZE)
        board = f" on the {size}×{size} board"
        self.start_length = whole("start_length", start_length, 2, size // 2, board)
        self.num_apples = num_apples
        self.max_rounds = max_rounds
        self.apple_reward = apple_reward
        self.death_penalty = death_penalty
        self.win_reward = win_reward
        self.opponent = opponent
        n, cells = num_envs, size * size
        self._body = np.zeros((n, 2, cells), dtype=np.int64)
        self._head = np.zeros((n, 2), dtype=np.int64)
        self._length = np.zeros((n, 2), dtype=np.int64)  # 0 until the board is reset (or given a state)
        self._direction = np.zeros((n, 2), dtype=np.int64)
        self._alive = np.ones((n, 2), dtype=np.bool_)
        self._score = np.zeros((n, 2), dtype=np.int64)
        self._occ = np.zeros((n, cells), dtype=np.int8)
        self._apple = np.zeros((n, cells), dtype=np.bool_)
        self._rounds = np.zeros(n, dtype=np.int64)
        self._done = np.ones(n, dtype=np.bool_)
        self._result = np.zeros(n, dtype=np.int64)
        self._rng = np.zeros(n, dtype=np.uint64)
        # Each board's settings: the game's, or a state's that set_state restored (until the board resets).
        self._num_apples = np.full(n, self.num_apples, dtype=np.int64)
        self._max_rounds = np.full(n, self.max_rounds, dtype=np.int64)
        self._reward = np.zeros(n, dtype=np.float32)
        self._terminated = np.zeros(n, dtype=np.bool_)
        self._truncated = np.zeros(n, dtype=np.bool_)  # never set: the round limit decides the game
        self._opp_actions = np.zeros(n, dtype=np.int64)
        self._opp_fresh = False
        self.observation_space = spaces.Box(0, 255, (6, size, size), dtype=np.uint8)

    @property
    def opponent(self) -> str:
        """``"greedy"``, ``"random"`` or ``"policy"``; may be switched between steps."""
        return OPPONENTS[self._mode]

    @opponent.setter
    def opponent(self, value: str) -> None:
        if value not in OPPONENTS:
            raise ValueError(f"opponent must be one of {OPPONENTS}, got {value!r}")
        self._mode = OPPONENTS.index(value)
        self._opp_fresh = False

    # ------------------------------------------------------------------ the batched core
    def reset(self, indices: np.ndarray, seeds: np.ndarray) -> None:
        boards, seeds = self._reset_args(indices, seeds)
        # Opponent actions given before were computed for the boards this replaces: the next step needs
        # fresh ones. (Self-play acts after the vector env's resets, evaluation plays the greedy bot.)
        self._opp_fresh = False
        self._num_apples[boards], self._max_rounds[boards] = self.num_apples, self.max_rounds
        _reset(boards, seeds, self.size,
               self.start_length, self.num_apples, self._body, self._head, self._length, self._direction,
               self._alive, self._score, self._occ, self._apple, self._rounds, self._done, self._result,
               self._rng, _DX, _DY, _OPPOSITE)

    def set_opponent_actions(self, actions: np.ndarray) -> None:
        """Snake 1's actions for the next ``step`` (``opponent="policy"`` only), one per board."""
        if self._mode != POLICY:
            raise RuntimeError(f"set_opponent_actions needs opponent='policy', not {self.opponent!r}")
        try:
            self._opp_actions[:] = checked_actions(actions, self.num_envs, ACTION_NAMES)
        except ValueError as e:
            raise ValueError(f"opponent actions: {e}") from None
        self._opp_fresh = True

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check_playing("step")
        actions = checked_actions(actions, self.num_envs, ACTION_NAMES)
        if self._mode == POLICY and not self._opp_fresh:
            raise RuntimeError("opponent='policy': call set_opponent_actions(...) before every step")
        _step(actions, self._opp_actions, self._mode, self.size, self._num_apples, self._max_rounds,
              self.apple_reward, self.death_penalty, self.win_reward, self._body, self._head, self._length,
              self._direction, self._alive, self._score, self._occ, self._apple, self._rounds, self._done,
              self._result, self._rng, _DX, _DY, _OPPOSITE, self._reward, self._terminated)
        self._opp_fresh = False
        return self._reward.copy(), self._terminated.copy(), self._truncated.copy()

    def observe(self, out: np.ndarray, indices: np.ndarray | None = None) -> None:
        boards = self._boards(indices, out)
        _observe(self.size, 0, boards, self._body, self._head, self._length, self._apple, out)

    def observe_opponent(self, out: np.ndarray) -> None:
        """Snake 1's view, (num_envs, 6, N, N): ``observe`` with own and opponent planes swapped."""
        # checks out's shape: the kernel wrote a short buffer's rows past it
        boards = self._boards(None, out, "observe_opponent")
        _observe(self.size, 1, boards, self._body, self._head, self._length, self._apple, out)

    def bot_actions(self, player: int = 0, kind: str = "greedy") -> np.ndarray:
        """The scripted bot's move for snake ``player`` on every board (an evaluation baseline).

        ``kind="random"`` draws from the boards' seeded streams, so it changes later apple places.
        """
        self._check_playing("bot_actions")  # before any reset it moved snakes that never existed
        # ``in (0, 1)`` let True and 1.0 through to the kernel: a Numba TypingError.
        player = whole("player", player, 0, 1)
        if kind not in ("greedy", "random"):
            raise ValueError(f"kind must be 'greedy' or 'random', got {kind!r}")
        out = np.zeros(self.num_envs, dtype=np.int64)
        _bot_actions(player, OPPONENTS.index(kind), self.size, self._body, self._head, self._length,
                     self._direction, self._occ, self._apple, self._rng, _DX, _DY, _OPPOSITE, out)
        return out

    # ------------------------------------------------------------------ per-board views
    def _episode_info(self, i: int) -> dict[str, float]:
        # A board not yet reset (done with result 0, a draw, only to be skipped by step) has no figures:
        # episode_info refuses it.
        r = int(self._result[i]) if self._done[i] else None
        return {
            "score": float(self._score[i, 0]),
            "opponent_score": float(self._score[i, 1]),
            "win": float(r == 1),
            "draw": float(r == 0),
            "loss": float(r == -1),
            "snake_length": float(self._length[i, 0]),
            "opponent_length": float(self._length[i, 1]),
            "rounds": float(self._rounds[i]),
        }

    def _started(self, i: int) -> bool:
        return bool(self._length[i, 0])  # reset and set_state give each snake at least 2 cells

    def get_state(self, i: int) -> dict[str, Any]:
        self._check_started(i, "get_state")
        cells = self.size * self.size
        snakes = []
        for p in range(2):
            n = int(self._length[i, p])
            body = [int(self._body[i, p, (self._head[i, p] - k) % cells]) for k in range(n)]
            snakes.append({
                "body": [[c % self.size, c // self.size] for c in body],
                "direction": ACTION_NAMES[int(self._direction[i, p])],
                "alive": bool(self._alive[i, p]),
                "score": int(self._score[i, p]),
            })
        apples = [[int(c) % self.size, int(c) // self.size] for c in np.flatnonzero(self._apple[i])]
        done = bool(self._done[i])
        return {
            "game": self.name,
            "size": self.size,
            "num_apples": int(self._num_apples[i]),
            "max_rounds": int(self._max_rounds[i]),
            "round": int(self._rounds[i]),
            "snakes": snakes,
            "apples": apples,
            "done": done,
            # From the learner's (snake 0's) side; None while the game runs.
            "result": RESULT_NAMES[int(self._result[i])] if done else None,
            "rng": int(self._rng[i]),
        }

    def set_state(self, i: int, state: dict[str, Any]) -> None:
        self._check_state(i, state)
        size = self.size
        check_state_size(state, size)
        # The state's own settings, so that it re-simulates to the same apples and episode end (hand-made
        # states may leave them out: then the game's).
        num_apples = whole("state's num_apples", state.get("num_apples", self.num_apples), 1)
        max_rounds = whole("state's max_rounds", state.get("max_rounds", self.max_rounds), 1)
        # A value of another type raised a bare TypeError from len or the loops below, and a cell that is
        # no pair Python's unpacking error, not naming the key.
        snakes = state_list("state's snakes", state["snakes"])
        state_apples = state_cells("state's apples", state["apples"])
        if len(snakes) != 2:
            raise ValueError("state must hold exactly two snakes")
        state_bodies = []
        for p, snake in enumerate(snakes):
            check_state_keys(self.name, snake, self.SNAKE_KEYS, f"state's snake {p}")
            check_unknown_keys(self.name, snake, self.SNAKE_KEYS, f"state's snake {p}",
                               (type(self), "SNAKE_KEYS"))
            state_bodies.append(state_cells(f"state's snake {p} body", snake["body"]))
        for x, y in state_apples:  # checked first: a negative coordinate would wrap to another cell
            if not (0 <= x < size and 0 <= y < size):
                raise ValueError(f"apple {[x, y]} is off the board")
        # Everything is read and checked before board i changes: a refused state leaves it as it was (it
        # used to replace snake 0 before finding snake 1 off the board).
        bodies, directions = [], []
        for p, (snake, body) in enumerate(zip(snakes, state_bodies, strict=True)):
            if len(body) < 2:
                raise ValueError(f"snake {p} needs at least 2 cells, got {len(body)}")
            for x, y in body:
                if not (0 <= x < size and 0 <= y < size):
                    raise ValueError(f"snake {p} cell {[x, y]} is off the board")
            directions.append(checked_path(f"snake {p}", body, snake["direction"]))
            bodies.append([y * size + x for x, y in reversed(body)])  # tail at slot 0, head at slot len-1
        # What reset and step guarantee, a fatal round too (the board freezes before it): one snake per
        # cell, and apples only on free cells (an apple under a tail made the legal move onto that tail a
        # death, as the eater's tail stays).
        owner: dict[int, int] = {}
        for p, body in enumerate(bodies):
            for c in body:
                if c in owner:
                    whose = f"snake {p} covers" if owner[c] == p else "both snakes cover"
                    raise ValueError(f"{whose} cell {[c % size, c // size]}: a cell holds one snake once")
                owner[c] = p
        apples = [y * size + x for x, y in state_apples]
        if len(set(apples)) != len(apples):
            c = next(c for c in apples if apples.count(c) > 1)
            # Two apples on one cell merged into one: get_state then gave fewer apples than the state had.
            raise ValueError(f"apple {[c % size, c // size]} is listed twice: a cell holds one apple")
        for c in apples:
            if c in owner:
                raise ValueError(f"apple {[c % size, c // size]} is on snake {owner[c]}: apples lie on free "
                                 "cells")
        alive, done = [snake["alive"] for snake in snakes], state["done"]
        if not all(isinstance(flag, bool) for flag in (*alive, done)):
            raise ValueError(f"state's done {done!r} and snakes' alive {alive!r} must be true or false")
        if not done and not all(alive):
            # A round in which a snake dies ends the episode: no game plays on with a dead snake (it kept
            # moving, and the game never ended).
            raise ValueError(f"snake {alive.index(False)} is dead in a state that is not done: a death ends "
                             "the episode")
        # A round counts up to the state's max_rounds, where a game with both snakes alive ends (and only
        # there): a round past the limit, or a game that stopped short of it, was taken and played on past
        # its end or reported as over.
        rounds = whole("state's round", state["round"], 0, max_rounds, f" (its max_rounds {max_rounds})")
        if done and all(alive) and rounds < max_rounds:
            raise ValueError(f"state is done at round {rounds} with both snakes alive: such a game ends only "
                             f"at its max_rounds {max_rounds}")
        if not all(alive) and rounds == 0:  # reset starts both alive; a death comes in a round it counts
            raise ValueError(f"snake {alive.index(False)} is dead at round 0: a snake dies in a round, so a "
                             "state with a dead snake is at round 1 or later")
        if not done and rounds == max_rounds:
            raise ValueError(f"state is at its max_rounds {max_rounds} but not done: the game ends there")
        # A snake starts with at least 2 cells (start_length) and grows one per apple eaten.
        scores = [whole(f"snake {p} score", snake["score"], 0, len(bodies[p]) - 2,
                        f" (apples eaten by a snake of {len(bodies[p])} cells)")
                  for p, snake in enumerate(snakes)]
        # Both snakes start with the game's start_length (the state keeps none: their lengths less their
        # scores must agree), and a snake eats at most one apple a round.
        starts = [len(body) - score for body, score in zip(bodies, scores, strict=True)]
        if starts[0] != starts[1] or max(scores) > rounds:
            raise ValueError(f"state's snakes have {[len(b) for b in bodies]} cells and scores {scores} at "
                             f"round {rounds}: both start with one length and grow one per apple, at most "
                             "one apple a round")
        # An eaten apple is replaced at once while a free cell is left, and never beyond num_apples.
        free = size * size - len(owner) - len(apples)
        if len(apples) > num_apples or (len(apples) < num_apples and free > 0):
            raise ValueError(f"state holds {len(apples)} apples, its num_apples is {num_apples}: the apples "
                             "are topped up to num_apples while free cells are left")
        outcome = _outcome(0, np.array([alive]), np.array([[len(b) for b in bodies]])) if done else None
        check_derived_key(state, "result", RESULT_NAMES.get(outcome), "the outcome its snakes' alive and "
                          "lengths give (snake 0's, the learner's: the sole survivor wins, else the longer "
                          "snake; None while the game runs)")
        rng = np.uint64(whole("state's rng", state["rng"], 0, 2**64 - 1))
        occ = np.zeros(size * size, dtype=np.int8)
        for p, body in enumerate(bodies):
            self._body[i, p, :len(body)] = body
            np.add.at(occ, body, 1)
            self._head[i, p] = len(body) - 1
            self._length[i, p] = len(body)
            self._direction[i, p] = directions[p]
            self._alive[i, p] = alive[p]
            self._score[i, p] = scores[p]
        self._occ[i] = occ
        self._apple[i] = False
        self._apple[i, apples] = True
        self._rounds[i] = rounds
        self._done[i] = done
        self._result[i] = 0 if outcome is None else outcome
        self._rng[i] = rng
        self._num_apples[i], self._max_rounds[i] = num_apples, max_rounds
        self._opp_fresh = False  # as after a reset: actions given before were computed for the board replaced

    @classmethod
    def render_state(cls, state: dict[str, Any], scale: int = RENDER_SCALE) -> np.ndarray:
        scale = whole("scale", scale, 1, MAX_RENDER_SCALE)  # 0 drew an empty image, 2.0 was a TypeError
        # What the picture reads is checked as set_state reads it (states come back from files): a number
        # for the apples raised a bare TypeError, a cell off the board an IndexError or (negative) was drawn
        # at the board's other end.
        check_state_keys(cls.name, state, ("size", "snakes", "apples"))
        n = whole("state's size", state["size"], 1, MAX_SIZE, " (the largest board)")
        apples = state_on_board("state's apples", state_cells("state's apples", state["apples"]), n)
        snakes, state_snakes = [], state_list("state's snakes", state["snakes"])
        if len(state_snakes) != 2:
            raise ValueError("state must hold exactly two snakes")
        for p, snake in enumerate(state_snakes):
            check_state_keys(cls.name, snake, ("body", "alive"), f"state's snake {p}")
            what = f"state's snake {p} body"
            snakes.append((state_on_board(what, state_cells(what, snake["body"]), n),
                           flag(f"state's snake {p} alive", snake["alive"])))
        yy, xx = np.indices((n, n))
        board = np.where(((xx + yy) % 2 == 1)[..., None], _CHECKER, _BG).astype(np.uint8)
        img = board.repeat(scale, 1).repeat(scale, 0)  # columns first: whole rows copy fast
        m = scale // 5
        r = (scale - 2 * m) / 2
        yy, xx = np.mgrid[0:scale, 0:scale] + 0.5
        disc = (xx - scale / 2) ** 2 + (yy - scale / 2) ** 2 <= max(r, 0.5) ** 2
        for x, y in apples:
            img[y * scale:(y + 1) * scale, x * scale:(x + 1) * scale][disc] = _APPLE
        for p, (body, alive) in enumerate(snakes):
            _draw_snake(img, body, _SNAKE_COLOURS[p], alive, scale)
        return img


def greedy_action(state: dict[str, Any], player: int = 0) -> int:
    """The greedy bot's move (0..3 = UP, DOWN, LEFT, RIGHT) for snake ``player`` on one board state."""
    check_state_keys(SnakeDuel.name, state, ("size",))  # the game is made before set_state checks the rest
    # set_state gives the board the state's num_apples and max_rounds: passed to the game too, they were
    # held to its bounds, and a state set_state takes (more apples than N² − 4 on a full board) refused.
    game = SnakeDuel(1, size=state["size"], start_length=2)
    game.set_state(0, state)
    return int(game.bot_actions(player, "greedy")[0])

