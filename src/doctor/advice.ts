import type { DoctorReport } from "../engine/spec-doctor.ts";
import type { MachineReport } from "./collect.ts";

export type FindingLevel = "ok" | "warning" | "problem";

/** One line of `danlu doctor`: what was checked, what was found, and what to do about it. */
export interface Finding {
  level: FindingLevel;
  check:
    | "engine"
    | "python"
    | "torch"
    | "gpu"
    | "driver"
    | "cuda"
    | "mps"
    | "bf16"
    | "bitsandbytes"
    | "memory"
    | "disk";
  message: string;
  fix: string | null;
}

/** Python versions the lock is checked for (scripts/lock-engine.mjs). */
const PYTHONS = ["3.11", "3.12", "3.13"];
/** PyTorch's CUDA builds for Windows; pytorch.org/get-started lists which CUDA versions a release has. */
export const TORCH_CUDA_INDEX = "https://download.pytorch.org/whl/cu128";
/** The oldest NVIDIA driver (major version, Linux and Windows) for each CUDA major version torch is built with. */
const MIN_DRIVER: Record<string, number> = { "11": 450, "12": 525, "13": 580 };
/** Free space below which saving fails part-way: a checkpoint copy, LoRA files and training states (MiB). */
const DISK_PROBLEM_MB = 2 * 1024;
const DISK_WARNING_MB = 10 * 1024;
/** RAM an SD1.5 run needs while loading the model (MiB); SDXL needs about twice. */
const MEMORY_WARNING_MB = 8 * 1024;
/** GPU memory for an SD1.5 LoRA at 512 px with gradient checkpointing (MiB); SDXL needs about 12 GB. */
const VRAM_WARNING_MB = 6 * 1024;

const ok = (check: Finding["check"], message: string): Finding => ({
  level: "ok",
  check,
  message,
  fix: null,
});
const gb = (mb: number): string => `${(mb / 1024).toFixed(1)} GB`;

function cudaTorchCommand(torch: DoctorReport["torch"]): string {
  const version = torch.version?.split("+")[0];
  const pins = version ? `torch==${version} torchvision` : "torch torchvision";
  return (
    `set DANLU_TORCH_INDEX=${TORCH_CUDA_INDEX} and run \`npm run setup\` again (or: .venv\\Scripts\\python -m pip ` +
    `install --force-reinstall ${pins} --index-url ${TORCH_CUDA_INDEX}); pick the cuXXX your driver supports ` +
    "from pytorch.org/get-started"
  );
}

function pythonFindings(engine: DoctorReport): Finding[] {
  const minor = engine.python.version.split(".").slice(0, 2).join(".");
  if (PYTHONS.includes(minor))
    return [ok("python", `Python ${engine.python.version} (${engine.python.executable})`)];
  return [
    {
      level: "warning",
      check: "python",
      message: `Python ${engine.python.version}: the engine's lock is checked for Python ${PYTHONS.join(", ")} only`,
      fix: "delete .venv and run `npm run setup` with DANLU_BOOTSTRAP_PYTHON set to a Python 3.12",
    },
  ];
}

/** Driver too old for torch's CUDA build, when nvidia-smi says which driver there is. */
function driverFinding(engine: DoctorReport): Finding | null {
  const driver = engine.nvidia_smi.driver;
  if (!driver) return null;
  const cuda = engine.torch.cuda_build;
  const needed = cuda ? MIN_DRIVER[cuda.split(".")[0] ?? ""] : undefined;
  if (needed !== undefined && Number(driver.split(".")[0]) < needed) {
    return {
      level: "problem",
      check: "driver",
      message: `NVIDIA driver ${driver} is older than torch's CUDA ${cuda} needs (${needed} or newer)`,
      fix: `update the NVIDIA driver to ${needed} or newer (nvidia.com/drivers, or your distribution's package)`,
    };
  }
  return ok("driver", `NVIDIA driver ${driver}`);
}

function gpuFindings(engine: DoctorReport, platform: NodeJS.Platform): Finding[] {
  const findings: Finding[] = [];
  const { torch, nvidia_smi: smi } = engine;
  const cuda = engine.cuda ?? { available: false, usable: false, error: null };
  const driver = driverFinding(engine);
  if (driver) findings.push(driver);
  const nvidia = smi.gpus.length > 0;
  if (!torch.cuda_build && (nvidia || platform === "win32")) {
    findings.push({
      level: nvidia ? "problem" : "warning",
      check: "cuda",
      message:
        `torch ${torch.version} was built without CUDA` +
        (platform === "win32" ? " (PyPI's torch for Windows runs on the CPU only)" : "") +
        (nvidia ? `, so the ${smi.gpus[0]?.name} is not used` : ""),
      fix: cudaTorchCommand(torch),
    });
  } else if (torch.cuda_build && cuda.available && !cuda.usable) {
    findings.push({
      level: "problem",
      check: "cuda",
      message: `CUDA is there but a test matmul failed: ${cuda.error}`,
      fix: "update the NVIDIA driver; if that does not help, run with DANLU_DEBUG=1 and report the error",
    });
  } else if (torch.cuda_build && nvidia && !cuda.available && driver?.level !== "problem") {
    findings.push({
      level: "problem",
      check: "cuda",
      message: `nvidia-smi sees ${smi.gpus.map((g) => g.name).join(", ")} but torch (CUDA ${torch.cuda_build}) cannot use it${cuda.error ? `: ${cuda.error}` : ""}`,
      fix: "update the NVIDIA driver, check CUDA_VISIBLE_DEVICES, and reboot after a driver install",
    });
  } else if (cuda.usable) {
    findings.push(ok("cuda", `CUDA ${torch.cuda_build} works (a test matmul ran)`));
  }
  for (const gpu of engine.gpus ?? []) {
    const small = gpu.memory_mb < VRAM_WARNING_MB;
    findings.push({
      level: small ? "warning" : "ok",
      check: "gpu",
      message: `GPU ${gpu.index}: ${gpu.name}, ${gb(gpu.memory_mb)}, compute capability ${gpu.capability}`,
      fix: small
        ? "less than 6 GB: train SD1.5 with gradient_checkpointing = true, train_batch_size = 1 and an 8-bit optimizer; SDXL needs about 12 GB"
        : null,
    });
  }
  return findings;
}

function deviceFindings(engine: DoctorReport, platform: NodeJS.Platform): Finding[] {
  const findings: Finding[] = [];
  const mps = engine.mps;
  if (platform === "darwin") {
    findings.push(
      mps?.usable
        ? {
            level: "warning",
            check: "mps",
            message:
              "Apple's MPS works, but danlu's trainer runs on CUDA or the CPU: on this Mac training uses the CPU",
            fix: "train a small run here (tiny model, few steps) and the real one on a machine with an NVIDIA GPU",
          }
        : {
            level: "warning",
            check: "mps",
            message: `MPS is not usable${mps?.error ? `: ${mps.error}` : ""} (it needs Apple silicon and macOS 14 or newer)`,
            fix: null,
          },
    );
  }
  // (an NVIDIA GPU that torch cannot use, and a Mac, have their own findings above)
  if (engine.training_device === "cpu" && engine.nvidia_smi.gpus.length === 0 && platform !== "darwin") {
    findings.push({
      level: "warning",
      check: "gpu",
      message:
        "no usable GPU: training and generation run on the CPU, slowly (hours for what a GPU does in minutes)",
      fix: "a tiny model (`danlu model make-tiny`) trains fine on the CPU; for real models use an NVIDIA GPU",
    });
  }
  return findings;
}

function precisionFindings(engine: DoctorReport): Finding[] {
  const findings: Finding[] = [];
  const device = engine.training_device ?? "cpu";
  if (engine.bf16) {
    findings.push(
      engine.bf16.supported
        ? ok("bf16", `bf16 works on ${device}`)
        : {
            level: "warning",
            check: "bf16",
            message: `bf16 is not supported on ${device}`,
            fix: 'set mixed_precision = "fp16" (or "no" for full fp32) in the training config',
          },
    );
  }
  const bnb = engine.bitsandbytes;
  if (bnb) {
    findings.push(
      bnb.usable
        ? ok("bitsandbytes", `bitsandbytes ${bnb.version}: 8-bit optimizers work on ${bnb.device}`)
        : {
            level: "warning",
            check: "bitsandbytes",
            message: `8-bit optimizers (AdamW8bit, Lion8bit) do not work: ${bnb.error ?? "unknown error"}`,
            fix:
              bnb.version === null
                ? 'run `npm run setup` again (bitsandbytes is in engine/requirements.lock); meanwhile use optimizer_type = "AdamW"'
                : 'use optimizer_type = "AdamW" (more GPU memory), or update the GPU driver',
          },
    );
  }
  return findings;
}

function resourceFindings(machine: MachineReport): Finding[] {
  const findings: Finding[] = [];
  const { total_mb, available_mb } = machine.memory;
  findings.push(
    available_mb < MEMORY_WARNING_MB
      ? {
          level: "warning",
          check: "memory",
          message: `${gb(available_mb)} of ${gb(total_mb)} memory free: loading SD1.5 needs about 8 GB, SDXL about 16 GB`,
          fix: "close other programs, or add swap / a larger page file",
        }
      : ok("memory", `${gb(available_mb)} of ${gb(total_mb)} memory free`),
  );
  for (const disk of machine.disks) {
    const level: FindingLevel =
      disk.free_mb < DISK_PROBLEM_MB ? "problem" : disk.free_mb < DISK_WARNING_MB ? "warning" : "ok";
    findings.push({
      level,
      check: "disk",
      message: `${gb(disk.free_mb)} free of ${gb(disk.total_mb)} at ${disk.path}`,
      fix:
        level === "ok"
          ? null
          : "free some space there: a checkpoint is 2-7 GB, and each LoRA file and training state adds 10-500 MB",
    });
  }
  return findings;
}

/** What `danlu doctor` says: every check in order, problems and warnings with what to do. */
export function diagnose(machine: MachineReport): Finding[] {
  const { engine } = machine;
  if (!engine) {
    return [
      {
        level: "problem",
        check: "engine",
        message: `the engine could not run: ${machine.engineError?.message ?? "no report"}`,
        fix: machine.engineError?.hint ?? "run `npm run setup` in the danlu checkout",
      },
      ...resourceFindings(machine),
    ];
  }
  const findings = pythonFindings(engine);
  if (engine.torch.error) {
    findings.push({
      level: "problem",
      check: "torch",
      message: `torch cannot be imported: ${engine.torch.error}`,
      fix: "delete .venv/.danlu-lock-hash and run `npm run setup` to reinstall the engine's packages",
    });
    return [...findings, ...resourceFindings(machine)];
  }
  const build = engine.torch.cuda_build ? `CUDA ${engine.torch.cuda_build}` : "no CUDA";
  findings.push(
    ok("torch", `torch ${engine.torch.version} (${build}${engine.torch.mps_build ? ", MPS" : ""})`),
  );
  return [
    ...findings,
    ...gpuFindings(engine, machine.platform),
    ...deviceFindings(engine, machine.platform),
    ...precisionFindings(engine),
    ...resourceFindings(machine),
  ];
}

/** The report for a person: one line per finding, a `fix:` line under each one that has one. */
export function formatFindings(findings: Finding[]): string {
  const mark: Record<FindingLevel, string> = { ok: "ok     ", warning: "warning", problem: "PROBLEM" };
  const lines = findings.flatMap((f) => [
    `${mark[f.level]}  ${f.check.padEnd(12)} ${f.message}`,
    ...(f.fix ? [`${" ".repeat(22)}fix: ${f.fix}`] : []),
  ]);
  const problems = findings.filter((f) => f.level === "problem").length;
  const warnings = findings.filter((f) => f.level === "warning").length;
  lines.push(
    "",
    `${problems} problem${problems === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`,
  );
  return lines.join("\n");
}
