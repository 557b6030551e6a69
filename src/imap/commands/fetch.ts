// FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2): every data item, BINARY (RFC 3516), MODSEQ and the
// CHANGEDSINCE/VANISHED modifiers (RFC 7162 §3.1.4, §3.2.6).
//
// Implementation notes:
// - Messages are read in batches of rows; a body is read from the blob store only when an item
//   needs it, and indexed once per message by src/imap/mime (byte offsets, never a re-encode), so
//   BODY[1.2]<0.100> is a slice of the stored bytes.
// - ENVELOPE, BODY and BODYSTRUCTURE come from the structure cache by blob id (src/imap/cache.ts);
//   a message file is read only on a cache miss or for items that need the bytes.
// - BODY[...] and RFC822(.TEXT) without PEEK set \Seen first (one store transaction per batch,
//   committed before anything is written), and the response then carries FLAGS (RFC 9051 §6.4.5).
// - UID FETCH always returns UID; MODSEQ comes with FLAGS once CONDSTORE is on (RFC 7162 §3.1.4.1).
import { blobStore } from '../../outbound/accept.ts';
import { mailTransaction } from '../../mailstore/changes.ts';
import { storeFlags } from '../../mailstore/messages.ts';
import { type Structure, cachedStructures, computeStructure, saveStructures } from '../cache.ts';
import {
  type ImapValue,
  type MimeNode,
  type SectionSpec,
  atom,
  binarySection,
  indexMime,
  literal,
  literal8,
  parseSection,
  partial,
  rawValue,
  section,
  sectionName,
  serializeItems,
} from '../mime/index.ts';
import { compact, contains, parseSeqSet } from '../sequence.ts';
import { type Command, type Completion, type Session, no, ok } from '../session.ts';
import { expungedSince, imapFlags, messagesByUids } from '../store-read.ts';
import { Bad, type Token, atomOf } from '../syntax.ts';

type Item =
  | { k: 'UID' | 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY' | 'MODSEQ' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }
  | { k: 'SECTION'; spec: SectionSpec; peek: boolean; partial?: [number, number] }
  | { k: 'BINARY'; part: number[]; peek: boolean; partial?: [number, number] }
  | { k: 'BINARY.SIZE'; part: number[] };

const MACROS: Record<string, string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};
const SIMPLE = new Set(['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'MODSEQ', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT']);

function binaryPart(section: string): number[] {
  if (section === '') return [];
  if (!/^[1-9]\d{0,8}(\.[1-9]\d{0,8})*$/.test(section)) throw new Bad('Bad BINARY section');
  return section.split('.').map(Number);
}

function parseItem(t: Token): Item {
  if (t.t !== 'atom') throw new Bad('Bad FETCH item');
  const name = t.v.toUpperCase();
  if (t.section !== undefined) {
    if (name === 'BODY' || name === 'BODY.PEEK') {
      const spec = parseSection(t.section);
      if (!spec) throw new Bad('Bad section');
      return { k: 'SECTION', spec, peek: name === 'BODY.PEEK', partial: t.partial };
    }
    if (name === 'BINARY' || name === 'BINARY.PEEK') return { k: 'BINARY', part: binaryPart(t.section), peek: name === 'BINARY.PEEK', partial: t.partial };
    if (name === 'BINARY.SIZE' && !t.partial) return { k: 'BINARY.SIZE', part: binaryPart(t.section) };
    throw new Bad('Bad FETCH item');
  }
  if (!SIMPLE.has(name)) throw new Bad(`Unknown FETCH item ${name.slice(0, 40)}`);
  return { k: name } as Item;
}

function parseItems(t: Token): Item[] {
  if (t.t === 'atom' && t.section === undefined && MACROS[t.v.toUpperCase()]) return MACROS[t.v.toUpperCase()].map((k) => ({ k }) as Item);
  if (t.t === 'list') {
    if (!t.v.length) throw new Bad('Empty FETCH item list');
    return t.v.map(parseItem);
  }
  return [parseItem(t)];
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** date-time (RFC 9051 §9): "dd-Mon-yyyy hh:mm:ss +0000", in UTC. */
export function internalDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

const BATCH = 100;

async function messageStillThere(s: Session, id: string): Promise<boolean> {
  return !!(await s.core.db.selectFrom('messages').select('id').where('id', '=', id).executeTakeFirst());
}

export async function fetch(s: Session, cmd: Command): Promise<Completion> {
  const sel = s.selected!;
  const set = parseSeqSet(cmd.args.atom());
  const items = parseItems(cmd.args.next());
  let changedSince: number | undefined;
  let vanished = false;
  const mods = cmd.args.optionalList();
  cmd.args.end();
  for (let i = 0; mods && i < mods.length; i++) {
    const m = atomOf(mods[i])?.toUpperCase();
    if (m === 'CHANGEDSINCE') {
      const n = atomOf(mods[++i]);
      if (!n || !/^\d{1,19}$/.test(n)) throw new Bad('Bad CHANGEDSINCE');
      changedSince = Number(n);
    } else if (m === 'VANISHED') vanished = true;
    else throw new Bad('Unknown FETCH modifier');
  }
  // RFC 7162 §3.2.6: VANISHED only with UID FETCH, CHANGEDSINCE, and QRESYNC enabled.
  if (vanished && (!cmd.uid || changedSince === undefined || !s.qresync)) throw new Bad('VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC');
  // CHANGEDSINCE and MODSEQ are CONDSTORE-enabling (RFC 7162 §3.1).
  if (changedSince !== undefined || items.some((i) => i.k === 'MODSEQ')) s.enableCondstore();

  const want = new Set(items.map((i) => i.k));
  const withModseq = want.has('MODSEQ') || changedSince !== undefined;
  const setsSeen = !sel.readOnly && items.some((i) => i.k === 'RFC822' || i.k === 'RFC822.TEXT' || ((i.k === 'SECTION' || i.k === 'BINARY') && !i.peek));
  // ENVELOPE, BODY and BODYSTRUCTURE come from the structure cache when it has them (src/imap/cache.ts).
  const structural = items.some((i) => i.k === 'ENVELOPE' || i.k === 'BODY' || i.k === 'BODYSTRUCTURE');
  const needsRaw = items.some((i) => !['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE'].includes(i.k));
  const uids = s.uidsFor(set, cmd.uid);

  if (vanished) {
    const star = Math.max(sel.maxUid, Number(sel.folder.uid_next) - 1);
    const gone = (await expungedSince(s.core.db, sel.folder.id, changedSince!)).filter((u) => set !== '$' && contains(set, u, star));
    if (gone.length) s.untagged(`VANISHED (EARLIER) ${compact(gone)}`);
  }

  const blobs = blobStore(s.core);
  let unreadable = 0;
  let cteFailure: string | null = null;
  for (let b = 0; b < uids.length; b += BATCH) {
    let rows = await messagesByUids(s.core.db, sel.folder.id, uids.slice(b, b + BATCH), ['id', 'modseq', 'blob_id', 'size', 'internal_date', 'seen', 'answered', 'flagged', 'deleted', 'draft', 'keywords']);
    if (changedSince !== undefined) rows = rows.filter((r) => r.modseq > changedSince!);
    const flagged = new Set<number>();
    if (setsSeen) {
      const unseen = rows.filter((r) => !r.seen).map((r) => r.uid);
      if (unseen.length) {
        const res = await mailTransaction(s.core, (tx, emit) => storeFlags(s.core, tx, emit, { folderId: sel.folder.id, uids: unseen, mode: 'add', flags: ['\\Seen'], mailboxId: s.mailbox!.id }));
        const byUid = new Map(res.updated.map((u) => [u.uid, u]));
        for (const r of rows) {
          const u = byUid.get(r.uid);
          if (!u) continue;
          r.seen = 1;
          r.modseq = u.modseq;
          sel.reported.set(r.uid, u.modseq);
          flagged.add(r.uid);
        }
      }
    }
    const cached = structural ? await cachedStructures(s.core.db, rows.map((r) => r.blob_id)) : new Map<string, Structure>();
    const fresh = new Map<string, Structure>();
    const rawNeeded = rows.map((r) => needsRaw || (structural && !cached.has(r.blob_id)));
    const raws: (Buffer | null)[] = await Promise.all(rows.map((r, i) => (rawNeeded[i] ? blobs.get(r.blob_id).catch(() => null) : null)));
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const seq = sel.seqOf(row.uid);
      if (!seq) continue;
      let raw = raws[i];
      if (rawNeeded[i] && !raw) {
        // The row was read before another session expunged it and its body was released: it is
        // simply gone, like a message whose row we no longer find (RFC 9051 §7.4.1 lets the server
        // omit an expunged message's data; its EXPUNGE comes when allowed). A body missing under
        // a message that still exists is a real fault.
        if (!(await messageStillThere(s, row.id))) continue;
        raw = await blobs.get(row.blob_id).catch(() => null);
        if (!raw) {
          unreadable++;
          continue;
        }
      }
      let root: MimeNode | null = null;
      const mime = () => (root ??= indexMime(raw!));
      const structure = (): Structure => {
        let st = cached.get(row.blob_id) ?? fresh.get(row.blob_id);
        if (!st) fresh.set(row.blob_id, (st = computeStructure(raw!, mime())));
        return st;
      };
      const out: ImapValue[] = [];
      const seen = new Set<string>();
      const add = (name: string, value: ImapValue) => {
        if (seen.has(name)) return;
        seen.add(name);
        out.push(atom(name), value);
      };
      // UID FETCH always carries UID; so does every FETCH once QRESYNC is on (RFC 7162 §3.2.4).
      if (cmd.uid || s.qresync) add('UID', row.uid);
      for (const item of items) {
        switch (item.k) {
          case 'UID':
            add('UID', row.uid);
            break;
          case 'FLAGS':
            add('FLAGS', s.shownFlags(row.uid, imapFlags(row)).map(atom));
            break;
          case 'INTERNALDATE':
            add('INTERNALDATE', internalDate(row.internal_date));
            break;
          case 'RFC822.SIZE':
            add('RFC822.SIZE', row.size);
            break;
          case 'MODSEQ':
            break;
          case 'ENVELOPE':
            add('ENVELOPE', rawValue(structure().envelope));
            break;
          case 'BODYSTRUCTURE':
            add('BODYSTRUCTURE', rawValue(structure().bodystructure));
            break;
          case 'BODY':
            add('BODY', rawValue(structure().body));
            break;
          case 'RFC822':
            add('RFC822', literal(raw!));
            break;
          case 'RFC822.HEADER':
            add('RFC822.HEADER', literal(raw!.subarray(mime().headerStart, mime().headerEnd)));
            break;
          case 'RFC822.TEXT':
            add('RFC822.TEXT', literal(raw!.subarray(mime().bodyStart, mime().bodyEnd)));
            break;
          case 'SECTION': {
            let data = section(raw!, mime(), item.spec);
            let name = `BODY[${sectionName(item.spec)}]`;
            if (item.partial) {
              data = partial(data, item.partial[0], item.partial[1]);
              name += `<${item.partial[0]}>`;
            }
            add(name, literal(data));
            break;
          }
          case 'BINARY': {
            const r = binarySection(raw!, mime(), item.part);
            if (!r.ok) {
              if (r.code === 'UNKNOWN-CTE') cteFailure = 'UNKNOWN-CTE';
              add(`BINARY[${item.part.join('.')}]`, null);
              break;
            }
            let data = r.data;
            let name = `BINARY[${item.part.join('.')}]`;
            if (item.partial) {
              data = partial(data, item.partial[0], item.partial[1]);
              name += `<${item.partial[0]}>`;
            }
            add(name, data.includes(0) ? literal8(data) : literal(data));
            break;
          }
          case 'BINARY.SIZE': {
            const r = binarySection(raw!, mime(), item.part);
            if (!r.ok && r.code === 'UNKNOWN-CTE') cteFailure = 'UNKNOWN-CTE';
            add(`BINARY.SIZE[${item.part.join('.')}]`, r.ok ? r.data.length : 0);
            break;
          }
        }
      }
      if (flagged.has(row.uid)) add('FLAGS', s.shownFlags(row.uid, imapFlags(row)).map(atom));
      if (withModseq || (s.condstore && seen.has('FLAGS'))) add('MODSEQ', [row.modseq]);
      s.untagged(`${seq} FETCH (`, serializeItems(out), ')');
      await s.maybeFlush();
    }
    await saveStructures(s.core.db, fresh, s.core.clock.now());
  }
  if (cteFailure) return no('A part has an unknown Content-Transfer-Encoding', 'UNKNOWN-CTE');
  if (unreadable) return no('Some messages could not be read', 'SERVERBUG');
  return ok(`${cmd.uid ? 'UID ' : ''}FETCH completed`);
}
