/**
 * `ganc study --slurm`. Without a cluster: the sbatch scripts' text, and the array script run by bash as task i runs
 * exactly task i's `ganc run` arguments; --dry-run writes the scripts. On a real one-node Slurm (started by
 * test/helpers/slurm_cluster.ts when slurm-wlm and munge are installed and we are root; skipped, saying why, when
 * not): the tiny study submitted as a job array ends with the numbers of the same study run locally, a task cancelled
 * with scancel mid-run is reported as killed with its log's tail and resumes from its checkpoint when the study is
 * resubmitted (only that run is resubmitted), and the report job runs after the array.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readEvals } from '../src/runtime/eval_along.ts';
import { type StudyReport, buildReport, formatReport } from '../src/runtime/study/report.ts';
import { readStudyJson } from '../src/runtime/study/plan.ts';
import { type SlurmPlan, arrayScript, reportScript } from '../src/runtime/study/slurm.ts';
import { type SlurmRecord, activePairs, pairTasks } from '../src/runtime/study/slurm_jobs.ts';
import { finished, ganc, logosFixture, REPO, show, spawnGanc, stopWhen, tempDir } from './helpers/logos_fixture.ts';
import { type ClusterOrSkip, type SlurmCluster, startSlurmCluster } from './helpers/slurm_cluster.ts';
import { buildLogos } from '../src/runtime/data/logos.ts';
import { heldBy } from '../src/runtime/run_lock.ts';

const STUDY = 'test/fixtures/studies/tiny.ts';
const RUNS = ['base/seed-1', 'base/seed-2', 'fm/seed-1', 'fm/seed-2'];

function plan(over: Partial<SlurmPlan['options']> = {}): SlurmPlan {
  const args = (key: string, seed: number) => ['run', `/s/tiny.ts#${key}`, '--out', `/runs/my study/${key}/seed-${seed}`, '--seed', String(seed), '--continue'];
  return {
    study: 'tiny', dir: '/runs/st', cwd: '/proj', ganc: ['/usr/bin/node', '/proj/bin/ganc.mjs'],
    tasks: [['base', 1], ['base', 2], ['fm', 1]].map(([key, seed]) => ({ key: key as string, seed: seed as number, args: args(key as string, seed as number) })),
    options: { cpusPerTask: 2, sbatchArgs: [], ...over },
  };
}

const sbatchLines = (script: string) => script.split('\n').filter((l) => l.startsWith('#SBATCH '));

test('the array script: one task per run, its sbatch options, and bash running task i runs exactly run i\'s arguments', () => {
  const p = plan({ partition: 'gpu', time: '1:30:00', gpusPerTask: 1, maxParallel: 2, sbatchArgs: ['--account=abc', '--mem=4G'] });
  const script = arrayScript(p);
  assert.deepEqual(sbatchLines(script), [
    '#SBATCH --job-name=ganc-tiny', '#SBATCH --array=0-2%2', '#SBATCH --output=/runs/st/slurm/%A_%a.out', '#SBATCH --open-mode=append', '#SBATCH --requeue',
    '#SBATCH --chdir=/proj', '#SBATCH --partition=gpu', '#SBATCH --time=1:30:00', '#SBATCH --cpus-per-task=2', '#SBATCH --gpus-per-task=1',
    '#SBATCH --account=abc', '#SBATCH --mem=4G',
  ]);
  // sbatch stops reading #SBATCH lines at the first command: they must all come first.
  const firstCommand = script.split('\n').findIndex((l) => l.trim() && !l.startsWith('#'));
  assert.ok(script.split('\n').slice(firstCommand).every((l) => !l.startsWith('#SBATCH')));
  assert.deepEqual(sbatchLines(arrayScript(plan())).filter((l) => /array|partition|time|gpus/.test(l)), ['#SBATCH --array=0-2']);

  // Run it as Slurm would, with printf standing in for node: each argument on its own line, quoting undone by bash.
  const stand = arrayScript({ ...p, ganc: ['printf', '%s\\n'] });
  for (const [i, t] of p.tasks.entries()) {
    const r = spawnSync('bash', ['-c', stand], { env: { ...process.env, SLURM_ARRAY_TASK_ID: String(i), SLURM_ARRAY_JOB_ID: '77' }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout.trimEnd().split('\n');
    assert.match(out[0], new RegExp(`^ganc-slurm: start ${t.key} seed ${t.seed} on \\S+, job 77_${i}, restart 0, `));
    assert.deepEqual(out.slice(1, -1), t.args);
    assert.match(out.at(-1)!, new RegExp(`^ganc-slurm: exit 0 ${t.key} seed ${t.seed}, `));
  }
  const beyond = spawnSync('bash', ['-c', stand], { env: { ...process.env, SLURM_ARRAY_TASK_ID: '3' }, encoding: 'utf8' });
  assert.equal(beyond.status, 2);
  assert.match(beyond.stderr, /ganc-slurm: exit 2: no run for array task 3/);

  const report = reportScript(p);
  assert.deepEqual(sbatchLines(report), [
    '#SBATCH --job-name=ganc-tiny-report', '#SBATCH --output=/runs/st/slurm/report-%j.out', '#SBATCH --chdir=/proj', '#SBATCH --partition=gpu',
    '#SBATCH --time=1:30:00', '#SBATCH --cpus-per-task=1', '#SBATCH --account=abc', '#SBATCH --mem=4G',
  ]);
  assert.match(report, /\n\/usr\/bin\/node \/proj\/bin\/ganc\.mjs study --report \/runs\/st\n/);
});

test('task states from squeue and the logs: waiting, running, failed with its tail, killed, cancelled; a requeued task\'s last attempt counts', async () => {
  const dir = await tempDir('slurm-states');
  mkdirSync(join(dir, 'slurm'));
  const record: SlurmRecord = {
    format: 'ganc-study-slurm/1',
    submissions: [
      { array: '5', submitted: '', script: '', tasks: [{ index: 0, key: 'a', seed: 1 }, { index: 1, key: 'a', seed: 2 }, { index: 2, key: 'b', seed: 1 }] },
      // Resubmitted: b seed 1 now runs as 9_0; its old task 5_2 no longer counts.
      { array: '9', submitted: '', script: '', tasks: [{ index: 0, key: 'b', seed: 1 }, { index: 1, key: 'b', seed: 2 }, { index: 2, key: 'c', seed: 1 }, { index: 3, key: 'c', seed: 2 }] },
    ],
  };
  const log = (task: string, ...lines: string[]) => writeFileSync(join(dir, 'slurm', `${task}.out`), lines.join('\n') + '\n');
  const start = (pair: string) => `ganc-slurm: start ${pair} on n1, job x, restart 0, 2026-01-01T00:00:00+00:00`;
  log('5_0', start('a seed 1'), 'step 1/6', 'ganc-slurm: exit 0 a seed 1, t');
  log('5_1', start('a seed 2'), 'step 2/6', 'error: disk full', 'ganc-slurm: exit 1 a seed 2, t');
  log('5_2', start('b seed 1'), 'error: old', 'ganc-slurm: exit 1 b seed 1, t');
  log('9_0', start('b seed 1'), 'step 3/6');
  // Requeued: the first attempt failed, the second is the one that counts (and was killed: no exit line).
  log('9_1', start('b seed 2'), 'error: first attempt', 'ganc-slurm: exit 1 b seed 2, t', start('b seed 2'), 'step 5/6');
  const queued = new Map([['9_0', 'RUNNING'], ['9_3', 'PENDING']]);
  const states = Object.fromEntries(pairTasks(dir, record, queued).map((t) => [`${t.key}/${t.seed}`, [t.task, t.state, t.exitCode, t.tail]]));
  assert.deepEqual(states, {
    'a/1': ['5_0', 'ended', 0, undefined],
    'a/2': ['5_1', 'failed', 1, [start('a seed 2'), 'step 2/6', 'error: disk full', 'ganc-slurm: exit 1 a seed 2, t']],
    'b/1': ['9_0', 'running', undefined, undefined],
    'b/2': ['9_1', 'killed', undefined, [start('b seed 2'), 'step 5/6']],
    'c/1': ['9_2', 'cancelled', undefined, undefined],
    'c/2': ['9_3', 'pending', undefined, undefined],
  });
  assert.deepEqual([...activePairs(pairTasks(dir, record, queued))].sort(), ['b/1', 'c/2']);
  // Without squeue: exit lines still tell; a log without one is running only while its run folder's lock is held.
  const blind = Object.fromEntries(pairTasks(dir, record, undefined).map((t) => [`${t.key}/${t.seed}`, t.state]));
  assert.deepEqual(blind, { 'a/1': 'ended', 'a/2': 'failed', 'b/1': 'unknown', 'b/2': 'unknown', 'c/1': 'unknown', 'c/2': 'unknown' });
});

test('--slurm --dry-run writes both scripts with absolute paths and submits nothing; options without --slurm are refused', async () => {
  const { logos } = await logosFixture();
  const out = await tempDir('slurm-dry');
  const r = await ganc(['study', STUDY, '-o', out, '--slurm', '--dry-run', '--cpus-per-task', '2', '--max-parallel', '3'], { GANC_TEST_DATA: logos, PATH: '/usr/bin:/bin' });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /sbatch --dependency=afterany:\$id .*report\.sbatch/);
  const script = readFileSync(join(out, 'slurm/study.sbatch'), 'utf8');
  assert.match(script, /#SBATCH --array=0-3%3\n/);
  assert.match(script, /#SBATCH --cpus-per-task=2\n/);
  assert.ok(script.includes(`  3) pair='fm seed 2'; set -- run ${REPO}/${STUDY}#fm --out ${out}/fm/seed-2 --seed 2 --steps 6 `), script);
  assert.ok(script.includes(` --data ${logos} `));
  assert.ok(script.includes(' --threads 2 --continue ;;'));
  assert.ok(existsSync(join(out, 'slurm/report.sbatch')));
  assert.ok(!existsSync(join(out, 'slurm.json')), 'nothing submitted, nothing recorded');

  const bad = await ganc(['study', STUDY, '-o', out, '--partition', 'x']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: --partition goes with --slurm/);
});

/** Each run's evaluations without their times (which differ between processes). */
const scores = (dir: string) => Object.fromEntries(RUNS.map((r) => [r, readEvals(join(dir, r, 'evals.jsonl')).map(({ step, swd, swdAvg, msssim }) => ({ step, swd, swdAvg, msssim }))]));
const readReport = (dir: string) => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as StudyReport;
/** The report's figures (not its times). */
const finals = (r: StudyReport) => r.models.map((m) => ({
  key: m.key, final: m.final, swdMean: m.swdMean, verdict: m.vsBaseline?.final.verdict, runs: m.runs.map((x) => [x.final?.swdAvg, x.final?.msssim, x.swdMean]),
}));

/** One cluster for the file's tests (started by the first that needs it, stopped after the last). */
let clusterStarted: Promise<ClusterOrSkip> | undefined;
const slurm = () => (clusterStarted ??= startSlurmCluster());
after(async () => {
  const c = await clusterStarted;
  if (c && !('skip' in c)) await c.stop();
});

interface Queue {
  env: Record<string, string>;
  squeue: (...args: string[]) => string;
  /** Whether Slurm still lists the job. */
  listed: (job: string) => boolean;
}

/** Cancels the jobs a study folder's slurm.json names (a test that failed half-way leaves none running). */
function cancelJobs(dir: string, env: Record<string, string>): void {
  const file = join(dir, 'slurm.json');
  if (!existsSync(file)) return;
  const ids = (JSON.parse(readFileSync(file, 'utf8')) as SlurmRecord).submissions.flatMap((s) => [s.array, ...(s.report ? [s.report] : [])]);
  spawnSync('scancel', ids, { env: { ...process.env, ...env } });
}

function queueOf(c: SlurmCluster): Queue {
  const squeue = (...args: string[]) => execFileSync('squeue', ['--noheader', ...args], { env: c.env, encoding: 'utf8' });
  return { env: { SLURM_CONF: c.env.SLURM_CONF ?? '' }, squeue, listed: (job) => squeue('--format=%i').split('\n').some((l) => l.trim() === job) };
}

/** The text a real browser (Debian's chromium through playwright-core) shows for `selector`; undefined without one. */
async function pageText(file: string, selector: string): Promise<string | undefined> {
  if (!existsSync(CHROMIUM)) return undefined;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(file).href);
    return await page.locator(selector).innerText();
  } finally {
    await browser.close();
  }
}
const CHROMIUM = '/usr/bin/chromium';

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 300_000): Promise<T> {
  const t = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('on a one-node Slurm: the study as a job array gives the local numbers; a cancelled task is reported and resumes when resubmitted; the report job runs after the array', { timeout: 400_000 }, async (t) => {
  const cluster = await slurm();
  if ('skip' in cluster) return t.skip(cluster.skip);
  const { squeue, listed, ...q } = queueOf(cluster);
  const { logos } = await logosFixture();
  const env = { ...q.env, GANC_TEST_DATA: logos };
  const local = await tempDir('slurm-local');
  const dir = await tempDir('slurm-study');
  t.after(() => cancelJobs(dir, q.env));

  // The same study locally, meanwhile (one thread per run: the numbers do not depend on what else runs).
  const localChild = await spawnGanc(['study', STUDY, '-o', local, '--threads', '1'], env);
  const localRun = finished(localChild);
  t.after(() => localChild.kill());

  const sub = await ganc(['study', STUDY, '-o', dir, '--slurm', '--cpus-per-task', '1'], env);
  assert.equal(sub.code, 0, show(sub));
  const [, array, report] = /array job (\d+) \(4 runs\), report job (\d+) after it/.exec(sub.stdout) ?? assert.fail(sub.stdout);
  for (const [i, r] of RUNS.entries()) assert.ok(sub.stdout.includes(`  ${array}_${i}  ${r.replace('/seed-', ' seed ')}\n`), sub.stdout);
  assert.match(sub.stdout, new RegExp(`squeue -j ${array},${report}`));
  // The report job waits for the array.
  assert.match(squeue('--jobs', report, '--format=%T %r'), /PENDING Dependency/);

  // Hold base seed 1 once it has checkpointed and evaluated step 3, then cancel it. Six tiny steps pass in about a
  // second, faster than a poll can catch one: the run is single-stepped (stopWhen).
  const held = join(dir, 'base/seed-1');
  const { pid } = await until('base seed 1 to start', () => heldBy(held));
  assert.ok(await stopWhen(pid, () => readEvals(join(held, 'evals.jsonl')).some((r) => r.step === 3)), 'base seed 1 ended before step 3');
  assert.ok(!readEvals(join(held, 'evals.jsonl')).some((r) => r.step === 6), 'held before it finished');

  // While the array runs, the report shows the held run as running, with its progress (the report's text, built
  // here rather than by `ganc study --report`, which the report job runs below).
  process.env.SLURM_CONF = q.env.SLURM_CONF;
  const live = formatReport(buildReport(readStudyJson(dir), dir));
  assert.match(live, new RegExp(`\\n- running: base seed 1 \\(task ${array}_0\\): step [345]/6\\n`), live);

  // scancel continues the held run (SIGCONT) before it signals it, and on a busy machine the last steps could finish in
  // between (once it reached step 6/6 so): the SIGTERM Slurm sends is queued first, to act as the run resumes.
  process.kill(pid, 'SIGTERM');
  execFileSync('scancel', [`${array}_0`], { env: { ...process.env, ...env } });
  // The report job runs once every task has ended, and reports the cancelled task with its log's tail.
  await until('the report job to end', () => !listed(report) && existsSync(join(dir, 'report.json')));
  const first = readReport(dir);
  assert.deepEqual(first.counts, { finished: 3, started: 1, missing: 0 }, readFileSync(join(dir, 'slurm', `report-${report}.out`), 'utf8'));
  const killed = first.slurm!.runs;
  assert.deepEqual(killed.map((r) => [r.key, r.seed, r.state, r.task]), [['base', 1, 'killed', `${array}_0`]]);
  assert.ok(killed[0].tail!.some((l) => l.startsWith(`ganc-slurm: start base seed 1 on `)), killed[0].tail!.join('\n'));
  const reportTime = Date.parse(first.time);
  for (const i of [1, 2, 3]) {
    const exit = readFileSync(join(dir, 'slurm', `${array}_${i}.out`), 'utf8').split('\n').find((l) => l.startsWith('ganc-slurm: exit 0'));
    assert.ok(exit, `task ${i} exited 0`);
    assert.ok(Date.parse(exit.split(', ').at(-1)!) <= reportTime, `report (${first.time}) after task ${i} (${exit})`);
  }
  const killedLine = new RegExp(`- killed: base seed 1 \\(task ${array}_0\\) at step [345]/6, with no exit line`);
  assert.match(readFileSync(join(dir, 'report.txt'), 'utf8'), killedLine);
  // The page shows it too, in a real browser.
  const shown = await pageText(join(dir, 'report.html'), 'pre.slurm');
  if (shown === undefined) t.diagnostic('no chromium: report.html not checked in a browser');
  else assert.match(shown, killedLine);

  // Resubmitted: only the cancelled run, which continues from its step-3 checkpoint.
  const again = await ganc(['study', STUDY, '-o', dir, '--slurm', '--cpus-per-task', '1'], env);
  assert.equal(again.code, 0, show(again));
  assert.match(again.stderr, /4 runs, 3 finished, 0 queued or running in earlier jobs, 1 to submit/);
  const [, array2, report2] = /array job (\d+) \(1 run\), report job (\d+) after it/.exec(again.stdout) ?? assert.fail(again.stdout);
  assert.match(again.stdout, new RegExp(`${array2}_0  base seed 1\\n`));
  await until('the second report job', () => !listed(report2) && existsSync(join(dir, 'slurm', `report-${report2}.out`)));
  assert.match(readFileSync(join(dir, 'slurm', `${array2}_0.out`), 'utf8'), /resuming from checkpoint\.bin at step 3/);
  const record = JSON.parse(readFileSync(join(dir, 'slurm.json'), 'utf8')) as SlurmRecord;
  assert.deepEqual(record.submissions.map((s) => [s.array, s.report, s.tasks.length]), [[array, report, 4], [array2, report2, 1]]);
  assert.ok(readdirSync(join(dir, 'slurm')).includes(`array-${array2}.sbatch`));

  // Every run, the resumed one included, has the local study's evaluations; the reports agree.
  const loc = await localRun;
  assert.equal(loc.code, 0, show(loc));
  assert.deepEqual(scores(dir), scores(local));
  const final = readReport(dir);
  assert.deepEqual(final.counts, { finished: 4, started: 0, missing: 0 });
  assert.deepEqual(final.slurm!.runs, []);
  assert.deepEqual(finals(final), finals(readReport(local)));
});

test('studies/seed.ts with a short budget on a one-node Slurm: every run an array task, then the report', { timeout: 900_000 }, async (t) => {
  const cluster = await slurm();
  if ('skip' in cluster) return t.skip(cluster.skip);
  const { listed, env } = queueOf(cluster);
  // 96 real logos at the study's 32 px: the K+1 model needs a batch of 64 after holding out 10% of each class.
  const data = join(await tempDir('slurm-seed-data'), 'logos');
  await buildLogos(data, { size: 32, limit: 96 });
  const dir = await tempDir('slurm-seed');
  t.after(() => cancelJobs(dir, env));
  const sub = await ganc(['study', 'studies/seed.ts', '-o', dir, '--slurm', '--steps', '1', '--eval-every', '1', '--eval-n', '8', '--data', data], env);
  assert.equal(sub.code, 0, show(sub));
  const [, array, report] = /array job (\d+) \(15 runs\), report job (\d+) after it/.exec(sub.stdout) ?? assert.fail(sub.stdout);
  await until('the report job', () => !listed(report) && existsSync(join(dir, 'slurm', `report-${report}.out`)), 880_000);
  const r = readReport(dir);
  assert.deepEqual(r.counts, { finished: 15, started: 0, missing: 0 }, readFileSync(join(dir, 'slurm', `report-${report}.out`), 'utf8'));
  assert.deepEqual(r.slurm!.runs, []);
  assert.deepEqual(r.models.map((m) => [m.key, m.final?.swdAvg.n]), [['dcgan', 3], ['fm-seed', 3], ['fm-salimans', 3], ['mbd', 3], ['ssl-k1', 3]]);
  for (let i = 0; i < 15; i++) assert.match(readFileSync(join(dir, 'slurm', `${array}_${i}.out`), 'utf8'), /\nganc-slurm: exit 0 /);
  for (const f of ['report.html', 'report.txt', 'curves.png']) assert.ok(existsSync(join(dir, f)), f);
});
