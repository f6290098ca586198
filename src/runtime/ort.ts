/** onnxruntime-node sessions: one place for execution providers, threads and session options. */
import ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { GancError } from '../errors.ts';

export type Device = 'cpu' | 'cuda';

export interface SessionOptions {
  device?: Device;
  threads?: number;
  /**
   * Let idle worker threads spin (ORT's default). Off unless asked for: on this project's 2-core machine spinning made
   * a training iteration 10–17% slower even alone (the spinning worker takes a core from V8's and the caller's
   * threads), and far slower when several trainings share the cores (FACTS.md).
   */
  spinning?: boolean;
  /** Write ORT's profile (per-node times) with this file prefix. */
  profile?: string;
}

export async function createSession(model: Uint8Array | string, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const device = opts.device ?? 'cpu';
  if (device === 'cuda') {
    if (!existsSync(path.join(PROVIDER_DIR, 'libonnxruntime_providers_cuda.so'))) throw new GancError(cudaHelp(''));
    ort.env.logLevel = 'fatal'; // ORT would also log a failed provider load; ganc says it once, in one line
  }
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [device],
    graphOptimizationLevel: 'all',
    // Training graphs keep large activations alive between forward and backward; ORT's arena and memory pattern
    // roughly double the peak (DCGAN-64: 1.40 GB → 0.75 GB) for no measurable speed-up (bench/).
    enableCpuMemArena: false,
    enableMemPattern: false,
    ...(device === 'cuda' ? { logSeverityLevel: 4 as const } : {}),
    ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
    ...(!opts.spinning ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } } : {}),
    ...(opts.profile ? { enableProfiling: true, profileFilePrefix: opts.profile } : {}),
  };
  try {
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (device === 'cuda') throw new GancError(cudaHelp(msg));
    throw new GancError(`onnxruntime could not load the graph: ${msg.split('\n')[0]}`, typeof model === 'string' ? { file: model } : undefined);
  }
}

const PROVIDER_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', 'linux', 'x64');

/** Which part of the CUDA stack is missing, and how to get it. */
export function cudaHelp(msg: string): string {
  if (!existsSync(path.join(PROVIDER_DIR, 'libonnxruntime_providers_cuda.so'))) {
    return `the CUDA execution provider is not installed for onnxruntime-node: run 'npm run setup:cuda' (see README, "CUDA")`;
  }
  if (/load (shared )?librar|cannot open shared object/i.test(msg)) {
    return 'the CUDA execution provider is installed but the CUDA libraries it needs cannot be loaded: install CUDA 13 (libcublas, libcublasLt, libcudart, libcurand) and cuDNN 9, and make them visible (LD_LIBRARY_PATH)';
  }
  return `the CUDA execution provider failed to start: ${msg.split('\n')[0]}`;
}

export const Tensor = ort.Tensor;
export type OrtTensor = ort.Tensor;
