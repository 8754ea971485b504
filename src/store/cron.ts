/**
 * When a schedule is next due: the 5-field cron Alga accepts (m h dom mon dow; each field `*`, a
 * number, a range `a-b`, a step `* /n` or `a-b/n`, or a comma list of those — scheduler-model.ts
 * validates the text), read in the schedule's IANA timezone.
 *
 * Alga refuses a cron that sets both day-of-month and day-of-week, so a day matches when the set
 * one matches. Day-of-week 0 and 7 are Sunday. Local times a DST change skips never match; a local
 * time it repeats matches once per UTC minute it names.
 */

interface CronFields {
  readonly minute: ReadonlySet<number>;
  readonly hour: ReadonlySet<number>;
  readonly dom: ReadonlySet<number> | null;
  readonly month: ReadonlySet<number>;
  readonly dow: ReadonlySet<number> | null;
}

const MINUTE_MS = 60_000;
/** How far ahead a next time is looked for; a cron that names no real date ("0 0 31 2 *") has none. */
const HORIZON_MS = 5 * 366 * 24 * 60 * MINUTE_MS;

function field(text: string, min: number, max: number): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    let lo = min;
    let hi = max;
    if (range !== '*') {
      const [a, b] = range.split('-') as [string, string | undefined];
      lo = Number(a);
      hi = b === undefined ? (stepText === undefined ? lo : max) : Number(b);
    }
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || !Number.isInteger(step) || step < 1 || lo < min || hi > max || lo > hi) {
      throw new Error(`cron field '${text}' is outside ${min}-${max}`);
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export function parseCron(cron: string): CronFields {
  const parts = cron.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error('a cron has 5 fields');
  const [m, h, dom, mon, dow] = parts as [string, string, string, string, string];
  const days = dow === '*' ? null : new Set([...field(dow, 0, 7)].map((d) => d % 7));
  return { minute: field(m, 0, 59), hour: field(h, 0, 23), dom: dom === '*' ? null : field(dom, 1, 31), month: field(mon, 1, 12), dow: days };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local wall-clock fields of an instant in a timezone. */
function localFields(ms: number, timeZone: string): { month: number; day: number; weekday: number; hour: number; minute: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', month: 'numeric', day: 'numeric', weekday: 'short', hour: 'numeric', minute: 'numeric' });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(ms)) parts[p.type] = p.value;
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts['weekday'] ?? '');
  return { month: Number(parts['month']), day: Number(parts['day']), weekday, hour: Number(parts['hour']), minute: Number(parts['minute']) };
}

/**
 * The first minute strictly after `afterMs` at which `cron` is due in `timeZone` (epoch ms), or
 * null when there is none within five years. Throws on a cron or timezone that is not valid.
 */
export function nextCronTime(cron: string, timeZone: string, afterMs: number): number | null {
  const c = parseCron(cron);
  let t = Math.floor(afterMs / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const end = afterMs + HORIZON_MS;
  while (t <= end) {
    const l = localFields(t, timeZone);
    const minuteOfDay = l.hour * 60 + l.minute;
    const dayOk = c.month.has(l.month) && (c.dom === null || c.dom.has(l.day)) && (c.dow === null || c.dow.has(l.weekday));
    if (!dayOk) {
      // on to the next local day; an hour short of it, so a DST change never skips its first minutes
      t += Math.max(1, 1440 - minuteOfDay - 60) * MINUTE_MS;
    } else if (!c.hour.has(l.hour)) {
      t += Math.max(1, 60 - l.minute) * MINUTE_MS;
    } else if (!c.minute.has(l.minute)) {
      t += MINUTE_MS;
    } else {
      return t;
    }
  }
  return null;
}
