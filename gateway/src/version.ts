import fs from 'node:fs';

/**
 * The gateway package's version: what `switchboard --version` prints and what traces carry as
 * service.version. Read from gateway/package.json once, so it cannot drift from the release.
 */
export const GATEWAY_VERSION = (
  JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
