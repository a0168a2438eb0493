import type { NextFunction, Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { sequence } from '../../gateway/src/http/sequence.ts';

/** Runs a sequence on dummy req/res; resolves with what it passed on (its `next`'s argument). */
function run(...steps: Parameters<typeof sequence>): Promise<{ out: unknown; seen: string[] }> {
  const seen: string[] = [];
  const req = { seen } as unknown as Request;
  return new Promise((resolve) => {
    sequence(...steps)(req, {} as Response, (out?: unknown) => resolve({ out, seen }));
  });
}

const step =
  (name: string) =>
  (req: Request, _res: Response, next: NextFunction): void => {
    (req as unknown as { seen: string[] }).seen.push(name);
    next();
  };

describe('sequence (express handlers as one)', () => {
  it('runs request handlers in order and skips error handlers without an error', async () => {
    const onError = (_e: unknown, _q: Request, _s: Response, next: NextFunction) => next();
    const { out, seen } = await run(step('a'), onError, step('b'));
    expect(seen).toEqual(['a', 'b']);
    expect(out).toBeUndefined();
  });

  it('an error skips to the next error handler, which may recover', async () => {
    const fail = (_q: Request, _s: Response, next: NextFunction) => next(new Error('x'));
    const recover = (e: unknown, req: Request, _s: Response, next: NextFunction) => {
      (req as unknown as { seen: string[] }).seen.push(`recovered ${(e as Error).message}`);
      next();
    };
    const { out, seen } = await run(fail, step('skipped'), recover, step('after'));
    expect(seen).toEqual(['recovered x', 'after']);
    expect(out).toBeUndefined();
  });

  it('a throw or a rejected promise is an error passed on; next("route") leaves', async () => {
    const throws = () => {
      throw new Error('thrown');
    };
    expect((await run(throws, step('skipped'))).out).toMatchObject({ message: 'thrown' });
    const rejects = async () => {
      throw new Error('rejected');
    };
    expect((await run(rejects)).out).toMatchObject({ message: 'rejected' });
    const leave = (_q: Request, _s: Response, next: NextFunction) => next('route');
    const { out, seen } = await run(leave, step('skipped'));
    expect(out).toBeUndefined();
    expect(seen).toEqual([]);
  });
});
