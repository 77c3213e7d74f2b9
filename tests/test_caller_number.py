"""The caller's number a LiveKit call looks up in the CRM comes from LiveKit SIP alone."""

from __future__ import annotations

from livekit import rtc

from realtime.transports.livekit_worker import caller_number

SIP = rtc.ParticipantKind.PARTICIPANT_KIND_SIP


def test_a_phone_callers_number_is_read_in_e164() -> None:
    """LiveKit SIP's `sip.phoneNumber` is the number, normalised to E.164."""
    assert caller_number(SIP, {"sip.phoneNumber": "+1 (555) 555-0101"}) == "+15555550101"


def test_a_number_claimed_by_any_other_participant_is_ignored() -> None:
    """A browser or agent participant can set its own attributes: claiming a customer's number
    would read out that customer's CRM record, so only a SIP participant's number counts."""
    claimed = {"sip.phoneNumber": "+15555550101"}
    for kind in (
        rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD,
        rtc.ParticipantKind.PARTICIPANT_KIND_INGRESS,
        rtc.ParticipantKind.PARTICIPANT_KIND_EGRESS,
        rtc.ParticipantKind.PARTICIPANT_KIND_AGENT,
    ):
        assert caller_number(kind, claimed) is None, kind


def test_no_number_or_a_national_one_is_none() -> None:
    """Without the attribute, or with a number that is not international, the call has no number."""
    assert caller_number(SIP, {}) is None
    assert caller_number(SIP, {"sip.phoneNumber": "555-0101"}) is None
