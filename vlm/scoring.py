"""Score any model's answers on an exported split with the project's verifiers (``vlm.verify.verify``).

Inputs: the split, JSONL with one ``TaskRecord.to_dict()`` per line (as ``vlm/export.py`` writes it),
and the predictions, JSONL ``{"id": ..., "response": ...}`` or a tool's own predictions file
(``load_predictions``). Every record counts: a record without a
prediction, or whose response is null (a failed generation), is a missing id and scores 0; a prediction
whose id is not in the split is reported and ignored. Figures per game, family, question type and
GameQA level (plot level, question level): accuracy, format (the ``<think>…</think><answer>…</answer>``
shape), format errors, missing ids.

Move questions (the ``move_task`` of each game: rule ``word`` or ViGaL's ``snake_best_worst``) also get a
**move accuracy**: whether the single move the reply names (``vlm.verify.parse_move``) is one the engine
accepts (``accepted`` / ``good``; questions whose state has no good move are left out). That is the
figure on which a specialist can be compared, because its greedy action is a move and nothing more:
``specialist_predictions`` answers the move questions with the run's greedy action in the tag the
question asks for, and it is scored by the same verifier. On ViGaL's Snake rule the full accuracy also
asks for the exact set of fatal moves, which a policy does not state, so the specialist's full
accuracy there is shown as not applicable and its move accuracy is the comparison.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.config import file_kind
from vlm.record import ID_TAG_CHARS, TaskRecord
from vlm.tasks import (
    MOVE_RULES,
    TASK_MODULES,
    TaskModuleError,
    check_move_task,
    listed,
    missing_module,
    module_place,
    raised_problem,
    task_module,
)
from vlm.verify import parse_move, reference_response, spec_of, spec_problem, verify

FULL_RULE_NEEDS_MORE_THAN_A_MOVE = ("snake_best_worst",)


class ScoringError(ValueError):
    """A split or predictions file that cannot be read (the message names the file and line)."""


# ---------------------------------------------------------------------- reading
def _jsonl(path: Path, what: str) -> Iterable[tuple[int, Any]]:
    try:
        yield from _jsonl_rows(path, what)
    except OSError as e:  # unreadable: no permission, an I/O error (/proc/self/mem), a name too long
        raise ScoringError(f"{what} {path}: cannot be read ({e.strerror or e})") from None


def _jsonl_rows(path: Path, what: str) -> Iterable[tuple[int, Any]]:
    if path.is_dir():
        # An export's split, or LLaMA-Factory's predictions in its --output_dir (no file name to guess else)
        example = path / ("test.jsonl" if what == "split" else "generated_predictions.jsonl")
        raise ScoringError(f"{what} {path} is a folder; give its JSONL file"
                           + (f" (e.g. {example})" if what == "split" or example.is_file() else ""))
    if not path.is_file() and not path.is_fifo():  # a pipe (bash's <(...)) is read once, as a file is
        kind = file_kind(path)  # a device: /dev/zero has no line end to stop a read at
        raise ScoringError(f"{what} {path} is {kind}, not a file" if kind else f"{what} {path}: no such file")
    # A model's reply may hold a stray non-UTF-8 byte: it becomes U+FFFD and the reply is scored as it is.
    # A split is this project's own UTF-8, so an undecodable one (e.g. a parquet file) is an error, named
    # by the line that holds the byte (each line is decoded on its own: a text file decodes ahead of the
    # line it yields, so counting the lines read before the error names an earlier one).
    errors = "replace" if what == "predictions" else "strict"
    with open(path, "rb") as f:
        n, text_seen = 0, False
        for raw in f:
            for piece in raw.splitlines():  # \n, \r\n and a lone \r end a line, as in a text file
                n += 1
                if n == 1:  # a byte order mark at the start (Windows tools write one) is not text
                    piece = piece.removeprefix(codecs.BOM_UTF8)
                if not text_seen and _wide_text(piece, first=n == 1):
                    raise ScoringError(f"{what} {path}: UTF-16 or UTF-32 text; save it as UTF-8 (JSON "
                                       "Lines files are UTF-8)")
                try:
                    line = piece.decode("utf-8", errors)
                except UnicodeDecodeError as e:
                    raise ScoringError(f"{what} {path} line {n}: not UTF-8 text (byte {e.start + 1} of the "
                                       "line; is it a JSONL file?)") from None
                if not line.strip():
                    continue
                text_seen = True
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise ScoringError(f"{what} {path} line {n}: not JSON ({e})") from None
                except RecursionError:  # "[" nested past json's depth: no row of ours either
                    raise ScoringError(f"{what} {path} line {n}: not JSON (nested too deeply)") from None
                yield n, row


def _wide_text(piece: bytes, first: bool) -> bool:
    """Whether a line before the first with text is UTF-16 or UTF-32, cut at its newline's 0A byte."""
    # With its BOM (PowerShell 5's `>` writes it): else read as "not JSON" replies. UTF-32 LE's BOM starts
    # with UTF-16 LE's; UTF-32 BE's (00 00 FE FF) needs its own. Without a BOM, a line's opening brace
    # beside NUL bytes tells it (not a parquet's or an MP4's NULs), and so does a blank line's residue of
    # NULs (a big-endian newline's): else "line 1: not JSON".
    boms = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE) if first else ()
    return piece.startswith((*boms, b"{\0", b"\0{", b"\0\0\0{")) or (piece != b"" and not piece.strip(b"\0"))


def load_records(path: Path | str) -> list[TaskRecord]:
    """The task records of an exported split (JSONL of ``TaskRecord.to_dict()``)."""
    path = Path(path)
    try:
        return _load_records(path)
    except ScoringError:
        # A trainer file that is not there is only missing (its split was not exported): "no such file".
        own = _export_split(path) if path.exists() else None
        if own is None:
            raise
        kind = "export" if (own.parent / "trajectories" / "meta.json").is_file() else "merged folder"
        raise ScoringError(f"split {path} is a trainer format's file or folder of the {kind} {own.parent}, "
                           f"not its task records: give the {kind}'s split, {own}") from None


def _export_split(path: Path) -> Path | None:
    """The export's (or merged folder's) own split file where ``path`` is in one of its trainer formats'
    folders (llamafactory/test.json, swift/test_rl.jsonl, verl/val.parquet, trl/, trl/validation/): those
    hold the trainer's layout, which names no verifier; the file's split, else test. None elsewhere."""
    from vlm.formats import FORMATS, HF_SPLIT  # pyarrow: only on this error's path

    splits = {**{hf: ours for ours, hf in HF_SPLIT.items()}, **{ours: ours for ours in HF_SPLIT}}
    name = path.name.split(".")[0].removesuffix("_rl")
    # A merged folder's LLaMA-Factory file is named by its entry: depthfirst_<game>_<split>[_<export>]
    words = [name, *name.split("_")[1:]] if name.startswith("depthfirst_") else [name]
    split = next((splits[word] for word in words if word in splits), "test")
    for root in (path.parent, path.parent.parent):
        top = path.relative_to(root).parts[:1]  # none for / itself
        if top and top[0] in FORMATS and ((root / "trajectories" / "meta.json").is_file() or _merged(root)):
            own = root / f"{split}.jsonl"
            return own if own.is_file() else None
    return None


def _merged(root: Path) -> bool:
    """Whether ``root`` is a folder merge_exports.py wrote (its card says so): it has no meta.json."""
    from vlm.merge import MERGED_BY

    try:
        return MERGED_BY in (root / "README.md").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return False


def _load_records(path: Path) -> list[TaskRecord]:
    records: list[TaskRecord] = []
    seen: dict[str, int] = {}  # id -> its line
    for n, row in _jsonl(path, "split"):
        try:
            record = TaskRecord.from_dict(row)
        except ValueError as e:  # a model's predictions given first: named, as the other way round is
            raise ScoringError(f"split {path} line {n}: not a task record; it is a predictions row: give the "
                               "split first, then the model's predictions" if _is_prediction(row, path, n)
                               else f"split {path} line {n}: not a task record ({e})") from None
        # Keys of the figures' groups and of the predictions: a number or list there was a TypeError
        # traceback (sorting the groups, hashing the id), or an id the predictions' strings never match.
        odd = next((k for k in ("id", "game", "family", "qa_type")
                    if not isinstance(getattr(record, k), str)), None)
        if odd is not None:
            raise ScoringError(f"split {path} line {n}: not a task record (its {odd} is "
                               f"{getattr(record, odd)!r}, not a string)")
        problem = spec_problem(record.verifier)
        if problem:
            raise ScoringError(f"split {path} line {n}: record {record.id!r}: {problem}")
        if record.id in seen:
            # An id is a digest of the question: twice, most likely splits put together (README's "Several
            # games in one dataset") from two exports that share it.
            raise ScoringError(f"split {path} line {n}: id {record.id!r} appears twice (first on line "
                               f"{seen[record.id]}); an id is one question, asked twice where splits of "
                               "exports made from the same seeds were put together: keep each id once, or "
                               "export the second with another --seed")
        seen[record.id] = n
        records.append(record)
    if not records:
        # An export of too few episodes writes its val and test empty (a note said so then).
        raise ScoringError(f"split {path} holds no task record: give a split with records (an export leaves "
                           "val and test empty when it played too few --episodes to give them an episode)")
    return records


def load_predictions(path: Path | str, records: list[TaskRecord] | None = None) -> dict[str, str | None]:
    """``{id: response}`` from a predictions file; an id twice is an error. A null response stays None: it
    counts as missing, not as a wrong answer. Rows are read as their producer writes them (``_row_reply``):
    ``{"id", "response"}``, an OpenAI / vLLM Batch output (``custom_id``), or a LLaMA-Factory or ms-swift
    predictions file, whose rows carry no id and are matched to ``records`` (the split) line by line."""
    path = Path(path)
    out: dict[str, str | None] = {}
    lines: dict[str, int] = {}  # each id's line, for an id given twice
    by_line: list[tuple[int, str, Any, Any]] = []  # (line, producer, response, reference label)
    for n, row in _jsonl(path, "predictions"):
        producer, key, response, label = _row_reply(row, path, n)
        if key is None:
            by_line.append((n, producer, response, label))
            continue
        if by_line:
            raise _mixed(path, n, by_line[0][1])
        if key in out:
            raise ScoringError(f"predictions {path} line {n}: id {key!r} appears twice (first on line "
                               f"{lines[key]})")
        out[key], lines[key] = _reply_text(response), n
    if by_line:
        if out:
            raise _mixed(path, by_line[0][0], by_line[0][1])
        out = _match_lines(path, by_line, records)
    return out


def _row_reply(row: Any, path: Path, n: int) -> tuple[str, str | None, Any, Any]:
    """(producer, id or None where the row is matched by line, reply, reference label) of one row. Rows
    without ids, read from the producers' own code: LLaMA-Factory's generated_predictions.jsonl (do_predict
    and scripts/vllm_infer.py: {"prompt", "predict", "label"}) and ms-swift's ``swift infer --result_path``
    ({"response", "labels", "messages", ...}), both in the dataset's order."""
    # Before "id": a Batch row holds one (the batch's own).
    if isinstance(row, dict) and _is_batch_row(row):
        return "Batch", str(row["custom_id"]), _batch_reply(row, path, n), None
    if isinstance(row, dict) and "id" in row and "response" in row:
        return "ours", str(row["id"]), row["response"], None
    if isinstance(row, dict) and "predict" in row and "prompt" in row:
        return "LLaMA-Factory", None, row["predict"], row.get("label")
    if isinstance(row, dict) and "response" in row and "messages" in row:
        return "ms-swift", None, row["response"], row.get("labels")
    hint = ("; it is a task record (it has a verifier): give the split first, then the model's predictions"
            if isinstance(row, dict) and "verifier" in row else
            ", an OpenAI or vLLM Batch output row, or a LLaMA-Factory or ms-swift predictions row")
    raise ScoringError(f"predictions {path} line {n}: expected {{\"id\": ..., \"response\": ...}}{hint}")


def _is_prediction(row: Any, path: Path, n: int) -> bool:
    """Whether ``row`` is a row of predictions that ``load_predictions`` reads."""
    try:
        _row_reply(row, path, n)
    except ScoringError:
        return False
    return True


def _is_batch_row(row: dict[str, Any]) -> bool:
    """Whether ``row`` is an OpenAI / ``vllm run-batch`` output row: a ``custom_id`` and the response object
    (``status_code``, ``body``) or, for a failed request, a null response beside an ``error``. A
    ``custom_id`` alone is not enough: a row of ours may keep its request's beside ``id``, with a null
    (failed) or object response of its own, and was read by the ``custom_id``, its reply dropped."""
    response = row.get("response", "")
    answered = isinstance(response, dict) and "status_code" in response
    failed = response is None and row.get("error") is not None  # OpenAI's an object, vLLM's any value
    return "custom_id" in row and (answered or failed)


def _batch_reply(row: dict[str, Any], path: Path, n: int) -> Any:
    """The reply of an OpenAI / ``vllm run-batch`` output row (a chat completion); None for a failed
    request (its ``error``, or a non-200 status), which counts as missing as a null response does."""
    response = row["response"]
    if not isinstance(response, dict) or response.get("status_code") != 200:
        return None
    try:
        return response["body"]["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ScoringError(f"predictions {path} line {n}: a Batch output row without "
                           "response.body.choices[0].message.content; give the output of a "
                           "/v1/chat/completions batch") from None


def _reply_text(response: Any) -> str | None:
    # null is what a generation script writes when generation failed: scored as no reply (missing,
    # 0 accuracy), so the table counts it with the missing ids instead of as a format error.
    return response if response is None or isinstance(response, str) else json.dumps(response)


def _mixed(path: Path, n: int, producer: str) -> ScoringError:
    return ScoringError(f"predictions {path} line {n}: rows with ids mixed with {producer} rows, which are "
                        "matched to the split by line; give one producer's file")


# The commonest cause of a file without ids that does not match the split: it answers another split.
_SAME_SPLIT = ("give the split the file was generated from (<split>.jsonl for llamafactory/<split>.json or "
              "swift/<split>[_rl].jsonl, of the same export)")


def _match_lines(path: Path, rows: list[tuple[int, str, Any, Any]],
                 records: list[TaskRecord] | None) -> dict[str, str | None]:
    """Row k of a file without ids answers record k of the split, only where the counts are equal and
    every row's reference label (when the producer wrote one) is text and its record's right answer: a
    file cut short (max_samples), appended to twice, shuffled or made on another split would score wrong
    replies."""
    producer = rows[0][1]
    if records is None:
        raise ScoringError(f"predictions {path}: {producer} rows carry no id; they are matched to the "
                           "split's records by line: pass the split's records (load_records) too")
    if len(rows) != len(records):
        raise ScoringError(
            f"predictions {path} holds {len(rows)} {producer} rows and the split {len(records)} records: "
            f"rows without ids are matched to records by line only when the counts are equal; {_SAME_SPLIT}, "
            "or generate over the whole split, once (no max_samples / val_dataset_sample; a --result_path "
            "written twice holds both runs)")
    for k, ((n, _, _, label), record) in enumerate(zip(rows, records, strict=True)):
        if label is None:  # none written (ms-swift on a *_rl.jsonl file): the counts alone match them
            continue
        if not isinstance(label, str):  # e.g. ms-swift's class labels (task_type seq_cls): nothing to verify
            raise ScoringError(
                f"predictions {path} line {n}: its reference label is of type {type(label).__name__}, not an "
                "answer's text, so its rows cannot be checked against the split's order: give the "
                f"{producer} file of a generation over this split's file of the same export")
        if verify(label, record)["accuracy"] < 1:
            # The split's own rows in another order: "give the split it was generated from" would send the
            # user looking for another file, where the order is what to fix.
            j = next((j for j, other in enumerate(records)
                      if label.strip().startswith(reference_response(other))), None)
            if j is not None:
                raise ScoringError(
                    f"predictions {path} line {n}: its label is the right answer to line {j + 1} of the "
                    f"split ({records[j].id}), not to line {k + 1} ({record.id}): rows without ids are "
                    "matched to the split's records by line, so their order matters: generate over the split "
                    "unshuffled (LLaMA-Factory without --streaming) and leave the file's rows in the order "
                    "written")
            raise ScoringError(
                f"predictions {path} line {n}: its label is not the right answer to line {k + 1} of the "
                f"split ({record.id}), so its rows are not in the split's order: {_SAME_SPLIT}, or generate "
                "over it unshuffled (LLaMA-Factory without --streaming), with a cutoff_len that keeps the "
                "whole answer")
    return {record.id: _reply_text(reply) for (_, _, reply, _), record in zip(rows, records, strict=True)}


# ---------------------------------------------------------------------- scoring
def is_move_question(record: Any) -> bool:
    """Whether ``record`` is its game's move question (the one the VLM player asks)."""
    if spec_of(record).get("rule") not in MOVE_RULES:
        return False
    state = record.extra.get("state") if isinstance(record.extra, dict) else None
    return record.qa_type == move_qa_type(record.game, state)


_MOVE_QA_TYPES: dict[str, str | None] = {}
_ASK_ERRORS = (ImportError, ValueError, TypeError, KeyError, IndexError, OSError)


def move_qa_type(game: str, state: dict[str, Any] | None = None) -> str | None:
    """The ``qa_type`` of ``game``'s move question, asked of its task module once: on ``state`` (a
    running position from the split) or else on a fresh board; None for a game without one. A package's
    move_task that raises is a TaskModuleError naming its line: taken for "none", its move questions were
    scored as any other question without a word (or its traceback read as this project's)."""
    if game in _MOVE_QA_TYPES:
        return _MOVE_QA_TYPES[game]
    try:
        module = task_module(game)
    except _ASK_ERRORS:
        _MOVE_QA_TYPES[game] = None
        return None
    if not isinstance(state, dict) or state.get("done"):
        try:
            from envs import make_game

            # A Game Boy game needs its ROM: then wait for a state from the split. Closed, as
            # specialist_predictions' games: a Game Boy game's emulators run until then.
            with contextlib.closing(make_game(game, 1)) as g:
                g.reset(np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.uint64))
                state = g.get_state(0)
        except _ASK_ERRORS:
            return None
    try:
        draft = module.move_task(state)
    except Exception as e:
        if (problem := raised_problem(game, e)) is not None:  # a package's: its line, not a traceback
            raise TaskModuleError(f"{module_place(game)} move_task raised {problem}") from e
        if not isinstance(e, _ASK_ERRORS):
            raise
        return None
    _MOVE_QA_TYPES[game] = draft.qa_type
    return draft.qa_type


def good_moves(record: Any) -> list[str] | None:
    """The moves the engine accepts for a move question (None if it is not one or none is good)."""
    spec = spec_of(record)
    moves = spec.get("accepted") if spec.get("rule") == "word" else spec.get("good")
    return list(moves) if moves else None


@dataclass
class Cell:
    """Running totals for one group of records."""

    n: int = 0
    answered: int = 0
    accuracy: float = 0.0
    accuracy_n: int = 0  # records whose full accuracy applies to this model
    format: float = 0.0
    format_n: int = 0  # records whose format applies (a policy's bare move has no format to check)
    format_errors: int = 0  # answered, but not in the asked shape
    move_n: int = 0
    move_correct: float = 0.0

    def add(self, result: dict[str, Any]) -> None:
        self.n += 1
        self.answered += result["answered"]
        if result["accuracy"] is not None:
            self.accuracy_n += 1
            self.accuracy += result["accuracy"]
        if result["format"] is not None:
            self.format_n += 1
            self.format += result["format"]
            self.format_errors += result["answered"] and result["format"] < 1
        if result["move"] is not None:
            self.move_n += 1
            self.move_correct += result["move"]

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "answered": self.answered, "missing": self.n - self.answered,
                "accuracy": self.accuracy / self.accuracy_n if self.accuracy_n else None,
                "format": self.format / self.format_n if self.format_n else None,
                "format_errors": self.format_errors if self.format_n else None,
                "move_questions": self.move_n,
                "move_accuracy": self.move_correct / self.move_n if self.move_n else None}


@dataclass
class Scores:
    """One model's figures on a split: overall and grouped."""

    name: str
    overall: Cell = field(default_factory=Cell)
    groups: dict[str, dict[str, Cell]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Cell)))

    def add(self, record: TaskRecord, result: dict[str, Any]) -> None:
        self.overall.add(result)
        for by, key in (("game", record.game), ("family", record.family), ("qa_type", record.qa_type),
                        ("plot_level", str(record.plot_level)), ("qa_level", str(record.qa_level))):
            self.groups[by][key].add(result)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "overall": self.overall.as_dict(),
                **{f"by_{by}": {k: c.as_dict() for k, c in sorted(cells.items())}
                   for by, cells in self.groups.items()}}


def score_one(record: TaskRecord, response: str | None, move_only: bool = False) -> dict[str, Any]:
    """Verifier figures of one reply (``None``: missing). ``move_only``: the reply is a bare move (a
    policy's), so a full rule that needs more than the move is not applicable."""
    rule = spec_of(record).get("rule")
    good = good_moves(record) if is_move_question(record) else None
    if response is None:
        return {"answered": False, "accuracy": 0.0, "format": None if move_only else 0.0,
                "move": 0.0 if good else None}
    v = verify(response, record)
    accuracy: float | None = v["accuracy"]
    if move_only and rule in FULL_RULE_NEEDS_MORE_THAN_A_MOVE:
        accuracy = None
    move = None
    if good:
        named = parse_move(response, record)
        move = float(named is not None and named in good)
    return {"answered": True, "accuracy": accuracy, "format": None if move_only else v["format"],
            "move": move}


def score_predictions(records: list[TaskRecord], predictions: dict[str, str | None],
                      name: str = "predictions",
                      move_only: bool = False, only: set[str] | None = None) -> Scores:
    """Score ``predictions`` on ``records`` (or on the ids in ``only``)."""
    scores = Scores(name)
    for record in records:
        if only is not None and record.id not in only:
            continue
        scores.add(record, score_one(record, predictions.get(record.id), move_only))
    return scores


# The specialist's progress: questions answered and steps played since the last call (EpisodeProgress).
Progress = Callable[[int, int], None]


# ---------------------------------------------------------------------- the specialist's answers
def move_reply(move: str, record: Any) -> str:
    """A bare move in the tag the question asks for (what a policy can say)."""
    tag = "best_answer" if spec_of(record).get("rule") == "snake_best_worst" else "answer"
    return f"<{tag}>{move}</{tag}>"


def record_state(record: TaskRecord, root: Path | None = None) -> dict[str, Any]:
    """The game state a record asks about: ``extra["state"]``, else the trajectory store's row for its
    source episode and step (``root``: the dataset folder)."""
    state = record.extra.get("state") if isinstance(record.extra, dict) else None
    if isinstance(state, dict):
        return state
    from vlm.trajectories import TRAJ_DIR  # here, not on top: it imports pyarrow and the games

    src = record.source or {}
    if root is not None and (root / TRAJ_DIR / "steps").is_dir() and "episode" in src and "step" in src:
        return _trajectory_state(root, int(src["episode"]), int(src["step"]))
    raise ScoringError(f"record {record.id}: no game state (extra['state']) to show the specialist")


_STEP_CACHE: dict[Path, dict[tuple[int, int], str]] = {}


def _trajectory_state(root: Path, episode: int, step: int) -> dict[str, Any]:
    if root not in _STEP_CACHE:
        import pyarrow.parquet as pq

        from vlm.trajectories import TRAJ_DIR

        table = pq.read_table(root / TRAJ_DIR / "steps", columns=["episode", "t", "state"])
        cols = table.to_pydict()
        _STEP_CACHE[root] = {(e, t): s for e, t, s in zip(cols["episode"], cols["t"], cols["state"],
                                                          strict=True)}
    key = (episode, step)
    if key not in _STEP_CACHE[root]:
        raise ScoringError(f"{root}/trajectories has no step {step} of episode {episode}")
    return json.loads(_STEP_CACHE[root][key])


def specialist_predictions(questions: list[TaskRecord], model: Any, env: str, env_kwargs: dict[str, Any],
                           root: Path | None = None, batch: int = 256, blank: list[str] | None = None,
                           progress: Progress | None = None) -> dict[str, str]:
    """The specialist's greedy move on each of ``questions`` (move questions of ``env``), as replies. A
    recurrent model answers with the memory of the question's episode where the trajectory store under
    ``root`` rebuilds it (``remembered_predictions``), else from a blank memory: the ids of those past an
    episode's first step go in ``blank``. ``progress(answered, steps)``: questions answered and steps played
    (on all boards) since its last call, as ``EpisodeProgress`` counts them."""
    from agents.evaluation import Actor
    from envs import make_game

    recurrent = hasattr(model.policy, "lstm_actor")
    out = (remembered_predictions(questions, model, env, env_kwargs, root, batch, progress)
           if recurrent and root else {})
    rest = [r for r in questions if r.id not in out]
    if recurrent and blank is not None:  # play answers an episode's first state from a blank memory too
        blank.extend(r.id for r in rest if not (isinstance(r.source, dict) and r.source.get("step") == 0))
    for start in range(0, len(rest), batch):
        chunk = rest[start:start + batch]
        states = [record_state(r, root) for r in chunk]
        # Closed however it ends, as run_episodes' games: a Game Boy game's emulators run until then.
        with contextlib.closing(make_game(env, len(chunk), **env_kwargs)) as game:
            for i, state in enumerate(states):
                game.set_state(i, state)
            obs = game.new_obs_buffer()
            game.observe(obs)
        # The argmax, as evaluation plays it; a fresh Actor: a recurrent policy starts from a blank memory.
        actions = Actor(model, len(chunk))(obs)
        for r, state, a in zip(chunk, states, actions, strict=True):
            out[r.id] = move_reply(played_move(env, state, game.ACTION_NAMES[int(a)]), r)
        if progress is not None:
            progress(len(chunk), 0)
    return {r.id: out[r.id] for r in questions}


def _played_actions(steps: Path, wanted: Collection[tuple[int, int]]
                    ) -> dict[tuple[int, int], dict[int, int]]:
    """(episode, seed) -> {t: action} of the ``wanted`` episodes in the store's ``steps`` folder. Only their
    rows are read (a filter on the episode column, which skips the row groups of other episodes): the whole
    store's columns as Python lists took seconds and hundreds of MB for a store of millions of steps."""
    import pyarrow.parquet as pq

    # An episode index outside the int32 column (another exporter's record) is in no store: kept out of the
    # filter, whose values are compared as the column's type.
    episodes = sorted({e for e, _ in wanted if -(2**31) <= e < 2**31})
    played: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    if not episodes:
        return played
    cols = pq.read_table(steps, columns=["episode", "seed", "t", "action"],
                         filters=[("episode", "in", episodes)]).to_pydict()
    for e, seed, t, a in zip(cols["episode"], cols["seed"], cols["t"], cols["action"], strict=True):
        if (e, seed) in wanted:
            played[(e, seed)][t] = a
    return played


def remembered_predictions(questions: list[TaskRecord], model: Any, env: str, env_kwargs: dict[str, Any],
                           root: Path, batch: int = 256, progress: Progress | None = None) -> dict[str, str]:
    """A recurrent ``model``'s replies to those of ``questions`` whose episode the trajectory store under
    ``root`` holds up to the question's step: the episode is replayed from its seed and recorded actions,
    its observations fed to the policy from the first, as its play fed them, so the LSTM state at the
    question's step is the one play carries there. A question whose replayed state is not its own (a split
    beside another export's store, a game of other settings) is left out, as is one the store lacks.
    ``progress``: as ``specialist_predictions``' (a replay to a Game Boy question's step takes minutes)."""
    from agents.evaluation import Actor
    from agents.outputs import json_object_or_none
    from envs import make_game
    from vlm.trajectories import TRAJ_DIR, state_json

    # Another game's store (a split of two games' test files) holds actions this game may not have.
    store = root / TRAJ_DIR
    if not (store / "steps").is_dir() or (json_object_or_none(store / "meta.json") or {}).get("env") != env:
        return {}
    # (episode, seed) -> its (step, question) pairs
    wanted: dict[tuple[int, int], list[tuple[int, TaskRecord]]] = defaultdict(list)
    for r in questions:
        src = r.source if isinstance(r.source, dict) else {}
        try:
            wanted[(int(src["episode"]), int(src["seed"]))].append((int(src["step"]), r))
        except (KeyError, TypeError, ValueError):  # another exporter's record: no episode to replay
            continue
    played = _played_actions(store / "steps", wanted)
    asked: dict[tuple[int, int], list[tuple[int, TaskRecord]]] = {}  # those whose earlier actions it holds
    for key in played:
        asked[key] = [(step, r) for step, r in wanted[key] if all(t in played[key] for t in range(step))]
    out: dict[str, str] = {}
    episodes = [key for key, pairs in asked.items() if pairs]
    for start in range(0, len(episodes), batch):
        chunk = episodes[start:start + batch]
        at: dict[int, list[tuple[int, TaskRecord]]] = defaultdict(list)  # step -> (board, question) pairs
        for i, key in enumerate(chunk):
            for step, r in asked[key]:
                at[step].append((i, r))
        with contextlib.closing(make_game(env, len(chunk), **env_kwargs)) as game:
            game.reset(np.arange(len(chunk)), np.array([seed for _, seed in chunk], dtype=np.uint64))
            obs = game.new_obs_buffer()
            actor = Actor(model, len(chunk))  # carries each board's LSTM state from its first step
            last = max(at)
            # The boards' recorded actions, one row a step (0 past a board's own: no question left there)
            moves = np.zeros((last, len(chunk)), dtype=np.int64)
            for i, key in enumerate(chunk):
                for t, a in played[key].items():
                    if t < last:
                        moves[t, i] = a
            for t in range(last + 1):
                game.observe(obs)
                actions = actor(obs)
                answered = len(out)
                for i, r in at.get(t, []):
                    state = record_state(r, root)
                    if json.loads(state_json(game.get_state(i))) == state:
                        out[r.id] = move_reply(played_move(env, state, game.ACTION_NAMES[int(actions[i])]), r)
                if t < last:
                    game.step(moves[t])
                if progress is not None:  # those left out are counted where they are answered, later
                    progress(len(out) - answered, len(chunk) if t < last else 0)
    return out


def played_move(env: str, state: dict[str, Any], action: str) -> str:
    """The move the engine plays for a policy's ``action``: in the Snake games a reverse into the neck goes
    straight on. A policy has no reason to prefer the straight action to the reverse one (they move alike),
    and the questions never accept the reverse as best, so the raw action scored its straight move wrong."""
    from agents.vlm_player import fallback_move, legal_moves

    return action if action in legal_moves(env, state) else fallback_move(env, state)


def check_board_size(questions: list[TaskRecord], env: str, env_kwargs: dict[str, Any], root: Path,
                     specialist: Path) -> None:
    """Refuse a specialist whose board size is not that of ``questions`` (move questions of ``env``), before
    it plays any: the game's own error ("state's board is 10×10") would not say --specialist is the
    problem."""
    from envs import make_game

    game = make_game(env, 1, **env_kwargs)
    try:
        size = getattr(game, "size", None)  # the specialist's board size, if its game has one
    finally:
        game.close()
    other = sorted({record_state(r, root).get("size") for r in questions} - {size, None})
    if size is not None and other:
        n = other[0]
        raise ScoringError(f"--specialist {specialist} plays {env} on {size}×{size} boards, but the split's "
                           f"{env} states are {n}×{n}: give a --specialist trained on that size (--size {n})")


# ---------------------------------------------------------------------- the table
def source_step(record: TaskRecord) -> int | None:
    """The training step of the policy that played ``record`` (its ``source.policy`` ends ``@<step>``, as
    ``vlm/export.py`` writes it); None for a record that names none (another exporter's)."""
    policy = record.source.get("policy") if isinstance(record.source, dict) else None
    _, at, step = policy.rpartition("@") if isinstance(policy, str) else ("", "", "")
    return int(step) if at and step.isascii() and step.isdigit() else None


def step_warning(questions: list[TaskRecord], env: str, specialist: Path, ckpt: Path, step: int,
                 split: Path) -> str | None:
    """Why a ``--specialist`` at another training step than the policy that played ``questions`` (its move
    questions) is not the split's player, and which ``--checkpoint`` to give; None where one of the split's
    steps is its own (a split of several exports), or no record names a step. A warning, not a refusal:
    the engine, not the player, says which moves are good, so another step's answers score just as well."""
    from collections import Counter

    from agents.outputs import json_object_or_none
    from agents.runs import checkpoints, file_sha1
    from vlm.trajectories import TRAJ_DIR

    steps = Counter(s for s in map(source_step, questions) if s is not None)
    if not steps or step in steps:
        return None
    wanted = [s for s, _ in steps.most_common()]
    named = [f"{s:,}" for s in sorted(wanted)]
    said = f"step{'s' * (len(named) > 1)} {listed(named)}"
    give = None
    if len(wanted) == 1:  # the run's checkpoint of that step, else the export's model file, if still that
        give = next((f for s, f in checkpoints(specialist) if s == wanted[0]), None)
        meta = json_object_or_none(split.parent / TRAJ_DIR / "meta.json") or {}
        try:
            # Its game too: a split of two games' test files may sit in the other game's export.
            if give is None and meta["env"] == env and meta["policy"]["num_timesteps"] == wanted[0] and \
                    file_sha1(Path(meta["run"]["checkpoint"])) == meta["run"]["checkpoint_sha1"]:
                give = Path(meta["run"]["checkpoint"])
        except (OSError, ValueError, KeyError, TypeError):  # no export folder beside the split: none named
            pass
    how = (f"give --checkpoint {give}" if give else "give --checkpoint with the model file of "
           f"{'that step' if len(wanted) == 1 else 'one of those steps'} (the export's "
           "trajectories/meta.json names it)")
    return (f"the split's {env} move questions were exported by {said}, and --specialist {specialist} "
            f"plays step {step:,} ({ckpt}): {how} to score the model that made them")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


METRICS = {"accuracy": "accuracy", "move_accuracy": "move acc.", "format_errors": "format errors",
           "missing": "missing"}


def format_table(results: list[dict[str, Any]], metrics: tuple[str, ...] = tuple(METRICS),
                 groups: tuple[str, ...] = ("game", "family", "qa_type", "plot_level", "qa_level")) -> str:
    """A markdown table: one row per group (overall first), ``metrics`` columns for each model."""
    header = ["group", "n"] + [f"{r['name']}: {METRICS[m]}" if len(results) > 1 else METRICS[m]
                               for r in results for m in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows: list[tuple[str, str]] = [("", "")]
    for by in groups:
        rows += [(by, k) for k in results[0].get(f"by_{by}", {})]
    for by, key in rows:
        cells = [r["overall"] if not by else r.get(f"by_{by}", {}).get(key) for r in results]
        line = ["**all**" if not by else f"{by} {key}", str((cells[0] or {}).get("n", 0))]
        for c in cells:
            for m in metrics:
                if not c or not c["n"]:
                    line.append("—")
                elif m == "accuracy" and c[m] is None:
                    line.append("n/a")  # the full rule asks for more than a policy states
                elif m in ("accuracy", "move_accuracy"):
                    line.append(_pct(c[m]))
                else:
                    line.append("—" if c[m] is None else str(c[m]))
        lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines)


def _untag(record_id: str) -> str:
    """``record_id`` without the question tag that ends ids since 2026-12-04 (unchanged if it has none)."""
    head, _, tag = record_id.rpartition("-")
    is_tag = len(tag) == ID_TAG_CHARS and all(c in "0123456789abcdef" for c in tag)
    return head if head and is_tag else record_id


def _untagged_ids(unknown: list[str], ids: set[str]) -> str | None:
    """Why no prediction answers the split where one side's ids lack the question tag the other's end in
    (an export by a version before 2026-12-04) at the same positions; None otherwise. Only "another
    split?" was asked, of the same seeds' positions, and the ids looked alike but for the tag."""
    untagged = {_untag(i): i for i in ids}
    for pred in unknown:
        if pred in untagged and untagged[pred] != pred:  # the split's ids have the tag, these do not
            return (f"their ids lack the question tag that this split's end in ({untagged[pred]!r}): they "
                    "were made for an export by a version before 2026-12-04; score them on the split they "
                    "were made for")
        if _untag(pred) != pred and _untag(pred) in ids:  # the split is an older version's
            return (f"this split's ids ({_untag(pred)!r}) lack the question tag that theirs end in: the "
                    "split was exported by a version before 2026-12-04; score them on the split they were "
                    "made for")
    return None


def _module_problem(game: str) -> str | None:
    """Why ``game``'s task module, which tells its move questions apart, cannot be used here, worded as the
    other scripts word it (a package's game not installed in this Python, no task module, a broken one);
    None where it can."""
    from envs import GAMES

    if game not in GAMES:  # as read_run_config says it of a run's game
        return (f"no game {game!r} is known to the Python running this ({sys.executable}): a game of another "
                "package is known where its package is installed")
    if game not in TASK_MODULES:  # as the export says it, not task_module's list of the games with one
        return f"{game!r} has no task module: {missing_module(game)}"
    try:
        task_module(game)
    except (ImportError, TypeError) as e:  # its message names the module (module_place)
        return str(e)
    return None


def _unscored_moves(games: set[str]) -> str | None:
    """Why some of ``games``' move questions are scored as any other question (no move accuracy): the
    game's task module, which tells them apart (``is_move_question``), cannot be used here; None where every
    game's can be."""
    problems = [f"the {game} move questions are scored as any other question, with no move accuracy: the "
                f"game's task module, which finds them, cannot be used here: {why}"
                for game in sorted(games) if (why := _module_problem(game)) is not None]
    return "; ".join(problems) or None


def score_files(split: Path, predictions: Path, specialist: Path | None = None, device: str = "cpu",
                checkpoint: Path | None = None, show_progress: bool = False) -> dict[str, Any]:
    """Everything ``scripts/score_predictions.py`` prints: the model's and (optionally) the specialist's
    figures, missing and unknown ids. ``show_progress``: a bar on stderr while the specialist answers."""
    records = load_records(split)  # refuses an empty split by name
    preds = load_predictions(predictions, records)
    if not preds:
        raise ScoringError(f"predictions {predictions} holds no prediction (an empty file?)")
    ids = {r.id for r in records}
    missing = [r.id for r in records if preds.get(r.id) is None]
    unknown = [k for k in preds if k not in ids]
    if len(unknown) == len(preds):
        # One prediction: "none of the 1 predictions" read as a miscount
        which, ids_shown, ask = (("the one prediction", "its id", "is it") if len(preds) == 1 else
                                 (f"none of the {len(preds):,} predictions", "ids such as", "are they"))
        raise ScoringError(f"{which} in {predictions} answers {'no' if len(preds) == 1 else 'a'} record of "
                           f"{split} ({ids_shown} {unknown[0]!r}): "
                           f"{_untagged_ids(unknown, ids) or f'{ask} for another split?'}")
    results = [{**score_predictions(records, preds, predictions.stem).as_dict(), "scope": "all records"}]
    unscored = _unscored_moves({r.game for r in records})
    # Absolute, as the specialist's run and checkpoint below: --out's file is read later, from anywhere.
    out: dict[str, Any] = {"split": os.path.abspath(split), "predictions": os.path.abspath(predictions),
                           "records": len(records),
                           "missing_ids": len(missing), "missing_examples": missing[:10],
                           "unknown_ids": len(unknown), "unknown_examples": unknown[:10]}
    if unscored:
        out["warning"] = unscored
    if specialist is not None:
        from agents.compare import check_specialist, load_specialist
        from agents.evaluation import eval_kwargs

        # Its game is built (a Game Boy run's emulator booted) only when there is a move question to play.
        model, cfg, ckpt = load_specialist(specialist, device, checkpoint)
        env_kwargs = eval_kwargs(cfg.get("env_kwargs") or {})  # as evaluate, export and compare build it
        questions = [r for r in records if r.game == cfg["env"] and is_move_question(r)]
        spec_preds: dict[str, str] = {}
        blank: list[str] = []  # a recurrent specialist's answers from a blank memory
        if questions:
            check_specialist(specialist, model, cfg, ckpt)
            check_board_size(questions, cfg["env"], env_kwargs, split.parent, specialist)
            from agents.cli import EpisodeProgress, progress_bar

            # A recurrent one replays each question's episode up to it: minutes for a Game Boy game's
            with progress_bar(len(questions), "specialist", "question", show_progress) as bar:
                spec_preds = specialist_predictions(questions, model, cfg["env"], env_kwargs,
                                                    root=split.parent, blank=blank,
                                                    progress=EpisodeProgress(bar))
        # Absolute, with its training step, as evaluate's JSON and compare's report name their model.
        out["specialist"] = {"run": os.path.abspath(specialist), "checkpoint": os.path.abspath(ckpt),
                             "step": int(model.num_timesteps), "move_questions": len(spec_preds)}
        warnings = [step_warning(questions, cfg["env"], specialist, ckpt, int(model.num_timesteps), split)]
        if blank:  # a memory play has at an episode's first state only
            from vlm.trajectories import TRAJ_DIR

            store = split.parent / TRAJ_DIR
            n = f"{len(blank)} of its {len(spec_preds)}"
            warnings.append(f"--specialist {specialist} is --recurrent: {n} move questions are answered from "
                            "a blank LSTM memory, as if the question's state began an episode, so its move "
                            "accuracy on them is not that of its play (evaluate.py scores its play): their "
                            f"episode's earlier steps are not in {store} or do not replay to the question's "
                            "state; score the split beside the trajectories/ of the export that wrote it")
        if any(warnings):
            out["specialist"]["warning"] = "; ".join(w for w in warnings if w)
        if not spec_preds:
            if not any(r.game == cfg["env"] for r in records):
                games = ", ".join(sorted({r.game for r in records}))
                raise ScoringError(f"--specialist {specialist} plays {cfg['env']!r}, and the split has no "
                                   f"{cfg['env']} record (its games: {games}): give a --specialist of one of "
                                   f"those games, or a split with {cfg['env']} records")
            # The task module tells a move question: one that cannot be used found none, where the split has
            # some.
            if (why := _module_problem(cfg["env"])) is not None:
                raise ScoringError(f"--specialist {specialist}: the {cfg['env']} move questions it answers "
                                   f"are found by the game's task module, which cannot be used: {why}")
            # Pokémon's move question is not scored, so exports leave it out: nothing to compare on.
            note = f"the split has no scored {cfg['env']} move question to answer"
            try:  # a package's move_task that asks no move (lettered options): said, not taken for none
                check_move_task(cfg["env"])
            except (ImportError, TypeError) as e:
                note += f": {e}"
            out["specialist"]["note"] = note
            out["results"] = results
            return out
        scope = {"scope": "move questions"}
        results.append({**score_predictions(records, spec_preds, "specialist", move_only=True,
                                            only=set(spec_preds)).as_dict(), **scope})
        # The model again, on exactly the questions the specialist answered: the like-for-like figures.
        results.append({**score_predictions(records, preds, predictions.stem, only=set(spec_preds)).as_dict(),
                        **scope})
    out["results"] = results
    return out
