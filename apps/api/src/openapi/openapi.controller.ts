import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Controller, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  apiReference,
  apiReferenceAsset,
  openApi,
  openApiDocument,
  type OpenApiDocument,
  type RouteInput,
} from '#libs/api-contract';
import { Input, ServesRoute } from '#libs/auth';

const swaggerUi = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const CONTENT_TYPES = { js: 'application/javascript; charset=utf-8', css: 'text/css; charset=utf-8' } as const;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Orchestrator API</title>
<link rel="stylesheet" href="/v1/docs/swagger-ui.css">
</head>
<body>
<div id="reference"></div>
<script src="/v1/docs/swagger-ui-bundle.js"></script>
<script>
SwaggerUIBundle({ url: '/v1/openapi.json', dom_id: '#reference', deepLinking: true, persistAuthorization: false });
</script>
</body>
</html>
`;

/** The OpenAPI document of this API (built once from the route schemas) and a browsable reference of it. */
@Controller()
export class OpenApiController {
  private document: OpenApiDocument | undefined;

  @ServesRoute(openApi)
  openApi(): OpenApiDocument {
    this.document ??= openApiDocument();
    return this.document;
  }

  @ServesRoute(apiReference)
  async reference(@Res() reply: FastifyReply): Promise<void> {
    await reply.header('content-type', 'text/html; charset=utf-8').send(PAGE);
  }

  @ServesRoute(apiReferenceAsset)
  async asset(
    @Res() reply: FastifyReply,
    @Input(apiReferenceAsset) { params }: RouteInput<typeof apiReferenceAsset>,
  ): Promise<void> {
    const extension = params.asset.endsWith('.css') ? 'css' : 'js';
    await reply
      .header('content-type', CONTENT_TYPES[extension])
      .header('cache-control', 'public, max-age=86400')
      .send(await readFile(join(swaggerUi, params.asset)));
  }
}
