import { UsageError } from '../errors.ts';
import type { CliContext } from './command.ts';

/** A setting or secret is small; 64 KiB bounds a mistaken `< big-file` (the API body cap is 1 MiB). */
const MAX_VALUE_BYTES = 64 * 1024;

/**
 * One value read from standard input, so a secret stays out of argv (visible in `ps` to every
 * user) and out of shell history. One trailing newline is dropped: `echo`, `printf '%s\n'` and
 * password managers write one. An empty value is a usage error, not an empty setting.
 */
export async function readStdinValue(
  ctx: CliContext,
  what: string,
  usage: string,
): Promise<string> {
  const stdin = ctx.stdin;
  if (!stdin) throw new UsageError(`no standard input to read ${what} from`, usage);
  if ((stdin as { isTTY?: boolean }).isTTY) {
    ctx.err(`type the value of ${what}, then Enter and Ctrl-D:`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += bytes.length;
    if (size > MAX_VALUE_BYTES) {
      throw new UsageError(`the value of ${what} on standard input is over 64 KiB`, usage);
    }
    chunks.push(bytes);
  }
  const value = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (value === '') throw new UsageError(`no value on standard input for ${what}`, usage);
  return value;
}
