/**
 * `npm run bench`: ganc against its PyTorch peer (bench/dcgan_torch.py), same architecture, optimizer, batch and
 * threads, each configuration's processes alternating (ganc, PyTorch, ganc, …) so that disturbances hit both and each
 * process's peak RSS is its own. The peer computes transposed convolutions as conv backward-data on oneDNN (what
 * current PyTorch releases run for nn.ConvTranspose2d); `--native` adds Debian torch 1.13's own slow
 * nn.ConvTranspose2d as an extra, labelled column.
 *
 * Rows: the bare training iteration (1 D + 1 G update, fixed random data) at 64 px / gf = df = 64, 32 px / 64 and
 * 32 px / 32; and end to end: `ganc run` on the built-in logos (data, noise, state, metrics and all) against a
 * PyTorch training loop over the same folder (DataLoader with a prefetching worker), 32 px, width 32, 1 D + 2 G,
 * steady-state seconds per iteration from each one's per-step log. A row's ratio is the median of its rounds' ratios:
 * the two processes of a round run back to back, in the same phase of a machine whose speed swings ~25% within
 * minutes, which a ratio of the two sides' medians (taken from different rounds) does not ensure.
 *
 *   npm run bench -- [--rows 64,32w64,32w32,e2e] [--rounds 3] [--iters 3] [--warmup 3] [--e2e-steps 40] [--threads 2] [--native] [--profile]
 *
 * Defaults take about 5.5 minutes on 2 cores. The peer needs Debian's python3-torch (and python3-pil for the
 * end-to-end row); see bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBuiltinData } from '../src/runtime/data/logos.ts';
import { readMetrics } from '../src/runtime/run_folder.ts';

const { values: a } = parseArgs({
  options: {
    rows: { type: 'string', default: '64,32w64,32w32,e2e' },
    rounds: { type: 'string', default: '3' },
    iters: { type: 'string', default: '3' },
    // Both sides' first iterations still fault in fresh memory and warm caches (ganc at 32 px: ~10 k minor faults in
    // the 2nd and 3rd iteration, none after); three warm-ups time the steady state every long training run is in.
    warmup: { type: 'string', default: '3' },
    'e2e-steps': { type: 'string', default: '40' },
    threads: { type: 'string', default: '2' },
    native: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const WARMUP_STEPS = 5;

interface Config { id: string; label: string; size: number; width: number }
const BARE: Config[] = [
  { id: '64', label: '64 px, gf = df = 64, 1 D + 1 G', size: 64, width: 64 },
  { id: '32w64', label: '32 px, gf = df = 64, 1 D + 1 G', size: 32, width: 64 },
  { id: '32w32', label: '32 px, gf = df = 32, 1 D + 1 G', size: 32, width: 32 },
];
const E2E = { id: 'e2e', label: 'end to end: run vs loop, logos 32 px, width 32, 1 D + 2 G', size: 32, width: 32, model: 'bench/models/dcgan-32-w32.ts' };

interface Timing { s: number; rss?: number; gflop?: number; faults?: number; profile?: { op: string; ms: number; share: number; excessMs: number }[] }

const json = (out: string) => JSON.parse(out.trim().split('\n').pop()!);
const common = (c: Config) => ['--size', String(c.size), '--batch', '64', '--gf', String(c.width), '--df', String(c.width), '--threads', a.threads!];

function gancBare(c: Config, gSteps = 1, profile = false): Timing {
  const r = json(execFileSync(process.execPath, ['--import', 'tsx', 'bench/ganc_iter.ts', ...common(c), '--g-steps', String(gSteps), '--iters', a.iters!, '--warmup', a.warmup!, ...(profile ? ['--profile'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  return { s: r.median_s, rss: r.peak_rss_mb, gflop: r.gflop, faults: r.minor_faults_per_iter, profile: r.profile };
}

function torchBare(c: Config, deconv: string, gSteps = 1): Timing | undefined {
  try {
    const r = json(execFileSync(python, ['bench/dcgan_torch.py', ...common(c), '--g-steps', String(gSteps), '--iters', a.iters!, '--warmup', a.warmup!, '--deconv', deconv, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    return { s: r.median_s, rss: r.peak_rss_mb, faults: r.minor_faults_per_iter };
  } catch {
    return undefined;
  }
}

/** Peak RSS (MB) of a child, from GNU time's %M written to `file`. */
function withRss(cmd: string, args: string[], file: string): [string, string[]] {
  return timeBin ? [timeBin, ['-f', '%M', '-o', file, cmd, ...args]] : [cmd, args];
}
const readRss = (file: string) => (existsSync(file) ? Number(execFileSync('tail', ['-1', file], { encoding: 'utf8' })) / 1024 : undefined);

/** Seconds per iteration over the steps after the warm-up, from a per-step log of wall times. */
const steady = (times: number[]) => (times[times.length - 1] - times[WARMUP_STEPS - 1]) / (times.length - WARMUP_STEPS);

function gancRun(data: string, tmp: string): Timing {
  const out = path.join(tmp, `run-${Date.now()}`);
  const steps = a['e2e-steps']!;
  const [cmd, args] = withRss(process.execPath, ['bin/ganc.mjs', 'run', E2E.model, '--data', data, '--out', out, '--steps', steps,
    '--threads', a.threads!, '--sample-every', '1000', '--ckpt-every', '1000', '--force'], path.join(tmp, 'rss'));
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`ganc run failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n').pop()}`);
  }
  const s = steady(readMetrics(path.join(out, 'metrics.jsonl')).map((r) => r.time));
  rmSync(out, { recursive: true, force: true });
  return { s, rss: readRss(path.join(tmp, 'rss')) };
}

function torchLoop(data: string): Timing | undefined {
  try {
    const r = json(execFileSync(python, ['bench/dcgan_torch.py', ...common(E2E), '--g-steps', '2', '--data', data, '--steps', a['e2e-steps']!,
      '--warmup', String(WARMUP_STEPS), '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    return { s: r.steady_s_per_it, rss: r.peak_rss_mb };
  } catch {
    return undefined;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q), m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const summary = (ts: (Timing | undefined)[]) => {
  const ok = ts.filter((t): t is Timing => !!t);
  const faults = ok.flatMap((t) => (t.faults === undefined ? [] : [t.faults]));
  return ok.length ? { s: median(ok.map((t) => t.s)), rss: Math.max(...ok.map((t) => t.rss ?? 0)) || undefined, faults: faults.length ? median(faults) : undefined } : undefined;
};

/** Each round's ganc / peer ratio (the two processes ran one after the other, in the same phase of the machine). */
const perRound = (a: (Timing | undefined)[], b: (Timing | undefined)[]) =>
  a.flatMap((x, r) => (x && b[r] ? [x.s / b[r]!.s] : []));

interface Row {
  label: string; form: string; ganc?: { s: number; rss?: number; faults?: number }; peer?: { s: number; rss?: number; faults?: number }; native?: { s: number };
  /** per-round ratios ganc / peer; the row's ratio is their median */
  ratios: number[]; note?: string;
}
const rows: Row[] = [];
const wanted = new Set(a.rows!.split(','));
const rounds = Number(a.rounds);
const t0 = performance.now();
console.log(`ganc vs PyTorch ${a.threads} threads, batch 64, ${rounds} alternating rounds` +
  ` (bare rows: median of ${a.iters} iterations after ${a.warmup} warm-ups; end to end: ${a['e2e-steps']} steps, steady state after ${WARMUP_STEPS})`);

for (const c of BARE.filter((x) => wanted.has(x.id))) {
  const g: Timing[] = [], t: (Timing | undefined)[] = [], n: (Timing | undefined)[] = [];
  for (let r = 0; r < rounds; r++) {
    g.push(gancBare(c));
    t.push(torchBare(c, 'conv-adjoint'));
    if (a.native) n.push(torchBare(c, 'native'));
  }
  const row: Row = { label: c.label, form: 'bare iteration, s', ganc: summary(g), peer: summary(t), native: summary(n), ratios: perRound(g, t) };
  rows.push(row);
  console.log(`${c.label}: ganc ${fmt(row.ganc?.s)} s (${fmt(g[0].gflop! / row.ganc!.s, 0)} GFLOP/s), PyTorch ${fmt(row.peer?.s)} s; per round ${row.ratios.map((x) => fmt(x)).join(', ')}; minor page faults per iteration ${fmt(row.ganc?.faults, 0)} / ${fmt(row.peer?.faults, 0)}`);
  if (a.profile) {
    console.log('  ganc time per op type (of it, above each op and input shape\'s fastest call):');
    for (const p of (gancBare(c, 1, true).profile ?? []).slice(0, 10)) {
      console.log(`    ${p.op.padEnd(16)} ${p.ms.toFixed(0).padStart(7)} ms  ${(100 * p.share).toFixed(1).padStart(5)}%  ${p.excessMs.toFixed(0).padStart(6)} ms`);
    }
  }
}

if (wanted.has(E2E.id)) {
  const data = await ensureBuiltinData(E2E.size, false);
  const tmp = mkdtempSync(path.join(tmpdir(), 'ganc-bench-'));
  const run: Timing[] = [], loop: (Timing | undefined)[] = [], bare: Timing[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      // ganc run in the middle: next to both processes it is compared with
      bare.push(gancBare(E2E, 2));
      run.push(gancRun(data, tmp));
      loop.push(torchLoop(data));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const row: Row = { label: E2E.label, form: 'steady state, s/it', ganc: summary(run), peer: summary(loop), ratios: perRound(run, loop) };
  const b = summary(bare)!, overhead = perRound(run, bare);
  row.note = `ganc run / bare iteration (1 D + 2 G) = ${fmt(median(overhead))} (per round ${overhead.map((x) => fmt(x)).join(', ')}; bare ${fmt(b.s, 3)} s)`;
  rows.push(row);
  console.log(`${E2E.label}: ganc run ${fmt(row.ganc?.s, 3)} s/it, PyTorch loop ${fmt(row.peer?.s, 3)} s/it; per round ${row.ratios.map((x) => fmt(x)).join(', ')}; ${row.note}`);
}

const w = Math.max(...rows.map((r) => r.label.length));
console.log(`\n${'configuration'.padEnd(w)}  ${'figure'.padEnd(18)}  ${'ganc'.padStart(7)}  ${'PyTorch'.padStart(7)}  ratio  peak RSS ganc / PyTorch${a.native ? '  nn.ConvTranspose2d (ratio)' : ''}`);
for (const r of rows) {
  const ratio = r.ratios.length ? median(r.ratios) : undefined;
  const nat = a.native ? `  ${fmt(r.native?.s)} s (${r.ganc && r.native ? fmt(r.ganc.s / r.native.s) : 'n/a'})` : '';
  console.log(`${r.label.padEnd(w)}  ${r.form.padEnd(18)}  ${fmt(r.ganc?.s, 3).padStart(7)}  ${fmt(r.peer?.s, 3).padStart(7)}  ${fmt(ratio).padStart(5)}  ${fmt(r.ganc?.rss, 0)} / ${fmt(r.peer?.rss, 0)} MB${nat}`);
  if (r.note) console.log(`${''.padEnd(w)}  ${r.note}`);
}
if (rows.some((r) => !r.peer)) console.log('PyTorch peer unavailable: apt-get install python3-torch python3-pil libopenblas0-pthread');
console.log(`PyTorch: transposed convs as conv backward-data (oneDNN), the form current releases use; ${((performance.now() - t0) / 60000).toFixed(1)} min`);
