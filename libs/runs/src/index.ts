export * from './run-state.js';
export {
  initialState,
  startRun,
  applyInput,
  visibleOutput,
  type MachineContext,
  type ExpressionData,
  type Transition,
} from './run-machine.js';
export { retryDelayMs } from './retry-backoff.js';
