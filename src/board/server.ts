/**
 * `ganc board`'s server: read-only, GET/HEAD only, bound to 127.0.0.1 unless told otherwise, answering only
 * requests addressed to a loopback name when bound there (a page on another site cannot reach it by DNS rebinding).
 *
 *   /                      the page (web/index.html); /app/…  the page's files (web/)
 *   /vendor/<pkg>/…        vega, vega-lite, vega-embed, onnxruntime-web (their dist folders)
 *   /files/…               files under the board's folder (sample grids, reports, generator.onnx)
 *   /api/list              runs, studies, .onnx files
 *   /api/events?path=…     live updates of one or more runs (Server-Sent Events)
 *   /api/study?path=…      a study's runs
 *   /api/generator?path=…|file=…, /api/generator.onnx?path=…, /api/noise?…   the playground
 *   /api/train/…           the browser-training page's model, graphs, initial state and data
 */
import { createReadStream, statSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GancError } from '../errors.ts';
import { vendorDir, WEB_DIR } from './assets.ts';
import { fileGenerator, Generators, seededNoise } from './generators.ts';
import { contentType, COMMON_HEADERS, HttpError, send, sendError, sendJson } from './http.ts';
import { RunWatcher, streamEvents } from './live.ts';
import { listBoard, relPath, studyDetail } from './runs.ts';
import { resolveInside, resolveParam, splitSegments } from './safe_path.ts';
import { BrowserTraining } from './train_page.ts';

export interface BoardOptions {
  /** The folder of runs and studies. */
  dir: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** How often live updates look at the files (ms). */
  pollMs?: number;
  /** Model file the browser-training page trains (default models/dcgan-small.ts). */
  trainModel?: string;
  /** Logos it trains on (default BROWSER_LOGOS; tests take fewer). */
  trainLogos?: number;
}

export interface Board {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Host header without its port ('[::1]:80' → '::1'). */
function hostName(header: string | undefined): string {
  if (!header) return '';
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(header) ?? /^([^:]+)(?::\d+)?$/.exec(header);
  return (m?.[1] ?? '').toLowerCase();
}

export function createHandler(opts: Required<Pick<BoardOptions, 'dir' | 'pollMs'>> & Pick<BoardOptions, 'trainModel' | 'trainLogos'> & { host: string }) {
  const generators = new Generators();
  const training = new BrowserTraining(opts.trainModel, opts.trainLogos);
  const root = opts.dir;

  const sendFile = (req: IncomingMessage, res: ServerResponse, file: string, cache = 'no-cache'): void => {
    const st = statSync(file);
    res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': contentType(file), 'Content-Length': String(st.size), 'Cache-Control': cache, 'Last-Modified': st.mtime.toUTCString() });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).on('error', () => res.destroy()).pipe(res);
  };

  const api = async (req: IncomingMessage, res: ServerResponse, name: string, q: URLSearchParams) => {
    switch (name) {
      case 'list':
        return sendJson(req, res, listBoard(root));
      case 'events': {
        const dirs = q.getAll('path').map((p) => resolveParam(root, p, 'dir'));
        if (!dirs.length || dirs.length > 32) throw new HttpError(400, 'name 1 to 32 runs (path=…)');
        return streamEvents(req, res, dirs.map((d) => new RunWatcher(root, d, relPath(root, d))), opts.pollMs);
      }
      case 'study':
        return sendJson(req, res, studyDetail(root, resolveParam(root, q.get('path'), 'dir')));
      case 'generator': {
        if (q.has('file')) {
          const rel = q.get('file')!;
          const file = resolveParam(root, rel, 'file');
          return sendJson(req, res, { ...fileGenerator(file), url: `/files/${rel.split('/').map(encodeURIComponent).join('/')}` });
        }
        const rel = q.get('path');
        const g = await generators.fromRun(resolveParam(root, rel, 'dir'));
        return sendJson(req, res, { ...g.info, url: `/api/generator.onnx?path=${encodeURIComponent(rel!)}&v=${encodeURIComponent(g.key)}` });
      }
      case 'generator.onnx': {
        const g = await generators.fromRun(resolveParam(root, q.get('path'), 'dir'));
        return send(req, res, 200, g.bytes, 'application/octet-stream');
      }
      case 'noise': {
        const z = seededNoise(Number(q.get('seed') ?? 0), Number(q.get('n') ?? 64), Number(q.get('size')), q.get('dist') ?? 'uniform');
        return send(req, res, 200, new Uint8Array(z.buffer), 'application/octet-stream');
      }
      default:
        throw new HttpError(404, `no API ${name}`);
    }
  };

  const trainApi = async (req: IncomingMessage, res: ServerResponse, name: string) => {
    if (name === 'model.json') return sendJson(req, res, await training.manifest());
    if (name === 'init.bin') return send(req, res, 200, await training.init(), 'application/octet-stream');
    if (name === 'data.bin') return send(req, res, 200, await training.pixels(), 'application/octet-stream');
    const m = /^([a-z_]+)\.onnx$/.exec(name);
    if (m) return send(req, res, 200, await training.graph(m[1]), 'application/octet-stream');
    throw new HttpError(404, `no ${name}`);
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        throw new HttpError(405, `${req.method} is not allowed: the board is read-only`);
      }
      if (LOOPBACK.has(opts.host) && !LOOPBACK.has(hostName(req.headers.host))) throw new HttpError(403, 'this board answers requests to localhost only');
      const raw = req.url ?? '/';
      const qAt = raw.indexOf('?');
      const pathname = qAt < 0 ? raw : raw.slice(0, qAt);
      const query = new URLSearchParams(qAt < 0 ? '' : raw.slice(qAt + 1));
      // Segments are checked one by one before anything is joined: /files/../x and /files/%2e%2e/x are refused alike.
      const seg = splitSegments(pathname);
      const [head, ...rest] = seg;
      if (seg.length === 0) return sendFile(req, res, resolveInside(WEB_DIR, ['index.html']));
      if (head === 'app') return sendFile(req, res, resolveInside(WEB_DIR, rest));
      if (head === 'files') return sendFile(req, res, resolveInside(root, rest));
      if (head === 'vendor') {
        const dir = vendorDir(rest[0] ?? '');
        if (!dir) throw new HttpError(404, 'no such package');
        return sendFile(req, res, resolveInside(dir, rest.slice(1)), 'max-age=3600');
      }
      if (head === 'api' && rest[0] === 'train' && rest.length === 2) return await trainApi(req, res, rest[1]);
      if (head === 'api' && rest.length === 1) return await api(req, res, rest[0], query);
      throw new HttpError(404, 'not found');
    } catch (e) {
      sendError(req, res, e instanceof GancError ? new HttpError(400, e.line) : e);
    }
  };
}

export async function startBoard(opts: BoardOptions): Promise<Board> {
  const host = opts.host ?? '127.0.0.1';
  const handler = createHandler({ ...opts, host, pollMs: opts.pollMs ?? 1000 });
  const server = http.createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? new GancError(`port ${opts.port} is in use: choose another with --port`) : e));
    server.listen(opts.port ?? 6066, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${shown}:${port}/`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
