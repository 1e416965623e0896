// The whole workflow in a real browser (Debian's Chromium via playwright-core) against a real `danlu serve`
// and `danlu worker` with the real engine on a tiny model: sign in, upload the sample photos, fix flagged
// images, edit tags, lay out, pick a preset, train two epochs while the loss chart and samples fill in,
// open the grid, generate, download the LoRA and check its keys. Screenshots go to .danlu/screenshots/.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/engine/python.ts";
import { readSafetensorsHeader } from "../src/lora/index.ts";
import { checkA11y, launchBrowser, screenshot, signIn, type TestBrowser } from "./browser.ts";
import { runCli } from "./cli.ts";
import { addUser, startServe, startWorker, type ServeProcess, type WorkerProcess } from "./serve.ts";

const PHOTOS = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg", "truncated.jpg"];
const LONG = { timeout: 240_000 };

let root = "";
let server: ServeProcess;
let worker: WorkerProcess;
let browser: TestBrowser;
let page: Page;
let token = "";

beforeAll(async () => {
  const built = spawnSync(process.execPath, [join(REPO_ROOT, "scripts", "build-web.mjs")], {
    stdio: "inherit",
  });
  if (built.status !== 0) throw new Error("building the web UI failed (vite build web)");
  root = mkdtempSync(join(tmpdir(), "danlu-web-flow-"));
  const data = join(root, "data");
  mkdirSync(join(data, "models"), { recursive: true });
  const made = await runCli([
    "model",
    "make-tiny",
    "--arch",
    "sd15",
    "--single-file",
    "--out",
    join(data, "models", "tiny.safetensors"),
  ]);
  expect(made.code, made.stderr).toBe(0);
  token = await addUser(data, "alice");
  server = await startServe(["--data", data, "--workers", "0"]);
  worker = startWorker(["--data", data]);
  browser = await launchBrowser();
  page = await browser.newPage();
  // (runs in the page; the Node project has no DOM types)
  await page.addInitScript(() =>
    (
      globalThis as unknown as { localStorage: { setItem(key: string, value: string): void } }
    ).localStorage.setItem("danlu.lang", "en"),
  );
});

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Sets a training key on the train form (fields outside the open group appear when searched for). */
async function setConfig(key: string, value: string | boolean): Promise<void> {
  const field = page.getByTestId(`config-${key}`);
  if (!(await field.isVisible())) await page.getByTestId("config-search").fill(key);
  const tag = await field.evaluate((el) => `${el.tagName}:${el.getAttribute("type") ?? ""}`);
  if (tag.startsWith("SELECT")) await field.selectOption(String(value));
  else if (tag === "INPUT:checkbox") await field.setChecked(Boolean(value));
  else await field.fill(String(value));
  await page.getByTestId("config-search").fill("");
}

describe("the web UI, end to end", () => {
  it("takes photos to a trained, downloaded LoRA and generated images", async () => {
    await signIn(page, server.url, token);

    // a dataset, the photos uploaded (the truncated JPEG is refused and named)
    await page.goto(`${server.url}/datasets`);
    await page.getByTestId("create-name").fill("photos");
    await page.getByTestId("create-submit").click();
    await page.waitForURL(/\/datasets\/photos/); // a new dataset opens on its upload tab
    await page.setInputFiles(
      '[data-testid="upload-input"]',
      PHOTOS.map((p) => join(REPO_ROOT, "fixtures", "photos", p)),
    );
    await page.getByTestId("upload-report").waitFor(LONG);
    await expect.poll(() => page.getByTestId("report-row").count()).toBe(PHOTOS.length);
    expect(await page.locator('[data-testid="report-row"][data-status="rejected"]').textContent()).toContain(
      "truncated.jpg",
    );
    await screenshot(page, "flow-upload");

    // the check flags the small images; fixing moves what it can to _rejected and says so
    await page.getByTestId("tab-gallery").click();
    await page.getByTestId("check-people").setChecked(false);
    await page.getByTestId("run-check").click();
    await page.locator('[data-testid="gallery-tile"][data-flags*="small"]').first().waitFor(LONG);
    await screenshot(page, "flow-gallery");
    await page.getByTestId("fix-tools").locator("summary").click();
    await page.getByTestId("fix-flagged").click();
    await page.getByTestId("fix-result").waitFor(LONG);
    await screenshot(page, "flow-fixed");

    // tags: the trigger word on one image, first
    // the gallery is virtualised: its tiles exist only while on screen
    await page.getByTestId("fix-tools").locator("summary").click();
    await page.getByTestId("gallery-grid").scrollIntoViewIfNeeded();
    await page.locator('[data-testid="gallery-tile"][data-file="astronaut.png"]').click();
    const detail = page.getByTestId("image-detail");
    await detail.waitFor();
    await detail.getByTestId("tag-input").fill("dlnsample, smiling");
    await detail.getByTestId("tag-input").press("Enter");
    await detail.locator('[data-testid="tag-chip"][data-tag="dlnsample"]').waitFor();
    await detail.getByTestId("caption-save").click();
    await expect.poll(() => detail.getByTestId("caption-save").isDisabled()).toBe(true);
    await page.keyboard.press("Escape");
    await checkA11y(page, "dataset gallery");

    // lay out for training, then on to the train page with the new dataset
    await page.getByTestId("tab-jobs").click();
    await page.getByTestId("layout-concept").fill("dlnsample");
    await page.getByTestId("layout-repeats").fill("2");
    await page.getByTestId("layout-epochs").fill("2");
    await page.getByTestId("layout-batch").fill("2");
    await page.getByTestId("layout-resolution").fill("256"); // the layout's step count only; training sets 64
    await page.getByTestId("layout-out").fill("train");
    await page.getByTestId("layout-submit").click();
    await page.getByTestId("layout-train-link").click(LONG);

    // a preset, then the tiny settings over it; the plan before starting
    await page.getByTestId("model-select").selectOption("tiny.safetensors");
    await page.getByTestId("preset-select").selectOption("person");
    await page.getByTestId("preset-setting").first().waitFor();
    const settings: Record<string, string | boolean> = {
      output_name: "t",
      resolution: "64",
      min_bucket_reso: "64",
      max_bucket_reso: "128",
      bucket_no_upscale: false,
      network_dim: "4",
      network_alpha: "2",
      max_train_epochs: "2",
      mixed_precision: "no",
      save_precision: "float",
      learning_rate: "0.001",
      device: "cpu",
    };
    for (const [key, value] of Object.entries(settings)) await setConfig(key, value);
    await page.getByTestId("sample-prompts").fill("dlnsample, a photo --w 64 --h 64 --d 3 --s 2");
    await page.getByTestId("sample-every-epoch").click();
    await page.getByTestId("plan-button").click();
    await page.getByTestId("plan-report").waitFor(LONG);
    expect(await page.getByTestId("plan-summary").getAttribute("data-epochs")).toBe("2");
    // the plan's numbers in words, in either language (the CLI's full report stays as it prints it)
    const details = page.getByTestId("plan-details");
    expect(await details.innerText()).toMatch(/\d+ images per epoch .* = \d+ steps per epoch/);
    await page.locator('header select[name="language"]').selectOption("zh");
    expect(await details.innerText()).toMatch(/每轮 \d+ 张.*= 每轮 \d+ 步/);
    expect(await details.innerText()).not.toMatch(/\b(?:images|steps|epoch|batch|Buckets|Saves)\b/);
    await page.locator('header select[name="language"]').selectOption("en");
    await screenshot(page, "flow-train");
    await checkA11y(page, "train form");
    await page.getByTestId("start-button").click();

    // the run page fills in live: steps, the loss chart, the samples of each epoch
    await page.waitForURL(/\/jobs\/j-/);
    const steps = page.getByTestId("step-counter");
    await expect
      .poll(async () => Number(await steps.getAttribute("data-step")), LONG)
      .toBeGreaterThanOrEqual(2);
    await page.locator('[data-testid="job-state"][data-state="succeeded"]').waitFor(LONG);
    const total = Number(await steps.getAttribute("data-total"));
    expect(Number(await page.getByTestId("loss-chart").getAttribute("data-points"))).toBe(total);
    await expect.poll(() => page.getByTestId("sample-image").count()).toBe(2);
    await screenshot(page, "flow-run");
    await checkA11y(page, "run page");

    // the epoch x weight grid
    await expect.poll(() => page.getByTestId("grid-button").isEnabled(), LONG).toBe(true);
    await page.getByTestId("grid-button").click();
    await page.getByTestId("grid-image").first().waitFor(LONG);
    await screenshot(page, "flow-grid");

    // download the LoRA and check its keys
    const [saved] = await Promise.all([
      page.waitForEvent("download"),
      page.locator('[data-testid="file-download"][data-path="t.safetensors"]').click(),
    ]);
    const file = join(root, "t.safetensors");
    writeFileSync(file, readFileSync((await saved.path())!));
    const header = await readSafetensorsHeader(file);
    expect(Object.keys(header.tensors)).toHaveLength(264 * 3);
    expect(header.metadata.ss_network_dim).toBe("4");

    // generate with the last epoch's file
    await page.locator('[data-testid="generate-link"][data-file="t.safetensors"]').click();
    await page.getByTestId("gen-model").selectOption("tiny.safetensors");
    await page.getByTestId("gen-prompt").fill("dlnsample, a photo");
    for (const [id, value] of [
      ["gen-width", "64"],
      ["gen-height", "64"],
      ["gen-steps", "3"],
    ] as const) {
      const field = page.getByTestId(id);
      if ((await field.count()) > 0) await field.fill(value);
    }
    await page.getByTestId("gen-submit").click();
    await page.getByTestId("gen-image").first().waitFor(LONG);
    await screenshot(page, "flow-generate");
  });
});
