/**
 * onnxruntime-web, served from node_modules. WASM by default, with threads when the page is cross-origin isolated
 * (the board sends COOP/COEP, so SharedArrayBuffer exists); WebGPU when asked for and the browser has it.
 */
const loaded = new Map();

/** Whether WebGPU can run here: the API exists and the browser hands out an adapter (headless ones often do not). */
export async function hasWebGpu() {
  try {
    return !!(await globalThis.navigator?.gpu?.requestAdapter());
  } catch {
    return false;
  }
}

let threadLimit = 8;

/** Cap the WASM threads (before the first session; e.g. #/train?threads=1). */
export function limitThreads(n) {
  threadLimit = Math.max(1, n | 0);
}

/** Threads onnxruntime-web may use: all cores (up to 8, or the limit) when isolated, else 1. */
export const wasmThreads = () => (globalThis.crossOriginIsolated ? Math.max(1, Math.min(threadLimit, navigator.hardwareConcurrency || 1)) : 1);

export function loadOrt(ep = 'wasm') {
  if (!loaded.has(ep)) {
    loaded.set(ep, (async () => {
      const ort = await import(ep === 'webgpu' ? '/vendor/ort/ort.webgpu.min.mjs' : '/vendor/ort/ort.wasm.min.mjs');
      ort.env.wasm.wasmPaths = '/vendor/ort/';
      ort.env.wasm.numThreads = wasmThreads();
      return ort;
    })());
  }
  return loaded.get(ep);
}

/** A session on `bytes` (an ONNX model) with the given execution provider. */
export async function createSession(bytes, ep = 'wasm') {
  const ort = await loadOrt(ep);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ep === 'webgpu' ? ['webgpu', 'wasm'] : ['wasm'], graphOptimizationLevel: 'all' });
  return { ort, session };
}
