// The browser UI end to end: a real `danlu serve --workers 0` over a fresh data directory, driven by the
// system's Chromium (test/browser.ts). Every page in Chinese with no English left, and back; axe-core at
// desktop and phone width with screenshots of each; the generate page's form, errors and gallery.
// Finished jobs (a training's LoRA files, a generation's images) are seeded through the job queue with a
// stand-in handler, so no engine runs and the file stays fast.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/engine/python.ts";
import { PRESET_NAMES } from "../src/config/presets/index.ts";
import { DataDir } from "../src/jobs/data-dir.ts";
import { SqliteJobQueue } from "../src/jobs/sqlite-queue.ts";
import { SAMPLERS } from "../web/src/pages/generate-params.ts";
import {
  checkA11y,
  DESKTOP,
  launchBrowser,
  PHONE,
  screenshot,
  signIn,
  waitForQuiet,
  type TestBrowser,
} from "./browser.ts";
import { addUser, Api, startServe, type ServeProcess } from "./serve.ts";

const USER = "mei";
const MODEL = "tiny-sd15.safetensors";
const DATASET = "portraits";
/** A second dataset, for the upload test. */
const UPLOADS = "uploads";
const PHOTO = "astronaut.png";
const LORA = "mystyle";
const LORA_FILES = [`${LORA}-000001.safetensors`, `${LORA}.safetensors`];
const SEEDED_PROMPT = "portrait photo of mystyle person, (smiling:1.2)";
const SEEDED_NEGATIVE = "blurry, lowres";
const UI_PROMPT = "mystyle person in a garden BREAK golden hour";

/** The pages every language and accessibility check visits. */
const PAGES = [
  { name: "home", path: "/" },
  { name: "datasets", path: "/datasets" },
  { name: "dataset", path: `/datasets/${DATASET}` },
  { name: "train", path: "/train" },
  { name: "jobs", path: "/jobs" },
  { name: "job", path: "/jobs/{train}" },
  { name: "generate", path: "/generate" },
  { name: "portraits", path: "/portraits" },
];

let root = "";
let server: ServeProcess;
let api: Api;
let browser: TestBrowser;
let page: Page;
let seeded: { train: string; gen: string };
/** Uncaught exceptions in the pages, over the whole file. */
const pageErrors: string[] = [];

const pathOf = (entry: { path: string }) => entry.path.replace("{train}", seeded.train);

/** A training with two LoRA files and a generation with two images, finished by a stand-in worker. */
async function seedFinishedJobs(data: DataDir, owner: string): Promise<{ train: string; gen: string }> {
  const queue = new SqliteJobQueue(data.dbPath);
  try {
    const train = await queue.enqueue({
      owner,
      kind: "train",
      params: { dataset: DATASET, model: MODEL, config: { output_name: LORA, network_dim: 4 } },
    });
    const gen = await queue.enqueue({
      owner,
      kind: "gen",
      params: {
        model: MODEL,
        prompt: SEEDED_PROMPT,
        negative: SEEDED_NEGATIVE,
        loras: [{ job: train.id, file: LORA_FILES[1], weight: 0.8 }],
        sampler: "Euler a",
        steps: 20,
        cfg: 7,
        width: 512,
        height: 512,
        seed: 42,
        batch_count: 2,
        batch_size: 1,
        clip_skip: 1,
        strength: 0.75,
        device: "auto",
        precision: "no",
      },
    });
    const worker = queue.startWorker(
      async ({ job }) => {
        const dir = data.jobDir(owner, job.id);
        mkdirSync(join(dir, "images"), { recursive: true });
        if (job.kind === "train") {
          for (const file of LORA_FILES) writeFileSync(join(dir, file), "stand-in LoRA");
          return { files: LORA_FILES, steps: 10, elapsed_s: 1, logs: "logs", resumed_from_step: null };
        }
        const images = ["images/00000-42.png", "images/00001-43.png"];
        for (const image of images)
          copyFileSync(join(REPO_ROOT, "fixtures", "photos", PHOTO), join(dir, image));
        return { images, seed: 42, sampler: "Euler a", elapsed_s: 1 };
      },
      { workerId: "web-ui-seed", pollMs: 20, concurrency: 2 },
    );
    for (const id of [train.id, gen.id]) {
      const until = Date.now() + 10_000;
      while ((await queue.get(id))?.state !== "succeeded") {
        if (Date.now() > until) throw new Error(`seeding: job ${id} did not finish`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    await worker.close();
    return { train: train.id, gen: gen.id };
  } finally {
    await queue.close();
  }
}

beforeAll(async () => {
  // the UI as it is now (scripts/build-web.mjs builds only when web/ changed since the last build)
  const built = spawnSync(process.execPath, [join(REPO_ROOT, "scripts", "build-web.mjs")], {
    stdio: "inherit",
  });
  if (built.status !== 0)
    throw new Error("building the web UI failed (vite build web): see its output above");
  root = mkdtempSync(join(tmpdir(), "danlu-web-ui-"));
  const data = join(root, "data");
  mkdirSync(join(data, "models"), { recursive: true });
  writeFileSync(join(data, "models", MODEL), "stand-in model (no job here runs the engine)");
  const token = await addUser(data, USER);
  server = await startServe(["--data", data, "--workers", "0"]);
  api = new Api(server.url, token);
  const me = await api.json<{ id: string }>("/api/me");
  await api.post("/api/datasets", { name: DATASET });
  const form = new FormData();
  form.append("files", new Blob([readFileSync(join(REPO_ROOT, "fixtures", "photos", PHOTO))]), PHOTO);
  await api.json(`/api/datasets/${DATASET}/upload`, { method: "POST", body: form });
  seeded = await seedFinishedJobs(new DataDir(data), me.id);
  browser = await launchBrowser();
  page = await browser.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  await signIn(page, server.url, token);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

/**
 * Latin-letter names a Chinese page keeps as they are: the product's own, tools, models and formats
 * people know by these names, A1111's prompt keyword, hardware, the language switch's "English", and the
 * training terms the Chinese guides (../shared/guides) themselves write in Latin letters (loss, token,
 * UNet, VAE, alpha, dim, rank, min-SNR gamma, latent, LoHa, booru tags...).
 */
const NAMES = [
  "danlu",
  "LoRA",
  "lora", // <lora:name:weight>
  "LyCORIS",
  "LoCon",
  "LoHa",
  "A1111",
  "kohya",
  "sd-scripts",
  "cog-sdxl",
  "diffusers",
  "bitsandbytes",
  "modelspec",
  "TOML",
  "SD",
  "SD1.5",
  "SD2",
  "SD2-v",
  "SDXL",
  "NovelAI",
  "AnyLoRA",
  "ACertainty",
  "WD14",
  "deepbooru",
  "booru",
  "CLIP",
  "OpenCLIP",
  "bigG",
  "CFG",
  "BREAK",
  "CPU",
  "GPU",
  "CUDA",
  "RTX",
  "English",
  "UNet",
  "VAE",
  "loss",
  "token",
  "latent",
  "alpha",
  "dim",
  "rank",
  "min-SNR",
  "SNR",
  "gamma",
  "beta2",
  "Huber",
  "dropout",
  // the train form's sample prompt placeholder: SD prompts are written in English
  "a photo of dlnsample",
  // the portrait form's trigger word placeholder (the default trigger)
  "dlperson",
];
/**
 * Data and keys, not interface text: numbers with units, file names and {placeholders}, job ids,
 * snake_case keys (network_dim), key=value settings, command-line flags, quoted literals, precisions
 * (fp16, float32, 8bit), folder-name examples (1_TRIGGER) and true/false values.
 */
const DATA_PATTERNS = [
  /\{[^}\s]*\}/g,
  /\b\d+(?:\.\d+)?\s?(?:B|KB|MB|GB|TB|px|ms|s|it\/s)\b/g,
  /[\w.-]*\.(?:safetensors|ckpt|png|jpe?g|webp|txt|toml|json|caption)\b/gi,
  /\bj-[0-9a-f]{4,}\b/g,
  /\b\w+=[^\s,，、；）)]+/g,
  /--[a-z][\w-]*/g,
  /'[^'\n]*'|"[^"\n]*"/g,
  /\b(?:fp|bf|float)\d+\b|\b\d+bit\b/g,
  /\b\d+_[A-Z]+\b/g,
  /\b(?:true|false|True|False)\b/g,
  /\b[a-z][a-z0-9]*(?:[_.][a-z0-9]+)+\b/g,
];
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** What this test made, and what the server lists by name: samplers, presets, config keys and values. */
let dataNames: RegExp[] = [];

async function collectDataNames(): Promise<void> {
  const presets = await api.json<{ presets: { name: string }[] }>("/api/presets");
  const schema = await api.json<{ keys: { key: string; type: string }[] }>("/api/config/schema");
  // a config key's values as kohya spells them ("AdamW | AdamW8bit | Lion"), when its type lists them
  const values = schema.keys
    .map((row) => row.type.split(" | "))
    .filter((alternatives) => alternatives.length > 1)
    .flat()
    .map((value) => value.replace(/\[.*$/, "")) // adafactor[:<lr>]
    .filter((value) => /^[\w.+-]+$/.test(value));
  const names = [USER, DATASET, UPLOADS, MODEL, LORA, SEEDED_PROMPT, SEEDED_NEGATIVE, UI_PROMPT, ...SAMPLERS];
  names.push(...presets.presets.map((preset) => preset.name), ...schema.keys.map((row) => row.key));
  names.push(...values, ...NAMES);
  dataNames = [...new Set(names)]
    .sort((a, b) => b.length - a.length)
    .map((name) => new RegExp(`(?<![A-Za-z0-9])${escape(name)}(?![A-Za-z0-9])`, "g"));
}

async function open(path: string): Promise<void> {
  await page.goto(`${server.url}${path}`);
  await page.locator("main h1").first().waitFor();
  await waitForQuiet(page);
}

async function setLanguage(lang: "en" | "zh"): Promise<void> {
  await page.locator('header select[name="language"]').selectOption(lang);
  await page.locator(`html[lang="${lang === "zh" ? "zh-CN" : "en"}"]`).waitFor({ state: "attached" });
}

describe("uploads", () => {
  it("takes a picked folder (every file under it, hidden ones left out) and dropped files", async () => {
    await api.post("/api/datasets", { name: UPLOADS });
    const folder = join(root, "picked", "shoot");
    mkdirSync(join(folder, "day2"), { recursive: true });
    copyFileSync(join(REPO_ROOT, "fixtures", "photos", "camera.png"), join(folder, "camera.png"));
    copyFileSync(join(REPO_ROOT, "fixtures", "photos", "coffee.png"), join(folder, "day2", "coffee.png"));
    writeFileSync(join(folder, ".DS_Store"), "finder metadata");
    await open(`/datasets/${UPLOADS}`);
    await page.setInputFiles('[data-testid="upload-folder-input"]', folder);
    await page.getByTestId("upload-report").waitFor();
    await expect
      .poll(() => page.locator('[data-testid="report-row"][data-status="imported"]').count())
      .toBe(2);
    const names = await page.locator('[data-testid="report-row"] .ds-upload-name').allInnerTexts();
    expect(names.sort()).toEqual(["shoot/camera.png", "shoot/day2/coffee.png"]);

    // a drop of files (a synthetic DataTransfer, as a drag from the desktop gives)
    const png = readFileSync(join(REPO_ROOT, "fixtures", "photos", "chelsea.png")).toString("base64");
    await page.getByTestId("drop-zone").evaluate((zone, base64) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], "chelsea.png", { type: "image/png" }));
      zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, png);
    await expect
      .poll(
        async () => (await api.json<{ images: unknown[] }>(`/api/datasets/${UPLOADS}/images`)).images.length,
      )
      .toBe(3);
  });
});

describe("the generate page", () => {
  it("starts with ?job&file's LoRA, queues a gen job with the form's settings, follows it and cancels it", async () => {
    await open(`/generate?job=${seeded.train}&file=${encodeURIComponent(LORA_FILES[1]!)}`);
    const lora = page.getByTestId("gen-lora-select");
    expect(await lora.count()).toBe(1);
    expect(await lora.inputValue()).toBe(`${seeded.train}/${LORA_FILES[1]}`);
    expect(await page.getByTestId("gen-model").inputValue()).toBe(MODEL);

    await page.getByTestId("gen-prompt").fill(UI_PROMPT);
    await page.getByTestId("gen-negative").fill(SEEDED_NEGATIVE);
    await page.getByTestId("gen-sampler").selectOption("Euler a");
    await page.getByTestId("gen-steps").fill("12");
    await page.getByTestId("gen-cfg").fill("6.5");
    await page.getByTestId("gen-width").fill("576");
    await page.getByTestId("gen-height").fill("768");
    await page.getByTestId("gen-seed").fill("1234");
    await page.getByTestId("gen-batch-count").fill("3");
    await page.getByTestId("gen-lora-weight").fill("0.7");
    // hires fix and face detailing: switched on, their settings appear
    await page.getByTestId("gen-hires-on").check();
    await page.getByTestId("gen-hires-scale").fill("1.5");
    await page.getByTestId("gen-hires-upscaler").selectOption("Lanczos");
    await page.getByTestId("gen-detail-on").check();
    await page.getByTestId("gen-detail-prompt").fill("a smiling face");
    // a second LoRA row, then taken away again
    await page.getByTestId("gen-lora-add").click();
    expect(await page.getByTestId("gen-lora-select").count()).toBe(2);
    await page.getByTestId("gen-lora-remove").nth(1).click();
    expect(await page.getByTestId("gen-lora-select").count()).toBe(1);

    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/jobs") && r.request().method() === "POST"),
      page.getByTestId("gen-submit").click(),
    ]);
    expect(response.status()).toBe(201);
    const id = ((await response.json()) as { id: string }).id;
    const job = await api.json<{ kind: string; params: Record<string, unknown> }>(`/api/jobs/${id}`);
    expect(job.kind).toBe("gen");
    expect(job.params).toMatchObject({
      model: MODEL,
      prompt: UI_PROMPT,
      negative: SEEDED_NEGATIVE,
      sampler: "Euler a",
      steps: 12,
      cfg: 6.5,
      width: 576,
      height: 768,
      seed: 1234,
      batch_count: 3,
      loras: [{ job: seeded.train, file: LORA_FILES[1], weight: 0.7 }],
      hires: { scale: 1.5, steps: 0, denoising: 0.7, upscaler: "Lanczos" },
      detail_faces: { prompt: "a smiling face", denoising: 0.4 },
    });

    // no worker runs here: the job waits, is followed, and the page's Cancel ends it
    const state = page.getByTestId("gen-state");
    await page.getByTestId("gen-state").filter({ hasText: "queued" }).waitFor();
    expect(await page.getByTestId("gen-history-item").first().textContent()).toContain(UI_PROMPT);
    await page.getByTestId("gen-cancel").click();
    await page.getByTestId("gen-state").filter({ hasText: "cancelled" }).waitFor();
    expect(await state.textContent()).toBe("cancelled");
    expect((await api.json<{ state: string }>(`/api/jobs/${id}`)).state).toBe("cancelled");
  });

  it("shows the API's error, with its hint, next to the field it names", async () => {
    await open("/generate");
    // past the browser's own checks, so the server answers
    await page
      .getByTestId("gen-form")
      .evaluate((form) => ((form as unknown as { noValidate: boolean }).noValidate = true));
    await page.getByTestId("gen-steps").fill("0");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/jobs") && r.request().method() === "POST"),
      page.getByTestId("gen-submit").click(),
    ]);
    expect(response.status()).toBe(400);
    const alert = page.locator("#gen-steps-error [role=alert]");
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/steps/);
    expect(await page.getByTestId("gen-steps").getAttribute("aria-invalid")).toBe("true");
    await page.getByTestId("gen-steps").fill("20");
    await alert.waitFor({ state: "detached" });
    expect(await page.getByTestId("gen-steps").getAttribute("aria-invalid")).toBeNull();
  });

  it("shows a finished generation: images in fixed-ratio boxes, settings, seeds, downloads, reuse", async () => {
    await open("/generate");
    const item = page.getByTestId("gen-history-item").filter({ hasText: SEEDED_PROMPT });
    await item.getByTestId("gen-history-open").click();
    const images = page.getByTestId("gen-image");
    await images.nth(1).waitFor();
    await waitForQuiet(page);
    expect(await images.count()).toBe(2);
    for (const image of await images.all()) {
      // decoded, not just requested: decode() settles once the pixels are there
      const width = await image.evaluate((element) => {
        const img = element as unknown as { decode(): Promise<void>; naturalWidth: number };
        return img.decode().then(() => img.naturalWidth);
      });
      expect(width).toBe(512);
      const box = (await image.locator("..").boundingBox())!;
      expect(Math.abs(box.width - box.height)).toBeLessThan(1.5); // 512 x 512: a square box
    }
    const gallery = page.getByTestId("gen-gallery");
    expect(await gallery.textContent()).toMatch(/Seed 42.*Seed 43/);
    const params = await page.getByTestId("gen-params").textContent();
    for (const text of [SEEDED_PROMPT, SEEDED_NEGATIVE, MODEL, "Euler a", `${LORA_FILES[1]} × 0.8`]) {
      expect(params).toContain(text);
    }

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByTestId("gen-download").nth(1).click(),
    ]);
    expect(download.suggestedFilename()).toBe("00001-43.png");
    const saved = join(root, "download.png");
    await download.saveAs(saved);
    expect(readFileSync(saved).equals(readFileSync(join(REPO_ROOT, "fixtures", "photos", PHOTO)))).toBe(true);

    await page.getByTestId("gen-use-seed").nth(1).click();
    expect(await page.getByTestId("gen-seed").inputValue()).toBe("43");
    await item.getByTestId("gen-history-reuse").click();
    expect(await page.getByTestId("gen-prompt").inputValue()).toBe(SEEDED_PROMPT);
    expect(await page.getByTestId("gen-seed").inputValue()).toBe("42");
    expect(await page.getByTestId("gen-batch-count").inputValue()).toBe("2");

    // img2img from the second image: the form shows it with its strength, and hires fix (txt2img) steps aside
    await page.getByTestId("gen-img2img").nth(1).click();
    await page.getByTestId("gen-init-image").waitFor();
    expect(await page.getByTestId("gen-hires").count()).toBe(0);
    await page.getByTestId("gen-strength").fill("0.5");
    const [sent] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/jobs") && r.request().method() === "POST"),
      page.getByTestId("gen-submit").click(),
    ]);
    expect(sent.status()).toBe(201);
    const queuedId = ((await sent.json()) as { id: string }).id;
    const queued = await api.json<{ params: Record<string, unknown> }>(`/api/jobs/${queuedId}`);
    expect(queued.params).toMatchObject({
      init_image: { job: seeded.gen, file: "images/00001-43.png" },
      strength: 0.5,
    });
    expect(queued.params).not.toHaveProperty("hires");
    await api.post(`/api/jobs/${queuedId}/cancel`, {});
    await page.getByTestId("gen-init-clear").click();
    await page.getByTestId("gen-hires").waitFor();

    await checkA11y(page, "/generate with a gallery");
    await screenshot(page, "generate-gallery");
  });
});

// ---- every page: language, accessibility, layout at 375 px, screenshots ----

/** The browser's document as the page.evaluate callbacks below use it (the Node project has no DOM types). */
interface PageElement {
  tagName: string;
  getAttribute(name: string): string | null;
  closest(selector: string): PageElement | null;
  checkVisibility(): boolean;
}
declare const DataTransfer: new () => { items: { add(file: File): void } };
declare const DragEvent: new (type: string, init: Record<string, unknown>) => unknown;
declare const document: {
  body: { innerText: string; querySelectorAll(selector: string): Iterable<PageElement> };
  documentElement: { scrollWidth: number };
};

/** Every text a person sees or hears on the page: the body's text and the visible elements' labels. */
function visibleTexts(target: Page): Promise<string[]> {
  return target.evaluate(() => {
    const texts = [document.body.innerText];
    for (const element of document.body.querySelectorAll("*")) {
      const select = element.closest("select");
      const shown = select ? select.checkVisibility() : element.checkVisibility();
      if (!shown) continue;
      for (const name of ["placeholder", "aria-label", "title", "alt"]) {
        const value = element.getAttribute(name);
        if (value) texts.push(value);
      }
      if (element.tagName === "OPTGROUP") texts.push(element.getAttribute("label") ?? "");
    }
    return texts;
  });
}

const CHINESE = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/;

function chineseLeft(texts: string[]): string[] {
  const found = new Set<string>();
  for (const text of texts) {
    for (const line of text.split("\n")) {
      if (CHINESE.test(line.replaceAll("中文", ""))) found.add(JSON.stringify(line.trim()));
    }
  }
  return [...found];
}

/** English words left in `texts` once data and allowed words are taken out, each with its line. */
function englishLeft(texts: string[]): string[] {
  const found = new Set<string>();
  for (const text of texts) {
    for (const line of text.split("\n")) {
      let rest = line;
      for (const pattern of [...DATA_PATTERNS, ...dataNames]) rest = rest.replace(pattern, " ");
      const words = rest.match(/[A-Za-z]{2,}/g) ?? [];
      if (words.length) found.add(`${JSON.stringify(words.join(" "))} in ${JSON.stringify(line.trim())}`);
    }
  }
  return [...found];
}

describe("every page", () => {
  it("in Chinese, no English is left on any page (the train form with a preset's reasons too)", async () => {
    await collectDataNames();
    await open("/");
    await setLanguage("zh");
    const english: string[] = [];
    for (const entry of PAGES) {
      await open(pathOf(entry));
      for (const line of englishLeft(await visibleTexts(page))) english.push(`${entry.path}: ${line}`);
    }
    await open("/train");
    for (const preset of PRESET_NAMES) {
      await page.getByTestId("preset-select").selectOption(preset);
      await page.getByTestId("preset-details").waitFor();
      for (const line of englishLeft(await visibleTexts(page))) english.push(`/train (${preset}): ${line}`);
    }
    expect(english).toEqual([]);
  });

  it("switching Chinese -> English leaves no Chinese on any page", async () => {
    await collectDataNames();
    await open("/");
    await setLanguage("zh");
    await setLanguage("en");
    const chinese: string[] = [];
    for (const entry of PAGES) {
      await open(pathOf(entry));
      for (const line of chineseLeft(await visibleTexts(page))) chinese.push(`${entry.path}: ${line}`);
    }
    expect(chinese).toEqual([]);
  });

  it("passes axe (no serious or critical violations) and fits 375 px, at desktop and phone width", async () => {
    const problems: string[] = [];
    for (const entry of PAGES) {
      await open(pathOf(entry));
      for (const size of [DESKTOP, PHONE]) {
        await page.setViewportSize(size);
        await checkA11y(page, `${entry.path} at ${size.width} px`).catch((error: Error) =>
          problems.push(error.message),
        );
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
        if (overflow > size.width) {
          problems.push(
            `${entry.path} at ${size.width} px: the page is ${overflow} px wide (scrolls sideways)`,
          );
        }
      }
      await screenshot(page, entry.name);
    }
    expect(problems.join("\n\n")).toBe("");
  });

  it("threw no uncaught error in any page during this file", () => {
    expect(pageErrors).toEqual([]);
  });
});
