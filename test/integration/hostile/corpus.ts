// The project's own corpus of hostile and broken input (issue 18): what an adversary or a broken
// client sends to every socket.io request, to the handshakes, as raw socket.io frames, and to
// every REST route. Every payload here must be refused (or, for a read, answered) without
// changing the conference. Generic junk (types, sizes, nesting, prototype keys, non-finite and
// huge numbers, unicode junk) applies to everything; each request and route adds its own:
// near-valid payloads spoiled in one field, missing and extra fields, and what its rules refuse.
// (Over 400 lines: one table per request and per route, side by side, is the point of the file.)

/** One payload: what it is, and the value sent. */
export type Payload = [label: string, value: unknown];

/** What the corpus needs to know of the running conference. */
export interface CorpusContext {
  /** A bridge that is not connected (requests for it are refused by the rules). */
  offlineBridge: string;
  /** The bridge of the operator that sends the operator corpus. */
  ownBridge: string;
  /** Another bridge (an operator may not act for it). */
  otherBridge: string;
  /** A send transport of the media socket that sends the media corpus. */
  transportId: string;
  /** A well-formed access token that grants nothing. */
  unknownToken: string;
  /** A paper slot of the plan (an upload to it is refused for what it carries, never for its slot). */
  paperSlot: string;
}

const nest = (depth: number, leaf: unknown = 1): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};
const nestObject = (depth: number): unknown => {
  let v: unknown = { leaf: true };
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};
const proto = (): unknown => JSON.parse('{"__proto__": {"polluted": true}, "type": "grant_next"}');

/** Junk for any payload: at least 30 values of every kind a payload must not be. */
export function junk(): Payload[] {
  return [
    ['nothing', undefined],
    ['null', null],
    ['true', true],
    ['false', false],
    ['zero', 0],
    ['minus one', -1],
    ['NaN (null on the wire)', NaN],
    ['Infinity (null on the wire)', Infinity],
    ['2^53 + 2', 2 ** 53 + 2],
    ['1e308', 1e308],
    ['an empty string', ''],
    ['a command name as a string', 'grant_next'],
    ['a string of 60 kB', 'x'.repeat(60_000)],
    ['control and bidi characters', '\u0000\u0007\u001B[2J\u202E\uD800'],
    ['emoji', '🙂'.repeat(200)],
    ['an empty array', []],
    ['an array of junk', [1, 'a', null, {}]],
    ['arrays nested 500 deep', nest(500)],
    ['objects nested 500 deep', nestObject(500)],
    ['an object of 2,000 keys', Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i]))],
    ['an array of 10,000 numbers', Array(10_000).fill(7)],
    ['a __proto__ key', proto()],
    ['a constructor key', { constructor: { prototype: { polluted: true } } }],
    ['a prototype key', { prototype: { polluted: true } }],
    ['a toString key', { toString: 'x', valueOf: 1 }],
    ['type is a number', { type: 42 }],
    ['type is __proto__', { type: '__proto__' }],
    ['type is constructor', { type: 'constructor' }],
    ['type is hasOwnProperty', { type: 'hasOwnProperty' }],
    ['type is an object', { type: { toString: 'grant_next' } }],
    ['binary', Buffer.from([0xde, 0xad, 0xbe, 0xef])],
    ['a date', new Date(0).toISOString()],
    ['huge numbers everywhere', { clientNow: 1e308, attendees: 2 ** 60, index: -(2 ** 60), seconds: Number.MAX_VALUE }],
  ];
}

/** Values that replace one field of a near-valid payload. */
const FIELD_JUNK: Payload[] = [
  ['null', null],
  ['a number', 12345],
  ['a negative number', -1],
  ['a fraction', 0.5],
  ['1e308', 1e308],
  ['a string', 'xyz'],
  ['an empty string', ''],
  ['a string of 20 kB', 'y'.repeat(20_000)],
  ['an object', { a: 1 }],
  ['an array', ['a']],
  ['true', true],
  ['a __proto__ object', JSON.parse('{"__proto__": {"polluted": true}}')],
  ['zero-width and bidi text', 'Lê\u200B\u202EVăn'],
];

/** Every field of a template replaced by each junk value, every field left out, and unknown fields added. */
export function spoil(label: string, template: Record<string, unknown>, fixed: readonly string[] = ['type']): Payload[] {
  const out: Payload[] = [];
  for (const field of Object.keys(template)) {
    if (fixed.includes(field)) continue;
    for (const [what, value] of FIELD_JUNK) out.push([`${label}: ${field} ${what}`, { ...template, [field]: value }]);
    out.push([`${label}: without ${field}`, Object.fromEntries(Object.entries(template).filter(([k]) => k !== field))]);
  }
  out.push([`${label}: with __proto__`, { ...JSON.parse('{"__proto__": {"polluted": true}}'), ...template, ...JSON.parse('{"__proto__": {"polluted": true}}') }]);
  out.push([`${label}: with an actor`, { ...template, actor: { role: 'system' } }]);
  out.push([`${label}: with constructor`, { ...template, constructor: { prototype: { polluted: true } } }]);
  out.push([`${label}: with an unknown field`, { ...template, admin: true }]);
  return out;
}

/** Text no person types, for every free-text field. */
const BAD_TEXT = ['Nguyễn\u0000Văn', 'Lê\u202EVăn', 'Lê\u200BVăn', 'Lê\uD800Văn', 'Z' + '\u0301'.repeat(119), '\u3164', 'Lê\u2028Văn', '   '];

/** Commands a person sends, each near-valid and refused anyway (offline hall, no such request, no floor, wrong date…). */
function commandCorpus(ctx: CorpusContext): Payload[] {
  const out: Payload[] = [];
  const refusedTemplates: [string, Record<string, unknown>][] = [
    ['request_floor for an offline hall', { type: 'request_floor', bridgeId: ctx.offlineBridge, speakerName: 'Nguyễn Thị Ánh Tuyết', speakerTitle: 'Chủ tịch', topic: 'Xã Quốc Khánh' }],
    ['cancel_request of no request', { type: 'cancel_request', requestId: 'r999' }],
    ['move_request of no request', { type: 'move_request', requestId: 'r999', toIndex: 1 }],
    ['grant_floor of no request', { type: 'grant_floor', requestId: 'r999' }],
    ['timer_extend without a floor', { type: 'timer_extend', seconds: 60 }],
    ['agenda_goto past the end', { type: 'agenda_goto', index: 999 }],
    ['report_ready for an offline hall', { type: 'report_ready', bridgeId: ctx.offlineBridge, attendees: 12, ready: true }],
    ['set_date of a day that is not', { type: 'set_date', date: '2021-02-30' }],
    ['set_maket with hidden text', { type: 'set_maket', maket: { lines: ['HỘI NGHỊ', 'Lê\u202EVăn'], background: '#c00000' } }],
    ['mute_hall of a hall not in the plan', { type: 'mute_hall', bridgeId: 'c-99999', muted: true }],
    ['content_show of no paper', { type: 'content_show', paperId: 'AAAAAAAAAAAAAAAA', page: 1 }],
    ['content_page with nothing on screen', { type: 'content_page', page: 2 }],
    ['send_message to a hall not in the plan', { type: 'send_message', to: 'c-99999', kind: 'text', text: 'Xin kiểm tra micrô' }],
  ];
  for (const [label, template] of refusedTemplates) {
    out.push([label, template]);
    out.push(...spoil(label, template));
  }
  // Commands without fields, refused in a meeting that has not started, or only with an extra field.
  for (const type of ['end_meeting', 'grant_next', 'revoke_floor', 'yield_floor', 'timer_pause', 'timer_resume', 'break_start', 'break_end', 'recording_stop', 'content_clear', 'screen_share_start', 'screen_share_stop']) {
    out.push([type, { type }]);
  }
  for (const type of ['start_meeting', 'agenda_next', 'agenda_prev', 'recording_start']) {
    out.push([`${type} with an unknown field`, { type, now: true }]);
    out.push([`${type} with an actor`, { type, actor: { role: 'system' } }]);
    out.push([`${type} with __proto__`, { type, ...JSON.parse('{"__proto__": {"x": 1}}'), extra: 1 }]);
  }
  for (const type of ['tick', 'bridge_connected', 'bridge_disconnected', 'presence_update', 'screen_source_lost', 'paper_submit', 'launch_rockets', 'toString', '__proto__', 'constructor']) {
    out.push([`${type}, not a person's command`, { type, bridgeId: ctx.ownBridge }]);
  }
  for (const text of BAD_TEXT) {
    out.push([`request_floor name ${JSON.stringify(text).slice(0, 20)}`, { type: 'request_floor', bridgeId: ctx.ownBridge, speakerName: text, speakerTitle: 'Chủ tịch' }]);
    out.push([`request_floor title ${JSON.stringify(text).slice(0, 20)}`, { type: 'request_floor', bridgeId: ctx.ownBridge, speakerName: 'Ưởng', speakerTitle: text }]);
    out.push([`request_floor topic ${JSON.stringify(text).slice(0, 20)}`, { type: 'request_floor', bridgeId: ctx.ownBridge, speakerName: 'Ưởng', speakerTitle: 'Chủ tịch', topic: text.trim() ? text : 'x'.repeat(301) }]);
    out.push([`send_message text ${JSON.stringify(text).slice(0, 20)}`, { type: 'send_message', to: 'staff', kind: 'text', text: text.trim() ? text : 'z'.repeat(281) }]);
    out.push([`set_maket line ${JSON.stringify(text).slice(0, 20)}`, { type: 'set_maket', maket: { lines: [text.trim() ? text : 'y'.repeat(201)] } }]);
  }
  out.push(['13 maket lines', { type: 'set_maket', maket: { lines: Array(13).fill('X') } }]);
  out.push(['a maket colour that is not one', { type: 'set_maket', maket: { background: 'red' } }]);
  out.push(['a maket with a script', { type: 'set_maket', maket: { lines: ['<script>alert(1)</script>'], textColour: 'javascript:alert(1)' } }]);
  out.push(['a date as a number', { type: 'set_date', date: 20211126 }]);
  out.push(['a date in another format', { type: 'set_date', date: '26/11/2021' }]);
  out.push(['an operator acting for another hall', { type: 'report_ready', bridgeId: ctx.otherBridge, attendees: 1 }]);
  out.push(['a bridge id that walks paths', { type: 'report_ready', bridgeId: '../../etc/passwd', attendees: 1 }]);
  out.push(['a bridge id of __proto__', { type: 'report_ready', bridgeId: '__proto__', attendees: 1 }]);
  return out;
}

/** The near-valid payload of each media request is spoiled one way at a time. */
function codecs(): Record<string, unknown>[] {
  return [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } }];
}

function produceCorpus(ctx: CorpusContext): Payload[] {
  const base = (rtp: Record<string, unknown>, over: Record<string, unknown> = {}) => ({ transportId: ctx.transportId, kind: 'audio', source: 'mic', rtpParameters: { mid: '0', codecs: codecs(), encodings: [{ ssrc: 1111 }], ...rtp }, ...over });
  const codec = (over: Record<string, unknown>) => base({ codecs: [{ ...codecs()[0], ...over }] });
  const encoding = (over: Record<string, unknown>) => base({ encodings: [{ ssrc: 1111, ...over }] });
  return [
    ['ssrc 2^40', encoding({ ssrc: 2 ** 40 })],
    ['ssrc -1', encoding({ ssrc: -1 })],
    ['rtx ssrc 2^32', encoding({ rtx: { ssrc: 2 ** 32 } })],
    ['scalabilityMode L99T99', encoding({ scalabilityMode: 'L99T99' })],
    ['scalabilityMode of 1 kB', encoding({ scalabilityMode: 'L'.repeat(1000) })],
    ['maxBitrate 1e15', encoding({ maxBitrate: 1e15 })],
    ['rid of 100 characters', encoding({ rid: 'r'.repeat(100) })],
    ['clockRate 2^40', codec({ clockRate: 2 ** 40 })],
    ['clockRate 0', codec({ clockRate: 0 })],
    ['channels -1', codec({ channels: -1 })],
    ['channels 255', codec({ channels: 255 })],
    ['payloadType 128', codec({ payloadType: 128 })],
    ['payloadType 1.5', codec({ payloadType: 1.5 })],
    ['a mime type that is not', codec({ mimeType: 'application/x-evil' })],
    ['17 codec parameters', codec({ parameters: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`p${i}`, i])) })],
    ['a codec parameter of 1 kB', codec({ parameters: { x: 'y'.repeat(1000) } })],
    ['a header extension id 0', base({ headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 0 }] })],
    ['33 header extensions', base({ headerExtensions: Array(33).fill({ uri: 'urn:x', id: 1 }) })],
    ['5 encodings', base({ encodings: [1, 2, 3, 4, 5].map((ssrc) => ({ ssrc })) })],
    ['17 codecs', base({ codecs: Array(17).fill(codecs()[0]) })],
    ['no codecs', base({ codecs: [] })],
    ['a cname of 1 kB', base({ rtcp: { cname: 'c'.repeat(1000) } })],
    ['VP9, which the router does not offer', base({ codecs: [{ mimeType: 'video/VP9', payloadType: 98, clockRate: 90000 }] }, { kind: 'video', source: 'cam' })],
    ['an audio codec for a camera', base({}, { kind: 'video', source: 'cam' })],
    ['a microphone sent as video', base({}, { kind: 'video' })],
    ['an unknown transport', base({}, { transportId: '00000000-0000-4000-8000-000000000000' })],
    ['a transport id that is not a uuid', base({}, { transportId: '../../x' })],
    ['source screen', base({}, { source: 'screen' })],
    ['kind data', base({}, { kind: 'data' })],
    ['an unknown field', base({}, { admin: true })],
  ];
}

/** Each socket request's own corpus (added to the generic junk). A request missing here fails the suite. */
export const REQUEST_CORPUS: Record<string, (ctx: CorpusContext) => Payload[]> = {
  'control:command': commandCorpus,
  'control:snapshot': () => spoil('snapshot', { all: true }, []),
  'time:sync': () => [...spoil('time:sync', { clientNow: 'now' }, []), ['clientNow -Infinity (null)', { clientNow: -Infinity }]],
  'health:report': (ctx) => [
    ...spoil('link report', { rttMs: 1e9, lossUpPct: 250 }, []),
    ['a media path that is not', { mediaPath: 'carrier-pigeon' }],
    ['another hall named', { bridgeId: ctx.otherBridge, rttMs: 20 }],
  ],
  'health:bridge': (ctx) => [...spoil('health of a bridge', { bridgeId: '../../etc' }, []), ['a bridge of __proto__', { bridgeId: '__proto__' }], ['an unknown bridge as a number', { bridgeId: 5971 }], ['two bridges', { bridgeId: [ctx.ownBridge, ctx.otherBridge] }]],
  'health:startTest': (ctx) => [...spoil('link test', { bridgeIds: [] }, []), ['257 halls', { bridgeIds: Array(257).fill(ctx.ownBridge) }], ['bridge ids that are not', { bridgeIds: ['../x', '__proto__'] }]],
  'health:testResult': () => [
    // Two fields wrong, so that every payload spoiled in one more field is still wrong.
    ...spoil('test result', { testId: '../../etc', rttMs: -5, lossPct: 0, bitrateKbps: 900, camera: true, microphone: true, mediaConnected: true }, []),
    ['a test id with a script', { testId: '<script>', camera: true, microphone: true, mediaConnected: true }],
  ],
  'media:join': () => [
    ...spoil('join', { admin: true }, []),
    ...spoil('join with a page id', { clientId: '../../etc', takeOver: 'yes' }, []),
    ['join as another role', { role: 'chair' }],
    ['join as another bridge', { bridgeId: 'p-20' }],
    ['a page id of 1 kB', { clientId: 'a'.repeat(1000) }],
    ['a page id with bidi', { clientId: 'abcdefgh\u202E' }],
    ['a screen share that is not a yes or no', { screen: 'yes' }],
    ['a screen share for another bridge', { screen: true, bridgeId: 'p-20' }],
  ],
  'media:capabilities': () => {
    const cap = (over: Record<string, unknown>) => ({ rtpCapabilities: { codecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, ...over }] } });
    return [
      ...spoil('capabilities', { rtpCapabilities: { codecs: 'all' } }, []),
      ['clockRate 2^40', cap({ clockRate: 2 ** 40 })],
      ['channels -1', cap({ channels: -1 })],
      ['kind data', cap({ kind: 'data' })],
      ['preferredPayloadType 300', cap({ preferredPayloadType: 300 })],
      ['65 codecs', { rtpCapabilities: { codecs: Array(65).fill({ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000 }) } }],
      ['a header extension id 1000', { rtpCapabilities: { codecs: cap({}).rtpCapabilities.codecs, headerExtensions: [{ kind: 'audio', uri: 'urn:x', preferredId: 1000 }] } }],
      ['a header extension direction that is not', { rtpCapabilities: { codecs: cap({}).rtpCapabilities.codecs, headerExtensions: [{ kind: 'audio', uri: 'urn:x', preferredId: 1, direction: 'sideways' }] } }],
    ];
  },
  'media:createTransport': () => [...spoil('transport', { direction: 'sideways' }, []), ['direction SEND', { direction: 'SEND' }], ['a transport for another bridge', { direction: 'recv', bridgeId: 'p-20' }]],
  'media:connectTransport': (ctx) => {
    const fp = (over: Record<string, unknown>) => ({ transportId: '00000000-0000-4000-8000-000000000000', dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: Array(32).fill('AB').join(':'), ...over }] } });
    return [
      ...spoil('connect', { transportId: ctx.transportId, dtlsParameters: { fingerprints: [] } }, []),
      ['an unknown transport', fp({})],
      ['a fingerprint of 2 bytes', { ...fp({ value: 'AB:CD' }), transportId: ctx.transportId }],
      ['a fingerprint of md5', { ...fp({ algorithm: 'md5' }), transportId: ctx.transportId }],
      ['a fingerprint that is not hex', { ...fp({ value: Array(32).fill('ZZ').join(':') }), transportId: ctx.transportId }],
      ['9 fingerprints', { transportId: ctx.transportId, dtlsParameters: { fingerprints: Array(9).fill(fp({}).dtlsParameters.fingerprints[0]) } }],
      ['a role that is not', { transportId: ctx.transportId, dtlsParameters: { role: 'boss', fingerprints: fp({}).dtlsParameters.fingerprints } }],
    ];
  },
  'media:produce': produceCorpus,
  'media:restartIce': (ctx) => [...spoil('restart ICE', { transportId: '../../x' }, []), ['an unknown transport', { transportId: '00000000-0000-4000-8000-000000000000' }], ['another field', { transportId: ctx.transportId, iceParameters: { usernameFragment: 'x' } }]],
  'media:sendMode': () => [...spoil('send mode', { mode: 'carrier-pigeon', availableKbps: 300 }, []), ['a bandwidth of 1e12', { mode: 'video', availableKbps: 1e12 }], ['a negative bandwidth', { mode: 'audio-only', availableKbps: -1 }]],
  'media:where': () => [...spoil('where', { admin: true }, []), ['a node of its own choosing', { nodeId: 'evil', mediaUrl: 'http://10.0.0.66' }]],
  'cluster:nodes': () => [...spoil('nodes', { drain: 'all' }, []), ['a node to drain', { nodeId: 'home', draining: true }]],
  'media:thumbnails': (ctx) => [...spoil('thumbnails', { bridgeIds: ['../../etc'] }, []), ['257 halls', { bridgeIds: Array(257).fill(ctx.ownBridge) }], ['__proto__ as a bridge', { bridgeIds: ['__proto__'] }]],
};

/** Handshake `auth` values of sockets that must not get in. */
export function handshakeCorpus(ctx: CorpusContext): Payload[] {
  return [
    ...junk().filter(([, v]) => v === undefined || v === null || typeof v !== 'object' || Array.isArray(v) || Object.keys(v as object).length < 100),
    ['a token of 21 characters', { token: ctx.unknownToken.slice(1) }],
    ['a token of 23 characters', { token: `${ctx.unknownToken}A` }],
    ['a well-formed unknown token', { token: ctx.unknownToken }],
    ['a token with a slash', { token: `${ctx.unknownToken.slice(1)}/` }],
    ['a token as a number', { token: 1234567890123456789012 }],
    ['a token as an array', { token: [ctx.unknownToken] }],
    ['a token as an object', { token: { $ne: null } }],
    ['a token of 10 kB', { token: 'A'.repeat(10_000) }],
    ['a token with a NUL', { token: `${ctx.unknownToken.slice(1)}\u0000` }],
    ['a bearer string', { token: `Bearer ${ctx.unknownToken}` }],
    ['a role instead of a token', { role: 'chair' }],
    ['a __proto__ token', JSON.parse(`{"__proto__": {"token": "${ctx.unknownToken}"}}`)],
  ];
}

/** Event names no namespace has (each refused with unknown_request). */
export const UNKNOWN_EVENTS: readonly string[] = [
  '',
  'x',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toString',
  'valueOf',
  'media:program:set',
  'program:set',
  'control:command ',
  'CONTROL:COMMAND',
  'control:commands',
  'control:view',
  'health:summary',
  'health:alert',
  'media:consume',
  'media:replaced',
  'onair:changed',
  'admin:shutdown',
  'eval',
  '../control:command',
  'control:command\u0000',
  'control:\u202Ecommand',
  'error',
  'disconnecting ',
  'x'.repeat(1000),
  '🙂',
  '0',
  'null',
  'undefined',
];

/** Raw socket.io frames (engine.io message packets) a broken client sends on /control. */
export const RAW_FRAMES: readonly string[] = [
  '4',
  '42',
  '42/control,',
  '42/control,[',
  '42/control,{}',
  '42/control,[]',
  '42/control,[1]',
  '42/control,[null]',
  '42/control,["control:command"',
  '42/control,["control:command",{"type":"grant_next"}',
  '42/control,99999999999999999999["control:command",{}]',
  '42/control,-1["control:command",{}]',
  '42/control,1e3["control:command",{}]',
  '42/control,["__proto__",{}]',
  '42/control,["constructor",{}]',
  '43/control,1[{}]',
  '43/control,abc[{}]',
  '45-/control,["control:command",{"_placeholder":true,"num":0}]',
  '451-/control,["control:command",{"_placeholder":true,"num":99}]',
  '46/control,1[{}]',
  '47/control,',
  '48/control,',
  '40/control,{"token":5}',
  '40/nope,',
  '41/control,',
  '4\u0000',
  '4' + '['.repeat(5000),
  '42/control,' + JSON.stringify(['control:command', { type: 'x'.repeat(50_000) }]),
  '2probe',
  '9',
];

/** How the corpus reaches a REST route: values for its path parameters, whether its body is a plan. */
export interface RouteCase {
  /** Values for the path's :parameters (each sent once, with otherwise valid headers). */
  params: Record<string, string[]>;
  /** The route reads a plan's text (JSON or YAML) rather than JSON. */
  plan?: boolean;
  /** A near-valid JSON body for the route, to be spoiled. */
  body?: Record<string, unknown>;
  /** The route reads a paper's file (a PDF, streamed to the paper desk). */
  paper?: boolean;
}

const SLOT_PARAMS = ['khong-co.c-06010', '..%2F..%2Ftmp', '__proto__', 'constructor', '%00', 'x'.repeat(2000), '%E0%A4%A', 'tham-luan-cap-xa.c-99999'];
const PAPER_PARAMS = ['AAAAAAAAAAAAAAAA', '..%2F..%2Fpackage.json', '__proto__', 'constructor', '%00', 'x'.repeat(500), '%E0%A4%A', '..', 'AAAAAAAAAAAAAAAA.pdf'];

const NODE_PARAMS = ['nowhere', '..%2F..%2Fetc', '__proto__', 'constructor', '%00', 'x'.repeat(100), '%E0%A4%A', '-x', 'a b'];

const BRIDGE_PARAMS = ['c-99999', 'p-99', '..%2F..%2Fetc%2Fpasswd', '%00', '__proto__', 'constructor', 'x'.repeat(2000), '%F0%9F%99%82', "c-1'%20OR%201=1"];

/** Every REST route's case. A route missing here fails the suite. */
export const ROUTE_CASES: Record<string, RouteCase> = {
  'GET /healthz': { params: {} },
  'GET /metrics': { params: {} },
  'GET /api/me': { params: {} },
  'GET /api/plan/bridges': { params: {} },
  'GET /api/plan': { params: {} },
  'GET /api/maket/:bridgeId': { params: { bridgeId: BRIDGE_PARAMS } },
  'GET /api/invites': { params: {} },
  'POST /api/tokens/revoke': { params: {}, body: { token: 'AAAAAAAAAAAAAAAAAAAAAA' } },
  'POST /api/tokens/reissue': { params: {}, body: { target: 'nobody' } },
  'GET /api/health': { params: {} },
  'GET /api/health/:bridgeId': { params: { bridgeId: BRIDGE_PARAMS } },
  'GET /api/report': { params: {} },
  'GET /api/report/:file': { params: { file: ['__proto__', 'constructor', 'toString', '..%2F..%2Fpackage.json', 'attendance.csv%00', 'x'.repeat(500), 'ATTENDANCE.CSV', '%E0%A4%A'] } },
  'POST /api/plan/validate': { params: {}, plan: true },
  'POST /api/plan': { params: {}, plan: true },
  'GET /api/recordings': { params: {} },
  'GET /api/recordings/:name': { params: { name: ['..%2F..%2F..%2Fetc%2Fpasswd', '..%2Fpackage.json', '.mkv', 'x.mkv.json', '__proto__', 'constructor', '%00.mkv', 'x'.repeat(300) + '.mkv', '%E0%A4%A'] } },
  'GET /api/press.sdp': { params: {} },
  'GET /api/rtp-halls': { params: {} },
  'GET /api/rtp-halls/:bridgeId/sheet': { params: { bridgeId: BRIDGE_PARAMS } },
  'GET /api/rtp-halls/:bridgeId/programme.sdp': { params: { bridgeId: BRIDGE_PARAMS } },
  'GET /api/nodes': { params: {} },
  'POST /api/nodes/:nodeId/drain': { params: { nodeId: NODE_PARAMS }, body: { draining: true } },
  'PUT /api/rtp-halls/:bridgeId/receive': { params: { bridgeId: BRIDGE_PARAMS }, body: { ip: '10.20.0.15', audioPort: 5004, videoPort: 5004 } },
  'GET /api/papers': { params: {} },
  'PUT /api/papers/slots/:slotId': { params: { slotId: SLOT_PARAMS }, paper: true },
  'POST /api/papers/slots/:slotId': { params: { slotId: SLOT_PARAMS }, paper: true },
  'GET /api/papers/:paperId': { params: { paperId: PAPER_PARAMS } },
  'GET /api/papers/:paperId/file': { params: { paperId: PAPER_PARAMS } },
};

/** One REST request of the corpus. */
export interface RestRequest {
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** Plan texts that are not plans (each refused, none loaded). */
const PLAN_JUNK: [string, string, string][] = [
  ['YAML of a list', 'application/yaml', '- a\n- b\n'],
  ['YAML with 1,000 aliases', 'application/yaml', 'a: &a [x]\n' + Array.from({ length: 1000 }, (_, i) => `k${i}: *a`).join('\n')],
  ['YAML nested 5,000 deep', 'application/yaml', '['.repeat(5000) + ']'.repeat(5000)],
  ['YAML with a tag', 'application/yaml', '!!js/function "function(){ return 1 }"'],
  ['YAML with a custom tag', 'text/plain', 'title: !Evil x'],
  ['a plan with hidden text', 'application/json', JSON.stringify({ title: 'Lê\u202EVăn', organiser: 'x', venue: 'y', bridges: [] })],
  ['a plan with __proto__', 'application/json', '{"__proto__": {"polluted": true}, "title": "x"}'],
  ['a plan of 10,000 bridges of junk', 'application/json', JSON.stringify({ bridges: Array(10_000).fill(1) })],
  ['an empty body', 'application/json', ''],
];

/** Paper files that are not papers (each refused by the paper desk, none kept). */
const PAPER_JUNK: [string, Record<string, string>, string | Uint8Array][] = [
  ['an empty file', {}, ''],
  ['text sent as a PDF', {}, 'Tham luận của xã'],
  ['a PDF header and nothing else', {}, '%PDF-1.7\n'],
  ['a PDF header and junk', {}, '%PDF-1.7\n' + '\u0000\u00ff'.repeat(2000)],
  ['a PDF with a page tree that loops', {}, '%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [2 0 R] /Count 1 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF'],
  ['a file name with bidi and controls', { 'x-file-name': encodeURIComponent('Tham\u202Eluận\u0000.pdf') }, 'not a pdf'],
  ['a file name that does not decode', { 'x-file-name': '%E0%A4%A' }, 'not a pdf'],
  ['a file name of 10 kB', { 'x-file-name': 'x'.repeat(10_000) }, 'not a pdf'],
];

/** The corpus of one route: at least 30 requests, each with one thing wrong. `token` is a staff token of the right role. */
export function restCorpus(method: string, path: string, c: RouteCase, token: string, otherToken: string, ctx: CorpusContext): RestRequest[] {
  const fill = (name: string): string => (name === 'bridgeId' ? ctx.ownBridge : name === 'file' ? 'attendance.csv' : name === 'slotId' ? ctx.paperSlot : name === 'paperId' ? 'AAAAAAAAAAAAAAAA' : name === 'nodeId' ? 'nowhere' : 'x.mkv');
  const filled = path.replace(/:([A-Za-z]+)/g, (_, name: string) => fill(name));
  const auth = { authorization: `Bearer ${token}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const out: RestRequest[] = [];
  const add = (label: string, headers: Record<string, string>, body?: string | Uint8Array, p = filled) => out.push({ label, method, path: p, headers, body });
  // Who asks.
  for (const [label, value] of [
    ['no token', undefined],
    ['an empty bearer', 'Bearer '],
    ['a malformed token', 'Bearer x'],
    ['an unknown token', `Bearer ${ctx.unknownToken}`],
    ['a token of another role', `Bearer ${otherToken}`],
    ['a token of 10 kB', `Bearer ${'A'.repeat(10_000)}`],
    ['Basic auth', 'Basic YWRtaW46YWRtaW4='],
    ['two tokens', `Bearer ${token}, Bearer ${otherToken}`],
    ['a token with a NUL', `Bearer ${token.slice(1)}%00`],
  ] as [string, string | undefined][]) {
    add(`auth: ${label}`, value === undefined ? {} : { authorization: value });
  }
  // Query strings.
  for (const q of ['format=csv&format=json', '__proto__[polluted]=1', 'constructor[prototype][polluted]=1', 'format[]=csv', `x=${'y'.repeat(4000)}`, '%E0%A4%A=1']) add(`query ${q.slice(0, 30)}`, auth, undefined, `${filled}?${q}`);
  // Path parameters.
  for (const [name, values] of Object.entries(c.params)) for (const v of values) add(`:${name} = ${v.slice(0, 30)}`, auth, undefined, path.replace(`:${name}`, v).replace(/:([A-Za-z]+)/g, (_, n: string) => fill(n)));
  // Bodies: their encoding, type and charset, then their content.
  add('body: gzip', { ...json, 'content-encoding': 'gzip' }, new Uint8Array([31, 139, 8, 0, 0, 0, 0, 0]));
  add('body: charset koi8-r', { ...auth, 'content-type': 'application/json; charset=koi8-r' }, '{}');
  add('body: XML', { ...auth, 'content-type': 'application/xml' }, '<!DOCTYPE x [<!ENTITY y SYSTEM "file:///etc/passwd">]><x>&y;</x>');
  add('body: form', { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, 'token=x&__proto__[a]=1');
  add('body: multipart', { ...auth, 'content-type': 'multipart/form-data; boundary=x' }, '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--');
  add('body: malformed JSON', json, '{"token": ');
  add('body: JSON of 300 kB', json, JSON.stringify({ token: 'x'.repeat(300_000) }));
  if (c.plan) {
    for (const [label, type, text] of PLAN_JUNK) add(`plan: ${label}`, { ...auth, 'content-type': type }, text);
  }
  if (c.paper) {
    for (const [label, headers, body] of PAPER_JUNK) add(`paper: ${label}`, { ...auth, 'content-type': 'application/pdf', ...headers }, body);
    add('paper: as JSON', json, JSON.stringify({ pdf: 'JVBERi0xLjcK' }));
    add('paper: as text', { ...auth, 'content-type': 'text/plain' }, '%PDF-1.7\n');
  }
  for (const [label, value] of junk()) {
    if (value === undefined || Buffer.isBuffer(value)) continue;
    add(`body: ${label}`, json, JSON.stringify(value));
  }
  if (c.body) for (const [label, value] of spoil('body', c.body, [])) add(`body: ${label}`, json, JSON.stringify(value));
  return out;
}
