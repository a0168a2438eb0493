/**
 * Where a V8 CPU profile (node --cpu-prof; mcp-bench.ts --profile writes the gateway's) spends
 * its time: self time by function and by package or source folder, and the inclusive time of a
 * few call-tree frames of interest, as shares of the samples.
 *
 *   npx tsx test/bench/profile-summary.ts <file.cpuprofile> [--top 40]
 *       [--windows windows-<pid>.json --target gateway-stdio|gateway-http] [--calls N]
 *
 * With --windows (written by mcp-bench.ts --profile), only the samples taken while that target's
 * legs were measured count (start-up, grants and the other targets' legs are left out: V8
 * profile timestamps and the bench's process.hrtime are the same monotonic clock), and times
 * are also given in µs per call. --calls N does the latter for a whole profile.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '40' },
    calls: { type: 'string' },
    windows: { type: 'string' },
    target: { type: 'string', default: 'gateway-stdio' },
  },
});
const file = positionals[0];
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [--top N] [--calls N]');
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
let calls = values.calls ? Number(values.calls) : undefined;
let windows: Array<[number, number]> | undefined;
if (values.windows) {
  const all = JSON.parse(fs.readFileSync(values.windows, 'utf8')) as Record<
    string,
    { windows: Array<[number, number]>; calls: number }
  >;
  const chosen = all[values.target];
  if (!chosen) throw new Error(`no windows for ${values.target}`);
  windows = chosen.windows;
  calls = chosen.calls;
}
const inWindow = (t: number) => !windows || windows.some(([from, to]) => t >= from && t <= to);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node, from the samples and their time deltas (µs).
const self = new Map<number, number>();
let now = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  const delta = profile.timeDeltas[i] ?? 0;
  now += delta;
  if (!inWindow(now)) continue;
  self.set(id, (self.get(id) ?? 0) + delta);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self]
  .filter(([id]) => ['(idle)', '(program)'].includes(byId.get(id)!.callFrame.functionName))
  .reduce((a, [, t]) => a + t, 0);
const busy = total - idle;

function where(url: string): string {
  if (url === '') return '(native/V8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const m = /\/(gateway\/src\/[^/]+|sdk\/src|policy\/src)\//.exec(url);
  return m ? m[1]! : url.replace(/^file:\/\//, '');
}

const fmt = (us: number) => {
  const share = `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  return calls ? `${share} ${(us / calls).toFixed(1).padStart(7)} µs/call` : share;
};

const byFunction = new Map<string, number>();
const byPlace = new Map<string, number>();
for (const [id, t] of self) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  if (['(idle)', '(program)'].includes(functionName)) continue;
  const name = `${functionName || '(anonymous)'} ${where(url)}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + t);
  byPlace.set(where(url), (byPlace.get(where(url)) ?? 0) + t);
}
const top = Number(values.top);
const out: string[] = [];
out.push(
  `profile: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s${windows ? `, ${(windows.reduce((a, [f, t]) => a + t - f, 0) / 1e6).toFixed(1)} s of it measured (${values.target})` : ''}, busy ${(busy / 1e6).toFixed(2)} s (${((busy / total) * 100).toFixed(0)}%)${calls ? `, ${calls} calls → ${(busy / calls).toFixed(0)} µs/call` : ''}`,
  '',
  'self time by package / folder:',
);
for (const [k, t] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  out.push(`  ${fmt(t)}  ${k}`);
}
// Owner: the nearest frame, from the sample's leaf up, of an application package or folder
// (not V8 native, not node:*, not zod): "who caused this", so a socket write is charged to the
// code that wrote, zod to whoever validated, and only the event loop's own work stays in node:.
const LIBRARY = (place: string) =>
  place === '(native/V8)' ||
  place.startsWith('node:') ||
  place === 'zod' ||
  place.startsWith('wasm');
const byOwner = new Map<string, number>();
{
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const leaf = profile.samples[i]!;
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (!inWindow(at)) continue;
    const leafFrame = byId.get(leaf)!.callFrame;
    if (['(idle)', '(program)'].includes(leafFrame.functionName)) continue;
    let owner: string | undefined;
    if (leafFrame.functionName === '(garbage collector)') owner = '(garbage collector)';
    for (
      let n: number | undefined = leaf;
      owner === undefined && n !== undefined;
      n = parent.get(n)
    ) {
      const place = where(byId.get(n)!.callFrame.url);
      if (!LIBRARY(place)) owner = place;
    }
    owner ??= `${where(leafFrame.url)} (event loop, no application frame)`;
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + delta);
  }
}
out.push('', 'time by owner (nearest application package or folder on the stack):');
for (const [k, t] of [...byOwner].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  out.push(`  ${fmt(t)}  ${k}`);
}
out.push('', 'self time by function:');
for (const [k, t] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  out.push(`  ${fmt(t)}  ${k}`);
}

// Inclusive time: a sample counts for every distinct function on its stack.
const inclusive = new Map<string, number>();
for (const [id, t] of self) {
  const seen = new Set<string>();
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
    const { functionName, url } = byId.get(n)!.callFrame;
    if (['(idle)', '(program)', '(root)'].includes(functionName)) continue;
    const name = `${functionName || '(anonymous)'} ${where(url)}`;
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + t);
  }
}
out.push('', 'inclusive time (function and everything it calls):');
for (const [k, t] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top * 2)) {
  out.push(`  ${fmt(t)}  ${k}`);
}
process.stdout.write(`${out.join('\n')}\n`);
