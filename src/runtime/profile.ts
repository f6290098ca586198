/** Time per ONNX op type, from onnxruntime's own profiler (session option enableProfiling). */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Sessions } from './steps.ts';

interface TraceEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

export interface OpTime {
  op: string;
  ms: number;
  share: number;
  calls: number;
}

/**
 * Ends profiling on every session and sums kernel time per op type over the profile files ORT wrote under `prefix`
 * (onnxruntime-node's endProfiling does not return the file name).
 */
export async function summarizeProfile(sessions: Sessions, prefix: string): Promise<OpTime[]> {
  const totals = new Map<string, { us: number; calls: number }>();
  for (const r of Object.values(sessions)) r.session.endProfiling();
  const dir = path.dirname(prefix);
  const files = readdirSync(dir).filter((f) => f.startsWith(path.basename(prefix)) && f.endsWith('.json')).map((f) => path.join(dir, f));
  for (const file of files) {
    const events = JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[];
    for (const e of events) {
      if (e.cat !== 'Node' || !e.args?.op_name || !e.name.endsWith('_kernel_time')) continue;
      const t = totals.get(e.args.op_name) ?? { us: 0, calls: 0 };
      t.us += e.dur;
      t.calls++;
      totals.set(e.args.op_name, t);
    }
  }
  const all = [...totals.values()].reduce((s, t) => s + t.us, 0) || 1;
  return [...totals].map(([op, t]) => ({ op, ms: t.us / 1000, share: t.us / all, calls: t.calls })).sort((p, q) => q.ms - p.ms);
}

export function profileTable(rows: OpTime[]): string {
  return rows.map((r) => `${r.op.padEnd(22)} ${r.ms.toFixed(0).padStart(9)} ms  ${(100 * r.share).toFixed(1).padStart(5)}%  ${String(r.calls).padStart(6)} calls`).join('\n');
}
