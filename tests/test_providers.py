"""Provider choice: every plugin is built from settings without network; missing keys fail at start."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from livekit.agents import AgentSession
from livekit.plugins import anthropic, assemblyai, azure, deepgram, elevenlabs, openai, silero

from rapport.settings import ConfigError, Settings
from realtime import providers
from realtime.plugins.llama_llm import LlamaLLM
from realtime.plugins.piper_tts import PiperTTS
from realtime.plugins.whisper_stt import WhisperSTT
from realtime.session import Models, build_session

# Not real credentials: constructing a plugin must not call the network, so any string does.
FAKE_KEYS = {
    "DEEPGRAM_API_KEY": "fake-deepgram-key",
    "ASSEMBLYAI_API_KEY": "fake-assemblyai-key",
    "OPENAI_API_KEY": "fake-openai-key",
    "ANTHROPIC_API_KEY": "fake-anthropic-key",
    "ELEVEN_API_KEY": "fake-elevenlabs-key",
    "AZURE_SPEECH_KEY": "fake-azure-key",
    "AZURE_SPEECH_REGION": "westeurope",
}


def test_the_embedded_defaults_are_the_local_offline_models(models: Models) -> None:
    """With no configuration, STT/LLM/TTS/VAD are faster-whisper, llama.cpp, Piper and Silero."""
    assert isinstance(models.stt, WhisperSTT)
    assert isinstance(models.llm, LlamaLLM)
    assert isinstance(models.tts, PiperTTS)
    assert isinstance(models.vad, silero.VAD)


@pytest.mark.parametrize(
    ("env", "kind", "expected"),
    [
        ({"RAPPORT_STT": "deepgram"}, "stt", deepgram.STT),
        ({"RAPPORT_STT": "assemblyai"}, "stt", assemblyai.STT),
        ({"RAPPORT_LLM": "openai"}, "llm", openai.LLM),
        ({"RAPPORT_LLM": "anthropic"}, "llm", anthropic.LLM),
        (
            {
                "RAPPORT_LLM": "openai_compatible",
                "RAPPORT_LLM_BASE_URL": "http://127.0.0.1:9/v1",
                "RAPPORT_LLM_MODEL": "my-finetune",
            },
            "llm",
            openai.LLM,
        ),
        ({"RAPPORT_TTS": "elevenlabs"}, "tts", elevenlabs.TTS),
        ({"RAPPORT_TTS": "azure"}, "tts", azure.TTS),
    ],
)
def test_production_providers_are_built_from_configuration(
    env: dict[str, str], kind: str, expected: type
) -> None:
    """Each production plugin is chosen by its RAPPORT_* variable and constructed offline."""
    settings = Settings.from_env({**FAKE_KEYS, **env})
    providers.check_providers(settings)
    builders: dict[str, Callable[[Settings], object]] = {
        "stt": providers.build_stt,
        "llm": providers.build_llm,
        "tts": providers.build_tts,
    }
    build = builders[kind]
    assert isinstance(build(settings), expected)


def test_an_openai_compatible_endpoint_gets_its_base_url_and_model() -> None:
    """A self-hosted or fine-tuned model: the base URL and model name reach the client."""
    settings = Settings.from_env(
        {
            "RAPPORT_LLM": "openai_compatible",
            "RAPPORT_LLM_BASE_URL": "http://127.0.0.1:9/v1",
            "RAPPORT_LLM_MODEL": "my-finetune",
        }
    )
    built = providers.build_llm(settings)
    assert isinstance(built, openai.LLM)
    assert built.model == "my-finetune"
    assert str(built._client.base_url).startswith("http://127.0.0.1:9/v1")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"RAPPORT_STT": "deepgram"}, "DEEPGRAM_API_KEY"),
        ({"RAPPORT_STT": "assemblyai"}, "ASSEMBLYAI_API_KEY"),
        ({"RAPPORT_LLM": "openai"}, "OPENAI_API_KEY"),
        ({"RAPPORT_LLM": "anthropic"}, "ANTHROPIC_API_KEY"),
        ({"RAPPORT_LLM": "openai_compatible", "RAPPORT_LLM_MODEL": "m"}, "RAPPORT_LLM_BASE_URL"),
        ({"RAPPORT_TTS": "elevenlabs"}, "ELEVEN_API_KEY"),
        ({"RAPPORT_TTS": "azure", "AZURE_SPEECH_REGION": "westeurope"}, "AZURE_SPEECH_KEY"),
        ({"RAPPORT_TTS": "azure", "AZURE_SPEECH_KEY": "k"}, "AZURE_SPEECH_REGION"),
    ],
)
def test_a_missing_key_is_a_start_up_error_naming_the_variable(env: dict[str, str], variable: str) -> None:
    """Models.load fails before any call starts, and the message says which variable to set."""
    settings = Settings.from_env(env)
    with pytest.raises(ConfigError, match=variable):
        Models.load(settings)


def test_an_unknown_provider_name_is_rejected() -> None:
    """A typo in RAPPORT_TTS names the variable and the allowed values."""
    with pytest.raises(ConfigError, match=r"RAPPORT_TTS='eleven' is not one of local, elevenlabs, azure"):
        Settings.from_env({"RAPPORT_TTS": "eleven"})


async def test_the_session_sets_turn_detection_explicitly(models: Models) -> None:
    """livekit's default turn detector would download a model; the session is set to manual."""
    session = build_session(models)
    assert isinstance(session, AgentSession)
    assert session.turn_detection == "manual"
    await session.aclose()


def test_secrets_never_show_in_settings_repr() -> None:
    """A key's value is not in repr or str of the settings that hold it."""
    settings = Settings.from_env({"OPENAI_API_KEY": "sk-very-secret"})
    assert "sk-very-secret" not in repr(settings)
    assert "sk-very-secret" not in str(settings)


def test_urls_that_may_hold_credentials_never_show_in_the_settings_repr() -> None:
    """DATABASE_URL, the CRM's URL and the webhook's may carry a password or a token: the settings
    (as a log line or a traceback would print them) show none of them."""
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://rapport:pg-password@db:5432/rapport",
            "RAPPORT_CRM": "http",
            "RAPPORT_CRM_URL": "https://sync:crm-password@crm.internal/api",
            "RAPPORT_SCORECARD_WEBHOOK": "https://hooks.example/x?token=hook-token",
            "RAPPORT_SCORECARD_WEBHOOK_SECRET": "signing-secret",
        }
    )
    shown = repr(settings) + str(settings)
    for secret in ("pg-password", "crm-password", "hook-token", "signing-secret"):
        assert secret not in shown
    assert settings.database_url is not None and "pg-password" in settings.database_url.value
