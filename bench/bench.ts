/**
 * `npm run bench`: ganc's DCGAN training iteration against the PyTorch peer (bench/dcgan_torch.py), same
 * architecture, optimizer, batch and thread count, run alternately in separate processes so that each one's peak
 * RSS is its own. Prints medians, the ganc/PyTorch ratio, achieved GFLOP/s and peak memory per configuration.
 *
 *   npm run bench -- [--sizes 32,64] [--rounds 3] [--iters 3] [--threads 2] [--profile]
 *
 * The peer needs Debian's python3-torch and libopenblas0-pthread (see bench/README.md).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    sizes: { type: 'string', default: '32,64' },
    rounds: { type: 'string', default: '3' },
    iters: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    profile: { type: 'boolean', default: false },
  },
});
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const common = (size: string) => ['--size', size, '--batch', '64', '--gf', '64', '--df', '64', '--threads', a.threads!, '--iters', a.iters!, '--warmup', '1'];

interface Result { median_s: number; peak_rss_mb: number; gflops_per_s?: number; compile_s?: number; profile?: { op: string; ms: number; share: number }[] }

function ganc(size: string, profile: boolean): Result {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/ganc_iter.ts', ...common(size), ...(profile ? ['--profile'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!);
}

function torch(size: string, deconv: string): Result | undefined {
  try {
    const out = execFileSync(python, ['bench/dcgan_torch.py', ...common(size), '--deconv', deconv, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out.trim().split('\n').pop()!);
  } catch {
    return undefined;
  }
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
const fmt = (x: number | undefined, d = 2) => (x === undefined ? 'n/a' : x.toFixed(d));

console.log(`ganc vs PyTorch: DCGAN iteration (1 D + 1 G update), batch 64, gf = df = 64, ${a.threads} threads, ${a.rounds} alternating rounds × ${a.iters} iterations`);
for (const size of a.sizes!.split(',')) {
  const g: Result[] = [], t: Result[] = [], tt: Result[] = [];
  for (let r = 0; r < Number(a.rounds); r++) {
    g.push(ganc(size, false));
    const x = torch(size, 'native');
    if (x) t.push(x);
    const y = torch(size, 'conv-adjoint');
    if (y) tt.push(y);
  }
  const gm = median(g.map((r) => r.median_s));
  const tm = t.length ? median(t.map((r) => r.median_s)) : undefined;
  const ttm = tt.length ? median(tt.map((r) => r.median_s)) : undefined;
  const flop = (g[0].gflops_per_s ?? 0) * g[0].median_s;
  console.log(`\n${size}×${size}  (${flop.toFixed(0)} GFLOP per iteration)`);
  console.log(`  ganc                      ${fmt(gm)} s   ${fmt(flop / gm, 0)} GFLOP/s   peak RSS ${fmt(Math.max(...g.map((r) => r.peak_rss_mb)), 0)} MB   compile ${fmt(median(g.map((r) => r.compile_s ?? 0)))} s`);
  console.log(`  PyTorch (nn.ConvTranspose2d) ${fmt(tm)} s   ${tm ? fmt(flop / tm, 0) : 'n/a'} GFLOP/s   peak RSS ${t.length ? fmt(Math.max(...t.map((r) => r.peak_rss_mb)), 0) : 'n/a'} MB`);
  console.log(`  PyTorch (conv-adjoint)    ${fmt(ttm)} s   ${ttm ? fmt(flop / ttm, 0) : 'n/a'} GFLOP/s   peak RSS ${tt.length ? fmt(Math.max(...tt.map((r) => r.peak_rss_mb)), 0) : 'n/a'} MB`);
  if (tm) console.log(`  ratio ganc/PyTorch        ${fmt(gm / tm)} (stock)   ${ttm ? fmt(gm / ttm) : 'n/a'} (conv-adjoint)`);
  else console.log('  PyTorch peer unavailable: apt-get install python3-torch libopenblas0-pthread');
  if (a.profile) {
    const p = ganc(size, true).profile ?? [];
    console.log('  ganc time per op type:');
    for (const r of p.slice(0, 10)) console.log(`    ${r.op.padEnd(16)} ${r.ms.toFixed(0).padStart(7)} ms  ${(100 * r.share).toFixed(1).padStart(5)}%`);
  }
}
