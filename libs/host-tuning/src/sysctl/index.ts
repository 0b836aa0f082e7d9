// The sysctl profile of the host tuning kit: parse it (and the tmpfiles.d /sys writes), check it against a running
// kernel, apply it saving the previous values, roll back. The CLI's `orchestrator host check|apply|rollback` is the shell.
export * from './profile.js';
export * from './netns-scope.js';
export * from './compare.js';
export * from './read-settings.js';
export * from './check.js';
export * from './apply.js';
export * from './state-file.js';
export * from './profile-files.js';
