import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { addRatePoint, managementURL, PipelinePanel } from './PipelinePanel.jsx';
import { fakeApi, problem } from '../test/fakes.js';

const stats = (fields = {}) => ({
  at: '2026-01-01T00:00:00Z',
  log_head: 1234,
  events_per_second: 12.5,
  outbox_backlog: 3,
  relay_lag_seconds: 12,
  projection_position: 1230,
  projection_lag_events: 4,
  projection_lag_seconds: 0.4,
  queues: [
    { name: 'commands.RecordViews', messages: 7, consumers: 1 },
    { name: 'events.trend-projection', messages: 0, consumers: 0 },
    { name: 'dead-letters', messages: 2, consumers: 0 },
  ],
  dead_letters: 2,
  rabbitmq_management_url: 'http://localhost:15672',
  ...fields,
});

const statValue = (label) => within(screen.getByText(label).closest('.stat')).getByText((_, el) => el.classList.contains('stat__value')).textContent;

describe('PipelinePanel', () => {
  it('shows rate, backlog, lag, dead letters and queues', async () => {
    fakeApi({ 'GET /api/pipeline': () => stats() });
    render(<PipelinePanel />);
    await screen.findByText('Events per second');
    expect(statValue('Events per second')).toBe('12.5');
    expect(screen.getByText('log head 1,234')).toBeInTheDocument();
    expect(statValue('Outbox backlog')).toBe('3');
    expect(screen.getByText('oldest waiting 12 s')).toBeInTheDocument();
    expect(screen.getByText('Outbox backlog').closest('.stat')).toHaveClass('stat--warn');
    expect(statValue('Projection lag')).toBe('up to 4 events');
    expect(screen.getByText('400 ms')).toBeInTheDocument();
    expect(statValue('Dead letters')).toBe('2');
    expect(screen.getByText('need attention')).toBeInTheDocument();

    const queues = screen.getByRole('table', { name: 'RabbitMQ queues' });
    expect(within(queues).getByRole('row', { name: /commands.RecordViews 7 1/ })).toBeInTheDocument();
    // A queue nobody consumes is flagged; the dead letters are meant to wait.
    expect(within(queues).getByRole('row', { name: /events.trend-projection/ })).toHaveTextContent('(no consumer)');
    expect(within(queues).getByRole('row', { name: /dead-letters/ })).not.toHaveTextContent('(no consumer)');
  });

  it('says when the age of the projection lag is unknown', async () => {
    fakeApi({ 'GET /api/pipeline': () => stats({ projection_lag_seconds: -1 }) });
    render(<PipelinePanel />);
    await screen.findByText('Projection lag');
    expect(statValue('Projection lag')).toBe('up to 4 events');
    expect(screen.getByText('age unknown')).toBeInTheDocument();
    expect(screen.getByText('Projection lag').closest('.stat')).not.toHaveClass('stat--warn');
  });

  it('links to the RabbitMQ management UI on the host the dashboard was reached on', async () => {
    fakeApi({ 'GET /api/pipeline': () => stats() });
    render(<PipelinePanel />);
    const link = await screen.findByRole('link', { name: /RabbitMQ management UI/ });
    expect(link).toHaveAttribute('href', `http://${window.location.hostname}:15672/`);
    expect(managementURL('http://localhost:15672', 'ops.example.org')).toBe('http://ops.example.org:15672/');
    expect(managementURL('https://rabbit.example.org/ui', 'ops.example.org')).toBe('https://rabbit.example.org/ui');
  });

  it("links to the API's interactive docs", async () => {
    fakeApi({ 'GET /api/pipeline': () => stats() });
    render(<PipelinePanel />);
    expect(await screen.findByRole('link', { name: /API docs/ })).toHaveAttribute('href', '/docs');
  });

  it('says when RabbitMQ does not answer', async () => {
    fakeApi({ 'GET /api/pipeline': () => stats({ queues: [], dead_letters: -1, broker_error: 'RabbitMQ is unreachable' }) });
    render(<PipelinePanel />);
    expect(await screen.findByRole('alert')).toHaveTextContent('RabbitMQ: RabbitMQ is unreachable');
    expect(statValue('Dead letters')).toBe('unknown');
  });

  it('names the queues RabbitMQ lacks', async () => {
    fakeApi({ 'GET /api/pipeline': () => stats({ missing_queues: ['commands.RecordViews', 'events.trend-projection'] }) });
    render(<PipelinePanel />);
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'RabbitMQ lacks commands.RecordViews, events.trend-projection: nothing reaches their handlers until a worker starts and declares them.',
    );
  });

  it('says when the statistics cannot be read', async () => {
    fakeApi({ 'GET /api/pipeline': () => problem(503, 'the service cannot store or read data right now; retry shortly') });
    render(<PipelinePanel />);
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Pipeline statistics are unavailable: the service cannot store or read data right now; retry shortly',
    );
  });

  it('starts the rate chart anew after a gap', () => {
    let h = { times: [], values: [] };
    for (const t of [100, 102, 104]) h = addRatePoint(h, t, t);
    expect(addRatePoint(h, 104, 1)).toBe(h); // the same snapshot
    expect(h.times).toEqual([100, 102, 104]);
    h = addRatePoint(h, 3704, 7); // an hour later
    expect(h).toEqual({ times: [3704], values: [7] });
  });
});
