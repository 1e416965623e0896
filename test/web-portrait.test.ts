// The portrait page in a browser (test/browser.ts) over a real `danlu serve --workers 0`: the selfies
// uploaded through the page, two styles ticked, the job followed stage by stage, then two portraits per
// style with scores and the three photos left out with their reasons; axe at desktop and 375 px; the page
// in Chinese keeps no English. The job runs on a stand-in handler that walks the seven stages and writes
// the files a portrait run writes (test/portrait-api.test.ts runs the real one), so the file stays fast.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/engine/python.ts";
import { DataDir } from "../src/jobs/data-dir.ts";
import { SqliteJobQueue } from "../src/jobs/sqlite-queue.ts";
import type { JobRecord, QueueWorker } from "../src/jobs/types.ts";
import { PORTRAIT_STAGES, type PortraitResult } from "../src/portrait/pipeline.ts";
import { writeReport } from "../src/portrait/report.ts";
import { SELFIE_FILES, writeSelfies } from "../src/portrait/testing/selfies.ts";
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

const MODEL = "tiny-sd15.safetensors";
const STYLES = { id_photo: ["ID photo", "证件照"], hanfu: ["Hanfu", "汉服"] } as const;
const DROPPED = [
  { file: SELFIE_FILES.blurry, reason: "blurry" },
  { file: SELFIE_FILES.group, reason: "several-faces" },
  { file: SELFIE_FILES.intruder, reason: "other-person" },
] as const;
/** The "more settings" fields filled (by test id). */
const ADVANCED = {
  "pt-candidates": "3",
  "pt-steps": "2",
  "pt-width": "64",
  "pt-height": "64",
  "pt-seed": "7",
  "pt-trainSteps": "4",
};
/** How long the stand-in spends in each stage: long enough for the page to show it. */
const STAGE_MS = 600;

let root = "";
let data: DataDir;
let server: ServeProcess;
let queue: SqliteJobQueue;
let worker: QueueWorker;
let api: Api;
let browser: TestBrowser;
let page: Page;
const pageErrors: string[] = [];

/** A portrait run's files and result, without the engine: each stage reported, then the portraits. */
async function standIn(job: JobRecord, report: (stage: string) => Promise<void>): Promise<unknown> {
  const params = job.params as { styles: (keyof typeof STYLES)[]; count: number; dataset: string };
  const photos = readdirSync(data.datasetDir(job.owner, params.dataset)).filter((f) => f.endsWith(".png"));
  const dir = data.jobDir(job.owner, job.id);
  const seconds: Record<string, number> = {};
  for (const stage of PORTRAIT_STAGES) {
    await report(stage);
    await new Promise((resolve) => setTimeout(resolve, STAGE_MS));
    seconds[stage] = STAGE_MS / 1000;
  }
  seconds.total = (STAGE_MS * PORTRAIT_STAGES.length) / 1000;
  const styles = params.styles.map((name) => {
    mkdirSync(join(dir, "portraits", name), { recursive: true });
    const portraits = Array.from({ length: params.count }, (_, i) => {
      const file = `portraits/${name}/0${i + 1}.png`;
      copyFileSync(join(REPO_ROOT, "fixtures", "photos", "astronaut.png"), join(dir, file));
      return { file, score: 0.9 - i * 0.1, gate: "ok" };
    });
    return {
      name,
      title: STYLES[name][0],
      title_zh: STYLES[name][1],
      prompt: "",
      portraits,
      candidates: portraits,
    };
  });
  mkdirSync(join(dir, "lora"), { recursive: true });
  writeFileSync(join(dir, "lora", "portrait.safetensors"), "stand-in LoRA");
  const dropped = DROPPED.map((d) => ({ ...d, detail: d.reason }));
  mkdirSync(join(dir, "photos"), { recursive: true });
  for (const file of photos)
    copyFileSync(join(data.datasetDir(job.owner, params.dataset), file), join(dir, "photos", file));
  const kept = photos
    .filter((f) => !dropped.some((d) => d.file === f))
    .map((file) => ({ file, identity: 0.9, face_px: 200 }));
  const result: PortraitResult = {
    out: dir,
    lora: "lora/portrait.safetensors",
    report: "report.html",
    trigger: "dlperson",
    class: "person",
    photos: { imported: photos.length, kept, dropped, rejected: [] },
    training_images: kept.length * 2,
    styles,
    seconds,
    warnings: [],
  };
  await writeReport(dir, result); // the real report.html, with its relative image links
  return result;
}

beforeAll(async () => {
  const built = spawnSync(process.execPath, [join(REPO_ROOT, "scripts", "build-web.mjs")], {
    stdio: "inherit",
  });
  if (built.status !== 0)
    throw new Error("building the web UI failed (vite build web): see its output above");
  root = mkdtempSync(join(tmpdir(), "danlu-web-portrait-"));
  data = new DataDir(join(root, "data"));
  mkdirSync(data.modelsDir, { recursive: true });
  writeFileSync(join(data.modelsDir, MODEL), "stand-in model");
  await writeSelfies(join(root, "selfies"));
  const token = await addUser(data.root, "mei");
  server = await startServe(["--data", data.root, "--workers", "0"]);
  api = new Api(server.url, token);
  queue = new SqliteJobQueue(data.dbPath);
  worker = queue.startWorker(
    ({ job, reportProgress }) => standIn(job, (stage) => reportProgress({ stage, step: 1, total: 2 })),
    { workerId: "web-portrait-stand-in", pollMs: 50 },
  );
  browser = await launchBrowser();
  page = await browser.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  await signIn(page, server.url, token);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await worker?.close();
  await queue?.close();
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("the portrait page", () => {
  it("uploads the selfies, follows the seven stages and shows the ranked portraits and the photos left out", async () => {
    await page.goto(`${server.url}/portraits`);
    await page.locator("main h1").waitFor();
    await waitForQuiet(page);
    await screenshot(page, "portraits-form");
    for (const size of [DESKTOP, PHONE]) {
      await page.setViewportSize(size);
      await checkA11y(page, `/portraits form at ${size.width} px`);
    }
    await page.setViewportSize(DESKTOP);

    // no style ticked: the message is next to the styles
    const files = readdirSync(join(root, "selfies")).map((f) => join(root, "selfies", f));
    await page.setInputFiles('[data-testid="pt-files"]', files);
    await expect.poll(() => page.getByTestId("pt-picked").innerText()).toContain(`${files.length} files`);
    await page.getByTestId("pt-start").click();
    await page.locator('[data-testid="pt-styles"] [data-testid="field-error"]').waitFor();

    for (const style of Object.keys(STYLES))
      await page.locator(`input[name="styles"][value="${style}"]`).check();
    await page.getByTestId("pt-count").fill("2");

    // more settings: a size the API refuses is named next to its field, then the run's small settings
    await page.locator('[data-testid="pt-advanced"] summary').click();
    await page.getByTestId("pt-width").fill("30");
    await page.getByTestId("pt-start").click();
    await expect.poll(() => page.locator("#pt-width-error").innerText()).toMatch(/64/);
    for (const [field, value] of Object.entries(ADVANCED)) await page.getByTestId(field).fill(value);
    await page.getByTestId("pt-start").click();
    await page.getByTestId("pt-run").waitFor({ timeout: 30_000 });
    expect(new URL(page.url()).searchParams.get("job")).toMatch(/^j/);

    // a stage in progress with its bar, earlier ones done
    await page
      .locator('[data-testid="pt-stages"] li[data-state="now"] progress')
      .first()
      .waitFor({ timeout: 30_000 });
    const nowStage = await page
      .locator('[data-testid="pt-stages"] li[data-state="now"]')
      .getAttribute("data-stage");
    expect(PORTRAIT_STAGES).toContain(nowStage);
    await page.locator('[data-testid="pt-run"][data-state="succeeded"]').waitFor({ timeout: 60_000 });
    await expect.poll(() => page.locator('[data-testid="pt-stages"] li[data-state="done"]').count()).toBe(7);

    for (const style of Object.keys(STYLES)) {
      const box = page.locator(`[data-testid="pt-style"][data-style="${style}"]`);
      await expect.poll(() => box.locator('[data-testid="pt-portrait"] img').count()).toBe(2);
      const scores = await box
        .getByTestId("pt-score")
        .evaluateAll((els) => els.map((el) => Number(el.getAttribute("data-score"))));
      expect(scores).toEqual([0.9, 0.8]);
    }
    const dropped = await page.locator('[data-testid="pt-dropped"] li').evaluateAll((els) =>
      els.map((el) => ({
        file: el.getAttribute("data-file"),
        reason: el.getAttribute("data-reason"),
        text: el.textContent,
      })),
    );
    expect(dropped.map(({ file, reason }) => ({ file, reason }))).toEqual(DROPPED);
    expect(dropped.map((d) => d.text).join("\n")).toMatch(/blurry[\s\S]*group photo[\s\S]*somebody else/);
    await page.getByTestId("pt-timings").waitFor();

    // report.html opens in a new tab with its pictures (job files behind the token) loaded
    const [report] = await Promise.all([
      page.context().waitForEvent("page"),
      page.getByTestId("pt-report").click(),
    ]);
    await report.waitForLoadState();
    await expect.poll(() => report.locator("img").count()).toBe(2 * 2 + files.length);
    await expect
      .poll(() =>
        report
          .locator("img")
          .evaluateAll(
            (imgs) => imgs.filter((img) => !(img as unknown as { naturalWidth: number }).naturalWidth).length,
          ),
      )
      .toBe(0);
    await report.close();

    // the job was queued with the page's settings, on a dataset of the uploaded photos
    const jobId = new URL(page.url()).searchParams.get("job")!;
    const job = await api.json<{ params: Record<string, unknown> }>(`/api/jobs/${jobId}`);
    expect(job.params).toMatchObject({
      model: MODEL,
      styles: ["hanfu", "id_photo"],
      count: 2,
      candidates: 3,
      gen_steps: 2,
      width: 64,
      height: 64,
      seed: 7,
      config: { max_train_steps: 4 },
    });
    const images = await api.json<{ images: unknown[] }>(
      `/api/datasets/${String(job.params.dataset)}/images`,
    );
    expect(images.images).toHaveLength(files.length);

    await screenshot(page, "portraits-done");
    for (const size of [DESKTOP, PHONE]) {
      await page.setViewportSize(size);
      await checkA11y(page, `/portraits results at ${size.width} px`);
      expect(
        await page.evaluate(
          () =>
            (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
              .documentElement.scrollWidth,
        ),
      ).toBeLessThanOrEqual(size.width);
    }
    await page.setViewportSize(DESKTOP);

    // in Chinese: the style titles in Chinese, and no English word left but names and file names
    await page.locator('header select[name="language"]').selectOption("zh");
    await page.locator('html[lang="zh-CN"]').waitFor({ state: "attached" });
    await expect
      .poll(() => page.locator('[data-testid="pt-style"] h3').allInnerTexts())
      .toEqual(["汉服", "证件照"]);
    const text = await page.locator("main").innerText();
    const left = text
      .replace(/[\w.-]+\.(?:png|safetensors|html)\b/g, " ")
      .replace(/\bj[-_][\w-]+\b/g, " ")
      .replace(/\b(?:LoRA|danlu)\b/g, " ")
      .match(/[A-Za-z]{2,}/g);
    expect(left).toBeNull();
    await page.locator('header select[name="language"]').selectOption("en");
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
