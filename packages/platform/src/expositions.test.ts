import { mergeExpositions } from './expositions';

const scrape = (requests: number, bucket: number) => `# HELP target_info Target metadata
# TYPE target_info gauge
target_info{service_name="rosetta-gateway"} 1
# HELP http_requests_total Requests
# TYPE http_requests_total counter
http_requests_total{route="/v1",status="200"} ${requests}
http_requests_total{route="/v1",status="404"} 1

# HELP latency_seconds Latency
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.005"} ${bucket}
latency_seconds_bucket{le="+Inf"} ${requests}
latency_seconds_sum 0.25
latency_seconds_count ${requests}
# TYPE in_flight gauge
in_flight{} 2
`;

describe('mergeExpositions', () => {
  const merged = mergeExpositions('process', [
    { value: '0', text: scrape(10, 7) },
    { value: '1', text: scrape(20, 15) },
  ]);
  const lines = merged.split('\n');

  it('writes each family’s HELP and TYPE once, followed by every process’s samples', () => {
    expect(lines.filter((line) => line === '# TYPE http_requests_total counter')).toHaveLength(1);
    expect(lines.filter((line) => line === '# HELP latency_seconds Latency')).toHaveLength(1);
    const type = lines.indexOf('# TYPE latency_seconds histogram');
    expect(lines.slice(type + 1, type + 9)).toEqual([
      'latency_seconds_bucket{process="0",le="0.005"} 7',
      'latency_seconds_bucket{process="0",le="+Inf"} 10',
      'latency_seconds_sum{process="0"} 0.25',
      'latency_seconds_count{process="0"} 10',
      'latency_seconds_bucket{process="1",le="0.005"} 15',
      'latency_seconds_bucket{process="1",le="+Inf"} 20',
      'latency_seconds_sum{process="1"} 0.25',
      'latency_seconds_count{process="1"} 20',
    ]);
  });

  it('labels every sample with its process, also those with empty or no labels', () => {
    expect(lines).toContain('http_requests_total{process="1",route="/v1",status="200"} 20');
    expect(lines).toContain('in_flight{process="0"} 2');
    expect(lines).toContain('target_info{process="1",service_name="rosetta-gateway"} 1');
    const samples = lines.filter((line) => line !== '' && !line.startsWith('#'));
    expect(samples).toHaveLength(16);
    expect(samples.every((line) => /\{process="[01]"[,}]/.test(line))).toBe(true);
  });

  it('escapes the label value', () => {
    expect(mergeExpositions('p', [{ value: 'a"b\\c', text: 'x 1\n' }])).toBe('x{p="a\\"b\\\\c"} 1\n');
  });

  it('is empty for no parts', () => {
    expect(mergeExpositions('process', [])).toBe('');
  });
});
