/**
 * How much one upstream message may weigh, over any transport (a stdio line, an HTTP body, one
 * SSE event): 10 MiB, the cap the MCP SDK's own stdio transports use. Past it the message is
 * dropped unread and only the request it answered fails (upstream_too_large): an honest server
 * with a big result and a hostile one sending an endless line cost the gateway the same bounded
 * memory, and every other call on the same server goes on.
 */
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
