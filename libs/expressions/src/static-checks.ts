/**
 * What a definition check needs of the expression library without evaluating anything: pure functions, safe to bundle
 * for a browser (the web console folds patches with libs/workflows, which checks regexes with these).
 */
export { expandedSizeBound, linearRegexRefusal } from './linear-regex.js';
export { regexLiterals, type RegexLiteral } from './regex-literals.js';
