import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '#test/support/processes.js';

const run = promisify(execFile);
const EBPF_DIR = join(REPO_ROOT, 'infra/host-tuning/ebpf');

/** The uprobe/uretprobe targets of a bpftrace script (`uprobe:$1:<symbol or glob>`). */
function uprobeSymbols(script: string): string[] {
  return [...script.matchAll(/^u(?:ret)?probe:\$1:(\S+?)\s*$/gm)].map((m) => m[1] ?? '');
}

const globToRegExp = (glob: string) =>
  new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

// The eBPF scripts (infra/host-tuning/ebpf) attach to internal symbols of the node binary; they need not run in CI,
// but a Node upgrade that renames those symbols must not go unnoticed.
describe('the node binary the project pins, as the eBPF scripts expect it', () => {
  it('has every symbol the uprobe scripts attach to', async () => {
    const node = await realpath(join(REPO_ROOT, 'node_modules/node/bin/node'));
    const { stdout } = await run('nm', [node], { maxBuffer: 256 * 1024 * 1024 });
    const symbols = stdout.split('\n').map((line) => line.split(' ')[2] ?? '');
    const scripts = (await readdir(EBPF_DIR)).filter((f) => f.endsWith('.bt'));
    let probes = 0;
    for (const file of scripts) {
      for (const target of uprobeSymbols(await readFile(join(EBPF_DIR, file), 'utf8'))) {
        probes++;
        const pattern = globToRegExp(target);
        assert.ok(
          symbols.some((s) => pattern.test(s)),
          `${file}: no symbol matches ${target} in ${node}`,
        );
      }
    }
    assert.ok(probes >= 3, `found the scripts' uprobes (${probes})`);
  });

  it('has no USDT probes (the README says so: Node removed its DTrace/SystemTap provider)', async () => {
    const node = await realpath(join(REPO_ROOT, 'node_modules/node/bin/node'));
    const { stdout } = await run('readelf', ['-n', '-W', node], { maxBuffer: 64 * 1024 * 1024 });
    assert.ok(stdout.length > 0);
    assert.doesNotMatch(stdout, /stapsdt/);
  });
});
