import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach, vi } from 'vitest';

// jsdom does no layout. The board's virtualiser needs a viewport height and
// row heights to decide which rows to render: give it a 600 px viewport
// and 48 px rows, as a browser would.
Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
  configurable: true,
  get() {
    return this.classList.contains('board__scroll') ? 600 : 0;
  },
});
Object.defineProperty(HTMLElement.prototype, 'clientWidth', {
  configurable: true,
  get() {
    return this.classList.contains('board__scroll') ? 800 : 0;
  },
});
Object.defineProperty(HTMLElement.prototype, 'offsetHeight', {
  configurable: true,
  get() {
    return this.tagName === 'TR' ? 48 : 0;
  },
});

// uPlot draws on a canvas, which jsdom lacks; charts are checked in the
// end-to-end tests in a real browser.
vi.mock('../components/TimeChart.jsx', () => ({
  TimeChart: ({ summary }) => <div role="img" aria-label={summary} />,
}));

afterEach(() => {
  cleanup();
  delete document.visibilityState; // back to jsdom's own, "visible"
  sessionStorage.clear();
  window.history.replaceState(null, '', '/');
});
