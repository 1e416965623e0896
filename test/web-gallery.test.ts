// The dataset gallery at 1,000 images (#9: "a virtualised grid that stays smooth at 1,000 images"), in
// the system's Chromium against a real `danlu serve --workers 0`: the page counts all 1,000, the DOM holds
// only a window of tiles at desktop and phone width (also at every step of a scroll from top to bottom),
// the end of the list is reachable and the start leaves the DOM, tiles do not move when their thumbnails
// arrive, and thumbnails are fetched only for the tiles on screen. Smoothness in numbers (frame times) is
// bench/web/gallery.ts's, not a test's: this file asserts no timings.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/engine/python.ts";
import { DESKTOP, launchBrowser, PHONE, signIn, waitForQuiet, type TestBrowser } from "./browser.ts";
import { galleryName, seedGallery } from "./gallery-seed.ts";
import { addUser, Api, startServe, type ServeProcess } from "./serve.ts";

const DATASET = "thousand";
const COUNT = 1000;
/** Tiles the DOM may hold at once: a few screens' worth, nowhere near the 1,000 images. */
const MAX_TILES = 150;
const TILE = '[data-testid="gallery-tile"]';
const FIRST = galleryName(0);
const LAST = galleryName(COUNT - 1);

let root = "";
let server: ServeProcess;
let browser: TestBrowser;
let page: Page;
/** Thumbnail requests the page made since the last openGallery(). */
let thumbRequests: string[] = [];
const pageErrors: string[] = [];

/** The page's DOM, the little of it used in page.evaluate (the Node project has no DOM types). */
interface PageGlobal {
  innerHeight: number;
  scrollY: number;
  scrollTo(x: number, y: number): void;
  requestAnimationFrame(callback: () => void): void;
  document: {
    scrollingElement: { scrollHeight: number };
    querySelectorAll(s: string): ArrayLike<{ getBoundingClientRect(): { top: number; bottom: number } }>;
  };
}

const tile = (file: string) => page.locator(`${TILE}[data-file="${file}"]`);
const tileCount = () => page.locator(TILE).count();

/** Whether the image's tile is in the DOM and wholly inside the viewport. */
async function onScreen(file: string): Promise<boolean> {
  const box = await tile(file).boundingBox();
  const size = page.viewportSize();
  if (!box || !size) return false;
  return box.y >= 0 && box.x >= 0 && box.y + box.height <= size.height && box.x + box.width <= size.width;
}

beforeAll(async () => {
  const built = spawnSync(process.execPath, [join(REPO_ROOT, "scripts", "build-web.mjs")], {
    stdio: "inherit",
  });
  if (built.status !== 0)
    throw new Error("building the web UI failed (vite build web): see its output above");
  root = mkdtempSync(join(tmpdir(), "danlu-web-gallery-"));
  const data = join(root, "data");
  mkdirSync(data, { recursive: true });
  const token = await addUser(data, "mei");
  server = await startServe(["--data", data, "--workers", "0"]);
  const imported = await seedGallery(new Api(server.url, token), DATASET, COUNT);
  expect(imported).toBe(COUNT);
  browser = await launchBrowser();
  page = await browser.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${page.url()}: ${error.message}`));
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.endsWith("/thumb")) thumbRequests.push(request.url());
  });
  await signIn(page, server.url, token);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  pageErrors.length = 0;
});

/** Opens the dataset's gallery at `size`, with no thumbnail request counted yet. */
async function openGallery(size: { width: number; height: number }): Promise<void> {
  await page.setViewportSize(size);
  await page.goto("about:blank");
  thumbRequests = [];
  await page.goto(`${server.url}/datasets/${DATASET}?tab=gallery`);
  await tile(FIRST).waitFor();
}

/** Scrolls the window to the bottom until the last image's tile is there (row heights settle as measured). */
async function scrollToEnd(): Promise<void> {
  await expect
    .poll(
      async () => {
        await page.evaluate(() => {
          const w = globalThis as unknown as PageGlobal;
          w.scrollTo(0, w.document.scrollingElement.scrollHeight);
        });
        return tile(LAST).count();
      },
      { timeout: 15_000 },
    )
    .toBe(1);
}

/**
 * Scrolls from the top to the bottom one viewport at a time, in the page, and returns the most tiles the
 * DOM held at any step and the steps at which no tile was on screen.
 */
function scrollInSteps(): Promise<{ steps: number; maxTiles: number; blank: number[] }> {
  return page.evaluate(async (selector) => {
    const w = globalThis as unknown as PageGlobal;
    // (no named function in here: a transform's keepNames would wrap it in a __name() the page lacks)
    const raf = w.requestAnimationFrame.bind(w);
    let maxTiles = 0;
    let steps = 0;
    const blank: number[] = [];
    w.scrollTo(0, 0);
    await new Promise<void>(raf);
    for (;;) {
      const tiles = Array.from(w.document.querySelectorAll(selector));
      maxTiles = Math.max(maxTiles, tiles.length);
      const onScreen = tiles.some((t) => {
        const box = t.getBoundingClientRect();
        return box.bottom > 0 && box.top < w.innerHeight;
      });
      // the page above the grid (title, tabs, toolbar) has no tiles on the first screen at phone width
      if (!onScreen && w.scrollY > 0) blank.push(steps);
      if (w.scrollY + w.innerHeight >= w.document.scrollingElement.scrollHeight - 1) break;
      w.scrollTo(0, w.scrollY + w.innerHeight);
      steps += 1;
      await new Promise<void>(raf);
      await new Promise<void>(raf);
    }
    return { steps, maxTiles, blank };
  }, TILE);
}

describe("dataset gallery at 1,000 images", () => {
  it("counts all 1,000 and puts only a window of tiles in the DOM, fetching only their thumbnails (desktop)", async () => {
    await openGallery(DESKTOP);
    await expect.poll(() => page.getByTestId("tab-gallery").textContent()).toContain(`(${COUNT})`);
    await expect
      .poll(() => page.getByTestId("dataset-summary").textContent())
      .toMatch(new RegExp(`^${COUNT} images`));
    await waitForQuiet(page);
    const tiles = await tileCount();
    expect(tiles).toBeGreaterThan(0);
    expect(tiles).toBeLessThan(MAX_TILES);
    // thumbnails for the tiles there are, at most: none for the 1,000 - tiles not in the DOM
    expect(thumbRequests.length).toBeGreaterThan(0);
    expect(thumbRequests.length).toBeLessThanOrEqual(tiles);
    expect(thumbRequests.some((url) => url.includes(encodeURIComponent(LAST)))).toBe(false);

    await scrollToEnd();
    expect(await onScreen(LAST)).toBe(true);
    expect(await tile(FIRST).count()).toBe(0);
    expect(await tileCount()).toBeLessThan(MAX_TILES);
    await waitForQuiet(page);
    // a jump to the end fetches the end's thumbnails, not the 1,000 it passed
    expect(thumbRequests.some((url) => url.includes(encodeURIComponent(LAST)))).toBe(true);
    expect(thumbRequests.length).toBeLessThan(COUNT / 5);
    expect(pageErrors).toEqual([]);
  });

  it("does not move a tile when its thumbnail arrives", async () => {
    // hold every thumbnail back until the tiles' boxes are measured without them
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const isThumb = (url: URL) => url.pathname.endsWith("/thumb");
    await page.route(isThumb, async (route) => {
      await held;
      await route.continue();
    });
    try {
      await openGallery(DESKTOP);
      const files = await page
        .locator(TILE)
        .evaluateAll((tiles) => tiles.map((t) => t.getAttribute("data-file") ?? ""));
      expect(files.length).toBeGreaterThan(0);
      const boxes = async () => {
        const out: Record<string, unknown> = {};
        for (const file of files) out[file] = await tile(file).boundingBox();
        out.grid = await page.getByTestId("gallery-grid").boundingBox();
        return out;
      };
      expect(await page.locator(`${TILE} img`).count()).toBe(0);
      const before = await boxes();
      release();
      // every tile on screen shows its thumbnail, decoded
      await expect
        .poll(() =>
          page
            .locator(`${TILE} img`)
            .evaluateAll(
              (images) =>
                images.filter(
                  (i) => (i as unknown as { complete: boolean; naturalWidth: number }).naturalWidth > 0,
                ).length,
            ),
        )
        .toBe(files.length);
      expect(await boxes()).toEqual(before);
    } finally {
      release();
      await page.unroute(isThumb);
    }
  });

  it("keeps the DOM bounded at every step of a scroll to the end, at phone width", async () => {
    await openGallery(PHONE);
    expect(await page.getByTestId("gallery-grid").getAttribute("data-columns")).toBe("2");
    expect(await tileCount()).toBeLessThan(MAX_TILES);
    const run = await scrollInSteps();
    // 500 rows of two tiles are many screens: the walk went through all of them
    expect(run.steps).toBeGreaterThan(50);
    expect(run.maxTiles).toBeLessThan(MAX_TILES);
    expect(run.blank).toEqual([]);
    await scrollToEnd();
    expect(await onScreen(LAST)).toBe(true);
    expect(await tile(FIRST).count()).toBe(0);
    await waitForQuiet(page);
    // the walk fetched thumbnails only for tiles it stayed on, not every one it passed
    expect(thumbRequests.length).toBeLessThan(COUNT);
    expect(pageErrors).toEqual([]);
  });
});
