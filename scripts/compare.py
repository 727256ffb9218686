#!/usr/bin/env python
"""Depth versus breadth: the trained specialist and one or more VLMs play the same seeded episodes.

    python scripts/compare.py --env snake --specialist runs/snake/<run> \\
        --vlm qwen2.5-vl-7b@http://localhost:8000/v1 [--vlm gpt-4o@https://api.openai.com/v1] \\
        --episodes 20 [--out DIR] [--price-per-1k-tokens gpt-4o=0.0025,0.01]

Writes report.md (tables, plots, the VLMs' worst decisions with their reasoning), report.json and PNG
plots into --out (default: <specialist run>/compare-<time>, or runs/<env>/compare-<time> without
--specialist). Either side may be left out: --specialist alone needs no server. Any OpenAI-compatible
chat-completions endpoint works (vLLM, SGLang, llama.cpp's llama-server, Ollama, LM Studio, OpenAI); the
API key is read from --api-key-env. Answers are cached on disk, so re-running the same comparison sends
no request.
"""

from __future__ import annotations

import agents.startup  # noqa: F401 (first: a Ctrl-C during the imports below exits 130)

# isort: split
import sys
import time
from pathlib import Path

from agents.cli import (
    EPISODE_SEED,
    EPISODE_STEP_CAP,
    add_game_arguments,
    add_specialist_argument,
    check_episode_seeds,
    game_arg,
    max_steps_arg,
    mean_text,
    nonneg_int,
    path_arg,
    positive_int,
    rerun_command,
    run_script,
    scored_as_stood,
    script_parser,
    set_arg,
    specialist_args,
    vlm_arg,
)
from agents.config import DEVICES, device_name

FRAMES = 6  # --frames' default, the worst decisions shown per VLM


def main(argv: list[str] | None = None) -> int:
    from agents.vlm_client import add_client_arguments, refuse_unused_client_flags

    p = script_parser(__doc__)
    p.add_argument("--env", type=game_arg,
                   help="the game (as in envs.GAMES), e.g. snake (default: the --specialist run's)")
    add_specialist_argument(p, "a run folder written by scripts/train_ppo.py")
    p.add_argument("--checkpoint", type=path_arg,
                   help="the specialist's model file (default: the run's model.zip or newest checkpoint, as "
                   "in evaluate.py and export_trajectories.py)")
    p.add_argument("--vlm", type=vlm_arg, action="append", default=[], metavar="MODEL@URL",
                   help="a VLM endpoint, e.g. qwen2.5-vl-7b@http://localhost:8000/v1 (repeatable)")
    p.add_argument("--episodes", type=positive_int, default=20,
                   help="episodes each player plays (default 20)")
    p.add_argument("--seed", type=nonneg_int, default=EPISODE_SEED,
                   help=f"episode k is seeded seed+k, below 2**64 (default {EPISODE_SEED})")
    p.add_argument("--max-steps", type=max_steps_arg, help="cut every episode after this many moves "
                   f"(both sides alike; default: the game's own limits, at most {EPISODE_STEP_CAP:,})")
    p.add_argument("--out", type=path_arg, help="report folder (default <specialist>/compare-<time>, "
                   "or runs/<env>/compare-<time> without --specialist)")
    p.add_argument("--overwrite", action="store_true", help="replace the report in an existing --out")
    p.add_argument("--price-per-1k-tokens", action="append", metavar="[MODEL=]PRICE[,COMPLETION]",
                   help="API price per 1,000 tokens, for the cost estimate (one price for prompt and "
                   "completion, or both; without MODEL= it applies to every VLM; repeatable)")
    p.add_argument("--vlm-params", action="append", metavar="MODEL=COUNT",
                   help="a VLM's parameter count (e.g. gpt-4o=200B); default: read from the model name")
    # None until parsed: given without --vlm, it is refused (it would do nothing)
    p.add_argument("--frames", type=nonneg_int, help=f"worst decisions shown per VLM (default {FRAMES})")
    # None until parsed: see specialist_args.
    p.add_argument("--device", type=device_name,
                   help=f"torch device for the specialist: {DEVICES} (default cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # The game's options where no --specialist run's config.yaml gives them (the VLMs alone), as train_ppo.py
    # takes them
    add_game_arguments(p, training=False)
    p.add_argument("--set", action="append", default=[], metavar="env_kwargs.KEY=VALUE", type=set_arg,
                   help="any other game option, without --specialist, e.g. --set env_kwargs.max_steps=500")
    add_client_arguments(p)
    args = p.parse_args(argv)
    specialist_args(p, args, "compare.py plays one run; to compare runs, evaluate each (evaluate.py RUN "
                      "--json) with the same --seed and --episodes")
    refuse_unused_client_flags(p, args)
    if args.frames is not None and not args.vlm:
        p.error("--frames is for the --vlm models (their worst decisions), and no --vlm is given: drop it or "
                "add a --vlm")
    args.frames = FRAMES if args.frames is None else args.frames
    check_episode_seeds(p, args.seed, args.episodes)
    if args.env is None and args.vlm and not args.specialist:
        p.error("--env is required without --specialist (a run folder names its game)")
    from agents.preflight import evaluation_fixes_them, game_options_given, settings_beside_run
    from agents.train_cli import refuse_flag_and_set

    if args.specialist and (why := settings_beside_run(args, "the --specialist run's config.yaml")):
        p.error(why)
    game_options = game_options_given(args)
    if args.specialist and game_options:
        # The model was trained on its run's board (size, ROM, start state): it plays that one only.
        way_out = "" if evaluation_fixes_them(args) else " (or compare the VLMs alone, without --specialist)"
        p.error(f"{' and '.join(game_options)}: the --specialist run's config.yaml sets the game's options, "
                f"which its model was trained for; drop it{way_out}")
    refuse_flag_and_set(p, args, training=False)

    from agents.compare import (
        DEFAULT_OUT,
        boards_memory_error,
        check_cache_outside,
        compare,
        parse_params,
        parse_prices,
        reserve_default_out,
        vlm_warnings,
    )
    from agents.config import check_device
    from agents.interrupts import stop_signals_interrupt
    from agents.machine import out_of_memory
    from agents.outputs import MadeFolders
    from agents.preflight import flag_options
    from agents.runs import RUNS_DIR
    from agents.vlm_client import ChatConfigError, cache_root, client_from_args
    from agents.vlm_player import VLMPlayer
    from envs.gameboy.roms import RomError
    from vlm.tasks import plural

    if args.env is None and args.specialist:  # the run names its game, as evaluate and the export read it
        from agents.runs import RunError, read_run_config

        try:
            # A model file given as the run: said to go with --checkpoint, where one would be read. Its game
            # only: load_specialist reads the run again and warns of its ROM and start state (once).
            args.env = read_run_config(Path(args.specialist), None if args.checkpoint else "--checkpoint",
                                       warn=False)["env"]
        except RunError as e:
            print(f"error: --specialist {e}", file=sys.stderr)
            return 2
    env = args.env or ""  # none only with nothing to compare, which compare() says before any use
    players = []
    reserved = MadeFolders([])  # the default folder, made here (and removed again if the comparison fails)
    command = rerun_command(__file__, argv)
    stopped = "\ninterrupted: no report written" + (
        " (the VLM answers so far are cached for a re-run)" if args.vlm and not args.no_cache else "")
    try:
        # Ctrl-C and SIGTERM: no report, answers so far stay cached. The players close inside it, so a
        # repeat while the requests on the wire are awaited is ignored (it was an exit with a traceback).
        with stop_signals_interrupt():
            try:
                check_device(args.device)
                prices = parse_prices(args.price_per_1k_tokens)
                params = parse_params(args.vlm_params)
                if args.out and args.vlm and (cache := cache_root(args)) is not None:
                    # before the clients make the cache folder: a refused one left it in --out, which then
                    # refused the corrected command as not empty
                    check_cache_outside(cache[0], Path(args.out))
                # Leaving out --vlm plays the specialist alone only where one is given.
                alone = "leave out --vlm" if args.specialist else (
                    f"give --specialist RUN (a run trained on {env!r}) and leave out --vlm")
                for spec in args.vlm:
                    players.append(VLMPlayer(client_from_args(spec, args), env, args.concurrency, alone))
                # Once a VLM is known to play the game, and before any request: a ROM or board size it refuses
                # its one build, which compare() takes as the game's: no second (a Game Boy boot). With no
                # player, compare() says there is nothing to compare (no game to check options on, maybe)
                env_kwargs, game_spec = flag_options(env, args) if game_options and players else ({}, None)
                if args.out:
                    out = Path(args.out)
                else:
                    stamp = time.strftime("%Y%m%d-%H%M%S")
                    parent = Path(args.specialist) if args.specialist else RUNS_DIR / env
                    out = parent / f"compare-{stamp}"
                    if not args.specialist or parent.is_dir():  # a missing run: compare() names it
                        # Held: a train_ppo.py --force moving the run aside takes the folder with it.
                        out, reserved = reserve_default_out(out)
                try:
                    report = compare(env, out, args.episodes, args.seed,
                                     specialist=Path(args.specialist) if args.specialist else None,
                                     players=players, prices=prices, vlm_params=params,
                                     max_steps=args.max_steps, device=args.device, frames_per_vlm=args.frames,
                                     command=command, overwrite=args.overwrite,
                                     show_progress=not args.no_progress,
                                     checkpoint=Path(args.checkpoint) if args.checkpoint else None,
                                     env_kwargs=env_kwargs, game_spec=game_spec,
                                     flag="--out" if args.out else DEFAULT_OUT)
                except BaseException:
                    reserved.remove()  # the default folder made above, still empty: no report
                    raise
                finally:
                    reserved.close()  # and its mark: this comparison plays for the folder no more
                # The report is in place, and compare() ignores stop signals from then on (settled).
            except (ValueError, ChatConfigError, ModuleNotFoundError, RomError) as e:  # CompareError too
                print(f"error: {e}", file=sys.stderr)
                return 2
            except (MemoryError, RuntimeError) as e:  # every episode is a board, all played at once
                if not out_of_memory(e):
                    raise
                print(f"error: {boards_memory_error(args.episodes, e)}", file=sys.stderr)
                return 2
            except KeyboardInterrupt:
                print(stopped, file=sys.stderr)  # said at once: the requests on the wire are awaited next
                return 130
            finally:
                for player in players:
                    player.close()
            for s in report["players"]:  # said with stop signals ignored: the report is in place
                rate = "n/a" if s["success_rate"] is None else f"{s['success_rate']:.0%}"
                cut = (f", {s['capped']:,} of {plural(s['episodes'], 'episode')} cut at the step limit "
                       f"({scored_as_stood(s['capped'])})" if s["capped"] else "")
                print(f"{s['name']:>28}: mean score {mean_text(s['mean_score'])}, success {rate}, "
                      f"invalid {s['invalid_rate']:.1%}, {s['decisions_per_s'] or 0:,.1f} decisions/s{cut}")
            for s in report["players"]:
                for hint in vlm_warnings(s):
                    print("warning: " + hint, file=sys.stderr)
            print(f"report: {out / 'report.md'}")
    except KeyboardInterrupt:  # a first signal while the players closed after an error
        print(stopped, file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    run_script(main)
