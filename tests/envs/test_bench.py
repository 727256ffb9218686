import time

import pytest

from envs import GAMES, make_game
from envs.bench import game_sps, random_play


def kwargs_for(name):
    if name in ("pokemon_red", "gameboy"):
        pytest.importorskip("pyboy")
        from envs.gameboy.roms import TEST_CARTRIDGE

        return {"rom": TEST_CARTRIDGE, **({"game": "depthfirst_test"} if name == "gameboy" else {})}
    return {}


@pytest.mark.parametrize("name", sorted(GAMES))
def test_every_game_runs_the_speed_loop(name):
    n = 2 if name in ("pokemon_red", "gameboy") else 64
    assert game_sps(name, seconds=0.05, num_envs=n, **kwargs_for(name)) > 0


def test_the_first_step_compiling_the_core_is_not_timed():
    game = make_game("snake", num_envs=8)
    step = game.step
    calls = []

    def first_slow(actions):  # as Numba compiling the core on a fresh checkout
        calls.append(1)
        if len(calls) == 1:
            time.sleep(1.0)
        return step(actions)

    game.step = first_slow
    _, wall = random_play(game, 0.05)
    assert wall < 0.8 and len(calls) > 1


def test_the_emulator_clock_counts_only_the_timed_steps():
    # benchmark.py's Game Boy overhead is wall / emulator_seconds - 1: both must cover the same steps.
    game = make_game("snake", num_envs=8)
    game.cheap = False  # as the Game Boy game: the clock is read after every step
    game.emulator_seconds = 0.0
    step = game.step
    calls = []

    def counted(actions):  # one second of emulation per step, on the game's own clock
        calls.append(1)
        game.emulator_seconds += 1.0
        return step(actions)

    game.step = counted
    sps, wall = random_play(game, 0.05)
    timed = round(sps * wall / game.num_envs)
    assert timed == len(calls) - 1  # the untimed first step
    assert game.emulator_seconds == timed  # was timed + 1: the untimed step's emulation was counted



@pytest.mark.parametrize("name", ["snake", "pokemon_red"])
def test_the_speed_loop_closes_the_game_it_makes(name, monkeypatch):
    import envs.bench

    made, closed = [], []

    def make(*args, **kwargs):  # the game benchmark.py times, its close() recorded
        game = make_game(*args, **kwargs)
        close = game.close
        game.close = lambda: (closed.append(game), close())
        made.append(game)
        return game

    monkeypatch.setattr(envs.bench, "make_game", make)
    assert game_sps(name, seconds=0.05, num_envs=2, **kwargs_for(name)) > 0
    assert len(made) == 1 and closed == made  # the Game Boy's emulators stopped, not left to the collector
