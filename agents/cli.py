"""argparse types the scripts share: whole numbers (``1e6`` accepted) with a lower bound, finite and
positive numbers, paths; ``script_parser``, each script's parser, which takes minus-led numbers as values;
``run_script``, the way each script runs its ``main`` and exits; and ``rerun_command``, the command line
each records for its output; ``safe_text`` and ``not_utf8`` for text that may hold a byte that is no UTF-8,
and ``one_line`` for text from outside shown in an error message."""

from __future__ import annotations

import argparse
import contextlib
import errno
import itertools
import json
import math
import os
import re
import select
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NoReturn

from agents.config import any_case, named_choices, set_item, whole_number
from agents.interrupts import exit_ignoring_stop_signals
from agents.startup import MODULE_OPTION

_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(text: str) -> str:
    """``text`` with every lone surrogate (JSON's ``"\\ud800"``; valid pairs are already joined by the JSON
    decoder) replaced by U+FFFD: such a string cannot be encoded as UTF-8, so no file could hold it."""
    return _SURROGATE.sub("\ufffd", text)


def one_line(text: str, limit: int = 300) -> str:
    """Text from outside (a status line or header a server gave, a package's exception) as an error message
    may show it: on one line, any other character that does not print escaped (an escape sequence would
    drive the terminal, a lone surrogate fail a UTF-8 log), cut at ``limit`` characters. The cut falls between
    whole characters' escapes: a split one ('\\x1' of '\\x1b') would read as another character."""
    pieces = [c if c.isprintable() else repr(c)[1:-1] for c in " ".join(text.split())]
    kept, length = 0, 0
    for piece in pieces:
        if length + len(piece) > limit:
            break
        kept, length = kept + 1, length + len(piece)
    return "".join(pieces[:kept]) + (" …" if kept < len(pieces) else "")


def not_utf8(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (a byte of another encoding on argv, kept by Python as a
    surrogate escape): no request or file in UTF-8 can carry it."""
    return _SURROGATE.search(text) is not None


def script_parser(doc: str | None) -> argparse.ArgumentParser:
    """A script's parser, its docstring the help's description. Flags are taken whole only: argparse
    would take any unique prefix, so ``--api-key sk-...`` set ``--api-key-env``, and an abbreviation in a
    recorded command (a run's, a report's) breaks, or picks another flag, once a new flag shares it."""
    return _ScriptParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter,
                         allow_abbrev=False)


# A value led by a minus and a number: -1e3, -.5, -inf or -nan (alone or before a comma, as in -1,1,1).
_MINUS_NUMBER = re.compile(r"-([\d.]|(inf|infinity|nan)($|,))", re.IGNORECASE)


# One flag, two spellings across the scripts (train_ppo's --force and --num-workers, export_trajectories' and
# compare's --overwrite, export's and benchmark's --workers): a refusal of one names the script's own.
OTHER_SPELLINGS = {"--force": "--overwrite", "--overwrite": "--force",
                   "--workers": "--num-workers", "--num-workers": "--workers"}


class _ScriptParser(argparse.ArgumentParser):
    """Reads ``FLAG -VALUE`` as ``FLAG=-VALUE`` for every flag taking one value and a minus-led number:
    argparse takes only plain negative numbers (``-5``) for values, and read ``--episodes -1e3`` or
    ``--baseline -inf`` as a flag ("expected one argument"), not as the value its own check refuses or
    takes."""

    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        out: list[str] = []
        words = sys.argv[1:] if args is None else list(args)
        for i, word in enumerate(words):
            if word == "--":  # the rest are positionals
                out += words[i:]
                break
            # exact names only (allow_abbrev is off); a flag taking no value (nargs 0) is never joined
            action = self._option_string_actions.get(out[-1]) if out else None
            if action is not None and action.nargs is None and _MINUS_NUMBER.match(word):
                out[-1] = f"{out[-1]}={word}"
            else:
                out.append(word)
        self._words = out
        return super().parse_known_args(out, namespace)

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """argparse's, with the values of unrecognized flags that look like a key's hidden: its "unrecognized
        arguments: --api sk-..." showed the key (a terminal, a CI log)."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            # A key-like flag's value may have gone to a positional (evaluate's RUN): its note all the same,
            # where the script has the --api-key-env it names.
            keys = "--api-key-env" in self._option_string_actions and any(
                w.startswith("-") and _key_like(w.partition("=")[0]) for w in extras)
            note = f"; {API_KEY_REFUSAL}" if keys else ""
            # Reused from a script with a bar (train_ppo, evaluate, ...): not a misspelling, nothing to hide.
            if "--no-progress" in extras:
                note += "; this script shows no progress bar: drop --no-progress"
            for word in extras:  # another script's spelling of a flag this one has under its own name
                own = OTHER_SPELLINGS.get(word.partition("=")[0])
                if own in self._option_string_actions:
                    note += f"; this script's flag for that is {own}"
            self.error(f"unrecognized arguments: {' '.join(_hide_keys(extras))}{note}")
        return parsed

    def error(self, message: str) -> NoReturn:
        """argparse's refusal, and for a value that begins with a minus (``--out -data``, read as a flag:
        "expected one argument") how to give it, which argparse's own message left to guess."""
        missing = re.fullmatch(r"argument (\S+): expected one argument", message)
        flags = missing[1].split("/") if missing else []
        for flag, value in itertools.pairwise(getattr(self, "_words", [])):
            if (flag in flags and value.startswith("-")
                    and value.split("=")[0] not in self._option_string_actions):
                hint = f" ({value} reads as a flag: give a value that begins with - as {flag}={value})"
                # --api-key(-env) -sk-...: a key, not to be shown, nor given there
                message += f"; {API_KEY_REFUSAL}" if _key_like(flag) else hint
                break
        super().error(message)


def _key_like(flag: str) -> bool:
    """Whether an unknown ``flag`` may have been meant for a key (``--api``, ``--api_key``, ``--openai-key``):
    its value is not shown."""
    name = flag.lower().lstrip("-").replace("_", "-")
    secret = any(w in name for w in ("key", "token", "secret"))
    return secret or (len(name) > 2 and "api-key".startswith(name))


def _hide_keys(words: list[str]) -> list[str]:
    """``words`` with the value of each key-like flag (joined by = or the next word) put as ``...``."""
    out: list[str] = []
    for word in words:
        flag, eq, _ = word.partition("=")
        after = out[-1] if out else ""  # a bare key-like flag: this word is its value
        if flag.startswith("-") and _key_like(flag):
            out.append(f"{flag}=..." if eq else flag)
        elif after.startswith("-") and "=" not in after and _key_like(after) and not word.startswith("-"):
            out.append("...")
        else:
            out.append(word)
    return out


def positive_int(text: str) -> int:
    return _at_least(text, 1)


def positive_int_up_to(high: int, why: str) -> Callable[[str], int]:
    """An argparse type: whole numbers from 1 to ``high``; the error says ``why`` the bound."""
    def parse(text: str) -> int:
        value = positive_int(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,} ({why}), got {text}")
        return value
    return parse


# A --max-steps (evaluate, export, compare) cuts episodes that the games count in int64, as they do their
# own step limits: a larger one cuts nothing. 1e300 was taken, and once every episode was played,
# evaluate's eval-step<N>-max<300 digits>.json was "File name too long" to write.
max_steps_arg = positive_int_up_to(2**63 - 1, "a 64-bit count, as the games' own step limits")


def nonneg_int(text: str) -> int:
    return _at_least(text, 0)


def _refuse_empty(text: str, give: str) -> None:
    """An empty (or blank) value refused, saying what to ``give``: a number's was "must be a whole number,
    got " with nothing shown after it, ``--vlm ''`` read as no --vlm, ``--env ''`` as none or unknown."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"is empty; {give}")


def finite_float(text: str) -> float:
    _refuse_empty(text, "give a number")
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text}") from None
    if not math.isfinite(value):  # nan compares false with everything: a filter or line silently vanishes
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def whole_int(text: str) -> int:
    """A whole number (``1e3`` and ``10.0`` too, as in ``--set``); the game or config checks its range."""
    _refuse_empty(text, "give a number")
    try:
        return whole_number(text, "the value")
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text}") from None


def _at_least(text: str, low: int) -> int:
    value = whole_int(text)
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {text}")
    return value


def api_key_env_arg(text: str) -> str:
    """The name of the environment variable holding the API key (``--api-key-env``); "" names none (no key
    is sent). The error does not show the value: it may be the key itself (``sk-...``), a secret."""
    if text and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise argparse.ArgumentTypeError("takes the NAME of the environment variable that holds the API key "
                                         "(letters, digits and _, not starting with a digit), not the key")
    return text


API_KEY_REFUSAL = ("the key goes in an environment variable, never on the command line (reports record the "
                   "command): export it, e.g. as OPENAI_API_KEY, and name that variable with --api-key-env "
                   "(the value given is not shown)")


def api_key_arg(text: str) -> str:
    """``--api-key``, a flag that is not taken: the key never goes on the command line, which reports and
    run folders record. Refused without showing the value (argparse's "unrecognized arguments" printed it)."""
    raise argparse.ArgumentTypeError(API_KEY_REFUSAL)


def vlm_arg(text: str) -> str:
    """A ``--vlm MODEL@URL``, not empty: evaluate read ``--vlm ''`` as none and played the run's model. The
    rest is checked where the endpoint is made (``Endpoint.parse``), with the secrets of a URL hidden."""
    _refuse_empty(text, "give MODEL@URL, e.g. qwen2.5-vl-7b@http://localhost:8000/v1")
    return text


def set_arg(text: str) -> str:
    """A ``--set KEY=VALUE``, its form checked as argparse reads it (``set_item``): ``--set
    ppo.learning_rate 1e-4`` was refused as "unrecognized arguments: 1e-4", naming neither --set nor the =."""
    try:
        set_item(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--set ")) from None
    return text


def game_arg(text: str) -> str:
    """A game's name (``--env``), one of ``envs.GAMES``, in any case (as ``any_case``). An empty one is
    named so: the scripts read an empty ``--env`` as not given ("--env is required") or as unknown."""
    from envs import GAMES  # here, not at the top: gymnasium loads only for a script given --env

    known = ", ".join(sorted(GAMES))
    _refuse_empty(text, f"name a game: {known}")
    name = any_case(GAMES)(text)
    if name not in GAMES:
        raise argparse.ArgumentTypeError(f"unknown env {text!r}; known envs: {known}")
    return name


def path_arg(text: str) -> str:
    """A file or folder path, ``~`` expanded: the shell leaves ``--out=~/x`` as it is, and a folder named
    ``~`` would be made in the current one. An empty path is refused (it would mean the current folder)."""
    _refuse_empty(text, "name a file or folder")
    path = os.path.expanduser(text)
    # Path.is_file and is_dir raise on a name too long for the file system (they return False only for a
    # missing path): every script's first check of such a path was an OSError traceback. Refused here.
    try:
        os.stat(path)
    except OSError as e:
        # Under a missing folder the lookup stops there (ENOENT) before it reaches a long name: the
        # scripts' later "no such file" messages then printed the whole path.
        if e.errno == errno.ENAMETOOLONG or (e.errno == errno.ENOENT and name_too_long(path)):
            why = os.strerror(errno.ENAMETOOLONG)
            raise argparse.ArgumentTypeError(f"{shown_path(path)}: {why}") from None
    except ValueError:  # a NUL byte: the scripts' own checks name it
        pass
    return path


def out_file_arg(text: str) -> str:
    """``path_arg`` for a file a script writes. A name that ends in a slash is a folder's, which ``Path``
    drops: ``--out states/`` wrote a file named ``states`` where a folder was meant."""
    path = path_arg(text)
    if path.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep)):
        raise argparse.ArgumentTypeError(f"{shown_path(path)} ends in {path[-1]}, a folder's name; "
                                         "give a file name")
    return path


def name_too_long(path: str) -> bool:
    """Whether a name in ``path`` below its nearest existing folder is longer than that folder's file
    system takes (``PC_NAME_MAX``, in bytes). Asked of that file system, not a fixed 255: some take
    longer names, and the missing folders would be made on it (a mount point cannot lie under them)."""
    head, names = path, []
    while head and not os.path.isdir(head):
        head, name = os.path.split(head)
        names.append(name)
    limit = name_limit(head)
    return limit is not None and any(len(os.fsencode(name)) > limit for name in names)


def name_limit(folder: str) -> int | None:
    """The longest name, in bytes, that the file system of ``folder`` (an existing one; "" is the current
    folder) takes (``PC_NAME_MAX``); None where it cannot be told."""
    try:
        return os.pathconf(folder or ".", "PC_NAME_MAX")
    except (OSError, ValueError):  # no limit to tell: the scripts' own checks name what goes wrong
        return None


def given_path(given: str | os.PathLike[str], absolute: str | os.PathLike[str]) -> str:
    """A folder as a message names it: as given, and where that is relative, ``absolute`` too (its absolute
    form, taken as the command started). A relative name is read from the working folder, which may have
    moved since: "." inside a run that a train_ppo.py --force moved aside named the old run, not the folder
    the message was about."""
    return str(given) if os.path.isabs(given) else f"{given} ({absolute})"


def shown_path(path: str, limit: int = 80) -> str:
    """``path`` cut to ``limit`` characters for a message (a name too long for the disk is thousands)."""
    return path if len(path) <= limit else f"{path[:limit]}... ({len(path):,} characters)"


def first_few(names: Sequence[str], most: int) -> str:
    """The first ``most`` of ``names``, comma-separated, then ", ..." where there are more: a message's
    examples of a list that may run long (files in the way, missing states)."""
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")


def decimals(x: float, places: int) -> str:
    """``x`` to ``places`` decimals, never "-0.00": a score or mean just below zero (a Game Boy score is a
    sum of float rewards) rounds to -0.0, which + 0.0 makes 0.0."""
    return f"{round(x, places) + 0.0:.{places}f}"


def mean_text(x: float) -> str:
    """A mean score as printed: two decimals, or three where two would round it off the scores' own
    three (Pokémon's 1.105 in every episode read "mean 1.10", below its median and max of 1.105)."""
    places = 2 if round(x, 2) == round(x, 3) else 3
    return decimals(x, places)


def figure(x: float) -> str:
    """A score as printed: up to three decimals, no trailing zeros (34, 34.5, and Pokémon's 1.105, which
    a rounding to a whole number showed as 1, below a mean of 1.10)."""
    return decimals(x, 3).rstrip("0").rstrip(".")


def run_folder_arg(text: str) -> str:
    """``path_arg`` for a training run's folder, whose name must be valid UTF-8: TensorBoard's event writer
    cannot encode one that is not (a Latin-1 name from an old disk), and failed after the folder was made."""
    path = path_arg(text)
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        raw = os.fsencode(path)
    try:  # UTF-8 bytes that an ASCII locale (LC_ALL=C, PYTHONUTF8=0) decoded byte by byte
        shown = raw.decode("utf-8")
        why = (f"in this locale ({sys.getfilesystemencoding()}) TensorBoard takes only ASCII names; use one, "
               "or a UTF-8 locale")
    except UnicodeDecodeError:
        shown = raw.decode("utf-8", "backslashreplace")
        why = "it is not valid UTF-8, which TensorBoard needs; use another folder name"
    raise argparse.ArgumentTypeError(f"{shown}: {why}") from None


#: The default --seed of evaluate.py, compare.py and the export: so their episode k is the same episode.
EPISODE_SEED = 1_000_000
#: The moves an episode may last when no --max-steps is given (evaluate, export, compare): far past the
#: games' own limits, a guard against a policy that never ends its episode.
EPISODE_STEP_CAP = 100_000


def scored_as_stood(cut: int) -> str:
    """How the notes of ``cut`` episodes cut by a step limit say they were scored (one cut: "it")."""
    return f"scored as {'it' if cut == 1 else 'they'} stood"


def check_episode_seeds(parser: argparse.ArgumentParser, seed: int, episodes: int) -> None:
    """Episode k is seeded ``seed + k``; seeds are 64-bit: larger ones would wrap to the training seeds."""
    if seed + episodes > 2**64:
        parser.error(f"--seed {seed}: the last episode seed, seed + --episodes - 1, must stay below 2**64")


def add_specialist_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """``--specialist RUN`` of compare and score_predictions, appended so that ``specialist_args`` can
    refuse one given twice: argparse kept the last, and the first run was dropped unsaid."""
    parser.add_argument("--specialist", type=path_arg, action="append", help=help)


def specialist_args(parser: argparse.ArgumentParser, args: argparse.Namespace, twice: str) -> None:
    """The one ``--specialist`` (a second is refused, ``twice`` saying why and what to do instead) and its
    ``--device``, of a script that plays a specialist only if given one (compare, score_predictions):
    refused without it (it moved nothing), else ``cpu`` where not given. Its default is None in the parser,
    so that an empty ``--device ""`` is still told apart from none and refused by ``check_device``."""
    runs = args.specialist or []
    if len(runs) > 1:
        parser.error(f"--specialist is given {len(runs)} times: {twice}")
    args.specialist = runs[0] if runs else None
    if args.device is not None and not args.specialist:
        parser.error("--device is the specialist's torch device: give --specialist RUN too")
    args.device = "cpu" if args.device is None else args.device


def add_game_arguments(parser: argparse.ArgumentParser, training: bool = True) -> None:
    """The game options that have a flag of their own (``--size``, ``--rom``, ...; ``ENV_FLAGS`` in
    agents/preflight.py), as train_ppo.py takes them and compare.py for a game played without a run.
    ``training=False`` hides from --help those that evaluation sets itself (``eval_kwargs``: the greedy
    opponent, no swarm restarts): still parsed, so that a value it would not use is told why
    (``refuse_fixed_options``), as its ``--set`` is, not argparse's "unrecognized arguments"."""
    choices = {key.removeprefix("env_kwargs."): names for key, names in named_choices().items()}
    add = parser.add_argument
    add("--size", type=whole_int, help="snake, snake_duel, sokoban: board size")
    add("--obs", type=any_case(choices["obs"]), choices=choices["obs"], help="snake: observation kind")
    add("--difficulty", type=any_case(choices["difficulty"]), choices=choices["difficulty"],
        help="sokoban: level preset")
    add("--opponent", type=any_case(choices["opponent"]), choices=choices["opponent"],
        help="snake_duel: scripted bot, or policy = self-play against earlier snapshots" if training
        else argparse.SUPPRESS)
    add("--rom", type=path_arg, help="pokemon_red, gameboy: path of your ROM (see roms/README.md)")
    add("--state", type=path_arg, help="pokemon_red, gameboy: start state (.state) to reset to "
        "(none: boot the ROM)")
    add("--game", type=any_case(choices["game"]), choices=choices["game"],
        help="gameboy: which PyBoy game wrapper gives reward and game over")
    add("--allow-unknown-rom", action="store_const", const=True,
        help="pokemon_red: run a ROM whose SHA-1 is not in roms/README.md's table")
    add("--swarm", action="store_const", const=True,
        help="pokemon_red: archive milestone states in the run and restart resets from them" if training
        else argparse.SUPPRESS)


def rerun_command(script: str, args: Sequence[str] | None = None) -> str:
    """The command line that runs ``script`` (its ``__file__``) with ``args`` (default: this process's, as
    ``main(argv=None)`` parses them) again, from any folder: it goes back to this folder first, as the
    arguments (and a run's config) name files relative to it, then runs this interpreter (the one with the
    packages), with its options, on the script, named relative to the folder where it lies inside it, else
    absolute. A ``PYTHONPATH`` set (non-empty) goes before the interpreter: a game from a folder on it
    (README "Adding your own game") was unknown to the command run again from a shell without it."""
    cwd = os.getcwd()
    path = os.path.abspath(script)
    if path.startswith(os.path.join(cwd, "")):
        path = os.path.relpath(path, cwd)
        if path.startswith("-"):  # python would read "-x/show.py" as its options
            path = os.path.join(".", path)
    given = sys.argv[1:] if args is None else args
    command = [sys.executable, *interpreter_options(script), path, *given]
    return f"cd {shlex.quote(cwd)} && {pythonpath_set()}{shlex.join(command)}"


def pythonpath_set() -> str:
    """``PYTHONPATH=<dirs> `` where this process has one set (non-empty), else nothing: what a command run
    again (recorded, or printed to continue a run) sets before the interpreter. Relative entries are read
    from the folder the command is run in, which is this one."""
    found = os.environ.get("PYTHONPATH")
    return f"PYTHONPATH={shlex.quote(found)} " if found else ""


def interpreter_options(script: str) -> list[str]:
    """The options typed to the interpreter before ``script`` (``-X dev``, ``-W error``, ``-u``), where this
    process runs it (``python [options] script``, or ``-m`` its module), which a command that runs it again
    keeps: ``-X dev`` shows warnings a plain run hides. None where another program runs it (pytest)."""
    if not sys.argv or os.path.abspath(sys.argv[0]) != os.path.abspath(script):
        return []
    typed = sys.orig_argv[1:len(sys.orig_argv) - len(sys.argv)]
    # The options end at the program: a script path is not among them, -m (its module) is, alone or after
    # flags in one word (python -um MODULE), whose flags (-u) are kept: the whole word ran the script as a
    # module. Only flags taking no value lead it: in -Wmodule or -Xm the m is a value.
    kept: list[str] = []
    for option in typed:
        joined = MODULE_OPTION.fullmatch(option)
        if joined:
            return kept + ([f"-{joined[1]}"] if joined[1] else [])
        kept.append(option)
    return kept


class StdoutRefused(Exception):
    """stdout refused the output (``--json > out.json`` on a full disk): run_script says it in one line."""


@contextlib.contextmanager
def _stdout_refusals() -> Iterator[None]:
    """A write to stdout the disk refuses, as ``StdoutRefused``; a closed pipe's ``BrokenPipeError`` stays."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        raise StdoutRefused(f"stdout refused the output ({e.strerror or e})") from None


def print_json(obj: Any) -> None:
    """Prints ``obj`` as one line of JSON in a single write: on an unbuffered stdout (``python -u``,
    ``PYTHONUNBUFFERED``) print() wrote the newline apart, after a reader that stopped at the object
    (``--json | head -c 100``) may have left, so a finished script exited 141, not 0."""
    sys.stdout.write(json.dumps(obj) + "\n")  # a refusal: run_script's stdout raises StdoutRefused


class _RefusalsReported:
    """stdout, each write and flush the disk refuses raised as ``StdoutRefused``: on an unbuffered stdout
    (``python -u``, ``PYTHONUNBUFFERED``) a line printed to a full disk (``> /dev/full``) failed where it
    was printed, as evaluate's traceback or plot_curve's "error: [Errno 28] ...", which did not say it was
    stdout. Writes through its ``buffer`` (bytes) pass by it: nothing in the project makes them."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with _stdout_refusals():
            return self._stream.write(text)

    def writelines(self, lines: Iterable[str]) -> None:  # the stream's own would pass this wrapper by
        with _stdout_refusals():
            self._stream.writelines(lines)

    def flush(self) -> None:
        with _stdout_refusals():
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def run_script(main: Callable[[], int]) -> NoReturn:
    """Runs a script's ``main`` and exits with its status through ``exit_ignoring_stop_signals``. A reader
    that stops early (``--json | head -c 100``) closes the script's stdout: the script then ends quietly,
    not with a ``BrokenPipeError`` traceback (or, for output still buffered at exit, Python's "Exception
    ignored" and status 120). A disk that refuses stdout is said in one line (``StdoutRefused``)."""
    if sys.stdout is not None and not isinstance(sys.stdout, _RefusalsReported):
        sys.stdout = _RefusalsReported(sys.stdout)
    try:
        code = main()
        sys.stdout.flush()  # the buffered rest now, where a closed pipe is caught, not at the shutdown
    except StdoutRefused as e:
        print(f"error: {e}", file=sys.stderr)
        # The unwritten rest goes to devnull, or the shutdown's flush fails again ("Exception ignored").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 2
    except BrokenPipeError:
        # Python ignores SIGPIPE, so the write raised. Restoring SIGPIPE's default instead would also kill
        # the process at its own closed pipes and sockets (a dead worker's, the VLM server's), which the
        # code handles; one that reaches here unhandled is a bug, its traceback kept, unless stdout's
        # reader has gone. The output still buffered goes to devnull, or the shutdown's flush fails again.
        if not _reader_gone(sys.stdout):
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        # 141 = 128 + SIGPIPE, what a shell reports for `cat` or `grep` whose reader left: the output was
        # not all read, which 0 would deny (`set -o pipefail` sees it as those tools' early end).
        code = 141
    # The workers' fork server, stopped: one a stop left importing (torch, the game) imported on after the
    # exit. Looked up, not imported: a script that never imported envs.vector started none.
    vector = sys.modules.get("envs.vector")
    if vector is not None:
        vector.stop_forkserver()
    exit_ignoring_stop_signals(code)


def _reader_gone(stream: Any) -> bool:
    """Whether ``stream`` is a pipe or socket whose reader has closed it (it polls as an error)."""
    try:
        poll = select.poll()
        poll.register(stream.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), no file descriptor, a closed file
        return False


def bar_size() -> dict[str, Any]:
    """tqdm's size options for every script's progress bar: follow the terminal's size, or a fixed one
    where the terminal reports 0 columns or rows (a pty whose size was never set, as `script -c CMD LOG`
    run without a terminal makes): tqdm read that as no room for the bar and printed blank lines."""
    try:
        reported = os.get_terminal_size(sys.stderr.fileno())
    except (AttributeError, ValueError, OSError):  # not a terminal (a pipe, a file): tqdm's own default
        return {"dynamic_ncols": True}
    if reported.columns and reported.lines:
        return {"dynamic_ncols": True}
    size = shutil.get_terminal_size()  # $COLUMNS and $LINES, else 80 × 24
    return {"ncols": size.columns, "nrows": size.lines}


def progress_bar(total: int, desc: str, unit: str, enabled: bool) -> Any:
    """A stage's tqdm bar on stderr, gone once the stage ends (``leave=False``): the export's and the merge's.
    tqdm is imported here, when a bar is made: this module stays quick to import."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False, **bar_size())


REFRESH_S = 0.25  # an episode bar's counts are redrawn at most this often; every episode's end at once


class EpisodeProgress:
    """Episodes played side by side on a tqdm ``bar`` that counts episodes: it moves as they end, and the
    steps played so far on all boards (a VLM's decisions, and how many were invalid) show beside it, redrawn
    at most every ``every`` seconds (default ``REFRESH_S``): a Game Boy episode plays for minutes before it
    ends, and a bar at 0/2 all that time showed no sign of life. Called once a batched step, it costs a
    clock read there (no measurable time on a short run's steps)."""

    def __init__(self, bar: Any, every: float | None = None) -> None:
        self.bar = bar
        self.every = REFRESH_S if every is None else every
        self.counts: dict[str, int] = {}
        self.shown = time.monotonic()

    def __call__(self, episodes: int, steps: int) -> None:
        """``run_episodes``' and the export's progress: episodes ended, steps played since the last call."""
        if steps:
            self.count(step=steps)
        if episodes:
            self.bar.set_postfix_str(self.text(), refresh=False)  # drawn by the update, not a step behind
            self.bar.update(episodes)

    def decided(self, decision: Any) -> None:
        """A VLM player's ``on_decision``: its answers come one by one, many in one step of all boards."""
        self.count(decision=1, invalid=int(not decision.valid))

    def count(self, **more: int) -> None:
        """Add ``more`` (noun, in the singular: how many more) to the counts shown."""
        for name, n in more.items():
            self.counts[name] = self.counts.get(name, 0) + n
        if (now := time.monotonic()) - self.shown >= self.every:
            self.shown = now
            self.bar.set_postfix_str(self.text())

    def text(self) -> str:
        from vlm.tasks import plural  # "1 step", "2 steps" (it said "1 steps"); "invalid" is its own plural

        return ", ".join(plural(n, name, "invalid" if name == "invalid" else None)
                         for name, n in self.counts.items())
