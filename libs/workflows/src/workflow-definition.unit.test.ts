import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NODE_TYPES as DISPATCH_TOPIC_TYPES } from '#libs/kafka';
import { nodeConfigSchemas } from './definition-schema.js';
import { NODE_TYPES } from './workflow-definition.js';

describe('NODE_TYPES', () => {
  it('is the list of API.md, with a dispatch topic and a config schema for each type', () => {
    assert.deepEqual(NODE_TYPES, ['function', 'http_request', 'agent', 'hitl', 'delay']);
    assert.deepEqual(NODE_TYPES, DISPATCH_TOPIC_TYPES);
    assert.deepEqual(Object.keys(nodeConfigSchemas), [...NODE_TYPES]);
  });
});
