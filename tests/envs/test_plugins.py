"""A game of another package, added through the ``depthfirst.games`` entry-point group (README "Adding
your own game"): the scripts take it by name, in every process, without an edit to this project."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import agents.evaluation
import envs
import vlm.scoring
import vlm.tasks
from agents.cli import EPISODE_SEED
from agents.config import DEFAULTS, load_config
from agents.evaluation import check_game
from agents.runs import RunError, read_run_config
from envs.base import whole_options
from tests.chat_server import ChatServer, good
from tests.conftest import ROOT
from vlm.verify import reference_response


@pytest.fixture(autouse=True)
def forget_the_package():
    """Each test's ``catchplug`` (and the other packages a test makes) is its own: one imported by an earlier
    test would be found again."""
    yield
    for name in [m for m in sys.modules if m.split(".")[0] in ("catchplug", "catchplugx", "catchgame")]:
        del sys.modules[name]


# The user's game: Snake under another name is enough to check the plumbing, and keeps the test fast.
GAME_MODULE = "from envs.snake import Snake\n\n\nclass Catch(Snake):\n    name = 'catch'\n"


# Its task module: Snake's questions, asked of the catch state shown as a Snake one (Snake's scratch game
# refuses a state of another game), the states in the records a catch game's again (score_predictions'
# --specialist plays them).
TASK_MODULE = """import dataclasses

from vlm.tasks import snake

GAME = "catch"


def _as(game, value):
    if isinstance(value, dict):
        return {k: game if k == "game" and v in ("snake", "catch") else _as(game, v)
                for k, v in value.items()}
    return [_as(game, v) for v in value] if isinstance(value, list) else value


def _catch(draft):
    return dataclasses.replace(draft, extra=_as("catch", draft.extra))


def make_tasks(state, rng, source=None):
    return [_catch(d) for d in snake.make_tasks(_as("snake", state), rng, source)]


def move_task(state):
    return _catch(snake.move_task(_as("snake", state)))
"""


def installed(site: Path, entry_points: str, module: str = GAME_MODULE, tasks: str | None = None,
              task_module: str = TASK_MODULE) -> Path:
    """``site`` holding the package ``catchplug`` as pip installs it: its module and a dist-info folder
    whose ``entry_points.txt`` is ``entry_points`` (the lines of group depthfirst.games), then ``tasks``
    (those of group depthfirst.tasks, with ``task_module`` as catchplug/tasks.py) where given."""
    (site / "catchplug").mkdir(parents=True)
    (site / "catchplug" / "__init__.py").write_text("")
    (site / "catchplug" / "game.py").write_text(module)
    files = ["catchplug/__init__.py", "catchplug/game.py"]
    groups = f"[depthfirst.games]\n{entry_points}\n"
    if tasks is not None:
        (site / "catchplug" / "tasks.py").write_text(task_module)
        files.append("catchplug/tasks.py")
        groups += f"\n[depthfirst.tasks]\n{tasks}\n"
    info = site / "catchplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: catchplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(groups)
    files += [f"{info.name}/{f}" for f in ("METADATA", "entry_points.txt")]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))  # pip's list of what it installed
    return site


def packaged(site: Path, name: str, entry_points: str) -> Path:
    """``site`` holding the dist-info folder of package ``name`` 0.1 whose ``entry_points.txt`` is
    ``entry_points`` (its groups' lines): another package than ``installed``'s catchplug."""
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    return site


def use_catch(site: Path, monkeypatch: pytest.MonkeyPatch, module: str = GAME_MODULE,
              tasks: str | None = None) -> None:
    """Game ``catch`` of ``module`` installed into ``site`` and known to this process, as a package's entry
    point makes it when envs is imported (``tasks``: the package's lines of group depthfirst.tasks)."""
    monkeypatch.syspath_prepend(str(installed(site, "catch = catchplug.game:Catch", module, tasks)))
    monkeypatch.setitem(envs.GAMES, "catch", ("catchplug.game:Catch", "depthfirst/Catch-v0"))


def trained_catch(tmp_path: Path, scripts) -> Path:
    """A run of the installed catch game (5x5), the least training the scripts take: tmp_path/run."""
    run = tmp_path / "run"
    argv = ["--env", "catch", "--set", "env_kwargs.size=5", "--total-timesteps", "32", "--num-envs", "2",
            "--set", "ppo.n_steps=16", "--set", "ppo.batch_size=32", "--run-dir", str(run), "--no-progress"]
    assert scripts.train_ppo.main(argv) == 0
    return run


def exported_test_split(run: Path, out: Path, scripts, capsys, formats: str) -> list[dict]:
    """The test split's records of an export of ``run`` into ``out`` (4 episodes of 6 moves, half of them
    the test split), in ``formats``."""
    argv = [str(run), "--out", str(out), "--episodes", "4", "--max-steps", "6", "--split", "0.5,0,0.5",
            "--formats", formats, "--no-progress"]
    assert scripts.export_trajectories.main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    return [json.loads(line) for line in (out / "test.jsonl").read_text().splitlines()]


def test_an_installed_packages_game_trains_and_evaluates_by_name_with_workers(tmp_path):
    # With a second entry point that is skipped (a built-in's name): its warning was printed twice, by the
    # script and by the fork server that imports envs again, and pointed at envs/__init__.py's
    # "GAMES.update(_plugin_games())", not at the entry point.
    site = installed(tmp_path / "site", "catch = catchplug.game:Catch\nsnake = catchplug.game:Catch",
                     tasks="catch = catchplug.tasks")
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}
    run = tmp_path / "run"
    config = tmp_path / "catch.yaml"  # its settings: a game of another package has no preset in configs/
    config.write_text("env: catch\nenv_kwargs: {size: 5}\nppo: {n_steps: 16, batch_size: 32, n_epochs: 1}\n")
    # One worker: the worker process finds the game through the entry point, as the parent does.
    train = [sys.executable, str(ROOT / "scripts" / "train_ppo.py"), "--config", str(config),
             "--total-timesteps", "32", "--num-envs", "2", "--num-workers", "1",
             "--run-dir", str(run), "--no-progress"]
    proc = subprocess.run(train, env=environ, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "env=catch" in proc.stdout
    skipped = (f"{site / 'catchplug-0.1.dist-info' / 'entry_points.txt'}:3: UserWarning: entry point snake = "
               "'catchplug.game:Catch' of group depthfirst.games (package catchplug) is not added: the game "
               "'snake' exists already")
    assert proc.stderr.count("UserWarning") == 1 and skipped in proc.stderr, proc.stderr
    evaluate = [sys.executable, str(ROOT / "scripts" / "evaluate.py"), str(run), "--episodes", "1",
                "--no-video", "--max-steps", "20", "--json", "--no-progress"]
    proc = subprocess.run(evaluate, env=environ, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["env"] == "catch"
    # Its task module, found through group depthfirst.tasks by the export and by its worker processes.
    export = [sys.executable, str(ROOT / "scripts" / "export_trajectories.py"), str(run), "--out",
              str(tmp_path / "export"), "--episodes", "2", "--max-steps", "4", "--workers", "2", "--formats",
              "none", "--json", "--no-progress"]
    proc = subprocess.run(export, env=environ, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert sum(json.loads(proc.stdout)["records"].values()) > 0


def test_an_entry_points_game_is_made_by_name_and_by_its_gymnasium_id(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(installed(tmp_path, "catch = catchplug.game:Catch")))
    found = envs._plugin_games()
    assert found == {"catch": ("catchplug.game:Catch", "depthfirst/Catch-v0")}
    monkeypatch.setitem(envs.GAMES, "catch", found["catch"])
    game = envs.make_game("catch", num_envs=2, size=5)
    assert type(game).__name__ == "Catch" and game.size == 5
    assert envs.make_env("catch").game.name == "catch"


@pytest.mark.parametrize(("line", "problem"), [
    ("Catch = catchplug.game:Catch", "lower-case letters"),
    ("_catch = catchplug.game:Catch", "starting with a letter"),
    # Said "give yours another name", where a second package's was "give this one another name": one wording.
    ("snake = catchplug.game:Catch", "the game 'snake' exists already \\(a built-in game\\): give this one "
     "another name$"),
    ("catch = catchplug.game", "'package.module:GameClass'"),
    # No entry point at all to importlib (its attr raised AttributeError): every import of envs, so every
    # script, ended in that traceback
    ("catch = catch-plug.game:Catch", "'package.module:GameClass'"),
    ("catch = catchplug.game:Snake", "its Gymnasium id depthfirst/Snake-v0 is another game's"),
])
def test_an_entry_point_that_cannot_be_a_game_is_skipped_with_a_warning_naming_its_package(
        tmp_path, monkeypatch, line, problem):
    monkeypatch.syspath_prepend(str(installed(tmp_path, line)))
    with pytest.warns(UserWarning, match=problem) as caught:
        assert envs._plugin_games() == {}
    assert "(package catchplug)" in str(caught[0].message)


def test_a_second_entry_point_of_a_class_already_added_is_skipped(tmp_path, monkeypatch):
    # Two names for one class would both be depthfirst/Catch-v0: Gymnasium's id names one game only.
    monkeypatch.syspath_prepend(str(installed(tmp_path, "catch = catchplug.game:Catch\n"
                                                        "catch2 = catchplug.game:Catch")))
    with pytest.warns(UserWarning, match="entry point catch2 = .* its Gymnasium id depthfirst/Catch-v0 is "
                                         "another game's: rename the class"):
        assert envs._plugin_games() == {"catch": ("catchplug.game:Catch", "depthfirst/Catch-v0")}


def test_a_name_two_packages_register_is_the_first_ones_and_the_warning_names_both(tmp_path, monkeypatch):
    # It named only the skipped package: which one held 'catch' was left to guess.
    monkeypatch.syspath_prepend(str(installed(tmp_path / "second", "catch = catchplug.game:Catch")))
    first = packaged(tmp_path / "first", "otherplug", "[depthfirst.games]\ncatch = otherplug.game:Catch\n")
    monkeypatch.syspath_prepend(str(first))  # earlier on sys.path
    skipped = (r"^entry point catch = 'catchplug.game:Catch' of group depthfirst.games \(package catchplug\) "
               r"is not added: the game 'catch' exists already, package otherplug's \(earlier on sys.path\): "
               "give this one another name")
    with pytest.warns(UserWarning, match=skipped):
        assert envs._plugin_games() == {"catch": ("otherplug.game:Catch", "depthfirst/Catch-v0")}


@pytest.mark.parametrize(("module", "problem"), [
    ("", "cannot be loaded: module 'catchplug.game' has no attribute 'Catch'"),
    ("Catch = 5\n", "is 5, not a subclass of envs.base.Game"),
    ("class Catch:\n    name = 'catch'\n",
     "is <class 'catchplug.game.Catch'>, not a subclass of envs.base.Game"),
    # Python's "Can't instantiate abstract class" TypeError was reported as an option the run set
    ("from envs.base import Game\n\n\nclass Catch(Game):\n    name = 'catch'\n", "lacks _episode_info, "
     "get_state, observe, render_state, reset, set_state, step of the game contract \\(envs/base.py\\)"),
    # It trained under the entry point's name, made the run folder, then failed as "unknown env 'catcher'"
    # (the game's name, which the run's checkpoints and states carry), leaving a run with no checkpoint.
    ("from envs.snake import Snake\n\n\nclass Catch(Snake):\n    name = 'catcher'\n",
     "is named 'catcher' \\(Catch\\.name\\): give the class and the entry point the same name"),
    # A traceback through importlib's frames, where ImportError's was one line. Python's wording varies by
    # version (3.13: "parameter without a default follows ..."): the file and line are what count.
    ("def make(size=5, balls):\n    pass\n", "cannot be loaded: .+ \\(.*catchplug.game\\.py, line 1\\)$"),
    # An exception of the module's own code as it is imported: its traceback ended every script naming it.
    ("import os\nLEVELS = os.environ['CATCH_LEVELS']\n",
     "cannot be loaded: KeyError: 'CATCH_LEVELS' \\(.*catchplug.game\\.py, line 2\\)$"),
])
def test_an_entry_point_whose_class_is_no_game_is_refused_naming_it(tmp_path, monkeypatch, module, problem):
    use_catch(tmp_path, monkeypatch, module)
    with pytest.raises(ValueError, match="game 'catch' \\(catchplug.game:Catch, an entry point of group "
                                         f"depthfirst.games\\) {problem}"):
        envs.game_class("catch")


# A message of several lines split the error: line (the place after its last line), one of thousands of
# characters filled the screen, and one whose str() raised ended the script in that second exception's
# traceback. A sourceless module that cannot be read was placed at importlib's own frame
# ("<frozen importlib._bootstrap_external>, line ..."), and Python 3.10/3.11's syntax error for a null byte
# has no file nor line ("(None, line None)"): the entry point named before the message is the place then.
@pytest.mark.parametrize(("module", "problem"), [
    ("raise RuntimeError('first\\n  second ' + 'x' * 5000)\n",
     "RuntimeError: first second x+ … \\(.*catchplug.game\\.py, line 1\\)"),
    ("class Failed(Exception):\n    def __str__(self):\n        raise ValueError\n\n\nraise Failed\n",
     "Failed: <exception str\\(\\) failed> \\(.*catchplug.game\\.py, line 6\\)"),
    ("raise RuntimeError\n", "RuntimeError \\(.*catchplug.game\\.py, line 1\\)"),
    ("X = 1\0\n", "(SyntaxError: )?source code (string )?cannot contain null bytes( \\(.*\\.py, line 1\\))?"),
    (None, "(EOFError|ValueError): [^(]*"),
    # Raised by the module's code, not the compiler's: no file of their own; the bare ImportError said nothing
    ("raise SyntaxError('bad levels')\n", "SyntaxError: bad levels \\(.*catchplug.game\\.py, line 1\\)"),
    ("raise ImportError\n", "ImportError \\(.*catchplug.game\\.py, line 1\\)"),
], ids=["long-lines", "str-raises", "no-message", "null-byte", "damaged-pyc", "syntax-error-raised",
        "bare-import-error"])
def test_a_game_module_that_raises_as_it_is_imported_is_said_in_one_line(tmp_path, monkeypatch, module,
                                                                         problem):
    use_catch(tmp_path, monkeypatch, module or "")
    if module is None:  # a sourceless module (game.pyc alone) whose code is cut short
        import importlib.util

        (tmp_path / "catchplug" / "game.py").unlink()
        (tmp_path / "catchplug" / "game.pyc").write_bytes(importlib.util.MAGIC_NUMBER + bytes(12) + b"\xe3")
    with pytest.raises(ValueError) as raised:
        envs.game_class("catch")
    assert re.fullmatch(f"game 'catch' \\(catchplug.game:Catch, an entry point of group depthfirst.games\\) "
                        f"cannot be loaded: {problem}", str(raised.value)), str(raised.value)
    assert len(str(raised.value)) < 300 + len(str(tmp_path)) + 200  # the message cut at 300 characters


def test_a_package_that_puts_another_module_in_its_place_is_named_with_its_own_error(tmp_path, monkeypatch):
    # Its __init__ puts a module of its own making in sys.modules (a lazy-loading pattern), whose __spec__ is
    # None: looking the package's folder up for the place raised "ValueError: catchplug.__spec__ is None",
    # reported in place of the KeyError.
    use_catch(tmp_path, monkeypatch, "import os\nLEVELS = os.environ['CATCH_LEVELS']\n")
    (tmp_path / "catchplug" / "__init__.py").write_text(
        "import sys\nimport types\n\nlazy = types.ModuleType(__name__)\nlazy.__path__ = __path__\n"
        "sys.modules[__name__] = lazy\n")
    monkeypatch.delenv("CATCH_LEVELS", raising=False)
    with pytest.raises(ValueError, match=r"cannot be loaded: KeyError: 'CATCH_LEVELS'"):
        envs.game_class("catch")


@pytest.mark.parametrize("stop", ["raise KeyboardInterrupt", "raise SystemExit(3)"])
@pytest.mark.parametrize("module", ["game", "tasks"])
def test_a_stop_or_exit_as_a_packages_module_is_imported_is_no_error_line(tmp_path, monkeypatch, stop,
                                                                         module):
    # A Ctrl-C while the package's module is imported stops the script as anywhere (130), and its sys.exit()
    # exits: neither is the package's error to report.
    if module == "game":
        use_catch(tmp_path, monkeypatch, f"{stop}\n")
    else:
        use_catch_tasks(tmp_path, monkeypatch, f"{stop}\n")
    with pytest.raises((KeyboardInterrupt, SystemExit)) as raised:
        envs.game_class("catch") if module == "game" else vlm.tasks.task_module("catch")
    assert type(raised.value) is (KeyboardInterrupt if "Keyboard" in stop else SystemExit)


def test_the_line_named_is_the_packages_last_own_not_a_package_of_a_longer_name(tmp_path, monkeypatch):
    # The exception comes from catchplugx (a package whose folder name starts with catchplug's), called from
    # catchplug/levels.py, imported by catchplug/game.py: the line to fix is levels.py's, the package's last.
    use_catch(tmp_path, monkeypatch, "from catchplug.levels import LEVELS\n")
    (tmp_path / "catchplug" / "levels.py").write_text("from catchplugx import hard\nLEVELS = hard()\n")
    (tmp_path / "catchplugx").mkdir()
    (tmp_path / "catchplugx" / "__init__.py").write_text("def hard():\n    return {}['hard']\n")
    with pytest.raises(ValueError, match=r"KeyError: 'hard' \(.*catchplug.levels\.py, line 2\)$"):
        envs.game_class("catch")
    # A package that is one module (catchgame.py): its own file is the place.
    (tmp_path / "catchgame.py").write_text("import os\nLEVELS = os.environ['CATCH_LEVELS']\n")
    monkeypatch.setitem(envs.GAMES, "catch", ("catchgame:Catch", "depthfirst/Catch-v0"))
    monkeypatch.delenv("CATCH_LEVELS", raising=False)
    with pytest.raises(ValueError, match=r"loaded: KeyError: 'CATCH_LEVELS' \(.*catchgame\.py, line 2\)$"):
        envs.game_class("catch")


def test_the_line_named_of_a_namespace_package_is_in_its_folder(tmp_path, monkeypatch):
    # A package without __init__.py (PEP 420) has a folder and no file of its own (origin None): the line
    # named is still its module's, and looking the place up raises no TypeError in place of its error.
    use_catch(tmp_path, monkeypatch, "import os\nLEVELS = os.environ['CATCH_LEVELS']\n")
    (tmp_path / "catchplug" / "__init__.py").unlink()
    monkeypatch.delenv("CATCH_LEVELS", raising=False)
    with pytest.raises(ValueError, match=r"KeyError: 'CATCH_LEVELS' \(.*catchplug.game\.py, line 2\)$"):
        envs.game_class("catch")


def test_a_constructor_without_num_envs_is_named_not_blamed_on_the_options(tmp_path, monkeypatch, scripts,
                                                                           capsys):
    # Every game is made as Class(num_envs=N, **env_kwargs): one without it was refused as "env_kwargs for
    # catch: Catch.__init__() got an unexpected keyword argument 'num_envs' (a value in --config catch.yaml
    # counts as that flag or --set key)", and evaluate blamed "the run's config.yaml sets env_kwargs".
    module = GAME_MODULE + "\n    def __init__(self, size=10):\n        super().__init__(1, size)\n"
    use_catch(tmp_path / "site", monkeypatch, module)
    problem = (r"game 'catch' \(catchplug.game:Catch, an entry point of group depthfirst.games\): its "
               r"constructor takes no num_envs")
    with pytest.raises(RunError, match=f"^{problem}"):
        check_game("catch", {"size": 5})
    config = tmp_path / "catch.yaml"
    config.write_text("env: catch\nenv_kwargs: {size: 5}\n")
    assert scripts.train_ppo.main(["--config", str(config), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert re.match(f"error: {problem}", err) and "env_kwargs" not in err and "--config" not in err, err


# A game strict about its options' types: a float option is a float (an int 2 sets no float's speed).
FLOAT_OPTIONS = GAME_MODULE + """
    def __init__(self, num_envs=1, size=10, speed: float = 1.0, rate=0.5, steps: list[float] | None = None):
        super().__init__(num_envs, size)
        for name, value in (("speed", speed), ("rate", rate), *(("steps", s) for s in steps or ())):
            if type(value) is not float:
                raise ValueError(f"catch {name} must be a float, got {value!r}")
        self.speed, self.rate = speed, rate
"""


def test_an_int_given_to_a_float_option_of_a_packages_game_reaches_it_as_a_float(tmp_path, monkeypatch,
                                                                                scripts, capsys):
    # --set env_kwargs.speed=2 reached `speed: float` as the int 2 (README promised YAML's 1e-2 only), and
    # so did an int to an option defaulted as a float (rate=0.5) or a list of floats: this game refused them.
    use_catch(tmp_path / "site", monkeypatch, FLOAT_OPTIONS)
    run = tmp_path / "run"
    argv = ["--env", "catch", "--set", "env_kwargs.size=5", "--set", "env_kwargs.speed=2", "--set",
            "env_kwargs.rate=1", "--set", "env_kwargs.steps=[1, 2.5]", "--total-timesteps", "32",
            "--num-envs", "2", "--set", "ppo.n_steps=16", "--set", "ppo.batch_size=32", "--run-dir", str(run),
            "--no-progress"]
    assert scripts.train_ppo.main(argv) == 0, capsys.readouterr().err
    kept = read_run_config(run)["env_kwargs"]
    assert kept == {"size": 5, "speed": 2.0, "rate": 1.0, "steps": [1.0, 2.5]}
    assert [type(kept[k]) for k in ("speed", "rate")] == [float, float] and type(kept["steps"][0]) is float
    # An int option still takes no fraction, nor a float one a switch
    for given, refused in (("size=2.5", "snake size must be a whole number"),
                           ("speed=true", "catch speed must be a float, got True")):
        assert scripts.train_ppo.main([*argv[:2], "--set", f"env_kwargs.{given}", "--run-dir",
                                       str(tmp_path / "refused")]) == 2
        assert refused in capsys.readouterr().err and not (tmp_path / "refused").exists()


# make_game passes num_envs by name: a constructor taking it by keyword, or through **kwargs, is a game; one
# taking it only by position (def __init__(self, num_envs, /, ...)) fails as the one without it did.
@pytest.mark.parametrize(("init", "problem"), [
    ("self, *, num_envs=1, size=10):\n        super().__init__(num_envs, size)", None),
    ("self, **kwargs):\n        super().__init__(**kwargs)", None),
    ("self, num_envs=1, /, size=10):\n        super().__init__(num_envs, size)", "takes no num_envs"),
], ids=["keyword-only", "kwargs", "positional-only"])
def test_a_constructor_is_a_game_where_num_envs_can_be_passed_by_name(tmp_path, monkeypatch, init, problem):
    module = GAME_MODULE + f"\n    def __init__({init}\n"
    use_catch(tmp_path, monkeypatch, module)
    if problem is None:
        assert check_game("catch", {"size": 5}).obs_shape == (4, 5, 5)
    else:
        with pytest.raises(RunError) as refused:
            check_game("catch", {"size": 5})
        assert str(refused.value) == (f"game 'catch' (catchplug.game:Catch, an entry point of group "
                                      f"depthfirst.games): its constructor {problem}, which every game is "
                                      "made with (Catch(num_envs=N, **options)): def __init__(self, "
                                      "num_envs=1, ...) and pass it to super().__init__")


def test_a_plugin_games_config_is_the_defaults_and_the_config_files(tmp_path, monkeypatch):
    monkeypatch.setitem(envs.GAMES, "catch", ("catchplug.game:Catch", "depthfirst/Catch-v0"))
    assert load_config("catch") == {**DEFAULTS, "env": "catch"}  # no preset: not "every game needs one"
    own = tmp_path / "catch.yaml"
    own.write_text("env: catch\nenv_kwargs: {size: 5}\nppo: {n_steps: 16}\n")
    cfg = load_config(None, own)
    assert cfg["env_kwargs"] == {"size": 5} and cfg["ppo"]["n_steps"] == 16
    assert cfg["ppo"]["n_epochs"] == DEFAULTS["ppo"]["n_epochs"]


FLOAT_OBS = GAME_MODULE + """
    def __init__(self, num_envs=1, size=10):
        super().__init__(num_envs, size)
        import numpy as np
        from gymnasium import spaces
        self.observation_space = spaces.Box(0.0, 1.0, (4, size, size), dtype=np.float32)
"""
CONTRACT = r"^error: Catch\.observation_space must be a uint8 Box of shape \(channels, height, width\)"


def test_a_game_that_breaks_the_contract_is_named_so_not_as_an_option_the_run_set(tmp_path, monkeypatch,
                                                                                  scripts, capsys):
    # It read "env_kwargs for catch: ... (a value in --config catch.yaml counts as that flag or --set key)"
    use_catch(tmp_path / "site", monkeypatch, FLOAT_OBS)
    config = tmp_path / "catch.yaml"
    config.write_text("env: catch\nenv_kwargs: {size: 5}\n")
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--config", str(config), "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert re.search(CONTRACT, err, re.M) and "env_kwargs" not in err and "--config" not in err
    assert not run.exists()


def test_a_runs_game_that_breaks_the_contract_is_not_blamed_on_its_config_yaml(tmp_path, monkeypatch):
    # It read "the run's config.yaml sets env_kwargs {...} that catch refuses: ..." (evaluate, export, resume)
    use_catch(tmp_path, monkeypatch, FLOAT_OBS)
    with pytest.raises(RunError) as caught:
        check_game("catch", {"size": 5})
    message = str(caught.value)
    assert re.search(CONTRACT.removeprefix("^error: "), message) and "config" not in message


NO_SCORE = GAME_MODULE + """
    def _figures(self, boards):
        figures = super()._figures(boards)
        figures["caught"] = figures.pop("score")
        return figures
"""


def test_a_game_without_a_score_figure_is_refused_before_the_run_is_made(tmp_path, monkeypatch, scripts,
                                                                          capsys):
    # It trained to the end, then the final evaluation's KeyError: 'score' lost the run.
    use_catch(tmp_path / "site", monkeypatch, NO_SCORE)
    run = tmp_path / "run"
    argv = ["--env", "catch", "--set", "env_kwargs.size=5", "--total-timesteps", "64", "--num-envs", "2",
            "--set", "ppo.n_steps=32", "--set", "ppo.batch_size=64", "--run-dir", str(run), "--no-progress"]
    assert scripts.train_ppo.main(argv) == 2
    assert capsys.readouterr().err == ("error: catch's episode figures (snake_length, won, caught) lack "
                                       "'score', which every game reports: add it to _episode_info\n")
    assert not run.exists()


# A game whose get_state or render_state breaks what evaluate's videos and the export read: it played every
# episode, then ended in a traceback (write_video's "frames must be a uint8 array", encode_png's, json's
# "Object of type int64 is not JSON serializable").
FLOAT_PICTURE = GAME_MODULE + """
    @classmethod
    def render_state(cls, state, scale=16):
        return super().render_state(state, scale) / 255.0
"""
GRAY_PICTURE = GAME_MODULE + """
    @classmethod
    def render_state(cls, state, scale=16):
        return super().render_state(state, scale)[:, :, 0]
"""
NUMPY_STATE = GAME_MODULE + """
    def get_state(self, i):
        import numpy as np
        return {**super().get_state(i), "score": np.int64(self._score[i])}
"""
LIST_STATE = GAME_MODULE + """
    def get_state(self, i):
        return sorted(super().get_state(i).items())
"""
CYCLIC_STATE = GAME_MODULE + """
    def get_state(self, i):
        state = super().get_state(i)
        state["self"] = state
        return state
"""
RGBA_PICTURE = GAME_MODULE + """
    @classmethod
    def render_state(cls, state, scale=16):
        import numpy as np
        picture = super().render_state(state, scale)
        return np.concatenate([picture, picture[:, :, :1]], axis=2)
"""
BATCHED_PICTURE = GAME_MODULE + """
    @classmethod
    def render_state(cls, state, scale=16):
        return super().render_state(state, scale)[None]
"""
PICTURE = (r"Catch\.render_state must return an RGB picture, a uint8 array of shape \(height, width, 3\); "
           r"got {} for a state get_state returned")


@pytest.mark.parametrize(("module", "problem"), [
    (FLOAT_PICTURE, PICTURE.format(r"float64 \(5, 5, 3\)")),
    (GRAY_PICTURE, PICTURE.format(r"uint8 \(5, 5\)")),
    (NUMPY_STATE, r"Catch\.get_state must return a dict that JSON can hold \(plain Python numbers, lists, "
                  r"str, bool, None: int\(\), \.tolist\(\)\), as the export writes it; got Object of type "
                  r"int64 is not JSON serializable"),
    # A JSON-able state that is no dict, a dict JSON cannot hold for another reason than a type, an RGBA
    # picture and one of several pictures.
    (LIST_STATE, r"Catch\.get_state must return a dict that JSON can hold .*; got a list"),
    (CYCLIC_STATE, r"Catch\.get_state must return a dict that JSON can hold .*; got Circular reference "
                   r"detected"),
    (RGBA_PICTURE, PICTURE.format(r"uint8 \(5, 5, 4\)")),
    (BATCHED_PICTURE, PICTURE.format(r"uint8 \(1, 5, 5, 3\)")),
], ids=["float-picture", "gray-picture", "numpy-state", "list-state", "cyclic-state", "rgba-picture",
        "batched-picture"])
def test_a_game_whose_state_or_picture_breaks_the_contract_is_refused_before_any_play(
        tmp_path, monkeypatch, module, problem):
    use_catch(tmp_path, monkeypatch, module)
    with pytest.raises(RunError, match=f"^{problem}$"):  # evaluate's, export's and compare's check
        check_game("catch", {"size": 5})


# render_state as a plain method: evaluate's videos (drawn through the game) worked, but the export, which
# draws each state through the class (no game), played every episode, then failed in its traceback.
INSTANCE_PICTURE = GAME_MODULE + """
    def render_state(self, state, scale=16):
        return Snake.render_state(state, scale)
"""


def test_a_render_state_that_is_no_classmethod_is_refused_before_any_play(tmp_path, monkeypatch):
    use_catch(tmp_path, monkeypatch, INSTANCE_PICTURE)
    with pytest.raises(RunError, match=r"^Catch\.render_state must be a classmethod \(@classmethod\)"):
        check_game("catch", {"size": 5})


# A method that raises on the check's fixed arguments: a scale it refuses, a signature without scale.
SCALE_REFUSED = GAME_MODULE + """
    @classmethod
    def render_state(cls, state, scale=16):
        if scale < 2:
            raise ValueError(f"scale must be at least 2, got {scale}")
        return super().render_state(state, scale)
"""
NO_SCALE = GAME_MODULE + """
    @classmethod
    def render_state(cls, state):
        return super().render_state(state)
"""


@pytest.mark.parametrize(("module", "problem"), [
    (SCALE_REFUSED, "ValueError: scale must be at least 2, got 1"),
    (NO_SCALE, "TypeError: Catch.render_state\\(\\) takes 2 positional arguments but 3 were given"),
], ids=["scale-refused", "no-scale"])
def test_a_game_method_that_raises_in_the_contract_check_is_named_not_blamed_on_the_options(
        tmp_path, monkeypatch, scripts, capsys, module, problem):
    # Training said "env_kwargs for catch: ... (a value in --config catch.yaml counts as that flag or --set
    # key)", though render_state takes no option; evaluate, export and --resume ended in a traceback.
    use_catch(tmp_path / "site", monkeypatch, module)
    expected = f"Catch\\.render_state\\(state, 1\\) raised {problem}"
    with pytest.raises(RunError, match=f"^{expected}"):
        check_game("catch", {"size": 5})
    config = tmp_path / "catch.yaml"
    config.write_text("env: catch\nenv_kwargs: {size: 5}\n")
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--config", str(config), "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert re.match(f"error: {expected}", err) and "env_kwargs" not in err and "--config" not in err, err
    assert not run.exists()


# reset and get_state, called first, are named too: an exception of theirs ended evaluate in its traceback.
RESET_RAISES = GAME_MODULE + """
    def reset(self, indices, seeds):
        raise RuntimeError("no level file")
"""
STATE_RAISES = GAME_MODULE + """
    def get_state(self, i):
        raise KeyError(i)
"""


@pytest.mark.parametrize(("module", "problem"), [
    (RESET_RAISES, r"Catch\.reset\(indices, seeds\) raised RuntimeError: no level file"),
    (STATE_RAISES, r"Catch\.get_state\(0\) raised KeyError: 0"),
], ids=["reset", "get-state"])
def test_a_reset_or_get_state_that_raises_in_the_contract_check_is_named(tmp_path, monkeypatch, module,
                                                                          problem):
    use_catch(tmp_path, monkeypatch, module)
    with pytest.raises(RunError, match=f"^{problem}$"):
        check_game("catch", {"size": 5})


# A staticmethod is drawn through the class as the export draws it: kept, as a classmethod is.
STATIC_PICTURE = GAME_MODULE + """
    @staticmethod
    def render_state(state, scale=16):
        return Snake.render_state(state, scale)
"""


def test_a_render_state_that_is_a_staticmethod_passes_the_contract_check(tmp_path, monkeypatch):
    use_catch(tmp_path, monkeypatch, STATIC_PICTURE)
    assert check_game("catch", {"size": 5}).obs_shape == (4, 5, 5)


def test_a_game_whose_picture_breaks_the_contract_is_refused_before_the_run_is_made(tmp_path, monkeypatch,
                                                                                     scripts, capsys):
    # It trained to the end, then its TensorBoard video failed in Pillow's TypeError.
    monkeypatch.syspath_prepend(str(installed(tmp_path / "site", "catch = catchplug.game:Catch",
                                              FLOAT_PICTURE)))
    monkeypatch.setitem(envs.GAMES, "catch", ("catchplug.game:Catch", "depthfirst/Catch-v0"))
    run = tmp_path / "run"
    argv = ["--env", "catch", "--set", "env_kwargs.size=5", "--run-dir", str(run)]
    assert scripts.train_ppo.main(argv) == 2
    assert re.fullmatch("error: " + PICTURE.format(r"float64 \(5, 5, 3\)") + "\n", capsys.readouterr().err)
    assert not run.exists()


def test_the_built_in_games_skip_the_contract_check(monkeypatch):
    # The suite tests theirs: their start-up cost stays as it was.
    def refuse(game):
        raise AssertionError(f"{game.name}'s contract checked")

    monkeypatch.setattr(agents.evaluation, "check_contract", refuse)
    assert check_game("snake", {"size": 5}).obs_shape == (4, 5, 5)


# A constructor annotated with a name imported for type checkers only (ruff's TC rules move such imports
# under TYPE_CHECKING): train_ppo.py read the annotations to take size 5.0 as 5 and ended in a NameError.
CHECKER_ONLY_HINT = """from __future__ import annotations

from typing import TYPE_CHECKING

from envs.snake import Snake

if TYPE_CHECKING:
    from collections.abc import Sequence


class Catch(Snake):
    name = 'catch'

    def __init__(self, num_envs: int = 1, size: int = 10, colours: Sequence[int] | None = None,
                 lives: int = 3) -> None:
        super().__init__(num_envs, size)
"""


# Without the __future__ import only that annotation is a string; the others are the types themselves.
QUOTED_HINT = CHECKER_ONLY_HINT.replace("from __future__ import annotations\n", "").replace(
    "colours: Sequence[int] | None", "colours: 'Sequence[int] | None'")


@pytest.mark.parametrize("module", [CHECKER_ONLY_HINT, QUOTED_HINT], ids=["future", "quoted"])
def test_a_constructor_annotation_of_a_type_checking_import_does_not_stop_the_scripts(
        tmp_path, monkeypatch, scripts, capsys, module):
    monkeypatch.syspath_prepend(str(installed(tmp_path / "site", "catch = catchplug.game:Catch", module)))
    monkeypatch.setitem(envs.GAMES, "catch", ("catchplug.game:Catch", "depthfirst/Catch-v0"))
    # The annotations that evaluate are still read: size is whole, colours passes as given.
    # lives is annotated by Catch alone (size by Snake too); 2.0 == 2, so the types are compared.
    options = whole_options(envs.game_class("catch"), {"size": 5.0, "colours": [1.0], "lives": 2.0})
    assert {k: (v, type(v)) for k, v in options.items()} == {
        "size": (5, int), "colours": ([1.0], list), "lives": (2, int)}
    run = tmp_path / "run"
    argv = ["--env", "catch", "--set", "env_kwargs.size=5.0", "--set", "env_kwargs.sise=5", "--run-dir",
            str(run)]
    assert scripts.train_ppo.main(argv) == 2
    assert capsys.readouterr().err.startswith("error: --set env_kwargs.sise does not apply to --env catch")
    assert not run.exists()


# Annotations that fail to evaluate in other ways than a NameError, each a traceback of train_ppo.py: a module
# imported under TYPE_CHECKING only whose package is imported (AttributeError), words for a type
# (SyntaxError), and a lazy module whose attribute imports an optional package that is missing.
UNEVALUATED_HINTS = {
    "attribute": """from __future__ import annotations

from typing import TYPE_CHECKING

import catchplug
from envs.snake import Snake

if TYPE_CHECKING:
    import catchplug.colours


class Catch(Snake):
    name = 'catch'

    def __init__(self, num_envs: int = 1, size: int = 10, colours: catchplug.colours.Palette | None = None,
                 lives: int = 3) -> None:
        super().__init__(num_envs, size)
""",
    "words": """from envs.snake import Snake


class Catch(Snake):
    name = 'catch'

    def __init__(self, num_envs: int = 1, size: int = 10, colours: "a list of colours" = None,
                 lives: int = 3) -> None:
        super().__init__(num_envs, size)
""",
    "lazy-module": """from __future__ import annotations

import catchplug.lazy as lazy
from envs.snake import Snake


class Catch(Snake):
    name = 'catch'

    def __init__(self, num_envs: int = 1, size: int = 10, colours: lazy.Palette | None = None,
                 lives: int = 3) -> None:
        super().__init__(num_envs, size)
""",
}


@pytest.mark.parametrize("kind", list(UNEVALUATED_HINTS))
def test_a_constructor_annotation_that_does_not_evaluate_is_read_as_none_not_a_traceback(
        tmp_path, monkeypatch, scripts, capsys, kind):
    site = installed(tmp_path / "site", "catch = catchplug.game:Catch", UNEVALUATED_HINTS[kind])
    (site / "catchplug" / "lazy.py").write_text("def __getattr__(name):\n    import catchplug_backend\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(envs.GAMES, "catch", ("catchplug.game:Catch", "depthfirst/Catch-v0"))
    options = whole_options(envs.game_class("catch"), {"size": 5.0, "colours": [1.0], "lives": 2.0})
    assert {k: (v, type(v)) for k, v in options.items()} == {
        "size": (5, int), "colours": ([1.0], list), "lives": (2, int)}
    argv = ["--env", "catch", "--set", "env_kwargs.size=5.0", "--set", "env_kwargs.sise=5", "--run-dir",
            str(tmp_path / "run")]
    assert scripts.train_ppo.main(argv) == 2
    assert capsys.readouterr().err.startswith("error: --set env_kwargs.sise does not apply to --env catch")


# A constructor wrapped by a decorator of another module (functools.wraps): its annotations are read in
# the module of the constructor itself, where Lives is defined, not the decorator's.
WRAPPED_HINT = """from __future__ import annotations

from typing import TYPE_CHECKING

from catchplug.deco import logged
from envs.snake import Snake

if TYPE_CHECKING:
    from collections.abc import Sequence

Lives = int


class Catch(Snake):
    name = 'catch'

    @logged
    def __init__(self, num_envs: int = 1, size: int = 10, colours: Sequence[int] | None = None,
                 lives: Lives = 3) -> None:
        super().__init__(num_envs, size)
"""


def test_a_decorated_constructors_annotations_are_read_in_its_own_module(tmp_path, monkeypatch):
    site = installed(tmp_path, "catch = catchplug.game:Catch", WRAPPED_HINT)
    (site / "catchplug" / "deco.py").write_text(
        "import functools\n\n\ndef logged(init):\n    @functools.wraps(init)\n"
        "    def wrapper(*args, **kwargs):\n        return init(*args, **kwargs)\n    return wrapper\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(envs.GAMES, "catch", ("catchplug.game:Catch", "depthfirst/Catch-v0"))
    options = whole_options(envs.game_class("catch"), {"lives": 2.0})
    assert options == {"lives": 2} and type(options["lives"]) is int


def test_a_plugin_games_missing_task_module_is_not_asked_of_its_author_in_this_project(tmp_path, monkeypatch,
                                                                                       scripts, capsys):
    # The export said "add vlm/tasks/catch.py", evaluate --vlm and compare named that file too: a file of
    # this project, which an outside game's author cannot add from their package (task modules are found
    # there only).
    use_catch(tmp_path / "site", monkeypatch)
    run = trained_catch(tmp_path, scripts)
    capsys.readouterr()
    out = tmp_path / "out"
    assert scripts.export_trajectories.main([str(run), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    # It said a package cannot add one: its entry point of group depthfirst.tasks gives it one.
    assert err.startswith("error: env 'catch' has no task module: ") and "--tasks-per-state 0" in err
    assert "vlm/tasks/catch.py" not in err and "entry point of group depthfirst.tasks: catch = " in err
    assert not out.exists()
    assert scripts.evaluate.main([str(run), "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: a VLM cannot play 'catch'") and "leave out --vlm" in err
    assert "vlm/tasks/catch.py" not in err and "entry point of group depthfirst.tasks: catch = " in err
    # Without a specialist, "leave out --vlm" left nothing to compare: it names the run to give instead.
    assert scripts.compare.main(["--env", "catch", "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1",
                                 "--no-progress", "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: a VLM cannot play 'catch'") and "leave out --vlm" in err
    assert "give --specialist RUN (a run trained on 'catch')" in err and not (tmp_path / "cmp").exists()


def test_score_predictions_says_a_games_missing_task_module_as_the_other_scripts_do(tmp_path, monkeypatch):
    # Its move questions go unscored as moves: the reason read "cannot be used here: no VLM task module for
    # 'catch' (a known env); games with task modules: pokemon_red, ..." (task_module's own words for a caller
    # asking the wrong game), and of a game not installed named neither the Python nor what to do.
    from vlm.scoring import _unscored_moves

    use_catch(tmp_path / "site", monkeypatch)  # the game, without its package's task module
    said = _unscored_moves({"catch"})
    assert said is not None and said.endswith(
        "cannot be used here: 'catch' has no task module: a package gives it one by an entry point of group "
        "depthfirst.tasks: catch = 'package.module' (GAME, make_tasks, move_task; see vlm/record.py and "
        "README 'Adding your own game')"), said
    said = _unscored_moves({"fetch"})
    assert said is not None and said.endswith(
        f"cannot be used here: no game 'fetch' is known to the Python running this ({sys.executable}): a "
        "game of another package is known where its package is installed"), said


def test_a_run_of_a_game_whose_package_is_not_installed_here_says_where_the_game_comes_from(tmp_path):
    # A catch run trained in a venv holding the game's package, then evaluated (or resumed, exported) with
    # another Python: "config.yaml names env 'catch', which this depthfirst does not know" blamed the project.
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("env: catch\nenv_kwargs: {size: 5}\n")
    (run / "command.txt").write_text("cd /x && /x/venv/bin/python scripts/train_ppo.py --env catch\n")
    assert "catch" not in envs.GAMES
    with pytest.raises(RunError) as caught:
        read_run_config(run)
    message = str(caught.value)
    assert "names env 'catch'" in message and "command.txt" in message
    assert f"(known: {', '.join(sorted(envs.GAMES))}); " in message
    assert f"installed in the Python running this ({sys.executable}) or in a folder on its PYTHONPATH " \
           in message and "through entry point group depthfirst.games" in message


@pytest.mark.parametrize("pythonpath", ["/x/depthfirst", None, ""])
def test_a_run_of_a_game_not_known_here_names_the_pythonpath_its_package_may_be_on(tmp_path, monkeypatch,
                                                                                  pythonpath):
    # A package installed with pip install --target DIR is found through PYTHONPATH: a shell without DIR on
    # it was told of the Python alone, the very one command.txt names, so nothing seemed to differ. One set
    # empty (PYTHONPATH= python ...) names no folder either: said as unset, not as "()".
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("env: catch\nenv_kwargs: {size: 5}\n")
    (run / "command.txt").write_text(f"cd /x && {sys.executable} scripts/train_ppo.py --env catch\n")
    if pythonpath is None:
        monkeypatch.delenv("PYTHONPATH", raising=False)
    else:
        monkeypatch.setenv("PYTHONPATH", pythonpath)
    with pytest.raises(RunError) as caught:
        read_run_config(run)
    now = pythonpath or "unset here"
    assert (f"installed in the Python running this ({sys.executable}) or in a folder on its PYTHONPATH "
            f"({now}; pip install --target DIR puts it in DIR), through entry point group depthfirst.games") \
        in str(caught.value)


def test_an_exports_package_versions_name_the_package_of_a_plugin_game(tmp_path, monkeypatch):
    # meta.json and the dataset card listed depthfirst's and the libraries' versions, not the game's own
    # package, whose code made every state and frame of the export.
    from vlm.trajectories import package_versions

    use_catch(tmp_path, monkeypatch)
    assert package_versions("catch")["catchplug"] == "0.1"
    assert "catchplug" not in package_versions("snake")


LENGTH_FIGURE = GAME_MODULE + """
    def _figures(self, boards):
        figures = super()._figures(boards)
        figures["length"] = figures["snake_length"]
        return figures
"""


def test_a_figure_named_as_evaluates_own_means_is_refused_before_the_run_is_made(tmp_path, monkeypatch,
                                                                                 scripts, capsys):
    # evaluate.py's JSON and compare.py's report took the figure's mean for mean_length, the episodes' mean
    # length, without a word (a figure "return" would replace mean_return so).
    site = installed(tmp_path / "site", "catch = catchplug.game:Catch", LENGTH_FIGURE)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(envs.GAMES, "catch", ("catchplug.game:Catch", "depthfirst/Catch-v0"))
    with pytest.raises(RunError, match=r"^catch's episode figure 'length' would replace evaluate\.py's "
                                       "mean_length"):
        check_game("catch", {"size": 5})
    run = tmp_path / "run"
    argv = ["--env", "catch", "--set", "env_kwargs.size=5", "--run-dir", str(run)]
    assert scripts.train_ppo.main(argv) == 2
    assert capsys.readouterr().err.startswith("error: catch's episode figure 'length' would replace")
    assert not run.exists()


def test_a_figure_named_as_sb3s_rollout_curves_is_refused(tmp_path, monkeypatch):
    # Its rollout/ep_len_mean was written, then replaced by SB3's own curve of that tag (the episodes'
    # lengths), so TensorBoard never showed the figure.
    module = GAME_MODULE + """
    def _figures(self, boards):
        return {**super()._figures(boards), "ep_len": self._score[boards] * 0.0}
"""
    use_catch(tmp_path, monkeypatch, module)
    with pytest.raises(RunError, match=r"^catch's episode figure 'ep_len' would replace SB3's TensorBoard "
                                       r"curve rollout/ep_len_mean"):
        check_game("catch", {"size": 5})


def use_catch_tasks(site: Path, monkeypatch: pytest.MonkeyPatch, task_module: str = TASK_MODULE,
                    line: str = "catch = catchplug.tasks") -> None:
    """Game ``catch`` and its task module (entry point ``line`` of group depthfirst.tasks) installed into
    ``site`` and known to this process, as the entry points make them when envs and vlm.tasks are imported."""
    monkeypatch.syspath_prepend(str(installed(site, "catch = catchplug.game:Catch", tasks=line,
                                              task_module=task_module)))
    monkeypatch.setitem(envs.GAMES, "catch", ("catchplug.game:Catch", "depthfirst/Catch-v0"))
    found = vlm.tasks._plugin_tasks()
    for game, module in found.items():
        monkeypatch.setitem(vlm.tasks.TASK_MODULES, game, module)
    monkeypatch.setattr(vlm.tasks, "TASK_GAMES", tuple(sorted(vlm.tasks.TASK_MODULES)))
    # Each test's module is its own: the qa_type of the move question an earlier one asked is not this one's.
    monkeypatch.setattr(vlm.scoring, "_MOVE_QA_TYPES", {})


def test_a_packages_task_module_gives_its_game_task_records_scores_and_a_vlms_play(tmp_path, monkeypatch,
                                                                                   scripts, capsys):
    # Task modules were found in vlm/tasks/ only: a game of another package exported trajectories alone,
    # and evaluate --vlm and compare --vlm refused it.
    use_catch_tasks(tmp_path / "site", monkeypatch)
    assert vlm.tasks.TASK_MODULES["catch"] == "catchplug.tasks"
    run = trained_catch(tmp_path, scripts)
    out = tmp_path / "export"
    test = exported_test_split(run, out, scripts, capsys, "openrlhf")
    assert test and {r["game"] for r in test} == {"catch"}
    assert (out / "openrlhf" / "test.jsonl").is_file()
    assert "catchplug.tasks (entry point catch of group depthfirst.tasks)" in (out / "README.md").read_text()
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"id": r["id"], "response": reference_response(r)}) + "\n"
                                   for r in test))
    # --specialist: the run's greedy moves answer the move questions, which the task module names.
    argv = [str(out / "test.jsonl"), str(predictions), "--specialist", str(run), "--json"]
    assert scripts.score_predictions.main(argv) == 0, capsys.readouterr().err
    scores = json.loads(capsys.readouterr().out)
    model, specialist = scores["results"][:2]
    assert model["overall"]["n"] == len(test) and model["overall"]["accuracy"] == 1.0, scores
    assert specialist["name"] == "specialist" and specialist["overall"]["answered"] >= 1, scores
    best = "<think>looking</think><best_answer>UP</best_answer><worst_answer>None</worst_answer>"
    with ChatServer(default=lambda body: good(best)) as server:
        argv = [str(run), "--vlm", f"m@{server.url}", "--episodes", "1", "--max-steps", "3", "--no-video",
                "--json", "--no-progress", "--out", str(tmp_path / "vlm")]
        assert scripts.evaluate.main(argv) == 0, capsys.readouterr().err
    assert server.hits >= 1
    assert json.loads(capsys.readouterr().out)["env"] == "catch"


@pytest.mark.parametrize(("line", "problem"), [
    # The built-in games, each refused as the next case is, were listed too: only the others can be named.
    ("fetch = catchplug.tasks", "'fetch' is no game \\(an entry point of group depthfirst.games adds one\\): "
     "name the entry point as the game's; games of installed packages: catch$"),
    ("snake = catchplug.tasks", "'snake' is a built-in game, whose task module is this project's "
     "vlm/tasks/snake.py: a package's is for a game it adds \\(group depthfirst.games\\)"),
    # It said "whose task module is this project's (vlm/tasks/)", of a game that has none.
    ("gameboy = catchplug.tasks", "'gameboy' is a built-in game, which has no task module: a package's is "
     "for a game it adds \\(group depthfirst.games\\): add yours under a name of its own and name this "
     "entry point as it$"),
    ("catch = catchplug.tasks:make_tasks", "its value must name the task module as 'package.module'"),
])
def test_a_task_entry_point_that_cannot_be_used_is_skipped_with_a_warning_naming_its_package(
        tmp_path, monkeypatch, line, problem):
    use_catch(tmp_path, monkeypatch, tasks=line)
    name = line.split(" = ")[0]
    with pytest.warns(UserWarning, match=f"^entry point {name} = .* of group depthfirst.tasks \\(package "
                                         f"catchplug\\) is not added: {problem}"):
        assert vlm.tasks._plugin_tasks() == {}


def test_a_task_entry_point_named_after_no_game_lists_the_installed_games_in_order(tmp_path, monkeypatch):
    # The games it may be named after: those of installed packages, sorted (one added after catch goes first).
    use_catch(tmp_path, monkeypatch, tasks="fetch = catchplug.tasks")
    monkeypatch.setitem(envs.GAMES, "aardvark", ("catchplug.game:Catch", "depthfirst/Aardvark-v0"))
    listed = "'fetch' is no game .*; games of installed packages: aardvark, catch$"
    with pytest.warns(UserWarning, match=listed):
        assert vlm.tasks._plugin_tasks() == {}


def test_a_task_entry_point_named_after_no_game_where_no_package_adds_one_is_told_none(tmp_path, monkeypatch):
    # The package's game entry point is not known here (GAMES without catch): no game a package adds to name.
    site = installed(tmp_path, "catch = catchplug.game:Catch", tasks="fetch = catchplug.tasks")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(envs, "GAMES", {g: v for g, v in envs.GAMES.items() if g in envs.BUILTIN_GAMES})
    with pytest.warns(UserWarning, match="'fetch' is no game .*; games of installed packages: none$"):
        assert vlm.tasks._plugin_tasks() == {}


def test_a_game_two_packages_give_a_task_module_keeps_the_first_and_the_warning_names_its_package(
        tmp_path, monkeypatch):
    # It named the first's module alone, not its package, nor what to do (the games' group names both).
    use_catch(tmp_path / "second", monkeypatch, tasks="catch = catchplug.tasks")
    monkeypatch.syspath_prepend(str(packaged(tmp_path / "first", "otherplug",
                                             "[depthfirst.tasks]\ncatch = otherplug.tasks\n")))
    skipped = (r"^entry point catch = 'catchplug.tasks' of group depthfirst.tasks \(package catchplug\) is "
               r"not added: the game 'catch' has a task module already, otherplug.tasks, package otherplug's "
               r"\(earlier on sys.path\): a game takes one: remove one of the two entry points$")
    with pytest.warns(UserWarning, match=skipped):
        assert vlm.tasks._plugin_tasks() == {"catch": "otherplug.tasks"}


@pytest.mark.parametrize(("group", "lines", "problem"), [
    ("depthfirst.games", "catch = catchplug.game:Catch\ncatch = catchplug.game:Catch2",
     "the game 'catch' exists already, this package's own \\(an earlier line of its entry_points.txt\\): "
     "give this one another name$"),
    ("depthfirst.tasks", "catch = catchplug.tasks\ncatch = catchplug.tasks2",
     "the game 'catch' has a task module already, catchplug.tasks, this package's own \\(an earlier line of "
     "its entry_points.txt\\): a game takes one: remove one of the two entry points$"),
])
def test_a_name_twice_in_one_packages_entry_points_is_skipped_naming_the_earlier_line(tmp_path, monkeypatch,
                                                                                       group, lines, problem):
    # The second was said to lose to one "earlier on sys.path": both are the one package's.
    if group == "depthfirst.games":
        site = installed(tmp_path, lines)
    else:
        site = installed(tmp_path, "catch = catchplug.game:Catch", tasks=lines)
        monkeypatch.setitem(envs.GAMES, "catch", ("catchplug.game:Catch", "depthfirst/Catch-v0"))
    monkeypatch.syspath_prepend(str(site))
    read = envs._plugin_games if group == "depthfirst.games" else vlm.tasks._plugin_tasks
    second = lines.splitlines()[1].replace(" = ", " = '") + "'"
    with pytest.warns(UserWarning, match=f"^entry point {second} of group {group} \\(package catchplug\\) is "
                                         f"not added: {problem}") as caught:
        assert list(read()) == ["catch"]
    info = site / "catchplug-0.1.dist-info" / "entry_points.txt"
    assert (caught[0].filename, caught[0].lineno) == (str(info), info.read_text().splitlines().index(
        lines.splitlines()[1]) + 1)


def test_an_installed_task_module_is_found_when_vlm_tasks_is_imported_and_listed_in_order(tmp_path):
    # The other tests add the entry point's module by hand (use_catch_tasks): here the import itself finds it,
    # and TASK_GAMES (the lists messages give) stays sorted with it among the built-in games.
    site = installed(tmp_path / "site", "catch = catchplug.game:Catch", tasks="catch = catchplug.tasks")
    code = "import vlm.tasks as t; print(t.TASK_MODULES['catch']); print(*t.TASK_GAMES)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])})
    assert proc.returncode == 0, proc.stderr
    module, games = proc.stdout.splitlines()
    assert module == "catchplug.tasks"
    assert "catch" in games.split() and games.split() == sorted(games.split()), games


def test_a_task_modules_families_may_be_a_tuple_or_a_list(tmp_path, monkeypatch):
    # README said a tuple while a list was taken: both are, and the refusal of anything else says so.
    use_catch_tasks(tmp_path / "site", monkeypatch, TASK_MODULE + 'FAMILIES = ["strategy", "perception"]\n')
    assert vlm.tasks.drawn_families(vlm.tasks.task_module("catch")) == ("strategy", "perception")


def test_a_task_module_of_a_top_level_module_is_used(tmp_path, monkeypatch):
    # 'package.module' also takes a module of its own, outside any package (py-modules = ["catchtasks"]).
    site = tmp_path / "site"
    site.mkdir()
    (site / "catchtasks.py").write_text(TASK_MODULE)
    use_catch_tasks(site, monkeypatch, line="catch = catchtasks")
    assert vlm.tasks.task_module("catch").GAME == "catch"
    place = "task module catchtasks (entry point catch of group depthfirst.tasks)"
    assert vlm.tasks.module_place("catch") == place


@pytest.mark.parametrize(("line", "module", "problem"), [
    ("catch = catchplug.nothing", TASK_MODULE, "cannot be imported: No module named 'catchplug.nothing'"),
    ("catch = catchplug.tasks", TASK_MODULE.replace("def move_task", "def move_tasks"), "lacks move_task"),
    ("catch = catchplug.tasks", TASK_MODULE.replace("def make_tasks", "def make_task"), "lacks make_tasks"),
    ("catch = catchplug.tasks", TASK_MODULE.replace('GAME = "catch"', 'GAMES = ["catch"]'), "lacks GAME"),
    ("catch = catchplug.tasks", TASK_MODULE.replace('GAME = "catch"', 'GAME = "snake"'),
     "has GAME = 'snake', not 'catch': set GAME = 'catch'"),
    ("catch = catchplug.tasks", "def make_tasks(\n",
     "cannot be imported: .+ \\(.*catchplug.tasks\\.py, line 1\\)"),
    # An exception of the module's own code as it is imported, and a function that is none: a traceback, the
    # second's only once the play or the export's replay called it.
    ("catch = catchplug.tasks", 'GAME = "catch"\nLEVELS = {}["hard"]\n',
     "cannot be imported: KeyError: 'hard' \\(.*catchplug.tasks\\.py, line 2\\)$"),
    ("catch = catchplug.tasks", TASK_MODULE + "move_task = None\n",
     "has move_task = None, not a function \\(see the contract in vlm/record.py\\)$"),
    # The families it says it draws: a str was taken letter by letter, a misspelt family taken (the export's
    # --mix check and its card count them), a number ended the export in a traceback.
    *(("catch = catchplug.tasks", TASK_MODULE + f"FAMILIES = {families}\n",
       f"has FAMILIES = {re.escape(families)}: give the families it draws as a tuple or list of perception, "
       "state_prediction, strategy, vision_zero$")
      for families in ("'strategy'", "('strategy', 'stratgy')", "5", "()")),
], ids=["no-module", "no-move_task", "no-make_tasks", "no-GAME", "another-GAME", "syntax-error",
        "raises-at-import", "not-a-function", "families-str", "families-misspelt", "families-number",
        "families-none"])
def test_a_task_module_that_cannot_be_used_is_refused_naming_its_entry_point(tmp_path, monkeypatch, scripts,
                                                                              capsys, line, module, problem):
    use_catch_tasks(tmp_path / "site", monkeypatch, module, line)
    where = (f"task module {line.split(' = ')[1]} \\(entry point catch of group depthfirst.tasks\\) "
             f"{problem}")
    with pytest.raises((ImportError, TypeError), match=f"^{where}"):
        vlm.tasks.task_module("catch")
    # Before any request: one error line, not a traceback.
    argv = ["--env", "catch", "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1"]
    assert scripts.evaluate.main(argv) == 2
    assert re.match(f"error: a VLM cannot play 'catch': {where}", capsys.readouterr().err)


# A move question the player cannot read a move from: lettered options (rule choice), or words that name no
# action of the game.
CHOICE_MOVE = """

def move_task(state):
    from vlm.prompts import choice_draft

    return choice_draft("strategy", "best_move", 1, 1, [snake.render(_as("snake", state))], "Catch.",
                        "Which move?", ["UP", "DOWN", "LEFT", "RIGHT"], 0, ["Up is best."], {"state": state})
"""
WORDS_MOVE = """

def move_task(state):
    from vlm.prompts import word_draft

    return word_draft("strategy", "best_move", 1, 1, [snake.render(_as("snake", state))], "Catch.",
                      "Which way?", ["NORTH", "SOUTH", "WEST", "EAST"], ["NORTH"], ["North is best."],
                      {"state": state})
"""


@pytest.mark.parametrize(("module", "problem"), [
    (TASK_MODULE + CHOICE_MOVE, "its verifier's rule is 'choice'"),
    (TASK_MODULE + WORDS_MOVE, "its choices NORTH, SOUTH, WEST, EAST are not all actions of catch"),
    # No draft at all (a return forgotten): refused as one with no rule, not an AttributeError's traceback.
    (TASK_MODULE + "\n\ndef move_task(state):\n    pass\n", "its verifier's rule is None"),
], ids=["choice", "other-words", "no-draft"])
def test_a_move_task_that_asks_no_move_of_the_games_actions_is_refused_before_any_request(
        tmp_path, monkeypatch, scripts, capsys, module, problem):
    # evaluate.py --vlm sent the question, then failed in a traceback from parse_move ("parse_move needs a
    # move question (rule word or snake_best_worst), not rule 'choice'"), and compare.py said that line,
    # naming neither the task module nor what to change; with other words every answer was illegal.
    use_catch_tasks(tmp_path / "site", monkeypatch, module)
    where = ("task module catchplug.tasks \\(entry point catch of group depthfirst.tasks\\): move_task must "
             f"ask which of catch's actions to play, .*; {problem}")
    with ChatServer(default=lambda body: good("<answer>A</answer>")) as server:
        argv = ["--env", "catch", "--vlm", f"m@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--no-video", "--no-progress", "--out", str(tmp_path / "vlm")]
        assert scripts.evaluate.main(argv) == 2
        assert re.match(f"error: a VLM cannot play 'catch': {where}", capsys.readouterr().err)
        argv = ["--env", "catch", "--vlm", f"m@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--no-progress", "--out", str(tmp_path / "compare")]
        assert scripts.compare.main(argv) == 2
        assert re.match(f"error: a VLM cannot play 'catch': {where}", capsys.readouterr().err)
    assert server.hits == 0


@pytest.mark.parametrize(("choices", "problem"), [
    (["up", "down", "left", "right"], None),
    (["UP", "DOWN", "LEFT", "RIGHT", "JUMP"],
     "its choices UP, DOWN, LEFT, RIGHT, JUMP are not all actions of catch \\(UP, DOWN, LEFT, RIGHT\\)$"),
], ids=["the-actions-in-lower-case", "one-word-more"])
def test_a_word_move_task_is_taken_only_where_each_choice_is_an_action_of_the_game(tmp_path, monkeypatch,
                                                                                   choices, problem):
    # README step 4's word_draft of the game's actions is a move question, whatever their case (parse_move and
    # the player read them so); one choice more that is no action (JUMP) is an answer the player cannot play.
    drafted = WORDS_MOVE.replace('["NORTH", "SOUTH", "WEST", "EAST"], ["NORTH"]',
                                 f"{choices!r}, {choices[:1]!r}")
    use_catch_tasks(tmp_path / "site", monkeypatch, TASK_MODULE + drafted)
    if problem is None:
        assert vlm.tasks.check_move_task("catch") is None
    else:
        with pytest.raises(TypeError, match=f"must ask which of catch's actions to play, .*; {problem}"):
            vlm.tasks.check_move_task("catch")


@pytest.mark.parametrize(("call", "problem"), [
    ('word_draft(*head, None, ["UP"], [])', "word_draft's choices must be a list of words \\(the answers it "
     "takes; a move question's: the game's ACTION_NAMES\\), got None"),
    ('word_draft(*head, ["UP", "DOWN"], None, [])', "word_draft's accepted must be a list of words \\(the "
     "right ones among its choices\\), got None"),
    ('choice_draft(*head, None, 0, [])', "choice_draft's options must be a list of option texts, got None"),
    # One word, not a list of them (read letter by letter), and a list holding a number.
    ('word_draft(*head, "UP", ["UP"], [])', "word_draft's choices must be a list of words \\(the answers it "
     "takes; a move question's: the game's ACTION_NAMES\\), got 'UP'"),
    ('choice_draft(*head, ["left", 2], 0, [])', "choice_draft's options must be a list of option texts, got "
     "\\['left', 2\\]"),
], ids=["word-no-choices", "word-no-accepted", "choice-no-options", "word-a-str", "choice-a-number"])
def test_a_hand_built_draft_missing_its_words_is_named_not_a_nonetype_error(tmp_path, monkeypatch, call,
                                                                              problem):
    # It read "raised TypeError: 'NoneType' object is not iterable" (word_draft) or "object of type
    # 'NoneType' has no len()" (choice_draft), naming neither the helper nor what it lacked.
    module = TASK_MODULE + f"""

def move_task(state):
    from vlm.prompts import choice_draft, word_draft

    head = ("strategy", "best_move", 1, 1, [snake.render(_as("snake", state))], "Catch.", "Which way?")
    return {call}
"""
    use_catch_tasks(tmp_path / "site", monkeypatch, module)
    with pytest.raises(TypeError, match="^task module catchplug.tasks \\(entry point catch of group "
                                        "depthfirst.tasks\\) move_task \\(a start state\\) raised "
                                        f"ValueError: {problem} \\(.*tasks\\.py, line 31\\)$"):
        vlm.tasks.check_move_task("catch")


def test_a_game_its_defaults_cannot_make_is_left_to_the_plays_own_check(tmp_path, monkeypatch):
    # A game that needs an option its run sets (a ROM's path, here a size): the check, made with the game's
    # defaults, cannot ask its move_task and lets the play go on (its own check names any fault with the
    # run's options), not stop a run that plays in a ValueError of options it never used.
    use_catch_tasks(tmp_path / "site", monkeypatch)
    (tmp_path / "site" / "catchplug" / "game.py").write_text(
        GAME_MODULE + "\n    def __init__(self, num_envs=1, size=None, **kw):\n        if size is None:\n"
        "            raise ValueError('give the size')\n"
        "        super().__init__(num_envs, size=size, **kw)\n")
    assert vlm.tasks.check_move_task("catch") is None
    assert envs.make_game("catch", 1, size=5).num_envs == 1


def test_a_specialists_score_says_why_a_move_task_asked_no_move(tmp_path, monkeypatch, scripts, capsys):
    # score_predictions.py --specialist said only "the split has no scored catch move question to answer" of
    # a split holding the move_task's lettered questions, as if the module had none.
    asked = ("\n\ndef make_tasks(state, rng, source=None):\n"
             "    return [] if state['done'] else [move_task(state)]\n")
    use_catch_tasks(tmp_path / "site", monkeypatch, TASK_MODULE + CHOICE_MOVE + asked)
    run = trained_catch(tmp_path, scripts)
    out = tmp_path / "export"
    test = exported_test_split(run, out, scripts, capsys, "none")
    assert any(r["qa_type"] == "best_move" for r in test)
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"id": r["id"], "response": reference_response(r)}) + "\n"
                                   for r in test))
    argv = [str(out / "test.jsonl"), str(predictions), "--specialist", str(run), "--json"]
    assert scripts.score_predictions.main(argv) == 0, capsys.readouterr().err
    note = json.loads(capsys.readouterr().out)["specialist"]["note"]
    assert re.match("the split has no scored catch move question to answer: task module catchplug.tasks "
                    "\\(entry point catch of group depthfirst.tasks\\): move_task must ask which of catch's "
                    "actions to play, .*; its verifier's rule is 'choice'", note), note


def test_a_draft_of_a_family_its_task_modules_families_lack_is_refused(tmp_path, monkeypatch, scripts,
                                                                       capsys):
    # FAMILIES named two families while make_tasks drew Snake's four: the export wrote records of all four,
    # while --mix state_prediction=1 was refused as "no records of state_prediction", a --mix naming it beside
    # perception noted it as never drawn, and --tasks-per-state counted two a state at most.
    use_catch_tasks(tmp_path / "site", monkeypatch, TASK_MODULE + 'FAMILIES = ("perception", "strategy")\n')
    # Whichever draft --tasks-per-state 1 picks: every draft of the state is checked.
    assert re.match(f"^error: {TASKS_WHERE} make_tasks \\(episode 0, step 0\\) \\('\\w+'\\): family "
                    "'(state_prediction|vision_zero)' is not in its FAMILIES \\(perception, strategy\\): "
                    "add it there", first_state_export_refused(tmp_path, scripts, capsys))


def test_a_second_draft_of_one_family_in_a_state_is_refused(tmp_path, monkeypatch, scripts, capsys):
    # Two drafts of one family a state gave five records a state where the note of --tasks-per-state 5 and the
    # card said four at most (one per family), and --tasks-per-state 4 was "the most that counts".
    twice = TASK_MODULE + """
_make = make_tasks


def make_tasks(state, rng, source=None):
    drafts = _make(state, rng, source)
    return drafts + [dataclasses.replace(drafts[0], qa_type="again")]
"""
    use_catch_tasks(tmp_path / "site", monkeypatch, twice)
    assert re.match(f"^error: {TASKS_WHERE} make_tasks \\(episode 0, step 0\\) \\('again'\\): a second \\w+ "
                    "task \\(after '\\w+'\\): it draws at most one task of each family a state",
                    first_state_export_refused(tmp_path, scripts, capsys))


TASKS_WHERE = "task module catchplug.tasks \\(entry point catch of group depthfirst.tasks\\)"


def first_state_export_refused(tmp_path: Path, scripts, capsys) -> str:
    """Train the catch plugin, export its first states' tasks (one a state), check the export is refused
    with nothing written, and return its stderr."""
    run = trained_catch(tmp_path, scripts)
    capsys.readouterr()
    out = tmp_path / "out"
    argv = [str(run), "--out", str(out), "--episodes", "1", "--max-steps", "3", "--tasks-per-state", "1",
            "--formats", "none", "--no-progress"]
    assert scripts.export_trajectories.main(argv) == 2
    assert not out.exists()
    return capsys.readouterr().err


# Its functions raise, called through a helper of the package (not the line the export or the play calls).
RAISING = TASK_MODULE + """

def _levels(state):
    raise RuntimeError("no levels")
"""


@pytest.mark.parametrize("defined", [
    "def make_tasks(state, rng, source=None):\n    return _levels(state)",
    "def move_task(state):\n    return _levels(state)",
    "def move_task(state):\n"
    "    return _catch(snake.move_task(_as('snake', state))) if state['step'] < 1 else _levels(state)",
], ids=["make_tasks", "move_task", "move_task-later"])
def test_a_task_module_that_raises_as_it_runs_is_named_with_its_line_not_a_traceback(
        tmp_path, monkeypatch, scripts, capsys, defined):
    # The export (make_tasks) and evaluate --vlm (move_task) ended in a traceback through this project's
    # frames, which read as its failure; now one error: line naming the module and the package's line. A
    # move_task raising at the start state is refused by the check before any request (check_move_task).
    use_catch_tasks(tmp_path / "site", monkeypatch, RAISING + "\n\n" + defined + "\n")
    run = trained_catch(tmp_path, scripts)
    capsys.readouterr()
    out = tmp_path / "out"
    where = TASKS_WHERE
    # The line of the package that raised (in the helper), where its author starts.
    raised = RAISING.splitlines().index('    raise RuntimeError("no levels")') + 1
    path = re.escape(str(tmp_path / "site" / "catchplug" / "tasks.py"))
    line = f"raised RuntimeError: no levels \\({path}, line {raised}\\)\n$"
    if defined.startswith("def make_tasks"):
        argv = [str(run), "--out", str(out), "--episodes", "1", "--max-steps", "3", "--no-progress"]
        assert scripts.export_trajectories.main(argv) == 2
        assert re.match(f"^error: {where} make_tasks \\(episode 0, step 0\\) {line}", capsys.readouterr().err)
    else:
        with ChatServer(default=lambda body: good("<answer>UP</answer>")) as server:
            argv = [str(run), "--vlm", f"m@{server.url}", "--episodes", "1", "--max-steps", "3", "--no-video",
                    "--no-progress", "--out", str(out)]
            assert scripts.evaluate.main(argv) == 2
        later = "step" in defined
        expected = (f"{where} move_task \\(step 1\\) {line}" if later else
                    f"a VLM cannot play 'catch': {where} move_task \\(a start state\\) {line}")
        assert re.match(f"^error: {expected}", capsys.readouterr().err)
        assert server.hits == (1 if later else 0)
    assert not out.exists()


@pytest.mark.parametrize(("specialist", "error", "said"), [
    (False, 'RuntimeError("no levels")', "RuntimeError: no levels"),
    (True, 'RuntimeError("no levels")', "RuntimeError: no levels"),
    # One of the errors move_qa_type took for "no move question" of a built-in game: the move questions
    # were scored as any other question, without a word.
    (False, 'KeyError("walls")', "KeyError: 'walls'"),
], ids=["alone", "specialist", "key-error"])
def test_a_move_task_that_raises_as_the_split_is_scored_is_named_with_its_line_not_a_traceback(
        tmp_path, monkeypatch, scripts, capsys, specialist, error, said):
    # score_predictions.py asks move_task which records are move questions (vlm.scoring.move_qa_type): a
    # RuntimeError there ended it in a traceback through vlm/scoring.py, with and without --specialist.
    module = (RAISING.replace('RuntimeError("no levels")', error)
              + "\n\ndef move_task(state):\n    return _levels(state)\n")
    use_catch_tasks(tmp_path / "site", monkeypatch, module)
    run = trained_catch(tmp_path, scripts)
    out = tmp_path / "export"
    argv = [str(run), "--out", str(out), "--episodes", "2", "--max-steps", "4", "--split", "0.5,0,0.5",
            "--formats", "none", "--no-progress"]
    assert scripts.export_trajectories.main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    test = [json.loads(line) for line in (out / "test.jsonl").read_text().splitlines()]
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"id": r["id"], "response": reference_response(r)}) + "\n"
                                   for r in test))
    argv = [str(out / "test.jsonl"), str(predictions), "--json", "--out", str(tmp_path / "scores.json")]
    assert scripts.score_predictions.main(argv + ["--specialist", str(run)] * specialist) == 2
    raised = module.splitlines().index(f"    raise {error}") + 1
    path = re.escape(str(tmp_path / "site" / "catchplug" / "tasks.py"))
    where = TASKS_WHERE
    assert re.fullmatch(f"error: {where} move_task raised {re.escape(said)} \\({path}, line {raised}\\)\n",
                        capsys.readouterr().err)
    assert not (tmp_path / "scores.json").exists()


def test_a_move_task_that_raises_only_as_the_report_draws_a_worst_decision_is_named_with_its_line(
        tmp_path, monkeypatch, scripts, capsys):
    # compare.py asks move_task again for each worst decision's frame, in its own thread: one that answered
    # the play (the VLM player's threads) and raised there ended the comparison in a traceback.
    raises_here = ("\n\ndef move_task(state, _calls=[]):\n"
                   "    import threading\n\n"
                   "    _calls.append(threading.current_thread() is threading.main_thread())\n"
                   "    if sum(_calls) > 1:  # the first is the check before any request\n"
                   "        _levels(state)\n"
                   "    return _catch(snake.move_task(_as('snake', state)))\n")
    use_catch_tasks(tmp_path / "site", monkeypatch, RAISING + raises_here)
    out = tmp_path / "compare"
    with ChatServer(default=lambda body: good("<answer>A</answer>")) as server:  # no move: a worst decision
        argv = ["--env", "catch", "--vlm", f"m@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--no-progress", "--out", str(out)]
        assert scripts.compare.main(argv) == 2
    assert server.hits >= 1
    raised = RAISING.splitlines().index('    raise RuntimeError("no levels")') + 1
    path = re.escape(str(tmp_path / "site" / "catchplug" / "tasks.py"))
    where = TASKS_WHERE
    said = (f"move_task \\(seed {EPISODE_SEED}, step 0: the report's worst decision\\) raised RuntimeError: "
            f"no levels \\({path}, line {raised}\\)")
    assert re.match(f"error: {where} {said}: no report written; the VLM's answers are in the response cache "
                    ".*: fix it and run the same command again",
                    capsys.readouterr().err)
    assert not out.exists()


@pytest.mark.parametrize("ended", [True, False], ids=["a-worst-decision", "none"])
def test_a_packages_compare_report_says_what_holds_for_any_game_not_snakes_words(tmp_path, monkeypatch,
                                                                                  ended):
    # A game of another package was reported in Snake's words: its best moves "safe, no dead end, closest to
    # the goal", and a last move with a negative reward a "fatal move", though nothing may have died.
    from agents import compare
    from agents.evaluation import Episode
    from agents.vlm_player import Decision

    use_catch_tasks(tmp_path / "site", monkeypatch)
    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])
    last = Decision(step=0, action=0, move="UP", answer="UP", status="ok", response="<answer>UP</answer>",
                    reasoning=None, prompt_tokens=100, completion_tokens=1, latency_s=0.0, cached=False,
                    reward=-1.0 if ended else 0.0, terminated=ended)
    runs = [compare.PlayerRun("m-vl-7b", "vlm", 7e9, "from the model name",
                              [Episode(42, 0.0, 1, last.reward, {}, [0], [last])], 1.0,
                              {"model": "m-vl-7b", "endpoint": "m-vl-7b@http://h:1/v1",
                               "client": {"http_requests": 1, "retries": 0}})]
    out = tmp_path / "report"
    out.mkdir()
    report = compare.write_report(out, "catch", {"size": 5}, 42, runs, {}, frames_per_vlm=1, max_steps=9)
    text = (out / "report.md").read_text()
    assert "closest to the goal" not in text and "fatal" not in text, text
    # This hand-made decision carries no score: the note then says why best moves are n/a (9fec9113), in the
    # same game-neutral terms.
    assert ("Best moves and verifier accuracy are n/a: the game's move question scored none of these answers"
            in text)
    reason = "move that ended the episode with a negative reward"
    if ended:
        assert [r["reason"] for r in report["worst_decisions"]["m-vl-7b"]] == [reason]
        assert f"#### Seed 42, step 0: {reason}" in text
    else:
        assert f"No {reason}, and no invalid or wrong answer, in these episodes." in text


# A move question with no good move (every move a trap), as Snake's where every move is fatal: scored by the
# verifier (name none as best, every move as fatal), yet good_moves has no best move to check.
NO_GOOD_MOVE = """

def move_task(state):
    draft = _catch(snake.move_task(_as("snake", state)))
    moves = draft.verifier["moves"]
    return dataclasses.replace(draft, verifier={**draft.verifier, "good": [], "fatal": list(moves)})
"""


def test_a_packages_report_of_verified_answers_with_no_best_move_does_not_call_both_n_a(
        tmp_path, monkeypatch, scripts, capsys):
    # A package's move question that the verifier scores and good_moves finds no best move in: the report's
    # table gives a verifier accuracy, so the note must not say both figures are n/a (the note's condition
    # with 'or' for 'and', a mutant no other test killed, said so).
    use_catch_tasks(tmp_path / "site", monkeypatch, TASK_MODULE + NO_GOOD_MOVE)
    out = tmp_path / "compare"
    answer = "<best_answer>None</best_answer><worst_answer>UP, DOWN, LEFT, RIGHT</worst_answer>"
    with ChatServer(default=lambda body: good(answer)) as server:
        argv = ["--env", "catch", "--vlm", f"m-vl-7b@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--frames", "0", "--no-progress", "--out", str(out)]
        assert scripts.compare.main(argv) == 0, capsys.readouterr().err
    [vlm] = [s for s in json.loads((out / "report.json").read_text())["players"] if s["kind"] == "vlm"]
    assert (vlm["verifier_accuracy"], vlm["best_move_rate"]) == (1.0, None)
    text = (out / "report.md").read_text()
    assert "are n/a" not in text, text
    assert "verifier accuracy: its whole answer scored by the project's verifier. Both are over" in text, text


def test_compare_says_a_task_module_that_raises_mid_play_in_one_line(tmp_path, monkeypatch, scripts, capsys):
    # compare.py --vlm (no specialist) plays in the VLM player's thread pool: a package's move_task raising
    # there is the package's error line, as evaluate.py --vlm says it (TaskModuleError is a ValueError, which
    # compare.py's refusals are), not a traceback.
    later = ("def move_task(s):\n"
             "    return _catch(snake.move_task(_as('snake', s))) if s['step'] < 1 else _levels(s)")
    use_catch_tasks(tmp_path / "site", monkeypatch, RAISING + "\n\n" + later + "\n")
    with ChatServer(default=lambda body: good("<answer>UP</answer>")) as server:
        argv = ["--env", "catch", "--vlm", f"m@{server.url}", "--episodes", "1", "--max-steps", "3",
                "--no-progress", "--out", str(tmp_path / "out")]
        assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    said = (r"error: .*task module catchplug.tasks \(entry point catch of group depthfirst.tasks\) move_task "
            r"\(step 1\) raised RuntimeError: no levels \(.*tasks\.py, line \d+\)\n")
    assert re.fullmatch(said, err), err


def test_an_exports_package_versions_name_each_games_own_package_only(tmp_path, monkeypatch):
    # A second package's game, and a package's entry point of a built-in's name (skipped with a warning):
    # each game is traced to its own package, a built-in to none.
    from vlm.trajectories import package_versions

    use_catch(tmp_path / "a", monkeypatch)
    other = tmp_path / "b" / "otherplug"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("")
    info = tmp_path / "b" / "otherplug-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: otherplug\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text("[depthfirst.games]\nsnake = otherplug:Snake\n"
                                           "dodge = otherplug:Dodge\n")
    monkeypatch.syspath_prepend(str(tmp_path / "b"))
    monkeypatch.setitem(envs.GAMES, "dodge", ("otherplug:Dodge", "depthfirst/Dodge-v0"))
    assert envs.game_package("dodge") == ("otherplug", "2.0")
    assert envs.game_package("catch") == ("catchplug", "0.1")
    versions = package_versions("snake")
    assert "otherplug" not in versions and "catchplug" not in versions and "depthfirst" in versions
    assert package_versions("catch")["depthfirst"] == versions["depthfirst"]


def use_catch_and_tasks_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Game ``catch`` of package catchplug, and its task module from another package, catchqa 0.1."""
    use_catch(tmp_path / "a", monkeypatch)
    qa = tmp_path / "b"
    (qa / "catchqa").mkdir(parents=True)
    (qa / "catchqa" / "__init__.py").write_text("")
    (qa / "catchqa" / "tasks.py").write_text(TASK_MODULE)
    packaged(qa, "catchqa", "[depthfirst.tasks]\ncatch = catchqa.tasks\n")
    monkeypatch.syspath_prepend(str(qa))
    monkeypatch.setitem(vlm.tasks.TASK_MODULES, "catch", "catchqa.tasks")
    monkeypatch.setattr(vlm.tasks, "TASK_GAMES", tuple(sorted(vlm.tasks.TASK_MODULES)))


def test_an_exports_package_versions_name_a_task_modules_own_package_where_it_is_used(tmp_path, monkeypatch):
    # A task module of another package than the game's wrote every question and answer, while meta.json and
    # the card named the game's package alone; an export without task records (--tasks-per-state 0) used none.
    from vlm.trajectories import package_versions

    use_catch_and_tasks_apart(tmp_path, monkeypatch)
    versions = package_versions("catch", tasks=True)
    assert versions["catchqa"] == "0.1" and versions["catchplug"] == "0.1"
    assert "catchqa" not in package_versions("catch", tasks=False)
    assert package_versions("snake", tasks=True) == package_versions("snake", tasks=False)


def test_an_exports_meta_json_names_the_task_modules_package_only_with_task_records(tmp_path, monkeypatch,
                                                                                   scripts, capsys):
    # The export's own call: package_versions(tasks=...) tested alone let its argument be dropped (the task
    # package never named) or always given (named by an export with --tasks-per-state 0, which used none).
    use_catch_and_tasks_apart(tmp_path, monkeypatch)
    run = trained_catch(tmp_path, scripts)
    for name, more in (("qa", []), ("none", ["--tasks-per-state", "0"])):
        argv = [str(run), "--out", str(tmp_path / name), "--episodes", "1", "--max-steps", "4", "--formats",
                "none", "--no-progress", *more]
        assert scripts.export_trajectories.main(argv) == 0, capsys.readouterr().err
    from vlm.export import META

    versions = {name: json.loads((tmp_path / name / META).read_text())["versions"] for name in ("qa", "none")}
    assert versions["qa"]["catchqa"] == "0.1" and versions["qa"]["catchplug"] == "0.1"
    assert "catchqa" not in versions["none"] and versions["none"]["catchplug"] == "0.1"


def test_a_game_class_without_a_name_is_told_to_set_it_not_to_match_its_entry_point(tmp_path, monkeypatch):
    module = "from envs.snake import Snake\n\n\nclass Catch(Snake):\n    name = None\n"
    use_catch(tmp_path, monkeypatch, module)
    with pytest.raises(ValueError, match=r"^Catch\.name must be the game's name, a str .*got None$"):
        envs.make_game("catch")


@pytest.mark.parametrize(("figures", "replaced"), [
    (("length",), "evaluate.py's mean_length (the episodes' mean moves) in its results and compare.py's "
                  "report"),
    (("return",), "evaluate.py's mean_return (the episodes' mean summed reward) in its results and "
                  "compare.py's report"),
    (("ep_len",), "SB3's TensorBoard curve rollout/ep_len_mean (the episodes' mean moves)"),
    (("ep_rew",), "SB3's TensorBoard curve rollout/ep_rew_mean (the episodes' mean summed reward)"),
    # Two: the first is named, with what it (not the other) would replace.
    (("ep_rew", "length"), "SB3's TensorBoard curve rollout/ep_rew_mean (the episodes' mean summed reward)"),
])
def test_each_figure_name_that_would_replace_a_mean_or_curve_is_refused_naming_what(tmp_path, monkeypatch,
                                                                                    figures, replaced):
    module = GAME_MODULE + f"""
    def _figures(self, boards):
        return {{**super()._figures(boards), **dict.fromkeys({figures!r}, self._score[boards] * 0.0)}}
"""
    use_catch(tmp_path, monkeypatch, module)
    with pytest.raises(RunError) as refused:
        check_game("catch", {"size": 5})
    assert str(refused.value) == (f"catch's episode figure {figures[0]!r} would replace {replaced}: rename "
                                  "the figure")


def test_a_skipped_entry_points_warning_points_at_its_line_in_its_group(tmp_path, monkeypatch):
    # A console script of the same name earlier in entry_points.txt is another entry point: not the line.
    site = installed(tmp_path, "snake = catchplug.game:Catch")
    info = site / "catchplug-0.1.dist-info" / "entry_points.txt"
    info.write_text("[console_scripts]\nsnake = catchplug.cli:main\n\n" + info.read_text())
    monkeypatch.syspath_prepend(str(site))
    with pytest.warns(UserWarning, match="the game 'snake' exists already") as caught:
        assert envs._plugin_games() == {}
    assert (caught[0].filename, caught[0].lineno) == (str(info), 5)


def test_a_warning_points_at_entry_points_txt_not_at_another_text_file_of_the_package(tmp_path, monkeypatch):
    # pip's RECORD lists the package's own files first: a notes.txt there is not the entry points' file.
    site = installed(tmp_path, "snake = catchplug.game:Catch")
    (site / "catchplug" / "notes.txt").write_text("snake = catchplug.game:Catch\n")
    record = site / "catchplug-0.1.dist-info" / "RECORD"
    record.write_text("catchplug/notes.txt,,\n" + record.read_text())
    monkeypatch.syspath_prepend(str(site))
    with pytest.warns(UserWarning, match="the game 'snake' exists already") as caught:
        assert envs._plugin_games() == {}
    info = site / "catchplug-0.1.dist-info" / "entry_points.txt"
    assert (caught[0].filename, caught[0].lineno) == (str(info), 2)


@pytest.mark.parametrize("before", [None, "", "1"])
def test_the_fork_servers_quiet_warnings_leave_this_processs_environment_as_it_was(monkeypatch, before):
    # Set for the fork server's start only: this process's own later imports (a plugin's) still warn.
    from envs.vector import _plugin_warnings_shown

    if before is None:
        monkeypatch.delenv(envs.PLUGIN_WARNINGS_SHOWN, raising=False)
    else:
        monkeypatch.setenv(envs.PLUGIN_WARNINGS_SHOWN, before)
    with _plugin_warnings_shown():
        assert os.environ[envs.PLUGIN_WARNINGS_SHOWN] == "1"
    assert os.environ.get(envs.PLUGIN_WARNINGS_SHOWN) == before
