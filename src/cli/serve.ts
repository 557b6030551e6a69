// Running a node from the command line (`mailstack start`, `mailstack dev`): the log format, the
// start-up banner on a terminal, clear one-line failures, and a clean stop on SIGINT/SIGTERM.
//
// Log format (MAILSTACK_LOG_FORMAT): `json` writes one JSON object a line (for log shippers);
// `pretty` prints the banner and readable log lines; `auto` (unset) is pretty when stdout is a
// terminal and JSON otherwise, so `npm start` greets a person and a service manager gets JSON.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Settings } from '../config/settings.ts';
import { hostnameWarning } from '../config/hostname-check.ts';
import { type Platform, createLogger, startPlatform } from '../platform.ts';
import { loadTlsMaterial } from '../tls/certificate.ts';
import { formatBanner, localUrl } from './banner.ts';
import { readyWorkspace } from './dev-workspace.ts';

export const VERSION: string = JSON.parse(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8')).version;

export function logFormatOf(settings: Settings): 'pretty' | 'json' {
  if (settings.logFormat !== 'auto') return settings.logFormat;
  return process.stdout.isTTY ? 'pretty' : 'json';
}

/** Turns "port in use / permission denied" into one line naming the setting to change. */
function portError(s: Settings, err: unknown): Error {
  const e = err as NodeJS.ErrnoException & { port?: number };
  if (e?.code !== 'EADDRINUSE' && e?.code !== 'EACCES') return err as Error;
  const doors: [string, number][] = [
    ['MAILSTACK_HTTP_PORT', s.httpPort],
    ['MAILSTACK_SMTP_PORT', s.smtpPort],
    ['MAILSTACK_SUBMISSION_PORT', s.submissionPort],
    ['MAILSTACK_SUBMISSIONS_PORT', s.submissionsPort],
    ['MAILSTACK_IMAP_PORT', s.imapPort],
    ['MAILSTACK_IMAPS_PORT', s.imapsPort],
    ['MAILSTACK_POP3_PORT', s.pop3Port],
    ['MAILSTACK_POP3S_PORT', s.pop3sPort],
    ['MAILSTACK_METRICS_ADDRESS', s.metricsAddress?.port ?? -1],
  ];
  const [name, port] = doors.find(([, p]) => p === e.port) ?? ['the port setting', e.port ?? 0];
  const why = e.code === 'EADDRINUSE' ? 'already in use' : 'permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE';
  return new Error(`cannot listen on port ${port} for ${name} (${why}); set ${name} to another port, or 0 to turn that door off`);
}

async function servesWebApp(platform: Platform): Promise<boolean> {
  if (!platform.http) return false;
  const r = await platform.http.inject({ method: 'GET', url: '/' });
  return r.statusCode === 200 && String(r.headers['content-type'] ?? '').startsWith('text/html');
}

function metricsLine(s: Settings, httpPort: number | null): string | null {
  if (s.metricsAddress) return `http://${s.metricsAddress.host}:${s.metricsAddress.port}/metrics (its own listener${s.metricsToken ? ', bearer MAILSTACK_METRICS_TOKEN' : ''})`;
  if (httpPort === null) return null;
  return `${localUrl(s, httpPort)}/metrics ${s.metricsToken ? '(bearer MAILSTACK_METRICS_TOKEN)' : '(open: set MAILSTACK_METRICS_TOKEN or MAILSTACK_METRICS_ADDRESS)'}`;
}

/** Starts a node and keeps it running until SIGINT or SIGTERM. */
export async function serve(settings: Settings): Promise<void> {
  const format = logFormatOf(settings);
  const log = createLogger(settings, format);
  let platform: Platform;
  try {
    platform = await startPlatform(settings, { log });
  } catch (err) {
    throw portError(settings, err);
  }
  const warning = hostnameWarning(settings);
  const next: string[] = [];
  if (settings.mode === 'development') {
    const ready = await readyWorkspace(platform.core);
    const base = platform.httpPort !== null ? localUrl(settings, platform.httpPort) : settings.publicUrl;
    // Off a terminal, one JSON line carries what the banner shows (scripts read the key from it).
    if (format === 'json') log.info({ workspaceId: ready.workspaceId, email: ready.email, apiKey: ready.apiKey, signInLink: ready.signInLink, url: base }, 'development workspace ready');
    next.push(
      `workspace    ${ready.email}, workspace "Development" (ready)`,
      `API key      ${ready.apiKey}`,
      `sign in      ${ready.signInLink}   (valid 15 minutes, once)`,
      `captured     ${base}/v1/captured   (every message the node would have sent)`,
      '',
      `next: send your first email (README, "Send your first email in two minutes"):`,
      `      MAILSTACK_API_KEY=${ready.apiKey} node first-email.mjs`,
    );
  } else {
    const anyUser = await platform.core.db.selectFrom('users').select('id').limit(1).executeTakeFirst();
    next.push(
      anyUser
        ? 'next: send with the SDK or the SMTP relay (README, "Quick start"); `npx mailstack --help` lists the admin commands'
        : 'next: npx mailstack setup --email you@example.com --workspace "My team" --password \'a long password\'',
    );
  }
  if (format === 'pretty') {
    const tls = loadTlsMaterial(settings);
    process.stdout.write(
      formatBanner({
        version: VERSION,
        settings,
        httpPort: platform.httpPort,
        tls,
        webApp: await servesWebApp(platform),
        metrics: metricsLine(settings, platform.httpPort),
        warnings: warning ? [warning] : [],
        next,
      }) + '\n',
    );
  } else if (warning) {
    log.warn({ setting: 'MAILSTACK_HOSTNAME', hostname: settings.hostname }, warning);
  }

  // The doors keep the process alive, but a node with every door disabled (a worker-only node)
  // must stay up too: its timers are unref'd.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const shutdown = (signal: string) => {
    clearInterval(keepAlive);
    log.info({ signal }, 'shutting down');
    platform.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
