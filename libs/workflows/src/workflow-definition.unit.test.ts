import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { topicCatalog } from '#libs/kafka';
import { nodeConfigSchemas } from './definition-schema.js';
import { NODE_TYPES } from './workflow-definition.js';

describe('NODE_TYPES', () => {
  it('is the list of API.md, with a dispatch topic and a config schema for each type', () => {
    assert.deepEqual(NODE_TYPES, ['function', 'http_request', 'agent', 'hitl', 'delay']);
    const dispatchTopics = topicCatalog({ partitions: 1, replicationFactor: 1 })
      .map((t) => t.logicalName)
      .filter((name) => name.startsWith('node.dispatch.') && !name.endsWith('.dlq'));
    assert.deepEqual(
      dispatchTopics,
      NODE_TYPES.map((type) => `node.dispatch.${type}`),
    );
    assert.deepEqual(Object.keys(nodeConfigSchemas), [...NODE_TYPES]);
  });
});
