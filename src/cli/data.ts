/** `ganc data logos|apps|fashion-mnist`: a built-in image set as a folder of PNGs (logos and apps: by default ganc's cache). */
import type { CommandModule } from 'yargs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { GancError } from '../errors.ts';
import { defaultCacheRoot } from '../runtime/data/cache.ts';
import { buildFashionMnist, FASHION_MNIST_SOURCE, MANIFEST } from '../runtime/data/fashion_mnist.ts';
import { buildApps, buildLogos, ensureBuiltinApps, ensureBuiltinLogos, readBuildInfo } from '../runtime/data/logos.ts';
import { positiveInts } from './options.ts';

export interface DataArgs {
  kind: 'logos' | 'apps' | 'fashion-mnist';
  out?: string;
  size?: number;
  limit?: number;
  labelsPerClass: number;
  seed: number;
  source: string;
}

/** A progress bar on stderr that starts with the first report. */
function progressBar(title: string) {
  const bar = new SingleBar({ format: `${title} [{bar}] {value}/{total}`, stream: process.stderr, hideCursor: true });
  let started = false;
  const onProgress = (done: number, total: number) => {
    if (!started) bar.start(total, 0);
    started = true;
    bar.update(done);
  };
  return { onProgress, stop: () => bar.stop() };
}

export async function buildData(args: DataArgs): Promise<void> {
  if (args.limit !== undefined && args.out === undefined) {
    // The cache folder is what `ganc run` trains on by default: it must always hold the whole set.
    throw new GancError('--limit needs --out: the cached built-in set is always complete');
  }
  if (args.kind === 'fashion-mnist') return fashionMnist(args);
  const size = args.size ?? 64;
  const bar = progressBar(`rendering ${args.kind}`);
  try {
    if (args.out !== undefined) {
      const build = args.kind === 'logos' ? buildLogos : buildApps;
      const r = await build(args.out, { size, limit: args.limit, onProgress: bar.onProgress });
      bar.stop();
      report(args.kind, size, r.dir, r.written, r.failed, r.sources);
    } else {
      const dir = await (args.kind === 'logos' ? ensureBuiltinLogos : ensureBuiltinApps)(size, { onProgress: bar.onProgress });
      bar.stop();
      const info = await readBuildInfo(dir);
      report(args.kind, size, dir, info?.written ?? 0, info?.failed ?? [], info?.sources ?? []);
    }
  } finally {
    bar.stop();
  }
}

function report(kind: string, size: number, dir: string, written: number, failed: string[], sources: string[]) {
  const skipped = failed.length ? `; ${failed.length} could not be rendered (${failed.slice(0, 3).join(', ')}${failed.length > 3 ? ', …' : ''})` : '';
  console.log(`${written} ${kind} (${size}×${size} PNG, from ${sources.join(' + ')}) in ${dir}${skipped}`);
}

async function fashionMnist(args: DataArgs): Promise<void> {
  if (args.size !== undefined) throw new GancError('--size: Fashion-MNIST is written at its own 28×28 (training resizes it to the model\'s size)');
  const out = args.out ?? join(defaultCacheRoot(), `fashion-mnist-${args.labelsPerClass}-per-class-seed-${args.seed}`);
  const bar = progressBar('writing fashion-mnist');
  try {
    const r = await buildFashionMnist(out, { labelsPerClass: args.labelsPerClass, seed: args.seed, limit: args.limit, source: args.source, onProgress: bar.onProgress });
    bar.stop();
    const { counts: c, size } = r.manifest;
    console.log(`${r.reused ? 'already there: ' : ''}Fashion-MNIST (${size.cols}×${size.rows} grey PNG) in ${r.dir}: ` +
      `train/ ${c.labelled} labelled (${args.labelsPerClass} per class, seed ${args.seed}; listed in ${MANIFEST}) + ${c.unlabelled} in _unlabelled/, test/ ${c.test}`);
  } finally {
    bar.stop();
  }
}

export const dataCommand: CommandModule<object, DataArgs> = {
  command: 'data <kind>',
  describe: 'write a built-in image set as PNG files: brand logos, app icons, or Fashion-MNIST with few labels',
  builder: (y) => y
    .positional('kind', { choices: ['logos', 'apps', 'fashion-mnist'] as const, demandOption: true, describe: 'which set' })
    .option('out', { alias: 'o', type: 'string', describe: 'folder to write (default: in ganc\'s cache; for logos and apps where `ganc run` looks)' })
    .option('size', { type: 'number', describe: 'logos, apps: side of the square images, in pixels (default 64)' })
    .option('limit', { type: 'number', describe: 'at most N images (fashion-mnist: the first N training and N test images; needs --out)' })
    .option('labels-per-class', { type: 'number', default: 10, describe: 'fashion-mnist: labelled training images per class (the rest go to train/_unlabelled)' })
    .option('seed', { type: 'number', default: 0, describe: 'fashion-mnist: seed of the choice of labelled images' })
    .option('source', { type: 'string', default: FASHION_MNIST_SOURCE, describe: 'fashion-mnist: folder of the IDX files (Debian: dataset-fashion-mnist)' })
    .check((a) => {
      if (a.size !== undefined && (!Number.isInteger(a.size) || a.size < 8)) throw new Error('--size must be an integer of at least 8');
      if (!Number.isInteger(a.seed) || a.seed < 0) throw new Error('--seed must be a non-negative integer');
      return positiveInts(a, ['limit', 'labels-per-class']);
    }) as never,
  handler: (args) => buildData(args),
};
