// The host and runtime tuning kit's pure logic: sysctl profiles (check, apply, rollback), systemd units and slices
// fitted to the machine, and engine settings scaled to it. The CLI (`orchestrator host …`) is its shell.
export * from './sysctl/index.js';
export * from './systemd/index.js';
export * from './engines/index.js';
