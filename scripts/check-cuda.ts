/**
 * `npm run check:cuda`: everything about ganc on a CUDA machine in one prepared script (about 5–10 minutes):
 *  1. installs the CUDA execution provider (npm run setup:cuda) unless present;
 *  2. correctness: `ganc run` 20 steps on CUDA and on CPU from the same seed (same initial state, data order and
 *     noise); the logged losses must agree — step 1 within 1e-2 relative (only arithmetic order and TF32 differ),
 *     every step within 5e-2 (GAN training amplifies rounding differences);
 *  3. speed: `ganc run` steady-state s/it on CUDA with --steps-per-run 1 and 8, the bare iteration on CUDA, and a
 *     PyTorch CUDA peer (bench/dcgan_torch.py --device cuda) when torch sees a GPU.
 * Without an NVIDIA GPU it says so in one line and exits 1. Prints a table to paste into the README.
 *
 *   npm run check:cuda [-- --size 64 --width 64 --steps 40]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readMetrics } from '../src/runtime/run_folder.ts';
import { ensureBuiltinData } from '../src/runtime/data/logos.ts';

const { values: a } = parseArgs({ options: {
  size: { type: 'string', default: '64' }, width: { type: 'string', default: '64' }, steps: { type: 'string', default: '40' },
} });
const fail = (msg: string): never => {
  console.error(`check:cuda: ${msg}`);
  process.exit(1);
};

const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
if (smi.error || smi.status !== 0 || !/GPU \d/.test(smi.stdout)) fail('no NVIDIA GPU here (nvidia-smi -L finds none): run this on a CUDA machine');
console.log(`check:cuda: ${smi.stdout.trim().split('\n')[0]}`);
if (spawnSync(process.execPath, ['scripts/setup-cuda.mjs'], { stdio: 'inherit' }).status !== 0) fail('installing the CUDA execution provider failed (see above)');

const tmp = mkdtempSync(path.join(tmpdir(), 'ganc-cuda-'));
const model = path.join(tmp, 'model.ts');
// The seed's DCGAN at the asked size (1 D + 2 G updates per iteration, batch 64).
writeFileSync(model, `import { dcgan } from '${path.resolve('models/dcgan.ts')}';\nexport default dcgan({ size: ${a.size}, gf: ${a.width}, df: ${a.width}, channels: 3 }, 'cuda-check');\n`);
const data = await ensureBuiltinData(Number(a.size), false);

/** `ganc run` for `steps` steps; its metrics rows. */
function run(name: string, device: string, steps: number, extra: string[] = []) {
  const out = path.join(tmp, name);
  const r = spawnSync(process.execPath, ['bin/ganc.mjs', 'run', model, '--data', data, '--out', out, '--steps', String(steps), '--seed', '1',
    '--device', device, '--sample-every', '1000', '--ckpt-every', '1000', '--force', ...extra], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) fail(`ganc run --device ${device} ${extra.join(' ')} failed: ${r.stderr.trim().split('\n').pop()}`);
  return readMetrics(path.join(out, 'metrics.jsonl'));
}
const steady = (rows: { time: number }[], warm = 5) => (rows[rows.length - 1].time - rows[warm - 1].time) / (rows.length - warm);

try {
  // 2. Same losses on both devices.
  const cpu = run('cpu', 'cpu', 20), gpu = run('cuda', 'cuda', 20);
  let worst = 0, first = 0;
  for (let i = 0; i < 20; i++) for (const k of ['d_loss', 'g_loss']) {
    const rel = Math.abs(gpu[i][k] - cpu[i][k]) / Math.max(Math.abs(cpu[i][k]), 1e-3);
    worst = Math.max(worst, rel);
    if (i === 0) first = Math.max(first, rel);
  }
  console.log(`losses CUDA vs CPU over 20 steps: step 1 max relative difference ${first.toExponential(2)} (tolerance 1e-2), all steps ${worst.toExponential(2)} (tolerance 5e-2)`);
  if (first > 1e-2 || worst > 5e-2) fail('CUDA and CPU losses disagree beyond the tolerance');

  // 3. Speed.
  const steps = Number(a.steps);
  const k1 = steady(run('k1', 'cuda', steps)), k8 = steady(run('k8', 'cuda', steps, ['--steps-per-run', '8']), 8);
  const bare = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', 'bench/ganc_iter.ts', '--device', 'cuda', '--size', a.size!, '--gf', a.width!, '--df', a.width!, '--g-steps', '2', '--iters', '10'], { encoding: 'utf8' }).trim().split('\n').pop()!);
  const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const hasTorchCuda = spawnSync(py, ['-c', 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)']).status === 0;
  const torch = hasTorchCuda ? JSON.parse(execFileSync(py, ['bench/dcgan_torch.py', '--device', 'cuda', '--deconv', 'native', '--size', a.size!, '--gf', a.width!, '--df', a.width!, '--g-steps', '2', '--iters', '10', '--json'], { encoding: 'utf8' }).trim().split('\n').pop()!) : undefined;
  console.log(`\n| ${a.size} px, gf = df = ${a.width}, batch 64, 1 D + 2 G | s/iteration |\n|---|---|`);
  console.log(`| ganc run --device cuda --steps-per-run 1 | ${k1.toFixed(4)} |`);
  console.log(`| ganc run --device cuda --steps-per-run 8 | ${k8.toFixed(4)} |`);
  console.log(`| ganc bare iteration on CUDA | ${bare.median_s.toFixed(4)} |`);
  console.log(`| PyTorch ${torch ? `${torch.torch} CUDA bare iteration | ${torch.median_s.toFixed(4)}` : 'CUDA: not installed | n/a'} |`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
