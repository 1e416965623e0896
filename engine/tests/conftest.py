"""Fixtures shared by the engine tests."""
from __future__ import annotations

import pytest

from danlu_engine.models import make_tiny


@pytest.fixture(scope="session")
def sd15(tmp_path_factory) -> str:
    """A tiny SD1.5-architecture model (diffusers folder), built once per test session; tests only read it."""
    out = str(tmp_path_factory.mktemp("model") / "tiny-sd15")
    make_tiny("sd15", out, False, 0)
    return out
