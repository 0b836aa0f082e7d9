import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CpuListError, formatCpuList, parseCpuList } from './cpu-list.js';

describe('CPU lists', () => {
  it('parses the kernel format, ranges and singles, with a trailing newline', () => {
    assert.deepEqual(parseCpuList('0-3,8-11\n'), [0, 1, 2, 3, 8, 9, 10, 11]);
    assert.deepEqual(parseCpuList('5'), [5]);
    assert.deepEqual(parseCpuList('0,2,4-5'), [0, 2, 4, 5]);
    assert.deepEqual(parseCpuList('\n'), []);
  });

  it('formats the shortest list and round-trips', () => {
    assert.equal(formatCpuList([11, 0, 1, 2, 3, 8, 9, 10]), '0-3,8-11');
    assert.equal(formatCpuList([0, 2, 4, 5]), '0,2,4-5');
    assert.equal(formatCpuList([]), '');
    for (const list of ['0-63', '1-7,9-15', '0,2,4,6']) assert.equal(formatCpuList(parseCpuList(list)), list);
  });

  it('refuses what is not a CPU list', () => {
    assert.throws(() => parseCpuList('0-3,x'), CpuListError);
    assert.throws(() => parseCpuList('4-1'), /runs backwards/);
    assert.throws(() => parseCpuList('1,,2'), CpuListError);
  });
});
