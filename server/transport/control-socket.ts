import type { Namespace, Socket } from 'socket.io';
import type { Conference } from '../app/Conference.ts';
import { isStaff } from '../app/view.ts';
import { conferenceGate, guardNamespace, onRequest } from './socket-requests.ts';
import { linkChecklist } from '../core/health.ts';
import { presenceOf } from '../core/conference/index.ts';
import {
  ControlRequests,
  type ControlAck,
  type ControlClientEvents,
  type ControlReplies,
  type ControlRequest,
  type ControlRequestName,
  type ControlServerEvents,
  type Principal,
} from '../protocol/control.ts';
import type { ConferenceEvent } from '../core/conference/index.ts';
import type { EventMeta } from '../app/conference/ConferenceRunner.ts';
import { clusterSummary, peerKeyOf, type MediaWhere } from '../app/placement/MediaPlacement.ts';

type ControlSocket = Socket<ControlClientEvents, ControlServerEvents, Record<string, never>, { principal: Principal }>;

/** The handler of each control request: its parsed payload in, its acknowledgement out. */
type ControlHandlers = { [N in ControlRequestName]: (payload: ControlRequest<N>) => Promise<ControlAck<ControlReplies[N]>> };

/** Rooms a principal's sockets join: everybody, its role, staff, its bridge. */
function roomsOf(p: Principal): string[] {
  const rooms = ['all', `role:${p.role}`];
  if (isStaff(p)) rooms.push('staff');
  if (p.role === 'operator') rooms.push(`bridge:${p.bridgeId}`);
  return rooms;
}

/**
 * While changes keep coming, pushing every display its view may take at most this share of the
 * event loop: a push to 5,000 halls takes a few hundred milliseconds, and back to back they
 * would starve the connections of a join storm. A change after a quiet spell still goes at once.
 */
export const VIEW_PUSH_SHARE = 0.25;

/** How long a hall's pre-meeting link test runs. */
const LINK_TEST_MS = 8000;

const forbidden = (message: string) => ({ ok: false, error: { code: 'forbidden', message } }) as const;

/**
 * Wires the conference's control to a socket.io namespace: authenticate, parse, execute, ack,
 * push views. `current` gives the conference; call the returned `rebind` after it was replaced.
 */
export function attachControlSignaling(
  nsp: Namespace<ControlClientEvents, ControlServerEvents>,
  current: () => Conference,
  options: { viewDebounceMs?: number } = {},
): { rebind: () => void; close: () => void } {
  const debounceMs = options.viewDebounceMs ?? 40;

  guardNamespace(nsp as unknown as Namespace, conferenceGate(current), Object.keys(ControlRequests));

  nsp.on('connection', (raw) => {
    const socket = raw as ControlSocket;
    const principal = socket.data.principal;
    const conference = current();
    void socket.join(roomsOf(principal));
    // An operator's first view already shows its hall online, and its requests are answered only
    // from then on: a page's first command (socket.io sends it the moment the socket connects)
    // must not find its own hall offline because the roll-call was still on its way to the state.
    const online = (principal.role === 'operator' ? conference.bridgeConnected(principal.bridgeId) : Promise.resolve()).catch(() => undefined);
    void online.then(() => {
      if (!socket.connected) return;
      socket.emit('control:view', conference.view(principal));
      socket.emit('link:audioOnly', { at: conference.clock.now(), halls: conference.signals.audioOnly() });
    });

    const handlers: ControlHandlers = {
      'time:sync': async ({ clientNow }) => ({ ok: true, data: { clientNow, serverNow: conference.clock.now() } }),
      'control:snapshot': async () => ({ ok: true, data: conference.view(principal) }),
      'health:report': async (report) => {
        if (principal.role !== 'operator') return forbidden('only a hall reports its link');
        conference.health.reportFromClient(principal.bridgeId, report);
        return { ok: true, data: {} };
      },
      'health:bridge': async ({ bridgeId }) => {
        if (!isStaff(principal)) return forbidden('technicians, chair and secretary only');
        const health = conference.health.book.get(bridgeId);
        return { ok: true, data: { bridgeId, status: health?.status ?? null, reasons: health?.reasons ?? [], since: health?.since ?? null, history: health?.history ?? [], events: conference.health.events(bridgeId), test: conference.health.lastTest(bridgeId) } };
      },
      'health:startTest': async ({ bridgeIds }) => {
        if (!isStaff(principal)) return forbidden('technicians, chair and secretary only');
        const testId = `t${conference.clock.now().toString(36)}`;
        for (const id of bridgeIds) nsp.to(`bridge:${id}`).emit('health:runTest', { testId, durationMs: LINK_TEST_MS });
        return { ok: true, data: { testId, bridgeIds } };
      },
      'health:testResult': async (result) => {
        if (principal.role !== 'operator') return forbidden('only a hall reports its test');
        conference.health.testResult(principal.bridgeId, result);
        const checklist = linkChecklist({ ...result, reportedReady: presenceOf(conference.runner.state, principal.bridgeId).ready });
        const bridgeName = conference.plan.bridges.find((b) => b.id === principal.bridgeId)?.name ?? principal.bridgeId;
        nsp.to('staff').emit('health:test', { bridgeId: principal.bridgeId, bridgeName, at: conference.clock.now(), result, checklist: checklist.items, ready: checklist.ready });
        return { ok: true, data: checklist };
      },
      'control:command': async (command) => {
        const result = await conference.execute(principal, command);
        if (result.ok) return { ok: true, data: { seq: result.seq, events: result.events.map((e) => e.type) } };
        return { ok: false, error: result.error };
      },
      'media:where': async () => {
        const key = peerKeyOf(principal);
        // From now on this socket hears where the page's media moves.
        void socket.join(`peer:${key}`);
        return { ok: true, data: { placement: await conference.placement.where(key) } };
      },
      'cluster:nodes': async () => {
        if (!isStaff(principal)) return forbidden('technicians, chair and secretary only');
        return { ok: true, data: summary() };
      },
    };
    for (const name of Object.keys(ControlRequests) as ControlRequestName[]) listen(socket, name, principal.role === 'operator' ? after(online, handlers[name]) : handlers[name]);

    socket.on('disconnect', () => {
      if (principal.role === 'operator') void conference.bridgeDisconnected(principal.bridgeId);
    });
  });

  // Views go to this process's own sockets (each process's runner re-emits remote changes).
  // The first change after a quiet spell is pushed at once (a grant must not wait for a timer);
  // changes that keep coming (a join storm) are pushed at most once per window: the debounce,
  // or longer when a push is long, so that pushes take at most VIEW_PUSH_SHARE of the loop.
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let dirty = false;
  // `coalesced`: this push carries changes that came during the last window (they keep coming).
  const pushViews = (coalesced: boolean): void => {
    immediate = undefined;
    dirty = false;
    const started = performance.now();
    const viewOf = current().views();
    for (const socket of nsp.sockets.values()) {
      const principal = (socket as ControlSocket).data.principal;
      if (principal) socket.emit('control:view', viewOf(principal));
    }
    const took = performance.now() - started;
    // Only while changes keep coming does the window grow with the push: a grant after a lone
    // change (a hall asking for the floor) waits at most the debounce.
    timer = setTimeout(
      () => {
        timer = undefined;
        if (dirty) immediate = setImmediate(() => pushViews(true));
      },
      coalesced ? Math.max(debounceMs, took * (1 / VIEW_PUSH_SHARE - 1)) : debounceMs,
    );
  };
  const onChanged = (): void => {
    if (immediate) return;
    if (timer) {
      dirty = true;
      return;
    }
    // After the current tick, so that the events of one change go out before its views.
    immediate = setImmediate(() => pushViews(false));
  };
  // Per plan, not per alert: a storm of 5,000 halls raised 5,000 alerts, each made a map of all 10,000 names.
  let named: { plan: Conference['plan']; names: Map<string, string> } | undefined;
  const names = (): Map<string, string> => {
    const plan = current().plan;
    if (named?.plan !== plan) named = { plan, names: new Map(plan.bridges.map((b) => [b.id, b.name])) };
    return named.names;
  };
  const summary = () => clusterSummary(current().placement, current().plan.bridges.map((b) => b.id), current().clock.now());
  const pushNodes = (): void => void nsp.local.to('staff').emit('cluster:nodes', summary());
  const onSampled = (): void => {
    nsp.local.to('staff').emit('health:summary', { at: current().clock.now(), bridges: current().health.book.summary() });
    pushNodes();
  };
  // Each instance tells its own sockets (every instance hears every move on the store's channel).
  const onMoved = (where: MediaWhere): void => {
    nsp.local.to(`peer:${where.peerKey}`).emit('media:placement', where);
  };
  let nodesTimer: NodeJS.Timeout | undefined;
  const onPlacementChanged = (): void => {
    nodesTimer ??= setTimeout(() => {
      nodesTimer = undefined;
      pushNodes();
    }, 200);
  };
  const onAlert = (alert: { bridgeId: string; at: number; from: string | null; to: string; reasons: string[] }): void => {
    nsp.local.to('staff').emit('health:alert', { ...alert, bridgeName: names().get(alert.bridgeId) ?? alert.bridgeId });
  };
  // Conference events go to the staff consoles (the chair's log, the technicians). Halls and the
  // press draw everything from their views: sending them the events too put four or five frames
  // per grant in front of the view on every hall's socket.
  const onEvent = (event: ConferenceEvent, meta: EventMeta): void => {
    nsp.local.to('staff').emit('control:event', { ...event, seq: meta.seq, at: meta.at });
  };
  // Who is heard and how loud, for the chair's tiles: every node's halls (their nodes tell every
  // control instance), or this process's own media in the embedded default.
  const onLevels = (levels: { bridgeId: string; dBov: number }[]): void => {
    nsp.local.to('staff').emit('audio:levels', { at: current().clock.now(), levels });
  };
  // Weak links, wherever the halls' media is (the nodes tell every control instance): every page.
  const onAudioOnly = (halls: { bridgeId: string; up: boolean; down: boolean }[]): void => {
    nsp.local.emit('link:audioOnly', { at: current().clock.now(), halls });
  };
  let bound: Conference | undefined;
  const unbind = (): void => {
    bound?.signals.off('audioonly', onAudioOnly);
    bound?.signals.off('levels', onLevels);
    bound?.off('changed', onChanged);
    bound?.off('event', onEvent);
    bound?.health.off('sampled', onSampled);
    bound?.health.off('alert', onAlert);
    bound?.placement.off('moved', onMoved);
    bound?.placement.off('changed', onPlacementChanged);
    bound = undefined;
  };
  const rebind = (): void => {
    unbind();
    bound = current();
    bound.on('changed', onChanged);
    bound.signals.on('audioonly', onAudioOnly);
    // A replaced conference: the pages drop what the old one said.
    if (nsp.sockets.size > 0) onAudioOnly(bound.signals.audioOnly());
    bound.signals.on('levels', onLevels);
    bound.on('event', onEvent);
    bound.health.on('sampled', onSampled);
    bound.health.on('alert', onAlert);
    bound.placement.on('moved', onMoved);
    bound.placement.on('changed', onPlacementChanged);
  };
  rebind();
  return {
    rebind,
    close: () => {
      clearTimeout(timer);
      clearTimeout(nodesTimer);
      clearImmediate(immediate);
      unbind();
    },
  };
}

/** The handler, run once `ready` has resolved. */
function after<N extends ControlRequestName>(ready: Promise<unknown>, handler: ControlHandlers[N]): ControlHandlers[N] {
  return (async (payload: ControlRequest<N>) => {
    await ready;
    return (handler as (payload: ControlRequest<N>) => Promise<ControlAck<ControlReplies[N]>>)(payload);
  }) as ControlHandlers[N];
}

/** Validates one request's payload against its schema and answers through its handler (one name: its types line up). */
function listen<N extends ControlRequestName>(socket: ControlSocket, name: N, handler: ControlHandlers[N]): void {
  onRequest(socket as unknown as Socket, name, ControlRequests[name], handler as (payload: unknown) => Promise<ControlAck<unknown>>);
}
