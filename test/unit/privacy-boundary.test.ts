import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import boundary from '../../tools/privacy-boundary.rule.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Lints source text as if it were a file at `file`, with only the boundary rule on. */
async function crossings(file: string, source: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { telemoat: boundary },
        rules: { 'telemoat/privacy-boundary': 'error' },
      },
    ],
  });
  const [result] = await eslint.lintText(source, { filePath: path.join(root, file) });
  return result!.messages.map((m) => m.message);
}

describe('P2/P21: the privacy boundary lint rule', () => {
  it('is switched on by the project configuration that `npm run check` uses', async () => {
    const eslint = new ESLint({ cwd: root });
    for (const file of [
      'broker/broker.ts',
      'ingest/ingest.pipeline.ts',
      'influx/influx.client.ts',
      'directory/migrate.ts',
    ]) {
      const config = (await eslint.calculateConfigForFile(path.join(root, file))) as {
        rules: Record<string, unknown>;
      };
      expect(config.rules['telemoat/privacy-boundary'], file).toEqual([2]);
    }
  });

  it.each([
    ['broker/x.ts', "import pg from 'pg';"],
    ['ingest/x.ts', "import { Pool } from 'pg-pool';"],
    ['influx/x.ts', "import { UsersRepository } from '../directory/users.repository.js';"],
    ['broker/deep/x.ts', "export * from '../../directory/provision.js';"],
    ['ingest/x.ts', "const m = await import('../directory/migrate.js');"],
    ['broker/x.ts', "import { buildApi } from '../api/app.js';"],
    ['directory/x.ts', "import { InfluxClient } from '../influx/influx.client.js';"],
    ['directory/x.ts', "import { createIngest } from '../ingest/ingest.pipeline.js';"],
    ['common/x.ts', "import pg from 'pg';"],
  ])('fails %s for `%s`', async (file, source) => {
    const messages = await crossings(file, source);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/crosses the privacy boundary/);
  });

  it.each([
    [
      'api/x.ts',
      "import pg from 'pg';\nimport { InfluxClient } from '../influx/influx.client.js';",
    ],
    [
      'bin/x.ts',
      "import { DeviceCredentialsRepository } from '../directory/device-credentials.repository.js';",
    ],
    ['broker/x.ts', "import { createIngest } from '../ingest/ingest.pipeline.js';"],
    ['ingest/x.ts', "import { toLine } from '../influx/reading-point.js';"],
    ['directory/x.ts', "import pg from 'pg';\nimport { newPseudonym } from '../common/ids.js';"],
  ])('allows %s to `%s`', async (file, source) => {
    expect(await crossings(file, source)).toEqual([]);
  });
});
