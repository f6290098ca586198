/** `gan({...})`: everything ganc needs to know about one GAN variant. */
import { GancError, type Site } from '../errors.ts';
import { callSite } from '../compiler/builder.ts';
import type { Tensor } from './tensor.ts';

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** What a discriminator returns: logits, plus named intermediate features (for feature matching and the like). */
export interface DOutput {
  logits: Tensor;
  features: Record<string, Tensor>;
}

export interface LossContext {
  /** A batch of real images [B, C, H, W] in [-1, 1]. */
  readonly real: Tensor;
  /** The noise batch [B, zdim] the generator is fed. */
  readonly z: Tensor;
  /** G(z). */
  readonly fake: Tensor;
  readonly dReal: DOutput;
  readonly dFake: DOutput;
  /** One-hot labels of the real batch [B, K] (models with `classes`). */
  readonly labels: Tensor;
  /** A separate labelled batch (models with `classes`; semi-supervised training): images [B, C, H, W] and their
   * one-hot labels [B, K], drawn in their own seeded order (graph inputs `labelled_real`, `labelled_labels`). */
  readonly labelled: { readonly x: Tensor; readonly labels: Tensor };
  /** Run the discriminator / generator on any tensor (parameters are shared). */
  D(x: Tensor): DOutput;
  G(z: Tensor): Tensor;
  /** A value to log beside the losses (must be a scalar). */
  metric(name: string, value: Tensor): void;
  /**
   * Fresh uniform [0, 1) numbers of this shape for every step (e.g. WGAN-GP's interpolation weights): a graph input
   * with role 'noise', drawn from the run's seeded noise stream after z, so a resumed run draws the same ones.
   */
  uniform(name: string, shape: number[]): Tensor;
}

/** An exponential moving average of the generator's weights (the weights samples and exports use by default). */
export interface EmaOptions {
  /** ema ← decay·ema + (1 − decay)·weights after every G update, e.g. 0.999. */
  decay: number;
  /**
   * Use min(decay, (1 + t)/(10 + t)) at G update t (TensorFlow's ExponentialMovingAverage with num_updates), so the
   * average forgets the random initial weights within the first hundreds of updates instead of thousands.
   */
  warmup?: boolean;
}

export interface GanOptions {
  name: string;
  /** Image size: channels × size × size. */
  image: { channels?: number; size: number };
  z: { size: number; dist?: 'uniform' | 'normal' };
  batch: number;
  /** Number of real classes, for models trained on labelled data (subfolders of the data folder). */
  classes?: number;
  generator: (z: Tensor) => Tensor;
  discriminator: (x: Tensor) => Tensor | { logits: Tensor; features?: Record<string, Tensor> };
  dLoss: (c: LossContext) => Tensor;
  gLoss: (c: LossContext) => Tensor;
  optimizer?: { g?: AdamOptions; d?: AdamOptions };
  /** Generator updates per discriminator update (DCGAN-tensorflow: 2, PyTorch's example: 1). */
  gUpdatesPerD?: number;
  /** Discriminator updates per iteration, each on its own batch and noise, before the G updates (WGAN's n_critic: 5). */
  dUpdatesPerG?: number;
  /** Keep a moving average of G's weights (see EmaOptions). */
  ema?: EmaOptions;
  /** Seed of the initial parameter values. */
  seed?: number;
}

export interface GanDef extends Required<Omit<GanOptions, 'classes' | 'optimizer' | 'ema'>> {
  kind: 'ganc.gan';
  classes?: number;
  ema?: Required<EmaOptions>;
  image: { channels: number; size: number };
  z: { size: number; dist: 'uniform' | 'normal' };
  optimizer: { g: Required<AdamOptions>; d: Required<AdamOptions> };
  site?: Site;
}

const KNOWN = ['name', 'image', 'z', 'batch', 'classes', 'generator', 'discriminator', 'dLoss', 'gLoss', 'optimizer', 'gUpdatesPerD', 'dUpdatesPerG', 'ema', 'seed'];
const ADAM_DEFAULT: Required<AdamOptions> = { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 };

function checkKeys(what: string, obj: object, known: string[], site?: Site): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) throw new GancError(`unknown option '${k}' in ${what} (known: ${known.join(', ')})`, site);
  }
}

function positiveInt(what: string, v: unknown, site?: Site): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new GancError(`${what} must be a positive integer, got ${JSON.stringify(v)}`, site);
  return v;
}

function ema(o: EmaOptions | undefined, site?: Site): Required<EmaOptions> | undefined {
  if (o === undefined) return undefined;
  checkKeys('ema', o, ['decay', 'warmup'], site);
  if (typeof o.decay !== 'number' || !(o.decay > 0 && o.decay < 1)) throw new GancError(`ema.decay must be a number between 0 and 1 (e.g. 0.999), got ${JSON.stringify(o.decay)}`, site);
  if (o.warmup !== undefined && typeof o.warmup !== 'boolean') throw new GancError('ema.warmup must be true or false', site);
  return { decay: o.decay, warmup: o.warmup ?? false };
}

function adam(what: string, o: AdamOptions | undefined, site?: Site): Required<AdamOptions> {
  checkKeys(what, o ?? {}, Object.keys(ADAM_DEFAULT), site);
  const r = { ...ADAM_DEFAULT, ...o };
  for (const [k, v] of Object.entries(r)) if (typeof v !== 'number' || !(v >= 0)) throw new GancError(`${what}.${k} must be a non-negative number`, site);
  return r;
}

export function gan(opts: GanOptions): GanDef {
  const site = callSite();
  checkKeys('gan({...})', opts, KNOWN, site);
  for (const k of ['name', 'image', 'z', 'batch', 'generator', 'discriminator', 'dLoss', 'gLoss'] as const) {
    if (opts[k] === undefined) throw new GancError(`gan({...}) needs '${k}'`, site);
  }
  for (const k of ['generator', 'discriminator', 'dLoss', 'gLoss'] as const) {
    if (typeof opts[k] !== 'function') throw new GancError(`gan({...}): '${k}' must be a function`, site);
  }
  checkKeys('image', opts.image, ['channels', 'size'], site);
  checkKeys('z', opts.z, ['size', 'dist'], site);
  checkKeys('optimizer', opts.optimizer ?? {}, ['g', 'd'], site);
  const dist = opts.z.dist ?? 'uniform';
  if (dist !== 'uniform' && dist !== 'normal') throw new GancError(`z.dist must be 'uniform' or 'normal', got '${dist}'`, site);
  if (!/^[A-Za-z0-9._-]+$/.test(opts.name)) throw new GancError(`name '${opts.name}' may only use letters, digits, '.', '_' and '-'`, site);
  return {
    kind: 'ganc.gan',
    name: opts.name,
    image: { channels: positiveInt('image.channels', opts.image.channels ?? 3, site), size: positiveInt('image.size', opts.image.size, site) },
    z: { size: positiveInt('z.size', opts.z.size, site), dist },
    batch: positiveInt('batch', opts.batch, site),
    classes: opts.classes === undefined ? undefined : positiveInt('classes', opts.classes, site),
    generator: opts.generator,
    discriminator: opts.discriminator,
    dLoss: opts.dLoss,
    gLoss: opts.gLoss,
    optimizer: { g: adam('optimizer.g', opts.optimizer?.g, site), d: adam('optimizer.d', opts.optimizer?.d, site) },
    gUpdatesPerD: positiveInt('gUpdatesPerD', opts.gUpdatesPerD ?? 1, site),
    dUpdatesPerG: positiveInt('dUpdatesPerG', opts.dUpdatesPerG ?? 1, site),
    ema: ema(opts.ema, site),
    seed: opts.seed ?? 0,
    site,
  };
}

/** A copy of a GAN definition with some options replaced (how variants state only what differs). */
export function variant(base: GanDef, changes: Partial<GanOptions>): GanDef {
  const { kind: _k, site: _s, ema: e, ...rest } = base;
  return gan({ ...rest, ...(e ? { ema: e } : {}), ...changes } as GanOptions);
}
