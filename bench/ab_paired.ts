/**
 * A/B of two ganc trees in ONE process: each tree compiles the seed's DCGAN with its own compiler and opens its own
 * sessions; iterations (1 D + 1 G, batch 64) alternate A, B, B, A, … so that the machine's slow and fast phases
 * (±15% between processes here) fall on both. Prints the median of the per-pair ratios B / A, of wall and of CPU
 * time, and in how many pairs B was cheaper. Two identical trees gave 0.97–1.03 on a quiet day and 0.94–1.01 over
 * 12–16 pairs on a busy one: read anything inside that as "no detectable difference", and repeat a close call. The
 * trees share one malloc heap, so a change in how much memory one allocates can move the other's page faults;
 * confirm memory-heavy changes with separate processes (bench/ganc_iter.ts, alternated).
 *
 *   git worktree add ../ganc-a <commit> && ln -s "$PWD/node_modules" ../ganc-a/
 *   node --import tsx bench/ab_paired.ts --a ../ganc-a --b . --size 64 --width 64 --pairs 8 [--spin brief|off|on]
 *   node --import tsx bench/ab_paired.ts --a . --b . --b-env GANC_CONV_FORMS=phase,patches --size 32 --width 32
 * --b-env KEY=VALUE (repeatable) sets an environment variable before B compiles; with one tree for both, only
 * settings read when a model is compiled (GANC_CONV_FORMS) can differ, since both share the loaded modules.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    a: { type: 'string' }, b: { type: 'string', default: '.' },
    size: { type: 'string', default: '64' }, width: { type: 'string', default: '64' },
    pairs: { type: 'string', default: '8' }, threads: { type: 'string', default: '2' },
    spin: { type: 'string', default: 'brief' }, 'b-env': { type: 'string', multiple: true, default: [] },
  },
});
if (!a.a) throw new Error('--a TREE is required (a checkout of the other commit, with node_modules)');

type Iteration = () => Promise<{ wall: number; cpu: number }>;

/** Tree `root`'s compiler and runtime, one DCGAN, and one timed iteration of it. */
async function load(root: string): Promise<Iteration> {
  const from = (p: string) => import(path.resolve(root, p));
  const [{ dcgan }, { variant }, { compileGan }, { StateStore }, { openSessions }] = await Promise.all([
    from('models/dcgan.ts'), from('src/dsl/gan.ts'), from('src/compiler/compile.ts'), from('src/runtime/state.ts'), from('src/runtime/steps.ts'),
  ]);
  const ortModule = await from('node_modules/onnxruntime-node/dist/index.js');
  const ort = ortModule.default ?? ortModule;
  const S = Number(a.size), W = Number(a.width);
  const def = variant(dcgan({ size: S, gf: W, df: W, channels: 3 }, 'ab'), { batch: 64 });
  const c = compileGan(def);
  // Trees before c561465 have no StateStore.initial: their Compiled carries the init array.
  const store = StateStore.initial ? StateStore.initial(c) : StateStore.fromInit(c.manifest, c.init);
  const sessions = await openSessions(c, { device: 'cpu', threads: Number(a.threads), spin: a.spin, spinning: a.spin === 'on' }); // spinning: trees before brief spinning
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const real = new ort.Tensor('float32', Float32Array.from({ length: 64 * 3 * S * S }, rnd), [64, 3, S, S]);
  const z = () => new ort.Tensor('float32', Float32Array.from({ length: 64 * def.z.size }, rnd), [64, def.z.size]);
  return async () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await sessions.d.run(store, { real, z: z() });
    await sessions.g.run(store, { real, z: z() });
    const dc = process.cpuUsage(c0);
    return { wall: (performance.now() - t0) / 1000, cpu: (dc.user + dc.system) / 1e6 };
  };
}

const A = await load(a.a);
for (const kv of a['b-env']!) {
  const [k, ...v] = kv.split('=');
  process.env[k] = v.join('=');
}
const B = await load(a.b!);
for (let i = 0; i < 2; i++) { await A(); await B(); }
const wall: number[] = [], cpu: number[] = [];
for (let i = 0; i < Number(a.pairs); i++) {
  const [first, second] = i % 2 ? [B, A] : [A, B];
  const r1 = await first(), r2 = await second();
  const [ra, rb] = i % 2 ? [r2, r1] : [r1, r2];
  wall.push(rb.wall / ra.wall);
  cpu.push(rb.cpu / ra.cpu);
}
const median = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
console.log(JSON.stringify({
  size: Number(a.size), width: Number(a.width), pairs: cpu.length, ratio_wall_median: +median(wall).toFixed(3),
  ratio_cpu_median: +median(cpu).toFixed(3), b_faster_wall_in: `${wall.filter((r) => r < 1).length}/${wall.length}`,
  b_cheaper_cpu_in: `${cpu.filter((r) => r < 1).length}/${cpu.length}`,
  ratios_wall: wall.map((r) => +r.toFixed(3)), ratios_cpu: cpu.map((r) => +r.toFixed(3)),
}));
