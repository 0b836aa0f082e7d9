export { ContentStore, type SpilledJson } from './content-store.js';
