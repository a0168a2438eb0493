import * as z from 'zod';
import type { RouteSpec } from './route-spec.ts';
import { API_ROUTES } from './routes.ts';
import { ErrorAnswer } from './schemas.ts';

/**
 * /api/v1/openapi.json, built once from API_ROUTES and the zod schemas with z.toJSONSchema.
 * Requests are rendered as zod parses them (`io: input`: defaults make fields optional),
 * answers as they leave (`io: output`). Pieces JSON Schema cannot say (a transform) are left
 * open rather than failing the whole document.
 */
type Json = Record<string, unknown>;

const schemaOf = (schema: z.ZodType, io: 'input' | 'output'): Json => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'openapi-3.0',
  }) as Json;
  return rest;
};

/** /tasks/:id → /tasks/{id} */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z_]+)/g, '{$1}');

function queryParameters(query: z.ZodType | undefined): Json[] {
  if (!query) return [];
  const schema = schemaOf(query, 'input') as {
    properties?: Record<string, Json>;
    required?: string[];
  };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: schema.required?.includes(name) ?? false,
    schema: s,
  }));
}

function operation(route: RouteSpec): Json {
  const pathParams = [...route.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  const responses: Json = {};
  for (const r of route.responses) {
    responses[String(r.status)] = {
      description: r.description,
      ...(r.schema
        ? {
            content: {
              [r.contentType ?? 'application/json']: { schema: schemaOf(r.schema, 'output') },
            },
          }
        : {}),
    };
  }
  const error = { content: { 'application/json': { schema: schemaOf(ErrorAnswer, 'output') } } };
  responses.default = { description: 'An error: 400 names each bad field', ...error };
  return {
    summary: route.summary,
    'x-switchboard-scope': route.scope,
    ...(route.alsoScopes ? { 'x-switchboard-also-scopes': route.alsoScopes } : {}),
    security: [{ apiKey: route.scope ? [route.scope, ...(route.alsoScopes ?? [])] : [] }],
    parameters: [...pathParams, ...queryParameters(route.query)],
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schemaOf(route.body, 'input') } },
          },
        }
      : {}),
    responses,
  };
}

export function openApiDocument(routes: readonly RouteSpec[] = API_ROUTES): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const key = openApiPath(route.path);
    paths[key] = { ...paths[key], [route.method]: operation(route) };
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Switchboard API', version: 'v1' },
    servers: [{ url: '/api/v1' }],
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An operator API key (sbk_…)' },
      },
    },
    paths,
  };
}

/** Method and path of every route an express Router has, nested routers included. */
export function registeredRoutes(router: unknown): Array<{ method: string; path: string }> {
  const found: Array<{ method: string; path: string }> = [];
  const walk = (stack: unknown) => {
    if (!Array.isArray(stack)) return;
    for (const layer of stack as Array<{
      route?: { path: string; methods: Record<string, boolean> };
      handle?: { stack?: unknown };
    }>) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') found.push({ method, path: layer.route.path });
        }
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((router as { stack?: unknown }).stack);
  return found;
}
