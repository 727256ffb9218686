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
