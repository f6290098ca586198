/**
 * The `classify` graph of models with `classes`: the discriminator's class logits in inference mode, for measuring
 * D's accuracy on held-out labelled images (`ganc eval`).
 *
 *   inputs  x [B, C, H, W] (role data), D's parameters and BN running statistics (roles param, bn_state)
 *   output  logits [B, K] (role output): the K real-class logits; a K+1 model's generated class is the fixed zero
 *           logit and is not part of the output (a D that returns K+1 columns has the extra ones dropped)
 *
 * Batch norm uses the running statistics (the trace is not in training mode), so an image's logits do not depend on
 * the rest of its batch — except through layers that look across the batch on purpose (minibatch discrimination),
 * which is why the batch stays the model's batch B, as D was trained.
 */
import { GancError } from '../errors.ts';
import type { GanDef } from '../dsl/gan.ts';
import { Tensor } from '../dsl/tensor.ts';
import { Trace, type TensorSpec, withTrace } from '../dsl/trace.ts';
import { Builder } from './builder.ts';
import type { Graph, GraphIO } from './ir.ts';
import * as ir from './ops/index.ts';

/** D's logits, whether the discriminator returns a Tensor or { logits, features }. */
function logitsOf(r: unknown, def: GanDef): Tensor {
  if (r instanceof Tensor) return r;
  const o = r as { logits?: unknown };
  if (o && o.logits instanceof Tensor) return o.logits;
  throw new GancError('the discriminator must return a Tensor or { logits, features }', def.site);
}

/**
 * Trace the classify graph. `specs` are the parameters and state tensors the training graphs created (shared, by
 * name); the discriminator must not create any new ones in inference mode.
 */
export function traceClassify(def: GanDef, specs: Map<string, TensorSpec>): Graph {
  const K = def.classes;
  if (!K) throw new GancError(`model ${def.name} has no \`classes\`: it has no classify graph`, def.site);
  const known = new Set(specs.keys());
  const b = new Builder();
  const tr = new Trace(b, false, specs);
  return withTrace(tr, () => {
    const { batch: B, image } = def;
    const x = new Tensor(tr.input('x', [B, image.channels, image.size, image.size], 'data'));
    let logits = tr.network('d', () => logitsOf(def.discriminator(x), def));
    if (logits.rank !== 2 || logits.shape[0] !== B || logits.shape[1] < K) {
      throw new GancError(`the discriminator of a model with classes: ${K} must return logits [${B}, ${K}] (one per real class), got [${logits.shape}]`, def.site);
    }
    if (logits.shape[1] > K) logits = new Tensor(ir.slice(b, logits.value, [0], [K], [1]));
    const fresh = [...specs.keys()].filter((n) => !known.has(n));
    if (fresh.length) {
      throw new GancError(`the discriminator creates ${fresh.join(', ')} only in inference mode; the classify graph cannot use tensors the training graphs do not train`, def.site);
    }
    const inputs: GraphIO[] = [...tr.inputs.values()].map((i) => ({ name: i.name, value: i.value, role: i.role }));
    return { name: 'classify', inputs, outputs: [{ name: 'logits', value: logits.value, role: 'output' }], nodes: b.nodes };
  });
}
