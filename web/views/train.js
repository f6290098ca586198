/**
 * Training in the browser: the board's small model (models/dcgan-small.ts unless --train-model) trained by
 * onnxruntime-web on a few hundred built-in logos, with live losses and samples — ganc's training graphs on a stock
 * runtime other than onnxruntime-node.
 */
import { h } from '../lib/dom.js';
import { LiveChart } from '../lib/chart.js';
import { gridCanvas } from '../lib/images.js';
import { hasWebGpu, limitThreads, wasmThreads } from '../lib/ort.js';
import { Trainer, SAMPLES } from '../lib/trainer.js';
import { rowsToSeries } from '../shared/charts.js';

const board = globalThis.gancBoard;
/** A new sample grid every this many iterations (and when paused). */
const SAMPLE_EVERY = 10;

export async function show(el, params) {
  if (params.has('threads')) limitThreads(Number(params.get('threads')));
  const gpu = await hasWebGpu();
  const ep = params.get('ep') === 'webgpu' && gpu ? 'webgpu' : 'wasm';
  const note = h('p.note', { id: 'train-note', text: 'loading…' });
  el.append(h('h1', { text: 'Train a GAN in the browser' }), note);
  const trainer = await Trainer.load(ep, (msg) => (note.textContent = msg));
  const { model } = trainer;
  const threads = ep === 'wasm' ? `WASM, ${wasmThreads()} thread${wasmThreads() > 1 ? 's' : ''}${globalThis.crossOriginIsolated ? '' : ' (the page is not cross-origin isolated)'}` : 'WebGPU';
  note.textContent = `${model.model} (${model.modelFile}): ${model.image.size}×${model.image.size}, batch ${model.batch}, ${(model.flopsPerIteration / 1e9).toFixed(1)} GFLOP per iteration, on ${model.data.source} · onnxruntime-web, ${threads}`;

  const seed = h('input', { type: 'number', value: '0', min: '0', step: '1', style: 'width: 6em' });
  const start = h('button.primary', { id: 'train-start' }, 'Start');
  const reset = h('button', { id: 'train-reset' }, 'Reset');
  const stats = h('span', { id: 'train-stats', text: 'step 0' });
  const epSwitch = gpu
    ? h('a', { href: ep === 'webgpu' ? '#/train' : '#/train?ep=webgpu', text: ep === 'webgpu' ? 'use WASM' : 'use WebGPU' })
    : h('span.note', { text: 'no WebGPU in this browser' });
  const chartEl = h('div.chart', { id: 'train-chart' });
  const samples = h('canvas.big', { id: 'train-samples' });
  el.append(
    h('div.controls', {}, start, reset, h('label', {}, 'seed ', seed), stats, epSwitch),
    h('div.row', {}, h('div.panel', {}, h('h2', { text: 'Losses' }), chartEl), h('div.panel', {}, h('h2', { text: `Samples (${SAMPLES} from a fixed z)` }), samples)),
  );
  const chart = new LiveChart(chartEl, { title: null, height: 300 });
  board.charts.set('train', chart);
  board.train = { trainer };

  let running = false;
  let looping = Promise.resolve();
  let shownAt = 0;
  let t0 = 0;
  let steps0 = 0;
  const showSamples = async () => gridCanvas(await trainer.samples(), SAMPLES, 3, model.image.size, 8, samples);
  const showRows = () => chart.update(rowsToSeries(trainer.rows), trainer.rows.length > 50 ? undefined : 0);
  const loop = async () => {
    t0 = performance.now();
    steps0 = trainer.step;
    while (running) {
      const row = await trainer.iterate();
      const rate = ((trainer.step - steps0) * 1000) / (performance.now() - t0);
      stats.textContent = `step ${row.step} · epoch ${row.epoch} · ${rate.toFixed(2)} it/s · d_loss ${row.d_loss.toFixed(3)} · g_loss ${row.g_loss.toFixed(3)}`;
      if (performance.now() - shownAt > 500) {
        shownAt = performance.now();
        await showRows();
      }
      if (row.step % SAMPLE_EVERY === 0) await showSamples();
      await new Promise((r) => setTimeout(r, 0)); // let clicks through between iterations
    }
    await showRows();
    await showSamples();
  };
  start.addEventListener('click', () => {
    running = !running;
    start.textContent = running ? 'Pause' : 'Start';
    if (running) looping = loop().catch((e) => (note.textContent = `training failed: ${e.message}`));
  });
  reset.addEventListener('click', async () => {
    running = false;
    start.textContent = 'Start';
    await looping; // the iteration in flight finishes before the state is replaced
    trainer.reset(Number(seed.value) >>> 0);
    stats.textContent = 'step 0';
    await showRows();
    await showSamples();
  });
  await showSamples();
  return () => {
    running = false;
  };
}
