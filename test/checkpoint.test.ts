/**
 * Checkpoint files: what is written reads back; the previous checkpoint is kept beside the current one; a file cut
 * short, garbled or not a checkpoint is named damaged in one line (not a typed-array error); the newest intact one is
 * found; a full disk leaves no partial file and one line saying what is safe; a save stopped between any two of its
 * file operations (as by kill -9) leaves an intact checkpoint that the next save rotates normally.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import {
  CheckpointDamaged, checkpointIo, type CheckpointMeta, formatBytes, previousOf, readCheckpoint, readCheckpointMeta, readLatestCheckpoint, writeCheckpoint,
} from '../src/runtime/checkpoint.ts';
import { GancError } from '../src/errors.ts';
import { StateStore } from '../src/runtime/state.ts';

const meta = (step: number): CheckpointMeta => ({
  version: 1, model: 'm', modelHash: 'h', step, rng: { noise: [1, 2, 3, 4] }, data: { epoch: 0, pos: step }, time: '2026-01-01T00:00:00Z',
});

/** A state whose values depend on the step, so a checkpoint's contents say which save they came from. */
function state(step: number): StateStore {
  const s = new StateStore();
  s.tensors.set('g/w', new ort.Tensor('float32', Float32Array.from({ length: 3000 }, (_, i) => step + i / 7), [30, 100]));
  s.tensors.set('d/b', new ort.Tensor('float32', Float32Array.from({ length: 5 }, (_, i) => -step - i), [5]));
  return s;
}

function folder(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ganc-ckpt-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return { dir, file: join(dir, 'checkpoint.bin') };
}

function assertHolds(file: string, step: number) {
  const c = readCheckpoint(file);
  assert.equal(c.meta.step, step);
  assert.deepEqual(c.tensors.get('g/w')!.data, state(step).data('g/w'));
  assert.deepEqual(c.tensors.get('d/b')!.dims, [5]);
}

/** The message a damaged file gets: one line naming the file, no internal error. */
function damaged(file: string, reason: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof CheckpointDamaged, String(e));
    assert.match(e.line, new RegExp(`^${file}: the checkpoint is damaged \\(`));
    assert.match(e.reason, reason);
    assert.doesNotMatch(e.line, /Float32Array|\n/);
    return true;
  };
}

test('write, read back, and rotation: the previous checkpoint is kept as checkpoint.prev.bin', () => {
  const { dir, file } = folder();
  writeCheckpoint(file, meta(1), state(1));
  assertHolds(file, 1);
  assert.ok(!existsSync(previousOf(file)));
  writeCheckpoint(file, meta(2), state(2));
  writeCheckpoint(file, meta(3), state(3));
  assertHolds(file, 3);
  assertHolds(join(dir, 'checkpoint.prev.bin'), 2);
  assert.deepEqual(readdirSync(dir).sort(), ['checkpoint.bin', 'checkpoint.prev.bin']);
  assert.equal(readCheckpointMeta(file)!.step, 3);
});

test('a checkpoint cut short, garbled or foreign is damaged, in one line naming the file', () => {
  const { dir, file } = folder();
  writeCheckpoint(file, meta(4), state(4));
  const size = statSync(file).size;
  const cut = join(dir, 'cut.bin');
  // Cut anywhere: in the middle of the tensors, one float short, on a float boundary, in the header.
  for (const at of [Math.floor(size / 2) + 1, size - 4, size - 32, 13, 5]) {
    copyFileSync(file, cut);
    truncateSync(cut, at);
    assert.throws(() => readCheckpoint(cut), damaged(cut, new RegExp(`^cut short: ${formatBytes(at)}`)), `cut at ${at}`);
  }
  const flipped = join(dir, 'flipped.bin');
  const bytes = readFileSync(file);
  bytes[size - 1000] ^= 0x10;
  writeFileSync(flipped, bytes);
  assert.throws(() => readCheckpoint(flipped), damaged(flipped, /contents do not match their SHA-256 checksum/));
  const longer = join(dir, 'longer.bin');
  writeFileSync(longer, Buffer.concat([readFileSync(file), Buffer.alloc(8)]));
  assert.throws(() => readCheckpoint(longer), damaged(longer, /not the .* written/));
  const foreign = join(dir, 'foreign.bin');
  writeFileSync(foreign, Buffer.alloc(4096, 7));
  assert.throws(() => readCheckpoint(foreign), damaged(foreign, /not a ganc checkpoint/));
});

test('the first format (GANCCKPT, no checksum) still reads, and is damaged when cut short', () => {
  const { dir } = folder();
  const header = Buffer.from(JSON.stringify({ ...meta(9), tensors: [{ name: 'g/w', shape: [2, 2], offset: 0 }] }));
  const pre = Buffer.alloc(12);
  pre.write('GANCCKPT', 0, 'latin1');
  pre.writeUInt32LE(header.length, 8);
  const v1 = join(dir, 'v1.bin');
  writeFileSync(v1, Buffer.concat([pre, header, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)]));
  const c = readCheckpoint(v1);
  assert.equal(c.meta.step, 9);
  assert.deepEqual([...(c.tensors.get('g/w')!.data as Float32Array)], [1, 2, 3, 4]);
  truncateSync(v1, statSync(v1).size - 6);
  assert.throws(() => readCheckpoint(v1), damaged(v1, /^cut short/));
});

test('readLatestCheckpoint: the current one if intact, else the previous one (saying why), else one line for both', () => {
  const { dir, file } = folder();
  assert.throws(() => readLatestCheckpoint(file), /no checkpoint here/);
  writeCheckpoint(file, meta(1), state(1));
  writeCheckpoint(file, meta(2), state(2));
  const ok = readLatestCheckpoint(file);
  assert.equal(ok.meta.step, 2);
  assert.equal(ok.passedOver, undefined);

  truncateSync(file, 1000);
  const fell = readLatestCheckpoint(file);
  assert.equal(fell.file, previousOf(file));
  assert.equal(fell.meta.step, 1);
  assert.match(fell.passedOver!.reason, /^cut short: 1\.0 kB of \d+\.\d kB$/);

  rmSync(file); // a current one that is missing: the previous one
  assert.equal(readLatestCheckpoint(file).meta.step, 1);

  writeFileSync(file, 'x');
  truncateSync(previousOf(file), 50);
  assert.throws(() => readLatestCheckpoint(file), (e: unknown) => {
    assert.ok(e instanceof GancError);
    assert.equal(e.line, `${dir}: both checkpoints are damaged: checkpoint.bin (cut short: 1 bytes) and checkpoint.prev.bin (cut short: 50 bytes, within its header); the run cannot be resumed`);
    return true;
  });
});

/** Replaces one of checkpointIo's operations for the length of fn. */
function withIo<K extends keyof typeof checkpointIo>(key: K, fake: (typeof checkpointIo)[K], fn: () => void) {
  const real = checkpointIo[key];
  checkpointIo[key] = fake;
  try {
    fn();
  } finally {
    checkpointIo[key] = real;
  }
}

const realWrite = checkpointIo.writeSync;

test('disk full: no partial file, one line with the step, the size needed and the checkpoint that is intact', () => {
  const { dir, file } = folder();
  writeCheckpoint(file, meta(5), state(5));
  writeCheckpoint(file, meta(10), state(10));
  const size = statSync(file).size;
  const before = readFileSync(file);
  const prevBefore = readFileSync(previousOf(file));
  let err: unknown;
  let written = 0;
  const full = ((fd: number, buf: Uint8Array, off: number, len: number) => {
    const n = Math.min(len, Math.floor(size / 3) - written);
    if (n <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
    written += n;
    return realWrite(fd, buf, off, n);
  }) as typeof checkpointIo.writeSync;
  withIo('writeSync', full, () => {
    try {
      writeCheckpoint(file, meta(15), state(15));
    } catch (e) {
      err = e;
    }
  });
  assert.ok(written > 0, 'part of the file was written before the disk filled');
  assert.ok(err instanceof GancError, String(err));
  assert.equal(err.line, `${file}: checkpoint at step 15 not saved: disk full (needs ${formatBytes(size)}); the checkpoint of step 10 is intact — free space and --resume`);
  assert.deepEqual(readdirSync(dir).sort(), ['checkpoint.bin', 'checkpoint.prev.bin'], 'the partial file is removed');
  assert.deepEqual(readFileSync(file), before);
  assert.deepEqual(readFileSync(previousOf(file)), prevBefore);

  // The first save of a run: nothing earlier to fall back to, and the message says so.
  const first = folder();
  withIo('writeSync', (() => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  }) as typeof checkpointIo.writeSync, () => {
    assert.throws(() => writeCheckpoint(first.file, meta(3), state(3)), /checkpoint at step 3 not saved: disk full \(needs .*\); there is no earlier checkpoint — free space and run again$/);
  });
  assert.deepEqual(readdirSync(first.dir), []);
});

test('a save stopped between any two of its file operations (kill -9) leaves an intact checkpoint; the next save rotates', () => {
  // The operations after the temporary file is written and synced: link current → staging, rename staging → prev,
  // rename tmp → current. Stopping before the k-th of them leaves the folder as a kill there would.
  const ops: (keyof typeof checkpointIo)[] = ['linkSync', 'renameSync', 'renameSync'];
  for (let k = 0; k <= ops.length; k++) {
    const { dir, file } = folder();
    writeCheckpoint(file, meta(1), state(1));
    writeCheckpoint(file, meta(2), state(2));
    let n = 0;
    const stop = () => {
      throw new Error('killed');
    };
    const counting = <K extends 'linkSync' | 'renameSync'>(key: K) =>
      ((...a: Parameters<(typeof checkpointIo)[K]>) => (n++ === k ? stop() : (key === 'linkSync' ? realLink : realRename)(...(a as [string, string])))) as (typeof checkpointIo)[K];
    const realLink = checkpointIo.linkSync;
    const realRename = checkpointIo.renameSync;
    checkpointIo.linkSync = counting('linkSync');
    checkpointIo.renameSync = counting('renameSync');
    try {
      if (k < ops.length) assert.throws(() => writeCheckpoint(file, meta(3), state(3)), /killed/);
      else writeCheckpoint(file, meta(3), state(3));
    } finally {
      checkpointIo.linkSync = realLink;
      checkpointIo.renameSync = realRename;
    }
    const latest = readLatestCheckpoint(file);
    assert.equal(latest.passedOver, undefined, `stopped before operation ${k}`);
    assert.equal(latest.meta.step, k < ops.length ? 2 : 3, `stopped before operation ${k}`);
    assert.ok(readCheckpoint(previousOf(file)).meta.step >= 1);
    // The next save works from whatever was left, and rotates.
    writeCheckpoint(file, meta(4), state(4));
    assertHolds(file, 4);
    assert.equal(readCheckpoint(previousOf(file)).meta.step, latest.meta.step);
    assert.deepEqual(readdirSync(dir).sort(), ['checkpoint.bin', 'checkpoint.prev.bin'], `what the save stopped before operation ${k} left is cleared`);
  }
});
