interface Family {
  readonly meta: string[];
  readonly samples: string[];
}

const escapeLabelValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** A sample line (`name{labels} value`, or `name value`) with one more label, first. */
function withLabel(line: string, pair: string): string {
  const space = line.indexOf(' ');
  const brace = line.indexOf('{');
  if (brace !== -1 && (space === -1 || brace < space)) {
    const rest = line.slice(brace + 1);
    return `${line.slice(0, brace + 1)}${pair}${rest.startsWith('}') ? '' : ','}${rest}`;
  }
  return space === -1 ? line : `${line.slice(0, space)}{${pair}}${line.slice(space)}`;
}

/**
 * One Prometheus text exposition made of several processes' scrapes of the same metrics (the
 * gateway's processes, say): every sample gains the label `label="<its part's value>"`, and each
 * family's `# HELP` and `# TYPE` are written once, with the samples of every part under them.
 */
export function mergeExpositions(
  label: string,
  parts: ReadonlyArray<{ readonly value: string; readonly text: string }>,
): string {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let found = families.get(name);
    if (found === undefined) {
      found = { meta: [], samples: [] };
      families.set(name, found);
    }
    return found;
  };
  for (const { value, text } of parts) {
    const pair = `${label}="${escapeLabelValue(value)}"`;
    let current: Family | undefined;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('#')) {
        const [, kind, name] = line.split(' ', 3);
        if (name === undefined || (kind !== 'HELP' && kind !== 'TYPE' && kind !== 'UNIT')) continue;
        current = family(name);
        if (!current.meta.some((seen) => seen.startsWith(`# ${kind} `))) current.meta.push(line);
        continue;
      }
      const target = current ?? family(line.slice(0, line.search(/[{ ]/)));
      target.samples.push(withLabel(line, pair));
    }
  }
  let out = '';
  for (const { meta, samples } of families.values()) {
    for (const line of meta) out += `${line}\n`;
    for (const line of samples) out += `${line}\n`;
  }
  return out;
}
