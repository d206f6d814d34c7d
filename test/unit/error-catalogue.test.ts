import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { AppError, errorCatalogue, type ErrorCode } from '../../common/errors.js';

describe('error catalogue', () => {
  it('documents every code with its status in docs/errors.md, and nothing else', async () => {
    const doc = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Map(
      [...doc.matchAll(/^\| `([A-Z_]+)`\s*\| (\d{3})\s*\|/gm)].map((m) => [m[1]!, Number(m[2])]),
    );
    const catalogued = new Map(Object.entries(errorCatalogue).map(([code, e]) => [code, e.status]));
    expect(documented).toEqual(catalogued);
  });

  it('builds the response body from the catalogue', () => {
    for (const code of Object.keys(errorCatalogue) as ErrorCode[]) {
      const error = new AppError(code, code === 'VALIDATION_FAILED' ? [{ path: 'x' }] : undefined);
      expect(error.status).toBe(errorCatalogue[code].status);
      expect(Object.keys(error.toBody()).sort()).toEqual(
        code === 'VALIDATION_FAILED' ? ['code', 'details', 'message'] : ['code', 'message'],
      );
    }
  });
});
