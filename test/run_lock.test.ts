/**
 * One writer per run folder: two `ganc run` started at once into one folder — one trains, the other exits 1 with one
 * line naming the holder's pid and changes nothing; readers work meanwhile; a holder killed with -9 leaves a stale
 * lock that the next run takes over; racers for a stale lock cannot both win.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readMetrics } from '../src/runtime/run_folder.ts';
import { acquireRunLock, heldBy, LOCK_FILE, STALE_AFTER_MS } from '../src/runtime/run_lock.ts';
import { processStart } from '../src/runtime/liveness.ts';
import { finished, ganc, lines, logosFixture, REPO, show, spawnGanc, tempDir, TINY, type GancResult } from './helpers/logos_fixture.ts';

/** Polls until `cond` holds (or fails the test after `ms`). */
async function until(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const steps = (dir: string) => readMetrics(join(dir, 'metrics.jsonl')).map((r) => r.step);
/** A pid no process has now (a child that has exited). */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('two ganc run into one folder', () => {
  let dir: string;
  let results: GancResult[];
  let pids: number[];
  let heldWhileRunning: ReturnType<typeof heldBy>;
  let exported: GancResult;

  before(async () => {
    const { logos } = await logosFixture();
    dir = await tempDir('lock-two');
    const args = ['run', TINY, '--data', logos, '--out', dir, '--steps', '100000', '--ckpt-every', '5', '--sample-every', '1000', '--threads', '1'];
    const children = [await spawnGanc(args), await spawnGanc(args)];
    pids = children.map((c) => c.pid!);
    const done = children.map(finished);
    // One of them refuses (exits) while the other trains; then a reader works on the folder being written.
    const loser = await Promise.race(done.map((p, i) => p.then(() => i)));
    const winner = children[1 - loser];
    await until(() => existsSync(join(dir, 'checkpoint.bin')) && steps(dir).length >= 7, 'a checkpoint and a few steps');
    heldWhileRunning = heldBy(dir);
    exported = await ganc(['export', dir, '-o', join(dir, '..', `${dir.split('/').at(-1)}-gen.onnx`)]);
    winner.kill('SIGINT'); // Ctrl-C: checkpoint, exit, lock released
    results = await Promise.all(done);
  });

  test('the second exits 1 with one line naming the holder\'s pid', () => {
    const codes = results.map((r) => r.code).sort();
    assert.deepEqual(codes, [1, 130], results.map(show).join('\n'));
    const i = results.findIndex((r) => r.code === 1);
    const err = lines(results[i].stderr);
    assert.equal(err.length, 1, show(results[i]));
    assert.match(err[0], new RegExp(`^error: ${dir}: the run folder is in use by pid ${pids[1 - i]} \\(ganc run `));
  });

  test('heldBy names the training process while it runs, and nothing once it has exited', () => {
    const i = results.findIndex((r) => r.code === 130);
    assert.deepEqual(heldWhileRunning, { pid: pids[i], host: hostname() });
    assert.equal(heldBy(dir), undefined);
    assert.ok(!existsSync(join(dir, LOCK_FILE)), 'the lock is removed at exit');
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('lock')), []);
  });

  test('metrics.jsonl has each step once', () => {
    const s = steps(dir);
    assert.ok(s.length >= 7);
    assert.deepEqual(s, Array.from({ length: s.length }, (_, k) => k + 1));
  });

  test('a reader (ganc export) works on the folder being written', () => {
    assert.equal(exported.code, 0, show(exported));
  });
});

test('a holder killed with -9 leaves a stale lock; the next run takes it over', async () => {
  const { logos } = await logosFixture();
  const dir = await tempDir('lock-kill');
  const child = await spawnGanc(['run', TINY, '--data', logos, '--out', dir, '--steps', '100000', '--ckpt-every', '5', '--sample-every', '1000', '--threads', '1']);
  const done = finished(child);
  await until(() => existsSync(join(dir, 'checkpoint.bin')), 'a checkpoint');
  child.kill('SIGKILL');
  assert.equal((await done).signal, 'SIGKILL');
  assert.ok(existsSync(join(dir, LOCK_FILE)), 'kill -9 leaves the lock');
  assert.equal(heldBy(dir), undefined, 'a dead holder holds nothing');

  const next = await ganc(['run', TINY, '--out', dir, '--resume', '--steps', '12', '--threads', '1']);
  assert.equal(next.code, 0, show(next));
  assert.match(next.stderr, /done at step 12\/12/);
  assert.deepEqual(steps(dir), Array.from({ length: 12 }, (_, k) => k + 1));
  assert.ok(!existsSync(join(dir, LOCK_FILE)));
});

test('processes racing for one stale lock: exactly one wins', async () => {
  const dir = await tempDir('lock-race');
  const stale = { pid: deadPid(), host: hostname(), started: new Date().toISOString(), command: 'ganc run gone.ts', nonce: 'stale' };
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify(stale));
  const script = `
    import { acquireRunLock } from ${JSON.stringify(join(REPO, 'src/runtime/run_lock.ts'))};
    const start = Number(process.argv[1]);
    while (Date.now() < start) {}
    try { await acquireRunLock(process.argv[2], 'racer'); console.log('won'); }
    catch (e) { console.log('lost: ' + e.message); }
    // Hold (the winner: the lock) until every racer has answered, so that a racer slow to start on a loaded machine
    // meets a held lock, not a released one.
    process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
  // All start racing at the same moment (after their slow start-up).
  const start = String(Date.now() + 3000);
  const racers = Array.from({ length: 4 }, () => spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, start, dir], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] }));
  const answered = racers.map((r) => new Promise<void>((ok) => {
    let out = '';
    r.stdout!.on('data', (d) => { out += d; if (out.includes('\n')) ok(); });
    r.on('exit', () => ok());
  }));
  const outs = Promise.all(racers.map(finished));
  await Promise.all(answered);
  for (const r of racers) r.stdin!.end();
  const results = await outs;
  const won = results.filter((o) => o.stdout.trim() === 'won');
  assert.equal(won.length, 1, results.map(show).join('\n'));
  for (const o of results.filter((x) => x !== won[0])) assert.match(o.stdout, /^lost: the run folder is in use by pid \d+ \(racer,/, show(o));
  assert.deepEqual(readdirSync(dir), [], 'no lock, guard or temporary file is left');
});

describe('liveness of a lock', () => {
  const record = (over: object) => ({ pid: process.pid, host: hostname(), started: '2026-01-01T00:00:00Z', command: 'x', nonce: 'n', ...over });

  test('a pid reused by another process (other start time) does not hold the folder', async () => {
    const dir = await tempDir('lock-reuse');
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify(record({ procStart: processStart(process.pid)! + 1 })));
    assert.equal(heldBy(dir), undefined);
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify(record({ procStart: processStart(process.pid) })));
    assert.deepEqual(heldBy(dir), { pid: process.pid, host: hostname() });
  });

  test('a lock from another host holds while its heartbeat is fresh, and is stale after STALE_AFTER_MS', async () => {
    const dir = await tempDir('lock-host');
    const file = join(dir, LOCK_FILE);
    writeFileSync(file, JSON.stringify(record({ pid: 1, host: 'node-17.cluster' })));
    assert.deepEqual(heldBy(dir), { pid: 1, host: 'node-17.cluster' });
    await assert.rejects(acquireRunLock(dir, 'here'), /in use by pid 1 on host node-17\.cluster/);
    const old = new Date(Date.now() - STALE_AFTER_MS - 60_000);
    utimesSync(file, old, old);
    assert.equal(heldBy(dir), undefined);
    const lock = await acquireRunLock(dir, 'here');
    assert.deepEqual(heldBy(dir), { pid: process.pid, host: hostname() });
    lock.release();
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a refused writer leaves no folder behind that it created, and a released lock removes its own empty folder', async () => {
    const parent = await tempDir('lock-fresh');
    const dir = join(parent, 'run');
    const lock = await acquireRunLock(dir, 'first');
    await assert.rejects(acquireRunLock(dir, 'second'), new RegExp(`in use by pid ${process.pid} \\(first,`));
    assert.deepEqual(readdirSync(dir), [LOCK_FILE]);
    lock.release();
    assert.ok(!existsSync(dir));
    mkdirSync(dir);
    (await acquireRunLock(dir, 'again')).release();
    assert.ok(existsSync(dir), 'a folder that was there before stays');
  });
});
