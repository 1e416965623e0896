/**
 * Benchmark (prints figures; passes or fails nothing): WD tagger throughput of `danlu tag` in
 * images per second, and, when given a checkout of sd-scripts and a Python with onnxruntime, of
 * sd-scripts' finetune/tag_images_by_wd14_tagger.py on the same images and the same ONNX model.
 *
 *   npx tsx bench/dataset/tagger.ts [--count 1000] [--width 640] [--height 480] [--batch 8]
 *     [--model DIR] [--sd-scripts DIR --python PYTHON] [--repeat 2] [--keep]
 *
 * Each measurement runs --repeat times, alternating, and the best is reported (the machine is shared).
 *
 * Without --model the model is built here: the WD contract at the real input size (448x448x3 NHWC
 * BGR in, 10,861 sigmoid outputs like the v3 taggers) with a trivial body (channel means and one
 * linear layer), so the figures measure everything around the network (decoding, padding, resizing,
 * batching, thresholds, caption and manifest writes), which is where two implementations differ;
 * pass a real tagger folder with --model to include the network's own cost.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { DEFAULT_FORMAT } from "../../src/tagging/wd/select.ts";
import { tagFolder } from "../../src/tagging/wd/tag-folder.ts";
import { writeTinyTagger, type TinyTag } from "../../src/tagging/wd/testing/tiny-tagger.ts";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "1000" },
    width: { type: "string", default: "640" },
    height: { type: "string", default: "480" },
    batch: { type: "string", default: "8" },
    model: { type: "string" },
    "sd-scripts": { type: "string" },
    python: { type: "string", default: "python3" },
    repeat: { type: "string", default: "2" },
    keep: { type: "boolean", default: false },
  },
});
const count = Number(values.count);
const [width, height, batch] = [Number(values.width), Number(values.height), Number(values.batch)];
const repeat = Number(values.repeat);
// Character tags off (threshold above 1) in every run: sd-scripts at 48d368f stops with an
// UnboundLocalError (`character_tags` in run_batch) as soon as a character tag passes the threshold.
const THRESHOLDS = { general: 0.35, character: 1.01 };

/** A deterministic pseudo-random source (LCG), so every run tags the same images. */
function randomSource(seed: number): () => number {
  let state = (seed * 2654435761) >>> 0;
  return () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
}

function sceneSvg(seed: number): string {
  const random = randomSource(seed);
  const colour = () => `rgb(${[0, 0, 0].map(() => Math.floor(random() * 256)).join(",")})`;
  const shapes = Array.from({ length: 10 }, () => {
    const [x, y, size] = [random() * width, random() * height, 20 + random() * width * 0.3];
    return random() < 0.5
      ? `<circle cx="${x}" cy="${y}" r="${size / 2}" fill="${colour()}"/>`
      : `<rect x="${x}" y="${y}" width="${size}" height="${size * 0.7}" fill="${colour()}"/>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="${colour()}"/>${shapes.join("")}</svg>`;
}

async function generateImages(dir: string): Promise<void> {
  for (let start = 0; start < count; start += 16) {
    const ids = Array.from({ length: Math.min(16, count - start) }, (_, i) => start + i);
    await Promise.all(
      ids.map((i) =>
        sharp(Buffer.from(sceneSvg(i + 1)))
          .jpeg({ quality: 90 })
          .toFile(join(dir, `img-${String(i).padStart(5, "0")}.jpg`)),
      ),
    );
  }
}

/**
 * 4 ratings, 8,000 general and 2,857 character tags. Like a real tagger, most outputs stay near 0:
 * one tag in 25 responds to the image's colours (40-100 above 0.05 per image, 5-50 above 0.35).
 */
function benchTags(): TinyTag[] {
  const random = randomSource(7);
  const ratings = ["general", "sensitive", "questionable", "explicit"];
  return Array.from({ length: 10_861 }, (_, i): TinyTag => {
    const category = i < 4 ? 9 : i < 8_004 ? 0 : 4;
    const name = i < 4 ? (ratings[i] ?? "") : category === 0 ? `tag_${i}` : `character_${i}_(series)`;
    const weights: [number, number, number] = [0, 0, 0].map(() => (random() - 0.5) * 16) as [
      number,
      number,
      number,
    ];
    const bias = -4 - random() * 6;
    return { name, category, weights, bias: i % 25 === 0 || i < 4 ? bias : -30 };
  });
}

async function captionsOf(dir: string): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".txt"))) {
    const text = (await readFile(join(dir, file), "utf8")).trim();
    out.set(file, new Set(text === "" ? [] : text.split(",").map((t) => t.trim())));
  }
  return out;
}

async function removeCaptions(dir: string): Promise<void> {
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".txt") || f === "manifest.json")) {
    await rm(join(dir, file));
  }
}

function timedCommand(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const started = performance.now();
  const run = spawnSync(command, args, { cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0) throw new Error(`${command} ${args.slice(0, 3).join(" ")} failed:\n${run.stderr}`);
  return { seconds, stdout: run.stdout };
}

async function danluInProcess(): Promise<{ seconds: number; cpu: number }> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await tagFolder({
    dir: images,
    taggers: [{ name: "bench", folder: modelFolder, ...THRESHOLDS }],
    format: DEFAULT_FORMAT,
    separator: ", ",
    existing: "overwrite",
    captionExtension: ".txt",
    batchSize: batch,
    recursive: false,
    reuseProbabilities: false,
  });
  const cpu = process.cpuUsage(cpuBefore);
  return { seconds: (performance.now() - started) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

function danluCommand(): number {
  const cli = resolve(import.meta.dirname, "../../bin/danlu.js");
  const thresholds = ["--general-threshold", "0.35", "--character-threshold", String(THRESHOLDS.character)];
  const args = [cli, "tag", images, "--model", modelFolder, "--batch-size", String(batch), ...thresholds];
  return timedCommand(process.execPath, args, process.cwd()).seconds;
}

// Runs the script's own main() after importing it, timing the imports (torch, diffusers...) apart.
const SD_SCRIPTS_DRIVER = `
import importlib.util, json, resource, sys, time
def cpu():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("wd14", "finetune/tag_images_by_wd14_tagger.py")
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
args = m.setup_parser().parse_args(sys.argv[1:])
for k in ("general_threshold", "character_threshold", "meta_threshold", "model_threshold", "copyright_threshold", "artist_threshold"):
    if getattr(args, k) is None: setattr(args, k, args.thresh)
t1, c1 = time.perf_counter(), cpu()
m.main(args)
print(json.dumps({"imports": t1 - t0, "main": time.perf_counter() - t1, "cpu": cpu() - c1}))
`;

function sdScripts(root: string): { whole: number; main: number; cpu: number } {
  const options = ["--onnx", ...sdScriptsModelArgs(modelFolder), "--batch_size", String(batch)];
  const more = ["--max_data_loader_n_workers", "2", "--remove_underscore", "--thresh", "0.35"];
  const args = [images, ...options, ...more, "--character_threshold", String(THRESHOLDS.character)];
  const env = { ...process.env, PYTHONPATH: root };
  const run = timedCommand(values.python, ["-c", SD_SCRIPTS_DRIVER, ...args], root, env);
  const times = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as { main: number; cpu: number };
  return { whole: run.seconds, main: times.main, cpu: times.cpu };
}

function sameTags(ours: Map<string, Set<string>>, theirs: Map<string, Set<string>>): string {
  let same = 0;
  for (const [file, tags] of ours) {
    const other = theirs.get(file);
    if (other && other.size === tags.size && [...tags].every((t) => other.has(t))) same++;
  }
  return `same tag set from danlu and sd-scripts for ${same} of ${ours.size} images`;
}

/** sd-scripts finds a model at {model_dir}/{repo_id with "/" as "_"}: map a folder onto that. */
function sdScriptsModelArgs(folder: string): string[] {
  const name = basename(folder);
  if (!name.includes("_")) throw new Error(`sd-scripts needs the model folder named OWNER_NAME, not ${name}`);
  return ["--model_dir", dirname(folder), "--repo_id", name.replace("_", "/")];
}

const work = await mkdtemp(join(tmpdir(), "danlu-bench-tagger-"));
const images = join(work, "images");
const repoId = "SmilingWolf/danlu-bench-tagger"; // sd-scripts reads {model_dir}/{repo_id with _}/
const modelFolder = values.model ? resolve(values.model) : join(work, "models", repoId.replace("/", "_"));
const rate = (seconds: number) => `${(count / seconds).toFixed(1)} images/s`;
try {
  await mkdir(images, { recursive: true });
  await generateImages(images);
  if (!values.model) await writeTinyTagger(modelFolder, { inputSize: 448, tags: benchTags() });
  console.log(
    `tagger benchmark: ${count} JPEG images ${width}x${height}, batch ${batch}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"})`,
  );
  console.log(`model: ${values.model ?? "built here (448 px input, 10,861 outputs, trivial body)"}`);

  const results: Record<string, number[]> = {};
  const cpuMs: Record<string, number[]> = {};
  const record = (label: string, seconds: number, cpu?: number) => {
    (results[label] ??= []).push(seconds);
    if (cpu !== undefined) (cpuMs[label] ??= []).push((cpu * 1000) / count);
  };
  let comparison = "";
  for (let round = 0; round < repeat; round++) {
    const ours = await danluInProcess();
    record("danlu tagFolder, in process", ours.seconds, ours.cpu);
    const danluCaptions = await captionsOf(images);
    await removeCaptions(images);
    record("danlu tag, whole command", danluCommand());
    await removeCaptions(images);
    if (values["sd-scripts"]) {
      const theirs = sdScripts(resolve(values["sd-scripts"]));
      record("sd-scripts, whole command", theirs.whole);
      record("sd-scripts main(), after imports", theirs.main, theirs.cpu);
      comparison = sameTags(danluCaptions, await captionsOf(images));
      await removeCaptions(images);
    }
  }
  for (const [label, runs] of Object.entries(results)) {
    const best = Math.min(...runs);
    const all = runs.map((r) => r.toFixed(1)).join(", ");
    const cpu = cpuMs[label] ? `, ${Math.min(...cpuMs[label]).toFixed(1)} ms CPU per image` : "";
    console.log(`${label.padEnd(34)} ${rate(best).padStart(16)}  (best of ${all} s${cpu})`);
  }
  if (comparison) console.log(comparison);
} finally {
  if (values.keep) console.log(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
