/**
 * The read-only web console (HTTP) → handleConsoleRequest: checks who asks (IAP's signed header in
 * production, the dev token locally; otherwise 401 and no data), reads Firestore and answers with
 * server-rendered HTML.
 */
import * as ff from '@google-cloud/functions-framework';
import type { Request, Response } from '@google-cloud/functions-framework';
import { runHttp, wire } from './edge.ts';

const deps = wire(async () => (await import('../shared/composition/console.ts')).consoleDeps);

export async function console(req: Request, res: Response): Promise<void> {
  await runHttp('console', req, res, async (log) => {
    const [{ handleConsoleRequest }, d] = await Promise.all([import('../shared/app/console.ts'), deps()]);
    return handleConsoleRequest(
      {
        method: req.method,
        path: req.path,
        query: req.query as Record<string, unknown>,
        headers: {
          iapAssertion: req.get('x-goog-iap-jwt-assertion'),
          cookie: req.get('cookie'),
          authorization: req.get('authorization'),
          ifNoneMatch: req.get('if-none-match'),
          fragment: req.get('x-ferry-fragment'),
        },
      },
      { ...d, logger: log },
    );
  });
}

ff.http('console', console);
