import { PanelDataAnswer, PanelListAnswer } from './integration-panels.ts';
import { ok, type RouteSpec } from './route-spec.ts';

/** Integration panels (issue 16, manifest `panels`); routes.ts spreads them into API_ROUTES. */
export const PANEL_ROUTES: RouteSpec[] = [
  {
    method: 'get',
    path: '/integrations/:name/panels',
    scope: 'integrations:read',
    summary: "The panels an integration's manifest declares (name, title, view, refresh)",
    responses: [ok(PanelListAnswer), { status: 404, description: 'No such integration' }],
  },
  {
    method: 'get',
    path: '/integrations/:name/panels/:panel',
    scope: 'integrations:read',
    summary:
      "One panel's data: its hidden tool called by the gateway (10 s), answered only once it fits the view's schema (≤ 200 rows, ≤ 256 KiB)",
    responses: [
      ok(PanelDataAnswer),
      { status: 404, description: 'No such integration or panel' },
      {
        status: 502,
        description:
          'The tool failed, answered an error, or answered data that is too large or not of the view (handler_*)',
      },
    ],
  },
];
