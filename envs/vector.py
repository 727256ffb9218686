"""``GameVecEnv``: the SB3 ``VecEnv`` every game trains through.

W worker processes each own one batched ``Game`` of B boards. Observations, actions, rewards, flags
and ended episodes' last observations and figures travel through shared memory; commands and the
count of ended episodes travel through pipes, which is also how workers sleep between steps (a
blocking ``recv``, never a busy-wait). ``W=0`` steps the game in this process: for cheap cores (Snake:
microseconds per batch) an inter-process round trip costs more than the step itself, so that is their
default.

Seeds: board k's e-th episode (e = 0, 1, ...) is seeded ``seed + k + e * num_envs``, whatever the
worker layout, so episodes are reproducible and board k's first episode equals
``GameEnv.reset(seed=seed + k)``.

A worker that dies is noticed within ``_POLL_S``; with ``on_worker_death="restart"`` (default) it is
started again, its boards begin new episodes (the cut ones reported as truncated, with
``worker_restarted`` and no ``episode`` in their info: they are no finished episodes; their
``terminal_observation`` is the last one the env returned for them) and
``worker_restarts`` counts it; with ``"raise"`` the call raises an error naming the worker. A worker
found dead outside a step is restarted too: ``reset`` is sent again (the new worker's boards get the
seeds the lost ones would have), ``env_method``/``get_attr``/``set_attr`` are sent again and answer
for the new boards, whose cut episodes the next step reports (unless a reset comes first). A worker
that dies again while its command is retried raises. A restarted worker's game gets the attributes
``set_attr`` gave the lost one before its boards reset, so they play by the same settings.

A worker that hangs (alive but silent: an emulator stuck in its C loop, a game step that never returns)
is killed (SIGKILL) once it has left a command unanswered for ``hang_timeout_s`` seconds (600 by
default, ``None``: never) and then treated exactly as a dead worker.

A call that a ``KeyboardInterrupt`` (Ctrl-C) cuts short is given up: the workers ignore SIGINT and finish
it, and their late answers are skipped (``W=0``: the Ctrl-C waits for the call to finish), so the env goes
on answering each later call for itself (the episodes an interrupted step ended are not reported; a
``reset()`` starts every board anew). The boards' running returns and lengths (the ``episode`` info's
``r``, ``l``) are kept and zeroed by ``Boards`` where the boards restart, so the next episodes count from
their own start whether or not the step was read.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, NoReturn

import numpy as np
from gymnasium.error import ClosedEnvironmentError, ResetNeeded
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from agents.interrupts import stop_point
from agents.machine import usable_cores
from envs import PLUGIN_WARNINGS_SHOWN, game_class, make_game
from envs.base import checked_actions, finite, whole
from envs.env import GameEnv
from envs.worker import FIGURES, JOB_STOP_SIGNALS, Boards, Shared, method_name, worker_main

log = logging.getLogger(__name__)
_POLL_S = 0.25
_START_TIMEOUT_S = 120.0  # a worker compiles/loads Numba kernels or boots emulators on start
# close(): a worker's time to close its game and exit, then to die of SIGTERM before it gets SIGKILL
_CLOSE_GRACE_S = 2.0
_TERM_GRACE_S = 1.0
_RESTARTED = -1  # a step's result for a worker that died and was restarted: all its boards ended
# No legitimate command comes near it: a cold Numba compile on a loaded machine takes tens of seconds,
# a Game Boy worker's reset of its emulators or its milestone/heatmap env_methods seconds, and one swarm
# archive write waits at most 60 s for the index's lock (sqlite3 timeout). A hung worker costs 10 minutes.
HANG_TIMEOUT_S = 600.0
# A worker's exit status when, still starting, it ran the main script's top level again and that code made
# a GameVecEnv with workers itself: the script lacks ``if __name__ == "__main__":`` (see _unguarded_main).
_UNGUARDED_MAIN_EXIT = 87
_UNGUARDED_MAIN_ADVICE = (
    'the script that made this env lacks `if __name__ == "__main__":`. Worker processes start through a '
    "fork server (or spawn), which runs the main script's top level again in each worker, so that code "
    'made an env with workers of its own. Put the script\'s work under `if __name__ == "__main__":` (or use '
    "num_workers=0)")


def default_workers(game: str, num_envs: int) -> int:
    """0 (in process) for cheap batched cores; otherwise one worker per core this process may use, at most
    one per env."""
    if game_class(game).cheap:
        return 0
    return max(1, min(usable_cores(), num_envs))


# Game methods that act on all of a game's boards at once: env_method would pass a board's number as their
# first argument. With one board a worker, env_method("step", indices=[0]) stepped it with action 0 behind
# the env's back (an end it never reported, a board never restarted) and set_opponent_actions took the
# number as the opponent's move; with more boards they failed on the count, naming no fix.
_WHOLE_GAME_METHODS = frozenset({"step", "reset", "observe", "close", "set_opponent_actions"})


class WorkerDiedError(RuntimeError):
    pass


class VecEnvClosedError(ClosedEnvironmentError, RuntimeError):
    """A closed ``GameVecEnv`` used: Gymnasium's error, as ``GameEnv`` and a ``Game`` raise (``except
    ClosedEnvironmentError`` missed this env's), and still the RuntimeError it was."""


def _raise(what: str, status: str, payload: Any) -> NoReturn:
    """Raise a worker's error as itself, as in process, with ``what`` (the worker, the command) and the
    worker's traceback as its cause (see ``worker._error_reply``); one that could not be sent comes as a
    RuntimeError holding the traceback."""
    if status == "raise":
        error, tb = payload
        raise error from RuntimeError(f"{what}:\n{tb}")
    raise RuntimeError(f"{what}:\n{payload}")


def _unguarded_main() -> None:
    """In a worker still starting (multiprocessing's bootstrap runs the main script again there, and sets
    ``_inheriting`` while it does: its own check refuses a new process then), exit with
    ``_UNGUARDED_MAIN_EXIT``: the parent then names the fix, where it said only "worker 0 died while
    starting (exit code 1)". Elsewhere a no-op."""
    if getattr(mp.current_process(), "_inheriting", False):
        # The parent's error gives the advice; this line is for a process the env did not start.
        print("depthfirst: a process still starting ran the main script's top level again, which makes a "
              'GameVecEnv with workers: it lacks `if __name__ == "__main__":`', file=sys.stderr, flush=True)
        os._exit(_UNGUARDED_MAIN_EXIT)  # SystemExit would not carry the status out of the fork server


@contextlib.contextmanager
def _unrunnable_main_hidden() -> Iterator[None]:
    """While a worker process is started: hide a main script's ``__file__`` that names no file, such as
    ``<stdin>`` (``python - <<EOF``, ``python < script.py``) or a script deleted since. Spawn and the fork
    server run the main script again in each new process from that path; one that is no file killed every
    worker with a FileNotFoundError ("worker 0 died while starting (exit code 1)"). The workers need
    nothing from the main script, so it is left out, as for ``python -c``; a real file is run as before."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    # As multiprocessing reads it: a module's name (python -m) wins; a relative path is from the start folder.
    if (main is None or not isinstance(path, str) or getattr(getattr(main, "__spec__", None), "name", None)
            or os.path.isfile(os.path.join(mp.process.ORIGINAL_DIR or "", path))):
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def start_forkserver() -> None:
    """Start multiprocessing's fork server (if it is not running) with ``JOB_STOP_SIGNALS`` ignored, which it
    keeps (Python leaves an inherited ignored SIGINT alone): a Ctrl-C while it imports its preload modules
    (a second or two with PyBoy) stopped it with a traceback beside the script's own clean message, and a
    closed terminal's SIGHUP killed it (and a worker forked from it before the worker ignores it). The
    server's start takes milliseconds (it imports in the background); a Ctrl-C then is dropped."""
    from multiprocessing import forkserver

    if threading.current_thread() is not threading.main_thread():  # only it may set handlers
        with _plugin_warnings_shown():
            forkserver.ensure_running()
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in JOB_STOP_SIGNALS}
    try:
        with _plugin_warnings_shown():
            forkserver.ensure_running()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _plugin_warnings_shown() -> Iterator[None]:
    """The fork server started inside inherits ``PLUGIN_WARNINGS_SHOWN``: this process has printed the
    warnings of skipped entry points (on importing ``envs``), which the server's import would repeat."""
    previous = os.environ.get(PLUGIN_WARNINGS_SHOWN)
    os.environ[PLUGIN_WARNINGS_SHOWN] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[PLUGIN_WARNINGS_SHOWN]
        else:
            os.environ[PLUGIN_WARNINGS_SHOWN] = previous


def stop_forkserver() -> None:
    """Kill this process's fork server, if one runs, and reap it: one left while it still imported its
    preload (torch and the game: seconds, 30 s on a busy 2-core box) imported on to the end after the
    script had exited, as it looks for its parent's exit only then. It ignores the stop signals, hence
    SIGKILL. A later pool or env starts a new one."""
    from multiprocessing import forkserver

    server = forkserver._forkserver  # no public way to stop it
    pid = getattr(server, "_forkserver_pid", None)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # reaped already
        server._stop()


def prepare_workers(game: str, modules: Sequence[str] = ("envs.worker",)) -> bool:
    """Start the fork server that ``game``'s workers are forked from, unless one runs (a process's first
    server, with its preload, serves all its envs and exports); False where there is no fork server. It
    imports ``modules`` (the workers' own: the vector env's, or the export's), the game's module and its
    ``WORKER_PRELOAD`` and sets Numba up once: each worker forked from it skips all that (a second or more
    each) and loads its kernels from the disk cache. It imports in the background, so a caller starts it
    before other work: ``GameVecEnv`` before its probe game, train_ppo.py before it checks the game."""
    if "forkserver" not in mp.get_all_start_methods():
        return False
    cls = game_class(game)
    mp.get_context("forkserver").set_forkserver_preload([*modules, "envs.jit_warmup", cls.__module__,
                                                         *cls.WORKER_PRELOAD])
    start_forkserver()
    return True


def record_maker(keys: Sequence[str]) -> Callable[..., dict[str, Any]]:
    """A function of ``len(keys)`` values that returns ``{keys[0]: values[0], ...}`` (a later key wins).

    It is a dict display with constant keys, which CPython sizes once: 0.4 µs for Snake's six figures
    against 0.85 µs for ``dict(zip(keys, values))``, which grows its dict as it goes. A step of 4,096
    random boards ends about 400 episodes, each reported in a dict of these, in the parent process.
    Generated as ``dataclasses`` generates its methods; each key (a string) goes in as its ``repr``."""
    params = ", ".join(f"v{i}" for i in range(len(keys)))
    items = ", ".join(f"{key!r}: v{i}" for i, key in enumerate(keys))
    return eval(f"lambda {params}: {{{items}}}", {})


def _seed(seed: Any) -> int:
    """A base seed as an int: ``None`` draws one from NumPy's global generator, as SB3's ``VecEnv.seed``
    and ``make_vec_env(seed=None)`` do; anything else but a whole number is a ValueError (``None`` was a
    TypeError at the first reset, and 1.5 played as seed 1)."""
    if seed is None:
        return int(np.random.randint(0, np.iinfo(np.uint32).max, dtype=np.uint32))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):  # np.bool_ is neither
        raise ValueError(f"seed must be a whole number or None, got {seed!r}")
    return int(seed)


def _game_kwargs(value: Any) -> dict[str, Any]:
    """``game_kwargs`` as a new dict, else a TypeError (a wrong type, as make_game's) or ValueError saying
    what it must be: a list was dict()'s "cannot convert dictionary update sequence element #0 to a
    sequence", a key that is no string Python's "keywords must be strings", and num_envs make_game's "got
    multiple values for keyword argument"."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"game_kwargs must be a dict of the game's options by name, e.g. {{'size': 8}}, or "
                         f"None, got {type(value).__name__} {value!r}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"game_kwargs must be a dict keyed by option names (strings), got key {key!r}")
    if "num_envs" in value:
        raise ValueError("game_kwargs holds the game's options; num_envs is GameVecEnv's own argument")
    return dict(value)


class GameVecEnv(VecEnv):
    """Vectorised game boards for SB3 (see the module docstring)."""

    def __init__(self, game: str, num_envs: int, num_workers: int | None = None, seed: int | None = 0,
                 game_kwargs: dict[str, Any] | None = None, on_worker_death: str = "restart",
                 start_method: str | None = None, hang_timeout_s: float | None = HANG_TIMEOUT_S) -> None:
        """``seed``: board k's first episode is seeded ``seed + k`` (``None``: one drawn at random).
        ``hang_timeout_s``: a worker silent this long on a command is killed and treated as dead
        (``None``: never). The default, 600 s, sits far above any legitimate command (see
        ``HANG_TIMEOUT_S``); silence is counted in the env's own quarter-second polls, so a training
        process stopped with its workers (Ctrl-Z) and continued later does not count the pause."""
        num_envs = whole("num_envs", num_envs, 1)
        if on_worker_death not in ("restart", "raise"):
            raise ValueError(f"on_worker_death must be 'restart' or 'raise', got {on_worker_death!r}")
        methods = mp.get_all_start_methods()
        if start_method is not None and start_method not in methods:  # mp's error named neither it nor these
            raise ValueError(f"start_method must be None or one of {methods}, got {start_method!r}")
        # finite: no NaN or inf, nor a bool (True was 1 s) or a string (a bare TypeError from the comparison)
        if hang_timeout_s is not None and finite("hang_timeout_s", hang_timeout_s) <= 0:
            raise ValueError(f"hang_timeout_s must be seconds > 0 or None, got {hang_timeout_s!r}")
        self.hang_timeout_s = hang_timeout_s
        self.game_name = game
        self.game_kwargs = _game_kwargs(game_kwargs)
        self._cwd = os.getcwd()  # every worker's folder, restarted ones' too: relative paths are from it
        self.num_workers = (default_workers(game, num_envs) if num_workers is None
                            else whole("num_workers", num_workers, 0, num_envs, " (num_envs)"))
        if self.num_workers > 0:
            _unguarded_main()
        self.on_worker_death = on_worker_death
        self.worker_restarts = 0
        self.base_seed = seed = _seed(seed)
        self._ctx = mp.get_context(start_method or ("forkserver" if "forkserver" in methods else "spawn"))
        if self._ctx.get_start_method() == "forkserver" and self.num_workers > 0:  # W=0: no process
            prepare_workers(game)  # before the probe game: the server imports while the probe is made
        probe = make_game(game, num_envs=1, **self.game_kwargs)
        self.num_envs = num_envs
        self.action_names = probe.ACTION_NAMES
        # Every episode of a game reports the same figures; the probe names them (figure_names: of no board).
        # r, l, t as SB3's Monitor gives them (t: seconds since this env was made), then the game's figures.
        # A figure named r, l or t keeps its value (the later key wins), which ep_rew_mean / ep_len_mean read.
        try:
            keys = (*FIGURES, "t", *probe.figure_names())  # t: the parent's alone
        finally:
            probe.close()
        self._episode_record = record_maker(keys)
        self._shared = Shared(self._ctx, num_envs, probe.observation_space.shape, keys[3:])
        self._t_start = time.time()
        self._closed = False
        self._needs_reset = True  # until the first reset() the boards hold no episode to step
        self._actions_given = False  # step_async gave actions that no step_wait or reset has used since
        # The observations the last reset() or step_wait() returned: a dead worker's boards' last frames
        # (the worker may have died halfway through writing the shared ones).
        self._last_obs = self._shared.obs.copy()
        self._blank_infos: list[dict[str, Any]] = [{} for _ in range(num_envs)]
        w = max(self.num_workers, 1)
        bounds = np.linspace(0, num_envs, w + 1).round().astype(int)
        self._slices = [(int(bounds[i]), int(bounds[i + 1])) for i in range(w)]
        self._local: Boards | None = None
        self._procs: list[Any] = []
        self._conns: list[Connection] = []
        self._cut: set[int] = set()  # workers restarted since the last step: their boards' episodes were cut
        self._call_id = 0  # numbers each command; a worker's reply names the one it answers (see _call_all)
        # What set_attr gave each worker's game: a restarted worker's game gets it before its boards reset.
        self._attrs: list[dict[str, Any]] = [{} for _ in self._slices]
        self._reset_counts = self._shared.episodes.copy()
        if self.num_workers == 0:
            self._local = Boards(make_game(game, num_envs=num_envs, **self.game_kwargs), self._shared,
                                  0, num_envs, seed)
        else:
            try:  # all launched before any is awaited: their emulators boot and kernels load side by side
                for w_i in range(self.num_workers):
                    self._launch_worker(w_i, fresh_start=False)
                for w_i in range(self.num_workers):
                    self._await_start(w_i)
            except BaseException:  # the workers already started would outlive a constructor that failed
                self.close()
                raise
        # The seed the next reset() applies (SB3's VecEnv.seed semantics): the first reset's, or seed()'s.
        # Until then autoresets go on seeding from base_seed and the episode counts, so no seed repeats.
        self._next_seed: int | None = seed
        super().__init__(num_envs, probe.observation_space, probe.action_space)
        # SB3's VecVideoRecorder reads the frame rate here (30 fps when missing): the single env's one.
        self.metadata["render_fps"] = GameEnv.metadata["render_fps"]

    def __getstate__(self) -> NoReturn:
        # Pickle named a lambda of the env's own "on __main__", deepcopy its shared memory (mmap), and a
        # shallow copy shared the workers that either copy's close() stopped.
        raise TypeError(f"a GameVecEnv ({self.game_name!r}) cannot be pickled or copied: it holds worker "
                        "processes and shared memory; make another with envs.make_vec (same game, options "
                        "and seed) and, after its reset(), give its boards these ones' "
                        "env_method('get_state') through env_method('set_state', ...)")

    # -- workers -------------------------------------------------------------------------------
    def _start_worker(self, w: int, fresh_start: bool) -> None:
        """Restart worker ``w`` (``_worker_died``). A failure is the stop where a stop signal came meanwhile:
        the job's SIGTERM reaches its processes one by one, so a worker (and the fork server) dead of it may
        be noticed before this process's own signal comes, and the restart fail after it."""
        try:
            self._launch_worker(w, fresh_start)
            self._await_start(w)
        except Exception:
            stop_point()
            raise

    def _launch_worker(self, w: int, fresh_start: bool) -> None:
        lo, hi = self._slices[w]
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=worker_main, name=f"depthfirst-{self.game_name}-worker{w}", daemon=True,
            args=(child, self.game_name, self.game_kwargs, self._attrs[w], self._shared, lo, hi,
                  self.base_seed, fresh_start, self._cwd))
        with _unrunnable_main_hidden():  # the preparation data names the main script at start()
            proc.start()
        child.close()
        if w < len(self._procs):  # a restart
            self._procs[w], self._conns[w] = proc, parent
        else:
            self._procs.append(proc)
            self._conns.append(parent)

    def _await_start(self, w: int) -> None:
        """Worker ``w``'s start reply, or raise naming it."""
        proc, parent = self._procs[w], self._conns[w]
        if not parent.poll(_START_TIMEOUT_S):
            proc.kill()  # it may be stuck in C code (an emulator booting), deaf to SIGTERM
            raise WorkerDiedError(f"worker {w} did not start within {_START_TIMEOUT_S:.0f}s")
        try:
            _, status, payload = parent.recv()
        except EOFError as e:
            proc.join(1.0)  # reaped, so its exit code is known (the pipe closes a moment before)
            if proc.exitcode == _UNGUARDED_MAIN_EXIT:
                raise WorkerDiedError(f"worker {w} died while starting: {_UNGUARDED_MAIN_ADVICE}") from None
            raise WorkerDiedError(f"worker {w} died while starting (exit code {proc.exitcode})") from e
        if status != "ok":
            _raise(f"worker {w} failed to start {self.game_name!r}", status, payload)

    def _call_all(self, cmd: str, data: Any = None, workers: Iterable[int] | None = None,
                  retry: bool = True) -> dict[int, Any]:
        """Send ``cmd`` to workers and gather replies, noticing dead workers within ``_POLL_S`` (see
        ``_worker_died``; ``retry=False``: a death raises, as in a command already retried). In process
        (``W=0``) the one game answers as worker 0, whatever ``workers`` says."""
        self._check_open()  # else the closed workers look dead and get restarted, outliving the env
        if self._local is not None:
            return {0: self._in_process(self._local, cmd, data)}
        targets = list(range(self.num_workers)) if workers is None else list(workers)
        self._call_id += 1
        call = self._call_id
        for w in targets:
            with contextlib.suppress(BrokenPipeError, OSError):  # a dead worker is noticed below
                self._conns[w].send((call, cmd, data))
        results: dict[int, Any] = {}
        # Failures are handled (restarted, raised) once every other worker has answered: until then one may
        # still be writing the shared buffers the next command reads.
        failed: dict[int, tuple[str, Any]] = {}  # worker: (status, payload) as _failed takes them
        pending = {self._conns[w]: w for w in targets}
        silent_polls = 0  # polls that ended with no reply: each waited _POLL_S
        while pending:
            ready = wait(list(pending), timeout=_POLL_S)
            for conn in ready:
                try:
                    answered, status, payload = conn.recv()  # type: ignore[union-attr]
                except (EOFError, OSError):
                    answered, status, payload = call, "died", None
                if answered != call:  # the late answer to a call a KeyboardInterrupt cut short: skipped
                    continue
                w = pending.pop(conn)  # type: ignore[arg-type]
                if status == "ok":
                    results[w] = payload
                else:
                    failed[w] = status, payload
            for conn, w in list(pending.items()):
                if not self._procs[w].is_alive():
                    del pending[conn]
                    failed[w] = "died", None
            if ready or not pending or self.hang_timeout_s is None:
                continue
            silent_polls += 1
            if silent_polls * _POLL_S < self.hang_timeout_s:
                continue
            for conn, w in list(pending.items()):  # hung: alive, yet silent all this time
                del pending[conn]
                self._procs[w].kill()  # SIGKILL: a process stuck in C code may not heed SIGTERM
                self._procs[w].join(timeout=5.0)
                failed[w] = "hung", silent_polls * _POLL_S
        failure: Exception | None = None  # the first, raised once every failed worker is handled
        for w, (status, payload) in failed.items():
            try:
                results[w] = self._failed(w, cmd, data, status, payload, retry)
            except Exception as e:
                failure = failure or e
        if failure is not None:
            if cmd == "step":  # workers restarted in it: their boards' cut episodes go to the next step
                self._cut.update(w for w, ended in results.items() if ended == _RESTARTED)
            raise failure
        return results

    @staticmethod
    def _in_process(local: Boards, cmd: str, data: Any) -> Any:
        """``local``'s answer to ``cmd`` with a Ctrl-C during it held until it is done, as a worker finishes
        a command whose wait a Ctrl-C cut short: raised halfway through a step (after the game's kernel),
        it left the ended boards never restarted (0 and neither flag for ever, silently) and the others'
        running totals a step short. A second Ctrl-C stops it at once (a game step that never returns)."""
        previous = signal.getsignal(signal.SIGINT)
        # Only the main thread runs (and may set) handlers; SIGINT ignored, or ending the process: no hold.
        if not callable(previous) or threading.current_thread() is not threading.main_thread():
            return local.handle(cmd, data)
        held: list[Any] = []  # the held Ctrl-C's frame

        def hold(signum: int, frame: Any) -> None:
            if not held:
                held.append(frame)
                return
            held.clear()  # delivered now, not again once the command ends
            previous(signum, frame)

        signal.signal(signal.SIGINT, hold)
        try:
            return local.handle(cmd, data)
        finally:
            signal.signal(signal.SIGINT, previous)
            if held:
                previous(signal.SIGINT, held[0])

    def _failed(self, w: int, cmd: str, data: Any, status: str, payload: Any, retry: bool) -> Any:
        """Worker ``w`` died, hung (``payload``: for how many seconds) or answered ``cmd`` with an error:
        its result after a restart, or raise."""
        if status in ("died", "hung"):
            return self._worker_died(w, cmd, data, retry, hung_s=payload)
        _raise(f"worker {w} failed on {method_name(cmd)!r}", status, payload)

    def _worker_died(self, w: int, cmd: str, data: Any, retry: bool, hung_s: float | None = None) -> Any:
        """Raise, or restart worker ``w`` (dead, or killed after ``hung_s`` seconds' silence) and answer
        ``cmd`` for it.

        A step reports its boards' episodes as cut. A reset is sent again to the new worker, which
        resets its boards as the lost one would have. Any other command (``env_method``, ``get_attr``,
        ``set_attr``) is sent again too and answers for the new boards, whose cut episodes the next
        step reports. A worker that dies again while retrying raises.

        Not once a stop signal came (``agents.interrupts``): ``timeout``, Slurm's time limit and ``kill -TERM
        -- -PGID`` send SIGTERM to every process of the job, so the workers (and their fork server) die of the
        signal that stops the run, and their restart failed in a traceback before the stop saved a
        checkpoint. The stop is raised here instead, as at any stop point."""
        stop_point()
        proc = self._procs[w]
        proc.join(timeout=1.0)
        lo, hi = self._slices[w]
        boards = f"env {lo}" if hi - lo == 1 else f"envs {lo}-{hi - 1}"  # the Game Boy: one a worker
        what = f"worker {w} (pid {proc.pid}, {boards})"
        method = method_name(cmd)
        if hung_s is None:
            what += f" died with exit code {proc.exitcode}"
            if cmd != "step":
                what += f" during {method!r}"
        else:
            what += f" hung: no answer to {method!r} for {hung_s:g} s, so it was killed"
        if self.on_worker_death == "raise" or not retry:
            raise WorkerDiedError(what + ("" if retry else " right after a restart"))
        self.worker_restarts += 1
        log.warning("%s; restarting it, its boards start new episodes", what)
        if cmd == "reset":  # from the episode counts the lost reset started from: the same seeds
            self._shared.episodes[lo:hi] = self._reset_counts[lo:hi]
            self._start_worker(w, fresh_start=False)
            return self._call_all(cmd, data, workers=[w], retry=False)[w]
        self._start_worker(w, fresh_start=True)
        if cmd == "step":
            return self._cut_short(w)
        self._cut.add(w)
        try:
            return self._call_all(cmd, data, workers=[w], retry=False)[w]
        except WorkerDiedError:
            # Dead again: the next step finds it so, restarts it and reports the cut episodes then, once.
            # Left in _cut, that step reported them and the step after cut the new boards a second time.
            self._cut.discard(w)
            raise

    def _cut_short(self, w: int) -> int:
        """Step results for worker ``w``'s boards, whose episodes its death cut short."""
        sh = self._shared
        lo, hi = self._slices[w]
        # Every board ended, so the compact rows are the boards; the new worker writes none of them.
        sh.terminal_obs[lo:hi] = self._last_obs[lo:hi]
        sh.reward[lo:hi] = 0.0
        sh.terminated[lo:hi] = False
        sh.truncated[lo:hi] = True
        return _RESTARTED

    # -- VecEnv API ----------------------------------------------------------------------------
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Set the base seed the next ``reset()`` applies (board k's first episode gets ``seed + k``);
        steps before that reset go on with the current seeds, as in SB3's VecEnvs. No seed: one drawn
        from NumPy's global generator, as SB3's ``VecEnv.seed`` draws it."""
        self._next_seed = _seed(seed)
        return [self._next_seed + k for k in range(self.num_envs)]

    def set_options(self, options: list[dict] | dict | None = None) -> None:
        """SB3's ``VecEnv.set_options``. The games take no reset options, so only none (``None``, ``{}``
        or a list of empty dicts) is accepted; anything else raises instead of being ignored. A game's
        options are set when the env is made (``game_kwargs``, or ``make_vec(name, n, **options)``)."""
        if options is None or isinstance(options, dict):
            given = [options]
        elif isinstance(options, (list, tuple)):
            given = list(options)
        else:  # no options at all: 5 was a bare "'int' object is not iterable" TypeError, and 0 passed
            given = [True]
        if any(given):
            raise ValueError(f"{self.game_name!r} takes no reset options, got {options!r}; a game's options "
                             f"are set when the env is made: GameVecEnv({self.game_name!r}, num_envs, "
                             "game_kwargs={...}) or make_vec(name, num_envs, **options)")
        super().set_options(options)

    def reset(self) -> np.ndarray:
        seed = self._next_seed
        if seed is not None:
            self._shared.episodes[:] = 0
        self._reset_counts = self._shared.episodes.copy()  # a worker dying in the reset starts from them
        self._call_all("reset", seed)
        self._needs_reset = False
        self._actions_given = False  # a step_async's actions were for the observations before the reset
        self._cut.clear()  # every board starts anew
        if seed is not None:  # a worker restarted from now on seeds as the others do
            self.base_seed, self._next_seed = seed, None
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._last_obs = self._shared.obs.copy()
        return self._last_obs

    def step_async(self, actions: np.ndarray) -> None:
        if self._needs_reset:  # one check per step; the boards stepped empty (Snake: all zeros, no error)
            self._refuse_step()
        self._shared.actions[:] = checked_actions(actions, self.num_envs, self.action_names)
        self._actions_given = True

    def _check_open(self) -> None:
        if self._closed:
            raise VecEnvClosedError(f"this GameVecEnv ({self.game_name!r}) is closed; make a new one")

    def _refuse_wait(self) -> NoReturn:
        if self._needs_reset:
            self._refuse_step()
        self._check_open()
        raise RuntimeError(f"step_wait() without step_async(actions) since the last step or reset: this "
                           f"GameVecEnv ({self.game_name!r}) steps only on actions given for its current "
                           "observations; call step_async(actions) first, or step(actions)")

    def _refuse_step(self) -> NoReturn:
        self._check_open()
        # Boards given states by env_method("set_state") still wait for it: it said they held no episode.
        raise ResetNeeded(f"call reset() before step(): this GameVecEnv ({self.game_name!r}) was never "
                          "reset; reset() starts every board anew, so give states by env_method('set_state', "
                          "state, indices=[i]) after it")

    def step_wait(self):
        # One check per step (step_async sets it only after a reset): called alone, step_wait stepped every
        # board again on the actions left in the buffer, or on boards holding no episode before any reset.
        if not self._actions_given:
            self._refuse_wait()
        self._actions_given = False
        sh = self._shared
        if self._cut:  # workers restarted outside a step: report their boards' cut episodes now
            ended = self._call_all("step", workers=[w for w in range(self.num_workers) if w not in self._cut])
            ended.update((w, self._cut_short(w)) for w in self._cut)
            self._cut.clear()
        else:
            ended = self._call_all("step")  # per worker: how many episodes ended, or _RESTARTED
        dones = sh.terminated | sh.truncated
        # Boards still playing share empty dicts kept from step to step (building thousands of fresh
        # ones dominated a step); should a consumer write into one, all are replaced.
        if any(self._blank_infos):
            self._blank_infos = [{} for _ in range(self.num_envs)]
        infos: list[dict[str, Any]] = self._blank_infos.copy()
        for w, count in ended.items():
            if count:
                self._episode_infos(w, count, dones, infos)
        self._last_obs = sh.obs.copy()
        return self._last_obs, sh.reward.copy(), dones, infos

    def _episode_infos(self, w: int, count: int, dones: np.ndarray, infos: list[dict[str, Any]]) -> None:
        """Fill ``infos`` for worker ``w``'s ended boards from the compact shared rows."""
        sh = self._shared
        lo, hi = self._slices[w]
        g = np.flatnonzero(dones[lo:hi]) + lo  # board order: the order the worker wrote its rows in
        n = len(g)
        terminal = list(sh.terminal_obs[lo:lo + n].copy())  # one copy; each info gets a view of it
        if count == _RESTARTED:
            # Cut short, not finished: no "episode" entry, so SB3's ep_rew_mean/ep_len_mean (like the
            # project's figures) count whole episodes only; truncated, so PPO bootstraps from the last frame.
            for gj, obs in zip(g.tolist(), terminal, strict=True):
                infos[gj] = {"terminal_observation": obs, "TimeLimit.truncated": True,
                             "worker_restarted": True}
        else:
            timeout = (sh.truncated[g] & ~sh.terminated[g]).tolist()
            r, length, *figures = sh.figures[lo:lo + n].T  # see Shared: r, l, then the game's figures
            # r rounded to 6 places as SB3's Monitor rounds it; NumPy's round (it may differ from Python's by
            # an ulp) in one call: Python's, per episode, cost 0.1 ms a step at 391 ended boards of 4,096.
            columns = [r.round(6).tolist(), length.astype(np.int64).tolist(),
                       [round(time.time() - self._t_start, 6)] * n, *(f.tolist() for f in figures)]
            episodes = map(self._episode_record, *columns)  # a short column: the strict zip refuses
            for gj, obs, truncated, episode in zip(g.tolist(), terminal, timeout, episodes, strict=True):
                infos[gj] = {"terminal_observation": obs, "TimeLimit.truncated": truncated,
                             "episode": episode}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._local is not None:  # in process the game is ours to release (emulators otherwise leak)
            self._local.game.close()
        for conn in self._conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send((0, "close", None))
        for proc in self._procs:
            proc.join(timeout=_CLOSE_GRACE_S)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=_TERM_GRACE_S)
            if proc.is_alive():  # hung where SIGTERM waits (a stopped process) or is caught: left alive,
                proc.kill()  # it hung the interpreter's exit (multiprocessing joins its children then)
                proc.join(timeout=1.0)
        # Released now, not when the env is collected: a closed env still referenced (model.env after
        # learn) otherwise kept ~3 descriptors a worker, and a loop of runs ran out of them.
        for conn in self._conns:
            conn.close()
        for proc in self._procs:
            with contextlib.suppress(ValueError):  # still alive after SIGKILL: its handle stays open
                proc.close()
        self._procs, self._conns = [], []

    def _get_indices(self, indices: VecEnvIndices) -> Iterable[int]:
        """SB3's, with one env given as any scalar: SB3 wraps an ``int`` alone, so a NumPy integer
        (np.argmax's) was "object of type 'numpy.int64' has no len()"; ``_where`` refuses a scalar that is no
        integer, naming it."""
        if isinstance(indices, np.ndarray) and indices.ndim == 0:
            indices = indices[()]
        if indices is not None and not isinstance(indices, Iterable):
            return [indices]  # type: ignore[list-item]
        return super()._get_indices(indices)

    def _where(self, indices: VecEnvIndices) -> dict[int, tuple[list[int], list[int]]]:
        """Group env indices by worker: ``{worker: (local board indices, positions in indices)}``.

        The positions put the answers back in the order asked for (grouping by worker reordered them).
        Negative indices count from the end and out-of-range ones raise IndexError, and others than integers
        TypeError, as in SB3's own VecEnvs (the worker lookup raised a bare StopIteration; 1.5 was env 1)."""
        groups: dict[int, tuple[list[int], list[int]]] = {}
        for pos, index in enumerate(self._get_indices(indices)):
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):  # np.bool_ is neither
                raise TypeError(f"env indices must be integers, got {index!r}")
            g = int(index)
            if not -self.num_envs <= g < self.num_envs:
                raise IndexError(f"env index {g} out of range for {self.num_envs} envs")
            g %= self.num_envs
            w = next(w for w, (lo, hi) in enumerate(self._slices) if lo <= g < hi)
            local, where = groups.setdefault(w, ([], []))
            local.append(g - self._slices[w][0])
            where.append(pos)
        return groups

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs
                   ) -> list[Any]:
        """Call ``game.<method_name>(board, *args, **kwargs)`` for each board (e.g. ``get_state``), answers
        in the order of ``indices``."""
        if isinstance(method_name, str) and method_name in _WHOLE_GAME_METHODS:
            raise ValueError(f"env_method({method_name!r}): env_method calls game.<method>(board, ...) once "
                             f"per board, and {method_name} acts on all of a game's boards at once (stepping "
                             "or resetting them behind this env's back puts them out of step with it): use "
                             "the env's own step(), reset() or close()")
        out: list[Any] = [None] * len(self._get_indices(indices))
        for w, (local, where) in sorted(self._where(indices).items()):
            data = (method_name, method_args, method_kwargs, local)
            answers = self._call_all("call", data, workers=[w])[w]
            for pos, answer in zip(where, answers, strict=True):
                out[pos] = answer
        return out

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of each board's game (boards of one worker share a game), in ``indices`` order."""
        out: list[Any] = [None] * len(self._get_indices(indices))
        for w, (_, where) in sorted(self._where(indices).items()):
            value = self._call_all("get_attr", attr_name, workers=[w])[w]
            for pos in where:
                out[pos] = value
        return out

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set the attribute of the games that hold the boards in ``indices``. The boards of one worker
        (all boards with ``num_workers=0``) share a game, so ``indices`` must name all of a worker's boards
        or none: a part is refused before anything is set (it used to set the others silently too). A game
        setting (``Setting``: ``max_steps``, ``starvation``...) is first checked by every worker's game, so
        a value that any of them refuses raises its ValueError with none changed (a worker set before
        another refused kept it)."""
        groups = self._where(indices)
        for w, (local, _) in groups.items():
            lo, hi = self._slices[w]
            if len(set(local)) != hi - lo:
                share = ("all envs share one game (num_workers=0)" if self._local is not None
                         else f"envs {lo}-{hi - 1} share one game (worker {w})")
                raise ValueError(f"set_attr({attr_name!r}) for some of envs {lo}-{hi - 1}: {share}, so it is "
                                 "set for all of them or none; give indices=None or whole workers' envs")
        self._call_all("check_attr", (attr_name, value), workers=sorted(groups))
        for w in sorted(groups):
            self._call_all("set_attr", (attr_name, value), workers=[w])
            self._attrs[w][attr_name] = value

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """True only for SB3's ``Monitor``: the infos carry its ``episode`` entries (``r``, ``l``), so
        ``evaluate_policy`` reads whole-episode returns from them instead of warning and summing rewards.
        One answer per index; ``indices`` are checked as ``env_method``'s (an env 5 of 3 was answered)."""
        from stable_baselines3.common.monitor import Monitor

        count = sum(len(where) for _, where in self._where(indices).values())
        return [wrapper_class is Monitor] * count

    def get_images(self) -> Sequence[np.ndarray | None]:
        return self.env_method("render")

    def worker_pids(self) -> list[int]:
        """The worker processes' pids (none in process, or once closed)."""
        return [p.pid for p in self._procs]
