/**
 * @switchboard/sdk — for integration authors: the sidecar manifest schema, the handler
 * contracts and gateway-token verification. It never imports gateway code. The manifest schema
 * and handler types land with issue 3 (integrations as MCP servers); until then this package
 * only fixes the manifest apiVersion both sides agree on.
 */
export const MANIFEST_API_VERSION = 'switchboard/v1';
