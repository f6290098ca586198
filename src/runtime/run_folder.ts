/** What lives in a run folder, and the metrics log (JSONL, one line per iteration). */
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync, appendFileSync, renameSync, mkdirSync } from 'node:fs';
import path from 'node:path';

export interface RunPaths {
  dir: string;
  config: string;
  metrics: string;
  checkpoint: string;
  samples: string;
  lossCurve: string;
}

export function runPaths(dir: string): RunPaths {
  return {
    dir,
    config: path.join(dir, 'run.json'),
    metrics: path.join(dir, 'metrics.jsonl'),
    checkpoint: path.join(dir, 'checkpoint.bin'),
    samples: path.join(dir, 'samples'),
    lossCurve: path.join(dir, 'loss.png'),
  };
}

/** run.json: what `--resume`, `ganc export` and `ganc eval` need to rebuild the run's model and find its data. */
export interface RunConfig {
  model: string;
  data?: string;
  batch?: number;
  seed: number;
  steps: number;
  /** The labelled images training leaves out (for `ganc eval`'s accuracy). */
  heldOut?: { fraction: number; seed: number; images: number };
}

export type MetricsRow = { step: number; epoch: number; time: number } & Record<string, number>;

/** A JSONL log of rows (metrics.jsonl, evals.jsonl); a line torn by kill -9 is skipped. */
export function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).flatMap((l) => {
    try {
      return [JSON.parse(l) as T];
    } catch {
      return [];
    }
  });
}

/** Keep only rows up to `step` (a resumed run rewrites what the killed one logged after its last checkpoint). */
export function truncateJsonl<T extends { step: number }>(file: string, step: number): T[] {
  const rows = readJsonl<T>(file).filter((r) => r.step <= step);
  writeFileSync(file + '.tmp', rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
  renameSync(file + '.tmp', file);
  return rows;
}

export const readMetrics = (file: string) => readJsonl<MetricsRow>(file);
export const truncateMetrics = (file: string, step: number) => truncateJsonl<MetricsRow>(file, step);

export function appendMetrics(file: string, rows: MetricsRow[]): void {
  if (!rows.length) return;
  mkdirSync(path.dirname(file), { recursive: true });
  appendFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** Via a temporary file of this process and a rename: readers (and other writers, e.g. two `ganc eval` of one run)
 * see the old or the new file, never a torn one. */
export function writeJson(file: string, value: unknown): void {
  writeFileAtomicSync(file, JSON.stringify(value, null, 2) + '\n');
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

export function readJson<T>(file: string): T | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
}

/**
 * A checkpoint's header (model, step, time, …) without reading its tensors, or undefined when the file is missing or
 * not a checkpoint. Both formats start with an 8-byte magic (GANCCKPT, or GANCCKP2 with a checksum), the header's
 * length and the JSON header.
 */
export function checkpointHeader(file: string): { model?: string; step?: number; time?: string } | undefined {
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, 'r');
  try {
    const pre = Buffer.alloc(12);
    if (readSync(fd, pre, 0, 12, 0) !== 12 || !['GANCCKPT', 'GANCCKP2'].includes(pre.toString('latin1', 0, 8))) return undefined;
    const header = Buffer.alloc(pre.readUInt32LE(8));
    readSync(fd, header, 0, header.length, 12);
    return JSON.parse(header.toString('utf8'));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
