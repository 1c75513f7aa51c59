import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

// The Go binary embeds internal/web/dist (//go:embed all:dist). That folder
// must never be empty (the embed pattern would fail to compile for anyone
// building at that moment), and its committed .gitkeep must survive, so we
// do not let Vite empty it: after writing the new build we delete only the
// files this build did not produce. Other output folders (the Docker build
// passes --outDir) start empty and are left as Vite writes them.
const embedDir = fileURLToPath(new URL('../internal/web/dist', import.meta.url));

// Text files also get a gzipped copy (name.gz): `trend api` serves it to
// browsers that accept gzip (internal/web), NGINX can with gzip_static.
const compressible = /\.(js|css|html|svg|json)$/;

function embedFriendlyOutput() {
  let outDir;
  return {
    name: 'embed-friendly-output',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    // One hook, in this order: Vite runs plugins' writeBundle hooks in parallel.
    async writeBundle(_options, bundle) {
      const produced = Object.keys(bundle);
      const keep = new Set(produced.flatMap((f) => (compressible.test(f) ? [f, `${f}.gz`] : [f])));
      if (outDir === embedDir) {
        for (const entry of await readdir(outDir, { recursive: true, withFileTypes: true })) {
          if (!entry.isFile()) continue;
          const rel = relative(outDir, join(entry.parentPath, entry.name)).split(sep).join('/');
          if (rel !== '.gitkeep' && !keep.has(rel)) await rm(join(outDir, rel));
        }
        await writeFile(join(outDir, '.gitkeep'), '');
      }
      for (const f of produced.filter((f) => compressible.test(f))) {
        const data = await readFile(join(outDir, f));
        await writeFile(join(outDir, `${f}.gz`), gzipSync(data, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  plugins: [react(), embedFriendlyOutput()],
  build: {
    outDir: embedDir,
    // See embedFriendlyOutput.
    emptyOutDir: false,
  },
  server: {
    // `npm run dev` against a running API (make run, or e2e/run-system.mjs).
    // /docs too: the dashboard links to the API's Swagger UI.
    proxy: Object.fromEntries(['/api', '/docs'].map((p) => [p, { target: process.env.API_URL ?? 'http://localhost:8000', changeOrigin: true }])),
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{js,jsx}'],
    setupFiles: ['src/test/setup.jsx'],
    restoreMocks: true,
  },
});
