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


def test_channels_last_images_compute_the_same_features_and_gradients():
    net = GridCNN(spaces.Box(0, 255, (3, 48, 96), np.uint8), (16, 32), 64)
    assert net.channels_last and not GridCNN(SNAKE_OBS, (16, 32), 64).channels_last
    x = torch.rand(4, 3, 48, 96)
    fast = net(x)
    fast.sum().backward()
    grad_fast = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    net.channels_last = False
    plain = net(x)
    plain.sum().backward()
    torch.testing.assert_close(fast, plain)
    for a, p in zip(grad_fast, net.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad)


def test_side_by_side_panels_are_stacked_as_channels():
    # Rotation's (3, S, 2S) target|current picture reaches the trunk as one (6, S, S) image.
    assert policy_kwargs("tiny", "rotation")["features_extractor_kwargs"]["panels"] == 2
    assert policy_kwargs("tiny", "snake")["features_extractor_kwargs"]["panels"] == 1
    paired = GridCNN(spaces.Box(0, 255, (3, 24, 48), np.uint8), (16, 32), 64, panels=2)
    stacked = GridCNN(spaces.Box(0, 255, (6, 24, 24), np.uint8), (16, 32), 64)
    stacked.load_state_dict(paired.state_dict())
    x = torch.rand(3, 3, 24, 48)
    torch.testing.assert_close(paired(x), stacked(torch.cat([x[..., :24], x[..., 24:]], dim=1)))
    with pytest.raises(ValueError, match="5 equal panels"):
        GridCNN(spaces.Box(0, 255, (3, 24, 48), np.uint8), (16, 32), 64, panels=5)


def test_unknown_preset_lists_known():
    with pytest.raises(ValueError, match=r"known presets: .*10m"):
        policy_kwargs("huge")


def fill(buf, rng, n_steps, n_envs):
    for _ in range(n_steps):
        buf.add(rng.integers(0, 256, (n_envs, 4, 10, 10), dtype=np.uint8), rng.integers(0, 4, (n_envs, 1)),
                rng.normal(size=n_envs).astype(np.float32), rng.random(n_envs) < 0.1,
                torch.tensor(rng.normal(size=(n_envs, 1)), dtype=torch.float32),
                torch.tensor(rng.normal(size=n_envs), dtype=torch.float32))


def test_device_buffer_keeps_uint8_and_matches_sb3_advantages():
    n_steps, n_envs = 16, 8
    ours = DeviceRolloutBuffer(n_steps, SNAKE_OBS, spaces.Discrete(4), "cpu", gae_lambda=0.95, gamma=0.99,
                               n_envs=n_envs)
    ref = RolloutBuffer(n_steps, SNAKE_OBS, spaces.Discrete(4), "cpu", gae_lambda=0.95, gamma=0.99,
                        n_envs=n_envs)
    fill(ours, np.random.default_rng(0), n_steps, n_envs)
    fill(ref, np.random.default_rng(0), n_steps, n_envs)
    last = torch.tensor(np.random.default_rng(1).normal(size=(n_envs, 1)), dtype=torch.float32)
    dones = np.random.default_rng(2).random(n_envs) < 0.5
    ours.compute_returns_and_advantage(last, dones)
    ref.compute_returns_and_advantage(last, dones)
    assert ours.observations.dtype == torch.uint8
    assert ours.observations.nbytes == n_steps * n_envs * 4 * 10 * 10  # one byte per pixel, no float copy
    np.testing.assert_allclose(ours.advantages.numpy(), ref.advantages, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.returns, ref.returns, rtol=1e-5, atol=1e-5)
    batches = list(ours.get(32))
    assert len(batches) == n_steps * n_envs // 32
    assert batches[0].observations.dtype == torch.uint8 and batches[0].actions.shape == (32, 1)
    seen = torch.cat([b.old_log_prob for b in batches]).sort().values
    assert torch.equal(seen, ours.log_probs.flatten().sort().values)  # every sample once per epoch


def test_device_buffer_refuses_float_observations():
    with pytest.raises(TypeError, match="uint8"):
        DeviceRolloutBuffer(4, spaces.Box(0, 1, (3,), np.float32), spaces.Discrete(2), "cpu")
