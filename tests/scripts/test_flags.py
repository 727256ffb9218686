"""The scripts' shared flags, as a user types them: the game's name and the VLM client's counts."""

import pytest


@pytest.mark.parametrize("script", ["train_ppo", "compare", "evaluate"])
def test_an_empty_env_is_named_empty_with_the_games(script, scripts, capsys):
    # train_ppo said "--env is required" (the user gave one), evaluate "--vlm needs ... --env", compare
    # "--env '' is unknown".
    extra = ["--vlm", "m@http://127.0.0.1:9/v1"] if script == "evaluate" else []
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main(["--env", "", *extra])
    assert exc.value.code == 2
    assert "argument --env: is empty; name a game: gameboy, pokemon_red, rotation" in capsys.readouterr().err


@pytest.mark.parametrize("flag, low", [("--retries", 0), ("--max-tokens", 1), ("--concurrency", 1)])
def test_the_vlm_client_counts_take_1e3_and_refuse_less_than_their_bound(flag, low, capsys):
    # They were plain ints: "1e3", which every other count flag of the project takes, was "invalid int".
    import argparse

    from agents.vlm_client import add_client_arguments

    p = argparse.ArgumentParser()
    add_client_arguments(p)
    assert getattr(p.parse_args([flag, "1e3"]), flag[2:].replace("-", "_")) == 1000
    with pytest.raises(SystemExit):
        p.parse_args([flag, str(low - 1)])
    assert f"argument {flag}: must be >= {low}, got {low - 1}" in capsys.readouterr().err
