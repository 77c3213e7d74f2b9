"""Callers in voices we did not make: espeak-ng accents, pauses inside a turn, sox noise and a
44.1 kHz stereo recording, rendered the same on every run, with errors that name the culprit."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from quality.checks import CallerTurn, caller_wer, missing_sentences
from realtime.plugins.whisper_stt import transcribe
from realtime.transports.caller_voices import RATE, CallerVoiceError, render_say
from realtime.transports.scenario import CallerVoice, Noise, Recording, ScenarioError, load_scenario
from realtime.transports.scripted import render_turns

ROOT = Path(__file__).resolve().parent.parent
CALLERS = sorted((ROOT / "examples" / "callers").glob("*.yaml"))
SCOTS = CallerVoice("espeak-ng", "en-gb-scotland+m3", 145)
LINE = "Hi Dana, [pause 600] this is Sam from Routewise."


def _zero_runs(pcm: np.ndarray) -> list[int]:
    """Lengths of the runs of exact digital silence in `pcm`."""
    silent = np.concatenate([[0], (pcm == 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(silent))
    return list(edges[1::2] - edges[::2])


def _rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(pcm.astype(np.float64)))))


def test_a_pause_marker_is_that_much_silence_between_the_two_phrases() -> None:
    """`[pause 600]` renders as 600 ms of silence between speech on both sides, and nothing else
    in the turn is that silent."""
    pcm = render_say(LINE, SCOTS)
    runs = _zero_runs(pcm)
    longest = max(runs)
    # The phrases are trimmed at a 10 ms granularity, so a few quiet samples may add to the gap.
    assert RATE * 600 // 1000 <= longest <= RATE * 620 // 1000, longest
    assert sorted(runs)[-2] < RATE // 10
    start = int(np.flatnonzero(pcm)[0])
    assert start == 0 or start < RATE // 100


@pytest.mark.parametrize(
    ("noise", "recording"),
    [(None, None), (Noise(15), None), (None, Recording(44100, 2)), (Noise(10), Recording(44100, 2))],
)
def test_rendering_is_the_same_every_run(noise: Noise | None, recording: Recording | None) -> None:
    """The same turn, voice, noise and recording give the same samples twice over."""
    first = render_say(LINE, SCOTS, noise=noise, recording=recording)
    second = render_say(LINE, SCOTS, noise=noise, recording=recording)
    assert np.array_equal(first, second)


def test_noise_is_mixed_in_at_the_stated_snr() -> None:
    """What noise adds to the clean turn sits 15 dB under the speech, and fills the pause too."""
    clean = render_say(LINE, SCOTS)
    noisy = render_say(LINE, SCOTS, noise=Noise(15))
    added = noisy.astype(np.float64) - clean
    speech = clean[clean != 0]
    measured = 20 * np.log10(_rms(speech) / _rms(added))
    assert abs(measured - 15) < 0.5, measured
    assert max(_zero_runs(noisy)) < RATE // 100


def test_a_recording_at_44k_stereo_comes_back_as_the_same_audio() -> None:
    """Through a 44.1 kHz stereo WAV and `read_audio`, the turn keeps its length and its sound."""
    plain = render_say(LINE, SCOTS)
    recorded = render_say(LINE, SCOTS, recording=Recording(44100, 2))
    assert abs(len(recorded) - len(plain)) <= RATE // 100
    size = min(len(plain), len(recorded))
    correlation = np.corrcoef(plain[:size].astype(np.float64), recorded[:size].astype(np.float64))[0, 1]
    assert correlation > 0.95, correlation


def test_an_unknown_espeak_voice_names_the_binary_file_and_turn(tmp_path: Path) -> None:
    """A voice espeak-ng does not have fails before the call, naming espeak-ng, the file and the turn."""
    path = tmp_path / "s.yaml"
    path.write_text(
        'statechart: sales_roleplay\ncaller:\n  voice: "espeak-ng:en-xx-nowhere"\n'
        "  turns:\n    - pause_ms: 10\n    - say: Hello there\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as err:
        render_turns(load_scenario(path))
    message = str(err.value)
    assert message.startswith(f"{path}: caller.turns[1].say: espeak-ng has no voice 'en-xx-nowhere'")


def test_a_missing_binary_is_named_with_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without sox on the PATH, a noisy turn says which binary is missing and which turn needed it."""
    espeak = shutil.which("espeak-ng")
    assert espeak is not None
    (tmp_path / "espeak-ng").symlink_to(espeak)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CallerVoiceError, match=r"^turn 3: sox is not installed \(apt-get install sox\)$"):
        render_say(LINE, SCOTS, noise=Noise(15), what="turn 3")


@pytest.mark.parametrize("scenario", CALLERS, ids=[p.stem for p in CALLERS])
def test_every_example_caller_is_heard_by_whisper(scenario: Path) -> None:
    """Each example caller, rendered as its file says and transcribed by the agent's STT model
    alone, keeps at least three words in four (WER ≤ 0.25 over the call) and no sentence missing."""
    loaded = load_scenario(scenario)
    turns = [
        CallerTurn(said=turn.phrases, heard=transcribe(pcm.astype(np.float32) / 32768))
        for turn, pcm in zip(loaded.turns, render_turns(loaded), strict=True)
        if pcm is not None
    ]
    assert caller_wer(turns) <= 0.25, [t.heard for t in turns]
    assert not missing_sentences(turns), [t.heard for t in turns]
