// engine/requirements.lock is one universal lock (scripts/lock-engine.mjs): environment markers choose
// what each platform installs, and every file has a sha256 (setup.mjs installs with --require-hashes).
// Resolving needs PyPI, so `node scripts/lock-engine.mjs` does it (and checks that each platform installs
// from wheels); this test, offline, checks the committed file: pins, hashes, and what the markers select
// on Linux, Windows and macOS for each supported Python.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ENGINE = join(import.meta.dirname, "..", "engine");
const lockText = readFileSync(join(ENGINE, "requirements.lock"), "utf8");
const inText = readFileSync(join(ENGINE, "requirements.in"), "utf8");

interface Entry {
  name: string;
  version: string;
  marker: string | null;
  hashes: string[];
}

/** The lock's requirements: each a `name==version [; marker]` line with its `--hash` continuation lines. */
function parseLock(text: string): Entry[] {
  const entries: Entry[] = [];
  for (const block of text.replace(/\\\n/g, " ").split("\n")) {
    const line = block.replace(/#.*$/, "").trim();
    if (!line) continue;
    const match = /^([A-Za-z0-9._-]+)==(\S+?)\s*(?:;\s*(.*?))?\s*((?:--hash=\S+\s*)*)$/.exec(line);
    if (!match) throw new Error(`not a pinned requirement with hashes: ${line}`);
    const [, name, version, marker, hashes] = match as unknown as [
      string,
      string,
      string,
      string | undefined,
      string,
    ];
    entries.push({
      name: name.toLowerCase(),
      version,
      marker: marker ?? null,
      hashes: hashes.split(/\s+/).filter(Boolean),
    });
  }
  return entries;
}

type Environment = Record<string, string>;

function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** PEP 508 markers as uv writes them: and/or, parentheses, `variable op 'value'`. */
function evaluateMarker(marker: string, env: Environment): boolean {
  const tokens =
    marker.match(/\(|\)|'[^']*'|"[^"]*"|==|!=|<=|>=|<|>|not in|\bin\b|\band\b|\bor\b|[a-z_]+/g) ?? [];
  let pos = 0;
  const next = (): string => {
    const token = tokens[pos++];
    if (token === undefined) throw new Error(`marker ends early: ${marker}`);
    return token;
  };
  const value = (token: string): string => {
    if (/^['"]/.test(token)) return token.slice(1, -1);
    const known = env[token];
    if (known === undefined) throw new Error(`marker variable ${token} has no value in the test: ${marker}`);
    return known;
  };
  const comparison = (): boolean => {
    const left = next();
    if (left === "(") {
      const inner = or();
      next(); // ")"
      return inner;
    }
    const op = next();
    const right = next();
    const [a, b] = [value(left), value(right)];
    const versions = /python_(full_)?version/.test(left + right);
    const d = versions ? compareVersions(a, b) : a.localeCompare(b);
    const results: Record<string, boolean> = {
      "==": d === 0,
      "!=": d !== 0,
      "<": d < 0,
      "<=": d <= 0,
      ">": d > 0,
      ">=": d >= 0,
      in: b.includes(a),
      "not in": !b.includes(a),
    };
    if (!(op in results)) throw new Error(`unknown marker operator ${op}: ${marker}`);
    return results[op] as boolean;
  };
  const and = (): boolean => {
    let result = comparison();
    while (tokens[pos] === "and") {
      pos++;
      result = comparison() && result;
    }
    return result;
  };
  const or = (): boolean => {
    let result = and();
    while (tokens[pos] === "or") {
      pos++;
      result = and() || result;
    }
    return result;
  };
  const result = or();
  if (pos !== tokens.length) throw new Error(`marker has trailing tokens: ${marker}`);
  return result;
}

const PLATFORMS: Record<string, Environment> = {
  "Linux x86_64": {
    sys_platform: "linux",
    platform_system: "Linux",
    platform_machine: "x86_64",
    os_name: "posix",
  },
  "Windows x86_64": {
    sys_platform: "win32",
    platform_system: "Windows",
    platform_machine: "AMD64",
    os_name: "nt",
  },
  "macOS arm64": {
    sys_platform: "darwin",
    platform_system: "Darwin",
    platform_machine: "arm64",
    os_name: "posix",
  },
};
const PYTHONS = ["3.11.9", "3.12.8", "3.13.1"];
const EVERYWHERE = [
  "torch",
  "torchvision",
  "diffusers",
  "transformers",
  "accelerate",
  "safetensors",
  "bitsandbytes",
];

const entries = parseLock(lockText);

function installedOn(env: Environment): Map<string, string> {
  const chosen = new Map<string, string>();
  for (const entry of entries) {
    if (entry.marker && !evaluateMarker(entry.marker, env)) continue;
    if (chosen.has(entry.name)) throw new Error(`${entry.name} is selected twice`);
    chosen.set(entry.name, entry.version);
  }
  return chosen;
}

describe("engine/requirements.lock", () => {
  it("is generated by scripts/lock-engine.mjs", () => {
    expect(lockText).toContain("#    node scripts/lock-engine.mjs");
  });

  it("pins every package to one version with sha256 hashes", () => {
    expect(entries.length).toBeGreaterThan(50);
    for (const entry of entries) {
      expect(entry.hashes.length, entry.name).toBeGreaterThan(0);
      for (const hash of entry.hashes) expect(hash, entry.name).toMatch(/^--hash=sha256:[0-9a-f]{64}$/);
    }
  });

  it("holds each direct requirement of engine/requirements.in at its version", () => {
    const direct = [...inText.matchAll(/^([A-Za-z0-9._-]+)==(\S+)/gm)];
    expect(direct.length).toBeGreaterThan(10);
    const pinned = new Map(entries.map((e) => [e.name.replace(/_/g, "-"), e.version]));
    for (const [, name, version] of direct) {
      expect(pinned.get(name!.toLowerCase().replace(/_/g, "-")), name).toBe(version);
    }
  });

  for (const [platform, env] of Object.entries(PLATFORMS)) {
    for (const python of PYTHONS) {
      it(`selects one version of each package on ${platform} with Python ${python}`, () => {
        const chosen = installedOn({
          ...env,
          python_full_version: python,
          python_version: python.split(".").slice(0, 2).join("."),
          implementation_name: "cpython",
          platform_python_implementation: "CPython",
        });
        for (const name of EVERYWHERE) expect(chosen.has(name), name).toBe(true);
        const cuda = [...chosen.keys()].filter((name) => name.startsWith("nvidia-") || name === "triton");
        if (platform.startsWith("Linux")) {
          expect(cuda).toEqual(expect.arrayContaining(["triton", "nvidia-cudnn-cu13", "nvidia-cublas"]));
        } else {
          expect(cuda).toEqual([]); // CUDA's Linux wheels must not reach Windows or macOS
        }
        expect(chosen.has("colorama")).toBe(platform.startsWith("Windows"));
      });
    }
  }
});
