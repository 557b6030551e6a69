// Development mode's captured mail (GET/DELETE /v1/captured): what the node would have sent,
// with headers, text, HTML (sandboxed) and raw source.
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';

export function Captured() {
  const [list, setList] = useState<{ id: string; subject: string; to: string[]; from: string; created_at: string }[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const load = () => api.get('/v1/captured', { query: { limit: 100 } }).then((r) => setList(r.data), (e: Error) => setError(e.message));
  useEffect(() => void load(), []);
  return (
    <div class="captured panel">
      <h2>Captured mail</h2>
      <p>Development mode: outbound mail is kept here instead of being sent.</p>
      <div class="row">
        <button onClick={() => void load()}>Refresh</button>
        <button class="secondary" onClick={() => confirm('Delete all captured mail?') && api.delete('/v1/captured').then(() => (setOpen(null), void load()), (e: Error) => setError(e.message))}>Delete all</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {list && !list.length && <p class="empty">Nothing captured yet.</p>}
      <ul class="items" role="list">
        {(list ?? []).map((m) => (
          <li class={`item ${open === m.id ? 'selected' : ''}`}>
            <a href="#" onClick={(e) => (e.preventDefault(), setOpen(m.id))}>
              <span class="from">{m.to.join(', ')}</span><span class="subject">{m.subject}</span><time>{new Date(m.created_at).toLocaleString()}</time>
            </a>
          </li>
        ))}
      </ul>
      {open && <CapturedOne id={open} />}
    </div>
  );
}

function CapturedOne({ id }: { id: string }) {
  const [m, setM] = useState<Awaited<ReturnType<typeof get>> | null>(null);
  const [view, setView] = useState<'html' | 'text' | 'headers' | 'raw'>('html');
  const get = (i: string) => api.get('/v1/captured/{id}', { path: { id: i } });
  useEffect(() => void get(id).then(setM, () => setM(null)), [id]);
  if (!m) return <p class="loading">Loading…</p>;
  return (
    <article class="message">
      <h3>{m.subject}</h3>
      <p>From {m.from} to {m.to.join(', ')}</p>
      <div class="row" role="tablist">
        {(['html', 'text', 'headers', 'raw'] as const).map((v) => <button role="tab" aria-selected={view === v} onClick={() => setView(v)}>{v}</button>)}
      </div>
      {view === 'html' && (m.html ? <iframe class="body-frame" title="Captured HTML" sandbox="" srcdoc={m.html} /> : <p class="empty">No HTML part.</p>)}
      {view === 'text' && <pre class="body-text">{m.text ?? '(no text part)'}</pre>}
      {view === 'headers' && <table class="grid">{m.headers.map((h) => <tr><th>{h.name}</th><td>{h.value}</td></tr>)}</table>}
      {view === 'raw' && <pre class="body-text raw">{m.raw}</pre>}
    </article>
  );
}
