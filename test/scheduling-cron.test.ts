import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { latestSlot, nextSlot, parseCron } from '../src/tasks/cron.js';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const next = (cron: string, after: string, tz = 'UTC'): string | null => iso(nextSlot(parseCron(cron), new Date(after), tz));

describe('cron parser', () => {
  it('parses wildcards, values, ranges, steps, lists and names', () => {
    const s = parseCron('*/15 9-17/4 1,15 jan-mar,DEC mon-fri');
    assert.deepEqual([...s.minutes], [0, 15, 30, 45]);
    assert.deepEqual([...s.hours], [9, 13, 17]);
    assert.deepEqual([...s.days], [1, 15]);
    assert.deepEqual(
      [...s.months].sort((a, b) => a - b),
      [1, 2, 3, 12],
    );
    assert.deepEqual([...s.weekdays].sort(), [1, 2, 3, 4, 5]);
    assert.equal(s.domRestricted, true);
    assert.equal(s.dowRestricted, true);
    assert.deepEqual([...parseCron('5/20 * * * *').minutes], [5, 25, 45]);
    assert.deepEqual([...parseCron('0 0 * * 7').weekdays], [0], '7 is Sunday');
    assert.deepEqual([...parseCron('@hourly').minutes], [0]);
    assert.equal(parseCron('@daily').hours.size, 1);
  });

  it('rejects malformed expressions with a reason', () => {
    const bad: [string, RegExp][] = [
      ['* * * *', /5 fields/],
      ['60 * * * *', /minute.*60 is outside 0-59/],
      ['* 24 * * *', /hour/],
      ['* * 0 * *', /day-of-month/],
      ['* * * 13 *', /month/],
      ['* * * * 8', /day-of-week/],
      ['*/0 * * * *', /step/],
      ['5-1 * * * *', /backwards/],
      ['a * * * *', /not a number/],
      ['1,,2 * * * *', /malformed/],
      ['1/2/3 * * * *', /malformed/],
      ['@sometimes', /5 fields/],
    ];
    for (const [cron, re] of bad)
      assert.throws(
        () => parseCron(cron),
        (e: Error & { code?: string }) => e.code === 'SEEDCORE_INVALID_INPUT' && re.test(e.message),
        cron,
      );
  });
});

describe('next slot', () => {
  it('finds the next matching minute in UTC, strictly after the given instant', () => {
    assert.equal(next('*/5 * * * *', '2026-01-01T10:02:30Z'), '2026-01-01T10:05:00.000Z');
    assert.equal(next('*/5 * * * *', '2026-01-01T10:05:00Z'), '2026-01-01T10:10:00.000Z');
    assert.equal(next('0 0 * * *', '2026-12-31T23:59:00Z'), '2027-01-01T00:00:00.000Z');
    assert.equal(next('30 8 29 2 *', '2026-03-01T00:00:00Z'), '2028-02-29T08:30:00.000Z', 'leap day');
    assert.equal(next('0 0 30 2 *', '2026-01-01T00:00:00Z'), null, 'never matches');
    assert.equal(next('0 12 * * mon', '2026-11-26T00:00:00Z'), '2026-11-30T12:00:00.000Z', '2026-11-26 is a Thursday');
  });

  it('day of month OR day of week when both are restricted; AND when one is *', () => {
    // 1st of the month or a Friday: from Thu 2026-11-26 the next is Fri 27th.
    assert.equal(next('0 0 1 * fri', '2026-11-26T00:00:00Z'), '2026-11-27T00:00:00.000Z');
    assert.equal(next('0 0 1 * *', '2026-11-26T00:00:00Z'), '2026-12-01T00:00:00.000Z');
    assert.equal(next('0 0 */2 * *', '2026-11-26T00:00:00Z'), '2026-11-27T00:00:00.000Z', 'odd days with */2 from 1');
  });

  it('reads the fields in the schedule time zone, across DST changes', () => {
    // 09:00 in Berlin: UTC+1 in winter, UTC+2 in summer.
    assert.equal(next('0 9 * * *', '2026-01-10T00:00:00Z', 'Europe/Berlin'), '2026-01-10T08:00:00.000Z');
    assert.equal(next('0 9 * * *', '2026-07-10T00:00:00Z', 'Europe/Berlin'), '2026-07-10T07:00:00.000Z');
    // 2026-03-29 02:30 does not exist in Berlin (clocks jump 02:00 → 03:00): skipped to the next day.
    assert.equal(next('30 2 * * *', '2026-03-28T12:00:00Z', 'Europe/Berlin'), '2026-03-30T00:30:00.000Z');
    // 2026-10-25 02:30 happens twice in Berlin: fires at the first (CEST, 00:30 UTC), once.
    assert.equal(next('30 2 * * *', '2026-10-24T12:00:00Z', 'Europe/Berlin'), '2026-10-25T00:30:00.000Z');
    assert.equal(next('30 2 * * *', '2026-10-25T00:30:00Z', 'Europe/Berlin'), '2026-10-26T01:30:00.000Z');
    // New York, 8:00 on weekdays.
    assert.equal(next('0 8 * * 1-5', '2026-11-27T14:00:00Z', 'America/New_York'), '2026-11-30T13:00:00.000Z');
  });

  it('latestSlot: the last slot in (after, now], missed slots collapse into it', () => {
    const spec = parseCron('*/10 * * * *');
    const after = new Date('2026-01-01T10:00:00Z');
    assert.equal(iso(latestSlot(spec, after, new Date('2026-01-01T10:09:59Z'))), null);
    assert.equal(iso(latestSlot(spec, after, new Date('2026-01-01T10:10:00Z'))), '2026-01-01T10:10:00.000Z');
    assert.equal(iso(latestSlot(spec, after, new Date('2026-01-01T10:47:00Z'))), '2026-01-01T10:40:00.000Z');
    // A long outage of a frequent schedule is cheap and still gives the latest slot.
    const t0 = performance.now();
    assert.equal(iso(latestSlot(parseCron('* * * * *'), new Date('2025-01-01T00:00:00Z'), new Date('2026-01-01T10:47:30Z'))), '2026-01-01T10:47:00.000Z');
    assert.ok(performance.now() - t0 < 2000);
    // A yearly schedule whose slot was 10 days ago, last fired a year before.
    assert.equal(iso(latestSlot(parseCron('@yearly'), new Date('2025-01-01T00:00:00Z'), new Date('2026-01-11T00:00:00Z'))), '2026-01-01T00:00:00.000Z');
  });
});
