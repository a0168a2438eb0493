import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_VARIABLES } from '../../gateway/src/config.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';

// The Dockerfile, .dockerignore and compose.yaml, checked by what they say (issue 12 item 13):
// there is no Docker engine or compose plugin on the CI machines, so these are read and
// interpreted here — instruction order, what is installed and copied, who owns what, what is
// published where — rather than built and run.

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions in order: comments dropped, `\` continuations joined. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continued instruction
    pending += `${line.replace(/\\$/, '').trim()} `;
    if (line.endsWith('\\')) continue;
    const [op, ...rest] = pending.trim().split(/\s+/);
    out.push({ op: op!.toUpperCase(), args: rest.join(' ') });
    pending = '';
  }
  return out;
}

/** `ENV A=1 B=2` (the only form used) → {A: '1', B: '2'}, over every ENV instruction. */
function envOf(list: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of list.filter((i) => i.op === 'ENV')) {
    for (const pair of args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      expect(eq, `ENV ${pair}: expected NAME=value`).toBeGreaterThan(0);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** The workspace folders of the root package.json, its globs (`servers/*`) expanded. */
function workspaces(): string[] {
  const globs = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
  return globs.flatMap((glob) => {
    if (!glob.endsWith('/*')) return [glob];
    const parent = glob.slice(0, -2);
    return fs
      .readdirSync(path.join(REPO_ROOT, parent), { withFileTypes: true })
      .filter(
        (d) =>
          d.isDirectory() && fs.existsSync(path.join(REPO_ROOT, parent, d.name, 'package.json')),
      )
      .map((d) => `${parent}/${d.name}`);
  });
}

/** compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\{([A-Z_][A-Z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (_m, name, colon, op, arg) => {
      const set = env[name];
      const missing = set === undefined || (colon === ':' && set === '');
      if (!missing) return set;
      if (op === '?') throw new Error(`${name}: ${arg}`);
      return op === '-' ? arg : '';
    },
  );
}

/** The workspace folders `npm run build` compiles: tsconfig.build.json's references. */
function builtPackages(): string[] {
  const solution = JSON.parse(read('tsconfig.build.json')) as { references: { path: string }[] };
  return solution.references.map((r) => path.posix.dirname(r.path));
}

/** The workspace manifests a stage copies before the instruction at `end`. */
function manifestsCopied(stage: Instruction[], end: number): string[] {
  return stage
    .slice(0, end)
    .filter((i) => i.op === 'COPY')
    .flatMap((i) => {
      const words = i.args.split(/\s+/);
      const dest = words.pop()!;
      return words.map((src) =>
        dest.endsWith('/') && dest !== './' ? `${dest}${path.basename(src)}` : src,
      );
    });
}

describe('Dockerfile', () => {
  const all = instructions(read('Dockerfile'));
  const froms = all.flatMap((i, n) => (i.op === 'FROM' ? [n] : []));
  // Two stages: `build` (dev dependencies, npm run build) and the runtime image, last.
  const build = all.slice(froms[0], froms[1]);
  const steps = all.slice(froms.at(-1));
  const index = (find: (i: Instruction) => boolean) => steps.findIndex(find);
  const runs = steps.filter((i) => i.op === 'RUN').map((i) => i.args);
  const manifests = [
    'package.json',
    'package-lock.json',
    ...workspaces().map((w) => `${w}/package.json`),
  ];

  it('parses into two stages on the current Node LTS (the checks below read a real list)', () => {
    expect(all.length).toBeGreaterThan(20);
    expect(froms).toHaveLength(2);
    expect(build[0]).toEqual({ op: 'FROM', args: 'node:24-bookworm-slim AS build' });
    expect(steps[0]).toEqual({ op: 'FROM', args: 'node:24-bookworm-slim' });
  });

  it('builds in the build stage: every dependency from the lockfile, then npm run build', () => {
    const npmCi = build.findIndex((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
    const source = build.findIndex((i) => i.op === 'COPY' && i.args === '. .');
    const compile = build.findIndex((i) => i.op === 'RUN' && i.args === 'npm run build');
    expect(npmCi).toBeGreaterThan(0);
    expect(source).toBeGreaterThan(npmCi);
    expect(compile).toBeGreaterThan(source);
    // Dev dependencies included (tsc), and no `prepare` before the source is there.
    expect(build[npmCi]!.args).not.toMatch(/--omit/);
    expect(build[npmCi]!.args).toMatch(/--ignore-scripts/);
    expect(manifestsCopied(build, npmCi).sort()).toEqual([...manifests].sort());
  });

  it('installs the production dependencies from the lockfile before the source is copied, with every workspace manifest', () => {
    const npmCi = index((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
    const source = index((i) => i.op === 'COPY' && i.args === '. .');
    expect(npmCi).toBeGreaterThan(0);
    expect(source).toBeGreaterThan(npmCi);
    expect(steps[npmCi]!.args).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(manifests.length).toBeGreaterThan(7);
    expect(manifestsCopied(steps, npmCi).sort()).toEqual([...manifests].sort());
  });

  it('copies every built package’s dist/ from the build stage, after the source', () => {
    const packages = builtPackages();
    expect(packages).toEqual(expect.arrayContaining(['sdk', 'policy', 'gateway', 'servers/chat']));
    const source = index((i) => i.op === 'COPY' && i.args === '. .');
    const copied = steps
      .flatMap((i, n) => (i.op === 'COPY' && i.args.startsWith('--from=build ') ? [n] : []))
      .map((n) => {
        expect(n).toBeGreaterThan(source);
        return steps[n]!.args;
      });
    expect(copied.sort()).toEqual(
      packages.map((p) => `--from=build /app/${p}/dist ${p}/dist`).sort(),
    );
    // A local (maybe stale) build never reaches either stage through the context.
    expect(read('.dockerignore').split('\n')).toContain('**/dist');
  });

  it('installs python3 (the notes example) and cleans the apt lists', () => {
    const apt = runs.find((r) => r.includes('apt-get install'));
    expect(apt).toMatch(/apt-get install -y --no-install-recommends [^&]*\bpython3\b/);
    expect(apt).toContain('rm -rf /var/lib/apt/lists/*');
  });

  it('runs as node, which owns the data volume and the notes example’s data folder', () => {
    const users = steps.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users).toEqual(['node']);
    const user = index((i) => i.op === 'USER');
    expect(index((i) => i.op === 'CMD')).toBeGreaterThan(user);
    const env = envOf(steps);
    expect(env.SWITCHBOARD_DATA_DIR).toBe('/data');
    const setup = steps
      .slice(0, user)
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join(' && ');
    expect(setup).toMatch(/chown -R node:node \/data\b/);
    // notes keeps its data in NOTES_DIR, default ./.data in its folder (the stdio cwd).
    const notes = parseYaml(read('servers/notes/switchboard.yaml')) as {
      settings: Array<{ key: string; default?: string }>;
    };
    const folder = notes.settings.find((s) => s.key === 'NOTES_DIR')?.default;
    expect(folder).toBe('./.data');
    const link = `servers/notes/${path.posix.normalize(folder!)}`;
    const made = setup.match(
      new RegExp(`ln -s (/data/\\S+) ${link.replace(/\./g, '\\.')}(?:\\s|$)`),
    );
    expect(made, `a link ${link} → a folder in /data`).not.toBeNull();
    expect(setup).toContain(`mkdir -p ${made![1]}`);
    // A local servers/notes/.data must not reach the image (it would turn the link into a link inside it).
    expect(setup).toContain(`rm -rf ${link}`);
  });

  it('puts the switchboard CLI on PATH (the package bin, linked before USER)', () => {
    const bin = (JSON.parse(read('gateway/package.json')) as { bin: Record<string, string> }).bin;
    expect(bin.switchboard).toBe('bin/switchboard.js');
    const workdir = steps.find((i) => i.op === 'WORKDIR')?.args;
    expect(workdir).toBe('/app');
    const linkStep = index(
      (i) =>
        i.op === 'RUN' &&
        i.args.includes(`ln -s /app/gateway/${bin.switchboard} /usr/local/bin/switchboard`),
    );
    expect(linkStep).toBeGreaterThan(index((i) => i.op === 'COPY' && i.args === '. .'));
    expect(linkStep).toBeLessThan(index((i) => i.op === 'USER'));
    expect(fs.statSync(path.join(REPO_ROOT, 'gateway', bin.switchboard!)).mode & 0o111).toBe(0o111);
    expect(steps.at(-1)).toEqual({ op: 'CMD', args: '["switchboard", "start"]' });
  });

  it('defaults to production mode on every interface; sets only variables the gateway knows', () => {
    const env = envOf(steps);
    expect(env).toMatchObject({ SWITCHBOARD_MODE: 'production', HOST: '0.0.0.0', PORT: '8080' });
    const known = new Set<string>([...CONFIG_VARIABLES, 'NODE_ENV', 'NODE_OPTIONS']);
    expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
    // Only the young generation's size (docs/operator-guide.md, "Memory"): never a --require,
    // an --import or a loader, which would run code before the gateway's own.
    expect(env.NODE_OPTIONS).toBe('--max-semi-space-size=16');
  });
});

describe('.dockerignore', () => {
  const ignored = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('keeps tests, dependencies, git, local data and results out of the image', () => {
    expect(ignored).toEqual(
      expect.arrayContaining([
        'test',
        'node_modules',
        '**/node_modules',
        '.git',
        '.switchboard',
        '**/.data',
        'results',
        '.cache',
        'coverage',
        '.env',
      ]),
    );
  });
});

describe('compose.yaml', () => {
  const compose = parseYaml(read('compose.yaml')) as {
    services: Record<string, Record<string, unknown>>;
  };
  const gateway = compose.services.gateway!;
  const environment = gateway.environment as Record<string, string>;
  const ports = gateway.ports as string[];

  it('publishes only the gateway, on 127.0.0.1 unless SWITCHBOARD_BIND says otherwise', () => {
    const published = Object.entries(compose.services).filter(([, s]) => s.ports !== undefined);
    expect(published.map(([name]) => name)).toEqual(['gateway']);
    expect(ports.length).toBe(1);
    const env = { SWITCHBOARD_ADMIN_KEY: 'x'.repeat(64) };
    expect(ports.map((p) => interpolate(p, env))).toEqual(['127.0.0.1:8080:8080']);
    expect(ports.map((p) => interpolate(p, { ...env, SWITCHBOARD_BIND: '' }))).toEqual([
      '127.0.0.1:8080:8080',
    ]);
    expect(ports.map((p) => interpolate(p, { ...env, SWITCHBOARD_BIND: '0.0.0.0' }))).toEqual([
      '0.0.0.0:8080:8080',
    ]);
  });

  it('runs in development mode unless told, mounts the chosen policy, requires the admin key', () => {
    const resolved = (env: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(environment).map(([k, v]) => [k, interpolate(String(v), env)]),
      );
    const key = { SWITCHBOARD_ADMIN_KEY: 'k'.repeat(64) };
    expect(resolved(key)).toMatchObject({
      SWITCHBOARD_MODE: 'development',
      SWITCHBOARD_POLICY: '/etc/switchboard/policy.yaml',
      SWITCHBOARD_ADMIN_KEY: 'k'.repeat(64),
      SWITCHBOARD_MASTER_KEY: '',
    });
    expect(resolved({ ...key, SWITCHBOARD_MODE: 'production' }).SWITCHBOARD_MODE).toBe(
      'production',
    );
    expect(() => resolved({})).toThrow(/SWITCHBOARD_ADMIN_KEY: set SWITCHBOARD_ADMIN_KEY/);
    const volumes = gateway.volumes as string[];
    expect(volumes.map((v) => interpolate(v, {}))).toContain(
      './policy/default.yaml:/etc/switchboard/policy.yaml:ro',
    );
    expect(
      volumes.map((v) => interpolate(v, { SWITCHBOARD_POLICY_FILE: '/srv/policy.yaml' })),
    ).toContain('/srv/policy.yaml:/etc/switchboard/policy.yaml:ro');
    const known = new Set(CONFIG_VARIABLES);
    expect(Object.keys(environment).filter((k) => !known.has(k))).toEqual([]);
  });

  it('reaps orphans with an init process and outwaits the gateway’s shutdown deadline', () => {
    expect(gateway.init).toBe(true);
    expect(gateway.stop_grace_period).toBe('15s');
    expect(environment.SWITCHBOARD_SHUTDOWN_TIMEOUT_MS ?? '10000').toBe('10000');
  });
});

describe('no TypeScript loader at run time (issue 20 item 2)', () => {
  it('tsx and typescript are dev dependencies only: `npm ci --omit=dev` installs neither', () => {
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    for (const name of ['tsx', 'typescript']) {
      expect(lock.packages[`node_modules/${name}`]?.dev, name).toBe(true);
    }
    for (const workspace of workspaces()) {
      const pkg = JSON.parse(read(`${workspace}/package.json`)) as {
        dependencies?: Record<string, string>;
      };
      expect(Object.keys(pkg.dependencies ?? {}), workspace).not.toContain('tsx');
      expect(Object.keys(pkg.dependencies ?? {}), workspace).not.toContain('typescript');
    }
  });

  it('the bin imports the compiled CLI, and each built package exports its dist/ by default', () => {
    const bin = read('gateway/bin/switchboard.js');
    expect(bin).toContain("'../dist/cli/main.js'");
    expect(bin).not.toMatch(/\btsx\b|\.ts['"]/);
    for (const workspace of ['sdk', 'policy', 'gateway']) {
      const { exports } = JSON.parse(read(`${workspace}/package.json`)) as {
        exports: Record<string, Record<string, string>>;
      };
      for (const [subpath, conditions] of Object.entries(exports)) {
        expect(conditions.default, `${workspace} ${subpath}`).toMatch(/^\.\/dist\/.*\.js$/);
        expect(Object.keys(conditions).at(-1), `${workspace} ${subpath}`).toBe('default');
      }
    }
  });
});
