/**
 * What the board shows, read from run and study folders by their files alone: a run has run.json or metrics.jsonl
 * (checkpoint.bin, samples/step_*.png, eval.json and evals.jsonl when present); a study has study.json or report.html
 * and run folders below it. Nothing here writes.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { checkpointHeader, readJson, readMetrics, runPaths, type MetricsRow, type RunConfig } from '../runtime/run_folder.ts';
import { summarizeRun, type RunSummary } from '../runtime/report.ts';
import { isInside, realRoot } from './safe_path.ts';

/** How deep below the board's folder runs are looked for (a study's runs sit at DIR/study/model/seed-s). */
const MAX_DEPTH = 5;
/** Folders read per listing at most: `ganc board .` in a project must not walk all of it every few seconds. */
const MAX_FOLDERS = 2000;
/** Never runs, often huge. */
const SKIP = new Set(['samples', 'node_modules']);

export interface RunListEntry {
  /** Relative to the board's folder, with '/' separators: the id the page uses. */
  path: string;
  model: string;
  step: number | null;
  target: number | null;
  /** Last change of metrics.jsonl or run.json (ms since epoch). */
  updated: number;
  checkpoint: boolean;
}

export interface StudyListEntry {
  path: string;
  report: boolean;
  runs: string[];
}

export interface BoardList {
  exists: boolean;
  runs: RunListEntry[];
  studies: StudyListEntry[];
  /** .onnx files (exported generators, for the playground). */
  generators: string[];
}

const isRun = (dir: string) => existsSync(path.join(dir, 'run.json')) || existsSync(path.join(dir, 'metrics.jsonl'));
const isStudy = (dir: string) => existsSync(path.join(dir, 'study.json')) || existsSync(path.join(dir, 'report.html'));
const mtime = (file: string) => (existsSync(file) ? statSync(file).mtimeMs : 0);

/** The step of the last complete line of metrics.jsonl, reading only its tail. */
export function lastStep(file: string): number | null {
  if (!existsSync(file)) return null;
  const size = statSync(file).size;
  const len = Math.min(size, 4096);
  const buf = Buffer.alloc(len);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, len, size - len);
  } finally {
    closeSync(fd);
  }
  const lines = buf.toString('utf8').split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const step = (JSON.parse(lines[i]) as { step?: unknown }).step;
      if (typeof step === 'number') return step;
    } catch {
      // a torn or partial line
    }
  }
  return null;
}

function runEntry(dir: string, rel: string): RunListEntry {
  const p = runPaths(dir);
  const config = readJsonSafe<RunConfig>(p.config);
  return {
    path: rel,
    model: checkpointInfo(dir)?.model ?? (config?.model ? path.basename(config.model).replace(/\.m?ts$/, '') : '?'),
    step: lastStep(p.metrics),
    target: config?.steps ?? null,
    updated: Math.max(mtime(p.metrics), mtime(p.config)),
    checkpoint: existsSync(p.checkpoint),
  };
}

/** Every run, study and .onnx file under the folder (symlinked folders are not followed; hidden names and
 * node_modules skipped; at most MAX_FOLDERS folders read). */
export function listBoard(root: string): BoardList {
  const list: BoardList = { exists: existsSync(root), runs: [], studies: [], generators: [] };
  if (!list.exists) return list;
  const base = realRoot(root);
  let folders = 0;
  const walk = (dir: string, rel: string, depth: number, study: StudyListEntry | undefined) => {
    if (++folders > MAX_FOLDERS) return;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      const child = path.join(dir, e.name);
      if (e.isFile() && e.name.endsWith('.onnx')) list.generators.push(childRel);
      if (!e.isDirectory() || SKIP.has(e.name) || depth >= MAX_DEPTH) continue;
      if (isRun(child)) {
        list.runs.push(runEntry(child, childRel));
        study?.runs.push(childRel);
        walk(child, childRel, depth + 1, undefined); // exported generators inside a run
      } else if (isStudy(child)) {
        const s: StudyListEntry = { path: childRel, report: existsSync(path.join(child, 'report.html')), runs: [] };
        list.studies.push(s);
        walk(child, childRel, depth + 1, s);
      } else {
        walk(child, childRel, depth + 1, study);
      }
    }
  };
  if (isRun(base)) list.runs.push(runEntry(base, ''));
  walk(base, '', 0, undefined);
  return list;
}

function readJsonSafe<T>(file: string): T | undefined {
  try {
    return readJson<T>(file);
  } catch {
    return undefined; // being rewritten, or not JSON: shown as missing
  }
}

/** Rows of a JSON-lines file, skipping torn lines (evals.jsonl, written by ganc study). */
export function readJsonLines(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').flatMap((l) => {
    try {
      return l.trim() ? [JSON.parse(l) as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/** Steps of the saved sample grids (samples/step_N.png), ascending. */
export function sampleSteps(dir: string): number[] {
  const samples = runPaths(dir).samples;
  if (!existsSync(samples)) return [];
  return readdirSync(samples).flatMap((f) => {
    const m = /^step_(\d+)\.png$/.exec(f);
    return m ? [Number(m[1])] : [];
  }).sort((a, b) => a - b);
}

/** Model, step and time of the checkpoint, from its header alone. */
export function checkpointInfo(dir: string): { model: string; step: number; time: string } | null {
  const h = checkpointHeader(runPaths(dir).checkpoint);
  return h && typeof h.step === 'number' ? { model: h.model ?? '?', step: h.step, time: h.time ?? '' } : null;
}

export interface RunDetail {
  path: string;
  summary: Omit<RunSummary, 'dir' | 'samples' | 'lossCurve'>;
  config?: RunConfig;
  rows: MetricsRow[];
  samples: number[];
  eval?: unknown;
  evals: Record<string, unknown>[];
  checkpoint: ReturnType<typeof checkpointInfo>;
}

export function runDetail(root: string, dir: string): RunDetail {
  const { dir: _d, samples: _s, lossCurve: _l, ...summary } = summarizeRun(dir);
  const p = runPaths(dir);
  return {
    path: relPath(root, dir),
    summary,
    config: readJsonSafe<RunConfig>(p.config),
    rows: readMetrics(p.metrics),
    samples: sampleSteps(dir),
    eval: readJsonSafe(path.join(dir, 'eval.json')),
    evals: readJsonLines(path.join(dir, 'evals.jsonl')),
    checkpoint: checkpointInfo(dir),
  };
}

export interface StudyDetail {
  path: string;
  study?: unknown;
  report: boolean;
  runs: string[];
}

export function studyDetail(root: string, dir: string): StudyDetail {
  const rel = relPath(root, dir);
  const runs = listBoard(root).runs.map((r) => r.path).filter((r) => rel === '' || r.startsWith(`${rel}/`));
  return { path: rel, study: readJsonSafe(path.join(dir, 'study.json')), report: existsSync(path.join(dir, 'report.html')), runs };
}

/** A real path under the board's folder as the page names it ('a/b'). */
export function relPath(root: string, real: string): string {
  const base = realRoot(root);
  if (!isInside(base, real)) throw new Error(`${real} is outside ${base}`);
  return path.relative(base, real).split(path.sep).join('/');
}
