/**
 * The generator playground: onnxruntime-web runs the generator in the page. A grid from a seed (the same z as
 * `ganc sample --seed S`), click two images to walk between their z (slerp for normal noise, lerp for uniform),
 * re-roll one image, download the grid or the walk as PNG.
 */
import { h, clear, getJson, getBytes } from '../lib/dom.js';
import { createSession } from '../lib/ort.js';
import { drawImage, gridCanvas, downloadPng } from '../lib/images.js';
import { interpolate } from '../shared/latent.js';
import { Random, fillNoise } from '../shared/random.js';

const board = globalThis.gancBoard;
const N = 64;
const WALK = 10;

async function pickSource(el) {
  const list = await getJson('/api/list');
  const runs = list.runs.filter((r) => r.checkpoint);
  el.append(h('h1', { text: 'Generator playground' }), h('p', { text: 'Pick a run (its latest checkpoint) or an exported generator:' }));
  if (!runs.length && !list.generators.length) el.append(h('p.note', { text: 'No run has a checkpoint yet, and there is no .onnx file under the folder.' }));
  el.append(h('ul', {},
    runs.map((r) => h('li', {}, h('a', { href: `#/play?run=${encodeURIComponent(r.path)}`, text: r.path || '(this folder)' }), h('span.note', { text: ` ${r.model}, step ${r.step ?? '–'}` }))),
    list.generators.map((g) => h('li', {}, h('a', { href: `#/play?file=${encodeURIComponent(g)}`, text: g })))));
}

/** The walk between two chosen images: WALK images from one z to the other, drawn in a strip. */
function walkPanel(el, state) {
  const { zSize, zDist, channels, size } = state.info;
  const strip = h('div.strip', { id: 'walk' });
  const note = h('p.note', { text: 'Click two images to walk from one to the other.' });
  const download = () => state.walk && downloadPng(gridCanvas(state.walk.images, WALK, channels, size, WALK), `${state.info.model ?? 'generator'}-walk.png`);
  el.append(h('h2', { text: 'Walk between two images' }), note, strip, h('div.controls', {}, h('button', { onclick: download }, 'Download walk PNG')));
  return async () => {
    if (state.selected.length < 2) return;
    const [a, b] = state.selected.map((k) => state.z.subarray(k * zSize, (k + 1) * zSize));
    const z = new Float32Array(WALK * zSize);
    interpolate(a, b, WALK, zDist).forEach((v, i) => z.set(v, i * zSize));
    const images = (await state.generate(z, WALK)).slice();
    state.walk = { z, images, from: state.selected[0], to: state.selected[1] };
    clear(strip);
    for (let i = 0; i < WALK; i++) {
      const c = h('canvas');
      drawImage(c, images, i, channels, size);
      strip.append(c);
    }
    note.textContent = `From image ${state.selected[0] + 1} to image ${state.selected[1] + 1} by ${zDist === 'normal' ? 'spherical (slerp: the noise is normal)' : 'linear (the noise is uniform)'} interpolation.`;
  };
}

export async function show(el, params) {
  const run = params.get('run');
  const file = params.get('file');
  if (run === null && file === null) return pickSource(el);
  const note = h('p.note', { text: 'exporting the generator…' });
  el.append(h('h1', { text: `Playground: ${run ?? file}` }), note);
  const info = await getJson(run !== null ? `/api/generator?path=${encodeURIComponent(run)}` : `/api/generator?file=${encodeURIComponent(file)}`);
  note.textContent = 'loading onnxruntime-web…';
  const { ort, session } = await createSession(await getBytes(info.url));
  const { zSize, zDist, channels, size } = info;
  note.textContent = `${info.model ?? 'generator'}${info.step !== null ? ` at step ${info.step}` : ''} · z ${zSize} (${zDist}) → ${channels}×${size}×${size} · runs in this page (onnxruntime-web ${ort.env.versions?.web ?? ''}, WASM)`;

  const generate = async (z, n) => {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', z, [n, zSize]) });
    return out[session.outputNames[0]].data;
  };
  const state = (board.play = { info, seed: 0, z: new Float32Array(N * zSize), images: new Float32Array(0), selected: [], walk: undefined, generate });
  const rand = new Random((Math.random() * 2 ** 32) >>> 0);
  const seed = h('input', { type: 'number', min: '0', step: '1', value: '0', style: 'width: 7em', id: 'seed' });
  const tiles = h('div.tiles', { id: 'tiles' });
  const canvases = [];
  const drawTile = (k) => drawImage(canvases[k], state.images, k, channels, size);
  const markSelected = () => canvases.forEach((c, k) => c.parentElement.classList.toggle('selected', state.selected.includes(k)));

  const newGrid = async () => {
    state.seed = Number(seed.value) >>> 0;
    const bytes = await getBytes(`/api/noise?seed=${state.seed}&n=${N}&size=${zSize}&dist=${zDist}`);
    state.z = new Float32Array(bytes.buffer, bytes.byteOffset, N * zSize).slice();
    state.images = (await generate(state.z, N)).slice();
    for (let k = 0; k < N; k++) drawTile(k);
    state.selected = [];
    markSelected();
  };
  el.append(
    h('div.controls', {},
      h('label', {}, 'seed ', seed),
      h('button.primary', { onclick: newGrid, id: 'new-grid' }, 'Generate'),
      h('button', { onclick: () => ((seed.value = String((Math.random() * 1e6) | 0)), newGrid()) }, 'Random seed'),
      h('button', { onclick: () => downloadPng(gridCanvas(state.images, N, channels, size, 8), `${info.model ?? 'generator'}-seed${state.seed}.png`), id: 'download' }, 'Download PNG')),
    h('p.note', { text: 'The grid for seed S is the one ganc sample --seed S draws. ↻ on an image draws it a new z.' }),
    tiles);
  const walk = walkPanel(el, state);
  const reroll = async (k) => {
    const z = fillNoise(rand, new Float32Array(zSize), zDist);
    state.z.set(z, k * zSize);
    const img = await generate(z, 1);
    state.images.set(img, k * img.length);
    drawTile(k);
    if (state.selected.includes(k)) await walk();
  };
  const select = async (k) => {
    state.selected = [...state.selected.filter((s) => s !== k), k].slice(-2);
    markSelected();
    await walk();
  };
  for (let k = 0; k < N; k++) {
    const c = h('canvas', { title: `image ${k + 1}` });
    canvases.push(c);
    tiles.append(h('div.tile', { onclick: () => select(k) }, c, h('button.reroll', { title: 'new z for this image', onclick: (e) => (e.stopPropagation(), reroll(k)) }, '↻')));
  }
  seed.addEventListener('change', newGrid);
  await newGrid();
}
