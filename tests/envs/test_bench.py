import pytest

from envs import GAMES
from envs.bench import game_sps


def kwargs_for(name):
    if name in ("pokemon_red", "gameboy"):
        pytest.importorskip("pyboy")
        from envs.gameboy.roms import TEST_CARTRIDGE

        return {"rom": TEST_CARTRIDGE, **({"game": "depthfirst_test"} if name == "gameboy" else {})}
    return {}


@pytest.mark.parametrize("name", sorted(GAMES))
def test_every_game_runs_the_speed_loop(name):
    n = 2 if name in ("pokemon_red", "gameboy") else 64
    assert game_sps(name, seconds=0.05, num_envs=n, **kwargs_for(name)) > 0
