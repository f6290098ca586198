/**
 * What the browser-training page loads: a small model's compiled step graphs (the same ONNX bytes ganc run feeds to
 * onnxruntime-node), its manifest (which inputs are state, which outputs replace them), its seeded initial state, and
 * a few hundred built-in logos as one uint8 NCHW blob. Compiled and rendered once, on first request.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initArray, type Compiled } from '../compiler/compile.ts';
import { toOnnx } from '../compiler/onnx.ts';
import { GancError } from '../errors.ts';
import { loadImageFolder, type Dataset } from '../runtime/data/images.ts';
import { ensureLogoSubset } from '../runtime/data/logos.ts';
import { compileModelFile } from '../cli/compile.ts';
import { HttpError } from './http.ts';

/** The model the page trains unless `ganc board --train-model` names another. */
export const DEFAULT_TRAIN_MODEL = fileURLToPath(new URL('../../models/dcgan-small.ts', import.meta.url));
/** Logos the page trains on: enough for variety, small enough to load at once (320 × 3 × 32 × 32 = 1 MB). */
export const BROWSER_LOGOS = 320;
/** The graphs the page runs. */
export const BROWSER_GRAPHS = ['d_step', 'g_step', 'generate'] as const;

export class BrowserTraining {
  private compiled?: Promise<Compiled & { hash: string }>;
  private data?: Promise<Dataset>;

  constructor(readonly modelFile = DEFAULT_TRAIN_MODEL, private logos = BROWSER_LOGOS) {}

  model(): Promise<Compiled & { hash: string }> {
    this.compiled ??= compileModelFile(this.modelFile).then((c) => {
      if (c.def.classes) throw new GancError(`${c.def.name} needs labelled data; the browser trains unlabelled models only`, { file: this.modelFile });
      return c;
    });
    return this.compiled;
  }

  dataset(): Promise<Dataset> {
    this.data ??= this.model().then(async (c) => loadImageFolder(await ensureLogoSubset(c.def.image.size, this.logos), { size: c.def.image.size, minCount: c.def.batch }));
    return this.data;
  }

  /** What the page needs to run the loop: shapes, roles, which output updates which state, the data's size. */
  async manifest(): Promise<Record<string, unknown>> {
    const c = await this.model();
    const data = await this.dataset();
    const { manifest, def } = c;
    return {
      model: def.name,
      modelFile: path.relative(process.cwd(), this.modelFile) || this.modelFile,
      hash: c.hash,
      image: def.image,
      z: def.z,
      batch: def.batch,
      gUpdatesPerD: def.gUpdatesPerD,
      seed: def.seed,
      flopsPerIteration: manifest.flopsPerIteration,
      graphs: Object.fromEntries(BROWSER_GRAPHS.map((g) => [g, manifest.graphs[g]])),
      state: manifest.state,
      data: { count: data.count, size: data.size, source: `the first ${data.count} built-in logos` },
    };
  }

  /** A graph's ONNX bytes, encoded as ganc run encodes them (the generator with a free batch size). */
  async graph(name: string): Promise<Uint8Array> {
    if (!(BROWSER_GRAPHS as readonly string[]).includes(name)) throw new HttpError(404, `no graph ${name}`);
    const c = await this.model();
    const g = c.graphs.find((x) => x.name === name)!;
    return toOnnx(g, name === 'generate' ? { dynamicBatch: c.def.batch } : {});
  }

  async init(): Promise<Uint8Array> {
    const init = initArray(await this.model());
    return new Uint8Array(init.buffer, init.byteOffset, init.byteLength);
  }

  async pixels(): Promise<Uint8Array> {
    return (await this.dataset()).pixels;
  }
}
