export { ExpressionEvaluator, type ExpressionLimits } from './expression-evaluator.js';
export { ExpressionError, ExpressionLimitError } from './expression-errors.js';
export { expandedSizeBound, linearRegexRefusal } from './linear-regex.js';
export { regexLiterals, type RegexLiteral } from './regex-literals.js';
