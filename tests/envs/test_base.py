"""The shared helpers of envs/base.py, called directly: the option and state checks every game runs."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gymnasium import spaces

import envs
from envs.base import (
    Game,
    GameDefinitionError,
    Setting,
    check_state_size,
    flag,
    state_cell,
    state_list,
    state_on_board,
    whole_options,
)
from envs.snake import Snake


def test_state_list_takes_an_array_as_get_state_would_list_it() -> None:
    assert state_list("state's apples", np.array([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match="state's apples must be a list"):
        state_list("state's apples", "12")


def test_state_cell_refuses_a_cell_of_another_width() -> None:
    assert state_cell("state's head", [1, 2.0]) == [1, 2]
    assert state_cell("state's cube", [1, 2, 3], width=3) == [1, 2, 3]
    for bad in ([1, 2, 3], [1]):
        with pytest.raises(ValueError, match="state's head must be a list of 2 whole numbers"):
            state_cell("state's head", bad)


@pytest.mark.parametrize("cell", [[10, 0], [0, 10], [-1, 0], [0, -1]])
def test_state_on_board_refuses_a_cell_past_any_edge(cell: list[int]) -> None:
    assert state_on_board("state's body", [[0, 0], [9, 9]], 10) == [[0, 0], [9, 9]]
    with pytest.raises(ValueError, match=r"state's body\[1\] .* is off the 10×10 board"):
        state_on_board("state's body", [[0, 0], cell], 10)


@pytest.mark.parametrize("size, error", [
    (5, "^state's board is 5×5, this game's 10×10: load it into a game made with size=5$"),
    (12, "^state's board is 12×12, this game's 10×10: load it into a game made with size=12$"),
    ("10", "^state's size must be a whole number >= 1, got '10'$")])
def test_check_state_size_refuses_any_other_size(size: object, error: str) -> None:
    check_state_size({"size": 10}, 10)
    with pytest.raises(ValueError, match=error):  # the state's size and the size= to make a game with
        check_state_size({"size": size}, 10)


@pytest.mark.parametrize("value", [2, -1])
def test_flag_takes_only_0_and_1_of_the_ints(value: int) -> None:
    assert flag("frame_skip_render", 0) is False and flag("frame_skip_render", 1) is True
    with pytest.raises(ValueError, match="frame_skip_render must be true or false"):
        flag("frame_skip_render", value)


class _Options:
    # Annotations no registered game uses yet, whose handling whole_options' docstring sets out.
    def __init__(self, count: int = 1, either: int | float = 1, label: str | float = "a",
                 weights: dict[str, int] | None = None) -> None: ...


def test_whole_options_follows_each_annotation_it_documents() -> None:
    out = whole_options(_Options, {"count": np.float32(3.0), "either": 2.0, "label": "1e-2",
                                   "weights": {"a": "1e2"}})
    # A NumPy float of a whole number is an int for an int option, as whole() reads it.
    assert out["count"] == 3 and type(out["count"]) is int
    # int | float: 2.0 may be meant as a float, so it stays one.
    assert out["either"] == 2.0 and type(out["either"]) is float
    # An option that takes a str keeps a string that reads as a number.
    assert out["label"] == "1e-2"
    # A mapping of numbers (int too) has YAML's number strings read as numbers.
    assert out["weights"] == {"a": 100.0}


class _Derived(_Options):
    def __init__(self, count: float = 1, **kwargs: object) -> None: ...


def test_whole_options_reads_a_subclass_annotation_over_its_bases_and_the_bases_for_the_rest() -> None:
    # count is the subclass's float (2.0 stays a float), weights the base's mapping of numbers.
    out = whole_options(_Derived, {"count": 2.0, "weights": {"a": "1e2"}})
    assert out == {"count": 2.0, "weights": {"a": 100.0}} and type(out["count"]) is float


class _Helper:
    def __init__(self, helper: int = 1) -> None: ...


class _MixedGame(Game, _Helper):
    # Abstract (never made): options() reads only the constructors' signatures.
    def __init__(self, num_envs: int = 1, size: int = 3) -> None:
        super().__init__(num_envs)


def test_options_are_those_of_the_game_constructors_only() -> None:
    # A mixin's constructor takes no game option: the options are the class's and its Game bases'.
    assert _MixedGame.options() == (("num_envs", "size"), ())


def test_a_setting_read_from_the_class_is_the_setting_itself() -> None:
    # Read from an instance it is the value; from the class, the descriptor (as a property is).
    snake = envs.game_class("snake")
    assert isinstance(snake.starvation, Setting)
    assert snake.starvation.name == "starvation"
    assert envs.make_game("snake", size=5).starvation == 50  # None: 2·N²


def test_observe_of_every_board_hands_the_kernels_int64_indices() -> None:
    # _boards' contract: the compiled kernels are specialised for int64, and another dtype compiles anew.
    game = envs.make_game("snake", num_envs=3)
    game.reset(np.arange(3), np.arange(3, dtype=np.uint64))  # else observe refuses (ResetNeeded)
    boards = game._boards(None, game.new_obs_buffer())
    assert boards.dtype == np.int64 and boards.tolist() == [0, 1, 2]


def test_a_game_that_played_refuses_step_and_observe_once_closed() -> None:
    # _check_playing skips its checks once a board holds an episode: the closed check must not go with
    # them (a game that had stepped played on after close()).
    from gymnasium.error import ClosedEnvironmentError

    game = envs.make_game("snake")
    game.reset(np.zeros(1, np.int64), np.zeros(1, np.uint64))
    obs, action = game.new_obs_buffer(), np.zeros(1, np.int64)
    game.step(action)
    game.observe(obs)
    game.close()
    for what, call in (("step", lambda: game.step(action)), ("observe", lambda: game.observe(obs))):
        with pytest.raises(ClosedEnvironmentError, match=f"^{what} on a closed snake game"):
            call()


class _Catch(Snake):
    """A game of one's own (README "Adding your own game"), here Snake under another name."""

    name = "catch"


def test_a_game_class_without_its_name_or_action_names_is_refused_naming_the_missing_one(monkeypatch) -> None:
    monkeypatch.delattr(Snake, "name")
    with pytest.raises(ValueError, match=r"_Catch\.name must be the game's name"):
        type("_Catch", (Snake,), {})()
    monkeypatch.undo()
    monkeypatch.delattr(Snake, "ACTION_NAMES")  # was: AttributeError inside Game.__init__
    with pytest.raises(ValueError, match=r"_Catch\.ACTION_NAMES must be a tuple of the actions' names"):
        _Catch()
    monkeypatch.setattr(Snake, "ACTION_NAMES", ["UP", "DOWN"], raising=False)
    with pytest.raises(ValueError, match=r"ACTION_NAMES .*got \['UP', 'DOWN'\]"):
        _Catch()
    monkeypatch.setattr(Snake, "ACTION_NAMES", ())  # no action at all: a Discrete(0) action space
    with pytest.raises(ValueError, match=r"ACTION_NAMES .*got \(\)"):
        _Catch()
    monkeypatch.setattr(Snake, "ACTION_NAMES", ("UP", 1))  # a name that is no str: messages print them
    with pytest.raises(ValueError, match=r"ACTION_NAMES .*got \('UP', 1\)"):
        _Catch()
    monkeypatch.undo()
    monkeypatch.setattr(_Catch, "name", "")  # names no game: its run folders and messages would name none
    with pytest.raises(ValueError, match=r"_Catch\.name must be the game's name, a str .*got ''"):
        _Catch()


@pytest.mark.parametrize("space", [
    spaces.Box(0.0, 1.0, (4, 10, 10), dtype=np.float32),  # observe's uint8 buffer cut 0.5 to 0
    spaces.Box(0, 255, (10, 10), dtype=np.uint8),  # no channel axis: GridCNN refused it at training
    spaces.Box(0, 255, (1, 4, 10, 10), dtype=np.uint8),  # a batch axis too
    spaces.Discrete(3),
    None,  # never set: an AttributeError wherever it was first read
])
def test_an_observation_space_that_is_no_uint8_channels_first_box_is_refused_when_the_game_is_made(
        monkeypatch, space) -> None:
    class Odd(_Catch):
        def __init__(self, num_envs: int = 1) -> None:
            super().__init__(num_envs)
            if space is None:
                del self.observation_space
            else:
                self.observation_space = space

    with pytest.raises(ValueError, match=r"Odd.observation_space must be a uint8 Box of shape \(channels, "
                                         r"height, width\), set in its constructor"):
        Odd()
    assert _Catch().observation_space.shape == (4, 10, 10)


@pytest.mark.parametrize("shape", [
    (10, 10, 4),  # channels-last, (height, width, channels)
    (8, 5, 5),  # channels first, but more of them than rows: SB3 reads it the same way
    (8, 5, 10),  # more channels than rows, fewer than columns: SB3 takes the rows for the channels
])
def test_an_observation_space_sb3_reads_as_channels_last_is_refused_when_the_game_is_made(shape) -> None:
    # It was taken: SB3 transposed it for training (its smallest side taken for the channels), and then
    # evaluate.py refused the run's own model as "trained on another game or settings".
    class Odd(_Catch):
        def __init__(self, num_envs: int = 1) -> None:
            super().__init__(num_envs)
            self.observation_space = spaces.Box(0, 255, shape, dtype=np.uint8)

    with pytest.raises(GameDefinitionError, match=r"^Odd.observation_space must be a uint8 Box of shape "
                                                  r"\(channels, height, width\) .*SB3 .*got shape "
                                                  + re.escape(str(shape)) + r": give the channels first "
                                                  r"\(in observe too\), at most as many as the rows and the "
                                                  r"columns$"):
        Odd()


def test_more_channels_than_rows_are_taken_where_sb3_reads_no_image() -> None:
    # Bounds other than 0-255 (one-hot planes of 0 and 1) are no image to SB3, which transposes none of
    # them: 8 such planes of a 5x5 board train as they are, yet were refused as channels-last.
    from stable_baselines3.common.preprocessing import is_image_space

    class Planes(_Catch):
        def __init__(self, num_envs: int = 1) -> None:
            super().__init__(num_envs)
            self.observation_space = spaces.Box(0, 1, (8, 5, 5), dtype=np.uint8)

    space = Planes().observation_space
    assert space.shape == (8, 5, 5) and not is_image_space(space)


_ONE_LOW = np.zeros((8, 5, 5), np.uint8)
_ONE_LOW[0, 0, 0] = 1


@pytest.mark.parametrize("space", [
    spaces.Box(0, 255, (4, 4, 10), dtype=np.uint8),  # as many channels as rows: SB3 takes the first side
    spaces.Box(1, 255, (8, 5, 5), dtype=np.uint8),  # low is not 0: no image to SB3
    spaces.Box(_ONE_LOW, 255, dtype=np.uint8),  # one low bound not 0: no image either
], ids=["channels-as-rows", "low-1", "one-low-1"])
def test_a_space_sb3_keeps_channels_first_is_taken(space: spaces.Box) -> None:
    from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first

    class Odd(_Catch):
        def __init__(self, num_envs: int = 1) -> None:
            super().__init__(num_envs)
            self.observation_space = space

    assert Odd().observation_space is space
    assert not is_image_space(space) or is_image_space_channels_first(space)


def test_a_game_without_any_figure_is_told_it_lacks_score(monkeypatch) -> None:
    from envs.base import GameDefinitionError

    monkeypatch.setattr(Snake, "episode_infos", lambda self, indices: {})
    with pytest.raises(GameDefinitionError, match=r"^snake's episode figures \(none\) lack 'score', which "):
        Snake().figure_names()
