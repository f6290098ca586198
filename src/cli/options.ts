/** Checks shared by the commands' option parsers (yargs .check: a thrown Error becomes the one-line usage error). */
export function positiveInts(args: Record<string, unknown>, keys: readonly string[]): true {
  for (const k of keys) {
    const v = args[k];
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1)) throw new Error(`--${k} must be a positive integer`);
  }
  return true;
}
