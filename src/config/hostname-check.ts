// MAILSTACK_HOSTNAME names this server in DNS records others publish and in what remote servers see.
// A name without a dot (the machine's short name, `localhost`) works on one machine and breaks
// everything that crosses the internet, so a start-up warns about it (a warning, not a failure:
// a laptop or a lab may not care). Development mode sends nothing out and answers its own DNS, so
// it is not warned.
import type { Settings } from './settings.ts';

/** The warning for a host name that is not fully qualified, naming what it breaks; null when fine. */
export function hostnameWarning(settings: Pick<Settings, 'hostname' | 'mode'>): string | null {
  const h = settings.hostname;
  if (settings.mode === 'development' || (h.includes('.') && !h.endsWith('.localhost') && !/^[\d.]+$/.test(h))) return null;
  return (
    `MAILSTACK_HOSTNAME is "${h}", not a fully qualified domain name: the records domains are told to publish ` +
    `would not work (the return-path MX "send.<domain> MX ${h}", SPF "v=spf1 a:${h} ~all", the receiving MX "<domain> MX ${h}", ` +
    `mail clients' autoconfig), remote servers may refuse our EHLO ${h} (RFC 5321 §4.1.1.1 wants a FQDN), ` +
    `and links in mail would point at http://${h}. Set MAILSTACK_HOSTNAME to this server's DNS name, e.g. mail.example.com.`
  );
}
