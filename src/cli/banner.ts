// The start-up banner a person sees on a terminal: what runs where, and what to do next. Pure text
// from what the node knows after it started; `serve.ts` prints it only in the pretty log format.
import path from 'node:path';
import type { Settings } from '../config/settings.ts';

export interface BannerInput {
  version: string;
  settings: Settings;
  httpPort: number | null;
  /** Where the mail doors' certificate comes from. */
  tls: { source: 'configured' | 'self-signed'; certFile: string };
  /** True when GET / answers the web app (HTML). */
  webApp: boolean;
  /** Where /metrics is served and how it is guarded. */
  metrics: string | null;
  warnings: string[];
  /** Lines for the "next" part (a command to run, or development mode's key and links). */
  next: string[];
}

/** The URL a person on this machine opens: loopback when the node listens on every address. */
export function localUrl(settings: Settings, port: number): string {
  const host = ['0.0.0.0', '::', ''].includes(settings.listenAddress) ? 'localhost' : settings.listenAddress.includes(':') ? `[${settings.listenAddress}]` : settings.listenAddress;
  return `http://${host}:${port}`;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

export function formatBanner(b: BannerInput): string {
  const s = b.settings;
  const rel = (p: string) => (path.relative(process.cwd(), p).startsWith('..') ? p : `./${path.relative(process.cwd(), p) || '.'}`);
  const cert = b.tls.source === 'configured' ? `certificate ${b.tls.certFile}` : `self-signed certificate (${rel(b.tls.certFile)})`;
  const door = (plain: [number, string], secure?: [number, string]) => {
    const parts = [plain, ...(secure ? [secure] : [])].filter(([port]) => port !== 0).map(([port, how]) => `${String(port).padEnd(5)} ${how}`);
    return parts.length ? parts.join('   ') : 'off';
  };
  const rows: [string, string][] = [
    ['mode', s.mode === 'development' ? 'development (mail is captured, never sent; domains verify without DNS)' : 'production'],
    ['data folder', rel(s.dataDir)],
    ['store', s.store === 'sqlite' ? `SQLite ${rel(s.databaseUrl.replace(/^sqlite:/, ''))}` : `PostgreSQL ${redact(s.databaseUrl)}`],
  ];
  if (b.httpPort !== null) {
    const base = localUrl(s, b.httpPort);
    rows.push(['HTTP', `${String(b.httpPort).padEnd(5)} no TLS on this door (put a TLS proxy in front of it on the internet)`]);
    rows.push(['API', `${base}/v1`]);
    rows.push(['API docs', `${base}/docs`]);
    rows.push(['web app', b.webApp ? `${base}/` : 'not part of this build yet']);
  } else {
    rows.push(['HTTP', 'off (MAILSTACK_HTTP_PORT=0)']);
  }
  rows.push(
    ['MX (SMTP)', door([s.smtpPort, `STARTTLS, ${cert}`])],
    ['submission', door([s.submissionPort, 'STARTTLS'], [s.submissionsPort, 'TLS'])],
    ['IMAP', door([s.imapPort, 'STARTTLS'], [s.imapsPort, 'TLS'])],
    ['POP3', door([s.pop3Port, 'STLS'], [s.pop3sPort, 'TLS'])],
  );
  if (b.metrics) rows.push(['metrics', b.metrics]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const lines = [`Mailstack ${b.version} on ${s.hostname}`, '', ...rows.map(([k, v]) => `  ${k.padEnd(width)}${v}`)];
  for (const w of b.warnings) lines.push('', `  warning: ${w}`);
  if (b.next.length) lines.push('', ...b.next.map((l) => `  ${l}`));
  lines.push('', '  Stop with Ctrl-C.', '');
  return lines.join('\n');
}
