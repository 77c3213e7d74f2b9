"""Shared fixtures: the real local models, loaded once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rapport.settings import Settings
from realtime.session import Models

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def settings() -> Settings:
    # The embedded defaults, whatever the developer's shell has set.
    return Settings.from_env({"RAPPORT_STATE_DIR": str(ROOT / ".state")})


@pytest.fixture(scope="session")
def models(settings: Settings) -> Iterator[Models]:
    yield Models.load(settings)
