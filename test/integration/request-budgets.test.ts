// Issue 18, finding 6: "5,000 set_date commands from one secretary link were all accepted in
// 3.9 s". Every role, staff included, has a budget per class of request (server/app/rate-limit.ts),
// checked on every socket request before it reaches the conference. A real server on loopback
// (real socket.io, real mediasoup worker, in-memory state) with a fake clock, so that a window
// passes without waiting.
import { expect } from 'chai';
import { io, type Socket } from 'socket.io-client';
import { FakeClock } from '../../server/core/conference/index.ts';
import { REQUEST_LIMITS } from '../../server/app/rate-limit.ts';
import type { RunningServer } from '../../server/app/server.ts';
import { startTestServer, tokenOf } from '../helpers/server.ts';

const COMMUNE = 'c-06010';
const CONFERENCE = 'budgets';

type Reply = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string } };

describe('request budgets of every role over socket.io (real server, fake clock)', function () {
  this.timeout(60_000);
  const clock = new FakeClock(Date.now());
  let server: RunningServer;
  const sockets: Socket[] = [];

  before(async () => {
    server = await startTestServer(1, { conferenceId: CONFERENCE }, { clock, presenceGraceMs: 10 ** 12, healthIntervalMs: 10 ** 9 });
  });
  after(async () => {
    for (const s of sockets) s.close();
    await server?.close();
  });

  async function open(target: string): Promise<Socket> {
    const socket = io(`${server.url}/control`, { auth: { token: await tokenOf(server, target) }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('control:view', () => resolve());
      socket.once('connect_error', reject);
    });
    return socket;
  }

  const ask = (socket: Socket, event: string, payload: unknown): Promise<Reply> => socket.timeout(10_000).emitWithAck(event, payload) as Promise<Reply>;
  const codes = (replies: Reply[]): string[] => replies.map((r) => (r.ok ? 'ok' : r.error.code));
  const count = (list: string[], code: string): number => list.filter((c) => c === code).length;
  const logLength = async (): Promise<number> => {
    await server.conference.runner.idle();
    return (await server.stores.conferences.readLog(CONFERENCE)).length;
  };

  it('a secretary flooding set_date: the budget is accepted, the rest refused rate_limited and not recorded; the chair is not affected; a minute later it is back', async () => {
    const limit = REQUEST_LIMITS.command.limit;
    const secretary = await open('secretary');
    const chair = await open('chair');
    const before = await logLength();
    // Dates that alternate, so that every accepted one changes the state (and is recorded).
    const flood = Array.from({ length: limit + 40 }, (_, i) => ({ type: 'set_date', date: i % 2 ? '2021-11-26' : '2021-11-27' }));
    const replies = codes(await Promise.all(flood.map((c) => ask(secretary, 'control:command', c))));
    expect(count(replies, 'ok'), replies.join(' ')).to.equal(limit);
    expect(count(replies, 'rate_limited'), replies.join(' ')).to.equal(40);
    expect((await logLength()) - before, 'log entries added').to.equal(limit);
    expect(secretary.connected).to.equal(true);
    // Another principal has its own budget.
    expect(codes([await ask(chair, 'control:command', { type: 'set_date', date: '2021-11-28' })])).to.deep.equal(['ok']);
    // The refusal says which budget.
    const refused = await ask(secretary, 'control:command', { type: 'set_date', date: '2021-11-29' });
    expect(refused).to.deep.include({ ok: false });
    expect((refused as { error: { message: string } }).error.message).to.contain('[class:command]');
    clock.increment(REQUEST_LIMITS.command.windowMs + 1000);
    expect(codes([await ask(secretary, 'control:command', { type: 'set_date', date: '2021-11-30' })])).to.deep.equal(['ok']);
  });

  it('a hall flooding reports and reads: each class has its own budget; a read flood does not take the hall\'s commands', async () => {
    clock.increment(REQUEST_LIMITS.read.windowMs + 1000);
    const operator = await open(COMMUNE);
    const reads = codes(await Promise.all(Array.from({ length: REQUEST_LIMITS.read.limit + 20 }, () => ask(operator, 'time:sync', { clientNow: 1 }))));
    // The socket's own clock samples at connect took some of the window already.
    expect(count(reads, 'rate_limited'), 'reads refused').to.be.at.least(20);
    expect(count(reads, 'ok') + count(reads, 'rate_limited')).to.equal(reads.length);
    const commands = codes(
      await Promise.all(Array.from({ length: REQUEST_LIMITS.command.limit + 10 }, (_, i) => ask(operator, 'control:command', { type: 'report_ready', bridgeId: COMMUNE, attendees: 10 + i }))),
    );
    expect(count(commands, 'ok'), commands.join(' ')).to.equal(REQUEST_LIMITS.command.limit);
    expect(count(commands, 'rate_limited'), commands.join(' ')).to.equal(10);
  });

  it('one link reconnecting in a loop: connections past its budget in a minute are refused rate_limited at the handshake', async () => {
    clock.increment(REQUEST_LIMITS.connect.windowMs + 1000);
    const token = await tokenOf(server, 'technician');
    const outcomes: string[] = [];
    for (let i = 0; i < REQUEST_LIMITS.connect.limit + 5; i++) {
      const socket = io(`${server.url}/control`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
      outcomes.push(
        await new Promise<string>((resolve) => {
          socket.once('connect', () => resolve('connected'));
          socket.once('connect_error', (e) => resolve(e.message));
        }),
      );
      socket.close();
    }
    expect(count(outcomes, 'connected')).to.equal(REQUEST_LIMITS.connect.limit);
    expect(outcomes.slice(REQUEST_LIMITS.connect.limit)).to.deep.equal(Array(5).fill('rate_limited'));
    clock.increment(REQUEST_LIMITS.connect.windowMs + 1000);
    const again = io(`${server.url}/control`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(again);
    expect(await new Promise<string>((resolve) => {
      again.once('connect', () => resolve('connected'));
      again.once('connect_error', (e) => resolve(e.message));
    })).to.equal('connected');
  });
});
