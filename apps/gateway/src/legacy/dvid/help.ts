/*
 * The help pages of the DVID dialect, written for Rosetta (DVID's own help text is not reused).
 * They describe what this gateway serves, which is a subset of DVID's API.
 */

/** `GET /api/help`: the routes above the data instances. */
export const GENERAL_HELP_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Rosetta: DVID-compatible API</title>
</head>
<body>
<h1>Rosetta: DVID-compatible API</h1>
<p>This server keeps versioned key-value data and answers the part of the DVID HTTP API that
DVID clients use for the <code>keyvalue</code> data type. Every path starts with <code>/api</code>.
A <code>&lt;uuid&gt;</code> may be any unique prefix of a version's UUID, or
<code>&lt;prefix&gt;:&lt;branch&gt;</code> for the newest version of a branch
(<code>master</code> is the default branch). Errors are answered with status 400 and a plain-text
message.</p>

<h2>Server</h2>
<dl>
<dt><code>GET /api/server/info</code></dt><dd>Facts about this server, as a JSON object of strings.</dd>
<dt><code>GET /api/server/types</code>, <code>GET /api/server/compiled-types</code></dt>
<dd>The data types served: only <code>keyvalue</code>.</dd>
<dt><code>GET /api/help</code></dt><dd>This page.</dd>
<dt><code>GET /api/help/keyvalue</code></dt><dd>The endpoints of a keyvalue data instance.</dd>
<dt><code>GET /api/heartbeat</code></dt><dd>Answers <code>OK</code> while the server is up.</dd>
<dt><code>GET /api/load</code></dt><dd>Request counters.</dd>
</dl>

<h2>Repositories</h2>
<dl>
<dt><code>POST /api/repos</code></dt>
<dd>Creates a repository with one unlocked root version. Optional JSON body:
<code>alias</code>, <code>description</code>, <code>root</code> (the root's UUID).
Answers <code>{"root": "&lt;uuid&gt;"}</code>.</dd>
<dt><code>GET /api/repos/info</code></dt><dd>Every repository, keyed by its root UUID.</dd>
<dt><code>HEAD /api/repo/&lt;uuid&gt;</code></dt><dd>200 when the version exists.</dd>
<dt><code>GET /api/repo/&lt;uuid&gt;/info</code></dt>
<dd>The repository holding the version: its versions (the DAG) and its data instances.</dd>
<dt><code>POST /api/repo/&lt;uuid&gt;/info</code></dt><dd>Sets <code>alias</code> and/or <code>description</code>.</dd>
<dt><code>POST /api/repo/&lt;uuid&gt;/instance</code></dt>
<dd>Creates a data instance: <code>{"typename": "keyvalue", "dataname": "&lt;name&gt;"}</code>, and
optionally <code>"versioned": false</code> for data that every version shares.</dd>
<dt><code>GET /api/repo/&lt;uuid&gt;/branch-versions/&lt;branch&gt;</code></dt>
<dd>The versions of a branch, newest first, back to the root.</dd>
<dt><code>GET</code>, <code>POST /api/repo/&lt;uuid&gt;/log</code></dt>
<dd>Reads or appends to the repository's log: <code>{"log": ["...", ...]}</code>.</dd>
</dl>

<h2>Versions</h2>
<dl>
<dt><code>GET /api/node/&lt;uuid&gt;/commit</code>, <code>GET /api/node/&lt;uuid&gt;/status</code></dt>
<dd>Whether the version is locked: <code>{"Locked":true}</code> or <code>{"Locked":false}</code>.</dd>
<dt><code>POST /api/node/&lt;uuid&gt;/commit</code></dt>
<dd>Locks the version for good. JSON body (required, <code>{}</code> will do):
<code>note</code>, <code>log</code>.</dd>
<dt><code>POST /api/node/&lt;uuid&gt;/newversion</code></dt>
<dd>Makes a child of a locked version on the same branch. Optional body: <code>note</code>,
<code>uuid</code> (32 hex digits).</dd>
<dt><code>POST /api/node/&lt;uuid&gt;/branch</code></dt>
<dd>Makes a child of a locked version on a new branch: <code>{"branch": "&lt;name&gt;"}</code>, and
optionally <code>note</code> and <code>uuid</code>.</dd>
<dt><code>POST /api/node/&lt;uuid&gt;/tag</code></dt>
<dd>Makes a locked child named by a tag: <code>{"tag": "&lt;tag&gt;"}</code>.</dd>
<dt><code>GET</code>, <code>POST /api/node/&lt;uuid&gt;/note</code></dt>
<dd>Reads or sets the version's note: <code>{"note": "..."}</code>.</dd>
<dt><code>GET</code>, <code>POST /api/node/&lt;uuid&gt;/log</code></dt>
<dd>Reads or appends to the version's log: <code>{"log": ["...", ...]}</code>.</dd>
</dl>

<h2>Data</h2>
<p>A data instance answers below <code>/api/node/&lt;uuid&gt;/&lt;dataname&gt;/</code>; see
<a href="/api/help/keyvalue"><code>/api/help/keyvalue</code></a>.</p>
</body>
</html>
`;

/** `GET /api/help/keyvalue` and `GET /api/node/<uuid>/<data>/help`. */
export const KEYVALUE_HELP = `Rosetta: the DVID "keyvalue" data type
=======================================

A keyvalue instance maps keys (strings) to values (any bytes). In a versioned instance a write
or a delete applies to one version and is seen by its descendants, never by its ancestors or
by other branches; a locked (committed) version refuses writes. An unversioned instance is
shared by every version of the repository and takes writes through locked versions too.

Keys are sorted bytewise. A key travels as one segment of the path, percent-encoded; it cannot
contain "/" there, since the path is decoded before it is split. Ranges include both ends.

Every path below starts with /api/node/<uuid>/<dataname>.

GET  /help
    This text.

GET  /info
    The instance's type, name, versioning and settings, as JSON.

GET  /tags
POST /tags[?replace=true]
    Reads the instance's tags ({"Tags": {...}}), or merges a JSON object of strings into them
    (replace=true replaces them all).

GET  /keys
    Every key visible at this version, as a JSON array.

GET  /keyrange/<first>/<last>
    The keys from <first> to <last>, both included, as a JSON array.

GET  /keyrangevalues/<first>/<last>[?json=true | ?tar=true | ?protobuf=true][&check=true]
    The keys from <first> to <last> with their values, in key order:
      json=true      one JSON object {"key": value, ...} whose values are the stored bytes as
                     they are (so they should be JSON); an empty value is written {}.
                     check=true refuses values that are not JSON.
      tar=true       a tar archive with one file per key, named by the key
                     (jsontar=true is the same).
      otherwise      a protobuf KeyValues message (the default).

GET  /key/<key>
    The value (application/octet-stream), or 404 when the key has none at this version.
HEAD /key/<key>
    200 when the key has a value at this version, 404 otherwise; no body.
POST /key/<key>
    Stores the request body as the key's value at this version.
DELETE /key/<key>
    Deletes the key at this version; its ancestors keep their value.

GET  /keyvalues[?json=true | ?tar=true][&check=true]
    Reads several keys at once, answering in the order asked, keys without a value included
    (empty in protobuf, {} in JSON, an empty file in tar). The request body names the keys:
      json=true or tar=true    a JSON array of keys, ["a", "b"];
      otherwise                a protobuf Keys message (the default), answered with KeyValues.

POST /keyvalues
    Stores every key and value of a protobuf KeyValues message in the body, in order.

The protobuf messages (proto3):
    message KeyValue  { string key = 1; bytes value = 2; }
    message KeyValues { repeated KeyValue kvs = 1; }
    message Keys      { repeated string keys = 1; }
`;
