import { jsonataProblem, newRegexBudget, type RegexBudget } from './jsonata-check.js';

/** A piece of an agent prompt: literal text, or a JSONata expression over `{input, nodes}` between `{{` and `}}`. */
export type PromptPart = { readonly text: string } | { readonly expression: string };

export class PromptTemplateError extends Error {
  override readonly name = 'PromptTemplateError';
}

/**
 * Splits a prompt into text and `{{ expression }}` placeholders. An unclosed `{{` is an error rather than literal
 * text: a prompt that silently sends its own template to the model is the harder mistake to notice.
 */
export function parsePromptTemplate(template: string): PromptPart[] {
  const parts: PromptPart[] = [];
  let rest = template;
  for (;;) {
    const open = rest.indexOf('{{');
    if (open === -1) break;
    const close = rest.indexOf('}}', open + 2);
    if (close === -1)
      throw new PromptTemplateError(`"{{" at character ${template.length - rest.length + open} is never closed`);
    if (open > 0) parts.push({ text: rest.slice(0, open) });
    const expression = rest.slice(open + 2, close).trim();
    if (expression === '') throw new PromptTemplateError('an empty "{{ }}" placeholder');
    parts.push({ expression });
    rest = rest.slice(close + 2);
  }
  if (rest !== '') parts.push({ text: rest });
  return parts;
}

/**
 * What is wrong with a prompt template (unclosed or empty placeholders, JSONata that cannot run), or null. `regexBudget`
 * is the definition's, when the template is one of its parts.
 */
export function promptTemplateProblem(template: string, regexBudget: RegexBudget = newRegexBudget()): string | null {
  let parts: PromptPart[];
  try {
    parts = parsePromptTemplate(template);
  } catch (error) {
    return (error as Error).message;
  }
  for (const part of parts) {
    if (!('expression' in part)) continue;
    const problem = jsonataProblem(part.expression, regexBudget);
    if (problem) return `"{{ ${part.expression} }}" is ${problem}`;
  }
  return null;
}

/**
 * Fills the placeholders with `evaluate`'s results: strings as they are, anything else as JSON, and an undefined
 * result (a path that matched nothing) as an empty string.
 */
export async function renderPromptTemplate(
  template: string,
  evaluate: (expression: string) => Promise<unknown>,
): Promise<string> {
  let text = '';
  for (const part of parsePromptTemplate(template)) {
    if ('text' in part) {
      text += part.text;
      continue;
    }
    const value = await evaluate(part.expression);
    text += value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  }
  return text;
}
