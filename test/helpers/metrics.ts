/** Reading a Prometheus text exposition (GET /metrics) in tests. */

/** The text of GET /metrics, failing on anything but 200. */
export async function scrape(url: string, key?: string): Promise<string> {
  const res = await fetch(
    `${url}/metrics`,
    key ? { headers: { authorization: `Bearer ${key}` } } : {},
  );
  if (res.status !== 200)
    throw new Error(`GET /metrics answered ${res.status}: ${await res.text()}`);
  return res.text();
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample line: `name{a="b",…} value`. Label values here never hold `",` or `}`. */
export function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').split(',').filter((p) => p !== '')) {
      const eq = pair.indexOf('=');
      labels[pair.slice(0, eq)] = JSON.parse(pair.slice(eq + 1)) as string;
    }
    out.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined if none. */
export function value(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) {
    throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  }
  return found[0]?.value;
}

/** The metric families a gateway exposes (from `# TYPE` lines: metrics without samples too). */
export function familyNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^# TYPE (\S+) \S+$/.exec(line);
    if (match) names.add(match[1]!);
  }
  return names;
}

/** The distinct label sets of the metrics named `prefix…` (histogram buckets folded). */
export function seriesOf(text: string, prefix: string): string[] {
  const sets = new Set<string>();
  for (const s of samples(text)) {
    if (!s.name.startsWith(prefix)) continue;
    const { le: _le, ...labels } = s.labels;
    sets.add(`${s.name.replace(/_(bucket|sum|count)$/, '')}${JSON.stringify(labels)}`);
  }
  return [...sets].sort();
}
