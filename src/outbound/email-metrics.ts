// Resend's `emails.metrics`: counts of what happened to a workspace's mail over a period, from its
// event records (email.sent, email.delivered, …, email.received), broken down by period, sending
// domain or email, and filtered by domain, email or (Mailstack's addition) tag.
//
// Implementation notes:
// - An event counts in the period it happened in (its record's created_at), as Resend counts them.
//   Event records are purged with the workspace's retention period, so older periods read as 0.
// - Mailstack does not track opens, clicks or unsubscribes by pixel or link: those metrics are
//   present and 0. Rates are a share of `sent` (complaint_rate of `delivered`), 0 when it is 0.
// - Periods are bucketed in the asked IANA time zone with Intl (no time-zone tables of our own);
//   weeks start on Monday (ISO 8601). Scanning is bounded: a period over MAX_EVENTS events is
//   refused with a clear message rather than answered slowly or wrongly.
import type { Core } from '../core/core.ts';
import { invalid } from '../core/core.ts';

export const EMAIL_METRICS = [
  'received', 'delivered', 'complained', 'suppressed', 'bounced', 'bounced_transient', 'bounced_permanent', 'bounced_undetermined',
  'opened', 'clicked', 'unsubscribed', 'delivery_delayed', 'failed', 'sent', 'unique_opened', 'unique_clicked',
  'delivery_rate', 'open_rate', 'click_rate', 'bounce_rate', 'complaint_rate', 'unsubscribe_rate',
] as const;
export type EmailMetric = (typeof EMAIL_METRICS)[number];
export const DIMENSIONS = ['period', 'domain', 'email', 'broadcast'] as const;
export const GRANULARITIES = ['hourly', 'daily', 'weekly', 'monthly'] as const;
export const MAX_EVENTS = 200_000;
const DAY = 86_400_000;

export interface MetricsQuery {
  start_date?: string;
  end_date?: string;
  timezone?: string;
  granularity?: string;
  metrics?: string;
  dimensions?: string;
  domain_id?: string;
  email_id?: string;
  broadcast_id?: string;
  /** Mailstack: only emails with this tag (`name` or `name:value`). */
  tag?: string;
}

type Counts = Record<EmailMetric, number>;

const list = (raw: string | undefined) => (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);

function parseDate(raw: string | undefined, field: string, fallback: number, endOfDay: boolean): number {
  if (raw === undefined || raw === '') return fallback;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(raw);
  const t = Date.parse(dateOnly ? `${raw}T00:00:00Z` : raw);
  if (!Number.isFinite(t)) throw invalid(`The \`${field}\` field must be an ISO 8601 date or date-time.`);
  return dateOnly && endOfDay ? t + DAY - 1 : t;
}

function zero(): Counts {
  return Object.fromEntries(EMAIL_METRICS.map((m) => [m, 0])) as Counts;
}

function withRates(c: Counts): Counts {
  const share = (n: number, of: number) => (of === 0 ? 0 : Math.round((n / of) * 10_000) / 10_000);
  return {
    ...c,
    delivery_rate: share(c.delivered, c.sent),
    open_rate: share(c.opened, c.sent),
    click_rate: share(c.clicked, c.sent),
    bounce_rate: share(c.bounced, c.sent),
    complaint_rate: share(c.complained, c.delivered),
    unsubscribe_rate: share(c.unsubscribed, c.sent),
  };
}

/** The bucket an instant falls in, as an ISO-like label in the time zone. */
function periodOf(ms: number, granularity: string, tz: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23', weekday: 'short' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  switch (granularity) {
    case 'hourly':
      return `${date}T${parts.hour}:00:00`;
    case 'monthly':
      return `${parts.year}-${parts.month}-01`;
    case 'weekly': {
      const back = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(parts.weekday);
      return new Date(Date.parse(`${date}T00:00:00Z`) - back * DAY).toISOString().slice(0, 10);
    }
    default:
      return date;
  }
}

function tagMatches(tagsJson: string, tag: string): boolean {
  const [name, ...rest] = tag.split(':');
  const value = rest.length ? rest.join(':') : null;
  return (JSON.parse(tagsJson) as { name: string; value: string }[]).some((t) => t.name === name && (value === null || t.value === value));
}

export async function emailMetrics(core: Core, workspaceId: string, q: MetricsQuery) {
  const now = core.clock.now();
  const end = parseDate(q.end_date, 'end_date', now, true);
  const start = parseDate(q.start_date, 'start_date', end - 6 * DAY, false);
  if (start > end) throw invalid('The `start_date` must not be after `end_date`.');
  const tz = q.timezone ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    throw invalid(`The \`timezone\` field must be an IANA time zone such as UTC or Europe/Paris, got ${JSON.stringify(tz.slice(0, 64))}.`);
  }
  const granularity = q.granularity ?? 'daily';
  if (!(GRANULARITIES as readonly string[]).includes(granularity)) throw invalid(`The \`granularity\` field must be one of ${GRANULARITIES.join(', ')}.`);
  const metrics = list(q.metrics).length ? list(q.metrics) : [...EMAIL_METRICS];
  for (const m of metrics) if (!(EMAIL_METRICS as readonly string[]).includes(m)) throw invalid(`Unknown metric ${JSON.stringify(m.slice(0, 64))}: use ${EMAIL_METRICS.join(', ')}.`);
  const dimensions = list(q.dimensions);
  for (const d of dimensions) if (!(DIMENSIONS as readonly string[]).includes(d)) throw invalid(`Unknown dimension ${JSON.stringify(d.slice(0, 64))}: use ${DIMENSIONS.join(', ')}.`);
  if (dimensions.includes('broadcast') && (dimensions.includes('email') || list(q.email_id).length)) throw invalid('The `broadcast` dimension cannot be combined with `email` or `email_id`.');
  const domainIds = new Set(list(q.domain_id));
  const emailIds = new Set(list(q.email_id));
  // Broadcasts are sent as emails of their own; until they carry a broadcast id, none matches.
  const broadcastIds = list(q.broadcast_id);

  const rows = await core.db
    .selectFrom('event_records')
    .select(['type', 'payload', 'created_at'])
    .where('workspace_id', '=', workspaceId)
    .where('type', 'like', 'email.%')
    .where('created_at', '>=', start)
    .where('created_at', '<=', end)
    .limit(MAX_EVENTS + 1)
    .execute();
  if (rows.length > MAX_EVENTS) throw invalid(`The period holds more than ${MAX_EVENTS} events: ask for a shorter one.`);

  const events = rows.map((r) => ({ type: r.type, at: r.created_at, data: (JSON.parse(r.payload) as { data?: Record<string, any> }).data ?? {} }));
  const ids = [...new Set(events.map((e) => e.data.email_id).filter((x): x is string => typeof x === 'string'))];
  const emails = new Map<string, { domain_id: string | null; tags_json: string }>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = await core.db.selectFrom('emails').select(['id', 'domain_id', 'tags_json']).where('workspace_id', '=', workspaceId).where('id', 'in', ids.slice(i, i + 500)).execute();
    for (const e of chunk) emails.set(e.id, e);
  }
  const domains = new Map((await core.db.selectFrom('domains').select(['id', 'name']).where('workspace_id', '=', workspaceId).execute()).map((d) => [d.id, d.name]));

  const totals = zero();
  const buckets = new Map<string, { key: Record<string, string>; counts: Counts }>();
  for (const e of events) {
    const emailId: string | undefined = e.data.email_id;
    const email = emailId ? emails.get(emailId) : undefined;
    const received = e.type === 'email.received';
    if (broadcastIds.length) continue;
    if (emailIds.size && (!emailId || !emailIds.has(emailId))) continue;
    if (domainIds.size && (!email?.domain_id || !domainIds.has(email.domain_id))) continue;
    if (q.tag && (!email || !tagMatches(email.tags_json, q.tag))) continue;
    const hits: EmailMetric[] = [];
    switch (e.type) {
      case 'email.sent': hits.push('sent'); break;
      case 'email.delivered': hits.push('delivered'); break;
      case 'email.delivery_delayed': hits.push('delivery_delayed'); break;
      case 'email.complained': hits.push('complained'); break;
      case 'email.suppressed': hits.push('suppressed'); break;
      case 'email.failed': hits.push('failed'); break;
      case 'email.bounced': {
        const type = String(e.data.bounce?.type ?? '');
        hits.push('bounced', type === 'Permanent' ? 'bounced_permanent' : type === 'Transient' ? 'bounced_transient' : 'bounced_undetermined');
        break;
      }
      default:
        if (received) hits.push('received');
    }
    if (!hits.length) continue;
    const key: Record<string, string> = {};
    if (dimensions.includes('period')) key.period = periodOf(e.at, granularity, tz);
    if (dimensions.includes('domain')) {
      key.domain_id = email?.domain_id ?? '';
      key.domain_name = email?.domain_id ? (domains.get(email.domain_id) ?? '') : '';
    }
    if (dimensions.includes('email')) key.email_id = emailId ?? '';
    const k = JSON.stringify(key);
    let b = buckets.get(k);
    if (!b) buckets.set(k, (b = { key, counts: zero() }));
    for (const h of hits) {
      totals[h]++;
      b.counts[h]++;
    }
  }
  const pick = (c: Counts) => Object.fromEntries(metrics.map((m) => [m, withRates(c)[m as EmailMetric]]));
  return {
    object: 'metrics' as const,
    start_date: new Date(start).toISOString(),
    end_date: new Date(end).toISOString(),
    metrics,
    dimensions,
    granularity,
    totals: pick(totals),
    ...(dimensions.length
      ? { data: [...buckets.values()].sort((a, b) => JSON.stringify(a.key).localeCompare(JSON.stringify(b.key))).map((b) => ({ ...b.key, ...pick(b.counts) })) }
      : {}),
  };
}
