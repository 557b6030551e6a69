// The owner's judgement of mail, as the mail store sees it: a message moved or copied into Junk,
// or given the $Junk keyword, is spam; one moved or copied out of Junk (to anywhere but Trash),
// or given $NotJunk, is ham (the keywords of RFC 9051 §2.3.2 / the IANA IMAP keyword registry).
// The store only queues a `spam.learn` job in the same transaction; the spam filter
// (src/spam/learn.ts) trains rspamd or the mailbox's Bayesian filter after commit, so no network
// call or slow parse runs inside a mail transaction and the store never imports the filter.
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import type { FoldersTable } from '../db/schema.ts';

export const JUNK_LEARN_JOB = 'spam.learn';

export interface JunkLearnJob {
  mailboxId: string;
  messageIds: string[];
  as: 'spam' | 'ham';
}

/** What a move or copy from one folder to another says about its messages, if anything. */
export function transferJudgement(from: Pick<FoldersTable, 'special_use'>, to: Pick<FoldersTable, 'special_use'>): 'spam' | 'ham' | null {
  const fromJunk = from.special_use === 'junk';
  const toJunk = to.special_use === 'junk';
  if (toJunk && !fromJunk) return 'spam';
  if (fromJunk && !toJunk && to.special_use !== 'trash') return 'ham';
  return null;
}

/** What flags newly added say: $Junk spam, $NotJunk ham (both at once: no judgement). */
export function flagJudgement(added: string[]): 'spam' | 'ham' | null {
  const lower = added.map((f) => f.toLowerCase());
  const spam = lower.includes('$junk');
  const ham = lower.includes('$notjunk');
  return spam === ham ? null : spam ? 'spam' : 'ham';
}

export async function queueJunkLearning(core: Core, tx: Db, mailboxId: string, messageIds: string[], as: 'spam' | 'ham' | null): Promise<void> {
  if (!as || !messageIds.length) return;
  for (let i = 0; i < messageIds.length; i += 200) {
    const job: JunkLearnJob = { mailboxId, messageIds: messageIds.slice(i, i + 200), as };
    await core.jobs.enqueue(JUNK_LEARN_JOB, job, { maxAttempts: 5 }, tx);
  }
}
