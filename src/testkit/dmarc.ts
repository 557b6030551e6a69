// A DMARC aggregate report (RFC 7489 Appendix C) in the shape Google sends, for the parser and MX tests.
/** The report XML about `domain`, with one record per source. */
export function reportXml(domain: string, reportId: string, records: { ip: string; count: number; dkim: string; spf: string }[]): string {
  return `<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>${reportId}</report_id>
    <date_range><begin>${Math.floor(Date.now() / 1000) - 86400}</begin><end>${Math.floor(Date.now() / 1000) - 60}</end></date_range>
  </report_metadata>
  <policy_published><domain>${domain}</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>
${records
  .map(
    (r) => `  <record>
    <row><source_ip>${r.ip}</source_ip><count>${r.count}</count><policy_evaluated><disposition>none</disposition><dkim>${r.dkim}</dkim><spf>${r.spf}</spf></policy_evaluated></row>
    <identifiers><header_from>${domain}</header_from></identifiers>
    <auth_results><dkim><domain>${domain}</domain><result>${r.dkim}</result><selector>s1</selector></dkim><spf><domain>send.${domain}</domain><result>${r.spf}</result></spf></auth_results>
  </record>`,
  )
  .join('\n')}
</feedback>
`;
}
