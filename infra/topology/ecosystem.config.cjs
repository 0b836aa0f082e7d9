/* global require, module, __dirname, process */
// Every role in processes of its own on one machine, under pm2 (`npm run start:topology`, or pm2-runtime with this
// file): N instances per role, each its own process with its own port, restarted by pm2 when it dies.
//   TOPOLOGY      instances per role, e.g. "api=2,coordinator=3" (the rest keep their defaults below)
//   TOPOLOGY_PORT first port (8080): the r-th role's instance i listens on TOPOLOGY_PORT + 10 * r + i, in the order
//                 below (api 8080-, coordinator 8090-, worker 8100-, ... fanout 8140-)
// Everything else (DATABASE_URL, KAFKA_BROKERS, ...) is passed through from the environment.
// pm2 loads ecosystem files with require(): CommonJS is its format.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
/** Two of each, three coordinators: the shape issue 15 asks to survive a kill of any one instance. */
const DEFAULTS = {
  api: 2,
  coordinator: 3,
  worker: 2,
  materializer: 2,
  'outbox-relay': 2,
  'run-projector': 2,
  fanout: 2,
};

function instances() {
  const counts = { ...DEFAULTS };
  for (const part of (process.env.TOPOLOGY ?? '').split(',').filter(Boolean)) {
    const [role, count] = part.split('=');
    if (!(role in DEFAULTS) || !/^\d+$/.test(count ?? '')) {
      throw new Error(`TOPOLOGY: "${part}" is not <role>=<count> with a role of ${Object.keys(DEFAULTS).join(', ')}`);
    }
    counts[role] = Number(count);
  }
  return counts;
}

const base = Number(process.env.TOPOLOGY_PORT ?? 8080);
const roles = Object.entries(instances()).filter(([, count]) => count > 0);
const portOf = (role) => base + 10 * roles.findIndex(([name]) => name === role);
// The API forwards event streams to one fanout (a load balancer in front of the fanouts does better); their clients
// may also connect to any fanout directly.
const fanoutUrl = process.env.FANOUT_URL ?? `http://127.0.0.1:${portOf('fanout')}`;
// As many transaction groups as coordinators: each owns one and writes it in one transaction per batch (README).
const coordinators = roles.find(([name]) => name === 'coordinator')?.[1] ?? 1;
const partitionGroups = process.env.COORDINATOR_PARTITION_GROUPS ?? String(coordinators);

module.exports = {
  apps: roles.map(([role, count]) => ({
    name: role,
    script: path.join(ROOT, `dist/apps/${role}/src/main.js`),
    cwd: ROOT,
    // The pinned Node 24 of node_modules, not whatever node runs pm2.
    interpreter: path.join(ROOT, 'node_modules/.bin/node'),
    exec_mode: 'fork',
    instances: count,
    increment_var: 'PORT',
    env: { PORT: String(portOf(role)), FANOUT_URL: fanoutUrl, COORDINATOR_PARTITION_GROUPS: partitionGroups },
    // A role shuts down gracefully on SIGINT (drains, commits); give it the time it takes.
    kill_timeout: 20_000,
    autorestart: true,
    restart_delay: 1_000,
  })),
};
