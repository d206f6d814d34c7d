import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openSession, unnamedFormControls } from '../support/browser.js';

/**
 * The dashboard tests pass when these checks find nothing; here they are shown to find what
 * they look for, in Debian's Chromium, on a page made for the purpose.
 */
describe('browser checks used by the dashboard tests', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('finds form controls without an accessible name, and accepts every way of naming one', async () => {
    const session = await openSession(browser, 'http://127.0.0.1:9');
    await session.page.setContent(`
      <label for="labelled">Labelled</label><input id="labelled">
      <label>Wrapped <input id="wrapped"></label>
      <input id="aria" aria-label="By aria-label">
      <span id="words">By aria-labelledby</span><textarea aria-labelledby="words"></textarea>
      <input id="titled" title="By title">
      <input type="hidden" name="ignored">
      <input id="bare" name="q">
      <select id="choice"><option>One</option></select>
      <input id="tick" type="checkbox">
      <label for="nothing"> </label><input id="nothing">
    `);
    const unnamed = await unnamedFormControls(session.page);
    expect(unnamed).toHaveLength(4);
    for (const id of ['bare', 'choice', 'tick', 'nothing']) {
      expect(
        unnamed.some((line) => line.includes(`id=${id}`)),
        id,
      ).toBe(true);
    }
    await session.close();
  });

  it('collects console errors and uncaught exceptions, and lets nothing pass', async () => {
    const session = await openSession(browser, 'http://127.0.0.1:9');
    await session.page.setContent(`<script>
      console.error('unexpected');
      console.warn('only a warning');
      setTimeout(() => { throw new Error('uncaught'); });
    </script>`);
    await expect.poll(() => session.problems.length).toBe(2);
    expect(session.problems.map((p) => [p.kind, p.text.split('\n')[0]])).toEqual([
      ['console', 'unexpected'],
      ['pageerror', 'Error: uncaught'],
    ]);
    await session.close();
  });
});
