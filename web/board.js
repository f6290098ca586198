/**
 * The board page: a hash router over the views. #/ runs and studies · #/run?path=… one run · #/compare?path=…&path=…
 * several runs on one chart · #/study?path=… a study · #/play?run=…|file=… the generator playground · #/train training
 * in the browser. window.gancBoard exposes the live objects (charts, playground, trainer) for tests.
 */
import { h, clear, getJson, fmt } from './lib/dom.js';

const main = document.getElementById('main');
export const board = (globalThis.gancBoard = { view: undefined, charts: new Map() });

const VIEWS = {
  '': () => ({ show: listView }),
  run: () => import('./views/run.js'),
  compare: () => import('./views/compare.js'),
  study: () => import('./views/compare.js').then((m) => ({ show: m.showStudy })),
  play: () => import('./views/play.js'),
  train: () => import('./views/train.js'),
};

let leave = () => {};

async function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [name, query = ''] = hash.split('?');
  const params = new URLSearchParams(query);
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.nav === (name || 'list'));
  leave();
  leave = () => {};
  board.charts.clear();
  board.view = name;
  board.ready = false;
  clear(main);
  try {
    const mod = await (VIEWS[name] ?? VIEWS[''])();
    leave = (await mod.show(main, params)) ?? (() => {});
  } catch (e) {
    main.append(h('p.error', { text: e.message }));
    console.error(e);
  }
  board.ready = true;
}

function age(ms) {
  const s = (Date.now() - ms) / 1000;
  return s < 60 ? `${Math.round(s)} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : s < 86400 ? `${Math.round(s / 3600)} h ago` : new Date(ms).toLocaleDateString();
}

/** Runs, studies and generators; refreshed every few seconds (a new run appears without a reload). */
async function listView(el) {
  const body = h('div');
  el.append(h('h1', { text: 'Runs' }), body);
  const selected = new Set();
  const draw = async () => {
    const list = await getJson('/api/list');
    const rows = list.runs.map((r) => {
      const live = Date.now() - r.updated < 30000 && r.step !== r.target;
      const box = h('input', { type: 'checkbox', checked: selected.has(r.path), onchange: (e) => (e.target.checked ? selected.add(r.path) : selected.delete(r.path)) });
      return h('tr', {},
        h('td', {}, box),
        h('td', {}, h('a', { href: `#/run?path=${encodeURIComponent(r.path)}`, text: r.path || '(this folder)' }), ' ', live ? h('span.badge.live', { text: 'training' }) : ''),
        h('td', { text: r.model }),
        h('td.num', { text: r.step === null ? '–' : r.target ? `${r.step} / ${r.target}` : fmt(r.step) }),
        h('td', { text: r.updated ? age(r.updated) : '–' }),
        h('td', {}, r.checkpoint ? h('a', { href: `#/play?run=${encodeURIComponent(r.path)}`, text: 'playground' }) : h('span.note', { text: 'no checkpoint yet' })));
    });
    const compare = h('button', { onclick: () => (location.hash = `#/compare?${[...selected].map((p) => `path=${encodeURIComponent(p)}`).join('&')}`) }, 'Compare selected runs');
    clear(body).append(
      !list.exists ? h('p.note', { text: 'The folder does not exist yet: start a run (npx ganc run models/dcgan.ts) and it appears here.' }) : '',
      list.runs.length
        ? h('div', {}, h('table', {}, h('tr', {}, ['', 'run', 'model', 'step', 'updated', ''].map((t) => h('th', { text: t }))), rows), compare)
        : h('p.note', { text: 'No runs yet. Train one with: npx ganc run models/dcgan.ts' }),
      list.studies.length ? h('h2', { text: 'Studies' }) : '',
      list.studies.length ? h('ul', {}, list.studies.map((s) => h('li', {}, h('a', { href: `#/study?path=${encodeURIComponent(s.path)}`, text: s.path }), h('span.note', { text: ` ${s.runs.length} runs` })))) : '',
      list.generators.length ? h('h2', { text: 'Exported generators' }) : '',
      list.generators.length ? h('ul', {}, list.generators.map((g) => h('li', {}, h('a', { href: `#/play?file=${encodeURIComponent(g)}`, text: g })))) : '',
    );
  };
  await draw();
  const timer = setInterval(() => draw().catch(() => {}), 3000);
  return () => clearInterval(timer);
}

window.addEventListener('hashchange', route);
route();
