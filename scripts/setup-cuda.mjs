#!/usr/bin/env node
// Installs the CUDA execution provider for the pinned onnxruntime-node (1.29.0): first through ORT's own install
// script (its NuGet feed), else from the npm package that ships the same 1.29.0 provider libraries.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const ortDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
const version = require('onnxruntime-node/package.json').version;
const binDir = path.join(ortDir, 'bin', 'napi-v6', 'linux', 'x64');
const LIBS = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so'];
const NPM_PACKAGE = 'com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9'; // ships ORT 1.29.0's CUDA provider

const have = () => LIBS.slice(0, 2).every((l) => existsSync(path.join(binDir, l)));

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`setup:cuda: the CUDA provider is only packaged for linux/x64 (this is ${process.platform}/${process.arch})`);
  process.exit(1);
}
if (version !== '1.29.0') console.warn(`setup:cuda: warning: onnxruntime-node is ${version}; the npm fallback ships 1.29.0's provider`);
if (have()) {
  console.log(`setup:cuda: the CUDA provider is already installed in ${binDir}`);
  process.exit(0);
}

try {
  console.log('setup:cuda: trying onnxruntime-node\'s own installer (needs its NuGet feed)…');
  execFileSync(process.execPath, [path.join(ortDir, 'script', 'install.js')], {
    stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'true' }, cwd: ortDir, timeout: 120_000,
  });
} catch {
  console.log('setup:cuda: the feed is not reachable');
}

if (!have()) {
  console.log(`setup:cuda: fetching ${NPM_PACKAGE} from the npm registry (about 180 MB)…`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ganc-cuda-'));
  try {
    execFileSync('npm', ['pack', NPM_PACKAGE, '--silent', '--pack-destination', tmp], { stdio: ['ignore', 'ignore', 'inherit'] });
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error('npm pack produced nothing');
    execFileSync('tar', ['-xzf', path.join(tmp, tgz), '-C', tmp]);
    const found = new Map();
    const walk = (d) => {
      for (const f of readdirSync(d)) {
        const p = path.join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (LIBS.includes(f)) found.set(f, p);
      }
    };
    walk(tmp);
    for (const lib of LIBS) {
      if (!found.has(lib)) throw new Error(`${lib} is not in ${NPM_PACKAGE}`);
      copyFileSync(found.get(lib), path.join(binDir, lib));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (!have()) {
  console.error('setup:cuda: could not install the CUDA provider');
  process.exit(1);
}
console.log(`setup:cuda: installed the CUDA provider into ${binDir}.
It needs CUDA 13 (libcublas, libcublasLt, libcudart, libcurand) and cuDNN 9 on the library path; then use --device cuda.`);
