// The shell: session, sign-in, the top bar, routes, and an error boundary so a failure shows a
// message the person can act on instead of a blank page.
import { Component, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, setCsrf, setOnSignedOut } from './api';
import { Captured } from './captured';
import { Dashboard } from './dashboard';
import { navigate, usePath } from './router';
import { Webmail } from './webmail';

export type Session = Awaited<ReturnType<typeof loadSession>>;
async function loadSession() {
  const s = await api.get('/v1/auth/session');
  setCsrf(String(s.csrf_token));
  return s as typeof s & { user: { id: string; email: string }; workspaces: { id: string; name: string; role: string }[]; workspace_id: string | null };
}

export function roleIn(s: Session): string {
  return s.workspaces.find((w) => w.id === s.workspace_id)?.role ?? 'viewer';
}

class Boundary extends Component<{ children: ComponentChildren }, { error: Error | null }> {
  state = { error: null as Error | null };
  componentDidCatch(error: Error) {
    this.setState({ error });
  }
  render() {
    if (this.state.error)
      return (
        <div class="panel error-page" role="alert">
          <h2>Something went wrong</h2>
          <p>{this.state.error.message}</p>
          <button onClick={() => location.reload()}>Reload the app</button>
        </div>
      );
    return this.props.children;
  }
}

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [fatal, setFatal] = useState<string | null>(null);
  const refresh = () =>
    loadSession()
      .then(setSession)
      .catch((e: unknown) => (e instanceof ApiError && (e.status === 401 || e.status === 403) ? setSession(null) : setFatal((e as Error).message)));
  useEffect(() => {
    setOnSignedOut(() => setSession(null));
    void refresh();
  }, []);
  if (fatal)
    return (
      <div class="panel error-page" role="alert">
        <h2>Mailstack cannot be reached</h2>
        <p>{fatal}</p>
        <button onClick={() => (setFatal(null), void refresh())}>Try again</button>
      </div>
    );
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <SignIn onIn={refresh} />;
  return (
    <Boundary>
      <Shell session={session} onOut={() => setSession(null)} onChanged={refresh} />
    </Boundary>
  );
}

function Shell({ session, onOut, onChanged }: { session: Session; onOut: () => void; onChanged: () => void }) {
  const path = usePath();
  const [dev, setDev] = useState(false);
  useEffect(() => {
    api.get('/v1/captured', { query: { limit: 1 } }).then(
      () => setDev(true),
      () => setDev(false),
    );
  }, [session.workspace_id]);
  const signOut = async () => {
    await api.post('/v1/auth/logout').catch(() => {});
    navigate('/', true);
    onOut();
  };
  const section = path.startsWith('/dashboard') ? 'dashboard' : path.startsWith('/captured') ? 'captured' : 'mail';
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="/" onClick={(e) => (e.preventDefault(), navigate('/'))}>Mailstack</a>
        <nav>
          <a href="/mail" aria-current={section === 'mail' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), navigate('/mail'))}>Mail</a>
          <a href="/dashboard" aria-current={section === 'dashboard' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), navigate('/dashboard'))}>Dashboard</a>
          {dev && <a href="/captured" aria-current={section === 'captured' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), navigate('/captured'))}>Captured mail</a>}
        </nav>
        <span class="spacer" />
        {session.workspaces.length > 1 && (
          <select aria-label="Workspace" value={session.workspace_id ?? ''} onChange={async (e) => { await api.post('/v1/auth/workspace', { body: { workspace_id: (e.target as HTMLSelectElement).value } }); onChanged(); }}>
            {session.workspaces.map((w) => <option value={w.id}>{w.name}</option>)}
          </select>
        )}
        <span class="who" title={`role: ${roleIn(session)}`}>{session.user.email}</span>
        <button class="link" onClick={signOut}>Sign out</button>
      </header>
      <main class="content">
        {section === 'mail' && <Webmail session={session} path={path} />}
        {section === 'dashboard' && <Dashboard session={session} path={path} />}
        {section === 'captured' && <Captured />}
      </main>
    </div>
  );
}

function SignIn({ onIn }: { onIn: () => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [note, setNote] = useState<{ kind: 'error' | 'info'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const linkError = new URLSearchParams(location.search).get('error');
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setNote(null);
    try {
      await api.post('/v1/auth/login', { body: { email, password } });
      onIn();
    } catch (err) {
      setNote({ kind: 'error', text: (err as Error).message });
    } finally {
      setBusy(false);
    }
  };
  const magic = async () => {
    if (!email) return setNote({ kind: 'error', text: 'Type your email address first.' });
    setBusy(true);
    try {
      const r = await api.post('/v1/auth/magic-link', { body: { email } });
      setNote({ kind: 'info', text: String((r as { message?: string }).message ?? 'A sign-in link is on its way.') });
    } catch (err) {
      setNote({ kind: 'error', text: (err as Error).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel signin" onSubmit={submit}>
      <h1>Sign in to Mailstack</h1>
      {linkError && <p class="error" role="alert">{linkError}</p>}
      <label>Email<input name="email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} /></label>
      <label>Password<input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} /></label>
      {note && <p class={note.kind} role={note.kind === 'error' ? 'alert' : 'status'}>{note.text}</p>}
      <button type="submit" disabled={busy}>Sign in</button>
      <button type="button" class="secondary" disabled={busy} onClick={magic}>Email me a sign-in link</button>
    </form>
  );
}
