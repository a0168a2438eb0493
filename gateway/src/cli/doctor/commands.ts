import fs from 'node:fs';
import path from 'node:path';

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Where `command` would be found when the gateway spawns it: a command with a slash is relative
 * to `dir` (integrations/launch.ts resolveCommand), a bare name is looked up on PATH as the
 * kernel's execvp does. undefined: it would fail with ENOENT (or EACCES).
 */
export function findCommand(
  command: string,
  dir: string,
  env: NodeJS.ProcessEnv,
): string | undefined {
  if (command.includes('/')) {
    const file = path.resolve(dir, command);
    return isExecutable(file) ? file : undefined;
  }
  for (const entry of (env.PATH ?? '').split(path.delimiter)) {
    if (entry === '') continue;
    const file = path.join(entry, command);
    if (isExecutable(file)) return file;
  }
  return undefined;
}
