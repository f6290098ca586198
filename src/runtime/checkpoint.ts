/**
 * Checkpoints: `GANCCKP2` + header length + a JSON header + raw float32 tensors + the SHA-256 of all of that, so a
 * file cut short or garbled is recognized as damaged. Written to a temporary file, fsynced, then rotated: the
 * current checkpoint becomes `*.prev.bin` and the new one takes its name, so a crash or kill -9 at any moment
 * leaves at least one intact checkpoint, and a damaged latest one costs only the steps since the one before.
 * Files of the first format (`GANCCKPT`, no checksum) are still read, checked by their size only.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { GancError } from '../errors.ts';
import type { StateStore } from './state.ts';

const MAGIC = 'GANCCKP2';
const MAGIC_V1 = 'GANCCKPT';
const PREFIX = MAGIC.length + 4;
const HASH_BYTES = 32;

export interface CheckpointMeta {
  version: 1;
  model: string;
  modelHash: string;
  /** Iterations completed. */
  step: number;
  /** The noise generator's state; the data order is (seed, epoch, pos), so it needs none. */
  rng: { noise: number[] };
  /** Position in the data order: epoch and index into that epoch's permutation. */
  data: { epoch: number; pos: number };
  time: string;
}

interface Header extends CheckpointMeta {
  tensors: { name: string; shape: number[]; offset: number }[];
  /** Bytes of tensor data after the header (format 2). */
  dataBytes?: number;
}

export interface LoadedCheckpoint {
  file: string;
  meta: CheckpointMeta;
  tensors: Map<string, ort.Tensor>;
}

/** A checkpoint file that is there but cannot be trusted: cut short, garbled, or not a checkpoint at all. */
export class CheckpointDamaged extends GancError {
  constructor(readonly reason: string, file: string) {
    super(`the checkpoint is damaged (${reason})`, { file });
  }
}

/** Where the checkpoint before `file` is kept: checkpoint.bin → checkpoint.prev.bin. */
export const previousOf = (file: string): string => file.replace(/(\.bin)?$/, '.prev.bin');

/** The file operations a save makes; tests replace them to fail as a full disk does, or to stop between two of them
 * as a kill -9 would. */
export const checkpointIo = { writeSync, linkSync, renameSync };

/** Refuses to resume a checkpoint made by another model (callers skip this with --force). */
export function checkSameModel(meta: CheckpointMeta, modelHash: string, file: string): void {
  if (meta.modelHash !== modelHash) {
    throw new GancError(`the checkpoint was made by a different model (${meta.model}, hash ${meta.modelHash}; now ${modelHash}); use --force to resume anyway`, { file });
  }
}

export function writeCheckpoint(file: string, meta: CheckpointMeta, state: StateStore): void {
  const tensors: Header['tensors'] = [];
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of state.tensors) {
    const d = t.data as Float32Array;
    tensors.push({ name, shape: [...t.dims], offset });
    data.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    offset += d.length;
  }
  const header = Buffer.from(JSON.stringify({ ...meta, tensors, dataBytes: offset * 4 } satisfies Header));
  const pre = Buffer.alloc(PREFIX);
  pre.write(MAGIC, 0, 'latin1');
  pre.writeUInt32LE(header.length, MAGIC.length);
  const tmp = `${file}.tmp`;
  try {
    const hash = createHash('sha256');
    const fd = openSync(tmp, 'w');
    try {
      for (const chunk of [pre, header, ...data]) {
        hash.update(chunk);
        writeAll(fd, chunk);
      }
      writeAll(fd, hash.digest());
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    rmSync(tmp, { force: true });
    throw notSaved(e, file, meta.step, PREFIX + header.length + offset * 4 + HASH_BYTES);
  }
  rotate(tmp, file);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) done += checkpointIo.writeSync(fd, bytes, done, bytes.length - done);
}

/**
 * The current checkpoint becomes the previous one and the new one the current, each by one atomic rename: the
 * current is first hard-linked to a staging name, so `file` names a complete checkpoint at every moment.
 */
function rotate(tmp: string, file: string): void {
  const prev = previousOf(file);
  if (existsSync(file)) {
    const staging = `${prev}.tmp`;
    rmSync(staging, { force: true }); // left by a process killed right here
    checkpointIo.linkSync(file, staging);
    checkpointIo.renameSync(staging, prev);
    // rename() between two links of one file (prev is already the current one, after a save stopped just before
    // its last rename) does nothing and leaves the staging name.
    rmSync(staging, { force: true });
  }
  checkpointIo.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/** Makes the renames durable (power loss); where a folder cannot be opened for that, the renames still hold. */
function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported here */
  }
}

/** The one line for a checkpoint that could not be written, saying what is still safe. */
function notSaved(e: unknown, file: string, step: number, bytes: number): GancError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOSPC' || code === 'EDQUOT' ? `disk full (needs ${formatBytes(bytes)})` : (e as Error).message;
  const kept = savedStep(file);
  const safe = kept === undefined
    ? 'there is no earlier checkpoint — free space and run again'
    : `the checkpoint of step ${kept} is intact — free space and --resume`;
  return new GancError(`checkpoint at step ${step} not saved: ${why}; ${safe}`, { file });
}

const savedStep = (file: string): number | undefined => readCheckpointMeta(file)?.step;

/** A checkpoint's header (model, step, …) without reading or checking its tensors; undefined if unreadable. */
export function readCheckpointMeta(file: string): CheckpointMeta | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const pre = Buffer.alloc(PREFIX);
    if (readSync(fd, pre, 0, PREFIX, 0) !== PREFIX || ![MAGIC, MAGIC_V1].includes(pre.toString('latin1', 0, MAGIC.length))) return undefined;
    const header = Buffer.alloc(pre.readUInt32LE(MAGIC.length));
    readSync(fd, header, 0, header.length, PREFIX);
    const { tensors: _t, dataBytes: _d, ...meta } = JSON.parse(header.toString('utf8')) as Header;
    return meta;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function formatBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} bytes`;
}

/** Reads and verifies one checkpoint file; CheckpointDamaged when it is there but not intact. */
export function readCheckpoint(file: string): LoadedCheckpoint {
  if (!existsSync(file)) throw new GancError('no checkpoint here', { file });
  const buf = readFileSync(file);
  const damaged = (reason: string) => new CheckpointDamaged(reason, file);
  const magic = buf.toString('latin1', 0, MAGIC.length);
  if (buf.length < PREFIX || (magic !== MAGIC && magic !== MAGIC_V1)) {
    throw damaged(buf.length < PREFIX ? `cut short: ${formatBytes(buf.length)}` : 'not a ganc checkpoint');
  }
  const hlen = buf.readUInt32LE(MAGIC.length);
  if (PREFIX + hlen > buf.length) throw damaged(`cut short: ${formatBytes(buf.length)}, within its header`);
  let header: Header;
  try {
    header = JSON.parse(buf.toString('utf8', PREFIX, PREFIX + hlen));
  } catch {
    throw damaged('its header is garbled');
  }
  const floats = (header.tensors ?? []).reduce((n, t) => Math.max(n, t.offset + t.shape.reduce((a, b) => a * b, 1)), 0);
  const dataBytes = magic === MAGIC ? header.dataBytes ?? -1 : floats * 4;
  const want = PREFIX + hlen + dataBytes + (magic === MAGIC ? HASH_BYTES : 0);
  if (buf.length !== want || dataBytes < floats * 4) {
    throw damaged(buf.length < want ? `cut short: ${formatBytes(buf.length)} of ${formatBytes(want)}` : `${formatBytes(buf.length)}, not the ${formatBytes(want)} written`);
  }
  if (magic === MAGIC) {
    const sum = createHash('sha256').update(buf.subarray(0, want - HASH_BYTES)).digest();
    if (!sum.equals(buf.subarray(want - HASH_BYTES))) throw damaged('its contents do not match their SHA-256 checksum');
  }
  const base = PREFIX + hlen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + base, buf.byteOffset + base + floats * 4));
  const tensors = new Map<string, ort.Tensor>();
  for (const t of header.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    tensors.set(t.name, new ort.Tensor('float32', data.slice(t.offset, t.offset + n), t.shape));
  }
  const { tensors: _t, dataBytes: _d, ...meta } = header;
  return { file, meta, tensors };
}

/** The newest intact checkpoint of a run: the current one, else the previous one; and why the current was passed over. */
export interface LatestCheckpoint extends LoadedCheckpoint {
  /** Set when the current checkpoint was damaged and the previous one is used. */
  passedOver?: CheckpointDamaged;
}

/**
 * The current checkpoint (`file`) if it is intact, else the previous one. Throws a GancError when there is none,
 * naming the damage of each.
 */
export function readLatestCheckpoint(file: string): LatestCheckpoint {
  const prev = previousOf(file);
  if (!existsSync(file) && !existsSync(prev)) throw new GancError('no checkpoint here', { file: path.dirname(file) });
  let passedOver: CheckpointDamaged | undefined;
  try {
    return readCheckpoint(file);
  } catch (e) {
    // A missing current checkpoint with a previous one: the first save of a rotation was cut off. Use the previous one.
    if (existsSync(file) && !(e instanceof CheckpointDamaged)) throw e;
    if (e instanceof CheckpointDamaged) passedOver = e;
  }
  if (!existsSync(prev)) throw new GancError(`${passedOver!.message}, and there is no earlier checkpoint (${path.basename(prev)}) to fall back to`, { file });
  try {
    return { ...readCheckpoint(prev), passedOver };
  } catch (e) {
    if (!(e instanceof CheckpointDamaged) || !passedOver) throw e;
    throw new GancError(`both checkpoints are damaged: ${path.basename(file)} (${passedOver.reason}) and ${path.basename(prev)} (${e.reason}); the run cannot be resumed`, { file: path.dirname(file) });
  }
}

/** Renames a damaged current checkpoint out of the rotation (so the next save does not make it the previous one). */
export function setAsideDamaged(file: string): string {
  const aside = damagedName(file);
  renameSync(file, aside);
  return aside;
}

/** Where a damaged current checkpoint is kept: checkpoint.bin → checkpoint.damaged.bin. */
export const damagedName = (file: string): string => file.replace(/(\.bin)?$/, '.damaged.bin');

/** Removes a run's checkpoints (a fresh start with --force), so none of the old run's can be resumed by mistake. */
export function removeCheckpoints(file: string): void {
  for (const f of [file, previousOf(file)]) rmSync(f, { force: true });
}

/** What a reader says when it used the previous checkpoint, or undefined when it used the current one. */
export function fallbackNote(c: LatestCheckpoint): string | undefined {
  if (!c.passedOver) return undefined;
  return `${c.passedOver.line}; using ${path.basename(c.file)} (step ${c.meta.step})`;
}
