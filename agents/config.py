"""Run configuration: project defaults < ``configs/<env>.yaml`` < the user's ``--config`` file <
command-line flags, then resolved.

The resolved config (every ``auto`` replaced by what was chosen) is written into the run folder, so a
run describes itself and ``--resume`` rebuilds exactly the same thing.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import stat
import sys
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

DEFAULTS: dict[str, Any] = {
    "env": None,
    "env_kwargs": {},
    "num_envs": "auto",  # boards stepped per rollout step; auto: cuda_num_envs on CUDA, cpu_num_envs on CPU
    "cpu_num_envs": 64,
    "cuda_num_envs": 64,
    "num_workers": "auto",  # worker processes; auto: 0 for cheap batched cores, else one per core
    "policy": "auto",  # preset name (agents/presets.py); auto: cuda_policy on CUDA, cpu_policy on CPU
    "cpu_policy": "tiny",
    "cuda_policy": "10m",
    "device": "auto",
    "seed": 0,
    "total_timesteps": 1_000_000,
    "save_every": "auto",  # env steps between checkpoints; auto: a tenth of the run, at most 1M
    "keep_checkpoints": 3,  # newest checkpoints/step_<N>.zip kept (older ones deleted); 0 keeps every one
    "video_every": "auto",  # env steps between TensorBoard rollout videos; auto: a fifth of the run
    "video_max_steps": 1000,  # cap on a recorded episode's length
    "recurrent": False,  # sb3-contrib RecurrentPPO with an LSTM after the CNN
    # Two-player games with env_kwargs.opponent: policy play earlier snapshots of the learner.
    "self_play": {"snapshot_every": 200_000, "pool_size": 5},
    "ppo": {
        "n_steps": 128,  # steps per env per rollout
        "batch_size": 2048,  # minibatch size; auto: an eighth of each rollout (MINIBATCHES)
        "n_epochs": 4,
        "learning_rate": 2.5e-4,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "clip_range": 0.2,
        "ent_coef": 0.01,
        "vf_coef": 0.5,
        "max_grad_norm": 0.5,
    },
}
# Minibatches per epoch that ppo.batch_size auto makes: the count Snake's CPU and CUDA defaults were
# measured with (8,192 and 32,768 samples a rollout, minibatches of 1,024 and 4,096).
MINIBATCHES = 8


def flag_of(key: str) -> str:
    """The command-line flag of a config key: ``num_envs`` is ``--num-envs``."""
    return f"--{key.replace('_', '-')}"


def auto_batch_size(n_steps: int, num_envs: int) -> int:
    """``ppo.batch_size`` auto: each rollout split into ``MINIBATCHES`` (at least 2, as SB3 normalises
    advantages over each minibatch)."""
    return max(2, n_steps * num_envs // MINIBATCHES)


def device_key(name: str, device: str) -> str:
    """The setting an ``auto`` ``name`` (policy, num_envs) takes on ``device``: cuda_NAME or cpu_NAME."""
    return f"{'cuda' if device.startswith('cuda') else 'cpu'}_{name}"


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# The most values a YAML text may expand to through its aliases: far past any config, and a "billion
# laughs" (lists of aliases of lists of aliases) is refused before anything walks or prints it.
MOST_YAML_VALUES = 100_000


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping: PyYAML keeps the last without a
    word, so a second ``ppo:`` section in a config file dropped every setting of the first. It refuses
    aliases that expand past ``MOST_YAML_VALUES`` too: PyYAML shares an alias's object, so a billion
    laughs loaded at once, but an error message that showed the value built its text for ever."""

    def construct_document(self, node: yaml.Node) -> Any:
        if _expanded(node, {}) > MOST_YAML_VALUES:
            raise yaml.YAMLError(f"its aliases expand to more than {MOST_YAML_VALUES:,} values")
        return super().construct_document(node)


def _expanded(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes ``node`` is once its aliases are expanded; ``sizes`` holds those counted (by id), so a
    node an alias shares is walked once, however often it is used."""
    if id(node) not in sizes:
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        sizes[id(node)] = 1 + sum(_expanded(child, sizes) for child in children)
    return sizes[id(node)]


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":  # not <<
            key = loader.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError("while reading a mapping", node.start_mark,
                                                        f"{key!r} is given twice", key_node.start_mark)
            seen.add(key)
    return (yield from loader.construct_yaml_map(node))


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:map", _unique_mapping)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, but a key given twice in a mapping is a ``yaml.YAMLError``, and so is nesting
    past what PyYAML can read: it reads nesting by recursion, and thousands of brackets were a
    ``RecursionError`` that each caller had to catch beside ``yaml.YAMLError``."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
    except RecursionError:
        raise yaml.YAMLError("nested too deeply to read") from None


def yaml_problem(e: yaml.YAMLError) -> str:
    """A YAML error on one line: its problem and where (``'ppo' is given twice (line 4, column 1)``).
    PyYAML's own text names the stream ``"<unicode string>"`` (the loaders read text, not the file) and
    draws the line with a caret under it, lines that broke the one-line errors they went into."""
    problem, mark = getattr(e, "problem", None), getattr(e, "problem_mark", None)
    if not problem:
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return problem if mark is None else f"{problem} (line {mark.line + 1}, column {mark.column + 1})"


def unnamed_key(data: dict[Any, Any], where: str = "") -> str | None:
    """The dotted path of the first key in ``data`` or a mapping within it that is not text, else None."""
    for key, value in data.items():
        if not isinstance(key, str):
            return f"{where}{key}"
        if isinstance(value, dict):
            found = unnamed_key(value, f"{where}{key}.")
            if found is not None:
                return found
    return None


def file_kind(path: Path) -> str | None:
    """What ``path`` is when it exists but is no regular file or folder (``/dev/null``: a character
    device), else None."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):  # missing, a broken link, unreadable: no kind to name
        return None
    kinds = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), None)


def not_a_file(path: Path, again: str) -> str | None:
    """Why ``path``, which exists but is no regular file or folder, is refused where a file is read more
    than once (``again``: by what); None for anything else. A pipe (bash's ``<(...)``) was said to be
    "not found", and sent the user looking for a file that was there."""
    kind = file_kind(path)
    if kind == "a FIFO (named pipe)":
        return (f"is a pipe (bash's <(...) or a FIFO), which can be read only once, and {again}; save its "
                "output to a file and give that")
    return None if kind is None else f"is {kind}, not a file"


def _run_config(folder: Path, what: str) -> str:
    """The hint naming ``folder``'s config.yaml where it holds one (a run's), else ""."""
    own = folder / "config.yaml"
    return f" (a run's is its config.yaml: {what} {own})" if own.is_file() else ""


def read_yaml(file: Path, what: str, env: str | None = None) -> dict[str, Any]:
    """A config file's top-level mapping; a ``ValueError`` naming ``what`` (the flag) otherwise. ``env``
    (``--env``) names the game whose options an unknown key is looked up in when the file names none."""
    if file.is_dir():  # a run folder, to train it again: its config.yaml is the file
        raise ValueError(f"{what} {file} is a folder; give a YAML file{_run_config(file, what)}")
    # A pipe (bash's <(sed ... configs/snake.yaml)) is read once, as a file is: load_config reads the
    # path only here. A device is still refused: /dev/zero has no end to stop the read at.
    if not file.is_file() and not file.is_fifo():
        kind = file_kind(file)
        if kind is not None:  # it exists: "no such file" sent the user looking for a missing one
            raise ValueError(f"{what} {file} is {kind}, not a file; give a YAML file")
        raise ValueError(f"{what} {file}: no such file")
    # A run's model.zip given for its config.yaml was "not valid YAML: 'utf-8' codec can't decode byte
    # 0x..": what the file is, and which to give, say more than the codec's words.
    beside = "" if file.name == "config.yaml" else _run_config(file.parent, what)  # not itself
    no_text = (f"{what} {file} is no YAML text (a binary file, such as a model zip, or text not saved as "
               f"UTF-8); give a YAML file{beside}")
    try:
        text = file.read_text(encoding="utf-8")  # not the locale's: the presets hold "×"
        if "\0" in text:  # UTF-8 yet binary (a zip of stored files): YAML's "#x0000" named no file kind
            raise ValueError(no_text)
    except UnicodeDecodeError:
        raise ValueError(no_text) from None
    except OSError as e:  # no permission to read it: no ValueError, so its callers printed a traceback
        raise ValueError(f"{what} {file} cannot be read ({e.strerror or e})") from None
    # Before the YAML is read: a blank file holding a tab was "not valid YAML: found character '\t'".
    if not text.lstrip("\ufeff").strip():  # a file saved before it was written (a BOM alone: Notepad's), or
        # a <(...) whose command failed: the preset alone trained, as if its settings were there (a
        # commented-out line still changes nothing)
        hint = "; did the command in <(...) fail?" if file.is_fifo() else ""
        raise ValueError(f"{what} {file} is empty: write your settings in it (ppo: {{learning_rate: "
                         f"1.0e-4}}), or leave {what} out{hint}")
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{what} {file} is not valid YAML: {yaml_problem(e)}") from None
    # null (~) or {} alone is refused too: it is what a tool that found nothing writes (yq of a missing
    # key, yaml.dump of None or {}), as a <(...) whose command failed writes nothing, and no one writes it
    # by hand to mean "no settings" (leaving --config out says that). Comments alone, after a --- too, are
    # a template's and change nothing: YAML composes no node for them, or a null written as nothing.
    if data == {} or (data is None and getattr(yaml.compose(text, Loader=yaml.SafeLoader), "value", "")):
        held = "null" if data is None else "an empty mapping ({})"
        hint = "; did the command in <(...) find nothing?" if file.is_fifo() else ""  # yq of a missing key
        raise ValueError(f"{what} {file} holds only {held}, no settings: write your settings in it (ppo: "
                         f"{{learning_rate: 1.0e-4}}), or leave {what} out{hint}")
    data = {} if data is None else data
    if not isinstance(data, dict):  # what it holds and what to write: "expected a mapping" said neither
        text = repr(data) if len(repr(data)) <= 60 else f"{repr(data)[:56]}..."  # one line, not a whole file
        held = "a list" if isinstance(data, list) else f"the value {text}"
        raise ValueError(f"{what} {file} holds {held}, not a mapping of settings: write one key: value a "
                         "line (seed: 7, or ppo: {n_epochs: 2})")
    odd = unnamed_key(data)
    if odd is not None:  # beside named keys, sorting them for a message was a TypeError traceback
        raise ValueError(f"{what} {file}: the key {odd} is not a name (YAML reads 1, on, yes or null as a "
                         "number, a switch or null): correct it, or quote it")
    unknown = set(data) - set(DEFAULTS)
    if unknown:
        env = data["env"] if isinstance(data.get("env"), str) else env
        hints = "".join(f"; {key} is a setting of {section}: put it under {section}:"
                        for key in sorted(unknown) if (section := section_of(key, env)))
        raise ValueError(f"{what} {file}: unknown keys {sorted(unknown)}; known: {sorted(DEFAULTS)}{hints}")
    for key in (k for k, v in DEFAULTS.items() if isinstance(v, dict) and k in data):
        data[key] = {} if data[key] is None else data[key]  # every value of it commented out
        if not isinstance(data[key], dict):
            raise ValueError(f"{what} {file}: {key} must be a mapping of settings, got {data[key]!r}")
    return data


def any_case(choices: Iterable[str]) -> Callable[[str], str]:
    """An argparse type for a flag with ``choices``: the choice ``text`` names in any case (``--policy 10M``
    was "invalid choice"), else ``text`` as given, which argparse refuses naming the choices."""
    canonical = {choice.lower(): choice for choice in choices}

    def parse(text: str) -> str:
        return canonical.get(text.lower(), text)
    return parse


def named_choices() -> dict[str, list[str]]:
    """The settings whose value is a named choice, with the choices; a --config file's or a --set's value
    is read in any case (``read_choices``), as the flags' are. Imported when called: ``envs`` loads
    gymnasium (``envs.choices`` itself is stdlib only)."""
    from agents.presets import PRESETS
    from envs.choices import GAMEBOY_GAMES, SNAKE_DUEL_OPPONENTS, SNAKE_OBS, SOKOBAN_DIFFICULTIES

    # auto: the device's cpu_policy or cuda_policy, a config's default; no choice of theirs (it read as auto,
    # then was refused as an unknown preset the user never typed).
    presets = list(PRESETS)
    return {"policy": ["auto", *presets], "cpu_policy": presets, "cuda_policy": presets,
            "env_kwargs.obs": list(SNAKE_OBS), "env_kwargs.difficulty": list(SOKOBAN_DIFFICULTIES),
            "env_kwargs.opponent": list(SNAKE_DUEL_OPPONENTS), "env_kwargs.game": list(GAMEBOY_GAMES)}


def read_choices(cfg: dict[str, Any]) -> None:
    """A config's named choices (``named_choices``) as their flags read them: ``policy: 10M`` is the ``10m``
    that ``--policy 10M`` gives (it was refused as an unknown preset), and ``device: CPU`` is ``cpu``, as
    ``--device`` takes it (torch names devices in lower case). A value that names no choice is left to be
    refused where it is checked, naming the choices."""
    if isinstance(cfg.get("device"), str):
        cfg["device"] = device_name(cfg["device"])
    for key, names in named_choices().items():
        *section, name = key.split(".")
        node = cfg.get(section[0]) if section else cfg
        if isinstance(node, dict) and isinstance(node.get(name), str):
            node[name] = any_case(names)(node[name])


def load_config(env: str | None, path: str | Path | None = None) -> dict[str, Any]:
    """Defaults < the env's preset ``configs/<env>.yaml`` (a built-in game's) < the user's ``--config`` file
    (any part of a config; its ``env`` names the game when ``env`` is None)."""
    from envs import BUILTIN_GAMES, GAMES

    own = read_yaml(Path(path), "--config", env) if path else {}
    named = own.get("env")  # as typed, for the error
    if isinstance(named, str):  # in any case, as --env takes it (env: Snake beside --env snake)
        own["env"] = any_case(GAMES)(named)
    if env is None:
        env = own.get("env")
        if env is None:
            raise ValueError("--env is required (or an env: key in the --config file)")
        if not isinstance(env, str):  # a list or mapping: no preset file name, and unhashable
            raise ValueError(f"--config {path}: env must be a game's name, got {env!r}")
    elif own.get("env") not in (None, env):
        raise ValueError(f"--config {path} is for env {named!r}, not --env {env}")
    env = any_case(GAMES)(env)  # in any case, as --env takes it
    if env not in GAMES:  # before a preset path is built from it: env: ../x read configs/../x.yaml
        where = f"--config {path}: " if own.get("env") == env else "--env: "
        raise ValueError(f"{where}unknown env {env!r}; known envs: {', '.join(sorted(GAMES))}")
    if env not in BUILTIN_GAMES:  # a game of another package has no preset here: its settings are --config's
        return {**deep_merge(DEFAULTS, own), "env": env}
    preset_file = CONFIG_DIR / f"{env}.yaml"
    if not preset_file.is_file():  # every game has one: a copy of the packages trained without it, silently
        if CONFIG_DIR.is_dir():  # a checkout: a game added without its preset, not a copy
            raise RuntimeError(f"no preset {preset_file} for {env}: every game needs one; add it beside the "
                               "other games' presets")
        raise RuntimeError(f"no preset {preset_file} for {env}: this copy of depthfirst lacks its checkout's "
                           "configs/ (pip install . copies the packages alone); install the checkout "
                           "editable: pip install -e <the checkout's folder>")
    preset = read_yaml(preset_file, "preset")
    cfg = deep_merge(deep_merge(DEFAULTS, preset), own)
    cfg["env"] = env
    return cfg


def set_item(item: str) -> tuple[list[str], str]:
    """A ``--set KEY=VALUE`` as KEY's dotted names, spaces around each dropped (every reader of ``--set``
    takes ``'ppo.n_epochs = 3'`` alike: one kept them, and ``n_epochs `` was an unknown setting), and the
    raw VALUE; a ``ValueError`` naming ``--set`` for no ``=`` or an empty name (``' =3'``, ``ppo.=3``)."""
    if "=" not in item:
        raise ValueError(f"--set expects KEY=VALUE (e.g. ppo.learning_rate=1e-4), got {item!r}")
    key, raw = item.split("=", 1)
    parts = [part.strip() for part in key.split(".")]
    if not all(parts):
        what = "no KEY before the =" if not key.strip() else f"an empty name in KEY {key!r}"
        raise ValueError(f"--set {item!r}: {what}; give KEY=VALUE, e.g. ppo.learning_rate=1e-4")
    return parts, raw


def section_of(name: str, env: str | None) -> str | None:
    """The section (ppo, self_play, the game's env_kwargs) that has a setting ``name``, for one given at the
    top level (``learning_rate``); None if none has."""
    from agents.runs import game_options  # agents.runs imports this module

    sections = {"ppo": ppo_settings(recurrent=False), "self_play": DEFAULTS["self_play"],
                "env_kwargs": (game_options(env) if env else None) or ()}
    return next((section for section, names in sections.items() if name in names), None)


def misplaced(keys: Collection[str], section: str, env: str | None) -> str:
    """Hints for unknown ``keys`` of ``section`` that belong elsewhere (``ppo: {size: 12}``): a top-level
    setting or section, or another section's; a config file nested one level wrong got the section's list
    alone."""
    hints = []
    for key in sorted(keys):
        if key in DEFAULTS:  # a whole section too: a file indented one level too far (env_kwargs: under ppo:)
            kind = "section" if isinstance(DEFAULTS[key], dict) else "setting"
            hints.append(f"; {key} is a top-level {kind}, not one of {section}")
        elif (other := section_of(key, env)) not in (None, section):
            hints.append(f"; {key} is a setting of {other} ({other}.{key})")
    return "".join(hints)


def _section_hint(parts: list[str], raw: str, env: str | None) -> str:
    """For a ``--set NAME=VALUE`` whose NAME is a section's setting (``learning_rate``): the KEY to give."""
    section = section_of(parts[0], env) if len(parts) == 1 else None
    return f"; {parts[0]} is a setting of {section}: --set {section}.{parts[0]}={raw}" if section else ""


def apply_set(cfg: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (value parsed as YAML: numbers, bools, lists...)."""
    cfg = copy.deepcopy(cfg)
    for item in assignments:
        parts, raw = set_item(item)
        key = ".".join(parts)
        if parts[0] not in DEFAULTS:
            known = sorted(set(DEFAULTS) - {"env"})  # refused below: --env chooses the game
            raise ValueError(f"--set {key}: unknown key {parts[0]!r}; known: {known}"
                             f"{_section_hint(parts, raw, cfg.get('env'))}")
        if parts[0] == "env":
            raise ValueError("--set env: choose the game with --env")
        if len(parts) == 1 and isinstance(DEFAULTS[key], dict):
            raise ValueError(f"--set {key}: a section; set one of its values, e.g. --set {key}.NAME=VALUE")
        node = cfg
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {key}: {p!r} is not a section")
        try:  # load_yaml: a key twice in a value's mapping is refused, as in a --config file
            node[parts[-1]] = load_yaml(raw)
        except yaml.YAMLError as e:  # no ValueError: its callers printed PyYAML's traceback
            shown = raw if len(raw) <= 60 else f"{raw[:60]}..."  # thousands of brackets: not all of them
            raise ValueError(f"--set {key}: {shown!r} is not a YAML value ({yaml_problem(e)})") from None
    return cfg


def resolve(cfg: dict[str, Any], cuda_available: bool) -> dict[str, Any]:
    """Replace every ``auto`` with the concrete choice for this machine; a bad value raises a
    ``ValueError`` naming the flag (or ``--set`` key) to change."""
    from envs.vector import default_workers

    cfg = copy.deepcopy(cfg)
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:  # a run's hand-edited config.yaml (--config and --set refuse these before)
        raise ValueError(f"unknown settings {unknown}; known: {sorted(DEFAULTS)}")
    for key in ("env_kwargs", "ppo", "self_play"):
        if not isinstance(cfg[key], dict):
            raise ValueError(f"{key} must be a mapping of settings, got {cfg[key]!r}")
    unknown = sorted(set(cfg["self_play"]) - set(DEFAULTS["self_play"]))
    if unknown:  # a mistyped key (self_play.pool_sise) would otherwise be ignored without a word
        raise ValueError(f"{_unknown_settings('self_play', unknown, DEFAULTS['self_play'])}"
                         f"{misplaced(unknown, 'self_play', cfg['env'])}")
    if not isinstance(cfg["recurrent"], bool):
        raise ValueError(f"--set recurrent must be true or false, got {cfg['recurrent']!r}")
    if cfg["device"] == "auto":
        cfg["device"] = "cuda" if cuda_available else "cpu"
    check_device(str(cfg["device"]), cuda_available)
    cfg["policy"], flag = by_device(cfg, "policy", "--policy")
    check_preset(cfg["policy"], flag)
    num_envs, flag = by_device(cfg, "num_envs", "--num-envs")
    cfg["num_envs"] = whole_at_least(num_envs, flag)
    for key in ("total_timesteps", "seed"):
        cfg[key] = whole_number(cfg[key], flag_of(key))
    if not 0 <= cfg["seed"] < 2**32:
        raise ValueError(f"--seed must be between 0 and 2**32 - 1, got {cfg['seed']}")
    if cfg["num_workers"] == "auto":
        cfg["num_workers"] = default_workers(cfg["env"], cfg["num_envs"])
    cfg["num_workers"] = whole_number(cfg["num_workers"], "--num-workers")
    for key, value in auto_intervals(cfg["total_timesteps"]).items():
        if cfg[key] == "auto":
            cfg[key] = value
    for key in ("total_timesteps", "save_every", "video_every"):
        cfg[key] = whole_at_least(cfg[key], flag_of(key))
    cfg["keep_checkpoints"] = whole_at_least(cfg["keep_checkpoints"], "--keep-checkpoints", 0)
    for node, key, flag in ((cfg, "video_max_steps", "--set video_max_steps"),
                            (cfg["self_play"], "snapshot_every", "--set self_play.snapshot_every"),
                            (cfg["self_play"], "pool_size", "--set self_play.pool_size")):
        node[key] = whole_at_least(node[key], flag)
    if cfg["num_workers"] < 0 or cfg["num_workers"] > cfg["num_envs"]:
        raise ValueError(f"--num-workers must be between 0 and --num-envs ({cfg['num_envs']}), "
                         f"got {cfg['num_workers']}")
    check_ppo(cfg["ppo"], cfg["num_envs"], cfg["recurrent"], cfg["env"])
    return cfg


def auto_intervals(total: int) -> dict[str, int]:
    """``save_every`` and ``video_every`` when ``auto``, for a run of ``total`` env steps."""
    return {"save_every": max(1, min(total // 10, 1_000_000)), "video_every": max(1, total // 5)}


def check_device_defaults(cfg: dict[str, Any]) -> None:
    """A new run's ``cpu_*`` and ``cuda_*`` settings are valid, those its device leaves unused too: they
    are stored in the run's config.yaml, and a typo there was kept without a word. (A ``--resume`` keeps
    its run's values: its policy and boards are chosen already.)"""
    for key in ("cpu_policy", "cuda_policy"):
        check_preset(cfg[key], f"--set {key}")
    for key in ("cpu_num_envs", "cuda_num_envs"):  # stored as read: 1e3 was written as the string '1e3'
        cfg[key] = whole_at_least(cfg[key], f"--set {key}")


def by_device(cfg: dict[str, Any], name: str, flag: str) -> tuple[Any, str]:
    """``cfg[name]`` and ``flag``, or for ``auto`` the device's choice (cuda_NAME or cpu_NAME) and the
    ``--set`` key that changes it."""
    if cfg[name] != "auto":
        return cfg[name], flag
    key = device_key(name, cfg["device"])
    return cfg[key], f"--set {key}"


def check_preset(name: Any, flag: str) -> None:
    from agents.presets import PRESETS

    if not isinstance(name, str) or name not in PRESETS:  # a list is unhashable
        raise ValueError(f"{flag}: unknown preset {name!r}; known: {', '.join(PRESETS)}")


def whole_at_least(value: Any, flag: str, least: int = 1) -> int:
    """``value`` as an int (``whole_number``) of at least ``least``; a ``ValueError`` naming ``flag`` else."""
    number = whole_number(value, flag)
    if number < least:
        raise ValueError(f"{flag} must be >= {least}, got {number}")
    return number


def whole_number(value: Any, flag: str) -> int:
    """``value`` as an int (YAML may give 1e6 as a float or a string); anything else names ``flag``."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value)  # exact, however large
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{flag} must be a whole number, got {value!r}") from None
    if isinstance(value, bool) or not number.is_integer():
        raise ValueError(f"{flag} must be a whole number, got {value!r}")
    return int(number)


def _why_no_cuda() -> str:
    """Why torch has no CUDA here, as the user can mend it: "not on this machine" was said to a GPU node's
    user whose torch is a CPU build (this project's CPU install), or whose job set CUDA_VISIBLE_DEVICES."""
    import torch

    if torch.version.cuda is None and torch.version.hip is None:
        return f"this torch ({torch.__version__}) is a CPU build; for a GPU, install a CUDA build of torch"
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None:
        return (f"CUDA is not available to this process (CUDA_VISIBLE_DEVICES={hidden!r}: it sees only the "
                "GPUs named there)")
    return "CUDA is not available on this machine"


def _why_no_mps() -> str:
    """Why torch has no MPS here: a Mac whose torch has it (but a macOS before 12.3, or no Metal GPU) was told
    the torch build lacked it and offered cuda, which no Mac has."""
    import torch

    if torch.backends.mps.is_built():
        return ("this torch has MPS, but this machine cannot use it (it needs macOS 12.3 or later on Apple "
                "silicon or an AMD GPU)")
    return "this torch build has no MPS (Apple GPUs, macOS only)"


#: The devices ``check_device`` takes, as the scripts' --device help and its refusals name them.
DEVICES = "auto, cpu, cuda[:N] or mps"
_DEVICE_NAME = re.compile(r"(auto|cpu|cuda|mps)(:\d+)?", re.IGNORECASE)  # DEVICES' forms, any case


def device_name(text: str) -> str:
    """A device as torch names it (lower case: ``CPU`` was "unknown device") where ``text`` has one of the
    ``DEVICES`` forms in any case, else ``text`` as given: its error names what the user typed (``GPU``
    was told as 'gpu')."""
    return text.lower() if _DEVICE_NAME.fullmatch(text) else text


def check_device(device: str, cuda_available: bool | None = None) -> None:
    """A ValueError naming ``--device`` unless torch knows ``device`` and (for CUDA) this machine has it."""
    import torch

    if device == "auto":  # CUDA when available: always possible
        return
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device: unknown device {device!r} (use {DEVICES})") from None
    if dev.type == "mps":  # Apple GPUs
        if not torch.backends.mps.is_available():
            raise ValueError(f"--device {device}: {_why_no_mps()}; use --device cpu")
        # torch has one MPS device; mps:1 passed here and names none (cuda:N past the last is refused too).
        if dev.index not in (None, 0):
            raise ValueError(f"--device {device}: torch has one MPS device (mps or mps:0); use --device mps")
        return
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {device}: not available with this torch build (use {DEVICES})")
    if dev.type == "cpu":
        # torch puts cpu:N's tensors on its one CPU device whatever N: an index pins no core, and a run
        # recorded it as though it had (cpu:0 is torch's own name for that device, kept).
        if dev.index not in (None, 0):
            raise ValueError(f"--device {device}: torch has one CPU device (cpu or cpu:0), and an index pins "
                             "no core; use --device cpu (to limit the cores, set OMP_NUM_THREADS), or "
                             f"cuda:{dev.index} for a GPU")
        return
    if not (torch.cuda.is_available() if cuda_available is None else cuda_available):
        raise ValueError(f"--device {device}: {_why_no_cuda()} (use --device cpu)")
    # Given cuda_available too (resolve): a run on a missing index failed only in SB3, its run folder made.
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        from vlm.tasks import plural

        have = plural(torch.cuda.device_count(), "CUDA device")
        raise ValueError(f"--device {device}: this machine has {have}")


# Keywords of PPO that the run sets itself, never a config.
_RUN_OWNED = {"self", "policy", "env", "policy_kwargs", "device", "seed", "verbose", "tensorboard_log",
              "_init_setup_model", "rollout_buffer_class", "rollout_buffer_kwargs"}


def ppo_settings(recurrent: bool) -> set[str]:
    """What ``ppo:`` may set: the keywords of SB3's ``PPO`` (sb3-contrib's ``RecurrentPPO``)."""
    import inspect

    if recurrent:
        from sb3_contrib import RecurrentPPO as algo
    else:
        from stable_baselines3 import PPO as algo
    return set(inspect.signature(algo.__init__).parameters) - _RUN_OWNED


def _unknown_settings(section: str, unknown: list[str], known: Collection[str]) -> ValueError:
    """The error for mistyped keys of a section; they come from ``--set`` or the config file."""
    return ValueError(f"{section}: unknown settings {unknown} (from --set {section}.KEY or the config file); "
                      f"known: {sorted(known)}")


# gSDE's keywords: accepted at their defaults only (check_ppo), so never offered as settings to give.
_GSDE = {"use_sde", "sde_sample_freq"}

# SB3's PPO keywords that the run sets from its own flags: a --set ppo.seed names the flag to use instead.
PPO_KEYWORD_FLAGS = {"seed": "--seed", "policy": "--policy", "device": "--device"}


def check_ppo(ppo: dict[str, Any], num_envs: int, recurrent: bool, env: str | None = None) -> None:
    """The PPO settings SB3 would reject late (or divide by): checked before a run folder exists. ``env``
    names the game whose options a misplaced key may be."""
    known = ppo_settings(recurrent)
    unknown = sorted(set(ppo) - known)
    if unknown:
        # Named by the top-level key as well: a resumed run's config.yaml cannot take the flag (--resume
        # refuses --seed), only its own top-level seed:.
        hints = "".join(f"; ppo.{k} is the run's {flag} (top-level {k}: in a config file): set that instead"
                        for k, flag in PPO_KEYWORD_FLAGS.items() if k in unknown)
        hints += misplaced(set(unknown) - set(PPO_KEYWORD_FLAGS), "ppo", env)
        raise ValueError(f"{_unknown_settings('ppo', unknown, known - _GSDE)}{hints}")
    for key in ("n_steps", "batch_size", "n_epochs"):
        if key == "batch_size" and ppo[key] == "auto":  # n_steps is a number by now
            ppo[key] = auto_batch_size(ppo["n_steps"], num_envs)
        least = 2 if key == "batch_size" else 1  # SB3 normalises advantages over each minibatch
        ppo[key] = whole_at_least(ppo[key], f"--set ppo.{key}", least)
    from envs.base import yaml_number

    numbers = ("learning_rate", "clip_range", "max_grad_norm", "gamma", "gae_lambda", "ent_coef", "vf_coef")
    for key in (k for k in numbers if k in ppo):
        ppo[key] = yaml_number(ppo[key])
        if isinstance(ppo[key], bool) or not isinstance(ppo[key], (int, float)):
            raise ValueError(f"--set ppo.{key} must be a number, got {ppo[key]!r}")
        # NaN or inf: training would fail (or diverge) after the run began. Compared, not math.isfinite: an
        # int past float's range (1 and 400 zeros) was an OverflowError there.
        if not abs(ppo[key]) <= sys.float_info.max:
            raise ValueError(f"--set ppo.{key} must be a finite number, got {ppo[key]}")
    for key in ("ent_coef", "vf_coef"):
        if key in ppo and ppo[key] < 0:
            raise ValueError(f"--set ppo.{key} must be >= 0, got {ppo[key]}")
    for key in ("target_kl", "clip_range_vf"):  # SB3 would call a string a schedule, or compare with it
        if key not in ppo:
            continue
        v = ppo[key] = yaml_number(ppo[key])
        # An int past float's range passed `< math.inf`, and SB3's 1.5 * target_kl overflowed mid-run.
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or not 0 < v <= sys.float_info.max):
            raise ValueError(f"--set ppo.{key} must be a number > 0 (or null: no limit), got {v!r}")
    for key, least in (("stats_window_size", 1), ("sde_sample_freq", -1)):  # SB3 fails on these mid-run
        if key in ppo:
            ppo[key] = whole_at_least(ppo[key], f"--set ppo.{key}", least)
    for key in ("normalize_advantage", "use_sde"):
        if not isinstance(ppo.get(key, False), bool):  # SB3 would read any string as true
            raise ValueError(f"--set ppo.{key} must be true or false, got {ppo[key]!r}")
    if ppo.get("use_sde"):  # SB3 refused it once the run folder was made, naming no key
        raise ValueError("--set ppo.use_sde: gSDE is for continuous actions, and every game here has "
                         "discrete actions: drop it")
    if ppo.get("sde_sample_freq", -1) != -1:  # read by gSDE only: it would train on without a word
        raise ValueError(f"--set ppo.sde_sample_freq={ppo['sde_sample_freq']} applies to ppo.use_sde only, "
                         "which no game here can use (their actions are discrete): drop it")
    for key in ("learning_rate", "clip_range", "max_grad_norm"):
        if key in ppo and ppo[key] <= 0:
            raise ValueError(f"--set ppo.{key} must be > 0, got {ppo[key]}")
    for key in ("gamma", "gae_lambda"):
        if key in ppo and not 0 <= ppo[key] <= 1:
            raise ValueError(f"--set ppo.{key} must be between 0 and 1, got {ppo[key]}")
    rollout = ppo["n_steps"] * num_envs
    if ppo["batch_size"] > rollout:
        need = -(-ppo["batch_size"] // ppo["n_steps"])
        raise ValueError(f"ppo.batch_size ({ppo['batch_size']}) exceeds ppo.n_steps × --num-envs "
                         f"({ppo['n_steps']} × {num_envs} = {rollout}): use --num-envs {need} or more, "
                         "or a smaller --set ppo.batch_size")
    if recurrent and rollout % ppo["batch_size"] == 1 and ppo.get("normalize_advantage", True):
        # SB3's PPO skips normalising a one-sample minibatch; RecurrentPPO divides by its std (NaN), and
        # the first update turns every weight into NaN.
        raise ValueError(f"with --recurrent, ppo.n_steps × --num-envs ({ppo['n_steps']} × {num_envs} = "
                         f"{rollout}) leaves a last minibatch of 1 sample after ppo.batch_size "
                         f"({ppo['batch_size']}), whose advantage RecurrentPPO cannot normalise (the update "
                         "turns the weights into NaN): choose another --set ppo.batch_size, ppo.n_steps or "
                         "--num-envs")
