/** Errors meant for the user: printed as one line (`file:line: message`), exit code 1, no stack unless --verbose. */
export interface Site {
  file: string;
  line?: number;
  column?: number;
}

export class GancError extends Error {
  constructor(message: string, readonly site?: Site) {
    super(message);
    this.name = 'GancError';
  }

  /** The one line shown to the user. */
  get line(): string {
    if (!this.site?.file) return this.message;
    const where = this.site.line ? `${this.site.file}:${this.site.line}` : this.site.file;
    return `${where}: ${this.message}`;
  }
}

export function fail(message: string, site?: Site): never {
  throw new GancError(message, site);
}
