"""Game Boy games that PyBoy's game wrappers understand (``gameboy``): Tetris, Super Mario Land, Kirby.

``game`` picks the cartridge: the ROM's header title must match (``roms.WRAPPER_TITLES``), or
construction fails with a message naming both titles; so it does when the ROM does not show, within
3600 frames, the first screen the wrapper waits for (``WrappedGame.title_screen``). The wrapper
(``pyboy.game_wrapper``) starts the game past its menus (timer DIV 0, so the start is the same every
time), and each reset returns there with the timer's DIV register set to a byte drawn from the board's
seed (the first draw of ``numpy.random.default_rng(seed)``, not ``seed % 256``: the game's own
randomness, e.g. Tetris pieces, then follows the seed). With a ``state`` file, resets load that file
instead (Kirby's after its wrapper's reset_game, which clears its game over: PyBoy's wrapper keeps it in
itself, not in the emulator state; so does its ``set_state``).

Reward per step: ``score_weight`` x the score gained, plus ``progress_weight`` x the level progress
gained (Super Mario Land's ``level_progress``, the x position in the current level: paid past the
furthest point reached in that level, so neither walking back, a restart after a death nor a new
level's start, where it falls back to the level's beginning, pays negative progress), minus
``death_penalty`` per life lost. An episode
terminates on the wrapper's game over, or on the first life lost with ``end_on_life_loss``.
episode_info: score (the game's own score), lives and progress at the episode's last step, the
episode return and the steps.

``game="depthfirst_test"`` runs the project's test cartridge with the same machinery (reward = event
flags + 10 x badges gained; terminated once both badges are held), so the tests exercise this class
without a commercial ROM.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from envs.base import as_path, check_state_keys, finite, flag_setting, reward_setting
from envs.gameboy.core import WRAM, GameBoyGame, load_emulator, save_emulator, unpack_bytes
from envs.gameboy.ram import POKEMON_RED, bit_count
from envs.gameboy.roms import (
    POKEMON_RED_ROMS,
    POKEMON_TITLES,
    README,
    TEST_CARTRIDGE,
    RomError,
    refuse_non_file,
    shown,
)
from envs.gameboy.wrapped import GAMES

TEST_BADGES_ALL = 0b11  # the test cartridge's two goals
# The most a step can change what the weights multiply, so that the weights' sum bounds a step's reward.
# A wrapper's score is six on-screen tiles read as digits, each tile id (0-383 in PyBoy) less 0 (Tetris)
# or 256 (Super Mario Land): a span of 383 per digit; Kirby's four RAM bytes and the test cartridge's
# events + 10 x badges span less. level_progress is a block byte x 16 + 15 + an x byte.
SCORE_CHANGE_MAX = 383 * 111_111
PROGRESS_GAIN_MAX = 255 * 16 + 15 + 255
# Frames a wrapped game's ROM gets to show its first screen (``WrappedGame.title_screen``): a minute of
# game time, about 0.2 s here; the real games show it within seconds.
TITLE_SCREEN_FRAMES = 3600
DIV = 0xFF04  # the timer's DIV register, which a wrapper's start_game and reset_game set


def default_rom(game: str) -> Path:
    """Where ``game``'s ROM is looked for without ``rom``: the project's cartridge where the build
    writes it, any other under roms/ in the working folder."""
    return TEST_CARTRIDGE if game == "depthfirst_test" else Path(f"roms/{game}.gb")


def _spec_value(game: GameBoy, name: str) -> Any:
    """The wrapped game's own value of option ``name``: what None stands for."""
    return getattr(game.spec, name)


def said_tetris_defaulted(message: str) -> str:
    """``message``, a refusal of a cartridge as no Tetris, saying that tetris was --game's default: only
    train_ppo.py knows that no --game, --set env_kwargs.game or --config chose it (a run's config.yaml
    always names its game), so the game leaves it out and train_command adds it."""
    expected = f"expected {GAMES['tetris'].title!r}"
    if not message.startswith("gameboy/tetris: "):
        return message
    return message.replace(expected, f"{expected} (tetris is --game's default)", 1)


def _cartridge_hint(title: str, sha1: str) -> str:
    """What to give instead for a cartridge whose ``title`` is not the game's: the game whose title it has,
    if any. Said as what the cartridge is, not as a flag to add: evaluate and export read the game in
    config.yaml."""
    fits = [name for name, spec in GAMES.items() if spec.title == title]
    if fits:
        return f"; this cartridge is --game {fits[0]}'s"
    if title in POKEMON_TITLES or sha1 in POKEMON_RED_ROMS:  # the test cartridge's title is in GAMES
        return "; a Pokémon Red or Blue cartridge is played with --env pokemon_red"
    known = ", ".join(f"{name} {spec.title!r}" for name, spec in GAMES.items())
    return f"; no --game plays this cartridge ({known})"


def _mark_started(wrapper: Any, timer_div: int) -> None:
    """Mark a PyBoy game wrapper started at the state loaded, ``timer_div`` its DIV (left as it is), so that
    its reset_game runs: that refuses a wrapper never started, and the game's own start_game plays its
    menus from the boot, so the base class's is called, which only saves the state and sets DIV."""
    from pyboy.plugins.base_plugin import PyBoyGameWrapper  # PyBoy is imported lazily

    if isinstance(wrapper, PyBoyGameWrapper):  # the compiled method crashes on any other object
        PyBoyGameWrapper.start_game(wrapper, timer_div=timer_div)


class GameBoy(GameBoyGame):
    """A wrapper-supported Game Boy game, rewarded from the wrapper's score/progress/lives."""

    name: ClassVar[str] = "gameboy"
    STATE_KEYS: ClassVar[tuple[str, ...]] = (*GameBoyGame.STATE_KEYS, "last")
    #: set_attr may change these (checked as the constructor checks them), from the next step; None is the
    #: wrapped game's own value
    score_weight = reward_setting(_spec_value)
    progress_weight = reward_setting(_spec_value)
    death_penalty = reward_setting(_spec_value)
    end_on_life_loss = flag_setting(_spec_value)
    # Each weight fitted float32 alone, but score_weight 3e38 paid 10 points as a reward of inf.
    FLOAT32_TOGETHER: ClassVar[tuple[tuple[str, ...], ...]] = (("score_weight", "progress_weight",
                                                                "death_penalty"),)
    FLOAT32_SPANS: ClassVar[Mapping[str, float]] = {"score_weight": SCORE_CHANGE_MAX,
                                                    "progress_weight": PROGRESS_GAIN_MAX}

    @property
    def rom_owner(self) -> str:
        return f"gameboy/{self.game}"

    def __init__(self, num_envs: int = 1, game: str = "tetris", rom: str | Path | None = None,
                 state: str | Path | None = None, score_weight: float | None = None,
                 progress_weight: float | None = None, death_penalty: float | None = None,
                 end_on_life_loss: bool | None = None, max_steps: int = 10000,
                 **emulator_kwargs: Any) -> None:
        if not isinstance(game, str) or game not in GAMES:  # a list is unhashable
            raise ValueError(f"unknown game {game!r}; known: {', '.join(GAMES)}")
        spec = GAMES[game]
        self.game = game
        self.spec = spec
        self.score_weight = score_weight  # the Settings read None as the spec's value
        self.progress_weight = progress_weight
        self.death_penalty = death_penalty
        self.end_on_life_loss = end_on_life_loss
        own = game == "depthfirst_test"
        rom = default_rom(game) if rom is None else as_path("rom", rom)
        refuse_non_file(rom, f"gameboy/{game}")
        if not rom.is_file():
            if own:
                raise RomError(f"gameboy/{game}: no cartridge at {shown(rom)}; build it with "
                               "`python -m envs.gameboy.cartridge.build` or give --rom")
            raise RomError(f"gameboy/{game}: no ROM file at {shown(rom)}. Supply your own (cartridge title "
                           f"{spec.title!r}); see {README}")
        self._wrapped = not own
        if self._wrapped:  # the wrapper's start_game boots the ROM
            self.BOOT_FRAMES = 0
        super().__init__(num_envs, rom=rom, state=state, max_steps=max_steps, **emulator_kwargs)

    def _prepare(self, i: int) -> None:
        pb = self._pyboys[i]
        title = pb.cartridge_title
        if title != self.spec.title:
            raise RomError(f"gameboy/{self.game}: {self.rom_path} is cartridge {title!r} (SHA-1 "
                           f"{self.rom_sha1}), expected {self.spec.title!r}"
                           f"{_cartridge_hint(title, self.rom_sha1)}; see {README}")
        if self._wrapped and self.state_path is None:
            if i == 0:  # every emulator runs the same ROM from the same state
                self._check_title_screen(pb)
            pb.game_wrapper.start_game(timer_div=0)
        elif self.spec.keeps_game_over:
            _mark_started(pb.game_wrapper, pb.memory[DIV])

    def _check_title_screen(self, pb: Any) -> None:
        """``RomError`` unless the ROM shows the first screen that PyBoy's ``start_game`` ticks for, without
        limit and deaf to Ctrl-C (a ROM of the right title that is no such game hung for ever); the
        emulator is then put back, so ``start_game`` plays the same frames."""
        if self.spec.title_screen is None:
            return
        x0, x1, y, tiles = self.spec.title_screen
        before = save_emulator(pb)
        for _ in range(TITLE_SCREEN_FRAMES):
            pb.tick(1, False)
            if pb.tilemap_background[x0:x1, y] == list(tiles):
                load_emulator(pb, before)
                return
        raise RomError(f"gameboy/{self.game}: {self.rom_path} is titled {self.spec.title!r} but never showed "
                       f"the first screen PyBoy's {self.game} wrapper waits for in {TITLE_SCREEN_FRAMES} "
                       f"frames: not the game the wrapper knows (a hack or another game? SHA-1 "
                       f"{self.rom_sha1}); see {README}")

    def _episode_start(self, i: int) -> None:
        if self._wrapped and self.state_path is None:
            pb = self._pyboys[i]
            pb.game_wrapper.reset_game(timer_div=int(self._rngs[i].integers(256)))
            pb.tick(1, True)  # some wrappers end their reset on an unrendered frame
        elif self.spec.keeps_game_over:
            self._restart_wrapper(i, self._start_state)
        else:
            super()._episode_start(i)

    def _restart_wrapper(self, i: int, emulator: bytes) -> None:
        """Load ``emulator`` into board ``i`` with its wrapper's memory of the episode cleared (a wrapper
        that ``keeps_game_over``). PyBoy 2.8's Kirby wrapper keeps game over in itself, not in the emulator
        state, and only its reset_game clears it: after a game over, an episode reset from a state file, or
        a board given an earlier state, ended on its first step. reset_game loads the wrapper's own start,
        so ``emulator`` is loaded after it: twice a plain load's cost, so the other wrappers, which read
        everything from memory, only load."""
        pb = self._pyboys[i]
        pb.game_wrapper.reset_game(timer_div=0)
        load_emulator(pb, emulator)
        pb.game_wrapper.post_tick()  # its figures (Kirby's health and lives) from the state loaded

    def set_state(self, i: int, state: dict[str, Any]) -> None:
        super().set_state(i, state)
        if self.spec.keeps_game_over:
            self._restart_wrapper(i, unpack_bytes(state["emulator"]))

    def _read(self, i: int) -> dict[str, float]:
        if not self._wrapped:
            mem = self._wram[i]
            badges = mem[POKEMON_RED["badges"].addr - WRAM]
            events = bit_count(mem, POKEMON_RED["event_flags"].addr - WRAM, POKEMON_RED["event_flags"].size)
            return {"score": float(events + 10 * badges.bit_count()), "progress": 0.0, "level": 0.0,
                    "lives": 1.0, "game_over": float(badges & TEST_BADGES_ALL == TEST_BADGES_ALL)}
        w = self._pyboys[i].game_wrapper
        w.post_tick()  # refresh after a load_state too
        world = getattr(w, "world", None)  # Super Mario Land: (world, level)
        level = float(world[0] * 16 + world[1]) if isinstance(world, tuple) and len(world) == 2 else 0.0
        return {"score": float(w.score), "progress": float(getattr(w, "level_progress", 0)), "level": level,
                "lives": float(getattr(w, "lives_left", 0)), "game_over": float(bool(w.game_over()))}

    def _init_tracking(self) -> None:
        self._last: list[dict[str, float]] = [{} for _ in range(self.num_envs)]

    def _after_reset(self, i: int) -> None:
        now = self._read(i)
        now["best_progress"] = now["progress"]
        self._last[i] = now

    def _after_step(self, i: int) -> tuple[float, bool]:
        now, before = self._read(i), self._last[i]
        # level_progress starts again at every level (and after a death): only progress past the
        # furthest point of the current level pays, which a new level resets. The defaults are for
        # states saved before "best_progress" and "level" were kept.
        best = before.get("best_progress", before["progress"])
        if now["level"] != before.get("level", now["level"]):
            best = now["progress"]
        gained = max(0.0, now["progress"] - best)
        now["best_progress"] = best + gained
        reward = self.score_weight * (now["score"] - before["score"]) + self.progress_weight * gained
        life_lost = now["lives"] < before["lives"]
        if life_lost:
            reward -= self.death_penalty
        self._last[i] = now
        return reward, bool(now["game_over"]) or (self.end_on_life_loss and life_lost)

    def _episode_info(self, i: int) -> dict[str, float]:
        last = self._last[i]
        return {"score": last["score"], "lives": last["lives"], "progress": last["progress"],
                "episode_return": float(self._returns[i]), "steps": float(self._steps[i])}

    def _state_extra(self, i: int) -> dict[str, Any]:
        return {"wrapped_game": self.game, "last": dict(self._last[i]), "score": self._last[i]["score"]}

    def _read_state_extra(self, state: dict[str, Any]) -> dict[str, float]:
        last = state["last"]  # the figures a step compares with ("level" and "best_progress" came later)
        check_state_keys(self.name, last, ("score", "progress", "lives", "game_over"), "state's last")
        read = {k: finite(f"state's last {k}", v) for k, v in last.items()}
        # A step pays the weights times the change from these: a finite 1e300 paid a reward of -inf. They
        # are kept within what a wrapper reads, as the weights' float32 check assumes.
        bounds = {"score": (-SCORE_CHANGE_MAX, SCORE_CHANGE_MAX), "progress": (0, PROGRESS_GAIN_MAX),
                  "best_progress": (0, PROGRESS_GAIN_MAX)}
        for k, (lo, hi) in bounds.items():
            if k in read and not lo <= read[k] <= hi:
                raise ValueError(f"state's last {k} must be between {lo} and {hi}, got {read[k]!r}")
        return read

    def _set_state_extra(self, i: int, extra: dict[str, float]) -> None:
        self._last[i] = extra

