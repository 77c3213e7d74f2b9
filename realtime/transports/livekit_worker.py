"""LiveKit rooms in production: livekit-agents' standard worker, one `Call` per room job.

Run with `python -m realtime.transports.livekit_worker start` (or `dev`); LIVEKIT_URL,
LIVEKIT_API_KEY and LIVEKIT_API_SECRET come from the environment as livekit-agents reads them.
"""

from __future__ import annotations

from dataclasses import replace

from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobProcess, cli
from temporalio.client import Client

from rapport.logs import configure_logging, get_logger
from rapport.phone import InvalidNumber, to_e164
from rapport.settings import Settings
from realtime.call import CallFactory
from realtime.session import Models

__all__ = ["server"]

log = get_logger(__name__)


def _prewarm(proc: JobProcess) -> None:
    # Models load once per worker process, before it accepts jobs: no call pays for loading.
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    proc.userdata["settings"] = settings
    proc.userdata["calls"] = CallFactory.create(settings, Models.load(settings))


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


server = AgentServer(setup_fnc=_prewarm)


@server.rtc_session(agent_name="rapport")
async def entrypoint(ctx: JobContext) -> None:
    calls: CallFactory = ctx.proc.userdata["calls"]
    client = await _temporal(ctx.proc)
    if client is not None:
        calls = replace(calls, recorder_client=client)
    # The room's metadata names the statechart; sales practice is the default.
    name = (ctx.job.room.metadata or "").strip() or "sales_roleplay"
    await ctx.connect()
    caller = await ctx.wait_for_participant()
    call = calls.new_call(
        name,
        audio_in=None,
        sink=lambda _event: None,
        call_id=ctx.job.id,
        caller_number=_caller_number(caller),
    )
    await call.start(room=ctx.room)


def _caller_number(caller: rtc.RemoteParticipant) -> str | None:
    """A phone caller's number (LiveKit SIP sets `sip.phoneNumber`); None for a browser caller."""
    raw = caller.attributes.get("sip.phoneNumber")
    if not raw:
        return None
    try:
        return to_e164(raw)
    except InvalidNumber:
        log.warning("livekit_worker.caller_number_not_international", call_id=caller.sid)
        return None


if __name__ == "__main__":
    cli.run_app(server)
