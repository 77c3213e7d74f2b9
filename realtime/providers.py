"""Chooses the STT, LLM, TTS and VAD plugins from settings.

`check_providers` runs at start-up, before any call: a production provider without its API key
fails there, naming the variable, never mid-call. Constructing a plugin makes no network call.
"""

from __future__ import annotations

from typing import Literal

from livekit.agents import llm, stt, tts, vad

from rapport.settings import ConfigError, Secret, Settings

__all__ = ["LLMRole", "build_llm", "build_stt", "build_tts", "build_vad", "check_providers"]

LLMRole = Literal["agent", "judge"]
"""What the LLM is for: playing the agent in a live call, or judging and summarising after it."""

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-3-5-haiku-latest"
# The turn-taking machine decides turns; VAD only needs to find speech edges, quickly.
VAD_MIN_SILENCE_S = 0.3
VAD_MIN_SPEECH_S = 0.08


def _require(secret: Secret | None, variable: str, provider: str, setting: str) -> str:
    if not secret:
        raise ConfigError(f"{setting}={provider} needs {variable}; set it or choose {setting}=local")
    return secret.value


def check_providers(settings: Settings) -> None:
    """Raise ConfigError naming the variable if a chosen provider lacks what it needs."""
    s = settings
    if s.stt_provider == "deepgram":
        _require(s.deepgram_api_key, "DEEPGRAM_API_KEY", "deepgram", "RAPPORT_STT")
    if s.stt_provider == "assemblyai":
        _require(s.assemblyai_api_key, "ASSEMBLYAI_API_KEY", "assemblyai", "RAPPORT_STT")
    if s.llm_provider == "openai":
        _require(s.openai_api_key, "OPENAI_API_KEY", "openai", "RAPPORT_LLM")
    if s.llm_provider == "anthropic":
        _require(s.anthropic_api_key, "ANTHROPIC_API_KEY", "anthropic", "RAPPORT_LLM")
    if s.llm_provider == "openai_compatible":
        if not s.llm_base_url:
            raise ConfigError("RAPPORT_LLM=openai_compatible needs RAPPORT_LLM_BASE_URL")
        if not s.llm_model:
            raise ConfigError("RAPPORT_LLM=openai_compatible needs RAPPORT_LLM_MODEL")
    if s.tts_provider == "elevenlabs":
        _require(s.elevenlabs_api_key, "ELEVEN_API_KEY", "elevenlabs", "RAPPORT_TTS")
    if s.tts_provider == "azure":
        _require(s.azure_speech_key, "AZURE_SPEECH_KEY", "azure", "RAPPORT_TTS")
        if not s.azure_speech_region:
            raise ConfigError("RAPPORT_TTS=azure needs AZURE_SPEECH_REGION")


def build_stt(settings: Settings) -> stt.STT:
    match settings.stt_provider:
        case "deepgram":
            from livekit.plugins import deepgram

            key = _require(settings.deepgram_api_key, "DEEPGRAM_API_KEY", "deepgram", "RAPPORT_STT")
            return deepgram.STT(api_key=key, model="nova-3", language="en-US")
        case "assemblyai":
            from livekit.plugins import assemblyai

            key = _require(settings.assemblyai_api_key, "ASSEMBLYAI_API_KEY", "assemblyai", "RAPPORT_STT")
            return assemblyai.STT(api_key=key)
        case _:
            from realtime.plugins.whisper_stt import WhisperSTT

            return WhisperSTT(threads=settings.llm_threads, full_window=settings.whisper_full_window)


def build_llm(settings: Settings, role: LLMRole = "agent") -> llm.LLM:
    match settings.llm_provider:
        case "openai":
            from livekit.plugins import openai

            key = _require(settings.openai_api_key, "OPENAI_API_KEY", "openai", "RAPPORT_LLM")
            return openai.LLM(model=settings.llm_model or DEFAULT_OPENAI_MODEL, api_key=key)
        case "openai_compatible":
            from livekit.plugins import openai

            check_providers(settings)
            assert settings.llm_base_url is not None and settings.llm_model is not None
            # Self-hosted servers often need no key; the client insists on a non-empty one.
            key = settings.openai_api_key.value if settings.openai_api_key else "unused"
            return openai.LLM(model=settings.llm_model, base_url=settings.llm_base_url, api_key=key)
        case "anthropic":
            from livekit.plugins import anthropic

            key = _require(settings.anthropic_api_key, "ANTHROPIC_API_KEY", "anthropic", "RAPPORT_LLM")
            return anthropic.LLM(model=settings.llm_model or DEFAULT_ANTHROPIC_MODEL, api_key=key)
        case _:
            from realtime.plugins.llama_llm import LlamaLLM
            from realtime.plugins.local_models import model_file

            name = settings.local_llm if role == "agent" else settings.local_judge_llm
            return LlamaLLM(
                model_file=model_file(name, settings.state_dir / "models"),
                name=name,
                # The old base model's GGUF has no chat template: llama-cpp-python's Gemma format.
                chat_format="gemma" if name == "gemma3-270m" else None,
                threads=settings.llm_threads,
            )


def build_tts(settings: Settings) -> tts.TTS:
    match settings.tts_provider:
        case "elevenlabs":
            from livekit.plugins import elevenlabs

            key = _require(settings.elevenlabs_api_key, "ELEVEN_API_KEY", "elevenlabs", "RAPPORT_TTS")
            if settings.tts_voice:
                return elevenlabs.TTS(api_key=key, voice_id=settings.tts_voice)
            return elevenlabs.TTS(api_key=key)
        case "azure":
            from livekit.plugins import azure

            check_providers(settings)
            assert settings.azure_speech_key is not None
            return azure.TTS(
                speech_key=settings.azure_speech_key.value,
                speech_region=settings.azure_speech_region,
                voice=settings.tts_voice or "en-US-JennyNeural",
            )
        case _:
            from realtime.plugins.piper_tts import PiperTTS

            return PiperTTS()


def build_vad(settings: Settings) -> vad.VAD:
    from livekit.plugins import silero

    return silero.VAD.load(min_silence_duration=VAD_MIN_SILENCE_S, min_speech_duration=VAD_MIN_SPEECH_S)
