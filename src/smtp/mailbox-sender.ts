// Submission by a mailbox user (an inbox address signed in with an app password, src/accounts/
// mailbox-login.ts): who it may send as, and accepting its message with a copy in its Sent folder.
//
// Implementation notes:
// - A mailbox may send as its own address and as each alias that delivers to it (alias_targets);
//   not as a catch-all's arbitrary addresses, which would let it send as anyone in the domain.
//   Both the envelope sender and every address of the From field are held to that set.
// - The message takes the outbound pipeline like every other (storeMessage: DKIM-signed with the
//   From domain's key, blob fsynced), and its rows (emails, recipients, delivery jobs) and the Sent
//   copy (appendSentCopy: \Seen, direction 'outbound', email_id) commit in ONE mail transaction,
//   before the relay answers 250. Either both exist or neither: a crash before the commit loses
//   nothing acknowledged (the client retries on the missing 250), and a crash after it has both.
// - The Sent copy is the signed message exactly as delivered (the same blob as the emails row);
//   it does not count against a quota check (sending is never refused for a full mailbox).
import type { Core } from '../core/core.ts';
import { mailTransaction } from '../mailstore/changes.ts';
import type { Mailbox } from '../mailstore/mailboxes.ts';
import { appendSentCopy } from '../mailstore/messages.ts';
import { parseMessage } from '../mailstore/parse.ts';
import { type AcceptInput, recordMessage, storeMessage } from '../outbound/accept.ts';
import { blobStore } from '../outbound/accept.ts';

/** The addresses (lower-cased) a mailbox may send as: its own and its aliases'. */
export async function senderAddresses(core: Core, mailboxId: string): Promise<Set<string>> {
  const own = await core.db.selectFrom('mailboxes').select('address').where('id', '=', mailboxId).executeTakeFirst();
  if (!own) return new Set();
  const aliases = await core.db
    .selectFrom('aliases')
    .innerJoin('alias_targets', 'alias_targets.alias_id', 'aliases.id')
    .select('aliases.address')
    .where('alias_targets.mailbox_id', '=', mailboxId)
    .execute();
  return new Set([own.address.toLowerCase(), ...aliases.map((a) => a.address.toLowerCase())]);
}

/** The mailbox still exists in an open workspace, and an app password used to sign in is not revoked. */
export async function mailboxSenderAlive(core: Core, mailboxId: string, appPasswordId: string | null): Promise<Mailbox | null> {
  const mailbox = await core.db
    .selectFrom('mailboxes')
    .innerJoin('workspaces', 'workspaces.id', 'mailboxes.workspace_id')
    .selectAll('mailboxes')
    .where('mailboxes.id', '=', mailboxId)
    .where('workspaces.closed_at', 'is', null)
    .executeTakeFirst();
  if (!mailbox) return null;
  if (appPasswordId) {
    const p = await core.db.selectFrom('app_passwords').select('id').where('id', '=', appPasswordId).where('mailbox_id', '=', mailboxId).executeTakeFirst();
    if (!p) return null;
  }
  return mailbox;
}

/** acceptMessage plus the Sent copy, in one commit; returns the email id. */
export async function acceptWithSentCopy(core: Core, input: AcceptInput, mailbox: Mailbox): Promise<string> {
  const stored = await storeMessage(core, input);
  // Parse what is stored (signed), so the Sent copy's headers are the ones delivered.
  const signed = await blobStore(core).get(stored.rawBlob);
  const parsed = await parseMessage(signed);
  return mailTransaction(core, async (tx, emit) => {
    const emailId = await recordMessage(core, tx, input, stored);
    const current = (await tx.selectFrom('mailboxes').selectAll().where('id', '=', mailbox.id).executeTakeFirst()) ?? mailbox;
    await appendSentCopy(core, tx, emit, { mailbox: current, blobId: stored.rawBlob, size: stored.size, parsed, emailId });
    return emailId;
  });
}
