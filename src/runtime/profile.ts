/** Time per ONNX op type, from onnxruntime's own profiler (session option enableProfiling). */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Sessions } from './steps.ts';

export interface TraceEvent {
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
 * Control-flow ops: ORT reports their time and, again, the time of every node of their subgraphs (a Scan's body
 * nodes are named `wgrad0/Gemm_3` and so on), so they are left out of the sums.
 */
const CONTROL_FLOW = new Set(['Scan', 'Loop', 'If']);

/** Kernel time per op type over ORT profile events (one array per profile file), largest first. */
export function opTimes(profiles: readonly TraceEvent[][]): OpTime[] {
  const totals = new Map<string, { us: number; calls: number }>();
  for (const events of profiles) {
    for (const e of events) {
      const op = e.args?.op_name;
      if (e.cat !== 'Node' || !op || !e.name.endsWith('_kernel_time') || CONTROL_FLOW.has(op)) continue;
      const t = totals.get(op) ?? { us: 0, calls: 0 };
      t.us += e.dur;
      t.calls++;
      totals.set(op, t);
    }
  }
  const all = [...totals.values()].reduce((s, t) => s + t.us, 0) || 1;
  return [...totals].map(([op, t]) => ({ op, ms: t.us / 1000, share: t.us / all, calls: t.calls })).sort((p, q) => q.ms - p.ms);
}

/**
 * Ends profiling on every session and sums kernel time per op type over the profile files ORT wrote under `prefix`
 * (onnxruntime-node's endProfiling does not return the file name).
 */
export async function summarizeProfile(sessions: Sessions, prefix: string): Promise<OpTime[]> {
  for (const r of Object.values(sessions)) r.session.endProfiling();
  const dir = path.dirname(prefix);
  const files = readdirSync(dir).filter((f) => f.startsWith(path.basename(prefix)) && f.endsWith('.json')).map((f) => path.join(dir, f));
  return opTimes(files.map((file) => JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[]));
}
