import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ConnectionStatus } from './ConnectionStatus.jsx';

describe('ConnectionStatus', () => {
  it('says the stream is paused, not live, in a tab left hidden', () => {
    render(<ConnectionStatus state="paused" error={null} />);
    expect(screen.getByRole('status', { name: 'Live updates' })).toHaveTextContent(/^Paused while hidden$/);
  });
});
