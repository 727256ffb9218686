"""The dataset card: ``README.md`` at the root of an export, written from what the export produced.

It says what is in the folder (counts per game, family, question type and level, per split), shows one
example record per family with its images, says how it was produced (command, run, checkpoint,
seeds, package versions) and how each trainer format is loaded. For a Game Boy game it carries the
warning that the frames come from the user's (commercial) ROM and must not be redistributed, unless they
come from the project's own test cartridge. An export without task records (``--tasks-per-state 0``)
gets a card for its trajectories only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from agents.cli import figure, mean_text
from agents.config import load_yaml
from vlm.formats import (
    EASYR1_PIXELS,
    HF_SPLIT,
    LLAMAFACTORY_PIXELS,
    TRL_PIXELS,
    VERL_PIXELS,
    png_size,
    prompt_tokens,
    sequence_tokens,
)
from vlm.record import FAMILIES, LEVELS
from vlm.tasks import TASK_GAMES, drawn_families, listed, module_place, plural, task_module
from vlm.trajectories import EPISODE_FILE, STEP_FILES

# The reward functions the commands below name: this installation's file, so they run from any folder.
REWARDS = Path(__file__).resolve().with_name("rewards.py")

POKEMON_WARNING = (
    "> **Warning: not redistributable.** The frames and images in this dataset are screens of Pokémon Red, "
    "a commercial Game Boy game (© Nintendo / Creatures / GAME FREAK), rendered from the user's own ROM "
    "(SHA-1 `{sha1}`). They are copyrighted and must not be redistributed: use them for your own research "
    "only; do not upload, share or publish this dataset or any image from it."
)

ROM_WARNING = (
    "> **Warning: not redistributable.** The frames and images in this dataset are screens of {game}, "
    "rendered from the user's own ROM (SHA-1 `{sha1}`). A commercial game's screens are copyrighted and "
    "must not be redistributed: use them for your own research only; do not upload, share or publish this "
    "dataset or any image from it."
)

CARTRIDGE_NOTICE = (
    "> The frames come from depthfirst's own test cartridge (SHA-1 `{sha1}`, built from "
    "`envs/gameboy/cartridge/`), which keeps its state at Pokémon Red's RAM addresses: no commercial ROM "
    "was used, and the images may be shared."
)


def _module_named(env: str) -> str:
    """``env``'s task module as the card names it: its file here, or a package's module and entry point."""
    place = module_place(env)
    return f"`{place}`" if place.endswith(".py") else place


def _most_tasks(env: str, asked: int) -> int:
    """Records a state can give: ``asked``, or fewer where the game's task module draws fewer families
    (one record each): a card of ``--tasks-per-state 5`` said "up to 5" where Snake gives at most 4."""
    if env not in TASK_GAMES:
        return asked
    return min(asked, len(drawn_families(task_module(env))))


def rom_notices(metas: Iterable[dict[str, Any]]) -> list[str]:
    """The notices of the Game Boy exports among ``metas`` (one export's, or a merged folder's), each once:
    the not-redistributable warning of each user's ROM, else the test cartridge's note, whose "may be
    shared" would be wrong beside a ROM's screens."""
    played = [meta for meta in metas if meta.get("rom_sha1")]
    roms = [meta for meta in played if not _on_test_cartridge(meta)]
    return list(dict.fromkeys(map(_rom_notice, roms or played)))


def _on_test_cartridge(meta: dict[str, Any]) -> bool:
    """Whether a Game Boy export (its ``meta.json``) was played on the project's own test cartridge: as its
    ``test_cartridge`` records (true or false), since the cartridge rebuilt after the export (its source
    changed, another SDCC) has another SHA-1; without that record (an export made before it) by its
    ``rom_sha1`` against the cartridge as built now, which errs safe: an older build is the user's ROM. A
    Pokémon ROM's SHA-1 is never the cartridge, whatever the record says, nor is a ``rom_sha1`` that is no
    string (a damaged meta.json: its lookup was an "unhashable type" TypeError)."""
    from envs.gameboy.roms import POKEMON_RED_ROMS, is_test_cartridge

    if not isinstance(meta["rom_sha1"], str) or meta["rom_sha1"] in POKEMON_RED_ROMS:
        return False
    recorded = meta.get("test_cartridge")
    return recorded if isinstance(recorded, bool) else is_test_cartridge(meta["rom_sha1"])


def _rom_notice(meta: dict[str, Any]) -> str:
    """The not-redistributable warning for a Game Boy export, unless it was played on the project's own
    cartridge; the game is named by its env and cartridge, without guessing whose it is."""
    from envs.gameboy.roms import WRAPPER_TITLES

    sha1 = meta["rom_sha1"]
    if _on_test_cartridge(meta):
        return CARTRIDGE_NOTICE.format(sha1=sha1)
    if meta["env"] == "pokemon_red":
        return POKEMON_WARNING.format(sha1=sha1)
    game = meta["env_kwargs"].get("game")
    title = WRAPPER_TITLES.get(game or "")
    name = (f"the Game Boy game `{game}`" + (f" (cartridge title `{title}`)" if title else "") if game
            else f"a Game Boy game (env `{meta['env']}`)")
    return ROM_WARNING.format(game=name, sha1=sha1)


PLACEHOLDER = "<dataset>"  # the export folder, in a card rendered without it

# format -> (files, how a trainer reads them). The placeholders are filled by ``_files``: each path in a
# shell command comes quoted for the shell ({easyr1}, {verl}, {openrlhf}, {swift}, {swift_rl}: that format's
# file of the first split with records; {easyr1_val}, {verl_val}: its file of the split to validate on, see
# ``_files``; {rewards}: vlm/rewards.py), {trl} as a Python string literal,
# {llamafactory} as a YAML value; {name}: the dataset name, {split}: that split, {max_images}: the most
# images in a record; {easyr1_length}, {verl_length}, {openrlhf_length}, {vigal_length}: the prompt length
# setting, {llamafactory_length}, {trl_length}: the SFT length setting (see ``_files``).
LOADING = {
    "llamafactory": ("`llamafactory/{train,val,test}.json` + `dataset_info.json`",
                     "`dataset_dir: {llamafactory}`, `dataset: {name}_{split}`{llamafactory_length}"),
    "trl": ("`trl/` (`datasets` `save_to_disk`)",
            "`datasets.load_from_disk({trl})`;{trl_length} GRPO `reward_funcs=[vlm.rewards.trl_reward]`"),
    "easyr1": ("`easyr1/{train,val,test}.parquet`",
               "`data.train_files={easyr1} data.val_files={easyr1_val} data.prompt_key=problem "
               "data.format_prompt=null{easyr1_length}` (the questions carry their own answer format; "
               "EasyR1's example config adds a math one), "
               "`worker.reward.reward_function={rewards}:compute_score "
               "worker.rollout.limit_images={max_images}` (its default, 0, leaves vLLM's own limit: one "
               "image per prompt on its V0 engine)"),
    "verl": ("`verl/{train,val,test}.parquet`",
             "`data.train_files={verl} data.val_files={verl_val}{verl_length}`, "
             "`reward.custom_reward_function.path={rewards}` (verl 0.9 ignores the top-level "
             "`custom_reward_function`)"),
    "openrlhf": ("`openrlhf/{train,val,test}.jsonl`",
                 "OpenRLHF 0.11: `--data.prompt_dataset {openrlhf} "
                 "--data.input_key prompt --data.apply_chat_template "
                 "--data.label_key answer{openrlhf_length} --reward.remote_url {rewards}` "
                 "(`--data.max_images_per_prompt` ≥ {max_images}, and an `--algo.advantage.estimator` "
                 "other than its default `gae`, e.g. `group_norm` with `--rollout.n_samples_per_prompt` ≥ 2: "
                 "it trains no critic on images); ViGaL's OpenRLHF-M (lmm-r1): "
                 "`--prompt_data "
                 "{openrlhf} --input_key message --label_key answer{vigal_length} "
                 "--remote_rm_url {rewards}` (`--limit_mm_per_prompt` ≥ {max_images})"),
    "swift": ("`swift/{train,val,test}.jsonl` (SFT), `swift/*_rl.jsonl` (GRPO)",
              "`swift sft --dataset {swift}`; GRPO: `swift rlhf --rlhf_type grpo --dataset "
              "{swift_rl} --external_plugins {rewards} --reward_funcs depthfirst`"),
}


def _shell(path: str) -> str:
    """``path`` as one shell word; the ``<dataset>`` placeholder of a card rendered without its folder is
    left as it is, to be replaced by hand."""
    return path if path.startswith(PLACEHOLDER) else shlex.quote(path)


def _yaml_value(text: str) -> str:
    """``text`` as a YAML scalar: plain where YAML reads it back as it is, else double-quoted (JSON's
    quoting is valid YAML), e.g. a folder with ``: `` or a leading ``'`` in its name."""
    try:
        if load_yaml(f"k: {text}") == {"k": text}:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text, ensure_ascii=False)


def code_span(text: str, in_table: bool = False) -> str:
    """``text`` as a Markdown code span that shows it as it is (a path, a command): fenced by one backtick
    more than its longest run of them, a space inside each fence where it starts or ends with a backtick or
    a space (CommonMark strips one space from each end of a span that has both), and, in a table cell, each
    ``|`` escaped (GFM ends the cell at a bare one, even inside a code span, and takes the backslash away)."""
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if {text[:1], text[-1:]} & {"`", " "} else ""
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def _fill_spans(template: str, values: dict[str, Any]) -> str:
    """``template`` (a cell of ``LOADING``) filled with ``values``, each of its `...` spans made a table
    cell's ``code_span``: a path there (the export's folder) with a backtick or ``|`` in it ended the span
    or the cell. Filled in pieces, so a backtick a value brings in outside a span is kept as it is."""
    pieces = [piece.format(**values) for piece in template.split("`")]  # odd pieces are the spans
    return "".join(code_span(piece, in_table=True) if k % 2 else piece for k, piece in enumerate(pieces))


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _counts_by(splits: dict[str, list[dict[str, Any]]], key: str) -> list[list[Any]]:
    names = list(splits)
    per = {s: Counter(r[key] for r in recs) for s, recs in splits.items()}
    values = sorted(set().union(*per.values()), key=lambda v: (FAMILIES.index(v) if v in FAMILIES else 99, v))
    rows = [[v, *(per[s][v] for s in names), sum(per[s][v] for s in names)] for v in values]
    rows.append(["**all**", *(len(splits[s]) for s in names), sum(len(r) for r in splits.values())])
    return rows


def _level_grid(records: list[dict[str, Any]]) -> list[str]:
    grid = Counter((r["plot_level"], r["qa_level"]) for r in records)
    rows = [[f"plot {p}", *(grid[(p, q)] for q in LEVELS)] for p in LEVELS]
    return _table(["", *(f"qa {q}" for q in LEVELS)], rows)


def _example(rec: dict[str, Any]) -> list[str]:
    return [f"#### {rec['family']} / {rec['qa_type']} (`{rec['id']}`, plot level {rec['plot_level']}, "
            f"qa level {rec['qa_level']})", "",
            " ".join(f"![image {k + 1}]({p})" for k, p in enumerate(rec["images"])), "",
            "**Question**", "", "```text", rec["question"], "```", "",
            f"**Answer:** `{rec['answer']}`", "", "**Analysis**", "", "```text", rec["analysis"], "```", ""]


def _provenance(meta: dict[str, Any]) -> list[str]:
    counts, seeds, scores = meta["counts"], meta["seeds"], meta["scores"]
    kept = f"{counts['episodes_kept']:,} kept"
    if meta.get("min_score") is not None:
        kept += f" (score ≥ {meta['min_score']:g})"
    run = meta["run"]
    lines = ["## How it was produced", "", "```bash", meta["command"], "```", "",
             f"- run: {code_span(run['path'])}, checkpoint {code_span(run['checkpoint'])} "
             f"(SHA-1 `{run['checkpoint_sha1']}`)",
             f"- env `{meta['env']}` (`{meta['gym_id']}`) with "
             + code_span(json.dumps(meta["env_kwargs"], sort_keys=True)),
             f"- episodes: {counts['episodes_played']:,} played from seed {seeds['base']} "
             f"(episode k: seed + k), "
             f"{kept}; {'stochastic' if meta['stochastic'] else 'greedy'} actions",
             # As evaluate prints them: :g's six digits read a max of 1208.456 "1208.46", below the mean
             f"- scores of kept episodes: mean {mean_text(scores['kept_mean'])}, "
             f"max {figure(scores['kept_max'])}",
             (f"- up to {plural(_most_tasks(meta['env'], meta['tasks_per_state']), 'task')} per state, from "
              + _module_named(meta["env"])
              if meta["tasks_per_state"] else "- trajectories only (`--tasks-per-state 0`): no task records"),
             *_frames(meta),
             f"- packages: {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}"]
    if meta.get("rom_sha1"):
        lines.append(f"- ROM SHA-1: `{meta['rom_sha1']}`")
    return [*lines, ""]


def _frames(meta: dict[str, Any]) -> list[str]:
    """What ``--scale`` made the trajectory frames, in the words of export --help and the README: the
    card named no scale, and a default export's command shows no --scale."""
    scale = meta.get("scale")
    if scale is None:  # meta written before the export recorded it
        return []
    if meta.get("rom_sha1"):  # a Game Boy game: its 8x8 tile is the cell
        times = max(1, scale // 8)
        what = f"the 160×144 screen at {times}× ({160 * times}×{144 * times} pixels)"
    elif meta["env"] == "rotation":
        what = f"each view {8 * scale}×{8 * scale} pixels"
    else:
        what = f"{scale} pixels per board cell"
    return [f"- trajectory frames: `--scale {scale}`, {what}"]


def _counts(meta: dict[str, Any], splits: dict[str, list[dict[str, Any]]]) -> list[str]:
    dropped = meta["counts"]["dropped"]
    names = list(splits)
    lines = ["## Counts", "", "Whole episodes go to one split; val records that repeat a train picture or "
             "state, and test records that repeat a train or val one, were dropped "
             f"({dropped['val']} from val, {dropped['test']} from test).", ""]
    for title, key in (("game", "game"), ("family", "family"), ("question type", "qa_type")):
        lines += [f"### By {title}", "", *_table([key, *names, "total"], _counts_by(splits, key)), ""]
    records = [r for recs in splits.values() for r in recs]
    return [*lines, "### By level, all splits (plot_level: image complexity, qa_level: question complexity)",
            "", *_level_grid(records), ""]


def _curriculum(curriculum: dict[str, Any]) -> list[str]:
    ratios = json.dumps(curriculum["mix"]) if curriculum["mix"] else "found in the data"
    rows = [[s["name"], ", ".join(f"({p},{q})" for p, q in s["levels"]) or "—", s["count"],
             len(s["schedule"]),
             ", ".join(f"{k} {v:.2f}" for k, v in s["mix"].items()) or "—"] for s in curriculum["stages"]]
    return ["## Curriculum", "", "`curriculum.json` orders the train split into stages by plot_level + "
            "qa_level; each stage lists its record ids and a `schedule` mixing the families at the ratios "
            f"{ratios}.", "", *_table(["stage", "levels", "records", "scheduled", "mix"], rows), ""]


def _files(meta: dict[str, Any], splits: dict[str, list[dict[str, Any]]], formats: list[str], root_hint: str,
           prompt_lengths: dict[str, int] | None = None) -> list[str]:
    records = [r for recs in splits.values() for r in recs]
    # --relative-paths makes a dataset that moves: its commands then run from its folder, whose path is
    # not known. Otherwise everything is absolute and runs from anywhere, as the image paths do.
    d = "" if meta.get("relative_paths") else f"{root_hint}/"
    # How datasets reads the YAML's configs (see yaml_configs), and which split is val.jsonl: the count
    # tables say "val", datasets "validation". Run from the folder, it needs the folder's name: datasets
    # 5.2 refuses load_dataset('.') ("dataset_name should be specified but got None").
    folder = repr(d.rstrip("/")) if d else "os.getcwd()"
    load = code_span(f"datasets.load_dataset({folder})")
    lines = ["## Files and formats", ""]
    if meta.get("relative_paths"):  # before the first path it concerns: the datasets calls below
        lines += ["Paths here and in the trainer formats are relative to this folder (`--relative-paths`): "
                  "run every command from this folder (`os.getcwd()` in a `datasets` call is this folder)."
                  + (" LLaMA-Factory finds the images by itself; for ms-swift set `ROOT_IMAGE_DIR` to this "
                     "folder." if formats else ""), ""]
    if records:
        names = [f"`{HF_SPLIT[s]}`" + (f" (`{s}.jsonl`)" if HF_SPLIT[s] != s else "")
                 for s, recs in splits.items() if recs]
        lines += ["- `train.jsonl`, `val.jsonl`, `test.jsonl`: the task records (`vlm/record.py` "
                  "TaskRecord), image paths relative to this folder; "
                  f"{load} reads them as the split{'s' if len(names) > 1 else ''} {listed(names)}"]
        call = f"datasets.load_dataset('parquet', data_files={d + STEP_FILES!r})"
        steps = f"{code_span(call)} reads the steps"
    else:
        steps = (f"{load} reads the steps, "
                 + code_span(f"datasets.load_dataset({folder}, 'episodes')") + " the episodes")
    lines += ["- `images/`: PNGs named by `vlm.imagestore.image_hash` of their decoded pixels (the SHA-1 of "
              "the array's shape, dtype and bytes), each distinct image stored once",
              "- `trajectories/`: the expert's play, one Parquet row per step (`steps/`), "
              f"`episodes.parquet`, `meta.json`; {steps}"]
    if records:
        lines.append("- `curriculum.json`: stages easy → hard")
    if meta.get("minari"):
        lines.append(f"- `minari/`: Minari dataset `{meta['minari']}` "
                     f"({code_span('MINARI_DATASETS_PATH=' + _shell(f'{d}minari'))})")
    lines.append("")
    if not records:
        lines += ["No task records, so no trainer formats: this export holds trajectories only.", ""]
    if formats:
        max_images = max((len(r["images"]) for r in records), default=1)
        first, held = train_and_validate([split for split, recs in splits.items() if recs])
        # Quoted as the shell reads them: an export (or this installation) in a folder with a space or a
        # quote in its name gave commands that split the path when pasted.
        files = {"easyr1": f"easyr1/{first}.parquet", "verl": f"verl/{first}.parquet",
                 "easyr1_val": f"easyr1/{held}.parquet", "verl_val": f"verl/{held}.parquet",
                 "openrlhf": f"openrlhf/{first}.jsonl", "swift": f"swift/{first}.jsonl",
                 "swift_rl": f"swift/{first}_rl.jsonl"}
        paths = {**{k: _shell(d + f) for k, f in files.items()}, "rewards": _shell(str(REWARDS)),
                 "trl": repr(f"{d}trl"), "llamafactory": _yaml_value(f"{d}llamafactory")}
        lengths = prompt_lengths or {}  # absent from a card rendered without the images
        setting = {name: length_setting(tokens) for name, tokens in lengths.items()}
        # placeholder -> (the format whose count it writes, how)
        written = {"easyr1": ("easyr1", " data.max_prompt_length={}"),
                   "verl": ("verl", " data.max_prompt_length={}"),
                   "openrlhf": ("openrlhf", " --data.prompt_max_len {}"),
                   "vigal": ("openrlhf", " --prompt_max_len {}"),
                   "llamafactory": ("llamafactory", ", `cutoff_len: {}`"),
                   "trl": ("trl", " SFT `SFTConfig(max_length={})`;")}
        values = {**paths, "name": meta["dataset_name"], "max_images": max_images, "split": first,
                  **{f"{k}_length": text.format(setting[of]) if of in setting else ""
                     for k, (of, text) in written.items()}}
        rows = [[name, LOADING[name][0], _fill_spans(LOADING[name][1], values)] for name in formats]
        lines += [*_table(["format", "files", "use"], rows), "",
                  "Ground truths (EasyR1 `answer`, verl `reward_model.ground_truth`, OpenRLHF `answer`, TRL "
                  "`ground_truth`, ms-swift `solution`) are `vlm.verify.ground_truth_json(record)`; the "
                  f"reward functions in {code_span(str(REWARDS))} (depthfirst's `vlm/rewards.py` where this "
                  "export was made) score responses against them.", ""]
        lines += _length_notes(formats, lengths)
        empty = [s for s, recs in splits.items() if not recs]  # at most two: formats need records
        if empty:
            many, names = len(empty) > 1, " and ".join(empty)
            keeps = f"; `trl/` keeps the empty split{'s' if many else ''}" if "trl" in formats else ""
            lines += [f"The {names} split{'s are' if many else ' is'} empty, so the file formats have no "
                      f"{' or '.join(empty)} file (trainers cannot load an empty one){keeps}.", ""]
    return lines


def _length_notes(formats: list[str], lengths: dict[str, int]) -> list[str]:
    """The paragraphs under the formats' table on the longest prompt of the ``formats`` counted
    (``lengths``: tokens by format) and the length settings the commands above give for it."""
    lines: list[str] = []
    labels = {"verl": "verl", "easyr1": "EasyR1"}
    counted = [f"{lengths[k]:,} tokens in {label}" for k, label in labels.items()
               if k in formats and k in lengths]
    if counted:
        lines += [f"The longest prompt takes about {listed(counted)} for Qwen2-VL and Qwen2.5-VL (each "
                  "image one token per 28×28 pixels once the trainer has resized it, EasyR1 to at least "
                  "512×512; the text at 3 characters a token, which errs long), hence "
                  "`data.max_prompt_length` in the commands: verl's default, 512, stops the run at a "
                  "longer prompt, and EasyR1's example config's 2048 drops longer ones (a release whose "
                  "filter counts the text alone stops at them). For another model, count with its "
                  "processor.", ""]
    if "openrlhf" in lengths:
        lines += [f"OpenRLHF's prompt length is counted as verl's ({lengths['openrlhf']:,} tokens): its "
                  "default, 1024, plus the 1024 it generates, makes its vLLM engines' context.", ""]
    sft = {"llamafactory": ("LLaMA-Factory (images above 768×768 pixels scaled down first)",
                            "LLaMA-Factory's `cutoff_len` (default 2048)"),
           "trl": ("TRL", "TRL's SFT `max_length` (default 1024)")}
    shown = [k for k in sft if k in lengths]
    if shown:
        lines += [f"The longest example, prompt and reference reply, takes about "
                  f"{listed([f'{lengths[k]:,} tokens in {sft[k][0]}' for k in shown])}, counted as "
                  "above with the reply at 2 characters a token (its digits are a token each), hence "
                  f"{listed([sft[k][1] for k in shown])} above: a shorter one cuts a longer example, its "
                  "image tokens too.", ""]
    return lines


def train_and_validate(filled: Sequence[str]) -> tuple[str, str]:
    """The split the trainers' commands train on and the one they validate on, of the splits with records
    ``filled`` (in ``train, val, test`` order): train, unless it is empty; val, else test, else the one
    trained on. EasyR1 and verl always load a validation set, by default another dataset's (verl 0.9.1: a
    gsm8k file, a missing one stopping the run; EasyR1's example config: math12k): one of ours is named."""
    first = filled[0] if filled else "train"
    return first, next((split for split in ("val", "test") if split in filled), first)


def length_setting(tokens: int) -> int:
    """The length setting a card names for a count of ``tokens``: rounded up to a multiple of 64."""
    return -(-tokens // 64) * 64


def yaml_configs(splits: dict[str, Any], digest: str, traj_digest: str) -> list[str]:
    """The ``configs:`` that ``datasets.load_dataset(<folder>)`` and the Hub read: the records (splits with
    rows only, ``splits`` giving each split's records or their count: datasets refuses an empty one), else
    the trajectory store's ``steps`` (the default) and ``episodes``; with no configs, datasets read a
    trajectories-only export as an image folder of its frames, labelled by their hash folders. Not both:
    datasets (5.2) reads every config of a folder with the one loader its first config's files call for, so
    parquet beside the JSONL records failed as JSON.
    It also caches a folder under a key made from this YAML, not from the files: without the digests, a
    new export in the same folder (or one of the same name) would load the old rows."""
    filled = [split for split, recs in splits.items() if recs]
    if filled:
        return ["configs:", "- config_name: default", f"  description: depthfirst export, records {digest}",
                "  data_files:", *(line for split in filled for line in (
                    f"  - split: {HF_SPLIT[split]}", f"    path: {split}.jsonl"))]
    described = f"  description: depthfirst export, trajectories {traj_digest}"
    return ["configs:", "- config_name: steps", "  default: true", described, f"  data_files: {STEP_FILES}",
            "- config_name: episodes", described, f"  data_files: {EPISODE_FILE}"]


def render_card(meta: dict[str, Any], splits: dict[str, list[dict[str, Any]]],
                curriculum: dict[str, Any] | None, formats: list[str], root_hint: str = PLACEHOLDER,
                digest: str = "", traj_digest: str = "", prompt_lengths: dict[str, int] | None = None) -> str:
    """The card's text; ``digest`` identifies the records (see ``records_digest``), ``traj_digest`` the
    trajectory store (``trajectories_digest``), ``prompt_lengths`` the longest prompt's tokens by format
    (``longest_prompts``). Without records (``curriculum`` None) it describes the trajectories only."""
    env, counts, policy = meta["env"], meta["counts"], meta["policy"]
    total = sum(len(recs) for recs in splits.values())
    title = "expert trajectories and verifiable VLM tasks" if total else "expert trajectories"
    lines = ["---", f"pretty_name: depthfirst {env} — {title}",
             "task_categories:", "- visual-question-answering" if total else "- reinforcement-learning",
             "tags:", "- games", "- reinforcement-learning", "- depthfirst"]
    lines += [*yaml_configs(splits, digest, traj_digest), "---", "", f"# depthfirst {env}: {title}", ""]
    for notice in rom_notices([meta]):  # a Game Boy game: screens of the user's ROM
        lines += [notice, ""]
    made = (f"{plural(counts['episodes_kept'], 'episode')} ({plural(counts['steps'], 'step')}) of a trained "
            f"`{env}` specialist ({policy['algorithm']}, `{policy['preset']}` preset, "
            f"{policy['parameters']:,} parameters, {policy['num_timesteps']:,} training steps)")
    if total:
        lines += [f"{plural(total, 'task record')}, made from {made}; `images/` holds "
                  f"{plural(counts['images'], 'distinct PNG image')} (the records' pictures and the "
                  "episodes' frames). Every answer and every step of every analysis was computed by the game "
                  "engine, never by a model.", ""]
    else:
        lines += [f"Trajectories only, no task records: {made}, with "
                  f"{plural(counts['images'], 'distinct PNG frame')}.", ""]
    lines += _provenance(meta)
    if curriculum is not None and total:
        lines += [*_counts(meta, splits), *_curriculum(curriculum)]
    lines += _files(meta, splits, formats, root_hint, prompt_lengths)
    if splits.get("train"):
        lines += ["## Examples", ""]
    shown: set[str] = set()
    # Examples come from train only: a published card must not give away held-out answers.
    for rec in splits.get("train", []):
        if rec["family"] not in shown:
            shown.add(rec["family"])
            lines += _example(rec)
    return "\n".join(lines).rstrip() + "\n"


def _digest(files: Iterable[tuple[str, Path]]) -> str:
    """SHA-1 (16 hex digits) of ``(name, file)`` pairs: each name, then its file's bytes, read in chunks
    (an export's record and step files run to gigabytes)."""
    h = hashlib.sha1()
    for name, path in files:
        h.update(f"{name}\n".encode())
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()[:16]


def records_digest(root: Path, splits: Iterable[str]) -> str:
    """SHA-1 (16 hex digits) of the export's record files ``<split>.jsonl``."""
    return _digest((split, root / f"{split}.jsonl") for split in splits)


def trajectories_digest(root: Path) -> str:
    """SHA-1 (16 hex digits) of the trajectory store's step and episode files."""
    files = [*sorted(root.glob(STEP_FILES)), root / EPISODE_FILE]
    return _digest((path.relative_to(root).as_posix(), path) for path in files)


def longest_prompts(root: Path, splits: dict[str, list[dict[str, Any]]], formats: list[str]
                    ) -> dict[str, int]:
    """The most tokens a record takes in each of ``formats`` that has a length limit: its prompt in EasyR1
    and verl (``vlm.formats.prompt_tokens``), its whole example, reply included, in the SFT formats
    LLaMA-Factory and TRL (``sequence_tokens``); each image's size read once, from its PNG header."""
    sizes: dict[str, tuple[int, int]] = {}

    def size(rel: str) -> tuple[int, int]:
        if rel not in sizes:
            sizes[rel] = png_size(os.path.join(root, rel))
        return sizes[rel]

    counts = {"easyr1": (prompt_tokens, EASYR1_PIXELS), "verl": (prompt_tokens, VERL_PIXELS),
              "openrlhf": (prompt_tokens, VERL_PIXELS),
              "llamafactory": (sequence_tokens, LLAMAFACTORY_PIXELS), "trl": (sequence_tokens, TRL_PIXELS)}
    return {name: max(count(r, size, pixels) for recs in splits.values() for r in recs)
            for name, (count, pixels) in counts.items() if name in formats and any(splits.values())}


def write_card(root: Path, meta: dict[str, Any], splits: dict[str, list[dict[str, Any]]],
               curriculum: dict[str, Any] | None, formats: list[str], root_hint: str = PLACEHOLDER) -> Path:
    path = root / "README.md"
    digest = records_digest(root, splits) if curriculum is not None else ""  # no record files to hash
    traj_digest = "" if any(splits.values()) else trajectories_digest(root)  # its configs name records
    text = render_card(meta, splits, curriculum, formats, root_hint, digest, traj_digest,
                       longest_prompts(root, splits, formats))
    path.write_text(text, encoding="utf-8")
    return path
