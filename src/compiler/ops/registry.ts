/**
 * One table of ops. Each op file registers its shape rule, ONNX lowering, gradient rule and (optionally) constant
 * folding and FLOP count together, so adding an op touches one file.
 */
import type onnxProto from 'onnx-proto';
import type { Attrs, ConstData, DType, Graph, Node, Shape, Value } from '../ir.ts';
import type { Builder } from '../builder.ts';

export interface OutType {
  shape: Shape;
  dtype: DType;
}

/** A lowered subgraph, for a GRAPH attribute (Loop's body). */
export interface SubgraphAttr {
  kind: 'graph';
  proto: onnxProto.onnx.IGraphProto;
}

export type LowerAttr = number | number[] | string | ConstData | SubgraphAttr;

/** What lowering needs: names of values, and a way to add ONNX nodes, int64 constants and subgraphs. */
export interface LowerCtx {
  name(v: Value): string;
  /** A new name for a lowering temporary of this shape (float32 unless said; its shape goes to value_info). */
  fresh(hint: string, shape: Shape, dtype?: DType): string;
  node(opType: string, inputs: string[], outputs: string[], attrs?: Record<string, LowerAttr>): void;
  ints(values: readonly number[]): string;
  /** Emit `g` as a GraphProto nested in the current graph: values it uses but does not define resolve to the
   * enclosing graphs' names. */
  subgraph(g: Graph): SubgraphAttr;
}

export interface OpDef {
  /** Name used in error messages (the DSL call), e.g. conv2d for Conv. */
  label?: string;
  infer(inputs: readonly Value[], attrs: Attrs): OutType[];
  lower(node: Node, cx: LowerCtx): void;
  /** Gradients w.r.t. each input given gradients of the outputs (undefined = zero / not needed). */
  grad?(node: Node, gouts: readonly (Value | undefined)[], b: Builder): (Value | undefined)[];
  /** Evaluate on constant inputs (single output), for constant folding. */
  fold?(inputs: ConstData[], attrs: Attrs, out: OutType): ConstData | undefined;
  /** Multiply-adds ×2 for the summary; elementwise ops count one per output element. */
  flops?(node: Node): number;
  /** Ops whose gradient is deliberately zero (comparisons, stopGradient). */
  noGrad?: boolean;
}

/** Thrown by shape rules; the builder turns it into a GancError at the call site. */
export class ShapeError extends Error {}

const table = new Map<string, OpDef>();

export function defineOp(name: string, def: OpDef): void {
  if (table.has(name)) throw new Error(`op ${name} defined twice`);
  table.set(name, def);
}

export function opDef(name: string): OpDef {
  const d = table.get(name);
  if (!d) throw new Error(`unknown IR op ${name}`);
  return d;
}

export function allOps(): string[] {
  return [...table.keys()].sort();
}
