// Fails when the built dashboard ships more than the budget of gzipped
// JavaScript (issue 5: under 250 KB).
// Usage: node scripts/js-budget.mjs [--verbose] [distDir]
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET = 250 * 1024;
const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const dist = args.find((a) => !a.startsWith('--')) ?? fileURLToPath(new URL('../../internal/web/dist', import.meta.url));

let total = 0;
const lines = [];
for (const entry of await readdir(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
  const path = join(entry.parentPath, entry.name);
  const size = gzipSync(await readFile(path), { level: 9 }).length;
  total += size;
  lines.push(`  ${(size / 1024).toFixed(1).padStart(7)} KB  ${path.slice(dist.length + 1)}`);
}
if (verbose) console.log(lines.join('\n'));
const summary = `dashboard JavaScript: ${(total / 1024).toFixed(1)} KB gzipped (budget ${BUDGET / 1024} KB)`;
if (total === 0) {
  console.error(`no JavaScript found in ${dist}: build the dashboard first`);
  process.exit(1);
}
if (total > BUDGET) {
  console.error(`${summary}: OVER BUDGET`);
  process.exit(1);
}
console.log(summary);
