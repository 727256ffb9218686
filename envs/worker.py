"""The worker side of ``envs.vector``: shared step buffers and the loop a worker process runs.

Kept apart from ``envs.vector`` so a worker imports only NumPy, Numba and the game, not
stable-baselines3 or torch (seconds per worker otherwise).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import pickletools
import signal
import traceback
import warnings
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded

from agents.startup import HANGUP
from envs import make_game
from envs.base import Game

#: What a terminal sends to every process of its job: Ctrl-C's SIGINT, and the SIGHUP a shell passes on when
#: the terminal closes (none on Windows). The training process, or export, decides what to save and when to
#: stop its workers, which ignore them.
JOB_STOP_SIGNALS = (signal.SIGINT, *HANGUP)

FIGURES = ("r", "l")  # the figures of every ended episode ahead of its game's own (see Shared)
_METHOD_OF = {"call": "env_method", "check_attr": "set_attr"}


def method_name(cmd: str) -> str:
    """The VecEnv method a user called that sent worker command ``cmd``: what errors name."""
    return _METHOD_OF.get(cmd, cmd)


class Shared:
    """The step buffers, allocated in shared memory so workers write them in place.

    Ended episodes fill ``terminal_obs`` and ``figures`` compactly: worker [lo, hi) writes its k-th
    ended board (in board order) into row lo + k, so the parent reads contiguous rows. ``figures`` holds
    ``FIGURES`` (the episode's return and length, as SB3's Monitor names them), then ``figure_keys``.
    ``ep_return`` and ``ep_length`` are each board's running totals, kept by the boards' own worker."""

    def __init__(self, ctx: Any, num_envs: int, obs_shape: tuple[int, ...], figure_keys: tuple[str, ...]
                 ) -> None:
        self.num_envs, self.obs_shape, self.figure_keys = num_envs, obs_shape, (*FIGURES, *figure_keys)
        size = int(np.prod(obs_shape))
        layout = {  # name: (typecode, length); the typecodes are NumPy's too
            "obs": ("B", num_envs * size), "terminal_obs": ("B", num_envs * size),
            "figures": ("d", num_envs * (len(FIGURES) + len(figure_keys))), "actions": ("q", num_envs),
            "reward": ("f", num_envs), "terminated": ("B", num_envs), "truncated": ("B", num_envs),
            "episodes": ("q", num_envs), "ep_return": ("d", num_envs), "ep_length": ("q", num_envs),
        }
        try:
            self.raw = {name: ctx.RawArray(code, length) for name, (code, length) in layout.items()}
        except (OSError, MemoryError):  # the shared-memory file or the address space ran out
            need = sum(np.dtype(code).itemsize * length for code, length in layout.values()) / 2**30
            raise ValueError(f"num_envs {num_envs:,}: the step buffers need {need:,.1f} GiB of shared "
                             "memory, more than this machine gives; use a smaller --num-envs") from None
        self.views()

    def views(self) -> None:
        n, shape = self.num_envs, self.obs_shape
        r = self.raw
        self.obs = np.frombuffer(r["obs"], dtype=np.uint8).reshape(n, *shape)
        self.terminal_obs = np.frombuffer(r["terminal_obs"], dtype=np.uint8).reshape(n, *shape)
        self.figures = np.frombuffer(r["figures"], dtype=np.float64).reshape(n, len(self.figure_keys))
        self.actions = np.frombuffer(r["actions"], dtype=np.int64)
        self.reward = np.frombuffer(r["reward"], dtype=np.float32)
        self.terminated = np.frombuffer(r["terminated"], dtype=np.bool_)
        self.truncated = np.frombuffer(r["truncated"], dtype=np.bool_)
        self.episodes = np.frombuffer(r["episodes"], dtype=np.int64)
        self.ep_return = np.frombuffer(r["ep_return"], dtype=np.float64)
        self.ep_length = np.frombuffer(r["ep_length"], dtype=np.int64)

    def __getstate__(self) -> dict[str, Any]:
        return {"num_envs": self.num_envs, "obs_shape": self.obs_shape, "figure_keys": self.figure_keys,
                "raw": self.raw}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.views()


class Boards:
    """One game's slice ``[lo, hi)`` of the vector env; the same code runs in a worker or in process."""

    def __init__(self, game: Game, shared: Shared, lo: int, hi: int, base_seed: int) -> None:
        self.game, self.shared, self.lo, self.hi = game, shared, lo, hi
        self.base_seed = base_seed
        self.obs = shared.obs[lo:hi]  # games draw straight into shared memory: no copy per step
        self.ep_return, self.ep_length = shared.ep_return[lo:hi], shared.ep_length[lo:hi]

    def _seeds(self, local: np.ndarray) -> np.ndarray:
        sh = self.shared
        g = local + self.lo
        # uint64 arithmetic wraps instead of overflowing for any seed.
        seeds = (np.uint64(self.base_seed % (1 << 64)) + g.astype(np.uint64)
                 + sh.episodes[g].astype(np.uint64) * np.uint64(sh.num_envs))
        sh.episodes[g] += 1
        return seeds

    def _restart(self, local: np.ndarray) -> None:
        """New episodes on boards ``local``. Their running totals are zeroed here, with the boards, not
        when the parent reads the ended episodes: a step whose answer it never read (cut short by Ctrl-C
        or a failing worker) added the lost episodes' part to the next ones' ``r`` and ``l``. Zeroed
        first: a Ctrl-C inside the game's reset then loses no more than the ended episode."""
        self.ep_return[local] = 0.0
        self.ep_length[local] = 0
        self.game.reset(local, self._seeds(local))

    def reset(self) -> None:
        self._restart(np.arange(self.hi - self.lo))
        self.game.observe(self.obs)

    def step(self) -> int:
        """One step of every board; returns how many episodes ended. Their last observations and
        figures are in the shared rows ``lo``, ``lo + 1``, ... (see ``Shared``); they start anew."""
        sh, lo, hi = self.shared, self.lo, self.hi
        reward, terminated, truncated = self.game.step(sh.actions[lo:hi])
        sh.reward[lo:hi] = reward
        sh.terminated[lo:hi] = terminated
        sh.truncated[lo:hi] = truncated
        self.ep_return += reward
        self.ep_length += 1
        done = np.flatnonzero(terminated | truncated)
        n = len(done)
        if n:
            self.game.observe(sh.terminal_obs[lo:lo + n], done)
            figures = {"r": self.ep_return[done], "l": self.ep_length[done], **self.game.episode_infos(done)}
            for j, key in enumerate(sh.figure_keys):
                sh.figures[lo:lo + n, j] = figures[key]
            self._restart(done)
        self.game.observe(self.obs)
        return n

    def _set_state(self, i: int, state: Any) -> None:
        """``game.set_state(i, state)``, refusing a finished episode's state with board ``i`` put back: an
        ended board reports 0 and neither flag until it is reset, and only a step that ends a board resets
        it here, so such a board never ended nor restarted. (A board never reset is left holding it: the
        env steps nothing before its reset(), which starts every board anew.)"""
        before = self.game.get_state(i) if self.game._started(i) else None
        self.game.set_state(i, state)
        if self.game.get_state(i)["done"]:  # as the game took it (Rotation's state may leave done out)
            if before is not None:
                self.game.set_state(i, before)
            raise ValueError(f"env {self.lo + i}: that episode has ended (its state is done), so the board "
                             "would never end nor restart; set a state still playing (board put back)")

    def handle(self, cmd: str, data: Any) -> Any:
        if cmd == "step":
            return self.step()
        if cmd == "reset":
            if data is not None:
                self.base_seed = data
            self.reset()
            return None
        if cmd == "call":
            name, args, kwargs, local = data
            out = []
            for i in local:
                try:
                    if name == "set_state":
                        out.append(self._set_state(i, *args, **kwargs))
                        continue
                    out.append(getattr(self.game, name)(i, *args, **kwargs))
                except ResetNeeded:  # the game names its own board i: name the vector env's
                    raise ResetNeeded(f"env {self.lo + i} holds no episode yet: call reset() (or "
                                      f"env_method('set_state', state, indices=[{self.lo + i}])) before "
                                      f"{name}") from None
            return out
        if cmd == "get_attr":
            return getattr(self.game, data)
        if cmd == "check_attr":  # set_attr's first round: the game's ValueError for a bad setting
            self.game.check_setting(*data)
            return None
        if cmd == "set_attr":
            setattr(self.game, data[0], data[1])
            return None
        raise ValueError(f"unknown worker command {cmd!r}")


def worker_main(conn: Connection, game: str, game_kwargs: dict[str, Any], attrs: dict[str, Any],
                shared: Shared, lo: int, hi: int, base_seed: int, fresh_start: bool, cwd: str) -> None:
    """``cwd``: the folder the env was made in, where relative paths (a ROM, a start state) are read. A
    worker starts in the parent's current folder: one restarted after the parent changed folder (os.chdir,
    a notebook's %cd) looked for them there and failed to start."""
    for s in JOB_STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # a folder removed since: its relative paths fail, named, below
        os.chdir(cwd)
    # A parent that stopped (a Ctrl-C while this worker started) reads no answer: leave without a traceback.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        _serve(conn, game, game_kwargs, attrs, shared, lo, hi, base_seed, fresh_start)


def _serve(conn: Connection, game: str, game_kwargs: dict[str, Any], attrs: dict[str, Any], shared: Shared,
           lo: int, hi: int, base_seed: int, fresh_start: bool) -> None:
    game_obj: Game | None = None
    try:
        with warnings.catch_warnings():  # the parent built the same game first and showed its warnings
            warnings.simplefilter("ignore")
            game_obj = make_game(game, num_envs=hi - lo, **game_kwargs)
        set_attrs(game_obj, attrs)  # what set_attr gave the worker this one replaces
        boards = Boards(game_obj, shared, lo, hi, base_seed)
        if fresh_start:
            boards.reset()  # a restarted Game Boy worker's reset may find its archive damaged
        conn.send((0, "ok", None))  # 0: no command's number (the env numbers them from 1)
    except Exception as e:
        reply = _error_reply(e)  # its traceback, taken before close() can raise another
        if game_obj is not None:  # its emulators stopped cleanly, as on "close" (they were left running)
            with contextlib.suppress(Exception):  # the start's error is the one to report
                game_obj.close()
        conn.send((0, *reply))
        return
    while True:
        try:
            message = conn.recv_bytes()  # as conn.recv() reads it, unpickled below
        except EOFError:  # the parent is gone (no Ctrl-C reaches here: worker_main ignores SIGINT)
            return
        try:
            call, cmd, data = pickle.loads(message)
        except Exception as e:
            # A value the parent pickled that this process cannot load (an object of a class defined in a
            # notebook or `python -c`): raised from recv, it killed the worker, which was restarted, died
            # again on the resent command, and the call blamed a worker death. Refused as the call's error.
            conn.send(_unreadable(message, e))
            continue
        if cmd == "close":
            try:  # stop the game's emulators cleanly (PyBoy) before the process exits
                boards.game.close()
            finally:
                conn.close()
            return
        try:  # the reply names the call it answers: the parent skips one to a call it gave up on
            conn.send((call, "ok", boards.handle(cmd, data)))
        except Exception as e:  # an AttributeError too: raised as itself, VecEnv.has_attr relies on that
            conn.send((call, *_error_reply(e)))


def set_attrs(game: Game, attrs: dict[str, Any]) -> None:
    """Set ``attrs`` on ``game`` in an order its settings take them. Each was checked against the values
    of its time, so one checked against another (press_frames < step_frames) may be refused against the
    new game's default until that other is set: those are set again after the rest. The final values fit
    together, so a round that sets nothing means a value no order takes: its ValueError is raised."""
    pending = dict(attrs)
    while pending:
        refused: dict[str, Any] = {}
        error: ValueError | None = None
        for name, value in pending.items():
            try:
                setattr(game, name, value)
            except ValueError as e:
                refused[name], error = value, error or e
        if error is not None and len(refused) == len(pending):
            raise error
        pending = refused


def _unreadable(message: bytes, e: Exception) -> tuple[Any, str, Any]:
    """The reply to a command whose values this worker could not unpickle: a TypeError naming the command
    and why, as the answer to that call. Its number and name are the first two items of the pickled
    ``(call, cmd, data)``, read from the opcodes without loading ``data``."""
    items = (arg for op, arg, _ in pickletools.genops(message) if op.name not in ("PROTO", "FRAME")
             and arg is not None)  # PROTO's and FRAME's are the pickle's own; MEMOIZE has none
    call, cmd = next(items), next(items)
    try:
        raise TypeError(f"the worker could not load the values of {method_name(cmd)!r} "
                        f"({type(e).__name__}: {e}): a value sent to workers must unpickle there, so its "
                        "class must be importable in a new process (one defined in a notebook, an "
                        "interactive session or `python -c` is not); define it in a module, or use "
                        "num_workers=0") from None
    except TypeError as error:
        return (call, *_error_reply(error))


def _error_reply(e: Exception) -> tuple[str, Any]:
    """The error and this worker's traceback, for the parent to raise it as itself, as in process (a game's
    ValueError from ``set_state``, a ``ResetNeeded``, a Game Boy ``ArchiveError``): it came as a
    RuntimeError holding the traceback, so ``except ValueError`` caught it only with ``num_workers=0``. An
    error that does not survive pickling comes as the traceback alone."""
    tb = traceback.format_exc()
    try:
        pickle.loads(pickle.dumps(e))
    except Exception:
        return "error", tb
    return "raise", (e, tb)
