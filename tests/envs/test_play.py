"""Playing the envs by keyboard with Gymnasium's own ``gymnasium.utils.play.play``, by each game's keys."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import pytest

import envs  # registers the depthfirst/ ids


def _gym_kwargs(name: str) -> dict[str, Any]:
    """gym.make's options for game ``name``: the Game Boy's and Pokémon Red's on the test cartridge."""
    if name not in ("gameboy", "pokemon_red"):
        return {}
    pytest.importorskip("pyboy")
    from envs.gameboy.roms import TEST_CARTRIDGE

    return {"game": "depthfirst_test"} if name == "gameboy" else {"rom": TEST_CARTRIDGE}


@pytest.mark.parametrize("name", sorted(envs.GAMES))
def test_every_game_names_a_key_for_each_action(name: str) -> None:
    cls = envs.game_class(name)
    keys = cls.keys_to_action()
    assert sorted(set(keys.values())) == list(range(len(cls.ACTION_NAMES)))  # every action has a key
    assert len(keys) == sum(map(len, cls.ACTION_KEYS))  # and no key plays two actions
    assert all(len(k) == 1 and isinstance(k[0], int) for k in keys)  # key codes, as PlayableGame reads them


def test_play_finds_the_keys_through_gym_make() -> None:
    env = gym.make("depthfirst/Snake-v0", render_mode="rgb_array")
    assert env.has_wrapper_attr("get_keys_to_action")  # play's test: else MissingKeysToAction
    # UP, DOWN, LEFT, RIGHT: w s a d, or the arrows (pygame 2's K_UP, K_DOWN, K_LEFT, K_RIGHT)
    assert env.get_wrapper_attr("get_keys_to_action")() == {
        (ord("w"),): 0, (1073741906,): 0, (ord("s"),): 1, (1073741905,): 1,
        (ord("a"),): 2, (1073741904,): 2, (ord("d"),): 3, (1073741903,): 3}
    env.close()


@pytest.mark.parametrize("keys", [(), (("w",), ("s",), ("a",))], ids=["none", "three"])
def test_a_game_without_keys_says_what_to_pass(keys: tuple) -> None:
    from envs.snake import Snake

    class Keyless(Snake):
        ACTION_KEYS = keys

    with pytest.raises(ValueError, match=rf"Keyless names keys for {len(keys)} of its 4 actions: give it "
                                         r"ACTION_KEYS.*play\(env, keys_to_action="):
        Keyless.keys_to_action()


def test_game_boy_keys_are_those_of_pyboys_window() -> None:
    # scripts/play_gameboy.py plays in PyBoy's window; gymnasium's play must take the same keys.
    pytest.importorskip("pyboy")
    with warnings.catch_warnings():  # "Using SDL2 binaries from pysdl2-dll"
        warnings.simplefilter("ignore")
        window = pytest.importorskip("pyboy.plugins.window_sdl2")
    from pyboy.utils import WindowEvent

    from envs.gameboy.core import BUTTONS, GameBoyGame

    key_of = {event: code for code, event in window.KEY_DOWN.items()}

    def pyboy_key(button: str) -> int:  # "up": PRESS_ARROW_UP's key, "start": PRESS_BUTTON_START's
        pad = "ARROW" if button in ("up", "down", "left", "right") else "BUTTON"
        return key_of[getattr(WindowEvent, f"PRESS_{pad}_{button.upper()}")]

    assert GameBoyGame.keys_to_action() == {(pyboy_key(b),): a for a, b in enumerate(BUTTONS)}


def test_the_arrow_codes_are_pygames() -> None:
    pygame = pytest.importorskip("pygame")
    from envs.base import KEY_DOWN, KEY_LEFT, KEY_RIGHT, KEY_UP

    assert (KEY_UP, KEY_DOWN, KEY_LEFT, KEY_RIGHT) == (pygame.K_UP, pygame.K_DOWN, pygame.K_LEFT,
                                                      pygame.K_RIGHT)
    assert (ord("w"), ord("\r")) == (pygame.K_w, pygame.K_RETURN)


@pytest.fixture
def headless_play(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """gymnasium.utils.play (it needs pygame) with SDL's dummy video driver: no window is shown."""
    pytest.importorskip("pygame")
    matplotlib = pytest.importorskip("matplotlib")
    backend = matplotlib.get_backend()
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    with warnings.catch_warnings():  # its note when TkAgg cannot load: play draws no plots here
        warnings.simplefilter("ignore")
        from gymnasium.utils import play  # switches matplotlib to TkAgg

    yield play
    matplotlib.use(backend)  # the other tests' plots draw with the backend they had


class Keyboard:
    """pygame.event.get for play: presses each key in turn, one step each, then closes the window."""

    def __init__(self, pygame: Any, keys: list[int], played: list[int]) -> None:
        self.pygame, self.keys, self.played, self.pressed, self.held = pygame, keys, played, 0, None
        self.waited = 0

    def get(self) -> list[Any]:
        ev = self.pygame.event.Event
        if self.held is not None and len(self.played) < self.pressed and self.waited < 3:
            self.waited += 1  # held on: this frame reset an ended episode instead of stepping
            return []
        events = [] if self.held is None else [ev(self.pygame.KEYUP, key=self.held)]
        self.waited = 0
        if not self.keys or len(self.played) < self.pressed:  # the last key played nothing: stop
            return [*events, ev(self.pygame.QUIT)]
        self.held, self.pressed = self.keys.pop(0), self.pressed + 1
        return [*events, ev(self.pygame.KEYDOWN, key=self.held)]


@pytest.mark.parametrize("name", sorted(envs.GAMES))
def test_play_plays_each_action_by_its_keys(name: str, headless_play: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import pygame

    env = gym.make(envs.GAMES[name][1], render_mode="rgb_array", **_gym_kwargs(name))
    keys = env.get_wrapper_attr("get_keys_to_action")()
    played: list[int] = []
    monkeypatch.setattr(pygame.event, "get", Keyboard(pygame, [k for (k,) in keys], played).get)
    # No keys_to_action given: play reads the env's own, as it does for any Gymnasium env
    headless_play.play(env, fps=1000, seed=0, wait_on_player=True,
                       callback=lambda _o, _n, action, *_: played.append(action))
    env.close()
    assert played == list(keys.values())  # each key pressed played its action, one step each
