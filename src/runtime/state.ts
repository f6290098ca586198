/**
 * The training state: every parameter, optimizer slot and BN statistic, by name, as ORT tensors. A step's outputs
 * that carry `updates` replace the matching inputs, so state flows from one run() to the next without conversion.
 */
import ort from 'onnxruntime-node';
import { release } from './release.ts';
import type { Compiled, Manifest } from '../compiler/compile.ts';
import { EMA_PREFIX } from '../dsl/trace.ts';

/**
 * The state tensor that feeds generator input `name`: its moving average `ema/<name>` where the model keeps one
 * (samples, export and eval use the averaged generator by default), else — or with `raw` — the trained tensor.
 */
export function generatorStateName(name: string, has: (state: string) => boolean, raw = false): string {
  return !raw && has(EMA_PREFIX + name) ? EMA_PREFIX + name : name;
}

export class StateStore {
  readonly tensors = new Map<string, ort.Tensor>();
  /** Initial arrays the store made, which nothing else refers to: freed when the first update replaces them. */
  private readonly owned = new WeakSet<ort.Tensor>();
  /** Runs' outputs the store keeps as its arrays: later updates are copied into them. */
  private readonly kept = new WeakSet<ort.Tensor>();

  /**
   * A compiled model's initial state, each tensor in an array of its own that the store frees when the first update
   * replaces it (so nothing keeps the initial values through training: 35 MB at 32 px width 64). Tensors in `given`
   * (a checkpoint's, checked by the caller) are taken as they are instead, and left to V8: views into the file.
   */
  static initial(c: Pick<Compiled, 'manifest' | 'initialValue'>, given?: ReadonlyMap<string, ort.Tensor>): StateStore {
    const s = new StateStore();
    c.manifest.state.forEach((e, i) => {
      const old = given?.get(e.name);
      const t = old ?? new ort.Tensor('float32', c.initialValue(i), e.shape);
      s.tensors.set(e.name, t);
      if (!old) s.owned.add(t);
    });
    return s;
  }

  /** A store of views into `init` (init.bin's layout, see initArray), which stays the caller's: several stores may share it. */
  static fromInit(manifest: Manifest, init: Float32Array): StateStore {
    const s = new StateStore();
    for (const e of manifest.state) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      // Views, not copies: the initial values are read once, when the first step copies its feeds into ORT. Zero
      // slots (Adam's moments: 70 MB at 32 px width 64) are the store's own, freed by the first update.
      const t = new ort.Tensor('float32', e.offset < 0 ? new Float32Array(n) : init.subarray(e.offset, e.offset + n), e.shape);
      s.tensors.set(e.name, t);
      if (e.offset < 0) s.owned.add(t);
    }
    return s;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  get(name: string): ort.Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`state tensor ${name} is missing`);
    return t;
  }

  data(name: string): Float32Array {
    return this.get(name).data as Float32Array;
  }

  /**
   * Apply a step's outputs: each output with `updates` replaces that state tensor. The first update of a tensor keeps
   * the run's output as the store's own array (freeing the replaced one if the store owns it); later updates copy into
   * that array and free the run's fresh copy at once (release.ts). State then stays where the first run put it, and
   * each run's copies are short-lived, so glibc reuses the same free space run after run instead of growing the heap
   * around copies that moved every run (32 px width 64, separate processes: peak RSS 510–567 → 487–550 MB, median
   * 522 → 499; `ganc run` at 32 px width 32 rose instead, median ~320 → 335 MB, still below PyTorch's loop; time no
   * detectable difference). A tensor from `get` always holds the latest values.
   */
  apply(outputs: Record<string, ort.Tensor>, updates: ReadonlyMap<string, string>): void {
    for (const [out, name] of updates) {
      const old = this.tensors.get(name);
      const next = outputs[out];
      if (old === next) continue;
      if (old && this.kept.has(old) && old.data.length === next.data.length) {
        (old.data as Float32Array).set(next.data as Float32Array);
        release(next.data);
        continue;
      }
      this.tensors.set(name, next);
      this.kept.add(next);
      if (old && this.owned.has(old)) release(old.data);
    }
  }

  /** Name of the first state tensor with a NaN or infinity, if any. */
  firstNonFinite(): string | undefined {
    for (const [name, t] of this.tensors) {
      const d = t.data as Float32Array;
      for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return name;
    }
    return undefined;
  }
}
