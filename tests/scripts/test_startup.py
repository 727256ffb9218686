"""A Ctrl-C while a script starts (its imports take a second or more with torch) exits as a later one
does: status 130, one line, no traceback."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.signals import on_a_terminal


def _with_root() -> dict[str, str]:
    """This environment with the repository first on the path (the code runs from a temporary folder)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _run_python(code: str, cwd, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=_with_root(), capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def _communicate(proc: subprocess.Popen) -> tuple[str, str]:
    """communicate() after the signal; a process still running a minute later fails with what it was
    doing (its state, wait channel and signal masks), so a hang on a CI machine can be told apart."""
    try:
        return proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc_dir = Path(f"/proc/{proc.pid}")
        status = [line for line in (proc_dir / "status").read_text().splitlines()
                  if line.startswith(("State", "Sig", "ShdPnd", "Threads"))]
        pytest.fail(f"pid {proc.pid} still running 60 s after the signal: {status}, "
                    f"wchan {(proc_dir / 'wchan').read_text()!r}")


SCRIPTS = sorted(p.name for p in (ROOT / "scripts").glob("*.py"))


def in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # not ignored, as it is in a background job
    signal.signal(signal.SIGHUP, signal.SIG_DFL)  # nor as under nohup


# A module that takes its time holds the signal inside the script's imports, whatever the machine's speed:
# yaml (every script imports it through agents.cli) and argparse, the first stdlib import (the handler
# once came after it, ~7 ms, where a Ctrl-C printed a KeyboardInterrupt traceback). Python's own start,
# before the script's first line, no script can cover.
@pytest.mark.parametrize(("slow", "sig"), [("yaml", signal.SIGINT), ("yaml", signal.SIGTERM),
                                           ("argparse", signal.SIGINT)],
                         ids=["yaml-sigint", "yaml-sigterm", "argparse-sigint"])
@pytest.mark.parametrize("script", SCRIPTS)
def test_a_ctrl_c_during_the_imports_exits_130_without_a_traceback(script, slow, sig, tmp_path):
    (tmp_path / f"{slow}.py").write_text("import sys, time\nprint('importing', file=sys.stderr, flush=True)\n"
                                         "time.sleep(60)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / script), "--help"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=in_a_terminal)
    try:
        assert proc.stderr.readline() == "importing\n"
        proc.send_signal(sig)
        _, err = _communicate(proc)
    finally:
        proc.kill()
    assert proc.returncode == 130 and err.strip() == "interrupted", err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_second_signal_while_a_script_stopped_during_its_imports_exits_is_ignored(sig, tmp_path):
    """The stop is taken: a repeat as Python exits (atexit callbacks, then the handlers' teardown) printed
    "interrupted" again and an "Exception ignored in atexit callback" traceback, or killed it (143)."""
    (tmp_path / "yaml.py").write_text("import sys, time\nprint('importing', file=sys.stderr, flush=True)\n"
                                      "time.sleep(60)\n")
    # The exit held open (an atexit callback that waits for stdin's end, which communicate() gives).
    (tmp_path / "sitecustomize.py").write_text(
        "import atexit, sys\n"
        "atexit.register(lambda: (print('exiting', file=sys.stderr, flush=True), sys.stdin.read()))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "make_state.py"), "--help"], cwd=tmp_path,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=in_a_terminal)
    try:
        assert proc.stderr.readline() == "importing\n"
        proc.send_signal(sig)
        before = "".join(iter(proc.stderr.readline, "exiting\n"))
        proc.send_signal(sig)
        _, err = _communicate(proc)
    finally:
        proc.kill()
    assert proc.returncode == 130 and before.strip() == "interrupted" and err == "", before + err


def test_a_script_imported_by_a_test_leaves_the_process_its_handler(scripts):
    before = signal.getsignal(signal.SIGINT)
    scripts.plot_curve  # noqa: B018 - importing it is the test
    assert signal.getsignal(signal.SIGINT) is before
    # conftest imported agents.startup already, so the import above never ran its handler setup: a fresh
    # process, where the script's import is agents.startup's first, tells whether it installs any.
    script = str(ROOT / "scripts" / "plot_curve.py")
    code = ("import importlib.util, signal, sys\n"
            "signals = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]\n"
            "before = [signal.getsignal(s) for s in signals], sys.stdout, sys.stderr\n"
            f"spec = importlib.util.spec_from_file_location('plot_curve', {script!r})\n"
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
            "assert 'agents.startup' in sys.modules\n"
            "print(([signal.getsignal(s) for s in signals], sys.stdout, sys.stderr) == before)\n")
    proc = _run_python(code, ROOT, preexec_fn=in_a_terminal)
    assert (proc.returncode, proc.stdout) == (0, "True\n"), proc.stderr


#: The import names of pyproject's extras (test, plot, gameboy, vlm) that a base install lacks.
EXTRA_MODULES = ["matplotlib", "datasets", "minari", "pyboy", "sdl2", "pygame", "imageio", "pytest"]


def test_every_script_s_help_needs_no_extra(tmp_path):
    """README's first command installs the base dependencies alone: no script may import an extra's package
    before its --help is printed. One process (torch imported once), the extras unimportable in it."""
    code = ("import runpy, sys\n"
            f"sys.modules.update(dict.fromkeys({EXTRA_MODULES!r}))\n"
            f"for script in {SCRIPTS!r}:\n"
            f"    sys.argv = [script, '--help']\n"
            "    try:\n"
            f"        runpy.run_path({str(ROOT / 'scripts')!r} + '/' + script, run_name='__main__')\n"
            "    except SystemExit as e:\n"
            "        print(script, 'exit', e.code, flush=True)\n")
    proc = _run_python(code, tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for script in SCRIPTS:
        assert f"usage: {script} " in proc.stdout, (script, proc.stderr)
        assert f"\n{script} exit 0\n" in proc.stdout, (script, proc.stderr)


def test_every_script_exits_with_stop_signals_ignored(scripts):
    # Once its work is done, a script exits through run_script's exit_ignoring_stop_signals: a Ctrl-C while
    # Python shuts down would end it with status 130 (or, past the handlers' teardown, kill it) after all.
    # run_script also ends it quietly when a reader closed its stdout (`| head`).
    for script in SCRIPTS:
        text = (ROOT / "scripts" / script).read_text()
        main_block = text[text.index('if __name__ == "__main__":'):]
        assert "run_script(main)" in main_block, script


@pytest.mark.parametrize("script", ["make_state.py", "play_gameboy.py"])
def test_a_ctrl_c_while_a_finished_game_boy_script_shuts_down_is_ignored(script, tmp_path):
    pytest.importorskip("pyboy")
    from envs.gameboy.roms import TEST_CARTRIDGE

    # Python's shutdown held open (an atexit callback that waits for stdin's end, which communicate() gives
    # once the signal is sent, rather than a fixed sleep), so the signal lands inside it.
    (tmp_path / "sitecustomize.py").write_text(
        "import atexit, sys\n"
        "atexit.register(lambda: (print('exiting', file=sys.stderr, flush=True), sys.stdin.read()))\n")
    (tmp_path / "inputs.txt").write_text("boot 20\n")
    state = tmp_path / "out.state"
    args = {"make_state.py": ["--inputs", "inputs.txt", "--out", str(state)],
            "play_gameboy.py": ["--save-state", str(state), "--window", "null", "--max-frames", "20"]}[script]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / script), "--rom", str(TEST_CARTRIDGE),
                             *args], cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=in_a_terminal)
    try:
        for line in proc.stderr:
            if line == "exiting\n":
                break
        proc.send_signal(signal.SIGINT)
        out, err = _communicate(proc)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "interrupted" not in err and "Traceback" not in err, err
    assert str(state) in out and state.is_file()


def test_a_process_forked_by_a_script_stops_without_a_line_of_its_own(tmp_path):
    # As benchmark.py's stock SB3 pipeline: SubprocVecEnv forks daemon workers, which inherit the
    # startup handler; multiprocessing stops them with SIGTERM as the script exits. Each line is one
    # os.write: print's text and newline, two writes, interleaved between the processes.
    code = (f"import sys; sys.modules['__main__'].__file__ = {str(ROOT / 'scripts' / 'x.py')!r}\n"
            "import multiprocessing, os, time\n"
            "import agents.startup\n"
            "def work():\n"
            "    os.write(2, b'ready\\n')\n"
            "    time.sleep(60)\n"
            "fork = multiprocessing.get_context('fork')\n"
            "fork.Process(target=work, daemon=True).start()\n"
            "os.write(2, b'started\\n')\n"
            "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=_with_root(),
                            stderr=subprocess.PIPE, text=True, preexec_fn=in_a_terminal)
    try:
        # The forked worker runs, and the script holds it as its child: a signal inside start(), between
        # the fork and multiprocessing's note of the child, would leave it running (benchmark.py holds
        # stop signals while its peer's workers start; a CI run once caught this test there).
        assert {proc.stderr.readline(), proc.stderr.readline()} == {"ready\n", "started\n"}
        proc.send_signal(signal.SIGTERM)  # kill, timeout, a job scheduler
        _, err = _communicate(proc)
    finally:
        proc.kill()
    assert proc.returncode == 130 and err == "\ninterrupted\n", repr(err)  # one line, after the ^C


@pytest.mark.parametrize(("sigint", "sigterm", "sighup", "as_script", "expected"), [
    # terminal: not SIG_DFL, Python's own KeyboardInterrupt; a closed terminal stops it as SIGTERM does.
    # background-job: Ctrl-C stays ignored; sigterm-ignored: as the parent asked; nohup: outlives its
    # terminal; not-a-script (not of scripts/): untouched
    ("SIG_DFL", "SIG_DFL", "SIG_DFL", True, "_interrupted _interrupted _hung_up"),
    ("SIG_IGN", "SIG_DFL", "SIG_DFL", True, "SIG_IGN _interrupted _hung_up"),
    ("SIG_DFL", "SIG_IGN", "SIG_DFL", True, "_interrupted SIG_IGN _hung_up"),
    ("SIG_DFL", "SIG_DFL", "SIG_IGN", True, "_interrupted _interrupted SIG_IGN"),
    ("SIG_DFL", "SIG_DFL", "SIG_DFL", False, "default_int_handler SIG_DFL SIG_DFL"),
], ids=["terminal", "background-job", "sigterm-ignored", "nohup", "not-a-script"])
def test_the_startup_handler_replaces_only_the_default_handlers_of_a_script(sigint, sigterm, sighup,
                                                                             as_script, expected, tmp_path):
    main = ROOT / "scripts" / "x.py" if as_script else tmp_path / "x.py"
    code = (f"import signal, sys; sys.modules['__main__'].__file__ = {str(main)!r}\n"
            f"signal.signal(signal.SIGINT, signal.{sigint})\n"
            "if signal.getsignal(signal.SIGINT) == signal.SIG_DFL:\n"
            "    signal.signal(signal.SIGINT, signal.default_int_handler)  # as Python starts a program\n"
            f"signal.signal(signal.SIGTERM, signal.{sigterm})\n"
            f"signal.signal(signal.SIGHUP, signal.{sighup})\n"
            "import agents.startup\n"
            "name = lambda h: getattr(h, '__name__', None) or h.name\n"
            "print(*(name(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)))\n")
    proc = _run_python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == expected


def test_a_ctrl_c_handler_installed_before_the_script_starts_is_kept(tmp_path):
    # Python's own handler is replaced, not one a sitecustomize (a debugger, a job runner) put in place.
    code = (f"import signal, sys; sys.modules['__main__'].__file__ = {str(ROOT / 'scripts' / 'x.py')!r}\n"
            "def mine(signum, frame): pass\n"
            "signal.signal(signal.SIGINT, mine)\n"
            "import agents.startup\n"
            "print(signal.getsignal(signal.SIGINT).__name__, signal.getsignal(signal.SIGTERM).__name__)\n")
    proc = _run_python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "mine _interrupted"


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_stop_handler_installed_before_the_script_starts_is_kept(sig, tmp_path):
    # As for Ctrl-C: a job runner's SIGTERM (or SIGHUP) handler, put in place by a sitecustomize, is kept.
    code = (f"import signal, sys; sys.modules['__main__'].__file__ = {str(ROOT / 'scripts' / 'x.py')!r}\n"
            "def mine(signum, frame): pass\n"
            f"signal.signal(signal.{sig}, mine)\n"
            "import agents.startup\n"
            f"print(signal.getsignal(signal.{sig}).__name__)\n")
    proc = _run_python(code, tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "mine\n", "")


@pytest.mark.parametrize("imported", ["other-checkout", "pip-install-copy"])
def test_a_script_run_with_the_packages_of_another_checkout_is_refused(imported, tmp_path):
    """``python scripts/x.py`` of one checkout imports ``agents`` from wherever Python finds it: a copy that
    ``pip install .`` made (no configs/: each game trained without its preset, Snake at half its learning
    rate, silently) or another clone installed editable (its code ran, not the one beside the script)."""
    checkout = tmp_path / "mine"  # a checkout: scripts/ beside agents/startup.py
    (checkout / "scripts").mkdir(parents=True)
    (checkout / "agents").mkdir()
    (checkout / "agents" / "startup.py").touch()
    (checkout / "scripts" / "x.py").write_text("import agents.startup\nprint('ran')\n")
    if imported == "other-checkout":  # PYTHONPATH named as the fix is this script's checkout, not the other
        packages = ROOT
        message = (f"from another checkout, {ROOT.resolve()} (installed editable there, or on PYTHONPATH), "
                   "whose code would run: run that checkout's scripts, or set "
                   f"PYTHONPATH={checkout.resolve()},")
    else:  # the package alone, as site-packages holds it
        packages = tmp_path / "site-packages"
        (packages / "agents").mkdir(parents=True)
        for name in ("__init__.py", "startup.py"):
            shutil.copy(ROOT / "agents" / name, packages / "agents" / name)
        message = f"from {packages.resolve()}, a copy that pip install . made without the checkout's configs/"
    proc = subprocess.run([sys.executable, str(checkout / "scripts" / "x.py")], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(packages)}, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1 and proc.stdout == "", proc.stdout + proc.stderr
    assert message in proc.stderr and f"pip install -e {checkout.resolve()}" in proc.stderr


def test_a_checkout_reached_by_another_path_than_its_packages_runs(tmp_path):
    """One checkout by two paths that resolve() keeps apart (here a bind mount; a case-insensitive disk's
    other case on macOS): its script and its packages are the same checkout's, not refused as another's."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    (tmp_path / "bind").mkdir()
    script = tmp_path / "bind" / "scripts" / "x.py"
    code = (f"import signal, sys; sys.modules['__main__'].__file__ = {str(script)!r}\n"
            "import agents.startup\n"
            "print(signal.getsignal(signal.SIGTERM).__name__)\n")
    mounted = 'mount --bind "$1" "$2" 2>/dev/null || exit 77; exec "$3" -c "$4"'
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", mounted, "sh", str(ROOT), str(tmp_path / "bind"),
                           sys.executable, code], cwd=tmp_path, env=_with_root(), capture_output=True,
                          text=True, timeout=60)
    if proc.returncode == 77 or proc.stderr.startswith("unshare:"):  # no user namespaces (a container)
        pytest.skip(f"no bind mount here: {proc.stderr.strip()}")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "_interrupted\n", "")


def test_a_script_run_through_a_symlink_is_its_checkout_s_script(tmp_path):
    # A script linked into a folder on PATH (~/bin/train_ppo.py, run by its shebang) is still the
    # checkout's: its checkout is checked and its stop signals handled, as for scripts/train_ppo.py.
    link = tmp_path / "bin" / "train_ppo.py"
    link.parent.mkdir()
    link.symlink_to(ROOT / "scripts" / "train_ppo.py")
    code = (f"import signal, sys; sys.modules['__main__'].__file__ = {str(link)!r}\n"
            "import agents.startup\n"
            "name = lambda h: getattr(h, '__name__', None) or h.name\n"
            "print(name(signal.getsignal(signal.SIGTERM)))\n")
    proc = _run_python(code, tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "_interrupted\n", "")


BUILD = "envs.gameboy.cartridge.build"


@pytest.mark.parametrize(("argv", "module_program"), [
    (["-m", BUILD, "--check"], True), (["-um", BUILD], True), ([f"-m{BUILD}"], True),
    (["-X", "dev", "-Bm", BUILD], True), ([f"-OOm{BUILD}", "--check"], True),
    (["-c", "code", BUILD], False), (["-c", "code", "-m", BUILD], False),
    (["-W", "ignore", "-m", "x.y"], False), (["scripts/x.py", "-m", BUILD], False), (["-Wm", BUILD], False)])
def test_python_m_is_read_with_flags_before_it_or_the_module_joined(monkeypatch, argv, module_program):
    # python -um NAME (or -mNAME) runs NAME as -m does; read as -m alone, the build got none of its handling
    # (a Ctrl-C during its imports a traceback). Words after -c's code or a script are their arguments.
    import agents.startup

    monkeypatch.setattr(sys, "orig_argv", [sys.executable, *argv])
    assert agents.startup._module_program() is module_program


def test_a_module_programs_name_as_an_argument_is_no_python_m_of_it(tmp_path):
    # Only `python -m envs.gameboy.cartridge.build` is that program: a process given its name as an argument
    # (a user's own tool, `python -c ... NAME`) keeps Python's handlers.
    code = ("import signal, agents.startup\n"
            "name = lambda h: getattr(h, '__name__', None) or h.name\n"
            "print(name(signal.getsignal(signal.SIGINT)), name(signal.getsignal(signal.SIGTERM)))\n")
    proc = subprocess.run([sys.executable, "-c", code, "envs.gameboy.cartridge.build"], cwd=tmp_path,
                          env=_with_root(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "default_int_handler SIG_DFL"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_after_settled_work_left_its_block_is_ignored(sig, tmp_path):
    # export_trajectories.py: its output in place (settled), the script prints its summary after the
    # stop_signals_interrupt block, with the startup handler back until run_script exits.
    code = (f"import os, sys; sys.modules['__main__'].__file__ = {str(ROOT / 'scripts' / 'x.py')!r}\n"
            "import agents.startup\n"
            "from agents.cli import run_script\n"
            "from agents.interrupts import settled, stop_signals_interrupt\n"
            "def main():\n"
            "    with stop_signals_interrupt():\n"
            "        settled()\n"
            f"    os.kill(os.getpid(), {int(sig)})  # its handler runs before kill returns\n"
            "    print('summary')\n"
            "    return 0\n"
            "run_script(main)\n")
    proc = _run_python(code, tmp_path, preexec_fn=in_a_terminal)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "summary\n", "")


@pytest.mark.parametrize(("stop", "status"), [("", 0), ("os.kill(os.getpid(), signal.SIGTERM)", 130)],
                         ids=["finished", "stopped"])
def test_a_closed_terminal_while_a_script_shuts_down_is_ignored(stop, status, tmp_path):
    """A SIGHUP late in Python's shutdown, where Python has put its handler back to SIG_DFL (module teardown,
    after atexit): it killed a finished evaluate.py (129, seen through a real bash on a pty) that SIGTERM
    leaves with 0, and a stopped one with 129, not 130."""
    code = (f"import os, signal, sys; sys.modules['__main__'].__file__ = {str(ROOT / 'scripts' / 'x.py')!r}\n"
            "import agents.startup\n"
            "from agents.cli import run_script\n"
            "class HangUpAtTeardown:\n"
            "    def __del__(self):\n"
            "        os.kill(os.getpid(), signal.SIGHUP)\n"
            "teardown = HangUpAtTeardown()\n"
            "def main():\n"
            f"    {stop or 'pass'}\n"
            "    return 0\n"
            "run_script(main)\n")
    proc = _run_python(code, tmp_path, preexec_fn=in_a_terminal)
    assert proc.returncode == status, proc.stderr


def test_a_line_printed_between_the_hang_up_and_its_sighup_is_dropped(tmp_path):
    """The kernel tells a closed terminal's session leader (the shell), which passes SIGHUP on to its jobs a
    moment later (0.3 ms here, more on a busy machine); a line printed in between failed with EIO, status 1
    with its traceback unwritable: benchmark.py's phase line, once in fifteen hang-ups. It now goes to
    os.devnull, as once the SIGHUP has come. Here the leader, a sh that traps SIGHUP, never passes it on."""
    import select

    code = (f"import os, sys, time; sys.modules['__main__'].__file__ = {str(ROOT / 'scripts' / 'x.py')!r}\n"
            "import agents.startup\n"
            "print('ready', flush=True)\n"
            "while os.isatty(1):  # until the terminal hangs up\n"
            "    time.sleep(0.01)\n"
            "print('gone', flush=True)\n"
            "print('gone too', file=sys.stderr)\n")
    status = tmp_path / "status"
    proc, master = on_a_terminal(["sh", "-c", f'trap : HUP; "$0" -c "$1"; echo $? > {status}', sys.executable,
                                  code], cwd=tmp_path, env=_with_root())  # the sh leads the session
    try:
        seen = b""
        while b"ready" not in seen and select.select([master], [], [], 60)[0]:
            seen += os.read(master, 1024)
    finally:
        os.close(master)  # the terminal hangs up
    proc.wait(timeout=60)
    assert b"ready" in seen and status.read_text().strip() == "0"


@pytest.mark.parametrize("unbuffered", [["-u"], []], ids=["python-u", "pythonunbuffered"])
def test_an_unbuffered_script_on_a_terminal_writes_each_line_at_once(unbuffered, tmp_path):
    """``python -u`` or PYTHONUNBUFFERED (common in containers): the streams startup puts over the terminal
    kept an 8 KB buffer under them, so a training run's lines showed only at its exit."""
    import select

    code = (f"import sys, time; sys.modules['__main__'].__file__ = {str(ROOT / 'scripts' / 'x.py')!r}\n"
            "import agents.startup\n"
            "sys.stdout.write('no newline yet')\n"
            "time.sleep(60)\n")
    env = _with_root()
    env.pop("PYTHONUNBUFFERED", None)
    if not unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc, master = on_a_terminal([sys.executable, *unbuffered, "-c", code], cwd=tmp_path, env=env)
    try:
        seen = b""
        while b"no newline yet" not in seen and select.select([master], [], [], 10)[0]:
            seen += os.read(master, 1024)
    finally:
        proc.kill()
        proc.wait(timeout=60)
        os.close(master)
    assert seen == b"no newline yet"


@pytest.mark.parametrize("target", ["pid", "group"])
def test_a_signal_while_the_stock_peer_forks_its_workers_stops_the_benchmark(target, tmp_path):
    # benchmark.py's stock SB3 pipeline (SubprocVecEnv, forked) with only the startup handler. Python runs
    # a handler at its next bytecode: in os.fork that can be an at-fork hook (logging's), which dropped the
    # SystemExit raised there, and the benchmark went on. The hook here signals at that moment. To the group
    # (a terminal's Ctrl-C), at the second fork, the first worker, up by then, stops too: the script's
    # SubprocVecEnv start failed on its pipe with a traceback.
    send = ("os.kill(os.getpid(), signal.SIGTERM)" if target == "pid" else
            "time.sleep(0.5); os.killpg(0, signal.SIGINT)")
    code = ("import os, signal, sys, time\n"
            f"sys.modules['__main__'].__file__ = {str(ROOT / 'scripts' / 'x.py')!r}\n"
            "import agents.startup\n"
            "from agents.throughput import stock\n"
            "forks = []\n"
            "def hook():\n"
            "    forks.append(1)\n"
            f"    if len(forks) == {1 if target == 'pid' else 2}:\n"
            f"        {send}\n"
            "        os.getpid()  # a call: the handler runs here, inside the hook\n"
            "os.register_at_fork(after_in_parent=hook)\n"
            "stock('snake', 'tiny', 2, {'n_steps': 32, 'batch_size': 64, 'n_epochs': 1}, 'cpu')\n"
            "print('carried on', file=sys.stderr)\n")
    # A session of its own: the group signal reaches the script and its workers only.
    proc = _run_python(code, tmp_path, timeout=120, preexec_fn=in_a_terminal, start_new_session=True)
    assert proc.returncode == 130 and proc.stderr.strip() == "interrupted", proc.stderr


def test_a_script_s_streams_escape_what_their_encoding_lacks():
    # A strict stream (PYTHONIOENCODING=ascii:strict, or a Latin-1 name on strict UTF-8) raised on a path
    # after the work was done; stderr's backslashreplace showed a name's bytes as "\udce9".
    import io

    from agents.startup import escape_unwritable

    def written(text: str, encoding: str, errors: str) -> str:
        stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors=errors)
        escape_unwritable(stream)
        stream.write(text)
        stream.seek(0)
        return stream.read()

    latin1, utf8_in_ascii_locale = "caf\udce9.png", "caf\udcc3\udca9.png"  # names' bytes kept as surrogates
    assert written("café.png", "ascii", "strict") == "caf\\xe9.png"
    assert written(latin1, "utf-8", "strict") == "caf\\xe9.png"
    assert written(utf8_in_ascii_locale, "ascii", "backslashreplace") == "caf\\xe9.png"
    assert written("café.png", "utf-8", "strict") == "café.png"
    assert written("x\ud800", "ascii", "strict") == "x\\ud800"  # a surrogate that stands for no byte
    # a stream that writes the bytes back (a C or UTF-8-mode locale's stdout) keeps them: $(...) has the path
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape")
    escape_unwritable(stream)
    stream.write(latin1)
    stream.flush()
    assert stream.buffer.getvalue() == b"caf\xe9.png"


def test_the_escape_handler_leaves_a_decode_error_as_it_is():
    # A codec error handler is called for decoding too: only what cannot be encoded is escaped.
    from agents.startup import ESCAPE

    with pytest.raises(UnicodeDecodeError):
        b"caf\xe9".decode("utf-8", ESCAPE)


def _refused_argument(**kwargs) -> subprocess.CompletedProcess:
    """score_predictions.py (argparse, no torch: a second) refusing a flag whose name holds the byte 0xE9,
    no UTF-8: Python keeps it as the surrogate escape \\udce9."""
    flag = os.fsdecode(b"--caf\xe9")
    argv = [sys.executable, str(ROOT / "scripts" / "score_predictions.py"), "a", "b", flag]
    return subprocess.run(argv, env=_with_root(), capture_output=True, timeout=60, **kwargs)


def test_a_script_s_stderr_names_a_byte_that_is_no_utf8_as_that_byte():
    # stderr's own handler (backslashreplace) wrote it as "\udce9", a character the name does not hold.
    proc = _refused_argument()
    assert proc.returncode == 2
    assert proc.stderr.endswith(b"error: unrecognized arguments: --caf\\xe9\n"), proc.stderr


@pytest.mark.parametrize("system", ["posix", "windows"])
def test_a_terminal_stream_is_replaced_only_where_a_terminal_can_hang_up(system, monkeypatch):
    """Windows has no SIGHUP, and its console streams are no FileIO (_WindowsConsoleIO writes UTF-16 to the
    console): a FileIO in their place wrote UTF-8 bytes to a console's code page (tqdm's bar, any é)."""
    from agents import startup

    if system == "windows":
        monkeypatch.setattr(startup, "HANGUP", ())
    master, terminal = os.openpty()
    try:
        with open(terminal, "w", encoding="utf-8", buffering=1) as stream:
            proofed = startup.hang_up_proof(stream)
            assert (proofed is stream) == (system == "windows")
            assert (proofed.encoding, proofed.line_buffering) == ("utf-8", True)
    finally:
        os.close(master)


def test_a_script_started_with_its_stdout_closed_runs():
    # `python scripts/x.py >&-`: sys.stdout is None, which the startup module must leave alone.
    proc = _refused_argument(preexec_fn=lambda: os.close(1))
    assert proc.returncode == 2
    assert b"error: unrecognized arguments" in proc.stderr and b"Traceback" not in proc.stderr, proc.stderr


def test_training_s_start_and_end_lines_name_the_run_on_a_strict_ascii_stdout(tmp_path):
    # The start line raised inside train_ppo's try (UnicodeEncodeError is a ValueError): "error: 'ascii'
    # codec can't encode", exit 2, after the run folder was made.
    env = {**_with_root(), "PYTHONIOENCODING": "ascii:strict"}
    flags = ["--env", "snake", "--policy", "tiny", "--num-envs", "2", "--total-timesteps", "64", "--device",
             "cpu", "--no-progress", "--run-dir", "café"]
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_ppo.py"), *flags], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "-> caf\\xe9\n" in proc.stdout
    assert "model at caf\\xe9/model.zip\n" in proc.stdout


# The commands of the report, each failing at its own place (compare's and train_ppo's rerun_command,
# evaluate's and compare --specialist's absolute paths); the others' first flags alone.
IN_A_DELETED_FOLDER = [("compare.py", ["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--out", "."]),
                       ("compare.py", ["--specialist", "."]), ("evaluate.py", ["."]),
                       ("train_ppo.py", ["--env", "snake", "--total-timesteps", "2048", "--num-envs", "8"]),
                       *((script, ["--help"]) for script in SCRIPTS
                         if script not in ("compare.py", "evaluate.py", "train_ppo.py"))]


@pytest.mark.parametrize(("script", "args"), IN_A_DELETED_FOLDER,
                         ids=[" ".join([script, *args]) for script, args in IN_A_DELETED_FOLDER])
def test_a_script_run_in_a_folder_deleted_meanwhile_says_so_in_one_line(script, args, tmp_path):
    """``mkdir d; cd d; rm -rf ../d; python scripts/x.py``: os.getcwd() fails, and each script ended in a
    FileNotFoundError traceback (or torch's "oneMKL FATAL ERROR" at its import) where it first asked."""
    _refused_in_a_deleted_folder([str(ROOT / "scripts" / script), *args], tmp_path)


def test_the_cartridge_build_run_in_a_folder_deleted_meanwhile_says_so_in_one_line(tmp_path):
    # python -m of a MODULE_PROGRAMS is no script of scripts/: the refusal is its too. Without it, its
    # relative --out ended in os.path.abspath's FileNotFoundError traceback.
    _refused_in_a_deleted_folder(["-m", BUILD, "--out", "rom.gb"], tmp_path)


def _refused_in_a_deleted_folder(argv: list[str], tmp_path) -> None:
    gone = tmp_path / "d"
    gone.mkdir()
    # Removed in the child once it is in the folder (subprocess's chdir comes before preexec_fn).
    # No empty entry in PYTHONPATH (_with_root's where it was unset): Python would take it for the deleted
    # folder and stop before any script code ("Fatal Python error: error evaluating path").
    path = os.pathsep.join(p for p in _with_root()["PYTHONPATH"].split(os.pathsep) if p)
    proc = subprocess.run([sys.executable, *argv], cwd=gone,
                          env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: os.rmdir(gone))
    assert not gone.exists()
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2, "", "error: the current folder was deleted: cd to an existing folder\n")


def test_python_c_ends_the_options_even_where_its_code_starts_with_a_dash(monkeypatch):
    # python -c CODE ARGS: CODE is the program's, though it reads like an option ("-1"), so a "-m NAME" after
    # it is an argument of that code, not python -m of the cartridge build (whose handlers it would get).
    import agents.startup

    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "-c", "-1", "-m", BUILD])
    assert agents.startup._module_program() is False


@pytest.mark.parametrize("argv", [["-cpass", "-m", BUILD], ["-Bc", "-1", "-m", BUILD], ["-Bcm", BUILD]])
def test_python_c_with_its_code_or_flags_joined_is_no_python_m(monkeypatch, argv):
    # python -c'CODE' -m NAME (the code joined to -c, or -c joined to flags: -Bc) runs CODE with those
    # arguments: read as python -m NAME, a user's own code got the startup's signal handlers.
    import agents.startup

    monkeypatch.setattr(sys, "orig_argv", [sys.executable, *argv])
    assert agents.startup._module_program() is False


def test_a_hang_up_leaves_output_to_a_file_or_a_pipe_as_it_is(tmp_path):
    # Only a terminal that hung up (a character device no longer a tty) is pointed at os.devnull: a run's
    # stdout sent to a log file, or its stderr to a pipe, stops on a SIGHUP with its last lines still written.
    code = ("import agents.startup as s, sys; s.leave_hung_up_terminal(); print('out'); "
            "print('err', file=sys.stderr)")
    with open(tmp_path / "log", "w") as log:
        proc = subprocess.run([sys.executable, "-c", code], stdout=log, stderr=subprocess.PIPE, text=True,
                              env=_with_root(), timeout=60)
    assert (proc.returncode, (tmp_path / "log").read_text(), proc.stderr) == (0, "out\n", "err\n")


@pytest.mark.parametrize("argv", [*([f"-{flag}c", "-1", "-m", BUILD] for flag in "bBdEiIOPqRsStuvx"),
                                  ["-uBc", "-1", "-m", BUILD], ["-cimport sys\nprint(1)", "-m", BUILD]])
def test_python_c_after_any_flags_or_with_code_of_lines_is_no_python_m(monkeypatch, argv):
    # Hand mutation pass on COMMAND_OPTION: dropping a flag letter (u) from it, taking one flag at most
    # before c (-uBc), or its DOTALL (code of two lines joined to -c) passed every test, each reading the
    # user's python -c as python -m of the build.
    import agents.startup

    monkeypatch.setattr(sys, "orig_argv", [sys.executable, *argv])
    assert agents.startup._module_program() is False
