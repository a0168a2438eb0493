import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type Document, isMap, isPair, isScalar, isSeq, parseDocument, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { formatPath, type ManifestError } from './errors.ts';
import { type Validated, validate } from './validate.ts';

/**
 * YAML text → a value checked by a zod schema, with every problem as a ManifestError. Shared by
 * the manifest and the operator policy so both report errors the same way.
 */

/** `Map keys must be unique at line 4, column 3:\n…` → `Map keys must be unique`. */
function firstLine(error: YAMLError): string {
  const line = error.message.split('\n')[0] ?? error.message;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}

function where(error: YAMLError): string {
  const pos = error.linePos?.[0];
  return pos ? `line ${pos.line}, column ${pos.col}` : `offset ${error.pos[0]}`;
}

/** The mapping key that starts at `offset`: its text and path, e.g. `webhooks[0].name`. */
function keyAt(doc: Document, offset: number): { key: string; path: string } | undefined {
  const walk = (node: unknown, path: PropertyKey[]): { key: string; path: string } | undefined => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : '?';
        const here = [...path, key];
        if (isScalar(pair.key) && pair.key.range?.[0] === offset)
          return { key, path: formatPath(here) };
        const found = walk(pair.value, here);
        if (found) return found;
      }
    } else if (isSeq(node)) {
      for (const [index, item] of node.items.entries()) {
        const found = walk(item, [...path, index]);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(doc.contents, []);
}

function yamlErrors(doc: Document, file: string): ManifestError[] {
  const duplicates = doc.errors.filter((e) => e.code === 'DUPLICATE_KEY');
  const syntax = doc.errors.filter((e) => e.code !== 'DUPLICATE_KEY');
  const first = syntax[0];
  if (first) {
    // One broken token cascades into several follow-up errors; the first is the one to fix.
    const hint =
      first.code === 'BAD_ALIAS'
        ? ' (a value starting with * is read as an alias: quote it, e.g. "* * * * *")'
        : '';
    return [
      {
        file,
        path: '',
        message: `invalid YAML at ${where(first)}: ${firstLine(first)}${hint}`,
        expected: 'valid YAML',
      },
    ];
  }
  return duplicates.map((error) => {
    const key = keyAt(doc, error.pos[0]);
    const found = `${key ? `duplicate key ${JSON.stringify(key.key)}` : 'a duplicate key'} at ${where(error)}`;
    const expected = 'each key at most once per mapping';
    return {
      file,
      path: key?.path ?? '',
      message: `found ${found}, expected ${expected}`,
      found,
      expected,
    };
  });
}

/** Parse YAML text; syntax errors and duplicate keys come back as ManifestErrors. */
export function parseYaml(text: string, file: string): Validated<unknown> {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false, errors: yamlErrors(doc, file) };
  try {
    return { ok: true, value: doc.toJS() };
  } catch (error) {
    // toJS throws on an alias whose anchor is missing (`x: *foo`); the parser does not flag it.
    return {
      ok: false,
      errors: [{ file, path: '', message: `invalid YAML: ${(error as Error).message}` }],
    };
  }
}

/** Parse YAML text and check it against `schema`. */
export function validateYaml<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
  what: string,
): Validated<z.output<S>> {
  const parsed = parseYaml(text, file);
  if (!parsed.ok) return parsed;
  if (parsed.value === null || parsed.value === undefined) {
    return {
      ok: false,
      errors: [
        {
          file,
          path: '',
          message: `found an empty file, expected ${what}`,
          found: 'an empty file',
          expected: what,
        },
      ],
    };
  }
  return validate(schema, parsed.value, file);
}

function unreadable(error: unknown, file: string, what: string): Validated<never> {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  const found = code === 'ENOENT' ? 'no such file' : `a file that cannot be read (${code})`;
  return {
    ok: false,
    errors: [
      { file, path: '', message: `found ${found}, expected ${what}`, found, expected: what },
    ],
  };
}

/** Read a YAML file and check it; a missing or unreadable file is one error naming it. */
export async function readYamlFile<S extends z.ZodType>(
  schema: S,
  file: string,
  what: string,
): Promise<Validated<z.output<S>>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return unreadable(error, file, what);
  }
  return validateYaml(schema, text, file, what);
}

/** readYamlFile for callers that load once at boot and cannot await (the operator policy). */
export function readYamlFileSync<S extends z.ZodType>(
  schema: S,
  file: string,
  what: string,
): Validated<z.output<S>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return unreadable(error, file, what);
  }
  return validateYaml(schema, text, file, what);
}
