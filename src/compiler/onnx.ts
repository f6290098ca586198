/** ONNX emission: an IR graph → ModelProto bytes (opset 17, IR version 8, default-domain ops only). */
import onnxProto from 'onnx-proto';
import type { ConstData, DType, Graph, Value } from './ir.ts';
import { opDef, type LowerCtx } from './ops/registry.ts';

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

function attribute(name: string, v: number | number[] | string | ConstData): onnxProto.onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
  if (typeof v === 'number') return name === 'alpha' || name === 'epsilon' ? { name, type: A.FLOAT, f: v } : { name, type: A.INT, i: v };
  return { name, type: A.TENSOR, t: tensorProto('', v) };
}

export function toOnnx(g: Graph, opts: EmitOptions = {}): Uint8Array {
  const names = new Map<Value, string>();
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const intConsts = new Map<string, string>();
  let counter = 0;

  for (const i of g.inputs) names.set(i.value, i.name);
  const cx: LowerCtx = {
    name: (v) => {
      let n = names.get(v);
      if (!n) names.set(v, (n = `v${counter++}`));
      return n;
    },
    fresh: (hint) => `${hint}_${counter++}`,
    node: (opType, inputs, outputs, attrs = {}) => {
      nodes.push({
        opType, input: inputs, output: outputs, name: `${opType}_${nodes.length}`,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      });
    },
    ints: (values) => {
      const key = values.join(',');
      let n = intConsts.get(key);
      if (!n) {
        n = `ints_${intConsts.size}`;
        intConsts.set(key, n);
        initializers.push(tensorProto(n, { kind: 'const', dtype: 'int64', shape: [values.length], data: [...values] }));
      }
      return n;
    },
  };
  // Graph outputs take their own names where they can, so the runtime reads them by name.
  const claimed = new Set<Value>(g.inputs.map((i) => i.value));
  const aliases: [string, string][] = [];
  for (const o of g.outputs) {
    if (claimed.has(o.value)) aliases.push([cx.name(o.value), o.name]);
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

  const dims = (v: Value, batched: boolean) => v.shape.map((d, i) => (batched && i === 0 && opts.dynamicBatch === d ? { dimParam: 'N' } : { dimValue: d }));
  const valueInfo = (name: string, v: Value, batched = false): onnxProto.onnx.IValueInfoProto => ({
    name, type: { tensorType: { elemType: ELEM[v.dtype], shape: { dim: dims(v, batched) } } },
  });
  const ioNames = new Set([...g.inputs.map((i) => i.name), ...g.outputs.map((o) => o.name)]);
  const inner: onnxProto.onnx.IValueInfoProto[] = [];
  // With a symbolic batch, inner shapes are left to ORT's inference (a weight may share the batch's size).
  if (opts.dynamicBatch === undefined) for (const n of g.nodes) for (const v of n.outputs) {
    const name = names.get(v);
    if (name && !ioNames.has(name)) inner.push(valueInfo(name, v));
  }
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
      node: nodes,
      initializer: initializers,
      input: g.inputs.filter((i) => !bake.has(i.name)).map((i) => valueInfo(i.name, i.value, batchedRoles.has(i.role))),
      output: g.outputs.map((o) => valueInfo(o.name, o.value, batchedRoles.has(o.role))),
      valueInfo: inner,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
