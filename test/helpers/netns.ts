/**
 * A network rig for tests: hosts as Linux network namespaces on one bridge, with links shaped by
 * `tc tbf`, filters by nftables, addresses that can change mid-run, and processes (Chromium, a
 * server, a UDP relay) started inside a host. Needs root (tests run as root here); `netRigSkipReason()`
 * says why it cannot run otherwise.
 *
 * Topology of one rig (all names unique per run, so two runs never collide):
 *
 *     host ns "dc-<pid>-<rand>-hall"   eth0 10.X.Y.2/24 ─┐
 *     host ns "dc-<pid>-<rand>-turn"   eth0 10.X.Y.3/24 ─┤ bridge br0 in ns "dc-<pid>-<rand>-core"
 *     root namespace (this process)    dc<rand>r 10.X.Y.1/24 ─┘
 *
 * The root namespace is attached like a host (its address is `rig.rootIp`), so a server started by
 * the test process listens there and every host reaches it. A host's uplink is shaped on its eth0,
 * its downlink on its port of the bridge. There is no netem on these machines: delay and loss come
 * from the user-space relay (`udp-relay.ts`), in the root namespace or inside a host (`startUdpRelayIn`).
 *
 * The pure parts (names, tc and nft arguments, the choice of a subnet) are exported for unit tests.
 * One file over 400 lines on purpose: the rig, its pure parts and its server-in-a-host helper are
 * one tool that the multi-host and weak-link tests import whole.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Prefix of every namespace a rig creates: `dc-<pid>-<rand>-<host>`. */
export const NETNS_PREFIX = 'dc-';
const HOST_NAME = /^[a-z][a-z0-9]{0,9}$/;
/** Address of the root namespace on the bridge (the first of the subnet). */
const ROOT_OCTET = 1;

/** The rate of a link, as `tc tbf` takes it. */
export interface LinkShape {
  /** Rate in kbit/s (1000 bit/s). */
  rateKbit: number;
  /** Bucket size in bytes (default: 20 ms at the rate, at least 3,200 bytes: two full-size packets). */
  burstBytes?: number;
  /** Longest a packet may wait in the queue before it is dropped, ms (default 100). */
  latencyMs?: number;
}

/** One way through a filter: a protocol, optionally to one address and port. */
export interface FilterRule {
  protocol: 'tcp' | 'udp';
  address?: string;
  port?: number;
}

/**
 * What a host's firewall lets through. `block: 'udp'`: no UDP at all (a government network that
 * opens only TCP). `block: 'all'`: nothing but the `allow` rules (only TCP 443 to a proxy).
 * `deny` rules drop before anything is allowed (a server out of reach). Rules are stateless and
 * apply at once, to flows already open too.
 */
export interface Firewall {
  block: 'udp' | 'all';
  allow?: FilterRule[];
  deny?: FilterRule[];
}

/** Names of a rig's objects. */
export interface RigNames {
  runId: string;
  core: string;
  rootIf: string;
  netns(host: string): string;
  /** The host's port on the bridge (in the core namespace). */
  bridgePort(host: string): string;
}

/** The names of a rig for a run id (`<pid>-<rand>`): namespaces `dc-<runId>-<host>`, interfaces of at most 15 characters. */
export function rigNames(runId: string): RigNames {
  const rand = runId.split('-')[1] ?? runId;
  return {
    runId,
    core: `${NETNS_PREFIX}${runId}-core`,
    rootIf: `dc${rand}r`.slice(0, 15),
    netns: (host) => `${NETNS_PREFIX}${runId}-${host}`,
    bridgePort: (host) => `p-${host}`.slice(0, 15),
  };
}

/** The pid that made a rig namespace (`dc-<pid>-<rand>-<host>`), or null when the name is not a rig's. */
export function ownerPidOf(netns: string): number | null {
  const m = /^dc-(\d+)-[a-z0-9]+-[a-z0-9]+$/.exec(netns);
  return m ? Number(m[1]) : null;
}

/** The `tc` arguments that put (or replace) a tbf on a device. */
export function tbfArgs(dev: string, shape: LinkShape): string[] {
  if (!(shape.rateKbit > 0) || !Number.isFinite(shape.rateKbit)) throw new RangeError(`invalid rate [rateKbit:${shape.rateKbit}]`);
  const bytesPerSec = (shape.rateKbit * 1000) / 8;
  const burst = Math.round(shape.burstBytes ?? Math.max(3200, bytesPerSec * 0.02));
  const latency = Math.round(shape.latencyMs ?? 100);
  return ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${shape.rateKbit}kbit`, 'burst', String(burst), 'latency', `${latency}ms`];
}

/** The nftables ruleset (one table, `inet diemcau`) of a firewall. */
export function nftRuleset(firewall: Firewall): string {
  const match = (r: FilterRule, dir: 'out' | 'in'): string => {
    const parts: string[] = [];
    if (r.address) parts.push(`ip ${dir === 'out' ? 'daddr' : 'saddr'} ${r.address}`);
    if (r.port !== undefined) parts.push(`${r.protocol} ${dir === 'out' ? 'dport' : 'sport'} ${r.port}`);
    else parts.push(`meta l4proto ${r.protocol}`);
    return parts.join(' ');
  };
  for (const r of [...(firewall.deny ?? []), ...(firewall.allow ?? [])]) {
    if (r.address !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(r.address)) throw new RangeError(`not an IPv4 address [address:${r.address}]`);
    if (r.port !== undefined && (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535)) throw new RangeError(`invalid port [port:${r.port}]`);
  }
  const allows = firewall.allow ?? [];
  const last = firewall.block === 'udp' ? 'meta l4proto udp drop' : 'drop';
  const chain = (name: 'output' | 'input'): string[] => [
    `  chain ${name} {`,
    `    type filter hook ${name} priority 0; policy accept;`,
    `    ${name === 'output' ? 'oif' : 'iif'} "lo" accept`,
    ...(firewall.deny ?? []).map((r) => `    ${match(r, name === 'output' ? 'out' : 'in')} drop`),
    ...allows.map((r) => `    ${match(r, name === 'output' ? 'out' : 'in')} accept`),
    `    ${last}`,
    '  }',
  ];
  return ['table inet diemcau {', ...chain('output'), ...chain('input'), '}', ''].join('\n');
}

/**
 * A free /24 in 10.200.0.0–10.254.255.0 that no route of the root namespace overlaps (other
 * rigs of other runs attach their subnets there too). `random` picks among the candidates.
 */
export function pickSubnet(routes: string[], random: () => number = Math.random): string {
  const taken = routes.map(parseCidr).filter((r): r is { base: number; bits: number } => r !== null);
  for (let attempt = 0; attempt < 1000; attempt++) {
    const second = 200 + Math.floor(random() * 55);
    const third = Math.floor(random() * 256);
    const base = ((10 << 24) | (second << 16) | (third << 8)) >>> 0;
    const overlaps = taken.some((t) => {
      const bits = Math.min(24, t.bits);
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      return ((base & mask) >>> 0) === ((t.base & mask) >>> 0);
    });
    if (!overlaps) return `10.${second}.${third}.0/24`;
  }
  throw new Error('no free subnet for the network rig');
}

function parseCidr(text: string): { base: number; bits: number } | null {
  if (text === 'default') return null;
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(text);
  if (!m) return null;
  const base = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  return { base, bits: m[5] === undefined ? 32 : Number(m[5]) };
}

/** Why the rig cannot run here (not root, or `ip`, `tc` or `nft` missing), or null when it can. */
export function netRigSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'the network rig needs root (ip netns, tc, nft); run the tests as root';
  for (const tool of ['ip', 'tc', 'nft']) {
    if (!['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => fs.existsSync(path.join(d, tool)))) return `the network rig needs ${tool} (bash scripts/setup.sh installs it)`;
  }
  return null;
}

/** Runs a command; rejects with its stderr when it fails. */
export function run(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: 20_000, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${String(stderr).trim() || error.message}`));
      else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

const ignore = (): undefined => undefined;

/** One host of the rig: a namespace with one interface (eth0) on the bridge. */
export interface NetHost {
  readonly name: string;
  /** The namespace's name (for `ip netns exec`). */
  readonly netns: string;
  /** The host's address now (changes with `moveTo`). */
  readonly ip: string;
  /** Caps the host's link with tbf (up: what it sends, down: what it receives); null removes the cap. */
  shape(shape: LinkShape | null, direction?: 'up' | 'down' | 'both'): Promise<void>;
  /** Puts a firewall in the host (replacing the previous one); null removes it. */
  firewall(firewall: Firewall | null): Promise<void>;
  /** Moves the host to another address of the subnet (the next free one unless given); returns it. Open connections break. */
  moveTo(ip?: string): Promise<string>;
  /** Takes the host's link down (a cable pulled) or up again; the address stays. */
  setLink(up: boolean): Promise<void>;
  /** Runs a command inside the host and returns its output. */
  exec(command: string, args?: string[], input?: string): Promise<string>;
  /** Starts a process inside the host; the rig stops it (by pid) when it closes, if it is still running. */
  spawn(command: string, args?: string[], options?: SpawnOptions): ChildProcess;
}

/** A set of hosts on one bridge, with the root namespace attached. */
export interface NetRig {
  readonly names: RigNames;
  /** The subnet (a /24 under 10.200–254). */
  readonly subnet: string;
  /** The root namespace's address on the bridge: where a server started by the test process listens. */
  readonly rootIp: string;
  /** Adds a host (names: a lower-case letter then up to 9 letters or digits). */
  addHost(name: string, options?: { ip?: string }): Promise<NetHost>;
  host(name: string): NetHost;
  readonly hosts: ReadonlyMap<string, NetHost>;
  /** Stops the processes started in hosts, removes the namespaces and the root's interface; idempotent. */
  close(): Promise<void>;
}

/** Removes namespaces of rigs whose process is gone (a run killed before its cleanup). */
export async function removeStaleRigs(): Promise<string[]> {
  const list = await run('ip', ['netns', 'list']).catch(() => '');
  const removed: string[] = [];
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const pid = ownerPidOf(name);
    if (pid === null || pid === process.pid || alive(pid)) continue;
    await run('ip', ['netns', 'del', name]).then(() => removed.push(name), ignore);
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates an empty rig: the core namespace with its bridge and the root namespace attached. */
export async function createNetRig(): Promise<NetRig> {
  const skip = netRigSkipReason();
  if (skip) throw new Error(skip);
  await removeStaleRigs();
  const rootLinks = await run('ip', ['-o', 'link', 'show']);
  let names: RigNames;
  do names = rigNames(`${process.pid}-${randomBytes(3).toString('hex').slice(0, 5)}`);
  while (rootLinks.includes(` ${names.rootIf}@`) || rootLinks.includes(` ${names.rootIf}:`));
  const routes = (await run('ip', ['-4', 'route', 'show', 'table', 'all'])).split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
  const subnet = pickSubnet(routes);
  const prefix = subnet.split('.').slice(0, 3).join('.');
  const rootIp = `${prefix}.${ROOT_OCTET}`;
  const hosts = new Map<string, NetHost>();
  const processes = new Set<ChildProcess>();
  const usedOctets = new Set<number>([ROOT_OCTET]);
  let closed = false;
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      await Promise.all([...processes].map(stopProcess));
      // The root's interface goes first: deleting a namespace frees its devices only later.
      await run('ip', ['link', 'del', names.rootIf]).catch(ignore);
      for (const host of hosts.values()) await run('ip', ['netns', 'del', host.netns]).catch(ignore);
      await run('ip', ['netns', 'del', names.core]).catch(ignore);
    })();
    return closing;
  };

  try {
    await run('ip', ['netns', 'add', names.core]);
    await run('ip', ['-n', names.core, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', ['-n', names.core, 'link', 'set', 'br0', 'up']);
    await run('ip', ['-n', names.core, 'link', 'set', 'lo', 'up']);
    await run('ip', ['link', 'add', names.rootIf, 'type', 'veth', 'peer', 'name', 'p-root', 'netns', names.core]);
    await run('ip', ['-n', names.core, 'link', 'set', 'p-root', 'master', 'br0', 'up']);
    await run('ip', ['link', 'set', names.rootIf, 'addrgenmode', 'none']); // as the hosts' eth0 below
    await run('ip', ['addr', 'add', `${rootIp}/24`, 'dev', names.rootIf]);
    await run('ip', ['link', 'set', names.rootIf, 'up']);
  } catch (error) {
    await close();
    throw error;
  }

  const nextFree = (): string => {
    for (let o = 2; o < 255; o++) {
      if (!usedOctets.has(o)) {
        usedOctets.add(o);
        return `${prefix}.${o}`;
      }
    }
    throw new Error(`no free address left in ${subnet}`);
  };
  const claim = (ip: string): string => {
    if (!ip.startsWith(`${prefix}.`)) throw new RangeError(`address outside the rig's subnet [ip:${ip}, subnet:${subnet}]`);
    const octet = Number(ip.split('.')[3]);
    if (!(octet >= 2 && octet <= 254) || usedOctets.has(octet)) throw new RangeError(`address taken or invalid [ip:${ip}]`);
    usedOctets.add(octet);
    return ip;
  };

  const addHost = async (name: string, options: { ip?: string } = {}): Promise<NetHost> => {
    if (closed) throw new Error('rig closed');
    if (!HOST_NAME.test(name)) throw new RangeError(`invalid host name [name:${name}]`);
    if (hosts.has(name) || name === 'core' || name === 'root') throw new RangeError(`host name taken [name:${name}]`);
    const netns = names.netns(name);
    const port = names.bridgePort(name);
    let ip = options.ip ? claim(options.ip) : nextFree();
    // Registered before it exists: close() removes whatever part of it was made.
    const host: NetHost = {
      name,
      netns,
      get ip() {
        return ip;
      },
      async shape(shape, direction = 'both') {
        const apply = async (ns: string, dev: string): Promise<void> => {
          if (shape) await run('tc', ['-n', ns, ...tbfArgs(dev, shape)]);
          else await run('tc', ['-n', ns, 'qdisc', 'del', 'dev', dev, 'root']).catch(ignore);
        };
        if (direction !== 'down') await apply(netns, 'eth0');
        if (direction !== 'up') await apply(names.core, port);
      },
      async firewall(firewall) {
        // One nft transaction: the old table goes and the new one comes at once (no gap open).
        const reset = 'table inet diemcau\ndelete table inet diemcau\n';
        await run('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], reset + (firewall ? nftRuleset(firewall) : ''));
      },
      async moveTo(next) {
        const target = next ? claim(next) : nextFree();
        const old = ip;
        // Old one first: deleting a subnet's primary address deletes its secondaries with it.
        await run('ip', ['-n', netns, 'addr', 'del', `${old}/24`, 'dev', 'eth0']);
        await run('ip', ['-n', netns, 'addr', 'add', `${target}/24`, 'dev', 'eth0']);
        usedOctets.delete(Number(old.split('.')[3]));
        ip = target;
        return ip;
      },
      async setLink(up) {
        await run('ip', ['-n', netns, 'link', 'set', 'eth0', up ? 'up' : 'down']);
      },
      exec(command, args = [], input) {
        return run('ip', ['netns', 'exec', netns, command, ...args], input);
      },
      spawn(command, args = [], spawnOptions = {}) {
        if (closed) throw new Error('rig closed');
        // `ip netns exec` execs the command: the child's pid is the program's own.
        const child = spawn('ip', ['netns', 'exec', netns, command, ...args], spawnOptions);
        processes.add(child);
        child.once('exit', () => processes.delete(child));
        return child;
      },
    };
    hosts.set(name, host);
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['link', 'add', 'eth0', 'netns', netns, 'type', 'veth', 'peer', 'name', port, 'netns', names.core]);
    await run('ip', ['-n', names.core, 'link', 'set', port, 'master', 'br0', 'up']);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    // No IPv6 link-local address: its duplicate-address detection ends a second or two after the
    // link comes up, and Chromium takes that address change for a network change (in-flight
    // requests fail with ERR_NETWORK_CHANGED, a page's script among them).
    await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'addrgenmode', 'none']);
    await run('ip', ['-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    return host;
  };

  return {
    names,
    subnet,
    rootIp,
    hosts,
    addHost,
    host(name) {
      const h = hosts.get(name);
      if (!h) throw new RangeError(`no such host [name:${name}]`);
      return h;
    },
    close,
  };
}

/** Stops a process: SIGTERM, then SIGKILL after 2 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A diemcau server running as its own process inside a host. */
export interface HostedServer {
  /** `http://<host ip>:<port>`. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Stops it (SIGTERM, then SIGKILL); idempotent. */
  close(): Promise<void>;
}

/**
 * Starts diemcau's server (`server/main.ts`) inside a host, listening on the host's address:
 * a host of its own has its own ports, so the defaults serve (HTTP 3000, WebRTC 44400 + i).
 * `env` adds or overrides settings (REDIS_URL, DIEMCAU_WORKERS, …). Resolves once /healthz answers
 * from the root namespace.
 */
export async function startServerIn(host: NetHost, env: Record<string, string> = {}, timeoutMs = 40_000): Promise<HostedServer> {
  const port = Number(env.PORT ?? 3000);
  const child = host.spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: PROJECT_ROOT,
    // In memory unless told otherwise: the default data file would carry one test's conference into the next.
    env: { ...process.env, DIEMCAU_LISTEN_IP: host.ip, DIEMCAU_WORKERS: '1', DIEMCAU_LOG_LEVEL: 'warn', DIEMCAU_STORE: 'memory', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer): void => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://${host.ip}:${port}`;
  const server: HostedServer = { url, child, close: () => stopProcess(child) };
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    if (ok) return server;
    await new Promise((r) => setTimeout(r, 200));
  }
  await server.close();
  throw new Error(`the server in ${host.name} did not answer on ${url}: ${output.join('').slice(-800)}`);
}
