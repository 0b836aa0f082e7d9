import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '#test/support/processes.js';
import { BROKER_PROFILES, parseProperties, readBrokerProfile } from './broker-profiles.js';

const int = (profile: Map<string, string>, key: string): number => {
  const value = Number(profile.get(key));
  assert.ok(Number.isInteger(value), `${key} is an integer (got ${profile.get(key)})`);
  return value;
};

describe('parseProperties', () => {
  it('reads key=value lines, skips comments and refuses what it does not understand', () => {
    const parsed = parseProperties('# c\n! c\n\na=1\n b = x=y \n');
    assert.deepEqual(
      [...parsed],
      [
        ['a', '1'],
        ['b', 'x=y'],
      ],
    );
    assert.throws(() => parseProperties('a=1\na=2'), /set twice/);
    assert.throws(() => parseProperties('just words'), /not key=value/);
    assert.throws(() => parseProperties('a=1 \\\n  2'), /not key=value/);
  });
});

describe('broker profiles', () => {
  it('production: acknowledged writes survive one broker down, and the cluster still takes writes', async () => {
    const prod = await readBrokerProfile(REPO_ROOT, 'production');
    const rf = int(prod, 'default.replication.factor');
    const minIsr = int(prod, 'min.insync.replicas');
    assert.ok(rf >= 3, 'three copies');
    assert.ok(minIsr >= 2, 'an acks=all write is on two brokers');
    assert.ok(minIsr < rf, 'one broker down must not stop producers');
    assert.ok(int(prod, 'offsets.topic.replication.factor') >= rf);
    assert.ok(int(prod, 'transaction.state.log.replication.factor') >= rf);
    assert.ok(int(prod, 'transaction.state.log.min.isr') < int(prod, 'transaction.state.log.replication.factor'));
    assert.equal(prod.get('unclean.leader.election.enable'), 'false');
  });

  it('neither profile creates topics on first use (topics are code)', async () => {
    for (const profile of ['local', 'production'] as const) {
      assert.equal((await readBrokerProfile(REPO_ROOT, profile)).get('auto.create.topics.enable'), 'false', profile);
    }
  });

  it('local: every replication setting is filled in by kafka.sh for the node count (1 by default, 3 in a cluster)', async () => {
    const local = await readBrokerProfile(REPO_ROOT, 'local');
    const replication = [...local].filter(([key]) =>
      /replication\.factor$|min\.isr$|^min\.insync\.replicas$/.test(key),
    );
    assert.ok(replication.length >= 5);
    for (const [key, value] of replication) {
      assert.equal(value, /replication\.factor$/.test(key) ? '@RF@' : '@MIN_ISR@', key);
    }
  });

  it('production: the largest message fits the outbox relay batch, and groups wait for their members', async () => {
    const prod = await readBrokerProfile(REPO_ROOT, 'production');
    assert.ok(int(prod, 'message.max.bytes') >= 900_000, 'OUTBOX_RELAY_MAX_BATCH_BYTES default');
    assert.ok(int(prod, 'group.initial.rebalance.delay.ms') > 0);
    assert.ok(int(prod, 'socket.send.buffer.bytes') >= 102_400, 'not below the broker default');
  });

  it('production: every setting has its why in a comment just above it (or above its group)', async () => {
    const lines = (await readFile(join(REPO_ROOT, 'infra/kafka/config', BROKER_PROFILES.production), 'utf8')).split(
      '\n',
    );
    let explained = false;
    for (const line of lines) {
      if (line.startsWith('#')) explained = !/^# -+/.test(line) || explained;
      else if (line.trim() === '') explained = false;
      else assert.ok(explained, `no comment above: ${line}`);
    }
  });
});
