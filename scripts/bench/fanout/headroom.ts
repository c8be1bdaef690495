/**
 * Whether a fan-out window measured the SFU, from what the harness measured about itself
 * (HarnessHeadroom), against the limits in scripts/bench/validity.ts.
 */
import { LIMITS, Validity } from '../validity.ts';
import type { WindowResult } from './harness.ts';

/**
 * `decodeRate: false` leaves the Chromium halls' decode rate out of the verdict (bench:switch
 * reports it as its own finding) while their CPU is still left out of the harness core's.
 * bench:cascade judges its phases with it too (no browsers, no pinned SFU core).
 */
export function windowValidity(w: Pick<WindowResult, 'headroom' | 'browsers' | 'sfuCores' | 'browsersCpuPct'>, options: { decodeRate?: boolean } = {}): Validity {
  const v = new Validity();
  const h = w.headroom;
  for (const p of h.processes) v.atMost(`${p.name.replace(/ /g, '_')}_cpu_pct`, p.cpuPct, LIMITS.harnessProcessCpuPct, `the harness's ${p.name} process used its core`, ' %');
  if (h.pinned) {
    // Chromium shares the harness's CPU at nice 19 (with one worker): it runs only when the
    // harness does not need the CPU, so it is not counted here; its own decode rate is checked below.
    const busy = Math.max(...h.harnessCpus.map((c) => h.coreBusyPct[c] ?? 0));
    const chromiumThere = w.browsers.length > 0 && h.sfuCpus.length > 0;
    v.atMost('harness_core_busy_pct', Math.round((busy - (chromiumThere ? w.browsersCpuPct : 0)) * 10) / 10, LIMITS.harnessCoreBusyPct, `the harness's CPU ${h.harnessCpus.join(',')} was busy${chromiumThere ? ' (Chromium at nice 19 left out)' : ''}`, ' %');
    if (chromiumThere) v.headroom.harness_core_busy_with_chromium_pct = busy;
    if (h.sfuCpus.length) {
      // The SFU's core: busy with anything but the worker.
      const others = Math.max(0, Math.max(...h.sfuCpus.map((c) => h.coreBusyPct[c] ?? 0)) - w.sfuCores * 100);
      v.atMost('sfu_core_others_pct', Math.round(others * 10) / 10, LIMITS.sfuCoreOthersPct, `other processes on the SFU's CPU ${h.sfuCpus.join(',')}`, ' %');
    }
  }
  v.atMost('others_cpu_pct', h.othersCpuPct, LIMITS.othersCpuPct, 'other processes on the machine', ' % of a core');
  v.atMost('harness_socket_drops', h.ownSocketDrops, LIMITS.harnessSocketDrops, "datagrams dropped at the harness's own sockets (/proc/net/udp)");
  if (h.sinkSocketDrops !== null) v.atMost('sink_socket_drops', h.sinkSocketDrops, LIMITS.harnessSocketDrops, "datagrams dropped at the sink's sockets (SO_RXQ_OVFL)");
  if (h.generatorSocketDrops !== null) v.atMost('generator_socket_drops', h.generatorSocketDrops, LIMITS.harnessSocketDrops, "datagrams dropped at the generator's socket (SO_RXQ_OVFL)");
  if (h.sinkReadDelayP99Ms !== null) v.atMost('sink_read_delay_p99_ms', h.sinkReadDelayP99Ms, LIMITS.sinkReadDelayP99Ms, 'the sink read late (kernel receipt → read, p99)', ' ms');
  else v.atMost('sink_loop_delay_p99_ms', h.sinkLoopDelayP99Ms, LIMITS.sinkReadDelayP99Ms, "the Node sink's event loop was late (p99)", ' ms');
  if (h.sinkReadDelayMaxMs !== null) v.headroom.sink_read_delay_max_ms = h.sinkReadDelayMaxMs;
  v.atMost('generator_late_p99_ms', h.generatorLateP99Ms, LIMITS.generatorLateP99Ms, 'the generator sent late against its schedule (p99)', ' ms');
  v.atMost('generator_late_max_ms', h.generatorLateMaxMs, LIMITS.generatorLateMaxMs, 'the generator sent late against its schedule (max)', ' ms');
  v.atMost('generator_skipped', h.generatorSkipped, LIMITS.generatorSkipped, 'frames or audio packets the generator skipped after a stall');
  v.headroom.generator_late_p50_ms = h.generatorLateP50Ms;
  if (options.decodeRate !== false) for (const b of w.browsers) v.atLeast(`browser_${b.bridgeId}_fps`, b.fps, Math.round(LIMITS.browserDecodeFpsRatio * h.sourceFps * 10) / 10, `Chromium hall ${b.bridgeId} decoded the programme`, ' fps');
  return v;
}
