/** Where ganc keeps what it derives once and reuses: decoded data sets, rendered built-in images. */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export function defaultCacheRoot(): string {
  return process.env.GANC_CACHE || join(homedir(), '.cache', 'ganc');
}

/** Writes via a temporary sibling and a rename, so a reader never sees a half-written file. */
export async function writeFileAtomic(file: string, data: Uint8Array | string | Uint8Array[]): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    // Streamed chunk by chunk rather than concatenated: a decoded data set can be hundreds of MB.
    const chunks = Array.isArray(data) ? data : [typeof data === 'string' ? Buffer.from(data) : data];
    await pipeline(Readable.from(chunks), createWriteStream(tmp));
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Removes `<name>.partial-PID` folders in `root` whose process is gone (a build that was killed). */
export async function removeAbandoned(root: string, name: string): Promise<void> {
  for (const entry of await readdir(root).catch(() => [])) {
    const m = entry.startsWith(`${name}.partial-`) ? /(\d+)$/.exec(entry) : null;
    if (m && !isAlive(Number(m[1]))) await rm(join(root, entry), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
