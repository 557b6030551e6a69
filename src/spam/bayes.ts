// The built-in per-mailbox Bayesian filter, in the spirit of mox's junk filter: each mailbox has
// its own word counts, trained only by its owner's actions (moving mail into or out of Junk,
// $Junk/$NotJunk). Classification combines the most telling words (Graham's "interesting"
// tokens, Robinson's smoothing for rare words) into one probability.
//
// Implementation notes:
// - A message counts once per class: its tokens are a set. Retraining a message from spam to
//   ham (or back) takes its counts out of the old class first, so counts stay those of the
//   messages as the owner last judged them.
// - Until a mailbox has trained BAYES_MIN_EACH messages of each class the filter says nothing
//   (too little evidence), so a new mailbox is judged by the other checks only.
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';

export const BAYES_MIN_EACH = 3;
const MAX_TOKENS = 1500;
const INTERESTING = 15;

/** The word set of a message: subject and body words, and the sender's domain. */
export function tokenize(input: { subject?: string | null; text?: string | null; fromAddress?: string | null }): string[] {
  const out = new Set<string>();
  const add = (prefix: string, text: string | null | undefined) => {
    if (!text) return;
    for (const w of text.slice(0, 200_000).toLowerCase().split(/[^\p{L}\p{N}$'-]+/u)) {
      const t = w.replace(/^['-]+|['-]+$/g, '');
      if (t.length < 3 || t.length > 24) continue;
      out.add(prefix + t);
      if (out.size >= MAX_TOKENS) return;
    }
  };
  add('s:', input.subject);
  add('', input.text);
  const domain = input.fromAddress?.split('@')[1];
  if (domain) out.add(`from:${domain.toLowerCase()}`);
  return [...out].slice(0, MAX_TOKENS);
}

export interface BayesVerdict {
  /** P(spam), 0..1; null when the mailbox has not been trained enough. */
  probability: number | null;
  trainedSpam: number;
  trainedHam: number;
}

export async function classify(db: Db, mailboxId: string, tokens: string[]): Promise<BayesVerdict> {
  const totals = await db.selectFrom('spam_bayes_totals').select(['spam', 'ham']).where('mailbox_id', '=', mailboxId).executeTakeFirst();
  const nS = Number(totals?.spam ?? 0);
  const nH = Number(totals?.ham ?? 0);
  if (nS < BAYES_MIN_EACH || nH < BAYES_MIN_EACH || !tokens.length) return { probability: null, trainedSpam: nS, trainedHam: nH };
  const rows: { token: string; spam: number; ham: number }[] = [];
  for (let i = 0; i < tokens.length; i += 500) {
    rows.push(...(await db.selectFrom('spam_bayes_tokens').select(['token', 'spam', 'ham']).where('mailbox_id', '=', mailboxId).where('token', 'in', tokens.slice(i, i + 500)).execute()));
  }
  const probs = rows.map((r) => {
    const s = Math.min(Number(r.spam) / nS, 1);
    const h = Math.min(Number(r.ham) / nH, 1);
    const p = s + h === 0 ? 0.5 : s / (s + h);
    const n = Number(r.spam) + Number(r.ham);
    // Robinson: a word seen n times moves from the neutral 0.5 towards p with weight n.
    const f = (0.5 + n * p) / (1 + n);
    return Math.min(0.99, Math.max(0.01, f));
  });
  probs.sort((a, b) => Math.abs(b - 0.5) - Math.abs(a - 0.5));
  const top = probs.slice(0, INTERESTING);
  if (!top.length) return { probability: 0.5, trainedSpam: nS, trainedHam: nH };
  let logSpam = 0;
  let logHam = 0;
  for (const f of top) {
    logSpam += Math.log(f);
    logHam += Math.log(1 - f);
  }
  const probability = 1 / (1 + Math.exp(logHam - logSpam));
  return { probability, trainedSpam: nS, trainedHam: nH };
}

/** Adds (delta 1) or removes (delta -1) one message's tokens to a class. */
export async function train(tx: Db, mailboxId: string, tokens: string[], as: 'spam' | 'ham', delta: 1 | -1): Promise<void> {
  const col = as;
  await tx.insertInto('spam_bayes_totals').values({ mailbox_id: mailboxId, spam: 0, ham: 0 }).onConflict((oc) => oc.column('mailbox_id').doNothing()).execute();
  await tx
    .updateTable('spam_bayes_totals')
    .set({ [col]: sql`case when ${sql.ref(col)} + ${delta} < 0 then 0 else ${sql.ref(col)} + ${delta} end` } as any)
    .where('mailbox_id', '=', mailboxId)
    .execute();
  for (let i = 0; i < tokens.length; i += 200) {
    const chunk = tokens.slice(i, i + 200);
    if (delta > 0) {
      await tx
        .insertInto('spam_bayes_tokens')
        .values(chunk.map((token) => ({ mailbox_id: mailboxId, token, spam: as === 'spam' ? 1 : 0, ham: as === 'ham' ? 1 : 0 })))
        .onConflict((oc) => oc.columns(['mailbox_id', 'token']).doUpdateSet({ [col]: sql`spam_bayes_tokens.${sql.ref(col)} + 1` } as any))
        .execute();
    } else {
      await tx
        .updateTable('spam_bayes_tokens')
        .set({ [col]: sql`${sql.ref(col)} - 1` } as any)
        .where('mailbox_id', '=', mailboxId)
        .where('token', 'in', chunk)
        .where(col, '>', 0)
        .execute();
    }
  }
}
