"""Documents into sections (Markdown, plain text, HTML, PDF) and sections into bounded chunks."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF

from knowledge.chunks import MAX_WORDS, chunk_sections
from knowledge.documents import DocumentError, Section, document_paths, read_document
from knowledge.pdf import MAX_PDF_PAGES
from tests.knowledge import CORRUPT_PDF, DOCS, SOURCES


def _by_heading(sections: list[Section]) -> dict[str, str]:
    return {s.heading: s.text for s in sections}


def test_markdown_sections_follow_atx_and_underlined_headings_with_inline_markup_removed() -> None:
    """`#` headings nest by level, `===`/`---` underlines are levels 1 and 2; bold loses its marks."""
    pricing = _by_heading(read_document(DOCS / "pricing.md", "pricing.md"))
    assert list(pricing)[:4] == [
        "Pricing",
        "Pricing > Starter plan",
        "Pricing > Growth plan",
        "Pricing > Enterprise plan",
    ]
    assert "Growth is our middle plan" in pricing["Pricing > Growth plan"]
    assert (
        "$69 per vehicle per month" in pricing["Pricing > Growth plan"]
    )  # was **$69 per vehicle per month**
    enterprise = pricing["Pricing > Enterprise plan"].splitlines()
    assert "- Single Sign-On (SSO) through SAML 2.0 and user provisioning through SCIM" in enterprise
    tour = _by_heading(read_document(DOCS / "features.md", "features.md"))
    assert "Product tour > Route optimisation > Time windows" in tour
    assert "Product tour > Proof of delivery" in tour  # a `##` after an underlined level-2 heading


def test_markdown_front_matter_and_code_fences_are_not_headings(tmp_path: Path) -> None:
    """YAML front matter is dropped; a `#` line inside a fenced block is code, not a heading."""
    path = tmp_path / "api.md"
    path.write_text(
        "---\ntitle: API\n---\n# API\n\nCall it [like this](https://example.com).\n\n"
        "```sh\n# a comment\ncurl x\n```\n"
    )
    sections = read_document(path, "api.md")
    assert [s.heading for s in sections] == ["API"]
    assert sections[0].text.startswith("Call it like this.")
    assert "# a comment" in sections[0].text and "title: API" not in sections[0].text


def test_plain_text_headings_are_underlined_all_caps_or_numbered_title_lines() -> None:
    """Underline styles and numbered titles take levels in order of appearance; ALL-CAPS lines too."""
    onboarding = _by_heading(read_document(DOCS / "onboarding.txt", "onboarding.txt"))
    assert "Onboarding guide > Before you start" in onboarding
    assert "Onboarding guide > The first two weeks > 2. Parallel running" in onboarding
    assert onboarding["Onboarding guide > Training"].startswith(
        "Dispatchers are trained in two live sessions"
    )
    support = _by_heading(read_document(DOCS / "help" / "support.txt", "help/support.txt"))
    assert list(support)[:3] == ["ROUTEWISE CUSTOMER SUPPORT", "SUPPORT HOURS", "RESPONSE TIMES"]
    # Hard-wrapped lines come back as one paragraph.
    assert "Monday to Friday from 7 a.m. to 8 p.m. Eastern Time, and on Saturdays" in support["SUPPORT HOURS"]


def test_a_numbered_list_in_plain_text_is_not_a_run_of_headings(tmp_path: Path) -> None:
    """Numbered lines that follow one another are a list inside the section, not titles."""
    path = tmp_path / "steps.txt"
    path.write_text("SETUP\n\nDo this:\n\n1. Open Settings\n2. Choose Depots\n3. Add Depot\n")
    sections = read_document(path, "steps.txt")
    assert [s.heading for s in sections] == ["SETUP"]
    assert sections[0].text.splitlines()[-3:] == ["1. Open Settings", "2. Choose Depots", "3. Add Depot"]


def test_plain_text_without_headings_is_one_section_of_paragraphs(tmp_path: Path) -> None:
    """No title lines: the text stays together, paragraphs apart, under no heading."""
    path = tmp_path / "notes.txt"
    path.write_text("First paragraph, line one\nand line two.\n\nSecond paragraph.\n")
    assert read_document(path, "notes.txt") == [
        Section("notes.txt", (), "First paragraph, line one and line two.\n\nSecond paragraph.")
    ]


def test_html_sections_follow_h1_to_h6_without_scripts_styles_navigation_or_footer() -> None:
    """h1-h3 nest; text in script, style, nav, head and footer is left out; entities are decoded."""
    sections = read_document(DOCS / "integrations.html", "integrations.html")
    by_heading = _by_heading(sections)
    assert "Integrations > REST API > Rate limits" in by_heading
    assert "Integrations > Spreadsheet and CSV imports" in by_heading
    assert "Settings → Integrations" in by_heading["Integrations"]
    everything = " ".join(s.heading + " " + s.text for s in sections)
    for absent in ("dataLayer", "font-family", "Sign in", "All rights reserved", "| Routewise"):
        assert absent not in everything


def test_pdf_headings_come_from_font_sizes_and_running_footers_are_dropped() -> None:
    """The larger title and bold headings nest; the per-page footer is gone; a paragraph cut by a page
    break reads on."""
    sections = read_document(DOCS / "security.pdf", "security.pdf")
    by_heading = _by_heading(sections)
    title = "Routewise security overview"
    assert [s.heading for s in sections][:3] == [
        f"{title} > Overview",
        f"{title} > Single sign-on",
        f"{title} > Roles and two-step sign-in",
    ]
    assert len(sections) == 10
    assert not any("page" in s.text.lower().split() for s in sections)
    retention = by_heading[f"{title} > Data retention and deletion"]
    assert "kept for 90 days in case you change your mind and then permanently deleted" in retention


def test_a_corrupt_pdf_is_a_document_error_naming_the_file_and_the_reason() -> None:
    """A PDF cut short says which file and that it is not a readable PDF, not a pypdf traceback."""
    with pytest.raises(DocumentError, match=r"^broken/corrupt\.pdf: not a readable PDF \(.+\)"):
        read_document(CORRUPT_PDF, "broken/corrupt.pdf")


def test_text_that_is_not_utf8_or_not_text_is_a_document_error(tmp_path: Path) -> None:
    """Latin-1 bytes and binary data in a .txt are refused with the file named."""
    latin = tmp_path / "old.txt"
    latin.write_bytes("Prix: 39 \u20ac par v\u00e9hicule".encode("cp1252"))
    with pytest.raises(DocumentError, match=r"^old\.txt: not UTF-8 text \(byte \d+\)$"):
        read_document(latin, "old.txt")
    binary = tmp_path / "image.md"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    with pytest.raises(DocumentError, match=r"^image\.md: binary data, not text$"):
        read_document(binary, "image.md")


def test_a_pdf_past_the_page_limit_is_refused_with_its_page_count(tmp_path: Path) -> None:
    """A PDF of more pages than a knowledge base's document has is refused before its pages are
    read, saying how many it has and the limit."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for number in range(MAX_PDF_PAGES + 1):
        pdf.add_page()
        pdf.cell(text=f"Page {number}")
    path = tmp_path / "manual.pdf"
    pdf.output(str(path))
    with pytest.raises(
        DocumentError, match=rf"^manual\.pdf: {MAX_PDF_PAGES + 1} pages, over the {MAX_PDF_PAGES}-page limit$"
    ):
        read_document(path, "manual.pdf")


def test_a_folder_lists_supported_documents_by_relative_path_without_hidden_files(tmp_path: Path) -> None:
    """Sources are paths relative to the folder with forward slashes; dot-files and other formats stay out."""
    (tmp_path / "a").mkdir()
    (tmp_path / ".git").mkdir()
    for name in ("a/b.md", "c.PDF", "d.htm", "e.docx", ".hidden.md", ".git/x.txt"):
        (tmp_path / name).write_text("x")
    assert list(document_paths(tmp_path)) == ["a/b.md", "c.PDF", "d.htm"]


def test_sections_become_chunks_under_the_word_limit_cut_at_sentences_with_their_heading() -> None:
    """A short section is one chunk; a long one is cut at sentence ends into near-equal chunks, each
    carrying the heading path; nothing is lost."""
    sentence = "Drivers record a photo, a signature or a scanned barcode at every stop they visit today."
    long = Section("guide.md", ("Guide", "Proof"), " ".join([sentence] * 40))  # 640 words, one paragraph
    short = Section("guide.md", ("Guide", "Intro"), "Read this first.")
    chunks = chunk_sections([short, long])
    assert chunks[0].heading == "Guide > Intro" and chunks[0].text == "Read this first."
    rest = chunks[1:]
    assert len(rest) == 4 and {c.heading for c in rest} == {"Guide > Proof"}
    assert all(len(c.text.split()) <= MAX_WORDS and c.text.endswith("today.") for c in rest)
    assert max(len(c.text.split()) for c in rest) - min(len(c.text.split()) for c in rest) <= 16
    assert " ".join(c.text for c in rest) == long.text


def test_fixture_documents_chunk_within_the_limit() -> None:
    """Every fixture document reads without error and every chunk is within the word limit."""
    chunks = [
        c
        for source, path in document_paths(DOCS).items()
        for c in chunk_sections(read_document(path, source))
    ]
    assert {c.source for c in chunks} == SOURCES
    assert all(0 < len(c.text.split()) <= MAX_WORDS for c in chunks)
