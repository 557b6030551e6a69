// The JSON views, over a real message (built by nodemailer, parsed by parseMessage) and a row
// shaped as the store writes it. The assignments to the resend SDK's types are checked by tsc:
// if Resend's shapes change, `npx tsc --noEmit` fails here.
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { EmailReceivedEvent, GetReceivingEmailResponseSuccess, InboxMessage, ListReceivingEmail } from 'resend';
import { describe, expect, it } from 'vitest';
import { type ParsedMessage, parseMessage } from './parse.ts';
import { type AttachmentRowForView, addressList, headersRecord, inboxMessageJson, inlineCidImages, type MessageRowForView, receivedEmailJson, receivedEmailListItem, receivedEventJson } from './views.ts';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

async function fixture(): Promise<{ row: MessageRowForView; parsed: ParsedMessage; attachments: AttachmentRowForView[] }> {
  const raw = await new MailComposer({
    from: '"Doe, Jane" <jane@example.org>',
    to: ['Ann <ann@inbox.example.com>', 'team@inbox.example.com'],
    cc: 'carol@example.net',
    replyTo: 'replies@example.org',
    subject: 'Re: Plans',
    messageId: '<reply-2@example.org>',
    inReplyTo: '<orig-1@inbox.example.com>',
    references: ['<orig-1@inbox.example.com>'],
    headers: { 'X-Custom': 'one' },
    text: 'Sounds good.\n\nOn Tue, Apr 1, 2025 at 10:00 AM Ann <ann@inbox.example.com> wrote:\n> Shall we?\n',
    html: '<p>Sounds good.</p><img src="cid:logo@example.org"><img src="https://track.example/p.gif"><script>alert(1)</script>',
    attachments: [
      { filename: 'logo.png', content: PNG, cid: 'logo@example.org', contentType: 'image/png' },
      { filename: 'plan.txt', content: 'the plan\n', contentType: 'text/plain' },
    ],
  })
    .compile()
    .build();
  const parsed = await parseMessage(raw);
  const row: MessageRowForView = {
    id: '0195f0a0-0000-7000-8000-000000000001',
    mailbox_id: '0195f0a0-0000-7000-8000-0000000000aa',
    thread_id: '0195f0a0-0000-7000-8000-0000000000bb',
    direction: 'inbound',
    internal_date: Date.parse('2025-04-01T10:05:00Z'),
    seen: 0,
    subject: parsed.subject,
    from_header: parsed.fromHeader,
    to_json: JSON.stringify(parsed.to),
    cc_json: JSON.stringify(parsed.cc),
    bcc_json: '[]',
    reply_to_json: JSON.stringify(parsed.replyTo),
    received_for_json: JSON.stringify(['ann@inbox.example.com']),
    message_id: parsed.messageId,
    in_reply_to: parsed.inReplyTo,
    auth_json: JSON.stringify({ spf: 'pass', dkim: 'pass', dmarc: 'pass' }),
  };
  const attachments: AttachmentRowForView[] = parsed.attachments.map((a, i) => ({
    id: `0195f0a0-0000-7000-8000-00000000000${i}`,
    filename: a.filename,
    size: a.size,
    content_type: a.contentType,
    content_id: a.contentId,
    disposition: a.disposition,
  }));
  return { row, parsed, attachments };
}

describe('receivedEmailJson', () => {
  it("has Resend's received-email fields and Mailstack's extras", async () => {
    const input = await fixture();
    const json = receivedEmailJson(input, { raw: { download_url: 'https://mail.example/raw', expires_at: '2025-04-01T11:00:00.000Z' } });
    const typed: GetReceivingEmailResponseSuccess = json; // compile-time shape check
    expect(typed.object).toBe('email');
    expect(json).toMatchObject({
      id: input.row.id,
      from: '"Doe, Jane" <jane@example.org>',
      to: ['Ann <ann@inbox.example.com>', 'team@inbox.example.com'],
      cc: ['carol@example.net'],
      bcc: null,
      reply_to: ['replies@example.org'],
      received_for: ['ann@inbox.example.com'],
      created_at: '2025-04-01T10:05:00.000Z',
      subject: 'Re: Plans',
      message_id: '<reply-2@example.org>',
      raw: { download_url: 'https://mail.example/raw', expires_at: '2025-04-01T11:00:00.000Z' },
      inbox_id: input.row.mailbox_id,
      thread_id: input.row.thread_id,
      auth: { spf: 'pass', dkim: 'pass', dmarc: 'pass' },
      extracted_text: 'Sounds good.',
    });
    expect(json.headers?.['x-custom']).toBe('one');
    expect(json.headers?.['message-id']).toBe('<reply-2@example.org>');
    expect(json.text).toContain('> Shall we?');
    expect(json.attachments).toEqual([
      { id: input.attachments[0].id, filename: 'logo.png', size: PNG.length, content_type: 'image/png', content_id: 'logo@example.org', content_disposition: 'inline' },
      { id: input.attachments[1].id, filename: 'plan.txt', size: 9, content_type: 'text/plain', content_id: null, content_disposition: 'attachment' },
    ]);
    expect(json.truncated).toBeUndefined();
  });

  it('inlines cid images as data URIs by default and keeps them with html_format=cid', async () => {
    const input = await fixture();
    const dataUri = `data:image/png;base64,${PNG.toString('base64')}`;
    const inlined = receivedEmailJson(input);
    expect(inlined.html).toContain(`src="${dataUri}"`);
    expect(inlined.html_sanitized).toContain(`src="${dataUri}"`); // safe inline images survive sanitising
    expect(inlined.html_sanitized).not.toContain('<script');
    expect(inlined.html_sanitized).toContain('src="https://track.example/p.gif"');
    const cid = receivedEmailJson(input, { htmlFormat: 'cid', blockRemoteImages: true });
    expect(cid.html).toContain('src="cid:logo@example.org"');
    expect(cid.html_sanitized).toContain('src="cid:logo@example.org"');
    expect(cid.html_sanitized).not.toContain('track.example');
  });

  it('degrades to nulls when the raw message could not be parsed', async () => {
    const { row, attachments } = await fixture();
    const json = receivedEmailJson({ row: { ...row, auth_json: 'not json' }, parsed: null, attachments });
    expect(json).toMatchObject({ html: null, text: null, headers: null, html_sanitized: null, extracted_text: null, auth: null, subject: 'Re: Plans' });
  });

  it('cuts bodies at maxBodyChars and says so', async () => {
    const input = await fixture();
    const json = receivedEmailJson(input, { maxBodyChars: 10 });
    expect(json.text).toHaveLength(10);
    expect(json.truncated).toBe(true);
  });
});

describe('the other views', () => {
  it('receivedEmailListItem is ListReceivingEmail', async () => {
    const { row, attachments } = await fixture();
    const item: ListReceivingEmail = receivedEmailListItem(row, attachments);
    expect(item).not.toHaveProperty('html');
    expect(item.message_id).toBe('<reply-2@example.org>');
    expect(receivedEmailListItem({ ...row, message_id: null, subject: null, from_header: null }, []).message_id).toBe('');
  });

  it('receivedEventJson is the email.received data with bodies', async () => {
    const input = await fixture();
    const data = receivedEventJson(input, { inboxMode: 'agent' });
    const typed: EmailReceivedEvent['data'] = data;
    expect(typed.email_id).toBe(input.row.id);
    expect(data).toMatchObject({ inbox_id: input.row.mailbox_id, inbox_mode: 'agent', thread_id: input.row.thread_id, in_reply_to: '<orig-1@inbox.example.com>', bcc: [], extracted_text: 'Sounds good.' });
    expect(data.attachments[0]).toEqual({ id: input.attachments[0].id, filename: 'logo.png', content_type: 'image/png', content_disposition: 'inline', content_id: 'logo@example.org' });
    expect(data.html).toContain('cid:logo@example.org'); // webhooks do not inline images
  });

  it('inboxMessageJson is InboxMessage', async () => {
    const input = await fixture();
    const msg = inboxMessageJson({ ...input, row: { ...input.row, seen: 1 } });
    const typed: InboxMessage = msg;
    expect(typed.read).toBe(true);
    expect(msg).toMatchObject({ direction: 'inbound', bcc: [], message_id: '<reply-2@example.org>', received_at: '2025-04-01T10:05:00.000Z' });
    expect(msg.attachments).toEqual([
      { id: input.attachments[0].id, filename: 'logo.png', size: PNG.length },
      { id: input.attachments[1].id, filename: 'plan.txt', size: 9 },
    ]);
  });

  it('extracted_text falls back to the HTML when there is no text part', async () => {
    const input = await fixture();
    const parsed = { ...input.parsed, text: null, html: '<p>Yes please.</p><div>On Tue, Apr 1, 2025 at 10:00 AM Ann &lt;ann@x&gt; wrote:</div><blockquote>Shall we?</blockquote>' };
    expect(receivedEmailJson({ ...input, parsed }).extracted_text).toBe('Yes please.');
  });
});

describe('view helpers', () => {
  it('addressList formats stored addresses and ignores junk', () => {
    expect(addressList('[{"name":"Doe, J","address":"j@x.org"},{"name":"","address":"a@b.c"},"Raw <r@x>",{"name":"x"},5,null]')).toEqual(['"Doe, J" <j@x.org>', 'a@b.c', 'Raw <r@x>']);
    expect(addressList('not json')).toEqual([]);
    expect(addressList(null)).toEqual([]);
  });

  it('headersRecord keeps the first value and is safe with __proto__', () => {
    const rec = headersRecord({ headers: [{ name: 'received', value: 'hop 2' }, { name: 'received', value: 'hop 1' }, { name: '__proto__', value: 'x' }] } as ParsedMessage);
    expect(rec.received).toBe('hop 2');
    expect(Object.getPrototypeOf(rec)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(rec))).toEqual(expect.objectContaining({ received: 'hop 2' }));
  });

  it('inlineCidImages only inlines image parts', () => {
    const parts = [
      { contentId: 'a@x', contentType: 'image/gif', content: Buffer.from('GIF89a') },
      { contentId: 'h@x', contentType: 'text/html', content: Buffer.from('<script>alert(1)</script>') },
      { contentId: 's@x', contentType: 'image/svg+xml', content: Buffer.from('<svg onload=alert(1)>') },
    ];
    expect(inlineCidImages('<img src="cid:a%40x"><img src="cid:h@x"><img src="cid:s@x">', parts)).toBe(`<img src="data:image/gif;base64,${Buffer.from('GIF89a').toString('base64')}"><img src="cid:h@x"><img src="cid:s@x">`);
  });
});
