/** The compiled model's sessions, and one call per graph that feeds state and data and returns the outputs. */
import ort from 'onnxruntime-node';
import type { Compiled, GraphEntry } from '../compiler/compile.ts';
import { FUSED_GRAPH } from '../compiler/fuse_steps.ts';
import { STATE_ROLES } from '../compiler/ir.ts';
import { toOnnx } from '../compiler/onnx.ts';
import { createSession, type SessionOptions } from './ort.ts';
import { raiseMallocThresholds } from './heap.ts';
import type { StateStore } from './state.ts';

export class GraphRunner {
  /** output name → state name it replaces */
  readonly updates: Map<string, string>;

  constructor(readonly entry: GraphEntry, readonly session: ort.InferenceSession) {
    this.updates = new Map(entry.outputs.filter((o) => o.updates).map((o) => [o.name, o.updates!]));
  }

  /**
   * Run with state from `store` and the given data/noise/label feeds; state outputs are applied to the store.
   * `stateName` says which state tensor feeds a state input (default: its namesake; the moving-average generator
   * reads `ema/<name>`).
   */
  async run(store: StateStore, feeds: Record<string, ort.Tensor>, stateName = (input: string) => input): Promise<Record<string, ort.Tensor>> {
    const all: Record<string, ort.Tensor> = {};
    for (const i of this.entry.inputs) {
      if (STATE_ROLES.has(i.role)) all[i.name] = store.get(stateName(i.name));
      else if (feeds[i.name]) all[i.name] = feeds[i.name];
      else throw new Error(`no feed for ${i.role} input ${i.name}`);
    }
    const out = await this.session.run(all);
    store.apply(out, this.updates);
    return out;
  }

  inputs(role: string): string[] {
    return this.entry.inputs.filter((i) => i.role === role).map((i) => i.name);
  }
}

export interface Sessions {
  d: GraphRunner;
  g: GraphRunner;
  generate: GraphRunner;
  /** train_k (several iterations per run()), when the model was compiled with it. */
  fused?: GraphRunner;
}

export async function openSessions(c: Compiled, opts: SessionOptions): Promise<Sessions> {
  await raiseMallocThresholds(); // training steps free and reallocate their intermediates every step (heap.ts)
  const open = async (name: string) => {
    const graph = c.graphs.find((g) => g.name === name)!;
    // The generator graph takes any number of z rows (sample grids need not match the training batch).
    const bytes = toOnnx(graph, name === 'generate' ? { dynamicBatch: c.def.batch } : {});
    return new GraphRunner(c.manifest.graphs[name], await createSession(bytes, opts));
  };
  const fused = c.manifest.graphs[FUSED_GRAPH] ? await open(FUSED_GRAPH) : undefined;
  return { d: await open('d_step'), g: await open('g_step'), generate: await open('generate'), ...(fused ? { fused } : {}) };
}
