import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, inject } from 'vitest';

/** Where screenshots go (git-ignored); the README copies two of them to docs/screenshots/. */
export const SCREENSHOT_DIR = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'screenshots',
);

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/**
 * Debian's Chromium (resolved by the global setup) driven by playwright-core: no browser is
 * downloaded. Headless, without sandbox (tests may run as root) and without the browser's own
 * traffic to Google, so a test sees only the requests its page makes.
 */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: inject('chromiumPath'),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/** A problem a page reported: a console error or an uncaught exception. */
export interface PageProblem {
  kind: 'console' | 'pageerror';
  url: string;
  text: string;
}

/**
 * One browser context (its own cookies and storage, like a fresh browser profile) whose pages
 * all report console errors and uncaught exceptions into `problems`; a test asserts at the end
 * that there were none.
 */
export interface TestSession {
  context: BrowserContext;
  page: Page;
  problems: PageProblem[];
  /** Another page (tab) in the same context, watched the same way. */
  newPage: () => Promise<Page>;
  /** Every URL a page of this context navigated to (main frame), in order. */
  visited: string[];
  /**
   * Saves `<name>-desktop.png` and `<name>-phone.png` of the page (scrolled to the top; the whole
   * page with `fullPage`), then restores the size.
   */
  screenshots: (name: string, options?: { page?: Page; fullPage?: boolean }) => Promise<string[]>;
  close: () => Promise<void>;
}

export async function openSession(
  browser: Browser,
  baseURL: string,
  options: {
    acceptDownloads?: boolean;
  } = {},
): Promise<TestSession> {
  const context = await browser.newContext({
    baseURL,
    viewport: DESKTOP,
    deviceScaleFactor: 1,
    locale: 'en-GB',
    timezoneId: 'UTC',
    acceptDownloads: options.acceptDownloads ?? true,
  });
  context.setDefaultTimeout(10_000);
  const problems: PageProblem[] = [];
  const visited: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const problem = { kind: 'console' as const, url: page.url(), text: describeConsole(message) };
      problems.push(problem);
    });
    page.on('pageerror', (error) => {
      problems.push({ kind: 'pageerror', url: page.url(), text: error.stack ?? error.message });
    });
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) visited.push(frame.url());
    });
  };
  context.on('page', watch);
  const page = await context.newPage();
  await mkdir(SCREENSHOT_DIR, { recursive: true });

  return {
    context,
    page,
    problems,
    visited,
    newPage: () => context.newPage(),
    async screenshots(name, { page: target = page, fullPage = false } = {}) {
      const size = target.viewportSize() ?? DESKTOP;
      const files: string[] = [];
      for (const [suffix, viewport] of [
        ['desktop', DESKTOP],
        ['phone', PHONE],
      ] as const) {
        await target.setViewportSize(viewport);
        // Let layout (and uPlot's resize observer) settle at the new width.
        await target.evaluate(
          'window.scrollTo(0, 0), new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))',
        );
        const file = path.join(SCREENSHOT_DIR, `${name}-${suffix}.png`);
        await target.screenshot({ path: file, animations: 'disabled', fullPage });
        files.push(file);
      }
      await target.setViewportSize(size);
      return files;
    },
    close: () => context.close(),
  };
}

function describeConsole(message: {
  text(): string;
  location(): { url: string; lineNumber: number };
}): string {
  const { url, lineNumber } = message.location();
  return url ? `${message.text()} (${url}:${lineNumber})` : message.text();
}

/**
 * Form controls (`input`, `select`, `textarea`, hidden inputs aside) whose accessible name is
 * empty, as Playwright's accessibility snapshot computes it (the accname rules: `aria-label`,
 * `aria-labelledby`, `<label>`, `title`…). Controls outside the accessibility tree are skipped.
 */
export async function unnamedFormControls(page: Page): Promise<string[]> {
  const unnamed: string[] = [];
  for (const control of await page.locator('input:not([type=hidden]), select, textarea').all()) {
    const snapshot = (await control.ariaSnapshot()).trim();
    if (snapshot === '') continue;
    const first = snapshot.split('\n')[0]!;
    // `- textbox "E-mail"`, `- checkbox "Leave names out" [checked]`; no quotes: no name.
    if (!/^- [a-z]+ "[^"]*\S[^"]*"/.test(first))
      unnamed.push(`${first} (${await describe(control)})`);
  }
  return unnamed;
}

async function describe(control: ReturnType<Page['locator']>): Promise<string> {
  const [id, type, name] = await Promise.all([
    control.getAttribute('id'),
    control.getAttribute('type'),
    control.getAttribute('name'),
  ]);
  return [id && `id=${id}`, type && `type=${type}`, name && `name=${name}`]
    .filter(Boolean)
    .join(' ');
}

/**
 * One browser for a test file, and the sessions its tests open on the API at `baseUrl()`:
 * each session is closed, then the browser, after the file.
 */
export function useBrowser(baseUrl: () => string) {
  let browser: Browser | undefined;
  const sessions: TestSession[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close().catch(() => {})));
    await browser?.close();
  });
  return {
    open: async (): Promise<TestSession> => {
      const session = await openSession(browser!, baseUrl());
      sessions.push(session);
      return session;
    },
  };
}
