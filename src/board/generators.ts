/**
 * Generators for the playground: a run's generator exported on the fly from its latest checkpoint (kept in memory,
 * keyed by the checkpoint's mtime and size — the board never writes into a run folder), or any exported
 * generator.onnx under the board's folder. The noise comes from ganc's own seeded generator, so the page's grid for
 * seed S is the one `ganc sample --seed S` draws.
 */
import { statSync } from 'node:fs';
import { exportGenerator } from '../runtime/export.ts';
import { generatorInfo, type GeneratorInfo } from '../runtime/onnx_meta.ts';
import { runPaths } from '../runtime/run_folder.ts';
import { sampleNoise } from '../runtime/batches.ts';
import { Rng } from '../random.ts';
import { openRun } from '../cli/export.ts';
import { HttpError } from './http.ts';

export interface PlaygroundModel extends GeneratorInfo {
  model?: string;
  step: number | null;
  /** Where the page fetches the ONNX bytes. */
  url: string;
}

interface Exported {
  key: string;
  info: Omit<PlaygroundModel, 'url'>;
  bytes: Uint8Array;
}

/** Exports kept: a few runs' generators (each a few MB for the base DCGAN). */
const CACHE_SIZE = 4;

export class Generators {
  private cache = new Map<string, Promise<Exported>>();

  /** A run's generator from its checkpoint, exported once per checkpoint version. */
  async fromRun(dir: string): Promise<Exported> {
    const ckpt = runPaths(dir).checkpoint;
    let st;
    try {
      st = statSync(ckpt);
    } catch {
      throw new HttpError(404, 'this run has no checkpoint yet (the first one is written after --ckpt-every steps)');
    }
    const key = `${st.mtimeMs}:${st.size}`;
    const hit = this.cache.get(dir);
    if (hit && (await hit.catch(() => undefined))?.key === key) return hit;
    const job = (async (): Promise<Exported> => {
      const { compiled, meta, state, hash } = await openRun(dir);
      const { def } = compiled;
      const bytes = exportGenerator(compiled, state, { step: meta.step, modelHash: hash });
      return {
        key,
        bytes,
        info: { zSize: def.z.size, zDist: def.z.dist, channels: def.image.channels, size: def.image.size, model: def.name, step: meta.step },
      };
    })();
    this.cache.delete(dir);
    this.cache.set(dir, job);
    while (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    job.catch(() => this.cache.delete(dir));
    return job;
  }
}

/** What an exported generator.onnx says about itself (400 for an ONNX file that is not one). */
export function fileGenerator(file: string): Omit<PlaygroundModel, 'url'> {
  try {
    return generatorInfo(file);
  } catch (e) {
    throw new HttpError(400, e instanceof Error ? e.message : String(e));
  }
}

/** `n` noise vectors of size `size` for seed `seed`, as `ganc sample --seed` draws them. */
export function seededNoise(seed: number, n: number, size: number, dist: string): Float32Array {
  if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) throw new HttpError(400, 'seed must be an integer in [0, 2^32)');
  if (!(Number.isInteger(n) && n >= 1 && n <= 1024)) throw new HttpError(400, 'n must be an integer in [1, 1024]');
  if (!(Number.isInteger(size) && size >= 1 && size <= 4096)) throw new HttpError(400, 'size must be an integer in [1, 4096]');
  if (dist !== 'uniform' && dist !== 'normal') throw new HttpError(400, 'dist must be uniform or normal');
  return sampleNoise(new Rng(`${seed}/samples`), n * size, dist);
}
