/**
 * Turns a GAN definition into IR graphs: the D update, the G update (forward, loss, gradients, Adam, new BN running
 * statistics) and the generator's inference graph.
 */
import { GancError } from '../errors.ts';
import type { DOutput, GanDef, LossContext } from '../dsl/gan.ts';
import { Tensor } from '../dsl/tensor.ts';
import { EMA_PREFIX, Trace, type TensorSpec, withTrace } from '../dsl/trace.ts';
import { Builder } from './builder.ts';
import { gradients } from './autodiff.ts';
import type { Graph, GraphIO, Value } from './ir.ts';
import { emaUpdate } from './ema.ts';
import { adamUpdate } from './optimizer.ts';

export interface TraceOptions {
  /** Add every parameter's gradient as an output `grad/<name>`. */
  emitGrads?: boolean;
}

export interface TracedGan {
  graphs: Graph[];
  specs: TensorSpec[];
}

const NETS = { d: 'discriminator', g: 'generator' } as const;

/** Names a model may give its own graph inputs and outputs (metrics, uniform noise): not the built-in ones. */
const freeName = (name: string) =>
  /^[A-Za-z][A-Za-z0-9_]*$/.test(name) && !/^[dg]_loss$/.test(name) && !['real', 'z', 'labels', 'labelled_real', 'labelled_labels'].includes(name);

function asDOutput(r: unknown, where: string): DOutput {
  if (r instanceof Tensor) return { logits: r, features: {} };
  const o = r as { logits?: unknown; features?: Record<string, Tensor> };
  if (o && o.logits instanceof Tensor) return { logits: o.logits, features: o.features ?? {} };
  throw new GancError(`${where} must return a Tensor or { logits, features }`);
}

function lossContext(def: GanDef, tr: Trace, z: Value, metrics: Map<string, Value>): LossContext {
  const { batch: B, image } = def;
  const memo = new Map<string, unknown>();
  const once = <T>(key: string, f: () => T): T => {
    if (!memo.has(key)) memo.set(key, f());
    return memo.get(key) as T;
  };
  const G = (zz: Tensor) => tr.network('g', () => {
    const out = def.generator(zz);
    if (!(out instanceof Tensor)) throw new GancError('the generator must return a Tensor', def.site);
    return out;
  });
  const D = (x: Tensor) => tr.network('d', () => asDOutput(def.discriminator(x), 'the discriminator'));
  return {
    get real() { return once('real', () => new Tensor(tr.input('real', [B, image.channels, image.size, image.size], 'data'))); },
    get z() { return new Tensor(z); },
    get fake() { return once('fake', () => G(new Tensor(z))); },
    get dReal() { return once('dReal', () => D(this.real)); },
    get dFake() { return once('dFake', () => D(this.fake)); },
    get labels() {
      if (!def.classes) throw new GancError('the loss uses labels but the model sets no `classes`', def.site);
      return once('labels', () => new Tensor(tr.input('labels', [B, def.classes!], 'label')));
    },
    get labelled() {
      if (!def.classes) throw new GancError('the loss uses labelled data but the model sets no `classes`', def.site);
      return once('labelled', () => ({
        x: new Tensor(tr.input('labelled_real', [B, image.channels, image.size, image.size], 'data')),
        labels: new Tensor(tr.input('labelled_labels', [B, def.classes!], 'label')),
      }));
    },
    D,
    G,
    metric(name: string, value: Tensor) {
      if (value.shape.length) throw new GancError(`metric '${name}' must be a scalar, got [${value.shape}]`);
      // Metric names become graph output names: they must not clash with inputs, losses or state outputs.
      if (!freeName(name) || tr.inputs.has(name)) {
        throw new GancError(`metric name '${name}' is taken or invalid (use letters, digits and _; not an input or loss name)`, def.site);
      }
      metrics.set(name, value.value);
    },
    uniform(name: string, shape: number[]) {
      const key = `uniform:${name}`;
      if (memo.has(key)) {
        const t = memo.get(key) as Tensor;
        if (t.shape.join() !== shape.join()) throw new GancError(`uniform '${name}' asked for as [${shape}] and before as [${t.shape}]`, def.site);
        return t;
      }
      // Its name becomes a graph input name: like a metric's, it must not clash with other inputs or outputs.
      if (!freeName(name) || tr.inputs.has(name) || metrics.has(name)) {
        throw new GancError(`uniform name '${name}' is taken or invalid (use letters, digits and _; not an input, metric or loss name)`, def.site);
      }
      if (!shape.every((d) => Number.isInteger(d) && d >= 1)) throw new GancError(`uniform '${name}': invalid shape [${shape}]`, def.site);
      return once(key, () => new Tensor(tr.input(name, shape, 'noise')));
    },
  };
}

function traceStep(def: GanDef, net: 'd' | 'g', specs: Map<string, TensorSpec>, opts: TraceOptions): Graph {
  const b = new Builder();
  const tr = new Trace(b, true, specs);
  return withTrace(tr, () => {
    const z = tr.input('z', [def.batch, def.z.size], 'noise');
    const metrics = new Map<string, Value>();
    const ctx = lossContext(def, tr, z, metrics);
    const loss = (net === 'd' ? def.dLoss : def.gLoss)(ctx);
    const lossName = `${net}_loss`;
    if (!(loss instanceof Tensor)) throw new GancError(`${net}Loss must return a Tensor`, def.site);
    if (loss.shape.length !== 0) throw new GancError(`${net}Loss must be a scalar, got shape [${loss.shape}] (take a mean)`, def.site);

    const params = [...tr.inputs.values()].filter((i) => i.role === 'param' && specs.get(i.name)!.network === net);
    if (!params.length) throw new GancError(`${net}Loss does not use the ${NETS[net]}'s parameters`, def.site);
    const grads = gradients(b, loss.value, params.map((p) => p.value), def.site, `${net}Loss (the ${NETS[net]}'s loss)`);

    const step = tr.input(`adam/${net}/step`, [], 'optimizer_state');
    const slots = params.map((p) => ({
      param: p.value,
      grad: grads.get(p.value)!,
      m: tr.input(`adam/${net}/m/${p.name}`, p.value.shape, 'optimizer_state'),
      v: tr.input(`adam/${net}/v/${p.name}`, p.value.shape, 'optimizer_state'),
    }));
    const adam = adamUpdate(b, def.optimizer[net] as Required<typeof def.optimizer.d>, step, slots);

    const outputs: GraphIO[] = [{ name: lossName, value: loss.value, role: 'loss' }];
    for (const [name, value] of metrics) outputs.push({ name, value, role: 'metric' });
    const next = (name: string, value: Value, role: GraphIO['role']) => outputs.push({ name: `${name}.next`, value, role, updates: name });
    params.forEach((p, i) => {
      next(p.name, adam.updates[i].param, 'param');
      next(`adam/${net}/m/${p.name}`, adam.updates[i].m, 'optimizer_state');
      next(`adam/${net}/v/${p.name}`, adam.updates[i].v, 'optimizer_state');
    });
    next(`adam/${net}/step`, adam.step, 'optimizer_state');
    // Only the network being trained moves its state (BN statistics, SN vectors) in this graph.
    for (const [name, value] of tr.stateUpdates) if (specs.get(name)?.network === net) next(name, value, specs.get(name)!.role);
    if (net === 'g' && def.ema) {
      const updated = new Map(params.map((p, i) => [p.name, adam.updates[i].param]));
      for (const [name, value] of traceAverage(def, tr, z, updated, adam.step)) next(name, value, 'ema');
    }
    if (opts.emitGrads) params.forEach((p) => outputs.push({ name: `grad/${p.name}`, value: grads.get(p.value)!, role: 'grad' }));

    const inputs: GraphIO[] = [...tr.inputs.values()].map((i) => ({ name: i.name, value: i.value, role: i.role }));
    return { name: `${net}_step`, inputs, outputs, nodes: b.nodes };
  });
}

/**
 * The moving average of G's parameters after this update (`updated`: their new values; `t`: the update's number),
 * and G's batch-norm statistics for the averaged weights: one more forward pass of G with them on this step's z, in
 * training mode, blended into their own running statistics as the raw G's are. (The raw G's statistics would not
 * match activations of other weights; this pass costs one G forward per G update, only for a G with batch norm.)
 * Returns the new `ema/<name>` state by name.
 */
function traceAverage(def: GanDef, tr: Trace, z: Value, updated: ReadonlyMap<string, Value>, t: Value): Map<string, Value> {
  const names = [...updated.keys()];
  const b = tr.builder;
  const averages = emaUpdate(b, def.ema!, t, names.map((n) => ({ param: updated.get(n)!, ema: tr.input(EMA_PREFIX + n, updated.get(n)!.shape, 'ema') })));
  const out = new Map(names.map((n, i) => [EMA_PREFIX + n, averages[i]]));
  tr.averaged(new Map(names.map((n, i) => [n, averages[i]])), () => tr.network('g', () => def.generator(new Tensor(z))));
  for (const [name, value] of tr.stateUpdates) if (name.startsWith(EMA_PREFIX)) out.set(name, value);
  return out;
}

function traceGenerate(def: GanDef, specs: Map<string, TensorSpec>): Graph {
  const b = new Builder();
  const tr = new Trace(b, false, specs);
  return withTrace(tr, () => {
    const z = new Tensor(tr.input('z', [def.batch, def.z.size], 'noise'));
    const image = tr.network('g', () => def.generator(z));
    const want = [def.batch, def.image.channels, def.image.size, def.image.size];
    if (image.shape.join() !== want.join()) {
      throw new GancError(`the generator makes images of shape [${image.shape}] but the model declares [${want}] (batch, channels, size, size)`, def.site);
    }
    const inputs: GraphIO[] = [...tr.inputs.values()].map((i) => ({ name: i.name, value: i.value, role: i.role }));
    return { name: 'generate', inputs, outputs: [{ name: 'image', value: image.value, role: 'output' }], nodes: b.nodes };
  });
}

export function traceGan(def: GanDef, opts: TraceOptions = {}): TracedGan {
  const specs = new Map<string, TensorSpec>();
  // The inference graph first: it checks the generator's output shape before any loss is traced.
  const generate = traceGenerate(def, specs);
  const d = traceStep(def, 'd', specs, opts);
  const g = traceStep(def, 'g', specs, opts);
  return { graphs: [d, g, generate], specs: [...specs.values()] };
}
