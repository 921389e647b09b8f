/**
 * The layering rules of ARCHITECTURE.md, checked on every `npm test`:
 * no import cycles; core imports nothing of ours and no I/O; proto imports only its runtime;
 * apps never import each other (only the all-in-one composition root wires them together);
 * inside the api, SQL lives in db/, and db/ never reaches up into transport/.
 */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'core-is-pure',
      comment: 'packages/core holds domain rules only: no other workspace, no I/O libraries.',
      severity: 'error',
      from: { path: '^packages/core/' },
      to: {
        path: [
          '^packages/(?!core/)',
          '^apps/',
          'node_modules/(pg|ioredis|bullmq|express|@connectrpc|@electric-sql|pino)/',
        ],
      },
    },
    {
      name: 'proto-imports-only-its-runtime',
      severity: 'error',
      from: { path: '^packages/proto/' },
      to: { path: ['^packages/(?!proto/)', '^apps/'] },
    },
    {
      name: 'apps-do-not-import-apps',
      comment: 'gateway, api and worker talk through packages/proto; only apps/standalone composes them.',
      severity: 'error',
      from: { path: '^apps/(api|gateway|worker)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'gateway-and-worker-never-open-postgres',
      severity: 'error',
      from: { path: '^apps/(gateway|worker)/' },
      to: { path: 'node_modules/(pg|@electric-sql/pglite)/' },
    },
    {
      name: 'db-does-not-import-transport',
      severity: 'error',
      from: { path: '^apps/api/src/db/' },
      to: { path: '^apps/api/src/transport/' },
    },
    {
      name: 'services-do-not-import-adapters',
      comment: 'services depend on ports (services/ports.ts), not on db/, cache/ or transport/.',
      severity: 'error',
      from: { path: '^apps/api/src/services/' },
      to: { path: '^apps/api/src/(db|cache|transport)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['/dist/', '/gen/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['require', 'default'] },
  },
};
