import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { z } from 'zod';

/**
 * Our own pagination over lists merged from several upstreams: each upstream's pages are drained
 * (their cursors mean nothing to an agent of the aggregate), then the merged list is cut into
 * pages of PAGE_SIZE. A cursor is opaque to clients (spec 2025-11-25 utilities/pagination:
 * "Clients MUST treat cursors as opaque tokens"); inside it is the list kind and an offset.
 * It needs no signature: a forged cursor can only choose an offset into a list the same grant
 * is allowed to see anyway.
 */

/** 100 items: a few KB of tool definitions per page, well under any client's message limit. */
export const PAGE_SIZE = 100;

export type ListKind = 'tools' | 'resources' | 'templates' | 'prompts' | 'skills';

const cursorSchema = z.object({
  k: z.enum(['tools', 'resources', 'templates', 'prompts', 'skills']),
  o: z.int().min(0),
});

export function encodeCursor(kind: ListKind, offset: number): string {
  return Buffer.from(JSON.stringify({ k: kind, o: offset }), 'utf8').toString('base64url');
}

/** The offset a cursor stands for; -32602 (spec: "Invalid cursors SHOULD result in -32602"). */
export function decodeCursor(kind: ListKind, cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const result = cursorSchema.safeParse(parsed);
  if (!result.success || result.data.k !== kind) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid cursor');
  }
  return result.data.o;
}

/** One page of `items` starting at the cursor, with the cursor of the next page if any. */
export function paginate<T>(
  kind: ListKind,
  items: readonly T[],
  cursor: string | undefined,
  pageSize: number,
): { page: T[]; nextCursor?: string } {
  const offset = decodeCursor(kind, cursor);
  const end = offset + pageSize;
  const page = items.slice(offset, end);
  return end < items.length ? { page, nextCursor: encodeCursor(kind, end) } : { page };
}

/**
 * Bytes of tool definitions per page: 1 MB holds a page of 100 ordinary tools (2–10 KB each)
 * with room to spare, and keeps the one string a page is serialized to small, since a single
 * tool may be up to the 4 MB catalog bound (integrations/tool-catalog.ts). A page holds at least
 * one item, so it is at most 1 MB plus one tool.
 */
export const PAGE_BYTES = 1024 * 1024;

/** Lists kept apart (one per integration), with each item's serialized size. */
export interface SizedList<T> {
  items: readonly T[];
  sizes: readonly number[];
}

/**
 * One page across `lists` as if they were one list, without concatenating them: the cost is
 * the page and the number of lists, not the total. A page ends at `pageSize` items or once it
 * holds `pageBytes`, whichever comes first; the cursor is the offset into the whole, as above.
 */
export function paginateLists<T>(
  kind: ListKind,
  lists: readonly SizedList<T>[],
  cursor: string | undefined,
  pageSize: number,
  pageBytes: number = PAGE_BYTES,
): { page: T[]; nextCursor?: string } {
  const offset = decodeCursor(kind, cursor);
  const page: T[] = [];
  let bytes = 0;
  let skip = offset;
  let position = offset;
  let total = 0;
  for (const list of lists) total += list.items.length;
  for (const list of lists) {
    if (skip >= list.items.length) {
      skip -= list.items.length;
      continue;
    }
    for (let i = skip; i < list.items.length; i++) {
      if (page.length >= pageSize || (page.length > 0 && bytes >= pageBytes)) break;
      page.push(list.items[i] as T);
      bytes += list.sizes[i] ?? 0;
      position += 1;
    }
    skip = 0;
    if (page.length >= pageSize || bytes >= pageBytes) break;
  }
  return position < total ? { page, nextCursor: encodeCursor(kind, position) } : { page };
}
