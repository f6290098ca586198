/**
 * Does K+1 help a classifier? models/fmnist-ssl.ts (K+1 GAN) against models/fmnist-supervised.ts (the same D on the
 * same labelled batches alone): the same iterations and seeds on `ganc data fashion-mnist` (100 labels), one run after
 * another (both models per seed, so that the machine's load falls on both alike), each scored on the test images by
 * `ganc eval --test`; prints the README's table and Welch's t-test on the per-seed test accuracies.
 *
 *   node --import tsx bench/fmnist_ssl.ts DATA [--out runs/fmnist] [--steps 400] [--seeds 1,2,3] [--threads 2]
 *
 * DATA is what `ganc data fashion-mnist -o DATA` wrote (DATA/train, DATA/test). A run whose eval.json is at --steps is
 * not trained again (an interrupted experiment continues); --collect only prints the table of what is there.
 * Welch's test comes from the study runner's statistics (src/runtime/study/stats.ts, branch `study`); without it the
 * table is printed without the test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string', default: 'runs/fmnist' },
    steps: { type: 'string', default: '400' },
    seeds: { type: 'string', default: '1,2,3' },
    threads: { type: 'string', default: '2' },
    collect: { type: 'boolean', default: false },
  },
});
const data = positionals[0];
if (!data || !existsSync(join(data, 'train')) || !existsSync(join(data, 'test'))) {
  console.error('usage: node --import tsx bench/fmnist_ssl.ts DATA [--out DIR] [--steps N] [--seeds 1,2,3] [--threads N] [--collect]\n' +
    '  DATA: a folder written by `ganc data fashion-mnist -o DATA` (with train/ and test/)');
  process.exit(1);
}
const steps = Number(a.steps), seeds = a.seeds!.split(',').map(Number);
const MODELS = ['fmnist-ssl', 'fmnist-supervised'];
const runDir = (model: string, seed: number) => join(a.out!, model, `seed-${seed}`);
const ganc = (args: string[]) => execFileSync(process.execPath, ['bin/ganc.mjs', ...args], { stdio: 'inherit' });

interface EvalJson { step: number; classification?: { accuracy: number; correct: number; total: number } }
const readEval = (dir: string) => (existsSync(join(dir, 'eval.json')) ? (JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as EvalJson) : undefined);

if (!a.collect) {
  for (const seed of seeds) {
    for (const model of MODELS) {
      const dir = runDir(model, seed);
      if (readEval(dir)?.step === steps) continue;
      mkdirSync(dir, { recursive: true });
      const load = loadavg()[0];
      const t0 = performance.now();
      ganc(['run', `models/${model}.ts`, '--data', join(data, 'train'), '--held-out', '0', '--steps', String(steps), '--seed', String(seed),
        '--threads', a.threads!, '--sample-every', String(steps), '--ckpt-every', String(steps), '--out', dir, '--force']);
      const train = (performance.now() - t0) / 1000;
      ganc(['eval', dir, '--test', join(data, 'test'), '-n', '100', '--swd-patches', '16', '--pairs', '100', '--threads', a.threads!]);
      const total = (performance.now() - t0) / 1000;
      writeFileSync(join(dir, 'bench.json'), JSON.stringify({ seconds: { train, total }, loadBefore: load, loadAfter: loadavg()[0], date: new Date().toISOString() }) + '\n');
    }
  }
}

// ---------------------------------------------------------------- the table

interface Row { model: string; seed: number; accuracy: number; tested: number; iterations: number; trainSeconds: number; totalSeconds: number }
const rows: Row[] = [];
for (const model of MODELS) {
  for (const seed of seeds) {
    const dir = runDir(model, seed);
    const ev = readEval(dir);
    if (!ev?.classification || ev.step !== steps) continue;
    const b = JSON.parse(readFileSync(join(dir, 'bench.json'), 'utf8')) as { seconds: { train: number; total: number } };
    rows.push({ model, seed, accuracy: ev.classification.accuracy, tested: ev.classification.total, iterations: ev.step, trainSeconds: b.seconds.train, totalSeconds: b.seconds.total });
  }
}
const of = (model: string) => rows.filter((r) => r.model === model);
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const std = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
const pct = (x: number) => (100 * x).toFixed(2);

console.log(`\n| model | seeds | test accuracy (${rows[0]?.tested.toLocaleString('en')} images), mean ± std | per seed (${seeds.join(', ')}) | iterations | wall time per run (train + eval) |`);
console.log('|---|---|---|---|---|---|');
for (const model of MODELS) {
  const r = of(model);
  if (!r.length) continue;
  const acc = r.map((x) => x.accuracy);
  console.log(`| ${model} | ${r.length} | ${pct(mean(acc))}% ± ${r.length > 1 ? pct(std(acc)) : 'n/a'} | ${acc.map(pct).join(', ')} | ${r[0].iterations} | ` +
    `${mean(r.map((x) => x.trainSeconds)).toFixed(0)} s + ${mean(r.map((x) => x.totalSeconds - x.trainSeconds)).toFixed(0)} s |`);
}
const total = rows.reduce((s, r) => s + r.totalSeconds, 0);
console.log(`\n${rows.length} runs, ${(total / 60).toFixed(1)} minutes in all`);

const statsFile = new URL('../src/runtime/study/stats.ts', import.meta.url);
const [ssl, sup] = MODELS.map((m) => of(m).map((r) => r.accuracy));
if (!existsSync(statsFile)) console.log('Welch\'s t-test: needs src/runtime/study/stats.ts (branch study)');
else if (ssl.length >= 2 && sup.length >= 2) {
  type Welch = { diff: number; t: number; df: number; p: number; ci: [number, number] };
  const { welch } = (await import(statsFile.href)) as { welch: (a: number[], b: number[]) => Welch | undefined };
  const w = welch(ssl, sup)!;
  const says = w.p < 0.05 ? (w.diff > 0 ? 'K+1 is better' : 'K+1 is worse') : 'no detectable difference';
  console.log(`Welch's t-test, fmnist-ssl − fmnist-supervised: ${w.diff >= 0 ? '+' : ''}${pct(w.diff)} points, 95% CI [${pct(w.ci[0])}, ${pct(w.ci[1])}], ` +
    `t = ${w.t.toFixed(2)}, df = ${w.df.toFixed(1)}, p = ${w.p.toPrecision(2)}: ${says} (at p < 0.05)`);
}
writeFileSync(join(a.out!, 'results.json'), JSON.stringify({ data, steps, seeds, rows }, null, 2) + '\n');
