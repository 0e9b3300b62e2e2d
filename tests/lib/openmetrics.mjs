// Reads a /metrics answer with Prometheus's own OpenMetrics parser (the Python client's
// `text_string_to_metric_families`; scripts install it): a malformed exposition throws.
// Returns {family name: {type, samples: [{name, labels, value}]}}.

import { execFileSync } from 'node:child_process';

const PARSE = `
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    out[family.name] = {"type": family.type, "samples": [
        {"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]}
print(json.dumps(out))
`;

export function parseOpenMetrics(text) {
  return JSON.parse(execFileSync('python3', ['-c', PARSE], { input: text, encoding: 'utf8', timeout: 20_000 }));
}

/** The value of the sample `name` whose labels include `labels` (0 when absent). */
export function sampleValue(families, name, labels = {}) {
  for (const family of Object.values(families)) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return 0;
}
