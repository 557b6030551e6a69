// What CLI commands share: settings, a quiet logger, and a core opened for the length of a command.
import pino from 'pino';
import { loadSettings } from '../config/settings.ts';
import type { Core } from '../core/core.ts';
import { openCore } from '../platform.ts';

/** Warnings and errors only, to stderr, so stdout stays machine-readable. */
export const cliLog = () => pino({ level: process.env.MAILSTACK_LOG_LEVEL === 'debug' ? 'debug' : 'warn' }, pino.destination(2));

export async function withCore<T>(fn: (core: Core) => Promise<T>): Promise<T> {
  const core = await openCore(loadSettings(), cliLog());
  try {
    return await fn(core);
  } finally {
    await core.store.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}
