"""scripts/score_predictions.py on a real (tiny) exported split: accuracy by group, format errors, missing
and unknown ids, and the specialist's greedy moves scored by the same verifier."""

import errno
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, TINY, always_right_checkpoint, deny_reading
from vlm.record import TaskRecord
from vlm.scoring import (
    Cell,
    ScoringError,
    is_move_question,
    load_predictions,
    load_records,
    move_reply,
    record_state,
    score_predictions,
)
from vlm.verify import reference_response


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, scripts):
    tmp = tmp_path_factory.mktemp("scoring")
    run = tmp / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "256", "--video-every", "100000",
                                   "--save-every", "256", "--run-dir", str(run), *TINY]) == 0
    out = tmp / "data"
    assert scripts.export_trajectories.main([str(run), "--episodes", "6", "--out", str(out), "--formats",
                                             "none", "--split", "0,0,1", "--tasks-per-state", "4",
                                             "--no-progress", "--json"]) == 0
    return run, out / "test.jsonl"


@pytest.fixture()
def predictions(dataset, tmp_path):
    """Reference answers for every third record, a wrong answer for the next, nothing for the third."""
    records = load_records(dataset[1])
    kinds = {}
    with open(tmp_path / "preds.jsonl", "w") as f:
        for k, r in enumerate(records):
            kinds[r.id] = ("right", "wrong", "missing")[k % 3]
            if kinds[r.id] == "right":
                f.write(json.dumps({"id": r.id, "response": reference_response(r)}) + "\n")
            elif kinds[r.id] == "wrong":
                f.write(json.dumps({"id": r.id, "response": "<answer>pass</answer>"}) + "\n")
        f.write(json.dumps({"id": "not-in-the-split", "response": "<answer>1</answer>"}) + "\n")
    return tmp_path / "preds.jsonl", records, kinds


def reference_predictions(records: list[TaskRecord], path) -> None:
    """The reference answer to each of ``records``, as predictions at ``path``."""
    path.write_text("".join(json.dumps({"id": r.id, "response": reference_response(r)}) + "\n"
                            for r in records))


def greedy_move_accuracy(run, moves: list[TaskRecord]) -> float:
    """Worked out apart from the scorer: the share of ``moves`` (move questions with a good move) the run's
    greedy action answers with a good move, on its game as evaluation builds it. A reverse into the neck
    is the straight move the engine plays for it (Snake games)."""
    from agents.compare import load_specialist
    from agents.evaluation import eval_kwargs
    from envs import make_game

    policy, cfg, _ = load_specialist(run)
    game = make_game(cfg["env"], 1, **eval_kwargs(cfg["env_kwargs"]))
    hits = []
    for r in moves:
        game.set_state(0, r.extra["state"])
        obs = game.new_obs_buffer()
        game.observe(obs)
        action = game.ACTION_NAMES[int(policy.predict(obs, deterministic=True)[0][0])]
        state = r.extra["state"]
        heading = state["snakes"][0]["direction"] if "snakes" in state else state.get("direction")
        back = {"UP": "DOWN", "DOWN": "UP", "LEFT": "RIGHT", "RIGHT": "LEFT"}.get(heading)
        hits.append((heading if action == back else action) in r.verifier["good"])
    game.close()
    return float(np.mean(hits))


def test_accuracy_format_and_missing_ids_by_group(predictions, dataset, scripts, capsys, tmp_path,
                                                  monkeypatch):
    path, records, kinds = predictions
    assert scripts.score_predictions.main([str(dataset[1]), str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # --out holds the object --json prints, every key (a dropped key passed: only "records" was read back)
    out = tmp_path / "scores.json"
    assert scripts.score_predictions.main([str(dataset[1]), str(path), "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == result
    assert (result["split"], result["predictions"]) == (str(dataset[1]), str(path))
    # Absolute, as the specialist's run and checkpoint: they were as typed, read from no folder --out names.
    monkeypatch.chdir(path.parent)
    capsys.readouterr()  # the --out run's tables
    assert scripts.score_predictions.main([os.path.relpath(dataset[1]), path.name, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["split"], again["predictions"]) == (str(dataset[1]), str(path))
    assert result["results"][0]["scope"] == "all records"
    n = len(records)
    count = {k: sum(v == k for v in kinds.values()) for k in ("right", "wrong", "missing")}
    assert result["records"] == n and result["missing_ids"] == count["missing"] and result["unknown_ids"] == 1
    # the JSON names the first ten of each, in the split's order (the tables print three)
    assert result["missing_examples"] == [i for i, k in kinds.items() if k == "missing"][:10]
    assert result["unknown_examples"] == ["not-in-the-split"] and count["missing"] > 3
    overall = result["results"][0]["overall"]
    assert overall["accuracy"] == pytest.approx(count["right"] / n)
    assert overall["format_errors"] == count["wrong"] and overall["missing"] == count["missing"]
    for family, cell in result["results"][0]["by_family"].items():
        ids = [r.id for r in records if r.family == family]
        assert cell["n"] == len(ids)
        assert cell["accuracy"] == pytest.approx(sum(kinds[i] == "right" for i in ids) / len(ids))
    levels = result["results"][0]["by_qa_level"]
    assert sum(c["n"] for c in levels.values()) == n
    moves = [r for r in records if is_move_question(r) and r.verifier["good"]]
    assert moves, "the tiny export should hold move questions"
    assert overall["move_questions"] == len(moves)
    assert overall["move_accuracy"] == pytest.approx(np.mean([kinds[r.id] == "right" for r in moves]))


def test_a_reader_that_stops_early_ends_the_script_quietly(predictions, dataset):
    # `score_predictions.py ... | head -c 100`: the tables were printed to a closed pipe, which ended in a
    # BrokenPipeError traceback.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "score_predictions.py"), str(dataset[1]),
                             str(predictions[0])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err.decode()) == (141, "")


class _Writes(io.RawIOBase):
    """An unbuffered stdout's file (``python -u``, ``PYTHONUNBUFFERED``) that keeps each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.writes.append(bytes(b))
        return len(b)


def test_json_output_is_one_write_on_an_unbuffered_stdout(predictions, dataset, scripts, monkeypatch):
    # Under PYTHONUNBUFFERED print() wrote the object and its newline apart: `--json | head -c 100` exited
    # 141, the newline's write finding the reader gone, where the README promises 0.
    raw = _Writes()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8", write_through=True))
    assert scripts.score_predictions.main([str(dataset[1]), str(predictions[0]), "--json"]) == 0
    assert len(raw.writes) == 1 and raw.writes[0].endswith(b"}\n")


def test_a_stray_non_utf8_byte_in_a_reply_is_scored_not_fatal(dataset, tmp_path, scripts, capsys):
    records = load_records(dataset[1])
    lines = [json.dumps({"id": r.id, "response": reference_response(r)}).encode() for r in records[:2]]
    lines.append(b'{"id": "' + records[2].id.encode() + b'", "response": "caf\xe9"}')
    (tmp_path / "latin.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    assert scripts.score_predictions.main([str(dataset[1]), str(tmp_path / "latin.jsonl"), "--json"]) == 0
    overall = json.loads(capsys.readouterr().out)["results"][0]["overall"]
    assert overall["accuracy"] == pytest.approx(2 / len(records)) and overall["format_errors"] == 1


def test_a_byte_order_mark_at_the_start_is_not_a_json_error(dataset, tmp_path, scripts, capsys):
    # Windows tools (PowerShell's Out-File, Notepad) start UTF-8 files with a BOM: still UTF-8 JSONL.
    records = load_records(dataset[1])
    lines = [json.dumps({"id": r.id, "response": reference_response(r)}) for r in records[:2]]
    (tmp_path / "bom.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    assert scripts.score_predictions.main([str(dataset[1]), str(tmp_path / "bom.jsonl"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["missing_ids"] == len(records) - 2 and result["unknown_ids"] == 0
    assert result["results"][0]["overall"]["accuracy"] == pytest.approx(2 / len(records))


@pytest.mark.parametrize(("bom", "blank"), [("\ufeff", ""), ("", ""), ("", "\n"), ("", "\r\n")],
                         ids=["bom", "no-bom", "no-bom-blank-first", "no-bom-crlf-first"])
@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_utf16_predictions_file_is_named_as_such(encoding, bom, blank, dataset, tmp_path, scripts, capsys):
    # PowerShell 5's `>` writes UTF-16 with a BOM; its bytes replaced as stray ones read as "not JSON".
    # UTF-32 big-endian's BOM (00 00 FE FF) was read as "not JSON": only the others start with FF FE / FE FF.
    # Without a BOM (other tools' UTF-16) it was "not JSON" too: its NUL bytes tell it, in the first line
    # with text (a blank line first, a big-endian one a lone NUL once cut at its 0A byte, was "line 1: not
    # JSON", found by mutation testing, h54d).
    records = load_records(dataset[1])
    lines = [json.dumps({"id": r.id, "response": reference_response(r)}) for r in records[:2]]
    (tmp_path / "u16.jsonl").write_bytes((bom + blank + "\n".join(lines) + "\n").encode(encoding))
    assert scripts.score_predictions.main([str(dataset[1]), str(tmp_path / "u16.jsonl")]) == 2
    assert "UTF-16 or UTF-32 text; save it as UTF-8" in capsys.readouterr().err


def test_the_specialist_answers_the_move_questions_with_its_greedy_action(predictions, dataset, scripts,
                                                                          capsys, tmp_path):
    path = predictions[0]
    run = dataset[0]
    # The tiny specialist answers none of its split's own move questions well (its episodes head one way),
    # so answers paired with the wrong questions scored the same: fresh boards heading every way give it
    # some right.
    split = tmp_path / "split.jsonl"
    split.write_bytes(dataset[1].read_bytes() + fresh_snake_move_lines(24))
    records = load_records(split)
    assert scripts.score_predictions.main([str(split), str(path), "--specialist", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    model_all, specialist, model_same = result["results"]
    moves = [r for r in records if is_move_question(r)]
    assert result["specialist"]["move_questions"] == len(moves) == specialist["overall"]["n"]
    good = [r for r in moves if r.verifier["good"]]
    expected = greedy_move_accuracy(run, good)
    assert 0 < expected < 1, expected  # right and wrong answers: each must go to its own question
    assert specialist["overall"]["move_accuracy"] == pytest.approx(expected)
    assert specialist["overall"]["accuracy"] is None  # ViGaL's rule also wants the fatal moves: n/a
    assert specialist["overall"]["format_errors"] is None and specialist["overall"]["missing"] == 0
    assert model_same["overall"]["n"] == len(moves) and model_all["overall"]["n"] == len(records)
    assert scripts.score_predictions.main([str(split), str(path), "--specialist", str(run)]) == 0
    text = capsys.readouterr().out
    assert "| specialist: accuracy | specialist: move acc. |" in text and "| **all** |" in text


def test_the_specialist_s_games_are_closed(dataset, monkeypatch):
    # A Game Boy game holds emulators until closed; one is built per batch of move questions.
    import envs
    from agents.compare import load_specialist
    from vlm.scoring import specialist_predictions

    made, closed = [], []

    def make_game(*args, **kwargs):
        game = real(*args, **kwargs)
        made.append(game)
        game.close = lambda: closed.append(game)
        return game

    real = envs.make_game
    monkeypatch.setattr(envs, "make_game", make_game)
    model, cfg, _ = load_specialist(dataset[0])
    questions = [r for r in load_records(dataset[1]) if is_move_question(r)]
    replies = specialist_predictions(questions, model, "snake", cfg["env_kwargs"], batch=2)
    assert len(replies) > 2 and len(made) > 1 and closed == made
    made.clear(), closed.clear()

    def refuse(i, state):
        raise ValueError("a bad state")

    def refusing_game(*args, **kwargs):  # a record's state the game refuses: the game is closed all the same
        game = make_game(*args, **kwargs)
        game.set_state = refuse
        return game

    monkeypatch.setattr(envs, "make_game", refusing_game)
    with pytest.raises(ValueError, match="a bad state"):
        specialist_predictions(questions, model, "snake", cfg["env_kwargs"], batch=2)
    assert len(made) == 1 and closed == made


def test_a_split_without_a_scored_move_question_notes_it_for_the_specialist(predictions, dataset, scripts,
                                                                           capsys, tmp_path, monkeypatch):
    # ... without building the specialist's game: a Pokémon run's emulator was booted to check the
    # specialist even where the split had no move question for it to answer.
    import agents.compare  # noqa: F401 (imported here, not first by the command, where it kept the stand-in)
    import agents.evaluation
    import envs

    built: list[str] = []

    def make_game(env, *args, **kwargs):
        built.append(env)
        return real(env, *args, **kwargs)

    real = envs.make_game
    monkeypatch.setattr(envs, "make_game", make_game)
    monkeypatch.setattr(agents.evaluation, "make_game", make_game)
    path = predictions[0]
    run, split = dataset
    lines = split.read_text(encoding="utf-8").splitlines()
    kept = [line for line, r in zip(lines, load_records(split), strict=True) if not is_move_question(r)]
    (tmp_path / "no-moves.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")
    assert scripts.score_predictions.main([str(tmp_path / "no-moves.jsonl"), str(path), "--specialist",
                                           str(run)]) == 0
    out = capsys.readouterr().out
    assert f"specialist {os.path.abspath(run)}: the split has no scored snake move question to answer" in out
    assert "| **all** |" in out
    assert built == []
    assert scripts.score_predictions.main([str(split), str(path), "--specialist", str(run)]) == 0
    assert "snake" in built  # with move questions, the game is built to check and play the specialist


def test_a_specialist_of_another_board_size_is_refused_by_flag(predictions, dataset, scripts, capsys,
                                                               tmp_path, monkeypatch):
    import vlm.scoring

    small = tmp_path / "six"  # the split's states are 10×10
    assert scripts.train_ppo.main(["--env", "snake", "--size", "6", "--total-timesteps", "256", "--run-dir",
                                   str(small), *TINY]) == 0
    capsys.readouterr()
    played, play = [], vlm.scoring.specialist_predictions
    monkeypatch.setattr(vlm.scoring, "specialist_predictions",
                        lambda *args, **kwargs: (played.append(1), play(*args, **kwargs))[1])
    argv = [str(dataset[1]), str(predictions[0]), "--specialist", str(small)]
    assert scripts.score_predictions.main(argv) == 2
    err = capsys.readouterr().err
    assert f"--specialist {small} plays snake on 6×6 boards" in err and "states are 10×10" in err, err
    assert not played  # refused before the specialist plays any state


def test_a_bare_move_is_what_the_verifier_reads_as_the_move(predictions):
    _, records, _ = predictions
    r = next(r for r in records if is_move_question(r) and r.verifier["good"])
    best = r.verifier["good"][0]
    scored = score_predictions([r], {r.id: move_reply(best, r)}, move_only=True).as_dict()["overall"]
    assert scored["move_accuracy"] == 1.0 and scored["accuracy"] is None
    bad = next(m for m in r.verifier["moves"] if m not in r.verifier["good"])
    assert score_predictions([r], {r.id: move_reply(bad, r)}).as_dict()["overall"]["move_accuracy"] == 0.0


def test_states_come_from_the_trajectory_store_when_a_record_lacks_one(dataset):
    records = load_records(dataset[1])
    r = next(r for r in records if is_move_question(r))
    stripped = TaskRecord.from_dict({**r.to_dict(), "extra": {}})
    assert record_state(stripped, dataset[1].parent) == r.extra["state"]
    unshown = f"record {r.id}: no game state (extra['state']) to show the specialist"
    with pytest.raises(ScoringError, match=f"^{re.escape(unshown)}$"):
        record_state(stripped, None)
    gone = TaskRecord.from_dict({**stripped.to_dict(), "source": {**r.source, "step": 10**6}})
    with pytest.raises(ScoringError, match=f"trajectories has no step {10**6} of episode"):
        record_state(gone, dataset[1].parent)  # a split from another export than the folder it sits in


def test_a_recurrent_specialist_answers_each_question_from_a_blank_memory(dataset):
    from agents.compare import load_specialist
    from vlm.scoring import specialist_predictions

    model, cfg, _ = load_specialist(dataset[0])
    questions = [r for r in load_records(dataset[1]) if is_move_question(r)][:3]
    calls: list[dict] = []

    class Recurrent:  # RecurrentPPO's predict: a policy with an LSTM wants its state and episode starts
        policy = type("Policy", (), {"lstm_actor": None})()

        def predict(self, obs, **kwargs):
            calls.append(kwargs)
            return model.predict(obs, deterministic=True)

    assert specialist_predictions(questions, Recurrent(), "snake", cfg["env_kwargs"]) == \
        specialist_predictions(questions, model, "snake", cfg["env_kwargs"])
    assert len(calls) == 1 and calls[0]["state"] is None and calls[0]["deterministic"]
    assert calls[0]["episode_start"].tolist() == [True] * 3


@pytest.fixture(scope="module")
def recurrent_dataset(tmp_path_factory, scripts):
    """A tiny --recurrent Snake run, a model of it whose moves depend on its memory, and the test split of
    that model's export (every episode's move questions)."""
    import torch
    from sb3_contrib import RecurrentPPO

    tmp = tmp_path_factory.mktemp("recurrent")
    run, out, memory = tmp / "run", tmp / "data", tmp / "memory.zip"
    # RecurrentPPO's update with the preset's batches takes minutes on two cores: small ones, one epoch.
    assert scripts.train_ppo.main(["--env", "snake", "--recurrent", "--total-timesteps", "1024", "--num-envs",
                                   "4", "--policy", "tiny", "--no-progress", "--video-every", "100000",
                                   "--set", "ppo.n_steps=32", "--set", "ppo.batch_size=64", "--set",
                                   "ppo.n_epochs=1", "--run-dir", str(run)]) == 0
    # So few steps leave an LSTM whose memory hardly ever changes the greedy move (here it played LEFT
    # throughout): its recurrent weights and action head redrawn (seeded) make one whose moves depend on it.
    model = RecurrentPPO.load(run / "model.zip", device="cpu")
    draw = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for weight in (model.policy.lstm_actor.weight_hh_l0, model.policy.action_net.weight):
            weight.copy_(torch.randn(weight.shape, generator=draw))
    model.save(memory)
    assert scripts.export_trajectories.main([str(run), "--checkpoint", str(memory), "--episodes", "6",
                                             "--out", str(out), "--formats", "none", "--split", "0,0,1",
                                             "--tasks-per-state", "4", "--no-progress", "--json"]) == 0
    return run, memory, out / "test.jsonl"


def test_a_recurrent_specialist_answers_with_the_memory_of_the_question_s_episode(recurrent_dataset):
    # It answered every move question from a blank LSTM memory, as if each state began an episode: not the
    # move its play makes there, with the memory of the episode's earlier steps.
    import pandas as pd

    from agents.compare import load_specialist
    from vlm.scoring import played_move, specialist_predictions
    from vlm.trajectories import TRAJ_DIR

    run, memory, split = recurrent_dataset
    model, cfg, _ = load_specialist(run, "cpu", memory)
    questions = [r for r in load_records(split) if is_move_question(r)]
    steps = pd.read_parquet(split.parent / TRAJ_DIR / "steps").set_index(["episode", "t"])

    # The export's play is the model's greedy play of each episode from its start (the LSTM state carried).
    def played(r: TaskRecord) -> str:
        action = steps.loc[(r.source["episode"], r.source["step"]), "action_name"]
        return move_reply(played_move("snake", r.extra["state"], action), r)

    assert len({r.source["episode"] for r in questions}) > 1 and max(r.source["step"] for r in questions) > 5
    replies = specialist_predictions(questions, model, "snake", cfg["env_kwargs"], root=split.parent, batch=2)
    assert replies == {r.id: played(r) for r in questions}
    # ... where a blank memory answers otherwise, as it did: the memory is what makes them agree.
    blank = specialist_predictions(questions, model, "snake", cfg["env_kwargs"])
    assert any(blank[r.id] != played(r) for r in questions)


def test_a_recurrent_specialist_replays_every_action_up_to_its_batch_s_last_question(recurrent_dataset):
    # A question at each episode's last recorded step, its state read from the store: reached only by
    # replaying every recorded action before it, the batch's last one included. A replay one action short
    # reached another state, the question was left to a blank memory, and no test asked there.
    import pandas as pd

    from agents.compare import load_specialist
    from vlm.scoring import played_move, remembered_predictions
    from vlm.trajectories import TRAJ_DIR

    run, memory, split = recurrent_dataset
    model, cfg, _ = load_specialist(run, "cpu", memory)
    steps = pd.read_parquet(split.parent / TRAJ_DIR / "steps")
    ends = steps.loc[steps.groupby("episode")["t"].idxmax()]
    template = next(r for r in load_records(split) if is_move_question(r)).to_dict()
    questions = [TaskRecord.from_dict({
        **template, "id": f"end-{row.episode}",
        "source": {**template["source"], "episode": int(row.episode), "seed": int(row.seed),
                   "step": int(row.t)},
        "extra": {k: v for k, v in template["extra"].items() if k != "state"}}) for row in ends.itertuples()]
    played = {r.id: move_reply(played_move("snake", record_state(r, split.parent), row.action_name), r)
              for r, row in zip(questions, ends.itertuples(), strict=True)}
    assert max(ends["t"]) > 1
    for batch in (1, len(questions)):  # each episode alone (its own last step), and all in one
        replies = remembered_predictions(questions, model, "snake", cfg["env_kwargs"], split.parent, batch)
        assert replies == played


def test_a_recurrent_specialist_reads_the_actions_of_its_questions_episodes_alone(tmp_path):
    # The store's rows are read for the questions' episodes only (a filter, not the whole store as Python
    # lists): each wanted (episode, seed) gets its own actions, an episode of another seed none, and an index
    # beyond the int32 column (another exporter's record) none rather than an error.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vlm.scoring import _played_actions

    (tmp_path / "steps").mkdir()
    for part, episodes in enumerate(([0, 1], [2, 3])):
        table = pa.table({"episode": pa.array([e for e in episodes for _ in range(3)], pa.int32()),
                          "t": pa.array([0, 1, 2] * 2, pa.int32()),
                          "seed": pa.array([100 + e for e in episodes for _ in range(3)], pa.uint64()),
                          "action": pa.array([10 * e + t for e in episodes for t in range(3)], pa.int16())})
        pq.write_table(table, tmp_path / "steps" / f"part-{part:05d}.parquet", row_group_size=3)
    wanted = {(1, 101): [], (3, 103): [], (2, 999): [], (2**40, 100): []}
    assert _played_actions(tmp_path / "steps", wanted) == {(1, 101): {0: 10, 1: 11, 2: 12},
                                                           (3, 103): {0: 30, 1: 31, 2: 32}}
    assert _played_actions(tmp_path / "steps", {}) == {}


def test_a_recurrent_specialist_beside_another_game_s_store_answers_from_a_blank_memory(recurrent_dataset,
                                                                                        tmp_path):
    # Snake questions put in another game's export (two games' test files together): both exported with
    # --seed 0 share their episodes' seeds, but that store's actions are the other game's, here Rotation's
    # move 5, which a Snake game refuses to step.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from agents.compare import load_specialist
    from vlm.scoring import specialist_predictions

    run, memory, split = recurrent_dataset
    store = tmp_path / "trajectories"
    shutil.copytree(split.parent / "trajectories", store)
    meta = json.loads((store / "meta.json").read_text())
    (store / "meta.json").write_text(json.dumps({**meta, "env": "rotation"}))
    for part in (store / "steps").glob("*.parquet"):
        table = pq.read_table(part)
        moves = pa.array([5] * len(table), pa.int16())
        pq.write_table(table.set_column(table.schema.get_field_index("action"), "action", moves), part)
    model, cfg, _ = load_specialist(run, "cpu", memory)
    questions = [r for r in load_records(split) if is_move_question(r)]
    blank: list[str] = []
    replies = specialist_predictions(questions, model, "snake", cfg["env_kwargs"], root=tmp_path, blank=blank)
    assert replies == specialist_predictions(questions, model, "snake", cfg["env_kwargs"])
    assert blank == [r.id for r in questions if r.source["step"] > 0] != []


def test_a_recurrent_specialist_says_how_many_questions_it_answers_from_a_blank_memory(
        recurrent_dataset, scripts, capsys):
    run, memory, split = recurrent_dataset
    records = load_records(split)
    preds = split.parent / "preds.jsonl"
    reference_predictions(records, preds)
    flags = ["--specialist", str(run), "--checkpoint", str(memory), "--json"]
    assert scripts.score_predictions.main([str(split), str(preds), *flags]) == 0
    said = capsys.readouterr()
    assert said.err == "" and "warning" not in json.loads(said.out)["specialist"]  # every memory rebuilt

    # Questions whose episode the store beside the split lacks, or does not reach their state, are answered
    # from a blank memory (a question at an episode's first step is answered so in play too, and not counted).
    moves = [k for k, r in enumerate(records) if is_move_question(r) and r.source["step"] > 0]
    assert len(moves) >= 3
    changes = ({"episode": 999}, {"step": records[moves[1]].source["step"] + 1}, {"episode": 999, "step": 0})
    for k, change in zip(moves[:3], changes, strict=True):
        records[k] = TaskRecord.from_dict({**records[k].to_dict(), "source": {**records[k].source, **change}})
    mixed = split.parent / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    assert scripts.score_predictions.main([str(mixed), str(preds), *flags]) == 0
    said = capsys.readouterr()
    n = sum(map(is_move_question, records))
    warning = (f"warning: --specialist {run} is --recurrent: 2 of its {n} move questions are answered from a "
               "blank LSTM memory, as if the question's state began an episode, so its move accuracy on them "
               "is not that of its play (evaluate.py scores its play): their episode's earlier steps are not "
               f"in {split.parent / 'trajectories'} or do not replay to the question's state; score the "
               "split beside the trajectories/ of the export that wrote it")
    assert said.err.splitlines() == [warning]
    assert json.loads(said.out)["specialist"]["warning"] == warning.removeprefix("warning: ")


def test_a_recurrent_specialist_s_replay_shows_a_bar_of_its_questions_and_steps(recurrent_dataset, scripts,
                                                                              capsys, monkeypatch):
    # It replays each question's episode up to the question (a Game Boy game's: minutes) with no bar: the
    # script sat silent. A bar on a terminal counts the questions answered and the steps replayed;
    # --no-progress (and --json, and a stderr that is no terminal: tests above) hides it.
    import agents.cli

    run, memory, split = recurrent_dataset
    records = load_records(split)
    preds = split.parent / "preds.jsonl"
    reference_predictions(records, preds)
    monkeypatch.setattr(agents.cli, "REFRESH_S", 0.0)  # every step's count drawn
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # capsys's stands in for a terminal
    flags = ["--specialist", str(run), "--checkpoint", str(memory)]
    assert scripts.score_predictions.main([str(split), str(preds), *flags]) == 0
    frames = capsys.readouterr().err.split("\r")
    n = sum(map(is_move_question, records))
    assert any(f.startswith("specialist:") and f"/{n} " in f and " steps]" in f for f in frames), frames
    assert scripts.score_predictions.main([str(split), str(preds), *flags, "--no-progress"]) == 0
    assert "specialist:" not in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ("{not json\n", "line 1: not JSON"),
    ('{"id": "a"}\n', 'expected {"id": ..., "response": ...}'),
    ('5\n', 'expected {"id": ..., "response": ...}'),  # no object at all
    # both lines named: the second alone left the first to be found in a file of thousands
    ('{"id": "a", "response": "x"}\n{"id": "b", "response": "x"}\n{"id": "a", "response": "y"}\n',
     "line 3: id 'a' appears twice (first on line 1)"),
    # a tool's row without the keys that name its producer: not matched to the split by line
    ('{"response": "x"}\n', 'expected {"id": ..., "response": ...}'),
    ('{"predict": "x"}\n', 'expected {"id": ..., "response": ...}'),
])
def test_bad_prediction_files_name_the_line(content, message, tmp_path, dataset, scripts, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    with pytest.raises(ScoringError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_predictions(bad)
    assert scripts.score_predictions.main([str(dataset[1]), str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and "task record" not in err  # only a line with a verifier is called one


def test_an_unreadable_or_too_deeply_nested_file_is_named_by_file_and_line(tmp_path, scripts, capsys):
    # Both were tracebacks: an OSError reading (here /proc/self/mem's I/O error) and json's RecursionError.
    good = tmp_path / "p.jsonl"
    good.write_text('{"id": "a", "response": "x"}\n')
    deep = tmp_path / "deep.jsonl"
    deep.write_text("\n" + "[" * 100_000 + "\n")  # line 2: a blank line is skipped, and counted
    with pytest.raises(ScoringError, match=f"predictions {deep} line 2: not JSON \\(nested too deeply\\)"):
        load_predictions(deep)
    with pytest.raises(ScoringError, match=f"split {deep} line 2: not JSON"):
        load_records(deep)
    assert scripts.score_predictions.main(["/proc/self/mem", str(good)]) == 2
    assert "error: split /proc/self/mem: cannot be read (Input/output error)" in capsys.readouterr().err
    assert scripts.score_predictions.main([str(deep), "/proc/self/mem"]) == 2  # the split is read first
    assert "line 2: not JSON (nested too deeply)" in capsys.readouterr().err


def test_a_split_given_as_the_predictions_is_named_so(dataset, scripts, capsys):
    # It was refused as a malformed predictions file only, which left the user to find the mix-up.
    assert scripts.score_predictions.main([str(dataset[1]), str(dataset[1])]) == 2
    assert "line 1: expected {\"id\": ..., \"response\": ...}; it is a task record (it has a verifier): " \
           "give the split first, then the model's predictions" in capsys.readouterr().err


def test_a_non_utf8_byte_in_a_split_is_named_by_its_line(dataset, tmp_path, scripts, capsys):
    # A text file decodes thousands of bytes ahead of the line it yields: the error must still name the
    # line that holds the byte, not the count of lines read before it.
    lines = dataset[1].read_bytes().splitlines()
    assert len(lines) > 100
    lines[99] = lines[99].replace(b'"snake"', b'"sn\xffake"', 1)
    bad = tmp_path / "test.jsonl"
    bad.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(ScoringError, match="line 100: not UTF-8 text"):
        load_records(bad)
    assert scripts.score_predictions.main([str(bad), str(dataset[1])]) == 2
    at = lines[99].index(b"\xff") + 1  # counted from 1, as an editor's column
    assert f"split {bad} line 100: not UTF-8 text (byte {at} of the line;" in capsys.readouterr().err


def test_a_split_and_predictions_given_through_pipes_are_scored_as_files(dataset, predictions, scripts,
                                                                          capsys):
    # bash's <(...) gives a pipe (/dev/fd/63), which was refused as "no such file"; a device is named as one
    # (/dev/zero, which has no line end, would have been read until the memory ran out).
    assert scripts.score_predictions.main([str(dataset[1]), str(predictions[0]), "--json"]) == 0
    from_files = json.loads(capsys.readouterr().out)["results"]
    split, preds = (shlex.quote(str(p)) for p in (dataset[1], predictions[0]))
    python = shlex.quote(sys.executable)
    command = f"{python} scripts/score_predictions.py <(cat {split}) <(cat {preds}) --json"
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    piped = json.loads(done.stdout)["results"]
    assert [{**r, "name": "preds"} for r in piped] == from_files  # named by the file: /dev/fd/<n> there
    assert scripts.score_predictions.main(["/dev/zero", str(predictions[0])]) == 2
    assert "split /dev/zero is a character device, not a file" in capsys.readouterr().err


def test_a_trainer_format_given_as_the_split_names_the_exports_own_split(dataset, tmp_path, scripts, capsys,
                                                                         predictions):
    # The trainer's files hold its layout, not task records: each was refused for what it was not ("not
    # JSON", "not a task record"), and trl/ was pointed at a trl/test.jsonl that no export writes.
    out = tmp_path / "data"
    assert scripts.export_trajectories.main([str(dataset[0]), "--episodes", "2", "--out", str(out), "--split",
                                             "0,0,1", "--formats", "llamafactory,trl,verl,swift",
                                             "--no-progress", "--json"]) == 0
    capsys.readouterr()
    for given in ("llamafactory/test.json", "swift/test_rl.jsonl", "verl/test.parquet", "trl", "trl/test"):
        assert scripts.score_predictions.main([str(out / given), str(predictions[0])]) == 2
        err = capsys.readouterr().err
        assert (f"split {out / given} is a trainer format's file or folder of the export {out}, not its task "
                f"records: give the export's split, {out / 'test.jsonl'}") in err, (given, err)

    # Each file names its own split: swift's *_rl files too, not the test split every other file falls to.
    val = tmp_path / "val_data"
    assert scripts.export_trajectories.main([str(dataset[0]), "--episodes", "2", "--out", str(val), "--split",
                                             "0,1,1", "--formats", "swift", "--no-progress", "--json"]) == 0
    assert scripts.score_predictions.main([str(val / "swift" / "val_rl.jsonl"), str(predictions[0])]) == 2
    assert f"give the export's split, {val / 'val.jsonl'}\n" in capsys.readouterr().err
    # A trainer file that is not there (no val split was exported, --split 0,0,1) is named missing, not
    # called a trainer format's file and pointed at the export's empty val.jsonl.
    assert scripts.score_predictions.main([str(out / "swift" / "val_rl.jsonl"), str(predictions[0])]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "trainer format" not in err, err
    # Only in an export (its trajectories/meta.json): elsewhere a folder named trl is just a folder.
    (tmp_path / "mine" / "trl").mkdir(parents=True)
    (tmp_path / "mine" / "test.jsonl").write_text(dataset[1].read_text())
    assert scripts.score_predictions.main([str(tmp_path / "mine" / "trl"), str(predictions[0])]) == 2
    assert f"split {tmp_path / 'mine' / 'trl'} is a folder; give its JSONL file" in capsys.readouterr().err


def test_predictions_given_as_the_split_are_told_to_swap(dataset, tmp_path, scripts, capsys, predictions):
    # The other way round is named (a task record as the predictions); this way said "not a task record
    # (TaskRecord.__init__() got an unexpected keyword argument 'response')", Python's words, no fix.
    rows = {"ours": predictions[0], "llamafactory": tmp_path / "generated_predictions.jsonl"}
    row = {"prompt": "p", "predict": "<answer>1</answer>", "label": "1"}
    rows["llamafactory"].write_text(json.dumps(row) + "\n")
    for path in rows.values():
        assert scripts.score_predictions.main([str(path), str(dataset[1])]) == 2
        err = capsys.readouterr().err
        assert (f"split {path} line 1: not a task record; it is a predictions row: give the split first, "
                "then the model's predictions") in err, err
        assert "TaskRecord.__init__" not in err


def test_a_predictions_folder_names_the_file_in_it(dataset, tmp_path, scripts, capsys):
    # LLaMA-Factory's --output_dir holds generated_predictions.jsonl: the hint named a test.jsonl there,
    # a split's name that no tool writes among predictions.
    folder = tmp_path / "predict"
    folder.mkdir()
    assert scripts.score_predictions.main([str(dataset[1]), str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"predictions {folder} is a folder; give its JSONL file\n" in err and "test.jsonl" not in err
    (folder / "generated_predictions.jsonl").write_text("")
    assert scripts.score_predictions.main([str(dataset[1]), str(folder)]) == 2
    assert (f"predictions {folder} is a folder; give its JSONL file (e.g. "
            f"{folder / 'generated_predictions.jsonl'})") in capsys.readouterr().err


def test_missing_files_and_foreign_splits_are_clear_errors(tmp_path, scripts, capsys, dataset, predictions):
    assert scripts.score_predictions.main([str(tmp_path / "none.jsonl"), str(tmp_path / "p.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert scripts.score_predictions.main([str(tmp_path), str(tmp_path / "p.jsonl")]) == 2
    assert "is a folder" in capsys.readouterr().err
    binary = tmp_path / "episodes.parquet"
    binary.write_bytes(b"PAR1\xff\xfe\x00binary")
    assert scripts.score_predictions.main([str(binary), str(tmp_path / "p.jsonl")]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err
    # An MP4 (evaluate writes them into the run) starts with NUL bytes, but no brace: not called UTF-16.
    video = tmp_path / "episode.mp4"
    video.write_bytes(b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom\xff\xfe")
    assert scripts.score_predictions.main([str(video), str(tmp_path / "p.jsonl")]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err
    # a file where the folder should be was called "no folder", though it exists (as a file)
    for out, message in ((tmp_path, "is a folder"), (tmp_path / "no" / "s.json", "no folder"),
                         (dataset[1] / "s.json", f"{dataset[1]} is a file, not a folder"),
                         (dataset[1], "is the split file")):
        assert scripts.score_predictions.main([str(dataset[1]), str(dataset[1]), "--out", str(out)]) == 2
        assert message in capsys.readouterr().err
    # an existing --out is replaced only with --force; a link to it stays a link
    kept = tmp_path / "kept.json"
    earlier = json.dumps({"split": "s", "predictions": "p", "records": 0, "results": []})
    kept.write_text(earlier)
    link = tmp_path / "link.json"
    link.symlink_to(kept)
    argv = [str(dataset[1]), str(predictions[0]), "--out", str(link)]
    assert scripts.score_predictions.main(argv) == 2
    assert "exists; pass --force" in capsys.readouterr().err and kept.read_text() == earlier
    assert scripts.score_predictions.main([*argv, "--force"]) == 0
    assert link.is_symlink() and json.loads(kept.read_text())["records"] > 0
    capsys.readouterr()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    for argv, message in (([dataset[1], empty], "holds no prediction"),
                          ([empty, dataset[1]], "no task record")):
        assert scripts.score_predictions.main([str(a) for a in argv]) == 2
        assert message in capsys.readouterr().err
    other = tmp_path / "other.jsonl"
    other.write_text('{"id": "snake-from-another-split", "response": "UP"}\n{"id": "b", "response": "UP"}\n')
    assert scripts.score_predictions.main([str(dataset[1]), str(other)]) == 2
    assert f"none of the 2 predictions in {other} answers a record of {dataset[1]} (ids such as " \
           "'snake-from-another-split'): are they for another split?" in capsys.readouterr().err
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"question": "hi"}\n')
    # Python's words, not the swapped-files hint: that is only for a row the predictions reader takes.
    with pytest.raises(ScoringError, match=r"line 1: not a task record \(no 'id', 'game', .* or 'source'\)$"
                       ) as refused:
        load_records(foreign)
    assert "predictions row" not in str(refused.value)


def test_an_empty_split_is_refused_naming_what_to_give(tmp_path, scripts, capsys):
    """An export of too few episodes writes its val and test empty (its note says so); scoring one said only
    that it held no record, not what to give instead."""
    (tmp_path / "test.jsonl").write_text("")
    (tmp_path / "preds.jsonl").write_text('{"id": "snake-000000-00000-00-00000000", "response": "UP"}\n')
    assert scripts.score_predictions.main([str(tmp_path / "test.jsonl"), str(tmp_path / "preds.jsonl")]) == 2
    err = capsys.readouterr().err
    split = tmp_path / "test.jsonl"
    assert err.count("\n") == 1 and err.startswith(f"error: split {split} holds no task record")
    assert "give a split with records" in err and "--episodes" in err


def test_missing_ids_and_ids_not_in_the_split_are_named_in_their_files_order(dataset, tmp_path, scripts,
                                                                           capsys) -> None:
    # One id not in the split was all any test gave, and the split's ids were in sorted order: the JSON's
    # ten examples of each (the first, in the file's order) and the three printed were never checked.
    lines = dataset[1].read_text(encoding="utf-8").splitlines()
    split = tmp_path / "test.jsonl"
    split.write_text("\n".join(lines[::-1]) + "\n", encoding="utf-8")  # its ids out of sorted order
    records = load_records(split)
    unknown = [f"z-{k}" for k in range(12, 0, -1)]  # z-12 ... z-1: not in sorted order either
    path = tmp_path / "preds.jsonl"
    write_rows(path, [{"id": records[0].id, "response": reference_response(records[0])},
                      *({"id": i, "response": "x"} for i in unknown)])
    assert scripts.score_predictions.main([str(split), str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["missing_examples"] == [r.id for r in records[1:11]]
    assert result["unknown_ids"] == 12 and result["unknown_examples"] == unknown[:10]
    assert scripts.score_predictions.main([str(split), str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{len(records)} records in {split}; {len(records) - 1} without a prediction (e.g. "
        f"{', '.join(r.id for r in records[1:4])}); 12 predictions for ids not in the split (e.g. z-12, "
        "z-11, z-10)")


def test_predictions_for_another_export_of_the_same_seeds_score_only_the_same_questions(
        dataset, tmp_path, scripts, capsys):
    """Record ids once named only the game, episode, step and draft, so an export of the same seeds by
    another checkpoint had the same ids for other questions, and predictions made for one scored against
    the other's split silently. Now a prediction counts only for a record that asks what it answered."""
    run, split_a = dataset
    always_right_checkpoint(run, tmp_path / "right.zip")
    out = tmp_path / "b"
    assert scripts.export_trajectories.main([str(run), "--checkpoint", str(tmp_path / "right.zip"),
                                             "--episodes", "6", "--out", str(out), "--formats", "none",
                                             "--split", "0,0,1", "--tasks-per-state", "4", "--no-progress",
                                             "--json"]) == 0
    a, b = load_records(split_a), load_records(out / "test.jsonl")
    reference_predictions(a, tmp_path / "a.jsonl")

    def asked(r: TaskRecord) -> str:  # what a model is shown, with where in the play it was asked
        return json.dumps([r.source["episode"], r.source["step"], r.question, r.options, r.images])

    same = {asked(r) for r in a} & {asked(r) for r in b}
    assert 0 < len(same) < len(b)  # the policies part after the start: some questions differ, not all
    capsys.readouterr()
    assert scripts.score_predictions.main([str(out / "test.jsonl"), str(tmp_path / "a.jsonl"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # Only B's records that A asked too are answered (rightly); the others are missing, not scored with
    # answers to other questions.
    assert result["missing_ids"] == len(b) - len(same)
    assert result["unknown_ids"] == len(a) - len(same)
    assert result["results"][0]["overall"]["accuracy"] == pytest.approx(len(same) / len(b))


def test_predictions_for_an_export_without_id_tags_name_the_older_version(dataset, tmp_path, scripts, capsys):
    """Exports by versions before 2026-12-04 gave ids without the question's tag. Predictions made for such
    an export, scored on a re-export by this version (the same seeds, the same positions), were asked only
    whether they were "for another split?": the cause and the fix (the split they were made for) are
    named; so are the other way round, this version's predictions on an older export's split."""
    records = load_records(dataset[1])
    untagged = [{"id": r.id.rsplit("-", 1)[0], "response": reference_response(r)} for r in records]
    old_preds = tmp_path / "old-preds.jsonl"
    write_rows(old_preds, untagged)
    assert scripts.score_predictions.main([str(dataset[1]), str(old_preds)]) == 2
    err = capsys.readouterr().err
    assert f"none of the {len(records)} predictions in {old_preds} answers a record of {dataset[1]}" in err
    assert (f"(ids such as {untagged[0]['id']!r}): their ids lack the question tag that this split's end in "
            f"({records[0].id!r}): they were made for an export by a version before 2026-12-04; score them "
            "on the split they were made for") in err
    old_split = tmp_path / "test.jsonl"
    write_rows(old_split, [{**r.to_dict(), "id": row["id"]}
                           for r, row in zip(records, untagged, strict=True)])
    reference_predictions(records, tmp_path / "new-preds.jsonl")
    assert scripts.score_predictions.main([str(old_split), str(tmp_path / "new-preds.jsonl")]) == 2
    assert (f"(ids such as {records[0].id!r}): this split's ids ({untagged[0]['id']!r}) lack the question "
            "tag that theirs end in: the split was exported by a version before 2026-12-04; score them on "
            "the split they were made for") in capsys.readouterr().err


def test_a_record_written_through_to_dict_loads_back_whole(tmp_path) -> None:
    # The split's rows are TaskRecord.to_dict(); their source and extra (the states asked about) come back.
    record = TaskRecord(id="snake-000001-00002-00-3b8e2a51", game="snake", family="strategy", qa_type="count",
                        plot_level=2, qa_level=3, images=["images/a.png", "images/b.png"],
                        question="How many?", options=None, answer="4", analysis="Count them.",
                        verifier={"rule": "integer", "value": 4},
                        source={"env": "snake", "seed": 1_000_001, "episode": 1, "step": 2, "frame": "f.png"},
                        extra={"state": {"snake": [[1, 2], [1, 3]], "apple": [4, 4]}, "moves": ["UP"]})
    split = tmp_path / "test.jsonl"
    split.write_text(json.dumps(record.to_dict()) + "\n")
    assert load_records(split) == [record]
    assert TaskRecord.from_dict(record.to_dict()) == record


@pytest.mark.parametrize("verifier, message", [
    (None, "verifier must be an object with a 'rule', got null"),
    ({"rule": "integer"}, "verifier rule 'integer' needs 'value'"),
    ({"rule": "coordinate", "value": "3, 4"},
     "verifier rule 'coordinate': 'value' must be a pair of integers [x, y], got \"3, 4\""),
    ({"rule": "guess"}, "verifier rule 'guess' is not one of"),
])
def test_a_record_with_a_malformed_verifier_is_refused_by_line(verifier, message, dataset, predictions,
                                                                tmp_path, scripts, capsys):
    rows = [json.loads(line) for line in dataset[1].read_text().splitlines()]
    rows[1]["verifier"] = verifier
    split = tmp_path / "test.jsonl"
    split.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert scripts.score_predictions.main([str(split), str(predictions[0])]) == 2
    err = capsys.readouterr().err
    assert f"split {split} line 2: record {rows[1]['id']!r}: {message}" in err and "Traceback" not in err


def test_a_null_response_counts_as_missing_not_as_a_wrong_answer(dataset, tmp_path, scripts, capsys):
    records = load_records(dataset[1])
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": records[0].id, "response": reference_response(records[0])}) + "\n"
                     + json.dumps({"id": records[1].id, "response": None}) + "\n")
    assert scripts.score_predictions.main([str(dataset[1]), str(preds), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    overall = result["results"][0]["overall"]
    assert result["missing_ids"] == len(records) - 1 and records[1].id in result["missing_examples"]
    assert overall["answered"] == 1 and overall["format_errors"] == 0 and result["unknown_ids"] == 0
    assert overall["accuracy"] == pytest.approx(1 / len(records))


def test_a_null_response_for_an_id_not_in_the_split_counts_as_unknown(dataset, tmp_path, scripts, capsys):
    # A failed request (a null response) is still a prediction for its id: one the split lacks is counted
    # and named as such, and a file of only those is refused as another split's, not scored as all missing.
    records = load_records(dataset[1])
    preds = tmp_path / "preds.jsonl"
    write_rows(preds, [{"id": records[0].id, "response": reference_response(records[0])},
                       {"id": "z-1", "response": None}])
    assert scripts.score_predictions.main([str(dataset[1]), str(preds), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["unknown_ids"] == 1 and result["unknown_examples"] == ["z-1"]
    write_rows(preds, [{"id": "z-1", "response": None}])
    assert scripts.score_predictions.main([str(dataset[1]), str(preds), "--json"]) == 2
    # It said "none of the 1 predictions in ... answers a record"
    assert (f"the one prediction in {preds} answers no record of {dataset[1]} (its id 'z-1'): is it for "
            "another split?") in capsys.readouterr().err


def test_ctrl_c_while_scoring_writes_nothing(predictions, dataset, scripts, capsys, monkeypatch, tmp_path):
    import vlm.scoring

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(vlm.scoring, "score_files", interrupted)
    out = tmp_path / "scores.json"
    assert scripts.score_predictions.main([str(dataset[1]), str(predictions[0]), "--out", str(out)]) == 130
    assert "interrupted: nothing written" in capsys.readouterr().err and not out.exists()


def test_a_signal_just_after_the_scores_are_written_does_not_say_nothing_was_written(
        predictions, dataset, scripts, capsys, monkeypatch, tmp_path):
    """A Ctrl-C in the moment after --out was renamed into place printed "interrupted: nothing written"."""
    import signal

    import agents.outputs

    write = agents.outputs.atomic_write_text

    def then_a_signal(*args, **kwargs):
        write(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(agents.outputs, "atomic_write_text", then_a_signal)
    out = tmp_path / "scores.json"
    assert scripts.score_predictions.main([str(dataset[1]), str(predictions[0]), "--out", str(out)]) == 0
    assert "nothing written" not in capsys.readouterr().err and json.loads(out.read_text())["records"]


def test_an_out_file_written_by_another_command_while_scoring_is_kept_without_force(
        predictions, dataset, scripts, capsys, monkeypatch, tmp_path):
    # Two score_predictions.py with one --out at once: both checked --out before scoring, and the later one
    # replaced the other's scores without --force, both saying they wrote them.
    import vlm.scoring

    out = tmp_path / "scores.json"
    score = vlm.scoring.score_files

    def another_writes_out(*args, **kwargs):
        out.write_text('{"another": "command"}')
        return score(*args, **kwargs)

    monkeypatch.setattr(vlm.scoring, "score_files", another_writes_out)
    assert scripts.score_predictions.main([str(dataset[1]), str(predictions[0]), "--out", str(out)]) == 2
    shown, err = capsys.readouterr()
    assert "appeared while scoring" in err and "accuracy" in shown  # the scores shown, not written
    assert json.loads(out.read_text()) == {"another": "command"} and [p.name for p in tmp_path.iterdir()
                                                                      if p.name.startswith(".")] == []


def test_the_temp_file_of_a_killed_scoring_goes_with_the_next_one_and_a_running_ones_stays(
        predictions, dataset, scripts, capsys, tmp_path):
    # score_predictions.py killed by SIGKILL while it wrote --out left .scores.<pid>.tmp.json beside it for
    # good: nothing removed it. One of a process that runs (a scoring writing now) stays.
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    folder = tmp_path / "scores"
    folder.mkdir()
    left = f".scores.{dead}.tmp.json"
    kept = [f".scores.{running.pid}.tmp.json", f".notes.{dead}.tmp.json"]
    try:
        for name in [left, *kept]:
            (folder / name).write_text("{")
        argv = [str(dataset[1]), str(predictions[0]), "--out", str(folder / "scores.json"), "--json"]
        assert scripts.score_predictions.main(argv) == 0
    finally:
        running.kill()
        running.wait()
    shown, err = capsys.readouterr()
    assert sorted(p.name for p in folder.iterdir()) == sorted(["scores.json", *kept])
    assert err == f"{folder}: removed 1 temp file that a killed score_predictions.py left ({left})\n"
    assert json.loads(shown)["records"] == json.loads((folder / "scores.json").read_text())["records"]


def test_a_group_s_figures_are_over_the_records_they_apply_to():
    # A policy's bare moves: the full best/worst rule does not apply to them (accuracy None), nor format.
    cell = Cell()
    for result in ({"answered": True, "accuracy": None, "format": None, "move": 1.0},
                   {"answered": True, "accuracy": 1.0, "format": None, "move": None},
                   {"answered": True, "accuracy": 0.0, "format": None, "move": 0.0},
                   {"answered": False, "accuracy": 0.0, "format": None, "move": None}):
        cell.add(result)
    assert cell.as_dict() == {"n": 4, "answered": 3, "missing": 1, "accuracy": pytest.approx(1 / 3),
                              "format": None, "format_errors": None, "move_questions": 2,
                              "move_accuracy": 0.5}


def test_a_group_s_format_is_over_the_replies_whose_format_applies():
    # Format and accuracy each average over the records they apply to (format_n, accuracy_n), not over
    # every record: a mutant dividing the format by n passed, as no test mixed applicable and not.
    cell = Cell()
    for result in ({"answered": True, "accuracy": 1.0, "format": 1.0, "move": None},
                   {"answered": True, "accuracy": 0.0, "format": 0.0, "move": None},
                   {"answered": True, "accuracy": None, "format": None, "move": 1.0}):
        cell.add(result)
    figures = cell.as_dict()
    assert figures["format"] == pytest.approx(1 / 2) and figures["accuracy"] == pytest.approx(1 / 2)
    assert figures["format_errors"] == 1 and figures["n"] == 3


def test_a_full_disk_writing_out_is_one_clear_error(predictions, dataset, scripts, capsys, monkeypatch,
                                                    tmp_path):
    import errno
    from pathlib import Path

    out = tmp_path / "scores.json"
    earlier = json.dumps({"split": "s", "predictions": "p", "records": 0, "results": []})
    out.write_text(earlier)

    def disk_full(self, text, *args, **kwargs):
        with open(self, "w") as f:
            f.write(text[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    argv = [str(dataset[1]), str(predictions[0]), "--out", str(out), "--force"]
    assert scripts.score_predictions.main([*argv, "--json"]) == 2
    shown, err = capsys.readouterr()
    assert f"error: --out {out} could not be written (No space left on device)" in err
    assert err.rstrip().endswith("; the figures above are not saved") and "Traceback" not in err
    # The scores are still shown: they were lost with the file, and the scoring done again for them.
    assert json.loads(shown)["records"] > 0
    assert scripts.score_predictions.main(argv) == 2
    assert "accuracy" in capsys.readouterr().out
    assert out.read_text() == earlier and sorted(p.name for p in tmp_path.iterdir()) == [
        "preds.jsonl", "scores.json"]


def test_the_output_names_the_specialists_checkpoint_by_absolute_path_and_its_step(predictions, dataset,
                                                                                    scripts, capsys,
                                                                                    monkeypatch):
    # A relative --specialist was named as given and its step not at all, so a saved --out file did not say
    # which model answered (evaluate's JSON and compare's report name the absolute file and its step).
    import os

    path, _, _ = predictions
    run, split = dataset
    monkeypatch.chdir(run.parent)
    assert scripts.score_predictions.main([str(split), str(path), "--specialist", run.name, "--json"]) == 0
    spec = json.loads(capsys.readouterr().out)["specialist"]
    ckpt = os.path.abspath(run / "model.zip")
    assert spec["run"] == os.path.abspath(run) and spec["checkpoint"] == ckpt and spec["step"] == 256
    assert scripts.score_predictions.main([str(split), str(path), "--specialist", run.name]) == 0
    assert f"by the specialist {ckpt} (step 256; its greedy action)" in capsys.readouterr().out


def test_checkpoint_picks_the_specialists_model(predictions, dataset, scripts, capsys, tmp_path):
    # score_predictions had no --checkpoint: an export made with --checkpoint could not have its move
    # questions answered by the model that played it; the run's model.zip always answered.
    import os

    path, records, _ = predictions
    run, split = dataset
    early = tmp_path / "early.zip"
    always_right_checkpoint(run, early)
    assert scripts.score_predictions.main([str(split), str(path), "--specialist", str(run), "--checkpoint",
                                           str(early), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    spec = result["specialist"]
    assert spec["checkpoint"] == os.path.abspath(early) and spec["step"] == 128
    moves = [r for r in records if is_move_question(r) and r.verifier["good"]]
    expected = np.mean(["RIGHT" in r.verifier["good"] for r in moves])
    assert result["results"][1]["overall"]["move_accuracy"] == pytest.approx(expected)
    with pytest.raises(SystemExit):
        scripts.score_predictions.main([str(split), str(path), "--checkpoint", str(early)])
    assert "--checkpoint is the specialist's model file: give --specialist RUN too" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a --device with no specialist to move was ignored
        scripts.score_predictions.main([str(split), str(path), "--device", "cuda"])
    assert "--device is the specialist's torch device: give --specialist RUN too" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # empty: no device, not the default's
        scripts.score_predictions.main([str(split), str(path), "--device", ""])
    assert "--device is the specialist's torch device: give --specialist RUN too" in capsys.readouterr().err
    # An empty --device was taken as cpu once --device became None until parsed; it was refused before.
    assert scripts.score_predictions.main([str(split), str(path), "--specialist", str(run), "--device",
                                           ""]) == 2
    assert "--device: unknown device ''" in capsys.readouterr().err
    # Two runs: argparse kept the last --specialist and scored it alone, the first dropped unsaid.
    with pytest.raises(SystemExit):
        scripts.score_predictions.main([str(split), str(path), "--specialist", str(tmp_path), "--specialist",
                                        str(run)])
    assert ("--specialist is given 2 times: score_predictions.py plays one run; score each run with its own "
            "command") in capsys.readouterr().err


def test_a_specialist_at_another_step_than_the_split_s_is_warned_of_naming_the_checkpoint_to_give(
        predictions, dataset, scripts, capsys, tmp_path):
    # The README says to give the checkpoint the split was exported with, but a specialist at another step
    # was scored beside the model without a word: its move accuracy read as that of the split's player.
    path, records, _ = predictions
    run, split = dataset
    early = tmp_path / "early.zip"
    always_right_checkpoint(run, early)
    assert {r.source["policy"].rsplit("@", 1)[1] for r in records} == {"256"}
    own = run / "checkpoints" / "step_256.zip"
    assert own.is_file()
    argv = [str(split), str(path), "--specialist", str(run)]
    assert scripts.score_predictions.main([*argv, "--checkpoint", str(early), "--json"]) == 0
    said = capsys.readouterr()
    warning = (f"warning: the split's snake move questions were exported by step 256, and --specialist "
               f"{run} plays step 128 ({early}): give --checkpoint {own} to score the model that made them")
    assert said.err.splitlines() == [warning]
    assert json.loads(said.out)["specialist"]["warning"] == warning.removeprefix("warning: ")
    assert scripts.score_predictions.main(argv) == 0  # the run's own model.zip: step 256, no warning
    assert capsys.readouterr().err == ""
    # A run without that step's checkpoint: the export's model file, which meta.json names, still that one.
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.yaml", "model.zip"):
        shutil.copy(run / name, bare / name)
    assert scripts.score_predictions.main([*argv[:3], str(bare), "--checkpoint", str(early)]) == 0
    assert capsys.readouterr().err.endswith(f"give --checkpoint {run / 'model.zip'} to score the model that "
                                            "made them\n")


def export_step_warning(predictions, dataset, scripts, capsys, tmp_path, edit) -> tuple[str, dict]:
    """The step-256 split scored from a copy of its export whose meta.json ``edit`` changed, with a
    --specialist at step 128 of a run keeping no checkpoint, so only meta.json can name the file to give:
    the warning printed, and the edited meta."""
    path, _, _ = predictions
    run, split = dataset
    early = tmp_path / "early.zip"
    always_right_checkpoint(run, early)
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.yaml", "model.zip"):
        shutil.copy(run / name, bare / name)
    other = tmp_path / "other"
    shutil.copytree(split.parent, other)
    meta_file = other / "trajectories" / "meta.json"
    meta = json.loads(meta_file.read_text())
    edit(meta)
    meta_file.write_text(json.dumps(meta))
    assert scripts.score_predictions.main([str(other / split.name), str(path), "--specialist", str(bare),
                                           "--checkpoint", str(early)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: the split's snake move questions were exported by step 256")
    return err, meta


NO_FILE_NAMED = ("give --checkpoint with the model file of that step (the export's trajectories/meta.json "
                 "names it) to score the model that made them\n")


def test_the_step_warning_names_no_model_file_of_another_games_export(predictions, dataset, scripts, capsys,
                                                                    tmp_path):
    # Test files of two games put together in one export's folder: its meta.json names the other game's
    # model, at the same step by chance, and that file was the --checkpoint the warning said to give.
    def other_game(meta: dict) -> None:
        meta["env"] = "sokoban"  # the same step and a model file still that one: only its game differs

    err, meta = export_step_warning(predictions, dataset, scripts, capsys, tmp_path, other_game)
    assert meta["run"]["checkpoint"] not in err and err.endswith(NO_FILE_NAMED)


def test_the_step_warning_names_no_model_file_of_another_step(predictions, dataset, scripts, capsys,
                                                             tmp_path):
    # meta.json of an export made at another step than the split's records say (a later re-export into
    # the same folder): its model file did not play the split, so it is no --checkpoint to give.
    def later_step(meta: dict) -> None:
        meta["policy"]["num_timesteps"] = 512

    err, meta = export_step_warning(predictions, dataset, scripts, capsys, tmp_path, later_step)
    assert meta["run"]["checkpoint"] not in err and err.endswith(NO_FILE_NAMED)


def test_the_step_warning_names_no_model_file_changed_since_the_export(predictions, dataset, scripts,
                                                                      capsys, tmp_path):
    # The run trained on after the export and overwrote its model.zip: the file meta.json names is no
    # longer the step's player, which its SHA-1 no longer matching meta's tells.
    model = tmp_path / "exported.zip"  # a copy: the module's run is shared by other tests
    shutil.copy(dataset[0] / "model.zip", model)

    def copied_model(meta: dict) -> None:
        assert meta["run"]["checkpoint"] == str(dataset[0] / "model.zip")
        meta["run"]["checkpoint"] = str(model)  # the same bytes as exported: still meta's checkpoint_sha1

    for where in ("same", "changed"):
        (tmp_path / where).mkdir()
    err, _ = export_step_warning(predictions, dataset, scripts, capsys, tmp_path / "same", copied_model)
    assert err.endswith(f"give --checkpoint {model} to score the model that made them\n")  # while unchanged
    with open(model, "ab") as f:
        f.write(b"trained on")
    err, _ = export_step_warning(predictions, dataset, scripts, capsys, tmp_path / "changed", copied_model)
    assert str(model) not in err and err.endswith(NO_FILE_NAMED)


def test_the_step_warning_spares_mixed_and_old_splits(predictions, dataset, scripts, capsys, tmp_path):
    # A split of several exports (checkpoints of one run) warns only where none of them is the
    # specialist's step; records naming no step (an older or another exporter's) are not guessed at.
    path, _, _ = predictions
    run, split = dataset
    early = tmp_path / "early.zip"
    always_right_checkpoint(run, early)

    def rewrite(name: str, policy) -> str:
        rows = [json.loads(line) for line in split.read_text().splitlines()]
        for k, row in enumerate(rows):
            row["source"]["policy"] = policy(k, row["source"]["policy"])
        (split.parent / name).write_text("".join(json.dumps(row) + "\n" for row in rows))
        return str(split.parent / name)

    mixed = rewrite("mixed.jsonl", lambda k, p: p if k % 2 else p.replace("@256", "@128"))
    old = rewrite("old.jsonl", lambda k, p: "PPO")
    for split_file in (mixed, old):
        assert scripts.score_predictions.main([split_file, str(path), "--specialist", str(run),
                                               "--checkpoint", str(early)]) == 0
        assert capsys.readouterr().err == ""
    later = rewrite("later.jsonl", lambda k, p: p.replace("@256", f"@{512 if k % 3 else 1024}"))
    assert scripts.score_predictions.main([later, str(path), "--specialist", str(run)]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"warning: the split's snake move questions were exported by steps 512 and 1,024, and --specialist "
        f"{run} plays step 256 ({run / 'model.zip'}): give --checkpoint with the model file of one of those "
        "steps (the export's trajectories/meta.json names it) to score the model that made them"]


def test_a_specialist_checkpoint_of_other_settings_is_refused_by_its_file(predictions, dataset, scripts,
                                                                          capsys, tmp_path):
    # The run's config.yaml on another board size: the model --checkpoint names is refused before any move
    # question is played, by that file's name (not the run's model.zip, which did not play).
    import shutil

    import yaml

    run = tmp_path / "six"
    shutil.copytree(dataset[0], run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "env_kwargs": {**cfg["env_kwargs"], "size": 6}}))
    early = tmp_path / "early.zip"
    shutil.copy(run / "model.zip", early)
    argv = [str(dataset[1]), str(predictions[0]), "--specialist", str(run), "--checkpoint", str(early)]
    assert scripts.score_predictions.main(argv) == 2
    err = capsys.readouterr().err
    assert f"--specialist {run}: the checkpoint {early} reads observations (4, 10, 10)" in err
    assert "trained on another game or settings; give --checkpoint a model trained with this run's" in err


def test_a_word_rule_move_question_is_scored_on_its_accepted_moves_and_grouped_by_its_levels():
    from envs import make_game
    from vlm.scoring import format_table, good_moves
    from vlm.tasks import task_module

    game = make_game("sokoban", 1)
    game.reset(np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.uint64))
    state = game.get_state(0)
    draft = task_module("sokoban").move_task(state)
    accepted = draft.verifier["accepted"]
    wrong = next(m for m in draft.verifier["choices"] if m not in accepted)
    record = TaskRecord("r1", "sokoban", "sokoban", draft.qa_type, 1, 3, [], draft.question, None,
                        accepted[0], "", draft.verifier, {}, {"state": state})
    assert is_move_question(record) and good_moves(record) == accepted
    right = score_predictions([record], {"r1": f"<answer>{accepted[0]}</answer>"}).as_dict()
    assert right["overall"]["move_accuracy"] == 1.0
    assert list(right["by_plot_level"]) == ["1"] and list(right["by_qa_level"]) == ["3"]
    miss = score_predictions([record], {"r1": f"<answer>{wrong}</answer>"}).as_dict()
    assert miss["overall"]["move_accuracy"] == 0.0
    # A policy's bare move answers the word rule in full (only ViGaL's Snake rule asks for more): its
    # accuracy applies; only the format, which a bare move has none of, does not.
    policy = score_predictions([record], {"r1": move_reply(accepted[0], record)}, move_only=True).as_dict()
    assert policy["overall"]["accuracy"] == policy["overall"]["move_accuracy"] == 1.0
    assert policy["overall"]["format"] is None
    # A figure that does not apply to a model reads n/a, not as an empty cell.
    no_full = {**right, "overall": {**right["overall"], "accuracy": None}}
    assert format_table([no_full], ("accuracy",), groups=()).splitlines()[-1] == "| **all** | 1 | n/a |"


def test_the_specialist_s_move_is_given_in_the_tag_its_question_asks_for(predictions):
    _, records, _ = predictions
    snake = next(r for r in records if is_move_question(r))
    assert snake.verifier["rule"] == "snake_best_worst"
    assert move_reply("UP", snake) == "<best_answer>UP</best_answer>"


def test_the_printed_tables_name_the_missing_ids_and_set_the_model_beside_the_specialist(scripts, capsys,
                                                                                         monkeypatch):
    # Only --json was read: the printed counts, the missing ids' examples, and which of the model's results
    # sits beside the specialist's (the model on the same move questions, not on the whole split) were not.
    import vlm.scoring

    def cell(n, accuracy, move):
        return {"n": n, "answered": n, "missing": 0, "accuracy": accuracy, "format": None,
                "format_errors": 0, "move_questions": n, "move_accuracy": move}

    def result(name, n, accuracy, move):
        c = cell(n, accuracy, move)
        return {"name": name, "overall": c, "by_game": {"snake": c}, "by_family": {"strategy": c},
                "by_plot_level": {"2": c}, "by_qa_level": {"3": c}}

    scored = {"records": 9, "missing_ids": 4, "missing_examples": ["a", "b", "c", "d"], "unknown_ids": 2,
              "unknown_examples": ["x", "y"],
              "results": [result("preds", 9, 0.5, 0.25), result("specialist", 3, None, 1.0),
                          result("preds", 3, 0.0, 1 / 3)],
              "specialist": {"run": "/r", "checkpoint": "/r/model.zip", "step": 4096, "move_questions": 3}}
    monkeypatch.setattr(vlm.scoring, "score_files", lambda *args: scored)
    assert scripts.score_predictions.main(["split.jsonl", "preds.jsonl", "--specialist", "/r"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # The ids not in the split are named as the missing ones are (only --json named them: a typo in an id
    # prefix gave a count and no clue).
    assert lines[0] == ("9 records in split.jsonl; 4 without a prediction (e.g. a, b, c); 2 predictions for "
                        "ids not in the split (e.g. x, y)")
    assert "| **all** | 9 | 50.0% | 25.0% | 0 | 0 |" in lines
    assert "The 3 move questions, answered by the model and by the specialist /r/model.zip (step 4,096;" in (
        "\n".join(lines))
    # The move questions side by side by game and by level (a dropped level passed the suite), not by family.
    assert lines[-4:] == ["| **all** | 3 | 0.0% | 33.3% | n/a | 100.0% |",
                          "| game snake | 3 | 0.0% | 33.3% | n/a | 100.0% |",
                          "| plot_level 2 | 3 | 0.0% | 33.3% | n/a | 100.0% |",
                          "| qa_level 3 | 3 | 0.0% | 33.3% | n/a | 100.0% |"]
    assert "| family strategy | 9 | 50.0% | 25.0% | 0 | 0 |" in lines  # the model's table: every group
    assert ("| group | n | preds: accuracy | preds: move acc. | specialist: accuracy | "
            "specialist: move acc. |") in lines


def _scored_beside_a_stub_specialist(scripts, monkeypatch, questions: int, results: list[dict]) -> None:
    """score_predictions.py run with ``--specialist /r`` on ``questions`` move questions whose scoring is
    stubbed to ``results`` (the model's, the specialist's, the model's again): only what it prints is real."""
    import vlm.scoring

    scored = {"records": questions, "missing_ids": 0, "missing_examples": [], "unknown_ids": 0,
              "unknown_examples": [], "results": results,
              "specialist": {"run": "/r", "checkpoint": "/r/model.zip", "step": 64,
                             "move_questions": questions}}
    monkeypatch.setattr(vlm.scoring, "score_files", lambda *args: scored)
    assert scripts.score_predictions.main(["split.jsonl", "preds.jsonl", "--specialist", "/r"]) == 0


@pytest.mark.parametrize("game, accuracy, noted", [("rotation", 0.5, False), ("sokoban", 1.0, False),
                                                    ("snake", None, True)])
def test_the_fatal_moves_note_is_printed_only_where_the_specialist_s_accuracy_is_n_a(scripts, capsys,
                                                                                     monkeypatch, game,
                                                                                     accuracy, noted):
    # The note that the fatal moves (Snake) are n/a for the specialist was printed under a Rotation or
    # Sokoban specialist's table too, whose accuracy is a figure: only Snake's full answer lists them.
    def result(name, acc):
        c = {"n": 2, "answered": 2, "missing": 0, "accuracy": acc, "format": None, "format_errors": 0,
             "move_questions": 2, "move_accuracy": 0.5}
        return {"name": name, "overall": c, "by_game": {game: c}, "by_plot_level": {"1": c},
                "by_qa_level": {"1": c}}

    results = [result("preds", 0.5), result("specialist", accuracy), result("preds", 0.5)]
    _scored_beside_a_stub_specialist(scripts, monkeypatch, 2, results)
    out = capsys.readouterr().out
    assert "The 2 move questions, answered by the model and by the specialist /r/model.zip" in out
    assert ("fatal moves (Snake) is n/a" in out) is noted
    assert ("| **all** | 2 | 50.0% | 50.0% | n/a | 50.0% |" in out) is noted


def test_the_table_has_a_row_per_group_in_order_and_counts_only_answered_replies_as_format_errors():
    from vlm.scoring import format_table

    def record(i: int, game: str, family: str, qa_type: str, plot: int, qa: int) -> TaskRecord:
        return TaskRecord(f"r{i}", game, family, qa_type, plot, qa, [], "How many?", None, "4", "",
                          {"rule": "integer", "value": 4}, {}, {})

    records = [record(1, "sokoban", "strategy", "b_count", 3, 1),
               record(2, "snake", "perception", "a_count", 1, 2),
               record(3, "snake", "strategy", "a_count", 3, 2)]
    # r1 right, r2 right but not in the asked shape, r3 missing: a missing reply is no format error
    scores = score_predictions(records, {"r1": "<think>x</think><answer>4</answer>", "r2": "4"}).as_dict()
    assert scores["overall"] == {"n": 3, "answered": 2, "missing": 1, "accuracy": pytest.approx(2 / 3),
                                 "format": pytest.approx(1 / 3), "format_errors": 1, "move_questions": 0,
                                 "move_accuracy": None}
    assert list(scores["by_family"]) == ["perception", "strategy"]  # sorted, not in the records' order
    assert {k: c["n"] for k, c in scores["by_family"].items()} == {"perception": 1, "strategy": 2}
    assert {k: c["n"] for k, c in scores["by_qa_type"].items()} == {"a_count": 2, "b_count": 1}
    assert list(scores["by_game"]) == ["snake", "sokoban"]
    lines = format_table([scores]).splitlines()
    assert lines[:3] == ["| group | n | accuracy | move acc. | format errors | missing |",
                         "|---|---|---|---|---|---|", "| **all** | 3 | 66.7% | — | 1 | 1 |"]
    assert [line.split(" | ")[0] for line in lines[3:]] == [
        "| game snake", "| game sokoban", "| family perception", "| family strategy", "| qa_type a_count",
        "| qa_type b_count", "| plot_level 1", "| plot_level 3", "| qa_level 1", "| qa_level 2"]
    # A policy's bare move has no format to check: its format errors read "—", not "None".
    policy = score_predictions(records[:1], {"r1": "4"}, move_only=True).as_dict()
    assert format_table([policy], ("format_errors",), groups=()).splitlines()[-1] == "| **all** | 1 | — |"
    # A second model with no reply in a group (the specialist answers only move questions): "—" there.
    lines = format_table([scores, policy], ("accuracy",), groups=("game",)).splitlines()
    assert lines[-2:] == ["| game snake | 2 | 50.0% | — |", "| game sokoban | 1 | 100.0% | 100.0% |"], lines


def test_an_out_that_is_the_predictions_file_is_refused_even_with_force(predictions, dataset, scripts,
                                                                          capsys):
    # Only the split was tried as --out: the predictions left out of the inputs checked passed the suite,
    # and --force then replaced the model's answers with their scores.
    path = predictions[0]
    before = path.read_bytes()
    assert scripts.score_predictions.main([str(dataset[1]), str(path), "--out", str(path), "--force"]) == 2
    assert "is the predictions file" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_device_is_checked_first_and_reaches_the_specialist(scripts, capsys, monkeypatch, tmp_path):
    # --device was never given: an unknown device scored anyway, and a fixed "cpu" passed the suite.
    import vlm.scoring

    calls = []
    scored = {"records": 2, "missing_ids": 0, "missing_examples": [], "unknown_ids": 0,
              "results": [{"name": "preds", "overall": {"n": 2, "answered": 2, "missing": 0, "accuracy": 1.0,
                                                        "format": None, "format_errors": 0,
                                                        "move_questions": 0, "move_accuracy": None}}]}
    monkeypatch.setattr(vlm.scoring, "score_files", lambda *args: (calls.append(args), scored)[1])
    argv = ["split.jsonl", "preds.jsonl", "--specialist", "/r"]
    assert scripts.score_predictions.main([*argv, "--device", "banana"]) == 2
    assert "--device: unknown device" in capsys.readouterr().err and not calls
    assert scripts.score_predictions.main([*argv, "--device", "cpu:0"]) == 0
    assert calls[-1][3] == "cpu:0"
    assert scripts.score_predictions.main(argv) == 0
    assert calls[-1][3] == "cpu"  # the default
    # Nothing missing: the first line gives no empty "(e.g. )".
    assert capsys.readouterr().out.splitlines()[0] == (
        "2 records in split.jsonl; 0 without a prediction; 0 predictions for ids not in the split")


def test_an_out_that_is_the_specialists_model_is_refused_even_with_force(predictions, dataset, scripts,
                                                                         capsys, tmp_path):
    # The model --specialist plays is an input too: --out on it with --force replaced the model with its
    # scores (--checkpoint's file, or the run's own model.zip); so is the run's config.yaml, which --out on
    # it replaced, leaving a run that no command could load.
    import shutil

    run = tmp_path / "run"
    shutil.copytree(dataset[0], run)
    early = tmp_path / "early.zip"
    shutil.copy(run / "model.zip", early)
    before = {f: f.read_bytes() for f in (run / "model.zip", early, run / "config.yaml")}
    for extra, out, name in (([], run / "model.zip", "model"), (["--checkpoint", str(early)], early, "model"),
                             ([], run / "config.yaml", "config")):
        argv = [str(dataset[1]), str(predictions[0]), "--specialist", str(run), *extra, "--out", str(out),
                "--force"]
        assert scripts.score_predictions.main(argv) == 2
        assert f"is the specialist's {name} file" in capsys.readouterr().err
    assert {f: f.read_bytes() for f in before} == before


_RESULT = {"split": "s", "predictions": "p", "records": 1, "results": []}  # the keys of every result


def test_a_file_that_is_no_result_is_not_told_to_use_force(scripts, capsys, tmp_path):
    # --force replaces an earlier result only: for another file the advice to pass it was refused at once
    # ("is no earlier result of this script"), a second try for nothing.
    out = tmp_path / "notes.json"
    out.write_text('{"notes": "mine"}')
    argv = [str(tmp_path / "split.jsonl"), str(tmp_path / "preds.jsonl"), "--out", str(out)]
    assert scripts.score_predictions.main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: --out {out} exists and is no earlier result of this script" in err
    assert "pass --force" not in err and out.read_text() == '{"notes": "mine"}'
    out.write_text(json.dumps(_RESULT))  # an earlier result: --force is the way
    assert scripts.score_predictions.main(argv) == 2
    assert f"error: --out {out} exists; pass --force to replace it" in capsys.readouterr().err


@pytest.mark.parametrize("theirs", [b"PK\x03\x04 a checkpoint", b'{"notes": "mine"}', b"\xff{", b"{not json",
                                    # all of a result's keys but one: not taken for a result
                                    *[pytest.param(json.dumps({k: v for k, v in _RESULT.items() if k != key})
                                                   .encode(), id=f"no-{key}") for key in _RESULT],
                                    # nested past json's depth: no result either
                                    pytest.param(b'{"a":' * 100_000, id="nested-too-deep")])
def test_force_replaces_an_earlier_result_only(scripts, capsys, tmp_path, theirs):
    # --out on another command's file with --force (a run's model.zip, a file of notes) replaced it with
    # the scores; --force is for this script's own earlier result.
    split, preds = tmp_path / "split.jsonl", tmp_path / "preds.jsonl"
    record = {"id": "a", "game": "snake", "family": "f", "qa_type": "t", "plot_level": 1, "qa_level": 1,
              "images": [], "question": "How many?", "options": None, "answer": "3", "analysis": "",
              "verifier": {"rule": "integer", "value": 3}, "source": {"env": "snake"}}
    split.write_text(json.dumps(record) + "\n")
    preds.write_text(json.dumps({"id": "a", "response": "<answer>3</answer>"}) + "\n")
    out = tmp_path / "model.zip"
    out.write_bytes(theirs)
    argv = [str(split), str(preds), "--out", str(out), "--force"]
    assert scripts.score_predictions.main(argv) == 2
    assert f"error: --out {out} exists and is no earlier result of this script" in capsys.readouterr().err
    assert out.read_bytes() == theirs
    out.unlink()
    assert scripts.score_predictions.main(argv[:-1]) == 0  # the result, then replaced by the next one
    assert scripts.score_predictions.main(argv) == 0 and json.loads(out.read_text())["records"] == 1


@pytest.mark.parametrize("code", [errno.EACCES, errno.EIO])
def test_an_out_that_cannot_be_read_is_said_so_not_called_no_earlier_result(scripts, capsys, tmp_path,
                                                                             monkeypatch, code):
    # An earlier result the system will not read (another user's, mode 600; an I/O error) was refused as
    # "exists and is no earlier result of this script", though it may well be one: the reason is the read.
    out = tmp_path / "scores.json"
    out.write_text(json.dumps(_RESULT))
    deny_reading(monkeypatch, out, code)
    argv = [str(tmp_path / "split.jsonl"), str(tmp_path / "preds.jsonl"), "--out", str(out)]
    for force in ([], ["--force"]):  # --force would not get past it either: not told to pass it
        assert scripts.score_predictions.main([*argv, *force]) == 2
        assert capsys.readouterr().err == (
            f"error: --out {out} exists but cannot be read ({os.strerror(code)}), so it is not known to be "
            "an earlier result of this script, the only file --force replaces: make it readable, or choose "
            "another name\n")
    monkeypatch.undo()
    assert out.read_text() == json.dumps(_RESULT)


def test_a_reply_over_the_length_limit_scores_as_a_format_error_and_the_readme_says_so(predictions):
    # The README said only "1 MB" replies never earn accuracy; the limit is MAX_RESPONSE_CHARS (100,000
    # characters), which a reasoning model's long but right reply can pass, and it then reads as wrong.
    from vlm.verify import MAX_RESPONSE_CHARS

    _, records, _ = predictions
    r = records[0]
    right = reference_response(r)
    long = "<think>" + "x" * MAX_RESPONSE_CHARS + right.removeprefix("<think>")  # right answer at the end
    scored = score_predictions([r], {r.id: long}).as_dict()["overall"]
    assert scored["accuracy"] == 0.0 and scored["format_errors"] == 1
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Scoring any model's answers")[1].split("\n## ")[0]
    assert f"{MAX_RESPONSE_CHARS:,} characters" in section


def test_a_split_with_an_id_twice_is_refused_by_line(tmp_path) -> None:
    # Scores are keyed by id: a repeated record would be scored twice against one prediction.
    row = json.dumps(TaskRecord("r1", "snake", "perception", "count", 1, 1, [], "How many?", None, "4", "",
                                {"rule": "integer", "value": 4}, {}, {}).to_dict())
    split = tmp_path / "test.jsonl"
    split.write_text(f"{row}\n{row}\n")
    with pytest.raises(ScoringError, match=f"split {split} line 2: id 'r1' appears twice"):
        load_records(split)


def test_a_split_put_together_that_repeats_a_question_says_how_to_keep_it_once(tmp_path) -> None:
    # Test splits of two exports from the same seeds (two checkpoints of a run), put together for one
    # dataset of several games, ask their shared questions twice under one id: the refusal named the id
    # alone, not where it first was nor what to do.
    row = json.dumps(TaskRecord("r1", "snake", "perception", "count", 1, 1, [], "How many?", None, "4", "",
                                {"rule": "integer", "value": 4}, {}, {}).to_dict())
    other = json.dumps(TaskRecord("r2", "sokoban", "perception", "count", 1, 1, [], "How many?", None, "4",
                                  "", {"rule": "integer", "value": 4}, {}, {}).to_dict())
    split = tmp_path / "test.jsonl"
    split.write_text(f"{row}\n{other}\n{row}\n")
    with pytest.raises(ScoringError) as raised:
        load_records(split)
    assert str(raised.value) == (
        f"split {split} line 3: id 'r1' appears twice (first on line 1); an id is one question, asked twice "
        "where splits of exports made from the same seeds were put together: keep each id once, or export "
        "the second with another --seed")


@pytest.mark.parametrize("key, value", [("id", 1.0), ("id", ["r1"]), ("game", None), ("family", 3),
                                        ("qa_type", {"a": 1})])
def test_a_split_record_whose_id_or_group_is_no_string_is_refused_by_line(key, value, tmp_path, scripts,
                                                                         capsys) -> None:
    # Tracebacks: a list id is unhashable, a number beside the strings fails the groups' sort, and a
    # float id (1.0) failed the printed examples of missing ids.
    good = TaskRecord("r0", "snake", "perception", "count", 1, 1, [], "How many?", None, "4", "",
                      {"rule": "integer", "value": 4}, {}, {}).to_dict()
    split = tmp_path / "test.jsonl"
    split.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "r1", key: value}) + "\n")
    preds = tmp_path / "preds.jsonl"
    preds.write_text('{"id": "r0", "response": "4"}\n')
    message = f"split {split} line 2: not a task record (its {key} is {value!r}, not a string)"
    with pytest.raises(ScoringError, match=re.escape(message)):
        load_records(split)
    assert scripts.score_predictions.main([str(split), str(preds)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("change, problem", [
    (lambda r: {k: v for k, v in r.items() if k != "verifier"}, "no 'verifier'"),
    (lambda r: {k: v for k, v in r.items() if k not in ("verifier", "source")}, "no 'verifier' or 'source'"),
    (lambda r: {**r, "colour": "red"}, "unknown key 'colour'"),
    (lambda r: {**{k: v for k, v in r.items() if k != "answer"}, "colour": 1, "answers": 2},
     "no 'answer'; unknown keys 'colour' and 'answers'"),
    (lambda r: list(r), "a JSON array, not an object"),
    (lambda r: "r1", "a JSON string, not an object")])
def test_a_split_record_missing_or_with_unknown_keys_is_named_in_our_words(change, problem, tmp_path, scripts,
                                                                          capsys) -> None:
    # It said "not a task record (TaskRecord.__init__() missing 1 required positional argument: 'verifier')":
    # Python's words about a constructor the user never called. extra may be left out (a default).
    good = TaskRecord("r0", "snake", "perception", "count", 1, 1, [], "How many?", None, "4", "",
                      {"rule": "integer", "value": 4}, {}, {}).to_dict()
    split = tmp_path / "test.jsonl"
    bare = {k: v for k, v in good.items() if k != "extra"}
    split.write_text(json.dumps(bare) + "\n" + json.dumps(change({**good, "id": "r1"})) + "\n")
    preds = tmp_path / "preds.jsonl"
    preds.write_text('{"id": "r0", "response": "4"}\n')
    message = f"split {split} line 2: not a task record ({problem})"
    with pytest.raises(ScoringError) as refused:
        load_records(split)
    assert str(refused.value) == message
    assert scripts.score_predictions.main([str(split), str(preds)]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_a_response_that_is_not_a_string_is_scored_as_its_json_text(tmp_path) -> None:
    # A generation script may write a number or a list; null stays None (a failed generation: missing).
    preds = tmp_path / "preds.jsonl"
    preds.write_text('{"id": "a", "response": 4}\n{"id": "b", "response": ["UP"]}\n'
                     '{"id": "c", "response": null}\n')
    assert load_predictions(preds) == {"a": "4", "b": '["UP"]', "c": None}


def test_an_id_that_is_no_text_is_read_as_its_text(tmp_path) -> None:
    # A list id would be hashed as it is (a TypeError traceback); as text it is an id not in the split.
    path = tmp_path / "preds.jsonl"
    write_rows(path, [{"id": ["a"], "response": "x"}, {"id": 7, "response": "y"},
                      {"id": "batch_req_1", "custom_id": 8, "response": None, "error": "expired"}])
    assert load_predictions(path) == {"['a']": "x", "7": "y", "8": None}


def test_a_failed_generation_of_ours_beside_an_error_is_read_by_its_id(tmp_path) -> None:
    # A Batch output row is told by its custom_id too: without that, a row of ours with a null response
    # beside the generation script's error would be read as one, a KeyError traceback (no custom_id).
    path = tmp_path / "preds.jsonl"
    write_rows(path, [{"id": "a", "response": None, "error": "timeout"}])
    assert load_predictions(path) == {"a": None}
    # A failed Batch request has an error; a null one (vLLM writes "error": null on success) is no failure,
    # so a row of ours that kept its request's custom_id is still read by its own id.
    write_rows(path, [{"id": "a", "response": None, "custom_id": "req-1", "error": None}])
    assert load_predictions(path) == {"a": None}


def test_a_specialist_whose_games_task_module_cannot_be_used_is_refused_naming_it(
        predictions, dataset, scripts, capsys, monkeypatch):
    # "the split has no scored snake move question to answer", of a split that holds them: the task module
    # that tells a move question (a package's not installed, broken or left out) could not be used, which
    # is_move_question took for "no move question"; the model's move accuracy was "—" too.
    import vlm.scoring
    import vlm.tasks.snake

    monkeypatch.setattr(vlm.scoring, "_MOVE_QA_TYPES", {})
    monkeypatch.delattr(vlm.tasks.snake, "move_task")
    run, split = dataset
    assert scripts.score_predictions.main([str(split), str(predictions[0]), "--specialist", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --specialist {run}: the snake move questions it answers are found by "
                          "the game's task module, which cannot be used: vlm/tasks/snake.py lacks "
                          "move_task "), err


def test_a_split_whose_games_task_module_cannot_be_used_warns_that_its_move_accuracy_is_not_scored(
        predictions, dataset, scripts, capsys, monkeypatch):
    # The model's move acc. was "—" for every group, without a word: nothing told the move questions apart.
    import vlm.scoring
    import vlm.tasks.snake

    monkeypatch.setattr(vlm.scoring, "_MOVE_QA_TYPES", {})
    monkeypatch.delattr(vlm.tasks.snake, "move_task")
    assert scripts.score_predictions.main([str(dataset[1]), str(predictions[0]), "--json"]) == 0
    captured = capsys.readouterr()
    warning = ("the snake move questions are scored as any other question, with no move accuracy: the game's "
               "task module, which finds them, cannot be used here: vlm/tasks/snake.py lacks move_task ")
    assert captured.err.startswith(f"warning: {warning}"), captured.err
    assert json.loads(captured.out)["warning"].startswith(warning)


def test_a_specialist_of_a_game_the_split_lacks_is_refused(predictions, dataset, scripts, capsys, tmp_path):
    # Not "no scored move question to answer": the split holds no record of its game at all.
    import shutil

    import yaml

    run = tmp_path / "other"
    shutil.copytree(dataset[0], run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "env": "sokoban", "env_kwargs": {}}))
    argv = [str(dataset[1]), str(predictions[0]), "--specialist", str(run)]
    assert scripts.score_predictions.main(argv) == 2
    err = capsys.readouterr().err
    assert f"--specialist {run} plays 'sokoban', and the split has no sokoban record" in err, err
    assert "(its games: snake): give a --specialist of one of those games, or a split with sokoban" in err


def fresh_snake_move_lines(n: int) -> bytes:
    """The move questions of ``n`` fresh 10×10 Snake boards (seeded, so each heads its own way), as split
    lines."""
    from envs import make_game
    from vlm.tasks import task_module

    game, records = make_game("snake", 1), []
    for seed in range(n):
        game.reset(np.zeros(1, dtype=np.int64), np.array([seed], dtype=np.uint64))
        d = task_module("snake").move_task(game.get_state(0))
        records.append(TaskRecord(f"fresh-{seed}", "snake", d.family, d.qa_type, d.plot_level, d.qa_level, [],
                                  d.question, d.options, d.answer, d.analysis, d.verifier, {}, d.extra))
    game.close()
    return "".join(json.dumps(r.to_dict()) + "\n" for r in records).encode()


@pytest.fixture(scope="module")
def duel(tmp_path_factory, scripts):
    """A duel Snake run on a 6×6 board trained by self-play (its config says ``opponent: policy``), and a
    split exported from it (against the greedy bot, as every export plays a duel run)."""
    tmp = tmp_path_factory.mktemp("duel")
    run = tmp / "run"
    assert scripts.train_ppo.main(["--env", "snake_duel", "--size", "6", "--opponent", "policy",
                                   "--total-timesteps", "256", "--video-every", "100000", "--save-every",
                                   "256", "--run-dir", str(run), *TINY]) == 0
    out = tmp / "data"
    assert scripts.export_trajectories.main([str(run), "--episodes", "4", "--out", str(out), "--formats",
                                             "none", "--split", "0,0,1", "--tasks-per-state", "4",
                                             "--no-progress", "--json"]) == 0
    return run, out / "test.jsonl"


def test_a_duel_specialist_plays_its_run_s_board_against_the_evaluation_opponent(duel, scripts, capsys,
                                                                                 monkeypatch, tmp_path):
    # Its game is rebuilt from the run's env_kwargs through eval_kwargs, as evaluate, export and compare do:
    # on its 6×6 board (the default 10×10 game refuses the split's states) and against the greedy bot, not
    # the self-play opponent it trained against (a game of opponent "policy" refuses to step unprompted).
    import agents.compare  # noqa: F401 (imported here, not first by the command, where it kept the stand-in)
    import envs

    built, make_game = [], envs.make_game
    monkeypatch.setattr(envs, "make_game",
                        lambda env, n, **kw: built.append((env, kw)) or make_game(env, n, **kw))
    run, split = duel
    records = load_records(split)
    reference_predictions(records, tmp_path / "preds.jsonl")
    assert scripts.score_predictions.main([str(split), str(tmp_path / "preds.jsonl"), "--specialist",
                                           str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    _, specialist, model_same = result["results"]
    moves = [r for r in records if is_move_question(r)]
    assert moves and result["specialist"]["move_questions"] == len(moves) == specialist["overall"]["n"]
    assert {env for env, _ in built} == {"snake_duel"}
    assert all(kw["size"] == 6 and kw["opponent"] == "greedy" for _, kw in built), built
    good = [r for r in moves if r.verifier["good"]]
    assert specialist["overall"]["move_accuracy"] == pytest.approx(greedy_move_accuracy(run, good))
    assert model_same["overall"]["accuracy"] == 1.0  # the reference answers, on the same questions


def test_a_split_of_two_games_gives_a_specialist_only_its_own_game_s_move_questions(dataset, duel, scripts,
                                                                                    capsys, tmp_path):
    # Test splits put together (cat): the model is scored on every record, and each specialist answers only
    # its own game's move questions; the other game's are no question for it (a Snake policy cannot read a
    # duel board, and the duel run's 6×6 board is not the Snake records' 10×10, which is no error here).
    split = tmp_path / "mixed" / "test.jsonl"
    split.parent.mkdir()
    # The tiny Snake specialist answers none of its split's few move questions well (its episodes all
    # head one way), so the move questions of fresh boards, heading every way, give it some right.
    split.write_bytes(dataset[1].read_bytes() + fresh_snake_move_lines(24) + duel[1].read_bytes())
    records = load_records(split)
    reference_predictions(records, tmp_path / "preds.jsonl")
    for run, game in ((dataset[0], "snake"), (duel[0], "snake_duel")):
        assert scripts.score_predictions.main([str(split), str(tmp_path / "preds.jsonl"), "--specialist",
                                               str(run), "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        model_all, specialist, model_same = result["results"]
        moves = [r for r in records if r.game == game and is_move_question(r)]
        assert moves and result["specialist"]["move_questions"] == len(moves) == specialist["overall"]["n"]
        assert set(specialist["by_game"]) == set(model_same["by_game"]) == {game}
        assert set(model_all["by_game"]) == {"snake", "snake_duel"}
        assert model_all["overall"]["n"] == len(records)
        good = [r for r in moves if r.verifier["good"]]
        expected = greedy_move_accuracy(run, good)
        assert 0 < expected < 1, (game, expected)  # right and wrong answers: each must go to its question
        assert specialist["overall"]["move_accuracy"] == pytest.approx(expected)


def test_the_move_question_type_falls_back_to_a_fresh_board_and_none(monkeypatch):
    """move_qa_type asks the task module on the split's running state, else (none, or a finished one) on a
    fresh board; a game without a task module has none (remembered), and a move_task that raises gives
    None without remembering it (a later record's state may work)."""
    import vlm.scoring as scoring
    from envs import make_game
    from vlm.tasks import task_module

    game = make_game("snake", 1)
    game.reset(np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.uint64))
    fresh = task_module("snake").move_task(game.get_state(0)).qa_type
    monkeypatch.setattr(scoring, "_MOVE_QA_TYPES", {})
    for state in (None, {"done": True}, "not a state"):  # move_task(state) itself would raise on each
        scoring._MOVE_QA_TYPES.clear()
        assert scoring.move_qa_type("snake", state) == fresh
    assert scoring.move_qa_type("no_such_game") is None and scoring._MOVE_QA_TYPES["no_such_game"] is None

    def fails(state):
        raise KeyError("head")

    monkeypatch.setattr(task_module("rotation"), "move_task", fails)
    assert scoring.move_qa_type("rotation", None) is None and "rotation" not in scoring._MOVE_QA_TYPES
    # A fresh board that cannot be made (a Game Boy game without its ROM) gives None, not remembered.
    monkeypatch.setattr("envs.make_game", lambda name, n: (_ for _ in ()).throw(OSError("no ROM")))
    assert scoring.move_qa_type("sokoban", None) is None and "sokoban" not in scoring._MOVE_QA_TYPES
    assert scoring.move_qa_type("sokoban", {"done": True}) is None


def test_the_fresh_board_move_qa_type_makes_is_closed_after(monkeypatch):
    """The game made for a fresh board is closed (a Game Boy game's emulators run until then), as every
    other game scoring makes."""
    import envs
    import vlm.scoring as scoring

    made = []
    monkeypatch.setattr(scoring, "_MOVE_QA_TYPES", {})
    monkeypatch.setattr(envs, "make_game", lambda *a, make=envs.make_game: made.append(make(*a)) or made[-1])
    assert scoring.move_qa_type("snake") is not None
    assert len(made) == 1 and made[0]._closed

    def unplayable(*a, make=envs.make_game):  # a board that cannot be reset: closed too
        game = make(*a)
        game.reset = lambda *_: (_ for _ in ()).throw(ValueError("no board"))
        return game  # in made: make is the recording one above

    monkeypatch.setattr(envs, "make_game", unplayable)
    scoring._MOVE_QA_TYPES.clear()  # the first call remembered snake's
    assert scoring.move_qa_type("snake") is None
    assert len(made) == 2 and made[1]._closed


def test_out_with_a_specialist_run_that_has_no_model_is_the_runs_error_not_a_traceback(predictions, dataset,
                                                                                        scripts, capsys,
                                                                                        tmp_path):
    # --out is checked against the specialist's model file before the scoring: a run with none (stopped
    # before its first checkpoint, no command.txt) leaves that check out, and the scoring names the run's
    # problem.
    import shutil

    empty = tmp_path / "no-model"
    empty.mkdir()
    shutil.copy(dataset[0] / "config.yaml", empty)
    assert scripts.score_predictions.main([str(dataset[1]), str(predictions[0]), "--specialist", str(empty),
                                           "--out", str(tmp_path / "scores.json")]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: --specialist {empty}: no checkpoint to load (checkpoints/step_*.zip or "
                   "model.zip); train it first (scripts/train_ppo.py), or give another run with "
                   "--specialist\n")
    assert not (tmp_path / "scores.json").exists()


def test_the_printed_table_says_what_a_format_error_is(scripts, capsys, monkeypatch):
    # A reply of only "<answer>…</answer>" (the record's answer, as one writes a quick baseline) scores
    # 100% and counts every reply as a format error: the table said so with nothing saying why, nor did
    # the README.
    import vlm.scoring

    cell = {"n": 4, "answered": 4, "missing": 0, "accuracy": 1.0, "format": 0.0, "format_errors": 4,
            "move_questions": 0, "move_accuracy": None}
    scored = {"records": 4, "missing_ids": 0, "missing_examples": [], "unknown_ids": 0,
              "unknown_examples": [],
              "results": [{"name": "preds", "overall": cell, "by_game": {"snake": cell}}]}
    monkeypatch.setattr(vlm.scoring, "score_files", lambda *args: scored)
    assert scripts.score_predictions.main(["split.jsonl", "preds.jsonl"]) == 0
    out = capsys.readouterr().out
    assert "| **all** | 4 | 100.0% | — | 4 | 0 |" in out
    legend = [line for line in out.splitlines() if line.startswith("format errors:")]
    assert legend and "<think>…</think>" in legend[0] and "accuracy" in legend[0], out
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### Scoring any model's answers")[1]
    assert "<think>…</think>" in section.split("\n## ")[0]
    cell.update(format=1.0, format_errors=0)  # well-formed replies: no legend for errors there are none of
    assert scripts.score_predictions.main(["split.jsonl", "preds.jsonl"]) == 0
    assert "format errors:" not in capsys.readouterr().out
    # With --specialist the legend is the first table's, over every record, not the move questions' table's
    # (where the model made none): the last result's count passed the suite.
    scored.update(results=[{"name": "preds", "overall": {**cell, "format": 0.0, "format_errors": 4}},
                           {"name": "specialist", "overall": cell}, {"name": "preds", "overall": cell}],
                  specialist={"run": "/r", "checkpoint": "/r/model.zip", "step": 4096, "move_questions": 4})
    assert scripts.score_predictions.main(["split.jsonl", "preds.jsonl", "--specialist", "/r"]) == 0
    assert ("\nformat errors: replies not written as <think>…</think> followed by each answer tag the "
            "question asks for;") in capsys.readouterr().out


def test_counts_of_one_are_said_in_the_singular(scripts, capsys, monkeypatch):
    # "1 records in ...", "1 predictions for ids not in the split", "The 1 move questions, answered by ...".
    import vlm.scoring

    cell = {"n": 1, "answered": 1, "missing": 0, "accuracy": 1.0, "format": 1.0, "format_errors": 0,
            "move_questions": 1, "move_accuracy": 1.0}
    result = {"name": "preds", "overall": cell, "by_game": {"snake": cell}}
    scored = {"records": 1, "missing_ids": 0, "missing_examples": [], "unknown_ids": 1,
              "unknown_examples": ["x"], "results": [result, {**result, "name": "specialist"}, result],
              "specialist": {"run": "/r", "checkpoint": "/r/model.zip", "step": 4096, "move_questions": 1}}
    monkeypatch.setattr(vlm.scoring, "score_files", lambda *args: scored)
    assert scripts.score_predictions.main(["split.jsonl", "preds.jsonl", "--specialist", "/r"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 record in split.jsonl; 0 without a prediction; 1 prediction for an id not in "
                          "the split (e.g. x)\n"), out
    assert "The 1 move question, answered by the model and by the specialist /r/model.zip" in out


def test_the_step_warning_reads_a_meta_nested_past_json_s_depth_as_no_export(tmp_path) -> None:
    # The meta.json beside the split raised json's RecursionError: a traceback out of --specialist.
    from vlm.scoring import step_warning

    (tmp_path / "trajectories").mkdir()
    (tmp_path / "trajectories" / "meta.json").write_text("[" * 100_000)
    question = TaskRecord("r1", "snake", "strategy", "best_move", 1, 1, [], "Move?", None, "UP", "",
                          {"rule": "word", "accepted": ["UP"]}, {"policy": "runs/snake/x@512"}, {})
    warning = step_warning([question], "snake", tmp_path / "run", tmp_path / "run" / "model.zip", 1024,
                           tmp_path / "test.jsonl")
    assert warning is not None and "step 512" in warning


def test_source_step_reads_only_a_policy_ending_at_a_step() -> None:
    # export.py writes source.policy as <run>@<step>; another exporter's name, digits alone included, is no
    # step (a warning naming a "step 12345" no run has).
    from vlm.scoring import source_step

    def record(source: object) -> TaskRecord:
        return TaskRecord("r1", "snake", "perception", "count", 1, 1, [], "How many?", None, "4", "", {},
                          source)

    assert source_step(record({"policy": "runs/snake/ppo@12345"})) == 12345
    assert source_step(record({"policy": "a@b@2048"})) == 2048
    for policy in ("12345", "ppo", "ppo@", "ppo@-5", "ppo@1.5", None, 7):
        assert source_step(record({"policy": policy})) is None, policy
    assert source_step(record(None)) is None


def test_the_step_warning_of_a_split_of_several_other_steps_names_no_one_checkpoint(tmp_path) -> None:
    # With two exports' steps in the split, neither the specialist's, no one step's model is the split's
    # player: the warning asks for one of them rather than naming the commoner step's checkpoint.
    from vlm.scoring import step_warning

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for step in (1000, 2000):
        (run / "checkpoints" / f"step_{step}.zip").write_bytes(b"")
    questions = [TaskRecord(f"r{i}", "snake", "strategy", "best_move", 1, 1, [], "Which move?", None, "UP",
                            "", {}, {"policy": f"run@{s}"}) for i, s in enumerate((1000, 1000, 2000))]
    said = step_warning(questions, "snake", run, run / "model.zip", 3000, tmp_path / "test.jsonl")
    assert said is not None and "steps 1,000 and 2,000" in said
    assert "step_1000.zip" not in said and "model file of one of those steps" in said


def sokoban_move_record(verifier: dict | None = None) -> TaskRecord:
    """Sokoban's move question on a fresh board (its verifier replaced by ``verifier`` if given)."""
    from envs import make_game
    from vlm.tasks import task_module

    game = make_game("sokoban", 1)
    game.reset(np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.uint64))
    state = game.get_state(0)
    draft = task_module("sokoban").move_task(state)
    return TaskRecord("r1", "sokoban", "sokoban", draft.qa_type, 1, 1, [], draft.question, None, "", "",
                      verifier or draft.verifier, {}, {"state": state})


def test_a_move_question_without_a_good_move_has_no_good_moves() -> None:
    """None, not an empty list: the VLM player reads ``good_moves(...) is None`` as a question with no good
    move to score (a Snake board where every move is fatal), where [] would score every answer 0."""
    from vlm.scoring import good_moves

    record = sokoban_move_record()
    assert good_moves(record) == record.verifier["accepted"]
    for verifier in ({**record.verifier, "accepted": []},
                     {"rule": "snake_best_worst", "moves": ["UP"], "good": [], "fatal": ["UP"]}):
        assert good_moves(sokoban_move_record(verifier)) is None, verifier


def test_only_a_move_rule_makes_a_move_question() -> None:
    """A record of the move question's qa_type whose verifier is no move rule (a foreign exporter's count
    under the same name) is no move question: its reply has no move to score."""
    record = sokoban_move_record()
    assert is_move_question(record)
    assert not is_move_question(sokoban_move_record({"rule": "integer", "value": 3}))


def test_a_missing_reply_of_a_policy_has_no_format() -> None:
    """Under ``move_only`` (a policy's bare moves) format does not apply, answered or not: a missing reply
    counted as a 0 format, unlike an answered one."""
    from vlm.scoring import score_one

    record = sokoban_move_record()
    missing = score_one(record, None, move_only=True)
    assert missing == {"answered": False, "accuracy": 0.0, "format": None, "move": 0.0}
    assert score_one(record, None)["format"] == 0.0
    assert score_predictions([record], {}, move_only=True).as_dict()["overall"]["format"] is None


def test_predictions_separated_by_a_lone_carriage_return_are_read_as_lines(tmp_path) -> None:
    """Old Mac line ends (a lone \\r) end a line, as in a text file."""
    path = tmp_path / "preds.jsonl"
    path.write_bytes(b'{"id": "a", "response": "x"}\r{"id": "b", "response": "y"}\r')
    assert load_predictions(path) == {"a": "x", "b": "y"}


def test_a_model_without_records_shows_dashes_not_figures() -> None:
    """No records scored (an empty Scores): every cell of its row is a dash, none n/a or 0."""
    from vlm.scoring import Scores, format_table

    row = format_table([Scores("m").as_dict()], groups=()).splitlines()[-1]
    assert row == "| **all** | 0 | — | — | — | — |"


@pytest.mark.parametrize("env", ["snake", "snake_duel"])
def test_a_specialist_s_reverse_action_is_scored_as_the_straight_move_the_engine_plays(env):
    # A policy's reverse into the neck moves straight on, as its straight action does: a policy has no
    # reason to prefer one. Its reply named the reverse, which no question accepts as best, so a
    # specialist that went straight on where straight on was best was scored wrong.
    from envs import make_game
    from vlm.scoring import specialist_predictions
    from vlm.tasks import OPPOSITE, task_module

    game = make_game(env, num_envs=1)
    tasks = task_module(env)
    for seed in range(50):  # a start where going straight on is a best move
        game.reset(np.zeros(1, dtype=np.int64), np.array([seed], dtype=np.uint64))
        state = game.get_state(0)
        heading = state["snakes"][0]["direction"] if env == "snake_duel" else state["direction"]
        draft = tasks.move_task(state)
        if heading in draft.verifier["good"]:
            break
    else:
        pytest.fail("no start where straight on is best")
    record = TaskRecord.from_dict({
        "id": "q", "game": env, "family": draft.family, "qa_type": draft.qa_type, "plot_level": 1,
        "qa_level": 1, "images": [], "question": draft.question, "options": None, "answer": draft.answer,
        "analysis": "", "verifier": draft.verifier, "source": {}, "extra": draft.extra})

    class Reverser:  # always the action back into the neck
        policy = object()

        def predict(self, obs, deterministic=True):
            return np.array([game.ACTION_NAMES.index(OPPOSITE[heading])] * len(obs)), None

    replies = specialist_predictions([record], Reverser(), env, {})
    assert replies == {"q": f"<best_answer>{heading}</best_answer>"}


# ---------------------------------------------------------------------- other producers' files
# Each in the shape its producer's own code writes (read in llamafactory 0.9.5, ms-swift 4.6.0 and vLLM's
# run_batch): a user scores them as they are, without writing ids in with jq.
def tool_replies(records: list[TaskRecord]) -> list[str]:
    """The right answer to every other record, a wrong one to the rest."""
    return [reference_response(r) if k % 2 == 0 else "<think>x</think><answer>pass</answer>"
            for k, r in enumerate(records)]


def llamafactory_rows(records: list[TaskRecord], end: str = "") -> list[dict]:
    """generated_predictions.jsonl of `llamafactory-cli train --do_predict --predict_with_generate` (and
    scripts/vllm_infer.py): the decoded prompt, the generated text and the label. ``end``: what
    skip_special_tokens=False leaves at the end of both (Qwen's <|im_end|>, then do_predict's padding)."""
    head = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>"
    return [{"prompt": f"{head}{r.question}<|im_end|>\n<|im_start|>assistant\n", "predict": reply + end,
             "label": reference_response(r) + end}
            for r, reply in zip(records, tool_replies(records), strict=True)]


def swift_rows(records: list[TaskRecord], rl: bool = False) -> list[dict]:
    """`swift infer --val_dataset swift/test.jsonl --result_path ...`: the reply, the dataset row's own
    response as labels (None for test_rl.jsonl), then the row with the reply as its last message."""
    from vlm.formats import swift_example

    rows = []
    for r, reply in zip(records, tool_replies(records), strict=True):
        row = swift_example(r.to_dict(), str, with_response=False)
        row["messages"].append({"role": "assistant", "content": reply})
        rows.append({"response": reply, "labels": None if rl else reference_response(r), "logprobs": None,
                     **row})
    return rows


def write_rows(path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def expected_accuracy(records: list[TaskRecord]) -> float:
    return sum(k % 2 == 0 for k in range(len(records))) / len(records)


@pytest.mark.parametrize("rows", [
    lambda records: llamafactory_rows(records),
    lambda records: llamafactory_rows(records, end="<|im_end|><|endoftext|><|endoftext|>"),
    lambda records: swift_rows(records),
    lambda records: swift_rows(records, rl=True),
], ids=["llamafactory", "llamafactory-special-tokens", "swift", "swift-rl"])
def test_a_tool_s_predictions_without_ids_are_scored_line_by_line(rows, dataset, tmp_path, scripts, capsys):
    # Both were refused ("expected {"id": ..., "response": ...}"): the README left the user to put the ids in.
    records = load_records(dataset[1])
    path = tmp_path / "generated_predictions.jsonl"
    write_rows(path, rows(records))
    assert scripts.score_predictions.main([str(dataset[1]), str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["missing_ids"] == 0 and result["unknown_ids"] == 0
    assert result["results"][0]["overall"]["accuracy"] == pytest.approx(expected_accuracy(records))


@pytest.mark.parametrize("change", [lambda rows: rows[:-1], lambda rows: rows + rows],
                         ids=["max_samples", "written-twice"])
def test_rows_without_ids_are_refused_unless_one_answers_each_record(change, dataset, tmp_path, scripts,
                                                                     capsys):
    records = load_records(dataset[1])
    rows = change(llamafactory_rows(records))
    path = tmp_path / "generated_predictions.jsonl"
    write_rows(path, rows)
    assert scripts.score_predictions.main([str(dataset[1]), str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{len(rows)} LLaMA-Factory rows and the split {len(records)} records" in err
    assert "only when the counts are equal" in err
    assert "give the split the file was generated from (<split>.jsonl for llamafactory/<split>.json" in err


def test_rows_without_ids_out_of_the_split_s_order_are_refused_by_their_labels(dataset, tmp_path, scripts,
                                                                              capsys):
    # A shuffled file (LLaMA-Factory's --streaming) or another split's of the same size scored each reply
    # against another record's answer.
    records = load_records(dataset[1])
    path = tmp_path / "result.jsonl"
    other = "<think>\nanother split's\n</think>\n<answer>9</answer>"  # no record's of this split
    write_rows(path, [{**row, "labels": other} for row in swift_rows(records)])
    assert scripts.score_predictions.main([str(dataset[1]), str(path)]) == 2
    err = capsys.readouterr().err
    assert "its label is not the right answer to line" in err
    assert "give the split the file was generated from" in err  # the likelier fix than generating again


@pytest.mark.parametrize("rows", [llamafactory_rows, swift_rows], ids=["llamafactory", "swift"])
def test_rows_without_ids_of_the_split_in_another_order_are_told_the_order_matters(rows, dataset, tmp_path,
                                                                                   scripts, capsys):
    # The split's own rows, reversed (LLaMA-Factory's --streaming shuffles): told "not the right answer to
    # line 1 ...: give the split the file was generated from", the file that it was generated from.
    records = load_records(dataset[1])
    path = tmp_path / "result.jsonl"
    write_rows(path, rows(records)[::-1])
    assert scripts.score_predictions.main([str(dataset[1]), str(path)]) == 2
    err = capsys.readouterr().err
    assert (f"line 1: its label is the right answer to line {len(records)} of the split ({records[-1].id}), "
            f"not to line 1 ({records[0].id}): rows without ids are matched to the split's records by line, "
            "so their order matters") in err
    assert "unshuffled (LLaMA-Factory without --streaming)" in err
    assert "give the split the file was generated from" not in err  # it was


def test_a_batch_output_is_scored_by_custom_id(dataset, tmp_path, scripts, capsys):
    # OpenAI's Batch API and `vllm run-batch` write rows in any order, each with its own "id" and the
    # request's custom_id: read as they were, every id was "not in the split".
    records = load_records(dataset[1])
    rows = [{"id": f"batch_req_{k}", "custom_id": r.id, "error": None,
             "response": {"status_code": 200, "request_id": f"req_{k}",
                          "body": {"object": "chat.completion", "choices": [
                              {"index": 0, "message": {"role": "assistant", "content": reply}}]}}}
            for k, (r, reply) in enumerate(zip(records, tool_replies(records), strict=True))][::-1]
    rows[0] = {**rows[0], "response": None, "error": {"code": "timeout", "message": "expired"}}
    rows[1]["response"] = {"status_code": 500, "request_id": "req", "body": {"error": {"message": "down"}}}
    path = tmp_path / "batch_output.jsonl"
    write_rows(path, rows)
    assert load_predictions(path)[records[-1].id] is None
    assert scripts.score_predictions.main([str(dataset[1]), str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["missing_examples"] == [records[-2].id, records[-1].id] and result["unknown_ids"] == 0
    right = sum(k % 2 == 0 for k in range(len(records) - 2))
    assert result["results"][0]["overall"]["accuracy"] == pytest.approx(right / len(records))


def test_rows_without_ids_read_without_the_split_name_what_to_pass(dataset, tmp_path):
    path = tmp_path / "generated_predictions.jsonl"
    write_rows(path, llamafactory_rows(load_records(dataset[1])))
    with pytest.raises(ScoringError, match=r"matched to the split's records by line: pass the split's "
                                           r"records \(load_records\) too"):
        load_predictions(path)


def test_rows_with_ids_and_rows_matched_by_line_are_not_mixed(dataset, tmp_path):
    records = load_records(dataset[1])
    path = tmp_path / "mixed.jsonl"
    write_rows(path, [{"id": records[0].id, "response": "x"}, *llamafactory_rows(records)[1:]])
    with pytest.raises(ScoringError, match="line 2: rows with ids mixed with LLaMA-Factory rows"):
        load_predictions(path, records)
    # the other way round: named by the first row with an id, read after the rows without
    write_rows(path, [*llamafactory_rows(records)[:2], {"id": records[2].id, "response": "x"}])
    with pytest.raises(ScoringError, match="line 3: rows with ids mixed with LLaMA-Factory rows"):
        load_predictions(path, records)


def test_own_rows_that_carry_a_custom_id_are_read_by_their_id(dataset, tmp_path):
    # A row of our shape with a custom_id beside (a request's, kept by the user's script) was read as a
    # Batch output row whenever its response was null or an object: keyed by the custom_id, its reply
    # dropped, so an answer scored as missing and a failed generation's id was "not in the split".
    records = load_records(dataset[1])
    reply = {"text": "<answer>1</answer>"}
    rows = [{"id": r.id, "custom_id": f"request-{k}", "response": None if k % 2 else reply}
            for k, r in enumerate(records)]
    path = tmp_path / "preds.jsonl"
    write_rows(path, rows)
    preds = load_predictions(path, records)
    assert list(preds) == [r.id for r in records]
    assert preds[records[0].id] == json.dumps(reply) and preds[records[1].id] is None


@pytest.mark.parametrize("rows", [
    lambda records: [{**row, "label": [row["label"]]} for row in llamafactory_rows(records)],
    lambda records: [{**row, "labels": 1} for row in swift_rows(records)],  # ms-swift's seq_cls labels
], ids=["llamafactory-list", "swift-int"])
def test_rows_without_ids_whose_labels_are_not_text_are_refused(rows, dataset, tmp_path):
    # A label that is no text was not checked at all: a shuffled file of them scored each reply against
    # another record's answer, without a word.
    records = load_records(dataset[1])
    path = tmp_path / "result.jsonl"
    write_rows(path, rows(records)[::-1])
    with pytest.raises(ScoringError, match=r"line 1: its reference label is of type (list|int), not an "):
        load_predictions(path, records)


def test_a_failed_batch_request_with_an_error_message_is_read_by_its_custom_id(dataset, tmp_path):
    # vLLM's BatchRequestOutput types error as any value: a text error with a null response is Batch's too.
    records = load_records(dataset[1])
    path = tmp_path / "batch_output.jsonl"
    write_rows(path, [{"id": "vllm-1", "custom_id": records[0].id, "response": None, "error": "too long"}])
    assert load_predictions(path, records) == {records[0].id: None}


@pytest.mark.parametrize("body", [{}, {"choices": []}, {"choices": None}],
                         ids=["no-choices", "empty", "null"])
def test_a_batch_row_answered_without_a_message_is_refused_by_line(body, dataset, tmp_path):
    records = load_records(dataset[1])
    path = tmp_path / "batch_output.jsonl"
    write_rows(path, [{"id": "b", "custom_id": records[0].id, "error": None,
                       "response": {"status_code": 200, "body": body}}])
    with pytest.raises(ScoringError, match=r"line 1: a Batch output row without "
                                           r"response\.body\.choices\[0\]\.message\.content"):
        load_predictions(path, records)


def test_every_label_of_rows_without_ids_is_checked_and_their_replies_read_as_ours(dataset, tmp_path):
    records = load_records(dataset[1])
    path = tmp_path / "result.jsonl"
    rows = swift_rows(records)
    write_rows(path, [*rows[:-2], rows[-1], rows[-2]])  # only the last two swapped: the first rows match
    # the split's line and record it was checked against are named: the last but one, and the one it answers
    message = (rf"line {len(rows) - 1}: its label is the right answer to line {len(rows)} of the split "
               rf"\({records[-1].id}\), not to line {len(rows) - 1} \({records[-2].id}\)")
    with pytest.raises(ScoringError, match=message):
        load_predictions(path, records)
    write_rows(path, [{**rows[0], "labels": ""}, *rows[1:]])  # a label written empty is no answer either
    with pytest.raises(ScoringError, match="line 1: its label is not the right answer"):
        load_predictions(path, records)
    reply = {"text": "<answer>1</answer>"}  # a reply that is no text: JSON text, as a row with an id's
    write_rows(path, [{**rows[0], "response": reply}, *rows[1:]])
    assert load_predictions(path, records)[records[0].id] == json.dumps(reply)


def test_the_fatal_moves_note_is_printed_where_some_of_the_specialist_s_questions_are_n_a(scripts, capsys,
                                                                                       monkeypatch):
    # Hand mutation pass: the note printed only where every cell was n/a, or where the overall one was,
    # passed; but a Snake split mixing bare-move questions with full answers that list the fatal moves has
    # a figure overall (the questions it applies to) and n/a only in the full answers' own level.
    def cell(acc: float | None) -> dict:
        return {"n": 2, "answered": 2, "missing": 0, "accuracy": acc, "format": None, "format_errors": 0,
                "move_questions": 2, "move_accuracy": 0.5}

    def result(name: str, acc: float | None) -> dict:
        return {"name": name, "overall": cell(0.5), "by_game": {"snake": cell(0.5)},
                "by_plot_level": {"1": cell(0.5)}, "by_qa_level": {"1": cell(0.5), "3": cell(acc)}}

    results = [result("preds", 0.5), result("specialist", None), result("preds", 0.5)]
    _scored_beside_a_stub_specialist(scripts, monkeypatch, 4, results)
    assert "fatal moves (Snake) is n/a" in capsys.readouterr().out


def test_a_record_line_that_is_no_object_or_lacks_extra_beside_another_key_is_named_in_our_words():
    # Every JSON kind is named as JSON names it: true read as "a JSON null" had the boolean mapping been lost.
    # extra has a default: a record without it and without verifier lacks verifier alone.
    good = TaskRecord("r0", "snake", "perception", "count", 1, 1, [], "How many?", None, "4", "",
                      {"rule": "integer", "value": 4}, {}, {}).to_dict()
    for line, problem in ((True, "a JSON boolean"), (3, "a JSON number"), (2.5, "a JSON number"),
                          (None, "a JSON null")):
        with pytest.raises(ValueError, match=rf"^{problem}, not an object$"):
            TaskRecord.from_dict(line)
    with pytest.raises(ValueError, match=r"^no 'verifier'$"):
        TaskRecord.from_dict({k: v for k, v in good.items() if k not in ("verifier", "extra")})


def test_a_recurrent_specialist_s_bar_counts_every_question_it_answers(recurrent_dataset, scripts, capsys,
                                                                       monkeypatch):
    # Hand mutation pass on remembered_predictions: counting no question it answered (the bar stuck at 0 of
    # n) passed every test, which looked for the bar's total alone.
    import tqdm

    counts: dict[str, tuple[float, float]] = {}

    class Counted(tqdm.tqdm):  # what each bar counted when it closed
        def close(self) -> None:
            if not self.disable:
                counts[self.desc] = (self.n, self.total)
            super().close()

    monkeypatch.setattr(tqdm, "tqdm", Counted)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # capsys's stands in for a terminal
    run, memory, split = recurrent_dataset
    records = load_records(split)
    preds = split.parent / "preds.jsonl"
    reference_predictions(records, preds)
    flags = ["--specialist", str(run), "--checkpoint", str(memory)]
    assert scripts.score_predictions.main([str(split), str(preds), *flags]) == 0
    n = sum(map(is_move_question, records))
    assert counts["specialist"] == (n, n)
    # Those whose episode the store lacks are answered from a blank memory, and counted there.
    moves = [k for k, r in enumerate(records) if is_move_question(r) and r.source["step"] > 0]
    records[moves[0]] = TaskRecord.from_dict({**records[moves[0]].to_dict(),
                                              "source": {**records[moves[0]].source, "episode": 999}})
    mixed = split.parent / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    assert scripts.score_predictions.main([str(mixed), str(preds), *flags]) == 0
    assert counts["specialist"] == (n, n)
