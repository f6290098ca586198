/**
 * `ganc export`: the trained generator as one standalone ONNX file — z [N, zdim] → image [N, C, H, W] in [-1, 1],
 * batch norm in inference mode from the running statistics (folded into the preceding convolution), weights as
 * initializers, opset 17, metadata describing the model.
 */
import type { Compiled } from '../compiler/compile.ts';
import { newValue } from '../compiler/builder.ts';
import type { Graph, Node } from '../compiler/ir.ts';
import { toOnnx } from '../compiler/onnx.ts';
import { foldAffineIntoConv, foldConstants, optimizeGraph } from '../compiler/passes/index.ts';
import { substitute } from '../compiler/passes/substitute.ts';
import { GancError } from '../errors.ts';
import { generatorStateName } from './state.ts';

export interface ExportInfo {
  step: number;
  modelHash: string;
  /** The trained weights even where the model keeps a moving average of them (which is the default). */
  raw?: boolean;
}

/**
 * The inference graph with every state input replaced by its value (a constant): the moving average of G's weights
 * where the model keeps one, unless `raw`.
 */
export function bakeGenerator(c: Compiled, state: ReadonlyMap<string, Float32Array>, raw = false): Graph {
  const g = c.graphs.find((x) => x.name === 'generate')!;
  const consts: Node[] = [];
  const repl = new Map();
  for (const i of g.inputs) {
    if (i.role === 'noise') continue;
    const name = generatorStateName(i.name, (s) => state.has(s), raw);
    const data = state.get(name);
    if (!data) throw new GancError(`the checkpoint has no ${name}`);
    const v = newValue(i.value.shape, 'float32');
    consts.push({ op: 'Constant', inputs: [], outputs: [v], attrs: { value: { kind: 'const', dtype: 'float32', shape: i.value.shape, data } } });
    repl.set(i.value, v);
  }
  const baked = substitute({ ...g, inputs: g.inputs.filter((i) => i.role === 'noise') }, [...consts, ...g.nodes], repl);
  return optimizeGraph(foldAffineIntoConv(foldConstants(baked)));
}

export function exportGenerator(c: Compiled, state: ReadonlyMap<string, Float32Array>, info: ExportInfo): Uint8Array {
  const graph = bakeGenerator(c, state, info.raw);
  const { def } = c;
  const averaged = !!def.ema && !info.raw;
  return toOnnx({ ...graph, name: `${def.name}_generator` }, {
    dynamicBatch: def.batch,
    constantsAsInitializers: true,
    docString: `ganc generator of ${def.name}: z [N, ${def.z.size}] ${def.z.dist} → image [N, ${def.image.channels}, ${def.image.size}, ${def.image.size}] in [-1, 1]`,
    metadata: {
      'ganc.model': def.name,
      'ganc.step': String(info.step),
      'ganc.model_hash': info.modelHash,
      'ganc.z_size': String(def.z.size),
      'ganc.z_dist': def.z.dist,
      'ganc.image_channels': String(def.image.channels),
      'ganc.image_size': String(def.image.size),
      'ganc.output_range': '[-1, 1]',
      ...(def.ema ? { 'ganc.weights': averaged ? `ema ${def.ema.decay}` : 'raw' } : {}),
    },
  });
}
