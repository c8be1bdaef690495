// @ts-check
// What every child process that runs pdfjs-dist under an address-space limit sets up first
// (pdf-measure.mjs for the paper checker, feed/content-panel.mjs for the feed's content panel).
// Plain JavaScript, like them: imported before pdfjs is loaded.

// pdfjs-dist 6 expects Node 22's Promise.withResolvers; Node 20 lacks it.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    /** @type {any} */ let resolve;
    /** @type {any} */ let reject;
    const promise = new Promise((a, b) => {
      resolve = a;
      reject = b;
    });
    return { promise, resolve, reject };
  };
}

/**
 * Takes the network APIs away: touching Node's fetch globals instantiates its HTTP parser in
 * WebAssembly, whose memory reservation does not fit in the address-space limit (for the same
 * reason the checker decodes no JPEG 2000 image: pdfjs does that in WebAssembly).
 * @param {string} who the child, for the error a use would throw
 */
export function withoutNetwork(who) {
  class NoNetwork {
    constructor() {
      throw new Error(`no network in ${who}`);
    }
  }
  for (const name of ['Request', 'Response', 'Headers', 'FormData', 'WebSocket', 'EventSource']) {
    Object.defineProperty(globalThis, name, { value: class extends NoNetwork {}, writable: true, configurable: true });
  }
  Object.defineProperty(globalThis, 'fetch', { value: async () => new NoNetwork(), writable: true, configurable: true });
}
