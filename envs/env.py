"""The single-board Gymnasium env over any ``Game`` (the same core the vector env steps)."""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.error import ClosedEnvironmentError, ResetNeeded

from envs.base import MAX_RENDER_SCALE, RENDER_SCALE, Game, checked_actions, whole

RENDER_FPS = 10  # metadata["render_fps"], and the rate of evaluate.py's and TensorBoard's videos


class GameEnv(gym.Env):
    """One board of a registered game as a plain ``gymnasium.Env`` (``rgb_array`` rendering).

    ``reset(seed=s)`` seeds the board with ``s`` exactly as board k of a vector env seeded with
    ``s - k``, so the two agree step for step.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": RENDER_FPS}

    # Given first, ``game`` is positional-only so that GameBoy's own ``game`` option can pass through
    # ``game_kwargs``; ``GameEnv(game="snake")`` (SB3's make_vec_env(GameEnv, env_kwargs=...)) still works.
    def __init__(self, game: str | Game | None = None, /, render_mode: str | None = None,
                 render_scale: int = RENDER_SCALE, **game_kwargs: Any) -> None:
        from envs import make_game

        if game is None:
            game = game_kwargs.pop("game", None)
            if game is None:
                raise ValueError("GameEnv needs the game: a name such as 'snake', or a Game of one board")
        if "num_envs" in game_kwargs:  # else make_game gets it twice, a TypeError naming no fix
            raise ValueError("GameEnv is one board and takes no num_envs; for many boards use "
                             "envs.make_vec (or envs.make_game)")
        if not isinstance(game, str) and game_kwargs:  # they were dropped: the game played its own options
            names = sorted(game_kwargs)
            raise ValueError(f"GameEnv got a Game and the game options {names}: a Game's options are set "
                             f"when it is made (envs.make_game({game.name!r}, {names[0]}=...)); give GameEnv "
                             "the game's name to make it here")
        # Checked before the game is made: a typo here booted a Game Boy emulator for nothing.
        if render_mode not in (None, "rgb_array"):
            raise ValueError("render_mode must be None or 'rgb_array' (through gym.make also "
                             f"'rgb_array_list' or 'human'), got {render_mode!r}")
        self.render_mode = render_mode
        self.render_scale = whole("render_scale", render_scale, 1, MAX_RENDER_SCALE)
        self.game = make_game(game, num_envs=1, **game_kwargs) if isinstance(game, str) else game
        try:
            if self.game.num_envs != 1:
                raise ValueError("GameEnv wraps a game with num_envs=1")
            self.game.figure_names()  # the last info holds them beside SB3's entries: refuse a name clash
        except BaseException:
            # A game made here is no one else's to close (a Game Boy's PyBoy ran on); a caller's stays open.
            if isinstance(game, str):
                with contextlib.suppress(Exception):  # the refusal is the error to report
                    self.game.close()
            raise
        # The game's constructor options (Game.options): their names on this env are the game's (below).
        self._fixed, self._live = self.game.options()
        self.observation_space = self.game.observation_space
        self.action_space = self.game.action_space
        self._obs = self.game.new_obs_buffer()
        self._index = np.zeros(1, dtype=np.int64)
        # Until reset (or set_state) the board holds no episode: Snake's step raised an IndexError, other
        # games stepped an empty board. gym.make's OrderEnforcing catches this; GameEnv used directly did not.
        self._started = False
        self._ended = False  # the last step ended the episode: stepping on replayed a dead board (zeros)
        self._closed = False

    # A game's options set on this env are the game's: SB3's set_attr (DummyVecEnv, SubprocVecEnv) and
    # assignment set them here, and gymnasium's set_wrapper_attr finds them here through its wrappers. They
    # were kept beside the game's, read back by get_attr while the game played on by its own. A setting
    # is checked as GameVecEnv.set_attr checks it; an option fixed when the game is made is refused. Both
    # read back from the game, as GameVecEnv.get_attr reads them (a fixed one was an AttributeError here).
    def __getattr__(self, name: str) -> Any:
        # Only names GameEnv lacks reach here; vars(), as an unpickled env has no _live until restored.
        own = vars(self)
        if name in own.get("_live", ()) or name in own.get("_fixed", ()):
            return getattr(own["game"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):  # this env's own state, set every step: no option starts with "_"
            object.__setattr__(self, name, value)
            return
        own = vars(self)
        if name == "game" and "game" in own:
            # The Game Boy's `game` option shares the name: neither it nor the game played changes here.
            raise ValueError("GameEnv.game is the game it plays and stays so (the Game Boy's game option "
                             "is fixed when the game is made): make a new env for another game")
        if name in own.get("_fixed", ()) or name in own.get("_live", ()):
            game = own["game"]
            game.check_setting(name, value)  # the fixed option's refusal or the setting's ValueError
            setattr(game, name, value)
            return
        super().__setattr__(name, value)

    def set_wrapper_attr(self, name: str, value: Any, *, force: bool = True) -> bool:
        # A wrapper asks here (force=False) before keeping a name itself; a fixed option, which this env
        # does not read back, is refused here rather than kept on the outermost wrapper.
        if name == "game" or name in vars(self).get("_fixed", ()):
            setattr(self, name, value)  # raises the refusal
        return super().set_wrapper_attr(name, value, force=force)

    def _check_started(self, what: str) -> None:
        self._check_open(what)
        if not self._started:
            raise ResetNeeded(f"call reset() (or set_state) before {what}: the board holds no episode yet")

    def _check_open(self, what: str) -> None:
        # A closed Game Boy has no emulators left: its step and reset raised an IndexError.
        if self._closed:
            raise ClosedEnvironmentError(f"{what} on a closed env; make a new one")

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self._check_open("reset()")
        if options:  # ignored, a user's options={"difficulty": "hard"} played the default game unannounced
            raise ValueError(f"reset() takes no options, got {sorted(options)}: a game's settings are "
                             "keyword arguments of gym.make (or GameEnv), and env.unwrapped.set_state(state) "
                             "starts from a given board")
        super().reset(seed=seed)
        board_seed = seed if seed is not None else int(self.np_random.integers(0, 2**63))
        # Gymnasium takes any non-negative int; boards take uint64, wrapping as the vector env's seeds do.
        self.game.reset(self._index, np.array([board_seed % 2**64], dtype=np.uint64))
        self.game.observe(self._obs)
        self._started, self._ended = True, False
        return self._obs[0].copy(), {}

    def step(self, action):
        self._check_started("step()")
        if self._ended:
            raise ResetNeeded("step() after the episode ended (terminated or truncated): call reset() (or "
                              "set_state) first")
        reward, terminated, truncated = self.game.step(checked_actions(action, 1, self.game.ACTION_NAMES))
        self.game.observe(self._obs)
        info: dict[str, Any] = {}
        if terminated[0] or truncated[0]:
            self._ended = True
            info.update(self.game.episode_info(0))
        return self._obs[0].copy(), float(reward[0]), bool(terminated[0]), bool(truncated[0]), info

    def render(self) -> np.ndarray | None:
        # Refused before the first reset whatever the render_mode, as gym.make's OrderEnforcing refuses it:
        # without a render_mode it returned None here. A closed env's is None still.
        if self.render_mode != "rgb_array" and (self._started or self._closed):
            return None
        self._check_started("render()")
        return self.game.render(0, self.render_scale)

    def close(self) -> None:
        # The game may hold emulators outside Python (Game Boy); they outlived env.close() and `with` blocks.
        self.game.close()
        self._closed = True
        super().close()

    def get_keys_to_action(self) -> dict[tuple[int], int]:
        """The game's keys (``Game.ACTION_KEYS``), which ``gymnasium.utils.play.play`` reads when given none.
        No game has an action that does nothing: play with ``wait_on_player=True``, else every frame
        without a key plays ``noop`` (action 0)."""
        return self.game.keys_to_action()

    def get_state(self) -> dict[str, Any]:
        self._check_started("get_state()")
        return self.game.get_state(0)

    def set_state(self, state: dict[str, Any]) -> None:
        self._check_open("set_state()")
        self.game.set_state(0, state)
        # Read back as the game took it (Rotation's done may be left out): a done state's step replayed the
        # dead board (zeros) for ever, as stepping past an episode's end did.
        self._started, self._ended = True, bool(self.game.get_state(0)["done"])


def registered(depthfirst_game: str, render_mode: str | None = None, render_scale: int = RENDER_SCALE,
               **game_kwargs: Any) -> GameEnv:
    """The env of game ``depthfirst_game`` (the registered ids' ``kwargs`` name it, under a name no game uses:
    GameBoy has its own ``game`` option); every kwarg but the render ones goes to the game. The entry point
    of specs saved before each id had its own (``__getattr__``)."""
    return GameEnv(depthfirst_game, render_mode=render_mode, render_scale=render_scale, **game_kwargs)


def __getattr__(attr: str) -> Any:
    """``registered_<game>``, Gymnasium's entry point of ``depthfirst/<Name>-v0`` (``envs`` registers it):
    ``registered`` that knows its game. gym.make merges its kwargs over the id's, so through ``registered``
    ``gym.make("depthfirst/Snake-v0", depthfirst_game="sokoban")`` played Sokoban under Snake's id; this
    refuses another game there (the id's own passes: a spec's kwargs carry it)."""
    from envs import GAMES

    game = attr.removeprefix("registered_")
    if game == attr or game not in GAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")

    def make(depthfirst_game: Any = game, **kwargs: Any) -> GameEnv:
        if depthfirst_game != game:
            known = isinstance(depthfirst_game, str) and depthfirst_game in GAMES
            raise ValueError(f"depthfirst_game is set by the id: {GAMES[game][1]} plays {game!r}, got "
                             f"depthfirst_game={depthfirst_game!r}; make "
                             f"{GAMES[depthfirst_game][1] if known else 'another game'} instead")
        return registered(game, **kwargs)

    make.metadata = GameEnv.metadata  # type: ignore[attr-defined]
    return make


# gym.make reads the render modes from its entry point, here a function: without them it cannot wrap
# render_mode="human" in HumanRendering or "rgb_array_list" in RenderCollection, and GameEnv refuses both.
registered.metadata = GameEnv.metadata  # type: ignore[attr-defined]
