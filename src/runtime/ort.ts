/** onnxruntime-node sessions: one place for execution providers, threads and session options. */
import ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { GancError } from '../errors.ts';

export type Device = 'cpu' | 'cuda';

/**
 * How ORT's idle worker threads wait for the next parallel section: 'brief' spins up to BRIEF_SPIN_US, then sleeps;
 * 'off' sleeps at once; 'on' is ORT's own spin loop. Brief is the default: a sleeping worker takes tens of µs to wake
 * for each of the ~1000 parallel nodes an iteration runs (32 px width 32: 0.85× the time with brief spinning, 16 of 16
 * paired iterations faster; 64 px 0.94×), while ORT's own loop keeps spinning between runs and took a core from V8 and
 * the caller (10–17% slower on 2 cores). Off where several runs share the cores (`ganc study --jobs N`).
 */
export const SPIN_MODES = ['brief', 'off', 'on'] as const;
export type Spin = (typeof SPIN_MODES)[number];
/** How long a brief spin lasts (32 px width 32 against not spinning: 100 µs 0.93×, 1 ms 0.85×, 5 ms 0.92×). */
const BRIEF_SPIN_US = 1000;

/** The session options that make idle workers wait as `spin` says (intra-op pool; ganc runs one inter-op thread). */
export function threadOptions(spin: Spin) {
  if (spin === 'on') return {};
  const intra = spin === 'off' ? { allow_spinning: '0' } : { allow_spinning: '1', spin_duration_us: String(BRIEF_SPIN_US) };
  return { extra: { session: { intra_op: intra, inter_op: { allow_spinning: '0' } } } };
}

export interface SessionOptions {
  device?: Device;
  threads?: number;
  /** How idle worker threads wait (default 'brief', see Spin). */
  spin?: Spin;
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
    ...threadOptions(opts.spin ?? 'brief'),
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
