/** onnxruntime-node sessions: one place for execution providers, threads and session options. */
import ort from 'onnxruntime-node';
import { GancError } from '../errors.ts';

export type Device = 'cpu' | 'cuda';

export interface SessionOptions {
  device?: Device;
  threads?: number;
}

export async function createSession(model: Uint8Array | string, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const device = opts.device ?? 'cpu';
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [device],
    graphOptimizationLevel: 'all',
    ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
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

/** Which part of the CUDA stack is missing, and how to get it. */
export function cudaHelp(msg: string): string {
  const lib = /(lib[\w.+-]+\.so[.\d]*)/.exec(msg)?.[1];
  if (/providers_cuda|providers_shared/.test(msg) || /CUDA.*not.*(available|registered|supported)/i.test(msg)) {
    return `the CUDA execution provider is not installed for onnxruntime-node; run 'npm run setup:cuda' (see README, "CUDA")`;
  }
  if (lib) return `the CUDA execution provider is installed but ${lib} cannot be loaded: install CUDA 13 and cuDNN 9 (libcublas, libcudart, libcurand, libcudnn) and make them visible via LD_LIBRARY_PATH`;
  return `the CUDA execution provider failed to start: ${msg.split('\n')[0]}`;
}

export const Tensor = ort.Tensor;
export type OrtTensor = ort.Tensor;
