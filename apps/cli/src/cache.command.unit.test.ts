import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSince, parseWorkspace } from './cache.command.js';

describe('cache command options', () => {
  it('take --since as an ISO time or a duration back from now', () => {
    const now = Date.parse('2026-12-02T12:00:00Z');
    assert.equal(parseSince('90m', now), '2026-12-02T10:30:00.000Z');
    assert.equal(parseSince('24h', now), '2026-12-01T12:00:00.000Z');
    assert.equal(parseSince('7d', now), '2026-11-25T12:00:00.000Z');
    assert.equal(parseSince('2026-12-01T01:02:03+01:00', now), '2026-12-01T00:02:03.000Z');
    for (const bad of ['yesterday', '24', '1w', '2026-13-45T00:00:00Z', '2026-12-01']) {
      assert.throws(() => parseSince(bad, now), { code: 'commander.invalidArgument', message: /--since must be/ });
    }
  });

  it('take --workspace as a uuid only', () => {
    assert.equal(parseWorkspace('0F8FAD5B-D9CB-469F-A165-70867728950E'), '0f8fad5b-d9cb-469f-a165-70867728950e');
    assert.throws(() => parseWorkspace('default'), { message: /--workspace must be a workspace id/ });
  });
});
