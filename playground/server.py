"""The browser playground: talk to an agent from a tab, no LiveKit server needed.

One WebSocket per call. The browser sends 16 kHz mono int16 microphone audio as binary
messages; the server sends agent audio back as binary messages (a 4-byte little-endian sample
rate, then int16 PCM, 20 ms at a time, paced as it plays) and the call's events as JSON text.
Everything behind the socket is the same `Call` a LiveKit room or a scripted caller gets.

Every call runs the models, so the socket is bounded (`Limits`): calls at once, a call's length,
audio queued ahead of playing, a message's size; only pages of this site may open it (Origin),
and off loopback only with the playground's token.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from aiohttp import WSMessage, WSMsgType, web
from livekit import rtc

from rapport.logs import get_logger
from rapport.loopback import is_loopback
from rapport.settings import ConfigError, Secret, Settings
from realtime.audio_io import CallerAudioInput
from realtime.call import DEFAULT_STATECHART, CallFactory
from realtime.events import CallEvent, as_dict
from realtime.session import Models
from statecharts.errors import StatechartError
from statecharts.load import UnknownStatechart

__all__ = ["MAX_QUEUED_S", "MIC_RATE", "Limits", "build_app", "serve"]

log = get_logger(__name__)

MIC_RATE = 16_000
STATIC = Path(__file__).resolve().parent / "static"
# A message longer than this is not a microphone chunk: the socket closes rather than buffer it.
MAX_AUDIO_MESSAGE = MIC_RATE * 2 * 2
# A microphone sends in real time; audio queued further ahead than this is not one, and is dropped.
MAX_QUEUED_S = 5.0


@dataclass(frozen=True)
class Limits:
    """What the playground lets a visitor run (the `RAPPORT_PLAYGROUND_*` settings)."""

    max_calls: int = 4
    max_call_s: float = 900.0
    token: Secret | None = None

    @classmethod
    def for_host(cls, settings: Settings, host: str) -> Limits:
        """The settings' limits; a host other machines can reach needs the token."""
        if settings.playground_token is None and not is_loopback(host):
            raise ConfigError(
                f"the playground on {host} can be reached from other machines: "
                "set RAPPORT_PLAYGROUND_TOKEN (open it as /?token=...)"
            )
        return cls(settings.playground_max_calls, settings.playground_max_call_s, settings.playground_token)


_CALLS = web.AppKey("calls", CallFactory)
_LIMITS = web.AppKey("limits", Limits)
_LIVE = web.AppKey("live", set[object])


def build_app(calls: CallFactory, limits: Limits | None = None) -> web.Application:
    app = web.Application()
    app[_CALLS] = calls
    app[_LIMITS] = limits or Limits()
    app[_LIVE] = set()
    app.router.add_get("/", _index)
    app.router.add_get("/statecharts", _statecharts)
    app.router.add_get("/ws", _call_socket)
    app.router.add_static("/static", STATIC)
    return app


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _statecharts(request: web.Request) -> web.Response:
    _check_token(request)
    return web.json_response({"statecharts": request.app[_CALLS].conversation_names()})


def _check_token(request: web.Request) -> None:
    token = request.app[_LIMITS].token
    if token is not None and not hmac.compare_digest(request.query.get("token", ""), token.value):
        raise web.HTTPUnauthorized(text="this playground needs its token: open it as /?token=...")


def _check_origin(request: web.Request) -> None:
    # A browser says which page opens a socket; any other site's page may not start calls here.
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise web.HTTPForbidden(text="calls start from this playground's own page")


async def _send_json(ws: web.WebSocketResponse, payload: dict[str, object]) -> None:
    if not ws.closed:
        await ws.send_str(json.dumps(payload))


async def _call_socket(request: web.Request) -> web.WebSocketResponse:
    _check_token(request)
    _check_origin(request)
    limits, live = request.app[_LIMITS], request.app[_LIVE]
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_AUDIO_MESSAGE)
    await ws.prepare(request)
    if len(live) >= limits.max_calls:
        message = f"the playground has {limits.max_calls} calls going, its limit; try again in a minute"
        await _send_json(ws, {"type": "error", "message": message})
        await ws.close()
        return ws
    seat = object()
    live.add(seat)
    try:
        return await _take_call(request, ws, limits)
    finally:
        live.discard(seat)


async def _take_call(
    request: web.Request, ws: web.WebSocketResponse, limits: Limits
) -> web.WebSocketResponse:
    calls = request.app[_CALLS]
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    def sink(event: CallEvent) -> None:
        # The page shows the call as it happens; sending never blocks the call.
        task = loop.create_task(_send_json(ws, as_dict(event)))
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def play(frame: rtc.AudioFrame) -> None:
        if not ws.closed:
            await ws.send_bytes(struct.pack("<I", frame.sample_rate) + bytes(frame.data))

    audio_in = CallerAudioInput(now=loop.time, sample_rate=MIC_RATE, paced=False)
    name = request.query.get("statechart", DEFAULT_STATECHART)
    try:
        call = calls.new_call(name, audio_in=audio_in, sink=sink, frame_sink=play)
    except (UnknownStatechart, StatechartError) as exc:
        # A broken or missing definition fails this call only, not the server. The browser is told
        # which chart, never the server's paths or the definition's contents: those go to the log.
        if isinstance(exc, StatechartError):
            log.error("playground.broken_statechart", statechart=name, problems=str(exc))
            reason = f"statechart {name!r} has errors; `rapport statechart validate` lists them"
        else:
            reason = str(exc)
        await _send_json(ws, {"type": "error", "message": reason})
        await ws.close()
        return ws
    await _send_json(ws, {"type": "ready", "call_id": call.call_id, "mic_rate": MIC_RATE})
    await call.start()
    hangup = loop.create_task(call.ended.wait())

    expired = asyncio.Event()

    async def time_limit() -> None:
        await asyncio.sleep(limits.max_call_s)
        expired.set()
        await _send_json(ws, {"type": "error", "message": f"calls here last {limits.max_call_s:g} s at most"})
        await call.hangup("time_limit")

    limit = loop.create_task(time_limit())
    try:
        await _relay(ws, audio_in, hangup)
    finally:
        if expired.is_set():
            # It is hanging up: let it finish, so the call ends as timed out.
            await asyncio.gather(limit, return_exceptions=True)
        else:
            limit.cancel()
        await call.hangup("caller")
        hangup.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await ws.close()
    return ws


async def _relay(ws: web.WebSocketResponse, audio_in: CallerAudioInput, ended: asyncio.Task[bool]) -> None:
    """The browser's microphone into the call, until it hangs up, goes away or the call ends."""
    async for message in _until_ended(ws, ended):
        if message.type == WSMsgType.BINARY:
            problem = _audio_problem(message.data, audio_in.queued_s)
            if problem is not None:
                await _send_json(ws, {"type": "error", "message": problem})
                continue
            audio_in.say(np.frombuffer(message.data, dtype="<i2"))
        elif message.type == WSMsgType.TEXT:
            if _is_hangup(message.data):
                return
            await _send_json(ws, {"type": "error", "message": 'expected binary audio or {"type": "hangup"}'})


async def _until_ended(ws: web.WebSocketResponse, ended: asyncio.Task[bool]) -> AsyncIterator[WSMessage]:
    """The socket's messages until the browser goes away or the agent hangs up."""
    while not ws.closed and not ended.done():
        receive = asyncio.ensure_future(ws.receive())
        done, _ = await asyncio.wait({receive, ended}, return_when=asyncio.FIRST_COMPLETED)
        if receive not in done:
            receive.cancel()
            return
        message = receive.result()
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return
        yield message


def _is_hangup(text: str) -> bool:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(payload, dict) and payload.get("type") == "hangup"


def _audio_problem(data: bytes, queued_s: float) -> str | None:
    if len(data) % 2:
        return f"audio message of {len(data)} bytes is not 16-bit PCM (odd length); dropped"
    if queued_s > MAX_QUEUED_S:
        return f"audio arrives faster than it plays ({queued_s:.1f} s queued); dropped"
    return None


async def serve(settings: Settings, *, host: str, port: int) -> None:
    """Load and warm the models, then serve the playground (and the dashboard) until interrupted."""
    from dashboard.app import MOUNT
    from dashboard.app import mount as mount_dashboard
    from dashboard.first_run import FirstRun
    from db.access import has_managers
    from rapport.stack import connect_database, local_stack

    limits = Limits.for_host(settings, host)  # before anything starts: a refused host costs nothing
    print("rapport: starting Postgres and Temporal, loading models...", flush=True)
    async with local_stack(settings) as stack:
        calls = CallFactory.create(settings, Models.load(settings), recorder_client=stack.client)
        await calls.warm_up(DEFAULT_STATECHART)
        app = build_app(calls, limits)
        # The dashboard reads the stored calls; the calls themselves never touch this pool.
        pool = await connect_database(settings)
        first_run, token = FirstRun.create() if not await has_managers(pool) else (None, "")
        mount_dashboard(app, pool, settings, first_run)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        print(f"rapport: playground at http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
        print(f"rapport: dashboard at http://{host}:{port}{MOUNT}/", flush=True)
        if first_run is not None:
            # Loopback's address, whatever the host: the link works only on this machine.
            link = f"http://127.0.0.1:{port}{MOUNT}/first-run?token={token}"
            print(
                f"rapport: no dashboard manager yet; create the first (once, this machine, 1 h): {link}",
                flush=True,
            )
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            await pool.close()
