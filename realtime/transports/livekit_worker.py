"""LiveKit rooms in production: livekit-agents' standard worker, one `Call` per room job.

Run with `python -m realtime.transports.livekit_worker start` (or `dev`); LIVEKIT_URL,
LIVEKIT_API_KEY and LIVEKIT_API_SECRET come from the environment as livekit-agents reads them.
"""

from __future__ import annotations

from livekit.agents import AgentServer, JobContext, JobProcess, cli

from rapport.logs import configure_logging
from rapport.settings import Settings
from realtime.call import CallFactory
from realtime.session import Models

__all__ = ["server"]


def _prewarm(proc: JobProcess) -> None:
    # Models load once per worker process, before it accepts jobs: no call pays for loading.
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    proc.userdata["calls"] = CallFactory.create(settings, Models.load(settings))


server = AgentServer(setup_fnc=_prewarm)


@server.rtc_session(agent_name="rapport")
async def entrypoint(ctx: JobContext) -> None:
    calls: CallFactory = ctx.proc.userdata["calls"]
    # The room's metadata names the statechart; sales practice is the default.
    name = (ctx.job.room.metadata or "").strip() or "sales_roleplay"
    call = calls.new_call(name, audio_in=None, sink=lambda _event: None, call_id=ctx.job.id)
    await ctx.connect()
    await call.start(room=ctx.room)


if __name__ == "__main__":
    cli.run_app(server)
