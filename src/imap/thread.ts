// THREAD=REFERENCES (RFC 5256 §3, the algorithm of its "REFERENCES" section, step by step) over the
// messages a THREAD command's search matched. The store's own threads (src/mailstore/threads.ts)
// are not used: IMAP clients compare our answer with the RFC's.
//
// Implementation notes:
// - Message-IDs compare exactly (without the angle brackets); a message without one, or with
//   one an earlier message (lower number) already has, gets a unique id of its own (step 1).
// - Sibling order is the sent date (the Date field, else the internal date), ties by the order
//   in the mailbox; a dummy sorts as its first child (steps 5 and 7).
// - Loops are never created: a link whose child is an ancestor of its parent is skipped.

export interface ThreadInput {
  /** What the answer shows: sequence number or UID. */
  n: number;
  messageId: string | null;
  references: string[];
  inReplyTo: string | null;
  /** Base subject (RFC 5256 §2.1) and whether extracting it removed a reply/forward marker. */
  base: string;
  reply: boolean;
  date: number;
}

interface Box {
  msg: ThreadInput | null;
  parent: Box | null;
  children: Box[];
}

const bare = (id: string) => id.replace(/^<|>$/g, '');

function isAncestor(a: Box, of: Box): boolean {
  for (let p: Box | null = of; p; p = p.parent) if (p === a) return true;
  return false;
}

function unlink(c: Box): void {
  if (!c.parent) return;
  c.parent.children = c.parent.children.filter((x) => x !== c);
  c.parent = null;
}

function link(parent: Box, child: Box): boolean {
  if (parent === child || isAncestor(child, parent)) return false;
  unlink(child);
  child.parent = parent;
  parent.children.push(child);
  return true;
}

/** The message whose date and subject stand for a box: itself, or a dummy's first child. */
function first(b: Box): ThreadInput | null {
  if (b.msg) return b.msg;
  return b.children.length ? first(b.children[0]) : null;
}

function sortBoxes(list: Box[]): void {
  for (const b of list) sortBoxes(b.children);
  list.sort((a, b) => {
    const x = first(a)!;
    const y = first(b)!;
    return x.date - y.date || x.n - y.n;
  });
}

export function threadReferences(messages: ThreadInput[]): string {
  // (1) The id table: one container per Message-ID, linked along each message's references.
  const table = new Map<string, Box>();
  let unique = 0;
  const boxOf = (id: string) => {
    let b = table.get(id);
    if (!b) table.set(id, (b = { msg: null, parent: null, children: [] }));
    return b;
  };
  const ordered = [...messages].sort((a, b) => a.n - b.n);
  for (const m of ordered) {
    let id = m.messageId ? bare(m.messageId) : '';
    if (!id || table.get(id)?.msg) id = `\u0000unique ${++unique}`;
    const me = boxOf(id);
    me.msg = m;
    let refs = m.references.map(bare).filter(Boolean);
    if (!refs.length && m.inReplyTo) refs = [bare(m.inReplyTo)];
    // (1A) Each reference is the parent of the next, unless that one already has a parent.
    for (let i = 0; i + 1 < refs.length; i++) {
      const p = boxOf(refs[i]);
      const c = boxOf(refs[i + 1]);
      if (!c.parent) link(p, c);
    }
    // (1B) The last reference is this message's parent, replacing a parent found before.
    // The old link is broken first, even when the new one is then refused as a loop.
    const last = refs.length ? boxOf(refs[refs.length - 1]) : null;
    unlink(me);
    if (last && last !== me && !isAncestor(me, last)) link(last, me);
  }
  // (2) The root set.
  let roots = [...table.values()].filter((b) => !b.parent);
  // (4) Prune dummies: childless ones go; others give their children to their parent (at the
  // root only when there is just one child).
  const prune = (list: Box[], atRoot: boolean): Box[] => {
    const out: Box[] = [];
    for (const b of list) {
      b.children = prune(b.children, false);
      for (const c of b.children) c.parent = b;
      if (b.msg) out.push(b);
      else if (!b.children.length) continue;
      else if (!atRoot || b.children.length === 1) {
        for (const c of b.children) c.parent = null;
        out.push(...b.children);
      } else out.push(b);
    }
    return out;
  };
  roots = prune(roots, true);
  for (const r of roots) r.parent = null;
  // (5) Roots by date.
  sortBoxes(roots);
  // (6) Roots with the same base subject come together.
  const bySubject = new Map<string, Box>();
  for (const r of roots) {
    const m = first(r);
    if (!m || !m.base) continue;
    const old = bySubject.get(m.base);
    if (!old || (!r.msg && old.msg) || (old.msg && first(old)!.reply && !m.reply)) bySubject.set(m.base, r);
  }
  const merged: Box[] = [];
  const gone = new Set<Box>();
  for (const r of roots) {
    if (gone.has(r)) continue;
    const m = first(r);
    const other = m && m.base ? bySubject.get(m.base) : undefined;
    if (!other || other === r || gone.has(other)) {
      merged.push(r);
      continue;
    }
    gone.add(r);
    if (!other.msg && !r.msg) {
      for (const c of r.children) c.parent = other;
      other.children.push(...r.children);
    } else if (!other.msg) {
      r.parent = other;
      other.children.push(r);
    } else if (!r.msg) {
      // This is the dummy: the other becomes one of its children, in the other's place.
      gone.delete(r);
      gone.add(other);
      other.parent = r;
      r.children.push(other);
      bySubject.set(m!.base, r);
      const i = merged.indexOf(other);
      if (i >= 0) merged[i] = r;
      else merged.push(r);
    } else if (!other.msg.reply && r.msg.reply) {
      r.parent = other;
      other.children.push(r);
    } else if (other.msg.reply && !r.msg.reply) {
      gone.delete(r);
      gone.add(other);
      other.parent = r;
      r.children.push(other);
      bySubject.set(m!.base, r);
      const i = merged.indexOf(other);
      if (i >= 0) merged[i] = r;
      else merged.push(r);
    } else {
      const dummy: Box = { msg: null, parent: null, children: [other, r] };
      gone.add(other);
      other.parent = dummy;
      r.parent = dummy;
      bySubject.set(m!.base, dummy);
      const i = merged.indexOf(other);
      if (i >= 0) merged[i] = dummy;
      else merged.push(dummy);
    }
  }
  // (7) Every set of siblings by date, then the answer (RFC 5256 §4 syntax).
  sortBoxes(merged);
  const members = (b: Box): string => {
    const kids = b.children;
    if (!b.msg) return kids.map((k) => `(${members(k)})`).join('');
    if (!kids.length) return String(b.msg.n);
    if (kids.length === 1) return `${b.msg.n} ${members(kids[0])}`;
    return `${b.msg.n} ${kids.map((k) => `(${members(k)})`).join('')}`;
  };
  return merged.map((r) => `(${members(r)})`).join('');
}
