export { ExpressionEvaluator, type ExpressionLimits } from './expression-evaluator.js';
export { ExpressionError, ExpressionLimitError } from './expression-errors.js';
export { refusedRegexLiterals, type RefusedRegex } from './regex-literals.js';
