"""The local model scores a given answer: its log-probability, consistent with what the model says,
and without spoiling the prompt cache the next generation reuses."""

from __future__ import annotations

import threading

import pytest

from realtime.plugins.llama_likelihood import answer_logprob
from realtime.plugins.llama_llm import LlamaLLM
from realtime.session import Models

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture
def model(models: Models) -> LlamaLLM:
    assert isinstance(models.llm, LlamaLLM)
    return models.llm


def _greedy(model: LlamaLLM) -> str:
    return "".join(model.generate(QUESTION, threading.Event(), 10, temperature=0.0, stop=()))


def test_the_answer_the_model_gives_is_likelier_than_a_wrong_one(model: LlamaLLM) -> None:
    """The model's greedy answer scores above a wrong answer, as a probability (below 0) summed
    over its tokens, whose number is returned with it."""
    said = _greedy(model).strip()
    assert "Paris" in said
    right, tokens = answer_logprob(model, QUESTION, said)
    wrong, _ = answer_logprob(model, QUESTION, "Berlin.")
    assert tokens == len(model.llama.tokenize(said.encode(), add_bos=False))
    assert wrong < right < 0


def test_scoring_again_from_the_cache_gives_the_same_figure_and_generation_is_unchanged(
    model: LlamaLLM,
) -> None:
    """The second score of an answer reuses the evaluated prompt and agrees with the first; a
    generation after scoring says what it said before (the cache's bookkeeping stayed true)."""
    before = _greedy(model)
    first, _ = answer_logprob(model, QUESTION, "Lyon.")
    again, _ = answer_logprob(model, QUESTION, "Lyon.")
    assert again == pytest.approx(first, abs=0.05)
    assert _greedy(model) == before
