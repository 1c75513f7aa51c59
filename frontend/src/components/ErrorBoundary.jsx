import { Component } from 'react';

/**
 * A render error anywhere below shows this instead of a blank page: what
 * happened, and a way to start over (the dashboard's state is lost, and a
 * reload loads it anew).
 */
export class ErrorBoundary extends Component {
  state = { error: null };

  static getDerivedStateFromError(error) {
    return { error };
  }

  componentDidCatch(error, info) {
    console.error('the dashboard stopped on an error', error, info?.componentStack);
  }

  render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <main className="crashed">
        <h1>Movie Trend Analyzer</h1>
        <p role="alert">The dashboard stopped on an error: {String(error?.message ?? error)}</p>
        <button type="button" onClick={() => window.location.reload()}>
          Reload the dashboard
        </button>
      </main>
    );
  }
}
