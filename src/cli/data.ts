/** `ganc data logos|apps`: render a built-in image set to a folder of PNGs (by default, ganc's cache). */
import type { CommandModule } from 'yargs';
import { SingleBar } from 'cli-progress';
import { GancError } from '../errors.ts';
import { buildApps, buildLogos, ensureBuiltinApps, ensureBuiltinLogos, readBuildInfo } from '../runtime/data/logos.ts';

export interface DataArgs {
  kind: 'logos' | 'apps';
  out?: string;
  size: number;
  limit?: number;
}

export async function buildData(args: DataArgs): Promise<void> {
  if (args.limit !== undefined && args.out === undefined) {
    // The cache folder is what `ganc run` trains on by default: it must always hold the whole set.
    throw new GancError('--limit needs --out: the cached built-in set is always complete');
  }
  const bar = new SingleBar({ format: `rendering ${args.kind} [{bar}] {value}/{total}`, stream: process.stderr, hideCursor: true });
  let started = false;
  const onProgress = (done: number, total: number) => {
    if (!started) bar.start(total, 0);
    started = true;
    bar.update(done);
  };
  try {
    if (args.out !== undefined) {
      const build = args.kind === 'logos' ? buildLogos : buildApps;
      const r = await build(args.out, { size: args.size, limit: args.limit, onProgress });
      bar.stop();
      report(args, r.dir, r.written, r.failed, r.sources);
    } else {
      const dir = await (args.kind === 'logos' ? ensureBuiltinLogos : ensureBuiltinApps)(args.size, { onProgress });
      bar.stop();
      const info = await readBuildInfo(dir);
      report(args, dir, info?.written ?? 0, info?.failed ?? [], info?.sources ?? []);
    }
  } finally {
    bar.stop();
  }
}

function report(args: DataArgs, dir: string, written: number, failed: string[], sources: string[]) {
  const skipped = failed.length ? `; ${failed.length} could not be rendered (${failed.slice(0, 3).join(', ')}${failed.length > 3 ? ', …' : ''})` : '';
  console.log(`${written} ${args.kind} (${args.size}×${args.size} PNG, from ${sources.join(' + ')}) in ${dir}${skipped}`);
}

export const dataCommand: CommandModule<object, DataArgs> = {
  command: 'data <kind>',
  describe: 'render the built-in brand logos or app icons to PNG files',
  builder: (y) => y
    .positional('kind', { choices: ['logos', 'apps'] as const, demandOption: true, describe: 'which set' })
    .option('out', { alias: 'o', type: 'string', describe: 'folder to write (default: ganc\'s cache, where `ganc run` looks)' })
    .option('size', { type: 'number', default: 64, describe: 'side of the square images, in pixels' })
    .option('limit', { type: 'number', describe: 'render at most N images (needs --out)' })
    .check((a) => {
      if (!Number.isInteger(a.size) || a.size < 8) throw new Error('--size must be an integer of at least 8');
      if (a.limit !== undefined && (!Number.isInteger(a.limit) || a.limit < 1)) throw new Error('--limit must be a positive integer');
      return true;
    }) as never,
  handler: (args) => buildData(args),
};
