"""The suite's own settings (pyproject.toml's [tool.pytest.ini_options]) do what they promise."""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT


def pytest_command(folder, *args: str) -> list[str]:
    """pytest on the test files in ``folder`` with this project's settings (pyproject.toml) and ``args``."""
    return [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(folder),
            "-p", "no:cacheprovider", *args]


def test_a_test_stuck_outside_the_interpreter_fails_and_the_suite_runs_on(tmp_path):
    # pytest-timeout's SIGALRM waits for the interpreter, which a Numba loop never gives back (a mutant of
    # the Sokoban solver's table growth spun there for as long as CI lets a run last, 90 minutes).
    # faulthandler's watchdog ends the stuck test process; pytest-xdist, as the README's test command
    # runs the suite, reports that test as failed and runs the rest.
    (tmp_path / "test_spin.py").write_text(textwrap.dedent("""
        import numba
        import numpy as np


        @numba.njit
        def spin(flag):
            n = 0
            while flag[0] == 0:
                flag[1] = n
                n += 1
            return n


        spin(np.ones(2, np.int64))  # compiled while collecting, outside the tests' clocks


        def test_spins():
            spin(np.zeros(2, np.int64))


        def test_after():
            pass
    """))
    # The project's settings, with both clocks short: pytest-timeout's (1 s) must fail to stop the loop.
    # In a session of its own: should the watchdog not end the worker, the test kills it, not leaves it.
    command = pytest_command(tmp_path, "-o", "timeout=1", "-o", "faulthandler_timeout=3", "-n", "1",
                             "test_spin.py")
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):  # all ended, as they should
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == 1, out + err
    assert "worker 'gw0' crashed while running 'test_spin.py::test_spins'" in out
    assert "1 failed, 1 passed" in out
    assert "Timeout (0:00:03)!" in err and "in test_spins" in err  # where it was stuck


def test_a_stand_in_left_in_the_code_fails_the_test_that_left_it(tmp_path):
    # conftest's guard, as a plugin of a session of two tests: the first leaves a function of its file
    # bound in a project module (as a module first imported under monkeypatch keeps one), the second not.
    (tmp_path / "test_leak.py").write_text(textwrap.dedent("""
        import envs


        def test_leaves_one():
            envs.stand_in = lambda: None


        def test_after():
            del envs.stand_in
    """))
    command = pytest_command(tmp_path, "-p", "tests.conftest", "-n", "0", str(tmp_path / "test_leak.py"))
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ERROR at teardown of test_leaves_one" in done.stdout
    assert "stayed in the project's code after the test: ['envs.stand_in']" in done.stdout
    assert "2 passed, 1 error" in done.stdout


def test_a_signal_handler_left_changed_fails_the_test_that_left_it(tmp_path):
    # conftest's guard, on a session of two tests: the first leaves SIGHUP ignored (as a call of
    # exit_ignoring_stop_signals did), the second finds it as it was, put back.
    (tmp_path / "test_leak.py").write_text(textwrap.dedent("""
        import signal


        def test_leaves_one():
            signal.signal(signal.SIGHUP, signal.SIG_IGN)


        def test_after():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL
    """))
    command = pytest_command(tmp_path, "-p", "tests.conftest", "-n", "0", str(tmp_path / "test_leak.py"))
    # SIGHUP not ignored in it, as nohup leaves it: test_leaves_one then changes it
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ERROR at teardown of test_leaves_one" in done.stdout
    assert "the test left these signals' handlers changed: SIGHUP" in done.stdout
    assert "2 passed, 1 error" in done.stdout


def test_the_tests_own_servers_are_reached_past_a_proxy_the_tester_set(monkeypatch):
    # A cluster's $http_proxy, with no $no_proxy, sent every request to the tests' servers on this machine's
    # loopback through the proxy, which cannot reach them: test_vlm_client.py failed from its first test.
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000"):
        assert urllib.request.proxy_bypass(host), host


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds the fork server in /proc")
def test_the_fork_server_ctrl_c_helper_sends_it_once_the_script_heeds_it(tmp_path):
    # interrupted_while_fork_server_imports waits, once the server has started, for the script to stop
    # ignoring SIGINT, as it does while it starts the server (envs.vector.start_forkserver: milliseconds,
    # by design): sent as soon as the server appeared, on a busy box the Ctrl-C landed there and the run
    # trained to its end. Here that window lasts a second.
    import multiprocessing

    from tests.conftest import interrupted_while_fork_server_imports

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork server on this platform")
    script = tmp_path / "slow_to_heed.py"
    script.write_text(textwrap.dedent("""
        import signal
        import sys
        import time

        from envs.vector import start_forkserver

        heeded = signal.signal(signal.SIGINT, signal.SIG_IGN)
        start_forkserver()
        time.sleep(1)  # a Ctrl-C now is dropped
        signal.signal(signal.SIGINT, heeded)
        try:
            time.sleep(30)
        except KeyboardInterrupt:
            sys.exit(130)
    """))
    code, err, _, _ = interrupted_while_fork_server_imports([str(script)], tmp_path / "scratch")
    assert code == 130, err
