import { z } from 'zod';
import {
  DELIVERY_STATES,
  JOB_KINDS,
  JOB_STATES,
  MAX_SCHEDULE_KEEP,
  MAX_SCHEDULE_SECONDS,
  MIN_SCHEDULE_SECONDS,
  RESTORE_PHASES,
  WEBHOOK_FORMATS,
  WEBHOOK_OPS,
} from '@rosetta/core';

/**
 * The /v1 wire shapes. The same schemas validate requests and generate the OpenAPI document
 * (`openapi.ts`), so the document cannot drift from what the routes accept.
 */

const timestamp = z.string().meta({
  description: 'RFC 3339 date-time with an offset, microsecond precision',
  example: '2024-11-05T10:20:30.123456Z',
});

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'A domain error code such as KEY_NOT_FOUND or REVISION_MISMATCH' }),
      message: z.string(),
    }),
  })
  .meta({ id: 'Error' });

export const RecordMetaSchema = z
  .object({
    key: z.string(),
    contentType: z.string(),
    size: z.number().int().meta({ description: 'Value length in bytes' }),
    revision: z.number().int().meta({ description: 'Revision of the last write (also the ETag)' }),
    createdRevision: z.number().int().meta({ description: 'Revision of the write that created the key' }),
    created: timestamp,
    updated: timestamp,
  })
  .meta({ id: 'RecordMeta' });

export const RecordSchema = RecordMetaSchema.extend({
  value: z.string().optional().meta({ description: 'The value: UTF-8 text or Base64, as `encoding` says' }),
  encoding: z.enum(['utf8', 'base64']).optional(),
}).meta({ id: 'Record' });

export const CollectionSchema = z
  .object({
    space: z.string(),
    name: z.string(),
    versioned: z.boolean(),
    maxValueBytes: z.number().int(),
    tags: z.record(z.string(), z.string()),
    revision: z.number().int(),
    rootVersion: z.string().meta({ description: 'UUID of the root version node' }),
    created: timestamp,
    updated: timestamp,
  })
  .meta({ id: 'Collection' });

export const SpaceParamsSchema = z.object({ space: z.string().meta({ description: 'Space name' }) });
export const CollectionParamsSchema = SpaceParamsSchema.extend({
  collection: z.string().meta({ description: 'Collection name' }),
});
export const RecordParamsSchema = CollectionParamsSchema.extend({
  key: z.string().meta({ description: 'The record key: the rest of the path, `/` included' }),
});

const tags = z.record(z.string(), z.string());

export const CreateCollectionBodySchema = z
  .object({
    name: z.string(),
    maxValueBytes: z.number().int().positive().optional(),
    tags: tags.optional(),
    versioned: z
      .boolean()
      .optional()
      .meta({ description: 'Keep a DAG of versions: commit, branch, read at a version, diff (default false)' }),
  })
  .strict()
  .meta({ id: 'CreateCollection' });

export const UpdateCollectionBodySchema = z
  .object({
    maxValueBytes: z.number().int().positive().optional(),
    tags: tags.optional().meta({ description: 'Merged into the tags; an empty value removes a tag' }),
    replaceTags: z.boolean().optional().meta({ description: 'Replace all tags instead of merging' }),
  })
  .strict()
  .meta({ id: 'UpdateCollection' });

export const PageQuerySchema = z
  .object({
    limit: z.string().regex(/^\d+$/).optional().meta({ description: 'Page size, 1–1000 (default 100)' }),
    cursor: z.string().optional(),
  })
  .strict();

export const CollectionListSchema = z
  .object({ collections: z.array(CollectionSchema), cursor: z.string().nullable() })
  .meta({ id: 'CollectionList' });

const boolean = z.enum(['true', 'false', '1', '0']);

const version = z.string().optional().meta({
  description:
    'A version’s UUID, for a versioned collection: read and write as of that version (default: the leaf of the master branch)',
});

/** The query of routes that address records at a version. */
export const VersionQuerySchema = z.object({ version }).strict();

const filterFields = {
  version,
  prefix: z.string().optional().meta({ description: 'Only keys that start with this' }),
  start: z.string().optional().meta({ description: 'Inclusive lower key bound' }),
  end: z.string().optional().meta({ description: 'Inclusive upper key bound' }),
  pattern: z.string().optional().meta({
    description: 'Glob over whole keys: `*` any run, `?` one character, `\\` escapes; `%` and `_` are literal',
  }),
  createdAfter: timestamp.optional().meta({ description: 'created ≥ this' }),
  createdBefore: timestamp.optional().meta({ description: 'created < this' }),
  updatedAfter: timestamp.optional().meta({ description: 'updated ≥ this' }),
  updatedBefore: timestamp.optional().meta({ description: 'updated < this' }),
};

export const FilterQuerySchema = z.object(filterFields).strict();

export const ListQuerySchema = z
  .object({
    ...filterFields,
    limit: z
      .string()
      .regex(/^\d+$/)
      .optional()
      .meta({ description: 'Most records to return (default 1000; no maximum: the list streams)' }),
    cursor: z.string().optional().meta({ description: 'From the previous page' }),
    keysOnly: boolean.optional().meta({ description: 'Leave values out' }),
    reverse: boolean.optional(),
    order: z.enum(['key', 'created']).optional().meta({ description: 'By key bytes (default) or by first creation' }),
    format: z.enum(['json', 'ndjson']).optional().meta({ description: 'Or send Accept: application/x-ndjson' }),
  })
  .strict();

export const RecordListSchema = z
  .object({
    records: z.array(RecordSchema),
    cursor: z.string().nullable().meta({ description: 'Where the next page starts; null on the last page' }),
  })
  .meta({ id: 'RecordList' });

export const CountSchema = z.object({ count: z.number().int() }).meta({ id: 'Count' });

export const BatchEntrySchema = z
  .object({
    key: z.string(),
    value: z.unknown().meta({ description: 'A string (utf8 or base64, per `encoding`) or any JSON value' }),
    encoding: z
      .enum(['utf8', 'base64', 'json'])
      .optional()
      .meta({ description: 'Default: utf8 for strings, json for any other JSON value' }),
    contentType: z.string().optional(),
    ifRevision: z.number().int().positive().optional().meta({ description: 'Write only at this revision' }),
    ifAbsent: z.literal(true).optional().meta({ description: 'Write only if the key does not exist' }),
    ifPresent: z.literal(true).optional().meta({ description: 'Write only if the key exists' }),
  })
  .strict()
  .meta({ id: 'BatchEntry' });

export const BatchBodySchema = z
  .object({ records: z.array(BatchEntrySchema).meta({ description: 'Written in one transaction, all or nothing' }) })
  .strict()
  .meta({ id: 'Batch' });

export const BatchResultSchema = z
  .object({ records: z.array(RecordMetaSchema), created: z.number().int() })
  .meta({ id: 'BatchResult' });

export const BatchGetBodySchema = z
  .object({ keys: z.array(z.string()), keysOnly: z.boolean().optional() })
  .strict()
  .meta({ id: 'BatchGet' });

export const BatchGetResultSchema = z
  .object({ records: z.array(RecordSchema.nullable()).meta({ description: 'One per key, null when absent' }) })
  .meta({ id: 'BatchGetResult' });

export const DeleteMatchingBodySchema = z
  .object({
    ...filterFields,
    limit: z
      .number()
      .int()
      .positive()
      .max(100_000)
      .optional()
      .meta({ description: 'Most records to delete (default 10000)' }),
  })
  .strict()
  .meta({ id: 'DeleteMatching' });

export const DeleteMatchingResultSchema = z
  .object({ deleted: z.number().int(), more: z.boolean().meta({ description: 'Matching records remain' }) })
  .meta({ id: 'DeleteMatchingResult' });

const node = z
  .object({
    uuid: z.string(),
    branch: z.string().meta({ description: 'Empty for master' }),
    note: z.string(),
    log: z.array(z.string()),
    committed: z.boolean().meta({ description: 'Committed versions refuse writes and may have children' }),
    parents: z.array(z.string()),
    children: z.array(z.string()),
    created: timestamp,
    updated: timestamp,
  })
  .meta({ id: 'Version' });

export const VersionSchema = node;

export const VersionListSchema = z.object({ root: z.string(), versions: z.array(node) }).meta({ id: 'VersionList' });

export const VersionParamsSchema = CollectionParamsSchema.extend({
  version: z.string().meta({
    description:
      'A version: its UUID, a unique prefix of it, `:<branch>` for a branch’s leaf, `:<branch>~N` for an ancestor',
  }),
});

export const CommitBodySchema = z
  .object({ note: z.string().optional(), log: z.array(z.string()).optional() })
  .strict()
  .meta({ id: 'Commit' });

export const ChildBodySchema = z
  .object({
    branch: z.string().optional().meta({ description: 'A new branch; default: the parent’s branch' }),
    note: z.string().optional(),
  })
  .strict()
  .meta({ id: 'NewVersion' });

export const VersionPageQuerySchema = z
  .object({
    limit: z.string().regex(/^\d+$/).optional().meta({ description: 'Page size, 1–10000 (default 1000)' }),
    cursor: z.string().optional().meta({ description: 'From the previous page' }),
  })
  .strict();

export const DiffQuerySchema = VersionPageQuerySchema.extend({
  from: z.string().meta({ description: 'The version to compare from' }),
  to: z.string().optional().meta({ description: 'The version to compare to (default: the master leaf)' }),
}).strict();

export const VersionChangesSchema = z
  .object({
    changes: z.array(z.object({ key: z.string(), record: RecordMetaSchema.nullable() })),
    cursor: z.string().nullable(),
  })
  .meta({ id: 'VersionChanges' });

export const VersionDiffSchema = z
  .object({
    diffs: z.array(z.object({ key: z.string(), from: RecordMetaSchema.nullable(), to: RecordMetaSchema.nullable() })),
    cursor: z.string().nullable(),
  })
  .meta({ id: 'VersionDiff' });

export const ChangesQuerySchema = z
  .object({
    since: z
      .string()
      .regex(/^\d{1,16}$/)
      .optional()
      .meta({
        description:
          'Resume after the event of this revision (0: from the oldest event kept). Unset: from now. Server-Sent Events also take Last-Event-ID.',
      }),
    wait: z
      .string()
      .regex(/^\d{1,7}(ms|s|m)?$/)
      .optional()
      .meta({
        description: 'Long-poll: wait this long for a first event (`500ms`, `30s`, `5m`; default 5m, at most 10m)',
      }),
    prefix: z
      .string()
      .optional()
      .meta({ description: 'Only events of keys with this prefix (and of the collection itself)' }),
  })
  .strict();

const ChangeEventSchema = z
  .object({
    revision: z.number().int(),
    op: z.enum(['put', 'delete', 'collection.created', 'collection.updated', 'collection.deleted']),
    key: z.string(),
    version: z.string(),
    contentType: z.string(),
    size: z.number().int(),
    at: z.string(),
    value: z.string().optional().meta({ description: 'Values up to 64 KiB travel with the event' }),
    encoding: z.enum(['utf8', 'base64']).optional(),
  })
  .meta({ id: 'ChangeEvent' });

export const ChangesSchema = z
  .object({
    events: z.array(ChangeEventSchema),
    revision: z.number().int().meta({ description: 'Pass as `since` to continue (also in X-Rosetta-Revision)' }),
  })
  .meta({ id: 'Changes' });

export const WebhookParamsSchema = CollectionParamsSchema.extend({
  id: z
    .string()
    .regex(/^\d{1,15}$/)
    .meta({ description: 'The webhook’s id' }),
});

export const CreateWebhookBodySchema = z
  .object({
    url: z.string().meta({ description: 'Where events are POSTed: an http or https URL' }),
    secret: z.string().meta({
      description: 'Signs every delivery (HMAC-SHA256): 16 to 256 characters; never returned',
    }),
    ops: z.array(z.enum(WEBHOOK_OPS)).optional().meta({ description: 'The event ops delivered (default: all)' }),
    keyPrefix: z
      .string()
      .optional()
      .meta({ description: 'Only events of keys with this prefix, and the collection’s own (default: every key)' }),
    format: z.enum(WEBHOOK_FORMATS).optional().meta({
      description:
        'The body of a delivery: `rosetta`, the change event as JSON (default); `dvid`, DVID’s mutation-log message (puts and deletes)',
    }),
  })
  .strict()
  .meta({ id: 'CreateWebhook' });

export const WebhookSchema = z
  .object({
    id: z.number().int(),
    url: z.string(),
    ops: z.array(z.enum(WEBHOOK_OPS)).meta({ description: 'The event ops delivered; empty: all' }),
    keyPrefix: z.string().meta({ description: 'Empty: every key' }),
    format: z.enum(WEBHOOK_FORMATS),
    created: timestamp,
  })
  .meta({ id: 'Webhook' });

export const WebhookListSchema = z.object({ webhooks: z.array(WebhookSchema) }).meta({ id: 'WebhookList' });

export const DeliveryQuerySchema = z
  .object({
    state: z
      .enum(DELIVERY_STATES)
      .optional()
      .meta({ description: 'Only deliveries in this state (`dead`: the dead-letter list); default: every state' }),
    limit: z
      .string()
      .regex(/^\d{1,9}$/)
      .optional()
      .meta({ description: 'Most deliveries, newest first: 1–1000 (default 100)' }),
  })
  .strict();

const DeliverySchema = z
  .object({
    eventId: z.string().meta({ description: 'The event’s id, the same on every attempt (header Rosetta-Event-Id)' }),
    revision: z.number().int(),
    op: z.string(),
    key: z.string().meta({ description: 'Empty for events of the collection itself' }),
    state: z.enum(DELIVERY_STATES).meta({
      description: '`retrying` (an attempt failed, another is due), `delivered`, or `dead` (every attempt failed)',
    }),
    attempts: z.number().int(),
    lastStatus: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'The receiver’s HTTP status at the last attempt; null when it gave none' }),
    lastError: z.string().nullable().meta({ description: 'Why the last attempt failed; null when it did not' }),
    created: timestamp,
    updated: timestamp,
  })
  .meta({ id: 'Delivery' });

export const DeliveryListSchema = z.object({ deliveries: z.array(DeliverySchema) }).meta({ id: 'DeliveryList' });

export const StartDeleteJobBodySchema = z
  .object(filterFields)
  .strict()
  .meta({ id: 'StartDeleteJob', description: 'The records to delete: the filter fields of delete-matching' });

const jobId = z
  .string()
  .regex(/^\d{1,15}$/)
  .meta({ description: 'A job’s id' });

export const JobParamsSchema = SpaceParamsSchema.extend({ id: jobId });

export const JobQuerySchema = z
  .object({
    collection: z.string().optional().meta({ description: 'Only this collection’s jobs' }),
    state: z.enum(JOB_STATES).optional().meta({ description: 'Only jobs in this state; default: every state' }),
    limit: z
      .string()
      .regex(/^[1-9]\d{0,8}$/)
      .optional()
      .meta({ description: 'Most jobs, newest first: 1–1000 (default 100)' }),
    before: jobId.optional().meta({ description: 'Only jobs older than this one: the `next` of the previous page' }),
  })
  .strict();

export const AdminJobQuerySchema = JobQuerySchema.omit({ collection: true });

export const JobSchema = z
  .object({
    id: z.number().int(),
    kind: z
      .enum(JOB_KINDS)
      .meta({ description: '`delete`: a bulk delete; `snapshot`: taking a snapshot; `restore`: restoring one' }),
    state: z.enum(JOB_STATES).meta({
      description:
        '`queued` until its first step, `running` until done; then `succeeded`, `failed` (see `error`) or `cancelled`',
    }),
    space: z.string(),
    collection: z.string(),
    version: z
      .string()
      .nullable()
      .meta({ description: 'The version (UUID) it works at; null when none was named (the collection’s default)' }),
    filter: z
      .object(filterFields)
      .omit({ version: true })
      .meta({ id: 'JobFilter', description: 'What it works on: the filter fields that were set' }),
    progress: z
      .object({
        done: z.number().int().meta({ description: 'Records done so far' }),
        total: z.number().int().meta({ description: 'What matched when the job was created: an estimate' }),
        fraction: z.number().meta({ description: 'done / total, from 0 to 1; 1 once the job succeeded' }),
        ratePerSecond: z.number().nullable().meta({ description: 'Records per second since it started; null before' }),
        etaSeconds: z
          .number()
          .nullable()
          .meta({ description: 'Seconds left at that rate; null while unknown and once finished' }),
      })
      .meta({ id: 'JobProgress' }),
    error: z
      .object({ code: z.string(), message: z.string() })
      .nullable()
      .meta({ description: 'Why a failed job failed (a domain error code); null otherwise' }),
    createdBy: z.string().meta({ description: 'The account that created it' }),
    created: timestamp,
    started: timestamp.nullable(),
    finished: timestamp.nullable(),
    updated: timestamp,
    snapshotId: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'The snapshot a snapshot job takes or a restore restores; null for other jobs' }),
    phase: z.enum(RESTORE_PHASES).nullable().meta({
      description:
        'A restore’s phase: `write`, `delete` (over an existing collection), then `verify`; null for other jobs',
    }),
  })
  .meta({ id: 'Job' });

export const JobListSchema = z
  .object({
    jobs: z.array(JobSchema).meta({ description: 'Newest first' }),
    next: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'Pass as `before` for the next page; null when this page was not full' }),
  })
  .meta({ id: 'JobList' });

export const JobLocationSchema = z.object({
  Location: z.string().meta({ description: 'Where to follow the job: `/v1/spaces/{space}/jobs/{id}`' }),
});

const numericId = (description: string) =>
  z
    .string()
    .regex(/^\d{1,15}$/)
    .meta({ description });

export const SnapshotParamsSchema = SpaceParamsSchema.extend({ id: numericId('A snapshot’s id') });

export const StartSnapshotBodySchema = z
  .object({ version })
  .strict()
  .meta({ id: 'StartSnapshot', description: 'Optional (the body may be empty): the version to copy' });

export const SnapshotQuerySchema = z
  .object({
    collection: z.string().optional().meta({ description: 'Only this collection’s snapshots' }),
    limit: z
      .string()
      .regex(/^[1-9]\d{0,8}$/)
      .optional()
      .meta({ description: 'Most snapshots, newest first: 1–1000 (default 100)' }),
    before: numericId('Only snapshots older than this one: the `next` of the previous page').optional(),
  })
  .strict();

export const SnapshotSchema = z
  .object({
    id: z.number().int(),
    space: z.string(),
    collection: z.string(),
    version: z
      .string()
      .nullable()
      .meta({ description: 'The version (UUID) a versioned collection’s snapshot copies; null otherwise' }),
    state: z.enum(['creating', 'ready', 'failed']).meta({
      description: '`creating` until its job succeeds, then `ready`; `failed` when its job failed or was cancelled',
    }),
    records: z.number().int(),
    bytes: z.number().int().meta({ description: 'Size of the stored object (gzipped NDJSON)' }),
    checksum: z.string().nullable().meta({
      description: 'SHA-256 (hex) of its record lines, uncompressed (docs/jobs.md#snapshots); null until ready',
    }),
    jobId: z.number().int().meta({ description: 'The job that takes it' }),
    scheduleId: z.number().int().nullable().meta({ description: 'The schedule that took it; null: taken on request' }),
    created: timestamp,
    finished: timestamp.nullable(),
  })
  .meta({ id: 'Snapshot' });

export const SnapshotListSchema = z
  .object({
    snapshots: z.array(SnapshotSchema).meta({ description: 'Newest first' }),
    next: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'Pass as `before` for the next page; null when this page was not full' }),
  })
  .meta({ id: 'SnapshotList' });

export const SnapshotStartedSchema = z
  .object({ snapshot: SnapshotSchema, job: JobSchema })
  .meta({ id: 'SnapshotStarted', description: 'The snapshot, `creating`, and the job taking it, `queued`' });

export const SnapshotLocationSchema = z.object({
  Location: z.string().meta({ description: 'The snapshot: `/v1/spaces/{space}/snapshots/{id}`' }),
});

export const SnapshotDownloadHeadersSchema = z.object({
  'Content-Disposition': z.string().meta({ description: '`attachment; filename="<collection>-<id>.ndjson.gz"`' }),
  'Content-Length': z.string().meta({ description: 'The object’s size: the snapshot’s `bytes`' }),
  'X-Checksum-SHA256': z.string().meta({
    description: 'The snapshot’s checksum: SHA-256 (hex) of the record lines (every line but the first), uncompressed',
  }),
});

export const RestoreSnapshotBodySchema = z
  .object({
    collection: z.string().meta({
      description: 'The collection to restore into: a new one (created now), or an existing one with `replace`',
    }),
    replace: z.boolean().optional().meta({
      description: 'Restore over an existing unversioned collection: its records become exactly the snapshot’s',
    }),
  })
  .strict()
  .meta({ id: 'RestoreSnapshot' });

export const RestoreStartedSchema = z
  .object({ job: JobSchema })
  .meta({ id: 'RestoreStarted', description: 'The restore job, `queued`' });

export const ScheduleParamsSchema = CollectionParamsSchema.extend({ id: numericId('A snapshot schedule’s id') });

export const CreateScheduleBodySchema = z
  .object({
    everySeconds: z
      .number()
      .int()
      .min(MIN_SCHEDULE_SECONDS)
      .max(MAX_SCHEDULE_SECONDS)
      .meta({
        description: `How often to take a snapshot, in seconds: ${MIN_SCHEDULE_SECONDS} to ${MAX_SCHEDULE_SECONDS} (366 days)`,
      }),
    keep: z
      .number()
      .int()
      .min(1)
      .max(MAX_SCHEDULE_KEEP)
      .meta({ description: `How many of its snapshots the schedule keeps, the newest: 1 to ${MAX_SCHEDULE_KEEP}` }),
  })
  .strict()
  .meta({ id: 'CreateSnapshotSchedule' });

export const SnapshotScheduleSchema = z
  .object({
    id: z.number().int(),
    everySeconds: z.number().int(),
    keep: z.number().int(),
    created: timestamp,
  })
  .meta({ id: 'SnapshotSchedule' });

export const SnapshotScheduleListSchema = z
  .object({ schedules: z.array(SnapshotScheduleSchema) })
  .meta({ id: 'SnapshotScheduleList' });
