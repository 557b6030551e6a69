// The `spam.learn` job (queued by the mail store, src/mailstore/junk-learning.ts): trains rspamd
// (MAILSTACK_RSPAMD_URL) or the mailbox's own Bayesian filter with each message the owner judged.
// At-least-once: a message already trained as that class is skipped (the verdict row's `trained`),
// and one trained as the other class is first taken out of it.
import type { Core } from '../core/core.ts';
import type { Worker } from '../jobs/worker.ts';
import { JUNK_LEARN_JOB, type JunkLearnJob } from '../mailstore/junk-learning.ts';
import { parseMessage } from '../mailstore/parse.ts';
import { readRaw } from '../mailstore/read.ts';
import { bodyText } from '../mailstore/text.ts';
import { tokenize, train } from './bayes.ts';
import { rspamdLearn } from './rspamd.ts';

export async function learnMessages(core: Core, job: JunkLearnJob): Promise<number> {
  let learnt = 0;
  const mailbox = await core.db.selectFrom('mailboxes').select(['id', 'address', 'workspace_id']).where('id', '=', job.mailboxId).executeTakeFirst();
  if (!mailbox) return 0;
  for (const id of job.messageIds) {
    const row = await core.db.selectFrom('messages').select(['id', 'blob_id', 'mailbox_id', 'workspace_id', 'from_address', 'subject']).where('id', '=', id).where('mailbox_id', '=', mailbox.id).executeTakeFirst();
    if (!row) continue;
    const verdict = await core.db.selectFrom('spam_verdicts').select(['trained']).where('message_id', '=', id).executeTakeFirst();
    if (verdict?.trained === job.as) continue;
    const raw = await readRaw(core, row);
    if (core.settings.spam.rspamdUrl) {
      await rspamdLearn(core, raw, job.as, mailbox.address);
      await markTrained(core, row, job.as, !!verdict);
    } else {
      let parsed;
      try {
        parsed = await parseMessage(raw);
      } catch {
        continue; // a message the parser refuses has no words to learn
      }
      const tokens = tokenize({ subject: parsed.subject, text: bodyText(parsed), fromAddress: parsed.from?.address ?? row.from_address });
      await core.store.transaction(async (tx) => {
        if (verdict?.trained) await train(tx, mailbox.id, tokens, verdict.trained, -1);
        await train(tx, mailbox.id, tokens, job.as, 1);
        await markTrained(core, row, job.as, !!verdict, tx);
      });
    }
    learnt++;
  }
  return learnt;
}

async function markTrained(core: Core, row: { id: string; workspace_id: string; mailbox_id: string }, as: 'spam' | 'ham', exists: boolean, db = core.db): Promise<void> {
  if (exists) {
    await db.updateTable('spam_verdicts').set({ trained: as }).where('message_id', '=', row.id).execute();
    return;
  }
  // A message no filter judged (an IMAP APPEND, a copy): the row only remembers the training.
  await db
    .insertInto('spam_verdicts')
    .values({ message_id: row.id, workspace_id: row.workspace_id, mailbox_id: row.mailbox_id, engine: 'none', score: 0, action: 'no action', symbols_json: '{}', trained: as, created_at: core.clock.now() })
    .onConflict((oc) => oc.column('message_id').doUpdateSet({ trained: as }))
    .execute();
}

export function registerSpam(core: Core, worker: Worker): void {
  worker.handle(JUNK_LEARN_JOB, async (payload: JunkLearnJob) => {
    await learnMessages(core, payload);
  });
}
