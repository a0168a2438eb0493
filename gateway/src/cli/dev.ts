import fs from 'node:fs';
import path from 'node:path';
import { loadManifest } from '@switchboard/sdk';
import { loadConfig } from '../config.ts';
import { SwitchboardError } from '../errors.ts';
import {
  type CliContext,
  type Command,
  HELP_OPTION,
  parseCommandArgs,
  showHelp,
} from './command.ts';
import { ReloadQueue, watchRoot } from './dev/watch.ts';
import { callGateway } from './gateway-api.ts';

const usage = `Usage: switchboard dev
       switchboard integrations reload --watch

Watches the integration folders (INTEGRATION_DIRS) and asks the running gateway to reload the
integration whose folder changed, printing each reload's outcome: ready (with its tool count),
refused (with the reasons and what to change) or failed (with the error). Stop it with Ctrl-C.

A folder's changes are gathered until it has been quiet for 300 ms; at most one reload per
integration runs at a time, and changes during it make one more after it. Changes under
node_modules, .git, .data, dist and __pycache__, and folders starting with _ or ., are ignored.
fs.watch recursive is used where the platform has it, otherwise a scan each second.

The gateway is SWITCHBOARD_URL (default http://HOST:PORT) with SWITCHBOARD_API_KEY (or
SWITCHBOARD_ADMIN_KEY), scope integrations:write; run it with the same INTEGRATION_DIRS.
Exit status: 0 when stopped by SIGINT or SIGTERM, 1 if the gateway cannot be reached at start.`;

/**
 * Stopping waits this long for reloads in flight to answer (one server start is up to 30 s; the
 * gateway finishes the reload anyway, only its printed outcome is lost).
 */
const STOP_WAIT_MS = 5_000;

interface Reloaded {
  name: string;
  dir: string | null;
  state: string;
  reasons: Array<{ code: string; message: string }>;
  lastError: string | null;
  tools: string[];
  /** Tools hidden until an operator approves them (policy toolPinning). */
  pendingTools?: string[];
}

function outcome(item: Reloaded): string {
  switch (item.state) {
    case 'ready': {
      const tools = `${item.tools.length} tool${item.tools.length === 1 ? '' : 's'}`;
      const pending = item.pendingTools ?? [];
      return pending.length === 0
        ? `ready (${tools})`
        : `ready (${tools}; changed, awaiting approval: ${pending.join(', ')}; review: switchboard integrations tools-diff ${item.name})`;
    }
    case 'refused':
      return `refused: ${item.reasons.map((r) => `${r.code}: ${r.message}`).join('; ')} (switchboard doctor says how to fix each)`;
    case 'failed':
      return `failed: ${item.lastError ?? item.reasons.map((r) => r.message).join('; ')}`;
    default:
      return item.state;
  }
}

const time = () => new Date().toISOString().slice(11, 19);

/** The watch loop behind `dev` and `integrations reload --watch`; resolves 0 on SIGINT/SIGTERM. */
export async function watchAndReload(ctx: CliContext): Promise<number> {
  const config = loadConfig(ctx.env);
  // Fails fast (exit 1) with the gateway's address when it is not running or the key is wrong.
  const listed = await callGateway(ctx.env, usage, 'GET', '/integrations');
  // The name each folder had at the gateway: a renamed or removed one is reloaded (dropped) too.
  const known = new Map<string, string>();
  for (const item of listed.integrations as Reloaded[])
    if (item.dir) known.set(item.dir, item.name);

  const reloadOne = async (name: string) => {
    try {
      const json = await callGateway(
        ctx.env,
        usage,
        'POST',
        `/integrations/${encodeURIComponent(name)}/reload`,
      );
      const item = json.integration as Reloaded;
      if (item.dir) known.set(item.dir, item.name);
      ctx.out(`${time()} ${name}: ${outcome(item)}`);
    } catch (caught) {
      const status = (caught as SwitchboardError).details?.status;
      ctx.out(
        status === 404
          ? `${time()} ${name}: removed (no folder provides it any more)`
          : `${time()} ${name}: reload failed: ${(caught as Error).message}`,
      );
    }
  };
  // Keyed by folder: the manifest's name is read when the reload runs, after the quiet period.
  const queue = new ReloadQueue(async (dir) => {
    const loaded = fs.existsSync(dir) ? await loadManifest(dir) : undefined;
    const current = loaded?.ok ? loaded.manifest.name : path.basename(dir);
    const names = new Set([current, ...(known.has(dir) ? [known.get(dir)!] : [])]);
    if (!fs.existsSync(dir)) known.delete(dir);
    for (const name of names) await reloadOne(name);
  });

  const watchers = config.integrationDirs
    .filter((root) => {
      if (fs.existsSync(root)) return true;
      ctx.err(`switchboard: ${root} (in INTEGRATION_DIRS) does not exist; not watched`);
      return false;
    })
    .map((root) => watchRoot(root, (r, folder) => queue.request(path.join(r, folder))));
  if (watchers.length === 0) {
    throw new SwitchboardError(
      'config_invalid',
      `no folder of INTEGRATION_DIRS=${config.integrationDirs.join(':')} exists: nothing to watch`,
    );
  }
  ctx.out(`watching ${config.integrationDirs.join(', ')} (${watchers[0]!.mode}); Ctrl-C to stop`);

  return new Promise<number>((resolve) => {
    const stop = async () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      for (const watcher of watchers) watcher.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        queue.drain(),
        new Promise((r) => {
          timer = setTimeout(r, STOP_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      ctx.out('stopped watching');
      resolve(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export const dev: Command = {
  name: 'dev',
  summary: 'watch the integration folders and reload what changes',
  usage,
  async run(args, ctx) {
    const { values } = parseCommandArgs(args, HELP_OPTION, usage);
    if (values.help) return showHelp(ctx, usage);
    return watchAndReload(ctx);
  },
};
