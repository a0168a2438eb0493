import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, runCli } from '../../gateway/src/cli/main.ts';
import { CLI, REPO_ROOT } from '../helpers/gateway.ts';

// `--help` on every command and subcommand, `--version`, and the README's CLI list against the
// real command table (issue 12: "--help exits 0 on every command; the README's CLI list is
// complete"). The command list is read from each command's own usage text, so a subcommand
// added to a command is checked here (and must be added to the README) without editing this file.

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, {
    env: { SWITCHBOARD_DATA_DIR: '/nonexistent/never-opened', SWITCHBOARD_URL: 'http://0.0.0.0:1' },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/**
 * `switchboard <command> [<subcommand>]` of a usage or README line; options and ARGS are not
 * words, and a README line's description starts after two spaces.
 */
function commandOf(line: string): string | undefined {
  const words = line.trim().split(/ {2,}/)[0]!.split(/\s+/);
  if (words[0] !== 'switchboard' || !/^[a-z]/.test(words[1] ?? '')) return;
  const sub = words[2] !== undefined && /^[a-z][a-z-]*$/.test(words[2]) ? ` ${words[2]}` : '';
  return `${words[1]}${sub}`;
}

/** Every `command subcommand` the command table's usage texts name. */
const realCommands = [
  ...new Set(
    COMMANDS.flatMap((c) =>
      c.usage
        .split('\n')
        .map((l) => l.replace(/^Usage:/, ''))
        .filter((l) => l.trim().startsWith(`switchboard ${c.name}`))
        .map(commandOf)
        .filter((x): x is string => x !== undefined),
    ),
  ),
].sort();

/** The same, from the fenced block under README.md's "## CLI" heading. */
function readmeCommands(): string[] {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## CLI$/m)[1]?.split(/^## /m)[0] ?? '';
  const block = section.split('```')[1] ?? '';
  return [
    ...new Set(
      block
        .split('\n')
        .map(commandOf)
        .filter((x) => x !== undefined),
    ),
  ].sort();
}

/** The code in a Markdown file: fenced blocks and inline code spans (prose may say "the switchboard server"). */
function codeOf(markdown: string): string {
  const fenced = [...markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  const rest = markdown.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '');
  return [...fenced, ...[...rest.matchAll(/`([^`\n]+)`/g)].map((m) => m[1])].join('\n');
}

/** `switchboard X [Y]` mentions (also `npm run switchboard -- X Y`) that name no real command. */
function unknownMentions(file: string, text: string): string[] {
  const subcommands = (name: string) => realCommands.filter((c) => c.startsWith(`${name} `));
  return [...text.matchAll(/\bswitchboard(?: --)? ([a-z][a-z-]*)(?:[ \t]+([a-z][a-z-]*))?/g)]
    .filter(([, name, sub]) => {
      if (!COMMANDS.some((c) => c.name === name)) return true;
      return (
        sub !== undefined &&
        subcommands(name!).length > 0 &&
        !realCommands.includes(`${name} ${sub}`)
      );
    })
    .map(([mention]) => `${file}: ${mention}`);
}

describe('switchboard --help and --version', () => {
  it('finds the commands the table has, with their subcommands (the list below is not empty)', () => {
    expect(realCommands.length).toBeGreaterThan(25);
    expect(realCommands).toEqual(
      expect.arrayContaining([
        'start',
        'keys create',
        'integrations settings',
        'task run',
        'agent',
      ]),
    );
    expect(COMMANDS.map((c) => c.name)).toContain('connect');
  });

  it.each(realCommands)(
    '"%s" with --help and -h prints its usage on stdout and exits 0',
    async (line) => {
      const words = line.split(' ');
      const name = words[0]!;
      const usage = COMMANDS.find((c) => c.name === name)!.usage;
      for (const flag of ['--help', '-h']) {
        const r = await cli(...words, flag);
        expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
        expect(r.out).toBe(usage);
      }
    },
  );

  it('--help wins over missing or extra arguments (it never reaches the database or the gateway)', async () => {
    for (const argv of [
      ['integrations', 'settings', '--help'],
      ['integrations', 'validate', '--help'],
      ['task', 'end', '--help'],
      ['keys', 'revoke', '--help'],
      ['deliveries', 'show', '--help'],
      ['outbox', 'redrive', '--help'],
      ['subscriptions', 'delete', '--help'],
      ['migrate', 'extra', '--help'],
      ['task', 'run', '--profile', 'p', '--help'],
    ]) {
      const r = await cli(...argv);
      expect({ argv, code: r.code, err: r.err }).toEqual({ argv, code: 0, err: '' });
      expect(r.out).toMatch(new RegExp(`^Usage:[\\s\\S]*switchboard ${argv[0]}`));
    }
  });

  it('"help COMMAND" is the same as "COMMAND --help"; "help" alone lists every command', async () => {
    expect((await cli('help', 'outbox')).out).toBe(
      COMMANDS.find((c) => c.name === 'outbox')!.usage,
    );
    const all = await cli('help');
    expect(all.code).toBe(0);
    const lines = all.out.split('\n').map((l) => l.trim().split(/\s+/));
    for (const c of COMMANDS) {
      expect(
        lines
          .find((words) => words[0] === c.name)
          ?.slice(1)
          .join(' '),
      ).toBe(c.summary);
    }
    const unknown = await cli('help', 'launch');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "launch"');
  });

  it('an argument after "--" is not taken for --help', async () => {
    const r = await cli('integrations', 'validate', '--', '--help');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain(path.join(REPO_ROOT, '--help'));
  });

  it('--version prints the package version, in process and from the real bin', async () => {
    const { version } = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'gateway/package.json'), 'utf8'),
    ) as { version: string };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(await cli('--version')).toEqual({ code: 0, out: version, err: '' });
    const real = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' });
    expect({ status: real.status, stdout: real.stdout, stderr: real.stderr }).toEqual({
      status: 0,
      stdout: `${version}\n`,
      stderr: '',
    });
  });

  it('the real bin: "--help" and "task end --help" exit 0 with the usage on stdout', () => {
    const top = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/^Usage: switchboard <command>/);
    const sub = spawnSync(process.execPath, [CLI, 'task', 'end', '--help'], { encoding: 'utf8' });
    expect({ status: sub.status, stderr: sub.stderr }).toEqual({ status: 0, stderr: '' });
    expect(sub.stdout).toContain('switchboard task end ID');
  });

  it("the README's CLI list names exactly the commands and subcommands that exist", () => {
    expect(readmeCommands()).toEqual(realCommands);
  });

  it('policy/default.yaml and the docs name only commands that exist', () => {
    const files = [
      'README.md',
      ...fs
        .readdirSync(path.join(REPO_ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
      ...fs.readdirSync(path.join(REPO_ROOT, 'servers')).map((s) => `servers/${s}/README.md`),
    ].filter((f) => fs.existsSync(path.join(REPO_ROOT, f)));
    expect(files.length).toBeGreaterThan(8);
    const policy = fs.readFileSync(path.join(REPO_ROOT, 'policy/default.yaml'), 'utf8');
    const unknown = [
      ...unknownMentions('policy/default.yaml', policy),
      ...files.flatMap((f) =>
        unknownMentions(f, codeOf(fs.readFileSync(path.join(REPO_ROOT, f), 'utf8'))),
      ),
    ];
    expect(unknown).toEqual([]);
    // The check itself: it catches a command, and a subcommand, that do not exist.
    expect(
      unknownMentions(
        'x',
        '`switchboard settings set` and `switchboard keys retire` and `switchboard keys list`',
      ),
    ).toEqual(['x: switchboard settings set', 'x: switchboard keys retire']);
  });
});
