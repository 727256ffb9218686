"""A vision-language model as a player: it sees the rendered game state and answers the move question.

Each decision asks the model exactly what the exported task records ask: ``move_task(state)`` of the
game's task module (``vlm/tasks/<game>.py``) gives the image(s) and the prompt with its answer format,
and ``vlm.verify.parse_move`` reads the move from the answer, so play and training data share one
prompt and one parser. Requests go through ``ChatClient`` (retries, timeouts, on-disk cache, token
counts); episodes run side by side and their requests go out concurrently (``concurrency`` threads).

Fallback (documented in the README): when the answer has no readable move (``unparseable``; but not
a Snake answer of "None" where every move is fatal, as its prompt asks: that one is valid), names a
move the game forbids (``illegal``: in Snake and duel Snake the reverse into the neck), or the request
failed (``error``: given up after every retry, or refused by the server), the player plays the fallback
move and counts the decision as invalid — Snake and duel Snake keep going straight on (the current
heading), every other game plays its first action (``ACTION_NAMES[0]``). The verifier's verdict on every
answer is kept too (``correct``).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from agents.interrupts import result_at_stop_points, stop_at_safe_points
from agents.vlm_client import ChatClient, ChatError, ChatReply
from envs import game_class
from envs.base import Game
from vlm.tasks import OPPOSITE, TaskModuleError, module_place, raised_problem

STATUSES = ("ok", "unparseable", "illegal", "error")


@dataclass
class Decision:
    """One move of a VLM: what it was asked about, what it said, what was played and what followed."""

    step: int  # steps already played in the episode (the state the question is about)
    action: int  # the action played (the parsed move, or the fallback)
    move: str  # its name
    answer: str | None  # the move read from the response (None when unparseable)
    status: str  # one of STATUSES; anything but "ok" played the fallback
    response: str
    reasoning: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cached: bool
    correct: float | None = None  # the project's verifier on the whole answer (accuracy 0..1)
    good_move: float | None = None  # 1 if the move named is one the engine calls best (None: no best move)
    error: str | None = None  # why a request failed, or why no answer came (a refusal, a content filter)
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    finish_reason: str | None = None  # the server's; "length": the answer was cut at max_tokens

    @property
    def cut_short(self) -> bool:
        """The answer stopped at ``max_tokens``, so its move (often after long reasoning) may be missing."""
        return self.finish_reason == "length"

    @property
    def valid(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _snake_heading(env: str, state: dict[str, Any]) -> str | None:
    if env == "snake":
        return state.get("direction")
    if env == "snake_duel":
        return state["snakes"][0]["direction"]
    return None


def legal_moves(env: str, state: dict[str, Any]) -> list[str]:
    """The moves a player may name: every action, except reversing into the neck in the Snake games."""
    names = list(game_class(env).ACTION_NAMES)
    heading = _snake_heading(env, state)
    if heading is not None:
        names.remove(OPPOSITE[heading])
    return names


def _no_answer_why(reply: ChatReply, answer: str | None) -> str | None:
    """Why a reply holds no move, where the server says, so that it is no unexplained empty answer: the
    model's refusal in place of one (OpenAI's ``message.refusal``), or a content filter that withheld it
    (OpenAI's and Azure's ``finish_reason`` "content_filter"). None otherwise."""
    if reply.refusal and not reply.content.strip():
        return f"the model refused: {reply.refusal}"
    if answer is None and reply.finish_reason == "content_filter":
        return "the server's content filter withheld the answer (finish_reason content_filter)"
    return None


def fallback_move(env: str, state: dict[str, Any]) -> str:
    """Straight on in the Snake games, else the game's first action (see the module docstring)."""
    heading = _snake_heading(env, state)
    return heading if heading is not None else game_class(env).ACTION_NAMES[0]


class VLMPlayer:
    """Plays ``env`` with the model behind ``client``; usable by ``run_episodes`` (``make_actor``)."""

    def __init__(self, client: ChatClient, env: str, concurrency: int = 8,
                 alone: str = "leave out --vlm") -> None:
        """``alone`` ends the refusal of a game a VLM cannot play: how the caller's script plays the game's
        specialist alone instead (the default holds where a specialist is given beside --vlm)."""
        from envs import GAMES
        from vlm.tasks import TASK_GAMES, check_move_task, missing_module, task_module

        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if env in GAMES and env not in TASK_GAMES:  # gameboy: task_module's advice (write one) is a project
            raise ValueError(f"a VLM cannot play {env!r}: it has no task module to ask for its moves; "
                             f"{missing_module(env)}. Games a VLM plays: {', '.join(TASK_GAMES)}. Its "
                             f"specialist plays alone: {alone}")
        self.client = client
        self.env = env
        self.action_names = tuple(game_class(env).ACTION_NAMES)
        self._index = {name.upper(): k for k, name in enumerate(self.action_names)}
        try:
            self.tasks = task_module(env)
            check_move_task(env)  # before any request: a question no move can be read from
        except (ImportError, TypeError) as e:  # a package's module that cannot be used: one error line
            raise ValueError(f"a VLM cannot play {env!r}: {e}") from e
        self.concurrency = concurrency
        self.on_decision: Any = None  # called with every Decision (progress bars)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.client.endpoint.model

    def decide(self, state: dict[str, Any], step: int = 0) -> Decision:
        """Ask the model about ``state`` and turn its answer into an action (or the counted fallback)."""
        from vlm.scoring import good_moves
        from vlm.verify import names_no_move, parse_move, verify

        try:
            draft = self.tasks.move_task(state)
        except Exception as e:
            if (problem := raised_problem(self.env, e)) is None:
                raise
            raise TaskModuleError(f"{module_place(self.env)} move_task (step {step}) raised {problem}") from e
        legal = legal_moves(self.env, state)
        fallback = fallback_move(self.env, state)
        try:
            reply = self.client.complete(draft.question, list(draft.images))
        except ChatError as e:
            # ChatConfigError: nothing later can succeed; ChatCancelled: the run is stopping. Neither is
            # the model's failed answer.
            if type(e) is not ChatError:
                raise
            return Decision(step, self._index[fallback.upper()], fallback, None, "error", "", None, 0, 0,
                            0.0, False, error=str(e))
        answer = parse_move(reply.content, draft)
        why = _no_answer_why(reply, answer)
        # A question marked unscored (Pokémon's: any button is legal) yields neither figure.
        scored = draft.extra.get("scored", True)
        correct = verify(reply.content, draft)["accuracy"] if scored else None
        if answer is None and names_no_move(reply.content, draft):
            # No move named, rightly: every move is fatal and the prompt asks for "None" (Snake). A valid
            # answer, as a named move is, whatever its fatal list; the fallback is as good as any move.
            status, move = "ok", fallback
        elif answer is None:
            status, move = "unparseable", fallback
        elif answer.upper() not in {m.upper() for m in legal}:
            status, move = "illegal", fallback
        else:
            status, move = "ok", answer
        good = good_moves(draft) if scored else None
        action = self._index[move.upper()]
        return Decision(step, action, self.action_names[action], answer, status, reply.content,
                        reply.reasoning, reply.prompt_tokens, reply.completion_tokens, reply.latency_s,
                        reply.cached, correct=correct,
                        good_move=None if good is None else float(answer in good),
                        error=why, finish_reason=reply.finish_reason)

    # ------------------------------------------------------------------ run_episodes protocol
    def make_actor(self, num_envs: int, deterministic: bool = True, streams: list[Any] | None = None
                   ) -> VLMActor:
        """``deterministic`` and ``streams`` are unused: the VLM's answers come from its endpoint."""
        self.client.resume()  # a new run: an earlier one's Ctrl-C (cancel) no longer applies
        return VLMActor(self, num_envs, self.on_decision)

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="vlm")
            return self._pool

    def close(self) -> None:
        """Wait for the requests on the wire (their answers reach the cache); queued ones are dropped."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def __enter__(self) -> VLMPlayer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class VLMActor:
    """Actions for a batch of boards: one request per live board, ``concurrency`` in flight at once."""

    def __init__(self, player: VLMPlayer, num_envs: int, on_decision: Any = None) -> None:
        self.player = player
        self.logs: list[list[Decision]] = [[] for _ in range(num_envs)]
        self.on_decision = on_decision

    def __call__(self, obs: np.ndarray, game: Game | None = None, live: np.ndarray | None = None
                 ) -> np.ndarray:
        if game is None:
            raise TypeError("a VLM actor needs the game (it reads the rendered state), not only observations")
        n = game.num_envs
        live = np.ones(n, dtype=bool) if live is None else live
        actions = np.zeros(n, dtype=np.int64)
        boards = [int(i) for i in np.flatnonzero(live)]
        states = [game.get_state(i) for i in boards]  # on this thread: the game is not thread-safe
        pool = self.player.pool()
        futures: list[Future[Decision]] = []
        try:
            # A stop waits for a safe point here: taken inside a thread's start or a future's wait (the
            # Condition.wait in both), it broke a lock and came out as a RuntimeError traceback.
            with stop_at_safe_points():
                futures += [pool.submit(self.player.decide, s, len(self.logs[i]))
                            for i, s in zip(boards, states, strict=True)]
                for i, future in zip(boards, futures, strict=True):
                    decision = result_at_stop_points(future)
                    actions[i] = decision.action
                    self.logs[i].append(decision)
                    if self.on_decision is not None:
                        self.on_decision(decision)
        except BaseException:
            # Ctrl-C or a fatal error (wrong key, model gone) ends the run: the requests still queued
            # would be sent (and paid for) for nothing, and retries would keep the user waiting.
            for future in futures:
                future.cancel()
            self.player.client.cancel()
            raise
        return actions

    def after_step(self, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
                   live: np.ndarray) -> None:
        for i in np.flatnonzero(live):
            d = self.logs[i][-1]
            d.reward, d.terminated, d.truncated = float(reward[i]), bool(terminated[i]), bool(truncated[i])

    def episode_log(self, i: int) -> list[Decision]:
        return self.logs[i]
