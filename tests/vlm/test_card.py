"""The dataset card's figures, on a hand-built export whose every count differs: each table cell, the
provenance line and the trainer commands say what the export holds (tests/vlm/test_export.py checks a
real export's card only loosely: that some cell holds each family's total)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from vlm.card import code_span, render_card


def rec(i: int, family: str, qa_type: str, plot: int, qa: int, images: int = 1) -> dict[str, Any]:
    return {"id": f"r{i}", "game": "snake", "family": family, "qa_type": qa_type, "plot_level": plot,
            "qa_level": qa, "images": [f"images/{i}_{k}.png" for k in range(images)],
            "question": f"question {i}?", "options": None, "answer": f"answer {i}",
            "analysis": f"analysis {i}", "verifier": {"rule": "exact", "answer": f"answer {i}"}, "source": {}}


SPLITS = {
    "train": [rec(0, "strategy", "best_move", 3, 1), rec(1, "perception", "head_position", 1, 2),
              rec(2, "perception", "apple_count", 1, 2), rec(3, "strategy", "best_move", 1, 1),
              rec(4, "perception", "head_position", 2, 1)],
    "val": [rec(5, "perception", "head_position", 2, 2, images=3),
            rec(6, "state_prediction", "next_head", 1, 3)],
    "test": [rec(7, "strategy", "best_move", 1, 1)],
}

META: dict[str, Any] = {
    "env": "snake", "gym_id": "depthfirst/Snake-v0", "env_kwargs": {"size": 10},
    "run": {"path": "/runs/snake/a", "checkpoint": "/runs/snake/a/model.zip", "checkpoint_sha1": "c0ffee"},
    "policy": {"algorithm": "PPO", "preset": "tiny", "parameters": 12345, "num_timesteps": 67890},
    "seeds": {"base": 100}, "stochastic": False, "min_score": 2.0, "tasks_per_state": 3,
    "counts": {"episodes_played": 7, "episodes_kept": 4, "steps": 40, "images": 6,
               "dropped": {"val": 3, "test": 1}},
    "scores": {"kept_mean": 3.25, "kept_max": 6.0},
    "versions": {"depthfirst": "0.1"}, "dataset_name": "depthfirst_snake", "command": "python export",
}

CURRICULUM = {"mix": {"perception": 0.5, "strategy": 0.5}, "stages": [
    {"name": "easy", "levels": [[1, 1], [1, 2]], "count": 3, "schedule": ["r1", "r3"],
     "mix": {"perception": 0.5, "strategy": 0.5}},
    {"name": "hard", "levels": [], "count": 0, "schedule": [], "mix": {}}]}


def table(card: str, heading: str) -> list[list[str]]:
    """The rows (cells as text) of the first table after ``heading``, without its header."""
    lines = card[card.index(heading):].splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_count_tables_give_each_split_its_own_column_and_the_totals():
    card = render_card(META, SPLITS, CURRICULUM, [])
    assert table(card, "### By family") == [
        ["perception", "3", "1", "0", "4"], ["state_prediction", "0", "1", "0", "1"],
        ["strategy", "2", "0", "1", "3"], ["**all**", "5", "2", "1", "8"]]  # FAMILIES order, then all
    assert table(card, "### By question type") == [
        ["apple_count", "1", "0", "0", "1"], ["best_move", "2", "0", "1", "3"],
        ["head_position", "2", "1", "0", "3"], ["next_head", "0", "1", "0", "1"],
        ["**all**", "5", "2", "1", "8"]]
    assert table(card, "### By game") == [["snake", "5", "2", "1", "8"], ["**all**", "5", "2", "1", "8"]]
    # rows plot_level, columns qa_level, over every split
    assert table(card, "### By level") == [["plot 1", "2", "2", "1"], ["plot 2", "1", "1", "0"],
                                           ["plot 3", "1", "0", "0"]]
    # What was dropped is what vlm/splits.py drops: a test record repeating a val picture or state too (the
    # card said only "records that repeat a train state").
    assert ("val records that repeat a train picture or state, and test records that repeat a train or val "
            "one, were dropped (3 from val, 1 from test)") in card
    assert table(card, "## Curriculum") == [
        ["easy", "(1,1), (1,2)", "3", "2", "perception 0.50, strategy 0.50"], ["hard", "—", "0", "0", "—"]]


def test_the_headline_and_provenance_say_what_was_played_and_kept():
    card = render_card(META, SPLITS, CURRICULUM, [])
    # images/ holds the episodes' frames as well as the records' pictures: the count is of the folder.
    assert ("8 task records, made from 4 episodes (40 steps) of a trained `snake` specialist (PPO, `tiny` "
            "preset, 12,345 parameters, 67,890 training steps); `images/` holds 6 distinct PNG images (the "
            "records' pictures and the episodes' frames).") in card
    assert ("- episodes: 7 played from seed 100 (episode k: seed + k), 4 kept (score ≥ 2); greedy "
            "actions") in card
    assert "- scores of kept episodes: mean 3.25, max 6\n" in card
    # the command to make it again, and what it was made from
    assert "## How it was produced\n\n```bash\npython export\n```\n" in card
    assert "- run: `/runs/snake/a`, checkpoint `/runs/snake/a/model.zip` (SHA-1 `c0ffee`)" in card
    assert '- env `snake` (`depthfirst/Snake-v0`) with `{"size": 10}`' in card
    assert "- packages: depthfirst 0.1\n" in card
    assert "- up to 3 tasks per state, from `vlm/tasks/snake.py`" in card
    # Snake draws one record per family, 4 a state: a card said "up to 5" for --tasks-per-state 5.
    assert "- up to 4 tasks per state, from `vlm/tasks/snake.py`" in render_card(
        {**META, "tasks_per_state": 5}, SPLITS, CURRICULUM, [])
    assert "ROM SHA-1" not in card and "minari" not in card
    other = render_card({**META, "stochastic": True, "min_score": 0.0, "rom_sha1": "ab" * 20,
                         "minari": "depthfirst/snake-v0", "env": "gameboy",
                         "env_kwargs": {"game": "tetris"}}, SPLITS, CURRICULUM, [])
    assert "4 kept (score ≥ 0); stochastic actions" in other  # a filter at 0 is still a filter
    assert f"- ROM SHA-1: `{'ab' * 20}`" in other
    assert ("- `minari/`: Minari dataset `depthfirst/snake-v0` (`MINARI_DATASETS_PATH=<dataset>/"
            "minari`)") in other
    assert "(score ≥" not in render_card({**META, "min_score": None}, SPLITS, CURRICULUM, [])
    # A Game Boy score is a sum of float rewards: a mean just below zero read "mean -0.00".
    below = render_card({**META, "scores": {"kept_mean": -0.0001, "kept_max": 0.0}}, SPLITS, CURRICULUM, [])
    assert "- scores of kept episodes: mean 0.00, max 0\n" in below
    # Pokémon's score counts a tile as 0.001: four episodes of 0.101 read "mean 0.10, max 0.101", a mean
    # below every episode. Three decimals where two would round off the scores' own, as evaluate prints it.
    tiles = render_card({**META, "scores": {"kept_mean": 0.101, "kept_max": 0.101}}, SPLITS, CURRICULUM, [])
    assert "- scores of kept episodes: mean 0.101, max 0.101\n" in tiles
    # Its max was printed with :g, six digits: a late run's 1208.456 read "max 1208.46" beside "mean
    # 1208.456", a max below the mean. Up to three decimals, as evaluate prints a max (figure).
    late = {"kept_mean": 1208.456, "kept_max": 1208.456}
    late = render_card({**META, "scores": late}, SPLITS, CURRICULUM, [])
    assert "- scores of kept episodes: mean 1208.456, max 1208.456\n" in late


def test_examples_show_each_family_once_from_train_and_commands_fit_every_record():
    card = render_card(META, SPLITS, CURRICULUM, ["openrlhf"])
    shown = re.findall(r"^#### (\S+) / \S+ \(`([^`]+)`, plot level (\d), qa level (\d)\)", card, re.M)
    # the first record of each family, from train only
    assert shown == [("strategy", "r0", "3", "1"), ("perception", "r1", "1", "2")]
    assert "![image 1](images/0_0.png)" in card and "**Answer:** `answer 0`" in card
    # the record's own question and analysis, each in a text block
    assert "**Question**\n\n```text\nquestion 0?\n```\n" in card
    assert "**Analysis**\n\n```text\nanalysis 0\n```\n" in card
    # The val record's three images: OpenRLHF must be told to take that many per prompt.
    assert "≥ 3" in card and "≥ 1" not in card
    assert "openrlhf/train.jsonl" in card
    # OpenRLHF 0.11 asserts a critic-free estimator with images (its message names an old flag).
    assert ("an `--algo.advantage.estimator` other than its default `gae`, e.g. `group_norm` with "
            "`--rollout.n_samples_per_prompt` ≥ 2") in card


def test_an_openrlhf_export_without_verl_names_its_prompt_length_in_both_commands():
    # The ViGaL fork's --prompt_max_len is OpenRLHF's own count, which stands without a verl export too.
    card = render_card(META, SPLITS, CURRICULUM, ["openrlhf"], prompt_lengths={"openrlhf": 1000})
    assert "--data.prompt_max_len 1024 " in card and " --prompt_max_len 1024 " in card, card


def test_trainer_commands_name_the_first_split_with_records():
    # The commands load the first split that has records: a test-only export has no train file to load
    # (tests/vlm/test_formats.py checks a real export the same way, slowly).
    formats = ["llamafactory", "easyr1", "verl", "openrlhf", "swift"]
    only_test = {"train": [], "val": [], "test": SPLITS["test"]}
    card = render_card(META, only_test, CURRICULUM, formats)
    use = {row[0]: row[2] for row in table(card, "## Files and formats")}
    assert use["llamafactory"].endswith("`dataset: depthfirst_snake_test`")
    for name in ("easyr1", "verl", "openrlhf", "swift"):
        assert f"{name}/test." in use[name] and "/train." not in use[name], (name, use[name])
    assert ("The train and val splits are empty, so the file formats have no train or val file (trainers "
            "cannot load an empty one).") in card
    only_val = render_card(META, {"train": [], "val": SPLITS["val"], "test": SPLITS["test"]}, CURRICULUM,
                           formats)
    assert "verl/val.parquet`" in only_val and "verl/test.parquet`" not in only_val
    assert "data.train_files=<dataset>/verl/train.parquet " in render_card(META, SPLITS, CURRICULUM, formats)


def test_easyr1_and_verl_commands_name_a_validation_file_of_the_export():
    """Both trainers build a validation set whatever the command says: verl 0.9.1 from its default
    `data.val_files=~/data/rlhf/gsm8k/test.parquet` (a missing file stops the run), EasyR1 from its example
    config's `hiyouga/math12k@test` (text-only math, scored with our reward). The card names the val split,
    else test, else train."""
    def val_files(splits: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
        card = render_card(META, splits, CURRICULUM, ["easyr1", "verl"], root_hint="/d")
        use = {row[0]: row[2] for row in table(card, "## Files and formats")}
        return {name: re.findall(r"data\.val_files=([^ `]+)", use[name]) for name in use}

    assert val_files(SPLITS) == {"easyr1": ["/d/easyr1/val.parquet"], "verl": ["/d/verl/val.parquet"]}
    assert val_files({**SPLITS, "val": []}) == {"easyr1": ["/d/easyr1/test.parquet"],
                                                "verl": ["/d/verl/test.parquet"]}
    assert val_files({**SPLITS, "val": [], "test": []}) == {"easyr1": ["/d/easyr1/train.parquet"],
                                                             "verl": ["/d/verl/train.parquet"]}


def test_easyr1_command_lets_vllm_take_the_most_images_in_a_record():
    """EasyR1's `worker.rollout.limit_images`, 0 in its example config, passes vLLM no limit, and vLLM's
    own is one image per prompt on its V0 engine (an EasyR1 release on an older vLLM): a record of more
    images stops the rollout with a ValueError. The command sets it to the most images in a record."""
    def limits(splits: dict[str, list[dict[str, Any]]]) -> list[str]:
        card = render_card(META, splits, CURRICULUM, ["easyr1"], root_hint="/d")
        return re.findall(r"worker\.rollout\.limit_images=(\d+)", table(card, "## Files and formats")[0][2])

    assert limits(SPLITS) == ["3"]  # the val record's three images
    assert limits({**SPLITS, "val": SPLITS["val"][1:]}) == ["1"]


def test_yaml_header_names_hugging_face_splits_and_the_records_digest():
    # datasets.load_dataset reads these lines: val is Hugging Face's "validation" (as trl/ names it), and
    # the digest keys its cache, so a new export in the same folder loads its own rows.
    card = render_card(META, SPLITS, CURRICULUM, [], digest="0123456789abcdef")
    header = card[:card.index("\n---\n", 4)]
    assert "- visual-question-answering" in header and "- reinforcement-learning" in header
    assert "  description: depthfirst export, records 0123456789abcdef" in header
    assert re.findall(r"- split: (\S+)\n    path: (\S+)", header) == [
        ("train", "train.jsonl"), ("validation", "val.jsonl"), ("test", "test.jsonl")]
    bare = render_card(META, {"train": [], "val": [], "test": []}, None, [])
    head = bare[:bare.index("\n---\n", 4)]
    assert "task_categories:\n- reinforcement-learning\n" in head and "visual-question-answering" not in head


def yaml_configs(card: str) -> list[dict[str, Any]]:
    """The card's ``configs:``, checked against the rules of the Hub's card spec (hub-docs
    ``datasetcard.md``) and of ``datasets`` 5.2 (``utils/metadata.py``, ``load.py``): unique names; one
    default where there are several (the one named ``default`` or marked ``default: true``, else
    ``load_dataset(folder)`` asks for a name); ``data_files`` a path or a list of ``{split, path}`` with a
    word for a split (``\\w+``, dot-separated); ``description`` a string (a ``BuilderConfig`` field); one
    file format in all (every config is read with the loader its first config's files call for)."""
    configs = yaml.safe_load(card[4:card.index("\n---\n", 4)]).get("configs", [])
    names = [c["config_name"] for c in configs]
    assert len(set(names)) == len(names), names
    defaults = [c["config_name"] for c in configs if c["config_name"] == "default" or c.get("default")]
    assert len(defaults) == 1 or len(configs) < 2, defaults
    for c in configs:
        assert set(c) <= {"config_name", "description", "data_files", "default"}, c
        assert isinstance(c.get("description", ""), str)
        files = c["data_files"]
        assert isinstance(files, str) or all(
            set(f) == {"split", "path"} and re.fullmatch(r"\w+(\.\w+)*", f["split"]) for f in files), files
    assert len({path.rsplit(".", 1)[-1] for c in configs for path in config_paths(c)}) <= 1, configs
    return configs


def config_paths(config: dict[str, Any]) -> list[str]:
    files = config["data_files"]
    return [files] if isinstance(files, str) else [f["path"] for f in files]


def test_a_trajectories_only_yaml_names_the_steps_and_episodes_as_configs():
    # A trajectories-only card had no configs: datasets.load_dataset(folder) (and the Hub's viewer) then read
    # the export as an image folder of its frames, labelled by their hash folders ("06", "08", ...).
    bare = yaml_configs(render_card(META, {"train": [], "val": [], "test": []}, None, []))
    assert [(c["config_name"], config_paths(c), c.get("default")) for c in bare] == [
        ("steps", ["trajectories/steps/part-*.parquet"], True),
        ("episodes", ["trajectories/episodes.parquet"], None)]
    no_val = yaml_configs(render_card(META, {**SPLITS, "val": []}, CURRICULUM, []))
    assert config_paths(no_val[0]) == ["train.jsonl", "test.jsonl"]


def test_the_files_say_how_datasets_loads_records_and_steps_and_which_split_is_which():
    # The count tables say "val" and the YAML "validation": a Hub reader could not tell which split loads
    # val.jsonl, nor that the image paths are to be joined to the folder, nor how to read the steps.
    card = render_card(META, {**SPLITS, "test": []}, CURRICULUM, [], root_hint="/data/snake")
    assert ("- `train.jsonl`, `val.jsonl`, `test.jsonl`: the task records (`vlm/record.py` TaskRecord), "
            "image paths relative to this folder; `datasets.load_dataset('/data/snake')` reads them as the "
            "splits `train` and `validation` (`val.jsonl`)\n") in card
    assert ("`meta.json`; `datasets.load_dataset('parquet', "
            "data_files='/data/snake/trajectories/steps/part-*.parquet')` reads the steps\n") in card
    # A default export has all three splits: "and" before the last only.
    assert ("reads them as the splits `train`, `validation` (`val.jsonl`) and `test`\n"
            in render_card(META, SPLITS, CURRICULUM, [], root_hint="/data/snake"))
    only_train = render_card(META, {**SPLITS, "val": [], "test": []}, CURRICULUM, [], root_hint="/data/snake")
    assert "`datasets.load_dataset('/data/snake')` reads them as the split `train`\n" in only_train
    bare = render_card({**META, "relative_paths": True}, {"train": [], "val": [], "test": []}, None, [])
    assert ("`meta.json`; `datasets.load_dataset(os.getcwd())` reads the steps, "
            "`datasets.load_dataset(os.getcwd(), 'episodes')` the episodes\n") in bare


def test_write_card_keys_the_trajectory_configs_by_their_files(tmp_path):
    # datasets 5.2 keys a folder's cache on this YAML, not on the files (a steps file cut from 17 rows to 5
    # still loaded 17): the digest makes a re-export with other trajectories (another --scale) load its own.
    from vlm.card import trajectories_digest, write_card

    steps = tmp_path / "trajectories" / "steps" / "part-00000.parquet"
    steps.parent.mkdir(parents=True)
    steps.write_bytes(b"steps")
    (tmp_path / "trajectories" / "episodes.parquet").write_bytes(b"episodes")
    first = trajectories_digest(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    card = write_card(tmp_path, META, {"train": [], "val": [], "test": []}, None, [])
    described = [c["description"] for c in yaml_configs(card.read_text(encoding="utf-8"))]
    assert described == [f"depthfirst export, trajectories {first}"] * 2
    digests = {first}
    for path, data in ((steps, b"other steps"), (tmp_path / "trajectories" / "episodes.parquet", b"other"),
                       (steps, b"s" * (1 << 20) + b"a"), (steps, b"s" * (1 << 20) + b"b")):  # past a read
        path.write_bytes(data)
        digests.add(trajectories_digest(tmp_path))
    assert len(digests) == 5  # each change is a new digest


def test_records_digest_is_16_hex_digits_of_the_files_and_their_splits(tmp_path):
    from vlm.card import records_digest

    (tmp_path / "train.jsonl").write_text("a\nb\n")
    (tmp_path / "val.jsonl").write_text("")
    first = records_digest(tmp_path, ["train", "val"])
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    # the same bytes dealt to other splits are other records
    (tmp_path / "train.jsonl").write_text("a\n")
    (tmp_path / "val.jsonl").write_text("b\n")
    assert records_digest(tmp_path, ["train", "val"]) != first


def test_no_examples_heading_without_train_records_and_a_mix_found_in_the_data():
    card = render_card(META, {"train": [], "val": SPLITS["val"], "test": []}, {**CURRICULUM, "mix": {}}, [])
    assert "## Examples" not in card and "####" not in card  # held-out records are never shown
    assert "mixing the families at the ratios found in the data." in card


def test_the_curriculum_section_gives_the_mix_asked_for():
    card = render_card(META, SPLITS, CURRICULUM, [])
    assert 'mixing the families at the ratios {"perception": 0.5, "strategy": 0.5}.' in card


def test_a_game_boy_export_without_a_game_name_names_its_env():
    card = render_card({**META, "env": "gameboy", "env_kwargs": {}, "rom_sha1": "cd" * 20}, SPLITS,
                       CURRICULUM, [])
    assert "screens of a Game Boy game (env `gameboy`), rendered from the user's own ROM" in card


def test_relative_paths_drop_the_folder_from_the_commands_and_say_where_to_run_them():
    absolute = render_card(META, SPLITS, CURRICULUM, ["easyr1"], root_hint="/data/snake")
    assert "data.train_files=/data/snake/easyr1/train.parquet" in absolute
    assert "run every command from this folder" not in absolute
    relative = render_card({**META, "relative_paths": True}, SPLITS, CURRICULUM, ["easyr1"],
                           root_hint="/data/snake")
    assert "data.train_files=easyr1/train.parquet" in relative and "/data/snake" not in relative
    assert "run every command from this folder" in relative and "`ROOT_IMAGE_DIR`" in relative
    # Said before the first relative path (the datasets calls of the file list), where it came after them.
    assert relative.index("run every command from this folder") < relative.index("datasets.load_dataset(")
    # A trajectories-only card has no trainer formats to find images for.
    bare = render_card({**META, "relative_paths": True}, {"train": [], "val": [], "test": []}, None, [])
    assert bare.index("run every command from this folder") < bare.index("datasets.load_dataset(")
    assert "ROOT_IMAGE_DIR" not in bare


def test_an_empty_split_is_named_in_the_singular_left_out_of_the_yaml_and_kept_by_trl_only():
    no_test = {**SPLITS, "test": []}
    card = render_card(META, no_test, CURRICULUM, ["verl"])
    assert ("The test split is empty, so the file formats have no test file (trainers cannot load an empty "
            "one).") in card
    header = card[:card.index("\n---\n", 4)]
    assert re.findall(r"- split: (\S+)", header) == ["train", "validation"]
    with_trl = render_card(META, no_test, CURRICULUM, ["verl", "trl"])
    assert "(trainers cannot load an empty one); `trl/` keeps the empty split." in with_trl
    both = render_card(META, {**no_test, "val": []}, CURRICULUM, ["trl"])
    assert "; `trl/` keeps the empty splits." in both


def test_a_card_without_records_lists_no_record_files_or_counts():
    card = render_card({**META, "tasks_per_state": 0}, {"train": [], "val": [], "test": []}, None, [])
    assert ("Trajectories only, no task records: 4 episodes (40 steps) of a trained `snake` specialist (PPO, "
            "`tiny` preset, 12,345 parameters, 67,890 training steps), with 6 distinct PNG frames.") in card
    assert "train.jsonl" not in card and "curriculum.json" not in card
    assert "- trajectories only (`--tasks-per-state 0`): no task records" in card
    assert "No task records, so no trainer formats: this export holds trajectories only." in card
    # a curriculum with no records to order has no counts to show either
    assert "## Counts" not in render_card(META, {"train": [], "val": [], "test": []}, CURRICULUM, [])


def test_write_card_keys_the_yaml_by_the_record_files(tmp_path):
    from vlm.card import records_digest, write_card

    for split in SPLITS:
        (tmp_path / f"{split}.jsonl").write_text(f"{split} records\n")
    path = write_card(tmp_path, META, SPLITS, CURRICULUM, [])
    assert path == tmp_path / "README.md"
    digest = records_digest(tmp_path, SPLITS)
    assert f"  description: depthfirst export, records {digest}\n" in path.read_text(encoding="utf-8")


def test_card_commands_quote_a_dataset_folder_with_spaces(monkeypatch):
    """An export into ``data sets/it's`` (or an installation under such a folder): each path in the card's
    shell commands is one word once the shell reads it, and the Python call's is a valid literal. They were
    pasted in bare, so a copied command split the path at its space (or left a quote open)."""
    import ast
    import shlex

    import yaml

    import vlm.card

    root = "/home/me/data sets/it's"
    monkeypatch.setattr(vlm.card, "REWARDS", vlm.card.Path("/opt/my tools/vlm/rewards.py"))
    card = render_card({**META, "minari": "depthfirst/snake/expert-v0"}, SPLITS, CURRICULUM,
                       ["llamafactory", "trl", "easyr1", "verl", "openrlhf", "swift"], root_hint=root)
    shell = [cmd for cmd in re.findall(r"`([^`]*)`", card)
             if ("data sets" in cmd or "my tools" in cmd)
             and not cmd.startswith(("datasets.", "dataset_dir:"))]
    words = [w for cmd in shell for w in shlex.split(cmd)]
    files = ("easyr1/train.parquet", "verl/train.parquet", "openrlhf/train.jsonl", "swift/train.jsonl",
             "swift/train_rl.jsonl")
    expected = {f"{root}/{rel}" for rel in files}
    assert expected <= set(words) | {w.split("=", 1)[-1] for w in words}, words
    assert "/opt/my tools/vlm/rewards.py" in words
    assert "worker.reward.reward_function=/opt/my tools/vlm/rewards.py:compute_score" in words
    assert f"MINARI_DATASETS_PATH={root}/minari" in words
    call = re.search(r"`datasets\.load_from_disk\((.*?)\)`", card)
    assert call and ast.literal_eval(call.group(1)) == f"{root}/trl"
    entry = re.search(r"`(dataset_dir: [^`]*)`", card)
    assert entry and yaml.safe_load(entry.group(1)) == {"dataset_dir": f"{root}/llamafactory"}


def test_a_llamafactory_folder_yaml_would_misread_is_quoted():
    # ": " or " #" in the export's path makes a plain YAML value a mapping or a comment: the dataset_dir the
    # card gives must read back as the folder.
    import yaml

    for root in ("/data/run: 1", "/data/run #2", "'quoted"):
        card = render_card(META, SPLITS, CURRICULUM, ["llamafactory"], root_hint=root)
        entry = re.search(r"`(dataset_dir: [^`]*)`", card)
        assert entry and yaml.safe_load(entry.group(1)) == {"dataset_dir": f"{root}/llamafactory"}, root
    # A folder YAML reads as it is stays plain, as typed into a LLaMA-Factory config.
    plain = render_card(META, SPLITS, CURRICULUM, ["llamafactory", "trl"], root_hint="/data/snake")
    assert "`dataset_dir: /data/snake/llamafactory`, `dataset: depthfirst_snake_train`" in plain
    assert "`datasets.load_from_disk('/data/snake/trl')`" in plain  # a Python string, not a shell word


def test_a_rom_warning_names_the_wrapper_games_cartridge_title():
    card = render_card({**META, "env": "gameboy", "env_kwargs": {"game": "tetris"}, "rom_sha1": "ab" * 20},
                       SPLITS, CURRICULUM, [])
    assert "screens of the Game Boy game `tetris` (cartridge title `TETRIS`), rendered from" in card


def test_write_card_writes_utf_8_whatever_the_locale(tmp_path):
    # The card holds "—", "≥" and "é": under an ASCII locale (no UTF-8 mode, no locale coercion) it was a
    # UnicodeEncodeError at the end of the export, or another encoding than the UTF-8 trainers read.
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import sys; from pathlib import Path; from tests.vlm.test_card import META, SPLITS, CURRICULUM; "
            "from vlm.card import write_card; "
            "write_card(Path(sys.argv[1]), {**META, 'rom_sha1': 'ab' * 20, 'env': 'pokemon_red'}, SPLITS, "
            "None, [])")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    done = subprocess.run([sys.executable, "-X", "utf8=0", "-c", code, str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected = render_card({**META, "rom_sha1": "ab" * 20, "env": "pokemon_red"}, SPLITS, None, [])
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == expected


def test_a_max_score_of_minus_zero_reads_0():
    # :g keeps the sign of -0.0: the card read "mean 0.00, max -0".
    card = render_card({**META, "scores": {"kept_mean": -0.0, "kept_max": -0.0}}, SPLITS, CURRICULUM, [])
    assert "- scores of kept episodes: mean 0.00, max 0\n" in card


def test_the_card_names_the_frames_scale_in_the_words_of_export_help():
    # A default export's command shows no --scale, and the card named none: its frames' size was unsaid.
    def frames(**meta: Any) -> list[str]:
        card = render_card({**META, **meta}, SPLITS, CURRICULUM, [])
        return [line for line in card.splitlines() if line.startswith("- trajectory frames")]

    assert frames(scale=16) == ["- trajectory frames: `--scale 16`, 16 pixels per board cell"]
    assert frames(scale=16, env="rotation") == ["- trajectory frames: `--scale 16`, each view 128×128 pixels"]
    gameboy = {"env": "gameboy", "env_kwargs": {"game": "tetris"}, "rom_sha1": "ab" * 20}
    assert frames(scale=4, **gameboy) == ["- trajectory frames: `--scale 4`, the 160×144 screen at 1× "
                                          "(160×144 pixels)"]
    assert frames(scale=24, **gameboy)[0].endswith("at 3× (480×432 pixels)")
    assert frames() == []  # a meta.json without the scale


def test_a_pokemon_red_cards_frames_are_its_screen_magnified_as_any_game_boy_games():
    # Pokémon Red is a Game Boy game under its own env name: its frames are no "pixels per board cell".
    meta = {**META, "env": "pokemon_red", "rom_sha1": "ab" * 20, "scale": 32}
    card = render_card(meta, SPLITS, CURRICULUM, [])
    assert "- trajectory frames: `--scale 32`, the 160×144 screen at 4× (640×576 pixels)\n" in card


def test_a_game_boy_card_warns_that_its_screens_are_the_users_rom_unless_the_test_cartridge_made_them():
    # What the README promises of every Game Boy export's card; tests/vlm/test_export.py checks it too, on
    # a real export (slowly).
    from envs.gameboy.roms import test_cartridge_sha1

    pokemon = render_card({**META, "env": "pokemon_red", "rom_sha1": "ab" * 20}, SPLITS, CURRICULUM, [])
    assert ("> **Warning: not redistributable.** The frames and images in this dataset are screens of "
            "Pokémon Red, a commercial Game Boy game") in pokemon
    assert f"rendered from the user's own ROM (SHA-1 `{'ab' * 20}`)" in pokemon
    for env, kwargs in (("pokemon_red", {}), ("gameboy", {"game": "depthfirst_test"})):
        own = render_card({**META, "env": env, "env_kwargs": kwargs, "rom_sha1": test_cartridge_sha1()},
                          SPLITS, CURRICULUM, [])
        assert "not redistributable" not in own, env
        assert (f"> The frames come from depthfirst's own test cartridge (SHA-1 `{test_cartridge_sha1()}`"
                in own and "the images may be shared" in own), env


@pytest.mark.parametrize("text", ["/a/b", "/a`b", "`a", "a``", " a`` b ", "a | b", "a\\|b", " | `"])
def test_a_code_span_shows_its_text_as_it_is_in_a_paragraph_and_in_a_table(text):
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown_it.MarkdownIt("commonmark").enable("table")

    def spans(source: str) -> list[str]:
        return [c.content for t in md.parse(source) if t.type == "inline" for c in t.children
                if c.type == "code_inline"]
    assert spans(f"- x: {code_span(text)}\n") == [text]
    assert spans(f"| a | b |\n|---|---|\n| {code_span(text, in_table=True)} | 1 |\n") == [text]


@pytest.mark.parametrize("root", ["/data/a`QQ|b/snake", "/data/``QQ`/snake", "/data/QQ | x`"])
def test_a_backtick_or_pipe_in_the_export_s_path_keeps_each_path_in_its_code_span(root, monkeypatch):
    """An export's card gave each absolute path (the datasets calls, the trainer commands in the table, the
    run, the reward functions) as `...PATH...`: a backtick in a folder's name ended the span, the rest of
    the path shown as text, and a '|' ended the table's cell. Rendered as GitHub renders the card, the path
    is now inside a code span whole, wherever it is named."""
    markdown_it = pytest.importorskip("markdown_it")
    import vlm.card

    monkeypatch.setattr(vlm.card, "REWARDS", vlm.card.Path(f"{root}/vlm/rewards.py"))
    meta = {**META, "minari": "depthfirst/snake/expert-v0",
            "run": {**META["run"], "path": f"{root}/run", "checkpoint": f"{root}/run/model.zip"}}
    formats = ["llamafactory", "trl", "easyr1", "verl", "openrlhf", "swift"]
    card = render_card(meta, SPLITS, CURRICULUM, formats, root_hint=root)
    md = markdown_it.MarkdownIt("commonmark").enable("table")
    inline = [c for t in md.parse(card) if t.type == "inline" for c in t.children]
    spans = [c.content for c in inline if c.type == "code_inline"]
    assert not [c.content for c in inline if c.type != "code_inline" and "QQ" in c.content], card
    assert all(root in span for span in spans if "QQ" in span), spans
    assert f"datasets.load_from_disk({f'{root}/trl'!r})" in spans
    assert f"{root}/run" in spans and str(vlm.card.REWARDS) in spans


def test_a_backtick_in_a_path_of_the_env_kwargs_keeps_them_in_one_code_span():
    """The card's "How it was produced" gave the env's options as `{...}`: a Game Boy export's ROM or start
    state in a folder with a backtick in its name ended the span, the rest shown as text."""
    markdown_it = pytest.importorskip("markdown_it")
    kwargs = {"rom": "/roms/a`QQ|b/red.gb", "state": "/roms/``QQ`/start.state"}
    card = render_card({**META, "env_kwargs": kwargs}, SPLITS, CURRICULUM, [], root_hint="/data/x")
    inline = [c for t in markdown_it.MarkdownIt("commonmark").parse(card) if t.type == "inline"
              for c in t.children]
    assert json.dumps(kwargs, sort_keys=True) in [c.content for c in inline if c.type == "code_inline"], card


def test_the_length_notes_name_a_lone_rl_format_and_every_sft_format_counted():
    # Hand mutation pass: the prompt paragraph written only where both EasyR1 and verl were counted, or the
    # SFT paragraph naming its first format alone, passed: no card counted EasyR1 alone, nor both SFT ones.
    lengths = {"easyr1": 1000, "llamafactory": 1500, "trl": 1400}
    card = " ".join(render_card(META, SPLITS, CURRICULUM, ["easyr1", "llamafactory", "trl"],
                                prompt_lengths=lengths).split())
    assert "The longest prompt takes about 1,000 tokens in EasyR1 for Qwen2-VL" in card
    assert ("takes about 1,500 tokens in LLaMA-Factory (images above 768×768 pixels scaled down first) and "
            "1,400 tokens in TRL") in card
    assert "LLaMA-Factory's `cutoff_len` (default 2048) and TRL's SFT `max_length` (default 1024)" in card
