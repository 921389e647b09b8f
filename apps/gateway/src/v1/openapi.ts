import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { RouteTable } from './route';

/** The OpenAPI 3.1 document of /v1, generated from the schemas the routes validate with. */
export function openApiDocument(table: RouteTable): object {
  return new OpenApiGeneratorV31(table.registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Rosetta /v1',
      version: '1.0.0',
      description:
        'The native REST API of Rosetta: collections of records with revisions, conditional writes, transactional batches and streamed listings. Errors are {"error":{"code","message"}}.',
    },
    servers: [{ url: '/' }],
  });
}
