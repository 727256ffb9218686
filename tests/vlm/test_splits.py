"""vlm/splits.py on its own: how episodes are dealt to train/val/test (seeded, in the ratios' shares) and
which val/test records are dropped as repeats of an earlier split's state."""

from __future__ import annotations

import pytest

from vlm.splits import assign_episodes, curriculum, parse_mix, parse_ratios, split_records


def rec(i: str, episode: int, *images: str, frame: str | None = None) -> dict:
    return {"id": i, "images": list(images), "source": {"episode": episode, "frame": frame or f"f-{i}"},
            "family": "perception"}


def ids(records: list[dict]) -> list[str]:
    return [r["id"] for r in records]


def test_records_of_one_split_may_share_a_state():
    """Only a repeat of an *earlier* split's state is dropped: two val (or test) records of one state, or
    of one episode asked twice, are both kept."""
    records = [rec("t", 0, "a"), rec("v1", 1, "x", frame="f"), rec("v2", 2, "x", frame="f"),
               rec("s1", 3, "y"), rec("s2", 3, "y")]
    splits, dropped = split_records(records, {0: "train", 1: "val", 2: "val", 3: "test"})
    assert ids(splits["val"]) == ["v1", "v2"] and ids(splits["test"]) == ["s1", "s2"]
    assert dropped == {"train": 0, "val": 0, "test": 0}


def test_a_dropped_val_record_does_not_drop_test_records():
    """A test record is dropped for a state that train or val *keeps*: the other pictures of a val record
    dropped as a repeat of train are in no split, so a test record showing them stays."""
    records = [rec("t", 0, "a"), rec("v", 1, "a", "b", frame="fv"), rec("s", 2, "b", frame="fv")]
    splits, dropped = split_records(records, {0: "train", 1: "val", 2: "test"})
    assert splits["val"] == [] and ids(splits["test"]) == ["s"]
    assert dropped == {"train": 0, "val": 1, "test": 0}
    # ... while one that repeats a kept val record's picture or frame is dropped.
    records = [rec("t", 0, "a"), rec("v", 1, "b", frame="fv"), rec("s1", 2, "b"),
               rec("s2", 2, "c", frame="fv")]
    splits, dropped = split_records(records, {0: "train", 1: "val", 2: "test"})
    assert ids(splits["val"]) == ["v"] and splits["test"] == [] and dropped["test"] == 2


def test_the_seed_deals_the_episodes():
    """--seed also seeds the split: the same seed deals the same way, another seed another way."""
    deals = [assign_episodes(range(30), (0.6, 0.2, 0.2), seed) for seed in (0, 0, 1, 2)]
    assert deals[0] == deals[1]
    assert deals[2] != deals[0] and deals[3] != deals[0]
    kept = [3, 4, 7, 9, 11, 20]  # the episodes --min-score kept: each dealt once
    assert set(assign_episodes(kept, (0.5, 0.25, 0.25), 5)) == set(kept)
    # An episode's split depends on the seed and the episodes, not the order they are listed in.
    dealt = assign_episodes(kept, (0.5, 0.25, 0.25), 5)
    assert assign_episodes(kept[::-1] + kept[:2], (0.5, 0.25, 0.25), 5) == dealt
    # Episodes whose set order hangs on the listing (0, 8, 16 share a hash slot) deal the same either way.
    colliding = [16, 8, 0, 3]
    ratios = (0.5, 0.25, 0.25)
    assert assign_episodes(colliding, ratios, 5) == assign_episodes(colliding[::-1], ratios, 5)


def test_split_ratios_may_be_zero_but_not_all_zero():
    assert parse_ratios("1,0,0") == (1.0, 0.0, 0.0)  # a train-only export (the README's --split 1,0,0)
    for text in ("1,-1,1", "0.8,0.1", "a,b,c"):
        with pytest.raises(ValueError, match="--split expects three non-negative fractions"):
            parse_ratios(text)
    # Three non-negative fractions all 0 were refused as not being three non-negative fractions.
    with pytest.raises(ValueError, match=r"^--split '0,0,0': at least one fraction needs to be above 0"):
        parse_ratios("0,0,0")


def test_huge_or_tiny_split_ratios_still_deal_every_episode():
    """Fractions whose sum overflows (1e308 twice) were normalised to 0, 0, 0 (or nan): the deal then gave
    3 episodes and left the rest in no split, and the export ended in a KeyError traceback after all its
    work. A ratio above 0 that normalises to 0 against the others would silently get no episode."""
    for text, expected in (("1e308,1e308,1e308", (1 / 3, 1 / 3, 1 / 3)), ("1e308,0,1e308", (0.5, 0.0, 0.5)),
                           ("5e-324,5e-324,0", (0.5, 0.5, 0.0))):
        assert parse_ratios(text) == pytest.approx(expected), text
    ratios = parse_ratios("1,1e308,1e308")
    assert all(r > 0 for r in ratios) and sum(ratios) == pytest.approx(1.0)
    assert len(assign_episodes(range(10), ratios, 0)) == 10
    with pytest.raises(ValueError, match=r"--split 1e-300,1e308,0: train's fraction is too small against "
                                         r"the others to get any share; raise it or give it 0"):
        parse_ratios("1e-300,1e308,0")
    with pytest.raises(ValueError, match="train's fraction is too small"):
        parse_ratios("1e-300,1e308,1e308")  # the sum overflows too


def test_mix_ratios_are_normalised_to_six_digits_and_an_item_without_a_ratio_is_refused():
    assert parse_mix("perception=1, strategy=2") == {"perception": 0.333333, "strategy": 0.666667}
    with pytest.raises(ValueError, match=r"--mix expects FAMILY=RATIO items .* got 'perception'"):
        parse_mix("perception,strategy=1")
    # A family the exporter does not draw (a typo, or GameQA's other names) is refused by name, not mixed.
    with pytest.raises(ValueError, match=r"--mix expects FAMILY=RATIO items with families from "
                                         r"perception, .* got 'tactics=0.5'"):
        parse_mix("perception=0.5,tactics=0.5")


def test_mix_ratios_that_overflow_or_round_away_are_not_lost():
    """Ratios whose sum overflows (1e308 twice) all became 0, refused later as "no records of " with no
    family named; one under half a millionth of the total rounded to 0, its family silently left out."""
    assert parse_mix("perception=1e308,strategy=1e308") == {"perception": 0.5, "strategy": 0.5}
    for text in ("perception=1,strategy=3000000", "perception=1e-300,strategy=1e308,vision_zero=1e308"):
        with pytest.raises(ValueError, match=r"--mix perception: its ratio is too small against the others"):
            parse_mix(text)
    assert parse_mix("perception=1,strategy=1000000")["perception"] == 0.000001  # rounds up: kept


def test_a_family_mixed_at_zero_is_left_out_of_the_schedule():
    """``--mix perception=1,strategy=0`` (parse_mix keeps a 0): the stage schedules hold perception only."""
    records = [{"id": f"{f}-{k}", "family": f, "plot_level": 1, "qa_level": 1}
               for f in ("perception", "strategy") for k in range(6)]
    easy = curriculum(records, {"perception": 1.0, "strategy": 0.0}, seed=0)["stages"][0]
    assert easy["mix"] == {"perception": 1.0}
    assert sorted(easy["schedule"]) == [f"perception-{k}" for k in range(6)]


def test_a_stage_schedules_the_families_at_the_mix_renormalised_over_those_it_has():
    """Strategy records beyond its share are left out; the ratios 9:5 schedule all 9 perception records
    (9 / (9/14) is 13.999999999999998 in floats), and vision_zero, absent, leaves no gap."""
    records = [{"id": f"{f}-{k}", "family": f, "plot_level": 1, "qa_level": 1}
               for f, n in (("strategy", 10), ("perception", 9)) for k in range(n)]
    mix = {"perception": 0.45, "strategy": 0.25, "vision_zero": 0.3}
    easy = curriculum(records, mix, seed=0)["stages"][0]
    assert list(easy["families"].items()) == [("perception", 9), ("strategy", 10)]  # sorted: stable JSON
    assert easy["mix"] == {"perception": 0.642857, "strategy": 0.357143}
    families = [i.split("-")[0] for i in easy["schedule"]]
    assert (families.count("perception"), families.count("strategy")) == (9, 5)


def shares(n: int, ratios: tuple[float, float, float]) -> tuple[int, ...]:
    dealt = list(assign_episodes(range(n), ratios, seed=3).values())
    return tuple(dealt.count(s) for s in ("train", "val", "test"))


def test_each_split_gets_its_ratio_of_the_episodes_rounded_to_the_nearest():
    assert shares(10, (0.5, 0.3, 0.2)) == (5, 3, 2)
    assert shares(10, (0.5, 0.27, 0.23)) == (5, 3, 2)  # 2.7 and 2.3 to the nearest, train the rest
    assert shares(100, (0.8, 0.1, 0.1)) == (80, 10, 10)
    assert shares(7, (0.0, 0.5, 0.5)) in ((0, 4, 3), (0, 3, 4))
    # Too few episodes to go round: train first (two episodes at 10/45/45 dealt none to train).
    assert shares(2, (0.1, 0.45, 0.45)) == (1, 0, 1)
    assert shares(1, (0.1, 0.45, 0.45)) == (1, 0, 0)


def test_a_larger_ratio_never_gets_fewer_episodes():
    """What rounding leaves goes by the largest remainder: rounding val and test each to the nearest and
    giving train the rest dealt 5 episodes at 0.34/0.33/0.33 (or 1,1,1) as 1/2/2, train the smallest."""
    assert shares(5, (0.34, 0.33, 0.33)) == (2, 2, 1)
    assert shares(5, (1 / 3, 1 / 3, 1 / 3)) == (2, 2, 1)  # ties: train first
    assert shares(7, (0.2, 0.4, 0.4)) == (1, 3, 3)
    assert shares(3, (0.02, 0.97, 0.01)) == (1, 1, 1)  # each split asked for gets one when 3 go round
    assert shares(4, (0.52, 0.07, 0.41)) == (2, 1, 1)  # val's one comes from test, over its 1.64 (was 1/1/2)
    assert shares(0, (0.8, 0.1, 0.1)) == (0, 0, 0)
    assert shares(2, (0.4, 0.29, 0.31)) == (1, 0, 1)  # remainders .58 and .62: test's is the larger
    for k in range(300):  # a sweep of ratios in hundredths and sizes
        a, b = (k * 37) % 101, (k * 53) % 101
        a, b = min(a, b), max(a, b)
        ratios = (a / 100, (b - a) / 100, (100 - b) / 100)
        for n in range(12):
            dealt = shares(n, ratios)
            assert sum(dealt) == n, (n, ratios, dealt)
            larger = [(a, b) for a in range(3) for b in range(3) if ratios[a] > ratios[b]]
            if n >= 3:  # fewer do not go round: train comes first, whatever its ratio
                assert all(dealt[a] >= dealt[b] for a, b in larger), (n, ratios, dealt)


def test_a_split_takes_exactly_three_fractions_and_a_mix_keeps_a_family_at_zero():
    """``--split 0.8,0.1,0.1,0.1`` (a fourth number) is refused, not read as its first three, and so is a
    fraction that is not a finite number; ``--mix strategy=0`` is a family left out on purpose, kept at 0
    for the curriculum to skip, not refused."""
    with pytest.raises(ValueError, match="--split expects three non-negative fractions"):
        parse_ratios("0.8,0.1,0.1,0.1")
    for text in ("nan,1,1", "inf,1,1", "1,1,-inf"):  # unchecked, nan shares fail the deal in math.floor
        with pytest.raises(ValueError, match="--split expects three non-negative fractions"):
            parse_ratios(text)
    assert parse_mix("perception=1,strategy=0") == {"perception": 1.0, "strategy": 0.0}


def test_a_split_asked_for_gets_an_episode_when_there_are_as_many_as_splits_asked_for():
    """Two episodes at 0.9/0.1/0: val, asked for, gets one (train's second), as many as the two splits
    asked for; a third split at 0 is not counted against them."""
    assert shares(2, (0.9, 0.1, 0.0)) == (1, 1, 0)
    assert shares(2, (0.9, 0.0, 0.1)) == (1, 0, 1)


def test_a_repeat_of_any_of_a_records_pictures_is_dropped_not_only_of_its_first():
    """A Vision-Zero record shows several pictures: a val record whose second picture is in train is
    as much a leak as one whose first is."""
    records = [rec("t", 0, "a"), rec("v", 1, "b", "a", frame="fv"), rec("s", 2, "c", "b", frame="fs")]
    splits, dropped = split_records(records, {0: "train", 1: "val", 2: "test"})
    assert splits["val"] == [] and dropped == {"train": 0, "val": 1, "test": 0}
    assert ids(splits["test"]) == ["s"]  # "b" was only in the dropped val record


def test_a_stages_levels_read_plot_level_then_qa_level():
    records = [{"id": "p", "family": "perception", "plot_level": 1, "qa_level": 2}]
    assert curriculum(records, None, seed=0)["stages"][0]["levels"] == [[1, 2]]


def test_a_stage_lists_all_its_records_and_the_natural_mix_as_fractions():
    """Without --mix a stage's mix is each family's fraction of its records, and the schedule holds them
    all; ``ids`` lists every record of the stage, also those a mix leaves out of the schedule."""
    records = [{"id": f"{f}-{k}", "family": f, "plot_level": 1, "qa_level": 1}
               for f, n in (("perception", 3), ("strategy", 2)) for k in range(n)]
    easy = curriculum(records, None, seed=0)["stages"][0]
    assert easy["mix"] == {"perception": 0.6, "strategy": 0.4}
    assert sorted(easy["schedule"]) == sorted(ids(records))
    easy = curriculum(records, {"perception": 1.0, "strategy": 0.0}, seed=0)["stages"][0]
    assert easy["ids"] == ids(records) and easy["count"] == 5 and len(easy["schedule"]) == 3


def test_a_share_a_hair_below_a_whole_number_is_still_taken_whole():
    """At 7:15 over 7 perception and 16 strategy records, strategy's share is 22 × 15/22, which floats make
    14.999999999999998: rounded, 15 are scheduled (the exact ratio), not 14."""
    records = [{"id": f"{f}-{k}", "family": f, "plot_level": 1, "qa_level": 1}
               for f, n in (("perception", 7), ("strategy", 16)) for k in range(n)]
    easy = curriculum(records, {"perception": 7.0, "strategy": 15.0}, seed=0)["stages"][0]
    families = [i.split("-")[0] for i in easy["schedule"]]
    assert (families.count("perception"), families.count("strategy")) == (7, 15)


def test_the_records_a_mix_leaves_out_are_a_seeded_draw_not_the_first_ones():
    """Records are in episode order, so taking a family's first ones would schedule only the earliest
    episodes' states: the ones kept are drawn with the seed."""
    records = [{"id": f"{f}-{k}", "family": f, "plot_level": 1, "qa_level": 1}
               for f, n in (("perception", 2), ("strategy", 20)) for k in range(n)]
    mix = {"perception": 0.5, "strategy": 0.5}
    drawn = set()
    for seed in range(5):
        easy = curriculum(records, mix, seed=seed)["stages"][0]
        # The seed decides it: an export made again with its seed schedules the same records, in one order.
        assert curriculum(records, mix, seed=seed)["stages"][0]["schedule"] == easy["schedule"]
        drawn.add(tuple(sorted(i for i in easy["schedule"] if i.startswith("strategy"))))
    assert all(len(d) == 2 for d in drawn)
    assert len(drawn) > 1


def test_each_level_sum_is_in_one_stage_and_a_schedule_is_shuffled():
    """Stages by plot_level + qa_level: 2-3 easy, 4 medium, 5-6 hard, each record in exactly one; a stage's
    schedule interleaves its records (a seeded shuffle), not listed in the records' order."""
    records = [{"id": f"{p}{q}", "family": "perception", "plot_level": p, "qa_level": q}
               for p in (1, 2, 3) for q in (1, 2, 3)]
    stages = curriculum(records, None, seed=0)["stages"]
    assert {s["name"]: s["ids"] for s in stages} == {"easy": ["11", "12", "21"], "medium": ["13", "22", "31"],
                                                     "hard": ["23", "32", "33"]}
    many = [{"id": str(k), "family": "perception", "plot_level": 1, "qa_level": 1} for k in range(20)]
    assert curriculum(many, None, seed=0)["stages"][0]["schedule"] != ids(many)
