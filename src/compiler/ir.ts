/**
 * The IR: a flat list of nodes over values with static shapes. Graph-level ops mirror ONNX closely so that lowering
 * stays 1:1 for most of them; each op's shape rule, lowering and gradient live together in `ops/`.
 */
import type { Site } from '../errors.ts';

export type DType = 'float32' | 'int64' | 'bool';
export type Shape = readonly number[];

/** What a graph input or output is for; written to manifest.json so the runtime can wire steps together. */
export type Role =
  | 'param' | 'optimizer_state' | 'bn_state' | 'sn_state' | 'ema' | 'data' | 'noise' | 'label'
  | 'loss' | 'metric' | 'grad' | 'output';

/**
 * Roles of the training state: tensors a step reads and may replace (its outputs with `updates`), carried from step
 * to step by the runtime and checkpointed. Batch-norm statistics, spectral-norm vectors (u) and the generator's
 * moving averages are state but not trained.
 */
export const STATE_ROLES: ReadonlySet<Role> = new Set<Role>(['param', 'optimizer_state', 'bn_state', 'sn_state', 'ema']);

export class Value {
  constructor(
    readonly id: number,
    readonly shape: Shape,
    readonly dtype: DType,
  ) {}
  get size(): number {
    return numel(this.shape);
  }
}

/** Attribute values; a Graph is a subgraph (the body of a Loop). */
export type AttrValue = number | string | number[] | ConstData | Graph;

/** Literal tensor data carried by Constant nodes (and produced by constant folding). */
export interface ConstData {
  kind: 'const';
  dtype: DType;
  shape: Shape;
  data: Float32Array | number[];
}

export type Attrs = Record<string, AttrValue>;

export interface Node {
  readonly op: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
  /** Where in the model file the node came from (for errors and the text form). */
  readonly site?: Site;
}

export interface GraphIO {
  readonly name: string;
  readonly value: Value;
  readonly role: Role;
  /** For state outputs: the input they replace on the next step. */
  readonly updates?: string;
}

export interface Graph {
  readonly name: string;
  readonly inputs: readonly GraphIO[];
  readonly outputs: readonly GraphIO[];
  readonly nodes: readonly Node[];
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Map from a value to the node producing it. */
export function producers(g: Graph): Map<Value, Node> {
  const m = new Map<Value, Node>();
  for (const n of g.nodes) for (const o of n.outputs) m.set(o, n);
  return m;
}

/** Nodes reachable backwards from `outputs`, in original (topological) order. */
export function liveNodes(nodes: readonly Node[], outputs: readonly Value[]): Node[] {
  const prod = new Map<Value, Node>();
  for (const n of nodes) for (const o of n.outputs) prod.set(o, n);
  const live = new Set<Node>();
  const stack = [...outputs];
  while (stack.length) {
    const v = stack.pop()!;
    const n = prod.get(v);
    if (!n || live.has(n)) continue;
    live.add(n);
    stack.push(...n.inputs);
  }
  return nodes.filter((n) => live.has(n));
}
