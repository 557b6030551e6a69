// Queueing the platform's own mail (system-mail.ts delivers it). Apart from the handler so that
// parts the MTA imports (the abuse controls' owner mail) can queue mail without an import cycle.
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';

export const SYSTEM_MAIL_JOB = 'system_mail.send';

export interface SystemMail {
  to: string;
  subject: string;
  text: string;
}

/** What the job holds: the text (a live sign-in link) is sealed, so the jobs table never has it in clear. */
export interface QueuedSystemMail {
  to: string;
  subject: string;
  text_sealed?: string;
  /** Jobs queued before the text was sealed. */
  text?: string;
}

export const SEAL_CONTEXT = 'system_mail';

export async function queueSystemMail(core: Core, mail: SystemMail, db: Db = core.db): Promise<void> {
  const job: QueuedSystemMail = { to: mail.to, subject: mail.subject, text_sealed: core.vault.encrypt(mail.text, SEAL_CONTEXT) };
  await core.jobs.enqueue(SYSTEM_MAIL_JOB, job, { maxAttempts: 8 }, db);
}

