import { MediaClient, leaveOnPageHide, type ReceivedConsumer } from '../shared/MediaClient.ts';
import { ControlClient } from '../shared/ControlClient.ts';
import { connectionText, loadBridges } from '../shared/bridges.ts';
import { controlEndpoints, roleName, signIn } from '../shared/session.ts';
import { stopOnRefusal } from '../shared/refusal.ts';
import { h } from '../shared/ui.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** One hall's tile: always there, named, with its state; its picture when the server sends one. */
interface Tile {
  el: HTMLElement;
  video: HTMLVideoElement;
  empty: HTMLElement;
  state: HTMLElement;
  consumerId: string | null;
}

/**
 * A receive-only console (chair, secretary or technician) showing halls as low-resolution
 * thumbnails. Every hall asked for has a labelled tile, the ones not connected included
 * ("Chưa kết nối", "Mất kết nối"), so the wall says which hall is which and which are missing.
 */
async function main(): Promise<void> {
  const session = await signIn();
  if (!session) return;
  const { token, me } = session;
  const bridges = await loadBridges();
  const params = new URLSearchParams(location.search);
  const districts = [...bridges.values()].filter((b) => b.tier === 'district').map((b) => b.id);
  const wanted = params.has('bridges') ? (params.get('bridges') ?? '').split(',').filter((id) => bridges.has(id)) : districts;
  $('title').textContent = `Giám sát các điểm cầu — ${roleName(me.role)}`;

  const control = new ControlClient(controlEndpoints(), token);
  const client = new MediaClient({ placement: control.mediaTargets(), token, publish: false });
  leaveOnPageHide(client);
  stopOnRefusal(control, client);
  (window as unknown as { diemcau: unknown }).diemcau = { client, control, me };
  const tiles = new Map<string, Tile>();
  const byConsumer = new Map<string, string>();
  for (const id of wanted) {
    const video = h('video', { autoplay: true, muted: true, playsInline: true });
    const empty = h('div', { class: 'thumb-empty' }, 'Chưa kết nối');
    const state = h('span', { class: 'state' }, '');
    const el = h('figure', { class: 'thumb offline', dataset: { bridgeId: id } }, video, empty, h('figcaption', {}, h('span', { class: 'name' }, bridges.get(id)!.name), state));
    tiles.set(id, { el, video, empty, state, consumerId: null });
  }
  $('thumbs').replaceChildren(...[...tiles.values()].map((t) => t.el));

  /** A tile's state from the roll-call (and whether its picture arrived). */
  const paint = (): void => {
    const presence = control.view?.presence ?? {};
    let online = 0;
    for (const [id, tile] of tiles) {
      const p = presence[id];
      const on = p?.online === true;
      if (on) online++;
      tile.el.className = `thumb ${on ? 'online' : 'offline'}`;
      tile.state.textContent = on ? (p?.ready ? 'Sẵn sàng' : 'Trực tuyến') : 'Chưa kết nối';
      tile.empty.textContent = on ? 'Chưa có hình' : 'Chưa kết nối';
      tile.empty.hidden = on && tile.consumerId !== null;
    }
    $('summary').textContent = `${online}/${tiles.size} điểm cầu trực tuyến`;
    const program = control.view?.programme.bridgeName;
    $('program-caption').textContent = program ? `Tín hiệu chương trình: ${program}` : 'Tín hiệu chương trình';
  };

  client.on('error', (detail) => console.error(`diemcau: ${detail.message}`));
  client.on('state', (detail) => {
    const state = detail.state;
    $('conn-state').textContent = connectionText(state);
    if (state === 'live' && wanted.length) void client.setThumbnails(wanted).catch((e: Error) => console.error(`diemcau: ${e.message}`));
  });
  const showConsumer = (rc: ReceivedConsumer): void => {
    if (rc.slot === 'onair' && rc.consumer.kind === 'video') {
      $<HTMLVideoElement>('program').srcObject = new MediaStream([rc.consumer.track]);
    } else if (rc.slot === 'thumb' && rc.consumer.kind === 'video') {
      const tile = tiles.get(rc.bridgeId);
      if (!tile) return;
      tile.video.srcObject = new MediaStream([rc.consumer.track]);
      tile.consumerId = rc.consumer.id;
      byConsumer.set(rc.consumer.id, rc.bridgeId);
      paint();
    }
  };
  client.on('consumer', showConsumer);
  client.on('consumerslot', showConsumer);
  client.on('consumerclosed', (rc) => {
    const id = byConsumer.get(rc.consumer.id);
    byConsumer.delete(rc.consumer.id);
    const tile = id ? tiles.get(id) : undefined;
    if (tile && tile.consumerId === rc.consumer.id) {
      tile.video.srcObject = null;
      tile.consumerId = null;
      paint();
    }
  });
  control.on('view', paint);
  paint();
}

void main();
