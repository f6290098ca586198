/** ONNX emission: an IR graph → ModelProto bytes (opset 17, IR version 8, default-domain ops only). */
import onnxProto from 'onnx-proto';
import type { ConstData, DType, Graph, Value } from './ir.ts';
import { opDef, type LowerAttr, type LowerCtx } from './ops/registry.ts';

const { onnx } = onnxProto;
export const OPSET = 17;
export const IR_VERSION = 8;

const ELEM: Record<DType, number> = { float32: onnx.TensorProto.DataType.FLOAT, int64: onnx.TensorProto.DataType.INT64, bool: onnx.TensorProto.DataType.BOOL };

export interface EmitOptions {
  /** Give dimension 0 of inputs, outputs and values whose first dimension is the batch the symbolic name 'N'. */
  dynamicBatch?: number;
  docString?: string;
  metadata?: Record<string, string>;
  /** Write Constant nodes as graph initializers (how exported weights are stored). */
  constantsAsInitializers?: boolean;
  /** Inputs to bake in as initializers (name → data), e.g. weights of an exported generator. */
  initializers?: Map<string, Float32Array>;
}

function tensorProto(name: string, c: ConstData): onnxProto.onnx.ITensorProto {
  const t: onnxProto.onnx.ITensorProto = { name, dims: [...c.shape], dataType: ELEM[c.dtype] };
  if (c.dtype === 'float32') t.rawData = new Uint8Array(Float32Array.from(c.data as ArrayLike<number>).buffer);
  else if (c.dtype === 'int64') t.rawData = new Uint8Array(BigInt64Array.from(Array.from(c.data as ArrayLike<number>, (x) => BigInt(x))).buffer);
  else t.rawData = Uint8Array.from(c.data as ArrayLike<number>);
  return t;
}

function attribute(name: string, v: LowerAttr): onnxProto.onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
  if (typeof v === 'number') return name === 'alpha' || name === 'epsilon' ? { name, type: A.FLOAT, f: v } : { name, type: A.INT, i: v };
  if (v.kind === 'graph') return { name, type: A.GRAPH, g: v.proto };
  return { name, type: A.TENSOR, t: tensorProto('', v) };
}

/** What nested graphs share with the graph that contains them. */
interface Scope {
  /** One counter for all fresh names: ONNX forbids a subgraph to reuse a name of an enclosing graph. */
  next(): number;
  /** int64 constants (shapes, axes), as initializers of the graph being emitted. */
  ints(values: readonly number[]): string;
  /** Name of a value defined in an enclosing graph (throws when there is none). */
  outer(v: Value): string;
}

interface Emitted {
  nodes: onnxProto.onnx.INodeProto[];
  names: Map<Value, string>;
  /** Lowering temporaries (LowerCtx.fresh) with their shapes. */
  temps: onnxProto.onnx.IValueInfoProto[];
}

/** Lower `g`'s nodes. Graph inputs and outputs keep their own names, so the runtime reads them by name. */
function emitNodes(g: Graph, scope: Scope, opts: EmitOptions, initializers: onnxProto.onnx.ITensorProto[], nodePrefix: string): Emitted {
  const names = new Map<Value, string>();
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const temps: onnxProto.onnx.IValueInfoProto[] = [];
  const local = new Set<Value>([...g.inputs.map((i) => i.value), ...g.nodes.flatMap((n) => n.outputs)]);
  for (const i of g.inputs) names.set(i.value, i.name);
  const lookup = (v: Value) => names.get(v) ?? scope.outer(v);
  const cx: LowerCtx = {
    name: (v) => {
      let n = names.get(v);
      if (n) return n;
      if (!local.has(v)) return scope.outer(v);
      names.set(v, (n = `v${scope.next()}`));
      return n;
    },
    fresh: (hint, shape, dtype = 'float32') => {
      const name = `${hint}_${scope.next()}`;
      temps.push(valueInfo(name, { shape, dtype }));
      return name;
    },
    node: (opType, inputs, outputs, attrs = {}) => {
      nodes.push({
        opType, input: inputs, output: outputs, name: `${nodePrefix}${opType}_${nodes.length}`,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      });
    },
    ints: scope.ints,
    subgraph: (sub) => ({ kind: 'graph', proto: emitGraph(sub, scope.next, lookup, `${nodePrefix}${sub.name}/`) }),
  };
  const claimed = new Set<Value>(g.inputs.map((i) => i.value));
  const aliases: [string, string][] = [];
  for (const o of g.outputs) {
    if (claimed.has(o.value) || !local.has(o.value)) aliases.push([cx.name(o.value), o.name]);
    else {
      names.set(o.value, o.name);
      claimed.add(o.value);
    }
  }
  for (const n of g.nodes) {
    if (opts.constantsAsInitializers && n.op === 'Constant') initializers.push(tensorProto(cx.name(n.outputs[0]), n.attrs.value as ConstData));
    else opDef(n.op).lower(n, cx);
  }
  for (const [from, to] of aliases) cx.node('Identity', [from], [to]);
  return { nodes, names, temps };
}

const valueInfo = (name: string, v: Pick<Value, 'shape' | 'dtype'>, dims = v.shape.map((d): onnxProto.onnx.TensorShapeProto.IDimension => ({ dimValue: d }))): onnxProto.onnx.IValueInfoProto => ({
  name, type: { tensorType: { elemType: ELEM[v.dtype], shape: { dim: dims } } },
});

/** Shapes of the values a graph computes, except its inputs and outputs (recorded with those). */
function innerValueInfo(g: Graph, { names, temps }: Emitted): onnxProto.onnx.IValueInfoProto[] {
  const ioNames = new Set([...g.inputs.map((i) => i.name), ...g.outputs.map((o) => o.name)]);
  const inner: onnxProto.onnx.IValueInfoProto[] = [...temps];
  for (const n of g.nodes) for (const v of n.outputs) {
    const name = names.get(v);
    if (name && !ioNames.has(name)) inner.push(valueInfo(name, v));
  }
  return inner;
}

/** int64 constants of one graph, each stored once as an initializer named `${prefix}ints_<n>`. */
function intsTable(initializers: onnxProto.onnx.ITensorProto[], prefix: string): Scope['ints'] {
  const made = new Map<string, string>();
  return (values) => {
    const key = values.join(',');
    let n = made.get(key);
    if (!n) {
      n = `${prefix}ints_${made.size}`;
      made.set(key, n);
      initializers.push(tensorProto(n, { kind: 'const', dtype: 'int64', shape: [values.length], data: [...values] }));
    }
    return n;
  };
}

/**
 * A nested graph (static shapes): a Loop's body. It keeps its own int64 constants (shapes, axes) rather than reading
 * the outer graph's, so ORT sees constants there, not implicit inputs from the outer scope.
 */
function emitGraph(g: Graph, next: () => number, outer: (v: Value) => string, nodePrefix: string): onnxProto.onnx.IGraphProto {
  const initializer: onnxProto.onnx.ITensorProto[] = [];
  const emitted = emitNodes(g, { next, ints: intsTable(initializer, nodePrefix), outer }, {}, initializer, nodePrefix);
  return {
    name: g.name,
    node: emitted.nodes,
    initializer,
    input: g.inputs.map((i) => valueInfo(i.name, i.value)),
    output: g.outputs.map((o) => valueInfo(o.name, o.value)),
    valueInfo: innerValueInfo(g, emitted),
  };
}

export function toOnnx(g: Graph, opts: EmitOptions = {}): Uint8Array {
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  let counter = 0;
  const scope: Scope = {
    next: () => counter++,
    ints: intsTable(initializers, ''),
    outer: () => {
      throw new Error(`graph ${g.name} uses a value that nothing defines`);
    },
  };
  const emitted = emitNodes(g, scope, opts, initializers, '');

  const dims = (v: Value, batched: boolean) => v.shape.map((d, i) => (batched && i === 0 && opts.dynamicBatch === d ? { dimParam: 'N' } : { dimValue: d }));
  const io = (name: string, v: Value, batched = false) => valueInfo(name, v, dims(v, batched));
  // With a symbolic batch, inner shapes are left to ORT's inference (a weight may share the batch's size).
  const inner = opts.dynamicBatch === undefined ? innerValueInfo(g, emitted) : [];
  const batchedRoles = new Set(['data', 'noise', 'label', 'output', 'loss', 'metric']);
  const bake = opts.initializers ?? new Map();
  for (const i of g.inputs) {
    const data = bake.get(i.name);
    if (data) initializers.push(tensorProto(i.name, { kind: 'const', dtype: 'float32', shape: i.value.shape, data }));
  }
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'ganc',
    producerVersion: '0.1.0',
    docString: opts.docString,
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: g.name,
      node: emitted.nodes,
      initializer: initializers,
      input: g.inputs.filter((i) => !bake.has(i.name)).map((i) => io(i.name, i.value, batchedRoles.has(i.role))),
      output: g.outputs.map((o) => io(o.name, o.value, batchedRoles.has(o.role))),
      valueInfo: inner,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
