import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import canonicalize from 'canonicalize';
import type { Browser, Page } from 'playwright-core';
import { ALL_ROLES } from '#apps/all-in-one/src/all-roles.js';
import { ApiKeysRepository } from '#libs/auth';
import { createPool } from '#libs/db';
import { createKafka, IDEMPOTENT_PRODUCER, openProducer } from '#libs/kafka';
import { sendToDeadLetters } from '#libs/messaging';
import { useTestContext } from '#test/harness/test-context.js';
import { launchBrowser } from '#test/support/browser.js';
import { ADMIN_KEY, createTopics, startRoles, untilReady } from '#test/support/app.js';

/**
 * The web console in a real browser (Debian's chromium) against every role: sign in, create a workflow, patch it and
 * see the DAG update live, start a run, approve its hitl node and see it finish, a key of another workspace
 * refused, and the operations page (lag, outbox, dead letters and their redrive) for an operator only.
 */
const ctx = useTestContext('console');
const TIMEOUT = { timeout: 20_000 };
const ATTACHED = { ...TIMEOUT, state: 'attached' } as const;

describe('the web console in chromium, against the real stack', () => {
  let base = '';
  let browser: Browser;
  let foreignKey = '';
  const server = (path: string) =>
    fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }).then(
      (r) => r.json() as Promise<Record<string, unknown>>,
    );

  async function signedIn(key: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    ctx.defer(() => assert.deepEqual(errors, [], 'no uncaught errors in the page'));
    await page.goto(base);
    await page.fill('input[name=apiKey]', key);
    await page.click('button[type=submit]');
    await page.waitForSelector('nav.top', TIMEOUT);
    return page;
  }

  before(async () => {
    await createTopics(ctx);
    const app = await startRoles(ctx, ALL_ROLES);
    await app.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.app.getHttpServer().address() as { port: number }).port}`;
    // The browser's steps wait 20 s each (CI once saw a run not reach its hitl node within 20 s).
    await untilReady(base);
    browser = await launchBrowser(ctx);
    const pool = createPool(ctx.databaseUrl, { name: 'console-test' });
    ctx.defer(() => pool.end());
    const ws = await pool.query<{ id: string }>("INSERT INTO workspaces (name) VALUES ('other') RETURNING id");
    foreignKey = (await new ApiKeysRepository(pool).create((ws.rows[0] as { id: string }).id, 'admin')).key;
  });

  it('refuses a wrong key at sign-in and keeps the key out of the URL', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(base);
    await page.fill('input[name=apiKey]', 'not-a-key');
    await page.click('button[type=submit]');
    await page.waitForSelector('.problem', TIMEOUT);
    assert.match((await page.textContent('.problem')) ?? '', /^Missing or invalid API key: .+ \(401\)$/);
    assert.doesNotMatch(page.url(), /not-a-key/);
  });

  it('creates a workflow, folds a pending patch in the browser, and shows the version the server made', async () => {
    const page = await signedIn(ADMIN_KEY);
    await page.fill('input[name=name]', 'console flow');
    await page.click('form.stack button[type=submit]');
    // The graph is drawn on a canvas by the worker; its nodes are also listed as text.
    const drawn = (node: string) => page.waitForSelector(`[data-testid=dag-nodes] li[data-node=${node}]`, ATTACHED);
    await drawn('greet');
    await drawn('review');
    const workflowId = page.url().split('/').at(-1) as string;

    // The starter patch adds node "extra": it shows at once (folded here from the pending patch), then as applied.
    await page.click('text=Submit patch');
    await drawn('extra');
    await page.waitForSelector('table[data-testid=patches] tr[data-status=applied]', TIMEOUT);
    await page.waitForSelector('[data-testid=materialized]:has-text("Version 2 on the server")', TIMEOUT);
    // What the browser folded equals what the materializer stored, byte for byte under JCS.
    await page.click('text=Definition (JSON)');
    const folded = JSON.parse((await page.textContent('pre[data-testid=definition]')) ?? '') as unknown;
    const stored = await server(`/v1/workflows/${workflowId}`);
    assert.equal(canonicalize(folded), canonicalize(stored.definition));
    assert.equal(stored.version, 2);

    // Version 2 against version 1: the patch's one operation.
    await page.click('nav.versions button:text-is("2")');
    await page.waitForSelector('[data-testid=version-diff]:has-text("add /nodes/extra")', TIMEOUT);
    await page.click('nav.versions button:text-is("latest + pending")');

    // A run: it waits on the hitl node, is approved here, and completes, all seen over its event stream.
    await page.fill('input[name=input]', '{"name":"Ada"}');
    await page.click('text=Start run');
    await page.waitForSelector('[data-testid=run-status]:text-is("waiting")', TIMEOUT);
    await page.click('tr[data-node=review] >> text=Approve');
    await page.waitForSelector('[data-testid=run-status]:text-is("completed")', TIMEOUT);
    await page.waitForSelector('svg.dag g[data-node=review][data-state=succeeded]', TIMEOUT);
    await page.waitForSelector('table[data-testid=timeline] tr[data-node=review] td:text-is("succeeded")', TIMEOUT);
    const runId = page.url().split('/').at(-1) as string;
    const run = await server(`/v1/runs/${runId}`);
    assert.equal(run.status, 'completed');
    assert.deepEqual((run.nodes as Record<string, { output?: unknown }>).greet?.output, 'hello Ada');
    const events = await page.locator('ol[data-testid=events] li').allTextContents();
    assert.match(events.at(-1) ?? '', /run\.completed$/);

    // The lists find both.
    await page.goto(`${base}/#/runs`);
    await page.waitForSelector(`a[href="#/runs/${runId}"]`, TIMEOUT);
    await page.goto(`${base}/#/workflows`);
    await page.fill('input[name=q]', 'console');
    await page.waitForSelector(`a[href="#/workflows/${workflowId}"]`, TIMEOUT);
  });

  it('shows a key of another workspace nothing of this one', async () => {
    const created = (await (
      await fetch(`${base}/v1/workflows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'private',
          definition: { nodes: { a: { type: 'function', config: { expression: '1' } } }, edges: [] },
        }),
      })
    ).json()) as { id: string };
    const page = await signedIn(foreignKey);
    await page.waitForSelector('table[data-testid=workflows]', TIMEOUT);
    assert.equal(await page.locator(`a[href="#/workflows/${created.id}"]`).count(), 0);
    await page.goto(`${base}/#/workflows/${created.id}`);
    await page.waitForSelector('.problem', TIMEOUT);
    assert.match((await page.textContent('.problem')) ?? '', /Not found.*\(404\)/);
  });

  it('shows an operator consumer lag, the outbox and a dead letter, redrives it, and refuses a tenant admin', async () => {
    const source = ctx.topic('patch.created').name;
    const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    const producer = openProducer(kafka, 'console-poison', IDEMPOTENT_PRODUCER);
    await producer.connect();
    try {
      await sendToDeadLetters(producer, [
        {
          sourceTopic: source,
          partition: 0,
          error: 'poison for the console',
          attempts: 3,
          message: {
            key: Buffer.from('wf-1'),
            value: Buffer.from('x'),
            headers: {},
            offset: '3',
            timestamp: '0',
            attributes: 0,
          },
        },
      ]);
    } finally {
      await producer.disconnect();
    }
    const page = await signedIn(ADMIN_KEY);
    await page.click('a[href="#/operations"]');
    await page.waitForSelector(`table[data-testid=consumer-lag] tr[data-group^="${ctx.topicPrefix}"]`, ATTACHED);
    const lags = await page.locator('table[data-testid=consumer-lag] [data-testid=lag]').allTextContents();
    assert.ok(lags.length > 0 && lags.every((lag) => /^\d+$/.test(lag)), lags.join(','));
    assert.match((await page.textContent('[data-testid=outbox-summary]')) ?? '', /row\(s\) waiting.*relay\(s\) alive/);

    const row = page.locator(`table[data-testid=dead-letter-topics] tr[data-topic="${source}.dlq"]`);
    await row.waitFor(TIMEOUT);
    assert.equal(await row.locator('[data-testid=not-redriven]').textContent(), '1');
    await row.locator('button', { hasText: 'Show' }).click();
    await page.waitForSelector('table[data-testid=dead-letters] td.failed', TIMEOUT);
    assert.equal(await page.textContent('table[data-testid=dead-letters] td.failed'), 'poison for the console');
    await page.click('button:has-text("Dry run")');
    await page.waitForSelector('[data-testid=redrive-outcome]', TIMEOUT);
    assert.equal(await page.textContent('[data-testid=redrive-outcome]'), `Would redrive 1 message(s) to ${source}`);
    await page.click('button:has-text("Redrive")');
    await page.waitForSelector(`[data-testid=redrive-outcome]:has-text("Redriven 1 message(s) to ${source}")`, TIMEOUT);

    const tenant = await signedIn(foreignKey);
    await tenant.goto(`${base}/#/operations`);
    await tenant.waitForSelector('.problem', TIMEOUT);
    assert.match((await tenant.textContent('.problem')) ?? '', /operators' workspace.*\(403\)/);
  });
});
