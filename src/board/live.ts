/**
 * Live updates as Server-Sent Events: for each watched run, a first `init` event with everything the page shows, then
 * what changed — new metrics rows (read from where the last read stopped; a torn last line waits for its end), a
 * `reset` when metrics.jsonl was rewritten (a resumed run drops what the killed one logged after its checkpoint), new
 * sample grids, evals.jsonl / eval.json / checkpoint changes. Files are polled: fs.watch misses renames on some systems,
 * and a stat per file per second costs nothing.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { readJson, readMetrics, runPaths, type MetricsRow, type RunConfig } from '../runtime/run_folder.ts';
import { COMMON_HEADERS } from './http.ts';
import { checkpointInfo, readJsonLines, runDetail, sampleSteps } from './runs.ts';

export type LiveEvent =
  | { type: 'init'; path: string; detail: ReturnType<typeof runDetail> }
  | { type: 'rows' | 'reset'; path: string; rows: MetricsRow[] }
  | { type: 'samples'; path: string; samples: number[] }
  | { type: 'evals'; path: string; rows: Record<string, unknown>[] }
  | { type: 'eval'; path: string; eval: unknown }
  | { type: 'checkpoint'; path: string; checkpoint: ReturnType<typeof checkpointInfo> }
  | { type: 'config'; path: string; config: RunConfig | undefined }
  | { type: 'error'; path: string; error: string };

/** A file's identity and size: a rename (new inode) or a shrink means it was rewritten. */
const stamp = (file: string) => {
  if (!existsSync(file)) return { ino: 0, size: 0, mtime: 0 };
  const s = statSync(file);
  return { ino: s.ino, size: s.size, mtime: s.mtimeMs };
};

function readConfig(file: string): RunConfig | undefined {
  try {
    return readJson<RunConfig>(file);
  } catch {
    return undefined; // caught mid-write; the next change brings it
  }
}

/** One run folder's changes since the last poll. */
export class RunWatcher {
  private offset = 0;
  private ino = 0;
  private samples = '';
  private evals = '';
  private evalStamp = '';
  private ckpt = '';
  private cfg = '';

  constructor(private root: string, readonly dir: string, readonly rel: string) {}

  /** The `init` event; also sets the baseline that poll() compares against. */
  init(): LiveEvent {
    const detail = runDetail(this.root, this.dir);
    const p = runPaths(this.dir);
    const m = stamp(p.metrics);
    this.ino = m.ino;
    this.offset = this.completeLength(p.metrics, m.size);
    this.samples = detail.samples.join();
    this.evals = JSON.stringify(stamp(path.join(this.dir, 'evals.jsonl')));
    this.evalStamp = JSON.stringify(stamp(path.join(this.dir, 'eval.json')));
    this.ckpt = JSON.stringify(stamp(p.checkpoint));
    this.cfg = JSON.stringify(stamp(p.config));
    return { type: 'init', path: this.rel, detail };
  }

  poll(): LiveEvent[] {
    const out: LiveEvent[] = [];
    const p = runPaths(this.dir);
    const m = stamp(p.metrics);
    if (m.ino !== this.ino || m.size < this.offset) {
      this.ino = m.ino;
      this.offset = this.completeLength(p.metrics, m.size);
      out.push({ type: 'reset', path: this.rel, rows: readMetrics(p.metrics) });
    } else if (m.size > this.offset) {
      const text = this.readFrom(p.metrics, this.offset, m.size);
      const end = text.lastIndexOf('\n') + 1;
      if (end > 0) {
        this.offset += Buffer.byteLength(text.slice(0, end));
        const rows = text.slice(0, end).split('\n').flatMap((l) => {
          try {
            return l.trim() ? [JSON.parse(l) as MetricsRow] : [];
          } catch {
            return [];
          }
        });
        if (rows.length) out.push({ type: 'rows', path: this.rel, rows });
      }
    }
    const samples = sampleSteps(this.dir);
    if (samples.join() !== this.samples) {
      this.samples = samples.join();
      out.push({ type: 'samples', path: this.rel, samples });
    }
    const changed = (file: string, key: 'evals' | 'evalStamp' | 'ckpt' | 'cfg') => {
      const s = JSON.stringify(stamp(file));
      if (s === this[key]) return false;
      this[key] = s;
      return true;
    };
    if (changed(path.join(this.dir, 'evals.jsonl'), 'evals')) out.push({ type: 'evals', path: this.rel, rows: readJsonLines(path.join(this.dir, 'evals.jsonl')) });
    if (changed(path.join(this.dir, 'eval.json'), 'evalStamp')) out.push({ type: 'eval', path: this.rel, eval: runDetail(this.root, this.dir).eval });
    if (changed(p.checkpoint, 'ckpt')) out.push({ type: 'checkpoint', path: this.rel, checkpoint: checkpointInfo(this.dir) });
    // run.json is rewritten when a run is resumed, perhaps with more steps.
    if (changed(p.config, 'cfg')) out.push({ type: 'config', path: this.rel, config: readConfig(p.config) });
    return out;
  }

  /** Bytes up to the end of the last complete line. */
  private completeLength(file: string, size: number): number {
    if (size === 0) return 0;
    const text = this.readFrom(file, 0, size);
    return Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1));
  }

  private readFrom(file: string, from: number, to: number): string {
    const buf = Buffer.alloc(to - from);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, from);
    } finally {
      closeSync(fd);
    }
    return buf.toString('utf8');
  }
}

/** Streams the watchers' events to one client until it disconnects. */
export function streamEvents(req: IncomingMessage, res: ServerResponse, watchers: RunWatcher[], pollMs: number): void {
  res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  const send = (e: LiveEvent) => res.write(`data: ${JSON.stringify(e)}\n\n`);
  const safely = (w: RunWatcher, f: () => LiveEvent[]) => {
    try {
      f().forEach(send);
    } catch (e) {
      send({ type: 'error', path: w.rel, error: e instanceof Error ? e.message.split('\n')[0] : String(e) });
    }
  };
  res.write('retry: 2000\n\n');
  for (const w of watchers) safely(w, () => [w.init()]);
  let beat = 0;
  const timer = setInterval(() => {
    for (const w of watchers) safely(w, () => w.poll());
    // A comment now and then keeps proxies and the browser from timing the stream out.
    if ((beat += pollMs) >= 15000) {
      beat = 0;
      res.write(': keep-alive\n\n');
    }
  }, pollMs);
  const stop = () => clearInterval(timer);
  req.on('close', stop);
  res.on('error', stop);
}
