import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/**
 * The console's files (gateway/console/): index.html as written, and one JavaScript and one CSS
 * file bundled from main.tsx by esbuild in this process, on the first request, then held in
 * memory (gzipped once). No build step for an operator to run: `npm start` serves the console.
 * esbuild already comes with tsx (which runs the gateway); bundling takes ~100 ms once.
 */

export const CONSOLE_SOURCE = fileURLToPath(new URL('../../console/', import.meta.url));

export interface ConsoleAsset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
  /** Hashed names (app.<hash>.js) may be cached for a year; index.html is revalidated. */
  immutable: boolean;
}

export interface ConsoleAssets {
  /** By path under /console/: '' for index.html, then the bundle's files. */
  files: Map<string, ConsoleAsset>;
}

function asset(type: string, body: Buffer, immutable: boolean): ConsoleAsset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
  return { type, body, gzip: gzipSync(body, { level: 9 }), etag, immutable };
}

async function bundle(): Promise<ConsoleAssets> {
  const result = await build({
    entryPoints: [`${CONSOLE_SOURCE}main.tsx`],
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2022',
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: '/console-out',
    entryNames: 'app.[hash]',
    legalComments: 'none',
    logLevel: 'silent',
    // The console's code is ours; the gateway's own source (keys/scopes.ts) is shared with it.
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const files = new Map<string, ConsoleAsset>();
  let js = '';
  let css = '';
  for (const out of result.outputFiles) {
    const name = out.path.slice(out.path.lastIndexOf('/') + 1);
    const type = name.endsWith('.js')
      ? 'text/javascript; charset=utf-8'
      : 'text/css; charset=utf-8';
    if (name.endsWith('.js')) js = name;
    if (name.endsWith('.css')) css = name;
    files.set(name, asset(type, Buffer.from(out.contents), true));
  }
  const html = (await readFile(`${CONSOLE_SOURCE}index.html`, 'utf8'))
    .replace('%APP_JS%', js)
    .replace('%APP_CSS%', css);
  files.set('', asset('text/html; charset=utf-8', Buffer.from(html), false));
  const icon = await readFile(`${CONSOLE_SOURCE}favicon.svg`);
  files.set('favicon.svg', asset('image/svg+xml', icon, false));
  return { files };
}

let built: Promise<ConsoleAssets> | undefined;

/** The bundle, made once per process; a failed build is retried on the next request. */
export function consoleAssets(): Promise<ConsoleAssets> {
  built ??= bundle().catch((error: unknown) => {
    built = undefined;
    throw error;
  });
  return built;
}
