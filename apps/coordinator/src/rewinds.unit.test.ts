import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchRewound } from '#libs/messaging';
import { Rewinds } from './rewinds.js';

const at = (key: string, first: number) => ({ key, first: BigInt(first) });

describe('rewinds of the input partitions of a void transaction', () => {
  it('refuses a batch fetched before the rewind until the batch read again arrives, then admits the rest', () => {
    const rewinds = new Rewinds();
    // The void transaction held two batches of partition 0 (offsets 10.. and 15..) and one of partition 1.
    rewinds.note([at('node.completed:0', 10), at('node.completed:1', 7), at('node.completed:0', 15)]);
    assert.throws(() => rewinds.admit([at('node.completed:0', 20)]), BatchRewound, 'fetched before the rewind');
    assert.throws(
      () => rewinds.admit([at('node.completed:0', 15)]),
      BatchRewound,
      'a later void batch is not the start',
    );
    rewinds.admit([at('node.completed:0', 10)]);
    rewinds.admit([at('node.completed:0', 20)]);
    assert.throws(() => rewinds.admit([at('node.completed:1', 9)]), BatchRewound, 'partitions are rewound apart');
    rewinds.admit([at('node.completed:1', 7)]);
    rewinds.admit([at('run.control:1', 100)]);
  });

  it('keeps the earliest point when a later failure notes more, and a rejoin forgets them all', () => {
    const rewinds = new Rewinds();
    rewinds.note([at('run.requested:2', 30)]);
    rewinds.note([at('run.requested:2', 40)]);
    assert.throws(() => rewinds.admit([at('run.requested:2', 31)]), BatchRewound);
    rewinds.clear();
    rewinds.admit([at('run.requested:2', 31)]);
  });
});
