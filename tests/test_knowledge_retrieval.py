"""Search over the fixture knowledge base with the real embedding model: recall on questions worded
unlike the documents, acronyms learnt from the documents, the chunk record's journey through JSON."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import yaml
from temporalio.converter import DataConverter

from knowledge.embedding import DIMENSIONS, embedder
from knowledge.index import Hit, IndexedChunk, KnowledgeIndex, Mode, decode_vector, encode_vector
from knowledge.ingest import indexed_chunks, plan_ingest
from knowledge.lexical import LexicalIndex
from tests.conftest import ROOT
from tests.knowledge import DOCS
from tests.knowledge import QUESTIONS as QUESTION_FILE

QUESTIONS = yaml.safe_load(QUESTION_FILE.read_text(encoding="utf-8"))
# Measured 0.91 (43 of 47) with the hybrid; the threshold leaves three questions' slack for
# another CPU's float rounding, and still fails if a reader or the chunker loses sections
# (a document's worth of questions is 5-9).
RECALL_AT_3 = 0.85


@pytest.fixture(scope="module")
def fixture_index() -> KnowledgeIndex:
    plan = plan_ingest(DOCS, {}, embedder().embed)
    return KnowledgeIndex.from_chunks("routewise", "test", indexed_chunks(plan))


def _answers(hit: Hit, question: dict[str, str]) -> bool:
    return hit.source == question["source"] and hit.heading.split(" > ")[-1] == question["heading"]


def _recall_at_3(index: KnowledgeIndex, mode: Mode) -> float:
    found = sum(any(_answers(h, q) for h in index.search(q["question"], 3, mode)) for q in QUESTIONS)
    return found / len(QUESTIONS)


def test_hybrid_search_finds_the_answer_in_the_top_three_for_questions_worded_unlike_the_documents(
    fixture_index: KnowledgeIndex,
) -> None:
    """Recall@3 over the question set: the hybrid reaches the threshold and is no worse than the
    embedding alone or BM25 alone."""
    recall = {mode: _recall_at_3(fixture_index, mode) for mode in ("dense", "lexical", "hybrid")}
    print(f"recall@3 over {len(QUESTIONS)} questions, {len(fixture_index)} chunks: {recall}")
    assert recall["hybrid"] >= RECALL_AT_3
    assert recall["hybrid"] >= recall["dense"] and recall["hybrid"] >= recall["lexical"]


def test_search_returns_k_hits_best_first_with_their_heading(fixture_index: KnowledgeIndex) -> None:
    """Hits are ordered by score; the Growth plan's section answers "the mid tier"; k bounds the count."""
    hits = fixture_index.search("How much is the mid tier per truck?", k=5)
    assert len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert (hits[0].source, hits[0].heading) == ("pricing.md", "Pricing > Growth plan")
    assert "$69 per vehicle per month" in hits[0].text
    assert fixture_index.search("   ") == [] and fixture_index.search("pricing", k=0) == []


def test_an_acronym_matches_its_long_form_as_the_documents_define_it() -> None:
    """A definition in one passage ("Single Sign-On (SSO)") makes "SSO" find a passage that only says
    "single sign-on", and the long form find one that only says "SSO"; without it, neither does."""
    passages = [
        "Enterprise adds Single Sign-On (SSO) and audit logs.",
        "Staff sign in through your identity provider with single sign-on over SAML.",
        "Turn on SSO enforcement in the admin console.",
        "Drivers sign the delivery on the phone's screen.",
    ]
    index = LexicalIndex(passages)
    assert index.acronyms == {"sso": "Single Sign-On"}
    scores = index.scores("Do you support SSO?")
    assert scores[1] > 0 and scores[3] == 0
    assert index.scores("how does single sign-on work")[2] > 0
    assert index.expand("Do you support SSO?") == "Do you support SSO? (Single Sign-On)"
    undefined = LexicalIndex(passages[1:])
    assert undefined.acronyms == {} and undefined.scores("Do you support SSO?")[0] == 0


def test_an_acronym_defined_after_its_short_form_is_learnt_too() -> None:
    """ "SLA (service level agreement)" defines SLA as well; a bracket that is a remark defines nothing."""
    index = LexicalIndex(["Our SLA (service level agreement) pays credits.", "Use the API (see below)."])
    assert index.acronyms == {"sla": "service level agreement"}


def test_fixture_acronyms_come_from_the_documents(fixture_index: KnowledgeIndex) -> None:
    """The pricing page's definitions are what the index knows: SSO and SLA, with their long forms."""
    hits = fixture_index.search("What's your SLA?", k=3)
    assert any(h.heading.endswith("Availability commitment") for h in hits)
    assert fixture_index.acronyms == {"sso": "Single Sign-On", "sla": "Service Level Agreement"}


def test_an_indexed_chunk_travels_through_temporals_json_converter_unchanged() -> None:
    """The vector is base64 text, so the record is plain JSON; float16 keeps it within 1e-3."""
    vector = embedder().embed_query("Can we pay by bank transfer?")
    assert vector.shape == (DIMENSIONS,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-5
    chunk = IndexedChunk("pricing.md", "Pricing > Payment methods", "Annual plans ...", encode_vector(vector))
    converter = DataConverter.default
    back = converter.payload_converter.from_payloads(
        converter.payload_converter.to_payloads([chunk]), [IndexedChunk]
    )
    assert back == [chunk]
    assert len(chunk.vector) == 1024  # 384 float16s, base64
    assert np.abs(decode_vector(back[0].vector) - vector).max() < 1e-3


def test_importing_the_knowledge_index_loads_no_model() -> None:
    """A process that only holds an index (the realtime loop) imports neither torch nor
    sentence-transformers until the first question is embedded."""
    code = (
        "import sys, knowledge.index, knowledge.embedding, db.knowledge; "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
