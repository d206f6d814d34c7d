import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errorCatalogue, type ErrorCode } from '../../common/errors.js';
import type { Access } from './route.js';

/** The parts of the generated OpenAPI document that the reference page shows. */
interface Operation {
  summary: string;
  operationId: string;
  tags: string[];
  'x-telemoat-access': Access;
  parameters: { name: string; in: string; required: boolean; schema: unknown }[];
  requestBody?: { required: boolean; content: Record<string, { schema?: unknown }> };
  responses: Record<
    string,
    { description: string; content?: Record<string, { schema?: unknown }> }
  >;
}

export interface OpenApiDocument {
  info: { title: string; version: string };
  tags: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
}

const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Everything rendered goes through this: text and attribute values alike. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => entities[c]!);
}

/**
 * What each error code means, from the table in docs/errors.md (read once); an empty map when
 * the file is not there, and the page then shows the catalogue's messages alone.
 */
export function errorMeanings(
  file: URL = new URL('../../docs/errors.md', import.meta.url),
): Map<string, string> {
  let markdown: string;
  try {
    markdown = readFileSync(file, 'utf8');
  } catch {
    return new Map();
  }
  return new Map(
    [...markdown.matchAll(/^\| `([A-Z_]+)`\s*\| \d{3}\s*\| (.*?)\s*\|\s*$/gm)].map((m) => [
      m[1]!,
      m[2]!,
    ]),
  );
}

/** Escapes markdown text, then shows its `code spans` as code. */
function inlineMarkdown(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

function accessText(access: Access): string {
  switch (access.kind) {
    case 'public':
      return 'public: no sign-in';
    case 'user':
      return 'signed-in user';
    case 'org':
      return `member of the organisation with role ${access.minRole} or above; others get 404`;
    case 'platform':
      return `platform role ${access.role}`;
  }
}

function json(value: unknown): string {
  return `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;
}

const errorCodes = new Set(Object.keys(errorCatalogue));
const isErrorCode = (code: string): code is ErrorCode => errorCodes.has(code);

/** The error codes an error response's description names, e.g. "`NOT_FOUND`: …". */
function codesIn(description: string): ErrorCode[] {
  return [...description.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!).filter(isErrorCode);
}

function renderOperation(path: string, method: string, op: Operation): string {
  const parameters = op.parameters.length
    ? `<table><thead><tr><th>Name</th><th>In</th><th>Required</th><th>Schema</th></tr></thead><tbody>${op.parameters
        .map(
          (p) =>
            `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td>${json(p.schema)}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p>None.</p>';
  const body = op.requestBody
    ? Object.entries(op.requestBody.content)
        .map(
          ([type, media]) =>
            `<p><code>${escapeHtml(type)}</code>${op.requestBody!.required ? '' : ' (optional)'}</p>${json(media.schema ?? {})}`,
        )
        .join('')
    : '<p>None.</p>';
  const statuses = Object.entries(op.responses);
  const success = statuses
    .filter(([status]) => Number(status) < 400)
    .map(([status, response]) => {
      const content = Object.entries(response.content ?? {})
        .map(
          ([type, media]) =>
            `<p><code>${escapeHtml(type)}</code></p>${media.schema ? json(media.schema) : ''}`,
        )
        .join('');
      return `<p><strong>${escapeHtml(status)}</strong> ${escapeHtml(response.description)}</p>${content || '<p>No body.</p>'}`;
    })
    .join('');
  const errors = statuses
    .filter(([status]) => Number(status) >= 400)
    .flatMap(([status, response]) =>
      codesIn(response.description).map(
        (code) =>
          `<li><a href="#error-${code}"><code>${code}</code></a> (${escapeHtml(status)}): ${escapeHtml(errorCatalogue[code].message)}</li>`,
      ),
    )
    .join('');
  return `<section class="operation" id="${escapeHtml(op.operationId)}">
<h3><span class="method">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code></h3>
<p>${escapeHtml(op.summary)}</p>
<dl>
<dt>Access</dt><dd>${escapeHtml(accessText(op['x-telemoat-access']))}</dd>
<dt>Operation id</dt><dd><code>${escapeHtml(op.operationId)}</code></dd>
</dl>
<h4>Parameters</h4>${parameters}
<h4>Request body</h4>${body}
<h4>Success</h4>${success}
<h4>Errors</h4><ul>${errors}</ul>
</section>`;
}

const style = `body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:0 auto;padding:1rem 2rem;color:#1b1b1b}
pre{background:#f4f4f4;padding:.5rem;overflow:auto;font-size:13px;max-height:24rem;white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top;text-align:left}
.operation{border-top:2px solid #ddd;margin-top:1.5rem}.method{font-family:monospace;background:#234;color:#fff;padding:0 .4rem;border-radius:3px}
dt{font-weight:600}dd{margin:0 0 .5rem 1rem}nav li{font-family:monospace}`;

/**
 * The page's own policy, stricter than the dashboard's: nothing may load, and the one inline
 * stylesheet is allowed by its hash (the dashboard's `style-src 'self'` would refuse it).
 */
export const docsContentSecurityPolicy = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The API reference as one self-contained HTML page, generated from the OpenAPI document: no
 * scripts, no external resources. Every value from the document is escaped.
 */
export function renderDocsPage(
  document: OpenApiDocument,
  meanings: ReadonlyMap<string, string> = new Map(),
): string {
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );
  const sections = document.tags
    .map((tag) => {
      const tagged = operations.filter((o) => o.op.tags.includes(tag.name));
      return `<h2 id="tag-${escapeHtml(tag.name)}">${escapeHtml(tag.name)}</h2>
${tag.description ? `<p>${escapeHtml(tag.description)}</p>` : ''}
${tagged.map((o) => renderOperation(o.path, o.method, o.op)).join('\n')}`;
    })
    .join('\n');
  const index = operations
    .map(
      (o) =>
        `<li><a href="#${escapeHtml(o.op.operationId)}">${escapeHtml(o.method.toUpperCase())} ${escapeHtml(o.path)}</a></li>`,
    )
    .join('');
  const errors = Object.entries(errorCatalogue)
    .map(
      ([code, { status, message }]) =>
        `<tr id="error-${code}"><td><code>${code}</code></td><td>${status}</td><td>${escapeHtml(message)}</td><td>${inlineMarkdown(meanings.get(code) ?? '')}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(document.info.title)} reference</title>
<style>${style}</style>
</head>
<body>
<h1>${escapeHtml(document.info.title)} ${escapeHtml(document.info.version)}</h1>
<p>Every route below <code>/api/v1</code>, generated from the same schemas that validate requests and shape answers. The machine-readable document is <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1). Send the access token as <code>Authorization: Bearer …</code>; errors always have the form <code>{ "code", "message", "details"? }</code>.</p>
<nav><h2>Operations</h2><ul>${index}</ul></nav>
${sections}
<h2 id="errors">Error codes</h2>
<p>The catalogue of <code>common/errors.ts</code>, with the meanings documented in <code>docs/errors.md</code>.</p>
<table><thead><tr><th>Code</th><th>HTTP status</th><th>Message</th><th>Meaning (docs/errors.md)</th></tr></thead><tbody>${errors}</tbody></table>
</body>
</html>
`;
}
