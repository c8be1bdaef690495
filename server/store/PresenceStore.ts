// Roll-call presence across server instances: each instance declares, under a lease it renews,
// which bridges have sockets on it. A hall is offline only when no live instance has it, and the
// halls of an instance that died without a word drop off when its lease runs out.

/** Storage of the instances' presence leases. */
export interface PresenceStore {
  /**
   * Declares which bridges have sockets on this server instance, for ttlMs (the instance renews
   * it; an empty list is a lease too).
   */
  setPresence(conferenceId: string, instanceId: string, bridgeIds: readonly string[], ttlMs: number): Promise<void>;

  /** Bridges that have sockets on some live instance other than `exceptInstanceId`. */
  presentElsewhere(conferenceId: string, exceptInstanceId: string): Promise<Set<string>>;

  /** Deletes every lease of a conference. */
  dropPresence(conferenceId: string): Promise<void>;
}
