import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDependencyUnavailable } from './dependency-errors.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isDependencyUnavailable', () => {
  it('recognises what a restarting or unreachable Postgres throws', () => {
    for (const error of [
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Client has encountered a connection error and is not queryable'),
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('the database system is starting up', '57P03'),
      withCode('sorry, too many clients already', '53300'),
      withCode('connection failure', '08006'),
      new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], ''),
      Object.assign(new Error('Connection error'), { retriable: true }),
    ]) {
      assert.equal(isDependencyUnavailable(error), true, error.message);
    }
  });

  it('leaves bugs and bad data alone', () => {
    for (const error of [
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      withCode('invalid input syntax for type uuid', '22P02'),
      withCode('duplicate key value violates unique constraint', '23505'),
      'a string',
      undefined,
    ]) {
      assert.equal(isDependencyUnavailable(error), false, String(error));
    }
  });
});
