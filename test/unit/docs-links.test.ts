import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/gateway.ts';

// Every link in the repository's Markdown resolves inside the repository (issue 12: "no link
// points outside the repo"): a relative link names a file or folder of this checkout, and a
// `#fragment` on a Markdown file names one of its headings. A path in backticks that climbs
// out of the repository (`../shared/…`) counts as a link too: a reader of a clone cannot follow it.

const markdownFiles = execFileSync(
  'git',
  ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'],
  {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  },
)
  .split('\n')
  .filter((f) => f !== '' && !f.includes('node_modules/'));

/** The file's text without fenced code blocks (their contents are examples, not links). */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const match of prose(text).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = match[1]!
      .replace(/`/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

interface Link {
  file: string;
  target: string;
}

function links(file: string): Link[] {
  const text = prose(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8'));
  const found: Link[] = [];
  for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
    found.push({ file, target: m[1]! });
  for (const m of text.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)) found.push({ file, target: m[1]! });
  for (const m of text.matchAll(/`(\.\.\/[^`\s]+)`/g)) found.push({ file, target: m[1]! });
  return found;
}

/** Why a link does not resolve inside the repository, or undefined when it does. */
function problem({ file, target }: Link): string | undefined {
  if (/^(https?:|mailto:)/.test(target)) return undefined;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return 'an unexpected scheme';
  if (target.startsWith('/')) return 'an absolute path';
  const [rel, fragment] = target.split('#') as [string, string | undefined];
  const resolved =
    rel === '' ? path.join(REPO_ROOT, file) : path.resolve(REPO_ROOT, path.dirname(file), rel);
  const inside = path.relative(REPO_ROOT, resolved);
  if (inside.startsWith('..') || path.isAbsolute(inside)) return 'outside the repository';
  if (!fs.existsSync(resolved)) return 'no such file';
  if (fragment !== undefined && resolved.endsWith('.md')) {
    const wanted = decodeURIComponent(fragment);
    if (!anchors(fs.readFileSync(resolved, 'utf8')).has(wanted)) return `no heading #${wanted}`;
  }
  return undefined;
}

describe('Markdown links', () => {
  const all = markdownFiles.flatMap(links);

  it('finds the Markdown files and their links (the check below reads a real list)', () => {
    expect(markdownFiles).toEqual(expect.arrayContaining(['README.md', 'docs/architecture.md']));
    expect(all.filter((l) => !/^https?:/.test(l.target)).length).toBeGreaterThan(25);
  });

  it('every relative link resolves to a file of the repository (and a heading, if it names one)', () => {
    const broken = all
      .map((l) => ({ ...l, problem: problem(l) }))
      .filter((l) => l.problem !== undefined);
    expect(broken).toEqual([]);
  });

  it('the checker refuses what it should (a link out of the repository, a missing file or heading)', () => {
    expect(problem({ file: 'README.md', target: '../shared/design/ARCHITECTURE.md' })).toBe(
      'outside the repository',
    );
    expect(problem({ file: 'README.md', target: '/work/shared/design/ARCHITECTURE.md' })).toBe(
      'an absolute path',
    );
    expect(problem({ file: 'docs/policy.md', target: 'nope.md' })).toBe('no such file');
    expect(problem({ file: 'docs/policy.md', target: 'manifest.md#no-such-heading' })).toBe(
      'no heading #no-such-heading',
    );
    expect(problem({ file: 'docs/policy.md', target: 'manifest.md' })).toBeUndefined();
    expect(problem({ file: 'docs/agents.md', target: '#the-reference-agent' })).toBeUndefined();
    expect(links('README.md').map((l) => l.target)).toContain('docs/architecture.md');
  });
});
