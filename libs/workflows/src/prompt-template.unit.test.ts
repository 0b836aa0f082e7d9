import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import jsonata from 'jsonata';
import { parsePromptTemplate, promptTemplateProblem, renderPromptTemplate } from './prompt-template.js';

const evaluateOver = (data: unknown) => (expression: string) => jsonata(expression).evaluate(data) as Promise<unknown>;

describe('agent prompt templates', () => {
  it('splits text and placeholders', () => {
    assert.deepEqual(parsePromptTemplate('Summarise {{ nodes.fetch.body }} in {{input.words}} words.'), [
      { text: 'Summarise ' },
      { expression: 'nodes.fetch.body' },
      { text: ' in ' },
      { expression: 'input.words' },
      { text: ' words.' },
    ]);
    assert.deepEqual(parsePromptTemplate('no placeholders'), [{ text: 'no placeholders' }]);
  });

  it('renders strings as they are, other values as JSON, nothing as empty', async () => {
    const data = { input: { name: 'Ada', tags: ['x', 'y'] }, nodes: { n: { count: 2 } } };
    const text = await renderPromptTemplate(
      'Hi {{input.name}}: {{input.tags}} {{nodes.n}} [{{input.missing}}]',
      evaluateOver(data),
    );
    assert.equal(text, 'Hi Ada: ["x","y"] {"count":2} []');
  });

  it('names what is wrong: unclosed, empty, or not JSONata', () => {
    assert.match(promptTemplateProblem('Hello {{ input.name') ?? '', /never closed/);
    assert.match(promptTemplateProblem('Hello {{ }}') ?? '', /empty/);
    assert.match(promptTemplateProblem('Hello {{ input.( }}') ?? '', /not valid JSONata/);
    assert.equal(promptTemplateProblem('Hello {{ input.name }}'), null);
  });
});
