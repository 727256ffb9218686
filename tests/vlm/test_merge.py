"""scripts/merge_exports.py (vlm/merge.py): several exports put together in one new folder, through the
command as README's "Several games in one dataset" gives it, on real tiny exports; each refusal, before
anything is written; and no half folder after a failure."""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, TINY, deny_reading, load_script
from tests.vlm.test_formats import SPLITS, needs_datasets, pixels
from tests.vlm.test_trajectories import export_args, tiny_snake_run
from vlm.card import CARTRIDGE_NOTICE, POKEMON_WARNING, REWARDS, records_digest
from vlm.verify import reference_response, verify


def merge(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """merge_exports.py run with ``argv``: its status, stdout and stderr."""
    code = load_script("merge_exports").main([*argv, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def refused(argv: list[str], capsys: pytest.CaptureFixture[str], message: str, out: Path) -> None:
    """The command refuses with one ``error:`` line matching ``message`` (a regex), status 2, and leaves no
    ``out``, nor its hidden folder beside it."""
    code, printed, err = merge([*argv, "--out", str(out)], capsys)
    assert (code, printed) == (2, "")
    assert err.count("\n") == 1 and re.match(rf"error: {message}", err), err
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))


def export(run: Path, out: Path, *extra: str) -> Path:
    args = export_args(run, out, "--episodes", "4", "--max-steps", "6", *extra)
    assert load_script("export_trajectories").main(args) == 0
    return out


@pytest.fixture(scope="module")
def games(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A Snake and a Sokoban export, each with --relative-paths, every format (trl where datasets is in)."""
    runs = {"snake": tiny_snake_run(tmp_path_factory), "sokoban": tmp_path_factory.mktemp("sokoban") / "run"}
    assert load_script("train_ppo").main(["--env", "sokoban", "--total-timesteps", "256", "--video-every",
                                          "100000", "--save-every", "256", "--run-dir", str(runs["sokoban"]),
                                          *TINY]) == 0
    root = tmp_path_factory.mktemp("games")
    return {game: export(run, root / game, "--relative-paths") for game, run in runs.items()}


@pytest.fixture(scope="module")
def snakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small Snake exports for the refusals: two of other seeds (LLaMA-Factory and EasyR1 only), one of the
    first's seed, a copy of the first, one without --relative-paths, one trajectories only."""
    run = tiny_snake_run(tmp_path_factory)
    root = tmp_path_factory.mktemp("snakes")
    formats = ("--formats", "llamafactory,easyr1")
    return {"a": export(run, root / "a", "--relative-paths", *formats),
            "b": export(run, root / "b", "--relative-paths", "--seed", "2000000", *formats),
            "same_seed": export(run, root / "same_seed", "--relative-paths", *formats),
            "copy": shutil.copytree(root / "a", root / "copy"),
            "absolute": export(run, root / "absolute", "--seed", "3000000", *formats),
            "trajectories": trajectories_only(run, root / "trajectories")}


def trajectories_only(run: Path, out: Path) -> Path:
    args = [str(run), "--episodes", "2", "--max-steps", "6", "--out", str(out), "--tasks-per-state", "0",
            "--formats", "none", "--no-progress", "--json"]
    assert load_script("export_trajectories").main(args) == 0
    return out


def jsonl_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def card_figure(export: Path, pattern: str) -> int | None:
    """A figure an export's card (README.md) gives, by the regex ``pattern`` with one group."""
    found = re.search(pattern, (export / "README.md").read_text(encoding="utf-8"))
    return int(found[1]) if found else None


def readme_command() -> str:
    """The merge_exports.py command in README's "Several games in one dataset"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index("**Several games in one dataset.**"):]
    block = after[after.index("```bash\n") + len("```bash\n"):after.index("\n```\n")]
    return re.sub(r" \[[^]]*\]", "", block)  # the optional flags left out


def test_exports_of_several_games_put_together_with_the_readme_command(games, tmp_path, monkeypatch, capsys):
    """README's command, run as written on a Snake and a Sokoban export, the folder then moved: every file
    format loads with its reader, its images resolve where its trainer looks, each game's records keep
    their own questions, the records score as one split and load through the folder's card, and the
    settings printed (and written to its card) are the largest of the exports' cards'."""
    from vlm.scoring import score_files

    for game, src in games.items():
        shutil.copytree(src, tmp_path / "datasets" / game)
    exports = {game: tmp_path / "datasets" / game for game in games}
    monkeypatch.chdir(tmp_path)
    words = shlex.split(readme_command())
    assert words[:2] == ["python", "scripts/merge_exports.py"]
    code, printed, err = merge(words[2:], capsys)
    assert (code, err) == (0, "")
    moved = tmp_path / "elsewhere" / "mixed"
    moved.parent.mkdir()
    shutil.move(tmp_path / "datasets" / "mixed", moved)
    monkeypatch.chdir(moved)  # where OpenRLHF must start, and ms-swift's ROOT_IMAGE_DIR

    seen = set()
    for split in SPLITS:
        records = jsonl_rows(moved / f"{split}.jsonl")
        assert records == [r for game in games for r in jsonl_rows(exports[game] / f"{split}.jsonl")]
        assert len({r["id"] for r in records}) == len(records)
        for rec in records:  # each question its own game's, its images the exported pictures
            other = "Sokoban" if rec["game"] == "snake" else "Snake"
            assert rec["id"].startswith(f"{rec['game']}-") and other not in rec["question"]
            for rel in rec["images"]:
                assert (moved / rel).read_bytes() == (exports[rec["game"]] / rel).read_bytes()
        for rel in (f"openrlhf/{split}.jsonl", f"swift/{split}.jsonl", f"swift/{split}_rl.jsonl"):
            rows = jsonl_rows(moved / rel)
            assert len(rows) == len(records) and all(Path(p).is_file() for r in rows for p in r["images"])
        for name in ("easyr1", "verl"):
            rows = pq.read_table(moved / name / f"{split}.parquet").to_pylist()
            assert len(rows) == len(records)
            for row, rec in list(zip(rows, records, strict=True))[::5]:  # the images decoded: a few
                truth = row["answer"] if name == "easyr1" else row["reward_model"]["ground_truth"]
                assert verify(reference_response(rec), truth)["overall"] == 1.0
                assert [pixels(i["bytes"]).tobytes() for i in row["images"]] == [
                    pixels(moved / rel).tobytes() for rel in rec["images"]]
        seen |= {r["game"] for r in records}
    assert seen == set(games)
    shown = {rel for game in games for split in SPLITS if (exports[game] / f"{split}.jsonl").is_file()
             for r in jsonl_rows(exports[game] / f"{split}.jsonl") for rel in r["images"]}
    assert {p.relative_to(moved).as_posix() for p in (moved / "images").rglob("*") if p.is_file()} == shown
    assert len(shown) < len({p.name for src in exports.values() for p in (src / "images").rglob("*.png")})

    info = json.loads((moved / "llamafactory" / "dataset_info.json").read_text())
    assert set(info) == {f"depthfirst_{game}_{split}" for game in games for split in SPLITS
                         if (exports[game] / "llamafactory" / f"{split}.json").is_file()}
    for name, entry in info.items():  # image paths against dataset_dir, as LLaMA-Factory resolves them
        _, game, split = name.split("_")
        rows = json.loads((moved / "llamafactory" / entry["file_name"]).read_text())
        assert rows == json.loads((exports[game] / "llamafactory" / f"{split}.json").read_text())
        assert all((moved / "llamafactory" / p).is_file() for row in rows for p in row["images"])

    # The settings: the largest of the exports' cards, printed and in the folder's card.
    card = (moved / "README.md").read_text(encoding="utf-8")
    figures = {"verl": r"data\.val_files=verl/\S+ data\.max_prompt_length=(\d+)",
               "easyr1": r"data\.format_prompt=null data\.max_prompt_length=(\d+)",
               "openrlhf": r"--data\.prompt_max_len (\d+)", "images": r"worker\.rollout\.limit_images=(\d+)",
               "llamafactory": r"cutoff_len: (\d+)", "trl": r"SFTConfig\(max_length=(\d+)\)"}
    for name, pattern in figures.items():
        largest = max(card_figure(src, pattern) or 0 for src in exports.values())
        assert largest or name == "trl", name  # trl: where datasets is installed
        assert card_figure(moved, pattern) == (largest or None), name
        assert (re.search(pattern, printed) or [None, None])[1] == (str(largest) if largest else None), name
    assert len(set(map(str, map(lambda src: card_figure(src, figures["verl"]), exports.values())))) == 2
    assert f"dataset: {','.join(f'depthfirst_{game}_train' for game in games)}" in printed
    # GRPO's file: the prompts alone (ms-swift's rlhf samples the replies)
    assert "--dataset swift/train.jsonl (GRPO: --rlhf_type grpo --dataset swift/train_rl.jsonl " in printed
    assert all(len(row["messages"]) == 1 for row in jsonl_rows(moved / "swift" / "train_rl.jsonl"))
    assert "data.train_files=verl/train.parquet data.val_files=verl/val.parquet" in card
    lines = printed.splitlines()
    assert all(line[2:] in card.replace("`", "") for line in lines[2:])

    datasets = needs_datasets()
    loaded = datasets.load_dataset(str(moved), cache_dir=str(tmp_path / "hf-cache"))
    assert loaded["train"]["id"] == [r["id"] for r in jsonl_rows(moved / "train.jsonl")]
    assert loaded["validation"].num_rows == len(jsonl_rows(moved / "val.jsonl"))
    trl = datasets.concatenate_datasets([datasets.load_from_disk(f"{tmp_path}/datasets/{game}/trl")["train"]
                                         for game in ("snake", "sokoban")])
    assert trl["id"] == loaded["train"]["id"]

    test = jsonl_rows(moved / "test.jsonl")
    (tmp_path / "preds.jsonl").write_text("".join(
        json.dumps({"id": r["id"], "response": reference_response(r)}) + "\n" for r in test))
    scores = score_files(moved / "test.jsonl", tmp_path / "preds.jsonl")
    assert scores["records"] == len(test) and scores["missing_ids"] == scores["unknown_ids"] == 0
    by_game = scores["results"][0]["by_game"]
    assert set(by_game) == set(games) and all(g["accuracy"] == 1.0 for g in by_game.values()), by_game


def row_groups(path: Path) -> list[tuple[int, set[str]]]:
    """Each row group's rows and its columns' compressions."""
    meta = pq.ParquetFile(path).metadata
    return [(group.num_rows, {group.column(c).compression for c in range(group.num_columns)})
            for group in map(meta.row_group, range(meta.num_row_groups))]


def test_two_exports_of_one_game_keep_their_llamafactory_entries_and_row_groups(snakes, tmp_path, capsys):
    """Two Snake exports of other seeds: the second's LLaMA-Factory entries get its folder's name after
    theirs, none replacing the other's; the parquet files keep the exports' row groups, zstd-compressed
    (one row group of every row failed to load past 2 GB of images); --json gives the summary."""
    exports, out = [snakes["a"], snakes["b"]], tmp_path / "mixed"
    code, printed, err = merge([*map(str, exports), "--out", str(out), "--json"], capsys)
    assert (code, err) == (0, "") and not list(tmp_path.glob(".mixed*"))  # its hidden folder is the --out
    summary = json.loads(printed)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")  # README names every key
    start = readme.index("`--json` prints the summary as one object:")
    documented = readme[start:readme.index("`--no-progress`", start)]
    assert all(f"`{key}`" in documented for key in [*summary, "lengths", "max_images", "splits"]), documented
    assert set(summary["settings"]) >= {"lengths", "max_images", "splits"}
    # The card's YAML holds the records' digest: datasets caches a folder by its YAML, so without it a new
    # merge in a folder of the same name loaded the old rows.
    digest = records_digest(out, summary["settings"]["splits"])
    assert f"description: depthfirst export, records {digest}\n" in (out / "README.md").read_text()
    assert summary["out"] == str(out) and summary["formats"] == ["easyr1", "llamafactory"]
    assert summary["records"] == {s: sum(len(jsonl_rows(src / f"{s}.jsonl")) if (src / f"{s}.jsonl").is_file()
                                         else 0 for src in exports) for s in SPLITS}
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    first, second = ({f"depthfirst_snake_{s}" for s in SPLITS
                      if (src / "llamafactory" / f"{s}.json").is_file()} for src in exports)
    assert set(info) == first | {f"{name}_b" for name in second}
    assert summary["settings"]["llamafactory"]["dataset"] == ["depthfirst_snake_train",
                                                              "depthfirst_snake_train_b"]
    for name, entry in info.items():
        src = exports[1] if name.endswith("_b") else exports[0]
        split = name.split("_")[2]
        assert (out / "llamafactory" / entry["file_name"]).read_text() == (
            src / "llamafactory" / f"{split}.json").read_text()
    merged = 0
    for split in SPLITS:
        parts = [p for p in (src / "easyr1" / f"{split}.parquet" for src in exports) if p.is_file()]
        if parts:
            groups = [g for p in parts for g in row_groups(p)]
            assert row_groups(out / "easyr1" / f"{split}.parquet") == groups
            assert pq.read_table(out / "easyr1" / f"{split}.parquet").to_pylist() == [
                r for p in parts for r in pq.read_table(p).to_pylist()]
            merged += len(parts) > 1
    assert merged
    assert not (out / "verl").exists() and not (out / "openrlhf").exists()  # the exports have none


def hand_export(root: Path, game: str, ids: dict[str, list[str]], parquet: pa.Table | None = None) -> Path:
    """An export written by hand (no training): ``meta.json``, records of ``ids`` per split, an image
    folder and, given ``parquet``, an EasyR1 train file of it in row groups of 2 rows."""
    (root / "trajectories").mkdir(parents=True)
    (root / "images").mkdir()
    counts = {"records": {s: len(ids.get(s, [])) for s in SPLITS}}
    meta = {"env": game, "relative_paths": True, "counts": counts}
    (root / "trajectories" / "meta.json").write_text(json.dumps(meta))
    for split, names in ids.items():
        records = [json.dumps({"id": i, "images": []}) + "\n" for i in names]
        (root / f"{split}.jsonl").write_text("".join(records))
    if parquet is not None:
        (root / "easyr1").mkdir()
        pq.write_table(parquet, root / "easyr1" / "train.parquet", row_group_size=2, compression="zstd")
    return root


def test_every_row_group_of_a_split_is_copied(tmp_path, capsys):
    """An export's split past 512 rows is several row groups: each is copied (a test export's splits, one
    row group each, passed a copy of the first alone)."""
    tables = [pa.table({"problem": [f"{game} {k}" for k in range(5)], "answer": ["UP"] * 5})
              for game in ("snake", "sokoban")]
    exports = [hand_export(tmp_path / game, game, {"train": [f"{game}-{k}" for k in range(5)]}, table)
               for game, table in zip(("snake", "sokoban"), tables, strict=True)]
    assert merge([*map(str, exports), "--out", str(tmp_path / "mixed")], capsys)[0] == 0
    merged = tmp_path / "mixed" / "easyr1" / "train.parquet"
    assert [rows for rows, _ in row_groups(merged)] == [2, 2, 1, 2, 2, 1]
    assert pq.read_table(merged).to_pylist() == [r for table in tables for r in table.to_pylist()]


def test_only_the_images_the_records_show_are_copied(tmp_path, capsys):
    """Every format's images are its records' (the parquet and TRL files embed them), so the images no
    record shows, an export's trajectory frames, stay with it (about half its images were copied for
    nothing); one shown by both exports is copied once. A record's image missing from its export is refused
    before anything is written."""
    from envs.png import encode_png

    exports = [hand_export(tmp_path / game, game, {"train": [f"{game}-train"], "test": [f"{game}-test"]})
               for game in ("snake", "sokoban")]
    names = {}
    for k, name in enumerate(("snakes", "both", "frame", "other_frame", "sokobans")):
        names[name] = f"images/{k:02d}/{k:040d}.png"
        for export in exports:
            (export / names[name]).parent.mkdir(exist_ok=True)
            (export / names[name]).write_bytes(encode_png(np.full((2, 2, 3), k, np.uint8)))
    shown = {"snake": {"train": ["both"], "test": ["snakes"]},
             "sokoban": {"train": ["both"], "test": ["sokobans"]}}
    for export in exports:
        for split, images in shown[export.name].items():
            record = {"id": f"{export.name}-{split}", "images": [names[k] for k in images]}
            (export / f"{split}.jsonl").write_text(json.dumps(record) + "\n")
    (exports[1] / names["snakes"]).write_bytes(b"not shown by its records: never copied")
    out = tmp_path / "mixed"
    code, printed, err = merge([*map(str, exports), "--out", str(out), "--json"], capsys)
    assert (code, err) == (0, "") and json.loads(printed)["images"] == 3
    copied = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.glob("images/**/*") if p.is_file()}
    assert copied == {names[k]: (exports[0] / names[k]).read_bytes() for k in ("snakes", "both", "sokobans")}

    (exports[1] / names["sokobans"]).unlink()
    message = f"{exports[1]}: {names['sokobans']}, an image its records show, is missing: export it again"
    refused([*map(str, exports)], capsys, re.escape(message) + "$", tmp_path / "again")


@pytest.mark.parametrize("images", [["/etc/passwd"], ["images/../../x.png"], ["x.png"], "images/a.png", None])
def test_a_record_whose_image_lies_outside_its_export_s_images_is_refused(images, tmp_path, capsys):
    """Images are copied by the records' names: one leading out of the export's images/ would be read, and
    written, outside the two folders."""
    one = hand_export(tmp_path / "snake", "snake", {"train": ["snake-1"]})
    two = hand_export(tmp_path / "sokoban", "sokoban", {"train": ["sokoban-1"]})
    (two / "train.jsonl").write_text(json.dumps({"id": "sokoban-1", "images": images}) + "\n")
    message = f"{two}/train.jsonl line 1 is no task record: export {two} again"
    refused([str(one), str(two)], capsys, re.escape(message) + "$", tmp_path / "mixed")


def test_the_summary_names_each_game_once(tmp_path, capsys):
    """Two exports of one game beside another's: "of snake, sokoban", not "of snake, sokoban, snake"."""
    exports = [hand_export(tmp_path / name, game, {"train": [f"{name}-1"]})
               for name, game in (("snake", "snake"), ("sokoban", "sokoban"), ("snake2", "snake"))]
    code, printed, err = merge([*map(str, exports), "--out", str(tmp_path / "mixed")], capsys)
    assert (code, err) == (0, "")
    assert printed.splitlines()[0] == (f"{tmp_path / 'mixed'}: 3 records (train 3, val 0, test 0) of snake, "
                                       "sokoban, 0 images, formats: none")


def with_llamafactory(export: Path, game: str, splits: tuple[str, ...] = ("train",)) -> Path:
    """``export`` with LLaMA-Factory's entries of ``splits``, ``depthfirst_<game>_<split>``, a row for each
    record."""
    (export / "llamafactory").mkdir()
    info = {}
    for split in splits:
        records = len((export / f"{split}.jsonl").read_text().splitlines())  # a row a record, as an export's
        (export / "llamafactory" / f"{split}.json").write_text(json.dumps([{"messages": []}] * records))
        info[f"depthfirst_{game}_{split}"] = {"file_name": f"{split}.json", "formatting": "sharegpt"}
    (export / "llamafactory" / "dataset_info.json").write_text(json.dumps(info))
    return export


def test_exports_of_one_split_validate_on_none(tmp_path, capsys):
    """Exports with train records alone (--split 1,0,0): LLaMA-Factory gets no eval_dataset, not the
    training entries again (an evaluation on the training data)."""
    exports = [with_llamafactory(hand_export(tmp_path / game, game, {"train": [f"{game}-1"]}), game)
               for game in ("snake", "sokoban")]
    code, printed, err = merge([*map(str, exports), "--out", str(tmp_path / "mixed"), "--json"], capsys)
    assert (code, err) == (0, "")
    summary = json.loads(printed)
    assert summary["settings"]["splits"] == ["train"] and summary["settings"]["llamafactory"] == {
        "dataset_dir": "llamafactory", "dataset": ["depthfirst_snake_train", "depthfirst_sokoban_train"],
        "eval_dataset": []}
    assert not any("eval_dataset" in line for line in summary["settings_lines"])


def test_parquet_files_of_other_columns_are_refused_before_writing(tmp_path, capsys):
    """Exports of two depthfirst versions whose parquet columns differ: refused, naming the files, before
    anything is written (pyarrow's writer failed half-way through)."""
    one = hand_export(tmp_path / "snake", "snake", {"train": ["snake-1"]}, pa.table({"problem": ["a"]}))
    two = hand_export(tmp_path / "sokoban", "sokoban", {"train": ["sokoban-1"]}, pa.table({"prompt": ["b"]}))
    refused([str(one), str(two)], capsys, re.escape(f"{two}/easyr1/train.parquet has other columns than "
                                                    f"{one}/easyr1/train.parquet"), tmp_path / "mixed")


def test_a_parquet_file_pyarrow_cannot_read_is_refused_before_writing(tmp_path, capsys):
    one = hand_export(tmp_path / "snake", "snake", {"train": ["snake-1"]}, pa.table({"problem": ["a"]}))
    two = hand_export(tmp_path / "sokoban", "sokoban", {"train": ["sokoban-1"]}, pa.table({"problem": ["b"]}))
    (two / "easyr1" / "train.parquet").write_bytes(b"cut short")
    refused([str(one), str(two)], capsys, re.escape(f"{two}/easyr1/train.parquet is no parquet file pyarrow "
                                                    f"reads: export {two} again") + "$", tmp_path / "mixed")


def test_an_export_whose_record_files_are_gone_is_refused(tmp_path, capsys):
    """Its meta.json counts records, but train.jsonl, val.jsonl and test.jsonl were deleted: two such exports
    were an IndexError traceback once the merge had begun (with another export, its formats' rows went in
    without their records)."""
    exports = [hand_export(tmp_path / game, game, {"train": [f"{game}-1"]}) for game in ("snake", "sokoban")]
    (exports[0] / "train.jsonl").unlink()
    message = f"{exports[0]} has no record files (train.jsonl, val.jsonl, test.jsonl missing or empty) " \
              "though its meta.json counts records: export it again"
    refused(list(map(str, exports)), capsys, re.escape(message) + "$", tmp_path / "mixed")


SHARED = "too (a copy, or an export of the same run and --seed): it adds nothing, leave it out"


def shared_export(root: Path, ids: dict[str, list[str]]) -> Path:
    """A Snake export by hand with ``ids`` per split, a trl/ folder and a row of every format that
    names its record: LLaMA-Factory's, EasyR1's (row groups of 2), OpenRLHF's and ms-swift's."""
    table = pa.table({"problem": ids["train"], "answer": ["UP"] * len(ids["train"])})
    export = hand_export(root, "snake", ids, table)
    (export / "trl").mkdir()
    (export / "llamafactory").mkdir()
    info = {}
    for split, names in ids.items():
        (export / "llamafactory" / f"{split}.json").write_text(json.dumps([{"messages": [n]} for n in names]))
        info[f"depthfirst_snake_{split}"] = {"file_name": f"{split}.json", "formatting": "sharegpt"}
        for rel in ("openrlhf/{}.jsonl", "swift/{}.jsonl", "swift/{}_rl.jsonl"):
            (export / rel.format(split)).parent.mkdir(exist_ok=True)
            (export / rel.format(split)).write_text("".join(json.dumps({"prompt": n}) + "\n" for n in names))
        if split != "train":
            pq.write_table(pa.table({"problem": names, "answer": ["UP"] * len(names)}),
                           export / "easyr1" / f"{split}.parquet")
    (export / "llamafactory" / "dataset_info.json").write_text(json.dumps(info))
    return export


def test_a_question_two_exports_of_other_seeds_ask_is_held_once(tmp_path, capsys):
    """Ids are a question's game, episode, step, draft and a digest of what is shown, so two exports of one
    game from other seeds share one wherever the same question comes up at the same episode and step (two
    6x6 Snake exports of 1,130 episodes did, a pokemon_red export starts every episode from one state): that
    was refused as a copy, with advice (another --seed) that works by luck. Now the later's is left out of
    every merged file, with a warning line; a split of it left empty gets no LLaMA-Factory entry, and TRL's
    line (the exports' own trl/ folders, holding the question twice) is left out."""
    one = shared_export(tmp_path / "a", {"train": ["s-0", "s-1", "s-2", "s-3"], "test": ["s-t", "s-u"]})
    two = shared_export(tmp_path / "b", {"train": ["s-4", "s-1", "s-5", "s-6", "s-3"], "test": ["s-t"]})
    out = tmp_path / "mixed"
    code, printed, err = merge([str(one), str(two), "--out", str(out), "--json"], capsys)
    assert code == 0 and err == (f"warning: 3 questions of {two} left out (and TRL's line: the exports' "
                                 f"trl/ folders hold them twice): {one} asks them too (the same question at "
                                 "the same episode and step, as s-1), and the merged files hold them once\n")
    train, test = ["s-0", "s-1", "s-2", "s-3", "s-4", "s-5", "s-6"], ["s-t", "s-u"]
    for split, ids in (("train", train), ("test", test)):
        assert [r["id"] for r in jsonl_rows(out / f"{split}.jsonl")] == ids
        for rel in ("openrlhf/{}.jsonl", "swift/{}.jsonl", "swift/{}_rl.jsonl"):
            assert [r["prompt"] for r in jsonl_rows(out / rel.format(split))] == ids
        assert pq.read_table(out / "easyr1" / f"{split}.parquet")["problem"].to_pylist() == ids
    # b's row groups: 1 of 2 rows kept, 2 of 2, none of 1 (no empty group written)
    assert [rows for rows, _ in row_groups(out / "easyr1" / "train.parquet")] == [2, 2, 1, 2]
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    assert sorted(info) == ["depthfirst_snake_test", "depthfirst_snake_train", "depthfirst_snake_train_b"]
    lf = [row["messages"][0] for name in ("train", "train_b")
          for row in json.loads((out / "llamafactory" / f"depthfirst_snake_{name}.json").read_text())]
    assert lf == train
    summary = json.loads(printed)
    assert summary["records"] == {"train": 7, "val": 0, "test": 2} and "trl" not in summary["settings"]
    card = (out / "README.md").read_text()
    assert "| 3 | 0 | 0 |" in card and "(3 questions left out)" in card and "9 task records of 2" in card


def test_a_split_whose_questions_are_all_left_out_gets_no_format_files(tmp_path, capsys):
    """An export writes no format file for a split without records, and the merge names none; but a split
    whose every record an earlier export asks (in another split: a train question of its) was written as
    an empty openrlhf/ and swift/ file and a parquet file of no rows, beside files that hold records."""
    one = shared_export(tmp_path / "a", {"train": ["s-0", "s-1", "s-2"], "test": ["s-t"]})
    two = shared_export(tmp_path / "b", {"train": ["s-3"], "val": ["s-1", "s-2"], "test": ["s-u"]})
    out = tmp_path / "mixed"
    code, printed, _ = merge([str(one), str(two), "--out", str(out), "--json"], capsys)
    assert code == 0 and json.loads(printed)["settings"]["splits"] == ["train", "test"]
    for rel in ("val.jsonl", "openrlhf/val.jsonl", "swift/val.jsonl", "swift/val_rl.jsonl",
                "easyr1/val.parquet", "llamafactory/depthfirst_snake_val_b.json"):
        assert not (out / rel).exists(), rel
    assert [r["prompt"] for r in jsonl_rows(out / "openrlhf" / "test.jsonl")] == ["s-t", "s-u"]


def test_val_and_test_records_showing_another_export_s_train_image_are_counted(tmp_path, capsys):
    """Each export keeps its val and test free of its train's pictures, but two exports of one game from
    other seeds meet the same ones (a review counted 218 of 525 merged val records and 237 of 539 test
    records on two 6x6 Snake exports), and the merge said nothing. Now a warning line counts the held-out
    records showing an image some train record of another export shows (a record left out as asked before
    counts on neither side), and --json gives it beside the questions left out; no record is dropped."""
    from envs.png import encode_png

    shown = {  # an export -> split -> (id, its images) per record
        "a": {"train": [("a-0", ["p0"]), ("a-1", ["p1"])], "val": [("a-v0", ["p2"]), ("a-v1", ["p3"])],
              "test": [("a-t", ["p4", "p9"])]},
        # a-v1's question again, left out: its p3 is no train picture
        "b": {"train": [("b-0", ["p2"]), ("b-1", ["p5"]), ("b-2", ["p9"]), ("a-v1", ["p3"])],
              "val": [("b-v0", ["p0"]), ("b-v1", ["p6"]), ("b-v2", ["p7"])],
              # a-0's question, left out: its p0 is no held-out picture
              "test": [("a-0", ["p0"]), ("b-t", ["p8"])]},
        "c": {"train": [("c-0", ["q0"])], "val": [("c-v0", ["q1"])]},
    }
    exports = []
    for name, splits in shown.items():
        export = hand_export(tmp_path / name, "sokoban" if name == "c" else "snake", {})
        for split, records in splits.items():
            lines = []
            for rid, images in records:
                rels = [f"images/{k}/{k}.png" for k in images]
                for k, rel in zip(images, rels, strict=True):
                    (export / rel).parent.mkdir(exist_ok=True)
                    (export / rel).write_bytes(encode_png(np.full((2, 2, 3), int(k[1:]), np.uint8)))
                lines.append(json.dumps({"id": rid, "images": rels}) + "\n")
            (export / f"{split}.jsonl").write_text("".join(lines))
        meta = {"env": json.loads((export / "trajectories" / "meta.json").read_text())["env"],
                "relative_paths": True, "counts": {"records": {x: len(splits.get(x, [])) for x in SPLITS}}}
        (export / "trajectories" / "meta.json").write_text(json.dumps(meta))
        exports.append(export)
    out = tmp_path / "mixed"
    code, printed, err = merge([*map(str, exports), "--out", str(out), "--json"], capsys)
    assert code == 0 and err.startswith(f"warning: 2 questions of {exports[1]} left out: {exports[0]} asks")
    assert err.splitlines()[1:] == [
        "warning: 2 of 6 val records and 1 of 2 test records show an image that a train record of another "
        "export shows (exports of one game from other seeds meet the same pictures), so scores on them are "
        "of pictures trained on; they are kept: for val and test free of train's pictures, export the game "
        "once with more --episodes rather than merging exports of it (an export keeps its own splits apart)"]
    summary = json.loads(printed)
    assert summary["records"] == {"train": 6, "val": 6, "test": 2}
    assert summary["shared_with_train"] == {"val": 2, "test": 1}
    assert summary["questions_left_out"] == {"train": 1, "val": 0, "test": 1}
    val = ["a-v0", "a-v1", "b-v0", "b-v1", "b-v2", "c-v0"]  # none dropped
    assert [r["id"] for r in jsonl_rows(out / "val.jsonl")] == val


def test_an_export_asking_only_questions_others_ask_is_refused(tmp_path, capsys):
    """It adds nothing: a copy of one beside it, or the same run and --seed again (spread over two)."""
    one = hand_export(tmp_path / "one", "snake", {"train": ["s-a"], "test": ["s-t"]})
    two = hand_export(tmp_path / "two", "snake", {"train": ["s-b"]})
    three = hand_export(tmp_path / "three", "snake", {"train": ["s-b", "s-a"], "test": ["s-t"]})
    refused([str(one), str(two), str(three)], capsys,
            re.escape(f"{three} asks only questions {one} and {two} ask {SHARED}") + "$", tmp_path / "mixed")


@pytest.mark.parametrize("given, message", [
    (["a", "missing"], r"{root}/missing: no such folder$"),  # a misspelled name was a FileNotFoundError
    (["a", "a/train.jsonl"], r"{root}/a/train.jsonl is a file, not an export folder$"),
    (["a", "a/llamafactory"], r"{root}/a/llamafactory is no export \(.*meta.json is missing or unreadable\)"),
    (["a", "absolute"], r"{root}/absolute was exported without --relative-paths: export it again with it$"),
    (["a", "trajectories"], r"{root}/trajectories holds trajectories only \(--tasks-per-state 0\): it has no "
                            "records to add; leave it out$"),
    (["a", "same_seed"], r"{root}/same_seed asks only questions {root}/a asks " + re.escape(SHARED) + "$"),
    (["a", "copy"], r"{root}/copy asks only questions {root}/a asks " + re.escape(SHARED) + "$"),
    (["a"], r"give two exports or more to put together"),
    (["a", "b", "a"], r"{root}/a is given twice: name each export once$"),
])
def test_a_wrong_export_is_refused_before_anything_is_written(given, message, snakes, tmp_path, capsys):
    """A copy of an export beside it (cp -r) was told to export one again with another --seed, where leaving
    the copy out is all it takes."""
    root = snakes["a"].parent
    out = tmp_path / "new" / "mixed"  # its parent is not made either
    refused([str(root / name) for name in given], capsys, message.format(root=re.escape(str(root))), out)
    assert not out.parent.exists()


def test_an_export_still_being_written_is_refused(snakes, tmp_path, capsys):
    """An export writes in a hidden .<out>.partial folder, its meta.json (all a merge looked for) written
    before the card and the rename into place: that folder was merged, its path then gone from the card."""
    from vlm.trajectories import OWNER

    partial = tmp_path / ".b.partial"
    shutil.copytree(snakes["b"], partial)
    (partial / OWNER).write_text("")
    message = f"{partial} is an export still being written (or the work of a stopped one): give the folder " \
              "its --out names, once it is done"
    refused([str(snakes["a"]), str(partial)], capsys, re.escape(message) + "$", tmp_path / "mixed")
    # Given through a link (a hand mutant reading the name as given merged it): the folder it names is judged
    link = tmp_path / "b-link"
    link.symlink_to(partial.name)
    message = message.replace(str(partial), str(link), 1)
    refused([str(snakes["a"]), str(link)], capsys, re.escape(message) + "$", tmp_path / "mixed")


def test_an_out_inside_an_export_is_refused(snakes, capsys):
    """The export would hold a folder it did not write (which its --overwrite refuses to replace)."""
    out = snakes["b"] / "mixed"
    message = re.escape(f"--out {out} lies inside the export {snakes['b']}: choose a folder outside it")
    refused([str(snakes["a"]), str(snakes["b"])], capsys, message + "$", out)


def test_an_out_that_cannot_be_made_is_refused_before_writing(snakes, tmp_path, capsys, monkeypatch):
    """A file where --out's folder goes, or a folder not writable (a read-only mount: root writes any other),
    refused as every script refuses them, not a "could not be written" once the merge has begun."""
    (tmp_path / "file").write_text("in the way")
    exports = [str(snakes["a"]), str(snakes["b"])]
    out = tmp_path / "file" / "mixed"
    refused(exports, capsys, re.escape(f"--out {out}: {tmp_path / 'file'} is not a folder; choose another "
                                       "place") + "$", out)
    (tmp_path / "read-only").mkdir()
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: path != tmp_path / "read-only" and access(
        path, mode, **kw))
    out = tmp_path / "read-only" / "new" / "mixed"
    refused(exports, capsys, re.escape(f"--out {out}: {tmp_path / 'read-only'} is not writable; choose "
                                       "another place") + "$", out)
    assert not (tmp_path / "read-only" / "new").exists()


def test_an_existing_out_is_refused_and_kept(snakes, tmp_path, capsys):
    """A second merge into the same folder (the exports made anew, one without a format or split) would
    leave the first's files beside the new ones: refused, naming --out, its files as they were."""
    out = tmp_path / "mixed"
    assert merge([str(snakes["a"]), str(snakes["b"]), "--out", str(out)], capsys)[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, _, err = merge([str(snakes["a"]), str(snakes["b"]), "--out", str(out)], capsys)
    assert code == 2 and err == f"error: --out {out} exists: put the exports together in a new folder (or " \
                                "delete it first)\n"
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_third_export_of_a_game_in_a_folder_named_as_the_second_is_refused(snakes, tmp_path, capsys):
    """A second export's LLaMA-Factory entries are named after its folder; a third in a folder of that name
    (runs/<seed>/export each) would take the second's names: refused, naming it, before writing."""
    exports = []
    for k, name in enumerate(("a", "b", "same_seed")):  # same_seed shares a's questions: not merged here
        exports.append(tmp_path / str(k) / "export")
        shutil.copytree(snakes[name], exports[-1])
    for rec_file in exports[2].glob("*.jsonl"):  # its ids made its own
        rows = [json.dumps({**r, "id": f"{r['id']}-3"}) + "\n" for r in jsonl_rows(rec_file)]
        rec_file.write_text("".join(rows))
    message = re.escape(f"{exports[2]}: its LLaMA-Factory entries would take the names of another export's "
                        "(depthfirst_snake_") + r"\w+_export\): rename its folder$"
    refused(list(map(str, exports)), capsys, message, tmp_path / "mixed")


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_part_way_leaves_no_out(failure, snakes, tmp_path, capsys, monkeypatch):
    """A full disk or a Ctrl-C once the images are copied: no --out, no hidden folder, no folder made for
    it; the disk's error in one line naming --out."""
    from vlm import merge as m

    def fail(*args: object) -> None:
        raise failure
    monkeypatch.setattr(m, "_write_files", fail)
    out = tmp_path / "new" / "mixed"
    code, printed, err = merge([str(snakes["a"]), str(snakes["b"]), "--out", str(out)], capsys)
    assert printed == ""
    if isinstance(failure, OSError):
        assert code == 2 and err == (f"error: --out {out} could not be written (No space left on device); "
                                     "any file there before is unchanged\n")
    else:
        assert code == 130 and err == f"\ninterrupted: nothing written ({out} not made)\n"
    assert not (tmp_path / "new").exists()


def test_a_full_disk_while_copying_an_image_names_the_file_written_not_the_export_s(snakes, tmp_path, capsys,
                                                                                    monkeypatch):
    """shutil's copy names both files in its error, the one it read first: "--out mixed could not be
    written (No space left on device: <the export's image>)" sent the user to the export's disk."""
    from vlm import merge as m

    written = []

    def full(src: Path, dst: Path) -> None:  # as shutil's sendfile copy raises ENOSPC
        written.append(dst)
        raise OSError(errno.ENOSPC, "No space left on device", str(src), None, str(dst))
    monkeypatch.setattr(m.shutil, "copy2", full)
    out = tmp_path / "mixed"
    code, printed, err = merge([str(snakes["a"]), str(snakes["b"]), "--out", str(out)], capsys)
    assert (code, printed) == (2, "") and written and written[0].is_relative_to(tmp_path)
    assert err == (f"error: --out {out} could not be written (No space left on device: {written[0]}); any "
                   "file there before is unchanged\n")
    assert not list(tmp_path.iterdir())


def test_an_out_made_meanwhile_is_left_alone(snakes, tmp_path, capsys, monkeypatch):
    from vlm import merge as m

    out = tmp_path / "mixed"
    real = m._write_files

    def write_then_appear(*args: object) -> None:
        real(*args)
        out.mkdir()
        (out / "theirs.txt").write_text("kept")
    monkeypatch.setattr(m, "_write_files", write_then_appear)
    code, _, err = merge([str(snakes["a"]), str(snakes["b"]), "--out", str(out)], capsys)
    assert code == 2 and "appeared while the exports were put together" in err
    assert [p.name for p in out.iterdir()] == ["theirs.txt"] and not list(tmp_path.glob(".mixed*"))


@pytest.mark.parametrize("moment", ["renamed", "settled"])
def test_a_stop_once_the_folder_is_in_place_is_ignored(moment, snakes, tmp_path, capsys, monkeypatch):
    """Ctrl-C (SIGINT) just after the rename into place, or as the summary is made: the merge is done, so it
    says so (status 0); a stop taken there removed nothing but said "nothing written (... not made)" of a
    folder that was there."""
    import signal

    from vlm import merge as m

    out = tmp_path / "mixed"

    def stop() -> None:
        if out.exists():  # setting_lines is also called for the card, before the rename
            os.kill(os.getpid(), signal.SIGINT)
    if moment == "renamed":
        real = os.rename
        monkeypatch.setattr(m.os, "rename", lambda src, dst: (real(src, dst), stop()))
    else:
        lines = m.setting_lines
        monkeypatch.setattr(m, "setting_lines", lambda s: (stop(), lines(s))[1])
    code, printed, err = merge([str(snakes["a"]), str(snakes["b"]), "--out", str(out)], capsys)
    assert code == 0 and "interrupted" not in err and printed.startswith(f"{out}: ")
    assert (out / "train.jsonl").is_file() and not list(tmp_path.glob(".mixed*"))


def test_a_killed_merges_hidden_folder_is_removed_by_the_next(snakes, tmp_path, capsys):
    dead = tmp_path / ".mixed.999999999.partial"  # no process has that id
    (dead / "images").mkdir(parents=True)
    assert merge([str(snakes["a"]), str(snakes["b"]), "--out", str(tmp_path / "mixed")], capsys)[0] == 0
    assert not dead.exists() and (tmp_path / "mixed" / "train.jsonl").is_file()
    assert not list(tmp_path.glob(".mixed*"))


def test_the_hidden_folders_of_an_export_and_of_a_running_merge_beside_out_are_left_alone(snakes, tmp_path,
                                                                                          capsys):
    """Hand mutants lived: the merge's hidden folder named without its pid (agents.outputs.folder_temp_name)
    was an export's .<out>.partial, which the merge then failed to make and removed, the export's work
    gone; and a hidden folder of a merge whose process runs removed as a killed one's."""
    from vlm.trajectories import OWNER

    export = tmp_path / ".mixed.partial"  # an export into --out under way
    (export / "images").mkdir(parents=True)
    (export / OWNER).write_text("")
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".mixed.{running.pid}.partial"  # another merge into --out, still at work
        (live / "images").mkdir(parents=True)
        (tmp_path / ".mixed.old.partial").mkdir()  # the user's, named with no pid (was a ValueError)
        assert merge([str(snakes["a"]), str(snakes["b"]), "--out", str(tmp_path / "mixed")], capsys)[0] == 0
    finally:
        running.kill()
        running.wait()
    assert (tmp_path / "mixed" / "train.jsonl").is_file()
    assert sorted(p.name for p in tmp_path.glob(".mixed*")) == sorted([export.name, live.name,
                                                                        ".mixed.old.partial"])
    assert (export / OWNER).is_file() and (live / "images").is_dir()


def test_the_command_refuses_in_one_line_with_status_2(tmp_path):
    """As a user runs it: one error line, no traceback (a misspelled export was a FileNotFoundError)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    script = ROOT / "scripts" / "merge_exports.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "snake"), str(tmp_path / "sokoban"),
                           "--out", str(tmp_path / "mixed")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"error: {tmp_path / 'snake'}: no such folder\n"


@pytest.mark.parametrize("meta", [[], "snake", {"relative_paths": True, "counts": {"records": {"train": 1}}},
                                  {"env": "snake", "relative_paths": True, "counts": []},
                                  {"env": "sokoban: #x", "relative_paths": True,
                                   "counts": {"records": {"train": 1}}}])
def test_an_export_whose_meta_json_is_no_export_s_is_refused(meta, tmp_path, capsys):
    """A meta.json that is no JSON object, or lacks its game (env), was an AttributeError traceback, or (no
    env) a KeyError once the merged folder was written, before its card. One edited to name no game's name
    ("sokoban: #x") went into the merged card's YAML (pretty_name), which datasets.load_dataset then failed
    to parse."""
    one = hand_export(tmp_path / "snake", "snake", {"train": ["snake-1"]})
    two = hand_export(tmp_path / "sokoban", "sokoban", {"train": ["sokoban-1"]})
    (two / "trajectories" / "meta.json").write_text(json.dumps(meta))
    message = f"{two}/trajectories/meta.json is no export's meta.json (a JSON object naming its game, env, " \
              f"and counting its records): export {two} again"
    refused([str(one), str(two)], capsys, re.escape(message) + "$", tmp_path / "mixed")


@pytest.mark.parametrize("name", ["snake,2", "snake2 ", "snake #2", "snake: 2", "snake:", "snake`2", "s${x}"])
def test_a_second_export_of_a_game_in_a_folder_named_with_a_comma_is_refused(name, tmp_path, capsys):
    """Its entries are named after its folder (depthfirst_snake_train_snake,2), and LLaMA-Factory splits
    `dataset: a,b` at commas (and strips the names' spaces): the printed setting named entries it lacks.
    In a YAML config, `dataset: ...,depthfirst_snake_train_snake #2` lost " #2" as a comment (LLaMA-Factory
    then found no depthfirst_snake_train_snake) and ": " failed to parse; a backtick broke the card's line."""
    exports = [with_llamafactory(hand_export(tmp_path / folder, "snake", {"train": [f"snake-{k}"]}), "snake")
               for k, folder in enumerate(("snake", name))]
    message = f"{exports[1]}: its LLaMA-Factory entries would be named after its folder " \
              f"(depthfirst_snake_train_{name}), which a trainer's config cannot hold as written " \
              "(LLaMA-Factory splits its dataset: list at commas and strips spaces; YAML reads ' #' as a " \
              "comment and ': ' as a key): rename its folder, with letters, digits, '_', '-' and '.' only"
    refused(list(map(str, exports)), capsys, re.escape(message) + "$", tmp_path / "mixed")


@pytest.mark.parametrize("theirs", [[], ["theirs.txt"]])
def test_an_out_made_after_the_last_check_is_left_alone(theirs, snakes, tmp_path, capsys, monkeypatch):
    """--out made between the last check and the rename into place: os.rename replaced an empty folder
    silently (status 0) and gave an OSError traceback (ENOTEMPTY) over a full one. Refused in one line now,
    their folder as it was, no hidden folder left."""
    out = tmp_path / "mixed"
    lexists = os.path.lexists

    def made_meanwhile(path: object) -> bool:
        there = lexists(path)
        if not there and Path(path) == out and list(tmp_path.glob(".mixed.*.partial")):  # the last check
            out.mkdir()
            for name in theirs:
                (out / name).write_text("kept")
        return there
    monkeypatch.setattr(os.path, "lexists", made_meanwhile)
    code, printed, err = merge([str(snakes["a"]), str(snakes["b"]), "--out", str(out)], capsys)
    assert (code, printed) == (2, "")
    assert err == f"error: --out {out} appeared while the exports were put together: nothing written, " \
                  f"{out} left as it is\n"
    assert sorted(p.name for p in out.iterdir()) == theirs and not list(tmp_path.glob(".mixed*"))


def test_a_rename_into_place_that_fails_is_one_line(snakes, tmp_path, capsys, monkeypatch):
    """The rename's own error (EBUSY, EXDEV: a mount at --out) was an OSError traceback: one line naming
    --out now, and no --out, nor hidden folder, left."""
    from vlm import merge as m

    def busy(src: object, dst: object) -> None:
        raise OSError(errno.EBUSY, "Device or resource busy", str(src), None, str(dst))
    monkeypatch.setattr(m.os, "rename", busy)
    out = tmp_path / "mixed"
    code, printed, err = merge([str(snakes["a"]), str(snakes["b"]), "--out", str(out)], capsys)
    assert (code, printed) == (2, "")
    assert err == f"error: --out {out}: the merged folder could not be moved into place (Device or " \
                  "resource busy): nothing written\n"
    assert not list(tmp_path.iterdir())


def test_an_out_filled_between_its_mkdir_and_the_rename_is_left_alone(snakes, tmp_path, capsys, monkeypatch):
    """The rename onto the merge's own empty --out fails with ENOTEMPTY where another put a file in it
    meanwhile: said as an --out that appeared (a hand mutant said the folder could not be moved into place),
    their file kept."""
    from vlm import merge as m

    rename = os.rename

    def filled_first(src: object, dst: object) -> None:
        (Path(dst) / "theirs.txt").write_text("kept")
        rename(src, dst)
    monkeypatch.setattr(m.os, "rename", filled_first)
    out = tmp_path / "mixed"
    code, printed, err = merge([str(snakes["a"]), str(snakes["b"]), "--out", str(out)], capsys)
    assert (code, printed) == (2, "")
    assert err == f"error: --out {out} appeared while the exports were put together: nothing written, " \
                  f"{out} left as it is\n"
    assert [p.name for p in out.iterdir()] == ["theirs.txt"] and not list(tmp_path.glob(".mixed*"))


def test_exports_whose_records_have_other_fields_are_refused_before_writing(tmp_path, capsys):
    """Exports of two depthfirst versions, one's records without qa_level: merged, the records file's rows
    differed in fields, which datasets filled with nulls."""
    one = hand_export(tmp_path / "snake", "snake", {"train": ["snake-1"]})
    two = hand_export(tmp_path / "sokoban", "sokoban", {"train": ["sokoban-1"]})
    (one / "train.jsonl").write_text(json.dumps({"id": "snake-1", "images": [], "qa_level": 1}) + "\n")
    message = f"{two}'s records have other fields than {one}'s (no qa_level): export both with the same " \
              "version of depthfirst"
    refused([str(one), str(two)], capsys, re.escape(message) + "$", tmp_path / "mixed")


def test_a_format_some_exports_lack_is_left_out_with_a_warning(tmp_path, capsys):
    """Snake exported with EasyR1 and TRL, Sokoban without: the merged easyr1/ held Snake's rows alone and
    the TRL command named Snake's trl/ alone, under "settings for every game in it", without a word. They
    are left out now, with a warning line naming them and the exports that lack them (one line for the
    formats one export lacks: an export with two formats of six was four lines); the shared format stays."""
    table = pa.table({"problem": ["a"], "answer": ["UP"]})
    snake = with_llamafactory(hand_export(tmp_path / "snake", "snake", {"train": ["snake-1"]}, table),
                              "snake")
    (snake / "trl").mkdir()
    sokoban = with_llamafactory(hand_export(tmp_path / "sokoban", "sokoban", {"train": ["sokoban-1"]}),
                                "sokoban")
    out = tmp_path / "mixed"
    code, printed, err = merge([str(snake), str(sokoban), "--out", str(out), "--json"], capsys)
    assert code == 0
    assert err.splitlines() == [  # one line for both
        f"warning: trl and easyr1 left out: {sokoban} lacks them, so they would hold only the other exports' "
        "records (to have them, export that one again with them in --formats)"]
    summary = json.loads(printed)
    assert summary["formats"] == ["llamafactory"] and summary["left_out"] == {
        "trl": [str(sokoban)], "easyr1": [str(sokoban)]}
    assert not (out / "easyr1").exists() and "trl" not in summary["settings"]
    assert not any(line.startswith(("EasyR1", "TRL")) for line in summary["settings_lines"])
    assert summary["settings"]["llamafactory"]["dataset"] == ["depthfirst_snake_train",
                                                              "depthfirst_sokoban_train"]


ENTRY = {"file_name": "train.json", "formatting": "sharegpt"}
NO_FILE = r"its entry depthfirst_snake_train names no file of its records"


@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize("info, message", [
    ({"depthfirst_snake_train #2": ENTRY}, r"names an entry 'depthfirst_snake_train #2', which a trainer's "
                                           r"config cannot hold as written \(.*\)"),
    ({"../../escaped": ENTRY}, r"names an entry '\.\./\.\./escaped', which"),
    ({"depthfirst_snake_train": {"formatting": "sharegpt"}}, NO_FILE),
    ({"depthfirst_snake_train": {"file_name": "/etc/hostname"}}, NO_FILE),
    ({"depthfirst_snake_train": {"file_name": "val.json"}}, NO_FILE),  # there is no val.json
    ({"depthfirst_snake_train": "train.json"}, NO_FILE),
    ([ENTRY], r"is no LLaMA-Factory dataset_info\.json"),
    ({}, r"names no entry of llamafactory/train\.json, which holds the export's train records"),
])
def test_every_export_s_llamafactory_entries_are_checked(first, info, message, tmp_path, capsys):
    """The names and files of dataset_info.json (edited by hand, or damaged), the first export's as much as
    a later one's: a name YAML cuts was merged as it was, "../../escaped" wrote escaped.json beside --out,
    an entry without file_name (or not an object) was a KeyError (TypeError) traceback, and one naming
    /etc/hostname was copied into the merged folder."""
    exports = [with_llamafactory(hand_export(tmp_path / game, game, {"train": [f"{game}-1"]}), game)
               for game in ("snake", "sokoban")]
    damaged = exports[0 if first else 1]
    listed_file = damaged / "llamafactory" / "dataset_info.json"
    listed_file.write_text(json.dumps(info))
    refused(list(map(str, exports)), capsys, re.escape(str(listed_file)) + "[ :].*" + message
            + f".*: export {re.escape(str(damaged))} again$", tmp_path / "mixed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snake", "sokoban"]


def test_the_empty_split_files_an_export_writes_are_no_splits(tmp_path, capsys):
    """An export of too few episodes for val and test writes them as empty files (train.jsonl alone holds
    records): the merge counted them as splits, so EasyR1's line said data.val_files=easyr1/val.parquet, a
    file the merged folder lacks, and the card said datasets reads a `validation` and `test` split."""
    table = pa.table({"problem": ["a"], "answer": ["UP"]})
    exports = [hand_export(tmp_path / game, game, {"train": [f"{game}-1"], "val": [], "test": []}, table)
               for game in ("snake", "sokoban")]
    out = tmp_path / "mixed"
    code, printed, err = merge([*map(str, exports), "--out", str(out), "--json"], capsys)
    assert (code, err) == (0, "")
    settings = json.loads(printed)["settings"]
    assert settings["splits"] == ["train"]
    assert settings["easyr1"] == {"train_files": "easyr1/train.parquet", "val_files": "easyr1/train.parquet"}
    assert "reads the records as the splits `train`." in (out / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("inside, given", [("", "."), ("llamafactory", ".."), ("", "../snake2/")])
def test_a_second_export_given_as_dot_is_named_after_its_folder(inside, given, tmp_path, monkeypatch, capsys):
    """Run from inside the second export (or from a folder in it, as ".."), its entries were named after the
    path's last part, depthfirst_snake_train_ for "." and depthfirst_snake_train_.. for "..", not its
    folder's name."""
    exports = [with_llamafactory(hand_export(tmp_path / folder, "snake", {"train": [f"{folder}-1"]}), "snake")
               for folder in ("snake", "snake2")]
    monkeypatch.chdir(exports[1] / inside)
    code, printed, err = merge([str(exports[0]), given, "--out", str(tmp_path / "mixed"), "--json"], capsys)
    assert (code, err) == (0, "")
    assert json.loads(printed)["settings"]["llamafactory"]["dataset"] == ["depthfirst_snake_train",
                                                                          "depthfirst_snake_train_snake2"]


def test_every_entry_of_a_second_export_of_a_game_is_named_after_its_folder(tmp_path, capsys):
    """A train-only Snake export, then one with val and test: only the second's train entry (the one whose
    name clashed) got its folder's name, so its val and test were the plain depthfirst_snake_val and
    depthfirst_snake_test, named as a first export's would be. Every entry of the second takes its folder's
    name; the first's keep theirs."""
    snake = with_llamafactory(hand_export(tmp_path / "ex" / "snake", "snake", {"train": ["one-1"]}), "snake")
    ids = {split: [f"split-{split}"] for split in SPLITS}
    split = with_llamafactory(hand_export(tmp_path / "ex" / "snake_split", "snake", ids), "snake", SPLITS)
    out = tmp_path / "mixed"
    code, printed, err = merge([str(snake), str(split), "--out", str(out), "--json"], capsys)
    assert (code, err) == (0, "")
    summary = json.loads(printed)
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    assert list(info) == ["depthfirst_snake_train", *(f"depthfirst_snake_{s}_snake_split" for s in SPLITS)]
    assert summary["settings"]["llamafactory"] == {
        "dataset_dir": "llamafactory", "eval_dataset": ["depthfirst_snake_val_snake_split"],
        "dataset": ["depthfirst_snake_train", "depthfirst_snake_train_snake_split"]}
    assert "eval_dataset: depthfirst_snake_val_snake_split" in summary["settings_lines"][-1]


@pytest.mark.parametrize("damage, message", [
    ("openrlhf/train.jsonl", r"line 2 is no JSON object \(cut short\?\)"),  # its last line cut
    ("swift/train_rl.jsonl", r"holds 1 row where .*/train\.jsonl holds 2 records"),  # its last line gone
    ("verl/train.parquet", r"is missing, though .*/train\.jsonl holds 2 records"),
    ("llamafactory/train.json", r"is no JSON list \(cut short\?\)"),
])
def test_an_export_s_format_file_cut_short_or_missing_is_refused(damage, message, games, tmp_path, capsys):
    """A format file cut short (a copy stopped part-way, a full disk), or deleted, was merged as it was: the
    merged openrlhf/train.jsonl had a broken line in the middle, the merged verl/train.parquet held the other
    export's rows alone, and the trainers failed on (or silently trained on part of) the merged folder.
    Each export's format files now hold a row for each of its split's records, read through first."""
    exports = {game: shutil.copytree(src, tmp_path / game) for game, src in games.items()}
    records = jsonl_rows(exports["sokoban"] / "train.jsonl")[:2]  # two records, and each format's two rows
    (exports["sokoban"] / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    for rel in ("openrlhf/train.jsonl", "swift/train.jsonl", "swift/train_rl.jsonl"):
        lines = (exports["sokoban"] / rel).read_text().splitlines(keepends=True)
        (exports["sokoban"] / rel).write_text("".join(lines[:2]))
    for rel in ("easyr1/train.parquet", "verl/train.parquet"):
        pq.write_table(pq.read_table(exports["sokoban"] / rel).slice(0, 2), exports["sokoban"] / rel)
    rows = json.loads((exports["sokoban"] / "llamafactory" / "train.json").read_text())[:2]
    (exports["sokoban"] / "llamafactory" / "train.json").write_text(json.dumps(rows))
    out = tmp_path / "mixed"
    assert merge([*map(str, exports.values()), "--out", str(out)], capsys)[0] == 0  # whole, it is merged
    shutil.rmtree(out)

    file = exports["sokoban"] / damage
    text = file.read_bytes()
    if damage.endswith("train_rl.jsonl"):
        file.write_bytes(text[:text.index(b"\n") + 1])
    elif damage.endswith(".parquet"):
        file.unlink()
    else:
        file.write_bytes(text[:-10])
    refused(list(map(str, exports.values())), capsys, re.escape(str(file)) + f" {message}: export "
            + re.escape(str(exports["sokoban"])) + " again$", out)


def test_a_merged_folder_given_as_an_export_names_the_exports_it_was_made_of(tmp_path, capsys):
    """A game added to an earlier merge (merged + rotation): the merged folder was "no export (its
    trajectories/meta.json is missing)", which did not say what to give instead. Its card lists its
    exports."""
    exports = [hand_export(tmp_path / game, game, {"train": [f"{game}-1"]}) for game in ("snake", "sokoban")]
    mixed = tmp_path / "mixed"
    assert merge([*map(str, exports), "--out", str(mixed)], capsys)[0] == 0
    third = hand_export(tmp_path / "rotation", "rotation", {"train": ["rotation-1"]})
    message = f"{mixed} is a folder merge_exports.py wrote, not an export: give the exports it was made of " \
              "(the table in its README.md lists them) beside the new ones"
    refused([str(mixed), str(third)], capsys, re.escape(message) + "$", tmp_path / "again")


@pytest.mark.parametrize("rel", ["train.jsonl", "openrlhf/train.jsonl"])
def test_a_file_of_an_export_that_is_no_utf8_text_or_unreadable_is_one_line(rel, games, tmp_path, capsys,
                                                                           monkeypatch):
    """A records or format file holding bytes no UTF-8 text has (a disk's damage, a crash) was a
    UnicodeDecodeError traceback, and one the user may not read (copied from another user's files,
    mode 600) a PermissionError traceback: one error: line naming the file now."""
    exports = {game: shutil.copytree(src, tmp_path / game) for game, src in games.items()}
    file = exports["sokoban"] / rel
    with open(file, "ab") as f:
        f.write(b"\xff\xfe garbage\n")
    refused(list(map(str, exports.values())), capsys, re.escape(f"{file} is no UTF-8 text: export "
                                                                f"{exports['sokoban']} again") + "$",
            tmp_path / "mixed")

    file.write_text("")  # emptied: unread, it would be refused as cut short, not as unreadable
    deny_reading(monkeypatch, file)
    refused(list(map(str, exports.values())), capsys, re.escape(f"{file} cannot be read (Permission "
                                                                "denied)") + "$", tmp_path / "mixed")


@pytest.mark.parametrize("rel", ["train.jsonl", "openrlhf/train.jsonl"])
def test_a_jsonl_file_without_its_last_line_break_is_merged_whole(rel, tmp_path, capsys):
    """A JSONL file whose last line lacks its line break (rewritten by a script of the user's joining rows
    with "\\n", or cut by one byte) reads whole, but was put before the next export's first row on one
    line: the merged file held a line of two rows, which datasets and the trainers fail on."""
    exports = [hand_export(tmp_path / game, game, {"train": [f"{game}-1", f"{game}-2"]})
               for game in ("snake", "sokoban")]
    for export in exports:
        (export / "openrlhf").mkdir()
        (export / "openrlhf" / "train.jsonl").write_text(
            "".join(json.dumps({"prompt": f"{export.name} {k}"}) + "\n" for k in range(2)))
    file = exports[0] / rel
    file.write_text(file.read_text().rstrip("\n"))
    out = tmp_path / "mixed"
    code, _, err = merge([*map(str, exports), "--out", str(out)], capsys)
    assert (code, err) == (0, "")
    assert jsonl_rows(out / rel) == [row for export in exports for row in jsonl_rows(export / rel)]


def test_a_parquet_file_the_system_will_not_read_is_said_so(tmp_path, capsys, monkeypatch):
    """pyarrow raises the system's refusal to open a file (another user's, mode 600) as an OSError of its
    errno: the merge said the file was "no parquet file pyarrow reads: export ... again", which no export
    mends, where the JSONL and JSON files' same refusal is "cannot be read (Permission denied)"."""
    from vlm import merge as m

    table = pa.table({"problem": ["a"], "answer": ["UP"]})
    exports = [hand_export(tmp_path / game, game, {"train": [f"{game}-1"]}, table)
               for game in ("snake", "sokoban")]
    file = exports[1] / "easyr1" / "train.parquet"
    opened = m.pq.ParquetFile

    def denied(source: object, *args: object, **kwargs: object) -> object:
        if Path(source) == file:  # as root, a file of mode 000 reads; these are pyarrow's words
            raise PermissionError(errno.EACCES, f"Failed to open local file '{file}'. Detail: [errno 13] "
                                                "Permission denied")
        return opened(source, *args, **kwargs)
    monkeypatch.setattr(m.pq, "ParquetFile", denied)
    refused(list(map(str, exports)), capsys, re.escape(f"{file} cannot be read (Permission denied)") + "$",
            tmp_path / "mixed")


@pytest.mark.parametrize("rel", ["trajectories/meta.json", "llamafactory/dataset_info.json"])
def test_a_meta_or_dataset_info_file_the_system_will_not_read_is_said_so(rel, tmp_path, capsys, monkeypatch):
    """An export whose meta.json the user may not read (another user's, mode 600) was "no export (...
    missing or unreadable): give folders that scripts/export_trajectories.py wrote", and such a
    dataset_info.json "no LLaMA-Factory dataset_info.json ...: export it again": neither is mended so. The
    system's reason now, as for the records and format files."""
    exports = [with_llamafactory(hand_export(tmp_path / game, game, {"train": [f"{game}-1"]}), game)
               for game in ("snake", "sokoban")]
    file = exports[1] / rel
    deny_reading(monkeypatch, file)
    refused(list(map(str, exports)), capsys, re.escape(f"{file} cannot be read (Permission denied)") + "$",
            tmp_path / "mixed")


@pytest.mark.parametrize("formats", [False, True])
def test_an_image_the_system_will_not_read_is_said_so_before_writing(formats, games, tmp_path, capsys,
                                                                    monkeypatch):
    """A record's image the user may not read (another user's, mode 000) was caught before writing only
    where a format counts prompt lengths (reading its PNG header: "an image ... cannot be read: export it
    again"); without one the copy failed half-way blaming --out ("--out X could not be written (Permission
    denied: <the export's image>)"). The export's file and the system's reason now, whatever the formats."""
    if formats:
        exports = [shutil.copytree(src, tmp_path / game) for game, src in games.items()]
    else:
        from envs.png import encode_png

        exports = [hand_export(tmp_path / game, game, {"train": [f"{game}-1"]})
                   for game in ("snake", "sokoban")]
        for k, export in enumerate(exports):
            rel = f"images/{k:02d}/{k:040d}.png"
            (export / rel).parent.mkdir()
            (export / rel).write_bytes(encode_png(np.full((2, 2, 3), k, np.uint8)))
            record = {"id": f"{export.name}-1", "images": [rel]}
            (export / "train.jsonl").write_text(json.dumps(record) + "\n")
    file = exports[1] / jsonl_rows(exports[1] / "train.jsonl")[0]["images"][0]
    deny_reading(monkeypatch, file)
    refused(list(map(str, exports)), capsys, re.escape(f"{file} cannot be read (Permission denied)") + "$",
            tmp_path / "mixed")


@pytest.mark.parametrize("parent", ["a|b", "a`b", "``a |b`", "a\\|b"])
def test_an_export_s_path_with_a_pipe_or_backtick_keeps_the_card_s_table(parent, tmp_path, capsys):
    """The merged card's table of exports gave each path as `PATH`: a '|' in it ended the cell (the row
    shifted, its counts under the wrong columns) and a backtick ended the code span. Each cell now reads,
    rendered as GitHub renders tables, as the path itself."""
    markdown_it = pytest.importorskip("markdown_it")
    exports = [hand_export(tmp_path / parent / game, game, {"train": [f"{game}-1"], "test": [f"{game}-2"]})
               for game in ("snake", "sokoban")]
    out = tmp_path / "mixed"
    assert merge([*map(str, exports), "--out", str(out)], capsys)[0] == 0
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse((out / "README.md").read_text())
    rows, row = [], None
    for token in tokens:
        if token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append("".join(child.content for child in token.children))
        elif token.type == "tr_close":
            rows.append(row)
            row = None
    assert rows == [["export", "game", "train", "val", "test"],
                    *([str(export), export.name, "1", "0", "1"] for export in exports)]


def test_each_parquet_footer_is_read_once(tmp_path, capsys, monkeypatch):
    """The plan read each export's parquet footer for its rows and again for its columns, and the copy
    twice more (its schema, its row groups): once now, kept for the check and the copy."""
    from vlm import merge as m

    table = pa.table({"problem": ["a", "b", "c"], "answer": ["UP"] * 3})
    exports = [hand_export(tmp_path / game, game, {"train": [f"{game}-{k}" for k in range(3)]}, table)
               for game in ("snake", "sokoban")]
    read: list[Path] = []
    opened, schema = m.pq.ParquetFile, m.pq.read_schema

    def parquet_file(source: object, *args: object, metadata: object = None, **kwargs: object) -> object:
        if metadata is None:
            read.append(Path(source))
        return opened(source, *args, metadata=metadata, **kwargs)

    def read_schema(source: object, *args: object, **kwargs: object) -> object:
        read.append(Path(source))
        return schema(source, *args, **kwargs)
    monkeypatch.setattr(m.pq, "ParquetFile", parquet_file)
    monkeypatch.setattr(m.pq, "read_schema", read_schema)
    out = tmp_path / "mixed"
    assert merge([*map(str, exports), "--out", str(out)], capsys)[0] == 0
    assert sorted(read) == [export / "easyr1" / "train.parquet" for export in exports]
    assert pq.read_table(out / "easyr1" / "train.parquet").to_pylist() == table.to_pylist() * 2


def test_formats_left_out_are_one_line_for_each_set_of_exports_lacking_them(tmp_path, capsys):
    """The warning's words follow its counts: one format lacked by one export is "it" and "that one", three
    formats lacked by two exports are "them", "lack" and "those"; one line for each set of exports."""
    games = ("snake", "sokoban", "rotation")
    a, b, c = (with_llamafactory(hand_export(tmp_path / game, game, {"train": [f"{game}-1"]}), game)
               for game in games)
    for name in ("trl", "verl", "openrlhf", "swift"):
        (a / name).mkdir()
    (b / "trl").mkdir()
    code, printed, err = merge([str(a), str(b), str(c), "--out", str(tmp_path / "mixed"), "--json"], capsys)
    assert code == 0
    assert err.splitlines() == [
        f"warning: trl left out: {c} lacks it, so it would hold only the other exports' records (to have it, "
        "export that one again with it in --formats)",
        f"warning: verl, openrlhf and swift left out: {b} and {c} lack them, so they would hold only the "
        "other exports' records (to have them, export those again with them in --formats)"]
    assert json.loads(printed)["left_out"] == {"trl": [str(c)], "verl": [str(b), str(c)],
                                               "openrlhf": [str(b), str(c)], "swift": [str(b), str(c)]}


def test_a_second_export_of_a_game_sharing_no_entry_name_is_named_after_its_folder(tmp_path, capsys):
    """A second export of one game is told by its game, not by a clash of names: beside a train-only Snake
    export, one of val records alone (no entry name in common) takes its folder's name all the same."""
    first = with_llamafactory(hand_export(tmp_path / "snake", "snake", {"train": ["one-1"]}), "snake")
    second = with_llamafactory(hand_export(tmp_path / "snake_val", "snake", {"val": ["two-1"]}), "snake",
                               ("val",))
    out = tmp_path / "mixed"
    code, _, err = merge([str(first), str(second), "--out", str(out), "--json"], capsys)
    assert (code, err) == (0, "")
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    assert list(info) == ["depthfirst_snake_train", "depthfirst_snake_val_snake_val"]


def test_an_entry_name_clashing_across_games_or_holding_a_dot_is_named_after_its_folder(tmp_path, capsys):
    """Two games whose entries share a name (a dataset_info.json edited by hand): the second's take its
    folder's name, as a second export of one game's do; a folder name with '.' and '-' is one a config
    holds (ENTRY_CHARS)."""
    snake = with_llamafactory(hand_export(tmp_path / "snake", "snake", {"train": ["one-1"]}), "snake")
    sokoban = with_llamafactory(hand_export(tmp_path / "sokoban.v-2", "sokoban", {"train": ["two-1"]}),
                                "snake")  # its entry named depthfirst_snake_train, as the first's
    out = tmp_path / "mixed"
    code, _, err = merge([str(snake), str(sokoban), "--out", str(out), "--json"], capsys)
    assert (code, err) == (0, "")
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    assert list(info) == ["depthfirst_snake_train", "depthfirst_snake_train_sokoban.v-2"]


def test_a_format_left_out_has_no_length_setting(games, tmp_path, capsys):
    """The --json summary's length settings are the merged formats' only: a format left out (Sokoban
    exported without verl) is no setting of the merged folder, though Snake's card counts its prompts."""
    snake, sokoban = (shutil.copytree(games[game], tmp_path / game) for game in ("snake", "sokoban"))
    shutil.rmtree(sokoban / "verl")
    code, printed, _ = merge([str(snake), str(sokoban), "--out", str(tmp_path / "mixed"), "--json"], capsys)
    assert code == 0
    summary = json.loads(printed)
    assert summary["left_out"] == {"verl": [str(sokoban)]}
    assert "verl" not in summary["settings"]["lengths"] and "easyr1" in summary["settings"]["lengths"]


def test_the_merged_settings_name_each_trainers_keys_and_reward_function(games, tmp_path, capsys):
    """Each trainer's merged line names what the exports' cards name to read the records and score the
    replies: the lines named neither the reward function, so the trainers' default rewards scored (EasyR1's
    example config: a math one), nor OpenRLHF's input key, whose default the rows lack."""
    needed = {"verl": ["reward.custom_reward_function.path="], "EasyR1": ["worker.reward.reward_function="],
              "OpenRLHF": ["--data.input_key prompt", "--data.apply_chat_template", "--data.label_key answer",
                           "--reward.remote_url", "--input_key message", "--label_key answer",
                           "--remote_rm_url"],
              "ms-swift": ["--rlhf_type grpo", "--external_plugins", "--reward_funcs depthfirst"],
              "TRL": ["reward_funcs=[vlm.rewards.trl_reward]"]}
    code, printed, _ = merge([*map(str, games.values()), "--out", str(tmp_path / "mixed"), "--json"], capsys)
    assert code == 0
    lines = dict(line.split(": ", 1) for line in json.loads(printed)["settings_lines"])
    card = (tmp_path / "mixed" / "README.md").read_text(encoding="utf-8")
    for trainer, flags in needed.items():
        for flag in flags:
            assert all(flag in (src / "README.md").read_text(encoding="utf-8") for src in games.values())
            assert flag in lines[trainer], (trainer, flag)
        assert lines[trainer] in card.replace("`", "")
        if trainer != "TRL":
            assert str(REWARDS) in lines[trainer], trainer


def test_a_format_file_holding_more_rows_than_records_is_refused(tmp_path, capsys):
    """A row for each record, no more: a format file with another export's rows appended (a hand-made
    concatenation) holds rows no record of its export asks, and is refused as one cut short is."""
    exports = [with_llamafactory(hand_export(tmp_path / game, game, {"train": [f"{game}-1"]}), game)
               for game in ("snake", "sokoban")]
    file = exports[1] / "llamafactory" / "train.json"
    file.write_text(json.dumps([{"messages": []}] * 2))
    message = (f"{file} holds 2 rows where {exports[1] / 'train.jsonl'} holds 1 record: export {exports[1]} "
               "again")
    refused(list(map(str, exports)), capsys, re.escape(message) + "$", tmp_path / "mixed")


def test_a_parquet_file_with_a_spoiled_footer_is_damage_not_a_refusal_to_read(tmp_path, capsys):
    """pyarrow raises a spoiled footer ("Couldn't deserialize thrift") as an OSError with no errno: damage,
    which an export again mends, not the system's refusal to read the file."""
    one = hand_export(tmp_path / "snake", "snake", {"train": ["snake-1"]}, pa.table({"problem": ["a"]}))
    two = hand_export(tmp_path / "sokoban", "sokoban", {"train": ["sokoban-1"]}, pa.table({"problem": ["b"]}))
    file = two / "easyr1" / "train.parquet"
    whole = file.read_bytes()
    file.write_bytes(whole[:-12] + b"\0" * 8 + whole[-4:])  # the footer's length zeroed, PAR1 kept
    refused([str(one), str(two)], capsys, re.escape(f"{file} is no parquet file pyarrow reads: export {two} "
                                                    "again") + "$", tmp_path / "mixed")


def test_a_format_file_whose_rows_are_no_rows_is_refused_whatever_their_count(tmp_path, capsys):
    """A train.json holding an object of one key (or a string of one character) beside one record is no
    list of rows, though its len() is one; a JSONL line that is a list or a number is no row."""
    for k, (rel, damage) in enumerate((("llamafactory/train.json", {"messages": []}),
                                       ("llamafactory/train.json", "x"), ("openrlhf/train.jsonl", [1]),
                                       ("openrlhf/train.jsonl", 7))):
        exports = []
        for game in ("snake", "sokoban"):
            export = hand_export(tmp_path / str(k) / game, game, {"train": [f"{game}-1"]})
            (export / "openrlhf").mkdir()
            (export / "openrlhf" / "train.jsonl").write_text("{}\n")
            exports.append(with_llamafactory(export, game))
        file = exports[1] / rel
        file.write_text(json.dumps(damage) + ("\n" if rel.endswith(".jsonl") else ""))
        where = "line 1 is no JSON object" if rel.endswith(".jsonl") else "is no JSON list"
        message = f"{file} {where} (cut short?): export {exports[1]} again"
        refused(list(map(str, exports)), capsys, re.escape(message) + "$", tmp_path / "mixed")


def test_an_empty_split_file_adds_no_blank_line_to_the_merged_one(tmp_path, capsys):
    """The line break added after a part that ends without one (12f30c39) is not added after an empty part
    (the empty val.jsonl an export of too few episodes writes): the merged val.jsonl began with a blank
    line, which a JSON Lines reader fails on."""
    exports = [hand_export(tmp_path / "snake", "snake", {"train": ["snake-1"], "val": []}),
               hand_export(tmp_path / "sokoban", "sokoban", {"train": ["sokoban-1"], "val": ["sokoban-2"]})]
    out = tmp_path / "mixed"
    assert merge([*map(str, exports), "--out", str(out)], capsys)[0] == 0
    assert (out / "val.jsonl").read_text() == (exports[1] / "val.jsonl").read_text()


@pytest.mark.parametrize("roms, notice", [
    (["cartridge", "cartridge"], "> The frames come from depthfirst's own test cartridge"),
    (["red", "cartridge"], "> **Warning: not redistributable.** The frames and images in this dataset are "
                           "screens of Pokémon Red"),
], ids=["cartridge", "rom"])
def test_the_merged_card_keeps_the_game_boy_exports_rom_notice(roms, notice, tmp_path, capsys):
    """A Game Boy export's card says whether its screens may be shared (the test cartridge's) or not (the
    user's ROM's): the merged card, whose folder holds those screens, said neither. The cartridge's "may be
    shared" is left out beside a ROM's screens, whose warning covers the whole folder."""
    from envs.gameboy.roms import POKEMON_RED_ROMS, test_cartridge_sha1

    sha1s = {"red": next(iter(POKEMON_RED_ROMS)), "cartridge": test_cartridge_sha1()}
    exports = [hand_export(tmp_path / "snake", "snake", {"train": ["snake-1"]})]
    for k, rom in enumerate(roms):
        export = hand_export(tmp_path / f"pokemon{k}", "pokemon_red", {"train": [f"pokemon_red-{k}"]})
        meta_file = export / "trajectories" / "meta.json"
        meta = json.loads(meta_file.read_text())
        meta_file.write_text(json.dumps({**meta, "rom_sha1": sha1s[rom], "env_kwargs": {}}))
        exports.append(export)
    out = tmp_path / "mixed"
    assert merge([*map(str, exports), "--out", str(out)], capsys)[0] == 0
    card = (out / "README.md").read_text(encoding="utf-8")
    notices = [line for line in card.splitlines() if line.startswith("> ")]
    assert len(notices) == 1 and notices[0].startswith(notice), card


def test_a_test_cartridge_export_merged_after_the_cartridge_is_rebuilt_keeps_its_note(tmp_path, capsys,
                                                                                     monkeypatch):
    """The merge told a test cartridge export from a user's ROM by its rom_sha1 against the cartridge as
    built at merge time: merged after the cartridge was rebuilt (its source changed, another SDCC), its
    screens were called a user's Pokémon Red, not to be redistributed. The export now records that it was
    played on the test cartridge; the rebuild here is a changed byte in a copy the merge hashes."""
    pytest.importorskip("pyboy")
    from envs.gameboy import roms

    run = tmp_path / "run"
    assert load_script("train_ppo").main([
        "--env", "pokemon_red", "--rom", str(roms.TEST_CARTRIDGE), "--state", "none", "--run-dir", str(run),
        "--total-timesteps", "32", "--num-envs", "2", "--num-workers", "0", "--policy", "tiny",
        "--no-progress", "--video-every", "1000000", "--set", "ppo.n_steps=16", "--set", "ppo.batch_size=32",
        "--set", "ppo.n_epochs=1", "--set", "env_kwargs.max_steps=2"]) == 0
    exports = [tmp_path / "a", tmp_path / "b"]  # two seeds: a merge takes two exports or more
    for seed, export in enumerate(exports):
        assert load_script("export_trajectories").main([
            str(run), "--out", str(export), "--episodes", "1", "--seed", str(seed), "--scale", "8",
            "--relative-paths", "--formats", "verl", "--no-progress"]) == 0
    built = roms.TEST_CARTRIDGE.read_bytes()
    meta = json.loads((exports[0] / "trajectories" / "meta.json").read_text())
    assert (meta["rom_sha1"], meta["test_cartridge"]) == (roms.test_cartridge_sha1(), True)
    rebuilt = tmp_path / "depthfirst_test.gb"
    rebuilt.write_bytes(built[:-1] + bytes([built[-1] ^ 1]))
    monkeypatch.setattr(roms, "TEST_CARTRIDGE", rebuilt)
    out = tmp_path / "mixed"
    assert merge([*map(str, exports), "--out", str(out)], capsys)[0] == 0
    card = (out / "README.md").read_text(encoding="utf-8")
    notices = [line for line in card.splitlines() if line.startswith("> ")]
    assert notices == [CARTRIDGE_NOTICE.format(sha1=meta["rom_sha1"])], card


@pytest.mark.parametrize("sha1, recorded, shared", [
    ("12" * 20, True, True),  # an older build of the test cartridge, recorded so at export time
    ("12" * 20, None, False),  # an export made before the record: today's hash alone, which it is not
    ("red", True, False),  # Pokémon Red's own hash is never the test cartridge's, whatever the record says
    ("now", False, False),  # recorded as a user's ROM: the record wins over a hash that matches by chance
    ("12" * 20, "true", False),  # a record edited by hand to no JSON boolean: today's hash, as unrecorded
    ("now", "true", True),  # the same, where today's hash is its ROM's
], ids=["older-build", "older-build-unrecorded", "pokemon-red", "recorded-rom", "not-a-bool",
        "not-a-bool-now"])
def test_the_merged_card_calls_screens_shareable_only_where_the_export_recorded_the_test_cartridge(
        sha1, recorded, shared, tmp_path, capsys):
    """Which notice a Game Boy export's screens get: the test cartridge's "may be shared" only where its
    meta.json says the export played the test cartridge (``test_cartridge``: true), or, for an export made
    before that record (or a record that is no boolean), where its ROM is the cartridge as built now;
    anything else is warned of as a user's ROM, never called free to share."""
    from envs.gameboy.roms import POKEMON_RED_ROMS, test_cartridge_sha1

    rom = {"red": next(iter(POKEMON_RED_ROMS)), "now": test_cartridge_sha1()}.get(sha1, sha1)
    export = hand_export(tmp_path / "pokemon", "pokemon_red", {"train": ["pokemon_red-1"]})
    meta_file = export / "trajectories" / "meta.json"
    record = {} if recorded is None else {"test_cartridge": recorded}
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "rom_sha1": rom, "env_kwargs": {},
                                     **record}))
    exports = [export, hand_export(tmp_path / "snake", "snake", {"train": ["snake-1"]})]
    out = tmp_path / "mixed"
    assert merge([*map(str, exports), "--out", str(out)], capsys)[0] == 0
    card = (out / "README.md").read_text(encoding="utf-8")
    notices = [line for line in card.splitlines() if line.startswith("> ")]
    assert notices == [(CARTRIDGE_NOTICE if shared else POKEMON_WARNING).format(sha1=rom)], card


def _two_snake_exports_merged_with_predictions(tmp_path, capsys, second: str):
    """Two one-record Snake exports with LLaMA-Factory files, ``snake`` and ``second``, merged into
    ``tmp_path/mixed``, and ``tmp_path/preds.jsonl`` answering the first: the merged folder and the scoring
    script."""
    table = pa.table({"problem": ["p"], "answer": ["UP"]})
    exports = [with_llamafactory(hand_export(tmp_path / name, "snake", {"train": [f"{name}-1"]}, table),
                                 "snake") for name in ("snake", second)]
    out = tmp_path / "mixed"
    assert merge([*map(str, exports), "--out", str(out)], capsys)[0] == 0
    (tmp_path / "preds.jsonl").write_text(json.dumps({"id": "snake-1", "response": "UP"}) + "\n")
    return out, load_script("score_predictions")


def test_a_merged_folder_s_trainer_file_given_as_the_split_names_its_split(tmp_path, capsys):
    """score_predictions.py names an export's trainer file given as the split, with the split to give; a
    merged folder's said only "line 1: not JSON (Expecting value: ...)" or "not UTF-8 text", as it has no
    trajectories/meta.json, and its LLaMA-Factory files are named by their entries."""
    out, score = _two_snake_exports_merged_with_predictions(tmp_path, capsys, "snake2")
    for given in ("llamafactory/depthfirst_snake_train_snake2.json", "easyr1/train.parquet"):
        assert score.main([str(out / given), str(tmp_path / "preds.jsonl")]) == 2
        err = capsys.readouterr().err
        assert err == (f"error: split {out / given} is a trainer format's file or folder of the merged "
                       f"folder {out}, not its task records: give the merged folder's split, "
                       f"{out / 'train.jsonl'}\n")


def test_a_held_out_question_asked_again_keeps_trls_line(tmp_path, capsys):
    """Hand mutation pass: TRL's line left out (and its note) wherever an export's val or test question
    was asked before passed every test, though that line loads the trl/ folders' train split alone, which
    then holds no question twice: only a train question asked again drops it, said of that export alone."""
    one = shared_export(tmp_path / "a", {"train": ["s-0", "s-1"], "test": ["s-t"]})
    two = shared_export(tmp_path / "b", {"train": ["s-2"], "test": ["s-t", "s-u"]})  # a test question again
    three = shared_export(tmp_path / "c", {"train": ["s-1", "s-3"], "test": ["s-v"]})  # a train one
    code, printed, err = merge([str(one), str(two), "--out", str(tmp_path / "kept"), "--json"], capsys)
    assert code == 0 and "TRL" not in err and err.startswith(f"warning: 1 question of {two} left out: ")
    assert json.loads(printed)["settings"]["trl"] == [str(one / "trl"), str(two / "trl")]
    code, printed, err = merge([str(one), str(two), str(three), "--out", str(tmp_path / "dropped"), "--json"],
                               capsys)
    assert code == 0 and "trl" not in json.loads(printed)["settings"]
    assert err.splitlines()[:2] == [
        f"warning: 1 question of {two} left out: {one} asks it too (the same question at the same episode "
        "and step, as s-t), and the merged files hold it once",
        f"warning: 1 question of {three} left out (and TRL's line: the exports' trl/ folders hold them "
        f"twice): {one} asks it too (the same question at the same episode and step, as s-1), and the merged "
        "files hold it once"]


def test_a_record_file_without_its_last_newline_is_merged_line_by_line_where_rows_are_left_out(tmp_path,
                                                                                                capsys):
    """Hand mutation pass: the lines of an export some of whose rows are left out written as read passed
    every test, though a file whose last line has no newline (edited by hand) then ran on into the next
    export's first line, one line of two records; a file copied whole has its newline added."""
    one = shared_export(tmp_path / "a", {"train": ["s-0", "s-1"]})
    two = shared_export(tmp_path / "b", {"train": ["s-1", "s-2"]})
    three = shared_export(tmp_path / "c", {"train": ["s-3"]})
    for rel in ("train.jsonl", "openrlhf/train.jsonl"):
        (two / rel).write_text((two / rel).read_text().rstrip("\n"))
    out = tmp_path / "mixed"
    assert merge([str(one), str(two), str(three), "--out", str(out)], capsys)[0] == 0
    assert [r["id"] for r in jsonl_rows(out / "train.jsonl")] == ["s-0", "s-1", "s-2", "s-3"]
    assert [r["prompt"] for r in jsonl_rows(out / "openrlhf" / "train.jsonl")] == ["s-0", "s-1", "s-2", "s-3"]


def test_the_merged_card_warns_of_each_users_rom_once_and_of_no_other_game(tmp_path, capsys):
    """Hand mutation pass: a merged card that kept the first ROM's warning alone, or read only some of the
    exports' meta.json, passed, as no test merged two ROMs; and a game without a ROM (whose meta.json holds
    "rom_sha1": null, as a real export's does) must add no notice."""
    from envs.gameboy.roms import POKEMON_RED_ROMS

    first, second = sorted(POKEMON_RED_ROMS)
    exports = []
    for name, game, sha1 in (("a", "pokemon_red", first), ("s", "snake", None), ("b", "pokemon_red", second)):
        export = hand_export(tmp_path / name, game, {"train": [f"{name}-1"]})
        meta_file = export / "trajectories" / "meta.json"
        meta = json.loads(meta_file.read_text())
        meta_file.write_text(json.dumps({**meta, "rom_sha1": sha1, "env_kwargs": {}}))
        exports.append(export)
    out = tmp_path / "mixed"
    assert merge([*map(str, exports), "--out", str(out)], capsys)[0] == 0
    card = (out / "README.md").read_text(encoding="utf-8")
    notices = [line for line in card.splitlines() if line.startswith("> ")]
    warning = "> **Warning: not redistributable.**"
    assert len(notices) == 2 and all(notice.startswith(warning) for notice in notices), card
    assert [sha1 in notice for notice in notices for sha1 in (first, second)] == [True, False, False, True]


def test_a_merged_trainer_file_is_named_by_its_entrys_split_not_its_exports_folder(tmp_path, capsys):
    """Hand mutation pass: the split read from the last word of an entry's name, or any folder with a
    README.md taken for a merged one, passed: no test merged a second export whose folder is named as a
    split (its entries are depthfirst_snake_train_val), nor gave a trainer file of a folder that has a card
    of its own but no merge_exports.py made it."""
    out, score = _two_snake_exports_merged_with_predictions(tmp_path, capsys, "val")
    given = out / "llamafactory" / "depthfirst_snake_train_val.json"
    assert given.is_file()
    assert score.main([str(given), str(tmp_path / "preds.jsonl")]) == 2
    assert capsys.readouterr().err.endswith(f"give the merged folder's split, {out / 'train.jsonl'}\n")
    # A folder of the user's with a card of its own is no merged folder: its trainer-looking file is not
    # named as one (nor pointed at its train.jsonl).
    mine = tmp_path / "mine"
    shutil.copytree(out / "llamafactory", mine / "llamafactory")
    shutil.copy(out / "train.jsonl", mine / "train.jsonl")
    (mine / "README.md").write_text("# my notes\n")
    assert score.main([str(mine / "llamafactory" / given.name), str(tmp_path / "preds.jsonl")]) == 2
    assert "trainer format" not in capsys.readouterr().err


@pytest.mark.parametrize("sha1", [["ab" * 20], {"sha1": "ab" * 20}], ids=["list", "object"])
def test_a_rom_sha1_that_is_no_string_gets_the_rom_warning_not_a_traceback(sha1, tmp_path, capsys):
    """A meta.json whose rom_sha1 is no string (a list, an object: edited by hand or damaged) stopped the
    merge with a bare "unhashable type" TypeError once its test_cartridge was read (the hash was looked up
    in Pokémon Red's table first); it is no hash of the test cartridge, so its screens get the warning of
    a user's ROM, as before that record, whatever test_cartridge says."""
    export = hand_export(tmp_path / "pokemon", "pokemon_red", {"train": ["pokemon_red-1"]})
    meta_file = export / "trajectories" / "meta.json"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "rom_sha1": sha1, "env_kwargs": {},
                                     "test_cartridge": True}))
    exports = [export, hand_export(tmp_path / "snake", "snake", {"train": ["snake-1"]})]
    out = tmp_path / "mixed"
    assert merge([*map(str, exports), "--out", str(out)], capsys)[0] == 0
    card = (out / "README.md").read_text(encoding="utf-8")
    notices = [line for line in card.splitlines() if line.startswith("> ")]
    assert notices == [POKEMON_WARNING.format(sha1=sha1)], card
