import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Router } from 'express';
import express from 'express';
import { routeIs } from '../http/observe';

/** The files GraphiQL's page loads, served from the installed packages: no CDN is reached. */
const ASSETS: Record<string, { readonly pkg: string; readonly file: string; readonly type: string }> = {
  'react.js': { pkg: 'react', file: 'umd/react.production.min.js', type: 'text/javascript' },
  'react-dom.js': { pkg: 'react-dom', file: 'umd/react-dom.production.min.js', type: 'text/javascript' },
  'graphiql.js': { pkg: 'graphiql', file: 'graphiql.min.js', type: 'text/javascript' },
  'graphiql.css': { pkg: 'graphiql', file: 'graphiql.min.css', type: 'text/css' },
};

export const ASSET_PATH = '/graphql/assets';

const START = `
const url = new URL('/graphql', location.href).href;
const fetcher = GraphiQL.createFetcher({ url, subscriptionUrl: url.replace(/^http/, 'ws') });
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {
    fetcher,
    shouldPersistHeaders: true,
    defaultHeaders: JSON.stringify({ Authorization: 'Bearer <your token>' }, null, 2),
    defaultQuery: '# Your token goes in the Headers tab; then run\\n{\\n  me { account personalSpace }\\n}\\n',
  }),
);`;

/** The GraphiQL page: React and GraphiQL from this gateway's assets. */
export const GRAPHIQL_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rosetta GraphiQL</title>
<link rel="stylesheet" href="${ASSET_PATH}/graphiql.css">
<style>body { margin: 0; } #graphiql { height: 100vh; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="${ASSET_PATH}/react.js"></script>
<script src="${ASSET_PATH}/react-dom.js"></script>
<script src="${ASSET_PATH}/graphiql.js"></script>
<script src="${ASSET_PATH}/start.js"></script>
</body>
</html>
`;

/** Serves the page's assets, each read once on first use and kept (they never change while running). */
export function graphiqlAssets(): Router {
  const router = express.Router();
  const loaded = new Map<string, Buffer>([['start.js', Buffer.from(START)]]);
  router.get('/:file', (req, res, next) => {
    routeIs(req, `${ASSET_PATH}/:file`);
    const name = req.params.file;
    const asset = ASSETS[name];
    if (asset === undefined && name !== 'start.js') {
      next();
      return;
    }
    let body = loaded.get(name);
    if (body === undefined && asset !== undefined) {
      body = readFileSync(join(dirname(require.resolve(`${asset.pkg}/package.json`)), asset.file));
      loaded.set(name, body);
    }
    res
      .type(asset?.type ?? 'text/javascript')
      .set('cache-control', 'public, max-age=86400')
      .send(body);
  });
  return router;
}
