import { z } from "zod";

/** `python -m danlu_engine doctor`'s spec (engine/danlu_engine/commands/doctor.py): nothing to choose. */
export const doctorSpec = z.strictObject({ version: z.literal(1) });

const nullableError = z.string().nullable(); // the failing check's "Type: message", null when it worked
const deviceCheck = z.strictObject({ available: z.boolean(), usable: z.boolean(), error: nullableError });

/** The doctor command's `result` data. Keys after `torch` are absent when torch could not be imported. */
export const doctorReport = z.strictObject({
  python: z.strictObject({ version: z.string(), executable: z.string() }),
  platform: z.strictObject({ system: z.string(), machine: z.string(), release: z.string() }),
  nvidia_smi: z.strictObject({
    found: z.boolean(), // nvidia-smi on PATH
    driver: z.string().nullable(), // e.g. "560.35.03"
    gpus: z.array(z.strictObject({ name: z.string(), memory_mb: z.number().nullable() })),
    error: nullableError,
  }),
  memory: z.strictObject({ total_mb: z.number(), available_mb: z.number() }).nullable(), // system RAM
  torch: z.strictObject({
    version: z.string().nullable(),
    cuda_build: z.string().nullable(), // the CUDA version torch was built with; null: a CPU/MPS build
    mps_build: z.boolean(),
    error: nullableError, // why `import torch` failed
  }),
  cuda: deviceCheck.optional(),
  gpus: z
    .array(
      z.strictObject({
        index: z.number().int(),
        name: z.string(),
        memory_mb: z.number(),
        capability: z.string(), // compute capability, e.g. "8.6"
      }),
    )
    .optional(),
  mps: deviceCheck.optional(),
  training_device: z.string().optional(), // what device = "auto" trains on: "cuda:0" or "cpu"
  bf16: z.strictObject({ device: z.string(), supported: z.boolean() }).optional(),
  bitsandbytes: z
    .strictObject({
      version: z.string().nullable(),
      usable: z.boolean(), // one AdamW8bit step with 8-bit state worked on the training device
      device: z.string(),
      error: nullableError,
    })
    .optional(),
});
export type DoctorReport = z.infer<typeof doctorReport>;
