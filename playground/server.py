"""The browser playground: talk to an agent from a tab, no LiveKit server needed.

One WebSocket per call. The browser sends 16 kHz mono int16 microphone audio as binary
messages; the server sends agent audio back as binary messages (a 4-byte little-endian sample
rate, then int16 PCM, 20 ms at a time, paced as it plays) and the call's events as JSON text.
Everything behind the socket is the same `Call` a LiveKit room or a scripted caller gets.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
from aiohttp import WSMessage, WSMsgType, web
from livekit import rtc

from rapport.logs import get_logger
from rapport.settings import Settings
from realtime.audio_io import CallerAudioInput
from realtime.call import DEFAULT_STATECHART, CallFactory
from realtime.events import CallEvent, as_dict
from realtime.session import Models
from statecharts.errors import StatechartError
from statecharts.load import UnknownStatechart

__all__ = ["MIC_RATE", "build_app", "serve"]

log = get_logger(__name__)

MIC_RATE = 16_000
STATIC = Path(__file__).resolve().parent / "static"
# A message longer than this is not a microphone chunk; refuse it rather than buffer it.
MAX_AUDIO_MESSAGE = MIC_RATE * 2 * 2


_CALLS = web.AppKey("calls", CallFactory)


def build_app(calls: CallFactory) -> web.Application:
    app = web.Application()
    app[_CALLS] = calls
    app.router.add_get("/", _index)
    app.router.add_get("/statecharts", _statecharts)
    app.router.add_get("/ws", _call_socket)
    app.router.add_static("/static", STATIC)
    return app


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _statecharts(request: web.Request) -> web.Response:
    return web.json_response({"statecharts": request.app[_CALLS].conversation_names()})


async def _send_json(ws: web.WebSocketResponse, payload: dict[str, object]) -> None:
    if not ws.closed:
        await ws.send_str(json.dumps(payload))


async def _call_socket(request: web.Request) -> web.WebSocketResponse:
    calls = request.app[_CALLS]
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
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
    try:
        async for message in _until_ended(ws, hangup):
            if message.type == WSMsgType.BINARY:
                problem = _audio_problem(message.data)
                if problem is not None:
                    await _send_json(ws, {"type": "error", "message": problem})
                    continue
                audio_in.say(np.frombuffer(message.data, dtype="<i2"))
            elif message.type == WSMsgType.TEXT:
                if _is_hangup(message.data):
                    break
                await _send_json(
                    ws, {"type": "error", "message": 'expected binary audio or {"type": "hangup"}'}
                )
    finally:
        await call.hangup("caller")
        hangup.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await ws.close()
    return ws


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


def _audio_problem(data: bytes) -> str | None:
    if len(data) % 2:
        return f"audio message of {len(data)} bytes is not 16-bit PCM (odd length); dropped"
    if len(data) > MAX_AUDIO_MESSAGE:
        return f"audio message of {len(data)} bytes is over {MAX_AUDIO_MESSAGE} bytes; dropped"
    return None


async def serve(settings: Settings, *, host: str, port: int) -> None:
    """Load and warm the models, then serve the playground (and the dashboard) until interrupted."""
    from dashboard.app import MOUNT
    from dashboard.app import mount as mount_dashboard
    from rapport.stack import connect_database, local_stack

    print("rapport: starting Postgres and Temporal, loading models...", flush=True)
    async with local_stack(settings) as stack:
        calls = CallFactory.create(settings, Models.load(settings), recorder_client=stack.client)
        await calls.warm_up(DEFAULT_STATECHART)
        app = build_app(calls)
        # The dashboard reads the stored calls; the calls themselves never touch this pool.
        pool = await connect_database(settings)
        mount_dashboard(app, pool, settings)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        print(f"rapport: playground at http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
        print(f"rapport: dashboard at http://{host}:{port}{MOUNT}/", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            await pool.close()
