import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { GENERATED_TYPES_PATH, generateTypes } from './generate-types.js';

describe('the typed client', () => {
  it('is generated from the current OpenAPI document (npm run api:generate refreshes it)', async () => {
    const checkedIn = await readFile(GENERATED_TYPES_PATH, 'utf8');
    assert.ok(checkedIn === (await generateTypes()), `${GENERATED_TYPES_PATH} is stale: run npm run api:generate`);
  });
});
