"""Play a trained policy: batched evaluation episodes, replayed episodes as frames, MP4/GIF files.

Evaluation episode k is seeded ``seed + k``; an episode is recorded as its seed and actions, and any
episode can be replayed exactly from those (the game contract), which is how videos are made. Sampled
(``deterministic=False``) and random actions come from one random stream per episode, seeded
``[seed, k]`` (``episode_streams``), as the export samples: episode k is the same game however many
episodes are played, in batches of any size.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from agents.cli import EPISODE_STEP_CAP
from agents.interrupts import deferred_stop, stop_point
from envs import is_builtin, make_game
from envs.base import RENDER_SCALE, Game, GameDefinitionError, check_contract
from envs.env import RENDER_FPS
from envs.rng import seeds_from

EVAL_OPPONENT = "greedy"  # evaluation, videos, exports and compare play every two-player run against it


def eval_kwargs(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Game kwargs for evaluation (and videos, exports, compare), so every run of a game is measured on
    the same yardstick: a two-player game is scored against the greedy bot whatever it trained on, and
    a Game Boy episode starts from the run's start state, not from a swarm restart, and archives nothing
    into the run."""
    kwargs = dict(env_kwargs)
    if "opponent" in kwargs:
        kwargs["opponent"] = EVAL_OPPONENT
    if kwargs.get("swarm"):
        kwargs["swarm"] = False
    kwargs.pop("archive_dir", None)
    return kwargs


class Actor:
    """Batched actions from a PPO or RecurrentPPO model (keeps the LSTM state between calls).

    ``run_episodes`` calls every actor as ``actor(obs, game, live)`` and then ``actor.after_step(reward,
    terminated, truncated, live)``; a policy source that needs more than the observation (a VLM reads
    the rendered game state) provides ``make_actor(num_envs, deterministic, streams)`` returning such an
    actor, and ``episode_log(i)``, whose value lands in ``Episode.log`` (``None`` when it keeps none).
    ``streams``: the seed of each board's random stream (``episode_streams``), for an actor that draws
    random numbers. Sampled actions are drawn from the policy's probabilities with those streams (the
    export's ``PolicyProbe``), not from torch's global generator, which made them depend on the batch.
    """

    def __init__(self, model: Any, num_envs: int, deterministic: bool = True,
                 streams: list[Any] | None = None) -> None:
        self.model = model
        self.recurrent = hasattr(model.policy, "lstm_actor")
        self.state: Any = None
        self.starts = np.ones(num_envs, dtype=bool)
        self.probe: Any = None
        if not deterministic:
            from vlm.trajectories import PolicyProbe

            self.probe = PolicyProbe(model, num_envs, deterministic=False, seeds=streams)

    def __call__(self, obs: np.ndarray, game: Game | None = None, live: np.ndarray | None = None
                 ) -> np.ndarray:
        if self.probe is not None:
            return self.probe(obs)[0]
        # The argmax from here on: sampled actions come from the probe above.
        if self.recurrent:
            actions, self.state = self.model.predict(obs, state=self.state, episode_start=self.starts,
                                                     deterministic=True)
            self.starts = np.zeros_like(self.starts)
        else:
            actions, _ = self.model.predict(obs, deterministic=True)
        return np.asarray(actions, dtype=np.int64).reshape(-1)

    def after_step(self, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
                   live: np.ndarray) -> None:
        """Nothing to remember: the policy only needs the next observation."""

    def episode_log(self, i: int) -> Any:
        return None


class RandomPolicy:
    """The baseline every learning figure is compared with: uniformly random actions, one seeded stream
    per board (``seed`` and the board's stream seed, see ``Actor``)."""

    num_timesteps = 0

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def make_actor(self, num_envs: int, deterministic: bool = True, streams: list[Any] | None = None
                   ) -> RandomActor:
        return RandomActor(self.seed, streams if streams is not None else [[k] for k in range(num_envs)])


class RandomActor:
    """``RandomPolicy``'s actions: board k's from its own stream, seeded ``[seed, *streams[k]]``."""

    def __init__(self, seed: int, streams: list[Any]) -> None:
        self.rngs = [np.random.default_rng([seed, *s]) for s in streams]

    def __call__(self, obs: np.ndarray, game: Game | None = None, live: np.ndarray | None = None
                 ) -> np.ndarray:
        assert game is not None
        n = int(game.action_space.n)
        return np.array([rng.integers(n) for rng in self.rngs], dtype=np.int64)

    def after_step(self, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
                   live: np.ndarray) -> None:
        pass

    def episode_log(self, i: int) -> Any:
        return None


def make_actor(model: Any, num_envs: int, deterministic: bool = True, streams: list[Any] | None = None
               ) -> Any:
    """The model's own actor when it has one (``make_actor``), else an ``Actor`` over the model."""
    if hasattr(model, "make_actor"):
        return model.make_actor(num_envs, deterministic, streams)
    return Actor(model, num_envs, deterministic, streams)


def episode_streams(seed: int, first: int, n: int) -> list[list[int]]:
    """The random-stream seeds of episodes ``first .. first+n-1`` of a run seeded ``seed``: ``[seed, k]``,
    the export's (``vlm.trajectories.play``), so a sampled episode k is one game in both."""
    return [[seed, k] for k in range(first, first + n)]


@dataclass
class Episode:
    seed: int
    score: float
    length: int
    ret: float
    info: dict[str, float]
    actions: list[int] = field(repr=False)
    log: Any = field(default=None, repr=False)  # the actor's per-episode record (a VLM's decisions)
    capped: bool = False  # still playing when max_steps cut it: its score is where it stood


def run_episodes(model: Any, env: str, env_kwargs: dict[str, Any], episodes: int, seed: int = 0,
                 batch: int = 128, max_steps: int = EPISODE_STEP_CAP, deterministic: bool = True,
                 progress: Any = None) -> list[Episode]:
    """Play ``episodes`` episodes (seeds ``seed .. seed+episodes-1``), ``batch`` boards at a time.

    ``model``: an SB3 model, or any policy source with ``make_actor`` (see ``Actor``). ``progress(episodes
    ended, steps played)`` after each step of a batch (``agents.cli.EpisodeProgress``), as the export's.
    """
    results: list[Episode] = []
    for start in range(0, episodes, batch):
        n = min(batch, episodes - start)
        # Closed however the play ends (a Ctrl-C, a VLM's error): a Game Boy game holds n emulators.
        with contextlib.closing(make_game(env, num_envs=n, **env_kwargs)) as game:
            game.reset(np.arange(n), seeds_from(seed + start, n))
            obs = game.new_obs_buffer()
            actor = make_actor(model, n, deterministic, episode_streams(seed, start, n))
            live = np.ones(n, dtype=bool)
            ret = np.zeros(n)
            length = np.zeros(n, dtype=np.int64)
            actions: list[list[int]] = [[] for _ in range(n)]
            done_at: dict[int, dict[str, float]] = {}
            for _ in range(max_steps):
                stop_point()  # a training video's episode: a Ctrl-C stops within one step
                game.observe(obs)
                act = actor(obs, game, live)
                reward, terminated, truncated = game.step(act)
                actor.after_step(reward, terminated, truncated, live)
                for i in np.flatnonzero(live):
                    actions[i].append(int(act[i]))
                ret += reward * live
                length += live
                ended = live & (terminated | truncated)
                for i in np.flatnonzero(ended):
                    done_at[int(i)] = game.episode_info(int(i))
                if progress is not None:  # every step: a long episode's bar shows its steps as they go
                    progress(int(ended.sum()), int(live.sum()))
                live &= ~ended
                if not live.any():
                    break
            if progress is not None and live.any():  # the episodes max_steps cut end here too
                progress(int(live.sum()), 0)
            for i in range(n):
                info = done_at.get(i) or game.episode_info(i)  # still running at max_steps: as it stands
                results.append(Episode(seed + start + i, info["score"], int(length[i]), float(ret[i]), info,
                                       actions[i], actor.episode_log(i), capped=i not in done_at))
    return results


#: Figure names whose means replaced another figure of the same name, without a word: what each replaced.
#: ``summarize`` reports ``mean_<figure>`` beside its own means; the rollout callback logs
#: ``rollout/<figure>_mean``, and SB3 then logs its own curves of those tags.
FIGURE_CLASHES = {
    "length": "evaluate.py's mean_length (the episodes' mean moves) in its results and compare.py's report",
    "return": "evaluate.py's mean_return (the episodes' mean summed reward) in its results and compare.py's "
              "report",
    "ep_len": "SB3's TensorBoard curve rollout/ep_len_mean (the episodes' mean moves)",
    "ep_rew": "SB3's TensorBoard curve rollout/ep_rew_mean (the episodes' mean summed reward)",
}


class GameSpec(NamedTuple):
    """What one board of a game is: its observation shape, action count and state bytes (``board_bytes``)."""

    obs_shape: tuple[int, ...]
    actions: int
    board_bytes: int

    @classmethod
    def of(cls, game: Any) -> GameSpec:
        """The spec of a built ``game`` (``Game``), read on one of a single board (``Game.board_bytes``); a
        game of another package is also reset and its state and picture checked (``check_contract``)."""
        # A game whose figures its envs refuse, refused here, before any run folder; and FIGURE_CLASHES.
        clash = [k for k in game.figure_names() if k in FIGURE_CLASHES]
        if clash:
            raise GameDefinitionError(f"{game.name}'s episode figure {clash[0]!r} would replace "
                                      f"{FIGURE_CLASHES[clash[0]]}: rename the figure")
        if not is_builtin(type(game)):  # a state or picture the export and videos cannot take: refused too
            check_contract(game)
        return cls(tuple(game.observation_space.shape), int(game.action_space.n), game.board_bytes())


def check_game(env: str, env_kwargs: dict[str, Any]) -> GameSpec:
    """Build ``env`` with a run's ``env_kwargs`` once, before any episode: what a board of it is, or
    ``RunError`` naming what it refuses (a Game Boy ROM or start state, a hand-edited setting)."""
    from agents.runs import RunError
    from envs.gameboy.roms import RomError, StateError  # no emulator imported: hashing and messages only

    try:
        game = make_game(env, num_envs=1, **env_kwargs)
    except RomError as e:  # a Game Boy ROM that is not where the run's config says
        raise RunError(str(e)) from None
    except StateError as e:  # named by the run's config.yaml, not by a --state flag of this command
        raise RunError(e.in_run()) from None
    except GameDefinitionError as e:  # the game's code at fault, not the run's config.yaml
        raise RunError(str(e)) from None
    except (TypeError, ValueError) as e:  # a hand-edited config.yaml: size: "ten", size: 3, ...
        raise RunError(f"the run's config.yaml sets env_kwargs {env_kwargs} that {env} refuses: {e}"
                       ) from None
    try:
        return GameSpec.of(game)
    except GameDefinitionError as e:  # its figures
        raise RunError(str(e)) from None
    finally:
        game.close()


def check_trained_on(trained_on: str | None, env: str, checkpoint: Path) -> None:
    """``RunError`` where ``checkpoint`` was trained on a game (``trained_on``, None: unknown) other than
    the run's ``env``."""
    from agents.runs import RunError

    if trained_on is not None and trained_on != env:  # gameboy and pokemon_red: the same spaces
        raise RunError(f"the checkpoint {checkpoint} was trained on {trained_on}, and this run plays {env} "
                       f"(the env of its config.yaml): give --checkpoint a model trained on {env}, or name "
                       "the run folder it was trained in instead")


def check_fits(model: Any, env: str, env_kwargs: dict[str, Any], checkpoint: Path,
               spec: GameSpec | None = None) -> GameSpec:
    """``env``'s ``GameSpec``, or ``RunError`` unless ``model`` (loaded from ``checkpoint``) reads its
    observations and acts in its action space (a checkpoint of another game or board size would otherwise
    fail deep inside the first step). Every command that plays a run's model (evaluate,
    export_trajectories, compare, score_predictions) takes it from a run folder or ``--checkpoint``, which
    the message names. ``spec``: ``check_game``'s of these settings where the caller has it (evaluate's
    several checkpoints: the game built once, not once more for each)."""
    from agents.runs import ENV_ATTR, RunError, trained_env, untagged_note

    want = spec or check_game(env, env_kwargs)
    tag = getattr(model, ENV_ATTR, None)  # load restored it
    check_trained_on(trained_env(tag, checkpoint), env, checkpoint)
    have = (tuple(model.observation_space.shape), int(model.action_space.n))
    if have != (want.obs_shape, want.actions):
        raise RunError(f"the checkpoint {checkpoint} reads observations {have[0]} with {have[1]} actions, "
                       f"{env} with this run's settings gives {want.obs_shape} with {want.actions}: it was "
                       "trained on another game or settings; give --checkpoint a model trained with this "
                       "run's config.yaml, or name the run folder it was trained in instead")
    if not isinstance(tag, str):  # another game's of the same spaces would play unnoticed
        print(untagged_note(checkpoint, env), file=sys.stderr)
    return want


def forward_bytes(model: Any) -> int:
    """Memory one more board adds to ``model.predict`` on a batch, at least: the float observation, held
    through the pass, and the largest layer's input and output together (measured on one zero board); 0
    where the model runs on a CUDA device, whose memory it then is."""
    import torch

    if model.device.type != "cpu":
        return 0

    def size(x: Any) -> int:
        if isinstance(x, torch.Tensor):
            return x.nbytes
        return sum(size(v) for v in x) if isinstance(x, (tuple, list)) else 0

    passes: list[tuple[int, int]] = []
    leaves = [m for m in model.policy.modules() if next(m.children(), None) is None]
    hooks = [m.register_forward_hook(lambda _, x, y: passes.append((size(x), size(y)))) for m in leaves]
    try:
        model.predict(np.zeros((1, *model.observation_space.shape), np.uint8), deterministic=True)
    finally:
        for hook in hooks:
            hook.remove()
    return passes[0][0] + max(x + y for x, y in passes) if passes else 0


def replay_frames(env: str, env_kwargs: dict[str, Any], seed: int, actions: list[int],
                  scale: int = RENDER_SCALE, last: int | None = None, bar: Any = None) -> np.ndarray:
    """Re-simulate an episode from its seed and actions and render its states: (T+1, H, W, 3), or only
    the final ``last + 1`` (the whole episode is still simulated; memory stays bounded). ``bar``: a tqdm
    bar of ``len(actions)`` steps, moved a step at a time (tqdm redraws it at most every 0.1 s)."""
    game = make_game(env, num_envs=1, **env_kwargs)
    first = 0 if last is None else max(0, len(actions) - last)
    try:
        game.reset(np.zeros(1, dtype=np.int64), seeds_from(seed, 1))
        frames = [game.render(0, scale)] if first == 0 else []
        for t, a in enumerate(actions, start=1):
            stop_point()  # a training video's replay: 0.7 s for a 1,000-step Game Boy episode
            game.step(np.array([a], dtype=np.int64))
            if t >= first:
                frames.append(game.render(0, scale))
            if bar is not None:
                bar.update()
    finally:
        game.close()
    return np.stack(frames)


GIF_END_HOLD_MS = 1000


def animated_gif(frames: np.ndarray) -> bytes:
    """(T, H, W, 3) uint8 frames as a looping GIF shown at ``RENDER_FPS`` (every video's rate), encoded
    frame by frame with a stop point (``agents.interrupts``) before each. Not SB3's ``Video`` (torch's
    ``add_video``): moviepy 1.x hands imageio a frame time in seconds where imageio 2.28+ reads
    milliseconds, so every frame got a 0 delay (browsers then pick their own speed) and the frames where
    nothing moves, merged by Pillow, vanished from the animation. Nor imageio's Pillow writer: a Ctrl-C
    inside its encoding made it encode every frame again as it closed (evaluate's stop waited twice the
    GIF's time), and one while it read the frames made it fail with a ``ValueError`` traceback in the
    stop's place. The last frame (how the episode ended: a crash, a win) is held for a second before the
    loop starts again."""
    durations = [1000 / RENDER_FPS] * len(frames)
    durations[-1] = max(durations[-1], GIF_END_HOLD_MS)
    out = io.BytesIO()
    images = _frames_at_stop_points(frames)  # an iterator: Pillow takes each frame as it writes it
    next(images).save(out, format="GIF", save_all=True, append_images=images, duration=durations, loop=0)
    return out.getvalue()


def _frames_at_stop_points(frames: np.ndarray) -> Iterator[Any]:
    """Each frame as a Pillow image, made as the writer asks for it, a stop point before each."""
    from PIL import Image

    for frame in frames:
        stop_point()
        yield Image.fromarray(frame)


def check_mp4_writer() -> None:
    """``RunError`` unless imageio-ffmpeg, imageio's MP4 writer, imports: without it imageio names no reason,
    and only once the episodes are played (0.4.x imports pkg_resources, which setuptools 81 dropped)."""
    from agents.runs import RunError

    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError as e:
        raise RunError(f"no MP4 writer for the best episode's video: imageio-ffmpeg does not import ({e}); "
                       "pip install 'imageio-ffmpeg>=0.5', or add --no-video") from None


def write_video(frames: np.ndarray, path: Path) -> None:
    """MP4 (H.264 through imageio-ffmpeg's bundled binary) or GIF, chosen by ``path``'s suffix, of uint8 RGB
    ``frames`` (frames, height, width, 3) at ``RENDER_FPS``: ffmpeg is sent their raw bytes, so another dtype
    was garbage."""
    from agents.outputs import written_beside

    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise ValueError(f"frames must be a uint8 array of shape (frames, height, width, 3), got "
                         f"{frames.dtype} {frames.shape}")

    path.parent.mkdir(parents=True, exist_ok=True)
    with written_beside(path) as tmp:  # an interrupted or failed write never replaces a good video
        if path.suffix == ".gif":  # encoded in memory: Pillow's writer, failing on a full disk, was flushed
            # again by imageio's __del__, which printed a second traceback after the error
            tmp.write_bytes(animated_gif(frames))
        else:  # H.264 wants even sides; pad by repeating the last row/column.
            h, w = frames.shape[1:3]
            frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            try:
                _write_mp4(frames, tmp)
            except OSError as e:  # imageio-ffmpeg's message goes on with ffmpeg's whole command line
                first = (str(e).splitlines() or [type(e).__name__])[0]
                raise OSError(f"ffmpeg could not write the MP4 ({first})") from None
            if not mp4_complete(tmp):  # imageio-ffmpeg ignores ffmpeg's exit status: a full disk went unsaid
                raise OSError("ffmpeg could not finish the MP4 (a full disk?)")


def _write_mp4(frames: np.ndarray, path: Path) -> None:
    """``frames`` (even sides) as an H.264 MP4, sent to ffmpeg frame by frame with a stop point before each.
    ffmpeg is started with a stop held (``deferred_stop``): a Ctrl-C inside the start (imageio's ``mimsave``
    did it unguarded) left ffmpeg running past the stop, and it wrote the temp file after its removal, left
    in the run folder for good. The first frame is not sent with the stop held: its write blocks while
    ffmpeg does not read (stopped, SIGSTOP), and a Ctrl-C waited for it, for good. On a stop or an error
    ffmpeg is killed and reaped here (``_ended``): the writer, stopped inside a frame's write, kills it
    without a wait (a zombie until the command exited)."""
    import imageio_ffmpeg

    h, w = frames.shape[1:3]
    # imageio's own MP4 writer's arguments (mimsave with macro_block_size=1): the same ffmpeg command.
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=RENDER_FPS, quality=None, macro_block_size=1)
    ffmpeg: subprocess.Popen[bytes] | None = None
    try:
        with deferred_stop():
            writer.send(None)  # starts ffmpeg
            ffmpeg = _process_of(writer)
        for frame in frames:
            stop_point()
            writer.send(np.ascontiguousarray(frame))
        writer.close()  # waits for ffmpeg to finish the file
    finally:
        with deferred_stop():  # each step is at once: ffmpeg ended, or killed first
            _ended(ffmpeg)  # a stop or an error: the video is not wanted, so not finished either
            _discarded(writer)  # closed already, or now with ffmpeg gone: nothing to wait for


def _process_of(writer: Generator[None, Any, None]) -> subprocess.Popen[bytes] | None:
    """The process a started imageio-ffmpeg writer holds (a local of its generator, found by its type);
    None should a version hold none."""
    frame = writer.gi_frame
    found = frame.f_locals.values() if frame is not None else ()
    return next((v for v in found if isinstance(v, subprocess.Popen)), None)


class _Discarded(Exception):
    """Thrown into an imageio-ffmpeg writer to close it without the video (``_discarded``)."""


def _discarded(writer: Generator[None, Any, None]) -> None:
    """``writer`` closed by an exception thrown into it, as an error inside its write closes it, not by
    ``close()``: closed so before its first frame (a stop as ffmpeg started), it logged "No frames have been
    written; the written video is invalid" before the stop's line. Its ffmpeg has ended (``_ended``), so
    nothing is waited for; a writer already closed (or never started) throws it back, taken here."""
    with contextlib.suppress(_Discarded):
        writer.throw(_Discarded())


def _ended(process: subprocess.Popen[bytes] | None) -> None:
    """``process`` killed if it still runs, and reaped, and its stdin closed: imageio-ffmpeg's writer closes
    it only while ffmpeg runs, so an ffmpeg stopped here, or dead already, left the pipe open (a
    ResourceWarning under ``python -X dev``)."""
    if process is not None:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdin is not None:
            with contextlib.suppress(OSError):  # frames still buffered for the ended ffmpeg: a broken pipe
                process.stdin.close()


def mp4_complete(path: Path) -> bool:
    """Whether an MP4's top-level boxes fill the file exactly and include its index (``moov``, which
    ffmpeg writes last): a write cut short fails one or the other."""
    data = path.read_bytes()
    pos, kinds = 0, set()
    while pos + 8 <= len(data):
        size, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        if size == 1:  # a 64-bit size follows the type
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - pos
        if size < 8:
            return False
        kinds.add(kind)
        pos += size
    return pos == len(data) and b"moov" in kinds


def best_episode(episodes: list[Episode]) -> Episode:
    """The episode a video shows: the highest score, then the highest return (of two duel games with
    the same apples, the win, not the quick loss), then the fewest steps."""
    return max(episodes, key=lambda e: (e.score, e.ret, -e.length))


def episode_columns(episodes: list[Episode]) -> dict[str, Any]:
    """The episodes' own figures in play (seed) order, one list per figure, episode k at index k: ``seed``,
    ``score``, ``length`` (steps), ``return`` (sum of rewards), ``capped``, and the game's figures (those
    ``summarize`` averages as ``mean_<name>``) under ``figures``, apart so that none can take another's
    name. Columns, not a dict per episode: each name is written once, not 10,000 times, and they are the
    shape SB3's ``evaluate_policy(..., return_episode_rewards=True)`` returns and NumPy and pandas take as
    they are (``pandas.DataFrame(columns)``). compare's report.json rows end with them too."""
    # Every episode of a game reports the same figures (Game.episode_info's contract).
    names = sorted(set(episodes[0].info) - {"score"})
    return {
        "seed": [int(e.seed) for e in episodes],
        "score": [float(e.score) for e in episodes],
        "length": [int(e.length) for e in episodes],
        "return": [float(e.ret) for e in episodes],
        "capped": [bool(e.capped) for e in episodes],
        "figures": {k: [float(e.info[k]) for e in episodes] for k in names},
    }


def summarize(episodes: list[Episode]) -> dict[str, Any]:
    """The figures evaluate.py reports (and compare.py's rows, evaluate --vlm's results), all computed from
    ``per_episode`` (``episode_columns``), which it holds last: the list cannot be of other episodes."""
    columns = episode_columns(episodes)
    scores = np.array(columns["score"], dtype=np.float64)
    out: dict[str, Any] = {
        "episodes": len(episodes),
        "mean_score": float(scores.mean()),
        "median_score": float(np.median(scores)),
        "max_score": float(scores.max()),
        "min_score": float(scores.min()),
        "std_score": float(scores.std()),
        "mean_length": float(np.mean(columns["length"], dtype=np.float64)),
        "mean_return": float(np.mean(columns["return"])),
        # Cut by max_steps: a duel cut so is no win, draw nor loss, so those rates sum to less than 1.
        "capped": sum(columns["capped"]),
    }
    for k, values in columns["figures"].items():
        out[f"mean_{k}"] = float(np.mean(values))
    out["per_episode"] = columns
    return out
