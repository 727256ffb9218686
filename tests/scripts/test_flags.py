"""The scripts' shared flags, as a user types them: the game's name and the VLM client's counts."""

import json

import pytest


@pytest.mark.parametrize("env", ["", "  "])  # blanks alone are empty too, not an unknown game "  "
@pytest.mark.parametrize("script", ["train_ppo", "compare", "evaluate"])
def test_an_empty_env_is_named_empty_with_the_games(script, env, scripts, capsys):
    # train_ppo said "--env is required" (the user gave one), evaluate "--vlm needs ... --env", compare
    # "--env '' is unknown".
    extra = ["--vlm", "m@http://127.0.0.1:9/v1"] if script == "evaluate" else []
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main(["--env", env, *extra])
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


@pytest.mark.parametrize("argv, message", [
    (["--split", "-1,1,1"], "--split expects three non-negative fractions train,val,test"),
    (["--min-score", "-1e3"], "no such run folder"),  # taken: the run folder is the next check
])
def test_an_export_value_starting_with_a_minus_reaches_its_own_check(argv, message, scripts, tmp_path,
                                                                     capsys):
    # argparse read "-1,1,1" and "-1e3" as flags: "argument --split: expected one argument".
    export = scripts.export_trajectories.main
    assert export([str(tmp_path / "run"), "--out", str(tmp_path / "out"), *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("script, argv, message", [
    ("train_ppo", ["--total-timesteps", "-1e3"], "argument --total-timesteps: must be >= 1, got -1e3"),
    ("evaluate", ["run", "--episodes", "-1e3"], "argument --episodes: must be >= 1, got -1e3"),
    ("compare", ["--env", "snake", "--episodes", "-1e3"], "argument --episodes: must be >= 1, got -1e3"),
    ("export_trajectories", ["run", "--out", "out", "--tasks-per-state", "-1e3"],
     "argument --tasks-per-state: must be >= 0, got -1e3"),
    ("plot_curve", ["run", "--out", "x.png", "--baseline", "-inf"],
     "argument --baseline: must be a finite number, got -inf"),
    ("play_gameboy", ["--rom", "r.gb", "--save-state", "s.state", "--scale", "-1e3"],
     "argument --scale: must be >= 1, got -1e3"),
    ("benchmark", ["--seconds", "-1e3"], "argument --seconds: must be > 0, got -1e3"),
    # These two take only paths: -1e3 is a file name, and the empty check shows it was taken as the value.
    ("score_predictions", ["split.jsonl", "predictions.jsonl", "--specialist", "-1e3", "--out", ""],
     "argument --out: is empty"),
    ("make_state", ["--rom", "r.gb", "--inputs", "i.txt", "--state", "-1e3", "--out", ""],
     "argument --out: is empty"),
])
def test_every_scripts_flag_value_starting_with_a_minus_and_a_number_reaches_its_own_check(
        script, argv, message, scripts, capsys):
    # argparse read -1e3, -.5 and -inf after a flag as another flag: "argument --X: expected one argument".
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_script_parser_joins_a_minus_led_number_to_a_flag_taking_one_value_only():
    import argparse

    from agents.cli import script_parser

    p = script_parser(None)
    p.add_argument("--split")
    p.add_argument("--baseline", action="append")
    p.add_argument("--out")
    p.add_argument("--json", action="store_true")
    p.add_argument("-s", type=float)
    p.add_argument("rest", nargs="*")
    # A dash inside a value (1e-3) needs no joining; -x is no number: argparse's own error stays.
    args = p.parse_args(["--split", "-1,1,1", "--baseline", ".5", "--baseline", "-.5", "--baseline", "1e-3",
                         "--baseline", "-inf", "--baseline", "-NaN", "--baseline=-infinity", "-s", "-1e3"])
    assert args.baseline == [".5", "-.5", "1e-3", "-inf", "-NaN", "-infinity"]
    assert (args.split, args.s) == ("-1,1,1", -1000.0)
    assert p.parse_args(["--split", "-inf,1"]).split == "-inf,1"
    # a flag taking no value is never joined; after -- every word is a positional
    args, unknown = p.parse_known_args(["--json", "-1e3", "--", "--out", "-1e3"])
    assert (args.json, args.out, args.rest, unknown) == (True, None, ["--out", "-1e3"], ["-1e3"])
    for argv in (["--out", "-x"], ["--out", "-info"], ["--ou", "-1e3"]):  # no prefixes: allow_abbrev is off
        with pytest.raises(SystemExit):
            p.parse_args(argv)
    assert isinstance(p, argparse.ArgumentParser)


@pytest.mark.parametrize("script, argv, message", [
    *[(script, ["--timeout", "-inf"], "--timeout must be a finite number of seconds > 0, at most 1e+09")
      for script in ("compare", "evaluate")],
    ("evaluate", ["--temperature", "-inf"], "--temperature must be a finite number >= 0, got -inf"),
    ("compare", ["--retries", "-1e3"], "argument --retries: must be >= 0, got -1e3"),
    *[("compare", ["--price-per-1k-tokens", price], "--price-per-1k-tokens expects [MODEL=]PRICE or "
       "[MODEL=]PROMPT,COMPLETION (non-negative numbers") for price in ("-inf", "-inf,1", "-nan,1")],
])
def test_a_vlm_flags_value_starting_with_a_minus_reaches_its_own_check(script, argv, message, scripts,
                                                                       tmp_path, capsys):
    # argparse read -inf (and -1e3, -inf,1) as a flag: "argument --timeout: expected one argument".
    argv = ["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", *argv, "--no-cache", "--out", str(tmp_path)]
    with pytest.raises(SystemExit) as exc:  # argparse's errors exit, the others return 2
        raise SystemExit(getattr(scripts, script).main(argv))
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_an_api_key_given_as_api_key_env_is_refused_without_showing_it(script, scripts, tmp_path, capsys):
    # The key, where the name of the variable holding it was wanted, was read as that name: refused only by
    # the server's 401, after the games were set up (and a report records the command).
    for key in ("sk-proj-Secret123", "1abc", "MY KEY"):
        argv = ["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--api-key-env", key, "--no-cache",
                "--out", str(tmp_path)]
        with pytest.raises(SystemExit) as exc:
            getattr(scripts, script).main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert ("argument --api-key-env: takes the NAME of the environment variable that holds the API key "
                "(letters, digits and _, not starting with a digit), not the key") in err
        assert key not in err


@pytest.mark.parametrize("script", ["compare", "evaluate"])
@pytest.mark.parametrize("given", [["--api-key", "sk-proj-Secret123"], ["--api-key=sk-proj-Secret123"],
                                   ["--api", "sk-proj-Secret123"], ["--api=sk-proj-Secret123"],
                                   ["--api-ke", "sk-proj-Secret123"], ["--api_key", "sk-proj-Secret123"],
                                   ["--apikey=sk-proj-Secret123"], ["--openai-api-key", "sk-proj-Secret123"]])
def test_a_key_given_to_api_key_or_a_flag_like_it_is_never_shown(script, given, scripts, tmp_path, capsys):
    # No such flag: argparse's "unrecognized arguments: --api-key sk-..." (or "--api sk-...": flags are taken
    # whole only, so --api is no abbreviation of --api-key) printed the key into a terminal or CI log, and
    # left --api-key-env to be found in the help.
    argv = ["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", *given, "--no-cache", "--out",
            str(tmp_path)]
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    flag = given[0].split("=")[0]
    if flag == "--api-key":
        assert "argument --api-key: the key goes in an environment variable" in err and "--api-key-env" in err
    else:
        assert f"unrecognized arguments: {flag}" in err
        assert "the key goes in an environment variable" in err and "not shown" in err
    assert "Secret123" not in err


@pytest.mark.parametrize("script", ["compare", "evaluate"])
@pytest.mark.parametrize("flag", ["--api-key", "--api-key-env"])
def test_a_key_that_begins_with_a_minus_is_not_shown_in_the_hint_to_join_it(script, flag, scripts, tmp_path,
                                                                            capsys):
    # The hint for a value read as a flag printed it: "(-sk-Secret123 reads as a flag: give a value that
    # begins with - as --api-key=-sk-Secret123)", the key in a terminal or CI log.
    from agents.cli import API_KEY_REFUSAL

    argv = ["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", flag, "-sk-Secret123", "--no-cache",
            "--out", str(tmp_path)]
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: expected one argument" in err and "Secret123" not in err
    # In place of the hint, where a key goes: not on the command line at all.
    assert f"argument {flag}: expected one argument; {API_KEY_REFUSAL}" in err, err


def test_a_script_without_a_vlm_client_hides_a_key_like_flag_s_value_naming_no_api_key_env(scripts, capsys):
    # score_predictions.py talks to no server: "name that variable with --api-key-env" named a flag it lacks.
    with pytest.raises(SystemExit) as exc:
        scripts.score_predictions.main(["split.jsonl", "preds.jsonl", "--api-key", "sk-proj-Secret123"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --api-key ...\n" in err and "Secret123" not in err


def test_api_key_env_takes_a_variable_name_or_nothing():
    import argparse

    from agents.vlm_client import add_client_arguments

    p = argparse.ArgumentParser()
    add_client_arguments(p)
    # "" names no variable: no key is sent, whatever $OPENAI_API_KEY holds (a local server needs none)
    for name in ("MY_VLM_KEY", "_k1", ""):
        assert p.parse_args(["--api-key-env", name]).api_key_env == name


@pytest.mark.parametrize("script, argv, abbreviation", [
    ("train_ppo", ["--tot", "0"], "--tot"),
    ("evaluate", ["--api-key-e", "MY_KEY"], "--api-key-e"),  # was --api-key-env
    ("compare", ["--env", "snake", "--epi", "0"], "--epi"),
    ("export_trajectories", ["run", "--out", "out", "--epi", "0"], "--epi"),
    ("merge_exports", ["a", "b", "--out", "out", "--no-prog"], "--no-prog"),
    ("score_predictions", ["split.jsonl", "predictions.jsonl", "--spec", ""], "--spec"),
    ("plot_curve", ["run", "--out", "x.png", "--base", "nan"], "--base"),
    ("play_gameboy", ["--rom", "r.gb", "--save-state", "s.state", "--sta", ""], "--sta"),
    ("make_state", ["--rom", "r.gb", "--inputs", "i.txt", "--out", "o.state", "--sta", ""], "--sta"),
    ("benchmark", ["--roll", "0"], "--roll"),
])
def test_every_script_refuses_an_abbreviated_flag(script, argv, abbreviation, scripts, capsys):
    # argparse took any unique prefix: evaluate --api-key sk-... set --api-key-env, and an abbreviation in
    # a recorded command (train_ppo's run, compare's report) breaks or changes once a flag shares it.
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main(argv)
    assert exc.value.code == 2
    assert f"unrecognized arguments: {abbreviation}" in capsys.readouterr().err


@pytest.mark.parametrize("script", [
    "train_ppo", "evaluate", "compare", "export_trajectories", "merge_exports", "score_predictions",
    "plot_curve", "play_gameboy", "make_state", "benchmark"])
def test_every_scripts_help_is_its_docstring_as_written(script, scripts, capsys):
    # script_parser's description and raw formatter: argparse's default refills the docstring's lines, which
    # run its examples and lists together.
    module = getattr(scripts, script)
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0
    assert module.__doc__ in capsys.readouterr().out


def test_script_parser_joins_a_point_led_exponent_and_reads_no_argv_when_given_none(monkeypatch):
    from agents.cli import script_parser

    p = script_parser(None)
    p.add_argument("--baseline")
    # argparse takes -.5 as a number itself, not -.5e3 ("expected one argument")
    assert p.parse_args(["--baseline", "-.5e3"]).baseline == "-.5e3"
    # an empty list is no arguments (a test's main([])), not the process's own command line
    monkeypatch.setattr("sys.argv", ["prog", "--baseline", "1"])
    assert p.parse_args([]).baseline is None
    assert p.parse_args().baseline == "1"


# The README's "## " sections that document each script's flags (the VLM endpoint's are under "Depth
# versus breadth", the shared --seed/--max-steps rule under "Evaluation", plot_curve.py under "Games").
README_SECTIONS = {
    "train_ppo": ["Training"],
    "evaluate": ["Evaluation", "Depth versus breadth"],
    "export_trajectories": ["VLM training data"],
    "merge_exports": ["VLM training data"],
    "compare": ["Depth versus breadth", "Evaluation"],
    "score_predictions": ["Depth versus breadth"],
    "plot_curve": ["Games"],
    "make_state": ["Game Boy through PyBoy"],
    "play_gameboy": ["Game Boy through PyBoy"],
    "benchmark": ["Performance"],
}


@pytest.mark.parametrize("script", sorted(README_SECTIONS))
def test_every_flag_in_a_scripts_help_is_named_where_the_readme_documents_the_script(script, scripts, capsys):
    # score_predictions.py's --json and --device were in --help only. A flag named anywhere in the sections
    # passes (compare.py's --device is evaluate.py's word there), so this catches a flag no text names.
    import re

    from tests.conftest import ROOT

    with pytest.raises(SystemExit):
        getattr(scripts, script).main(["--help"])
    options = capsys.readouterr().out.split("\noptions:\n", 1)[1]
    flags = set(re.findall(r"^\s+(--[a-z0-9-]+)", options, re.M)) - {"--help"}
    sections = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## ")
    text = "\n".join(s for s in sections if s.startswith(tuple(README_SECTIONS[script])))
    assert flags and text
    missing = sorted(f for f in flags if not re.search(re.escape(f) + r"(?![a-z0-9-])", text))
    assert not missing, f"{script}.py: {missing} are in --help but not in the README"


@pytest.mark.parametrize("script, argv", [
    ("evaluate", ["run"]),
    ("compare", ["--env", "snake"]),
    ("export_trajectories", ["run", "--out", "out"]),
])
def test_max_steps_past_a_64_bit_count_is_refused_by_name(script, argv, scripts, capsys):
    # 1e300 was taken: every episode was played, then evaluate's eval-step<N>-max<300 digits>.json was
    # "File name too long" to write. The games count steps in int64, so a longer cut cuts nothing.
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main([*argv, "--max-steps", "1e300"])
    assert exc.value.code == 2
    assert "argument --max-steps: must be at most 9,223,372,036,854,775,807" in capsys.readouterr().err


@pytest.mark.parametrize("script, argv", [("evaluate", ["run"]), ("compare", ["--env", "snake"])])
def test_an_empty_vlm_is_refused_by_name(script, argv, scripts, capsys):
    # evaluate.py RUN --vlm '' read the empty value as no --vlm and played the run's model instead.
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main([*argv, "--vlm", ""])
    assert exc.value.code == 2
    assert "argument --vlm: is empty; give MODEL@URL" in capsys.readouterr().err


def test_compare_episodes_past_this_machines_memory_is_one_line_naming_episodes(scripts, tmp_path, capsys,
                                                                                  monkeypatch):
    # compare plays every episode at once: --episodes 1e18 built a game of 1e18 boards, a MemoryError
    # traceback ("Unable to allocate 6.94 EiB"); 1e8 did too (74.5 GiB of Snake bodies). The up-front
    # check refuses them now (test_compare); where the system cannot say its memory, this line remains.
    import agents.compare

    monkeypatch.setattr(agents.compare, "memory_bytes", lambda: None)
    out = tmp_path / "report"
    argv = ["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--no-cache", "--episodes", "1e18",
            "--seed", "0", "--out", str(out), "--no-progress"]
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert ("error: --episodes 1,000,000,000,000,000,000: every episode is played at once, one board each, "
            "and their boards do not fit in this machine's memory (") in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("device_error", [True, False])
def test_compare_boards_past_the_gpus_memory_are_one_line_and_other_runtime_errors_pass(
        scripts, tmp_path, capsys, monkeypatch, device_error):
    # On CUDA the specialist's forward pass of every board runs on the GPU, which check_play_memory counts
    # as 0: torch's OutOfMemoryError (a RuntimeError) was a traceback. It is one line naming --episodes and
    # --device cpu now; any other RuntimeError is a bug, its traceback kept.
    import torch

    import agents.compare

    error = (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB") if device_error
             else RuntimeError("a torch bug"))

    def refused(*args, **kwargs):
        raise error

    monkeypatch.setattr(agents.compare, "compare", refused)
    argv = ["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--no-cache", "--episodes", "5000",
            "--seed", "0", "--out", str(tmp_path / "report"), "--no-progress"]
    if not device_error:
        with pytest.raises(RuntimeError, match="a torch bug"):
            scripts.compare.main(argv)
        return
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert ("error: --episodes 5,000: every episode is played at once, one board each, and their boards do "
            "not fit in the GPU's memory (2.00 GiB more refused); play fewer, or with --device "
            "cpu") in err, err
    assert "Traceback" not in err


def test_compare_boards_past_an_address_space_limit_on_the_cpu_are_one_line(scripts, tmp_path, capsys,
                                                                           monkeypatch):
    # Under a `ulimit -v` below the RAM check_play_memory reads, the specialist's forward pass of every board
    # on the CPU failed in torch's allocator, a plain RuntimeError: compare ended in its traceback. The
    # error is torch's own, from an allocation no machine can give.
    import torch

    import agents.compare

    try:
        torch.empty(2**62, dtype=torch.uint8)
    except RuntimeError as e:
        error = e
    else:
        pytest.skip("this machine allocated 4 EiB")

    def refused(*args, **kwargs):
        raise error

    monkeypatch.setattr(agents.compare, "compare", refused)
    argv = ["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--no-cache", "--episodes", "5000",
            "--seed", "0", "--out", str(tmp_path / "report"), "--no-progress"]
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert ("error: --episodes 5,000: every episode is played at once, one board each, and their boards do "
            "not fit in this machine's memory (") in err, err
    assert "play fewer" in err and "--device cpu" not in err and "Traceback" not in err


@pytest.mark.parametrize("script, argv", [
    ("export_trajectories", ["RUN", "--out", "-data"]),
    ("plot_curve", ["RUN", "--out", "-curve.png"]),
    ("compare", ["--specialist", "-run"]),
])
def test_a_value_led_by_a_minus_says_how_to_give_it(script, argv, scripts, capsys):
    # argparse read `--out -data` as two flags and said only "expected one argument", naming no fix.
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main(argv)
    flag, value = argv[-2:]
    assert exc.value.code == 2
    assert (f"argument {flag}: expected one argument ({value} reads as a flag: give a value that begins "
            f"with - as {flag}={value})") in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["RUN", "--out"],
    ["RUN", "--out", "--force"],  # a flag of the script's own after it: not a value to give as --out=--force
    ["RUN", "--title", "-my run", "--out"],  # another flag's minus-led value (taken: it has a space)
])
def test_a_flag_given_without_its_value_gets_no_minus_hint(argv, scripts, capsys):
    with pytest.raises(SystemExit):
        scripts.plot_curve.main(argv)
    err = capsys.readouterr().err
    assert "argument --out: expected one argument" in err and "reads as a flag" not in err, err


@pytest.mark.parametrize("script", ["evaluate", "compare", "export_trajectories"])
def test_max_steps_help_states_the_cap_an_episode_has_without_it(script, scripts, capsys):
    # Without --max-steps an episode is cut at EPISODE_STEP_CAP moves (a guard against a policy that never
    # ends one); --help said "default: the game's own limits" only, though a game's own may be longer.
    import re

    from agents.cli import EPISODE_STEP_CAP

    with pytest.raises(SystemExit):
        getattr(scripts, script).main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    help_ = re.search(r"--max-steps MAX_STEPS (.*?) --", text).group(1)
    assert f"at most {EPISODE_STEP_CAP:,}" in help_, help_


class _Parsed(Exception):
    """Raised with a script's parsed arguments, so the test stops before the script does any work."""


@pytest.mark.parametrize("script, argv, expected", [
    ("train_ppo", ["--env", "Snake", "--policy", "10M", "--device", "CPU", "--obs", "Grid", "--difficulty",
                   "EASY", "--opponent", "Greedy", "--game", "Tetris"],
     {"env": "snake", "policy": "10m", "device": "cpu", "obs": "grid", "difficulty": "easy",
      "opponent": "greedy", "game": "tetris"}),
    ("compare", ["--env", "SNAKE", "--device", "CUDA:0", "--image-detail", "LOW"],
     {"env": "snake", "device": "cuda:0", "image_detail": "low"}),
    ("evaluate", ["run", "--env", "Rotation", "--device", "CPU"], {"env": "rotation", "device": "cpu"}),
    ("export_trajectories", ["run", "--out", "out", "--device", "MPS"], {"device": "mps"}),
    ("score_predictions", ["split.jsonl", "p.jsonl", "--device", "Auto"], {"device": "auto"}),
    ("benchmark", ["--env", "GameBoy", "--policy", "Tiny", "--device", "CPU"],
     {"env": "gameboy", "policy": "tiny", "device": "cpu"}),
])
def test_a_named_choice_is_taken_in_any_case(script, argv, expected, scripts, monkeypatch):
    # --policy 10M got argparse's usage and "invalid choice", --env Snake "unknown env", --device CPU
    # "unknown device": each takes the name as the help and the README spell it (lower case) in any case.
    from agents.cli import _ScriptParser

    real = _ScriptParser.parse_args

    def stop(self, args=None, namespace=None):
        raise _Parsed(real(self, args, namespace))

    monkeypatch.setattr(_ScriptParser, "parse_args", stop)
    with pytest.raises(_Parsed) as exc:
        getattr(scripts, script).main(argv)
    args = vars(exc.value.args[0])
    assert {key: args[key] for key in expected} == expected


def test_a_choice_in_no_case_is_still_refused_naming_the_choices(scripts, capsys):
    with pytest.raises(SystemExit) as exc:
        scripts.train_ppo.main(["--env", "snake", "--policy", "10X"])
    assert exc.value.code == 2
    assert "argument --policy: invalid choice: '10X' (choose from " in capsys.readouterr().err


@pytest.mark.parametrize("env, key, given, expected", [
    ("snake", "policy", "10M", "10m"),
    ("snake", "cpu_policy", "TINY", "tiny"),
    ("snake", "device", "CPU", "cpu"),
    ("snake", "env_kwargs.obs", "PIXELS", "pixels"),
    ("sokoban", "env_kwargs.difficulty", "Easy", "easy"),
    ("snake_duel", "env_kwargs.opponent", "RANDOM", "random"),
    ("gameboy", "env_kwargs.game", "DepthFirst_Test", "depthfirst_test"),
])
def test_a_named_choice_in_a_config_file_or_a_set_is_taken_in_any_case(env, key, given, expected, scripts,
                                                                         tmp_path):
    # `policy: 10M` in a --config file (or --set policy=10M) was "unknown preset '10M'" where --policy 10M
    # was taken: the file's choices are read as the flag's (any_case), --device's in lower case.
    from agents.train_cli import new_config

    p = scripts.train_ppo.parser()
    *section, name = key.split(".")
    boot = {"state": "none"} if env == "gameboy" else {}  # no start state: the cartridge boots
    mine = {name: given} if not section else {"env_kwargs": {name: given, **boot}}
    file = tmp_path / "mine.yaml"
    file.write_text(json.dumps({"env": env.title(), **mine}))  # YAML reads JSON; Snake_Duel as --env takes it
    forms = (["--config", str(file)],
             ["--env", env, "--set", f"{key}={given}", *(["--state", "none"] if boot else [])])
    for argv in forms:
        cfg, _ = new_config(p, p.parse_args([*argv, "--num-envs", "16"]))
        assert cfg["env"] == env
        assert (cfg[section[0]] if section else cfg)[name] == expected, argv


@pytest.mark.parametrize("script, argv", [
    ("train_ppo", ["--env", "snake", "--run-dir", "RUN"]),
    ("evaluate", ["RUN"]),
    ("compare", ["--env", "snake", "--specialist", "RUN"]),
    ("score_predictions", ["split.jsonl", "p.jsonl", "--specialist", "RUN"]),
])
def test_an_unknown_device_is_named_as_typed(script, argv, scripts, tmp_path, capsys):
    # `--device GPU` was "unknown device 'gpu'", a name the user never typed: a device torch names is read
    # in lower case (the start line and config.yaml say cpu), any other is kept as given for its error.
    argv = [str(tmp_path / "run") if a == "RUN" else a for a in argv]
    try:
        status = getattr(scripts, script).main([*argv, "--device", "GPU"])
    except SystemExit as e:
        status = e.code
    assert status == 2
    err = capsys.readouterr().err
    assert "--device: unknown device 'GPU' (use auto, cpu, cuda[:N] or mps)" in err, err
    assert not (tmp_path / "run").exists()


def test_a_config_files_env_in_any_case_matches_the_env_flag(scripts, tmp_path, capsys):
    # `--env snake --config mine.yaml` with `env: Snake` there was "--config mine.yaml is for env 'Snake',
    # not --env snake", though the file alone was taken as snake; another game is still refused.
    from agents.config import load_config

    file = tmp_path / "mine.yaml"
    file.write_text("env: Snake\n")
    assert load_config("snake", file)["env"] == "snake"
    assert scripts.train_ppo.main(["--env", "sokoban", "--config", str(file), "--run-dir",
                                   str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"error: --config {file} is for env 'Snake', not --env sokoban\n"
    assert not (tmp_path / "run").exists()


def test_a_device_is_lowered_only_where_it_has_a_form_torch_names():
    # Whole names only: a prefix match lowered `CPUs` to 'cpus', and its error named what was never typed.
    from agents.config import device_name

    for typed, read in (("CPU", "cpu"), ("Cuda:1", "cuda:1"), ("MPS", "mps"), ("AUTO", "auto"),
                        ("CPUs", "CPUs"), ("CUDA:", "CUDA:"), ("CUDA:x", "CUDA:x"), ("GPU", "GPU"),
                        ("xCPU", "xCPU")):
        assert device_name(typed) == read, typed


def test_reading_choices_takes_auto_and_leaves_other_values_to_their_checks():
    # Hand mutants survived: 'policy: AUTO' (a config's default word) left for 'unknown preset', and a value
    # that is no text (obs: 3, game: null, env_kwargs as a list) read as one, a traceback, not its error.
    from agents.config import read_choices

    cfg = {"policy": "AUTO", "cuda_policy": "10M", "device": "GPU", "env_kwargs": {"obs": 3, "game": None}}
    read_choices(cfg)
    assert cfg == {"policy": "auto", "cuda_policy": "10m", "device": "GPU",
                   "env_kwargs": {"obs": 3, "game": None}}
    # auto is no choice of cpu_policy's: 'cpu_policy: AUTO' was read as auto, then refused as "unknown preset
    # 'auto'", a value never typed.
    from agents.config import check_device_defaults

    device_defaults = {"cpu_policy": "AUTO", "cuda_policy": "10m", "cpu_num_envs": 8, "cuda_num_envs": 8}
    read_choices(device_defaults)
    with pytest.raises(ValueError, match=r"^--set cpu_policy: unknown preset 'AUTO'; known: tiny, "):
        check_device_defaults(device_defaults)
    listed = {"env_kwargs": ["obs"], "device": 0}
    read_choices(listed)
    assert listed == {"env_kwargs": ["obs"], "device": 0}


@pytest.mark.parametrize("script, argv", [
    ("plot_curve", ["run", "--out", "x.png"]),
    ("play_gameboy", ["--rom", "r.gb", "--save-state", "s.state"]),
    ("make_state", ["--rom", "r.gb", "--inputs", "i.txt", "--out", "o.state"]),
    ("benchmark", []),
])
def test_no_progress_where_a_script_shows_no_bar_is_refused_saying_so(script, argv, scripts, capsys):
    # train_ppo, evaluate, compare, export_trajectories, merge_exports and score_predictions (its
    # --specialist's bar) take it: reused here it was only
    # "unrecognized arguments: --no-progress", as if it were misspelt.
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main([*argv, "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --no-progress; this script shows no progress bar: drop --no-progress" \
        in err


@pytest.mark.parametrize("script, argv, given, own", [
    ("export_trajectories", ["run", "--out", "out"], "--force", "--overwrite"),
    ("compare", ["--env", "snake"], "--force", "--overwrite"),
    ("plot_curve", ["run", "--out", "x.png"], "--overwrite", "--force"),
    ("score_predictions", ["split.jsonl", "predictions.jsonl"], "--overwrite", "--force"),
    ("train_ppo", ["--env", "snake"], "--workers=2", "--num-workers"),
    ("export_trajectories", ["run", "--out", "out"], "--num-workers", "--workers"),
])
def test_another_scripts_spelling_of_a_flag_is_refused_naming_this_scripts(script, argv, given, own, scripts,
                                                                           capsys):
    # train_ppo says --force and --num-workers, export_trajectories --overwrite and --workers: reused across
    # scripts, one was only "unrecognized arguments", leaving the user to find this script's name for it.
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main([*argv, given])
    assert exc.value.code == 2
    assert f"unrecognized arguments: {given}; this script's flag for that is {own}" in capsys.readouterr().err


@pytest.mark.parametrize("script, argv, given", [
    ("evaluate", ["run"], "--force"),
    ("merge_exports", ["a", "b", "--out", "c"], "--overwrite"),
    ("compare", ["--env", "snake"], "--workers=2"),
])
def test_a_flag_this_script_has_under_no_spelling_gets_no_note_of_one(script, argv, given, scripts, capsys):
    # The note names the script's own spelling only where it has one: evaluate has neither --force nor
    # --overwrite, compare neither --workers nor --num-workers.
    with pytest.raises(SystemExit) as exc:
        getattr(scripts, script).main([*argv, given])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"unrecognized arguments: {given}" in err and "this script's flag" not in err, err


def test_another_scripts_spelling_after_another_unknown_flag_is_named_too(scripts, capsys):
    # Each unrecognized word is looked up, not the first alone.
    with pytest.raises(SystemExit) as exc:
        scripts.plot_curve.main(["run", "--out", "x.png", "--colour", "--overwrite"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --colour --overwrite; this script's flag for that is --force" in \
        capsys.readouterr().err
