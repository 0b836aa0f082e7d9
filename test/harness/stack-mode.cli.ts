import { chooseStackMode } from './stack-addresses.js';

// For scripts/test.sh: whether it must bring up the local stack before the tests run.
process.stdout.write(`${await chooseStackMode()}\n`);
