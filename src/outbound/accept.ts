// Accepting a message for delivery: the one path every outbound message takes, whether it came
// from the send API, the batch API, the SMTP relay or an inbox reply.
//
// Implementation notes:
// - The caller has composed the message (headers include Message-ID and Date) and checked that
//   the sender may use the domain. Here it is DKIM-signed, stored as a blob (fsynced), and its
//   rows committed with their jobs in one transaction: only then may the caller acknowledge.
// - Every recipient is checked against the workspace's suppressions first; a suppressed address
//   gets `suppressed` and is never contacted.
// - An address erased from the workspace (its HMAC in do_not_contact) refuses the whole message
//   with a 422 before anything is signed or stored.
// - A scheduled message waits in `scheduled`; one release job (unique key `release:<email id>`)
//   moves its recipients on at scheduled_at, so rescheduling is moving that job's run_at.
import type { Core } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { Db } from '../db/database.ts';
import type { SendingDomain } from '../domains/domains.ts';
import { signMessage } from './dkim.ts';
import { setRecipientStatus } from './recipients.ts';
import { findSuppression } from './suppressions.ts';
import { newVerpToken } from './verp.ts';
import { FileBlobStore } from '../blobs/blob-store.ts';
import path from 'node:path';
import { metricsOf } from '../metrics/metrics.ts';
import { assertContactable } from '../privacy/do-not-contact.ts';
import { gateAccept } from '../abuse/sending.ts';

export const DELIVER_JOB = 'outbound.deliver';
export const RELEASE_JOB = 'outbound.release';

export interface AttachmentMeta {
  id: string;
  filename: string | null;
  content_type: string;
  size: number;
  content_id: string | null;
  /** Blob id of the attachment's decoded bytes. */
  blob_id: string;
}

export interface AcceptInput {
  workspaceId: string;
  apiKeyId: string | null;
  /** 'api', 'batch', 'smtp', 'inbox' … */
  source: string;
  domain: SendingDomain;
  fromHeader: string;
  fromAddress: string;
  subject: string;
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo: string[];
  /** The envelope recipients; one delivery each (duplicates are dropped). */
  recipients: { address: string; kind: 'to' | 'cc' | 'bcc' }[];
  html: string | null;
  text: string | null;
  headers: Record<string, string>;
  tags: { name: string; value: string }[];
  attachments: AttachmentMeta[];
  /** The composed message, not yet signed. */
  raw: Buffer;
  messageId: string;
  scheduledAt: number | null;
  idempotencyKey?: string | null;
  /** An SRS0 envelope sender for a forwarded message; by default each recipient's VERP path. */
  envelopeFrom?: string | null;
  /** The broadcast this message is one of (src/campaigns/broadcasts.ts). */
  broadcastId?: string | null;
}

/** The blob store of this node (message files under <data>/blobs). */
export function blobStore(core: Core): FileBlobStore {
  return new FileBlobStore(path.join(core.settings.dataDir, 'blobs'), (bytes) => metricsOf(core).blobWritten(bytes));
}

/** Signs, stores and queues a message; returns its email id once everything is durable. */
export async function acceptMessage(core: Core, input: AcceptInput): Promise<string> {
  const stored = await storeMessage(core, input);
  return core.store.transaction((tx) => recordMessage(core, tx, input, stored));
}

export interface StoredMessage {
  rawBlob: string;
  size: number;
}

/**
 * The slow half, outside any transaction: DKIM-sign and write the blob (fsynced). Callers that
 * commit several messages together (a batch) store them all first, then record them in one
 * short transaction, so no write lock is held while signing or syncing.
 */
export async function storeMessage(core: Core, input: AcceptInput): Promise<StoredMessage> {
  // An erased address is never contacted again (src/privacy/erasure.ts).
  await assertContactable(core, core.db, input.workspaceId, input.recipients.map((r) => r.address));
  const signed = await signMessage(input.raw, input.domain);
  return { rawBlob: await blobStore(core).put(signed), size: signed.length };
}

/** The fast half, inside the caller's transaction: rows, suppression checks and jobs. */
export async function recordMessage(core: Core, tx: Db, input: AcceptInput, stored: StoredMessage): Promise<string> {
  const { rawBlob, size } = stored;
  // Quotas, warm-up and pause (src/abuse/sending.ts): refused before any row is written.
  await gateAccept(core, tx, input, new Set(input.recipients.map((r) => r.address.trim().toLowerCase())).size);
  const now = core.clock.now();
  const id = newId(now);
  const scheduled = input.scheduledAt !== null && input.scheduledAt > now;
  await tx
    .insertInto('emails')
    .values({
      id,
      workspace_id: input.workspaceId,
      domain_id: input.domain.id,
      api_key_id: input.apiKeyId,
      source: input.source,
      from_header: input.fromHeader,
      from_address: input.fromAddress.toLowerCase(),
      subject: input.subject,
      to_json: JSON.stringify(input.to),
      cc_json: JSON.stringify(input.cc),
      bcc_json: JSON.stringify(input.bcc),
      reply_to_json: JSON.stringify(input.replyTo),
      headers_json: JSON.stringify(input.headers),
      tags_json: JSON.stringify(input.tags),
      html: input.html,
      text: input.text,
      attachments_json: JSON.stringify(input.attachments),
      message_id: input.messageId,
      raw_blob: rawBlob,
      size,
      last_event: 'queued',
      scheduled_at: scheduled ? input.scheduledAt : null,
      idempotency_key: input.idempotencyKey ?? null,
      envelope_from: input.envelopeFrom ?? null,
      broadcast_id: input.broadcastId ?? null,
      created_at: now,
      updated_at: now,
    })
    .execute();

  const seen = new Set<string>();
  for (const r of input.recipients) {
    const address = r.address.trim().toLowerCase();
    if (seen.has(address)) continue;
    seen.add(address);
    const recipientId = newId(now);
    await tx
      .insertInto('email_recipients')
      .values({
        id: recipientId,
        email_id: id,
        workspace_id: input.workspaceId,
        address,
        kind: r.kind,
        status: 'queued',
        attempts: 0,
        last_response: null,
        last_attempt_at: null,
        next_attempt_at: null,
        mx_host: null,
        verp_token: newVerpToken(),
        created_at: now,
        updated_at: now,
      })
      .execute();
    metricsOf(core).accepted(input.workspaceId, input.source);
    if (scheduled) await setRecipientStatus(core, tx, recipientId, 'scheduled');
    else await release(core, tx, recipientId);
  }
  if (scheduled) {
    await core.jobs.enqueue(RELEASE_JOB, { emailId: id }, { runAt: input.scheduledAt!, uniqueKey: `release:${id}`, maxAttempts: 20 }, tx);
  }
  return id;
}

/** Sends one recipient on its way: suppressed, or `sent` with a delivery job. */
async function release(core: Core, tx: Db, recipientId: string): Promise<void> {
  const r = await tx.selectFrom('email_recipients').select(['address', 'workspace_id']).where('id', '=', recipientId).executeTakeFirstOrThrow();
  const suppression = await findSuppression(tx, r.workspace_id, r.address);
  if (suppression) {
    await setRecipientStatus(core, tx, recipientId, 'suppressed', {
      response: `suppressed (${suppression.origin})`,
      suppressed: { type: suppression.origin, message: suppression.reason ?? `The address is on the suppression list (${suppression.origin}).` },
    });
    return;
  }
  await setRecipientStatus(core, tx, recipientId, 'sent');
  await core.jobs.enqueue(DELIVER_JOB, { recipientId }, { maxAttempts: 100 }, tx);
}

/** The release job's handler: a scheduled message's time has come. */
export function releaseHandler(core: Core) {
  return async ({ emailId }: { emailId: string }) => {
    await core.store.transaction(async (tx) => {
      const waiting = await tx.selectFrom('email_recipients').select('id').where('email_id', '=', emailId).where('status', '=', 'scheduled').execute();
      for (const r of waiting) await release(core, tx, r.id);
      await tx.updateTable('emails').set({ scheduled_at: null, updated_at: core.clock.now() }).where('id', '=', emailId).where('last_event', '!=', 'canceled').execute();
    });
  };
}
