// Browser tests drive the system's Chromium (Debian's /usr/bin/chromium) with playwright-core; nothing
// downloads a browser. Helpers: a fresh headless browser, sign-in, screenshots at desktop and phone width,
// and axe-core's accessibility check.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page, type Request } from "playwright-core";
import { REPO_ROOT } from "../src/engine/python.ts";

/** The browser tests use; DANLU_CHROMIUM points at another Chromium build. */
export const CHROMIUM = process.env.DANLU_CHROMIUM ?? "/usr/bin/chromium";

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

/** Where screenshot() writes (gitignored via /.danlu/). */
export const SCREENSHOT_DIR = join(REPO_ROOT, ".danlu", "screenshots");

const ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile (its own --user-data-dir, removed on close). */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser tests need Chromium at ${CHROMIUM}: install it with 'apt-get install chromium' ` +
        "(or set DANLU_CHROMIUM to a Chromium binary).",
    );
  }
  const profile = mkdtempSync(join(tmpdir(), "danlu-chromium-"));
  // Playwright passes the folder as --user-data-dir (it refuses the flag in args)
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: DESKTOP,
    locale: "en-US",
    timezoneId: "UTC",
    reducedMotion: "reduce",
  });
  context.setDefaultTimeout(15_000);
  context.on("page", trackRequests);
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Each page's requests in flight, but event streams (they stay open for as long as a job runs). */
const inFlight = new WeakMap<Page, Set<Request>>();

function trackRequests(page: Page): void {
  const open = new Set<Request>();
  inFlight.set(page, open);
  page.on("request", (request) => {
    if (!new URL(request.url()).pathname.endsWith("/events")) open.add(request);
  });
  page.on("requestfinished", (request) => open.delete(request));
  page.on("requestfailed", (request) => open.delete(request));
}

/**
 * Waits until the page is done loading: no request in flight (event streams aside) for `quietMs`, and no
 * `aria-busy="true"` element left in <main> (given up after `busyMs`: a page may show a lasting busy
 * state, e.g. a running job's). Polls; no fixed sleep.
 */
export async function waitForQuiet(page: Page, { quietMs = 200, timeoutMs = 15_000, busyMs = 3000 } = {}) {
  await page.waitForLoadState("load");
  const open = inFlight.get(page) ?? new Set<Request>();
  const start = Date.now();
  let quietSince = 0;
  for (;;) {
    const busy =
      open.size > 0 ||
      (Date.now() - start < busyMs && (await page.locator('main [aria-busy="true"]').count()) > 0);
    const now = Date.now();
    if (busy) quietSince = 0;
    else if (!quietSince) quietSince = now;
    else if (now - quietSince >= quietMs) return;
    if (now - start > timeoutMs) {
      const urls = [...open].map((request) => request.url()).join(", ");
      throw new Error(
        `${page.url()} did not settle in ${timeoutMs} ms; still loading: ${urls || "aria-busy"}`,
      );
    }
    await page.waitForTimeout(25);
  }
}

/** Opens the UI at `url` and signs in with the token (the sign-in form's input name="token"). */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  const input = page.locator('input[name="token"]');
  await input.fill(token);
  await input.press("Enter");
  await page.locator("header nav").waitFor();
  await waitForQuiet(page);
}

/**
 * `<name>-desktop.png` (1280x800) and `<name>-phone.png` (375x740) of the whole page in
 * .danlu/screenshots/; the page is left at desktop size.
 */
export async function screenshot(page: Page, name: string): Promise<string[]> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const paths: string[] = [];
  for (const [suffix, size] of [
    ["desktop", DESKTOP],
    ["phone", PHONE],
  ] as const) {
    await page.setViewportSize(size);
    const path = join(SCREENSHOT_DIR, `${name}-${suffix}.png`);
    await page.screenshot({ path, fullPage: true, animations: "disabled" });
    paths.push(path);
  }
  await page.setViewportSize(DESKTOP);
  return paths;
}

let axeCode: string | null = null;
const axeSource = () =>
  (axeCode ??= readFileSync(join(REPO_ROOT, "node_modules", "axe-core", "axe.min.js"), "utf8"));

interface AxeResult {
  violations: {
    id: string;
    impact: string | null;
    help: string;
    helpUrl: string;
    nodes: { target: unknown[]; html: string; failureSummary?: string }[];
  }[];
}

/**
 * Runs axe-core (node_modules/axe-core/axe.min.js, evaluated in the page) and throws on serious or
 * critical violations, one line per element: rule, impact, what to fix, where.
 */
export async function checkA11y(page: Page, label = page.url()): Promise<void> {
  // The UI's CSP refuses inline scripts (what page.addScriptTag adds), and it should stay on while the
  // page is checked: the source is evaluated over the DevTools protocol instead, which no CSP governs.
  // (the callbacks run in the page; the Node project has no DOM types, so globalThis stands in for window)
  const injected = await page.evaluate(() => "axe" in globalThis);
  if (!injected) await page.evaluate(axeSource());
  const result = (await page.evaluate(() =>
    (globalThis as unknown as { axe: { run: (options: unknown) => Promise<unknown> } }).axe.run({
      resultTypes: ["violations"],
    }),
  )) as AxeResult;
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (serious.length === 0) return;
  const lines = serious.flatMap((v) =>
    v.nodes.map(
      (node) =>
        `- [${v.impact}] ${v.id}: ${v.help}\n    at ${JSON.stringify(node.target)}: ${node.html.slice(0, 200)}` +
        (node.failureSummary ? `\n    ${node.failureSummary.replace(/\n/g, "\n    ")}` : ""),
    ),
  );
  throw new Error(`axe: ${lines.length} serious/critical violation(s) on ${label}:\n${lines.join("\n")}`);
}
