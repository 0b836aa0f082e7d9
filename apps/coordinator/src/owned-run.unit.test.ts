import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunStateRecord } from '#libs/events';
import { fromStateRecord, toStateRecord, type OwnedRun } from './owned-run.js';

const inline = (json: string) => Promise.resolve({ json, ref: null });
const unspill = (json: string) => Promise.resolve(json);

const run: OwnedRun = {
  id: 'run-1',
  workspaceId: 'ws-1',
  workflowId: 'wf-1',
  workflowVersion: 3,
  input: { x: 1 },
  tag: null,
  permission: 'write',
  requestedAt: 1_000,
  state: { status: 'running', nodes: {}, edges: {}, eventSeq: 2 },
  version: 4,
};

describe('the run.state changelog record of an owned run', () => {
  it('carries the permission the run was started with through a restore', async () => {
    const record = await toStateRecord({ run, state: run.state, effects: [] }, 2_000, inline);
    assert.equal(record.permission, 'write');
    const restored = await fromStateRecord(record, unspill);
    assert.equal(restored.permission, 'write');
    assert.equal(restored.version, 5);
  });

  it('restores a record written before the permission was recorded as a run without one', async () => {
    const { permission: _dropped, ...older } = await toStateRecord(
      { run, state: run.state, effects: [] },
      2_000,
      inline,
    );
    const restored = await fromStateRecord(older as RunStateRecord, unspill);
    assert.equal(restored.permission, null);
  });
});
