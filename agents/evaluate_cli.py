"""What ``scripts/evaluate.py`` runs once its flags are parsed: the run's model (or a random agent, or a VLM
with ``--vlm``) plays seeded episodes; the scores are printed and written, with a video of the best
episode, into result files named so that no other model's or endpoint's results are replaced."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.cli import (
    EPISODE_STEP_CAP,
    EpisodeProgress,
    bar_size,
    check_episode_seeds,
    figure,
    given_path,
    mean_text,
    print_json,
    scored_as_stood,
)
from agents.interrupts import stop_signals_interrupt

STOPPED = "\ninterrupted: no new results written"
VIDEO_STEPS = 1000  # --video-steps' default: no flag default, so --no-video can tell it was given
GIVE_OUT = "give --out DIR to write the results elsewhere"  # a run folder one cannot write in
NAME_TRIES = 5  # --vlm's choices of a results name, each taken by another evaluation before it wrote


class Gone(Exception):
    """A --checkpoint file deleted between the start's check and its turn."""


def evaluate_command(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Evaluate as the parsed flags ``args`` of parser ``p`` say (flags that do not go together are
    ``p.error``). Returns the exit status: 0, 2 for an error said in one line, 130 for a stop."""
    from agents.vlm_client import refuse_unused_client_flags

    refuse_unused_client_flags(p, args)
    check_episode_seeds(p, args.seed, args.episodes)
    folders = [c for c in args.checkpoint or [] if os.path.isdir(c)]
    if not args.run_dir and folders:
        # --checkpoint takes every path after it: `--checkpoint FILE RUN` took the run folder as a model file.
        # A folder is none, so one among model files is the run; two say no more.
        if len(args.checkpoint) == 1:  # "before --checkpoint" left it no file: argparse's usage error
            p.error(f"--checkpoint {folders[0]} is a folder, not a model file: give the run folder without "
                    "--checkpoint to play its model.zip, or model files after --checkpoint")
        if len(folders) > 1:
            p.error(f"--checkpoint takes each path after it, {' and '.join(folders)} too: give the run "
                    "folder before --checkpoint")
        if not os.path.isfile(os.path.join(folders[0], "config.yaml")):  # no run either: 'not a run folder'
            p.error(f"--checkpoint {folders[0]} is a folder, not a model file, nor a run folder (no "
                    "config.yaml): give model files after --checkpoint, and the run folder before it")
        args.run_dir = folders[0]
        args.checkpoint.remove(folders[0])
    if args.random and (given := _given(args, "checkpoint", "stochastic", "vlm")):
        p.error(f"--random plays no model: drop {given}")
    if args.vlm and not (args.run_dir or args.env):
        p.error("--vlm needs a run folder or --env (the game to play)")
    if not (args.run_dir or args.vlm):
        p.error("give a run folder (or --vlm MODEL@URL with --env)")
    if args.run_dir and args.env:  # a run folder names its game
        p.error("--env is for --vlm without a run folder: the run folder names the game; drop it")
    from agents.preflight import evaluation_fixes_them, game_options_given, settings_beside_run
    from agents.train_cli import refuse_flag_and_set

    if args.run_dir and (why := settings_beside_run(args, "the run folder's config.yaml")):
        p.error(why)
    if args.run_dir and (game_options := game_options_given(args)):
        # The model was trained on its run's board (size, ROM, start state), and --vlm plays that one too.
        way_out = ("" if evaluation_fixes_them(args) else
                   " (or let a VLM play without a run folder: --vlm with --env)")
        p.error(f"{' and '.join(game_options)}: the run folder's config.yaml sets the game's options, which "
                f"its model was trained for; drop it{way_out}")
    refuse_flag_and_set(p, args, training=False)
    if args.vlm and (given := _given(args, "checkpoint", "stochastic")):
        p.error(f"--vlm plays no checkpoint: drop {given}")
    if args.no_video and args.video_steps:
        p.error("--video-steps sets the length of the video --no-video turns off: drop one of them")
    args.video_steps = args.video_steps or VIDEO_STEPS
    try:
        with stop_signals_interrupt():  # Ctrl-C and SIGTERM: a clean exit, no half-written file
            return evaluate_vlm(args) if args.vlm else evaluate(args)
    except KeyboardInterrupt:
        print(STOPPED, file=sys.stderr)
        return 130


def _given(args: argparse.Namespace, *names: str) -> str:
    """The flags among ``names`` that were given, as "--a, --b and --c" ("" for none): a refusal
    names only what the user typed."""
    from vlm.tasks import listed

    return listed([f"--{name}" for name in names if getattr(args, name)])


def evaluate(args: argparse.Namespace) -> int:
    """Play the run's model (or a random agent): scores, the best episode's video, eval-step<N>.json."""
    from tqdm import tqdm

    from agents.config import check_device
    from agents.evaluation import (
        RandomPolicy,
        check_fits,
        check_game,
        check_mp4_writer,
        check_trained_on,
        eval_kwargs,
        run_episodes,
        summarize,
    )
    from agents.outputs import check_output_folder, folder_identity, folders_made_for, not_written
    from agents.runs import RunError, model_file, read_run_config, replaced_aside, saved_env_tag, trained_env
    from agents.train import load_model
    from vlm.tasks import listed

    run = Path(args.run_dir)
    out = Path(args.out) if args.out else run  # --out: a run one cannot write in (a colleague's) too
    # Where the run is now, made absolute: "." read later would be the working folder, which a --force moves
    # aside with the old run, so the new run at its name went unseen.
    home = Path(os.path.abspath(run))
    identity = folder_identity(home)

    def same_run() -> None:
        # A train_ppo.py --force in another terminal, while the episodes played, moved the run aside and
        # made a new one at its name: its results went there, as eval-step<N> of a model it never trained.
        if not args.out and folder_identity(home) != identity:
            raise RunError(f"{given_path(run, home)} was replaced while this evaluation played (a "
                           "train_ppo.py --force moved the run aside and trains a new one there): the "
                           "results, of the replaced run's model, are not written into the new run")

    try:
        check_device(args.device)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        # A model file given as the run: said to go with --checkpoint, where one would be read.
        cfg = read_run_config(run, None if args.random or args.checkpoint else "--checkpoint")
        env_kwargs = eval_kwargs(cfg["env_kwargs"])  # a two-player game is scored against the greedy bot
        # Said before the episodes are played, not after.
        if args.out:
            try:
                check_output_folder(out, "--out", beside=False)  # its files are written inside
            except ValueError as e:
                raise RunError(str(e)) from None
        elif not os.access(run, os.W_OK):
            raise RunError(f"{run}: the run folder is not writable, and evaluate writes its results there; "
                           f"{GIVE_OUT}")
        if not args.no_video:
            check_mp4_writer()
        # The game alone, before any checkpoint: a start state or setting of the run's config.yaml that it
        # refuses is named here, not in a traceback, nor behind another game's checkpoint among several.
        spec = check_game(cfg["env"], env_kwargs)
        if args.random:
            ckpts: list[Path | None] = [None]
        else:
            # Every file before any play: a typo among many checkpoints is said before the long work.
            ckpts = [model_file(run, c, "give a model file with --checkpoint")
                     for c in args.checkpoint or [None]]
            # One file twice (a glob and one of its files again) played it twice, and a stop in the second
            # play said none of its results were written.
            first: dict[str, Path] = {}
            for c in ckpts:
                if (same := first.setdefault(os.path.realpath(c), c)) is not c:
                    also = f" (also as {same})" if str(same) != str(c) else ""
                    raise RunError(f"--checkpoint {c} is given twice{also}: give each model file once")
                # Another game's model: refused now, not at its turn, after the others' long plays.
                check_trained_on(trained_env(saved_env_tag(c), c), cfg["env"], c)
    except RunError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    def play_and_write(ckpt: Path | None, last: bool) -> None:
        """Play ``ckpt`` (None: the random agent), then write its results (added to ``written`` once in
        place) and print them; ``RunError`` names what failed. ``last``: the command's last output."""
        same_run()  # replaced since the last checkpoint's write: its next one is the new run's, not to play
        if ckpt is None:
            ckpt, model = Path("random"), RandomPolicy(args.seed)
        else:
            try:
                model = load_model(cfg, ckpt, device=args.device, run=run)
            except RunError:
                # Checked at the start: deleted since by a run still training (or the file a link names).
                if not os.path.exists(ckpt):
                    raise Gone from None
                raise
            check_fits(model, cfg["env"], env_kwargs, ckpt, spec)
        # Read now, as it was loaded: after the play the file may be gone or another (a --force, a training
        # run rewriting model.zip), and reading it then ended in a traceback.
        label = "" if args.random else foreign_label(None if args.out else run, ckpt)
        quiet = args.json or args.no_progress
        with tqdm(total=args.episodes, unit="ep", disable=quiet, **bar_size()) as bar:
            episodes = run_episodes(model, cfg["env"], env_kwargs, args.episodes, seed=args.seed,
                                    max_steps=max_steps(args), deterministic=not args.stochastic,
                                    progress=EpisodeProgress(bar))
        summary = summarize(episodes)
        actions = "random" if args.random else "sampled" if args.stochastic else "argmax"
        # Absolute, as the export's meta.json: the JSON stays in the run folder, read from anywhere later.
        summary.update(env=cfg["env"], env_kwargs=env_kwargs,
                       checkpoint="random" if args.random else os.path.abspath(ckpt),
                       step=int(model.num_timesteps), seed=args.seed, actions=actions,
                       max_steps=args.max_steps)
        # Each way of choosing actions keeps its own files: a sampled run never replaces the greedy one; nor
        # does another run's model at the same step replace this run's own (its files are named after it).
        step = f"eval-step{model.num_timesteps}{label}"
        tag = {"random": "eval-random", "sampled": f"{step}-stochastic", "argmax": step}[actions]
        # The sampled play's line says so: it read as the greedy one's, word for word
        who = ("random agent" if args.random else f"step {model.num_timesteps:,}"
               + (" (sampled actions)" if args.stochastic else ""))
        stem = out / (tag + cap_label(args))
        before = len(written)
        try:
            with folders_made_for(out):  # none left empty should the results not be written
                try:
                    out.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise RunError(f"--out {not_written(out, e)}") from None
                write_results(summary, stem, cfg["env"], env_kwargs, episodes, args, check=same_run,
                              last=last, placed=lambda: written.append(result_files(stem)[0]))
        except RunError as e:
            # The figures still, without the videos that were not written: a full disk cost the files, not
            # the episodes (a long Game Boy evaluation played again for them).
            for key in ("video", "gif", "best_episode_seed", "video_steps"):
                summary.pop(key, None)
            print_results(summary, f"{cfg['env']} {who}", args.json)
            raise RunError(f"{e}; the figures above are not saved") from None
        except KeyboardInterrupt:
            if len(written) > before:  # a stop in the renames comes after them: written, so printed too
                print_results(summary, f"{cfg['env']} {who}", args.json)
            raise
        print_results(summary, f"{cfg['env']} {who}", args.json)

    def kept() -> str:
        # Several checkpoints, stopped part-way: the results in place stay, and are named, and so are those
        # not evaluated, the skipped ones said as such (a failure's own error names only itself).
        rest = listed([f"{c} (deleted before its turn)" for c in skipped]
                      + [str(c) for c in ckpts[len(written) + len(skipped):]])
        if not written:
            return f"no results written for {rest}"
        done = f"results written for {len(written)} of {len(ckpts)} checkpoint{'s' * (len(ckpts) != 1)}"
        files = list(dict.fromkeys(written))  # each once: model.zip writes its step's checkpoint's file
        if not args.out and folder_identity(home) != identity:  # the paths now name the new run's files
            real = home.resolve()
            names, aside = ", ".join(f.name for f in files), real.parent / replaced_aside(real.name)
            return (f"{done} went with the replaced run ({names}: train_ppo.py --force moved it aside as "
                    f"{aside}, and deletes it once the new run finishes or stops with a checkpoint), "
                    f"none for {rest}")
        listing = f" ({', '.join(map(str, files))})" if files else ""
        return f"{done}{listing}, none for {rest}"

    written: list[Path] = []  # the results files in place, one a checkpoint, in turn
    skipped: list[Path | None] = []  # those deleted before their turn: the rest are still played
    why = "a run still training deletes all but its newest --keep-checkpoints as it saves"
    for i, ckpt in enumerate(ckpts):
        try:
            play_and_write(ckpt, i == len(ckpts) - 1)
        except Gone:
            if len(ckpts) == 1:  # no other to go on with: its error alone ("0 of 1 checkpoints" was none)
                said = f"--checkpoint {ckpt}" if args.checkpoint else ckpt  # without: the run's own model
                print(f"error: {said} was deleted after the start's check, before it was loaded"
                      f"{f' ({why})' if args.checkpoint else ''}; no results written", file=sys.stderr)
                return 2
            print(f"warning: --checkpoint {ckpt} was deleted before its turn ({why}); skipped",
                  file=sys.stderr, flush=True)
            skipped.append(ckpt)
        except RunError as e:
            print(f"error: {e}" + (f"; {kept()}" if written or skipped else ""), file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            if not (written or skipped):
                raise  # as for one checkpoint: no new results written
            print(f"\ninterrupted: {kept()}", file=sys.stderr)
            return 130
    if skipped:  # not every checkpoint asked for was evaluated
        print(f"error: {kept()}", file=sys.stderr)
        return 2
    return 0


def print_results(summary: dict[str, Any], who: str, as_json: bool) -> None:
    """An evaluation's figures, on standard output: one JSON object, or its lines for ``who`` played."""
    from vlm.tasks import plural

    if as_json:
        print_json(summary)
        return
    print(f"{who}, {plural(summary['episodes'], 'episode')}: "
          f"mean score {mean_text(summary['mean_score'])}, median {figure(summary['median_score'])}, "
          f"max {figure(summary['max_score'])}, mean length {summary['mean_length']:.1f}" + cut_note(summary))
    print_game_figures(summary)
    if "video" in summary:
        print(f"best episode (seed {summary['best_episode_seed']}): {summary['video']}, {summary['gif']}")


def cut_note(summary: dict[str, Any]) -> str:
    """The printed line's note of the episodes --max-steps, or without it EPISODE_STEP_CAP, cut (a model's or
    a VLM's), else nothing."""
    if not summary["capped"]:
        return ""
    at = ("--max-steps," if summary["max_steps"]
          else f"{EPISODE_STEP_CAP:,} moves, as no --max-steps was given;")
    return f" ({summary['capped']} cut at {at} {scored_as_stood(summary['capped'])})"


def print_game_figures(summary: dict[str, Any]) -> None:
    """The means of the game's own episode figures, if it has any (duel Snake's win, for one)."""
    figures = {k[5:]: v for k, v in summary.items()
               if k.startswith("mean_") and k not in ("mean_score", "mean_length", "mean_return")}
    if figures:
        print("means of the game's figures: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))


def foreign_label(run: Path | None, ckpt: Path) -> str:
    """``""`` for the run's own model.zip or checkpoints/ file; for any other model file ``-<its name>-<the
    first 8 hex digits of its SHA-1>``: two models with one step count never share result files, and
    evaluating the same file again replaces its own results. ``run`` None (results in an ``--out`` folder,
    which several runs' evaluations may share): every model file is labelled."""
    from agents.runs import file_sha1, file_slug

    file = ckpt.resolve()
    home = run.resolve() if run is not None else None
    if home is not None and (file == home / "model.zip" or file.parent == home / "checkpoints"):
        return ""
    return f"-{file_slug(ckpt.stem, 'model')}-{file_sha1(file)[:8]}"


def evaluate_vlm(args: argparse.Namespace) -> int:
    """``--vlm``: the VLM plays; scores, invalid answers, tokens, and a video of its best episode."""
    from tqdm import tqdm

    from agents.compare import (
        boards_memory_error,
        cached_answers_hint,
        check_play_memory,
        play_vlm,
        summarize_run,
        vlm_warnings,
    )
    from agents.evaluation import check_game, check_mp4_writer, eval_kwargs, summarize
    from agents.machine import out_of_memory
    from agents.outputs import folder_chain, folder_identity, make_again, make_output_folder, remove_folders
    from agents.preflight import flag_options, game_options_given
    from agents.runs import RUNS_DIR, RunError, file_slug, read_run_config
    from agents.vlm_client import ChatConfigError, client_from_args
    from agents.vlm_player import VLMPlayer
    from vlm.tasks import TaskModuleError, plural

    try:
        if args.run_dir:
            cfg = read_run_config(Path(args.run_dir))
            env, out = cfg["env"], Path(args.run_dir)
            env_kwargs = eval_kwargs(cfg["env_kwargs"])
        else:
            env, env_kwargs = args.env, {}
        # First whether a VLM can play the game at all (gameboy cannot, whatever its ROM), then the game.
        alone = "leave out --vlm" if args.run_dir else (
            f"give its run folder (a run trained on {env!r}) in place of --vlm and --env")
        player = VLMPlayer(client_from_args(args.vlm, args), env, args.concurrency, alone)
        if not args.run_dir and game_options_given(args):  # a ROM or board size it refuses names its flag
            env_kwargs, spec = flag_options(env, args)  # its one build: no second (a Game Boy boot) below
            # As compare plays them: the greedy opponent, no swarm restarts; the -opts name follows these
            env_kwargs = eval_kwargs(env_kwargs)
        else:
            spec = check_game(env, env_kwargs)  # a ROM or start state it cannot load: said before the play
        check_play_memory(env, args.episodes, spec, None)  # every episode at once: said before it too
        if not args.no_video:  # before the play, which may be paid for
            check_mp4_writer()
    except (RunError, ValueError, ModuleNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    slug = file_slug(player.name, "vlm")
    if args.out or not args.run_dir:
        out = Path(args.out) if args.out else RUNS_DIR / env / f"vlm-{slug}"
    in_run = args.run_dir and not args.out
    flag = "the run folder" if in_run else "--out" if args.out else "the results folder"
    try:  # before the play: a folder whose every name is another endpoint's is said before any request
        vlm_stem(out, player.client.endpoint, cap_label(args, env_kwargs))
    except RunError as e:
        print(f"error: {flag} {out}: {e}", file=sys.stderr)
        return 2
    try:  # before the play, which may be paid for: a full disk is found now, not once the answers are in
        # removed again if the play fails; a run one cannot write in (a colleague's) is told of --out
        made = make_output_folder(out, flag, GIVE_OUT if in_run else "choose another place")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    home = Path(os.path.abspath(out))  # "." read later would be the working folder, moved aside with the run
    identity, chain = folder_identity(home), folder_chain(home)

    def same_out() -> None:
        # A train_ppo.py --force in another terminal moved the run aside and made a new one at its name
        # (maybe of another game): these results, of the old run's game settings, are not for it.
        if folder_identity(home) != identity:
            raise RunError("was replaced while this evaluation played (a train_ppo.py --force of the run?): "
                           "the results are not written into the folder now there")
    said = False  # the stop's message is printed at once, before the requests on the wire are awaited
    try:
        with player:
            try:
                with tqdm(total=args.episodes, unit="ep", disable=args.json or args.no_progress,
                          **bar_size()) as bar:
                    played = play_vlm(player, env, env_kwargs, args.episodes, args.seed, max_steps(args),
                                      progress=EpisodeProgress(bar))
            except KeyboardInterrupt:
                print(STOPPED, file=sys.stderr)
                said = True
                raise
    except BaseException as e:  # a failed start (or Ctrl-C) leaves no empty folder made for it
        remove_folders(made)
        if said and isinstance(e, KeyboardInterrupt):
            return 130
        if out_of_memory(e):  # every episode at once, past what check_play_memory could see
            print(f"error: {boards_memory_error(args.episodes, e)}", file=sys.stderr)
            return 2
        if not isinstance(e, (ChatConfigError, TaskModuleError)):  # the package's line, not a traceback
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    episodes = played.episodes
    summary = summarize(episodes)
    vlm = summarize_run(played, None)
    summary.update({k: vlm[k] for k in ("invalid", "invalid_rate", "invalid_by_status", "cut_at_max_tokens",
                                        "cut_short_of_max_tokens", "tokens_per_episode",
                                        "answers_without_token_counts", "best_move_rate",
                                        "verifier_accuracy", "cached_answers", "decisions_per_s",
                                        "parameters")},
                   env=env, env_kwargs=env_kwargs, max_steps=args.max_steps, vlm=str(player.client.endpoint),
                   seed=args.seed, client=played.about["client"])
    # Gone: another evaluation into it (two endpoints' into one new vlm-<model>/) failed and removed it,
    # empty. Made again, not taken for a folder replaced; a run folder never is (no results folder).
    if not in_run and make_again(home, chain):
        identity = folder_identity(home)
    try:
        same_out()  # gone with the folder above it: said so now, not as a file that could not be written
        stem, why = write_vlm_results(summary, out, player.client.endpoint, env, env_kwargs, episodes, args,
                                      same_out)
    except RunError as e:  # a disk that filled up during the play, every name taken, the folder replaced
        fix = "see what is there now" if folder_identity(home) != identity else "free some space"
        remove_folders(made)  # nothing was written into them
        kept = cached_answers_hint([player], "" if in_run else " (or give another --out)", fix)
        print(f"error: {flag} {given_path(out, home)}: {e}{kept}", file=sys.stderr)
        return 2
    except BaseException:  # a stop while the best episode is replayed or encoded: nothing written either
        remove_folders(made)
        raise
    if args.json:
        print_json(summary)
    else:
        print(f"{env} with {player.client.endpoint}, {plural(summary['episodes'], 'episode')}: mean score "
              f"{mean_text(summary['mean_score'])}, max {figure(summary['max_score'])}, invalid answers "
              f"{summary['invalid']} ({summary['invalid_rate']:.1%}), {summary['tokens_per_episode']:,.0f} "
              f"tokens per episode{cut_note(summary)}")
        print_game_figures(summary)
        if "video" in summary:
            print(f"best episode (seed {summary['best_episode_seed']}): {summary['video']}, {summary['gif']}")
    if why:
        print(f"note: {why}; these of {player.client.endpoint} are in {out / stem}.json", file=sys.stderr)
    for hint in vlm_warnings(vlm):
        print("warning: " + hint, file=sys.stderr)
    return 0


def write_vlm_results(summary: dict[str, Any], out: Path, endpoint: Any, env: str, env_kwargs: dict[str, Any],
                      episodes: list[Any], args: argparse.Namespace,
                      check: Callable[[], None] | None = None) -> tuple[str, str]:
    """``write_results`` in ``out`` under ``vlm_stem``'s name, chosen again now that the play is over, and
    a free name taken only where no file is (``new``): another endpoint's evaluation that chose the same
    free name and wrote first (in the play, or while the videos were made) keeps its results, and this one
    chooses again. Returns the name and ``vlm_stem``'s note."""
    from agents.runs import RunError

    for _ in range(NAME_TRIES):
        stem, why, free = vlm_stem(out, endpoint, cap_label(args, env_kwargs))
        try:
            write_results(summary, out / stem, env, env_kwargs, episodes, args, new=free, check=check)
            return stem, why
        except FileExistsError:  # taken since vlm_stem looked: now another's, or this endpoint's own
            continue
    raise RunError(f"other evaluations took the results' names {NAME_TRIES} times while this one wrote; "
                   "run it again")


def vlm_stem(out: Path, endpoint: Any, cap: str) -> tuple[str, str, bool]:
    """The name (without ``.json``) of ``--vlm``'s results in ``out``; where that is not the plain
    ``eval-vlm-<model><cap>``, what holds the plain name; and whether the name is free (none of its files
    is there: written only where none is, never over another's written meanwhile). The same model name
    served elsewhere (two quantisations, vLLM and SGLang) must not replace another endpoint's results,
    which compare reports as ``MODEL@host:port`` each: a name holding another endpoint's results passes to
    ``eval-vlm-<model>@<host>-<port><cap>``, then to that plus the endpoint's digest. A re-run at an
    endpoint replaces its own results, wherever they are."""
    import hashlib
    from urllib.parse import urlsplit

    from agents.runs import RunError, file_slug

    slug, host = file_slug(endpoint.model, "vlm"), file_slug(urlsplit(endpoint.base_url).netloc, "host")
    digest = hashlib.sha1(endpoint.chat_url.encode()).hexdigest()[:8]  # .../v1, .../v1/chat/completions: one
    stems = [f"eval-vlm-{slug}{cap}", f"eval-vlm-{slug}@{host}{cap}", f"eval-vlm-{slug}@{host}-{digest}{cap}"]
    owners = {stem: stem_owner(out / stem) for stem in stems}
    mine = [stem for stem in stems if owners[stem] is not None and same_endpoint(owners[stem], endpoint)]
    free = [stem for stem in stems if owners[stem] is None]
    if not (mine or free):  # a digest's clash, or files that name no endpoint: nothing is replaced unasked
        raise RunError(f"{', '.join(s + '.json' for s in stems)} all hold results of endpoints other "
                       f"than {endpoint}: move one of them away")
    stem = (mine or free)[0]
    if stem == stems[0]:
        return stem, "", not mine
    plain = owners[stems[0]]
    if plain is None:  # its own, kept under the name they had
        return stem, f"{stem}.json held its earlier results", not mine
    if plain or os.path.lexists(out / f"{stems[0]}.json"):
        return stem, f"{stems[0]}.json holds the results of {plain or 'another endpoint'}", not mine
    return stem, f"{stems[0]}-best.mp4/.gif are there without their .json", not mine


def stem_owner(stem: Path) -> str | None:
    """``results_endpoint`` of ``<stem>.json``; ``""`` where only its videos are (their results moved away:
    written only where no file is, the name is not free); None where none of its files is there."""
    json_file, *videos = result_files(stem)
    owner = results_endpoint(json_file)
    return "" if owner is None and any(os.path.lexists(v) for v in videos) else owner


def results_endpoint(path: Path) -> str | None:
    """The ``vlm`` (``MODEL@URL``) an ``evaluate.py --vlm`` results file names; ``""`` for a file that
    names none (unreadable: kept, as another's); None where there is no file."""
    if not os.path.lexists(path):
        return None
    from agents.outputs import json_object_or_none

    vlm = (json_object_or_none(path) or {}).get("vlm")
    return vlm if isinstance(vlm, str) else ""


def same_endpoint(spec: str, endpoint: Any) -> bool:
    """Whether ``spec`` (a results file's ``MODEL@URL``) is ``endpoint``: compared as compare.py compares
    its ``--vlm``s, by model and the URL requests go to."""
    from agents.vlm_client import Endpoint

    try:
        other = Endpoint.parse(spec)
    except ValueError:
        return False
    return (other.model, other.chat_url) == (endpoint.model, endpoint.chat_url)


def max_steps(args: argparse.Namespace) -> int:
    """Moves an episode may last: ``--max-steps``, else the game's own limits, at most EPISODE_STEP_CAP."""
    return args.max_steps or EPISODE_STEP_CAP


def cap_label(args: argparse.Namespace, env_kwargs: dict[str, Any] | None = None) -> str:
    """A capped evaluation keeps its own files: it never replaces the full one of the same model. So does a
    VLM's play of a game given options without a run folder (``--size 12``): its files never replace those
    of the defaults or of other options (``-opts`` and a digest of the options played, ``eval_kwargs``'s).
    Options at the game's defaults (``--size 10`` for snake) are left out of it: the same play, the same
    files, those of the defaults where none other is given."""
    label = f"-max{args.max_steps}" if args.max_steps else ""
    if env_kwargs and not args.run_dir:
        import hashlib

        from agents.preflight import absolute_paths
        from agents.runs import game_defaults

        defaults = game_defaults(args.env)
        absolute_paths(args.env, defaults)  # as the given paths are stored (add_game_flags)
        changed = {k: v for k, v in env_kwargs.items() if k not in defaults or v != defaults[k]}
        if changed:
            digest = hashlib.sha1(json.dumps(changed, sort_keys=True, default=str).encode()).hexdigest()[:8]
            label += f"-opts{digest}"
    return label


def result_files(stem: Path) -> list[Path]:
    """An evaluation's files at ``stem``: its JSON, then its best episode's MP4 and GIF."""
    # Names built by hand: a model's slug may hold dots, which with_suffix would take for a suffix.
    return [stem.with_name(f"{stem.name}{end}") for end in (".json", "-best.mp4", "-best.gif")]


def write_results(summary: dict[str, Any], stem: Path, env: str, env_kwargs: dict[str, Any],
                  episodes: list[Any], args: argparse.Namespace, new: bool = False,
                  check: Callable[[], None] | None = None, last: bool = True,
                  placed: Callable[[], None] | None = None) -> None:
    """``<stem>.json`` and, unless --no-video, the best episode replayed into ``<stem>-best.mp4``/``.gif``
    (its last --video-steps steps), all replaced together or not at all; the summary names the videos.
    With --no-video an older evaluation's videos at this stem go with its JSON. ``new``: written only where
    none of the files is, ``FileExistsError`` otherwise (``written_together``). ``check``: called last, before
    the files are put in place; what it raises leaves none of them. ``last``: the command's last output
    (once in place, a stop is ignored); else a stop in the renames comes after them and ``placed``."""
    from agents.cli import progress_bar
    from agents.evaluation import best_episode, replay_frames, write_video
    from agents.outputs import not_written, written_together
    from agents.runs import RunError, remove_dead_eval_temps

    remove_dead_eval_temps(stem.parent)
    files = result_files(stem)
    if args.no_video:  # an older evaluation's videos would sit beside a JSON that is not theirs
        files, stale = files[:1], files[1:]
    else:
        stale = []
    try:
        # The command's last output (of several checkpoints', the last's): once in place, a signal is ignored
        # (it said no new results were written).
        with written_together(files, stale, last=last, new=new, placed=placed) as tmps:
            if not args.no_video:
                best = best_episode(episodes)
                # A Game Boy episode of 8,192 steps replays in about 5 s of CPU (more at load), its
                # episodes' bar closed: one of its own, as the episodes' shown
                with progress_bar(len(best.actions), "replaying the best episode", "step",
                                  not (args.json or args.no_progress)) as bar:
                    frames = replay_frames(env, env_kwargs, best.seed, best.actions, last=args.video_steps,
                                           bar=bar)
                for tmp in tmps[1:]:
                    write_video(frames, tmp)
                summary.update(video=os.path.abspath(files[1]), gif=os.path.abspath(files[2]),
                               best_episode_seed=best.seed, video_steps=len(frames) - 1)
            if "per_episode" in summary:  # last (--json prints it so too): the run and files come first
                summary["per_episode"] = summary.pop("per_episode")
            tmps[0].write_text(json.dumps(summary, indent=2))
            if check is not None:
                check()
    except OSError as e:  # a full disk: the previous results stay, all of them
        if new and isinstance(e, FileExistsError):  # another's file in the way: for the caller to say
            raise
        raise RunError(not_written(f"{files[0]}{' and its videos' if len(files) > 1 else ''}", e)) from None
