// Mail the platform itself sends (sign-in links, invitations). It is queued as a job in the same
// transaction as what caused it, then sent through MAILSTACK_SMARTHOST. Direct MX delivery joins
// when the outbound pipeline exists.
import nodemailer from 'nodemailer';
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { Settings } from '../config/settings.ts';

export const SYSTEM_MAIL_JOB = 'system_mail.send';

export interface SystemMail {
  to: string;
  subject: string;
  text: string;
}

export async function queueSystemMail(core: Core, mail: SystemMail, db: Db = core.db): Promise<void> {
  await core.jobs.enqueue(SYSTEM_MAIL_JOB, mail, { maxAttempts: 8 }, db);
}

/** The job handler: one attempt to hand the message to the smarthost. */
export function systemMailHandler(settings: Settings) {
  return async (mail: SystemMail): Promise<void> => {
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
