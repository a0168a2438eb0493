import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

/**
 * Spawns an example server exactly as its manifest says: cwd = its folder, env = PATH + HOME +
 * settings. The SDK's StdioClientTransport always merges HOME LOGNAME PATH SHELL TERM USER into
 * the child env (client/dist/stdio.mjs getDefaultEnvironment), so `env -i` strips it back to
 * exactly what the gateway's supervisor passes.
 */
export function manifestTransport(
  serverDir: string,
  server: { command: string; args: string[] },
  settings: Record<string, string> = {},
): StdioClientTransport {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...settings };
  return new StdioClientTransport({
    command: 'env',
    args: [
      '-i',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      server.command,
      ...server.args,
    ],
    cwd: serverDir,
    stderr: 'pipe',
  });
}
