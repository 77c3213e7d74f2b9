"""The embedded local models, run for real: Whisper hears Piper, the LLM streams, TTS streams."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading

import numpy as np
import yaml
from livekit import rtc
from livekit.agents import llm
from livekit.agents.voice.generation import update_instructions

from realtime.plugins.llama_llm import STAGE_NOTE, RepeatGuard, ReplyFilter, ToolMention, chat_messages
from realtime.plugins.piper_tts import PiperTTS, synthesize_pcm
from realtime.plugins.whisper_stt import collapse_repeats, transcribe
from realtime.session import Models
from realtime.transports.caller_voices import render_say
from realtime.transports.scenario import CallerVoice, Recording
from realtime.transports.scripted import caller_voice
from tests.conftest import ROOT

# The example Lancashire caller's voice (`examples/callers/tom_lancaster_recorded.yaml`).
LANCASHIRE = CallerVoice(engine="espeak-ng", name="en-gb-x-gbclan+m7", speed_wpm=140)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def test_whisper_transcribes_real_speech() -> None:
    """A sentence spoken by the caller voice comes back with (nearly) all its words."""
    said = "Do you have a few minutes to talk about your delivery routes?"
    heard = transcribe(caller_voice(said).astype(np.float32) / 32768)
    missing = _words(said) - _words(heard)
    assert len(missing) <= 1, (heard, missing)


def test_whisper_returns_nothing_for_silence() -> None:
    """Two seconds of silence are no words at all, not a hallucinated sentence."""
    assert transcribe(np.zeros(32000, np.float32)) == ""


def test_whisper_loops_are_cut_back_to_what_was_said() -> None:
    """A sentence whisper says again ('Yes. Yes. Yes'), or starts again, is kept once; the
    caller's other sentences stay."""
    assert collapse_repeats("Yes. Yes. Yes.") == "Yes."
    assert collapse_repeats("What does it cost? What does the") == "What does it cost?"
    assert collapse_repeats("No, I said no.") == "No, I said no."
    # Starting over nearly the same (whisper tiny on a noisy line) is a loop too...
    loop = "What doesn't make delivery cost you? What doesn t make delivery costs you?"
    assert collapse_repeats(loop) == "What doesn't make delivery cost you?"
    # ...even when its first word comes out different (sam_us, a piece ending in a pause).
    loop = "Route-wise plans every route overnight. Route-wide plans every Route overnight."
    assert collapse_repeats(loop) == "Route-wise plans every route overnight."
    # What the caller said after the loop stays.
    loop = "Routewise plans every route overnight. Routewise plan every route over night. So your drivers"
    assert collapse_repeats(loop) == "Routewise plans every route overnight. So your drivers"
    # Two questions alike are two questions.
    two = "How many trucks do you run? How many drivers do you have?"
    assert collapse_repeats(two) == two
    # ...while a caller who says a word twice keeps both.
    assert collapse_repeats("Hi, hi there. Hi, how are you?") == "Hi, hi there. Hi, how are you?"
    assert collapse_repeats("No. No, we don't.") == "No. No, we don't."


def test_whisper_leans_towards_the_charts_vocabulary() -> None:
    """A Lancashire voice through a 44.1 kHz recording: with the sales chart's vocabulary before
    the turn, whisper tiny hears the terms of the trade it otherwise mishears."""
    chart = yaml.safe_load((ROOT / "statecharts" / "definitions" / "sales_roleplay.yaml").read_text())
    said = "How long does it take your dispatchers to build tomorrow's routes?"
    audio = render_say(said, LANCASHIRE, recording=Recording(rate=44100, channels=2)).astype(np.float32)
    heard = transcribe(audio / 32768, vocabulary=chart["settings"]["vocabulary"])
    assert {"dispatchers", "routes"} <= _words(heard), heard


async def test_the_stt_plugin_accepts_any_rate_and_channel_count(models: Models) -> None:
    """livekit hands the STT 48 kHz stereo frames from a room; they are downmixed and resampled."""
    from realtime.audio_files import resample

    pcm16k = caller_voice("Tell me about pricing.")
    pcm48k = resample(pcm16k, 16000, 48000)
    stereo = np.repeat(pcm48k[:, None], 2, axis=1)
    frame = rtc.AudioFrame(stereo.tobytes(), 48000, 2, len(pcm48k))
    event = await models.stt.recognize([frame])
    assert {"pricing"} <= _words(event.alternatives[0].text)


async def test_the_llm_streams_a_reply_in_pieces(models: Models) -> None:
    """The reply arrives as several chunks (TTS can start on the first), and is short."""
    ctx = llm.ChatContext()
    ctx.add_message(role="system", content="You are Dana, a busy buyer on a sales call.")
    ctx.add_message(role="user", content="Hi Dana, this is Alex. Do you have a minute?")
    chunks: list[str] = []
    async with models.llm.chat(chat_ctx=ctx) as stream:
        async for chunk in stream:
            if chunk.delta is not None and chunk.delta.content:
                chunks.append(chunk.delta.content)
    reply = "".join(chunks)
    assert len(chunks) >= 3
    assert reply.strip()
    assert len(re.findall(r"[.!?](?=\s|$)", reply)) <= 2


def test_instructions_are_one_system_message_and_roles_alternate_after_it() -> None:
    """The instructions are the system message; the caller's consecutive transcripts join one turn."""
    ctx = llm.ChatContext()
    ctx.add_message(role="system", content="Be Dana.")
    ctx.add_message(role="assistant", content="Northwind, this is Dana.")
    ctx.add_message(role="user", content="Hi.")
    ctx.add_message(role="user", content="Got a minute?")
    messages = chat_messages(ctx, [])
    assert messages == [
        {"role": "system", "content": "Be Dana."},
        {"role": "assistant", "content": "Northwind, this is Dana."},
        {"role": "user", "content": "Hi.\nGot a minute?"},
    ]


def test_a_template_without_a_system_role_gets_the_instructions_in_the_first_user_turn() -> None:
    """The old Gemma base model's format has no system role: instructions lead the first user turn."""
    ctx = llm.ChatContext()
    ctx.add_message(role="system", content="Be Dana.")
    ctx.add_message(role="assistant", content="Northwind, this is Dana.")
    ctx.add_message(role="user", content="Hi.")
    messages = chat_messages(ctx, [], system_role=False)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "Be Dana.\n\n(The call has started.)"


def test_call_lines_become_tool_calls_and_recited_tool_names_are_not_spoken() -> None:
    """`CALL name` calls the tool; a bare name (the model reciting its tools) is dropped, line and all."""
    reply = ReplyFilter({"rep_pitched", "end_call"})
    parts = []
    for piece in [
        "Sounds ",
        "good. rep_pi",
        "tched: Call when the rep",
        " pitches.\nBye",
        " now. CALL end_call",
    ]:
        parts += reply.push(piece)
    parts += reply.flush()
    spoken = "".join(p for p in parts if isinstance(p, str))
    assert [p for p in parts if isinstance(p, ToolMention)] == [ToolMention("end_call")]
    assert "Call when" not in spoken and "CALL" not in spoken
    assert spoken.split() == ["Sounds", "good.", "Bye", "now."]


def _guarded(earlier: list[str], reply: str) -> tuple[str, bool]:
    guard = RepeatGuard(earlier)
    said = "".join(guard.push(f"{word} ") for word in reply.split()) + guard.flush()
    return said.strip(), guard.stopped


def test_a_reply_never_completes_an_earlier_reply_again() -> None:
    """The sentence that would make a reply an earlier one again (seen in a full run: "That's a good
    idea. But it takes time." to two rep lines) is not said, and the reply ends; a first sentence is
    always said, and a reply that only begins like an earlier one goes on."""
    earlier = ["Two minutes. What's it about?", "That's a good idea. But it takes time."]
    assert _guarded(earlier, "That's a good idea. But it takes time.") == ("That's a good idea.", True)
    assert _guarded(earlier, "That's a good idea. Send me the details.") == (
        "That's a good idea. Send me the details.",
        False,
    )
    assert _guarded(earlier, "Two minutes. What's it about?") == ("Two minutes.", True)
    assert _guarded(["Sure."], "Sure.") == ("Sure.", False)
    assert _guarded([], "We use spreadsheets. It works.") == ("We use spreadsheets. It works.", False)


def test_piper_gives_word_timings_inside_the_audio() -> None:
    """Every word has a time span, in order, within the synthesised audio."""
    pcm, rate, words = synthesize_pcm("Thanks for calling. How can I help?")
    assert [w.word for w in words] == ["Thanks", "for", "calling.", "How", "can", "I", "help?"]
    assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(words))
    assert words[0].start > 0 and words[-1].end <= len(pcm) / rate


async def test_tts_audio_starts_before_the_reply_is_complete() -> None:
    """Streaming: the first clause is spoken while the LLM has not finished the sentence."""
    tts = PiperTTS()
    stream = tts.stream()
    stream.push_text("Sure, ")
    stream.push_text("I have a few minutes")
    first = await asyncio.wait_for(stream.__anext__(), timeout=30)
    assert first.frame.samples_per_channel > 0
    stream.push_text(" before my next call.")
    stream.end_input()
    frames = [first] + [audio async for audio in stream]
    await stream.aclose()
    assert sum(f.frame.samples_per_channel for f in frames) > first.frame.samples_per_channel


def test_generation_stops_when_cancelled(models: Models) -> None:
    """A barge-in cancels generation: the model stops at the next token and frees the lock."""
    from realtime.plugins.llama_llm import LlamaLLM

    assert isinstance(models.llm, LlamaLLM)
    cancelled = threading.Event()
    pieces = []
    messages = [{"role": "user", "content": "Count from one to fifty in words."}]
    for piece in models.llm.generate(messages, cancelled, 60):
        pieces.append(piece)
        if len(pieces) == 3:
            cancelled.set()
    assert len(pieces) == 3
    assert not models.llm.lock.locked()


def test_the_first_clause_is_cut_short_so_audio_starts_early() -> None:
    """The reply's first few words go to TTS before the sentence ends; later clauses are longer."""
    from realtime.plugins.piper_tts import _ClauseSplitter

    splitter = _ClauseSplitter()
    pieces: list[str] = []
    for token in ["Well", " I", " do", " not", " really", " know", " what", " you", " mean."]:
        pieces += splitter.push(token)
    assert pieces == ["Well I"]
    assert splitter.flush() == ["do not really know what you mean."]


def test_a_fact_joining_mid_call_is_a_note_where_it_arrived() -> None:
    """A system message after the conversation began (the CRM record) is its own message where it
    arrived: the prompt before it stays as cached, and the caller's turn holds the caller's words."""
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content="Be Dana.")
    ctx.add_message(role="assistant", content="Northwind Freight, this is Dana.")
    ctx.add_message(role="system", content="CRM record of the caller: Jordan Avery.")
    ctx.add_message(role="user", content="Hi Dana.")
    messages = chat_messages(ctx, [])
    assert messages == [
        {"role": "system", "content": "Be Dana."},
        {"role": "assistant", "content": "Northwind Freight, this is Dana."},
        {"role": "system", "content": "CRM record of the caller: Jordan Avery."},
        {"role": "user", "content": "Hi Dana."},
    ]


def test_the_instructions_lead_the_prompt_wherever_livekit_dates_them() -> None:
    """livekit's instructions message can follow the greeting in the chat (it is dated when last
    set); it still opens the prompt, so every call starts with the same cached tokens."""
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="assistant", content="Northwind Freight, this is Dana.")
    update_instructions(ctx, instructions="Be Dana.", add_if_missing=True)
    ctx.items.append(ctx.items.pop(0))  # as in a reply's chat: by date, after the greeting
    ctx.add_message(role="user", content="Hi Dana.")
    messages = chat_messages(ctx, [])
    assert messages == [
        {"role": "system", "content": "Be Dana."},
        {"role": "assistant", "content": "Northwind Freight, this is Dana."},
        {"role": "user", "content": "Hi Dana."},
    ]


def test_each_stage_note_describes_its_tools_where_it_stands_in_the_chat() -> None:
    """A stage's note (a system message with a `STAGE_NOTE` id) describes the tools it lists where
    it stands, so a move adds to the prompt's end and leaves the rest as cached; without notes the
    instructions describe the tools offered. After a reply the prompt ends with "(Go on.)"."""
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content="Be Dana.")
    ctx.items.append(_note(1, "Be guarded.", [("rep_stated_purpose", "They said why.")]))
    ctx.add_message(role="user", content="Hi Dana.")
    ctx.add_message(role="assistant", content="Who's calling?")
    ctx.items.append(_note(2, "Answer briefly.", [("rep_pitched", "The rep pitched.")]))
    messages = chat_messages(ctx, [])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "system", "user"]
    assert messages[0]["content"] == (
        "Be Dana.\n\nBe guarded.\n\nActions you can take. To take one, write a line with only CALL "
        "and its name, for example: CALL rep_stated_purpose\n- rep_stated_purpose: They said why."
    )
    assert messages[-2]["content"].startswith("Answer briefly.\n\nActions you can take.")
    assert messages[-2]["content"].endswith("\n- rep_pitched: The rep pitched.")
    assert messages[-1] == {"role": "user", "content": "(Go on.)"}
    tool = llm.function_tool(
        _no_op, raw_schema={"name": "end_call", "description": "Hang up.", "parameters": {}}
    )
    plain = chat_messages(llm.ChatContext([ctx.items[0], *ctx.items[2:4]]), [tool])
    assert plain[0]["content"].startswith("Be Dana.\n\nActions you can take.")
    assert plain[0]["content"].endswith("- end_call: Hang up.")


def _note(n: int, text: str, tools: list[tuple[str, str]]) -> llm.ChatMessage:
    return llm.ChatMessage(role="system", content=[text], id=f"{STAGE_NOTE}_{n}", extra={"tools": tools})


async def _no_op(raw_arguments: dict[str, object]) -> None:
    return None
