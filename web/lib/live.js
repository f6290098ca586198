/** Live updates of runs from the board (Server-Sent Events of /api/events): one connection for any number of runs. */
export function watchRuns(paths, onEvent, onStatus = () => {}) {
  const q = paths.map((p) => `path=${encodeURIComponent(p)}`).join('&');
  const source = new EventSource(`/api/events?${q}`);
  source.onmessage = (m) => onEvent(JSON.parse(m.data));
  source.onopen = () => onStatus('live');
  source.onerror = () => onStatus(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting…');
  return () => source.close();
}

/** metrics rows kept per run, applying `rows` (appended) and `reset`/`init` (replaced) events. */
export class RunRows {
  constructor() {
    this.byRun = new Map();
  }

  apply(e) {
    if (e.type === 'init') this.byRun.set(e.path, e.detail.rows);
    else if (e.type === 'reset') this.byRun.set(e.path, e.rows);
    else if (e.type === 'rows') this.byRun.set(e.path, [...(this.byRun.get(e.path) ?? []), ...e.rows]);
    else return false;
    return true;
  }

  get(path) {
    return this.byRun.get(path) ?? [];
  }
}
