"""Assemble and run PPO: the logic behind ``scripts/train_ppo.py`` (kept here so tests import it)."""

from __future__ import annotations

import os
import re
import shlex
import sys
import traceback
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stable_baselines3 import PPO
from stable_baselines3.common.logger import Logger, configure
from stable_baselines3.common.save_util import json_to_data
from tensorboard.compat.proto.event_pb2 import Event, SessionLog

import envs
from agents.buffers import DeviceRolloutBuffer, stop_between_minibatches
from agents.callbacks import (
    CheckpointCallback,
    EventsNotWritten,
    GameStatsCallback,
    MetricsCallback,
    MilestonesNotWritten,
    ProgressCallback,
    StopCallback,
    VideoCallback,
    events_not_written,
    guard_events,
    quiet_event_writer_threads,
    tensorboard_writers,
)
from agents.cli import interpreter_options, pythonpath_set
from agents.config import DEFAULTS, file_kind
from agents.evaluation import eval_kwargs
from agents.interrupts import (
    settled,
    stop_at_safe_points,
    stop_point,
    stop_signals_interrupt,
    uninterruptible,
)
from agents.machine import gpu_alloc_failed, memory_refused, out_of_memory
from agents.policies import count_params, policy_kwargs
from agents.presets import policy_label
from agents.runs import (
    CHECKPOINT_ERRORS,
    ENV_ATTR,
    CheckpointNotWritten,
    RunError,
    checkpoints,
    has_saved_model,
    latest_checkpoint,
    no_file_refusal,
    not_a_flag,
    other_model,
    restart_command,
    save_checkpoint,
    saved_step,
    trained_env,
    untagged_note,
    write_run_files,
)
from agents.selfplay import SelfPlayCallback, no_snapshot_warning, uses_self_play
from envs import make_vec
from envs.gameboy.archive import ArchiveError
from envs.vector import WorkerDiedError

_ENVS = Path(envs.__file__).parent  # where a game's own frames lie, in a traceback


def algorithm(cfg: dict[str, Any]) -> type:
    if cfg.get("recurrent"):
        from sb3_contrib import RecurrentPPO

        return RecurrentPPO
    return PPO


# SB3's Adam (eps 1e-5, its PPO default) as one fused kernel: on a CPU its per-tensor loop took 60 ms a step
# for the 10m policy's 10M parameters, 7 ms fused (1.3 vs 0.5 ms for tiny); the same update, one pass.
FUSED_ADAM = {"eps": 1e-5, "fused": True}
#: A model attribute (saved with it) set on a checkpoint saved at a stop inside a rollout: see _save_stop
ROLLOUT_CUT = "depthfirst_rollout_cut"


def build_model(cfg: dict[str, Any], venv: Any) -> Any:
    kwargs = {**policy_kwargs(cfg["policy"], cfg["env"]), "optimizer_kwargs": FUSED_ADAM}
    if cfg.get("recurrent"):
        # sb3-contrib's recurrent buffer keeps observations in their own dtype (uint8) on the host.
        model = algorithm(cfg)("CnnLstmPolicy", venv, policy_kwargs=kwargs, device=cfg["device"],
                               seed=cfg["seed"], **cfg["ppo"])
    else:
        model = PPO("CnnPolicy", venv, policy_kwargs=kwargs, rollout_buffer_class=DeviceRolloutBuffer,
                    device=cfg["device"], seed=cfg["seed"], **cfg["ppo"])
    setattr(model, ENV_ATTR, cfg["env"])
    return model


def stop_inside_lstm_steps(policy: Any) -> None:
    """Stop points (``agents.interrupts``) at each call of a recurrent policy's LSTMs, and at each one's
    gradient in the backward pass: a RecurrentPPO minibatch steps its LSTMs once per step of its padded
    sequences (128 a rollout) where it holds an episode's start (else once per sequence), and one of 1,024
    samples took 20-40 s with the CPU defaults on two busy cores, which a stop between minibatches waited
    for. Raised there, the stop skips that minibatch's optimizer step: the weights are the last step's.
    Hooks on the modules, not a copy of sb3-contrib's train loop; a plain PPO policy has no LSTM and gets
    none."""
    for lstm in (getattr(policy, "lstm_actor", None), getattr(policy, "lstm_critic", None)):
        if lstm is not None:
            lstm.register_forward_hook(_stop_point_there_and_back)


def _stop_point_there_and_back(module: Any, args: Any, output: Any) -> None:
    stop_point()
    hidden = output[0]
    if hidden.requires_grad:  # the update's forward, not a rollout's or a video's
        hidden.register_hook(lambda grad: stop_point())


class AlgorithmMismatch(RunError):
    """A checkpoint saved by a run with --recurrent loaded by one without it, or the reverse."""


class SpaceMismatch(RunError):
    """A checkpoint whose observation or action space is not the one its env (made from config.yaml) gives."""


class PickledElsewhere(RunError):
    """A checkpoint whose pickled objects this installation cannot unpickle: another Python, NumPy, SB3,
    gymnasium or depthfirst version saved it."""


class EnvMismatch(RunError):
    """A checkpoint trained on another env than the run's config.yaml names (gameboy for pokemon_red)."""

    def __init__(self, message: str, trained_on: str) -> None:
        super().__init__(message)
        self.trained_on = trained_on


class TrainingStopped(RunError):
    """Training stopped on a failure it handles (the envs, milestones.json) after trying to save.
    ``resumable``: the run has a checkpoint, and the message names the ``--resume`` that continues it."""

    def __init__(self, message: str, resumable: bool) -> None:
        super().__init__(message)
        self.resumable = resumable


class _NoOptimizer:
    """The optimizer of a model loaded to play: it is never stepped, and building a torch optimizer imports
    torch._dynamo (about 2 s, a fifth of a short ``evaluate.py`` here; per export worker too)."""

    def __init__(self, params: Any, **kwargs: Any) -> None:
        pass

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:  # what SB3's save asks for
        raise RunError("a model loaded to play (load_model without an env) has no optimizer to save: "
                       "load it with its env to train or save it")


def resume_settings(ppo: dict[str, Any]) -> dict[str, Any]:
    """``ppo`` (a run's resolved settings) as the attributes SB3's ``load`` sets before it builds the model's
    schedules and rollout buffer: each keyword is stored under its own name, but ``stats_window_size``."""
    return {("_stats_window_size" if key == "stats_window_size" else key): v for key, v in ppo.items()}


def load_model(cfg: dict[str, Any], path: Path, venv: Any = None, device: str | None = None,
               run: Path | None = None) -> Any:
    """Load a checkpoint; a corrupt or foreign file raises ``RunError`` naming it (and, to play, another
    model file of ``run``, the run folder).

    Without ``venv`` the model is for playing only (evaluation, export, compare): SB3's load allocates the
    rollout buffer of the run's ``n_steps × n_envs`` observations (hundreds of MB for a Game Boy run, in
    each export worker), so it is loaded with a one-step, one-env buffer and no optimizer instead; the policy
    is the same. Such a model is not to be trained or saved (its n_steps and n_envs read 1). With ``venv`` (a
    ``--resume``) only SB3's orthogonal initialisation of the weights the checkpoint replaces is skipped."""
    kind = file_kind(path)
    if kind is not None:  # a FIFO's open waits for a writer: a --resume hung without a word
        raise no_file_refusal(path, kind, run)
    try:
        with zipfile.ZipFile(path) as z:
            data = saved_data(z, path)
        saved = data["policy_kwargs"]
        # To train: refused before SB3's check of the spaces, which would blame edited env_kwargs. To play,
        # check_fits says it, once the game is checked (a bad start state is the run's to fix first).
        trained_on = trained_env(data.get(ENV_ATTR), path) if venv is not None else None
        if trained_on is not None and trained_on != cfg["env"]:
            raise EnvMismatch(f"cannot load checkpoint {path}: it was trained on {trained_on}, and this run "
                              f"trains {cfg['env']} (the env of its config.yaml)", trained_on)
        # No orthogonal initialisation of the weights the checkpoint replaces (QR decompositions: 0.6 s of
        # a 10m-preset load to play, 3.4 s of one to train on the loaded box).
        kwargs = {**saved, "ortho_init": False}
        custom: dict[str, Any] = {"policy_kwargs": kwargs}
        if venv is None:  # to play: a one-step, one-env buffer and no optimizer
            custom = {"n_steps": 1, "n_envs": 1, "policy_kwargs": {**kwargs, "optimizer_class": _NoOptimizer}}
        target = device or cfg["device"]
        # torch.load cannot restore tensors to "cpu:0", a device torch itself takes (a run may train on it):
        # the checkpoint read as "damaged". A CPU has one device, so its index is dropped.
        if isinstance(target, str) and target.partition(":")[0] == "cpu":
            target = "cpu"
        # To train (a --resume): the PPO settings of the run's config.yaml, as its env_kwargs and num_envs
        # are; the checkpoint's own took their place, while config.yaml and TensorBoard showed an edited one.
        settings = resume_settings(cfg["ppo"]) if venv is not None else {}
        model = algorithm(cfg).load(path, env=venv, device=target, custom_objects=custom, **settings)
        if venv is not None:  # the run's own settings, which its next checkpoints save for a stock PPO.load
            model.policy_kwargs = saved
            setattr(model, ENV_ATTR, cfg["env"])  # a checkpoint from before: its next ones name the env
    except (EnvMismatch, PickledElsewhere):  # RunErrors, which CHECKPOINT_ERRORS calls damaged
        raise
    except CHECKPOINT_ERRORS as e:
        if out_of_memory(e):  # not the file
            if venv is not None:  # a --resume's rollout buffer: _train says so
                raise
            # To play: on a GPU that another process (a training run) fills, say.
            other = "; free it, or use --device cpu" if gpu_alloc_failed(e) else ""
            raise RunError(f"cannot load checkpoint {path} onto {device or cfg['device']}: it does not fit "
                           f"in {memory_refused(e)}{other}") from None
        # SB3's check of the spaces against venv's (a --resume): the game settings, not the file, may be off.
        if "spaces do not match" in str(e):
            raise SpaceMismatch(f"cannot load checkpoint {path}: {type(e).__name__}: {e}") from e
        # zipfile's and SB3's own words for a file cut short ("File is not a zip file", "wasn't a zip-file")
        # do not say so; kept on one line (a torch error may span several) as the cause.
        what = "it cannot be read" if isinstance(e, OSError) else "it is damaged or cut short"
        cause = " ".join(str(e).split())
        # torch's weights-only refusal of a damaged member wraps the fault ("WeightsUnpickler error:
        # Unsupported operand 103") in advice to load it with weights_only=False, which no damaged file obeys.
        cause = re.sub(r"^Weights only load failed\..*(WeightsUnpickler error: .*?)"
                       r"( Check the documentation of torch\.load.*)?$", r"\1", cause)
        raise RunError(f"cannot load checkpoint {path}: {what} ({type(e).__name__}: {cause})"
                       f"{other_model(path, run)}") from e
    except AttributeError as e:  # RecurrentPPO.load of a plain PPO checkpoint looks for its LSTM
        other = "without" if cfg.get("recurrent") else "with"
        raise AlgorithmMismatch(f"cannot load checkpoint {path} as {algorithm(cfg).__name__}, this run's "
                                f"algorithm ({e}): was it saved by a run {other} --recurrent?") from e
    if hasattr(model.policy, "lstm_actor") and not cfg.get("recurrent"):
        # PPO.load takes an LSTM policy as it is: it would play, but be exported and resumed as a plain PPO
        # (the first rollout of a --resume failed with a TypeError traceback).
        raise AlgorithmMismatch(f"cannot load checkpoint {path} as PPO, this run's algorithm: it holds a "
                                "recurrent (LSTM) policy: was it saved by a run with --recurrent?")
    if venv is not None and not isinstance(data.get(ENV_ATTR), str):
        # Said, as its next checkpoints carry the run's env from now on: one of another game with the same
        # spaces (a gameboy one copied into a pokemon_red run) would become that game's for good.
        print(f"{untagged_note(path, cfg['env'])}, which the checkpoints resumed from it will name",
              file=sys.stderr)
    return model


# What SB3 cannot build a model without: one of these it could not unpickle, it read the file as damaged.
NEEDED_OBJECTS = ("policy_class", "policy_kwargs", "observation_space", "action_space")


def saved_data(z: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    """The SB3 data of checkpoint ``z`` (at ``path``). ``PickledElsewhere`` where an object SB3 needs cannot
    be unpickled here: a run moved from a machine with other versions (NumPy 2 pickles name ``numpy._core``,
    which NumPy 1 lacks) was called damaged (SB3 drops the object with a warning), or ended in a traceback
    (a module it cannot import); the message names the versions that differ, from its system_info.txt."""
    import warnings

    cause = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data = json_to_data(z.read("data").decode())
        except ImportError as e:
            cause = f"an object it pickled cannot be unpickled here ({type(e).__name__}: {e})"
    for w in caught:
        m = re.match(r"Could not deserialize object (\w+)\..*Exception: (.*)", str(w.message), re.S)
        if m and m.group(1) in NEEDED_OBJECTS:
            cause = f"its {m.group(1)} cannot be unpickled here ({' '.join(m.group(2).split())})"
            break
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)  # SB3's others, as they were
    if cause is None:
        return data
    from stable_baselines3.common.utils import get_system_info

    here = get_system_info(print_info=False)[0]
    try:
        there = dict(re.findall(r"^- ([^:]+): (.*?)\s*$", z.read("system_info.txt").decode(), re.M))
    except (KeyError, UnicodeDecodeError):
        there = {}
    differ = [f"{k} {v} (here {here[k]})" for k, v in there.items()
              if k in here and k not in ("OS", "GPU Enabled") and v != here[k]]
    if differ:
        saved_with = f"it was saved with {', '.join(differ)}: load it with those versions"
    elif there:
        saved_with = ("its Python, NumPy, SB3 and gymnasium are this one's, so another depthfirst version "
                      "saved it: load it with that one")
    else:  # nothing says what saved it: no versions claimed
        saved_with = ("it has no system_info.txt naming the versions that saved it: load it with the Python, "
                      "NumPy, SB3, gymnasium and depthfirst versions that did")
    raise PickledElsewhere(f"cannot load checkpoint {path}: {cause}; {saved_with}")


def hparams(cfg: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in cfg.items():
        if isinstance(v, dict):
            flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            flat[k] = v
    return {k: _hparam(v) for k, v in flat.items()}


def _hparam(value: Any) -> bool | int | float | str:
    """``value`` as TensorBoard's hparams take it. They store a number as a float: an int past a float's
    range (``--save-every`` with 400 digits) was an OverflowError traceback at the run's first log."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            return str(value)
        return value
    return value if isinstance(value, (bool, float, str)) else str(value)


def forget_after(logger: Logger, step: int) -> None:
    """Hide from TensorBoard the points a resumed run logged past ``step``, its checkpoint: after a crash
    or kill -9 the events run on past the last checkpoint, and the resumed run logs those steps again
    (a zigzag). TensorBoard drops earlier events from a session-start step on (torch's ``purge_step``);
    written twice, as the server (unlike ``EventAccumulator``) takes a run's first one for its start."""
    for writer in tensorboard_writers(logger):
        for _ in range(2):
            start = SessionLog(status=SessionLog.START)
            writer.file_writer.add_event(Event(step=step + 1, session_log=start))


def mark_session_end(logger: Logger, step: int) -> None:
    """Write the session's end into its TensorBoard events (a ``SessionLog.STOP``, which TensorBoard passes
    over): plot_curve counts a session's training time up to its last event, and a stopped session's last
    point came a rollout or an update before its Ctrl-C (minutes left out of every later point)."""
    for writer in tensorboard_writers(logger):
        writer.file_writer.add_event(Event(step=step, session_log=SessionLog(status=SessionLog.STOP)))


def resume_command(run: Path) -> str:
    """The command that continues ``run``, runnable as printed (quoted, from the folder it was started in),
    with the interpreter named as it was typed, and its options: a bare ``python`` was none on Debian and
    Ubuntu, which have only ``python3``, and another one, without the packages, where a venv's was run by its
    path; and its PYTHONPATH, as command.txt records it: a game found in a folder on it was unknown to the
    command run from a new shell."""
    script = sys.argv[0] if sys.argv and sys.argv[0].endswith("train_ppo.py") else "scripts/train_ppo.py"
    typed = sys.orig_argv[0] if sys.orig_argv else ""
    # A run named with a leading minus (--run-dir=-x) reads as a flag after --resume: ./-x does not.
    command = [typed or "python", *interpreter_options(script), script, "--resume", not_a_flag(run)]
    return pythonpath_set() + shlex.join(command)


def _unusable_archive(e: ArchiveError) -> str:
    """What is wrong with a run's archive of milestone states, and the command that moves it aside."""
    return (f"its archive of milestone states {e.folder} cannot be used ({e.reason}): move it aside (mv "
            f"{shlex.quote(str(e.folder))} {shlex.quote(str(e.folder) + '.damaged')})")


def _undo_edit(e: RunError, cfg: dict[str, Any], config: Path) -> str | None:
    """What to write back in ``config`` (the run's config.yaml, ``cfg``) for a checkpoint it mismatches,
    an edit there being the cause; None for any other refusal (a damaged checkpoint)."""
    if isinstance(e, AlgorithmMismatch):  # --resume takes no --recurrent: say what to change
        now, other, how = ("true", "false", "without") if cfg.get("recurrent") else ("false", "true", "with")
        return (f"{config} says recurrent: {now}, which --resume keeps: if this run was trained {how} "
                f"--recurrent, write recurrent: {other} back there")
    if isinstance(e, EnvMismatch):
        return f"if the env in {config} was changed since the run started, write env: {e.trained_on} back"
    if isinstance(e, SpaceMismatch):
        return (f"if the game settings (env_kwargs) in {config} were changed since the run started, put them "
                "back")
    return None


def _resume_refused(e: RunError, cfg: dict[str, Any], run: Path, ckpt: Path) -> str:
    """The refusal of a ``--resume`` of ``run`` whose checkpoint ``ckpt`` did not load (``e``), with what to
    do: undo an edit of config.yaml (``cfg``), else move the damaged file out of the way."""
    # An edited config.yaml: every checkpoint of the run was saved with the old settings and mismatches
    # alike, so no older one is offered; a new run can take the settings as they are.
    config = run / "config.yaml"
    undo = _undo_edit(e, cfg, config)
    if undo is not None:
        return (f"{e}\n{undo}; or train a new run with its settings as they are now: train_ppo.py --config "
                f"{config}")
    # Damaged: with it moved away (never deleted for the user: the file may be worth a look), --resume takes
    # the next newest checkpoint, else model.zip.
    kept = checkpoints(run)
    older = [f for _, f in kept if f != ckpt]
    move = f"move it out of the way to resume from {older[-1]}" if older else None
    if not older and ckpt.name != "model.zip" and (run / "model.zip").is_file():
        move = f"move it out of the way to resume from {run / 'model.zip'}"
    if older and saved_step(run / "model.zip") == kept[-1][0]:  # ckpt is kept[-1]
        # model.zip is the same save: with the checkpoint moved away, resume_point would refuse the older
        # one (model.zip ahead of it), so going back moves both.
        move = (f"{run / 'model.zip'} holds the same step: copy it over {ckpt.name} to resume from there, or "
                f"move both out of the way to go back to {older[-1]}")
    return f"{e}; {move or _start_again(run, 'other model file')}"


def _start_again(run: Path, lacking: str) -> str:
    """Advice for a run with nothing to resume: the command that starts it again in its folder."""
    restart = restart_command(run)
    return f"start the run again, as it has no {lacking}" + (f": {restart}" if restart else "")


def _stopped(model: Any, run: Path, keep: int, e: RunError | ArchiveError | WorkerDiedError,
             stop: str = "training stopped", save: bool = True) -> TrainingStopped:
    """The error for a run stopped by ``e``, a failure training handles: the checkpoint saved now (not
    tried again where ``e`` is the disk refusing one, nor without ``save``: nothing trained since the
    start), and the ``--resume`` that continues the run, or, with no checkpoint at all, to start it again."""
    saved, older = "", True  # older: the --resume continues from a checkpoint saved before this stop
    if save and not isinstance(e, CheckpointNotWritten):
        try:  # the model is sound: as on Ctrl-C, nothing trained is lost
            saved, older = f" (saved {_save_stop(model, run, keep, unlearned=True)})", False
        except CheckpointNotWritten as refused:  # the disk that refused milestones.json likely refuses this
            saved = f" (not saved: {refused})"
    resumable = has_saved_model(run)
    # Not the same command again: the folder it leaves (tb/, config.yaml) refuses a --run-dir without --force.
    then = (f"{'continue from its newest checkpoint' if older else 'continue'} with: {resume_command(run)}"
            if resumable else _start_again(run, "checkpoint to continue from"))
    new_archive = ", which starts a new, empty archive there" if resumable else ""
    why = (f"{_unusable_archive(e)} and {then}{new_archive}" if isinstance(e, ArchiveError) else
           f"{e}; {then}")
    return TrainingStopped(f"{stop} at step {model.num_timesteps:,}{saved}: {why}", resumable)


def _finished(model: Any, total: int) -> bool:
    """Whether a stop finds the run's work done: its steps taken and its last rollout whole, so learned
    from (a stop in that update, or as learn() returns). The steps pass ``total`` within the last
    rollout, which PPO learns from only once it is whole: a stop there was "done" with it unlearned."""
    return model.num_timesteps >= total and model.rollout_buffer.full


def _save_stop(model: Any, run: Path, keep: int, unlearned: bool = False) -> Path:
    """``save_checkpoint`` at a stop, the checkpoint saying whether a rollout was cut (``ROLLOUT_CUT``):
    one that passed --total-timesteps leaves the run unfinished, and its --resume learns one more. A whole
    rollout is ``unlearned`` where a failure stopped its update (or came as it ended): its buffer is full.
    (A failure after the last update is no stop: see ``_failed_as_it_ended``.)"""
    setattr(model, ROLLOUT_CUT, unlearned or not model.rollout_buffer.full)
    try:
        return save_checkpoint(model, run, keep)
    finally:
        setattr(model, ROLLOUT_CUT, False)  # a later save (the run's own) holds no cut rollout


def _failed_as_it_ended(failure: str) -> None:
    """Say ``failure``, which came as learn() ended, after the last update (the final video or TensorBoard
    event): the run's steps are all learned, so it is finished and saved as such. Stopped and resumed, the
    --resume learned one rollout past the total, or was refused as already there."""
    print(f"warning: {failure}, as training ended (after its last update); the run is finished",
          file=sys.stderr)


def _no_room(cfg: dict[str, Any], e: BaseException, resume: bool) -> RunError:
    """The error for a rollout buffer (``ppo.n_steps × --num-envs`` observations) that the memory refused as
    the model was built, or loaded for a ``--resume``, which keeps both."""
    fix = ("a --resume keeps both: free the memory other programs hold, or resume with another --device"
           if resume else "use a smaller --set ppo.n_steps or --num-envs")
    return RunError(f"the rollout buffer (ppo.n_steps {cfg['ppo']['n_steps']:,} × --num-envs "
                    f"{cfg['num_envs']:,} observations) does not fit in {memory_refused(e)}; {fix}")


def _failed_in(model: Any, e: BaseException) -> tuple[str | None, bool]:
    """The model's own method ``e`` was raised in (SB3's, or sb3-contrib's for --recurrent), and whether
    below it the envs were stepping (this package's envs: in process, or a worker's error raised again in
    the parent). Its own function: the frames it reads hold the failed step's tensors until it returns."""
    frames = [frame for frame, _ in traceback.walk_tb(e.__traceback__)]
    at = next((i for i, frame in enumerate(frames)
               if frame.f_code.co_name in ("_setup_learn", "collect_rollouts", "train")
               and frame.f_locals.get("self") is model), None)
    if at is None:
        return None, False
    return frames[at].f_code.co_name, any(Path(frame.f_code.co_filename).is_relative_to(_ENVS)
                                          for frame in frames[at + 1:])


def _out_of_memory(model: Any, run: Path, cfg: dict[str, Any], e: BaseException,
                   trained: bool, resume: bool) -> TrainingStopped:
    """The error for training that ran out of memory (``e``) past the checks before it, which count what
    the buffers and the network's passes hold at least, not torch's working memory: which pass, the setting
    that sizes it, and, if an update was ``trained`` since the start, the checkpoint saved now. Where the
    line offers a --resume (after such an update, or in a ``resume``d run, from the checkpoint it continued),
    that it keeps the setting. The failed step's tensors, which the traceback's frames hold, are freed before
    that save."""
    stage, in_envs = _failed_in(model, e)
    boards = f"all --num-envs {cfg['num_envs']:,} boards"
    network = True  # whether the policy's size counts too
    if stage == "_setup_learn":  # learn()'s first reset of the envs
        where, setting, network = f" as {boards} were first reset", "--num-envs", False
    elif stage == "collect_rollouts" and in_envs:
        where, setting, network = f" in a rollout step, as the games stepped {boards}", "--num-envs", False
    elif stage == "collect_rollouts":
        where, setting = (f" in a rollout step, which passes {boards} through the network at once",
                          "--num-envs")
    elif stage == "train":
        where, setting = (f" in an update step, which passes ppo.batch_size {cfg['ppo']['batch_size']:,} "
                          "observations through the network and back"), "--set ppo.batch_size"
    else:
        where, setting = "", "--num-envs, --set ppo.batch_size"
    fix = f"use a smaller {setting}" + (" or --policy" if network else "")
    if trained or resume:
        fix += " in a new run, or free the memory other programs hold: a --resume keeps them"
    message = f"out of {memory_refused(e)}{where}: {fix}"
    # Cleared, not only dropped: until the caller's except block ends, Python 3.10 keeps the handled
    # exception's traceback (sys.exc_info) apart from e, so its frames' tensors lived through the save.
    traceback.clear_frames(e.__traceback__)
    e.__traceback__ = None
    return _stopped(model, run, int(cfg["keep_checkpoints"]), RunError(message), save=trained)


def slow_preset_warning(policy: str, device_type: str, resume: bool = False) -> str | None:
    """The warning for the ``10m`` preset trained on a CPU, else None: it trains there at a twentieth or less
    of the CPU default's rate (README, Policies and PPO), which the bar alone showed. ``resume``: a resumed
    run, whose preset --resume cannot change."""
    if policy != "10m" or device_type != "cpu":
        return None
    default = DEFAULTS["cpu_policy"]
    fix = (f"resume this run on CUDA, or train a new one with --policy {default}" if resume else
           f"give --policy {default}, or train 10m on CUDA")
    return (f"warning: the 10m preset trains at about 100–280 steps/s on a CPU (on 10×10 Snake, 2 cores), "
            f"{default}, the CPU default, at thousands: {fix}")


def train(cfg: dict[str, Any], run: Path, command: str, resume: bool = False,
          progress: bool = True, trained_on: str | None = None, notes: Sequence[str] = ()) -> Any:
    """Train (or continue training) into ``run``. Ctrl-C (SIGINT) or SIGTERM saves a checkpoint and
    returns cleanly. ``trained_on``: the device a resumed run's config.yaml recorded. ``notes``: lines for
    stderr once a resumed run's checkpoint is loaded (not for a resume refused there)."""
    with stop_signals_interrupt():
        return _train(cfg, run, command, resume, progress, trained_on, notes)


def _train(cfg: dict[str, Any], run: Path, command: str, resume: bool, progress: bool,
           trained_on: str | None, notes: Sequence[str]) -> Any:
    # SB3's logger makes tb/ with exist_ok: a file or a dangling link there (lexists: exists() follows
    # links) was a FileExistsError traceback.
    if resume and os.path.lexists(run / "tb") and not (run / "tb").is_dir():
        raise RunError(f"--resume {run}: its tb is not a folder (TensorBoard's logs go there); move it away")
    keep = int(cfg["keep_checkpoints"])  # newest checkpoints every save keeps (0: all)
    total = int(cfg["total_timesteps"])  # the step the run trains to
    kwargs = dict(cfg["env_kwargs"])
    if kwargs.get("swarm") and not kwargs.get("archive_dir"):
        # Game Boy milestone states live in the run's archive/, wherever the run folder is now: kept out of
        # config.yaml, where a renamed or copied run's --resume would archive into the old folder's.
        kwargs["archive_dir"] = os.path.abspath(run / "archive")
    try:
        venv = make_vec(cfg["env"], cfg["num_envs"], num_workers=cfg["num_workers"], seed=cfg["seed"],
                        **kwargs)
    except ArchiveError as e:  # its "give a folder" is no help here: --resume takes no archive_dir
        if not resume:
            raise
        raise RunError(f"--resume {run}: {_unusable_archive(e)} and resume again, which starts a new, "
                       "empty archive there (the run's model and checkpoints are kept), or start a new run"
                       ) from None
    logger = None
    cut = False  # a resumed checkpoint's last rollout cut by a stop
    try:
        if resume:
            ckpt = latest_checkpoint(run)
            try:
                model = load_model(cfg, ckpt, venv)
            except PickledElsewhere:  # the run's other files came with it, from those versions: none loads
                raise
            except RunError as e:
                raise RunError(_resume_refused(e, cfg, run, ckpt)) from e
            except (RuntimeError, MemoryError) as e:
                if not out_of_memory(e):
                    raise
                raise _no_room(cfg, e, resume=True) from None
            # A stop in the last rollout (its steps past the total, the rollout unlearned): one more.
            cut = bool(getattr(model, ROLLOUT_CUT, False))
            setattr(model, ROLLOUT_CUT, False)
            if model.num_timesteps >= total and not cut:
                raise RunError(f"--resume {run}: the run is already at step {model.num_timesteps:,}; "
                               f"pass --total-timesteps above that to train it further")
            # SB3's load re-seeds torch, NumPy and random with the run's seed, which would replay the draws
            # its start made (sampled actions, minibatch order): seed them by the step instead.
            model.set_random_seed((int(cfg["seed"]) + model.num_timesteps) % 2**32)
            # New episodes, not a replay of the run's first ones: board k's e-th episode so far was
            # seeded seed + k + e·num_envs < seed + num_timesteps + num_envs, so start past that (after
            # set_random_seed, which seeds the env too).
            venv.seed(int(cfg["seed"]) + model.num_timesteps + int(cfg["num_envs"]))
            for line in notes:  # the resume goes on: its notes are about this run
                print(line, file=sys.stderr)
            print(f"resuming {run} from {ckpt.name} at step {model.num_timesteps:,}")
        else:
            try:
                model = build_model(cfg, venv)
            except AssertionError as e:  # SB3 asserts on settings config.resolve does not know of
                raise ValueError(f"PPO refused the settings: {e}") from None
            except (RuntimeError, MemoryError) as e:
                if not out_of_memory(e):
                    raise
                raise _no_room(cfg, e, resume=False) from None
        write_run_files(run, cfg, command)
        n_params = count_params(model.policy)
        bar: ProgressCallback | None = None
        stop = StopCallback()  # before the callbacks whose end can fail (TensorBoard, the video): see ended
        updates = model._n_updates  # an update since: a checkpoint worth saving should memory run out

        def stopping() -> None:
            """The run stops here whatever comes (a failure, or the output's reader gone): a signal from now
            on is ignored, not a KeyboardInterrupt out of the handler (its siblings do not catch it), which
            skipped the save; and the bar's last line comes now, before the error."""
            settled(finished=False)
            if bar is not None:
                bar.close()

        try:  # from the start line on (a run folder with tb/ is kept), a stop saves a checkpoint
            print(f"depthfirst: env={cfg['env']} device={model.device} policy={policy_label(cfg)} "
                  f"({n_params:,} parameters) envs={cfg['num_envs']} workers={venv.num_workers} -> {run}")
            # Said as a run starts, and as a --resume moves it onto a CPU: it was not said then.
            moved = trained_on is not None and trained_on.partition(":")[0] != "cpu"
            note = (slow_preset_warning(cfg["policy"], model.device.type, resume) if moved or not resume
                    else None)
            if note:
                print(note, file=sys.stderr)
            if uses_self_play(cfg) and not resume:  # a resumed run's pool holds its checkpoints too
                note = no_snapshot_warning(total, model.n_steps * model.n_envs,
                                           int(cfg["self_play"]["snapshot_every"]))
                if note:
                    print(note, file=sys.stderr)
            # From the logger on, TensorBoard's writer runs (and learn()), which a stop must not cut: it waits
            # for the next stop point (agents.interrupts).
            with stop_at_safe_points():
                quiet_event_writer_threads()  # before the writer: its start's event is its thread's too
                try:  # its first event is written and flushed here
                    logger = configure(str(run / "tb"), ["tensorboard"])
                except OSError as e:
                    raise events_not_written(run / "tb", e) from None
                guard_events(logger)
                if resume:
                    forget_after(logger, model.num_timesteps)
                model.set_logger(logger)
                callbacks = [stop, MetricsCallback(hparams({**cfg, "parameters": n_params})),
                             VideoCallback(cfg["env"], eval_kwargs(cfg["env_kwargs"]),
                                           int(cfg["video_every"]), max_steps=int(cfg["video_max_steps"])),
                             GameStatsCallback(int(cfg["video_every"]), run),
                             CheckpointCallback(run, int(cfg["save_every"]), keep)]
                if uses_self_play(cfg):
                    sp = cfg["self_play"]
                    callbacks.append(SelfPlayCallback(int(sp["snapshot_every"]), int(sp["pool_size"]),
                                                      cfg["seed"], run))
                remaining = total - model.num_timesteps
                if cut:  # learn() collects whole rollouts: one step asks for one more
                    remaining = max(remaining, 1)
                if progress:  # to that rollout's end, past the total (at the total, it read 656/400)
                    bar = ProgressCallback(model.num_timesteps + remaining)
                    callbacks.insert(0, bar)
                # remaining ≥ 1: a total ≥ 1 is checked, and a --resume at its total is refused above
                stop_between_minibatches(model.rollout_buffer)
                stop_inside_lstm_steps(model.policy)
                stop_point()  # one during the setup above: at step 0, not a step into learn()
                model.learn(remaining, callback=callbacks, reset_num_timesteps=not resume)
            # Finished: a signal from here on is ignored. Raised after the final save, it would count the run
            # as unfinished (and --force would put the old run back over it). Inside the try: a signal just
            # before this line is a stop at the last step, saved below, not a run lost.
            settled()
        except (ArchiveError, WorkerDiedError, MilestonesNotWritten, CheckpointNotWritten,
                EventsNotWritten) as e:
            # The envs failed: an archive damaged or deleted while training (a restarted worker reopens it
            # too), or a worker dead again right after its restart (out of memory, say); or the disk refused
            # the run's milestones.json, a periodic checkpoint or TensorBoard's events (full).
            stopping()
            if not stop.ended:
                raise _stopped(model, run, keep, e) from None
            _failed_as_it_ended(str(e))
        except (RuntimeError, MemoryError) as e:
            if not out_of_memory(e):
                raise
            stopping()
            if not stop.ended:
                raise _out_of_memory(model, run, cfg, e, trained=model._n_updates > updates,
                                     resume=resume) from None
            _failed_as_it_ended(f"out of {memory_refused(e)}")
        except BrokenPipeError:
            # The output's reader left mid-run (`| head`): nothing more can be said, but the steps taken are
            # kept as a Ctrl-C keeps them; the script then ends as any whose reader left (status 141).
            stopping()
            if not _finished(model, total):
                _save_stop(model, run, keep)
            raise
        except KeyboardInterrupt:
            if bar is not None:  # its last line now, not after these (when the interpreter frees it)
                bar.close()
            if not _finished(model, total):
                try:
                    file = _save_stop(model, run, keep)
                except CheckpointNotWritten as refused:
                    raise _stopped(model, run, keep, refused, "interrupted") from None
                print(f"\ninterrupted at step {model.num_timesteps:,}: saved {file}\n"
                      f"continue with: {resume_command(run)}", file=sys.stderr)
                return model
            # All its steps taken (the signal came as learn() returned, or in the last update): the run is
            # finished, saved and reported below, not "interrupted" with a --resume that would be refused. A
            # repeat says so: "stopping" announced a stop that did not come.
            settled(over_a_stop=True)
        try:
            save_checkpoint(model, run, keep)
        except CheckpointNotWritten as refused:
            raise _stopped(model, run, keep, refused) from None
        print(f"done: {model.num_timesteps:,} steps; model at {run / 'model.zip'}")
        return model
    finally:
        # Not cut short by a stop (a Ctrl-C at a crashed run's workers, a few seconds closing): it replaced
        # the crash, and left workers running. A stop already handled ignores any other signal anyway.
        with uninterruptible():
            venv.close()
        if logger is not None:
            try:
                mark_session_end(logger, model.num_timesteps)
                logger.close()
            except EventsNotWritten as e:  # after the run's end was saved (or its stop said): no traceback
                print(f"warning: {e}; its last points are missing", file=sys.stderr)
