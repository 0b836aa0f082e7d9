export { ExpressionEvaluator, type ExpressionLimits } from './expression-evaluator.js';
export { ExpressionError, ExpressionLimitError } from './expression-errors.js';
export { expandedSizeBound, linearRegexRefusal, regexLiterals, type RegexLiteral } from './static-checks.js';
