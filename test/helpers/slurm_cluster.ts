/**
 * A real one-node Slurm cluster for tests, private to this test process: test/tools/slurm_cluster.sh writes the
 * configuration, munge key, state and logs into a temporary folder (its own ports and munge socket) and starts
 * munged, slurmctld and slurmd; `stop()` cancels every job and stops the daemons by pid. A watchdog in the script
 * also stops them if this process dies without calling stop() (kill -9 of the test runner).
 *
 * `GANC_SLURM=existing` uses the cluster the environment already points to (SLURM_CONF or /etc/slurm) and starts
 * nothing. When a cluster cannot run here (not root, slurm-wlm or munge missing, another slurmctld running),
 * `startSlurmCluster` returns `{ skip }` with the reason, for `t.skip()`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const SCRIPT = resolve(import.meta.dirname, '../tools/slurm_cluster.sh');
const run = promisify(execFile);

export interface SlurmCluster {
  /** Environment for child processes (sbatch, squeue, ganc): SLURM_CONF set. */
  env: NodeJS.ProcessEnv;
  /** The cluster's folder (config, state, daemon logs); undefined for an existing cluster. */
  dir?: string;
  stop(): Promise<void>;
}

export type ClusterOrSkip = SlurmCluster | { skip: string };

export async function startSlurmCluster(): Promise<ClusterOrSkip> {
  if (process.env.GANC_SLURM === 'existing') {
    try {
      execFileSync('sinfo', ['--noheader'], { stdio: 'pipe', timeout: 10_000 });
    } catch (e) {
      return { skip: `GANC_SLURM=existing but sinfo fails: ${(e as Error).message.split('\n')[0]}` };
    }
    return { env: { ...process.env }, stop: async () => {} };
  }
  const dir = await mkdtemp(join(tmpdir(), 'ganc-slurm-'));
  try {
    const { stdout } = await run('bash', [SCRIPT, 'start', dir, String(process.pid)], { timeout: 60_000 });
    const conf = /^SLURM_CONF=(.*)$/m.exec(stdout)?.[1];
    if (!conf) throw new Error(`slurm_cluster.sh printed no SLURM_CONF: ${stdout}`);
    const env = { ...process.env, SLURM_CONF: conf };
    let stopped: Promise<void> | undefined;
    return {
      env, dir,
      stop: () => (stopped ??= (async () => {
        await run('bash', [SCRIPT, 'stop', dir], { timeout: 60_000 });
        await rm(dir, { recursive: true, force: true });
      })()),
    };
  } catch (e) {
    const err = e as { code?: number; stderr?: string; message: string };
    if (err.code === 2) {
      await rm(dir, { recursive: true, force: true });
      return { skip: `no Slurm cluster: ${(err.stderr ?? '').trim().replace(/^slurm_cluster: /, '')}` };
    }
    throw new Error(`slurm_cluster.sh start failed (logs kept in ${dir}/log): ${err.stderr?.trim() || err.message}`);
  }
}
