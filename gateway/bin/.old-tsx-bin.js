#!/usr/bin/env node
// The `switchboard` CLI. The gateway is TypeScript run through tsx's loader, so a fresh clone
// works after `npm install` with no build step (Node >= 20.6 for module.register).

// `start` answers SIGTERM/SIGINT from its first line: loading the code takes a second or two,
// and a signal then finds nothing started, so it is a clean exit. Once main.ts has installed
// its own handlers (before it starts anything) this one stands aside. (Hence tsx is imported
// below, not statically: a static import would load before this line runs.)
if (process.argv[2] === 'start') {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      if (process.listenerCount(signal) === 1) process.exit(0);
    });
  }
}

const { register } = await import('tsx/esm/api');
register();
const { runCli, processContext } = await import('../src/cli/main.ts');
const code = await runCli(process.argv.slice(2), processContext);
process.exitCode = code;
