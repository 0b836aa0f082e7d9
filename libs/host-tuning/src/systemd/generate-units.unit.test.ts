import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '#test/support/processes.js';
import { parseCpuList } from './cpu-list.js';
import { DEFAULT_UNIT_OPTIONS, generateUnits, HOST_TUNING_UNIT, serviceName, SLICE_NAMES } from './generate-units.js';
import { PLANES, ROLE_UNITS, type PlaneName } from './roles.js';
import { GIB, syntheticTopology, type Topology } from './topology.js';
import { allValues, megabytes, parseUnitIni, value, type ParsedUnit } from './unit-ini.test-support.js';

const execFileAsync = promisify(execFile);

/** The files of one generation, parsed. */
function generate(topology: Topology, installDir = DEFAULT_UNIT_OPTIONS.installDir): Map<string, ParsedUnit> {
  const files = generateUnits(topology, { ...DEFAULT_UNIT_OPTIONS, installDir });
  return new Map(files.map((file) => [file.path, parseUnitIni(file.content, file.path)]));
}

const sliceCpus = (units: Map<string, ParsedUnit>, plane: PlaneName): number[] =>
  parseCpuList(value(units.get(SLICE_NAMES[plane])!, 'Slice', 'AllowedCPUs'));

const intersect = (a: readonly number[], b: readonly number[]): number[] => a.filter((x) => b.includes(x));

const MATRIX = [2, 16, 64].flatMap((cpus) => [1, 2].map((nodes) => ({ cpus, nodes })));

describe('generateUnits', () => {
  for (const { cpus, nodes } of MATRIX) {
    describe(`${cpus} CPUs, ${nodes} NUMA node(s), 32 GiB`, () => {
      const topology = syntheticTopology(cpus, nodes, 32 * GIB);
      const units = generate(topology);
      const slice = (plane: PlaneName) => units.get(SLICE_NAMES[plane])!;

      it('has the slices and a service for every role, each in its plane slice', () => {
        for (const name of ['orchestrator.slice', ...Object.values(SLICE_NAMES)]) assert.ok(units.has(name), name);
        for (const role of ROLE_UNITS) {
          const unit = units.get(serviceName(role));
          assert.ok(unit, `no unit for ${role.role}`);
          assert.equal(value(unit, 'Service', 'Slice'), SLICE_NAMES[role.plane]);
          assert.match(value(unit, 'Service', 'ExecStart'), new RegExp(`/dist/apps/${role.role}/src/main\\.js$`));
          assert.ok(allValues(unit, 'Service', 'Environment').includes(`PORT=${role.port}`));
          assert.equal(value(unit, 'Service', 'Restart'), 'on-failure');
          assert.equal(value(unit, 'Service', 'KillSignal'), 'SIGTERM');
          assert.ok(Number(value(unit, 'Service', 'LimitNOFILE')) >= 65_536);
          assert.ok(Number(value(unit, 'Service', 'LimitNPROC')) > 0);
          assert.ok(Number(value(unit, 'Unit', 'StartLimitBurst')) > 0);
        }
        const worker = units.get('orchestrator-worker@.service')!;
        assert.ok(allValues(worker, 'Service', 'Environment').includes('WORKER_TYPES=%I'));
      });

      it('applies the host profile at boot before the roles start, raising limits and never lowering them', () => {
        const tuning = units.get(HOST_TUNING_UNIT)!;
        assert.equal(value(tuning, 'Service', 'Type'), 'oneshot');
        assert.match(
          value(tuning, 'Service', 'ExecStart'),
          /\/dist\/apps\/cli\/src\/main\.js host apply --overwrite-state$/,
        );
        assert.match(value(tuning, 'Service', 'ExecStop'), /main\.js host rollback$/);
        // After systemd-sysctl: otherwise the distribution's files could lower what `host apply` raised.
        assert.ok(value(tuning, 'Unit', 'After').split(' ').includes('systemd-sysctl.service'));
        for (const role of ROLE_UNITS) {
          const unit = units.get(serviceName(role))!;
          assert.ok(value(unit, 'Unit', 'After').split(' ').includes(HOST_TUNING_UNIT), role.role);
        }
      });

      it('keeps every CPU list inside the online CPUs, and each service on its slice’s CPUs', () => {
        for (const [path, unit] of units) {
          for (const list of [
            ...allValues(unit, 'Slice', 'AllowedCPUs'),
            ...allValues(unit, 'Service', 'CPUAffinity'),
          ]) {
            const listed = parseCpuList(list);
            assert.ok(listed.length > 0, `${path}: empty CPU list`);
            assert.deepEqual(intersect(listed, topology.cpus), listed, `${path}: ${list} is not all online`);
          }
        }
        for (const role of ROLE_UNITS) {
          const affinity = parseCpuList(value(units.get(serviceName(role))!, 'Service', 'CPUAffinity'));
          assert.deepEqual(affinity, sliceCpus(units, role.plane), role.role);
        }
        const all = parseCpuList(value(units.get('orchestrator.slice')!, 'Slice', 'AllowedCPUs'));
        assert.deepEqual(
          [...new Set(PLANES.flatMap((p) => sliceCpus(units, p)))].sort((a, b) => a - b),
          all,
        );
      });

      it('sets CPUQuota to 100 % per CPU of the plane, on the slice and on its services', () => {
        for (const plane of PLANES) {
          assert.equal(value(slice(plane), 'Slice', 'CPUQuota'), `${sliceCpus(units, plane).length * 100}%`);
        }
        for (const role of ROLE_UNITS) {
          const quota = value(units.get(serviceName(role))!, 'Service', 'CPUQuota');
          assert.equal(quota, `${sliceCpus(units, role.plane).length * 100}%`);
        }
      });

      if (cpus === 2 && nodes === 1) {
        it('shares both CPUs between the planes, separated by CPUWeight, and says so in the slices', () => {
          for (const plane of PLANES) assert.deepEqual(sliceCpus(units, plane), [0, 1]);
          const weights = PLANES.map((p) => Number(value(slice(p), 'Slice', 'CPUWeight')));
          assert.ok(weights[0]! > weights[1]!, 'the control plane wins contention');
          const text = generateUnits(topology).find((f) => f.path === SLICE_NAMES.control)!.content;
          assert.match(text, /^# .*CPUWeight alone decides/m);
        });
      } else {
        it('gives each plane CPUs of its own, away from the CPUs left to the OS', () => {
          const [control, runner, fanout] = PLANES.map((p) => sliceCpus(units, p));
          assert.deepEqual(intersect(control!, runner!), []);
          assert.deepEqual(intersect(fanout!, runner!), []);
          // On 2 CPUs in 2 nodes, node 0 has a single CPU for control and fanout.
          if (cpus > 2) assert.deepEqual(intersect(control!, fanout!), []);
          if (cpus > 2) assert.ok(!control!.includes(0) && !runner!.includes(0) && !fanout!.includes(0), 'CPU 0');
        });
      }

      if (nodes === 2) {
        it('keeps each plane inside one NUMA node and binds its memory there', () => {
          for (const plane of PLANES) {
            const owner = topology.nodes.find((n) => sliceCpus(units, plane).every((c) => n.cpus.includes(c)));
            assert.ok(owner, `${plane} spans nodes`);
            assert.equal(value(slice(plane), 'Slice', 'AllowedMemoryNodes'), String(owner.id));
            for (const role of ROLE_UNITS.filter((r) => r.plane === plane)) {
              const unit = units.get(serviceName(role))!;
              assert.equal(value(unit, 'Service', 'NUMAPolicy'), 'bind');
              assert.equal(value(unit, 'Service', 'NUMAMask'), String(owner.id));
            }
          }
          assert.notEqual(
            value(slice('control'), 'Slice', 'AllowedMemoryNodes'),
            value(slice('runner'), 'Slice', 'AllowedMemoryNodes'),
          );
        });
      } else {
        it('sets no NUMA policy on one node', () => {
          for (const [path, unit] of units) {
            assert.deepEqual(allValues(unit, 'Service', 'NUMAPolicy'), [], path);
            assert.deepEqual(allValues(unit, 'Slice', 'AllowedMemoryNodes'), [], path);
          }
        });
      }

      it('keeps memory limits below total memory, planes within the parent, services within their plane', () => {
        const max = (unit: ParsedUnit, section: string) => megabytes(value(unit, section, 'MemoryMax'));
        const high = (unit: ParsedUnit, section: string) => megabytes(value(unit, section, 'MemoryHigh'));
        const total = max(units.get('orchestrator.slice')!, 'Slice');
        assert.ok(total <= topology.memoryBytes * 0.8, 'room is left for the OS and page cache');
        assert.ok(PLANES.reduce((sum, p) => sum + max(slice(p), 'Slice'), 0) <= total);
        for (const plane of PLANES) {
          assert.ok(high(slice(plane), 'Slice') < max(slice(plane), 'Slice'));
          const services = ROLE_UNITS.filter((r) => r.plane === plane).map((r) => units.get(serviceName(r))!);
          assert.ok(services.reduce((sum, u) => sum + max(u, 'Service'), 0) <= max(slice(plane), 'Slice'), plane);
          for (const unit of services) assert.ok(high(unit, 'Service') < max(unit, 'Service'));
        }
      });

      it('stops a service later than the app’s own shutdown deadline', () => {
        for (const role of ROLE_UNITS) {
          const unit = units.get(serviceName(role))!;
          const ms = Number(
            /^SHUTDOWN_TIMEOUT_MS=(\d+)$/.exec(
              allValues(unit, 'Service', 'Environment').find((e) => e.startsWith('SHUTDOWN_TIMEOUT_MS='))!,
            )![1],
          );
          const stop = Number(/^(\d+)s$/.exec(value(unit, 'Service', 'TimeoutStopSec'))![1]);
          assert.ok(stop * 1000 > ms, `${role.role}: TimeoutStopSec ${stop}s vs ${ms} ms`);
        }
      });

      it('passes systemd-analyze verify', async () => {
        const dir = await mkdtemp(join(tmpdir(), 'units-'));
        try {
          // The repository as install dir, so that ExecStart's node and main.js exist for verify to check.
          const files = generateUnits(topology, { ...DEFAULT_UNIT_OPTIONS, installDir: REPO_ROOT });
          await writeAll(dir, files);
          const units = files.map((f) => f.path).filter((p) => !p.includes('/'));
          const { stderr } = await execFileAsync('systemd-analyze', ['verify', ...units], { cwd: dir });
          assert.equal(stderr, '');
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    });
  }

  it('fits non-contiguous node CPU lists (SMT siblings numbered per node) inside their node', () => {
    const topology: Topology = {
      cpus: Array.from({ length: 16 }, (_, i) => i),
      nodes: [
        { id: 0, cpus: [0, 1, 2, 3, 8, 9, 10, 11] },
        { id: 1, cpus: [4, 5, 6, 7, 12, 13, 14, 15] },
      ],
      memoryBytes: 64 * GIB,
    };
    const units = generate(topology);
    assert.deepEqual(sliceCpus(units, 'runner'), [5, 6, 7, 12, 13, 14, 15]);
    for (const plane of ['control', 'fanout'] as const) {
      assert.ok(
        sliceCpus(units, plane).every((c) => topology.nodes[0]!.cpus.includes(c) && c !== 0),
        plane,
      );
    }
  });

  it('leaves a memory-only NUMA node out of the fitting', () => {
    const topology: Topology = {
      cpus: [0, 1, 2, 3, 4, 5, 6, 7],
      nodes: [
        { id: 0, cpus: [0, 1, 2, 3, 4, 5, 6, 7] },
        { id: 1, cpus: [] },
      ],
      memoryBytes: 16 * GIB,
    };
    const units = generate(topology);
    assert.deepEqual(allValues(units.get(SLICE_NAMES.runner)!, 'Slice', 'AllowedMemoryNodes'), []);
    assert.ok(!sliceCpus(units, 'control').includes(0));
  });

  it('refuses a topology that cannot be fitted', () => {
    const base = { cpus: [0, 1, 2, 3], memoryBytes: 8 * GIB };
    assert.throws(() => generateUnits({ ...base, nodes: [{ id: 0, cpus: [0, 1] }] }), /do not cover online CPUs 2-3/);
    assert.throws(() => generateUnits({ ...base, nodes: [{ id: 0, cpus: [0, 1, 2, 3, 4] }] }), /CPU 4.*not online/);
    assert.throws(
      () =>
        generateUnits({
          ...base,
          nodes: [
            { id: 0, cpus: [0, 1, 2, 3] },
            { id: 1, cpus: [3] },
          ],
        }),
      /CPU 3 is in NUMA nodes 0 and 1/,
    );
    assert.throws(() => generateUnits({ ...base, cpus: [], nodes: [{ id: 0, cpus: [] }] }), /no online CPUs/);
    assert.throws(() => syntheticTopology(2, 3, 8 * GIB), /3 NUMA nodes for 2 CPUs/);
    assert.throws(() => syntheticTopology(4, 1, 100), /at least 512 MiB/);
  });

  it('is caught by systemd-analyze verify when a value is wrong (the check above can fail)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'units-'));
    try {
      const file = generateUnits(syntheticTopology(4, 1, 8 * GIB), {
        ...DEFAULT_UNIT_OPTIONS,
        installDir: REPO_ROOT,
      }).find((f) => f.path === 'orchestrator-api.service')!;
      await writeAll(dir, [{ ...file, content: file.content.replace(/^CPUQuota=.*$/m, 'CPUQuota=lots') }]);
      const { stderr } = await execFileAsync('systemd-analyze', ['verify', file.path], { cwd: dir });
      assert.match(stderr, /Invalid CPU quota 'lots'/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function writeAll(dir: string, files: ReadonlyArray<{ path: string; content: string }>): Promise<void> {
  for (const file of files) {
    await mkdir(dirname(join(dir, file.path)), { recursive: true });
    await writeFile(join(dir, file.path), file.content);
  }
}
