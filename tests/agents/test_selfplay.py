"""Self-play's snapshot pool (agents/selfplay.py), driven without a training loop."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from agents.selfplay import SelfPlayCallback


class TinyPolicy(torch.nn.Linear):
    """One weight, and what SB3's policies have for ``frozen_copy``: a device and constructor parameters."""

    device = torch.device("cpu")

    def __init__(self) -> None:
        super().__init__(1, 1, bias=False)

    def _get_constructor_parameters(self) -> dict:
        return {}


def pool_steps(start: int, end: int, rollout: int, snapshot_every: int, pool_size: int = 1000,
               drawn: list[int] | None = None, seed: int = 0, acted: list[int] | None = None) -> list[int]:
    """The steps whose policy is in the pool after rollouts from ``start`` to ``end``; each policy's
    weight is the step it was at. ``drawn`` gets the step of the opponent each rollout played, ``acted``
    the step of the opponent each time it chose the game's opponent actions."""
    policy = TinyPolicy()
    cb = SelfPlayCallback(snapshot_every, pool_size=pool_size, seed=seed)
    game = SimpleNamespace(observe_opponent=None, new_obs_buffer=lambda: None)
    venv = SimpleNamespace(_local=SimpleNamespace(game=game))
    cb.model = SimpleNamespace(num_timesteps=start, policy=policy, device="cpu", get_env=lambda: venv)
    # no game: only the pool is looked at
    cb._act = (lambda: None) if acted is None else (lambda: acted.append(int(cb.opponent.weight.item())))

    def at(step: int) -> None:
        cb.model.num_timesteps = step
        with torch.no_grad():
            policy.weight.fill_(step)

    at(start)
    cb._on_training_start()  # the current policy is the first snapshot
    for step in range(start, end, rollout):
        at(step)
        cb._on_rollout_start()
        if drawn is not None:
            drawn.append(int(cb.opponent.weight.item()))
    return [int(p["weight"].item()) for p in cb.pool]


def test_snapshots_every_snapshot_every_steps_on_average():
    # 300 steps apart, rollouts of 128: at the first rollout start at or past each multiple of 300, not
    # every third rollout (384 steps apart, 28% fewer snapshots than asked for).
    assert pool_steps(0, 3840, 128, 300) == [0, 384, 640, 1024, 1280, 1536, 1920, 2176, 2432, 2816, 3072,
                                             3328, 3712]


def test_a_resumed_run_keeps_the_run_s_schedule():
    # Resumed at step 1000 (a Ctrl-C mid-rollout): the current policy, then one snapshot past each multiple
    # of 300 as the uninterrupted run (1200, 1500, ...), not 300, 600, ... steps after the resume.
    assert pool_steps(1000, 3840, 128, 300) == [1000, 1256, 1512, 1896, 2152, 2408, 2792, 3048, 3304, 3688]


def test_the_pool_keeps_the_newest_pool_size_snapshots():
    assert pool_steps(0, 3840, 128, 300, pool_size=3) == [3072, 3328, 3712]


def test_each_rollout_draws_its_opponent_uniformly_from_the_pool():
    # Rollouts of one step: snapshots at 0, 1000, 2000 and 3000, then 1000 rollouts with all four in the pool.
    drawn: list[int] = []
    assert pool_steps(0, 4000, 1, 1000, pool_size=4, drawn=drawn) == [0, 1000, 2000, 3000]
    counts = {step: drawn[3000:].count(step) for step in (0, 1000, 2000, 3000)}
    assert sum(counts.values()) == 1000 and all(180 <= c <= 320 for c in counts.values()), counts


def test_each_rollout_s_first_step_is_played_by_the_opponent_drawn_for_it():
    # The actions for a rollout's first step were chosen at the previous step's end, by the previous
    # rollout's opponent: the drawn one chooses them again as the rollout starts.
    drawn: list[int] = []
    acted: list[int] = []
    pool_steps(0, 4000, 100, 1000, pool_size=4, drawn=drawn, acted=acted)
    assert len(set(drawn)) == 4
    assert acted == drawn


def test_the_seed_changes_the_opponent_draws():
    def slots(seed: int) -> list[int]:
        drawn: list[int] = []
        pool_steps(0, 4000, 100, 1000, pool_size=4, drawn=drawn, seed=seed)
        return drawn

    assert slots(0) == slots(0) and slots(1) != slots(0)


def test_a_resumed_run_drops_the_oldest_refilled_checkpoint_first(monkeypatch):
    # Refilled with the run's checkpoints (oldest first), the resumed policy is the newest snapshot: the
    # next snapshot drops the oldest checkpoint, not the resumed policy.
    older = [{"weight": torch.full((1, 1), float(step))} for step in (400, 700)]
    monkeypatch.setattr(SelfPlayCallback, "_refill", lambda self, now: self.pool.extend(older))
    assert pool_steps(1000, 1300, 128, 300, pool_size=3) == [700, 1000, 1256]


@pytest.mark.parametrize("snapshot_every, pool_size, name", [(100, 0, "pool_size"), (100, -1, "pool_size"),
                                                           (100, True, "pool_size"), (0, 2, "snapshot_every"),
                                                           (2.5, 2, "snapshot_every")])
def test_the_callback_refuses_a_pool_size_or_snapshot_gap_below_one(snapshot_every, pool_size, name):
    # Only config.resolve checked them: built in one's own code, pool_size 0 kept every snapshot (del
    # pool[:-0] drops nothing), a copy of the policy per snapshot for the whole run.
    with pytest.raises(ValueError, match=f"self-play {name} must be (a whole number )?>= 1"):
        SelfPlayCallback(snapshot_every, pool_size)


@pytest.mark.parametrize("env_kwargs, self_play", [
    ({"opponent": "policy"}, True), ({"opponent": "greedy"}, False), ({"opponent": "random"}, False),
    ({}, False),
])
def test_only_the_policy_opponent_is_self_play(env_kwargs, self_play):
    # A scripted opponent taken for self-play got the callback, whose set_opponent_actions the game refuses
    # outside opponent='policy' (and preflight's self-play checks refused its --num-workers).
    from agents.selfplay import uses_self_play

    assert uses_self_play({"env_kwargs": env_kwargs}) is self_play


@pytest.mark.parametrize("total, snapshot_every, advice", [
    (512, 256, None), (5_000_000, 200_000, None), (513, 300, None),
    # Rollouts of 256 start at 0 and 256 only: a snapshot due at 300 would come at 512, past the run.
    (512, 300, "--set self_play.snapshot_every=256"),
    (100_000, 200_000, "--set self_play.snapshot_every=99840"),
    (256, 1, "more --total-timesteps"),  # one rollout: no snapshot gap helps
])
def test_a_new_run_whose_opponent_would_stay_its_starting_policy_is_told(total, snapshot_every, advice):
    # A self-play trial shorter than snapshot_every (200,000 by default) played the untrained starting policy
    # from its first step to its last, with nothing said.
    from agents.selfplay import no_snapshot_warning

    note = no_snapshot_warning(total, rollout=256, snapshot_every=snapshot_every)
    assert note is None if advice is None else advice in note and "untrained starting policy" in note


def test_the_opponent_is_a_frozen_copy_that_draws_no_random_numbers():
    from gymnasium import spaces
    from stable_baselines3.common.policies import ActorCriticCnnPolicy

    from agents.policies import policy_kwargs
    from agents.selfplay import frozen_copy

    space = spaces.Box(0, 255, (4, 10, 10), np.uint8)
    policy = ActorCriticCnnPolicy(space, spaces.Discrete(4), lambda _: 1e-4, **policy_kwargs("tiny"))
    before = torch.random.get_rng_state()
    copy = frozen_copy(policy)
    assert torch.equal(torch.random.get_rng_state(), before)  # the training's random stream as it was
    mine, theirs = policy.state_dict(), copy.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert not copy.training


def test_the_opponent_lives_on_the_learner_s_device():
    """The copy is built on the CPU: a CUDA learner's opponent must be moved to the CUDA device, where the
    observations it is given are. The "meta" device stands in for CUDA on a machine without one."""
    from agents.selfplay import frozen_copy

    class Elsewhere(TinyPolicy):
        device = torch.device("meta")

    copy = frozen_copy(Elsewhere())
    assert copy.weight.device == torch.device("meta") and not copy.training


def _callback_with_a_uniform_opponent(num_envs: int) -> tuple[SelfPlayCallback, list[np.ndarray]]:
    """A self-play callback whose snapshot picks each action with equal odds, and the list of the action
    arrays it hands the game."""
    from stable_baselines3.common.distributions import CategoricalDistribution

    class Uniform:
        def get_distribution(self, obs: torch.Tensor) -> CategoricalDistribution:
            return CategoricalDistribution(4).proba_distribution(torch.zeros(len(obs), 4))

    handed: list[np.ndarray] = []
    cb = SelfPlayCallback(100, pool_size=2)
    cb.game = SimpleNamespace(observe_opponent=lambda out: None, set_opponent_actions=handed.append)
    cb.obs, cb.opponent = np.zeros((num_envs, 1), np.uint8), Uniform()
    cb.model = SimpleNamespace(device="cpu")
    return cb, handed


def test_the_opponent_samples_its_actions():
    """The snapshot's actions are drawn from its distribution, not its argmax (a deterministic opponent
    is one fixed strategy, which the learner would overfit)."""
    cb, handed = _callback_with_a_uniform_opponent(num_envs=400)
    cb._act()
    assert set(handed[0].tolist()) == {0, 1, 2, 3}


def test_the_opponent_is_given_its_boards_on_the_learner_s_device():
    """The observation buffer is a NumPy array in host memory: it goes to the learner's device (a CUDA
    learner's, where its snapshot is), not to the CPU. The "meta" device stands in for CUDA here."""
    from stable_baselines3.common.distributions import CategoricalDistribution

    seen: list[torch.device] = []

    class Recording:
        def get_distribution(self, obs: torch.Tensor) -> CategoricalDistribution:
            seen.append(obs.device)
            return CategoricalDistribution(4).proba_distribution(torch.zeros(len(obs), 4))

    cb, handed = _callback_with_a_uniform_opponent(num_envs=4)
    cb.opponent, cb.model = Recording(), SimpleNamespace(device=torch.device("meta"))
    cb._act()
    assert seen == [torch.device("meta")] and handed[0].shape == (4,)


def test_the_opponent_chooses_its_actions_again_after_every_env_step():
    """Each env step's end hands the game the snapshot's actions for the next one: without it the snapshot
    chose once per rollout and the game replayed those actions on every later step."""
    cb, handed = _callback_with_a_uniform_opponent(num_envs=4)
    for _ in range(3):
        assert cb._on_step() is True  # training goes on
    assert [a.shape for a in handed] == [(4,)] * 3


def test_the_opponent_plays_snake_1_on_its_view_of_the_boards_as_they_are_now():
    """Each choice is made on snake 1's view of the boards at that moment (observe_opponent), not on the
    learner's view: without the call the opponent played the blank buffer it started with."""
    from stable_baselines3.common.distributions import CategoricalDistribution

    from envs import make_vec

    seen: list[np.ndarray] = []

    class Recording:
        def get_distribution(self, obs: torch.Tensor) -> CategoricalDistribution:
            seen.append(obs.numpy().copy())
            return CategoricalDistribution(4).proba_distribution(torch.zeros(len(obs), 4))

    venv = make_vec("snake_duel", 4, num_workers=0, seed=0, opponent="policy")
    try:
        venv.reset()
        game = venv._local.game
        cb = SelfPlayCallback(100, pool_size=2)
        cb.game, cb.obs, cb.opponent = game, game.new_obs_buffer(), Recording()
        cb.model = SimpleNamespace(device="cpu")
        theirs, own = game.new_obs_buffer(), game.new_obs_buffer()
        for _ in range(3):
            cb._act()
            game.observe_opponent(theirs)
            game.observe(own)
            assert np.array_equal(seen[-1], theirs) and not np.array_equal(theirs, own)
            venv.step(game.bot_actions(0))
        assert not np.array_equal(seen[0], seen[-1])  # the boards moved on, and the views with them
    finally:
        venv.close()


@pytest.mark.parametrize("local", [None, SimpleNamespace(game=SimpleNamespace(observe=None))],
                         ids=["worker-processes", "one-player-game"])
def test_self_play_refuses_a_game_it_cannot_play_snake_1_of_between_steps(local):
    # What a script passing its own vector env is told, not an AttributeError from inside the callback.
    cb = SelfPlayCallback(100, pool_size=2)
    venv = SimpleNamespace(_local=local)
    cb.model = SimpleNamespace(num_timesteps=0, policy=TinyPolicy(), device="cpu", get_env=lambda: venv)
    message = "a two-player game stepped in the training process: use --num-workers 0"
    with pytest.raises(ValueError, match=message):
        cb._on_training_start()


@pytest.mark.parametrize("pool_size, kept", [(1, []), (2, [600]), (3, [300, 600]), (4, [300, 600]),
                                             (5, [300, 600]), (9, [300, 600])])
def test_resume_refills_the_pool_with_the_checkpoints_in_its_span(tmp_path, monkeypatch, pool_size, kept):
    # The run keeps three checkpoints; resumed from the newest, the two before it are within the pool's span
    # and both come back while the pool has room for them beside the resumed policy (pool_size 4 got one).
    from stable_baselines3.common import save_util

    (tmp_path / "checkpoints").mkdir()
    for step in (300, 600, 900):
        (tmp_path / "checkpoints" / f"step_{step}.zip").touch()
    monkeypatch.setattr(save_util, "load_from_zip_file",
                        lambda f, **_: (None, {"policy": {"step": int(f.stem[5:])}}, None))
    cb = SelfPlayCallback(snapshot_every=1000, pool_size=pool_size, run=tmp_path)
    cb.model = SimpleNamespace(device="cpu")
    cb._refill(900)
    assert [p["step"] for p in cb.pool] == kept


@pytest.mark.parametrize("snapshot_every, kept", [(100, []), (150, [600]), (300, [300, 600])])
def test_resume_leaves_out_checkpoints_older_than_the_pool_s_span(tmp_path, monkeypatch, snapshot_every,
                                                                  kept):
    # Resumed at 900 with 3 snapshots: the pool holds no policy from pool_size x snapshot_every steps back
    # or more (600 with snapshots 100 steps apart), which an uninterrupted run would have dropped.
    from stable_baselines3.common import save_util

    (tmp_path / "checkpoints").mkdir()
    for step in (300, 600, 900):
        (tmp_path / "checkpoints" / f"step_{step}.zip").touch()
    monkeypatch.setattr(save_util, "load_from_zip_file",
                        lambda f, **_: (None, {"policy": {"step": int(f.stem[5:])}}, None))
    cb = SelfPlayCallback(snapshot_every=snapshot_every, pool_size=3, run=tmp_path)
    cb.model = SimpleNamespace(device="cpu")
    cb._refill(900)
    assert [p["step"] for p in cb.pool] == kept


def test_resume_leaves_a_damaged_older_checkpoint_out_of_the_pool(tmp_path, capsys):
    # It stopped the resumed run at its start with a BadZipFile traceback.
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "step_600.zip").write_bytes(b"PK\x03\x04 cut short")
    (tmp_path / "checkpoints" / "step_900.zip").touch()
    cb = SelfPlayCallback(snapshot_every=1000, pool_size=3, run=tmp_path)
    cb.model = SimpleNamespace(device="cpu")
    cb._refill(900)
    assert cb.pool == [] and "self-play leaves out checkpoint" in capsys.readouterr().err


def test_a_second_learn_with_self_play_in_one_process():
    """The opponent was a deepcopy of the learner's policy, which fails once PPO has updated it: the
    second learn() (a notebook, a script training in chunks) raised at its start."""
    from agents.train import build_model
    from envs import make_vec

    cfg = {"env": "snake_duel", "policy": "tiny", "device": "cpu", "seed": 0, "recurrent": False,
           "ppo": {"n_steps": 16, "batch_size": 64, "n_epochs": 1}}
    venv = make_vec("snake_duel", 4, num_workers=0, seed=0, opponent="policy")
    try:
        model = build_model(cfg, venv)
        model.learn(64, callback=SelfPlayCallback(64, 2))
        callback = SelfPlayCallback(64, 2)
        model.learn(64, callback=callback, reset_num_timesteps=False)
        assert model.num_timesteps == 128
        learner, opponent = model.policy.state_dict(), callback.opponent.state_dict()
        assert learner.keys() == opponent.keys() and callback.opponent.training is False
        assert all(v.data_ptr() != learner[k].data_ptr() for k, v in opponent.items())  # a copy
    finally:
        venv.close()


def test_a_resumed_run_does_not_replay_a_fresh_run_s_opponent_draws(monkeypatch):
    # The draws are seeded with the seed plus the start step: a run resumed from a full pool (seven older
    # snapshots refilled, the current policy the eighth) drew the same sequence of slots as a fresh start.
    older = [{"weight": torch.full((1, 1), -1.0 - i)} for i in range(7)]
    monkeypatch.setattr(SelfPlayCallback, "_refill", lambda self, now: self.pool.extend(older))

    def slots(start: int) -> list[int]:
        drawn: list[int] = []
        pool_steps(start, start + 40, 1, 10**9, pool_size=8, drawn=drawn)
        return [0 if step == start else step for step in drawn]  # the current policy's slot, any start

    assert slots(1000) != slots(0)
    assert slots(1000) == slots(1000)
