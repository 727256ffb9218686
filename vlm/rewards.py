"""Reward functions with each RL trainer's signature, all scoring with ``vlm.verify.verify``.

Trainers load reward code from a file path, so this file works when loaded by path from anywhere: it
puts its repository on ``sys.path`` if ``vlm`` is not importable. The ground truth every trainer passes
is ``vlm.verify.ground_truth_json(record)`` (the exported ``ground_truth`` / ``answer`` / label columns),
from which the verifier rebuilds the rule; a plain string falls back to an exact-match rule.

- TRL ``GRPOTrainer(reward_funcs=[trl_reward])``: ``trl_reward(completions, **kwargs) -> list[float]``;
  completions are strings or conversational message lists (a ``reasoning_content`` or ``thinking`` that
  TRL's response parser took out is put back in <think> tags); the ground truth comes from the dataset
  column ``ground_truth`` (else ``reward_model["ground_truth"]``, ``solution`` or ``answer``).
  ``trl_accuracy_reward`` / ``trl_format_reward`` log the two parts separately.
- EasyR1 (``worker.reward.reward_function=vlm/rewards.py:compute_score``):
  ``compute_score(reward_inputs)`` with a list of ``{"response", "response_length", "ground_truth"}``
  dicts returns a list of ``{"overall", "format", "accuracy"}`` (current EasyR1 reads ``REWARD_TYPE``
  from this module, ``batch``; older ones the ``reward_type`` setting); one dict (``sequential``)
  returns one dict. Older EasyR1 (its ``FunctionRewardManager``, one response at a time) calls
  ``compute_score(predict_str, ground_truth)``: one dict too. ``format_weight`` in
  ``reward_function_kwargs`` replaces the verifier's 0.1.
- verl (``reward.custom_reward_function.path=vlm/rewards.py``, name ``compute_score``; verl 0.9 reads
  only the ``reward.`` one, the top-level ``custom_reward_function`` is accepted and ignored):
  ``compute_score(data_source, solution_str, ground_truth, extra_info=None)`` returns
  ``{"score", "format", "accuracy"}`` (verl reads ``score`` and logs the rest); ``format_weight`` in
  ``custom_reward_function.reward_kwargs`` works as in EasyR1. The batch reward manager of earlier verl
  releases (``reward_model.reward_manager=batch``; 0.9.1 has none) calls ``compute_score(data_sources,
  solution_strs, ground_truths, extra_infos)`` by keyword and gets a list of those dicts.
- OpenRLHF (0.11 ``--reward.remote_url vlm/rewards.py``; ViGaL's OpenRLHF-M ``--remote_rm_url``):
  ``reward_func(queries, prompts, labels)`` returns flat tensors ``{"rewards", "scores",
  "accuracy_rewards", "format_rewards"}``; the response is the query after its prompt (after the prompt's end
  where image tokens grew in the query). Flat, as ViGaL moves every value to the GPU (``r[k].to(device)``: a
  nested ``extra_logs`` dict fails there) and logs ``accuracy_rewards``; OpenRLHF 0.11 reads ``rewards`` and
  ``scores`` and ignores the rest.

- ms-swift GRPO (``--external_plugins vlm/rewards.py --reward_funcs depthfirst``): see
  ``_register_with_swift`` at the end.

``compute_score`` serves both EasyR1 and verl: a call with ``solution_strs`` is verl's batch manager's;
one with ``solution_str`` (verl always passes it by keyword), with three or more positional arguments, or
with two and a ``ground_truth`` keyword is verl's; one with exactly two positional arguments is older
EasyR1's ``compute_score(predict_str, ground_truth)``, which returns one ``{"overall", "format",
"accuracy"}``; anything else is current EasyR1's.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

try:
    from vlm.verify import verify
except ImportError:  # loaded by path from outside the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from vlm.verify import verify

REWARD_TYPE = "batch"  # EasyR1 reads it to choose its reward manager: compute_score takes a list
_GT_COLUMNS = ("ground_truth", "reward_model", "solution", "answer")
_END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<｜end▁of▁sentence｜>", "</s>", "<|eot_id|>", "<end_of_turn>",
                "<eos>")
_ASSISTANT_MARKERS = ("<|im_start|>assistant\n", "<|im_start|>assistant", "<|start_header_id|>assistant"
                      "<|end_header_id|>\n\n", "Assistant:")
# Where TRL 1.16's parse_response (a tokenizer's response schema) puts the <think> block's text
_REASONING_KEYS = ("reasoning_content", "thinking")
_MIN_PROMPT_END = 32  # characters of the prompt's end a query must hold to be cut there


def _ground_truth(value: Any) -> Any:
    """A verify-able ground truth from a column value (verl's reward_model dict holds it nested)."""
    if isinstance(value, Mapping) and "ground_truth" in value:
        return value["ground_truth"]
    return value


def _content_text(completion: Any) -> Any:
    """The text of a TRL completion: a string, or the last message's content (string or parts), after its
    reasoning put back in <think> tags where TRL's response parser took it out."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        message = completion[-1]
        content = message.get("content", "")
        if isinstance(content, str):
            text = content
        elif isinstance(content, Sequence):
            text = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
        else:
            return completion
        reasoning = next((message[k] for k in _REASONING_KEYS if isinstance(message.get(k), str)), "")
        return f"<think>\n{reasoning}\n</think>\n{text}" if reasoning.strip() else text
    return completion  # verify scores anything else as 0


def _checked_weight(format_weight: Any) -> float | None:
    """``format_weight`` as a share from 0 to 1. Outside that the accuracy share goes negative (1.5 gave a
    right answer -0.5), and a string from a trainer's config failed inside the arithmetic: a misconfigured
    run, so a ValueError at its first reward call, unlike a bad ground truth, which scores 0."""
    if format_weight is None:
        return None
    if (isinstance(format_weight, bool) or not isinstance(format_weight, Real)
            or not 0.0 <= float(format_weight) <= 1.0):  # NaN fails the comparison too
        raise ValueError(f"format_weight must be a number from 0 to 1 (the format's share of the score), "
                         f"got {format_weight!r}")
    return float(format_weight)


def _score(response: Any, ground_truth: Any, format_weight: float | None = None) -> dict[str, float]:
    """``verify``'s scores; ``format_weight`` (a trainer's reward kwargs) replaces its 0.1 format share."""
    format_weight = _checked_weight(format_weight)
    try:
        s = verify(response, _ground_truth(ground_truth))
    except ValueError:  # a ground truth that is not one of ours or is malformed: no reward, never a crash
        return {"overall": 0.0, "format": 0.0, "accuracy": 0.0}
    if format_weight is not None:
        s["overall"] = (1.0 - format_weight) * s["accuracy"] + format_weight * s["format"]
    return s


# ---------------------------------------------------------------------------------------------- TRL
def _trl_scores(completions: Sequence[Any], kwargs: dict[str, Any]) -> list[dict[str, float]]:
    column = next((kwargs[c] for c in _GT_COLUMNS if kwargs.get(c) is not None), None)
    if column is None:
        raise ValueError(f"the TRL reward needs a dataset column with the ground truth, one of "
                         f"{_GT_COLUMNS}; got columns {sorted(kwargs)}")
    if len(column) != len(completions):
        raise ValueError(f"{len(completions)} completions but {len(column)} ground truths")
    return [_score(_content_text(c), gt) for c, gt in zip(completions, column, strict=True)]


def trl_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """TRL reward function: overall score (0.9 accuracy + 0.1 format) per completion."""
    return [s["overall"] for s in _trl_scores(completions, kwargs)]


def trl_accuracy_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    return [s["accuracy"] for s in _trl_scores(completions, kwargs)]


def trl_format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    return [s["format"] for s in _trl_scores(completions, kwargs)]


# ------------------------------------------------------------------------------------- EasyR1 / verl
def easyr1_compute_score(reward_inputs: Any, format_weight: float | None = None) -> Any:
    """EasyR1: a list of reward inputs -> a list of scores (batch), or one input -> one score.
    ``format_weight`` (EasyR1's ``reward_function_kwargs``) overrides the verifier's 0.1."""
    def one(r: Mapping[str, Any]) -> dict[str, float]:
        return _score(r.get("response"), r.get("ground_truth"), format_weight)

    if isinstance(reward_inputs, Mapping):
        return one(reward_inputs)
    return [one(r) for r in reward_inputs]


def verl_compute_score(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any = None,
                       format_weight: float | None = None, **kwargs: Any) -> dict[str, float]:
    """verl: one response -> {"score", "format", "accuracy"}; other reward kwargs are ignored."""
    s = _score(solution_str, ground_truth, format_weight)
    return {"score": s["overall"], "format": s["format"], "accuracy": s["accuracy"]}


def compute_score(*args: Any, **kwargs: Any) -> Any:
    """EasyR1's or verl's ``compute_score``, told apart by the call (see the module docstring)."""
    if "solution_strs" in kwargs:  # verl's batch reward manager: one batch's lists, a score per response
        return [verl_compute_score(None, s, gt, format_weight=kwargs.get("format_weight"))
                for s, gt in zip(kwargs["solution_strs"], kwargs["ground_truths"], strict=True)]
    if "solution_str" in kwargs or len(args) >= 3 or (len(args) == 2 and "ground_truth" in kwargs):
        return verl_compute_score(*args, **kwargs)
    if len(args) == 2:  # older EasyR1: compute_score(predict_str, ground_truth), one score dict
        return _score(args[0], args[1], kwargs.get("format_weight"))
    reward_inputs = args[0] if args else kwargs.get("reward_inputs", kwargs.get("reward_input"))
    return easyr1_compute_score(reward_inputs, kwargs.get("format_weight"))


# ------------------------------------------------------------------------------------------ OpenRLHF
def _after_prompt_end(query: str, prompt: str) -> int | None:
    """Where the reply starts in a query that holds the prompt's end but not its start, else None.

    OpenRLHF 0.11 decodes the processor's token ids, where each image placeholder of the prompt stands once
    per image patch; the text after the last image still matches. The longest suffix of the prompt found in
    the query ends where the reply begins (binary search: every shorter suffix of a found one is found too).
    A suffix under _MIN_PROMPT_END characters is too common to be the prompt's."""
    lo, hi = 0, len(prompt)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if prompt[-mid:] in query:
            lo = mid
        else:
            hi = mid - 1
    if lo < _MIN_PROMPT_END:
        return None
    return query.find(prompt[-lo:]) + lo  # the first: a reply that repeats the prompt's end stays whole


def response_from_query(query: str, prompt: str) -> str:
    """The model's reply inside an OpenRLHF query (prompt + response): the text after the prompt (or after
    its end, where image tokens grew), else after the last assistant marker, without end-of-turn tokens."""
    start = len(prompt) if prompt and query.startswith(prompt) else _after_prompt_end(query, prompt)
    if start is not None:
        reply = query[start:]
    else:
        cut = max((query.rfind(m) + len(m) if m in query else -1) for m in _ASSISTANT_MARKERS)
        reply = query[cut:] if cut >= 0 else query
    for marker in _END_MARKERS:
        reply = reply.replace(marker, "")
    return reply.strip()


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any) -> Any:
    """OpenRLHF's and ViGaL's remote reward: {"rewards", "scores", "accuracy_rewards", "format_rewards"}
    (torch tensors; lists without torch)."""
    scores = [_score(response_from_query(q, p), label) for q, p, label in zip(queries, prompts, labels,
                                                                             strict=True)]
    accuracy = [s["accuracy"] for s in scores]
    out = {"rewards": [s["overall"] for s in scores], "scores": accuracy, "accuracy_rewards": accuracy,
           "format_rewards": [s["format"] for s in scores]}
    try:
        import torch
    except ImportError:
        return out
    return {k: torch.tensor(v, dtype=torch.float32) for k, v in out.items()}


# ------------------------------------------------------------------------------------------ ms-swift
def _register_with_swift() -> None:
    """ms-swift GRPO (``--external_plugins vlm/rewards.py --reward_funcs depthfirst``) imports this file
    by path, makes ``orms[name](args=...)`` and calls it as ``(completions, **columns)``: the ground truth
    is the ``solution`` column. Registered only inside ms-swift's own process (``swift`` imported), so
    other trainers never import it."""
    if "swift" not in sys.modules:
        return
    try:
        from swift.rewards import ORM, orms  # ms-swift 4
    except ImportError:
        from swift.plugin import ORM, orms  # ms-swift 3

    class DepthfirstReward(ORM):  # the overall score, as trl_reward
        part = staticmethod(trl_reward)

        def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
            return self.part(completions, **kwargs)

    class DepthfirstAccuracy(DepthfirstReward):
        part = staticmethod(trl_accuracy_reward)

    class DepthfirstFormat(DepthfirstReward):
        part = staticmethod(trl_format_reward)

    orms.update(depthfirst=DepthfirstReward, depthfirst_accuracy=DepthfirstAccuracy,
                depthfirst_format=DepthfirstFormat)


_register_with_swift()
