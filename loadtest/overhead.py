"""A reply's voice-to-voice time, split into the providers' share and the platform's overhead.

On the critical path of a reply the turn closes when both the VAD has heard its configured
silence and the STT's final transcript is in; then the LLM's first token, then the TTS's first
audio. The fakes drew those delays and logged them; the VAD's silence is configuration. What is
left of the caller's wait is what the platform added: queueing, the event loop, livekit's
pipeline, our audio path, playback.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from loadtest.fakes import FakeLedger
from realtime.providers import VAD_MIN_SILENCE_S
from realtime.transports.scripted import Reply

__all__ = ["ReplyTiming", "split_reply"]

VAD_SILENCE_MS = VAD_MIN_SILENCE_S * 1000
# The STT fake dates the end of speech from the frames it received; the caller's clock can be a
# frame or two ahead of that under load.
_EARLY_S = 0.1


@dataclass(frozen=True)
class ReplyTiming:
    voice_to_voice_ms: float
    stt_final_ms: float | None
    llm_ttft_ms: float | None
    tts_ttfa_ms: float | None
    overhead_ms: float | None
    """None when a draw could not be matched (a reply no LLM wrote: a recovery line, a nudge)."""

    def as_json(self) -> dict[str, float | None]:
        return {k: (round(v, 1) if v is not None else None) for k, v in asdict(self).items()}


def split_reply(reply: Reply, ledger: FakeLedger) -> ReplyTiming:
    """The reply's voice-to-voice time and the fakes' delays that were on its critical path.

    The STT's delay counts when its final was the one the turn waited for: the last final sent
    before the LLM was asked, for speech that ended with the caller's. When that last final was
    for an earlier stretch of the same turn (the service split it at a pause), the turn was
    waiting for the VAD alone.
    """
    v2v = (reply.agent_started_at - reply.caller_ended_at) * 1000
    llm = ledger.first("llm_ttft", reply.caller_ended_at, reply.agent_started_at)
    tts = ledger.first("tts_ttfa", llm.at, reply.agent_started_at) if llm is not None else None
    if llm is None or tts is None:
        return ReplyTiming(v2v, None, llm.ms if llm else None, None, None)
    sent = [d for d in ledger.draws if d.kind == "stt_final" and d.at + d.ms / 1000 <= llm.at]
    waited_for = sent[-1] if sent and sent[-1].at >= reply.caller_ended_at - _EARLY_S else None
    stt_ms = 0.0
    if waited_for is not None:
        # Counted from the caller's end of audio: the service may date the end of speech a few ms
        # earlier (a quiet last syllable); any lag before it heard the end is the platform's.
        sent_at = waited_for.at + waited_for.ms / 1000
        stt_ms = max(0.0, sent_at - max(waited_for.at, reply.caller_ended_at)) * 1000
    overhead = v2v - max(stt_ms, VAD_SILENCE_MS) - llm.ms - tts.ms
    return ReplyTiming(
        voice_to_voice_ms=v2v,
        stt_final_ms=stt_ms,
        llm_ttft_ms=llm.ms,
        tts_ttfa_ms=tts.ms,
        overhead_ms=overhead,
    )
