"""A1111 sampler names -> diffusers schedulers (REFERENCE.md section 5). Names match case-insensitively."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from ..protocol import EngineError


@dataclass(frozen=True)
class A1111Sampler:
    name: str  # as A1111 writes it in the parameters text
    scheduler: str  # diffusers class
    options: dict
    needs: str | None = None  # an optional package the scheduler imports


_PP = {"algorithm_type": "dpmsolver++"}
_SDE = {"algorithm_type": "sde-dpmsolver++"}
_K = {"use_karras_sigmas": True}
_LIST = [
    A1111Sampler("DPM++ 2M", "DPMSolverMultistepScheduler", _PP),
    A1111Sampler("DPM++ 2M Karras", "DPMSolverMultistepScheduler", {**_PP, **_K}),
    A1111Sampler("DPM++ 2M SDE", "DPMSolverMultistepScheduler", _SDE),
    A1111Sampler("DPM++ 2M SDE Karras", "DPMSolverMultistepScheduler", {**_SDE, **_K}),
    # the k-diffusion DPM++ SDE port; its Brownian tree noise comes from torchsde
    A1111Sampler("DPM++ SDE", "DPMSolverSDEScheduler", {}, "torchsde"),
    A1111Sampler("DPM++ SDE Karras", "DPMSolverSDEScheduler", _K, "torchsde"),
    # the single-step solver without ancestral noise (sd-scripts' "dpmsingle"); A1111 has only the ancestral
    # "DPM++ 2S a", which diffusers lacks: that name is refused (REFUSED below), never silently swapped
    A1111Sampler("DPM++ 2S", "DPMSolverSinglestepScheduler", _PP),
    A1111Sampler("Euler", "EulerDiscreteScheduler", {}),
    A1111Sampler("Euler a", "EulerAncestralDiscreteScheduler", {}),
    A1111Sampler("Heun", "HeunDiscreteScheduler", {}),
    A1111Sampler("LMS", "LMSDiscreteScheduler", {}, "scipy"),
    A1111Sampler("LMS Karras", "LMSDiscreteScheduler", _K, "scipy"),
    A1111Sampler("DPM2", "KDPM2DiscreteScheduler", {}),
    A1111Sampler("DPM2 Karras", "KDPM2DiscreteScheduler", _K),
    A1111Sampler("DPM2 a", "KDPM2AncestralDiscreteScheduler", {}),
    A1111Sampler("DPM2 a Karras", "KDPM2AncestralDiscreteScheduler", _K),
    A1111Sampler("DDIM", "DDIMScheduler", {}),
    A1111Sampler("PLMS", "PNDMScheduler", {}),
    A1111Sampler("UniPC", "UniPCMultistepScheduler", {}),
]
A1111_SAMPLERS: dict[str, A1111Sampler] = {s.name.lower(): s for s in _LIST}
# A1111 names with no honest diffusers counterpart -> what to use instead (src/generate/samplers.ts says the same)
REFUSED = {
    "dpm++ 2s a": "diffusers has no ancestral DPM++ 2S solver; use DPM++ 2S (the same single-step solver "
                  "without ancestral noise, written so in the PNG parameters) or an ancestral sampler: Euler a, DPM2 a",
}


def find_sampler(name: str, where: str) -> A1111Sampler:
    sampler = A1111_SAMPLERS.get(name.strip().lower())
    if name.strip().lower() in REFUSED:
        raise EngineError("BAD_SPEC", f"spec key {where}: sampler {name!r} is not available",
                          REFUSED[name.strip().lower()])
    if sampler is None:
        names = ", ".join(s.name for s in _LIST)
        raise EngineError("BAD_SPEC", f"spec key {where}: unknown sampler {name!r}", f"use one of: {names}")
    if sampler.needs and importlib.util.find_spec(sampler.needs) is None:
        raise EngineError("BAD_SPEC", f"spec key {where}: sampler {sampler.name!r} needs the {sampler.needs} package",
                          "reinstall the engine (npm run setup) or pick DPM++ 2M Karras")
    return sampler


def make_scheduler(sampler: A1111Sampler, training_scheduler, seed: int):
    """A fresh scheduler for one batch; ``seed`` seeds DPM++ SDE's Brownian tree (else it is random)."""
    import diffusers

    cls = getattr(diffusers, sampler.scheduler)
    options = dict(sampler.options)
    if sampler.scheduler == "DPMSolverSDEScheduler":
        options["noise_sampler_seed"] = seed
    # steps_offset 1: what the published SD/SDXL scheduler configs say (the DDPM training schedule has 0)
    return cls.from_config(training_scheduler.config, steps_offset=1, **options)
