// The history of each bridge's connection, for the technicians' drill-down: conference events
// (joined, dropped, reconnected), media lost with a worker, a hardware hall's new device sheet.
import type { MediaSession } from '../../sfu/index.ts';
import type { Clock, ConferenceEvent } from '../core/conference/index.ts';
import type { ConferenceRunner, EventMeta } from './conference/ConferenceRunner.ts';
import type { HealthMonitor } from './HealthMonitor.ts';
import type { RtpHallGateway } from './rtp-halls/RtpHallGateway.ts';
import type { DeviceSheet } from './rtp-halls/DeviceSheet.ts';

/** Where the link events come from and where they go (the media and the hardware halls when this process runs them). */
export interface LinkEventSources {
  runner: ConferenceRunner;
  media?: MediaSession;
  rtpHalls?: RtpHallGateway;
  health: HealthMonitor;
  clock: Clock;
}

/** Writes connection events into the health monitor's history of each bridge; returns the function that stops it. */
export function recordLinkEvents({ runner, media, rtpHalls, health, clock }: LinkEventSources): () => void {
  const onEvent = (event: ConferenceEvent, meta: EventMeta): void => {
    if (event.type === 'bridge_online') health.event(event.bridgeId, { at: meta.at, type: event.rejoin ? 'reconnected' : 'joined', detail: event.late ? 'vào muộn' : undefined });
    if (event.type === 'bridge_offline') health.event(event.bridgeId, { at: meta.at, type: 'dropped' });
  };
  const onMediaLost = ({ bridgeIds }: { bridgeIds: string[] }): void => {
    for (const bridgeId of bridgeIds) health.event(bridgeId, { at: clock.now(), type: 'media_lost', detail: 'mediasoup worker' });
  };
  // The technician must enter the new values on the device (the keys change on a rebuild).
  const onSheet = (sheet: DeviceSheet): void => {
    health.event(sheet.bridgeId, { at: clock.now(), type: 'device_sheet', detail: `phiên bản ${sheet.version}` });
  };
  // A network change the hall came back from without rejoining (technicians see it in the drill-down).
  const onIceRestart = ({ bridgeId, direction }: { bridgeId?: string; direction: string }): void => {
    if (bridgeId !== undefined) health.event(bridgeId, { at: clock.now(), type: 'ice', detail: direction === 'send' ? 'chiều lên' : 'chiều xuống' });
  };
  runner.on('event', onEvent);
  media?.on('medialost', onMediaLost);
  media?.on('icerestart', onIceRestart);
  rtpHalls?.on('sheet', onSheet);
  return () => {
    runner.off('event', onEvent);
    media?.off('medialost', onMediaLost);
    media?.off('icerestart', onIceRestart);
    rtpHalls?.off('sheet', onSheet);
  };
}
