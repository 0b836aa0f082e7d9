import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { LOCAL_BOOTSTRAP_ADMIN_KEY } from '#libs/config';
import { CHROMIUM_PATH } from '#test/support/browser.js';

/**
 * `npm run console:screenshots`: the console's main pages as PNGs in docs/screenshots, taken from a running API
 * (`npm start`; ORCHESTRATOR_API_URL and ORCHESTRATOR_API_KEY to point elsewhere). It creates a demo workflow with a
 * pending patch and a run waiting for approval, so the pages have something to show.
 */
const API = process.env.ORCHESTRATOR_API_URL ?? 'http://127.0.0.1:8080';
const KEY = process.env.ORCHESTRATOR_API_KEY ?? process.env.BOOTSTRAP_ADMIN_KEY ?? LOCAL_BOOTSTRAP_ADMIN_KEY;
const OUT = fileURLToPath(new URL('../../../../docs/screenshots/', import.meta.url));

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${API}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const definition = {
  nodes: {
    fetch_order: { type: 'function', config: { expression: '{"id": input.orderId, "total": 120}' } },
    check_limit: { type: 'function', config: { expression: 'nodes.fetch_order.total > 100' } },
    review: { type: 'hitl', config: { prompt: 'Approve order {{nodes.fetch_order.id}}?' } },
    ship: { type: 'function', config: { expression: '"shipped " & nodes.fetch_order.id' } },
    notify: { type: 'delay', config: { ms: 10 } },
  },
  edges: [
    { from: 'fetch_order', to: 'check_limit' },
    { from: 'check_limit', to: 'review' },
    { from: 'review', to: 'ship' },
    { from: 'ship', to: 'notify' },
  ],
};

await mkdir(OUT, { recursive: true });
const workflow = await call<{ id: string }>('POST', '/v1/workflows', { name: 'order approval', definition });
await call('POST', `/v1/workflows/${workflow.id}/patches`, {
  ops: [{ op: 'add', path: '/nodes/audit', value: { type: 'delay', config: { ms: 5 } } }],
});
const run = await call<{ runId: string }>('POST', `/v1/workflows/${workflow.id}/runs`, { input: { orderId: 'A-17' } });

const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'], headless: true });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const shot = async (name: string) => {
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: false });
    process.stdout.write(`docs/screenshots/${name}.png\n`);
  };
  await page.goto(API);
  await page.waitForSelector('input[name=apiKey]');
  await shot('sign-in');
  await page.fill('input[name=apiKey]', KEY);
  await page.click('button[type=submit]');
  await page.waitForSelector('table[data-testid=workflows] a');
  await shot('workflows');
  await page.goto(`${API}/#/workflows/${workflow.id}`);
  await page.waitForSelector('[data-testid=dag-nodes] li[data-node=audit]', { state: 'attached' });
  await shot('workflow');
  await page.goto(`${API}/#/runs/${run.runId}`);
  await page.waitForSelector('[data-testid=run-status]:text-is("waiting")', { timeout: 30_000 });
  await shot('run-waiting-for-approval');
  await page.goto(`${API}/#/runs`);
  await page.waitForSelector('table[data-testid=run-list] a');
  await shot('runs');
  await page.goto(`${API}/#/operations`);
  await page.waitForSelector('table[data-testid=consumer-lag] tr[data-group]', { timeout: 30_000 });
  await page.waitForSelector('table[data-testid=dead-letter-topics] tr[data-topic], section p.empty', {
    timeout: 30_000,
  });
  await shot('operations');
  await page.goto(`${API}/v1/docs`);
  await page.waitForSelector('.swagger-ui .opblock', { timeout: 30_000 });
  await shot('api-reference');
} finally {
  await browser.close();
}
