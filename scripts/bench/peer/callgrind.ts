/**
 * Instruction counts of an SFU process under valgrind's callgrind: the process runs under
 * `valgrind --tool=callgrind`; `callgrind_control` zeroes its counters once the workload flows and
 * dumps them at the end of each window. Instructions do not depend on the machine's load or
 * speed, so the same build on the same workload gives the same count anywhere (to within the
 * timers that fire per second of wall time, which a window of fixed length bounds).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** valgrind options for a process whose counters this module reads (one output file per pid and dump). */
export function callgrindArgs(dir: string): string[] {
  return ['--tool=callgrind', '--collect-jumps=no', '--dump-instr=no', `--callgrind-out-file=${path.join(dir, 'callgrind.out.%p')}`];
}

/** Zeroes the process's counters. */
export async function zeroCounters(pid: number): Promise<void> {
  await run('callgrind_control', ['--zerocost', String(pid)], { timeout: 60_000 });
}

/** Dumps the process's counters since the last zero or dump; resolves with the instructions (Ir). */
export async function dumpInstructions(dir: string, pid: number): Promise<number> {
  const before = new Set(fs.readdirSync(dir));
  await run('callgrind_control', ['--dump', String(pid)], { timeout: 60_000 });
  const until = Date.now() + 60_000;
  for (;;) {
    const fresh = fs.readdirSync(dir).filter((f) => f.startsWith(`callgrind.out.${pid}`) && !before.has(f));
    for (const f of fresh) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      const m = /^(?:summary|totals):\s+(\d+)/m.exec(text);
      if (m) return Number(m[1]);
    }
    if (Date.now() > until) throw new Error(`callgrind: no dump of ${pid} in ${dir}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
