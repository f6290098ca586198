/** Time per ONNX op type, from onnxruntime's own profiler (session option enableProfiling). */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Sessions } from './steps.ts';

export interface TraceEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; input_type_shape?: unknown };
}

export interface OpTime {
  op: string;
  ms: number;
  share: number;
  calls: number;
  /**
   * Of `ms`, the time above the fastest call of the same op on the same input shapes: what the call's circumstances
   * cost (the state of the caches, page faults, the machine's phases during the run), not the op's work.
   */
  excessMs: number;
}

/**
 * Control-flow ops: ORT reports their time and, again, the time of every node of their subgraphs (a Scan's body
 * nodes are named `wgrad0/Gemm_3` and so on), so they are left out of the sums.
 */
const CONTROL_FLOW = new Set(['Scan', 'Loop', 'If']);

/** Kernel time per op type over ORT profile events (one array per profile file), largest first. */
export function opTimes(profiles: readonly TraceEvent[][]): OpTime[] {
  const calls = profiles.flat().filter((e) => e.cat === 'Node' && e.args?.op_name && e.name.endsWith('_kernel_time') && !CONTROL_FLOW.has(e.args.op_name));
  const shapeKey = (e: TraceEvent) => `${e.args!.op_name} ${JSON.stringify(e.args!.input_type_shape ?? null)}`;
  const fastest = new Map<string, number>();
  for (const e of calls) fastest.set(shapeKey(e), Math.min(fastest.get(shapeKey(e)) ?? Infinity, e.dur));
  const totals = new Map<string, { us: number; calls: number; excessUs: number }>();
  for (const e of calls) {
    const t = totals.get(e.args!.op_name!) ?? { us: 0, calls: 0, excessUs: 0 };
    t.us += e.dur;
    t.calls++;
    t.excessUs += e.dur - fastest.get(shapeKey(e))!;
    totals.set(e.args!.op_name!, t);
  }
  const all = [...totals.values()].reduce((s, t) => s + t.us, 0) || 1;
  return [...totals]
    .map(([op, t]) => ({ op, ms: t.us / 1000, share: t.us / all, calls: t.calls, excessMs: t.excessUs / 1000 }))
    .sort((p, q) => q.ms - p.ms);
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
