// The dashboard: overview chart, domains with their DNS records, API keys, the sending log,
// members. What a role may not do is not offered (the server refuses it too).
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { type Session, roleIn } from './app';
import { navigate } from './router';

const TABS = [['overview', 'Overview'], ['domains', 'Domains'], ['api-keys', 'API keys'], ['emails', 'Emails'], ['members', 'Members'], ['sessions', 'Your sessions']] as const;
const MANAGE_KEYS = ['owner', 'admin', 'developer'];
const MANAGE_DOMAINS = ['owner', 'admin', 'developer'];
const MANAGE_MEMBERS = ['owner', 'admin'];

export function Dashboard({ session, path }: { session: Session; path: string }) {
  const tab = path.split('/')[2] || 'overview';
  const role = roleIn(session);
  return (
    <div class="dashboard">
      <nav class="tabs" aria-label="Dashboard">
        {TABS.map(([id, label]) => <a href={`/dashboard/${id}`} aria-current={tab === id ? 'page' : undefined} onClick={(e) => (e.preventDefault(), navigate(`/dashboard/${id}`))}>{label}</a>)}
      </nav>
      <div class="panel">
        {tab === 'overview' && <Overview />}
        {tab === 'domains' && <Domains canManage={MANAGE_DOMAINS.includes(role)} />}
        {tab === 'api-keys' && <ApiKeys canManage={MANAGE_KEYS.includes(role)} />}
        {tab === 'emails' && <Emails />}
        {tab === 'members' && <Members canManage={MANAGE_MEMBERS.includes(role)} />}
        {tab === 'sessions' && <Sessions />}
      </div>
    </div>
  );
}

function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = () => load().then((d) => (setData(d), setError(null)), (e: Error) => setError(e.message));
  useEffect(() => void reload(), deps);
  return { data, error, reload };
}

const SERIES = [['sent', '#3b6fd8'], ['delivered', '#2f9e57'], ['bounced', '#d9822b'], ['complained', '#c0392b']] as const;

function Overview() {
  const [days, setDays] = useState(7);
  const { data, error } = useLoad(() => {
    const end = new Date();
    const start = new Date(end.getTime() - days * 86_400_000);
    return api.get('/v1/emails/metrics', { query: { start_date: start.toISOString(), end_date: end.toISOString(), granularity: 'daily', metrics: 'sent,delivered,bounced,complained,received', dimensions: 'period' } });
  }, [days]);
  const rows = (data?.data ?? []) as Record<string, number | string | undefined>[];
  const max = Math.max(1, ...rows.flatMap((r) => SERIES.map(([k]) => Number(r[k] ?? 0))));
  const W = 640, H = 180, band = rows.length ? W / rows.length : W, bar = Math.max(2, band / (SERIES.length + 1));
  return (
    <section>
      <h2>Overview</h2>
      <div class="row">
        <button aria-pressed={days === 7} onClick={() => setDays(7)}>7 days</button>
        <button aria-pressed={days === 30} onClick={() => setDays(30)}>30 days</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {data && (
        <>
          <ul class="totals">
            {[...SERIES.map(([k]) => k), 'received'].map((k) => <li><strong>{Number((data.totals as Record<string, number | undefined>)[k] ?? 0)}</strong> {k}</li>)}
          </ul>
          <svg class="chart" viewBox={`0 0 ${W} ${H + 20}`} role="img" aria-label={`Messages per day over ${days} days`}>
            {rows.map((r, i) =>
              SERIES.map(([k, color], j) => {
                const h = (Number(r[k] ?? 0) / max) * H;
                return <rect x={i * band + j * bar + bar / 2} y={H - h} width={bar - 1} height={h} fill={color}><title>{`${String(r.period ?? '').slice(0, 10)} ${k}: ${r[k] ?? 0}`}</title></rect>;
              }),
            )}
            <line x1="0" y1={H} x2={W} y2={H} stroke="#999" />
          </svg>
          <p class="legend">{SERIES.map(([k, c]) => <span><i style={`background:${c}`} /> {k}</span>)}</p>
        </>
      )}
    </section>
  );
}

function Copy({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  return <button class="link copy" onClick={() => navigator.clipboard?.writeText(text).then(() => setDone(true), () => {})}>{done ? 'Copied' : 'Copy'}</button>;
}

function Domains({ canManage }: { canManage: boolean }) {
  const { data, error, reload } = useLoad(() => api.get('/v1/domains'));
  const [name, setName] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const add = async (e: Event) => {
    e.preventDefault();
    try {
      const d = await api.post('/v1/domains', { body: { name } as any });
      setName('');
      setOpen(String((d as { id: string }).id));
      void reload();
    } catch (err) {
      setNote((err as Error).message);
    }
  };
  return (
    <section>
      <h2>Domains</h2>
      {canManage && (
        <form class="row" onSubmit={add}>
          <input name="domain" placeholder="example.com" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required />
          <button type="submit">Add domain</button>
        </form>
      )}
      {(error || note) && <p class="error" role="alert">{error ?? note}</p>}
      <table class="grid">
        <thead><tr><th>Domain</th><th>Status</th><th /></tr></thead>
        <tbody>
          {((data?.data ?? []) as { id: string; name: string; status: string }[]).map((d) => (
            <tr data-domain={d.name}>
              <td><button class="link" onClick={() => setOpen(open === d.id ? null : d.id)}>{d.name}</button></td>
              <td><span class={`status ${d.status}`}>{d.status}</span></td>
              <td>{canManage && <button class="link" onClick={() => confirm(`Remove ${d.name}?`) && api.delete('/v1/domains/{id}', { path: { id: d.id } }).then(reload, (e: Error) => setNote(e.message))}>Remove</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {open && <DomainRecords id={open} canManage={canManage} onChanged={reload} />}
    </section>
  );
}

function DomainRecords({ id, canManage, onChanged }: { id: string; canManage: boolean; onChanged: () => void }) {
  const { data, error, reload } = useLoad(() => api.get('/v1/domains/{id}', { path: { id } }), [id]);
  const [note, setNote] = useState<string | null>(null);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!data) return <p class="loading">Loading records…</p>;
  const records = data.records as { record: string; name: string; type: string; value: string; status: string; priority?: number }[];
  return (
    <div class="records">
      <h3>DNS records for {String(data.name)}</h3>
      <p>Publish these records at your DNS provider, then verify.</p>
      <table class="grid">
        <thead><tr><th>Purpose</th><th>Type</th><th>Name</th><th>Value</th><th>Status</th></tr></thead>
        <tbody>
          {records.map((r) => (
            <tr>
              <td>{r.record}</td><td>{r.type}</td>
              <td><code>{r.name}</code> <Copy text={r.name} /></td>
              <td class="value"><code>{r.priority !== undefined ? `${r.priority} ` : ''}{r.value}</code> <Copy text={r.value} /></td>
              <td><span class={`status ${r.status}`}>{r.status}</span></td>
            </tr>
          ))}
        </tbody>
      </table>
      {canManage && <button onClick={() => api.post('/v1/domains/{id}/verify', { path: { id } }).then(() => (setNote('Verification started; statuses update as the records are found.'), void reload(), onChanged()), (e: Error) => setNote(e.message))}>Verify</button>}
      {note && <p class="info" role="status">{note}</p>}
    </div>
  );
}

function ApiKeys({ canManage }: { canManage: boolean }) {
  const { data, error, reload } = useLoad(() => api.get('/v1/api-keys'));
  const [name, setName] = useState('');
  const [permission, setPermission] = useState<'full_access' | 'sending_access'>('sending_access');
  const [token, setToken] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await api.post('/v1/api-keys', { body: { name, permission } });
      setToken(r.token);
      setName('');
      void reload();
    } catch (err) {
      setNote((err as Error).message);
    }
  };
  return (
    <section>
      <h2>API keys</h2>
      {canManage && (
        <form class="row" onSubmit={create}>
          <input name="key-name" placeholder="Key name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} required maxLength={50} />
          <select aria-label="Permission" value={permission} onChange={(e) => setPermission((e.target as HTMLSelectElement).value as typeof permission)}>
            <option value="sending_access">Sending access</option>
            <option value="full_access">Full access</option>
          </select>
          <button type="submit">Create key</button>
        </form>
      )}
      {token && <p class="notice new-key">Your new key (shown only now): <code>{token}</code> <Copy text={token} /></p>}
      {(error || note) && <p class="error" role="alert">{error ?? note}</p>}
      <table class="grid">
        <thead><tr><th>Name</th><th>Permission</th><th>Created</th><th>Last used</th><th /></tr></thead>
        <tbody>
          {((data?.data ?? []) as { id: string; name: string; permission?: string; created_at: string; last_used_at?: string | null }[]).map((k) => (
            <tr data-key={k.name}>
              <td>{k.name}</td><td>{k.permission ?? ''}</td><td>{new Date(k.created_at).toLocaleString()}</td><td>{k.last_used_at ? new Date(k.last_used_at).toLocaleString() : 'never'}</td>
              <td>{canManage && <button class="link" onClick={() => confirm(`Revoke ${k.name}?`) && api.delete('/v1/api-keys/{api_key_id}' as any, { path: { api_key_id: k.id } } as any).then(reload, (e: Error) => setNote(e.message))}>Revoke</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Emails() {
  const { data, error } = useLoad(() => api.get('/v1/emails', { query: { limit: 100 } as any }));
  const [filter, setFilter] = useState('');
  const rows = ((data?.data ?? []) as { id: string; to: string[]; subject: string; last_event: string; created_at: string; from: string }[]).filter(
    (e) => !filter || `${e.to.join(' ')} ${e.subject} ${e.last_event} ${e.from}`.toLowerCase().includes(filter.toLowerCase()),
  );
  return (
    <section>
      <h2>Emails</h2>
      <input type="search" aria-label="Filter emails" placeholder="Filter by recipient, subject or status" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
      {error && <p class="error" role="alert">{error}</p>}
      <table class="grid">
        <thead><tr><th>To</th><th>Subject</th><th>Status</th><th>Sent</th></tr></thead>
        <tbody>{rows.map((e) => <tr><td>{e.to.join(', ')}</td><td>{e.subject}</td><td><span class={`status ${e.last_event}`}>{e.last_event}</span></td><td>{new Date(e.created_at).toLocaleString()}</td></tr>)}</tbody>
      </table>
    </section>
  );
}

function Members({ canManage }: { canManage: boolean }) {
  const { data, error, reload } = useLoad(() => api.get('/v1/members'));
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<'viewer' | 'developer' | 'admin'>('viewer');
  const [note, setNote] = useState<string | null>(null);
  return (
    <section>
      <h2>Members</h2>
      {canManage && (
        <form class="row" onSubmit={(e) => { e.preventDefault(); api.post('/v1/members', { body: { email, role } }).then(() => (setEmail(''), void reload()), (err: Error) => setNote(err.message)); }}>
          <input type="email" name="member-email" placeholder="person@example.com" value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} required />
          <select aria-label="Role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as typeof role)}>
            <option value="viewer">Viewer</option><option value="developer">Developer</option><option value="admin">Admin</option>
          </select>
          <button type="submit">Invite</button>
        </form>
      )}
      {(error || note) && <p class="error" role="alert">{error ?? note}</p>}
      <table class="grid">
        <thead><tr><th>Email</th><th>Role</th></tr></thead>
        <tbody>{((data?.data ?? []) as { id: string; email: string; role: string }[]).map((m) => <tr><td>{m.email}</td><td>{m.role}</td></tr>)}</tbody>
      </table>
    </section>
  );
}

function Sessions() {
  const { data, error, reload } = useLoad(() => api.get('/v1/auth/sessions'));
  const [note, setNote] = useState<string | null>(null);
  const rows = (data?.data ?? []) as { id: string; ip: string | null; user_agent: string | null; current: boolean; created_at: string; last_seen_at: string }[];
  return (
    <section>
      <h2>Your sessions</h2>
      {(error || note) && <p class="error" role="alert">{error ?? note}</p>}
      <table class="grid">
        <thead><tr><th>Browser</th><th>IP</th><th>Signed in</th><th>Last seen</th><th /></tr></thead>
        <tbody>
          {rows.map((r) => (
            <tr data-session={r.id}>
              <td>{r.user_agent ?? 'unknown'}{r.current ? ' (this one)' : ''}</td><td>{r.ip ?? ''}</td>
              <td>{new Date(r.created_at).toLocaleString()}</td><td>{new Date(r.last_seen_at).toLocaleString()}</td>
              <td>{!r.current && <button class="link" onClick={() => api.delete('/v1/auth/sessions/{id}', { path: { id: r.id } }).then(reload, (e: Error) => setNote(e.message))}>Revoke</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
