// Mail the platform itself sends (sign-in links, invitations). It is queued as a job in the same
// transaction as what caused it, then delivered by the platform's own MTA (or MAILSTACK_SMARTHOST).
// It is not DKIM-signed: it comes from MAILSTACK_MAIL_FROM, which need not be a sending domain. The job holds the text sealed with the vault (AES-256-GCM):
// a sign-in link is as good as a password for 15 minutes and must not sit readable in the jobs table.
import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { attempt } from './delivery/deliver.ts';

export const SYSTEM_MAIL_JOB = 'system_mail.send';

export interface SystemMail {
  to: string;
  subject: string;
  text: string;
}

/** What the job holds: the text (a live sign-in link) is sealed, so the jobs table never has it in clear. */
interface QueuedSystemMail {
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

/**
 * The job handler: one attempt to deliver, through the same MTA as every other message (the
 * recipient's MX hosts, or MAILSTACK_SMARTHOST when set). A temporary failure is retried by the
 * queue; a permanent one is logged and dropped, since retrying cannot help.
 */
export function systemMailHandler(core: Core) {
  return async (job: QueuedSystemMail): Promise<void> => {
    const text = job.text_sealed !== undefined ? core.vault.decrypt(job.text_sealed, SEAL_CONTEXT) : (job.text ?? '');
    const { mailFrom, hostname } = core.settings;
    const raw = await new MailComposer({
      from: mailFrom,
      to: job.to,
      subject: job.subject,
      text,
      date: new Date(core.clock.now()),
      messageId: `<${randomUUID()}@${hostname}>`,
      headers: { 'Auto-Submitted': 'auto-generated' },
    })
      .compile()
      .build();
    const envelopeFrom = /<([^<>]+)>\s*$/.exec(mailFrom)?.[1] ?? mailFrom.trim();
    const outcome = await attempt(core, { from: envelopeFrom, to: job.to, raw, tls: 'opportunistic' });
    if (outcome.kind === 'temporary') throw new Error(`system mail to ${job.to} deferred: ${outcome.response}`);
    if (outcome.kind === 'permanent') core.log.warn({ to: job.to, response: outcome.response }, 'system mail refused for good; not retried');
  };
}
