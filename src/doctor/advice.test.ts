import { describe, expect, it } from "vitest";
import type { DoctorReport } from "../engine/spec-doctor.ts";
import { diagnose, formatFindings, type Finding } from "./advice.ts";
import type { MachineReport } from "./collect.ts";

/** A Linux machine with a working RTX 4090: every check passes. */
function healthy(): DoctorReport {
  return {
    python: { version: "3.11.7", executable: "/danlu/.venv/bin/python" },
    platform: { system: "Linux", machine: "x86_64", release: "6.8" },
    nvidia_smi: {
      found: true,
      driver: "580.82.07",
      gpus: [{ name: "NVIDIA GeForce RTX 4090", memory_mb: 24564 }],
      error: null,
    },
    memory: { total_mb: 65536, available_mb: 50000 },
    torch: { version: "2.15.0+cu132", cuda_build: "13.2", mps_build: false, error: null },
    cuda: { available: true, usable: true, error: null },
    gpus: [{ index: 0, name: "NVIDIA GeForce RTX 4090", memory_mb: 24564, capability: "8.9" }],
    mps: { available: false, usable: false, error: null },
    training_device: "cuda:0",
    bf16: { device: "cuda:0", supported: true },
    bitsandbytes: { version: "0.50.2", usable: true, device: "cuda:0", error: null },
  };
}

function machine(engine: DoctorReport | null, overrides: Partial<MachineReport> = {}): MachineReport {
  return {
    platform: "linux",
    engine,
    engineError: null,
    disks: [{ path: "/models", free_mb: 200_000, total_mb: 500_000 }],
    memory: engine?.memory ?? { total_mb: 16384, available_mb: 12000 },
    ...overrides,
  };
}

const notOk = (findings: Finding[]) => findings.filter((f) => f.level !== "ok");

describe("diagnose", () => {
  it("finds nothing wrong on a working CUDA machine", () => {
    const findings = diagnose(machine(healthy()));
    expect(notOk(findings)).toEqual([]);
    expect(findings.map((f) => f.check)).toEqual([
      "python",
      "torch",
      "driver",
      "cuda",
      "gpu",
      "bf16",
      "bitsandbytes",
      "memory",
      "disk",
    ]);
    expect(formatFindings(findings)).toMatch(/0 problems, 0 warnings$/);
  });

  it("on Windows with PyPI's CPU-only torch and an NVIDIA card, says how to get the CUDA build", () => {
    const report = healthy();
    report.platform = { system: "Windows", machine: "AMD64", release: "11" };
    report.torch = { version: "2.15.0+cpu", cuda_build: null, mps_build: false, error: null };
    report.cuda = { available: false, usable: false, error: null };
    report.gpus = [];
    report.training_device = "cpu";
    const [problem, ...rest] = notOk(diagnose(machine(report, { platform: "win32" })));
    expect(problem).toMatchObject({ level: "problem", check: "cuda" });
    expect(problem?.message).toContain("PyPI's torch for Windows runs on the CPU only");
    expect(problem?.message).toContain("RTX 4090");
    expect(problem?.fix).toContain("DANLU_TORCH_INDEX=https://download.pytorch.org/whl/cu");
    expect(problem?.fix).toContain("torch==2.15.0 torchvision");
    expect(rest).toEqual([]);
  });

  it("names the driver to install when it is older than torch's CUDA needs", () => {
    const report = healthy();
    report.nvidia_smi.driver = "535.104.05";
    report.cuda = { available: false, usable: false, error: null };
    report.gpus = [];
    report.training_device = "cpu";
    const problems = notOk(diagnose(machine(report)));
    expect(problems).toEqual([
      expect.objectContaining({
        level: "problem",
        check: "driver",
        message: "NVIDIA driver 535.104.05 is older than torch's CUDA 13.2 needs (580 or newer)",
      }),
    ]);
    expect(problems[0]?.fix).toContain("update the NVIDIA driver to 580");
  });

  it("says to use fp16 where bf16 is not supported", () => {
    const report = healthy();
    report.gpus = [{ index: 0, name: "Tesla T4", memory_mb: 15360, capability: "7.5" }];
    report.bf16 = { device: "cuda:0", supported: false };
    expect(notOk(diagnose(machine(report)))).toEqual([
      {
        level: "warning",
        check: "bf16",
        message: "bf16 is not supported on cuda:0",
        fix: 'set mixed_precision = "fp16" (or "no" for full fp32) in the training config',
      },
    ]);
  });

  it("says what to do when bitsandbytes is missing or broken", () => {
    const missing = healthy();
    missing.bitsandbytes = {
      version: null,
      usable: false,
      device: "cuda:0",
      error: "ModuleNotFoundError: No module named 'bitsandbytes'",
    };
    const [finding] = notOk(diagnose(machine(missing)));
    expect(finding).toMatchObject({ level: "warning", check: "bitsandbytes" });
    expect(finding?.message).toContain("No module named 'bitsandbytes'");
    expect(finding?.fix).toContain("npm run setup");
    expect(finding?.fix).toContain('optimizer_type = "AdamW"');
  });

  it("warns below 10 GB of free disk and calls under 2 GB a problem", () => {
    const findings = diagnose(
      machine(healthy(), {
        disks: [
          { path: "/models", free_mb: 5000, total_mb: 500_000 },
          { path: "/out", free_mb: 1000, total_mb: 500_000 },
        ],
      }),
    );
    expect(notOk(findings).map((f) => [f.level, f.check, f.message])).toEqual([
      ["warning", "disk", "4.9 GB free of 488.3 GB at /models"],
      ["problem", "disk", "1.0 GB free of 488.3 GB at /out"],
    ]);
    expect(formatFindings(findings)).toMatch(/1 problem, 1 warning$/);
  });

  it("without a GPU says training runs on the CPU, slowly", () => {
    const report = healthy();
    report.nvidia_smi = { found: false, driver: null, gpus: [], error: null };
    report.cuda = { available: false, usable: false, error: null };
    report.gpus = [];
    report.training_device = "cpu";
    report.bf16 = { device: "cpu", supported: true };
    expect(notOk(diagnose(machine(report)))).toEqual([
      expect.objectContaining({
        level: "warning",
        check: "gpu",
        message: expect.stringContaining("on the CPU, slowly"),
      }),
    ]);
  });

  it("on a Mac says MPS works but training uses the CPU", () => {
    const report = healthy();
    report.platform = { system: "Darwin", machine: "arm64", release: "24.1.0" };
    report.nvidia_smi = { found: false, driver: null, gpus: [], error: null };
    report.torch = { version: "2.15.0", cuda_build: null, mps_build: true, error: null };
    report.cuda = { available: false, usable: false, error: null };
    report.gpus = [];
    report.mps = { available: true, usable: true, error: null };
    report.training_device = "cpu";
    const findings = notOk(diagnose(machine(report, { platform: "darwin" })));
    expect(findings).toEqual([
      expect.objectContaining({ check: "mps", message: expect.stringContaining("training uses the CPU") }),
    ]);
  });

  it("reports an engine that cannot start, and a torch that cannot be imported, with the setup command", () => {
    const noEngine = diagnose(
      machine(null, {
        engineError: { message: "The engine's Python environment is missing", hint: "Run `npm run setup`" },
      }),
    );
    expect(noEngine[0]).toMatchObject({ level: "problem", check: "engine", fix: "Run `npm run setup`" });
    const broken = healthy();
    broken.torch = { version: null, cuda_build: null, mps_build: false, error: "ImportError: libcudnn.so.9" };
    const findings = diagnose(machine(broken));
    expect(findings.map((f) => f.check)).toEqual(["python", "torch", "memory", "disk"]);
    expect(findings[1]?.fix).toContain("npm run setup");
  });
});
