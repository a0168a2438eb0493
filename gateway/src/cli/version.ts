/** What `switchboard --version` prints: the gateway package's version (version.ts). */
export { GATEWAY_VERSION as CLI_VERSION } from '../version.ts';
