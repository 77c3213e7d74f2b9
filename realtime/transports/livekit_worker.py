"""LiveKit rooms in production: livekit-agents' standard worker, one `Call` per room job.

Run with `python -m realtime.transports.livekit_worker start` (or `dev`); LIVEKIT_URL,
LIVEKIT_API_KEY and LIVEKIT_API_SECRET come from the environment as livekit-agents reads them.
"""

from __future__ import annotations

from livekit.agents import AgentServer, JobContext, JobProcess, cli

from rapport.logs import configure_logging
from rapport.settings import Settings
from realtime.call import Call
from realtime.session import Models
from realtime.tools import conversation_registry
from realtime.turn_taking import registry as turn_registry
from statecharts.load import StatechartLibrary

__all__ = ["server"]


def _prewarm(proc: JobProcess) -> None:
    # Models load once per worker process, before it accepts jobs: no call pays for loading.
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    proc.userdata["settings"] = settings
    proc.userdata["models"] = Models.load(settings)


server = AgentServer(setup_fnc=_prewarm)


@server.rtc_session(agent_name="rapport")
async def entrypoint(ctx: JobContext) -> None:
    settings: Settings = ctx.proc.userdata["settings"]
    models: Models = ctx.proc.userdata["models"]
    tools = conversation_registry()
    # The room's metadata names the statechart; sales practice is the default.
    name = (ctx.job.room.metadata or "").strip() or "sales_roleplay"
    chart = StatechartLibrary(settings.statechart_dir, tools).get(name)
    turn_chart = StatechartLibrary(settings.statechart_dir, turn_registry).get("turn_taking")
    call = Call(
        chart=chart,
        turn_chart=turn_chart,
        tools=tools,
        models=models,
        audio_in=None,
        sink=lambda _event: None,
        call_id=ctx.job.id,
    )
    await ctx.connect()
    await call.start(room=ctx.room)


if __name__ == "__main__":
    cli.run_app(server)
