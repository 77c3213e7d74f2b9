"""Scenario files and caller audio: bad input gets an error naming the file and the field."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from realtime.audio_files import AudioFileError, read_audio, trim_silence
from realtime.transports.scenario import (
    CallerVoice,
    Noise,
    Pause,
    Recording,
    ScenarioError,
    load_scenario,
    spoken_parts,
)

ROOT = Path(__file__).resolve().parent.parent


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _tone_wav(path: Path, *, rate: int, channels: int, seconds: float) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    mono = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    data = np.repeat(mono[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data.tobytes())
    return path


def test_a_valid_scenario_loads_with_audio_resolved_against_its_folder(tmp_path: Path) -> None:
    """Audio paths are relative to the scenario file; every turn kind is kept in order."""
    (tmp_path / "clips").mkdir()
    _tone_wav(tmp_path / "clips" / "a.wav", rate=16000, channels=1, seconds=0.5)
    scenario = load_scenario(
        _write(
            tmp_path / "s.yaml",
            "statechart: sales_roleplay\ncaller:\n  turns:\n"
            "    - say: Hello\n"
            "    - audio: clips/a.wav\n      barge_in_after_ms: 800\n"
            "    - pause_ms: 4000\n",
        )
    )
    assert scenario.statechart == "sales_roleplay"
    assert [t.say for t in scenario.turns] == ["Hello", None, None]
    assert scenario.turns[1].audio == (tmp_path / "clips" / "a.wav").resolve()
    assert scenario.turns[1].barge_in_after_ms == 800
    assert scenario.turns[2].pause_ms == 4000


def test_a_missing_wav_is_named_with_its_field(tmp_path: Path) -> None:
    """A scenario naming a WAV that isn't there fails before the call, naming file and field."""
    path = _write(
        tmp_path / "s.yaml",
        "statechart: sales_roleplay\ncaller:\n  turns:\n    - say: Hi\n    - audio: clips/nope.wav\n",
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(path) in str(err.value)
    assert "caller.turns[1].audio" in str(err.value)
    assert "clips/nope.wav" in str(err.value)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("caller:\n  turns:\n    - say: Hi\n", "statechart"),
        ("statechart: x\ncaller:\n  turns:\n    - say: Hi\n      pause_ms: 3\n", "caller.turns[0]"),
        ("statechart: x\ncaller:\n  turns:\n    - sya: Hi\n", "caller.turns[0].sya"),
        ("statechart: x\ncaller:\n  turns:\n    - pause_ms: -5\n", "caller.turns[0].pause_ms"),
        ("statechart: x\ncaller:\n  turns: []\n", "caller.turns"),
        ("statechart: x\ncaller:\n  voice: espeak\n  turns:\n    - say: Hi\n", "caller.voice"),
        ("statechart: x\ncaller:\n  speed_wpm: 150\n  turns:\n    - say: Hi\n", "caller"),
        ("statechart: x\ncaller:\n  noise: {snr: 15}\n  turns:\n    - say: Hi\n", "caller.noise.snr"),
        (
            "statechart: x\ncaller:\n  recording: {rate: 44100, channels: 3}\n  turns:\n    - say: Hi\n",
            "caller.recording.channels",
        ),
        ('statechart: x\ncaller:\n  turns:\n    - say: "Hi [pause]"\n', "caller.turns[0].say"),
        ('statechart: x\ncaller:\n  turns:\n    - say: "Hi [pause 60000] there"\n', "caller.turns[0].say"),
        ('statechart: x\ncaller:\n  turns:\n    - say: "[pause 500]"\n', "caller.turns[0].say"),
    ],
)
def test_invalid_fields_are_named(tmp_path: Path, body: str, field: str) -> None:
    """Missing, unknown, contradictory or out-of-range fields name their path in the scenario."""
    path = _write(tmp_path / "s.yaml", body)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value).startswith(str(path))
    assert field in str(err.value)


def test_a_caller_voice_pauses_noise_and_recording_load(tmp_path: Path) -> None:
    """An espeak-ng voice with its speed, noise and a recording format load; a `say:` line keeps its
    pause markers, and its phrases (the reference text) are the words either side of them."""
    scenario = load_scenario(
        _write(
            tmp_path / "s.yaml",
            "statechart: sales_roleplay\ncaller:\n"
            '  voice: "espeak-ng:en-gb-scotland+m3"\n  speed_wpm: 150\n'
            "  noise: {snr_db: 15}\n  recording: {rate: 44100, channels: 2}\n"
            '  turns:\n    - say: "Hi Dana, [pause 600] this is Sam."\n    - pause_ms: 500\n',
        )
    )
    assert scenario.voice == CallerVoice("espeak-ng", "en-gb-scotland+m3", 150)
    assert scenario.noise == Noise(15)
    assert scenario.recording == Recording(44100, 2)
    assert scenario.turns[0].say == "Hi Dana, [pause 600] this is Sam."
    assert scenario.turns[0].phrases == ("Hi Dana,", "this is Sam.")
    assert spoken_parts("Hi Dana, [pause 600] this is Sam.") == ("Hi Dana,", Pause(600), "this is Sam.")
    assert scenario.turns[1].phrases == ()


def test_the_default_caller_voice_is_piper(tmp_path: Path) -> None:
    """Without a voice the caller speaks in the bundled Piper voice, clean, as before."""
    scenario = load_scenario(_write(tmp_path / "s.yaml", "statechart: x\ncaller:\n  turns:\n    - say: Hi\n"))
    assert scenario.voice == CallerVoice()
    assert scenario.noise is None and scenario.recording is None


def test_yaml_syntax_errors_carry_line_and_column(tmp_path: Path) -> None:
    """Broken YAML reports FILE:LINE:COL."""
    path = _write(tmp_path / "s.yaml", "statechart: x\ncaller:\n  turns: [\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert f"{path}:4:" in str(err.value)


def test_stereo_44k_audio_is_resampled_not_rejected(tmp_path: Path) -> None:
    """A stereo 44.1 kHz recording becomes mono 16 kHz of the same duration."""
    pcm = read_audio(_tone_wav(tmp_path / "s.wav", rate=44100, channels=2, seconds=1.0))
    assert pcm.dtype == np.int16
    assert abs(len(pcm) - 16000) <= 64
    assert np.abs(pcm).max() > 4000


def test_garbage_audio_is_a_clear_error(tmp_path: Path) -> None:
    """Bytes that aren't audio fail with the file's name, not a decoder traceback."""
    path = tmp_path / "bad.wav"
    path.write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(AudioFileError) as err:
        read_audio(path)
    assert str(path) in str(err.value)


def test_trim_silence_keeps_only_the_sound() -> None:
    """Leading and trailing silence are cut so an utterance ends where its sound ends."""
    rate = 16000
    tone = (np.sin(np.arange(rate // 2) / 5) * 5000).astype(np.int16)
    pcm = np.concatenate([np.zeros(rate, np.int16), tone, np.zeros(rate, np.int16)])
    trimmed = trim_silence(pcm, rate=rate)
    assert abs(len(trimmed) - len(tone)) <= rate // 100 * 2
    assert len(trim_silence(np.zeros(rate, np.int16), rate=rate)) == 0


def test_cli_reports_a_missing_wav_and_exits_2(tmp_path: Path) -> None:
    """`rapport call` with a broken scenario prints one clear line and exits with status 2."""
    path = _write(
        tmp_path / "s.yaml",
        "statechart: sales_roleplay\ncaller:\n  turns:\n    - audio: missing.wav\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "rapport.cli", "call", str(path), "--report", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    assert "caller.turns[0].audio" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r.json").exists()
