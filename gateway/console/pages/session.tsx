import { PageHeader } from '../components/ui.tsx';
import type { PageProps } from './routes.ts';

// Placeholder until this page is built (issue 16): a helper replaces this file.
export function SessionPage(_props: PageProps) {
  return <PageHeader title="SessionPage" />;
}
