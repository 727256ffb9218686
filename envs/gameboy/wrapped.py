"""The games ``gameboy`` plays through PyBoy's game wrappers (its ``game`` option) and how each is
rewarded. Stdlib only: scripts/train_ppo.py lists the names in ``--help`` without importing PyBoy."""

from __future__ import annotations

from dataclasses import dataclass

from envs.gameboy.roms import WRAPPER_TITLES


@dataclass(frozen=True)
class WrappedGame:
    title: str
    score_weight: float
    progress_weight: float = 0.0
    death_penalty: float = 0.0
    end_on_life_loss: bool = False
    #: (x0, x1, y, tiles): the background tiles [x0:x1, y] of the first screen PyBoy's (2.8) wrapper waits
    #: for in start_game, which ticks until they show, with no limit and deaf to Ctrl-C
    title_screen: tuple[int, int, int, tuple[int, ...]] | None = None
    #: the wrapper keeps game over in itself, not in the emulator state, and only its reset_game clears it
    #: (PyBoy 2.8's Kirby): a load from a state goes through reset_game first, which costs a second load
    keeps_game_over: bool = False


GAMES: dict[str, WrappedGame] = {
    "tetris": WrappedGame(WRAPPER_TITLES["tetris"], score_weight=0.01,
                          title_screen=(2, 9, 14, (89, 25, 21, 10, 34, 14, 27))),  # '1PLAYER'
    "super_mario_land": WrappedGame(WRAPPER_TITLES["super_mario_land"], score_weight=0.001,
                                    progress_weight=0.1, death_penalty=1.0, end_on_life_loss=True,
                                    title_screen=(6, 11, 13, (284, 285, 266, 283, 285))),  # 'START'
    "kirby": WrappedGame(WRAPPER_TITLES["kirby"], score_weight=0.001, death_penalty=1.0,
                         end_on_life_loss=True, title_screen=(0, 3, 16, (231, 224, 235)),  # 'HAL'
                         keeps_game_over=True),
    "depthfirst_test": WrappedGame("DEPTHFIRST", score_weight=1.0),
}
