import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { zones } from '../../tools/privacy-boundary.rule.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const postgres = ['pg', 'pg-pool', 'pg-cursor', 'pg-format', 'postgres'];

// Issue 11, item 6: what code in each zone folder may not import, and some things it may.
// A target ending in `/` is a folder (imported by a relative path), anything else a package.
const telemetry = {
  forbidden: ['directory/', 'api/', 'bin/', 'analytics/', 'alerts/notification/', ...postgres],
  allowed: ['broker/', 'ingest/', 'influx/', 'common/', 'alerts/evaluation/', 'alerts/', 'mqtt'],
};
const directory = {
  forbidden: ['influx/', 'ingest/', 'broker/', 'api/', 'bin/', 'analytics/', 'alerts/evaluation/'],
  allowed: ['directory/', 'common/', 'alerts/notification/', 'alerts/', ...postgres],
};
const neither = ['broker/', 'ingest/', 'influx/', 'directory/', 'api/', 'bin/', 'analytics/'];
const spec: Record<string, { forbidden: string[]; allowed: string[] }> = {
  broker: telemetry,
  ingest: telemetry,
  influx: telemetry,
  'alerts/evaluation': telemetry,
  directory,
  'alerts/notification': directory,
  api: {
    forbidden: ['broker/', 'ingest/', 'bin/', ...postgres],
    allowed: ['directory/', 'influx/', 'common/', 'api/', 'express'],
  },
  analytics: {
    forbidden: ['directory/', 'api/', 'bin/', 'alerts/', 'alerts/evaluation/', ...postgres],
    allowed: ['influx/', 'common/', 'analytics/'],
  },
  alerts: {
    forbidden: [...neither, 'alerts/evaluation/', 'alerts/notification/', ...postgres],
    allowed: ['common/', 'alerts/'],
  },
  common: {
    forbidden: [...neither, 'alerts/', ...postgres],
    allowed: ['common/', 'zod', 'node:crypto'],
  },
};

// A probe is source text linted as if it were this file in the zone folder. The file never
// exists, so the TypeScript project service (which only knows files on disk) is allowed to
// give it the default project, built from the same tsconfig.json. That parser option is all
// that is added to eslint.config.js; a test below checks the rules stay the same.
const probeName = '__boundary_probe__.ts';
const project = new ESLint({ cwd: root });
const probing = new ESLint({
  cwd: root,
  overrideConfig: {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [1, 2, 3].map((depth) => `${'*/'.repeat(depth)}${probeName}`),
          defaultProject: 'tsconfig.json',
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 64,
        },
      },
    },
  },
});

const probeFile = (folder: string) => `${folder}/${probeName}`;

/** How the probe at `file` imports `target`: a package, or a file in a folder by relative path. */
function specifier(file: string, target: string): string {
  if (!target.endsWith('/')) return target;
  const relative = path.posix.relative(path.posix.dirname(file), `${target}x.js`);
  return relative.startsWith('.') ? relative : `./${relative}`;
}

/** Lints `source` as the file at `file` (relative to the root) with the project's configuration. */
async function lint(file: string, source: string) {
  const [result] = await probing.lintText(source, { filePath: path.join(root, file) });
  return result!;
}

const crossing = /^'(.+)' crosses the privacy boundary: .+ \((P2|P21|P2, P21)\)\.$/;

describe('P2/P21: the privacy boundary lint rule fails `npm run check` on a crossing', () => {
  it('is switched on by eslint.config.js for every real file in every existing zone', async () => {
    for (const folder of ['broker', 'ingest', 'influx', 'directory', 'api', 'common']) {
      expect(existsSync(path.join(root, folder)), `${folder}/ exists`).toBe(true);
    }
    let checked = 0;
    for (const folder of Object.keys(spec).filter((f) => existsSync(path.join(root, f)))) {
      const files = readdirSync(path.join(root, folder), { recursive: true, encoding: 'utf8' });
      for (const file of files.filter((f) => f.endsWith('.ts'))) {
        const config = (await project.calculateConfigForFile(path.join(root, folder, file))) as {
          rules: Record<string, unknown>;
        };
        expect(config.rules['telemoat/privacy-boundary'], `${folder}/${file}`).toEqual([2]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(6);
  });

  it('lints probes with exactly the rules of eslint.config.js', async () => {
    for (const folder of Object.keys(spec)) {
      const file = path.join(root, probeFile(folder));
      const [a, b] = (await Promise.all([
        project.calculateConfigForFile(file),
        probing.calculateConfigForFile(file),
      ])) as { rules: unknown }[];
      expect(b!.rules, folder).toEqual(a!.rules);
    }
  });

  it('tests every zone folder and every forbidden folder and package of the zone table', () => {
    expect(Object.keys(spec).sort()).toEqual(zones.flatMap((zone) => zone.folders).sort());
    for (const zone of zones) {
      for (const folder of zone.folders) {
        const targets = [...zone.forbidden.map((f) => `${f}/`), ...zone.packages];
        expect(spec[folder]!.forbidden, folder).toEqual(expect.arrayContaining(targets));
      }
    }
  });

  it.each(Object.entries(spec))(
    '%s/ fails lint for each forbidden import',
    async (folder, { forbidden }) => {
      const file = probeFile(folder);
      const specifiers = forbidden.map((target) => specifier(file, target));
      const result = await lint(file, specifiers.map((s) => `import '${s}';\n`).join(''));
      // Every error is a crossing, one on each line: lint fails because of them alone.
      const messages = result.messages.map((m) => [m.line, m.ruleId]);
      expect(messages).toEqual(specifiers.map((_, i) => [i + 1, 'telemoat/privacy-boundary']));
      // Each names its import and ends with the zone's promise.
      expect(result.messages.map((m) => crossing.exec(m.message)?.[1])).toEqual(specifiers);
      expect(result.errorCount).toBe(forbidden.length);
    },
  );

  it.each(Object.entries(spec))(
    '%s/ passes lint for allowed imports',
    async (folder, { allowed }) => {
      const file = probeFile(folder);
      const source = allowed.map((target) => `import '${specifier(file, target)}';\n`).join('');
      const result = await lint(file, source);
      expect(result.messages).toEqual([]);
      expect(result.errorCount + result.warningCount).toBe(0);
    },
  );

  it('resolves every import form against the importing file, however deep', async () => {
    const source = [
      "import { UsersRepository } from '../../directory/users.repository.js';",
      "import type { Pool } from 'pg';",
      "export { buildApi } from '../../api/app.js';",
      "export * from '../../directory/provision.js';",
      "export const m = await import('../../directory/migrate.js');",
      "const c = require('pg/lib/client');",
      "export type T = typeof import('../../bin/main.js');",
      "import '../../ingest/../directory/x.js';",
      `import './../../../${path.basename(root)}/directory/x.js';`,
      'export { UsersRepository, c, type Pool };',
    ].join('\n');
    const result = await lint('broker/deep/' + probeName, source);
    const lines = result.messages.filter((m) => m.ruleId === 'telemoat/privacy-boundary');
    expect(lines.map((m) => m.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(result.messages.filter((m) => m.fatal)).toEqual([]);
  });
});
