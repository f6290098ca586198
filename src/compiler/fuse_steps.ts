/**
 * `train_k`: K whole training iterations (d_step, then gUpdatesPerD × g_step, the same graphs) in one ONNX Loop whose
 * carried values are the training state, so one run() moves parameters and optimizer state across the JS boundary
 * once per K iterations instead of every step — what makes a device execution provider worth using from node, whose
 * binding copies every input and output of a run().
 *
 * Outer graph: inputs are the state (same names as the step graphs) and the per-iteration data stacked along a new
 * leading axis of size K (`real_seq`, `labels_seq`, …; `z_seq` is [K, 1 + gUpdatesPerD, B, zdim]: the D step's noise,
 * then each G step's, in the order the single-step loop draws them). Outputs are each loss / metric as a [K]
 * sequence and the final state as `<name>.next` (with `updates`).
 */
import { Builder, newValue } from './builder.ts';
import { type DType, type Graph, type GraphIO, type Role, type Shape, type Value, STATE_ROLES, liveNodes, sameShape, shapeStr } from './ir.ts';
import { gather } from './ops/gather.ts';
import { loop } from './ops/loop.ts';

export const FUSED_GRAPH = 'train_k';
/** Body names live in the body's own namespace: ONNX forbids a subgraph to shadow an outer name. */
const IN_BODY = 'loop/';

/** The outer input that stacks the per-iteration input `name` (`real` → `real_seq`). */
export const seqName = (name: string): string => `${name}_seq`;

interface Slot {
  name: string;
  shape: Shape;
  dtype: DType;
  role: Role;
}

/** Every state tensor the steps read or update (first seen first), and their other inputs (data, noise, labels). */
function collectInputs(steps: readonly Graph[]): { state: Slot[]; data: Slot[] } {
  const state = new Map<string, Slot>();
  const data = new Map<string, Slot>();
  const add = (into: Map<string, Slot>, s: Slot) => {
    const prev = into.get(s.name);
    if (prev && !sameShape(prev.shape, s.shape)) throw new Error(`fuse: ${s.name} is ${shapeStr(prev.shape)} in one step and ${shapeStr(s.shape)} in another`);
    if (!prev) into.set(s.name, s);
  };
  for (const g of steps) {
    for (const i of g.inputs) add(STATE_ROLES.has(i.role) ? state : data, { name: i.name, shape: i.value.shape, dtype: i.value.dtype, role: i.role });
    for (const o of g.outputs) if (o.updates) add(state, { name: o.updates, shape: o.value.shape, dtype: o.value.dtype, role: o.role });
  }
  for (const s of [...state.values(), ...data.values()]) if (s.name !== 'z' && s.role === 'noise') throw new Error(`fuse: unexpected noise input ${s.name}`);
  return { state: [...state.values()], data: [...data.values()] };
}

/**
 * Append a copy of `step` to `b` with fresh values: state inputs read `cur`, the others `feeds`; afterwards `cur`
 * holds the step's updated state and `scans` its losses and metrics (a later step's value of a name replaces an
 * earlier one's in place, as in the single-step loop's log row).
 */
function inline(b: Builder, step: Graph, cur: Map<string, Value>, feeds: ReadonlyMap<string, Value>, scans: Map<string, GraphIO>): void {
  const map = new Map<Value, Value>();
  for (const i of step.inputs) {
    const v = STATE_ROLES.has(i.role) ? cur.get(i.name) : feeds.get(i.name);
    if (!v) throw new Error(`fuse: nothing feeds ${step.name}'s input ${i.name}`);
    map.set(i.value, v);
  }
  const m = (v: Value): Value => {
    const x = map.get(v);
    if (!x) throw new Error(`fuse: ${step.name} reads a value it does not define`);
    return x;
  };
  for (const n of step.nodes) {
    const outputs = n.outputs.map((o) => {
      const c = newValue(o.shape, o.dtype);
      map.set(o, c);
      return c;
    });
    b.nodes.push({ ...n, inputs: n.inputs.map(m), outputs });
  }
  for (const o of step.outputs) {
    if (o.updates) cur.set(o.updates, m(o.value));
    else if (o.role === 'loss' || o.role === 'metric') scans.set(o.name, { name: o.name, value: m(o.value), role: o.role });
  }
}

/** train_k from the compiled (optimized) step graphs: pure, graphs in, graph out. */
export function fuseSteps(d: Graph, g: Graph, gUpdatesPerD: number, k: number): Graph {
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`fuse: steps per run must be a positive integer, got ${k}`);
  const steps = [d, ...Array.from({ length: gUpdatesPerD }, () => g)];
  const { state, data } = collectInputs(steps);

  // Outer inputs: the state as the step graphs name it, and each per-iteration input stacked K times.
  const stateIn = state.map((s) => newValue(s.shape, s.dtype));
  const seqs = new Map<string, Value>();
  const seqInputs: GraphIO[] = [];
  for (const s of data) {
    const shape = s.name === 'z' ? [k, steps.length, ...s.shape] : [k, ...s.shape];
    const v = newValue(shape, s.dtype);
    seqs.set(s.name, v);
    seqInputs.push({ name: seqName(s.name), value: v, role: s.role });
  }

  // The body: one iteration. Its data is picked from the outer *_seq tensors by the iteration number.
  const b = new Builder();
  const iter = newValue([], 'int64');
  const cond = newValue([], 'bool');
  const carried = state.map((s) => newValue(s.shape, s.dtype));
  const cur = new Map(state.map((s, i) => [s.name, carried[i]]));
  const perIter = new Map<string, Value>();
  for (const [name, seq] of seqs) if (name !== 'z') perIter.set(name, gather(b, seq, iter));
  const zIter = seqs.has('z') ? gather(b, seqs.get('z')!, iter) : undefined;
  const scans = new Map<string, GraphIO>();
  steps.forEach((step, j) => {
    const feeds = new Map(perIter);
    if (zIter) feeds.set('z', gather(b, zIter, b.constant([j], [], 'int64')));
    inline(b, step, cur, feeds, scans);
  });
  const scanList = [...scans.values()];
  // iter and cond have no manifest role; 'data' is the nearest (the body is never listed in the manifest).
  const bodyOutputs: GraphIO[] = [
    { name: `${IN_BODY}cond.next`, value: cond, role: 'data' },
    ...state.map((s) => ({ name: `${IN_BODY}${s.name}.next`, value: cur.get(s.name)!, role: s.role })),
    ...scanList.map((s) => ({ ...s, name: `${IN_BODY}${s.name}` })),
  ];
  const body: Graph = {
    name: `${FUSED_GRAPH}_body`,
    inputs: [
      { name: `${IN_BODY}iter`, value: iter, role: 'data' },
      { name: `${IN_BODY}cond`, value: cond, role: 'data' },
      ...state.map((s, i) => ({ name: `${IN_BODY}${s.name}`, value: carried[i], role: s.role })),
    ],
    outputs: bodyOutputs,
    nodes: liveNodes(b.nodes, bodyOutputs.map((o) => o.value)),
  };

  const outer = new Builder();
  const outs = loop(outer, body, k, stateIn);
  return {
    name: FUSED_GRAPH,
    inputs: [...state.map((s, i) => ({ name: s.name, value: stateIn[i], role: s.role })), ...seqInputs],
    outputs: [
      ...scanList.map((s, i) => ({ name: s.name, value: outs[state.length + i], role: s.role })),
      ...state.map((s, i) => ({ name: `${s.name}.next`, value: outs[i], role: s.role, updates: s.name })),
    ],
    nodes: outer.nodes,
  };
}
