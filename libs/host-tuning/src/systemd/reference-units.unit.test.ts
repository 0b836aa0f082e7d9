import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '#test/support/processes.js';
import { DEFAULT_UNIT_OPTIONS, generateUnits } from './generate-units.js';
import { GIB, syntheticTopology } from './topology.js';

const REFERENCE_DIR = join(REPO_ROOT, 'infra/host-tuning/systemd/reference');

describe('the committed reference units (16 CPUs, 2 NUMA nodes, 64 GiB)', () => {
  it('are exactly what the generator produces now', async () => {
    const expected = generateUnits(syntheticTopology(16, 2, 64 * GIB), DEFAULT_UNIT_OPTIONS);
    const committed = (await readdir(REFERENCE_DIR, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(REFERENCE_DIR.length + 1))
      .sort();
    const hint =
      'regenerate: npm run --silent cli -- host units --cpus 16 --numa-nodes 2 --memory 64G --out ' +
      'infra/host-tuning/systemd/reference';
    assert.deepEqual(committed, expected.map((f) => f.path).sort(), `file set differs; ${hint}`);
    for (const file of expected) {
      assert.equal(await readFile(join(REFERENCE_DIR, file.path), 'utf8'), file.content, `${file.path}; ${hint}`);
    }
  });
});
