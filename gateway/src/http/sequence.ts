import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';

type Step = RequestHandler | ErrorRequestHandler;

/**
 * Express handlers run one after the other as one handler, as a route given them all would run
 * them (an error skips to the next error handler, an error handler is skipped without one, a
 * throw or a rejected promise is an error, next('route') leaves), without the route's layer per
 * handler: the MCP routes' eight handlers were eight dispatches of express's router on every
 * call (the bench profile put express's routing at 5–8 % of a call's CPU).
 */
export function sequence(...steps: Step[]): RequestHandler {
  return (req: Request, res: Response, done: NextFunction) => {
    let index = 0;
    const next = (error?: unknown): void => {
      if (error === 'route') {
        done();
        return;
      }
      if (error === 'router') {
        done(error);
        return;
      }
      while (index < steps.length) {
        const step = steps[index++] as Step;
        const handlesErrors = step.length === 4;
        if (handlesErrors !== Boolean(error)) continue;
        try {
          const ret: unknown = handlesErrors
            ? (step as ErrorRequestHandler)(error, req, res, next)
            : (step as RequestHandler)(req, res, next);
          if (ret instanceof Promise) {
            ret.then(undefined, (rejected: unknown) =>
              next(rejected || new Error('Rejected promise')),
            );
          }
        } catch (thrown) {
          next(thrown);
        }
        return;
      }
      done(error);
    };
    next();
  };
}
