export * from './tracing.js';
export * from './propagation.js';
export * from './http-tracing.js';
