import { IntegrationPanels } from '../components/panels.tsx';
import { PageHeader } from '../components/ui.tsx';
import type { PageProps } from './routes.ts';

// Placeholder until this page is built (issue 16): a helper replaces this file. The panels
// branch shows IntegrationPanels here only so its browser test has a page to look at; the real
// page renders <IntegrationPanels name={name} /> itself.
export function IntegrationPage(props: PageProps) {
  const name = props.params.name ?? '';
  return (
    <>
      <PageHeader title={name} />
      <IntegrationPanels name={name} />
    </>
  );
}
