"""Pokémon Red through PyBoy, rewarded from RAM (``pokemon_red``).

ROM: your own Pokémon Red (or Blue) (UE) dump, checked by SHA-1 against ``roms.POKEMON_RED_ROMS``
(roms/README.md has the table); ``allow_unknown_rom=True`` proceeds on another hash with a warning.
The project's test cartridge keeps its state at the same RAM addresses and is always accepted: every
test runs this class on it. Start from a ``state`` file past the intro (``scripts/make_state.py`` or
``scripts/play_gameboy.py --save-state``); without one the ROM boots.

Actions: up, down, left, right, A, B, Start (each held ``press_frames`` of ``step_frames`` frames).

Observation: the last ``frame_stack`` screens (grayscale, 72x80 by default) and, with ``visited_mask``,
one more channel: the tiles this episode has visited, as 255 on a 9x10 grid of 16-pixel cells around
the player (who stands at cell row 4, column 4, as on the real screen), magnified to the frame size.

Reward (every term's weight in ``reward``, 0 turns a term off; ``REWARD_WEIGHTS`` has the defaults):
  explore   stepping onto tile (map, x, y): weight / (1 + its visit count), the count decaying by
            ``visit_decay`` per step, so tiles left long ago pay again a little
  new_map   first visit to a map in the episode
  event     each event flag (wEventFlags, 2,560 bits) set beyond the episode's best so far
  badge     each badge beyond the episode's best so far
  level     party levels, each level counted fully up to ``level_cap`` and ``level_damping`` per level
            past it, paid on exceeding the episode's best
  heal      the party's summed HP fraction regained outside battle, party size and levels unchanged
            (a Pokémon Center heal of a half-hurt party of 2 pays 1 x weight); not after a blackout
  still     (negative) each step the player stays on one tile past ``still_grace`` steps outside
            battle: standing still and menu loops

episode_info: ``score`` = 100*badges + event_flags + 0.1*maps_visited + 0.001*tiles_visited (a
progress figure independent of the reward weights), plus badges, event_flags (set flags, absolute),
max_level, tiles_visited, maps_visited, heals, blackouts, and the episode's sum of each reward term
(``r_<term>``).

Swarm (Go-Explore style): with ``archive_dir``, a board whose (badges, event_flags, maps_visited)
passes the best milestone this process has seen saves its emulator state there
(``archive.StateArchive``: ``*.state`` files + ``index.sqlite``). With ``swarm=True`` a reset board
starts, with probability ``swarm_prob``, from a random archived state of the best milestone that
still has state files instead of the start state (so such resets depend on the archive, not on the seed
alone). A file that cannot be loaded is skipped with a warning; the best milestone a process starts
from is one with a file that loads (checked when the archive is opened, with or without ``swarm``).
``milestones()`` and ``visit_heatmap()`` feed TensorBoard.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numba
import numpy as np

from envs.base import (
    Setting,
    as_path,
    check_state_keys,
    count_setting,
    finite,
    flag,
    float32_together,
    state_cell,
    state_list,
    whole,
)
from envs.gameboy.archive import StateArchive
from envs.gameboy.core import WRAM, GameBoyGame, load_checked, save_emulator
from envs.gameboy.ram import PARTY_LENGTH, POKEMON_RED, bit_count
from envs.gameboy.roms import check_rom, pokemon_title, warn_of_file

REWARD_WEIGHTS: dict[str, float] = {
    "explore": 0.02,
    "new_map": 0.5,
    "event": 1.0,
    "badge": 10.0,
    "level": 0.5,
    "heal": 1.0,
    "still": -0.005,
}

VIEW_ROWS, VIEW_COLS = 9, 10  # the screen in 16-pixel cells
PLAYER_ROW, PLAYER_COL = 4, 4

_F = POKEMON_RED  # short alias for the address table
DEFAULT_ROM = "roms/pokemon_red.gb"  # where the ROM is looked for without rom (or with rom None)
# The addresses ``read_facts`` reads every step, looked up once, as offsets into work RAM.
_PARTY_COUNT, _MAP, _X, _Y, _BADGES, _BATTLE, _EVENTS, _LEVEL, _HP, _MAX_HP = (
    _F[name].addr - WRAM for name in ("party_count", "map", "x", "y", "badges", "battle_type",
                                      "event_flags", "party_level", "party_hp", "party_max_hp"))
_EVENTS_SIZE, _PARTY_STRIDE = _F["event_flags"].size, _F["party_level"].stride
# The most a step multiplies each weight by (explore, new_map and still: 1), so that the weights bound a
# step's reward: every event flag, every badge, each party level byte in full (level_damping <= 1) and
# each HP fraction at its largest, 65,535 HP of a max HP of 1.
REWARD_SPANS = {"reward.event": 8 * _EVENTS_SIZE, "reward.badge": 8, "reward.level": 255 * PARTY_LENGTH,
                "reward.heal": 65535 * PARTY_LENGTH}
_GRID = 256  # x and y are bytes: one visited grid per (board, map) covers every tile
_VISIT_CELL = ("map", "x", "y")  # a visit's first three values, as state errors name them


@numba.njit(cache=True, nogil=True)
def _draw_visited(grid: np.ndarray, x: int, y: int, rows: np.ndarray, cols: np.ndarray,
                  out: np.ndarray) -> None:
    """The 9x10 cells around the player (at cell PLAYER_ROW, PLAYER_COL), 255 where ``grid`` marks
    the tile visited (bit x % 8 of byte [y, x // 8]), drawn into ``out``: output pixel (r, c) shows
    cell (rows[r], cols[c])."""
    cells = np.zeros((VIEW_ROWS, VIEW_COLS), np.uint8)
    for r in range(VIEW_ROWS):
        ty = y + r - PLAYER_ROW
        for c in range(VIEW_COLS):
            tx = x + c - PLAYER_COL
            if 0 <= ty < _GRID and 0 <= tx < _GRID and (grid[ty, tx >> 3] >> (tx & 7)) & 1:
                cells[r, c] = 255
    for r in range(out.shape[0]):
        if r and rows[r] == rows[r - 1]:
            out[r] = out[r - 1]
        else:
            for c in range(out.shape[1]):
                out[r, c] = cells[rows[r], cols[c]]


def _reward_weights(game: Any, name: str, reward: Any) -> dict[str, float]:
    """Every term's weight: ``REWARD_WEIGHTS`` with the terms ``reward`` gives (a dict, or None), checked."""
    if reward is not None and not isinstance(reward, dict):
        raise ValueError(f"reward must be a mapping of reward terms to weights, got {reward!r}")
    unknown = set(reward or {}) - set(REWARD_WEIGHTS)
    if unknown:
        # Dotted names: the CLI turns reward.<term> into its flag, --set env_kwargs.reward.<term>.
        named = ", ".join(f"reward.{k}" for k in sorted(unknown, key=str))
        raise ValueError(f"unknown reward terms {named}; known terms: {', '.join(REWARD_WEIGHTS)}")
    given = {k: finite(f"reward.{k}", v, float32=True) for k, v in (reward or {}).items()}
    weights = {**REWARD_WEIGHTS, **given}
    # Each weight fitted float32 alone, but reward.event 1e38 paid 4 flags set at once as inf.
    float32_together(REWARD_SPANS, **{f"reward.{k}": v for k, v in weights.items()})
    return weights


def _share(name: str, value: Any, zero: bool = True) -> float:
    """``value``, a finite number in [0, 1] (in (0, 1] without ``zero``), or a ValueError naming ``name``."""
    x = finite(name, value)
    if x > 1.0 or (x < 0.0 if zero else x <= 0.0):
        raise ValueError(f"{name} must be in {'[' if zero else '('}0, 1], got {value}")
    return x


def _swarm(game: Any, name: str, value: Any) -> bool:
    on = flag(name, value)
    if on and game._archive_dir is None:  # the archive is opened when the game is made, or never
        raise ValueError("swarm=True needs archive_dir (the folder of archived states), given when the "
                         "game is made")
    return on


class PokemonRed(GameBoyGame):
    """``num_envs`` Pokémon Red emulators with RAM rewards, a visited-tile channel and swarm restarts."""

    name: ClassVar[str] = "pokemon_red"
    EXTRA_CHANNELS: ClassVar[int] = 1
    STATE_KEYS: ClassVar[tuple[str, ...]] = (*GameBoyGame.STATE_KEYS, "tracker")
    FACT_KEYS: ClassVar[tuple[str, ...]] = ("map", "x", "y", "badges", "event_flags", "party_count", "levels",
                                            "hp", "max_hp", "battle_type")  # read_facts'
    PARTY_FACTS: ClassVar[tuple[str, ...]] = ("levels", "hp", "max_hp")  # lists of one number a party member
    TRACKER_KEYS: ClassVar[tuple[str, ...]] = ("visits", "maps", "pos", "still", "facts", "best_events",
                                               "best_badges", "best_level", "heals", "blackouts", "terms")
    #: set_attr may change it (checked as the constructor checks it), from the next step: every term's
    #: weight, the defaults with the terms given (the constructor's ``reward``)
    reward = Setting(_reward_weights)
    # Read live too: by every step (visit_decay, still_grace) or every reset (swarm, swarm_prob). level_cap
    # and level_damping stay fixed: each board's best level value, which the level term pays past, is
    # kept in their terms, so a change mid-episode paid for levels already counted (or withheld pay).
    visit_decay = Setting(lambda game, name, value: _share(name, value, zero=False))
    still_grace = count_setting(0)
    swarm = Setting(_swarm)
    swarm_prob = Setting(lambda game, name, value: _share(name, value))

    def __init__(self, num_envs: int = 1, rom: str | Path | None = DEFAULT_ROM,
                 state: str | Path | None = None, allow_unknown_rom: bool = False,
                 reward: dict[str, float] | None = None, visit_decay: float = 0.9995, level_cap: int = 15,
                 level_damping: float = 0.25, still_grace: int = 8, visited_mask: bool = True,
                 archive_dir: str | Path | None = None, swarm: bool = False, swarm_prob: float = 0.5,
                 max_steps: int = 8192, **emulator_kwargs: Any) -> None:
        self.reward = reward
        self.visit_decay = visit_decay
        self.swarm_prob = swarm_prob
        self._archive_dir = None if archive_dir is None else as_path("archive_dir", archive_dir)
        self.swarm = swarm  # checked against archive_dir, set first
        self.level_cap = whole("level_cap", level_cap, 0)
        # A share of each level past the cap (negative would be a penalty).
        self.level_damping = _share("level_damping", level_damping)
        self.still_grace = still_grace
        self.visited_mask = flag("visited_mask", visited_mask)
        self.EXTRA_CHANNELS = 1 if self.visited_mask else 0  # instance override of the class default
        rom = DEFAULT_ROM if rom is None else rom  # null, as Game Boy games read it: the default ROM path
        # Named in every state, so the VLM prompts made from it say which game the screens show.
        sha1 = check_rom(as_path("rom", rom), flag("allow_unknown_rom", allow_unknown_rom))
        self.title = pokemon_title(sha1)
        self.archive: StateArchive | None = None
        super().__init__(num_envs, rom=rom, state=state, max_steps=max_steps, **emulator_kwargs)
        # The constructor's reset only readied the boards (the user's reset starts them): its start tiles
        # and figures are no agent's, so they leave the heatmap and the milestones.
        self._heat.clear()
        self._best = dict.fromkeys(self._best, 0.0)

    # ---- RAM ---------------------------------------------------------------------------------------
    def read_facts(self, i: int) -> dict[str, Any]:
        """The RAM figures the rewards use, as plain ints; not of a board never reset (the constructor's)."""
        self._check_started(i, "read_facts")
        return self._read_facts(i)

    def _read_facts(self, i: int) -> dict[str, Any]:
        """``read_facts`` unchecked: the step reads them every step, set_state before the board holds its
        state (kept to plain indexing)."""
        mem = self._wram[i]
        count = min(mem[_PARTY_COUNT], PARTY_LENGTH)
        levels, hp, max_hp = [], [], []
        for base in range(0, count * _PARTY_STRIDE, _PARTY_STRIDE):
            levels.append(mem[_LEVEL + base])
            hp.append(mem[_HP + base] << 8 | mem[_HP + base + 1])  # big-endian words
            max_hp.append(mem[_MAX_HP + base] << 8 | mem[_MAX_HP + base + 1])
        return {
            "map": mem[_MAP], "x": mem[_X], "y": mem[_Y],
            "badges": bit_count(mem, _BADGES),
            "event_flags": bit_count(mem, _EVENTS, _EVENTS_SIZE),
            "party_count": count, "levels": levels, "hp": hp, "max_hp": max_hp,
            "battle_type": mem[_BATTLE],
        }

    def _level_value(self, levels: list[int]) -> float:
        cap = self.level_cap
        return float(sum(min(lv, cap) + self.level_damping * max(0, lv - cap) for lv in levels))

    @staticmethod
    def _copy_facts(facts: dict[str, Any]) -> dict[str, Any]:
        """``facts`` with its own lists: a state given out or taken in shares none with the board."""
        return {**facts, **{k: list(facts[k]) for k in PokemonRed.PARTY_FACTS}}

    @staticmethod
    def _hp_fractions(facts: dict[str, Any]) -> list[float]:
        return [h / m if m > 0 else 0.0 for h, m in zip(facts["hp"], facts["max_hp"], strict=True)]

    # ---- bookkeeping -------------------------------------------------------------------------------
    def _init_tracking(self) -> None:
        n = self.num_envs
        self._visits: list[dict[tuple[int, int, int], list[float]]] = [{} for _ in range(n)]
        self._maps: list[set[int]] = [set() for _ in range(n)]
        self._track: list[dict[str, Any]] = [{} for _ in range(n)]
        self._heat: Counter[tuple[int, int, int]] = Counter()
        self._best = {"badges": 0.0, "event_flags": 0.0, "max_level": 0.0, "tiles_visited": 0.0,
                      "maps_visited": 0.0}
        self._archive_best: tuple[int, int, int] = (-1, -1, -1)
        self._swarm_source: list[str | None] = [None] * n
        self._unloadable: set[Path] = set()  # archived files a swarm restart could not load
        # The visited tiles again, as one bit grid (256 rows of 32 bytes, 8 KB) per map a board has
        # been on this episode: the mask channel is then one compiled crop-and-magnify (2 us), where
        # 90 lookups in ``_visits`` took ~40 us.
        self._grids: list[dict[int, np.ndarray]] = [{} for _ in range(n)]
        self._mask_rows = (np.arange(self.obs_height) * VIEW_ROWS) // self.obs_height
        self._mask_cols = (np.arange(self.obs_width) * VIEW_COLS) // self.obs_width
        # Each board's mask channel, redrawn when its player reaches a tile: observing is then one
        # copy for all boards.
        self._masks = np.zeros((n, self.obs_height, self.obs_width), np.uint8)
        if self._archive_dir is not None:
            self.archive = StateArchive(self._archive_dir, self.rom_sha1)
            self._archive_best = self._loadable_best()

    def _loadable_best(self) -> tuple[int, int, int]:
        """The best archived milestone with a state file that loads (into emulator 0, before the first
        reset), or (-1, -1, -1): a board archives only past it, so a milestone whose files all fail to
        load (damaged, another PyBoy's) is archived again when reached, with or without ``swarm``."""
        assert self.archive is not None
        while (choice := self.archive.restart_files(self._unloadable, warn=False)) is not None:
            best, files = choice
            if any(self._load_archived(0, path) for path in files):
                return best
        return (-1, -1, -1)

    def _load_archived(self, i: int, path: Path) -> bool:
        """Load the archived state file ``path`` into emulator ``i``; False, with a warning, when it
        cannot be (deleted meanwhile, damaged, another PyBoy's): the file is skipped from then on."""
        assert self.archive is not None
        try:
            load_checked(self._pyboys[i], path.read_bytes(), self.state_version)
        except (OSError, ValueError) as e:
            self._unloadable.add(path)
            warn_of_file(f"archive {self.archive.folder}: state file {path.name} cannot be loaded ({e}); "
                         "swarm restarts skip it, and its milestone is archived again unless another of its "
                         "files loads", "archive", __name__)
            return False
        return True

    def _episode_start(self, i: int) -> None:
        self._swarm_source[i] = None
        if self.swarm and self.archive is not None and self._rngs[i].random() < self.swarm_prob:
            while (choice := self.archive.restart_files(self._unloadable)) is not None:
                best, files = choice
                path = files[int(self._rngs[i].integers(len(files)))]
                if not self._load_archived(i, path):
                    if best >= self._archive_best:  # its milestone is archived no more: a board reaching
                        self._archive_best = (-1, -1, -1)  # it archives it again (set again on a load)
                    continue
                self._archive_best = max(self._archive_best, best)
                self._swarm_source[i] = path.name
                return
        super()._episode_start(i)

    def _after_reset(self, i: int) -> None:
        facts = self._read_facts(i)
        pos = (facts["map"], facts["x"], facts["y"])
        self._visits[i] = {pos: [1.0, 0]}
        self._grids[i] = {}
        self._mark_visited(i, pos)
        self._maps[i] = {facts["map"]}
        self._heat[pos] += 1
        self._track[i] = {
            "pos": pos, "still": 0, "facts": facts,
            "best_events": facts["event_flags"], "best_badges": facts["badges"],
            "best_level": self._level_value(facts["levels"]), "heals": 0, "blackouts": 0,
            "terms": {k: 0.0 for k in self.reward},
        }
        self._redraw_mask(i)
        # a board starting at or below the best known milestone archives only when it goes past it
        self._archive_best = max(self._archive_best, self._milestone(i))
        self._update_best(i)

    def _milestone(self, i: int) -> tuple[int, int, int]:
        f = self._track[i]["facts"]
        return (f["badges"], f["event_flags"], len(self._maps[i]))

    def _update_best(self, i: int) -> None:
        info = self._episode_info(i)
        for k, v in self._best.items():
            self._best[k] = max(v, info[k])

    def _after_step(self, i: int) -> tuple[float, bool]:
        # Terms are added in REWARD_WEIGHTS order, so the float sum is the same whichever are paid.
        # Most steps change at most the position: the progress terms are only looked at when a
        # figure they read changed (each is zero otherwise), which keeps a step cheap.
        w = self.reward
        tr = self._track[i]
        terms = tr["terms"]
        prev = tr["facts"]
        facts = self._read_facts(i)
        step = self._steps[i]
        reward = 0.0

        pos = (facts["map"], facts["x"], facts["y"])
        moved = pos != tr["pos"]
        new_map = False
        if moved:
            visits = self._visits[i]
            visit = visits.get(pos)
            count = 0.0 if visit is None else visit[0] * self.visit_decay ** (step - visit[1])
            visits[pos] = [count + 1.0, step]
            if visit is None:
                self._mark_visited(i, pos)
                best = self._best
                best["tiles_visited"] = max(best["tiles_visited"], float(len(visits)))
            self._heat[pos] += 1
            reward += self._pay(terms, "explore", w["explore"] / (1.0 + count))
            if facts["map"] not in self._maps[i]:
                self._maps[i].add(facts["map"])
                reward += self._pay(terms, "new_map", w["new_map"])
                new_map = True
            tr["pos"], tr["still"] = pos, 0
            self._redraw_mask(i)

        progressed = (facts["event_flags"] != prev["event_flags"] or facts["badges"] != prev["badges"]
                      or facts["levels"] != prev["levels"] or facts["hp"] != prev["hp"]
                      or facts["max_hp"] != prev["max_hp"] or facts["party_count"] != prev["party_count"])
        if progressed:
            if facts["event_flags"] > tr["best_events"]:
                reward += self._pay(terms, "event", w["event"] * (facts["event_flags"] - tr["best_events"]))
                tr["best_events"] = facts["event_flags"]
            if facts["badges"] > tr["best_badges"]:
                reward += self._pay(terms, "badge", w["badge"] * (facts["badges"] - tr["best_badges"]))
                tr["best_badges"] = facts["badges"]
            level_value = self._level_value(facts["levels"])
            if level_value > tr["best_level"]:
                reward += self._pay(terms, "level", w["level"] * (level_value - tr["best_level"]))
                tr["best_level"] = level_value
            if (facts["battle_type"] == 0 and facts["party_count"] == prev["party_count"]
                    and facts["levels"] == prev["levels"]):
                # the summed fraction, so reordering the party pays nothing
                gained = sum(self._hp_fractions(facts)) - sum(self._hp_fractions(prev))
                if gained > 1e-9:
                    if prev["party_count"] and sum(prev["hp"]) == 0:
                        tr["blackouts"] += 1  # whited out and revived at a Center: no reward for that
                    else:
                        reward += self._pay(terms, "heal", w["heal"] * gained)
                        tr["heals"] += 1
        if not moved and facts["battle_type"] == 0:
            tr["still"] += 1
            if tr["still"] > self.still_grace:
                reward += self._pay(terms, "still", w["still"])
        tr["facts"] = facts
        if progressed or new_map:  # a new tile alone changes only tiles_visited, updated above
            self._record_progress(i)
        return reward, False

    def _record_progress(self, i: int) -> None:
        """Fold board ``i``'s figures into the process bests; archive its state past the best milestone."""
        self._update_best(i)
        if self.archive is not None:
            milestone = self._milestone(i)
            if milestone > self._archive_best:
                self._archive_best = milestone
                self.archive.add(save_emulator(self._pyboys[i]), self.name, milestone, len(self._visits[i]),
                                 max(self._track[i]["facts"]["levels"], default=0), self._steps[i],
                                 self._score(i))

    @staticmethod
    def _pay(terms: dict[str, float], name: str, value: float) -> float:
        """Add ``value`` to the episode's sum of term ``name``; return it."""
        terms[name] += value
        return value

    def _score(self, i: int) -> float:
        f = self._track[i]["facts"]
        return (100.0 * f["badges"] + f["event_flags"] + 0.1 * len(self._maps[i])
                + 0.001 * len(self._visits[i]))

    # ---- observation -------------------------------------------------------------------------------
    def _mark_visited(self, i: int, pos: tuple[int, int, int]) -> None:
        m, x, y = pos
        grid = self._grids[i].get(m)
        if grid is None:
            grid = self._grids[i][m] = np.zeros((_GRID, _GRID // 8), np.uint8)
        grid[y, x >> 3] |= 1 << (x & 7)

    def _redraw_mask(self, i: int) -> None:
        if self.visited_mask:
            m, x, y = self._track[i]["pos"]  # always a visited tile, so its map has a grid
            _draw_visited(self._grids[i][m], x, y, self._mask_rows, self._mask_cols, self._masks[i])

    def _observe_extra(self, out: np.ndarray, boards: slice | np.ndarray) -> None:
        out[:, 0] = self._masks[boards]

    # ---- figures -----------------------------------------------------------------------------------
    def _episode_info(self, i: int) -> dict[str, float]:
        tr = self._track[i]
        f = tr["facts"]
        info = {
            "score": self._score(i),
            "badges": float(f["badges"]),
            "event_flags": float(f["event_flags"]),
            "max_level": float(max(f["levels"], default=0)),
            "tiles_visited": float(len(self._visits[i])),
            "maps_visited": float(len(self._maps[i])),
            "heals": float(tr["heals"]),
            "blackouts": float(tr["blackouts"]),
            "steps": float(self._steps[i]),
        }
        info.update({f"r_{k}": float(v) for k, v in tr["terms"].items()})
        return info

    def _check_figures(self, board: int | None, what: str) -> None:
        """The checks of the per-board readers for the process's figures (``milestones``, ``visit_heatmap``):
        ``_check_started`` of ``board``, else that some board holds an episode. Before it they answered
        the zeros of no agent's play (the constructor's readying reset counts for neither)."""
        if board is None:
            self._check_playing(what)
        else:
            self._check_started(board, what)

    def milestones(self, board: int | None = None) -> dict[str, float]:
        """Best figures reached by any board of this process since construction (for TensorBoard).

        ``board`` only has to hold an episode (``_check_figures``): it lets
        ``VecEnv.env_method("milestones", indices=[...])`` call it once per worker (pick one board index
        per worker and take the max)."""
        self._check_figures(board, "milestones")
        return dict(self._best)

    def visit_heatmap(self, board: int | None = None, max_width: int = 512) -> np.ndarray:
        """Where this process's boards have been: uint8 (H, W), brighter = more visits (log scale).
        ``board`` only has to hold an episode (see ``milestones``).

        One panel per visited map (panel size = the largest x, y seen there + 1, one pixel per tile),
        in map-number order, packed left to right in rows at most ``max_width`` wide, a 1-pixel gap
        between panels.
        """
        self._check_figures(board, "visit_heatmap")
        if not self._heat:  # boards only given a state (set_state) have counted no visit
            return np.zeros((1, 1), np.uint8)
        extent: dict[int, list[int]] = {}
        for (m, x, y) in self._heat:
            e = extent.setdefault(m, [0, 0])
            e[0], e[1] = max(e[0], x + 1), max(e[1], y + 1)
        places, cx, cy, row_h, width = {}, 0, 0, 0, 0
        for m in sorted(extent):
            w, h = extent[m]
            if cx and cx + w > max_width:
                cx, cy, row_h = 0, cy + row_h + 1, 0
            places[m] = (cx, cy)
            cx += w + 1
            row_h = max(row_h, h)
            width = max(width, cx - 1)
        img = np.zeros((cy + row_h, width), np.float64)
        for (m, x, y), count in self._heat.items():
            ox, oy = places[m]
            img[oy + y, ox + x] += count
        return (np.log1p(img) / np.log1p(img.max()) * 255.0).round().astype(np.uint8)  # every count >= 1

    # ---- state -------------------------------------------------------------------------------------
    def _state_extra(self, i: int) -> dict[str, Any]:
        tr = self._track[i]
        f = tr["facts"]
        return {
            "title": self.title, "map": f["map"], "x": f["x"], "y": f["y"],
            "badges": f["badges"], "event_flags": f["event_flags"], "party_count": f["party_count"],
            "levels": list(f["levels"]), "max_level": max(f["levels"], default=0),
            "hp": list(f["hp"]), "max_hp": list(f["max_hp"]), "battle_type": f["battle_type"],
            "tiles_visited": len(self._visits[i]), "maps_visited": len(self._maps[i]),
            "score": self._score(i), "swarm_source": self._swarm_source[i],
            "tracker": {
                "visits": [[m, x, y, c, last] for (m, x, y), (c, last) in sorted(self._visits[i].items())],
                "maps": sorted(self._maps[i]),
                "pos": list(tr["pos"]), "still": tr["still"], "facts": self._copy_facts(f),
                "best_events": tr["best_events"], "best_badges": tr["best_badges"],
                "best_level": tr["best_level"], "heals": tr["heals"], "blackouts": tr["blackouts"],
                "terms": dict(tr["terms"]),
            },
        }

    def _check_state(self, i: int, state: Any) -> None:
        super()._check_state(i, state)
        check_state_keys(self.name, state["tracker"], self.TRACKER_KEYS, "state's tracker")

    def _read_state_extra(self, state: dict[str, Any]) -> dict[str, Any]:
        """The tracker as the board keeps it, each value checked: a number or a string where a list or a
        count belongs raised a bare TypeError or KeyError after the emulator was loaded."""
        t = state["tracker"]
        visits: dict[tuple[int, int, int], list[float]] = {}
        for k, visit in enumerate(state_list("state's tracker visits", t["visits"])):
            what = f"state's tracker visits[{k}]"
            if not isinstance(visit, (list, tuple)) or len(visit) != 5:
                raise ValueError(f"{what} must be [map, x, y, count, last step] as get_state returns, "
                                 f"got {visit!r}")
            # a byte each: the map's number and the tile's place in its 256×256 visited grid
            m, x, y = (whole(f"{what} {name}", v, 0, _GRID - 1)
                       for name, v in zip(_VISIT_CELL, visit[:3], strict=True))
            count = finite(f"{what} count", visit[3])
            if count < 0:  # a step onto the tile divides its explore weight by 1 + count
                raise ValueError(f"{what} count must be >= 0, got {count}")
            # at most the state's step (checked already): a later one decays the count by a negative
            # power, which grows it, or overflows on the step onto the tile
            visits[(m, x, y)] = [count, whole(f"{what} last step", visit[4], 0, state["step"],
                                              " (the state's step)")]
        pos = tuple(state_cell("state's tracker pos", t["pos"], 3))
        if pos not in visits:  # the visited mask is drawn from its map's grid
            raise ValueError(f"state's tracker pos {list(pos)} is not one of its visits")
        facts = t["facts"]
        check_state_keys(self.name, facts, self.FACT_KEYS, "state's tracker facts")
        party = whole("state's tracker facts party_count", facts["party_count"], 0)
        read: dict[str, Any] = {}
        for k in self.FACT_KEYS:  # in read_facts' order, so a state comes back as it went in
            what = f"state's tracker facts {k}"
            if k in self.PARTY_FACTS:
                values = state_list(what, facts[k])
                if len(values) != party:
                    raise ValueError(f"{what} must hold party_count ({party}) numbers, got {values}")
                read[k] = [whole(what, v, 0) for v in values]
            else:
                read[k] = whole(what, facts[k], 0)
        # The game keeps pos at its facts' tile and maps as its visits' maps: a state that does not would
        # pay explore for standing still, or count maps no board has been on.
        tile = [read["map"], read["x"], read["y"]]
        if list(pos) != tile:
            raise ValueError(f"state's tracker pos {list(pos)} is not the player's tile in its facts {tile}")
        best = {k: whole(f"state's tracker {k}", t[k], 0) for k in ("best_events", "best_badges")}
        for k, fact in (("best_events", "event_flags"), ("best_badges", "badges")):
            if best[k] < read[fact]:  # the game's best is at least the figure now: the next one paid them all
                raise ValueError(f"state's tracker {k} {best[k]} is below its facts' {fact} {read[fact]}")
        maps = {whole("state's tracker maps", m, 0, _GRID - 1)
                for m in state_list("state's tracker maps", t["maps"])}
        visited_maps = {m for m, _, _ in visits}
        if maps != visited_maps:
            raise ValueError(f"state's tracker maps {t['maps']} must be the maps of its visits "
                             f"{sorted(visited_maps)}")
        check_state_keys(self.name, t["terms"], tuple(self.reward), "state's tracker terms")
        unknown = sorted(map(repr, set(t["terms"]) - set(self.reward)))
        if unknown:  # each term is an episode_info figure, which every episode must report alike
            raise ValueError(f"state's tracker terms has {', '.join(unknown)}, which is no reward term; "
                             f"known terms: {', '.join(self.reward)}")
        # A level-up pays the weight times the level value past it: -1e300 (finite) paid a reward of inf.
        # A real one is a level value, never below 0 (a larger one only delays the pay).
        best_level = finite("state's tracker best_level", t["best_level"])
        if best_level < 0:
            raise ValueError(f"state's tracker best_level must be >= 0, got {best_level!r}")
        swarm_source = state.get("swarm_source")
        if swarm_source is not None and not isinstance(swarm_source, str):
            raise ValueError(f"state's swarm_source must be a file name or null, got {swarm_source!r}")
        return {
            "visits": visits, "swarm_source": swarm_source, "maps": maps,
            "track": {
                "pos": pos, "still": whole("state's tracker still", t["still"], 0), "facts": read,
                **best, **{k: whole(f"state's tracker {k}", t[k], 0) for k in ("heals", "blackouts")},
                "best_level": best_level,
                "terms": {k: finite(f"state's tracker terms {k}", t["terms"][k]) for k in self.reward},
            },
        }

    def _loaded_problem(self, i: int, extra: dict[str, Any]) -> str | None:
        """The tracker's facts where the loaded emulator's RAM says otherwise: the board would report (and
        archive, as a milestone) figures its emulator does not hold."""
        ram, given = self._read_facts(i), extra["track"]["facts"]
        wrong = [f"{k} {given[k]} (the emulator's RAM holds {ram[k]})"
                 for k in self.FACT_KEYS if given[k] != ram[k]]
        return f"state's tracker facts are not its emulator's: {', '.join(wrong)}" if wrong else None

    def _set_state_extra(self, i: int, extra: dict[str, Any]) -> None:
        self._visits[i] = extra["visits"]
        self._grids[i] = {}
        for pos in self._visits[i]:
            self._mark_visited(i, pos)
        self._maps[i] = extra["maps"]
        self._track[i] = extra["track"]
        self._redraw_mask(i)
        self._swarm_source[i] = extra["swarm_source"]
        self._record_progress(i)

