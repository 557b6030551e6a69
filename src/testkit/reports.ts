// For tests: DSNs (RFC 3464) and ARF reports (RFC 5965) shaped the way real MTAs and feedback loops
// send them (Postfix-style DSN, the RFC 5965 §B example layout for ARF).

export interface DsnOptions {
  /** The envelope recipient (our return path), shown in the To header. */
  to: string;
  finalRecipient: string;
  action?: string;
  status?: string;
  diagnostic?: string;
  /** Headers of the returned message (text/rfc822-headers). */
  original?: { messageId?: string; returnPath?: string };
  boundary?: string;
}

export function dsn(o: DsnOptions): string {
  const b = o.boundary ?? 'dsn-boundary-1';
  const status = o.status ?? '5.1.1';
  const original = [
    o.original?.returnPath ? `Return-Path: <${o.original.returnPath}>` : null,
    'From: Sender <sender@example.com>',
    `To: ${o.finalRecipient}`,
    'Subject: Hello',
    o.original?.messageId ? `Message-ID: ${o.original.messageId}` : null,
  ].filter(Boolean);
  return [
    'From: Mail Delivery System <MAILER-DAEMON@mx.remote.test>',
    `To: <${o.to}>`,
    'Subject: Undelivered Mail Returned to Sender',
    'Date: Mon, 01 Jan 2024 00:00:00 +0000',
    'Message-ID: <dsn-1@mx.remote.test>',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;`,
    `\tboundary="${b}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${b}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'I\'m sorry to have to inform you that your message could not',
    'be delivered to one or more recipients.',
    '',
    `--${b}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.remote.test',
    'X-Postfix-Queue-ID: 4ABCDEF',
    'Arrival-Date: Mon,  1 Jan 2024 00:00:00 +0000 (UTC)',
    '',
    `Final-Recipient: rfc822; ${o.finalRecipient}`,
    `Original-Recipient: rfc822;${o.finalRecipient}`,
    `Action: ${o.action ?? 'failed'}`,
    `Status: ${status}`,
    'Remote-MTA: dns; inbox.remote.test',
    // Folded, as Postfix writes long diagnostics.
    `Diagnostic-Code: ${o.diagnostic ?? `smtp; 550 ${status} <${o.finalRecipient}>: Recipient address`}`,
    ...(o.diagnostic ? [] : ['    rejected: User unknown in virtual mailbox table']),
    '',
    `--${b}`,
    'Content-Description: Undelivered Message Headers',
    'Content-Type: text/rfc822-headers',
    '',
    ...original,
    '',
    `--${b}--`,
    '',
  ].join('\r\n');
}

export interface ArfOptions {
  to: string;
  feedbackType?: string;
  originalRcptTo?: string | null;
  originalMailFrom?: string;
  original?: { messageId?: string; returnPath?: string; to?: string };
}

export function arf(o: ArfOptions): string {
  const b = 'arf-boundary-1';
  const original = [
    o.original?.returnPath ? `Return-Path: <${o.original.returnPath}>` : null,
    'Received: from mx.sender.test by mail.remote.test; Mon, 1 Jan 2024 00:00:00 +0000',
    'From: Sender <sender@example.com>',
    `To: <${o.original?.to ?? o.originalRcptTo ?? 'someone@remote.test'}>`,
    'Subject: Big sale',
    'Date: Mon, 01 Jan 2024 00:00:00 +0000',
    o.original?.messageId ? `Message-ID: ${o.original.messageId}` : null,
    '',
    'Buy now!',
  ].filter((x) => x !== null);
  return [
    'From: <abuse@remote.test>',
    'Date: Tue, 02 Jan 2024 00:00:00 +0000',
    'Subject: FW: Big sale',
    `To: <${o.to}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset="US-ASCII"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an email abuse report for an email message received from IP',
    '192.0.2.1 on Mon, 01 Jan 2024 00:00:00 +0000.',
    '',
    `--${b}`,
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${o.feedbackType ?? 'abuse'}`,
    'User-Agent: RemoteFBL/1.0',
    'Version: 1',
    ...(o.originalMailFrom ? [`Original-Mail-From: <${o.originalMailFrom}>`] : []),
    ...(o.originalRcptTo ? [`Original-Rcpt-To: <${o.originalRcptTo}>`] : []),
    'Arrival-Date: Mon, 01 Jan 2024 00:00:00 +0000',
    'Reporting-MTA: dns; mail.remote.test',
    'Source-IP: 192.0.2.1',
    '',
    `--${b}`,
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    ...original,
    '',
    `--${b}--`,
    '',
  ].join('\r\n');
}
