"""Trainer formats: the pure mappings, and every format of a real export read back with the reader its
trainer uses (json, pyarrow, Hugging Face datasets), images included."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.vlm.test_trajectories import datasets_installed, snake_export
from vlm import formats as fmt
from vlm.verify import ground_truth_json, reference_response, verify


def needs_datasets() -> ModuleType:
    """The `datasets` library, else skip. Not pytest.importorskip: without the library a `datasets/`
    folder on sys.path (the README's export folder in the repository) imports as a namespace package."""
    if not datasets_installed():
        pytest.skip("needs datasets (the vlm extra)")
    import datasets

    return datasets


SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return snake_export(tmp_path_factory)


@pytest.fixture(scope="module")
def records(exported):
    return {s: [json.loads(line) for line in open(exported / f"{s}.jsonl", encoding="utf-8")] for s in SPLITS}


def pixels(data: bytes | Path) -> np.ndarray:
    raw = data.read_bytes() if isinstance(data, Path) else data
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


@pytest.fixture(scope="module")
def sample() -> dict:
    """A real two-image record (Vision-Zero spot-the-difference) from the Snake task module."""
    from envs import make_game
    from vlm.tasks import snake as tasks

    game = make_game("snake", 1, size=6)
    game.reset(np.zeros(1, dtype=np.int64), np.array([11], dtype=np.uint64))
    state = game.get_state(0)
    for seed in range(200):
        drafts = tasks.make_tasks(state, np.random.default_rng(seed), {})
        two = [d for d in drafts if len(d.images) == 2]
        if two:
            d = two[0]
            break
    return {"id": "snake-000001-00002-03-9c41d07e", "game": "snake", "family": d.family, "qa_type": d.qa_type,
            "plot_level": d.plot_level, "qa_level": d.qa_level,
            "images": ["images/aa/a.png", "images/bb/b.png"],
            "question": d.question, "options": d.options, "answer": d.answer, "analysis": d.analysis,
            "verifier": d.verifier, "source": {"env": "snake", "episode": 1, "step": 2}, "extra": {}}


def test_parse_formats_knows_every_format_and_names_the_known_ones():
    assert fmt.parse_formats("all") == list(fmt.FORMATS)
    assert fmt.parse_formats("none") == []
    assert fmt.parse_formats("ms-swift, hf,verl,hf") == ["swift", "trl", "verl"]
    with pytest.raises(ValueError, match=r"unknown format 'parquet'.*llamafactory, trl, easyr1, verl"):
        fmt.parse_formats("verl,parquet")
    # An empty value (`--formats "$FORMATS"` with the variable unset) wrote no trainer format, silently.
    for empty in ("", " , "):
        with pytest.raises(ValueError, match="names no format; give 'none' for no trainer format"):
            fmt.parse_formats(empty)
    # "none" beside a format wrote that format: which of the two was meant is not for us to guess.
    for mixed in ("none,trl", "all, NONE"):
        with pytest.raises(ValueError, match="'none' means no trainer format, so it takes no other name"):
            fmt.parse_formats(mixed)
    assert fmt.parse_formats(" None ") == []
    # "all" takes no other name either, as "none" does: "all,trl" was read as all six, though the user
    # may have meant only the ones named.
    for mixed in ("all,trl", "trl, ALL", "all,all,hf"):
        with pytest.raises(ValueError, match="'all' means every trainer format, so it takes no other name"):
            fmt.parse_formats(mixed)
    assert fmt.parse_formats("all,ALL") == list(fmt.FORMATS)  # the keyword twice names nothing else
    assert fmt.parse_formats("MS-Swift,HF") == ["swift", "trl"]  # aliases too, whatever their case


def test_mappings_are_pure_and_follow_each_schema(sample):
    ref = {"images/aa/a.png": "/d/images/aa/a.png", "images/bb/b.png": "/d/images/bb/b.png"}.__getitem__
    gt = ground_truth_json(sample)
    lf = fmt.llamafactory_example(sample, ref)
    assert lf == fmt.llamafactory_example(sample, ref) and set(lf) == {"messages", "images"}
    assert [m["role"] for m in lf["messages"]] == ["user", "assistant"]
    assert lf["messages"][0]["content"].count("<image>") == len(lf["images"]) == 2
    assert lf["messages"][0]["content"].startswith("<image><image>")
    assert verify(lf["messages"][1]["content"], sample)["overall"] == 1.0

    er = fmt.easyr1_example(sample, ref)
    assert set(er) == {"images", "problem", "answer"} and er["answer"] == gt
    assert er["problem"].count("<image>") == 2

    vl = fmt.verl_example(sample, ref, "train", 7)
    assert set(vl) == {"data_source", "prompt", "images", "ability", "reward_model", "extra_info"}
    assert vl["data_source"] == "depthfirst/snake" and vl["ability"] == sample["family"]
    assert vl["reward_model"] == {"style": "rule", "ground_truth": gt}
    assert vl["prompt"] == [{"role": "user", "content": fmt.prompt_text(sample)}]
    assert vl["extra_info"]["index"] == 7 and vl["extra_info"]["id"] == sample["id"]

    orl = fmt.openrlhf_example(sample, fmt.ImagePaths(Path("/d"), relative=False))
    assert set(orl) == {"message", "prompt", "images", "answer"} and orl["answer"] == gt
    message = json.loads(orl["message"])  # ViGaL's fork (lmm-r1): Qwen-VL content parts, file:// URIs
    assert message[0]["role"] == "user"
    assert [p["type"] for p in message[0]["content"]] == ["image", "image", "text"]
    assert message[0]["content"][0]["image"] == "file:///d/images/aa/a.png"
    assert message[0]["content"][2]["text"] == sample["question"]
    # OpenRLHF 0.11: <image> tags in the text, plain paths in `images` (Image.open cannot read a URI)
    assert orl["prompt"] == fmt.prompt_text(sample) and orl["prompt"].startswith("<image><image>")
    assert orl["images"] == ["/d/images/aa/a.png", "/d/images/bb/b.png"]

    sw = fmt.swift_example(sample, ref)
    assert set(sw) == {"messages", "images", "solution"} and sw["solution"] == gt
    assert [m["role"] for m in fmt.swift_example(sample, ref, with_response=False)["messages"]] == ["user"]

    trl = fmt.trl_example(sample, ref)
    assert [p["type"] for p in trl["prompt"][0]["content"]] == ["image", "image", "text"]
    # The images in the record's order: the question's "first image" / "second image" rely on it.
    in_order = ["/d/images/aa/a.png", "/d/images/bb/b.png"]
    for example in (lf, er, vl, sw, trl):
        assert example["images"] == in_order
    assert trl["completion"][0]["content"][0]["text"] == reference_response(sample)
    assert trl["ground_truth"] == gt


def test_every_field_of_the_trl_and_verl_examples_is_the_records_own(sample):
    """TRL's columns and verl's extra_info carry the record's fields under their own names: a swap of two
    string fields or of the two levels still loads, into the wrong column."""
    rec = {**sample, "plot_level": 1, "qa_level": 3, "extra": {"state": {"step": 2}}}
    ref = {"images/aa/a.png": "A", "images/bb/b.png": "B"}.__getitem__
    trl = fmt.trl_example(rec, ref)
    for name in ("id", "game", "family", "qa_type", "plot_level", "qa_level", "question", "options", "answer",
                 "analysis"):
        assert trl[name] == rec[name], name
    assert json.loads(trl["verifier"]) == rec["verifier"] and json.loads(trl["source"]) == rec["source"]
    assert [m["role"] for m in trl["prompt"] + trl["completion"]] == ["user", "assistant"]
    assert trl["prompt"][0]["content"][-1] == {"type": "text", "text": rec["question"]}
    info = fmt.verl_example(rec, ref, "val", 3)["extra_info"]
    assert info == {"split": "val", "index": 3, "id": rec["id"], "game": "snake", "qa_type": rec["qa_type"],
                    "plot_level": 1, "qa_level": 3, "answer": rec["answer"], "question": rec["question"]}


def test_every_user_turn_is_the_images_tags_and_the_question_alone(sample):
    """The user turn a model is shown in LLaMA-Factory, EasyR1 and ms-swift (SFT and GRPO files): an answer
    or reply leaked into it still loads and scores, and trains a model to copy it out of the prompt."""
    ref = {"images/aa/a.png": "A", "images/bb/b.png": "B"}.__getitem__
    prompt = fmt.prompt_text(sample)
    assert prompt == "<image><image>" + sample["question"]
    assert fmt.llamafactory_example(sample, ref)["messages"][0]["content"] == prompt
    assert fmt.easyr1_example(sample, ref)["problem"] == prompt
    for with_response in (True, False):
        assert fmt.swift_example(sample, ref, with_response)["messages"][0]["content"] == prompt


def test_llamafactory_info_maps_every_role_and_column_of_the_messages():
    """LLaMA-Factory reads sharegpt ``messages`` through the entry's tags: a wrong assistant or content tag
    still loads the file, with every reply dropped or empty."""
    assert fmt.llamafactory_info("ds", {"train": "train.json", "test": "test.json"}) == {
        f"ds_{split}": {"file_name": f"{split}.json", "formatting": "sharegpt",
                        "columns": {"messages": "messages", "images": "images"},
                        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                 "assistant_tag": "assistant", "system_tag": "system"}}
        for split in ("train", "test")}


def test_embedded_images_carry_their_bytes_and_file_name(tmp_path):
    """The parquet/Arrow formats' ``{"bytes", "path"}``: the stored picture, named by its file (the pixel
    SHA-1 that ties it back to ``images/``), not the export's folder."""
    (tmp_path / "images" / "ab").mkdir(parents=True)
    (tmp_path / "images" / "ab" / "x.png").write_bytes(b"png")
    assert fmt.ImageBytes(tmp_path)("images/ab/x.png") == {"bytes": b"png", "path": "x.png"}


def test_parquet_files_keep_the_rows_past_the_last_full_batch(tmp_path):
    rows = [{"images": [], "problem": f"q{k}", "answer": f"a{k}"} for k in range(5)]
    path = tmp_path / "x.parquet"
    fmt._write_parquet(path, fmt.EASYR1_SCHEMA, iter(rows), batch=2)
    assert pq.read_table(path).to_pylist() == rows
    assert pq.ParquetFile(path).metadata.num_row_groups == 3  # batch rows at a time: 2 + 2 + 1
    fmt._write_parquet(path, fmt.EASYR1_SCHEMA, iter(rows[:4]), batch=2)  # batches exactly
    assert pq.read_table(path).to_pylist() == rows[:4]


def test_jsonl_keeps_non_ascii_text_as_is(tmp_path):
    fmt.write_jsonl(tmp_path / "x.jsonl", [{"q": "Où est la pomme ?"}])
    assert (tmp_path / "x.jsonl").read_text(encoding="utf-8") == '{"q": "Où est la pomme ?"}\n'


def test_every_format_moves_the_progress_bar_once_per_record(exported, records, tmp_path):
    # The export's bar counts records x formats: a format that moved it less (or twice) left it short (over).
    needs_datasets()
    (tmp_path / "images").symlink_to(exported / "images")
    split_files = {s: exported / f"{s}.jsonl" for s in SPLITS}
    paths = fmt.ImagePaths(tmp_path, relative=False)
    for name in fmt.FORMATS:
        moved = []
        fmt.write_format(name, tmp_path, split_files, records, "ds", paths, moved.append)
        assert sum(moved) == sum(len(r) for r in records.values()), name


def test_the_meta_names_every_file_each_format_wrote(exported):
    meta = json.loads((exported / "trajectories" / "meta.json").read_text())
    assert set(meta["formats"]) == set(fmt.FORMATS) - ({"trl"} - {p.name for p in exported.iterdir()})
    for name, files in meta["formats"].items():
        on_disk = [str(p.relative_to(exported)) for p in (exported / name).rglob("*") if p.is_file()]
        assert files == sorted(on_disk), name


def test_a_question_holding_an_image_token_is_refused(sample):
    refused = (f"record {sample['id']}: the question contains '<image>', which trainers read as an image "
               "placeholder")
    with pytest.raises(ValueError, match=f"^{re.escape(refused)}$"):
        fmt.prompt_text({**sample, "question": "Look at <image> here"})


def test_image_paths_absolute_by_default_or_relative(tmp_path, monkeypatch):
    abs_paths = fmt.ImagePaths(tmp_path / "ds", relative=False)
    assert abs_paths.path("images/ab/x.png") == str(tmp_path / "ds" / "images/ab/x.png")
    assert abs_paths.uri("images/ab/x.png") == "file://" + str(tmp_path / "ds" / "images/ab/x.png")
    rel = fmt.ImagePaths(tmp_path / "ds", relative=True)
    assert rel.path("images/ab/x.png") == "images/ab/x.png" == rel.uri("images/ab/x.png")
    # LLaMA-Factory resolves images against its media_dir, the folder of dataset_info.json.
    assert rel.path("images/ab/x.png", "llamafactory") == "../images/ab/x.png"
    # A root given relative to the folder we are in is still written absolute: a trainer runs elsewhere.
    monkeypatch.chdir(tmp_path)
    here = fmt.ImagePaths(Path("ds"), relative=False)
    assert here.path("images/ab/x.png") == str(tmp_path / "ds" / "images/ab/x.png")


def test_file_uris_open_the_way_qwen_vl_utils_opens_them(tmp_path):
    """lmm-r1/ViGaL load `message` images with qwen_vl_utils.fetch_image, which opens ``uri[7:]`` as is (no
    percent-decoding): a folder name with a space or non-ASCII letters must still name the file."""
    root = tmp_path / "my exports" / "snake é"
    (root / "images" / "ab").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(root / "images" / "ab" / "x.png")
    uri = fmt.ImagePaths(root, relative=False).uri("images/ab/x.png")
    assert uri.startswith("file:///")
    with Image.open(uri[7:]) as im:  # what fetch_image does with a file:// string
        assert im.size == (4, 4)


def test_empty_splits_get_no_file_where_a_trainer_cannot_read_one(tmp_path_factory, tmp_path):
    from tests.conftest import load_script
    from tests.vlm.test_trajectories import export_args, tiny_snake_run

    out = tmp_path / "train-only"
    args = export_args(tiny_snake_run(tmp_path_factory), out, "--split", "1,0,0", "--tasks-per-state", "1")
    args[args.index("--episodes") + 1] = "3"
    assert load_script("export_trajectories").main(args) == 0
    assert (out / "val.jsonl").read_text() == "" and (out / "test.jsonl").stat().st_size == 0
    # datasets cannot load an empty parquet, JSONL or LLaMA-Factory file: those splits are left out
    assert sorted(p.name for p in (out / "llamafactory").iterdir()) == ["dataset_info.json", "train.json"]
    info = json.loads((out / "llamafactory" / "dataset_info.json").read_text())
    assert [k.rsplit("_", 1)[1] for k in info] == ["train"]
    for name, files in (("easyr1", ["train.parquet"]), ("verl", ["train.parquet"]),
                        ("openrlhf", ["train.jsonl"]), ("swift", ["train.jsonl", "train_rl.jsonl"])):
        assert sorted(p.name for p in (out / name).iterdir()) == files
    assert pq.read_table(out / "verl" / "train.parquet").num_rows > 0
    card = (out / "README.md").read_text()
    assert "The val and test splits are empty, so the file formats have no val or test file" in card
    assert ("`trl/` keeps the empty splits" in card) == (out / "trl").is_dir()
    # a test-only export: the card points the trainers at the split that has records
    only_test = tmp_path / "test-only"
    args[args.index(str(out))] = str(only_test)
    args[args.index("1,0,0")] = "0,0,1"
    args[args.index("--formats") + 1] = "verl,llamafactory"
    assert load_script("export_trajectories").main(args) == 0
    card = (only_test / "README.md").read_text()
    assert "verl/test.parquet data.max_prompt_length=" in card and "depthfirst_snake_test`" in card
    assert "train.parquet" not in card
    assert "The train and val splits are empty" in card and "trl/" not in card
    datasets = needs_datasets()
    dd = datasets.load_from_disk(str(out / "trl"))
    assert len(dd["validation"]) == len(dd["test"]) == 0 and len(dd["train"]) > 0
    assert dd["test"].features == dd["train"].features
    # The card's YAML makes the folder load by its name, with the splits that have records ...

    def rows(folder: Path) -> dict[str, int]:
        loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf-cache"))
        return {split: len(part) for split, part in loaded.items()}

    counts = json.loads((out / "trajectories" / "meta.json").read_text())["counts"]["records"]
    assert rows(out) == {"train": counts["train"]}
    # ... and a new export in the same folder loads its own rows, not the cached ones of the last
    args[args.index(str(only_test))] = str(out)
    args[args.index("0,0,1")] = "1,0,0"
    args[args.index("--episodes") + 1] = "5"
    assert load_script("export_trajectories").main([*args, "--overwrite"]) == 0
    recounted = json.loads((out / "trajectories" / "meta.json").read_text())["counts"]["records"]
    assert recounted["train"] > counts["train"] and rows(out) == {"train": recounted["train"]}


def test_an_unknown_format_name_is_refused_not_skipped(sample, tmp_path):
    """write_format is called with parse_formats' names; another name wrote nothing, without a word."""
    split = tmp_path / "train.jsonl"
    split.write_text(json.dumps(sample) + "\n")
    with pytest.raises(ValueError, match=r"unknown format 'parquet'; known: llamafactory, trl"):
        fmt.write_format("parquet", tmp_path, {"train": split}, {"train": [sample], "val": [], "test": []},
                         "ds", fmt.ImagePaths(tmp_path, relative=False))


def test_a_full_disk_under_trl_is_the_os_error_not_datasets_wrapper(sample, tmp_path, monkeypatch):
    """datasets wraps an OSError raised while it writes (a full disk) in DatasetGenerationError: the export
    raises the OSError itself, which it reports as one line, as it does for every other write."""
    datasets = needs_datasets()
    from datasets.exceptions import DatasetGenerationError

    def full_disk(*args, **kwargs):
        try:
            raise OSError(28, "No space left on device")
        except OSError as e:
            raise DatasetGenerationError("An error occurred while generating the dataset") from e

    monkeypatch.setattr(datasets.Dataset, "from_generator", full_disk)
    split = tmp_path / "train.jsonl"
    split.write_text(json.dumps(sample) + "\n")
    with pytest.raises(OSError, match="No space left on device") as raised:
        fmt.write_format("trl", tmp_path, {"train": split}, {"train": [sample], "val": [], "test": []}, "ds",
                         fmt.ImagePaths(tmp_path, relative=False))
    assert not isinstance(raised.value, DatasetGenerationError) and not (tmp_path / ".hf-cache").exists()


def test_llamafactory_json_and_dataset_info(exported, records):
    info = json.loads((exported / "llamafactory" / "dataset_info.json").read_text())
    assert set(info) == {f"depthfirst_snake_{s}" for s in SPLITS}
    for split in SPLITS:
        entry = info[f"depthfirst_snake_{split}"]
        assert entry["formatting"] == "sharegpt"
        assert entry["columns"] == {"messages": "messages", "images": "images"}
        assert entry["tags"]["role_tag"] == "role" and entry["tags"]["user_tag"] == "user"
        rows = json.loads((exported / "llamafactory" / entry["file_name"]).read_text())
        assert len(rows) == len(records[split])
        for row, rec in zip(rows, records[split], strict=True):
            assert row["messages"][0]["content"].count("<image>") == len(row["images"]) == len(rec["images"])
            for path, rel in zip(row["images"], rec["images"], strict=True):
                assert Path(path).is_absolute() and Path(path).read_bytes() == (exported / rel).read_bytes()


def test_trl_dataset_loads_from_disk_with_pil_images(exported, records):
    datasets = needs_datasets()
    dd = datasets.load_from_disk(str(exported / "trl"))
    assert set(dd) == {"train", "validation", "test"}
    for split, hf in (("train", "train"), ("val", "validation"), ("test", "test")):
        ds = dd[hf]
        assert len(ds) == len(records[split])
        for row, rec in zip(ds.select(range(min(len(ds), 25))), records[split], strict=False):
            levels = ("id", "plot_level", "qa_level")  # the levels as the records' ints, not strings
            assert [row[k] for k in levels] == [rec[k] for k in levels]
            assert all(isinstance(img, Image.Image) for img in row["images"])
            for img, rel in zip(row["images"], rec["images"], strict=True):
                assert np.array_equal(np.asarray(img.convert("RGB")), pixels(exported / rel))
            parts = [p["type"] for p in row["prompt"][0]["content"]]
            assert parts == ["image"] * len(rec["images"]) + ["text"]
            completion = row["completion"][0]["content"][0]["text"]
            assert verify(completion, row["ground_truth"])["overall"] == 1.0


def test_easyr1_parquet_has_images_problem_answer(exported, records, tmp_path):
    for split in SPLITS:
        table = pq.read_table(exported / "easyr1" / f"{split}.parquet")
        assert table.column_names == ["images", "problem", "answer"]
        rows = table.to_pylist()
        assert len(rows) == len(records[split])
        for row, rec in zip(rows[:25], records[split], strict=False):
            assert row["problem"].count("<image>") == len(row["images"])
            for img, rel in zip(row["images"], rec["images"], strict=True):
                assert np.array_equal(pixels(img["bytes"]), pixels(exported / rel))
            assert verify(reference_response(rec), row["answer"])["overall"] == 1.0
            assert verify("<think>x</think><answer>-12345</answer>", row["answer"])["accuracy"] == 0.0
    datasets = needs_datasets()
    # Its cache under tmp_path, not ~/.cache/huggingface that every test process and the tester share.
    loaded = datasets.load_dataset("parquet", data_files=str(exported / "easyr1" / "train.parquet"),
                                   split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert loaded.column_names == ["images", "problem", "answer"] and len(loaded) == len(records["train"])


def test_verl_parquet_follows_the_documented_columns(exported, records):
    for split in SPLITS:
        rows = pq.read_table(exported / "verl" / f"{split}.parquet").to_pylist()
        assert len(rows) == len(records[split])
        for i, (row, rec) in enumerate(zip(rows, records[split], strict=True)):
            assert list(row) == ["data_source", "prompt", "images", "ability", "reward_model", "extra_info"]
            assert row["data_source"] == "depthfirst/snake" and row["ability"] == rec["family"]
            assert row["reward_model"]["style"] == "rule"
            assert row["extra_info"] == {**row["extra_info"], "split": split, "index": i, "id": rec["id"]}
            assert row["prompt"][0]["role"] == "user"
            assert row["prompt"][0]["content"].count("<image>") == len(row["images"]) == len(rec["images"])
            assert verify(reference_response(rec), row["reward_model"]["ground_truth"])["overall"] == 1.0
        if rows:
            assert pixels(rows[0]["images"][0]["bytes"]).shape[2] == 3


def test_image_tokens_follow_the_qwen_vl_resize():
    """One token per 28×28 tile after Qwen2-VL's resize: worked by hand from its smart_resize, and from
    EasyR1's upscale of an image below its example config's min_pixels (512×512) before the processor."""
    assert fmt.image_tokens(380, 380, fmt.VERL_PIXELS) == 14 * 14  # 380 -> 392 = 14 tiles a side
    assert fmt.image_tokens(640, 576, fmt.VERL_PIXELS) == 23 * 21  # a Game Boy screen magnified 4×
    assert fmt.image_tokens(40, 20, fmt.VERL_PIXELS) == 3 * 2  # raised to min_pixels: 84×56
    assert fmt.image_tokens(380, 380, fmt.EASYR1_PIXELS) == 18 * 18  # 380 -> 511 (512×512 px) -> 504
    assert fmt.image_tokens(8000, 8000, fmt.EASYR1_PIXELS) == 73 * 73  # 2048 px a side -> 2044


def test_verl_image_tokens_take_the_image_as_it_is_not_scaled_first():
    """verl opens each image with qwen_vl_utils.fetch_image, whose smart_resize rounds the image's own size:
    nothing scales it into the pixel range first, as EasyR1 does. A 10×31 image is 28×28 by rounding, below
    min_pixels (56×56), so it grows by sqrt(3136 / 310) ≈ 3.18 to ceil(1.14)×ceil(3.52) tiles: 2×4. Scaled
    first to 17×55 (int of 3136 px), it rounded to 1×2 tiles, then grew to 2×2: 4, half the real count.
    Above max_pixels, smart_resize floors the image's own size over beta, not a scaled copy's rounded."""
    assert fmt.image_tokens(10, 31, fmt.VERL_PIXELS) == 2 * 4
    # beta = sqrt(5000 × 4096 / (28 × 28 × 16384)): floor(4096 / beta / 28) × floor(5000 / beta / 28)
    assert fmt.image_tokens(5000, 4096, fmt.VERL_PIXELS) == 115 * 141


def test_image_tokens_at_the_edges_of_smart_resize():
    """Where a mutant of image_tokens passed the tests above: a side under 14 pixels still rounds to one
    tile (qwen_vl_utils' max(factor, ...)), a size that rounds to exactly min_pixels or max_pixels is kept
    (smart_resize's strict < and >), and EasyR1 truncates its scaled size (int(), not round())."""
    assert fmt.image_tokens(10, 200, fmt.VERL_PIXELS) == 1 * 7
    assert fmt.image_tokens(60, 50, fmt.VERL_PIXELS) == 2 * 2  # 56×56: min_pixels itself
    assert fmt.image_tokens(3590, 3580, fmt.VERL_PIXELS) == 128 * 128  # 3584×3584: max_pixels itself
    # 100×226 scaled to 512×512 pixels: 340.6×769.7, truncated to 340×769 (27.46 rows); 770 rounds to 28
    assert fmt.image_tokens(100, 226, fmt.EASYR1_PIXELS) == 12 * 27


def test_prompt_tokens_count_the_chat_template_and_each_images_markers(sample):
    """Qwen2-VL's template around the user turn (system prompt, turn markers, the assistant's start) is 19
    tokens by Qwen's BPE, and each image's tiles sit between <|vision_start|> and <|vision_end|>: counted
    beside the tiles and the text, for any number of images."""
    rec = {**sample, "images": [f"images/{k}.png" for k in range(10)]}
    tiles = fmt.image_tokens(380, 380, fmt.VERL_PIXELS)
    rest = (fmt.prompt_tokens(rec, lambda path: (380, 380), fmt.VERL_PIXELS) - 10 * tiles
            - math.ceil(len(rec["question"]) / 3))
    assert rest >= 19 + 10 * 2


def test_longest_prompts_reads_every_split_and_each_trainers_resize(tmp_path, sample):
    """The longest record of any split (verl and EasyR1 validate on val or test), counted with each format's
    own resize: a Game Boy screen at --scale 64 (1280×1152) is 46×41 tiles for TRL's processor, 29×26 once
    LLaMA-Factory has scaled it under 768×768. Each size is read from its PNG header, width first."""
    from vlm.card import longest_prompts

    (tmp_path / "images").mkdir()
    for name, size in (("small", (100, 100)), ("screen", (1280, 1152)), ("tall", (20, 300))):
        Image.new("RGB", size).save(tmp_path / "images" / f"{name}.png")
    assert fmt.png_size(str(tmp_path / "images" / "tall.png")) == (20, 300)
    small, screen = ({**sample, "images": [f"images/{name}.png"]} for name in ("small", "screen"))
    got = longest_prompts(tmp_path, {"train": [small], "val": [], "test": [screen]},
                          ["verl", "easyr1", "llamafactory", "trl"])

    def size(rel: str) -> tuple[int, int]:
        return Image.open(tmp_path / rel).size

    assert got == {"verl": fmt.prompt_tokens(screen, size, fmt.VERL_PIXELS),
                   "easyr1": fmt.prompt_tokens(screen, size, fmt.EASYR1_PIXELS),
                   "llamafactory": fmt.sequence_tokens(screen, size, fmt.LLAMAFACTORY_PIXELS),
                   "trl": fmt.sequence_tokens(screen, size, fmt.TRL_PIXELS)}
    assert got["trl"] - got["llamafactory"] == 46 * 41 - 29 * 26
    assert longest_prompts(tmp_path, {"train": [small], "val": [], "test": [screen]}, ["swift"]) == {}


def test_the_card_sets_a_max_prompt_length_every_verl_and_easyr1_prompt_fits(exported):
    """verl's data.max_prompt_length defaults to 512 and its truncation to 'error': a longer prompt stops the
    run, and a one-image Snake best-move prompt is about 650 tokens. EasyR1's example config drops longer
    prompts (filter_overlong_prompts). The card's commands name a length every row of every split fits,
    counted from the rows' own decoded images and text."""
    card = (exported / "README.md").read_text(encoding="utf-8")
    for name, column, pixels_range in (("verl", "prompt", fmt.VERL_PIXELS),
                                       ("easyr1", "problem", fmt.EASYR1_PIXELS)):
        row = next(line for line in card.splitlines() if line.startswith(f"| {name} |"))
        found = re.findall(r"data\.max_prompt_length=(\d+)", row)
        assert len(found) == 1, row
        longest = 0
        for split in SPLITS:
            for r in pq.read_table(exported / name / f"{split}.parquet").to_pylist():
                text = r[column][0]["content"] if name == "verl" else r[column]
                sizes = [Image.open(io.BytesIO(i["bytes"])).size for i in r["images"]]
                images = sum(fmt.image_tokens(w, h, pixels_range) for w, h in sizes)
                longest = max(longest, images + len(text.replace("<image>", "")) // 3)
        assert longest < int(found[0]) <= longest + 256, (name, longest, found)
    assert int(re.findall(r"data\.max_prompt_length=(\d+)", card)[0]) > 512  # verl's default is too short


def test_a_five_screen_spy_game_is_longer_than_the_sft_trainers_cut_by_default(sample):
    """LLaMA-Factory's cutoff_len (2048) and TRL's SFT max_length (1024) cut a longer example, its image
    tokens too. A Pokémon Red spy game of five 640×576 screens (483 tokens each, under LLaMA-Factory's
    768×768 image_max_pixels) takes more than 2048 with its reply; its prompt alone counts less."""
    rec = {**sample, "images": [f"images/{k}.png" for k in range(5)]}
    screens = fmt.sequence_tokens(rec, lambda path: (640, 576), fmt.LLAMAFACTORY_PIXELS)
    reply = math.ceil(len(reference_response(rec)) / 2)  # digits, a token each, weigh more than in a question
    assert screens == fmt.prompt_tokens(rec, lambda path: (640, 576), fmt.LLAMAFACTORY_PIXELS) + reply + 2
    assert screens > 5 * 23 * 21 > 2048
    # LLaMA-Factory scales a larger picture down to 768×768 pixels first (--scale 64's screen: 809×728,
    # rounded to 29×26 tiles), where TRL's processor takes it whole (46×41).
    assert fmt.image_tokens(1280, 1152, fmt.LLAMAFACTORY_PIXELS) == 29 * 26
    assert fmt.image_tokens(1280, 1152, fmt.TRL_PIXELS) == 46 * 41


def test_the_card_sets_a_length_every_sft_example_fits(exported):
    """The card's LLaMA-Factory cutoff_len and TRL SFT max_length, each above the longest example of the
    format's own files (prompt, images as that trainer resizes them, and reply)."""
    card = (exported / "README.md").read_text(encoding="utf-8")
    row = next(line for line in card.splitlines() if line.startswith("| llamafactory |"))
    found = re.findall(r"`cutoff_len: (\d+)`", row)
    assert len(found) == 1, row
    longest = 0
    for split in SPLITS:
        for r in json.loads((exported / "llamafactory" / f"{split}.json").read_text(encoding="utf-8")):
            question, reply = (m["content"] for m in r["messages"])
            images = sum(fmt.image_tokens(*Image.open(exported / "llamafactory" / p).size,
                                          fmt.LLAMAFACTORY_PIXELS) + 2 for p in r["images"])
            text = math.ceil(len(question.replace("<image>", "")) / 3) + math.ceil(len(reply) / 2)
            longest = max(longest, fmt.TEMPLATE_TOKENS + images + text + 2)
    assert longest < int(found[0]) <= longest + 64, (longest, found)
    if "| trl |" in card:  # with the datasets library: the same records, each image as the processor takes it
        row = next(line for line in card.splitlines() if line.startswith("| trl |"))
        assert re.findall(r"SFTConfig\(max_length=(\d+)\)", row) == [found[0]], row  # images under 768×768


def test_the_card_sets_openrlhfs_prompt_length_as_verls(exported):
    """OpenRLHF's prompt_max_len (default 1024) with its generate length (1024) sizes vLLM's context: a
    Sokoban prompt (about 1,200 tokens) is over it, a five-screen Pokémon Red one (about 2,600) over the
    whole context. The card names it in both commands (OpenRLHF 0.11's --data.prompt_max_len, the ViGaL
    fork's --prompt_max_len), counted as verl's (each image as the processor takes it)."""
    card = (exported / "README.md").read_text(encoding="utf-8")
    row = next(line for line in card.splitlines() if line.startswith("| openrlhf |"))
    verl = re.findall(r"data\.max_prompt_length=(\d+)", next(
        line for line in card.splitlines() if line.startswith("| verl |")))
    assert re.findall(r"--data\.prompt_max_len (\d+)", row) == verl, row
    assert re.findall(r" --prompt_max_len (\d+)", row) == verl, row


def test_openrlhf_jsonl_serves_openrlhf_and_the_vigal_fork(exported, records):
    for split in SPLITS:
        lines = (exported / "openrlhf" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == len(records[split])
        for line, rec in zip(lines, records[split], strict=True):
            row = json.loads(line)
            assert set(row) == {"message", "prompt", "images", "answer"} and isinstance(row["message"], str)
            content = json.loads(row["message"])[0]["content"]  # lmm-r1: Qwen-VL parts
            uris = [p["image"] for p in content if p["type"] == "image"]
            assert len(uris) == len(rec["images"])
            assert content[-1] == {"type": "text", "text": rec["question"]}
            assert all(u.startswith("file:///") and Path(u[7:]).is_file() for u in uris)
            # OpenRLHF 0.11: one <image> tag per image in `prompt`, the same files as plain paths
            assert row["prompt"].count("<image>") == len(row["images"])
            assert row["prompt"].endswith(rec["question"])
            assert row["images"] == [u[7:] for u in uris]
            assert verify(reference_response(rec), row["answer"])["overall"] == 1.0


def test_swift_jsonl_sft_and_rl_files(exported, records):
    for split in SPLITS:
        sft = [json.loads(x) for x in (exported / "swift" / f"{split}.jsonl").read_text().splitlines()]
        rl = [json.loads(x) for x in (exported / "swift" / f"{split}_rl.jsonl").read_text().splitlines()]
        assert len(sft) == len(rl) == len(records[split])
        for a, b, rec in zip(sft, rl, records[split], strict=True):
            assert [m["role"] for m in a["messages"]] == ["user", "assistant"]
            assert [m["role"] for m in b["messages"]] == ["user"]
            assert a["messages"][0]["content"].count("<image>") == len(a["images"]) == len(rec["images"])
            assert all(Path(p).is_file() for p in a["images"])
            assert verify(a["messages"][1]["content"], b["solution"])["overall"] == 1.0


WRONG = "<think>x</think><answer>-12345</answer>"  # no answer of the export's


def test_each_reward_scores_its_format_s_rows_as_its_trainer_calls_it(exported, records, monkeypatch):
    """Each entry point of vlm/rewards.py, loaded by path and called with the argument shapes of its
    trainer's call site, on the rows that trainer reads from this export: the reference reply scores 1, a
    wrong answer what verify gives it, at most the format's 0.1. Call sites: TRL 1.16
    GRPOTrainer._calculate_rewards, EasyR1's batch FunctionRewardManager, verl 0.9.1's reward-loop
    NaiveRewardManager.run_single, OpenRLHF 0.11's SingleTurnAgentExecutor (one query at a time),
    ms-swift 4.6's compute_rewards_per_func."""
    from functools import partial

    from tests.vlm.test_verify import load_as_swift_plugin, load_rewards

    rewards = load_rewards()
    recs = records["train"][:12]
    refs = [reference_response(r) for r in recs]
    n = len(refs)
    expected = [1.0] * n + [verify(WRONG, r)["overall"] for r in recs]
    assert max(expected[n:]) <= 0.1
    replies = refs + [WRONG] * n

    def twice(rows: list) -> list:  # each row once for its reference reply, once for the wrong one
        return rows[:n] * 2

    def jsonl(rel: str) -> list[dict]:
        return twice([json.loads(x) for x in (exported / rel).read_text(encoding="utf-8").splitlines()])

    if datasets_installed():
        import datasets

        rows = twice(list(datasets.load_from_disk(str(exported / "trl"))["train"]))
        skip = ("prompt", "completion", "completion_ids")  # TRL passes every column but these
        columns = {k: [r[k] for r in rows] for k in rows[0] if k not in skip}
        got = rewards.trl_reward(prompts=[r["prompt"] for r in rows],
                                 completions=[[{"role": "assistant", "content": c}] for c in replies],
                                 completion_ids=[[1, 2]] * len(rows), trainer_state=None,
                                 log_extra=lambda *a, **k: None, log_metric=lambda *a, **k: None, **columns)
        assert got == expected

    easyr1 = twice(pq.read_table(exported / "easyr1" / "train.parquet").to_pylist())
    reward_fn = partial(rewards.compute_score, **{})  # worker.reward.reward_function_kwargs, none given
    scores = reward_fn([{"response": c, "response_length": 9, "ground_truth": r["answer"]}
                        for c, r in zip(replies, easyr1, strict=True)])
    assert [s["overall"] for s in scores] == expected
    assert all(set(s) == {"overall", "format", "accuracy"} for s in scores)

    verl = twice(pq.read_table(exported / "verl" / "train.parquet").to_pylist())
    got = [rewards.compute_score(data_source=r["data_source"], solution_str=c,
                                 ground_truth=r["reward_model"]["ground_truth"],
                                 extra_info={**r["extra_info"], "num_turns": None,
                                             "rollout_reward_scores": {}})
           for c, r in zip(replies, verl, strict=True)]
    assert [g["score"] for g in got] == expected

    openrlhf = jsonl("openrlhf/train.jsonl")
    image = "<|vision_start|><|image_pad|><|vision_end|>"
    got = []
    for c, r in zip(replies, openrlhf, strict=True):
        question = r["prompt"].replace("<image>", image)
        prompt = f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
        query = prompt.replace("<|image_pad|>", "<|image_pad|>" * 16) + c + "<|im_end|>"
        got.append(rewards.reward_func([query], [prompt], [r["answer"]])["rewards"].item())
    assert got == pytest.approx(expected)  # float32 tensors

    _, orms = load_as_swift_plugin(monkeypatch)
    swift = jsonl("swift/train_rl.jsonl")
    columns = {k: [r[k] for r in swift] for k in swift[0]}
    assert orms["depthfirst"](args=None)(replies, trainer_state=None, **columns) == expected


def test_relative_paths_resolve_where_each_trainer_looks(tmp_path_factory, tmp_path):
    from tests.conftest import load_script
    from tests.vlm.test_trajectories import export_args, tiny_snake_run

    out = tmp_path / "rel"
    args = export_args(tiny_snake_run(tmp_path_factory), out, "--relative-paths", "--formats",
                       "llamafactory,swift,openrlhf")
    assert load_script("export_trajectories").main(args) == 0
    lf = json.loads((out / "llamafactory" / "train.json").read_text())
    assert lf and all(p.startswith("../images/") and (out / "llamafactory" / p).is_file()
                      for row in lf for p in row["images"])  # against dataset_dir, as LLaMA-Factory does
    for name in ("swift", "openrlhf"):  # against the export folder (ROOT_IMAGE_DIR, or start there)
        rows = [json.loads(line) for line in (out / name / "train.jsonl").read_text().splitlines()]
        paths = [p for r in rows for p in r["images"]]
        assert paths and all(p.startswith("images/") and (out / p).is_file() for p in paths)
    message = json.loads(rows[0]["message"])[0]["content"]
    assert [p["image"] for p in message if p["type"] == "image"] == rows[0]["images"]
    assert json.loads((out / "trajectories" / "meta.json").read_text())["relative_paths"] is True
    card = (out / "README.md").read_text()
    assert "set `ROOT_IMAGE_DIR` to this folder" in card and "run every command from this folder" in card
    # The card's commands, run from the export folder as it says: relative paths that exist from there,
    # and the reward file of this installation (not a path relative to the repository).
    from vlm.card import REWARDS

    for flag in ("--data.prompt_dataset ", "--prompt_data ", "--dataset ", "dataset_dir: "):
        paths = re.findall(re.escape(flag) + r"([^ `,]+)", card)
        assert paths and all(not Path(p).is_absolute() and (out / p).exists() for p in paths), (flag, paths)
    assert re.findall(r"--reward\.remote_url (\S+?)`", card) == [str(REWARDS)] and REWARDS.is_file()


def test_every_alias_names_its_format_and_only_a_lone_keyword_is_one():
    """Each alias the error message lists is read as its format, and ``keyword`` answers ``all`` or
    ``none`` only for that word alone: "all,none" is neither (parse_formats refuses it)."""
    for alias, name in fmt.ALIASES.items():
        assert fmt.parse_formats(alias.upper()) == [name], alias
    assert fmt.parse_formats("vigal,lmm-r1,llama_factory,datasets") == ["openrlhf", "llamafactory", "trl"]
    assert fmt.keyword("ALL,") == "all" and fmt.keyword("none,none") == "none"
    assert fmt.keyword("all,none") is None and fmt.keyword("trl") is None
