// Parsing a stored RFC 5322 message into the fields the mail store indexes and the API shows.
// CONTRACT (filled by the parse helper): postal-mime with limits; never throws on hostile input
// (broken encodings, unknown charsets, deep multiparts, huge header lines, NUL bytes) — it returns
// what it could read, and `parseMessage` rejects only with a ParseRefusal the MX turns into a 5xx.

export interface ParsedAddress {
  name: string;
  address: string;
}

export interface ParsedAttachment {
  /** 0-based order among the message's attachments. */
  position: number;
  filename: string | null;
  contentType: string;
  contentId: string | null;
  /** 'attachment' | 'inline' | null */
  disposition: string | null;
  size: number;
  content: Buffer;
}

export interface ParsedHeader {
  /** Lower-cased header name. */
  name: string;
  /** Unfolded, RFC 2047-decoded value. */
  value: string;
}

export interface ParsedMessage {
  /** Message-ID without angle brackets. */
  messageId: string | null;
  inReplyTo: string | null;
  /** Message-IDs from References, without angle brackets, oldest first. */
  references: string[];
  subject: string | null;
  from: ParsedAddress | null;
  /** The From header as written for display: `Name <addr>` or `addr`. */
  fromHeader: string | null;
  to: ParsedAddress[];
  cc: ParsedAddress[];
  bcc: ParsedAddress[];
  replyTo: ParsedAddress[];
  /** The Date header in epoch ms, when it parses. */
  date: number | null;
  headers: ParsedHeader[];
  text: string | null;
  html: string | null;
  attachments: ParsedAttachment[];
}

/** A message the store will not take (the MX answers 554 5.6.0 with `message`). */
export class ParseRefusal extends Error {}

export async function parseMessage(_raw: Buffer): Promise<ParsedMessage> {
  throw new Error('parseMessage: not implemented yet');
}
