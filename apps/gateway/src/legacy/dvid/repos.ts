import type { VersionNode } from '@rosetta/proto';
import { toHttpFailure } from '../../errors';
import {
  parseBranch,
  parseCommit,
  parseInstanceCreate,
  parseLog,
  parseNewVersion,
  parseNote,
  parseRepoCreate,
  parseRepoInfo,
} from './body';
import { DvidError } from './errors';
import type { DvidPath, ServerRoute } from './paths';
import { instanceCollection, logLine, PROPERTY_CHECKSUM, PROPERTY_COMPRESSION, repoInfo } from './render';
import { sendJson, sendOk, sendText, type DvidRequest } from './request';

type RepoPath = Extract<DvidPath, { kind: 'repo' }>;
type NodePath = Extract<DvidPath, { kind: 'node' }>;

/** The route exists, but not for this method: Go's mux answers as for no route. */
const noRoute = () => new DvidError(404, '404 page not found', { withPath: false });

/** A node spec (UUID prefix, `uuid:branch`, …) of the request's space, resolved. */
export async function resolveNode(
  request: DvidRequest,
  spec: string,
): Promise<{ node: VersionNode; root: string; kind: string }> {
  const { node, root, kind } = await request.context.api.versions.resolveVersion(
    { space: request.space, spec },
    request.call,
  );
  if (node === undefined) throw new Error('ResolveVersion answered without a node');
  return { node, root, kind };
}

/** `/api/repos` and `/api/repos/info`. */
export async function reposRoute(request: DvidRequest, route: ServerRoute, method: string): Promise<void> {
  const { context, res, call, space } = request;
  if (route === 'repos' && method === 'POST') {
    const body = parseRepoCreate(await request.body());
    const { dag } = await context.api.versions.createRepo(
      { space, alias: body.alias, description: body.description, root: body.root ?? '' },
      call,
    );
    return sendJson(res, `{"root": ${JSON.stringify(dag?.root ?? '')}}`);
  }
  if (route === 'repos-info' && (method === 'GET' || method === 'HEAD')) {
    const { repos } = await context.api.versions.listRepos({ space }, call);
    return sendJson(res, Object.fromEntries(repos.map((dag) => [dag.root, repoInfo(dag)])));
  }
  throw noRoute();
}

/** `/api/repo/<uuid>[/…]`. */
export async function repoRoute(request: DvidRequest, path: RepoPath, method: string): Promise<void> {
  const { context, res, call, space } = request;
  const { node, root, kind } = await resolveNode(request, path.uuid);
  if (kind !== 'repo') throw new DvidError(400, `${node.uuid} is a version of a collection, not of a repo`);
  const ref = { space, version: node.uuid };
  const read = method === 'GET' || method === 'HEAD';
  switch (path.action) {
    case 'root':
      if (!read) throw noRoute();
      return sendText(res, `Repo available with root UUID ${root}`);
    case 'info':
      if (read) {
        const { dag } = await context.api.versions.getDag(ref, call);
        if (dag === undefined) throw new Error('GetDag answered without a DAG');
        return sendJson(res, repoInfo(dag));
      }
      if (method !== 'POST') throw noRoute();
      await context.api.versions.updateRepo({ repo: ref, ...parseRepoInfo(await request.body()) }, call);
      return sendOk(res);
    case 'log':
      if (read) {
        const { dag } = await context.api.versions.getDag(ref, call);
        return sendJson(res, { log: dag?.log ?? [] });
      }
      if (method !== 'POST') throw noRoute();
      await context.api.versions.updateRepo(
        { repo: ref, log: parseLog(await request.body()).map((line) => logLine(line)) },
        call,
      );
      return sendOk(res);
    case 'branch-versions': {
      if (!read) throw noRoute();
      const { versions } = await context.api.versions.branchVersions({ dag: ref, branch: path.branch }, call);
      return sendJson(res, versions);
    }
    case 'instance':
      if (method !== 'POST') throw noRoute();
      return createInstance(request, node, root);
    default:
      throw noRoute();
  }
}

async function createInstance(request: DvidRequest, node: VersionNode, root: string): Promise<void> {
  const { context, res, call, space } = request;
  const body = parseInstanceCreate(await request.body());
  if (node.locked) throw new DvidError(400, `New data instance cannot be created on locked node ${node.uuid}`);
  try {
    await context.api.collections.createCollection(
      {
        collection: { space, collection: instanceCollection(body.dataName, root) },
        versioned: body.versioned,
        version: node.uuid,
        tags: { ...(body.tags ?? {}) },
        properties: { [PROPERTY_COMPRESSION]: body.compression, [PROPERTY_CHECKSUM]: body.checksum },
      },
      call,
    );
  } catch (error) {
    if (toHttpFailure(error).code === 'COLLECTION_EXISTS') {
      throw new DvidError(400, `Data named "${body.dataName}" already exists in repo (root ${root})`);
    }
    throw error;
  }
  await context.api.versions.updateRepo(
    {
      repo: { space, version: node.uuid },
      log: [logLine(`New data instance "${body.dataName}" of type "keyvalue" with config ${JSON.stringify(body)}`)],
    },
    call,
  );
  sendJson(res, `{"result": ${JSON.stringify(`Added ${body.dataName} [keyvalue] to node ${node.uuid}`)}}`);
}

/** `/api/node/<uuid>/<action>`. */
export async function nodeRoute(request: DvidRequest, path: NodePath, method: string): Promise<void> {
  const { context, res, call, space } = request;
  const { node } = await resolveNode(request, path.uuid);
  const ref = { space, version: node.uuid };
  const read = method === 'GET' || method === 'HEAD';
  // Node settings of a committed node are frozen (children are made from committed nodes only).
  const unlocked = () => {
    if (node.locked) throw new DvidError(400, `Cannot do ${method.toLowerCase()} on locked node ${node.uuid}`);
  };
  switch (path.action) {
    case 'commit':
    case 'status':
      if (read) return sendJson(res, `{"Locked":${node.locked}}`);
      if (method !== 'POST' || path.action === 'status') throw noRoute();
      unlocked();
      {
        const body = parseCommit(await request.body());
        const log = body.log.map((line) => logLine(line));
        await context.api.versions.commit({ node: ref, note: body.note, log }, call);
      }
      return sendJson(res, `{"committed": ${JSON.stringify(node.uuid)}}`);
    case 'newversion':
    case 'branch': {
      if (method !== 'POST') throw noRoute();
      const bytes = await request.body();
      const body = path.action === 'branch' ? parseBranch(bytes) : { ...parseNewVersion(bytes), branch: undefined };
      const { node: child } = await context.api.versions.newVersion(
        { parent: ref, branch: body.branch, note: body.note, uuid: body.uuid ?? '' },
        call,
      );
      return sendJson(res, `{"child": ${JSON.stringify(child?.uuid ?? '')}}`);
    }
    case 'note':
      if (read) return sendJson(res, { note: node.note });
      if (method !== 'POST') throw noRoute();
      unlocked();
      await context.api.versions.updateNode({ node: ref, note: parseNote(await request.body()) }, call);
      return sendOk(res);
    case 'log':
      if (read) return sendJson(res, { log: node.log });
      if (method !== 'POST') throw noRoute();
      unlocked();
      await context.api.versions.updateNode(
        { node: ref, log: parseLog(await request.body()).map((line) => logLine(line)) },
        call,
      );
      return sendOk(res);
    default:
      throw new DvidError(400, 'tags of versions are not supported: create a branch instead');
  }
}
