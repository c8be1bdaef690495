// What the roles that carry media share when they start from the configuration: the worker pool
// (with its failures logged), this node's id, and its place among several nodes.
import os from 'node:os';
import { WorkerPool } from '../../../sfu/index.ts';
import type { Config } from '../../../config/index.ts';
import type { MediaNodeCluster } from './MediaNode.ts';

/** Peers a node takes per worker when DIEMCAU_NODE_CAPACITY is not set (one worker carried the 212-bridge meeting: docs/benchmarks.md). */
export const PEERS_PER_WORKER = 200;

/** Starts the workers of the configuration, logging their deaths and replacements. */
export async function startPool(config: Config, announcedIp: string, log: { error(d: object, m: string): void; warn(d: object, m: string): void }): Promise<WorkerPool> {
  const pool = await WorkerPool.create({
    numWorkers: config.workers,
    listenIp: config.listenIp,
    announcedIp,
    webRtcBasePort: config.webRtcBasePort,
    rtcMinPort: config.rtcMinPort,
    rtcMaxPort: config.rtcMaxPort,
  });
  pool.on('workerdied', ({ index, pid, error }) => log.error({ index, pid, err: error.message }, 'mediasoup worker died'));
  pool.on('workerreplaced', ({ index, pid }) => log.warn({ index, pid }, 'mediasoup worker replaced'));
  pool.on('workerfailed', ({ index, error }) => log.error({ index, err: error.message }, 'worker replacement failed; retrying'));
  return pool;
}

/**
 * This node's id: configured, else the host name, the announced address and the HTTP port. The
 * address and port are what no two nodes share (two nodes on one host differ by port; machines
 * cloned from one image, or containers, often share a host name), and two nodes with one id would
 * overwrite each other's lease and take each other's tracks for their own.
 */
export function nodeIdOf(config: Config, port: number, announcedIp: string): string {
  if (config.nodeId) return config.nodeId;
  const host = os.hostname().replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 20) || 'node';
  const address = announcedIp.replace(/[^A-Za-z0-9.]/g, '-').slice(0, 39);
  return `${host}-${address}-${port}`;
}

/**
 * This node's place among several (redis and a node secret), or undefined when it is alone: the
 * embedded default, and a `both` process on redis without DIEMCAU_NODE_SECRET (its media stays
 * its own, as before issue 13).
 */
export function clusterOf(config: Config, url: string, announcedIp: string): MediaNodeCluster | undefined {
  if (!config.redisUrl || !config.nodeSecret) return undefined;
  const own = new URL(url);
  const reachable = `${own.protocol}//${announcedIp.includes(':') ? `[${announcedIp}]` : announcedIp}:${own.port}`;
  return {
    secret: config.nodeSecret,
    mediaUrl: config.mediaUrl ?? reachable,
    nodeApiUrl: config.nodeApiUrl ?? reachable,
    announcedIp,
    labels: config.nodeLabels,
    capacity: config.nodeCapacity ?? config.workers * PEERS_PER_WORKER,
  };
}
