"""LiveKit rooms in production: livekit-agents' standard worker, one `Call` per room job.

Run with `python -m realtime.transports.livekit_worker start` (or `dev`); LIVEKIT_URL,
LIVEKIT_API_KEY and LIVEKIT_API_SECRET come from the environment as livekit-agents reads them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace

from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobProcess, cli
from temporalio.client import Client

from rapport.logs import configure_logging, get_logger
from rapport.phone import InvalidNumber, to_e164
from rapport.settings import Settings
from realtime.call import DEFAULT_STATECHART, CallFactory, Transfer
from realtime.load import load_reporter
from realtime.session import Models

__all__ = ["caller_number", "prewarmed", "server"]

log = get_logger(__name__)

_WARM_UP_TIMEOUT_S = 180.0


def _prewarm(proc: JobProcess) -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    proc.userdata["settings"] = settings
    proc.userdata["calls"] = prewarmed(settings)


def prewarmed(settings: Settings) -> CallFactory:
    """A job process's calls, warmed up as `rapport call` warms up before its call: every model
    run once, the embedder loaded, and a local LLM's cache holding the default chart's opening
    prompt. Done before the process accepts a job, so its first caller pays for none of it."""
    calls = CallFactory.create(settings, Models.load(settings))
    asyncio.run(calls.warm_up(DEFAULT_STATECHART))  # livekit sets a process up outside any loop
    return calls


async def _temporal(proc: JobProcess) -> Client | None:
    """The process's Temporal client, connected on its first call; None without TEMPORAL_ADDRESS."""
    settings: Settings = proc.userdata["settings"]
    if not settings.temporal_address:
        log.warning("livekit_worker.not_recording", reason="TEMPORAL_ADDRESS is not set")
        return None
    if "temporal" not in proc.userdata:
        proc.userdata["temporal"] = await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace
        )
    client: Client = proc.userdata["temporal"]
    return client


def _server(settings: Settings) -> AgentServer:
    """livekit's worker, reporting its load from CPU, calls and latency (`realtime.load`), and
    serving its Prometheus metrics with the calls' (`realtime.metrics`) from every job process."""
    metrics_dir = settings.prometheus_multiproc_dir or settings.state_dir / "prometheus"
    return AgentServer(
        setup_fnc=_prewarm,
        # Loading and warming the local models takes longer than livekit's default 10 s.
        initialize_process_timeout=_WARM_UP_TIMEOUT_S,
        load_fnc=load_reporter(settings, str(metrics_dir) if settings.metrics_port else None),
        load_threshold=settings.load_threshold,
        prometheus_port=settings.metrics_port or None,
        prometheus_multiproc_dir=str(metrics_dir) if settings.metrics_port else None,
    )


server = _server(Settings.from_env())


@server.rtc_session(agent_name="rapport")
async def entrypoint(ctx: JobContext) -> None:
    calls: CallFactory = ctx.proc.userdata["calls"]
    client = await _temporal(ctx.proc)
    if client is not None:
        calls = replace(calls, recorder_client=client)
    # The room's metadata names the statechart; sales practice is the default.
    name = (ctx.job.room.metadata or "").strip() or DEFAULT_STATECHART
    await ctx.connect()
    caller = await ctx.wait_for_participant()
    call = calls.new_call(
        name,
        audio_in=None,
        sink=lambda _event: None,
        call_id=ctx.job.id,
        caller_number=_caller_number(caller),
        transfer=_sip_transfer(ctx, caller, ctx.proc.userdata["settings"].transfer_to),
    )
    await call.start(room=ctx.room)


def _sip_transfer(ctx: JobContext, caller: rtc.RemoteParticipant, target: str | None) -> Transfer | None:
    """A phone caller's hand-off to a human: a SIP transfer (REFER) to RAPPORT_TRANSFER_TO.

    None for a browser caller or without a target: the agent then only says the hand-off line.
    """
    if caller.kind != rtc.ParticipantKind.PARTICIPANT_KIND_SIP or not target:
        return None

    async def transfer() -> str:
        await ctx.transfer_sip_participant(caller, target)
        return target

    return transfer


def _caller_number(caller: rtc.RemoteParticipant) -> str | None:
    number = caller_number(caller.kind, caller.attributes)
    if number is None and caller.attributes.get("sip.phoneNumber"):
        log.warning("livekit_worker.caller_number_refused", call_id=caller.sid, kind=caller.kind)
    return number


def caller_number(kind: rtc.ParticipantKind.ValueType, attributes: Mapping[str, str]) -> str | None:
    """A phone caller's number, from the attribute LiveKit SIP sets (`sip.phoneNumber`), in E.164.

    Only a SIP participant's: any participant with a room token can set its own attributes, and a
    browser claiming a customer's number would hear that customer's CRM record. None for a browser
    caller, and for a number that is not international.
    """
    raw = attributes.get("sip.phoneNumber")
    if kind != rtc.ParticipantKind.PARTICIPANT_KIND_SIP or not raw:
        return None
    try:
        return to_e164(raw)
    except InvalidNumber:
        return None


if __name__ == "__main__":
    cli.run_app(server)
