import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fdLimitWarning, parseOpenFilesLimit } from './fd-limit.js';

/** /proc/self/limits as Linux 6.x prints it, with the open-files row given. */
const limitsText = (openFiles: string) =>
  [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    'Max processes             96365                96365                processes ',
    openFiles,
    'Max locked memory         8388608              8388608              bytes     ',
    '',
  ].join('\n');

describe('parseOpenFilesLimit', () => {
  it('reads the soft and hard open-file limits', () => {
    const text = limitsText('Max open files            1024                 524288               files     ');
    assert.deepEqual(parseOpenFilesLimit(text), { soft: 1024, hard: 524288 });
  });

  it('reads unlimited as null', () => {
    const text = limitsText('Max open files            unlimited            unlimited            files     ');
    assert.deepEqual(parseOpenFilesLimit(text), { soft: null, hard: null });
  });

  it('gives undefined when there is no open-files row', () => {
    assert.equal(parseOpenFilesLimit(limitsText('')), undefined);
    assert.equal(parseOpenFilesLimit('garbage'), undefined);
  });
});

describe('fdLimitWarning', () => {
  it('names the limit, the recommended minimum and how to raise it when below', () => {
    const warning = fdLimitWarning({ soft: 1024, hard: 1024 }, 65536);
    assert.ok(warning);
    assert.match(warning, /is 1024 \(hard 1024\)/);
    assert.match(warning, /recommended 65536/);
    assert.match(warning, /LimitNOFILE=65536/);
    assert.match(warning, /ulimit -n 65536/);
  });

  it('says nothing at or above the minimum, when unlimited, or when the check is off', () => {
    assert.equal(fdLimitWarning({ soft: 65536, hard: 65536 }, 65536), undefined);
    assert.equal(fdLimitWarning({ soft: null, hard: null }, 65536), undefined);
    assert.equal(fdLimitWarning({ soft: 1024, hard: 1024 }, 0), undefined);
  });

  it('uses the configured minimum', () => {
    assert.ok(fdLimitWarning({ soft: 4096, hard: 4096 }, 8192));
    assert.equal(fdLimitWarning({ soft: 4096, hard: 4096 }, 4096), undefined);
  });
});
