// Validates ServiceMonitor and PrometheusRule objects (a JSON array on stdin) against the
// prometheus-operator CRD schemas compiled in @kubernetes-models/prometheus-operator.
// Usage: node check-prometheus-operator.mjs NPM_PREFIX   (exit 1 and the errors when invalid)
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const prefix = process.argv[2];
const models = pathToFileURL(
  `${prefix}/node_modules/@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/index.js`,
).href;
const { ServiceMonitor, PrometheusRule } = await import(models);
const kinds = { ServiceMonitor, PrometheusRule };

let invalid = 0;
for (const doc of JSON.parse(readFileSync(0, "utf8"))) {
  const Model = kinds[doc.kind];
  const name = `${doc.kind}/${doc.metadata?.name}`;
  if (!Model) {
    invalid++;
    console.log(`INVALID ${name}: no schema for this kind`);
    continue;
  }
  try {
    new Model(doc).validate();
    console.log(`valid ${name}`);
  } catch (e) {
    invalid++;
    console.log(`INVALID ${name}: ${e.message}`);
  }
}
process.exit(invalid ? 1 : 0);
