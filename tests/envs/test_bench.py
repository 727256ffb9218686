import errno
import time

import pytest

from envs import GAMES, make_game
from envs.bench import game_sps, random_play
from tests.conftest import path_method_fails


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


def test_the_speed_loop_observes_every_step_and_resets_the_ended_boards_with_new_seeds():
    # envs/bench.py: "step, observe, and reset the boards whose episode ended, as the vector env does".
    # Without the observation the figure left out its cost; without the resets an ended board stays still and
    # steps for free; with repeated seeds the same few boards replayed.
    import numpy as np

    game = make_game("snake", num_envs=16)
    step, observe, reset = game.step, game.observe, game.reset
    log = []

    def stepped(actions):
        reward, terminated, truncated = step(actions)
        log.append(("step", actions.tolist(), np.flatnonzero(terminated | truncated).tolist()))
        return reward, terminated, truncated

    def observed(out, indices=None):
        log.append(("observe", indices, len(out)))
        observe(out, indices)

    def reset_boards(indices, seeds):
        log.append(("reset", np.asarray(indices).tolist(), np.asarray(seeds).tolist()))
        reset(indices, seeds)

    game.step, game.observe, game.reset = stepped, observed, reset_boards
    random_play(game, 0.05)
    assert log[0][:2] == ("reset", list(range(16)))
    seeds, actions, ended_any, i = list(log[0][2]), set(), False, 1
    while i < len(log):
        kind, played, ended = log[i]
        assert kind == "step" and log[i + 1] == ("observe", None, 16)
        actions.update(played)
        i += 2
        if ended:
            ended_any = True
            assert log[i][:2] == ("reset", ended)
            seeds += log[i][2]
            i += 1
    assert ended_any and len(seeds) == len(set(seeds))
    assert actions == set(range(game.action_space.n))  # uniformly random: every action played


def test_bare_pyboy_plays_the_envs_24_frames_per_step_rendering_the_last(tmp_path, monkeypatch):
    # The yardstick of the Game Boy overhead (pyboy_fps = pyboy_sps × 24): one frame more per step, or the
    # last one not rendered, changed the bare speed the env is measured against.
    import envs.bench
    import envs.gameboy.core
    from envs.bench import pyboy_bare_sps
    from envs.gameboy.core import GameBoyGame

    now = [0.0]
    events = []

    class PyBoy:
        def button_press(self, button):
            events.append(("press", button))

        def button_release(self, button):
            events.append(("release", button))

        def tick(self, frames, render):
            events.append(("tick", frames, render))
            now[0] += frames * 0.25 / 24  # a quarter of a virtual second a step

        def stop(self, save):
            events.append(("stop", save))

    rom = tmp_path / "x.gb"
    rom.write_bytes(b"rom")
    monkeypatch.setattr(envs.gameboy.core, "new_pyboy", lambda data: PyBoy() if data == b"rom" else None)
    monkeypatch.setattr(envs.bench, "time", type("T", (), {"perf_counter": staticmethod(lambda: now[0])}))
    assert pyboy_bare_sps(rom, seconds=1.0) == pytest.approx(4.0)
    # The boot is not timed; it is as long as the env's (the bench ticked 60 frames, the env 120).
    assert events[0] == ("tick", GameBoyGame.BOOT_FRAMES, False) and events[-1] == ("stop", False)
    steps = events[1:-1]
    assert len(steps) == 5 * 4
    for k in range(0, len(steps), 5):
        button = steps[k][1]
        assert button in envs.gameboy.core.BUTTONS
        assert steps[k:k + 5] == [("press", button), ("tick", 8, False), ("release", button),
                                  ("tick", 15, False), ("tick", 1, True)]
    assert len({steps[k][1] for k in range(0, len(steps), 5)}) > 1  # random buttons, not one


@pytest.mark.parametrize("readings, growth", [([1000, 1000 + 8 * 300], 300), ([None, None], None)])
def test_memory_per_emulator_is_the_growth_from_one_board_to_count_more_over_count(monkeypatch, readings,
                                                                                   growth):
    # No reading of resident memory (not Linux) is no figure, the games closed all the same.
    import envs.bench

    log, rss = [], iter(readings)

    class Game:
        def __init__(self, name, num_envs, **kwargs):
            log.append(("make", name, num_envs, kwargs))
            self.num_envs = num_envs

        def reset(self, indices, seeds):
            log.append(("reset", self.num_envs, len(indices), len(seeds)))

        def close(self):
            log.append(("close", self.num_envs))

    monkeypatch.setattr(envs.bench, "make_game", Game)
    monkeypatch.setattr(envs.bench, "rss_bytes", lambda: log.append(("rss",)) or next(rss))
    assert envs.bench._resident_growth("pokemon_red", 8, {"rom": "x.gb"}) == growth
    assert log == [("make", "pokemon_red", 1, {"rom": "x.gb"}), ("reset", 1, 1, 1), ("rss",),
                   ("make", "pokemon_red", 8, {"rom": "x.gb"}), ("reset", 8, 8, 8), ("rss",),
                   ("close", 1), ("close", 8)]


def test_a_cheap_game_plays_whole_rounds_of_actions_and_at_least_one(monkeypatch):
    # A clock that moves a second on every read, past the 0.5 s asked before the loop: a cheap game still
    # plays one round of its 64 action rows (the clock is read between rounds, not after every step).
    import types

    import envs.bench

    now = iter(range(1000))
    monkeypatch.setattr(envs.bench, "time", types.SimpleNamespace(perf_counter=lambda: float(next(now))))
    game = make_game("snake", num_envs=4)
    assert game.cheap
    sps, wall = random_play(game, 0.5)
    assert sps * wall == 64 * 4


def test_resident_memory_is_in_bytes():
    from pathlib import Path

    from envs.bench import rss_bytes

    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("no /proc (not Linux)")
    vm_rss_kb = next(int(line.split()[1]) for line in status.read_text().splitlines()
                     if line.startswith("VmRSS:"))
    assert abs(rss_bytes() - vm_rss_kb * 1024) < 16 * 2**20


def test_resident_memory_is_none_without_proc(monkeypatch):
    from envs.bench import rss_bytes

    no_proc = FileNotFoundError(errno.ENOENT, "No such file or directory")
    path_method_fails(monkeypatch, "read_text", lambda p: str(p).startswith("/proc/"), no_proc)
    assert rss_bytes() is None
