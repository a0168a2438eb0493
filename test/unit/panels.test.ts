import {
  formatManifestErrors,
  kvPanelDataSchema,
  PANEL_LIMITS,
  panelRefreshMs,
  parseManifest,
  tablePanelDataSchema,
  timeseriesPanelDataSchema,
} from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';

const FILE = 'servers/demo/switchboard.yaml';

function manifest(panels: string, hidden = '[panel_a]'): string {
  return [
    'apiVersion: switchboard/v1',
    'name: demo',
    'version: 1.0.0',
    'description: Demo',
    'server: { transport: stdio, command: node }',
    `tools: { hidden: ${hidden} }`,
    'panels:',
    panels,
  ].join('\n');
}

function errors(text: string): string[] {
  const result = parseManifest(text, FILE);
  return result.ok ? [] : formatManifestErrors(result.errors).split('\n');
}

describe('manifest panels (issue 16)', () => {
  it('accepts a panel on a hidden tool, refresh optional', () => {
    const result = parseManifest(
      manifest(
        '  - { name: open-prs, title: Open PRs, tool: panel_a, view: table, refresh: 30s }\n  - { name: stats, title: Stats, tool: panel_a, view: kv }',
      ),
      FILE,
    );
    expect(result.ok && result.manifest.panels).toEqual([
      { name: 'open-prs', title: 'Open PRs', tool: 'panel_a', view: 'table', refresh: '30s' },
      { name: 'stats', title: 'Stats', tool: 'panel_a', view: 'kv' },
    ]);
  });

  it('refuses a panel whose tool is not hidden, naming the file and the field', () => {
    expect(errors(manifest('  - { name: p, title: P, tool: get_pr, view: table }'))).toEqual([
      `${FILE}: panels[0].tool: found "get_pr", expected a tool of this integration listed in tools.hidden, since only the gateway may call panel tools (tools.hidden: panel_a)`,
    ]);
  });

  it("refuses another integration's tool (prefixed either way)", () => {
    for (const tool of ['slack:post_message', 'slack__post_message']) {
      const [line] = errors(manifest(`  - { name: p, title: P, tool: "${tool}", view: table }`));
      expect(line).toContain(`${FILE}: panels[0].tool:`);
      expect(line).toContain("a panel cannot call another integration's tool");
    }
  });

  it('refuses an unknown view, a bad refresh, a duplicate name and unknown keys', () => {
    expect(errors(manifest('  - { name: p, title: P, tool: panel_a, view: chart }'))[0]).toContain(
      'panels[0].view: found "chart", expected one of table, kv, timeseries',
    );
    for (const refresh of ['1s', '5', '2d', '25h']) {
      expect(
        errors(
          manifest(`  - { name: p, title: P, tool: panel_a, view: kv, refresh: ${refresh} }`),
        )[0],
      ).toContain('panels[0].refresh');
    }
    expect(
      errors(
        manifest(
          '  - { name: p, title: P, tool: panel_a, view: kv }\n  - { name: p, title: Q, tool: panel_a, view: kv }',
        ),
      )[0],
    ).toContain('panels[1].name');
    expect(
      errors(manifest('  - { name: p, title: P, tool: panel_a, view: kv, script: x }'))[0],
    ).toContain(
      'panels[0].script: found unknown key "script", expected one of name, title, tool, view, refresh',
    );
  });

  it('refresh is 10 s to 24 h', () => {
    expect(panelRefreshMs('10s')).toBe(10_000);
    expect(panelRefreshMs('5m')).toBe(300_000);
    expect(panelRefreshMs('24h')).toBe(86_400_000);
    expect(panelRefreshMs('9s')).toBeUndefined();
    expect(panelRefreshMs('25h')).toBeUndefined();
  });
});

describe('panel data contracts', () => {
  it('table: columns declared, rows bounded, only declared keys, scalar cells', () => {
    const columns = [{ key: 'a', title: 'A' }];
    expect(tablePanelDataSchema.safeParse({ columns, rows: [{ a: 1 }, { a: null }] }).success).toBe(
      true,
    );
    const rows = Array.from({ length: PANEL_LIMITS.rows + 1 }, () => ({ a: 'x' }));
    expect(tablePanelDataSchema.safeParse({ columns, rows }).success).toBe(false);
    expect(tablePanelDataSchema.safeParse({ columns, rows: [{ b: 1 }] }).success).toBe(false);
    expect(
      tablePanelDataSchema.safeParse({ columns, rows: [{ a: { html: '<b>' } }] }).success,
    ).toBe(false);
    const wide = Array.from({ length: PANEL_LIMITS.columns + 1 }, (_, i) => ({
      key: `c${i}`,
      title: 'C',
    }));
    expect(tablePanelDataSchema.safeParse({ columns: wide, rows: [] }).success).toBe(false);
    expect(
      tablePanelDataSchema.safeParse({ columns, rows: [{ a: 'x'.repeat(PANEL_LIMITS.value + 1) }] })
        .success,
    ).toBe(false);
    expect(tablePanelDataSchema.safeParse({ columns, rows: [], extra: 1 }).success).toBe(false);
  });

  it('kv and timeseries', () => {
    expect(kvPanelDataSchema.safeParse({ items: [{ label: 'Open', value: 3 }] }).success).toBe(
      true,
    );
    expect(kvPanelDataSchema.safeParse({ items: [{ label: '', value: 3 }] }).success).toBe(false);
    expect(
      timeseriesPanelDataSchema.safeParse({
        series: [{ name: 'deliveries', points: [['2026-01-01T00:00:00Z', 3]] }],
      }).success,
    ).toBe(true);
    expect(
      timeseriesPanelDataSchema.safeParse({ series: [{ name: 's', points: [['yesterday', 3]] }] })
        .success,
    ).toBe(false);
    const points = Array.from({ length: PANEL_LIMITS.points + 1 }, () => [
      '2026-01-01T00:00:00Z',
      1,
    ]);
    expect(timeseriesPanelDataSchema.safeParse({ series: [{ name: 's', points }] }).success).toBe(
      false,
    );
  });
});
