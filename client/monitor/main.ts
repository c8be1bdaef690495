import { MediaClient, type ReceivedConsumer } from '../shared/MediaClient.ts';
import { ControlClient } from '../shared/ControlClient.ts';
import { connectionText, loadBridges } from '../shared/bridges.ts';
import { controlEndpoints, roleName, signIn } from '../shared/session.ts';
import { stopOnRefusal } from '../shared/refusal.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** A receive-only console (chair, secretary or technician) showing halls as low-resolution thumbnails. */
async function main(): Promise<void> {
  const session = await signIn();
  if (!session) return;
  const { token, me } = session;
  const bridges = await loadBridges();
  const params = new URLSearchParams(location.search);
  const districts = [...bridges.values()].filter((b) => b.tier === 'district').map((b) => b.id);
  const wanted = params.has('bridges') ? (params.get('bridges') ?? '').split(',').filter((id) => bridges.has(id)) : districts;
  $('title').textContent = `${roleName(me.role)} — ${me.title}`;

  const control = new ControlClient(controlEndpoints(), token);
  const client = new MediaClient({ placement: control.mediaTargets(), token, publish: false });
  stopOnRefusal(control, client);
  (window as unknown as { diemcau: unknown }).diemcau = { client, control, me };
  const tiles = new Map<string, HTMLElement>();

  client.on('error', (detail) => console.error(`diemcau: ${detail.message}`));
  client.on('state', (detail) => {
    const state = detail.state;
    $('conn-state').textContent = connectionText(state);
    if (state === 'live' && wanted.length) void client.setThumbnails(wanted).catch((e: Error) => console.error(`diemcau: ${e.message}`));
  });
  const showConsumer = (rc: ReceivedConsumer): void => {
    if (rc.slot === 'onair' && rc.consumer.kind === 'video') {
      $<HTMLVideoElement>('program').srcObject = new MediaStream([rc.consumer.track]);
    } else if (rc.slot === 'thumb') {
      const tile = document.createElement('div');
      tile.className = 'thumb';
      const v = document.createElement('video');
      v.autoplay = true;
      v.muted = true;
      v.playsInline = true;
      v.srcObject = new MediaStream([rc.consumer.track]);
      const label = document.createElement('span');
      label.textContent = bridges.get(rc.bridgeId)?.name ?? rc.bridgeId;
      tile.append(v, label);
      $('thumbs').append(tile);
      tiles.set(rc.consumer.id, tile);
    }
  };
  client.on('consumer', showConsumer);
  client.on('consumerslot', showConsumer);
  client.on('consumerclosed', (rc) => {
    tiles.get(rc.consumer.id)?.remove();
    tiles.delete(rc.consumer.id);
  });
}

void main();
