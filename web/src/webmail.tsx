// The webmail: mailbox switcher, folders with unread counts, a paged message list, the reader
// (sanitized HTML in a sandboxed iframe, remote images blocked until asked), actions with undo,
// compose/reply/forward with drafts, search, live updates over SSE, keyboard shortcuts.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { type Answer, api, link } from './api';
import type { Session } from './app';
import { Compose, type ComposeInit } from './compose';
import { navigate } from './router';

type Mailbox = Answer<'/v1/webmail/mailboxes'>['data'][number];
type Folder = Answer<'/v1/webmail/mailboxes/{id}/folders'>['data'][number];
type Item = Answer<'/v1/webmail/mailboxes/{id}/folders/{folderId}/messages'>['data'][number];
type Message = Answer<'/v1/webmail/mailboxes/{id}/messages/{messageId}'>;

const FOLDER_ORDER = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];
const folderLabel = (f: Folder) => (f.name === 'INBOX' ? 'Inbox' : f.name);

/** Reasons typed for opening inboxes one does not own, per mailbox, for this page's life. */
const reasons = new Map<string, string>();
const readHeaders = (mb: Mailbox): Record<string, string> => (!mb.owned && reasons.has(mb.id) ? { 'x-mailstack-access-reason': reasons.get(mb.id)! } : {});

export function Webmail({ session, path }: { session: Session; path: string }) {
  const [, , mbParam, folderParam, msgParam] = path.split('/');
  const [mailboxes, setMailboxes] = useState<Mailbox[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.get('/v1/webmail/mailboxes').then((r) => setMailboxes(r.data), (e: Error) => setError(e.message));
  }, [session.workspace_id]);
  if (error) return <div class="panel error" role="alert">Your mailboxes could not be loaded: {error}</div>;
  if (!mailboxes) return <p class="loading">Loading mailboxes…</p>;
  if (!mailboxes.length)
    return (
      <div class="panel empty">
        <h2>No mailbox yet</h2>
        <p>You own no inbox in this workspace. An owner or admin can create one for you in the dashboard (Inboxes, with you as owner).</p>
      </div>
    );
  const mailbox = mailboxes.find((m) => m.id === mbParam) ?? mailboxes[0];
  return <MailboxView key={mailbox.id} mailboxes={mailboxes} mailbox={mailbox} folderParam={folderParam} msgParam={msgParam} />;
}

function MailboxView({ mailboxes, mailbox, folderParam, msgParam }: { mailboxes: Mailbox[]; mailbox: Mailbox; folderParam?: string; msgParam?: string }) {
  const [reasonOk, setReasonOk] = useState(mailbox.owned || reasons.has(mailbox.id));
  if (!reasonOk) return <ReasonPrompt mailbox={mailbox} mailboxes={mailboxes} onDone={() => setReasonOk(true)} />;
  return <Mail mailboxes={mailboxes} mailbox={mailbox} folderParam={folderParam} msgParam={msgParam} />;
}

function ReasonPrompt({ mailbox, mailboxes, onDone }: { mailbox: Mailbox; mailboxes: Mailbox[]; onDone: () => void }) {
  const [text, setText] = useState('');
  return (
    <form class="panel reason" onSubmit={(e) => { e.preventDefault(); if (text.trim()) { reasons.set(mailbox.id, text.trim()); onDone(); } }}>
      <MailboxSwitcher mailboxes={mailboxes} current={mailbox} />
      <h2>You do not own {mailbox.email_address}</h2>
      <p>Reading another person's mail is recorded in the audit log with your reason.</p>
      <label>Why are you opening this inbox?<input name="reason" required maxLength={500} value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} /></label>
      <button type="submit">Open the inbox</button>
    </form>
  );
}

function MailboxSwitcher({ mailboxes, current }: { mailboxes: Mailbox[]; current: Mailbox }) {
  return (
    <select class="mailbox-switcher" aria-label="Mailbox" value={current.id} onChange={(e) => navigate(`/mail/${(e.target as HTMLSelectElement).value}`)}>
      {mailboxes.map((m) => <option value={m.id}>{m.email_address}{m.owned ? '' : ' (not yours)'}</option>)}
    </select>
  );
}

interface Toast { text: string; undo?: () => Promise<void> }

function Mail({ mailboxes, mailbox, folderParam, msgParam }: { mailboxes: Mailbox[]; mailbox: Mailbox; folderParam?: string; msgParam?: string }) {
  const [folders, setFolders] = useState<Folder[]>([]);
  const [items, setItems] = useState<Item[]>([]);
  const [hasMore, setHasMore] = useState(false);
  const [cursor, setCursor] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [toast, setToast] = useState<Toast | null>(null);
  const [compose, setCompose] = useState<ComposeInit | null>(null);
  const [search, setSearch] = useState('');
  const [searching, setSearching] = useState<string | null>(null);
  const [live, setLive] = useState<'live' | 'connecting'>('connecting');
  const [help, setHelp] = useState(false);
  const searchRef = useRef<HTMLInputElement>(null);
  const sorted = useMemo(() => [...folders].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name)), [folders]);
  const folder = folders.find((f) => f.id === folderParam) ?? folders.find((f) => f.special_use === 'inbox');
  // A folder named in the URL is listed at once, alongside the counts, not after them.
  const folderId = folderParam || folder?.id;
  const base = `/mail/${mailbox.id}/${folderId ?? ''}`;

  const loadFolders = useCallback(() => api.get('/v1/webmail/mailboxes/{id}/folders', { path: { id: mailbox.id } }).then((r) => setFolders(r.data), (e: Error) => setError(e.message)), [mailbox.id]);
  const loadList = useCallback(
    async (more = false) => {
      if (!folderId) return;
      try {
        if (searching) {
          const r = await api.get('/v1/webmail/mailboxes/{id}/search', { path: { id: mailbox.id }, query: { q: searching, limit: 100 }, headers: readHeaders(mailbox) });
          setItems(r.data);
          setHasMore(false);
          return;
        }
        const r = await api.get('/v1/webmail/mailboxes/{id}/folders/{folderId}/messages', { path: { id: mailbox.id, folderId }, query: { limit: 50, ...(more && cursor ? { before_uid: cursor } : {}) }, headers: readHeaders(mailbox) });
        setItems((old) => (more ? [...old, ...r.data] : r.data));
        setHasMore(r.has_more);
        if (r.data.length) setCursor(r.data[r.data.length - 1].uid);
        else if (!more) setCursor(0);
        setError(null);
      } catch (e) {
        setError((e as Error).message);
      }
    },
    [mailbox.id, folderId, cursor, searching],
  );
  useEffect(() => void loadFolders(), [loadFolders]);
  useEffect(() => void loadList(false), [mailbox.id, folderId, searching]);

  // Live updates: re-read the counts and the first page when this mailbox changes.
  const reload = useRef(() => {});
  reload.current = () => {
    void loadFolders();
    if (!searching) void refreshTop();
  };
  const refreshTop = async () => {
    if (!folderId) return;
    const r = await api.get('/v1/webmail/mailboxes/{id}/folders/{folderId}/messages', { path: { id: mailbox.id, folderId }, query: { limit: 50 }, headers: readHeaders(mailbox) }).catch(() => null);
    if (!r) return;
    setItems((old) => {
      const fresh = new Map(r.data.map((i) => [i.id, i]));
      const oldest = r.data.length ? r.data[r.data.length - 1].uid : Infinity;
      // The first page as it is now, then what was loaded beyond it (still in this folder).
      return [...r.data, ...old.filter((i) => !fresh.has(i.id) && i.uid < oldest && r.has_more)];
    });
  };
  useEffect(() => {
    const es = new EventSource(`/v1/webmail/events?mailbox_id=${encodeURIComponent(mailbox.id)}`);
    let timer: number | undefined;
    es.addEventListener('ready', () => setLive('live'));
    es.addEventListener('change', () => {
      clearTimeout(timer);
      timer = setTimeout(() => reload.current(), 100) as unknown as number;
    });
    es.onerror = () => setLive('connecting');
    return () => (es.close(), clearTimeout(timer));
  }, [mailbox.id]);

  const openIndex = items.findIndex((i) => i.id === msgParam);
  const open = (i: Item | undefined) => i && navigate(`${base}/${i.id}`);
  const showToast = (t: Toast) => {
    setToast(t);
    setTimeout(() => setToast((cur) => (cur === t ? null : cur)), 8000);
  };
  const move = async (i: Item, special_use: 'trash' | 'junk' | 'archive' | 'inbox', verb: string) => {
    try {
      const r = await api.post('/v1/webmail/mailboxes/{id}/messages/{messageId}/move', { path: { id: mailbox.id, messageId: i.id }, body: { special_use } });
      setItems((old) => old.filter((x) => x.id !== i.id));
      if (msgParam === i.id) navigate(base);
      void loadFolders();
      showToast({
        text: `${verb}.`,
        undo: async () => {
          await api.post('/v1/webmail/mailboxes/{id}/messages/{messageId}/move', { path: { id: mailbox.id, messageId: i.id }, body: { folder_id: r.from_folder_id } });
          showToast({ text: 'Undone.' });
          reload.current();
        },
      });
    } catch (e) {
      showToast({ text: (e as Error).message });
    }
  };
  const flags = async (i: Item, change: { seen?: boolean; flagged?: boolean }) => {
    try {
      await api.patch('/v1/webmail/mailboxes/{id}/messages/{messageId}', { path: { id: mailbox.id, messageId: i.id }, body: change });
      setItems((old) => old.map((x) => (x.id === i.id ? { ...x, ...change } : x)));
      void loadFolders();
    } catch (e) {
      showToast({ text: (e as Error).message });
    }
  };
  const current = openIndex >= 0 ? items[openIndex] : undefined;
  const actions = { move, flags, reply: (m: Message, all: boolean) => setCompose(replyInit(m, all)), forward: (m: Message) => setCompose(forwardInit(m)) };

  // Keyboard shortcuts (not while typing in a field).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) || t.isContentEditable || compose) return;
      const at = openIndex >= 0 ? openIndex : -1;
      const k = e.key;
      if (k === 'j') open(items[Math.min(at + 1, items.length - 1)]);
      else if (k === 'k') open(items[Math.max(at - 1, 0)]);
      else if ((k === 'o' || k === 'Enter') && at < 0) open(items[0]);
      else if (k === 'u' || k === 'Escape') navigate(base);
      else if (k === 'c') setCompose({ mode: 'new' });
      else if (k === '/') (e.preventDefault(), searchRef.current?.focus());
      else if (k === '?') setHelp((h) => !h);
      else if (current && k === 'e') void move(current, 'archive', 'Archived');
      else if (current && k === '#') void move(current, 'trash', 'Moved to Trash');
      else if (current && k === '!') void move(current, 'junk', 'Marked as spam');
      else if (current && k === 's') void flags(current, { flagged: !current.flagged });
      else if (current && (k === 'r' || k === 'a' || k === 'f')) document.getElementById(k === 'f' ? 'act-forward' : k === 'a' ? 'act-reply-all' : 'act-reply')?.click();
      else return;
      e.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });

  return (
    <div class={`mail ${msgParam ? 'reading' : ''}`}>
      <aside class="folders">
        <MailboxSwitcher mailboxes={mailboxes} current={mailbox} />
        <button class="primary" onClick={() => setCompose({ mode: 'new' })}>Compose</button>
        <ul role="list" aria-label="Folders">
          {sorted.map((f) => (
            <li>
              <a href={`/mail/${mailbox.id}/${f.id}`} class="folder" aria-current={f.id === folderId ? 'page' : undefined} data-folder={f.special_use ?? f.name} onClick={(e) => { e.preventDefault(); setSearching(null); navigate(`/mail/${mailbox.id}/${f.id}`); }}>
                <span>{folderLabel(f)}</span>
                {f.unread > 0 && <span class="count" aria-label={`${f.unread} unread`}>{f.unread}</span>}
              </a>
            </li>
          ))}
        </ul>
        <FolderTools mailboxId={mailbox.id} folder={folder} onChanged={loadFolders} />
        <p class={`live ${live}`}>{live === 'live' ? '● live' : '○ reconnecting…'}</p>
      </aside>
      <section class="list" aria-label="Messages">
        <form class="search" role="search" onSubmit={(e) => { e.preventDefault(); setSearching(search.trim() || null); }}>
          <input ref={searchRef} type="search" name="q" placeholder="Search (from: to: subject: has:attachment is:unread before: after:)" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
          {searching && <button type="button" class="link" onClick={() => (setSearch(''), setSearching(null))}>Clear</button>}
        </form>
        {error && <p class="error" role="alert">{error} <button class="link" onClick={() => void loadList(false)}>Retry</button></p>}
        {!error && !items.length && <p class="empty">{searching ? 'Nothing matches.' : 'No messages in this folder.'}</p>}
        <ul class="items" role="list">
          {items.map((i) => (
            <li class={`item ${i.seen ? '' : 'unread'} ${i.id === msgParam ? 'selected' : ''}`} data-id={i.id}>
              <a href={`${base}/${i.id}`} onClick={(e) => (e.preventDefault(), open(i))}>
                <span class="from">{displayName(i.from)}</span>
                <span class="subject">{i.subject || '(no subject)'}</span>
                <span class="snippet">{i.snippet}</span>
                <span class="marks">{i.has_attachments && <span class="badge" title="Has attachments">file</span>}{i.flagged && <span class="star" title="Flagged">★</span>}</span>
                <time dateTime={i.date}>{shortDate(i.date)}</time>
              </a>
            </li>
          ))}
        </ul>
        {hasMore && <button class="secondary more" onClick={() => void loadList(true)}>Load more</button>}
      </section>
      <section class="reader" aria-label="Message">
        {msgParam ? <Reader key={msgParam} mailbox={mailbox} id={msgParam} item={current} actions={actions} onBack={() => navigate(base)} onSeen={() => { setItems((old) => old.map((x) => (x.id === msgParam ? { ...x, seen: true } : x))); void loadFolders(); }} /> : <p class="empty">Select a message. Press ? for shortcuts.</p>}
      </section>
      {compose && <Compose mailbox={mailbox} init={compose} onClose={(sent) => { setCompose(null); if (sent) showToast({ text: 'Sent.' }); void loadFolders(); }} />}
      {toast && (
        <div class="toast" role="status">
          {toast.text} {toast.undo && <button class="link" onClick={() => void toast.undo!()}>Undo</button>}
        </div>
      )}
      {help && <Shortcuts onClose={() => setHelp(false)} />}
    </div>
  );
}

function rank(f: Folder) {
  const i = FOLDER_ORDER.indexOf(f.special_use ?? '');
  return i < 0 ? 100 : i;
}

function FolderTools({ mailboxId, folder, onChanged }: { mailboxId: string; folder?: Folder; onChanged: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const run = (p: Promise<unknown>) => p.then(() => (setError(null), onChanged()), (e: Error) => setError(e.message));
  return (
    <div class="folder-tools">
      <button class="link" onClick={() => { const name = prompt('New folder name'); if (name) run(api.post('/v1/webmail/mailboxes/{id}/folders', { path: { id: mailboxId }, body: { name } })); }}>New folder</button>
      {folder && !folder.special_use && (
        <>
          <button class="link" onClick={() => { const name = prompt('Rename folder', folder.name); if (name) run(api.patch('/v1/webmail/mailboxes/{id}/folders/{folderId}', { path: { id: mailboxId, folderId: folder.id }, body: { name } })); }}>Rename</button>
          <button class="link" onClick={() => { if (confirm(`Delete ${folder.name} and its messages?`)) run(api.delete('/v1/webmail/mailboxes/{id}/folders/{folderId}', { path: { id: mailboxId, folderId: folder.id } })); }}>Delete</button>
        </>
      )}
      {error && <p class="error" role="alert">{error}</p>}
    </div>
  );
}

interface Actions {
  move: (i: Item, to: 'trash' | 'junk' | 'archive' | 'inbox', verb: string) => Promise<void>;
  flags: (i: Item, c: { seen?: boolean; flagged?: boolean }) => Promise<void>;
  reply: (m: Message, all: boolean) => void;
  forward: (m: Message) => void;
}

function Reader({ mailbox, id, item, actions, onBack, onSeen }: { mailbox: Mailbox; id: string; item?: Item; actions: Actions; onBack: () => void; onSeen: () => void }) {
  const [msg, setMsg] = useState<Message | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [images, setImages] = useState(() => alwaysImages().has(item?.from_address ?? ''));
  const [showAuth, setShowAuth] = useState(false);
  useEffect(() => {
    api.get('/v1/webmail/mailboxes/{id}/messages/{messageId}', { path: { id: mailbox.id, messageId: id }, query: images ? { images: true } : {}, headers: readHeaders(mailbox) }).then(
      (m) => {
        setMsg(m);
        if (!m.seen) api.patch('/v1/webmail/mailboxes/{id}/messages/{messageId}', { path: { id: mailbox.id, messageId: id }, body: { seen: true } }).then(onSeen, () => {});
      },
      (e: Error) => setError(e.message),
    );
  }, [id, images]);
  if (error) return <p class="error" role="alert">This message could not be opened: {error}</p>;
  if (!msg) return <p class="loading">Opening…</p>;
  const it = (item ?? msg) as Item;
  return (
    <article class="message">
      <div class="toolbar" role="toolbar" aria-label="Message actions">
        <button class="link back" onClick={onBack}>← Back</button>
        <button id="act-reply" onClick={() => actions.reply(msg, false)}>Reply</button>
        <button id="act-reply-all" onClick={() => actions.reply(msg, true)}>Reply all</button>
        <button id="act-forward" onClick={() => actions.forward(msg)}>Forward</button>
        <button onClick={() => void actions.flags(it, { seen: false }).then(onBack)}>Mark unread</button>
        <button aria-pressed={it.flagged} onClick={() => void actions.flags(it, { flagged: !it.flagged })}>{it.flagged ? 'Unflag' : 'Flag'}</button>
        <button onClick={() => void actions.move(it, 'archive', 'Archived')}>Archive</button>
        <button onClick={() => void actions.move(it, 'junk', 'Marked as spam')}>Spam</button>
        <button id="act-delete" onClick={() => void actions.move(it, 'trash', 'Moved to Trash')}>Delete</button>
      </div>
      <h2 class="msg-subject">{msg.subject || '(no subject)'}</h2>
      <dl class="meta">
        <dt>From</dt><dd>{msg.from}</dd>
        <dt>To</dt><dd>{msg.to.join(', ')}</dd>
        {msg.cc.length > 0 && (<><dt>Cc</dt><dd>{msg.cc.join(', ')}</dd></>)}
        <dt>Date</dt><dd>{new Date(msg.date).toLocaleString()}</dd>
      </dl>
      <div class="msg-tools">
        <a href={link('/v1/webmail/mailboxes/{id}/messages/{messageId}/raw', { id: mailbox.id, messageId: id })} target="_blank" rel="noopener noreferrer">View source</a>
        <button class="link" onClick={() => setShowAuth((s) => !s)}>Authentication</button>
      </div>
      {showAuth && <pre class="auth">{JSON.stringify(msg.auth ?? 'No verdicts recorded (not received by the MX).', null, 2)}</pre>}
      {msg.remote_images_blocked > 0 && !images && (
        <p class="notice images-blocked">
          {msg.remote_images_blocked} remote image(s) blocked to protect your privacy.{' '}
          <button class="link" onClick={() => setImages(true)}>Show images</button>{' '}
          {msg.from_address && <button class="link" onClick={() => { const s = alwaysImages(); s.add(msg.from_address!); localStorage.setItem('mailstack.images', JSON.stringify([...s])); setImages(true); }}>Always for this sender</button>}
        </p>
      )}
      {msg.html_sanitized !== null ? (
        // No allow-scripts, no allow-same-origin: the message runs nothing and reaches nothing of the app.
        <iframe class="body-frame" title="Message body" sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" srcdoc={frameDoc(msg.html_sanitized)} />
      ) : (
        <pre class="body-text">{linkify(msg.text ?? '')}</pre>
      )}
      {msg.attachments.length > 0 && (
        <ul class="attachments" aria-label="Attachments">
          {msg.attachments.map((a) => (
            <li>
              <a href={link('/v1/webmail/mailboxes/{id}/messages/{messageId}/attachments/{attachmentId}', { id: mailbox.id, messageId: id, attachmentId: a.id })} download={a.filename ?? 'attachment'}>
                {a.filename ?? 'attachment'}
              </a>{' '}
              <span class="size">{formatSize(a.size)}</span>
            </li>
          ))}
        </ul>
      )}
    </article>
  );
}

function alwaysImages(): Set<string> {
  try {
    return new Set(JSON.parse(localStorage.getItem('mailstack.images') ?? '[]') as string[]);
  } catch {
    return new Set();
  }
}

function frameDoc(html: string) {
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><style>body{font:14px/1.5 system-ui,sans-serif;margin:8px;color:#111;word-wrap:break-word}img{max-width:100%;height:auto}</style></head><body>${html}</body></html>`;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"')\]]+/g;
function linkify(text: string) {
  const out: (string | preact.JSX.Element)[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    out.push(text.slice(last, m.index));
    out.push(<a href={m[0]} target="_blank" rel="noopener noreferrer">{m[0]}</a>);
    last = (m.index ?? 0) + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

function Shortcuts({ onClose }: { onClose: () => void }) {
  const rows: [string, string][] = [['j / k', 'next / previous message'], ['o, Enter', 'open'], ['u, Esc', 'back to the list'], ['r', 'reply'], ['a', 'reply all'], ['f', 'forward'], ['c', 'compose'], ['e', 'archive'], ['#', 'delete (to Trash)'], ['!', 'spam'], ['s', 'flag'], ['/', 'search'], ['?', 'this help']];
  return (
    <div class="modal" role="dialog" aria-label="Keyboard shortcuts">
      <h2>Keyboard shortcuts</h2>
      <table>{rows.map(([k, v]) => <tr><th><kbd>{k}</kbd></th><td>{v}</td></tr>)}</table>
      <button onClick={onClose}>Close</button>
    </div>
  );
}

export function displayName(from: string) {
  const m = /^\s*"?([^"<]*?)"?\s*<[^>]+>\s*$/.exec(from);
  return (m && m[1]) || from;
}
function shortDate(iso: string) {
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString();
}
export function formatSize(n: number) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

function quote(m: Message) {
  return `\n\nOn ${new Date(m.date).toUTCString()}, ${m.from} wrote:\n${(m.text ?? '').split('\n').map((l) => `> ${l}`).join('\n')}`;
}
function replyInit(m: Message, all: boolean): ComposeInit {
  const to = m.reply_to.length ? m.reply_to : [m.from];
  return { mode: 'reply', of: m.id, to: to.join(', '), cc: all ? [...m.to, ...m.cc].join(', ') : '', subject: /^re:/i.test(m.subject) ? m.subject : `Re: ${m.subject}`, text: quote(m) };
}
function forwardInit(m: Message): ComposeInit {
  return { mode: 'forward', of: m.id, to: '', subject: /^fwd?:/i.test(m.subject) ? m.subject : `Fwd: ${m.subject}`, text: '' };
}
