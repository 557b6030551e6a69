// Mail clients configure themselves: the server settings of an address at a receiving domain, as
// the three documents clients fetch — Thunderbird's autoconfig (config-v1.1.xml, the format of
// Mozilla's ISPDB), Microsoft's autodiscover (POX "outlook" response schema 2006a) and an Apple
// configuration profile (.mobileconfig, payload com.apple.mail.managed) — all derived from
// MAILSTACK_HOSTNAME and the door ports. Pure text; the HTTP door serves them.
//
// Implementation notes:
// - Only a receiving domain of this node whose receiving MX is verified gets a document; any other
//   address gets null (the door answers 404), so the node never describes mail it does not host.
// - The user name is always the full address (that is what the IMAP, POP3 and submission doors
//   take), and no password is ever included: clients ask for the app password.
// - Implicit TLS is listed first (RFC 8314 §3 prefers it), STARTTLS next; a door set to 0 is left out.
// - Every value put into XML is escaped; the address is checked before it is echoed.
import { createHash } from 'node:crypto';
import type { Core } from '../core/core.ts';
import { capabilitiesOf, mergedRecords } from './records.ts';

export interface ClientServer {
  protocol: 'imap' | 'pop3' | 'smtp';
  host: string;
  port: number;
  /** `SSL`: TLS from the first byte; `STARTTLS`: upgraded in the session. */
  socket: 'SSL' | 'STARTTLS';
}

export interface ClientSettings {
  address: string;
  domain: string;
  servers: ClientServer[];
}

const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+)$/;

/** The servers for `address` (or for any address at `domain`), or null when this node does not host it. */
export async function clientSettings(core: Core, input: { address?: string | null; domain?: string | null }): Promise<ClientSettings | null> {
  let address = input.address?.trim().toLowerCase() ?? null;
  let domain = input.domain?.trim().toLowerCase().replace(/\.$/, '') ?? null;
  if (address) {
    const m = ADDRESS.exec(address);
    if (!m) return null;
    domain = m[1];
  }
  if (!domain || !/^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})+$/.test(domain)) return null;
  const rows = await core.db.selectFrom('domains').selectAll().where('name', '=', domain).where('owned_at', 'is not', null).execute();
  const hosted = rows.some(
    (d) => capabilitiesOf(d).receiving === 'enabled' && mergedRecords(d, core.settings.hostname, core.settings).some((r) => r.purpose === 'receiving_mx' && r.status === 'verified'),
  );
  if (!hosted) return null;
  const s = core.settings;
  const host = s.hostname;
  const servers: ClientServer[] = [];
  const add = (protocol: ClientServer['protocol'], port: number, socket: ClientServer['socket']) => port !== 0 && servers.push({ protocol, host, port, socket });
  add('imap', s.imapsPort, 'SSL');
  add('imap', s.imapPort, 'STARTTLS');
  add('pop3', s.pop3sPort, 'SSL');
  add('pop3', s.pop3Port, 'STARTTLS');
  add('smtp', s.submissionsPort, 'SSL');
  add('smtp', s.submissionPort, 'STARTTLS');
  return { address: address ?? `%EMAILADDRESS%`, domain, servers };
}

export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** Thunderbird autoconfig, clientConfig version 1.1. */
export function thunderbirdConfig(c: ClientSettings): string {
  const server = (tag: 'incomingServer' | 'outgoingServer', s: ClientServer) =>
    [
      `    <${tag} type="${s.protocol}">`,
      `      <hostname>${xmlEscape(s.host)}</hostname>`,
      `      <port>${s.port}</port>`,
      `      <socketType>${s.socket}</socketType>`,
      `      <authentication>password-cleartext</authentication>`,
      `      <username>%EMAILADDRESS%</username>`,
      `    </${tag}>`,
    ].join('\n');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${xmlEscape(c.domain)}">`,
    `    <domain>${xmlEscape(c.domain)}</domain>`,
    `    <displayName>${xmlEscape(c.domain)} (Mailstack)</displayName>`,
    `    <displayShortName>${xmlEscape(c.domain)}</displayShortName>`,
    ...c.servers.filter((s) => s.protocol !== 'smtp').map((s) => server('incomingServer', s)),
    ...c.servers.filter((s) => s.protocol === 'smtp').map((s) => server('outgoingServer', s)),
    '  </emailProvider>',
    '</clientConfig>',
    '',
  ].join('\n');
}

/** Microsoft autodiscover (POX), the response Outlook and other clients parse for IMAP/POP3/SMTP. */
export function autodiscoverResponse(c: ClientSettings): string {
  const protocol = (s: ClientServer) =>
    [
      '      <Protocol>',
      `        <Type>${s.protocol.toUpperCase()}</Type>`,
      `        <Server>${xmlEscape(s.host)}</Server>`,
      `        <Port>${s.port}</Port>`,
      `        <LoginName>${xmlEscape(c.address)}</LoginName>`,
      '        <DomainRequired>off</DomainRequired>',
      '        <SPA>off</SPA>',
      // SSL=on with Encryption naming the kind: TLS is STARTTLS, SSL is implicit TLS.
      '        <SSL>on</SSL>',
      `        <Encryption>${s.socket === 'SSL' ? 'SSL' : 'TLS'}</Encryption>`,
      '        <AuthRequired>on</AuthRequired>',
      '      </Protocol>',
    ].join('\n');
  // One entry per protocol: the first (implicit TLS where the door is open) of each.
  const first = (p: ClientServer['protocol']) => c.servers.find((s) => s.protocol === p);
  const chosen = [first('imap'), first('pop3'), first('smtp')].filter((s): s is ClientServer => !!s);
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">',
    '  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">',
    '    <Account>',
    '      <AccountType>email</AccountType>',
    '      <Action>settings</Action>',
    ...chosen.map(protocol),
    '    </Account>',
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}

/** The error document autodiscover clients expect when an address is not ours. */
export function autodiscoverError(message: string): string {
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">',
    '  <Response>',
    `    <Error Time="${new Date().toISOString().slice(11, 19)}" Id="1">`,
    '      <ErrorCode>600</ErrorCode>',
    `      <Message>${xmlEscape(message)}</Message>`,
    '      <DebugData />',
    '    </Error>',
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}

/** A stable UUID from a name, so a re-downloaded profile replaces the installed one. */
function nameUuid(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

/** An Apple configuration profile with one IMAP account; no password (the device asks for it). */
export function appleMobileconfig(c: ClientSettings & { inboxId: string; displayName: string | null }): string {
  const imap = c.servers.find((s) => s.protocol === 'imap');
  const smtp = c.servers.find((s) => s.protocol === 'smtp');
  if (!imap || !smtp) throw new Error('an Apple profile needs an IMAP and a submission door');
  const reverse = c.domain.split('.').reverse().join('.');
  const v = (value: string | number | boolean): string =>
    typeof value === 'boolean' ? `<${value}/>` : typeof value === 'number' ? `<integer>${value}</integer>` : `<string>${xmlEscape(value)}</string>`;
  const dict = (entries: [string, string | number | boolean][], indent: string) =>
    [`${indent}<dict>`, ...entries.map(([k, val]) => `${indent}  <key>${k}</key>\n${indent}  ${v(val)}`), `${indent}</dict>`].join('\n');
  const account = dict(
    [
      ['EmailAccountDescription', c.address],
      ['EmailAccountName', c.displayName ?? c.address],
      ['EmailAccountType', 'EmailTypeIMAP'],
      ['EmailAddress', c.address],
      ['IncomingMailServerAuthentication', 'EmailAuthPassword'],
      ['IncomingMailServerHostName', imap.host],
      ['IncomingMailServerPortNumber', imap.port],
      ['IncomingMailServerUseSSL', true],
      ['IncomingMailServerUsername', c.address],
      ['OutgoingMailServerAuthentication', 'EmailAuthPassword'],
      ['OutgoingMailServerHostName', smtp.host],
      ['OutgoingMailServerPortNumber', smtp.port],
      ['OutgoingMailServerUseSSL', true],
      ['OutgoingMailServerUsername', c.address],
      ['OutgoingPasswordSameAsIncomingPassword', true],
      ['PayloadDisplayName', `Mail: ${c.address}`],
      ['PayloadIdentifier', `${reverse}.mailstack.mail.${c.inboxId}`],
      ['PayloadType', 'com.apple.mail.managed'],
      ['PayloadUUID', nameUuid(`mail:${c.inboxId}`)],
      ['PayloadVersion', 1],
    ],
    '    ',
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    '  <key>PayloadContent</key>',
    '  <array>',
    account,
    '  </array>',
    '  <key>PayloadDescription</key>',
    `  ${v(`Sets up ${c.address} in Mail. The password is not in this profile: use an app password of the inbox.`)}`,
    '  <key>PayloadDisplayName</key>',
    `  ${v(`${c.address} (Mailstack)`)}`,
    '  <key>PayloadIdentifier</key>',
    `  ${v(`${reverse}.mailstack.${c.inboxId}`)}`,
    '  <key>PayloadRemovalDisallowed</key>',
    '  <false/>',
    '  <key>PayloadType</key>',
    '  <string>Configuration</string>',
    '  <key>PayloadUUID</key>',
    `  ${v(nameUuid(`profile:${c.inboxId}`))}`,
    '  <key>PayloadVersion</key>',
    '  <integer>1</integer>',
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}
