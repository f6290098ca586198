/**
 * `ganc board`'s server without a browser: it binds 127.0.0.1, answers GET/HEAD only, serves files under its folder
 * and the fixed package assets and nothing else (`..`, encoded `..`, symlinks out of the folder refused), lists runs,
 * streams new metrics rows live (a torn line waits for its end), exports a run's generator in memory (the same bytes
 * as `ganc export`, the run folder untouched), and draws the noise `ganc sample --seed` draws.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { exportRun } from '../src/cli/export.ts';
import { Rng } from '../src/random.ts';
import { sampleNoise } from '../src/runtime/batches.ts';
import { startBoard, type Board } from '../src/board/server.ts';
import { finished, ganc, logosFixture, show, spawnGanc, tempDir, TINY } from './helpers/logos_fixture.ts';

const STEPS = 6;
let root: string;
let outside: string;
let board: Board;
let port: number;

/** A raw request (the path is sent as given: no client-side normalisation of `..`). */
function request(path: string, opts: { method?: string; host?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host: opts.host ?? `127.0.0.1:${port}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Snapshot of a folder's files (name, size, mtime), to show the board wrote nothing. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name)).sort().map((f) => `${f}:${statSync(f).size}:${statSync(f).mtimeMs}`);
}

before(async () => {
  const { logos } = await logosFixture();
  root = await tempDir('board-root');
  outside = await tempDir('board-outside');
  writeFileSync(join(outside, 'secret.txt'), 'SECRET-OUTSIDE');
  const r = await ganc(['run', TINY, '--data', logos, '--out', join(root, 'tiny'), '--steps', String(STEPS), '--sample-every', '3', '--ckpt-every', '3', '--threads', '1']);
  assert.equal(r.code, 0, show(r));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'link-out.txt'));
  symlinkSync(outside, join(root, 'dir-out'));
  symlinkSync(join(root, 'tiny', 'run.json'), join(root, 'link-in.json'));
  board = await startBoard({ dir: root, port: 0, pollMs: 100 });
  port = Number(new URL(board.url).port);
});

after(() => board?.close());

describe('ganc board: the server', () => {
  test('binds 127.0.0.1 by default', () => {
    const addr = board.server.address();
    assert.ok(addr && typeof addr === 'object');
    assert.equal(addr.address, '127.0.0.1');
    assert.equal(board.url, `http://127.0.0.1:${port}/`);
  });

  test('serves the page, its files and the package assets, with COOP/COEP for WASM threads', async () => {
    const page = await request('/');
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /<title>ganc board<\/title>/);
    assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(page.headers['cross-origin-embedder-policy'], 'require-corp');
    for (const [path, type] of [['/app/board.js', /javascript/], ['/app/shared/charts.js', /javascript/], ['/vendor/vega/vega.min.js', /javascript/],
      ['/vendor/vega-lite/vega-lite.min.js', /javascript/], ['/vendor/vega-embed/vega-embed.min.js', /javascript/],
      ['/vendor/ort/ort.wasm.min.mjs', /javascript/], ['/vendor/ort/ort-wasm-simd-threaded.wasm', /application\/wasm/]] as const) {
      const r = await request(path);
      assert.equal(r.status, 200, path);
      assert.match(String(r.headers['content-type']), type, path);
      assert.ok(r.body.length > 1000, path);
    }
    const png = await request('/files/tiny/samples/step_000003.png');
    assert.equal(png.status, 200);
    assert.deepEqual(png.body, readFileSync(join(root, 'tiny', 'samples', 'step_000003.png')));
  });

  test('refuses ../, encoded ../ and symlinks out of the folder (403/404), never serving what lies outside', async () => {
    const refused = [
      '/files/../board-outside/secret.txt', '/files/%2e%2e/board-outside/secret.txt', '/files/%2E%2E%2Fboard-outside%2Fsecret.txt',
      '/files/tiny/..%2f..%2fboard-outside/secret.txt', '/files/tiny/%2e%2e/%2e%2e/board-outside/secret.txt', '/files/..\\board-outside\\secret.txt',
      '/files/link-out.txt', '/files/dir-out/secret.txt', '/app/../package.json', '/app/%2e%2e/package.json',
      '/vendor/ort/../../package.json', '/vendor/vega/%2e%2e/package.json', '/files/tiny/%00', '/api/events?path=..', '/api/events?path=dir-out',
      `/api/generator?file=${encodeURIComponent('../board-outside/secret.txt')}`, '/api/generator?file=link-out.txt',
    ];
    for (const path of refused) {
      const r = await request(path);
      assert.ok(r.status === 403 || r.status === 404, `${path}: ${r.status}`);
      assert.ok(!r.body.includes('SECRET-OUTSIDE'), `${path} leaked the file`);
    }
    // A symlink that stays inside the folder is an ordinary file.
    const inside = await request('/files/link-in.json');
    assert.equal(inside.status, 200);
    assert.deepEqual(inside.body, readFileSync(join(root, 'tiny', 'run.json')));
  });

  test('serves nothing but files under the folder and the fixed assets', async () => {
    for (const path of ['/node_modules/vega/package.json', '/vendor/onnxruntime-node/package.json', '/vendor/vega/package.json', '/src/cli/main.ts',
      '/files/tiny', '/files/', '/files/tiny/samples', '/api/nope', '/files/.hidden', '/package.json']) {
      const r = await request(path);
      assert.ok(r.status === 403 || r.status === 404, `${path}: ${r.status}`);
    }
  });

  test('read-only: other methods get 405; requests to other host names get 403', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await request('/files/tiny/run.json', { method });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
    assert.equal((await request('/', { host: `evil.example:${port}` })).status, 403);
    assert.equal((await request('/', { host: `localhost:${port}` })).status, 200);
    const head = await request('/files/tiny/run.json', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  test('lists the run with its model and last step', async () => {
    const list = JSON.parse((await request('/api/list')).body.toString());
    assert.equal(list.exists, true);
    const run = list.runs.find((r: { path: string }) => r.path === 'tiny');
    assert.ok(run, JSON.stringify(list));
    assert.equal(run.model, 'tiny-dcgan');
    assert.equal(run.step, STEPS);
    assert.equal(run.target, STEPS);
    assert.equal(run.checkpoint, true);
    assert.ok(!list.runs.some((r: { path: string }) => r.path.startsWith('dir-out')), 'symlinked folders are not followed');
  });
});

describe('ganc board: live updates and the playground', () => {
  test('events: everything first, then each new metrics row (a torn line waits for its end)', async () => {
    const metrics = join(root, 'tiny', 'metrics.jsonl');
    const events: { type: string; rows?: { step: number }[]; detail?: { rows: unknown[]; samples: number[] } }[] = [];
    const req = http.get({ host: '127.0.0.1', port, path: '/api/events?path=tiny' });
    const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/event-stream/);
    let buf = '';
    res.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      for (let i; (i = buf.indexOf('\n\n')) >= 0; buf = buf.slice(i + 2)) {
        const data = buf.slice(0, i).split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('');
        if (data) events.push(JSON.parse(data));
      }
    });
    const waitFor = async (f: () => boolean, what: string) => {
      for (let t = 0; t < 100 && !f(); t++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(f(), `${what}: ${JSON.stringify(events.map((e) => e.type))}`);
    };
    try {
      await waitFor(() => events.length > 0, 'init');
      assert.equal(events[0].type, 'init');
      assert.equal(events[0].detail!.rows.length, STEPS);
      assert.deepEqual(events[0].detail!.samples, [3, 6]);
      const row = (step: number) => JSON.stringify({ step, epoch: 0, time: step, d_loss: 1.25, g_loss: 0.75 });
      appendFileSync(metrics, row(STEPS + 1) + '\n');
      await waitFor(() => events.some((e) => e.type === 'rows'), 'a rows event');
      const rows = events.filter((e) => e.type === 'rows').flatMap((e) => e.rows!);
      assert.deepEqual(rows.map((r) => r.step), [STEPS + 1]);
      const torn = row(STEPS + 2);
      appendFileSync(metrics, torn.slice(0, 20));
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(events.filter((e) => e.type === 'rows').length, 1, 'half a line is not a row');
      appendFileSync(metrics, torn.slice(20) + '\n');
      await waitFor(() => events.filter((e) => e.type === 'rows').length === 2, 'the completed line');
      assert.equal(events.filter((e) => e.type === 'rows')[1].rows![0].step, STEPS + 2);
      mkdirSync(join(root, 'tiny', 'samples'), { recursive: true });
      writeFileSync(join(root, 'tiny', 'samples', 'step_000009.png'), readFileSync(join(root, 'tiny', 'samples', 'step_000006.png')));
      await waitFor(() => events.some((e) => e.type === 'samples'), 'a samples event');
    } finally {
      req.destroy();
    }
  });

  test('a run\'s generator: the bytes ganc export writes, exported in memory (the run folder untouched)', async () => {
    const before = snapshot(join(root, 'tiny'));
    const info = JSON.parse((await request('/api/generator?path=tiny')).body.toString());
    assert.equal(info.model, 'tiny-dcgan');
    assert.equal(info.zSize, 100);
    assert.equal(info.size, 16);
    const bytes = (await request(new URL(info.url, board.url).pathname + new URL(info.url, board.url).search)).body;
    assert.deepEqual(snapshot(join(root, 'tiny')), before, 'the board wrote nothing into the run');
    const file = await exportRun(join(root, 'tiny'), join(outside, 'generator.onnx'));
    assert.deepEqual(bytes, readFileSync(file));
  });

  test('noise for seed S is what ganc sample --seed S draws; bad parameters are 400', async () => {
    const r = await request('/api/noise?seed=7&n=3&size=5&dist=uniform');
    assert.equal(r.status, 200);
    const z = new Float32Array(r.body.buffer.slice(r.body.byteOffset, r.body.byteOffset + r.body.byteLength));
    assert.deepEqual(z, sampleNoise(new Rng('7/samples'), 15, 'uniform'));
    for (const q of ['seed=-1&size=5', 'n=0&size=5', 'size=0', 'size=5&dist=cauchy', 'n=100000&size=5']) assert.equal((await request(`/api/noise?${q}`)).status, 400, q);
  });
});

describe('ganc board: the command', () => {
  test('serves the folder at the URL it prints, on 127.0.0.1; Ctrl-C stops it', async () => {
    const child = await spawnGanc(['board', root, '--port', '0']);
    const done = finished(child);
    let out = '';
    child.stdout!.on('data', (s: Buffer) => (out += s));
    for (let t = 0; t < 200 && !/http:\/\/\S+/.test(out); t++) await new Promise((r) => setTimeout(r, 100));
    const url = /(http:\/\/\S+)/.exec(out)?.[1];
    assert.ok(url?.startsWith('http://127.0.0.1:'), out);
    const list = await (await fetch(new URL('/api/list', url))).json();
    assert.equal(list.runs[0].path, 'tiny');
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 0, show(r));
  });

  test('bad input: one line, exit 1', async () => {
    const cases: [string[], RegExp][] = [
      [['board', join(root, 'tiny', 'run.json')], /^error: .*run\.json: not a folder$/],
      [['board', root, '--port', '70000'], /^error: --port must be an integer in 0\.\.65535/],
      [['board', root, '--port', String(port)], /^error: port \d+ is in use: choose another with --port$/],
      [['board', root, '--train-model', 'nope.ts'], /^error: nope\.ts: no such model file$/],
    ];
    for (const [args, want] of cases) {
      const r = await ganc(args);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr.trim(), want, show(r));
      assert.equal(r.stderr.trim().split('\n').length, 1, show(r));
    }
  });
});
