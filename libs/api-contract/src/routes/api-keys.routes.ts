import { z } from 'zod';
import { idParam, timestamp, uuid } from '../common.js';
import { EXAMPLE_IDS } from '../example-ids.js';
import { defineRoute } from '../route.js';

/** Each key has one permission; each includes the ones before it. */
export const PERMISSIONS = ['read', 'write', 'admin'] as const;

const permission = z.enum(PERMISSIONS, { error: `must be one of ${PERMISSIONS.join(', ')}` });

export const apiKeySchema = z
  .object({
    id: uuid,
    permission,
    label: z.string().nullable(),
    prefix: z.string().meta({ description: 'The first characters of the key, to recognise it.' }),
    createdAt: timestamp,
    revokedAt: timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });

export const createApiKey = defineRoute({
  operationId: 'createApiKey',
  method: 'post',
  path: '/v1/api-keys',
  tag: 'api-keys',
  summary: 'Create an API key in the caller’s workspace (returned once)',
  access: 'admin',
  body: z.object({
    permission,
    label: z
      .string()
      .min(1, { error: 'must be a string of 1 to 100 characters' })
      .max(100, { error: 'must be a string of 1 to 100 characters' })
      .optional(),
  }),
  status: 201,
  response: {
    description: 'The key, shown this once; only its digest is stored.',
    schema: z.object({ id: uuid, key: z.string(), permission, label: z.string().nullable() }),
  },
  problems: [422],
  example: { body: { permission: 'read', label: 'dashboard' } },
});

export const listApiKeys = defineRoute({
  operationId: 'listApiKeys',
  method: 'get',
  path: '/v1/api-keys',
  tag: 'api-keys',
  summary: "The workspace's keys, revoked ones too (never a key itself)",
  access: 'admin',
  status: 200,
  response: { description: 'The keys.', schema: z.object({ keys: z.array(apiKeySchema) }) },
  example: {},
});

export const revokeApiKey = defineRoute({
  operationId: 'revokeApiKey',
  method: 'delete',
  path: '/v1/api-keys/{id}',
  tag: 'api-keys',
  summary: 'Revoke a key',
  description:
    'At once in this process, within the key cache’s lifetime (10 s) in the others. A key cannot revoke itself.',
  access: 'admin',
  params: z.object({ id: idParam('API key') }),
  status: 204,
  response: { description: 'Revoked.' },
  problems: [404, 409],
  example: { params: { id: EXAMPLE_IDS.apiKey } },
});

export const API_KEY_ROUTES = [createApiKey, listApiKeys, revokeApiKey] as const;
