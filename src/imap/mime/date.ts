// Parsing RFC 5322 §3.3 date-time values (with the obsolete forms of §4.3) for SEARCH SENTBEFORE,
// SENTON and SENTSINCE and for sorting. Tolerant: day names, comments and seconds are optional,
// two- and three-digit years are mapped per §4.3, named and military zones are understood, an
// unknown zone counts as +0000. Returns epoch ms, or null when no date can be read.

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0,
  edt: -4 * 60, est: -5 * 60, cdt: -5 * 60, cst: -6 * 60, mdt: -6 * 60, mst: -7 * 60, pdt: -7 * 60, pst: -8 * 60,
};

export function parseDate(value: string): number | null {
  const text = value.replace(/\([^)]*\)/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
  const m = /(\d{1,2})\s*[ -]\s*([A-Za-z]{3})[a-z]*\.?\s*[ -]\s*(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,5})?/.exec(text);
  if (!m) return null;
  const month = MONTHS[m[2].toLowerCase()];
  if (month === undefined) return null;
  let year = Number(m[3]);
  if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3].length === 3) year += 1900;
  const day = Number(m[1]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] ? Number(m[6]) : 0;
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offset = 0;
  const zone = m[7];
  if (zone && /^[+-]\d{4}$/.test(zone)) {
    const sign = zone[0] === '-' ? -1 : 1;
    offset = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)));
  } else if (zone) {
    offset = ZONES[zone.toLowerCase()] ?? 0;
  }
  const ms = Date.UTC(year, month, day, hour, minute, second) - offset * 60_000;
  return Number.isFinite(ms) ? ms : null;
}
