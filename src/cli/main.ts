/** The `ganc` command line. User errors print one line and exit 1; --verbose adds the stack. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { GancError } from '../errors.ts';
import type { CommandModule } from 'yargs';

/**
 * Commands are imported only when named: onnxruntime-node, jimp and resvg take a second or two to load, which
 * `ganc compile` (and every error message) need not wait for. No or an unknown command loads them all (for --help).
 */
const COMMANDS: Record<string, () => Promise<CommandModule<any, any>[]>> = {
  compile: async () => [(await import('./compile.ts')).compileCommand],
  run: async () => [(await import('./run.ts')).runCommand],
  export: async () => [(await import('./export.ts')).exportCommand],
  sample: async () => [(await import('./export.ts')).sampleCommand],
  data: async () => [(await import('./data.ts')).dataCommand],
  eval: async () => [(await import('./eval.ts')).evalCommand],
  compare: async () => [(await import('./eval.ts')).compareCommand],
  study: async () => [(await import('./study.ts')).studyCommand],
  board: async () => [(await import('./board.ts')).boardCommand],
};

const verbose = process.argv.includes('--verbose');

/** The message's first line: whatever a message holds, a user error stays one line (--verbose shows the rest). */
const firstLine = (s: string) => s.split('\n', 1)[0].trimEnd();

function report(e: unknown): never {
  if (e instanceof GancError) {
    console.error(`error: ${firstLine(e.line)}`);
    if (verbose && e.stack) console.error(e.stack);
  } else {
    const msg = firstLine(e instanceof Error ? e.message : String(e));
    console.error(`error: ${msg}${verbose ? '' : ' (run with --verbose for details)'}`);
    if (verbose && e instanceof Error) console.error(e.stack);
  }
  process.exit(1);
}

process.on('unhandledRejection', report);

try {
  const named = hideBin(process.argv).find((a) => !a.startsWith('-'));
  const load = named && COMMANDS[named] ? [COMMANDS[named]] : Object.values(COMMANDS);
  const commands = (await Promise.all(load.map((l) => l()))).flat();
  await yargs(hideBin(process.argv))
    .scriptName('ganc')
    .command(commands)
    .option('verbose', { type: 'boolean', default: false, describe: 'show stack traces on errors' })
    .demandCommand(1, 'name a command')
    .strict()
    .fail((msg, err) => {
      // yargs calls this for bad flags and failed .check()s (plain Errors): those are usage errors, not crashes.
      if (err && (err instanceof GancError || !msg)) report(err);
      console.error(`error: ${firstLine(msg ?? err?.message ?? '')} (see ganc --help)`);
      process.exit(1);
    })
    .help()
    .parseAsync();
} catch (e) {
  report(e);
}
