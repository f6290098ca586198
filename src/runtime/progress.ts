/**
 * Training progress: a cli-progress bar on a terminal, throttled plain lines elsewhere (CI logs, pipes),
 * where a redrawn bar would turn into thousands of lines.
 */
import cliProgress from 'cli-progress';

export interface ProgressOptions {
  total: number;
  /** Step the run resumes from; rate and ETA count only steps done in this process. */
  startStep?: number;
  title?: string;
  stream?: NodeJS.WriteStream;
  /** Minimum seconds between plain (non-TTY) lines; the last step is always printed. Default 10. */
  plainEverySec?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
  /** A time budget in seconds from now (ganc run --max-minutes): the ETA is never past it. */
  budgetSec?: number;
}

export interface Progress {
  update(step: number, values: Record<string, number>): void;
  log(line: string): void;
  stop(): void;
}

/** 3725 → "1h02m05s", 275 → "4m35s", 42 → "42s"; unknown → "--". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (v: number) => String(v).padStart(2, '0');
  if (h > 0) return `${h}h${pad(m)}m${pad(sec)}s`;
  if (m > 0) return `${m}m${pad(sec)}s`;
  return `${sec}s`;
}

/** Below 1 it/s, seconds per step read better (a slow CPU run shows "4.0 s/it", not "0.25 it/s"). */
export function formatRate(itPerSec: number): string {
  if (!Number.isFinite(itPerSec) || itPerSec <= 0) return '-- it/s';
  if (itPerSec >= 100) return `${Math.round(itPerSec)} it/s`;
  if (itPerSec >= 1) return `${itPerSec.toFixed(1)} it/s`;
  const spi = 1 / itPerSec;
  return spi >= 100 ? `${Math.round(spi)} s/it` : `${spi.toFixed(1)} s/it`;
}

/** One value to 4 significant digits without trailing zeros: 0.98701 → "0.987", 1234567 → "1.235e+6". */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) {
    const [mant, exp] = v.toExponential(3).split('e');
    return `${trimZeros(mant)}e${exp}`;
  }
  return trimZeros(v.toPrecision(4));
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** `d_loss 1.234  g_loss 0.987`, in the caller's key order. */
export function formatValues(values: Record<string, number>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k} ${formatNumber(v)}`)
    .join('  ');
}

/**
 * Steps per second over roughly the last minute of updates, so a slow first step (graph compile,
 * warm-up) fades out and, after a resume, steps done before this process are never counted.
 */
class RateMeter {
  private samples: { t: number; step: number }[] = [];
  constructor(private readonly windowMs = 60_000) {}

  add(t: number, step: number): void {
    this.samples.push({ t, step });
    // Keep one sample older than the window as the anchor for the rate.
    while (this.samples.length > 2 && t - this.samples[1].t >= this.windowMs) this.samples.shift();
  }

  rate(): number {
    if (this.samples.length < 2) return NaN;
    const a = this.samples[0];
    const b = this.samples[this.samples.length - 1];
    return b.t > a.t ? ((b.step - a.step) * 1000) / (b.t - a.t) : NaN;
  }
}

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? Date.now;
  const total = Math.max(0, opts.total);
  const startStep = opts.startStep ?? 0;
  const meter = new RateMeter();
  const t0 = now();
  meter.add(t0, startStep);

  const status = (step: number) => {
    const rate = meter.rate();
    let eta = (total - step) / rate;
    if (opts.budgetSec !== undefined) eta = Math.min(eta, Math.max(0, opts.budgetSec - (now() - t0) / 1000));
    return { rate: formatRate(rate), eta: formatDuration(eta) };
  };

  return stream.isTTY ? ttyProgress() : plainProgress();

  function plainProgress(): Progress {
    const everyMs = (opts.plainEverySec ?? 10) * 1000;
    const prefix = opts.title ? `${opts.title}  ` : '';
    let lastPrinted = -Infinity;
    let pending: string | null = null;
    return {
      update(step, values) {
        const t = now();
        meter.add(t, step);
        const { rate, eta } = status(step);
        const vals = formatValues(values);
        const line = `${prefix}step ${step}/${total}  ${rate}  ETA ${eta}${vals ? `  ${vals}` : ''}`;
        if (t - lastPrinted >= everyMs || step >= total) {
          stream.write(line + '\n');
          lastPrinted = t;
          pending = null;
        } else {
          pending = line;
        }
      },
      log(line) {
        stream.write(line + '\n');
      },
      stop() {
        // The final state is always shown, even when it fell inside the throttle window.
        if (pending !== null) stream.write(pending + '\n');
        pending = null;
      },
    };
  }

  function ttyProgress(): Progress {
    const bar = new cliProgress.SingleBar({
      stream,
      format: `${opts.title ? `${opts.title} ` : ''}[{bar}] {value}/{total} | {rate} | ETA {etaText} | {vals}`,
      barsize: 30,
      hideCursor: false,
      clearOnComplete: false,
      // log() wipes the bar's line; a forced redraw puts it back even when its text did not change.
      forceRedraw: true,
      // No SIGINT handler of ours: it would stop Ctrl-C from ending (or the trainer from checkpointing) the run.
      gracefulExit: false,
    });
    // cli-progress re-renders on a timer; an unref'd timer cannot keep the process alive if stop() is missed.
    const unrefTimer = () => (bar as unknown as { timer?: NodeJS.Timeout | null }).timer?.unref?.();
    bar.start(total, startStep, { rate: formatRate(NaN), etaText: '--', vals: '' });
    unrefTimer();
    let stopped = false;
    return {
      update(step, values) {
        if (stopped) return;
        meter.add(now(), step);
        const { rate, eta } = status(step);
        bar.update(step, { rate, etaText: eta, vals: formatValues(values) });
        unrefTimer();
      },
      log(line) {
        if (stopped) {
          stream.write(line + '\n');
          return;
        }
        // Clear the bar's line, print above it, redraw the bar below.
        stream.write(`\r\x1b[2K${line}\n`);
        bar.render();
        unrefTimer();
      },
      stop() {
        if (stopped) return;
        stopped = true;
        // cli-progress restores the cursor saved at start(); lines log()ged since have scrolled the screen,
        // so save the bar's current line to make that restore a no-op.
        stream.write('\r\x1b7');
        bar.stop();
      },
    };
  }
}
