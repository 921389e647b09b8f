/**
 * The `observability` compose profile, read without a Docker engine: the profile's services in
 * docker-compose.yml, the override that points the apps at it (docker-compose.observability.yml
 * and deploy/observability/otel.env), the collector, Prometheus and Grafana configuration, and
 * the dashboard, whose every query is checked against the metric catalog
 * (deploy/observability/metrics.json) that the apps' /metrics are held to.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { otlpMetricsEnabled, tracingEnabled } from '../../packages/platform/src/telemetry';
import { APPS, ROOT, loadCompose, service } from './support';

const PROFILE = 'observability';
const OBSERVABILITY_SERVICES = ['grafana', 'jaeger', 'otel-collector', 'prometheus'];
const DIR = 'deploy/observability';

function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** Parses a YAML file strictly: any error, warning or duplicate key fails the test. */
function loadYaml(path: string): unknown {
  const doc = parseDocument(read(path), { merge: true, uniqueKeys: true });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) throw new Error(`${path}: ${problems.map((p) => p.message).join('; ')}`);
  return doc.toJS();
}

/** `host:port` or `scheme://host:port/…` → the port, as a number. */
function portOf(address: string): number {
  const match = /:(\d+)(?:\/.*)?$/.exec(address);
  if (match === null) throw new Error(`no port in ${address}`);
  return Number(match[1]);
}

/** The duration of a Prometheus or Grafana setting (`15s`, `1m`) in milliseconds. */
function durationMs(text: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (match === null) throw new Error(`not a duration: ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

// ---------------------------------------------------------------------------------------------
// The compose files

const compose = loadCompose();

/** The parts of a compose service this file checks; docker-compose.yml is validated in full by compose.test.ts. */
const ServiceSchema = z.looseObject({
  profiles: z.array(z.string()).optional(),
  image: z.string().optional(),
  build: z.unknown().optional(),
  command: z.array(z.string()).optional(),
  environment: z.record(z.string(), z.string()).optional(),
  env_file: z.array(z.string()).optional(),
  volumes: z.array(z.string()).optional(),
  ports: z.array(z.string()).optional(),
  depends_on: z
    .record(z.string(), z.object({ condition: z.string(), required: z.boolean().optional() }).strict())
    .optional(),
});
type Service = z.output<typeof ServiceSchema>;

const services: Record<string, Service> = Object.fromEntries(
  Object.entries(compose.services).map(([name, s]) => [name, ServiceSchema.parse(s)]),
);

function observabilityService(name: string): Service {
  service(compose, name);
  return services[name] as Service;
}

interface BindMount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** The service's bind mounts of files from the repository (`./path:/target[:ro]`). */
function bindMounts(s: Service): BindMount[] {
  return (s.volumes ?? [])
    .filter((v) => v.startsWith('./'))
    .map((v) => {
      const [source = '', target = '', mode] = v.split(':');
      return { source: posix.normalize(source), target, readOnly: mode === 'ro' };
    });
}

/** The file in the repository a container path of the service comes from, through its bind mounts. */
function hostPath(s: Service, containerPath: string): string | undefined {
  for (const mount of bindMounts(s)) {
    if (containerPath === mount.target) return mount.source;
    if (containerPath.startsWith(`${mount.target}/`))
      return posix.join(mount.source, containerPath.slice(mount.target.length + 1));
  }
  return undefined;
}

/** The value of a `--flag=value` in the service's command. */
function flag(s: Service, name: string): string | undefined {
  return (s.command ?? []).find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

/** KEY=VALUE lines, as Compose reads an env_file (comments and blank lines skipped). */
function loadEnvFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of read(path).split('\n')) {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) continue;
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(text);
    if (match === null) throw new Error(`${path}: not KEY=VALUE: ${text}`);
    env[match[1] as string] = match[2] as string;
  }
  return env;
}

const OverrideSchema = z
  .object({
    services: z.record(
      z.string(),
      z
        .object({
          env_file: z.array(z.string()),
          depends_on: z.record(z.string(), z.object({ condition: z.string(), required: z.boolean() }).strict()),
        })
        .strict(),
    ),
  })
  .catchall(z.unknown());

// ---------------------------------------------------------------------------------------------
// Collector, Prometheus, Grafana

const PipelineSchema = z
  .object({
    receivers: z.array(z.string()).min(1),
    processors: z.array(z.string()).optional(),
    exporters: z.array(z.string()).min(1),
  })
  .strict();

const CollectorSchema = z.looseObject({
  receivers: z.record(z.string(), z.unknown()),
  processors: z.record(z.string(), z.unknown()).optional(),
  exporters: z.record(z.string(), z.unknown()),
  extensions: z.record(z.string(), z.unknown()).optional(),
  connectors: z.record(z.string(), z.unknown()).optional(),
  service: z.looseObject({
    extensions: z.array(z.string()).optional(),
    pipelines: z.record(z.string(), PipelineSchema),
  }),
});

const OtlpReceiverSchema = z.object({
  protocols: z.object({
    grpc: z.object({ endpoint: z.string() }),
    http: z.object({ endpoint: z.string() }),
  }),
});

const PrometheusExporterSchema = z.looseObject({
  endpoint: z.string(),
  add_metric_suffixes: z.boolean().optional(),
  resource_to_telemetry_conversion: z.object({ enabled: z.boolean() }).optional(),
});

const OtlpExporterSchema = z.looseObject({ endpoint: z.string(), tls: z.object({ insecure: z.boolean() }).optional() });

const TransformSchema = z.looseObject({
  metric_statements: z.array(z.object({ context: z.string(), statements: z.array(z.string()) })),
});

const collectorFile = `${DIR}/otel-collector.yaml`;
const collector = CollectorSchema.parse(loadYaml(collectorFile));

const PrometheusConfigSchema = z.looseObject({
  global: z.looseObject({ scrape_interval: z.string() }),
  scrape_configs: z.array(
    z.looseObject({
      job_name: z.string(),
      scrape_interval: z.string().optional(),
      honor_labels: z.boolean().optional(),
      static_configs: z.array(z.object({ targets: z.array(z.string()) })),
    }),
  ),
});

const prometheusFile = `${DIR}/prometheus.yml`;
const prometheusConfig = PrometheusConfigSchema.parse(loadYaml(prometheusFile));

const DatasourcesSchema = z.looseObject({
  apiVersion: z.literal(1),
  datasources: z.array(
    z.looseObject({ name: z.string(), uid: z.string(), type: z.string(), url: z.string(), access: z.literal('proxy') }),
  ),
});

const DashboardProvidersSchema = z.looseObject({
  apiVersion: z.literal(1),
  providers: z.array(
    z.looseObject({ name: z.string(), type: z.literal('file'), options: z.object({ path: z.string() }) }),
  ),
});

const PROVISIONING = '/etc/grafana/provisioning';

// ---------------------------------------------------------------------------------------------
// The metric catalog and the dashboard

const MetricSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/),
    type: z.enum(['counter', 'gauge', 'histogram']),
    labels: z.array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/)),
    help: z.string().min(1),
  })
  .strict();
type Metric = z.output<typeof MetricSchema>;

const catalog: Metric[] = z.array(MetricSchema).parse(JSON.parse(read(`${DIR}/metrics.json`)));
const byName = new Map(catalog.map((m) => [m.name, m]));

/** Labels every series has once it went through the collector (resource attributes, see otel-collector.yaml). */
const RESOURCE_LABELS = ['service_name'];

const DatasourceRefSchema = z.object({ type: z.string(), uid: z.string() });

const TargetSchema = z.looseObject({
  refId: z.string(),
  datasource: DatasourceRefSchema.optional(),
  expr: z.string().optional(),
  legendFormat: z.string().optional(),
});

const GridPosSchema = z.object({ x: z.number().int(), y: z.number().int(), w: z.number().int(), h: z.number().int() });

const PanelSchema = z.looseObject({
  id: z.number().int(),
  type: z.string(),
  title: z.string().min(1),
  gridPos: GridPosSchema,
  datasource: DatasourceRefSchema.optional(),
  targets: z.array(TargetSchema).optional(),
  panels: z.array(z.unknown()).optional(),
  collapsed: z.boolean().optional(),
});
type Panel = z.output<typeof PanelSchema>;

const DashboardSchema = z.looseObject({
  uid: z.string(),
  title: z.string(),
  schemaVersion: z.number().int(),
  panels: z.array(PanelSchema),
  templating: z.object({
    list: z.array(
      z.looseObject({
        name: z.string(),
        type: z.string(),
        datasource: DatasourceRefSchema.optional(),
        definition: z.string().optional(),
        query: z.union([z.string(), z.looseObject({ query: z.string() })]).optional(),
      }),
    ),
  }),
});

const dashboardFile = `${DIR}/grafana/dashboards/rosetta.json`;
const dashboard = DashboardSchema.parse(JSON.parse(read(dashboardFile)));

/** Every panel, those inside collapsed rows included. */
function allPanels(): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? []).map((inner) => PanelSchema.parse(inner))]);
}

/** Every PromQL expression of the dashboard's panels, with where it comes from. */
function promqlTargets(): { panel: string; expr: string }[] {
  return allPanels().flatMap((p) =>
    (p.targets ?? [])
      .filter((t) => (t.datasource ?? p.datasource)?.type === 'prometheus')
      .map((t) => ({ panel: p.title, expr: t.expr ?? '' })),
  );
}

// ---------------------------------------------------------------------------------------------
// A small PromQL reader: enough to find the metrics, labels and functions a query uses.

const FUNCTIONS = new Set(
  (
    'abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max ' +
    'clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv ' +
    'double_exponential_smoothing exp floor histogram_avg histogram_count histogram_fraction histogram_quantile ' +
    'histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta increase irate label_join ' +
    'label_replace last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute month pi ' +
    'predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort ' +
    'sort_by_label sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh ' +
    'time timestamp vector year'
  ).split(' '),
);
const AGGREGATIONS = new Set(
  'avg bottomk count count_values group limit_ratio limitk max min quantile stddev stdvar sum topk'.split(' '),
);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);
/** Functions that turn a counter (or a histogram's cumulative series) into a rate. */
const RATE_FUNCTIONS = new Set(['rate', 'irate', 'increase']);

interface Selector {
  /** The series name as written (`…_bucket` included). */
  readonly name: string;
  /** Label names of its matchers. */
  readonly labels: string[];
  /** The function whose argument it is directly (`rate`), or '' in plain parentheses or at the top. */
  readonly context: string;
}

interface Analysis {
  readonly selectors: Selector[];
  /** Labels of `by`, `without`, `on`, `ignoring`, `group_left` and `group_right` clauses. */
  readonly grouping: string[];
  readonly calls: string[];
}

/** String literals replaced by empty ones, so their contents are neither brackets nor names. */
function stripStrings(expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
}

/** Whether (), [] and {} pair up outside string literals. */
function bracketsBalance(expr: string): boolean {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  for (const c of stripStrings(expr)) {
    if (c === '(' || c === '[' || c === '{') stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) return false;
  }
  return stack.length === 0;
}

function analyse(expr: string): Analysis {
  const s = stripStrings(expr);
  const analysis: Analysis = { selectors: [], grouping: [], calls: [] };
  const parens: string[] = [];
  let pendingCall = '';
  let last: Selector | undefined;
  let i = 0;
  const closing = (open: string, close: string) => {
    const end = s.indexOf(close, i);
    if (end === -1) throw new Error(`unclosed ${open} in ${expr}`);
    return end;
  };
  while (i < s.length) {
    const rest = s.slice(i);
    const c = s[i] ?? '';
    let match: RegExpExecArray | null;
    if ((match = /^\s+/.exec(rest)) !== null) {
      i += match[0].length;
      continue;
    }
    const previous = last;
    last = undefined;
    if (c === '{') {
      const end = closing('{', '}');
      const labels = [...s.slice(i + 1, end).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map(
        (m) => m[1] as string,
      );
      if (previous === undefined) throw new Error(`a matcher without a metric name in ${expr}`);
      previous.labels.push(...labels);
      i = end + 1;
    } else if (c === '[') {
      i = closing('[', ']') + 1;
    } else if (c === '(') {
      parens.push(pendingCall);
      pendingCall = '';
      i += 1;
    } else if (c === ')') {
      parens.pop();
      i += 1;
    } else if ((match = /^\$\{?\w+\}?/.exec(rest)) !== null) {
      i += match[0].length; // a Grafana variable
    } else if ((match = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z]*/.exec(rest)) !== null) {
      i += match[0].length; // a number or a duration
    } else if ((match = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest)) !== null) {
      const word = match[0];
      i += word.length;
      const after = s.slice(i).trimStart();
      if (GROUPING.has(word)) {
        if (after.startsWith('(')) {
          i = s.indexOf('(', i);
          const end = closing('(', ')');
          analysis.grouping.push(
            ...s
              .slice(i + 1, end)
              .split(',')
              .map((l) => l.trim())
              .filter((l) => l !== ''),
          );
          i = end + 1;
        }
      } else if (KEYWORDS.has(word)) {
        // an operator or a modifier
      } else if (AGGREGATIONS.has(word) || after.startsWith('(')) {
        analysis.calls.push(word);
        pendingCall = word;
      } else {
        const selector: Selector = { name: word, labels: [], context: parens.at(-1) ?? '' };
        analysis.selectors.push(selector);
        last = selector;
      }
    } else {
      i += 1; // an operator or a comma
    }
  }
  return analysis;
}

/** The catalog metric a series name belongs to: histograms are queried through _bucket, _sum and _count. */
function baseMetric(series: string): { metric: Metric | undefined; suffix: string } {
  const exact = byName.get(series);
  if (exact !== undefined) return { metric: exact, suffix: '' };
  const match = /^(.*)_(bucket|sum|count)$/.exec(series);
  const metric = match === null ? undefined : byName.get(match[1] as string);
  return metric?.type === 'histogram' ? { metric, suffix: match?.[2] ?? '' } : { metric: undefined, suffix: '' };
}

/** The labels a series of the catalog can be selected or grouped by, after the collector. */
function labelsOf(series: string): string[] {
  const { metric, suffix } = baseMetric(series);
  return [...(metric?.labels ?? []), ...RESOURCE_LABELS, ...(suffix === 'bucket' ? ['le'] : [])];
}

// =============================================================================================

describe('the observability compose profile', () => {
  it(`has exactly the collector, Prometheus, Jaeger and Grafana, each only under profile "${PROFILE}"`, () => {
    const profiled = Object.entries(services).filter(([, s]) => s.profiles !== undefined);
    expect(profiled.map(([name]) => name).sort()).toEqual(OBSERVABILITY_SERVICES);
    for (const [name, s] of profiled) expect({ name, profiles: s.profiles }).toEqual({ name, profiles: [PROFILE] });
  });

  it('keeps the cluster independent of it: no default service depends on a profile service', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.profiles !== undefined) continue;
      const onProfile = Object.keys(s.depends_on ?? {}).filter((d) => OBSERVABILITY_SERVICES.includes(d));
      expect({ name, onProfile }).toEqual({ name, onProfile: [] });
    }
  });

  it('leaves the apps without OTEL_* settings in docker-compose.yml (the override adds them)', () => {
    for (const app of APPS) {
      const otel = Object.keys(services[app]?.environment ?? {}).filter((k) => k.startsWith('OTEL_'));
      expect({ app, otel }).toEqual({ app, otel: [] });
    }
  });

  describe.each(OBSERVABILITY_SERVICES)('%s', (name) => {
    const s = observabilityService(name);

    it('runs a pinned image (a version tag, never latest), not a build', () => {
      expect(s.build).toBeUndefined();
      const image = s.image ?? '';
      const match = /^([a-z0-9][a-z0-9._/-]*):([\w.-]+)(@sha256:[0-9a-f]{64})?$/.exec(image);
      expect(match).not.toBeNull();
      const tag = match?.[2] ?? '';
      expect(tag).not.toBe('latest');
      expect(tag).toMatch(/^v?\d+\.\d+\.\d+$/);
    });

    it('mounts configuration that exists in the repository, read-only', () => {
      for (const mount of bindMounts(s)) {
        expect({ mount, exists: existsSync(join(ROOT, mount.source)) }).toEqual({ mount, exists: true });
        expect(mount.readOnly).toBe(true);
        expect(mount.source.startsWith(`${DIR}/`)).toBe(true);
      }
      expect((s.volumes ?? []).filter((v) => !v.startsWith('./'))).toEqual([]);
    });

    it('publishes its ports on 127.0.0.1 only', () => {
      for (const port of s.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    });

    it('depends only on services of the profile, started', () => {
      for (const [dependency, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(OBSERVABILITY_SERVICES).toContain(dependency);
        expect(condition).toBe('service_started');
      }
    });
  });

  it('publishes the UIs on their usual ports: Grafana 3000, Prometheus 9090, Jaeger 16686', () => {
    const published = (name: string) => (observabilityService(name).ports ?? []).map((p) => p.split(':').slice(1));
    expect(published('grafana')).toContainEqual(['3000', '3000']);
    expect(published('prometheus')).toContainEqual(['9090', '9090']);
    expect(published('jaeger')).toContainEqual(['16686', '16686']);
  });
});

describe('docker-compose.observability.yml and otel.env', () => {
  const override = OverrideSchema.parse(loadYaml('docker-compose.observability.yml'));
  const envFile = `${DIR}/otel.env`;
  const otelEnv = loadEnvFile(envFile);
  const otlpReceiver = OtlpReceiverSchema.parse(collector.receivers.otlp);

  it('adds the OTEL_* env file to exactly gateway, api and worker, after the collector (optionally)', () => {
    expect(Object.keys(override.services).sort()).toEqual([...APPS].sort());
    for (const app of APPS) {
      const s = override.services[app];
      expect(s?.env_file).toEqual([envFile]);
      // Optional: with the profile off the apps still start (Compose drops a disabled optional dependency).
      expect(s?.depends_on).toEqual({ 'otel-collector': { condition: 'service_started', required: false } });
    }
    expect(existsSync(join(ROOT, envFile))).toBe(true);
    service(compose, 'otel-collector');
  });

  it('sets no variable the compose environment also sets (that one would silently win)', () => {
    for (const app of APPS) {
      const both = Object.keys(otelEnv).filter((k) => k in (services[app]?.environment ?? {}));
      expect({ app, both }).toEqual({ app, both: [] });
    }
  });

  it('turns on tracing and the OTLP metrics push, as the platform reads them', () => {
    expect(Object.keys(otelEnv).every((k) => k.startsWith('OTEL_'))).toBe(true);
    expect(tracingEnabled(otelEnv)).toBe(true);
    expect(otlpMetricsEnabled(otelEnv)).toBe(true);
    expect(tracingEnabled({})).toBe(false);
    expect(otlpMetricsEnabled({})).toBe(false);
  });

  it("points OTLP/HTTP at the collector's HTTP receiver", () => {
    const url = new URL(otelEnv.OTEL_EXPORTER_OTLP_ENDPOINT ?? '');
    expect(url.protocol).toBe('http:');
    expect(url.hostname).toBe('otel-collector');
    expect(Number(url.port)).toBe(portOf(otlpReceiver.protocols.http.endpoint));
    // The metrics exporter the platform uses speaks http/protobuf whatever this says; traces follow it.
    expect(otelEnv.OTEL_EXPORTER_OTLP_PROTOCOL).toBe('http/protobuf');
  });

  it('pushes metrics as often as Prometheus scrapes the collector', () => {
    expect(Number(otelEnv.OTEL_METRIC_EXPORT_INTERVAL)).toBe(durationMs(prometheusConfig.global.scrape_interval));
  });
});

describe('the OpenTelemetry Collector', () => {
  const s = observabilityService('otel-collector');
  const sections = {
    receivers: collector.receivers,
    processors: collector.processors ?? {},
    exporters: collector.exporters,
  };

  it('reads the configuration file the compose file mounts', () => {
    const config = flag(s, '--config');
    expect(config).toBeDefined();
    expect(hostPath(s, config ?? '')).toBe(collectorFile);
  });

  it('pipelines use only receivers, processors and exporters it defines', () => {
    expect(Object.keys(collector.service.pipelines).sort()).toEqual(['metrics', 'traces']);
    for (const [id, pipeline] of Object.entries(collector.service.pipelines)) {
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        const undefinedIds = (pipeline[kind] ?? []).filter((c) => !(c in sections[kind]));
        expect({ pipeline: id, kind, undefinedIds }).toEqual({ pipeline: id, kind, undefinedIds: [] });
      }
    }
    for (const id of collector.service.extensions ?? []) expect(Object.keys(collector.extensions ?? {})).toContain(id);
  });

  it('defines nothing no pipeline uses', () => {
    const pipelines = Object.values(collector.service.pipelines);
    for (const kind of ['receivers', 'processors', 'exporters'] as const) {
      for (const id of Object.keys(sections[kind]))
        expect(pipelines.some((p) => (p[kind] ?? []).includes(id))).toBe(true);
    }
  });

  it('limits memory first and batches in every pipeline', () => {
    for (const pipeline of Object.values(collector.service.pipelines)) {
      const processors = (pipeline.processors ?? []).map((p) => p.split('/')[0]);
      expect(processors[0]).toBe('memory_limiter');
      expect(processors).toContain('batch');
    }
  });

  it('receives OTLP over gRPC (4317) and HTTP (4318) on every interface, as the compose file publishes them', () => {
    const otlp = OtlpReceiverSchema.parse(collector.receivers.otlp);
    expect(otlp.protocols.grpc.endpoint).toBe('0.0.0.0:4317');
    expect(otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
    for (const pipeline of Object.values(collector.service.pipelines)) expect(pipeline.receivers).toEqual(['otlp']);
    const published = (s.ports ?? []).map((p) => Number(p.split(':')[2]));
    expect(published).toEqual(expect.arrayContaining([4317, 4318]));
  });

  it('sends traces to Jaeger over OTLP', () => {
    const exporters = collector.service.pipelines.traces?.exporters ?? [];
    expect(exporters).toHaveLength(1);
    const id = exporters[0] ?? '';
    expect(id.split('/')[0]).toBe('otlp');
    const otlp = OtlpExporterSchema.parse(collector.exporters[id]);
    expect(otlp.endpoint).toBe('jaeger:4317');
    expect(otlp.tls?.insecure).toBe(true);
    service(compose, 'jaeger');
  });

  it('serves metrics in Prometheus format on :8889, named as the apps name them, labelled service_name', () => {
    expect(collector.service.pipelines.metrics?.exporters).toEqual(['prometheus']);
    const prometheus = PrometheusExporterSchema.parse(collector.exporters.prometheus);
    expect(prometheus.endpoint).toBe('0.0.0.0:8889');
    expect(prometheus.resource_to_telemetry_conversion?.enabled).toBe(true);
    // The names of deploy/observability/metrics.json, as /metrics serves them: no unit suffixes added.
    expect(prometheus.add_metric_suffixes).toBe(false);
  });

  it('turns service.name into service_name and drops it, so no `job` label is made from it', () => {
    // rosetta_job_* carry a `job` label; the prometheus exporter would add a second one from
    // service.name (or service.namespace), and a series with two `job` labels is not exported.
    expect(catalog.some((m) => m.labels.includes('job'))).toBe(true);
    const processors = collector.service.pipelines.metrics?.processors ?? [];
    const transforms = processors.filter((p) => p.split('/')[0] === 'transform');
    expect(transforms).toHaveLength(1);
    const transform = TransformSchema.parse(collector.processors?.[transforms[0] ?? '']);
    const statements = transform.metric_statements.filter((g) => g.context === 'resource').flatMap((g) => g.statements);
    expect(statements).toContain('set(attributes["service_name"], attributes["service.name"])');
    const keep = statements.map((st) => /^keep_keys\(attributes, \[(.*)\]\)$/.exec(st)).find((m) => m !== null);
    expect(keep).toBeDefined();
    const kept = z.array(z.string()).parse(JSON.parse(`[${keep?.[1] ?? ''}]`));
    expect(kept).toContain('service_name');
    for (const attribute of ['service.name', 'service.namespace', 'service.instance.id'])
      expect(kept).not.toContain(attribute);
    expect(processors.indexOf(transforms[0] ?? '')).toBeLessThan(processors.indexOf('batch'));
  });
});

describe('Prometheus', () => {
  const s = observabilityService('prometheus');
  const exporterPort = portOf(PrometheusExporterSchema.parse(collector.exporters.prometheus).endpoint);

  it('reads the configuration file the compose file mounts', () => {
    const config = flag(s, '--config.file');
    expect(config).toBeDefined();
    expect(hostPath(s, config ?? '')).toBe(prometheusFile);
  });

  it("scrapes exactly the collector's Prometheus exporter every 15 s, and no app directly (no double counting)", () => {
    expect(prometheusConfig.scrape_configs).toHaveLength(1);
    const job = prometheusConfig.scrape_configs[0];
    const targets = (job?.static_configs ?? []).flatMap((c) => c.targets);
    expect(targets).toEqual([`otel-collector:${exporterPort}`]);
    expect(job?.scrape_interval ?? prometheusConfig.global.scrape_interval).toBe('15s');
  });

  it('keeps the labels as the collector exports them (the `job` label of rosetta_job_*)', () => {
    expect(prometheusConfig.scrape_configs[0]?.honor_labels).toBe(true);
  });
});

describe('Grafana', () => {
  const s = observabilityService('grafana');
  const env = s.environment ?? {};
  const datasources = DatasourcesSchema.parse(
    loadYaml(`${DIR}/grafana/provisioning/datasources/datasources.yaml`),
  ).datasources;
  const providers = DashboardProvidersSchema.parse(
    loadYaml(`${DIR}/grafana/provisioning/dashboards/dashboards.yaml`),
  ).providers;

  it('reads its provisioning from the repository', () => {
    expect(hostPath(s, PROVISIONING)).toBe(`${DIR}/grafana/provisioning`);
    expect(hostPath(s, `${PROVISIONING}/datasources/datasources.yaml`)).toBeDefined();
    expect(hostPath(s, `${PROVISIONING}/dashboards/dashboards.yaml`)).toBeDefined();
  });

  it('lets anyone who reaches it look, as a Viewer', () => {
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('true');
    expect(env.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
  });

  it('provisions Prometheus and Jaeger at their compose addresses, with unique uids', () => {
    expect(datasources.map((d) => d.type).sort()).toEqual(['jaeger', 'prometheus']);
    expect(new Set(datasources.map((d) => d.uid)).size).toBe(datasources.length);
    const prometheus = datasources.find((d) => d.type === 'prometheus');
    expect(prometheus?.url).toBe('http://prometheus:9090');
    const jaeger = datasources.find((d) => d.type === 'jaeger');
    expect(jaeger?.url).toBe('http://jaeger:16686');
  });

  it('loads dashboards from the mounted directory that holds rosetta.json', () => {
    expect(providers).toHaveLength(1);
    const dir = hostPath(s, providers[0]?.options.path ?? '');
    expect(dir).toBe(`${DIR}/grafana/dashboards`);
    expect(readdirSync(join(ROOT, dir ?? ''))).toContain('rosetta.json');
    expect(statSync(join(ROOT, dir ?? '')).isDirectory()).toBe(true);
  });

  it('opens on the Rosetta dashboard', () => {
    expect(hostPath(s, env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '')).toBe(dashboardFile);
  });

  it('refers the dashboard to provisioned data sources only, by uid and type', () => {
    const provisioned = datasources.map((d) => ({ type: d.type, uid: d.uid }));
    const refs = [
      ...allPanels().flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]),
      ...dashboard.templating.list.map((v) => v.datasource),
    ].filter((ref) => ref !== undefined);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(provisioned).toContainEqual(ref);
  });
});

describe('deploy/observability/metrics.json', () => {
  it('names each metric once, counters ending in _total and histograms without a series suffix', () => {
    expect(new Set(catalog.map((m) => m.name)).size).toBe(catalog.length);
    for (const m of catalog) {
      if (m.type === 'counter') expect(m.name).toMatch(/_total$/);
      else expect(m.name).not.toMatch(/_(total|bucket|sum|count)$/);
    }
  });

  it('uses no label the collector or Prometheus sets itself', () => {
    const reserved = ['le', 'instance', ...RESOURCE_LABELS];
    for (const m of catalog) {
      expect(new Set(m.labels).size).toBe(m.labels.length);
      for (const label of m.labels) {
        expect(reserved).not.toContain(label);
        expect(label.startsWith('__')).toBe(false);
        expect(label.startsWith('otel_scope_')).toBe(false);
      }
    }
  });
});

describe('the Rosetta dashboard', () => {
  const panels = allPanels();
  const targets = promqlTargets();

  it('is the provisioned rosetta-overview, schema 39 or later', () => {
    expect(dashboard.uid).toBe('rosetta-overview');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.title).toMatch(/Rosetta/);
  });

  it('gives every panel a unique id', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('gives every panel other than a row a data source, and every query a refId', () => {
    for (const p of panels) {
      if (p.type === 'row') continue;
      expect({ panel: p.title, datasource: p.datasource !== undefined }).toEqual({ panel: p.title, datasource: true });
      expect((p.targets ?? []).length).toBeGreaterThan(0);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
    }
  });

  it('lays panels out within 24 columns, without overlaps', () => {
    const placed = dashboard.panels;
    for (const { title, gridPos } of placed) {
      expect({ title, ok: gridPos.x >= 0 && gridPos.y >= 0 && gridPos.w >= 1 && gridPos.h >= 1 }).toEqual({
        title,
        ok: true,
      });
      expect({ title, right: Math.min(gridPos.x + gridPos.w, 24) }).toEqual({ title, right: gridPos.x + gridPos.w });
    }
    for (const [i, a] of placed.entries()) {
      for (const b of placed.slice(i + 1)) {
        const overlap =
          a.gridPos.x < b.gridPos.x + b.gridPos.w &&
          b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h &&
          b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect({ a: a.title, b: b.title, overlap }).toEqual({ a: a.title, b: b.title, overlap: false });
      }
    }
  });

  it('has PromQL whose brackets balance and whose functions exist', () => {
    expect(targets.length).toBeGreaterThan(0);
    for (const { panel, expr } of targets) {
      expect({ panel, expr, balanced: expr.trim() !== '' && bracketsBalance(expr) }).toEqual({
        panel,
        expr,
        balanced: true,
      });
      const unknown = analyse(expr).calls.filter((f) => !FUNCTIONS.has(f) && !AGGREGATIONS.has(f));
      expect({ panel, unknown }).toEqual({ panel, unknown: [] });
    }
  });

  it('queries only metrics of the catalog, by labels they have', () => {
    for (const { panel, expr } of targets) {
      const { selectors, grouping } = analyse(expr);
      expect(selectors.length).toBeGreaterThan(0);
      const unknown = selectors.map((s) => s.name).filter((name) => baseMetric(name).metric === undefined);
      expect({ panel, unknown }).toEqual({ panel, unknown: [] });
      for (const s of selectors) {
        const bad = s.labels.filter((l) => !labelsOf(s.name).includes(l));
        expect({ panel, series: s.name, bad }).toEqual({ panel, series: s.name, bad: [] });
      }
      const available = new Set(selectors.flatMap((s) => labelsOf(s.name)));
      const badGrouping = grouping.filter((l) => !available.has(l));
      expect({ panel, badGrouping }).toEqual({ panel, badGrouping: [] });
    }
  });

  it('rates counters and histogram series, and never a gauge', () => {
    for (const { panel, expr } of targets) {
      for (const s of analyse(expr).selectors) {
        const { metric, suffix } = baseMetric(s.name);
        // A histogram is queried through its series (a bare name matches nothing); those are counters.
        if (metric?.type === 'histogram')
          expect({ panel, series: s.name, suffix: suffix !== '' }).toEqual({ panel, series: s.name, suffix: true });
        const cumulative = metric?.type === 'counter' || metric?.type === 'histogram';
        expect({ panel, series: s.name, rated: RATE_FUNCTIONS.has(s.context) }).toEqual({
          panel,
          series: s.name,
          rated: cumulative,
        });
      }
    }
  });

  it('shows every metric of the catalog in at least one panel', () => {
    const used = new Set(
      targets.flatMap(({ expr }) => analyse(expr).selectors.map((s) => baseMetric(s.name).metric?.name ?? '')),
    );
    expect(catalog.map((m) => m.name).filter((name) => !used.has(name))).toEqual([]);
  });

  it('filters the per-dialect panels by a dialect variable read from the request histogram', () => {
    const variable = dashboard.templating.list.find((v) => v.name === 'dialect');
    expect(variable?.type).toBe('query');
    const query = typeof variable?.query === 'string' ? variable.query : variable?.query?.query;
    expect(query).toBe('label_values(rosetta_http_request_duration_seconds_count, dialect)');
    const [, series = '', label = ''] = /^label_values\((\w+),\s*(\w+)\)$/.exec(query ?? '') ?? [];
    expect(labelsOf(series)).toContain(label);
    for (const { panel, expr } of targets) {
      const http = analyse(expr).selectors.filter((s) => s.name.startsWith('rosetta_http_'));
      for (const s of http)
        expect({ panel, filtered: s.labels.includes('dialect') }).toEqual({ panel, filtered: true });
      if (http.length > 0) expect(expr).toContain('dialect=~"$dialect"');
    }
  });

  it('covers the golden signals per dialect: rate, 5xx errors, p50 and p99 latency, in-flight', () => {
    const exprs = targets.map((t) => t.expr);
    const has = (pattern: RegExp) => exprs.some((e) => pattern.test(e));
    expect(has(/sum by \(dialect\) \(rate\(rosetta_http_request_duration_seconds_count\{/)).toBe(true);
    expect(has(/status=~"5\.\."/)).toBe(true);
    expect(
      has(/histogram_quantile\(0\.5, sum by \(le, dialect\) \(rate\(rosetta_http_request_duration_seconds_bucket/),
    ).toBe(true);
    expect(
      has(/histogram_quantile\(0\.99, sum by \(le, dialect\) \(rate\(rosetta_http_request_duration_seconds_bucket/),
    ).toBe(true);
    expect(has(/rosetta_http_requests_in_flight\{/)).toBe(true);
  });
});

describe('the PromQL reader of this test', () => {
  it('finds metrics, matcher labels, grouping labels and the function around each selector', () => {
    const a = analyse(
      'histogram_quantile(0.99, sum by (le, dialect) (rate(x_bucket{dialect=~"$dialect",status=~"5.."}[$__rate_interval])))\n/ on (dialect) sum(y{a="}"}) by (b)',
    );
    expect(a.selectors).toEqual([
      { name: 'x_bucket', labels: ['dialect', 'status'], context: 'rate' },
      { name: 'y', labels: ['a'], context: 'sum' },
    ]);
    expect(a.grouping).toEqual(['le', 'dialect', 'dialect', 'b']);
    expect(a.calls).toEqual(['histogram_quantile', 'sum', 'rate', 'sum']);
  });

  it('tells balanced brackets from unbalanced ones, ignoring those in strings', () => {
    expect(bracketsBalance('sum(rate(x{a="(["}[5m]))')).toBe(true);
    expect(bracketsBalance('sum(rate(x[5m])')).toBe(false);
    expect(bracketsBalance('sum(x{a="b")}')).toBe(false);
  });
});
