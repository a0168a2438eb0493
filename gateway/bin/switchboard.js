#!/usr/bin/env node
// The `switchboard` CLI: runs the gateway compiled to JavaScript (gateway/dist, from
// `npm run build`, which `npm install` runs through the root package's `prepare`). No
// TypeScript loader at run time; source maps (--enable-source-maps below) keep stack traces
// pointing at the .ts lines.
import { existsSync } from 'node:fs';

// `start` answers SIGTERM/SIGINT from its first line: loading the code takes a moment, and a
// signal then finds nothing started, so it is a clean exit. Once main.ts has installed its own
// handlers (before it starts anything) this one stands aside. (Hence main.js is imported below,
// not statically: a static import would load before this line runs; node:fs is built in.)
if (process.argv[2] === 'start') {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      if (process.listenerCount(signal) === 1) process.exit(0);
    });
  }
}

// Stack traces through the .js.map files tsc writes beside each file: --enable-source-maps as
// an API, for the modules loaded from here on (the bin is started without the flag).
process.setSourceMapsEnabled(true);

const MAIN = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(MAIN)) {
  process.stderr.write(
    'switchboard: the gateway is not built (gateway/dist/cli/main.js is missing).\n' +
      'Run `npm run build` in the repository (npm install runs it too), then try again.\n',
  );
  process.exit(1);
}
const cli = await import(MAIN.href);
process.exitCode = await cli.runCli(process.argv.slice(2), cli.processContext);
