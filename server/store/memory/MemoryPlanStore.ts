// The plan loaded for a conference, in this process's memory (tests, and the memory store): the
// same contract as the redis and SQLite implementations, its watchers told after the writer's
// call returns.
import { watchSafely, type StoreSubscription } from '../ConferenceStore.ts';
import type { PlanAnnouncement, PlanAnnouncementListener, PlanStore, StoredPlan } from '../PlanStore.ts';
import type { StoreResource } from '../Stores.ts';
import { ConferenceWatchers } from './ConferenceWatchers.ts';
import { OpenGuard } from './OpenGuard.ts';

/** Stored plans in memory. */
export class MemoryPlanStore implements PlanStore, StoreResource {
  readonly #plans = new Map<string, StoredPlan>();
  readonly #watchers = new ConferenceWatchers<PlanAnnouncement>();
  readonly #open = new OpenGuard();

  get closed(): boolean {
    return this.#open.closed;
  }

  async storedPlan(conferenceId: string): Promise<StoredPlan | null> {
    this.#open.assert(conferenceId);
    const stored = this.#plans.get(conferenceId);
    return stored ? { ...stored } : null;
  }

  async storePlan(conferenceId: string, text: string, storedAt: number): Promise<number> {
    this.#open.assert(conferenceId);
    const version = (this.#plans.get(conferenceId)?.version ?? 0) + 1;
    this.#plans.set(conferenceId, { version, text, storedAt });
    this.#watchers.tell(conferenceId, { kind: 'stored', version }, true);
    return version;
  }

  async watchPlans(conferenceId: string, listener: PlanAnnouncementListener): Promise<StoreSubscription> {
    this.#open.assert(conferenceId);
    return this.#watchers.watch(conferenceId, watchSafely(listener));
  }

  async dropPlan(conferenceId: string): Promise<void> {
    this.#open.assert(conferenceId);
    this.#plans.delete(conferenceId);
  }

  async close(): Promise<void> {
    if (this.#open.close()) this.#watchers.clear();
  }
}
