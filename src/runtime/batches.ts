/**
 * What each training iteration is fed: seeded noise, the data order (a permutation per epoch), the separate labelled
 * batch of semi-supervised models, and the ORT feeds built from them — for one iteration per run() or K stacked.
 */
import ort from 'onnxruntime-node';
import type { GanDef } from '../dsl/gan.ts';
import { seqName } from '../compiler/fuse_steps.ts';
import { GancError } from '../errors.ts';
import { Rng } from '../random.ts';
import { batchToFloat, type Dataset, imageChannels, UNLABELLED_FOLDER } from './data/images.ts';
import type { GraphRunner } from './steps.ts';

/** Uniform [-1, 1] or standard normal noise. */
export function sampleNoise(rng: Rng, n: number, dist: string): Float32Array {
  const out = new Float32Array(n);
  if (dist === 'normal') for (let i = 0; i < n; i++) out[i] = rng.normal();
  else for (let i = 0; i < n; i++) out[i] = rng.uniform() * 2 - 1;
  return out;
}

/** Data order: a fresh seeded permutation of the training pool per epoch, dropping the last partial batch
 * (as DCGAN-tensorflow). */
export class DataOrder {
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

export function oneHot(labels: Int32Array, idx: Uint32Array, k: number): Float32Array {
  const out = new Float32Array(idx.length * k);
  idx.forEach((i, j) => (out[j * k + labels[i]] = 1));
  return out;
}

/** One iteration's draws: the data batch of each D update, their labelled batches (if any), the epoch reached. */
interface Draw {
  idx: Uint32Array[];
  lidx?: Uint32Array[];
  epoch: number;
}

/** Where the draws stand: what a checkpoint records so that a resumed run draws the same sequence. */
export interface DrawState {
  noise: number[];
  epoch: number;
  pos: number;
}

const needsReal = (r: GraphRunner) => r.inputs('data').includes('real');
const needsLabels = (r: GraphRunner) => r.inputs('label').includes('labels');
const needsLabelled = (r: GraphRunner) => r.inputs('data').includes('labelled_real') || r.inputs('label').includes('labelled_labels');
/** Noise inputs besides z (a model's `c.uniform(...)`): uniform [0, 1) numbers of their shape. */
const extraNoise = (r: GraphRunner) => r.entry.inputs.filter((i) => i.role === 'noise' && i.name !== 'z');

/**
 * Buffers for up to K iterations and the draws that fill them, in a fixed order per iteration so that K single steps
 * and one fused chunk of K see the same numbers, and a resumed run continues the same sequence: each D update's batch
 * (and labelled batch), then the noise z of every run of the iteration (the D updates', then the G updates'), then
 * each run's other noise inputs. A G update reads the last D update's batch.
 *
 * Single steps alternate between two slots, so that the next iteration can be drawn ahead (prefetch) while this one's
 * buffers are still in use; a checkpoint then records the state from before that early draw (drawState).
 */
export class Batches {
  readonly imgLen: number;
  readonly zLen: number;
  private readonly img: number[];
  private readonly channels: 1 | 3;
  private readonly real: Float32Array;
  private readonly labelledBuf?: Float32Array;
  private readonly z: Float32Array;
  /** Per slot and run of the iteration: its extra noise inputs' values (single steps only). */
  private readonly extra: Map<string, Float32Array>[][];
  /** D updates per iteration. */
  private readonly nD: number;
  /** The next iteration, drawn ahead into its slot, and the draw state from before it. */
  private ahead?: { it: number; draw: Draw; before: DrawState };

  /** `runs`: the graphs one iteration runs, in order (dUpdatesPerG × d_step, then gUpdatesPerD × g_step). */
  constructor(
    private readonly def: GanDef, private readonly data: Dataset, readonly order: DataOrder, readonly noise: Rng,
    private readonly labelled: LabelledOrder | undefined, private readonly K: number, private readonly runs: readonly GraphRunner[],
  ) {
    this.nD = def.dUpdatesPerG;
    this.channels = imageChannels(def.image.channels, `model ${def.name}`);
    this.img = [def.image.channels, def.image.size, def.image.size];
    this.imgLen = def.batch * this.img[0] * this.img[1] * this.img[2];
    this.zLen = def.batch * def.z.size;
    const slots = Math.max(K, 2);
    this.real = new Float32Array(slots * this.nD * this.imgLen);
    this.labelledBuf = labelled ? new Float32Array(slots * this.nD * this.imgLen) : undefined;
    this.z = new Float32Array(slots * runs.length * this.zLen);
    this.extra = [0, 1].map(() => runs.map((r) => new Map(extraNoise(r).map((i) => [i.name, new Float32Array(i.shape.reduce((a, b) => a * b, 1))]))));
    if (K > 1 && this.extra[0].some((m) => m.size)) throw new Error('stacked draws support no noise inputs besides z');
  }

  /** The draw state a checkpoint taken now must record: before any iteration drawn ahead. */
  drawState(): DrawState {
    return this.ahead?.before ?? { noise: this.noise.getState(), epoch: this.order.epoch, pos: this.order.pos };
  }

  /**
   * Draw iteration `it` now, into the slot `single(it)` will read, while the current one's buffers are in use.
   * onnxruntime-node's run() blocks the main thread, so this does not overlap ORT's work (0.7–2.4 ms per iteration).
   */
  prefetch(it: number): void {
    if (this.ahead) return;
    const before = this.drawState();
    this.ahead = { it, draw: this.draw(it, it % 2), before };
  }

  /** Does any of these graphs take the separate labelled batch? */
  static wantsLabelled(runners: GraphRunner[]): boolean {
    return runners.some(needsLabelled);
  }

  /** A loss that reads the labels of every real batch (ctx.labels) cannot train on unlabelled images. */
  static checkLabelsOfReal(runners: GraphRunner[], data: Dataset, pool: Uint32Array): void {
    if (!runners.some(needsLabels) || !data.labels) return;
    const unlabelled = pool.reduce((n, i) => n + (data.labels![i] < 0 ? 1 : 0), 0);
    if (unlabelled) {
      throw new GancError(`the model's loss uses the labels of every real batch (ctx.labels), but ${unlabelled} images have none (${UNLABELLED_FOLDER}/); use ctx.labelled for the labelled batch, or remove them`, { file: data.source });
    }
  }

  /** Iteration `it`'s data and noise into slot `i`. */
  private draw(it: number, i: number): Draw {
    const { imgLen, zLen, nD, runs } = this;
    const idx: Uint32Array[] = [];
    const lidx: Uint32Array[] = [];
    for (let j = 0; j < nD; j++) {
      const slot = i * nD + j;
      idx.push(this.order.next());
      batchToFloat(this.data, idx[j], this.real.subarray(slot * imgLen, (slot + 1) * imgLen), this.channels);
      const l = this.labelled?.at(it * nD + j);
      if (l) {
        lidx.push(l);
        batchToFloat(this.data, l, this.labelledBuf!.subarray(slot * imgLen, (slot + 1) * imgLen), this.channels);
      }
    }
    for (let j = 0; j < runs.length; j++) this.z.set(sampleNoise(this.noise, zLen, this.def.z.dist), (i * runs.length + j) * zLen);
    for (const m of this.extra[i % 2]) for (const buf of m.values()) for (let k = 0; k < buf.length; k++) buf[k] = this.noise.uniform();
    return { idx, lidx: this.labelled ? lidx : undefined, epoch: this.order.epoch };
  }

  /** Iteration `it` drawn; `feeds(runner, j)` gives the feeds of its j-th run (see `runs`). */
  single(it: number): { epoch: number; feeds: (r: GraphRunner, j: number) => Record<string, ort.Tensor> } {
    const { def, data, imgLen, zLen, runs } = this;
    const B = def.batch;
    const slot = it % 2;
    const ahead = this.ahead?.it === it ? this.ahead.draw : undefined;
    if (this.ahead && !ahead) throw new Error(`iteration ${this.ahead.it} was drawn ahead, not ${it}`);
    this.ahead = undefined;
    const { idx, lidx, epoch } = ahead ?? this.draw(it, slot);
    const feeds = (r: GraphRunner, j: number): Record<string, ort.Tensor> => {
      const b = slot * this.nD + Math.min(j, this.nD - 1); // the batch this run reads
      const zAt = (slot * runs.length + j) * zLen;
      const f: Record<string, ort.Tensor> = { z: new ort.Tensor('float32', this.z.subarray(zAt, zAt + zLen), [B, def.z.size]) };
      for (const [name, buf] of this.extra[slot][j]) f[name] = new ort.Tensor('float32', buf, r.entry.inputs.find((x) => x.name === name)!.shape);
      if (needsReal(r)) f.real = new ort.Tensor('float32', this.real.subarray(b * imgLen, (b + 1) * imgLen), [B, ...this.img]);
      const u = Math.min(j, this.nD - 1);
      if (needsLabels(r)) f.labels = new ort.Tensor('float32', oneHot(data.labels!, idx[u], def.classes!), [B, def.classes!]);
      if (lidx && needsLabelled(r)) {
        f.labelled_real = new ort.Tensor('float32', this.labelledBuf!.subarray(b * imgLen, (b + 1) * imgLen), [B, ...this.img]);
        f.labelled_labels = new ort.Tensor('float32', oneHot(data.labels!, lidx[u], def.classes!), [B, def.classes!]);
      }
      return f;
    };
    return { epoch, feeds };
  }

  /** Iterations it … it+K-1 drawn and stacked as the fused graph `r`'s sequence feeds (one D update each). */
  stacked(it: number, r: GraphRunner): { epochs: number[]; feeds: Record<string, ort.Tensor> } {
    const { def, data, K } = this;
    const B = def.batch;
    const C = def.classes ?? 0;
    const labels = r.inputs('label').includes(seqName('labels')) ? new Float32Array(K * B * C) : undefined;
    const labelledLabels = r.inputs('label').includes(seqName('labelled_labels')) ? new Float32Array(K * B * C) : undefined;
    const epochs: number[] = [];
    if (this.ahead) throw new Error(`iteration ${this.ahead.it} was drawn ahead for a single step`);
    for (let i = 0; i < K; i++) {
      const { idx, lidx, epoch } = this.draw(it + i, i);
      labels?.set(oneHot(data.labels!, idx[0], C), i * B * C);
      if (lidx) labelledLabels?.set(oneHot(data.labels!, lidx[0], C), i * B * C);
      epochs.push(epoch);
    }
    const seqs: Record<string, [Float32Array | undefined, number[]]> = {
      real: [this.real, [B, ...this.img]], z: [this.z, [this.runs.length, B, def.z.size]], labels: [labels, [B, C]],
      labelled_real: [this.labelledBuf, [B, ...this.img]], labelled_labels: [labelledLabels, [B, C]],
    };
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, [buf, dims]] of Object.entries(seqs)) if (buf) feeds[seqName(name)] = new ort.Tensor('float32', buf, [K, ...dims]);
    return { epochs, feeds };
  }
}
