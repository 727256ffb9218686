"""The VLM player against the loopback chat server: same prompt and parser as the task records, counted
fallbacks, concurrent episodes, and scripts/evaluate.py with --vlm."""

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from agents.evaluation import replay_frames, run_episodes
from agents.vlm_client import ChatClient, ChatConfigError, ChatError, Endpoint
from agents.vlm_player import VLMPlayer, fallback_move, legal_moves
from envs import make_game
from envs.rng import seeds_from
from tests.chat_server import ChatServer, Reply, bad_request, good, server_error
from tests.conftest import removed_during_play
from tests.signals import stop_signal_after_condition_wait_releases_its_lock
from vlm.tasks import task_module
from vlm.verify import parse_move, reference_response

OPPOSITE = {"UP": "DOWN", "DOWN": "UP", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def snake_state(seed=3):
    game = make_game("snake", 1)
    game.reset(np.zeros(1, dtype=np.int64), seeds_from(seed, 1))
    return game.get_state(0)


def player(server, concurrency=4, **kw):
    kw.setdefault("backoff", 0.001)
    kw.setdefault("timeout", 2.0)
    client = ChatClient(Endpoint("toy-vl-3b", server.url), api_key_env=None, **kw)
    return VLMPlayer(client, "snake", concurrency)


def best_worst(best, worst="None"):
    return f"<think>looking</think><best_answer>{best}</best_answer><worst_answer>{worst}</worst_answer>"


def test_the_prompt_is_the_task_records_move_question():
    state = snake_state()
    draft = task_module("snake").move_task(state)
    with ChatServer([good(reference_response(draft), prompt_tokens=900, completion_tokens=40)]) as server:
        d = player(server).decide(state, step=0)
    content = server.requests[0]["messages"][0]["content"]
    assert content[-1] == {"type": "text", "text": draft.question}
    assert len([p for p in content if p["type"] == "image_url"]) == len(draft.images)
    best = draft.verifier["good"][0]
    assert (d.status, d.move, d.answer, d.correct, d.good_move) == ("ok", best, best, 1.0, 1.0)
    assert (d.prompt_tokens, d.completion_tokens) == (900, 40)


def test_a_built_in_move_tasks_exception_keeps_its_own_type_and_message(monkeypatch):
    # A package's move_task that raises is said as a TaskModuleError naming its line; a built-in module's is
    # a bug of this project, which its own exception and traceback report best.
    def move_task(state):
        raise RuntimeError("a bug")

    with ChatServer(default=lambda body: good("<answer>UP</answer>")) as server:
        p = player(server)
        monkeypatch.setattr(p.tasks, "move_task", move_task)
        with pytest.raises(RuntimeError) as raised:
            p.decide(snake_state())
    assert (type(raised.value), str(raised.value)) == (RuntimeError, "a bug")
    assert server.hits == 0


def test_a_reasoning_models_reasoning_is_kept_in_the_decision_log():
    # The README: reasoning sent apart from the answer is kept in the decision log (shown with the worst
    # decisions); only the answer is parsed.
    state = snake_state()
    draft = task_module("snake").move_task(state)
    with ChatServer([good(reference_response(draft), reasoning="The apple is to the left.")]) as server:
        d = player(server).decide(state)
    assert (d.status, d.reasoning) == ("ok", "The apple is to the left.")
    assert d.to_dict()["reasoning"] == "The apple is to the left."


def test_the_move_is_read_from_the_answer_not_from_the_reasoning():
    # A reasoning model's thinking weighs moves it does not choose: a legal move the reasoning alone names
    # (and that the parser would read there) is not the one played, the answer's is.
    state = snake_state()
    draft = task_module("snake").move_task(state)
    best = draft.verifier["good"][0]
    other = next(m for m in legal_moves("snake", state) if m != best)
    thinking = f"{other} is safe."
    assert parse_move(thinking, draft) == other  # the reasoning on its own would read as that move
    with ChatServer([good(best_worst(best), reasoning=thinking)]) as server:
        d = player(server).decide(state)
    assert (d.status, d.answer, d.move, d.good_move) == ("ok", best, best, 1.0)
    assert d.reasoning == thinking


def test_every_image_of_the_move_question_is_sent():
    # The question's images all go with the prompt, in order (the games' move questions have one today).
    import dataclasses
    from types import SimpleNamespace

    state = snake_state()
    move_task = task_module("snake").move_task
    draft = move_task(state)
    two = [draft.images[0], np.zeros((8, 8, 3), np.uint8)]
    with ChatServer([good(reference_response(draft))]) as server:
        p = player(server)
        p.tasks = SimpleNamespace(move_task=lambda s: dataclasses.replace(move_task(s), images=two))
        p.decide(state)
    parts = server.requests[0]["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]


def test_an_unscored_move_question_gives_no_accuracy_figures():
    import dataclasses
    from types import SimpleNamespace

    state = snake_state()
    move_task = task_module("snake").move_task
    draft = move_task(state)
    with ChatServer([good(reference_response(draft))]) as server:
        p = player(server)
        # As Pokémon's question: any button is legal, none is scored.
        unscored = {"scored": False}
        p.tasks = SimpleNamespace(move_task=lambda s: dataclasses.replace(move_task(s), extra=unscored))
        d = p.decide(state)
    assert d.status == "ok" and d.correct is None and d.good_move is None


def test_unparseable_illegal_and_failed_answers_play_the_counted_fallback():
    state = snake_state()
    heading = state["direction"]
    back = OPPOSITE[heading]
    assert fallback_move("snake", state) == heading and back not in legal_moves("snake", state)
    script = [good("I think the snake should go somewhere nice."),  # no move
              good(best_worst("UP, LEFT")),  # two moves named: ambiguous
              good(best_worst(back)),  # back into the neck: illegal
              server_error(500), server_error(500)]  # no answer at all (max_retries=1)
    with ChatServer(script) as server:
        p = player(server, max_retries=1)
        decisions = [p.decide(state) for _ in range(4)]
    assert [d.status for d in decisions] == ["unparseable", "unparseable", "illegal", "error"]
    assert all(d.move == heading and not d.valid for d in decisions)
    # The action played is the fallback's too, a failed request's included (not action 0).
    assert [d.action for d in decisions] == [p.action_names.index(heading)] * 4
    assert decisions[2].answer == back
    assert "gave up after 2 attempts" in decisions[3].error
    assert not decisions[3].cached  # no answer came: none is counted among the report's cached_answers
    assert decisions[0].correct == 0.0


def test_none_where_every_move_is_fatal_is_a_valid_answer_not_an_unparseable_one():
    # The head in the top-left corner, heading left, its neck to the right and its body below: every move
    # is fatal, and the prompt asks for "None" as the best move then. That answer is right (the verifier
    # gives it 1.0), so it must not count as an invalid (unparseable) one.
    state = {"game": "snake", "size": 6, "body": [[0, 0], [1, 0], [1, 1], [0, 1], [0, 2]], "apple": [1, 4],
             "direction": "LEFT", "step": 15, "steps_since_apple": 2, "starvation": 72, "score": 2,
             "done": False, "crash": None, "rng": 13064056694810537472}
    assert task_module("snake").move_task(state).verifier["good"] == []
    script = [good(best_worst("None", "UP, DOWN, LEFT, RIGHT")),
              good("I cannot tell.")]  # still unparseable
    with ChatServer(script) as server:
        p = player(server)
        right, junk = p.decide(state), p.decide(state)
    assert (right.status, right.valid, right.answer, right.correct) == ("ok", True, None, 1.0)
    assert right.move == fallback_move("snake", state)
    assert (junk.status, junk.valid) == ("unparseable", False)


def test_none_where_every_move_is_fatal_is_valid_whatever_the_fatal_list_says():
    # Validity is the move's, as for a named move: "None" with a wrong fatal list (RIGHT, the move back into
    # the neck, which goes straight on into the wall, left out) scores 0 but is no unparseable answer. It
    # was counted unparseable, since only a wholly right answer was taken as "None".
    state = {"game": "snake", "size": 6, "body": [[0, 0], [1, 0], [1, 1], [0, 1], [0, 2]], "apple": [1, 4],
             "direction": "LEFT", "step": 15, "steps_since_apple": 2, "starvation": 72, "score": 2,
             "done": False, "crash": None, "rng": 13064056694810537472}
    script = [good(best_worst("None", "UP, DOWN, LEFT")),
              good(best_worst("unclear", "UP, DOWN, LEFT, RIGHT"))]  # names neither a move nor None
    with ChatServer(script) as server:
        p = player(server)
        wrong_list, junk = p.decide(state), p.decide(state)
    assert (wrong_list.status, wrong_list.answer, wrong_list.correct) == ("ok", None, 0.0)
    assert wrong_list.move == fallback_move("snake", state)
    assert junk.status == "unparseable"


def test_a_legal_move_that_is_not_the_best_is_played_but_not_a_good_move():
    state = snake_state()  # heading DOWN: DOWN, LEFT and RIGHT are legal, LEFT alone is best
    best = task_module("snake").move_task(state).verifier["good"]
    other = next(m for m in legal_moves("snake", state) if m not in best)
    with ChatServer([good(best_worst(other)), good(best_worst(best[0]))]) as server:
        p = player(server)
        poor, right = p.decide(state), p.decide(state)
    assert (poor.status, poor.move, poor.action, poor.good_move) == ("ok", other, p.action_names.index(other),
                                                                     0.0)
    assert (right.status, right.move, right.good_move) == ("ok", best[0], 1.0)


def test_a_fallback_that_happens_to_be_best_is_no_good_move_of_the_model():
    # good_move is the model's: the move it named. Seed 6 heads UP, which is best: an unreadable or illegal
    # answer plays UP as the fallback, but the model named no best move. The latency is the answer's.
    state = snake_state(6)
    assert task_module("snake").move_task(state).verifier["good"] == ["UP", "RIGHT"]
    assert fallback_move("snake", state) == "UP"
    script = [good("The snake should go somewhere nice.", delay=0.05), good(best_worst("DOWN"))]
    with ChatServer(script) as server:
        p = player(server)
        junk, back = p.decide(state), p.decide(state)
    assert [(d.status, d.move, d.good_move) for d in (junk, back)] == [("unparseable", "UP", 0.0),
                                                                       ("illegal", "UP", 0.0)]
    assert junk.latency_s >= 0.05


def test_only_an_answer_stopped_at_the_token_limit_is_cut_short():
    from agents.vlm_player import Decision

    def ended(reason):
        return Decision(0, 0, "UP", "UP", "ok", "", None, 0, 0, 0.0, False, finish_reason=reason)

    # vLLM and OpenAI say "stop" for every answer that ended by itself.
    assert [ended(r).cut_short for r in ("length", "stop", "content_filter", None)] == [True] + [False] * 3


def test_after_step_records_each_live_board_s_reward_and_end():
    from agents.vlm_player import Decision, VLMActor

    actor = VLMActor(VLMPlayer.__new__(VLMPlayer), 3)
    for log in actor.logs:
        log.append(Decision(0, 0, "UP", "UP", "ok", "", None, 0, 0, 0.0, False))
    terminated, truncated = np.array([False, True, False]), np.array([True, False, False])
    actor.after_step(np.array([1.0, -1.0, 0.5]), terminated, truncated, live=np.array([True, True, False]))
    assert [(d.reward, d.terminated, d.truncated) for d in (log[-1] for log in actor.logs)] == [
        (1.0, False, True), (-1.0, True, False), (0.0, False, False)]  # board 2 was not live
    # Python's own types, not NumPy's: compare writes each decision with json.dumps (a numpy bool fails it).
    assert json.loads(json.dumps([log[-1].to_dict() for log in actor.logs]))[1]["terminated"] is True


def test_a_refusal_is_the_reason_logged_for_its_fallback():
    body = json.dumps({"choices": [{"message": {"role": "assistant", "content": None,
                                                "refusal": "I can't help with that."}}]}).encode()
    state = snake_state()
    with ChatServer([Reply(body=body)]) as server:
        d = player(server).decide(state)
    assert (d.status, d.move, d.response) == ("unparseable", fallback_move("snake", state), "")
    assert d.error == "the model refused: I can't help with that."
    assert d.to_dict()["error"] == d.error  # in the decision log and the report's worst decisions
    # A refusal beside an answer is no refusal of the question: the answer is played, no reason logged.
    move = next(m for m in legal_moves("snake", state) if m != fallback_move("snake", state))
    both = json.dumps({"choices": [{"message": {"role": "assistant", "content": best_worst(move),
                                                "refusal": "Some of this I won't say."}}]}).encode()
    with ChatServer([Reply(body=both)]) as server:
        d = player(server).decide(state)
    assert (d.status, d.move, d.error) == ("ok", move, None)


def test_an_answer_a_content_filter_withheld_is_the_reason_logged_for_its_fallback():
    # OpenAI and Azure end an answer their content filter flags with HTTP 200, finish_reason
    # "content_filter" and content null (or cut): it read as an unexplained empty, unparseable answer.
    state = snake_state()
    with ChatServer([Reply(content=None, finish_reason="content_filter")]) as server:
        d = player(server).decide(state)
    assert (d.status, d.move, d.response) == ("unparseable", fallback_move("snake", state), "")
    assert d.error == "the server's content filter withheld the answer (finish_reason content_filter)"
    # Cut by the filter after a readable move: the move is played, as any answer's, and no reason logged.
    move = next(m for m in legal_moves("snake", state) if m != fallback_move("snake", state))
    with ChatServer([good(best_worst(move), finish_reason="content_filter")]) as server:
        d = player(server).decide(state)
    assert (d.status, d.move, d.error) == ("ok", move, None)


def test_a_refusal_beside_a_blank_answer_is_still_the_reason_logged():
    # Whitespace is no answer: the refusal is what the model said, not an unexplained unparseable reply.
    body = json.dumps({"choices": [{"message": {"role": "assistant", "content": " \n",
                                                "refusal": "I can't help with that."}}]}).encode()
    with ChatServer([Reply(body=body)]) as server:
        d = player(server).decide(snake_state())
    assert (d.status, d.error) == ("unparseable", "the model refused: I can't help with that.")


def test_a_game_with_lowercase_move_names_plays_the_button_named():
    # Pokémon's buttons are spelled in lower case ("a", "start"): the named one is played, not a KeyError.
    import base64

    from envs.png import encode_png

    rgb = np.random.default_rng(0).integers(0, 256, (144, 160, 3), dtype=np.uint8)
    state = {"screen_png": base64.b64encode(encode_png(rgb)).decode("ascii"), "title": "Pokémon Red",
             "map": 0, "x": 3, "y": 4, "badges": 0, "event_flags": 0, "party_count": 1, "levels": [5],
             "battle_type": 0}
    with ChatServer([good("<answer>start</answer>"), good("<answer>jump</answer>")]) as server:
        client = ChatClient(Endpoint("toy-vl-3b", server.url), api_key_env=None, backoff=0.001, timeout=2.0)
        p = VLMPlayer(client, "pokemon_red", 1)
        named, junk = p.decide(state), p.decide(state)
    assert (named.status, named.move, named.action) == ("ok", "start", p.action_names.index("start"))
    assert (junk.status, junk.move, junk.action) == ("unparseable", "up", 0)  # the first button


def test_a_refusing_server_stops_the_run():
    with ChatServer([bad_request(401, "invalid API key")]) as server, pytest.raises(ChatConfigError,
                                                                                    match="invalid API key"):
        player(server).decide(snake_state())


def test_episodes_follow_the_models_moves_and_log_every_decision():
    # The model always says RIGHT: legal unless heading LEFT, where the fallback (straight on) plays.
    with ChatServer(default=lambda body: good(best_worst("RIGHT"), prompt_tokens=10, completion_tokens=3)
                    ) as server, player(server) as p:
        episodes = run_episodes(p, "snake", {}, 4, seed=11, batch=4)
    assert server.hits == sum(e.length for e in episodes)  # one request per decision, no cache
    for e in episodes:
        log = e.log
        assert [d.action for d in log] == e.actions and [d.step for d in log] == list(range(e.length))
        heading = snake_state(e.seed)["direction"]
        expected = "LEFT" if heading == "LEFT" else "RIGHT"
        assert {d.move for d in log} == {expected}
        assert all(d.status == ("illegal" if heading == "LEFT" else "ok") for d in log)
        # It runs straight into the wall: the last decision is the fatal one, recorded by after_step.
        assert log[-1].terminated and log[-1].reward == -1.0
        assert not any(d.terminated for d in log[:-1])
        assert len(replay_frames("snake", {}, e.seed, e.actions, scale=2)) == e.length + 1


@pytest.mark.parametrize("concurrency", [1, 4])
def test_requests_of_parallel_episodes_go_out_concurrently(concurrency):
    # The answers wait until `concurrency` requests are on the wire, and 0.1 s for one more to come: with
    # the 0.1 s alone, a busy box sent the fourth after the first was answered (3 at once, not 4). The
    # client's timeout outlasts the wait: a request retried while held would count twice.
    released = threading.Event()
    with ChatServer(default=lambda body: good(best_worst("UP"), delay=0.1, hold=released)) as server, \
            player(server, concurrency, timeout=60.0) as p:
        def release_once_on_the_wire() -> None:  # or after 30 s, as requests sent fewer at once stay
            deadline = time.monotonic() + 30
            while server.in_flight < concurrency and time.monotonic() < deadline:
                time.sleep(0.01)
            released.set()

        threading.Thread(target=release_once_on_the_wire, daemon=True).start()
        run_episodes(p, "snake", {}, 4, seed=0, batch=4, max_steps=2)
    assert server.max_in_flight == concurrency


def test_a_stopped_run_sends_no_queued_request_and_keeps_the_answers_on_the_wire(tmp_path):
    # Ctrl-C while 2 of 12 requests are on the wire: the others must not go out afterwards (each one
    # paid for, and the user waits for all of them); the 2 answers, already paid for, reach the cache.
    from agents.vlm_cache import ResponseCache

    cache = ResponseCache(tmp_path)
    seen = []

    def interrupt(decision):
        seen.append(time.perf_counter())
        raise KeyboardInterrupt

    with ChatServer(default=lambda body: good(best_worst("UP"), delay=0.4)) as server:
        p = player(server, concurrency=2, cache=cache)
        p.on_decision = interrupt
        with pytest.raises(KeyboardInterrupt), p:
            run_episodes(p, "snake", {}, 12, seed=0, batch=12, max_steps=3)
        assert time.perf_counter() - seen[0] < 1.5  # not 9 or 10 more requests, 2 at a time x 0.4 s
        # 2 on the wire, and at most one more per pool thread: each that finished its request may take the
        # next queued one before the interrupt reaches the actor (both did on a loaded box: 4).
        sent = server.hits
        assert 2 <= sent <= 4 and len(seen) == 1
        assert len(cache) == sent and p.client.cancelled
        # The same player, run again (a notebook after Ctrl-C): it asks the server, not "cancelled" fallbacks.
        p.on_decision = None
        episodes = run_episodes(p, "snake", {}, 1, seed=100, batch=1, max_steps=2)
        assert server.hits > sent and all(d.status != "error" for d in episodes[0].log)


def test_a_run_started_right_after_a_stopped_one_sends_none_of_the_stopped_runs_requests():
    # Ctrl-C while a long answer is on the wire, then a new run on the same player (a notebook) before that
    # answer is in: the new run resumes the client, so requests of the stopped run still queued in the pool
    # would go out then, each paid for. They are dropped when the run stops.
    def interrupt(decision):
        raise KeyboardInterrupt

    with ChatServer(default=lambda body: good(best_worst("UP"), delay=0.3)) as server:
        p = player(server, concurrency=1)
        p.on_decision = interrupt
        with pytest.raises(KeyboardInterrupt):
            run_episodes(p, "snake", {}, 8, seed=0, batch=8, max_steps=1)
        p.on_decision = None
        with p:
            run_episodes(p, "snake", {}, 1, seed=100, batch=1, max_steps=1)
    # The first answer, the new run's, and at most the next queued one, which the pool thread may have sent
    # before the interrupt reached the actor: not the 6 or 7 others.
    assert 2 <= server.hits <= 3


def test_a_decision_of_a_stopping_run_raises_not_a_counted_fallback():
    # A cancelled request is no answer of the model's: it ends the decision, not logged as an "error" one.
    from agents.vlm_client import ChatCancelled

    with ChatServer(default=lambda body: good(best_worst("UP"))) as server:
        p = player(server)
        p.client.cancel()
        with pytest.raises(ChatCancelled):
            p.decide(snake_state())
    assert server.hits == 0


def test_a_cancelled_client_stops_waiting_to_retry():
    with ChatServer(default=lambda body: server_error(503)) as server:
        c = ChatClient(Endpoint("toy-vl-3b", server.url), api_key_env=None, backoff=30, max_retries=5)
        threading.Timer(0.3, c.cancel).start()
        t0 = time.perf_counter()
        with pytest.raises(ChatError, match="cancelled"):
            c.complete("q", [np.zeros((4, 4, 3), np.uint8)])
        assert time.perf_counter() - t0 < 5 and server.hits == 1


def test_the_actor_needs_the_game():
    with ChatServer() as server, player(server) as p:
        actor = p.make_actor(1)
        with pytest.raises(TypeError, match="needs the game"):
            actor(np.zeros((1, 4, 10, 10), np.uint8))


def test_every_game_with_a_task_module_has_legal_moves_and_a_fallback():
    state = {"snakes": [{"direction": "UP"}]}
    assert legal_moves("snake_duel", state) == ["UP", "LEFT", "RIGHT"]
    assert fallback_move("snake_duel", state) == "UP"
    assert fallback_move("sokoban", {}) == "UP" and len(legal_moves("rotation", {})) == 6
    # Every action by its own name, as the game spells it: scoring's played_move looks the policy's action
    # up in this list, so a Pokémon button in another case would play the fallback.
    assert legal_moves("rotation", {}) == ["X+", "X-", "Y+", "Y-", "Z+", "Z-"]
    assert legal_moves("sokoban", {}) == ["UP", "DOWN", "LEFT", "RIGHT"]
    assert legal_moves("pokemon_red", {}) == ["up", "down", "left", "right", "a", "b", "start"]
    assert fallback_move("pokemon_red", {}) == "up"


def test_evaluate_script_plays_a_vlm_and_writes_a_video(scripts, tmp_path, capsys):
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        argv = ["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "2", "--json",
                "--out", str(tmp_path / "vlm"), "--cache-dir", str(tmp_path / "cache"), "--timeout", "5"]
        assert scripts.evaluate.main(argv) == 0
        first = json.loads(capsys.readouterr().out)
        hits = server.hits
        assert scripts.evaluate.main(argv) == 0  # again: every answer from the cache
        assert server.hits == hits
    again = json.loads(capsys.readouterr().out)
    assert first["episodes"] == 2 and first["mean_score"] == again["mean_score"]
    assert first["env_kwargs"] == {}  # the game's defaults, named as evaluate's own JSON names a run's
    # the episodes --seed names (the default 1000000 on), not those from 0: the film is one of them
    assert first["seed"] == 1_000_000 and first["best_episode_seed"] in (1_000_000, 1_000_001)
    # No --max-steps: null, as a specialist's evaluation says it (README), not the game's step cap played.
    assert first["max_steps"] is None
    assert first["client"]["http_requests"] == hits and again["client"]["http_requests"] == 0
    assert again["cached_answers"] == hits
    # The VLM's figures compare.py reports, each in evaluate's JSON too (best_move_rate was droppable).
    figures = {"invalid", "invalid_rate", "invalid_by_status", "cut_at_max_tokens", "tokens_per_episode",
               "best_move_rate", "verifier_accuracy", "cached_answers", "decisions_per_s", "parameters"}
    assert figures <= set(first)
    assert 0 <= first["best_move_rate"] <= 1
    assert (tmp_path / "vlm" / "eval-vlm-toy-vl-3b-best.mp4").stat().st_size > 0
    assert (tmp_path / "vlm" / "eval-vlm-toy-vl-3b.json").is_file()


def test_evaluate_script_puts_a_vlms_results_where_the_readme_says(scripts, tmp_path, capsys, monkeypatch):
    # Every test gave --out: the default runs/<env>/vlm-<model>/ and a run folder's game, settings and
    # folder (--vlm with a run) were never played, so a wrong default folder passed the suite.
    import yaml

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"env": "snake", "env_kwargs": {"size": 6}}))
    monkeypatch.chdir(tmp_path)
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        common = ["--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1", "--json", "--no-video",
                  "--cache-dir", str(tmp_path / "cache")]
        assert scripts.evaluate.main(["--env", "snake", *common]) == 0
        assert json.loads(capsys.readouterr().out)["env_kwargs"] == {}
        assert (tmp_path / "runs" / "snake" / "vlm-toy-vl-3b" / "eval-vlm-toy-vl-3b.json").is_file()
        assert scripts.evaluate.main([str(run), *common]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["env"], result["env_kwargs"]["size"]) == ("snake", 6)
    assert json.loads((run / "eval-vlm-toy-vl-3b.json").read_text()) == result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "run", "runs"]


def test_the_evaluation_bar_shows_a_vlms_decisions_as_they_come(scripts, tmp_path, capsys, monkeypatch):
    # evaluate --vlm's bar counted episodes alone: an episode of thousands of answers (a Game Boy game's)
    # sat at 0/1 with no sign of life until it ended.
    import agents.cli

    monkeypatch.setattr(agents.cli, "REFRESH_S", 0.0)  # every count drawn
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        assert scripts.evaluate.main(["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1",
                                      "--max-steps", "3", "--out", str(tmp_path / "out"), "--no-video",
                                      "--cache-dir", str(tmp_path / "cache")]) == 0
    frames = capsys.readouterr().err.split("\r")
    assert any(" 0/1 " in f and "1 decision, 0 invalid]" in f for f in frames), frames
    assert any(" 0/1 " in f and "2 decisions, 0 invalid, 1 step]" in f for f in frames), frames


def test_a_stop_after_a_vlms_play_leaves_no_folder_made_for_it(scripts, tmp_path, capsys, monkeypatch):
    # The play over, a Ctrl-C while the best episode was replayed for its video (seconds for a long one) said
    # "no new results written" (130) but left the --out folder made before the play, empty.
    import agents.evaluation

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(agents.evaluation, "replay_frames", stopped)
    out = tmp_path / "new" / "vlm"
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        assert scripts.evaluate.main(["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1",
                                      "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
                                      "--no-progress"]) == 130
    assert "interrupted: no new results written" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


@pytest.mark.parametrize("how", ["removed", "made first by the other", "moved with the folder above"])
def test_a_vlms_results_folder_another_failed_evaluation_removed_is_made_again(scripts, tmp_path, capsys,
                                                                               monkeypatch, how):
    # Two endpoints' evaluations started together into one new folder (README's default vlm-<model>/ is the
    # same for both) each made it before the play: the one that failed removed it, empty, while this one
    # played, which then said "--out ... could not be written (No such file or directory ...)" after its
    # whole (paid) play. Made again only there: gone with the folder above it (a train_ppo.py --force of a
    # run it was in), it is still refused.
    base, out = removed_during_play(monkeypatch, tmp_path, "play_vlm", "vlm", how)
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        code = scripts.evaluate.main(["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1",
                                      "--max-steps", "3", "--out", str(out), "--no-progress", "--no-video",
                                      "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    if how != "moved with the folder above":
        assert code == 0, err
        assert json.loads((out / "eval-vlm-toy-vl-3b-max3.json").read_text())["episodes"] == 1
    else:
        assert code == 2 and f"--out {out}: was replaced while this evaluation played" in err, err
        assert list(base.iterdir()) == [] and not list((tmp_path / ".base.replaced").rglob("*.json"))


def test_evaluate_script_keeps_one_model_name_at_two_endpoints_apart(scripts, tmp_path, capsys):
    # One model name behind two servers (two quantisations) wrote eval-vlm-<model>.json both times: the
    # second silently replaced the first's results, where compare.py reports MODEL@host:port each.
    from urllib.parse import urlsplit

    out = tmp_path / "vlm"
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as a, \
            ChatServer(default=lambda body: good("no move named")) as b:
        def evaluate(server):
            argv = ["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1", "--json",
                    "--no-video", "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
            assert scripts.evaluate.main(argv) == 0
            said = capsys.readouterr()
            notes.append(said.err)
            return json.loads(said.out)

        notes: list[str] = []
        first, second = evaluate(a), evaluate(b)
        again = evaluate(a)  # a re-run at an endpoint replaces its own results, as before
        evaluate(b)
    host_b = urlsplit(b.url).netloc.replace(":", "-")
    files = {p.name: json.loads(p.read_text()) for p in out.iterdir()}
    assert sorted(files) == ["eval-vlm-toy-vl-3b.json", f"eval-vlm-toy-vl-3b@{host_b}.json"]
    assert files["eval-vlm-toy-vl-3b.json"]["vlm"] == first["vlm"] == again["vlm"] == f"toy-vl-3b@{a.url}"
    assert files[f"eval-vlm-toy-vl-3b@{host_b}.json"]["vlm"] == second["vlm"] == f"toy-vl-3b@{b.url}"
    assert second["invalid"] > 0 == first["invalid"]  # each file holds its own endpoint's answers
    assert notes[0] == notes[2] == ""
    assert notes[1] == notes[3] == (
        f"note: eval-vlm-toy-vl-3b.json holds the results of toy-vl-3b@{a.url}; "
        f"these of toy-vl-3b@{b.url} are in {out}/eval-vlm-toy-vl-3b@{host_b}.json\n")


@pytest.mark.parametrize("video", [False, True])
def test_two_endpoints_evaluated_at_once_never_share_a_results_name(scripts, tmp_path, capsys, monkeypatch,
                                                                     video):
    # The name was chosen before the play and written with a rename: a second evaluation of the same model
    # name at another endpoint, run in the first's gap, chose the same free name, and the first then
    # replaced the second's results with its own. Here the second (a process of its own) runs whole just
    # before the first places its files.
    import subprocess
    import sys
    from urllib.parse import urlsplit

    import agents.outputs
    from tests.conftest import ROOT

    out, folders_locked = tmp_path / "vlm", agents.outputs._folders_locked
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as a, \
            ChatServer(default=lambda body: good("no move named")) as b:
        def argv(server):
            return ["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1", "--json",
                    "--max-steps", "2", "--out", str(out), "--no-cache", "--no-progress",
                    *([] if video else ["--no-video"])]

        def second_in_the_gap(folders):
            if not b.hits:
                subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), *argv(b)], check=True,
                               capture_output=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
            return folders_locked(folders)

        monkeypatch.setattr(agents.outputs, "_folders_locked", second_in_the_gap)
        assert scripts.evaluate.main(argv(a)) == 0
    host_a = urlsplit(a.url).netloc.replace(":", "-")
    owners = {p.name: json.loads(p.read_text())["vlm"] for p in out.glob("*.json")}
    assert owners == {"eval-vlm-toy-vl-3b-max2.json": f"toy-vl-3b@{b.url}",
                      f"eval-vlm-toy-vl-3b@{host_a}-max2.json": f"toy-vl-3b@{a.url}"}
    said = capsys.readouterr()
    mine = json.loads(said.out)
    assert mine["vlm"] == f"toy-vl-3b@{a.url}"
    if video:  # each result names its own videos, beside it
        assert mine["video"] == str(out / f"eval-vlm-toy-vl-3b@{host_a}-max2-best.mp4")
        assert sorted(p.name for p in out.glob("*-best.*")) == [
            f"eval-vlm-toy-vl-3b-max2-best.{e}" for e in ("gif", "mp4")] + [
            f"eval-vlm-toy-vl-3b@{host_a}-max2-best.{e}" for e in ("gif", "mp4")]
    assert f"these of toy-vl-3b@{a.url} are in {out}/eval-vlm-toy-vl-3b@{host_a}-max2.json" in said.err


def test_a_vlms_results_name_replaces_only_that_endpoints_own_results(tmp_path):
    from agents.evaluate_cli import vlm_stem as stem
    from agents.runs import RunError

    here = Endpoint("m", "http://h:1/v1")
    assert stem(tmp_path, here, "") == ("eval-vlm-m", "", True)  # free: written only where no file is
    (tmp_path / "eval-vlm-m.json").write_text(json.dumps({"vlm": "m@http://h:1/v1/chat/completions"}))
    assert stem(tmp_path, here, "") == ("eval-vlm-m", "", False)  # one endpoint, written either way
    assert stem(tmp_path, here, "-max5") == ("eval-vlm-m-max5", "", True)  # a capped evaluation: its own name
    (tmp_path / "eval-vlm-m.json").write_text("{not json")  # names no endpoint: kept, never replaced
    held = "eval-vlm-m.json holds the results of another endpoint"
    assert stem(tmp_path, here, "") == ("eval-vlm-m@h-1", held, True)
    (tmp_path / "eval-vlm-m@h-1.json").write_text(json.dumps({"vlm": "m@http://h:1/other/v1"}))
    name, _, _ = stem(tmp_path, here, "")  # same host, another path: the endpoint's digest tells them apart
    assert name.startswith("eval-vlm-m@h-1-") and len(name) == len("eval-vlm-m@h-1-") + 8
    (tmp_path / f"{name}.json").write_text("{}")
    with pytest.raises(RunError, match="move one of them away"):
        stem(tmp_path, here, "")
    # Every name taken, the last by this endpoint: a re-run replaces its own results there, no error.
    (tmp_path / f"{name}.json").write_text(json.dumps({"vlm": "m@http://h:1/v1"}))
    assert stem(tmp_path, here, "") == (name, held, False)


def test_a_vlms_results_name_with_only_videos_there_is_not_free(tmp_path):
    # Results are written only where none of their files is: a name whose JSON was moved away but whose
    # videos stayed, were it taken for free, would refuse every write and lose the play's results.
    from agents.evaluate_cli import vlm_stem

    (tmp_path / "eval-vlm-m-best.gif").write_text("an older evaluation's")
    assert vlm_stem(tmp_path, Endpoint("m", "http://h:1/v1"), "") == (
        "eval-vlm-m@h-1", "eval-vlm-m-best.mp4/.gif are there without their .json", True)


def test_a_vlms_results_name_taken_at_every_write_is_one_error_after_a_bound(tmp_path, monkeypatch):
    # Each write finds its free name taken just before: chosen again, a bounded number of times.
    from types import SimpleNamespace

    from agents import evaluate_cli
    from agents.runs import RunError

    tries: list[str] = []

    def taken(summary, stem, *args, new=False, check=None):
        tries.append(stem.name)
        raise FileExistsError(stem)

    monkeypatch.setattr(evaluate_cli, "write_results", taken)
    args = SimpleNamespace(max_steps=0)
    with pytest.raises(RunError, match="took the results' names 5 times while this one wrote; run it again"):
        evaluate_cli.write_vlm_results({}, tmp_path, Endpoint("m", "http://h:1/v1"), "snake", {}, [], args)
    assert tries == ["eval-vlm-m"] * evaluate_cli.NAME_TRIES


def test_evaluate_script_says_when_answers_came_without_token_counts(scripts, tmp_path, capsys):
    # A server sending no "usage": the line said "0 tokens per episode", as if the answers had cost none.
    answer = best_worst("DOWN")
    body = json.dumps({"id": "c", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]}).encode()
    with ChatServer(default=lambda request: Reply(body=body)) as server:
        argv = ["--env", "snake", "--vlm", f"quiet-vl-3b@{server.url}", "--episodes", "1", "--max-steps", "2",
                "--no-video", "--out", str(tmp_path / "vlm"), "--cache-dir", str(tmp_path / "cache"),
                "--json"]
        assert scripts.evaluate.main(argv) == 0
    said = capsys.readouterr()
    result = json.loads(said.out)
    n = result["answers_without_token_counts"]
    assert n > 0 and result["tokens_per_episode"] == 0 and result["invalid"] == 0
    assert f"warning: quiet-vl-3b: {n} of {n} answer" in said.err and "too low" in said.err


def test_evaluate_script_caps_a_vlms_episodes_and_warns_of_cut_answers(scripts, tmp_path, capsys):
    # --vlm with --max-steps or --seed was never played, nor its line read: the cap left out of the play,
    # the JSON or the file name, the seed left out of the JSON, the --max-tokens warning dropped, and the
    # line's invalid answers or tokens printed as another figure all passed the suite.
    from agents.cli import figure, mean_text

    out = tmp_path / "vlm"
    with ChatServer(default=lambda body: good(best_worst("DOWN"), finish_reason="length")) as server:
        argv = ["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "2", "--max-steps", "2",
                "--seed", "9", "--no-video", "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
        assert scripts.evaluate.main([*argv, "--json"]) == 0
        said = capsys.readouterr()
        assert scripts.evaluate.main(argv) == 0  # the same episodes, from the cache, as a line
    result = json.loads(said.out)
    assert (result["max_steps"], result["seed"]) == (2, 9) and result["mean_length"] <= 2
    assert result["cut_at_max_tokens"] > 0 and "raise --max-tokens" in said.err
    assert sorted(p.name for p in out.iterdir()) == ["eval-vlm-toy-vl-3b-max2.json"]
    episodes = result["per_episode"]  # each episode, last, as a specialist's evaluation lists them
    assert episodes["seed"] == [9, 10] and list(result)[-1] == "per_episode"
    assert (result["mean_length"], result["capped"]) == (np.mean(episodes["length"]), sum(episodes["capped"]))
    assert result["capped"] > 0  # the line names the episodes cut, as a specialist's does (it did not)
    assert capsys.readouterr().out.splitlines() == [
        f"snake with {result['vlm']}, 2 episodes: mean score {mean_text(result['mean_score'])}, max "
        f"{figure(result['max_score'])}, invalid answers {result['invalid']} "
        f"({result['invalid_rate']:.1%}), {result['tokens_per_episode']:,.0f} tokens per episode "
        f"({result['capped']} cut at --max-steps, scored as they stood)",
        # as for a specialist (duel Snake's win/draw/loss were in the JSON only)
        f"means of the game's figures: snake_length {result['mean_snake_length']:.2f}, won "
        f"{result['mean_won']:.2f}"]


def test_evaluate_script_without_a_run_or_vlm_says_what_to_give(scripts, capsys):
    with pytest.raises(SystemExit) as exc:  # not a TypeError traceback from Path(None)
        scripts.evaluate.main([])
    assert exc.value.code == 2
    assert "give a run folder (or --vlm MODEL@URL with --env)" in capsys.readouterr().err


def test_evaluate_script_rejects_bad_vlm_input(scripts, capsys):
    assert scripts.evaluate.main(["--env", "snake", "--vlm", "just-a-name"]) == 2
    assert "MODEL@URL" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # refused by argparse, before the VLM client is made
        scripts.evaluate.main(["--env", "tetris", "--vlm", "m@http://127.0.0.1:9/v1"])
    assert exc.value.code == 2
    assert "known envs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        scripts.evaluate.main(["--vlm", "m@http://127.0.0.1:9/v1"])
    assert "--vlm needs a run folder or --env" in capsys.readouterr().err


def test_evaluate_script_refuses_vlm_episodes_past_this_machines_memory_before_any_request(
        scripts, tmp_path, capsys, monkeypatch):
    # Every episode is played at once, a board each: --episodes whose boards outgrow the memory is refused
    # before the play (which may be paid for), with the most that fit.
    import math

    import agents.compare
    from agents.evaluation import check_game

    spec = check_game("snake", {})
    board = spec.board_bytes + math.prod(spec.obs_shape)
    monkeypatch.setattr(agents.compare, "memory_bytes", lambda: 2 * board)  # two boards fit
    out = tmp_path / "vlm"
    argv = ["--env", "snake", "--episodes", "3", "--no-video", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache")]
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        assert scripts.evaluate.main([*argv, "--vlm", f"m@{server.url}"]) == 2
    err = capsys.readouterr().err
    assert server.hits == 0 and not out.exists()
    assert err.startswith("error: --episodes 3: every episode is played at once")
    assert "use --episodes 2 or fewer" in err


def test_evaluate_script_leaves_no_folder_when_the_vlm_cannot_be_reached(scripts, tmp_path, capsys):
    out = tmp_path / "vlm"
    assert scripts.evaluate.main(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1",
                                  "--out", str(out), "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert "error: cannot reach http://127.0.0.1:9/v1/chat/completions: " in err, err  # the URL it tried
    assert "(is the server running? check the URL)" in err and not out.exists()
    out.write_text("mine")
    assert scripts.evaluate.main(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1",
                                  "--out", str(out), "--cache-dir", str(tmp_path / "cache")]) == 2
    assert "is a file" in capsys.readouterr().err and out.read_text() == "mine"
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:  # checked before any request
        assert scripts.evaluate.main(["--env", "snake", "--vlm", f"m@{server.url}", "--episodes", "1",
                                      "--out", str(out / "sub"), "--cache-dir", str(tmp_path / "cache")]) == 2
    assert server.hits == 0 and "is not a folder" in capsys.readouterr().err


def test_evaluate_script_on_a_full_disk_is_one_error_naming_out(scripts, tmp_path, capsys, monkeypatch):
    import errno
    from pathlib import Path

    out = tmp_path / "full" / "vlm"
    argv = ["--env", "snake", "--vlm", "toy-vl-3b@URL", "--episodes", "1", "--no-video", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache")]
    full = OSError(errno.ENOSPC, "No space left on device")
    mkdir = Path.mkdir
    run = tmp_path / "run"  # a run folder's evaluation: its results go there, --out is refused
    run.mkdir()
    (run / "config.yaml").write_text(json.dumps({"env": "snake", "env_kwargs": {}}))  # YAML reads JSON

    def full_mkdir(self, *args, **kwargs):
        if str(self).startswith(str(tmp_path / "full")):
            raise full
        return mkdir(self, *args, **kwargs)

    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        argv[3] = f"toy-vl-3b@{server.url}"
        monkeypatch.setattr(Path, "mkdir", full_mkdir)
        assert scripts.evaluate.main(argv) == 2  # found before the play: no answer paid for in vain
        err = capsys.readouterr().err
        assert server.hits == 0 and f"error: --out {out}: the folder cannot be made (No space left" in err
        monkeypatch.undo()

        def full_write(self, *args, **kwargs):  # the disk fills up during the play
            raise full

        monkeypatch.setattr(Path, "write_text", full_write)
        assert scripts.evaluate.main(argv) == 2
        err = capsys.readouterr().err
        assert f"error: --out {out}: " in err and "No space left on device" in err
        # --out is this command's own folder: another one is a way out (a run folder's evaluation has none)
        assert (f"the VLM's answers are in the response cache {tmp_path / 'cache'}: free some space (or give "
                "another --out) and run the same command again") in err
        assert "Traceback" not in err and not (tmp_path / "full").exists()  # no empty folders left behind
        assert scripts.evaluate.main([str(run), *argv[2:7], *argv[9:]]) == 2
        err = capsys.readouterr().err
        assert f"error: the run folder {run}: " in err and "free some space and run the same command" in err
        assert "--out" not in err
        monkeypatch.undo()
        hits = server.hits
        assert scripts.evaluate.main(argv) == 0 and server.hits == hits  # as the message says
    assert (out / "eval-vlm-toy-vl-3b.json").is_file()


def test_evaluate_script_on_a_full_disk_leaves_no_folder_made_for_out(scripts, tmp_path, capsys, monkeypatch):
    import errno
    from pathlib import Path

    out = tmp_path / "new" / "deep" / "vlm"
    mkdir = Path.mkdir

    def full_mkdir(self, *args, **kwargs):
        if self == out:  # the folders above it fit, its own does not
            mkdir(self.parent, parents=True, exist_ok=True)
            raise OSError(errno.ENOSPC, "No space left on device")
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", full_mkdir)
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        assert scripts.evaluate.main(["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1",
                                      "--no-video", "--out", str(out), "--no-cache"]) == 2
    assert server.hits == 0 and f"error: --out {out}: the folder cannot be made" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_evaluate_scripts_default_folder_on_a_full_disk_is_not_named_as_out(scripts, tmp_path, capsys,
                                                                              monkeypatch):
    # The default runs/<env>/vlm-<model> folder was named "--out" in its errors, a flag the user never gave.
    import errno
    from pathlib import Path

    mkdir = Path.mkdir

    def full_mkdir(self, *args, **kwargs):
        if "vlm-" in self.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return mkdir(self, *args, **kwargs)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Path, "mkdir", full_mkdir)
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        assert scripts.evaluate.main(["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1",
                                      "--no-video", "--no-cache"]) == 2
    err = capsys.readouterr().err
    out = Path("runs") / "snake" / "vlm-toy-vl-3b"
    assert server.hits == 0 and f"error: the results folder {out}: the folder cannot be made" in err, err
    assert "--out" not in err, err


def test_evaluate_script_survives_a_reply_with_a_lone_surrogate(scripts, tmp_path, capsys):
    with ChatServer(default=lambda body: good(best_worst("DOWN") + " \ud83d")) as server:  # half an emoji
        assert scripts.evaluate.main(["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1",
                                      "--json", "--no-video", "--out", str(tmp_path / "vlm"),
                                      "--cache-dir", str(tmp_path / "cache")]) == 0
    assert json.loads(capsys.readouterr().out)["invalid_by_status"]["unparseable"] == 0
    assert list((tmp_path / "cache").glob("*/*.json"))


def test_evaluate_script_checks_the_cache_dir_before_playing(scripts, tmp_path, capsys):
    file = tmp_path / "cache"
    file.write_text("mine")
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        assert scripts.evaluate.main(["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1",
                                      "--out", str(tmp_path / "vlm"), "--cache-dir", str(file)]) == 2
    # The flag and its file named by the refusal: its hint ("give another folder with --cache-dir") names the
    # flag whatever the refusal says.
    err = capsys.readouterr().err
    assert server.hits == 0 and f"error: --cache-dir {file} is a file, not a folder; give another" in err, err
    assert file.read_text() == "mine"


def test_duel_snake_moves_and_fallback_follow_the_players_own_snake_not_the_bots():
    state = {"snakes": [{"direction": "UP"}, {"direction": "LEFT"}]}  # ours first, the bot's second
    assert legal_moves("snake_duel", state) == ["UP", "LEFT", "RIGHT"]
    assert fallback_move("snake_duel", state) == "UP"


def test_a_player_needs_at_least_one_request_in_flight():
    # Refused when made, not at the first decision (the thread pool's own error, mid-run).
    with ChatServer() as server, pytest.raises(ValueError, match="concurrency must be >= 1, got 0"):
        player(server, concurrency=0)


def test_a_player_made_without_a_concurrency_has_the_scripts_default():
    # A notebook's VLMPlayer(client, env) keeps as many requests in flight as --concurrency's default (8).
    import argparse

    from agents.vlm_client import add_client_arguments

    parser = argparse.ArgumentParser()
    add_client_arguments(parser)
    with ChatServer() as server:
        p = VLMPlayer(ChatClient(Endpoint("toy-vl-3b", server.url), api_key_env=None), "snake")
    assert p.concurrency == parser.parse_args([]).concurrency == 8


def test_closing_a_player_awaits_the_request_on_the_wire_and_drops_the_queued_ones():
    arrived = threading.Event()

    def slow(body):
        arrived.set()
        return good(best_worst("UP"), delay=0.3)

    with ChatServer(default=slow) as server:
        p = player(server, concurrency=1)
        futures = [p.pool().submit(p.client.complete, f"q{k}", [np.zeros((4, 4, 3), np.uint8)])
                   for k in range(3)]
        assert arrived.wait(5)
        p.close()
        assert futures[0].result().content == best_worst("UP")  # paid for: awaited
        assert server.hits == 1 and all(f.cancelled() for f in futures[1:])


def test_evaluate_script_names_the_vlms_best_episode_videos(scripts, tmp_path, capsys):
    out = tmp_path / "vlm"
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        assert scripts.evaluate.main(["--env", "snake", "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "2",
                                      "--seed", "7", "--max-steps", "3", "--out", str(out), "--no-cache",
                                      "--no-progress"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    summary = json.loads((out / "eval-vlm-toy-vl-3b-max3.json").read_text())
    seed, video, gif = summary["best_episode_seed"], summary["video"], summary["gif"]
    assert line == f"best episode (seed {seed}): {video}, {gif}"
    assert seed in (7, 8) and os.path.isfile(video) and os.path.isfile(gif)


def test_evaluate_script_lets_an_unexpected_error_in_the_play_through_and_leaves_no_folder(
        scripts, tmp_path, monkeypatch):
    # Only a refusing endpoint (ChatConfigError) is an "error:" line; a bug is a traceback, not hidden.
    import agents.compare

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(agents.compare, "play_vlm", broken)
    out = tmp_path / "new" / "vlm"
    with pytest.raises(RuntimeError, match="a bug"):
        scripts.evaluate.main(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1",
                               "--out", str(out), "--no-cache", "--no-progress"])
    assert list(tmp_path.iterdir()) == []


def test_results_of_another_model_at_the_same_endpoint_or_a_dangling_link_are_not_replaced(tmp_path):
    # same_endpoint compares the model too: two models at one server are two endpoints. A link whose target
    # is gone names no endpoint either: kept (lexists), not taken as a free name.
    from agents import evaluate_cli as evaluate

    here = Endpoint("m", "http://h:1/v1")
    assert evaluate.same_endpoint("m@http://h:1/v1", here)
    assert not evaluate.same_endpoint("other@http://h:1/v1", here)
    assert not evaluate.same_endpoint("m@http://h:2/v1", here)
    link = tmp_path / "eval-vlm-m.json"
    link.symlink_to(tmp_path / "gone.json")
    assert evaluate.results_endpoint(link) == "" and evaluate.results_endpoint(tmp_path / "none.json") is None
    deep = tmp_path / "eval-vlm-deep.json"  # nested past json's depth: unreadable, kept as another's
    deep.write_text('{"vlm":' * 100_000)
    assert evaluate.results_endpoint(deep) == ""
    assert evaluate.vlm_stem(tmp_path, here, "")[0] == "eval-vlm-m@h-1"


@pytest.mark.parametrize("wait", ["the answer's", "its thread's start"])
def test_a_stop_while_the_actor_waits_is_a_keyboard_interrupt_at_once(wait):
    """Taken inside ``Future.result``'s wait (after its lock was released), the stop's KeyboardInterrupt
    became ``RuntimeError: cannot release un-acquired lock`` as ``result`` left its ``with``: a traceback
    and status 1 for a Ctrl-C of ``evaluate.py --vlm`` or ``compare.py``. The same in the wait for the
    pool's thread to start. Taken at the next short wait's end, not once the answer came."""
    from agents.interrupts import stop_signals_interrupt

    game = make_game("snake", 1)
    game.reset(np.zeros(1, dtype=np.int64), seeds_from(3, 1))
    with ChatServer(default=lambda body: good(best_worst("UP"), delay=2.0)) as server:
        vlm = player(server)
        if wait == "the answer's":
            vlm.pool().submit(time.sleep, 0).result()  # its thread started: the wait is the answer's
        actor = vlm.make_actor(1)
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt), stop_signals_interrupt(), \
                stop_signal_after_condition_wait_releases_its_lock() as fired:
            actor(np.zeros(1), game)
        stopped_after = time.monotonic() - start
        vlm.close()
    assert fired and stopped_after < 1.0


@pytest.mark.parametrize(("given", "new_run"), [("path", True), ("dot", True), ("path", False)])
def test_a_vlm_evaluation_of_a_run_replaced_meanwhile_writes_nothing_into_the_new_run(
        scripts, tmp_path, capsys, monkeypatch, given, new_run):
    """A train_ppo.py --force in another terminal moved the run aside while a VLM played it: the results, of
    the old run's game settings, went into the new run's folder (which may be another game's). Given as "."
    from inside the run, the replacement went unseen (the working folder moved aside with the old run) and
    the results were written into the old run, which --force deletes. Seen before the new run is made (the
    moment between --force's moves), the run folder is not made again for the results."""
    import agents.compare

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(json.dumps({"env": "snake", "env_kwargs": {}}))  # YAML reads JSON
    play = agents.compare.play_vlm

    def played_while_forced(*args, **kwargs):  # what --force does: the old run aside, a new run in its place
        played = play(*args, **kwargs)
        run.rename(tmp_path / ".run.replaced")
        if new_run:
            run.mkdir()
            (run / "config.yaml").write_text(json.dumps({"env": "sokoban", "env_kwargs": {}}))
        return played

    monkeypatch.setattr(agents.compare, "play_vlm", played_while_forced)
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        if given == "dot":
            monkeypatch.chdir(run)
        arg = str(run) if given == "path" else "."
        argv = [arg, "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1", "--max-steps", "3",
                "--no-video", "--cache-dir", str(tmp_path / "cache")]
        assert scripts.evaluate.main(argv) == 2
    err = capsys.readouterr().err
    shown = arg if given == "path" else f". ({run})"  # "." is the old run now, where the shell is
    assert f"error: the run folder {shown}: was replaced while this evaluation played" in err
    assert "see what is there now and run the same command again" in err and "free some space" not in err
    assert (sorted(p.name for p in run.iterdir()) == ["config.yaml"]) if new_run else not run.exists()
    assert sorted(p.name for p in (tmp_path / ".run.replaced").iterdir()) == ["config.yaml"]


def test_a_vlm_evaluation_of_a_read_only_run_goes_to_out(scripts, tmp_path, capsys, monkeypatch):
    """A colleague's run (read-only): --out was refused with a run folder, and the refusal of the folder
    said "choose another place" without naming the flag that chooses it."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(json.dumps({"env": "snake", "env_kwargs": {"size": 6}}))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: real_access(p, mode) and not (
        Path(p) == run and mode & os.W_OK))
    out = tmp_path / "mine"
    with ChatServer(default=lambda body: good(best_worst("DOWN"))) as server:
        argv = [str(run), "--vlm", f"toy-vl-3b@{server.url}", "--episodes", "1", "--max-steps", "3",
                "--no-video", "--no-progress", "--cache-dir", str(tmp_path / "cache")]
        assert scripts.evaluate.main(argv) == 2
        assert "is not writable; give --out DIR" in capsys.readouterr().err
        assert scripts.evaluate.main([*argv, "--out", str(out)]) == 0
    result = json.loads((out / "eval-vlm-toy-vl-3b-max3.json").read_text())
    assert result["env_kwargs"]["size"] == 6 and result["episodes"] == 1
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]


def test_a_vlms_rerun_replaces_its_own_results_kept_under_the_host_name(tmp_path):
    # Its results went to eval-vlm-m@h-1.json while another endpoint's held eval-vlm-m.json; those moved
    # away, the plain name is free: a re-run still replaces its own file (README: a re-run at an endpoint
    # replaces its own results), not a second copy under the plain name beside the stale one.
    from agents.evaluate_cli import vlm_stem

    here = Endpoint("m", "http://h:1/v1")
    (tmp_path / "eval-vlm-m@h-1.json").write_text(json.dumps({"vlm": "m@http://h:1/v1/chat/completions"}))
    assert vlm_stem(tmp_path, here, "") == ("eval-vlm-m@h-1", "eval-vlm-m@h-1.json held its earlier results",
                                            False)
    assert vlm_stem(tmp_path, here, "-max5") == ("eval-vlm-m-max5", "", True)  # capped: a name of its own


def test_results_whose_vlm_is_no_text_name_no_endpoint_and_are_kept(tmp_path):
    # A hand-edited or another tool's eval-vlm-m.json whose "vlm" is no MODEL@URL string names no endpoint:
    # kept as another's (its name passes to the host's), neither replaced nor a traceback.
    from agents import evaluate_cli as evaluate

    here = Endpoint("m", "http://h:1/v1")
    for vlm in (["m@http://h:1/v1"], {"model": "m"}, 7):
        file = tmp_path / "eval-vlm-m.json"
        file.write_text(json.dumps({"vlm": vlm}))
        assert evaluate.results_endpoint(file) == ""
        assert evaluate.vlm_stem(tmp_path, here, "") == (
            "eval-vlm-m@h-1", "eval-vlm-m.json holds the results of another endpoint", True)
