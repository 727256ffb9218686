"""scripts/compare.py end to end: a tiny trained specialist and two scripted VLMs (loopback server) on
the same seeds; the report files, the figures in them, the cache on a re-run, and bad input."""

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agents.compare import (
    PlayerRun,
    Price,
    params_from_name,
    parse_count,
    parse_prices,
    summarize_run,
    worst_decisions,
)
from agents.evaluation import Episode, run_episodes
from agents.vlm_player import Decision
from tests.chat_server import ChatServer, Reply
from tests.conftest import RECORDED_ENV, ROOT, TINY, always_right_checkpoint, open_paths, removed_during_play


def _killed_comparisons_folder(out: Path, kind: str) -> Path:
    """``out/.report-<kind>-<pid>-abc`` with a report.json in it, as a comparison killed while writing its
    report leaves it: the process id is one no process has now."""
    import subprocess

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = out / f".report-{kind}-{dead.pid}-abc"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text("{}")
    return folder


EPISODES = 3
SEED = 500


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """The default response cache is made up front: keep it out of the tester's home."""
    monkeypatch.setenv("DEPTHFIRST_VLM_CACHE", str(tmp_path / "vlm-cache"))


@pytest.fixture(scope="module")
def specialist(tmp_path_factory, scripts):
    run = tmp_path_factory.mktemp("runs") / "snake-tiny"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "256", "--video-every", "100000",
                                   "--save-every", "256", "--run-dir", str(run), *TINY]) == 0
    return run


def scripted(body):
    """good-vl-7b always names DOWN in the asked format; junk-vl-2b never answers usably."""
    if body["model"] == "good-vl-7b":
        return Reply("<think>the apple</think><best_answer>DOWN</best_answer><worst_answer>UP</worst_answer>",
                     prompt_tokens=1000, completion_tokens=50, reasoning="head at the top, going down")
    return Reply("Sorry, I cannot see the board.", prompt_tokens=800, completion_tokens=10)


@pytest.fixture(scope="module")
def compared(specialist, scripts, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--specialist", str(specialist), "--vlm", f"good-vl-7b@{server.url}",
                "--vlm", f"junk-vl-2b@{server.url}", "--episodes", str(EPISODES), "--seed", str(SEED),
                "--out", str(tmp / "report"), "--cache-dir", str(tmp / "cache"), "--timeout", "5",
                "--price-per-1k-tokens", "0.5,2", "--price-per-1k-tokens", "junk-vl-2b=0.1", "--no-progress"]
        assert scripts.compare.main(argv) == 0
        first_hits = server.hits
        report = json.loads((tmp / "report" / "report.json").read_text())
        # Re-run into the same folder: every answer comes from the cache.
        assert scripts.compare.main([*argv, "--overwrite"]) == 0
        again = json.loads((tmp / "report" / "report.json").read_text())
        rerun_hits = server.hits - first_hits
    return {"dir": tmp / "report", "report": report, "again": again, "hits": first_hits,
            "rerun_hits": rerun_hits, "argv": argv, "tmp": tmp}


def by_name(report):
    return {p["name"]: p for p in report["players"]}


def test_every_player_plays_the_same_seeds(compared, specialist):
    from agents.compare import load_specialist

    report = compared["report"]
    assert report["seeds"] == list(range(SEED, SEED + EPISODES)) and report["env"] == "snake"
    model, cfg, _ = load_specialist(specialist)
    expected = run_episodes(model, "snake", cfg["env_kwargs"], EPISODES, seed=SEED)
    players = by_name(report)
    assert set(players) == {"specialist-tiny", "good-vl-7b", "junk-vl-2b"}
    spec = players["specialist-tiny"]
    assert spec["per_episode"]["score"] == [e.score for e in expected]
    assert spec["parameters"] == 415_605 and spec["parameters_source"] == "counted"
    assert isinstance(spec["parameters"], int)  # a count: it was 415605.0
    assert spec["decisions"] == sum(e.length for e in expected) and spec["decisions_per_s"] > 0


def test_vlm_figures_tokens_cost_and_invalid_answers(compared):
    players = by_name(compared["report"])
    good, junk = players["good-vl-7b"], players["junk-vl-2b"]
    assert good["parameters"] == 7e9 and good["parameters_source"] == "from the model name"
    assert junk["invalid"] == junk["decisions"] and junk["invalid_rate"] == 1.0
    assert junk["invalid_by_status"] == {"unparseable": junk["decisions"], "illegal": 0, "error": 0}
    # DOWN is illegal exactly when the snake heads UP; every such decision played the fallback.
    assert good["invalid_by_status"]["unparseable"] == 0 and good["invalid_by_status"]["error"] == 0
    for p, (prompt, completion) in ((good, (1000, 50)), (junk, (800, 10))):
        per_ep = p["decisions"] / EPISODES
        assert p["prompt_tokens_per_episode"] == pytest.approx(prompt * per_ep)
        assert p["completion_tokens_per_episode"] == pytest.approx(completion * per_ep)
    per_decision = Price(0.5, 2).cost(1000, 50)
    assert good["cost_per_episode"] == pytest.approx(per_decision * good["decisions"] / EPISODES)
    assert junk["cost_per_episode"] == pytest.approx(0.1 * 810 / 1000 * junk["decisions"] / EPISODES)
    assert compared["hits"] == good["decisions"] + junk["decisions"]
    assert good["about"]["client"]["http_requests"] == good["decisions"]


def test_report_files_plots_and_worst_decisions(compared):
    out = compared["dir"]
    md = (out / "report.md").read_text()
    for plot in ("scores.png", "rates.png", "speed.png", "cost.png"):
        with Image.open(out / plot) as im:
            assert im.format == "PNG" and im.size[0] > 300
        assert f"]({plot})" in md
    assert "| specialist-tiny (specialist) | 416K |" in md and "good-vl-7b" in md
    assert "| mean score ± std |" in md and "answers this run took from the cache included" in md
    flat = " ".join(md.split())  # the notes as a reader gets them: what the rates are over, how to time
    assert ("Both are over the answers that came (an unparseable one scores 0); failed requests are counted "
            "apart." in flat and "compare speed on a run with --no-cache" in flat)
    worst = compared["report"]["worst_decisions"]
    for name in ("good-vl-7b", "junk-vl-2b"):
        rows = worst[name]
        assert 1 <= len(rows) <= 6
        for row in rows:
            assert (out / row["frame"]).is_file() and f"]({row['frame']})" in md
        assert rows[0]["reason"] == "fatal move"  # crashes rank first
    assert worst["junk-vl-2b"][0]["response"] == "Sorry, I cannot see the board."
    log = [json.loads(line) for line in (out / "decisions-good-vl-7b.jsonl").read_text().splitlines()]
    players = by_name(compared["report"])
    assert len(log) == players["good-vl-7b"]["decisions"] and "decisions-good-vl-7b.jsonl" in md
    assert {row["seed"] for row in log} == set(compared["report"]["seeds"])
    assert all(row["answer"] == "DOWN" and row["prompt_tokens"] == 1000 for row in log)
    assert sum(row["status"] == "illegal" for row in log) == players["good-vl-7b"]["invalid"]
    assert "head at the top, going down" in md  # the reasoning channel is shown
    assert "Sorry, I cannot see the board." in md


def test_the_report_writes_the_median_and_each_seeds_score_as_evaluate_does(tmp_path, monkeypatch):
    # Pokémon scores count 0.001 a tile: a median of 0.103 and 0.104 read 0.1035 beside its mean printed
    # 0.103, the same value; and a score past 1,000 lost its last decimal (1003.512 read 1003.51).
    from agents import compare

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])
    players = [PlayerRun(name, "specialist", 10.0, "counted",
                         [Episode(100 + k, x, 3, 0.0, {}, [0] * 3, None) for k, x in enumerate(scores)], 1.0)
               for name, scores in (("tiles", [0.103, 0.104]), ("badges", [1003.512, 1003.512]))]
    compare.write_report(tmp_path, "pokemon_red", {}, 100, players, {})
    md = (tmp_path / "report.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| tiles (specialist)"))
    mean, median = re.search(r"\| ([\d.]+) ± [\d.]+ \| ([\d.]+) \|", row).groups()
    assert mean == median == "0.103", row  # one value, printed alike (0.1035 is 0.10349... as a float)
    assert "| 100 | 0.103 | 1003.512 |" in md, md


def unparseable_first_move_report(tmp_path, monkeypatch, env: str, env_kwargs: dict) -> tuple[dict, str]:
    """report.json's dict and report.md of one VLM whose only answer, at seed 42's first step, was
    unparseable (the fallback "up" played): its one worst decision."""
    from agents import compare

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])
    bad = Decision(step=0, action=0, move="up", answer=None, status="unparseable", response="no idea",
                   reasoning=None, prompt_tokens=100, completion_tokens=2, latency_s=0.0, cached=False,
                   reward=0.0, terminated=False)
    episode = Episode(42, 0.0, 1, 0.0, {}, [0], [bad])
    about = {"model": "m-vl-7b", "endpoint": "m-vl-7b@http://h:1/v1",
             "client": {"http_requests": 1, "retries": 0}}
    runs = [PlayerRun("m-vl-7b", "vlm", 7e9, "from the model name", [episode], 1.0, about)]
    report = compare.write_report(tmp_path, env, env_kwargs, 42, runs, {}, frames_per_vlm=1)
    return report, (tmp_path / "report.md").read_text()


def test_a_pokemon_worst_decision_names_no_engine_reference_answer(tmp_path, monkeypatch):
    # Pokémon's move question scores no button (any is legal), yet its worst decision read "The engine's
    # reference answer: `up`" above an analysis saying the game has no engine-computed best move.
    from envs.gameboy.roms import TEST_CARTRIDGE

    env_kwargs = {"rom": str(TEST_CARTRIDGE), "state": None, "max_steps": 8}
    report, md = unparseable_first_move_report(tmp_path, monkeypatch, "pokemon_red", env_kwargs)
    reasons = [r["reason"] for r in report["worst_decisions"]["m-vl-7b"]]
    assert reasons == ["unparseable answer (fallback played)"]
    assert "The engine's reference answer" not in md, md
    assert "played **up** (reward +0). The game's move question has no reference answer here: it scores " \
           "no move." in md, md
    # ... and its analysis ("The game has no engine-computed best move") was headed "The engine's analysis".
    assert "engine's" not in md, md
    assert "<summary>The move question's analysis of this state</summary>" in md, md


def test_a_snake_worst_decision_keeps_the_engines_reference_answer_and_analysis(tmp_path, monkeypatch):
    # Only Pokémon's unscored move question has no engine behind it: Snake's analysis is the engine's.
    md = unparseable_first_move_report(tmp_path, monkeypatch, "snake", {})[1]
    assert "The engine's reference answer: `" in md, md
    assert "<summary>The engine's analysis of this state</summary>" in md, md


def test_a_rerun_costs_nothing_and_gives_the_same_figures(compared):
    assert compared["rerun_hits"] == 0
    first, again = by_name(compared["report"]), by_name(compared["again"])
    for name in first:
        for key in ("mean_score", "invalid", "tokens_per_episode", "cost_per_episode", "decisions"):
            assert first[name][key] == again[name][key], (name, key)
    assert again["good-vl-7b"]["cached_answers"] == again["good-vl-7b"]["decisions"]
    assert again["good-vl-7b"]["about"]["client"]["http_requests"] == 0


def test_an_existing_report_is_never_overwritten_without_the_flag(compared, scripts, capsys):
    out = compared["dir"]
    before = (out / "report.md").read_text()
    argv = [a for a in compared["argv"] if a != "--overwrite"]
    assert scripts.compare.main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "report.md").read_text() == before
    foreign = compared["tmp"] / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert scripts.compare.main(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--out", str(foreign),
                                 "--overwrite", "--no-progress"]) == 2
    assert "not a comparison folder" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("argv, message", [
    (["--env", "snake"], "nothing to compare"),
    # a --checkpoint alone was "nothing to compare", which does not say it needs its run
    (["--env", "snake", "--checkpoint", "x.zip"], "model file: give --specialist RUN too"),
    # a --device with no specialist to move was ignored
    (["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--device", "cuda"],
     "--device is the specialist's torch device: give --specialist RUN too"),
    (["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--device", ""],
     "--device is the specialist's torch device: give --specialist RUN too"),
    # An empty --device was refused before --device became None until parsed; then it was taken as cpu.
    (["--specialist", "SPECIALIST", "--vlm", "m@http://127.0.0.1:9/v1", "--device", ""],
     "--device: unknown device ''"),
    (["--env", "snake", "--vlm", "no-url"], "MODEL@URL"),
    (["--env", "tetris", "--vlm", "m@http://127.0.0.1:9/v1"], "known envs"),
    (["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--price-per-1k-tokens", "cheap"],
     "--price-per-1k-tokens"),
    *[(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--price-per-1k-tokens", price],
       "--price-per-1k-tokens") for price in ("nan", "inf", "-1", "m=0.5,nan", "0.5,-inf")],
    (["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--timeout", "nan"], "--timeout"),
    (["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--cache-dir", "/dev/null"], "--cache-dir"),
    (["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--cache-dir", "/dev/null/x"],
     "--cache-dir"),
    (["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--vlm-params", "7B"], "--vlm-params"),
    # An endless or zero count was taken: the endless one failed the plot after the (paid) play, and 0
    # was reported as "unknown" though given.
    *[(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--vlm-params", f"m={count}"], "--vlm-params")
      for count in ("1e400", "0", "0.0B", "seven")],
    (["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--vlm-params", "=7B"],
     "--vlm-params expects MODEL=COUNT"),  # no model: not "names model '', which no --vlm plays"
    # It has the form of a count: "expects MODEL=COUNT (e.g. qwen2.5-vl-7b=8.3B)" did not say what was wrong.
    *[(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--vlm-params", f"m={count}"],
       f"--vlm-params 'm={count}': {count} rounds to 0 parameters; give a count of at least 1, such as 7B, "
       "256M or 7e9") for count in ("0.4", "0.0B")],
    # A model the --vlm flags do not name (a typo) would be silently ignored.
    (["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--price-per-1k-tokens", "n=0.5"],
     "--price-per-1k-tokens names model 'n', which no --vlm plays (the --vlm models are m)"),
    (["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--vlm-params", "n=7B"],
     "--vlm-params names model 'n', which no --vlm plays"),
    # A name in no UTF-8 (a byte of another encoding on argv, a surrogate escape) was refused as naming no
    # --vlm model, the bad byte shown as \udce9 beside the --vlm's café: the --vlm's own words now.
    (["--env", "snake", "--vlm", "caf\u00e9@http://127.0.0.1:9/v1", "--vlm-params", "caf\udce9=7B"],
     "--vlm-params model name 'caf\ufffd' is not valid UTF-8 (\ufffd marks each byte that is not): write "
     "MODEL as in --vlm MODEL@URL"),
    (["--env", "snake", "--vlm", "caf\u00e9@http://127.0.0.1:9/v1", "--price-per-1k-tokens",
      "caf\udce9=0.5"], "--price-per-1k-tokens model name 'caf\ufffd' is not valid UTF-8"),
    (["--env", "snake", "--specialist", "SPECIALIST", "--price-per-1k-tokens", "n=0.5"],
     "--price-per-1k-tokens is for the --vlm models, and no --vlm is given: drop it or add a --vlm"),
    (["--env", "snake", "--specialist", "SPECIALIST", "--vlm-params", "n=7B"],
     "--vlm-params is for the --vlm models, and no --vlm is given: drop it or add a --vlm"),
    # A price for every VLM (no MODEL=) with no --vlm was accepted and ignored.
    (["--env", "snake", "--specialist", "SPECIALIST", "--price-per-1k-tokens", "0.0025,0.01"],
     "--price-per-1k-tokens is for the --vlm models, and no --vlm is given: drop it or add a --vlm"),
    (["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--concurrency", "0"], "--concurrency"),
    (["--env", "sokoban", "--specialist", "SPECIALIST"], "trained on 'snake'"),
    (["--env", "snake", "--specialist", "/nonexistent/run"], "no such run folder"),
    # Two runs to compare: argparse kept the last --specialist, and the report showed it alone, silently.
    (["--specialist", "/other/run", "--specialist", "SPECIALIST"],
     "--specialist is given 2 times: compare.py plays one run"),
    (["--env", "snake", "--specialist", "SPECIALIST", "--device", "banana"], "--device: unknown device"),
    (["--env", "snake", "--specialist", "SPECIALIST", "--seed", "-5"], "--seed"),
    (["--env", "snake", "--specialist", "SPECIALIST", "--seed", str(2**64 - 1)], "must stay below 2**64"),
    (["--env", "snake", "--specialist", "SPECIALIST", "--frames", "-1"], "--frames"),
    # Frames are of the VLMs' decisions: with no --vlm, --frames 20 was accepted and did nothing.
    (["--env", "snake", "--specialist", "SPECIALIST", "--frames", "20"],
     "--frames is for the --vlm models (their worst decisions), and no --vlm is given: drop it or add a "
     "--vlm"),
    (["--env", "snake", "--specialist", "SPECIALIST", "--frames", "0"], "--frames is for the --vlm models"),
    # The VLM endpoint's flags with no --vlm were ignored, the specialist played alone.
    (["--env", "snake", "--specialist", "SPECIALIST", "--temperature", "0.7", "--no-cache"],
     "--temperature, --no-cache are for --vlm (the VLM endpoint): drop them"),
])
def test_bad_input_is_a_clear_error(argv, message, scripts, specialist, tmp_path, capsys):
    argv = [str(specialist) if a == "SPECIALIST" else a for a in argv]
    with pytest.raises(SystemExit) as exc:  # argparse's errors exit, the others return 2
        raise SystemExit(scripts.compare.main([*argv, "--out", str(tmp_path / "out"), "--no-progress"]))
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_run_whose_game_refuses_its_config_is_named_before_any_episode(scripts, specialist, tmp_path,
                                                                         capsys):
    import shutil

    import yaml

    # The specialist's checkpoint on another board size: refused by its shapes (it was a ValueError
    # from deep inside SB3's predict, in the middle of the play).
    run = tmp_path / "six"
    shutil.copytree(specialist, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "env_kwargs": {**cfg["env_kwargs"], "size": 6}}))
    out = tmp_path / "out"
    argv = ["--env", "snake", "--specialist", str(run), "--out", str(out), "--no-progress"]
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: --specialist {run}: the checkpoint {run / 'model.zip'} reads observations (4, 10, 10)" \
        in err
    assert "trained on another game or settings; give --checkpoint a model trained with this run's" in err
    assert not out.exists()
    early = tmp_path / "early.zip"  # a --checkpoint is named itself, not the run's model.zip
    shutil.copy(run / "model.zip", early)
    assert scripts.compare.main([*argv, "--checkpoint", str(early)]) == 2
    assert f"error: --specialist {run}: the checkpoint {early} reads" in capsys.readouterr().err
    assert not out.exists()


def test_a_game_boy_start_state_from_a_runs_config_is_named_by_its_key_not_a_flag(scripts, specialist,
                                                                                  tmp_path, capsys,
                                                                                  monkeypatch):
    pytest.importorskip("pyboy")
    import shutil

    import yaml

    from envs.gameboy.roms import TEST_CARTRIDGE

    # evaluate, export and compare take no --state: the start state comes from the run's config.yaml.
    state = tmp_path / "damaged.state"
    state.write_bytes(b"\x01" * 100)
    run = tmp_path / "gb"
    run.mkdir()
    shutil.copy(specialist / "model.zip", run)  # the state is refused before the model is asked to fit
    env_kwargs = {"rom": str(TEST_CARTRIDGE), "state": str(state)}
    (run / "config.yaml").write_text(yaml.safe_dump({"env": "pokemon_red", "policy": "tiny",
                                                     "env_kwargs": env_kwargs}))
    out = str(tmp_path / "out")
    said = f"the run's start state {state} (env_kwargs.state in its config.yaml) cannot be loaded"
    for main, argv in ((scripts.evaluate.main, [str(run), "--no-video"]),
                       (scripts.export_trajectories.main, [str(run), "--out", out, "--no-progress",
                                                         "--formats", "verl"]),  # any without `datasets`
                       (scripts.compare.main, ["--env", "pokemon_red", "--specialist", str(run), "--out", out,
                                               "--no-progress"])):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert said in err and "--state" not in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()
    # A VLM playing the run's game, or the game's default ROM that is not there: one line before the
    # play, not a traceback from inside it.
    vlm = ["--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1", "--no-video", "--no-progress"]
    assert scripts.evaluate.main([str(run), *vlm]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err, err
    monkeypatch.chdir(tmp_path)
    assert scripts.evaluate.main(["--env", "pokemon_red", *vlm, "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: pokemon_red: no ROM file at roms/pokemon_red.gb") and "Traceback" not in err
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml", "model.zip"]
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_is_refused(scripts, specialist, tmp_path, capsys):
    file = tmp_path / "report"
    file.write_text("mine")
    assert scripts.compare.main(["--env", "snake", "--specialist", str(specialist), "--out", str(file),
                                 "--no-progress"]) == 2
    assert "is a file" in capsys.readouterr().err and file.read_text() == "mine"


def test_a_signal_while_the_report_is_written_cannot_leave_half_of_it(specialist, scripts, tmp_path,
                                                                       monkeypatch):
    import os
    import signal

    import agents.compare

    save = agents.compare._save
    sent = []

    def save_then_signal(fig, path):
        if not sent:  # Ctrl-C once the old report is gone and the new one half written
            sent.append(os.kill(os.getpid(), signal.SIGINT))
        return save(fig, path)

    monkeypatch.setattr(agents.compare, "_save", save_then_signal)
    out = tmp_path / "report"
    assert scripts.compare.main(["--env", "snake", "--specialist", str(specialist), "--episodes", "1",
                                 "--out", str(out), "--no-progress"]) == 0
    assert sent and (out / "report.json").is_file() and (out / "report.md").is_file()


def test_a_signal_just_after_the_report_is_in_place_does_not_say_no_report_was_written(
        specialist, scripts, tmp_path, monkeypatch, capsys):
    """A Ctrl-C in the moment after the report was swapped in (signals were ignored only while it was
    written) stopped compare.py before it settled, and it said "no report written" beside the report."""
    import contextlib
    import signal

    import agents.compare

    out = tmp_path / "report"
    quiet = agents.compare.uninterruptible

    @contextlib.contextmanager
    def then_a_signal():
        with quiet():
            yield
        if (out / "report.json").is_file():  # the report's block, not the earlier recovery's
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(agents.compare, "uninterruptible", then_a_signal)
    assert scripts.compare.main(["--env", "snake", "--specialist", str(specialist), "--episodes", "1",
                                 "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "no report written" not in captured.err and f"report: {out / 'report.md'}" in captured.out
    assert (out / "report.json").is_file()


@pytest.mark.parametrize("argv, cached", [
    (["--vlm", "m@http://127.0.0.1:9/v1"], True),
    # It said the VLM answers were cached with --no-cache, and with no VLM at all.
    (["--vlm", "m@http://127.0.0.1:9/v1", "--no-cache"], False),
    (["--specialist", "SPECIALIST"], False),
])
def test_a_stop_says_the_answers_are_cached_only_when_they_are(argv, cached, scripts, specialist, tmp_path,
                                                               monkeypatch, capsys):
    import agents.compare

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(agents.compare, "play_all", stopped)
    argv = [str(specialist) if a == "SPECIALIST" else a for a in argv]
    assert scripts.compare.main(["--env", "snake", *argv, "--out", str(tmp_path / "out"), "--no-progress"]
                                ) == 130
    err = capsys.readouterr().err
    assert "interrupted: no report written" in err
    assert ("cached for a re-run" in err) == cached, err


def test_missing_matplotlib_is_named_before_any_episode(scripts, specialist, tmp_path, capsys, monkeypatch):
    import agents.compare

    played = []
    monkeypatch.setattr(agents.compare, "run_episodes", lambda *a, **k: played.append(a))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an install without it looks like
    assert scripts.compare.main(["--env", "snake", "--specialist", str(specialist), "--out",
                                 str(tmp_path / "out"), "--no-progress"]) == 2
    assert 'pip install -e ".[plot]"' in capsys.readouterr().err
    assert not played and not (tmp_path / "out").exists()
    assert scripts.plot_curve.main([str(specialist), "--out", str(tmp_path / "c.png")]) == 2
    assert 'pip install -e ".[plot]"' in capsys.readouterr().err


def test_one_model_name_on_two_servers_keeps_both_players_apart(scripts, tmp_path, capsys):
    # The same model behind two servers (vLLM and SGLang, two quantizations): each keeps its own scores,
    # decision log, frames and price; nothing of the first is overwritten by the second.
    def junk(body):
        return Reply("Sorry, I cannot see the board.", prompt_tokens=800, completion_tokens=10)

    def down(body):
        return Reply("<best_answer>DOWN</best_answer><worst_answer>UP</worst_answer>", prompt_tokens=1000)

    with ChatServer(default=junk) as one, ChatServer(default=down) as two:
        argv = ["--env", "snake", "--vlm", f"same-vl-7b@{one.url}", "--vlm", f"same-vl-7b@{two.url}",
                "--episodes", "2", "--max-steps", "4", "--out", str(tmp_path / "out"), "--no-cache",
                "--price-per-1k-tokens", "same-vl-7b=1", "--no-progress"]
        assert scripts.compare.main(argv) == 0
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        names = [p["name"] for p in report["players"]]
        assert len(set(names)) == 2 and all(n.startswith("same-vl-7b@127.0.0.1:") for n in names)
        assert [len(p["per_episode"]["score"]) for p in report["players"]] == [2, 2]
        logs = report["decision_logs"]
        assert len(set(logs.values())) == 2
        for player, hits, answer in zip(report["players"], (one.hits, two.hits), (None, "DOWN"), strict=True):
            log = (tmp_path / "out" / logs[player["name"]]).read_text()
            rows = [json.loads(line) for line in log.splitlines()]
            assert len(rows) == player["decisions"] == hits and {r["answer"] for r in rows} == {answer}
            assert player["cost_per_episode"] is not None  # the price is found by model name
            for row in report["worst_decisions"][player["name"]]:
                assert (tmp_path / "out" / row["frame"]).is_file()
        assert scripts.compare.main([*argv[:4], "--vlm", f"same-vl-7b@{one.url}", *argv[6:],
                                     "--out", str(tmp_path / "twice")]) == 2
        assert "given twice" in capsys.readouterr().err


def test_answers_cut_at_max_tokens_are_counted_and_named_with_the_flag_to_raise(scripts, tmp_path, capsys):
    # A reasoning model (vLLM's reasoning parser) that spends max_tokens thinking sends content null and
    # finish_reason "length": the report must say the budget, not the model, lost these moves.
    def thinker(body):
        return Reply(None, reasoning="Let me look at the board. " * 40, finish_reason="length")

    with ChatServer(default=thinker) as server:
        argv = ["--env", "snake", "--vlm", f"think-vl-8b@{server.url}", "--episodes", "2", "--max-steps", "3",
                "--max-tokens", "256", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
        assert scripts.compare.main([*argv, "--out", str(tmp_path / "out")]) == 0
        err = capsys.readouterr().err
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        vlm = report["players"][0]
        n = vlm["decisions"]
        assert n > 0 and vlm["cut_at_max_tokens"] == vlm["invalid_by_status"]["unparseable"] == n
        assert "raise --max-tokens" in err and f"{n} of {n}" in err and "(256)" in err
        assert vlm["cut_short_of_max_tokens"] == 0 and "context" not in err  # all 256 tokens were used
        md = (tmp_path / "out" / "report.md").read_text()
        assert "raise --max-tokens" in md and "cut at max_tokens" in md
        log = (tmp_path / "out" / "decisions-think-vl-8b.jsonl").read_text().splitlines()
        assert {json.loads(line)["finish_reason"] for line in log} == {"length"}
        # Served from the cache on a re-run, the answers are still known to be cut short.
        assert scripts.compare.main([*argv, "--out", str(tmp_path / "again")]) == 0
        again = json.loads((tmp_path / "again" / "report.json").read_text())["players"][0]
        assert again["cached_answers"] == again["cut_at_max_tokens"] == n


def test_answers_without_token_counts_are_said_not_reported_as_costing_nothing(scripts, tmp_path, capsys):
    # A server or proxy that sends no "usage" had its answers counted as 0 tokens: the report gave
    # tokens/episode 0 and cost/episode 0.0000 at the given price, with nothing saying they were unknown.
    answer = "<best_answer>DOWN</best_answer><worst_answer>UP</worst_answer>"
    body = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]}).encode()
    with ChatServer(default=lambda request: Reply(body=body)) as server:
        argv = ["--env", "snake", "--vlm", f"quiet-vl-7b@{server.url}", "--episodes", "2", "--max-steps", "3",
                "--price-per-1k-tokens", "0.01", "--cache-dir", str(tmp_path / "cache"), "--no-progress",
                "--out", str(tmp_path / "out")]
        assert scripts.compare.main(argv) == 0
    err = capsys.readouterr().err
    vlm = json.loads((tmp_path / "out" / "report.json").read_text())["players"][0]
    n = vlm["decisions"]
    assert n > 0 and vlm["answers_without_token_counts"] == n and vlm["cost_per_episode"] == 0.0
    said = f"quiet-vl-7b: {n} of {n} answers came without token counts"
    assert said in err and "tokens and cost per episode are too low" in err
    assert said in (tmp_path / "out" / "report.md").read_text()


def test_answers_cut_short_of_max_tokens_are_said_to_have_filled_the_context(scripts, tmp_path, capsys):
    # vLLM (0.34: get_max_tokens) lowers max_tokens to what the model's context leaves after the prompt,
    # and llama-server and Ollama stop where the context is full: finish_reason "length" with fewer
    # tokens than --max-tokens asked. Told only to raise --max-tokens, which cannot help, the user was not
    # told the server's context was the limit.
    def full(body):
        return Reply(None, reasoning="Let me look at the board. " * 10, finish_reason="length",
                     completion_tokens=100)

    with ChatServer(default=full) as server:
        argv = ["--env", "snake", "--vlm", f"small-vl-2b@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--max-tokens", "256", "--no-cache", "--no-progress", "--frames", "0"]
        assert scripts.compare.main([*argv, "--out", str(tmp_path / "out")]) == 0
        err = capsys.readouterr().err
    vlm = json.loads((tmp_path / "out" / "report.json").read_text())["players"][0]
    n = vlm["decisions"]
    assert n > 0 and vlm["cut_at_max_tokens"] == vlm["cut_short_of_max_tokens"] == n
    assert f"{n} of them stopped with fewer tokens than that, as where the model's context is full" in err
    assert "--max-model-len" in (tmp_path / "out" / "report.md").read_text()


def test_frames_0_shows_no_worst_decision_and_does_not_claim_there_was_none(scripts, tmp_path):
    with ChatServer(default=lambda body: Reply("Sorry, I cannot see the board.")) as server:
        argv = ["--env", "snake", "--vlm", f"junk-vl-2b@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--frames", "0", "--no-cache", "--no-progress", "--out", str(tmp_path / "out")]
        assert scripts.compare.main(argv) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["players"][0]["invalid"] == 2 and report["worst_decisions"]["junk-vl-2b"] == []
    md = (tmp_path / "out" / "report.md").read_text()
    assert "No fatal, invalid or wrong answer" not in md and "No worst decisions shown (--frames 0)" in md


def test_a_refusing_endpoint_stops_with_its_message(scripts, tmp_path, capsys):
    from tests.chat_server import bad_request

    with ChatServer(default=lambda body: bad_request(404, "The model `nope` does not exist.")) as server:
        rc = scripts.compare.main(["--env", "snake", "--vlm", f"nope@{server.url}", "--episodes", "1",
                                   "--out", str(tmp_path / "out"), "--no-cache", "--no-progress"])
    assert rc == 2
    assert "does not exist" in capsys.readouterr().err and server.hits == 1
    assert not (tmp_path / "out").exists()  # no report, so no report folder


def test_a_server_that_sends_no_chat_completion_stops_naming_the_url(scripts, tmp_path, capsys):
    from tests.chat_server import not_json

    with ChatServer(default=lambda body: not_json()) as server:
        rc = scripts.compare.main(["--env", "snake", "--vlm", f"m@{server.url}", "--episodes", "1",
                                   "--concurrency", "1", "--out", str(tmp_path / "out"), "--no-cache",
                                   "--no-progress"])
    assert rc == 2 and server.hits == 1  # not a report of 100% invalid answers
    err = capsys.readouterr().err
    assert f"{server.url}/chat/completions answered HTTP 200 but not a chat completion" in err
    assert "this is not a chat completion" in err
    assert not (tmp_path / "out").exists()


def test_a_reply_with_a_lone_surrogate_is_cached_logged_and_reported(scripts, tmp_path):
    answer = "<best_answer>DOWN</best_answer> \ud83d"  # half an emoji
    argv = ["--env", "snake", "--vlm", "cut-vl-2b@URL", "--episodes", "1", "--max-steps", "2",
            "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--frames", "2",
            "--no-progress"]
    with ChatServer(default=lambda body: Reply(answer)) as server:
        assert scripts.compare.main([a.replace("URL", server.url) for a in argv]) == 0
        hits = server.hits
        assert scripts.compare.main([*[a.replace("URL", server.url) for a in argv], "--overwrite"]) == 0
        assert server.hits == hits  # the cache held the answers
    log = (tmp_path / "out" / "decisions-cut-vl-2b.jsonl").read_text(encoding="utf-8").splitlines()
    assert log and all(json.loads(line)["response"].endswith("\ufffd") for line in log)
    assert "\ufffd" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


def test_a_comparison_run_from_a_folder_named_in_no_utf_8_writes_its_report(scripts, tmp_path, monkeypatch):
    # The command the report names goes back to that folder, whose name comes back from surrogateescape:
    # report.md, strict UTF-8, refused it after every (maybe paid) episode was played.
    folder = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9")
    os.mkdir(folder)
    monkeypatch.chdir(folder)
    out = tmp_path / "out"
    with ChatServer(default=lambda body: Reply("<best_answer>DOWN</best_answer>")) as server:
        assert scripts.compare.main(["--env", "snake", "--vlm", f"cut-vl-2b@{server.url}", "--episodes", "1",
                                     "--max-steps", "2", "--no-cache", "--out", str(out), "--frames", "0",
                                     "--no-progress"]) == 0
    assert b"cd '" + os.fsencode(folder) + b"' && " in (out / "report.md").read_bytes()  # as command.txt


def report_with_notes(scripts, out, url: str, cache) -> tuple[list[str], dict]:
    """A one-episode report in ``out`` with a file of the user's added: the arguments that made it, and
    its files' bytes."""
    argv = ["--env", "snake", "--vlm", f"junk-vl-2b@{url}", "--episodes", "1", "--max-steps", "2",
            "--out", str(out), "--cache-dir", str(cache), "--no-progress"]
    assert scripts.compare.main(argv) == 0
    (out / "notes.txt").write_text("mine")
    return argv, {f.relative_to(out): f.read_bytes() for f in out.rglob("*") if f.is_file()}


def test_a_failed_overwrite_leaves_the_old_report_as_it_was(scripts, tmp_path, monkeypatch, capsys):
    import agents.compare

    out = tmp_path / "report"
    with ChatServer(default=scripted) as server:
        argv, before = report_with_notes(scripts, out, server.url, tmp_path / "cache")
        assert any(f.parts[0] == "frames" for f in before) and len(before) > 8

        def disk_full(*args):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(agents.compare, "_markdown", disk_full)  # the last file a report writes
        capsys.readouterr()
        assert scripts.compare.main([*argv, "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert (f"error: --out {out} could not be written (No space left on device); any file there before is "
            "unchanged") in err  # outputs.not_written's line, as every command's
    assert (f"the VLM's answers are in the response cache {tmp_path / 'cache'}: free some space (or give "
            "another --out) and run the same command again, which sends no request for them") in err
    assert "Traceback" not in err
    after = {f.relative_to(out): f.read_bytes() for f in out.rglob("*") if f.is_file()}
    assert after == before and not [d for d in out.iterdir() if d.name.startswith(".")]


@pytest.mark.parametrize("name", ["report", "new/deep/report"])
def test_a_report_folder_the_full_disk_cannot_make_is_one_clear_error(scripts, tmp_path, monkeypatch, capsys,
                                                                      name):
    import errno
    from pathlib import Path

    real = Path.mkdir

    def disk_full(self, *args, **kwargs):
        if self.name == "report":  # the folders above it fit, the report's own does not
            real(self.parent, parents=True, exist_ok=True)
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", disk_full)
    out = tmp_path / name
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--vlm", f"junk-vl-2b@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--out", str(out), "--no-cache", "--no-progress"]
        assert scripts.compare.main(argv) == 2
    # Found before the play (which may be paid for), not once the answers are in.
    assert server.hits == 0
    err = capsys.readouterr().err
    assert f"error: --out {out}: the folder cannot be made (No space left on device)" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []  # nor the folders made for it


def test_an_overwrite_replaces_the_report_and_keeps_other_files(scripts, tmp_path):
    out = tmp_path / "report"
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--vlm", f"junk-vl-2b@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--out", str(out), "--no-cache", "--no-progress"]
        assert scripts.compare.main(argv) == 0
        (out / "notes.txt").write_text("mine")
        (out / "decisions-gone.jsonl").write_text("{}\n")  # an old player's log: part of the old report
        first = json.loads((out / "report.json").read_text())
        assert scripts.compare.main([*argv, "--overwrite"]) == 0
    assert json.loads((out / "report.json").read_text())["created"] >= first["created"]
    assert (out / "notes.txt").read_text() == "mine" and not (out / "decisions-gone.jsonl").exists()
    assert (out / "decisions-junk-vl-2b.jsonl").is_file() and list((out / "frames").glob("*.png"))
    assert not [d for d in out.iterdir() if d.name.startswith(".")]


def test_an_overwrite_refuses_a_frames_folder_holding_a_users_file(scripts, tmp_path, capsys):
    # The old report's frames/ was moved aside and deleted whole: a note put there went with it, silently.
    out = tmp_path / "report"
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--vlm", f"junk-vl-2b@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--out", str(out), "--no-cache", "--no-progress"]
        assert scripts.compare.main(argv) == 0
        hits = server.hits
        (out / "frames" / "notes.txt").write_text("mine")
        before = json.loads((out / "report.json").read_text())
        assert scripts.compare.main([*argv, "--overwrite"]) == 2
        assert server.hits == hits  # refused before the play
    assert (f"error: --overwrite refuses to replace {out / 'frames'}: it holds notes.txt, which no "
            "comparison writes; move it out of frames/ first") in capsys.readouterr().err
    assert (out / "frames" / "notes.txt").read_text() == "mine"
    assert json.loads((out / "report.json").read_text()) == before


def test_a_vlm_only_comparison_goes_under_runs_env(scripts, tmp_path, capsys, monkeypatch, recwarn):
    monkeypatch.chdir(tmp_path)
    with ChatServer(default=scripted) as server:  # a model name with no size in it: parameters unknown
        assert scripts.compare.main(["--env", "snake", "--vlm", f"mystery@{server.url}", "--episodes", "1",
                                     "--max-steps", "3", "--no-cache", "--no-progress"]) == 0
    (out,) = (tmp_path / "runs" / "snake").glob("compare-*")
    assert (out / "report.md").is_file() and (out / "speed.png").is_file()
    assert not [w for w in recwarn if "log-scaled" in str(w.message)]  # no log axis without a value


@pytest.mark.parametrize("env", ["snake", "snake_duel", "rotation", "sokoban"])
def test_every_game_with_a_goal_reports_a_success_rate(env):
    from agents.compare import success_of
    from envs import make_game

    game = make_game(env, num_envs=1)
    game.reset(np.zeros(1, dtype=np.int64), [0])
    assert success_of(game.episode_info(0)) == 0.0  # a fresh board is not won yet


def test_parameter_counts_and_prices_parse():
    assert params_from_name("qwen2.5-vl-7b") == 7e9
    assert params_from_name("Qwen/Qwen2.5-VL-72B-Instruct") == 72e9
    assert params_from_name("SmolVLM-256M-Instruct") == 256e6
    assert params_from_name("Qwen/Qwen2.5-7B-Instruct-1M") == 7e9  # the 1M is its context length
    assert params_from_name("gpt-4o") is None and params_from_name("Mixtral-8x7B") is None
    assert parse_count("8.3B") == pytest.approx(8.3e9) and parse_count("7e9") == parse_count("7E9") == 7e9
    assert parse_prices(["gpt-4o=2.5,10", "1"]) == {"gpt-4o": Price(2.5, 10), "*": Price(1, 1)}
    assert parse_prices(["local=0"]) == {"local": Price(0, 0)}  # a model served for free


def test_a_parameter_count_is_a_whole_number():
    # A count: --vlm-params m-vl-7b=8.3B was 8300000000.000001 in report.json, a specialist's 415605.0.
    assert parse_count("8.3B") == 8_300_000_000 and isinstance(parse_count("8.3B"), int)
    assert isinstance(params_from_name("qwen2.5-vl-7b"), int)
    assert params_from_name("Qwen2-VL-2.2B") == 2_200_000_000
    # Rounded, not cut: 8.2B is 8199999999.999999 as a float, and 1.6 is nearer 2 than 1.
    assert parse_count("8.2B") == params_from_name("m-vl-8.2b") == 8_200_000_000 and parse_count("1.6") == 2
    for none in ("0.4", "0.5", "1e400"):  # rounds to no parameter at all (0.5 to even), or is no number
        with pytest.raises(ValueError, match="7B, 256M or 7e9"):
            parse_count(none)
    # Nor from a name: m-0b gave 0, which report.json wrote as 0 parameters "from the model name" where the
    # table and the size plot said "unknown"; a size that rounds to none is no size, as parse_count's.
    for name in ("m-0b", "m-0.0000000001b"):
        assert params_from_name(name) is None, name


def test_a_price_is_bounded_so_that_every_cost_stays_finite():
    """A price of 1e306 was taken, and 2,000 tokens an episode cost inf: report.json held Infinity, which
    strict JSON readers refuse. At MAX_PRICE_PER_1K the cost of any number of tokens an episode could use
    stays finite."""
    import math

    from agents.compare import MAX_PRICE_PER_1K, CompareError

    cost = parse_prices([f"{MAX_PRICE_PER_1K}"])["*"].cost(1e290, 1e290)
    assert math.isfinite(cost) and json.dumps(cost, allow_nan=False) == f"{cost!r}"
    for price in ("1e306", "m=0.5,1e10", f"{MAX_PRICE_PER_1K * 1.01}", "m=1,2,3"):
        with pytest.raises(CompareError, match=r"--price-per-1k-tokens expects .*\(non-negative numbers up "
                                               r"to 1e\+09 per 1,000 tokens.*\), got"):
            parse_prices([price])


@pytest.mark.parametrize("items, message", [
    (["m-vl-7b=0.1", "m-vl-7b=0.2"],
     "--price-per-1k-tokens is given twice for model 'm-vl-7b'; give it once"),
    (["0.1", "0.2"], "--price-per-1k-tokens is given twice for every VLM (no MODEL=); give it once"),
])
def test_a_price_given_twice_for_one_model_is_refused(items, message):
    """The last was taken and the first dropped unsaid, as a second --specialist was."""
    from agents.compare import CompareError

    with pytest.raises(CompareError) as e:
        parse_prices(items)
    assert str(e.value) == message
    assert parse_prices(["m-vl-7b=0.1", "0.2"]) == {"m-vl-7b": Price(0.1, 0.1), "*": Price(0.2, 0.2)}


def test_a_parameter_count_given_twice_for_one_model_is_refused():
    from agents.compare import CompareError, parse_params

    with pytest.raises(CompareError) as e:
        parse_params(["m-vl-7b=7B", "m-vl-7b=8B"])
    assert str(e.value) == "--vlm-params is given twice for model 'm-vl-7b'; give it once"
    assert parse_params(["m-vl-7b=7B", "n-vl-3b=3B"]) == {"m-vl-7b": 7e9, "n-vl-3b": 3e9}


def test_summary_rates_count_what_each_figure_names():
    """Success rate over episodes; invalid, verifier and best-move rates over the decisions that have one."""
    def d(step, **kw):
        base = dict(step=step, action=0, move="UP", answer="UP", status="ok", response="", reasoning=None,
                    prompt_tokens=100, completion_tokens=10, latency_s=0.1, cached=False)
        return Decision(**{**base, **kw})

    won = Episode(1, 3.0, 4, 3.0, {"won": 1.0}, [0] * 4,
                  [d(0, correct=1.0, good_move=1.0), d(1, correct=0.0, good_move=1.0),
                   d(2, status="unparseable", answer=None), d(3, correct=1.0, good_move=0.0)])
    lost = Episode(2, 1.0, 2, 1.0, {"won": 0.0}, [0] * 2,
                   [d(0, correct=1.0), d(1, status="illegal", correct=0.0, good_move=0.0)])
    lost_too = Episode(3, 0.0, 0, 0.0, {"won": 0.0}, [], [])
    s = summarize_run(PlayerRun("vlm", "vlm", 7e9, "given", [won, lost, lost_too], 2.0), Price(1.0, 3.0))
    assert s["success_rate"] == pytest.approx(1 / 3)
    assert s["invalid"] == 2 and s["invalid_rate"] == pytest.approx(2 / 6)
    assert s["invalid_by_status"] == {"unparseable": 1, "illegal": 1, "error": 0}
    assert s["verifier_accuracy"] == pytest.approx(3 / 5)
    assert s["best_move_rate"] == pytest.approx(2 / 4)
    assert s["tokens_per_episode"] == pytest.approx(6 * 110 / 3)
    assert s["cost_per_episode"] == pytest.approx((6 * 100 * 1.0 + 6 * 10 * 3.0) / 1000 / 3)
    assert s["price_per_1k"] == {"prompt": 1.0, "completion": 3.0}  # the prices the cost is at, as given
    assert s["mean_score"] == pytest.approx(4 / 3) and s["decisions"] == 6


def test_the_failed_requests_warning_says_whether_a_re_run_asks_again():
    # With the cache a re-run asks only what failed; with --no-cache it asks every answer again.
    from agents.compare import failed_requests_hint

    summary = {"name": "m", "decisions": 3, "invalid_by_status": {"error": 1}, "about": {"cache": "/c"}}
    assert failed_requests_hint(summary).endswith("(answers already cached are not asked again).")
    no_cache = dict(summary, about={"cache": None})
    assert failed_requests_hint(no_cache).endswith("(with --no-cache every answer is asked again).")


def test_summary_score_length_latency_and_cache_figures():
    def d(step, **kw):
        base = dict(step=step, action=0, move="UP", answer="UP", status="ok", response="", reasoning=None,
                    prompt_tokens=0, completion_tokens=0, latency_s=1.0, cached=False)
        return Decision(**{**base, **kw})

    # Latency over the answered decisions only (a failed request's time is the retries', not the model's);
    # p95 near the slowest, not the fastest.
    log = [d(k, latency_s=float(k + 1), cached=k < 2) for k in range(20)]
    log += [d(20, status="error", answer=None, latency_s=0.0, finish_reason=None),
            d(21, finish_reason="length", latency_s=10.0)]
    eps = [Episode(1, 0.0, 22, 0.0, {}, [0] * 22, log), Episode(2, 5.0, 2, 5.0, {}, [0] * 2, []),
           Episode(3, 1.0, 6, 1.0, {}, [0] * 6, [])]
    s = summarize_run(PlayerRun("vlm", "vlm", None, "unknown", eps, 0.5), None)
    assert (s["min_score"], s["median_score"], s["max_score"]) == (0.0, 1.0, 5.0)
    assert s["mean_length"] == pytest.approx(10.0) and s["decisions_per_s"] == pytest.approx(60.0)
    assert s["cut_at_max_tokens"] == 1 and s["cached_answers"] == 2
    assert s["latency_s"]["mean"] == pytest.approx((210 + 10) / 21) and s["latency_s"]["median"] == 10.0
    assert s["latency_s"]["p95"] == pytest.approx(np.percentile([*range(1, 21), 10.0], 95))


def test_the_latency_median_of_an_even_count_is_the_mean_of_the_two_middle_ones():
    # report.json's latency median: with an even count of answers it is halfway between the middle two,
    # not the lower one (no test had an even count).
    answers = [Decision(k, 0, "UP", "UP", "ok", "", None, 0, 0, latency, False)
               for k, latency in enumerate([1.0, 2.0, 3.0, 10.0])]
    run = PlayerRun("vlm", "vlm", None, "unknown", [Episode(1, 0.0, 4, 0.0, {}, [0] * 4, answers)], 1.0)
    assert summarize_run(run, None)["latency_s"]["median"] == pytest.approx(2.5)


def test_a_vlm_whose_every_request_failed_has_no_latency_and_its_summary_is_strict_json():
    # Its latency figures were NaN, which report.json then held as NaN: not JSON to jq or JavaScript.
    failed = Decision(0, 0, "UP", None, "error", "", None, 0, 0, 0.0, False, error="gave up")
    run = PlayerRun("vlm", "vlm", None, "unknown", [Episode(1, 0.0, 1, 0.0, {}, [0], [failed])], 1.0)
    s = summarize_run(run, None)
    assert s["latency_s"] == {"mean": None, "median": None, "p95": None}
    json.dumps(s, allow_nan=False)


def test_worst_decisions_name_each_kind_and_rank_within_a_layer():
    def d(step, **kw):
        base = dict(step=step, action=0, move="UP", answer="UP", status="ok", response="", reasoning=None,
                    prompt_tokens=0, completion_tokens=0, latency_s=0.0, cached=False)
        return Decision(**{**base, **kw})

    # A winning last move (terminated, reward > 0) is no fatal one; a right answer is no worst decision.
    a = Episode(1, 0, 3, 0, {}, [0] * 3,
                [d(0, correct=0.5), d(1, correct=1.0), d(2, reward=1.0, terminated=True)])
    b = Episode(2, 0, 2, 0, {}, [0] * 2, [d(0, reward=-0.5), d(1, good_move=0.0)])
    picked = worst_decisions([a, b], 1)  # one of the first layer: the worse kind, whatever the seed order
    assert [(e.seed, dec.step, why) for e, dec, why in picked] == [(2, 0, "negative reward")]
    assert [(e.seed, dec.step, why) for e, dec, why in worst_decisions([a, b], 5)] == [
        (2, 0, "negative reward"), (2, 1, "not a best move by the engine"),
        (1, 0, "answer wrong by the verifier")]


def test_worst_decisions_rank_crashes_first_and_spread_over_episodes():
    def d(step, **kw):
        base = dict(step=step, action=0, move="UP", answer="UP", status="ok", response="", reasoning=None,
                    prompt_tokens=0, completion_tokens=0, latency_s=0.0, cached=False, good_move=1.0)
        return Decision(**{**base, **kw})

    a = Episode(1, 0, 3, 0, {}, [0, 0, 0], [d(0, status="unparseable", answer=None), d(1, good_move=0.0),
                                           d(2, reward=-1.0, terminated=True)])
    b = Episode(2, 0, 2, 0, {}, [0, 0], [d(0), d(1, status="illegal")])
    picked = worst_decisions([a, b], 3)
    assert [(e.seed, dec.step, why) for e, dec, why in picked] == [
        (1, 2, "fatal move"), (1, 0, "unparseable answer (fallback played)"),
        (2, 1, "illegal answer (fallback played)")]
    assert len(worst_decisions([a, b], 10)) == 4
    assert worst_decisions([], 3) == []


def _duel_episode(seed: int, actions: list[int], **env_kwargs: int) -> Episode:
    """A duel Snake episode played with ``actions`` (until it ends), logged as a VLM's decisions."""
    from envs import make_game
    from envs.rng import seeds_from

    game = make_game("snake_duel", num_envs=1, **env_kwargs)
    game.reset(np.zeros(1, dtype=np.int64), seeds_from(seed, 1))
    log, played = [], []
    for step, a in enumerate(actions):
        reward, terminated, _ = game.step(np.array([a]))
        played.append(a)
        log.append(Decision(step, a, "UDLR"[a], "UDLR"[a], "ok", "", None, 0, 0, 0.0, False, good_move=1.0,
                            reward=float(reward[0]), terminated=bool(terminated[0])))
        if terminated[0]:
            break
    info = game.episode_info(0)
    return Episode(seed, info["score"], len(played), sum(d.reward for d in log), info, played, log)


def test_a_duel_lost_on_length_at_the_round_limit_is_no_fatal_move(tmp_path):
    # The last round pays the outcome: lost on length, both snakes alive, it ends on -1, which the report
    # called a "fatal move" (a crash) though the VLM's snake never died.
    from agents.compare import _vlm_section

    kw = {"size": 10, "num_apples": 40, "max_rounds": 3, "start_length": 3, "opponent": "greedy"}
    lost = _duel_episode(7, [0, 0, 0], **kw)  # UP three times: alive at the limit, the blue snake longer
    assert lost.info["loss"] == 1 and lost.log[-1].reward < 0 and lost.log[-1].terminated
    crash = _duel_episode(7, [0] * 20, **{**kw, "max_rounds": 100})  # on up into the wall
    assert crash.log[-1].terminated and crash.length < 20
    run = PlayerRun("vlm", "vlm", None, "unknown", [lost], 1.0)
    _, rows, _ = _vlm_section(tmp_path, "snake_duel", kw, run, "vlm", 6)
    assert [(r["step"], r["reason"]) for r in rows] == [(2, "negative reward")]
    # A real crash still comes first as one (each episode replayed under its own round limit).
    _, rows, _ = _vlm_section(tmp_path, "snake_duel", {**kw, "max_rounds": 100},
                              PlayerRun("vlm", "vlm", None, "unknown", [crash], 1.0), "vlm", 6)
    assert [(r["step"], r["reason"]) for r in rows] == [(crash.length - 1, "fatal move")]


def test_a_vlm_on_a_game_it_cannot_play_is_told_so_before_the_games_rom_is_looked_for(scripts, tmp_path,
                                                                                       capsys, monkeypatch):
    # gameboy has no task module: asking for its ROM first sent the user to supply one for nothing.
    monkeypatch.chdir(tmp_path)  # no roms/tetris.gb here
    argv = ["--env", "gameboy", "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1", "--no-video",
            "--no-progress", "--out", str(tmp_path / "out")]
    assert scripts.evaluate.main(argv) == 2
    err = capsys.readouterr().err
    # It says what to do now (play the specialist alone), not only how to write a task module. Without a
    # run it said only "leave out --vlm", which left nothing to evaluate or compare.
    assert err.startswith("error: a VLM cannot play 'gameboy'"), err
    assert err.rstrip().endswith("Its specialist plays alone: give its run folder (a run trained on "
                                 "'gameboy') in place of --vlm and --env"), err
    assert "ROM" not in err and not (tmp_path / "out").exists()
    argv = ["--env", "gameboy", "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1", "--no-progress",
            "--out", str(tmp_path / "cmp")]
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: a VLM cannot play 'gameboy'"), err
    assert err.rstrip().endswith("Its specialist plays alone: give --specialist RUN (a run trained on "
                                 "'gameboy') and leave out --vlm"), err
    assert not (tmp_path / "cmp").exists()


def test_a_vlm_only_comparison_names_a_missing_rom_before_any_progress_bar(scripts, tmp_path, capsys,
                                                                           monkeypatch):
    # No specialist builds the game up front: the ROM was looked for once the VLM's bar had started.
    monkeypatch.chdir(tmp_path)  # no roms/pokemon_red.gb here
    with ChatServer(default=scripted) as server:
        argv = ["--env", "pokemon_red", "--vlm", f"m@{server.url}", "--episodes", "1",
                "--out", str(tmp_path / "out"), "--no-cache"]
        assert scripts.compare.main(argv) == 2
    assert server.hits == 0
    err = capsys.readouterr().err
    assert err.startswith("error: pokemon_red: no ROM file at roms/pokemon_red.gb"), err
    assert not (tmp_path / "out").exists()


# Runs compare.py and dies (os._exit, as a SIGKILL: no cleanup) at a point of writing its report: inside
# write_report, at the n-th rename of the swap, or when it deletes the replaced report. Run in a forked
# child of the test process, which has the imports already (a fresh interpreter spent ~10 s importing).
def killed_comparison(kill: str, argv: list[str], err: Path) -> None:
    import os
    import pathlib
    import runpy
    import shutil

    import agents.compare as c
    from tests.conftest import ROOT

    swapping, renames = False, 0
    real_write, real_rename = c.write_report, pathlib.Path.rename

    def write_report(*args, **kwargs):
        nonlocal swapping
        if kill == "write":
            os._exit(9)
        report = real_write(*args, **kwargs)
        swapping = True
        return report

    def rename(self, target):
        nonlocal renames
        renames += swapping
        if kill == f"rename:{renames}":
            os._exit(9)
        return real_rename(self, target)

    def rmtree(*args, **kwargs):
        if swapping and kill == "rmtree":
            os._exit(9)

    c.write_report, pathlib.Path.rename, shutil.rmtree = write_report, rename, rmtree
    os.chdir(ROOT)
    sys.stderr = open(err, "w", buffering=1)  # noqa: SIM115 (the test reads it when the exit code is wrong)
    sys.argv = ["scripts/compare.py", *argv]
    runpy.run_path("scripts/compare.py", run_name="__main__")


@pytest.mark.parametrize("kill", ["write", "moving old", "moving new", "rmtree"])
def test_a_comparison_killed_while_replacing_its_report_is_put_right_by_the_next(scripts, tmp_path, capsys,
                                                                                  kill):
    import multiprocessing

    out = tmp_path / "report"
    with ChatServer(default=scripted) as server:
        argv, before = report_with_notes(scripts, out, server.url, tmp_path / "cache")
    entries = len([e for e in out.iterdir() if e.name != "notes.txt"])
    point = {"moving old": "rename:2", "moving new": f"rename:{entries + 3}"}.get(kill, kill)
    # The killed run takes its answers from the cache (the server is gone).
    killed = multiprocessing.get_context("fork").Process(
        target=killed_comparison, args=(point, [*argv, "--overwrite"], tmp_path / "err"))
    killed.start()
    killed.join(timeout=300)  # a child stuck on a lock the fork copied fails the test, not the whole run
    if killed.is_alive():
        killed.kill()
    assert killed.exitcode == 9, (tmp_path / "err").read_text()
    assert [e for e in out.iterdir() if e.name.startswith(".report-")]  # what the kill left
    capsys.readouterr()
    # The next comparison into the folder (here without --overwrite: refused) first puts it right.
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert "already exists and is not empty" in err and "Traceback" not in err
    assert not [e for e in out.iterdir() if e.name.startswith(".")]
    after = {f.relative_to(out): f.read_bytes() for f in out.rglob("*") if f.is_file()}
    if kill == "rmtree":  # the new report was whole: only the old one's deletion was left
        assert "removed .report-old-" in err and after.keys() == before.keys() and after != before
    else:  # the previous report, as it was
        assert after == before
        assert ("put back the previous report" in err) == (kill != "write"), err


def test_the_report_folders_of_a_running_comparison_are_left_alone_and_named(tmp_path):
    # Left alone without a word: where the pid was a killed comparison's, reused by another program, the
    # hidden folder stayed, and a fresh --out was refused as "not empty" (with --overwrite as "not a
    # comparison folder") with nothing in `ls` to say why.
    import os

    from agents.compare import recover_report

    pid = os.getppid()  # a live process's: a comparison writing now, or a killed one's pid reused
    running = tmp_path / f".report-new-{pid}-abc"
    running.mkdir()
    (running / "report.json").write_text("{}")
    assert recover_report(tmp_path) == [
        f"kept {running.name}: process {pid}, which made it, still runs; if that is no comparison writing "
        "here (a killed one's process id, reused), it may hold the previous report (move its files back) "
        "or an unfinished one (delete it)"]
    assert (running / "report.json").is_file()


def test_a_killed_comparisons_folders_in_an_out_that_is_a_link_are_put_right_too(tmp_path):
    # The report is written through a linked --out, but its recovery skipped one: a comparison killed
    # while moving the old report aside left it hidden for good, and --overwrite then refused the folder.
    from agents.compare import recover_report

    target = tmp_path / "reports"
    aside = _killed_comparisons_folder(target, "moving")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert recover_report(link) == [f"put back the previous report, which a comparison killed while "
                                    f"replacing it had moved to {aside.name}"]
    assert sorted(e.name for e in target.iterdir()) == ["report.json"] and link.is_symlink()


class _Killed(BaseException):
    """A SIGKILL at that point, in process: nothing after it runs (no handler catches a BaseException)."""


def _report_in(folder: Path, version: str) -> dict[str, str]:
    """Writes a small report (report.json, report.md, frames/m-seed1-step1.png) saying ``version``; returns
    its files."""
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    files = {"report.json": f'{{"v": "{version}"}}', "report.md": version,
             "frames/m-seed1-step1.png": version}
    for name, text in files.items():
        (folder / name).write_text(text)
    return files


def _files(folder: Path) -> dict[str, str]:
    return {str(f.relative_to(folder)): f.read_text() for f in folder.rglob("*") if f.is_file()}


@pytest.mark.parametrize("then", ["killed removing the new report", "putting back fails too"])
def test_a_swap_that_failed_moving_the_new_report_in_keeps_the_old_one_for_recovery(tmp_path, monkeypatch,
                                                                                  then):
    # A rename of the new report into --out failed (a full disk). The old report was put back but its
    # empty folder kept the name .report-old-ID beside .report-new-ID, which recover_report reads as "the
    # report files in --out are the new one's": a kill while the new folder was removed then had the next
    # comparison delete the put-back report. And a put-back that failed too removed the new folder,
    # leaving .report-old-ID alone, the mark of a replaced report: the next comparison deleted it.
    import pathlib
    import shutil

    import agents.compare as c

    out = tmp_path / "report"
    before = _report_in(out, "old")
    monkeypatch.setattr(c, "write_report", lambda folder, **_: _report_in(folder, "new"))
    real_rename, real_rmtree, moved_in = pathlib.Path.rename, shutil.rmtree, []

    def rename(self, target):
        target = Path(target)
        if self.parent.name.startswith(".report-new-") and target.parent == out:
            moved_in.append(self.name)
            if len(moved_in) == 2:  # one new entry is in place
                raise OSError(28, "No space left on device")
        elif then == "putting back fails too" and target.parent.name.startswith(".report-new-"):
            raise OSError(28, "No space left on device")
        return real_rename(self, target)

    def rmtree(path, *args, **kwargs):
        if then == "killed removing the new report" and Path(path).name.startswith(".report-new-"):
            raise _Killed
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "rename", rename)
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    with pytest.raises((_Killed, OSError)):
        c.write_report_safely(out, True)
    monkeypatch.undo()
    c.recover_report(out)  # the next comparison's (the killed one's pid is this process's: not running)
    assert _files(out) == before


def test_a_recovery_killed_while_putting_the_old_report_back_is_finished_by_the_next(tmp_path, monkeypatch):
    # Killed after moving some of the old report back, recover_report left .report-old-ID beside
    # .report-new-ID: the next one took the report files back in --out for the new one's and deleted them.
    import os

    import agents.compare as c

    out = tmp_path / "report"
    swap = f"{os.getpid()}-abc"  # this process's pid: a killed comparison's, reused
    before = _report_in(out / f".report-old-{swap}", "old")
    _report_in(out / f".report-new-{swap}", "new")
    _report_in(out, "new")  # the new report had been moved in whole, but its folder not yet removed
    real_move_back = c._move_back

    def killed_after_one(folder: Path, into: Path) -> bool:
        next(folder.iterdir()).rename(into / next(folder.iterdir()).name)
        raise _Killed

    monkeypatch.setattr(c, "_move_back", killed_after_one)
    with pytest.raises(_Killed):
        c.recover_report(out)
    monkeypatch.setattr(c, "_move_back", real_move_back)
    c.recover_report(out)
    assert _files(out) == before


def test_the_report_folders_of_an_older_version_are_kept_and_named(tmp_path):
    # Versions before 2026-12 named them with no process id (tempfile's 8 characters), and no name says
    # how far their swap got: left alone, as they must be, but without a word, so a previous report
    # hidden in one stayed there unnoticed.
    from agents.compare import recover_report

    old = tmp_path / ".report-old-k3x_9abc"
    old.mkdir()
    (old / "report.json").write_text("{}")
    assert recover_report(tmp_path) == [
        f"kept {old.name}, which a comparison of a version before 2026-12 killed while writing its report "
        "left: it may hold the previous report (move its files back) or an unfinished one (delete it)"]
    assert (old / "report.json").is_file()


def test_leftover_report_folders_that_cannot_be_removed_are_one_clear_error(scripts, tmp_path, capsys,
                                                                            monkeypatch):
    import shutil

    out = tmp_path / "report"
    _killed_comparisons_folder(out, "new")

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(shutil, "rmtree", refused)
    argv = ["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1", "--out", str(out),
            "--no-cache", "--no-progress"]
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {out}: the folders a killed comparison left there cannot be put "
                          "right (Permission denied)"), err


def test_a_worst_decision_frame_closes_the_game_it_replays(monkeypatch):
    """Each worst-decision frame re-simulates its episode in a game of its own; a Game Boy game holds an
    emulator until closed."""
    import agents.compare as compare_module
    from envs import make_game

    closed: list[bool] = []

    def tracked(*args, **kwargs):
        game = make_game(*args, **kwargs)
        close = game.close
        game.close = lambda: (closed.append(True), close())[1]
        return game

    monkeypatch.setattr(compare_module, "make_game", tracked)
    state = compare_module.state_at("snake", {"size": 6}, 3, [0, 0, 0], 2)
    assert state["step"] == 2 and closed == [True]


def stop_a_slow_vlm_run(script: str, args: list[str], tmp_path) -> tuple[int, str, int]:
    """Run ``script`` against a VLM that holds its answers, Ctrl-C it once its first requests are on the
    wire, and three times more once it has said it stopped, then let the answers go: its exit code, its
    stderr, and how many requests were still on the wire when it said so."""
    import os
    import signal
    import subprocess
    import threading
    import time

    from tests.conftest import ROOT

    def in_a_terminal() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # not ignored, as it is in a background job

    # Held, not a fixed 4 s delay: the answers surely come after all four signals, and no sooner.
    release = threading.Event()
    with ChatServer(default=lambda body: Reply("UP", hold=release)) as server:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / script), *args, "--vlm", f"slow-vl-7b@{server.url}",
             "--episodes", "2", "--no-progress", "--cache-dir", str(tmp_path / "cache"),
             "--concurrency", "2"],
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, preexec_fn=in_a_terminal)
        try:
            # Until its first requests are on the wire, or it has ended (its stderr says why); a hang is the
            # suite's timeout. A 60 s deadline fell short of a start that imports torch on a busy box (37 s
            # to its first request on two loaded cores): in_flight was 0 and the test failed.
            while server.in_flight < 2 and proc.poll() is None:
                time.sleep(0.05)
            assert server.in_flight == 2, proc.communicate(timeout=60)[1]
            proc.send_signal(signal.SIGINT)
            lines = []
            for line in proc.stderr:
                lines.append(line)
                if line.startswith("interrupted"):
                    break
            on_the_wire = server.in_flight
            for _ in range(3):
                time.sleep(0.2)
                proc.send_signal(signal.SIGINT)
            release.set()
            _, err = proc.communicate(timeout=60)
        finally:
            release.set()
            proc.kill()
    return proc.returncode, "".join(lines) + err, on_the_wire


def test_a_repeated_ctrl_c_while_the_requests_on_the_wire_are_awaited_is_ignored(tmp_path):
    """The first Ctrl-C stops the play and says so at once; the requests already sent are awaited, so
    their answers reach the cache, and a repeat meanwhile is ignored, not an exit with a traceback."""
    out = tmp_path / "report"
    rc, err, on_the_wire = stop_a_slow_vlm_run("compare.py", ["--env", "snake", "--out", str(out)], tmp_path)
    assert rc == 130 and on_the_wire == 2, err
    assert err.count("interrupted") == 1 and "Traceback" not in err and "Exception ignored" not in err, err
    assert not out.exists()
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2  # the two answers awaited


def test_evaluate_vlm_says_at_once_that_it_stopped(tmp_path):
    """evaluate --vlm, stopped, says so before it awaits the requests on the wire (up to twice --timeout),
    not after a silent wait."""
    out = tmp_path / "results"
    rc, err, on_the_wire = stop_a_slow_vlm_run("evaluate.py", ["--env", "snake", "--out", str(out)], tmp_path)
    assert rc == 130 and on_the_wire == 2, err
    assert err.count("interrupted") == 1 and "Traceback" not in err and "Exception ignored" not in err, err
    assert not out.exists()
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2


def test_one_endpoint_written_two_ways_is_refused_as_given_twice():
    # .../v1 and .../v1/chat/completions send to one URL: the model played twice, the second from the cache.
    from types import SimpleNamespace

    from agents.compare import CompareError, player_labels
    from agents.vlm_client import Endpoint

    players = [SimpleNamespace(name="m", client=SimpleNamespace(endpoint=Endpoint.parse(spec)))
               for spec in ("m@http://h:1/v1", "m@http://h:1/v1/chat/completions")]
    with pytest.raises(CompareError, match="given twice"):
        player_labels(players)
    other = SimpleNamespace(name="m", client=SimpleNamespace(endpoint=Endpoint.parse("m@http://h:2/v1")))
    assert player_labels([players[0], other]) == ["m@h:1", "m@h:2"]


def test_the_report_names_the_specialists_checkpoint_by_absolute_path_and_its_step(scripts, specialist,
                                                                                  tmp_path, monkeypatch):
    # Given as a relative folder, the run and checkpoint were written as given: report.json (which stays in
    # the run folder by default) then named a model relative to wherever compare had been run, unlike
    # evaluate's JSON and the export's meta.json; report.md did not name the model at all.
    import os

    monkeypatch.chdir(specialist.parent)
    out = tmp_path / "report"
    assert scripts.compare.main(["--env", "snake", "--specialist", specialist.name, "--episodes", "2",
                                 "--out", str(out), "--no-progress"]) == 0
    about = json.loads((out / "report.json").read_text())["players"][0]["about"]
    ckpt = os.path.abspath(specialist / "model.zip")
    assert about["run"] == os.path.abspath(specialist) and about["checkpoint"] == ckpt
    assert about["step"] == 256
    assert f"is the model `{ckpt}` at training step 256." in (out / "report.md").read_text()


def test_env_defaults_to_the_specialists_game(scripts, specialist, tmp_path, capsys):
    # The run folder names its game, as evaluate and the export read it: --env was required all the same,
    # so `compare.py --specialist RUN` stopped on argparse's usage, for a flag that could only agree.
    out = tmp_path / "report"
    assert scripts.compare.main(["--specialist", str(specialist), "--episodes", "1", "--out", str(out),
                                 "--no-progress"]) == 0
    assert json.loads((out / "report.json").read_text())["env"] == "snake"
    # Without a run, the VLMs still need the game named.
    with pytest.raises(SystemExit) as exc:
        scripts.compare.main(["--vlm", "m@http://127.0.0.1:9/v1", "--out", str(tmp_path / "o"),
                              "--no-progress"])
    assert exc.value.code == 2 and "--env is required without --specialist" in capsys.readouterr().err
    assert scripts.compare.main(["--specialist", str(tmp_path / "none"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--specialist" in err and "no such run folder" in err
    for argv, message in (([], "nothing to compare"),
                          (["--checkpoint", "x.zip"], "give --specialist RUN too")):
        assert scripts.compare.main([*argv, "--no-progress"]) == 2 and message in capsys.readouterr().err


def test_checkpoint_picks_the_specialists_model_as_evaluate_does(scripts, specialist, tmp_path, capsys):
    # compare had no --checkpoint: a checkpoint evaluated (or exported) with --checkpoint could not be
    # compared with a VLM; the run's model.zip always played.
    import os
    import shutil

    run = tmp_path / "run"
    shutil.copytree(specialist, run)
    early = tmp_path / "early.zip"
    model = always_right_checkpoint(run, early)
    out = tmp_path / "report"
    assert scripts.compare.main(["--env", "snake", "--specialist", str(run), "--checkpoint", str(early),
                                 "--episodes", str(EPISODES), "--seed", str(SEED), "--out", str(out),
                                 "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    row = report["players"][0]
    assert row["about"]["checkpoint"] == os.path.abspath(early) and row["about"]["step"] == 128
    expected = run_episodes(model, "snake", report["env_kwargs"], EPISODES, seed=SEED)
    assert row["per_episode"]["score"] == [e.score for e in expected]
    assert all(set(e.actions) == {3} for e in expected)  # not the run's own model's play
    capsys.readouterr()
    assert scripts.evaluate.main([str(run), "--checkpoint", str(early), "--episodes", str(EPISODES), "--seed",
                                  str(SEED), "--json", "--no-video", "--no-progress"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert (evaluated["step"], evaluated["mean_score"], evaluated["mean_length"]) == (
        128, row["mean_score"], row["mean_length"])
    assert evaluated["per_episode"] == row["per_episode"]  # episode for episode, one summarize for both
    assert scripts.compare.main(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--checkpoint",
                                 str(early), "--out", str(tmp_path / "none"), "--no-progress"]) == 2
    assert "--checkpoint is the specialist's model file: give --specialist RUN too" in capsys.readouterr().err
    assert scripts.compare.main(["--env", "snake", "--specialist", str(run), "--checkpoint",
                                 str(tmp_path / "missing.zip"), "--out", str(tmp_path / "none"),
                                 "--no-progress"]) == 2
    assert f"error: --checkpoint {tmp_path / 'missing.zip'}: no such file" in capsys.readouterr().err


def test_a_count_of_one_names_its_thing_in_the_singular(scripts, tmp_path, monkeypatch, capsys):
    # compare printed "1 of 1 episodes cut", and warned "1 of 1 answers stopped at the token limit" and
    # "1 of 1 requests failed"; the report said "at most 1 steps each".
    import agents.compare
    from agents.compare import _markdown, failed_requests_hint, max_tokens_hint, token_counts_hint

    vlm = {"name": "m", "kind": "vlm", "mean_score": 1.0, "success_rate": None, "invalid_rate": 1.0,
           "decisions_per_s": None, "cut_at_max_tokens": 1, "invalid_by_status": {"error": 1}, "capped": 1,
           "episodes": 1, "decisions": 1, "about": {"cache": None, "settings": {"max_tokens": 8}},
           "answers_without_token_counts": 0}
    assert max_tokens_hint(vlm).startswith("m: 1 of 1 answer stopped at the token limit (8)")
    untold = dict(vlm, answers_without_token_counts=1, invalid_by_status={})
    assert token_counts_hint(untold).startswith("m: 1 of 1 answer came without token counts")
    assert failed_requests_hint(vlm).startswith("m: 1 of 1 request failed (given up after every retry, or")
    assert max_tokens_hint(dict(vlm, decisions=2)).startswith("m: 1 of 2 answers stopped")
    report = {"env": "snake", "env_kwargs": {}, "episodes": 1, "seeds": [5], "max_steps": 1, "players": [],
              "created": "now", "command": None}
    assert "at most 1 step each)." in _markdown(report, [])
    assert "at most 2 steps each)." in _markdown(dict(report, max_steps=2), [])
    monkeypatch.setattr(agents.compare, "compare", lambda *a, **k: {"players": [vlm]})
    assert scripts.compare.main(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--no-cache",
                                 "--out", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    assert ", 1 of 1 episode cut at the step limit (scored as it stood)" in out, out
    assert "1 of 1 answer stopped" in err and "1 of 1 request failed" in err, err
    # "they" for one cut episode in the report's line and evaluate's too (several still "they").
    from agents.compare import cut_text
    from agents.evaluate_cli import cut_note

    cut = {"players": [vlm], "max_steps": 4}
    assert cut_text(cut)[1] == "Cut at 4 steps, still playing (scored as it stood): m 1 of 1 episode."
    assert cut_text({"players": [vlm, dict(vlm, name="n")], "max_steps": 4})[1] == \
        "Cut at 4 steps, still playing (scored as they stood): m 1 of 1 episode, n 1 of 1 episode."
    assert cut_note({"capped": 1, "max_steps": 4}) == " (1 cut at --max-steps, scored as it stood)"
    assert cut_note({"capped": 2, "max_steps": 4}) == " (2 cut at --max-steps, scored as they stood)"
    # compare.py --max-steps 1: the report's line of the cut episodes said "Cut at 1 steps".
    assert cut_text({"players": [vlm], "max_steps": 1})[1] == \
        "Cut at 1 step, still playing (scored as it stood): m 1 of 1 episode."


def test_compare_s_counts_are_written_with_thousands_separators(scripts, tmp_path, monkeypatch, capsys):
    # The hints, the cut lines and the report's step limit wrote "1200 of 1500 answers" and "at most 8192
    # steps each" by hand, where the same report said "Cut at 8,192 steps" (vlm.tasks.plural).
    import agents.compare
    from agents.compare import _markdown, cut_text, failed_requests_hint, max_tokens_hint, token_counts_hint

    vlm = {"name": "m", "kind": "vlm", "mean_score": 1.0, "success_rate": None, "invalid_rate": 1.0,
           "decisions_per_s": None, "cut_at_max_tokens": 1200, "invalid_by_status": {"error": 1200},
           "capped": 1200, "episodes": 1500, "decisions": 1500, "cut_short_of_max_tokens": 1100,
           "about": {"cache": None, "settings": {"max_tokens": 8}}, "answers_without_token_counts": 1200}
    assert max_tokens_hint(vlm).startswith("m: 1,200 of 1,500 answers stopped at the token limit (8)")
    assert "(1,100 of them stopped with fewer tokens" in max_tokens_hint(vlm)
    assert failed_requests_hint(vlm).startswith("m: 1,200 of 1,500 requests failed (given up")
    untold = dict(vlm, decisions=2700)
    assert token_counts_hint(untold).startswith("m: 1,200 of 1,500 answers came without token counts")
    assert cut_text({"players": [vlm], "max_steps": 8192})[1] == \
        "Cut at 8,192 steps, still playing (scored as they stood): m 1,200 of 1,500 episodes."
    report = {"env": "snake", "env_kwargs": {}, "episodes": 1, "seeds": [5], "max_steps": 8192, "players": [],
              "created": "now", "command": None}
    assert "at most 8,192 steps each)." in _markdown(report, [])
    monkeypatch.setattr(agents.compare, "compare", lambda *a, **k: {"players": [vlm]})
    assert scripts.compare.main(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--no-cache",
                                 "--out", str(tmp_path / "out")]) == 0
    assert ", 1,200 of 1,500 episodes cut at the step limit" in capsys.readouterr().out


def test_the_defaults_the_readme_states_and_the_lines_printed_per_player(scripts, tmp_path, monkeypatch,
                                                                        capsys):
    # The defaults (20 episodes from seed 1000000, as evaluate and the export seed theirs; 6 worst decisions;
    # the report in <specialist>/compare-<time>) and the players' lines were not checked: every test gave
    # --episodes, --seed and --out, and none read the lines.
    import time

    import agents.compare

    seen = {}
    players = [{"name": "specialist", "mean_score": 12.5, "success_rate": 0.25, "invalid_rate": 0.0,
                "decisions_per_s": 1234.5, "cut_at_max_tokens": 0, "invalid_by_status": {}, "capped": 0,
                "episodes": 20, "answers_without_token_counts": 0},
               {"name": "m-vl-7b", "mean_score": 1.0, "success_rate": None, "invalid_rate": 0.125,
                "decisions_per_s": None, "cut_at_max_tokens": 0, "invalid_by_status": {"unparseable": 1},
                "capped": 3, "episodes": 20, "answers_without_token_counts": 0}]

    def compare(env, out, episodes, seed, **kwargs):
        seen.update(env=env, out=out, episodes=episodes, seed=seed, **kwargs)
        return {"players": players}

    monkeypatch.setattr(agents.compare, "compare", compare)
    monkeypatch.setattr(time, "strftime", lambda fmt: "20261202-031500")
    run = tmp_path / "run"
    assert scripts.compare.main(["--env", "snake", "--specialist", str(run)]) == 0
    assert (seen["env"], seen["episodes"], seen["seed"]) == ("snake", 20, 1_000_000)
    assert seen["out"] == run / "compare-20261202-031500" and seen["specialist"] == run
    assert (seen["frames_per_vlm"], seen["device"], seen["max_steps"], seen["checkpoint"]) == (6, "cpu", None,
                                                                                                None)
    assert seen["overwrite"] is False and seen["show_progress"] is True and seen["players"] == []
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{'specialist':>28}: mean score 12.50, success 25%, invalid 0.0%, 1,234.5 decisions/s",
                   f"{'m-vl-7b':>28}: mean score 1.00, success n/a, invalid 12.5%, 0.0 decisions/s, "
                   "3 of 20 episodes cut at the step limit (scored as they stood)",
                   f"report: {run / 'compare-20261202-031500' / 'report.md'}"]


def test_a_player_that_never_won_is_printed_with_success_0_percent_not_n_a(scripts, tmp_path, monkeypatch,
                                                                           capsys):
    # n/a is for a game with no won/solved; a success rate of 0 is a figure (no test printed one).
    import agents.compare

    player = {"name": "m-vl-7b", "mean_score": 0.0, "success_rate": 0.0, "invalid_rate": 0.0,
              "decisions_per_s": 2.0, "cut_at_max_tokens": 0, "invalid_by_status": {}, "capped": 0,
              "episodes": 20, "answers_without_token_counts": 0}
    monkeypatch.setattr(agents.compare, "compare", lambda *args, **kwargs: {"players": [player]})
    assert scripts.compare.main(["--env", "snake", "--specialist", str(tmp_path / "run"), "--out",
                                 str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{'m-vl-7b':>28}: mean score 0.00, success 0%, invalid 0.0%, 2.0 decisions/s")


def test_every_flag_reaches_the_comparison_with_the_command_to_run_it_again(scripts, tmp_path, monkeypatch,
                                                                            capsys):
    # --max-steps, --concurrency and the command the report names were passed on by no checked path: the
    # end-to-end runs' scripted VLMs played as well without the cut, and the report's command was never read.
    import shlex

    import agents.compare

    seen = {}

    def compare(env, out, episodes, seed, **kwargs):
        seen.update(env=env, out=out, episodes=episodes, seed=seed, **kwargs)
        return {"players": []}

    monkeypatch.setattr(agents.compare, "compare", compare)
    run, ckpt, out = tmp_path / "run", tmp_path / "early.zip", tmp_path / "out"
    argv = ["--env", "snake", "--specialist", str(run), "--checkpoint", str(ckpt), "--vlm",
            "m-vl-7b@http://127.0.0.1:9/v1", "--episodes", "3", "--seed", "5", "--max-steps", "7",
            "--out", str(out), "--overwrite", "--frames", "2", "--device", "cpu", "--no-progress",
            "--concurrency", "3", "--price-per-1k-tokens", "m-vl-7b=0.5", "--vlm-params", "m-vl-7b=8B",
            "--no-cache"]
    monkeypatch.chdir(tmp_path)  # run elsewhere: the command recorded goes back here, to the script itself
    assert scripts.compare.main(argv) == 0
    assert (seen["env"], seen["out"], seen["episodes"], seen["seed"]) == ("snake", out, 3, 5)
    assert (seen["specialist"], seen["checkpoint"]) == (run, ckpt)
    assert (seen["max_steps"], seen["frames_per_vlm"]) == (7, 2)
    assert seen["overwrite"] is True and seen["show_progress"] is False and seen["device"] == "cpu"
    assert [(p.env, p.concurrency) for p in seen["players"]] == [("snake", 3)]
    assert seen["prices"] == agents.compare.parse_prices(["m-vl-7b=0.5"]) and seen["prices"]
    assert seen["vlm_params"] == agents.compare.parse_params(["m-vl-7b=8B"]) and seen["vlm_params"]
    assert seen["command"] == (f"cd {shlex.quote(str(tmp_path))} && {RECORDED_ENV}"
                               + shlex.join([sys.executable, str(ROOT / "scripts" / "compare.py"), *argv]))
    assert capsys.readouterr().out == f"report: {out / 'report.md'}\n"


def test_the_report_tables_per_seed_rows_and_worst_decision_frames_say_what_each_player_did(tmp_path,
                                                                                           monkeypatch):
    # write_report on hand-made runs, every figure distinct: the main table's, the per-seed and VLM-details
    # rows (each column where it is headed), the worst decisions' rows, text and frames (the state before
    # the decision's move), the decision log and the JSON. The end-to-end tests only looked for a few cells.
    from agents import compare
    from envs import make_game
    from envs.rng import seeds_from
    from vlm.tasks import task_module

    def d(step, move, answer, status="ok", **kw):
        base = dict(action=("UP", "DOWN", "LEFT", "RIGHT").index(move), prompt_tokens=100,
                    completion_tokens=10, latency_s=0.0, cached=False, response=f"said {step}",
                    reasoning=None)
        return Decision(step=step, move=move, answer=answer, status=status, **{**base, **kw})

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])  # (tested end to end)
    env_kwargs = {"size": 6}  # seed 40 starts heading LEFT, seed 41 DOWN, seed 42 any way
    vlm_eps = [
        Episode(40, 0.0, 2, 0.0, {"won": 0.0}, [2, 2],
                [d(0, "LEFT", "LEFT", correct=1.0, good_move=1.0, latency_s=1.0, cached=True),
                 d(1, "LEFT", "RIGHT", "illegal", correct=0.0, good_move=0.0, latency_s=2.0, cached=True,
                   reward=-0.5)]),
        Episode(41, 2.0, 5, 2.0, {"won": 0.0}, [1] * 5,
                [d(0, "DOWN", None, "unparseable", correct=0.0, good_move=0.0, latency_s=3.0,
                   finish_reason="length"),
                 *[d(k, "DOWN", None, "error", error="gave up") for k in (1, 2, 3)],
                 d(4, "DOWN", "UP", "illegal", correct=0.0, latency_s=6.0)]),
        Episode(42, 0.0, 1, 0.0, {"won": 0.0}, [0],
                [d(0, "UP", "UP", correct=1.0, good_move=1.0, latency_s=4.0)]),
    ]
    spec_eps = [Episode(40, 3.0, 4, 3.0, {"won": 1.0}, [0] * 4),
                Episode(41, 1.0, 2, 1.0, {"won": 0.0}, [0] * 2), Episode(42, 8.0, 1, 8.0, {"won": 1.0}, [0])]
    about = {"model": "m-vl-7b", "endpoint": "m-vl-7b@http://h:1/v1",
             "client": {"http_requests": 5, "retries": 7},
             "settings": {"max_tokens": 32, "max_completion_tokens": 64}}
    runs = [PlayerRun("specialist-tiny", "specialist", 1.5e6, "counted", spec_eps, 2.0),
            PlayerRun("m-vl-7b", "vlm", 7e9, "from the model name", vlm_eps, 4.0, about)]
    out = tmp_path / "report"
    out.mkdir()
    report = compare.write_report(out, "snake", env_kwargs, 40, runs, {"m-vl-7b": Price(1.0, 2.0)},
                                  frames_per_vlm=2, max_steps=9)
    assert (report["seeds"], report["max_steps"]) == ([40, 41, 42], 9)
    assert [p["per_episode"]["score"] for p in report["players"]] == [[3.0, 1.0, 8.0], [0.0, 2.0, 0.0]]
    # Each episode's figures once, in the rows' per_episode: per_seed_scores and per_seed_capped repeated them
    assert [k for k in report if k.startswith("per_")] == []
    saved = json.loads((out / "report.json").read_text())["players"]
    assert [p["per_episode"] for p in saved] == [p["per_episode"] for p in report["players"]]
    md = (out / "report.md").read_text().splitlines()
    assert any(", at most 9 steps each)." in line for line in md)
    p95 = np.percentile([1.0, 2.0, 3.0, 6.0, 4.0], 95)
    for line in ["| specialist-tiny (specialist) | 1.5M | 4.00 ± 2.94 | 3 | 67% | 0 (0.0%) | n/a | n/a | 3.5 "
                 "| 0 | 0 (local) |",
                 "| m-vl-7b (vlm) | 7B | 0.667 ± 0.94 | 0 | 0% | 6 (75.0%) | 50% | 40% | 2.0 | 293 "
                 "| 0.3200 |",
                 "| seed | specialist-tiny | m-vl-7b |", "| 40 | 3 | 0 |", "| 41 | 1 | 2 |", "| 42 | 8 | 0 |",
                 f"| m-vl-7b | m-vl-7b@http://h:1/v1 | 8 | 1 | 2 | 3 | 1 | 2 | 5 | 7 | 3.20 / {p95:.2f} |"]:
        assert line in md, line
    assert any(line.startswith("**m-vl-7b: 1 of 8 answers stopped at the token limit (64)**") for line in md)
    log = [json.loads(line) for line in (out / "decisions-m-vl-7b.jsonl").read_text().splitlines()]
    assert [row["seed"] for row in log] == [40, 40, 41, 41, 41, 41, 41, 42]
    # The worst decisions: one per episode, the invalid answers first; each framed at the state it was about.
    rows = report["worst_decisions"]["m-vl-7b"]
    expected = [(40, 1, "illegal answer (fallback played)", "LEFT", "RIGHT", "illegal", -0.5),
                (41, 0, "unparseable answer (fallback played, cut at max_tokens)", "DOWN", None,
                 "unparseable", 0.0)]
    assert [(r["seed"], r["step"], r["reason"], r["played"], r["answer"], r["status"], r["reward"])
            for r in rows] == expected
    for row, ep in zip(rows, vlm_eps[:2], strict=True):
        game = make_game("snake", num_envs=1, **env_kwargs)
        game.reset(np.zeros(1, dtype=np.int64), seeds_from(row["seed"], 1))
        for a in ep.actions[:row["step"]]:
            game.step(np.array([a]))
        draft = task_module("snake").move_task(game.get_state(0))
        assert row["reference_answer"] == draft.answer
        assert row["frame"] == f"frames/m-vl-7b-seed{row['seed']}-step{row['step']}.png"
        with Image.open(out / row["frame"]) as im:
            frame = np.asarray(im)
        caption = f"seed {row['seed']}, step {row['step']}: played {row['played']} ({row['reason']})"
        assert np.array_equal(frame, compare._frame_image(list(draft.images), caption))
        image = draft.images[0]
        factor = -(-256 // min(image.shape[:2]))
        assert np.array_equal(frame[:-22], image.repeat(factor, 0).repeat(factor, 1))
        assert f"The engine's reference answer: `{draft.answer}`." in "\n".join(md)
    text = "\n".join(md)
    assert "Named `RIGHT` (illegal: the fallback was played); played **LEFT** (reward -0.5)." in text
    assert ("Named no readable move (unparseable: the fallback was played); played **DOWN** (reward +0)."
            in text)


def test_a_right_none_answer_is_reported_as_naming_no_move_rightly(tmp_path, monkeypatch):
    # "None" where every move is fatal is a valid answer (the prompt asks for it): its worst-decision text
    # says so, not "no readable move" (every other decision in the report tests named a move or failed).
    from agents import compare

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])
    fatal = Decision(step=0, action=0, move="UP", answer=None, status="ok", response="None",
                     reasoning=None, prompt_tokens=100, completion_tokens=1, latency_s=0.0, cached=False,
                     reward=-1.0, terminated=True)
    runs = [PlayerRun("m-vl-7b", "vlm", 7e9, "from the model name",
                      [Episode(42, 0.0, 1, -1.0, {"won": 0.0}, [0], [fatal])], 1.0,
                      {"model": "m-vl-7b", "endpoint": "m-vl-7b@http://h:1/v1",
                       "client": {"http_requests": 1, "retries": 0}})]
    out = tmp_path / "report"
    out.mkdir()
    report = compare.write_report(out, "snake", {"size": 6}, 42, runs, {}, frames_per_vlm=1, max_steps=9)
    assert [r["reason"] for r in report["worst_decisions"]["m-vl-7b"]] == ["fatal move"]
    text = (out / "report.md").read_text()
    assert "Named no move, rightly: every move is fatal; played **UP** (reward -1)." in text


def test_a_damaged_model_zip_names_the_newest_checkpoint_in_export_and_compare(specialist, scripts, tmp_path,
                                                                                capsys):
    # The README says all three commands that play a run name its newest checkpoint for a model.zip that
    # cannot be loaded; evaluate's test alone let export or compare drop the hint unnoticed.
    import shutil

    run = tmp_path / "run"
    shutil.copytree(specialist, run)
    (run / "model.zip").write_bytes(b"cut short")
    out = str(tmp_path / "out")
    hint = f"the run's newest checkpoint may load: --checkpoint {run / 'checkpoints' / 'step_256.zip'}"
    for main, argv in ((scripts.export_trajectories.main, [str(run), "--out", out, "--no-progress",
                                                         "--formats", "verl"]),  # any without `datasets`
                       (scripts.compare.main, ["--env", "snake", "--specialist", str(run), "--out", out,
                                               "--no-progress"])):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"cannot load checkpoint {run / 'model.zip'}" in err and hint in err, err
    assert not (tmp_path / "out").exists()


def test_a_player_that_plays_twice_reports_each_runs_own_requests_and_where_its_size_came_from():
    # One VLMPlayer (a notebook's) plays twice: the second run's client figures were the client's totals, and
    # a status seen only in the first run stayed in the second's counts as 0. A name stating no size is
    # "unknown", not "from the model name"; a size passed in is "given".
    from agents.compare import play_vlm
    from agents.vlm_client import ChatClient, Endpoint
    from agents.vlm_player import VLMPlayer
    from tests.chat_server import good, server_error

    with ChatServer([server_error()], default=lambda body: good("<best_answer>DOWN</best_answer>")) as server:
        client = ChatClient(Endpoint("gpt-4o", server.url), api_key_env=None, backoff=0.001)
        with VLMPlayer(client, "snake", concurrency=1) as player:
            first = play_vlm(player, "snake", {}, 1, SEED, 2)
            again = play_vlm(player, "snake", {}, 1, SEED, 2, parameters=2e11)
    assert first.about["client"]["status_counts"] == {"500": 1, "200": first.decisions}
    assert first.about["client"]["retries"] == 1
    assert again.about["client"] == {"calls": again.decisions, "http_requests": again.decisions,
                                     "cache_hits": 0, "retries": 0, "timeouts": 0, "failures": 0,
                                     "status_counts": {"200": again.decisions}}
    assert (first.parameters, first.parameters_source) == (None, "unknown")
    assert (again.parameters, again.parameters_source) == (2e11, "given")


def test_a_vlms_speed_leaves_out_the_games_first_use_as_the_specialists_does(monkeypatch):
    # A VLM alone (no specialist to warm the game up first) was timed with the game's first use, its
    # compiled kernels built then: a comparison's first VLM read 1.4 decisions/s and the same server's
    # second 41.8 on Sokoban. The first game made here stands for that one-off cost.
    import agents.evaluation
    from agents.compare import play_vlm
    from agents.vlm_client import ChatClient, Endpoint
    from agents.vlm_player import VLMPlayer
    from tests.chat_server import good

    made = []
    real_make_game = agents.evaluation.make_game

    def first_use_is_slow(*args, **kwargs):
        if not made:
            time.sleep(1.0)
        made.append(args)
        return real_make_game(*args, **kwargs)

    monkeypatch.setattr(agents.evaluation, "make_game", first_use_is_slow)
    with ChatServer([], default=lambda body: good("<best_answer>DOWN</best_answer>")) as server:
        client = ChatClient(Endpoint("gpt-4o", server.url), api_key_env=None, backoff=0.001)
        with VLMPlayer(client, "snake", concurrency=1) as player:
            run = play_vlm(player, "snake", {}, 1, SEED, 2)
            asked = client.stats.as_dict()["calls"]
    assert run.wall_s < 0.9, run.wall_s
    assert asked == run.decisions  # the warm-up asked the server nothing


def test_a_run_timed_at_zero_seconds_has_no_speed_rather_than_a_division_error():
    run = PlayerRun("vlm", "vlm", None, "unknown", [Episode(1, 0.0, 1, 0.0, {}, [0], [])], 0.0)
    assert summarize_run(run, None)["decisions_per_s"] is None


@pytest.mark.parametrize("game, episodes, error", [
    # scripts/compare.py's --episodes refuses 0 itself; compare() from a notebook must too, not after play.
    ("snake", 0, "--episodes must be >= 1, got 0"),
    # scripts/compare.py makes its players for --env; a notebook's player for sokoban on --env snake would
    # have been asked about sokoban on snake boards.
    ("sokoban", 1, "VLM player for 'sokoban' cannot play --env 'snake'"),
])
def test_compare_refuses_a_notebooks_bad_call_before_any_request(tmp_path, game, episodes, error):
    from agents.compare import CompareError, compare
    from agents.vlm_client import ChatClient
    from agents.vlm_player import VLMPlayer

    with ChatServer() as server:
        player = VLMPlayer(ChatClient(f"m@{server.url}", api_key_env=None), game)
        with pytest.raises(CompareError, match=error):
            compare("snake", tmp_path / "out", episodes, SEED, players=[player], show_progress=False)
    assert server.hits == 0 and not (tmp_path / "out").exists()


def test_worst_decisions_call_only_a_negative_end_fatal():
    # A move that ends the episode with reward 0 (a draw, a cut) is no crash: "fatal move" is a negative end.
    def d(step, **kw):
        base = dict(step=step, action=0, move="UP", answer="UP", status="ok", response="", reasoning=None,
                    prompt_tokens=0, completion_tokens=0, latency_s=0.0, cached=False, good_move=1.0)
        return Decision(**{**base, **kw})

    drawn = Episode(1, 0, 1, 0, {}, [0], [d(0, reward=0.0, terminated=True)])
    assert worst_decisions([drawn], 3) == []


def test_max_steps_cuts_every_vlm_episode_and_the_bar_counts_invalid_answers(tmp_path, capsys):
    # compare() passed --max-steps to the play; the progress bar's invalid count and its detaching from the
    # player after the play were checked by no test.
    from agents.compare import compare
    from agents.vlm_client import ChatClient
    from agents.vlm_player import VLMPlayer

    with ChatServer(default=lambda body: Reply("Sorry, I cannot see the board.")) as server, \
            VLMPlayer(ChatClient(f"junk-vl-2b@{server.url}", api_key_env=None), "snake") as player:
        report = compare("snake", tmp_path / "out", EPISODES, SEED, players=[player], max_steps=1,
                         frames_per_vlm=0)
        assert player.on_decision is None
    (row,) = report["players"]
    assert (report["max_steps"], row["decisions"], row["mean_length"]) == (1, EPISODES, 1.0)
    assert f"{EPISODES} decisions, {EPISODES} invalid, {EPISODES} steps]" in capsys.readouterr().err


def test_the_vlms_bar_draws_its_decisions_before_the_episode_ends(tmp_path, capsys, monkeypatch):
    # The counts were set without a redraw (refresh=False), so a VLM's bar showed them only as an episode
    # ended: one of thousands of answers (a Game Boy game's) sat at 0/1 without a sign of life.
    import agents.cli
    from agents.compare import compare
    from agents.vlm_client import ChatClient
    from agents.vlm_player import VLMPlayer

    monkeypatch.setattr(agents.cli, "REFRESH_S", 0.0)  # every count drawn
    with ChatServer(default=lambda body: Reply("Sorry, I cannot see the board.")) as server, \
            VLMPlayer(ChatClient(f"junk-vl-2b@{server.url}", api_key_env=None), "snake") as player:
        compare("snake", tmp_path / "out", 1, SEED, players=[player], max_steps=3, frames_per_vlm=0)
    frames = capsys.readouterr().err.split("\r")
    assert any(" 0/1 " in f and "1 decision, 1 invalid]" in f for f in frames), frames


def test_the_cached_answers_hint_names_only_caches_that_hold_every_answer(tmp_path):
    # A cache that failed a write (a full disk) does not hold every answer: a re-run would send requests.
    from types import SimpleNamespace

    from agents.compare import cached_answers_hint
    from agents.vlm_cache import ResponseCache

    whole, failed = ResponseCache(tmp_path / "whole"), ResponseCache(tmp_path / "failed")
    failed.warned = True
    players = [SimpleNamespace(client=SimpleNamespace(cache=c)) for c in (whole, failed, None)]
    assert cached_answers_hint(players[1:]) == ""
    hint = cached_answers_hint(players, " (or give another --out)")
    assert f"response cache {tmp_path / 'whole'}: free some space (or give another --out) and run" in hint
    assert "failed" not in hint


def test_the_script_closes_its_vlm_players_when_the_comparison_is_refused(scripts, tmp_path, monkeypatch,
                                                                         capsys):
    # Each player holds a pool of request threads; an error after they were made left them open.
    from agents.vlm_player import VLMPlayer

    closed = []
    close = VLMPlayer.close
    monkeypatch.setattr(VLMPlayer, "close", lambda self: (closed.append(self.name), close(self))[1])
    with ChatServer() as server:
        argv = ["--env", "snake", "--vlm", f"m@{server.url}", "--price-per-1k-tokens", "n=0.5", "--out",
                str(tmp_path / "out"), "--no-progress"]
        assert scripts.compare.main(argv) == 2
    assert "names model 'n'" in capsys.readouterr().err and closed == ["m"]


def test_a_stop_while_the_report_is_written_leaves_out_as_it_was_and_stays_a_stop(tmp_path, monkeypatch):
    # Only an OSError becomes "--out ... could not be written": a Ctrl-C must go on as one (the script
    # says it stopped), with the old report in place and no hidden folder left.
    import agents.compare as c

    out = tmp_path / "report"
    before = _report_in(out, "old")

    def stopped(folder, **_):
        _report_in(folder, "new")
        raise KeyboardInterrupt

    monkeypatch.setattr(c, "write_report", stopped)
    with pytest.raises(KeyboardInterrupt):
        c.write_report_safely(out, True)
    assert _files(out) == before and sorted(p.name for p in out.iterdir()) == ["frames", "report.json",
                                                                                 "report.md"]
    with pytest.raises(KeyboardInterrupt):  # a folder this call made goes again
        c.write_report_safely(tmp_path / "made" / "report", False)
    assert not (tmp_path / "made").exists()


def test_a_report_folder_removed_as_the_report_starts_is_made_again(tmp_path, monkeypatch):
    # Between making --out and its hidden folder for the new report, another comparison into it that had
    # found it missing too failed and removed it, empty: "--out ... could not be written (No such file or
    # directory)", the play's report lost.
    import agents.compare as c
    from agents.outputs import missing_folders, remove_folders

    out = tmp_path / "new" / "report"
    other_made, mkdtemp, gaps = missing_folders(out), c.tempfile.mkdtemp, []

    def other_failed_in_the_gap(*args, **kwargs):
        if not gaps:
            gaps.append(True)
            remove_folders(other_made)  # the failed one's cleanup: the folders it found missing, if empty
        return mkdtemp(*args, **kwargs)

    monkeypatch.setattr(c.tempfile, "mkdtemp", other_failed_in_the_gap)

    def written(folder, **_):
        _report_in(folder, "new")
        return {}

    monkeypatch.setattr(c, "write_report", written)
    c.write_report_safely(out, False)
    assert gaps and sorted(p.name for p in out.iterdir()) == ["frames", "report.json", "report.md"]


def test_a_report_set_aside_whose_names_are_taken_again_is_kept_and_named(tmp_path):
    # A killed comparison's moved-aside report goes back only where out has no file of that name: one the
    # user made since stays, and so does the rest of the old report, in its folder, named.
    from agents.compare import recover_report

    aside = tmp_path / f".report-moving-{os.getpid()}-abc"  # this process's pid: a killed one's, reused
    _report_in(aside, "old")
    (tmp_path / "report.md").write_text("the user's")
    assert recover_report(tmp_path) == [f"kept {aside}: a comparison killed while replacing the report moved "
                                        "it there, and some of its files are in the way"]
    assert (tmp_path / "report.md").read_text() == "the user's" and _files(aside) == {"report.md": "old"}
    assert (tmp_path / "report.json").read_text() == '{"v": "old"}'


def test_a_parameter_count_under_a_thousand_is_written_whole():
    from agents.compare import _count

    assert [_count(v) for v in (None, 0, 999, 1500, 2.5e6, 7e9)] == ["unknown", "unknown", "999", "1.5K",
                                                                     "2.5M", "7B"]
    # parse_count takes a T: 1.8T was written "1.8e+03B"; and the unit goes by the figure shown, as
    # 999.7M rounds to 1B ("1e+03M" before).
    assert [_count(v) for v in (1.8e12, 999.7e6, 123456)] == ["1.8T", "1B", "123K"]


def test_vlm_players_whose_names_slug_alike_keep_their_own_logs_and_a_clean_run_says_so(tmp_path,
                                                                                       monkeypatch):
    # "a/b-vl" and "a-b-vl" both slug to a-b-vl: the second's decision log is numbered, not written over
    # the first's. With no bad decision, the report says there was none to show.
    from agents import compare

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])

    def run(name: str, answer: str) -> PlayerRun:
        good = Decision(step=0, action=1, move="DOWN", answer="DOWN", status="ok", response=answer,
                        reasoning=None, prompt_tokens=1, completion_tokens=1, latency_s=0.0, cached=False,
                        correct=1.0, good_move=1.0)
        return PlayerRun(name, "vlm", None, "unknown", [Episode(41, 0.0, 1, 0.0, {"won": 0.0}, [1], [good])],
                         1.0, {"model": name, "endpoint": f"{name}@http://h:1/v1",
                               "client": {"http_requests": 1, "retries": 0}})

    out = tmp_path / "report"
    out.mkdir()
    report = compare.write_report(out, "snake", {"size": 6}, 41, [run("a/b-vl", "one"), run("a-b-vl", "two")],
                                  {}, frames_per_vlm=2)
    assert report["decision_logs"] == {"a/b-vl": "decisions-a-b-vl.jsonl",
                                       "a-b-vl": "decisions-a-b-vl-2.jsonl"}
    for name, log in report["decision_logs"].items():
        assert json.loads((out / log).read_text())["response"] == ("one" if name == "a/b-vl" else "two")
    assert report["worst_decisions"] == {"a/b-vl": [], "a-b-vl": []}
    assert (out / "report.md").read_text().count("No fatal, invalid or wrong answer in these episodes.") == 2


def test_a_stop_while_the_players_close_after_an_error_is_a_stop(scripts, tmp_path, monkeypatch, capsys):
    # A Ctrl-C while the players await their requests on the wire, after the comparison was refused: the
    # script says it stopped and exits 130, no traceback.
    from agents.vlm_player import VLMPlayer

    close = VLMPlayer.close

    def stopped(self):
        close(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(VLMPlayer, "close", stopped)
    with ChatServer() as server:
        argv = ["--env", "snake", "--vlm", f"m@{server.url}", "--price-per-1k-tokens", "n=0.5", "--out",
                str(tmp_path / "out"), "--no-cache", "--no-progress"]
        assert scripts.compare.main(argv) == 130
    err = capsys.readouterr().err
    assert "names model 'n'" in err and err.endswith("\ninterrupted: no report written\n")


def test_a_one_episode_report_says_one_episode_and_one_seed(tmp_path, monkeypatch):
    # "Every player played the same 1 episodes (seeds 42–42, ...)" on a one-episode comparison.
    import dataclasses

    from agents import compare

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])
    move = Decision(step=0, action=0, move="UP", answer="UP", status="ok", response="UP", reasoning=None,
                    prompt_tokens=100, completion_tokens=1, latency_s=0.0, cached=False, reward=0.0,
                    terminated=True)
    episodes = [Episode(seed, 0.0, 1, 0.0, {"won": 0.0}, [0], [move]) for seed in (42, 43)]
    run = PlayerRun("m-vl-7b", "vlm", 7e9, "from the model name", episodes, 1.0,
                    {"model": "m-vl-7b", "endpoint": "m-vl-7b@http://h:1/v1",
                     "client": {"http_requests": 2, "retries": 0}})
    for n, played in ((1, "the same episode (seed 42,"), (2, "the same 2 episodes (seeds 42–43,")):
        out = tmp_path / f"report{n}"
        out.mkdir()
        runs = [dataclasses.replace(run, episodes=episodes[:n])]
        compare.write_report(out, "snake", {"size": 6}, 42, runs, {}, frames_per_vlm=0, max_steps=9)
        assert f"Every player played {played} env settings" in (out / "report.md").read_text()


def test_two_comparisons_started_in_the_same_second_get_a_default_folder_each(scripts, specialist, tmp_path,
                                                                           monkeypatch, capsys):
    # Two comparisons of one run launched together (a loop over VLMs with &) both took <run>/compare-<time>:
    # the one that finished second had played all its (paid) episodes, then failed on the other's report.
    import time

    run = tmp_path / "run"
    shutil.copytree(specialist, run)
    monkeypatch.setattr(time, "strftime", lambda fmt: "20261204-120000")
    taken = run / "compare-20261204-120000"
    taken.mkdir()  # made by the other comparison, which is still playing
    argv = ["--specialist", str(run), "--episodes", "1", "--max-steps", "3", "--no-progress"]
    assert scripts.compare.main(argv) == 0
    assert list(taken.iterdir()) == []  # the other comparison's folder is left to it
    mine = run / "compare-20261204-120000-2"
    assert (mine / "report.json").is_file()
    assert capsys.readouterr().out.splitlines()[-1] == f"report: {mine / 'report.md'}"
    # One that fails leaves no folder of its own behind.
    assert scripts.compare.main([*argv, "--price-per-1k-tokens", "1"]) == 2
    assert sorted(run.glob("compare-*")) == [taken, mine]


def _killed_while_playing(argv: list[str], ready: Path) -> None:
    """compare.py with ``argv``, whose play says so in the file ``ready`` and then waits to be killed."""
    import runpy

    import agents.compare as c

    def play_all(*args, **kwargs):
        ready.write_text("playing")
        time.sleep(600)

    c.play_all = play_all
    time.strftime = lambda fmt: "20261207-030000"
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    sys.argv = ["scripts/compare.py", *argv]
    runpy.run_path(str(ROOT / "scripts" / "compare.py"), run_name="__main__")


def test_a_comparison_killed_while_playing_leaves_no_default_folder_after_the_next(scripts, specialist,
                                                                                  tmp_path, monkeypatch,
                                                                                  capsys):
    # Without --out, a comparison SIGKILLed during its play left its empty <run>/compare-<time>/ for good:
    # made before the play, with nothing in it to tell it from a comparison still playing. The next
    # comparison of the run removes it (its process runs no more) and says so; one still playing keeps its.
    import multiprocessing
    import signal

    run = tmp_path / "run"
    shutil.copytree(specialist, run)
    argv = ["--specialist", str(run), "--episodes", "1", "--max-steps", "3", "--no-progress"]
    ready = tmp_path / "ready"
    killed = multiprocessing.get_context("fork").Process(target=_killed_while_playing, args=(argv, ready))
    killed.start()
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and killed.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the comparison never started its play"
        playing = tmp_path / "playing"  # a comparison of the run still playing: its folder stays
        still = multiprocessing.get_context("fork").Process(target=_killed_while_playing,
                                                            args=(argv, playing))
        still.start()
        try:
            while not playing.exists() and still.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert playing.exists()
            os.kill(killed.pid, signal.SIGKILL)
            killed.join(timeout=60)
            assert killed.exitcode == -signal.SIGKILL
            left = run / "compare-20261207-030000"
            assert left.is_dir() and not list(left.glob("*"))  # what the kill left
            monkeypatch.setattr(time, "strftime", lambda fmt: "20261207-040000")
            capsys.readouterr()
            assert scripts.compare.main(argv) == 0
            err = capsys.readouterr().err
            said = f"{run}: removed compare-20261207-030000, the empty report folder of a killed comparison"
            assert said in err, err
            assert sorted(p.name for p in run.glob("compare-*")) == ["compare-20261207-030000-2",
                                                                       "compare-20261207-040000"]
            assert (run / "compare-20261207-040000" / "report.json").is_file()
            # The marks beside them: the one still playing keeps its; the one that ended removed its own.
            assert [p.name for p in run.glob(".compare-*")] == [f".compare-20261207-030000-2.{still.pid}.tmp"]
        finally:
            still.kill()
            still.join(timeout=60)
    finally:
        killed.kill()
        killed.join(timeout=60)


def test_two_comparisons_clearing_one_killed_folder_together_leave_the_new_one_its_folder(tmp_path,
                                                                                       monkeypatch):
    # Comparisons launched together, one killed at once (the OOM killer): the next two both found its mark
    # dead. The first removed the folder and its mark and made the folder again as its own; the second,
    # past its look at the mark, then removed that new folder (as the dead one's) and took the name too:
    # two comparisons in one folder, the one that ended second failing after its whole (paid) play.
    import pathlib

    from agents import compare as c

    run = tmp_path / "run"
    run.mkdir()
    dead = 2**22 + 1  # above pid_max's default: no process has it
    folder, mark = run / "compare-20261207-050000", run / f".compare-20261207-050000.{dead}.tmp"
    folder.mkdir()
    mark.touch()
    other = run / f".compare-20261207-050000.{os.getppid()}.tmp"  # the first one's own mark: it plays
    is_symlink = pathlib.Path.is_symlink

    def first_one_between(self):  # the first comparison's clean-up and reservation, run in between
        if self == mark and mark.exists():
            mark.unlink()
            folder.rmdir()
            folder.mkdir()
            other.touch()
        return is_symlink(self)

    monkeypatch.setattr(pathlib.Path, "is_symlink", first_one_between)
    out, made = c.reserve_default_out(folder)
    made.close()
    monkeypatch.undo()
    assert out == run / "compare-20261207-050000-2"
    assert folder.is_dir() and other.is_file()  # the first one's, left to it


@pytest.mark.parametrize("given", ["path", "dot"])
def test_a_report_folder_moved_away_with_its_run_meanwhile_is_not_made_again_in_the_new_run(
        scripts, specialist, tmp_path, monkeypatch, capsys, given):
    # A train_ppo.py --force in another terminal moved the run aside, with the comparison's default folder
    # <run>/compare-<time> in it, while the comparison played: its report was written into the new run. The
    # run given as "." from inside it: the move went unseen (the working folder moved aside with the old run)
    # and the report was written into the old run, which --force deletes.
    import agents.compare

    run = tmp_path / "run"
    shutil.copytree(specialist, run)
    play = agents.compare.play_all

    def played_while_forced(*a, **kw):  # what --force does: the old run aside, a new run in its place
        runs = play(*a, **kw)
        run.rename(tmp_path / ".run.replaced")
        shutil.copytree(specialist, run)
        return runs

    monkeypatch.setattr(agents.compare, "play_all", played_while_forced)
    monkeypatch.setattr(time, "strftime", lambda fmt: "20261207-020000")
    if given == "dot":
        monkeypatch.chdir(run)
    arg = str(run) if given == "path" else "."
    argv = ["--specialist", arg, "--episodes", "1", "--max-steps", "3", "--no-progress"]
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    # Named as the default folder it is, not as an --out the user never gave.
    report = "compare-20261207-020000"
    shown = run / report if given == "path" else f"{report} ({run / report})"  # findable: not in "." now
    assert (f"error: the report folder {shown} was moved or replaced while the comparison played") in err
    assert "--force" in err, err
    assert not list(run.glob("compare-*"))
    # Nor into the old run, and the report folder made there before the play is removed where it went: it
    # was looked for at its old name, in the new run, and left empty in the old one (put back in place
    # should the new run fail to start).
    assert not list((tmp_path / ".run.replaced").glob("*compare-*"))  # nor the mark naming it
    # The handle on the run the folder was removed through is closed: one open file a comparison otherwise.
    assert os.path.realpath(tmp_path / ".run.replaced") not in open_paths()


@pytest.mark.parametrize("how", ["removed", "made first by the other", "moved with the folder above"])
def test_a_report_folder_another_failed_comparison_removed_is_made_again(scripts, specialist, tmp_path,
                                                                          monkeypatch, capsys, how):
    # Two comparisons started together into one new --out each made it before the play; the one that failed
    # removed it, empty, while the other played, which then ended "--out ... was moved or replaced while the
    # comparison played (a train_ppo.py --force of the run it is in?)" after its whole (paid) play. Made
    # again only there: gone with the folder above it (a --force moving the run aside), it is still refused.
    base, out = removed_during_play(monkeypatch, tmp_path, "play_all", "cmp", how)
    code = scripts.compare.main(["--specialist", str(specialist), "--episodes", "1", "--max-steps", "3",
                                 "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    if how != "moved with the folder above":
        assert code == 0, err
        assert (out / "report.json").is_file()
    else:
        assert code == 2 and f"--out {out} was moved or replaced while the comparison played" in err, err
        assert list(base.iterdir()) == [] and not list((tmp_path / ".base.replaced").rglob("report.json"))


def _one_episode_argv(script: str, url: str, out: Path, cache: Path, max_steps: int,
                      retries: int) -> list[str]:
    """compare's or evaluate's argv for one Snake episode against one VLM, one request at a time."""
    own = ["--frames", "0"] if script == "compare" else ["--no-video"]
    return ["--env", "snake", "--out", str(out), *own, "--vlm", f"m-vl-7b@{url}", "--episodes", "1",
            "--max-steps", str(max_steps), "--retries", str(retries), "--concurrency", "1", "--cache-dir",
            str(cache), "--no-progress"]


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_failed_requests_are_warned_of_with_what_to_do(scripts, tmp_path, capsys, script):
    # A server that went down (or kept failing) mid-run: its requests played the fallback, and the only
    # sign was a higher invalid rate in the printed line; nothing said why or that a re-run fixes it.
    from tests.chat_server import good, server_error

    answer = "<think>t</think><best_answer>DOWN</best_answer><worst_answer>UP</worst_answer>"
    with ChatServer([good(answer), server_error()], default=lambda body: good(answer)) as server:
        argv = _one_episode_argv(script, server.url, tmp_path / "out", tmp_path / "cache", 3, 0)
        assert getattr(scripts, script).main(argv) == 0
    err = capsys.readouterr().err
    assert "warning: m-vl-7b: 1 of 3 requests failed (given up after every retry, or refused" in err
    assert "re-run" in err and "cached" in err


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_a_request_refused_mid_run_is_not_said_to_be_retried(scripts, tmp_path, capsys, script):
    # A request refused with HTTP 400 once the server had answered (too long for its context) is not
    # retried, yet the warning said it "failed after every retry".
    from tests.chat_server import bad_request, good

    answer = "<think>t</think><best_answer>DOWN</best_answer><worst_answer>UP</worst_answer>"
    with ChatServer([good(answer), bad_request(400, "prompt too long")],
                    default=lambda body: good(answer)) as server:
        argv = _one_episode_argv(script, server.url, tmp_path / "out", tmp_path / "cache", 3, 2)
        assert getattr(scripts, script).main(argv) == 0
        assert len(server.requests) == 3  # the refused one was sent once
    err = capsys.readouterr().err
    assert "1 of 3 requests failed" in err and "failed after every retry" not in err, err
    assert "refused by the server" in err


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_a_server_gone_mid_run_stops_the_run_with_what_to_do(scripts, tmp_path, capsys, monkeypatch, script):
    # After one answer the server fails every request: the run played on, each decision waiting out the
    # backoff. It stops at the give-ups in a row, naming why, the answer kept in the cache and no report.
    import agents.vlm_client
    from tests.chat_server import good, server_error

    monkeypatch.setattr(agents.vlm_client, "GIVE_UPS_TO_STOP", 2)
    answer = "<think>t</think><best_answer>DOWN</best_answer><worst_answer>UP</worst_answer>"
    with ChatServer([good(answer)], default=lambda body: server_error()) as server:
        out = tmp_path / "out"
        argv = _one_episode_argv(script, server.url, out, tmp_path / "cache", 50, 0)
        assert getattr(scripts, script).main(argv) == 2
        assert server.hits == 3  # the answer, then the two give-ups: nothing more was asked
    err = capsys.readouterr().err
    assert "2 requests in a row given up after every retry: the server has stopped answering" in err
    assert "the answers that came are cached" in err
    assert not list(out.glob("*.json")) and len(list((tmp_path / "cache").rglob("*.json"))) == 1


def test_a_cache_dir_inside_out_is_refused_before_any_request(scripts, tmp_path, capsys):
    # The cache filled --out during the play, and the check after it refused the folder as in use: the
    # whole play was lost to a layout known before the first request.
    from tests.chat_server import good

    answer = "<think>t</think><best_answer>DOWN</best_answer><worst_answer>UP</worst_answer>"
    out = tmp_path / "report"
    with ChatServer(default=lambda body: good(answer)) as server:
        argv = ["--env", "snake", "--out", str(out), "--frames", "0", "--vlm", f"m-vl-7b@{server.url}",
                "--episodes", "1", "--max-steps", "3", "--cache-dir", str(out / "cache"), "--no-progress"]
        assert scripts.compare.main(argv) == 2
        assert server.hits == 0
    assert f"--cache-dir {out / 'cache'} is inside --out {out}" in capsys.readouterr().err
    # Refused before the cache folder is made: an out/cache left behind had the corrected command refused
    # ("--out ... is not empty", and with --overwrite "holds no report.json") until it was deleted by hand.
    assert not out.exists()


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_a_refused_command_leaves_no_empty_cache_folder(script, scripts, tmp_path, capsys):
    # `compare.py --cache-dir DIR --set env_kwargs.size=3` made DIR (checked with the VLM's client) before
    # the board size was refused, leaving an empty folder behind; evaluate.py --vlm did the same.
    cache = tmp_path / "deep" / "cache"
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--vlm", f"m@{server.url}", "--cache-dir", str(cache), "--set",
                "env_kwargs.size=3", "--out", str(tmp_path / "out")]
        assert getattr(scripts, script).main(argv) == 2
    assert "error: snake size must be between 4 and 32, got 3" in capsys.readouterr().err
    assert server.hits == 0
    assert not (tmp_path / "deep").exists() and not (tmp_path / "out").exists()


def test_the_rates_plot_says_n_a_for_a_game_with_no_success_not_0_percent(tmp_path, monkeypatch):
    # A game with no won/solved (Pokémon) has no success rate: the table says n/a, but the plot drew a
    # bar labelled 0%, as if every episode had been lost.
    import agents.compare

    labels: dict[str, list[str]] = {}

    def save(fig, path):
        labels[path.name] = [t.get_text() for ax in fig.axes for t in ax.texts]
        pyplot().close(fig)
        return path.name

    from agents.curves import pyplot

    monkeypatch.setattr(agents.compare, "_save", save)
    runs = [PlayerRun("specialist", "specialist", 1e5, "counted",
                      [Episode(1, 2.0, 3, 2.0, {"score": 2.0}, [0, 0, 0], None)], 1.0)]
    summaries = [summarize_run(r, None) for r in runs]
    assert summaries[0]["success_rate"] is None
    agents.compare.write_plots(tmp_path, summaries, runs)
    assert "n/a" in labels["rates.png"] and "0%" in labels["rates.png"]  # success n/a, invalid 0%


def _drawn_plots(tmp_path, monkeypatch, runs):
    """The figures ``write_plots`` draws for ``runs``, by file name (kept open: the caller reads them)."""
    import agents.compare

    figures = {}

    def save(fig, path):
        figures[path.name] = fig
        return path.name

    monkeypatch.setattr(agents.compare, "_save", save)
    agents.compare.write_plots(tmp_path, [summarize_run(r, None) for r in runs], runs)
    return figures


def test_the_rates_plot_says_0_percent_for_a_player_that_never_won(tmp_path, monkeypatch):
    # n/a is for a game with no won/solved only: a lost game's 0% is a figure (no test drew one).
    from agents.curves import pyplot

    log = [Decision(0, 0, "UP", None, "unparseable", "", None, 1, 1, 0.1, False),
           Decision(1, 0, "UP", "UP", "ok", "", None, 1, 1, 0.1, False)]
    lost = Episode(1, 0.0, 2, 0.0, {"won": 0.0}, [0, 0], log)
    runs = [PlayerRun("m-vl-7b", "vlm", 7e9, "given", [lost], 1.0)]
    fig = _drawn_plots(tmp_path, monkeypatch, runs)["rates.png"]
    assert [t.get_text() for t in fig.axes[0].texts] == ["0%", "50%"]  # success, then invalid answers
    pyplot().close("all")


def test_the_scores_plot_draws_each_players_episode_scores(tmp_path, monkeypatch):
    # The score distribution's points, per player in the table's order: nothing but the plot's look was
    # tested (a plot of the episodes' lengths passed).
    from agents.curves import pyplot

    runs = [PlayerRun(name, "specialist", 1e5, "counted",
                      [Episode(k, x, 10 * (k + 1), x, {}, [0], None) for k, x in enumerate(scores)], 1.0)
            for name, scores in (("a", [2.0, 5.0, 1.0]), ("b", [0.0, 3.0, 4.0]))]
    (ax,) = _drawn_plots(tmp_path, monkeypatch, runs)["scores.png"].axes
    drawn = [points.get_offsets()[:, 1].tolist() for points in ax.collections]
    assert drawn == [[2.0, 5.0, 1.0], [0.0, 3.0, 4.0]]
    pyplot().close("all")


def test_an_out_filled_by_another_program_during_the_play_says_give_another_out(scripts, tmp_path, capsys):
    # Two comparisons given one --out (or a user saving a file there) while the first plays: it failed
    # after its play telling the user to "free some space", which was never the problem.
    out = tmp_path / "report"

    def intruder(body):
        (out / "theirs.txt").write_text("another comparison's file")
        return scripted(body)

    with ChatServer(default=intruder) as server:
        argv = ["--env", "snake", "--vlm", f"good-vl-7b@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--out", str(out), "--cache-dir", str(tmp_path / "c"), "--frames", "0", "--no-progress"]
        assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert f"--out {out} already exists and is not empty" in err and "free some space" not in err
    assert (f"the VLM's answers are in the response cache {tmp_path / 'c'}: give another --out and run the "
            "same command again") in err
    assert (out / "theirs.txt").read_text() == "another comparison's file"


def test_a_missing_specialist_with_env_given_is_named_missing_and_not_made(scripts, tmp_path, capsys):
    # The default folder is made under the run before the comparison: a missing run folder must not be
    # made for it (it then read as "not a run folder (no config.yaml)").
    run = tmp_path / "missing-run"
    assert scripts.compare.main(["--env", "snake", "--specialist", str(run), "--no-progress"]) == 2
    assert f"--specialist {run}: no such run folder" in capsys.readouterr().err
    assert not run.exists()


def test_a_vlm_params_for_every_model_is_refused_as_naming_no_vlm(scripts, tmp_path, capsys):
    # --vlm-params '*=7B' went by as the count of a model named '*', which no player is: silently
    # ignored (the report read the size from the name) where README says such a count is refused.
    out = tmp_path / "out"
    argv = ["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--vlm-params", "*=7B", "--out", str(out),
            "--no-progress"]
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert "--vlm-params names model '*', which no --vlm plays (the --vlm models are m)" in err
    assert not out.exists()
    # A price for every VLM is what '*' (or no MODEL=) means there, and stays accepted.
    from types import SimpleNamespace

    from agents.compare import check_model_names

    check_model_names([SimpleNamespace(name="m")], parse_prices(["*=0.5"]), {})


def test_a_specialists_summary_costs_nothing_and_has_no_invalid_answer_or_token():
    # report.md writes the specialist's cost as "0 (local)"; report.json must say 0 too, not None (which
    # the cost plot annotates "no price given", as for a VLM with no price).
    eps = [Episode(500, 3.0, 7, 3.0, {"won": 1.0}, [0] * 7, None),
           Episode(501, 1.0, 5, 1.0, {"won": 0.0}, [0] * 5, None)]
    s = summarize_run(PlayerRun("specialist-MlpPolicy", "specialist", 1234.0, "counted", eps, 2.0), None)
    assert s["cost_per_episode"] == 0.0 and s["tokens_per_episode"] == 0.0
    assert (s["invalid"], s["invalid_rate"], s["cut_at_max_tokens"]) == (0, 0.0, 0)
    assert (s["success_rate"], s["decisions"], s["decisions_per_s"]) == (0.5, 12, 6.0)
    assert s["best_move_rate"] is None and s["verifier_accuracy"] is None


def test_a_rows_episode_list_comes_after_its_figures():
    """report.json's rows end with ``per_episode``, as evaluate's results file does: a row's figures (its
    tokens, cost and latency among them) are read first, not after a list as long as the episodes."""
    eps = [Episode(500, 3.0, 7, 3.0, {"won": 1.0}, [0] * 7, []),
           Episode(501, 1.0, 5, 1.0, {"won": 0.0}, [0] * 5, [])]
    for kind in ("specialist", "vlm"):
        row = summarize_run(PlayerRun(kind, kind, 1234.0, "counted", eps, 2.0), None)
        assert list(row)[-1] == "per_episode" and row["per_episode"]["score"] == [3.0, 1.0]


def test_an_unusable_answer_ranks_above_a_move_with_a_negative_reward():
    # The module's order: a fatal move, then an answer that could not be used, then a negative reward.
    def d(step, **kw):
        base = dict(step=step, action=0, move="UP", answer="UP", status="ok", response="", reasoning=None,
                    prompt_tokens=0, completion_tokens=0, latency_s=0.0, cached=False)
        return Decision(**{**base, **kw})

    a = Episode(1, 0, 4, 0, {}, [0] * 4, [d(0, reward=-0.5), d(1), d(2, status="illegal"), d(3)])
    b = Episode(0, 0, 1, 0, {}, [0], [d(0, reward=-0.5)])
    picked = worst_decisions([a, b], 1)
    assert [(e.seed, dec.step, why) for e, dec, why in picked] == [(1, 2, "illegal answer (fallback played)")]
    assert [(e.seed, dec.step) for e, dec, _ in worst_decisions([a, b], 3)] == [(1, 2), (0, 0), (1, 0)]


def test_duel_snake_replays_only_a_last_move_to_tell_a_crash(monkeypatch):
    # Snake 0 is alive until the episode ends: replaying every decision's state (quadratic in the
    # episode's length, per episode shown) tells nothing more.
    import agents.compare

    kw = {"size": 10, "num_apples": 40, "max_rounds": 100, "start_length": 3, "opponent": "greedy"}
    crash = _duel_episode(7, [0] * 20, **kw)
    replayed = []
    real = agents.compare.state_at
    monkeypatch.setattr(agents.compare, "state_at", lambda *a: replayed.append(a[-1]) or real(*a))
    crashed = agents.compare.crash_test("snake_duel", kw)
    assert [crashed(crash, dec) for dec in crash.log] == [False] * (crash.length - 1) + [True]
    assert replayed == [crash.length]


def test_an_unfinished_report_of_a_killed_comparison_is_removed_and_said(tmp_path):
    # Killed inside write_report: only its .report-new-ID folder is left, and the next comparison names
    # what it removed (one line per folder dealt with), leaving the user's files alone.
    from agents.compare import recover_report

    out = tmp_path / "report"
    new = _killed_comparisons_folder(out, "new")
    (out / "mine.txt").write_text("the user's")
    assert recover_report(out) == [f"removed {new.name}, the unfinished report of a killed comparison"]
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


def test_the_scores_per_seed_table_lists_up_to_fifty_seeds(tmp_path, monkeypatch):
    # A row per seed up to 50 episodes (seed and score, each player's own); longer runs leave it to the
    # per_episode of report.json's rows.
    from agents import compare

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])
    for n in (50, 51):
        episodes = [Episode(100 + k, float(k % 7), 3, 0.0, {"won": 0.0}, [0] * 3, None) for k in range(n)]
        out = tmp_path / f"report{n}"
        out.mkdir()
        compare.write_report(out, "snake", {}, 100, [PlayerRun("spec", "specialist", 10.0, "counted",
                                                               episodes, 1.0)], {})
        md = (out / "report.md").read_text()
        assert ("## Scores per seed" in md) == (n == 50)
        assert ("| 149 | 0 |" in md) == (n == 50)  # seed 149 is episode 49: 49 % 7 == 0
        assert ("| 148 | 6 |" in md) == (n == 50)


def test_a_vlm_params_count_reaches_its_model_on_every_server(monkeypatch):
    # README: --vlm-params goes by model name, also where two servers share a model and the report labels
    # them MODEL@host:port; each is played on the same seeds.
    from types import SimpleNamespace

    from agents import compare

    played = []
    monkeypatch.setattr(compare, "play_vlm", lambda p, env, kw, episodes, seed, steps, parameters, progress,
                        name: played.append((name, seed, parameters)) or name)
    players = [SimpleNamespace(name="m", on_decision=None), SimpleNamespace(name="m", on_decision=None)]
    runs = compare.play_all("snake", {}, 2, 77, 10, None, {}, players, ["m@h:1", "m@h:2"], {"m": 8e9}, False)
    assert runs == ["m@h:1", "m@h:2"]
    assert played == [("m@h:1", 77, 8e9), ("m@h:2", 77, 8e9)]


def test_one_model_behind_two_routes_of_one_host_gets_a_label_each():
    # Same model and host, two paths (two routes of one proxy): "m@h:1" would name both, and the second
    # player's per-seed scores and decision log would replace the first's: the whole endpoint names each.
    from types import SimpleNamespace

    from agents.compare import player_labels
    from agents.vlm_client import Endpoint

    specs = ("m@http://h:1/a/v1", "m@http://h:1/b/v1", "m@http://h:2/v1", "n@http://h:1/a/v1")
    players = [SimpleNamespace(name=spec.split("@")[0], client=SimpleNamespace(endpoint=Endpoint.parse(spec)))
               for spec in specs]
    assert player_labels(players) == ["m@http://h:1/a/v1", "m@http://h:1/b/v1", "m@h:2", "n"]


def test_a_default_folder_the_disk_refuses_leaves_no_folder_made_above_it(tmp_path, monkeypatch):
    # Without --specialist the default is runs/<env>/compare-<time>: runs/<env>, made for it, goes again
    # when compare-<time> itself cannot be made.
    import errno
    import pathlib

    from agents.compare import CompareError, reserve_default_out

    real_mkdir = pathlib.Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.name.startswith("compare-"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    with pytest.raises(CompareError, match="the folder cannot be made \\(No space left on device\\)"):
        reserve_default_out(tmp_path / "runs" / "snake" / "compare-20261205-000000")
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_specialist_run_is_told_to_give_out(tmp_path, monkeypatch):
    # A colleague's run (read-only) has no room for the default <run>/compare-<time>: the refusal said
    # "choose another place" without naming the flag that chooses it.
    from agents.compare import CompareError, reserve_default_out

    run = tmp_path / "run"
    run.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: real_access(p, mode) and not (
        Path(p) == run and mode & os.W_OK))
    base = run / "compare-20261207-000000"
    with pytest.raises(CompareError, match=rf"^the report folder {base}: {run} is not writable; give --out "):
        reserve_default_out(base)
    assert list(run.iterdir()) == []


def test_a_swap_killed_while_putting_the_old_report_back_loses_none_of_it(tmp_path, monkeypatch):
    # Moving the new report in failed (a full disk), and the comparison was killed after one old file had
    # gone back: the old folder must be named .report-moving-ID by then, or the next comparison reads the
    # files in --out as the new report's and deletes them.
    import pathlib

    import agents.compare as c

    out = tmp_path / "report"
    before = _report_in(out, "old")
    monkeypatch.setattr(c, "write_report", lambda folder, **_: _report_in(folder, "new"))
    real_rename, moved_in, put_back = pathlib.Path.rename, [], []

    def rename(self, target):
        target = Path(target)
        if target.parent == out and self.parent.name.startswith(".report-new-"):
            moved_in.append(self.name)
            if len(moved_in) == 2:
                raise OSError(28, "No space left on device")
        elif target.parent == out and self.parent.name.startswith((".report-old-", ".report-moving-")):
            put_back.append(self.name)
            if len(put_back) == 2:
                raise _Killed
        return real_rename(self, target)

    monkeypatch.setattr(pathlib.Path, "rename", rename)
    with pytest.raises((_Killed, OSError)):
        c.write_report_safely(out, True)
    monkeypatch.undo()
    assert len(put_back) == 2
    c.recover_report(out)  # the next comparison's (the killed one's pid is this process's: not running)
    assert _files(out) == before


@pytest.mark.parametrize("kind", ["file", "folder", "link"])
@pytest.mark.parametrize("name", ["m-seed3-step12.png", "m-seed3-step12.png.txt"])
def test_an_overwrite_takes_in_frames_only_files_named_as_its_pictures(tmp_path, name, kind):
    # _FRAME is a whole name ending .png, and only a plain file: a user's file, folder or link under a
    # like name would be deleted with the old report.
    from agents.compare import CompareError, check_out_dir

    out = tmp_path / "report"
    (out / "frames").mkdir(parents=True)
    (out / "report.json").write_text("{}")
    (out / "frames" / "m-seed0-step1.png").write_bytes(b"png")  # the report's own
    (tmp_path / "mine").write_text("mine")
    entry = out / "frames" / name
    if kind == "file":
        entry.write_text("x")
    elif kind == "folder":
        entry.mkdir()
    else:
        entry.symlink_to(tmp_path / "mine")
    if kind == "file" and name.endswith(".png"):
        check_out_dir(out, overwrite=True)  # the report's pictures alone: replaced
    else:
        with pytest.raises(CompareError, match=rf"it holds {re.escape(name)}, which no comparison writes"):
            check_out_dir(out, overwrite=True)


def test_a_full_out_without_a_report_is_not_told_to_use_overwrite(tmp_path):
    # --overwrite replaces a report only: for a folder of the user's files the advice to pass it was refused
    # at once ("holds no report.json"), a second try for nothing.
    from agents.compare import CompareError, check_out_dir

    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(CompareError) as e:
        check_out_dir(out, overwrite=False)
    assert f"--out {out} already exists and is not empty" in str(e.value)
    assert "pass --overwrite" not in str(e.value) and "holds no report.json" in str(e.value)
    (out / "report.json").write_text("{}")  # a comparison's folder: --overwrite is the way
    with pytest.raises(CompareError, match=r"or pass --overwrite to replace its report$"):
        check_out_dir(out, overwrite=False)


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_out_another_comparison_is_writing_now_is_said_to_be_so(tmp_path, overwrite):
    # Two comparisons with one --out: the second, after its whole play, found the first's report half
    # written and was told the folder "holds no report.json, so --overwrite would not replace it either"
    # (with --overwrite: "it is not a comparison folder"), when a moment later it held the first's report.
    import subprocess
    import sys

    from agents.compare import CompareError, check_out_dir

    out = tmp_path / "report"
    out.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / f".report-new-{other.pid}-x1y2").mkdir()
        with pytest.raises(CompareError) as e:
            check_out_dir(out, overwrite=overwrite)
    finally:
        other.kill()
        other.wait()
    assert (f"--out {out}: another comparison (process {other.pid}) is writing its report there now; "
            "choose another folder") in str(e.value)
    assert "report.json" not in str(e.value)
    # Its writer gone (killed mid-write): what it left is recover_report's, not a comparison writing now.
    (out / "report.json").write_text("{}")
    if overwrite:
        check_out_dir(out, overwrite=True)
    else:
        with pytest.raises(CompareError, match=r"or pass --overwrite to replace its report$"):
            check_out_dir(out, overwrite=False)


def test_an_overwrite_does_not_look_into_a_frames_link(tmp_path):
    # A frames/ that is a link: replacing the report removes the link, never what it points at.
    from agents.compare import check_out_dir

    out, theirs = tmp_path / "report", tmp_path / "theirs"
    out.mkdir()
    theirs.mkdir()
    (out / "report.json").write_text("{}")
    (theirs / "notes.txt").write_text("mine")
    (out / "frames").symlink_to(theirs)
    check_out_dir(out, overwrite=True)


def test_episodes_cut_at_max_steps_are_counted_and_marked_as_cut(tmp_path, monkeypatch):
    # Found running compare --max-steps 3 on a tiny run: 3 of the VLM's 4 episodes were cut, and neither
    # report.json nor report.md nor the printed lines said so (evaluate does); a cut episode read as ended.
    from agents import compare

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])
    spec = [Episode(40, 3.0, 4, 3.0, {"won": 0.0}, [0] * 4, capped=True),
            Episode(41, 1.0, 2, 1.0, {"won": 0.0}, [0] * 2)]
    vlm = [Episode(40, 0.0, 4, 0.0, {"won": 0.0}, [0] * 4, [], capped=True),
           Episode(41, 2.0, 4, 2.0, {"won": 0.0}, [0] * 4, [], capped=True)]
    runs = [PlayerRun("specialist-tiny", "specialist", 1.5e6, "counted", spec, 1.0),
            PlayerRun("m-vl-7b", "vlm", 7e9, "from the model name", vlm, 1.0,
                      {"model": "m-vl-7b", "endpoint": "m-vl-7b@http://h:1/v1",
                       "client": {"http_requests": 0, "retries": 0}})]
    out = tmp_path / "report"
    out.mkdir()
    report = compare.write_report(out, "snake", {"size": 6}, 40, runs, {}, frames_per_vlm=0, max_steps=4)
    assert [p["capped"] for p in report["players"]] == [1, 2]
    assert [p["per_episode"]["capped"] for p in report["players"]] == [[True, False], [True, True]]
    md = (out / "report.md").read_text().splitlines()
    assert ("Cut at 4 steps, still playing (scored as they stood, and not won): specialist-tiny 1 of 2 "
            "episodes, m-vl-7b 2 of 2 episodes." in md)
    assert "| 40 | 3 (cut) | 0 (cut) |" in md and "| 41 | 1 | 2 (cut) |" in md


def test_the_main_table_says_a_vlms_score_includes_its_fallback_moves(tmp_path, monkeypatch):
    # The main table's "invalid answers" column did not say that those moves were the fallback's and are in
    # the VLM's score: only a note under the VLM details, far below, did.
    from agents import compare

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])
    vlm = [Episode(40, 1.0, 1, 1.0, {"won": 0.0}, [0], [])]
    about = {"model": "m-vl-7b", "endpoint": "m-vl-7b@http://h:1/v1", "client": {"http_requests": 0,
                                                                                 "retries": 0}}
    out = tmp_path / "report"
    out.mkdir()
    compare.write_report(out, "snake", {"size": 6}, 40, [PlayerRun("m-vl-7b", "vlm", 7e9, "given", vlm, 1.0,
                                                                   about)], {}, frames_per_vlm=0)
    md = (out / "report.md").read_text()
    parts = md.split("\n\n")
    table = next(k for k, part in enumerate(parts) if part.startswith("| player |"))
    table, footnote = parts[table:table + 2]
    assert "| invalid answers (fallback played) |" in table.splitlines()[0]
    assert ("invalid answers: unparseable or illegal answers and failed requests; each played the fallback "
            "move (straight on in Snake and duel Snake, the game's first action elsewhere), and the VLM's "
            "score includes those moves.") in footnote


def test_episodes_past_this_machines_memory_are_refused_before_any_play(scripts, tmp_path, capsys,
                                                                        monkeypatch):
    # Every episode is a board played at once: a size NumPy could allocate but RAM could not hold met the
    # out-of-memory killer mid-play (no message, no report). A 10×10 Snake board: 995 bytes of state and a
    # 400-byte observation; the largest --episodes that fits is named.
    import agents.compare

    monkeypatch.setattr(agents.compare, "memory_bytes", lambda: 1395 * 1000 + 1394)
    out = tmp_path / "report"
    argv = ["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--no-cache", "--episodes", "1001",
            "--out", str(out), "--no-progress"]
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert err == ("error: --episodes 1,001: every episode is played at once, one board each (1,395 "
                   "bytes of snake's state and observation), which needs at least 0.0 GiB of memory, more "
                   "than this machine has (0.0 GiB of RAM and swap); use --episodes 1,000 or fewer\n")
    assert not out.exists()
    monkeypatch.setattr(agents.compare, "memory_bytes", lambda: 1394)  # not "use --episodes 0 or fewer"
    assert scripts.compare.main([*argv[:-4], "1", *argv[-3:]]) == 2
    assert capsys.readouterr().err.endswith("; use a machine with more memory (one episode does not fit)\n")


def test_the_memory_check_counts_the_specialists_forward_pass_on_the_cpu(specialist, scripts, tmp_path,
                                                                         capsys, monkeypatch):
    # The specialist plays every episode in one batch: its CNN's activations, not the game, are most of
    # a board's memory (20,000 episodes of the tiny policy took 1.2 GB resident). Tiny on 4×10×10: the float
    # observation (1,600 bytes) and its last ReLU's input and output (2 × 32 × 100 × 4 bytes).
    import agents.compare

    monkeypatch.setattr(agents.compare, "memory_bytes", lambda: (1395 + 27_200) * 10)
    argv = ["--specialist", str(specialist), "--episodes", "11", "--out", str(tmp_path / "r"),
            "--no-progress"]
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert ("(1,395 bytes of snake's state and observation and 27,200 bytes of the specialist's forward "
            "pass on the CPU)") in err and err.endswith("use --episodes 10 or fewer\n")
    assert not (tmp_path / "r").exists()


def test_the_speed_and_cost_plots_say_which_size_and_price_are_unknown(tmp_path, monkeypatch):
    # A VLM with no size in its name and no --price-per-1k-tokens draws a bar of 0 in each plot: the plots
    # say "unknown" and "no price given" there, as the table says "unknown" and "no price", not a 0.
    import agents.compare
    from agents.curves import pyplot

    labels: dict[str, list[str]] = {}

    def save(fig, path):
        labels[path.name] = [t.get_text() for ax in fig.axes for t in ax.texts]
        heights[path.name] = [bar.get_height() for ax in fig.axes for bar in ax.patches]
        pyplot().close(fig)
        return path.name

    heights: dict[str, list[float]] = {}
    monkeypatch.setattr(agents.compare, "_save", save)
    log = [Decision(0, 0, "UP", "UP", "ok", "", None, 100, 10, 0.1, False)]
    runs = [PlayerRun("specialist", "specialist", 1e5, "counted",
                      [Episode(1, 2.0, 1, 2.0, {"won": 1.0}, [0])], 1.0),
            PlayerRun("gpt-4o", "vlm", None, "unknown",
                      [Episode(1, 0.0, 1, 0.0, {"won": 0.0}, [0], log)], 1.0)]
    summaries = [summarize_run(r, None) for r in runs]
    agents.compare.write_plots(tmp_path, summaries, runs)
    assert "unknown" in labels["speed.png"] and "100K" in labels["speed.png"]
    assert labels["cost.png"].count("no price given") == 1  # the specialist's cost is 0, not unknown
    assert heights["rates.png"][:2] == [1.0, 0.0]  # the success bars: won, then lost (invalid bars after)


def test_a_self_play_duel_specialist_is_compared_against_the_greedy_bot(tmp_path, monkeypatch):
    # A duel run trained by self-play (opponent "policy": snake 1's moves come from outside) is scored
    # against the greedy bot, as evaluate and the export score it, and as the report says in its settings.
    import agents.compare

    class Model:
        num_timesteps = 256

    cfg = {"env": "snake_duel", "env_kwargs": {"size": 8, "opponent": "policy"}, "policy": "tiny"}
    monkeypatch.setattr(agents.compare, "load_specialist", lambda run, *args: (Model(), cfg, run / "m.zip"))
    monkeypatch.setattr(agents.compare, "check_specialist", lambda *args: None)
    monkeypatch.setattr(agents.compare, "memory_bytes", lambda: None)
    seen = {}

    def play_all(env, env_kwargs, *args):
        seen.update(env_kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(agents.compare, "play_all", play_all)
    with pytest.raises(KeyboardInterrupt):
        agents.compare.compare("snake_duel", tmp_path / "out", 1, SEED, specialist=tmp_path / "run",
                               show_progress=False)
    assert seen == {"size": 8, "opponent": "greedy"} and not (tmp_path / "out").exists()


def test_an_unknown_rom_without_a_run_is_told_the_way_a_vlm_can_play_it(tmp_path, monkeypatch):
    # A VLM played without a run plays the default ROM with no options: the unknown ROM's advice, a run's
    # config.yaml setting env_kwargs.allow_unknown_rom, named a file such a comparison does not have.
    from agents.compare import CompareError, check_vlm_game
    from envs.gameboy.roms import TEST_CARTRIDGE

    hack = bytearray(TEST_CARTRIDGE.read_bytes())
    hack[0x5000] ^= 0xFF  # outside the header: a revision or a hack, not a broken file
    (tmp_path / "roms").mkdir()
    (tmp_path / "roms" / "pokemon_red.gb").write_bytes(bytes(hack))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CompareError) as e:
        check_vlm_game("pokemon_red")
    assert "unknown ROM" in str(e.value)
    assert ("a VLM played without a run (compare without --specialist, evaluate.py --vlm with --env) plays "
            "known ROMs only") in str(e.value)
    assert "compare --specialist RUN, evaluate.py RUN --vlm" in str(e.value)


def test_the_memory_check_lets_through_exactly_what_fits_and_names_one_episode_that_does(monkeypatch):
    # At the edge: boards that need exactly the memory there is are played; where one board fits but two
    # do not, the fix is --episodes 1, not another machine. A 10×10 Snake board is 1,395 bytes (as above).
    import agents.compare
    from agents.compare import CompareError, check_play_memory, check_vlm_game

    spec = check_vlm_game("snake")
    monkeypatch.setattr(agents.compare, "memory_bytes", lambda: 1395 * 3)
    check_play_memory("snake", 3, spec, None)
    monkeypatch.setattr(agents.compare, "memory_bytes", lambda: 1395)
    with pytest.raises(CompareError, match=r"^--episodes 2: .*; use --episodes 1 or fewer$"):
        check_play_memory("snake", 2, spec, None)


@pytest.mark.parametrize("wording", ["can't allocate memory", "not enough memory"])
def test_torch_cpu_allocator_refusals_of_every_build_are_out_of_memory(wording):
    # torch words the refusal by build: posix_memalign's (Linux, macOS) "can't allocate memory", Windows'
    # (_aligned_malloc), Android's and mimalloc's "not enough memory". Only the first was matched: on Windows,
    # where no memory figure lets check_play_memory run, too many boards ended compare in a traceback.
    from agents.compare import boards_memory_error
    from agents.machine import out_of_memory

    error = RuntimeError(f"[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: {wording}: you "
                         "tried to allocate 911360 bytes.")
    assert out_of_memory(error)
    assert "do not fit in this machine's memory (" in boards_memory_error(5000, error)
    assert not out_of_memory(RuntimeError("a torch bug"))


@pytest.mark.parametrize("fails", ["mkdir", "report"])
def test_a_default_report_folder_the_full_disk_refuses_is_not_named_as_out(scripts, specialist, tmp_path,
                                                                          monkeypatch, capsys, fails):
    # <run>/compare-<time> on a full disk: the error called it "--out <folder>", a flag the user never gave.
    import errno
    import pathlib

    import agents.compare

    run = tmp_path / "run"
    shutil.copytree(specialist, run)
    monkeypatch.setattr(time, "strftime", lambda fmt: "20261207-020000")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if fails == "mkdir":
        real = pathlib.Path.mkdir
        monkeypatch.setattr(pathlib.Path, "mkdir",
                            lambda self, *a, **kw: disk_full() if self.name.startswith("compare-")
                            else real(self, *a, **kw))
        said = ": the folder cannot be made (No space left on device); free some space or give --out"
    else:
        monkeypatch.setattr(agents.compare, "_markdown", disk_full)  # the last file a report writes
        said = " could not be written (No space left on device); any file there before is unchanged"
    argv = ["--specialist", str(run), "--episodes", "1", "--max-steps", "3", "--no-progress"]
    assert scripts.compare.main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"error: the report folder {run / 'compare-20261207-020000'}{said}"
    assert "--out " + str(run) not in err and not list(run.glob("compare-*"))


def test_report_json_names_a_relative_cache_dir_absolute(scripts, tmp_path, monkeypatch):
    # report.json's other relative paths (frames, decision logs) are the report folder's: a relative
    # --cache-dir, taken from the folder the command ran in, read as the report's own "c" elsewhere.
    monkeypatch.chdir(tmp_path)
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--vlm", f"good-vl-7b@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--out", "out", "--cache-dir", "c", "--frames", "0", "--no-progress"]
        assert scripts.compare.main(argv) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert by_name(report)["good-vl-7b"]["about"]["cache"] == str(tmp_path / "c")


def test_only_a_count_beyond_a_float_is_too_large():
    # The largest counts a float holds are counts still; 1e400, beyond it, is said to be too large.
    assert parse_count("1e308") == round(1e308) and parse_count("1.7e299B") == round(1.7e299 * 1e9)
    with pytest.raises(ValueError, match=r"^1e400 is too large a count; give one such as 7B, 256M or 7e9$"):
        parse_count("1e400")


def test_a_count_under_one_that_rounds_to_one_is_one():
    # The count is refused for rounding to 0, not for being under 1: 0.6 is 1 parameter.
    assert parse_count("0.6") == 1 and parse_count("0.0000000006B") == 1


def test_a_vlm_params_value_of_no_count_form_is_told_the_form():
    # Only a value with a count's form is told why it is no count; 'seven' is told what --vlm-params takes.
    from agents.compare import CompareError, parse_params

    with pytest.raises(CompareError, match=r"^--vlm-params expects MODEL=COUNT \(e.g. qwen2.5-vl-7b=8.3B\), "
                                           r"got 'm=seven'$"):
        parse_params(["m=seven"])


def _notes_report(tmp_path: Path, monkeypatch, env: str, info: dict[str, float], scored: bool) -> str:
    """report.md of one VLM's two episodes of ``env``, both cut at the step limit (no frames: no replay)."""
    from agents import compare

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])
    monkeypatch.setattr(compare.time, "strftime", lambda *a: "2026-01-01 00:00:00")
    grade = {"correct": 1.0, "good_move": 1.0} if scored else {}
    decision = Decision(step=0, action=0, move="m", answer="m", status="ok", response="<answer>m</answer>",
                        reasoning=None, prompt_tokens=100, completion_tokens=5, latency_s=0.1, cached=False,
                        **grade)
    episodes = [Episode(seed, 1.0, 3, 1.0, info, [0] * 3, [decision] * 3, capped=True) for seed in (7, 8)]
    about = {"model": "m-vl-7b", "endpoint": "m-vl-7b@http://h:1/v1",
             "client": {"http_requests": 6, "retries": 0}}
    run = compare.PlayerRun("m-vl-7b", "vlm", 7e9, "from the model name", episodes, 1.0, about)
    out = tmp_path / env
    out.mkdir()
    compare.write_report(out, env, {}, 7, [run], {}, frames_per_vlm=0, max_steps=3)
    return (out / "report.md").read_text(encoding="utf-8")


def test_a_snake_report_whose_requests_all_failed_does_not_say_its_move_question_accepts_every_move(
        tmp_path, monkeypatch):
    # No answer came, so none was scored: the n/a note of an unscored move question (Pokémon's) is not this.
    from agents import compare

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])
    failed = Decision(step=0, action=0, move="up", answer=None, status="error", response=None, reasoning=None,
                      prompt_tokens=0, completion_tokens=0, latency_s=0.1, cached=False)
    episodes = [Episode(seed, 1.0, 3, 1.0, {"won": 0.0}, [0] * 3, [failed] * 3, capped=True)
                for seed in (7, 8)]
    about = {"model": "m-vl-7b", "endpoint": "m-vl-7b@http://h:1/v1",
             "client": {"http_requests": 6, "retries": 0}}
    run = compare.PlayerRun("m-vl-7b", "vlm", 7e9, "from the model name", episodes, 1.0, about)
    compare.write_report(tmp_path, "snake", {}, 7, [run], {}, frames_per_vlm=0, max_steps=3)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "accepts every move" not in md, md
    assert "Both are over the answers that came (an unparseable one scores 0)" in md, md


def test_a_pokemon_report_with_one_vlm_answering_says_why_best_moves_are_n_a(tmp_path, monkeypatch):
    # One VLM's answers came (none scored: the move question accepts every button), another's requests all
    # failed: the n/a note is still the one that says why, not the scored games' "Both are over ...".
    from agents import compare

    monkeypatch.setattr(compare, "write_plots", lambda out, summaries, runs: [])
    answered = Decision(step=0, action=0, move="up", answer="up", status="ok", response="<answer>up</answer>",
                        reasoning=None, prompt_tokens=100, completion_tokens=5, latency_s=0.1, cached=False)
    failed = Decision(step=0, action=0, move="up", answer=None, status="error", response=None, reasoning=None,
                      prompt_tokens=0, completion_tokens=0, latency_s=0.1, cached=False)
    runs = []
    for name, decision in (("a-vl-7b", answered), ("b-vl-7b", failed)):
        episodes = [Episode(seed, 1.0, 3, 1.0, {}, [0] * 3, [decision] * 3, capped=True) for seed in (7, 8)]
        about = {"model": name, "endpoint": f"{name}@http://h:1/v1",
                 "client": {"http_requests": 6, "retries": 0}}
        runs.append(compare.PlayerRun(name, "vlm", 7e9, "from the model name", episodes, 1.0, about))
    compare.write_report(tmp_path, "pokemon_red", {}, 7, runs, {}, frames_per_vlm=0, max_steps=3)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "\nBest moves and verifier accuracy are n/a: the game's move question scored none" in md, md
    assert "Both are over" not in md, md


@pytest.mark.parametrize("env", ["snake", "snake_duel"])
def test_the_snake_games_reports_keep_their_wording(env, tmp_path, monkeypatch):
    # The other games' reports were made to speak of their own game: Snake's and duel Snake's stay as they
    # were, byte for byte.
    md = _notes_report(tmp_path, monkeypatch, env, {"won": 0.0}, scored=True)
    assert md == f"""# Depth versus breadth: {env}

Every player played the same 2 episodes (seeds 7–8, env settings `{{}}`, at most 3 steps each).
Written 2026-01-01 00:00:00.

| player | parameters | mean score ± std | median | success rate | invalid answers (fallback played) | \
best moves | verifier accuracy | decisions/s | tokens/episode | cost/episode |
|---|---|---|---|---|---|---|---|---|---|---|
| m-vl-7b (vlm) | 7B | 1.00 ± 0.00 | 1 | 0% | 0 (0.0%) | 100% | 100% | 6.0 | 315 | no price |

Cut at 3 steps, still playing (scored as they stood, and not won): m-vl-7b 2 of 2 episodes.

std: the standard deviation of the episodes' scores. invalid answers: unparseable or illegal answers and \
failed requests; each played the fallback move (straight on in Snake and duel Snake, the game's first action \
elsewhere), and the VLM's score includes those moves. cost/episode: what one episode costs at the given \
prices, answers this run took from the cache included (tokens are counted either way).

![score distribution](scores.png)

![success and invalid answers](rates.png)

![speed and size](speed.png)

![tokens and cost](cost.png)

## Scores per seed

| seed | m-vl-7b |
|---|---|
| 7 | 1 (cut) |
| 8 | 1 (cut) |

## VLM details

| player | endpoint | decisions | unparseable | illegal | failed requests | cut at max_tokens | answers from \
cache | HTTP requests | retries | latency mean / p95 (s) |
|---|---|---|---|---|---|---|---|---|---|---|
| m-vl-7b | m-vl-7b@http://h:1/v1 | 6 | 0 | 0 | 0 | 0 | 0 | 6 | 0 | 0.10 / 0.10 |

Best moves: how often the move a VLM named is one the engine calls best (safe, no dead end, closest to the \
goal); verifier accuracy: its whole answer scored by the project's verifier (for Snake, ViGaL's rule: a best \
move and exactly the fatal moves). Both are over the answers that came (an unparseable one scores 0); failed \
requests are counted apart. The specialist states only a move; scripts/score_predictions.py --specialist \
gives its best-move rate on an exported split.

Decisions per second are measured on this run (episodes side by side, requests concurrent); answers served \
from the response cache (a re-run's, and a board that comes back within one run, as a snake going round in a \
loop) are fast and free, so compare speed on a run with --no-cache (latency is the one measured when each \
answer was first requested). Parameters of a VLM come from its name unless given with --vlm-params.

## Worst decisions

### m-vl-7b
Every decision (answer, move, tokens, outcome): [decisions-m-vl-7b.jsonl](decisions-m-vl-7b.jsonl).

No worst decisions shown (--frames 0).
"""


@pytest.mark.parametrize("env, info, fallback, back", [
    ("rotation", {"solved": 0.0}, "`X+`",
     "a view that comes back within one run, as the object turned one way and back"),
    ("sokoban", {"solved": 0.0}, "`UP`",
     "a board that comes back within one run, as the player stepping back and forth without pushing a box"),
    ("pokemon_red", {}, "`up`",
     "a screen that comes back within one run, as the player walking back and forth between two tiles"),
])
def test_another_games_report_speaks_of_that_game(env, info, fallback, back, tmp_path, monkeypatch):
    # Every report said the fallback was "straight on in Snake and duel Snake" and gave "a snake going round
    # in a loop" as a board seen again, whatever the game.
    md = _notes_report(tmp_path, monkeypatch, env, info, scored=env != "pokemon_red")
    assert "snake" not in md.lower(), md
    assert f"each played the fallback move, {fallback} (the game's first action), and" in md, md
    assert f"(a re-run's, and {back}) are fast and free" in md, md
    if env != "pokemon_red":  # a stuck Sokoban board's move question accepts every move: not scored
        assert "Both are over the answers that came to a scored move question (an unparseable" in md, md


def test_a_pokemon_report_says_why_best_moves_are_n_a_and_no_cut_episode_was_won(tmp_path, monkeypatch):
    # Pokémon's report said its cut episodes were "not won" (a game with no win), and explained the best-move
    # and verifier figures its table shows as n/a only as if they were measured, and pointed to
    # score_predictions.py --specialist for a best-move rate its export has no move question for.
    md = _notes_report(tmp_path, monkeypatch, "pokemon_red", {}, scored=False)
    assert "| n/a | 0 (0.0%) | n/a | n/a |" in md, md
    assert "\nCut at 3 steps, still playing (scored as they stood): m-vl-7b 2 of 2 episodes.\n" in md, md
    assert "won" not in md, md
    assert ("\nBest moves and verifier accuracy are n/a: the game's move question scored none of these "
            "answers, as it accepts every move where it has no best one to name. Failed requests are counted "
            "apart.\n" in md), md
    assert "score_predictions" not in md, md


def test_a_vlm_only_comparison_takes_the_games_options_as_train_ppo_does(scripts, tmp_path, capsys):
    # `--env pokemon_red --rom ROM --state none` was "unrecognized arguments": without a specialist run's
    # config.yaml a VLM could play a game only with its defaults (roms/pokemon_red.gb and its start state).
    from envs.gameboy.roms import TEST_CARTRIDGE

    out = tmp_path / "out"
    with ChatServer(default=lambda body: Reply("<best_answer>up</best_answer>")) as server:
        argv = ["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--state", "none", "--vlm",
                f"m@{server.url}", "--episodes", "1", "--max-steps", "2", "--frames", "0", "--no-cache",
                "--no-progress", "--out", str(out)]
        assert scripts.compare.main(argv) == 0, capsys.readouterr().err
    assert server.hits == 2
    report = json.loads((out / "report.json").read_text())
    assert report["env_kwargs"]["rom"] == str(TEST_CARTRIDGE) and report["env_kwargs"]["state"] is None


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_a_game_option_the_game_refuses_names_its_flag_before_any_request(script, scripts, tmp_path, capsys):
    # --size 0 is a game option given (as --size 3 is): not the default board played in its place.
    main = getattr(scripts, script).main
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--vlm", f"m@{server.url}", "--out", str(tmp_path / "out"), "--no-cache"]
        for size in ("3", "0"):
            assert main([*argv, "--size", size]) == 2
            err = capsys.readouterr().err
            assert err == f"error: snake size must be between 4 and 32, got {size} (change --size)\n", err
        assert main([*argv, "--set", "env_kwargs.size=3"]) == 2
        assert "(change --set env_kwargs.size)" in capsys.readouterr().err
    assert server.hits == 0
    assert not (tmp_path / "out").exists()


def test_game_options_with_no_player_are_told_there_is_nothing_to_compare(scripts, tmp_path, capsys):
    # The options were checked before compare() found no player: `--size 8` alone was "unknown env ''", an
    # --env the user never gave, and a bad value or a missing ROM (after booting it) was said first.
    for argv in (["--size", "8"], ["--set", "env_kwargs.size=8"], ["--env", "snake", "--size", "3"],
                 ["--env", "pokemon_red", "--rom", str(tmp_path / "missing.gb")]):
        assert scripts.compare.main([*argv, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err == "error: nothing to compare: give --specialist RUN and/or --vlm MODEL@URL\n", err
    assert not (tmp_path / "out").exists()


def test_game_options_beside_a_specialist_are_refused(scripts, tmp_path, capsys):
    # The specialist's model was trained for its run's board: the run's config.yaml sets the game's options.
    with pytest.raises(SystemExit) as stop:
        scripts.compare.main(["--specialist", str(tmp_path / "run"), "--size", "8"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "error: --size: the --specialist run's config.yaml sets the game's options" in err, err


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_a_set_of_no_game_option_beside_a_run_is_not_called_one(script, scripts, tmp_path, capsys):
    # `compare.py --specialist RUN --set seed=3` and `evaluate.py RUN --set device=cpu` said "the run's
    # config.yaml sets the game's options ... drop it": neither is a game option, and both scripts have
    # --seed and --device.
    run = ["--specialist", str(tmp_path / "run")] if script == "compare" else [str(tmp_path / "run")]
    config = "the --specialist run's" if script == "compare" else "the run folder's"
    only = f"--set takes only the game's options (env_kwargs.KEY=VALUE) here, which {config} config.yaml sets"
    for given, fix in ((["seed=3"], "give --seed 3 in place of --set seed=3"),
                       (["device = CPU"], "give --device CPU in place of --set device = CPU"),
                       (["ppo.n_steps=5", "env_kwargs.size=8"], "drop --set ppo.n_steps=5"),
                       (["seed.x=3"], "drop --set seed.x=3")):  # no value --seed takes
        with pytest.raises(SystemExit) as stop:
            getattr(scripts, script).main([*run, *(a for item in given for a in ("--set", item))])
        assert stop.value.code == 2
        err = capsys.readouterr().err.splitlines()[-1]  # after argparse's usage
        assert err.endswith(f" error: --set {given[0]}: {only}; {fix}"), err


def test_evaluate_vlm_without_a_run_takes_the_games_options_as_train_ppo_does(scripts, tmp_path, capsys):
    # `evaluate.py --env pokemon_red --rom ROM --state none --vlm ...` was "unrecognized arguments", as
    # compare.py's was: without a run folder a VLM could play a game only with its defaults.
    from envs.gameboy.roms import TEST_CARTRIDGE

    out = tmp_path / "out"
    with ChatServer(default=lambda body: Reply("<best_answer>up</best_answer>")) as server:
        argv = ["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--state", "none", "--vlm",
                f"m@{server.url}", "--episodes", "1", "--max-steps", "2", "--no-video", "--no-cache",
                "--no-progress", "--json", "--out", str(out)]
        assert scripts.evaluate.main(argv) == 0, capsys.readouterr().err
    assert server.hits == 2
    result = json.loads(capsys.readouterr().out)
    kwargs = result["env_kwargs"]
    assert kwargs["rom"] == str(TEST_CARTRIDGE) and kwargs["state"] is None, result


def test_evaluate_vlm_with_other_game_options_keeps_the_results_of_each(scripts, tmp_path, capsys):
    # Named by the model, the endpoint and --max-steps only: a play at --size 12 replaced that at --size 8
    # (and the defaults') in the same folder. The defaults keep their plain name.
    out = tmp_path / "out"
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--vlm", f"m@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--no-video", "--no-cache", "--no-progress", "--out", str(out)]
        for options in ([], ["--size", "8"], ["--size", "12"], ["--size", "12"]):
            assert scripts.evaluate.main([*argv, *options]) == 0, capsys.readouterr().err
    names = sorted(p.name for p in out.glob("eval-vlm-*.json"))
    assert len(names) == 3 and "eval-vlm-m-max2.json" in names, names  # --size 12 twice: its own replaced
    sizes = sorted(json.loads((out / name).read_text())["env_kwargs"].get("size", 10) for name in names)
    assert sizes == [8, 10, 12], sizes


def test_evaluate_vlm_given_the_games_own_defaults_shares_the_defaults_files(scripts, tmp_path, capsys):
    # `--size 10` (snake's default) or a duel's `--set env_kwargs.opponent=greedy` (the default) played what
    # the defaults play, and was filed apart from them under -opts<digest>.
    out = tmp_path / "out"
    played = {"snake": {"size": 10}, "snake_duel": {"opponent": "greedy"}}
    with ChatServer(default=scripted) as server:
        for env, options in (("snake", []), ("snake", ["--size", "10"]),
                             ("snake", ["--set", "env_kwargs.size=10.0"]), ("snake_duel", []),
                             ("snake_duel", ["--set", "env_kwargs.opponent=greedy"])):
            argv = ["--env", env, "--vlm", f"m@{server.url}", "--episodes", "1", "--max-steps", "2",
                    "--no-video", "--no-cache", "--no-progress", "--json", "--out", str(out / env), *options]
            assert scripts.evaluate.main(argv) == 0, capsys.readouterr().err
            kwargs = json.loads(capsys.readouterr().out)["env_kwargs"]  # what was played, as given
            assert kwargs == (played[env] if options else {}), kwargs
    names = sorted(str(p.relative_to(out)) for p in out.glob("*/eval-vlm-*.json"))
    assert names == ["snake/eval-vlm-m-max2.json", "snake_duel/eval-vlm-m-max2.json"], names


def test_evaluate_vlm_given_the_same_options_in_any_form_or_order_shares_their_files(scripts, tmp_path,
                                                                                     capsys):
    out = tmp_path / "out"
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--vlm", f"m@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--no-video", "--no-cache", "--no-progress", "--out", str(out)]
        for options in (["--set", "env_kwargs.size=8", "--set", "env_kwargs.obs=pixels"],
                        ["--set", "env_kwargs.obs=pixels", "--set", "env_kwargs.size=8"],
                        ["--obs", "pixels", "--set", "env_kwargs.size=8.0"],
                        ["--size", "8", "--obs", "pixels"]):
            assert scripts.evaluate.main([*argv, *options]) == 0, capsys.readouterr().err
    names = [p.name for p in out.glob("eval-vlm-*.json")]
    # --max-steps's label kept too: a capped play never replaces the full one of the same options.
    assert len(names) == 1 and names[0].startswith("eval-vlm-m-max2-opts"), names


def test_evaluate_vlm_given_pokemons_default_rom_shares_the_defaults_files(scripts, tmp_path, capsys,
                                                                          monkeypatch):
    # The default ROM is looked for relative to the working folder and stored absolute when given: given so,
    # with --state none (the default, booting it), the play is the defaults' and keeps their files.
    import shutil

    from envs.gameboy.roms import TEST_CARTRIDGE

    (tmp_path / "roms").mkdir()
    shutil.copy(TEST_CARTRIDGE, tmp_path / "roms" / "pokemon_red.gb")  # a known SHA-1: Pokémon Red's layout
    monkeypatch.chdir(tmp_path)
    with ChatServer(default=lambda body: Reply("<best_answer>up</best_answer>")) as server:
        argv = ["--env", "pokemon_red", "--vlm", f"m@{server.url}", "--episodes", "1", "--max-steps", "1",
                "--no-video", "--no-cache", "--no-progress", "--out", "out"]
        for options in ([], ["--rom", "roms/pokemon_red.gb", "--state", "none"], ["--state", "none"]):
            assert scripts.evaluate.main([*argv, *options]) == 0, capsys.readouterr().err
    names = [p.name for p in (tmp_path / "out").glob("eval-vlm-*.json")]
    assert names == ["eval-vlm-m-max1.json"], names


def test_evaluate_game_options_beside_a_run_folder_are_refused(scripts, tmp_path, capsys):
    # The run's config.yaml sets the game's options: its model was trained for that board.
    for vlm in ([], ["--vlm", "m@http://127.0.0.1:9/v1"]):
        with pytest.raises(SystemExit) as stop:
            scripts.evaluate.main([str(tmp_path / "run"), *vlm, "--size", "8"])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert "error: --size: the run folder's config.yaml sets the game's options" in err, err


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_a_vlm_alone_given_game_options_builds_the_game_once_before_the_play(script, scripts, tmp_path,
                                                                              capsys, monkeypatch):
    # compare.py checked the options on one board (flag_options) and then the game again (check_vlm_game):
    # for a Game Boy game a second emulator boot, about 1 s, before any request.
    from agents.evaluation import GameSpec
    from envs.gameboy.roms import TEST_CARTRIDGE

    built, of = [], GameSpec.of.__func__

    def counted(cls, game):
        built.append(game.name)
        return of(cls, game)

    monkeypatch.setattr(GameSpec, "of", classmethod(counted))
    out = ["--frames", "0"] if script == "compare" else ["--no-video"]
    with ChatServer(default=lambda body: Reply("<best_answer>up</best_answer>")) as server:
        argv = ["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--state", "none", "--vlm",
                f"m@{server.url}", "--episodes", "1", "--max-steps", "1", "--no-cache", "--no-progress",
                "--out", str(tmp_path / "out"), *out]
        assert getattr(scripts, script).main(argv) == 0, capsys.readouterr().err
    assert built == ["pokemon_red"], built


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_a_vlm_alone_given_an_option_evaluation_sets_itself_is_refused(script, scripts, tmp_path, capsys):
    # A duel's opponent=random, Pokémon's swarm=true, swarm_prob=0.9 or archive_dir were accepted and then
    # replaced by evaluation's own (eval_kwargs: the greedy bot, no swarm restarts, no archive) unsaid: the
    # JSON and report said opponent greedy, swarm false, unnoticed. None makes the archive folder.
    from envs.gameboy.roms import TEST_CARTRIDGE

    pokemon = ["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--state", "none"]
    archive = tmp_path / "archive"
    refused = (
        (["--env", "snake_duel"], "opponent=random", "evaluation plays every duel against the greedy bot"),
        (pokemon, "swarm=true", "evaluation starts every episode from the start state"),
        (pokemon, "swarm_prob=0.9", "it weighs swarm restarts, which evaluation never plays"),
        (pokemon, f"archive_dir={archive}", "evaluation archives no state"),
        (["--env", "snake"], f"archive_dir={archive}", "does not apply to --env snake"),  # the game has none
    )
    out = tmp_path / "out"
    with ChatServer(default=scripted) as server:
        for game, item, reason in refused:
            argv = [*game, "--set", f"env_kwargs.{item}", "--vlm", f"m@{server.url}", "--episodes", "1",
                    "--max-steps", "1", "--no-cache", "--no-progress", "--out", str(out)]
            assert getattr(scripts, script).main(argv) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"error: --set env_kwargs.{item.split('=')[0]}") and reason in err, err
            assert err.count("\n") == 1 and "Traceback" not in err, err
    assert server.hits == 0
    assert not out.exists() and not archive.exists()


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_a_vlm_alone_given_a_rom_or_state_it_cannot_use_is_told_in_an_error_line(script, scripts, tmp_path,
                                                                                capsys):
    # A missing --state was a FileNotFoundError traceback in both scripts, and evaluate's --rom of a missing
    # file, a folder or not a ROM a RomError traceback, where train_ppo.py says each in an error line.
    from envs.gameboy.roms import TEST_CARTRIDGE

    junk = tmp_path / "junk.gb"
    junk.write_bytes(b"not a ROM")
    given = {"--rom": [str(tmp_path / "missing.gb"), str(tmp_path), str(junk)],
             "--state": [str(tmp_path / "missing.state")]}
    out = tmp_path / "out"
    with ChatServer(default=lambda body: Reply("<best_answer>up</best_answer>")) as server:
        for flag, paths in given.items():
            for path in paths:
                options = {"--rom": str(TEST_CARTRIDGE), "--state": "none", flag: path}
                argv = ["--env", "pokemon_red", *(x for item in options.items() for x in item), "--vlm",
                        f"m@{server.url}", "--no-cache", "--no-progress", "--out", str(out)]
                assert getattr(scripts, script).main(argv) == 2
                err = capsys.readouterr().err
                assert err.startswith("error: ") and path in err and "Traceback" not in err, err
    assert server.hits == 0
    assert not out.exists()


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_a_vlm_alone_given_a_set_of_no_game_option_is_told_only_those_apply(script, scripts, tmp_path,
                                                                            capsys):
    # `--set seed=3` was "--seed and --set seed=3 set the same value; give one of them" where no --seed was
    # given: the check of train_ppo.py's flags took the script's own --seed default for one given. A PPO
    # setting would be dropped without a word.
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--vlm", f"m@{server.url}", "--no-cache", "--out", str(tmp_path / "out")]
        for item in ("seed=3", "device=cpu", "ppo.n_steps=5"):
            assert getattr(scripts, script).main([*argv, "--set", item]) == 2
            err = capsys.readouterr().err
            only = "only the game's options (--set env_kwargs.KEY=VALUE) apply here"
            assert err == f"error: --set {item}: {only}\n", err
    assert server.hits == 0
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_a_vlm_alone_given_an_option_its_game_has_not_is_told_its_options(script, scripts, tmp_path, capsys):
    options = "snake's options: obs, pixel_scale, size, starvation"
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--vlm", f"m@{server.url}", "--no-cache", "--out", str(tmp_path / "out")]
        for given, named in ((["--set", "env_kwargs.nonsense=1"], "--set env_kwargs.nonsense"),
                             (["--difficulty", "easy"], "--difficulty")):
            assert getattr(scripts, script).main([*argv, *given]) == 2
            err = capsys.readouterr().err
            assert err == f"error: {named} does not apply to --env snake ({options})\n", err
    assert server.hits == 0
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_a_vlm_alone_given_train_ppo_s_evaluation_flags_is_told_why_they_apply_not(script, scripts, tmp_path,
                                                                                    capsys):
    # train_ppo.py's --opponent and --swarm were argparse's "unrecognized arguments: --opponent random" here,
    # where their --set forms were told evaluation's reason: now both are, naming the flag as typed.
    with ChatServer(default=scripted) as server:
        for env, given, told in (
                ("snake_duel", ["--opponent", "random"], "--opponent random: evaluation plays every duel "
                 "against the greedy bot (one yardstick for all), so the value is never used; drop it"),
                ("snake_duel", ["--opponent", "POLICY"], "--opponent policy: evaluation plays every duel"),
                ("pokemon_red", ["--swarm"], "--swarm: evaluation starts every episode from the start state, "
                 "so the value is never used; drop it")):
            argv = ["--env", env, "--vlm", f"m@{server.url}", "--no-cache", "--out", str(tmp_path / "out")]
            assert getattr(scripts, script).main([*argv, *given]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"error: {told}") and err.count("\n") == 1, err
    assert server.hits == 0
    assert not (tmp_path / "out").exists()


def test_an_option_at_what_evaluation_plays_is_not_refused():
    # opponent=greedy, swarm=false and the default swarm_prob are what evaluation plays: accepted (a hand
    # mutant refusing any swarm given passed the refusal tests).
    from agents.preflight import refuse_fixed_options

    refuse_fixed_options("snake_duel", {"opponent": "greedy"}, ["env_kwargs.opponent=greedy"])
    refuse_fixed_options("pokemon_red", {"swarm": False, "swarm_prob": 0.5},
                         ["env_kwargs.swarm=false", "env_kwargs.swarm_prob=5e-1"])
    # Refused, the value named as typed (it was the parsed value: swarm=True for 'true', 0.9 for 9e-1); the
    # later of two --sets is the one used.
    for env, given, key, raw in (("pokemon_red", {"swarm": True}, "swarm", " yes"),
                                 ("pokemon_red", {"swarm_prob": 0.9}, "swarm_prob", "9e-1"),
                                 ("snake_duel", {"opponent": "random"}, "opponent", "RANDOM")):
        typed = re.escape(f"--set env_kwargs.{key}={raw.strip()}:")
        with pytest.raises(ValueError, match=rf"^{typed} .*, so the value is never used"):
            refuse_fixed_options(env, given, [f"env_kwargs.{key}=0", f"env_kwargs.{key}={raw}"])
    # archive_dir=null is no archive, as evaluation plays (it drops archive_dir): it was refused, "so the
    # value is never used; drop it", where swarm=false was taken.
    refuse_fixed_options("pokemon_red", {"archive_dir": None}, ["env_kwargs.archive_dir=null"])
    # Hand mutants passed every test: swarm_prob's default as YAML leaves it (--set ...=5e-1, text)
    # refused, and a swarm_prob below the default taken (only one above was tested).
    refuse_fixed_options("pokemon_red", {"swarm_prob": "5e-1"}, ["env_kwargs.swarm_prob=5e-1"])
    with pytest.raises(ValueError, match=r"^--set env_kwargs\.swarm_prob=1e-1: it weighs swarm restarts"):
        refuse_fixed_options("pokemon_red", {"swarm_prob": "1e-1"}, ["env_kwargs.swarm_prob=1e-1"])


def test_only_answers_with_neither_token_count_are_counted_and_said_of_answers_alone():
    # Hand mutation pass: answers_without_token_counts counting failed requests too (their 0 tokens are no
    # answer's), an answer with a prompt count of 0 but its completion counted, or one with either count 0,
    # passed every test; so did the warning counting failed requests among the answers ("1 of 4 answers"
    # where 3 came).
    from agents.compare import token_counts_hint, vlm_warnings

    def d(status: str, prompt: int, completion: int) -> Decision:
        return Decision(0, 0, "UP", "UP", status, "", None, prompt, completion, 0.1, False)

    log = [d("error", 0, 0), d("ok", 0, 0), d("ok", 0, 7), d("unparseable", 12, 0)]
    run = PlayerRun("vlm", "vlm", None, "unknown", [Episode(1, 0.0, 4, 0.0, {}, [0] * 4, log)], 1.0)
    s = summarize_run(run, None)
    assert s["answers_without_token_counts"] == 1
    said = "vlm: 1 of 3 answers came without token counts (the server sent no usage)"
    assert token_counts_hint(s).startswith(said)
    assert [hint for hint in vlm_warnings(s) if "token counts" in hint] == [token_counts_hint(s)]


def test_a_default_folder_whose_mark_the_disk_refuses_is_removed_again(tmp_path, monkeypatch):
    # Hand mutation pass: reserve_default_out removing only the folders above compare-<time> when its mark
    # cannot be written (a full disk between the two) passed every test, though the empty compare-<time>,
    # made a moment before, was then left with no mark to tell a later comparison to remove it.
    import errno
    import pathlib

    from agents.compare import CompareError, reserve_default_out

    def touch(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "touch", touch)
    with pytest.raises(CompareError, match=r"compare-20261205-000000: the folder cannot be made \(No space "
                                           r"left on device\); free some space or give --out"):
        reserve_default_out(tmp_path / "runs" / "snake" / "compare-20261205-000000")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("script", ["compare", "evaluate"])
def test_evaluation_s_own_options_beside_a_run_point_to_no_play_without_it(script, scripts, tmp_path, capsys):
    # `evaluate.py RUN --opponent random` said "drop it (or let a VLM play without a run folder: --vlm with
    # --env)", and compare's "(or compare the VLMs alone, without --specialist)": played so, the value is
    # refused too (evaluation plays the greedy bot, no swarm restarts). A board option keeps the way out.
    run = ["--specialist", str(tmp_path / "run")] if script == "compare" else [str(tmp_path / "run")]
    way_out = "without --specialist" if script == "compare" else "--vlm with --env"
    for given in (["--opponent", "random"], ["--swarm"], ["--set", "env_kwargs.opponent=random"],
                  ["--opponent", "greedy", "--set", "env_kwargs.swarm_prob=0.5"]):
        with pytest.raises(SystemExit) as stop:
            getattr(scripts, script).main([*run, *given])
        assert stop.value.code == 2
        err = capsys.readouterr().err.splitlines()[-1]
        assert err.endswith("which its model was trained for; drop it"), err
    for given in (["--size", "8"], ["--size", "8", "--opponent", "random"]):
        with pytest.raises(SystemExit):
            getattr(scripts, script).main([*run, *given])
        assert way_out in capsys.readouterr().err


def test_an_option_evaluation_fixes_that_the_game_lacks_is_named_as_not_applying(scripts, tmp_path, capsys):
    # archive_dir is an option evaluation sets itself, but Snake has none: the refusal names Snake's options
    # (check_options), not "evaluation archives no state", which reads as if Snake could take one.
    with ChatServer(default=scripted) as server:
        argv = ["--env", "snake", "--vlm", f"m@{server.url}", "--out", str(tmp_path / "out"), "--no-cache"]
        assert scripts.compare.main([*argv, "--set", f"env_kwargs.archive_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --set env_kwargs.archive_dir does not apply to --env snake (snake's "
                          "options: obs, pixel_scale, size, starvation)"), err
    assert server.hits == 0
