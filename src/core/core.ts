// The core's handle on its shared parts. Doors (HTTP, SMTP, IMAP, POP3) and the CLI receive one of
// these; core services take it as their first argument. Nothing here knows about any door.
import type { Logger } from 'pino';
import type { Settings } from '../config/settings.ts';
import type { Db, Store } from '../db/database.ts';
import type { JobQueue } from '../jobs/queue.ts';
import type { Vault } from '../secrets/vault.ts';
import type { Clock } from './clock.ts';

export interface Core {
  settings: Settings;
  store: Store;
  db: Db;
  vault: Vault;
  jobs: JobQueue;
  clock: Clock;
  log: Logger;
}

/** Who did something, for permission checks and the audit log. */
export interface Actor {
  /** `link`: whoever fetched a signed download link (no account; its IP and user agent are kept). */
  type: 'user' | 'api_key' | 'system' | 'cli' | 'link';
  id: string | null;
  label: string | null;
  ip: string | null;
  userAgent: string | null;
}

export const systemActor: Actor = { type: 'system', id: null, label: 'system', ip: null, userAgent: null };
export const cliActor: Actor = { type: 'cli', id: null, label: 'mailstack CLI', ip: null, userAgent: null };

/** A failure that a door should show to the caller as is (HTTP maps it to its status and name). */
export class CoreError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** For 429s: when the caller may try again. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new CoreError(404, 'not_found', `${what} not found`);
export const invalid = (message: string) => new CoreError(422, 'validation_error', message);
