import net from 'node:net';
import type { ResolvedSetting, SettingDeclaration } from './resolve.ts';

/**
 * Settings declared `auto: port` that nothing else set get a TCP port that is free on 127.0.0.1
 * right now (source `auto`), picked at each (re)load: no fixed port for another program to
 * hold first. The port is released before the integration binds it; a process that loses the
 * race exits with EADDRINUSE, shown in its status, and the next reload picks another.
 */
export async function fillAutoPorts(
  declared: SettingDeclaration[],
  resolved: ResolvedSetting[],
): Promise<ResolvedSetting[]> {
  const auto = new Set(declared.filter((d) => d.auto === 'port').map((d) => d.key));
  return Promise.all(
    resolved.map(async (setting) =>
      auto.has(setting.key) && setting.value === undefined
        ? { ...setting, value: String(await freeLoopbackPort()), source: 'auto' as const }
        : setting,
    ),
  );
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
