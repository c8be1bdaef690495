// Bundles the browser apps with esbuild into client/public/build.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
await build({
  entryPoints: { hall: 'client/hall/main.ts', monitor: 'client/monitor/main.ts', invites: 'client/invites/main.ts' },
  absWorkingDir: root,
  outdir: 'client/public/build',
  bundle: true,
  format: 'esm',
  target: ['chrome110'],
  sourcemap: true,
  minify: true,
  logLevel: 'warning',
});
console.log(`client bundle built in ${Date.now() - started} ms`);
