/**
 * Times ganc's training iteration (1 D update + g-steps G updates) for the seed's DCGAN at a given size, on
 * onnxruntime-node (CPU, or --device cuda) — the same work bench/dcgan_torch.py does. Prints one JSON line (like the peer) and, with
 * --profile, the time per ONNX op type from ORT's profiler.
 */
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { dcgan } from '../models/dcgan.ts';
import { variant } from '../src/dsl/gan.ts';
import { compileGan } from '../src/compiler/compile.ts';
import { StateStore } from '../src/runtime/state.ts';
import { SPIN_MODES, type Spin } from '../src/runtime/ort.ts';
import { openSessions } from '../src/runtime/steps.ts';
import { summarizeProfile } from '../src/runtime/profile.ts';

const { values: a } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    batch: { type: 'string', default: '64' },
    gf: { type: 'string', default: '64' },
    df: { type: 'string', default: '64' },
    'g-steps': { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    device: { type: 'string', default: 'cpu' },
    spin: { type: 'string', default: 'brief' }, // brief | off | on (src/runtime/ort.ts's Spin; ganc's default brief)
    iters: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
  },
});
const n = (k: keyof typeof a) => Number(a[k]);
if (!(SPIN_MODES as readonly string[]).includes(a.spin!)) throw new Error(`--spin ${a.spin}: one of ${SPIN_MODES.join(', ')}`);
const t0 = performance.now();
const def = variant(dcgan({ size: n('size'), gf: n('gf'), df: n('df'), channels: 3 }, 'bench'), { batch: n('batch'), gUpdatesPerD: n('g-steps') });
const c = compileGan(def);
const compileS = (performance.now() - t0) / 1000;
const store = StateStore.initial(c);
const profPrefix = `${tmpdir()}/ganc-profile-${process.pid}`;
const sessions = await openSessions(c, { device: a.device as 'cpu' | 'cuda', threads: n('threads'), spin: a.spin as Spin, profile: a.profile ? profPrefix : undefined });
const B = def.batch, S = def.image.size;
const real = new ort.Tensor('float32', Float32Array.from({ length: B * 3 * S * S }, () => Math.random() * 2 - 1), [B, 3, S, S]);
const z = () => new ort.Tensor('float32', Float32Array.from({ length: B * def.z.size }, () => Math.random() * 2 - 1), [B, def.z.size]);

const times: number[] = [];
const cpu: number[] = [];
let faults = 0;
for (let i = 0; i < n('warmup') + n('iters'); i++) {
  const w0 = performance.now();
  const c0 = process.cpuUsage();
  const f0 = process.resourceUsage().minorPageFault;
  await sessions.d.run(store, { real, z: z() });
  for (let k = 0; k < def.gUpdatesPerD; k++) await sessions.g.run(store, { real, z: z() });
  const dt = (performance.now() - w0) / 1000;
  const dc = process.cpuUsage(c0);
  if (i >= n('warmup')) {
    times.push(dt);
    cpu.push((dc.user + dc.system) / 1e6);
    faults += process.resourceUsage().minorPageFault - f0;
  }
}
const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
const flops = c.manifest.graphs.d_step.flops + def.gUpdatesPerD * c.manifest.graphs.g_step.flops;
let profile;
if (a.profile) profile = await summarizeProfile(sessions, profPrefix);
console.log(JSON.stringify({
  median_s: median(times), min_s: Math.min(...times), times_s: times, median_cpu_s: median(cpu),
  gflop: flops / 1e9, gflops_per_s: flops / 1e9 / median(times), compile_s: compileS,
  peak_rss_mb: process.resourceUsage().maxRSS / 1024, threads: n('threads'),
  // Minor page faults per timed iteration: memory the iteration touched afresh (freed and handed back between).
  minor_faults_per_iter: Math.round(faults / n('iters')), ...(profile ? { profile } : {}),
}));
