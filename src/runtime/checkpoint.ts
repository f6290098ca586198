/**
 * Checkpoints: one file, `GANCCKPT` + a JSON header + raw float32 tensors, written atomically (temp file, fsync,
 * rename) so a crash or kill -9 leaves either the old or the new checkpoint, never a torn one.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { GancError } from '../errors.ts';
import type { StateStore } from './state.ts';

const MAGIC = 'GANCCKPT';

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
}

/** Refuses to resume a checkpoint made by another model (callers skip this with --force). */
export function checkSameModel(meta: CheckpointMeta, modelHash: string, file: string): void {
  if (meta.modelHash !== modelHash) {
    throw new GancError(`the checkpoint was made by a different model (${meta.model}, hash ${meta.modelHash}; now ${modelHash}); use --force to resume anyway`, { file });
  }
}

export function writeCheckpoint(file: string, meta: CheckpointMeta, state: StateStore): void {
  const tensors: Header['tensors'] = [];
  let offset = 0;
  for (const [name, t] of state.tensors) {
    tensors.push({ name, shape: [...t.dims], offset });
    offset += (t.data as Float32Array).length;
  }
  const header = Buffer.from(JSON.stringify({ ...meta, tensors } satisfies Header));
  const pre = Buffer.alloc(MAGIC.length + 4);
  pre.write(MAGIC, 0, 'latin1');
  pre.writeUInt32LE(header.length, MAGIC.length);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, pre);
    writeSync(fd, header);
    for (const t of state.tensors.values()) {
      const d = t.data as Float32Array;
      writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

export function readCheckpoint(file: string): { meta: CheckpointMeta; tensors: Map<string, ort.Tensor> } {
  if (!existsSync(file)) throw new GancError('no checkpoint here', { file });
  const buf = readFileSync(file);
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new GancError('not a ganc checkpoint', { file });
  const hlen = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  let header: Header;
  try {
    header = JSON.parse(buf.toString('utf8', start, start + hlen));
  } catch {
    throw new GancError('checkpoint header is corrupt', { file });
  }
  const base = start + hlen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + base, buf.byteOffset + buf.length));
  const tensors = new Map<string, ort.Tensor>();
  for (const t of header.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + n > data.length) throw new GancError('checkpoint is truncated', { file });
    tensors.set(t.name, new ort.Tensor('float32', data.slice(t.offset, t.offset + n), t.shape));
  }
  const { tensors: _t, ...meta } = header;
  return { meta, tensors };
}
