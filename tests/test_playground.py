"""The browser playground: a real Chromium with a WAV file as its microphone talks to the agent."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from playground.server import MIC_RATE, build_app
from rapport.settings import Settings
from realtime.audio_files import write_wav
from realtime.call import CallFactory
from realtime.session import Models
from realtime.tools import conversation_registry
from realtime.transports.scripted import caller_voice
from realtime.turn_taking import registry as turn_registry
from statecharts.load import StatechartLibrary, load_statechart
from tests.chromium import CHROMIUM, open_page

ROOT = Path(__file__).resolve().parent.parent
TURN_TAKING = ROOT / "statecharts" / "definitions" / "turn_taking.yaml"
# Left for a person to look at after the run (bin/test prints nothing about it; it's for debugging).
SCREENSHOT = Path(tempfile.gettempdir()) / "rapport-playground.png"


@contextlib.asynccontextmanager
async def _serving(calls: CallFactory) -> AsyncIterator[str]:
    """The playground for `calls` on a free loopback port: its host:port."""
    runner = web.AppRunner(build_app(calls))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def playground(settings: Settings, models: Models) -> AsyncIterator[str]:
    async with _serving(CallFactory.create(settings, models)) as address:
        yield address


async def _next_json(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while True:
            message = await ws.receive()
            if message.type == aiohttp.WSMsgType.TEXT:
                payload: dict[str, Any] = json.loads(message.data)
                if payload["type"] == kind:
                    return payload
            elif message.type != aiohttp.WSMsgType.BINARY:
                raise AssertionError(f"socket closed while waiting for {kind}")


async def test_garbage_on_the_socket_is_reported_and_the_call_goes_on(playground: str) -> None:
    """Odd-length audio and stray text get an error naming the problem; real speech still works."""
    async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://{playground}/ws") as ws:
        ready = await _next_json(ws, "ready")
        assert ready["mic_rate"] == MIC_RATE
        await ws.send_bytes(b"\x01\x02\x03")
        assert "3 bytes is not 16-bit PCM" in (await _next_json(ws, "error"))["message"]
        await ws.send_str("hello?")
        assert "expected binary audio" in (await _next_json(ws, "error"))["message"]
        speech = caller_voice("Hi Dana, this is Jordan. Do you have a minute?")
        # A microphone streams all the time: silence through the greeting, the question, silence.
        silence = np.zeros(MIC_RATE, np.int16)
        pcm = np.concatenate([silence, silence, silence, speech, silence])
        for start in range(0, len(pcm), 320):
            await ws.send_bytes(pcm[start : start + 320].astype("<i2").tobytes())
            await asyncio.sleep(0.02)
        heard: set[str] = set()
        while not {"dana", "minute"} <= heard:
            # One question may reach the agent as one turn or, after a pause, as two.
            heard |= set(re.findall(r"[a-z]+", (await _next_json(ws, "caller_utterance"))["text"].lower()))
        await ws.send_str(json.dumps({"type": "hangup"}))
        assert (await _next_json(ws, "call_ended"))["reason"] == "caller"


async def test_an_unknown_statechart_is_refused_by_name(playground: str) -> None:
    """Asking for a conversation that does not exist is an error listing the ones that do."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"ws://{playground}/ws?statechart=nope") as ws,
    ):
        error = await _next_json(ws, "error")
        assert "'nope'" in error["message"] and "sales_roleplay" in error["message"]


async def test_a_statechart_path_is_refused_without_showing_the_servers_paths(playground: str) -> None:
    """A name that climbs out of the definitions (`..`, an absolute path) is refused as not a name,
    and the error holds no path of the server's: only the name asked for and the choices."""
    absolute = str(ROOT / "statecharts" / "definitions" / "sales_roleplay")
    for name in ("../definitions/sales_roleplay", absolute):
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"ws://{playground}/ws", params={"statechart": name}) as ws,
        ):
            message = (await _next_json(ws, "error"))["message"]
            assert "is not a statechart name" in message and "sales_roleplay" in message
            assert str(ROOT) not in message.replace(repr(name), "")


async def test_a_broken_statechart_is_named_without_its_file_or_contents(
    settings: Settings, models: Models, tmp_path: Path
) -> None:
    """A definition that does not load fails the call with its name and where to find its problems;
    the browser sees neither the file's path nor what the file holds."""
    (tmp_path / "broken.yaml").write_text(
        "id: broken\nkind: conversation\ninitial: nowhere\nstates:\n  opening:\n"
        "    instructions: The secret pricing floor is 40 dollars.\n",
        encoding="utf-8",
    )
    library = StatechartLibrary(tmp_path, conversation_registry())
    calls = replace(CallFactory.create(settings, models), conversations=library)
    async with (
        _serving(calls) as address,
        aiohttp.ClientSession() as http,
        http.ws_connect(f"ws://{address}/ws?statechart=broken") as ws,
    ):
        message = (await _next_json(ws, "error"))["message"]
    assert message == "statechart 'broken' has errors; `rapport statechart validate` lists them"


def _names_caller(turns: list[dict[str, str]]) -> bool:
    """The page shows the caller's words. Piper pauses 290-350 ms after "Hi Dana," and 300 ms of
    silence ends a turn, so the words may come as two caller turns; either may hold the name."""
    words = " ".join(t["text"] for t in turns if t["who"] == "caller").lower()
    return "jordan" in words or "northwind" in words


@pytest.mark.skipif(CHROMIUM is None, reason="bin/test installs Debian's chromium")
async def test_a_browser_tab_talks_to_the_agent(playground: str, tmp_path: Path) -> None:
    """Chromium's microphone plays a caller WAV; the page shows the caller's words and the agent's reply."""
    assert CHROMIUM is not None
    mic = tmp_path / "caller.wav"
    speech = caller_voice("Hi Dana, this is Jordan from Northwind. Do you have a few minutes?")
    # Chromium loops the file: quiet through the greeting, one question, a long pause for the answer.
    write_wav(
        mic,
        np.concatenate([np.zeros(4 * MIC_RATE, np.int16), speech, np.zeros(15 * MIC_RATE, np.int16)]),
        MIC_RATE,
    )
    fake_microphone = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={mic}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    url = f"http://{playground}/?autostart=1&statechart=sales_roleplay"
    async with open_page(url, tmp_path, fake_microphone) as devtools:
        turns: list[dict[str, str]] = []
        deadline = asyncio.get_running_loop().time() + 120
        while asyncio.get_running_loop().time() < deadline and not (
            _names_caller(turns) and sum(t["who"] == "agent" for t in turns) >= 2
        ):
            await asyncio.sleep(0.5)
            turns = await devtools.evaluate(
                "[...document.querySelectorAll('.turn')]"
                ".map(d => ({who: d.dataset.speaker, text: d.innerText}))"
            )
        shot = await devtools.call("Page.captureScreenshot", format="png")
        SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
        state = await devtools.evaluate("document.getElementById('state').textContent")
    assert _names_caller(turns), turns
    assert turns[0]["who"] == "agent" and "Dana" in turns[0]["text"]
    # The page shows the machine's live state, one of the definition's states.
    assert state in load_statechart(TURN_TAKING, turn_registry).states
