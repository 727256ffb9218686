"""The trajectory store: a trained specialist's episodes, one Parquet row per step.

An export plays in two passes. ``play`` runs the policy on many boards at once and keeps, per step,
only what the policy said (action, action probabilities, value) and what the game answered (reward,
terminated, truncated, score). Episodes that pass ``--min-score`` are then replayed one at a time from
their seed and actions (the game contract: same seed + same actions = same states), which is when the
heavy parts are made: the complete ``get_state`` dict of every step, its frame as PNG, the task
records, the observations for Minari. So a filtered-out episode costs no rendering, and a worker never
holds more than one episode's states.

Layout under the dataset root::

    trajectories/meta.json             env and config, run, checkpoint, policy, seeds, counts, versions
    trajectories/episodes.parquet      one row per kept episode (seed, score, final state and frame)
    trajectories/steps/part-*.parquet  one row per step (read the folder: pandas.read_parquet(folder))
    images/xx/<sha1>.png               frames (shared, content-addressed, with the task images)
    minari/<namespace>/<env>/expert-v0 with --minari (MINARI_DATASETS_PATH=<root>/minari)
"""

from __future__ import annotations

import contextlib
import json
import platform
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from agents.runs import model_file, read_run_config
from envs import GAMES, game_class, make_game
from envs.rng import seeds_from

TRAJ_DIR = "trajectories"
STEP_FILES = f"{TRAJ_DIR}/steps/part-*.parquet"  # relative to the dataset root, as a glob
EPISODE_FILE = f"{TRAJ_DIR}/episodes.parquet"
# Locked in the hidden .<out>.partial folder an export writes in: a second export into it, and a merge of
# it, are refused.
OWNER = ".owner"
MINARI_NAMESPACE = "depthfirst"
ROW_GROUP = 2048  # steps per Parquet row group: bounded memory for Game Boy states (~300 KB each)

STEP_SCHEMA = pa.schema([
    ("episode", pa.int32()),  # index of the episode in this export (0 .. episodes-1, before filtering)
    ("t", pa.int32()),  # step within the episode; the state is the one the action was chosen in
    ("seed", pa.uint64()),  # the episode's seed
    ("action", pa.int16()),
    ("action_name", pa.string()),
    ("reward", pa.float32()),
    ("terminated", pa.bool_()),  # after this step
    ("truncated", pa.bool_()),
    ("score", pa.float64()),  # the game's score after this step (episode_info()["score"])
    ("state", pa.string()),  # the complete get_state() dict before the action, as JSON
    ("frame", pa.string()),  # that state's PNG, relative to the dataset root
    ("probs", pa.list_(pa.float32())),  # the policy's action probabilities in that state
    ("value", pa.float32()),  # the policy's value estimate of that state
])

EPISODE_SCHEMA = pa.schema([
    ("episode", pa.int32()),
    ("seed", pa.uint64()),
    ("score", pa.float64()),
    ("length", pa.int32()),
    ("return", pa.float64()),
    ("terminated", pa.bool_()),
    ("truncated", pa.bool_()),
    ("capped", pa.bool_()),  # cut by the exporter's --max-steps (then also truncated)
    ("final_state", pa.string()),  # the state after the last step, as JSON
    ("final_frame", pa.string()),
    ("info", pa.string()),  # episode_info() at the end, as JSON
])


# --------------------------------------------------------------------------- the run and its model

@dataclass
class RunInfo:
    """What an export needs to know about the run it plays (resolved and checked before any work)."""

    path: Path
    cfg: dict[str, Any]
    checkpoint: Path

    @property
    def env(self) -> str:
        return self.cfg["env"]

    @property
    def preset(self) -> str:
        """The policy preset's name (a hand-written config may not say: the model file does not need it)."""
        return str(self.cfg.get("policy", "unknown"))


def resolve_run(run_dir: str | Path, checkpoint: str | Path | None = None) -> RunInfo:
    """The run's config and the model file to load; ``RunError`` says what is missing."""
    path = Path(run_dir)
    # A file, no folder, no config.yaml, an env this depthfirst does not know; a model file given as the
    # run is said to go with --checkpoint, where one would be read.
    cfg = read_run_config(path, None if checkpoint else "--checkpoint")
    return RunInfo(path, cfg, model_file(path, checkpoint, "give a model file with --checkpoint"))


def load_policy(run: RunInfo, device: str = "cpu") -> Any:
    from agents.train import load_model

    return load_model(run.cfg, run.checkpoint, device=device, run=run.path)


class PolicyProbe:
    """Batched actions, action probabilities and values from an SB3 PPO or RecurrentPPO model.

    Deterministic play takes the most probable action (what ``model.predict(deterministic=True)``
    does); stochastic play samples from the probabilities with one seeded NumPy generator per board
    (``seeds``), so even a stochastic export replays exactly, whatever the batching.
    """

    def __init__(self, model: Any, num_envs: int, deterministic: bool = True,
                 seeds: list[Any] | None = None) -> None:
        import torch

        self.torch = torch
        self.policy = model.policy
        self.deterministic = deterministic
        # One sampling stream per board: an episode's actions never depend on the batch it was played in.
        self.rngs = [np.random.default_rng(s) for s in (seeds if seeds is not None else range(num_envs))]
        self.recurrent = hasattr(self.policy, "lstm_actor")
        self.starts = np.ones(num_envs, dtype=np.float32)
        if self.recurrent:
            from sb3_contrib.common.recurrent.type_aliases import RNNStates

            lstm = self.policy.lstm_actor
            zeros = torch.zeros(lstm.num_layers, num_envs, lstm.hidden_size, device=self.policy.device)
            self.states = RNNStates((zeros, zeros.clone()), (zeros.clone(), zeros.clone()))

    def __call__(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(actions int64 (n,), probs float32 (n, A), values float32 (n,))`` for observations ``obs``."""
        torch = self.torch
        policy = self.policy
        with torch.no_grad():
            obs_t, _ = policy.obs_to_tensor(obs)
            if self.recurrent:
                starts = torch.as_tensor(self.starts, device=policy.device)
                dist, _ = policy.get_distribution(obs_t, self.states.pi, starts)
                _, values, _, self.states = policy.forward(obs_t, self.states, starts, deterministic=True)
                self.starts[:] = 0.0
            else:
                # ActorCriticPolicy.forward, keeping the distribution: one pass through the CNN.
                features = policy.extract_features(obs_t)
                if policy.share_features_extractor:
                    latent_pi, latent_vf = policy.mlp_extractor(features)
                else:
                    latent_pi = policy.mlp_extractor.forward_actor(features[0])
                    latent_vf = policy.mlp_extractor.forward_critic(features[1])
                values = policy.value_net(latent_vf)
                dist = policy._get_action_dist_from_latent(latent_pi)
            probs = dist.distribution.probs.float().cpu().numpy()
        values = values.float().cpu().numpy().reshape(-1)
        if self.deterministic:
            actions = probs.argmax(axis=1)
        else:
            cdf = np.cumsum(probs, axis=1)
            u = np.array([rng.random() for rng in self.rngs])[:, None] * cdf[:, -1:]
            actions = np.minimum((cdf <= u).sum(axis=1), probs.shape[1] - 1)
        return actions.astype(np.int64), probs.astype(np.float32), values.astype(np.float32)


# --------------------------------------------------------------------------- pass 1: play

@dataclass
class EpisodeLog:
    """One played episode: the seed and, per step, what the policy and the game said."""

    episode: int
    seed: int
    actions: np.ndarray  # int64 (T,)
    probs: np.ndarray  # float32 (T, A)
    values: np.ndarray  # float32 (T,)
    rewards: np.ndarray  # float32 (T,)
    terminated: np.ndarray  # bool (T,)
    truncated: np.ndarray  # bool (T,)
    scores: np.ndarray  # float64 (T,): score after each step
    info: dict[str, float] = field(default_factory=dict)
    capped: bool = False  # cut at --max-steps: its last step is marked truncated, though the game went on

    @property
    def length(self) -> int:
        return len(self.actions)

    @property
    def score(self) -> float:
        return float(self.info.get("score", self.scores[-1] if len(self.scores) else 0.0))


def episode_seed(seed: int, episode: int) -> int:
    """Episode k of an export seeded ``seed`` starts from seed ``seed + k`` (as in scripts/evaluate.py)."""
    return int(seeds_from(seed + episode, 1)[0])


def play(model: Any, env: str, env_kwargs: dict[str, Any], episodes: list[int], seed: int,
         max_steps: int, deterministic: bool = True,
         progress: Callable[[int, int], Any] | None = None) -> list[EpisodeLog]:
    """Play ``episodes`` (indices; episode k from ``episode_seed(seed, k)``) on one batched game;
    ``progress(episodes ended, steps played)`` after each step of the batch."""
    n = len(episodes)
    # Closed when play ends: a Game Boy game holds n emulators, else open until garbage-collected.
    with contextlib.closing(make_game(env, num_envs=n, **env_kwargs)) as game:
        seeds = np.array([episode_seed(seed, k) for k in episodes], dtype=np.uint64)
        game.reset(np.arange(n), seeds)
        obs = game.new_obs_buffer()
        probe = PolicyProbe(model, n, deterministic, seeds=[[seed, k] for k in episodes])
        cols: dict[str, list[list[Any]]] = {k: [[] for _ in range(n)] for k in (
            "actions", "probs", "values", "rewards", "terminated", "truncated", "scores")}
        live = np.ones(n, dtype=bool)
        infos: dict[int, dict[str, float]] = {}
        for _ in range(max_steps):
            game.observe(obs)
            act, probs, values = probe(obs)
            reward, terminated, truncated = game.step(act)
            for i in np.flatnonzero(live):
                cols["actions"][i].append(int(act[i]))
                cols["probs"][i].append(probs[i])
                cols["values"][i].append(float(values[i]))
                cols["rewards"][i].append(float(reward[i]))
                cols["terminated"][i].append(bool(terminated[i]))
                cols["truncated"][i].append(bool(truncated[i]))
                info = game.episode_info(int(i))
                cols["scores"][i].append(float(info["score"]))
                if terminated[i] or truncated[i]:
                    infos[int(i)] = info
            stepped = int(live.sum())
            live &= ~(terminated | truncated)
            if progress is not None:
                progress(stepped - int(live.sum()), stepped)
            if not live.any():
                break
        logs = []
        n_actions = len(game_class(env).ACTION_NAMES)
        for i, k in enumerate(episodes):
            logs.append(EpisodeLog(
                episode=k, seed=int(seeds[i]),
                actions=np.array(cols["actions"][i], dtype=np.int64),
                probs=np.array(cols["probs"][i], dtype=np.float32).reshape(-1, n_actions),
                values=np.array(cols["values"][i], dtype=np.float32),
                rewards=np.array(cols["rewards"][i], dtype=np.float32),
                terminated=np.array(cols["terminated"][i], dtype=bool),
                truncated=np.array(cols["truncated"][i], dtype=bool),
                scores=np.array(cols["scores"][i], dtype=np.float64),
                info={k2: float(v) for k2, v in (infos.get(i) or game.episode_info(i)).items()},
                capped=bool(live[i])))
            if logs[-1].capped and logs[-1].length:
                logs[-1].truncated[-1] = True
        return logs


# --------------------------------------------------------------------------- pass 2: replay

@dataclass
class StepView:
    """One state of a replayed episode. ``t == log.length`` is the final state (no action taken)."""

    log: EpisodeLog
    t: int
    state: dict[str, Any]
    obs: np.ndarray | None

    @property
    def final(self) -> bool:
        return self.t == self.log.length


class ReplayMismatch(RuntimeError):
    """The game did not reproduce a played episode from its seed and actions."""


def replay(env: str, env_kwargs: dict[str, Any], log: EpisodeLog, observe: bool = False,
           game: Any = None) -> Iterator[StepView]:
    """Re-simulate ``log`` on one board and yield every state (t = 0 .. T) in order.

    Rewards and episode ends are checked against the played episode: a game that breaks the
    seed + actions contract raises ``ReplayMismatch`` rather than exporting states that never happened.
    """
    own = game is None  # a game made here is closed here, when the replay ends or is dropped
    if own:
        game = make_game(env, num_envs=1, **env_kwargs)
    try:
        yield from _replay(env, log, observe, game)
    finally:
        if own:
            game.close()


def _replay(env: str, log: EpisodeLog, observe: bool, game: Any) -> Iterator[StepView]:
    game.reset(np.zeros(1, dtype=np.int64), np.array([log.seed], dtype=np.uint64))
    obs = game.new_obs_buffer() if observe else None
    for t in range(log.length + 1):
        if obs is not None:
            game.observe(obs)
        yield StepView(log, t, game.get_state(0), None if obs is None else obs[0].copy())
        if t == log.length:
            return
        reward, terminated, truncated = game.step(np.array([log.actions[t]], dtype=np.int64))
        cut = log.capped and t == log.length - 1  # the exporter, not the game, ended it here
        if (not np.isclose(reward[0], log.rewards[t], atol=1e-6) or bool(terminated[0]) != log.terminated[t]
                or (bool(truncated[0]) != log.truncated[t] and not cut)):
            raise ReplayMismatch(
                f"{env}: episode {log.episode} (seed {log.seed}) did not replay at step {t}: played reward "
                f"{log.rewards[t]}, terminated {log.terminated[t]}, truncated {log.truncated[t]}; replayed "
                f"{reward[0]}, {terminated[0]}, {truncated[0]}. The game is not deterministic from its seed "
                "and actions (a save-state pool or an unseeded random source?)")


def state_json(state: dict[str, Any]) -> str:
    return json.dumps(state, separators=(",", ":"), ensure_ascii=False)


class StepWriter:
    """Streams step rows into one Parquet part file, a row group at a time."""

    def __init__(self, path: Path, action_names: tuple[str, ...]) -> None:
        self.path = path
        self.action_names = action_names
        self.rows: dict[str, list[Any]] = {name: [] for name in STEP_SCHEMA.names}
        self.writer: pq.ParquetWriter | None = None
        self.count = 0

    def add(self, view: StepView, frame: str) -> None:
        log, t = view.log, view.t
        a = int(log.actions[t])
        for name, value in (("episode", log.episode), ("t", t), ("seed", log.seed), ("action", a),
                            ("action_name", self.action_names[a]), ("reward", float(log.rewards[t])),
                            ("terminated", bool(log.terminated[t])), ("truncated", bool(log.truncated[t])),
                            ("score", float(log.scores[t])), ("state", state_json(view.state)),
                            ("frame", frame), ("probs", log.probs[t].tolist()),
                            ("value", float(log.values[t]))):
            self.rows[name].append(value)
        self.count += 1
        if len(self.rows["t"]) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self.rows["t"]:
            return
        table = pa.table(self.rows, schema=STEP_SCHEMA)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, STEP_SCHEMA, compression="zstd")
        self.writer.write_table(table)
        self.rows = {name: [] for name in STEP_SCHEMA.names}

    def close(self) -> None:
        self._flush()
        if self.writer is not None:
            self.writer.close()


def episode_row(final: StepView, final_frame: str) -> dict[str, Any]:
    """The episodes.parquet row of ``final.log``, ending in state ``final`` (drawn as ``final_frame``)."""
    log = final.log
    return {"episode": log.episode, "seed": log.seed, "score": log.score, "length": log.length,
            "return": float(log.rewards.sum(dtype=np.float64)),
            "terminated": bool(log.terminated[-1]) if log.length else False,
            "truncated": bool(log.truncated[-1]) if log.length else False, "capped": log.capped,
            "final_state": state_json(final.state), "final_frame": final_frame,
            "info": json.dumps(log.info, sort_keys=True)}


def write_episodes(path: Path, rows: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(rows, schema=EPISODE_SCHEMA)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


# --------------------------------------------------------------------------- meta and Minari

VERSIONED = ("numpy", "torch", "stable-baselines3", "sb3-contrib", "gymnasium", "numba", "pillow", "pyarrow",
             "datasets", "minari", "pyboy")


def package_versions(env: str, tasks: bool = False) -> dict[str, str]:
    """Python's and the packages' versions, with the package of ``env`` where it is a game of another
    package (its code made the states and frames) and, with ``tasks`` (an export's task records), the
    package of its task module, which may be another one (its code wrote the questions and answers)."""
    from envs import PLUGIN_GROUP, game_package
    from vlm.tasks import TASK_PLUGIN_GROUP

    out = {"python": platform.python_version()}
    for name in (*VERSIONED, "depthfirst"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    for group in (PLUGIN_GROUP, TASK_PLUGIN_GROUP) if tasks else (PLUGIN_GROUP,):
        if (own := game_package(env, group)) is not None:
            out[own[0]] = own[1]
    return out


def minari_dataset_id(env: str) -> str:
    return f"{MINARI_NAMESPACE}/{env}/expert-v0"


def write_minari(root: Path, env: str, env_kwargs: dict[str, Any], logs: list[EpisodeLog],
                 observations: Iterator[np.ndarray], algorithm: str, description: str) -> str:
    """A Minari dataset of the kept episodes under ``root/minari`` (arrow storage, lossless).

    ``observations`` yields, per log in order, that episode's (T+1, C, H, W) uint8 observations.
    Returns the dataset id to pass to ``minari.load_dataset`` with ``MINARI_DATASETS_PATH=root/minari``.
    """
    import dataclasses
    import inspect
    import os
    import warnings

    import gymnasium as gym
    import minari
    from gymnasium import spaces
    from minari.data_collector import EpisodeBuffer

    from envs.env import GameEnv

    dataset_id = minari_dataset_id(env)
    game = game_class(env)
    # The exact game settings go into the env spec, so recover_environment() rebuilds this very game.
    base = gym.spec(GAMES[env][1])
    spec = dataclasses.replace(base, kwargs={**base.kwargs, **env_kwargs})
    if set(env_kwargs) & set(inspect.signature(GameEnv).parameters):
        # A game setting named like a GameEnv argument (the Game Boy's `game`) cannot ride in the spec:
        # the dataset then has no recoverable env, and the settings are in its description instead.
        spec = None
        description += f" Game settings: {json.dumps(env_kwargs, sort_keys=True)}."
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str((root / "minari").resolve())  # Minari mishandles relative
    # Minari 0.5.4 (Python 3.11+) JPEG-encodes observations it takes for images unless told not to;
    # 0.5.3, the last release for Python 3.10, has no such argument and always stores the raw arrays.
    create = minari.create_dataset_from_buffers
    lossless = {"jpeg_encoding": False} if "jpeg_encoding" in inspect.signature(create).parameters else {}
    dataset = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Minari warns about every optional metadata field left out
            batch: list[Any] = []
            for k, (log, obs) in enumerate(zip(logs, observations, strict=True)):
                batch.append(EpisodeBuffer(id=k, seed=log.seed, observations=obs, actions=log.actions,
                                           rewards=log.rewards.astype(np.float64).tolist(),
                                           terminations=log.terminated.tolist(),
                                           truncations=log.truncated.tolist()))
                if len(batch) == 64 or k == len(logs) - 1:
                    if dataset is None:
                        dataset = create(
                            dataset_id, batch, env=spec, algorithm_name=algorithm, author="depthfirst",
                            action_space=spaces.Discrete(len(game.ACTION_NAMES)),
                            observation_space=spaces.Box(0, 255, obs.shape[1:], dtype=np.uint8),
                            description=description, data_format="arrow", **lossless)
                    else:
                        dataset.update_dataset_from_buffer(batch)
                    batch = []
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old
    return dataset_id


