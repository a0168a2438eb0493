import * as z from 'zod';
import type { Scope } from '../keys/scopes.ts';

/**
 * Every /api/v1 route with its method, scope and shapes: the source of /api/v1/openapi.json.
 * A test compares this list with the routes the router registers, both ways.
 */
export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express form: /tasks/:id. */
  path: string;
  /** null: any valid API key. */
  scope: Scope | null;
  /** Further scopes the route requires as well (a trace reads tasks and deliveries). */
  alsoScopes?: Scope[];
  summary: string;
  query?: z.ZodType;
  body?: z.ZodType;
  responses: Array<{
    status: number;
    description: string;
    schema?: z.ZodType;
    /** application/json unless said. */
    contentType?: string;
  }>;
}

export const Json = z.record(z.string(), z.unknown());
export const ok = (schema: z.ZodType = Json, description = 'OK') => ({
  status: 200,
  description,
  schema,
});
