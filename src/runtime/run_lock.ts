/**
 * A run folder is written by one process at a time: the writer (`ganc run`, also with --resume or --force) holds
 * DIR/lock, a small JSON file {pid, host, started, command, …}; a second writer is refused with one line naming the
 * holder. Readers (eval, export, sample, compare) never take it.
 *
 * What it relies on:
 * - Creating the lock is atomic and exclusive: the holder's record is written to a private file first and then
 *   hard-linked to DIR/lock (link fails if the name exists, also on NFS), so the lock is never seen half-written
 *   and two writers cannot both create it.
 * - A holder on THIS host is alive if its pid exists (kill(pid, 0)) and has the start time recorded in the lock
 *   (/proc/PID/stat, so a pid reused after a kill -9 or a reboot is not taken for the holder). A dead holder's lock
 *   is stale and is taken over.
 * - A holder on ANOTHER host (a folder shared over NFS between cluster nodes, e.g. Slurm jobs) cannot be checked by
 *   pid: it counts as alive while it keeps the lock's modification time fresh (the holder touches it every
 *   HEARTBEAT_MS), and as gone once the lock is older than STALE_AFTER_MS (clocks of the hosts may differ by far less
 *   than that). Host names must differ between the nodes sharing the folder.
 * - Taking over a stale lock: only the process that creates DIR/lock.takeover (exclusively, as above) may remove
 *   DIR/lock, and only after re-reading it and finding the same stale record (its nonce). No one else removes a lock
 *   but its holder, so two racers cannot both win. A takeover guard left by a process that died within those few
 *   milliseconds is removed once its own holder is gone (same tests); only if that happens while two more
 *   processes race for the same folder can two of them win.
 * - The lock is removed when the process exits (normally, on an error, on Ctrl-C or SIGTERM); after kill -9 it
 *   stays, and the next writer finds it stale.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GancError } from '../errors.ts';
import { pidAlive, processStart } from './liveness.ts';

export const LOCK_FILE = 'lock';
const GUARD_FILE = 'lock.takeover';
/** How often a holder refreshes its lock's modification time (what a process on another host sees). */
export const HEARTBEAT_MS = 60_000;
/** A lock from another host untouched this long is stale. */
export const STALE_AFTER_MS = 10 * 60_000;

export interface LockRecord {
  pid: number;
  host: string;
  /** When the holder took the lock (ISO time). */
  started: string;
  /** What the holder runs, for the message a second writer gets. */
  command: string;
  /** The holder's start time in clock ticks since boot (Linux), to tell it from a later process with its pid. */
  procStart?: number;
  /** Unique per acquisition: what a takeover compares before it removes a stale lock. */
  nonce: string;
}

/** The live process holding `dir`, or undefined when none does (no lock, or a stale one). */
export function heldBy(dir: string): { pid: number; host: string } | undefined {
  const rec = readRecord(path.join(dir, LOCK_FILE));
  return rec && isLive(rec, path.join(dir, LOCK_FILE)) ? { pid: rec.pid, host: rec.host } : undefined;
}

export class RunLock {
  private released = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly onExit = () => this.release();
  private readonly onSigterm = () => {
    this.release();
    process.kill(process.pid, 'SIGTERM'); // the listener is gone: the default action ends the process as before
  };

  constructor(readonly dir: string, readonly record: LockRecord, private readonly createdDir: boolean) {
    this.heartbeat = setInterval(() => this.touch(), HEARTBEAT_MS).unref();
    process.on('exit', this.onExit);
    process.once('SIGTERM', this.onSigterm);
  }

  get file(): string {
    return path.join(this.dir, LOCK_FILE);
  }

  /** Removes the lock if it is still ours (and the run folder, if this lock created it and nothing else was put there). */
  release(): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.heartbeat);
    process.off('exit', this.onExit);
    process.off('SIGTERM', this.onSigterm);
    if (readRecord(this.file)?.nonce === this.record.nonce) unlinkQuiet(this.file);
    if (this.createdDir) {
      try {
        if (readdirSync(this.dir).length === 0) rmdirSync(this.dir);
      } catch {
        /* gone or not empty: leave it */
      }
    }
  }

  private touch(): void {
    const now = new Date();
    try {
      utimesSync(this.file, now, now);
    } catch {
      /* removed under us: nothing to refresh */
    }
  }
}

/**
 * Takes `dir`'s lock for this process (creating the folder), or throws a GancError naming the live holder. Nothing
 * in the folder is changed when it throws.
 */
export async function acquireRunLock(dir: string, command: string): Promise<RunLock> {
  const created = mkdirSync(dir, { recursive: true }) !== undefined;
  const record: LockRecord = {
    pid: process.pid, host: hostname(), started: new Date().toISOString(), command,
    procStart: processStart(process.pid), nonce: randomBytes(8).toString('hex'),
  };
  const file = path.join(dir, LOCK_FILE);
  const mine = path.join(dir, `${LOCK_FILE}.${process.pid}.${record.nonce}.tmp`);
  writeDurably(mine, JSON.stringify(record) + '\n');
  let unreadable = 0;
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      if (tryLink(mine, file)) return new RunLock(dir, record, created);
      const holder = readRecord(file);
      if (holder && isLive(holder, file)) throw heldError(dir, holder);
      if (!holder && existsSync(file) && ++unreadable >= 5) {
        throw new GancError(`${LOCK_FILE} is not a lock ganc can read; if no ganc run is writing this folder, delete it`, { file: dir });
      }
      // A stale lock is taken over; no lock (its holder just released it) or a lost takeover race: try again.
      if (holder && takeOver(dir, holder, mine)) return new RunLock(dir, record, created);
      await sleep(10 + Math.random() * 40);
    }
    throw new GancError(`could not take the run folder's lock (${LOCK_FILE}): other processes keep taking it; try again`, { file: dir });
  } catch (e) {
    if (created) rmdirQuiet(dir, [path.basename(mine)]);
    throw e;
  } finally {
    unlinkQuiet(mine);
  }
}

function heldError(dir: string, h: LockRecord): GancError {
  const where = h.host === hostname() ? '' : ` on host ${h.host}`;
  return new GancError(
    `the run folder is in use by pid ${h.pid}${where} (${h.command}, since ${h.started}); nothing was changed — wait for it to end or stop it, or choose another --out`,
    { file: dir },
  );
}

/** The one process that creates the guard re-reads the lock and removes it only if it is still the stale one. */
function takeOver(dir: string, stale: LockRecord, mine: string): boolean {
  const file = path.join(dir, LOCK_FILE);
  const guard = path.join(dir, GUARD_FILE);
  if (!tryLink(mine, guard)) {
    const g = readRecord(guard);
    if (g && !isLive(g, guard)) unlinkQuiet(guard); // a taker that died mid-takeover
    return false;
  }
  try {
    if (readRecord(file)?.nonce === stale.nonce) unlinkQuiet(file);
    return tryLink(mine, file);
  } finally {
    unlinkQuiet(guard);
  }
}

function isLive(rec: LockRecord, file: string): boolean {
  if (rec.host !== hostname()) {
    try {
      return Date.now() - statSync(file).mtimeMs < STALE_AFTER_MS;
    } catch {
      return false;
    }
  }
  if (!pidAlive(rec.pid)) return false;
  const now = processStart(rec.pid);
  return rec.procStart === undefined || now === undefined || now === rec.procStart;
}

function readRecord(file: string): LockRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as LockRecord;
    return Number.isInteger(r.pid) && typeof r.host === 'string' && typeof r.nonce === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

function tryLink(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

function writeDurably(file: string, text: string): void {
  const fd = openSync(file, 'wx');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function unlinkQuiet(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* already gone */
  }
}

/** Removes a folder this process created, if it holds nothing but `except`. */
function rmdirQuiet(dir: string, except: string[]): void {
  try {
    for (const f of readdirSync(dir)) if (except.includes(f)) unlinkQuiet(path.join(dir, f));
    rmdirSync(dir);
  } catch {
    /* not empty, or gone */
  }
}
