/**
 * Browser tests: Debian's chromium driven by playwright-core. Without a browser the tests are skipped with a message
 * saying so (never passed silently); .ci/run installs chromium when it is missing.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { readPng } from '../../src/runtime/pictures.ts';

/** The browser: $GANC_CHROMIUM, else Debian's /usr/bin/chromium. */
export const CHROMIUM = process.env.GANC_CHROMIUM ?? '/usr/bin/chromium';

export const NO_BROWSER = `no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set GANC_CHROMIUM to run the browser tests`;

/** A started headless chromium, or undefined when there is none (the caller skips with NO_BROWSER). */
export async function launchBrowser(): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) return undefined;
  // --no-sandbox: CI containers run as root, where chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** A page that fails the test on any uncaught page error, and logs console errors for the assertion message. */
export async function openPage(browser: Browser, errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  // Loading onnxruntime-web's WASM and starting child processes take many seconds on a busy 2-core machine.
  page.setDefaultTimeout(90_000);
  // tsx compiles the tests with esbuild's keepNames: functions passed to page.evaluate may call its __name helper.
  await page.addInitScript('globalThis.__name = (f) => f;');
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return page;
}

/**
 * Screenshot of the whole page into `dir` (GANC_SCREENSHOTS when set, to keep them), checked not blank: many colours
 * and a fair share of non-white pixels. Returns the file.
 */
export async function screenshot(page: Page, dir: string, name: string): Promise<{ file: string; colours: number; inked: number }> {
  const out = process.env.GANC_SCREENSHOTS ?? dir;
  mkdirSync(out, { recursive: true });
  const file = join(out, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  const img = await readPng(file);
  const colours = new Set<number>();
  let inked = 0;
  for (let i = 0; i < img.rgba.length; i += 4) {
    const [r, g, b] = [img.rgba[i], img.rgba[i + 1], img.rgba[i + 2]];
    colours.add((r << 16) | (g << 8) | b);
    if (r + g + b < 3 * 235) inked++;
  }
  return { file, colours: colours.size, inked: inked / (img.width * img.height) };
}
