// The privacy boundary (P2, P21) as a lint rule: telemetry code never reaches the directory
// or Postgres, and directory code never reaches InfluxDB. Only composition roots in bin/ and
// the API may hold both. Specifiers are resolved against the importing file, so a deep
// relative path cannot slip past a pattern.
import path from 'node:path';

const postgres = ['pg', 'pg-pool', 'pg-cursor', 'pg-format', 'postgres'];

/**
 * One lint zone per component (issue 11): the folders it covers, and the folders and packages
 * it may not import. Folders are paths from the repository root; a file belongs to the zone
 * with the longest folder that contains it (`alerts/evaluation` before `alerts`), and a
 * forbidden folder covers everything below it. Folders in no zone (bin/, test/, tools/) are
 * not checked: bin/ holds the composition roots.
 */
export const zones = [
  {
    zone: 'telemetry',
    folders: ['broker', 'ingest', 'influx', 'alerts/evaluation'],
    forbidden: ['directory', 'api', 'bin', 'analytics', 'alerts/notification'],
    packages: postgres,
    why: 'telemetry code holds pseudonyms only and must not reach the directory, Postgres or the code that joins both sides (P2)',
  },
  {
    zone: 'directory',
    folders: ['directory', 'alerts/notification'],
    forbidden: ['influx', 'ingest', 'broker', 'api', 'bin', 'analytics', 'alerts/evaluation'],
    packages: [],
    why: 'directory code must not reach InfluxDB, telemetry code or the code that joins both sides (P2)',
  },
  {
    zone: 'api',
    folders: ['api'],
    forbidden: ['broker', 'ingest', 'bin'],
    packages: postgres,
    why: 'the API joins the two sides only through their ports, directory/ and influx/, never through Postgres directly or broker and ingest internals (P2, P21)',
  },
  {
    zone: 'analytics',
    folders: ['analytics'],
    forbidden: ['directory', 'api', 'bin', 'alerts'],
    packages: postgres,
    why: 'analytics works on pseudonymous telemetry only and must not reach the directory, Postgres, the API or alerts (P21)',
  },
  {
    zone: 'alerts',
    folders: ['alerts'],
    forbidden: [
      'broker',
      'ingest',
      'influx',
      'directory',
      'api',
      'bin',
      'analytics',
      'alerts/evaluation',
      'alerts/notification',
    ],
    packages: postgres,
    why: 'alert code outside evaluation/ (telemetry side) and notification/ (directory side) belongs to neither side (P2)',
  },
  {
    zone: 'common',
    folders: ['common'],
    forbidden: ['broker', 'ingest', 'influx', 'directory', 'api', 'bin', 'analytics', 'alerts'],
    packages: postgres,
    why: 'shared code belongs to neither side of the privacy boundary (P2)',
  },
];

/** Zone folders, longest first, so the first that contains a file is its zone. */
const byFolder = zones
  .flatMap((zone) => zone.folders.map((folder) => ({ folder, zone })))
  .sort((a, b) => b.folder.length - a.folder.length);

/** `file` relative to `root` with `/` separators, or undefined when outside it. */
function fromRoot(root, file) {
  const rel = path.relative(root, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep).join('/');
}

const inFolder = (rel, folder) => rel === folder || rel.startsWith(`${folder}/`);

function packageName(specifier) {
  if (specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** @type {import('eslint').Rule.RuleModule} */
export const privacyBoundaryRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Keep telemetry and directory code apart (privacy boundary).' },
    schema: [],
    messages: { crossing: "'{{specifier}}' crosses the privacy boundary: {{why}}." },
  },
  create(context) {
    const root = context.cwd;
    const file = context.filename;
    const rel = fromRoot(root, file);
    const zone = rel && byFolder.find((entry) => inFolder(rel, entry.folder))?.zone;
    if (!zone) return {};

    function crosses(specifier) {
      if (!specifier.startsWith('.') && !specifier.startsWith('/'))
        return zone.packages.includes(packageName(specifier));
      const target = fromRoot(root, path.resolve(path.dirname(file), specifier));
      return target !== undefined && zone.forbidden.some((folder) => inFolder(target, folder));
    }

    function check(node, specifier) {
      if (typeof specifier === 'string' && crosses(specifier))
        context.report({ node, messageId: 'crossing', data: { specifier, why: zone.why } });
    }

    return {
      ImportDeclaration: (node) => check(node.source, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node.source, node.source.value),
      ExportAllDeclaration: (node) => check(node.source, node.source.value),
      ImportExpression: (node) =>
        node.source.type === 'Literal' && check(node.source, node.source.value),
      // `typeof import('../directory/x.js')` in a type position (TypeScript only).
      TSImportType: (node) => check(node.source, node.source.value),
      CallExpression(node) {
        const [arg] = node.arguments;
        if (
          node.callee.type === 'Identifier' &&
          node.callee.name === 'require' &&
          arg?.type === 'Literal'
        ) {
          check(arg, arg.value);
        }
      },
    };
  },
};

export default { rules: { 'privacy-boundary': privacyBoundaryRule } };
