export { describeOpenResources, openResources, trackResource, type OpenResource } from './open-resources.js';
