// When a media node is known dead before its lease runs out (issue 13): the one rule.
//
// The control plane holds a lifeline to each live node: a long HTTP response from the node
// (GET /node/v1/alive) that starts with the node's id and incarnation and then stays open. A process
// killed by any signal has its sockets closed by its kernel at once (FIN), so the lifeline closes
// within a round trip of the death; the control plane then asks the node's address again (a
// probe) and judges by the answer:
//   - the connection is refused (RST: nothing listens on the node's port, on a host whose kernel
//     still runs) after a lifeline to that incarnation was held: its process is gone → dead now;
//   - the node answers with the same incarnation: the lifeline only broke (a proxy, a reset
//     connection) → alive, the probe is the new lifeline;
//   - the node answers with another incarnation of the same id: the process restarted, the one the
//     lease is of is gone → dead now (only that incarnation's lease ends: the new run keeps its own);
//   - a reset before any answer (a listener closing as the probe arrived): asked again, a few times;
//   - no answer in time, an unreachable host, anything else: nothing is known → the lease decides.
// A host whose network is cut, or that lost power, sends nothing: its lifeline stays open, silent,
// and only its lease ends it (NODE_LEASE_MS). A refusal is never taken from an address that never
// held a lifeline to that incarnation (a record with a wrong address, a node not yet listening).
// Caveat: a firewall placed between the two that *rejects* (TCP reset or ICMP port unreachable)
// rather than drops looks like a dead process.

/** What asking a node's address gave. */
export type LifelineProbe =
  /** ECONNREFUSED: the address's kernel answered that nothing listens on the port. */
  | { kind: 'refused' }
  /** ECONNRESET (or a close) before the node's first line. */
  | { kind: 'reset' }
  /** The node's first line: who answers there now. */
  | { kind: 'answered'; nodeId: string; incarnation: string }
  /** No answer within the probe's time, an unreachable host, an answer that is not a lifeline: nothing known. */
  | { kind: 'silent'; why: string };

/** What the control plane does about a node after a probe. */
export type LifelineVerdict =
  /** End this incarnation's lease now, for everyone (NodeRegistry.endLease). */
  | { kind: 'dead'; why: string }
  /** The node answers as the same process: hold the probe as its lifeline. */
  | { kind: 'alive' }
  /** Ask again at once (LIFELINE_PROBE_AGAIN_MS). */
  | { kind: 'probe_again' }
  /** Nothing known: leave it to the lease, try again later. */
  | { kind: 'lease'; why: string };

/** How many probes in a row a reset may take before the lease is left to decide. */
export const LIFELINE_PROBE_TRIES = 3;
/** Between two probes after a reset. */
export const LIFELINE_PROBE_AGAIN_MS = 50;
/** How long a probe waits for the node's first line (a node whose event loop is busy answers late: then the lease decides). */
export const LIFELINE_PROBE_TIMEOUT_MS = 2000;
/** How often a held lifeline carries a byte (idle connections through NAT and firewalls). */
export const LIFELINE_HEARTBEAT_MS = 15_000;

/** What the rule is told: the node and incarnation the registry holds, whether a lifeline to it was ever held, the probe and its number. */
export interface LifelineCase {
  nodeId: string;
  incarnation: string;
  /** A lifeline to this incarnation at this address was held once (its first line read). */
  held: boolean;
  probe: LifelineProbe;
  /** This probe's number in a row after a reset (1 for the first). */
  tries: number;
}

/** The verdict on a node after a probe of its address. */
export function judgeLifeline(c: LifelineCase): LifelineVerdict {
  const p = c.probe;
  switch (p.kind) {
    case 'answered':
      // Another node at this address: not the one the lease is of; its lease decides.
      if (p.nodeId !== c.nodeId) return { kind: 'lease', why: `another node answers at its address [nodeId:${p.nodeId}]` };
      if (p.incarnation === c.incarnation) return { kind: 'alive' };
      return { kind: 'dead', why: `restarted: incarnation ${p.incarnation} answers at its address, not ${c.incarnation}` };
    case 'refused':
      if (!c.held) return { kind: 'lease', why: 'refused, but no lifeline to this incarnation was ever held at this address' };
      return { kind: 'dead', why: 'its lifeline closed and its address refuses connections' };
    case 'reset':
      if (c.tries < LIFELINE_PROBE_TRIES) return { kind: 'probe_again' };
      return { kind: 'lease', why: `reset ${c.tries} times before an answer` };
    case 'silent':
      return { kind: 'lease', why: p.why };
  }
}
