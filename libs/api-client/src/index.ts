export { createApiClient, type ApiClient, type ApiClientOptions, type paths } from './client.js';
export {
  followEventStream,
  requestEventStream,
  StreamLost,
  StreamRefused,
  type FollowOptions,
  type StreamEvent,
} from './event-stream.js';
export type { components, operations } from './generated/api-types.js';
