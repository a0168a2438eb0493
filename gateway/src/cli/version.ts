import fs from 'node:fs';

/** The gateway package's version: what `switchboard --version` prints. */
export const CLI_VERSION = (
  JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
