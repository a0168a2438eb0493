import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { INTEGRATION_NAME } from '@switchboard/sdk';
import { DEFAULT_INTEGRATION_DIRS, integrationDirsOf } from '../config.ts';
import { UsageError } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';

/**
 * `switchboard init <name>`: a working integration folder to start from, rendered from
 * gateway/templates/<lang>/ (every file, `{{name}}` replaced, a trailing `.tmpl` dropped: the
 * templates are .tmpl so that lint, typecheck and the gateway's discovery skip them), plus the
 * files a language needs from elsewhere in the repository (EXTRA_FILES). Offline: it touches
 * neither the database nor a gateway.
 */

export const LANGS = ['typescript', 'python'] as const;
export type Lang = (typeof LANGS)[number];

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const TEMPLATES_DIR = path.join(REPO, 'gateway/templates');

/** Copied as they are (no placeholders) into the new folder: [from the repository, to]. */
const EXTRA_FILES: Record<Lang, Array<[string, string]>> = {
  typescript: [],
  python: [['sdk/python/switchboard_mcp.py', 'switchboard_mcp.py']],
};

const PLACEHOLDER = /\{\{name\}\}/g;
const TEMPLATE_SUFFIX = '.tmpl';
/** The webhook setting the templates declare (switchboard.yaml.tmpl). */
const SECRET_SETTING = 'WEBHOOK_SECRET';

const usage = `Usage:
  switchboard init NAME [--lang typescript|python] [--dir PARENT]

Creates PARENT/NAME, a working integration to start from: an MCP server with one tool, a
Standard Webhooks webhook and its handler (on_webhook), a dispatcher (deliver), a schedule
(commented out), a README and a test. NAME is the integration's name: 2 to 41 characters, a
lowercase letter, then lowercase letters or digits, with single - between them (my-tool).
--lang      typescript (default) or python
--dir       the parent folder; default the first folder of INTEGRATION_DIRS (default servers)
It refuses a folder that exists and is not empty. It prints the files it wrote and what to do
next: validate, the policy entry that enables it, and a signed test delivery.`;

export interface InitOptions {
  name: string;
  lang: Lang;
  /** The parent folder, absolute. */
  parent: string;
}

export interface InitResult {
  dir: string;
  /** Absolute paths of the files written, in the order written. */
  files: string[];
}

function templateFiles(root: string): string[] {
  return fs
    .readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

function isEmptyOrMissing(dir: string): boolean {
  if (!fs.existsSync(dir)) return true;
  if (!fs.statSync(dir).isDirectory()) return false;
  return fs.readdirSync(dir).length === 0;
}

/** Checks everything first, then writes: a refusal leaves nothing behind. */
export function scaffold(options: InitOptions): InitResult {
  const { name, lang, parent } = options;
  if (!INTEGRATION_NAME.test(name)) {
    throw new UsageError(
      `invalid integration name ${JSON.stringify(name)}: expected 2 to 41 characters, a lowercase letter, then lowercase letters or digits, with single - between them (my-tool)`,
      usage,
    );
  }
  const templates = path.join(TEMPLATES_DIR, lang);
  if (!fs.existsSync(templates)) {
    throw new UsageError(
      `no ${lang} template in this installation (${templates} is missing)`,
      usage,
    );
  }
  const extras = EXTRA_FILES[lang].map(([from, to]) => [path.join(REPO, from), to] as const);
  for (const [from] of extras) {
    if (!fs.existsSync(from)) {
      throw new UsageError(`the ${lang} template needs ${from}, which is missing`, usage);
    }
  }
  const dir = path.join(parent, name);
  if (!isEmptyOrMissing(dir)) {
    throw new UsageError(
      `${dir} already exists and is not empty: choose another NAME or --dir (nothing was written)`,
      usage,
    );
  }
  const files: string[] = [];
  const write = (target: string, content: string | Buffer) => {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content, { flag: 'wx' });
    files.push(target);
  };
  for (const source of templateFiles(templates)) {
    const relative = path.relative(templates, source);
    const target = path.join(
      dir,
      relative.endsWith(TEMPLATE_SUFFIX) ? relative.slice(0, -TEMPLATE_SUFFIX.length) : relative,
    );
    write(target, fs.readFileSync(source, 'utf8').replace(PLACEHOLDER, name));
  }
  for (const [from, to] of extras) write(path.join(dir, to), fs.readFileSync(from));
  return { dir, files };
}

/** A fresh Standard Webhooks secret: `whsec_` and 24 random bytes in base64. */
function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function nextSteps(name: string, lang: Lang, shown: string): string {
  const install =
    lang === 'typescript'
      ? `npm install          (inside this repository: npm install at its root)`
      : `python3 --version     (3.9 or newer; nothing to install: standard library only)`;
  const test = lang === 'typescript' ? 'npm test' : 'python3 -B -m unittest';
  return `Next steps:
  1. cd ${shown} && ${install}
  2. switchboard integrations validate ${shown}
  3. Enable it in the operator policy (SWITCHBOARD_POLICY), with a profile for its tasks:
       integrations:
         ${name}:
           enabled: true
           grants: [webhooks, dispatch, sessions.write]
           profile: <a profile of your policy>
     and its webhook secret, the same the sender signs with. A fresh one (shown only here):
       ${newSecret()}
     set it with the command below, pasting it when asked (--stdin keeps it out of the shell
     history and the process list):
       switchboard integrations settings set ${name} ${SECRET_SETTING} --stdin
  4. Reload or start the gateway, then send a signed test delivery:
       switchboard webhook send ${name} events
  5. Run its test: ${test}   (README.md says what each file does)`;
}

export const init: Command = {
  name: 'init',
  summary: 'scaffold a new integration folder (TypeScript or Python)',
  usage,
  async run(args, ctx) {
    const { values, positionals } = parseCommandArgs(
      args,
      { ...HELP_OPTION, lang: { type: 'string' }, dir: { type: 'string' } },
      usage,
      { min: 1, max: 1 },
    );
    if (values.help) return showHelp(ctx, usage);
    const lang = (values.lang as string | undefined) ?? 'typescript';
    if (!(LANGS as readonly string[]).includes(lang)) {
      throw new UsageError(
        `unknown --lang ${JSON.stringify(lang)}: expected ${LANGS.join(' or ')}`,
        usage,
      );
    }
    const cwd = process.cwd();
    const dirs = integrationDirsOf(ctx.env.INTEGRATION_DIRS || DEFAULT_INTEGRATION_DIRS, cwd);
    const parent = values.dir ? path.resolve(cwd, values.dir as string) : dirs[0];
    if (!parent) throw new UsageError('INTEGRATION_DIRS names no folder: pass --dir', usage);
    const name = positionals[0]!;
    const result = scaffold({ name, lang: lang as Lang, parent });
    const shown = path.relative(cwd, result.dir) || '.';
    ctx.out(`Created ${shown} (${lang}):`);
    for (const file of result.files) ctx.out(`  ${path.relative(cwd, file)}`);
    if (!dirs.includes(parent)) {
      ctx.out(
        `\nNote: ${path.relative(cwd, parent) || '.'} is not in INTEGRATION_DIRS: add it there for the gateway to find ${name}.`,
      );
    }
    ctx.out(`\n${nextSteps(name, lang as Lang, shown)}`);
    return 0;
  },
};
