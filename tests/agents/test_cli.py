"""agents/cli.py: the argparse types the scripts share, at their bounds (README: path flags expand ``~``,
an empty path is refused by name; whole numbers accept ``1e6``), and run_script's quiet end at a closed
stdout."""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import subprocess
import sys

import pytest

from agents.cli import (
    finite_float,
    nonneg_int,
    path_arg,
    positive_float,
    positive_int,
    positive_int_up_to,
    rerun_command,
    whole_int,
)
from agents.cli import run_folder_arg as run_folder
from tests.conftest import RECORDED_ENV, ROOT


def test_whole_numbers_take_exponents_and_whole_floats_and_keep_their_bounds():
    assert (whole_int("1e3"), whole_int("10.0"), whole_int("-4")) == (1000, 10, -4)
    assert (positive_int("1"), nonneg_int("0")) == (1, 0)
    for parse, text, message in ((whole_int, "10.5", "must be a whole number, got 10.5"),
                                 (whole_int, "ten", "must be a whole number, got ten"),
                                 (positive_int, "0", "must be >= 1, got 0"),
                                 (nonneg_int, "-1", "must be >= 0, got -1")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse(text)


def test_a_bounded_whole_number_takes_both_ends_and_refuses_past_them():
    parse = positive_int_up_to(30, "the window is 160x144 pixels times it")
    assert (parse("1"), parse("30"), parse("3e1")) == (1, 30, 30)  # the bound itself is allowed
    for text, message in (("0", "must be >= 1, got 0"),
                          ("31", r"must be at most 30 \(the window is 160x144 pixels times it\), got 31")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse(text)


def test_numbers_are_finite_and_positive_ones_above_zero():
    assert (finite_float("-2.5"), positive_float("1e-9")) == (-2.5, 1e-9)
    for parse, text, message in ((finite_float, "abc", "must be a number, got abc"),
                                 (finite_float, "nan", "must be a finite number, got nan"),
                                 (finite_float, "-inf", "must be a finite number, got -inf"),
                                 (positive_float, "0", "must be > 0, got 0"),
                                 (positive_float, "-1", "must be > 0, got -1"),
                                 (positive_float, "inf", "must be a finite number, got inf")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse(text)


def test_a_path_expands_its_tilde_and_an_empty_or_blank_one_is_refused(monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    assert path_arg("~/runs/x") == os.path.join("/home/someone", "runs/x")
    assert path_arg("runs/~x") == "runs/~x"
    for text in ("", "  "):
        with pytest.raises(argparse.ArgumentTypeError, match="is empty; name a file or folder"):
            path_arg(text)


def test_a_path_too_long_for_the_file_system_is_refused_by_the_parser(tmp_path, scripts, capsys):
    # Path.is_file raised OSError (ENAMETOOLONG) for it: each script's first look was a traceback.
    long = str(tmp_path / ("a" * 300))
    with pytest.raises(argparse.ArgumentTypeError, match=r"\.\.\. \(3\d\d characters\): File name too long"):
        path_arg(long)
    with pytest.raises(SystemExit) as exit_:
        scripts.score_predictions.main([long, str(tmp_path / "p.jsonl")])
    assert exit_.value.code == 2 and "argument split: " in capsys.readouterr().err
    assert path_arg(str(tmp_path / ("a" * 255))).endswith("a" * 255)  # the longest name, though missing


def test_a_name_too_long_under_a_missing_folder_is_refused_by_the_parser(tmp_path):
    # The lookup stopped at the missing folder (no such file), so the long name passed the parser and
    # the scripts' later errors printed the whole path, thousands of characters.
    too_long = r"\.\.\. \([\d,]+ characters\): File name too long"
    for long in (tmp_path / "missing" / ("a" * 3000), tmp_path / "missing" / ("é" * 128) / "x.yaml"):
        with pytest.raises(argparse.ArgumentTypeError, match=too_long):
            path_arg(str(long))  # é is two bytes in UTF-8: 256 bytes
    fine = tmp_path / "missing" / ("a" * 255) / ("é" * 127)
    assert path_arg(str(fine)) == str(fine)  # the longest names, in bytes, under missing folders
    assert path_arg("no-such-folder/x.yaml") == "no-such-folder/x.yaml"  # relative: the current folder's


def test_a_run_folder_name_tensorboard_cannot_take_says_why():
    # "ré" as UTF-8 bytes, decoded byte by byte as an ASCII locale (LC_ALL=C, PYTHONUTF8=0) gives it.
    locale = r"^runs/ré: in this locale \(.+\) TensorBoard takes only ASCII names; use one, or a UTF-8 locale"
    with pytest.raises(argparse.ArgumentTypeError, match=locale):
        run_folder("runs/r\udcc3\udca9")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^runs/r\\xe9: it is not valid UTF-8"):  # Latin-1
        run_folder("runs/r\udce9")
    assert run_folder("runs/ré") == "runs/ré"


# A short output sits in stdout's buffer until exit unless PYTHONUNBUFFERED is set; a long one is written
# (and refused) inside main. Each once printed a BrokenPipeError traceback, or "Exception ignored" with
# status 120.
@pytest.mark.parametrize("unbuffered", ["", "1"])
@pytest.mark.parametrize("size", [10, 1_000_000])
def test_a_script_whose_reader_closed_stdout_ends_quietly_with_141(size, unbuffered):
    code = f"from agents.cli import run_script\nrun_script(lambda: print('x' * {size}) or 0)\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": unbuffered}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    proc.stdout.close()  # the reader has gone before the script writes
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err.decode()) == (141, "")


def test_a_script_whose_stdout_socket_reader_closed_ends_quietly_with_141():
    # A socket whose peer has gone polls as a hang-up only (a pipe's as an error): both are a reader gone.
    code = "from agents.cli import run_script\nrun_script(lambda: print('x' * 1_000_000) or 0)\n"
    mine, theirs = socket.socketpair()
    mine.close()
    with theirs:
        proc = subprocess.run([sys.executable, "-c", code], stdout=theirs, stderr=subprocess.PIPE, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (proc.returncode, proc.stderr.decode()) == (141, "")


# `--json > out.json` on a full disk: stdout refusing the output was a traceback (status 1) after the work
# was done. A file's buffer takes the JSON and the end's flush is refused; /dev/full refuses the write.
FULL_FILE = """import errno, io, os, sys
class Full(io.RawIOBase):  # a file on a full disk: refused until run_script points fd 1 at devnull
    def writable(self): return True
    def fileno(self): return 1
    def write(self, b):
        if os.path.samestat(os.fstat(1), os.stat(os.devnull)): return len(b)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
sys.stdout = io.TextIOWrapper(io.BufferedWriter(Full()))
"""


@pytest.mark.parametrize("stdout", ["full disk file", "/dev/full"])
def test_a_script_whose_stdout_the_disk_refuses_says_so_in_one_line(stdout):
    if stdout == "/dev/full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    script = "from agents.cli import print_json, run_script\nrun_script(lambda: print_json({'x': 1}) or 0)\n"
    code = (FULL_FILE if stdout == "full disk file" else "") + script
    with open("/dev/full" if stdout == "/dev/full" else os.devnull, "w") as full:
        out = full if stdout == "/dev/full" else subprocess.PIPE
        proc = subprocess.run([sys.executable, "-c", code], stdout=out, stderr=subprocess.PIPE, text=True,
                              timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert proc.stderr == "error: stdout refused the output (No space left on device)\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("call", ["print('done: model.zip')",
                                  "sys.stdout.writelines(['done: ', 'model.zip\\n'])"])
def test_a_line_printed_to_an_unbuffered_stdout_the_disk_refuses_is_said_in_one_line(call):
    # python -u or PYTHONUNBUFFERED: print() writes at once, so the refusal came where the line was printed,
    # evaluate's traceback, or plot_curve's "error: [Errno 28] No space left on device" (its own catch).
    # writelines passed the wrapper by: OSError's traceback.
    code = f"import sys\nfrom agents.cli import run_script\nrun_script(lambda: {call} or 0)\n"
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-u", "-c", code], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert proc.stderr == "error: stdout refused the output (No space left on device)\n"


def test_a_flush_of_a_buffered_stdout_the_disk_refuses_is_said_in_one_line():
    # print(..., flush=True) mid-run on a buffered stdout: the disk refuses the flush, not the write.
    code = ("from agents.cli import run_script\n"
            "run_script(lambda: print('episode 1 of 2', flush=True) or 0)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-c", code], stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=60, env={**env, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert proc.stderr == "error: stdout refused the output (No space left on device)\n"


# Only stdout's reader leaving is a quiet end: a pipe of the script's own (a dead worker's, the VLM
# server's socket) that nothing handled is a bug to see, not a silent 141 with stdout thrown away.
def test_a_broken_pipe_that_is_not_stdouts_keeps_its_traceback():
    code = ("import os\nfrom agents.cli import run_script\ndef main():\n    print('before')\n"
            "    r, w = os.pipe()\n    os.close(r)\n    os.write(w, b'x')\nrun_script(main)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (proc.returncode, proc.stdout) == (1, "before\n")
    assert "BrokenPipeError" in proc.stderr


@pytest.mark.parametrize("stdout", ["no fileno", "closed"])
def test_a_broken_pipe_with_a_stdout_that_is_no_open_file_keeps_its_traceback(stdout, monkeypatch, tmp_path):
    # A stdout with no file descriptor (an object in its place, a closed file) has no reader to have gone:
    # the BrokenPipeError is some pipe of the script's own, a bug to see.
    from agents.cli import run_script

    if stdout == "no fileno":
        monkeypatch.setattr(sys, "stdout", object())
    else:
        with open(tmp_path / "out", "w") as f:
            monkeypatch.setattr(sys, "stdout", f)

    def main() -> int:
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        run_script(main)


@pytest.mark.parametrize("name", ["evaluate", "compare", "export_trajectories"])
def test_seed_help_names_the_bound_on_episode_seeds(scripts, capsys, name):
    # check_episode_seeds refuses seed + episodes past 2**64; --help said nothing of it.
    with pytest.raises(SystemExit):
        getattr(scripts, name).main(["--help"])
    assert "seeded seed+k, below 2**64" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("inside", [True, False])
def test_a_recorded_command_reruns_its_script_from_any_folder(tmp_path, monkeypatch, inside):
    # Its arguments name files relative to the folder it ran in: the command goes back there first, and
    # names the script relative to it (inside it) or absolute (elsewhere), run by the same interpreter.
    ran, other = tmp_path / "ran here", tmp_path / "ran here-other"  # its name is not one inside it
    (ran / "data").mkdir(parents=True)
    other.mkdir()
    script = (ran if inside else other) / "show.py"
    script.write_text("import os, sys\nprint(os.getcwd(), sys.argv[1:], open(sys.argv[1]).read())\n")
    (ran / "data" / "a b.txt").write_text("found")
    monkeypatch.chdir(ran)
    command = rerun_command(os.path.relpath(script), ["data/a b.txt", "--x=$HOME"])  # as __file__ may be
    assert (" show.py " if inside else f" {shlex.quote(str(script))} ") in command
    proc = subprocess.run(command, shell=True, cwd=other, capture_output=True, text=True, timeout=60)
    assert proc.stdout == f"{ran} ['data/a b.txt', '--x=$HOME'] found\n", proc.stderr


@pytest.mark.parametrize("program, kept", [(["pkg/show.py"], ""), (["-m", "pkg.show"], ""),
                                           (["-um", "pkg.show"], " -u")])
def test_a_recorded_command_keeps_the_interpreters_options(tmp_path, program, kept):
    # python -X dev -W error ... was recorded (and its restart and --resume hints given) as a plain python
    # run, which hides the warnings the user asked to see. Run by pytest, the options are pytest's: none kept.
    # A -m joined to other flags (python -um MODULE) was kept whole: the command ran the script as a module.
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "show.py").write_text(
        "import sys\nfrom agents.cli import rerun_command\n"
        "print(sys.flags.dev_mode, sys.warnoptions[-1:], sys.argv[1:])\n"
        "if sys.argv[1:] == ['first']:\n    print(rerun_command(__file__, ['again']))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()])}
    first = subprocess.run([sys.executable, "-X", "dev", "-W", "error", *program, "first"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60, env=env)
    shown, command = first.stdout.splitlines()
    assert shown == "True ['error'] ['first']", first.stderr
    assert command.endswith(f" -X dev -W error{kept} pkg/show.py again"), command
    again = subprocess.run(command, shell=True, cwd="/", capture_output=True, text=True, timeout=60, env=env)
    assert again.stdout == "True ['error'] ['again']\n", again.stderr
    script = str(tmp_path / "pkg" / "show.py")
    assert rerun_command(script, []).endswith(f" && {RECORDED_ENV}{shlex.join([sys.executable, script])}")


def test_a_recorded_command_keeps_the_pythonpath_that_found_its_packages(tmp_path, monkeypatch):
    # A game from a folder on PYTHONPATH (README "Adding your own game"): command.txt left it out, so its
    # command, run again from a shell without it, did not know the game. Relative entries are the folder's.
    (tmp_path / "lib dir").mkdir()
    (tmp_path / "lib dir" / "onpath.py").write_text("WHERE = 'found'\n")
    script = tmp_path / "show.py"
    script.write_text("import sys, onpath\nprint(onpath.WHERE, sys.argv[1:])\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", "lib dir")
    command = rerun_command(str(script), ["a"])
    assert f" && PYTHONPATH='lib dir' {shlex.quote(sys.executable)} " in command, command
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(command, shell=True, cwd="/", capture_output=True, text=True, timeout=60, env=env)
    assert proc.stdout == "found ['a']\n", proc.stderr
    # Unset or empty: the command as before, no PYTHONPATH= of its own.
    for unset in (monkeypatch.delenv, lambda name: monkeypatch.setenv(name, "")):
        unset("PYTHONPATH")
        assert rerun_command(str(script), ["a"]) == f"cd {shlex.quote(str(tmp_path))} && " + shlex.join(
            [sys.executable, "show.py", "a"])


def test_a_recorded_script_in_a_folder_named_with_a_dash_is_not_read_as_an_option(tmp_path, monkeypatch):
    # Named relative, "-x/show.py" was read by python as its options -x and -/... and the command failed.
    (tmp_path / "-x").mkdir()
    (tmp_path / "-x" / "show.py").write_text("import sys\nprint(sys.argv[1:])\n")
    monkeypatch.chdir(tmp_path)
    command = rerun_command(str(tmp_path / "-x" / "show.py"), ["-y"])
    proc = subprocess.run(command, shell=True, cwd="/", capture_output=True, text=True, timeout=60)
    assert proc.stdout == "['-y']\n", proc.stderr


@pytest.mark.parametrize("parse", ["positive_int", "nonneg_int", "whole_int", "finite_float",
                                   "positive_float"])
@pytest.mark.parametrize("text", ["", "  "])
def test_an_empty_number_is_named_empty(parse, text):
    # "--seed ''" was "must be a whole number, got " (the value shown as nothing at the line's end).
    from agents import cli

    with pytest.raises(argparse.ArgumentTypeError, match=r"^is empty; give a number$"):
        getattr(cli, parse)(text)


def test_a_path_is_shown_whole_up_to_80_characters_and_cut_past_them():
    # README (Bad values): a path too long for the file system is named cut to 80 characters.
    from agents.cli import shown_path

    assert shown_path("a" * 80) == "a" * 80  # the bound itself: whole, no count after it
    assert shown_path("a" * 81) == f"{'a' * 80}... (81 characters)"
    assert shown_path("a" * 2000) == f"{'a' * 80}... (2,000 characters)"


def test_a_long_list_in_a_message_is_cut_to_its_first_few():
    # --force's and the export's files in the way, the archive's missing states: one helper cuts them.
    from agents.cli import first_few

    assert first_few(["a", "b", "c"], 3) == "a, b, c"  # the bound itself: whole, no ", ..."
    assert first_few(["a", "b", "c", "d"], 3) == "a, b, c, ..."
    assert first_few([], 5) == ""


def test_a_game_not_in_the_list_is_refused_by_the_parser_naming_the_games():
    # train_ppo, evaluate and compare learn of an unknown --env from their parser, before a preset is read or
    # a game played: a typo is named with the known games.
    from agents.cli import game_arg

    assert game_arg("snake") == "snake"
    known = "gameboy, pokemon_red, rotation, snake, snake_duel, sokoban"
    with pytest.raises(argparse.ArgumentTypeError, match=rf"^unknown env 'snak'; known envs: {known}$"):
        game_arg("snak")


@pytest.mark.parametrize("columns, lines", [(0, 0), (0, 24), (80, 0)])
def test_a_progress_bar_is_fixed_where_the_terminal_reports_either_size_as_0(monkeypatch, columns, lines):
    # A pty whose size was set in part (`stty rows 24` only) reports the other as 0: tqdm's dynamic size read
    # that as no room and printed blank lines. A fixed size ($COLUMNS, $LINES) is used where either is 0.
    from agents.cli import bar_size

    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((columns, lines)))
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("LINES", "30")
    assert bar_size() == {"ncols": 100, "nrows": 30}
    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((120, 40)))
    assert bar_size() == {"dynamic_ncols": True}


def test_the_export_and_the_merge_share_one_progress_bar_that_imports_tqdm_only_when_made(monkeypatch):
    """``progress_bar`` (vlm/export.py's and vlm/merge.py's): sized by ``bar_size``, gone when done, off
    when not enabled; tqdm, and torch, not imported with the merge (vlm.export, where the bar was, loads
    torch)."""
    from agents.cli import progress_bar

    monkeypatch.setattr(os, "get_terminal_size", lambda fd: os.terminal_size((0, 0)))
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("LINES", "30")
    with progress_bar(3, "images", "img", True) as bar:
        assert (bar.total, bar.desc, bar.unit, bar.leave, bar.disable, bar.ncols) == (3, "images", "img",
                                                                                        False, False, 100)
    with progress_bar(3, "images", "img", False) as bar:
        assert bar.disable
    code = ("import sys, vlm.merge; print(sorted(m for m in ('tqdm', 'torch', 'vlm.export') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr


@pytest.mark.parametrize("script, args, flag", [
    ("plot_curve", ["RUN"], "--out"),
    ("score_predictions", ["split.jsonl", "p.jsonl"], "--out"),
    ("make_state", ["--rom", "x.gb", "--inputs", "i.txt"], "--out"),
    ("play_gameboy", ["--rom", "x.gb"], "--save-state"),
])
def test_an_output_file_named_with_a_trailing_slash_is_refused_as_a_folder(script, args, flag, tmp_path,
                                                                          scripts, capsys, monkeypatch):
    # Path() drops the slash: `--out states/` wrote a file named `states` where a folder was meant. Relative:
    # a message shortens a long path (pytest-xdist's tmp_path is one).
    monkeypatch.chdir(tmp_path)
    out = "states/"
    with pytest.raises(SystemExit) as exit_:
        getattr(scripts, script).main([*args, flag, out])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert f"argument {flag}: {out} ends in /, a folder's name; give a file name" in err
    assert not (tmp_path / "states").exists()


def test_writelines_through_the_stdout_wrapper_writes_every_line():
    import io

    from agents.cli import _RefusalsReported

    stream = io.StringIO()
    _RefusalsReported(stream).writelines(iter(["done: ", "model.zip\n", "next\n"]))
    assert stream.getvalue() == "done: model.zip\nnext\n"


def test_only_the_values_of_key_like_flags_are_hidden_among_unrecognized_arguments(capsys):
    from agents.cli import script_parser

    # Hand mutants of _key_like and _hide_keys passed every test: a name read in one case only, without
    # _ for - or without "token"/"secret" showed a key ("--API_TOKEN sk-..."); any short prefix of api-key
    # (--ap), any unknown flag's value, the word after a value, a flag after a bare key-like flag or the word
    # after --api-key=... put as "...": what was typed could not be read back.
    words = ["--api-key", "sk-A", "stray", "--api-key=sk-B", "loose", "--api-token", "--verbose-x",
             "--foo", "bar", "secret", "word", "--ap", "5", "--API_TOKEN", "sk-C", "--My-Secret=sk-D",
             "--Api_Ke", "sk-E"]
    with pytest.raises(SystemExit) as exit_:
        script_parser(None).parse_args(words)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith("error: unrecognized arguments: --api-key ... stray --api-key=... loose "
                        "--api-token --verbose-x --foo bar secret word --ap 5 --API_TOKEN ... "
                        "--My-Secret=... --Api_Ke ...\n")
    assert "sk-" not in err
    # A stray word that merely holds "key" is no flag: a parser with --api-key-env adds no note on keys to it.
    parser = script_parser(None)
    parser.add_argument("--api-key-env")
    with pytest.raises(SystemExit):
        parser.parse_args(["monkey"])
    assert capsys.readouterr().err.endswith("error: unrecognized arguments: monkey\n")


def test_an_episode_bar_counts_one_in_the_singular_and_closes_on_every_count():
    """``EpisodeProgress``'s postfix said "1 decisions" and "1 steps"; and, drawn at most every ``every``
    seconds, the bar it leaves must still show the last counts (an episode's end draws them)."""
    import io

    from tqdm import tqdm

    from agents.cli import EpisodeProgress

    out = io.StringIO()
    with tqdm(total=2, file=out, ncols=120) as bar:
        progress = EpisodeProgress(bar, every=0.0)  # every count drawn
        progress(0, 1)
        assert bar.postfix == "1 step"
        progress.decided(argparse.Namespace(valid=False))
        assert bar.postfix == "1 step, 1 decision, 1 invalid"
        progress.decided(argparse.Namespace(valid=True))
        progress(1, 1)
        assert bar.postfix == "2 steps, 2 decisions, 1 invalid"
        progress.every = 3600.0  # none drawn by the throttle from here
        progress(0, 1)
        progress.decided(argparse.Namespace(valid=False))
        progress(1, 1)
    assert "2/2" in out.getvalue().split("\r")[-1]
    assert "4 steps, 3 decisions, 2 invalid]" in out.getvalue().split("\r")[-1]


def test_an_episode_bar_redraws_its_counts_at_most_every_interval_and_at_each_episode_end(monkeypatch):
    """Hand mutation pass: EpisodeProgress redrawing its counts at every step, never restarting its clock
    after a redraw, or taking REFRESH_S for the interval given (the export's own) passed, as every test of
    the bars set the interval to 0."""
    import agents.cli
    from agents.cli import EpisodeProgress

    now = [100.0]
    monkeypatch.setattr(agents.cli.time, "monotonic", lambda: now[0])
    drawn: list[tuple[str, bool]] = []
    moved: list[int] = []

    class Bar:
        def set_postfix_str(self, text: str, refresh: bool = True) -> None:
            drawn.append((text, refresh))

        def update(self, n: int) -> None:
            moved.append(n)

    progress = EpisodeProgress(Bar(), every=2.0)  # not REFRESH_S
    progress(0, 4)
    now[0] += 1.0
    progress(0, 4)  # 1 s after the start: not drawn yet
    assert drawn == []
    now[0] += 1.0
    progress(0, 4)  # 2 s: drawn
    assert drawn == [("12 steps", True)]
    now[0] += 1.0
    progress(0, 4)  # 1 s after that redraw: not again
    assert drawn == [("12 steps", True)] and moved == []
    progress(1, 4)  # an episode ends: the counts go with the bar's move, whatever the clock
    assert drawn[-1] == ("20 steps", False) and moved == [1]


@pytest.mark.parametrize("name", ["train_ppo", "evaluate", "compare"])
def test_only_train_ppo_s_help_offers_opponent_and_swarm(scripts, capsys, name):
    # Hand mutation pass: evaluate's and compare's --help offering --opponent and --swarm (parsed there only
    # to be refused with evaluation's reason) passed; so did train_ppo's hiding them.
    with pytest.raises(SystemExit):
        getattr(scripts, name).main(["--help"])
    shown = capsys.readouterr().out.split()
    offered = [flag for flag in ("--opponent", "--swarm") if flag in shown]
    assert offered == (["--opponent", "--swarm"] if name == "train_ppo" else []), (name, offered)
