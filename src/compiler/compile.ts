/**
 * The compiler's front door: a GAN definition → optimized graphs, ONNX bytes, a manifest and initial state.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { GanDef } from '../dsl/gan.ts';
import { GancError } from '../errors.ts';
import { describeInit, initialValues } from '../dsl/init.ts';
import { EMA_PREFIX, type TensorSpec } from '../dsl/trace.ts';
import { type Graph, type Role, numel } from './ir.ts';
import { fuseSteps } from './fuse_steps.ts';
import { toOnnx } from './onnx.ts';
import { opDef } from './ops/registry.ts';
import { optimizeGraph } from './passes/index.ts';
import { ALL_CONV_FORMS, chooseConvForms, type ConvForms } from './passes/conv_forms.ts';
import { fuseConvBias } from './passes/conv_bias.ts';
import { graphToText } from './text.ts';
import { traceClassify } from './trace_classify.ts';
import { traceGan, type TraceOptions } from './trace_gan.ts';

export interface CompileOptions extends TraceOptions {
  /** Also build `train_k`, which runs this many iterations per run() (fuse_steps.ts). Off unless set. */
  stepsPerRun?: number;
  /** Convolution forms of the training graphs (passes/conv_forms.ts); default: all (env GANC_CONV_FORMS=none|dense,winograd,phase,patches… for A/B). */
  convForms?: ConvForms;
}

/** The training graphs, which get the faster convolution forms; generate and classify keep plain ops (export). */
const STEP_GRAPHS = new Set(['d_step', 'g_step']);

function defaultConvForms(): ConvForms {
  const env = process.env.GANC_CONV_FORMS;
  if (env === undefined) return ALL_CONV_FORMS;
  // Every form ALL_CONV_FORMS names, on where the variable mentions it (a new form needs no line here).
  const forms = { ...ALL_CONV_FORMS };
  for (const form of Object.keys(forms) as (keyof ConvForms)[]) forms[form] = env.includes(form);
  return forms;
}

export interface TensorEntry {
  name: string;
  shape: number[];
  dtype: string;
  role: Role;
  /** For outputs that carry a new value of a state input. */
  updates?: string;
}

export interface GraphEntry {
  file: string;
  inputs: TensorEntry[];
  outputs: TensorEntry[];
  nodes: number;
  flops: number;
}

export interface StateEntry {
  name: string;
  shape: number[];
  role: 'param' | 'bn_state' | 'sn_state' | 'optimizer_state' | 'ema';
  network: string;
  init: string;
  /** Offset (in float32 elements) of the initial value in init.bin; -1 for state that starts at zero. */
  offset: number;
}

export interface Manifest {
  format: 'ganc/1';
  model: string;
  modelHash?: string;
  image: { channels: number; size: number };
  z: { size: number; dist: string };
  batch: number;
  classes?: number;
  gUpdatesPerD: number;
  /** D updates per iteration, when more than one. */
  dUpdatesPerG?: number;
  /** The moving average of G's weights, when the model keeps one. */
  ema?: { decay: number; warmup: boolean };
  seed: number;
  graphs: Record<string, GraphEntry>;
  state: StateEntry[];
  flopsPerIteration: number;
}

export interface Compiled {
  def: GanDef;
  graphs: Graph[];
  specs: TensorSpec[];
  manifest: Manifest;
  /**
   * The initial value of manifest.state[i], computed anew (seeded by the model's seed and the tensor's name) into an
   * array of its own; zeros for optimizer state. Nothing keeps the initial state once a run's store has replaced it.
   */
  initialValue: (i: number) => Float32Array;
}

/** Initial values of parameters and BN statistics, concatenated in manifest.state order (init.bin's layout). */
export function initArray(c: Compiled): Float32Array {
  const stored = c.manifest.state.filter((e) => e.offset >= 0);
  const init = new Float32Array(stored.reduce((n, e) => n + numel(e.shape), 0));
  c.manifest.state.forEach((e, i) => { if (e.offset >= 0) init.set(c.initialValue(i), e.offset); });
  return init;
}

export function graphFlops(g: Graph): number {
  return g.nodes.reduce((s, n) => s + (opDef(n.op).flops?.(n) ?? 0), 0);
}

const entry = (io: Graph['inputs'][number]): TensorEntry => ({
  name: io.name, shape: [...io.value.shape], dtype: io.value.dtype, role: io.role, ...(io.updates ? { updates: io.updates } : {}),
});

/** `flopsOf`: the graph before lowering passes, so that FLOPs count the model's arithmetic, not a form's. */
const graphEntry = (g: Graph, flopsOf: Graph = g): GraphEntry =>
  ({ file: `${g.name}.onnx`, inputs: g.inputs.map(entry), outputs: g.outputs.map(entry), nodes: g.nodes.length, flops: graphFlops(flopsOf) });

export function compileGan(def: GanDef, opts: CompileOptions = {}): Compiled {
  const traced = traceGan(def, opts);
  // Models with `classes` also get `classify` (D's class logits, inference mode) for `ganc eval`'s accuracy.
  const extra = def.classes ? [traceClassify(def, new Map(traced.specs.map((s) => [s.name, s])))] : [];
  const optimized = [...traced.graphs, ...extra].map(optimizeGraph);
  const forms = opts.convForms ?? defaultConvForms();
  const graphs = optimized.map((g) => (STEP_GRAPHS.has(g.name) ? fuseConvBias(chooseConvForms(g, forms)) : g));
  const byName = Object.fromEntries(optimized.map((g) => [g.name, g]));
  const manifestGraphs: Record<string, GraphEntry> = {};
  graphs.forEach((g, i) => (manifestGraphs[g.name] = graphEntry(g, optimized[i])));

  // Every state tensor any graph reads: parameters, BN statistics and SN vectors from the specs, the moving averages
  // of G's (which start equal to them), then optimizer state.
  const state: StateEntry[] = [];
  const sources: TensorSpec[] = [];
  let offset = 0;
  const stored = (e: Omit<StateEntry, 'offset'>, source: TensorSpec) => {
    state.push({ ...e, offset });
    sources.push(source);
    offset += numel(e.shape);
  };
  for (const s of traced.specs) stored({ name: s.name, shape: s.shape, role: s.role, network: s.network, init: describeInit(s.init) }, s);
  const averaged = new Set(graphs.flatMap((g) => g.inputs.filter((i) => i.role === 'ema').map((i) => i.name)));
  for (const s of traced.specs) {
    if (averaged.has(EMA_PREFIX + s.name)) stored({ name: EMA_PREFIX + s.name, shape: s.shape, role: 'ema', network: s.network, init: `= ${s.name}` }, s);
  }
  // Optimizer state starts at zero: listed, but not stored in init.bin (offset -1).
  const seen = new Set(state.map((s) => s.name));
  for (const g of graphs) for (const i of g.inputs) {
    if (i.role !== 'optimizer_state' || seen.has(i.name)) continue;
    seen.add(i.name);
    state.push({ name: i.name, shape: [...i.value.shape], role: 'optimizer_state', network: i.name.split('/')[1], init: 'zeros', offset: -1 });
  }

  const manifest: Manifest = {
    format: 'ganc/1',
    model: def.name,
    image: def.image,
    z: def.z,
    batch: def.batch,
    ...(def.classes ? { classes: def.classes } : {}),
    gUpdatesPerD: def.gUpdatesPerD,
    ...(def.dUpdatesPerG > 1 ? { dUpdatesPerG: def.dUpdatesPerG } : {}),
    ...(def.ema ? { ema: def.ema } : {}),
    seed: def.seed,
    graphs: manifestGraphs,
    state,
    flopsPerIteration: def.dUpdatesPerG * graphFlops(byName.d_step) + def.gUpdatesPerD * graphFlops(byName.g_step),
  };
  const initialValue = (i: number) => {
    const s = sources[i];
    return s ? initialValues(s.init, numel(s.shape), def.seed, s.name) : new Float32Array(numel(state[i].shape));
  };
  const c: Compiled = { def, graphs, specs: traced.specs, manifest, initialValue };
  return opts.stepsPerRun === undefined ? c : withFusedSteps(c, opts.stepsPerRun);
}

/** train_k stacks one batch and one z per run of an iteration: it refuses several D updates, or noise besides z. */
export function checkFusable(c: Compiled): void {
  const extra = ['d_step', 'g_step'].flatMap((n) => c.manifest.graphs[n].inputs.filter((i) => i.role === 'noise' && i.name !== 'z').map((i) => i.name));
  if (c.def.dUpdatesPerG === 1 && !extra.length) return;
  const has = [c.def.dUpdatesPerG > 1 ? `dUpdatesPerG ${c.def.dUpdatesPerG}` : '', extra.length ? `the noise input${extra.length > 1 ? 's' : ''} ${[...new Set(extra)].join(', ')}` : ''].filter(Boolean).join(' and ');
  throw new GancError(`--steps-per-run: the fused graph runs one D update per iteration and no noise but z; model ${c.def.name} has ${has}: train it without --steps-per-run`, c.def.site);
}

/**
 * `c` plus `train_k` (K = `stepsPerRun` iterations per run()), built from its d_step and g_step. It is not run
 * through the clean-up passes: the step graphs already were, and those passes do not read a Loop's body.
 */
export function withFusedSteps(c: Compiled, stepsPerRun: number): Compiled {
  checkFusable(c);
  const step = (name: string) => c.graphs.find((g) => g.name === name)!;
  const fused = fuseSteps(step('d_step'), step('g_step'), c.def.gUpdatesPerD, stepsPerRun);
  const graphs = [...c.graphs.filter((g) => g.name !== fused.name), fused];
  // Its FLOPs are K iterations' model arithmetic (its body holds the step graphs' lowered forms).
  const entry = { ...graphEntry(fused), flops: stepsPerRun * c.manifest.flopsPerIteration };
  return { ...c, graphs, manifest: { ...c.manifest, graphs: { ...c.manifest.graphs, [fused.name]: entry } } };
}

/** Write the compiled model: one .onnx per graph, manifest.json, init.bin, and optionally the text form. */
export function writeCompiled(c: Compiled, dir: string, opts: { print?: boolean; modelHash?: string } = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, data: Uint8Array | string) => {
    const file = path.join(dir, name);
    writeFileSync(file + '.tmp', data);
    renameSync(file + '.tmp', file);
    written.push(file);
  };
  for (const g of c.graphs) {
    put(`${g.name}.onnx`, toOnnx(g, { docString: `ganc ${c.def.name}: ${g.name}` }));
    if (opts.print) put(`${g.name}.txt`, graphToText(g, { sites: true }));
  }
  const init = initArray(c);
  put('init.bin', new Uint8Array(init.buffer, init.byteOffset, init.byteLength));
  put('manifest.json', JSON.stringify({ ...c.manifest, ...(opts.modelHash ? { modelHash: opts.modelHash } : {}) }, null, 1) + '\n');
  return written;
}
