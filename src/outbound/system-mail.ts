// Mail the platform itself sends (sign-in links, invitations). It is queued as a job in the same
// transaction as what caused it, then delivered by the platform's own MTA (or MAILSTACK_SMARTHOST).
// It is not DKIM-signed: it comes from MAILSTACK_MAIL_FROM, which need not be a sending domain. The job holds the text sealed with the vault (AES-256-GCM):
// a sign-in link is as good as a password for 15 minutes and must not sit readable in the jobs table.
import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { attempt } from './delivery/deliver.ts';

import { SYSTEM_MAIL_JOB, type QueuedSystemMail, type SystemMail, queueSystemMail, SEAL_CONTEXT } from './system-mail-queue.ts';

export { SYSTEM_MAIL_JOB, type SystemMail, queueSystemMail, SEAL_CONTEXT };

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
