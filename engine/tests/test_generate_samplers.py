"""The sampler names `danlu gen` offers (src/generate/samplers.ts) are exactly the engine's, and each
maps to a diffusers scheduler class that exists."""
from __future__ import annotations

import os
import re

import diffusers

from danlu_engine.generate.samplers import A1111_SAMPLERS

TS_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "src", "generate", "samplers.ts")


def test_typescript_and_engine_list_the_same_samplers():
    with open(TS_FILE, encoding="utf-8") as f:
        block = f.read().split("A1111_SAMPLERS = [", 1)[1].split("]", 1)[0]
    names = re.findall(r'"([^"]+)"', block)
    assert names == [s.name for s in A1111_SAMPLERS.values()]
    for sampler in A1111_SAMPLERS.values():
        assert hasattr(diffusers, sampler.scheduler), sampler.scheduler


def test_ancestral_dpmpp_2s_is_refused_not_swapped():
    """diffusers has no ancestral DPM++ 2S: the A1111 name is refused saying what to use; the non-ancestral
    solver is offered under its own name, so the PNG parameters never name a sampler that did not run."""
    import pytest

    from danlu_engine.generate.samplers import find_sampler
    from danlu_engine.protocol import EngineError

    with pytest.raises(EngineError) as error:
        find_sampler("DPM++ 2S a", "jobs[0].sampler")
    assert "not available" in str(error.value) and "use DPM++ 2S" in (error.value.detail or "")
    sampler = find_sampler("dpm++ 2s", "jobs[0].sampler")
    assert sampler.name == "DPM++ 2S" and "Ancestral" not in sampler.scheduler
