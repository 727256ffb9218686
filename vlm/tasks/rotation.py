"""Rotation tasks (mental rotation of a coloured polycube): perception, state prediction, strategy
(ViGaL's rotation angle between two views, fewest quarter turns, next turn) and Vision-Zero image games.
Answers come from ``envs.rotation``: its rotation group (``ROTATIONS``, ``DISTANCE``), its shortest-path
moves (``optimal_actions``, ``optimal_solution``), a scratch game for simulated turns, and its renderer.

Which cubes an image shows is measured, not assumed: the object is rendered again with one flat
identifying colour per cube (``visible_cubes``), so a question about colours or cube counts is only
asked when every cube it relies on covers at least ``MIN_VISIBLE`` of the image.

Images: the state's picture (target view left, current view right, ``render_state``) or single views
(``render_view``) of ``VIEW`` pixels. Levels: ``plot_level`` from the cube count (3–4, 5–6, 7–8);
``qa_level`` from the turns to simulate (1, 2, 3), the turn distance (1–3), or for the rotation angle
how much is given (axis given with options, options only, free answer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.rotation import (
    ACTION_NAMES,
    BACKGROUND,
    DEFAULT_CAMERA,
    DISTANCE,
    GENERATORS,
    MAX_CUBES,
    PALETTE,
    ROTATIONS,
    Rotation,
    optimal_actions,
    optimal_solution,
    render_view,
    rotation_index,
)
from envs.rotation import COLOR_NAMES as _COLOR_NAMES
from vlm.prompts import (
    THINK_ANSWER,
    Edit,
    MakeEdit,
    choice_draft,
    integer_draft,
    letter,
    level,
    options_text,
    vision_zero_drafts,
    word_draft,
)
from vlm.record import TaskDraft
from vlm.tasks import play_moves, plural, scratch_game

GAME = "rotation"
MOVES: tuple[str, ...] = ACTION_NAMES
VIEW = 192  # pixels per single view
SCALE = VIEW // 8  # render_state draws 8·scale pixels per view
MIN_VISIBLE = 0.004  # a cube counts as visible when it covers this share of the view's pixels
AXES = ("X", "Y", "Z")
ANGLES = (90, 180, 270)

FRAME_TEXT = ("World axes: +x points down-left, +y points right and slightly down (both toward the viewer), "
              "+z points up. A turn X+ / X− is +90° / −90° about the x axis by the right-hand rule (X+ takes "
              "+y to +z); likewise Y+ takes +z to +x and Z+ takes +x to +y (counterclockwise seen from "
              "above).")

# Flat identifying colours, far apart in hue: shading scales a colour, so its direction names the cube.
_ID = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255],
                [255, 128, 0], [0, 128, 255]], dtype=np.float64)
_ID_DIR = _ID / np.linalg.norm(_ID, axis=1, keepdims=True)


def plot_level(state: dict[str, Any]) -> int:
    return level(len(state["cubes"]), (4, 6))


def context(state: dict[str, Any], pair: bool = True) -> str:
    what = ("The image shows the same object twice: the target view on the left and the current view on the "
            "right." if pair else "")
    return (f"A 3D object is built from {'' if pair else 'unit '}cubes glued face to face, each cube a "
            f"different colour. {what} {FRAME_TEXT}").replace("  ", " ")


def turn_matrix(axis: str, angle: int) -> np.ndarray:
    """The world rotation by ``angle`` degrees (90/180/270) about ``axis``: its quarter turn, repeated."""
    return np.linalg.matrix_power(GENERATORS[2 * AXES.index(axis)], angle // 90)


def visible_cubes(shape: dict[str, Any], rotation: int) -> np.ndarray:
    """Pixels each cube covers in the ``VIEW``-pixel view of ``shape`` at orientation index ``rotation``."""
    n = len(shape["cubes"])
    ids = {"cubes": shape["cubes"], "colors": _ID[:n].astype(np.uint8).tolist(),
           "camera": shape.get("camera", DEFAULT_CAMERA)}
    img = render_view(ids, rotation, VIEW).reshape(-1, 3)
    lit = np.any(img != np.array(BACKGROUND, dtype=np.uint8), axis=1)
    pix = img[lit].astype(np.float64)
    which = np.argmax((pix / np.linalg.norm(pix, axis=1, keepdims=True)) @ _ID_DIR[:n].T, axis=1)
    return np.bincount(which, minlength=n)


def _shown(shape: dict[str, Any], rotations: list[int]) -> np.ndarray:
    """Whether each cube is clearly visible in at least one of the views."""
    need = MIN_VISIBLE * VIEW * VIEW
    return np.any([visible_cubes(shape, r) >= need for r in rotations], axis=0)


def _scratch() -> Rotation:
    return scratch_game(GAME, lambda: Rotation(1, min_cubes=3, max_cubes=MAX_CUBES, view_size=16))


def simulate(state: dict[str, Any], moves: list[str]) -> list[dict[str, Any]]:
    """Play ``moves`` on the engine; the state after each (the game ends when the target is matched). The
    episode's step count starts again at 0, with no step limit: a state near its limit would otherwise be
    cut short by truncation, which the questions do not mention."""
    # Only the object and its two orientations: the episode's bookkeeping (turns, distance, ...) would not fit
    # a fresh start here, nor would keys left stale by a hand-made state (set_state refuses both).
    puzzle = {k: state[k] for k in ("cubes", "colors", "rotation", "target_rotation", "camera") if k in state}
    return play_moves(_scratch(), {**puzzle, "max_steps": 10**9}, moves)


def _pair(state: dict[str, Any]) -> np.ndarray:
    return Rotation.render_state(state, SCALE)


# ------------------------------------------------------------------------------------------ questions
def move_task(state: dict[str, Any]) -> TaskDraft:
    """Which quarter turn next? Any first turn of a shortest sequence to the target is right."""
    s, t = rotation_index(state["rotation"]), rotation_index(state["target_rotation"])
    d = int(DISTANCE[s, t])
    if d == 0:
        raise ValueError("the object already matches the target: there is no turn to make")
    best = [MOVES[a] for a in optimal_actions(state)]
    steps = [f"The current view is {plural(d, 'quarter turn')} from the target."]
    for m in MOVES:
        after = simulate(state, [m])[0]["rotation_index"]
        left = int(DISTANCE[after, t])
        steps.append(f"{m}: then {plural(left, 'turn')} {'remains' if left == 1 else 'remain'}.")
    steps.append(f"Turns that bring it one step closer: {', '.join(best)}.")
    return word_draft("strategy", "next_turn", plot_level(state), level(d, (1, 2)), [_pair(state)],
                      context(state),
                      "Which single quarter turn of the current (right) object brings it closest to the "
                      "target (left) view?", list(MOVES), best, steps, {"state": state},
                      f"Answer with one turn: {', '.join(MOVES)}.")


def _angle_task(state: dict[str, Any], rng: np.random.Generator) -> TaskDraft:
    r = rotation_index(state["rotation"])
    axis, angle = AXES[int(rng.integers(3))], ANGLES[int(rng.integers(3))]
    turned = rotation_index(turn_matrix(axis, angle) @ ROTATIONS[r])
    images = [render_view(state, r, VIEW), render_view(state, turned, VIEW)]
    qa = int(rng.integers(1, 4))
    steps = [f"The second view is the first turned by {angle}° about the {axis} axis (right-hand rule): that "
             f"is {plural(angle // 90, 'quarter turn')} {axis}+.",
             "The object has no symmetry, so every turn gives a different view: no other axis and angle "
             "matches."]
    extra = {"state": state, "axis": axis, "angle": angle, "from_index": r, "to_index": turned}
    spec: dict[str, Any] = {"rule": "rotation_angle", "axis": axis, "angle": angle, "axis_given": qa == 1,
                            "options": None, "answer": None}
    ctx = (context(state, pair=False) + " The two images show the object before and after one turn about "
           "a world axis.")
    if qa == 1:
        options = [f"{a}°" for a in ANGLES]
        stem = (f"The object was turned about the {axis} axis. By how many degrees (right-hand "
                f"rule)?\n\nOptions:\n{options_text(options)}")
        answer = letter(ANGLES.index(angle))
    elif qa == 2:
        options = [f"{a}° about {x}" for x in AXES for a in ANGLES]
        stem = ("About which axis and by how many degrees (right-hand rule) was it turned?\n\nOptions:\n"
                f"{options_text(options)}")
        answer = letter(options.index(f"{angle}° about {axis}"))
    else:
        options = None
        stem = ("About which axis and by how many degrees (right-hand rule, 90, 180 or 270) was it turned? "
                "Answer like \"90 about Z\".")
        answer = f"{angle} about {axis}"
    spec["options"], spec["answer"] = options, (answer if options else None)
    how = " Answer with the option's letter." if options else ""
    question = f"{ctx}\n\n{stem}\n\n{THINK_ANSWER}{how}"
    analysis = "\n".join([*steps, f"So the answer is {answer}" + (f": {options[ord(answer) - 65]}." if options
                                                                  else ".")])
    return TaskDraft("strategy", "rotation_angle", plot_level(state), qa, images, question, answer, analysis,
                     spec, options, extra)


def _distance_task(state: dict[str, Any], image: np.ndarray) -> TaskDraft:
    """How many turns to the target, for an unsolved state (``make_tasks`` asks it only then)."""
    s, t = rotation_index(state["rotation"]), rotation_index(state["target_rotation"])
    d = int(DISTANCE[s, t])
    steps = ["A shortest sequence from the current view to the target: "
             f"{', '.join(MOVES[a] for a in optimal_solution(state))}.",
             "No shorter sequence of quarter turns exists (breadth-first search over the 24 orientations): "
             f"{d}."]
    return integer_draft("strategy", "min_turns", plot_level(state), d, [image], context(state),
                         "What is the fewest number of quarter turns (X+, X−, Y+, Y−, Z+, Z−) that makes "
                         "the current (right) object look exactly like the target (left)?", d, steps,
                         {"state": state})


def _prediction_task(state: dict[str, Any], rng: np.random.Generator, image: np.ndarray) -> TaskDraft:
    k = int(rng.integers(1, 4))
    moves = [MOVES[int(rng.integers(6))] for _ in range(k)]
    played = simulate(state, moves)
    t = rotation_index(state["target_rotation"])
    steps = []
    for j, after in enumerate(played):
        left = int(DISTANCE[after["rotation_index"], t])
        end = "; it now matches the target and the game ends." if after["done"] else "."
        steps.append(f"After {moves[j]}: {plural(left, 'quarter turn')} from the target{end}")
    remaining = int(DISTANCE[played[-1]["rotation_index"], t])
    seq = ", ".join(moves)
    return integer_draft("state_prediction", "turns_left_after_moves", plot_level(state), k, [image],
                         context(state),
                         f"Apply these turns to the current (right) object, in order: {seq} (stop early if "
                         "it matches the target). How many more quarter turns are then needed, at least, to "
                         "match the target? (0 if it matches.)", remaining, steps,
                         {"state": state, "moves": moves})


def _perception_task(state: dict[str, Any], rng: np.random.Generator, image: np.ndarray) -> TaskDraft | None:
    views = [rotation_index(state["target_rotation"]), rotation_index(state["rotation"])]
    shown = _shown(state, views)
    names = list(state["color_names"])
    n = len(names)
    extra = {"state": state}
    if shown.all() and rng.random() < 0.5:
        return integer_draft("perception", "cube_count", plot_level(state), level(n, (4, 6)), [image],
                             context(state), "How many cubes is the object made of?", n,
                             ["Every cube is visible in at least one view; the colours are "
                              f"{', '.join(names)}.",
                              f"One cube per colour: {n} cubes."], extra, noun="cubes")
    present = [names[i] for i in range(n) if shown[i]]
    absent = [c for c in _COLOR_NAMES if c not in names]
    if len(present) < 3 or not absent:
        return None
    picks = [present[i] for i in rng.permutation(len(present))[:3]]
    missing = absent[int(rng.integers(len(absent)))]
    options = [*picks, missing]
    order = rng.permutation(4)
    options = [options[i] for i in order]
    return choice_draft("perception", "absent_colour", plot_level(state), 1, [image], context(state),
                        "Which of these colours does NOT appear on the object?", options,
                        options.index(missing),
                        [f"The object's cubes are {', '.join(names)}; {missing} is not among them."], extra)


EDIT_KINDS = {"recoloured": "One cube has a different colour", "swapped": "Two cubes swapped colours"}


def _make_edit(state: dict[str, Any], r: int) -> MakeEdit:
    names = list(state["color_names"])
    shown = np.flatnonzero(_shown(state, [r]))
    unused = [k for k, c in enumerate(_COLOR_NAMES) if c not in names]

    def make(rng: np.random.Generator) -> Edit | None:
        kinds = (["recoloured"] if len(shown) and unused else []) + (["swapped"] if len(shown) >= 2 else [])
        if not kinds:
            return None
        kind = kinds[int(rng.integers(len(kinds)))]
        colors = [list(c) for c in state["colors"]]
        new_names = list(names)
        if kind == "recoloured":
            i, k = int(rng.choice(shown)), unused[int(rng.integers(len(unused)))]
            colors[i], new_names[i] = PALETTE[k].tolist(), _COLOR_NAMES[k]
            steps = [f"The {names[i]} cube of the original is {_COLOR_NAMES[k]} in the edited picture; every "
                     "other cube and the orientation are unchanged."]
        else:
            i, j = (int(v) for v in rng.choice(shown, 2, replace=False))
            colors[i], colors[j] = colors[j], colors[i]
            new_names[i], new_names[j] = new_names[j], new_names[i]
            steps = [f"The {names[i]} and {names[j]} cubes trade colours in the edited picture; the shape "
                     "and orientation are unchanged."]
        edited = {**state, "colors": colors, "color_names": new_names}
        return Edit(kind, edited, None, steps)
    return make


def make_tasks(state: dict[str, Any], rng: np.random.Generator, source: dict[str, Any] | None = None
               ) -> list[TaskDraft]:
    """One draft per family for ``state`` (prediction and the turn questions only while it is unsolved)."""
    image = _pair(state)
    r = rotation_index(state["rotation"])
    solved = rotation_index(state["target_rotation"]) == r
    drafts: list[TaskDraft | None] = [_perception_task(state, rng, image)]
    if not solved:
        drafts.append(_prediction_task(state, rng, image))
    kind = int(rng.integers(3))
    if kind == 0 or solved:
        drafts.append(_angle_task(state, rng))
    elif kind == 1 or len(optimal_actions(state)) == len(MOVES):
        # Three turns from the target every turn brings it closer: a next-turn question that any answer
        # gets right carries no reward signal, so the state gets the turn-count question instead.
        drafts.append(_distance_task(state, image))
    else:
        drafts.append(move_task(state))
    single = render_view(state, r, VIEW)
    drafts.append(vision_zero_drafts(rng, single, lambda s: render_view(s, r, VIEW), _make_edit(state, r),
                                     EDIT_KINDS, context(state, pair=False), plot_level(state), ""))
    return [d for d in drafts if d is not None]
