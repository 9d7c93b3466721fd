import { join } from 'node:path';
import ts from 'typescript';

/**
 * The kubernetes-models packages ship their schemas only as compiled validators (no JSON schema)
 * that let unknown fields through: a typo like `periodSecond` passes `validate()`, and the API
 * server would drop it silently or refuse it. Their TypeScript types are the same schemas with
 * every field named, so this check writes each object as a literal of its model's type and lets
 * the compiler's excess-property check name any field the type lacks. Maps (labels, ConfigMap
 * data) are index signatures and accept any key, as they should. Any other type error is reported
 * too: the compiler stops looking inside an object at its first mismatch, so a missing required
 * field could otherwise hide a typo next to it.
 */
const models: Record<string, { module: string; type: string }> = {
  'v1/Namespace': { module: 'kubernetes-models/v1/Namespace', type: 'INamespace' },
  'v1/Service': { module: 'kubernetes-models/v1/Service', type: 'IService' },
  'v1/ConfigMap': { module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'v1/PersistentVolumeClaim': { module: 'kubernetes-models/v1/PersistentVolumeClaim', type: 'IPersistentVolumeClaim' },
  'apps/v1/StatefulSet': { module: 'kubernetes-models/apps/v1/StatefulSet', type: 'IStatefulSet' },
  'apps/v1/Deployment': { module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'batch/v1/Job': { module: 'kubernetes-models/batch/v1/Job', type: 'IJob' },
  'batch/v1/CronJob': { module: 'kubernetes-models/batch/v1/CronJob', type: 'ICronJob' },
  'networking.k8s.io/v1/NetworkPolicy': { module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy', type: 'INetworkPolicy' },
  'networking.k8s.io/v1/Ingress': { module: 'kubernetes-models/networking.k8s.io/v1/Ingress', type: 'IIngress' },
  'policy/v1/PodDisruptionBudget': { module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
  'serving.knative.dev/v1/Service': { module: '@kubernetes-models/knative/serving.knative.dev/v1/Service', type: 'IService' },
  'eventing.knative.dev/v1/Broker': { module: '@kubernetes-models/knative/eventing.knative.dev/v1/Broker', type: 'IBroker' },
  'eventing.knative.dev/v1/Trigger': { module: '@kubernetes-models/knative/eventing.knative.dev/v1/Trigger', type: 'ITrigger' },
  'sources.knative.dev/v1/SinkBinding': { module: '@kubernetes-models/knative/sources.knative.dev/v1/SinkBinding', type: 'ISinkBinding' },
  'monitoring.coreos.com/v1/PodMonitor': { module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor', type: 'IPodMonitor' },
  // No models package covers Flagger: our own interfaces, the ones the generator is typed by.
  'flagger.app/v1beta1/Canary': { module: '../../scripts/flagger.ts', type: 'ICanary' },
  'flagger.app/v1beta1/MetricTemplate': { module: '../../scripts/flagger.ts', type: 'IMetricTemplate' },
  // Nor the RabbitMQ operator's and eventing-rabbitmq's kinds (knative/500-eventing.yaml).
  'rabbitmq.com/v1beta1/RabbitmqCluster': { module: './rabbitmq-models.ts', type: 'IRabbitmqCluster' },
  'eventing.knative.dev/v1alpha1/RabbitmqBrokerConfig': { module: './rabbitmq-models.ts', type: 'IRabbitmqBrokerConfig' },
};

interface KubeObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown };
}

/**
 * What the objects' models refuse, as `Kind name: path.to.field: message` (TS2353 "Object literal
 * may only specify known properties" for an unknown field); empty when every field is known and
 * well-typed. Throws for a kind it has no model for, so a new kind cannot slip past unchecked.
 */
export function strictSchemaErrors(objects: readonly unknown[]): string[] {
  const root = new URL('../../', import.meta.url).pathname;
  const fileName = join(root, 'test', 'support', '__strict-schema-check__.ts');
  const imports = new Map<string, string>();
  const declarations = objects.map((value, index) => {
    const object = value as KubeObject;
    const key = `${String(object.apiVersion)}/${String(object.kind)}`;
    const model = models[key];
    if (!model) throw new Error(`no model registered for ${key} in test/support/strict-schema.ts`);
    const alias = imports.get(key) ?? `T${imports.size}`;
    imports.set(key, alias);
    return `export const o${index}: ${alias} = ${JSON.stringify(value, null, 2)};`;
  });
  const importLines = [...imports].map(([key, alias]) => {
    const model = models[key] as { module: string; type: string };
    return `import type { ${model.type} as ${alias} } from '${model.module}';`;
  });
  const source = [...importLines, ...declarations].join('\n');

  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2022.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (path) => (path === fileName ? source : readFile(path));
  host.fileExists = (path) => path === fileName || fileExists(path);
  host.getSourceFile = (path, languageVersion, ...rest) =>
    path === fileName ? ts.createSourceFile(path, source, languageVersion, true) : getSourceFile(path, languageVersion, ...rest);
  const program = ts.createProgram([fileName], options, host);
  const sourceFile = program.getSourceFile(fileName);
  if (!sourceFile) throw new Error('the strict schema check could not load its own source');

  const diagnostics = program.getSemanticDiagnostics(sourceFile);
  // TS2307: a module not found is the check's own fault, not the objects'.
  const unresolved = diagnostics.filter((diagnostic) => diagnostic.code === 2307 || diagnostic.start === undefined);
  if (unresolved.length > 0) {
    throw new Error(`the strict schema check failed to run:\n${unresolved.map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')).join('\n')}`);
  }

  return diagnostics
    .map((diagnostic) => {
      const start = diagnostic.start ?? 0;
      const statement = sourceFile.statements.find((candidate) => candidate.pos <= start && start < candidate.end);
      const index = sourceFile.statements.filter((candidate) => ts.isVariableStatement(candidate)).indexOf(statement as ts.VariableStatement);
      const object = objects[index] as KubeObject | undefined;
      const literal = statement && ts.isVariableStatement(statement) ? statement.declarationList.declarations[0]?.initializer : undefined;
      const path = literal ? pathAt(literal, start) : '?';
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      return `${String(object?.kind)} ${String(object?.metadata?.name)}: ${path}: ${message}`;
    });
}

/** The JSON path (`spec.rules[0].hosst`) of the property at `position` inside an object literal. */
function pathAt(literal: ts.Expression, position: number): string {
  let path = '';
  let node: ts.Node = literal;
  for (;;) {
    if (ts.isObjectLiteralExpression(node)) {
      const property = node.properties.find((candidate) => candidate.pos <= position && position < candidate.end);
      if (!property || !ts.isPropertyAssignment(property)) return path;
      const name = ts.isStringLiteral(property.name) ? property.name.text : property.name.getText();
      path += path === '' ? name : `.${name}`;
      if (position < property.name.end) return path;
      node = property.initializer;
    } else if (ts.isArrayLiteralExpression(node)) {
      const index = node.elements.findIndex((element) => element.pos <= position && position < element.end);
      if (index < 0) return path;
      path += `[${index}]`;
      node = node.elements[index] as ts.Expression;
    } else {
      return path;
    }
  }
}
