// GET /v1/deliverability: what a person needs to see of a workspace's sending health — hard-bounce
// and complaint rates over 7 and 30 days, for the workspace and each sending domain, beside the
// thresholds that pause sending (src/abuse/sending.ts), the pause state and its current window, and
// per domain the DMARC aggregate reports received for it (sources, pass/fail, volume).
//
// Implementation notes:
// - Sends are recipients that left (email_recipients in a sent state, by created_at); bounces and
//   complaints are delivery_marks (by when they were recorded). Rates are marks / sends of the same
//   window, 0 with no sends.
// - DMARC "pass" is RFC 7489's: aligned DKIM or aligned SPF passed (policy_evaluated), per record,
//   weighted by its message count; reports count by their end date within the last 30 days.
// - Every query is scoped to the caller's workspace.
import type { Core } from '../core/core.ts';
import type { Db } from '../db/database.ts';
import { abuseRow, windowRates } from '../abuse/sending.ts';
import type { DmarcRecord } from './dmarc-report.ts';

const DAY = 86_400_000;
const SENT = ['sent', 'delivered', 'delivery_delayed', 'bounced', 'complained', 'failed'] as const;

interface Rates {
  sent: number;
  hard_bounces: number;
  complaints: number;
  bounce_rate: number;
  complaint_rate: number;
}

const rate = (n: number, d: number) => (d ? Math.round((n / d) * 10000) / 10000 : 0);

async function rates(db: Db, workspaceId: string, since: number, domainId?: string): Promise<Rates> {
  let sends = db
    .selectFrom('email_recipients')
    .innerJoin('emails', 'emails.id', 'email_recipients.email_id')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('email_recipients.workspace_id', '=', workspaceId)
    .where('email_recipients.status', 'in', [...SENT])
    .where('email_recipients.created_at', '>', since);
  if (domainId) sends = sends.where('emails.domain_id', '=', domainId);
  let marks = db
    .selectFrom('delivery_marks')
    .select((eb) => [eb.fn.sum<number>('hard_bounce').as('b'), eb.fn.sum<number>('complaint').as('c')])
    .where('workspace_id', '=', workspaceId)
    .where('at', '>', since);
  if (domainId) marks = marks.where('domain_id', '=', domainId);
  const sent = Number((await sends.executeTakeFirstOrThrow()).n);
  const m = await marks.executeTakeFirstOrThrow();
  const b = Number(m.b ?? 0);
  const c = Number(m.c ?? 0);
  return { sent, hard_bounces: b, complaints: c, bounce_rate: rate(b, sent), complaint_rate: rate(c, sent) };
}

const passed = (r: DmarcRecord) => r.dkim === 'pass' || r.spf === 'pass';

async function dmarcOf(db: Db, workspaceId: string, domainId: string, since: number) {
  const rows = await db
    .selectFrom('dmarc_reports')
    .select(['org_name', 'report_id', 'begin_at', 'end_at', 'policy_json', 'records_json'])
    .where('workspace_id', '=', workspaceId)
    .where('domain_id', '=', domainId)
    .where('end_at', '>', since)
    .orderBy('end_at', 'desc')
    .limit(1000)
    .execute();
  const sources = new Map<string, { source_ip: string; messages: number; pass: number; fail: number }>();
  let messages = 0;
  let pass = 0;
  for (const row of rows) {
    for (const r of JSON.parse(row.records_json) as DmarcRecord[]) {
      const s = sources.get(r.source_ip) ?? { source_ip: r.source_ip, messages: 0, pass: 0, fail: 0 };
      s.messages += r.count;
      if (passed(r)) s.pass += r.count;
      else s.fail += r.count;
      sources.set(r.source_ip, s);
      messages += r.count;
      if (passed(r)) pass += r.count;
    }
  }
  return {
    reports: rows.length,
    messages,
    pass,
    fail: messages - pass,
    pass_rate: rate(pass, messages),
    sources: [...sources.values()].sort((a, b) => b.messages - a.messages).slice(0, 100),
    recent_reports: rows.slice(0, 10).map((r) => {
      const records = JSON.parse(r.records_json) as DmarcRecord[];
      const total = records.reduce((n, x) => n + x.count, 0);
      const ok = records.filter(passed).reduce((n, x) => n + x.count, 0);
      return { org_name: r.org_name, report_id: r.report_id, begin: new Date(Number(r.begin_at)).toISOString(), end: new Date(Number(r.end_at)).toISOString(), policy: JSON.parse(r.policy_json), messages: total, pass: ok, fail: total - ok };
    }),
  };
}

export async function deliverability(core: Core, workspaceId: string) {
  const now = core.clock.now();
  const { pauseMinSends, pauseBounceRate, pauseComplaintRate } = core.settings.abuse;
  const row = await abuseRow(core.db, workspaceId);
  const window = await windowRates(core, core.db, workspaceId);
  const domains = await core.db.selectFrom('domains').select(['id', 'name']).where('workspace_id', '=', workspaceId).orderBy('name').execute();
  return {
    object: 'deliverability' as const,
    thresholds: { bounce_rate: pauseBounceRate, complaint_rate: pauseComplaintRate, min_sends: pauseMinSends },
    sending: {
      paused: !!row?.paused_at,
      paused_reason: row?.paused_reason ?? null,
      paused_at: row?.paused_at ? new Date(Number(row.paused_at)).toISOString() : null,
      // The window the automatic pause judges: the last min_sends sends since the last resume.
      window: { sends: window.sends, bounce_rate: Math.round(window.bounceRate * 10000) / 10000, complaint_rate: Math.round(window.complaintRate * 10000) / 10000 },
    },
    last_7_days: await rates(core.db, workspaceId, now - 7 * DAY),
    last_30_days: await rates(core.db, workspaceId, now - 30 * DAY),
    domains: await Promise.all(
      domains.map(async (d) => ({
        id: d.id,
        name: d.name,
        last_7_days: await rates(core.db, workspaceId, now - 7 * DAY, d.id),
        last_30_days: await rates(core.db, workspaceId, now - 30 * DAY, d.id),
        dmarc: await dmarcOf(core.db, workspaceId, d.id, now - 30 * DAY),
      })),
    ),
  };
}
