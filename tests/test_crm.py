"""The CRM lookup's adapters: the built-in one in PostgreSQL and one over HTTP; phone numbers."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from activities.crm import CrmUnavailable, HttpCrm
from db.crm import PostgresCrm
from rapport.phone import InvalidNumber, to_e164
from realtime.transports.scenario import ScenarioError, load_scenario
from tests.crm_server import JORDAN, serve_crm


async def test_the_built_in_crm_finds_a_seeded_contact_with_account_and_latest_notes(
    pool: asyncpg.Pool,
) -> None:
    """Jordan's number gives the contact, the account and the newest notes first."""
    context = await PostgresCrm(pool).lookup("+15555550101")
    assert context is not None
    assert (context.contact, context.title, context.account) == (
        "Jordan Avery",
        "Account Executive",
        "Routewise",
    )
    assert context.employees == 85
    assert context.notes[0].startswith("Sent the Harbor Logistics case study")
    assert "Jordan Avery, Account Executive, Routewise" in context.as_prompt()


async def test_the_built_in_crm_answers_none_for_an_unknown_number(pool: asyncpg.Pool) -> None:
    """A number no contact has is not an error: the lookup says there is no record."""
    assert await PostgresCrm(pool).lookup("+15555559999") is None


async def test_an_http_crm_is_read_through_its_contacts_endpoint() -> None:
    """HttpCrm asks GET /contacts?phone=…; a 200 is a record, a 404 is no record."""
    async with serve_crm({"+15555550101": JORDAN}) as url:
        crm = HttpCrm(url, timeout_s=2)
        context = await crm.lookup("+15555550101")
        assert context is not None and context.account == "Routewise"
        assert context.notes == JORDAN["notes"]
        assert await crm.lookup("+15555550199") is None


async def test_an_http_crm_that_fails_or_is_too_slow_is_unavailable_saying_what_happened() -> None:
    """A 5xx, a timeout or an answer that is not a record is CrmUnavailable saying what happened,
    without the configured URL (credentials, internal hosts) or the answer's data (errors reach
    the call's event log)."""
    async with serve_crm({}, status=503) as url:
        secret_url = url.replace("http://", "http://sync:hunter2@")
        with pytest.raises(CrmUnavailable, match=r"^the HTTP CRM's GET /contacts answered 503$") as failed:
            await HttpCrm(secret_url, timeout_s=2).lookup("+15555550101")
        assert "hunter2" not in str(failed.value) and "127.0.0.1" not in str(failed.value)
    async with serve_crm({"+15555550101": JORDAN}, delay_s=1.0) as url:
        with pytest.raises(CrmUnavailable, match=r"/contacts timed out after 0\.2 s"):
            await HttpCrm(url, timeout_s=0.2).lookup("+15555550101")
    async with serve_crm({"+15555550101": {"name": "Jordan"}}) as url:
        with pytest.raises(CrmUnavailable, match="the answer is not a contact record") as failed:
            await HttpCrm(url, timeout_s=2).lookup("+15555550101")
        assert "Jordan" not in str(failed.value)


def test_phone_numbers_are_normalised_to_e164_and_local_ones_refused() -> None:
    """Spaces, dashes, brackets and a 00 prefix are folded away; a number without a country is refused."""
    assert to_e164("+1 (555) 555-0101") == "+15555550101"
    assert to_e164("0044 20 7946 0958") == "+442079460958"
    with pytest.raises(InvalidNumber, match="international"):
        to_e164("555-0101")


def test_a_scenario_with_a_bad_caller_number_names_the_field(tmp_path: Path) -> None:
    """caller.number must be international; the error names the file and the field."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "statechart: sales_roleplay\ncaller:\n  number: '555-0101'\n  turns:\n    - say: Hi\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match=r"s\.yaml: caller\.number: .*international"):
        load_scenario(path)
    path.write_text(
        "statechart: sales_roleplay\ncaller:\n  number: '+1 555 555 0101'\n  turns:\n    - say: Hi\n",
        encoding="utf-8",
    )
    assert load_scenario(path).caller_number == "+15555550101"
