import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress, formatDuration, formatNumber, formatRate, formatValues } from '../src/runtime/progress.ts';

function fakeStream(isTTY: boolean) {
  const s = { isTTY, columns: 160, text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s;
}
const asStream = (s: ReturnType<typeof fakeStream>) => s as unknown as NodeJS.WriteStream;

test('formatDuration', () => {
  assert.equal(formatDuration(3725), '1h02m05s');
  assert.equal(formatDuration(275), '4m35s');
  assert.equal(formatDuration(42.4), '42s');
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(360000), '100h00m00s');
  assert.equal(formatDuration(NaN), '--');
  assert.equal(formatDuration(Infinity), '--');
});

test('formatRate switches to s/it below 1 it/s', () => {
  assert.equal(formatRate(3.2), '3.2 it/s');
  assert.equal(formatRate(250.4), '250 it/s');
  assert.equal(formatRate(0.25), '4.0 s/it');
  assert.equal(formatRate(0), '-- it/s');
  assert.equal(formatRate(NaN), '-- it/s');
});

test('formatValues: 4 significant digits, compact', () => {
  assert.equal(formatValues({ d_loss: 1.23456, g_loss: 0.987 }), 'd_loss 1.235  g_loss 0.987');
  assert.equal(formatNumber(1234567), '1.235e+6');
  assert.equal(formatNumber(0.0001234), '1.234e-4');
  assert.equal(formatNumber(12.5), '12.5');
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(-2), '-2');
  assert.equal(formatNumber(NaN), 'nan');
  assert.equal(formatNumber(-Infinity), '-inf');
  assert.equal(formatValues({}), '');
});

test('non-TTY: throttled plain lines plus the last step', () => {
  const out = fakeStream(false);
  let t = 0;
  const p = createProgress({ total: 100, stream: asStream(out), now: () => t, plainEverySec: 10 });
  for (let step = 1; step <= 100; step++) {
    t = step * 1000; // 1 it/s
    p.update(step, { d_loss: 0.5, g_loss: 1.25 });
  }
  p.stop();
  const lines = out.text.trimEnd().split('\n');
  assert.deepEqual(
    lines.map((l) => Number(/^step (\d+)\//.exec(l)?.[1])),
    [1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 100],
  );
  assert.equal(lines[1], 'step 11/100  1.0 it/s  ETA 1m29s  d_loss 0.5  g_loss 1.25');
  assert.equal(lines[10], 'step 100/100  1.0 it/s  ETA 0s  d_loss 0.5  g_loss 1.25');
});

test('non-TTY: rate and ETA count only steps since a resume', () => {
  const out = fakeStream(false);
  let t = 0;
  const p = createProgress({ total: 1000, startStep: 500, title: 'dcgan', stream: asStream(out), now: () => t });
  t = 5000;
  p.update(510, { loss: 2 });
  assert.equal(out.text, 'dcgan  step 510/1000  2.0 it/s  ETA 4m05s  loss 2\n');
});

test('non-TTY: a time budget caps the ETA (ganc run --max-minutes)', () => {
  const out = fakeStream(false);
  let t = 0;
  const p = createProgress({ total: 1_000_000, title: 'dcgan', stream: asStream(out), now: () => t, budgetSec: 300 });
  t = 10_000;
  p.update(5, { loss: 2 });
  assert.equal(out.text, 'dcgan  step 5/1000000  2.0 s/it  ETA 4m50s  loss 2\n');
});

test('non-TTY: stop() prints a throttled-away final step; log() prints verbatim', () => {
  const out = fakeStream(false);
  let t = 0;
  const p = createProgress({ total: 50, stream: asStream(out), now: () => t });
  for (const step of [1, 2, 3]) {
    t = step * 500;
    p.update(step, { g: 1 });
  }
  p.log('checkpoint saved');
  p.stop();
  p.stop();
  const lines = out.text.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^step 1\/50 /);
  assert.equal(lines[1], 'checkpoint saved');
  assert.equal(lines[2], 'step 3/50  2.0 it/s  ETA 24s  g 1');
});

test('TTY: a bar with step/total, rate, ETA and values; log lines survive', () => {
  const out = fakeStream(true);
  let t = 0;
  const p = createProgress({ total: 10, stream: asStream(out), now: () => t, title: 'train' });
  t = 2000;
  p.update(4, { d_loss: 0.75 });
  p.log('sample grid written');
  t = 3000;
  p.update(5, { d_loss: 0.5 });
  p.stop();
  assert.match(out.text, /sample grid written\n/);
  assert.match(out.text, /train \[[^\]]*\] 5\/10 \| [\d.]+ it\/s \| ETA \S+ \| d_loss 0\.5/);
  assert.ok(out.text.endsWith('\n'));
});
