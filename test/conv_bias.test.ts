/**
 * passes/conv_bias.ts: moving bias Adds into Conv / ConvTranspose changes no value. A small network with biased conv
 * and deconv layers (one conv output also read elsewhere, which must keep its Add) is run in onnxruntime-node with and
 * without the pass; outputs and every gradient must agree to float32 rounding, and the pass must have fired.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuseConvBias } from '../src/compiler/passes/conv_bias.ts';
import type { Graph } from '../src/compiler/ir.ts';
import { add, conv2d, deconv2d, leakyRelu, mul, sum } from '../src/dsl/index.ts';
import { currentTrace } from '../src/dsl/trace.ts';
import { buildGraph, randomData, runGraph } from './helpers/run_graph.ts';

const net = <T>(fn: () => T): T => currentTrace().network('n', fn);

test('bias Adds move into Conv / ConvTranspose; outputs and gradients unchanged', async () => {
  const layers = (x: Parameters<typeof conv2d>[0]) => {
    const h = leakyRelu(conv2d(x, 4));
    const y = deconv2d(h, 3);
    return add(y, y);
  };
  const probe = buildGraph({ x: [2, 3, 8, 8] }, ({ x }) => ({ y: net(() => layers(x)) }), { optimize: false });
  const params = probe.inputs.filter((i) => i.role === 'param').map((i) => i.name);
  const g = buildGraph({ x: [2, 3, 8, 8], r: [2, 3, 8, 8] }, ({ x, r }) => {
    const y = net(() => layers(x));
    return { y, loss: sum(mul(y, r)) };
  }, { grads: ['x', ...params] });
  const feeds: Record<string, Float32Array> = {};
  g.inputs.forEach((i, k) => (feeds[i.name] = randomData(i.value.size, 7 + k)));

  const fused = fuseConvBias(g);
  const biased = (x: Graph) => x.nodes.filter((n) => (n.op === 'Conv' || n.op === 'ConvTranspose') && n.inputs.length === 3).length;
  assert.equal(biased(g), 0);
  assert.equal(biased(fused), 2, 'the forward conv and deconv take their biases');
  assert.equal(fused.nodes.filter((n) => n.op === 'Add').length, g.nodes.filter((n) => n.op === 'Add').length - 2);

  const plain = await runGraph(g, feeds);
  const out = await runGraph(fused, feeds);
  for (const k of Object.keys(plain)) {
    let err = 0, scale = 0;
    plain[k].forEach((v, i) => { scale = Math.max(scale, Math.abs(v)); err = Math.max(err, Math.abs(v - out[k][i])); });
    assert.ok(err <= 2e-6 * Math.max(scale, 1), `${k}: max difference ${err}`);
  }
});

test('a conv output read by anything besides its bias Add keeps the Add', () => {
  const g = buildGraph({ x: [1, 2, 6, 6] }, ({ x }) => {
    const y = net(() => conv2d(x, 2));
    return { y };
  }, { optimize: false });
  const conv = g.nodes.find((n) => n.op === 'Conv')!;
  // A second reader of the bias-free output: the graph also returns it.
  const open = { ...g, outputs: [...g.outputs, { name: 'raw', value: conv.outputs[0] }] } as Graph;
  assert.equal(fuseConvBias(open).nodes.filter((n) => n.op === 'Conv' && n.inputs.length === 3).length, 0);
  assert.equal(fuseConvBias(g).nodes.filter((n) => n.op === 'Conv' && n.inputs.length === 3).length, 1);
});
