// For tests: a real DNS server (dns2, UDP) on loopback, answering TXT, MX and A from a zone map the
// test controls. A name with no records is NXDOMAIN; a name with records of another type answers
// NOERROR with no data (what a real server does), so the resolver sees ENOTFOUND vs ENODATA.
import { Resolver } from 'node:dns/promises';
import dns2 from 'dns2';

const { Packet } = dns2;

interface Entry {
  TXT: string[][];
  MX: { exchange: string; priority: number }[];
  A: string[];
}

export interface TestDns {
  /** host:port, for MAILSTACK_DNS_SERVERS. */
  address: string;
  /** Adds a TXT record; long values are split into 255-octet character-strings (RFC 1035 §3.3.14). */
  txt(name: string, value: string): void;
  mx(name: string, exchange: string, priority?: number): void;
  a(name: string, address: string): void;
  /** Removes every record of `name` (or only those of one type). */
  clear(name: string, type?: keyof Entry): void;
  /** A node resolver pointed at this server. */
  resolver(): Resolver;
  /** Queries answered so far. */
  queries: number;
  close(): Promise<void>;
}

const key = (name: string) => name.toLowerCase().replace(/\.$/, '');

export async function startTestDns(): Promise<TestDns> {
  const zone = new Map<string, Entry>();
  const entry = (name: string) => {
    let e = zone.get(key(name));
    if (!e) zone.set(key(name), (e = { TXT: [], MX: [], A: [] }));
    return e;
  };
  const state = { queries: 0 };
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      state.queries++;
      const response = Packet.createResponseFromRequest(request);
      const [q] = request.questions;
      const e = q ? zone.get(key(q.name)) : undefined;
      const has = e && (e.TXT.length || e.MX.length || e.A.length);
      if (!q || !has) {
        response.header.rcode = 3; // NXDOMAIN
      } else if (q.type === Packet.TYPE.TXT) {
        for (const data of e.TXT) response.answers.push({ name: q.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 60, data } as any);
      } else if (q.type === Packet.TYPE.MX) {
        for (const m of e.MX) response.answers.push({ name: q.name, type: Packet.TYPE.MX, class: Packet.CLASS.IN, ttl: 60, exchange: m.exchange, priority: m.priority } as any);
      } else if (q.type === Packet.TYPE.A) {
        for (const address of e.A) response.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 60, address } as any);
      }
      void send(response);
    },
  });
  const addresses = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  const port = addresses.udp!.port;
  const address = `127.0.0.1:${port}`;
  return {
    address,
    txt(name, value) {
      const chunks: string[] = [];
      for (let i = 0; i < value.length; i += 255) chunks.push(value.slice(i, i + 255));
      entry(name).TXT.push(chunks.length ? chunks : ['']);
    },
    mx(name, exchange, priority = 10) {
      entry(name).MX.push({ exchange, priority });
    },
    a(name, addr) {
      entry(name).A.push(addr);
    },
    clear(name, type) {
      if (!type) zone.delete(key(name));
      else if (zone.has(key(name))) zone.get(key(name))![type] = [];
    },
    resolver() {
      const r = new Resolver({ timeout: 2000, tries: 2 });
      r.setServers([address]);
      return r;
    },
    get queries() {
      return state.queries;
    },
    close: () => server.close(),
  };
}
