// The privacy boundary (P2, P21) as a lint rule: telemetry code never reaches the directory
// or Postgres, and directory code never reaches InfluxDB. Only composition roots in bin/ and
// the API may hold both. Specifiers are resolved against the importing file, so a deep
// relative path cannot slip past a pattern.
import path from 'node:path';

/** Which top-level folders (or bare packages) each zone may not import. */
export const zones = [
  {
    zone: 'telemetry',
    folders: ['broker', 'ingest', 'influx'],
    forbidden: ['directory', 'api', 'bin'],
    packages: ['pg', 'pg-pool', 'pg-cursor', 'pg-format', 'postgres'],
    why: 'telemetry code must not reach the directory or Postgres (P2)',
  },
  {
    zone: 'directory',
    folders: ['directory'],
    forbidden: ['influx', 'ingest', 'broker', 'api', 'bin'],
    packages: [],
    why: 'directory code must not reach InfluxDB or telemetry code (P2)',
  },
  {
    zone: 'common',
    folders: ['common'],
    forbidden: ['influx', 'ingest', 'broker', 'directory', 'api', 'bin'],
    packages: ['pg', 'pg-pool'],
    why: 'shared code belongs to neither side of the privacy boundary',
  },
];

function topFolder(root, file) {
  const rel = path.relative(root, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep)[0];
}

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
    const zone = zones.find((z) => z.folders.includes(topFolder(root, file)));
    if (!zone) return {};

    function check(node, specifier) {
      if (typeof specifier !== 'string') return;
      const isRelative = specifier.startsWith('.') || specifier.startsWith('/');
      const crosses = isRelative
        ? zone.forbidden.includes(topFolder(root, path.resolve(path.dirname(file), specifier)))
        : zone.packages.includes(packageName(specifier));
      if (crosses)
        context.report({ node, messageId: 'crossing', data: { specifier, why: zone.why } });
    }

    return {
      ImportDeclaration: (node) => check(node.source, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node.source, node.source.value),
      ExportAllDeclaration: (node) => check(node.source, node.source.value),
      ImportExpression: (node) =>
        node.source.type === 'Literal' && check(node.source, node.source.value),
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
