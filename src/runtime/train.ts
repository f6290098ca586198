/**
 * The training loop: per iteration one D update and gUpdatesPerD G updates, seeded noise and data order, sample
 * grids and a loss curve along the way, atomic checkpoints every N iterations and on Ctrl-C, and exact resume.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { type Compiled, withFusedSteps } from '../compiler/compile.ts';
import { seqName } from '../compiler/fuse_steps.ts';
import { GancError } from '../errors.ts';
import { Rng } from '../random.ts';
import { readCheckpoint, writeCheckpoint, type CheckpointMeta } from './checkpoint.ts';
import { batchToFloat, type Dataset } from './data/images.ts';
import { heldOutSplit } from './data/split.ts';
import type { Device } from './ort.ts';
import { writeLossCurve, writeSampleGrid } from './pictures.ts';
import { createProgress } from './progress.ts';
import { appendMetrics, type MetricsRow, runPaths, truncateMetrics } from './run_folder.ts';
import { StateStore } from './state.ts';
import { openSessions, type GraphRunner } from './steps.ts';

export interface TrainOptions {
  out: string;
  /** Total iterations to reach (including those done before a resume). */
  steps: number;
  seed: number;
  device: Device;
  threads?: number;
  sampleEvery: number;
  ckptEvery: number;
  resume: boolean;
  /** Resume even if the model changed. */
  force?: boolean;
  modelHash: string;
  /** Stop (as if killed) after this many iterations in this process; for tests of resume. */
  stopAfter?: number;
  /** Stop cleanly (checkpoint, samples) after this much training time in this process: a wall-clock budget. */
  maxSeconds?: number;
  /** Progress output stream (default stderr). */
  stream?: NodeJS.WriteStream;
  /**
   * Iterations per run() (default 1): above 1, chunks of this many run as one call of the fused graph train_k
   * (state crosses the JS boundary once per chunk). Checkpoints, samples and the step limit fall where they do with
   * 1: a chunk never runs past one, the iterations before it run singly. Results match 1's within float reordering.
   */
  stepsPerRun?: number;
}

export interface TrainResult {
  step: number;
  rows: MetricsRow[];
  interrupted: boolean;
}

/** Uniform [-1, 1] or standard normal noise. */
export function sampleNoise(rng: Rng, n: number, dist: string): Float32Array {
  const out = new Float32Array(n);
  if (dist === 'normal') for (let i = 0; i < n; i++) out[i] = rng.normal();
  else for (let i = 0; i < n; i++) out[i] = rng.uniform() * 2 - 1;
  return out;
}

/** Data order: a fresh seeded permutation of the training pool per epoch, dropping the last partial batch
 * (as DCGAN-tensorflow). */
class DataOrder {
  private perm: Uint32Array;
  constructor(private pool: Uint32Array, private batch: number, private seed: number, public epoch: number, public pos: number) {
    this.perm = this.permutation(epoch);
  }
  private permutation(epoch: number): Uint32Array {
    return new Rng(`${this.seed}/data/${epoch}`).shuffle(Uint32Array.from(this.pool));
  }
  next(): Uint32Array {
    if (this.pos + this.batch > this.pool.length) {
      this.epoch++;
      this.pos = 0;
      this.perm = this.permutation(this.epoch);
    }
    const idx = this.perm.subarray(this.pos, this.pos + this.batch);
    this.pos += this.batch;
    return idx;
  }
}

/**
 * The separate labelled batch of semi-supervised models (`ctx.labelled`): every image with a class label, in a seeded
 * permutation per pass over them; the batch of iteration `step` (0-based) is derived from (seed, step) alone, so a
 * checkpoint needs no extra state.
 */
export class LabelledOrder {
  private readonly pool: Uint32Array;
  private pass = -1;
  private perm = new Uint32Array(0);
  constructor(labels: Int32Array, train: Uint32Array, private batch: number, private seed: number) {
    this.pool = train.filter((i) => labels[i] >= 0);
  }
  get count(): number {
    return this.pool.length;
  }
  at(step: number): Uint32Array {
    const perPass = Math.floor(this.pool.length / this.batch);
    const pass = Math.floor(step / perPass);
    if (pass !== this.pass) {
      this.pass = pass;
      this.perm = new Rng(`${this.seed}/labelled/${pass}`).shuffle(Uint32Array.from(this.pool));
    }
    const pos = (step % perPass) * this.batch;
    return this.perm.subarray(pos, pos + this.batch);
  }
}

function oneHot(labels: Int32Array, idx: Uint32Array, k: number): Float32Array {
  const out = new Float32Array(idx.length * k);
  idx.forEach((i, j) => (out[j * k + labels[i]] = 1));
  return out;
}

/** Refuses to resume a checkpoint made by another model (callers skip this with --force). */
export function checkSameModel(meta: CheckpointMeta, modelHash: string, file: string): void {
  if (meta.modelHash !== modelHash) {
    throw new GancError(`the checkpoint was made by a different model (${meta.model}, hash ${meta.modelHash}; now ${modelHash}); use --force to resume anyway`, { file });
  }
}

export async function train(compiled: Compiled, data: Dataset, opts: TrainOptions): Promise<TrainResult> {
  const K = opts.stepsPerRun ?? 1;
  if (!(Number.isInteger(K) && K >= 1)) throw new GancError(`steps per run must be a positive integer, got ${K}`);
  const c = K > 1 ? withFusedSteps(compiled, K) : compiled;
  const { manifest, def } = c;
  const B = def.batch;
  const img = [def.image.channels, def.image.size, def.image.size];
  // Labelled data keeps a held-out split out of training, for `ganc eval`'s accuracy.
  const pool = def.classes && data.labels ? heldOutSplit(data).train : Uint32Array.from({ length: data.count }, (_, i) => i);
  if (pool.length < B) throw new GancError(`the data has ${pool.length} training images, fewer than one batch of ${B}`, { file: data.source });
  if (data.size !== def.image.size) throw new Error(`data size ${data.size} != model size ${def.image.size}`);
  if (def.classes && !data.labels) throw new GancError(`model ${def.name} needs labelled data: put each class in its own subfolder`, { file: data.source });
  if (def.classes && data.classes && data.classes.length !== def.classes) {
    throw new GancError(`model ${def.name} expects ${def.classes} classes but the data has ${data.classes.length} (${data.classes.join(', ')})`, { file: data.source });
  }
  const paths = runPaths(opts.out);
  mkdirSync(paths.samples, { recursive: true });

  // State: fresh, or from the checkpoint.
  let store = StateStore.fromInit(manifest, c.init);
  let step = 0;
  const noiseRng = new Rng(`${opts.seed}/noise`);
  let order = new DataOrder(pool, B, opts.seed, 0, 0);
  let rows: MetricsRow[] = [];
  if (opts.resume) {
    const { meta, tensors } = readCheckpoint(paths.checkpoint);
    if (!opts.force) checkSameModel(meta, opts.modelHash, paths.checkpoint);
    for (const e of manifest.state) {
      const t = tensors.get(e.name);
      if (!t) {
        if (!opts.force) throw new GancError(`the checkpoint has no tensor ${e.name}; use --force to start it from its initial value`, { file: paths.checkpoint });
        continue;
      }
      if (t.dims.join() !== e.shape.join()) throw new GancError(`checkpoint tensor ${e.name} has shape [${t.dims}] but the model needs [${e.shape}]`, { file: paths.checkpoint });
      store.tensors.set(e.name, t);
    }
    step = meta.step;
    noiseRng.setState(meta.rng.noise);
    order = new DataOrder(pool, B, opts.seed, meta.data.epoch, meta.data.pos);
    rows = truncateMetrics(paths.metrics, step);
  } else {
    rows = truncateMetrics(paths.metrics, -1);
  }

  const sessions = await openSessions(c, { device: opts.device, threads: opts.threads });
  const sampleZ = sampleNoise(new Rng(`${opts.seed}/samples`), 64 * def.z.size, def.z.dist);
  const G = def.gUpdatesPerD;
  const imgLen = B * img[0] * img[1] * img[2];
  const zLen = B * def.z.size;
  const needsReal = (r: GraphRunner) => r.inputs('data').includes('real');
  const needsLabels = (r: GraphRunner) => r.inputs('label').includes('labels');
  const needsLabelled = (r: GraphRunner) => r.inputs('data').includes('labelled_real') || r.inputs('label').includes('labelled_labels');
  const labelled = [sessions.d, sessions.g].some(needsLabelled) ? new LabelledOrder(data.labels!, pool, B, opts.seed) : undefined;
  if (labelled && labelled.count < B) throw new GancError(`the data has ${labelled.count} labelled images, fewer than one batch of ${B}`, { file: data.source });
  // Buffers for K iterations; a single step uses the first.
  const realBuf = new Float32Array(K * imgLen);
  const labelledBuf = labelled ? new Float32Array(K * imgLen) : undefined;
  const zBuf = new Float32Array(K * (1 + G) * zLen);

  /** Iteration `it`'s data and noise into slot `i` of the buffers, in the single-step loop's order: the batch, the
   * labelled batch, then the D step's noise and each G step's. */
  const draw = (it: number, i: number) => {
    const idx = order.next();
    batchToFloat(data, idx, realBuf.subarray(i * imgLen, (i + 1) * imgLen));
    const lidx = labelled?.at(it);
    if (lidx) batchToFloat(data, lidx, labelledBuf!.subarray(i * imgLen, (i + 1) * imgLen));
    for (let j = 0; j < 1 + G; j++) zBuf.set(sampleNoise(noiseRng, zLen, def.z.dist), (i * (1 + G) + j) * zLen);
    return { idx, lidx, epoch: order.epoch };
  };
  const lossNames = (r: GraphRunner) => r.entry.outputs.filter((o) => o.role === 'loss' || o.role === 'metric').map((o) => o.name);

  /** One iteration, one run() per graph: its log values. */
  const singleStep = async (): Promise<{ values: Record<string, number>; epoch: number }[]> => {
    const { idx, lidx, epoch } = draw(step, 0);
    const feeds = (r: GraphRunner, j: number): Record<string, ort.Tensor> => {
      const f: Record<string, ort.Tensor> = { z: new ort.Tensor('float32', zBuf.subarray(j * zLen, (j + 1) * zLen), [B, def.z.size]) };
      if (needsReal(r)) f.real = new ort.Tensor('float32', realBuf.subarray(0, imgLen), [B, ...img]);
      if (needsLabels(r)) f.labels = new ort.Tensor('float32', oneHot(data.labels!, idx, def.classes!), [B, def.classes!]);
      if (lidx && needsLabelled(r)) {
        f.labelled_real = new ort.Tensor('float32', labelledBuf!.subarray(0, imgLen), [B, ...img]);
        f.labelled_labels = new ort.Tensor('float32', oneHot(data.labels!, lidx, def.classes!), [B, def.classes!]);
      }
      return f;
    };
    const values: Record<string, number> = {};
    const collect = (out: Record<string, ort.Tensor>, r: GraphRunner) => {
      for (const name of lossNames(r)) values[name] = (out[name].data as Float32Array)[0];
    };
    collect(await sessions.d.run(store, feeds(sessions.d, 0)), sessions.d);
    for (let k = 0; k < G; k++) collect(await sessions.g.run(store, feeds(sessions.g, 1 + k)), sessions.g);
    return [{ values, epoch }];
  };

  /** K iterations in one run() of train_k: the same draws, stacked. */
  const fusedSteps = async (): Promise<{ values: Record<string, number>; epoch: number }[]> => {
    const r = sessions.fused!;
    const C = def.classes ?? 0;
    const labels = r.inputs('label').includes(seqName('labels')) ? new Float32Array(K * B * C) : undefined;
    const labelledLabels = r.inputs('label').includes(seqName('labelled_labels')) ? new Float32Array(K * B * C) : undefined;
    const epochs: number[] = [];
    for (let i = 0; i < K; i++) {
      const { idx, lidx, epoch } = draw(step + i, i);
      labels?.set(oneHot(data.labels!, idx, C), i * B * C);
      if (lidx) labelledLabels?.set(oneHot(data.labels!, lidx, C), i * B * C);
      epochs.push(epoch);
    }
    const seqs: Record<string, [Float32Array | undefined, number[]]> = {
      real: [realBuf, [B, ...img]], z: [zBuf, [1 + G, B, def.z.size]], labels: [labels, [B, C]],
      labelled_real: [labelledBuf, [B, ...img]], labelled_labels: [labelledLabels, [B, C]],
    };
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, [buf, dims]] of Object.entries(seqs)) if (buf) feeds[seqName(name)] = new ort.Tensor('float32', buf, [K, ...dims]);
    const out = await r.run(store, feeds);
    const names = lossNames(r);
    return epochs.map((epoch, i) => ({ epoch, values: Object.fromEntries(names.map((n) => [n, (out[n].data as Float32Array)[i]])) }));
  };

  const saveCheckpoint = () => {
    const bad = store.firstNonFinite();
    if (bad) throw new GancError(`${bad} is not finite at step ${step}; the last good checkpoint is kept`, { file: paths.checkpoint });
    const meta: CheckpointMeta = {
      version: 1, model: def.name, modelHash: opts.modelHash, step,
      rng: { noise: noiseRng.getState() }, data: { epoch: order.epoch, pos: order.pos }, time: new Date().toISOString(),
    };
    writeCheckpoint(paths.checkpoint, meta, store);
  };

  const writePictures = async () => {
    const out = await sessions.generate.run(store, { z: new ort.Tensor('float32', sampleZ, [64, def.z.size]) });
    const images = out.image.data as Float32Array;
    const file = path.join(paths.samples, `step_${String(step).padStart(6, '0')}.png`);
    await writeSampleGrid(file, images, 64, img[0], img[1], img[2]);
    await writeSampleGrid(path.join(opts.out, 'samples.png'), images, 64, img[0], img[1], img[2]);
    const keys = Object.keys(rows[rows.length - 1] ?? {}).filter((k) => !['step', 'epoch', 'time'].includes(k));
    await writeLossCurve(paths.lossCurve, keys.map((k) => ({ name: k, points: rows.map((r) => [r.step, r[k]] as [number, number]) })), { title: `${def.name}: losses` });
  };

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  const progress = createProgress({ total: opts.steps, startStep: step, title: def.name, stream: opts.stream, budgetSec: opts.maxSeconds });
  const t0 = performance.now();
  let done = 0;
  try {
    const overBudget = () => (opts.stopAfter !== undefined && done >= opts.stopAfter) ||
      (opts.maxSeconds !== undefined && (performance.now() - t0) / 1000 >= opts.maxSeconds);
    const until = (every: number) => every - (step % every);
    while (step < opts.steps && !interrupted && !overBudget()) {
      // A fused chunk only where K iterations fit before the next checkpoint, sample grid, step limit or stop.
      const room = Math.min(until(opts.ckptEvery), until(opts.sampleEvery), opts.steps - step, opts.stopAfter !== undefined ? opts.stopAfter - done : Infinity);
      const t1 = performance.now();
      const chunk = sessions.fused && room >= K ? await fusedSteps() : await singleStep();
      const t2 = performance.now();
      for (const [i, { values, epoch }] of chunk.entries()) {
        step++;
        done++;
        const bad = Object.entries(values).find(([, v]) => !Number.isFinite(v));
        if (bad) {
          throw new GancError(`${bad[0]} became ${bad[1]} at step ${step}: training diverged; the last good checkpoint is kept (try a lower learning rate)`, { file: paths.checkpoint });
        }
        // The rows of a chunk share one run(): their times are spread evenly over it.
        const time = (t1 + ((t2 - t1) * (i + 1)) / chunk.length - t0) / 1000;
        const row = { step, epoch, time: +time.toFixed(3), ...values } as MetricsRow;
        rows.push(row);
        appendMetrics(paths.metrics, [row]);
        progress.update(step, values);
      }
      if (step % opts.ckptEvery === 0 || step === opts.steps) saveCheckpoint();
      if (step % opts.sampleEvery === 0 || step === opts.steps) await writePictures();
    }
    if (interrupted || step < opts.steps) {
      saveCheckpoint();
      if (interrupted) progress.log(`interrupted at step ${step}: checkpoint saved; resume with --resume`);
      else if (opts.maxSeconds !== undefined) {
        await writePictures();
        progress.log(`time budget of ${opts.maxSeconds} s reached at step ${step}: checkpoint saved`);
      }
    }
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
  }
  return { step, rows, interrupted };
}
