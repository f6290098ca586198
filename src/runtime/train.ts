/**
 * The training loop: per iteration dUpdatesPerG D updates and gUpdatesPerD G updates, seeded noise and data order, sample
 * grids and a loss curve along the way, atomic checkpoints every N iterations and on Ctrl-C, and exact resume.
 * train() is a short sequence of named steps; the Trainer holds the loop's state and one method per thing it does.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { type Compiled, withFusedSteps } from '../compiler/compile.ts';
import type { GanDef } from '../dsl/gan.ts';
import { GancError } from '../errors.ts';
import { Rng } from '../random.ts';
import { Batches, DataOrder, LabelledOrder, sampleNoise } from './batches.ts';
import {
  checkSameModel, type CheckpointMeta, type LatestCheckpoint, readLatestCheckpoint, removeCheckpoints, setAsideDamaged, writeCheckpoint,
} from './checkpoint.ts';
import type { Dataset } from './data/images.ts';
import { heldOutSplit } from './data/split.ts';
import type { Device, Spin } from './ort.ts';
import { writeLossCurve, writeSampleGrid } from './pictures.ts';
import { createProgress, type Progress } from './progress.ts';
import { appendMetrics, type MetricsRow, type RunPaths, runPaths, truncateMetrics } from './run_folder.ts';
import { StateStore, generatorStateName } from './state.ts';
import { openSessions, type GraphRunner, type Sessions } from './steps.ts';


/** Something to do every `every` iterations (and at the end), e.g. evaluation along training. */
export interface TrainHook {
  every: number;
  run: (step: number, trainer: TrainerView) => Promise<void>;
  /** Before the first iteration of this process (fresh or resumed), at the step it starts from. */
  start?: (step: number, trainer: TrainerView) => Promise<void>;
}

/** What a hook may use: the generator at the current state. */
export interface TrainerView {
  readonly def: GanDef;
  /** Seconds since this process started training (metrics.jsonl's time). */
  readonly seconds: number;
  /** n images [n, C, H, W] in [-1, 1] from z [n, zdim]. */
  generate(z: Float32Array, n: number): Promise<Float32Array>;
}

export interface TrainOptions {
  out: string;
  /** Total iterations to reach (including those done before a resume). */
  steps: number;
  seed: number;
  device: Device;
  threads?: number;
  /** How ORT's idle worker threads wait (default brief spinning, see ort.ts). */
  spin?: Spin;
  sampleEvery: number;
  ckptEvery: number;
  resume: boolean;
  /** The checkpoint to resume from, as the caller read it (default: the newest intact one in `out`). */
  from?: LatestCheckpoint;
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
  /** Run after the iterations they name (after that step's checkpoint), and at the last step. */
  hooks?: TrainHook[];
  /** Fraction of each class of labelled data kept out of training for `ganc eval` (default HELD_OUT_FRACTION). */
  heldOut?: number;
}

export interface TrainResult {
  step: number;
  rows: MetricsRow[];
  interrupted: boolean;
}

/** One iteration's logged values and the epoch its batch came from. */
type IterationLog = { values: Record<string, number>; epoch: number };

/** Where training starts: fresh state, or a checkpoint's. */
interface Start {
  store: StateStore;
  step: number;
  noise: Rng;
  order: DataOrder;
  rows: MetricsRow[];
}

export async function train(compiled: Compiled, data: Dataset, opts: TrainOptions): Promise<TrainResult> {
  const K = opts.stepsPerRun ?? 1;
  if (!(Number.isInteger(K) && K >= 1)) throw new GancError(`steps per run must be a positive integer, got ${K}`);
  const c = K > 1 ? withFusedSteps(compiled, K) : compiled;
  const pool = trainingPool(c.def, data, opts.heldOut);
  const paths = runPaths(opts.out);
  mkdirSync(paths.samples, { recursive: true });
  const start = opts.resume ? resumeFrom(c, paths, pool, opts) : freshStart(c, paths, pool, opts);
  const sessions = await openSessions(c, { device: opts.device, threads: opts.threads, spin: opts.spin });
  return new Trainer(c, data, pool, paths, start, sessions, opts).run();
}

/** The images training may draw from (labelled data keeps a held-out split out, for `ganc eval`'s accuracy), after
 * checking that the data fits the model. */
function trainingPool(def: GanDef, data: Dataset, heldOut?: number): Uint32Array {
  const pool = def.classes && data.labels ? heldOutSplit(data, { fraction: heldOut }).train : Uint32Array.from({ length: data.count }, (_, i) => i);
  if (pool.length < def.batch) throw new GancError(`the data has ${pool.length} training images, fewer than one batch of ${def.batch}`, { file: data.source });
  if (data.size !== def.image.size) throw new Error(`data size ${data.size} != model size ${def.image.size}`);
  if (def.classes && !data.labels) throw new GancError(`model ${def.name} needs labelled data: put each class in its own subfolder`, { file: data.source });
  if (def.classes && data.classes && data.classes.length !== def.classes) {
    throw new GancError(`model ${def.name} expects ${def.classes} classes but the data has ${data.classes.length} (${data.classes.join(', ')})`, { file: data.source });
  }
  return pool;
}

function freshStart(c: Compiled, paths: RunPaths, pool: Uint32Array, opts: TrainOptions): Start {
  removeCheckpoints(paths.checkpoint); // an old run's (--force): never to be resumed as this run's
  return {
    store: StateStore.initial(c), step: 0, noise: new Rng(`${opts.seed}/noise`),
    order: new DataOrder(pool, c.def.batch, opts.seed, 0, 0), rows: truncateMetrics(paths.metrics, -1),
  };
}

/** State, noise and data position from the newest intact checkpoint; the metrics log cut back to its step. */
function resumeFrom(c: Compiled, paths: RunPaths, pool: Uint32Array, opts: TrainOptions): Start {
  const { meta, tensors, file, passedOver } = opts.from ?? readLatestCheckpoint(paths.checkpoint);
  if (!opts.force) checkSameModel(meta, opts.modelHash, file);
  for (const e of c.manifest.state) {
    const t = tensors.get(e.name);
    if (!t) {
      if (!opts.force) throw new GancError(`the checkpoint has no tensor ${e.name}; use --force to start it from its initial value`, { file });
      continue;
    }
    if (t.dims.join() !== e.shape.join()) throw new GancError(`checkpoint tensor ${e.name} has shape [${t.dims}] but the model needs [${e.shape}]`, { file });
  }
  const store = StateStore.initial(c, tensors);
  if (passedOver) setAsideDamaged(paths.checkpoint);
  const noise = new Rng(`${opts.seed}/noise`);
  noise.setState(meta.rng.noise);
  return {
    store, step: meta.step, noise, order: new DataOrder(pool, c.def.batch, opts.seed, meta.data.epoch, meta.data.pos),
    rows: truncateMetrics(paths.metrics, meta.step),
  };
}

const lossNames = (r: GraphRunner) => r.entry.outputs.filter((o) => o.role === 'loss' || o.role === 'metric').map((o) => o.name);

class Trainer implements TrainerView {
  readonly def: GanDef;
  private readonly store: StateStore;
  private step: number;
  private readonly rows: MetricsRow[];
  private readonly batches: Batches;
  /** The graphs one iteration runs, in order: dUpdatesPerG × d_step, then gUpdatesPerD × g_step. */
  private readonly runs: GraphRunner[];
  private readonly K: number;
  private readonly sampleZ: Float32Array;
  private interrupted = false;
  /** Iterations done by this process. */
  private done = 0;
  private readonly t0 = performance.now();

  constructor(
    c: Compiled, private readonly data: Dataset, pool: Uint32Array, private readonly paths: RunPaths, start: Start,
    private readonly sessions: Sessions, private readonly opts: TrainOptions,
  ) {
    this.def = c.def;
    this.K = opts.stepsPerRun ?? 1;
    ({ store: this.store, step: this.step, rows: this.rows } = start);
    Batches.checkLabelsOfReal([sessions.d, sessions.g], data, pool);
    const labelled = Batches.wantsLabelled([sessions.d, sessions.g]) ? new LabelledOrder(data.labels!, pool, this.def.batch, opts.seed) : undefined;
    if (labelled && labelled.count < this.def.batch) throw new GancError(`the data has ${labelled.count} labelled images, fewer than one batch of ${this.def.batch}`, { file: data.source });
    this.runs = [...Array<GraphRunner>(this.def.dUpdatesPerG).fill(sessions.d), ...Array<GraphRunner>(this.def.gUpdatesPerD).fill(sessions.g)];
    this.batches = new Batches(this.def, data, start.order, start.noise, labelled, this.K, this.runs);
    this.sampleZ = sampleNoise(new Rng(`${opts.seed}/samples`), 64 * this.def.z.size, this.def.z.dist);
  }

  async run(): Promise<TrainResult> {
    const onSigint = () => {
      if (this.interrupted) process.exit(130);
      this.interrupted = true;
    };
    process.on('SIGINT', onSigint);
    const { opts } = this;
    const progress = createProgress({ total: opts.steps, startStep: this.step, title: this.def.name, stream: opts.stream, budgetSec: opts.maxSeconds });
    try {
      for (const h of opts.hooks ?? []) await h.start?.(this.step, this);
      while (this.step < opts.steps && !this.interrupted && !this.overBudget()) {
        const t1 = performance.now();
        const chunk = this.sessions.fused && this.room() >= this.K ? await this.fusedSteps() : await this.singleStep();
        this.record(chunk, t1, performance.now(), progress);
        await this.atBoundaries();
      }
      if (this.interrupted || this.step < opts.steps) await this.stopEarly(progress);
    } finally {
      progress.stop();
      process.off('SIGINT', onSigint);
    }
    return { step: this.step, rows: this.rows, interrupted: this.interrupted };
  }

  private overBudget(): boolean {
    const { stopAfter, maxSeconds } = this.opts;
    return (stopAfter !== undefined && this.done >= stopAfter) || (maxSeconds !== undefined && (performance.now() - this.t0) / 1000 >= maxSeconds);
  }

  /** Iterations that fit before the next checkpoint, sample grid, hook, step limit or stop: a fused chunk only
   * runs where all K fit. */
  private room(): number {
    const until = (every: number) => every - (this.step % every);
    const { opts } = this;
    return Math.min(
      until(opts.ckptEvery), until(opts.sampleEvery), ...(opts.hooks ?? []).map((h) => until(h.every)), opts.steps - this.step,
      opts.stopAfter !== undefined ? opts.stopAfter - this.done : Infinity,
    );
  }

  /** One iteration, one run() per update; each logged value is the last update's. Once the first update is queued
   * (ORT starts it on the next turn of the event loop), the next iteration's batch and noise are drawn (prefetch). */
  private async singleStep(): Promise<IterationLog[]> {
    const { epoch, feeds } = this.batches.single(this.step);
    const values: Record<string, number> = {};
    for (const [j, r] of this.runs.entries()) {
      const running = r.run(this.store, feeds(r, j));
      if (j === 0) this.prefetch();
      const out = await running;
      for (const name of lossNames(r)) values[name] = (out[name].data as Float32Array)[0];
    }
    return [{ values, epoch }];
  }

  /** Draw the next iteration ahead where it will run as a single step too. */
  private prefetch(): void {
    if (this.K === 1 && this.step + 1 < this.opts.steps) this.batches.prefetch(this.step + 1);
  }

  /** K iterations in one run() of train_k: the same draws, stacked. */
  private async fusedSteps(): Promise<IterationLog[]> {
    const r = this.sessions.fused!;
    const { epochs, feeds } = this.batches.stacked(this.step, r);
    const out = await r.run(this.store, feeds);
    const names = lossNames(r);
    return epochs.map((epoch, i) => ({ epoch, values: Object.fromEntries(names.map((n) => [n, (out[n].data as Float32Array)[i]])) }));
  }

  /** Count the iterations, stop on a non-finite loss, log each as a metrics row. */
  private record(chunk: IterationLog[], t1: number, t2: number, progress: Progress): void {
    for (const [i, { values, epoch }] of chunk.entries()) {
      this.step++;
      this.done++;
      const bad = Object.entries(values).find(([, v]) => !Number.isFinite(v));
      if (bad) {
        throw new GancError(`${bad[0]} became ${bad[1]} at step ${this.step}: training diverged; the last good checkpoint is kept (try a lower learning rate)`, { file: this.paths.checkpoint });
      }
      // The rows of a chunk share one run(): their times are spread evenly over it.
      const time = (t1 + ((t2 - t1) * (i + 1)) / chunk.length - this.t0) / 1000;
      const row = { step: this.step, epoch, time: +time.toFixed(3), ...values } as MetricsRow;
      this.rows.push(row);
      appendMetrics(this.paths.metrics, [row]);
      progress.update(this.step, values);
    }
  }

  /** Checkpoint, pictures and hooks that fall on this step. */
  private async atBoundaries(): Promise<void> {
    const { step, opts } = this;
    const last = step === opts.steps;
    if (step % opts.ckptEvery === 0 || last) this.saveCheckpoint();
    if (step % opts.sampleEvery === 0 || last) await this.writePictures();
    for (const h of opts.hooks ?? []) if (step % h.every === 0 || last) await h.run(step, this);
  }

  /** Ctrl-C, a budget or --stop-after: keep what was done. */
  private async stopEarly(progress: Progress): Promise<void> {
    this.saveCheckpoint();
    if (this.interrupted) progress.log(`interrupted at step ${this.step}: checkpoint saved; resume with --resume`);
    else if (this.opts.maxSeconds !== undefined) {
      await this.writePictures();
      progress.log(`time budget of ${this.opts.maxSeconds} s reached at step ${this.step}: checkpoint saved`);
    }
  }

  private saveCheckpoint(): void {
    const { store, step, paths, opts } = this;
    const drawn = this.batches.drawState();
    const bad = store.firstNonFinite();
    if (bad) throw new GancError(`${bad} is not finite at step ${step}; the last good checkpoint is kept`, { file: paths.checkpoint });
    const meta: CheckpointMeta = {
      version: 1, model: this.def.name, modelHash: opts.modelHash, step,
      rng: { noise: drawn.noise }, data: { epoch: drawn.epoch, pos: drawn.pos }, time: new Date().toISOString(),
    };
    writeCheckpoint(paths.checkpoint, meta, store);
  }

  get seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** The averaged generator where the model keeps one (as export and eval use), else the trained one. */
  async generate(z: Float32Array, n: number): Promise<Float32Array> {
    const state = (name: string) => generatorStateName(name, (s) => this.store.has(s));
    const out = await this.sessions.generate.run(this.store, { z: new ort.Tensor('float32', z, [n, this.def.z.size]) }, state);
    return out.image.data as Float32Array;
  }

  private async writePictures(): Promise<void> {
    const { def, paths, rows } = this;
    const [c, s] = [def.image.channels, def.image.size];
    const images = await this.generate(this.sampleZ, 64);
    await writeSampleGrid(path.join(paths.samples, `step_${String(this.step).padStart(6, '0')}.png`), images, 64, c, s, s);
    await writeSampleGrid(path.join(paths.dir, 'samples.png'), images, 64, c, s, s);
    const keys = Object.keys(rows[rows.length - 1] ?? {}).filter((k) => !['step', 'epoch', 'time'].includes(k));
    await writeLossCurve(paths.lossCurve, keys.map((k) => ({ name: k, points: rows.map((r) => [r.step, r[k]] as [number, number]) })), { title: `${def.name}: losses` });
  }
}
