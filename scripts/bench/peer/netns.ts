/**
 * bench:peer runs in a network namespace of its own. Janus gathers ICE candidates only on
 * interfaces that are not loopback, and this project's traffic stays on 127.0.0.0/8 or in its own
 * namespaces: the namespace has a veth pair whose one end carries NETNS_IP (a local address, so
 * its traffic goes through the namespace's loopback path, never a wire). Both SFUs, the endpoint
 * and the generator run inside it, on that address.
 */
import { execFileSync, spawn } from 'node:child_process';

export const NETNS_IP = '10.254.77.1';
const ENV = 'DIEMCAU_PEER_NETNS';

/** The namespace this process runs in, if it was started by `runInNetns`. */
export function currentNetns(): string | undefined {
  return process.env[ENV];
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Creates a namespace, runs `node --import tsx script args` inside it (stdio inherited), deletes
 * the namespace again (with the veth pair in it) and resolves with the exit code.
 */
export async function runInNetns(script: string, args: string[]): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('bench:peer needs root: it runs in a network namespace of its own (ip netns)');
  const name = `diemcau-peer-${process.pid}`;
  ip('netns', 'add', name);
  try {
    ip('-n', name, 'link', 'set', 'lo', 'up');
    ip('-n', name, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ip('-n', name, 'addr', 'add', `${NETNS_IP}/32`, 'dev', 'v0');
    ip('-n', name, 'link', 'set', 'v0', 'up');
    ip('-n', name, 'link', 'set', 'v1', 'up');
    const child = spawn('ip', ['netns', 'exec', name, process.execPath, '--import', 'tsx', script, ...args], { stdio: 'inherit', env: { ...process.env, [ENV]: name } });
    const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    return code;
  } finally {
    try {
      ip('netns', 'del', name);
    } catch {
      // already gone
    }
  }
}
