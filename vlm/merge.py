"""Several exports (``scripts/export_trajectories.py --relative-paths``, one game each) put together in one
new folder: the task records, the images, LLaMA-Factory's entries and the file formats (OpenRLHF, ms-swift,
EasyR1, verl), with a short card naming the settings that fit every game in it.

Everything is checked before anything is written, and the folder is built in a hidden sibling folder that
is renamed into place once complete: an error or a stop leaves no half folder. ``trajectories/``,
``curriculum.json``, ``trl/`` (which embeds its images: ``datasets.concatenate_datasets`` puts those
together as they load) and the exports' cards describe one export and stay with it, and so do the images
no record shows (the trajectory frames, about half an export's): every format's images are its records'
(``vlm.formats`` maps a record's ``images`` alone), so only those are copied.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from agents.cli import progress_bar
from agents.interrupts import settled, uninterruptible
from agents.outputs import (
    check_output_folder,
    folder_temp_name,
    missing_folders,
    not_written,
    process_running,
    remove_folders,
)
from envs import GAME_NAME
from vlm.card import (
    REWARDS,
    code_span,
    length_setting,
    longest_prompts,
    records_digest,
    rom_notices,
    train_and_validate,
    yaml_configs,
)
from vlm.formats import FORMATS, HF_SPLIT, write_json_array
from vlm.imagestore import IMAGE_DIR
from vlm.tasks import listed, plural
from vlm.trajectories import OWNER

SPLITS = ("train", "val", "test")
HELD_OUT = ("val", "test")
# A LLaMA-Factory entry name a trainer's config reads back as written: LLaMA-Factory splits `dataset: a,b` at
# commas and strips each name, YAML reads " #" as a comment and ": " as a key, OmegaConf "${" as a reference,
# and a backtick ends the card's code span.
ENTRY_NAME = re.compile(r"[\w.-]+")
ENTRY_CHARS = "letters, digits, '_', '-' and '.'"  # ENTRY_NAME's, as the refusals name them
MERGED_BY = "put together by `scripts/merge_exports.py`"  # in a merged folder's card: how one is told apart
# Each split's files put together: JSONL concatenated, parquet copied a row group at a time (pyarrow reads a
# row group's images as one array of at most 2 GB: one group of every row failed to load past that).
SPLIT_FILES = ("{split}.jsonl", "openrlhf/{split}.jsonl", "swift/{split}.jsonl", "swift/{split}_rl.jsonl",
               "easyr1/{split}.parquet", "verl/{split}.parquet")


class MergeError(ValueError):
    """Something the user gave that the merge refuses, said in one line naming what to change."""


@dataclass
class Source:
    """One export to put together: its folder as given, its ``meta.json`` and records per split."""

    path: Path
    meta: dict[str, Any]
    records: dict[str, int]  # split -> records
    images: int  # most images in a record
    shown: set[str]  # the images its records show, relative to its folder (images/<h[:2]>/<h>.png)
    # Its records an earlier export asks too (split -> their lines, from 0), left out of every merged file,
    # and those exports.
    dropped: dict[str, set[int]] = field(default_factory=dict)
    asked_by: list[Path] = field(default_factory=list)
    example: str = ""  # the id of one of them
    # The images its kept train records show, and each kept val and test record's: exports of one game from
    # other seeds meet the same pictures, which its own split keeps apart and the merge cannot.
    trained: set[str] = field(default_factory=set)
    held_out: dict[str, list[list[str]]] = field(default_factory=dict)

    def kept(self, split: str) -> int:
        """The split's records that go into the merged folder."""
        return self.records[split] - len(self.dropped.get(split, ()))


@dataclass
class Plan:
    out: Path
    sources: list[Source]
    lf_entries: dict[str, tuple[dict[str, Any], Path]]  # LLaMA-Factory name -> (its entry, its file)
    parts: dict[str, list[Path]]  # a merged split file -> the exports' files, in order
    lengths: dict[str, int] = field(default_factory=dict)  # format -> longest prompt (example) in tokens
    images: int = 0  # most images in a record
    trl: list[Path] = field(default_factory=list)  # the exports, where every one has a trl/ folder
    left_out: dict[str, list[Path]] = field(default_factory=dict)  # a format -> the exports that lack it
    footers: dict[Path, pq.FileMetaData] = field(default_factory=dict)  # each parquet part's, read once
    skip: dict[Path, set[int]] = field(default_factory=dict)  # a split file -> its rows left out (from 0)
    trl_dropped: bool = False  # TRL's line left out: the exports' trl/ folders hold train questions twice
    # val and test -> their records showing an image a train record of another export shows
    shared_with_train: dict[str, int] = field(default_factory=dict)

    def kept(self, split: str) -> int:
        """The split's records in the merged folder: each export's kept ones (``Source.kept``)."""
        return sum(src.kept(split) for src in self.sources)

    def split_formats(self) -> set[str]:
        """The formats whose split files are merged (each its folder: easyr1, verl...); LLaMA-Factory's
        entries are ``lf_entries``."""
        return {rel.partition("/")[0] for rel in self.parts if "/" in rel}


def _in_images(rel: object) -> bool:
    """Whether a record's image ``rel`` names a file in its export's images/, copied to the same name in the
    merged folder: an absolute path or a ".." would read or write outside the two folders."""
    return isinstance(rel, str) and rel.startswith(f"{IMAGE_DIR}/") and ".." not in rel.split("/")


def _unreadable(file: Path, path: Path, e: OSError | UnicodeDecodeError) -> MergeError:
    """The export ``path``'s ``file`` could not be read: bytes no UTF-8 text has in a text file (damage, a
    crash), or the system's refusal (a file of another user's, mode 600)."""
    if isinstance(e, UnicodeDecodeError):
        return MergeError(f"{file} is no UTF-8 text: export {path} again")
    # By its errno: pyarrow's strerror is a sentence naming the file again.
    return MergeError(f"{file} cannot be read ({os.strerror(e.errno) if e.errno else e.strerror or e})")


def _read_source(path: Path, asked: dict[str, Path]) -> tuple[Source, dict[str, list[dict[str, Any]]]]:
    """``path``'s meta and records, checked; each record's id is added to ``asked`` (id -> export)."""
    if not path.is_dir():
        raise MergeError(f"{path}: no such folder" if not path.exists() else
                         f"{path} is a file, not an export folder")
    # An export's hidden folder: its meta.json is written before the export renames it into place.
    if os.path.basename(os.path.realpath(path)).endswith(".partial") and (path / OWNER).exists():
        raise MergeError(f"{path} is an export still being written (or the work of a stopped one): give the "
                         "folder its --out names, once it is done")
    meta_file = path / "trajectories" / "meta.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except PermissionError as e:  # an export all the same (another user's): not "no export"
        raise _unreadable(meta_file, path, e) from None
    except (OSError, ValueError):
        card = ""
        with contextlib.suppress(OSError, ValueError):
            card = (path / "README.md").read_text(encoding="utf-8")
        if MERGED_BY in card:  # a game added to an earlier merge
            raise MergeError(f"{path} is a folder merge_exports.py wrote, not an export: give the exports it "
                             "was made of (the table in its README.md lists them) beside the new ones"
                             ) from None
        raise MergeError(f"{path} is no export ({meta_file} is missing or unreadable): give folders that "
                         "scripts/export_trajectories.py wrote") from None
    counts = meta.get("counts", {}) if isinstance(meta, dict) else None
    records = counts.get("records", {}) if isinstance(counts, dict) else None
    # The card names its game, in its YAML too: a name of the form every game has (GAME_NAME), no "a: #b".
    env = meta.get("env") if isinstance(meta, dict) else None
    if not isinstance(records, dict) or not isinstance(env, str) or not GAME_NAME.fullmatch(env):
        raise MergeError(f"{meta_file} is no export's meta.json (a JSON object naming its game, env, and "
                         f"counting its records): export {path} again")
    if not any(records.values()):  # first: it needs no --relative-paths
        raise MergeError(f"{path} holds trajectories only (--tasks-per-state 0): it has no records to add; "
                         "leave it out")
    if not meta.get("relative_paths"):  # else its images are named by absolute paths into it, left dangling
        raise MergeError(f"{path} was exported without --relative-paths: export it again with it")
    splits: dict[str, list[dict[str, Any]]] = {}
    # An id is the question's game, episode, step, draft and a digest of what the model is shown, so exports
    # of other seeds share one wherever the same question comes up at the same episode and step (a start
    # state, a small board): that record is kept once, the first export's. Every format's row n of a split
    # is the record on line n of its <split>.jsonl (checked: a row a record), so the rows are left out by
    # their line. An export asking nothing new is a copy or the same run and --seed again: refused.
    dropped: dict[str, set[int]] = {}
    by: dict[Path, str] = {}  # the earlier exports asking its questions -> one of those ids
    for split in SPLITS:
        file = path / f"{split}.jsonl"
        splits[split] = []
        if not file.is_file():  # an empty split has no file
            continue
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise _unreadable(file, path, e) from None
        for n, line in enumerate(lines, 1):
            try:
                rec = json.loads(line)
                rid, images = rec["id"], rec["images"]
                if not isinstance(images, list) or not all(map(_in_images, images)):
                    raise TypeError(images)
            except (ValueError, KeyError, TypeError):
                raise MergeError(f"{file} line {n} is no task record: export {path} again") from None
            first = asked.setdefault(rid, path)
            if first != path:
                dropped.setdefault(split, set()).add(len(splits[split]))
                by.setdefault(first, rid)
            splits[split].append(rec)
    if not any(splits.values()):  # its meta.json counts records, but their files are gone or emptied
        raise MergeError(f"{path} has no record files ({', '.join(f'{x}.jsonl' for x in SPLITS)} missing or "
                         "empty) though its meta.json counts records: export it again")
    counts = {split: len(recs) for split, recs in splits.items()}
    order = list(dict.fromkeys(asked.values()))  # the exports, as given
    by = {first: by[first] for first in sorted(by, key=order.index)}
    if sum(map(len, dropped.values())) == sum(counts.values()):
        raise MergeError(f"{path} asks only questions {listed(list(map(str, by)))} "
                         f"{'asks' if len(by) == 1 else 'ask'} too (a copy, or an export of the same run and "
                         "--seed): it adds nothing, leave it out")
    kept = {split: [r["images"] for n, r in enumerate(recs) if n not in dropped.get(split, ())]
            for split, recs in splits.items()}
    most = max((len(images) for shows in kept.values() for images in shows), default=0)
    shown = {rel for shows in kept.values() for images in shows for rel in images}
    for rel in sorted(shown):  # checked now: a missing or unreadable one failed half-way, blaming --out
        if not (path / rel).is_file():
            raise MergeError(f"{path}: {rel}, an image its records show, is missing: export it again")
        try:  # opened, whatever the formats (only those counting prompt lengths read its header)
            open(path / rel, "rb").close()
        except OSError as e:
            raise _unreadable(path / rel, path, e) from None
    trained = {rel for images in kept["train"] for rel in images}
    return Source(path, meta, counts, most, shown, dropped, list(by), next(iter(by.values()), ""), trained,
                  {split: kept[split] for split in HELD_OUT}), splits


def _rows(file: Path, path: Path, footers: dict[Path, pq.FileMetaData] | None = None) -> int:
    """The rows of the export ``path``'s format ``file``, read through: one cut short (a copy stopped
    part-way, a full disk) would be merged into the middle of the merged file. A parquet file's are its
    footer's, kept in ``footers`` where given (the schema check and the copy read no footer again)."""
    if file.suffix == ".parquet":
        try:
            footer = pq.ParquetFile(file).metadata
            if footers is not None:
                footers[file] = footer
            return footer.num_rows
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            if isinstance(e, OSError) and e.errno:  # the system's refusal: a damaged file's errors have none
                raise _unreadable(file, path, e) from None
            raise MergeError(f"{file} is no parquet file pyarrow reads: export {path} again") from None
    n = 0  # the JSONL lines read whole
    try:
        if file.suffix == ".json":  # LLaMA-Factory's: one JSON list
            rows = json.loads(file.read_text(encoding="utf-8"))
            if not isinstance(rows, list):
                raise ValueError(rows)
            return len(rows)
        with open(file, encoding="utf-8") as lines:
            for line in lines:
                if not isinstance(json.loads(line), dict):
                    raise ValueError(line)
                n += 1
        return n
    except (OSError, UnicodeDecodeError) as e:
        raise _unreadable(file, path, e) from None
    except ValueError:
        where = "is no JSON list" if file.suffix == ".json" else f"line {n + 1} is no JSON object"
        raise MergeError(f"{file} {where} (cut short?): export {path} again") from None


def _check_rows(file: Path, source: Source, split: str, footers: dict[Path, pq.FileMetaData] | None = None
                ) -> None:
    """``file``, a format's ``split`` file of the export ``source``, holds a row for each of the split's
    records (every format maps each record to a row): one deleted, cut short or another export's is
    refused. ``footers``: as ``_rows``'."""
    records, path = source.records[split], source.path
    held = f"{path / f'{split}.jsonl'} holds {plural(records, 'record')}"
    if not file.is_file():  # the export writes none for an empty split
        if records:
            raise MergeError(f"{file} is missing, though {held}: export {path} again")
        return
    rows = _rows(file, path, footers)
    if rows != records:
        raise MergeError(f"{file} holds {plural(rows, 'row')} where {held}: export {path} again")


def _entries(source: Source) -> dict[str, dict[str, Any]]:
    """The LLaMA-Factory entries of the export ``source``, each checked: a name a trainer's config holds as
    written, naming one of its split files (the merge copies it, and lists it by its split), which holds
    its split's records."""
    path = source.path
    listed_file = path / "llamafactory" / "dataset_info.json"
    try:
        info = json.loads(listed_file.read_text(encoding="utf-8"))
    except PermissionError as e:  # no export again mends it
        raise _unreadable(listed_file, path, e) from None
    except (OSError, ValueError):
        info = None
    if not isinstance(info, dict):
        raise MergeError(f"{listed_file} is no LLaMA-Factory dataset_info.json (unreadable, or no JSON "
                         f"object of entries): export {path} again")
    files = {f"{split}.json" for split in SPLITS}
    for name, entry in info.items():
        if not ENTRY_NAME.fullmatch(name):
            raise MergeError(f"{listed_file} names an entry {name!r}, which a trainer's config cannot hold "
                             f"as written ({ENTRY_CHARS} only): export {path} again")
        file = entry.get("file_name") if isinstance(entry, dict) else None
        if file not in files or not (path / "llamafactory" / file).is_file():
            raise MergeError(f"{listed_file}: its entry {name} names no file of its records (a file_name "
                             f"train.json, val.json or test.json in llamafactory/): export {path} again")
    named = {entry["file_name"] for entry in info.values()}
    for split in SPLITS:
        _check_rows(path / "llamafactory" / f"{split}.json", source, split)
        if source.records[split] and f"{split}.json" not in named:  # its records would be left out
            raise MergeError(f"{listed_file} names no entry of llamafactory/{split}.json, which holds the "
                             f"export's {split} records: export {path} again")
    return info


def _has_format(path: Path, name: str) -> bool:
    """Whether the export ``path`` holds the format ``name`` (LLaMA-Factory: its entries)."""
    if name == "llamafactory":
        return (path / name / "dataset_info.json").is_file()
    return (path / name).is_dir()


def left_out_warnings(p: Plan) -> list[str]:
    """The questions an export asks that an earlier one asks too, left out of it: a line for each such
    export; the val and test records showing another export's train image, one line; then the formats
    some exports have and others lack, which the merge leaves out: a line for each set of exports lacking
    some (one export without four formats is one line, not four)."""
    lines = []
    for src in p.sources:
        if not src.dropped:
            continue
        n = sum(map(len, src.dropped.values()))
        earlier, it = listed(list(map(str, src.asked_by))), "it" if n == 1 else "them"
        # TRL's line loads the exports' own trl/ folders, which would hold them twice
        trl = (" (and TRL's line: the exports' trl/ folders hold them twice)"
               if p.trl_dropped and "train" in src.dropped else "")
        lines.append(f"warning: {plural(n, 'question')} of {src.path} left out{trl}: {earlier} "
                     f"{'asks' if len(src.asked_by) == 1 else 'ask'} {it} too (the same question at the same "
                     f"episode and step, as {src.example}), and the merged files hold {it} once")
    shared = [f"{n:,} of {p.kept(split):,} {split} records"
              for split, n in p.shared_with_train.items() if n]
    if shared:  # kept: which records to leave out is the user's choice
        lines.append(f"warning: {' and '.join(shared)} show an image that a train record of another export "
                     "shows (exports of one game from other seeds meet the same pictures), so scores on them "
                     "are of pictures trained on; they are kept: for val and test free of train's pictures, "
                     "export the game once with more --episodes rather than merging exports of it (an export "
                     "keeps its own splits apart)")
    grouped: dict[tuple[Path, ...], list[str]] = {}
    for name, lacking in p.left_out.items():
        grouped.setdefault(tuple(lacking), []).append(name)
    for lacking, names in grouped.items():
        it, they = ("it", "it") if len(names) == 1 else ("them", "they")
        lines.append(f"warning: {listed(names)} left out: {listed(list(map(str, lacking)))} "
                     f"{'lacks' if len(lacking) == 1 else 'lack'} {it}, so {they} would hold only the other "
                     f"exports' records (to have {it}, export {'that one' if len(lacking) == 1 else 'those'} "
                     f"again with {it} in --formats)")
    return lines


def plan(out: Path, exports: list[Path]) -> Plan:
    """Every check, before anything is written; ``MergeError`` names what to change."""
    if len(exports) < 2:  # one export's folder is already the dataset; a copy of it would be a stale twin
        raise MergeError("give two exports or more to put together (one export is a dataset as it is)")
    seen: dict[str, Path] = {}
    for path in exports:
        first = seen.setdefault(os.path.realpath(path), path)
        if first is not path:
            raise MergeError(f"{path} is given twice: name each export once" if str(first) == str(path) else
                             f"{first} and {path} are the same export: name each export once")
    if os.path.lexists(out):  # a run's files beside an earlier one's: a format these exports lack goes stale
        raise MergeError(f"--out {out} exists: put the exports together in a new folder (or delete it first)")
    for path in exports:  # the export would hold a folder it did not write, which its --overwrite refuses
        if Path(os.path.realpath(out)).is_relative_to(os.path.realpath(path)):
            raise MergeError(f"--out {out} lies inside the export {path}: choose a folder outside it")
    try:
        check_output_folder(out, "--out")
    except ValueError as e:
        raise MergeError(str(e)) from None
    asked: dict[str, Path] = {}
    sources, lengths = [], {}
    fields: set[str] = set()  # the first export's records' fields
    for path in exports:
        source, splits = _read_source(path, asked)
        sources.append(source)
        keys = set(next(r for recs in splits.values() for r in recs))  # one export's records share them
        fields = fields or keys
        if keys != fields:  # datasets would fill the fields an export's records lack with nulls
            differ = [f"{word} {', '.join(sorted(names))}" for word, names in
                      (("no", fields - keys), ("also", keys - fields)) if names]
            raise MergeError(f"{path}'s records have other fields than {exports[0]}'s ({'; '.join(differ)}): "
                             "export both with the same version of depthfirst")
        formats = list(source.meta.get("formats", {}))
        try:  # the figures the export's own card gives: a record's count does not depend on the others
            counted = longest_prompts(path, splits, formats)
        except (OSError, ValueError) as e:
            raise MergeError(f"{path}: an image of its records cannot be read ({e}): export it again"
                             ) from None
        for name, tokens in counted.items():
            lengths[name] = max(lengths.get(name, 0), tokens)
    # A format some exports lack would hold the others' records alone, under settings "for every game in
    # it": left out, with a warning (the exports keep theirs), so every format merged holds every record.
    lacking = {name: [path for path in exports if not _has_format(path, name)] for name in FORMATS}
    left_out = {name: paths for name, paths in lacking.items() if 0 < len(paths) < len(exports)}
    shared = {name for name, paths in lacking.items() if not paths}
    lengths = {name: tokens for name, tokens in lengths.items() if name in shared}
    entries = _lf_entries(sources) if "llamafactory" in shared else {}
    parts: dict[str, list[Path]] = {}
    footers: dict[Path, pq.FileMetaData] = {}
    for split in SPLITS:
        # An export's split all of whose records an earlier export asks adds no row: its files are left out,
        # so a split left without records has no files, as an export writes none for it.
        emptied = {source.path for source in sources if split in source.dropped and not source.kept(split)}
        for pattern in SPLIT_FILES:
            rel = pattern.format(split=split)
            if "/" in rel:  # a format's file (the records' own were read through)
                if rel.partition("/")[0] not in shared:
                    continue
                for source in sources:
                    _check_rows(source.path / rel, source, split, footers)
            found = [path / rel for path in exports if (path / rel).is_file() and path not in emptied]
            if found:
                parts[rel] = found
            if rel.endswith(".parquet") and found:  # checked now, not half-way through the writing
                schemas = [footers[file].schema.to_arrow_schema() for file in found]  # each read by _rows
                for other, schema in zip(found[1:], schemas[1:], strict=True):
                    if not schema.equals(schemas[0], check_metadata=False):
                        raise MergeError(f"{other} has other columns than {found[0]}: export both with the "
                                         "same version of depthfirst")
    skip = {source.path / rel: rows for source in sources for split, rows in source.dropped.items()
            for rel in (*(x.format(split=split) for x in SPLIT_FILES), f"llamafactory/{split}.json")}
    trl_dropped = "trl" in shared and any("train" in source.dropped for source in sources)
    return Plan(out, sources, entries, parts, lengths, max(s.images for s in sources),
                list(exports) if "trl" in shared and not trl_dropped else [], left_out, footers, skip,
                trl_dropped, _shared_with_train(sources))


def _lf_entries(sources: list[Source]) -> dict[str, tuple[dict[str, Any], Path]]:
    """The merged folder's LLaMA-Factory entries (name -> its entry, its file), each export's checked
    (``_entries``): a second export of one game's named after its folder; ``MergeError`` for a name a
    trainer's config cannot hold or one taken twice."""
    entries: dict[str, tuple[dict[str, Any], Path]] = {}  # each export's depthfirst_<game>_<split>
    named_games: set[str] = set()
    for source in sources:
        path, own = source.path, _entries(source)
        # A second export of one game: every entry of it gets its folder's name, not only those whose names
        # clash (beside a train-only first, its val and test were named as the first export's would be).
        second = source.meta["env"] in named_games or not own.keys().isdisjoint(entries)
        named_games.add(source.meta["env"])
        for name, entry in own.items():
            if not source.kept(entry["file_name"].removesuffix(".json")) and source.dropped:
                continue  # every row of it left out: an empty file LLaMA-Factory cannot load
            if second:
                name = f"{name}_{os.path.basename(os.path.abspath(path))}"  # "." is its folder
                if not ENTRY_NAME.fullmatch(name):
                    raise MergeError(f"{path}: its LLaMA-Factory entries would be named after its folder "
                                     f"({name}), which a trainer's config cannot hold as written "
                                     "(LLaMA-Factory splits its dataset: list at commas and strips spaces; "
                                     "YAML reads ' #' as a comment and ': ' as a key): rename its folder, "
                                     f"with {ENTRY_CHARS} only")
            if name in entries:  # a third, in a folder named as the second's
                raise MergeError(f"{path}: its LLaMA-Factory entries would take the names of another "
                                 f"export's ({name}): rename its folder")
            entries[name] = (entry, path / "llamafactory" / entry["file_name"])
    return entries


def _shared_with_train(sources: list[Source]) -> dict[str, int]:
    """Per held-out split, the records showing an image that a train record of another export shows (one
    name is one picture): each export keeps its own val and test free of its train's pictures."""
    trained_by: dict[str, set[int]] = {}  # an image -> the exports whose train records show it
    for k, src in enumerate(sources):
        for rel in src.trained:
            trained_by.setdefault(rel, set()).add(k)
    return {split: sum(any(trained_by.get(rel, set()) - {k} for rel in images)
                       for k, src in enumerate(sources) for images in src.held_out[split])
            for split in HELD_OUT}


def _copy_images(p: Plan, root: Path, progress: bool) -> int:
    """The images the exports' records show into ``root``; one name is one picture, so each is copied once,
    from the first export that shows it. Returns the images copied."""
    files: dict[str, Path] = {}
    for s in p.sources:
        for rel in sorted(s.shown):
            files.setdefault(rel, s.path)
    with progress_bar(len(files), "images", "img", progress) as bar:
        for rel, export in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(export / rel, root / rel)
            bar.update()
    return len(files)


def _write_files(p: Plan, root: Path, progress: bool) -> None:
    """LLaMA-Factory's entries and files, then each split's files, into ``root``."""
    if p.lf_entries:
        (root / "llamafactory").mkdir()
        for name, (_, file) in p.lf_entries.items():
            if file in p.skip:  # checked a JSON list of a row a record
                rows = json.loads(file.read_text(encoding="utf-8"))
                write_json_array(root / "llamafactory" / f"{name}.json",
                                 (row for n, row in enumerate(rows) if n not in p.skip[file]))
            else:
                shutil.copy(file, root / "llamafactory" / f"{name}.json")
        info = {name: {**entry, "file_name": f"{name}.json"} for name, (entry, _) in p.lf_entries.items()}
        (root / "llamafactory" / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    with progress_bar(sum(map(len, p.parts.values())), "files", "file", progress) as bar:
        for rel, parts in p.parts.items():
            (root / rel).parent.mkdir(exist_ok=True)
            if rel.endswith(".parquet"):  # row group by row group, compressed as the export compresses
                schema = p.footers[parts[0]].schema.to_arrow_schema()
                with pq.ParquetWriter(root / rel, schema, compression="zstd") as out:
                    for part in parts:
                        f = pq.ParquetFile(part, metadata=p.footers[part])
                        skip, first = p.skip.get(part, set()), 0  # first: the group's first row in the file
                        for group in range(f.num_row_groups):
                            table = f.read_row_group(group)
                            rows = range(first, first + table.num_rows)
                            first += table.num_rows
                            if skip.isdisjoint(rows):
                                out.write_table(table)
                            elif not skip.issuperset(rows):
                                out.write_table(table.filter(pa.array([n not in skip for n in rows])))
                        bar.update()
            else:
                with open(root / rel, "wb") as out:
                    for part in parts:
                        if part in p.skip:  # its lines checked JSON objects, a row a record
                            with open(part, "rb") as f:
                                out.writelines(line if line.endswith(b"\n") else line + b"\n"
                                               for n, line in enumerate(f) if n not in p.skip[part])
                            bar.update()
                            continue
                        with open(part, "rb") as f:
                            shutil.copyfileobj(f, out)
                            f.seek(max(f.tell() - 1, 0))
                            if f.read(1) not in (b"\n", b""):  # its last row, else on the next one's line
                                out.write(b"\n")
                        bar.update()


def settings(p: Plan) -> dict[str, Any]:
    """What the trainers need for the merged folder, paths relative to it: the largest of the exports'
    cards' length settings (rounded up to 64 tokens, as a card rounds them) and image limit, each format's
    files, LLaMA-Factory's dataset names."""
    have = p.split_formats()
    # Splits with records: an export writes a split without any as an empty file, which is no split.
    filled = [split for split in SPLITS if p.kept(split)]
    first, held = train_and_validate(filled)
    out: dict[str, Any] = {"lengths": {name: length_setting(tokens) for name, tokens in p.lengths.items()},
                           "max_images": p.images, "splits": filled}
    for name in ("easyr1", "verl"):
        if name in have:
            out[name] = {"train_files": f"{name}/{first}.parquet", "val_files": f"{name}/{held}.parquet"}
    if "openrlhf" in have:
        out["openrlhf"] = {"prompt_data": f"openrlhf/{first}.jsonl"}
    if "swift" in have:
        out["swift"] = {"dataset": f"swift/{first}.jsonl", "rl_dataset": f"swift/{first}_rl.jsonl"}
    if p.lf_entries:
        def named(split: str) -> list[str]:  # the entries of that split, one an export
            return [name for name, (entry, _) in p.lf_entries.items()
                    if entry["file_name"] == f"{split}.json"]
        out["llamafactory"] = {"dataset_dir": "llamafactory", "dataset": named(first),
                               "eval_dataset": named(held) if held != first else []}
    if p.trl:
        out["trl"] = [os.path.abspath(path / "trl") for path in p.trl]  # not moved with the folder
    return out


def setting_lines(s: dict[str, Any]) -> list[str]:
    """``settings`` as lines, one a trainer, with paths relative to the merged folder."""
    length, images = s["lengths"], s["max_images"]
    # The reward functions, as each export's card names them: the trainers' own cannot score these answers.
    rewards = shlex.quote(str(REWARDS))

    def given(name: str, text: str) -> str:  # a length only where an export's card counted it
        return text.format(length[name]) if name in length else ""

    lines = []
    if "verl" in s:
        lines.append(f"verl: data.train_files={s['verl']['train_files']} "
                     f"data.val_files={s['verl']['val_files']}" + given("verl", " data.max_prompt_length={}")
                     + f" reward.custom_reward_function.path={rewards}")
    if "easyr1" in s:
        lines.append(f"EasyR1: data.train_files={s['easyr1']['train_files']} "
                     f"data.val_files={s['easyr1']['val_files']} data.prompt_key=problem "
                     "data.format_prompt=null"
                     + given("easyr1", " data.max_prompt_length={}")
                     + f" worker.reward.reward_function={rewards}:compute_score"
                     f" worker.rollout.limit_images={images}")
    if "openrlhf" in s:
        data = s["openrlhf"]["prompt_data"]
        lines.append(f"OpenRLHF: --data.prompt_dataset {data} --data.input_key prompt "
                     "--data.apply_chat_template --data.label_key answer"
                     + given("openrlhf", " --data.prompt_max_len {}")
                     + f" --data.max_images_per_prompt {images} --reward.remote_url {rewards}; "
                     f"lmm-r1: --prompt_data {data} --input_key message --label_key answer"
                     + given("openrlhf", " --prompt_max_len {}")
                     + f" --limit_mm_per_prompt {images} --remote_rm_url {rewards}")
    if "swift" in s:
        lines.append(f"ms-swift: ROOT_IMAGE_DIR=<this folder>, --dataset {s['swift']['dataset']} "
                     f"(GRPO: --rlhf_type grpo --dataset {s['swift']['rl_dataset']} "
                     f"--external_plugins {rewards} --reward_funcs depthfirst)")
    if "llamafactory" in s:
        lf = s["llamafactory"]
        lines.append(f"LLaMA-Factory: dataset_dir: {lf['dataset_dir']}, dataset: {','.join(lf['dataset'])}"
                     + (f", eval_dataset: {','.join(lf['eval_dataset'])}" if lf["eval_dataset"] else "")
                     + given("llamafactory", ", cutoff_len: {}"))
    if "trl" in s:
        lines.append(f"TRL: datasets.concatenate_datasets([datasets.load_from_disk(f)['train'] for f in "
                     f"{s['trl']!r}])" + given("trl", ", SFT SFTConfig(max_length={})")
                     + ", GRPO reward_funcs=[vlm.rewards.trl_reward]")
    return lines


def render_card(p: Plan, s: dict[str, Any], digest: str) -> str:
    """The merged folder's README.md: what it holds and the settings for every game in it."""
    games = listed(sorted({src.meta["env"] for src in p.sources}))
    counts = {split: p.kept(split) for split in SPLITS}
    dropped = sum(len(rows) for src in p.sources for rows in src.dropped.values())
    rows = [f"| {code_span(os.path.abspath(src.path), in_table=True)} | {src.meta['env']} | "
            + " | ".join(f"{src.kept(x):,}" for x in SPLITS) + " |" for src in p.sources]
    lines = ["---", f"pretty_name: depthfirst — {games} put together", "task_categories:",
             "- visual-question-answering", "tags:", "- games", "- depthfirst",
             *yaml_configs(counts, digest, ""), "---", "",
             f"# depthfirst: {games} put together", "",
             # the Game Boy exports' screens come with their records: so does what their cards say of them
             *(line for notice in rom_notices(src.meta for src in p.sources) for line in (notice, "")),
             f"{plural(sum(counts.values()), 'task record')} of {plural(len(p.sources), 'export')}, "
             f"{MERGED_BY}; each export's own card (`README.md` in its folder) "
             "says how it was made. `datasets.load_dataset(<this folder>)` reads the records as the splits "
             + listed([f"`{HF_SPLIT[x]}`" for x in s["splits"]]) + ".", "",
             "| export | game | train | val | test |", "|---|---|---|---|---|", *rows, "",
             *([f"The table counts the records held here: a question an export asks that an earlier one asks "
                "too (the same question at the same episode and step) is held once, the earlier's "
                f"({plural(dropped, 'question')} left out).", ""] if dropped else []),
             "## Settings for every game in it", "",
             "Each export's card counts its own longest prompt and most images in a record; these are the "
             "largest of them (lengths rounded up to 64 tokens, for Qwen2-VL and Qwen2.5-VL), so no game's "
             "prompt is cut or stopped. Paths are relative to this folder: run the trainers from it.", "",
             *(f"- {name}: {code_span(text)}" for name, text in
               (line.split(": ", 1) for line in setting_lines(s)))]
    return "\n".join(lines) + "\n"


def _remove_dead_partials(out: Path) -> None:
    """What a merge killed outright (SIGKILL, a power cut) left beside ``out``: its hidden folder."""
    for folder in out.parent.glob(f".{glob.escape(out.name)}.*.partial"):
        pid = folder.name[len(out.name) + 2:-len(".partial")]
        if pid.isdigit() and not process_running(int(pid)) and folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)


def _appeared(out: Path) -> str:
    return f"--out {out} appeared while the exports were put together: nothing written, {out} left as it is"


def _move_into_place(partial: Path, out: Path) -> None:
    """Rename ``partial`` to ``out``, which must not exist. A rename replaces an empty folder at ``out``
    (POSIX), so ``out`` is made first, refused if it exists (made since the last check): the rename then
    replaces only that empty folder of ours. Windows' rename refuses an existing ``out`` itself."""
    made = False
    try:
        if os.name != "nt":
            os.mkdir(out)
            made = True
        os.rename(partial, out)
    except OSError as e:
        if made:  # ours, left empty; filled meanwhile, it is someone's and rmdir leaves it
            with contextlib.suppress(OSError):
                os.rmdir(out)
        if isinstance(e, FileExistsError) or e.errno == errno.ENOTEMPTY:
            raise MergeError(_appeared(out)) from None
        raise MergeError(f"--out {out}: the merged folder could not be moved into place "
                         f"({e.strerror or e}): nothing written") from None


def merge(p: Plan, progress: bool = True) -> dict[str, Any]:
    """Put the planned exports together in ``p.out``, built in a hidden sibling folder and renamed into
    place once complete; returns a summary (``settings`` and counts)."""
    out = p.out
    made = missing_folders(out.parent)  # removed again if the merge fails
    partial = out.parent / folder_temp_name(out)  # the name check_output_folder checked fits
    try:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            _remove_dead_partials(out)
            partial.mkdir()
            images = _copy_images(p, partial, progress)
            _write_files(p, partial, progress)
            s = settings(p)
            digest = records_digest(partial, s["splits"])
            (partial / "README.md").write_text(render_card(p, s, digest), encoding="utf-8")
        except OSError as e:  # a full disk
            raise MergeError(f"--out {not_written(out, e)}") from None
        with uninterruptible():
            if os.path.lexists(out):
                raise MergeError(_appeared(out))
            _move_into_place(partial, out)
            settled()  # in place: a stop now must not say that nothing was written
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        remove_folders(made)
        raise
    records = {split: p.kept(split) for split in SPLITS}
    left_out = {split: sum(len(src.dropped.get(split, ())) for src in p.sources) for split in SPLITS}
    return {"out": os.path.abspath(out), "exports": [os.path.abspath(src.path) for src in p.sources],
            "games": [src.meta["env"] for src in p.sources], "records": records,
            "questions_left_out": left_out, "shared_with_train": p.shared_with_train, "images": images,
            "formats": sorted(p.split_formats() | ({"llamafactory"} if p.lf_entries else set())),
            "left_out": {name: list(map(os.path.abspath, paths)) for name, paths in p.left_out.items()},
            "settings": s, "settings_lines": setting_lines(s)}
