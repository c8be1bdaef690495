// The plan a conference is made from, when one was loaded by REST (POST /api/plan): kept in the
// store with a version, so that every process of a deployment takes it up (announced to each one
// that watches) and a process that starts later starts from it rather than from its plan file.
// The store keeps the plan's text as it was accepted; every reader checks it again (it is data
// from outside the process: a store another program wrote may hold anything).
//
// Decisions:
// - The plan outlives Stores.drop(): loading a plan drops the conference's state, log, tokens and
//   leases, and the plan's version must keep counting, so that a process that ran version 3 never
//   takes a later version 1 for an old one.
// - Versions start at 1 and grow by one with every plan stored, whoever stores it.
import type { StoreSubscription } from './ConferenceStore.ts';

/** A plan as stored: its JSON text, its version (1 for the first) and when it was stored (epoch ms). */
export interface StoredPlan {
  version: number;
  text: string;
  storedAt: number;
}

/** Announced to every watcher after a plan is stored, or 'resync' when announcements may have been missed. */
export type PlanAnnouncement = { kind: 'stored'; version: number } | { kind: 'resync' };

/** Listener of a conference's plan announcements. */
export type PlanAnnouncementListener = (announcement: PlanAnnouncement) => void;

/** Storage of the plan loaded for a conference. */
export interface PlanStore {
  /** The plan last stored for the conference, or null when none was. */
  storedPlan(conferenceId: string): Promise<StoredPlan | null>;

  /** Stores a plan's JSON text as the next version and announces it to every watcher; the version. */
  storePlan(conferenceId: string, text: string, storedAt: number): Promise<number>;

  /** Calls listener after every storePlan of the conference (by any process sharing the store). */
  watchPlans(conferenceId: string, listener: PlanAnnouncementListener): Promise<StoreSubscription>;

  /** Deletes the stored plan and its version (not part of Stores.drop: see above). */
  dropPlan(conferenceId: string): Promise<void>;
}
