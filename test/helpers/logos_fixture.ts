/**
 * Shared by the CLI tests (train, resume, bad data, export): a small REAL logo set rendered once per test process
 * by ganc's own renderer into a temporary folder, a private GANC_CACHE for child processes, and `ganc` itself run
 * as a child process (`node bin/ganc.mjs …` from the repository root, stdout/stderr captured).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildLogos } from '../../src/runtime/data/logos.ts';

export const REPO = resolve(import.meta.dirname, '../..');
export const BIN = join(REPO, 'bin/ganc.mjs');
export const MODELS = join(REPO, 'test/fixtures/models');
/** 16×16 DCGAN, widths 8, batch 16. */
export const TINY = join(MODELS, 'tiny_dcgan.ts');

export interface LogosFixture {
  /** Temporary folder of this test process (removed when it exits). */
  root: string;
  /** 64 rendered logos at 16 px, in two subfolders (simple-icons, iconify-logos). */
  logos: string;
  count: number;
  /** GANC_CACHE for child processes. */
  cache: string;
}

let fixture: Promise<LogosFixture> | undefined;

/** The logo set (rendered on the first call; later calls share it). */
export function logosFixture(): Promise<LogosFixture> {
  fixture ??= (async () => {
    const root = await mkdtemp(join(tmpdir(), 'ganc-test-'));
    process.on('exit', () => rmSync(root, { recursive: true, force: true }));
    const logos = join(root, 'logos');
    const r = await buildLogos(logos, { size: 16, limit: 64 });
    if (r.written < 48) throw new Error(`logo fixture: only ${r.written} logos rendered (${r.failed.join(', ')})`);
    const cache = join(root, 'cache');
    await mkdir(cache, { recursive: true });
    return { root, logos, count: r.written, cache };
  })();
  return fixture;
}

/** A fresh folder inside the fixture's temporary folder. */
export async function tempDir(prefix: string): Promise<string> {
  const { root } = await logosFixture();
  return mkdtemp(join(root, `${prefix}-`));
}

export interface GancResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `ganc ARGS` in the repository root with the fixture's GANC_CACHE and a non-TTY stdout/stderr. */
export async function spawnGanc(args: string[], env: Record<string, string> = {}): Promise<ChildProcess> {
  const { cache } = await logosFixture();
  return spawn(process.execPath, [BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, GANC_CACHE: cache, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Output and exit of a started child (collect it right after spawnGanc, before awaiting anything else). */
export function finished(child: ChildProcess): Promise<GancResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr }));
  });
}

/**
 * Single-steps process `pid` (SIGSTOP, look, SIGCONT, 20 ms) until `ready()` holds while it is stopped, and leaves it
 * stopped then (true); false if it ended first. A tiny run takes well under a second: polled while it runs, it could
 * finish between two looks on a busy machine (CI once saw that) or move on between the look and what follows.
 */
export async function stopWhen(pid: number, ready: () => boolean): Promise<boolean> {
  for (;;) {
    try {
      process.kill(pid, 'SIGSTOP');
    } catch {
      return false; // gone
    }
    try {
      if (ready()) return true;
    } catch {
      /* a file not written yet */
    }
    process.kill(pid, 'SIGCONT');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** kill -9 a started ganc once `ready()` holds (looked at while it is stopped, see stopWhen). */
export async function killWhen(child: ChildProcess, ready: () => boolean): Promise<void> {
  if (await stopWhen(child.pid!, ready)) child.kill('SIGKILL');
}

/** Runs `ganc ARGS` to the end. */
export async function ganc(args: string[], env: Record<string, string> = {}): Promise<GancResult> {
  return finished(await spawnGanc(args, env));
}

/** Non-empty lines of a stream's text. */
export const lines = (s: string): string[] => s.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0);

/** Everything ganc printed, for assertion messages. */
export const show = (r: GancResult): string => `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
