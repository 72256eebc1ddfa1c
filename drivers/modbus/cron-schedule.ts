import cron from 'node-cron';

/** How far ahead to look for a day that matches (a 29 February that is also a Monday is rare). */
const MAX_DAYS = 366 * 28;

/**
 * The fire times of a cron expression, computed from a given instant instead of waited for on
 * the wall clock, so the driver can arm them on its injected `Clock` (a `ManualClock` drives a
 * cron schedule in tests). node-cron parses (5 or 6 fields, names, ranges, steps, `L`, `W`, `#`);
 * the fields are read as node-cron reads them: local time, and a day must match both the
 * day-of-month and the day-of-week fields.
 */
export class CronSchedule {
  private readonly seconds: number[];
  private readonly minutes: number[];
  private readonly hours: number[];
  private readonly months: Set<number>;
  private readonly daysOfMonth: Array<number | string>;
  private readonly daysOfWeek: Array<number | string>;

  /** Throws on an expression node-cron refuses (the config has validated it already). */
  constructor(readonly expression: string) {
    const f = cron.parse(expression);
    const asc = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
    this.seconds = asc(f.second);
    this.minutes = asc(f.minute);
    this.hours = asc(f.hour);
    this.months = new Set(f.month);
    this.daysOfMonth = f.dayOfMonth;
    this.daysOfWeek = f.dayOfWeek;
  }

  /** The first fire time (epoch ms, on a whole second) strictly after `after`. */
  nextAfter(after: number): number {
    const base = Math.floor(after / 1000) * 1000;
    const start = new Date(base);
    for (let i = 0; i < MAX_DAYS; i++) {
      const day = new Date(start.getFullYear(), start.getMonth(), start.getDate() + i);
      const y = day.getFullYear();
      const m = day.getMonth() + 1;
      const d = day.getDate();
      if (!this.months.has(m) || !this.dayMatches(y, m, d, day.getDay())) continue;
      for (const h of this.hours) {
        if (i === 0 && h < start.getHours()) continue;
        for (const min of this.minutes) {
          for (const s of this.seconds) {
            const at = new Date(y, m - 1, d, h, min, s).getTime();
            if (at > base) return at;
          }
        }
      }
    }
    throw new RangeError(`cron "${this.expression}" never fires`);
  }

  private dayMatches(y: number, m: number, d: number, weekday: number): boolean {
    const last = new Date(y, m, 0).getDate();
    const dom = this.daysOfMonth.some((v) => {
      if (v === d) return true;
      if (typeof v !== 'string') return false;
      if (v === 'L') return d === last;
      const w = /^(\d{1,2}|L)W$/.exec(v);
      if (w) return nearestWeekday(y, m, w[1] === 'L' ? last : Number(w[1]), last) === d;
      const off = /^L-(\d{1,2})$/.exec(v);
      return off !== null && last - Number(off[1]) === d;
    });
    if (!dom) return false;
    return this.daysOfWeek.some((v) => {
      if (v === weekday) return true;
      if (typeof v !== 'string') return false;
      const nth = /^([0-7])#([1-5])$/.exec(v);
      if (nth) return Number(nth[1]) % 7 === weekday && Math.floor((d - 1) / 7) + 1 === Number(nth[2]);
      const lastOf = /^([0-7])L$/i.exec(v);
      return lastOf !== null && Number(lastOf[1]) % 7 === weekday && d + 7 > last;
    });
  }
}

/** The weekday (Mon–Fri) nearest to `target` within its month; -1 if the month has no such day. */
function nearestWeekday(y: number, m: number, target: number, last: number): number {
  if (target < 1 || target > last) return -1;
  const weekday = new Date(y, m - 1, target).getDay();
  if (weekday === 6) return target === 1 ? target + 2 : target - 1;
  if (weekday === 0) return target === last ? target - 2 : target + 1;
  return target;
}
