/**
 * A GAN training loop in the page: ganc's compiled step graphs run in onnxruntime-web. The state (parameters, Adam
 * moments, BN statistics) flows as in ganc run: each graph's inputs come from the state or the batch, and each
 * output that `updates` a state input replaces it for the next run. One iteration = one D step and gUpdatesPerD G
 * steps, drawing data and noise in the order of shared/random.js's TrainDraws.
 */
import { getBytes, getJson } from './dom.js';
import { createSession } from './ort.js';
import { TrainDraws, batchToFloat, Random, fillNoise } from '../shared/random.js';

const STATE_ROLES = new Set(['param', 'optimizer_state', 'bn_state']);
/** Images in the sample grid. */
export const SAMPLES = 64;

export class Trainer {
  /** Fetches the model the board serves and opens its graphs with execution provider `ep`. */
  static async load(ep = 'wasm', onProgress = () => {}) {
    onProgress('compiling the model and rendering the logos (first time only)…');
    const model = await getJson('/api/train/model.json');
    onProgress('loading the graphs into onnxruntime-web…');
    const [init, pixels, ...graphs] = await Promise.all([getBytes('/api/train/init.bin'), getBytes('/api/train/data.bin'), ...Object.keys(model.graphs).map((g) => getBytes(`/api/train/${g}.onnx`))]);
    const sessions = {};
    let ort;
    for (const [i, name] of Object.keys(model.graphs).entries()) ({ ort, session: sessions[name] } = await createSession(graphs[i], ep));
    return new Trainer(ort, model, sessions, new Float32Array(init.buffer, init.byteOffset, init.byteLength / 4), pixels, ep);
  }

  constructor(ort, model, sessions, init, pixels, ep) {
    Object.assign(this, { ort, model, sessions, init, pixels, ep });
    this.vol = 3 * model.image.size * model.image.size;
    this.reset(0);
  }

  /** Back to the initial state; data order and noise from `seed`. */
  reset(seed) {
    const { model } = this;
    this.seed = seed;
    this.step = 0;
    this.rows = [];
    this.state = new Map();
    for (const e of model.state) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      this.state.set(e.name, new this.ort.Tensor('float32', e.offset < 0 ? new Float32Array(n) : this.init.slice(e.offset, e.offset + n), e.shape));
    }
    this.draws = new TrainDraws({ seed, count: model.data.count, batch: model.batch, zSize: model.z.size, zDist: model.z.dist, gUpdatesPerD: model.gUpdatesPerD });
    this.sampleZ = fillNoise(new Random(seed ^ 0x5a3c96e1), new Float32Array(SAMPLES * model.z.size), model.z.dist);
  }

  /** The state as plain arrays, by name. */
  getState() {
    return new Map([...this.state].map(([k, t]) => [k, t.data]));
  }

  /** Replace state tensors (by name) with these values: e.g. another runtime's state, to compare one step from it. */
  setState(values) {
    for (const [name, data] of values) {
      const old = this.state.get(name);
      if (!old || old.data.length !== data.length) throw new Error(`setState: ${name} is not a state tensor of this size`);
      this.state.set(name, new this.ort.Tensor('float32', Float32Array.from(data), old.dims));
    }
  }

  /** Runs one graph: state inputs from the state, the rest from `feeds`; applies its state updates. */
  async run(name, feeds) {
    const entry = this.model.graphs[name];
    const inputs = {};
    for (const i of entry.inputs) {
      if (STATE_ROLES.has(i.role)) inputs[i.name] = this.state.get(i.name);
      else if (feeds[i.name]) inputs[i.name] = feeds[i.name];
      else throw new Error(`${name}: no feed for ${i.role} input ${i.name}`);
    }
    const out = await this.sessions[name].run(inputs);
    for (const o of entry.outputs) if (o.updates) this.state.set(o.updates, out[o.name]);
    return out;
  }

  /**
   * One iteration; returns and logs { step, epoch, d_loss, g_loss, … } (of G steps, the last one's, as ganc run logs).
   * `hooks.before(k, graph)` is awaited before the k-th graph run (0: the D step, 1…: the G steps) and
   * `hooks.after(k, graph, losses)` after it: a test replaces the state there with another runtime's.
   */
  async iterate(hooks = {}) {
    const { model, ort } = this;
    const B = model.batch;
    const { indices, z, epoch } = this.draws.next();
    const real = new ort.Tensor('float32', batchToFloat(this.pixels, this.vol, indices), [B, 3, model.image.size, model.image.size]);
    const row = { step: this.step + 1, epoch };
    const graphs = ['d_step', ...Array(model.gUpdatesPerD).fill('g_step')];
    for (const [k, name] of graphs.entries()) {
      await hooks.before?.(k, name);
      const out = await this.run(name, { real, z: new ort.Tensor('float32', z[k], [B, model.z.size]) });
      const losses = {};
      for (const o of model.graphs[name].outputs) if (o.role === 'loss' || o.role === 'metric') losses[o.name] = out[o.name].data[0];
      Object.assign(row, losses);
      await hooks.after?.(k, name, losses);
    }
    this.step++;
    this.rows.push(row);
    return row;
  }

  /** `n` iterations; their rows. */
  async runSteps(n) {
    const rows = [];
    for (let i = 0; i < n; i++) rows.push(await this.iterate());
    return rows;
  }

  /** The sample grid's images (fixed z) from the current state: float NCHW in [-1, 1]. */
  async samples() {
    const z = new this.ort.Tensor('float32', this.sampleZ, [SAMPLES, this.model.z.size]);
    const out = await this.run('generate', { z });
    return out.image.data;
  }
}
