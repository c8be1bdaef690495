// What every store must do, whatever holds it: the helpers the contracts share. The contracts
// themselves are split by concern (conference-store-, token-store-, presence-store-contract.ts)
// and run against every implementation: the memory stores (unit) and redis (integration).
import { expect } from 'chai';
import { defaultPlan } from '../../../config/default-plan.ts';
import { planToCore } from '../../../server/app/conference/plan-to-core.ts';
import { decide, initialState, type Command, type ConferenceState, type LogEntry } from '../../../server/core/conference/index.ts';
import { StoreError } from '../../../server/store/index.ts';
import { T0 } from './helpers.ts';

/** A fresh default conference state. */
export function freshState(): ConferenceState {
  return initialState(planToCore(defaultPlan()));
}

/** Applies commands with the core; the next state and the log entries they appended (state.log emptied). */
export function apply(state: ConferenceState, commands: Command[], now = T0): { state: ConferenceState; log: LogEntry[] } {
  const log: LogEntry[] = [];
  let s = state;
  for (const c of commands) {
    const d = decide(s, c, now);
    if ('error' in d) throw new Error(`refused ${c.type}: ${d.error.message}`);
    s = { ...d.state, log: [] };
    log.push(...d.log);
  }
  return { state: s, log };
}

/** Expects a promise to reject with a StoreError of this code. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(StoreError);
    expect((error as StoreError).code).to.equal(code);
    return;
  }
  expect.fail(`expected a StoreError ${code}`);
}

/** Polls until check() is true (2 s at most). */
export async function waitUntil(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
