// The dataset gallery's smoothness at 1,000 images (BENCHMARKS.md "Web UI: gallery at 1,000 images"): a
// real `danlu serve --workers 0`, a dataset of generated 96x96 images uploaded as one zip, and the
// system's headless Chromium (test/browser.ts). For each viewport: the time from navigation to the first
// tile and to the first screen of thumbnails, then a scroll from top to bottom by `--step` px every
// animation frame, with the frame times (requestAnimationFrame deltas), the tiles in the DOM, the
// thumbnails fetched and the JS heap. It measures; it passes or fails nothing.
//   npx tsx bench/web/gallery.ts [--images 1000] [--step 100]
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Page } from "playwright-core";
import { REPO_ROOT } from "../../src/engine/python.ts";
import { CHROMIUM, DESKTOP, launchBrowser, PHONE, signIn, waitForQuiet } from "../../test/browser.ts";
import { galleryName, seedGallery } from "../../test/gallery-seed.ts";
import { addUser, Api, startServe } from "../../test/serve.ts";

const { values: args } = parseArgs({
  options: {
    images: { type: "string", default: "1000" },
    step: { type: "string", default: "100" },
  },
});
const COUNT = Number(args.images);
const STEP = Number(args.step);
const TILE = '[data-testid="gallery-tile"]';
/** A frame longer than this is a dropped frame here (three 60 Hz frames missed). */
const DROPPED_MS = 50;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

/** The page's DOM types, the few used in page.evaluate (the Node project has no DOM lib). */
interface PageGlobal {
  innerHeight: number;
  scrollY: number;
  scrollTo(x: number, y: number): void;
  requestAnimationFrame(callback: (now: number) => void): void;
  document: {
    scrollingElement: { scrollHeight: number };
    querySelectorAll(selector: string): { length: number };
    getElementsByTagName(name: string): { length: number };
  };
  __firstTile?: number;
}

async function heapUsed(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send("HeapProfiler.collectGarbage");
    const { usedSize } = await cdp.send("Runtime.getHeapUsage");
    return usedSize;
  } finally {
    await cdp.detach();
  }
}

interface ScrollRun {
  frames: number[];
  maxTiles: number;
  endTiles: number;
  domNodes: number;
  scrolledPx: number;
}

/** Scrolls by `step` px each animation frame from the top to the bottom; the frames' times and the DOM. */
function scrollRun(page: Page, step: number): Promise<ScrollRun> {
  return page.evaluate(
    async ({ selector, step }) => {
      const w = globalThis as unknown as PageGlobal;
      // (no named function here: tsx's keepNames would wrap it in a __name() the page does not have)
      const raf = w.requestAnimationFrame.bind(w);
      w.scrollTo(0, 0);
      await new Promise<number>(raf);
      await new Promise<number>(raf);
      const frames: number[] = [];
      let maxTiles = 0;
      let last = await new Promise<number>(raf);
      // the grid's height is estimated until rows are measured: the end is where scrolling stops moving
      for (let still = 0; still < 3;) {
        const before = w.scrollY;
        w.scrollTo(0, before + step);
        const now = await new Promise<number>(raf);
        frames.push(now - last);
        last = now;
        maxTiles = Math.max(maxTiles, w.document.querySelectorAll(selector).length);
        still = w.scrollY === before ? still + 1 : 0;
      }
      return {
        frames,
        maxTiles,
        endTiles: w.document.querySelectorAll(selector).length,
        domNodes: w.document.getElementsByTagName("*").length,
        scrolledPx: w.scrollY,
      };
    },
    { selector: TILE, step },
  );
}

async function main() {
  const built = spawnSync(process.execPath, [join(REPO_ROOT, "scripts", "build-web.mjs")], {
    stdio: "inherit",
  });
  if (built.status !== 0) throw new Error("building the web UI failed");
  const root = mkdtempSync(join(tmpdir(), "danlu-bench-gallery-"));
  const data = join(root, "data");
  mkdirSync(data, { recursive: true });
  const token = await addUser(data, "bench");
  const server = await startServe(["--data", data, "--workers", "0"]);
  const browser = await launchBrowser();
  try {
    const started = performance.now();
    const imported = await seedGallery(new Api(server.url, token), "gallery", COUNT);
    if (imported !== COUNT) throw new Error(`imported ${imported} of ${COUNT} images`);
    const version = spawnSync(CHROMIUM, ["--version"], { encoding: "utf8" }).stdout.trim();
    console.log(
      `node ${process.version}, ${version} headless, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ` +
        `${new Date().toISOString().slice(0, 10)}`,
    );
    console.log(
      `${COUNT} images of 96x96 generated and uploaded as one zip in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `scroll step ${STEP} px per frame`,
    );
    const page = await browser.newPage();
    await page.addInitScript((selector) => {
      // when the first gallery tile enters the DOM, in the page's clock (0 = navigation start)
      const w = globalThis as unknown as PageGlobal & {
        MutationObserver: new (callback: () => void) => {
          observe(target: unknown, options: unknown): void;
          disconnect(): void;
        };
        performance: { now(): number };
      };
      const observer = new w.MutationObserver(() => {
        if (w.document.querySelectorAll(selector).length > 0) {
          w.__firstTile = w.performance.now();
          observer.disconnect();
        }
      });
      observer.observe(w.document, { childList: true, subtree: true });
    }, TILE);
    let thumbs = 0;
    page.on("request", (request) => {
      if (new URL(request.url()).pathname.endsWith("/thumb")) thumbs += 1;
    });
    await signIn(page, server.url, token);
    for (const [label, size] of [
      ["desktop 1280x800", DESKTOP],
      ["phone 375x740", PHONE],
    ] as const) {
      await page.setViewportSize(size);
      await page.goto("about:blank");
      thumbs = 0;
      await page.goto(`${server.url}/datasets/gallery?tab=gallery`);
      await page.locator(`${TILE}[data-file="${galleryName(0)}"]`).waitFor();
      const firstTile = await page.evaluate(() => (globalThis as unknown as PageGlobal).__firstTile ?? NaN);
      // the first screen's thumbnails: every tile in the DOM shows its image
      await page.waitForFunction((selector) => {
        const d = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<object> } })
          .document;
        return d.querySelectorAll(`${selector} img`).length === d.querySelectorAll(selector).length;
      }, TILE);
      const firstScreen = await page.evaluate(() => performance.now());
      await waitForQuiet(page);
      const startTiles = await page.locator(TILE).count();
      const startThumbs = thumbs;
      const heapBefore = await heapUsed(page);
      const run = await scrollRun(page, STEP);
      await waitForQuiet(page);
      const heapAfter = await heapUsed(page);
      const lastShown = await page.locator(`${TILE}[data-file="${galleryName(COUNT - 1)}"]`).count();
      const frames = run.frames;
      const dropped = frames.filter((frame) => frame > DROPPED_MS).length;
      console.log(`\n${label}`);
      console.log(`  first tile in the DOM: ${ms(firstTile)} after navigation start`);
      console.log(
        `  first screen of thumbnails shown: ${ms(firstScreen)} (${startTiles} tiles, ${startThumbs} thumbnails)`,
      );
      console.log(
        `  scroll ${run.scrolledPx} px in ${frames.length} frames: frame time median ${ms(percentile(frames, 50))}, ` +
          `p95 ${ms(percentile(frames, 95))}, max ${ms(Math.max(...frames))}, ${dropped} over ${DROPPED_MS} ms`,
      );
      console.log(
        `  tiles in the DOM: at most ${run.maxTiles} while scrolling, ${run.endTiles} at the end ` +
          `(last image shown: ${lastShown === 1 ? "yes" : "no"}); ${run.domNodes} DOM elements in all`,
      );
      console.log(
        `  thumbnails fetched: ${startThumbs} for the first screen, ${thumbs} in all after the scroll`,
      );
      console.log(`  JS heap (after GC): ${mib(heapBefore)} before the scroll, ${mib(heapAfter)} after`);
    }
  } finally {
    await browser.close();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
