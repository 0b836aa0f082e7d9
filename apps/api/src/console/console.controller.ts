import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Controller, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { consoleAsset, consolePage, type RouteInput } from '#libs/api-contract';
import { Input, ServesRoute } from '#libs/auth';
import { ProblemError } from '#libs/platform';

/** Where `npm run build` puts the bundled console (dist/console, beside the compiled server). */
const CONSOLE_DIST = fileURLToPath(new URL('../../../../console/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  js: 'application/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
};

/**
 * The console's page allows scripts, workers and requests of this origin only: no inline script, nothing third-party,
 * so an injected string cannot run or leak the key held in the tab.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; worker-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

async function read(file: string): Promise<Buffer> {
  try {
    return await readFile(join(CONSOLE_DIST, file));
  } catch {
    throw new ProblemError('not_found', `no console file ${file} (npm run build bundles the console)`);
  }
}

/** Serves the web console from the API's address: the page at `/`, its bundles under `/console/`. */
@Controller()
export class ConsoleController {
  @ServesRoute(consolePage)
  async page(@Res() reply: FastifyReply): Promise<void> {
    const html = await read('index.html');
    await reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .send(html);
  }

  @ServesRoute(consoleAsset)
  async asset(
    @Res() reply: FastifyReply,
    @Input(consoleAsset) { params }: RouteInput<typeof consoleAsset>,
  ): Promise<void> {
    const body = await read(params.file);
    const extension = params.file.slice(params.file.lastIndexOf('.') + 1);
    // Bundles are named by their content hash; the stylesheet is not, so it is revalidated.
    const immutable = /-[A-Z0-9]{8}\.js(\.map)?$/.test(params.file);
    await reply
      .header('content-type', CONTENT_TYPES[extension] ?? 'application/octet-stream')
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .send(body);
  }
}
