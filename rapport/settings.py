"""The one place configuration is read: environment variables, with embedded defaults.

Every other module receives a `Settings` value; nothing else reads `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

__all__ = [
    "ConfigError",
    "CrmProvider",
    "LLMProvider",
    "LocalLLM",
    "STTProvider",
    "Secret",
    "Settings",
    "TTSProvider",
]

STTProvider = Literal["local", "deepgram", "assemblyai"]
LLMProvider = Literal["local", "openai", "openai_compatible", "anthropic"]
TTSProvider = Literal["local", "elevenlabs", "azure"]
# The embedded models (realtime/plugins/local_models.py); gemma3-270m, the old base model, only
# for the benchmark's side-by-side figures.
LocalLLM = Literal["qwen2.5-1.5b", "qwen2.5-0.5b", "gemma3-270m"]
CrmProvider = Literal["postgres", "http"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Secret:
    """A credential that never shows its value in repr, str or logs."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "Secret(****)"

    def __bool__(self) -> bool:
        return bool(self.value)


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(name, default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    raw = env.get(name, "").strip()
    return Secret(raw) if raw else None


def _webhook(env: Mapping[str, str]) -> Secret | None:
    url = _secret(env, "RAPPORT_SCORECARD_WEBHOOK")
    if url and not env.get("RAPPORT_SCORECARD_WEBHOOK_SECRET", "").strip():
        # An unsigned POST of every scorecard: its receiver could not tell it from a forgery.
        raise ConfigError("RAPPORT_SCORECARD_WEBHOOK is set: set RAPPORT_SCORECARD_WEBHOOK_SECRET too")
    return url


@dataclass(frozen=True)
class Settings:
    """Resolved configuration for one process."""

    state_dir: Path
    statechart_dir: Path
    host: str
    port: int
    log_level: str
    log_format: Literal["console", "json"]
    stt_provider: STTProvider
    llm_provider: LLMProvider
    tts_provider: TTSProvider
    llm_model: str | None
    llm_base_url: str | None
    llm_threads: int
    local_llm: LocalLLM
    """The embedded model that plays the agent in calls (RAPPORT_LLM=local)."""
    local_judge_llm: LocalLLM
    """The embedded model that judges rubrics and writes summaries after a call."""
    whisper_full_window: bool
    tts_voice: str | None
    deepgram_api_key: Secret | None
    assemblyai_api_key: Secret | None
    openai_api_key: Secret | None
    anthropic_api_key: Secret | None
    elevenlabs_api_key: Secret | None
    azure_speech_key: Secret | None
    azure_speech_region: str | None
    livekit_url: str | None
    # URLs that may hold a password or a token: Secret, so repr and logs never show them.
    database_url: Secret | None
    temporal_address: str | None
    temporal_namespace: str
    livekit_api_key: Secret | None
    livekit_api_secret: Secret | None
    crm_provider: CrmProvider = "postgres"
    crm_url: Secret | None = None
    crm_token: Secret | None = None
    crm_timeout_ms: int = 3_000
    # How long a manager's dashboard sign-in lasts.
    session_hours: int = 12
    # The playground's bounds: calls at once, and how long one may last. Bound to anything but
    # loopback, it needs a token (RAPPORT_PLAYGROUND_TOKEN, passed as ?token= in its URL).
    playground_max_calls: int = 4
    playground_max_call_s: int = 900
    playground_token: Secret | None = None
    # Failed dashboard sign-ins allowed per account and per client address in 15 minutes; past
    # them the dashboard answers 429 without checking the password.
    sign_in_per_account: int = 5
    sign_in_per_address: int = 30
    # Addresses of the TLS proxies in front of the dashboard whose X-Forwarded-Proto and
    # X-Forwarded-For are believed (the session cookie is then Secure, HSTS is sent, and throttling
    # counts the client's address). Nobody's, by default: any client could send those headers.
    trusted_proxies: tuple[str, ...] = ()
    rubric_dir: Path = PROJECT_ROOT / "scoring" / "rubrics"
    scorecard_webhook: Secret | None = None
    # Signs each webhook POST (HMAC-SHA256, header X-Rapport-Signature); required with the webhook.
    scorecard_webhook_secret: Secret | None = None
    # How long the caller waits for a tool (the CRM, the calendar) before the agent says it can't
    # reach it and goes on.
    tool_timeout_ms: int = 4_000
    # Where `transfer_to_human` puts a phone caller through (a number or sip: URI; LiveKit SIP).
    transfer_to: str | None = None
    # Prometheus endpoints (0: none): the agent worker's (livekit's own server) and the Temporal
    # worker's (the Temporal SDK's exporter).
    metrics_port: int = 9464
    worker_metrics_port: int = 9465
    # Where livekit's job processes keep their metrics for the worker's endpoint to sum.
    prometheus_multiproc_dir: Path | None = None
    # Dispatch (`realtime.load`): calls one agent worker carries, as `rapport load` measured on
    # 2 cores with Temporal and PostgreSQL beside it (docs/scaling.md); the agent-side p95
    # voice-to-voice (VAD end of speech to first audio) past which callers notice; and livekit's
    # threshold at which the worker takes no more calls.
    agent_capacity: int = 20
    voice_to_voice_budget_ms: int = 1_200
    load_threshold: float = 0.7

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        log_format = _choice(env, "RAPPORT_LOG_FORMAT", ("console", "json"), "console")
        return cls(
            state_dir=Path(env.get("RAPPORT_STATE_DIR", str(PROJECT_ROOT / ".state"))),
            statechart_dir=Path(
                env.get("RAPPORT_STATECHART_DIR", str(PROJECT_ROOT / "statecharts" / "definitions"))
            ),
            host=env.get("RAPPORT_HOST", "127.0.0.1"),
            port=_int(env, "RAPPORT_PORT", 8080),
            log_level=env.get("RAPPORT_LOG_LEVEL", "info").lower(),
            log_format="json" if log_format == "json" else "console",
            stt_provider=_choice(env, "RAPPORT_STT", get_args(STTProvider), "local"),  # type: ignore[arg-type]
            llm_provider=_choice(env, "RAPPORT_LLM", get_args(LLMProvider), "local"),  # type: ignore[arg-type]
            tts_provider=_choice(env, "RAPPORT_TTS", get_args(TTSProvider), "local"),  # type: ignore[arg-type]
            llm_model=env.get("RAPPORT_LLM_MODEL") or None,
            llm_base_url=env.get("RAPPORT_LLM_BASE_URL") or None,
            llm_threads=_int(env, "RAPPORT_LLM_THREADS", 2),
            local_llm=_choice(env, "RAPPORT_LOCAL_LLM", get_args(LocalLLM), "qwen2.5-1.5b"),  # type: ignore[arg-type]
            local_judge_llm=_choice(env, "RAPPORT_LOCAL_JUDGE_LLM", get_args(LocalLLM), "qwen2.5-1.5b"),  # type: ignore[arg-type]
            # "utterance" encodes only the caller's turn; "30s" is stock whisper (slower).
            whisper_full_window=_choice(env, "RAPPORT_WHISPER_WINDOW", ("utterance", "30s"), "utterance")
            == "30s",
            tts_voice=env.get("RAPPORT_TTS_VOICE") or None,
            deepgram_api_key=_secret(env, "DEEPGRAM_API_KEY"),
            assemblyai_api_key=_secret(env, "ASSEMBLYAI_API_KEY"),
            openai_api_key=_secret(env, "OPENAI_API_KEY"),
            anthropic_api_key=_secret(env, "ANTHROPIC_API_KEY"),
            elevenlabs_api_key=_secret(env, "ELEVEN_API_KEY"),
            azure_speech_key=_secret(env, "AZURE_SPEECH_KEY"),
            azure_speech_region=env.get("AZURE_SPEECH_REGION") or None,
            livekit_url=env.get("LIVEKIT_URL") or None,
            database_url=_secret(env, "DATABASE_URL"),
            temporal_address=env.get("TEMPORAL_ADDRESS") or None,
            temporal_namespace=env.get("TEMPORAL_NAMESPACE") or "default",
            livekit_api_key=_secret(env, "LIVEKIT_API_KEY"),
            livekit_api_secret=_secret(env, "LIVEKIT_API_SECRET"),
            crm_provider=_choice(env, "RAPPORT_CRM", get_args(CrmProvider), "postgres"),  # type: ignore[arg-type]
            crm_url=_secret(env, "RAPPORT_CRM_URL"),
            crm_token=_secret(env, "RAPPORT_CRM_TOKEN"),
            crm_timeout_ms=_int(env, "RAPPORT_CRM_TIMEOUT_MS", 3_000),
            session_hours=_int(env, "RAPPORT_SESSION_HOURS", 12),
            playground_max_calls=_int(env, "RAPPORT_PLAYGROUND_MAX_CALLS", 4),
            playground_max_call_s=_int(env, "RAPPORT_PLAYGROUND_MAX_CALL_S", 900),
            playground_token=_secret(env, "RAPPORT_PLAYGROUND_TOKEN"),
            sign_in_per_account=_int(env, "RAPPORT_SIGN_IN_PER_ACCOUNT", 5),
            sign_in_per_address=_int(env, "RAPPORT_SIGN_IN_PER_ADDRESS", 30),
            trusted_proxies=tuple(
                a.strip() for a in env.get("RAPPORT_TRUSTED_PROXIES", "").split(",") if a.strip()
            ),
            rubric_dir=Path(env.get("RAPPORT_RUBRIC_DIR", str(PROJECT_ROOT / "scoring" / "rubrics"))),
            scorecard_webhook=_webhook(env),
            scorecard_webhook_secret=_secret(env, "RAPPORT_SCORECARD_WEBHOOK_SECRET"),
            tool_timeout_ms=_int(env, "RAPPORT_TOOL_TIMEOUT_MS", 4_000),
            transfer_to=env.get("RAPPORT_TRANSFER_TO") or None,
            metrics_port=_int(env, "RAPPORT_METRICS_PORT", 9464),
            worker_metrics_port=_int(env, "RAPPORT_WORKER_METRICS_PORT", 9465),
            prometheus_multiproc_dir=Path(env["PROMETHEUS_MULTIPROC_DIR"])
            if env.get("PROMETHEUS_MULTIPROC_DIR")
            else None,
            agent_capacity=_int(env, "RAPPORT_AGENT_CAPACITY", 20),
            voice_to_voice_budget_ms=_int(env, "RAPPORT_V2V_BUDGET_MS", 1_200),
            load_threshold=_float(env, "RAPPORT_LOAD_THRESHOLD", 0.7),
        )
