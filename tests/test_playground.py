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

from playground.server import MAX_QUEUED_S, MIC_RATE, Limits, build_app
from rapport.settings import ConfigError, Secret, Settings
from realtime.audio_files import write_wav
from realtime.audio_io import CallerAudioInput
from realtime.call import DEFAULT_STATECHART, CallFactory
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
async def _serving(calls: CallFactory, limits: Limits | None = None) -> AsyncIterator[str]:
    """The playground for `calls` on a free loopback port: its host:port."""
    runner = web.AppRunner(build_app(calls, limits))
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
    calls = CallFactory.create(settings, models)
    # As `rapport up` does before it serves: a first call then waits for no model to load (the
    # stage triggers' embedder imports torch: 5.7 s of a scripted call's first turn without it).
    await calls.warm_up(DEFAULT_STATECHART)
    async with _serving(calls) as address:
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


async def test_another_sites_page_cannot_open_a_call(playground: str) -> None:
    """A page of another site (the browser names it in Origin) is refused before any call starts;
    this site's own page is not."""
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"ws://{playground}/ws", origin="https://evil.example")
        assert refused.value.status == 403
        async with http.ws_connect(f"ws://{playground}/ws", origin=f"http://{playground}") as ws:
            assert (await _next_json(ws, "ready"))["mic_rate"] == MIC_RATE


async def test_off_loopback_the_playground_needs_its_token(settings: Settings, models: Models) -> None:
    """`rapport up --host 0.0.0.0` refuses to start without RAPPORT_PLAYGROUND_TOKEN; with it, the
    socket and the chart list answer 401 to anyone without the token."""
    with pytest.raises(ConfigError, match="RAPPORT_PLAYGROUND_TOKEN"):
        Limits.for_host(settings, "0.0.0.0")
    assert Limits.for_host(settings, "127.0.0.1").token is None
    token = Secret("open-sesame")
    limits = Limits.for_host(replace(settings, playground_token=token), "0.0.0.0")
    async with (
        _serving(CallFactory.create(settings, models), limits) as address,
        aiohttp.ClientSession() as http,
    ):
        for query in ("", "?token=guess"):
            async with http.get(f"http://{address}/statecharts{query}") as response:
                assert response.status == 401
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"ws://{address}/ws{query}")
            assert refused.value.status == 401
        async with http.get(f"http://{address}/statecharts?token=open-sesame") as response:
            assert "sales_roleplay" in (await response.json())["statecharts"]
        async with http.ws_connect(f"ws://{address}/ws?token=open-sesame") as ws:
            assert (await _next_json(ws, "ready"))["mic_rate"] == MIC_RATE


async def test_calls_past_the_limit_wait_and_a_call_ends_at_its_time_limit(
    settings: Settings, models: Models
) -> None:
    """With one call allowed, a second is refused while the first runs; the first ends at its time
    limit (and says so), and then a new call is taken."""
    limits = Limits(max_calls=1, max_call_s=3.0)
    async with (
        _serving(CallFactory.create(settings, models), limits) as address,
        aiohttp.ClientSession() as http,
    ):
        async with http.ws_connect(f"ws://{address}/ws") as first:
            await _next_json(first, "ready")
            async with http.ws_connect(f"ws://{address}/ws") as second:
                assert "1 calls going, its limit" in (await _next_json(second, "error"))["message"]
            assert "last 3 s at most" in (await _next_json(first, "error"))["message"]
            assert (await _next_json(first, "call_ended"))["reason"] == "time_limit"
        async with http.ws_connect(f"ws://{address}/ws") as third:
            await _next_json(third, "ready")


async def test_a_message_larger_than_any_microphone_chunk_closes_the_socket(playground: str) -> None:
    """The socket takes messages up to 2 s of audio: a bigger one closes it (1009), not buffered."""
    async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://{playground}/ws") as ws:
        await _next_json(ws, "ready")
        await ws.send_bytes(bytes(MIC_RATE * 2 * 2 + 2))
        async with asyncio.timeout(30):
            while (await ws.receive()).type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                pass
        assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


def test_the_audio_queued_ahead_is_measured_for_its_bound() -> None:
    """Audio queued and not yet heard is counted in seconds, what the socket bounds (MAX_QUEUED_S):
    a browser sends in real time, so more than that ahead is not a microphone."""
    audio_in = CallerAudioInput(now=lambda: 0.0, sample_rate=MIC_RATE, paced=False)
    for _ in range(3):
        audio_in.say(np.zeros(2 * MIC_RATE, np.int16))
    assert audio_in.queued_s == 6.0 > MAX_QUEUED_S


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
