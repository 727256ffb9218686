#!/usr/bin/env python
"""Score a model's answers on an exported split with the project's verifiers.

    python scripts/score_predictions.py datasets/snake/test.jsonl predictions.jsonl \\
        [--specialist runs/snake/<run>] [--json] [--out scores.json]

predictions.jsonl holds one {"id": ..., "response": ...} per line (the model's full reply), or is an OpenAI /
vLLM Batch output (custom_id), LLaMA-Factory's generated_predictions.jsonl or ms-swift's infer result
(matched to the split by line: README "Scoring any model's answers"). Prints
accuracy by game, family, question type and level, format errors and missing ids. With --specialist
the run's greedy action answers the move questions too, scored by the same verifier, beside the model
on exactly those questions.
"""

from __future__ import annotations

import agents.startup  # noqa: F401 (first: a Ctrl-C during the imports below exits 130)

# isort: split
import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agents.cli import (
    add_specialist_argument,
    out_file_arg,
    path_arg,
    print_json,
    run_script,
    script_parser,
    specialist_args,
)
from agents.config import DEVICES, device_name


def main(argv: list[str] | None = None) -> int:
    p = script_parser(__doc__)
    p.add_argument("split", type=path_arg, help="an exported split: JSONL, one task record per line")
    p.add_argument("predictions", type=path_arg,
                   help='JSONL, one {"id": ..., "response": ...} per line, or a Batch API, LLaMA-Factory or '
                   "ms-swift predictions file")
    add_specialist_argument(p, "a run folder: also score its greedy action on the move questions")
    p.add_argument("--checkpoint", type=path_arg,
                   help="the --specialist's model file (default: the run's model.zip or newest checkpoint, "
                   "as in evaluate.py and export_trajectories.py)")
    # None until parsed: see specialist_args.
    p.add_argument("--device", type=device_name,
                   help=f"torch device for --specialist: {DEVICES} (default cpu)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar while --specialist answers (shown on a terminal only; --json hides "
                   "it too)")
    p.add_argument("--out", type=out_file_arg, help="also write the figures as JSON to this file")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out file that holds an earlier result of this script")
    args = p.parse_args(argv)
    if args.checkpoint and not args.specialist:
        p.error("--checkpoint is the specialist's model file: give --specialist RUN too")
    specialist_args(p, args, "score_predictions.py plays one run; score each run with its own command")

    from agents.config import check_device
    from agents.interrupts import stop_signals_interrupt
    from agents.outputs import atomic_write_text, check_output_file, not_written
    from agents.runs import remove_dead_temps
    from vlm.scoring import score_files

    unsaved = ""  # why --out was not written, if it was not
    try:
        with stop_signals_interrupt():  # Ctrl-C and SIGTERM: a clean exit, --out written whole or not
            check_device(args.device)
            if args.out:  # checked before the scoring, not after it
                inputs = {"split": Path(args.split), "predictions": Path(args.predictions),
                          "specialist's model": specialist_model(args),
                          # read for the specialist's game: the run would not load again
                          "specialist's config": Path(args.specialist) / "config.yaml"
                          if args.specialist else None}
                # Whatever --force cannot get past first (a folder, an input), then another file, which it
                # would not replace either: "pass --force" is said only for an earlier result.
                check_output_file(Path(args.out), "--out", True, inputs)
                if Path(args.out).exists() and not earlier_result(Path(args.out)):
                    raise ValueError(f"--out {args.out} exists and is no earlier result of this script; "
                                     "--force replaces only those (a JSON file it wrote): choose another "
                                     "name, or move that file away first")
                check_output_file(Path(args.out), "--out", args.force, inputs)
                remove_dead_temps(Path(args.out), "score_predictions.py")  # a killed write's
            result = score_files(Path(args.split), Path(args.predictions),
                                 Path(args.specialist) if args.specialist else None, args.device,
                                 Path(args.checkpoint) if args.checkpoint else None,
                                 # on a terminal only: a log or CI's captured stderr keeps its lines alone
                                 not (args.json or args.no_progress) and sys.stderr.isatty())
            if args.out:
                try:
                    # Never half a file; once in place a signal is ignored (it said nothing was written).
                    # Without --force never over a file: another command's scores (or any file) written at
                    # --out while this one scored were replaced, both saying they wrote it; with --force
                    # the later of two writers wins, whole.
                    atomic_write_text(Path(args.out), json.dumps(result, indent=2), last=True,
                                      new=not args.force)
                except FileExistsError:
                    unsaved = (f"--out {args.out} appeared while scoring (another command wrote it); it is "
                               "left as it is: pass --force to replace it, or give a new file name")
                except OSError as e:  # a full disk
                    unsaved = f"--out {not_written(args.out, e)}"
    except ValueError as e:  # ScoringError and CompareError (bad input, the message names it) are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: nothing written", file=sys.stderr)
        return 130
    if "warning" in result:  # stderr, as the specialist's: --json's object stays alone on stdout
        print(f"warning: {result['warning']}", file=sys.stderr)
    if "warning" in result.get("specialist", {}):  # stderr: --json's object stays alone on stdout
        print(f"warning: {result['specialist']['warning']}", file=sys.stderr)
    # Shown even where --out was not written: the scoring (a specialist's play too) is not done again for it.
    show(result, args)
    if unsaved:
        print(f"error: {unsaved}; the figures above are not saved", file=sys.stderr)
        return 2
    return 0


def show(result: dict[str, Any], args: argparse.Namespace) -> None:
    """The scores on standard output: ``--json``'s one object, or the tables."""
    from vlm.scoring import format_table

    if args.json:
        print_json(result)
        return

    def examples(kind: str) -> str:  # the first few ids of a count, so a wrong id can be found
        return f" (e.g. {', '.join(result[f'{kind}_examples'][:3])})" if result[f"{kind}_ids"] else ""

    unknown = ("prediction for an id" if result["unknown_ids"] == 1 else "predictions for ids")
    print(f"{result['records']} record{'s' * (result['records'] != 1)} in {args.split}; "
          f"{result['missing_ids']} without a prediction{examples('missing')}; {result['unknown_ids']} "
          f"{unknown} not in the split{examples('unknown')}")
    print(format_table(result["results"][:1]))
    if result["results"][0]["overall"].get("format_errors"):
        # Right answers without the reasoning block (a bare "<answer>4</answer>") score yet count here:
        # without this line the table read "100% accuracy, every reply a format error" with no reason.
        print("format errors: replies not written as <think>…</think> followed by each answer tag the "
              "question asks for; accuracy does not need that shape, the trainers' format reward does")
    if "note" in result.get("specialist", {}):
        print(f"\nspecialist {result['specialist']['run']}: {result['specialist']['note']}")
    elif "specialist" in result:
        n = result["specialist"]["move_questions"]
        spec = result["specialist"]
        model, specialist = result["results"][2], result["results"][1]
        # Its accuracy is None (n/a) only on questions whose full answer asks for more than a move (Snake's
        # fatal moves): a Rotation or Sokoban specialist's table has none, and the note named them anyway.
        cells = [specialist["overall"], *(c for k, v in specialist.items() if k.startswith("by_")
                                          for c in v.values())]
        na = any(c["n"] and c["accuracy"] is None for c in cells)
        print(f"\nThe {n} move question{'s' * (n != 1)}, answered by the model and by the specialist "
              f"{spec['checkpoint']} "
              f"(step {spec['step']:,}; its greedy action). Move acc.: the move named is one the "
              "engine calls best." + (" The specialist states only a move, so a full answer that must also "
                                      "list the fatal moves (Snake) is n/a for it." if na else ""))
        print(format_table([model, specialist], ("accuracy", "move_accuracy"),
                           ("game", "plot_level", "qa_level")))


# Keys every result of this script holds (vlm.scoring.score_files): how --force knows a file as its own.
RESULT_KEYS = frozenset({"split", "predictions", "records", "results"})


def earlier_result(path: Path) -> bool:
    """Whether ``path`` holds a result of this script, the only file ``--force`` replaces: a checkpoint
    or another command's file given as ``--out`` by mistake was replaced by the scores, and lost.
    ``ValueError`` naming ``--out`` where the system will not read it."""
    from agents.outputs import read_json_object

    try:
        data = read_json_object(path)
    except OSError as e:  # it may well be one: "no earlier result" blamed the file, not the read
        raise ValueError(f"--out {path} exists but cannot be read ({e.strerror or e}), so it is not known to "
                         "be an earlier result of this script, the only file --force replaces: make it "
                         "readable, or choose another name") from None
    return data is not None and data.keys() >= RESULT_KEYS


def specialist_model(args: argparse.Namespace) -> Path | None:
    """The model file --specialist plays (--checkpoint, else the run's model.zip or newest checkpoint), an
    input --out must not replace; None without --specialist or where the run has none (said later)."""
    from agents.runs import RunError, model_file

    if not args.specialist:
        return None
    try:
        return model_file(Path(args.specialist), args.checkpoint, "")
    except (RunError, OSError):
        return None


if __name__ == "__main__":
    run_script(main)
