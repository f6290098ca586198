/** The `ganc` command line. User errors print one line and exit 1; --verbose adds the stack. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { GancError } from '../errors.ts';
import { compileCommand } from './compile.ts';
import { runCommand } from './run.ts';
import { exportCommand, sampleCommand } from './export.ts';

const verbose = process.argv.includes('--verbose');

function report(e: unknown): never {
  if (e instanceof GancError) {
    console.error(`error: ${e.line}`);
    if (verbose && e.stack) console.error(e.stack);
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`error: ${msg}${verbose ? '' : ' (run with --verbose for details)'}`);
    if (verbose && e instanceof Error) console.error(e.stack);
  }
  process.exit(1);
}

process.on('unhandledRejection', report);

try {
  await yargs(hideBin(process.argv))
    .scriptName('ganc')
    .command(compileCommand)
    .command(runCommand)
    .command(exportCommand)
    .command(sampleCommand)
    .option('verbose', { type: 'boolean', default: false, describe: 'show stack traces on errors' })
    .demandCommand(1, 'name a command')
    .strict()
    .fail((msg, err) => {
      if (err) report(err);
      console.error(`error: ${msg} (see ganc --help)`);
      process.exit(1);
    })
    .help()
    .parseAsync();
} catch (e) {
  report(e);
}
