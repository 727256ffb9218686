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


GAMES: dict[str, WrappedGame] = {
    "tetris": WrappedGame(WRAPPER_TITLES["tetris"], score_weight=0.01),
    "super_mario_land": WrappedGame(WRAPPER_TITLES["super_mario_land"], score_weight=0.001,
                                    progress_weight=0.1, death_penalty=1.0, end_on_life_loss=True),
    "kirby": WrappedGame(WRAPPER_TITLES["kirby"], score_weight=0.001, death_penalty=1.0,
                         end_on_life_loss=True),
    "depthfirst_test": WrappedGame("DEPTHFIRST", score_weight=1.0),
}
