import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/**
 * The console's files (gateway/console/): index.html with the bundle's names filled in, one
 * JavaScript and one CSS file bundled from main.tsx by esbuild, and the icon. `npm run build`
 * (scripts/build.js) bundles them into gateway/dist/console-bundle/, which the compiled gateway
 * serves; the gateway run from source (vitest) has no such folder beside it and bundles in this
 * process on the first request instead (~100 ms once), so a test always sees the console's
 * current source. Either way the files are held in memory, gzipped once.
 */

export const CONSOLE_SOURCE = fileURLToPath(new URL('../../console/', import.meta.url));

/** Beside the compiled gateway (gateway/dist/console-bundle/); never exists beside src/. */
export const CONSOLE_BUNDLE = fileURLToPath(new URL('../console-bundle/', import.meta.url));

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

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  html: 'text/html; charset=utf-8',
  svg: 'image/svg+xml',
};

function asset(name: string, body: Buffer): ConsoleAsset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
  const type = TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
  const immutable = name.startsWith('app.');
  return { type, body, gzip: gzipSync(body, { level: 9 }), etag, immutable };
}

/** The console's files by name (index.html, app.<hash>.js, app.<hash>.css, favicon.svg). */
export async function bundleConsole(): Promise<Map<string, Buffer>> {
  // Imported here: the compiled gateway serves the prebuilt bundle and never loads esbuild.
  const { build } = await import('esbuild');
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
  const files = new Map<string, Buffer>();
  let js = '';
  let css = '';
  for (const out of result.outputFiles) {
    const name = out.path.slice(out.path.lastIndexOf('/') + 1);
    if (name.endsWith('.js')) js = name;
    if (name.endsWith('.css')) css = name;
    files.set(name, Buffer.from(out.contents));
  }
  const html = (await readFile(`${CONSOLE_SOURCE}index.html`, 'utf8'))
    .replace('%APP_JS%', js)
    .replace('%APP_CSS%', css);
  files.set('index.html', Buffer.from(html));
  files.set('favicon.svg', await readFile(`${CONSOLE_SOURCE}favicon.svg`));
  return files;
}

/** The prebuilt bundle in `dir`, or undefined when there is none. */
export async function readConsoleBundle(
  dir = CONSOLE_BUNDLE,
): Promise<Map<string, Buffer> | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (!names.includes('index.html')) return undefined;
  const files = new Map<string, Buffer>();
  // A name starting with a dot is a file being written (writeConsoleBundle).
  for (const name of names) {
    if (!name.startsWith('.')) files.set(name, await readFile(`${dir}${name}`));
  }
  return files;
}

/**
 * Bundles the console into `dir` (the build's step after tsc). Each file is written under a
 * temporary name then renamed, index.html last, and files of an older bundle are removed after:
 * a gateway reading the folder meanwhile finds a whole bundle. Returns false when the folder
 * already held this very bundle (nothing written).
 */
export async function writeConsoleBundle(dir = CONSOLE_BUNDLE): Promise<boolean> {
  const files = await bundleConsole();
  const old = (await readConsoleBundle(dir)) ?? new Map<string, Buffer>();
  const same =
    old.size === files.size && [...files].every(([name, body]) => old.get(name)?.equals(body));
  if (same) return false;
  await mkdir(dir, { recursive: true });
  const order = [...files.keys()].sort(
    (a, b) => Number(a === 'index.html') - Number(b === 'index.html'),
  );
  for (const name of order) {
    const temporary = `${dir}.${name}.${process.pid}.tmp`;
    await writeFile(temporary, files.get(name) as Buffer);
    await rename(temporary, `${dir}${name}`);
  }
  for (const name of old.keys()) if (!files.has(name)) await rm(`${dir}${name}`, { force: true });
  return true;
}

async function load(): Promise<ConsoleAssets> {
  const files = (await readConsoleBundle()) ?? (await bundleConsole());
  const assets = new Map<string, ConsoleAsset>();
  for (const [name, body] of files)
    assets.set(name === 'index.html' ? '' : name, asset(name, body));
  return { files: assets };
}

let built: Promise<ConsoleAssets> | undefined;

/** The console's files, loaded once per process; a failed load is retried on the next request. */
export function consoleAssets(): Promise<ConsoleAssets> {
  built ??= load().catch((error: unknown) => {
    built = undefined;
    throw error;
  });
  return built;
}
