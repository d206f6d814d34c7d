import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const root = path.dirname(fileURLToPath(import.meta.url));

/** The budget for the main bundle (JavaScript entry chunk), gzipped. */
const MAIN_BUNDLE_BUDGET_BYTES = 300 * 1024;

/** Prints the gzipped size of the entry chunk and fails the build when it is over budget. */
function bundleSize(): Plugin {
  let outDir = '';
  return {
    name: 'telemoat-bundle-size',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    writeBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk' || !chunk.isEntry) continue;
        const bytes = gzipSync(readFileSync(path.join(outDir, chunk.fileName))).length;
        const kb = (bytes / 1024).toFixed(1);
        console.log(`main bundle: ${chunk.fileName} ${kb} KB gzipped (budget 300 KB)`);
        if (bytes > MAIN_BUNDLE_BUDGET_BYTES) {
          throw new Error(`main bundle is ${kb} KB gzipped, over the 300 KB budget`);
        }
      }
    },
  };
}

export default defineConfig({
  root,
  base: '/',
  publicDir: path.join(root, 'public'),
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: path.join(root, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
  plugins: [bundleSize()],
  logLevel: 'warn',
});
