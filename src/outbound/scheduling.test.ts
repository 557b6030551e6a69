// Scheduled sends: the scheduled_at grammar (ISO 8601 and natural forms), then through the SDK
// send scheduled → update (reschedule) → cancel, and a scheduled email released when the clock
// passes its time (ManualClock; the release job run the way the worker runs it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.ts';
import { DELIVER_JOB, RELEASE_JOB, releaseHandler } from './accept.ts';
import { parseScheduledAt } from './schedule.ts';
import { type SendingWorld, startSendingWorld } from '../testkit/sending.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe('parseScheduledAt', () => {
  // Wednesday 2024-08-07 10:15:30 UTC
  const now = Date.UTC(2024, 7, 7, 10, 15, 30);
  const at = (s: string) => parseScheduledAt(s, now);
  const utc = (d: number, h: number, m = 0, s = 0) => Date.UTC(2024, 7, d, h, m, s);

  it('reads ISO 8601, with Z, an offset, or none (UTC)', () => {
    expect(at('2024-08-05T11:52:01.858Z')).toBe(Date.UTC(2024, 7, 5, 11, 52, 1, 858));
    expect(at('2024-08-08T12:00:00+02:00')).toBe(utc(8, 10));
    expect(at('2024-08-08T12:00:00-0530')).toBe(utc(8, 17, 30));
    expect(at('2024-08-08 12:00')).toBe(utc(8, 12));
    expect(at('2024-08-09')).toBe(utc(9, 0));
    expect(at('2024-02-31T00:00:00Z')).toBeNull();
    expect(at('2024-13-01T00:00:00Z')).toBeNull();
  });

  it('reads relative forms', () => {
    expect(at('in 1 min')).toBe(now + MIN);
    expect(at('in 10 seconds')).toBe(now + 10_000);
    expect(at('In 2 Hours')).toBe(now + 2 * HOUR);
    expect(at('in an hour')).toBe(now + HOUR);
    expect(at('in 3 days')).toBe(now + 3 * DAY);
    expect(at('in 1 week')).toBe(now + 7 * DAY);
    expect(at('in 5 fortnights')).toBeNull();
  });

  it('reads day and time forms, in UTC unless a zone is given', () => {
    expect(at('tomorrow at 9am')).toBe(utc(8, 9));
    expect(at('tomorrow 9:30pm')).toBe(utc(8, 21, 30));
    expect(at('today at 5pm')).toBe(utc(7, 17));
    expect(at('at 17:30')).toBe(utc(7, 17, 30));
    expect(at('9am')).toBe(utc(8, 9)); // 9am today has passed
    expect(at('noon')).toBe(utc(7, 12));
    expect(at('tomorrow')).toBe(now + DAY);
    expect(at('friday at 3pm')).toBe(utc(9, 15));
    expect(at('next wednesday')).toBe(utc(14, 9)); // the same weekday means next week
    expect(at('tomorrow at 9am +02:00')).toBe(utc(8, 7));
    expect(at('tomorrow at 9am UTC')).toBe(utc(8, 9));
  });

  it('refuses what it does not understand', () => {
    for (const s of ['', 'soon', 'tomorrow at 25pm', 'at 9', '13pm', 'in -1 min', 'yesterday', '2024-08-07T10:15:30Zjunk', 'x'.repeat(200)]) {
      expect(at(s), s).toBeNull();
    }
  });
});

describe('scheduled sends through the SDK', () => {
  let w: SendingWorld;
  const clock = new ManualClock();

  beforeAll(async () => {
    w = await startSendingWorld({ clock });
    await w.verifyDomain('later.test');
  });
  afterAll(async () => {
    await w?.stop();
  });

  const core = () => w.server.platform.core;
  const releaseJob = (id: string) => core().db.selectFrom('jobs').selectAll().where('unique_key', '=', `release:${id}`).executeTakeFirst();
  const recipients = (id: string) => core().db.selectFrom('email_recipients').selectAll().where('email_id', '=', id).orderBy('address').execute();
  const deliverJobs = async (id: string) => {
    const rs = await recipients(id);
    const jobs = await core().db.selectFrom('jobs').select('payload').where('kind', '=', DELIVER_JOB).execute();
    return jobs.filter((j) => rs.some((r) => r.id === JSON.parse(j.payload).recipientId));
  };
  const send = (scheduledAt: string, subject = 'later') =>
    w.resend.emails.send({ from: 'hello@later.test', to: ['a@example.net', 'b@example.net'], subject, text: 'x', scheduledAt });

  it('schedules with ISO 8601, then reschedules and cancels', async () => {
    const when = new Date(clock.now() + 2 * HOUR);
    const { data, error } = await send(when.toISOString());
    expect(error).toBeNull();
    const id = data!.id;
    const got = await w.resend.emails.get(id);
    expect(got.data).toMatchObject({ last_event: 'scheduled', scheduled_at: when.toISOString() });
    expect((await recipients(id)).map((r) => r.status)).toEqual(['scheduled', 'scheduled']);
    expect(await deliverJobs(id)).toHaveLength(0);
    expect(await releaseJob(id)).toMatchObject({ kind: RELEASE_JOB, status: 'queued', run_at: when.getTime() });

    // Reschedule with a natural form.
    const before = clock.now();
    const upd = await w.resend.emails.update({ id, scheduledAt: 'in 3 hours' });
    expect(upd.error).toBeNull();
    expect(upd.data).toEqual({ object: 'email', id });
    const job = await releaseJob(id);
    expect(job!.run_at).toBeGreaterThanOrEqual(before + 3 * HOUR);
    expect(job!.run_at).toBeLessThanOrEqual(clock.now() + 3 * HOUR);
    expect((await w.resend.emails.get(id)).data!.scheduled_at).toBe(new Date(job!.run_at).toISOString());

    // A time in the past, or past the 30 days, is refused; so is a missing one.
    expect((await w.resend.emails.update({ id, scheduledAt: '2020-01-01T00:00:00Z' })).error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    expect((await w.resend.emails.update({ id, scheduledAt: 'in 31 days' })).error).toMatchObject({ statusCode: 422 });
    expect((await w.resend.emails.update({ id, scheduledAt: 'whenever' })).error).toMatchObject({ statusCode: 422 });
    expect((await w.resend.patch<any>(`/emails/${id}`, {})).error).toMatchObject({ statusCode: 422, name: 'missing_required_field' });

    const canceled = await w.resend.emails.cancel(id);
    expect(canceled.error).toBeNull();
    expect(canceled.data).toEqual({ object: 'email', id });
    expect((await w.resend.emails.get(id)).data!.last_event).toBe('canceled');
    expect((await recipients(id)).map((r) => r.status)).toEqual(['canceled', 'canceled']);
    expect(await releaseJob(id)).toBeUndefined();
    // Nothing more can be done to it.
    expect((await w.resend.emails.cancel(id)).error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    expect((await w.resend.emails.update({ id, scheduledAt: 'in 1 hour' })).error).toMatchObject({ statusCode: 422 });
    // Even when its old time comes, nothing is released.
    clock.advance(4 * HOUR);
    const due = await core().jobs.claim('test-worker', [RELEASE_JOB], 50, 60_000);
    expect(due.filter((j) => (j.payload as any).emailId === id)).toHaveLength(0);
    for (const j of due) await core().jobs.release(j.id, 'test-worker');
  });

  it('schedules with natural language ("tomorrow at 9am") in UTC', async () => {
    const { data, error } = await send('tomorrow at 9am', 'natural');
    expect(error).toBeNull();
    const now = clock.now();
    const expected = Math.floor(now / DAY) * DAY + DAY + 9 * HOUR;
    expect((await w.resend.emails.get(data!.id)).data!.scheduled_at).toBe(new Date(expected).toISOString());
    expect((await releaseJob(data!.id))!.run_at).toBe(expected);
    await w.resend.emails.cancel(data!.id);
  });

  it('sends a scheduled time that is already past at once', async () => {
    const { data } = await send(new Date(clock.now() - MIN).toISOString(), 'past');
    expect((await w.resend.emails.get(data!.id)).data).toMatchObject({ last_event: 'sent', scheduled_at: null });
    expect(await deliverJobs(data!.id)).toHaveLength(2);
  });

  it('releases a scheduled email when the clock passes its time, not before', async () => {
    const { data } = await send('in 1 min', 'released');
    const id = data!.id;
    const worker = 'test-worker';
    const notYet = await core().jobs.claim(worker, [RELEASE_JOB], 50, 60_000);
    expect(notYet.filter((j) => (j.payload as any).emailId === id)).toHaveLength(0);
    for (const j of notYet) await core().jobs.release(j.id, worker);

    clock.advance(2 * MIN);
    const claimed = await core().jobs.claim(worker, [RELEASE_JOB], 50, 60_000);
    const mine = claimed.filter((j) => (j.payload as any).emailId === id);
    expect(mine).toHaveLength(1);
    for (const j of claimed) {
      await releaseHandler(core())(j.payload as { emailId: string });
      await core().jobs.complete(j.id, worker);
    }
    expect((await recipients(id)).map((r) => r.status)).toEqual(['sent', 'sent']);
    expect(await deliverJobs(id)).toHaveLength(2);
    const got = (await w.resend.emails.get(id)).data!;
    expect(got.last_event).toBe('sent');
    // Too late to change it now.
    expect((await w.resend.emails.cancel(id)).error).toMatchObject({ statusCode: 422 });
    expect((await w.resend.emails.update({ id, scheduledAt: 'in 1 hour' })).error).toMatchObject({ statusCode: 422 });
  });

  it('refuses to cancel or reschedule while the release job is running (the worker won the race)', async () => {
    const { data } = await send('in 5 min', 'racing');
    const id = data!.id;
    await core().db.updateTable('jobs').set({ status: 'running', lease_owner: 'other', lease_expires_at: clock.now() + MIN }).where('unique_key', '=', `release:${id}`).execute();
    const c = await w.resend.emails.cancel(id);
    expect(c.error).toMatchObject({ statusCode: 422 });
    expect(c.error!.message).toContain('already being sent');
    expect((await w.resend.emails.update({ id, scheduledAt: 'in 1 hour' })).error).toMatchObject({ statusCode: 422 });
    expect((await recipients(id)).map((r) => r.status)).toEqual(['scheduled', 'scheduled']);
  });

  it('refuses scheduled_at beyond 30 days, and in a batch', async () => {
    expect((await send('in 31 days')).error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    const b = await w.resend.batch.send([{ from: 'hello@later.test', to: 'a@example.net', subject: 's', text: 'x', scheduledAt: 'in 1 hour' }]);
    expect(b.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
  });
});
