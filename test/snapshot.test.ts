// Graph snapshots: every model in models/ compiles to exactly the graphs pinned in test/snapshots/.
//
//   test/snapshots/<model>.summary.txt   batch, image, z, optimizer, graphs (nodes, FLOPs), state tensors
//   test/snapshots/<model>.<graph>.txt   graphToText of d_step, g_step, generate
//
// A model without snapshots fails. After an intended change: npm run test:update-snapshots
// (GANC_UPDATE_SNAPSHOTS=1), then review the diff of test/snapshots/ like code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compileGan, type Compiled } from '../src/compiler/compile.ts';
import { graphToText } from '../src/compiler/text.ts';
import type { GanDef } from '../src/dsl/gan.ts';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const modelsDir = path.join(root, 'models');
const snapDir = path.join(root, 'test', 'snapshots');
const UPDATE = process.env.GANC_UPDATE_SNAPSHOTS === '1';
const UPDATE_CMD = 'npm run test:update-snapshots';

const modelFiles = readdirSync(modelsDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).sort();

async function loadDef(file: string): Promise<GanDef | undefined> {
  const mod = (await import(pathToFileURL(file).href)) as { default?: GanDef };
  if (mod.default === undefined) return undefined; // a helper module (shared blocks), not a model
  assert.equal(mod.default?.kind, 'ganc.gan', `${path.relative(root, file)}: the default export is not a gan({...})`);
  return mod.default;
}

const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;

/** The manifest, condensed: what a reviewer wants to see change (or not) beside the graphs. */
function summaryText(c: Compiled, source: string): string {
  const m = c.manifest;
  const L: string[] = [];
  L.push(`model ${m.model} (${source})`);
  L.push(`image ${m.image.channels}x${m.image.size}x${m.image.size}  z ${m.z.size} ${m.z.dist}  batch ${m.batch}` +
    `${m.classes ? `  classes ${m.classes}` : ''}  gUpdatesPerD ${m.gUpdatesPerD}${m.dUpdatesPerG ? `  dUpdatesPerG ${m.dUpdatesPerG}` : ''}` +
    `${m.ema ? `  ema ${m.ema.decay}${m.ema.warmup ? ' warmup' : ''}` : ''}  seed ${m.seed}`);
  for (const net of ['d', 'g'] as const) {
    const o = c.def.optimizer[net];
    L.push(`adam ${net}: lr ${o.lr} beta1 ${o.beta1} beta2 ${o.beta2} eps ${o.eps}`);
  }
  L.push('graphs');
  for (const [name, g] of Object.entries(m.graphs)) {
    L.push(`  ${name.padEnd(10)} ${String(g.nodes).padStart(5)} nodes  ${String(g.flops).padStart(13)} FLOP` +
      `  ${g.inputs.length} in  ${g.outputs.length} out`);
  }
  L.push(`flops per iteration ${m.flopsPerIteration}`);
  const count = (role: string) => m.state.filter((s) => s.role === role).length;
  const params = m.state.filter((s) => s.role === 'param').reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  const more = (['sn_state', 'ema'] as const).filter((r) => count(r)).map((r) => `, ${count(r)} ${r}`).join('');
  L.push(`state ${m.state.length} tensors (${count('param')} param = ${params} values, ${count('bn_state')} bn_state${more}, ` +
    `${count('optimizer_state')} optimizer_state)`);
  for (const s of m.state) {
    L.push(`  ${s.role.padEnd(15)} ${s.network} ${s.name} ${fmtShape(s.shape)} ${s.init}`);
  }
  return L.join('\n') + '\n';
}

/** Snapshot name → text for one compiled model. */
function snapshotsOf(stem: string, c: Compiled, source: string): Map<string, string> {
  const out = new Map<string, string>([[`${stem}.summary.txt`, summaryText(c, source)]]);
  for (const g of c.graphs) out.set(`${stem}.${g.name}.txt`, graphToText(g));
  return out;
}

// ---- a small line diff for failure messages ---------------------------------------------------------------------

/** Unified-style hunks (2 lines of context) of the first differences, at most `maxLines` lines. */
function lineDiff(expected: string, actual: string, maxLines = 40): string {
  const a = expected.split('\n'), b = actual.split('\n');
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const A = a.slice(pre, a.length - suf), B = b.slice(pre, b.length - suf);
  // Edit script over the differing middle: LCS when it is small enough, else "all removed, all added".
  type Op = [' ' | '-' | '+', string];
  const ops: Op[] = [];
  if (A.length * B.length <= 4e6) {
    const n = A.length, m = B.length, w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = A[i] === B[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && A[i] === B[j]) ops.push([' ', A[i++]]), j++;
      else if (i < n && (j === m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) ops.push(['-', A[i++]]);
      else ops.push(['+', B[j++]]);
    }
  } else {
    for (const l of A) ops.push(['-', l]);
    for (const l of B) ops.push(['+', l]);
  }
  const all: Op[] = [...a.slice(Math.max(0, pre - 2), pre).map((l): Op => [' ', l]), ...ops,
    ...a.slice(a.length - suf, a.length - suf + 2).map((l): Op => [' ', l])];
  const firstLine = Math.max(0, pre - 2) + 1;
  // Drop runs of more than 5 unchanged lines inside the middle.
  const shown: string[] = [`@@ -${firstLine} +${firstLine} @@`];
  let same = 0;
  for (let k = 0; k < all.length; k++) {
    const [op, l] = all[k];
    if (op === ' ') {
      same++;
      const nextChange = all.slice(k + 1, k + 3).some(([o]) => o !== ' ');
      if (same > 2 && !nextChange) {
        if (shown[shown.length - 1] !== '   ...') shown.push('   ...');
        continue;
      }
    } else same = 0;
    shown.push(`${op}  ${l}`);
  }
  const changed = ops.filter(([o]) => o !== ' ').length;
  const head = shown.slice(0, maxLines);
  if (shown.length > maxLines) head.push(`   ... (${changed} changed lines in all)`);
  return head.join('\n');
}

// ---- the tests -------------------------------------------------------------------------------------------------

test('models/ holds at least one model', () => {
  assert.ok(modelFiles.length > 0, 'no .ts files in models/');
});

const expectedSnapshots = new Set<string>();
const firstCompile = new Map<string, Map<string, string>>();
/** Model files whose test got as far as producing its snapshots (or found a helper module). */
const processed = new Set<string>();
let timings: string[] = [];
const compileSeconds = new Map<string, number>();

for (const f of modelFiles) {
  const stem = f.slice(0, -3);
  test(`snapshot: models/${f}`, async (t) => {
    const def = await loadDef(path.join(modelsDir, f));
    if (!def) {
      t.skip(`models/${f} has no default export (a helper module)`);
      processed.add(f);
      return;
    }
    const t0 = performance.now();
    const c = compileGan(def);
    const seconds = (performance.now() - t0) / 1000;
    compileSeconds.set(f, seconds);
    timings.push(`${f}: compileGan ${seconds.toFixed(2)} s`);
    const snaps = snapshotsOf(stem, c, `models/${f}`);
    firstCompile.set(f, snaps);
    processed.add(f);
    const failures: string[] = [];
    for (const [name, text] of snaps) {
      expectedSnapshots.add(name);
      const file = path.join(snapDir, name);
      const old = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      if (UPDATE) {
        if (old !== text) {
          mkdirSync(snapDir, { recursive: true });
          writeFileSync(file, text);
          t.diagnostic(`${old === undefined ? 'wrote' : 'updated'} test/snapshots/${name}`);
        }
      } else if (old === undefined) {
        failures.push(`missing snapshot test/snapshots/${name}`);
      } else if (old !== text) {
        failures.push(`test/snapshots/${name} differs (- snapshot, + now):\n${lineDiff(old, text)}`);
      }
    }
    if (failures.length) assert.fail(`${failures.join('\n\n')}\n\nTo accept the graphs as they are now (after reviewing the diff): ${UPDATE_CMD}`);
  });
}

test('no stale snapshots (of models or graphs that no longer exist)', (t) => {
  const stale = existsSync(snapDir)
    ? readdirSync(snapDir).filter((f) => f.endsWith('.txt') && !expectedSnapshots.has(f))
    : [];
  // Only meaningful when every model's test ran (not filtered out) and compiled; a failed compile fails its own test.
  if (processed.size < modelFiles.length) {
    t.skip('not every model was compiled in this run');
    return;
  }
  if (UPDATE) {
    for (const f of stale) {
      unlinkSync(path.join(snapDir, f));
      t.diagnostic(`removed stale test/snapshots/${f}`);
    }
    return;
  }
  assert.deepEqual(stale, [], `stale snapshots in test/snapshots/ — ${UPDATE_CMD} removes them`);
});

test('the text does not depend on what was compiled before (in-process global counters)', async () => {
  // Compile one model again (the quickest): its value ids now start where all the compiles above ended.
  const f = [...firstCompile.keys()].sort((a, b) => compileSeconds.get(a)! - compileSeconds.get(b)!)[0];
  assert.ok(f, 'no model compiled');
  const def = (await loadDef(path.join(modelsDir, f)))!;
  const again = snapshotsOf(f.slice(0, -3), compileGan(def), `models/${f}`);
  for (const [name, text] of firstCompile.get(f)!) {
    assert.ok(again.get(name) === text, `${name} changed between two compiles in one process:\n${lineDiff(text, again.get(name)!)}`);
  }
});

test('the text is the same in a fresh process', async () => {
  // A small fixture model, compiled here after everything above and in a child process that compiles nothing else.
  const fixture = path.join(root, 'test', 'fixtures', 'models', 'tiny_ok.ts');
  const hashOf = (c: Compiled) => createHash('sha256').update(c.graphs.map((g) => graphToText(g)).join('\0')).digest('hex');
  const mine = hashOf(compileGan((await loadDef(fixture))!));
  const script = `
    const { compileGan } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'src/compiler/compile.ts')).href)});
    const { graphToText } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'src/compiler/text.ts')).href)});
    const { createHash } = await import('node:crypto');
    const def = (await import(${JSON.stringify(pathToFileURL(fixture).href)})).default;
    const c = compileGan(def);
    process.stdout.write(createHash('sha256').update(c.graphs.map((g) => graphToText(g)).join('\\0')).digest('hex'));
  `;
  const theirs = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(theirs.trim(), mine);
});

test('compile times', (t) => {
  for (const l of timings) t.diagnostic(l);
  timings = [];
});
