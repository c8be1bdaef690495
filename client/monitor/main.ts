import { MediaClient, type ReceivedConsumer } from '../shared/MediaClient.ts';
import { connectionText, loadBridges } from '../shared/bridges.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** A receive-only console (chair or technician) showing halls as low-resolution thumbnails. */
async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const kind = params.get('kind') === 'chair' ? 'chair' : 'technician';
  const bridges = await loadBridges();
  const wanted = (params.get('bridges') ?? '').split(',').filter((id) => bridges.has(id));
  $('title').textContent = kind === 'chair' ? 'Chủ tọa — xem các điểm cầu' : 'Kỹ thuật — giám sát các điểm cầu';

  const client = new MediaClient({ url: location.origin, auth: { role: 'console', kind }, publish: false });
  (window as unknown as { diemcau: unknown }).diemcau = { client };
  const tiles = new Map<string, HTMLElement>();

  client.on('error', (detail) => console.error(`diemcau: ${(detail as { message: string }).message}`));
  client.on('state', (detail) => {
    const state = (detail as { state: string }).state;
    $('conn-state').textContent = connectionText(state);
    if (state === 'live' && wanted.length) void client.setThumbnails(wanted);
  });
  const showConsumer = (detail: unknown): void => {
    const rc = detail as ReceivedConsumer;
    if (rc.slot === 'program' && rc.consumer.kind === 'video') {
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
  client.on('consumerclosed', (detail) => {
    const rc = detail as ReceivedConsumer;
    tiles.get(rc.consumer.id)?.remove();
    tiles.delete(rc.consumer.id);
  });
}

void main();
