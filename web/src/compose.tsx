// Compose, reply and forward: the draft is saved to the inbox's Drafts folder as you type (the
// same folder IMAP shows), and sending goes through the submission path (a copy in Sent).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { formatSize } from './webmail';

export interface ComposeInit {
  mode: 'new' | 'reply' | 'forward';
  /** The message replied to or forwarded. */
  of?: string;
  to?: string;
  cc?: string;
  subject?: string;
  text?: string;
}

interface Mailbox { id: string; email_address: string }
interface File64 { filename: string; content: string; content_type: string; size: number }

const list = (s: string) => s.split(/[,;]\s*/).map((x) => x.trim()).filter(Boolean);

export function Compose({ mailbox, init, onClose }: { mailbox: Mailbox; init: ComposeInit; onClose: (sent: boolean) => void }) {
  const [to, setTo] = useState(init.to ?? '');
  const [cc, setCc] = useState(init.cc ?? '');
  const [bcc, setBcc] = useState('');
  const [subject, setSubject] = useState(init.subject ?? '');
  const [text, setText] = useState(init.text ?? '');
  const [files, setFiles] = useState<File64[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const draftId = useRef<string | null>(null);
  const dirty = useRef(false);
  const saving = useRef<Promise<unknown> | null>(null);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const draftBody = () => ({ to: list(to), cc: list(cc), bcc: list(bcc), subject, text });
  const saveDraft = async () => {
    if (!dirty.current) return;
    dirty.current = false;
    const work = (async () => {
      try {
        if (draftId.current) await api.patch('/v1/inboxes/{id}/drafts/{draftId}', { path: { id: mailbox.id, draftId: draftId.current }, body: draftBody() as any });
        else draftId.current = String((await api.post('/v1/inboxes/{id}/drafts', { path: { id: mailbox.id }, body: draftBody() as any }) as { id: string }).id);
        setStatus(`Draft saved ${new Date().toLocaleTimeString()}`);
      } catch (e) {
        setStatus(`Draft not saved: ${(e as Error).message}`);
      }
    })();
    saving.current = work;
    await work;
  };
  // Saved about a second after typing stops.
  useEffect(() => {
    const t = setTimeout(() => void saveDraft(), 800);
    return () => clearTimeout(t);
  }, [to, cc, bcc, subject, text]);
  const edit = (set: (v: string) => void) => (e: Event) => {
    dirty.current = true;
    set((e.target as HTMLInputElement).value);
  };

  const addFiles = async (list: FileList | null) => {
    for (const f of Array.from(list ?? [])) {
      const buf = new Uint8Array(await f.arrayBuffer());
      let bin = '';
      for (let i = 0; i < buf.length; i += 0x8000) bin += String.fromCharCode(...buf.subarray(i, i + 0x8000));
      setFiles((old) => [...old, { filename: f.name, content: btoa(bin), content_type: f.type || 'application/octet-stream', size: f.size }]);
    }
  };

  const send = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await saving.current;
      await api.post('/v1/webmail/mailboxes/{id}/send', {
        path: { id: mailbox.id },
        body: {
          to: list(to),
          ...(list(cc).length ? { cc: list(cc) } : {}),
          ...(list(bcc).length ? { bcc: list(bcc) } : {}),
          subject,
          text,
          ...(files.length ? { attachments: files.map((f) => ({ filename: f.filename, content: f.content })) } : {}),
          ...(init.mode === 'reply' && init.of ? { reply_to_message_id: init.of } : {}),
          ...(init.mode === 'forward' && init.of ? { forward_of_message_id: init.of } : {}),
          ...(draftId.current ? { draft_id: draftId.current } : {}),
        },
      });
      onClose(true);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const discard = async () => {
    await saving.current;
    if (draftId.current) await api.delete('/v1/inboxes/{id}/drafts/{draftId}', { path: { id: mailbox.id, draftId: draftId.current } }).catch(() => {});
    onClose(false);
  };

  return (
    <form class="modal compose" role="dialog" aria-label={init.mode === 'new' ? 'New message' : init.mode === 'reply' ? 'Reply' : 'Forward'} onSubmit={send}
      onDragOver={(e) => e.preventDefault()} onDrop={(e) => { e.preventDefault(); void addFiles(e.dataTransfer?.files ?? null); }}
      onKeyDown={(e) => { if (e.key === 'Escape') void saveDraft().then(() => onClose(false)); }}>
      <h2>{init.mode === 'new' ? 'New message' : init.mode === 'reply' ? 'Reply' : 'Forward'}</h2>
      <label>From<input value={mailbox.email_address} disabled /></label>
      <label>To<input ref={first} name="to" value={to} onInput={edit(setTo)} placeholder="name@example.com, …" /></label>
      <label>Cc<input name="cc" value={cc} onInput={edit(setCc)} /></label>
      <label>Bcc<input name="bcc" value={bcc} onInput={edit(setBcc)} /></label>
      <label>Subject<input name="subject" value={subject} onInput={edit(setSubject)} /></label>
      <textarea name="body" aria-label="Message" rows={12} value={text} onInput={edit(setText)} />
      <label class="attach">Attach files<input type="file" multiple onChange={(e) => void addFiles((e.target as HTMLInputElement).files)} /></label>
      {files.length > 0 && <ul class="attachments">{files.map((f, i) => <li>{f.filename} <span class="size">{formatSize(f.size)}</span> <button type="button" class="link" onClick={() => setFiles((o) => o.filter((_, j) => j !== i))}>remove</button></li>)}</ul>}
      {error && <p class="error" role="alert">{error}</p>}
      <p class="status" aria-live="polite">{status}</p>
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>Send</button>
        <button type="button" class="secondary" onClick={() => void saveDraft().then(() => onClose(false))}>Save and close</button>
        <button type="button" class="link" onClick={() => void discard()}>Discard</button>
      </div>
    </form>
  );
}
