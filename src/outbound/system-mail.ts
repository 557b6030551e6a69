// Mail the platform itself sends (sign-in links, invitations). It is queued as a job in the same
// transaction as what caused it, then sent through MAILSTACK_SMARTHOST. Direct MX delivery joins
// when the outbound pipeline exists. The job holds the text sealed with the vault (AES-256-GCM):
// a sign-in link is as good as a password for 15 minutes and must not sit readable in the jobs table.
import nodemailer from 'nodemailer';
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { Settings } from '../config/settings.ts';
import type { Vault } from '../secrets/vault.ts';

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

const SEAL_CONTEXT = 'system_mail';

export async function queueSystemMail(core: Core, mail: SystemMail, db: Db = core.db): Promise<void> {
  const job: QueuedSystemMail = { to: mail.to, subject: mail.subject, text_sealed: core.vault.encrypt(mail.text, SEAL_CONTEXT) };
  await core.jobs.enqueue(SYSTEM_MAIL_JOB, job, { maxAttempts: 8 }, db);
}

/** The job handler: one attempt to hand the message to the smarthost. */
export function systemMailHandler(settings: Settings, vault: Vault) {
  return async (job: QueuedSystemMail): Promise<void> => {
    const mail: SystemMail = { to: job.to, subject: job.subject, text: job.text_sealed !== undefined ? vault.decrypt(job.text_sealed, SEAL_CONTEXT) : (job.text ?? '') };
    const relay = settings.smarthost;
    if (!relay) throw new Error('cannot send system mail: MAILSTACK_SMARTHOST is not set');
    const transport = nodemailer.createTransport({
      host: relay.host,
      port: relay.port,
      secure: relay.secure,
      auth: relay.user ? { user: relay.user, pass: relay.pass ?? '' } : undefined,
      name: settings.hostname,
      // A relay on loopback or the operator's LAN often has a self-signed certificate.
      tls: { rejectUnauthorized: false },
      connectionTimeout: 15_000,
      socketTimeout: 30_000,
    });
    try {
      await transport.sendMail({ from: settings.mailFrom, to: mail.to, subject: mail.subject, text: mail.text });
    } finally {
      transport.close();
    }
  };
}
