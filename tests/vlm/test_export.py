"""scripts/export_trajectories.py end to end on a tiny Snake model: the folder it writes, splits without
shared episodes or states, the curriculum, the dataset card, byte-identical re-runs (with any number of
workers), and bad input refused with a clear error and nothing lost."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from tests.conftest import RECORDED_ENV, ROOT, interrupted_while_fork_server_imports, load_script
from tests.vlm.test_card import config_paths, yaml_configs
from tests.vlm.test_trajectories import (
    EPISODES,
    MIX,
    datasets_installed,
    export_args,
    snake_export,
    tiny_snake_run,
)
from vlm.card import REWARDS, render_card
from vlm.export import CHUNK, META, OWNER
from vlm.formats import HF_SPLIT
from vlm.record import FAMILIES, TaskRecord
from vlm.splits import assign_episodes, curriculum, parse_mix, parse_ratios, split_records, state_keys
from vlm.trajectories import resolve_run

SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_snake_run(tmp_path_factory)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return snake_export(tmp_path_factory)


# Tests that export the default --formats all, whose trl needs `datasets` (the vlm extra); without it the
# export refuses that default before anything these tests check.
default_formats = pytest.mark.skipif(not datasets_installed(),
                                     reason="exports --formats all, whose trl needs datasets (the vlm extra)")


def test_a_datasets_folder_is_not_taken_for_the_library(tmp_path, monkeypatch):
    # The README exports to datasets/snake in the repository, the folder pytest runs in: without the
    # library, that folder is a namespace package `datasets`, which find_spec finds. The tests then ran
    # the default --formats all, which the export refused (it checks as _installed does), and failed.
    (tmp_path / "datasets" / "snake").mkdir(parents=True)
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> importlib.machinery.ModuleSpec | None:
        if name == "datasets":  # as where the library is not installed: only the folder is found
            return importlib.machinery.PathFinder.find_spec(name, [str(tmp_path)])
        return real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert importlib.util.find_spec("datasets") is not None  # the namespace package
    assert not datasets_installed()


def test_readme_counts_the_tests_that_skip_without_datasets():
    # README's Tests list counts tests as pytest does, each parameter one (the six play tests are one
    # function); it said 14 here, the functions, where pytest without `datasets` skipped 19.
    skipped = 0
    for value in list(globals().values()):
        marks = getattr(value, "pytestmark", [])
        if callable(value) and default_formats.mark in marks:
            skipped += np.prod([len(m.args[1]) for m in marks if m.name == "parametrize"], dtype=int)
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"`datasets` the {skipped} export tests that export the default" in readme


def export(*argv: str) -> int:
    return load_script("export_trajectories").main(list(argv))


def read_split(root: Path, split: str) -> list[dict]:
    return [json.loads(line) for line in (root / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]


def digest_tree(root: Path, written_at: Path | None = None) -> dict[str, str]:
    """SHA-1 of every file; ``written_at``: the folder the export was written to (absolute image paths in
    the JSON formats name it), replaced by a placeholder so a copied export compares equal."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if written_at is not None and p.suffix in (".json", ".jsonl", ".md"):
                data = data.replace(str(written_at).encode(), b"<ROOT>")
            out[str(p.relative_to(root))] = hashlib.sha1(data).hexdigest()
    return out


def test_the_export_folder_holds_store_records_images_formats_card(exported):
    for name in ("README.md", "curriculum.json", "train.jsonl", "val.jsonl", "test.jsonl",
                 "trajectories/meta.json", "trajectories/episodes.parquet", "llamafactory/dataset_info.json",
                 "easyr1/train.parquet", "verl/test.parquet", "openrlhf/val.jsonl", "swift/train.jsonl"):
        assert (exported / name).is_file(), name
    assert list((exported / "trajectories" / "steps").glob("part-*.parquet"))
    assert not list(exported.parent.glob(".export*")) and not (exported / ".tmp").exists()  # no leftovers
    records = [TaskRecord.from_dict(r) for s in SPLITS for r in read_split(exported, s)]
    assert {r.family for r in records} == set(FAMILIES)
    assert len({r.id for r in records}) == len(records)
    meta = json.loads((exported / "trajectories/meta.json").read_text())
    policy = meta["policy"]
    for r in records:
        assert r.game == "snake" and 1 <= r.plot_level <= 3 and 1 <= r.qa_level <= 3
        assert set(r.source) >= {"env", "run", "checkpoint", "seed", "episode", "step", "policy", "frame"}
        assert r.source["run"] == "snake-tiny" and r.source["seed"] == 1_000_000 + r.source["episode"]
        # The model file played, not the run's folder again (the run's name passed as the checkpoint's)
        assert r.source["env"] == "snake" and r.source["checkpoint"] == "model.zip" == Path(
            meta["run"]["checkpoint"]).name
        assert r.source["policy"] == f"{policy['algorithm']}/{policy['preset']}@{policy['num_timesteps']}"
        assert all((exported / p).is_file() for p in r.images)
    # Identical images are written once: file names are the SHA-1 of the pixels, every file is used.
    files = {str(p.relative_to(exported)) for p in (exported / "images").rglob("*.png")}
    used = {p for r in records for p in r.images} | {r.source["frame"] for r in records}
    assert used <= files and len(files) == meta["counts"]["images"]


def test_a_records_source_names_the_step_it_was_asked_about(exported):
    from tests.conftest import load_steps

    rows = {(r["episode"], r["t"]): r for r in load_steps(exported).to_pylist()}
    records = [TaskRecord.from_dict(r) for s in SPLITS for r in read_split(exported, s)]
    for r in records:
        row = rows[r.source["episode"], r.source["step"]]
        assert r.source["frame"] == row["frame"] and r.source["seed"] == row["seed"]
        if "state" in r.extra:
            assert r.extra["state"] == json.loads(row["state"])
    assert any("state" in r.extra for r in records)


def test_splits_share_no_episode_and_no_identical_state(exported):
    by_split = {s: read_split(exported, s) for s in SPLITS}
    episodes = {s: {r["source"]["episode"] for r in recs} for s, recs in by_split.items()}
    keys = {s: set().union(*(state_keys(r) for r in recs)) if recs else set() for s, recs in by_split.items()}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not episodes[a] & episodes[b], (a, b)
        assert not keys[a] & keys[b], (a, b)
    assert all(by_split[s] for s in SPLITS)


def test_repeated_states_are_dropped_from_val_and_test():
    def rec(i: str, ep: int, img: str) -> dict:
        return {"id": i, "images": [img], "source": {"episode": ep, "frame": f"f{img}"},
                "family": "perception"}

    records = [rec("a", 0, "x"), rec("b", 1, "x"), rec("c", 1, "y"), rec("d", 2, "y"), rec("e", 2, "z")]
    splits, dropped = split_records(records, {0: "train", 1: "val", 2: "test"})
    assert [r["id"] for r in splits["val"]] == ["c"] and [r["id"] for r in splits["test"]] == ["e"]
    assert dropped == {"train": 0, "val": 1, "test": 1}
    # The same state asked about in another picture (an edited image, say) is the same state too.
    asked = [{"id": "a", "images": ["x"], "source": {"episode": 0, "frame": "f"}, "family": "perception"},
             {"id": "b", "images": ["y"], "source": {"episode": 1, "frame": "f"}, "family": "perception"}]
    splits, dropped = split_records(asked, {0: "train", 1: "val"})
    assert splits["val"] == [] and dropped["val"] == 1
    assert parse_ratios("8,1,1") == (0.8, 0.1, 0.1)
    dealt = assign_episodes(range(10), (0.8, 0.1, 0.1), seed=1)
    assert sorted(dealt.values()).count("val") == 1 and sorted(dealt.values()).count("test") == 1
    # Too few episodes for a tenth each: val and test still get one, train the rest.
    dealt = sorted(assign_episodes(range(4), (0.8, 0.1, 0.1), seed=1).values())
    assert dealt == ["test", "train", "train", "val"]
    # A split asked to be empty stays empty: no episode left over by rounding goes to it.
    for n in range(1, 12):
        for ratios in ((0.0, 0.5, 0.5), (0.0, 0.3, 0.7), (0.5, 0.0, 0.5), (0.5, 0.5, 0.0)):
            dealt = assign_episodes(range(n), ratios, seed=1)
            assert len(dealt) == n
            assert not [s for s, r in zip(SPLITS, ratios, strict=True) if r == 0 and s in dealt.values()]


def test_curriculum_stages_part_the_levels_and_interleave_the_families():
    """Every record is in exactly one stage, stages go easy to hard without overlapping, and a stage's
    schedule interleaves the families instead of playing one after the other."""
    records = [{"id": f"{f}-{p}-{q}-{k}", "family": f, "plot_level": p, "qa_level": q}
               for f in ("perception", "strategy") for p in (1, 2, 3) for q in (1, 2, 3) for k in range(10)]
    stages = curriculum(records, None, seed=0)["stages"]
    ids = [i for stage in stages for i in stage["ids"]]
    assert sorted(ids) == sorted(r["id"] for r in records)
    sums = [stage["level_sum"] for stage in stages]
    assert sums[0][0] == 2 and sums[-1][1] == 6
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(sums))
    for stage in stages:
        families = [i.split("-")[0] for i in stage["schedule"]]
        assert set(families) == {"perception", "strategy"}
        changes = sum(a != b for a, b in itertools.pairwise(families))
        assert changes > len(families) // 4, (stage["name"], families)


def test_curriculum_goes_easy_to_hard_and_mixes_families_at_the_ratios(exported):
    manifest = json.loads((exported / "curriculum.json").read_text())
    train = {r["id"]: r for r in read_split(exported, "train")}
    assert [s["name"] for s in manifest["stages"]] == ["easy", "medium", "hard"]
    assert manifest["mix"] == pytest.approx(parse_mix(MIX))
    sums = [s["level_sum"] for s in manifest["stages"]]
    assert sums == sorted(sums)
    assert sum(s["count"] for s in manifest["stages"]) == len(train)
    for stage in manifest["stages"]:
        lo, hi = stage["level_sum"]
        assert all(lo <= train[i]["plot_level"] + train[i]["qa_level"] <= hi for i in stage["ids"])
        schedule = stage["schedule"]
        assert set(schedule) <= set(stage["ids"]) and len(set(schedule)) == len(schedule)
        assert "vision_zero" not in stage["mix"]  # not in --mix: left out of the schedule
        n = len(stage["schedule"])
        if n >= 20:
            for family, ratio in stage["mix"].items():
                share = sum(train[i]["family"] == family for i in stage["schedule"]) / n
                assert share == pytest.approx(ratio, abs=2 / n + 0.01), (stage["name"], family)


def test_dataset_card_counts_examples_and_provenance(exported):
    card = (exported / "README.md").read_text(encoding="utf-8")
    records = {s: read_split(exported, s) for s in SPLITS}
    total = sum(len(r) for r in records.values())
    assert f"{total:,} task records" in card
    for family in FAMILIES:
        n = sum(r["family"] == family for recs in records.values() for r in recs)
        assert f"| {family} | " in card and f"| {n} |" in card
    assert "| snake | " in card and "plot 1" in card and "qa 3" in card
    assert "scripts/export_trajectories.py " in card and "model.zip" in card  # the command, as it was run
    images = [p for line in card.splitlines() if line.startswith("![image")
              for p in (part.split(")")[0] for part in line.split("](")[1:])]
    assert images and all((exported / p).is_file() for p in images)
    shown = re.findall(r"^#### \S+ / \S+ \(`([^`]+)`", card, re.M)
    train_ids = {r["id"] for r in records["train"]}
    assert shown and set(shown) <= train_ids  # no held-out answer is published in the card
    assert "Pokémon" not in card and "redistributable" not in card  # no ROM: the warning is for Game Boy


def test_the_cards_image_names_are_the_hash_it_names_of_the_decoded_pngs(exported):
    # The card said "the SHA-1 of their pixels": hashlib.sha1 of a decoded PNG's bytes matched no file, as
    # image_hash hashes the array's shape and dtype first.
    from vlm.imagestore import image_hash

    card = (exported / "README.md").read_text(encoding="utf-8")
    assert ("- `images/`: PNGs named by `vlm.imagestore.image_hash` of their decoded pixels (the SHA-1 of "
            "the array's shape, dtype and bytes), each distinct image stored once") in card
    for path in sorted((exported / "images").glob("*/*.png"))[:40]:
        assert image_hash(np.asarray(Image.open(path))) == path.stem


def test_card_configs_name_the_exports_files(exported):
    configs = yaml_configs((exported / "README.md").read_text(encoding="utf-8"))
    assert [c["config_name"] for c in configs] == ["default"]
    for config in configs:
        assert all(sorted(exported.glob(path)) for path in config_paths(config)), config


@pytest.mark.skipif(not datasets_installed(), reason="reads the export with datasets (the vlm extra)")
def test_the_cards_datasets_calls_load_the_exports_rows(run, exported, tmp_path, monkeypatch):
    """Each `datasets.load_dataset(...)` the card shows, run as written (a trajectories-only export's read
    the frames as an image folder: a row per PNG, labelled by its hash folder)."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")

    def card_loads(root: Path) -> list[dict[str, int]]:
        card = (root / "README.md").read_text(encoding="utf-8")
        calls = re.findall(r"`(datasets\.load_dataset\([^`]*\))`", card)
        loaded = [eval(call, {"datasets": datasets, "os": os}) for call in calls]
        return [{split: ds.num_rows for split, ds in splits.items()} for splits in loaded]

    counts = json.loads((exported / META).read_text())["counts"]
    assert card_loads(exported) == [
        {"train": counts["records"]["train"], "validation": counts["records"]["val"],
         "test": counts["records"]["test"]}, {"train": counts["steps"]}]
    out = tmp_path / "traj"
    assert export(str(run), "--out", str(out), "--episodes", "2", "--tasks-per-state", "0",
                  "--no-progress") == 0
    counts = json.loads((out / META).read_text())["counts"]
    assert card_loads(out) == [{"train": counts["steps"]}, {"train": 2}]
    # With --relative-paths the card's commands run from the export's folder, where the card said
    # load_dataset('.'), which datasets 5.2 refuses ("dataset_name should be specified but got None").
    rel = tmp_path / "rel"
    assert export(str(run), "--out", str(rel), "--episodes", "4", "--formats", "verl", "--relative-paths",
                  "--no-progress") == 0
    monkeypatch.chdir(rel)
    counts = json.loads((rel / META).read_text())["counts"]
    assert card_loads(rel) == [{HF_SPLIT[s]: n for s, n in counts["records"].items() if n},
                               {"train": counts["steps"]}]


def test_card_commands_work_from_any_folder(exported):
    """Without --relative-paths every path in the card's commands is absolute: the export's files, the
    reward file of this installation, and the recorded command (run in the folder it was made in)."""
    card = (exported / "README.md").read_text(encoding="utf-8")
    table = card[card.index("| format |"):card.index("Ground truths")]
    assert REWARDS.is_file() and str(REWARDS) in table and not re.search(r"[ =]vlm/rewards\.py", table)
    flags = ("--data.prompt_dataset ", "data.train_files=", "data.val_files=", "--dataset ", "dataset_dir: ")
    for flag in flags:
        paths = re.findall(re.escape(flag) + r"([^ `,]+)", table)
        assert paths and all(Path(p).is_absolute() and Path(p).exists() for p in paths), (flag, paths)
    meta = json.loads((exported / META).read_text())
    words = shlex.split(meta["command"])
    env = shlex.split(RECORDED_ENV)  # the tests' PYTHONPATH, if any, before the interpreter
    assert words[0] == "cd" and words[2] == "&&" and words[3:3 + len(env)] == env
    del words[3:3 + len(env)]
    assert words[3] == sys.executable
    assert (Path(words[1]) / words[4]).resolve() == ROOT / "scripts" / "export_trajectories.py"
    assert f"```bash\n{meta['command']}\n```" in card


def test_the_run_path_is_recorded_absolute(run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(run.parent)
    out = tmp_path / "rel"
    assert export(run.name, "--out", os.path.relpath(out), "--episodes", "2", "--formats", "none",
                  "--no-progress", "--json") == 0
    meta = json.loads((out / META).read_text())
    assert meta["run"]["path"] == str(run) and meta["run"]["checkpoint"] == str(run / "model.zip")
    # --json's out, as its checkpoint beside it: it was "../rel", as typed, read from no folder it names.
    printed = json.loads(capsys.readouterr().out)
    assert printed["out"] == str(out) and printed["checkpoint"] == str(run / "model.zip")
    # Re-runnable from anywhere: it goes back to the folder whose relative paths it names.
    assert meta["command"].startswith(f"cd {shlex.quote(str(run.parent))} && {RECORDED_ENV}"
                                      f"{shlex.quote(sys.executable)} ")


@default_formats
@pytest.mark.parametrize("odd", ["out", "cwd"])
def test_a_folder_named_in_no_utf_8_is_refused_before_the_export(run, tmp_path, monkeypatch, capsys, odd):
    """The records, the card and meta.json name --out and the folder the export ran in, in UTF-8 files: such
    a folder failed the export at its end (UnicodeEncodeError); it is refused at the start, named."""
    folder = os.path.join(os.fsencode(tmp_path), b"caf\xe9")
    try:
        os.mkdir(folder)
    except OSError:  # a file system that takes UTF-8 names only has no such folder
        pytest.skip("this file system refuses a name in no UTF-8")
    if odd == "out":
        out = os.fsdecode(os.path.join(folder, b"out"))
    else:
        monkeypatch.chdir(folder)
        out = str(tmp_path / "out")
    assert export(str(run), "--out", out, "--episodes", "2", "--no-progress") == 2
    err = capsys.readouterr().err
    named = "--out" if odd == "out" else "the folder you are in"
    assert f"error: {named} b'{os.fsdecode(tmp_path)}/caf\\xe9" in err and "not a UTF-8 path" in err, err
    assert not os.path.exists(os.path.join(folder, b"out")) and not (tmp_path / "out").exists()


def test_a_trajectories_only_export_writes_no_trainer_formats(run, tmp_path, capsys, monkeypatch):
    spec = importlib.util.find_spec
    out = tmp_path / "traj"
    assert export(str(run), "--out", str(out), "--episodes", "2", "--tasks-per-state", "0",
                  "--no-progress") == 0  # --formats all, the default
    said = capsys.readouterr().out
    assert "trajectories only" in said and "formats:" not in said
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "images", "trajectories"]
    meta = json.loads((out / META).read_text())
    assert meta["formats"] == {} and meta["counts"]["records"] == {"train": 0, "val": 0, "test": 0}
    assert meta["rom_sha1"] is meta["test_cartridge"] is None  # no cartridge: Snake's replay game has none
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "no trainer formats" in card and "| format |" not in card and "## Examples" not in card
    # no records: datasets.load_dataset(out) reads the steps (it read the frames as an image folder)
    configs = yaml_configs(card)
    assert [(c["config_name"], c.get("default")) for c in configs] == [("steps", True), ("episodes", None)]
    assert all(sorted(out.glob(path)) for c in configs for path in config_paths(c)), configs
    files = card[card.index("## Files and formats"):]
    listed = re.findall(r"^- `([^`]+)`", files, flags=re.MULTILINE)
    assert listed and all((out / name).exists() for name in listed), listed
    # Named formats cannot be written without records; nor does the default need the trl format's package.
    assert export(str(run), "--out", str(tmp_path / "x"), "--tasks-per-state", "0", "--formats", "verl,trl",
                  "--no-progress") == 2
    assert ("--formats verl,trl: trainer formats hold task records, and --tasks-per-state 0 draws none; drop "
            "--formats (or raise --tasks-per-state)") in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    # Nor a curriculum mix: it was accepted, written to meta.json and used for nothing.
    assert export(str(run), "--out", str(tmp_path / "m"), "--tasks-per-state", "0", "--mix", "perception=1",
                  "--no-progress") == 2
    err = capsys.readouterr().err
    assert ("--mix perception=1: the mix orders task records in the curriculum, and --tasks-per-state 0 "
            "draws none; drop --mix (or raise --tasks-per-state)") in err
    assert not (tmp_path / "m").exists()
    # Nor --split or --relative-paths (without --minari, whose card path it makes relative): both were taken
    # and changed nothing. --split's default is None so that one given, even the default, can be told.
    for flags, message in ((["--split", "0.8,0.1,0.1"], "--split 0.8,0.1,0.1: the split deals the task "
                             "records' episodes to train, val and test, and --tasks-per-state 0 draws none"),
                           (["--relative-paths"], "--relative-paths: it makes the trainer formats' image "
                            "paths relative, and --tasks-per-state 0 writes no trainer format")):
        assert export(str(run), "--out", str(tmp_path / "s"), "--tasks-per-state", "0", *flags,
                      "--no-progress") == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "s").exists()
    if spec("minari"):  # with --minari, --relative-paths makes the card's Minari path relative: taken
        assert export(str(run), "--out", str(tmp_path / "r"), "--episodes", "1", "--tasks-per-state", "0",
                      "--minari", "--relative-paths", "--no-progress") == 0
        assert json.loads((tmp_path / "r" / META).read_text())["relative_paths"] is True
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "datasets" else spec(name))
    assert export(str(run), "--out", str(tmp_path / "y"), "--episodes", "1", "--tasks-per-state", "0",
                  "--no-progress") == 0


def test_a_trajectories_only_export_of_a_game_without_tasks_is_not_told_to_raise_tasks_per_state(tmp_path):
    """--formats, --mix or --split with --tasks-per-state 0 on a gameboy run was told "(or raise
    --tasks-per-state)", which its game then refused as having no task module: it is told that instead."""
    from vlm.export import ExportError, ExportOptions, plan

    run = tmp_path / "run"
    run.mkdir()
    settings = {"env": "gameboy", "env_kwargs": {"game": "depthfirst_test"}}
    (run / "config.yaml").write_text(yaml.safe_dump(settings))
    (run / "model.zip").write_bytes(b"PK")
    for flag, given in (("--formats", {"formats": "trl"}), ("--mix", {"mix": "perception=1"}),
                        ("--split", {"split": "0.8,0.1,0.1"})):
        opts = ExportOptions(run=str(run), out=str(tmp_path / "out"), tasks_per_state=0, **given)
        with pytest.raises(ExportError) as refused:
            plan(opts)
        said = str(refused.value)
        assert f"drop {flag}" in said and "raise --tasks-per-state" not in said, said
        assert "gameboy has no task module: its exports are trajectories only" in said, said


def test_a_trajectories_only_export_takes_all_or_none_however_written(tmp_path):
    """--formats is read as parse_formats reads it: "ALL," and "all,all" are all (the default), which a
    trajectories-only export takes, where the raw text compared with "all" refused them as named formats.
    The run is checked after the formats, so reaching it means the formats passed."""
    from vlm.export import ExportError, ExportOptions, plan

    for text in ("ALL,", "all,all", " None ,"):
        opts = ExportOptions(run=str(tmp_path / "no-run"), out=str(tmp_path / "out"), formats=text,
                             tasks_per_state=0)
        with pytest.raises(ExportError, match="no such run folder"):
            plan(opts)


def test_game_boy_cards_carry_the_rom_warning_unless_the_test_cartridge_made_them(exported):
    from envs.gameboy.roms import test_cartridge_sha1

    meta = json.loads((exported / "trajectories" / "meta.json").read_text())
    splits = {s: read_split(exported, s)[:3] for s in SPLITS}
    manifest = json.loads((exported / "curriculum.json").read_text())
    tetris = {**meta, "env": "gameboy", "env_kwargs": {"game": "tetris"}, "rom_sha1": "ab" * 20}
    card = render_card(tetris, splits, manifest, ["verl"])
    assert "not redistributable" in card and "must not be redistributed" in card and "ab" * 20 in card
    assert "`tetris`" in card and "TETRIS" in card and "Pokémon" not in card and "Nintendo" not in card
    own = render_card({**tetris, "env_kwargs": {"game": "depthfirst_test"},
                       "rom_sha1": test_cartridge_sha1()}, splits, manifest, ["verl"])
    assert "not redistributable" not in own and "may be shared" in own


def test_counts_in_generated_text_are_pluralised(exported):
    meta = json.loads((exported / "trajectories" / "meta.json").read_text())
    splits = {s: read_split(exported, s)[:1] for s in SPLITS}
    manifest = json.loads((exported / "curriculum.json").read_text())
    one = {**meta, "counts": {**meta["counts"], "episodes_kept": 1, "steps": 1, "images": 1}}
    card = render_card(one, splits, manifest, [])
    assert "made from 1 episode (1 step)" in card and "1 distinct PNG image (" in card
    assert not re.search(r"\b1 (episodes|steps|images)\b", card)
    # --mix ratios are rounded, not 0.30000000000000004 (0.3 + 0.4 + 0.2 + 0.1 is not 1.0 in floats)
    assert parse_mix("perception=0.3,strategy=0.4,state_prediction=0.2,vision_zero=0.1") == {
        "perception": 0.3, "strategy": 0.4, "state_prediction": 0.2, "vision_zero": 0.1}


def test_an_empty_mix_is_refused_not_read_as_no_mix():
    # --mix "$MIX" with MIX unset exported the natural mix without a word, where --formats '' is refused.
    assert parse_mix(None) is None
    for text in ("", " ", ","):
        with pytest.raises(ValueError, match=r"--mix .*at least one family needs a ratio above 0"):
            parse_mix(text)
    # A ratio that is no number, negative or not finite names the family and the text given.
    for ratio in ("abc", "-0.5", "inf", "nan"):
        with pytest.raises(ValueError, match=f"--mix strategy: the ratio must be a non-negative number, got "
                                             f"'{ratio}'"):
            parse_mix(f"perception=1,strategy={ratio}")


def test_mix_naming_a_family_twice_or_only_families_the_game_never_draws_is_refused(run, tmp_path, capsys,
                                                                                    monkeypatch):
    with pytest.raises(ValueError, match="names perception twice"):
        parse_mix("perception=0.5,strategy=0.4,perception=0.1")
    # Pokémon draws perception and Vision-Zero records only: --mix strategy=1 gave empty schedules.
    from vlm.tasks import pokemon_red, snake

    assert set(pokemon_red.FAMILIES) == {"perception", "vision_zero"}
    monkeypatch.setattr(snake, "FAMILIES", ("perception", "vision_zero"), raising=False)
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "2", "--mix", "strategy=1", "--no-progress") == 2
    err = capsys.readouterr().err
    assert ("--mix strategy=1: snake has no records of strategy; its families are perception, "
            "vision_zero") in err
    assert not out.exists() and not list(tmp_path.glob(".out*"))


@pytest.mark.parametrize("name, formats, relative, noted", [
    ("a@b", "easyr1,openrlhf", False, ["easyr1"]),  # EasyR1 reads DATASET@SPLIT
    ("a,b", "easyr1,openrlhf", False, ["openrlhf"]),  # OpenRLHF a comma list of datasets
    ("a,b@c", "verl,llamafactory", False, []),  # formats whose trainers split no path
    ("a,b@c", "easyr1,openrlhf", True, []),  # the card's commands name the files relative to the folder
])
def test_an_out_a_trainer_would_split_is_noted_before_the_export(run, tmp_path, name, formats, relative,
                                                                  noted):
    import vlm.export as ex

    out = tmp_path / name
    notes = ex.plan(ex.ExportOptions(str(run), str(out), formats=formats, relative_paths=relative)).notes
    assert [n.split("card's ")[1].split()[0] for n in notes] == noted
    assert all(n.startswith(f"note: --out {out} holds ") and "--relative-paths" in n for n in notes)


def test_more_tasks_per_state_than_the_game_draws_is_noted_once(run, tmp_path, capsys):
    # Snake draws one task per family (4 a state): --tasks-per-state 5 gave at most 4, silently.
    assert export(str(run), "--out", str(tmp_path / "five"), "--episodes", "1", "--tasks-per-state", "5",
                  "--formats", "none", "--no-progress") == 0
    err = capsys.readouterr().err
    note = ("note: --tasks-per-state 5: snake draws at most 4 tasks per state (one per family: perception, "
            "state_prediction, strategy, vision_zero), so each state gets all it has; --tasks-per-state 4 "
            "is the most that counts")
    assert err.count(note) == 1
    assert export(str(run), "--out", str(tmp_path / "four"), "--episodes", "1", "--tasks-per-state", "4",
                  "--formats", "none", "--no-progress") == 0
    assert "--tasks-per-state" not in capsys.readouterr().err


def test_pokemon_cards_carry_the_commercial_rom_warning(exported):
    meta = json.loads((exported / "trajectories" / "meta.json").read_text())
    splits = {s: read_split(exported, s)[:3] for s in SPLITS}
    manifest = json.loads((exported / "curriculum.json").read_text())
    card = render_card({**meta, "env": "pokemon_red", "rom_sha1": "ea9bcae617fdf159b045185467ae58b2e4a48b9a"},
                       splits, manifest, ["verl"])
    assert "must not" in card.lower() or "do not upload, share or publish" in card
    assert "commercial" in card and "ea9bcae617fdf159b045185467ae58b2e4a48b9a" in card
    from envs.gameboy.roms import test_cartridge_sha1

    own = render_card({**meta, "env": "pokemon_red", "rom_sha1": test_cartridge_sha1()}, splits, manifest,
                      ["verl"])
    assert "not redistributable" not in own and "test cartridge" in own and test_cartridge_sha1() in own


def test_the_same_export_is_byte_identical_with_any_number_of_workers(run, exported, tmp_path, capsys):
    out = tmp_path / "again"
    shutil.copytree(exported, out)
    before = digest_tree(out, written_at=exported)
    capsys.readouterr()
    assert export(*export_args(run, out, "--overwrite", "--workers", "2")) == 0
    # the old export's removal (Ctrl-C waits for it) is announced; nothing of it is left
    assert "removing the previous export (moved to " in capsys.readouterr().err
    assert not list(tmp_path.glob(".again.old-*"))
    after = digest_tree(out, written_at=out)
    assert set(before) == set(after)
    # Only the command line differs (the card and meta.json quote it, with --workers 2).
    differ = sorted(k for k in before if before[k] != after[k])
    assert differ == ["README.md", "trajectories/meta.json"] or differ == []
    old = json.loads((exported / "trajectories/meta.json").read_text())
    new = json.loads((out / "trajectories/meta.json").read_text())
    assert {**old, "command": "", "run": None} == {**new, "command": "", "run": None}
    assert EPISODES > CHUNK  # more than one chunk, so the two workers really split the episodes


def test_each_episode_draws_its_own_tasks_at_a_step(exported):
    """The task seeds take the episode as well as the step, so the episodes do not all get the same
    questions at step t (the same export re-run is still byte-identical: the test above)."""
    first = [r for s in SPLITS for r in read_split(exported, s) if r["source"]["step"] == 0]
    kept: dict[int, list[int]] = {}  # episode -> the drafts picked at its first step (game-ep-step-k-tag)
    for r in first:
        kept.setdefault(r["source"]["episode"], []).append(int(r["id"].split("-")[3]))
    assert len(kept) == EPISODES and len({tuple(sorted(ks)) for ks in kept.values()}) > 1
    assert all(re.fullmatch(r"snake-\d{6}-00000-\d{2}-[0-9a-f]{8}", r["id"]) for r in first)
    # Draft 0 asks about one thing the seed alone chooses (the apple is on the board at the start).
    assert len({r["qa_type"] for r in first if r["id"].split("-")[3] == "00"}) > 1
    # Nor does an episode ask the same drafts at every step: the pick takes the step too. An episode of 4
    # steps or more (5+ states, every one drawing from several drafts) asking the same at each is the pick
    # of one generator per episode.
    picked: dict[int, dict[int, set[int]]] = {}  # episode -> step -> the drafts asked there
    for r in (r for s in SPLITS for r in read_split(exported, s)):
        ep, step, draft = (int(x) for x in r["id"].split("-")[1:4])
        picked.setdefault(ep, {}).setdefault(step, set()).add(draft)
    long = {ep: steps for ep, steps in picked.items() if len(steps) >= 4}
    assert long and all(len({tuple(sorted(d)) for d in steps.values()}) > 1 for steps in long.values())


def test_a_run_folder_without_a_model_is_refused(run, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(run / "config.yaml", bare / "config.yaml")
    assert export(str(bare), "--out", str(tmp_path / "out"), "--no-progress") == 2
    err = capsys.readouterr().err
    assert "no checkpoint to load" in err and "--checkpoint" in err  # runs.latest_checkpoint's hint
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
    assert export(str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")) == 2
    assert "no such run folder" in capsys.readouterr().err
    # A file is called a file (as evaluate calls it), with the folder it is in.
    assert export(str(bare / "config.yaml"), "--out", str(tmp_path / "out")) == 2
    assert f"config.yaml is a file; give the run folder ({bare})" in capsys.readouterr().err
    # A --checkpoint folder is called a folder (as evaluate calls it), not "no such file".
    assert export(str(bare), "--checkpoint", str(tmp_path), "--out", str(tmp_path / "out")) == 2
    assert f"--checkpoint {tmp_path} is a folder; give a model file (.zip)" in capsys.readouterr().err


@default_formats
def test_an_out_folder_under_a_file_is_refused(run, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert export(str(run), "--out", str(tmp_path / "notes.txt" / "ds"), "--no-progress") == 2
    assert "notes.txt is not a folder; choose another place" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_split_left_empty_is_pointed_out(run, tmp_path, capsys):
    out = tmp_path / "small"
    assert export(str(run), "--episodes", "2", "--out", str(out), "--formats", "none", "--no-progress") == 0
    counts = {s: len(read_split(out, s)) for s in SPLITS}
    empty = [s for s in SPLITS if not counts[s]]
    assert empty and counts["train"]  # two episodes cannot fill three splits
    assert f"note: no records in {' and '.join(empty)}" in capsys.readouterr().err
    # Splits asked to be empty are not pointed out as a problem.
    assert export(str(run), "--episodes", "2", "--out", str(tmp_path / "all-train"), "--split", "1,0,0",
                  "--formats", "none", "--no-progress") == 0
    assert "note:" not in capsys.readouterr().err


def test_splits_emptied_by_repeated_states_say_so():
    note = load_script("export_trajectories").empty_split_note
    assert note({"train": 5, "val": 3, "test": 2}, {"val": 1, "test": 0}) is None
    assert note({"train": 0, "val": 0, "test": 0}, {"val": 0, "test": 0}) is None  # trajectories only
    assert "play more --episodes" in note({"train": 5, "val": 0, "test": 0}, {"val": 0, "test": 0})
    alike = note({"train": 480, "val": 0, "test": 0}, {"val": 60, "test": 60})
    assert "all 120 of their records repeated states" in alike and "--stochastic" in alike
    assert "--episodes" not in alike  # more of the same episodes cannot help
    mixed = note({"train": 9, "val": 0, "test": 0}, {"val": 4, "test": 0})
    assert mixed.startswith("note: no records in val and test: val got episodes") and "--episodes" in mixed
    # A split asked to be empty (--split 1,0,0 or 0,0,1) is no problem to point out.
    none = {"val": 0, "test": 0}
    assert note({"train": 9, "val": 0, "test": 0}, none, {"train": 1.0, "val": 0.0, "test": 0.0}) is None
    assert note({"train": 0, "val": 0, "test": 9}, none, {"train": 0.0, "val": 0.0, "test": 1.0}) is None
    half = note({"train": 9, "val": 0, "test": 0}, none, {"train": 0.8, "val": 0.2, "test": 0.0})
    assert half.startswith("note: no records in val:")
    # An export already played --stochastic (short sampled episodes from one Game Boy start state still
    # repeat) was told to play with --stochastic: it is told what else varies the states instead.
    sampled = note({"train": 8, "val": 0, "test": 0}, {"val": 12, "test": 16}, stochastic=True)
    assert "--stochastic" not in sampled
    assert sampled.endswith("(the episodes play alike): play from varied start states, or longer episodes "
                            "if --max-steps cut them short")


def test_a_stochastic_export_whose_splits_repeat_is_not_told_to_play_stochastic(run, tmp_path, capsys,
                                                                                  monkeypatch):
    # The script passes --stochastic on to the note (the test above calls the note itself).
    import vlm.splits

    monkeypatch.setattr(vlm.splits, "state_keys", lambda rec: {0})  # every record repeats train's state
    assert export(str(run), "--out", str(tmp_path / "out"), "--episodes", "10", "--stochastic",
                  "--tasks-per-state", "1", "--formats", "none", "--no-progress") == 0
    err = capsys.readouterr().err
    assert "note: no records in val and test: " in err and "play from varied start states" in err
    assert "--stochastic" not in err


@default_formats
def test_a_checkpoint_of_other_settings_is_refused_before_play(run, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(run, other)
    cfg = yaml.safe_load((other / "config.yaml").read_text())
    cfg["env_kwargs"]["size"] = 8  # the checkpoint was trained on 6×6
    (other / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert export(str(other), "--checkpoint", str(run / "model.zip"), "--out", str(tmp_path / "out"),
                  "--no-progress") == 2
    err = capsys.readouterr().err
    assert f"the checkpoint {run / 'model.zip'} reads" in err and "Traceback" not in err
    assert "trained on another game or settings; give --checkpoint a model trained with this run's" in err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_an_env_without_a_task_module_is_refused(run, tmp_path, capsys, monkeypatch):
    from envs import GAMES
    from vlm import tasks

    missing = sorted(set(GAMES) - set(tasks.TASK_GAMES))
    other = tmp_path / "other"
    shutil.copytree(run, other)
    if missing:  # a real env with no task module (a Game Boy game, say)
        cfg = yaml.safe_load((other / "config.yaml").read_text())
        (other / "config.yaml").write_text(yaml.safe_dump({**cfg, "env": missing[0], "env_kwargs": {}}))
        env = missing[0]
    else:  # every env has one today: take Snake's away
        monkeypatch.setattr(tasks, "TASK_GAMES", tuple(g for g in tasks.TASK_GAMES if g != "snake"))
        env = "snake"
    assert export(str(other), "--out", str(tmp_path / "out"), "--no-progress") == 2
    err = capsys.readouterr().err
    assert f"env {env!r} has no task module" in err and f"vlm/tasks/{env}.py" in err
    assert "--tasks-per-state 0" in err
    assert not (tmp_path / "out").exists()
    # Without the datasets package (no [vlm] extra) the same advice, not "install datasets" for trl.
    spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "datasets" else spec(name))
    assert export(str(other), "--out", str(tmp_path / "out"), "--no-progress") == 2
    err = capsys.readouterr().err
    assert f"env {env!r} has no task module" in err and "datasets" not in err


def test_a_folder_named_like_a_missing_package_is_not_taken_for_it(run, tmp_path, capsys, monkeypatch):
    # Without the [vlm] extra, a `datasets/` folder (the README's --out datasets/snake) in a folder on
    # sys.path is a namespace package to find_spec: the export ran to its trl format, then an ImportError.
    (tmp_path / "path" / "datasets" / "snake").mkdir(parents=True)
    (tmp_path / "path" / "minari").mkdir()
    spec = importlib.util.find_spec

    def find_spec(name, *a):
        if name in ("datasets", "minari"):
            return importlib.machinery.PathFinder.find_spec(name, [str(tmp_path / "path")])
        return spec(name, *a)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert importlib.util.find_spec("datasets") is not None  # the namespace package
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "1", "--no-progress") == 2
    # The default --formats is named as such (it said "--formats trl" to a user who gave no --formats),
    # with the install line the README uses.
    err = capsys.readouterr().err
    assert "--formats all (the default) writes trl, which needs the Hugging Face datasets package" in err
    assert 'pip install -e ".[vlm]"' in err
    assert export(str(run), "--out", str(out), "--episodes", "1", "--formats", "trl,verl",
                  "--no-progress") == 2
    err = capsys.readouterr().err
    assert "--formats trl,verl writes trl, which needs" in err
    assert "or leave trl out of --formats (e.g. --formats llamafactory,easyr1,verl,openrlhf,swift)" in err
    assert export(str(run), "--out", str(out), "--episodes", "1", "--formats", "verl", "--minari",
                  "--no-progress") == 2
    err = capsys.readouterr().err
    # The extra that holds it, as the trl refusal names it (it said "pip install minari", without its floor).
    assert ('--minari needs the minari package: pip install -e ".[vlm]" (or pip install "minari>=0.5.3")'
            in err)
    assert not out.exists()


def test_a_huge_scale_is_refused_by_argparse(run, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        export(str(run), "--out", str(tmp_path / "out"), "--scale", "100000")
    assert stop.value.code == 2
    assert "argument --scale: must be at most 64" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_more_workers_than_chunks_of_episodes_export(run, tmp_path):
    # 2**40 workers was an OverflowError traceback (the pool's semaphore is a C int).
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "1", "--workers", str(2**40),
                  "--formats", "none", "--tasks-per-state", "0", "--no-progress") == 0
    assert json.loads((out / META).read_text())["counts"]["episodes_played"] == 1


def test_the_pool_starts_a_process_a_chunk_at_most_and_none_for_one_chunk(run):
    # More would get no job; one chunk plays in this process (a pool of one only added a process's start).
    from vlm import export as ex

    sizes = []
    for jobs in (1, 2):
        runner = ex._Runner(resolve_run(run), 2**40, "cpu", None, jobs)
        sizes.append(runner.pool and runner.pool._max_workers)
        runner.close()
    assert sizes == [None, 2]


@pytest.mark.parametrize(("episodes", "chunks"), [(1, 1), (CHUNK, 1), (CHUNK + 1, 2), (2 * CHUNK, 2)])
def test_an_export_sizes_its_pool_by_its_chunks_of_episodes(run, tmp_path, monkeypatch, episodes, chunks):
    # --episodes 32 is one chunk, played in this process: a count of episodes // CHUNK + 1 started a pool
    # (a process loading the model) whenever --episodes was a multiple of CHUNK.
    from vlm import export as ex

    class Stop(Exception):
        pass

    seen = []

    def runner(run_info: object, workers: int, device: str, model: object, jobs: int) -> None:
        seen.append(jobs)
        raise Stop

    monkeypatch.setattr(ex, "_Runner", runner)
    with pytest.raises(Stop):
        ex.export(ex.ExportOptions(run=str(run), out=str(tmp_path / "out"), episodes=episodes, workers=8,
                                   formats="none", progress=False))
    assert seen == [chunks] and not (tmp_path / "out").exists()


_PARENTS_OF_TWO_WORKERS = """
import os, sys
from pathlib import Path
from vlm import export
from vlm.trajectories import resolve_run
runner = export._Runner(resolve_run(sys.argv[1]), 2, "cpu", None, 2)
with export.progress_bar(0, "test", "job", False) as bar:
    (server,) = set(runner.map(os.getppid, [(), ()], bar, lambda job: 0))
runner.close()
print(server != os.getpid(), "libtorch" in Path(f"/proc/{server}/maps").read_text())
"""


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads a process's libraries in /proc")
def test_workers_are_forked_from_one_server_that_imported_torch_for_them(run):
    # Spawned, each worker imported torch, SB3 and the project itself (~3 s a worker on an idle 2-core box).
    # A fresh process: a fork server starts once a process, and a GameVecEnv test may have started it here.
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork server on this platform: the workers are spawned")
    out = subprocess.run([sys.executable, "-c", _PARENTS_OF_TWO_WORKERS, str(run)], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["True", "True"], out.stderr


_SERVER_OF_A_GAME_BOY_EXPORT = """
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import forkserver
from pathlib import Path
from vlm import export
ctx = export._pool_context("pokemon_red")
maps = Path(f"/proc/{forkserver._forkserver._forkserver_pid}/maps").read_text()
modules = {"vlm.export", "agents.train", "envs.gameboy.pokemon", "envs.gameboy.pyboy_preload"}
missing = f"sorted({modules!r} - set(__import__('sys').modules))"  # in a process forked from the server
with ProcessPoolExecutor(1, mp_context=ctx) as pool:  # no initializer: as forked
    print("libtorch" in maps, "/pyboy/" in maps, pool.submit(eval, missing).result())
"""


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads a process's libraries in /proc")
def test_a_game_boy_exports_fork_server_imported_pyboy_for_its_workers():
    # The game's WORKER_PRELOAD, as a GameVecEnv's server imports it: each worker imported PyBoy itself. A
    # worker forked from it starts with the export's modules too (dropping agents.train passed every test).
    import multiprocessing

    pytest.importorskip("pyboy")
    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork server on this platform: the workers are spawned")
    out = subprocess.run([sys.executable, "-c", _SERVER_OF_A_GAME_BOY_EXPORT], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.split() == ["True", "True", "[]"], out.stdout + out.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_while_the_pool_starts_its_workers_stops_the_export(run, monkeypatch, sig):
    # The workers start inside submit(). With SIGINT ignored there, a Ctrl-C in that window (a second on a
    # loaded box) was dropped and the export played on to its end; forked workers ignore SIGINT from the
    # server, so it is held and acted on once they are started.
    import multiprocessing

    from agents.interrupts import stop_signals_interrupt
    from vlm import export as ex

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork server on this platform: spawned workers inherit the ignored signal")
    runner = ex._Runner(resolve_run(run), 2, "cpu", None, 2)
    assert runner.forked
    submit, submitted = runner.pool.submit, []

    def signalled_submit(*args, **kwargs):
        signal.raise_signal(sig)
        submitted.append(submit(*args, **kwargs))
        return submitted[-1]

    monkeypatch.setattr(runner.pool, "submit", signalled_submit)
    try:
        with (pytest.raises(KeyboardInterrupt), stop_signals_interrupt(),
              ex.progress_bar(0, "test", "job", False) as bar):
            runner.map(abs, [(-1,), (-2,)], bar, lambda job: 0)
        # Acted on once every job is submitted and its worker started, none half-way: close() kills them.
        assert len(submitted) == 2 and len(runner.pool._processes) == 2
    finally:
        runner.close(stop=True)


def test_a_stop_while_the_export_waits_for_its_workers_is_a_keyboard_interrupt(run):
    """Taken inside ``wait()``'s ``Condition.wait`` after it released its lock, the stop's
    KeyboardInterrupt became ``RuntimeError: release unlocked lock``: a traceback and status 1 for a
    Ctrl-C of an export with ``--workers``, its workers left to ``close``'s ``finally``."""
    from agents.interrupts import stop_signals_interrupt
    from tests.signals import stop_signal_after_condition_wait_releases_its_lock
    from vlm import export as ex

    runner = ex._Runner(resolve_run(run), 2, "cpu", None, 2)
    try:
        with ex.progress_bar(0, "test", "job", False) as bar:
            runner.map(abs, [(-1,), (-2,)], bar, lambda job: 0)  # workers up: the next waits are wait()'s
            start = time.monotonic()
            with (pytest.raises(KeyboardInterrupt), stop_signals_interrupt(),
                  stop_signal_after_condition_wait_releases_its_lock() as fired):
                runner.map(time.sleep, [(2.0,), (2.0,)], bar, lambda job: 0)
            stopped_after = time.monotonic() - start
        assert fired and stopped_after < 1.0  # at the next wait's end, not once the jobs are done
    finally:
        runner.close(stop=True)


def test_workers_ignore_stop_signals_whichever_fork_server_they_come_from(run):
    # The parent stops them (close) on a Ctrl-C, or a closed terminal's SIGHUP. A fork server a GameVecEnv
    # started ignores SIGINT and SIGHUP alone.

    from envs import make_vec
    from vlm import export as ex

    make_vec("snake", 2, num_workers=1).close()  # the process's fork server, if it had none, is the env's
    runner = ex._Runner(resolve_run(run), 2, "cpu", None, 2)
    try:
        with ex.progress_bar(0, "test", "job", False) as bar:
            stops = [(signal.SIGINT,), (signal.SIGTERM,), (signal.SIGHUP,)]
            handlers = runner.map(signal.getsignal, stops, bar, lambda job: 0)
    finally:
        runner.close()
    assert handlers == [signal.SIG_IGN] * 3


def test_workers_are_spawned_where_there_is_no_fork_server(run, monkeypatch):
    # Windows: no fork server. The workers are this process's own children, and ignore the stop signals.
    import multiprocessing

    from vlm import export as ex

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    runner = ex._Runner(resolve_run(run), 2, "cpu", None, 2)
    submit, inherited = runner.pool.submit, []

    def recording_submit(*args, **kwargs):  # a spawned worker starts with this process's dispositions
        inherited.append((signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)))
        return submit(*args, **kwargs)

    monkeypatch.setattr(runner.pool, "submit", recording_submit)
    try:
        with ex.progress_bar(0, "test", "job", False) as bar:
            parents = runner.map(os.getppid, [(), ()], bar, lambda job: 0)
            stops = [(signal.SIGINT,), (signal.SIGTERM,), (signal.SIGHUP,)]
            handlers = runner.map(signal.getsignal, stops, bar, lambda job: 0)
    finally:
        runner.close()
    assert runner.pool._mp_context.get_start_method() == "spawn"
    # SIGHUP (no Windows signal, but spawn runs here too) is set by _init_worker alone, as for a fork server
    # that some other code started
    assert parents == [os.getpid()] * 2 and handlers == [signal.SIG_IGN] * 3
    # Ignored while they start, not held: a handler is no disposition a spawned process inherits, so a
    # Ctrl-C before _init_worker ran would be a KeyboardInterrupt traceback from each.
    assert inherited == [(signal.SIG_IGN, signal.SIG_IGN)] * 5


def test_an_unknown_format_is_refused(run, tmp_path, capsys):
    assert export(str(run), "--out", str(tmp_path / "out"), "--formats", "verl,tfrecord") == 2
    err = capsys.readouterr().err
    assert "unknown format 'tfrecord'" in err and "llamafactory" in err and "swift" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, message", [
    (["--mix", "perception=0.5,tactics=0.5"], "--mix expects FAMILY=RATIO"),
    (["--split", "0.8,0.2"], "--split expects three"),
    (["--split", ""], "--split expects three non-negative fractions train,val,test (e.g. 0.8,0.1,0.1), "
                       "got ''"),
    (["--min-score", "1000000"], "no episode reached --min-score 1000000.0"),
    (["--device", "banana"], "--device: unknown device 'banana'"),
])
@default_formats
def test_bad_settings_name_the_flag_and_leave_nothing(run, tmp_path, capsys, argv, message):
    assert export(str(run), "--out", str(tmp_path / "out"), "--episodes", "3", "--no-progress", *argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("argv, message", [
    (["--seed", str(2**64 - 2)], "seed + --episodes - 1, must stay below 2**64"),  # would wrap
    (["--min-score", "nan"], "argument --min-score: must be a finite number"),
])
def test_argparse_refuses_seeds_that_wrap_and_nan(run, tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        export(str(run), "--out", str(tmp_path / "out"), "--episodes", "3", *argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@default_formats
def test_existing_data_is_never_overwritten_without_overwrite(run, exported, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    assert export(str(run), "--out", str(mine), "--episodes", "2", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "already has data" in err and "--overwrite" in err
    # --overwrite only replaces a depthfirst export, never some other folder.
    assert export(str(run), "--out", str(mine), "--episodes", "2", "--overwrite", "--no-progress") == 2
    assert "not a depthfirst export" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "my notes"
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    # Nor a folder laid out as an export's whose meta.json is gone: an export's names alone make none.
    unmarked = tmp_path / "unmarked"
    shutil.copytree(exported, unmarked)
    (unmarked / META).unlink()
    before = digest_tree(unmarked)
    assert export(str(run), "--out", str(unmarked), "--episodes", "2", "--overwrite", "--no-progress") == 2
    assert f"not a depthfirst export (no {META})" in capsys.readouterr().err
    assert digest_tree(unmarked) == before
    # An export is kept intact until a replacement has fully succeeded.
    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    before = digest_tree(copy)
    assert export(str(run), "--out", str(copy), "--episodes", "2", "--no-progress") == 2
    assert export(str(run), "--out", str(copy), "--episodes", "2", "--overwrite", "--min-score", "1e9",
                  "--no-progress") == 2
    assert digest_tree(copy) == before
    # A file of the user's put into an export is not replaced with it.
    (copy / "predictions.jsonl").write_text('{"id": "x", "response": "UP"}\n')
    capsys.readouterr()
    assert export(str(run), "--out", str(copy), "--episodes", "2", "--overwrite", "--no-progress") == 2
    assert "holds files an export does not write (predictions.jsonl)" in capsys.readouterr().err
    assert (copy / "predictions.jsonl").is_file()
    assert (copy / META).read_bytes() == (exported / META).read_bytes()


@default_formats
def test_overwrite_keeps_files_of_the_user_inside_the_exports_folders(run, exported, tmp_path, capsys):
    # --overwrite removes the old export's folders whole: a training config put in llamafactory/ or a
    # notebook in trajectories/ would go with them, so it refuses and names them.
    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    (copy / "llamafactory" / "qwen2vl_sft.yaml").write_text("model_name_or_path: Qwen/Qwen2-VL-2B\n")
    (copy / "trajectories" / "notes").mkdir()
    (copy / "trajectories" / "notes" / "analysis.ipynb").write_text("{}")
    (copy / "images" / ".DS_Store").write_bytes(b"")  # OS litter is not the user's data
    before = digest_tree(copy)
    capsys.readouterr()
    assert export(str(run), "--out", str(copy), "--episodes", "2", "--overwrite", "--no-progress") == 2
    err = capsys.readouterr().err
    assert ("holds files an export does not write (llamafactory/qwen2vl_sft.yaml, "
            "trajectories/notes/analysis.ipynb)") in err
    assert digest_tree(copy) == before
    # Without them, the same export is replaced; the cache `datasets` writes into trl/ when a loaded split
    # is mapped is the export's own.
    shutil.rmtree(copy / "trajectories" / "notes")
    (copy / "llamafactory" / "qwen2vl_sft.yaml").unlink()
    (copy / "trl" / "train" / "cache-933def8b36fc795d.arrow").write_bytes(b"")
    assert export(str(run), "--out", str(copy), "--episodes", "2", "--overwrite", "--formats", "none",
                  "--no-progress") == 0


def test_a_hand_written_config_without_a_policy_exports(run, tmp_path, capsys):
    bare = tmp_path / "bare"
    shutil.copytree(run, bare)
    cfg = yaml.safe_load((bare / "config.yaml").read_text())
    del cfg["policy"]  # the model file does not need it; the card says "unknown"
    (bare / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    assert export(str(bare), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 0
    assert json.loads((out / META).read_text())["policy"]["preset"] == "unknown"


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_a_folder_made_at_out_during_the_export_is_left_alone(run, tmp_path, capsys, monkeypatch, overwrite):
    import vlm.export

    out = tmp_path / "out"
    finish = vlm.export._finish

    def user_fills_out_meanwhile(*args, **kwargs):
        summary = finish(*args, **kwargs)
        out.mkdir()
        (out / "important.txt").write_text("data")
        return summary

    monkeypatch.setattr(vlm.export, "_finish", user_fills_out_meanwhile)
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress",
                  *overwrite) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "appeared while this export ran" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no partial or old copy left behind
    assert [p.name for p in out.iterdir()] == ["important.txt"]
    assert (out / "important.txt").read_text() == "data"


@default_formats
def test_an_out_that_is_a_link_exports_where_it_points(run, exported, tmp_path, capsys):
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "datasets" / "snake")  # a link to a folder not made yet
    assert export(str(run), "--out", str(dangling), "--episodes", "2", "--formats", "none",
                  "--no-progress") == 0
    assert dangling.is_symlink() and (tmp_path / "datasets" / "snake" / META).is_file()
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'datasets' / 'snake'}: ")  # where it went
    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    link = tmp_path / "current"
    link.symlink_to(copy)
    assert export(str(run), "--out", str(link), "--episodes", "2", "--formats", "none", "--overwrite",
                  "--no-progress") == 0
    assert link.is_symlink() and link.resolve() == copy and (copy / META).is_file()
    assert not (copy / "llamafactory").exists()  # replaced by the new export (no formats)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "current", "datasets", "link"]
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(loop)
    assert export(str(run), "--out", str(loop), "--episodes", "2", "--no-progress") == 2
    assert f"--out {loop}" in capsys.readouterr().err
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    (tmp_path / "to-file").symlink_to(a_file)
    assert export(str(run), "--out", str(tmp_path / "to-file"), "--episodes", "2", "--no-progress") == 2
    assert f"--out {tmp_path / 'to-file'} is a file" in capsys.readouterr().err
    assert a_file.read_text() == "mine"


@default_formats
def test_an_export_never_replaces_the_folder_holding_the_run_or_the_shell(run, tmp_path, capsys, monkeypatch):
    holder = tmp_path / "holder"
    shutil.copytree(run, holder / "myrun")
    assert export(str(holder / "myrun"), "--out", str(holder), "--overwrite", "--episodes", "2",
                  "--no-progress") == 2
    assert "is inside --out" in capsys.readouterr().err
    assert (holder / "myrun" / "model.zip").is_file()
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert export(str(run), "--out", ".", "--episodes", "2", "--no-progress") == 2
    assert "the folder you are in" in capsys.readouterr().err
    assert list(here.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["here", "holder"]


@default_formats
def test_a_second_export_into_a_folder_being_written_is_refused(run, tmp_path, capsys):
    import fcntl

    out, partial = tmp_path / "out", tmp_path / ".out.partial"
    partial.mkdir()
    with open(partial / OWNER, "w") as held:  # a live export holds its lock
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert export(str(run), "--out", str(out), "--episodes", "2", "--no-progress") == 2
        assert f"another export into {out} is running" in capsys.readouterr().err
        assert (partial / OWNER).is_file()  # its work is left alone
    # The lock is gone (its export died, whatever its pid now belongs to): cleaned up, the export runs.
    (partial / "half-written.png").write_bytes(b"x")
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 0
    assert not partial.exists() and (out / META).is_file() and not (out / OWNER).exists()
    assert not (out / "half-written.png").exists()


def test_an_export_stays_locked_until_it_is_in_place(run, tmp_path, capsys, monkeypatch):
    import vlm.export

    out, partial = tmp_path / "out", tmp_path / ".out.partial"
    swap = vlm.export._swap_into_place
    seen = []

    def second_export_at_the_swap(*args):
        with pytest.raises(vlm.export.ExportError, match="another export"):
            vlm.export._claim(partial, out)
        seen.append(sorted(p.name for p in partial.iterdir()))
        swap(*args)

    monkeypatch.setattr(vlm.export, "_swap_into_place", second_export_at_the_swap)
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 0
    assert seen and OWNER in seen[0] and META.split("/")[0] in seen[0]
    assert (out / META).is_file() and not (out / OWNER).exists() and not partial.exists()


def test_another_games_export_made_at_out_meanwhile_is_named_as_such(run, tmp_path, capsys, monkeypatch):
    # Checked again as the finished export moves in: a Sokoban export made at --out meanwhile was told to
    # pass --overwrite, which would replace it, where an export holds one game.
    import vlm.export

    out = tmp_path / "out"
    swap = vlm.export._swap_into_place

    def sokoban_exported_meanwhile(*args):
        out.mkdir()
        (out / META).parent.mkdir(parents=True, exist_ok=True)
        (out / META).write_text(json.dumps({"env": "sokoban"}))
        swap(*args)

    monkeypatch.setattr(vlm.export, "_swap_into_place", sokoban_exported_meanwhile)
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 2
    err = capsys.readouterr().err
    assert f"--out {out} already has data, a sokoban export, and an export holds one game" in err, err
    assert "It appeared while this export ran" in err
    assert json.loads((out / META).read_text()) == {"env": "sokoban"}


@pytest.mark.parametrize("dead", [False, True])
def test_of_two_exports_claiming_one_folder_at_once_one_is_refused(tmp_path, monkeypatch, dead):
    # Between making .out.partial and locking its owner file, a second export took the folder for a dead
    # export's, cleared it and claimed a new one: both then held a lock, and wrote into one folder. Two
    # clearing a killed export's folder at once: the second said "--out could not be written (File exists)".
    import vlm.export

    out, partial = tmp_path / "out", tmp_path / ".out.partial"
    if dead:  # its export died: the kernel dropped the lock; its work goes
        partial.mkdir()
        (partial / OWNER).write_text("999999")
        (partial / "images").mkdir()
        (partial / "images" / "half-written.png").write_bytes(b"x")
    lock, claimed, second = vlm.export.exclusive_lock, [], []

    def second_export_in_the_gap(f):
        if not second:  # the first export's lock: the second one claims first
            second.append(True)
            claimed.append(vlm.export._claim(partial, out))
        return lock(f)

    monkeypatch.setattr(vlm.export, "exclusive_lock", second_export_in_the_gap)
    try:
        with pytest.raises(vlm.export.ExportError, match=r"another export into .*out is running"):
            claimed.append(vlm.export._claim(partial, out))
        assert len(claimed) == 1 and (partial / OWNER).read_text() == str(os.getpid())
        assert [p.name for p in partial.iterdir()] == [OWNER]
        assert os.path.samestat(os.fstat(claimed[0].fileno()), (partial / OWNER).stat())  # the lock is on it
    finally:
        for f in claimed:
            f.close()


def test_an_owner_file_moved_away_before_it_is_locked_is_not_claimed(tmp_path, monkeypatch):
    # Between opening .owner and locking it, the export holding it moved its folder into place (unlinking
    # that .owner) and a third export claimed a new folder of that name. The stale file then locks at once,
    # but it is no longer the folder's: taking it emptied the third export's work and both wrote there.
    import vlm.export

    out, partial = tmp_path / "out", tmp_path / ".out.partial"
    partial.mkdir()
    held = open(partial / OWNER, "w")  # noqa: SIM115 (closed in the gap, as the finishing export does)
    lock, third = vlm.export.exclusive_lock, []

    def finished_and_claimed_again_in_the_gap(f):
        if not third:
            third.append(None)
            os.rename(partial, out)  # _swap_into_place: the folder moves, its owner file goes, the lock too
            (out / OWNER).unlink()
            held.close()
            third[0] = vlm.export._claim(partial, out)
            (partial / "work.png").write_bytes(b"x")
        return lock(f)

    monkeypatch.setattr(vlm.export, "exclusive_lock", finished_and_claimed_again_in_the_gap)
    lock(held)
    try:
        with pytest.raises(vlm.export.ExportError, match=r"another export into .*out is running"):
            vlm.export._claim(partial, out)
        assert (partial / "work.png").is_file() and (partial / OWNER).read_text() == str(os.getpid())
        assert os.path.samestat(os.fstat(third[0].fileno()), (partial / OWNER).stat())
    finally:
        held.close()
        if third and third[0] is not None:
            third[0].close()


def test_an_owner_file_moved_away_with_no_new_folder_before_it_is_locked_is_another_exports(tmp_path,
                                                                                           monkeypatch):
    # As above with no third export: the stale file locks, and the folder's owner file is gone (the stat
    # after the lock: "No such file"). Said as the other export's, as the stat found another file is, not
    # as "--out could not be written".
    import vlm.export

    out, partial = tmp_path / "out", tmp_path / ".out.partial"
    partial.mkdir()
    held = open(partial / OWNER, "w")  # noqa: SIM115 (closed in the gap, as the finishing export does)
    lock = vlm.export.exclusive_lock

    def finished_in_the_gap(f):
        os.rename(partial, out)  # _swap_into_place: the folder moves, its owner file goes, the lock too
        (out / OWNER).unlink()
        held.close()
        return lock(f)

    monkeypatch.setattr(vlm.export, "exclusive_lock", finished_in_the_gap)
    lock(held)
    try:
        with pytest.raises(vlm.export.ExportError, match=r"another export into .*out is running"):
            vlm.export._claim(partial, out)
        assert not partial.exists()
    finally:
        held.close()


def test_an_export_folder_removed_as_it_is_claimed_is_another_exports(tmp_path, monkeypatch):
    # A failed export removing its folder (or a finished one moving it into place) just after this one found
    # it there: opening its owner file raised "No such file", said as "--out could not be written".
    import vlm.export

    out, partial = tmp_path / "out", tmp_path / ".out.partial"
    partial.mkdir()
    is_dir = Path.is_dir

    def removed_meanwhile(self: Path) -> bool:
        there = is_dir(self)
        if self == partial:
            shutil.rmtree(partial)
        return there

    monkeypatch.setattr(Path, "is_dir", removed_meanwhile)
    with pytest.raises(vlm.export.ExportError, match=r"another export into .*out is running"):
        vlm.export._claim(partial, out)


def test_a_live_export_is_not_cleared_on_nfs(tmp_path, monkeypatch):
    # _claim probes the owner file opened to read: on NFS its exclusive lock failed (EBADF), taken for a dead
    # export's, and the live export's folder was deleted under it.
    import fcntl

    import vlm.export
    from tests.agents.test_runs import flock_as_on_nfs

    flock_as_on_nfs(monkeypatch)
    out, partial = tmp_path / "out", tmp_path / ".out.partial"
    partial.mkdir()
    with open(partial / OWNER, "w") as held:  # a live export holds its lock
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        (partial / "work.png").write_bytes(b"x")
        with pytest.raises(vlm.export.ExportError, match=r"another export into .*out is running"):
            vlm.export._claim(partial, out)
        assert (partial / "work.png").is_file()


def test_a_failed_export_holds_its_folder_until_it_is_removed(run, tmp_path, capsys, monkeypatch):
    # A failed export let go of its lock, then removed its folder: a second export that claimed the folder
    # in between (its lock was free) had it removed under it.
    import vlm.export

    out, partial = tmp_path / "out", tmp_path / ".out.partial"
    rmtree, second = shutil.rmtree, []

    def failed(*args, **kwargs):
        raise KeyboardInterrupt

    def second_export_first(path, *args, **kwargs):
        if Path(path) == partial and not second:
            try:
                second.append(vlm.export._claim(partial, out))
            except vlm.export.ExportError as e:
                second.append(e)
        rmtree(path, *args, **kwargs)

    monkeypatch.setattr(vlm.export, "_play_and_replay", failed)
    monkeypatch.setattr(vlm.export.shutil, "rmtree", second_export_first)
    # --formats none: the default's trl needs `datasets` (the vlm extra), and the export refused it first
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 130
    if not isinstance(second[0], vlm.export.ExportError):
        second[0].close()
    assert isinstance(second[0], vlm.export.ExportError) and "is running" in str(second[0])


@default_formats
def test_an_interrupted_export_leaves_nothing(run, tmp_path, capsys, monkeypatch):
    import vlm.export

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(vlm.export, "_play_and_replay", interrupted)
    out = tmp_path / "new" / "deeper" / "out"
    assert export(str(run), "--out", str(out), "--episodes", "2", "--no-progress") == 130
    assert "interrupted: nothing written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the partial export nor the folders made for it


def test_a_ctrl_c_between_making_the_partial_folder_and_locking_it_leaves_nothing(run, tmp_path, capsys,
                                                                                 monkeypatch):
    # A Ctrl-C after .out.partial (and its .owner) was made, before the lock: "interrupted: nothing
    # written", and the hidden .out.partial and the folders made for it stayed (no export owned them).
    import vlm.export

    real = vlm.export.exclusive_lock

    def ctrl_c_then_lock(f):
        os.kill(os.getpid(), signal.SIGINT)
        return real(f)

    monkeypatch.setattr(vlm.export, "exclusive_lock", ctrl_c_then_lock)
    out = tmp_path / "new" / "out"
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 130
    assert "interrupted: nothing written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the partial folder nor the folder made for it


def test_a_stop_just_before_the_swap_leaves_nothing(run, tmp_path, capsys, monkeypatch):
    # A stop after the export was built, before _swap_into_place held the signals: the finished export was
    # left in a hidden .out.partial (and the folders made for it) while the script said nothing was written.
    import vlm.export

    def stopped_before_the_swap(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(vlm.export, "_swap_into_place", stopped_before_the_swap)
    out = tmp_path / "new" / "out"
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 130
    assert "interrupted: nothing written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@default_formats
def test_workers_that_fail_to_start_leave_the_callers_torch_threads_and_nothing_written(run, tmp_path,
                                                                                      monkeypatch):
    # export() plays on one thread (bit-identical probabilities) and gives the caller's count back: a pool
    # that failed to start skipped that, leaving a library caller's process on one thread.
    import torch

    import vlm.export

    def no_pool(*args, **kwargs):
        raise OSError("no pool here")

    monkeypatch.setattr(vlm.export, "_Runner", no_pool)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = tmp_path / "out"
        with pytest.raises(vlm.export.ExportError, match="no pool here"):
            vlm.export.export(vlm.export.ExportOptions(run=str(run), out=str(out), episodes=2,
                                                       progress=False))
        assert torch.get_num_threads() == 2
        assert list(tmp_path.iterdir()) == []
    finally:
        torch.set_num_threads(threads)


def test_a_signal_just_after_the_export_is_in_place_does_not_say_nothing_was_written(run, tmp_path, capsys,
                                                                                    monkeypatch):
    """A Ctrl-C in the moment after the export's renames (the handlers restored) printed "interrupted:
    nothing written (out is as it was)", with the new export in place."""
    import vlm.export

    swap = vlm.export._swap_into_place

    def then_a_signal(*args):
        swap(*args)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(vlm.export, "_swap_into_place", then_a_signal)
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 0
    assert "nothing written" not in capsys.readouterr().err and (out / META).is_file()


@default_formats
def test_a_checkpoint_rewritten_during_the_export_is_refused(run, tmp_path, capsys, monkeypatch):
    mine = tmp_path / "run"
    shutil.copytree(run, mine)

    def training_saves_meanwhile():  # the run is still training: model.zip is replaced
        (mine / "model.zip").write_bytes((mine / "model.zip").read_bytes() + b"newer")

    then_meanwhile(monkeypatch, "_play_and_replay", training_saves_meanwhile)
    out = tmp_path / "out"
    assert export(str(mine), "--out", str(out), "--episodes", "2", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "model.zip changed during the export (is the run still training?" in err
    # A copy is what stays: it suggested the run's checkpoints/step_<N>.zip, which a training run deletes
    # past its newest 3 (that export then failed with "was removed").
    assert "copy the checkpoint out of the run folder and give the copy as --checkpoint" in err
    assert "step_<N>.zip" not in err
    assert not out.exists()


def test_a_run_replaced_during_the_export_is_named_as_replaced(run, tmp_path, capsys, monkeypatch):
    """A train_ppo.py --force in another terminal moved the run aside and made another in its place while it
    was exported: of its own model.zip the refusal asked "is the run still training?", and with a copy as
    --checkpoint the export was written, its meta.json naming as its run the folder now holding another."""
    mine, aside = tmp_path / "run", tmp_path / ".run.replaced"
    shutil.copytree(run, mine)
    copy = tmp_path / "mine.zip"
    shutil.copy(run / "model.zip", copy)

    def forced_meanwhile():
        forced(mine, aside, run)  # another run: its own config and model
        (mine / "model.zip").write_bytes((mine / "model.zip").read_bytes() + b"other")

    then_meanwhile(monkeypatch, "_play_and_replay", forced_meanwhile)
    for given in ([], ["--checkpoint", str(copy)]):
        out = tmp_path / "out"
        assert export(str(mine), *given, "--out", str(out), "--episodes", "2", "--no-progress", "--formats",
                      "none", "--tasks-per-state", "0") == 2
        # Where --force moved it, named: "from where --force moved it" named no folder.
        assert capsys.readouterr().err == replaced_error(mine, aside)
        assert not out.exists()
        shutil.rmtree(mine)
        aside.rename(mine)


def test_a_run_replaced_during_the_export_whose_old_run_is_deleted_says_it_is_gone(run, tmp_path, capsys,
                                                                                  monkeypatch):
    # --force deletes the old run once the new one finishes, which a quick training run does before a long
    # export ends: the refusal said to take the old run's checkpoint "from where --force moved it", gone.
    mine, aside = tmp_path / "run", tmp_path / ".run.replaced"
    shutil.copytree(run, mine)

    def forced_and_finished_meanwhile():
        forced(mine, aside, run)
        shutil.rmtree(aside)  # the new run finished

    then_meanwhile(monkeypatch, "_play_and_replay", forced_and_finished_meanwhile)
    out = tmp_path / "out"
    assert export(str(mine), "--out", str(out), "--episodes", "2", "--no-progress", "--formats", "none",
                  "--tasks-per-state", "0") == 2
    assert capsys.readouterr().err == (
        f"error: {mine} was replaced during the export (a train_ppo.py --force moved the run aside and "
        "trains a new one there): nothing is written, as the export would name the new run; export the new "
        f"run once it is trained (the old run is no longer beside it as {tmp_path / '.run.replaced*'}: "
        "--force deletes it once the new run finishes)\n")
    assert not out.exists()


def replaced_error(named, aside) -> str:
    """The export's refusal of the run ``named`` that a train_ppo.py --force replaced meanwhile, its old run
    moved to ``aside``."""
    return (f"error: {named} was replaced during the export (a train_ppo.py --force moved the run aside and "
            "trains a new one there): nothing is written, as the export would name the new run; export the "
            f"new run once it is trained, or copy the old run out of {aside}, where --force moved it (it "
            "deletes it once the new run finishes), and export the copy\n")


def then_meanwhile(monkeypatch, name: str, meanwhile) -> None:
    """``vlm.export``'s function ``name`` patched to run ``meanwhile()`` each time it has returned: what
    happens to the run while the export is at that point."""
    import vlm.export

    real = getattr(vlm.export, name)

    def then(*args, **kwargs):
        result = real(*args, **kwargs)
        meanwhile()
        return result

    monkeypatch.setattr(vlm.export, name, then)


def forced(mine: Path, aside: Path, run: Path) -> None:
    """What a train_ppo.py --force does to the run folder ``mine``: moves it to ``aside`` and starts another
    run there (a copy of ``run`` with another seed)."""
    mine.rename(aside)
    shutil.copytree(run, mine)
    (mine / "config.yaml").write_text((mine / "config.yaml").read_text() + "seed: 99\n")


def test_a_run_replaced_while_the_export_is_written_is_named_as_replaced(run, tmp_path, capsys, monkeypatch):
    # Checked once the play ended only: a train_ppo.py --force while the formats, meta.json and card were
    # written put the export in place, its meta.json naming as its run the folder now holding another.
    mine, aside = tmp_path / "run", tmp_path / ".run.replaced"
    shutil.copytree(run, mine)
    out = tmp_path / "out"
    args = (str(mine), "--out", str(out), "--episodes", "2", "--no-progress", "--formats", "none",
            "--tasks-per-state", "0", "--overwrite")
    assert export(*args) == 0  # the user's earlier export, which the refused one must leave as it is
    before = digest_tree(out)

    def forced_meanwhile():  # the last thing _finish writes
        forced(mine, aside, run)

    then_meanwhile(monkeypatch, "write_card", forced_meanwhile)
    capsys.readouterr()
    assert export(*args) == 2
    assert capsys.readouterr().err == replaced_error(mine, aside)
    assert digest_tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.replaced", "out", "run"]
    assert digest_tree(aside) == digest_tree(run)


def test_a_run_replaced_while_the_export_reads_it_is_named_as_replaced(run, tmp_path, capsys, monkeypatch):
    # The folder's identity is taken before plan reads the run's config: taken after, a --force in between
    # went unseen and the export was written, its meta.json naming the new run's folder.
    mine, aside = tmp_path / "run", tmp_path / ".run.replaced"
    shutil.copytree(run, mine)
    then_meanwhile(monkeypatch, "plan", lambda: forced(mine, aside, run))
    out = tmp_path / "out"
    assert export(str(mine), "--out", str(out), "--episodes", "2", "--no-progress", "--formats", "none",
                  "--tasks-per-state", "0") == 2
    assert capsys.readouterr().err.startswith(f"error: {mine} was replaced during the export (")
    assert not out.exists()
    assert digest_tree(aside) == digest_tree(run)


def test_a_run_moved_away_during_the_export_is_not_said_to_be_replaced(run, tmp_path, capsys, monkeypatch):
    # Renamed by its user (nothing at its name since): the refusal said a train_ppo.py --force "trains a new
    # one there" and to export the new run.
    mine, moved = tmp_path / "run", tmp_path / "renamed"
    shutil.copytree(run, mine)
    then_meanwhile(monkeypatch, "write_card", lambda: mine.rename(moved))
    out = tmp_path / "out"
    assert export(str(mine), "--out", str(out), "--episodes", "2", "--no-progress", "--formats", "none",
                  "--tasks-per-state", "0") == 2
    assert capsys.readouterr().err == (
        f"error: {mine} was moved or removed during the export: nothing is written, as the export's "
        "meta.json would name a run folder that is not there; export the run from where it is now\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["renamed"]
    assert digest_tree(moved) == digest_tree(run)


def test_a_run_replaced_before_the_workers_load_is_named_as_replaced(run, tmp_path, capfd, monkeypatch):
    # A --force's new run has no model.zip yet: the workers' load fails. Without the check of the run's folder
    # on that path the refusal said the old run's model.zip "was removed during the export (is the run still
    # training? ...)".
    mine, aside = tmp_path / "run", tmp_path / ".run.replaced"
    shutil.copytree(run, mine)

    def forced_meanwhile():
        mine.rename(aside)
        mine.mkdir()
        shutil.copy(aside / "config.yaml", mine / "config.yaml")

    err = refused_with_workers_after_own_load(mine, tmp_path / "out", monkeypatch, capfd, forced_meanwhile)
    assert f"error: {mine} was replaced during the export" in err
    assert "worker process died" not in err and "Traceback" not in err and "still training" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.replaced", "run"]
    assert digest_tree(aside) == digest_tree(run)


def test_a_copy_of_a_checkpoint_changed_during_the_export_is_not_blamed_on_training(run, tmp_path, capsys,
                                                                                   monkeypatch):
    # The refusal asked "is the run still training?" and said to copy the checkpoint out of the run folder,
    # also of a copy that was never in it.
    copy = tmp_path / "mine.zip"
    shutil.copy(run / "model.zip", copy)

    def replaced_meanwhile():
        copy.write_bytes(copy.read_bytes() + b"newer")

    then_meanwhile(monkeypatch, "_play_and_replay", replaced_meanwhile)
    out = tmp_path / "out"
    assert export(str(run), "--checkpoint", str(copy), "--out", str(out), "--episodes", "2",
                  "--no-progress", "--formats", "none", "--tasks-per-state", "0") == 2
    assert capsys.readouterr().err == (f"error: {copy} changed during the export; give a checkpoint that "
                                       "stays as it is until the export ends\n")
    assert not out.exists()


def test_an_export_of_a_run_being_trained_says_so_before_it_plays(run, tmp_path, capsys):
    # Such an export was refused only at its end, minutes in, once a save had rewritten model.zip: the note
    # comes first, and an export of a copy (or of a run no trainer holds) gets none.
    from agents.runs import claim_run

    mine = tmp_path / "run"
    shutil.copytree(run, mine)
    copy = tmp_path / "copy.zip"
    shutil.copy(mine / "model.zip", copy)
    lock = claim_run(mine)  # as a train_ppo.py training into it does
    try:
        assert export(str(mine), "--out", str(tmp_path / "out"), "--episodes", "2", "--no-progress",
                      "--formats", "none", "--tasks-per-state", "0") == 0
        err = capsys.readouterr().err
        assert (f"note: {mine} is being trained now by train_ppo.py (process {os.getpid()}): its saves "
                f"rewrite model.zip and delete older checkpoints, and the export is refused at its end if "
                f"{mine / 'model.zip'} changed") in err, err
        assert export(str(mine), "--checkpoint", str(copy), "--out", str(tmp_path / "out2"), "--episodes",
                      "2", "--no-progress", "--formats", "none", "--tasks-per-state", "0") == 0
        assert "is being trained now" not in capsys.readouterr().err
    finally:
        lock.close()
    assert export(str(mine), "--out", str(tmp_path / "out3"), "--episodes", "2", "--no-progress",
                  "--formats", "none", "--tasks-per-state", "0") == 0
    assert "is being trained now" not in capsys.readouterr().err


def test_only_the_files_training_rewrites_or_deletes_are_blamed_on_it(run, tmp_path, capsys, monkeypatch):
    # A copy kept in checkpoints/ under another name (README: `cp` to another name there is kept) was told
    # the run's training rewrites it and to copy it out of the run folder, before the play and at its end;
    # a link from outside to the run's model.zip, which training does rewrite, got no note.
    from agents.runs import claim_run

    mine = tmp_path / "run"
    shutil.copytree(run, mine)
    best = mine / "checkpoints" / "best.zip"
    shutil.copy(mine / "model.zip", best)
    link = tmp_path / "latest.zip"
    link.symlink_to(mine / "model.zip")
    args = ("--episodes", "2", "--no-progress", "--formats", "none", "--tasks-per-state", "0")
    lock = claim_run(mine)  # as a train_ppo.py training into it does
    try:
        assert export(str(mine), "--checkpoint", str(link), "--out", str(tmp_path / "out"), *args) == 0
        assert f"note: {mine} is being trained now by" in capsys.readouterr().err

        def changed_meanwhile():  # by the user: training never writes best.zip
            best.write_bytes(best.read_bytes() + b"newer")

        then_meanwhile(monkeypatch, "_play_and_replay", changed_meanwhile)
        assert export(str(mine), "--checkpoint", str(best), "--out", str(tmp_path / "out2"), *args) == 2
    finally:
        lock.close()
    assert capsys.readouterr().err == (f"error: {best} changed during the export; give a checkpoint that "
                                       "stays as it is until the export ends\n")


def test_a_checkpoint_of_a_run_keeping_every_one_gets_no_note_while_it_trains(run, tmp_path, capsys):
    # A run trained with --keep-checkpoints 0 (README's "Evaluating every checkpoint") deletes none, yet an
    # export of its checkpoints/step_<N>.zip was told that its saves delete older checkpoints and to copy
    # it out of the run folder; its model.zip, rewritten by each save, keeps a note, without the deletion.
    from agents.runs import claim_run

    mine = tmp_path / "run"
    shutil.copytree(run, mine)
    config = mine / "config.yaml"
    text = config.read_text()
    assert "keep_checkpoints: 3\n" in text
    config.write_text(text.replace("keep_checkpoints: 3\n", "keep_checkpoints: 0\n"))
    step = next((mine / "checkpoints").glob("step_*.zip"))
    args = ("--episodes", "2", "--no-progress", "--formats", "none", "--tasks-per-state", "0")
    lock = claim_run(mine)  # as a train_ppo.py training into it does
    try:
        assert export(str(mine), "--checkpoint", str(step), "--out", str(tmp_path / "out"), *args) == 0
        assert "note:" not in capsys.readouterr().err
        assert export(str(mine), "--out", str(tmp_path / "out2"), *args) == 0
    finally:
        lock.close()
    assert (f"note: {mine} is being trained now by train_ppo.py (process {os.getpid()}): its saves rewrite "
            f"model.zip, and the export is refused at its end if {mine / 'model.zip'} changed") in \
        capsys.readouterr().err


def test_a_checkpoint_of_a_run_keeping_every_one_that_changed_is_not_blamed_on_training(run, tmp_path, capsys,
                                                                                         monkeypatch):
    # Its refusal said "is the run still training? it rewrites model.zip and deletes older checkpoints as
    # it saves", though such a run (--keep-checkpoints 0) neither rewrites nor deletes a step_<N>.zip.
    mine = tmp_path / "run"
    shutil.copytree(run, mine)
    config = mine / "config.yaml"
    config.write_text(config.read_text().replace("keep_checkpoints: 3\n", "keep_checkpoints: 0\n"))
    step = next((mine / "checkpoints").glob("step_*.zip"))

    def changed_meanwhile():
        step.write_bytes(step.read_bytes() + b"newer")

    then_meanwhile(monkeypatch, "_play_and_replay", changed_meanwhile)
    assert export(str(mine), "--checkpoint", str(step), "--out", str(tmp_path / "out"), "--episodes", "2",
                  "--no-progress", "--formats", "none", "--tasks-per-state", "0") == 2
    assert capsys.readouterr().err == (f"error: {step} changed during the export; give a checkpoint that "
                                       "stays as it is until the export ends\n")


def test_a_runs_checkpoint_removed_during_the_export_is_put_down_to_its_training(run, tmp_path, capsys,
                                                                                  monkeypatch):
    # Pruning deletes a run's older checkpoints/step_<N>.zip as it saves: the refusal says so, as of its
    # model.zip, and does not read as if the user had removed a copy of theirs.
    mine = tmp_path / "run"
    shutil.copytree(run, mine)
    step = next((mine / "checkpoints").glob("step_*.zip"))

    def pruned_meanwhile():
        step.unlink()

    then_meanwhile(monkeypatch, "_play_and_replay", pruned_meanwhile)
    out = tmp_path / "out"
    assert export(str(mine), "--checkpoint", str(step), "--out", str(out), "--episodes", "2", "--no-progress",
                  "--formats", "none", "--tasks-per-state", "0") == 2
    assert capsys.readouterr().err.startswith(f"error: {step} was removed during the export (is the run "
                                              "still training? ")
    assert not out.exists()


def test_a_link_named_as_a_runs_checkpoint_is_blamed_on_its_training(run, tmp_path, capsys):
    # Pruning deletes the name checkpoints/step_<N>.zip, whatever it links to: a link there to a file
    # outside the run is the run's to delete.
    from agents.runs import claim_run

    mine = tmp_path / "run"
    shutil.copytree(run, mine)
    step = next((mine / "checkpoints").glob("step_*.zip"))
    outside = tmp_path / "outside.zip"
    step.rename(outside)
    step.symlink_to(outside)
    lock = claim_run(mine)  # as a train_ppo.py training into it does
    try:
        assert export(str(mine), "--checkpoint", str(step), "--out", str(tmp_path / "out"), "--episodes", "2",
                      "--no-progress", "--formats", "none", "--tasks-per-state", "0") == 0
    finally:
        lock.close()
    assert f"note: {mine} is being trained now by" in capsys.readouterr().err


def test_a_runs_checkpoint_given_by_a_relative_path_is_blamed_on_training_and_a_backup_is_not(
        run, tmp_path, capsys, monkeypatch):
    # The run and its checkpoint named from the folder above (runs/x, runs/x/checkpoints/step_<N>.zip) are
    # the run's files as by full paths; step_<N>.zip.bak beside them is a copy no save touches.
    from agents.runs import claim_run

    shutil.copytree(run, tmp_path / "run")
    step = next((tmp_path / "run" / "checkpoints").glob("step_*.zip")).name
    shutil.copy(tmp_path / "run" / "checkpoints" / step, tmp_path / "run" / "checkpoints" / f"{step}.bak")
    monkeypatch.chdir(tmp_path)
    args = ("--episodes", "2", "--no-progress", "--formats", "none", "--tasks-per-state", "0")
    lock = claim_run(tmp_path / "run")  # as a train_ppo.py training into it does
    try:
        for given, noted in (("run/model.zip", True), (f"run/checkpoints/{step}", True),
                             (f"run/checkpoints/{step}.bak", False)):
            assert export("run", "--checkpoint", given, "--out", f"out-{noted}-{len(given)}", *args) == 0
            assert ("note: run is being trained now by" in capsys.readouterr().err) == noted, given
    finally:
        lock.close()


@default_formats
def test_a_checkpoint_removed_during_the_export_is_named_not_taken_for_a_full_disk(run, tmp_path, capsys,
                                                                                   monkeypatch):
    # A training run deletes all but its newest checkpoints: the one exported may go while it plays.
    mine = tmp_path / "run"
    shutil.copytree(run, mine)

    def training_deletes_it_meanwhile():
        (mine / "model.zip").unlink()

    then_meanwhile(monkeypatch, "_play_and_replay", training_deletes_it_meanwhile)
    out = tmp_path / "out"
    assert export(str(mine), "--out", str(out), "--episodes", "2", "--no-progress") == 2
    err = capsys.readouterr().err
    # It said "--out ... could not be written (No such file or directory: .../model.zip)".
    assert "model.zip was removed during the export" in err and "give the copy as --checkpoint" in err
    assert "could not be written" not in err and not out.exists()


def refused_with_workers_after_own_load(run: Path, out: Path, monkeypatch, capfd, meanwhile) -> str:
    """The stderr of an export of ``run`` with two workers, refused (status 2), where ``meanwhile`` ran after
    the export's own load of the model and before its workers load theirs."""
    then_meanwhile(monkeypatch, "load_policy", meanwhile)
    assert export(str(run), "--out", str(out), "--episodes", str(CHUNK + 1), "--workers", "2",
                  "--tasks-per-state", "0", "--no-progress") == 2
    return capfd.readouterr().err


def test_a_checkpoint_removed_before_the_workers_load_it_is_named_not_taken_for_a_dead_worker(
        run, tmp_path, capfd, monkeypatch):
    # A training run deletes all but its newest checkpoints: the one exported may go between the export's
    # own load and its workers'. Each worker printed "Exception in initializer:" and a traceback, then the
    # export blamed the memory: "an export worker process died ...; export with fewer --workers".
    mine, out = tmp_path / "run", tmp_path / "out"
    shutil.copytree(run, mine)
    err = refused_with_workers_after_own_load(mine, out, monkeypatch, capfd, (mine / "model.zip").unlink)
    assert "error: " + str(mine / "model.zip") + " was removed during the export" in err
    assert "give the copy as --checkpoint" in err
    assert "worker process died" not in err and "Traceback" not in err and "initializer" not in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_worker_killed_during_the_export_is_one_clear_error(run, tmp_path, capsys, monkeypatch):
    # The out-of-memory killer, say: the pool broke, and the script printed BrokenProcessPool's traceback.
    import vlm.export

    real_map, real_wait = vlm.export._Runner.map, vlm.export.wait

    def map_killing_its_workers(self, *args, **kwargs):
        def wait(*wait_args, **wait_kwargs):
            for proc in self.pool._processes.values():
                os.kill(proc.pid, signal.SIGKILL)
            return real_wait(*wait_args, **wait_kwargs)

        monkeypatch.setattr(vlm.export, "wait", wait)
        return real_map(self, *args, **kwargs)

    monkeypatch.setattr(vlm.export._Runner, "map", map_killing_its_workers)
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", str(CHUNK + 1), "--workers", "2",
                  "--tasks-per-state", "0", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "error: an export worker process died" in err and "fewer --workers" in err
    assert list(tmp_path.iterdir()) == []


def forked_by_a_child(pid: int) -> list[int]:
    """The processes whose parent is a child of ``pid``: the workers its fork server forked."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:  # "pid (name) state ppid ...": the name may hold spaces and parentheses
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (ValueError, OSError):  # not a process, or one that has just exited
            continue
    return [p for p, parent in parents.items() if parents.get(parent) == pid]


@default_formats
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds the workers in /proc")
def test_ctrl_c_with_workers_prints_one_line(run, tmp_path):
    """Ctrl-C in a terminal signals the whole process group: the workers ignore it, the parent stops
    them, removes its work and says so in one line (no traceback from a worker)."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "export_trajectories.py"), str(run),
                             "--episodes", "400", "--workers", "2", "--out", str(out), "--no-progress"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    # Until both workers are playing: 1.5 s after .out.partial, the fork server was often still importing.
    while len(forked_by_a_child(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip() == f"interrupted: nothing written ({out} is as it was)"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds the fork server in /proc")
def test_ctrl_c_while_the_fork_server_imports_leaves_it_not_running(run, tmp_path):
    # The export waits for the server's imports (torch, the game) before its workers start; a Ctrl-C then
    # ended the export at once, but left the server importing on (30 s of CPU on a busy 2-core box).
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork server on this platform: the workers are spawned")
    out = tmp_path / "out"
    code, err, left, seconds = interrupted_while_fork_server_imports(
        ["scripts/export_trajectories.py", str(run), "--episodes", "400", "--workers", "2", "--out", str(out),
         "--formats", "none", "--no-progress"], tmp_path / "scratch")
    assert code == 130, err
    assert not left
    # Neither waiting out the server's held-up imports (60 s) nor starting a pool, whose new server imports
    # again: the Ctrl-C ends the export at once.
    assert seconds < 30
    assert list(tmp_path.iterdir()) == []


def test_the_workers_end_when_an_export_is_killed_outright(run, tmp_path):
    # SIGKILL (the out-of-memory killer) gives the export no time to stop its pool: its workers, which
    # ignore SIGINT and SIGTERM, each holding a model, stayed blocked on the pool's queue for good.
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "export_trajectories.py"), str(run),
                             "--episodes", "400", "--workers", "2", "--out", str(tmp_path / "out"),
                             "--formats", "none",  # the default's trl needs `datasets` (the vlm extra)
                             "--no-progress"], stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(forked_by_a_child(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = forked_by_a_child(proc.pid)
    assert len(workers) == 2
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while [w for w in workers if Path(f"/proc/{w}").exists()] and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if Path(f"/proc/{w}").exists()]
    for w in left:  # not to leave them running after a failure
        os.kill(w, signal.SIGKILL)
    assert left == []


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_bars_move_at_each_episode_not_each_chunk_and_show_the_steps(run, tmp_path, monkeypatch, workers):
    import vlm.export

    updates: dict[str, list[int]] = {}
    postfix: dict[str, str] = {}
    make_bar = vlm.export.progress_bar

    def recording_bar(total, desc, unit, enabled):
        bar = make_bar(total, desc, unit, True)
        name = desc.split()[0]
        steps = updates.setdefault(name, [])
        update, set_postfix_str = bar.update, bar.set_postfix_str

        def record(n=1):
            steps.append(n)
            return update(n)

        def record_postfix(text, *args, **kwargs):
            postfix[name] = text
            return set_postfix_str(text, *args, **kwargs)

        bar.update, bar.set_postfix_str = record, record_postfix
        return bar

    monkeypatch.setattr(vlm.export, "progress_bar", recording_bar)
    monkeypatch.setattr(vlm.export, "REFRESH_S", 0.0)  # every step's count shown (in this process)
    out = tmp_path / "ds"
    monkeypatch.setattr(vlm.export, "CHUNK", 2)  # two chunks: two workers play them in a pool
    assert export(str(run), "--episodes", "3", "--out", str(out), "--formats", "none", "--stochastic",
                  "--workers", workers) == 0
    # The bars moved at each episode's end, not once at each chunk's.
    assert [n for n in updates["replay"] if n] == [1, 1, 1]
    moves = [n for n in updates["play"] if n]
    assert sum(moves) == 3 and len(moves) > 1, moves  # (two episodes may end on the same step)
    steps = json.loads((out / META).read_text())["counts"]["steps"]
    assert postfix == {"play": f"{steps:,} steps", "replay": f"{steps:,} steps"}


def test_a_full_disk_during_an_overwrite_is_one_clear_error_and_keeps_the_old_export(run, tmp_path, capsys,
                                                                                      monkeypatch):
    import errno

    import vlm.export

    out = tmp_path / "out"
    argv = [str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress"]
    assert export(*argv) == 0
    before = digest_tree(out)

    def disk_full(root, *args, **kwargs):  # the dataset card, the last file an export writes
        (root / "README.md").write_text("half a card")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(vlm.export, "write_card", disk_full)
    capsys.readouterr()
    assert export(*argv, "--overwrite", "--seed", "7") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (f"error: --out {out} could not be written (No space left on device); any file there before is "
            "unchanged") in err  # outputs.not_written's line, as every command's
    assert digest_tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("fails", ["moving the old export aside", "moving the new one in"])
def test_a_rename_refused_at_the_swap_is_one_clear_error_and_keeps_the_old_export(run, tmp_path, capsys,
                                                                                 monkeypatch, fails):
    """The last step, renaming the finished export into place, can be refused (an --out that is a mount
    point cannot be renamed: EBUSY). That was a traceback after all the work, leaving the whole export
    in .<name>.partial, and with the old export already moved aside, no --out."""
    import errno

    out = tmp_path / "out"
    argv = [str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress"]
    assert export(*argv) == 0
    before = digest_tree(out)
    real = os.rename
    src = out if fails == "moving the old export aside" else tmp_path / ".out.partial"

    def refused(a, b, *args, **kwargs):
        if Path(a) == src:
            raise OSError(errno.EBUSY, "Device or resource busy", str(a), str(b))
        return real(a, b, *args, **kwargs)

    monkeypatch.setattr(os, "rename", refused)
    capsys.readouterr()
    assert export(*argv, "--overwrite", "--seed", "7") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (f"error: --out {out}: the finished export could not be moved into place (Device or resource "
            f"busy); {out} is as it was") in err
    assert digest_tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_empty_out_folder_is_not_called_a_previous_export(run, tmp_path, capsys):
    """An empty --out is allowed without --overwrite; the export still moves it aside to take its place,
    and said it was removing "the previous export", which there never was."""
    out = tmp_path / "out"
    out.mkdir()
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 0
    assert "previous export" not in capsys.readouterr().err
    assert (out / META).is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_out_that_is_a_mount_point_is_refused_before_any_work(run, tmp_path, capsys, monkeypatch):
    """A mount point (an empty mounted volume) cannot be renamed, and the export is built beside --out and
    renamed into place: it was refused only after all the work."""
    import vlm.export

    out = tmp_path / "volume"
    out.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == out or real(p))
    monkeypatch.setattr(vlm.export, "play", lambda *a, **k: pytest.fail("played"))
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 2
    err = capsys.readouterr().err
    assert f"error: --out {out} is a mount point" in err and f"--out {out / 'dataset'}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["volume"] and not any(out.iterdir())


def test_a_full_disk_while_datasets_writes_the_trl_format_is_one_clear_error(run, tmp_path, capsys,
                                                                           monkeypatch):
    """`datasets` wraps the OSError of a full disk in its DatasetGenerationError: exporting onto a small
    tmpfs was a traceback (exit 1) from the trl format, where the other formats give one line."""
    import errno

    ArrowWriter = pytest.importorskip("datasets.arrow_writer").ArrowWriter

    def disk_full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ArrowWriter, "write_table", disk_full)
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "trl", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "DatasetGenerationError" not in err
    assert f"error: --out {out} could not be written (No space left on device)" in err
    assert list(tmp_path.iterdir()) == []


def test_an_export_folder_the_full_disk_cannot_make_is_one_clear_error(run, tmp_path, capsys, monkeypatch):
    import errno

    real = Path.mkdir

    def disk_full(self, *args, **kwargs):
        if self.name == ".out.partial":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", disk_full)
    out = tmp_path / "new" / "out"
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    partial = out.parent / ".out.partial"
    assert f"error: --out {out} could not be written (No space left on device: {partial})" in err
    assert list(tmp_path.iterdir()) == []  # nor the folders made for it


def test_an_owner_file_the_full_disk_refuses_leaves_no_partial_folder(run, tmp_path, capsys, monkeypatch):
    """A disk with room for the folder but not for a byte in it (a full tmpfs): the export said so, and left
    its hidden .out.partial (holding an empty .owner) beside --out, and the folders made for it."""
    import errno

    import vlm.export

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def __getattr__(self, name):
            return getattr(self.f, name)

        def flush(self):
            raise OSError(errno.ENOSPC, "No space left on device")

    def full_open(file, *args, **kwargs):
        f = open(file, *args, **kwargs)  # noqa: SIM115 (the export closes it)
        return FullDisk(f) if Path(file).name == OWNER else f

    monkeypatch.setattr(vlm.export, "open", full_open, raising=False)
    out = tmp_path / "new" / "out"
    # Removed under its lock: unlocked first, another export could claim the folder that is then removed.
    locked_while_removed, rmtree = [], shutil.rmtree

    def removing(path, *args, **kwargs):
        if Path(path).name.endswith(".partial") and (Path(path) / OWNER).exists():
            with open(Path(path) / OWNER) as other:
                try:
                    vlm.export.exclusive_lock(other)
                except BlockingIOError:
                    locked_while_removed.append(True)
                else:
                    locked_while_removed.append(False)
        rmtree(path, *args, **kwargs)

    monkeypatch.setattr(vlm.export.shutil, "rmtree", removing)
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"error: --out {out} could not be written (No space left on device)" in err, err
    assert list(tmp_path.iterdir()) == []  # nor the folders made for it
    assert locked_while_removed == [True]


def test_an_owner_file_the_full_disk_cannot_make_leaves_no_partial_folder(run, tmp_path, capsys, monkeypatch):
    """A disk with room for the folder but no inode left for a file in it: making .owner failed, and the
    export left its empty hidden .out.partial beside --out, and the folders made for it."""
    import errno

    import vlm.export

    def full_open(file, *args, **kwargs):
        if Path(file).name == OWNER:
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return open(file, *args, **kwargs)

    monkeypatch.setattr(vlm.export, "open", full_open, raising=False)
    out = tmp_path / "new" / "out"
    assert export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"error: --out {out} could not be written (No space left on device: " in err, err
    assert list(tmp_path.iterdir()) == []  # nor the folders made for it
    # A dead export's folder (not this one's to remove) is left as it was, its work for the next export.
    partial = tmp_path / ".out.partial"
    partial.mkdir()
    (partial / "half-written.png").write_bytes(b"x")
    assert export(str(run), "--out", str(tmp_path / "out"), "--episodes", "2", "--formats", "none",
                  "--no-progress") == 2
    assert [p.name for p in partial.iterdir()] == ["half-written.png"]


def test_an_owner_file_the_full_disk_cannot_make_leaves_another_exports_empty_partial_folder(
        run, tmp_path, capsys, monkeypatch):
    """Another export made .out.partial a moment ago and has not made its owner file yet: this one, whose
    owner file the full disk refused in it, removed only a folder of its own, not that one (which the other
    then found gone: "another export ... is running")."""
    import errno

    import vlm.export

    def full_open(file, *args, **kwargs):
        if Path(file).name == OWNER:
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return open(file, *args, **kwargs)

    monkeypatch.setattr(vlm.export, "open", full_open, raising=False)
    partial = tmp_path / ".out.partial"
    partial.mkdir()  # the other export's, empty until its owner file is made
    assert export(str(run), "--out", str(tmp_path / "out"), "--episodes", "2", "--formats", "none",
                  "--no-progress") == 2
    assert "No space left on device" in capsys.readouterr().err
    assert partial.is_dir()


def test_an_export_whose_new_parent_another_failed_export_removed_makes_it_again(run, tmp_path, capsys,
                                                                                monkeypatch):
    """Two exports started together into one new parent (--out new/a, --out new/b) both found new/ missing:
    the one that failed removed it (the folders made for it) just after the other had made it, and the other
    then said "--out new/b could not be written (No such file or directory)"."""
    import vlm.export
    from agents.outputs import missing_folders, remove_folders

    parent = tmp_path / "new"
    other_made = missing_folders(parent / "a")  # the failing export's, found as this one's was
    claim, gaps = vlm.export._claim, []

    def other_failed_in_the_gap(partial, out):
        if not gaps:
            gaps.append(True)
            remove_folders(other_made)  # the failed export's cleanup: new/ is empty, so it goes
            assert not parent.exists()
        return claim(partial, out)

    monkeypatch.setattr(vlm.export, "_claim", other_failed_in_the_gap)
    out = parent / "b"
    code = export(str(run), "--out", str(out), "--episodes", "2", "--formats", "none", "--no-progress")
    assert code == 0, capsys.readouterr().err
    assert gaps and (out / META).is_file() and [p.name for p in parent.iterdir()] == ["b"]


# Runs export_trajectories.py and dies (os._exit, as a SIGKILL: no cleanup) while it replaces an export:
# between moving the old one aside and moving the new one in, or as it deletes the old one.
KILLED = """
import os, runpy, shutil, sys
kill = sys.argv[1]
real_rename, real_rmtree = os.rename, shutil.rmtree
def rename(src, dst, *args, **kwargs):
    if kill == "between" and str(src).endswith(".partial"):
        os._exit(9)
    return real_rename(src, dst, *args, **kwargs)
def rmtree(path, *args, **kwargs):
    if kill == "deleting" and ".old-" in str(path):
        os._exit(9)
    return real_rmtree(path, *args, **kwargs)
os.rename, shutil.rmtree = rename, rmtree
sys.argv = ["scripts/export_trajectories.py", *sys.argv[2:]]
runpy.run_path("scripts/export_trajectories.py", run_name="__main__")
"""


@pytest.mark.parametrize("kill", ["between", "deleting"])
def test_an_export_killed_while_replacing_one_is_put_right_by_the_next(run, tmp_path, capsys, kill):
    out = tmp_path / "ds"
    argv = [str(run), "--episodes", "2", "--out", str(out), "--formats", "none", "--no-progress"]
    assert export(*argv) == 0
    before = digest_tree(out)
    killed = subprocess.run([sys.executable, "-c", KILLED, kill, *argv, "--overwrite", "--seed", "7"],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                            text=True)
    assert killed.returncode == 9, killed.stderr
    assert [e for e in tmp_path.iterdir() if ".old-" in e.name]  # the old export, moved aside
    capsys.readouterr()
    assert export(*argv) == 2  # the next export into it puts it right (then refuses: no --overwrite)
    err = capsys.readouterr().err
    assert "already has data" in err and "Traceback" not in err
    assert not [e for e in tmp_path.iterdir() if ".old-" in e.name]
    if kill == "between":  # --out was gone: the previous export is back as it was
        assert f"put back {out}, which an export killed while replacing it had moved to" in err
        assert digest_tree(out) == before
    else:  # the new export was in place: the old one's rest is deleted
        assert "the rest of an export that a killed export replaced" in err
        assert json.loads((out / META).read_text())["seeds"]["base"] == 7


@pytest.mark.parametrize("out_exists", [True, False])
def test_a_users_folder_named_like_a_killed_exports_rest_is_left_alone(tmp_path, out_exists):
    """Only what an export writes is put back or deleted: a hidden folder of the user's that merely has the
    name a killed export gives the previous one (.<name>.old-<digits>) is neither."""
    from vlm.export import _put_right

    out = tmp_path / "ds"
    if out_exists:
        out.mkdir()
    mine = tmp_path / ".ds.old-2024"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    _put_right(out)
    assert (mine / "notes.txt").read_text() == "mine"
    assert out.exists() == out_exists


def test_the_previous_export_of_a_running_export_is_left_alone(tmp_path):
    """A live export's ``.<name>.old-<pid>`` is between its two renames (or being deleted): putting it back
    at the missing --out would undo that export's swap under it."""
    from vlm.export import _put_right

    out = tmp_path / "ds"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # the running export
    try:
        aside = tmp_path / f".ds.old-{child.pid}"
        (aside / "trajectories").mkdir(parents=True)
        (aside / META).write_text("{}")
        _put_right(out)
        assert (aside / META).is_file() and not out.exists()
    finally:
        child.kill()
        child.wait()


def test_a_killed_exports_rest_that_cannot_be_put_back_is_named_by_out(run, tmp_path, monkeypatch, capsys):
    """Putting back the previous export fails (no permission on the folder, a full disk): the export stops
    with an error naming --out and the folder to move away, not a traceback."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid names no running export
    out = tmp_path / "ds"
    aside = tmp_path / f".ds.old-{dead.pid}"
    (aside / "trajectories").mkdir(parents=True)
    (aside / META).write_text("{}")

    def refused(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "rename", refused)
    assert export(str(run), "--episodes", "1", "--out", str(out), "--formats", "none", "--no-progress") == 2
    err = capsys.readouterr().err
    assert (f"error: --out {out}: what a killed export left beside it cannot be put right (Permission "
            "denied); move the .ds.old-* folder away (it may be the previous export)") in err
    assert "Traceback" not in err and (aside / META).is_file() and not out.exists()


def test_min_score_deals_only_the_kept_episodes_to_the_splits(run, tmp_path):
    """The splits share out the episodes --min-score kept, seeded: dealing every played episode would
    give a split its ratio of episodes that were then filtered out, and leave it short or empty."""
    out = tmp_path / "good"
    assert export(str(run), "--episodes", "48", "--out", str(out), "--stochastic", "--min-score", "1",
                  "--tasks-per-state", "1", "--formats", "none", "--no-progress") == 0
    kept = json.loads((out / META).read_text())["seeds"]["kept_episodes"]
    assert 3 <= len(kept) < 48
    dealt = assign_episodes(kept, parse_ratios("0.8,0.1,0.1"), 1_000_000)
    assert set(dealt.values()) == set(SPLITS)
    for split in SPLITS:
        assert all(dealt[r["source"]["episode"]] == split for r in read_split(out, split)), split


def test_no_episode_reaching_min_score_names_the_best_score_played(run, tmp_path, capsys):
    # The refusal says how far off --min-score is: the best score of the episodes played.
    from agents.evaluation import EPISODE_STEP_CAP, eval_kwargs
    from vlm.trajectories import load_policy, play

    info = resolve_run(run)
    scores = [log.score for log in play(load_policy(info), "snake", eval_kwargs(info.cfg["env_kwargs"]),
                                        list(range(24)), 1_000_000, EPISODE_STEP_CAP, deterministic=False)]
    assert min(scores) < max(scores)  # so naming another score shows
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "24", "--stochastic", "--min-score", "1000",
                  "--formats", "none", "--no-progress") == 2
    assert (f"no episode reached --min-score 1000.0 (the best of 24 scored {max(scores):g}); "
            in capsys.readouterr().err)
    assert not out.exists()


def test_no_episode_reaching_min_score_names_the_best_score_to_three_decimals(run, tmp_path, capsys,
                                                                              monkeypatch):
    # A Pokémon score counts a tile as 0.001: a best of 1208.456 was named with :g, "scored 1208.46", and
    # --min-score 1208.46, taken from it, was refused again. Named as evaluate prints a score (figure).
    import vlm.export

    real = vlm.export._play_job

    def late(*args):
        logs = real(*args)
        for log in logs:
            log.info["score"] = 1208.456
        return logs

    monkeypatch.setattr(vlm.export, "_play_job", late)
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "2", "--min-score", "1300", "--formats", "none",
                  "--no-progress") == 2
    err = capsys.readouterr().err
    assert "no episode reached --min-score 1300.0 (the best of 2 scored 1208.456); " in err, err
    assert not out.exists()


def test_image_store_leaves_no_temp_file_when_a_write_fails(tmp_path, monkeypatch):
    """A full disk mid-write: the error reaches the caller, and neither the image nor its temp file stays."""
    import errno

    import numpy as np

    from vlm.imagestore import ImageStore

    def full_disk(self: Path, data: bytes) -> int:
        with open(self, "wb") as f:
            f.write(data[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    store = ImageStore(tmp_path)
    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space"):
        store.put(np.zeros((4, 4, 3), dtype=np.uint8))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    monkeypatch.undo()
    rel = store.put(np.zeros((4, 4, 3), dtype=np.uint8))  # the next try writes it
    assert (tmp_path / rel).stat().st_size > 10


def test_the_summary_names_the_checkpoint_and_step_it_played(run, tmp_path, capsys):
    # The printed summary and --json named neither (only meta.json did), where evaluate's JSON and compare's
    # report name the model file and its step.
    ckpt = run / "checkpoints" / "step_512.zip"
    assert export(str(run), "--out", str(tmp_path / "a"), "--episodes", "2", "--tasks-per-state", "0",
                  "--checkpoint", str(ckpt), "--no-progress", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["checkpoint"] == str(ckpt) and summary["step"] == 512
    assert export(str(run), "--out", str(tmp_path / "b"), "--episodes", "2", "--tasks-per-state", "0",
                  "--no-progress") == 0
    assert f"2/2 episodes of {run / 'model.zip'} (step 512), " in capsys.readouterr().out


def test_the_summary_and_meta_count_what_the_export_wrote(run, tmp_path, capsys, monkeypatch):
    """--json's and meta.json's counts are those of the files written; the kept episodes (--min-score) are
    the ones dealt to the splits at --split's ratios; --scale sizes the frames; the scores part played
    from kept."""
    import vlm.splits
    from envs.snake import Snake
    from tests.conftest import load_episodes, load_steps
    from vlm.trajectories import load_policy, play, resolve_run

    # Records of the same step number count as the same state, so val and test records are dropped.
    monkeypatch.setattr(vlm.splits, "state_keys", lambda rec: {rec["source"]["step"]})
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "24", "--stochastic", "--min-score", "1",
                  "--tasks-per-state", "1", "--split", "0.5,0.25,0.25", "--scale", "4", "--formats", "none",
                  "--no-progress", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    meta = json.loads((out / META).read_text())
    counts = meta["counts"]
    played = [log.score for log in play(load_policy(resolve_run(run)), "snake", meta["env_kwargs"],
                                        list(range(24)), 1_000_000, 100_000, deterministic=False)]
    kept = load_episodes(out).to_pylist()
    assert 0 < len(kept) < 24 and [e["score"] for e in kept] == [s for s in played if s >= 1]
    assert summary["episodes_played"] == counts["episodes_played"] == 24
    assert summary["episodes_kept"] == counts["episodes_kept"] == len(kept)
    assert meta["scores"] == {"played_mean": pytest.approx(sum(played) / 24), "played_max": max(played),
                              "played_min": min(played),
                              "kept_mean": pytest.approx(sum(e["score"] for e in kept) / len(kept)),
                              "kept_max": max(e["score"] for e in kept)}
    steps = load_steps(out).to_pylist()
    assert summary["steps"] == counts["steps"] == len(steps) == sum(e["length"] for e in kept)
    images = list((out / "images").rglob("*.png"))
    assert summary["images"] == counts["images"] == len(images)
    by_split = {s: read_split(out, s) for s in SPLITS}
    assert summary["records"] == counts["records"] == {s: len(r) for s, r in by_split.items()}
    assert summary["dropped"] == counts["dropped"] and sum(counts["dropped"].values()) > 0
    # One record per state: every step's record is in its episode's split or counted as dropped there.
    dealt = assign_episodes([e["episode"] for e in kept], (0.5, 0.25, 0.25), 1_000_000)
    assert all(dealt[r["source"]["episode"]] == s for s, recs in by_split.items() for r in recs)
    for s in SPLITS:
        dealt_steps = sum(e["length"] for e in kept if dealt[e["episode"]] == s)
        assert summary["records"][s] + summary["dropped"][s] == dealt_steps, s
    assert meta["split_ratios"] == [0.5, 0.25, 0.25] and meta["scale"] == 4
    assert meta["stochastic"] is True and meta["min_score"] == 1.0 and meta["tasks_per_state"] == 1
    with Image.open(out / steps[0]["frame"]) as frame:
        pixels = np.asarray(frame.convert("RGB"))
    assert np.array_equal(pixels, Snake.render_state(json.loads(steps[0]["state"]), 4))


def test_overwrite_tells_the_files_an_export_writes_from_the_users(tmp_path):
    """EXPORT_FILES names each file an export writes in its own folders, and nothing more: a file of the
    user's beside them (a note among the images, a Parquet file of their own among the steps, a split in
    another format, a file in trl/'s split folders or at minari/'s top) is named, so --overwrite keeps it."""
    from vlm.export import _foreign

    h = "0123456789abcdef0123456789abcdef01234567"
    ours = [f"images/{h[:2]}/{h}.png", "trajectories/meta.json", "trajectories/episodes.parquet",
            "trajectories/steps/part-00000.parquet", "llamafactory/dataset_info.json",
            "llamafactory/train.json", "easyr1/val.parquet", "verl/test.parquet", "openrlhf/train.jsonl",
            "swift/val.jsonl", "swift/test_rl.jsonl", "trl/dataset_dict.json",
            "trl/validation/data-00000-of-00001.arrow", "trl/train/state.json", "trl/test/dataset_info.json",
            "trl/train/cache-933def8b36fc795d.arrow", "minari/depthfirst/namespace_metadata.json",
            "minari/depthfirst/snake/expert-v0/data/metadata.json", "images/ab/.DS_Store", "train.jsonl",
            "README.md", "curriculum.json"]
    users = ["images/ab/notes.txt", "images/cover.png", "images/ab/cd/x.png",
             "trajectories/steps/mine.parquet", "trajectories/episodes.csv", "llamafactory/sft.yaml",
             "easyr1/train.jsonl", "verl/extra.parquet", "swift/train_sft.jsonl", "openrlhf/val_rl.jsonl",
             "swift/mine_rl.jsonl", "trl/train/notes.md", "trl/train/mine.arrow", "trl/extra/state.json",
             "minari/notes.txt", "predictions.jsonl",
             "openrlhf/test.jsonl/notes.txt"]  # in a folder named as an export's file: deeper than it
    for rel in ours + users:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert _foreign(tmp_path) == ["predictions.jsonl", *sorted(u for u in users if "/" in u)]
    # A linked folder is not walked (rmtree would remove only the link), but it is the user's all the same.
    (tmp_path / "images" / "cd").symlink_to(tmp_path / "images" / "ab", target_is_directory=True)
    assert "images/cd" in _foreign(tmp_path)


def test_overwrite_names_five_of_the_users_files_and_marks_only_more(tmp_path):
    # The refusal lists the first five of the user's files; "..." says there are more, and only then.
    from vlm.export import _out_problem

    (tmp_path / META).parent.mkdir()
    (tmp_path / META).write_text("{}")  # an export's marker; saying nothing of what it wrote
    names = [f"mine{k}.txt" for k in range(6)]
    for name in names[:5]:
        (tmp_path / name).write_text("")
    listed = ", ".join(names[:5])
    assert _out_problem(tmp_path, True, "snake").endswith(f"does not write ({listed}); move them out first")
    (tmp_path / names[5]).write_text("")
    assert _out_problem(tmp_path, True, "snake").endswith(
        f"does not write ({listed}, ...); move them out first")


def test_overwrite_tells_a_file_named_as_an_exports_from_one_the_old_export_wrote(tmp_path):
    """A file of the user's with the name of an export's own, where the old export wrote no such file (its
    meta.json says what it wrote): a train.jsonl put into a trajectories-only export, an ms-swift set put
    in swift/ of an export with no swift format, a split an empty split left unwritten, minari/ without
    --minari. --overwrite deleted them with the old export; now they are named and kept."""
    from vlm.export import _foreign

    ours = ["README.md", "trajectories/meta.json", "verl/train.parquet", "llamafactory/train.json",
            "llamafactory/dataset_info.json", "trl/dataset_dict.json", "trl/train/state.json",
            "trl/train/cache-933def8b36fc795d.arrow"]  # the cache `datasets` adds to trl/ is the export's
    users = ["train.jsonl", "curriculum.json", "swift/train.jsonl", "verl/val.parquet",
             "llamafactory/val.json", "minari/depthfirst/namespace_metadata.json"]
    for rel in ours + users:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    meta = {"counts": {"records": {"train": 0, "val": 0, "test": 0}}, "minari": None,
            "formats": {"verl": ["verl/train.parquet"],
                        "llamafactory": ["llamafactory/dataset_info.json", "llamafactory/train.json"],
                        "trl": ["trl/dataset_dict.json", "trl/train/state.json"]}}
    (tmp_path / META).write_text(json.dumps(meta))
    assert _foreign(tmp_path) == sorted(users)
    # An export with records wrote the three split files and the curriculum, whatever they hold.
    meta["counts"]["records"]["val"] = 3
    (tmp_path / META).write_text(json.dumps(meta))
    assert _foreign(tmp_path) == sorted(set(users) - {"train.jsonl", "curriculum.json"})
    # A meta.json that does not say what was written (another version's): the names alone decide, as before.
    (tmp_path / META).write_text("{}")
    assert _foreign(tmp_path) == []


def test_overwrite_tells_an_image_or_step_file_of_the_users_by_its_name(tmp_path):
    """images/ and trajectories/steps/ passed any PNG in a two-character folder and any part-*.parquet, so a
    cover.png put in images/ab/ or a part-mine.parquet among the steps went with the old export. The export
    names images by their SHA-1 (in the folder of its first two digits) and step files by chunk number."""
    from vlm.export import _foreign

    h = "ab23456789abcdef0123456789abcdef01234567"
    ours = [f"images/ab/{h}.png", "trajectories/steps/part-00000.parquet",
            "trajectories/steps/part-123456.parquet"]  # chunk 123,456: past five digits
    users = ["images/ab/cover.png", f"images/cd/{h}.png", f"images/ab/{h.upper()}.png", f"images/ab/{h}0.png",
             "trajectories/steps/part-mine.parquet", "trajectories/steps/part-00000-old.parquet"]
    for rel in ours + users:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert _foreign(tmp_path) == sorted(users)


def test_overwrite_keeps_a_users_split_file_in_a_trajectories_only_export(run, tmp_path, capsys):
    out = tmp_path / "traj"
    argv = [str(run), "--out", str(out), "--episodes", "1", "--tasks-per-state", "0", "--no-progress"]
    assert export(*argv) == 0
    (out / "train.jsonl").write_text('{"mine": true}\n')  # the user's own task records, say
    capsys.readouterr()
    assert export(*argv, "--overwrite") == 2
    assert "holds files an export does not write (train.jsonl)" in capsys.readouterr().err
    assert (out / "train.jsonl").read_text() == '{"mine": true}\n'


def test_an_empty_out_folder_is_used_without_overwrite(run, tmp_path, capsys):
    """--out may be new or empty (its help says so): an empty folder made for the export is filled, with no
    --overwrite and nothing of it left beside."""
    out = tmp_path / "made"
    out.mkdir()
    assert export(str(run), "--out", str(out), "--episodes", "1", "--tasks-per-state", "0",
                  "--no-progress") == 0
    assert (out / META).is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["made"]


def test_image_store_leaves_the_signal_handlers_of_an_export_worker_alone(tmp_path, monkeypatch):
    """A worker ignores SIGINT (its export stops it): a write that set a handler made a Ctrl-C raise in it."""
    from agents import outputs
    from vlm.imagestore import ImageStore

    def handler_set(*args: object) -> None:
        raise AssertionError("a signal handler was set")

    monkeypatch.setattr(outputs, "deferred_stop", handler_set)
    monkeypatch.setattr(outputs, "uninterruptible", handler_set)
    rel = ImageStore(tmp_path).put(np.zeros((4, 4, 3), dtype=np.uint8))
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()] == [rel]


def test_image_store_names_a_picture_by_its_shape_and_pixels(tmp_path):
    """Content-addressed: the same picture is one file, in images/<xx>/ (what EXPORT_FILES expects), and two
    pictures whose raw bytes agree but whose shapes differ (a 2×3 and a 3×2 board) are two files."""
    from envs.png import decode_png
    from vlm.imagestore import ImageStore

    store, other = ImageStore(tmp_path), ImageStore(tmp_path)  # two worker processes
    wide, tall = np.zeros((2, 3, 3), dtype=np.uint8), np.zeros((3, 2, 3), dtype=np.uint8)
    rel = store.put(wide)
    assert re.fullmatch(r"images/([0-9a-f]{2})/\1[0-9a-f]{38}\.png", rel)
    assert store.put(wide.copy()) == other.put(wide) == rel
    assert other.put(tall) != rel
    assert len(list(tmp_path.rglob("*.png"))) == 2
    for img in (wide, tall):
        assert np.array_equal(decode_png((tmp_path / store.put(img)).read_bytes()), img)


def test_image_store_writes_a_picture_once_whatever_its_memory_layout(tmp_path, monkeypatch):
    """Equal pixels are one name, a strided view's as its copy's; a second store (another worker) finds the
    file there and encodes nothing."""
    from vlm import imagestore

    board = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    view = board[:, ::-1]  # not C-contiguous
    assert imagestore.image_hash(view) == imagestore.image_hash(view.copy())
    assert imagestore.image_hash(board.transpose(1, 0, 2)) == imagestore.image_hash(
        np.ascontiguousarray(board.transpose(1, 0, 2)))
    encoded = []
    monkeypatch.setattr(imagestore, "encode_png", lambda img: encoded.append(img) or b"png")
    rel = imagestore.ImageStore(tmp_path).put(view)
    assert imagestore.ImageStore(tmp_path).put(view.copy()) == rel and len(encoded) == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"family": "trivia"}, "family 'trivia' is not one of"),
    ({"plot_level": 0}, "levels must be in (1, 2, 3), got plot_level 0, qa_level 1"),
    ({"qa_level": 4}, "levels must be in (1, 2, 3), got plot_level 1, qa_level 4"),
    ({"images": []}, "a task needs at least one image"),
    ({"question": ""}, "question must be a non-empty string"),
    # Trainers read it as an image placeholder: the formats refused it only after all the play, a traceback
    ({"question": "Is <image> a wall?"},
     "question must not contain '<image>', which trainers read as an image placeholder"),
    # LLaMA-Factory counts the reply's <image> tags too: its SFT data then failed at training time
    ({"analysis": "The <image> shows a wall."}, "analysis must not contain '<image>'"),
    ({"answer": "<image>"}, "answer must not contain '<image>'"),
    ({"analysis": ""}, "analysis must be a non-empty string"),
    ({"answer": 5}, "answer must be a string"),  # not "non-empty": an empty answer is allowed
    ({"verifier": {"rule": "integer"}}, "verifier rule 'integer' needs 'value'"),
    ({"options": ["A", 2]}, "options must be None or a list of strings"),
    ({"extra": {"state": {1, 2}}}, "verifier/extra/options must be JSON-able"),
    # Written as NaN and Infinity into every JSON file of the export: invalid JSON for most readers.
    ({"extra": {"ratio": float("nan")}}, "verifier/extra/options must be JSON-able, with finite numbers"),
    ({"verifier": {"rule": "coordinate", "value": [1, 2], "weight": float("inf")}},
     "with finite numbers only"),
])
def test_a_task_modules_bad_draft_is_named(change, message):
    """A new game's task module (the README's plug-in point) gets the problem with its draft named, not a
    record no trainer or verifier can read."""
    from vlm.export import ExportError, _check_draft
    from vlm.record import TaskDraft

    good = {"family": "perception", "qa_type": "head", "plot_level": 1, "qa_level": 1,
            "images": [np.zeros((4, 4, 3), dtype=np.uint8)], "question": "Where?", "answer": "(1, 2)",
            "analysis": "The head is at (1, 2).", "verifier": {"rule": "coordinate", "value": [1, 2]}}
    draft = TaskDraft(**good)
    assert _check_draft(draft, "here") is draft
    blank = TaskDraft(**{**good, "answer": ""})
    assert _check_draft(blank, "here") is blank  # an empty answer string is allowed
    # Only the exact token is a placeholder (the trainers match it case-sensitively): text about the image
    # is fine.
    worded = TaskDraft(**{**good, "question": "In this image, where is the head?",
                          "analysis": "<IMAGE> <img>"})
    assert _check_draft(worded, "here") is worded
    with pytest.raises(ExportError, match=re.escape("here ('head'): ") + ".*" + re.escape(message)):
        _check_draft(TaskDraft(**{**good, **change}), "here")
    with pytest.raises(ExportError, match="make_tasks must return TaskDraft objects, got dict"):
        _check_draft(good, "here")


def test_a_task_modules_bad_image_is_an_error_not_a_traceback(run, tmp_path, capsys, monkeypatch):
    """A draft's picture that is no uint8 array (a float render, say) is refused by name, as the export
    refuses every other bad draft: exit 2 and an 'error:' line, not a ValueError traceback."""
    from vlm.tasks import snake

    real = snake.make_tasks

    def float_images(state, rng, source):
        drafts = real(state, rng, source)
        for d in drafts:
            d.images = [img.astype(np.float32) / 255 for img in d.images]
        return drafts

    monkeypatch.setattr(snake, "make_tasks", float_images)
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "1", "--formats", "none", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "error: vlm/tasks/snake.py make_tasks (episode 0, step 0): images must be uint8 arrays" in err
    assert "float32" in err and not out.exists() and list(tmp_path.iterdir()) == []


def test_the_printed_summary_counts_the_records_of_each_split(run, tmp_path, capsys):
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "6", "--tasks-per-state", "1", "--split",
                  "0.5,0.25,0.25", "--formats", "verl,swift", "--no-progress") == 0
    said = capsys.readouterr().out
    counts = json.loads((out / META).read_text())["counts"]
    records = counts["records"]
    assert len(set(records.values())) == 3  # three different counts: a swapped pair shows
    assert (f"{out}: 6/6 episodes of {run / 'model.zip'} (step 512), {counts['steps']:,} steps, "
            f"{sum(records.values()):,} records (train {records['train']:,}, val {records['val']:,}, "
            f"test {records['test']:,}), {counts['images']:,} images, formats: verl, swift in ") in said


def test_the_printed_summary_of_a_single_record_counts_it(run, tmp_path, capsys):
    # One step, one record: the summary counts it, not "trajectories only".
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "1", "--max-steps", "1", "--tasks-per-state",
                  "1", "--formats", "none", "--no-progress") == 0
    assert sum(json.loads((out / META).read_text())["counts"]["records"].values()) == 1
    said = capsys.readouterr().out
    assert ", 1 step, 1 record (train 1, val 0, test 0), " in said  # "1 records" before
    assert ", formats: none in " in said  # --formats none is said, not left blank


def test_a_game_that_does_not_replay_is_an_error_and_leaves_nothing(run, tmp_path, capsys, monkeypatch):
    import vlm.export
    from vlm.trajectories import ReplayMismatch

    def mismatch(*args, **kwargs):
        raise ReplayMismatch("snake: episode 0 (seed 1000000) did not replay at step 3: ...")
        yield

    monkeypatch.setattr(vlm.export, "replay", mismatch)
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "1", "--formats", "none", "--no-progress") == 2
    assert "error: snake: episode 0 (seed 1000000) did not replay at step 3" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_scripts_flags_reach_the_export_with_the_defaults_the_readme_states(capsys, monkeypatch):
    # Every test gave --out and most flags, and read the figures from --json: a default of the script's own
    # (it had its own copies of ExportOptions' defaults) or a flag passed into the wrong field went unseen,
    # and so did the printed summary's split counts.
    import dataclasses

    import vlm.export

    given = []
    summary = {"out": "/data/snake", "episodes_kept": 3, "episodes_played": 4, "checkpoint": "/r/model.zip",
               "step": 2048, "steps": 12345, "records": {"train": 1000, "val": 20, "test": 3},
               "images": 4321, "formats": ["trl", "verl"], "minari": "depthfirst/snake-v0", "dropped": {},
               "seconds": {"total": 12.34}}

    def export_opts(opts):
        given.append(opts)
        return summary

    monkeypatch.setattr(vlm.export, "export", export_opts)
    assert export("RUN", "--out", "OUT") == 0
    (opts,) = given
    assert opts == vlm.export.ExportOptions(run="RUN", out="OUT", command=opts.command)
    assert (opts.episodes, opts.seed, opts.tasks_per_state, opts.split, opts.scale, opts.formats) == (
        100, 1_000_000, 2, None, 16, "all")  # None: vlm.splits.DEFAULT_SPLIT, 0.8,0.1,0.1 as README says
    assert vlm.splits.DEFAULT_SPLIT == "0.8,0.1,0.1"
    assert capsys.readouterr().out == (
        "/data/snake: 3/4 episodes of /r/model.zip (step 2,048), 12,345 steps, 1,023 records (train 1,000, "
        "val 20, test 3), 4,321 images, formats: trl, verl, Minari depthfirst/snake-v0 in 12.3 s\n")
    flags = {"episodes": ("--episodes", "7", 7), "formats": ("--formats", "trl", "trl"),
             "workers": ("--workers", "3", 3), "min_score": ("--min-score", "2.5", 2.5),
             "seed": ("--seed", "5", 5), "checkpoint": ("--checkpoint", "m.zip", "m.zip"),
             "tasks_per_state": ("--tasks-per-state", "4", 4),
             "mix": ("--mix", "perception=1", "perception=1"),
             "split": ("--split", "0.5,0.5,0", "0.5,0.5,0"), "scale": ("--scale", "8", 8),
             "max_steps": ("--max-steps", "50", 50), "device": ("--device", "cuda", "cuda")}
    switches = {"minari": "--minari", "overwrite": "--overwrite", "stochastic": "--stochastic",
                "relative_paths": "--relative-paths", "progress": "--no-progress"}
    argv = [a for flag, text, _ in flags.values() for a in (flag, text)] + list(switches.values())
    assert export("RUN", "--out", "OUT", *argv) == 0
    opts = given[-1]
    want = {name: value for name, (_, _, value) in flags.items()} | dict.fromkeys(switches, True)
    assert dataclasses.asdict(opts) == {"run": "RUN", "out": "OUT", **want, "progress": False,
                                        "command": opts.command}


def test_the_printed_summary_counts_one_in_the_singular(capsys, monkeypatch):
    # `export_trajectories.py RUN --episodes 1` printed "1/1 episodes of ..." (and a one-step episode
    # "1 steps"): each count of one takes its noun in the singular, as the line's other counts do.
    import vlm.export

    summary = {"out": "/data/snake", "episodes_kept": 1, "episodes_played": 1, "checkpoint": "/r/model.zip",
               "step": 512, "steps": 1, "records": {"train": 1, "val": 0, "test": 0}, "images": 1,
               "formats": [], "minari": None, "dropped": {}, "seconds": {"total": 1.0}}
    monkeypatch.setattr(vlm.export, "export", lambda opts: summary)
    assert export("RUN", "--out", "OUT", "--episodes", "1", "--split", "1,0,0") == 0
    assert capsys.readouterr().out.startswith(
        "/data/snake: 1/1 episode of /r/model.zip (step 512), 1 step, 1 record (train 1, val 0, test 0), "
        "1 image, ")
    summary.update(episodes_kept=1, episodes_played=2)
    assert export("RUN", "--out", "OUT", "--episodes", "2", "--split", "1,0,0") == 0
    assert capsys.readouterr().out.startswith("/data/snake: 1/2 episodes of ")


def test_a_game_that_draws_one_family_is_noted_in_the_singular(run, tmp_path, monkeypatch):
    # A game of one task family (README "Adding your own game") given --tasks-per-state 2 was told it
    # "draws at most 1 tasks per state".
    import vlm.export as ex
    import vlm.tasks

    monkeypatch.setattr(vlm.tasks, "drawn_families", lambda module: ["perception"])
    notes = ex.plan(ex.ExportOptions(str(run), str(tmp_path / "out"), tasks_per_state=2)).notes
    assert ("note: --tasks-per-state 2: snake draws at most 1 task per state (one per family: perception), "
            "so each state gets all it has; --tasks-per-state 1 is the most that counts") in notes


def test_the_printed_summary_of_sampled_actions_says_so(capsys, monkeypatch):
    # `export_trajectories.py RUN --stochastic` printed the greedy export's line word for word, as
    # evaluate.py did: the card and meta.json said "sampled", the line a log keeps did not.
    import vlm.export

    summary = {"out": "/data/sokoban", "episodes_kept": 2, "episodes_played": 2, "checkpoint": "/r/model.zip",
               "step": 3072, "steps": 240, "records": {"train": 480, "val": 0, "test": 0}, "images": 99,
               "formats": [], "minari": None, "dropped": {}, "seconds": {"total": 1.0}}
    monkeypatch.setattr(vlm.export, "export", lambda opts: summary)
    line = "/data/sokoban: 2/2 episodes of /r/model.zip (step 3,072{}), 240 steps, "
    assert export("RUN", "--out", "OUT", "--split", "1,0,0") == 0
    assert capsys.readouterr().out.startswith(line.format(""))
    assert export("RUN", "--out", "OUT", "--split", "1,0,0", "--stochastic") == 0
    assert capsys.readouterr().out.startswith(line.format(", sampled actions"))


@pytest.mark.parametrize("name, value", [("episodes", 7), ("formats", "trl"), ("workers", 3), ("seed", 5),
                                         ("tasks_per_state", 4), ("scale", 8), ("max_steps", 50),
                                         ("device", "cuda")])
def test_the_scripts_flags_take_their_defaults_from_export_options(monkeypatch, name, value):
    # The parser stated its own copies of ExportOptions' defaults: one changed in one place disagreed with
    # the other, and the script exported other data than a caller of ExportOptions.
    import dataclasses

    import vlm.export

    changed = dataclasses.make_dataclass("Changed", [(name, type(value), dataclasses.field(default=value))],
                                         bases=(vlm.export.ExportOptions,))
    monkeypatch.setattr(vlm.export, "ExportOptions", changed)
    args = load_script("export_trajectories").parser().parse_args(["RUN", "--out", "OUT"])
    assert getattr(args, name) == value


def test_a_picture_several_drafts_share_is_stored_once_per_state(tmp_path):
    from types import SimpleNamespace

    import numpy as np

    from vlm import export
    from vlm.imagestore import ImageStore
    from vlm.record import TaskDraft

    picture = np.zeros((4, 4, 3), np.uint8)

    def make_tasks(state, rng, source):  # a spy game and a perception question, all on one picture
        return [TaskDraft("vision_zero", "spy_game", 1, 1, [picture] * 3, "Who?", "1", "a",
                          {"rule": "integer", "value": 1}),
                TaskDraft("perception", "head_position", 1, 1, [picture], "Where?", "(0, 0)", "a",
                          {"rule": "coordinate", "value": [0, 0]})]

    class Counting(ImageStore):
        calls = 0

        def put(self, img):
            Counting.calls += 1
            return super().put(img)

    settings = export.ReplaySettings("snake", {}, str(tmp_path), 16, 2, 7, "m", {"env": "snake"}, False)
    view = SimpleNamespace(log=SimpleNamespace(seed=5, episode=0), t=0, state={})
    records = export._state_records(SimpleNamespace(make_tasks=make_tasks), view, "f.png", Counting(tmp_path),
                                    settings)
    assert len(records) == 2 and len({p for r in records for p in r["images"]}) == 1
    assert Counting.calls == 1  # hashed (433 KB for a 380-pixel board) once, not four times


def test_a_task_image_may_be_rgb_rgba_or_gray_and_the_refusal_names_all_three():
    """check_image takes what the PNG writer stores; its message named only (H, W, 3), though RGBA and gray
    pass, so a task-module author had one shape to go by."""
    from vlm.imagestore import check_image

    for shape in ((4, 5), (4, 5, 3), (4, 5, 4)):
        img = np.zeros(shape, dtype=np.uint8)
        assert check_image(img, "here") is img
    with pytest.raises(ValueError, match=re.escape("got ndarray float32 (4, 5, 3)")):  # floats are no pixels
        check_image(np.zeros((4, 5, 3), dtype=np.float32), "here")
    message = "here: images must be uint8 arrays (H, W, 3), (H, W, 4) or (H, W), got ndarray uint8 (4, 5, 2)"
    with pytest.raises(ValueError, match=re.escape(message)):
        check_image(np.zeros((4, 5, 2), dtype=np.uint8), "here")
    for shape in ((0, 5, 3), (4, 0), (4, 5, 1), (4, 5, 3, 1), (5,)):  # empty, one channel, or not 2-D
        with pytest.raises(ValueError, match=re.escape(f"got ndarray uint8 {shape}")):
            check_image(np.zeros(shape, dtype=np.uint8), "here")


def test_a_game_boy_exports_rom_sha1_is_the_cartridges_with_no_game_started_for_it(tmp_path, monkeypatch):
    # meta.json's rom_sha1 came from a Game Boy game (an emulator, ~1 s) built in the parent after the
    # replay for that alone; the replay's own game gives it.
    pytest.importorskip("pyboy")
    import functools

    from envs.gameboy.core import GameBoyGame
    from envs.gameboy.roms import TEST_CARTRIDGE, test_cartridge_sha1

    run = tmp_path / "pokemon"
    assert load_script("train_ppo").main([
        "--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--state", "none", "--run-dir", str(run),
        "--total-timesteps", "32", "--num-envs", "2", "--num-workers", "0", "--policy", "tiny",
        "--no-progress", "--video-every", "1000000", "--set", "ppo.n_steps=16", "--set", "ppo.batch_size=32",
        "--set", "ppo.n_epochs=1", "--set", "env_kwargs.max_steps=4"]) == 0
    built = []
    init = GameBoyGame.__init__

    @functools.wraps(init)  # its signature: the run's game options are checked against it
    def counted(self, *args, **kwargs):
        built.append(type(self).__name__)
        init(self, *args, **kwargs)

    monkeypatch.setattr(GameBoyGame, "__init__", counted)
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "1", "--tasks-per-state", "0", "--scale", "8",
                  "--no-progress") == 0
    assert json.loads((out / META).read_text())["rom_sha1"] == test_cartridge_sha1()
    assert len(built) == 3, built  # the checkpoint's check, the play and the replay (one worker: here)


def test_the_export_api_checks_what_the_command_line_checks(run, tmp_path, monkeypatch):
    """``plan`` (the API under the script, which argparse guards) refuses a bound broken, an --out inside
    the run folder, a task module that breaks its contract, and an --out a file took while it ran."""
    from vlm import export as ex
    from vlm.tasks import snake

    for change, message in (({"episodes": 0}, "--episodes must be >= 1, got 0"),
                            ({"seed": -1}, "--seed must be >= 0, got -1"),
                            ({"scale": ex.MAX_SCALE + 1}, f"--scale must be <= {ex.MAX_SCALE}")):
        with pytest.raises(ex.ExportError, match=re.escape(message)):
            ex.plan(ex.ExportOptions(str(run), str(tmp_path / "out"), formats="none", **change))
    with pytest.raises(ex.ExportError, match=re.escape(f"--out {run / 'data'} is inside the run folder")):
        ex.plan(ex.ExportOptions(str(run), str(run / "data"), formats="none"))
    assert not (run / "data").exists()
    monkeypatch.delattr(snake, "move_task")
    # Named once: "vlm/tasks/snake.py cannot be used: vlm/tasks/snake.py lacks move_task" said it twice.
    with pytest.raises(ex.ExportError, match=r"^vlm/tasks/snake\.py lacks move_task \(see the contract"):
        ex.plan(ex.ExportOptions(str(run), str(tmp_path / "out"), formats="none"))
    a_file = tmp_path / "taken"
    a_file.write_text("mine")
    assert ex._out_problem(a_file, overwrite=True, env="snake") == f"--out {a_file} is a file; give a folder"


def test_make_tasks_must_return_a_list(run, tmp_path, capsys, monkeypatch):
    from vlm.tasks import snake

    monkeypatch.setattr(snake, "make_tasks", lambda state, rng, source: ())
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "1", "--formats", "none", "--no-progress") == 2
    err = capsys.readouterr().err
    assert ("vlm/tasks/snake.py make_tasks (episode 0, step 0): must return a list of TaskDraft, got tuple"
            in err)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_file_where_the_export_builds_is_named_and_kept(run, tmp_path, capsys):
    """A file (not a dead export's folder) at ``.<out>.partial`` is no export's: left as it is, and the
    export fails naming --out."""
    out = tmp_path / "out"
    partial = tmp_path / ".out.partial"
    partial.write_text("mine")
    assert export(str(run), "--out", str(out), "--episodes", "1", "--formats", "none", "--no-progress") == 2
    assert f"--out {out} could not be written" in capsys.readouterr().err
    assert partial.read_text() == "mine" and not out.exists()


def test_a_link_where_the_export_builds_is_no_exports_folder(tmp_path):
    """A link at ``.<out>.partial`` (to a folder of the user's) is no export's, as a file there is not: the
    claim took the folder it points to for a dead export's and emptied it, deleting files outside --out."""
    import vlm.export

    elsewhere, partial = tmp_path / "elsewhere", tmp_path / ".out.partial"
    elsewhere.mkdir()
    (elsewhere / "mine.txt").write_text("mine")
    partial.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(FileExistsError):  # export names --out for it, as for a file there
        vlm.export._claim(partial, tmp_path / "out")
    assert [p.name for p in elsewhere.iterdir()] == ["mine.txt"] and partial.is_symlink()


def test_a_record_id_tells_apart_every_part_of_what_the_model_is_shown() -> None:
    # Same position, another question or options (another prompt, another export): another id, so that
    # predictions made for one are never scored against the other's question. The same record: the same id.
    from vlm.record import record_id

    args = ("snake", 3, 7, 1, "Which move?", ["UP", "DOWN"], ["images/ab.png"])
    base = record_id(*args)
    assert base.startswith("snake-000003-00007-01-") and record_id(*args) == base
    # 8 hex digits (the README's), pinned: a tag computed otherwise would re-id every earlier export, and
    # predictions made for it would all be unknown ids.
    assert base == "snake-000003-00007-01-a5b5084b"
    assert record_id("pokemon_red", 3, 7, 1, "Which Pokémon?", None, ["images/ab.png"]).endswith("-38ea09dc")
    assert record_id("snake", 3, 7, 1, "Which move now?", ["UP", "DOWN"], ["images/ab.png"]) != base
    assert record_id("snake", 3, 7, 1, "Which move?", ["UP", "LEFT"], ["images/ab.png"]) != base
    assert record_id("snake", 3, 7, 1, "Which move?", None, ["images/ab.png"]) != base
    assert record_id("snake", 3, 7, 1, "Which move?", ["UP", "DOWN"], ["images/cd.png"]) != base


@pytest.mark.parametrize("flag, name, low", [("--episodes", "episodes", 1), ("--workers", "workers", 1),
                                             ("--tasks-per-state", "tasks_per_state", 0),
                                             ("--scale", "scale", 1), ("--max-steps", "max_steps", 1),
                                             ("--seed", "seed", 0)])
def test_plan_takes_each_bound_itself_and_refuses_one_past_it(run, tmp_path, flag, name, low):
    # The README's bounds are inclusive: plan (the API, which no argparse guards) took -1 tasks per state
    # or refused --scale 64 only by its own comparisons, which no test pinned.
    from vlm import export as ex

    out = str(tmp_path / "out")
    for value in ((low, ex.MAX_SCALE) if name == "scale" else (low,)):
        assert getattr(ex.plan(ex.ExportOptions(str(run), out, formats="none", **{name: value})).opts,
                       name) == value
    for value in ((low - 1, ex.MAX_SCALE + 1) if name == "scale" else (low - 1,)):
        with pytest.raises(ex.ExportError, match=re.escape(f"{flag} must be ")):
            ex.plan(ex.ExportOptions(str(run), out, formats="none", **{name: value}))


def test_a_mix_whose_only_drawn_family_has_ratio_0_is_refused(run, tmp_path, monkeypatch):
    # A family at 0 gets no records: a mix that gives only such drawn families a share schedules nothing,
    # as a mix of only families the game never draws does (README: refused before any work).
    from vlm import export as ex
    from vlm.tasks import snake

    monkeypatch.setattr(snake, "FAMILIES", ("perception", "vision_zero"), raising=False)
    with pytest.raises(ex.ExportError, match="snake has no records of strategy; its families are"):
        ex.plan(ex.ExportOptions(str(run), str(tmp_path / "out"), formats="none",
                                 mix="strategy=1,perception=0"))
    assert ex.plan(ex.ExportOptions(str(run), str(tmp_path / "out"), formats="none",
                                    mix="strategy=1,perception=0.5")).mix == {"strategy": 0.666667,
                                                                              "perception": 0.333333}


def test_a_mix_naming_a_family_the_game_never_draws_says_its_share_goes_to_the_others(run, tmp_path,
                                                                                       monkeypatch):
    # --mix perception=0.5,vision_zero=0.5 of a game (a package's task module with FAMILIES) that draws no
    # vision_zero was taken without a word: the dataset card named those ratios, and every stage mixed
    # perception alone.
    from vlm import export as ex
    from vlm.tasks import snake

    monkeypatch.setattr(snake, "FAMILIES", ("perception", "strategy"), raising=False)
    planned = ex.plan(ex.ExportOptions(str(run), str(tmp_path / "out"), formats="none",
                                       mix="perception=0.5,vision_zero=0.5"))
    assert ("note: --mix perception=0.5,vision_zero=0.5: snake draws no vision_zero records (its families: "
            "perception, strategy), so the curriculum mixes perception alone") in planned.notes, planned.notes
    # The families it mixes are those given a share it draws (one at 0 gets none), "alone" where one is left.
    for mix, mixes in (("perception=0.4,strategy=0.4,vision_zero=0.2", "perception and strategy"),
                       ("perception=0.5,strategy=0,vision_zero=0.5", "perception alone")):
        notes = ex.plan(ex.ExportOptions(str(run), str(tmp_path / "out"), formats="none", mix=mix)).notes
        assert any(n.startswith(f"note: --mix {mix}: ") and n.endswith(f" {mixes}") for n in notes), notes
    # None of one given a share of 0: it asked for none of those records, so no share went elsewhere.
    for mix in ("perception=0.5,strategy=0.5", "perception=0.5,strategy=0.5,vision_zero=0"):
        assert not any("--mix" in n for n in ex.plan(ex.ExportOptions(
            str(run), str(tmp_path / "out"), formats="none", mix=mix)).notes), mix


def test_a_game_without_a_task_module_exports_its_trajectories(run, tmp_path, monkeypatch):
    # The refusal for such a game says to use --tasks-per-state 0: that export must then be planned, without
    # the task module it does not use.
    from vlm import export as ex
    from vlm import tasks

    monkeypatch.setattr(tasks, "TASK_GAMES", tuple(g for g in tasks.TASK_GAMES if g != "snake"))
    plan = ex.plan(ex.ExportOptions(str(run), str(tmp_path / "out"), formats="none", tasks_per_state=0))
    assert plan.task_module is None and plan.formats == []


def test_a_full_out_that_is_no_export_is_not_told_to_use_overwrite(tmp_path):
    # --overwrite replaces an export only: for a folder of the user's files the advice to pass it was
    # refused at once ("not a depthfirst export"), a second try for nothing.
    from vlm import export as ex

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    problem = ex._out_problem(mine, overwrite=False, env="snake")
    assert problem is not None and problem.startswith(f"--out {mine} already has data; choose another folder")
    assert "pass --overwrite" not in problem and f"no {META}" in problem
    (mine / "notes.txt").unlink()
    (mine / META).parent.mkdir()
    (mine / META).write_text("{}")  # an export's folder: --overwrite is the way
    assert ex._out_problem(mine, overwrite=False, env="snake").endswith(
        "or pass --overwrite to replace that export")


def test_another_games_export_at_out_is_named_with_how_games_go_together(tmp_path):
    # A user building one dataset of several games exported the second game into the first one's folder
    # and was offered only --overwrite, which replaces the first game's export.
    from vlm import export as ex

    other = tmp_path / "sokoban"
    (other / META).parent.mkdir(parents=True)
    (other / META).write_text(json.dumps({"env": "sokoban"}))
    problem = ex._out_problem(other, overwrite=False, env="snake")
    assert problem == (f"--out {other} already has data, a sokoban export, and an export holds one game: "
                       "export snake into a folder of its own, then put the games together with "
                       "scripts/merge_exports.py (README.md's \"Several games in one dataset\"); or pass "
                       "--overwrite to replace that export")
    assert ex._out_problem(other, overwrite=False, env="sokoban").endswith(  # the same game: a new export
        "choose another folder, or pass --overwrite to replace that export")
    (other / META).write_text("not json")  # a broken meta.json is still an export --overwrite replaces
    assert ex._out_problem(other, overwrite=False, env="snake").endswith(
        "choose another folder, or pass --overwrite to replace that export")
    assert ex._out_problem(other, overwrite=True, env="snake") is None
    # A meta.json that names no game: an export, as before. Nested past the parser's depth too: it was a
    # RecursionError traceback (the check read it on its own, not with agents.outputs.json_object_or_none).
    for meta in ("[]", json.dumps({"env": 5}), "[" * 100_000, '{"env": ' + "[" * 100_000):
        (other / META).write_text(meta)
        assert ex._out_problem(other, overwrite=False, env="snake").endswith(
            "choose another folder, or pass --overwrite to replace that export")


def test_the_export_checks_out_against_the_game_of_its_run(tmp_path, monkeypatch):
    # The run's game reaches the check of --out, or its refusal is the one that offers --overwrite alone.
    from types import SimpleNamespace

    from vlm import export as ex

    (tmp_path / "run").mkdir()
    (tmp_path / "ex" / META).parent.mkdir(parents=True)
    (tmp_path / "ex" / META).write_text(json.dumps({"env": "snake"}))
    monkeypatch.chdir(tmp_path)
    opts = SimpleNamespace(out=str(tmp_path / "ex"), overwrite=False)
    with pytest.raises(ex.ExportError, match=r"already has data, a snake export, and an export holds one "
                                             r"game: export sokoban into a folder of its own"):
        ex._checked_out(opts, SimpleNamespace(path=tmp_path / "run", env="sokoban"))


def test_the_run_folder_itself_as_out_is_refused_as_the_run_folder(run):
    # Not "already has data ... pass --overwrite", which --overwrite would not get past either.
    from vlm import export as ex

    for overwrite in (False, True):
        with pytest.raises(ex.ExportError, match=re.escape(f"--out {run} is inside the run folder {run}")):
            ex.plan(ex.ExportOptions(str(run), str(run), formats="none", overwrite=overwrite))


def test_an_export_holding_the_folder_you_are_in_is_not_replaced(run, tmp_path, monkeypatch):
    # README: an --out that holds the folder you are in is refused, an old export too (--overwrite would
    # delete the shell's folder from under it), not only an --out that is that folder.
    from vlm import export as ex

    out = tmp_path / "old"
    (out / "trajectories").mkdir(parents=True)
    (out / META).write_text("{}")
    monkeypatch.chdir(out / "trajectories")
    message = f"--out {out} is the folder you are in (or holds it)"
    with pytest.raises(ex.ExportError, match=re.escape(message)):
        ex.plan(ex.ExportOptions(str(run), str(out), formats="none", overwrite=True))


def test_overwrite_judges_what_the_old_export_wrote_in_its_format_folders_by_its_meta(tmp_path):
    """In the format folders an old export's meta.json decides: OS litter there is never the user's, the
    cache `datasets` adds to trl/ is the export's only where the export wrote trl, and a linked folder named
    as a file the export did not write is the user's."""
    from vlm.export import _foreign

    ours = ["trajectories/meta.json", "swift/train.jsonl", "swift/.DS_Store", "swift/._train.jsonl"]
    users = ["trl/train/cache-933def8b36fc795d.arrow"]  # no trl in this export: not datasets' cache
    for rel in ours + users:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "swift" / "val.jsonl").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    meta = {"counts": {"records": {"train": 2, "val": 0, "test": 0}}, "minari": None,
            "formats": {"swift": ["swift/train.jsonl"]}}
    (tmp_path / META).write_text(json.dumps(meta))
    assert _foreign(tmp_path) == ["elsewhere", "swift/val.jsonl", *users]


def test_an_old_meta_nested_past_json_s_depth_leaves_the_names_to_decide(tmp_path):
    # json's RecursionError on it was a traceback out of export --overwrite.
    from vlm.export import _unwritten

    (tmp_path / META).parent.mkdir()
    (tmp_path / META).write_text("[" * 100_000)
    assert _unwritten(tmp_path) == []


def test_a_task_module_that_draws_nothing_writes_no_trainer_formats(run, tmp_path, monkeypatch, capsys):
    # No records (a module that finds nothing to ask): as with --tasks-per-state 0, no empty trainer folders
    # that a trainer could not load, and meta.json and --json's summary say no format was written (the
    # summary listed the formats asked for).
    from vlm.tasks import snake

    monkeypatch.setattr(snake, "make_tasks", lambda state, rng, source: [])
    out = tmp_path / "out"
    assert export(str(run), "--out", str(out), "--episodes", "1",
                  "--formats", "llamafactory,swift", "--no-progress", "--json") == 0
    assert not (out / "llamafactory").exists() and not (out / "swift").exists()
    assert json.loads((out / META).read_text())["formats"] == {}
    assert json.loads(capsys.readouterr().out)["formats"] == []


def test_the_drafts_a_state_keeps_stay_in_the_modules_order(tmp_path):
    # --tasks-per-state N of a state's drafts: N distinct ones, written in the order make_tasks gave them
    # (the draft number in the id ascending), whichever the random pick.
    from types import SimpleNamespace

    from vlm import export
    from vlm.imagestore import ImageStore
    from vlm.record import FAMILIES, TaskDraft

    picture = np.zeros((4, 4, 3), np.uint8)

    def make_tasks(state, rng, source):  # one draft of each family, as a module draws them
        return [TaskDraft(family, f"q{k}", 1, 1, [picture], f"Question {k}?", str(k), "a",
                          {"rule": "exact", "answer": str(k)}) for k, family in enumerate(FAMILIES)]

    settings = export.ReplaySettings("snake", {}, str(tmp_path), 16, 3, 7, "m", {"env": "snake"}, False)
    for t in range(20):
        view = SimpleNamespace(log=SimpleNamespace(seed=5, episode=0), t=t, state={})
        records = export._state_records(SimpleNamespace(make_tasks=make_tasks), view, "f.png",
                                        ImageStore(tmp_path), settings)
        drafts = [int(r["id"].split("-")[3]) for r in records]
        assert len(set(drafts)) == 3 and drafts == sorted(drafts), (t, drafts)
        assert [r["qa_type"] for r in records] == [f"q{k}" for k in drafts]


def test_a_built_in_task_modules_exception_keeps_its_own_type_and_message(tmp_path):
    # A package's make_tasks that raises is said as an ExportError naming its line; a built-in module's is a
    # bug of this project, which its own exception and traceback report best.
    from types import SimpleNamespace

    from vlm import export
    from vlm.imagestore import ImageStore

    def make_tasks(state, rng, source):
        raise RuntimeError("a bug")

    settings = export.ReplaySettings("snake", {}, str(tmp_path), 16, 3, 7, "m", {"env": "snake"}, False)
    view = SimpleNamespace(log=SimpleNamespace(seed=5, episode=0), t=0, state={})
    with pytest.raises(RuntimeError) as raised:
        export._state_records(SimpleNamespace(make_tasks=make_tasks), view, "f.png", ImageStore(tmp_path),
                              settings)
    assert (type(raised.value), str(raised.value)) == (RuntimeError, "a bug")


def test_an_interrupted_export_kills_its_workers_and_a_finished_one_lets_them_end(run, tmp_path, capsys,
                                                                                 monkeypatch):
    # The workers ignore Ctrl-C: the export kills them (close(stop=True)) rather than wait for their jobs,
    # whose output is thrown away; a finished pass shuts them down normally.
    import vlm.export

    stops: list[bool] = []
    close = vlm.export._Runner.close
    monkeypatch.setattr(vlm.export._Runner, "close", lambda self, stop=False: (stops.append(stop),
                                                                                close(self, stop)))
    assert export(str(run), "--out", str(tmp_path / "done"), "--episodes", "1", "--tasks-per-state", "0",
                  "--formats", "none", "--no-progress") == 0
    assert stops == [False]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(vlm.export, "_play_and_replay", interrupted)
    assert export(str(run), "--out", str(tmp_path / "out"), "--episodes", "2", "--formats", "none",
                  "--no-progress") == 130
    assert stops == [False, True] and not (tmp_path / "out").exists()


@pytest.mark.parametrize(("flags", "progress"), [([], True), (["--no-progress"], False)])
def test_no_progress_turns_the_bars_off_and_only_it(tmp_path, monkeypatch, flags, progress):
    # --no-progress: "no progress bars" (its --help); kills a mutant that passed the flag through unnegated.
    import vlm.export

    seen = []

    def fake_export(opts):
        seen.append(opts.progress)
        raise vlm.export.ExportError("stop here")

    monkeypatch.setattr(vlm.export, "export", fake_export)
    assert load_script("export_trajectories").main([str(tmp_path), "--out", str(tmp_path / "o"), *flags]) == 2
    assert seen == [progress]


def test_a_record_holds_its_drafts_fields_each_under_its_own_name(tmp_path):
    # README "Task families": a record is id, game, family, qa_type, plot_level, qa_level, images,
    # question, options, answer, analysis, verifier, source{...}, extra. Each draft's field lands under its
    # own name (the levels and the answer and analysis are easily swapped), the source names the play.
    from dataclasses import fields
    from types import SimpleNamespace

    from vlm import export
    from vlm.imagestore import ImageStore
    from vlm.record import TaskDraft, record_id

    pictures = [np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 9, np.uint8)]
    drafts = [TaskDraft(("strategy", "perception")[k], f"kind{k}", 1 + k, 3 - k, [pictures[k]], f"Which {k}?",
                        f"B{k}", f"Because {k}.", {"rule": "exact", "answer": f"B{k}"},
                        options=[f"A{k}", f"B{k}"], extra={"state": {"k": k}}) for k in range(2)]
    source = {"env": "snake", "run": "r", "checkpoint": "c.zip", "policy": "PPO/tiny@5"}
    settings = export.ReplaySettings("snake", {}, str(tmp_path), 16, 2, 7, "m", source, False)
    view = SimpleNamespace(log=SimpleNamespace(seed=12, episode=5), t=3, state={})
    records = export._state_records(SimpleNamespace(make_tasks=lambda state, rng, src: drafts), view, "f.png",
                                    ImageStore(tmp_path), settings)
    assert [list(r) for r in records] == [[f.name for f in fields(TaskRecord)]] * 2
    for k, (r, d) in enumerate(zip(records, drafts, strict=True)):
        assert (tmp_path / r["images"][0]).is_file()
        assert r == {"id": record_id("snake", 5, 3, k, d.question, d.options, r["images"]), "game": "snake",
                     "family": d.family, "qa_type": d.qa_type, "plot_level": d.plot_level,
                     "qa_level": d.qa_level, "images": r["images"], "question": d.question,
                     "options": d.options, "answer": d.answer, "analysis": d.analysis, "verifier": d.verifier,
                     "source": {**source, "seed": 12, "episode": 5, "step": 3, "frame": "f.png"},
                     "extra": d.extra}
    assert records[0]["images"] != records[1]["images"]


def test_a_trajectories_only_refusal_names_its_first_flag_before_a_run_that_cannot_be_read(tmp_path):
    """The flag that needs task records is told before the run is read (a missing run cannot say whether its
    game has a task module), and of two such flags the first checked, --formats, as before either was read."""
    from vlm.export import ExportError, ExportOptions, plan

    opts = ExportOptions(run=str(tmp_path / "nowhere"), out=str(tmp_path / "out"), tasks_per_state=0,
                         formats="trl", mix="perception=1")
    with pytest.raises(ExportError, match=r"^--formats trl: trainer formats hold task records, and "
                                          r"--tasks-per-state 0 draws none; drop --formats \(or raise "
                                          r"--tasks-per-state\)$"):
        plan(opts)


def test_a_run_given_as_dot_and_replaced_during_the_export_is_named_where_it_was(run, tmp_path, capsys,
                                                                                 monkeypatch):
    # Given as "." from inside it: the check read the working folder, which moved aside with the old run, so
    # the replacement went unseen and the export was written naming the folder --force deletes; and "."
    # named no folder the user could find once the shell's "." was the old run.
    mine, aside = tmp_path / "run", tmp_path / ".run.replaced"
    shutil.copytree(run, mine)
    then_meanwhile(monkeypatch, "_play_and_replay", lambda: forced(mine, aside, run))
    monkeypatch.chdir(mine)
    out = tmp_path / "out"
    assert export(".", "--out", str(out), "--episodes", "2", "--no-progress", "--formats", "none",
                  "--tasks-per-state", "0") == 2
    assert capsys.readouterr().err == replaced_error(f". ({mine})", aside)
    assert not out.exists()


def test_a_task_image_that_is_no_array_is_refused_in_our_words():
    """A task module's image given as a nested list (or None) is refused by check_image with its type named;
    without the isinstance check it ended in an AttributeError ('list' object has no attribute 'dtype')."""
    from vlm.imagestore import check_image

    for img, desc in (([[0, 0], [0, 0]], "list"), (None, "NoneType")):
        message = f"here: images must be uint8 arrays (H, W, 3), (H, W, 4) or (H, W), got {desc}"
        with pytest.raises(ValueError, match=re.escape(message)):
            check_image(img, "here")


def test_files_under_an_exports_folder_skip_a_linked_top_and_list_linked_folders(tmp_path):
    """Hand mutation pass on _files_under: walking a top folder that is a link passed every test, though
    that link is judged by its name alone (foreign_entries) and --overwrite removes only the link, so the
    files of the folder it points to were named as the export's foreign files."""
    import vlm.export

    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / "images" / "deep").mkdir(parents=True)
    (out / "images" / "deep" / "a.png").write_bytes(b"")
    elsewhere.mkdir()
    (elsewhere / "mine.txt").write_text("mine")
    (out / "images" / "linked").symlink_to(elsewhere, target_is_directory=True)
    (out / "trajectories").symlink_to(elsewhere, target_is_directory=True)
    assert sorted(vlm.export._files_under(out, "images")) == ["images/deep/a.png", "images/linked"]
    assert vlm.export._files_under(out, "trajectories") == []
    assert vlm.export._files_under(out, "minari") == []  # not there
