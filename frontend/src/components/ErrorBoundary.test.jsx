import { render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorBoundary } from './ErrorBoundary.jsx';

function Broken() {
  throw new Error('rows is undefined');
}

describe('error boundary', () => {
  afterEach(() => vi.restoreAllMocks());

  it('shows what stopped the dashboard and a way to reload, not a blank page', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {}); // React reports the error too
    render(
      <ErrorBoundary>
        <Broken />
      </ErrorBoundary>,
    );
    expect(screen.getByRole('alert')).toHaveTextContent('The dashboard stopped on an error: rows is undefined');
    expect(screen.getByRole('button', { name: 'Reload the dashboard' })).toBeInTheDocument();
  });

  it('shows its children while nothing fails', () => {
    render(
      <ErrorBoundary>
        <p>fine</p>
      </ErrorBoundary>,
    );
    expect(screen.getByText('fine')).toBeInTheDocument();
  });
});
