import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import type { TestContext } from '#test/harness/test-context.js';

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it), or CHROMIUM_PATH. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * A headless chromium for this test file, closed after it. A missing browser fails the file with how to get one: a
 * browser tier that skips itself when the browser is absent would pass on every machine without testing anything.
 */
export async function launchBrowser(ctx: TestContext): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no chromium at ${CHROMIUM_PATH}: apt-get install chromium (or set CHROMIUM_PATH)`);
  }
  // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'], headless: true });
  ctx.defer(() => browser.close());
  return browser;
}
