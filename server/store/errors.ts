// Errors of the stores and the check every conference id passes before it becomes a key.
import { NODE_ID_PATTERN, PlacementRecord } from '../protocol/cluster.ts';

/** Stable codes of store failures. */
export type StoreErrorCode = 'closed' | 'conflict' | 'log_gap' | 'corrupt' | 'unavailable' | 'invalid_argument';

/** A store failure with a stable code and a short `[key:value]` message. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** Conference ids are used in keys and channels: short, url-safe. */
export function checkConferenceId(conferenceId: string): void {
  if (typeof conferenceId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(conferenceId)) {
    throw new StoreError('invalid_argument', `bad conference id [conferenceId:${String(conferenceId).slice(0, 70)}]`);
  }
}

/** Node ids become keys too: the registry's format. */
export function checkNodeId(nodeId: string): void {
  if (typeof nodeId !== 'string' || !NODE_ID_PATTERN.test(nodeId)) {
    throw new StoreError('invalid_argument', `bad node id [nodeId:${String(nodeId).slice(0, 70)}]`);
  }
}

/** Placements to write must be valid records at whole, non-negative expected epochs, one per peer, at least one. */
export function checkPlacements(moves: readonly { record: Omit<PlacementRecord, 'epoch'>; expectedEpoch: number }[]): void {
  if (!Array.isArray(moves) || moves.length === 0) throw new StoreError('invalid_argument', 'no placement to write');
  const peers = new Set<string>();
  for (const { record, expectedEpoch } of moves) {
    if (!Number.isInteger(expectedEpoch) || expectedEpoch < 0) throw new StoreError('invalid_argument', `bad expected epoch [epoch:${String(expectedEpoch)}]`);
    const parsed = PlacementRecord.safeParse({ ...record, epoch: expectedEpoch + 1 });
    if (!parsed.success) throw new StoreError('invalid_argument', `bad placement [fields:${parsed.error.issues.map((i) => i.path.join('.')).join(',')}]`);
    if (peers.has(record.peerKey)) throw new StoreError('invalid_argument', `one peer twice [peerKey:${record.peerKey}]`);
    peers.add(record.peerKey);
  }
}
