"""``python -m danlu_engine generate SPEC.json``: txt2img (with A1111's hires fix), img2img and inpainting
with LoRAs (generateSpec in src/engine/spec.ts).

One model load, then each job: apply its LoRAs (merged, undone after the job), encode prompt and
negative the A1111 way, draw ``batch_count`` batches of ``batch_size`` images with seeds seed, seed+1, ...
(each image's noise from its own seeded CPU generator, so an image does not depend on the batch size).
A job's optional blocks pick the mode: ``inpaint`` (generate/inpaint.py; an inpainting checkpoint, UNet
in_channels 9, is accepted and does only inpainting), ``hires`` (generate/hires.py), else txt2img or, with
``init_image``, img2img.
Events: ready, phase load_model, log (LoRA modules matched, warnings), sample {path, prompt_index: job
index, epoch: 0, step: image index in the job} per image, result {images: [{path, job, seed,
parameters}], loras: [{path, kind, matched, unmatched}], first_image_s, images_per_s}, done.
"""
from __future__ import annotations

import os
import time

import torch

from .. import cancel
from ..generate.samplers import find_sampler, make_scheduler
from ..generate.spec import GenerateSpec, GenJob, HiresSpec, parse_generate_spec
from ..protocol import EngineError, emit, emit_ready


def run(raw: dict) -> None:
    spec = parse_generate_spec(raw)
    for i, job in enumerate(spec.jobs):
        find_sampler(job.sampler, f"jobs[{i}].sampler")
    from ..train.setup import WEIGHT_DTYPES, resolve_device

    device = resolve_device(spec.device)
    dtype = WEIGHT_DTYPES[spec.precision]
    emit_ready(str(device), str(dtype).removeprefix("torch."))
    _check_files(spec)
    started = time.perf_counter()
    Generator(spec, device, dtype, started).run()


def _check_files(spec: GenerateSpec) -> None:
    paths = [spec.model.path, *spec.embeddings, *(lo.path for j in spec.jobs for lo in j.loras)]
    paths += [j.init_image for j in spec.jobs if j.init_image]
    paths += [j.inpaint.mask for j in spec.jobs if j.inpaint]
    paths += [p for j in spec.jobs for u in j.controlnets for p in (u.model, u.image)]
    for path in paths + ([spec.model.vae_path] if spec.model.vae_path else []):
        if not os.path.exists(path):
            raise FileNotFoundError(f"not found: {path}")


class Generator:
    def __init__(self, spec: GenerateSpec, device, dtype, started: float, model=None):
        """model: an already loaded BaseModel of spec.model (tests reuse one); None loads it."""
        self.spec, self.device, self.dtype, self.started = spec, device, dtype, started
        self.model = model
        self.images: list[dict] = []
        self.reports: dict[str, dict] = {}
        self.first_image_s: float | None = None

    def run(self) -> None:
        from ..models.warm_cache import PARTS, Lease, base_model

        emit("phase", name="load_model", current=None, total=None)
        m = self.spec.model
        if self.model is not None:
            self._run(Lease(self.model, hit=False))
            return
        # the model as loaded, or in serve mode borrowed from the warm cache (models/warm_cache.py)
        with base_model(m.path, m.arch, m.v_prediction, m.vae_path, dict.fromkeys(PARTS, self.dtype),
                        inpainting_ok=True) as lease:
            self.model = lease.model
            if self.spec.embeddings:
                lease.taint("textual-inversion embeddings added tokens to its tokenizers and text encoders")
            self._run(lease)

    def _run(self, lease) -> None:
        from ..generate.conditioning import PromptEncoder
        from ..generate.embeddings import Embeddings
        from ..lora_apply import LoraApplier

        for module in [self.model.unet, self.model.vae, *self.model.text_encoders]:
            module.to(self.device, self.dtype).eval()
        embeddings = Embeddings()
        embeddings.load(self.model, self.spec.embeddings)
        self.encoder = PromptEncoder(self.model, self.device, embeddings.expand)
        self.loras = LoraApplier(self.model)
        lease.undo.append(self.loras.restore)  # merged LoRA weights, if a job stopped before its own restore
        from ..generate.controlnet import ControlNets

        self.controlnets = ControlNets(self.model, self.device, self.dtype)
        os.makedirs(self.spec.output.dir, exist_ok=True)
        draw_started = time.perf_counter()
        for index, job in enumerate(self.spec.jobs):
            self._job(index, job)
        elapsed = time.perf_counter() - draw_started
        data = {"images": self.images, "loras": list(self.reports.values()), "first_image_s": self.first_image_s,
                "images_per_s": len(self.images) / elapsed if elapsed > 0 else 0.0}
        emit("result", data=data)
        emit("done", outputs=[i["path"] for i in self.images], steps=0, elapsed_s=time.perf_counter() - self.started)

    def _apply_loras(self, job: GenJob) -> dict[str, str]:
        from ..generate.png import lora_short_hash

        hashes = {}
        for lora in job.loras:
            report = self.loras.apply(lora.path, lora.unet_weight, lora.te_weight)
            if lora.path not in self.reports:
                self.reports[lora.path] = {"path": lora.path, "kind": report.kind, "matched": report.matched,
                                           "unmatched": report.unmatched}
                emit("log", level="info", message=f"LoRA {lora.name} ({report.kind}): {report.matched} modules matched")
                if report.unmatched:
                    emit("log", level="warning", message=f"LoRA {lora.path}: {len(report.unmatched)} modules match nothing "
                         f"in the model and are ignored (e.g. {report.unmatched[0]})")
            hashes[lora.name] = lora_short_hash(lora.path)
        return hashes

    def _source(self, index: int, job: GenJob):
        """What a job starts from: InpaintInputs (inpaint), the resized init image (img2img) or None."""
        from ..generate import inpaint
        from ..generate.pipelines import load_init_image

        if self.model.unet.config.in_channels == 9 and job.inpaint is None:
            name = os.path.basename(self.model.source_path)
            raise EngineError("BAD_SPEC", f"jobs[{index}]: {name} is an inpainting checkpoint (9 UNet input channels); "
                              "it only inpaints: give a mask and an init image, or use an ordinary checkpoint")
        if job.inpaint is not None:
            return inpaint.prepare(job)
        return load_init_image(job.init_image, job.width, job.height) if job.init_image else None

    @torch.no_grad()
    def _job(self, index: int, job: GenJob) -> None:
        sampler = find_sampler(job.sampler, f"jobs[{index}].sampler")
        source = self._source(index, job)
        try:
            hashes = self._apply_loras(job)
            embeds = self.encoder.encode_pair(job.prompt, job.negative, job.clip_skip)
            embeds = {k: v.to(self.dtype) for k, v in embeds.items()}
            control = self.controlnets.for_job(job)  # None without ControlNet units
            for batch in range(job.batch_count):
                seeds = [job.seed + batch * job.batch_size + i for i in range(job.batch_size)]
                # DPM++ SDE's Brownian-tree noise has one seed per call: draw its images one at a time so
                # an image depends on its own seed only, as with every other sampler
                groups = [[s] for s in seeds] if sampler.scheduler == "DPMSolverSDEScheduler" else [seeds]
                for group in groups:
                    if cancel.requested():  # SIGTERM/SIGINT: stop between batches; written images stay
                        raise cancel.Cancelled(None, len(self.images))
                    for image, seed in zip(self._draw(job, sampler, embeds, source, group, control), group, strict=True):
                        self._save(index, job, image, seed, sampler.name, hashes)
        finally:
            self.loras.restore()

    def _draw(self, job: GenJob, sampler, embeds: dict, source, seeds: list[int], control=None) -> list:
        from ..generate import inpaint
        from ..generate.pipelines import build_pipeline

        scheduler = make_scheduler(sampler, self.model.noise_scheduler, seeds[0])
        generators = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
        common = {**embeds, "guidance_scale": job.cfg, "num_images_per_prompt": len(seeds), "generator": generators}
        if job.inpaint is not None:
            latents, masked = inpaint.pipeline_latents(self.model.vae, source, job.inpaint.masked_content, generators,
                                                       self.device, self.dtype)
            pipe = build_pipeline(self.model, scheduler, "inpaint")
            images = pipe(image=latents, mask_image=source.mask, masked_image_latents=masked, width=job.width,
                          height=job.height, strength=job.strength, num_inference_steps=job.steps, **common).images
            return [inpaint.composite(image, source) for image in images]
        net = control.net if control else None
        if source is not None:
            pipe = build_pipeline(self.model, scheduler, "img2img", net)
            cn = control.call_args(job.width, job.height, "control_image") if control else {}
            return pipe(image=source, strength=job.strength, num_inference_steps=job.steps, **common, **cn).images
        pipe = build_pipeline(self.model, scheduler, "txt2img", net)
        if control:
            common = {**common, **control.call_args(job.width, job.height, "image")}
        if job.hires is None:
            return pipe(width=job.width, height=job.height, num_inference_steps=job.steps, **common).images
        return self._hires_pass(job, job.hires, sampler, pipe, seeds, common, control)

    def _hires_pass(self, job: GenJob, hr: HiresSpec, sampler, first_pipe, seeds: list[int], common: dict,
                    control=None) -> list:
        """A1111's hires fix: the first pass, upscaled (latents or decoded images), then img2img at the new size."""
        from ..generate import hires
        from ..generate.pipelines import build_pipeline

        latent = hires.is_latent(hr.upscaler)
        first = first_pipe(width=job.width, height=job.height, num_inference_steps=job.steps,
                           output_type="latent" if latent else "pil", **common).images
        if latent:
            image = hires.upscale_latents(first, hr.upscaler, hr.width, hr.height)
        else:
            image = hires.upscale_images(first, hr.upscaler, hr.width, hr.height)
        total, strength = hires.second_pass_schedule(hr.steps or job.steps, hr.denoising)
        scheduler = make_scheduler(sampler, self.model.noise_scheduler, seeds[0])
        second = build_pipeline(self.model, scheduler, "img2img", control.net if control else None)
        if control:  # the maps again, at the second pass's size
            common = {k: v for k, v in common.items() if k != "image"}
            common.update(control.call_args(hr.width, hr.height, "control_image"))
        return second(image=image, strength=strength, num_inference_steps=total, **common).images

    def _save(self, index: int, job: GenJob, image, seed: int, sampler_name: str, hashes: dict[str, str]) -> None:
        from ..generate.png import parameters_text, save_png

        name = os.path.splitext(os.path.basename(self.model.source_path.rstrip("/")))[0]
        parameters = parameters_text(job, seed, sampler_name, name, self.model.model_hash, hashes,
                                     self.controlnets.png_fields(job))
        path = os.path.join(self.spec.output.dir, f"{job.file_prefix}-{seed}.png")
        if os.path.exists(path):
            raise EngineError("BAD_SPEC", f"{path} already exists; danlu does not overwrite images",
                              "choose another output folder or file prefix")
        save_png(image, path, parameters)
        if self.first_image_s is None:
            self.first_image_s = time.perf_counter() - self.started
        self.images.append({"path": path, "job": index, "seed": seed, "parameters": parameters})
        emit("sample", path=path, prompt_index=index, epoch=0, step=sum(1 for i in self.images if i["job"] == index) - 1)
