import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readTopology } from './read-topology.js';

let root: string;
let n = 0;

/** A fixture tree: the files of a fake / (sys/…, proc/meminfo), each test in a directory of its own. */
async function fixture(files: Record<string, string>): Promise<string> {
  const dir = join(root, String(n++));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

const MEMINFO = 'MemTotal:       65842232 kB\nMemFree:        12345678 kB\n';
const ONLINE = 'sys/devices/system/cpu/online';
const node = (id: number) => `sys/devices/system/node/node${id}/cpulist`;

describe('readTopology', () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'topology-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads CPUs, nodes with split cpulists, and MemTotal', async () => {
    const dir = await fixture({
      [ONLINE]: '0-15\n',
      [node(0)]: '0-3,8-11\n',
      [node(1)]: '4-7,12-15\n',
      'sys/devices/system/node/online': '0-1\n',
      'proc/meminfo': MEMINFO,
    });
    const topology = await readTopology(dir);
    assert.equal(topology.cpus.length, 16);
    assert.deepEqual(topology.nodes, [
      { id: 0, cpus: [0, 1, 2, 3, 8, 9, 10, 11] },
      { id: 1, cpus: [4, 5, 6, 7, 12, 13, 14, 15] },
    ]);
    assert.equal(topology.memoryBytes, 65842232 * 1024);
  });

  it('leaves offline CPUs out, also where a node still lists them', async () => {
    const dir = await fixture({
      [ONLINE]: '0-5,8-15\n',
      [node(0)]: '0-7\n',
      [node(1)]: '8-15\n',
      'proc/meminfo': MEMINFO,
    });
    const topology = await readTopology(dir);
    assert.deepEqual(topology.cpus, [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15]);
    assert.deepEqual(topology.nodes[0]!.cpus, [0, 1, 2, 3, 4, 5]);
  });

  it('sorts nodes by number (node10 after node2) and keeps a memory-only node with no CPUs', async () => {
    const dir = await fixture({
      [ONLINE]: '0-3\n',
      [node(0)]: '0-1\n',
      [node(2)]: '2-3\n',
      [node(10)]: '\n',
      'proc/meminfo': MEMINFO,
    });
    assert.deepEqual(
      (await readTopology(dir)).nodes.map((x) => [x.id, x.cpus.length]),
      [
        [0, 2],
        [2, 2],
        [10, 0],
      ],
    );
  });

  it('treats a kernel without NUMA (no node directory) as one node', async () => {
    const dir = await fixture({ [ONLINE]: '0-1\n', 'proc/meminfo': MEMINFO });
    assert.deepEqual((await readTopology(dir)).nodes, [{ id: 0, cpus: [0, 1] }]);
  });

  it('reads this machine', async () => {
    const topology = await readTopology();
    assert.ok(topology.cpus.length >= 1);
    assert.ok(topology.memoryBytes > 0);
  });

  it('names what is missing or inconsistent', async () => {
    await assert.rejects(readTopology(await fixture({ 'proc/meminfo': MEMINFO })), /cannot read .*cpu\/online/);
    await assert.rejects(readTopology(await fixture({ [ONLINE]: '0-1\n' })), /cannot read .*proc\/meminfo/);
    await assert.rejects(
      readTopology(await fixture({ [ONLINE]: '0-1\n', 'proc/meminfo': 'MemFree: 1 kB\n' })),
      /no "MemTotal/,
    );
    await assert.rejects(
      readTopology(await fixture({ [ONLINE]: '0-3\n', [node(0)]: '0-1\n', 'proc/meminfo': MEMINFO })),
      /do not cover online CPUs 2-3/,
    );
    await assert.rejects(
      readTopology(await fixture({ [ONLINE]: '0-3\n', [node(0)]: 'zero\n', 'proc/meminfo': MEMINFO })),
      /not a CPU list: "zero"/,
    );
  });
});
