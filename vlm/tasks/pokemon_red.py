"""Pokémon Red tasks, from the RAM facts in the state (``envs.gameboy.pokemon``: badges, map, player
tile, party, battle flag) with the screen image, plus a Vision-Zero game on the screen itself.

No emulator runs here: ``render_state`` draws the state's stored screen, so no ROM is needed to make
the tasks. There is no engine-computed best move in Pokémon Red, so ``move_task`` (the VLM player's
prompt) accepts every button and marks itself unscored (``extra["scored"]`` false); ``make_tasks``
makes perception questions (RAM facts, exact) and Vision-Zero questions (the edit is known by
construction) only. Frames come from a commercial ROM: they must not be redistributed.

Levels: ``plot_level`` from how varied the screen is (distinct 8×8 tiles: ≤40, ≤120, more);
``qa_level`` 1 for single facts, 2 for the cell of a difference, 2–3 for the spy game.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.gameboy.core import BUTTONS, screen_png
from envs.gameboy.pokemon import PokemonRed
from envs.gameboy.ram import LOST_BATTLE
from envs.gameboy.roms import pokemon_title
from vlm.prompts import Edit, MakeEdit, coordinate_draft, integer_draft, level, vision_zero_drafts, word_draft
from vlm.record import TaskDraft
from vlm.tasks import plural

GAME = "pokemon_red"
# The families make_tasks draws (no engine to simulate moves without the ROM): --mix is checked against it.
FAMILIES: tuple[str, ...] = ("perception", "vision_zero")
MOVES: tuple[str, ...] = BUTTONS
SCALE = 32  # render_state magnifies the 160×144 screen by scale // 8 = 4
CELL = 16  # screen pixels per map cell (one step of the player)
ROWS, COLS = 9, 10


def context(state: dict[str, Any]) -> str:
    """The prompt's first line, naming the game (a state from before ``title`` existed: by its ROM) and the
    console, unless the name says it: the test cartridge's and an unknown ROM's do, and "(Game Boy)" after
    them named it twice."""
    title = state.get("title") or pokemon_title(state.get("rom_sha1"))
    console = "" if "Game Boy" in title else " (Game Boy)"
    return (f"The image is a screenshot of {title}{console}. The questions are about the game's state "
            "at that moment, as its memory records it.")


WHERE = ("Cut the screenshot into a grid of 10 columns × 9 rows of equal squares (one square is one player "
         "step); give the square as (x, y), x the column from 0 at the left, y the row from 0 at the top.")


def screen(state: dict[str, Any]) -> np.ndarray:
    """The state's 144×160 RGB screen: the game's own (checked) decoding, unmagnified."""
    return PokemonRed.render_state(state, 1)


def render(state: dict[str, Any]) -> np.ndarray:
    return PokemonRed.render_state(state, SCALE)


def plot_level(state: dict[str, Any]) -> int:
    rgb = screen(state)
    tiles = rgb.reshape(18, 8, 20, 8, 3).transpose(0, 2, 1, 3, 4).reshape(360, -1)
    return level(len(np.unique(tiles, axis=0)), (40, 120))


def move_task(state: dict[str, Any]) -> TaskDraft:
    """The VLM player's prompt: which button to press. Every button is legal; none is scored."""
    steps = ["The game has no engine-computed best move here: any button is a legal answer.",
             "Up, down, left and right walk; a confirms or talks; b cancels; start opens the menu."]
    return word_draft("strategy", "next_button", plot_level(state), 1, [render(state)], context(state),
                      "You are playing. Which button do you press next to make progress in the game "
                      "(explore, win battles, earn badges)?", list(MOVES), list(MOVES), steps,
                      {"scored": False},
                      f"Answer with exactly one button: {', '.join(MOVES)}.")


def facts(state: dict[str, Any]) -> dict[str, Any]:
    keys = ("map", "x", "y", "badges", "event_flags", "party_count", "levels", "battle_type")
    return {k: state[k] for k in keys}


def _perception_task(state: dict[str, Any], rng: np.random.Generator, image: np.ndarray) -> TaskDraft:
    pl, extra, ctx = plot_level(state), {"facts": facts(state)}, context(state)
    kind = int(rng.integers(5))
    if kind == 0:
        lost = state["battle_type"] == LOST_BATTLE
        battle = state["battle_type"] != 0 and not lost
        why = ("a battle is on." if battle else "a lost battle, over: the player blacks out." if lost
               else "no battle.")
        return word_draft("perception", "in_battle", pl, 1, [image], ctx, "Is the player in a battle?",
                          ["yes", "no"], ["yes" if battle else "no"],
                          [f"The battle flag (wIsInBattle) is {state['battle_type']}: {why}"], extra,
                          "Answer yes or no.")
    if kind == 1:
        return integer_draft("perception", "badge_count", pl, 1, [image], ctx,
                             "How many gym badges has the player earned?", state["badges"],
                             [f"The badge byte (wObtainedBadges) has {plural(state['badges'], 'bit')} set."],
                             extra, noun="badges")
    if kind == 2:
        return integer_draft("perception", "party_size", pl, 1, [image], ctx,
                             "How many Pokémon are in the player's party?", state["party_count"],
                             [f"The party count (wPartyCount) is {state['party_count']}; levels "
                              f"{', '.join(map(str, state['levels'])) or 'none'}."], extra, noun="Pokémon")
    if kind == 3:
        return integer_draft("perception", "map_id", pl, 1, [image], ctx,
                             "What is the number of the map the player is on (the game's map id)?",
                             state["map"],
                             [f"The current map byte (wCurMap) is {state['map']}."], extra, count=False)
    return coordinate_draft("perception", "player_tile", pl, 1, [image], ctx,
                            "On which tile of the current map does the player stand? Give (x, y) in map "
                            "steps.",
                            [state["x"], state["y"]],
                            [f"The player's map coordinates (wXCoord, wYCoord) are x = {state['x']}, y = "
                             f"{state['y']}."], extra)


EDIT_KINDS = {"mirrored": "One square is mirrored left to right", "flipped": "One square is flipped upside "
                                                                             "down"}


def _make_edit(state: dict[str, Any]) -> MakeEdit:
    rgb = screen(state)

    def make(rng: np.random.Generator) -> Edit | None:
        kind = ("mirrored", "flipped")[int(rng.integers(2))]
        for k in rng.permutation(ROWS * COLS):
            r, c = divmod(int(k), COLS)
            block = rgb[r * CELL:(r + 1) * CELL, c * CELL:(c + 1) * CELL]
            mirrored, flipped = block[:, ::-1], block[::-1, :]
            new = mirrored if kind == "mirrored" else flipped
            # A square that looks the same turned half round mirrors into its flip: both options right.
            if not np.array_equal(new, block) and not np.array_equal(mirrored, flipped):
                edited_rgb = rgb.copy()
                edited_rgb[r * CELL:(r + 1) * CELL, c * CELL:(c + 1) * CELL] = new
                edited = {"screen_png": screen_png(edited_rgb)}
                way = "left to right" if kind == "mirrored" else "upside down"
                return Edit(kind, edited, [c, r], [f"The square at column {c}, row {r} is turned {way} in "
                                                   "the edited screenshot; every other pixel is the same."])
        return None
    return make


def make_tasks(state: dict[str, Any], rng: np.random.Generator, source: dict[str, Any] | None = None
               ) -> list[TaskDraft]:
    """A perception question (RAM facts) and a Vision-Zero question for ``state``."""
    image = render(state)
    drafts = [_perception_task(state, rng, image),
              vision_zero_drafts(rng, image, render, _make_edit(state), EDIT_KINDS, context(state),
                                 plot_level(state),
                                 WHERE, extra={"facts": facts(state)})]
    return [d for d in drafts if d is not None]
