// How big the state a store writes on every command gets: 2,000 commands on the default plan.
import { expect } from 'chai';
import { FakeClock } from '../../../server/core/conference/index.ts';
import { encodeConfig, encodeState } from '../../../server/store/codec.ts';
import { MemoryConferenceStore } from '../../../server/store/index.ts';
import { chair, exec, op, startRunner, system, T0 } from './helpers.ts';

const kB = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('stored state size', () => {
  it('stays small after 2,000 commands because the log and the configuration are not rewritten', async function () {
    this.timeout(30_000);
    const store = new MemoryConferenceStore();
    const clock = new FakeClock(T0);
    const runner = await startRunner(store, clock, 'size');
    try {
      const ids = runner.state.config.bridges.map((b) => b.id);
      let commands = 0;
      const send = async (actor: Parameters<typeof exec>[1], command: Parameters<typeof exec>[2]) => {
        commands++;
        clock.increment(1000);
        await exec(runner, actor, command);
      };
      // A long meeting: every hall joins and reports, 100 speeches, drop-outs and rejoins, agenda moves.
      for (const bridgeId of ids) await send(system, { type: 'bridge_connected', bridgeId });
      await send(chair, { type: 'start_meeting' });
      for (const bridgeId of ids) await send(op(bridgeId), { type: 'report_ready', bridgeId, attendees: 15 });
      for (let k = 0; commands < 2000; k++) {
        const bridgeId = ids[1 + (k % (ids.length - 1))]!;
        if (k < 100) {
          await send(op(bridgeId), { type: 'request_floor', bridgeId, speakerName: 'Nguyễn Văn An', speakerTitle: 'Phó Chủ tịch HĐND', topic: 'Kiến nghị về giám sát chuyên đề' });
          await send(chair, { type: 'grant_next' });
          clock.increment(5 * 60_000);
        }
        await send(system, { type: 'bridge_disconnected', bridgeId });
        await send(system, { type: 'bridge_connected', bridgeId });
        if (k % 60 === 0) await send(chair, { type: 'agenda_next' });
      }
      const state = (await store.load('size'))!.state;
      const log = await store.readLog('size');
      const perWrite = Buffer.byteLength(encodeState(state));
      const config = Buffer.byteLength(encodeConfig(state));
      const logBytes = log.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0);
      console.log(
        `      after ${commands} commands: ${log.length} log entries, ${state.speeches.length} speeches, ${state.incidents.length} incidents;` +
          ` written per command ${kB(perWrite)} (presence ${kB(size(state.presence))}, speeches ${kB(size(state.speeches))}, incidents ${kB(size(state.incidents))});` +
          ` configuration (once) ${kB(config)}; log (kept apart) ${kB(logBytes)}`,
      );
      expect(log.length).to.equal(state.seq);
      expect(perWrite).to.be.below(200 * 1024);
      expect(logBytes).to.be.above(perWrite);
    } finally {
      await runner.close();
      await store.close();
    }
  });
});
