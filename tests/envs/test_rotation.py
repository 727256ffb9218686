"""Rotation: the cube group tables, shapes without symmetry, rendering, optimal play, the Game contract."""

from __future__ import annotations

import itertools
import json
import re
from collections import deque
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium.utils.env_checker import check_env

import envs
from envs.env import GameEnv
from envs.rotation import (
    ACTION_NAMES,
    BACKGROUND,
    BEST_ACTION,
    COLOR_NAMES,
    COMPOSE,
    DEFAULT_CAMERA,
    DISTANCE,
    GENERATORS,
    INVERSE,
    MAX_CAMERA_DISTANCE,
    MAX_TURNS,
    PALETTE,
    ROTATIONS,
    TURN,
    Rotation,
    is_asymmetric,
    optimal_action,
    optimal_actions,
    optimal_solution,
    render_view,
    rotation_index,
)
from tests.envs.roundtrip import assert_round_trips

S = 24  # default view size
INVERSE_ACTION = (1, 0, 3, 2, 5, 4)  # action a undoes action INVERSE_ACTION[a]: X+ and X-, ...


def fresh(num_envs: int = 1, seed: int = 0, **kwargs) -> Rotation:
    game = Rotation(num_envs=num_envs, **kwargs)
    game.reset(np.arange(num_envs), np.arange(seed, seed + num_envs, dtype=np.uint64))
    return game


def hand_made(state: dict) -> dict:
    """``state`` without the keys get_state derives from the others (set_state refuses stale ones): the
    start of a hand-made state that changes the keys they come from."""
    return {k: v for k, v in state.items() if k not in ("distance", "score", "color_names")}


def observe(game: Rotation) -> np.ndarray:
    obs = game.new_obs_buffer()
    game.observe(obs)
    return obs


def halves(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(target, current) views of one board's observation as (S, S, 3) images."""
    img = obs.transpose(1, 2, 0)
    return img[:, :S], img[:, S:]


def step1(game: Rotation, a: int) -> tuple[float, bool, bool]:
    r, term, trunc = game.step(np.array([a]))
    return float(r[0]), bool(term[0]), bool(trunc[0])


def coloured_sets(state: dict) -> list[frozenset]:
    """The shape's cube+colour set under each of the 24 rotations, translated to min corner 0."""
    cubes = np.array(state["cubes"])
    out = []
    for m in ROTATIONS:
        rc = cubes @ m.T
        rc -= rc.min(axis=0)
        out.append(frozenset((*map(int, p), *c) for p, c in zip(rc, state["colors"], strict=True)))
    return out


# --- The group ----------------------------------------------------------------------------------


def test_rotations_are_the_24_proper_cube_rotations():
    assert ROTATIONS.shape == (24, 3, 3) and ROTATIONS.dtype == np.int64
    assert len({m.tobytes() for m in ROTATIONS}) == 24
    assert (ROTATIONS[0] == np.eye(3, dtype=np.int64)).all()
    for m in ROTATIONS:
        assert (m @ m.T == np.eye(3)).all() and round(np.linalg.det(m)) == 1
        assert rotation_index(m.tolist()) == rotation_index(m)
    with pytest.raises(ValueError):
        rotation_index([[1, 0, 0], [0, 1, 0], [0, 0, -1]])  # a reflection


def test_rotation_index_refuses_fractions_and_takes_whole_floats():
    # The matrix was cast to int64, so [1.5, 0, 0] was cut to [1, 0, 0]: the identity, silently, in
    # render_view, optimal_action and the VLM tasks.
    half = [[1.5, 0, 0], [0, 1, 0], [0, 0, 1]]
    for bad in (half, [[0.5, 0, 0], [0, 1, 0], [0, 0, 1]], [[float("nan"), 0, 0], [0, 1, 0], [0, 0, 1]]):
        with pytest.raises(ValueError, match="not one of the 24 cube rotations"):
            rotation_index(bad)
    state = {"rotation": ROTATIONS[0].tolist(), "target_rotation": half}
    with pytest.raises(ValueError, match=r"state's target_rotation\[0\] must be a list of 3 whole numbers .*"
                                         r"got \[1.5, 0, 0\]"):
        optimal_action(state)
    with pytest.raises(ValueError, match="not one of the 24 cube rotations"):
        render_view({"cubes": ELL, "colors": [RED, BLUE, GREEN]}, half, 16)
    for k in range(24):  # whole numbers as floats (a matrix computed in floating point) still count
        assert rotation_index(ROTATIONS[k].astype(np.float64)) == k
        assert rotation_index(ROTATIONS[k].astype(np.float64).tolist()) == k


def test_rotation_index_refuses_uint64_entries_that_wrap_to_minus_one():
    # The cast to int64 read a uint64 2**64 - 1 as -1, so this matrix passed as rotation 1.
    wrapped = ROTATIONS[1].astype(np.uint64)
    assert wrapped.max() == 2**64 - 1
    with pytest.raises(ValueError, match="not one of the 24 cube rotations"):
        rotation_index(wrapped)
    for k in range(24):  # unsigned matrices of 0s and 1s are still read
        if (ROTATIONS[k] >= 0).all():
            assert rotation_index(ROTATIONS[k].astype(np.uint8)) == k


def test_rotation_index_refuses_a_matrix_of_another_shape():
    # Nine entries in one row hold the identity's bytes: only the shape check tells them from a matrix.
    flat = np.eye(3, dtype=np.int64).ravel()
    for bad in (flat, flat.reshape(1, 9), flat.tolist()):
        with pytest.raises(ValueError, match="not one of the 24 cube rotations"):
            rotation_index(bad)
    with pytest.raises(ValueError, match="not one of the 24 cube rotations"):
        render_view({"cubes": ELL, "colors": [RED, BLUE, GREEN]}, flat.tolist(), 16)


def test_render_view_refuses_an_index_that_is_no_whole_number_0_to_23():
    # int() cut 1.5 to 1: the view of orientation 1, silently.
    shape = {"cubes": ELL, "colors": [RED, BLUE, GREEN]}
    for bad, error in ((1.5, "must be a whole number between 0 and 23, got 1.5"),
                       (24, "must be between 0 and 23"), (-1, "must be between 0 and 23"),
                       (True, "must be a whole number")):
        with pytest.raises(ValueError, match=f"rotation index {error}"):
            render_view(shape, bad, 16)
    one = render_view(shape, 1, 16)
    for same in (np.int64(1), np.array(1), 1.0, ROTATIONS[1]):
        assert np.array_equal(render_view(shape, same, 16), one)


def test_render_view_refuses_a_size_that_is_no_whole_number_from_1_to_its_limit():
    # 0 was a ZeroDivisionError in the kernel, -1 NumPy's "negative dimensions", 1.5 a TypeError; sizes had
    # no upper bound, so 100,000 set about allocating 110 GB (render_state's largest view is 2,048).
    shape = {"cubes": ELL, "colors": [RED, BLUE, GREEN]}
    for bad in (0, -1, 1.5, 2049, 100_000):
        with pytest.raises(ValueError, match=rf"^size must be (a whole number )?between 1 and 2048 pixels a "
                                             rf"side \(render_state's largest view\), got {bad}$"):
            render_view(shape, 0, bad)
    assert np.array_equal(render_view(shape, 0, 16.0), render_view(shape, 0, 16))


def test_a_camera_near_or_past_straight_up_or_down_still_draws_the_shape():
    # Only ±90° itself (the view's right direction 0/0) is refused: 120° is 60° seen from the opposite
    # azimuth, and 89.99° (right direction 1.7e-4 long before normalising) draws the shape.
    shape = {"cubes": ELL, "colors": [RED, BLUE, GREEN]}

    def view(azimuth: float, elevation: float) -> np.ndarray:
        camera = {**DEFAULT_CAMERA, "azimuth_deg": azimuth, "elevation_deg": elevation}
        return render_view({**shape, "camera": camera}, 0, 32)

    for over, mirror in ((120, 60), (-120, -60)):
        assert np.array_equal(view(35, over), view(215, mirror))
    for steep in (89.99, -89.99):
        picture = view(35, steep)
        assert (picture != picture[0, 0]).any(axis=2).sum() > 200  # the cubes' pixels, not a blank view


def test_render_view_refuses_no_cubes_a_colour_count_off_and_a_camera_at_the_objects_radius():
    # No cubes divided by zero in the kernel; a camera at distance 1 divided by zero fitting the view.
    with pytest.raises(ValueError, match="at least one cube"):
        render_view({"cubes": [], "colors": []}, 0, 16)
    for colors in ([RED, BLUE], [RED, BLUE, GREEN, RED]):  # the kernel read past two colours unchecked
        with pytest.raises(ValueError, match="one colour per cube"):
            render_view({"cubes": ELL, "colors": colors}, 0, 16)
    shape = {"cubes": ELL, "colors": [RED, BLUE, GREEN]}
    for distance in (1.0, 0.5):
        error = f"camera distance must exceed the object's radius .1., got {distance}"
        with pytest.raises(ValueError, match=error):
            render_view({**shape, "camera": {**DEFAULT_CAMERA, "distance": distance}}, 0, 16)
    assert render_view({**shape, "camera": {**DEFAULT_CAMERA, "distance": 1.5}}, 0, 16).shape == (16, 16, 3)
    # Far away the view stopped changing, then rounding blanked it (1e20) and the distance's square
    # overflowed to inf (1e200: a ZeroDivisionError fitting the view).
    far = render_view({**shape, "camera": {**DEFAULT_CAMERA, "distance": MAX_CAMERA_DISTANCE}}, 0, 32)
    assert np.array_equal(far, render_view({**shape, "camera": {**DEFAULT_CAMERA, "distance": 1e4}}, 0, 32))
    for distance in (1.000001e6, 1e20, 1e200):
        error = f"camera distance must be at most 1,000,000 .*, got {re.escape(str(distance))}"
        with pytest.raises(ValueError, match=error):
            render_view({**shape, "camera": {**DEFAULT_CAMERA, "distance": distance}}, 0, 16)
    partial = {k: v for k, v in DEFAULT_CAMERA.items() if k != "margin"}  # was a bare KeyError: 'margin'
    with pytest.raises(ValueError, match="camera lacks margin: give all of azimuth_deg, elevation_deg"):
        render_view({**shape, "camera": partial}, 0, 16)
    # A NaN or a margin <= 0 drew a blank view (a margin of 0 was a ZeroDivisionError), "3.2" was taken.
    # A margin past 100 drew nothing at 512 pixels (1000: a blank view at any size the project draws);
    # near 1e-19 the render never returned.
    for key, bad, error in (("margin", 0, "camera margin must be between 0.001 and 100 .*, got 0.0"),
                            ("margin", -1.0, "camera margin must be between 0.001 and 100 .*, got -1.0"),
                            ("margin", 1e3, "camera margin must be between 0.001 and 100 .*, got 1000.0"),
                            ("margin", 1e-4, "camera margin must be between 0.001 and 100 .*, got 0.0001"),
                            ("distance", float("nan"), "camera distance must be a finite number, got nan"),
                            ("elevation_deg", float("inf"), "camera elevation_deg must be a finite number"),
                            # an int past float64 was a bare OverflowError
                            ("azimuth_deg", 10**400, "camera azimuth_deg must be a finite number, got 1000"),
                            # the view's right direction was 0/0: a view drawn from NaNs
                            ("elevation_deg", 90, "camera elevation_deg must not look straight .*, got 90"),
                            ("elevation_deg", -90, "camera elevation_deg must not look straight .*, got -90"),
                            ("elevation_deg", 270, "camera elevation_deg must not look straight .*, got 270"),
                            ("distance", "3.2", "camera distance must be a finite number, got '3.2'")):
        with pytest.raises(ValueError, match=error):
            render_view({**shape, "camera": {**DEFAULT_CAMERA, key: bad}}, 0, 16)
    for margin in (1e-3, 100.0):  # the bounds draw the object
        view = render_view({**shape, "camera": {**DEFAULT_CAMERA, "margin": margin}}, 0, 512)
        assert (view != BACKGROUND).any()


@pytest.mark.parametrize("camera", [5, None, list(DEFAULT_CAMERA)])
def test_a_camera_that_is_no_dict_is_refused_naming_it(camera) -> None:
    # A state's camera from a file: 5 or null was a bare TypeError from `in`, and a list of the four names
    # passed that check and was a TypeError from indexing it by name.
    game = Rotation(1)
    game.reset(np.arange(1), np.arange(1))
    state = {**game.get_state(0), "camera": camera}
    for draw in (lambda: Rotation.render_state(state, 4), lambda: render_view(state, 0, 16)):
        with pytest.raises(ValueError, match=r"camera must be a dict of azimuth_deg, elevation_deg, "
                                             r"distance, margin, got"):
            draw()


def test_render_state_refuses_a_malformed_state_naming_the_key():
    """States come back from files: render_view read cubes with NumPy, so a cube at 0.5 was drawn at 0
    (another shape, silently), None was a bare TypeError and colours of 5 NumPy's reshape error."""
    game = Rotation(1)
    game.reset(np.arange(1), np.arange(1))
    state = game.get_state(0)
    good = Rotation.render_state(state, 4)
    cube = state["cubes"][0]
    for change, error in (
            ({"cubes": [[cube[0] + 0.5, cube[1], cube[2]], *state["cubes"][1:]]},
             r"state's cubes\[0\] must be a list of 3 whole numbers"),
            ({"cubes": None}, "state's cubes must be a list"),
            ({"colors": 5}, "state's colors must be a list"),
            ({"colors": [[300, 0, 0]] * len(state["colors"])}, "must be RGB triples of 0..255"),
            ({"rotation": [[2, 0, 0], [0, 1, 0], [0, 0, 1]]}, "state's rotation .* is not one of the 24"),
            ({"target_rotation": "I"}, "state's target_rotation must be a list")):
        with pytest.raises(ValueError, match=error):
            Rotation.render_state({**state, **change}, 4)
    with pytest.raises(ValueError, match="not a rotation state: it lacks 'target_rotation'"):
        Rotation.render_state({k: v for k, v in state.items() if k != "target_rotation"}, 4)
    with pytest.raises(ValueError, match=r"state's cubes\[1\]"):
        render_view({"cubes": [[0, 0, 0], [0.5, 0, 0]], "colors": [RED, BLUE]}, 0, 16)
    assert np.array_equal(Rotation.render_state(json.loads(json.dumps(state)), 4), good)


def test_composition_table_matches_matrix_products():
    for a, b in itertools.product(range(24), repeat=2):
        assert (ROTATIONS[COMPOSE[a, b]] == ROTATIONS[a] @ ROTATIONS[b]).all()
    for a in range(24):
        assert COMPOSE[a, INVERSE[a]] == 0 and COMPOSE[INVERSE[a], a] == 0
        assert (ROTATIONS[INVERSE[a]] == ROTATIONS[a].T).all()


def test_generators_turn_about_world_axes_and_have_inverses():
    assert ACTION_NAMES == ("X+", "X-", "Y+", "Y-", "Z+", "Z-")
    e = np.eye(3, dtype=np.int64)
    # Right-hand rule, +90°: X+ takes y to z, Y+ takes z to x, Z+ takes x to y; each fixes its axis.
    assert (GENERATORS[0] @ e[1] == e[2]).all() and (GENERATORS[0] @ e[0] == e[0]).all()
    assert (GENERATORS[2] @ e[2] == e[0]).all() and (GENERATORS[2] @ e[1] == e[1]).all()
    assert (GENERATORS[4] @ e[0] == e[1]).all() and (GENERATORS[4] @ e[2] == e[2]).all()
    for a in range(6):
        assert (GENERATORS[a] @ GENERATORS[INVERSE_ACTION[a]] == e).all()
        assert (np.linalg.matrix_power(GENERATORS[a], 4) == e).all()
        for r in range(24):
            assert (ROTATIONS[TURN[r, a]] == GENERATORS[a] @ ROTATIONS[r]).all()
            assert TURN[TURN[r, a], INVERSE_ACTION[a]] == r


def test_bfs_distances():
    # Independent check: the shortest word over the generators for every rotation, by enumeration.
    shortest: dict[bytes, int] = {}
    for length in range(5):
        for word in itertools.product(range(6), repeat=length):
            m = np.eye(3, dtype=np.int64)
            for a in word:
                m = GENERATORS[a] @ m
            shortest.setdefault(m.tobytes(), length)
    assert len(shortest) == 24
    for s, t in itertools.product(range(24), repeat=2):
        assert DISTANCE[s, t] == shortest[(ROTATIONS[t] @ ROTATIONS[s].T).tobytes()]
    assert MAX_TURNS == DISTANCE.max() == 3
    assert np.bincount(DISTANCE[0]).tolist() == [1, 6, 11, 6]
    assert (DISTANCE == DISTANCE.T).all()
    for s, t in itertools.product(range(24), repeat=2):
        if s != t:
            assert DISTANCE[TURN[s, BEST_ACTION[s, t]], t] == DISTANCE[s, t] - 1
        else:
            assert BEST_ACTION[s, t] == -1


# --- Shapes -------------------------------------------------------------------------------------


def test_symmetry_rule():
    line = [[0, 0, 0], [1, 0, 0], [2, 0, 0]]
    ell = [[0, 0, 0], [1, 0, 0], [0, 1, 0]]
    red, blue, green = PALETTE[0].tolist(), PALETTE[1].tolist(), PALETTE[2].tolist()
    assert not is_asymmetric(line, [red, blue, green])  # turning about its own axis changes nothing
    assert is_asymmetric(ell, [red, blue, green])
    assert not is_asymmetric(ell, [red, blue, blue])  # the half turn swapping the two arms
    assert not is_asymmetric(ell, [red, red, red])
    # A symmetry that moves the shape: the S of four cubes coloured red, blue, blue, red is itself after a
    # half turn about z, once shifted back onto its cells.
    s_shape = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [2, 1, 0]]
    assert not is_asymmetric(s_shape, [red, blue, blue, red])
    assert is_asymmetric(s_shape, [red, blue, green, red])
    # Colours that differ in any channel are different: green and cyan share their red.
    cyan = PALETTE[COLOR_NAMES.index("cyan")].tolist()
    assert green[0] == cyan[0] and is_asymmetric(ell, [red, green, cyan])
    for channel in range(3):  # off-palette colours (set_state takes them) that differ in one channel only
        other = list(blue)
        other[channel] += 1
        assert is_asymmetric(ell, [red, blue, other]), channel
    # Where a shape lies does not matter: the line and the ell moved off the origin keep their verdicts.
    assert not is_asymmetric([[x + 5, y - 3, z + 7] for x, y, z in line], [red, blue, green])
    assert is_asymmetric([[x - 4, y + 2, z] for x, y, z in ell], [red, blue, green])


def test_every_placement_of_the_three_cube_shape_comes_up():
    # Three in a line turn about their axis onto themselves (refused); the bent shape may lie in any of
    # the 3 planes with its corner at any of 4 places: the cubes grow from either side of each cube.
    game = fresh(300, seed=7, min_cubes=3, max_cubes=3)
    placements = {frozenset(map(tuple, game.get_state(i)["cubes"])) for i in range(game.num_envs)}
    square = [(x, y, 0) for x in (0, 1) for y in (0, 1)]  # three of its four cells: an ell in the x-y plane
    ells = {frozenset(c[shift:] + c[:shift] for c in cells)  # the same in the y-z and z-x planes
            for cells in itertools.combinations(square, 3) for shift in range(3)}
    assert len(ells) == 12 and placements == ells


def test_generated_shapes_are_connected_coloured_and_without_symmetry():
    game = fresh(200, seed=1000, min_cubes=3, max_cubes=8)
    sizes = set()
    for i in range(game.num_envs):
        s = game.get_state(i)
        cubes = [tuple(c) for c in s["cubes"]]
        sizes.add(len(cubes))
        assert 3 <= len(cubes) <= 8 and len(set(cubes)) == len(cubes)
        assert np.array(cubes).min(axis=0).tolist() == [0, 0, 0]
        # Connected through faces.
        seen, queue = {cubes[0]}, deque([cubes[0]])
        while queue:
            c = queue.popleft()
            for d in [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]:
                nb = (c[0] + d[0], c[1] + d[1], c[2] + d[2])
                if nb in cubes and nb not in seen:
                    seen.add(nb)
                    queue.append(nb)
        assert len(seen) == len(cubes)
        # Distinct palette colours, and all 24 orientations distinct as coloured voxel sets and as views.
        assert len({tuple(c) for c in s["colors"]}) == len(cubes)
        assert all(c in PALETTE.tolist() for c in s["colors"])
        assert len(set(coloured_sets(s))) == 24
        assert len({v.tobytes() for v in game._views[i]}) == 24
    assert sizes == set(range(3, 9))


def test_reset_difficulty_knobs():
    game = fresh(300, seed=5)
    turns = [game.get_state(i)["turns"] for i in range(game.num_envs)]
    assert set(turns) == {1, 2, 3}
    for i in range(game.num_envs):
        s = game.get_state(i)
        assert DISTANCE[s["rotation_index"], s["target_index"]] == s["turns"] == s["distance"]
        assert 3 <= len(s["cubes"]) <= 6
    hard = fresh(100, seed=5, min_turns=3, max_turns=3, min_cubes=5, max_cubes=5)
    for i in range(hard.num_envs):
        s = hard.get_state(i)
        assert s["turns"] == 3 and len(s["cubes"]) == 5
    # Targets vary: all 24 orientations occur over 300 boards.
    assert len({game.get_state(i)["target_index"] for i in range(game.num_envs)}) == 24
    # Each cube's colour is drawn from all 8 of the palette's, the first cube's too (not only an 8th cube's).
    firsts = {tuple(game.get_state(i)["colors"][0]) for i in range(game.num_envs)}
    assert firsts == set(map(tuple, PALETTE.tolist()))
    # The start is any orientation `turns` away: the turn from it to the target takes all 23 other values.
    starts = [game.get_state(i) for i in range(game.num_envs)]
    turned = {rotation_index(np.array(s["target_rotation"]) @ np.array(s["rotation"]).T) for s in starts}
    assert len(turned) == 23 and 0 not in turned
    # Cubes grow along x, y and z alike: each axis' mean extent is about 1.1 cube over these boards (growing
    # y+ as x+ instead made them 1.5, 0.6 and 1.1, objects lying along x).
    extents = np.array([np.ptp(np.array(s["cubes"]), axis=0) for s in starts]).mean(axis=0)
    assert extents.max() - extents.min() < 0.25, extents


def test_each_colour_name_is_the_hue_its_cubes_are_drawn_in():
    # A task asks about a cube by COLOR_NAMES[k] and the picture paints it PALETTE[k]: with orange's and
    # pink's entries swapped, every test passed while "the orange cube" was drawn pink.
    import colorsys

    hues = {"red": (345, 15), "orange": (15, 40), "yellow": (40, 70), "green": (90, 150), "cyan": (170, 200),
            "blue": (200, 250), "purple": (250, 290), "pink": (300, 345)}  # degrees, red's past 360
    assert sorted(COLOR_NAMES) == sorted(hues) and len(PALETTE) == len(COLOR_NAMES)
    for name, rgb in zip(COLOR_NAMES, PALETTE.tolist(), strict=True):
        hue = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[0] * 360
        low, high = hues[name]
        assert (low <= hue < high) if low < high else (hue >= low or hue < high), (name, rgb, hue)


@pytest.mark.parametrize("kwargs, message", [
    (dict(min_cubes=2), "min_cubes must be between 3 and 8"), (dict(max_cubes=9), "max_cubes must be betw"),
    (dict(min_cubes=5, max_cubes=4), r"min_cubes \(5\) must not exceed max_cubes \(4\)"),
    (dict(min_turns=0), "min_turns must be between 1 and 3"), (dict(max_turns=4), "max_turns must be betw"),
    (dict(min_turns=3, max_turns=2), r"min_turns \(3\) must not exceed max_turns \(2\)"),
    (dict(max_steps=0), "max_steps must be >= 1"), (dict(view_size=8), "view_size must be between 16 and"),
    (dict(view_size=129), "view_size must be between 16 and 128"),
    (dict(min_turns=3, max_steps=2), r"max_steps \(2\) is less than min_turns \(3\): .* no episode could be "
     r"solved; set max_steps to 3 or more, or min_turns to 2 or less")])
def test_bad_knobs_fail_early(kwargs, message):
    # The message names the knob to change (train_ppo.py names the flag from it): any ValueError is not that.
    with pytest.raises(ValueError, match=message):
        Rotation(**kwargs)


# --- Rendering ----------------------------------------------------------------------------------


def test_observation_is_target_and_current_view():
    game = fresh(1, seed=3)
    s = game.get_state(0)
    obs = observe(game)[0]
    assert obs.shape == (3, S, 2 * S) and obs.dtype == np.uint8
    target, current = halves(obs)
    assert (target == render_view(s, s["target_rotation"], S)).all()
    assert (current == render_view(s, s["rotation"], S)).all()
    assert (current == render_view(s, s["rotation_index"], S)).all()
    assert (current != target).any()


def test_observing_some_boards_gives_those_boards_views():
    # The vector env reads the ended boards' last observations this way, straight into their rows.
    game = fresh(3, seed=3)
    every = observe(game)
    some = np.zeros((2, *game.observation_space.shape), np.uint8)
    game.observe(some, np.array([2, 0]))
    assert (some[0] == every[2]).all() and (some[1] == every[0]).all() and (every[2] != every[0]).any()


@pytest.mark.parametrize("action", range(6))
def test_rendering_after_a_turn_equals_the_composed_rotation(action):
    game = fresh(1, seed=11)
    before = game.get_state(0)
    step1(game, action)
    after = game.get_state(0)
    composed = GENERATORS[action] @ np.array(before["rotation"])
    assert after["rotation"] == composed.tolist()
    target, current = halves(observe(game)[0])
    assert (current == render_view(before, composed, S)).all()
    assert (target == render_view(before, before["target_rotation"], S)).all()


def test_views_match_exactly_when_solved():
    game = fresh(1, seed=21)
    # Without its turns, each orientation is the start of its own episode (turns: its distance).
    s = {k: v for k, v in hand_made(game.get_state(0)).items() if k != "turns"}
    for r in range(24):
        at = r == s["target_index"]  # a state at its target is solved
        game.set_state(0, {**s, "rotation": ROTATIONS[r].tolist(), "rotation_index": r, "solved": at,
                           "done": at})
        target, current = halves(observe(game)[0])
        assert (target == current).all() == (r == s["target_index"])
        assert (current == render_view(s, r, S)).all()  # each of the 24 views, the identity's too


def test_render_shapes_and_dtypes():
    game = fresh(1, seed=2)
    s = game.get_state(0)
    for scale in (1, 6, 16):
        img = Rotation.render_state(s, scale)
        assert img.dtype == np.uint8 and img.shape == (8 * scale, 16 * scale + max(1, scale // 4), 3)
    pair = Rotation.render_state(s, S // 8)
    assert (pair[:, :S] == render_view(s, s["target_rotation"], S)).all()
    assert (pair[:, S] == 150).all()  # a grey divider, neither the background nor the black edges
    # Both views are the observation's: the current one too (drawn with the inverse rotation, it passed),
    # on a board whose rotation is not its own inverse.
    assert INVERSE[s["rotation_index"]] != s["rotation_index"]
    target, current = halves(observe(game)[0])
    assert (pair[:, :S] == target).all() and (pair[:, S + 1:] == current).all()
    view = render_view({"cubes": s["cubes"], "colors": s["colors"]}, 5, 100)
    assert view.shape == (100, 100, 3) and view.dtype == np.uint8
    assert (view == render_view(s, ROTATIONS[5], 100)).all()
    env = GameEnv(Rotation(), render_mode="rgb_array", render_scale=4)
    env.reset(seed=0)
    assert env.render().shape == (32, 65, 3)


def test_render_is_a_real_picture():
    s = fresh(1, seed=8).get_state(0)
    img = render_view(s, s["rotation"], 64)
    background = (img == np.array([236, 236, 236], np.uint8)).all(axis=2)
    assert 0.1 < (~background).mean() < 0.8  # the object fills part of the view
    assert background[0].all() and background[-1].all()  # and fits in it
    pixels = {tuple(p) for p in img.reshape(-1, 3)}
    assert len(pixels) >= 3 * len(s["cubes"])  # shaded faces of every colour, edges, background


def test_every_orientation_of_the_largest_objects_fits_the_view():
    # The view is fitted to the object's bounding sphere with a margin: no cube is cut off at the border,
    # in any of the 24 orientations. Found by mutation testing: a margin of 0.8 cropped 8-cube objects
    # while the one-view checks above still passed.
    game = fresh(8, seed=3, min_cubes=8, max_cubes=8)
    views = game._views  # (boards, 24, 3, S, S)
    edges = (views[..., 0, :], views[..., -1, :], views[..., :, 0], views[..., :, -1])
    border = np.concatenate(edges, axis=-1)
    assert (border == np.array(BACKGROUND, np.uint8)[:, None]).all()


def test_views_are_drawn_in_perspective_from_close_by():
    # Three cubes in a row toward the camera (+x): the nearest cube's top face looks over twice as large as
    # the farthest one's (about 2.3× at the default distance of 3.2 object radii; about 1.1× from 30 radii,
    # nearly orthographic, which the other rendering tests let pass).
    from envs.rotation import _SHADES

    row = {"cubes": [[0, 0, 0], [1, 0, 0], [2, 0, 0]], "colors": PALETTE[:3].tolist()}
    img = render_view(row, 0, 96)
    far, _, near = ((img == np.floor(PALETTE[k] * _SHADES[4] + 0.5).astype(np.uint8)).all(axis=2).sum()
                    for k in range(3))
    assert near > 2 * far > 0


def test_a_cube_behind_others_is_hidden():
    # z-buffered, the nearest face wins: from the default camera (above, on the +x, +y side) the red cube
    # at the origin lies behind the cubes at (1, 0, 0), (1, 0, 1) and (1, 1, 1), so none of its faces show
    # (one pixel of its edge line peeks out at a seam). Keeping the farthest face instead drew 71 pixels of
    # red faces over them.
    from envs.rotation import _SHADES

    shape = {"cubes": [[0, 0, 0], [1, 0, 0], [1, 0, 1], [1, 1, 1]], "colors": PALETTE[:4].tolist()}
    img = render_view(shape, 0, 48)
    for shade in _SHADES:
        assert not (img == np.floor(PALETTE[0] * shade + 0.5).astype(np.uint8)).all(axis=2).any(), shade
    assert len({tuple(p) for p in img.reshape(-1, 3)}) > 6  # the three cubes in front are drawn


def test_the_camera_looks_at_the_objects_centre():
    # A column of four cubes (z up) is drawn down the middle of the view, top to bottom. Aimed at the
    # origin (a corner cube's centre) instead of the centroid, it filled rows 1-28 of 48, half as large.
    column = {"cubes": [[0, 0, z] for z in range(4)], "colors": PALETTE[:4].tolist()}
    ys, xs = np.nonzero((render_view(column, 0, 48) != np.array(BACKGROUND, np.uint8)).any(axis=2))
    assert ys.min() <= 2 and ys.max() >= 41  # rows 1-43 of 48
    assert abs((xs.min() + xs.max()) / 2 - 23.5) <= 1


def test_a_cube_seen_face_on_is_a_square():
    # From straight along -x (azimuth 0, elevation 0) one cube shows its +x face only: a square of pixels.
    # Its side edges are then parallel to the rows; dropping the kernel's check for a row wholly outside
    # such an edge drew the face one row too far up and down (16 by 18 pixels).
    camera = {**DEFAULT_CAMERA, "azimuth_deg": 0.0, "elevation_deg": 0.0}
    img = render_view({"cubes": [[0, 0, 0]], "colors": [RED], "camera": camera}, 0, 24)
    ys, xs = np.nonzero((img != np.array(BACKGROUND, np.uint8)).any(axis=2))
    height, width = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert height == width == 16 and len(ys) == height * width


def test_camera_sees_top_left_x_and_right_y_faces():
    """One cube: the +z face (brightest) on top, +x on the left, +y on the right; a turn moves them."""
    from envs.rotation import _SHADES

    red = PALETTE[0].astype(float)
    cube = {"cubes": [[0, 0, 0]], "colors": [PALETTE[0].tolist()]}

    def centre_of(img: np.ndarray, face: int) -> np.ndarray:
        colour = np.floor(red * _SHADES[face] + 0.5).astype(np.uint8)
        ys, xs = np.nonzero((img == colour).all(axis=2))
        assert len(ys) > 100
        return np.array([xs.mean(), ys.mean()])

    img = render_view(cube, 0, 96)
    px, py, pz = centre_of(img, 0), centre_of(img, 2), centre_of(img, 4)
    assert pz[1] < px[1] and pz[1] < py[1]  # top face above the sides
    assert px[0] < py[0]  # +x face left of the +y face
    assert _SHADES[4] > _SHADES[0] > _SHADES[2]
    assert (render_view(cube, GENERATORS[4], 96) == img).all()  # one plain cube: every turn looks alike
    two = {"cubes": [[0, 0, 0], [0, 0, 1]], "colors": [PALETTE[0].tolist(), PALETTE[1].tolist()]}
    up = render_view(two, 0, 96)  # blue cube on top of red
    blue_top = np.floor(PALETTE[1] * _SHADES[4] + 0.5).astype(np.uint8)
    red_side = np.floor(red * _SHADES[0] + 0.5).astype(np.uint8)
    assert (up == blue_top).all(axis=2).any() and (up == red_side).all(axis=2).any()
    flipped = render_view(two, GENERATORS[0] @ GENERATORS[0], 96)  # X+ twice: red on top now
    red_top = np.floor(red * _SHADES[4] + 0.5).astype(np.uint8)
    assert (flipped == red_top).all(axis=2).any() and not (flipped == blue_top).all(axis=2).any()


def test_the_camera_shows_the_axes_as_the_docstring_and_the_questions_say():
    # Module docstring (and the VLM questions' frame text): +x points down-left, 35° below the horizontal,
    # +y right and slightly down, 19° below, +z straight up.
    from envs.rotation import camera_array

    cam = camera_array(DEFAULT_CAMERA)
    right, up = cam[3:6], cam[6:9]  # the screen's right and up, in world coordinates

    def below_horizontal(axis: int) -> float:
        return float(np.degrees(np.arctan2(-up[axis], abs(right[axis]))))

    assert right[0] < 0 < right[1] and right[2] == 0 < up[2]  # +x left, +y right, +z up
    assert below_horizontal(0) == pytest.approx(35, abs=1) and below_horizontal(1) == pytest.approx(19, abs=1)


def test_render_view_draws_from_the_shapes_own_camera():
    """A shape's "camera" is where the view is drawn from, not only checked: seen from the opposite azimuth,
    one cube shows its -x and -y faces (ambient shade only) instead of the lit +x and +y ones."""
    from envs.rotation import _SHADES

    cube = {"cubes": [[0, 0, 0]], "colors": [PALETTE[0].tolist()]}

    def faces(img: np.ndarray) -> set[int]:
        shaded = {k: np.floor(PALETTE[0] * _SHADES[k] + 0.5).astype(np.uint8) for k in range(6)}
        return {k for k, c in shaded.items() if (img == c).all(axis=2).sum() > 100}

    front = render_view(cube, 0, 96)
    assert (render_view({**cube, "camera": dict(DEFAULT_CAMERA)}, 0, 96) == front).all()
    behind = {**DEFAULT_CAMERA, "azimuth_deg": DEFAULT_CAMERA["azimuth_deg"] + 180}
    back = render_view({**cube, "camera": behind}, 0, 96)
    # The faces turned away from the light (-x, -y, -z) share the ambient shade: it stands for all three.
    assert faces(front) == {0, 2, 4} and faces(back) == {1, 3, 4, 5}


# --- Rules and optimal play ---------------------------------------------------------------------


def test_optimal_play_solves_every_board_in_exactly_turns_steps():
    n = 120
    game = fresh(n, seed=40)
    turns = np.array([game.get_state(i)["turns"] for i in range(n)])
    plans = [optimal_solution(game.get_state(i)) for i in range(n)]
    assert [len(p) for p in plans] == turns.tolist()
    total = np.zeros(n)
    for t in range(MAX_TURNS):
        actions = np.array([optimal_action(game.get_state(i)) if not game.get_state(i)["done"] else 0
                            for i in range(n)])
        for i in range(n):
            s = game.get_state(i)
            if not s["done"]:
                assert actions[i] in optimal_actions(s)
                assert actions[i] == plans[i][t]
        reward, term, trunc = game.step(actions)
        total += reward
        assert not trunc.any()
        assert (term == (turns == t + 1)).all()
    for i in range(n):
        info = game.episode_info(i)
        assert info["score"] == 1.0 and info["turns"] == turns[i] and info["steps"] == turns[i]
        assert info["optimal"] == 1.0 and info["solved"] == info["score"] == 1.0
        assert game.get_state(i)["solved"]
    assert np.allclose(total, 1.0 - 0.01 * (turns - 1))


def test_optimal_actions_are_all_shortest_moves():
    s = fresh(1, seed=4, min_turns=3, max_turns=3).get_state(0)
    acts = optimal_actions(s)
    assert optimal_action(s) == min(acts)
    for a in range(6):
        nxt = TURN[s["rotation_index"], a]
        assert (a in acts) == (DISTANCE[nxt, s["target_index"]] == 2)
    with pytest.raises(ValueError):
        optimal_action({**s, "rotation": s["target_rotation"]})


def test_finished_board_stays_unchanged():
    game = fresh(1, seed=9)
    for a in optimal_solution(game.get_state(0)):
        r, term, _ = step1(game, a)
    assert term and r == 1.0
    done_state = game.get_state(0)
    assert done_state["done"] and done_state["score"] == 1.0
    for a in range(6):
        assert step1(game, a) == (0.0, False, False)
    assert game.get_state(0) == done_state


def test_step_returns_arrays_that_a_later_step_leaves_as_they_were():
    # Callers keep them (a list of transitions, a rollout buffer): they must not be the game's own arrays,
    # which the next step overwrites.
    game = fresh(1, seed=14, min_turns=1, max_turns=1)
    first = game.step(np.array([optimal_action(game.get_state(0))]))  # the solving turn
    assert step1(game, 0) == (0.0, False, False)  # an ended board reports nothing
    assert [x.tolist() for x in first] == [[1.0], [True], [False]]


def test_detour_solves_but_is_not_optimal():
    game = fresh(1, seed=14)
    s = game.get_state(0)
    away = next(a for a in range(6) if TURN[s["rotation_index"], a] != s["target_index"])
    assert step1(game, away)[1:] == (False, False)
    assert step1(game, INVERSE_ACTION[away])[1:] == (False, False)
    assert game.get_state(0)["rotation"] == s["rotation"]
    for a in optimal_solution(s):
        reward, term, _ = step1(game, a)
    info = game.episode_info(0)
    assert term and reward == 1.0 and info["score"] == 1.0
    assert info["steps"] == s["turns"] + 2 and info["optimal"] == 0.0
    assert info["turns"] == s["turns"]  # the start distance, not the steps taken


def test_as_many_steps_as_turns_without_solving_is_not_optimal():
    game = fresh(1, seed=14)
    s = game.get_state(0)
    for _ in range(s["turns"]):  # always a move that does not reach the target
        now = game.get_state(0)
        step1(game, next(a for a in range(6) if TURN[now["rotation_index"], a] != s["target_index"]))
    info = game.episode_info(0)
    assert info["steps"] == info["turns"] == s["turns"] and info["solved"] == 0.0
    assert info["optimal"] == 0.0 and info["cubes"] == len(s["cubes"])


def test_progress_reward_shapes_every_move_and_sums_to_the_start_distance():
    game = fresh(1, seed=14, progress_reward=0.1, min_turns=2, max_turns=2)
    s = game.get_state(0)
    target = s["target_index"]
    away = next(a for a in range(6) if DISTANCE[TURN[s["rotation_index"], a], target] == 3)
    assert step1(game, away)[0] == pytest.approx(-0.1 - 0.01)  # one turn farther
    rewards = [step1(game, a)[0] for a in optimal_solution(game.get_state(0))]
    assert rewards[:-1] == pytest.approx([0.1 - 0.01] * (len(rewards) - 1))
    assert rewards[-1] == pytest.approx(1.0 + 0.1)
    # Potential-based: over the episode the shaping adds exactly the start distance times the weight.
    assert sum(rewards) + (-0.1 - 0.01) == pytest.approx(1.0 + 0.1 * 2 - 0.01 * (len(rewards)))


def test_a_state_keeps_its_own_step_limit_until_the_board_resets():
    # A state of a max_steps=5 episode at step 2, replayed in a game of 50 steps: truncated at 5 as in
    # its own episode (a state "re-simulates exactly"); a new episode takes the game's limit.
    state = {**fresh(1, seed=13, max_steps=5).get_state(0), "step": 2}
    game = fresh(1, seed=0)
    game.set_state(0, state)
    assert game.get_state(0)["max_steps"] == 5
    truncated = []
    for _ in range(3):
        s = game.get_state(0)
        a = next(a for a in range(6) if TURN[s["rotation_index"], a] != s["target_index"])
        truncated.append(step1(game, a)[2])
    assert truncated == [False, False, True]
    game.reset(np.array([0]), np.array([1], dtype=np.uint64))
    assert game.get_state(0)["max_steps"] == 50


def test_set_state_refuses_a_step_limit_past_64_bits_leaving_the_board_as_it_was():
    # It was NumPy's OverflowError on the last line of set_state, after the object and step were replaced.
    game = fresh(1, seed=0)
    before = game.get_state(0)
    with pytest.raises(ValueError, match=r"state's max_steps must be at most 2\*\*63 - 1"):
        game.set_state(0, {**fresh(1, seed=13).get_state(0), "max_steps": 2**63})
    assert game.get_state(0) == before


def test_truncation_after_max_steps():
    game = fresh(1, seed=13, max_steps=5)
    for k in range(5):
        s = game.get_state(0)
        a = next(a for a in range(6) if TURN[s["rotation_index"], a] != s["target_index"])
        r, term, trunc = step1(game, a)
        assert r == pytest.approx(-0.01) and not term
        assert trunc == (k == 4)
    info = game.episode_info(0)
    assert info["score"] == 0.0 and info["steps"] == 5.0 and info["optimal"] == 0.0
    assert step1(game, 0) == (0.0, False, False)


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_max_steps_of_min_turns_is_solvable_on_the_last_step(turns):
    # The bound max_steps >= min_turns: a match on the step that reaches max_steps counts (terminated,
    # solved), checked before the truncation, so max_steps == min_turns is the tightest game that can be won.
    game = fresh(1, seed=21, min_turns=turns, max_turns=turns, max_steps=turns)
    moves = optimal_solution(game.get_state(0))
    assert len(moves) == turns
    for k, a in enumerate(moves):
        r, term, trunc = step1(game, a)
        assert (r > 0.5, term, trunc) == (k == turns - 1, k == turns - 1, False)
    info = game.episode_info(0)
    assert info["solved"] == 1.0 and info["steps"] == turns and info["optimal"] == 1.0


def test_set_attr_refuses_a_max_steps_below_min_turns_and_keeps_the_old_one():
    # The constructor's check alone let set_attr shorten a min_turns=3 game's episodes to 2 steps: unsolvable.
    vec = envs.make_vec("rotation", 2, num_workers=0, seed=0, min_turns=3, max_steps=10)
    # min_turns is fixed once the game is made: the advice names only max_steps (it said "or min_turns to 2
    # or less", which set_attr then refused).
    with pytest.raises(ValueError, match=r"max_steps \(2\) is less than min_turns \(3\)") as e:
        vec.set_attr("max_steps", 2)
    assert "set max_steps to 3 or more" in str(e.value) and "min_turns to" not in str(e.value)
    assert vec.get_attr("max_steps") == [10, 10]
    vec.set_attr("max_steps", 3)  # the bound itself is allowed
    assert vec.get_attr("max_steps") == [3, 3]
    vec.close()


def test_bad_action_is_refused():
    game = fresh(1)
    with pytest.raises(ValueError):
        game.step(np.array([6]))
    with pytest.raises(ValueError):
        game.step(np.array([0, 1]))


def test_keys_turn_about_x_y_z_by_columns_top_row_plus():
    # README: columns q/a, w/s, e/d turn about X, Y, Z; the top row +90°, the row below it -90°.
    keys = {chr(code): ACTION_NAMES[a] for (code,), a in Rotation.keys_to_action().items()}
    assert keys == {"q": "X+", "a": "X-", "w": "Y+", "s": "Y-", "e": "Z+", "d": "Z-"}


def test_refused_batch_leaves_every_board_unchanged():
    # The range check used to run inside the stepping loop: board 0 turned before board 1's bad action.
    game = fresh(2)
    before = [game.get_state(i) for i in range(2)]
    # Worded as every game's action check: the range and the names.
    with pytest.raises(ValueError, match=r"actions must be in 0\.\.5 \(X\+, X-, Y\+, Y-, Z\+, Z-\)"):
        game.step(np.array([0, 9]))
    assert [game.get_state(i) for i in range(2)] == before


# --- Contract -----------------------------------------------------------------------------------


def test_determinism():
    def run(seed: int) -> list[dict]:
        game = fresh(3, seed=seed)
        rng = np.random.default_rng(7)
        states = [[game.get_state(i) for i in range(3)]]
        for _ in range(12):
            game.step(rng.integers(0, 6, 3))
            states.append([game.get_state(i) for i in range(3)])
        return states

    assert run(100) == run(100)
    assert run(100)[0] != run(101)[0]


def test_batched_equals_single():
    seed, n = 77, 4
    game = fresh(n, seed=seed)
    singles = [GameEnv(Rotation()) for _ in range(n)]
    single_obs = [env.reset(seed=seed + k)[0] for k, env in enumerate(singles)]
    batch_obs = observe(game)
    rng = np.random.default_rng(0)
    done = np.zeros(n, bool)
    for _ in range(20):
        for k in range(n):
            assert (batch_obs[k] == single_obs[k]).all()
            assert game.get_state(k) == singles[k].get_state()
        actions = rng.integers(0, 6, n)
        reward, term, trunc = game.step(actions)
        batch_obs = observe(game)
        for k, env in enumerate(singles):
            if done[k]:
                continue
            single_obs[k], r, te, tr, info = env.step(actions[k])
            assert (r, te, tr) == (reward[k], term[k], trunc[k])
            if te or tr:
                assert info == game.episode_info(k)
                done[k] = True


@pytest.mark.filterwarnings("error::UserWarning")  # check_env reports what it skips or finds as warnings
def test_check_env():
    # A registered env has a spec; without one check_env skips its render-mode and close checks.
    check_env(gym.make("depthfirst/Rotation-v0").unwrapped)
    check_env(gym.make("depthfirst/Rotation-v0", view_size=32, min_cubes=4, max_cubes=4).unwrapped)


def test_state_round_trip_json():
    game = fresh(2, seed=31)
    step1_actions = np.array([2, 5])
    game.step(step1_actions)
    s = json.loads(json.dumps(game.get_state(1)))
    other = fresh(3, seed=500)
    other.set_state(2, s)
    assert other.get_state(2) == game.get_state(1)
    assert (observe(other)[2] == observe(game)[1]).all()
    # Both continue alike.
    r1 = game.step(np.array([0, 3]))
    r2 = other.step(np.array([0, 0, 3]))
    assert r1[0][1] == r2[0][2] and other.get_state(2) == game.get_state(1)
    for key in ("rotation_index", "target_index"):
        with pytest.raises(ValueError, match=f"state's {key}"):
            other.set_state(0, {**s, key: (s[key] + 1) % 24})
    with pytest.raises(ValueError):
        other.set_state(0, {**s, "rotation": [[2, 0, 0], [0, 1, 0], [0, 0, 1]]})
    with pytest.raises(ValueError):
        other.set_state(0, {**s, "camera": {**s["camera"], "distance": 5.0}})


def test_a_saved_state_keeps_its_orientation_numbers():
    # States in files (saved boards, exported tasks) carry rotation_index and target_index, which set_state
    # checks against the matrices: another numbering of the 24 rotations refused every saved state.
    saved = {"cubes": ELL, "colors": [RED, BLUE, GREEN], "rotation": [[0, 1, 0], [0, 0, -1], [-1, 0, 0]],
             "rotation_index": 8, "target_rotation": [[-1, 0, 0], [0, 0, 1], [0, 1, 0]], "target_index": 23}
    game = Rotation(1)
    game.set_state(0, saved)
    state = game.get_state(0)
    assert (state["rotation_index"], state["target_index"], state["distance"]) == (8, 23, 3)


@pytest.mark.parametrize("cubes, error", [
    ([[0, 0, 0], [0, 0, 0], [5, 5, 5]], r"hold \[0, 0, 0\] twice"),
    ([[0, 0, 0], [1, 0, 0], [5, 5, 5]], r"not one connected object: \[\[5, 5, 5\]\] share no face"),
    ([[0, 0, 0], [1, 1, 0], [2, 2, 0]], r"not one connected object: \[\[1, 1, 0\], \[2, 2, 0\]\]"),  # edges
])
def test_set_state_refuses_an_object_the_game_never_makes(cubes, error):
    # Every object is a connected polycube of distinct cubes; these were drawn as they came (a cube twice
    # as one, a cube apart floating in the air) and refused nowhere.
    game = fresh(1, seed=31)
    before = game.get_state(0)
    colors = PALETTE[:3].tolist()
    with pytest.raises(ValueError, match="state's cubes .* " + error):
        game.set_state(0, {**hand_made(before), "cubes": cubes, "colors": colors})
    assert game.get_state(0) == before
    game.set_state(0, {**hand_made(before), "cubes": [[0, 0, 0], [1, 0, 0], [1, 1, 0]], "colors": colors})


RED, BLUE, GREEN = PALETTE[0].tolist(), PALETTE[1].tolist(), PALETTE[2].tolist()
ELL, LINE = [[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 0, 0], [1, 0, 0], [2, 0, 0]]


@pytest.mark.parametrize("cubes, colors", [
    ([[k, 0, 0] for k in range(8)] + [[0, 1, 0]], [[k, k, k] for k in range(9)]),  # 9 cubes: past MAX_CUBES
    (ELL, [RED, BLUE]),
    (ELL, [RED, BLUE, GREEN, PALETTE[3].tolist()]),
])
def test_set_state_refuses_a_cube_count_past_the_limit_or_a_colour_count_off_it(cubes, colors):
    # Either reached the board's arrays only as NumPy's broadcast error, after its cube count was written.
    game = fresh(1, seed=31)
    before = game.get_state(0)
    counts = f"got {len(cubes)} cubes and {len(colors)} colours"
    with pytest.raises(ValueError, match=f"state needs 1..8 cubes with one colour each, {counts}"):
        game.set_state(0, {**before, "cubes": cubes, "colors": colors})
    assert game.get_state(0) == before


@pytest.mark.parametrize("cubes, colors, error", [
    (ELL, [RED, BLUE, BLUE], r"state's colors .* hold \[38, 110, 220\] twice: every cube has its own colour"),
    (ELL, [RED, RED, GREEN], r"hold \[220, 50, 47\] twice"),
    (LINE, [RED, BLUE, GREEN], r"state's object \(cubes \[\[0, 0, 0\], .*\]\) has a symmetry"),
    ([[0, 0, 0], [0, 0, 1]], [RED, BLUE], "has a symmetry"),
])
def test_set_state_refuses_repeated_colours_and_symmetric_objects(cubes, colors, error):
    # Both were taken, objects the game never makes (every cube its own colour, no symmetry): the L with
    # two blue arms looks the same after a half turn, so with the target that turn away the views matched
    # while the fewest-turns question answered 3 (and the rotation-angle question had two answers).
    game = fresh(1, seed=31)
    before = game.get_state(0)
    with pytest.raises(ValueError, match=error):
        game.set_state(0, {**hand_made(before), "cubes": cubes, "colors": colors})
    assert game.get_state(0) == before
    game.set_state(0, {**hand_made(before), "cubes": ELL, "colors": [RED, BLUE, GREEN]})


def test_where_a_shape_lies_does_not_change_its_views_and_cubes_past_2_62_are_refused():
    # The renderer centres the object on its float centroid: from ~1e12 out, render_state of a hand-made
    # state drew cubes misplaced (set_state loads it at the origin, so the board showed another picture),
    # at 2**60 it was a ZeroDivisionError, and past 2**63 set_state raised NumPy's bare OverflowError.
    game = fresh(1, seed=31)
    state = {**hand_made(game.get_state(0)), "cubes": ELL, "colors": [RED, BLUE, GREEN]}
    far = {**state, "cubes": [[x + 2**60, y - 10**12, z] for x, y, z in ELL]}
    assert np.array_equal(Rotation.render_state(far, 4), Rotation.render_state(state, 4))
    game.set_state(0, far)
    assert np.array_equal(game.render(0, 4), Rotation.render_state(far, 4))
    for cube in ([2**62, 0, 0], [0, -2**62, 0], [0, 0, 2**63]):
        cubes = [[0, 0, 0], cube, [0, 1, 0]]
        error = rf"state's cubes\[1\] {re.escape(str(cube))}: every coordinate must be below 2\*\*62 in size"
        with pytest.raises(ValueError, match=error):
            game.set_state(0, {**state, "cubes": cubes})
        with pytest.raises(ValueError, match=error):
            render_view({**state, "cubes": cubes}, 0, 16)
    assert game.get_state(0)["cubes"] == ELL


@pytest.mark.parametrize("change, error", [
    ({"cubes": None}, "state's cubes must be a list as get_state returns, got NoneType"),  # a bare TypeError
    ({"cubes": [[0.5, 0, 0], [1, 0, 0], [0, 1, 0]]}, r"state's cubes\[0\] must be a list of 3 whole numbers"
                                                      r" .*, got \[0.5, 0, 0\]"),  # taken as [0, 0, 0]
    ({"colors": [RED, BLUE, [220.5, 0, 0]]}, r"state's colors\[2\] must be a list of 3 whole numbers"),  # cut
    ({"colors": [RED, BLUE, [300, 0, 0]]}, r"state's colors .* must be RGB triples of 0..255"),
    ({"colors": [RED, BLUE, [-1, 0, 0]]}, r"state's colors .* must be RGB triples of 0..255"),
    ({"rotation": None}, "state's rotation must be a list as get_state returns, got NoneType"),  # a TypeError
    ({"target_rotation": [[1, 0, 0], [0, 1], [0, 0, 1]]}, r"state's target_rotation\[1\] must be a list"),
    ({"target_rotation": [[1.5, 0, 0], [0, 1, 0], [0, 0, 1]]}, r"state's target_rotation\[0\] must be"),
    # Whole numbers, but no cube rotation: the message did not say which matrix.
    ({"rotation": [[2, 0, 0], [0, 1, 0], [0, 0, 1]]},
     r"state's rotation \[\[2, 0, 0\], \[0, 1, 0\], \[0, 0, 1\]\] is not one of the 24 cube rotations"),
    ({"target_rotation": [[1, 0, 0], [0, 1, 0], [0, 0, -1]]},  # a reflection
     r"state's target_rotation \[\[1, 0, 0\], .*\] is not one of the 24 cube rotations"),
    ({"rotation": [[1, 0, 0], [0, 1, 0]]}, r"state's rotation \[\[1, 0, 0\], \[0, 1, 0\]\] is not one of"),
])
def test_set_state_names_a_value_of_the_wrong_type_or_shape(change, error):
    # Each was read through np.asarray(dtype=int): None was a bare TypeError, a ragged matrix NumPy's
    # "inhomogeneous shape" error, 300 an OverflowError, and fractions were cut to whole numbers, so a cube
    # at 0.5 or a rotation row [1.5, 0, 0] loaded as another state.
    game = fresh(1, seed=31)
    game.set_state(0, {**hand_made(game.get_state(0)), "cubes": ELL, "colors": [RED, BLUE, GREEN]})
    before = game.get_state(0)
    with pytest.raises(ValueError, match=error):
        game.set_state(0, {**before, **change})
    assert game.get_state(0) == before


@pytest.mark.parametrize("change, error", [
    ({"done": "false"}, "state's done must be true or false, got 'false'"),  # bool("false") is True
    ({"solved": "no"}, "state's solved must be true or false, got 'no'"),
    ({"solved": True, "done": True}, "state is solved but not at its target"),
    ({"step": 50}, "state's step must be between 0 and 49 with max_steps 50 in a state not done, got 50"),
    ({"step": 51, "done": True}, "between 0 and 50 with max_steps 50 in a state that is done, got 51"),
    ({"step": -1}, "state's step must be between 0 and 49"),
    ({"turns": 4}, "state's turns must be between 0 and 3, got 4"),
    # Unsolved, an episode ends only at its step limit: these loaded as boards over at step 0 or 49 of 50.
    ({"done": True}, r"state is done but neither solved nor at its step limit \(step 0 of max_steps 50\)"),
    ({"step": 49, "done": True}, r"state is done but neither solved nor at its step limit \(step 49 of"),
    # No episode ends before its first step: a done state at step 0 of 0 loaded, one not done was refused
    # for its step ("between 0 and -1").
    ({"max_steps": 0, "step": 0, "done": True}, "state's max_steps must be >= 1, got 0"),
    ({"max_steps": 0, "step": 0}, "state's max_steps must be >= 1, got 0"),
])
def test_set_state_refuses_episode_bookkeeping_no_game_makes(change, error):
    # All were taken through bool() and int(): "false" counted as done, a puzzle solved away from its
    # target, and a game still playing at (or past) its step limit played on past it.
    game = fresh(1, seed=31)
    before = game.get_state(0)
    with pytest.raises(ValueError, match=error):
        game.set_state(0, {**before, **change})
    assert game.get_state(0) == before
    game.set_state(0, {**before, "step": 50, "done": True})  # truncated at the limit
    at_target = {**hand_made(before), "rotation": before["target_rotation"],
                 "rotation_index": before["target_index"]}
    with pytest.raises(ValueError, match="state is solved but not done"):  # the solving turn ends it
        game.set_state(0, {**at_target, "solved": True, "done": False})
    game.set_state(0, {**at_target, "solved": True, "done": True, "step": before["turns"]})


# get_state's keys computed from the others. Seed 31's board: 1 quarter turn away, unsolved, cubes' colours
# in the palette.
@pytest.mark.parametrize("key, value, error", [
    ("distance", 3, "state's distance 3 is not the quarter turns from its rotation to its target_rotation, "
                    "1: give that, or leave it out"),
    ("score", 1.0, r"state's score 1.0 is not its solved as a number \(1.0 solved, else 0.0\), 0.0"),
    ("color_names", ["red"], r"state's color_names \['red'\] is not its colors' names, \["),
])
def test_set_state_refuses_a_derived_key_that_disagrees_with_the_keys_it_comes_from(key, value, error):
    # Taken silently and computed again: a state saying distance 3 or score 1.0 loaded as one 1 turn away,
    # unsolved, and came back from get_state as another state than the one given.
    game = fresh(1, seed=31)
    before = game.get_state(0)
    with pytest.raises(ValueError, match=error):
        game.set_state(0, {**before, key: value})
    assert game.get_state(0) == before
    game.set_state(0, {**before, key: tuple(before[key]) if key == "color_names" else before[key]})
    game.set_state(0, hand_made(before))
    assert game.get_state(0) == before  # left out (a hand-made state), they are computed


# Seed 31's board starts 1 quarter turn from its target. Each step changes that distance by exactly one.
@pytest.mark.parametrize("change, error", [
    ({"turns": 3}, "state is 1 quarter turn from its target after 0 steps of an episode that started 3 away"),
    ({"turns": 0}, "state is 1 quarter turn from"),  # no episode starts at its target
    ({"step": 1}, "after 1 step of an episode that started 1 away"),  # parity: 0 or 2 away after one
    ({"turns": 2, "step": 2}, "after 2 steps of an episode that started 2 away"),
    ({"solved": True, "done": True, "step": 0}, "state is 0 quarter turns from"),  # solved before any turn
    ({"turns": 0, "solved": True, "done": True, "step": 2}, "turns 0 is a state at its target at step 0"),
])
def test_set_state_refuses_a_start_distance_its_steps_cannot_reach(change, error):
    # turns (episode_info's start distance, which "optimal" compares the steps with) was taken whatever the
    # distance and step: a board 1 turn away at step 0 could say it started 3 away, and then an optimal solve
    # scored optimal 0.
    game = fresh(1, seed=31)
    before = game.get_state(0)
    assert (before["turns"], before["distance"], before["step"]) == (1, 1, 0)
    if change.get("solved"):
        change = {**change, "rotation": before["target_rotation"], "rotation_index": before["target_index"],
                  "distance": 0, "score": 1.0}
    with pytest.raises(ValueError, match=error):
        game.set_state(0, {**before, **change})
    assert game.get_state(0) == before
    game.set_state(0, {**before, "turns": 3, "step": 2})  # 3 away, then two turns closer: reachable


def test_a_hand_made_state_with_a_step_but_no_turns_takes_a_start_its_steps_reach():
    # Without turns, the start distance defaulted to the distance now, which an odd step count cannot
    # reach: such a state was refused, and before that refusal existed, loaded as one get_state then gave
    # back and set_state refused.
    game = fresh(1, seed=31)
    s = game.get_state(0)
    bare = {k: s[k] for k in ("cubes", "colors", "rotation", "target_rotation")}
    for step in range(5):
        game.set_state(0, {**bare, "step": step})
        loaded = game.get_state(0)
        assert loaded["step"] == step and loaded["distance"] == 1
        assert loaded["turns"] == (1 if step % 2 == 0 else 2)  # the nearest start distance it reaches
        game.set_state(0, json.loads(json.dumps(loaded)))
    solved = {**bare, "rotation": s["target_rotation"], "solved": True}
    assert [(game.set_state(0, {**solved, "step": k}), game.get_state(0)["turns"])[1] for k in range(4)] == \
        [0, 1, 2, 1]


def test_every_state_the_game_makes_round_trips():
    assert assert_round_trips(lambda: Rotation(8, view_size=16, max_cubes=8), 60) > 8


def test_registry_and_config():
    cfg = yaml.safe_load((Path(__file__).parents[2] / "configs" / "rotation.yaml").read_text())
    assert cfg["env"] == "rotation"
    game = envs.make_game("rotation", num_envs=2, **cfg["env_kwargs"])
    assert isinstance(game, Rotation) and game.observation_space.shape == (3, S, 2 * S)
    env = envs.make_env("rotation", max_turns=1)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (3, S, 2 * S)


def test_turns_stay_the_start_distance_while_the_object_turns():
    # get_state's "turns" is the episode's start distance (episode_info's), not the distance left now.
    game = fresh(1, seed=14, min_turns=3, max_turns=3)
    first = optimal_solution(game.get_state(0))[0]
    step1(game, first)
    s = game.get_state(0)
    assert s["distance"] == 2 and s["turns"] == 3


def test_a_hand_made_state_takes_its_turns_and_done_from_the_board():
    # VLM tasks build states without the episode bookkeeping: turns defaults to the distance, and a state
    # marked solved (at its target) is done without saying so.
    game = fresh(1, seed=31)
    s = game.get_state(0)
    bare = {k: s[k] for k in ("cubes", "colors", "rotation", "target_rotation")}
    game.set_state(0, bare)
    assert game.get_state(0)["turns"] == s["distance"] > 0
    assert game.episode_info(0)["turns"] == s["distance"]
    game.set_state(0, {**bare, "rotation": s["target_rotation"], "solved": True})
    after = game.get_state(0)
    assert after["solved"] and after["done"] and after["score"] == 1.0


def test_a_state_at_its_target_is_solved():
    # The turn onto the target solves the puzzle and ends the episode, and no episode starts there. A bare
    # state at its target loaded as a board still playing (its two views equal, each turn -0.01 and away
    # from the match), and so did one that said solved False (or done True, solved False: score 0).
    game = fresh(1, seed=31)
    s = game.get_state(0)
    bare = {k: s[k] for k in ("cubes", "colors", "target_rotation")}
    game.set_state(0, {**bare, "rotation": s["target_rotation"]})
    after = game.get_state(0)
    assert after["solved"] and after["done"] and game.episode_info(0)["score"] == 1.0
    before = game.get_state(0)
    for flags in ({"solved": False}, {"solved": False, "done": True}, {"solved": False, "done": False}):
        with pytest.raises(ValueError, match="state is at its target but not solved"):
            game.set_state(0, {**before, **flags})
    assert game.get_state(0) == before


def test_resetting_one_board_keeps_another_boards_state_limit():
    game = fresh(2, seed=0)
    game.set_state(1, {**fresh(1, seed=13, max_steps=5).get_state(0), "step": 2})
    game.reset(np.array([0]), np.array([7], dtype=np.uint64))
    assert game.get_state(0)["max_steps"] == 50 and game.get_state(1)["max_steps"] == 5


def test_a_colour_off_the_palette_is_named_by_its_rgb():
    game = fresh(1, seed=31)
    colors = [RED, BLUE, [0, 2, 255]]  # any RGB, both ends of 0..255 included
    game.set_state(0, {**hand_made(game.get_state(0)), "cubes": ELL, "colors": colors})
    assert game.get_state(0)["color_names"] == ["red", "blue", "rgb(0, 2, 255)"]


def test_solving_on_the_last_allowed_step_terminates_without_truncation():
    game = fresh(1, seed=14, min_turns=1, max_turns=1, max_steps=5)
    s = game.get_state(0)
    game.set_state(0, {**s, "step": 4})
    assert step1(game, optimal_action(s)) == (1.0, True, False)
    assert game.episode_info(0)["solved"] == 1.0


def test_the_camera_is_fixed_and_assigning_it_is_refused():
    # game.camera (and set_attr("camera", ...)) was a plain attribute: a new one was reported by get_state and
    # drawn by render_state while the observations kept the old views, and the board's own earlier states
    # were then refused for their camera.
    game = fresh(1, seed=31)
    before = game.get_state(0)
    with pytest.raises(ValueError, match="camera is fixed"):
        game.camera = {**DEFAULT_CAMERA, "azimuth_deg": 120.0}
    game.camera["azimuth_deg"] = 120.0  # a copy: the game's camera stays
    assert game.camera == DEFAULT_CAMERA and game.get_state(0) == before
    vec = envs.make_vec("rotation", 2, num_workers=0, seed=0)
    with pytest.raises(ValueError, match="camera is fixed"):
        vec.set_attr("camera", {**DEFAULT_CAMERA, "azimuth_deg": 120.0})
    assert vec.get_attr("camera") == [DEFAULT_CAMERA] * 2
    vec.close()


@pytest.mark.parametrize("solver", [optimal_action, optimal_actions, optimal_solution])
def test_the_shortest_path_helpers_name_what_a_state_lacks(solver):
    # A bare KeyError ('rotation') or a TypeError for None, where set_state and render_state name the key.
    eye = np.eye(3, dtype=int).tolist()
    with pytest.raises(ValueError, match="not a rotation state: it lacks 'rotation', 'target_rotation'"):
        solver({})
    with pytest.raises(ValueError, match="not a rotation state: it lacks 'target_rotation'"):
        solver({"rotation": eye})
    with pytest.raises(ValueError, match="must be a dict as get_state returns, got NoneType"):
        solver(None)
    with pytest.raises(ValueError, match="state's target_rotation"):
        solver({"rotation": eye, "target_rotation": [[1, 0], [0, 1]]})


def test_max_steps_given_as_an_integral_float_is_kept_as_an_int():
    # Hand mutation pass: the min_turns check returning the value as given (not whole's int) passed, though
    # every other count setting keeps 5.0 or a NumPy integer as a plain int, as the config.yaml shows it.
    game = fresh(1, min_turns=2, max_steps=12.0)
    assert type(game.max_steps) is int and game.max_steps == 12
    vec = envs.make_vec("rotation", 2, num_workers=0, seed=0, min_turns=2, max_steps=10)
    vec.set_attr("max_steps", np.int64(5))
    assert [type(v) for v in vec.get_attr("max_steps")] == [int, int] and vec.get_attr("max_steps") == [5, 5]
    vec.close()
