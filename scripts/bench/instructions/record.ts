/**
 * The last result of `npm run bench:instructions`, kept in the cache by the worker binary's
 * hash and workload: bench:fanout prints it as `worker_instructions_per_out_packet` only for the
 * same build and the standard workload.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface InstructionCount {
  worker: string;
  workerSha256: string;
  consumers: number;
  packets: number;
  instructionsPerOutPacket: number;
  runs: number[];
  date: string;
}

function cacheFile(): string {
  const dir = path.join(process.env.DIEMCAU_CACHE ?? path.join(os.homedir(), '.cache', 'diemcau'), 'bench');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, 'instructions.json');
}

export function workerSha256(bin = process.env.MEDIASOUP_WORKER_BIN ?? ''): string {
  try {
    return crypto.createHash('sha256').update(fs.readFileSync(bin)).digest('hex');
  } catch {
    return '';
  }
}

/** The workload bench:fanout quotes (bench:instructions' defaults): 200 consumers, 2,000 packets. */
export const STANDARD_WORKLOAD = { consumers: 200, packets: 2000 } as const;

const keyOf = (sha: string, consumers: number, packets: number): string => `${sha}:${consumers}x${packets}`;

/** The last count for the worker binary in use on the standard workload, or null. */
export function lastInstructionCount(): InstructionCount | null {
  try {
    const all = JSON.parse(fs.readFileSync(cacheFile(), 'utf8')) as Record<string, InstructionCount>;
    return all[keyOf(workerSha256(), STANDARD_WORKLOAD.consumers, STANDARD_WORKLOAD.packets)] ?? null;
  } catch {
    return null;
  }
}

export function saveInstructionCount(c: InstructionCount): void {
  let all: Record<string, InstructionCount> = {};
  try {
    all = JSON.parse(fs.readFileSync(cacheFile(), 'utf8')) as Record<string, InstructionCount>;
  } catch {
    // first result
  }
  all[keyOf(c.workerSha256, c.consumers, c.packets)] = c;
  fs.writeFileSync(cacheFile(), JSON.stringify(all, null, 1));
}
