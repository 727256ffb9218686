"""Depth versus breadth: a trained specialist and VLMs play the same seeded episodes; a report compares them.

``compare`` plays every player on seeds ``seed .. seed+episodes-1`` (the game contract makes these the
same boards for everyone), then ``write_report`` writes ``report.json`` (every figure), ``report.md`` and
PNG plots (score distribution, success and invalid-answer rates, decisions per second and parameters,
tokens and cost per episode), plus frames of each VLM's worst decisions with its reasoning.

"Worst decisions", most severe first: the move that killed the player (a crash: a last move with a
negative reward; in duel Snake, snake 0 dead in the last state, as a loss on length is no crash);
an answer that could not be used (unparseable, illegal, failed request: the fallback move was played);
a move with a negative reward; a move the engine does not call best; an answer the project's verifier
marks wrong (ViGaL's Snake rule also wants the exact set of fatal moves). At most one per episode
per round, so the sample spans episodes.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.cli import (
    EPISODE_STEP_CAP,
    EpisodeProgress,
    bar_size,
    figure,
    given_path,
    mean_text,
    not_utf8,
    safe_text,
    scored_as_stood,
)
from agents.curves import pyplot
from agents.evaluation import (
    Episode,
    GameSpec,
    RandomPolicy,
    check_fits,
    check_game,
    eval_kwargs,
    forward_bytes,
    run_episodes,
    summarize,
)
from agents.interrupts import settled, uninterruptible
from agents.machine import gpu_alloc_failed, memory_bytes, memory_refused
from agents.outputs import (
    MadeFolders,
    check_output_folder,
    folder_chain,
    folder_identity,
    made_in,
    make_again,
    make_output_folder,
    missing_folders,
    not_written,
    process_running,
    remove_entry,
    remove_folders,
    temp_name,
)
from agents.preflight import memory_shortfall
from agents.presets import policy_label
from agents.runs import RunError, file_slug, model_file, read_run_config, remove_dead_compare_folders
from agents.vlm_player import STATUSES, Decision, VLMPlayer
from envs import game_class, make_game
from envs.rng import seeds_from
from vlm.tasks import TaskModuleError, module_place, plural, raised_problem, task_module

SUCCESS_KEYS = ("won", "win", "solved")  # episode_info keys that mean "the game was won"
# The default report folder (<run>/compare-<time>) named in errors: no --out gave it.
DEFAULT_OUT = "the report folder"
REPORT_FILES = ("report.md", "report.json", "scores.png", "rates.png", "speed.png", "cost.png")
# The worst-decision pictures a report writes into frames/ (``_vlm_section``): anything else there is not its.
_FRAME = re.compile(r".+-seed[0-9]+-step[0-9]+\.png")


class CompareError(ValueError):
    """Bad input the user must fix (the message names the flag)."""


@dataclass
class PlayerRun:
    """One player's episodes and what it cost to play them."""

    name: str
    kind: str  # "specialist" or "vlm"
    parameters: int | None
    parameters_source: str
    episodes: list[Episode]
    wall_s: float
    about: dict[str, Any] = field(default_factory=dict)  # endpoint, checkpoint, client stats...

    @property
    def decisions(self) -> int:
        return int(sum(e.length for e in self.episodes))


@dataclass(frozen=True)
class Price:
    """US dollars (or any currency) per 1,000 prompt and completion tokens."""

    prompt: float
    completion: float

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1000.0


# ---------------------------------------------------------------------- parsing user input
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?(?:[eE]\d+)?)\s*([kKmMbBtT]?)\s*$")
_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def parse_count(text: str) -> int:
    """``7.6B``, ``256M``, ``7e9`` -> a whole number (> 0: the report's size axis is logarithmic), rounded:
    8.3B is 8300000000.000001 as a float, which report.json wrote."""
    m = _SIZE.match(text)
    if m is None:
        raise ValueError(f"expected a count such as 7B, 256M or 7e9, got {text!r}")
    count = float(m.group(1)) * _SUFFIX[m.group(2).lower()]
    if count == math.inf:  # 1e400 has the form, but is beyond a float
        raise ValueError(f"{text.strip()} is too large a count; give one such as 7B, 256M or 7e9")
    whole = round(count)
    if whole < 1:  # 0.4 (or 0.5, rounded to even) is no parameter at all
        raise ValueError(f"{text.strip()} rounds to 0 parameters; give a count of at least 1, such as 7B, "
                         "256M or 7e9")
    return whole


def params_from_name(model: str) -> int | None:
    """The parameter count a model name states (``qwen2.5-vl-7b`` -> 7e9), or None.

    The first size counts: one after it names something else (``Qwen2.5-7B-Instruct-1M``'s context). One
    that rounds to 0 (``m-0b``) states none, as ``parse_count`` refuses it."""
    found = re.search(r"(?<![\w.])(\d+(?:\.\d+)?)([bBmM])(?![a-zA-Z0-9])", model)
    if found is None:
        return None
    number, unit = found.groups()
    return round(float(number) * _SUFFIX[unit.lower()]) or None


# The highest price per 1,000 tokens taken: above any API's in any currency (the dearest, under a dollar,
# is under a million units of the weakest currencies), and low enough that the cost of any token count
# stays finite; a price near float's limit (1.8e308) made it inf, which report.json wrote as Infinity.
MAX_PRICE_PER_1K = 1e9


def _check_model_name(model: str, flag: str) -> None:
    """``CompareError`` for a ``MODEL=`` name that is not valid UTF-8 (a byte of another encoding on argv,
    a surrogate escape): as the --vlm model name is, not as a name no --vlm plays beside the --vlm's own."""
    if not_utf8(model):
        raise CompareError(f"{flag} model name {safe_text(model)!r} is not valid UTF-8 (\ufffd marks each "
                           "byte that is not): write MODEL as in --vlm MODEL@URL")


def parse_prices(items: list[str] | None) -> dict[str, Price]:
    """``[MODEL=]PROMPT[,COMPLETION]`` (per 1k tokens) -> {model or "*": Price}."""
    prices: dict[str, Price] = {}
    for item in items or []:
        model, _, value = item.rpartition("=")
        try:
            parts = [float(v) for v in value.split(",")]
            if len(parts) not in (1, 2) or not all(0 <= v <= MAX_PRICE_PER_1K for v in parts):  # NaN fails
                raise ValueError
        except ValueError:
            raise CompareError(f"--price-per-1k-tokens expects [MODEL=]PRICE or [MODEL=]PROMPT,COMPLETION "
                               f"(non-negative numbers up to {MAX_PRICE_PER_1K:g} per 1,000 tokens), got "
                               f"{item!r}") from None
        _check_model_name(model, "--price-per-1k-tokens")
        _check_once(prices, model or "*", "--price-per-1k-tokens")
        prices[model or "*"] = Price(parts[0], parts[-1])
    return prices


def _check_once(given: dict[str, Any], model: str, flag: str) -> None:
    """Refuse a model given ``flag`` twice: the last one was taken, the first dropped unsaid."""
    if model in given:
        who = "every VLM (no MODEL=)" if model == "*" else f"model {model!r}"
        raise CompareError(f"{flag} is given twice for {who}; give it once")


def parse_params(items: list[str] | None) -> dict[str, int]:
    """``--vlm-params MODEL=COUNT`` items (``parse_count``'s counts) -> {model: parameter count}."""
    out: dict[str, int] = {}
    for item in items or []:
        model, sep, value = item.rpartition("=")
        try:
            if not sep or not model:
                raise ValueError
            count = parse_count(value)
        except ValueError as e:
            if sep and model and _SIZE.match(value):  # a count's form, but none: parse_count says why
                raise CompareError(f"--vlm-params {item!r}: {e}") from None
            raise CompareError(f"--vlm-params expects MODEL=COUNT (e.g. qwen2.5-vl-7b=8.3B), got {item!r}"
                               ) from None
        _check_model_name(model, "--vlm-params")
        _check_once(out, model, "--vlm-params")
        out[model] = count
    return out


def success_of(info: dict[str, float]) -> float | None:
    """Whether an episode was won, by the first of ``SUCCESS_KEYS`` its final ``info`` holds; None where the
    game reports none of them (Pokémon: no success rate)."""
    for k in SUCCESS_KEYS:
        if k in info:
            return float(info[k])
    return None


# ---------------------------------------------------------------------- playing
def play_specialist(model: Any, name: str, env: str, env_kwargs: dict[str, Any], episodes: int, seed: int,
                    max_steps: int, progress: Any, about: dict[str, Any]) -> PlayerRun:
    """The specialist's greedy play, every episode in one batch."""
    from agents.policies import count_params

    # Warm up (torch's first forward pass, the game's compiled kernels) so the timing is the steady state.
    run_episodes(model, env, env_kwargs, episodes, seed=seed, batch=episodes, max_steps=2)
    t0 = time.perf_counter()
    eps = run_episodes(model, env, env_kwargs, episodes, seed=seed, batch=episodes, max_steps=max_steps,
                       deterministic=True, progress=progress)
    wall = time.perf_counter() - t0
    return PlayerRun(name, "specialist", count_params(model.policy), "counted", eps, wall, dict(about))


def play_vlm(player: VLMPlayer, env: str, env_kwargs: dict[str, Any], episodes: int, seed: int,
             max_steps: int, parameters: int | None = None, progress: Any = None,
             name: str | None = None) -> PlayerRun:
    """The VLM on the same seeds; every episode runs at once, ``player.concurrency`` requests in flight.
    ``name`` labels it in the report (default: the model name). ``progress``: an ``EpisodeProgress``, which
    also counts the player's decisions as they come."""
    source = "given"
    if parameters is None:
        parameters = params_from_name(player.name)
        source = "from the model name" if parameters is not None else "unknown"
    client = player.client
    # Warm the game up (its compiled kernels) on one board, asking the server nothing, as play_specialist
    # does: without it a VLM playing alone was timed with the game's first use (1.4 decisions/s, not 41.8).
    run_episodes(RandomPolicy(seed), env, env_kwargs, 1, seed=seed, batch=1, max_steps=2)
    before = client.stats.as_dict()
    t0 = time.perf_counter()
    hook = player.on_decision
    if progress is not None:
        player.on_decision = progress.decided
    try:
        eps = run_episodes(player, env, env_kwargs, episodes, seed=seed, batch=episodes, max_steps=max_steps,
                           progress=progress)
    finally:
        player.on_decision = hook
    wall = time.perf_counter() - t0
    after = client.stats.as_dict()
    counts = {k: v - before[k] for k, v in after.items() if k != "status_counts"}
    old = before["status_counts"]
    counts["status_counts"] = {k: v - old.get(k, 0) for k, v in after["status_counts"].items()
                               if v > old.get(k, 0)}
    about = {"model": player.name, "endpoint": str(client.endpoint), "concurrency": player.concurrency,
             "settings": client.settings, "client": counts,
             # absolute: a relative --cache-dir is the command's folder's, not the report folder's
             "cache": str(client.cache.root.absolute()) if client.cache is not None else None}
    return PlayerRun(name or player.name, "vlm", parameters, source, eps, wall, about)


# ---------------------------------------------------------------------- figures
def _stats(values: list[float]) -> dict[str, float | None]:
    """Mean, median and 95th percentile of ``values`` (a VLM's latencies)."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:  # None, not NaN: report.json stays JSON that any reader takes
        return {"mean": None, "median": None, "p95": None}
    return {"mean": float(a.mean()), "median": float(np.median(a)), "p95": float(np.percentile(a, 95))}


def summarize_run(run: PlayerRun, price: Price | None) -> dict[str, Any]:
    """A player's row of report.json: its score figures, success rate and speed; for a VLM also its invalid
    answers, tokens and cost per episode (at ``price``, None: no price given), verifier and best-move rates
    and latency (a specialist: no invalid answer, tokens or cost, rates None, no latency)."""
    figures = summarize(run.episodes)  # the score figures evaluate.py reports, computed alike
    successes = [success_of(e.info) for e in run.episodes]
    out: dict[str, Any] = {
        "name": run.name, "kind": run.kind, "parameters": run.parameters,
        "parameters_source": run.parameters_source,
        **{k: figures[k] for k in ("episodes", "mean_score", "median_score", "std_score", "min_score",
                                   "max_score")},
        "success_rate": None if None in successes else float(np.mean(successes)),
        "mean_length": figures["mean_length"], "capped": figures["capped"], "decisions": run.decisions,
        "wall_s": run.wall_s,
        "decisions_per_s": run.decisions / run.wall_s if run.wall_s > 0 else None,
        "about": run.about,
    }
    # evaluate.py's (a specialist's row checks against its JSON), last as in its file: the figures first.
    episodes = {"per_episode": figures["per_episode"]}
    if run.kind != "vlm":
        out.update(invalid=0, invalid_rate=0.0, invalid_by_status={}, cut_at_max_tokens=0,
                   cut_short_of_max_tokens=0, prompt_tokens_per_episode=0.0,
                   completion_tokens_per_episode=0.0, tokens_per_episode=0.0, cost_per_episode=0.0,
                   answers_without_token_counts=0, verifier_accuracy=None, best_move_rate=None)
        return out | episodes
    decisions = [d for e in run.episodes for d in (e.log or [])]
    by_status = {s: sum(d.status == s for d in decisions) for s in STATUSES if s != "ok"}
    invalid = sum(by_status.values())
    prompt = sum(d.prompt_tokens for d in decisions) / len(run.episodes)
    completion = sum(d.completion_tokens for d in decisions) / len(run.episodes)
    verdicts = [d.correct for d in decisions if d.correct is not None]
    moves_ok = [d.good_move for d in decisions if d.good_move is not None]
    live = [d.latency_s for d in decisions if d.status != "error"]
    limit = token_limit(run.about.get("settings", {}))
    # Cut with fewer tokens than asked: the server's context was full (vLLM lowers max_tokens to what the
    # context leaves after the prompt; llama-server and Ollama stop there), which --max-tokens cannot lift.
    short = sum(d.cut_short and 0 < d.completion_tokens < limit for d in decisions) if limit else 0
    out.update(invalid=invalid, invalid_rate=invalid / max(1, len(decisions)), invalid_by_status=by_status,
               cut_at_max_tokens=sum(d.cut_short for d in decisions), cut_short_of_max_tokens=short,
               prompt_tokens_per_episode=prompt, completion_tokens_per_episode=completion,
               tokens_per_episode=prompt + completion,
               cost_per_episode=None if price is None else price.cost(prompt, completion),
               # No usage sent (some proxies and servers): counted as 0 tokens, which the report must say.
               answers_without_token_counts=sum(d.status != "error" and d.prompt_tokens == 0
                                                and d.completion_tokens == 0 for d in decisions),
               price_per_1k={"prompt": price.prompt, "completion": price.completion} if price else None,
               verifier_accuracy=float(np.mean(verdicts)) if verdicts else None,
               best_move_rate=float(np.mean(moves_ok)) if moves_ok else None,
               latency_s=_stats(live), cached_answers=sum(d.cached for d in decisions))
    return out | episodes


def _negative_end(e: Episode, d: Decision) -> bool:
    """A last move with a negative reward: the player's death in every game but duel Snake."""
    return d.terminated and d.reward < 0


def crash_test(env: str, env_kwargs: dict[str, Any]) -> Callable[[Episode, Decision], bool]:
    """Whether a decision's move ended its episode by the player's death. The negative reward of a last
    move says so, except in duel Snake, whose last round also pays the outcome: a game lost on length at
    the round limit ends on −win_reward with both snakes alive, and a head-on as the longer snake on 0
    (−1 death, +1 win). There the episode's last state, re-simulated, says whether snake 0 is alive."""
    if env != "snake_duel":
        return _negative_end

    def snake_0_died(e: Episode, d: Decision) -> bool:
        if not d.terminated:
            return False
        return not state_at(env, env_kwargs, e.seed, e.actions, d.step + 1)["snakes"][0]["alive"]
    return snake_0_died


#: What ``crash_test``'s move is called in the report: a death in Snake and duel Snake; in another game (a
#: package's too) a last move with a negative reward may be a lost round or a penalty, with nothing killed.
FATAL = {"snake": "fatal move", "snake_duel": "fatal move"}
NEGATIVE_END = "move that ended the episode with a negative reward"
# The report's example of an answer the cache serves within one run: a state the play comes back to.
COMES_BACK = {"snake": "a board that comes back within one run, as a snake going round in a loop",
              "rotation": "a view that comes back within one run, as the object turned one way and back",
              "sokoban": "a board that comes back within one run, as the player stepping back and forth "
                         "without pushing a box",
              "pokemon_red": "a screen that comes back within one run, as the player walking back and forth "
                             "between two tiles"}
COMES_BACK["snake_duel"] = COMES_BACK["snake"]


def worst_decisions(episodes: list[Episode], k: int,
                    crashed: Callable[[Episode, Decision], bool] = _negative_end, fatal: str = "fatal move"
                    ) -> list[tuple[Episode, Decision, str]]:
    """Up to ``k`` of the worst decisions (see the module docstring), spread over episodes. ``crashed``
    tells a move that killed the player (``crash_test``), named ``fatal``; by default a last move with a
    negative reward."""
    def why(e: Episode, d: Decision) -> tuple[int, str] | None:
        if crashed(e, d):
            return 0, fatal
        if not d.valid:
            cut = ", cut at max_tokens" if d.cut_short else ""
            return 1, f"{d.status} answer (fallback played{cut})"
        if d.reward < 0:
            return 2, "negative reward"
        if d.good_move == 0:
            return 3, "not a best move by the engine"
        if d.correct is not None and d.correct < 1:
            return 4, "answer wrong by the verifier"
        return None

    per_episode: list[list[tuple[int, int, Episode, Decision, str]]] = []
    for e in episodes:
        found = [(r[0], d.step, e, d, r[1]) for d in (e.log or []) if (r := why(e, d)) is not None]
        per_episode.append(sorted(found, key=lambda t: (t[0], t[1])))
    picked: list[tuple[int, int, Episode, Decision, str]] = []
    depth = 0
    while len(picked) < k and any(len(f) > depth for f in per_episode):
        layer = sorted((f[depth] for f in per_episode if len(f) > depth), key=lambda t: (t[0], t[2].seed))
        picked.extend(layer[:k - len(picked)])
        depth += 1
    picked.sort(key=lambda t: (t[0], t[2].seed, t[1]))
    return [(e, d, reason) for _, _, e, d, reason in picked]


def state_at(env: str, env_kwargs: dict[str, Any], seed: int, actions: list[int], step: int
             ) -> dict[str, Any]:
    """The state of episode ``seed`` after its first ``step`` actions (re-simulated)."""
    game = make_game(env, num_envs=1, **env_kwargs)
    try:  # closed: a Game Boy game holds an emulator, one per frame a report shows
        game.reset(np.zeros(1, dtype=np.int64), seeds_from(seed, 1))
        for a in actions[:step]:
            game.step(np.array([a], dtype=np.int64))
        return game.get_state(0)
    finally:
        game.close()


def _frame_image(images: list[np.ndarray], caption: str, min_side: int = 256) -> np.ndarray:
    """The question's images side by side, enlarged (nearest) so small boards stay readable, over a
    caption strip saying what was played."""
    from PIL import Image, ImageDraw

    rgb = [np.repeat(im[..., None], 3, axis=2) if im.ndim == 2 else im[..., :3] for im in images]
    h = max(im.shape[0] for im in rgb)
    padded = [np.pad(im, ((0, h - im.shape[0]), (0, 8), (0, 0)), constant_values=255) for im in rgb]
    frame = np.concatenate(padded, axis=1)[:, :-8]
    factor = max(1, int(np.ceil(min_side / max(1, min(frame.shape[:2])))))
    frame = frame.repeat(factor, 1).repeat(factor, 0)  # columns first: whole rows copy fast
    strip = Image.new("RGB", (frame.shape[1], 22), (255, 255, 255))
    ImageDraw.Draw(strip).text((6, 5), caption, fill=(0, 0, 0))
    return np.concatenate([frame, np.asarray(strip)], axis=0)


# ---------------------------------------------------------------------- plots
def write_plots(out: Path, summaries: list[dict[str, Any]], runs: list[PlayerRun]) -> list[str]:
    """The report's plots in ``out`` (scores, rates, speed and cost .png, one figure each), from the players'
    ``summaries`` and the scores of their ``runs``; returns their file names."""
    plt = pyplot()

    names = [s["name"] for s in summaries]
    colors = ["#2b7bba" if s["kind"] == "specialist" else "#e4572e" for s in summaries]
    x = np.arange(len(names))
    written = []

    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(names) + 2), 4))
    data = [[e.score for e in r.episodes] for r in runs]
    ax.boxplot(data, positions=x, widths=0.5, showmeans=True)
    rng = np.random.default_rng(0)
    for i, (d, c) in enumerate(zip(data, colors, strict=True)):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(d)), d, s=14, color=c, alpha=0.7, zorder=3)
    ax.set_xticks(x, names, rotation=15)
    ax.set_ylabel("score per episode")
    ax.set_title("Score distribution (same seeds)")
    written.append(_save(fig, out / "scores.png"))

    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(names) + 2), 4))
    succ = [s["success_rate"] if s["success_rate"] is not None else 0.0 for s in summaries]
    inv = [s["invalid_rate"] for s in summaries]
    # A game with no won/solved (Pokémon) has no success rate: "n/a" as in the table, not a lost 0%.
    ax.bar_label(ax.bar(x - 0.2, succ, 0.4, label="success rate (won / solved)", color="#3aa655"),
                 labels=["n/a" if s["success_rate"] is None else f"{s['success_rate']:.0%}"
                         for s in summaries], fontsize=8)
    ax.bar_label(ax.bar(x + 0.2, inv, 0.4, label="invalid-answer rate (fallback played)", color="#d1495b"),
                 fmt="{:.0%}", fontsize=8)
    ax.set_xticks(x, names, rotation=15)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction")
    ax.legend(fontsize=8)
    ax.set_title("Success and invalid answers")
    written.append(_save(fig, out / "rates.png"))

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(max(8, 2.4 * len(names) + 3), 4))
    dps = [s["decisions_per_s"] or 0.0 for s in summaries]
    a1.bar_label(a1.bar(x, dps, color=colors), fmt="{:,.3g}", fontsize=8)
    log = " (log)" if any(dps) else ""  # a log axis needs a positive value
    if log:
        a1.set_yscale("log")
    a1.set_xticks(x, names, rotation=15)
    a1.set_ylabel(f"decisions per second{log}")
    a1.set_title("Speed")
    params = [s["parameters"] or 0.0 for s in summaries]
    a2.bar_label(a2.bar(x, params, color=colors), labels=[_count(v) for v in params], fontsize=8)
    log = " (log)" if any(params) else ""  # VLM-only reports may know no size
    if log:
        a2.set_yscale("log")
    a2.set_xticks(x, names, rotation=15)
    a2.set_ylabel(f"parameters{log}")
    a2.set_title("Size")
    for i, s in enumerate(summaries):
        if not s["parameters"]:
            a2.annotate("unknown", (i, 1), ha="center", va="bottom", fontsize=8)
    written.append(_save(fig, out / "speed.png"))

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(max(8, 2.4 * len(names) + 3), 4))
    prompt = [s["prompt_tokens_per_episode"] for s in summaries]
    completion = [s["completion_tokens_per_episode"] for s in summaries]
    a1.bar(x, prompt, color="#8d99ae", label="prompt")
    a1.bar(x, completion, bottom=prompt, color="#2b2d42", label="completion")
    a1.set_xticks(x, names, rotation=15)
    a1.set_ylabel("tokens per episode")
    a1.legend(fontsize=8)
    a1.set_title("Tokens")
    cost = [s["cost_per_episode"] for s in summaries]
    a2.bar(x, [c or 0.0 for c in cost], color=colors)
    for i, c in enumerate(cost):
        if c is None:
            a2.annotate("no price given", (i, 0), ha="center", va="bottom", fontsize=8)
    a2.set_xticks(x, names, rotation=15)
    a2.set_ylabel("estimated API cost per episode")
    a2.set_title("Cost")
    written.append(_save(fig, out / "cost.png"))
    return written


def _save(fig: Any, path: Path) -> str:
    plt = pyplot()

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


# ---------------------------------------------------------------------- report
def check_out_dir(out: Path, overwrite: bool, flag: str = "--out") -> None:
    """Refuse a file, a folder that cannot be made or written, or an existing non-empty folder unless
    ``overwrite`` and it holds a report. ``flag`` names ``out`` in the errors (``DEFAULT_OUT`` for the
    default folder, which no --out gave)."""
    try:
        check_output_folder(out, flag, beside=False)  # the report is swapped in inside it
    except ValueError as e:
        raise CompareError(str(e)) from None
    if out.exists() and any(out.iterdir()):
        # Another comparison's report half written (two started with one --out): not "no report.json",
        # which a moment later it held.
        writers = sorted({m.group(3) for m in map(_STAGED.match, os.listdir(out))
                          if m and process_running(int(m.group(3)))})
        if writers:
            raise CompareError(f"{flag} {out}: another comparison (process {writers[0]}) is writing its "
                               "report there now; choose another folder, or wait for it to end (--overwrite "
                               "then replaces its report)")
        report = (out / "report.json").is_file()
        if not overwrite:
            # --overwrite is offered only where it would be taken: it replaces a report, nothing else.
            fix = ("or pass --overwrite to replace its report" if report else
                   "(it holds no report.json, so --overwrite would not replace it either)")
            raise CompareError(f"{flag} {out} already exists and is not empty; choose another folder {fix}")
        if not report:
            raise CompareError(f"--overwrite refuses to touch {out}: it holds no report.json, so it is not "
                               "a comparison folder")
        # The old report's frames/ goes whole: a user's file put there went with it, silently.
        frames = out / "frames"
        if frames.is_dir() and not frames.is_symlink():
            for entry in sorted(frames.iterdir()):
                if not (_FRAME.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink()):
                    raise CompareError(f"--overwrite refuses to replace {frames}: it holds {entry.name}, "
                                       "which no comparison writes; move it out of frames/ first")


def reserve_default_out(base: Path) -> tuple[Path, MadeFolders]:
    """Make the default report folder ``base`` (``compare-<time>``), or ``base-2``, ``base-3``... where a
    comparison started in the same second has made it already: two comparisons of one run launched
    together shared the folder, and the one that ended second failed after its whole (paid) play. The
    name is claimed by ``mkdir`` itself, so two processes never both get it. An empty mark beside it names
    this process (``COMPARE_MARK``) until the comparison ends: a SIGKILL during the play left an empty
    folder that nothing told from one still played for, and the next comparison there removes it
    (``remove_dead_compare_folders``). Returns the folder and the folders made, with the mark (``remove`` them
    should the comparison fail; ``close`` when it ends)."""
    try:
        # A read-only specialist run (a colleague's) is told of --out, which no other words name.
        check_output_folder(base, DEFAULT_OUT, "give --out DIR, a folder you can write, for the report",
                            beside=False)
        # runs/<env>, for a comparison without --specialist
        above = make_output_folder(base.parent, DEFAULT_OUT)
    except ValueError as e:
        raise CompareError(str(e)) from None
    remove_dead_compare_folders(base.parent)
    for k in range(1, 10_000):
        out = base if k == 1 else base.with_name(f"{base.name}-{k}")
        mark = out.with_name(temp_name(out))
        made = above
        try:
            out.mkdir()
            made = [out, *above]
            mark.touch()  # never FileExistsError: a file there is only touched
        except FileExistsError:  # mkdir's: another comparison's folder
            continue
        except OSError as e:  # a full disk
            remove_folders(made)
            raise CompareError(f"{DEFAULT_OUT} {out}: the folder cannot be made ({e.strerror or e}); free "
                               "some space or give --out") from None
        return out, MadeFolders(made, [mark])
    remove_folders(above)
    raise CompareError(f"{DEFAULT_OUT} {base} and 9,998 numbered folders beside it are taken; give --out")


def _report_entries(folder: Path) -> list[Path]:
    """The files and folders of a report in ``folder`` (anything else there is the user's and stays)."""
    names = [*REPORT_FILES, "frames"]
    return [folder / n for n in names if (folder / n).exists()] + sorted(folder.glob("decisions-*.jsonl"))


def write_report_safely(out: Path, overwrite: bool, flag: str = "--out",
                        **report_args: Any) -> dict[str, Any]:
    """``write_report`` into a hidden folder inside ``out`` (same file system: renames are atomic), then
    swap the finished report in: an old report is moved aside and deleted only once every new file is in
    place. A failure before that leaves ``out`` as it was (and removes it again, with the folders above
    it, if this call made them). The hidden folders' names say how far a swap got (``.report-new-ID``,
    then ``.report-moving-ID`` while the old report is moved aside, ``.report-old-ID`` once it all is), so
    ``recover_report`` can put things right after a kill (SIGKILL, a power cut) that no cleanup ran for.
    ``.report-old-ID`` beside ``.report-new-ID`` says the report files in ``out`` are the new one's, so a swap
    that fails renames its old folder back to ``.report-moving-ID`` before the old report goes back."""
    check_out_dir(out, overwrite, flag)
    made = missing_folders(out)  # removed again if the report fails
    new: Path | None = None
    old: Path | None = None
    try:
        # made again where another comparison into it removes it in between (it found it missing too)
        new = Path(made_in(out, lambda: tempfile.mkdtemp(prefix=f".report-new-{os.getpid()}-", dir=out)))
        report = write_report(new, **report_args)
        swap = new.name.removeprefix(".report-new-")
        moving = old = out / f".report-moving-{swap}"
        old.mkdir()
        moved_old: list[str] = []
        moved_new: list[str] = []
        try:
            for entry in _report_entries(out):
                entry.rename(old / entry.name)
                moved_old.append(entry.name)
            aside = out / f".report-old-{swap}"
            old.rename(aside)  # all of the old report is aside now
            old = aside
            for entry in list(new.iterdir()):
                entry.rename(out / entry.name)
                moved_new.append(entry.name)
        except BaseException:  # put the old report back as it was
            for name in moved_new:
                (out / name).rename(new / name)
            if old != moving:  # out holds none of the new report now (as .report-old-ID would say)
                old = old.rename(moving)
            for name in moved_old:
                (old / name).rename(out / name)
            raise
    except BaseException as e:
        if old is not None and old.exists():
            # Empty again; an OSError here (a put-back failed) keeps it, and new, which recover_report
            # reads it with: .report-old-ID alone would be a replaced report, to delete.
            old.rmdir()
        if new is not None:
            shutil.rmtree(new, ignore_errors=True)
        remove_folders(made)
        if isinstance(e, OSError):  # a full disk: the report is all or nothing
            raise CompareError(f"{flag} {not_written(out, e)}") from None
        raise
    new.rmdir()  # first: an old report aside with no new folder beside it is one that was replaced
    shutil.rmtree(old)
    return report


_STAGED = re.compile(r"^\.report-(new|moving|old)-(([0-9]+)-.+)$")
# Those of versions before 2026-12 (tempfile's 8 characters, no process id), whose names do not say how far
# a swap got: kept, and named to the user.
_UNSTAGED = re.compile(r"\.report-(new|old)-[a-z0-9_]{8}")


def _move_back(folder: Path, out: Path) -> bool:
    """Move everything in ``folder`` into ``out`` and remove it; False (nothing lost: what ``out`` already
    has stays in ``folder``) if some name was taken."""
    for entry in list(folder.iterdir()):
        if not (out / entry.name).exists() and not (out / entry.name).is_symlink():
            entry.rename(out / entry.name)
    if any(folder.iterdir()):
        return False
    folder.rmdir()
    return True


def recover_report(out: Path) -> list[str]:
    """Put right what a comparison killed while it wrote or swapped its report into ``out`` (SIGKILL, a
    power cut: no cleanup ran) left there: the previous report goes back in place as it was, unless the
    new one had replaced it whole; half-written new reports are removed. The folders of a comparison
    still running are left alone, and named. Returns one line per folder dealt with."""
    if not out.is_dir():  # a link to a folder is one too: a report is written through it
        return []
    swaps: dict[str, dict[str, Path]] = {}
    notes = []
    for entry in out.iterdir():
        m = _STAGED.match(entry.name)
        if not entry.is_dir() or entry.is_symlink():
            continue
        if m and not process_running(int(m.group(3))):
            swaps.setdefault(m.group(2), {})[m.group(1)] = entry
        elif m:  # named: the pid may be a killed comparison's, reused, and then only the user can tell
            notes.append(f"kept {entry.name}: process {m.group(3)}, which made it, still runs; if that is no "
                         "comparison writing here (a killed one's process id, reused), it may hold the "
                         "previous report (move its files back) or an unfinished one (delete it)")
        elif _UNSTAGED.fullmatch(entry.name):
            notes.append(f"kept {entry.name}, which a comparison of a version before 2026-12 killed while "
                         "writing its report left: it may hold the previous report (move its files back) or "
                         "an unfinished one (delete it)")
    for swap, stages in swaps.items():
        new, moving, old = stages.get("new"), stages.get("moving"), stages.get("old")
        aside = moving or (old if new is not None else None)
        if aside is not None:  # killed while the old report was moved aside, or the new one moved in
            if aside is old:  # every report file in out is the new one's: out with them
                for entry in _report_entries(out):
                    remove_entry(entry)
                # Before any old file goes back: a recovery killed from here on must not delete those.
                aside = old.rename(out / f".report-moving-{swap}")
            if _move_back(aside, out):
                notes.append(f"put back the previous report, which a comparison killed while replacing it "
                             f"had moved to {(moving or old).name}")
            else:
                notes.append(f"kept {aside}: a comparison killed while replacing the report moved it there, "
                             "and some of its files are in the way")
        elif old is not None:  # killed while deleting the report it had replaced
            shutil.rmtree(old)
            notes.append(f"removed {old.name}, the rest of a report a killed comparison had replaced")
        if new is not None:
            shutil.rmtree(new)
            if aside is None:
                notes.append(f"removed {new.name}, the unfinished report of a killed comparison")
    return notes


def _fmt(value: Any, spec: str = ".2f", none: str = "—") -> str:
    if value is None:
        return none
    return format(value, spec)


def _count(value: float | None) -> str:
    if not value:
        return "unknown"
    shown = float(f"{value:.3g}")  # the unit goes by the figure shown: 999.7M is 1B, not "1e+03M"
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if shown >= size:
            return f"{shown / size:.3g}{unit}"
    return f"{value:.0f}"


def _fence(text: str, limit: int = 1500) -> str:
    text = text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"
    return "```text\n" + text.replace("```", "`\u200b``") + "\n```"


def write_report(out: Path, env: str, env_kwargs: dict[str, Any], seed: int, runs: list[PlayerRun],
                 prices: dict[str, Price], frames_per_vlm: int = 6, command: str = "",
                 max_steps: int | None = None) -> dict[str, Any]:
    """Write report.json, report.md, the plots and the worst-decision frames into ``out``."""
    # Prices are given per model name (a player's label may add its server).
    summaries = [summarize_run(r, prices.get(r.about.get("model", r.name), prices.get("*"))
                               if r.kind == "vlm" else None) for r in runs]
    plots = write_plots(out, summaries, runs)
    n = len(runs[0].episodes)
    seeds = list(range(seed, seed + n))
    report: dict[str, Any] = {
        "env": env, "env_kwargs": env_kwargs, "episodes": n, "seeds": seeds, "max_steps": max_steps,
        "command": command, "created": time.strftime("%Y-%m-%d %H:%M:%S"), "players": summaries,
        "plots": plots, "worst_decisions": {}, "decision_logs": {},
    }
    sections: list[str] = []
    stems: set[str] = set()
    for run in runs:
        if run.kind != "vlm":
            continue
        # Names that slug alike ("a/b" and "a-b", or alike in their first 60 characters) get a number,
        # so one player's log and frames never overwrite another's.
        stem = base = file_slug(run.name, "player")
        k = 1
        while stem in stems:
            k += 1
            stem = f"{base}-{k}"
        stems.add(stem)
        log_file, rows, section = _vlm_section(out, env, env_kwargs, run, stem, frames_per_vlm)
        report["decision_logs"][run.name] = log_file
        report["worst_decisions"][run.name] = rows
        sections.append(section)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    # The command's bytes as typed, as command.txt has them (a folder name in no UTF-8, via surrogateescape).
    (out / "report.md").write_text(_markdown(report, sections), encoding="utf-8",
                                   errors="surrogateescape")
    return report


def _vlm_section(out: Path, env: str, env_kwargs: dict[str, Any], run: PlayerRun, stem: str,
                 frames: int) -> tuple[str, list[dict[str, Any]], str]:
    """One VLM's files in ``out``, named by ``stem``: its decision log and frames of its ``frames``
    worst decisions. Returns the log's name, a row per worst decision and the report's section."""
    from PIL import Image

    log_file = f"decisions-{stem}.jsonl"
    with open(out / log_file, "w", encoding="utf-8") as f:
        for e in run.episodes:
            for d in e.log or []:
                f.write(json.dumps({"seed": e.seed, **d.to_dict()}, ensure_ascii=False) + "\n")
    rows = []
    md = [f"### {run.name}", f"Every decision (answer, move, tokens, outcome): [{log_file}]({log_file}).", ""]
    fatal = FATAL.get(env, NEGATIVE_END)
    worst = worst_decisions(run.episodes, frames, crash_test(env, env_kwargs), fatal)
    if not frames:  # none asked for: say so, not that there was no bad answer
        md.append("No worst decisions shown (--frames 0).")
    elif not worst:
        md.append("No fatal, invalid or wrong answer in these episodes." if env in FATAL else
                  f"No {NEGATIVE_END}, and no invalid or wrong answer, in these episodes.")
    for e, d, reason in worst:
        state = state_at(env, env_kwargs, e.seed, e.actions, d.step)
        try:  # the play asked it of this state already; a package's that raises now is named as there
            draft = task_module(env).move_task(state)
        except Exception as ex:
            if (problem := raised_problem(env, ex)) is None:
                raise
            raise TaskModuleError(f"{module_place(env)} move_task (seed {e.seed}, step {d.step}: the "
                                  f"report's worst decision) raised {problem}") from ex
        rel = f"frames/{stem}-seed{e.seed}-step{d.step}.png"
        (out / "frames").mkdir(exist_ok=True)
        caption = f"seed {e.seed}, step {d.step}: played {d.move} ({reason})"
        Image.fromarray(_frame_image(list(draft.images), caption)).save(out / rel)
        rows.append({"seed": e.seed, "step": d.step, "reason": reason, "played": d.move, "answer": d.answer,
                     "status": d.status, "reward": d.reward, "frame": rel, "response": d.response,
                     "reasoning": d.reasoning, "reference_answer": draft.answer, "error": d.error})
        if d.answer is not None:
            said = f"Named `{d.answer}`"
        else:  # valid: "None" where every move is fatal, as the prompt asks
            said = "Named no move, rightly: every move is fatal" if d.valid else "Named no readable move"
        said += "" if d.valid else f" ({d.status}: the fallback was played)"
        # Pokémon's move question accepts any button (extra scored false): its answer is no engine's choice
        scored = draft.extra.get("scored", True)
        ref = (f"The engine's reference answer: `{draft.answer}`." if scored else
               "The game's move question has no reference answer here: it scores no move.")
        whose = "The engine's" if scored else "The move question's"
        md += [f"#### Seed {e.seed}, step {d.step}: {reason}",
               f"{said}; played **{d.move}** (reward {d.reward:+g}). {ref}", "",
               f"![seed {e.seed} step {d.step}]({rel})", ""]
        if d.reasoning:
            md += ["The model's reasoning (its separate reasoning channel):", _fence(d.reasoning)]
        md += ["The model's answer:", _fence(d.response or d.error or "(empty)"),
               f"<details><summary>{whose} analysis of this state</summary>", "",
               _fence(draft.analysis), "", "</details>", ""]
    return log_file, rows, "\n".join(md)


def token_limit(settings: dict[str, Any]) -> int | None:
    """The answer's token limit a VLM's requests asked for (``max_completion_tokens`` over ``max_tokens``,
    as servers read them); None where they set none."""
    limit = next((settings[k] for k in ("max_completion_tokens", "max_tokens") if k in settings), None)
    return limit if isinstance(limit, int) else None


def max_tokens_hint(summary: dict[str, Any], bold: str = "") -> str:
    """What to change when a VLM's answers stopped at max_tokens (a reasoning model's long thinking
    ends before its move, which then counts as unparseable, blaming the model for the budget), or short of
    it with the model's context full (``cut_short_of_max_tokens``), which only a longer context lifts.
    ``bold`` marks its first part (``**`` in the report)."""
    limit = token_limit(summary["about"].get("settings", {}))
    at = f" ({limit})" if limit is not None else ""
    short = summary.get("cut_short_of_max_tokens", 0)
    context = (f" ({short:,} of them stopped with fewer tokens than that, as where the model's context is "
               "full: those need a longer context on the server, such as vLLM's --max-model-len, "
               "llama-server's -c or Ollama's num_ctx)" if short else "")
    answers = plural(summary["decisions"], "answer")
    return (f"{bold}{summary['name']}: {summary['cut_at_max_tokens']:,} of {answers} "
            f"stopped at the token limit{at}{bold} (finish_reason `length`), so their move may be missing: "
            f"raise --max-tokens (reasoning models need several thousand) and re-run{context}.")


def failed_requests_hint(summary: dict[str, Any]) -> str:
    """What to do when some of a VLM's requests failed mid-run: given up after every retry (a server that
    went down or kept failing) or refused by the server (HTTP 400/413/422, not retried): each played the
    fallback and counts as invalid, blaming the model for the server."""
    failed = summary["invalid_by_status"].get("error", 0)
    cache = ("answers already cached are not asked again" if summary["about"].get("cache") else
             "with --no-cache every answer is asked again")
    requests = plural(summary["decisions"], "request")
    return (f"{summary['name']}: {failed:,} of {requests} failed (given up after every "
            "retry, or refused by the server; the decision log's error field says which), so the fallback "
            "move was played and counted as invalid: if the server, not the request, failed, re-run once it "
            f"is sound ({cache}).")


def token_counts_hint(summary: dict[str, Any]) -> str:
    """Said where answers came with no token counts (no ``usage``): their 0 tokens make the tokens and the
    cost per episode look lower than they were, a cost of 0 at a given price."""
    answers = summary["decisions"] - summary["invalid_by_status"].get("error", 0)
    return (f"{summary['name']}: {summary['answers_without_token_counts']:,} of {plural(answers, 'answer')} "
            "came without token counts (the server sent no usage) and count as "
            "0 tokens, so its tokens and cost per episode are too low.")


def vlm_warnings(summary: dict[str, Any]) -> list[str]:
    """The hints above that a player's ``summarize_run`` calls for, each a stderr warning of compare.py and
    evaluate.py --vlm (none for a specialist)."""
    due = {max_tokens_hint: summary["cut_at_max_tokens"],
           failed_requests_hint: summary["invalid_by_status"].get("error"),
           token_counts_hint: summary["answers_without_token_counts"]}
    return [hint(summary) for hint, count in due.items() if count]


def cut_text(report: dict[str, Any]) -> list[str]:
    """The report's line on the episodes the step limit cut (none: no line): their scores are where they
    stood, and a cut episode counts as not won, so a reader must not take them for ended games."""
    cut = [f"{s['name']} {s['capped']:,} of {plural(s['episodes'], 'episode')}"
           for s in report["players"] if s["capped"]]
    if not cut:
        return []
    limit = report["max_steps"] or EPISODE_STEP_CAP
    # A game with no win (Pokémon: success rate n/a) has none to lose.
    lost = "" if all(s["success_rate"] is None for s in report["players"]) else ", and not won"
    stood = scored_as_stood(sum(s["capped"] for s in report["players"]))
    return ["", f"Cut at {plural(limit, 'step')}, still playing ({stood}{lost}): {', '.join(cut)}."]


def _markdown(report: dict[str, Any], sections: list[str]) -> str:
    seeds, summaries = report["seeds"], report["players"]
    played = (f"episode (seed {seeds[0]}" if len(seeds) == 1
              else f"{report['episodes']} episodes (seeds {seeds[0]}–{seeds[-1]}")
    lines = [f"# Depth versus breadth: {report['env']}", "",
             f"Every player played the same {played}, "
             f"env settings `{json.dumps(report['env_kwargs'])}`"
             + (f", at most {plural(report['max_steps'], 'step')} each"
                if report["max_steps"] else "") + ").",
             *[f"The specialist {s['name']} is the model `{s['about']['checkpoint']}` at training step "
               f"{s['about']['step']:,}." for s in summaries
               if s["kind"] == "specialist" and "checkpoint" in s["about"]],
             f"Written {report['created']}"
             + (f" by `{report['command']}`" if report["command"] else "") + ".",
             "", "| player | parameters | mean score ± std | median | success rate | "
             "invalid answers (fallback played) | best moves | verifier accuracy | decisions/s | "
             "tokens/episode | cost/episode |",
             "|---" * 11 + "|"]
    for s in summaries:
        cost = "0 (local)" if s["kind"] == "specialist" else _fmt(s["cost_per_episode"], ".4f", "no price")
        lines.append(
            f"| {s['name']} ({s['kind']}) | {_count(s['parameters'])} | {mean_text(s['mean_score'])} ± "
            f"{s['std_score']:.2f} | {figure(s['median_score'])} | {_fmt(s['success_rate'], '.0%', 'n/a')} | "
            f"{s['invalid']} ({s['invalid_rate']:.1%}) | {_fmt(s['best_move_rate'], '.0%', 'n/a')} | "
            f"{_fmt(s['verifier_accuracy'], '.0%', 'n/a')} | "
            f"{_fmt(s['decisions_per_s'], ',.1f')} | {s['tokens_per_episode']:,.0f} | {cost} |")
    lines += cut_text(report)
    lines += [line for s in summaries if s["answers_without_token_counts"]
              for line in ("", token_counts_hint(s))]
    env = report["env"]
    fallback = ("the fallback move (straight on in Snake and duel Snake, the game's first action elsewhere)"
                if env in FATAL else
                f"the fallback move, `{game_class(env).ACTION_NAMES[0]}` (the game's first action)")
    lines += ["", "std: the standard deviation of the episodes' scores. invalid answers: unparseable or "
              f"illegal answers and failed requests; each played {fallback}, and the VLM's score includes "
              "those moves. cost/episode: what one episode costs "
              "at the given prices, answers this run took from the cache included (tokens are counted "
              "either way).",
              "", "![score distribution](scores.png)", "", "![success and invalid answers](rates.png)", "",
              "![speed and size](speed.png)", "", "![tokens and cost](cost.png)", ""]
    if len(seeds) <= 50:
        lines += ["## Scores per seed", "", "| seed | " + " | ".join(s["name"] for s in summaries) + " |",
                  "|---" * (len(summaries) + 1) + "|"]
        columns = [s["per_episode"] for s in summaries]
        for k, sd in enumerate(seeds):
            cells = [figure(c["score"][k]) + " (cut)" * c["capped"][k] for c in columns]
            lines.append(f"| {sd} | " + " | ".join(cells) + " |")
        lines.append("")
    vlms = [s for s in summaries if s["kind"] == "vlm"]
    if vlms:
        lines += ["## VLM details", "",
                  "| player | endpoint | decisions | unparseable | illegal | failed requests | cut at "
                  "max_tokens | answers from cache | HTTP requests | retries | latency mean / p95 (s) |",
                  "|---" * 11 + "|"]
        for s in vlms:
            c = s["about"]["client"]
            st = s["invalid_by_status"]
            lines.append(f"| {s['name']} | {s['about']['endpoint']} | {s['decisions']} | "
                         f"{st['unparseable']} | {st['illegal']} | {st['error']} | "
                         f"{s['cut_at_max_tokens']} | {s['cached_answers']} | "
                         f"{c['http_requests']} | "
                         f"{c['retries']} | {_fmt(s['latency_s']['mean'])} / "
                         f"{_fmt(s['latency_s']['p95'])} |")
        for s in vlms:
            if s["cut_at_max_tokens"]:
                lines += ["", max_tokens_hint(s, bold="**")]
        # Snake's best move and ViGaL's rule; another game's are what its task module's move question says.
        best = ("Best moves: how often the move a VLM named is one the engine calls best (safe, no dead "
                "end, closest to the goal); verifier accuracy: its whole answer scored by the project's "
                "verifier (for Snake, ViGaL's rule: a best move and exactly the fatal moves). Both are over "
                "the answers that came"
                if env in FATAL else
                "Best moves: how often the move a VLM named is one the game's move question accepts as "
                "best (its task module's good moves); verifier accuracy: its whole answer scored by the "
                "project's verifier. Both are over the answers that came to a scored move question")
        best += (" (an unparseable one scores 0); failed requests are counted apart. The specialist states "
                 "only a move; scripts/score_predictions.py --specialist gives its best-move rate on an "
                 "exported split.")
        # An answer came, yet none was scored: a move question with no best move (Pokémon's, every button).
        came = any(s["decisions"] > s["invalid_by_status"]["error"] for s in vlms)
        if came and all(s["best_move_rate"] is None and s["verifier_accuracy"] is None for s in vlms):
            best = ("Best moves and verifier accuracy are n/a: the game's move question scored none of these "
                    "answers, as it accepts every move where it has no best one to name. Failed requests are "
                    "counted apart.")
        back = COMES_BACK.get(env, "a state that comes back within one run")
        lines += ["", best, "",
                  "Decisions per second are measured on this run "
                  "(episodes side by side, requests concurrent); answers served from the response cache (a "
                  f"re-run's, and {back}) are fast and free, so compare speed on a run with --no-cache "
                  "(latency is the one measured when each answer was first requested). Parameters of a VLM "
                  "come from its name unless given with --vlm-params.", "", "## Worst decisions", "",
                  *sections]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- the whole comparison
def compare(env: str, out: Path, episodes: int, seed: int, specialist: Path | None = None,
            players: list[VLMPlayer] | None = None, prices: dict[str, Price] | None = None,
            vlm_params: dict[str, int] | None = None, max_steps: int | None = None, device: str = "cpu",
            frames_per_vlm: int = 6, command: str = "", overwrite: bool = False,
            show_progress: bool = True, checkpoint: Path | None = None,
            flag: str = "--out", env_kwargs: dict[str, Any] | None = None,
            game_spec: GameSpec | None = None) -> dict[str, Any]:
    """Play the specialist (a run folder; its model file ``checkpoint`` if given) and each VLM player on
    the same seeds; write the report. ``flag`` names ``out`` in the errors (``DEFAULT_OUT`` for the
    default folder). ``env_kwargs``: the game's options without a specialist (its run's config sets them);
    ``game_spec``: what a board of the game with them is, where the caller built one (``flag_options``),
    so it is not built again (a Game Boy game's second emulator boot)."""
    players, prices, vlm_params = players or [], prices or {}, vlm_params or {}
    if checkpoint is not None and specialist is None:  # first: "nothing to compare" would not name the fix
        raise CompareError("--checkpoint is the specialist's model file: give --specialist RUN too")
    if specialist is None and not players:
        raise CompareError("nothing to compare: give --specialist RUN and/or --vlm MODEL@URL")
    if episodes < 1:
        raise CompareError(f"--episodes must be >= 1, got {episodes}")
    check_model_names(players, prices, vlm_params)
    if env_kwargs and specialist is not None:
        raise CompareError("the game's options come from the --specialist run's config.yaml: give none")
    env_kwargs = eval_kwargs(env_kwargs or {})  # as a run's: the greedy opponent, no swarm restarts
    model = None
    about: dict[str, Any] = {}
    if specialist is not None:
        model, cfg, ckpt = load_specialist(specialist, device, checkpoint)
        spec = check_specialist(specialist, model, cfg, ckpt)
        if cfg["env"] != env:
            raise CompareError(f"--specialist {specialist} was trained on {cfg['env']!r}, not --env {env!r}")
        env_kwargs = eval_kwargs(cfg["env_kwargs"])  # a two-player game is scored against the greedy bot
        # Absolute, as evaluate's JSON and the export's meta.json: the report is read from anywhere later.
        about = {"run": os.path.abspath(specialist), "checkpoint": os.path.abspath(ckpt),
                 "policy": policy_label(cfg), "step": int(model.num_timesteps)}  # tiny+LSTM: as trained
    for p in players:
        if p.env != env:
            raise CompareError(f"VLM player for {p.env!r} cannot play --env {env!r}")
    if model is None:  # no specialist built the game: a missing default ROM is said now, not mid-play
        spec = game_spec or check_vlm_game(env, env_kwargs)
    check_play_memory(env, episodes, spec, model)
    labels = player_labels(players)
    made = _prepare_out(out, overwrite, flag, players)
    home = Path(os.path.abspath(out))  # "." read later would be the working folder, moved aside with the run
    identity, chain = folder_identity(home), folder_chain(home)
    try:
        runs = play_all(env, env_kwargs, episodes, seed, max_steps or EPISODE_STEP_CAP, model, about, players,
                        labels, vlm_params, show_progress)
        _check_out_after_play(out, home, identity, chain, overwrite, flag, players)
        try:
            with uninterruptible():  # the new report is written and swapped in with no signal in between
                report = write_report_safely(out, overwrite, flag, env=env, env_kwargs=env_kwargs, seed=seed,
                                             runs=runs, prices=prices, frames_per_vlm=frames_per_vlm,
                                             command=command, max_steps=max_steps)
                # The report is in place: a stop signal from now on is ignored (one in the moment after this
                # block, before the caller could say so, had compare.py say no report was written).
                settled()
            return report
        except CompareError as e:  # the report is lost, not the answers it was made of
            raise CompareError(f"{e}{cached_answers_hint(players, ' (or give another --out)')}") from None
        except TaskModuleError as e:  # a package's move_task, asked again for the worst decisions' frames
            hint = cached_answers_hint(players, fix="fix it")
            raise CompareError(f"{e}: no report written{hint}") from None
    except BaseException:  # a failed play or report (or Ctrl-C) leaves no empty folder made for it
        remove_folders(made)
        raise


def _prepare_out(out: Path, overwrite: bool, flag: str, players: list[VLMPlayer]) -> list[Path]:
    """Before the play: put right what a killed comparison left in report folder ``out``, refuse one the
    report may not go to (``check_out_dir``, a response cache inside it), and make it now, before the play
    (which may be paid for): a full disk is found before the money is spent. Returns the folders made
    (``make_output_folder``), for ``remove_folders`` should the comparison fail."""
    try:
        with uninterruptible():
            for note in recover_report(out):
                print(f"{out}: {note}", file=sys.stderr)
    except OSError as e:  # a folder that cannot be written
        raise CompareError(f"{flag} {out}: the folders a killed comparison left there cannot be put right "
                           f"({e.strerror or e}); move the .report-* folders out (one may hold the previous "
                           "report)") from None
    for p in players:
        if p.client.cache is not None:
            check_cache_outside(p.client.cache.root, out)
    check_out_dir(out, overwrite, flag)  # an old report is replaced only once there is a new one
    try:
        pyplot()  # the report's plots need it: say so before any episode is played
        return make_output_folder(out, flag)
    except ValueError as e:
        raise CompareError(str(e)) from None


def _check_out_after_play(out: Path, home: Path, identity: tuple[int, int] | None,
                          chain: list[tuple[int, int] | None], overwrite: bool, flag: str,
                          players: list[VLMPlayer]) -> None:
    """After the play: report folder ``out`` (``home``, absolute) made again where another comparison
    removed it, and refused where it was moved or replaced (``identity`` and ``chain``: as it was before the
    play) or something was put there since (``check_out_dir``); each refusal says where the answers are
    cached."""
    hint = cached_answers_hint(players, fix="give another --out")
    # Gone: another comparison into it failed and removed it, empty. Made again, not taken for a folder
    # moved or replaced.
    if make_again(home, chain):
        identity = folder_identity(home)
    # A train_ppo.py --force moved the run aside with its compare-<time> in it: the report was made again
    # in the new run, of the model it replaced.
    if folder_identity(home) != identity:
        raise CompareError(f"{flag} {given_path(out, home)} was moved or replaced while the comparison "
                           f"played (a train_ppo.py --force of the run it is in?): no report written{hint}")
    try:
        check_out_dir(out, overwrite, flag)  # again: something may have been put there during the play
    except CompareError as e:  # not a full disk: the folder is in use (another comparison's --out)
        raise CompareError(f"{e}{hint}") from None


def check_cache_outside(root: Path, out: Path) -> None:
    """CompareError if the response cache ``root`` is inside ``out``."""
    if Path(os.path.abspath(root)).is_relative_to(os.path.abspath(out)):
        # --out holds the report alone: a cache there was refused as a folder in use, after the whole
        # (perhaps paid) play with --overwrite, and otherwise as "not empty", naming the wrong thing.
        raise CompareError(f"--cache-dir {root} is inside --out {out}, which holds the report alone: "
                           "give a --cache-dir outside it (or leave it out for the default)")


def play_all(env: str, env_kwargs: dict[str, Any], episodes: int, seed: int, steps: int, model: Any,
             about: dict[str, Any], players: list[VLMPlayer], labels: list[str],
             vlm_params: dict[str, int], show_progress: bool) -> list[PlayerRun]:
    """The specialist (``model``, unless None) and every VLM player, each on the same seeds."""
    from tqdm import tqdm

    runs: list[PlayerRun] = []
    if model is not None:
        with tqdm(total=episodes, unit="ep", desc="specialist", disable=not show_progress,
                  **bar_size()) as bar:
            runs.append(play_specialist(model, f"specialist-{about['policy']}", env, env_kwargs, episodes,
                                        seed, steps, EpisodeProgress(bar), about))
    for p, label in zip(players, labels, strict=True):
        with tqdm(total=episodes, unit="ep", desc=label, disable=not show_progress,
                  **bar_size()) as bar:
            runs.append(play_vlm(p, env, env_kwargs, episodes, seed, steps, vlm_params.get(p.name),
                                 EpisodeProgress(bar), name=label))
    return runs


def cached_answers_hint(players: list[VLMPlayer], other: str = "", fix: str = "free some space") -> str:
    """For an error after the play: where the VLMs' answers are cached, so that the same command run
    again sends no request for them; ``fix`` is what to do first (the default: a disk that filled up),
    ``other`` adds a choice (" (or give another --out)"). "" when no player's answers are all in a cache
    (none used, or one that failed a write)."""
    roots = sorted({str(p.client.cache.root) for p in players
                    if p.client.cache is not None and not p.client.cache.warned})
    if not roots:
        return ""
    return (f"; the VLM's answers are in the response cache {', '.join(roots)}: {fix}{other} and "
            "run the same command again, which sends no request for them")


def check_model_names(players: list[VLMPlayer], prices: dict[str, Price], vlm_params: dict[str, int]
                      ) -> None:
    """Refuse a ``MODEL=`` price or parameter count that names no ``--vlm`` model: it would be silently
    ignored (a typo leaves the report with "no price" or the count read from the name)."""
    models = sorted({p.name for p in players})
    # "*" is a price for every VLM (a price with no MODEL=); a count is per model, and "*" names none
    for flag, keys, known in (("--price-per-1k-tokens", prices, {*models, "*"}),
                              ("--vlm-params", vlm_params, set(models))):
        if keys and not models:  # a price for every VLM too: with none, it would do nothing
            raise CompareError(f"{flag} is for the --vlm models, and no --vlm is given: drop it or add a "
                               "--vlm")
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise CompareError(f"{flag} names model {unknown[0]!r}, which no --vlm plays (the --vlm models "
                               f"are {', '.join(models)}); write MODEL exactly as in --vlm MODEL@URL")


def player_labels(players: list[VLMPlayer]) -> list[str]:
    """A distinct report name per VLM: its model name, plus its server where two players share one (the
    same model behind vLLM and SGLang, or two quantizations): the per-seed scores, decision logs and
    frames are filed by name, so a shared one would silently keep only the last player's. The same
    endpoint given twice is refused (it would only repeat the same answers from the cache)."""
    from urllib.parse import urlsplit

    # Compared by the URL requests go to: .../v1 and .../v1/chat/completions are one endpoint.
    endpoints = [(p.client.endpoint.model, p.client.endpoint.chat_url) for p in players]
    for k, e in enumerate(endpoints):
        if e in endpoints[:k]:
            raise CompareError(f"--vlm {players[k].client.endpoint} is given twice")
    models = [p.name for p in players]
    labels = []
    for p in players:
        label = p.name
        if models.count(p.name) > 1:
            label = f"{p.name}@{urlsplit(p.client.endpoint.base_url).netloc}"
        labels.append(label)
    # Same model and host, another path (two routes of one proxy): the whole endpoint.
    return [str(p.client.endpoint) if labels.count(label) > 1 else label
            for p, label in zip(players, labels, strict=True)]


def load_specialist(run: Path, device: str = "cpu", checkpoint: Path | None = None
                    ) -> tuple[Any, dict[str, Any], Path]:
    """(model, run config, checkpoint file) of a run folder: ``checkpoint`` (``--checkpoint``) if given,
    else the run's model.zip or newest checkpoint, as evaluate and the export choose; CompareError naming
    the problem. Its game is not built: ``check_specialist`` does that, where the model is to play."""
    from agents.train import load_model

    try:
        cfg = read_run_config(run, None if checkpoint else "--checkpoint")  # a model file given as the run
    except RunError as e:
        raise CompareError(f"--specialist {e}") from e
    try:
        ckpt = model_file(run, checkpoint, "give another run with --specialist")
        model = load_model(cfg, ckpt, device=device, run=run)
    except RunError as e:
        raise CompareError(str(e) if checkpoint is not None else f"--specialist {e}") from e
    return model, cfg, ckpt


def check_vlm_game(env: str, env_kwargs: dict[str, Any] | None = None) -> GameSpec:
    """``env``'s ``GameSpec``, or CompareError unless it builds with ``env_kwargs`` (the game flags; none:
    its default settings, a Game Boy game's ROM where it is looked for), the game a comparison without
    --specialist plays: before any progress bar or request."""
    try:
        return check_game(env, env_kwargs or {})
    except RunError as e:
        raise CompareError(str(e)) from e


def check_specialist(run: Path, model: Any, cfg: dict[str, Any], checkpoint: Path) -> GameSpec:
    """The run's game's ``GameSpec``, or CompareError unless the game the run's config.yaml sets up (a Game
    Boy start state, a board size) plays the model's moves (loaded from ``checkpoint``); it builds the game
    (boots the emulator of a Game Boy run) once."""
    try:
        return check_fits(model, cfg["env"], eval_kwargs(cfg["env_kwargs"]), checkpoint)
    except RunError as e:
        raise CompareError(f"--specialist {run}: {e}") from e


def boards_memory_error(episodes: int, error: BaseException) -> str:
    """What compare and ``evaluate.py --vlm`` say when the boards of ``episodes`` played at once cannot be
    allocated (``out_of_memory``): ``check_play_memory`` passed them (its figure is a floor) or could not run
    (no memory figure), an address-space limit (``ulimit -v``) may be lower than the RAM it reads, and it
    does not count a GPU's memory."""
    cpu = ", or with --device cpu" if gpu_alloc_failed(error) else ""
    return (f"--episodes {episodes:,}: every episode is played at once, one board each, and their boards do "
            f"not fit in {memory_refused(error)}; play fewer{cpu}")


def check_play_memory(env: str, episodes: int, spec: GameSpec, model: Any) -> None:
    """CompareError when ``episodes`` boards, all played at once (compare's players, ``evaluate.py
    --vlm``), outgrow this machine's RAM and swap (``memory_bytes``): a size NumPy could allocate met the
    out-of-memory killer mid-play, which ends the process with no message. Counted per board: the game's
    state and observation, and the specialist's (``model``) forward pass where it runs on the CPU (the
    players play one after another, the specialist first); the episodes' records come on top, so a play
    refused here could never fit."""
    limit = memory_bytes()
    if limit is None:
        return
    forward = forward_bytes(model) if model is not None else 0
    board = spec.board_bytes + math.prod(spec.obs_shape)
    each = board + forward
    if each * episodes <= limit:
        return
    pass_text = f" and {forward:,} bytes of the specialist's forward pass on the CPU" if forward else ""
    fix = (f"--episodes {limit // each:,} or fewer" if limit >= each else
           "a machine with more memory (one episode does not fit)")
    raise CompareError(f"--episodes {episodes:,}: every episode is played at once, one board each "
                       f"({board:,} bytes of {env}'s state and "
                       f"observation{pass_text}), which needs {memory_shortfall(each * episodes, limit)}; "
                       f"use {fix}")
