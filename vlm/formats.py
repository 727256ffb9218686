"""Trainer formats: each a pure mapping of a task record (``vlm/record.py``), written side by side.

The ``*_example`` functions map one record (its dict form, as in ``train.jsonl``) to one example of a
trainer's documented schema; ``image_ref`` says how an image path is written (absolute path, relative
path, URI or embedded bytes). ``write_format`` only does the file work. Schemas followed, read in each
project's own repository (main branch, late 2026; PyPI versions of that time in brackets):

- LLaMA-Factory (``data/README.md``, "OpenAI format" + "Multimodal image dataset"; llamafactory 0.9.5):
  sharegpt formatting with ``messages`` (role/content) + ``images``, one ``<image>`` token per image,
  registered in ``dataset_info.json`` (columns and tags); image paths resolve against ``media_dir``.
- TRL (``docs/source/dataset_formats.md``, "Vision datasets"; trl 1.16): conversational
  prompt-completion, ``prompt``/``completion`` messages whose content is a list of ``{"type": "image"}``
  / ``{"type": "text"}`` parts, and an ``images`` column, saved with ``datasets`` ``save_to_disk``.
- EasyR1 (``verl/utils/dataset.py`` RLHFDataset): parquet ``images`` (``{"bytes", "path"}``), ``problem``
  with ``<image>`` placeholders (``data.prompt_key=problem``), ``answer`` (handed to the reward).
- verl (``examples/data_preprocess/geo3k.py``, ``verl/utils/dataset/vision_utils.py``; verl 0.9.1):
  parquet ``data_source``, ``prompt`` (chat messages with ``<image>`` placeholders), ``images``
  (``{"bytes", "path"}``), ``ability``, ``reward_model`` {style, ground_truth}, ``extra_info``.
- OpenRLHF, two readers of one JSONL. ViGaL's fork (lmm-r1 / OpenRLHF-M: ``train_snake.sh``
  ``--input_key message``, ``lmm_kits/base/data_processor.py``): ``message`` = JSON string of Qwen-VL
  content parts (``{"type": "image", "image": "file:///…"}``, the path after ``file://`` verbatim, not
  percent-encoded: qwen_vl_utils strips the prefix and opens the rest). OpenRLHF itself (0.11,
  ``datasets/prompts_dataset.py``): ``prompt`` = text with ``<image>`` tags (``--data.input_key prompt
  --data.apply_chat_template``) and ``images`` = plain paths (``--data.image_key``). ``answer`` = the
  label for the reward function in both.
- ms-swift (``docs/source_en/Customization/Custom-dataset.md``, "Multimodal" and "PPO/GRPO"; ms-swift
  4.6): JSONL ``messages`` with ``<image>`` tags + ``images`` (absolute paths preferred); ``solution``
  rides along, since GRPO passes extra columns to the reward function.

Ground truths are ``vlm.verify.ground_truth_json(record)``: the verifier spec and answer as JSON, which
every reward function in ``vlm/rewards.py`` reads back.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from agents.runs import file_sha1
from vlm.splits import SPLIT_NAMES
from vlm.verify import ground_truth_json, reference_response

Record = dict[str, Any]
ImageRef = Callable[[str], Any]

IMAGE_TOKEN = "<image>"
FORMATS = ("llamafactory", "trl", "easyr1", "verl", "openrlhf", "swift")
ALIASES = {"llama-factory": "llamafactory", "llama_factory": "llamafactory", "hf": "trl", "datasets": "trl",
           "ms-swift": "swift", "vigal": "openrlhf", "lmm-r1": "openrlhf"}
HF_SPLIT = {"train": "train", "val": "validation", "test": "test"}  # Hugging Face's split names


def keyword(text: str) -> str | None:
    """``all`` or ``none`` when ``--formats`` is that word alone (in any case, repeated, with stray commas:
    "ALL,", "all,all"), else None."""
    words = {w.strip().lower() for w in text.split(",")} - {""}
    return next(iter(words)) if len(words) == 1 and words <= {"all", "none"} else None


def parse_formats(text: str) -> list[str]:
    """``all``, ``none`` or a comma list of format names (aliases allowed) -> canonical names."""
    raws = [raw.strip() for raw in text.split(",") if raw.strip()]
    if not raws:  # e.g. an unset shell variable: not a silent "none"
        raise ValueError(f"--formats {text!r} names no format; give 'none' for no trainer format, or 'all'")
    alone = keyword(text)  # the keyword repeated ("all,all") names nothing else
    if alone is not None:
        return list(FORMATS) if alone == "all" else []
    lowered = {raw.lower() for raw in raws}
    # Each keyword stands alone: "none,trl" contradicts itself, and "all,trl" is at best redundant, at
    # worst a list the user meant to be only the formats named (all six cost minutes and gigabytes).
    # Refused alike, before any work, rather than guessing either.
    for word, means in (("none", "no trainer format"), ("all", "every trainer format")):
        if word in lowered:
            raise ValueError(f"--formats {text!r}: {word!r} means {means}, so it takes no other name; "
                             f"give {word!r} alone or only the formats wanted")
    names: list[str] = []
    for raw in raws:
        name = ALIASES.get(raw.lower(), raw.lower())
        if name not in FORMATS:
            aliases = ", ".join(f"{a}={b}" for a, b in ALIASES.items())
            raise ValueError(f"--formats: unknown format {raw!r}; known: all, none, "
                             f"{', '.join(FORMATS)} (aliases: {aliases})")
        names.append(name)
    return list(dict.fromkeys(names))


# ------------------------------------------------------------------------------------- pure mappings

def prompt_text(rec: Record) -> str:
    """The user turn as text: one ``<image>`` token per image, then the question (which already holds
    the options and the answer-format instruction)."""
    if IMAGE_TOKEN in rec["question"]:
        raise ValueError(f"record {rec['id']}: the question contains {IMAGE_TOKEN!r}, which trainers read "
                         "as an image placeholder")
    return IMAGE_TOKEN * len(rec["images"]) + rec["question"]


# Prompt lengths in tokens, for the RL trainers' data.max_prompt_length: verl's default (512, truncation
# 'error') stops the run at a longer prompt, EasyR1's example config drops one. Counted for Qwen2-VL and
# Qwen2.5-VL, the models of their examples: an image takes one token per 28×28-pixel tile (14-pixel patches
# merged 2×2) once resized into the trainer's pixel range; text is counted at 3 characters a token (Qwen's
# BPE gave 3.08 to 3.95 on Snake, Sokoban and Rotation prompts: every prompt's count here came out 20 or
# more tokens above its real one), plus the chat template's.
TILE = 28
# The processor's own range (the models' preprocessor_config.json), which qwen_vl_utils' defaults match.
QWEN_PIXELS = (56 * 56, 28 * 28 * 16384)
VERL_PIXELS = None  # verl opens each image with qwen_vl_utils.fetch_image: smart_resize alone, in those
EASYR1_PIXELS = (512 * 512, 2048 * 2048)  # EasyR1's example config: data.min_pixels, data.max_pixels
# The SFT formats' examples, reply included, for LLaMA-Factory's cutoff_len (default 2048) and TRL's SFT
# max_length (default 1024), which cut a longer example, image tokens and all.
LLAMAFACTORY_PIXELS = (32 * 32, 768 * 768)  # its image_min_pixels, image_max_pixels defaults
TRL_PIXELS = None  # the processor alone
TEMPLATE_TOKENS = 32  # Qwen2-VL's system, user and assistant turns' markers (about 21)
IMAGE_MARK_TOKENS = 2  # <|vision_start|> and <|vision_end|> around each image's tiles


@lru_cache(maxsize=256)  # an export's images come in a few sizes
def image_tokens(width: int, height: int, pixels: tuple[int, int] | None) -> int:
    """Tokens of one ``width``×``height`` image: scaled into ``pixels`` (min, max; aspect kept) where the
    trainer resizes it first (None: it does not), then rounded to whole tiles within Qwen2-VL's own range as
    its processor's ``smart_resize`` does."""
    if pixels is not None:
        area, (low, high) = width * height, pixels
        if not low <= area <= high:
            scale = math.sqrt((low if area < low else high) / area)
            width, height = int(width * scale), int(height * scale)
    h, w = max(TILE, round(height / TILE) * TILE), max(TILE, round(width / TILE) * TILE)
    low, high = QWEN_PIXELS
    if h * w > high:
        beta = math.sqrt(height * width / high)
        h, w = math.floor(height / beta / TILE) * TILE, math.floor(width / beta / TILE) * TILE
    elif h * w < low:
        beta = math.sqrt(low / (height * width))
        h, w = math.ceil(height * beta / TILE) * TILE, math.ceil(width * beta / TILE) * TILE
    return (h // TILE) * (w // TILE)


def prompt_tokens(rec: Record, sizes: Callable[[str], tuple[int, int]], pixels: tuple[int, int] | None
                  ) -> int:
    """About how many tokens the user turn of ``rec`` takes (see ``TILE``), ``sizes`` giving an image
    path's (width, height)."""
    images = sum(image_tokens(*sizes(p), pixels) + IMAGE_MARK_TOKENS for p in rec["images"])
    return TEMPLATE_TOKENS + images + math.ceil(len(rec["question"]) / 3)


def sequence_tokens(rec: Record, sizes: Callable[[str], tuple[int, int]], pixels: tuple[int, int] | None
                    ) -> int:
    """About how many tokens ``rec`` takes as an SFT example: its prompt (``prompt_tokens``), then the
    reference reply and its turn's end. The reply is counted at 2 characters a token: its coordinates and
    counts, a token a digit, gave Qwen's BPE 2.43 to 2.58 on Snake, Sokoban and Pokémon replies."""
    return prompt_tokens(rec, sizes, pixels) + math.ceil(len(reference_response(rec)) / 2) + 2


def png_size(path: str) -> tuple[int, int]:
    """(width, height) from a PNG's header, without decoding it."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path}: not a PNG")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def llamafactory_example(rec: Record, image_ref: ImageRef) -> Record:
    return {"messages": [{"role": "user", "content": prompt_text(rec)},
                         {"role": "assistant", "content": reference_response(rec)}],
            "images": [image_ref(p) for p in rec["images"]]}


def llamafactory_info(name: str, files: dict[str, str]) -> dict[str, Any]:
    """``dataset_info.json`` entries, one per split (``<name>_<split>``)."""
    return {f"{name}_{split}": {
        "file_name": file, "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant", "system_tag": "system"}} for split, file in files.items()}


def trl_example(rec: Record, image_ref: ImageRef) -> Record:
    parts: list[dict[str, Any]] = [{"type": "image", "text": None} for _ in rec["images"]]
    parts.append({"type": "text", "text": rec["question"]})
    return {
        "id": rec["id"], "game": rec["game"], "family": rec["family"], "qa_type": rec["qa_type"],
        "plot_level": rec["plot_level"], "qa_level": rec["qa_level"],
        "prompt": [{"role": "user", "content": parts}],
        "completion": [{"role": "assistant", "content": [{"type": "text", "text": reference_response(rec)}]}],
        "images": [image_ref(p) for p in rec["images"]],
        "question": rec["question"], "options": rec["options"], "answer": rec["answer"],
        "analysis": rec["analysis"], "ground_truth": ground_truth_json(rec),
        "verifier": json.dumps(rec["verifier"], sort_keys=True),
        "source": json.dumps(rec["source"], sort_keys=True),
    }


def easyr1_example(rec: Record, image_ref: ImageRef) -> Record:
    return {"images": [image_ref(p) for p in rec["images"]], "problem": prompt_text(rec),
            "answer": ground_truth_json(rec)}


def verl_example(rec: Record, image_ref: ImageRef, split: str, index: int) -> Record:
    return {
        "data_source": f"depthfirst/{rec['game']}",
        "prompt": [{"role": "user", "content": prompt_text(rec)}],
        "images": [image_ref(p) for p in rec["images"]],
        "ability": rec["family"],
        "reward_model": {"style": "rule", "ground_truth": ground_truth_json(rec)},
        "extra_info": {"split": split, "index": index, "id": rec["id"], "game": rec["game"],
                       "qa_type": rec["qa_type"], "plot_level": rec["plot_level"],
                       "qa_level": rec["qa_level"],
                       "answer": rec["answer"], "question": rec["question"]},
    }


def openrlhf_example(rec: Record, paths: ImagePaths) -> Record:
    content: list[dict[str, Any]] = [{"type": "image", "image": paths.uri(p)} for p in rec["images"]]
    content.append({"type": "text", "text": rec["question"]})
    return {"message": json.dumps([{"role": "user", "content": content}], ensure_ascii=False),
            "prompt": prompt_text(rec), "images": [paths.path(p) for p in rec["images"]],
            "answer": ground_truth_json(rec)}


def swift_example(rec: Record, image_ref: ImageRef, with_response: bool = True) -> Record:
    messages = [{"role": "user", "content": prompt_text(rec)}]
    if with_response:
        messages.append({"role": "assistant", "content": reference_response(rec)})
    return {"messages": messages, "images": [image_ref(p) for p in rec["images"]],
            "solution": ground_truth_json(rec)}


# ------------------------------------------------------------------------------------------ writing

class ImagePaths:
    """How image paths are written into path-based formats: absolute (the default: trainers resolve
    relative paths against different folders) or relative to a given folder (``--relative-paths``)."""

    def __init__(self, final_root: Path, relative: bool) -> None:
        self.relative = relative
        self._root = os.path.abspath(final_root)  # a str, joined with os.path: a Path per image is slow

    def path(self, rel: str, folder: str = "") -> str:
        if self.relative:
            return rel if not folder else os.path.relpath(rel, folder)
        return os.path.join(self._root, rel)

    def uri(self, rel: str) -> str:
        # Not Path.as_uri(): it percent-encodes (a space becomes %20), and qwen_vl_utils.fetch_image, which
        # lmm-r1/ViGaL read these with, opens ``uri[7:]`` verbatim, so any space or non-ASCII character in
        # the export folder's path would name a file that does not exist.
        return rel if self.relative else "file://" + os.path.join(self._root, rel)


class ImageBytes:
    """Embedded images for the parquet/Arrow formats, read back from the content-addressed store. The
    last few reads are kept: a state's tasks (neighbours in a split file) share its pictures."""

    def __init__(self, root: Path, recent: int = 64) -> None:
        self.root = str(root)
        self._read = lru_cache(maxsize=recent)(self._read_file)

    def _read_file(self, rel: str) -> bytes:
        with open(os.path.join(self.root, rel), "rb") as f:
            return f.read()

    def __call__(self, rel: str) -> dict[str, Any]:
        return {"bytes": self._read(rel), "path": rel.rsplit("/", 1)[-1]}


def write_jsonl(path: Path, rows: Iterable[Record]) -> None:
    """``rows`` as JSON Lines (UTF-8, non-ASCII kept as is)."""
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_json_array(path: Path, rows: Iterable[Record]) -> None:
    """``rows`` as one JSON list, a row a line (LLaMA-Factory's files)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("[")
        for k, row in enumerate(rows):
            f.write(("\n" if k == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
        f.write("\n]\n")


IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
EASYR1_SCHEMA = pa.schema([("images", pa.list_(IMAGE_STRUCT)), ("problem", pa.string()),
                           ("answer", pa.string())])
VERL_SCHEMA = pa.schema([
    ("data_source", pa.string()),
    ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("images", pa.list_(IMAGE_STRUCT)),
    ("ability", pa.string()),
    ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
    ("extra_info", pa.struct([("split", pa.string()), ("index", pa.int64()), ("id", pa.string()),
                              ("game", pa.string()), ("qa_type", pa.string()), ("plot_level", pa.int64()),
                              ("qa_level", pa.int64()), ("answer", pa.string()), ("question", pa.string())])),
])


def _write_parquet(path: Path, schema: pa.Schema, rows: Iterator[Record], batch: int = 512) -> None:
    """Rows to one parquet file, ``batch`` rows at a time (image bytes never all in memory)."""
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        buf: list[Record] = []
        for row in rows:
            buf.append(row)
            if len(buf) == batch:
                writer.write_table(pa.Table.from_pylist(buf, schema=schema))
                buf = []
        if buf:
            writer.write_table(pa.Table.from_pylist(buf, schema=schema))


def trl_features() -> Any:
    from datasets import Features, Image, List, Value

    text_part = {"type": Value("string"), "text": Value("string")}
    return Features({
        "id": Value("string"), "game": Value("string"), "family": Value("string"), "qa_type": Value("string"),
        "plot_level": Value("int32"), "qa_level": Value("int32"),
        "prompt": List({"role": Value("string"), "content": List(text_part)}),
        "completion": List({"role": Value("string"), "content": List(text_part)}),
        "images": List(Image()),
        "question": Value("string"), "options": List(Value("string")), "answer": Value("string"),
        "analysis": Value("string"), "ground_truth": Value("string"), "verifier": Value("string"),
        "source": Value("string"),
    })


def _trl_rows(records: list[Record], embed: ImageBytes) -> Iterator[Record]:
    for rec in records:
        yield trl_example(rec, embed)


def write_format(name: str, root: Path, split_files: dict[str, Path], splits: dict[str, list[Record]],
                 dataset_name: str, paths: ImagePaths,
                 progress: Callable[[int], None] | None = None) -> list[str]:
    """Write format ``name`` under ``root/<name>`` from the canonical records, ``splits`` (each split's
    records, as its file in ``split_files`` holds them); returns files written."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    embed = ImageBytes(root)
    written: list[str] = []

    def records(split: str) -> Iterator[Record]:
        for rec in splits[split]:
            if progress is not None:
                progress(1)
            yield rec

    if name == "trl":
        from datasets import Dataset, DatasetDict, disable_progress_bars, enable_progress_bars
        from datasets.exceptions import DatasetGenerationError

        features = trl_features()
        cache = root / ".hf-cache"
        disable_progress_bars()
        try:
            parts = {}
            for split in SPLIT_NAMES:
                if not splits[split]:  # from_generator cannot make an empty split
                    parts[HF_SPLIT[split]] = Dataset.from_dict({k: [] for k in features}, features=features,
                                                               split=HF_SPLIT[split])
                    continue
                digest = file_sha1(split_files[split])
                # The records ride in a partial, not gen_kwargs: datasets shards a list in gen_kwargs.
                try:
                    parts[HF_SPLIT[split]] = Dataset.from_generator(
                        partial(_trl_rows, splits[split], embed), features=features, cache_dir=str(cache),
                        fingerprint=f"depthfirst-trl-{digest}", split=HF_SPLIT[split])
                except DatasetGenerationError as e:
                    if isinstance(e.__cause__, OSError):  # a full disk, wrapped: raised as every write's
                        raise e.__cause__ from None
                    raise
                if progress is not None:
                    progress(len(parts[HF_SPLIT[split]]))
            # An empty split needs an explicit shard, or load_from_disk fails on it (datasets 5.2).
            empty = {hf: 1 for hf, part in parts.items() if len(part) == 0}
            DatasetDict(parts).save_to_disk(str(folder), num_shards=empty or None)
            del parts
        finally:
            enable_progress_bars()
            shutil.rmtree(cache, ignore_errors=True)
        return [str(p.relative_to(root)) for p in sorted(folder.rglob("*")) if p.is_file()]

    # The datasets library cannot load an empty parquet, JSONL or LLaMA-Factory file: an empty split
    # gets no file (TRL, above, keeps an empty split: its folder loads).
    present = [split for split in SPLIT_NAMES if splits[split]]
    for split in present:
        if name == "llamafactory":
            file = folder / f"{split}.json"
            write_json_array(file, (llamafactory_example(r, lambda p: paths.path(p, name))
                                    for r in records(split)))
        elif name == "easyr1":
            file = folder / f"{split}.parquet"
            _write_parquet(file, EASYR1_SCHEMA, (easyr1_example(r, embed) for r in records(split)))
        elif name == "verl":
            file = folder / f"{split}.parquet"
            _write_parquet(file, VERL_SCHEMA, (verl_example(r, embed, split, i)
                                               for i, r in enumerate(records(split))))
        elif name == "openrlhf":
            file = folder / f"{split}.jsonl"
            write_jsonl(file, (openrlhf_example(r, paths) for r in records(split)))
        elif name == "swift":
            file = folder / f"{split}.jsonl"
            write_jsonl(file, (swift_example(r, paths.path) for r in records(split)))
            rl = folder / f"{split}_rl.jsonl"  # prompt only, for swift rlhf --rlhf_type grpo
            write_jsonl(rl, (swift_example(r, paths.path, with_response=False) for r in splits[split]))
            written.append(str(rl.relative_to(root)))
        else:
            raise ValueError(f"unknown format {name!r}; known: {', '.join(FORMATS)}")
        written.append(str(file.relative_to(root)))
    if name == "llamafactory":
        info = folder / "dataset_info.json"
        entries = llamafactory_info(dataset_name, {s: f"{s}.json" for s in present})
        info.write_text(json.dumps(entries, indent=2) + "\n")
        written.append(str(info.relative_to(root)))
    return sorted(written)
