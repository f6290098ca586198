/**
 * The board in a real browser (chromium via playwright-core) over runs trained by the test: the run page's chart holds
 * one point per logged step and grows while `ganc run --resume` trains (no reload); the slider shows the chosen step's
 * grid; several runs share a chart; a study shows its report; the playground's images equal onnxruntime-node's for the
 * same z (1e-4), its walks and re-rolls too, and its download is the grid. Each page is screenshotted and must not be
 * blank (GANC_SCREENSHOTS=DIR keeps them).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import type { Browser, Page } from 'playwright-core';
import { exportRun } from '../src/cli/export.ts';
import { createSession } from '../src/runtime/ort.ts';
import { readPng } from '../src/runtime/pictures.ts';
import { readMetrics } from '../src/runtime/run_folder.ts';
import { startBoard, type Board } from '../src/board/server.ts';
import { finished, ganc, logosFixture, show, spawnGanc, tempDir, TINY } from './helpers/logos_fixture.ts';
import { launchBrowser, NO_BROWSER, openPage, screenshot } from './helpers/browser.ts';

const STEPS = 8;
const MORE = 12;
const Z = 100;
const PX = 16;

let root: string;
let shots: string;
let board: Board;
let browser: Browser | undefined;
let page: Page;
const errors: string[] = [];
let logos: string;

const trainArgs = (out: string, steps: number, extra: string[] = []) =>
  ['run', TINY, '--data', logos, '--out', out, '--steps', String(steps), '--sample-every', '4', '--ckpt-every', '4', '--threads', '1', ...extra];

before(async () => {
  ({ logos } = await logosFixture());
  root = await tempDir('board-page');
  shots = await tempDir('board-shots');
  const [a, b] = await Promise.all([ganc(trainArgs(join(root, 'a'), STEPS)), ganc(trainArgs(join(root, 'b'), 6, ['--seed', '3']))]);
  assert.equal(a.code, 0, show(a));
  assert.equal(b.code, 0, show(b));
  // A study folder as ganc study lays it out: DIR/<model>/seed-<s>/ runs, report.html, study.json, evals.jsonl per run.
  const run = join(root, 'study1', 'tiny-dcgan', 'seed-0');
  mkdirSync(run, { recursive: true });
  cpSync(join(root, 'b'), run, { recursive: true });
  // evals.jsonl rows as ganc run --eval-every writes them (SWD per level and average ×1e3, MS-SSIM, seconds).
  writeFileSync(join(run, 'evals.jsonl'), [3, 6].map((step) => JSON.stringify({ step, time: step, swd: [210, 190 - step], swdAvg: 200 - step, msssim: 0.2 + step / 100, evalSeconds: 1.5 })).join('\n') + '\n');
  writeFileSync(join(root, 'study1', 'study.json'), JSON.stringify({ models: ['tiny-dcgan'], seeds: [0] }));
  writeFileSync(join(root, 'study1', 'report.html'), '<!doctype html><title>study</title><h1>Study report of tiny-dcgan</h1><p>SWD 194.0</p>');
  board = await startBoard({ dir: root, port: 0, pollMs: 200 });
  browser = await launchBrowser();
  if (browser) page = await openPage(browser, errors);
});

after(async () => {
  await browser?.close();
  await board?.close();
});

const go = async (hash: string) => {
  await page.goto(`${board.url}#/${hash}`);
  await page.waitForFunction(() => (globalThis as any).gancBoard?.ready === true);
};
const counts = (name: string) => page.evaluate((n) => (globalThis as any).gancBoard.charts.get(n)?.counts() ?? {}, name);
const noErrors = () => assert.deepEqual(errors.splice(0), [], 'no page errors');

describe('ganc board in chromium', () => {
  test('the run list names both runs and the study', async (t) => {
    if (!browser) return t.skip(NO_BROWSER);
    await go('');
    await page.waitForSelector('text=study1');
    const text = await page.textContent('main');
    for (const s of ['a', 'b', 'study1/tiny-dcgan/seed-0', 'tiny-dcgan', `${STEPS} / ${STEPS}`]) assert.ok(text!.includes(s), `list shows ${s}: ${text}`);
    const shot = await screenshot(page, shots, 'list');
    assert.ok(shot.colours > 20 && shot.inked > 0.01, `list screenshot is not blank (${JSON.stringify(shot)})`);
    noErrors();
  });

  test(`run page: ${STEPS} steps → ${STEPS} points; rows of a resumed run appear live; the slider shows the chosen grid`, async (t) => {
    if (!browser) return t.skip(NO_BROWSER);
    await go('run?path=a');
    await page.waitForFunction(() => (globalThis as any).gancBoard.charts.get('loss')?.counts().d_loss > 0);
    assert.deepEqual(await counts('loss'), { d_loss: STEPS, g_loss: STEPS });
    await page.evaluate(() => ((globalThis as any).notReloaded = true));

    const resumed = finished(await spawnGanc(trainArgs(join(root, 'a'), MORE, ['--resume'])));
    await page.waitForFunction((n) => (globalThis as any).gancBoard.charts.get('loss').counts().d_loss === n, MORE, { timeout: 120000 });
    const r = await resumed;
    assert.equal(r.code, 0, show(r));
    assert.equal(await page.evaluate(() => (globalThis as any).notReloaded), true, 'updated without a reload');
    await page.waitForFunction((n) => document.querySelector('main p.note')?.textContent?.includes(`step ${n} of ${n}`), MORE);
    const rows = readMetrics(join(root, 'a', 'metrics.jsonl'));
    const drawn = await page.evaluate(() => (globalThis as any).gancBoard.charts.get('loss').view.data('rows').filter((r: any) => r.series === 'd_loss').map((r: any) => [r.step, r.value]));
    assert.deepEqual(drawn, rows.map((x) => [x.step, x.d_loss]), 'the chart holds the logged values');

    // New grids joined the slider (followed to the latest); moving it shows step 4's grid, pixel for pixel.
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#sample-image')?.dataset.step === '12');
    assert.equal(await page.getAttribute('#sample-slider', 'max'), '2');
    await page.$eval('#sample-slider', (el: HTMLInputElement) => {
      el.value = '0';
      el.dispatchEvent(new Event('input'));
    });
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('#sample-image')!;
      return img.dataset.step === '4' && img.complete && img.naturalWidth > 0;
    });
    assert.match((await page.textContent('#sample-step'))!, /^step 4 \(1 of 3\)/);
    const shown = await page.$eval('#sample-image', (img: HTMLImageElement) => {
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      return { w: c.width, h: c.height, data: Array.from(ctx.getImageData(0, 0, c.width, c.height).data) };
    });
    const file = await readPng(join(root, 'a', 'samples', 'step_000004.png'));
    assert.equal(shown.w, file.width);
    assert.deepEqual(Uint8Array.from(shown.data), file.rgba, 'the image shown is step 4\'s grid');
    const box = await page.$eval('#sample-image', (img) => img.getBoundingClientRect().width);
    assert.ok(box >= 400, `the grid is shown large (${box} px wide), not as a thumbnail`);
    const shot = await screenshot(page, shots, 'run');
    assert.ok(shot.colours > 50 && shot.inked > 0.05, `run screenshot is not blank (${JSON.stringify(shot)})`);
    noErrors();
  });

  test('compare: two runs on one chart per loss', async (t) => {
    if (!browser) return t.skip(NO_BROWSER);
    await go('compare?path=a&path=b');
    await page.waitForFunction(() => Object.keys((globalThis as any).gancBoard.charts.get('d_loss')?.counts() ?? {}).length === 2);
    assert.deepEqual(await counts('d_loss'), { 'a: d_loss': MORE, 'b: d_loss': 6 });
    assert.deepEqual(await counts('g_loss'), { 'a: g_loss': MORE, 'b: g_loss': 6 });
    const shot = await screenshot(page, shots, 'compare');
    assert.ok(shot.colours > 20 && shot.inked > 0.02, `compare screenshot is not blank (${JSON.stringify(shot)})`);
    noErrors();
  });

  test('study: its report and its runs\' losses and eval figures along training', async (t) => {
    if (!browser) return t.skip(NO_BROWSER);
    await go('study?path=study1');
    await page.waitForFunction(() => (globalThis as any).gancBoard.charts.get('eval swdAvg')?.counts());
    const frame = page.frameLocator('iframe.report');
    assert.equal(await frame.locator('h1').textContent(), 'Study report of tiny-dcgan');
    assert.deepEqual(await counts('eval swdAvg'), { 'study1/tiny-dcgan/seed-0: eval swdAvg': 2 });
    assert.deepEqual(await counts('eval msssim'), { 'study1/tiny-dcgan/seed-0: eval msssim': 2 });
    assert.ok(!(await page.evaluate(() => (globalThis as any).gancBoard.charts.has('eval evalSeconds'))), 'evaluation time is not a figure');
    assert.deepEqual(await counts('d_loss'), { 'study1/tiny-dcgan/seed-0: d_loss': 6 });
    const shot = await screenshot(page, shots, 'study');
    assert.ok(shot.colours > 20 && shot.inked > 0.02, `study screenshot is not blank (${JSON.stringify(shot)})`);
    // The study's run on its own page: its evaluations along training beside its losses.
    await go(`run?path=${encodeURIComponent('study1/tiny-dcgan/seed-0')}`);
    await page.waitForFunction(() => (globalThis as any).gancBoard.charts.get('eval msssim')?.counts().msssim === 2);
    assert.deepEqual(await counts('eval swdAvg'), { swdAvg: 2 });
    noErrors();
  });

  test('playground: the page\'s images equal onnxruntime-node\'s for the same z (1e-4); walk, re-roll, download', async (t) => {
    if (!browser) return t.skip(NO_BROWSER);
    await go('play?run=a');
    await page.waitForFunction(() => (globalThis as any).gancBoard.play?.images?.length > 0, null, { timeout: 60000 });
    const session = await createSession(await exportRun(join(root, 'a'), join(shots, 'generator.onnx')), { threads: 1 });
    const node = async (z: Float32Array, n: number) => {
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', z, [n, Z]) });
      return out[session.outputNames[0]].data as Float32Array;
    };
    const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      assert.equal(a.length, b.length);
      let m = 0;
      for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
      return m;
    };
    const play = () => page.evaluate(() => {
      const p = (globalThis as any).gancBoard.play;
      return { z: Array.from(p.z as Float32Array), images: Array.from(p.images as Float32Array), walk: p.walk && { z: Array.from(p.walk.z as Float32Array), images: Array.from(p.walk.images as Float32Array) } };
    });
    let s = await play();
    assert.equal(s.images.length, 64 * 3 * PX * PX);
    const grid = maxDiff(s.images, await node(Float32Array.from(s.z), 64));
    assert.ok(grid < 1e-4, `grid: max |web − node| = ${grid}`);

    await page.click('#tiles .tile:nth-child(1) canvas');
    await page.click('#tiles .tile:nth-child(6) canvas');
    await page.waitForFunction(() => (globalThis as any).gancBoard.play.walk);
    s = await play();
    const walkZ = Float32Array.from(s.walk!.z);
    assert.ok(maxDiff(walkZ.subarray(0, Z), s.z.slice(0, Z)) < 1e-6, 'the walk starts at the first image');
    assert.ok(maxDiff(walkZ.subarray(9 * Z), s.z.slice(5 * Z, 6 * Z)) < 1e-6, 'and ends at the second');
    const mid = s.z.slice(0, Z).map((v, i) => v + (s.z[5 * Z + i] - v) * (4 / 9));
    assert.ok(maxDiff(walkZ.subarray(4 * Z, 5 * Z), mid) < 1e-6, 'uniform noise: a straight line');
    const walk = maxDiff(s.walk!.images, await node(walkZ, 10));
    assert.ok(walk < 1e-4, `walk: max |web − node| = ${walk}`);

    const before = s.z.slice(2 * Z, 3 * Z);
    await page.click('#tiles .tile:nth-child(3) button.reroll');
    await page.waitForFunction((b) => (globalThis as any).gancBoard.play.z[200] !== b, before[0]);
    s = await play();
    assert.ok(maxDiff(s.z.slice(2 * Z, 3 * Z), before) > 0.01, 're-rolled z');
    const rerolled = maxDiff(s.images, await node(Float32Array.from(s.z), 64));
    assert.ok(rerolled < 1e-4, `after re-roll: max |web − node| = ${rerolled}`);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const saved = join(shots, 'download.png');
    await download.saveAs(saved);
    const png = await readPng(saved);
    assert.equal(png.width, 8 * PX + 9 * 2);
    assert.equal(png.height, 8 * PX + 9 * 2);
    const shot = await screenshot(page, shots, 'playground');
    assert.ok(shot.colours > 50 && shot.inked > 0.05, `playground screenshot is not blank (${JSON.stringify(shot)})`);
    noErrors();
  });
});
