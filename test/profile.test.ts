/**
 * The per-op summary of ORT's profiler (bench/ganc_iter.ts --profile): a Scan's own time already holds its body's
 * nodes, which ORT reports again one by one, so the summary counts the body and leaves the Scan out. Fixture: an
 * excerpt of a real profile (32 px width 32 D step, onnxruntime-node 1.29): a weight-gradient Scan, its 16 body nodes
 * and the nodes around it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { opTimes, type TraceEvent } from '../src/runtime/profile.ts';

const events = JSON.parse(readFileSync(new URL('./fixtures/ort-profile-scan.json', import.meta.url), 'utf8')) as TraceEvent[];
const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
const scan = kernels.find((e) => e.args?.op_name === 'Scan')!;
const body = kernels.filter((e) => e.name.startsWith('wgrad0/'));

test('the fixture is what the summary must handle: a Scan whose time is its body nodes, reported again', () => {
  assert.equal(body.length, 16);
  const bodyUs = body.reduce((s, e) => s + e.dur, 0);
  assert.ok(bodyUs <= scan.dur && bodyUs > 0.9 * scan.dur, `body ${bodyUs} µs, Scan ${scan.dur} µs`);
});

test('opTimes counts each kernel once: the Scan out, its body nodes in', () => {
  const rows = opTimes([events]);
  assert.equal(rows.find((r) => r.op === 'Scan'), undefined);
  const gemm = rows.find((r) => r.op === 'Gemm')!;
  const bodyGemms = body.filter((e) => e.args?.op_name === 'Gemm');
  assert.equal(gemm.calls, bodyGemms.length);
  assert.equal(gemm.ms, bodyGemms.reduce((s, e) => s + e.dur, 0) / 1000);
  const expectedUs = kernels.filter((e) => e !== scan).reduce((s, e) => s + e.dur, 0);
  assert.ok(Math.abs(rows.reduce((s, r) => s + r.ms, 0) - expectedUs / 1000) < 1e-9);
  assert.ok(Math.abs(rows.reduce((s, r) => s + r.share, 0) - 1) < 1e-12);
  assert.deepEqual(rows.map((r) => r.ms), [...rows.map((r) => r.ms)].sort((p, q) => q - p));
});

test("opTimes' excess: each call's time above the fastest call of its op on the same input shapes", () => {
  const rows = opTimes([events]);
  const key = (e: TraceEvent) => `${e.args?.op_name} ${JSON.stringify(e.args?.input_type_shape)}`;
  const muls = kernels.filter((e) => e.args?.op_name === 'Mul');
  const best = new Map<string, number>();
  for (const e of muls) best.set(key(e), Math.min(best.get(key(e)) ?? Infinity, e.dur));
  const mul = rows.find((r) => r.op === 'Mul')!;
  assert.equal(mul.excessMs, muls.reduce((s, e) => s + e.dur - best.get(key(e))!, 0) / 1000);
  assert.ok(best.size < muls.length, 'some Mul shapes occur more than once');
  assert.ok(mul.excessMs > 0 && mul.excessMs < mul.ms);
  // An op called once per shape has no excess.
  const conv = rows.find((r) => r.op === 'Conv')!;
  assert.equal(conv.calls, 1);
  assert.equal(conv.excessMs, 0);
});
