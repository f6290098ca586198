/** `ganc board [DIR]`: a local web page over run and study folders, a generator playground and browser training. */
import type { CommandModule } from 'yargs';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { GancError } from '../errors.ts';
import { startBoard } from '../board/server.ts';

export interface BoardArgs {
  dir: string;
  port: number;
  host: string;
  trainModel?: string;
}

export const boardCommand: CommandModule<object, BoardArgs> = {
  command: 'board [dir]',
  describe: 'a local web page over run and study folders: live losses and samples, a generator playground, training in the browser',
  builder: (y) => y
    .positional('dir', { type: 'string', default: 'runs', describe: 'folder of runs and studies' })
    .option('port', { type: 'number', default: 6066, describe: 'port (0: any free port)' })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (another than 127.0.0.1 exposes your runs to the network)' })
    .option('train-model', { type: 'string', describe: 'model file the browser-training page trains (default models/dcgan-small.ts)' })
    .check((a) => {
      const p = a.port as number;
      if (!(Number.isInteger(p) && p >= 0 && p < 65536)) throw new Error('--port must be an integer in 0..65535');
      return true;
    }) as never,
  handler: async (a) => {
    if (existsSync(a.dir) && !statSync(a.dir).isDirectory()) throw new GancError('not a folder', { file: a.dir });
    if (a.trainModel && !existsSync(a.trainModel)) throw new GancError('no such model file', { file: a.trainModel });
    const board = await startBoard({ dir: a.dir, port: a.port, host: a.host, trainModel: a.trainModel && path.resolve(a.trainModel) });
    if (!existsSync(a.dir)) console.log(`${a.dir} does not exist yet: the page lists runs once ganc run creates them`);
    console.log(`ganc board: ${path.resolve(a.dir)} at ${board.url}  (Ctrl-C stops it)`);
    if (!['127.0.0.1', 'localhost', '::1'].includes(a.host)) console.log(`warning: listening on ${a.host}: anyone who can reach it can read every file under ${a.dir}`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => void board.close().then(resolve)));
  },
};
