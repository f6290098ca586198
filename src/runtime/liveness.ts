/** Whether a process that left its pid in a file (a run folder's lock, a half-built cache folder) is still running. */
import { readFileSync } from 'node:fs';

/** True if a process with this pid exists on this host (one we may not signal counts too). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The process's start time in clock ticks since boot (Linux /proc/PID/stat, field 22), or undefined elsewhere. With
 * the pid it names one process: a pid reused by a later process has another start time.
 */
export function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // field 22 overall; fields here start at field 3
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}
