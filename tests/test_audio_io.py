"""The caller's side of the agent's audio: what reaches the caller, and when."""

from __future__ import annotations

import asyncio
import time

import numpy as np
from livekit import rtc
from livekit.agents.types import USERDATA_TIMED_TRANSCRIPT, TimedString
from livekit.agents.voice.io import PlaybackFinishedEvent, PlaybackStartedEvent

from realtime.audio_io import CallerAudioOutput, HeardAudioOutput, PlayedSegment
from realtime.plugins.piper_tts import synthesize_pcm
from realtime.turn_audio import RING_SECONDS, TurnAudio


def _reply_frame(text: str = "Thanks for calling.") -> rtc.AudioFrame:
    """Piper's audio for `text`, carrying its word timings the way livekit's TTS pipeline does."""
    pcm, rate, words = synthesize_pcm(text)
    frame = rtc.AudioFrame(
        data=pcm.astype(np.int16).tobytes(), sample_rate=rate, num_channels=1, samples_per_channel=len(pcm)
    )
    frame.userdata[USERDATA_TIMED_TRANSCRIPT] = [
        TimedString(f"{w.word} ", start_time=w.start, end_time=w.end) for w in words
    ]
    return frame


async def test_a_pause_made_on_the_news_that_audio_starts_plays_not_one_frame() -> None:
    """The machine pauses the agent when its audio starts over a caller still talking: the caller
    hears nothing of that reply until it resumes, and a reply dropped then counts nothing played."""
    loop = asyncio.get_running_loop()
    played: list[rtc.AudioFrame] = []
    finished: list[PlayedSegment] = []

    async def sink(frame: rtc.AudioFrame) -> None:
        played.append(frame)

    output = CallerAudioOutput(now=loop.time, sink=sink, on_finished=finished.append)

    def pause_at_once(_ev: PlaybackStartedEvent) -> None:
        output.pause()

    output.on("playback_started", pause_at_once)
    await output.capture_frame(_reply_frame())
    output.flush()
    await asyncio.sleep(0.3)
    assert played == []

    output.off("playback_started", pause_at_once)
    resumed_at = loop.time()
    output.resume()
    await asyncio.sleep(0.2)
    assert played
    output.clear_buffer()
    (segment,) = finished
    assert segment.interrupted
    assert segment.started_at >= resumed_at
    assert 0 < segment.played_s <= 0.25

    # A second reply, dropped while still paused at its start: nothing of it was played.
    output.on("playback_started", pause_at_once)
    await output.capture_frame(_reply_frame())
    await asyncio.sleep(0.1)
    output.clear_buffer()
    assert finished[1].played_s == 0
    assert finished[1].heard_text == ""
    await output.aclose()


async def test_an_output_played_out_elsewhere_reports_what_the_caller_heard() -> None:
    """Wrapped around a sink that plays the audio itself (LiveKit's room output in production; here
    the caller-side output stands in for it), each segment is reported with its words and, when
    cut, only those the sink played; the session still gets the sink's playback events."""
    loop = asyncio.get_running_loop()
    finished: list[PlayedSegment] = []
    forwarded: list[PlaybackFinishedEvent] = []
    sink = CallerAudioOutput(now=loop.time)
    output = HeardAudioOutput(sink, now=loop.time, on_finished=finished.append)
    output.on("playback_finished", forwarded.append)

    await output.capture_frame(_reply_frame("Thanks for calling."))
    output.flush()
    await output.wait_for_playout()
    long_reply = _reply_frame("Our trucks cover the whole east coast, from Maine down to Florida, every day.")
    await output.capture_frame(long_reply)
    output.flush()
    await asyncio.sleep(1.0)
    output.clear_buffer()
    await output.wait_for_playout()

    whole, cut = finished
    assert not whole.interrupted
    assert whole.text == whole.heard_text == "Thanks for calling."
    assert cut.interrupted
    heard, said = cut.heard_text.split(), cut.text.split()
    assert 0 < len(heard) < len(said)
    assert said[: len(heard)] == heard
    assert 0.9 <= cut.played_s < long_reply.duration
    assert cut.started_at < cut.ended_at
    assert [ev.interrupted for ev in forwarded] == [False, True]
    await sink.aclose()


async def test_playback_starts_are_stamped_in_wall_time() -> None:
    """livekit orders the chat by the time a reply's audio started and expects `time.time()`: the
    caller-side output gives that, whatever clock the call runs on."""
    loop = asyncio.get_running_loop()
    output = CallerAudioOutput(now=loop.time)
    started: list[PlaybackStartedEvent] = []
    output.on("playback_started", started.append)
    before = time.time()
    await output.capture_frame(_reply_frame("Thanks for calling."))
    output.flush()
    await output.wait_for_playout()
    assert len(started) == 1
    assert before <= started[0].created_at <= time.time()
    await output.aclose()


def test_the_turn_audio_keeps_a_long_turn_whole() -> None:
    """A turn longer than the end-of-turn model's 8 s comes back whole, up to whisper's 30 s window,
    oldest sample first; beyond that the oldest audio goes."""
    audio = TurnAudio()
    rate = 16_000
    pcm = (np.arange(12 * rate) % 3000).astype(np.int16)
    for start in range(0, len(pcm), 320):
        audio.push(rtc.AudioFrame(pcm[start : start + 320].tobytes(), rate, 1, 320))
    assert np.array_equal(audio.last(12), pcm)
    more = np.full((RING_SECONDS - 2) * rate, 7, dtype=np.int16)
    audio.push(rtc.AudioFrame(more.tobytes(), rate, 1, len(more)))
    assert np.array_equal(audio.last(RING_SECONDS + 5), np.concatenate([pcm[-2 * rate :], more]))


async def test_what_is_left_to_play_is_known_once_the_reply_has_all_arrived() -> None:
    """While the TTS may still send audio the output does not say how much is left; once the reply
    is flushed it does, and it counts down as the caller hears it, to nothing when it is over. It
    is playing only while a frame plays."""
    loop = asyncio.get_running_loop()
    heard = asyncio.Event()

    async def caller(_frame: rtc.AudioFrame) -> None:
        heard.set()

    output = CallerAudioOutput(now=loop.time, sink=caller)
    assert output.left_to_play_s is None and not output.playing
    frame = _reply_frame("Thanks for calling, this is Dana at Northwind Freight.")
    await output.capture_frame(frame)
    assert output.left_to_play_s is None
    output.flush()
    whole = output.left_to_play_s
    assert whole is not None and frame.duration - 0.05 < whole < frame.duration + 1e-6
    await asyncio.wait_for(heard.wait(), 5)
    left = output.left_to_play_s
    assert left is not None and whole - 0.1 <= left < whole and output.playing
    await output.wait_for_playout()
    assert output.left_to_play_s is None
    await output.aclose()
