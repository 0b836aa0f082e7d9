/**
 * The ids the document's examples use. The conformance check replaces them with ids of resources it created, so each
 * example is sent to a running API as written.
 */
export const EXAMPLE_IDS = {
  workflow: '0196f3a0-5b1e-7c2d-9e4f-0a1b2c3d4e5f',
  patch: '0196f3a0-6c2f-7d3e-8f50-1b2c3d4e5f60',
  run: '0196f3a0-7d30-7e4f-9061-2c3d4e5f6071',
  apiKey: '0196f3a0-8e41-7f50-8172-3d4e5f607182',
  workspace: '0196f3a0-9f52-7061-9283-4e5f60718293',
} as const;

export type ExampleResource = keyof typeof EXAMPLE_IDS;
