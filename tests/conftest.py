import contextlib
import errno
import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agents.startup import STOP_SIGNALS

# One torch thread for the tests and the processes they start (set before anything imports torch): their
# tensors are tiny, and on a 2-core machine, shared with the tests' own worker processes, a second thread
# only waited, spinning (tests/agents/test_training.py: 67 s of CPU on two threads, 49 s on one; 110 s and
# 47 s while the box was busy). A count the tester sets stays.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# The tests' servers listen on this machine's loopback, which a proxy the tester's $http_proxy names (as
# clusters set it) cannot reach: every request to them failed through it. Loopback bypasses any proxy, in
# $no_proxy as urllib reads it (lower case first, an IPv6 host in brackets); the tester's entries stay.
os.environ["no_proxy"] = ",".join(filter(None, [os.environ.get("no_proxy", os.environ.get("NO_PROXY")),
                                                "localhost", "127.0.0.1", "[::1]"]))

# The tests send SIGINT to themselves (and their children) to stand for a Ctrl-C. A suite started as a
# background job of a script (`pytest &`) inherits SIGINT ignored, and Python then installs no handler of
# its own: those signals did nothing and the interrupt tests failed ("DID NOT RAISE KeyboardInterrupt").
# Python's own Ctrl-C handler, as in a terminal; the tests that need a signal ignored set that themselves.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
TESTS_FOLDER = str(ROOT / "tests") + os.sep


def load_script(name: str):
    """Import ``scripts/<name>.py`` as a module (scripts are thin entry points, not a package)."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session", autouse=True)
def default_outputs_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Folders a command makes by default go under the tests' temp folder, not one the test processes
    share (up to four at once, pytest-xdist) with each other and the tester.

    SB3 gives a model learning without a logger of its own a new ``SB3-<time>`` folder in the system's
    temp folder; tests that call ``model.learn`` directly left dozens there. The VLM response cache
    (``~/.cache/depthfirst/vlm``) is made up front by every ``--vlm`` command not given ``--cache-dir`` or
    ``--no-cache``: test_evaluation.py's missing-MP4-writer test made it in the tester's home. A test of
    the defaults themselves sets ``HOME`` and these variables with monkeypatch."""
    with pytest.MonkeyPatch.context() as mp:  # the session's own monkeypatch: both put back at the end
        mp.setenv("SB3_LOGDIR", str(tmp_path_factory.mktemp("sb3-logs")))
        mp.setenv("DEPTHFIRST_VLM_CACHE", str(tmp_path_factory.mktemp("vlm-cache")))
        yield


def defined_in_tests(value: object) -> bool:
    """Whether ``value`` is a function of tests/ or of any test file (``test_*.py``)."""
    code = getattr(value, "__code__", None)
    return code is not None and (code.co_filename.startswith(TESTS_FOLDER)
                                 or os.path.basename(code.co_filename).startswith("test_"))


def project_names_bound_to_tests() -> list[str]:
    """The names in the project's loaded modules (and the scripts' ``script_<name>``) bound to a function
    that a test defines: a test's stand-in left in the code."""
    return [f"{name}.{attr}" for name, module in list(sys.modules.items())
            if module is not None and (name.partition(".")[0] in ("agents", "envs", "vlm")
                                       or name.startswith("script_"))
            for attr, value in list(vars(module).items()) if defined_in_tests(value)]


@pytest.fixture(autouse=True)
def no_stand_in_outlives_its_test() -> Iterator[None]:
    """monkeypatch puts a patched name back, but a module first imported while it was patched (``from
    agents.evaluation import run_episodes``) keeps the stand-in: a later test in that process, whichever
    pytest-xdist sent there, failed for it. Named at the test that left it (~3 ms a test)."""
    yield
    left = project_names_bound_to_tests()
    assert not left, f"a test's stand-in stayed in the project's code after the test: {left}"


@pytest.fixture(autouse=True)
def no_signal_handler_outlives_its_test() -> Iterator[None]:
    """A stop signal's handler a test set (or code it ran, as ``exit_ignoring_stop_signals`` does) is put
    back by that test: a SIGHUP left ignored by one passed on to every process a later test of the same
    pytest-xdist worker started, and the closed-terminal training test, its child taking that for nohup,
    trained on past its hang-up until its 120 s wait failed. Put back here and named at the test."""
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    yield
    changed = [s.name for s, handler in before.items() if signal.getsignal(s) != handler]
    for s, handler in before.items():
        signal.signal(s, handler)
    assert not changed, f"the test left these signals' handlers changed: {', '.join(changed)}"


@pytest.fixture(scope="session")
def scripts():
    class Scripts:
        def __getattr__(self, name):
            return load_script(name)

    return Scripts()


def path_method_fails(monkeypatch: pytest.MonkeyPatch, method: str, which: Callable[[Path], bool],
                      error: OSError) -> None:
    """``Path.<method>`` raises ``error`` for the paths ``which`` picks and works as before for the rest: a
    disk or kernel failure (or a system without /proc) that the tests, run as root on Linux, cannot cause."""
    real = getattr(Path, method)

    def failing(self: Path, *args, **kwargs):
        if which(self):
            raise error
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, method, failing)


#: What a recorded command (``cli.rerun_command``) sets before the interpreter: the PYTHONPATH these tests
#: run with, if any (a clone's checkout tested in place of an installed one).
RECORDED_ENV = f"PYTHONPATH={shlex.quote(os.environ['PYTHONPATH'])} " if os.environ.get("PYTHONPATH") else ""

#: The interpreter a printed ``--resume`` names: this process's, as it was typed, after the PYTHONPATH set
#: (``train.resume_command``).
PYTHON = RECORDED_ENV + shlex.quote(sys.orig_argv[0])

# A training budget that exercises every part of the pipeline in seconds.
TINY = ["--num-envs", "8", "--policy", "tiny", "--no-progress", "--set", "ppo.n_steps=32",
        "--set", "ppo.batch_size=128", "--set", "ppo.n_epochs=1"]


def deny_reading(monkeypatch: pytest.MonkeyPatch, file: Path, code: int = errno.EACCES) -> None:
    """Opening ``file`` raises the system's refusal, ``code`` (by default another user's file, mode 600: as
    root, a file of mode 000 reads)."""
    real_open = open

    def denied(name: object, *args: object, **kwargs: object) -> object:
        if Path(name) == file:
            raise OSError(code, os.strerror(code), str(name))  # PermissionError for EACCES
        return real_open(name, *args, **kwargs)
    monkeypatch.setattr("builtins.open", denied)
    monkeypatch.setattr("io.open", denied)  # Path.read_text's


def open_paths() -> set[str]:
    """Where this process's open files are (Linux's /proc/self/fd), to find a handle left open; empty
    elsewhere."""
    paths = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # the listing's own, closed by now
                paths.add(os.readlink(f"/proc/self/fd/{fd}"))
    return paths


def without_waiting_on(fifo: Path, call: Callable[[], object]) -> object:
    """``call()``'s result, or the exception it raised, failing the test if it waited on ``fifo``: an open()
    of a FIFO waits for a writer, which would hang the command it stands for. A writer that opens and closes
    lets a blocked open() return, so the test ends."""
    import threading

    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as e:  # returned, for the caller's assertions
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    waited = thread.is_alive()
    if waited:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
    assert not waited, f"waited on the FIFO {fifo}"
    return outcome[0]


def removed_during_play(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, play: str, leaf: str,
                        how: str) -> tuple[Path, Path]:
    """``base`` and ``out`` (``base/new/<leaf>``), with ``agents.compare.<play>`` patched so that while it
    plays, another output that found ``new/<leaf>`` missing too and failed removes the folders it would have
    made ("removed"; "made first by the other": ``out`` was there before), their inode numbers then taken so
    a folder made again is another; or ("moved with the folder above") ``base`` is moved aside and made anew,
    as a train_ppo.py --force of a run it was in does."""
    import agents.compare
    from agents.outputs import missing_folders, remove_folders

    base = tmp_path / "base"
    base.mkdir()
    out = base / "new" / leaf
    other_made, real = missing_folders(out), getattr(agents.compare, play)
    if how == "made first by the other":  # this one found it there, as made for nothing of its own
        out.mkdir(parents=True)

    def gone_meanwhile(*args, **kwargs):
        played = real(*args, **kwargs)
        if how != "moved with the folder above":
            remove_folders(other_made)  # the failed one's cleanup: the folders it found missing, if empty
            for k in range(len(other_made)):
                (tmp_path / f"other-{k}").mkdir()
        else:
            base.rename(tmp_path / ".base.replaced")
            base.mkdir()
        assert not (base / "new").exists()
        return played

    monkeypatch.setattr(agents.compare, play, gone_meanwhile)
    return base, out


def always_right_checkpoint(run: Path, out: Path, step: int = 128):
    """A Snake run's model turned into another policy, whose action head always says RIGHT, saved at ``out``
    as a checkpoint of training step ``step`` and returned: a model a tool picked by ``--checkpoint`` shows
    in its play."""
    import torch
    from stable_baselines3 import PPO

    model = PPO.load(run / "model.zip", device="cpu")  # a model load_model loads to play cannot be saved
    with torch.no_grad():
        model.policy.action_net.weight.zero_()
        model.policy.action_net.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 5.0]))
    model.num_timesteps = step
    model.save(out)
    return model


def cartridge_boot_state(path: Path) -> Path:
    """The test cartridge's state as it boots, written to ``path`` (no ROM record beside it) and returned."""
    from envs.gameboy.core import new_pyboy, save_emulator
    from envs.gameboy.roms import TEST_CARTRIDGE

    pb = new_pyboy(TEST_CARTRIDGE.read_bytes())
    try:
        path.write_bytes(save_emulator(pb))
    finally:
        pb.stop(save=False)
    return path


@contextlib.contextmanager
def tb_in_order(run: Path) -> Iterator[str]:
    """A folder of links to the run's TensorBoard event files, named in the order the files were made.
    TensorBoard reads a folder's files in name order, and a name holds the second it was made, the host,
    the pid and a count of writers in that process: the tests' runs share one process, and two of its
    files made in one second with counts 9 and 10 were read 10 first, so the older file's lower steps
    dropped the newer's as orphans (a test failed 4 times in 9)."""
    def made(p: Path) -> tuple[int, int]:
        return int(p.name.split(".")[3]), int(p.name.rsplit(".", 1)[1])

    with tempfile.TemporaryDirectory() as folder:
        for k, p in enumerate(sorted((run / "tb").glob("*tfevents*"), key=made)):
            os.symlink(p, Path(folder) / f"events.out.tfevents.{k:06d}")
        yield folder


def events(run: Path):
    """The run's TensorBoard events (its ``tb/``), read as ``tensorboard`` would."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with tb_in_order(run) as folder:
        ea = EventAccumulator(folder, size_guidance={"scalars": 0, "images": 0, "tensors": 0})
        ea.Reload()
    return ea


def served_hparams(logdir: Path):
    """The HPARAMS tab's experiment (its columns) and session groups (its rows) for ``logdir``, computed by
    TensorBoard's own hparams backend over the data provider ``tensorboard --logdir`` serves."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment, list_session_groups

    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(str(logdir))
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, str(logdir))
    backend = backend_context.Context(base_plugin.TBContext(logdir=str(logdir), multiplexer=mux,
                                                            data_provider=provider))
    ctx = context.RequestContext()
    experiment = get_experiment.Handler(ctx, backend, "", api_pb2.GetExperimentRequest()).run()
    request = api_pb2.ListSessionGroupsRequest(allowed_statuses=api_pb2.Status.values(), slice_size=100)
    groups = list_session_groups.Handler(ctx, backend, "", request).run().session_groups
    return experiment, groups


def load_steps(root: Path):
    """Every step row of an exported trajectory store, ordered by episode and step."""
    import pyarrow.parquet as pq

    from vlm.trajectories import TRAJ_DIR

    table = pq.ParquetDataset(root / TRAJ_DIR / "steps").read()
    return table.sort_by([("episode", "ascending"), ("t", "ascending")])


def load_episodes(root: Path):
    """The episodes.parquet table of an exported trajectory store."""
    import pyarrow.parquet as pq

    from vlm.trajectories import EPISODE_FILE

    return pq.read_table(root / EPISODE_FILE)


def is_fork_server(pid: int) -> bool:
    """Whether process ``pid`` runs and is a multiprocessing fork server."""
    try:
        return b"multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # no such process
        return False


def fork_servers_of(parent: int) -> list[int]:
    """The multiprocessing fork servers whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent
                    and is_fork_server(int(entry.name))):
                found.append(int(entry.name))
        except (ValueError, OSError):  # not a process, or one that has just exited
            continue
    return found


def _ignores_sigint(pid: int) -> bool:
    """Whether process ``pid`` ignores SIGINT now (its SigIgn mask in /proc); False once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:"))
    return bool(int(mask, 16) >> (signal.SIGINT - 1) & 1)


def interrupted_while_fork_server_imports(argv: list[str], scratch: Path) -> tuple[int, str, bool, float]:
    """Runs ``python ARGV`` (a script's path from the project root first) with its fork server's imports
    held up for a minute (a busy box's, made certain to outlast the script), sends Ctrl-C to its process
    group once that server has started, and returns its exit status, its stderr, whether the server
    still ran once it had exited (killed then: no server left running after a test) and the seconds from
    the Ctrl-C to its exit (a script that waited for the server to end waited out its imports' minute).
    ``scratch`` is made and removed."""
    scratch.mkdir()
    (scratch / "sitecustomize.py").write_text(
        "import time\nfrom pathlib import Path\n"
        "if b'multiprocessing.forkserver' in Path('/proc/self/cmdline').read_bytes():\n"
        "    time.sleep(60)\n")
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(scratch), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with (scratch / "err.txt").open("w+") as err:  # not a pipe: the server holds it open as it runs
        proc = subprocess.Popen([sys.executable, str(ROOT / argv[0]), *argv[1:]], env=env, stderr=err,
                                stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        server = None
        # The server found, and the script no longer ignoring SIGINT: it does while it starts the server
        # (envs.vector.start_forkserver, milliseconds), and a Ctrl-C then is dropped by design; on a busy
        # box the signal landed there, and the run trained to its end (exit 0).
        while (server is None or _ignores_sigint(proc.pid)) and proc.poll() is None \
                and time.monotonic() < deadline:
            server = server or next(iter(fork_servers_of(proc.pid)), None)
            time.sleep(0.01)
        if server is not None:
            os.killpg(proc.pid, signal.SIGINT)
        sent = time.monotonic()
        proc.wait(timeout=120)
        seconds = time.monotonic() - sent
        left = server is not None and is_fork_server(server)
        if left:
            os.kill(server, signal.SIGKILL)
        err.seek(0)
        text = err.read() if server is not None else "no fork server started\n" + err.read()
    shutil.rmtree(scratch)
    return proc.returncode, text, left, seconds
