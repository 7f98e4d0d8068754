import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Router } from 'express';
import { api } from '@reelboard/api';
import type { Bind } from './bind.js';
import { openApiDocument } from './openapi.js';

/** swagger-ui-dist's folder, found without loading its 1.5 MB bundle into the gateway. */
const SWAGGER_UI_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The few files of swagger-ui-dist the page needs; nothing else of the package is served. */
const SWAGGER_ASSETS = new Set(['swagger-ui.css', 'swagger-ui.css.map', 'swagger-ui-bundle.js', 'swagger-ui-bundle.js.map', 'favicon-32x32.png']);

// No inline script or style: the page runs under the gateway's strict content policy.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Reelboard API</title>
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;

// validatorUrl null: the page must work offline and send the document nowhere.
const INITIALIZER = `window.ui = SwaggerUIBundle({ url: 'openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null, tryItOutEnabled: false });\n`;

/** The OpenAPI document at `/openapi.json` and Swagger UI at `/docs`, served from node_modules (no CDN). */
export function docsRoutes({ bind, publicUrl }: { bind: Bind; publicUrl: string }): Router {
  const document = JSON.stringify(openApiDocument(publicUrl));
  const router = Router();
  bind(router, api.getOpenApiDocument).to(async ({ res }) => {
    res.type('json').set('cache-control', 'no-cache').send(document);
    return undefined;
  });
  bind(router, api.getDocsPage).to(async ({ res }) => {
    res.type('html').set('cache-control', 'no-cache').send(PAGE);
    return undefined;
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('text/javascript').set('cache-control', 'no-cache').send(INITIALIZER);
  });
  router.get('/docs/assets/:file', (req, res, next) => {
    if (!SWAGGER_ASSETS.has(req.params.file)) return next();
    res.sendFile(req.params.file, { root: SWAGGER_UI_DIR, maxAge: '1h' });
  });
  return router;
}
