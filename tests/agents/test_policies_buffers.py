import re

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer

from agents.buffers import DeviceRolloutBuffer
from agents.policies import PRESETS, GridCNN, count_params, policy_kwargs

SNAKE_OBS = spaces.Box(0, 255, (4, 10, 10), np.uint8)


def test_10m_preset_is_ten_million_parameters():
    from stable_baselines3.common.policies import ActorCriticCnnPolicy

    policy = ActorCriticCnnPolicy(SNAKE_OBS, spaces.Discrete(4), lambda _: 1e-4, **policy_kwargs("10m"))
    assert 8.5e6 <= count_params(policy) <= 11.5e6


@pytest.mark.parametrize("shape", [(4, 10, 10), (3, 40, 40), (3, 48, 96), (2, 72, 80), (4, 32, 32)])
def test_every_preset_accepts_any_image_and_downsamples_big_ones(shape):
    space = spaces.Box(0, 255, shape, np.uint8)
    for name, p in PRESETS.items():
        net = GridCNN(space, p.channels, p.hidden)
        out = net(torch.rand(2, *shape))
        assert out.shape == (2, p.hidden), name
    big = GridCNN(spaces.Box(0, 255, (3, 48, 96), np.uint8), (16, 32), 64)
    assert any(m.stride == (2, 2) for m in big.modules() if isinstance(m, torch.nn.Conv2d))


@pytest.mark.parametrize("side, kept", [(12, 12), (13, 7), (24, 12), (25, 7), (160, 10)])
def test_images_are_downsampled_only_until_their_longer_side_is_at_most_max_side(side, kept):
    # A 12-cell grid keeps every cell; a stride-2 convolution maps 25 pixels to 13, which needs one more.
    net = GridCNN(spaces.Box(0, 255, (3, side, side), np.uint8), (16, 32), 64)
    assert net.trunk[:-1](torch.zeros(1, 3, side, side)).shape[-2:] == (kept, kept)


@pytest.mark.parametrize("shape, kept", [((3, 48, 96), (6, 12)), ((3, 144, 160), (9, 10)),
                                         ((3, 96, 20), (12, 3))])
def test_a_wide_or_tall_image_is_downsampled_by_its_longer_side(shape, kept):
    # The longer side sets the number of stride-2 layers: 96 pixels take three (48, 24, 12), where the
    # shorter 48 or 20 would stop at two or one. (A Game Boy screen's 144 and 160 both take four.)
    net = GridCNN(spaces.Box(0, 255, shape, np.uint8), (16, 32), 64)
    assert net.trunk[:-1](torch.zeros(1, *shape)).shape[-2:] == kept


# README's presets table: the parameters of each preset's policy on 10x10 Snake.
README_PARAMS = {"tiny": 415_605, "small": 1_696_549, "medium": 3_356_101, "10m": 10_058_821}


def test_presets_match_their_parameter_counts_and_heads_read_the_trunk_directly():
    from stable_baselines3.common.policies import ActorCriticCnnPolicy

    assert set(README_PARAMS) == set(PRESETS)

    assert count_params(torch.nn.Linear(3, 2)) == 8  # weights and biases
    for name, preset in PRESETS.items():
        policy = ActorCriticCnnPolicy(SNAKE_OBS, spaces.Discrete(4), lambda _: 1e-4, **policy_kwargs(name))
        assert count_params(policy) == README_PARAMS[name], name
        # shared trunk, then linear policy and value heads: no hidden layers in between
        assert count_params(policy.mlp_extractor) == 0
        assert policy.action_net.in_features == policy.value_net.in_features == preset.hidden


def test_the_trunk_is_relu_convolutions_then_a_relu_dense_layer():
    # 160 pixels take four stride-2 convolutions (80, 40, 20, 10): the two past tiny's widths keep its last.
    net = GridCNN(spaces.Box(0, 255, (3, 160, 160), np.uint8), (16, 32), 64)
    convs = [m for m in net.trunk if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.stride) for m in convs] == [
        (3, 16, (2, 2)), (16, 32, (2, 2)), (32, 32, (2, 2)), (32, 32, (2, 2))]
    assert [type(m) for m in net.trunk] == [torch.nn.Conv2d, torch.nn.ReLU] * 4 + [torch.nn.Flatten]
    assert [type(m) for m in net.head] == [torch.nn.Linear, torch.nn.ReLU]
    grid = GridCNN(SNAKE_OBS, (16, 32, 64), 64)  # a grid keeps every cell: stride 1, the preset's widths
    assert [(m.out_channels, m.stride) for m in grid.trunk if isinstance(m, torch.nn.Conv2d)] == [
        (16, (1, 1)), (32, (1, 1)), (64, (1, 1))]


def test_the_policy_reads_pixels_scaled_to_the_unit_range():
    from stable_baselines3.common.policies import ActorCriticCnnPolicy

    policy = ActorCriticCnnPolicy(SNAKE_OBS, spaces.Discrete(4), lambda _: 1e-4, **policy_kwargs("tiny"))
    obs = torch.randint(0, 256, (2, 4, 10, 10), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(policy.extract_features(obs, policy.features_extractor),
                                   policy.features_extractor(obs.float() / 255))


def test_cuda_float32_matmuls_run_on_tf32():
    # README, "On a GPU": every process that builds or loads the policies turns it on.
    import agents.policies  # noqa: F401

    assert torch.backends.cuda.matmul.allow_tf32


def _first_conv_input_channels_last(net: GridCNN, x: torch.Tensor) -> bool:
    seen = []
    hook = net.trunk[0].register_forward_pre_hook(
        lambda _, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    try:
        net(x)
    finally:
        hook.remove()
    return seen[0]


@pytest.mark.parametrize("wide_from", [None, 64, 128])
def test_which_trunks_take_channels_last_input_on_a_cpu(monkeypatch, wide_from):
    # Strided trunks everywhere; full-resolution ones only from the width at which this CPU's convolutions
    # measured faster so (64 channels with AVX-512, 128 with AVX2; never on others), else as they are.
    import agents.policies

    monkeypatch.setattr(agents.policies, "WIDE_CHANNELS_ON_CPU", wide_from)
    strided = GridCNN(spaces.Box(0, 255, (3, 48, 96), np.uint8), (16, 32), 64)
    assert strided.channels_last and strided.cpu_channels_last
    assert _first_conv_input_channels_last(strided, torch.rand(2, 3, 48, 96))
    x = torch.rand(2, 4, 10, 10)
    for widths in ((16, 32), (32, 64), (64, 127), (64, 128, 128)):
        net = GridCNN(SNAKE_OBS, widths, 64)
        wide = wide_from is not None and max(widths) >= wide_from
        assert not net.channels_last and net.cpu_channels_last == wide, widths
        assert _first_conv_input_channels_last(net, x) == wide, widths


def test_the_cpus_vector_unit_sets_the_width_from_which_trunks_take_channels_last():
    import agents.policies

    capability = torch.backends.cpu.get_cpu_capability()
    assert {"AVX512": 64, "AVX2": 128}.get(capability) == agents.policies.WIDE_CHANNELS_ON_CPU, capability


def test_off_the_cpu_only_strided_trunks_take_channels_last_input(monkeypatch):
    # Wide trunks' channels-last is a CPU's finding (oneDNN's convolutions); on another device (a GPU:
    # "meta" stands in) a full-resolution trunk keeps the default layout.
    import agents.policies

    monkeypatch.setattr(agents.policies, "WIDE_CHANNELS_ON_CPU", 64)
    wide = GridCNN(SNAKE_OBS, (32, 64), 64).to("meta")
    strided = GridCNN(spaces.Box(0, 255, (3, 48, 96), np.uint8), (16, 32), 64).to("meta")
    assert wide.cpu_channels_last
    assert not _first_conv_input_channels_last(wide, torch.rand(2, 4, 10, 10, device="meta"))
    assert _first_conv_input_channels_last(strided, torch.rand(2, 3, 48, 96, device="meta"))


@pytest.mark.parametrize("obs, widths", [((3, 48, 96), (16, 32)), ((4, 10, 10), (32, 64))])
def test_channels_last_images_compute_the_same_features_and_gradients(obs, widths):
    net = GridCNN(spaces.Box(0, 255, obs, np.uint8), widths, 64)
    x = torch.rand(4, *obs)
    runs = []
    for channels_last in (True, False):
        net.cpu_channels_last = channels_last
        assert _first_conv_input_channels_last(net, x) == channels_last
        net.zero_grad()
        out = net(x)
        out.sum().backward()
        runs.append((out.detach(), [p.grad.clone() for p in net.parameters()]))
    (fast, grad_fast), (plain, grad_plain) = runs
    torch.testing.assert_close(fast, plain)
    for a, b in zip(grad_fast, grad_plain, strict=True):
        torch.testing.assert_close(a, b)


def test_side_by_side_panels_are_stacked_as_channels():
    # Rotation's (3, S, 2S) target|current picture reaches the trunk as one (6, S, S) image.
    assert policy_kwargs("tiny", "rotation")["features_extractor_kwargs"]["panels"] == 2
    assert policy_kwargs("tiny", "snake")["features_extractor_kwargs"]["panels"] == 1
    paired = GridCNN(spaces.Box(0, 255, (3, 24, 48), np.uint8), (16, 32), 64, panels=2)
    stacked = GridCNN(spaces.Box(0, 255, (6, 24, 24), np.uint8), (16, 32), 64)
    stacked.load_state_dict(paired.state_dict())
    x = torch.rand(3, 3, 24, 48)
    torch.testing.assert_close(paired(x), stacked(torch.cat([x[..., :24], x[..., 24:]], dim=1)))
    # Folded first, then made channels-last: the other way round the fold's copy is in the default layout,
    # and Rotation's strided trunk loses its faster input.
    assert _first_conv_input_channels_last(paired, x)
    with pytest.raises(ValueError, match="5 equal panels"):
        GridCNN(spaces.Box(0, 255, (3, 24, 48), np.uint8), (16, 32), 64, panels=5)
    with pytest.raises(ValueError, match="0 equal panels"):
        GridCNN(spaces.Box(0, 255, (3, 24, 48), np.uint8), (16, 32), 64, panels=0)


def test_unknown_preset_lists_known():
    with pytest.raises(ValueError, match=r"known presets: .*10m"):
        policy_kwargs("huge")


def fill(buf, rng, n_steps, n_envs):
    for _ in range(n_steps):
        buf.add(rng.integers(0, 256, (n_envs, 4, 10, 10), dtype=np.uint8), rng.integers(0, 4, (n_envs, 1)),
                rng.normal(size=n_envs).astype(np.float32), rng.random(n_envs) < 0.1,
                torch.tensor(rng.normal(size=(n_envs, 1)), dtype=torch.float32),
                torch.tensor(rng.normal(size=n_envs), dtype=torch.float32))


def buffer_pair(n_steps: int, n_envs: int) -> tuple[DeviceRolloutBuffer, RolloutBuffer]:
    """Ours and SB3's rollout buffer for Snake's observations, with the same settings."""
    return tuple(cls(n_steps, SNAKE_OBS, spaces.Discrete(4), "cpu", gae_lambda=0.95, gamma=0.99,
                     n_envs=n_envs) for cls in (DeviceRolloutBuffer, RolloutBuffer))


def rollout_into(buffers: tuple[RolloutBuffer, ...], seed: int, last: torch.Tensor, dones: np.ndarray
                 ) -> None:
    """The same rollout of ``seed`` into each of ``buffers``, then its returns and advantages."""
    for buf in buffers:
        fill(buf, np.random.default_rng(seed), buf.buffer_size, buf.n_envs)
        buf.compute_returns_and_advantage(last, dones)


def test_device_buffer_keeps_uint8_and_matches_sb3_advantages():
    n_steps, n_envs = 16, 8
    ours, ref = buffer_pair(n_steps, n_envs)
    last = torch.tensor(np.random.default_rng(1).normal(size=(n_envs, 1)), dtype=torch.float32)
    rollout_into((ours, ref), 0, last, np.random.default_rng(2).random(n_envs) < 0.5)
    assert ours.observations.dtype == torch.uint8
    assert ours.observations.nbytes == n_steps * n_envs * 4 * 10 * 10  # one byte per pixel, no float copy
    np.testing.assert_allclose(ours.advantages.numpy(), ref.advantages, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.returns, ref.returns, rtol=1e-5, atol=1e-5)
    batches = list(ours.get(32))
    assert len(batches) == n_steps * n_envs // 32
    assert batches[0].observations.dtype == torch.uint8 and batches[0].actions.shape == (32, 1)
    seen = torch.cat([b.old_log_prob for b in batches]).sort().values
    assert torch.equal(seen, ours.log_probs.flatten().sort().values)  # every sample once per epoch


def test_device_buffer_resets_in_place_and_a_second_rollout_matches_sb3():
    # reset() made new tensors each rollout while the old ones were still held: the buffer's peak memory
    # doubled, and a run under a ulimit -v that its buffer fitted once failed at its second rollout.
    ours, ref = buffer_pair(8, 4)
    names = DeviceRolloutBuffer._TENSORS
    storage = {name: getattr(ours, name).data_ptr() for name in names}
    for seed in (0, 1):  # two rollouts, the second into the reset buffer
        ours.reset()
        ref.reset()
        rollout_into((ours, ref), seed, torch.ones(4, 1), np.zeros(4, dtype=bool))
        np.testing.assert_allclose(ours.returns, ref.returns, rtol=1e-5, atol=1e-5)
    assert {name: getattr(ours, name).data_ptr() for name in names} == storage
    ours.reset()
    assert all(not getattr(ours, name).any() for name in names) and ours.pos == 0 and not ours.full


def test_device_buffer_refuses_float_observations():
    floats = spaces.Box(0, 1, (3,), np.float32)
    with pytest.raises(TypeError, match=re.escape(f"stores uint8 Box observations (images); got {floats}: ")):
        DeviceRolloutBuffer(4, floats, spaces.Discrete(2), "cpu")
    # VecNormalize's observations (norm_obs=True, its default): the error says what to change.
    with pytest.raises(TypeError, match=r"norm_obs=False.*SB3's own RolloutBuffer"):
        DeviceRolloutBuffer(4, spaces.Box(-10, 10, (4, 10, 10), np.float32), spaces.Discrete(4), "cpu")
    moves = spaces.Box(-1, 1, (2,), np.float32)
    with pytest.raises(TypeError, match=f"supports Discrete actions; got {re.escape(str(moves))}$"):
        DeviceRolloutBuffer(4, SNAKE_OBS, moves, "cpu")


def test_a_minibatch_size_that_does_not_divide_the_rollout_still_serves_every_sample_once():
    # As SB3's RolloutBuffer: 16 × 8 = 128 samples in minibatches of 48 are 48, 48 and the last 32.
    n_steps, n_envs = 16, 8
    buf = DeviceRolloutBuffer(n_steps, SNAKE_OBS, spaces.Discrete(4), "cpu", n_envs=n_envs)
    fill(buf, np.random.default_rng(0), n_steps - 1, n_envs)
    assert not buf.full  # one step short of a rollout
    fill(buf, np.random.default_rng(1), 1, n_envs)
    assert buf.full
    buf.compute_returns_and_advantage(torch.zeros(n_envs), np.zeros(n_envs))
    batches = list(buf.get(48))
    assert [len(b.old_log_prob) for b in batches] == [48, 48, 32]
    seen = torch.cat([b.old_log_prob for b in batches]).sort().values
    assert torch.equal(seen, buf.log_probs.flatten().sort().values)
    whole = list(buf.get())  # no batch size: the whole rollout at once
    assert len(whole) == 1 and len(whole[0].old_log_prob) == n_steps * n_envs


def test_every_minibatch_field_comes_from_the_same_sample_and_reset_starts_a_new_rollout():
    """Each sample's fields stay together through the shuffle (old_values was once served from the returns:
    with the default clip_range_vf=None PPO never reads it, so the update test missed it), and ``reset``
    (SB3 calls it before each rollout) empties the buffer: a second rollout writes from step 0 anew."""
    n_steps, n_envs = 8, 4
    buf = DeviceRolloutBuffer(n_steps, SNAKE_OBS, spaces.Discrete(4), "cpu", gae_lambda=0.9, gamma=0.5,
                              n_envs=n_envs)
    for rollout in (1, 2):
        buf.reset()
        assert buf.pos == 0 and not buf.full
        for step in range(n_steps):
            index = np.arange(n_envs) + step * n_envs + 100 * rollout  # one number per sample
            obs = np.zeros((n_envs, *SNAKE_OBS.shape), np.uint8)
            obs[:, 0, 0, 0] = index
            buf.add(obs, index % 4, np.ones(n_envs, np.float32), np.zeros(n_envs, bool),
                    torch.tensor(index, dtype=torch.float32), torch.tensor(-index, dtype=torch.float32))
        assert buf.full
        buf.compute_returns_and_advantage(torch.zeros(n_envs), np.ones(n_envs))
        batches = list(buf.get(6))
        index = torch.cat([b.observations[:, 0, 0, 0] for b in batches]).float()
        assert sorted(index.tolist()) == list(range(100 * rollout, 100 * rollout + n_steps * n_envs))
        for name, expected in (("actions", index.long().unsqueeze(1) % 4), ("old_values", index),
                               ("old_log_prob", -index)):
            assert torch.equal(torch.cat([getattr(b, name) for b in batches]), expected), name
        returns = torch.cat([b.returns for b in batches])
        torch.testing.assert_close(returns - torch.cat([b.advantages for b in batches]), index)
        assert not torch.equal(returns, index)  # the rewards count


class SeededLikeGameVecEnv(gym.Wrapper):
    """One board of a stock VecEnv whose autoresets are seeded as ``GameVecEnv`` seeds board ``k``:
    its e-th episode gets ``seed + k + e * n`` (stock SB3 resets later episodes unseeded)."""

    def __init__(self, env: gym.Env, k: int, n: int) -> None:
        super().__init__(env)
        self.k, self.n, self.base, self.episode = k, n, 0, 0

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.base, self.episode = seed - self.k, 0
        self.episode += 1
        return self.env.reset(seed=self.base + self.k + (self.episode - 1) * self.n, options=options)


def test_one_ppo_update_equals_stock_sb3(monkeypatch):
    # The 1.74x speedup over stock SB3 (agents/throughput.py) is only worth quoting if both learn the same:
    # GameVecEnv + DeviceRolloutBuffer against Monitor-wrapped GameEnvs in a DummyVecEnv + RolloutBuffer,
    # from the same seed and with the same minibatch order, must end the update with the same parameters.
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.train import build_model
    from envs import make_env, make_vec

    n, t, game, kwargs = 4, 16, "snake", {"starvation": 5}  # starving truncates: SB3 bootstraps those
    ppo = {"n_steps": t, "batch_size": 16, "n_epochs": 2}
    # One minibatch order for both: ours flattens the rollout step-major (step * n + env), SB3 env-major.
    order = np.random.default_rng(0).permutation(n * t)
    monkeypatch.setattr(torch, "randperm", lambda size, device=None: torch.as_tensor(order, device=device))
    monkeypatch.setattr(np.random, "permutation", lambda size: (order % n) * t + order // n)
    ours_env = make_vec(game, n, num_workers=0, seed=0, **kwargs)
    stock_env = DummyVecEnv([lambda k=k: Monitor(SeededLikeGameVecEnv(make_env(game, **kwargs), k, n))
                             for k in range(n)])
    ours = build_model({"env": game, "policy": "tiny", "device": "cpu", "seed": 0, "ppo": ppo}, ours_env)
    stock = PPO("CnnPolicy", stock_env, policy_kwargs=policy_kwargs("tiny", game), device="cpu", seed=0,
                **ppo)
    assert isinstance(ours.rollout_buffer, DeviceRolloutBuffer)
    assert type(stock.rollout_buffer) is RolloutBuffer
    start = [p.detach().clone() for p in ours.policy.parameters()]
    for model in (ours, stock):
        model.set_logger(Logger(folder=None, output_formats=[]))
        torch.manual_seed(1)  # the same sampled actions
        model.learn(n * t)
    ours_env.close()
    stock_env.close()
    a, b = ours.rollout_buffer, stock.rollout_buffer
    assert (a.rewards % 1).abs().sum() > 0  # some rewards carry a timeout's bootstrapped value
    for name in ("observations", "actions", "rewards", "values", "log_probs", "advantages", "returns"):
        mine = getattr(a, {"values": "values_t", "returns": "returns_t"}.get(name, name))
        mine = torch.as_tensor(mine).swapaxes(0, 1).reshape(n * t, -1)  # env-major, as SB3's get() leaves it
        theirs = getattr(b, name)
        theirs = torch.as_tensor(theirs.swapaxes(0, 1) if name == "rewards" else theirs).reshape(n * t, -1)
        torch.testing.assert_close(mine.to(theirs.dtype), theirs, msg=name)
    assert [(e["r"], e["l"]) for e in ours.ep_info_buffer] == [(e["r"], e["l"]) for e in stock.ep_info_buffer]
    assert any(not torch.equal(p, q) for p, q in zip(ours.policy.parameters(), start, strict=True))
    for p, q in zip(ours.policy.parameters(), stock.policy.parameters(), strict=True):
        torch.testing.assert_close(p, q)


@pytest.mark.parametrize("space", [spaces.Box(0, 255, (7, 7), np.uint8), spaces.Box(0, 1, (10,), np.float32),
                                   spaces.Discrete(5)])
def test_grid_cnn_refuses_observations_that_are_no_images(space):
    """Given through policy_kwargs on someone else's env: a clear error, not 'not enough values to unpack'."""
    from stable_baselines3 import PPO

    class Env(gym.Env):
        observation_space, action_space = space, spaces.Discrete(3)

    with pytest.raises(ValueError, match=r"GridCNN takes image observations.*got"):
        PPO("MlpPolicy", Env(), policy_kwargs=policy_kwargs("tiny"), device="cpu")


# Every game as the trainer builds it, the Game Boy ones on the project's test cartridge.
TRAINER_GAMES = [("snake", []), ("rotation", []), ("snake_duel", []), ("sokoban", []),
                 ("gameboy", ["env_kwargs.game=depthfirst_test"]),
                 ("pokemon_red", ["env_kwargs.rom=TEST_CARTRIDGE", "env_kwargs.state=null"])]


@pytest.mark.parametrize("env, sets", TRAINER_GAMES, ids=[g for g, _ in TRAINER_GAMES])
def test_every_game_plays_through_the_trainers_policy(env, sets):
    """The hard-coded shapes above stand in for the games: here each game's own observations, from the
    env and model train.py builds (its config's defaults), reach logits over its actions."""
    from agents.config import apply_set, load_config, resolve
    from agents.train import build_model
    from envs import game_class, make_vec

    if env in ("gameboy", "pokemon_red"):
        pytest.importorskip("pyboy")
        from envs.gameboy.roms import TEST_CARTRIDGE

        sets = [s.replace("TEST_CARTRIDGE", str(TEST_CARTRIDGE)) for s in sets]
    small = ["num_envs=2", "num_workers=0", "ppo.n_steps=8", "ppo.batch_size=16"]
    cfg = resolve(apply_set(load_config(env), [*small, *sets]), cuda_available=False)
    game = game_class(env)
    # The CPU default (tiny), and for the side-by-side game the CUDA default too (~1 s).
    presets = {cfg["policy"], "tiny"} | ({cfg["cuda_policy"]} if game.OBS_PANELS > 1 else set())
    venv = make_vec(cfg["env"], cfg["num_envs"], num_workers=cfg["num_workers"], seed=cfg["seed"],
                    **cfg["env_kwargs"])
    try:
        obs = venv.reset()
        c = venv.observation_space.shape[0]
        for preset in sorted(presets):
            policy = build_model({**cfg, "policy": preset}, venv).policy
            first = next(m for m in policy.features_extractor.trunk if isinstance(m, torch.nn.Conv2d))
            assert first.in_channels == c * game.OBS_PANELS, (preset, first)  # panels folded into channels
            with torch.no_grad():
                logits = policy.get_distribution(policy.obs_to_tensor(obs)[0]).distribution.logits
            assert logits.shape == (2, len(game.ACTION_NAMES)), preset
            assert torch.isfinite(logits).all(), preset
    finally:
        venv.close()


def test_the_buffer_makes_every_tensor_on_its_own_device():
    # A CUDA run's rollout: one tensor of the GAE made on the CPU fails the first update there, which no
    # CPU test saw. The meta device stands in for CUDA here: no data, but a tensor of another device raises.
    n_steps, n_envs = 4, 2
    buf = DeviceRolloutBuffer(n_steps, SNAKE_OBS, spaces.Discrete(4), "meta", n_envs=n_envs)
    fill(buf, np.random.default_rng(0), n_steps, n_envs)
    buf.compute_returns_and_advantage(torch.zeros(n_envs, 1, device="meta"), np.zeros(n_envs, bool))
    [batch] = buf.get()
    assert {t.device.type for t in batch} == {"meta"}
    assert {getattr(buf, name).device.type for name in DeviceRolloutBuffer._TENSORS} == {"meta"}
