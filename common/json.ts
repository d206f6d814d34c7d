/**
 * `__proto__` is the one key that JavaScript's object handling treats specially: JSON.parse
 * makes it an own property, but validating, copying or spreading the object drops it or sets a
 * prototype instead (zod's records skip it). A document that carries it, at any depth and in
 * any spelling (`"\u005f_proto__"` too), is refused whole rather than kept in part.
 */
export const FORBIDDEN_JSON_KEY = '__proto__';

/** Valid JSON with a key that is refused: a SyntaxError still, to parsers that expect one. */
export class ForbiddenKeyError extends SyntaxError {
  constructor() {
    super(`the key "${FORBIDDEN_JSON_KEY}" is refused`);
    this.name = 'ForbiddenKeyError';
  }
}

export function refuseForbiddenKey(key: string, value: unknown): unknown {
  if (key === FORBIDDEN_JSON_KEY) throw new ForbiddenKeyError();
  return value;
}

/**
 * JSON.parse that refuses the forbidden key. A reviver slows parsing several times, so it runs
 * only on text that could hold the key: spelled out, or with a `\u` escape that could spell it.
 */
export function parseUntrustedJson(text: string): unknown {
  const suspect = text.includes(FORBIDDEN_JSON_KEY) || text.includes('\\u');
  return suspect ? JSON.parse(text, refuseForbiddenKey) : JSON.parse(text);
}
