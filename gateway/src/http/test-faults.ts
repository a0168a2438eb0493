import { PassThrough } from 'node:stream';
import { type Request, type Response, Router } from 'express';
import { SwitchboardError } from '../errors.ts';

/**
 * TEST ONLY: `POST /__test/faults/<kind>` throws on purpose, so a test can check that an error
 * nothing catches is logged and the gateway keeps serving (process-errors.ts). Mounted only when
 * SWITCHBOARD_TEST_FAULTS=1, which the configuration accepts only with NODE_ENV=test and refuses
 * with SWITCHBOARD_MODE=production (config.ts, production-mode.ts). No natural path is kept for
 * this: each one found (issue 13's `/mcp/x%00` challenge, a stdio line over the buffer) is fixed,
 * and a test must not depend on a bug staying in place.
 *
 * - `timer`: a throw in a setImmediate callback after the answer (an uncaught exception);
 * - `rejection`: a promise rejected with nobody awaiting it (an unhandled rejection);
 * - `listener`: a throw in a stream's 'data' listener (an uncaught exception, as a stdio
 *   upstream's reader once did);
 * - `handler`: a throw in the route itself, answered 500 by the error handler;
 * - `async-handler`: the route's promise rejects, also answered 500.
 */
export const TEST_FAULTS_PATH = '/__test/faults';

export function testFaultRoutes(): Router {
  const router = Router();
  router.post(`${TEST_FAULTS_PATH}/:kind`, async (req: Request, res: Response) => {
    const kind = req.params.kind as string;
    const fault = new Error(`test fault (${kind}): thrown on purpose`);
    switch (kind) {
      case 'timer':
        setImmediate(() => {
          throw fault;
        });
        break;
      case 'rejection':
        void Promise.reject(fault);
        break;
      case 'listener': {
        // Written first, so the data waits: the listener starts the flow, which runs on the
        // next tick, after this handler has answered (a flowing write would call it in here).
        const stream = new PassThrough();
        stream.write('x');
        stream.on('data', () => {
          throw fault;
        });
        break;
      }
      case 'handler':
        throw fault;
      case 'async-handler':
        await new Promise((resolve) => setImmediate(resolve));
        throw fault;
      default:
        throw new SwitchboardError('not_found', `no test fault named ${kind}`);
    }
    res.status(202).json({ scheduled: kind });
  });
  return router;
}
