/**
 * `ganc study` end to end on a tiny study (test/fixtures/studies/tiny.ts: 2 models × 2 seeds × 6 steps, evaluated
 * every 3 on 16 images, real logos rendered by the fixture): a study killed with kill -9 mid-way resumes and gives
 * the numbers of the same runs made by hand from `--commands`; finished runs are not rerun; the report's figures are
 * the runs' own evaluations, which equal `ganc eval` of the finished run; the report renders in well under a second.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readEvals } from '../src/runtime/eval_along.ts';
import { readStudyJson } from '../src/runtime/study/plan.ts';
import { defaultJobs } from '../src/runtime/study/runner.ts';
import { writeJson } from '../src/runtime/run_folder.ts';
import { writeStudyReport } from '../src/runtime/study/write_report.ts';
import type { StudyReport } from '../src/runtime/study/report.ts';
import { finished, ganc, logosFixture, REPO, spawnGanc, tempDir } from './helpers/logos_fixture.ts';

const STUDY = 'test/fixtures/studies/tiny.ts';
const RUNS = ['base/seed-1', 'base/seed-2', 'fm/seed-1', 'fm/seed-2'];
// One thread per run: results then do not depend on how many runs share the machine.
const common = (dir: string) => [STUDY, '-o', dir, '--threads', '1'];

async function env() {
  return { GANC_TEST_DATA: (await logosFixture()).logos };
}

/** Each run's evaluations without their times (which differ between processes). */
function scores(dir: string) {
  return Object.fromEntries(RUNS.map((r) => [r, readEvals(join(dir, r, 'evals.jsonl')).map(({ step, swd, swdAvg, msssim }) => ({ step, swd, swdAvg, msssim }))]));
}

test('a study killed with kill -9 resumes to the numbers of its --commands run by hand; finished runs are not rerun; the report is the runs\' evaluations', { timeout: 600_000 }, async () => {
  const e = await env();
  const killed = await tempDir('study-killed');
  const byHand = await tempDir('study-hand');

  // --commands: one `ganc run` per pair and nothing else on stdout; run them by hand, two at a time.
  const cmds = await ganc(['study', ...common(byHand), '--commands'], e);
  assert.equal(cmds.code, 0, cmds.stderr);
  const lines = cmds.stdout.trim().split('\n');
  assert.equal(lines.length, 4);
  for (const [i, r] of RUNS.entries()) assert.match(lines[i], new RegExp(`^npx ganc run ${STUDY}#${r.split('/')[0]} --out \\S+/${r} --seed ${r.at(-1)} --steps 6 .*--continue$`));
  const byHandRuns = (async () => {
    for (let i = 0; i < lines.length; i += 2) {
      const rs = await Promise.all(lines.slice(i, i + 2).map((l) => finished(spawn('bash', ['-c', l], { cwd: REPO, env: { ...process.env, ...e }, stdio: ['ignore', 'pipe', 'pipe'] }))));
      for (const r of rs) assert.equal(r.code, 0, r.stderr);
    }
  })();

  // The study, killed (runner and all) once its first run has evaluated and checkpointed step 3.
  const child = await spawnGanc(['study', ...common(killed)], e);
  const first = finished(child);
  const firstEvals = join(killed, RUNS[0], 'evals.jsonl');
  for (let i = 0; i < 2400 && !readEvals(firstEvals).some((r) => r.step === 3); i++) await sleep(100);
  child.kill('SIGKILL');
  await first;
  assert.ok(!readEvals(firstEvals).some((r) => r.step === 6), 'killed before the first run finished');
  await sleep(1500); // its children notice the closed pipe and exit
  const resumed = await ganc(['study', ...common(killed)], e);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /4 runs, 0 already finished, 4 to run/);
  assert.match(resumed.stderr, /base seed 1: continuing/);
  await byHandRuns;

  // The same numbers, run for run and evaluation for evaluation.
  const want = scores(byHand);
  assert.deepEqual(scores(killed), want);
  for (const r of RUNS) assert.deepEqual(want[r].map((x) => x.step), [3, 6]);

  // Rerun: nothing is trained again.
  const mtimes = RUNS.map((r) => statSync(join(killed, r, 'metrics.jsonl')).mtimeMs);
  const again = await ganc(['study', ...common(killed)], e);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /4 runs, 4 already finished, 0 to run/);
  assert.deepEqual(RUNS.map((r) => statSync(join(killed, r, 'metrics.jsonl')).mtimeMs), mtimes);

  // The report (of the by-hand folder, through --report) holds each run's own final evaluation…
  const rep = await ganc(['study', '--report', byHand], e);
  assert.equal(rep.code, 0, rep.stderr);
  const report = JSON.parse(readFileSync(join(byHand, 'report.json'), 'utf8')) as StudyReport;
  assert.deepEqual(report.counts, { finished: 4, started: 0, missing: 0 });
  for (const m of report.models) {
    const finals = m.runs.map((r) => want[`${m.key}/seed-${r.seed}`].at(-1)!);
    assert.deepEqual(m.runs.map((r) => r.final!.swdAvg), finals.map((f) => f.swdAvg));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.equal(m.final!.swdAvg.mean, mean(finals.map((f) => f.swdAvg)));
    assert.equal(m.final!.msssim.mean, mean(finals.map((f) => f.msssim)));
    assert.equal(m.final!.swdAvg.n, 2);
  }
  assert.equal(report.models[0].vsBaseline, undefined);
  assert.ok(['better', 'worse', 'no detectable difference'].includes(report.models[1].vsBaseline!.final.verdict));
  assert.match(rep.stdout, /\| fm \| 2\/2 \|/);
  assert.match(rep.stdout, /little power/);
  for (const f of ['report.html', 'report.txt', 'curves.png', 'floor.json']) assert.ok(existsSync(join(byHand, f)), f);

  // … which is what `ganc eval` measures on the finished run (an exported generator: BN folded, so float-close).
  const ev = await ganc(['eval', join(byHand, 'fm/seed-2'), '-n', '16', '--pairs', '500', '--seed', '0', '--data', e.GANC_TEST_DATA], e);
  assert.equal(ev.code, 0, ev.stderr);
  const evJson = JSON.parse(readFileSync(join(byHand, 'fm/seed-2/eval.json'), 'utf8'));
  const final = want['fm/seed-2'].at(-1)!;
  assert.ok(Math.abs(evJson.swd.average - final.swdAvg) < 1e-3 * final.swdAvg, `ganc eval SWD ${evJson.swd.average} vs the run's ${final.swdAvg}`);
  assert.ok(Math.abs(evJson.msssim.generated.mean - final.msssim) < 1e-3, `ganc eval MS-SSIM ${evJson.msssim.generated.mean} vs ${final.msssim}`);

  // The report of 20 runs renders in under a second: 5 models × 4 seeds made of copies of these runs' logs.
  const big = await tempDir('study-20');
  const s = readStudyJson(byHand);
  const models = Object.fromEntries(['m1', 'm2', 'm3', 'm4', 'm5'].map((k, i) => [k, s.models[i % 2 ? 'fm' : 'base']]));
  writeJson(join(big, 'study.json'), { ...s, baseline: 'm1', models, seeds: [1, 2, 3, 4] });
  for (const [i, k] of Object.keys(models).entries()) {
    for (const seed of [1, 2, 3, 4]) {
      const from = join(byHand, RUNS[(i * 4 + seed) % 4]), to = join(big, k, `seed-${seed}`);
      mkdirSync(to, { recursive: true });
      for (const f of ['evals.jsonl', 'metrics.jsonl', 'run.json', 'samples.png']) copyFileSync(join(from, f), join(to, f));
    }
  }
  await writeStudyReport(readStudyJson(big), big); // the first call loads Vega
  // CPU time, not wall time: a shared machine stretches the wall clock by whatever else runs (this process does
  // nothing else meanwhile; resvg's threads count too).
  const c0 = process.cpuUsage();
  const { report: r20 } = await writeStudyReport(readStudyJson(big), big);
  const cpu = process.cpuUsage(c0);
  const ms = (cpu.user + cpu.system) / 1000;
  assert.equal(r20.counts.finished, 20);
  assert.ok(ms < 1000, `the report of 20 runs took ${ms.toFixed(0)} ms of CPU`);
});

test('bad study input: one line naming the file (and line), exit 1, nothing written', async () => {
  const e = await env();
  const out = await tempDir('study-bad');
  const bad = await ganc(['study', 'test/fixtures/studies/bad_baseline.ts', '-o', out], e);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim(), "error: test/fixtures/studies/bad_baseline.ts:4: study({...}): baseline 'nope' is not a key of models (base)");
  assert.ok(!existsSync(join(out, 'study.json')));
  const noKey = await ganc(['run', `${STUDY}#nope`, '--steps', '1'], e);
  assert.equal(noKey.code, 1);
  assert.equal(noKey.stderr.trim(), `error: ${STUDY}: study tiny has no model 'nope' (it has: base, fm)`);
  const notStudy = await ganc(['study', '--report', out], e);
  assert.equal(notStudy.code, 1);
  assert.match(notStudy.stderr, /not a study folder \(no study\.json\)/);
});

test('without --jobs a study runs one run per core (cores / --threads), at most one per 2 GiB of memory', () => {
  const GiB = 1024 ** 3;
  assert.equal(defaultJobs(undefined, 2, 24 * GiB), 2);
  assert.equal(defaultJobs(2, 2, 24 * GiB), 1);
  assert.equal(defaultJobs(3, 8, 24 * GiB), 2);
  assert.equal(defaultJobs(undefined, 16, 8 * GiB), 4);
  assert.equal(defaultJobs(undefined, 4, 1 * GiB), 1);
  assert.equal(defaultJobs(4, 2, 24 * GiB), 1);
});
