/**
 * mcp-bench.ts --profile: the CPU profiles of the gateway and mcp-proxy, kept in
 * .cache/bench/profiles/ once they have stopped (V8 writes them at exit), with the measured
 * windows of each target so profile-summary.ts can leave out start-up and warm-up.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LegResult } from './mcp-legs.ts';
import { CACHE } from './mcp-upstreams.ts';

export function keepProfiles(o: {
  gatewayPid: number;
  profileDirs: Array<readonly [who: string, dir: string]>;
  results: LegResult[];
}): void {
  const kept = path.join(CACHE, 'profiles');
  fs.mkdirSync(kept, { recursive: true });
  const files: string[] = [];
  for (const [who, dir] of o.profileDirs) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) {
      fs.copyFileSync(path.join(dir, f), path.join(kept, `${who}-${f}`));
      files.push(`${who}-${f}`);
    }
  }
  // The measured windows of each gateway target, so the summary can leave out start-up.
  const windows = path.join(kept, `windows-${o.gatewayPid}.json`);
  const of = (key: string) => {
    const legs = o.results.filter((r) => r.target === key);
    return { windows: legs.map((l) => l.window), calls: legs.reduce((s, l) => s + l.calls, 0) };
  };
  fs.writeFileSync(
    windows,
    JSON.stringify({
      'gateway-stdio': of('gateway-stdio'),
      'gateway-http': of('gateway-http'),
      'mcp-proxy': of('mcp-proxy'),
    }),
  );
  process.stdout.write(
    `\nCPU profiles: ${files.map((f) => path.join(kept, f)).join(', ')}\n` +
      `summarise with: npx tsx test/bench/profile-summary.ts <main-thread file> --windows ${windows} --target gateway-stdio\n`,
  );
}
