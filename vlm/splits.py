"""Train/val/test splits that share no episode and no identical state, and the curriculum manifest.

Splits: whole episodes are dealt to train, val and test (seeded), so no episode straddles two splits.
Different episodes can still pass through the same position (two Sokoban games from one level, a Snake
start that recurs), so a val record is dropped when any of its images, or the frame of the state it was
asked about, also appears in train, and a test record when one appears in train or val. Images are
content-addressed (``vlm/imagestore.py``), so "identical" is exact: the same file name.

Curriculum: GameQA's 3×3 levels (plot_level: image complexity, qa_level: question complexity) grouped
into stages from easy to hard by ``plot_level + qa_level``; each stage lists its record ids and a
``schedule`` that mixes the question families at the ratios of ``--mix`` (renormalised over the
families a stage has).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from vlm.record import FAMILIES

SPLIT_NAMES = ("train", "val", "test")
DEFAULT_SPLIT = "0.8,0.1,0.1"  # --split
STAGES = (("easy", (2, 3)), ("medium", (4, 4)), ("hard", (5, 6)))  # by plot_level + qa_level


def _shares(values: list[float]) -> list[float]:
    """Non-negative ``values`` (finite, summing above 0) divided by their sum. A sum that overflows (1e308
    twice) made every share 0, and the deal left most episodes in no split (a KeyError after the whole
    export's work): scaled by the largest first only then, so every other sum's shares stay as they were."""
    total = sum(values)
    if not math.isfinite(total):
        top = max(values)
        values = [v / top for v in values]
        total = sum(values)
    return [v / total for v in values]


def parse_ratios(text: str) -> tuple[float, float, float]:
    """``--split 0.8,0.1,0.1`` -> train, val, test fractions (normalised)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or any(v < 0 or not math.isfinite(v) for v in values):
        raise ValueError(f"--split expects three non-negative fractions train,val,test (e.g. 0.8,0.1,0.1), "
                         f"got {text!r}")
    if sum(values) <= 0:  # three valid fractions, all 0: say so, as --mix does
        raise ValueError(f"--split {text!r}: at least one fraction needs to be above 0")
    shares = _shares(values)
    for name, asked, share in zip(SPLIT_NAMES, values, shares, strict=True):
        if asked > 0 and share == 0:  # underflowed: the split would silently get no episode
            raise ValueError(f"--split {text}: {name}'s fraction is too small against the others to get any "
                             "share; raise it or give it 0")
    return shares[0], shares[1], shares[2]


def parse_mix(text: str | None) -> dict[str, float] | None:
    """``--mix perception=0.3,strategy=0.4,...`` -> family ratios summing to 1 (None: natural mix)."""
    if text is None:  # an empty --mix is refused below, not read as none given
        return None
    mix: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in FAMILIES:
            raise ValueError(f"--mix expects FAMILY=RATIO items with families from {', '.join(FAMILIES)} "
                             f"(e.g. perception=0.3,strategy=0.4), got {item.strip()!r}")
        try:
            ratio = float(value)
        except ValueError:
            ratio = -1.0
        if name in mix:  # perception=0.3,...,perception=0.1 kept the last silently: a typo, most likely
            raise ValueError(f"--mix names {name} twice ({mix[name]:g} and {value.strip()}); give it once")
        if ratio < 0 or not math.isfinite(ratio):
            raise ValueError(f"--mix {name}: the ratio must be a non-negative number, got {value.strip()!r}")
        mix[name] = ratio
    if sum(mix.values()) <= 0:
        raise ValueError(f"--mix {text!r}: at least one family needs a ratio above 0")
    # 0.3, not 0.30000000000000004, in the card
    out = {k: round(share, 6) for k, share in zip(mix, _shares(list(mix.values())), strict=True)}
    for name, ratio in mix.items():
        if ratio > 0 and out[name] == 0:  # rounded (or underflowed) away: the family was silently left out
            raise ValueError(f"--mix {name}: its ratio is too small against the others (it rounds to 0 at "
                             "six decimals); raise it or give it 0")
    return out


def assign_episodes(episodes: Iterable[int], ratios: tuple[float, float, float], seed: int) -> dict[int, str]:
    """Deal episodes to splits: a seeded shuffle, then contiguous shares, each its ratio of the episodes
    rounded down and what that leaves to the largest remainders (train first on ties), so a ratio of 0
    gets none and a larger ratio never fewer. A split with a ratio above 0 then gets at least one episode
    when there are enough to go round (train first: from one episode on), from the split most over its
    share."""
    eps = sorted(set(episodes))
    order = [eps[k] for k in np.random.default_rng([seed, 0x5EED]).permutation(len(eps))]
    n = len(order)
    exact = [r * n for r in ratios]
    counts = [math.floor(x) for x in exact]
    for k in sorted(range(3), key=lambda k: counts[k] - exact[k])[:n - sum(counts)]:
        counts[k] += 1
    asked = sum(r > 0 for r in ratios)
    for k in range(3):
        if ratios[k] > 0 and counts[k] == 0 and n >= (1 if k == 0 else asked):
            least = 0 if k == 0 else 1  # train first: it may take a split's only episode
            donor = max((j for j in range(3) if counts[j] > least), key=lambda j: counts[j] - exact[j])
            counts[donor] -= 1  # from the split most over its share
            counts[k] += 1
    out: dict[int, str] = {}
    start = 0
    for name, c in zip(SPLIT_NAMES, counts, strict=True):
        for ep in order[start:start + c]:
            out[ep] = name
        start += c
    return out


def state_keys(record: dict[str, Any]) -> set[str]:
    """What makes two records "the same state": their image files and the frame they were asked about."""
    keys = set(record["images"])
    frame = record.get("source", {}).get("frame")
    if frame:
        keys.add(frame)
    return keys


def split_records(records: list[dict[str, Any]], assignment: dict[int, str]
                  ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """Records by split (order kept), and how many were dropped from val/test as repeats of train/val."""
    by_split: dict[str, list[dict[str, Any]]] = {name: [] for name in SPLIT_NAMES}
    for rec in records:
        by_split[assignment[rec["source"]["episode"]]].append(rec)
    seen: set[str] = set()
    dropped = {name: 0 for name in SPLIT_NAMES}
    for name in SPLIT_NAMES:
        kept = []
        for rec in by_split[name]:
            if name != "train" and state_keys(rec) & seen:
                dropped[name] += 1
                continue
            kept.append(rec)
        # Keys are added after the whole split is read: records of one split may share states freely.
        for rec in kept:
            seen |= state_keys(rec)
        by_split[name] = kept
    return by_split, dropped


def mixed_schedule(records: list[dict[str, Any]], mix: dict[str, float] | None, rng: np.random.Generator
                   ) -> tuple[list[str], dict[str, float]]:
    """Record ids of one stage drawn so families appear at ``mix`` ratios, as many as the scarcest family
    allows, interleaved by a seeded shuffle. Returns the ids and the ratios actually used."""
    by_family: dict[str, list[str]] = defaultdict(list)
    for rec in records:
        by_family[rec["family"]].append(rec["id"])
    if mix is None:
        total = len(records)
        used = {f: len(ids) / total for f, ids in sorted(by_family.items())} if total else {}
    else:
        present = {f: r for f, r in mix.items() if r > 0 and by_family.get(f)}
        norm = sum(present.values())
        used = {f: r / norm for f, r in present.items()} if norm else {}
    if not used:
        return [], {}
    n = min(int(len(by_family[f]) / r + 1e-9) for f, r in used.items())
    chosen: list[str] = []
    for f, r in used.items():
        ids = by_family[f]
        take = min(len(ids), round(n * r))
        chosen.extend(ids[k] for k in sorted(rng.permutation(len(ids))[:take]))
    order = rng.permutation(len(chosen))
    return [chosen[k] for k in order], {f: round(r, 6) for f, r in used.items()}


def curriculum(records: list[dict[str, Any]], mix: dict[str, float] | None, seed: int) -> dict[str, Any]:
    """The manifest of the train split's ``records``: stages easy -> hard with their levels, record ids,
    counts and mixed schedule."""
    rng = np.random.default_rng([seed, 0xC0FFEE])
    stages = []
    for name, (lo, hi) in STAGES:
        recs = [r for r in records if lo <= r["plot_level"] + r["qa_level"] <= hi]
        schedule, used = mixed_schedule(recs, mix, rng)
        levels = sorted({(r["plot_level"], r["qa_level"]) for r in recs})
        stages.append({
            "name": name,
            "level_sum": [lo, hi],
            "levels": [list(lv) for lv in levels],
            "count": len(recs),
            "families": dict(sorted(Counter(r["family"] for r in recs).items())),
            "mix": used,
            "schedule": schedule,
            "ids": [r["id"] for r in recs],
        })
    return {"version": 1, "split": "train", "mix": mix, "order": "plot_level + qa_level, ascending",
            "stages": stages}
