"""The caller's side of the audio: what the agent hears, and what the caller hears, in real time.

Scripted calls and the browser playground both plug these into `AgentSession.input.audio` and
`AgentSession.output.audio`. The output plays agent audio at real-time pace in 20 ms frames, so
"when did the caller hear it" is a fact of this module, not an estimate: latency is measured here.
It also cuts the agent's words to what was actually played when the agent is interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
from livekit import rtc
from livekit.agents.types import USERDATA_TIMED_TRANSCRIPT
from livekit.agents.voice.io import (
    AudioInput,
    AudioOutput,
    AudioOutputCapabilities,
    PlaybackFinishedEvent,
    PlaybackStartedEvent,
)

__all__ = [
    "CallerAudioInput",
    "CallerAudioOutput",
    "HeardAudioOutput",
    "PlayedSegment",
    "Utterance",
    "WordTiming",
    "heard_words",
]

FRAME_MS = 20
# What LiveKit's room input delivers per frame (its `frame_size_ms`): the load test's callers
# send this, so each costs the agent's pipeline (VAD, STT stream) what a phone caller costs it.
ROOM_FRAME_MS = 50


@dataclass(frozen=True)
class WordTiming:
    """A word of agent speech and where it sits in its segment's audio (seconds)."""

    word: str
    start: float
    end: float


def heard_words(words: list[WordTiming], played: float) -> list[str]:
    """The words a caller heard when playback stopped at `played` seconds.

    A word counts once at least half of it was played: a word cut after its first phoneme was
    not heard, one cut in its last phoneme was.
    """
    return [w.word for w in words if (w.start + w.end) / 2 <= played + 1e-9]


@dataclass(frozen=True)
class PlayedSegment:
    """One agent utterance as the caller experienced it (times from the injected clock)."""

    started_at: float
    ended_at: float
    played_s: float
    interrupted: bool
    text: str
    heard_text: str


@dataclass
class _Segment:
    frames: deque[rtc.AudioFrame] = field(default_factory=deque)
    words: list[WordTiming] = field(default_factory=list)
    pushed_s: float = 0.0
    played_s: float = 0.0
    flushed: bool = False
    announced: bool = False
    started_at: float | None = None
    last_frame_end: float | None = None

    def take_words(self, frame: rtc.AudioFrame) -> None:
        """The words a TTS frame carries (livekit's aligned transcript), placed in this segment."""
        for timed in frame.userdata.get(USERDATA_TIMED_TRANSCRIPT, []):
            start = float(timed.start_time) if timed.start_time is not None else self.pushed_s
            end = float(timed.end_time) if timed.end_time is not None else start
            word = str(timed).strip()
            if word:
                self.words.append(WordTiming(word, start, end))
        self.pushed_s += frame.duration

    def played(self, *, interrupted: bool, now: float) -> PlayedSegment:
        """The segment as the caller experienced it, once it is over."""
        return PlayedSegment(
            started_at=self.started_at if self.started_at is not None else now,
            ended_at=self.last_frame_end if self.last_frame_end is not None else now,
            played_s=self.played_s,
            interrupted=interrupted,
            text=" ".join(w.word for w in self.words),
            heard_text=" ".join(heard_words(self.words, self.played_s)),
        )


def _split(frame: rtc.AudioFrame, frame_ms: int) -> list[rtc.AudioFrame]:
    # Small frames make pause/clear take effect within frame_ms: TTS plugins emit ~200 ms chunks.
    step = frame.sample_rate * frame_ms // 1000
    data = np.frombuffer(frame.data, dtype=np.int16).reshape(-1, frame.num_channels)
    return [
        rtc.AudioFrame(
            data=data[i : i + step].tobytes(),
            sample_rate=frame.sample_rate,
            num_channels=frame.num_channels,
            samples_per_channel=len(data[i : i + step]),
        )
        for i in range(0, len(data), step)
    ]


class CallerAudioOutput(AudioOutput):
    """Plays agent audio to the caller at real-time pace and reports what was heard, when."""

    def __init__(
        self,
        *,
        now: Callable[[], float],
        sink: Callable[[rtc.AudioFrame], Awaitable[None]] | None = None,
        on_finished: Callable[[PlayedSegment], None] | None = None,
        sample_rate: int | None = None,
    ) -> None:
        super().__init__(
            label="CallerAudioOutput",
            capabilities=AudioOutputCapabilities(pause=True),
            sample_rate=sample_rate,
        )
        self._now = now
        self._sink = sink
        self._on_finished = on_finished
        self._segments: deque[_Segment] = deque()
        self._capturing: _Segment | None = None
        self._paused = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_frame_end: float | None = None
        self._started_count = 0

    @property
    def idle(self) -> bool:
        """Nothing playing and nothing queued to play."""
        return not self._segments and self._capturing is None

    @property
    def segments_started(self) -> int:
        return self._started_count

    @property
    def playing(self) -> bool:
        """A frame of agent audio is playing now (not a gap while the TTS catches up)."""
        return self.last_frame_end is not None and self.last_frame_end > self._now()

    @property
    def left_to_play_s(self) -> float | None:
        """The queued agent audio still to play, once the TTS has sent all of it; None while more
        may come (or while nothing is queued)."""
        if not self._segments or self._capturing is not None:
            return None
        return sum(frame.duration for segment in self._segments for frame in segment.frames)

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._capturing is None:
            self._capturing = _Segment()
            self._segments.append(self._capturing)
        segment = self._capturing
        segment.take_words(frame)
        segment.frames.extend(_split(frame, FRAME_MS))
        self._ensure_task()
        self._wake.set()

    def flush(self) -> None:
        super().flush()
        if self._capturing is not None:
            self._capturing.flushed = True
            self._capturing = None
            self._wake.set()

    def clear_buffer(self) -> None:
        # Everything not yet played is dropped; each pending segment finishes as interrupted.
        self._capturing = None
        while self._segments:
            self._finish(self._segments.popleft(), interrupted=True)

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._wake.set()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._play(), name="CallerAudioOutput.play")

    async def _play(self) -> None:
        deadline: float | None = None
        while True:
            segment = self._segments[0] if self._segments else None
            if segment is None or self._paused or (not segment.frames and not segment.flushed):
                deadline = None
                self._wake.clear()
                await self._wake.wait()
                continue
            if not segment.frames:
                self._segments.popleft()
                self._finish(segment, interrupted=False)
                continue
            frame = segment.frames.popleft()
            now = self._now()
            start = now if deadline is None else max(deadline, now)
            if start > now:
                await asyncio.sleep(start - now)
                if self._paused or not self._segments or self._segments[0] is not segment:
                    # Paused or cleared while waiting for the frame's slot: it was not played.
                    if self._segments and self._segments[0] is segment:
                        segment.frames.appendleft(frame)
                    continue
            if not segment.announced:
                segment.announced = True
                # livekit stamps the reply's chat message with this and orders the chat by it: wall
                # time, as its room output gives. The call's clock put the greeting before the
                # instructions and the persona's earlier call, in every prompt of the call.
                self.on_playback_started(created_at=time.time() - (self._now() - start))
                if self._paused:
                    # The news paused the agent (the caller is still talking over a reply they have
                    # not heard yet): not even this frame reaches them.
                    segment.frames.appendleft(frame)
                    continue
            if segment.started_at is None:
                segment.started_at = start
                self._started_count += 1
            if self._sink is not None:
                await self._sink(frame)
            deadline = start + frame.duration
            segment.played_s += frame.duration
            segment.last_frame_end = deadline
            self.last_frame_end = deadline

    def _finish(self, segment: _Segment, *, interrupted: bool) -> None:
        played = segment.played(interrupted=interrupted, now=self._now())
        self.on_playback_finished(
            playback_position=segment.played_s,
            interrupted=interrupted,
            # A provider without word timings: livekit keeps its own (unsynchronised) text.
            synchronized_transcript=played.heard_text if interrupted and segment.words else None,
        )
        if self._on_finished is not None:
            self._on_finished(played)


class HeardAudioOutput(AudioOutput):
    """What the caller heard of each agent segment, through an output the call does not play out
    itself (LiveKit's room output): the words come from the TTS frames passing through, how far
    each segment got from the sink's own playback events."""

    def __init__(
        self, sink: AudioOutput, *, now: Callable[[], float], on_finished: Callable[[PlayedSegment], None]
    ) -> None:
        super().__init__(
            label="HeardAudioOutput",
            capabilities=AudioOutputCapabilities(pause=True),
            next_in_chain=sink,
            sample_rate=sink.sample_rate,
        )
        self._now = now
        self._on_finished = on_finished
        self._segments: deque[_Segment] = deque()
        self._capturing: _Segment | None = None
        assert self.next_in_chain is not None
        self._sink = self.next_in_chain
        self._sink.on("playback_started", self._sink_started)
        self._sink.on("playback_finished", self._sink_finished)

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._capturing is None:
            self._capturing = _Segment()
            self._segments.append(self._capturing)
        self._capturing.take_words(frame)
        await self._sink.capture_frame(frame)

    def flush(self) -> None:
        super().flush()
        self._capturing = None
        self._sink.flush()

    def clear_buffer(self) -> None:
        self._sink.clear_buffer()

    def _sink_started(self, _ev: PlaybackStartedEvent) -> None:
        segment = next((s for s in self._segments if s.started_at is None), None)
        if segment is not None:
            segment.started_at = self._now()

    def _sink_finished(self, ev: PlaybackFinishedEvent) -> None:
        if not self._segments:
            return
        segment = self._segments.popleft()
        if segment is self._capturing:
            self._capturing = None
        segment.played_s = ev.playback_position
        if segment.started_at is not None and ev.playback_position > 0:
            segment.last_frame_end = self._now()
        self._on_finished(segment.played(interrupted=ev.interrupted, now=self._now()))


@dataclass
class Utterance:
    """Caller audio queued for the agent to hear, with the moments it started and ended."""

    pcm: np.ndarray
    offset: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class CallerAudioInput(AudioInput):
    """What the agent hears: queued caller audio, and silence between, in real-time 20 ms frames.

    `paced=False` is for live sources (the browser) that already arrive in real time.
    """

    def __init__(
        self,
        *,
        now: Callable[[], float],
        sample_rate: int = 16000,
        paced: bool = True,
        frame_ms: int = FRAME_MS,
    ) -> None:
        super().__init__(label="CallerAudioInput")
        self._now = now
        self.sample_rate = sample_rate
        self._paced = paced
        self._frame_s = frame_ms / 1000
        self._step = sample_rate * frame_ms // 1000
        self._queue: deque[Utterance] = deque()
        self._arrived = asyncio.Event()
        self._deadline: float | None = None
        self._closed = False

    def say(self, pcm: np.ndarray) -> Utterance:
        """Queue mono int16 audio at this input's sample rate; returns its timing record."""
        utterance = Utterance(pcm=np.ascontiguousarray(pcm, dtype=np.int16))
        self._queue.append(utterance)
        self._arrived.set()
        return utterance

    @property
    def queued_s(self) -> float:
        """Seconds of audio queued and not yet heard."""
        samples = sum(len(u.pcm) - u.offset for u in self._queue)
        return samples / self.sample_rate

    def close(self) -> None:
        self._closed = True
        self._arrived.set()

    async def __anext__(self) -> rtc.AudioFrame:
        if self._closed:
            raise StopAsyncIteration
        if self._paced:
            now = self._now()
            self._deadline = now if self._deadline is None else self._deadline + self._frame_s
            if self._deadline > now:
                await asyncio.sleep(self._deadline - now)
            elif now - self._deadline > 0.2:
                # The loop stalled: don't burst to catch up, the caller's clock moved on.
                self._deadline = now
        else:
            while not self._queue and not self._closed:
                self._arrived.clear()
                await self._arrived.wait()
            if self._closed:
                raise StopAsyncIteration
        return self._next_frame()

    def _next_frame(self) -> rtc.AudioFrame:
        out = np.zeros(self._step, dtype=np.int16)
        filled = 0
        while filled < self._step and self._queue:
            utterance = self._queue[0]
            if utterance.started_at is None:
                utterance.started_at = self._now() + filled / self.sample_rate
            chunk = utterance.pcm[utterance.offset : utterance.offset + self._step - filled]
            out[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
            utterance.offset += len(chunk)
            if utterance.offset >= len(utterance.pcm):
                utterance.ended_at = self._now() + filled / self.sample_rate
                utterance.done.set()
                self._queue.popleft()
            if not self._paced:
                break
        if not self._paced:
            out = out[:filled] if filled else out
        return rtc.AudioFrame(
            data=out.tobytes(),
            sample_rate=self.sample_rate,
            num_channels=1,
            samples_per_channel=len(out),
        )
