// Progress of long CLI work (migrate, keys rotate, imports, exports, backups, blobs migrate,
// retention run …), for every command that can take more than a second:
//   - on a terminal (stderr is a TTY): one bar with counts, percentage and ETA (cli-progress),
//     naming the current step;
//   - otherwise: one JSON line per step, `{"task","step","done","total","elapsed_ms","eta_ms"}`,
//     and a last line with `finished: true` or `interrupted: true`;
//   - Ctrl-C (SIGINT) does not kill the work mid-write: it aborts `progress.signal`, the command
//     stops at its next safe point (between steps, after a commit) and calls `interrupted()`,
//     which says what was done and how to go on. A second Ctrl-C exits at once (code 130).
// Everything goes to stderr, so a command's own result on stdout stays one JSON line.
//
// Use:
//   const progress = startProgress('migrate', { total: pending.length, unit: 'migrations' });
//   for (const m of pending) {
//     if (progress.signal.aborted) return progress.interrupted('run `mailstack migrate` again to apply the rest');
//     await apply(m);
//     progress.step(m.name);          // counts one and reports the step
//   }
//   progress.finish();
// `tick(n)` counts without reporting a step (many items inside one step: a JSON line per item
// would flood a log), `setTotal(n)` when the total is learnt late.
import cliProgress from 'cli-progress';

export interface ProgressOptions {
  /** How many units the whole task has, when known (an ETA needs it). */
  total?: number | null;
  /** What is counted, for people: "migrations", "secrets", "messages". */
  unit?: string;
  /** Where to write (default process.stderr); its isTTY picks the bar or JSON lines. */
  stream?: NodeJS.WriteStream;
  /** Handle SIGINT (default true); tests of the module itself may turn it off. */
  handleSigint?: boolean;
}

export interface Progress {
  /** Aborted at the first Ctrl-C: stop at the next safe point. */
  readonly signal: AbortSignal;
  readonly done: number;
  /** Counts `n` (default 1) units as done and reports a finished step. */
  step(label: string, n?: number): void;
  /** Counts `n` units without reporting a step. */
  tick(n?: number, label?: string): void;
  setTotal(total: number): void;
  /** The task ended normally. */
  finish(summary?: string): void;
  /** The task stopped early (Ctrl-C): says what was done, and `next` (how to go on). */
  interrupted(next: string): void;
}

export const INTERRUPTED_EXIT_CODE = 130;

export function startProgress(task: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = !!stream.isTTY;
  const unit = opts.unit ?? 'items';
  let total: number | null = opts.total ?? null;
  let done = 0;
  let step = '';
  const started = Date.now();
  const abort = new AbortController();
  let ended = false;

  const bar = tty
    ? new cliProgress.SingleBar(
        {
          stream,
          format: `${task} [{bar}] {value}/{total} ${unit} {percentage}% | ETA {eta_formatted} | {step}`,
          barsize: 24,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 20,
          fps: 10,
          noTTYOutput: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(total ?? 0, 0, { step: '' });

  const eta = () => {
    if (total === null || done === 0 || done >= total) return null;
    return Math.round(((Date.now() - started) / done) * (total - done));
  };
  const line = (fields: Record<string, unknown>) => stream.write(JSON.stringify({ task, ...fields }) + '\n');
  const render = () => bar?.update(done, { step });

  const onSigint = () => {
    if (abort.signal.aborted) {
      bar?.stop();
      stream.write(`\n${task}: stopped at once (second Ctrl-C) after ${done}${total !== null ? ` of ${total}` : ''} ${unit}\n`);
      process.exit(INTERRUPTED_EXIT_CODE);
    }
    abort.abort();
    if (tty) {
      step = 'stopping after the current step (Ctrl-C again to quit at once)';
      render();
    } else {
      line({ stopping: true, done, total, message: 'Ctrl-C: stopping after the current step' });
    }
  };
  if (opts.handleSigint !== false) process.on('SIGINT', onSigint);

  const end = () => {
    ended = true;
    if (opts.handleSigint !== false) process.off('SIGINT', onSigint);
  };

  return {
    signal: abort.signal,
    get done() {
      return done;
    },
    step(label, n = 1) {
      done += n;
      step = label;
      if (tty) render();
      else line({ step: label, done, total, elapsed_ms: Date.now() - started, eta_ms: eta() });
    },
    tick(n = 1, label) {
      done += n;
      if (label !== undefined) step = label;
      if (tty) render();
    },
    setTotal(n) {
      total = n;
      bar?.setTotal(n);
    },
    finish(summary) {
      if (ended) return;
      end();
      const elapsed = Date.now() - started;
      if (bar) {
        step = 'done';
        if (total !== null) bar.setTotal(Math.max(total, done));
        render();
        bar.stop();
        stream.write(`${task}: ${summary ?? `${done}${total !== null ? ` of ${total}` : ''} ${unit} done`} in ${(elapsed / 1000).toFixed(1)} s\n`);
      } else {
        line({ finished: true, done, total, elapsed_ms: elapsed, ...(summary ? { message: summary } : {}) });
      }
    },
    interrupted(next) {
      if (ended) return;
      end();
      const message = `stopped by Ctrl-C after ${done}${total !== null ? ` of ${total}` : ''} ${unit}; ${next}`;
      if (bar) {
        bar.stop();
        stream.write(`${task}: ${message}\n`);
      } else {
        line({ interrupted: true, done, total, elapsed_ms: Date.now() - started, message });
      }
    },
  };
}
