import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Bundle } from './bundle.ts';
import type { AgentFile } from './context-files.ts';
import { renderGoose } from './formats/goose.ts';
import { renderClaude, renderCursor, renderSwitchboardJson } from './formats/json.ts';
import { renderCodex } from './formats/toml.ts';

/**
 * Where each format's file lives in the task's working folder. The process driver sets HOME to
 * that folder, so the agents' default locations find them without flags: Codex reads
 * `~/.codex/config.toml`, goose `~/.config/goose/config.yaml`, Cursor the project's
 * `.cursor/mcp.json`. Claude Code wants project servers approved, so pass `--mcp-config
 * {mcp_json}` instead (REFERENCES §D 6.1).
 */
export const CONFIG_FORMATS = ['claude', 'codex', 'cursor', 'goose', 'json'] as const;
export type ConfigFormat = (typeof CONFIG_FORMATS)[number];

export interface BundleFileSpec {
  /** Relative to the working folder. */
  path: string;
  /** A flat name for places that cannot hold `/` (kubernetes ConfigMap and Secret keys). */
  key: string;
  /**
   * The file holds a credential: kubernetes puts it in the Secret, not the ConfigMap. None does
   * today (every format refers to the token variables), but a format that cannot would be.
   */
  secret: boolean;
}

export const BUNDLE_FILES: Record<ConfigFormat, BundleFileSpec> = {
  claude: { path: '.mcp.json', key: 'mcp.json', secret: false },
  codex: { path: '.codex/config.toml', key: 'codex-config.toml', secret: false },
  cursor: { path: '.cursor/mcp.json', key: 'cursor-mcp.json', secret: false },
  goose: { path: '.config/goose/config.yaml', key: 'goose-config.yaml', secret: false },
  json: { path: 'switchboard.json', key: 'switchboard.json', secret: false },
};

/** One format's file, as `switchboard mcp-config --format` prints it. Pure. */
export function renderConfig(bundle: Bundle, format: ConfigFormat): string {
  switch (format) {
    case 'claude':
      return renderClaude(bundle);
    case 'codex':
      return renderCodex(bundle);
    case 'cursor':
      return renderCursor(bundle);
    case 'goose':
      return renderGoose(bundle);
    case 'json':
      return renderSwitchboardJson(bundle);
  }
}

export interface BundleFile extends BundleFileSpec {
  format: ConfigFormat;
  content: string;
}

/** Every file of the bundle, rendered. */
export function bundleFiles(bundle: Bundle): BundleFile[] {
  return CONFIG_FORMATS.map((format) => ({
    format,
    ...BUNDLE_FILES[format],
    content: renderConfig(bundle, format),
  }));
}

/**
 * Writes the bundle into a fresh working folder (mkdtemp: 0700, a name nobody can predict)
 * and returns its path. Files are 0600 and folders 0700: they hold no token, but they say which
 * gateway to reach, and the prompt may be private. The caller removes the folder when the task ends.
 */
export async function writeBundle(bundle: Bundle, parent: string = os.tmpdir()): Promise<string> {
  const safeId = bundle.taskId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  const dir = await fs.mkdtemp(path.join(parent, `switchboard-task-${safeId}-`));
  for (const file of bundleFiles(bundle)) {
    const target = path.join(dir, file.path);
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    // `wx`: a fresh folder has no such file, so an existing one is a bug, not something to follow.
    await fs.writeFile(target, file.content, { mode: 0o600, flag: 'wx' });
  }
  return dir;
}

/**
 * The task's prompt, as the file `{prompt_file}` names: next to the bundle in the working
 * folder, 0600 like it. An agent that reads its prompt from a file never has it on its
 * command line (where a leading `-` could pass for an option, and `ps` shows it to everyone).
 */
export const PROMPT_FILE = 'prompt.txt';

export async function writePromptFile(workdir: string, prompt: string): Promise<string> {
  const target = path.join(workdir, PROMPT_FILE);
  await fs.writeFile(target, prompt, { mode: 0o600, flag: 'wx' });
  return target;
}

/**
 * The task's context files (context-files.ts: an agent's instructions file and skills) into the
 * working folder, 0600 in 0700 folders like the bundle. Their paths come from the agent preset
 * and validated skill names; one that is absolute or has a `..` segment is a bug, refused.
 */
export async function writeAgentFiles(workdir: string, files: readonly AgentFile[]): Promise<void> {
  for (const file of files) {
    const parts = file.path.split('/');
    if (path.isAbsolute(file.path) || parts.some((p) => p === '' || p === '.' || p === '..'))
      throw new Error(`context file path ${JSON.stringify(file.path)} is not inside the folder`);
    const target = path.join(workdir, file.path);
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    await fs.writeFile(target, file.content, { mode: 0o600, flag: 'wx' });
  }
}

export async function removeWorkdir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}
