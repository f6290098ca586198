/**
 * Reverse-mode autodiff over the builder's node list. Only nodes that lie on a path from a `wrt` value to the loss
 * are differentiated, so no gradient flows into data, into the first layer's input, or into the network that is not
 * being trained. Gradient nodes are appended to the same builder and inherit the forward node's model-file site.
 *
 * Gradients are ordinary nodes of ops that all have gradient rules themselves, so a loss built from a gradient (a
 * gradient penalty) is differentiated again by the same function: second order needs nothing else.
 */
import { GancError, type Site } from '../errors.ts';
import type { Builder } from './builder.ts';
import type { Node, Value } from './ir.ts';
import { add } from './ops/elementwise.ts';
import { opDef } from './ops/registry.ts';

/**
 * ∂Σloss/∂w for each w in `wrt` (a non-scalar `loss` is summed: its seed gradient is all ones). `what` and `wrtWhat`
 * name the two sides in the error for a loss that does not depend on any of `wrt`.
 */
export function gradients(
  b: Builder, loss: Value, wrt: readonly Value[], lossSite?: Site, what = 'the loss',
  wrtWhat = 'any trainable parameter of the network it trains',
): Map<Value, Value> {
  const forward = b.nodes.slice();

  // Values that depend on some wrt value (gradients can only be non-zero there).
  const depends = new Set<Value>(wrt);
  for (const n of forward) {
    if (opDef(n.op).noGrad) continue;
    if (n.inputs.some((v) => depends.has(v))) for (const o of n.outputs) depends.add(o);
  }
  if (!depends.has(loss)) throw new GancError(`${what} does not depend on ${wrtWhat}`, lossSite);

  // Nodes the loss depends on.
  const reaches = new Set<Value>([loss]);
  const relevant: Node[] = [];
  for (let i = forward.length - 1; i >= 0; i--) {
    const n = forward[i];
    if (!n.outputs.some((o) => reaches.has(o))) continue;
    for (const v of n.inputs) reaches.add(v);
    if (n.inputs.some((v) => depends.has(v))) relevant.push(n);
  }

  const grads = new Map<Value, Value>();
  const accumulate = (v: Value, g: Value) => {
    const prev = grads.get(v);
    grads.set(v, prev ? add(b, prev, g) : g);
  };
  grads.set(loss, b.constant(new Float32Array(loss.size).fill(1), loss.shape));

  for (const n of relevant) {
    const gouts = n.outputs.map((o) => grads.get(o));
    if (gouts.every((g) => g === undefined)) continue;
    const def = opDef(n.op);
    if (!def.grad) throw new GancError(`no gradient rule for ${def.label ?? n.op}`, n.site);
    b.siteOverride = n.site;
    try {
      const gins = def.grad(n, gouts.map((g, i) => g ?? b.constant(new Float32Array(n.outputs[i].size), n.outputs[i].shape)), b);
      n.inputs.forEach((v, i) => {
        const g = gins[i];
        if (g && depends.has(v)) accumulate(v, g);
      });
    } finally {
      b.siteOverride = undefined;
    }
  }

  const out = new Map<Value, Value>();
  for (const w of wrt) {
    const g = grads.get(w);
    // A parameter the loss does not reach gets an explicit zero gradient (Adam then leaves it nearly unchanged).
    out.set(w, g ?? b.constant(new Float32Array(w.size), w.shape));
  }
  return out;
}
