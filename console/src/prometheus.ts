/** One sample of Prometheus's text format: a metric name, its labels, a value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the text exposition format (comments and timestamps ignored). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? "").matchAll(LABEL)) {
      labels[label[1] as string] = (label[2] as string).replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
    }
    const value =
      match[3] === "+Inf"
        ? Number.POSITIVE_INFINITY
        : match[3] === "-Inf"
          ? Number.NEGATIVE_INFINITY
          : Number(match[3]);
    samples.push({ name: match[1] as string, labels, value });
  }
  return samples;
}

/** Sums the samples of `name` grouped by one label (or all together under ""). */
export function sumBy(
  samples: readonly Sample[],
  name: string,
  label?: string,
  where?: (s: Sample) => boolean,
): Map<string, number> {
  const sums = new Map<string, number>();
  for (const sample of samples) {
    if (sample.name !== name || (where && !where(sample))) continue;
    const group = label === undefined ? "" : (sample.labels[label] ?? "");
    sums.set(group, (sums.get(group) ?? 0) + sample.value);
  }
  return sums;
}

/**
 * The q-quantile of a histogram's observations between two scrapes, from the difference of
 * their cumulative buckets, interpolated linearly inside the bucket (as PromQL does).
 */
export function quantileBetween(before: Map<number, number>, after: Map<number, number>, q: number): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((bound) => (after.get(bound) ?? 0) - (before.get(bound) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if ((counts[i] as number) >= rank) {
      const upper = bounds[i] as number;
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      const below = i === 0 ? 0 : (counts[i - 1] as number);
      if (!Number.isFinite(upper)) return lower;
      const inBucket = (counts[i] as number) - below;
      return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
    }
  }
  return null;
}

/** Cumulative bucket counts of a histogram, summed over its series, optionally per operation. */
export function buckets(samples: readonly Sample[], name: string, where?: (s: Sample) => boolean): Map<number, number> {
  const result = new Map<number, number>();
  for (const sample of samples) {
    if (sample.name !== `${name}_bucket` || (where && !where(sample))) continue;
    const bound = sample.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(sample.labels.le);
    result.set(bound, (result.get(bound) ?? 0) + sample.value);
  }
  return result;
}
