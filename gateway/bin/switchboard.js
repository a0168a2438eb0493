#!/usr/bin/env node
// The `switchboard` CLI. The gateway is TypeScript run through tsx's loader, so a fresh clone
// works after `npm install` with no build step (Node >= 20.6 for module.register).
import { register } from 'tsx/esm/api';

register();
const { runCli, processContext } = await import('../src/cli/main.ts');
const code = await runCli(process.argv.slice(2), processContext);
process.exitCode = code;
