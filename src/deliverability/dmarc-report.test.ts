// The DMARC aggregate report parser on real report XML (Appendix C of RFC 7489, as Google and
// Microsoft send it) in its three wrappings, and on hostile input: an XML bomb (billion laughs),
// external entities, a 50 MB report, a gzip bomb, a damaged zip, a wrong schema, deep nesting.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { reportXml } from '../testkit/dmarc.ts';
import { makeZip } from '../testkit/zip.ts';
import { DmarcReportError, reportFromAttachment } from './dmarc-report.ts';

const xml = reportXml('example.org', '1234567890123456789', [
  { ip: '192.0.2.10', count: 40, dkim: 'pass', spf: 'pass' },
  { ip: '198.51.100.7', count: 3, dkim: 'fail', spf: 'fail' },
]);

const refused = (data: Buffer, pattern: RegExp) => {
  let err: unknown;
  try {
    reportFromAttachment(data);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DmarcReportError);
  expect((err as Error).message).toMatch(pattern);
};

describe('DMARC aggregate report parser', () => {
  it('reads a report as XML, gzip and zip alike', () => {
    for (const data of [Buffer.from(xml), gzipSync(Buffer.from(xml)), makeZip('google.com!example.org!1!2.xml', Buffer.from(xml))]) {
      const r = reportFromAttachment(data);
      expect(r).toMatchObject({ orgName: 'google.com', reportId: '1234567890123456789', policy: { domain: 'example.org', p: 'none', pct: 100, adkim: 'r' } });
      expect(r.records).toEqual([
        { source_ip: '192.0.2.10', count: 40, disposition: 'none', dkim: 'pass', spf: 'pass', header_from: 'example.org' },
        { source_ip: '198.51.100.7', count: 3, disposition: 'none', dkim: 'fail', spf: 'fail', header_from: 'example.org' },
      ]);
      expect(r.endAt).toBeGreaterThan(r.beginAt);
    }
  });

  it('decodes the predefined entities and CDATA, and keeps no control characters', () => {
    const r = reportFromAttachment(Buffer.from(xml.replace('<org_name>google.com</org_name>', '<org_name>A &amp; B &#x41;<![CDATA[<x>]]>\u0001</org_name>')));
    expect(r.orgName).toBe('A & B A<x>');
  });

  it('refuses an XML bomb (entity declarations) and external entities without expanding anything', () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]><feedback>&lol9;</feedback>`;
    refused(Buffer.from(bomb), /DOCTYPE or entity declarations/);
    refused(gzipSync(Buffer.from(bomb)), /DOCTYPE/);
    refused(Buffer.from('<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x SYSTEM "file:///etc/passwd">]><feedback>&x;</feedback>'), /DOCTYPE/);
  });

  it('refuses a 50 MB report, and a gzip or zip that inflates past the limit, before inflating it all', () => {
    const big = Buffer.alloc(50 * 1024 * 1024, 0x20);
    refused(big, /larger than 10 MB/);
    const bomb = gzipSync(Buffer.concat([Buffer.from('<feedback>'), big]));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    refused(bomb, /larger than 20 MB once decompressed/);
    refused(makeZip('r.xml', Buffer.concat([Buffer.from('<feedback>'), big])), /larger than 20 MB once decompressed/);
  });

  it('refuses a wrong schema, malformed XML, damaged archives and deep nesting with a clear reason', () => {
    refused(Buffer.from('<?xml version="1.0"?><html><body>hi</body></html>'), /root element is <html>, not <feedback>/);
    refused(Buffer.from(xml.replace(/<policy_published>[\s\S]*?<\/policy_published>/, '')), /policy_published is missing/);
    refused(Buffer.from(xml.replace(/<begin>\d+</, '<begin>yesterday<')), /date_range\/begin is not a time/);
    refused(Buffer.from(xml.replace('<count>40</count>', '<count>-4</count>')), /count is not a count/);
    refused(Buffer.from('<feedback><report_metadata></feedback>'), /malformed XML/);
    refused(Buffer.from('<feedback>'), /never closed/);
    refused(Buffer.from('%PDF-1.4 not a report'), /not XML, gzip or zip/);
    refused(gzipSync(Buffer.from(xml)).subarray(0, 40), /gzip data is damaged/);
    const zip = makeZip('r.xml', Buffer.from(xml));
    refused(zip.subarray(0, zip.length - 30), /zip file is damaged/);
    refused(makeZip('readme.txt', Buffer.from(xml)), /no \.xml entry/);
    refused(Buffer.from(`<feedback>${'<a>'.repeat(100)}${'</a>'.repeat(100)}</feedback>`), /nested too deeply/);
  });
});
