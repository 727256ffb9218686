"""Game Boy games on the project's test cartridge: stepping, rewards and milestones from RAM, the
visited mask, state round trips, determinism, swarm archiving, the generic wrapper game, the scripts."""

from __future__ import annotations

import base64
import contextlib
import copy
import errno
import gc
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pyboy")

import gymnasium as gym
from gymnasium.utils.env_checker import check_env

import envs
from envs.env import GameEnv
from envs.gameboy import core
from envs.gameboy.cartridge import layout
from envs.gameboy.core import WRAM, load_emulator, new_pyboy, save_emulator, unpack_bytes, work_ram
from envs.gameboy.generic import SCORE_CHANGE_MAX, GameBoy
from envs.gameboy.pokemon import REWARD_WEIGHTS, PokemonRed
from envs.gameboy.roms import TEST_CARTRIDGE, RomError, check_rom, not_a_rom
from envs.gameboy.scripting import MAX_COMMAND_FRAMES, make_state, parse_inputs, play
from envs.gameboy.wrapped import GAMES
from envs.rng import seeds_from
from tests.conftest import cartridge_boot_state, deny_reading, load_script, path_method_fails

REPO = Path(__file__).resolve().parents[2]


def python_c(code: str, hung: str) -> subprocess.CompletedProcess:
    """``python -c code`` from the repo, failing the test with ``hung`` if it runs past a minute: a hang in
    PyBoy's C loop holds a process that no signal in the test process could stop."""
    try:
        return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(hung)


UP, DOWN, LEFT, RIGHT, A, B, START = range(7)
ACTION = {"up": UP, "down": DOWN, "left": LEFT, "right": RIGHT}
WORLD = layout.parse_rooms()
W = REWARD_WEIGHTS


def make(num_envs: int = 1, **kwargs) -> PokemonRed:
    """Pokémon Red on the test cartridge, every board reset (seeds 0, 1, ...): a game plays from its reset."""
    return started(PokemonRed(num_envs=num_envs, rom=TEST_CARTRIDGE, **kwargs))


def started(game: Any) -> Any:
    """``game`` with every board reset, seeds 0, 1, ... (as the constructor readies them)."""
    game.reset(np.arange(game.num_envs), seeds_from(0, game.num_envs))
    return game


def act(game, a: int, board: int = 0) -> tuple[float, bool, bool]:
    actions = np.full(game.num_envs, A, dtype=np.int64)  # other boards press A (nothing happens)
    actions[board] = a
    r, te, tr = game.step(actions)
    return float(r[board]), bool(te[board]), bool(tr[board])


def where(game: PokemonRed, i: int = 0) -> tuple[int, int, int]:
    f = game.read_facts(i)
    return f["map"], f["x"], f["y"]


def walk(game: PokemonRed, goal: tuple[int, int, int], board: int = 0) -> list[float]:
    moves = layout.plan_path(where(game, board), goal)
    assert moves is not None
    rewards = [act(game, ACTION[m], board)[0] for m in moves]
    assert where(game, board) == goal
    return rewards


@pytest.fixture(scope="module")
def game() -> PokemonRed:
    g = make(2, frame_stack=2)
    yield g
    g.close()


def fresh(game: PokemonRed) -> None:
    game.reset(np.arange(game.num_envs), np.arange(game.num_envs, dtype=np.uint64))


def test_step_reset_and_observation(game: PokemonRed) -> None:
    fresh(game)
    assert game.observation_space.shape == (3, 72, 80)
    start = WORLD["start"]
    assert where(game, 0) == where(game, 1) == start
    obs = game.new_obs_buffer()
    game.observe(obs)
    assert obs.dtype == np.uint8 and game.observation_space.contains(obs[0])
    assert np.array_equal(obs[:, 0], obs[:, 1])  # a reset fills the stack with the first frame
    act(game, RIGHT)
    assert where(game, 0) == (start[0], start[1] + 1, start[2])
    assert where(game, 1) == start  # A does nothing here
    game.observe(obs)
    assert not np.array_equal(obs[0, 0], obs[0, 1])  # the stack holds the previous and the new frame
    assert np.array_equal(obs[0, 0], obs[1, 1])
    while where(game)[2] > 1:
        act(game, UP)
    r, _, _ = act(game, UP)  # into the wall: no move, no reward
    assert where(game)[2] == 1 and r == 0.0
    game.reset(np.array([0]), np.array([7], dtype=np.uint64))
    assert where(game, 0) == start and game.episode_info(0)["tiles_visited"] == 1
    # the benchmark's overhead figure: the time steps spend inside PyBoy, a part of their wall time
    game.emulator_seconds = 0.0
    t0 = time.perf_counter()
    for _ in range(3):
        act(game, LEFT)
    assert 0 < game.emulator_seconds < time.perf_counter() - t0


def test_item_sets_event_flag_and_rewards(game: PokemonRed) -> None:
    fresh(game)
    item = WORLD["by_char"]["a"]
    rewards = walk(game, item)
    assert game.memory(0)[0xD747] & 1  # item 'a' is event flag 0
    assert rewards[-1] == pytest.approx(W["explore"] + W["event"])
    assert all(r == pytest.approx(W["explore"]) for r in rewards[:-1])
    info = game.episode_info(0)
    assert info["event_flags"] == 1 and info["r_event"] == pytest.approx(W["event"])
    assert info["tiles_visited"] == len(rewards) + 1
    assert game.milestones()["event_flags"] >= 1
    # leaving and re-entering the tile: decayed visit count, no second event reward
    act(game, LEFT)
    r, _, _ = act(game, RIGHT)
    assert 0 < r < W["explore"]


def test_doors_maps_badges(game: PokemonRed) -> None:
    fresh(game)
    rewards = walk(game, WORLD["by_char"]["A"])  # through room 1 into room 2's goal
    info = game.episode_info(0)
    assert info["maps_visited"] == 3 and info["badges"] == 1
    assert game.memory(0)[0xD356] == 0b01
    assert info["r_new_map"] == pytest.approx(2 * W["new_map"])
    assert rewards[-1] == pytest.approx(W["explore"] + W["badge"] + W["event"])
    assert info["score"] == pytest.approx(100 * 1 + 1 + 0.1 * 3 + 0.001 * info["tiles_visited"])
    m = game.milestones()
    assert m["badges"] == 1 and m["maps_visited"] == 3
    heat = game.visit_heatmap()
    assert heat.dtype == np.uint8 and heat.ndim == 2 and heat.max() == 255
    assert np.count_nonzero(heat) >= info["tiles_visited"]


def test_battle_levels_and_heal(game: PokemonRed) -> None:
    fresh(game)
    grass = (1, 2, 3)  # the field's tall grass
    assert WORLD["cells"][1][3][2] == layout.GRASS
    walk(game, (1, 2, 4))
    r, _, _ = act(game, UP)  # into the grass: a battle starts
    assert game.read_facts(0)["battle_type"] == 1
    assert where(game) == grass
    total = r
    for _ in range(3):  # the battle lasts 40 frames: input is ignored meanwhile
        total += act(game, B)[0]
    facts = game.read_facts(0)
    assert facts["battle_type"] == 0 and facts["levels"] == [layout.START_LEVEL + 1]
    assert facts["hp"] == [layout.START_HP - layout.BATTLE_HP_COST]
    assert total == pytest.approx(W["explore"] + W["level"])  # no still penalty during the battle
    walk(game, (0, 2, 1))
    r, _, _ = act(game, LEFT)  # onto the heal cell (1, 1) of room 0
    assert game.read_facts(0)["hp"] == [layout.START_HP]
    heal = W["heal"] * layout.BATTLE_HP_COST / layout.START_HP
    assert r == pytest.approx(W["explore"] + heal)
    assert game.episode_info(0)["heals"] == 1


def test_no_heal_reward_after_a_blackout(game: PokemonRed) -> None:
    fresh(game)
    game.memory(0)[0xD16D] = 0  # wPartyMon1HP low byte: the party has fainted
    act(game, DOWN)
    assert game.read_facts(0)["hp"] == [0]
    rewards = walk(game, (0, 1, 1))  # the heal cell
    assert game.read_facts(0)["hp"] == [layout.START_HP]
    assert rewards[-1] == pytest.approx(W["explore"])
    info = game.episode_info(0)
    assert info["blackouts"] == 1 and info["heals"] == 0


def test_the_byte_past_the_event_flags_is_no_event_flag(game: PokemonRed) -> None:
    """wEventFlags is 320 bytes (2,560 flags); the byte after it, Pokémon Red's wGrassRate, non-zero on
    maps with wild encounters, is not counted (one more byte in the RAM table passed the suite)."""
    fresh(game)
    mem = game.memory(0)
    try:
        mem[0xD747 + 320] = 0xFF
        assert game.read_facts(0)["event_flags"] == 0
        mem[0xD747 + 319] = 0x80  # the last flag
        assert game.read_facts(0)["event_flags"] == 1
    finally:
        mem[0xD747 + 319] = mem[0xD747 + 320] = 0


def test_hp_is_a_big_endian_word_and_the_byte_past_the_badges_is_no_badge(game: PokemonRed) -> None:
    # The cartridge's HP (20) fits the low byte: a high byte read as anything but x256 passed the suite.
    # wObtainedBadges is one byte; the byte after it counts no badge.
    fresh(game)
    mem = game.memory(0)
    after_badges = mem[0xD357]
    try:
        mem[0xD16C], mem[0xD16D] = 0x01, 0x2C  # wPartyMon1HP: 300
        mem[0xD18D], mem[0xD18E] = 0x02, 0x58  # wPartyMon1MaxHP: 600
        mem[0xD357] = 0xFF
        facts = game.read_facts(0)
        assert (facts["hp"], facts["max_hp"], facts["badges"]) == ([300], [600], 0)
    finally:
        mem[0xD16C], mem[0xD16D], mem[0xD18D], mem[0xD18E] = 0, layout.START_HP, 0, layout.START_HP
        mem[0xD357] = after_badges


def test_ram_reward_terms_pay_what_the_docstring_says(game: PokemonRed) -> None:
    """Each term from RAM written directly: several event flags or badges in one step pay each; a flag
    lost and set again pays nothing (only past the episode's best); levels count fully up to level_cap
    and level_damping per level past it; no heal reward in a battle or in a step that changes a level;
    no still penalty in a battle; a revisited tile pays weight / (1 + its decayed visit count)."""
    fresh(game)
    mem = game.memory(0)
    flags = 0xD747 + 10  # event flags 80..87: no item or goal of the cartridge sets them
    mem[flags] = 0b111
    assert act(game, A)[0] == pytest.approx(3 * W["event"])
    mem[flags] = 0b011
    assert act(game, A)[0] == 0.0
    mem[flags] = 0b111
    assert act(game, A)[0] == 0.0
    mem[0xD356] = 0b110  # two badges at once
    assert act(game, A)[0] == pytest.approx(2 * W["badge"])
    mem[0xD16D] = layout.START_HP - 10  # wPartyMon1HP low byte: hurt, which pays nothing
    assert act(game, A)[0] == 0.0
    mem[0xD18C] = game.level_cap + 2  # wPartyMon1Level, and the HP back, in one step: only the levels pay
    mem[0xD16D] = layout.START_HP
    gained = game.level_cap - layout.START_LEVEL + 2 * game.level_damping
    assert act(game, A)[0] == pytest.approx(W["level"] * gained)
    assert act(game, RIGHT)[0] == pytest.approx(W["explore"])  # moving resets the still count
    mem[0xD057] = 1  # wIsInBattle: hurt and healed in a battle, standing past still_grace: nothing
    mem[0xD16D] = 5
    for _ in range(game.still_grace + 3):
        assert act(game, A)[0] == 0.0
        mem[0xD16D] = layout.START_HP
    mem[0xD057] = 0
    r = act(game, LEFT)[0]  # back onto the start tile, visited once at step 0
    assert r == pytest.approx(W["explore"] / (1 + game.visit_decay ** game.episode_info(0)["steps"]))
    mem[0xD747 + 319] = 0x80  # the last of the 2,560 event flags
    assert act(game, A)[0] == pytest.approx(W["event"])
    # a second Pokémon (party structs are 44 bytes apart): level 7, HP 10 of 20; its levels pay, then
    # its heal pays the HP fraction regained
    mem[0xD163], mem[0xD18C + 44], mem[0xD16D + 44], mem[0xD18E + 44] = 2, 7, 10, 20
    assert act(game, A)[0] == pytest.approx(W["level"] * 7)
    facts = game.read_facts(0)
    assert (facts["levels"], facts["hp"], facts["max_hp"]) == ([game.level_cap + 2, 7], [20, 10], [20, 20])
    mem[0xD16D + 44] = 20
    assert act(game, A)[0] == pytest.approx(W["heal"] * 0.5)
    info = game.episode_info(0)
    assert info["heals"] == 1 and info["badges"] == 2 and info["event_flags"] == 4
    assert info["max_level"] == game.level_cap + 2
    # a state restored elsewhere keeps the episode's bests: the flag lost and set again pays nothing
    game.set_state(1, game.get_state(0))
    mem1 = game.memory(1)
    mem1[0xD747 + 319] = 0
    assert act(game, A, board=1)[0] == 0.0
    mem1[0xD747 + 319] = 0x80
    assert act(game, A, board=1)[0] == 0.0
    mem[0xD163] = 0xFF  # wPartyCount as garbage (as before the game sets it): at most 6 Pokémon are read
    assert game.read_facts(0)["party_count"] == 6
    fresh(game)
    assert game.milestones()["max_level"] >= game.level_cap + 2  # the process's best, not the last board's


def test_a_heal_of_one_hp_pays_and_a_slot_with_no_max_hp_counts_as_no_fraction(game: PokemonRed) -> None:
    # Before the game sets the party (booting with --state none), wPartyCount may count slots whose
    # max HP is 0: the heal term reads them as fraction 0, not a ZeroDivisionError mid-training. The
    # heal term pays whatever fraction is regained, one HP of 20 too.
    fresh(game)
    mem = game.memory(0)
    mem[0xD163] = 2  # a second slot, all zeros: level 0, HP 0 of 0
    assert act(game, A)[0] == 0.0
    mem[0xD16D] = layout.START_HP - 1  # hurt, then healed outside battle: only the first slot pays
    assert act(game, A)[0] == 0.0
    mem[0xD16D] = layout.START_HP
    assert act(game, A)[0] == pytest.approx(W["heal"] / layout.START_HP)
    assert game.episode_info(0)["heals"] == 1


def test_the_heal_term_pays_every_fraction_regained_whatever_the_max_hp(game: PokemonRed) -> None:
    # The heal term reads max HP too, so a step that changes only max HP is looked at; a fraction far
    # below 1e-3 (one HP of 2,000) pays; a slot of max HP 1 counts its fraction like any other.
    fresh(game)
    mem = game.memory(0)
    mem[0xD18D], mem[0xD18E] = 0x07, 0xD0  # wPartyMon1MaxHP = 2,000 (big-endian): the fraction drops
    assert act(game, A)[0] == 0.0
    mem[0xD16D] = layout.START_HP + 1  # one HP more
    assert act(game, A)[0] == pytest.approx(W["heal"] / 2000)
    mem[0xD18D], mem[0xD18E] = 0, layout.START_HP + 1  # max HP alone back down: the party is full again
    assert act(game, A)[0] == pytest.approx(W["heal"] * (1 - (layout.START_HP + 1) / 2000))
    mem[0xD163], mem[0xD18C + 44], mem[0xD18E + 44] = 2, 1, 1  # a level-1 second slot, HP 0 of 1
    act(game, A)  # its level pays
    mem[0xD16D + 44] = 1
    assert act(game, A)[0] == pytest.approx(W["heal"])
    assert game.episode_info(0)["heals"] == 3


def test_a_badge_lost_and_got_again_pays_nothing(game: PokemonRed) -> None:
    fresh(game)
    mem = game.memory(0)
    mem[0xD356] = 0b11
    assert act(game, A)[0] == pytest.approx(2 * W["badge"])
    mem[0xD356] = 0b01  # a badge lost (RAM written) costs nothing and lowers no best
    assert act(game, A)[0] == 0.0
    mem[0xD356] = 0b11
    assert act(game, A)[0] == 0.0
    assert game.episode_info(0)["r_badge"] == pytest.approx(2 * W["badge"])


def test_an_event_or_badge_count_that_drops_then_passes_its_best_pays_only_past_the_best(
        game: PokemonRed) -> None:
    # Paid from the episode's best, not from the last step's count: 3 flags, 2 after one is cleared,
    # then 4 pays one flag (and badges alike), not the two the last step's count is short of.
    fresh(game)
    mem = game.memory(0)
    flags = 0xD747 + 10  # event flags 80..87: no item or goal of the cartridge sets them
    for addr, weight in ((flags, W["event"]), (0xD356, W["badge"])):
        mem[addr] = 0b0111
        assert act(game, A)[0] == pytest.approx(3 * weight)
        mem[addr] = 0b0011
        assert act(game, A)[0] == 0.0
        mem[addr] = 0b1111
        assert act(game, A)[0] == pytest.approx(weight)
    info = game.episode_info(0)
    assert (info["r_event"], info["r_badge"]) == pytest.approx((4 * W["event"], 4 * W["badge"]))


def test_a_tile_visit_count_decays_from_its_last_visit(game: PokemonRed) -> None:
    # The count of a tile decays by visit_decay per step since it was last stepped on, not since its
    # first visit: the start tile (step 0), left at step 1, is back at steps 2 and 4.
    fresh(game)
    d = game.visit_decay
    act(game, RIGHT)
    assert act(game, LEFT)[0] == pytest.approx(W["explore"] / (1 + d ** 2))
    act(game, RIGHT)
    assert act(game, LEFT)[0] == pytest.approx(W["explore"] / (1 + (1 + d ** 2) * d ** 2))


def test_a_state_set_on_a_board_keeps_the_swarm_restart_it_came_from(game: PokemonRed) -> None:
    # swarm_source (the archived file an episode restarted from) is part of the state: a state set on
    # another board, or replayed by the export, names the same start.
    fresh(game)
    state = dict(game.get_state(0), swarm_source="best_p1_7.state")
    game.set_state(1, state)
    assert game.get_state(1)["swarm_source"] == "best_p1_7.state"


def test_entering_a_new_map_is_a_milestone_at_once(tmp_path: Path) -> None:
    # The start's figures count in milestones() from the first reset, and a new map alone (no flag, badge
    # or level with it) counts and is archived at once, as the module docstring says: (badges,
    # event_flags, maps_visited) passes the best. The state's summary says what episode_info says, and
    # the heatmap holds every tile stepped on, the start's too.
    g = make(1, archive_dir=tmp_path / "archive")
    try:
        assert g.archive is not None
        assert g.milestones() == {"badges": 0.0, "event_flags": 0.0, "max_level": float(layout.START_LEVEL),
                                  "tiles_visited": 1.0, "maps_visited": 1.0}
        walk(g, (1, 5, 9))  # through the door of room 0 into room 1: nothing but the map is new
        assert g.read_facts(0)["event_flags"] == 0 and g.milestones()["maps_visited"] == 2
        assert [(e["badges"], e["event_flags"], e["maps"]) for e in g.archive.entries()] == [(0, 0, 2)]
        info, state = g.episode_info(0), g.get_state(0)
        assert (info["tiles_visited"], info["maps_visited"]) == (6, 2)
        assert g.milestones()["tiles_visited"] == 6  # the last step reached a new tile, nothing more
        for key in ("score", "tiles_visited", "maps_visited", "max_level"):
            assert state[key] == info[key], key
        assert np.count_nonzero(g.visit_heatmap()) == 6
    finally:
        g.close()


def test_visit_heatmap_packs_map_panels_in_rows_at_most_max_width(game: PokemonRed,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from collections import Counter

    # panels 6x6 (map 0), 4x3 (map 1), 8x2 (map 2): each alone in a row of 10 pixels, 1-pixel gaps
    monkeypatch.setattr(game, "_heat", Counter({(0, 5, 5): 1, (1, 3, 2): 4, (2, 7, 1): 2}))
    heat = game.visit_heatmap(max_width=10)
    assert heat.shape == (6 + 1 + 3 + 1 + 2, 8)
    assert heat[7 + 2, 3] == 255 and heat[5, 5] > 0 and heat[11 + 1, 7] > 0
    assert np.count_nonzero(heat) == 3
    assert game.visit_heatmap(max_width=512).shape == (6, 6 + 1 + 4 + 1 + 8)
    assert game.visit_heatmap(max_width=11).shape == (6 + 1 + 2, 6 + 1 + 4)  # a row filled exactly


def test_the_visit_heatmap_counts_every_step_onto_a_tile() -> None:
    # A step's visit uncounted, the map showed only the tiles boards were reset on.
    g = make(1)
    try:
        start = where(g)
        act(g, RIGHT)
        _, x, y = where(g)
        assert (x, y) != start[1:]
        act(g, LEFT)
        heat = g.visit_heatmap()  # one panel, one pixel a tile: the start tile twice, the other once
        assert np.count_nonzero(heat) == 2 and heat[start[2], start[1]] == 255 and 0 < heat[y, x] < 255
    finally:
        g.close()


def test_the_constructors_readying_reset_is_no_visit_and_no_milestone() -> None:
    # The constructor resets every board only to ready it (the user's reset starts it): that reset's start
    # tiles went into the heatmap, so a game never reset showed a visit, and after the first reset each
    # board's start tile was counted twice; milestones() gave the start's figures before any board began
    # (both are now refused until then: test_api's test_a_game_stepped_or_read_before_any_reset_says_so).
    g = PokemonRed(num_envs=2, rom=TEST_CARTRIDGE)
    try:
        assert not g._heat and set(g._best.values()) == {0.0}
        started(g)
        assert dict(g._heat) == {WORLD["start"]: 2}  # one visit a board (log scale hides it in the image)
        assert g.milestones()["tiles_visited"] == 1.0
    finally:
        g.close()


def test_a_milestones_index_row_holds_the_boards_figures(tmp_path: Path) -> None:
    # The archive's own test gives add its values; this one checks what the game gives it.
    g = make(1, archive_dir=tmp_path)
    try:
        walk(g, WORLD["by_char"]["a"])
        (row,) = g.archive.entries()
        info = g.episode_info(0)
        assert (row["badges"], row["event_flags"], row["maps"]) == (0, 1, 1)
        assert (row["tiles"], row["max_level"], row["step"], row["score"]) == (
            info["tiles_visited"], layout.START_LEVEL, info["steps"], pytest.approx(info["score"]))
    finally:
        g.close()


def test_standing_still_penalty_and_weights_off() -> None:
    g = make(1, still_grace=2, reward={"explore": 0.0, "event": 0.0})
    try:
        assert [act(g, START)[0] for _ in range(4)] == pytest.approx([0, 0, W["still"], W["still"]])
        rewards = walk(g, WORLD["by_char"]["a"])
        assert rewards == [0.0] * len(rewards)  # explore and event weights 0: the item pays nothing
        assert g.episode_info(0)["event_flags"] == 1
        with pytest.raises(ValueError, match="unknown reward terms"):
            make(1, reward={"treasure": 1.0})
    finally:
        g.close()


def reference_cells(tracker: dict) -> np.ndarray:
    """The 9x10 visited cells around the player, straight from the definition."""
    m, x, y = tracker["pos"]
    visited = {(vm, vx, vy) for vm, vx, vy, _, _ in tracker["visits"]}
    cells = np.zeros((9, 10), np.uint8)
    for r in range(9):
        for c in range(10):
            cells[r, c] = 255 * ((m, x + c - 4, y + r - 4) in visited)
    return cells


def test_visited_mask(game: PokemonRed) -> None:
    fresh(game)
    obs = game.new_obs_buffer()
    act(game, RIGHT)
    act(game, RIGHT)
    act(game, DOWN)
    game.observe(obs)
    mask = obs[0, -1]
    cells = mask[::8, ::8]  # 72x80 = the 9x10 cell grid magnified 8 times
    assert np.array_equal(mask, np.repeat(np.repeat(cells, 8, 0), 8, 1))
    expected = np.zeros((9, 10), np.uint8)
    expected[4, 4] = 255  # the player (now one row below the walk)
    expected[3, 2:5] = 255  # the start and the two steps right
    assert np.array_equal(cells, expected)
    # The compiled mask against a plain reference drawn from the tracker's visit list, through
    # walks, walls, a reset and a state loaded from elsewhere.
    rng = np.random.default_rng(0)
    for t in range(60):
        if t == 30:
            fresh(game)
        elif t == 45:
            game.set_state(0, game.get_state(1))
        else:
            act(game, (UP, DOWN, LEFT, RIGHT)[int(rng.integers(4))], board=t % 2)
        game.observe(obs)
        for i in range(2):
            cells = reference_cells(game.get_state(i)["tracker"])
            assert np.array_equal(obs[i, -1], np.repeat(np.repeat(cells, 8, 0), 8, 1)), (t, i)
    no_mask = make(1, visited_mask=False)
    assert no_mask.observation_space.shape == (1, 72, 80)
    no_mask.close()


def test_the_visited_mask_shows_tiles_on_the_maps_first_and_last_rows_and_columns(game: PokemonRed) -> None:
    # x and y are bytes: a tile at 0 or 255 is as much a tile as any, and shows where visited (the
    # cells past the map's edge show none).
    fresh(game)
    obs = game.new_obs_buffer()
    mem = game.memory(0)
    # each tile put on, with the cells that must show visited tiles: it and the tiles put on before it
    walk_on = {(1, 0): [(4, 4)], (0, 0): [(4, 4), (4, 5)], (0, 1): [(4, 4), (3, 4), (3, 5)],
               (254, 255): [(4, 4)], (255, 255): [(4, 4), (4, 3)], (255, 254): [(4, 4), (5, 4), (5, 3)]}
    for (x, y), lit in walk_on.items():
        mem[0xD362], mem[0xD361] = x, y  # wXCoord, wYCoord: the player put on the tile
        act(game, A)
        assert where(game)[1:] == (x, y)
        game.observe(obs)
        cells = reference_cells(game.get_state(0)["tracker"])
        assert all(cells[rc] == 255 for rc in lit), (x, y)
        assert np.array_equal(obs[0, -1], np.repeat(np.repeat(cells, 8, 0), 8, 1)), (x, y)


def test_state_round_trip(game: PokemonRed) -> None:
    fresh(game)
    walk(game, WORLD["by_char"]["a"])
    state = game.get_state(0)
    text = json.dumps(state)
    assert state["event_flags"] == 1 and state["x"] == WORLD["by_char"]["a"][1]
    other = make(1, frame_stack=2)
    try:
        other.set_state(0, json.loads(text))
        assert json.dumps(other.get_state(0)) == text
        o1, o2 = game.new_obs_buffer(), other.new_obs_buffer()
        for a in (DOWN, DOWN, LEFT, A):
            r1, r2 = act(game, a), act(other, a)
            assert r1 == r2
            game.observe(o1)
            other.observe(o2)
            assert np.array_equal(o1[0], o2[0])
        assert other.get_state(0)["emulator"] == game.get_state(0)["emulator"]
        img = PokemonRed.render_state(state, scale=16)
        assert img.shape == (288, 320, 3) and img.dtype == np.uint8
        assert PokemonRed.render_state(state, scale=8).shape == (144, 160, 3)
        for scale in (8, 16, 24):  # the live render draws exactly what the state records
            assert np.array_equal(game.render(0, scale), PokemonRed.render_state(game.get_state(0), scale))
        bad = dict(state, rom_sha1="0" * 40)
        with pytest.raises(ValueError, match=f"^state was made with ROM {'0' * 40}, this game runs "
                                             f"{other.rom_sha1}$"):
            other.set_state(0, bad)
    finally:
        other.close()


def test_a_state_given_out_or_taken_in_shares_no_facts_with_the_board(game: PokemonRed) -> None:
    # get_state handed out the board's own tracker facts, and set_state kept the caller's lists: a
    # caller editing a state (or building another from it) changed the board's figures.
    fresh(game)
    state = game.get_state(0)
    before = game.episode_info(0)
    state["tracker"]["facts"]["badges"] = 8
    state["tracker"]["facts"]["levels"].append(99)
    assert game.episode_info(0) == before
    given = game.get_state(1)
    game.set_state(1, given)
    given["tracker"]["facts"]["levels"].append(99)
    assert game.episode_info(1)["max_level"] == before["max_level"]


def test_determinism_and_batched_equals_single() -> None:
    rng = np.random.default_rng(1)
    actions = rng.integers(0, 7, (12, 2))
    runs = []
    for _ in range(2):
        g = make(2)
        g.reset(np.arange(2), np.array([5, 6], dtype=np.uint64))
        seq = []
        for a in actions:
            g.step(a)
            seq.append([json.dumps(g.get_state(i)) for i in range(2)])
        runs.append(seq)
        g.close()
    assert runs[0] == runs[1]
    # board 1 of the batch (seed 6) equals a single env reset with seed 6
    env = GameEnv(make(1))
    env.reset(seed=6)
    for a in actions[:, 1]:
        env.step(int(a))
    assert json.dumps(env.get_state()) == runs[0][-1][1]
    env.game.close()


@pytest.mark.filterwarnings("error::UserWarning")  # check_env reports what it skips or finds as warnings
def test_check_env_and_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Registered, for its spec: on a bare GameEnv check_env skips its render-mode and close checks.
    check_env(gym.make("depthfirst/PokemonRed-v0", rom=TEST_CARTRIDGE, max_steps=50,
                       render_mode="rgb_array").unwrapped)
    line = ("envs.gameboy.pokemon:PokemonRed", "depthfirst/PokemonRed-v0")
    monkeypatch.setitem(envs.GAMES, "pokemon_red", line)
    g = envs.make_game("pokemon_red", num_envs=1, rom=TEST_CARTRIDGE)
    assert isinstance(g, PokemonRed) and not g.cheap
    g.close()


def test_truncation_and_ended_board_stays() -> None:
    g = make(1, max_steps=3)
    try:
        assert [act(g, RIGHT)[2] for _ in range(3)] == [False, False, True]
        before = g.get_state(0)
        assert act(g, RIGHT) == (0.0, False, False)
        assert g.get_state(0) == before
    finally:
        g.close()


def test_a_step_that_ends_the_game_on_its_last_allowed_step_is_terminated_not_truncated() -> None:
    # Gymnasium's contract, as the other games keep it: an episode the game ended is not also cut.
    g = started(GameBoy(num_envs=1, game="depthfirst_test", max_steps=1))
    try:
        g.memory(0)[0xD356] = 0b11  # both badges: the game is won on this step, which is also the last
        assert act(g, LEFT) == (20.0, True, False)
    finally:
        g.close()


def test_swarm_archive_and_restore(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    g = make(1, archive_dir=folder)
    try:
        assert g.archive is not None and g.archive.entries() == []
        walk(g, WORLD["by_char"]["a"])  # first event flag: a new milestone
        entries = g.archive.entries()
        assert [(e["badges"], e["event_flags"], e["maps"]) for e in entries] == [(0, 1, 1)]
        assert (folder / entries[0]["file"]).exists() and (folder / "index.sqlite").exists()
        act(g, LEFT)  # no progress: nothing new archived
        assert len(g.archive.entries()) == 1
    finally:
        g.close()
    s = make(2, archive_dir=folder, swarm=True, swarm_prob=1.0)
    try:
        item = WORLD["by_char"]["a"]
        for i in range(2):  # both boards began at the archived milestone
            assert where(s, i) == item and s.read_facts(i)["event_flags"] == 1
            assert s.get_state(i)["swarm_source"] == entries[0]["file"]
        r, _, _ = act(s, LEFT)
        assert r == pytest.approx(W["explore"])  # flags already set at the start pay nothing
    finally:
        s.close()
    with pytest.raises(ValueError, match="archive_dir"):
        make(1, swarm=True)


def test_swarm_prob_is_the_share_of_resets_from_the_archive_and_each_picks_one_of_the_files(
        tmp_path: Path) -> None:
    """Every test gave swarm_prob 1.0, and every milestone one file: restarts on each reset whatever
    swarm_prob, or always from a milestone's first (or last) file, passed. A reset restarts from the
    archive when its seed's first draw is below swarm_prob, from a file drawn among the milestone's."""
    from envs.gameboy.archive import StateArchive

    folder = tmp_path / "archive"
    g = make(1, archive_dir=folder)
    try:
        walk(g, WORLD["by_char"]["a"])  # archives milestone (0, 1, 1)
        (first,) = [folder / e["file"] for e in g.archive.entries()]
        second = StateArchive(folder, g.rom_sha1).add(first.read_bytes(), g.name, (0, 1, 1), 1, 5, 0, 0.0)
    finally:
        g.close()
    s = make(1, archive_dir=folder, swarm=True, swarm_prob=0.5)
    try:
        seeds = range(12)
        sources = []
        for seed in seeds:
            s.reset(np.zeros(1, np.int64), np.array([seed], np.uint64))
            sources.append(s.get_state(0)["swarm_source"])
        drawn = [np.random.default_rng(seed).random() < 0.5 for seed in seeds]
        assert [source is not None for source in sources] == drawn and 0 < sum(drawn) < len(drawn)
        assert {source for source in sources if source is not None} == {first.name, second.name}
        s.swarm_prob = 0.0  # what set_attr does: from the next reset, no restart from the archive
        for seed in (2, 3):  # seeds that restarted from the archive at 0.5
            s.reset(np.zeros(1, np.int64), np.array([seed], np.uint64))
            assert s.get_state(0)["swarm_source"] is None and where(s) == WORLD["start"]
    finally:
        s.close()


def test_a_state_of_another_frame_stack_is_refused_before_loading(game: PokemonRed) -> None:
    fresh(game)
    other = make(1, frame_stack=3)
    try:
        before = other.get_state(0)["emulator"]
        state = game.get_state(0)
        for held in (state, {k: v for k, v in state.items() if k != "frame_shape"}):  # old: bytes alone
            with pytest.raises(ValueError, match="another frame_stack or obs_size"):
                other.set_state(0, held)
        assert other.get_state(0)["emulator"] == before  # the board is left as it was
    finally:
        other.close()


def test_a_state_of_other_frames_of_the_same_byte_count_is_refused() -> None:
    # One 72x80 frame and four 36x40 ones are both 5,760 bytes: the byte count alone let such a state
    # load, its one frame read as four scrambled ones.
    one, four = make(1), make(1, frame_stack=4, obs_size=(36, 40))
    try:
        state = one.get_state(0)
        before = four.get_state(0)["emulator"]
        with pytest.raises(ValueError, match=r"5760 bytes of frames as 1 of 72x80, this game stacks 4 of "
                                             r"36x40 .*another frame_stack or obs_size"):
            four.set_state(0, state)
        assert four.get_state(0)["emulator"] == before  # the board is left as it was
        del state["frame_shape"]  # a state saved before it was kept: its byte count is all there is
        one.set_state(0, state)
        with pytest.raises(ValueError, match="frame_shape must be a list of 3 whole numbers"):
            one.set_state(0, dict(state, frame_shape=[1, 72]))
    finally:
        one.close()
        four.close()


def test_set_state_refuses_a_dict_of_no_state_of_the_game(game: PokemonRed) -> None:
    # A KeyError for the first missing key; a state without its tracker failed only after its emulator
    # state had been loaded, leaving the board half set.
    from envs.gameboy.core import unpack_bytes

    fresh(game)
    with pytest.raises(ValueError, match=r"not a pokemon_red state: it lacks 'rom_sha1', 'emulator'"):
        game.set_state(0, {})
    state = game.get_state(1)
    act(game, RIGHT)
    before = unpack_bytes(game.get_state(0)["emulator"])
    with pytest.raises(ValueError, match=r"not a pokemon_red state: it lacks 'tracker'$"):
        game.set_state(0, {k: v for k, v in state.items() if k != "tracker"})
    assert unpack_bytes(game.get_state(0)["emulator"]) == before  # the board is left as it was
    partial = {**state, "tracker": {k: v for k, v in state["tracker"].items() if k != "visits"}}
    with pytest.raises(ValueError, match=r"not a pokemon_red state's tracker: it lacks 'visits'$"):
        game.set_state(0, partial)
    assert unpack_bytes(game.get_state(0)["emulator"]) == before
    generic = GameBoy(num_envs=1, game="depthfirst_test", rom=TEST_CARTRIDGE)
    try:
        with pytest.raises(ValueError, match=r"not a gameboy state \(it is a pokemon_red state\): it lacks "
                                             r"'last'$"):
            generic.set_state(0, state)
    finally:
        generic.close()


_DROP = object()  # the key is left out


@pytest.mark.parametrize("key, bad, error", [
    ("emulator", 5, r"state's emulator must be text \(zlib \+ base64\) as get_state returns, got int"),
    ("frames", ["x"], r"state's frames must be text .*, got list"),
    ("emulator", "eJzz", r"state's emulator is damaged \(not zlib \+ base64"),  # cut short
    ("step", "3", r"state's step must be a whole number >= 0, got '3'"),
    ("done", "false", r"state's done must be true or false, got 'false'"),  # bool("false") is True
    ("episode_return", None, r"state's episode_return must be a finite number, got None"),
    ("tracker.pos", [1], r"state's tracker pos must be a list of 3 whole numbers"),  # after the emulator
    ("tracker.visits", [[1, 2]], r"state's tracker visits\[0\] must be \[map, x, y, count, last step\]"),
    ("tracker.facts", {}, r"not a pokemon_red state's tracker facts: it lacks 'map'"),
    ("tracker.terms", 5, r"a pokemon_red state's tracker terms must be a dict"),
    ("tracker.still", None, r"state's tracker still must be a whole number >= 0, got None"),
    # Taken, and its r_foo then named in episode_info: episode_infos of boards ended together raised a
    # KeyError where the first had it and another did not.
    # Taken: the step onto that tile then divided its explore weight by 1 + count = 0 (ZeroDivisionError).
    ("tracker.visits", [[0, 3, 3, -1.0, 0]], r"state's tracker visits\[0\] count must be >= 0, got -1.0"),
    ("tracker.terms.foo", 1.0, r"state's tracker terms has 'foo', which is no reward term; known terms: "
                               r"explore, "),
    # Each passed with its check mutated away (a bad base64 string was binascii's error naming no key; the
    # others were taken, or failed once the emulator was loaded).
    ("frames", "abc", r"state's frames is damaged \(not zlib \+ base64"),  # base64's padding
    ("tracker.visits", [[0, 3, 3, 1.0, 0, 9]], r"visits\[0\] must be \[map, x, y, count, last step\]"),
    ("tracker.visits", [[0, 256, 3, 1.0, 0]], r"visits\[0\] x must be between 0 and 255, got 256"),
    ("tracker.pos", [0, 4, 3], r"state's tracker pos \[0, 4, 3\] is not one of its visits"),
    ("tracker.maps", [256], r"state's tracker maps must be between 0 and 255, got 256"),
    ("tracker.facts.levels", [], r"state's tracker facts levels must hold party_count \(1\) numbers"),
    ("tracker.facts.hp", _DROP, r"not a pokemon_red state's tracker facts: it lacks 'hp'"),
    ("tracker.terms.still", _DROP, r"not a pokemon_red state's tracker terms: it lacks 'still'"),
    ("swarm_source", 5, r"state's swarm_source must be a file name or null, got 5"),
    # Taken: a step onto that tile decayed its count by visit_decay ** (step - last), a negative power that
    # grew it (paying less), and past ~1.4 million steps ahead raised OverflowError on that step.
    # Taken: the board reported max_level 9 for an emulator at level 5 (and event flags over an emulator
    # holding none, which with an archive it saved as that milestone, for swarm restarts to prefer).
    ("tracker.facts.levels", [9], r"state's tracker facts are not its emulator's: levels \[9\] "
                                  r"\(the emulator's RAM holds \[5\]\)$"),
    ("tracker.visits", [[0, 3, 3, 1.0, 10**7]], r"state's tracker visits\[0\] last step must be between 0 "
                                                 r"and 0 \(the state's step\), got 10000000"),
])
def test_set_state_refuses_a_value_of_the_wrong_type_naming_its_key(game: PokemonRed, key: str, bad: Any,
                                                                    error: str) -> None:
    """Each was a bare TypeError, KeyError or zlib error naming no key, and a bad tracker value came after
    the emulator was loaded, leaving the board half set."""
    from envs.gameboy.core import unpack_bytes

    fresh(game)
    state = copy.deepcopy(game.get_state(1))
    assert state["tracker"]["pos"] == [0, 3, 3] and state["tracker"]["facts"]["party_count"] == 1  # as named
    act(game, RIGHT)
    before = unpack_bytes(game.get_state(0)["emulator"])
    *path, leaf = key.split(".")
    where = state
    for k in path:
        where = where[k]
    if bad is _DROP:
        del where[leaf]
    else:
        where[leaf] = bad
    with pytest.raises(ValueError, match=error):
        game.set_state(0, state)
    assert unpack_bytes(game.get_state(0)["emulator"]) == before  # the board is left as it was


@pytest.mark.parametrize("key, bad, error", [
    # Taken: the next step, standing still, saw the player "move" from (0, 9, 9) to (0, 3, 3), paid explore
    # and reset the still count.
    ("pos", [0, 9, 9], r"state's tracker pos \[0, 9, 9\] is not the player's tile in its facts \[0, 3, 3\]"),
    # Taken: maps_visited (and the score) counted 0 or 4 maps for a board that has been on one.
    ("maps", [], r"state's tracker maps \[\] must be the maps of its visits \[0\]"),
    ("maps", [0, 1, 2, 3], r"state's tracker maps \[0, 1, 2, 3\] must be the maps of its visits \[0\]"),
])
def test_set_state_refuses_tracker_fields_that_contradict_each_other(game: PokemonRed, key: str, bad: Any,
                                                                      error: str) -> None:
    """The game keeps pos at its facts' tile and maps as its visits' maps; a hand-made state that did not
    loaded and then paid or counted as no board ever does."""
    fresh(game)
    state = copy.deepcopy(game.get_state(1))
    state["tracker"]["visits"].append([0, 9, 9, 1.0, 0])
    state["tracker"][key] = bad
    with pytest.raises(ValueError, match=error):
        game.set_state(0, state)


@pytest.mark.parametrize("board", [0, 1])
def test_set_state_names_every_tracker_fact_its_emulator_disagrees_with(game: PokemonRed, board: int) -> None:
    # Each fact is compared, the last (battle_type) too, and each one wrong is named, not just the first.
    # The refused state's board is loaded back and no other board is touched (board 1 too: a load back
    # into board 0 left board 1 holding the refused emulator and board 0 board 1's).
    from envs.gameboy.core import unpack_bytes

    fresh(game)
    act(game, RIGHT, board=1)  # the boards' emulators differ, so a load into the wrong one shows
    state = copy.deepcopy(game.get_state(1))
    before = [unpack_bytes(game.get_state(i)["emulator"]) for i in range(2)]
    state["tracker"]["facts"].update(badges=1, levels=[9], hp=[7], max_hp=[9], battle_type=1)
    state["tracker"]["best_badges"] = 1
    ram = r" \(the emulator's RAM holds "
    with pytest.raises(ValueError, match=rf"not its emulator's: badges 1{ram}0\), levels \[9\]{ram}\[5\]\), "
                                         rf"hp \[7\]{ram}\[20\]\), max_hp \[9\]{ram}\[20\]\), "
                                         rf"battle_type 1{ram}0\)$"):
        game.set_state(board, state)
    assert [unpack_bytes(game.get_state(i)["emulator"]) for i in range(2)] == before  # left as they were


@pytest.mark.parametrize("key, error", [
    ("best_events", r"state's tracker best_events 0 is below its facts' event_flags 1"),
    ("best_badges", r"state's tracker best_badges 0 is below its facts' badges 1"),
])
def test_set_state_refuses_a_best_below_the_current_figure(game: PokemonRed, key: str, error: str) -> None:
    # Taken: the next flag (or badge) paid for every one the board already held, as new.
    fresh(game)
    for _ in range(3):
        act(game, RIGHT)  # onto item a: one event flag
    state = copy.deepcopy(game.get_state(0))
    assert state["tracker"]["best_events"] == state["event_flags"] == 1
    state["tracker"]["facts"]["badges"] = state["tracker"]["best_badges"] = 1  # as if a goal was reached
    game.memory(0)[0xD356] = 1
    state["emulator"] = game.get_state(0)["emulator"]
    state["tracker"][key] = 0
    with pytest.raises(ValueError, match=error):
        game.set_state(1, state)


def test_set_state_takes_a_tile_visit_count_of_zero(game: PokemonRed) -> None:
    # Only a negative count is refused (a step onto the tile divides by 1 + count); 0 is a tile never seen.
    fresh(game)
    state = copy.deepcopy(game.get_state(1))
    state["tracker"]["visits"][0][3] = 0.0
    game.set_state(0, state)
    assert game.get_state(0)["tracker"]["visits"][0][3] == 0.0


def test_a_gameboy_states_last_figures_are_checked_naming_the_key() -> None:
    g = started(GameBoy(num_envs=1, game="depthfirst_test", rom=TEST_CARTRIDGE))
    try:
        state = g.get_state(0)
        with pytest.raises(ValueError, match=r"a gameboy state's last must be a dict .*, got int"):
            g.set_state(0, {**state, "last": 5})
        with pytest.raises(ValueError, match=r"state's last score must be a finite number, got 'x'"):
            g.set_state(0, {**state, "last": {**state["last"], "score": "x"}})
        # A step compares the lives with the last figures' (it was a KeyError at the next step).
        last = {k: v for k, v in state["last"].items() if k != "lives"}
        with pytest.raises(ValueError, match=r"not a gameboy state's last: it lacks 'lives'"):
            g.set_state(0, {**state, "last": last})
        g.set_state(0, state)
        assert g.get_state(0) == state
    finally:
        g.close()


def test_set_state_refuses_a_negative_best_level(game: PokemonRed) -> None:
    # A level-up pays level x (level value - best_level): a best_level of -1e300 passed finite() and the
    # next level-up paid a reward of inf. A real one is a level value, never below 0.
    fresh(game)
    state = copy.deepcopy(game.get_state(1))
    for bad in (-1e300, -0.5):
        state["tracker"]["best_level"] = bad
        with pytest.raises(ValueError, match=r"state's tracker best_level must be >= 0"):
            game.set_state(0, state)
    state["tracker"]["best_level"] = 0.0
    game.set_state(0, state)
    assert game.get_state(0)["tracker"]["best_level"] == 0.0


def test_a_gameboy_states_last_score_and_progress_are_bounded() -> None:
    # A step pays score_weight x (score - last score): a last score of 1e300 passed finite() and the next
    # step's reward was -inf (likewise a best_progress of -1e300 with a progress weight).
    g = started(GameBoy(num_envs=1, game="depthfirst_test", rom=TEST_CARTRIDGE))
    try:
        state = g.get_state(0)
        for key, value in (("score", 1e300), ("score", -1e300), ("progress", -1.0),
                           ("best_progress", -1e300), ("best_progress", 1e9)):
            with pytest.raises(ValueError, match=rf"state's last {key} must be between"):
                g.set_state(0, {**state, "last": {**state["last"], key: value}})
        assert g.get_state(0) == state
        g.set_state(0, {**state, "last": {**state["last"], "score": float(SCORE_CHANGE_MAX)}})
        assert np.isfinite(g.step(np.array([0]))[0]).all()
    finally:
        g.close()


def test_set_state_refuses_an_emulator_state_of_another_format() -> None:
    """set_state loaded the state's emulator bytes unchecked: a damaged state-format byte loaded, and
    the next step spun forever in PyBoy's frame loop. It is refused before the emulator is touched."""
    from envs.gameboy.core import pack_bytes, unpack_bytes

    g = make(1)
    try:
        state = g.get_state(0)
        data = unpack_bytes(state["emulator"])
        damaged = {**state, "emulator": pack_bytes(bytes([9]) + data[1:])}
        with pytest.raises(ValueError, match=r"emulator cannot be loaded: it is no state of this PyBoy "
                                             r"\(state format 9"):
            g.set_state(0, damaged)
        assert unpack_bytes(g.get_state(0)["emulator"]) == data  # the board is left as it was
        with pytest.raises(ValueError, match=r"cannot be loaded: it is damaged or not a PyBoy state"):
            g.set_state(0, {**state, "emulator": pack_bytes(data[:100])})
        # A load PyBoy gives up half-way through is undone: the board ran on half loaded.
        act(g, LEFT)
        now = unpack_bytes(g.get_state(0)["emulator"])
        assert now != data
        half = {**state, "emulator": pack_bytes(data[:len(data) // 2])}
        with pytest.raises(ValueError, match=r"emulator cannot be loaded: it is damaged or not a PyBoy"):
            g.set_state(0, half)
        assert unpack_bytes(g.get_state(0)["emulator"]) == now
        g.set_state(0, state)
        act(g, LEFT)
    finally:
        g.close()


def test_set_state_refuses_an_emulator_state_with_bytes_added_or_cut_inside() -> None:
    """48 zero bytes inside the emulator state shift every field PyBoy reads after them, and bytes past
    its end are never read: PyBoy loaded both without complaint, as a state of other values. A state PyBoy
    does not read to its last byte is refused, and the board is left as it was."""
    from envs.gameboy.core import pack_bytes, unpack_bytes

    g = started(GameBoy(num_envs=1, game="depthfirst_test"))
    try:
        state = g.get_state(0)
        data = unpack_bytes(state["emulator"])
        k = len(data) * 4 // 5
        for bad in (data[:k] + bytes(48) + data[k:], data + bytes(3)):
            with pytest.raises(ValueError, match=rf"emulator cannot be loaded: .*PyBoy read {len(data)} of "
                                                 rf"its {len(bad)} bytes"):
                g.set_state(0, {**state, "emulator": pack_bytes(bad)})
            assert unpack_bytes(g.get_state(0)["emulator"]) == data
        g.set_state(0, state)
        g.step(np.array([0]))
    finally:
        g.close()


def test_a_loaded_state_counts_at_once(tmp_path: Path) -> None:
    """A state loaded with set_state updates the milestones and is archived past the best milestone,
    before any step (steps only re-check them when a figure changes)."""
    src = make(1)
    try:
        walk(src, WORLD["by_char"]["a"])  # one event flag
        state = src.get_state(0)
    finally:
        src.close()
    dst = make(1, archive_dir=tmp_path / "archive")
    try:
        assert dst.milestones()["event_flags"] == 0
        dst.set_state(0, state)
        assert dst.milestones()["event_flags"] == 1
        assert [(e["badges"], e["event_flags"]) for e in dst.archive.entries()] == [(0, 1)]
    finally:
        dst.close()


def test_work_ram_view_reads_the_emulator_live() -> None:
    """The zero-copy work-RAM view holds PyBoy's bytes through frames, writes and loaded states, and
    each emulator gets its own (same start, so only a write tells them apart)."""
    pbs = [new_pyboy(TEST_CARTRIDGE.read_bytes()) for _ in range(3)]
    try:
        for pb in pbs:
            pb.tick(60, False)
        pb = pbs[0]
        saved = save_emulator(pb)
        views = work_ram(pbs)
        assert all(isinstance(v, memoryview) for v in views)  # the fast path works on the PyBoy CI installs
        for button in ("right", "down", "a"):
            pb.button_press(button)
            pb.tick(24, False)
            pb.button_release(button)
        for k, other in enumerate(pbs):
            other.memory[0xD747] = 0xA0 + k
        assert [v[0xD747 - WRAM] for v in views] == [0xA0, 0xA1, 0xA2]
        assert all(bytes(v) == bytes(p.memory[WRAM:WRAM + 0x2000]) for v, p in zip(views, pbs, strict=True))
        load_emulator(pb, saved)
        assert bytes(views[0]) == bytes(pb.memory[WRAM:WRAM + 0x2000]) and views[0][0xD747 - WRAM] != 0xA0
        load_emulator(pbs[1], save_emulator(pbs[2]))  # another emulator's state
        assert bytes(views[1]) == bytes(views[2])
    finally:
        for pb in pbs:
            pb.stop(save=False)


def test_work_ram_scans_the_old_heap_only_for_emulators_not_found_in_the_young(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Emulators just made are found among the youngest objects, without scanning the oldest generation
    (a training process's torch heap, ~0.1 s); emulators the collector has moved there are found too."""
    rom = TEST_CARTRIDGE.read_bytes()
    scanned: list[int | None] = []
    get_objects = gc.get_objects
    monkeypatch.setattr(core.gc, "get_objects", lambda generation=None: scanned.append(generation)
                        or get_objects(generation))
    old = [new_pyboy(rom)]
    gc.collect()  # every survivor, this emulator too, now sits in the oldest generation
    gc.disable()  # no automatic collection moves the new emulators' objects before they are found
    try:
        young = [new_pyboy(rom) for _ in range(2)]
        views = work_ram(young)
        young_scans, scanned[:] = list(scanned), []
        # One young and one old emulator in one call: the young one's view, found first, is kept.
        mixed = work_ram([young[0], old[0]])
        mixed_scans, scanned[:] = list(scanned), []
    finally:
        gc.enable()
    try:
        assert all(isinstance(v, memoryview) for v in views)
        assert 2 not in young_scans and None not in young_scans
        assert all(isinstance(v, memoryview) for v in mixed) and mixed_scans == [0, 1, 2]
        assert bytes(mixed[0]) == bytes(young[0].memory[WRAM:WRAM + 0x2000])
        (view,) = work_ram(old)
        assert isinstance(view, memoryview) and scanned == [0, 1, 2]
        assert bytes(view) == bytes(old[0].memory[WRAM:WRAM + 0x2000])
    finally:
        for pb in young + old:
            pb.stop(save=False)


def test_reading_ram_through_the_api_plays_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the view cannot be found, the API fallback gives the same facts, rewards and screens."""
    def play() -> list:
        g = make(1)
        try:
            fresh(g)
            route = layout.plan_path(where(g), WORLD["by_char"]["A"])  # an item, two doors, a badge
            trace = []
            for m in route:
                trace.append((act(g, ACTION[m]), g.read_facts(0), g.get_state(0)["frames"]))
            return trace
        finally:
            g.close()

    fast = play()
    monkeypatch.setattr(core, "_work_ram_view", lambda pb, views: None)
    with pytest.warns(RuntimeWarning, match="1 of 1 emulators read work RAM through PyBoy's API"):
        slow = play()
    assert fast[-1][1]["badges"] == 1 and fast[-1][1]["event_flags"] >= 1
    assert slow == fast


def test_vec_env_with_emulators_per_worker_survives_a_killed_worker() -> None:
    """Two workers of two emulators each; one killed mid-run is restarted, its boards start over."""
    v = envs.make_vec("pokemon_red", 4, num_workers=2, seed=0, rom=TEST_CARTRIDGE, max_steps=64)
    try:
        first = v.reset()
        rng = np.random.default_rng(0)
        for _ in range(5):
            v.step_async(rng.integers(0, 7, 4))
            v.step_wait()
        os.kill(v.worker_pids()[1], signal.SIGKILL)
        t = time.perf_counter()
        v.step_async(np.full(4, A))
        obs, _, dones, infos = v.step_wait()
        assert time.perf_counter() - t < 60 and v.worker_restarts == 1
        assert dones[2:].all() and not dones[:2].any()
        assert all(infos[k]["worker_restarted"] and "episode" not in infos[k] for k in (2, 3))
        assert obs.shape == first.shape and obs[2:, :-1].any()  # the new worker's boards show a screen
        for _ in range(3):  # the pool keeps working
            v.step_async(rng.integers(0, 7, 4))
            obs, _, _, _ = v.step_wait()
        assert v.env_method("milestones", indices=[2])[0]["tiles_visited"] >= 1
    finally:
        v.close()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the fork server's /proc maps")
def test_workers_inherit_pyboy_from_the_fork_server() -> None:
    """The fork server imports PyBoy (0.4-0.7 s) for a Game Boy env, once; each worker imported it at its
    start. In a fresh process: the first env with workers decides what a process's fork server preloads."""
    code = ("from multiprocessing import forkserver\n"
            "import envs\n"
            "from envs.gameboy.roms import TEST_CARTRIDGE\n"
            "v = envs.make_vec('pokemon_red', 1, num_workers=1, rom=TEST_CARTRIDGE)\n"
            "maps = open(f'/proc/{forkserver._forkserver._forkserver_pid}/maps').read()\n"
            "v.close()\n"
            "print('/pyboy/' in maps)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.stdout.strip() == "True", done.stdout + done.stderr


def test_the_pyboy_preload_never_stops_the_fork_server(monkeypatch) -> None:
    """A preload module that raises stops the fork server, and each worker then fails to start saying
    nothing of why; a PyBoy that cannot load is left for the workers to report."""
    import importlib

    from envs.gameboy import pyboy_preload

    calls = []

    def broken() -> None:
        calls.append(1)
        raise OSError("libSDL2 cannot be loaded")

    monkeypatch.setattr(core, "load_pyboy_class", broken)
    importlib.reload(pyboy_preload)
    assert calls == [1]
    monkeypatch.undo()
    importlib.reload(pyboy_preload)  # its own name for the loader back from the stand-in


def test_generic_game_on_the_test_cartridge() -> None:
    g = started(GameBoy(num_envs=1, game="depthfirst_test", max_steps=100))  # default ROM: the cartridge
    try:
        assert g.observation_space.shape == (1, 72, 80)
        for a in (RIGHT, RIGHT):
            assert act(g, a) == (0.0, False, False)
        r, term, _ = act(g, RIGHT)  # item 'a': one event flag
        assert r == 1.0 and not term
        g.memory(0)[0xD356] = 0b11  # both badges: the game is won
        r, term, _ = act(g, LEFT)
        assert term and r == 20.0
        assert g.episode_info(0)["score"] == 21.0
        state = json.loads(json.dumps(g.get_state(0)))
        g.reset(np.array([0]), np.array([0], dtype=np.uint64))
        g.set_state(0, state)
        assert g.get_state(0) == state
        check_env(gym.make("depthfirst/GameBoy-v0", game="depthfirst_test", rom=TEST_CARTRIDGE, max_steps=20,
                           render_mode="rgb_array").unwrapped)  # registered: render and close checked
    finally:
        g.close()
    # The SHA-1 is the file's, so it stands by the title found, not the one expected.
    with pytest.raises(RomError, match=r"cartridge 'DEPTHFIRST' \(SHA-1 [0-9a-f]{40}\), expected 'TETRIS'"):
        GameBoy(num_envs=1, game="tetris", rom=TEST_CARTRIDGE)
    with pytest.raises(RomError, match="no ROM file"):
        GameBoy(num_envs=1, game="kirby", rom=REPO / "roms" / "missing_kirby.gb")
    # A relative path names the folder it was looked for in, as Pokémon's message does.
    with pytest.raises(RomError, match="no ROM file at missing/kirby.gb \\(absolute: " + re.escape(
            str(Path.cwd() / "missing" / "kirby.gb")) + r"\)\. Supply"):
        GameBoy(num_envs=1, game="kirby", rom="missing/kirby.gb")
    with pytest.raises(RomError, match="no cartridge at missing/cart.gb \\(absolute: " + re.escape(
            str(Path.cwd() / "missing" / "cart.gb")) + r"\); build it"):
        GameBoy(num_envs=1, game="depthfirst_test", rom="missing/cart.gb")
    with pytest.raises(RomError, match="roms is a folder; give the ROM file itself"):
        GameBoy(num_envs=1, game="kirby", rom=REPO / "roms")


def test_a_gameboy_state_given_out_shares_no_figures_with_the_board() -> None:
    # A caller editing the state it was given (its "last" figures) must not change the board's rewards.
    g = started(GameBoy(num_envs=1, game="depthfirst_test", max_steps=100))
    try:
        g.get_state(0)["last"]["score"] = 100.0
        assert [act(g, RIGHT)[0] for _ in range(3)] == [0.0, 0.0, 1.0]  # item 'a': one event flag
    finally:
        g.close()


def test_each_boards_state_holds_its_own_emulator() -> None:
    # get_state(i)'s emulator is board i's: set on a fresh board it plays on from where board i was.
    g = make(2)
    fresh = make(1)
    try:
        for _ in range(3):
            act(g, RIGHT, board=1)  # board 1 walks right (picks up item 'a'); board 0 presses A
        state = g.get_state(1)
        assert unpack_bytes(state["emulator"]) == save_emulator(g._pyboys[1])
        assert unpack_bytes(state["emulator"]) != save_emulator(g._pyboys[0])
        fresh.set_state(0, state)
        assert fresh.read_facts(0) == g.read_facts(1) != g.read_facts(0)
    finally:
        g.close()
        fresh.close()


def retitled(title: bytes) -> bytes:
    """The test cartridge under another header title (its checksum fixed): PyBoy then enables the game
    wrapper of that title on it."""
    rom = bytearray(TEST_CARTRIDGE.read_bytes())
    rom[0x134:0x144] = title.ljust(16, b"\0")
    rom[0x14D] = -sum(b + 1 for b in rom[0x134:0x14D]) & 0xFF  # the header checksum
    return bytes(rom)


KIRBY_HEALTH, KIRBY_LIVES = 0xD086, 0xD089  # what PyBoy 2.8's Kirby wrapper reads (lives_left is LIVES - 1)


def test_kirbys_game_over_ends_only_its_own_episode(tmp_path: Path) -> None:
    """PyBoy's Kirby wrapper keeps game over in itself (health falling to 0 on the last life), not in the
    emulator, and only its reset_game clears it: after a game over, an episode reset from a start state
    file, or a board given an earlier state, ended on its first step. Run on the test cartridge titled
    Kirby's, its RAM set as the wrapper reads it."""
    (tmp_path / "kirby.gb").write_bytes(retitled(b"KIRBY DREAM LAN"))
    pb = new_pyboy(retitled(b"KIRBY DREAM LAN"))
    pb.tick(GameBoy.BOOT_FRAMES, True)
    pb.memory[KIRBY_LIVES], pb.memory[KIRBY_HEALTH] = 1, 3  # the last life, some health
    (tmp_path / "last_life.state").write_bytes(save_emulator(pb))
    pb.stop(save=False)
    g = started(GameBoy(num_envs=1, game="kirby", rom=tmp_path / "kirby.gb",
                        state=tmp_path / "last_life.state"))
    try:
        assert act(g, A) == (0.0, False, False)
        alive = g.get_state(0)
        g.memory(0)[KIRBY_HEALTH] = 0
        assert act(g, A) == (0.0, True, False)  # the wrapper's game over
        g.set_state(0, alive)
        assert act(g, A) == (0.0, False, False)
        g.reset(np.array([0]), np.array([0], dtype=np.uint64))
        assert act(g, A) == (0.0, False, False)
    finally:
        g.close()


@pytest.mark.parametrize("game", ["tetris", "super_mario_land", "kirby"])
def test_a_wrapped_game_from_a_state_file_plays_the_state_exactly(tmp_path: Path, game: str) -> None:
    # Resets and set_state clear the wrapper through its reset_game (Tetris's presses start), then load
    # the state: the emulator must hold the state's bytes alone, the DIV register included.
    title = GAMES[game].title.encode()
    (tmp_path / "cart.gb").write_bytes(retitled(title))
    pb = new_pyboy(retitled(title))
    pb.tick(GameBoy.BOOT_FRAMES, True)
    start = save_emulator(pb)
    pb.stop(save=False)
    (tmp_path / "start.state").write_bytes(start)
    g = started(GameBoy(num_envs=1, game=game, rom=tmp_path / "cart.gb", state=tmp_path / "start.state"))
    try:
        assert unpack_bytes(g.get_state(0)["emulator"]) == start
        act(g, RIGHT)
        state = g.get_state(0)
        act(g, RIGHT)
        g.set_state(0, state)
        assert g.get_state(0) == state
    finally:
        g.close()


def test_a_game_that_is_no_name_is_an_unknown_game_not_a_type_error() -> None:
    with pytest.raises(ValueError, match=r"unknown game \['tetris'\]; known: tetris"):
        GameBoy(num_envs=1, game=["tetris"])  # a list is unhashable: no dict lookup may see it
    # A name no wrapper plays: without the check, a bare KeyError 'zelda' from the GAMES lookup.
    with pytest.raises(ValueError, match=r"^unknown game 'zelda'; known: tetris, super_mario_land, kirby, "
                                         r"depthfirst_test$"):
        GameBoy(num_envs=1, game="zelda")


class StopLoggedPyBoy:
    """A real PyBoy that logs its ``stop`` into ``log`` (PyBoy itself keeps no readable stopped flag)."""

    def __init__(self, pb, log: list) -> None:
        self._pb, self.log = pb, log

    def stop(self, *args, **kwargs) -> None:
        self.log.append(self)
        self._pb.stop(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._pb, name)


def test_a_game_boy_game_of_the_base_class_hooks_alone_plays_and_round_trips_its_state() -> None:
    """A subclass that overrides none of GameBoyGame's hooks: no reward, no end but max_steps, its return and
    steps as episode_info, a state of the base keys alone that set_state takes back."""

    class Bare(core.GameBoyGame):
        name = "bare_gameboy"

    g = started(Bare(1, rom=TEST_CARTRIDGE, max_steps=2))
    try:
        assert act(g, RIGHT) == (0.0, False, False)
        assert g.episode_info(0) == {"score": 0.0, "steps": 1.0}
        state = g.get_state(0)
        assert set(state) == {"game", "screen_png", "frame_shape", "max_steps", *Bare.STATE_KEYS}
        assert act(g, RIGHT) == (0.0, False, True)
        g.set_state(0, state)
        assert g.get_state(0) == state and g.episode_info(0) == {"score": 0.0, "steps": 1.0}
    finally:
        g.close()


def test_a_rom_pyboy_refuses_past_the_header_checks_is_a_rom_error() -> None:
    """A cartridge type PyBoy has no mapper for passes not_a_rom's checks; PyBoy's own exception becomes a
    RomError naming the ROM."""
    rom = bytearray(TEST_CARTRIDGE.read_bytes())
    rom[0x147] = 0xFC  # the Game Boy Camera's cartridge type
    rom[0x14D] = (rom[0x14D] - (0xFC - TEST_CARTRIDGE.read_bytes()[0x147])) & 0xFF  # its header checksum
    with pytest.raises(RomError, match=r"^--rom camera\.gb is not a Game Boy ROM PyBoy can run "
                                       r"\(PyBoyException: .*252\)$"):
        new_pyboy(bytes(rom), "camera.gb")


def test_gameboy_names_its_game_and_where_roms_go_for_a_file_that_is_no_rom(tmp_path: Path) -> None:
    # --env gameboy said only "--rom junk.gb is not a Game Boy ROM: ...", where --env pokemon_red names its
    # game and where ROMs go (and the fix: copy the dump again).
    junk = tmp_path / "junk.gb"
    junk.write_bytes(b"\xff" * 1000)
    with pytest.raises(RomError) as err:
        GameBoy(num_envs=1, game="kirby", rom=junk)
    assert str(err.value) == (f"gameboy/kirby: {junk} is not a Game Boy ROM: 1,000 bytes, not a whole number "
                              "of 16 KiB banks.\n  Copy your dump again (a failed copy or download?); where "
                              "ROMs go: roms/README.md")


def test_a_game_boy_game_that_fails_to_start_stops_its_emulators(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    # The emulators start before the checks that need them (the cartridge title, the start state): a
    # refusal left them running until the garbage collector found the game, one per board each time.
    started: list[StopLoggedPyBoy] = []
    stopped: list[StopLoggedPyBoy] = []
    monkeypatch.setattr(core, "new_pyboy", lambda *a, **k: started.append(StopLoggedPyBoy(
        new_pyboy(*a, **k), stopped)) or started[-1])
    bad_state = tmp_path / "bad.state"
    bad_state.write_bytes(b"no emulator state")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # work RAM read through the API: the wrapper
        with pytest.raises(RomError, match="expected 'TETRIS'"):
            GameBoy(num_envs=2, game="tetris", rom=TEST_CARTRIDGE)
        with pytest.raises(ValueError, match=r"bad\.state cannot be loaded"):
            GameBoy(num_envs=2, game="depthfirst_test", state=bad_state)
    assert len(started) == 4 and stopped == started


@pytest.mark.parametrize(("game", "title", "hint"), [
    ("tetris", None, "expected 'TETRIS'; this cartridge is --game depthfirst_test's"),
    ("tetris", b"SUPER MARIOLAND", "expected 'TETRIS'; this cartridge is --game super_mario_land's"),
    ("kirby", b"TETRIS", "expected 'KIRBY DREAM LAN'; this cartridge is --game tetris's"),
    ("tetris", b"POKEMON RED", "expected 'TETRIS'; a Pokémon Red or Blue cartridge is played with "
                               "--env pokemon_red"),
    ("tetris", b"ZELDA", "expected 'TETRIS'; no --game plays this cartridge "
                         "(tetris 'TETRIS', super_mario_land 'SUPER MARIOLAND', kirby 'KIRBY DREAM LAN', "
                         "depthfirst_test 'DEPTHFIRST')"),
])
def test_a_cartridge_of_another_game_names_the_game_that_fits_it(tmp_path: Path, game: str,
                                                                 title: bytes | None, hint: str) -> None:
    # --env gameboy without --game on Super Mario Land said only "expected 'TETRIS'", not that --game
    # super_mario_land plays that cartridge (that tetris was the default, train_ppo.py adds: the game
    # cannot tell; test_tetris_is_called_the_default_game_only_where_game_was_not_given).
    (tmp_path / "cart.gb").write_bytes(TEST_CARTRIDGE.read_bytes() if title is None else retitled(title))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a wrapper's work RAM read through the API
        with pytest.raises(RomError) as refused:
            GameBoy(num_envs=1, game=game, rom=tmp_path / "cart.gb")
    assert hint in str(refused.value) and str(refused.value).endswith("; see roms/README.md")
    # it names the ROM file refused (not the start state, which is None here)
    assert str(refused.value).startswith(f"gameboy/{game}: {tmp_path / 'cart.gb'} is cartridge ")


def test_a_rom_of_the_right_title_that_never_shows_the_wrappers_screen_is_refused(tmp_path: Path) -> None:
    # PyBoy's start_game ticks until its game's first screen shows, with no limit and deaf to Ctrl-C: the
    # test cartridge titled TETRIS (a hack or another game under that title) hung construction for ever.
    (tmp_path / "tetris.gb").write_bytes(retitled(b"TETRIS"))
    code = ("from envs.gameboy.generic import GameBoy\n"
            f"GameBoy(game='tetris', rom={str(tmp_path / 'tetris.gb')!r})")
    done = python_c(code, "GameBoy(game='tetris') on a ROM that is no Tetris did not end")
    assert "RomError" in done.stderr and "never showed" in done.stderr, done.stderr[-2000:]


def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    """``python script args``, run as the script's ``main(args)`` in this process: a process
    each (PyBoy's import and more, ~0.8 s of CPU) bought nothing here; the scripts as programs (their
    signals and exit codes) are tested by interrupt_when_ready and tests/scripts/test_startup.py."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):  # the tests give whole paths
        rc = load_script(Path(script).stem).main(list(args))
    return subprocess.CompletedProcess([script, *args], rc, out.getvalue(), err.getvalue())


def test_make_state_script_end_to_end(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("boot 120  # PyBoy's boot ROM, then the cartridge's start\n"
                      "right\nright\nright 4\nwait 30\n")
    out = tmp_path / "start.state"
    proc = run_script("scripts/make_state.py", "--rom", str(TEST_CARTRIDGE), "--inputs", str(inputs),
                      "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and "wrote" in proc.stdout
    g = make(1, state=out)
    try:
        assert where(g) == WORLD["by_char"]["a"] and g.read_facts(0)["event_flags"] == 1
    finally:
        g.close()
    again = run_script("scripts/make_state.py", "--rom", str(TEST_CARTRIDGE), "--inputs", str(inputs),
                       "--out", str(out))
    assert again.returncode == 2 and f"--out {out} exists; pass --force to replace it" in again.stderr
    assert "playing" not in again.stderr  # refused before the play, not after it
    forced = run_script("scripts/make_state.py", "--rom", str(TEST_CARTRIDGE), "--inputs", str(inputs),
                        "--out", str(out), "--force", "--state", "none")  # boots, as train_ppo's --state none
    assert forced.returncode == 0, forced.stderr
    g = make(1, state=out)
    try:
        assert where(g) == WORLD["by_char"]["a"]
    finally:
        g.close()


def test_make_state_reads_an_inputs_file_saved_by_a_windows_editor(tmp_path: Path) -> None:
    # Notepad's UTF-8: a byte-order mark, CRLF line ends; the script must play as the plain one does
    plain, windows = tmp_path / "plain.txt", tmp_path / "windows.txt"
    plain.write_text("boot 120\nright 16\n")
    windows.write_bytes(b"\xef\xbb\xbfboot 120\r\nright 16\r\n")
    a = make_state(TEST_CARTRIDGE, plain, tmp_path / "a.state")
    b = make_state(TEST_CARTRIDGE, windows, tmp_path / "b.state")
    assert a["frames"] == b["frames"] == 120 + 16 + 1 + 1
    assert (tmp_path / "a.state").read_bytes() == (tmp_path / "b.state").read_bytes()


def test_make_state_and_play_go_on_from_the_start_state_given(tmp_path: Path) -> None:
    boot, walk = tmp_path / "boot.txt", tmp_path / "walk.txt"
    boot.write_text("boot 120\n")
    walk.write_text("right\nright\nright 4\nwait 30\n")  # from the start to item 'a'
    start, walked, played = tmp_path / "start.state", tmp_path / "walked.state", tmp_path / "played.state"
    make_state(TEST_CARTRIDGE, boot, start)
    sha1 = hashlib.sha1(TEST_CARTRIDGE.read_bytes()).hexdigest()
    assert make_state(TEST_CARTRIDGE, walk, walked, state=start)["rom_sha1"] == sha1
    summary = play(TEST_CARTRIDGE, played, state=walked, window="null", max_frames=5)
    assert summary == {"out": str(played), "frames": 5, "rom_sha1": sha1}
    for path in (walked, played):
        g = make(1, state=path)
        try:
            assert where(g) == WORLD["by_char"]["a"] and g.read_facts(0)["event_flags"] == 1
        finally:
            g.close()


def test_a_start_state_made_on_a_cartridge_of_another_kind_is_refused_as_maybe_another_cartridges(
        tmp_path: Path) -> None:
    # A PyBoy state records no title or checksum of its ROM: one made on a cartridge with battery RAM
    # (another memory controller) was refused as "damaged ...; make it again", not a word of the ROM.
    rom = bytearray(TEST_CARTRIDGE.read_bytes())
    rom[0x147], rom[0x149] = 0x03, 0x02  # MBC1 with 8 KiB of battery RAM; title and code as they were
    rom[0x14D] = -sum(b + 1 for b in rom[0x134:0x14D]) & 0xFF  # the header checksum
    other, boot, state = tmp_path / "other.gb", tmp_path / "boot.txt", tmp_path / "other.state"
    other.write_bytes(bytes(rom))
    boot.write_text("boot 120\n")
    make_state(other, boot, state)
    (tmp_path / "other.state.json").unlink()  # its ROM record would refuse it first, for naming another ROM
    with pytest.raises(ValueError) as refused:
        make(1, state=state)
    assert str(refused.value).startswith(f"--state {state} cannot be loaded: it is damaged: PyBoy read ")
    assert str(refused.value).endswith(
        "; or made on another cartridge (a state records no title or checksum of its ROM, and loads only "
        "on a cartridge of its memory layout): make it again on this ROM with scripts/make_state.py")


def other_build(tmp_path: Path) -> tuple[Path, Path]:
    """Another cartridge of the test cartridge's memory layout (retitled: another build of a game, as
    far as PyBoy can tell), and a start state made on it with make_state.py: (rom, state)."""
    rom, boot, state = tmp_path / "other.gb", tmp_path / "boot.txt", tmp_path / "other.state"
    rom.write_bytes(retitled(b"OTHER BUILD"))
    boot.write_text("boot 120\n")
    make_state(rom, boot, state)
    return rom, state


def test_a_start_state_of_another_cartridge_of_the_same_layout_is_refused_naming_both(
        tmp_path: Path, scripts, capsys: pytest.CaptureFixture) -> None:
    # A PyBoy state records no title or checksum of its ROM: one made on another cartridge of the same
    # memory layout loaded without a word, and the env played garbage. make_state.py records the ROM.
    rom, state = other_build(tmp_path)
    theirs = hashlib.sha1(rom.read_bytes()).hexdigest()
    mine = hashlib.sha1(TEST_CARTRIDGE.read_bytes()).hexdigest()
    assert json.loads((tmp_path / "other.state.json").read_text()) == {
        "rom_sha1": theirs, "rom_title": "OTHER BUILD",
        "state_sha1": hashlib.sha1(state.read_bytes()).hexdigest(),
        "pyboy_version": importlib.metadata.version("pyboy")}
    made_on = (f"was made on the cartridge 'OTHER BUILD' (SHA-1 {theirs}, as other.state.json beside it "
               "records), not on ")
    advice = (": a state loads on any cartridge of its memory layout and plays garbage on another; give the "
              "{} it was made on, or make the state again on this ROM with scripts/make_state.py")
    refusal = f"--state {state} {made_on}--rom {TEST_CARTRIDGE} ('DEPTHFIRST', SHA-1 {mine})" + advice.format(
        "--rom")
    boot = tmp_path / "boot.txt"
    for build in (lambda: make(1, state=state), lambda: GameBoy(1, game="depthfirst_test", state=state),
                  lambda: make_state(TEST_CARTRIDGE, boot, tmp_path / "a.state", state=state),
                  lambda: play(TEST_CARTRIDGE, tmp_path / "b.state", state=state, window="null",
                               max_frames=5)):
        with pytest.raises(ValueError) as refused:
            build()
        assert str(refused.value) == refusal
    run = tmp_path / "run"
    argv = ["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--run-dir", str(run)]
    assert scripts.train_ppo.main([*argv, "--state", str(state)]) == 2
    assert capsys.readouterr().err == f"error: {refusal} (change --state or --rom)\n"
    assert scripts.train_ppo.main([*argv, "--set", f"env_kwargs.state={state}"]) == 2
    assert capsys.readouterr().err == f"error: {refusal} (change --set env_kwargs.state or --rom)\n"
    assert not run.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "boot.txt", "other.gb", "other.state", "other.state.json"]
    # A run's config.yaml names it (evaluate, export, compare, --resume): worded by its keys
    from agents.evaluation import check_game
    from agents.runs import RunError

    with pytest.raises(RunError) as refused:
        check_game("pokemon_red", {"rom": str(TEST_CARTRIDGE), "state": str(state)})
    assert str(refused.value) == (
        f"the run's start state {state} (env_kwargs.state in its config.yaml) {made_on}the run's ROM "
        f"{TEST_CARTRIDGE} ('DEPTHFIRST', SHA-1 {mine}) (env_kwargs.rom)" + advice.format("ROM"))
    with pytest.warns(UserWarning, match="unknown ROM"):  # on its own cartridge it loads
        PokemonRed(1, rom=rom, state=state, allow_unknown_rom=True).close()


def test_the_unknown_rom_warning_ends_with_its_own_words_not_a_line_of_code(tmp_path: Path) -> None:
    # --allow-unknown-rom's warning printed the project's line that checked the ROM under its own indented
    # lines, as one more of them: "  sha1 = check_rom(as_path("rom", rom), flag(...))".
    rom = tmp_path / "other.gb"
    rom.write_bytes(retitled(b"OTHER BUILD"))
    proc = python_c("from envs.gameboy.pokemon import PokemonRed\n"
                    f"PokemonRed(1, rom={str(rom)!r}, state=None, allow_unknown_rom=True).close()",
                    "the game on an unknown ROM hung")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith(f"<ROM>:0: UserWarning: pokemon_red: unknown ROM {rom}\n"), proc.stderr
    assert proc.stderr.endswith("\n  Proceeding, as --allow-unknown-rom asks.\n"), proc.stderr


def test_a_resume_whose_start_state_was_made_on_another_rom_names_the_run_config_keys(
        tmp_path: Path, scripts, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import yaml

    import agents.train
    from agents.config import load_config, resolve

    _, state = other_build(tmp_path)
    monkeypatch.setattr(agents.train, "train", lambda *args, **kwargs: pytest.fail("trained"))
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"a model")
    cfg = resolve({**load_config("pokemon_red"), "policy": "tiny", "device": "cpu"}, False)
    cfg["env_kwargs"].update(rom=str(TEST_CARTRIDGE), state=str(state))
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --resume {run}: the run's start state {state} (env_kwargs.state in its "
                          "config.yaml) was made on the cartridge 'OTHER BUILD' ")
    assert f"not on the run's ROM {TEST_CARTRIDGE} ('DEPTHFIRST', SHA-1 " in err and err.count("\n") == 1


def stubbed_run_on_the_cartridge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                 ) -> tuple[list[Path], Path, Path, dict]:
    """A pokemon_red run on the test cartridge in ``tmp_path / "run"``, from a start state of its own, with
    one checkpoint and its files as training writes them when it starts; training stubbed to list the runs
    it is given. Returns that list, the state, the boot inputs that made it, and the config."""
    import agents.train
    from agents.config import load_config, resolve
    from agents.runs import write_run_files

    trained: list[Path] = []
    monkeypatch.setattr(agents.train, "train", lambda cfg, run, *args, **kwargs: trained.append(run))
    state, boot = tmp_path / "start.state", tmp_path / "boot.txt"
    boot.write_text("boot 120\n")
    make_state(TEST_CARTRIDGE, boot, state)
    cfg = resolve({**load_config("pokemon_red"), "policy": "tiny", "device": "cpu"}, False)
    cfg["env_kwargs"].update(rom=str(TEST_CARTRIDGE), state=str(state))
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"a model")
    write_run_files(run, cfg, "python train_ppo.py")
    return trained, state, boot, cfg


def test_a_run_whose_start_state_was_made_again_at_its_path_is_refused_on_resume_and_warned_of(
        tmp_path: Path, scripts, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # config.yaml keeps only the state's path: a state made again there (make_state.py --force) on the same
    # ROM passed its record's check, and --resume, evaluate, the export and compare went on from it unsaid.
    import yaml

    from agents.runs import read_run_config

    trained, state, boot, cfg = stubbed_run_on_the_cartridge(tmp_path, monkeypatch)
    run, old = tmp_path / "run", tmp_path / "old"
    first = hashlib.sha1(state.read_bytes()).hexdigest()
    (old / "checkpoints").mkdir(parents=True)
    (old / "checkpoints" / "step_64.zip").write_bytes(b"a model")
    (old / "config.yaml").write_text(yaml.safe_dump(cfg))  # a run from before the record
    boot.write_text("boot 150\n")
    make_state(TEST_CARTRIDGE, boot, state, force=True)  # the same ROM: its record's check passes
    again = hashlib.sha1(state.read_bytes()).hexdigest()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    assert not trained
    assert capsys.readouterr().err == (
        f"error: --resume {run}: the run's start state {state} (env_kwargs.state in its config.yaml) is not "
        f"the one the run started from: its SHA-1 is {again}, the run's {first} ({run / 'game_files.json'} "
        "records it; made again at that path since?): put the run's own back there to go on with the run, or "
        "train a new run from this one (train_ppo.py without --resume); to go on from this one all the same, "
        f"delete {run / 'game_files.json'}\n")
    # evaluate, the export and compare read the run's config.yaml through read_run_config: warned
    assert read_run_config(run)["env_kwargs"]["state"] == str(state)
    assert capsys.readouterr().err == (
        f"warning: {run}: the run's start state {state} (env_kwargs.state in its config.yaml) is not the one "
        f"the run started from: its SHA-1 is {again}, the run's {first} ({run / 'game_files.json'} records "
        "it; made again at that path since?): it plays from another start than it was trained from; put the "
        "run's own back there to play as it was trained\n")
    # A run from before the record reads and resumes as before
    assert read_run_config(old)["env_kwargs"]["state"] == str(state)
    assert scripts.train_ppo.main(["--resume", str(old), "--no-progress"]) == 0
    assert trained == [old] and "warning" not in capsys.readouterr().err
    (run / "game_files.json").unlink()  # the way out it names
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 0 and trained == [old, run]


def test_a_corrupt_record_of_a_runs_game_files_is_named_not_read_as_none(
        tmp_path: Path, scripts, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # A game_files.json that is not JSON, not an object or a FIFO was read as no record: --resume trained
    # on, unchecked and unsaid (and its save wrote a new record over it), and evaluate played unwarned.
    from agents.runs import read_run_config

    trained, state, _, _ = stubbed_run_on_the_cartridge(tmp_path, monkeypatch)
    run = tmp_path / "run"
    record = run / "game_files.json"
    # An object of no entry ({}, a key miswritten) or of a SHA-1 cut short was read as no record or blamed
    # the state ("not the one the run started from ... made again at that path since?")

    def entry(key: str, sha1: str) -> str:
        return json.dumps({key: {"path": str(state), "sha1": sha1}})

    odd = ('no record of them as training writes it (an object of "rom", "state" or both, each a {"path", '
           '"sha1"} of 40 hex digits)')
    for damage, why in (("{cut", "not a JSON object"), ("[1]", "not a JSON object"), ('{"state": "a"}', odd),
                        ("{}", odd), (entry("State", "0" * 40), odd), (entry("state", "e4bb576a"), odd),
                        (None, "a FIFO (named pipe), not a file")):
        record.unlink()
        if damage is None:
            os.mkfifo(record)
        else:
            record.write_text(damage)
        problem = (f"{record} (the record of the ROM and start state the run started from) is {why}, so they "
                   "cannot be checked against it")
        assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2, damage
        assert capsys.readouterr().err == (
            f"error: --resume {run}: {problem}: put the run's own record back to go on with the run checked, "
            "or delete it to go on unchecked (the resume records the files it reads then)\n")
        assert read_run_config(run)["env_kwargs"]["state"] == str(state)
        assert capsys.readouterr().err == (
            f"warning: {run}: {problem}: put the run's own record back to check them, or delete it to play "
            "on unchecked without this warning\n")
    assert not trained
    # compare.py --specialist without --env read the run's config.yaml twice (its game, then the specialist)
    # and warned twice; here it then refuses the stubbed checkpoint, which is no model
    assert scripts.compare.main(["--specialist", str(run), "--episodes", "1", "--no-progress", "--out",
                                 str(tmp_path / "compare")]) == 2
    err = capsys.readouterr().err
    assert err.count(f"warning: {run}: {problem}:") == 1 and "cannot load checkpoint" in err, err
    record.unlink()  # the way out it names
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 0 and trained == [run]


@pytest.mark.parametrize("code", [errno.EACCES, errno.EIO])
def test_a_runs_milestones_that_cannot_be_read_are_refused_on_resume_not_started_again(
        code: int, tmp_path: Path, scripts, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    # An unreadable milestones.json (another user's, mode 600; an I/O error) was read as none: the resume
    # started the run's bests again without a word, and its first new best wrote over the file.
    trained, _, _, _ = stubbed_run_on_the_cartridge(tmp_path, monkeypatch)
    run = tmp_path / "run"
    milestones = run / "milestones.json"
    milestones.write_text('{"tiles_visited": 12.0}')
    readable = open
    deny_reading(monkeypatch, milestones, code)
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        f"error: --resume {run}: {milestones} (the run's best game/* figures, which the resume continues "
        f"from) cannot be read ({os.strerror(code)}): make it readable to go on from them, or delete it to "
        "start them again\n")
    assert not trained
    monkeypatch.setattr("builtins.open", readable)  # readable again: the resume goes on
    monkeypatch.setattr("io.open", readable)
    assert milestones.read_text() == '{"tiles_visited": 12.0}'
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 0 and trained == [run]
    milestones.unlink()
    milestones.mkdir()  # a folder there (a bad copy): the first new best failed to write over it, mid-run
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2 and trained == [run]
    assert (f"{milestones} (the run's best game/* figures, which the resume continues from) cannot be read "
            "(Is a directory)") in capsys.readouterr().err


def test_a_state_replaced_beside_its_old_record_is_refused_naming_the_record_not_the_rom(
        tmp_path: Path) -> None:
    # A state copied by hand over one with a record kept the old record, which then blamed the ROM: the
    # state of the other build refused on its own cartridge, loaded on the test cartridge (garbage).
    rom, theirs = other_build(tmp_path)
    mine, later = tmp_path / "mine.state", tmp_path / "later.txt"
    later.write_text("boot 130\n")  # another state than theirs (one of the same play is the same bytes)
    make_state(TEST_CARTRIDGE, later, mine)
    mine.write_bytes(theirs.read_bytes())
    record = tmp_path / "mine.state.json"
    for build in (lambda: make(1, state=mine),
                  lambda: PokemonRed(1, rom=rom, state=mine, allow_unknown_rom=True)):
        with pytest.raises(ValueError) as refused, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the other build's unknown-ROM warning
            build()
        assert str(refused.value) == (
            f"--state {mine} has a ROM record {record} of another state (SHA-1 "
            f"{json.loads(record.read_text())['state_sha1']}, not this one's "
            f"{hashlib.sha1(mine.read_bytes()).hexdigest()}): the state was replaced since, or the record "
            "copied beside it; delete the record to load the state unchecked, or put the state's own record "
            "beside it")


def test_a_state_made_through_a_link_keeps_its_record_beside_the_file(tmp_path: Path) -> None:
    # --out a link to a state (start.state -> v1.state) and --force: the state went to v1.state, its record
    # beside the link, and v1.state was then refused beside its old record (or loaded, judged by it).
    inputs, v1, link = tmp_path / "inputs.txt", tmp_path / "v1.state", tmp_path / "start.state"
    inputs.write_text("wait 10\n")
    make_state(TEST_CARTRIDGE, inputs, v1)
    link.symlink_to(v1.name)
    inputs.write_text("wait 20\n")
    make_state(TEST_CARTRIDGE, inputs, link, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt", "start.state", "v1.state",
                                                          "v1.state.json"]
    assert json.loads((tmp_path / "v1.state.json").read_text())["state_sha1"] == hashlib.sha1(
        v1.read_bytes()).hexdigest()
    for state in (v1, link):
        make(1, state=state).close()


def test_a_start_state_without_a_rom_record_loads_unchecked_with_one_warning(tmp_path: Path) -> None:
    # States made before make_state.py recorded their ROM, or elsewhere, keep working. One moved without
    # its record (README: copy it with the state) loaded on another cartridge of the same layout without a
    # word, so the check it was made for was skipped unseen: now a warning says so, once per state.
    _, state = other_build(tmp_path)
    (tmp_path / "other.state.json").unlink()
    said = (f"start state {state} has no ROM record other.state.json beside it, so it is not checked "
            f"against the ROM {TEST_CARTRIDGE}: a state made on another cartridge of its memory layout plays "
            "garbage; copy its record beside it, or make it again with scripts/make_state.py")
    with pytest.warns(UserWarning) as caught:
        for _ in range(2):  # a command builds the game more than once: one warning
            g = make(1, state=state)
            try:
                assert where(g) == WORLD["start"]
            finally:
                g.close()
    assert [str(w.message) for w in caught] == [said]
    # The scripts print it once (the command's other builds of the game, its workers', stay quiet)
    moved, boot = tmp_path / "moved.state", tmp_path / "boot.txt"
    moved.write_bytes(state.read_bytes())
    proc = subprocess.run([sys.executable, "scripts/make_state.py", "--rom", str(TEST_CARTRIDGE), "--inputs",
                           str(boot), "--state", str(moved), "--out", str(tmp_path / "a.state")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr.count(f"UserWarning: {said}".replace(
        "other.state", "moved.state")) == 1, proc.stderr
    # On its own line, without a line of the project's source under it (the code that loaded the state,
    # "  load_state_file(pb, state, rom, rom_bytes, state_bytes)", which tells a user nothing)
    assert f"<start state>:0: UserWarning: {said}\n".replace("other.state", "moved.state") in proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.startswith(" ")], proc.stderr
    # None where no record can be: a name at the file system's limit (<state>.json cannot be), a pipe;
    # nor before a refusal of the state itself
    long = tmp_path / ("s" * (os.pathconf(tmp_path, "PC_NAME_MAX") - 6) + ".state")
    damaged = tmp_path / "damaged.state"
    long.write_bytes(state.read_bytes())
    damaged.write_bytes(bytes([state.read_bytes()[0] + 1]) + state.read_bytes()[1:])
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="cannot be loaded: it is no state of this PyBoy"):
            make(1, state=damaged)
        make(1, state=long).close()

        def feed() -> None:
            with open(write, "wb") as w:
                w.write(state.read_bytes())

        threading.Thread(target=feed).start()
        try:
            make_state(TEST_CARTRIDGE, boot, tmp_path / "piped.state", state=f"/dev/fd/{read}")
        finally:
            os.close(read)


@pytest.mark.parametrize("record", ["not json", "[]", '{"rom_sha1": 1}', "no rom_title", None])
def test_a_rom_record_that_cannot_be_read_is_refused_naming_it(tmp_path: Path, record: str | None) -> None:
    _, state = other_build(tmp_path)
    path = tmp_path / "other.state.json"
    written = json.loads(path.read_text())
    path.unlink()
    if record is None:
        path.mkdir()
    elif record == "no rom_title":  # its SHA-1s right: the refusal naming the other ROM wants the title
        path.write_text(json.dumps({**written, "rom_title": None, "rom_sha1": "0" * 40}))
    else:
        path.write_text(record)
    with pytest.raises(ValueError) as refused:
        make(1, state=state)
    assert str(refused.value).startswith(f"--state {state} has a ROM record {path} that cannot be read (")
    assert str(refused.value).endswith("): delete it to load the state unchecked, or make the state again "
                                       "with scripts/make_state.py")


def test_a_rom_record_the_system_will_not_read_is_refused_saying_why(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Its OSError was swallowed: a record another user's (mode 600) was "not a JSON object of rom_sha1, ...".
    _, state = other_build(tmp_path)
    path = tmp_path / "other.state.json"
    deny_reading(monkeypatch, path)
    with pytest.raises(ValueError) as refused:
        make(1, state=state)
    assert str(refused.value) == (f"--state {state} has a ROM record {path} that cannot be read (Permission "
                                  "denied): delete it to load the state unchecked, or make the state again "
                                  "with scripts/make_state.py")


def test_a_rom_record_names_pyboy_unknown_where_its_version_cannot_be_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A PyBoy run from its source has no package metadata: the play is still saved, with its record
    from envs.gameboy import roms

    def no_metadata(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(roms.importlib.metadata, "version", no_metadata)
    assert roms.rom_record(b"rom", b"state")["pyboy_version"] == "unknown"


def test_a_state_name_too_long_for_its_rom_record_beside_it_is_refused_naming_out(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # A name the file system takes, but not with ".json" after it: "error: [Errno 36] File name too long:
    # '...json'", no flag named (check_output_file's stat of the record).
    from agents.cli import shown_path
    from agents.outputs import temp_name

    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    out = tmp_path / ("s" * (os.pathconf(tmp_path, "PC_NAME_MAX") - 6) + ".state")
    for script, flag, argv in (("make_state", "--out", ["--inputs", str(inputs)]),
                               ("play_gameboy", "--save-state", ["--window", "null", "--max-frames", "5"])):
        assert script_main(script)(["--rom", str(TEST_CARTRIDGE), flag, str(out), *argv]) == 2
        err = capsys.readouterr().err  # the longest name written for it: the record's temp file
        extra = len(temp_name(Path(out.name + ".json"))) - len(out.name)
        assert err.startswith(f"error: {flag} {shown_path(str(out))}: the name is too long (")
        assert err.endswith(f"give a name of at most {os.pathconf(tmp_path, 'PC_NAME_MAX') - extra} bytes\n")
    assert [p.name for p in tmp_path.iterdir()] == ["inputs.txt"]


def test_the_scripts_write_a_states_rom_record_beside_it_and_mind_one_there(tmp_path: Path) -> None:
    rom, inputs = tmp_path / "game.gb", tmp_path / "inputs.txt"
    rom.write_bytes(TEST_CARTRIDGE.read_bytes())
    inputs.write_text("wait 10\n")
    sha1 = hashlib.sha1(TEST_CARTRIDGE.read_bytes()).hexdigest()
    for name, write in (("made", lambda out, **kw: make_state(rom, inputs, out, **kw)),
                        ("played", lambda out, **kw: play(rom, out, window="null", max_frames=5, **kw))):
        out, record = tmp_path / f"{name}.state", tmp_path / f"{name}.state.json"
        record.write_text("left from a state deleted")
        with pytest.raises(ValueError, match=f"its ROM record {re.escape(str(record))} exists .*--force"):
            write(out)
        assert not out.exists() and record.read_text() == "left from a state deleted"
        write(out, force=True)
        assert json.loads(record.read_text())["rom_sha1"] == sha1
        # A record that would be an input: refused even with --force
        with pytest.raises(ValueError, match=r"its ROM record .* is the --state file"):
            write(tmp_path / "x", state=tmp_path / "x.json", force=True)
        # The start state's own record as the output (start.state.json, a shell's completion): it was
        # replaced by the new state with --force, and the start state was refused beside it from then on
        kept = record.read_bytes()
        refused = f" {record} is the --state's ROM record file, which writing it would destroy"
        with pytest.raises(ValueError, match=re.escape(refused)):
            write(record, state=out, force=True)
        assert record.read_bytes() == kept and not (tmp_path / f"{name}.state.json.json").exists()
    script = tmp_path / "moves.json"  # a button script of any name
    script.write_text("wait 10\n")
    with pytest.raises(ValueError, match=r"its ROM record .* is the --inputs file"):
        make_state(rom, script, tmp_path / "moves", force=True)
    assert not (tmp_path / "x").exists() and not (tmp_path / "moves").exists()


def test_make_state_and_play_take_a_start_state_through_a_pipe(tmp_path: Path) -> None:
    # bash's <(...) gives a pipe, read once: the state was read to check it, then again (empty) to load
    # it, and refused as "damaged or not a PyBoy state (... No data)".
    boot, walk = tmp_path / "boot.txt", tmp_path / "walk.txt"
    boot.write_text("boot 120\n")
    walk.write_text("right\nright\nright 4\nwait 30\n")  # from the start to item 'a'
    start = tmp_path / "start.state"
    make_state(TEST_CARTRIDGE, boot, start)

    def piped() -> Path:  # as bash makes one: /dev/fd/N of a pipe, its writer closed once all is sent
        read, write = os.pipe()
        opened.append(read)
        threading.Thread(target=lambda: (os.write(write, start.read_bytes()), os.close(write)),
                         daemon=True).start()
        return Path(f"/dev/fd/{read}")

    opened: list[int] = []
    try:
        make_state(TEST_CARTRIDGE, walk, tmp_path / "walked.state", state=piped())
        play(TEST_CARTRIDGE, tmp_path / "played.state", state=piped(), window="null", max_frames=5)
    finally:
        for fd in opened:
            os.close(fd)
    g = make(1, state=tmp_path / "walked.state")
    try:
        assert where(g) == WORLD["by_char"]["a"]
    finally:
        g.close()


def test_make_state_refuses_a_frame_count_past_an_hour_of_game_before_booting(tmp_path: Path) -> None:
    most = parse_inputs(f"wait {MAX_COMMAND_FRAMES}\nright {MAX_COMMAND_FRAMES}")
    assert [step.frames for step in most] == [MAX_COMMAND_FRAMES, MAX_COMMAND_FRAMES, 1]
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("boot 300\nwait 1000000000  # a typo: 10**9 frames, hours to play\n")
    out = tmp_path / "start.state"
    with pytest.raises(ValueError, match=r"inputs.txt:2: .*1,000,000,000 frames is 4,650.6 hours of game "
                                         r"time; one command takes at most 216,000 frames"):
        make_state(TEST_CARTRIDGE, inputs, out, started=lambda: pytest.fail("the ROM was booted"))
    assert not out.exists()


def test_a_missing_start_state_is_named_before_the_emulator_starts(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from envs.gameboy import scripting

    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    missing = tmp_path / "typo.state"
    monkeypatch.setattr(scripting, "new_pyboy", lambda *a, **k: pytest.fail("the emulator was started"))
    with pytest.raises(FileNotFoundError, match=f"--state {missing}: no such file"):
        make_state(TEST_CARTRIDGE, inputs, tmp_path / "out.state", state=missing)
    with pytest.raises(FileNotFoundError, match=f"--state {missing}: no such file"):
        play(TEST_CARTRIDGE, tmp_path / "played.state", state=missing, window="null", max_frames=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt"]


def test_an_unreadable_input_is_named_by_flag_before_the_emulator_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that exists but cannot be read (an I/O error; no permission, which root's tests cannot set
    up) is a ValueError naming its flag and the reason, not a traceback, and nothing is started."""
    from envs.gameboy import scripting

    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    path_method_fails(monkeypatch, "open", lambda p: p == inputs,
                      OSError(errno.EIO, "Input/output error", str(inputs)))
    monkeypatch.setattr(scripting, "new_pyboy", lambda *a, **k: pytest.fail("the emulator was started"))
    with pytest.raises(ValueError, match=rf"^--inputs {re.escape(str(inputs))} cannot be read "
                                         r"\(Input/output error\)$"):
        make_state(TEST_CARTRIDGE, inputs, tmp_path / "out.state")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt"]


def test_make_state_stops_on_ctrl_c_without_writing(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text(f"boot {MAX_COMMAND_FRAMES}\n" * 500)  # hundreds of hours of game: only a stop ends it
    out = tmp_path / "start.state"
    calls = []
    with pytest.raises(KeyboardInterrupt):
        make_state(TEST_CARTRIDGE, inputs, out, stop=lambda: calls.append(1) or len(calls) > 3)
    assert len(calls) == 4 and not out.exists()
    # The script: PyBoy swallows a KeyboardInterrupt raised inside its tick, so Ctrl-C must be polled.
    rc, err = interrupt_when_ready("scripts/make_state.py", "--rom", str(TEST_CARTRIDGE), "--inputs",
                                   str(inputs), "--out", str(out), ready="playing")
    assert rc == 130 and "not written" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt"]  # no state, no temp file


def interrupt_when_ready(*args: str, ready: str) -> tuple[int, str]:
    """Run a script, send it SIGINT once it prints ``ready`` on stderr (its handler is installed by
    then); its exit code and stderr."""
    proc = subprocess.Popen([sys.executable, *args], cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if ready in line:
                break
        proc.send_signal(signal.SIGINT)
        lines.append(proc.communicate(timeout=60)[1])
        return proc.returncode, "".join(lines)
    finally:
        proc.kill()


def test_play_script_headless(tmp_path: Path) -> None:
    out = tmp_path / "played.state"
    args = ("scripts/play_gameboy.py", "--rom", str(TEST_CARTRIDGE), "--save-state", str(out),
            "--window", "null", "--max-frames", "150")
    proc = run_script(*args)
    assert proc.returncode == 0, proc.stderr
    g = make(1, state=out)
    try:
        assert where(g) == WORLD["start"]
    finally:
        g.close()
    again = run_script(*args)
    assert again.returncode == 2 and f"--save-state {out} exists; pass --force to replace it" in again.stderr
    # Ctrl-C ends a session like closing the window: the play is saved, not lost
    kept = tmp_path / "interrupted.state"
    rc, err = interrupt_when_ready(*args[:3], "--save-state", str(kept), *args[5:7], "--max-frames",
                                   "100000000", ready="playing:")
    assert rc == 0 and kept.exists(), err
    # A stop before play begins writes nothing: an old state is not replaced by a blank one
    kept.write_bytes(b"my state")
    with pytest.raises(KeyboardInterrupt):
        play(TEST_CARTRIDGE, kept, force=True, window="null", max_frames=10, stop=lambda: True)
    assert kept.read_bytes() == b"my state"


def test_play_refuses_a_bad_start_state_before_its_window_opens(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The window opened first, then the session ended with the state's error.
    from envs.gameboy import scripting

    opened = []
    monkeypatch.setattr(scripting, "_open_window", lambda *a: opened.append(a))
    bad = tmp_path / "bad.state"
    bad.write_bytes(b"not a state")
    with pytest.raises(ValueError, match="cannot be loaded"):
        play(TEST_CARTRIDGE, tmp_path / "out.state", state=bad, window="null", max_frames=10)
    assert opened == [] and not (tmp_path / "out.state").exists()


def test_play_refuses_an_existing_save_state_before_its_window_opens(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # README: an existing output without --force is refused before any play, not after the session
    # (where the refusal at the rename kept the play beside under another name).
    from envs.gameboy import scripting

    opened = []
    monkeypatch.setattr(scripting, "_open_window", lambda *a: opened.append(a))
    out = tmp_path / "old.state"
    out.write_bytes(b"my state")
    with pytest.raises(ValueError, match="exists; pass --force"):
        play(TEST_CARTRIDGE, out, window="null", max_frames=10)
    assert opened == [] and out.read_bytes() == b"my state" and list(tmp_path.iterdir()) == [out]


def test_boot_frames_with_a_start_state_is_refused(tmp_path: Path, scripts, capsys) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("boot 120\nright\n")
    state = tmp_path / "start.state"
    make_state(TEST_CARTRIDGE, inputs, state)
    refused = "boot_frames 300 is for booting the ROM, but a start state is given"  # it would be ignored
    with pytest.raises(ValueError, match=refused):
        make(1, state=state, boot_frames=300)
    with pytest.raises(ValueError, match=refused):
        GameBoy(1, game="depthfirst_test", state=state, boot_frames=300)
    make(1, state=state, boot_frames=120).close()  # the default: nothing is ignored
    GameBoy(1, game="depthfirst_test", state=state).close()
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "gameboy", "--game", "depthfirst_test", "--state", str(state),
                                   "--set", "env_kwargs.boot_frames=300", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert refused in err and "(change --set env_kwargs.boot_frames or --state)" in err and not run.exists()


def test_force_refuses_a_start_state_inside_the_run_it_replaces(tmp_path: Path, scripts, capsys) -> None:
    run = tmp_path / "run"
    (run / "eval-x").mkdir(parents=True)
    for name in ("config.yaml", "command.txt"):
        (run / name).write_text("env: gameboy\n")
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("boot 120\n")
    state = run / "eval-x" / "start.state"
    make_state(TEST_CARTRIDGE, inputs, state)
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    # The old run (with the state) was moved aside, so the new one said the state was not found.
    assert scripts.train_ppo.main(["--env", "gameboy", "--game", "depthfirst_test", "--state", str(state),
                                   "--run-dir", str(run), "--force"]) == 2
    err = capsys.readouterr().err
    assert f"--state {state} is inside --run-dir {run}, which --force replaces" in err
    assert "not found" not in err
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt", "run"]  # nothing moved aside


def _old_run_holding_a_rom(tmp_path: Path) -> tuple[Path, Path]:
    """A run folder (its config.yaml and command.txt) with a copy of the test cartridge inside it."""
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.yaml", "command.txt"):
        (run / name).write_text("env: gameboy\n")
    rom = run / "cart.gb"
    rom.write_bytes(TEST_CARTRIDGE.read_bytes())
    return run, rom


def test_force_refuses_a_rom_inside_the_run_it_replaces(tmp_path: Path, scripts, capsys) -> None:
    # Only a --state and a --config inside the replaced run were tried: a --rom kept there went unchecked.
    run, rom = _old_run_holding_a_rom(tmp_path)
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    assert scripts.train_ppo.main(["--env", "gameboy", "--game", "depthfirst_test", "--rom", str(rom),
                                   "--state", "none", "--run-dir", str(run), "--force"]) == 2
    assert f"--rom {rom} is inside --run-dir {run}, which --force replaces" in capsys.readouterr().err
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # nothing moved aside


def test_force_names_a_config_files_rom_inside_the_run(tmp_path: Path, scripts, capsys) -> None:
    # A --config file's env_kwargs.rom inside the replaced run was named "--rom", a flag not typed.
    run, rom = _old_run_holding_a_rom(tmp_path)
    config = tmp_path / "mine.yaml"
    config.write_text(f"env: gameboy\nenv_kwargs: {{game: depthfirst_test, rom: {rom}, state: none}}\n")
    assert scripts.train_ppo.main(["--config", str(config), "--run-dir", str(run), "--force"]) == 2
    err = capsys.readouterr().err
    assert f"--config {config}: env_kwargs.rom = {rom} is inside --run-dir {run}, which --force" in err
    assert "--rom" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml", "run"]  # nothing moved aside


def test_missing_state_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make_state"):
        make(1, state=tmp_path / "none.state")
    with pytest.raises(ValueError, match=r"--state .* is a folder; give the \.state file"):
        make(1, state=tmp_path)  # it exists: not "not found"


def test_a_rom_or_state_given_through_a_pipe_is_named_as_one(tmp_path: Path) -> None:
    # --rom <(...) and --state <(...) are refused (each worker and --resume read the file again), but as a
    # file "not found": the user looked for a missing file.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    once = r"pipe is a pipe \(bash's <\(\.\.\.\) or a FIFO\), which can be read only once, and the "
    with pytest.raises(RomError, match=rf"^pokemon_red: .*{once}ROM is read again .*; save its output to a "
                       "file and give that"):
        PokemonRed(num_envs=1, rom=fifo)
    with pytest.raises(RomError, match=rf"^gameboy/kirby: .*{once}ROM is read again"):
        GameBoy(num_envs=1, game="kirby", rom=fifo)
    with pytest.raises(RomError, match=r"^gameboy/kirby: /dev/null is a character device, not a file\."):
        GameBoy(num_envs=1, game="kirby", rom="/dev/null")
    with pytest.raises(ValueError, match=rf"^--state .*{once}start state is read again .*; save its output"):
        make(1, state=fifo)


def test_a_null_rom_is_pokemons_default_path_as_for_game_boy_games(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # A run's config.yaml (or a --config file) with rom: null was "rom must be a path, got None" here, where
    # GameBoy took roms/<game>.gb.
    from envs.gameboy.roms import RomError

    monkeypatch.chdir(tmp_path)  # no roms/ here
    with pytest.raises(RomError, match=r"no ROM file at roms/pokemon_red\.gb"):
        PokemonRed(num_envs=1, rom=None)


def test_state_none_boots_the_rom_in_the_env_as_on_the_command_line(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # gym.make(..., state="none") looked for a file named none, though --state none (and the env's own
    # boot_frames error: "boot the ROM instead with state none") means no start state.
    import gymnasium as gym

    monkeypatch.chdir(tmp_path)  # no file named none here
    booted = gym.make("depthfirst/PokemonRed-v0", rom=TEST_CARTRIDGE, state=None)
    try:
        first = booted.reset(seed=0)[0]
        for word in ("none", " NULL ", "None"):
            env = gym.make("depthfirst/PokemonRed-v0", rom=TEST_CARTRIDGE, state=word)
            try:
                assert env.unwrapped.game.state_path is None
                assert np.array_equal(env.reset(seed=0)[0], first)
            finally:
                env.close()
    finally:
        booted.close()
    make(1, state="none", boot_frames=3).close()  # a boot: its frames are not ignored
    with pytest.raises(FileNotFoundError, match="start state none not found"):
        make(1, state=Path("none"))  # a Path is a file


def test_an_unreadable_rom_or_state_is_named_not_a_traceback(tmp_path: Path, scripts, capsys,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # A file without read permission (chmod 000; root reads it anyway, hence the stand-in) raised a
    # PermissionError traceback from train_ppo, evaluate and the Python API.
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("boot 120\n")
    state = tmp_path / "start.state"
    make_state(TEST_CARTRIDGE, inputs, state)
    rom = tmp_path / "cart.gb"
    rom.write_bytes(TEST_CARTRIDGE.read_bytes())
    path_method_fails(monkeypatch, "read_bytes", lambda p: p.name in ("cart.gb", "start.state"),
                      PermissionError(errno.EACCES, "Permission denied"))
    with pytest.raises(RomError, match=f"pokemon_red: the ROM {rom} cannot be read \\(Permission denied\\)"):
        PokemonRed(1, rom=rom)
    with pytest.raises(RomError, match=f"gameboy/depthfirst_test: the ROM {rom} cannot be read "
                                       "\\(Permission denied\\)"):
        GameBoy(1, game="depthfirst_test", rom=rom)
    with pytest.raises(ValueError, match=f"--state {state} cannot be read \\(Permission denied\\)"):
        make(1, state=state)
    run = tmp_path / "run"
    for flags in (["--rom", str(rom), "--state", "none"], ["--state", str(state)]):
        assert scripts.train_ppo.main(["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), *flags,
                                       "--run-dir", str(run)]) == 2
        err = capsys.readouterr().err
        assert "cannot be read (Permission denied)" in err and "Traceback" not in err and not run.exists()


def test_an_input_without_end_is_refused_by_flag_not_read_until_the_memory_is_gone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # --rom /dev/zero was read whole: the memory filled until the kernel killed make_state (or play).
    from envs.gameboy import scripting

    monkeypatch.setattr(scripting, "MAX_INPUT_BYTES", 1 << 20)  # the test reads 1 MiB, not 64
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    out = tmp_path / "s.state"
    for rom, button_script, flag in ((Path("/dev/zero"), inputs, "--rom"),
                                     (TEST_CARTRIDGE, Path("/dev/zero"), "--inputs")):
        with pytest.raises(ValueError, match=rf"^{flag} /dev/zero holds more than 1 MiB, more than any ROM"):
            make_state(rom, button_script, out)
    with pytest.raises(ValueError, match=r"^--state /dev/zero holds more than 1 MiB"):
        play(TEST_CARTRIDGE, out, state="/dev/zero", window="null", max_frames=1)
    assert not out.exists()


def test_make_state_refuses_bad_roms_and_states_by_flag(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    junk = tmp_path / "junk.gb"
    junk.write_bytes(os.urandom(32768))
    proc = run_script("scripts/make_state.py", "--rom", str(junk), "--inputs", str(inputs),
                      "--out", str(tmp_path / "a.state"))
    assert proc.returncode == 2 and f"--rom {junk} is not a Game Boy ROM" in proc.stderr
    blank = tmp_path / "blank.gb"
    blank.write_bytes(b"")  # PyBoy logged "CRITICAL ROM file is empty!" before the error
    proc = run_script("scripts/make_state.py", "--rom", str(blank), "--inputs", str(inputs),
                      "--out", str(tmp_path / "a.state"))
    assert proc.returncode == 2
    assert proc.stderr == f"error: --rom {blank} is not a Game Boy ROM: the file is empty\n"
    empty = tmp_path / "empty.state"
    empty.write_bytes(b"")
    proc = run_script("scripts/make_state.py", "--rom", str(TEST_CARTRIDGE), "--inputs", str(inputs),
                      "--out", str(tmp_path / "b.state"), "--state", str(empty))
    assert proc.returncode == 2 and f"--state {empty} cannot be loaded" in proc.stderr
    assert not (tmp_path / "a.state").exists() and not (tmp_path / "b.state").exists()


def test_a_state_of_another_format_version_is_refused_not_hung(tmp_path: Path) -> None:
    # The first byte is PyBoy's state-format version. Damaged to 9, PyBoy read the rest as its old layout,
    # loaded it and then spun forever in its compiled frame loop (Ctrl-C could not stop it); run in a
    # child so the old code fails by timeout instead of hanging the suite.
    game = make(1)
    data = bytearray(save_emulator(game._pyboys[0]))
    game.close()
    bad = tmp_path / "bad.state"
    bad.write_bytes(bytes([9]) + data[1:])
    code = (f"from envs.gameboy.pokemon import PokemonRed\nPokemonRed(1, rom={str(TEST_CARTRIDGE)!r}, "
            f"state={str(bad)!r}).step([0])")
    proc = python_c(code, "a state with a damaged version byte hung the emulator")
    assert proc.returncode != 0
    expected = f"--state {bad} cannot be loaded: it is no state of this PyBoy (state format 9, this PyBoy"
    assert f"{expected} writes {data[0]})" in proc.stderr and "make_state.py" in proc.stderr
    good = tmp_path / "good.state"
    good.write_bytes(bytes(data))
    make(1, state=good).close()


def test_a_rom_given_as_the_state_is_named_as_a_rom_not_as_a_damaged_state(tmp_path: Path) -> None:
    # --rom and --state swapped: the cartridge was "no state of this PyBoy (state format 0, ...): damaged,
    # or saved by another PyBoy version", which sent its user to remake a state that was never one.
    rom = tmp_path / "pokemon_red.gb"
    rom.write_bytes(TEST_CARTRIDGE.read_bytes())
    with pytest.raises(ValueError) as err:
        make(1, state=rom)
    text = str(err.value)
    assert f"--state {rom} cannot be loaded: it is a Game Boy ROM, not a saved state (the --rom" in text
    assert "another PyBoy version" not in text
    assert "make it again" not in text  # a ROM was never a state to remake


def test_a_rom_record_given_as_the_state_is_named_as_one_not_as_a_damaged_state(
        tmp_path: Path, scripts, capsys: pytest.CaptureFixture) -> None:
    # --state start.state.json (a shell's completion stops there): "no state of this PyBoy (state format
    # 123, ...): damaged, or saved by another PyBoy version; make it again", for a state that is fine.
    boot, state = tmp_path / "boot.txt", tmp_path / "start.state"
    boot.write_text("boot 120\n")
    make_state(TEST_CARTRIDGE, boot, state)
    record = tmp_path / "start.state.json"
    said = (f"--state {record} cannot be loaded: it is the ROM record of a start state (the .json the "
            f"scripts write beside it), not a state: give the state itself, {state}")
    with pytest.raises(ValueError) as err:
        make(1, state=record)
    assert str(err.value) == said
    run = tmp_path / "run"
    argv = ["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--run-dir", str(run)]
    assert scripts.train_ppo.main([*argv, "--state", str(record)]) == 2
    assert capsys.readouterr().err == f"error: {said} (change --state)\n" and not run.exists()


def _refused_as_a_rom(path: Path, why: str) -> None:
    """``path`` given as --rom is refused naming what it is (``why``), not as a bad copy of a dump, by
    pokemon_red's check and by the gameboy env alike."""
    with pytest.raises(RomError) as err:  # --env pokemon_red
        check_rom(path)
    assert f"pokemon_red: {path} is not a Game Boy ROM: {why}." in str(err.value)
    assert "Copy your dump again" not in str(err.value) and "roms/README.md" in str(err.value)
    with pytest.raises(RomError, match=re.escape(f"{path} is not a Game Boy ROM: {why}")):
        GameBoy(num_envs=1, game="depthfirst_test", rom=path)  # --env gameboy


def test_a_state_given_as_the_rom_is_named_as_a_state_not_as_a_bad_copy(tmp_path: Path) -> None:
    # --rom and --state swapped the other way: the state was "not a whole number of 16 KiB banks ... Copy
    # your dump again", which sent its user to copy a ROM that was never given.
    state = cartridge_boot_state(tmp_path / "start.state")
    why = "a saved PyBoy state, not a ROM (the --state, given as --rom?)"
    _refused_as_a_rom(state, why)
    # Junk that starts with the state format byte is still judged as a bad copy.
    assert not_a_rom(state.read_bytes()[:1] + b"\xff" * 99) == "100 bytes, not a whole number of 16 KiB banks"


def test_a_states_rom_record_given_as_the_rom_is_named_as_one_not_as_a_bad_copy(tmp_path: Path) -> None:
    # --rom start.state.json (where a shell's completion stops) was "178 bytes, not a whole number of 16 KiB
    # banks ... Copy your dump again", as a state given as --rom was before it was named.
    boot, state = tmp_path / "boot.txt", tmp_path / "start.state"
    boot.write_text("boot 120\n")
    make_state(TEST_CARTRIDGE, boot, state)
    record = tmp_path / "start.state.json"
    why = ("the ROM record of a start state (the .json the scripts write beside it), not a ROM: give the ROM "
           "itself")
    _refused_as_a_rom(record, why)


def test_a_saved_state_is_told_by_each_of_its_flag_bytes_and_a_file_too_short_for_them_is_none() -> None:
    # The state format first, then the boot ROM flag (1), two bytes not judged, double speed (4), CGB (5),
    # each 0 or 1 in any state this PyBoy saves. A 5-byte file (the format byte first) holds no CGB flag.
    from pyboy.utils import STATE_VERSION

    from envs.gameboy.roms import saved_state

    head = bytes([STATE_VERSION, 0, 0x7F, 0x7F, 1, 0])
    assert saved_state(head)
    for i in (1, 4, 5):
        assert not saved_state(head[:i] + b"\x02" + head[i + 1:]), i
    assert not saved_state(bytes([(STATE_VERSION + 1) % 256]) + head[1:])  # another format: no state of this
    assert not saved_state(head[:5])
    assert not_a_rom(head[:5]) == "5 bytes, not a whole number of 16 KiB banks"


def script_module(name: str):
    """``scripts/<name>.py`` imported as a module of its own."""
    spec = importlib.util.spec_from_file_location(f"_script_{name}", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def script_main(name: str) -> Callable[[list[str]], int]:
    """A script's ``main``, run in-process: an error it does not catch fails the test as a traceback
    would fail its user."""
    return script_module(name).main


def test_a_full_disk_keeps_the_old_state_and_leaves_no_temp_file(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    old = tmp_path / "start.state"
    old.write_bytes(b"my state")

    def full_disk(self: Path, data: bytes) -> int:
        with open(self, "wb") as f:
            f.write(data[:len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match=r"--save-state .*start.state could not be written \(No space left"):
        play(TEST_CARTRIDGE, old, force=True, window="null", max_frames=10)
    assert old.read_bytes() == b"my state"
    with pytest.raises(OSError, match=r"--out .*start.state could not be written"):
        make_state(TEST_CARTRIDGE, inputs, old, force=True)
    assert old.read_bytes() == b"my state"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt", "start.state"]


def test_a_state_the_full_disk_refuses_leaves_no_folder_made_for_it(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # --out new/deep/start.state on a full disk: the error said nothing was written, and new/deep stayed.
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")

    def full_disk(self: Path, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match=r"--out .*start.state could not be written \(No space left"):
        make_state(TEST_CARTRIDGE, inputs, tmp_path / "new" / "deep" / "start.state")
    with pytest.raises(OSError, match=r"--save-state .*start.state could not be written \(No space left"):
        play(TEST_CARTRIDGE, tmp_path / "new" / "start.state", window="null", max_frames=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt"]

    def stopped(self: Path, data: bytes) -> int:  # a stop signal during the write: the stop, no folder left
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", stopped)
    with pytest.raises(KeyboardInterrupt):
        make_state(TEST_CARTRIDGE, inputs, tmp_path / "new" / "deep" / "start.state")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt"]


def test_a_state_not_written_removes_only_the_folders_it_made(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # A stop during the write left the folders made for the state too; an empty folder the user gave was
    # there before, and stays.
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")

    def stopped(self: Path, data: bytes) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", stopped)
    with pytest.raises(KeyboardInterrupt):
        make_state(TEST_CARTRIDGE, inputs, tmp_path / "new" / "deep" / "start.state")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt"]
    (tmp_path / "mine").mkdir()
    with pytest.raises(KeyboardInterrupt):
        make_state(TEST_CARTRIDGE, inputs, tmp_path / "mine" / "start.state")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt", "mine"]


def test_make_state_leaves_other_files_alone(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    mine = tmp_path / "start.state.tmp"  # a user's file that a fixed temp name would clobber
    mine.write_bytes(b"mine")
    make_state(TEST_CARTRIDGE, inputs, tmp_path / "start.state")
    assert mine.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt", "start.state", "start.state.json",
                                                          "start.state.tmp"]
    # --out a folder: refused before the play, nothing left beside it
    folder = tmp_path / "d"
    folder.mkdir()
    argv = ["--rom", str(TEST_CARTRIDGE), "--inputs", str(inputs), "--out", str(folder)]
    rc = script_main("make_state")(argv)
    err = capsys.readouterr().err
    assert rc == 2 and f"--out {folder} is a folder" in err and "playing" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "inputs.txt", "start.state",
                                                          "start.state.json", "start.state.tmp"]
    assert not any(folder.iterdir())


def test_an_output_that_is_an_input_is_refused_even_with_force(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    rom = tmp_path / "game.gb"
    rom.write_bytes(TEST_CARTRIDGE.read_bytes())
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    state = tmp_path / "start.state"
    make_state(rom, inputs, state)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    make = script_main("make_state")
    inputs_again = tmp_path / "sub" / ".." / "inputs.txt"  # "sub" made by the write: the same file
    for out, flag in ((rom, "--rom"), (inputs_again, "--inputs"), (state, "--state")):
        rc = make(["--rom", str(rom), "--inputs", str(inputs), "--state", str(state), "--out", str(out),
                   "--force"])
        assert rc == 2 and f"is the {flag} file" in capsys.readouterr().err
    play_main = script_main("play_gameboy")
    for out, flag in ((rom, "--rom"), (state, "--state")):
        rc = play_main(["--rom", str(rom), "--state", str(state), "--save-state", str(out), "--force",
                        "--window", "null", "--max-frames", "5"])
        assert rc == 2 and f"is the {flag} file" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_make_state_does_not_overwrite_a_state_written_meanwhile(tmp_path: Path) -> None:
    """Two runs on one --out: the one that finishes second is refused, not a silent overwrite."""
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    out = tmp_path / "start.state"

    def other_run_writes() -> bool:  # polled during the play, after the first check
        if not out.exists():
            out.write_bytes(b"the other run's state")
        return False

    appeared = f"--out {out} appeared while playing; pass --force to overwrite it"
    with pytest.raises(FileExistsError, match=f"^{re.escape(appeared)}$"):
        make_state(TEST_CARTRIDGE, inputs, out, stop=other_run_writes)
    assert out.read_bytes() == b"the other run's state"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt", "start.state"]


def test_make_state_does_not_replace_a_link_made_meanwhile(tmp_path: Path) -> None:
    # A link to a missing file does not "exist": one made at --out during the play was replaced silently.
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    out = tmp_path / "start.state"

    def other_run_links() -> bool:  # polled during the play, after the first check
        if not out.is_symlink():
            out.symlink_to(tmp_path / "elsewhere.state")
        return False

    appeared = f"--out {out} appeared while playing; pass --force to overwrite it"
    with pytest.raises(FileExistsError, match=f"^{re.escape(appeared)}$"):
        make_state(TEST_CARTRIDGE, inputs, out, stop=other_run_links)
    assert out.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt", "start.state"]


@pytest.mark.parametrize("force", [False, True])
def test_make_state_does_not_replace_a_state_written_as_it_renames(tmp_path: Path, monkeypatch, force: bool
                                                                    ) -> None:
    # Its check that --out is still free came before the rename: a state written between the two was replaced.
    from agents import outputs
    from envs.gameboy import scripting

    out, place = tmp_path / "start.state", outputs.place

    def other_run_writes_first(tmp: Path, final: Path, new: bool = False) -> None:
        if final == out:
            final.write_bytes(b"the other run's state")
        place(tmp, final, new)

    monkeypatch.setattr(outputs, "place", other_run_writes_first)
    with pytest.raises(FileExistsError, match="appeared while playing; pass --force") if not force else (
            contextlib.nullcontext()):
        scripting._write_state(out, b"mine", "--out", force, TEST_CARTRIDGE.read_bytes())
    assert out.read_bytes() == (b"mine" if force else b"the other run's state")
    # its ROM record with it, or neither
    assert sorted(p.name for p in tmp_path.iterdir()) == ["start.state", *["start.state.json"] * force]


def test_a_state_whose_record_cannot_be_placed_leaves_the_old_state_and_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The state was renamed into place first: a record whose rename then failed (a full folder: ENOSPC)
    # left the new state beside the old one's record, said "any file there before is unchanged".
    from agents import outputs

    inputs, out, record = tmp_path / "inputs.txt", tmp_path / "start.state", tmp_path / "start.state.json"
    inputs.write_text("wait 10\n")
    make_state(TEST_CARTRIDGE, inputs, out)
    before = {p: p.read_bytes() for p in (out, record)}
    inputs.write_text("wait 20\n")  # another state
    place = outputs.place

    failing = record

    def full(tmp: Path, final: Path, new: bool = False) -> None:
        if final == failing:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(final))
        place(tmp, final, new)

    monkeypatch.setattr(outputs, "place", full)
    with pytest.raises(OSError) as refused:
        make_state(TEST_CARTRIDGE, inputs, out, force=True)
    assert str(refused.value) == (f"--out {out} could not be written (No space left on device: {record}); "
                                  "any file there before is unchanged")
    assert {p: p.read_bytes() for p in (out, record)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt", "start.state", "start.state.json"]
    # The state's own rename failing after its record's: the old state stays, refused beside the new record,
    # which the message said was "unchanged"
    failing = out
    with pytest.raises(OSError) as refused:
        make_state(TEST_CARTRIDGE, inputs, out, force=True)
    assert str(refused.value) == (
        f"--out {out} could not be written (No space left on device); its ROM record {record} was replaced "
        "all the same (it is written first), so the state there before, which stays, is refused beside it as "
        f"another state's: write it again once the disk takes it, or delete {record} to load the old state "
        "unchecked")
    assert out.read_bytes() == before[out] and record.read_bytes() != before[record]
    with pytest.raises(ValueError, match=f"has a ROM record {re.escape(str(record))} of another state"):
        make(1, state=out)
    # No state there before: the record is left without one (a new state's without --force: none placed)
    out.unlink()
    record.unlink()
    with pytest.raises(OSError) as refused:
        make_state(TEST_CARTRIDGE, inputs, out)
    assert str(refused.value).endswith("any file there before is unchanged") and not record.exists()
    with pytest.raises(OSError) as refused:
        make_state(TEST_CARTRIDGE, inputs, out, force=True)
    assert str(refused.value) == (
        f"--out {out} could not be written (No space left on device); its ROM record {record} was written "
        "all the same (it is written first), with no state beside it: write the state again with --force "
        f"once the disk takes it, or delete {record}")
    assert not out.exists() and record.exists()


@pytest.mark.parametrize("force", [False, True])
def test_make_state_names_a_file_in_the_way_of_its_folder_not_a_state_that_appeared(tmp_path: Path,
                                                                                   force: bool) -> None:
    # A file made where --out's folder goes (after the check before the play) failed the folder's mkdir with
    # FileExistsError, which was said as "--out ... appeared while playing; pass --force", with --force too.
    from envs.gameboy import scripting

    (tmp_path / "states").write_text("a file, not a folder")
    out = tmp_path / "states" / "start.state"
    with pytest.raises(OSError) as e:
        scripting._write_state(out, b"mine", "--out", force, TEST_CARTRIDGE.read_bytes())
    assert str(e.value) == (f"--out {out} could not be written (File exists: {tmp_path / 'states'}); any "
                            "file there before is unchanged")
    assert [p.name for p in tmp_path.iterdir()] == ["states"]


def test_the_scripts_say_what_they_wrote(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # Only "wrote" was checked: the size, the frame count or the ROM's SHA-1 could be any figure.
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 7\nright 3\n")
    sha1 = hashlib.sha1(TEST_CARTRIDGE.read_bytes()).hexdigest()
    frames = make_state(TEST_CARTRIDGE, inputs, tmp_path / "ref.state")["frames"]
    out = tmp_path / "out.state"
    assert script_main("make_state")(["--rom", str(TEST_CARTRIDGE), "--inputs", str(inputs),
                                      "--out", str(out)]) == 0
    said = capsys.readouterr()
    assert said.out == (f"wrote {out} ({out.stat().st_size} bytes) after {frames} frames; "
                        f"ROM SHA-1 {sha1}, recorded in {out}.json\n")
    assert f"playing {inputs} on {TEST_CARTRIDGE}" in said.err
    saved = tmp_path / "saved.state"
    assert script_main("play_gameboy")(["--rom", str(TEST_CARTRIDGE), "--save-state", str(saved),
                                        "--window", "null", "--max-frames", "6"]) == 0
    said = capsys.readouterr()
    assert said.out == f"saved {saved} after 6 frames; ROM SHA-1 {sha1}, recorded in {saved}.json\n"
    assert saved.is_file() and json.loads((tmp_path / "saved.state.json").read_text())["rom_sha1"] == sha1
    assert f"save the state to {saved}" in said.err
    # --max-frames 1 (a window closed at once) said "after 1 frames"
    assert script_main("play_gameboy")(["--rom", str(TEST_CARTRIDGE), "--save-state", str(saved), "--force",
                                        "--window", "null", "--max-frames", "1"]) == 0
    assert capsys.readouterr().out.startswith(f"saved {saved} after 1 frame; ")


def test_play_gameboy_passes_its_options_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture) -> None:
    # --scale reached no test (a null window has no size): a fixed scale passed the suite.
    module = script_module("play_gameboy")
    seen: dict = {}

    def fake_play(rom, save_state, **kwargs):
        seen.update(rom=rom, save_state=save_state, **kwargs)
        return {"out": str(save_state), "frames": 0, "rom_sha1": "0"}

    monkeypatch.setattr(module, "play", fake_play)
    argv = ["--rom", "a.gb", "--save-state", "b.state"]
    assert module.main([*argv, "--scale", "5", "--state", "s.state", "--force"]) == 0
    assert (seen["rom"], seen["save_state"], seen["scale"], seen["state"], seen["force"]) == (
        "a.gb", "b.state", 5, "s.state", True)
    assert (seen["window"], seen["max_frames"]) == ("SDL2", None)  # a window, played until closed
    assert module.main(argv) == 0
    assert (seen["scale"], seen["state"], seen["force"]) == (3, None, False)  # the defaults --help states
    capsys.readouterr()

    def stopped_before_play(*args, **kwargs):  # play's KeyboardInterrupt: a stop before the first frame
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "play", stopped_before_play)
    assert module.main(argv) == 130
    assert capsys.readouterr().err == "interrupted before play began: b.state not written\n"


def test_make_state_says_which_out_a_ctrl_c_left_unwritten(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    module = script_module("make_state")

    def stopped(*args, **kwargs):  # make_state's KeyboardInterrupt: a stop before anything is written
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "make_state", stopped)
    assert module.main(["--rom", "a.gb", "--inputs", "i.txt", "--out", "o.state"]) == 130
    assert capsys.readouterr().err == "interrupted: o.state not written\n"


def test_play_gameboy_takes_a_scale_up_to_max_scale(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    module = script_module("play_gameboy")
    seen: dict = {}
    monkeypatch.setattr(module, "play", lambda rom, save_state, **kwargs: seen.update(kwargs) or {
        "out": str(save_state), "frames": 0, "rom_sha1": "0"})
    argv = ["--rom", "a.gb", "--save-state", "b.state", "--scale"]
    assert module.main([*argv, "30"]) == 0 and seen["scale"] == 30
    with pytest.raises(SystemExit):
        module.main([*argv, "31"])
    assert "at most 30" in capsys.readouterr().err


def test_scripts_name_the_flag_of_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("wait 10 # réglé\n".encode("latin-1"))
    junk = tmp_path / "junk.gb"
    junk.write_bytes(os.urandom(32768))
    empty = tmp_path / "empty.gb"
    empty.write_bytes(b"")
    afile = tmp_path / "afile"
    afile.write_bytes(b"")
    rom, out, save = str(TEST_CARTRIDGE), str(tmp_path / "x.state"), str(tmp_path / "y.state")
    make_cases = [
        (["--rom", str(folder), "--inputs", str(inputs), "--out", out], f"--rom {folder} is a folder"),
        (["--rom", rom, "--inputs", str(folder), "--out", out], f"--inputs {folder} is a folder"),
        (["--rom", rom, "--inputs", str(inputs), "--state", str(folder), "--out", out],
         f"--state {folder} is a folder"),
        # A Latin-1 comment was "not a text file; give the button script": it is the button script, and
        # the change is its encoding.
        (["--rom", rom, "--inputs", str(latin1), "--out", out],
         f"--inputs {latin1} is not UTF-8 (byte 11 is not): save the button script as UTF-8"),
        (["--rom", rom, "--inputs", str(inputs), "--out", str(afile / "x.state")],
         f"{afile} is not a folder"),
    ]
    null = ["--window", "null", "--max-frames", "5"]
    play_cases = [
        (["--rom", str(folder), "--save-state", save, *null], f"--rom {folder} is a folder"),
        (["--rom", str(junk), "--save-state", save, *null], f"--rom {junk} is not a Game Boy ROM"),
        (["--rom", str(empty), "--save-state", save, *null], f"--rom {empty} is not a Game Boy ROM"),
        (["--rom", rom, "--save-state", str(folder), "--force", *null], f"--save-state {folder} is a folder"),
    ]
    for main, cases in ((script_main("make_state"), make_cases), (script_main("play_gameboy"), play_cases)):
        for argv, message in cases:
            rc = main(argv)
            err = capsys.readouterr().err
            assert rc == 2 and message in err and "playing" not in err, (argv, err)
    for scale in ("0", "-2"):
        with pytest.raises(SystemExit):
            script_main("play_gameboy")(["--rom", rom, "--save-state", save, "--scale", scale, *null])
        assert "argument --scale: must be >= 1" in capsys.readouterr().err
    for scale in ("31", "1e12"):  # 1e12 was "the game window could not be opened": run it on a desktop
        with pytest.raises(SystemExit):
            script_main("play_gameboy")(["--rom", rom, "--save-state", save, "--scale", scale, *null])
        err = capsys.readouterr().err
        assert ("argument --scale: must be at most 30 (the window is 160x144 pixels times it), "
                f"got {scale}") in err
    with pytest.raises(SystemExit):  # it played no frame and saved the start as a "session"
        script_main("play_gameboy")(["--rom", rom, "--save-state", save, "--window", "null",
                                     "--max-frames", "-1"])
    assert "argument --max-frames: must be >= 0" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "d", "empty.gb", "inputs.txt", "junk.gb",
                                                          "latin1.txt"]
    assert not any(folder.iterdir())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is for Linux")
def test_play_refuses_to_open_a_window_without_a_display(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    out = tmp_path / "played.state"
    proc = subprocess.run([sys.executable, "scripts/play_gameboy.py", "--rom", str(TEST_CARTRIDGE),
                           "--save-state", str(out), "--max-frames", "10"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no display" in proc.stderr and "make_state.py" in proc.stderr
    assert "playing" not in proc.stderr and not out.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SDL's fallback drivers as on Linux")
def test_play_refuses_a_window_that_no_display_shows(tmp_path: Path) -> None:
    # A DISPLAY whose X server is gone (left set in a tmux or ssh session): SDL fell back to its
    # offscreen driver and the session played, unseen, until killed. A video driver that is not there
    # raised PyBoy's traceback.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    out = tmp_path / "played.state"
    for extra, said in (({"DISPLAY": ":4242"}, "no display answered (DISPLAY=:4242)"),
                        ({"SDL_VIDEODRIVER": "x11"}, "the game window could not be opened")):
        proc = subprocess.run([sys.executable, "scripts/play_gameboy.py", "--rom", str(TEST_CARTRIDGE),
                               "--save-state", str(out), "--max-frames", "10"],
                              cwd=REPO, env={**env, **extra}, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and said in proc.stderr and "make_state.py" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and "playing" not in proc.stderr and not out.exists()


def test_gymnasium_make_and_make_env_pass_the_game_option_through() -> None:
    import gymnasium as gym

    env = gym.make("depthfirst/GameBoy-v0", game="depthfirst_test", rom=str(TEST_CARTRIDGE))
    try:
        assert env.unwrapped.game.game == "depthfirst_test"  # not the env's own name
        assert env.reset(seed=0)[0].shape == env.observation_space.shape
    finally:
        env.unwrapped.game.close()
    env = envs.make_env("gameboy", game="depthfirst_test", rom=str(TEST_CARTRIDGE))  # once a TypeError
    try:
        assert env.game.game == "depthfirst_test"
    finally:
        env.game.close()


def test_a_session_that_cannot_be_saved_where_asked_is_kept_beside(tmp_path: Path) -> None:
    out = tmp_path / "played.state"

    def someone_else_writes() -> None:  # --save-state appears while the person plays (no --force)
        out.write_bytes(b"another state")

    with pytest.raises(OSError, match=r"the session was saved to .*unsaved") as exc:
        play(TEST_CARTRIDGE, out, window="null", max_frames=30, started=someone_else_writes)
    kept = Path(str(exc.value).rsplit(" saved to ", 1)[1].removesuffix(" instead"))
    assert out.read_bytes() == b"another state" and kept.parent == tmp_path
    record = json.loads(Path(f"{kept}.json").read_text())  # with its ROM record
    assert record["rom_sha1"] == hashlib.sha1(TEST_CARTRIDGE.read_bytes()).hexdigest()
    g = make(1, state=kept)  # the play is there, and loads
    g.close()


def test_a_session_kept_beside_never_takes_the_name_of_one_kept_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An earlier play_gameboy run's session kept beside is still there (or this process's own, or one of a
    # process whose id is used again): a name taken was the next session's loss, with the first refusal.
    out = tmp_path / "played.state"
    kept = []
    for pid in (1, None, None):  # an earlier process, then this one twice (play() again in one process)
        out.unlink(missing_ok=True)
        with monkeypatch.context() as m:
            if pid is not None:
                m.setattr(os, "getpid", lambda pid=pid: pid)
            with pytest.raises(OSError, match=r"the session was saved to .*unsaved") as exc:
                play(TEST_CARTRIDGE, out, window="null", max_frames=30,
                     started=lambda: out.write_bytes(b"another state"))
        kept.append(Path(str(exc.value).rsplit(" saved to ", 1)[1].removesuffix(" instead")))
    assert len(set(kept)) == 3 and all(k.is_file() for k in kept)


def test_make_state_stopped_during_the_save_writes_nothing(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # Ctrl-C after the last input (while the state is saved): still nothing written, as the docstring says
    from envs.gameboy import scripting

    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    out = tmp_path / "start.state"
    saved = []

    def save_then_ctrl_c(pb: object) -> bytes:
        saved.append(1)
        return save_emulator(pb)

    monkeypatch.setattr(scripting, "save_emulator", save_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        make_state(TEST_CARTRIDGE, inputs, out, stop=lambda: bool(saved))
    assert saved == [1]  # the inputs all played: only the stop after them ended it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.txt"]  # no state, no temp file


def test_make_state_stopped_as_its_state_is_renamed_keeps_it(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The state is the command's last output: a Ctrl-C during its rename is dropped (under stop_requested
    nothing is raised after it), not a KeyboardInterrupt that has make_state.py say it wrote nothing."""
    import os
    import signal

    from agents.interrupts import stop_requested

    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    out = tmp_path / "start.state"
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        signal.raise_signal(signal.SIGINT)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with stop_requested() as stop:
        make_state(TEST_CARTRIDGE, inputs, out, stop=stop)
    assert out.stat().st_size > 0


def test_make_state_summary_gives_the_size_of_the_state_it_wrote(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    out = tmp_path / "start.state"
    summary = make_state(TEST_CARTRIDGE, inputs, out)
    assert summary["bytes"] == out.stat().st_size > 0
    assert summary["frames"] == 11 and summary["out"] == str(out)


def test_play_checks_the_display_as_the_environment_says(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from envs.gameboy import scripting

    class Opened(Exception):
        pass

    def open_window(*args: object) -> None:
        raise Opened

    monkeypatch.setattr(scripting, "_open_window", open_window)
    for key in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    out = tmp_path / "played.state"
    with pytest.raises(ValueError, match=r"no display .*DISPLAY and WAYLAND_DISPLAY are unset.*make_state"):
        play(TEST_CARTRIDGE, out, window="SDL2")  # refused before the ROM's check, the window or the play
    for window in ("null", "headless", "dummy"):  # windows that need no display
        with pytest.raises(Opened):
            play(TEST_CARTRIDGE, out, window=window)
    for key, value in (("DISPLAY", ":0"), ("WAYLAND_DISPLAY", "wayland-0"), ("SDL_VIDEODRIVER", "x11")):
        with monkeypatch.context() as m:
            m.setenv(key, value)
            with pytest.raises(Opened):
                play(TEST_CARTRIDGE, out, window="SDL2")
    monkeypatch.setattr(sys, "platform", "darwin")  # macOS and Windows show windows without DISPLAY
    with pytest.raises(Opened):
        play(TEST_CARTRIDGE, out, window="SDL2")
    assert not out.exists()


@pytest.mark.skipif(importlib.util.find_spec("OpenGL") is not None, reason="PyOpenGL is installed")
def test_a_window_whose_package_is_missing_is_named_with_the_package_to_install() -> None:
    from envs.gameboy import scripting

    missing = r"^--window OpenGL needs a package that is not installed \(.*PyOpenGL.*\): install it, or leave"
    with pytest.raises(ValueError, match=missing):
        scripting._open_window(core.load_pyboy_class(), TEST_CARTRIDGE.read_bytes(), "OpenGL", 1)


def test_play_saves_the_session_when_the_person_closes_the_window(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """PyBoy's tick() turns false when the window is closed: play stops there and saves, not at max_frames."""
    from envs.gameboy import scripting

    ticks = []

    class Closed:  # the window, closed by the person after two frames
        def __init__(self, pb: Any) -> None:
            self.pb = pb

        def __getattr__(self, name: str) -> Any:
            return getattr(self.pb, name)

        def tick(self) -> bool:
            ticks.append(1)
            return len(ticks) < 3 and self.pb.tick()

    real = scripting._open_window
    monkeypatch.setattr(scripting, "_open_window", lambda *a: Closed(real(*a)))
    out = tmp_path / "played.state"
    play(TEST_CARTRIDGE, out, window="null", max_frames=1000)
    assert len(ticks) == 4 and out.is_file()  # the one after the close releases every button


def test_play_saves_no_button_the_person_still_held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyBoy's state holds the joypad (interaction.py save_state): a session closed, or stopped with Ctrl-C,
    while the person held an arrow saved it held, and every episode from that state walked on by itself."""
    from envs.gameboy import scripting

    class Held:  # the window, closed by the person while holding the right arrow
        def __init__(self, pb: Any) -> None:
            self.pb, self.frames = pb, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.pb, name)

        def tick(self, *args: Any) -> bool:
            self.frames += 1
            if self.frames == GameBoy.BOOT_FRAMES:
                self.pb.button_press("right")
            return self.pb.tick(*args) and self.frames < GameBoy.BOOT_FRAMES + 2

    real = scripting._open_window
    monkeypatch.setattr(scripting, "_open_window", lambda *a: Held(real(*a)))
    out = tmp_path / "played.state"
    play(TEST_CARTRIDGE, out, window="null", max_frames=1000)
    g = make(1, state=out)
    try:
        start = where(g)
        for _ in range(3):
            act(g, A)  # a button with no effect on the map: nothing else may move the player
        assert where(g) == start
    finally:
        g.close()


def test_out_of_range_action_is_refused(game: PokemonRed) -> None:
    # -1 used to press ACTION_NAMES[-1] ("start") without a word.
    fresh(game)
    steps = game.get_state(0)["step"]
    for bad in (-1, len(PokemonRed.ACTION_NAMES)):
        with pytest.raises(ValueError, match=r"actions must be in 0\.\.6"):
            game.step(np.array([UP, bad]))
    assert game.get_state(0)["step"] == steps


def test_memory_and_screen_refuse_a_board_that_is_not_one(game: PokemonRed) -> None:
    # Unchecked, memory(2) of two boards was a bare IndexError and memory(-1) the last board's RAM.
    for method in (game.memory, game.screen):
        refused = rf"{method.__name__}: the board must be an integer in 0\.\.1 "
        for bad in (-1, 2, True):
            with pytest.raises(ValueError, match=refused):
                method(bad)


def test_an_observation_thinner_than_its_channels_is_refused() -> None:
    # SB3 takes the smallest axis of an image for its channels: (9, 4, 80) would be transposed, the frames
    # read as image columns.
    with pytest.raises(ValueError, match=r"4x80 is smaller than its 9 channels \(frame_stack 8 \+ 1"):
        make(1, obs_size=[4, 80], frame_stack=8)
    with pytest.raises(ValueError, match=r"obs_size 80x2 is smaller than its 3 channels \(frame_stack 3\)"):
        make(1, obs_size=[80, 2], frame_stack=3, visited_mask=False)
    make(1, obs_size=[3, 80], frame_stack=2).close()  # channels == height: SB3 reads channels first


def test_an_unusable_archive_folder_is_named(tmp_path: Path) -> None:
    """A file where the archive folder should be, or a damaged index, is refused naming archive_dir
    (it was a FileExistsError / sqlite3 traceback)."""
    in_the_way = tmp_path / "archive"
    in_the_way.write_text("not a folder")
    with pytest.raises(ValueError, match=r"archive_dir .*archive cannot hold the archive"):
        make(1, archive_dir=in_the_way)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "index.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(ValueError, match=r"archive_dir .*damaged cannot hold the archive"):
        make(1, archive_dir=damaged)
    # An index.sqlite of another program, whose "states" table is not the archive's: a sqlite3
    # OperationalError traceback at the first read.
    alien = tmp_path / "alien"
    alien.mkdir()
    with contextlib.closing(sqlite3.connect(alien / "index.sqlite")) as db:
        db.execute("CREATE TABLE states (id INTEGER PRIMARY KEY, name TEXT)")
        db.commit()
    with pytest.raises(ValueError, match=r"archive_dir .*alien cannot hold the archive .*no such column"):
        make(1, archive_dir=alien)


def test_an_index_that_cannot_be_made_on_opening_is_named_by_sqlites_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index SQLite cannot make where none was (a folder it may not write, a full disk) is refused with
    SQLite's reason, not as an index "deleted or moved while in use": none was in use."""
    from envs.gameboy import archive as archive_module
    from envs.gameboy.archive import ArchiveError, StateArchive

    def refused(*args: object, **kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(archive_module.sqlite3, "connect", refused)
    with pytest.raises(ArchiveError, match=r"\(index.sqlite: unable to open database file\)") as caught:
        StateArchive(tmp_path / "archive", "sha")
    assert caught.value.reason == "index.sqlite: unable to open database file"


def test_an_archive_index_deleted_or_damaged_in_use_is_an_archive_error(tmp_path: Path) -> None:
    """Deleted while the archive was in use, index.sqlite was made again empty by the next connection, and
    the read or write failed with a bare sqlite3 "no such table: states"; a damaged one likewise."""
    import pickle

    from envs.gameboy.archive import ArchiveError, StateArchive

    archive = StateArchive(tmp_path, "sha")
    archive.add(b"x", "pokemon_red", (0, 1, 1), 3, 5, 10, 1.0)
    archive.index.unlink()
    for call in (archive.restart_files, lambda: archive.add(b"y", "pokemon_red", (0, 2, 1), 3, 5, 10, 1.0),
                 archive.entries):
        with pytest.raises(ArchiveError, match=r"archive_dir .* cannot hold the archive of milestone states "
                                               r"\(its index.sqlite was deleted or moved while in use\)"):
            call()
    assert not archive.index.exists() and not list(tmp_path.glob("*_e0002_*"))  # nothing made in its place
    archive.index.write_bytes(b"junk" * 1024)
    with pytest.raises(ArchiveError, match=r"\(index.sqlite: file is not a database\)"):
        archive.restart_files()
    # A worker process sends it to the training process, which advises from its folder and reason.
    e = pickle.loads(pickle.dumps(ArchiveError(tmp_path, "why")))
    assert (e.folder, e.reason, str(e)) == (tmp_path, "why", str(ArchiveError(tmp_path, "why")))


def test_an_archive_index_replaced_in_use_is_an_archive_error(tmp_path: Path) -> None:
    """An index.sqlite deleted and made again (another run opening the folder made an empty one), or replaced
    by an older copy, while the archive was in use went unnoticed: its reads skip the rows at or below the
    highest id read from the first index, so the archive restarted from rows no longer listed and never saw
    the new index's first rows, its own writes included."""
    import os
    import sqlite3

    from envs.gameboy.archive import ArchiveError, StateArchive

    archive = StateArchive(tmp_path / "a", "sha")
    for events in (1, 2):
        archive.add(b"x", "pokemon_red", (0, events, 1), 3, 5, 10, 1.0)
    assert archive.restart_files() is not None
    with sqlite3.connect(archive.index) as db:  # rows deleted by hand: the same index, still usable
        db.execute("DELETE FROM states WHERE event_flags = 2")
    assert archive.restart_files(warn=False) is not None
    archive.index.unlink()
    StateArchive(tmp_path / "a", "sha").add(b"y", "pokemon_red", (0, 3, 1), 3, 5, 10, 1.0)
    with pytest.raises(ArchiveError, match=r"archive_dir .*a cannot hold the archive of milestone states "
                                           r"\(its index.sqlite was replaced by another while in use\)"):
        archive.restart_files()
    StateArchive(tmp_path / "b", "sha")
    os.replace(tmp_path / "b" / "index.sqlite", archive.index)  # an empty archive's index moved in
    with pytest.raises(ArchiveError, match="replaced by another while in use"):
        archive.restart_files()


def test_an_archive_index_replaced_by_one_with_more_rows_is_an_archive_error(tmp_path: Path) -> None:
    """Only an index whose row counter was below the highest id read was taken for a replacement: one with
    more rows moved in went unnoticed, its rows up to that id never read. Each index has an identity of its
    own, given at its making; an index of an older version, without one, gets one when opened."""
    from envs.gameboy.archive import ArchiveError, StateArchive

    archive = StateArchive(tmp_path / "a", "sha")
    archive.add(b"x", "pokemon_red", (0, 1, 1), 3, 5, 10, 1.0)
    assert archive.restart_files() is not None
    other = StateArchive(tmp_path / "b", "sha")
    for events in (2, 3):
        other.add(b"y", "pokemon_red", (0, events, 1), 3, 5, 10, 1.0)
    os.replace(other.index, archive.index)
    with pytest.raises(ArchiveError, match=r"\(its index.sqlite was replaced by another while in use\)"):
        archive.restart_files()
    # An older version's index (no identity) is given one on opening; moved in, it is a replacement too.
    old = StateArchive(tmp_path / "c", "sha")
    for events in (2, 3):
        old.add(b"y", "pokemon_red", (0, events, 1), 3, 5, 10, 1.0)
    with sqlite3.connect(old.index) as db:
        db.execute("DROP TABLE meta")
    reopened = StateArchive(tmp_path / "c", "sha")
    assert reopened.restart_files() is not None and reopened.restart_files() is not None
    with sqlite3.connect(old.index) as db:  # an older version's index with the same rows in its place
        db.execute("DROP TABLE meta")
    with pytest.raises(ArchiveError, match="replaced by another while in use"):
        reopened.restart_files()


def test_an_archive_add_into_an_index_replaced_in_use_is_an_archive_error(tmp_path: Path) -> None:
    """Only reads checked the index's identity, so a run given archive_dir without --swarm (which reads
    the archive only when it opens it) wrote its states and rows into whatever index was put in the old
    one's place, another archive's or an older copy, and never stopped as the README says. add refuses
    now and leaves nothing in the folder."""
    import shutil

    from envs.gameboy.archive import ArchiveError, StateArchive

    archive = StateArchive(tmp_path / "a", "sha")
    archive.add(b"x", "pokemon_red", (0, 1, 1), 3, 5, 10, 1.0)
    shutil.copy(archive.index, tmp_path / "older.sqlite")
    archive.add(b"x", "pokemon_red", (0, 2, 1), 3, 5, 10, 1.0)
    assert archive.restart_files() is not None  # as a run opening its archive reads it
    files = sorted((tmp_path / "a").iterdir())
    other = StateArchive(tmp_path / "b", "sha")
    for replacement, rows in ((other.index, 0), (tmp_path / "older.sqlite", 1)):
        os.replace(replacement, archive.index)
        with pytest.raises(ArchiveError, match=r"\(its index.sqlite was replaced by another while in use\)"):
            archive.add(b"y", "pokemon_red", (0, 3, 1), 3, 5, 10, 1.0)
        with sqlite3.connect(archive.index) as db:
            assert db.execute("SELECT COUNT(*) FROM states").fetchone() == (rows,)
        assert sorted((tmp_path / "a").iterdir()) == files


def test_an_archive_add_into_an_older_copy_of_its_index_is_an_archive_error(tmp_path: Path) -> None:
    """add compared the index's row counter with the highest id read only, so a writer that had not read
    the rows it wrote (a run without --swarm, which reads only what was there when it opened the archive:
    none in a new one) wrote on into an older copy of its index put back, reusing the ids of the rows it
    had lost. The ids it wrote count as seen too."""
    import shutil

    from envs.gameboy.archive import ArchiveError, StateArchive

    archive = StateArchive(tmp_path / "a", "sha")  # opened new: no rows read
    archive.add(b"x", "pokemon_red", (0, 1, 1), 3, 5, 10, 1.0)
    shutil.copy(archive.index, tmp_path / "older.sqlite")
    archive.add(b"x", "pokemon_red", (0, 2, 1), 3, 5, 10, 1.0)
    files = sorted((tmp_path / "a").iterdir())
    os.replace(tmp_path / "older.sqlite", archive.index)
    with pytest.raises(ArchiveError, match=r"\(its index.sqlite was replaced by another while in use\)"):
        archive.add(b"y", "pokemon_red", (0, 3, 1), 3, 5, 10, 1.0)
    assert sorted((tmp_path / "a").iterdir()) == files
    # Another writer's rows raise the counter past this one's: the same index, still written.
    StateArchive(tmp_path / "b", "sha").add(b"x", "pokemon_red", (0, 1, 1), 3, 5, 10, 1.0)
    first, second = StateArchive(tmp_path / "b", "sha"), StateArchive(tmp_path / "b", "sha")
    for events in (2, 3):
        first.add(b"x", "pokemon_red", (0, events, 1), 3, 5, 10, 1.0)
        second.add(b"x", "pokemon_red", (0, events, 1), 3, 5, 10, 1.0)
    chosen = first.restart_files()
    assert chosen is not None and chosen[0] == (0, 3, 1) and len(chosen[1]) == 2
    # A reader of rows others wrote sees an older copy put back by those ids.
    shutil.copy(first.index, tmp_path / "older.sqlite")
    second.add(b"x", "pokemon_red", (0, 4, 1), 3, 5, 10, 1.0)
    reader = StateArchive(tmp_path / "b", "sha")
    assert reader.restart_files() is not None
    os.replace(tmp_path / "older.sqlite", reader.index)
    with pytest.raises(ArchiveError, match="replaced by another while in use"):
        reader.restart_files()


def test_an_archive_folder_deleted_in_use_is_an_archive_error(tmp_path: Path) -> None:
    """add's temp file in the deleted folder was a bare FileNotFoundError, which training does not take for
    the archive's (agents/train.py saves a checkpoint and advises on an ArchiveError only)."""
    import shutil

    from envs.gameboy.archive import ArchiveError, StateArchive

    folder = tmp_path / "archive"
    archive = StateArchive(folder, "sha")
    shutil.rmtree(folder)
    with pytest.raises(ArchiveError, match=r"archive_dir .* cannot hold the archive of milestone states "
                                           r"\(the folder was deleted or moved while in use\)"):
        archive.add(b"x", "pokemon_red", (0, 1, 1), 3, 5, 10, 1.0)
    with pytest.raises(ArchiveError, match=r"was deleted or moved while in use"):
        archive.restart_files()
    assert not folder.exists()  # nothing made in its place


def test_an_archive_add_on_a_full_disk_is_not_called_a_deleted_folder(tmp_path: Path, monkeypatch) -> None:
    # Only a missing folder is named so: a full disk stays the OSError every write raises (runs name it).
    import errno

    from envs.gameboy.archive import StateArchive

    archive = StateArchive(tmp_path / "archive", "sha")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "open", disk_full)
    with pytest.raises(OSError, match="No space left on device") as raised:
        archive.add(b"x", "pokemon_red", (0, 1, 1), 3, 5, 10, 1.0)
    assert raised.type is OSError


def test_a_worker_on_an_unusable_archive_raises_the_archive_error(tmp_path: Path) -> None:
    """A worker whose archive failed mid-training, or one restarted on a damaged archive, was reported as
    "worker 0 failed on 'reset'" or "failed to start" with its traceback, which the training script did
    not turn into advice: the ArchiveError itself comes through."""
    from envs.gameboy.archive import ArchiveError

    folder = tmp_path / "archive"
    v = envs.make_vec("pokemon_red", 2, num_workers=1, seed=0, rom=TEST_CARTRIDGE, max_steps=64,
                      archive_dir=folder, swarm=True, swarm_prob=1.0)
    try:
        v.reset()
        (folder / "index.sqlite").unlink()
        with pytest.raises(ArchiveError, match=r"its index\.sqlite was deleted or moved while in use"):
            v.reset()  # the swarm restarts read the index
        (folder / "index.sqlite").write_bytes(b"junk" * 1024)
        os.kill(v.worker_pids()[0], signal.SIGKILL)
        with pytest.raises(ArchiveError, match=r"archive_dir .*archive cannot hold .*file is not a database"):
            v.get_attr("swarm")  # the worker found dead is restarted, and opens the archive
    finally:
        v.close()


def test_two_archive_writers_never_share_a_file_name(tmp_path: Path) -> None:
    """Two archive objects in one process (a game made again, as after a worker restart) archiving the
    same milestone keep two files: named by pid and a per-object counter, the second replaced the
    first's file, and both index rows then named one state."""
    from envs.gameboy.archive import StateArchive

    first, second = StateArchive(tmp_path, "sha"), StateArchive(tmp_path, "sha")
    a = first.add(b"first", "pokemon_red", (0, 1, 1), 3, 5, 10, 1.0)
    b = second.add(b"second", "pokemon_red", (0, 1, 1), 4, 5, 12, 1.0)
    assert a != b and a.read_bytes() == b"first" and b.read_bytes() == b"second"
    assert first.restart_files() == ((0, 1, 1), [a, b])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["index.sqlite", a.name, b.name])


_WRITER = """
import os, signal, sys
from envs.gameboy.archive import StateArchive
archive = StateArchive(sys.argv[1], "sha")
rename = os.replace
def stop_before_the_rename(src, dst):
    if sys.argv[2] == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    print("writing", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    rename(src, dst)
os.replace = stop_before_the_rename
archive.add(b"x" * 1000, "pokemon_red", (0, 1, 1), 3, 5, 10, 1.0)
"""


def test_a_dead_writers_temp_file_is_removed_on_nfs_too(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The clean-up locks a temp file it opened to read: NFS (flock emulated by byte-range locks) refused its
    exclusive lock with EBADF, so a dead writer's file stayed for good."""
    from envs.gameboy.archive import StateArchive
    from tests.agents.test_runs import flock_as_on_nfs

    archive = StateArchive(tmp_path, "sha")
    dead = tmp_path / f"b00_e0001_m001_{'5' * 32}.tmp"
    dead.write_bytes(b"x" * 100)  # bytes in it and no lock held: its writer died
    flock_as_on_nfs(monkeypatch)
    assert archive.remove_stale_temps() == [dead] and not dead.exists()


def test_opening_the_archive_removes_only_the_temp_files_of_dead_writers(tmp_path: Path) -> None:
    """A writer killed between writing its temp file and renaming it left archive/*.tmp for good;
    opening the archive removes it, but never the temp file another live process is writing."""
    from envs.gameboy.archive import StateArchive

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", _WRITER, str(tmp_path), "killed"], env=env, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert len(list(tmp_path.glob("*.tmp"))) == 1
    live = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), "live"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert live.stdout.readline() == "writing\n"  # its temp file is written, not yet renamed
        writing = list(tmp_path.glob("*.tmp"))
        assert len(writing) == 1  # the dead writer's is gone, the live one's kept
        empty = tmp_path / f"b00_e0001_m001_{'0' * 32}.tmp"
        empty.touch()  # a writer between creating its file and locking it: kept too
        StateArchive(tmp_path, "sha")
        assert sorted(tmp_path.glob("*.tmp")) == sorted([*writing, empty])
    finally:
        live.communicate(timeout=60)
    assert live.returncode == 0
    assert list(tmp_path.glob("*.tmp")) == [empty]
    assert [p.read_bytes() for p in tmp_path.glob("*.state")] == [b"x" * 1000]


def test_missing_state_files_of_a_milestone_are_warned_about_once(tmp_path: Path) -> None:
    """A swarm whose best milestone's files were deleted restarted from the start state without a word."""
    folder = tmp_path / "archive"
    g = make(1, archive_dir=folder)
    try:
        walk(g, WORLD["by_char"]["a"])  # archives milestone (0, 1, 1)
    finally:
        g.close()
    for state in folder.glob("*.state"):
        state.unlink()
    with pytest.warns(UserWarning, match=r"1 of the 1 state files of milestone .* \(0, 1, 1\) .* missing .*"
                      r"start state") as caught:
        s = make(1, archive_dir=folder, swarm=True, swarm_prob=1.0)
    # Placed at the archive, not at the project's line that opened it, which printed under the message
    assert [(w.filename, w.lineno) for w in caught] == [("<archive>", 0)]
    try:
        assert where(s) == WORLD["start"] and s.get_state(0)["swarm_source"] is None
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once: the next reset says nothing
            s.reset(np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.uint64))
    finally:
        s.close()


def archive_three_milestones(folder: Path) -> list[dict]:
    """Archive milestones (0, 1, 1), (0, 1, 2) and (0, 2, 2) into ``folder``; the index's rows."""
    g = make(1, archive_dir=folder)
    try:
        walk(g, WORLD["by_char"]["a"])  # (0, 1, 1)
        walk(g, WORLD["by_char"]["b"])  # (0, 1, 2) through the door, then (0, 2, 2)
        return g.archive.entries()
    finally:
        g.close()


def test_a_swarm_falls_back_to_the_best_milestone_that_has_its_files(tmp_path: Path) -> None:
    """With the best milestone's state files deleted, every swarm restart used the start state for good
    (workers only archive past the index's best): it restarts from the next milestone down, and a
    board getting as far again archives its state."""
    folder = tmp_path / "archive"
    entries = archive_three_milestones(folder)
    assert [(e["badges"], e["event_flags"], e["maps"]) for e in entries] == [(0, 1, 1), (0, 1, 2), (0, 2, 2)]
    (folder / entries[2]["file"]).unlink()
    with pytest.warns(UserWarning, match=r"1 of the 1 state files of milestone .* \(0, 2, 2\) .* missing .*"
                      r"use milestone \(0, 1, 2\), the best with its files"):
        s = make(1, archive_dir=folder, swarm=True, swarm_prob=1.0)
    try:
        assert s.get_state(0)["swarm_source"] == entries[1]["file"]
        assert s.read_facts(0)["event_flags"] == 1 and s.get_state(0)["maps_visited"] == 1
        # the lost milestone's event flags again (maps count this episode's: 1): archived, as it is
        # past the best milestone that has files, though not past the index's best
        walk(s, WORLD["by_char"]["b"])
        again = s.archive.entries()[3:]
        assert [(e["badges"], e["event_flags"], e["maps"]) for e in again] == [(0, 2, 1)]
        assert (folder / again[0]["file"]).is_file()
    finally:
        s.close()


def test_a_damaged_archived_state_is_skipped_not_loaded(tmp_path: Path) -> None:
    """Swarm restarts loaded archived files without the state-format check of --state: one whose first
    byte was damaged hung PyBoy inside its frame loop (run in a child, so the old code fails by timeout).
    Such a file, or one PyBoy cannot load, is skipped with a warning, and restarts use the next best."""
    folder = tmp_path / "archive"
    entries = archive_three_milestones(folder)
    best, second = folder / entries[2]["file"], folder / entries[1]["file"]
    best.write_bytes(bytes([9]) + best.read_bytes()[1:])
    code = ("import warnings, numpy as np\nfrom envs.gameboy.pokemon import PokemonRed\n"
            "warnings.simplefilter('always')\n"
            f"g = PokemonRed(1, rom={str(TEST_CARTRIDGE)!r}, archive_dir={str(folder)!r}, swarm=True, "
            "swarm_prob=1.0)\ng.reset(np.zeros(1, np.int64), np.zeros(1, np.uint64))\n"
            "g.step(np.zeros(1, np.int64))\n"
            "print('source', g.get_state(0)['swarm_source'])\n"
            "g.reset(np.zeros(1, np.int64), np.ones(1, np.uint64))\n"
            "print('source', g.get_state(0)['swarm_source'])")
    proc = python_c(code, "an archived state with a damaged version byte hung the emulator")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == [f"source {second.name}"] * 2
    assert proc.stderr.count(f"state file {best.name} cannot be loaded (it is no state of this PyBoy "
                             "(state format 9") == 1  # once: the next reset skips it without a word
    # On one line each, without the project's source line under it ("  if not self._load_archived(...)")
    assert proc.stderr.startswith("<archive>:0: UserWarning: archive ") and not [
        line for line in proc.stderr.splitlines() if line.startswith(" ")], proc.stderr
    second.write_bytes(second.read_bytes()[:100])  # cut short: PyBoy refuses it
    with pytest.warns(UserWarning) as caught:
        s = make(1, archive_dir=folder, swarm=True, swarm_prob=1.0)
    assert [str(w.message).split(": ", 1)[1].split(" (")[0] for w in caught] == [
        f"state file {best.name} cannot be loaded", f"state file {second.name} cannot be loaded"]
    assert "(it is damaged or not a PyBoy state" in str(caught[1].message)
    try:
        assert s.get_state(0)["swarm_source"] == entries[0]["file"]
    finally:
        s.close()


def test_a_ctrl_c_inside_a_tick_stops_the_step() -> None:
    """A KeyboardInterrupt raised inside PyBoy's tick, where a Ctrl-C's handler usually runs (in one of
    PyBoy's Python callbacks), ends the step with it: PyBoy swallowed it, and evaluate, export and
    compare ran to their end and wrote results after a Ctrl-C or timeout's SIGTERM."""
    g = make(1)
    try:
        fired: list[int] = []

        def interrupt(_context: object) -> None:
            if not fired:
                fired.append(1)
                raise KeyboardInterrupt

        pb = g._pyboys[0]
        pb.hook_register(0, 0x0040, interrupt, None)  # the VBlank vector: runs inside every frame's tick
        with pytest.raises(KeyboardInterrupt):
            act(g, RIGHT)
        assert fired
        pb.hook_deregister(0, 0x0040)
        before = where(g)
        act(g, RIGHT)  # the game goes on where it was
        assert where(g) == (before[0], before[1] + 1, before[2])
    finally:
        g.close()


def test_level_progress_pays_only_new_ground_of_the_current_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """Super Mario Land's level_progress is the x position in the current level: it falls back to the
    level's start at a new level and after a death. The reward paid 0.1 x that fall (minus hundreds
    for finishing a level); now only progress past the level's furthest point pays."""
    g = started(GameBoy(num_envs=1, game="depthfirst_test", progress_weight=0.1))
    try:
        reads = iter([(100, 17), (300, 17), (250, 17), (320, 17), (251, 18), (300, 18), (280, 18)])

        def read(i: int) -> dict[str, float]:
            progress, level = next(reads)
            return {"score": 0.0, "progress": float(progress), "level": float(level), "lives": 1.0,
                    "game_over": 0.0}

        monkeypatch.setattr(g, "_read", read)
        g._after_reset(0)
        rewards = [g._after_step(0)[0] for _ in range(6)]
        assert rewards == pytest.approx([20.0, 0.0, 2.0, 0.0, 4.9, 0.0])
        # episode_info's progress is the last step's (README), not the furthest point paid for (300)
        assert g.episode_info(0)["progress"] == 280.0
    finally:
        g.close()


class FakeWrapper:
    """PyBoy's game wrapper as far as ``GameBoy`` uses it, logging its calls into ``log``."""

    def __init__(self, log: list) -> None:
        self.log = log
        self.score, self.level_progress, self.lives_left, self.world, self.over = 0, 0, 2, (1, 1), False

    def start_game(self, timer_div: int | None = None) -> None:
        self.log.append(("start_game", timer_div))

    def reset_game(self, timer_div: int | None = None) -> None:
        self.log.append(("reset_game", timer_div))

    def post_tick(self) -> None:
        pass

    def game_over(self) -> bool:
        return self.over


class WrappedPyBoy:
    """A real PyBoy on the test cartridge with a fake game wrapper; its ticks go into the same log."""

    def __init__(self, pb) -> None:
        self._pb, self.log = pb, []
        self.game_wrapper = FakeWrapper(self.log)

    def tick(self, count: int = 1, render: bool = True) -> bool:
        self.log.append(("tick", count, render))
        return self._pb.tick(count, render)

    def __getattr__(self, name: str):
        return getattr(self._pb, name)


@pytest.fixture
def wrapped_game(monkeypatch: pytest.MonkeyPatch) -> Callable[..., GameBoy]:
    """``GameBoy`` of a wrapper game whose cartridge title is the test cartridge's, on fake wrappers."""
    from envs.gameboy.wrapped import GAMES, WrappedGame

    spec = WrappedGame("DEPTHFIRST", score_weight=1.0, progress_weight=0.1, death_penalty=3.0)
    monkeypatch.setitem(GAMES, "wrapped_test", spec)
    monkeypatch.setattr(core, "new_pyboy", lambda *a, **k: WrappedPyBoy(new_pyboy(*a, **k)))
    made: list[GameBoy] = []

    def make_wrapped(**kwargs) -> GameBoy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # work RAM read through the API: not used here
            made.append(GameBoy(game="wrapped_test", rom=TEST_CARTRIDGE, **kwargs))
        return made[-1]

    yield make_wrapped
    for g in made:
        g.close()


def test_a_wrapper_game_starts_at_timer_div_0_and_each_reset_draws_it_from_the_seed(wrapped_game) -> None:
    # The wrapper boots the ROM itself and starts the game at DIV 0; every reset sets DIV to the
    # first draw of default_rng(seed) (not seed % 256) and then renders a frame.
    g = wrapped_game(num_envs=2)
    for i, pb in enumerate(g._pyboys):
        assert pb.log[0] == ("start_game", 0)  # no boot frames before it
        assert pb.log[-2:] == [("reset_game", int(np.random.default_rng(i).integers(256))), ("tick", 1, True)]
    draws = set()
    for seed in (7, 263, 2**40 + 7, 12345):  # 263 and 2**40 + 7 are 7 mod 256
        g._pyboys[1].log.clear()
        g.reset(np.array([1]), np.array([seed], dtype=np.uint64))
        div = int(np.random.default_rng(seed).integers(256))
        assert g._pyboys[1].log == [("reset_game", div), ("tick", 1, True)]
        draws.add(div)
    assert len(draws) == 4 and g._pyboys[0].log[-1] == ("tick", 1, True)  # board 0 left alone


def test_the_wrapped_games_are_the_installed_pyboy_wrappers_own() -> None:
    import pyboy.plugins.manager  # noqa: F401  # imports every game wrapper
    from pyboy.plugins.base_plugin import PyBoyGameWrapper

    from envs.gameboy.roms import WRAPPER_TITLES
    from envs.gameboy.wrapped import GAMES

    # PyBoy enables the wrapper whose cartridge_title is the ROM's; a title of ours no wrapper has plays
    # without one.
    wrappers = {cls.cartridge_title: cls for cls in PyBoyGameWrapper.__subclasses__()}
    assert set(WRAPPER_TITLES.values()) <= wrappers.keys()
    for name, title in WRAPPER_TITLES.items():
        assert GAMES[name].title == title and GAMES[name].title_screen is not None
        # The first screen lives only in start_game's code (compiled; its .py ships beside it): a drift would
        # refuse every real ROM, which no test here has, so compare the check's text, spacing aside.
        module = sys.modules[wrappers[title].__module__]
        source = Path(module.__file__).with_name(module.__name__.rpartition(".")[2] + ".py")
        if not source.is_file():
            pytest.skip(f"this PyBoy install ships no wrapper source ({source})")
        x0, x1, y, tiles = GAMES[name].title_screen
        check = f"self.tilemap_background[{x0}:{x1},{y}]=={list(tiles)}".replace(" ", "")
        assert check in "".join(source.read_text().split()), (name, check)


def test_a_wrapper_game_waits_for_its_first_screen_and_starts_from_where_it_was(wrapped_game,
                                                                              monkeypatch) -> None:
    from dataclasses import replace

    from envs.gameboy.wrapped import GAMES

    # The cartridge's row 9 at frame 5: its column 9 or row 10 differ (x and y are not to be swapped).
    shown = replace(GAMES["wrapped_test"], title_screen=(8, 13, 9, (2, 3, 4, 5, 3)))
    monkeypatch.setitem(GAMES, "wrapped_test", shown)
    pb = wrapped_game(num_envs=2)._pyboys
    starts = [log.index(("start_game", 0)) for log in (pb[0].log, pb[1].log)]
    assert pb[0].log[:starts[0]] == [("tick", 1, False)] * 5 and starts[1] == 0  # board 0 checks for all
    assert save_emulator(pb[0]._pb) == save_emulator(pb[1]._pb)  # the check's frames undone
    monkeypatch.setitem(GAMES, "wrapped_test", replace(shown, title_screen=(0, 3, 0, (1, 2, 3))))
    made: list[WrappedPyBoy] = []
    fake = core.new_pyboy
    monkeypatch.setattr(core, "new_pyboy", lambda *a, **k: made.append(fake(*a, **k)) or made[-1])
    sha1 = hashlib.sha1(TEST_CARTRIDGE.read_bytes()).hexdigest()
    with pytest.raises(RomError, match=f"{re.escape(str(TEST_CARTRIDGE))} is titled 'DEPTHFIRST' but never "
                       f"showed the first screen .* in 3600 frames: .*SHA-1 {sha1}"):
        wrapped_game(num_envs=1)
    assert made[0].log == [("tick", 1, False)] * 3600  # a minute of game time (roms/README.md), each frame


def test_a_stop_signal_inside_the_title_screen_check_stops_the_constructor(
        wrapped_game, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """A Ctrl-C handled inside a tick of a wrapper game's title-screen check (a Tetris run built by train,
    evaluate or export) stops the constructor with no traceback: it was printed and lost inside PyBoy's
    tick, and the command ran on."""
    from dataclasses import replace

    from agents.interrupts import stop_signals_interrupt

    shown = replace(GAMES["wrapped_test"], title_screen=(8, 13, 9, (2, 3, 4, 5, 3)))  # at frame 5
    monkeypatch.setitem(GAMES, "wrapped_test", shown)
    with stop_signal_in_post_tick(monkeypatch) as sent, pytest.raises(KeyboardInterrupt), \
            stop_signals_interrupt():
        wrapped_game(num_envs=1)
    assert sent and "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("keeps_game_over", [False, True])
def test_a_wrapper_game_with_a_start_state_loads_it_and_never_starts_the_game(
        wrapped_game, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keeps_game_over: bool) -> None:
    # No start_game (it plays the menus from the boot) and no frame: each reset loads the state, DIV and
    # all. Only a wrapper that keeps game over in itself (Kirby's) is cleared first with its reset_game: for
    # the others that doubled a reset's cost (Tetris's reset_game loads its own state and plays 7 frames).
    from dataclasses import replace

    from envs.gameboy.wrapped import GAMES

    spec = replace(GAMES["wrapped_test"], keeps_game_over=keeps_game_over)
    monkeypatch.setitem(GAMES, "wrapped_test", spec)
    pb = new_pyboy(TEST_CARTRIDGE.read_bytes())
    pb.tick(120, True)
    state = tmp_path / "start.state"
    state.write_bytes(save_emulator(pb))
    pb.stop(save=False)
    g = wrapped_game(num_envs=1, state=state)
    g.reset(np.array([0]), np.array([5], dtype=np.uint64))
    g.set_state(0, g.get_state(0))
    # the constructor's reset, this one and set_state
    assert g._pyboys[0].log == [("reset_game", 0)] * 3 * keeps_game_over
    assert save_emulator(g._pyboys[0]._pb) == state.read_bytes()


def test_only_kirbys_wrapper_keeps_game_over_in_itself() -> None:
    from envs.gameboy.wrapped import GAMES

    assert [name for name, spec in GAMES.items() if spec.keeps_game_over] == ["kirby"]


def test_a_wrapper_game_rewards_from_the_wrapper_and_its_world_is_the_level(wrapped_game) -> None:
    g = wrapped_game(num_envs=1, max_steps=100)
    w = g._pyboys[0].game_wrapper
    w.world = (1, 3)
    g.reset(np.array([0]), np.array([0], dtype=np.uint64))
    steps = []
    # (score, level_progress, lives_left, world, game over) after each step
    for w.score, w.level_progress, w.lives_left, w.world, w.over in [
            (0, 100, 2, (1, 3), False), (5, 300, 2, (1, 3), False), (5, 40, 2, (2, 2), False),
            (5, 60, 2, (2, 2), False), (5, 70, 1, (2, 2), False), (8, 70, 1, (2, 2), True)]:
        steps.append(act(g, RIGHT)[:2])
    # World (2, 2) is a new level, whose progress pays from its own start, though 2 + 2 = 1 + 3.
    assert [r for r, _ in steps] == pytest.approx([10.0, 25.0, 0.0, 2.0, 1.0 - 3.0, 3.0])
    assert [t for _, t in steps] == [False] * 5 + [True]
    info = g.episode_info(0)
    assert info == {"score": 8.0, "lives": 1.0, "progress": 70.0, "episode_return": pytest.approx(38.0),
                    "steps": 6.0}


def test_a_wrapper_games_reset_from_a_start_state_reads_the_wrappers_figures_afresh(wrapped_game,
                                                                                    tmp_path: Path) -> None:
    # PyBoy's wrapper refreshes its score on a tick, which loading a state is not: unrefreshed, a reset
    # from a start state took the last episode's score as the new one's, and its first step paid the drop.
    pb = new_pyboy(TEST_CARTRIDGE.read_bytes())
    state = tmp_path / "start.state"
    state.write_bytes(save_emulator(pb))
    pb.stop(save=False)
    g = wrapped_game(num_envs=1, state=state)
    w = g._pyboys[0].game_wrapper
    w.score = 50  # where the last episode ended
    w.post_tick = lambda: setattr(w, "score", 0)  # the loaded state's score, read on a refresh
    g.reset(np.array([0]), np.array([5], dtype=np.uint64))
    assert g.episode_info(0)["score"] == 0.0
    assert act(g, RIGHT)[0] == 0.0


def test_a_wrapper_games_state_from_before_level_was_kept_still_steps(wrapped_game) -> None:
    # "level" and "best_progress" came later in a state's last figures: an older state still loads, and
    # its next step pays the progress past the state's own.
    g = wrapped_game(num_envs=1)
    w = g._pyboys[0].game_wrapper
    w.level_progress = 40
    g.reset(np.array([0]), np.array([0], dtype=np.uint64))
    state = g.get_state(0)
    for key in ("level", "best_progress"):
        del state["last"][key]
    g.set_state(0, state)
    w.level_progress = 100
    assert act(g, RIGHT)[0] == pytest.approx(0.1 * 60)


def test_a_swarm_archives_again_a_milestone_whose_files_cannot_be_loaded(tmp_path: Path) -> None:
    """With the best milestone's only file unloadable (damaged, or saved by another PyBoy), restarts fell
    back to the next milestone down, but the process still took the best as archived: no board reaching
    it again archived it, so swarm restarts never got past the lower one (as 457b6cd for deleted files)."""
    folder = tmp_path / "archive"
    entries = archive_three_milestones(folder)
    best = folder / entries[2]["file"]
    best.write_bytes(bytes([9]) + best.read_bytes()[1:])  # another state format: refused before loading
    with pytest.warns(UserWarning, match=f"state file {best.name} cannot be loaded"):
        s = make(1, archive_dir=folder, swarm=True, swarm_prob=1.0)
    try:
        assert s.get_state(0)["swarm_source"] == entries[1]["file"]
        walk(s, WORLD["by_char"]["b"])  # the unloadable milestone's event flags again: archived
        again = s.archive.entries()[3:]
        assert [(e["badges"], e["event_flags"], e["maps"]) for e in again] == [(0, 2, 1)]
    finally:
        s.close()


def test_a_board_archives_nothing_until_it_passes_the_milestone_it_started_at(tmp_path: Path) -> None:
    # A reset takes the board's own milestone as reached: without that, the first step that changed a
    # figure (here the party's HP) archived the start state's milestone, though nothing was reached.
    g = make(1, archive_dir=tmp_path / "archive")
    try:
        g.memory(0)[0xD16D] = layout.START_HP - 1  # wPartyMon1HP low byte
        act(g, A)
        assert g.archive.entries() == []
    finally:
        g.close()


def test_a_swarm_archives_again_a_milestone_whose_file_stops_loading_in_the_run(tmp_path: Path) -> None:
    """The best milestone's file loaded when the archive was opened and is damaged since: a swarm reset
    that cannot load it restarts from the next one down, taken as reached (not only the board's own
    figures, whose map count starts again), and a board reaching the lost one archives it again (it was
    still taken as archived, so none did)."""
    folder = tmp_path / "archive"
    entries = archive_three_milestones(folder)
    s = make(1, archive_dir=folder, swarm=True, swarm_prob=1.0)
    try:
        assert s.get_state(0)["swarm_source"] == entries[2]["file"]
        best = folder / entries[2]["file"]
        best.write_bytes(bytes([9]) + best.read_bytes()[1:])  # another state format: refused before loading
        with pytest.warns(UserWarning, match=f"state file {best.name} cannot be loaded"):
            s.reset(np.array([0]), np.array([1], dtype=np.uint64))
        assert s.get_state(0)["swarm_source"] == entries[1]["file"]
        walk(s, WORLD["by_char"]["a"])  # back through the door: (0, 1, 2), the restart's own milestone
        walk(s, WORLD["by_char"]["b"])  # the unloadable milestone again: archived
        again = s.archive.entries()[3:]
        assert [(e["badges"], e["event_flags"], e["maps"]) for e in again] == [(0, 2, 2)]
    finally:
        s.close()


def test_a_swarm_file_deleted_after_the_listing_is_skipped_not_a_crash(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A state file deleted (by hand, by another run's user) between the index listing it and the reset
    reading it was a FileNotFoundError that stopped training: it is skipped with the warning of a file that
    cannot be loaded, and the reset restarts from the next milestone down."""
    folder = tmp_path / "archive"
    entries = archive_three_milestones(folder)
    s = make(1, archive_dir=folder, swarm=True, swarm_prob=1.0)
    try:
        listed = s.archive.restart_files

        def listed_then_deleted(*args: Any, **kwargs: Any) -> Any:
            choice = listed(*args, **kwargs)
            if choice is not None and choice[0] == (0, 2, 2):
                for path in choice[1]:
                    path.unlink()
            return choice

        monkeypatch.setattr(s.archive, "restart_files", listed_then_deleted)
        best = entries[2]["file"]
        with pytest.warns(UserWarning, match=f"state file {best} cannot be loaded"):
            s.reset(np.array([0]), np.array([1], dtype=np.uint64))
        assert s.get_state(0)["swarm_source"] == entries[1]["file"]
    finally:
        s.close()


def test_the_missing_files_warning_names_at_most_three_milestones(tmp_path: Path) -> None:
    """It named every milestone with missing files: tens of KB for a long run's archive."""
    from envs.gameboy.archive import StateArchive

    archive = StateArchive(tmp_path, "sha")
    for k in range(10):
        archive.add(b"x", "pokemon_red", (0, k, 1), 1, 5, 0, 0.0)
    for entry in archive.entries()[1:]:
        (tmp_path / entry["file"]).unlink()
    with pytest.warns(UserWarning) as caught:
        assert archive.restart_files() == ((0, 0, 1), [tmp_path / archive.entries()[0]["file"]])
    message = str(caught[0].message)
    assert "9 of the 9 state files of milestones (badges, event flags, maps) (0, 9, 1), (0, 8, 1), " \
           "(0, 7, 1), ... that" in message and "(0, 6, 1)" not in message


def test_a_milestone_with_some_files_missing_restarts_from_the_rest_and_says_so(tmp_path: Path) -> None:
    """The best milestone's only file and one of the next one's four deleted: restarts use that one's
    other three only, and the warning counts the files those milestones list and names the rest of the
    lower one as the restarts' source; warn=False says nothing and leaves the warning for a later call.
    Another ROM's higher milestone is no restart, but entries() lists every row."""
    from envs.gameboy.archive import StateArchive

    archive = StateArchive(tmp_path, "sha")
    archive.add(b"low", "pokemon_red", (0, 0, 1), 1, 5, 0, 0.0)
    best = archive.add(b"best", "pokemon_red", (0, 2, 1), 1, 5, 0, 0.0)
    gone, *kept = (archive.add(b"next", "pokemon_red", (0, 1, 1), 1, 5, 0, 0.0) for _ in range(4))
    StateArchive(tmp_path, "other").add(b"other", "pokemon_red", (9, 9, 9), 1, 5, 0, 0.0)
    best.unlink()
    gone.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert archive.restart_files(warn=False) == ((0, 1, 1), kept)
    with pytest.warns(UserWarning) as caught:
        assert archive.restart_files() == ((0, 1, 1), kept)
    assert str(caught[0].message) == (
        f"archive {tmp_path}: 2 of the 5 state files of milestones (badges, event flags, maps) (0, 2, 1), "
        f"(0, 1, 1) that index.sqlite lists are missing ({best.name}, {gone.name}); swarm restarts use its "
        "other 3")
    assert [e["rom_sha1"] for e in archive.entries()] == ["sha"] * 6 + ["other"]


@pytest.mark.parametrize("lost", [3, 4])
def test_the_missing_files_warning_elides_only_past_three(tmp_path: Path, lost: int) -> None:
    """Three missing files of three milestones are all named, with no '...'; a fourth is left out for
    '...', in the file names as in the milestones."""
    from envs.gameboy.archive import StateArchive

    archive = StateArchive(tmp_path, "sha")
    low = archive.add(b"low", "pokemon_red", (0, 0, 1), 1, 5, 0, 0.0)
    gone = [archive.add(b"x", "pokemon_red", (0, k, 1), 1, 5, 0, 0.0) for k in range(lost, 0, -1)]
    for path in gone:
        path.unlink()
    with pytest.warns(UserWarning) as caught:
        assert archive.restart_files() == ((0, 0, 1), [low])
    more = ", ..." if lost > 3 else ""
    milestones = ", ".join(f"(0, {k}, 1)" for k in range(lost, lost - 3, -1))
    assert f"milestones (badges, event flags, maps) {milestones}{more} that" in str(caught[0].message)
    assert f"missing ({', '.join(p.name for p in gone[:3])}{more});" in str(caught[0].message)


def test_where_files_cannot_be_locked_a_temp_file_goes_once_untouched_for_an_hour(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without locks (no fcntl: Windows) no temp file can be proved free but by its age: one untouched
    for an hour goes, a younger one with bytes stays (its writer may be alive)."""
    from envs.gameboy import archive as archive_module
    from envs.gameboy.archive import StateArchive

    monkeypatch.setattr(archive_module, "shared_lock", lambda f: False)
    old, young = tmp_path / f"b00_e0001_m001_{'1' * 32}.tmp", tmp_path / f"b00_e0001_m001_{'2' * 32}.tmp"
    for path in (old, young):
        path.write_bytes(b"x" * 100)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    StateArchive(tmp_path, "sha")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["index.sqlite", young.name])


def test_a_swarm_reset_reads_only_the_index_rows_appended_since(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Every swarm reset read every index row again (60 ms at 20,000 rows here). The rows read are kept;
    a later call reads only those appended since, by this or another archive object (another worker),
    other ROMs' rows included, and ranks them with the kept ones."""
    import sqlite3

    from envs.gameboy import archive as archive_module
    from envs.gameboy.archive import StateArchive

    reader, writer = StateArchive(tmp_path, "sha"), StateArchive(tmp_path, "sha")
    with sqlite3.connect(reader.index) as db:  # 2,000 rows of one milestone, no file left
        db.executemany("INSERT INTO states (file, game, rom_sha1, badges, event_flags, maps, tiles,"
                       " max_level, step, score, created)"
                       " VALUES (?, 'pokemon_red', 'sha', 0, 1, 1, 0, 0, 0, 0, 0)",
                       [(f"gone{k}.state",) for k in range(2000)])
    low = writer.add(b"low", "pokemon_red", (0, 0, 1), 1, 5, 0, 0.0)
    with pytest.warns(UserWarning, match="2000 of the 2000 state files"):
        assert reader.restart_files() == ((0, 0, 1), [low])
    other_rom = StateArchive(tmp_path, "other").add(b"other", "pokemon_red", (9, 9, 9), 1, 5, 0, 0.0)
    high = writer.add(b"high", "pokemon_red", (0, 2, 1), 1, 5, 0, 0.0)
    work: list[int] = []  # one item per thousand steps of SQLite's virtual machine

    def counted(*args: object, **kwargs: object) -> sqlite3.Connection:
        db = connect(*args, **kwargs)
        db.set_progress_handler(lambda: work.append(1), 1000)  # None: go on
        return db

    connect = sqlite3.connect
    monkeypatch.setattr(archive_module.sqlite3, "connect", counted)
    assert reader.restart_files() == ((0, 2, 1), [high])
    assert len(work) < 5  # the two new rows, not all 2,003 (34 thousand steps)
    assert reader.restart_files(skip={high}) == ((0, 0, 1), [low])
    assert other_rom.is_file() and reader.restart_files(warn=False)[0] == (0, 2, 1)


def test_opening_the_archive_removes_temp_files_untouched_for_an_hour(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unlocked temp files older versions wrote (``*_p<pid>_<n>.tmp``), and an empty one of a writer
    killed between creating and locking it, were never removed. They go once untouched for an hour
    (no live writer takes that long); younger ones, and one a live process holds locked, stay, and a
    young empty one is not even locked (its writer, about to lock it, would fail)."""
    from typing import IO

    from envs.gameboy import archive as archive_module
    from envs.gameboy.archive import StateArchive

    two_hours_ago = time.time() - 7200
    old_scheme = tmp_path / "b00_e0001_m001_p4242_00001.tmp"
    old_fresh = tmp_path / "b00_e0002_m001_p4242_00002.tmp"
    empty, held = tmp_path / f"b00_e0001_m001_{'1' * 32}.tmp", tmp_path / f"b00_e0001_m001_{'2' * 32}.tmp"
    for path in (old_scheme, old_fresh, held):
        path.write_bytes(b"x" * 100)
    empty.touch()
    fresh_empty = tmp_path / f"b00_e0001_m001_{'3' * 32}.tmp"
    fresh_empty.touch()
    locked: list[str] = []

    def lock(f: IO[bytes]) -> bool:
        locked.append(Path(f.name).name)
        return shared_lock(f)

    shared_lock = archive_module.shared_lock
    monkeypatch.setattr(archive_module, "shared_lock", lock)
    for path in (old_scheme, empty, held):
        os.utime(path, (two_hours_ago, two_hours_ago))
    mine = tmp_path / "b00_e0001_m001_p4242_00001.tmp.keep"  # not the archive's
    mine.write_bytes(b"x")
    os.utime(mine, (two_hours_ago, two_hours_ago))
    code = ("import fcntl, sys\nf = open(sys.argv[1], 'rb')\nfcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\nsys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(held)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"  # a live writer stopped (Ctrl-Z) for over an hour
        StateArchive(tmp_path, "sha")
    finally:
        holder.communicate(timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["index.sqlite", old_fresh.name, held.name,
                                                                  fresh_empty.name, mine.name])
    assert fresh_empty.name not in locked and held.name in locked


def test_a_state_whose_index_row_cannot_be_written_leaves_no_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk or an index locked past the timeout, after the state file was renamed into place,
    left it unlisted for good: no restart used it, and nothing removed it. The error goes on and
    the file goes; the index is as it was."""
    import sqlite3

    from envs.gameboy import archive as archive_module
    from envs.gameboy.archive import StateArchive

    archive = StateArchive(tmp_path, "sha")
    kept = archive.add(b"kept", "pokemon_red", (0, 1, 1), 1, 5, 0, 0.0)
    locker = sqlite3.connect(archive.index)
    locker.execute("BEGIN EXCLUSIVE")  # another process holding the index: every other writer waits
    connect = sqlite3.connect
    monkeypatch.setattr(archive_module.sqlite3, "connect",
                        lambda path, timeout, **kwargs: connect(path, timeout=0.1, **kwargs))
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            archive.add(b"lost", "pokemon_red", (0, 2, 1), 1, 5, 0, 0.0)
    finally:
        locker.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["index.sqlite", kept.name])


def test_a_ctrl_c_while_an_archive_writes_its_index_row_leaves_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C (or the SIGTERM the scripts turn into one) after the state file was renamed into place,
    before its index row was written, left the file unlisted for good, which the README says only a killed
    writer does: the interrupt goes on and the file goes, the index as it was."""
    from envs.gameboy.archive import StateArchive

    archive = StateArchive(tmp_path, "sha")
    kept = archive.add(b"kept", "pokemon_red", (0, 1, 1), 1, 5, 0, 0.0)

    def interrupted(db: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(archive, "_check_same_index", interrupted)
    with pytest.raises(KeyboardInterrupt):
        archive.add(b"lost", "pokemon_red", (0, 2, 1), 1, 5, 0, 0.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["index.sqlite", kept.name])
    assert [e["file"] for e in archive.entries()] == [kept.name]


def test_an_archive_index_locked_on_opening_stays_sqlites_error(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """An index locked past the timeout when the archive was opened was an ArchiveError, whose advice (move
    the archive aside) is no cure for a busy index; it stays sqlite3's error, as on a write or a read."""
    from envs.gameboy import archive as archive_module
    from envs.gameboy.archive import StateArchive

    StateArchive(tmp_path, "sha")
    locker = sqlite3.connect(tmp_path / "index.sqlite")
    locker.execute("BEGIN EXCLUSIVE")  # another process holding the index
    connect = sqlite3.connect
    monkeypatch.setattr(archive_module.sqlite3, "connect",
                        lambda path, timeout, **kwargs: connect(path, timeout=0.1, **kwargs))
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            StateArchive(tmp_path, "sha")
    finally:
        locker.close()
    assert StateArchive(tmp_path, "sha").entries() == []


def test_an_archive_index_row_holds_what_add_was_given(tmp_path: Path) -> None:
    """Each index row keeps the state's game, ROM, milestone, tiles, best level, step and score in their
    own columns, and the file it names carries the milestone in its name (a swap of two of the values
    passed the suite, which read back only the milestone)."""
    from envs.gameboy.archive import StateArchive

    before = time.time()
    path = StateArchive(tmp_path, "sha").add(b"s", "some_game", (1, 2, 3), 40, 5, 600, 7.5)
    (row,) = StateArchive(tmp_path, "sha").entries()
    assert before <= row.pop("created") <= time.time()
    assert row == {"id": 1, "file": path.name, "game": "some_game", "rom_sha1": "sha", "badges": 1,
                   "event_flags": 2, "maps": 3, "tiles": 40, "max_level": 5, "step": 600, "score": 7.5}
    assert path.name.startswith("b01_e0002_m003_") and path.read_bytes() == b"s"


def test_an_archive_add_never_writes_into_a_temp_file_it_did_not_make(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """add makes its temp file exclusively: were its name taken (by another writer mid-write), it
    refuses, leaving that file's bytes and the index as they were (without O_EXCL it wrote over them)."""
    import uuid

    from envs.gameboy.archive import StateArchive

    archive = StateArchive(tmp_path, "sha")
    token = uuid.UUID(int=7)
    monkeypatch.setattr(uuid, "uuid4", lambda: token)
    theirs = tmp_path / f"b00_e0001_m001_{token.hex}.tmp"
    theirs.write_bytes(b"another writer's state")
    with pytest.raises(FileExistsError):
        archive.add(b"mine", "pokemon_red", (0, 1, 1), 3, 5, 10, 1.0)
    assert theirs.read_bytes() == b"another writer's state" and archive.entries() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [theirs.name, "index.sqlite"]


def test_an_archive_folder_is_made_with_its_missing_parents(tmp_path: Path) -> None:
    """archive_dir is made if missing, its parent folders too (--set env_kwargs.archive_dir=shared/archive
    with no shared/ yet)."""
    from envs.gameboy.archive import StateArchive

    archive = StateArchive(tmp_path / "shared" / "archive", "sha")
    path = archive.add(b"s", "pokemon_red", (0, 1, 1), 1, 5, 0, 0.0)
    assert archive.restart_files() == ((0, 1, 1), [path])


def test_an_old_unlocked_temp_file_goes_only_past_an_hour(tmp_path: Path) -> None:
    """An older version's unlocked temp file is removed by age alone: kept at 59 minutes untouched (its
    writer may be alive), removed past the hour (600 s instead of the hour passed the suite)."""
    from envs.gameboy.archive import StateArchive

    archive = StateArchive(tmp_path, "sha")
    young, old = tmp_path / "b00_e0001_m001_p4242_00001.tmp", tmp_path / "b00_e0001_m001_p4242_00002.tmp"
    for path, minutes in ((young, 59), (old, 61)):
        path.write_bytes(b"x" * 100)
        then = time.time() - 60 * minutes
        os.utime(path, (then, then))
    assert archive.remove_stale_temps() == [old] and young.is_file()


def test_the_archive_index_waits_a_minute_for_another_writer(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers sharing an archive take turns writing its index: each connection waits up to a minute for
    the others, as the README says, rather than SQLite's default of 5 s."""
    from envs.gameboy import archive as archive_module
    from envs.gameboy.archive import StateArchive

    timeouts: list[float] = []
    connect = sqlite3.connect

    def recorded(*args: object, timeout: float = 5.0, **kwargs: object) -> sqlite3.Connection:
        timeouts.append(timeout)
        return connect(*args, timeout=timeout, **kwargs)

    monkeypatch.setattr(archive_module.sqlite3, "connect", recorded)
    archive = StateArchive(tmp_path, "sha")
    archive.add(b"s", "pokemon_red", (0, 1, 1), 1, 5, 0, 0.0)
    archive.restart_files()
    archive.entries()
    assert len(timeouts) == 4 and min(timeouts) >= 60


def test_remove_stale_temps_skips_a_folder_it_cannot_list_and_a_temp_file_gone_meanwhile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing dead writers' temp files is tidying: an archive folder that cannot be listed (its
    permissions changed, a network mount gone) removes nothing rather than failing the run, and a temp
    file renamed into place by its live writer between the listing and the opening is skipped while the
    others are still removed."""
    from envs.gameboy import archive as archive_module
    from envs.gameboy.archive import StateArchive

    archive = StateArchive(tmp_path, "sha")
    renamed, dead = (tmp_path / f"b00_e0001_m001_{digit * 32}.tmp" for digit in "34")
    for path in (renamed, dead):
        path.write_bytes(b"x" * 100)
    scandir = os.scandir

    def unlistable(path: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(archive_module.os, "scandir", unlistable)
    assert archive.remove_stale_temps() == [] and renamed.exists() and dead.exists()

    def listed_then_renamed(path: Any) -> list[os.DirEntry]:
        entries = list(scandir(path))
        renamed.rename(tmp_path / "b00_e0001_m001_done.state")  # its writer finished after the listing
        return entries

    monkeypatch.setattr(archive_module.os, "scandir", listed_then_renamed)
    assert archive.remove_stale_temps() == [dead] and not dead.exists()
    assert not renamed.exists()  # only read: not made again, empty (a mode that creates left it for an hour)


def test_remove_stale_temps_returns_the_files_it_removed(tmp_path: Path) -> None:
    """A dead writer's temp file found later is removed and named in what remove_stale_temps returns."""
    from envs.gameboy.archive import StateArchive

    archive = StateArchive(tmp_path, "sha")
    dead = tmp_path / f"b00_e0001_m001_{'4' * 32}.tmp"
    dead.write_bytes(b"x" * 100)  # bytes in it and no lock held: its writer died
    assert archive.remove_stale_temps() == [dead] and not dead.exists()
    assert archive.remove_stale_temps() == []


def test_an_archive_without_swarm_archives_again_a_milestone_whose_files_cannot_be_loaded(
        tmp_path: Path) -> None:
    """A run given archive_dir without --swarm (collecting states) took the index's best milestone as
    archived without loading its files, which only swarm restarts did: with them all unloadable
    (damaged, saved by another PyBoy), it never archived that milestone again. It now checks them
    when it opens the archive, with the swarm's warning."""
    folder = tmp_path / "archive"
    entries = archive_three_milestones(folder)
    best = folder / entries[2]["file"]
    best.write_bytes(bytes([9]) + best.read_bytes()[1:])  # another state format
    with pytest.warns(UserWarning, match=f"state file {best.name} cannot be loaded"):
        g = make(1, archive_dir=folder)
    try:
        assert where(g) == WORLD["start"]
        walk(g, WORLD["by_char"]["a"])  # (0, 1, 1): archived already
        walk(g, WORLD["by_char"]["b"])  # (0, 1, 2), archived already, then (0, 2, 2): archived again
        again = g.archive.entries()[3:]
        assert [(e["badges"], e["event_flags"], e["maps"]) for e in again] == [(0, 2, 2)]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once: the next reset says nothing
            g.reset(np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.uint64))
    finally:
        g.close()


def test_copy_and_pickle_say_what_to_do_instead() -> None:
    # PyBoy cannot be pickled; the message was only "no default __reduce__ due to non-trivial __cinit__".
    import copy
    import pickle

    import gymnasium as gym

    env = gym.make("depthfirst/PokemonRed-v0", rom=TEST_CARTRIDGE, max_steps=20)
    other = gym.make("depthfirst/PokemonRed-v0", rom=TEST_CARTRIDGE, max_steps=20)
    try:
        env.reset(seed=0)
        env.step(RIGHT)
        for copier in (copy.deepcopy, pickle.dumps):
            with pytest.raises(TypeError, match=r"PyBoy emulators, which cannot be copied or pickled.*set_"):
                copier(env)
        other.reset(seed=0)
        other.unwrapped.set_state(env.unwrapped.get_state())
        assert np.array_equal(other.step(LEFT)[0], env.step(LEFT)[0])
    finally:
        env.close()
        other.close()


def test_a_step_two_frames_past_the_press_runs_step_frames_frames() -> None:
    g = started(GameBoy(num_envs=1, game="depthfirst_test", press_frames=1, step_frames=3))
    try:
        before = g._pyboys[0].frame_count
        act(g, A)
        assert g._pyboys[0].frame_count - before == 3
    finally:
        g.close()


class FrameLog:
    """A PyBoy that logs each frame it runs: the buttons held through it, and whether the screen it leaves
    was rendered (a tick renders its last frame only)."""

    def __init__(self, pb) -> None:
        self._pb, self.held, self.frames = pb, frozenset(), []

    def button_press(self, button: str) -> None:
        self.held |= {button}
        self._pb.button_press(button)

    def button_release(self, button: str) -> None:
        self.held -= {button}
        self._pb.button_release(button)

    def tick(self, count: int = 1, render: bool = True) -> bool:
        self.frames += [(self.held, render and k == count - 1) for k in range(count)]
        return self._pb.tick(count, render)

    def __getattr__(self, name: str):
        return getattr(self._pb, name)


@pytest.mark.parametrize("press, frames", [(8, 24), (1, 3)])
def test_a_step_holds_the_button_press_frames_and_observes_its_last_frame(press: int, frames: int) -> None:
    # Logged frame by frame: neither a press one frame short with the step's length kept nor a screen
    # rendered before the step's last frames changed what the test cartridge did or showed in other tests.
    g = started(GameBoy(num_envs=1, game="depthfirst_test", press_frames=press, step_frames=frames))
    try:
        log = g._pyboys[0] = FrameLog(g._pyboys[0])
        act(g, RIGHT)
        button = g.ACTION_NAMES[RIGHT]
        assert [held for held, _ in log.frames] == [{button}] * press + [set()] * (frames - press)
        assert log.frames[-1][1]  # the observed screen is the step's last frame
    finally:
        g.close()


@pytest.mark.parametrize("frames", [1, 30])
def test_without_a_start_state_the_rom_boots_boot_frames_frames(frames: int) -> None:
    # Reset then starts every episode from the ROM booted exactly boot_frames frames, the last rendered.
    booted = new_pyboy(TEST_CARTRIDGE.read_bytes())
    try:
        booted.tick(frames, True)
        want = save_emulator(booted)
    finally:
        booted.stop(save=False)
    g = started(GameBoy(num_envs=1, game="depthfirst_test", boot_frames=frames))
    try:
        assert core.unpack_bytes(g.get_state(0)["emulator"]) == want
    finally:
        g.close()


def test_boot_frames_past_an_hour_of_game_time_is_refused_before_booting() -> None:
    """boot_frames had no upper bound: a typo such as 10**9 booted every emulator in the constructor for
    hours, silently (a scripted command's frames stop at an hour of game time, MAX_COMMAND_FRAMES)."""
    from envs.gameboy.core import MAX_BOOT_FRAMES

    t = time.perf_counter()
    with pytest.raises(ValueError, match=rf"^boot_frames must be between 0 and {MAX_BOOT_FRAMES}"):
        GameBoy(num_envs=1, game="depthfirst_test", boot_frames=MAX_BOOT_FRAMES + 1)
    assert time.perf_counter() - t < 2.0  # refused before any emulator booted


def test_a_step_runs_step_frames_frames_and_the_return_adds_up() -> None:
    # One step holds the button press_frames frames and runs to step_frames in all; episode_info's
    # episode_return is the sum of the step rewards, back to 0 at a reset.
    g = started(GameBoy(num_envs=1, game="depthfirst_test", press_frames=5, step_frames=12, max_steps=100,
                score_weight=2.0))
    try:
        pb = g._pyboys[0]
        rewards = []
        for _ in range(3):  # the third step reaches item 'a': one event flag, worth 2
            before = pb.frame_count
            rewards.append(act(g, RIGHT)[0])
            assert pb.frame_count - before == 12
        assert rewards == [0.0, 0.0, 2.0]
        info = g.episode_info(0)
        assert info["episode_return"] == 2.0 and info["score"] == 1.0 and info["steps"] == 3.0
        assert g.get_state(0)["episode_return"] == 2.0
        g.reset(np.array([0]), np.array([0], dtype=np.uint64))
        assert g.episode_info(0)["episode_return"] == 0.0 and g.episode_info(0)["steps"] == 0.0
    finally:
        g.close()


def test_observe_of_chosen_boards_gives_those_boards() -> None:
    g = started(GameBoy(num_envs=2, game="depthfirst_test", max_steps=100))
    try:
        g.step(np.array([A, RIGHT]))  # board 1 moves, board 0 does not
        full = g.new_obs_buffer()
        g.observe(full)
        assert not np.array_equal(full[0], full[1])
        one = np.zeros((1, *full.shape[1:]), np.uint8)
        g.observe(one, np.array([1]))
        assert np.array_equal(one[0], full[1])
    finally:
        g.close()


def test_a_stack_of_three_frames_holds_the_last_three_screens_oldest_first() -> None:
    """A reset fills every slot with the first screen; each step drops the oldest and appends the new one."""
    g = make(1, frame_stack=3, visited_mask=False)
    try:
        obs = g.new_obs_buffer()
        g.observe(obs)
        seen = [obs[0, -1].copy()] * 3
        assert all(np.array_equal(obs[0, k], seen[0]) for k in range(3))
        for a in (RIGHT, RIGHT, DOWN, DOWN):
            act(g, a)
            g.observe(obs)
            seen.append(obs[0, -1].copy())
            assert all(np.array_equal(obs[0, k], seen[k - 3]) for k in range(3))
        assert len({s.tobytes() for s in seen[2:]}) == 5  # every step showed a new screen
    finally:
        g.close()


def test_a_board_reset_after_its_episode_ended_plays_again() -> None:
    """A truncated board ignores steps until reset; the reset starts a new episode that steps, counts
    and ends as the first did, while the other board (which pressed A meanwhile) stays as it ended."""
    g = make(2, max_steps=2)
    try:
        g.reset(np.arange(2), np.arange(2, dtype=np.uint64))
        start = where(g, 0)
        assert [act(g, RIGHT)[2] for _ in range(2)] == [False, True]
        moved = where(g, 0)
        assert act(g, RIGHT) == (0.0, False, False) and where(g, 0) == moved
        g.reset(np.array([0]), np.array([9], dtype=np.uint64))
        assert where(g, 0) == start and g.episode_info(0)["steps"] == 0 and not g.get_state(0)["done"]
        assert g.get_state(1)["done"] and g.episode_info(1)["steps"] == 2
        assert [act(g, RIGHT)[2] for _ in range(2)] == [False, True]
        assert where(g, 0) == moved and g.episode_info(0)["steps"] == 2
    finally:
        g.close()


def test_a_board_reset_takes_its_own_seed_and_an_ended_state_stays_ended() -> None:
    """reset(indices, seeds) seeds board indices[k] with seeds[k] (its draws: a swarm restart, a wrapped
    game's timer); a state saved at an episode's end loads as ended, so a step leaves it alone."""
    g = make(2, max_steps=1)
    other = make(1, max_steps=1)
    try:
        g.reset(np.array([1, 0]), np.array([11, 12], dtype=np.uint64))
        assert [g._rngs[i].random() for i in (0, 1)] == [np.random.default_rng(s).random() for s in (12, 11)]
        act(g, RIGHT)
        ended = g.get_state(0)
        assert ended["done"]
        other.set_state(0, ended)
        assert act(other, DOWN) == (0.0, False, False) and other.get_state(0) == ended
    finally:
        g.close()
        other.close()


def test_interrupts_kept_keeps_a_ctrl_c_and_passes_other_ignored_errors_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the block an ignored KeyboardInterrupt is kept and raised at its end; any other error that
    Python could not raise (here from ``__del__``, as from PyBoy's compiled callbacks) still reaches the
    hook that was there before, which is back in place after the block."""
    reported: list[BaseException] = []

    def hook(unraisable: Any) -> None:
        reported.append(unraisable.exc_value)

    class Raises:
        def __init__(self, error: BaseException) -> None:
            self.error = error

        def __del__(self) -> None:
            raise self.error

    monkeypatch.setattr(sys, "unraisablehook", hook)
    other = ValueError("not a stop")
    with pytest.raises(KeyboardInterrupt), core.interrupts_kept():
        Raises(other)  # dropped at once: __del__ raises into sys.unraisablehook
        Raises(KeyboardInterrupt())
    assert reported == [other] and sys.unraisablehook is hook


def test_work_ram_through_the_api_reads_what_the_view_reads() -> None:
    """The fallback reader indexes and slices work RAM from 0xC000 as the memoryview does, both ends of
    a slice included as Python's slices have them."""
    pb = new_pyboy(TEST_CARTRIDGE.read_bytes())
    try:
        pb.tick(30, False)
        (view,), api = work_ram([pb]), core.WorkRamThroughApi(pb.memory)
        for k, address in enumerate((0x0000, 0x1357, 0x1358, 0x1FFF)):
            pb.memory[WRAM + address] = 0x40 + k
        assert [api[a] for a in (0x0000, 0x1357, 0x1358, 0x1FFF)] == [0x40, 0x41, 0x42, 0x43]
        assert api[0x1357:0x1359] == bytes(view[0x1357:0x1359]) == bytes([0x41, 0x42])
        assert api[0:0x2000] == bytes(view)
    finally:
        pb.stop(save=False)


class _MemoryElsewhere:
    """``pyboy.memory`` as another layout could show it: writes dropped (the probe cannot reach the view),
    or 0xD000-0xDFFF read from another bank (a CGB game's switched work RAM), as ``_work_ram_view``
    reads the whole of work RAM."""

    def __init__(self, memory: Any, writes: bool, other_bank: bool) -> None:
        self.memory, self.writes, self.other_bank = memory, writes, other_bank

    def __getitem__(self, key: int | slice) -> Any:
        value = self.memory[key]
        if isinstance(key, slice) and self.other_bank:
            return value[:0x1000] + [b ^ 0xFF for b in value[0x1000:]]
        return value

    def __setitem__(self, key: int, value: int) -> None:
        if self.writes:
            self.memory[key] = value


class _EmulatorSeenAs:
    """An emulator whose garbage-collector referents are its Motherboard, and whose ``memory`` is given."""

    __slots__ = ("memory", "motherboard")  # slots, not a __dict__: gc.get_referents finds the Motherboard

    def __init__(self, pb: Any, memory: Any) -> None:
        self.motherboard = core._referent(pb, "Motherboard")
        self.memory = memory


def test_the_work_ram_view_is_taken_only_if_a_probe_write_shows_in_it_and_the_byte_is_put_back() -> None:
    """A view that does not see the API's writes, or does not hold all its bytes (another PyBoy layout),
    is not taken; the probe leaves the emulator's RAM as it found it."""
    pb = new_pyboy(TEST_CARTRIDGE.read_bytes())
    try:
        pb.tick(30, False)
        pb.memory[WRAM] = 0x5A
        views = {id(o): o for o in gc.get_objects()
                 if type(o).__name__ == "memoryview" and type(o).__module__ == "pyboy.core.ram"}
        view = core._work_ram_view(_EmulatorSeenAs(pb, pb.memory), views)
        assert isinstance(view, memoryview) and pb.memory[WRAM] == view[0] == 0x5A
        for writes, other_bank in ((False, False), (True, True)):
            memory = _MemoryElsewhere(pb.memory, writes, other_bank)
            assert core._work_ram_view(_EmulatorSeenAs(pb, memory), views) is None, (writes, other_bank)
    finally:
        pb.stop(save=False)


def test_screen_and_render_keep_the_emulators_colours_in_rgb_order_and_refuse_a_bad_scale() -> None:
    """The DMG's default palette is grey, so a pixel of another colour is drawn into PyBoy's screen buffer
    to see which channel lands where; a scale under 1 or not whole is refused, not drawn at scale 1 (the
    other games' test in tests/envs/test_api.py needs no ROM, so it leaves the Game Boy out)."""
    game = started(GameBoy(num_envs=1, game="depthfirst_test"))
    try:
        raw = game._pyboys[0].screen.ndarray  # PyBoy's live RGBA buffer
        raw[0, 0] = (10, 20, 30, 255)
        assert game.screen(0)[0, 0].tolist() == [10, 20, 30]
        assert game.render(0, 16)[:2, :2].reshape(4, 3).tolist() == [[10, 20, 30]] * 4
        state = game.get_state(0)
        for bad in (0, -8, 1.5):
            with pytest.raises(ValueError, match="scale must be"):
                game.render(0, bad)
            with pytest.raises(ValueError, match="scale must be"):
                GameBoy.render_state(state, bad)
    finally:
        game.close()


def test_render_state_names_a_missing_or_damaged_screen_png() -> None:
    # It read state["screen_png"] unchecked: a KeyError for a state without it, a TypeError naming no key
    # for a number, and a PNG of another size came back as an image of that shape (a gray one 2-D).
    from envs.png import encode_png

    def png(img: np.ndarray) -> str:
        return base64.b64encode(encode_png(img)).decode("ascii")

    good = {"screen_png": png(np.zeros((144, 160, 3), np.uint8))}
    assert GameBoy.render_state(good, 8).shape == (144, 160, 3)
    for bad, error in (({}, r"not a gameboy state: it lacks 'screen_png'"),
                       ([], r"a gameboy state must be a dict"),
                       ({"screen_png": 5}, r"state's screen_png must be text \(base64 of a PNG\)"),
                       ({"screen_png": "not base64!"}, r"state's screen_png is damaged"),
                       ({"screen_png": "AAAA"}, r"state's screen_png is damaged"),
                       ({"screen_png": png(np.zeros((144, 160), np.uint8))},
                        r"must be a 160x144 RGB screen, got an image of shape \(144, 160\)")):
        with pytest.raises(ValueError, match=error):
            GameBoy.render_state(bad, 16)


def test_wrapper_rewards_score_and_lost_lives(monkeypatch: pytest.MonkeyPatch) -> None:
    # score_weight x the score gained, minus death_penalty per life lost (a life gained costs nothing);
    # end_on_life_loss ends the episode at the first life lost, the wrapper's game over always.
    for end in (False, True):
        g = GameBoy(num_envs=1, game="depthfirst_test", score_weight=0.5, death_penalty=3.0,
                    end_on_life_loss=end)
        try:
            reads = iter([(0, 2, 0), (10, 2, 0), (10, 3, 0), (14, 2, 0), (14, 2, 1)])

            def read(i: int, reads: Iterator = reads) -> dict[str, float]:
                score, lives, over = next(reads)
                return {"score": float(score), "progress": 0.0, "level": 0.0, "lives": float(lives),
                        "game_over": float(over)}

            monkeypatch.setattr(g, "_read", read)
            g._after_reset(0)
            steps = [g._after_step(0) for _ in range(4)]
            assert [r for r, _ in steps] == pytest.approx([5.0, 0.0, 2.0 - 3.0, 0.0])
            assert [t for _, t in steps] == [False, False, end, True]
        finally:
            g.close()


def test_the_test_cartridge_game_ends_only_with_both_badges() -> None:
    g = started(GameBoy(num_envs=1, game="depthfirst_test", max_steps=100))
    try:
        g.memory(0)[0xD356] = 0b10  # one badge: 10 points, the game goes on
        assert act(g, A) == (10.0, False, False)
        g.memory(0)[0xD356] = 0b11
        assert act(g, A) == (10.0, True, False)
    finally:
        g.close()


def test_an_env_left_open_at_exit_exits_quietly() -> None:
    # A script that never closed its env (with torch imported, as any SB3 script has) printed
    # "Error in sys.excepthook: ... Original exception was:" three times, empty, as it exited: PyBoy's
    # own __del__ stopped the emulator during the interpreter's teardown.
    code = ("import gymnasium as gym, envs\n"
            "env = gym.make('depthfirst/GameBoy-v0', game='depthfirst_test')\n"
            "env.reset(seed=0)\n"
            "import torch\n"
            "print('played')\n")
    done = python_c(code, "a Game Boy env left open hung the interpreter's exit")
    assert done.returncode == 0 and done.stdout == "played\n", done.stderr
    assert "sys.excepthook" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr


def test_a_max_steps_set_on_the_game_applies_from_each_boards_next_reset() -> None:
    # set_attr("max_steps", n) cut the episodes under way at n steps, though each began with the old
    # limit: the other games (and the README) keep a board's limit until it resets.
    venv = envs.make_vec("gameboy", 1, num_workers=0, game="depthfirst_test", max_steps=5)
    try:
        venv.reset()
        venv.step(np.array([UP]))
        venv.set_attr("max_steps", 2)
        ends = [bool(venv.step(np.array([UP]))[2][0]) for _ in range(4 + 2 * 2)]
        assert ends == [False, False, False, True] + [False, True] * 2  # 5 steps, then 2 per episode
    finally:
        venv.close()


def test_set_attr_checks_the_frame_settings_against_each_other_on_every_worker_first() -> None:
    # press_frames past step_frames (or a step_frames at or below press_frames) was taken: each step then
    # held the button past its own end. With one worker's step_frames raised, a press_frames that fits
    # there but not on the other worker is refused before either worker changes.
    v = envs.make_vec("gameboy", 2, num_workers=2, game="depthfirst_test", max_steps=64)
    try:
        with pytest.raises(ValueError, match=re.escape("step_frames must be >= 9 (more than press_frames 8), "
                                                       "got 8")):
            v.set_attr("step_frames", 8)
        v.set_attr("step_frames", 40, indices=[0])
        with pytest.raises(ValueError, match=re.escape("press_frames must be between 1 and 23 (less than "
                                                       "step_frames 24), got 30")):
            v.set_attr("press_frames", 30)
        assert v.get_attr("press_frames") == [8, 8] and v.get_attr("step_frames") == [40, 24]
        v.set_attr("press_frames", 20)
        assert v.get_attr("press_frames") == [20, 20]
        v.reset()
        v.step(np.array([A, A]))
    finally:
        v.close()


def test_a_restarted_worker_takes_frame_settings_that_fit_only_together() -> None:
    # A restarted worker's game is given what set_attr gave the lost one, each value checked: press_frames
    # 30, set after step_frames 40, was given first (the order it was first set in) and refused against
    # the new game's step_frames of 24, so the worker could not start again.
    v = envs.make_vec("gameboy", 1, num_workers=1, game="depthfirst_test", max_steps=64)
    try:
        for name, value in (("press_frames", 20), ("step_frames", 40), ("press_frames", 30)):
            v.set_attr(name, value)
        v.reset()
        os.kill(v.worker_pids()[0], signal.SIGKILL)
        _, _, dones, infos = v.step(np.array([A]))
        assert v.worker_restarts == 1 and dones[0] and infos[0]["worker_restarted"]
        assert v.get_attr("press_frames") == [30] and v.get_attr("step_frames") == [40]
    finally:
        v.close()


@pytest.fixture
def five_step_game() -> Iterator[GameBoy]:
    """One board of the test cartridge with a step limit of 5."""
    g = started(GameBoy(num_envs=1, game="depthfirst_test", max_steps=5))
    yield g
    g.close()


def test_a_state_keeps_its_boards_step_limit_through_a_max_steps_set_later(five_step_game: GameBoy) -> None:
    # get_state left out the board's limit: after set_attr("max_steps", n) a state taken and given back
    # played to n, not to where its own episode would have ended (Rotation's and Sokoban's states keep it).
    g = five_step_game
    act(g, UP)
    state = g.get_state(0)
    assert state["max_steps"] == 5
    g.max_steps = 50  # what set_attr does
    g.set_state(0, state)
    assert g.get_state(0)["max_steps"] == 5  # the board's own limit, not the game's new one
    assert [act(g, UP)[2] for _ in range(4)] == [False, False, False, True]
    g.reset(np.array([0]), np.array([0], dtype=np.uint64))
    assert g.get_state(0)["max_steps"] == 50  # a new episode takes the game's
    old = {k: v for k, v in state.items() if k != "max_steps"}  # saved before states kept it
    g.set_state(0, old)
    assert g.get_state(0)["max_steps"] == 50
    with pytest.raises(ValueError, match=r"state's max_steps must be >= 1, got 0"):
        g.set_state(0, {**state, "max_steps": 0})
    assert g.get_state(0)["max_steps"] == 50 and g.get_state(0)["step"] == 1  # left as it was


def test_a_state_set_on_a_board_of_another_step_limit_plays_to_its_own(five_step_game: GameBoy) -> None:
    # set_state gives the board the state's limit, whatever limit the board's own episode had.
    g = five_step_game
    act(g, UP)
    state = g.get_state(0)
    g.max_steps = 50
    g.reset(np.array([0]), np.array([0], dtype=np.uint64))  # the board now plays to 50
    g.set_state(0, state)
    assert g.get_state(0)["max_steps"] == 5
    assert [act(g, UP)[2] for _ in range(4)] == [False, False, False, True]


def test_a_state_past_its_own_step_limit_is_refused(five_step_game: GameBoy) -> None:
    # A state that keeps its limit can contradict it: step 2 of max_steps 1, not done, was taken and played
    # a step past its own limit (Rotation's and Sokoban's set_state refuse it). A done state may sit at it.
    g = five_step_game
    act(g, UP)
    act(g, UP)
    state = g.get_state(0)
    message = "state's step must be between 0 and 0 with max_steps 1 in a state not done, got 2"
    with pytest.raises(ValueError, match=re.escape(message)):
        g.set_state(0, {**state, "max_steps": 1})
    assert g.get_state(0) == state  # left as it was
    g.set_state(0, {**state, "max_steps": 2, "done": True})  # cut at its limit
    old = {k: v for k, v in state.items() if k != "max_steps"}
    g.set_state(0, old)  # old states: as before
    g.max_steps = 1  # an old state is not checked against the game's limit either (step 2 of 1)
    g.set_state(0, old)


def test_a_restarted_worker_reads_relative_paths_from_the_folder_the_env_was_made_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A worker restarted after the process changed folder (os.chdir, a notebook's %cd) read the ROM's
    # relative path from the new folder: the restart raised RomNotFoundError and the env stopped.
    monkeypatch.chdir(REPO)
    rom = str(TEST_CARTRIDGE.relative_to(REPO))
    v = envs.make_vec("gameboy", 1, num_workers=1, game="depthfirst_test", rom=rom, max_steps=64)
    try:
        v.reset()
        monkeypatch.chdir(tmp_path)
        os.kill(v.worker_pids()[0], signal.SIGKILL)
        _, _, dones, infos = v.step(np.array([A]))
        assert v.worker_restarts == 1 and dones[0] and infos[0]["worker_restarted"]
    finally:
        v.close()


def test_an_archive_given_by_a_relative_path_stays_where_it_was_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The archive kept archive_dir as given: after the process changed folder (os.chdir, a notebook's %cd)
    # the next milestone stopped the game with "the folder was deleted or moved while in use".
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path)
    g = make(1, archive_dir="archive")
    try:
        monkeypatch.chdir(tmp_path / "other")
        walk(g, WORLD["by_char"]["a"])  # event flag 0: a milestone
        (row,) = g.archive.entries()
        assert (tmp_path / "archive" / row["file"]).is_file()
        assert not (tmp_path / "other" / "archive").exists()
    finally:
        g.close()


def test_set_attr_of_still_grace_and_visit_decay_pays_by_them_from_the_next_step() -> None:
    # Both are read by every step; set_attr refused them as fixed when the game is made.
    v = envs.make_vec("pokemon_red", 1, num_workers=0, rom=TEST_CARTRIDGE, allow_unknown_rom=True)
    try:
        v.reset()
        v.set_attr("still_grace", 1)
        v.set_attr("visit_decay", 0.5)
        assert v.get_attr("still_grace") == [1] and v.get_attr("visit_decay") == [0.5]
        rewards = [float(v.step(np.array([a]))[1][0]) for a in (START, START, START, RIGHT, LEFT)]
        # still past 1 step; back on the start tile (visited at step 0) 5 steps later, its count decayed
        assert rewards == pytest.approx([0.0, W["still"], W["still"], W["explore"],
                                         W["explore"] / (1 + 0.5 ** 5)])
    finally:
        v.close()


def test_set_attr_of_swarm_restarts_from_the_archive_at_the_next_reset(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    g = make(1, archive_dir=folder)
    try:
        walk(g, WORLD["by_char"]["a"])  # archives the first event flag's milestone
        (entry,) = g.archive.entries()
    finally:
        g.close()
    v = envs.make_vec("pokemon_red", 1, num_workers=0, rom=TEST_CARTRIDGE, allow_unknown_rom=True,
                      archive_dir=folder)
    try:
        v.reset()
        assert v.env_method("get_state")[0]["swarm_source"] is None  # swarm off: the start state
        v.set_attr("swarm_prob", 1.0)
        v.set_attr("swarm", True)
        v.reset()
        assert v.env_method("get_state")[0]["swarm_source"] == entry["file"]
        assert v.env_method("read_facts")[0]["event_flags"] == 1
    finally:
        v.close()


def test_the_game_boy_env_keeps_its_game_and_sets_its_settings_through_wrappers() -> None:
    # GameEnv.game is the game object; the Game Boy's own `game` option (a name) is fixed: both refused.
    env = gym.make("depthfirst/GameBoy-v0", game="depthfirst_test", rom=str(TEST_CARTRIDGE))
    try:
        game = env.unwrapped.game
        with pytest.raises(ValueError, match=r"^GameEnv\.game is the game it plays"):
            env.set_wrapper_attr("game", "tetris")
        assert env.unwrapped.game is game and game.game == "depthfirst_test"
        env.set_wrapper_attr("max_steps", 3)
        assert game.max_steps == 3 and env.get_wrapper_attr("max_steps") == 3
        with pytest.raises(ValueError, match=r"^frame_stack is fixed when the game is made"):
            env.set_wrapper_attr("frame_stack", 2)
        env.reset(seed=0)
        ends = [env.step(0)[3] for _ in range(3)]  # the step limit set above truncates the third step
        assert ends == [False, False, True]
    finally:
        env.close()


def test_the_pokemon_config_holds_the_games_own_defaults() -> None:
    """configs/pokemon_red.yaml calls itself the game's settings, each reward term a weight: a game made in
    one's own code with no options must reward and play as a run made from that config does."""
    import inspect

    import yaml

    config = yaml.safe_load((REPO / "configs" / "pokemon_red.yaml").read_text())["env_kwargs"]
    assert config["reward"] == REWARD_WEIGHTS
    defaults = {name: p.default for name, p in inspect.signature(PokemonRed).parameters.items()
                if p.default is not inspect.Parameter.empty}
    # rom and state name the user's files, reward is None (REWARD_WEIGHTS, checked above); obs_size,
    # frame_stack, press_frames and step_frames are the emulator's, read from **emulator_kwargs.
    for key in ("allow_unknown_rom", "visit_decay", "level_cap", "level_damping", "still_grace",
                "visited_mask", "archive_dir", "swarm", "swarm_prob", "max_steps"):
        assert config[key] == defaults[key], key


def test_a_party_member_leaving_and_coming_back_moves_no_level_reward(game: PokemonRed) -> None:
    """The level term is paid on exceeding the episode's best (module docstring): a Pokémon leaving the
    party (a PC deposit) costs nothing, and its coming back pays nothing again."""
    fresh(game)
    mem = game.memory(0)
    # a second Pokémon (party structs are 44 bytes apart): level 7, full HP of 20
    mem[0xD163], mem[0xD18C + 44], mem[0xD16D + 44], mem[0xD18E + 44] = 2, 7, 20, 20
    assert act(game, A)[0] == pytest.approx(W["level"] * 7)
    mem[0xD163] = 1  # wPartyCount: deposited
    assert act(game, A)[0] == 0.0
    mem[0xD163] = 2  # withdrawn again
    assert act(game, A)[0] == 0.0
    assert game.episode_info(0)["r_level"] == pytest.approx(W["level"] * 7)


def test_visit_decay_0_is_refused_and_level_cap_0_damps_every_level() -> None:
    """visit_decay is a share in (0, 1] (0 would forget every visit at once: no decaying count), named in
    the error; level_cap 0 is allowed and counts each level level_damping of one."""
    with pytest.raises(ValueError, match=r"visit_decay must be in \(0, 1\]"):
        make(visit_decay=0.0)
    game = make(level_cap=0)
    try:
        assert game._level_value([8, 4]) == pytest.approx(12 * game.level_damping)
    finally:
        game.close()


def test_max_level_is_the_highest_party_level_whatever_its_slot(game: PokemonRed) -> None:
    # The highest level of the party, not the first slot's: a strong second Pokémon is the max_level of
    # episode_info, the state and the milestones.
    fresh(game)
    mem = game.memory(0)
    mem[0xD163], mem[0xD18C + 44], mem[0xD16D + 44], mem[0xD18E + 44] = 2, 30, 20, 20  # slot 2: level 30
    act(game, A)
    assert game.read_facts(0)["levels"][0] < 30
    assert game.episode_info(0)["max_level"] == 30 == game.get_state(0)["max_level"]
    assert game.milestones()["max_level"] == 30


def test_a_level_up_alone_pays_on_its_step(game: PokemonRed) -> None:
    # A step is looked at for the progress terms when any figure they read changes: a level byte that
    # changes with no HP, badge or event change (the game writes the level before the stats) pays at once.
    fresh(game)
    mem = game.memory(0)
    mem[0xD18C] += 1  # wPartyMon1Level
    assert act(game, A)[0] == pytest.approx(W["level"])
    assert game.episode_info(0)["r_level"] == pytest.approx(W["level"])


def test_an_episode_from_a_start_state_with_flags_and_badges_pays_only_what_it_adds(
        game: PokemonRed, tmp_path: Path) -> None:
    # A start state past the intro (or a swarm restart) already holds event flags and badges: the
    # episode's bests start at them, so the first flag or badge more pays one, not all of them again.
    fresh(game)
    mem = game.memory(0)
    mem[0xD747 + 10], mem[0xD356] = 0b111, 0b1  # event flags 80..82 and a badge
    (tmp_path / "progressed.state").write_bytes(save_emulator(game._pyboys[0]))
    other = make(1, state=tmp_path / "progressed.state")
    try:
        facts = other.read_facts(0)
        assert facts["event_flags"] >= 3 and facts["badges"] == 1
        other.memory(0)[0xD747 + 10] = 0b1111
        assert act(other, A)[0] == pytest.approx(W["event"])
        other.memory(0)[0xD356] = 0b11
        assert act(other, A)[0] == pytest.approx(W["badge"])
    finally:
        other.close()


def test_a_states_party_figures_are_the_rams(game: PokemonRed) -> None:
    # The state's hp, max_hp and levels (read by people and exports) are each its own figure.
    fresh(game)
    mem = game.memory(0)
    mem[0xD16D] = layout.START_HP - 3  # hurt: hp below max_hp
    act(game, A)
    state, facts = game.get_state(0), game.read_facts(0)
    assert facts["hp"] == [layout.START_HP - 3] and facts["max_hp"] == [layout.START_HP]
    assert [state[k] for k in ("levels", "hp", "max_hp")] == [facts[k] for k in ("levels", "hp", "max_hp")]


@contextlib.contextmanager
def stop_signal_in_post_tick(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """A SIGINT sent from the first read of a Pillow image's ``readonly``, which PyBoy's compiled
    ``_post_tick`` makes after every tick: where a signal that came while the emulator ran is handled,
    inside code that swallows exceptions. Yields the list that says it was sent."""
    from PIL import Image

    real = Image.Image.readonly
    sent: list[bool] = []

    def readonly(image: Any) -> int:
        if not sent:
            sent.append(True)
            signal.raise_signal(signal.SIGINT)
        return real.fget(image)

    monkeypatch.setattr(Image.Image, "readonly", property(readonly, real.fset))
    yield sent


def test_a_stop_signal_inside_a_tick_stops_the_step_with_no_traceback(
        game: PokemonRed, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the scripts' handler a Ctrl-C handled inside PyBoy's tick stops the step when it ends, and
    prints nothing: raised there, Cython printed its traceback ("PIL/Image.py ... readonly", then the
    handler) before export_trajectories.py's own "interrupted: nothing written" line."""
    from agents.interrupts import stop_signals_interrupt

    fresh(game)
    with stop_signal_in_post_tick(monkeypatch) as sent, pytest.raises(KeyboardInterrupt), \
            stop_signals_interrupt():
        act(game, UP)
    assert sent and "Traceback" not in capfd.readouterr().err


def test_a_stop_signal_inside_an_emulators_stop_stops_close_once_every_emulator_stopped(
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """A Ctrl-C handled inside PyBoy's ``stop()`` (compiled ``noexcept``, as ``_post_tick``), which
    ``close()`` runs for each emulator, stops the command once every emulator is stopped, with no traceback:
    raised there, it was printed as "Exception ignored in" and lost. Sent here from its first Python call,
    the log-level look-up of its ``logger.debug`` line."""
    import pyboy.logging.logging as pyboy_logging

    from agents.interrupts import stop_signals_interrupt

    g = make(2)
    emulators = list(g._pyboys)
    real = pyboy_logging.get_log_level
    sent: list[bool] = []

    def get_log_level() -> int:
        if not sent:
            sent.append(True)
            signal.raise_signal(signal.SIGINT)
        return real()

    monkeypatch.setattr(pyboy_logging, "get_log_level", get_log_level)
    with pytest.raises(KeyboardInterrupt), stop_signals_interrupt():
        g.close()
    assert sent and "Traceback" not in capfd.readouterr().err
    for pb in emulators:  # each one stopped, not left running with the finalizer spent
        with pytest.raises(Exception, match="stopped"):
            pb.tick(1, False)


def test_a_stop_signal_inside_the_boot_stops_the_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C handled inside the ticks that boot the ROM (a game made with no start state, as an export's
    replay makes one) stops the constructor: it was swallowed there, and the export ran to its end."""
    from agents.interrupts import stop_signals_interrupt

    with stop_signal_in_post_tick(monkeypatch) as sent, pytest.raises(KeyboardInterrupt), \
            stop_signals_interrupt():
        PokemonRed(num_envs=1, rom=TEST_CARTRIDGE).close()
    assert sent


def test_a_files_warning_is_filtered_by_the_module_named_not_its_file() -> None:
    # Hand mutation pass: warn_of_file leaving out its module passed every test, though the warning then
    # came from a module named "<ROM>" (warn_explicit's default, from the file name): a -W or
    # filterwarnings filter naming envs.gameboy.roms (or .core, .archive, .pokemon) no longer took it.
    from envs.gameboy.roms import warn_of_file

    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=UserWarning, module=r"envs\.gameboy\.roms\Z")
        with pytest.raises(UserWarning, match=r"^pokemon_red: unknown ROM x$"):
            warn_of_file("pokemon_red: unknown ROM x", "ROM", "envs.gameboy.roms")
