import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseManifest } from '@switchboard/sdk';
import { REPO_ROOT } from './gateway.ts';

export const CHAT_DIR = path.join(REPO_ROOT, 'servers/chat');

/** The process may take this long to print its URL on a cold, busy 2-core machine. */
const LISTEN_TIMEOUT_MS = 15_000;

/**
 * Starts the chat manifest's `processes` entry as the gateway will: cwd = the integration folder,
 * env = PATH + HOME + settings only. CHAT_PORT=0 lets the OS pick the port; the server prints the
 * URL it bound on stderr.
 */
export async function startChatProcess(
  settings: Record<string, string>,
): Promise<{ child: ChildProcess; url: URL }> {
  const file = path.join(CHAT_DIR, 'switchboard.yaml');
  const parsed = parseManifest(readFileSync(file, 'utf8'), file);
  if (!parsed.ok) throw new Error(`chat manifest is invalid: ${JSON.stringify(parsed.errors)}`);
  const entry = parsed.manifest.processes[0];
  if (!entry) throw new Error('chat manifest has no processes entry');
  const child = spawn(entry.command, entry.args, {
    cwd: CHAT_DIR,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...settings },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  const url = await new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`chat did not listen: ${stderr}`)),
      LISTEN_TIMEOUT_MS,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = stderr.match(/listening on (http:\/\/\S+)/);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(new URL(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chat exited with ${code}: ${stderr}`));
    });
  });
  return { child, url };
}
