// `scheduled_at` as the send API takes it: an ISO 8601 date-time, or a small set of natural forms
// in the spirit of Resend's ("in 1 min"). The grammar, case-insensitive, whitespace-tolerant:
//
//   ISO 8601      2024-08-05T11:52:01.858Z, 2024-08-05T11:52:01+02:00, 2024-08-05 11:52,
//                 2024-08-05 (midnight). Without an offset the time is read as UTC.
//   relative      "in 10 seconds", "in 1 min", "in 2 hours", "in 3 days", "in 1 week",
//                 "in an hour", "in a minute"  (units: s sec secs second(s), m min mins minute(s),
//                 h hr hrs hour(s), d day(s), w wk week(s))
//   day + time    "today at 5pm", "tomorrow at 9am", "tomorrow 9:30", "monday at 14:00",
//                 "next friday at noon", "at 17:30", "9am" (the next time that hour comes round)
//   day alone     "tomorrow" (24 hours from now), "monday" / "next monday" (09:00 that day)
//   time forms    9am, 9 am, 9:30pm, 17:30, 17:30:15, noon, midnight
//   zone suffix   optional "utc", "gmt", "z" or an offset "+02:00" / "-0500" after a day/time form;
//                 without one, times of day are UTC (the server has no idea of the caller's zone).
//
// parseScheduledAt returns epoch milliseconds, or null when the text is none of these.
const UNIT_MS: Record<string, number> = {};
for (const [names, ms] of [
  [['s', 'sec', 'secs', 'second', 'seconds'], 1000],
  [['m', 'min', 'mins', 'minute', 'minutes'], 60_000],
  [['h', 'hr', 'hrs', 'hour', 'hours'], 3_600_000],
  [['d', 'day', 'days'], 86_400_000],
  [['w', 'wk', 'wks', 'week', 'weeks'], 7 * 86_400_000],
] as const) {
  for (const n of names) UNIT_MS[n] = ms;
}

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const DAY = 86_400_000;

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(z|[+-]\d{2}:?\d{2})?$/i;

function parseIso(s: string): number | null {
  const m = ISO.exec(s);
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
  const parts = [Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(sec)];
  const [Y, M, D, H, MI, S] = parts;
  if (M < 1 || M > 12 || D < 1 || D > 31 || H > 23 || MI > 59 || S > 59) return null;
  let t = Date.UTC(Y, M - 1, D, H, MI, S, Number(frac.padEnd(3, '0').slice(0, 3)));
  // Date.UTC rolls 2024-02-31 into March: refuse dates that do not exist.
  if (new Date(t).getUTCDate() !== D) return null;
  t -= offsetMs(zone);
  return t;
}

function offsetMs(zone: string | undefined): number {
  if (!zone || /^(z|utc|gmt)$/i.test(zone)) return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (!m) return 0;
  const v = (Number(m[2]) * 60 + Number(m[3])) * 60_000;
  return m[1] === '-' ? -v : v;
}

/** "9am", "9:30 pm", "17:30", "noon" → milliseconds after midnight, or null. */
function parseTimeOfDay(s: string): number | null {
  if (s === 'noon') return 12 * 3_600_000;
  if (s === 'midnight') return 0;
  const m = /^(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?\s*(am|pm)?$/.exec(s);
  if (!m) return null;
  let h = Number(m[1]);
  const mi = Number(m[2] ?? 0);
  const sec = Number(m[3] ?? 0);
  if (mi > 59 || sec > 59) return null;
  if (m[4]) {
    if (h < 1 || h > 12) return null;
    if (m[4] === 'am') h = h === 12 ? 0 : h;
    else h = h === 12 ? 12 : h + 12;
  } else if (!m[2] || h > 23) {
    return null; // a bare "9" is too ambiguous
  }
  return ((h * 60 + mi) * 60 + sec) * 1000;
}

export function parseScheduledAt(input: string, now: number): number | null {
  const raw = input.trim();
  if (raw.length === 0 || raw.length > 100) return null;
  const iso = parseIso(raw);
  if (iso !== null) return iso;

  let s = raw.toLowerCase().replace(/\s+/g, ' ');
  if (s === 'now') return now;
  const rel = /^in (\d{1,6}|an?|one) ?([a-z]+)$/.exec(s);
  if (rel) {
    const n = /^\d+$/.test(rel[1]) ? Number(rel[1]) : 1;
    const unit = UNIT_MS[rel[2]];
    return unit ? now + n * unit : null;
  }

  // Day and/or time, with an optional zone at the end.
  let zone: string | undefined;
  const z = / ?(utc|gmt|z|[+-]\d{2}:?\d{2})$/.exec(s);
  if (z && z.index > 0) {
    zone = z[1];
    s = s.slice(0, z.index).trim();
  }
  const off = offsetMs(zone);
  // Work in the caller's zone: shift now into it, compute, shift back.
  const local = now + off;
  const midnight = Math.floor(local / DAY) * DAY;

  const m = /^(?:(today|tomorrow|(?:next )?(?:sunday|monday|tuesday|wednesday|thursday|friday|saturday)))?(?: ?(?:at )?(.+))?$/.exec(s);
  if (!m || (!m[1] && !m[2])) return null;
  const dayWord = m[1];
  const timeText = m[2]?.trim();
  const tod = timeText ? parseTimeOfDay(timeText) : null;
  if (timeText && tod === null) return null;

  if (!dayWord) {
    // A time alone: the next time it comes round.
    let t = midnight + tod!;
    if (t <= local) t += DAY;
    return t - off;
  }
  if (dayWord === 'tomorrow' && tod === null) return now + DAY;
  let dayStart: number;
  if (dayWord === 'today') dayStart = midnight;
  else if (dayWord === 'tomorrow') dayStart = midnight + DAY;
  else {
    const wanted = WEEKDAYS.indexOf(dayWord.replace(/^next /, ''));
    const today = new Date(midnight).getUTCDay();
    let ahead = (wanted - today + 7) % 7;
    if (ahead === 0) ahead = 7;
    dayStart = midnight + ahead * DAY;
  }
  return dayStart + (tod ?? 9 * 3_600_000) - off;
}
