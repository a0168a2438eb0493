// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the snippets are TypeScript sources
import { describe, expect, it } from 'vitest';
import { checkPaths, checkSources } from '../../scripts/check-sql-order.ts';

/** The findings of one TypeScript source, as `line: first words of the message`. */
const check = (source: string) =>
  checkSources([{ file: 'store.ts', source }]).map((f) => `${f.file}:${f.line}: ${f.message}`);

describe('scripts/check-sql-order.ts (issue 12: ids sorted as text)', () => {
  it("names file:line of an ORDER BY that sorts a ::text output column (the events store's bug)", () => {
    const bad = [
      "import type { Sql } from '../db/connect.ts';",
      'const columns = (sql: Sql) =>',
      '  sql`seq::text, task_id::text as "taskId", type, data`;',
      'export async function listTaskEvents(sql: Sql, taskId: string) {',
      '  return sql<TaskEvent[]>`',
      '    select ${columns(sql)} from task_events',
      '     where task_id = ${taskId} and seq > ${"0"}::bigint',
      '     order by seq',
      '     limit 500`;',
      '}',
    ].join('\n');
    expect(check(bad)).toEqual([
      expect.stringMatching(/^store\.ts:8: ORDER BY seq sorts the text output column "seq"/),
    ]);
    const good = bad
      .replace('from task_events', 'from task_events e')
      .replace('order by seq', 'order by e.seq');
    expect(check(good)).toEqual([]);
  });

  it('catches the other shapes of the mistake', () => {
    const cases: Record<string, string> = {
      qualifiedSelect: 'sql`select t.seq::text, t.id::text from tasks t order by seq desc`',
      aggregateAlias:
        'sql`select coalesce(max(id), 0)::text as id from messages group by session_id order by id`',
      castFunction: 'sql`select cast(id as text) as id from api_keys order by id nulls last`',
      distinctOn: 'sql`select distinct on (id) id::text, name from api_keys`',
      returning: 'sql`update api_keys set name = ${n} returning id::text order by id`',
      cteBare:
        'sql`with x as (select id::text, name from api_keys) select * from x order by id limit 5`',
      cteQualified:
        'sql`with x as (select id::text from api_keys) select 1 from x where x.id > ${a}`',
      comparedCast: 'sql`select 1 from task_events e where e.seq::text > ${after}`',
      maxOfCast: 'sql`select max(id::text) from messages`',
      orderByCast: 'sql<Row[]>`select name from api_keys order by id::text`',
      quotedName: 'sql`select id::text as "id" from api_keys order by "id" desc`',
    };
    for (const [name, snippet] of Object.entries(cases)) {
      expect(check(snippet), name).toHaveLength(1);
      expect(check(snippet)[0], name).toMatch(/^store\.ts:1: /);
    }
  });

  it('leaves alone what sorts or compares by the real column', () => {
    const fine = [
      // Qualified: the table's bigint column, whatever the select list says.
      'sql`select e.seq::text from task_events e order by e.seq`',
      // A text output under another name is meant to be text.
      'sql`select id::text as "idText" from api_keys order by id`',
      "sql`select to_char(at, 'YYYY') as year from audit_log order by year`",
      // WHERE and GROUP BY see the input columns.
      'sql`select id::text from messages where id > ${after}::bigint group by id`',
      // A window and an aggregate order by input columns.
      'sql`select id::text, row_number() over (order by id) as n from api_keys`',
      "sql`select string_agg(name, ',' order by id) from api_keys`",
      // A parameter cast to text and on: not a column.
      'sql`select 1 from sessions s where (s.created_at, s.id) < (${at}::text::timestamptz, ${id}::uuid)`',
      // The JSON of an event carries the seq as text; nothing sorts it.
      "sql`select jsonb_build_object('seq', i.seq::text) from inserted i order by i.seq`",
      // Said on purpose.
      'sql`select key::text as key from kv -- check-sql-order: text order intended\n order by key`',
      // Not SQL.
      'html`<p>order by ${x}</p>`',
    ];
    for (const snippet of fine) expect(check(snippet), snippet).toEqual([]);
  });

  it('reads TypeScript around the SQL: strings, comments and regexes with backticks', () => {
    const source = [
      "const a = 'a ` in a string';",
      '// a ` in a comment',
      'const re = /`/g;',
      'const half = total / 2; const b = `plain ${half}`;',
      'export const q = (sql: Sql) =>',
      '  sql`select id::text from api_keys order by id`;',
    ].join('\n');
    expect(check(source)).toEqual([expect.stringMatching(/^store\.ts:6: ORDER BY id /)]);
  });

  it('passes on the gateway as shipped', () => {
    const result = checkPaths();
    expect(result.findings).toEqual([]);
    // Every store's statements were read (not zero because the lexer lost its way).
    expect(result.statements).toBeGreaterThan(80);
  });
});
