"""How likely the local model finds a given answer: the log-probability of each of its tokens.

A judge that has the model *score* a reply, rather than write or grade one, can compare the same
reply after different prompts (see `quality.reply_judge`). llama-cpp-python returns every token's
logits only from a context made with `logits_all`, which would cost the shared model a
vocabulary-wide row per context position (150k floats each for Qwen); so the answer's tokens are
decoded here as one batch that asks for logits at those positions alone, and the model's token
bookkeeping is kept as `Llama.eval` keeps it, so the prompt cache stays valid for the next caller.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from realtime.plugins.llama_llm import LlamaLLM

__all__ = ["answer_logprob"]


@functools.cache
def _formatter(template: str, eos: str, bos: str) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)


def _prompt(llama: Any, messages: Sequence[dict[str, str]]) -> str:
    """`messages` through the chat template of the GGUF's metadata, up to the assistant's turn."""
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise ValueError("the model's GGUF has no chat template to score an answer with")
    eos, bos = (
        llama._model.token_get_text(t) if t != -1 else "" for t in (llama.token_eos(), llama.token_bos())
    )
    return str(_formatter(template, eos, bos)(messages=list(messages)).prompt)


def answer_logprob(model: LlamaLLM, messages: Sequence[dict[str, str]], answer: str) -> tuple[float, int]:
    """The natural-log probability that the model answers `messages` with exactly `answer`, summed
    over the answer's tokens, and their number (blocking; holds the model's lock)."""
    import numpy as np

    with model.lock:
        llama = model.llama
        prompt = _prompt(llama, messages)
        head = llama.tokenize(prompt.encode(), add_bos=True, special=True)
        whole = llama.tokenize((prompt + answer).encode(), add_bos=True, special=True)
        if whole[: len(head)] != head or len(whole) == len(head):
            raise ValueError(f"the answer {answer!r} does not tokenize as a continuation of its prompt")
        tail = whole[len(head) :]
        # The logits that predict the answer's first token are the prompt's last position's.
        batch = [head[-1], *tail[:-1]]
        if len(batch) > llama.n_batch:
            raise ValueError(f"an answer of {len(tail)} tokens is longer than one batch ({llama.n_batch})")
        kept = llama.longest_token_prefix(llama.input_ids[: llama.n_tokens].tolist(), head[:-1])
        llama.n_tokens = kept
        llama.eval(head[kept:-1])
        past = llama.n_tokens
        llama._ctx.kv_cache_seq_rm(-1, past, -1)
        llama._batch.set_batch(batch=batch, n_past=past, logits_all=True)
        llama._ctx.decode(llama._batch)
        logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(len(batch) * llama.n_vocab(),))
        rows = logits.reshape(len(batch), llama.n_vocab()).astype(np.float64)
        llama.input_ids[past : past + len(batch)] = batch
        llama.n_tokens = past + len(batch)
    top = rows.max(axis=1, keepdims=True)
    logsumexp = top[:, 0] + np.log(np.exp(rows - top).sum(axis=1))
    chosen = rows[np.arange(len(tail)), tail]
    return float((chosen - logsumexp).sum()), len(tail)
