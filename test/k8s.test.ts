import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { Deployment } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { StorageClass } from 'kubernetes-models/storage.k8s.io/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { connectRedis, metricsRegistry } from '@reelboard/bus';
import { createBus, type PipelineBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { infraEnv, repoRoot } from '@reelboard/testkit/infra-env';
import { APP_PATHS } from '../packages/web/src/router.js';
import { COMMANDS } from '../scripts/build.js';
import { loadGatewayConfig } from '../services/api-gateway/src/config.js';
import { loadNotifierConfig } from '../services/notifier/src/config.js';
import { loadPaymentWatcherConfig } from '../services/payment-watcher/src/config.js';
import { loadPreviewConfig } from '../services/preview-extractor/src/config.js';
import { loadProfileWriterConfig } from '../services/profile-writer/src/config.js';
import { loadTranscoderConfig } from '../services/transcoder/src/config.js';
import { loadUploaderConfig } from '../services/uploader/src/config.js';

// The manifests in infra/k8s, checked offline: each document against the real Kubernetes (KEDA,
// Prometheus Operator) JSON schemas, then against the project's own rules, then each Deployment's
// environment against the schema its service validates at start-up. base/ is what
// `kubectl apply -k` applies; migrate/ and monitoring/ are applied beside it; overlays/ patch the
// base for a storage class (rendered here by merging their patches, as kustomize does).

const k8sRoot = join(repoRoot, 'infra', 'k8s');
const k8sDir = join(k8sRoot, 'base');
const SERVICES = ['api-gateway', 'payment-watcher', 'transcoder', 'preview-extractor', 'uploader', 'profile-writer', 'notifier'];
const PLACEHOLDER = 'CHANGE-ME';
/** What an operator would put where the ConfigMap and Secret say CHANGE-ME, so the rest can be checked. */
const OPERATOR_VALUES: Record<string, string> = {
  PUBLIC_URL: 'https://reelboard.example.com',
  CHAIN_ID: '8453',
  RPC_URL: 'https://rpc.example.com',
  MERCHANT_ADDRESS: '0x1111111111111111111111111111111111111111',
  ADMIN_TOKEN: 'an-operator-chosen-token-of-32-chars',
  DEPOSIT_SALT_KEY: 'an-operator-chosen-deposit-salt-key-of-64-hex-digits',
  S3_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  S3_SECRET_ACCESS_KEY: 'example-secret-key',
  // A VAPID pair (pnpm --filter @reelboard/notifier vapid-keys).
  VAPID_PUBLIC_KEY: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
  VAPID_PRIVATE_KEY: 'tUxbf-Mi-HSB4WxfXuZ3ZNxzZq0aTXzRTfY0Jy3mIBE',
};
const SECRET_LOOKING_KEY = /PASSWORD|SECRET|TOKEN|ACCESS_KEY|DATABASE_URL|REDIS_URL/;

// Parsed YAML is untyped until the schema check has passed; the rules below read it loosely.
type Obj = Record<string, any>;

interface Manifest {
  file: string;
  doc: Obj;
}

/** The schema check of each kind we ship; anything else is refused. */
function schemaCheck<T>(model: new (data: T) => { validate(): void }): (doc: Obj) => void {
  return (doc) => new model(doc as T).validate();
}
const schemaChecks: Record<string, (doc: Obj) => void> = {
  'v1/Namespace': schemaCheck(Namespace),
  'v1/ConfigMap': schemaCheck(ConfigMap),
  'v1/Secret': schemaCheck(Secret),
  'v1/PersistentVolumeClaim': schemaCheck(PersistentVolumeClaim),
  'v1/Service': schemaCheck(Service),
  'apps/v1/Deployment': schemaCheck(Deployment),
  'policy/v1/PodDisruptionBudget': schemaCheck(PodDisruptionBudget),
  'keda.sh/v1alpha1/ScaledObject': schemaCheck(ScaledObject),
  'keda.sh/v1alpha1/TriggerAuthentication': schemaCheck(TriggerAuthentication),
  'batch/v1/Job': schemaCheck(Job),
  'batch/v1/CronJob': schemaCheck(CronJob),
  'networking.k8s.io/v1/Ingress': schemaCheck(Ingress),
  'gateway.networking.k8s.io/v1/HTTPRoute': schemaCheck(HTTPRoute),
  'networking.k8s.io/v1/NetworkPolicy': schemaCheck(NetworkPolicy),
  'storage.k8s.io/v1/StorageClass': schemaCheck(StorageClass),
  'monitoring.coreos.com/v1/PrometheusRule': schemaCheck(PrometheusRule),
  'monitoring.coreos.com/v1/ServiceMonitor': schemaCheck(ServiceMonitor),
};

/** Throws naming the problem when a document is not a valid object of a known kind. */
function validateAgainstSchema(doc: Obj): void {
  const check = schemaChecks[`${doc.apiVersion}/${doc.kind}`];
  if (!check) throw new Error(`unknown kind ${doc.apiVersion}/${doc.kind}`);
  check(doc);
}

function readDocs(path: string): Obj[] {
  const docs: Obj[] = [];
  for (const parsed of parseAllDocuments(readFileSync(path, 'utf8'))) {
    if (parsed.errors.length) throw new Error(`${path}: ${parsed.errors.map((e) => e.message).join('; ')}`);
    const doc = parsed.toJS() as Obj | null;
    if (doc) docs.push(doc);
  }
  return docs;
}

function readManifests(dir = k8sDir): Manifest[] {
  return manifestFiles(dir).flatMap((file) => readDocs(join(dir, file)).map((doc) => ({ file, doc })));
}

function manifestFiles(dir = k8sDir): string[] {
  return readdirSync(dir)
    .filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml')
    .sort();
}

function kustomization(dir: string): Obj {
  return readDocs(join(dir, 'kustomization.yaml'))[0]!;
}

/** Kubernetes CPU quantity ("2", "250m") in cores. */
function cores(quantity: string | number): number {
  const text = String(quantity);
  return text.endsWith('m') ? Number(text.slice(0, -1)) / 1000 : Number(text);
}

function named(manifests: Manifest[], kind: string, name: string): Obj {
  const found = manifests.find((m) => m.doc.kind === kind && m.doc.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found.doc;
}

function secretValues(secret: Obj): Record<string, string> {
  const decoded = Object.fromEntries(
    Object.entries((secret.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
  return { ...decoded, ...(secret.stringData ?? {}) };
}

/** The environment a Deployment's container starts with: envFrom, then env (later wins, as in Kubernetes). */
function containerEnv(deployment: Obj, manifests: Manifest[]): Record<string, string> {
  const container = deployment.spec.template.spec.containers[0];
  const result: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(result, named(manifests, 'ConfigMap', source.configMapRef.name).data);
    if (source.secretRef) Object.assign(result, secretValues(named(manifests, 'Secret', source.secretRef.name)));
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef ?? variable.valueFrom?.configMapKeyRef;
    if (!ref) {
      result[variable.name] = String(variable.value ?? '');
      continue;
    }
    const values = variable.valueFrom.secretKeyRef ? secretValues(named(manifests, 'Secret', ref.name)) : named(manifests, 'ConfigMap', ref.name).data;
    if (!(ref.key in values)) {
      if (ref.optional) continue;
      throw new Error(`${deployment.metadata.name}: ${variable.name} refers to missing key ${ref.name}/${ref.key}`);
    }
    result[variable.name] = values[ref.key];
  }
  return result;
}

/** The environment with the ConfigMap's CHANGE-ME values filled in as an operator would. */
function withOperatorValues(env: Record<string, string>): Record<string, string> {
  const filled = { ...env };
  for (const [key, value] of Object.entries(env)) {
    if (value !== PLACEHOLDER) continue;
    const operatorValue = OPERATOR_VALUES[key];
    if (operatorValue === undefined) throw new Error(`${key} is ${PLACEHOLDER} and the test has no operator value for it`);
    filled[key] = operatorValue;
  }
  return filled;
}

/** The project's rules for a service Deployment, as a list of what is wrong (empty when none). */
function deploymentProblems(deployment: Obj, configMapName: string, secretName: string): string[] {
  const problems: string[] = [];
  const name = deployment.metadata?.name;
  const pod = deployment.spec?.template?.spec ?? {};
  const container = pod.containers?.[0] ?? {};
  const portNamed = (portName: string) => (container.ports ?? []).find((p: Obj) => p.name === portName)?.containerPort;
  // Probes and metrics on the internal port; only the gateway has a public one.
  if (portNamed('internal') !== 9090) problems.push(`${name}: no container port named internal on 9090`);
  if (name === 'api-gateway' ? portNamed('http') !== 8080 : portNamed('http') !== undefined)
    problems.push(`${name}: the public port http (8080) is the gateway's alone`);
  const probe = (which: string, path: string) => {
    const get = container[which]?.httpGet;
    if (get?.path !== path || (get.port !== 'internal' && get.port !== 9090)) problems.push(`${name}: ${which} must GET ${path} on the internal port 9090`);
  };
  probe('livenessProbe', '/healthz');
  probe('readinessProbe', '/readyz');
  const mounts: Obj[] = container.volumeMounts ?? [];
  const stagingVolume = (pod.volumes ?? []).find((v: Obj) => v.persistentVolumeClaim?.claimName === 'staging');
  if (!stagingVolume || !mounts.some((m) => m.name === stagingVolume.name && m.mountPath === '/data/staging')) {
    problems.push(`${name}: the staging PVC is not mounted at /data/staging`);
  }
  const runAsNonRoot = container.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
  const runAsUser = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
  if (runAsNonRoot !== true || runAsUser !== 1000) problems.push(`${name}: must run as non-root user 1000`);
  if (container.securityContext?.allowPrivilegeEscalation !== false) problems.push(`${name}: allowPrivilegeEscalation must be false`);
  if (!(container.envFrom ?? []).some((s: Obj) => s.configMapRef?.name === configMapName))
    problems.push(`${name}: env does not come from ConfigMap ${configMapName}`);
  const fromSecret =
    (container.envFrom ?? []).some((s: Obj) => s.secretRef?.name === secretName) ||
    (container.env ?? []).some((e: Obj) => e.valueFrom?.secretKeyRef?.name === secretName);
  if (!fromSecret) problems.push(`${name}: env does not come from Secret ${secretName}`);
  if (!container.resources?.requests?.cpu || !container.resources?.limits?.memory) problems.push(`${name}: needs cpu requests and memory limits`);
  const annotations = deployment.spec?.template?.metadata?.annotations ?? {};
  if (annotations['prometheus.io/scrape'] !== 'true' || annotations['prometheus.io/port'] !== '9090' || annotations['prometheus.io/path'] !== '/metrics') {
    problems.push(`${name}: prometheus scrape annotations missing`);
  }
  return problems;
}

type ServiceConfig = { INTERNAL_PORT: number; SHUTDOWN_GRACE_MS: number; STAGING_DIR: string };
const configLoaders: Record<string, (env: NodeJS.ProcessEnv) => ServiceConfig> = {
  'api-gateway': loadGatewayConfig,
  'payment-watcher': loadPaymentWatcherConfig,
  transcoder: loadTranscoderConfig,
  'preview-extractor': loadPreviewConfig,
  uploader: loadUploaderConfig,
  'profile-writer': loadProfileWriterConfig,
  notifier: loadNotifierConfig,
};

/** The Redis lists KEDA must watch: BullMQ keeps a queue's waiting and running jobs in `<prefix>:<queue>:wait` / `:active`. */
const transcoderWaitList = (prefix: string) => `${prefix}:payment.confirmed:wait`;
const transcoderActiveList = (prefix: string) => `${prefix}:payment.confirmed:active`;
const transcoderChunkList = (prefix: string) => `${prefix}:video.chunk:wait`;
/** The queues whose jobs share a transcoder replica's TRANSCODE_CONCURRENCY slots: each running one keeps a replica. */
const transcoderSlotQueues = ['payment.confirmed', 'video.chunk', 'rendition.join', 'video.assemble'] as const;

/** An image as kustomize's `images` transform renders it (newName and newTag of the entry with its name). */
function renderedImage(image: string, k: Obj): string {
  const [name, tag] = image.split(':') as [string, string | undefined];
  const entry = (k.images ?? []).find((i: Obj) => i.name === name);
  const newTag = entry?.newTag ?? tag;
  return `${entry?.newName ?? name}${newTag ? `:${newTag}` : ''}`;
}

/** The registry an image reference names (its first component when that is a host), else undefined: Docker Hub. */
function registryHost(image: string): string | undefined {
  const first = image.split('/')[0]!;
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : undefined;
}

/**
 * The objects a kustomization's configMapGenerator and secretGenerator make from env files, as
 * kustomize does (KEY=value a line, `#` comments and blank lines skipped, values literal).
 */
function generated(dir: string): Manifest[] {
  const k = kustomization(dir);
  const envValues = (files: string[] = []) =>
    Object.fromEntries(
      files.flatMap((file) =>
        readFileSync(join(dir, file), 'utf8')
          .split('\n')
          .map((line) => line.trim())
          .filter((line) => line && !line.startsWith('#'))
          .map((line) => {
            const at = line.indexOf('=');
            if (at < 1) throw new Error(`${file}: not KEY=value: ${line}`);
            return [line.slice(0, at), line.slice(at + 1)];
          }),
      ),
    );
  const metadata = (name: string) => ({ name, namespace: k.namespace, labels: k.generatorOptions?.labels });
  return [
    ...(k.configMapGenerator ?? []).map((g: Obj) => ({
      file: 'kustomization.yaml',
      doc: { apiVersion: 'v1', kind: 'ConfigMap', metadata: metadata(g.name), data: envValues(g.envs) },
    })),
    ...(k.secretGenerator ?? []).map((g: Obj) => ({
      file: 'kustomization.yaml',
      doc: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: metadata(g.name),
        type: g.type ?? 'Opaque',
        data: Object.fromEntries(Object.entries(envValues(g.envs)).map(([key, value]) => [key, Buffer.from(String(value)).toString('base64')])),
      },
    })),
  ];
}

const settingsDir = join(k8sRoot, 'example-settings');
const baseManifests = readManifests();
/** What a cluster holds after the example settings and base are applied. */
const manifests = [...baseManifests, ...generated(settingsDir)];
const deployments = manifests.filter((m) => m.doc.kind === 'Deployment').map((m) => m.doc);
const configMap = named(manifests, 'ConfigMap', 'reelboard-config');
const secret = named(manifests, 'Secret', 'reelboard-secrets');
const deployment = (name: string) => named(manifests, 'Deployment', name);
const clone = <T>(value: T): T => structuredClone(value);

describe('infra/k8s schemas', () => {
  it('every document is a valid Kubernetes or KEDA object of a known kind', () => {
    expect(manifests.length).toBeGreaterThan(10);
    for (const { file, doc } of manifests) {
      expect(() => validateAgainstSchema(doc), `${file}: ${doc.kind} ${doc.metadata?.name}`).not.toThrow();
    }
  });

  it('refuses a broken object and an unknown kind', () => {
    const noSelector = clone(deployment('transcoder'));
    delete noSelector.spec.selector;
    expect(() => validateAgainstSchema(noSelector)).toThrow(/selector/);
    const stringReplicas = clone(deployment('api-gateway'));
    stringReplicas.spec.replicas = 'two';
    expect(() => validateAgainstSchema(stringReplicas)).toThrow(/replicas/);
    const scaledObject = clone(named(manifests, 'ScaledObject', 'transcoder'));
    delete scaledObject.spec.scaleTargetRef;
    expect(() => validateAgainstSchema(scaledObject)).toThrow(/scaleTargetRef/);
    expect(() => validateAgainstSchema({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } })).toThrow(/unknown kind/);
  });

  it('kustomization.yaml lists every manifest and pins every image', () => {
    const kustomization = parseAllDocuments(readFileSync(join(k8sDir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as Obj;
    expect(kustomization.namespace).toBe('reelboard');
    expect([...kustomization.resources].sort()).toEqual(manifestFiles());
    const images = kustomization.images.map((image: Obj) => image.name).sort();
    const used = deployments.map((d) => String(d.spec.template.spec.containers[0].image).split(':')[0]).sort();
    expect(images).toEqual(used);
  });

  it('puts everything in the reelboard namespace', () => {
    for (const { file, doc } of manifests) {
      if (doc.kind === 'Namespace') expect(doc.metadata.name).toBe('reelboard');
      else expect(doc.metadata.namespace, `${file}: ${doc.kind} ${doc.metadata.name}`).toBe('reelboard');
    }
  });
});

describe('infra/k8s project rules', () => {
  it('has one Deployment per service, built from the Dockerfile target that has what it needs', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...SERVICES].sort());
    for (const d of deployments) expect(d.spec.template.spec.containers[0].image).toBe(`reelboard/${d.metadata.name}`);
  });

  it('names images on a registry that cannot exist until the operator sets theirs (never Docker Hub by default)', () => {
    const rendered = [
      ...deployments.map((d) => [d.metadata.name, renderedImage(d.spec.template.spec.containers[0].image, kustomization(k8sDir))] as const),
      ...readManifests(join(k8sRoot, 'migrate'))
        .filter((m) => m.doc.kind === 'Job')
        .map((m) => [m.doc.metadata.name, renderedImage(m.doc.spec.template.spec.containers[0].image, kustomization(join(k8sRoot, 'migrate')))] as const),
    ];
    expect(rendered).toHaveLength(SERVICES.length + 1);
    for (const [name, image] of rendered) {
      const host = registryHost(image);
      expect(host, `${name}: ${image} names no registry, so it would be pulled from Docker Hub`).toBeDefined();
      // .invalid never resolves (RFC 2606): a forgotten registry is an ErrImagePull naming it.
      expect(host, `${name}: ${image}`).toMatch(/\.invalid$/);
      expect(image, name).not.toMatch(/:latest$/);
    }
    // What the operator's edit gives.
    const set = { images: [{ name: 'reelboard/uploader', newName: 'registry.example.com/reelboard/uploader', newTag: '1.0.0' }] };
    expect(renderedImage('reelboard/uploader', set)).toBe('registry.example.com/reelboard/uploader:1.0.0');
    expect(registryHost('reelboard/uploader:latest')).toBeUndefined();
  });

  it('every Deployment probes /healthz and /readyz, mounts staging, runs as non-root and takes env from the ConfigMap and Secret', () => {
    for (const d of deployments) expect(deploymentProblems(d, 'reelboard-config', 'reelboard-secrets')).toEqual([]);
  });

  it('the rule check catches a Deployment that breaks the rules', () => {
    const broken = clone(deployment('uploader'));
    const container = broken.spec.template.spec.containers[0];
    delete container.readinessProbe;
    container.livenessProbe.httpGet.path = '/';
    container.volumeMounts = container.volumeMounts.filter((m: Obj) => m.mountPath !== '/data/staging');
    broken.spec.template.spec.securityContext.runAsNonRoot = false;
    container.env = container.env.filter((e: Obj) => !e.valueFrom?.secretKeyRef);
    const problems = deploymentProblems(broken, 'reelboard-config', 'reelboard-secrets');
    for (const expected of [/readinessProbe/, /livenessProbe/, /staging/, /non-root/, /Secret/]) {
      expect(
        problems.some((p) => expected.test(p)),
        String(expected),
      ).toBe(true);
    }
  });

  it('each service accepts its environment, listens where the probes look and outlives its shutdown grace', () => {
    for (const d of deployments) {
      const name = d.metadata.name as string;
      const config = configLoaders[name]!(withOperatorValues(containerEnv(d, manifests)));
      expect(config.INTERNAL_PORT, name).toBe(9090);
      if (name === 'api-gateway') expect(loadGatewayConfig(withOperatorValues(containerEnv(d, manifests))).PORT).toBe(8080);
      expect(config.STAGING_DIR, name).toBe('/data/staging');
      // runService exits at SHUTDOWN_GRACE_MS + 5 s at the latest; Kubernetes must not kill it first.
      expect(d.spec.template.spec.terminationGracePeriodSeconds, name).toBeGreaterThan(config.SHUTDOWN_GRACE_MS / 1000 + 5);
    }
    expect(loadTranscoderConfig(withOperatorValues(containerEnv(deployment('transcoder'), manifests))).SHUTDOWN_GRACE_MS).toBeGreaterThanOrEqual(120_000);
  });

  it('the gateway takes client addresses from the Ingress, not from the Ingress controller itself', () => {
    const config = loadGatewayConfig(withOperatorValues(containerEnv(deployment('api-gateway'), manifests)));
    expect(config.TRUST_PROXY).toBe(1);
  });

  it('a CHANGE-ME left in the ConfigMap or Secret stops the gateway, naming the variables', () => {
    const env = containerEnv(deployment('api-gateway'), manifests);
    let error: unknown;
    try {
      loadGatewayConfig(env);
    } catch (caught) {
      error = caught;
    }
    // A ConfigError (packages/config), which makes runService exit 78 with the variables' names.
    expect(error).toMatchObject({ name: 'ConfigError' });
    const variables = new Set((error as { issues: { variable: string }[] }).issues.map((issue) => issue.variable));
    // S3 keys are free-form: a placeholder there shows as a failing /readyz (s3) instead.
    expect([...variables].sort()).toEqual(['ADMIN_TOKEN', 'CHAIN_ID', 'DEPOSIT_SALT_KEY', 'MERCHANT_ADDRESS', 'PUBLIC_URL', 'RPC_URL', 'VAPID_PUBLIC_KEY']);
  });

  it('keeps credentials out of the ConfigMap and only placeholders in the Secret template', () => {
    for (const [key, value] of Object.entries(configMap.data as Record<string, string>)) {
      expect(SECRET_LOOKING_KEY.test(key), `ConfigMap key ${key}`).toBe(false);
      expect(/:\/\/[^/]*:[^/]*@/.test(value), `ConfigMap ${key} has credentials in a URL`).toBe(false);
    }
    const values = secretValues(secret);
    for (const key of ['REDIS_URL', 'REDIS_PASSWORD', 'DATABASE_URL', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'ADMIN_TOKEN']) {
      expect(values[key], key).toContain(PLACEHOLDER);
    }
    for (const [key, value] of Object.entries(values)) expect(value, `Secret ${key} is not a placeholder`).toContain(PLACEHOLDER);
    expect(decodeURIComponent(new URL(values.REDIS_URL!).password)).toBe(values.REDIS_PASSWORD);
  });

  it('shares one ReadWriteMany staging volume', () => {
    expect(named(manifests, 'PersistentVolumeClaim', 'staging').spec.accessModes).toEqual(['ReadWriteMany']);
  });

  it('exposes the gateway on port 80 and keeps one up through disruptions', () => {
    const gateway = deployment('api-gateway');
    const service = named(manifests, 'Service', 'api-gateway');
    expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http' }]);
    const pdb = named(manifests, 'PodDisruptionBudget', 'api-gateway');
    expect(pdb.spec.selector.matchLabels).toEqual(gateway.spec.selector.matchLabels);
    // A budget that allows no eviction at all would block every node drain.
    expect(pdb.spec.minAvailable).toBeLessThan(gateway.spec.replicas);
  });

  it('every Service selects the pods of a Deployment', () => {
    for (const { doc } of manifests.filter((m) => m.doc.kind === 'Service')) {
      const selected = deployments.filter((d) => Object.entries(doc.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
      expect(selected.length, `Service ${doc.metadata.name}`).toBe(1);
      for (const port of doc.spec.ports) {
        const ports = selected[0]!.spec.template.spec.containers[0].ports.map((p: Obj) => p.name);
        expect(ports, `Service ${doc.metadata.name} targetPort`).toContain(port.targetPort);
      }
    }
  });
});

describe('transcoder autoscaling', () => {
  const scaledObject = named(manifests, 'ScaledObject', 'transcoder');
  const prefix = configMap.data.REDIS_PREFIX;
  const triggerOn = (list: string) => scaledObject.spec.triggers.find((t: Obj) => t.metadata.listName === list);
  const trigger = triggerOn(transcoderWaitList(prefix));
  const activeTrigger = triggerOn(transcoderActiveList(prefix));
  const chunkTrigger = triggerOn(transcoderChunkList(prefix));

  it('scales the transcoder Deployment on its BullMQ wait list and on its running encodes, within bounds', () => {
    expect(scaledObject.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'transcoder' });
    expect(scaledObject.spec.triggers).toHaveLength(7);
    expect(trigger.type).toBe('redis');
    expect(Number(trigger.metadata.listLength)).toBeGreaterThan(0);
    // The HPA takes the larger count: while encodes run, at least one replica per running encode
    // (each runs TRANSCODE_CONCURRENCY of them) stays, so draining the backlog removes no busy one.
    expect(activeTrigger.type).toBe('redis');
    const concurrency = loadTranscoderConfig(withOperatorValues(containerEnv(deployment('transcoder'), manifests))).TRANSCODE_CONCURRENCY;
    expect(Number(activeTrigger.metadata.listLength)).toBe(concurrency);
    for (const key of ['address', 'enableTLS']) expect(activeTrigger.metadata[key], key).toBe(trigger.metadata[key]);
    expect(activeTrigger.authenticationRef).toEqual(trigger.authenticationRef);
    // A long video's chunks wait in their own queue, which every transcoder consumes: each asks for a replica.
    expect(chunkTrigger.type).toBe('redis');
    expect(Number(chunkTrigger.metadata.listLength)).toBe(1);
    for (const key of ['address', 'enableTLS']) expect(chunkTrigger.metadata[key], key).toBe(trigger.metadata[key]);
    expect(chunkTrigger.authenticationRef).toEqual(trigger.authenticationRef);
    expect(scaledObject.spec.minReplicaCount).toBe(1);
    expect(scaledObject.spec.maxReplicaCount).toBeGreaterThan(scaledObject.spec.minReplicaCount);
    // KEDA owns the replica count; a `replicas:` in the Deployment would reset it on every apply.
    expect(deployment('transcoder').spec.replicas).toBeUndefined();
  });

  it('keeps a replica per running job of every queue that shares the encode slots: chunks, joins and the assembly too', () => {
    const concurrency = loadTranscoderConfig(withOperatorValues(containerEnv(deployment('transcoder'), manifests))).TRANSCODE_CONCURRENCY;
    for (const queue of transcoderSlotQueues) {
      const running = triggerOn(`${prefix}:${queue}:active`);
      expect(running, `a trigger on ${queue}:active`).toBeDefined();
      expect(running.type).toBe('redis');
      expect(Number(running.metadata.listLength), queue).toBe(concurrency);
      for (const key of ['address', 'enableTLS']) expect(running.metadata[key], `${queue} ${key}`).toBe(trigger.metadata[key]);
      expect(running.authenticationRef, queue).toEqual(trigger.authenticationRef);
    }
  });

  it('reaches the same Redis as the services, with the password from the Secret', () => {
    const redisUrl = new URL(secretValues(secret).REDIS_URL!);
    expect(trigger.metadata.address).toBe(`${redisUrl.hostname}:${redisUrl.port || '6379'}`);
    expect(trigger.metadata.enableTLS).toBe(redisUrl.protocol === 'rediss:' ? 'true' : 'false');
    const auth = named(manifests, 'TriggerAuthentication', trigger.authenticationRef.name);
    const password = auth.spec.secretTargetRef.find((ref: Obj) => ref.parameter === 'password');
    expect(password.name).toBe(secret.metadata.name);
    expect(secretValues(secret)).toHaveProperty(password.key);
  });

  it('cuts the work in units a replica finishes within its grace period at the top rung (a scale-in or drain loses none)', () => {
    const config = loadTranscoderConfig(withOperatorValues(containerEnv(deployment('transcoder'), manifests)));
    // Measured (docs/operations.md): 10 s of 1080p30 at its top-rung settings took 31 CPU-seconds;
    // 2160p (the same encoder speed) has four times the pixels.
    const cpuSecondsPerSourceSecond2160p = 3.1 * 4;
    const graceSeconds = config.SHUTDOWN_GRACE_MS / 1000;
    // A typical piece is CHUNK_SECONDS of source (a source up to the threshold is one piece): it
    // fits even on one core.
    const typicalPiece = Math.max(config.CHUNK_THRESHOLD_SECONDS, config.CHUNK_SECONDS);
    expect(typicalPiece * cpuSecondsPerSourceSecond2160p).toBeLessThan(graceSeconds);
    // The longest: a source just under 1.5 chunks is one piece; a boundary moves by at most a
    // quarter chunk and a last piece shorter than half a chunk joins the one before, so a piece
    // stays under two chunks. It fits on the FFMPEG_THREADS cores the replica requests.
    const longestPiece = Math.max(config.CHUNK_THRESHOLD_SECONDS, 2 * config.CHUNK_SECONDS);
    expect((longestPiece * cpuSecondsPerSourceSecond2160p) / config.FFMPEG_THREADS).toBeLessThan(graceSeconds);
  });

  it("scales on the ladder's waiting chunks too, which BullMQ keeps out of the wait list (they carry a priority)", () => {
    const prioritized = scaledObject.spec.triggers.filter((t: Obj) => t.type === 'prometheus');
    expect(prioritized).toHaveLength(1);
    const { query, threshold, serverAddress } = prioritized[0].metadata;
    // The gauge every service exports with the same value: max, or N services would ask for N times the replicas.
    expect(query).toMatch(/^max\(reelboard_queue_jobs\{channel="video\.chunk",state="prioritized"\}\)/);
    expect(Number(threshold)).toBe(1);
    expect(new URL(serverAddress).protocol).toMatch(/^https?:$/);
  });

  it('gives each replica one encode with as many ffmpeg threads as it requests cores', () => {
    const transcoder = deployment('transcoder');
    const config = loadTranscoderConfig(withOperatorValues(containerEnv(transcoder, manifests)));
    expect(config.TRANSCODE_CONCURRENCY).toBe(1);
    expect(config.TRANSCODE_CONCURRENCY * config.FFMPEG_THREADS).toBe(cores(transcoder.spec.template.spec.containers[0].resources.requests.cpu));
  });

  describe('against real Redis', () => {
    let redis: Redis;
    let bus: PipelineBus;
    const prefix = `k8stest-${Date.now().toString(36)}`;

    beforeAll(() => {
      redis = connectRedis(infraEnv().REDIS_URL ?? '', 'k8s-test');
      bus = createBus(redis, prefix, 'k8s-test', createLogger('k8s-test', 'error'));
    });

    afterAll(async () => {
      await bus.queue('payment.confirmed').obliterate({ force: true });
      await bus.close(1_000);
      await redis.quit();
    });

    it('a waiting transcoder job is in the list KEDA counts, and so is one being encoded', async () => {
      expect(await redis.llen(transcoderWaitList(prefix))).toBe(0);
      await bus.queue('payment.confirmed').add('payment.confirmed', { uploadId: 'k8s-test' }, { jobId: 'k8s-test.payment.confirmed' });
      expect(await redis.llen(transcoderWaitList(prefix))).toBe(1);
      expect(await redis.llen(transcoderActiveList(prefix))).toBe(0);
      // A transcoder takes the job: it leaves the wait list for the active one.
      const connection = redis.duplicate();
      const worker = new Worker('payment.confirmed', null, { connection, prefix, autorun: false });
      try {
        const job = await worker.getNextJob('k8s-test-token');
        expect(job?.id).toBe('k8s-test.payment.confirmed');
        expect(await redis.llen(transcoderWaitList(prefix))).toBe(0);
        expect(await redis.llen(transcoderActiveList(prefix))).toBe(1);
      } finally {
        await worker.close(true);
        await connection.quit();
      }
    });

    it('a running chunk, join or assembly is in the list KEDA counts for its queue', async () => {
      for (const queue of transcoderSlotQueues.filter((name) => name !== 'payment.confirmed')) {
        await bus.queue(queue).add(queue, { uploadId: 'k8s-test' }, { jobId: `k8s-test.${queue}` });
        const connection = redis.duplicate();
        const worker = new Worker(queue, null, { connection, prefix, autorun: false });
        try {
          expect((await worker.getNextJob('k8s-test-token'))?.id).toBe(`k8s-test.${queue}`);
          expect(await redis.llen(`${prefix}:${queue}:active`), queue).toBe(1);
        } finally {
          await worker.close(true);
          await connection.quit();
          await bus.queue(queue).obliterate({ force: true });
        }
      }
    });

    it('a ladder chunk waiting with its priority is outside the wait list and in the gauge the prometheus trigger reads', async () => {
      const query = scaledObject.spec.triggers.find((t: Obj) => t.type === 'prometheus').metadata.query as string;
      const [, channel, state] = /channel="([^"]+)",state="([^"]+)"/.exec(query) ?? [];
      try {
        await bus.queue('video.chunk').add('video.chunk', { uploadId: 'k8s-test' }, { jobId: 'k8s-test.ladder-chunk', priority: 3 });
        expect(await redis.llen(`${prefix}:video.chunk:wait`)).toBe(0);
        const gauge = await metricsRegistry.getSingleMetric('reelboard_queue_jobs')!.get();
        const ours = gauge.values.filter((sample) => sample.labels.channel === channel && sample.labels.state === state);
        expect(ours.map((sample) => sample.value)).toContain(1);
      } finally {
        await bus.queue('video.chunk').obliterate({ force: true });
      }
    });
  });
});

describe('the transcoder through disruptions', () => {
  it('a PodDisruptionBudget lets drains evict one transcoder at a time', () => {
    const pdb = named(manifests, 'PodDisruptionBudget', 'transcoder');
    expect(pdb.spec.selector.matchLabels).toEqual(deployment('transcoder').spec.selector.matchLabels);
    // Never all at once, but never blocking a drain either (KEDA's minimum is one replica).
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.minAvailable).toBeUndefined();
  });
});

/** Whether an Ingress rule routes `path` (Kubernetes path matching: Exact, or Prefix by path elements). */
function ingressRoutes(ingress: Obj, path: string): Obj | undefined {
  for (const rule of ingress.spec.rules) {
    for (const candidate of rule.http.paths) {
      if (candidate.pathType === 'Exact' && candidate.path === path) return candidate.backend;
      if (candidate.pathType === 'Prefix') {
        const prefix = candidate.path.replace(/\/+$/, '');
        if (prefix === '' || path === prefix || path.startsWith(`${prefix}/`)) return candidate.backend;
      }
    }
  }
  return undefined;
}

/** Whether an HTTPRoute routes `path` (Gateway API matching: Exact, or PathPrefix by path elements), to which backend. */
function httpRouteRoutes(route: Obj, path: string): Obj[] | undefined {
  for (const rule of route.spec.rules) {
    for (const match of rule.matches ?? []) {
      const { type, value } = match.path;
      if (type === 'Exact' && value === path) return rule.backendRefs;
      if (type === 'PathPrefix') {
        const prefix = String(value).replace(/\/+$/, '');
        if (prefix === '' || path === prefix || path.startsWith(`${prefix}/`)) return rule.backendRefs;
      }
    }
  }
  return undefined;
}

const PUBLIC_PATHS = [
  '/',
  '/index.html',
  '/assets/app.js',
  '/sw.js',
  '/v1/listings',
  '/v1/uploads/0b5c/events',
  '/docs',
  '/docs/assets/swagger-ui.css',
  '/openapi.json',
  // The web client's own addresses, every one of them (a reload or a shared link must reach the page).
  ...APP_PATHS.map((path) => path.replace(':id', '0b5c').replace(':wallet', `0x${'a'.repeat(40)}`)),
  '/sitemap.xml',
  '/robots.txt',
];
const INTERNAL_PATHS = ['/metrics', '/readyz', '/healthz', '/admin/queues', '/admin/queues/api/queues', '/v1x', '/metrics/'];

describe('the Gateway API route (infra/k8s/components/gateway-api)', () => {
  const dir = join(k8sRoot, 'components', 'gateway-api');
  const docs = readManifests(dir);
  const route = docs.find((m) => m.doc.kind === 'HTTPRoute')!.doc;

  it('is a valid HTTPRoute in a kustomize Component that lists it', () => {
    for (const { file, doc } of docs) expect(() => validateAgainstSchema(doc), file).not.toThrow();
    const k = kustomization(dir);
    expect(k.kind).toBe('Component');
    expect([...k.resources].sort()).toEqual(manifestFiles(dir));
  });

  it('routes what the Ingress routes (the service worker too) to the gateway Service, and nothing internal', () => {
    const service = named(manifests, 'Service', 'api-gateway');
    const httpPort = service.spec.ports.find((p: Obj) => p.name === 'http').port;
    for (const path of PUBLIC_PATHS) expect(httpRouteRoutes(route, path), path).toEqual([{ name: 'api-gateway', port: httpPort }]);
    for (const path of INTERNAL_PATHS) expect(httpRouteRoutes(route, path), path).toBeUndefined();
    // The same surface as the Ingress, path for path.
    const ingress = named(manifests, 'Ingress', 'api-gateway');
    for (const path of [...PUBLIC_PATHS, ...INTERNAL_PATHS]) expect(Boolean(httpRouteRoutes(route, path)), path).toBe(Boolean(ingressRoutes(ingress, path)));
  });

  it('keeps status streams and long uploads open, for the host PUBLIC_URL names', () => {
    for (const rule of route.spec.rules) expect(rule.timeouts?.request, 'no request timeout').toBe('0s');
    expect(route.spec.hostnames).toEqual([new URL(OPERATOR_VALUES.PUBLIC_URL!).hostname]);
  });
});

describe('the Ingress', () => {
  const ingress = named(manifests, 'Ingress', 'api-gateway');
  const annotations = ingress.metadata.annotations as Record<string, string>;
  const gatewayConfig = loadGatewayConfig(withOperatorValues(containerEnv(deployment('api-gateway'), manifests)));

  it('routes the public surface to the gateway Service, and never /metrics, /readyz or bull-board', () => {
    for (const path of [
      '/',
      '/index.html',
      '/assets/app.js',
      '/v1/listings',
      '/v1/uploads/0b5c/events',
      '/docs',
      '/docs/assets/swagger-ui.css',
      '/openapi.json',
      // Web Push registers the service worker at the origin's root.
      '/sw.js',
    ]) {
      expect(ingressRoutes(ingress, path), path).toEqual({ service: { name: 'api-gateway', port: { name: 'http' } } });
    }
    for (const path of ['/metrics', '/readyz', '/healthz', '/admin/queues', '/admin/queues/api/queues', '/v1x', '/metrics/']) {
      expect(ingressRoutes(ingress, path), path).toBeUndefined();
    }
    expect(named(manifests, 'Service', 'api-gateway').spec.ports.map((p: Obj) => p.name)).toContain('http');
  });

  it('targets Traefik (ingress-nginx is retired), on HTTPS only, streaming forms and status streams through', () => {
    expect(ingress.spec.ingressClassName).toBe('traefik');
    expect(annotations['traefik.ingress.kubernetes.io/router.entrypoints']).toBe('websecure');
    expect(annotations['traefik.ingress.kubernetes.io/router.tls']).toBe('true');
    expect(Object.keys(annotations).filter((key) => key.startsWith('nginx.'))).toEqual([]);
    // A buffering middleware would spool a 2 GiB form and hold back events: none is attached.
    expect(annotations['traefik.ingress.kubernetes.io/router.middlewares']).toBeUndefined();
    // The controller's own settings: its entry point reads a whole upload and never cuts a stream.
    const values = parse(readFileSync(join(k8sRoot, 'ingress-controller', 'traefik-values.yaml'), 'utf8')) as Obj;
    expect(values.ingressClass.name).toBe(ingress.spec.ingressClassName);
    const argument = (name: string) =>
      (values.additionalArguments as string[]).find((a) => a.startsWith(`--entryPoints.websecure.transport.respondingTimeouts.${name}=`))?.split('=')[1];
    const seconds = (value: string | undefined) => Number(/^(\d+)s$/.exec(value ?? '')?.[1] ?? Number.NaN);
    // Two hours would be needed below 2.5 Mbit/s; an hour carries 2 GiB at 5 Mbit/s.
    expect(seconds(argument('readTimeout'))).toBeGreaterThanOrEqual(3600);
    expect(((gatewayConfig.MAX_VIDEO_BYTES + gatewayConfig.MAX_LOGO_BYTES) * 8) / seconds(argument('readTimeout'))).toBeLessThanOrEqual(5_000_000);
    expect(argument('writeTimeout')).toBe('0s');
    expect(seconds(argument('idleTimeout')) * 1000).toBeGreaterThan(gatewayConfig.SSE_HEARTBEAT_MS);
  });

  it('serves the host PUBLIC_URL names, over TLS', () => {
    const host = ingress.spec.rules[0].host;
    expect(ingress.spec.tls[0].hosts).toEqual([host]);
    // The operator puts the same host in both places; the test's operator value uses this one.
    expect(new URL(OPERATOR_VALUES.PUBLIC_URL!).hostname).toBe(host);
  });
});

/** Whether the NetworkPolicies let a pod in `fromNamespace` (with `fromLabels`) reach `pod` on `port`. */
function allowed(policies: Obj[], podLabels: Record<string, string>, fromNamespace: string, fromLabels: Record<string, string>, port: number): boolean {
  const matches = (selector: Obj | undefined, labels: Record<string, string>) => Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const selecting = policies.filter((p) => (p.spec.policyTypes ?? ['Ingress']).includes('Ingress') && matches(p.spec.podSelector, podLabels));
  if (selecting.length === 0) return true; // not isolated
  return selecting.some((policy) =>
    (policy.spec.ingress ?? []).some((rule: Obj) => {
      const portOk = !rule.ports || rule.ports.some((p: Obj) => p.port === port || p.port === 'http');
      const fromOk =
        !rule.from ||
        rule.from.some((peer: Obj) => {
          const namespaceOk = peer.namespaceSelector
            ? matches(peer.namespaceSelector, { 'kubernetes.io/metadata.name': fromNamespace })
            : fromNamespace === 'reelboard';
          const podOk = peer.podSelector ? matches(peer.podSelector, fromLabels) : true;
          return namespaceOk && podOk;
        });
      return portOk && fromOk;
    }),
  );
}

describe('the NetworkPolicies', () => {
  const policies = manifests.filter((m) => m.doc.kind === 'NetworkPolicy').map((m) => m.doc);

  it('let the Ingress controller reach only the gateway, Prometheus reach every /metrics, and nothing else in', () => {
    for (const d of deployments) {
      const labels = d.spec.template.metadata.labels as Record<string, string>;
      const name = d.metadata.name as string;
      expect(allowed(policies, labels, 'traefik', {}, 8080), `${name} from the Ingress controller`).toBe(name === 'api-gateway');
      expect(allowed(policies, labels, 'traefik', {}, 9090), `${name} internal port from the Ingress controller`).toBe(false);
      expect(allowed(policies, labels, 'monitoring', {}, 9090), `${name} from monitoring`).toBe(true);
      expect(allowed(policies, labels, 'monitoring', {}, 8080), `${name} public port from monitoring`).toBe(false);
      for (const port of [8080, 9090]) {
        expect(allowed(policies, labels, 'default', {}, port), `${name} from another namespace`).toBe(false);
        expect(allowed(policies, labels, 'reelboard', { 'app.kubernetes.io/name': 'uploader' }, port), `${name} from a pod beside it`).toBe(false);
      }
    }
  });

  it('let the services, the migration Job and KEDA reach Redis and Postgres run in the namespace, and no one else', () => {
    const redis = { 'app.kubernetes.io/name': 'redis' };
    const postgres = { 'app.kubernetes.io/name': 'postgresql' };
    const migrate = readManifests(join(k8sRoot, 'migrate')).find((m) => m.doc.kind === 'Job')!.doc;
    const clients = [...deployments, migrate].map((d) => [d.metadata.name as string, d.spec.template.metadata.labels as Record<string, string>] as const);
    for (const [name, labels] of clients) {
      expect(allowed(policies, redis, 'reelboard', labels, 6379), `${name} to Redis`).toBe(true);
      expect(allowed(policies, postgres, 'reelboard', labels, 5432), `${name} to Postgres`).toBe(true);
    }
    // KEDA's operator reads the transcoder queue's length from its own namespace.
    expect(allowed(policies, redis, 'keda', {}, 6379)).toBe(true);
    expect(allowed(policies, postgres, 'keda', {}, 5432)).toBe(false);
    for (const [from, labels] of [
      ['traefik', {}],
      ['default', {}],
      ['reelboard', { 'app.kubernetes.io/name': 'debug' }],
    ] as const) {
      expect(allowed(policies, redis, from, labels, 6379), `Redis from ${from}`).toBe(false);
      expect(allowed(policies, postgres, from, labels, 5432), `Postgres from ${from}`).toBe(false);
    }
  });
});

describe('monitoring (infra/k8s/monitoring)', () => {
  const dir = join(k8sRoot, 'monitoring');
  const docs = readManifests(dir);
  const rule = docs.find((m) => m.doc.kind === 'PrometheusRule')!.doc;
  const monitor = docs.find((m) => m.doc.kind === 'ServiceMonitor')!.doc;

  it('has valid Prometheus Operator objects, all listed in its kustomization', () => {
    for (const { file, doc } of docs) expect(() => validateAgainstSchema(doc), file).not.toThrow();
    expect([...kustomization(dir).resources].sort()).toEqual(manifestFiles(dir));
    expect(kustomization(dir).namespace).toBe('reelboard');
  });

  it('the ServiceMonitor scrapes every Deployment through a Service port named as its endpoint', () => {
    const endpoint = monitor.spec.endpoints[0];
    expect(endpoint.path).toBe('/metrics');
    const services = manifests.filter(
      (m) => m.doc.kind === 'Service' && Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => m.doc.metadata.labels?.[k] === v),
    );
    for (const d of deployments) {
      const podLabels = d.spec.template.metadata.labels as Record<string, string>;
      const covering = services.filter((svc) => Object.entries(svc.doc.spec.selector).every(([k, v]) => podLabels[k] === v));
      expect(covering.length, d.metadata.name).toBeGreaterThan(0);
      const port = covering.map((svc) => svc.doc.spec.ports.find((p: Obj) => p.name === endpoint.port)).find(Boolean);
      expect(port, `${d.metadata.name}: Service port ${endpoint.port}`).toBeDefined();
      expect(port.targetPort).toBe('internal');
    }
  });

  it("has the runbook's alerts, on metrics the services export", () => {
    const alerts = rule.spec.groups.flatMap((g: Obj) => g.rules) as Obj[];
    const names = alerts.map((a) => a.alert);
    const runbook = readFileSync(join(repoRoot, 'docs', 'operations.md'), 'utf8');
    const table = runbook.slice(runbook.indexOf('## Alerts'), runbook.indexOf('## Retrying failed uploads'));
    const documented = [...table.matchAll(/^\| (\w+) \|/gm)].map((m) => m[1]).filter((n) => n !== 'alert');
    // Every documented alert that is a metric is in the rule, and every rule is documented.
    for (const name of documented) expect(names, name).toContain(name);
    for (const name of names) expect(documented, name).toContain(name);
    // reelboard_* series the expressions read are registered somewhere in the code.
    const sources = ['packages/bus/src/metrics.ts', 'packages/runtime/src', 'services/api-gateway/src', 'services/payment-watcher/src']
      .flatMap((path) => {
        const full = join(repoRoot, path);
        return statSync(full).isDirectory()
          ? readdirSync(full, { recursive: true, encoding: 'utf8' })
              .filter((f) => f.endsWith('.ts'))
              .map((f) => join(full, f))
          : [full];
      })
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    const registered = new Set([...sources.matchAll(/name: '(reelboard_\w+)'/g)].map((m) => m[1]));
    for (const alert of alerts) {
      // A histogram is registered by its name and read through its _count, _sum and _bucket series.
      for (const [series] of String(alert.expr).matchAll(/reelboard_\w+/g))
        expect(registered, `${alert.alert}: ${series}`).toContain(series.replace(/_(count|sum|bucket)$/, ''));
    }
    // The backlog alert aggregates the gauges every replica reports with max, not sum.
    expect(alerts.find((a) => a.alert === 'QueueBacklogOld')!.expr).toMatch(/^max by \(channel\) \(reelboard_queue_oldest_waiting_seconds\)/);
  });

  it('alerts on money and disk: refunds due, RPC errors, staging space, gateway 5xx by route', () => {
    const alerts = rule.spec.groups.flatMap((g: Obj) => g.rules) as Obj[];
    const expr = (name: string) => String(alerts.find((a) => a.alert === name)?.expr ?? '');
    // The gauge every watcher replica reports from the same ledger: max, so two replicas do not double it.
    expect(expr('RefundsDue')).toMatch(/^max by \(token\) \(reelboard_refunds_due\)/);
    expect(expr('RpcErrors')).toMatch(/sum by \(endpoint\) \(rate\(reelboard_rpc_errors_total\[/);
    expect(expr('StagingSpaceLow')).toContain('reelboard_staging_free_bytes / reelboard_staging_size_bytes');
    expect(expr('GatewayErrors')).toMatch(/sum by \(route\).*status=~"5\.\."/);
  });

  it('NotReady leaves out finished pods (the migration Job is kept a day), and a failed migration has its own alert', () => {
    const alerts = rule.spec.groups.flatMap((g: Obj) => g.rules) as Obj[];
    const notReady = String(alerts.find((a) => a.alert === 'NotReady')!.expr);
    expect(notReady).toMatch(/unless on \(namespace, pod\) kube_pod_status_phase\{[^}]*phase=~"Succeeded\|Failed"\}/);
    const migrate = readManifests(join(k8sRoot, 'migrate')).find((m) => m.doc.kind === 'Job')!.doc;
    const failed = String(alerts.find((a) => a.alert === 'MigrationFailed')?.expr ?? '');
    expect(failed).toContain('kube_job_status_failed');
    expect(failed).toContain(migrate.metadata.name);
  });
});

describe('settings by name only (infra/k8s/example-settings)', () => {
  const refsOf = (pod: Obj) =>
    pod.containers.flatMap((c: Obj) => [
      ...(c.envFrom ?? []).map((e: Obj) => (e.configMapRef ? ['ConfigMap', e.configMapRef.name] : ['Secret', e.secretRef.name])),
      ...(c.env ?? [])
        .filter((e: Obj) => e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef)
        .map((e: Obj) => (e.valueFrom.secretKeyRef ? ['Secret', e.valueFrom.secretKeyRef.name] : ['ConfigMap', e.valueFrom.configMapKeyRef.name])),
    ]) as [string, string][];
  const migrateDocs = readManifests(join(k8sRoot, 'migrate'));
  const job = migrateDocs.find((m) => m.doc.kind === 'Job')!.doc;
  const settings = generated(settingsDir);

  it('base and migrate carry no ConfigMap or Secret, so applying them never resets the real ones', () => {
    for (const { file, doc } of [...baseManifests, ...migrateDocs])
      expect(['ConfigMap', 'Secret'], `${file}: ${doc.kind} ${doc.metadata.name}`).not.toContain(doc.kind);
  });

  it('generates, under the names the manifests use, every ConfigMap and Secret they refer to', () => {
    const k = kustomization(settingsDir);
    // A hash suffix would rename them away from the names the manifests (and KEDA) spell.
    expect(k.generatorOptions.disableNameSuffixHash).toBe(true);
    expect(k.resources ?? []).toEqual([]);
    const made = settings.map((m) => `${m.doc.kind}/${m.doc.metadata.name}`).sort();
    expect(made).toEqual(['ConfigMap/reelboard-config', 'Secret/reelboard-migrate-secrets', 'Secret/reelboard-secrets']);
    for (const { doc } of settings) expect(() => validateAgainstSchema(doc), doc.metadata.name).not.toThrow();
    const referenced = new Set<string>();
    for (const d of deployments) for (const [kind, name] of refsOf(d.spec.template.spec)) referenced.add(`${kind}/${name}`);
    for (const [kind, name] of refsOf(job.spec.template.spec)) referenced.add(`${kind}/${name}`);
    const auth = named(manifests, 'TriggerAuthentication', 'reelboard-redis');
    for (const ref of auth.spec.secretTargetRef ?? []) referenced.add(`Secret/${ref.name}`);
    expect([...referenced].sort()).toEqual(made);
  });

  it('renders as kubectl kustomize renders it, where kubectl is installed', () => {
    let output: string;
    try {
      output = execFileSync('kubectl', ['kustomize', settingsDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      // Without kubectl the generators are still checked above, by the same rules.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const rendered = parseAllDocuments(output).map((d) => d.toJS() as Obj);
    const byName = (docs: Obj[]) => Object.fromEntries(docs.map((d) => [`${d.kind}/${d.metadata.name}`, d.kind === 'Secret' ? secretValues(d) : d.data]));
    expect(byName(rendered)).toEqual(byName(settings.map((m) => m.doc)));
  });

  it('gives the migration its own credentials, which no service can read', () => {
    const migrateSecret = refsOf(job.spec.template.spec).find(([kind]) => kind === 'Secret')![1];
    expect(migrateSecret).not.toBe('reelboard-secrets');
    for (const d of deployments)
      expect(
        refsOf(d.spec.template.spec).map(([, name]) => name),
        d.metadata.name,
      ).not.toContain(migrateSecret);
    const owner = new URL(secretValues(named(manifests, 'Secret', migrateSecret)).DATABASE_URL!);
    const services = new URL(secretValues(secret).DATABASE_URL!);
    expect(owner.username).not.toBe(services.username);
    expect(owner.pathname).toBe(services.pathname);
  });
});

describe('migrations as a Job before a rollout (infra/k8s/migrate)', () => {
  const dir = join(k8sRoot, 'migrate');
  const docs = readManifests(dir);
  const job = docs.find((m) => m.doc.kind === 'Job')!.doc;
  const pod = job.spec.template.spec;
  const container = pod.containers[0];

  it('is a valid Job, listed in its kustomization, that pins the same image as the profile-writer', () => {
    for (const { file, doc } of docs) expect(() => validateAgainstSchema(doc), file).not.toThrow();
    const k = kustomization(dir);
    expect([...k.resources].sort()).toEqual(manifestFiles(dir));
    expect(k.namespace).toBe('reelboard');
    expect(container.image).toBe(deployment('profile-writer').spec.template.spec.containers[0].image);
    expect(k.images.map((i: Obj) => i.name)).toEqual([String(container.image).split(':')[0]]);
  });

  it('runs the compiled migration command from the image, as non-root, with DATABASE_URL from its own Secret', () => {
    expect(pod.restartPolicy).toBe('Never');
    expect(container.workingDir).toBe('/app');
    expect(container.command).toEqual(['node', '--enable-source-maps', 'dist/commands/migrate.js']);
    // scripts/build.ts compiles it into every image (no `image` restriction), from the db package's CLI.
    expect(COMMANDS.migrate).toEqual({ source: 'packages/db/src/migrate-cli.ts' });
    expect(statSync(join(repoRoot, COMMANDS.migrate!.source)).isFile()).toBe(true);
    const profileWriter = JSON.parse(readFileSync(join(repoRoot, 'services', 'profile-writer', 'package.json'), 'utf8')) as Obj;
    expect(profileWriter.dependencies).toHaveProperty('@reelboard/db');
    expect(container.env).toEqual([{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'reelboard-migrate-secrets', key: 'DATABASE_URL' } } }]);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBe(1000);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(job.spec.backoffLimit).toBeGreaterThanOrEqual(0);
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThanOrEqual(3600);
  });

  it('no Deployment migrates at start', () => {
    const config = loadProfileWriterConfig(withOperatorValues(containerEnv(deployment('profile-writer'), manifests)));
    expect(config.MIGRATE_ON_START).toBe(false);
    for (const d of deployments) {
      const loaded = configLoaders[d.metadata.name]!(withOperatorValues(containerEnv(d, manifests))) as ServiceConfig & { MIGRATE_ON_START?: boolean };
      expect(loaded.MIGRATE_ON_START ?? false, d.metadata.name).toBe(false);
    }
  });
});

describe('the daily ledger reconciliation (infra/k8s/reconcile)', () => {
  const dir = join(k8sRoot, 'reconcile');
  const docs = readManifests(dir);
  const cron = docs.find((m) => m.doc.kind === 'CronJob')!.doc;
  const pod = cron.spec.jobTemplate.spec.template.spec;
  const container = pod.containers[0];

  it('is a valid CronJob, listed in its kustomization, on the payment-watcher image', () => {
    for (const { file, doc } of docs) expect(() => validateAgainstSchema(doc), file).not.toThrow();
    const k = kustomization(dir);
    expect([...k.resources].sort()).toEqual(manifestFiles(dir));
    expect(k.namespace).toBe('reelboard');
    expect(container.image).toBe(deployment('payment-watcher').spec.template.spec.containers[0].image);
    expect(k.images.map((i: Obj) => i.name)).toEqual([String(container.image).split(':')[0]]);
  });

  it('runs `payments reconcile` (reporting, never repairing) once at a time, with the chain settings the watcher has', () => {
    expect(container.workingDir).toBe('/app');
    expect(container.command.slice(0, 4)).toEqual(['node', '--enable-source-maps', 'dist/commands/payments.js', 'reconcile']);
    // scripts/build.ts compiles `payments` into the payment-watcher's image only: the one this CronJob runs.
    expect(COMMANDS.payments?.image).toBe('payment-watcher');
    expect(container.command).not.toContain('--repair');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    // Exit 1 is a difference, not a flake: no retry hides it from the alert.
    expect(cron.spec.jobTemplate.spec.backoffLimit).toBe(0);
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
    // What the command requires is there: the watcher's ConfigMap and DATABASE_URL from the Secret.
    const watcher = deployment('payment-watcher').spec.template.spec.containers[0];
    expect(container.envFrom).toEqual(watcher.envFrom);
    expect(container.env).toEqual([{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'reelboard-secrets', key: 'DATABASE_URL' } } }]);
    const config = named(manifests, 'ConfigMap', container.envFrom[0].configMapRef.name).data as Record<string, string>;
    for (const name of ['RPC_URL', 'CHAIN_ID', 'MERCHANT_ADDRESS', 'CONFIRMATIONS']) expect(Object.keys(config), name).toContain(name);
  });

  it('has an alert on its CronJob', () => {
    const rule = readManifests(join(k8sRoot, 'monitoring')).find((m) => m.doc.kind === 'PrometheusRule')!.doc;
    const alert = rule.spec.groups.flatMap((g: Obj) => g.rules).find((a: Obj) => a.alert === 'LedgerReconcileFailing');
    expect(alert.expr).toContain(`cronjob="${cron.metadata.name}"`);
  });
});

/** Kustomize's strategic merge for the shapes our patches use: maps merge, lists of named items merge by name. */
function strategicMerge(target: unknown, patch: unknown): unknown {
  if (Array.isArray(target) && Array.isArray(patch) && [...target, ...patch].every((item) => item && typeof item === 'object' && 'name' in item)) {
    const merged = target.map((item) => {
      const update = patch.find((p) => p.name === item.name);
      return update ? strategicMerge(item, update) : item;
    });
    return [...merged, ...patch.filter((p) => !target.some((item) => item.name === p.name))];
  }
  if (target && patch && typeof target === 'object' && typeof patch === 'object' && !Array.isArray(target) && !Array.isArray(patch)) {
    const result: Obj = { ...(target as Obj) };
    for (const [key, value] of Object.entries(patch as Obj)) result[key] = key in result ? strategicMerge(result[key], value) : value;
    return result;
  }
  return patch;
}

/** An overlay rendered: the base, its own resources, then its and its components' patches. */
function renderOverlay(dir: string): Obj[] {
  const k = kustomization(dir);
  const docs: Obj[] = [];
  for (const resource of k.resources as string[]) {
    const path = join(dir, resource);
    if (statSync(path).isDirectory()) {
      expect(relative(k8sRoot, path), `${dir}: ${resource}`).toBe('base');
      docs.push(...readManifests(path).map((m) => structuredClone(m.doc)));
    } else docs.push(...readDocs(path));
  }
  const patches = [
    ...(k.patches ?? []).map((p: Obj) => join(dir, p.path)),
    ...(k.components ?? []).flatMap((c: string) => (kustomization(join(dir, c)).patches ?? []).map((p: Obj) => join(dir, c, p.path))),
  ];
  for (const file of patches) {
    for (const patch of readDocs(file)) {
      const index = docs.findIndex((d) => d.kind === patch.kind && d.metadata.name === patch.metadata.name);
      expect(index, `${relative(k8sRoot, file)} patches ${patch.kind} ${patch.metadata.name}, which the base has`).toBeGreaterThanOrEqual(0);
      docs[index] = strategicMerge(docs[index], patch) as Obj;
    }
  }
  return docs;
}

describe('storage overlays (infra/k8s/overlays)', () => {
  const overlays: Record<string, string> = {
    efs: 'efs.csi.aws.com',
    filestore: 'filestore.csi.storage.gke.io',
    'azure-files': 'file.csi.azure.com',
    nfs: 'nfs.csi.k8s.io',
  };

  it('there is one per common ReadWriteMany class', () => {
    expect(readdirSync(join(k8sRoot, 'overlays')).sort()).toEqual(Object.keys(overlays).sort());
  });

  for (const [overlay, provisioner] of Object.entries(overlays)) {
    it(`${overlay}: a valid ${provisioner} class for the staging claim, writable by uid/gid 1000`, () => {
      const dir = join(k8sRoot, 'overlays', overlay);
      const rendered = renderOverlay(dir);
      for (const doc of rendered) expect(() => validateAgainstSchema(doc), `${overlay}: ${doc.kind} ${doc.metadata?.name}`).not.toThrow();
      const storageClass = rendered.find((d) => d.kind === 'StorageClass')!;
      expect(storageClass.provisioner).toBe(provisioner);
      const claim = rendered.find((d) => d.kind === 'PersistentVolumeClaim' && d.metadata.name === 'staging')!;
      expect(claim.spec.storageClassName).toBe(storageClass.metadata.name);
      expect(claim.spec.accessModes).toEqual(['ReadWriteMany']);
      expect(claim.metadata.namespace).toBe('reelboard');
      // Ownership: the class itself presents files as 1000 (EFS access point, SMB mount options),
      // or a pod makes the volume's root belong to 1000 before the services write to it.
      const params = storageClass.parameters ?? {};
      const options: string[] = storageClass.mountOptions ?? [];
      const classOwns = (params.uid === '1000' && params.gid === '1000') || (options.includes('uid=1000') && options.includes('gid=1000'));
      const initOwns = rendered
        .filter((d) => d.kind === 'Deployment')
        .some((d) => {
          const spec = d.spec.template.spec;
          const stagingVolume = spec.volumes.find((v: Obj) => v.persistentVolumeClaim?.claimName === 'staging')?.name;
          return (spec.initContainers ?? []).some(
            (init: Obj) =>
              init.volumeMounts?.some((m: Obj) => m.name === stagingVolume && m.mountPath === '/data/staging') &&
              init.command.join(' ').includes('chown 1000:1000 /data/staging') &&
              init.securityContext?.capabilities?.add?.includes('CHOWN'),
          );
        });
      expect(classOwns || initOwns, `${overlay}: uid 1000 can write`).toBe(true);
      // Every rendered Deployment still passes the project's rules.
      for (const d of rendered.filter((doc) => doc.kind === 'Deployment')) expect(deploymentProblems(d, 'reelboard-config', 'reelboard-secrets')).toEqual([]);
    });
  }
});
