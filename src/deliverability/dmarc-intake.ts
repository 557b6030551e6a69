// DMARC aggregate reports received by mail: `dmarc@<return-path host>` of an owned domain (the
// `rua` of the DMARC record Mailstack suggests, src/domains/records.ts) takes them; the router
// (src/inbound/route.ts) hands the message here after DATA.
//
// Implementation notes:
// - The report's policy_published/domain must be the domain of that return-path host or one of
//   its subdomains: a report about anyone else's domain is refused, so one workspace's address
//   cannot fill another's reports.
// - One message may carry several reports; each is stored once (dmarc_reports is unique on
//   domain, org_name, report_id), so a resent report changes nothing.
// - A message without any readable report is refused with the parser's reason (554 5.6.0), so a
//   reporter or an operator running swaks sees why; nothing is stored then.
import type { Core } from '../core/core.ts';
import { newId } from '../core/ids.ts';
import type { DmarcTarget } from '../inbound/types.ts';
import { parseMessage } from '../mailstore/parse.ts';
import { DmarcReportError, type DmarcReport, reportFromAttachment } from './dmarc-report.ts';

export const DMARC_LOCAL_PART = 'dmarc';


export async function takeDmarcReports(core: Core, raw: Buffer, targets: DmarcTarget[]): Promise<{ code: number; enhanced: string; reply: string }> {
  let parsed;
  try {
    parsed = await parseMessage(raw);
  } catch (err) {
    return { code: 554, enhanced: '5.6.0', reply: `DMARC report refused: the message cannot be read (${(err as Error).message})`.slice(0, 400) };
  }
  const reports: DmarcReport[] = [];
  let lastError: string | null = null;
  for (const a of parsed.attachments) {
    try {
      reports.push(reportFromAttachment(a.content));
    } catch (err) {
      if (!(err instanceof DmarcReportError)) throw err;
      lastError = err.message;
    }
  }
  if (!reports.length) return { code: 554, enhanced: '5.6.0', reply: lastError ?? 'DMARC report refused: the message has no attachment (RFC 7489 §7.2.1.1 sends the report as one)' };
  const domains = targets.flatMap((t) => t.domains);
  let stored = 0;
  for (const r of reports) {
    const d = domains.find((x) => r.policy.domain === x.name || r.policy.domain.endsWith(`.${x.name}`));
    if (!d) return { code: 550, enhanced: '5.7.1', reply: `DMARC report refused: it is about ${r.policy.domain.slice(0, 100)}, which does not report to this address` };
    const res = await core.db
      .insertInto('dmarc_reports')
      .values({ id: newId(core.clock.now()), workspace_id: d.workspace_id, domain_id: d.id, org_name: r.orgName, report_id: r.reportId, begin_at: r.beginAt, end_at: r.endAt, policy_json: JSON.stringify(r.policy), records_json: JSON.stringify(r.records), created_at: core.clock.now() })
      .onConflict((oc) => oc.columns(['domain_id', 'org_name', 'report_id']).doNothing())
      .executeTakeFirst();
    stored += Number(res.numInsertedOrUpdatedRows ?? 0);
  }
  return { code: 250, enhanced: '2.0.0', reply: `OK: ${reports.length} DMARC report${reports.length > 1 ? 's' : ''} received (${stored} new)` };
}
