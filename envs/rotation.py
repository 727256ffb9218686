"""Rotation: turn a small coloured 3D object until it matches a target view (mental rotation).

Rules (documented in the README too):
- The object is a random connected polycube of ``min_cubes``..``max_cubes`` unit cubes (default 3–6,
  allowed 3–8), grown cube by cube from a seeded stream; every cube gets a different colour from an
  8-colour palette (``COLOR_NAMES``). A shape is rejected and redrawn when two of its 24 orientations
  would look the same: when a non-identity rotation maps the cube+colour set onto itself (up to
  translation), or when two of its 24 rendered views are pixel-identical.
- World frame: x, y horizontal, z up. The camera looks at the object's centre from a fixed oblique
  direction (azimuth 35°, elevation 30°): on screen +x points down-left (35° below the horizontal),
  +y right and slightly down (19° below), both toward the viewer, and +z up, so the +x, +y and +z
  faces are the ones in view. Perspective projection fitted to the
  object's bounding sphere (every orientation fits the view); faces are Lambert-shaded by their world
  normal (top brightest), with dark cube edges, on a plain light-grey background; z-buffered.
- Orientations are the 24 rotations of the cube (exact integer 3×3 matrices ``ROTATIONS``, index 0 =
  identity). Actions turn the object by +90° or −90° about a WORLD axis (right-hand rule):
  ``X+ X- Y+ Y- Z+ Z-``, i.e. ``R <- G_a @ R`` (X+ takes +y to +z, Y+ takes +z to +x, Z+ takes +x
  to +y). ``COMPOSE[a, b]`` is the index of ``ROTATIONS[a] @ ROTATIONS[b]``; ``TURN[r, a]`` the
  orientation after action a; ``DISTANCE`` the all-pairs BFS table.
- Reset draws a target orientation uniformly, then a start orientation ``turns`` quarter turns away,
  with ``turns`` uniform in [``min_turns``, ``max_turns``] (distance = shortest path in the Cayley
  graph of the 6 generators; the largest distance is 3, held by 6 of the 24 orientations).
- Reward +1 on the step that reaches the target orientation (terminated), ``-step_cost`` (0.01)
  otherwise, plus ``progress_reward`` × (distance before − distance after) on every step (default 0;
  the YAML preset uses 0.1: potential-based shaping, so the best policy is unchanged, and PPO gets a
  signal on every move instead of only at the match); the episode is truncated after ``max_steps``
  (50) steps. Score = 1 if solved else 0;
  ``episode_info`` also gives ``solved`` (the same, under the name other games use for success),
  ``turns`` (the start distance), ``steps``, ``optimal`` (1 if solved in
  exactly ``turns`` steps) and ``cubes``.

Observation: RGB uint8 (3, S, 2S), S = ``view_size`` (24): the target view on the left, the current
view on the right. The 24 views of an episode's object are rendered once, at reset (in Numba), and
looked up by orientation index in ``observe``. ``render_state(state, scale)`` draws the pair at
8·scale pixels per view with a thin divider; ``render_view(state, rotation, size)`` draws one view.
``optimal_action(state)`` / ``optimal_actions(state)`` give shortest-path moves for solvers and VLM tasks.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
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
    finite,
    flag,
    making,
    reward_setting,
    state_cells,
    whole,
)
from envs.rng import randint

# --- The rotation group ------------------------------------------------------------------------

ACTION_NAMES: tuple[str, ...] = ("X+", "X-", "Y+", "Y-", "Z+", "Z-")
_RX = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.int64)
_RY = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], dtype=np.int64)
_RZ = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=np.int64)
#: The 6 generators (quarter turns about the world axes), in action order.
GENERATORS = np.stack([_RX, _RX.T, _RY, _RY.T, _RZ, _RZ.T])


def _build_group() -> np.ndarray:
    """The 24 rotation matrices, in BFS order from the identity under the generators."""
    eye = np.eye(3, dtype=np.int64)
    mats, seen, queue = [eye], {eye.tobytes()}, deque([eye])
    while queue:
        m = queue.popleft()
        for g in GENERATORS:
            r = g @ m
            if r.tobytes() not in seen:
                seen.add(r.tobytes())
                mats.append(r)
                queue.append(r)
    return np.stack(mats)


#: (24, 3, 3) int64: orientation index -> rotation matrix (object frame -> world frame).
ROTATIONS = _build_group()
_INDEX = {m.tobytes(): i for i, m in enumerate(ROTATIONS)}


def rotation_index(matrix: Any) -> int:
    """The index (0..23) of a whole-number rotation matrix (1.0 counts as 1); ValueError if it is not a
    cube rotation."""
    given = np.asarray(matrix)
    # Casting to int64 cut a fraction (a row [1.5, 0, 0] was read as [1, 0, 0]: another orientation) and
    # wrapped a uint64 2**64 - 1 to -1. A rotation's entries are 0 and ±1, so a matrix holding any other
    # value is none either way: checked before the cast.
    unit = given.dtype.kind in "biuf" and bool(np.all((given == 0) | (given == 1) | (given == -1)))
    m = given.astype(np.int64) if unit else given
    if not unit or m.shape != (3, 3) or m.tobytes() not in _INDEX:
        raise ValueError(f"not one of the 24 cube rotations: {given.tolist()}")
    return _INDEX[m.tobytes()]


#: COMPOSE[a, b] = index of ROTATIONS[a] @ ROTATIONS[b].
COMPOSE = np.array([[rotation_index(a @ b) for b in ROTATIONS] for a in ROTATIONS], dtype=np.int64)
#: INVERSE[a] = index of ROTATIONS[a].T.
INVERSE = np.array([rotation_index(m.T) for m in ROTATIONS], dtype=np.int64)
#: TURN[r, a] = orientation after action a from orientation r (GENERATORS[a] @ ROTATIONS[r]).
TURN = np.array([[rotation_index(g @ m) for g in GENERATORS] for m in ROTATIONS], dtype=np.int64)


def _all_pairs_distance() -> np.ndarray:
    dist = np.full((24, 24), -1, dtype=np.int64)
    for s in range(24):
        dist[s, s] = 0
        queue = deque([s])
        while queue:
            r = queue.popleft()
            for nxt in TURN[r]:
                if dist[s, nxt] < 0:
                    dist[s, nxt] = dist[s, r] + 1
                    queue.append(nxt)
    return dist


#: DISTANCE[s, t] = fewest quarter turns from orientation s to orientation t (BFS, 0..3).
DISTANCE = _all_pairs_distance()
MAX_TURNS = int(DISTANCE.max())


def _first_moves(s: int, t: int) -> list[int]:
    """The actions that start a shortest path from orientation s to orientation t (none when s == t)."""
    return [a for a in range(6) if DISTANCE[TURN[s, a], t] == DISTANCE[s, t] - 1]


#: BEST_ACTION[s, t] = the lowest-numbered action on a shortest path from s to t (-1 when s == t).
BEST_ACTION = np.array([[min(_first_moves(s, t), default=-1) for t in range(24)] for s in range(24)],
                       dtype=np.int64)


def _rotations_by_distance() -> tuple[np.ndarray, np.ndarray]:
    """Row d: the rotations W at distance d from the identity, in index order (padded with -1), and
    how many there are. Reset draws W at the episode's distance: start = W^-1 @ target is that far."""
    by_dist = np.full((MAX_TURNS + 1, 24), -1, dtype=np.int64)
    count = np.zeros(MAX_TURNS + 1, dtype=np.int64)
    for w in range(24):
        d = DISTANCE[0, w]
        by_dist[d, count[d]] = w
        count[d] += 1
    return by_dist, count


_BY_DIST, _BY_DIST_COUNT = _rotations_by_distance()

# --- Appearance ---------------------------------------------------------------------------------

MAX_CUBES = 8
COLOR_NAMES: tuple[str, ...] = ("red", "blue", "green", "yellow", "purple", "orange", "cyan", "pink")
PALETTE = np.array([[220, 50, 47], [38, 110, 220], [40, 165, 70], [240, 195, 30],
                    [145, 80, 205], [245, 125, 25], [40, 195, 205], [235, 105, 175]], dtype=np.uint8)
BACKGROUND = (236, 236, 236)
_LIGHT = np.array([0.6, 0.3, 1.0]) / np.linalg.norm([0.6, 0.3, 1.0])
_AMBIENT = 0.35
_EDGE_WIDTH = 0.08  # cube-edge lines, as a fraction of a cube side
_EDGE_DARKEN = 0.55
DEFAULT_CAMERA: dict[str, float] = {"azimuth_deg": 35.0, "elevation_deg": 30.0, "distance": 3.2,
                                    "margin": 1.04}
# Farther, the view no longer changes (at 128 pixels one pixel differs between 1e4 and 1e6); rounding
# blanks it near 1e15 and the distance's square overflows near 1e154 (a ZeroDivisionError).
MAX_CAMERA_DISTANCE = 1e6
# The object is drawn 1/margin times as wide as a fitted view. Past 100 it is a few pixels across at the
# largest export (512-pixel views; none past ~500); below 0.001 the view shows one face, and near 1e-19
# the kernel's pixel coordinates overflow int64: the render never returned.
CAMERA_MARGINS = (1e-3, 100.0)
# Brightness of a face by its world normal, in the order +x, -x, +y, -y, +z, -z (Lambert + ambient).
_SHADES = np.array([_AMBIENT + (1 - _AMBIENT) * max(0.0, s * _LIGHT[k]) for k in range(3) for s in (1, -1)])


def camera_array(camera: dict[str, float]) -> np.ndarray:
    """Camera as the kernel reads it: position (object radius = 1), right, up, forward, focal factor."""
    if not isinstance(camera, Mapping):  # 5 or null was a bare TypeError; a list of the names passed `in`
        raise ValueError(f"camera must be a dict of {', '.join(DEFAULT_CAMERA)}, got {camera!r}")
    missing = [k for k in DEFAULT_CAMERA if k not in camera]
    if missing:  # a state's camera from a file: a bare KeyError named one key and no fix
        raise ValueError(f"camera lacks {', '.join(missing)}: give all of {', '.join(DEFAULT_CAMERA)}")
    # A NaN or a margin <= 0 drew a blank view without a word (a margin of 0 was a ZeroDivisionError).
    az_deg, el_deg, dist, margin = (finite(f"camera {k}", camera[k]) for k in DEFAULT_CAMERA)  # its key order
    if dist <= 1.0:
        raise ValueError(f"camera distance must exceed the object's radius (1), got {dist}")
    if dist > MAX_CAMERA_DISTANCE:
        raise ValueError(f"camera distance must be at most {MAX_CAMERA_DISTANCE:,.0f} (farther, the view "
                         f"does not change), got {dist}")
    lo, hi = CAMERA_MARGINS
    if not lo <= margin <= hi:
        raise ValueError(f"camera margin must be between {lo:g} and {hi:g} (1 fits the object to the view), "
                         f"got {margin}")
    az, el = math.radians(az_deg), math.radians(el_deg)
    if abs(math.cos(el)) < 1e-9:  # the view's right, forward × z, is then 0: a view of NaNs
        raise ValueError(f"camera elevation_deg must not look straight down or up (±90°), got {el_deg}")
    toward = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    fwd = -toward
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    # The unit bounding sphere subtends tan(half angle) = 1/sqrt(d^2-1); fit it with a margin.
    focal = 1.0 / ((1.0 / math.sqrt(dist * dist - 1.0)) * margin)
    return np.concatenate([toward * dist, right, up, fwd, [focal]]).astype(np.float64)


# --- Numba kernels ------------------------------------------------------------------------------


@numba.njit(cache=True)
def _render(cubes, n, colors, rot, cam, shades, bg, out, zinv):
    """Draw cubes[:n] (object-frame integer centres) turned by ``rot`` into out (3, S, S).

    Each exterior, camera-facing cube face is a square in 3D. In normalised screen coordinates
    (dx, dy) the inverse depth W of its plane and U = u·W, V = v·W (u, v: face coordinates of the hit,
    in cube sides from the face centre) are affine, so a face covers |U|, |V| <= W/2: per row that is
    a span of columns found by four divisions, not a test per pixel. The nearest face wins
    (inverse-depth buffer ``zinv``, scratch (S, S)).
    """
    size = out.shape[1]
    half = 0.5 * size
    fpx = half * cam[12]
    ifp = 1.0 / fpx
    for c in range(3):
        out[c, :, :] = bg[c]
    zinv[:, :] = 0.0
    # Centre on the centroid; scale so the bounding sphere (over cube corners) has radius 1.
    cx, cy, cz = 0.0, 0.0, 0.0
    for i in range(n):
        cx += cubes[i, 0]
        cy += cubes[i, 1]
        cz += cubes[i, 2]
    cx, cy, cz = cx / n, cy / n, cz / n
    rad2 = 0.0
    for i in range(n):
        for corner in range(8):
            ox = 0.5 if corner & 1 else -0.5
            oy = 0.5 if corner & 2 else -0.5
            oz = 0.5 if corner & 4 else -0.5
            d2 = (cubes[i, 0] + ox - cx) ** 2 + (cubes[i, 1] + oy - cy) ** 2 + (cubes[i, 2] + oz - cz) ** 2
            rad2 = max(rad2, d2)
    inv_r = 1.0 / math.sqrt(rad2)
    # Camera basis in (right, down) screen terms: ray(dx, dy) = fwd + dx*right + dy*down.
    camx, camy, camz = cam[0], cam[1], cam[2]
    rx, ry, rz = cam[3], cam[4], cam[5]
    dwx, dwy, dwz = -cam[6], -cam[7], -cam[8]
    fx, fy, fz = cam[9], cam[10], cam[11]
    for i in range(n):
        ox, oy, oz = cubes[i, 0] - cx, cubes[i, 1] - cy, cubes[i, 2] - cz
        for k in range(3):
            k1 = (k + 1) % 3
            k2 = (k + 2) % 3
            for sgn in (1, -1):
                # Faces shared with a neighbour cube are inside the object.
                inner = False
                for j in range(n):
                    if (cubes[j, k] == cubes[i, k] + sgn and cubes[j, k1] == cubes[i, k1]
                            and cubes[j, k2] == cubes[i, k2]):
                        inner = True
                        break
                if inner:
                    continue
                # World normal (a signed axis), in-plane axes (length inv_r) and face centre.
                nx, ny, nz = sgn * rot[0, k], sgn * rot[1, k], sgn * rot[2, k]
                ax, ay, az = rot[0, k1] * inv_r, rot[1, k1] * inv_r, rot[2, k1] * inv_r
                bx, by, bz = rot[0, k2] * inv_r, rot[1, k2] * inv_r, rot[2, k2] * inv_r
                hk = 0.5 * sgn
                qx = ox + (hk if k == 0 else 0.0)
                qy = oy + (hk if k == 1 else 0.0)
                qz = oz + (hk if k == 2 else 0.0)
                cwx = (rot[0, 0] * qx + rot[0, 1] * qy + rot[0, 2] * qz) * inv_r
                cwy = (rot[1, 0] * qx + rot[1, 1] * qy + rot[1, 2] * qz) * inv_r
                cwz = (rot[2, 0] * qx + rot[2, 1] * qy + rot[2, 2] * qz) * inv_r
                # Offset from the camera to the face centre; the face must look toward the camera.
                tx, ty, tz = cwx - camx, cwy - camy, cwz - camz
                num = tx * nx + ty * ny + tz * nz
                if num >= 0.0:
                    continue
                if nx != 0:  # the normal is a signed world axis; _SHADES lists +x, -x, +y, -y, +z, -z
                    shade_idx = 0 if nx > 0 else 1
                elif ny != 0:
                    shade_idx = 2 if ny > 0 else 3
                else:
                    shade_idx = 4 if nz > 0 else 5
                # Rows covered: the projected corners' vertical extent.
                y0, y1 = 1e9, -1e9
                for corner in range(4):
                    sa = 0.5 if corner & 1 else -0.5
                    sb = 0.5 if corner & 2 else -0.5
                    qx = tx + sa * ax + sb * bx
                    qy = ty + sa * ay + sb * by
                    qz = tz + sa * az + sb * bz
                    depth = qx * fx + qy * fy + qz * fz
                    sy = half + fpx * (qx * dwx + qy * dwy + qz * dwz) / depth
                    y0, y1 = min(y0, sy), max(y1, sy)
                row0 = max(0, math.floor(y0 - 0.5))
                row1 = min(size - 1, math.ceil(y1 - 0.5))
                # Affine coefficients (constant, per dx, per dy) of W, U and V; |a|^2 = |b|^2 = inv_r^2.
                inv_num = 1.0 / num
                side2 = 1.0 / (inv_r * inv_r)
                w0 = (fx * nx + fy * ny + fz * nz) * inv_num
                wx = (rx * nx + ry * ny + rz * nz) * inv_num
                wy = (dwx * nx + dwy * ny + dwz * nz) * inv_num
                pa = -(tx * ax + ty * ay + tz * az) * side2
                pb = -(tx * bx + ty * by + tz * bz) * side2
                u0 = pa * w0 + (fx * ax + fy * ay + fz * az) * side2
                ux = pa * wx + (rx * ax + ry * ay + rz * az) * side2
                uy = pa * wy + (dwx * ax + dwy * ay + dwz * az) * side2
                v0 = pb * w0 + (fx * bx + fy * by + fz * bz) * side2
                vx = pb * wx + (rx * bx + ry * by + rz * bz) * side2
                vy = pb * wy + (dwx * bx + dwy * by + dwz * bz) * side2
                shade = shades[shade_idx]
                col0 = colors[i, 0] * shade
                col1 = colors[i, 1] * shade
                col2 = colors[i, 2] * shade
                edge0 = np.uint8(min(255.0, col0 * _EDGE_DARKEN + 0.5))
                edge1 = np.uint8(min(255.0, col1 * _EDGE_DARKEN + 0.5))
                edge2 = np.uint8(min(255.0, col2 * _EDGE_DARKEN + 0.5))
                fill0 = np.uint8(min(255.0, col0 + 0.5))
                fill1 = np.uint8(min(255.0, col1 + 0.5))
                fill2 = np.uint8(min(255.0, col2 + 0.5))
                for py in range(row0, row1 + 1):
                    dy = (py + 0.5 - half) * ifp
                    wr = w0 + wy * dy
                    ur = u0 + uy * dy
                    vr = v0 + vy * dy
                    # The face's pixels on this row, and those inside its edge lines.
                    c0, c1 = _span(ur, ux, vr, vx, wr, wx, 0.5, half, fpx, size)
                    i0, i1 = _span(ur, ux, vr, vx, wr, wx, 0.5 - _EDGE_WIDTH, half, fpx, size)
                    for px in range(c0, c1 + 1):
                        w = wr + wx * ((px + 0.5 - half) * ifp)
                        if w <= zinv[py, px]:
                            continue
                        zinv[py, px] = w
                        if i0 <= px <= i1:
                            out[0, py, px] = fill0
                            out[1, py, px] = fill1
                            out[2, py, px] = fill2
                        else:
                            out[0, py, px] = edge0
                            out[1, py, px] = edge1
                            out[2, py, px] = edge2


@numba.njit(cache=True)
def _render_views(cubes, n, colors, rotations, cam, shades, bg, views, zinv):
    """Draw the shape in every orientation: views[o] (3, S, S) turned by rotations[o]."""
    for o in range(rotations.shape[0]):
        _render(cubes, n, colors, rotations[o], cam, shades, bg, views[o], zinv)


@numba.njit(cache=True, inline="always")
def _span(ur, ux, vr, vx, wr, wx, lim, half, fpx, size):
    """Pixel columns [c0, c1] of a row whose centres satisfy |U| <= lim*W and |V| <= lim*W.

    U, V, W are affine in dx (U = ur + ux*dx, ...), so each of the four conditions bounds dx on one
    side; the pixel centre of column px is at dx = (px + 0.5 - half) / fpx.
    """
    lo, hi = -1e9, 1e9
    for h in range(4):
        if h == 0:
            g0, g1 = ur - lim * wr, ux - lim * wx
        elif h == 1:
            g0, g1 = -ur - lim * wr, -ux - lim * wx
        elif h == 2:
            g0, g1 = vr - lim * wr, vx - lim * wx
        else:
            g0, g1 = -vr - lim * wr, -vx - lim * wx
        if g1 > 0.0:
            hi = min(hi, -g0 / g1)
        elif g1 < 0.0:
            lo = max(lo, -g0 / g1)
        elif g0 > 0.0:
            return 0, -1
    if lo > hi:
        return 0, -1
    c0 = max(0, math.ceil(half + lo * fpx - 0.5))
    c1 = min(size - 1, math.floor(half + hi * fpx - 0.5))
    return c0, c1


@numba.njit(cache=True, inline="always")
def _shift_to_origin(cubes, n):
    """Translate cubes[:n] so that each axis' minimum is 0: one position per shape up to translation."""
    for w in range(3):
        lo = cubes[0, w]
        for i in range(1, n):
            lo = min(lo, cubes[i, w])
        for i in range(n):
            cubes[i, w] -= lo


@numba.njit(cache=True)
def _same_coloured_set(cubes, n, colors, rot):
    """Whether ``rot`` maps the cube+colour set onto itself up to translation (cubes[:n] has min 0)."""
    rc = np.empty((n, 3), dtype=np.int64)
    for i in range(n):
        for w in range(3):
            rc[i, w] = rot[w, 0] * cubes[i, 0] + rot[w, 1] * cubes[i, 1] + rot[w, 2] * cubes[i, 2]
    _shift_to_origin(rc, n)
    for i in range(n):
        found = False
        for j in range(n):
            if (rc[i, 0] == cubes[j, 0] and rc[i, 1] == cubes[j, 1] and rc[i, 2] == cubes[j, 2]
                    and colors[i, 0] == colors[j, 0] and colors[i, 1] == colors[j, 1]
                    and colors[i, 2] == colors[j, 2]):
                found = True
                break
        if not found:
            return False
    return True


@numba.njit(cache=True)
def _asymmetric(cubes, n, colors, rotations):
    """True when all 24 orientations of the coloured shape differ (only the identity fixes it)."""
    for r in range(1, rotations.shape[0]):  # noqa: SIM110 - Numba has no all() over a generator
        if _same_coloured_set(cubes, n, colors, rotations[r]):
            return False
    return True


@numba.njit(cache=True)
def _views_distinct(views):
    """True when no two of the (24, 3, S, S) views are identical (compared from the middle row out,
    where the object is, so differing pairs stop after a few bytes)."""
    m, _, size, _ = views.shape
    for a in range(m):
        for b in range(a + 1, m):
            same = True
            for k in range(size):
                y = (size // 2 + k) % size
                for x in range(size):
                    if (views[a, 0, y, x] != views[b, 0, y, x] or views[a, 1, y, x] != views[b, 1, y, x]
                            or views[a, 2, y, x] != views[b, 2, y, x]):
                        same = False
                        break
                if not same:
                    break
            if same:
                return False
    return True


@numba.njit(cache=True)
def _grow_shape(rng, b, n, cubes):
    """A random connected polycube of n cubes in cubes[:n], shifted so each axis' minimum is 0."""
    cubes[0, :] = 0
    count = 1
    while count < n:
        src = randint(rng, b, count)
        d = randint(rng, b, 6)
        x, y, z = cubes[src, 0], cubes[src, 1], cubes[src, 2]
        step = 1 if d % 2 == 0 else -1
        if d < 2:
            x += step
        elif d < 4:
            y += step
        else:
            z += step
        taken = False
        for j in range(count):
            if cubes[j, 0] == x and cubes[j, 1] == y and cubes[j, 2] == z:
                taken = True
                break
        if taken:
            continue
        cubes[count, 0], cubes[count, 1], cubes[count, 2] = x, y, z
        count += 1
    _shift_to_origin(cubes, n)


@numba.njit(cache=True)
def _reset(indices, seeds, rng, ncubes, cubes, colors, rot, target, steps, turns, solved, done, views,
           min_cubes, max_cubes, min_turns, max_turns, rotations, palette, cam, shades, bg, by_dist,
           by_dist_count, compose, inverse):
    size = views.shape[3]
    zbuf = np.empty((size, size))
    perm = np.empty(palette.shape[0], dtype=np.int64)
    for j in range(indices.shape[0]):
        b = indices[j]
        rng[b] = seeds[j]
        ok = False
        for _attempt in range(10000):
            n = min_cubes + randint(rng, b, max_cubes - min_cubes + 1)
            _grow_shape(rng, b, n, cubes[b])
            # Distinct colours: a partial Fisher-Yates shuffle of the palette.
            for c in range(perm.shape[0]):
                perm[c] = c
            for i in range(n):
                s = i + randint(rng, b, perm.shape[0] - i)
                perm[i], perm[s] = perm[s], perm[i]
                colors[b, i, :] = palette[perm[i]]
            if not _asymmetric(cubes[b], n, colors[b], rotations):
                continue
            _render_views(cubes[b], n, colors[b], rotations, cam, shades, bg, views[b], zbuf)
            if _views_distinct(views[b]):
                ok = True
                break
        if not ok:
            raise ValueError("rotation: no asymmetric shape found in 10000 draws")
        ncubes[b] = n
        d = min_turns + randint(rng, b, max_turns - min_turns + 1)
        w = by_dist[d, randint(rng, b, by_dist_count[d])]
        t = randint(rng, b, rotations.shape[0])
        target[b] = t
        rot[b] = compose[inverse[w], t]  # target = W @ start, |W| = d quarter turns
        turns[b] = d
        steps[b] = 0
        solved[b] = False
        done[b] = False


@numba.njit(cache=True)
def _step(actions, rot, target, steps, solved, done, turn, distance, max_steps, step_cost, progress_reward,
          reward, terminated, truncated):
    # Checked before any board turns, so a refused batch leaves every board as it was.
    for b in range(actions.shape[0]):
        if actions[b] < 0 or actions[b] >= turn.shape[1]:
            raise ValueError("rotation: actions must be in 0..5 (X+, X-, Y+, Y-, Z+, Z-)")
    for b in range(actions.shape[0]):
        reward[b] = 0.0
        terminated[b] = False
        truncated[b] = False
        if done[b]:
            continue
        a = actions[b]
        before = distance[rot[b], target[b]]
        rot[b] = turn[rot[b], a]
        steps[b] += 1
        # Potential-based shaping (potential = -progress_reward * distance): it keeps the best policy.
        shaping = progress_reward * (before - distance[rot[b], target[b]])
        if rot[b] == target[b]:
            reward[b] = 1.0 + shaping
            terminated[b] = True
            solved[b] = True
            done[b] = True
        else:
            reward[b] = shaping - step_cost
            if steps[b] >= max_steps[b]:
                truncated[b] = True
                done[b] = True


@numba.njit(cache=True)
def _observe(boards, views, rot, target, out):
    size = views.shape[3]
    for o in range(boards.shape[0]):
        b = boards[o]
        t = target[b]
        r = rot[b]
        for c in range(3):
            for y in range(size):
                for x in range(size):
                    out[o, c, y, x] = views[b, t, c, y, x]
                    out[o, c, y, size + x] = views[b, r, c, y, x]


# --- Public helpers -----------------------------------------------------------------------------


def is_asymmetric(cubes: Any, colors: Any) -> bool:
    """Whether all 24 rotations of the cube+colour set differ up to translation (the shape rule)."""
    c = np.asarray(cubes, dtype=np.int64).reshape(-1, 3)
    c = c - c.min(axis=0)
    col = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    return bool(_asymmetric(np.ascontiguousarray(c), len(c), np.ascontiguousarray(col), ROTATIONS))


def shape_arrays(shape: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A shape's cubes as (n, 3) int64, shifted to start at the origin, and colours as (n, 3) uint8, each
    read as rows of three whole numbers (colours 0..255), else a ValueError naming the key: NumPy took a flat
    list three at a time, cut a cube at 0.5 to 0 (set_state loaded, render_view drew another shape) and
    raised its own errors for None, a string or a row of two."""
    check_state_keys("rotation", shape, ("cubes", "colors"))
    cells = state_cells("state's cubes", shape["cubes"], 3)
    for k, cell in enumerate(cells):  # so that the shift to the origin fits int64
        if max(map(abs, cell)) >= 2**62:
            raise ValueError(f"state's cubes[{k}] {cell}: every coordinate must be below 2**62 in size")
    cubes = np.array(cells, dtype=np.int64).reshape(-1, 3)
    # Where the object lies does not change its views, but render_view's kernel centres it on a float
    # centroid: far out (1e12) it drew cubes misplaced, at 2**60 it divided by zero. From the origin, as the
    # game keeps its objects.
    if len(cubes):
        cubes -= cubes.min(axis=0)
    rgb_rows = state_cells("state's colors", shape["colors"], 3)
    if any(not 0 <= v <= 255 for row in rgb_rows for v in row):
        raise ValueError(f"state's colors {rgb_rows} must be RGB triples of 0..255")
    return cubes, np.array(rgb_rows, dtype=np.uint8).reshape(-1, 3)


#: Pixels a side of each view ``render_state`` draws, per unit of its scale.
VIEW_PIXELS_PER_SCALE = 8
#: The largest ``render_view`` size: the view ``render_state`` draws at ``MAX_RENDER_SCALE`` (2,048 pixels,
#: 12 MB with its depth buffer 46 MB). Unbounded, a size of 100,000 set about allocating 110 GB.
MAX_VIEW_SIZE = VIEW_PIXELS_PER_SCALE * MAX_RENDER_SCALE


def render_view(shape: dict[str, Any], rotation: Any, size: int = 48) -> np.ndarray:
    """One view (size, size, 3) uint8 of ``shape`` (a state, or any dict with "cubes" and "colors",
    optionally "camera") turned by ``rotation`` (a 3×3 cube-rotation matrix or its index 0..23)."""
    # 0 was a ZeroDivisionError in the kernel
    size = whole("size", size, 1, MAX_VIEW_SIZE, " pixels a side (render_state's largest view)")
    cubes, colors = shape_arrays(shape)
    if len(cubes) == 0 or len(cubes) != len(colors):
        raise ValueError("render_view needs one colour per cube and at least one cube")
    if np.ndim(rotation) == 0:  # an index: int() cut 1.5 to 1 (another orientation)
        idx = whole("rotation index", np.asarray(rotation).item(), 0, 23)
    else:
        idx = rotation_index(rotation)
    cam = camera_array(shape.get("camera", DEFAULT_CAMERA))
    out = np.empty((3, size, size), dtype=np.uint8)
    _render(cubes, len(cubes), colors, ROTATIONS[idx], cam, _SHADES, np.array(BACKGROUND, np.uint8), out,
            np.empty((size, size)))
    return out.transpose(1, 2, 0).copy()


def _orientations(state: dict[str, Any]) -> tuple[int, int]:
    """The state's orientation and target indices, else a ValueError naming the key (a bare KeyError was)."""
    check_state_keys("rotation", state, ("rotation", "target_rotation"))
    return _state_rotation(state, "rotation"), _state_rotation(state, "target_rotation")


def optimal_actions(state: dict[str, Any]) -> list[int]:
    """Every action that starts a shortest path from the state's orientation to its target."""
    return _first_moves(*_orientations(state))


def optimal_action(state: dict[str, Any]) -> int:
    """The lowest-numbered shortest-path action; ValueError if the state is already solved."""
    s, t = _orientations(state)
    if s == t:
        raise ValueError("the object already matches the target: no move is needed")
    return int(BEST_ACTION[s, t])


def optimal_solution(state: dict[str, Any]) -> list[int]:
    """A shortest action sequence from the state's orientation to its target (empty when solved)."""
    s, t = _orientations(state)
    moves = []
    while s != t:
        a = int(BEST_ACTION[s, t])
        moves.append(a)
        s = int(TURN[s, a])
    return moves


def _max_steps(game: Rotation, value: Any) -> int:
    """``max_steps`` checked against ``min_turns``: every start is at least ``min_turns`` quarter turns from
    its target, so fewer steps than that left every episode unsolvable (trained on without a word). A solve
    on the last step counts (the match is checked before the truncation), so ``max_steps == min_turns``
    is allowed. Only the constructor's refusal offers a lower min_turns: a made game's is fixed."""
    steps = whole("max_steps", value, 1)
    min_turns = game.min_turns
    if steps < min_turns:
        lower = f", or min_turns to {steps} or less" if making(game) else ""
        raise ValueError(f"max_steps ({steps}) is less than min_turns ({min_turns}): every start is at least "
                         f"min_turns quarter turns from its target, so no episode could be solved; set "
                         f"max_steps to {min_turns} or more{lower}")
    return steps


class Rotation(Game):
    """Batched mental-rotation puzzle (see the module docstring for the rules)."""

    name = "rotation"
    ACTION_NAMES: ClassVar[tuple[str, ...]] = ACTION_NAMES
    #: Columns q/a, w/s, e/d turn about X, Y, Z; the top row +90°, the row below it -90°.
    ACTION_KEYS: ClassVar[ActionKeys] = (("q",), ("a",), ("w",), ("s",), ("e",), ("d",))
    STATE_KEYS: ClassVar[tuple[str, ...]] = ("cubes", "colors", "rotation", "target_rotation")
    STATE_OPTIONAL_KEYS: ClassVar[tuple[str, ...]] = (
        "color_names", "rotation_index", "target_index", "distance", "turns", "camera", "view_size", "step",
        "max_steps", "score", "solved", "done")
    OBS_PANELS: ClassVar[int] = 2
    #: set_attr may change these (checked as the constructor checks them): max_steps from each board's
    #: reset, the rewards from the next step
    max_steps = Setting(lambda game, name, value: _max_steps(game, value))
    step_cost = reward_setting()
    progress_reward = reward_setting()
    # A turn moves the distance by one at most: a step pays -step_cost ± progress_reward (a solve 1 ±).
    FLOAT32_TOGETHER: ClassVar[tuple[tuple[str, ...], ...]] = (("step_cost", "progress_reward"),)

    def __init__(self, num_envs: int = 1, min_cubes: int = 3, max_cubes: int = 6, min_turns: int = 1,
                 max_turns: int = MAX_TURNS, max_steps: int = 50, step_cost: float = 0.01,
                 view_size: int = 24, progress_reward: float = 0.0) -> None:
        super().__init__(num_envs)
        symmetric = " (fewer than 3 cubes are always symmetric)"
        self.min_cubes = whole("min_cubes", min_cubes, 3, MAX_CUBES, symmetric)
        self.max_cubes = whole("max_cubes", max_cubes, 3, MAX_CUBES, symmetric)
        if self.min_cubes > self.max_cubes:
            raise ValueError(f"min_cubes ({min_cubes}) must not exceed max_cubes ({max_cubes})")
        self.min_turns = whole("min_turns", min_turns, 1, MAX_TURNS)
        self.max_turns = whole("max_turns", max_turns, 1, MAX_TURNS)
        if self.min_turns > self.max_turns:
            raise ValueError(f"min_turns ({min_turns}) must not exceed max_turns ({max_turns})")
        self.max_steps = max_steps
        self.step_cost = step_cost
        self.view_size = view_size = whole("view_size", view_size, 16, 128)
        self.progress_reward = progress_reward
        self._cam = camera_array(DEFAULT_CAMERA)
        self._bg = np.array(BACKGROUND, dtype=np.uint8)
        n = num_envs
        self._rng = np.zeros(n, dtype=np.uint64)
        self._ncubes = np.zeros(n, dtype=np.int64)
        self._cubes = np.zeros((n, MAX_CUBES, 3), dtype=np.int64)
        self._colors = np.zeros((n, MAX_CUBES, 3), dtype=np.uint8)
        self._rot = np.zeros(n, dtype=np.int64)
        self._target = np.zeros(n, dtype=np.int64)
        self._steps = np.zeros(n, dtype=np.int64)
        self._turns = np.zeros(n, dtype=np.int64)
        self._solved = np.zeros(n, dtype=np.bool_)
        self._done = np.ones(n, dtype=np.bool_)
        # Each board's limit: the game's, or a state's that set_state restored (until the board resets).
        self._max_steps = np.full(n, self.max_steps, dtype=np.int64)
        # 24 views per board: ~41 KB each at the default size of 24 (42 MB for 1024 boards).
        self._views = np.zeros((n, 24, 3, view_size, view_size), dtype=np.uint8)
        self._reward = np.zeros(n, dtype=np.float32)
        self._terminated = np.zeros(n, dtype=np.bool_)
        self._truncated = np.zeros(n, dtype=np.bool_)
        self.observation_space = spaces.Box(0, 255, (3, view_size, 2 * view_size), dtype=np.uint8)

    @property
    def camera(self) -> dict[str, float]:
        """The camera every view is drawn from (a copy of ``DEFAULT_CAMERA``), as states carry it."""
        return dict(DEFAULT_CAMERA)

    @camera.setter
    def camera(self, value: Any) -> None:
        # A plain attribute took a new camera that get_state and render_state used while the 24 views, and so
        # the observations, kept the old one.
        raise ValueError(f"rotation's camera is fixed ({DEFAULT_CAMERA}): the views and states are drawn "
                         "from it; render_view draws a state from another camera (its \"camera\" key)")

    def reset(self, indices: np.ndarray, seeds: np.ndarray) -> None:
        boards, seeds = self._reset_args(indices, seeds)
        self._max_steps[boards] = self.max_steps
        _reset(boards, seeds, self._rng,
               self._ncubes, self._cubes, self._colors, self._rot, self._target, self._steps, self._turns,
               self._solved, self._done, self._views, self.min_cubes, self.max_cubes, self.min_turns,
               self.max_turns, ROTATIONS, PALETTE, self._cam, _SHADES, self._bg, _BY_DIST, _BY_DIST_COUNT,
               COMPOSE, INVERSE)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        actions = self._actions(actions)
        _step(actions, self._rot, self._target, self._steps, self._solved, self._done, TURN, DISTANCE,
              self._max_steps, self.step_cost, self.progress_reward, self._reward, self._terminated,
              self._truncated)
        return self._reward.copy(), self._terminated.copy(), self._truncated.copy()

    def observe(self, out: np.ndarray, indices: np.ndarray | None = None) -> None:
        _observe(self._boards(indices, out), self._views, self._rot, self._target, out)

    def _episode_info(self, i: int) -> dict[str, float]:
        solved = bool(self._solved[i])
        # Random play solves most boards within 50 steps; "optimal" tells a specialist from it.
        return {"score": float(solved), "solved": float(solved), "turns": float(self._turns[i]),
                "steps": float(self._steps[i]),
                "optimal": float(solved and self._steps[i] == self._turns[i]),
                "cubes": float(self._ncubes[i])}

    def _started(self, i: int) -> bool:
        return bool(self._ncubes[i])  # reset and set_state give the object at least one cube

    def get_state(self, i: int) -> dict[str, Any]:
        self._check_started(i, "get_state")
        n = int(self._ncubes[i])
        r, t = int(self._rot[i]), int(self._target[i])
        colors = self._colors[i, :n].tolist()
        return {
            "game": self.name,
            "cubes": self._cubes[i, :n].tolist(),
            "colors": colors,
            "color_names": [_color_name(c) for c in colors],
            "rotation": ROTATIONS[r].tolist(),
            "rotation_index": r,
            "target_rotation": ROTATIONS[t].tolist(),
            "target_index": t,
            "distance": int(DISTANCE[r, t]),
            "turns": int(self._turns[i]),
            "camera": dict(self.camera),
            "view_size": self.view_size,
            "step": int(self._steps[i]),
            "max_steps": int(self._max_steps[i]),
            "score": float(self._solved[i]),
            "solved": bool(self._solved[i]),
            "done": bool(self._done[i]),
        }

    def set_state(self, i: int, state: dict[str, Any]) -> None:
        self._check_state(i, state)
        cubes, colors = shape_arrays(state)
        n = len(cubes)
        if not 1 <= n <= MAX_CUBES or len(colors) != n:
            raise ValueError(f"state needs 1..{MAX_CUBES} cubes with one colour each, "
                             f"got {n} cubes and {len(colors)} colours")
        # The state's own limit, so that it re-simulates to the same episode end (hand-made states may
        # leave it out: then the game's).
        max_steps = whole("state's max_steps", state.get("max_steps", self.max_steps), 1)
        if state.get("camera", self.camera) != self.camera:
            raise ValueError(f"state camera {state['camera']} differs from this game's {self.camera}")
        _check_polycube(cubes)
        rgb = [tuple(c) for c in colors.tolist()]
        if len(set(rgb)) < n:
            twice = next(c for c in rgb if rgb.count(c) > 1)
            raise ValueError(f"state's colors {colors.tolist()} hold {list(twice)} twice: every cube has its "
                             "own colour")
        if not is_asymmetric(cubes, colors):
            # Two orientations would look the same: the target could be matched in fewer turns than the
            # game's distance, and a turn between two views would have two answers (the tasks take one).
            raise ValueError(f"state's object (cubes {cubes.tolist()}) has a symmetry: a turn maps it, with "
                             "its colours, onto itself, so two orientations look the same")
        r, t = _orientations(state)
        check_derived_key(state, "rotation_index", r, "the index of its rotation matrix")
        check_derived_key(state, "target_index", t, "the index of its target matrix")
        # Hand-made states (VLM tasks) may leave out the episode bookkeeping. All is read before board i
        # changes: a refused state leaves it as it was.
        # bool() took "false" for true; the step that reaches max_steps ends the episode, and the turn onto
        # the target, and only that, solves it (no episode starts there): a state at its target is solved.
        solved = flag("state's solved", state.get("solved", r == t))
        done = flag("state's done", state.get("done", solved))
        if solved and not (done and r == t):
            raise ValueError(f"state is solved but {'not done' if not done else 'not at its target'}: "
                             "reaching the target solves the puzzle and ends the episode")
        if r == t and not solved:
            raise ValueError("state is at its target but not solved: the turn onto the target solves the "
                             "puzzle and ends the episode, and no episode starts there")
        steps = whole("state's step", state.get("step", 0), 0, max_steps if done else max_steps - 1,
                      f" with max_steps {max_steps} in a state {'that is' if done else 'not'} done")
        if done and not solved and steps != max_steps:
            raise ValueError(f"state is done but neither solved nor at its step limit (step {steps} of "
                             f"max_steps {max_steps}): unsolved, an episode ends only at that limit")
        d = int(DISTANCE[r, t])
        check_derived_key(state, "distance", d, "the quarter turns from its rotation to its target_rotation")
        check_derived_key(state, "score", float(solved), "its solved as a number (1.0 solved, else 0.0)")
        names = [_color_name(c) for c in colors.tolist()]
        check_derived_key(state, "color_names", names, "its colors' names")
        # Reset puts a board `turns` away (1..3) and each quarter turn moves it exactly one closer or farther
        # (the 24 orientations form a bipartite graph): other bookkeeping made episode_info's turns, and so
        # "optimal", wrong. A hand-made state at its target may say turns 0 at step 0; one that leaves turns
        # out takes the start its steps reach nearest to its distance now (that distance at step 0).
        reach = [k for k in range(MAX_TURNS + 1) if _reaches(k, d, steps)]
        turns = whole("state's turns", state["turns"], 0, MAX_TURNS) if "turns" in state else min(
            reach, key=lambda k: abs(k - d))
        if turns == 0 and steps:
            raise ValueError(f"state's turns 0 is a state at its target at step 0 only, got step {steps}: no "
                             "episode starts at its target")
        if turns not in reach:
            raise ValueError(f"state is {d} quarter turn{'s' * (d != 1)} from its target after {steps} "
                             f"step{'s' * (steps != 1)} of an episode that started {turns} away: each step "
                             "changes the distance by one")
        self._ncubes[i] = n
        self._cubes[i, :n] = cubes
        self._colors[i, :n] = colors
        self._rot[i], self._target[i] = r, t
        self._turns[i] = turns
        self._steps[i] = steps
        self._solved[i] = solved
        self._done[i] = done
        self._max_steps[i] = max_steps
        _render_views(self._cubes[i], n, self._colors[i], ROTATIONS, self._cam, _SHADES, self._bg,
                      self._views[i], np.empty((self.view_size, self.view_size)))

    @classmethod
    def render_state(cls, state: dict[str, Any], scale: int = RENDER_SCALE) -> np.ndarray:
        """The target view (left) and the current view (right), 8·scale pixels each, with a divider."""
        scale = whole("scale", scale, 1, MAX_RENDER_SCALE)  # 0 was a ZeroDivisionError
        size = VIEW_PIXELS_PER_SCALE * scale
        gap = max(1, scale // 4)
        check_state_keys(cls.name, state, cls.STATE_KEYS)
        left = render_view(state, _state_rotation(state, "target_rotation"), size)
        right = render_view(state, _state_rotation(state, "rotation"), size)
        divider = np.full((size, gap, 3), 150, dtype=np.uint8)
        return np.concatenate([left, divider, right], axis=1)


def _state_rotation(state: dict[str, Any], key: str) -> int:
    """The orientation index of the state's matrix ``key``, else a ValueError naming the key."""
    matrix = state_cells(f"state's {key}", state[key], 3)
    try:
        return rotation_index(matrix)
    except ValueError:
        raise ValueError(f"state's {key} {matrix} is not one of the 24 cube rotations (3 rows of three "
                         "0/1/-1 entries, one nonzero per row and column, determinant 1)") from None


def _reaches(turns: int, distance: int, steps: int) -> bool:
    """Whether an episode that started ``turns`` quarter turns from its target can be ``distance`` away after
    ``steps`` steps: each step changes the distance by exactly one, and none starts at its target (a
    hand-made state there at step 0 may say 0)."""
    started = turns > 0 or steps == 0
    return started and abs(distance - turns) <= steps and (distance - turns - steps) % 2 == 0


def _check_polycube(cubes: np.ndarray) -> None:
    """A ValueError unless ``cubes`` (n, 3) are distinct unit cubes joined face to face, as every object
    the game makes: a cube twice was drawn as one, and a cube apart floated free of the object."""
    cells = [tuple(c) for c in cubes.tolist()]
    if len(set(cells)) < len(cells):
        twice = next(c for c in cells if cells.count(c) > 1)
        raise ValueError(f"state's cubes {cubes.tolist()} hold {list(twice)} twice (one cube to a cell)")
    seen, todo = {cells[0]}, [cells[0]]
    while todo:
        x, y, z = todo.pop()
        for nb in ((x + 1, y, z), (x - 1, y, z), (x, y + 1, z), (x, y - 1, z), (x, y, z + 1), (x, y, z - 1)):
            if nb in cells and nb not in seen:
                seen.add(nb)
                todo.append(nb)
    if len(seen) < len(cells):
        apart = [list(c) for c in cells if c not in seen]
        raise ValueError(f"state's cubes {cubes.tolist()} are not one connected object: {apart} share no "
                         f"face with {list(cells[0])}'s part (each cube must touch another face to face)")


def _color_name(rgb: list[int]) -> str:
    for name, p in zip(COLOR_NAMES, PALETTE.tolist(), strict=True):
        if p == list(rgb):
            return name
    return "rgb({}, {}, {})".format(*rgb)

