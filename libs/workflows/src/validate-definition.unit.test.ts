import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonataProblem, MAX_REGEX_ATOMS, newRegexBudget } from './jsonata-check.js';
import { apiExample } from './test-fixtures.js';
import { validateDefinition } from './validate-definition.js';
import type { DefinitionOptions } from './workflow-definition.js';

/** The errors for `input`, failing the test if it is accepted. */
function errorsOf(input: unknown, options?: DefinitionOptions): string[] {
  const result = validateDefinition(input, options);
  assert.equal(result.ok, false, 'expected the definition to be rejected');
  return result.ok ? [] : result.errors;
}

/** The API example with node `id` replaced or added. */
const withNode = (id: string, node: unknown): unknown => {
  const definition = apiExample() as unknown as { nodes: Record<string, unknown> };
  definition.nodes[id] = node;
  return definition;
};
const withConfig = (type: string, config: unknown) => withNode('n1', { type, config });

describe('validateDefinition: shape', () => {
  it('accepts the example of API.md and returns it', () => {
    const input = apiExample();
    const result = validateDefinition(input);
    assert.equal(result.ok, true, result.ok ? '' : result.errors.join('\n'));
    assert.equal(result.ok && result.value, input);
  });

  it('accepts every node type with all its optional settings', () => {
    const result = validateDefinition({
      nodes: {
        f: { type: 'function', config: { expression: 'input' } },
        h: {
          type: 'http_request',
          config: {
            method: 'POST',
            url: 'http://example.org:8080/a?b=c',
            headers: { 'content-type': 'application/json' },
            body: { any: ['json', 1, null] },
            maxResponseBytes: 1_000_000,
          },
          timeoutMs: 86_400_000,
          retry: { maxAttempts: 20, backoffMs: 0 },
          cache: { enabled: true, ttlMs: 60_000 },
        },
        a: {
          type: 'agent',
          config: { model: 'm', prompt: 'p', temperature: 2, maxTokens: 200_000, system: '' },
        },
        r: { type: 'hitl', config: { prompt: 'ok?', approvers: ['ann', 'bob'] } },
        d: { type: 'delay', config: { ms: 2_592_000_000 } },
      },
      edges: [],
    });
    assert.equal(result.ok, true, result.ok ? '' : result.errors.join('\n'));
  });

  it('says what is wrong with a value that is not a definition', () => {
    for (const input of [null, undefined, 42, 'x', [], true]) {
      assert.deepEqual(errorsOf(input), ['definition: must be an object'], String(input));
    }
    assert.deepEqual(errorsOf({}), ['definition: "nodes" is required', 'definition: "edges" is required']);
    assert.deepEqual(errorsOf({ ...apiExample(), name: 'x' }), [
      'definition: unknown property "name" (allowed: nodes, edges)',
    ]);
    assert.deepEqual(errorsOf({ nodes: [], edges: {} }), ['nodes: must be an object', 'edges: must be an array']);
  });

  it('needs 1 to 500 nodes and at most 2000 edges', () => {
    assert.deepEqual(errorsOf({ nodes: {}, edges: [] }), ['nodes: must have at least one node']);
    const many = Object.fromEntries(
      Array.from({ length: 501 }, (_, i) => [`n${i}`, { type: 'delay', config: { ms: 0 } }]),
    );
    assert.deepEqual(errorsOf({ nodes: many, edges: [] }), ['nodes: must have at most 500 nodes']);
    const edges = Array.from({ length: 2001 }, () => ({ from: 'a', to: 'b' }));
    assert.ok(errorsOf({ nodes: { a: {}, b: {} }, edges }).includes('edges: must have at most 2000 edges'));
  });

  it('checks node ids and refuses ids that name Object.prototype machinery', () => {
    const node = { type: 'delay', config: { ms: 0 } };
    assert.deepEqual(errorsOf(withNode('1st', node)), [
      'nodes: invalid node id "1st" (must start with a letter or "_" and have at most 64 letters, digits, "_" or "-")',
    ]);
    assert.match(errorsOf(withNode(`a${'b'.repeat(64)}`, node))[0] ?? '', /invalid node id "ab+"/);
    assert.match(errorsOf(withNode('has space', node))[0] ?? '', /invalid node id "has space"/);
    assert.equal(validateDefinition(withNode(`_${'b'.repeat(63)}`, node)).ok, true);
    for (const id of ['constructor', 'prototype']) {
      assert.deepEqual(errorsOf(withNode(id, node)), [`nodes: node id "${id}" is reserved`]);
    }
    // JSON.parse makes "__proto__" an own property, exactly as an HTTP body would arrive.
    const parsed: unknown = JSON.parse('{"nodes":{"__proto__":{"type":"delay","config":{"ms":0}}},"edges":[]}');
    assert.deepEqual(errorsOf(parsed), ['nodes: node id "__proto__" is reserved']);
  });

  it('names the node, the type and the known types for an unknown node type', () => {
    assert.deepEqual(errorsOf(withConfig('teleport', {})), [
      'nodes.n1.type: unknown node type "teleport" (known: function, http_request, agent, hitl, delay)',
    ]);
    assert.deepEqual(errorsOf(withNode('n1', { type: 7, config: {} })), [
      'nodes.n1.type: unknown node type 7 (known: function, http_request, agent, hitl, delay)',
    ]);
    assert.deepEqual(errorsOf(withNode('n1', { config: {} })), ['nodes.n1: "type" is required']);
  });

  it('checks the common node settings', () => {
    const delay = { type: 'delay', config: { ms: 0 } };
    assert.deepEqual(errorsOf(withNode('n1', { type: 'delay' })), ['nodes.n1: "config" is required']);
    assert.deepEqual(errorsOf(withNode('n1', { ...delay, config: null })), ['nodes.n1.config: must be an object']);
    assert.deepEqual(errorsOf(withNode('n1', { ...delay, extra: 1 })), [
      'nodes.n1: unknown property "extra" (allowed: type, config, timeoutMs, retry)',
    ]);
    assert.deepEqual(errorsOf(withNode('n1', { ...delay, timeoutMs: 0 })), ['nodes.n1.timeoutMs: must be at least 1']);
    assert.deepEqual(errorsOf(withNode('n1', { ...delay, timeoutMs: 86_400_001 })), [
      'nodes.n1.timeoutMs: must be at most 86400000',
    ]);
    assert.deepEqual(errorsOf(withNode('n1', { ...delay, timeoutMs: 1.5 })), [
      'nodes.n1.timeoutMs: must be an integer',
    ]);
    assert.deepEqual(errorsOf(withNode('n1', { ...delay, retry: { maxAttempts: 21, backoffMs: -1 } })), [
      'nodes.n1.retry.maxAttempts: must be at most 20',
      'nodes.n1.retry.backoffMs: must be at least 0',
    ]);
    assert.deepEqual(errorsOf(withNode('n1', { ...delay, retry: { maxAttempts: 0, backoffMs: 3_600_001 } })), [
      'nodes.n1.retry.maxAttempts: must be at least 1',
      'nodes.n1.retry.backoffMs: must be at most 3600000',
    ]);
    assert.deepEqual(errorsOf(withNode('n1', { ...delay, retry: { maxAttempts: 2 } })), [
      'nodes.n1.retry: "backoffMs" is required',
    ]);
  });

  it('takes a cache setting on function, http_request and agent nodes, and refuses one on hitl and delay', () => {
    const fn = { type: 'function', config: { expression: 'input' } };
    for (const cache of [{}, { enabled: false }, { enabled: true, ttlMs: 1 }, { ttlMs: 2_592_000_000 }]) {
      const result = validateDefinition(withNode('n1', { ...fn, cache }));
      assert.equal(result.ok, true, `${JSON.stringify(cache)}: ${result.ok ? '' : result.errors.join('\n')}`);
    }
    assert.deepEqual(errorsOf(withNode('n1', { ...fn, cache: { enabled: 'yes', ttlMs: 0, size: 1 } })), [
      'nodes.n1.cache: unknown property "size" (allowed: enabled, ttlMs)',
      'nodes.n1.cache.enabled: must be a boolean',
      'nodes.n1.cache.ttlMs: must be at least 1',
    ]);
    assert.deepEqual(errorsOf(withNode('n1', { ...fn, cache: { ttlMs: 2_592_000_001 } })), [
      'nodes.n1.cache.ttlMs: must be at most 2592000000',
    ]);
    assert.deepEqual(errorsOf(withNode('n1', { ...fn, cache: true })), ['nodes.n1.cache: must be an object']);
    assert.deepEqual(errorsOf(withNode('n1', { type: 'hitl', config: { prompt: 'ok?' }, cache: {} })), [
      'nodes.n1.cache: hitl nodes are never cached',
    ]);
    assert.deepEqual(errorsOf(withNode('n1', { type: 'delay', config: { ms: 1 }, cache: { enabled: false } })), [
      'nodes.n1.cache: delay nodes are never cached',
    ]);
  });

  it('checks each node type’s config against that type only', () => {
    const cases: [type: string, config: unknown, errors: string[]][] = [
      ['function', {}, ['nodes.n1.config: "expression" is required']],
      ['function', { expression: '' }, ['nodes.n1.config.expression: must not be empty']],
      [
        'function',
        { expression: 'a', expresion: 'b' },
        ['nodes.n1.config: unknown property "expresion" (allowed: expression)'],
      ],
      ['http_request', { url: 'https://example.org' }, ['nodes.n1.config: "method" is required']],
      [
        'http_request',
        { method: 'FETCH', url: 'https://example.org' },
        ['nodes.n1.config.method: must be one of GET, POST, PUT, PATCH, DELETE, HEAD'],
      ],
      [
        'http_request',
        { method: 'GET', url: '/relative' },
        ['nodes.n1.config.url: must be an absolute http or https URL'],
      ],
      [
        'http_request',
        { method: 'GET', url: 'file:///etc/passwd' },
        ['nodes.n1.config.url: must be an absolute http or https URL, not file:'],
      ],
      [
        'http_request',
        { method: 'GET', url: 'https://example.org', headers: { 'x-n': 1 } },
        ['nodes.n1.config.headers.x-n: must be a string'],
      ],
      [
        'http_request',
        { method: 'GET', url: 'https://example.org', maxResponseBytes: 0 },
        ['nodes.n1.config.maxResponseBytes: must be at least 1'],
      ],
      ['agent', { model: 'm' }, ['nodes.n1.config: "prompt" is required']],
      [
        'agent',
        { model: '', prompt: 'p', temperature: 2.5, maxTokens: 200_001 },
        [
          'nodes.n1.config.model: must not be empty',
          'nodes.n1.config.temperature: must be at most 2',
          'nodes.n1.config.maxTokens: must be at most 200000',
        ],
      ],
      [
        'agent',
        { model: 'm', prompt: 'p', maxTokens: 0, system: 3 },
        ['nodes.n1.config.maxTokens: must be at least 1', 'nodes.n1.config.system: must be a string'],
      ],
      [
        'agent',
        { model: 'm', prompt: 'Summarise {{ nodes.fetch.( }}' },
        [
          'nodes.n1.config.prompt: "{{ nodes.fetch.( }}" is ' +
            (jsonataProblem('nodes.fetch.(', newRegexBudget()) ?? ''),
        ],
      ],
      [
        'agent',
        { model: 'm', prompt: 'Summarise {{ input' },
        ['nodes.n1.config.prompt: "{{" at character 10 is never closed'],
      ],
      ['hitl', { prompt: '' }, ['nodes.n1.config.prompt: must not be empty']],
      ['hitl', { prompt: 'ok?', approvers: ['ann', 5] }, ['nodes.n1.config.approvers[1]: must be a string']],
      ['delay', { ms: -1 }, ['nodes.n1.config.ms: must be at least 0']],
      ['delay', { ms: 2_592_000_001 }, ['nodes.n1.config.ms: must be at most 2592000000']],
      ['delay', { ms: 1, expression: 'x' }, ['nodes.n1.config: unknown property "expression" (allowed: ms)']],
    ];
    for (const [type, config, errors] of cases) {
      assert.deepEqual(errorsOf(withConfig(type, config)), errors, `${type} ${JSON.stringify(config)}`);
    }
  });

  it('checks edge shape', () => {
    const definition = apiExample() as unknown as { edges: unknown[] };
    definition.edges.push(
      { from: 'fetch' },
      { from: 'fetch', to: 'wait', when: '' },
      { from: 'a', to: 'b', label: 'x' },
      3,
    );
    assert.deepEqual(errorsOf(definition).slice(0, 4), [
      'edges[2]: "to" is required',
      'edges[3].when: must not be empty',
      'edges[4]: unknown property "label" (allowed: from, to, when)',
      'edges[5]: must be an object',
    ]);
  });
});

describe('validateDefinition: JSONata', () => {
  it('refuses a function expression that does not compile, saying where', () => {
    assert.deepEqual(errorsOf(withConfig('function', { expression: '$sum(nodes.a.items' })), [
      'nodes.n1.config.expression: not valid JSONata: Expected ")" before end of expression (at position 18)',
    ]);
  });

  it('refuses an edge condition that does not compile', () => {
    const definition = apiExample();
    definition.edges[1]!.when = 'nodes.shape.title = ';
    assert.deepEqual(errorsOf(definition), [
      'edges[1].when: not valid JSONata: Unexpected end of expression (at position 20)',
    ]);
  });
});

describe('validateDefinition: regexes the linear-time engine refuses', () => {
  const refuses = (literal: string, position: number, reason: string) =>
    `not supported: the linear-time regex engine refuses ${literal} (at position ${position}): ${reason}; ` +
    'it has no backreferences or lookarounds';

  it('refuses a function expression with a backreference, naming the node and the regex', () => {
    assert.deepEqual(errorsOf(withConfig('function', { expression: '$match(input.s, /(a)\\1/)' })), [
      `nodes.n1.config.expression: ${refuses('/(a)\\1/', 23, 'invalid escape sequence: `\\1`')}`,
    ]);
  });

  it('refuses an edge condition with a lookahead nested in function calls', () => {
    const definition = apiExample();
    definition.edges[1]!.when =
      '$count($filter(nodes.fetch.body.tags, function($t) { $contains($t, /^x(?=y)/i) })) > 0';
    assert.deepEqual(errorsOf(definition), [
      `edges[1].when: ${refuses('/^x(?=y)/i', 77, 'invalid or unsupported Perl syntax: `(?=`')}`,
    ]);
  });

  it('refuses an agent prompt placeholder with a lookbehind, quoting the placeholder', () => {
    assert.deepEqual(
      errorsOf(withConfig('agent', { model: 'm', prompt: 'Hi {{ $replace(input.name, /(?<!a)b/, "") }}!' })),
      [
        'nodes.n1.config.prompt: "{{ $replace(input.name, /(?<!a)b/, "") }}" is ' +
          refuses('/(?<!a)b/', 30, 'invalid named capture: `(?<!a)b`'),
      ],
    );
  });

  it('names the first refused regex of an expression and counts the others', () => {
    assert.deepEqual(errorsOf(withConfig('function', { expression: '[$match(a, /(?=b)/), $match(c, /(d)\\1/)]' })), [
      `nodes.n1.config.expression: ${refuses('/(?=b)/', 18, 'invalid or unsupported Perl syntax: `(?=`')} (and 1 more such regex)`,
    ]);
  });

  it('refuses regex literals past the budget of the definition, without compiling them', () => {
    const definition = withConfig('function', { expression: '$match(input.s, /(?:x{0,1000}){5}y/)' });
    assert.deepEqual(errorsOf(definition), [
      `nodes.n1.config.expression: not supported: the definition's regex literals would be larger than ` +
        `${MAX_REGEX_ATOMS} atoms in all (up to 5026 here; each character is one, a counted repeat such as {100} ` +
        'makes as many copies)',
    ]);
  });

  it('shares the budget among all the expressions of a definition, in the order they are checked', () => {
    const definition = apiExample();
    definition.nodes.shape!.config = { expression: '$match(input.s, /\\w{1,1000}\\d{1,1000}\\s{1,1000}/)' };
    definition.edges[1]!.when = '$contains(nodes.shape.title, /^.{1,1000}.{1,1000}$/)';
    assert.deepEqual(errorsOf(definition), [
      `edges[1].when: not supported: the definition's regex literals would be larger than ${MAX_REGEX_ATOMS} atoms ` +
        'in all (up to 2004 here; each character is one, a counted repeat such as {100} makes as many copies)',
    ]);
    definition.edges[1]!.when = '$contains(nodes.shape.title, /^.{1,1000}$/)';
    assert.equal(validateDefinition(definition).ok, true);
  });

  it('checks a regex within the budget whatever its repeat counts say', () => {
    assert.deepEqual(errorsOf(withConfig('function', { expression: '$match(input.s, /\\w{1,2000}/)' })), [
      'nodes.n1.config.expression: not supported: the linear-time regex engine refuses /\\w{1,2000}/ (at position 28): ' +
        'invalid repeat count: `{1,2000}`; it has no backreferences or lookarounds',
    ]);
  });

  it('accepts regexes the engine compiles, and strings that only look like regexes', () => {
    const definition = apiExample();
    definition.nodes.shape!.config = { expression: '$match(input.s, /^(\\w+)@(\\w+)$/i).groups' };
    definition.edges[1]!.when = '$contains(nodes.shape[0], "(a)\\\\1")';
    const result = validateDefinition(definition);
    assert.equal(result.ok, true, result.ok ? '' : result.errors.join('\n'));
  });
});

describe('validateDefinition: reporting', () => {
  it('reports every problem at once, shape errors before meaning and graph errors', () => {
    const errors = errorsOf({
      nodes: {
        a: { type: 'teleport', config: {} },
        b: { type: 'function', config: { expression: '(' } },
        c: { type: 'delay', config: { ms: -5 } },
      },
      edges: [
        { from: 'a', to: 'missing' },
        { from: 'b', to: 'c', when: ')' },
      ],
    });
    assert.deepEqual(
      errors.map((e) => e.split(':')[0]),
      ['nodes.a.type', 'nodes.c.config.ms', 'nodes.b.config.expression', 'edges[1].when', 'edges[0].to'],
    );
  });

  it('lists at most 100 errors and counts the rest', () => {
    const nodes = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`n${i}`, { type: 'delay', config: {} }]));
    const errors = errorsOf({ nodes, edges: [] });
    assert.equal(errors.length, 101);
    assert.equal(errors[100], '(and 50 more errors)');
  });

  it('never throws, whatever it is given', () => {
    const circular: Record<string, unknown> = { type: 'function', config: { expression: 'x' } };
    circular.self = circular;
    const deep = JSON.parse('['.repeat(5000) + ']'.repeat(5000)) as unknown;
    const inputs: unknown[] = [
      Symbol('x'),
      () => 1,
      new Date(),
      { nodes: { a: circular }, edges: [] },
      { nodes: { a: { type: 'http_request', config: { method: 'GET', url: 'http://[::1' } } }, edges: [] },
      { nodes: { a: { type: 'function', config: { expression: '('.repeat(20_000) } } }, edges: [] },
      { nodes: { a: { type: 'delay', config: { ms: 0 } } }, edges: [{ from: {}, to: [] }, null, deep] },
      { nodes: Object.create(null) as object, edges: [] },
      { nodes: new Map(), edges: new Set() },
    ];
    for (const input of inputs) assert.equal(validateDefinition(input).ok, false);
  });
});
