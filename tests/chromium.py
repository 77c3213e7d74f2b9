"""Headless Debian chromium driven over the DevTools protocol: just enough for the page tests."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["CHROMIUM", "DevTools", "devtools_port", "launch_chromium", "open_page"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class DevTools:
    """Just enough of the Chrome DevTools Protocol to read a page, wait on it and screenshot it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        await self._ws.send_str(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            reply = json.loads((await self._ws.receive()).data)
            if reply.get("id") == self._id:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply["result"]
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def wait_for(self, expression: str, within: float = 30) -> Any:
        """Poll until the expression is truthy (a page may be loading or reloading meanwhile)."""
        async with asyncio.timeout(within):
            while True:
                try:
                    value = await self.evaluate(expression)
                except AssertionError:
                    value = None  # the page was between documents
                if value:
                    return value
                await asyncio.sleep(0.2)

    async def goto(self, url: str, ready: str, within: float = 30) -> None:
        await self.call("Page.navigate", url=url)
        await self.wait_for(f"document.readyState === 'complete' && ({ready})", within)

    async def screenshot(self, *paths: Path, selector: str | None = None) -> None:
        """The whole page (not just the window), or the element `selector` finds, as PNG to each path."""
        if selector is None:
            width = await self.evaluate("document.documentElement.scrollWidth")
            height = await self.evaluate("document.documentElement.scrollHeight")
            clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        else:
            clip = await self.evaluate(
                f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();"
                " return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height,"
                " scale: 1}; })()"
            )
        shot = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
        for path in paths:
            path.write_bytes(base64.b64decode(shot["data"]))


def launch_chromium(
    chromium: str, url: str, tmp_path: Path, extra_args: Sequence[str] = ()
) -> subprocess.Popen[str]:
    profile = tempfile.mkdtemp(dir=tmp_path)
    return subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            *extra_args,
            "--window-size=1280,900",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def devtools_port(browser: subprocess.Popen[str]) -> int:
    assert browser.stderr is not None
    for line in browser.stderr:
        match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if match:
            return int(match.group(1))
    raise AssertionError("chromium exited before opening DevTools")


@asynccontextmanager
async def open_page(url: str, tmp_path: Path, extra_args: Sequence[str] = ()) -> AsyncIterator[DevTools]:
    """A headless chromium showing `url`, driven through DevTools; closed afterwards."""
    assert CHROMIUM is not None
    browser = launch_chromium(CHROMIUM, url, tmp_path, extra_args)
    try:
        port = await asyncio.to_thread(devtools_port, browser)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json") as response:
                targets = await response.json()
            page = next(t for t in targets if t["type"] == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                yield DevTools(ws)
    finally:
        browser.terminate()
        browser.wait(timeout=10)
