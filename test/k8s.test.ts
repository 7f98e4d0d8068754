import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { Redis } from 'ioredis';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Bus, connectRedis } from '@reelboard/bus';
import { createLogger } from '@reelboard/logger';
import { loadGatewayConfig } from '../services/api-gateway/src/config.js';
import { loadPaymentWatcherConfig } from '../services/payment-watcher/src/config.js';
import { loadPreviewConfig } from '../services/preview-extractor/src/config.js';
import { loadNotifierConfig } from '../services/notifier/src/config.js';
import { loadProfileWriterConfig } from '../services/profile-writer/src/config.js';
import { loadTranscoderConfig } from '../services/transcoder/src/config.js';
import { loadUploaderConfig } from '../services/uploader/src/config.js';
import { infraEnv, repoRoot } from './support/infra-env.js';

// The manifests in infra/k8s, checked offline: each document against the real Kubernetes (and
// KEDA) JSON schemas, then against the project's own rules, then each Deployment's environment
// against the schema its service validates at start-up.

const k8sDir = join(repoRoot, 'infra', 'k8s');
const SERVICES = ['api-gateway', 'payment-watcher', 'transcoder', 'preview-extractor', 'uploader', 'profile-writer', 'notifier'];
const PLACEHOLDER = 'CHANGE-ME';
/** What an operator would put where the ConfigMap and Secret say CHANGE-ME, so the rest can be checked. */
const OPERATOR_VALUES: Record<string, string> = {
  PUBLIC_URL: 'https://reelboard.example.com',
  CHAIN_ID: '8453',
  RPC_URL: 'https://rpc.example.com',
  MERCHANT_ADDRESS: '0x1111111111111111111111111111111111111111',
  ADMIN_TOKEN: 'an-operator-chosen-token-of-32-chars',
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
};

/** Throws naming the problem when a document is not a valid object of a known kind. */
function validateAgainstSchema(doc: Obj): void {
  const check = schemaChecks[`${doc.apiVersion}/${doc.kind}`];
  if (!check) throw new Error(`unknown kind ${doc.apiVersion}/${doc.kind}`);
  check(doc);
}

function readManifests(): Manifest[] {
  const manifests: Manifest[] = [];
  for (const file of manifestFiles()) {
    for (const parsed of parseAllDocuments(readFileSync(join(k8sDir, file), 'utf8'))) {
      if (parsed.errors.length) throw new Error(`${file}: ${parsed.errors.map((e) => e.message).join('; ')}`);
      const doc = parsed.toJS() as Obj | null;
      if (doc) manifests.push({ file, doc });
    }
  }
  return manifests;
}

function manifestFiles(): string[] {
  return readdirSync(k8sDir).filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml').sort();
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
  const decoded = Object.fromEntries(Object.entries((secret.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
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
  const httpPort = (container.ports ?? []).find((p: Obj) => p.name === 'http')?.containerPort;
  if (httpPort !== 8080) problems.push(`${name}: no container port named http on 8080`);
  const probe = (which: string, path: string) => {
    const get = container[which]?.httpGet;
    if (get?.path !== path || (get.port !== 'http' && get.port !== 8080)) problems.push(`${name}: ${which} must GET ${path} on port 8080`);
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
  if (!(container.envFrom ?? []).some((s: Obj) => s.configMapRef?.name === configMapName)) problems.push(`${name}: env does not come from ConfigMap ${configMapName}`);
  const fromSecret =
    (container.envFrom ?? []).some((s: Obj) => s.secretRef?.name === secretName) ||
    (container.env ?? []).some((e: Obj) => e.valueFrom?.secretKeyRef?.name === secretName);
  if (!fromSecret) problems.push(`${name}: env does not come from Secret ${secretName}`);
  if (!container.resources?.requests?.cpu || !container.resources?.limits?.memory) problems.push(`${name}: needs cpu requests and memory limits`);
  const annotations = deployment.spec?.template?.metadata?.annotations ?? {};
  if (annotations['prometheus.io/scrape'] !== 'true' || annotations['prometheus.io/port'] !== '8080' || annotations['prometheus.io/path'] !== '/metrics') {
    problems.push(`${name}: prometheus scrape annotations missing`);
  }
  return problems;
}

type ServiceConfig = { PORT: number; SHUTDOWN_GRACE_MS: number; STAGING_DIR: string };
const configLoaders: Record<string, (env: NodeJS.ProcessEnv) => ServiceConfig> = {
  'api-gateway': loadGatewayConfig,
  'payment-watcher': loadPaymentWatcherConfig,
  transcoder: loadTranscoderConfig,
  'preview-extractor': loadPreviewConfig,
  uploader: loadUploaderConfig,
  'profile-writer': loadProfileWriterConfig,
  notifier: loadNotifierConfig,
};

/** The Redis list KEDA must watch: BullMQ keeps a queue's waiting jobs in `<prefix>:<queue>:wait`. */
const transcoderWaitList = (prefix: string) => `${prefix}:payment.confirmed:wait`;

const manifests = readManifests();
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
    for (const d of deployments) expect(d.spec.template.spec.containers[0].image).toBe(`reelboard/${d.metadata.name}:latest`);
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
      expect(problems.some((p) => expected.test(p)), String(expected)).toBe(true);
    }
  });

  it('each service accepts its environment, listens where the probes look and outlives its shutdown grace', () => {
    for (const d of deployments) {
      const name = d.metadata.name as string;
      const config = configLoaders[name]!(withOperatorValues(containerEnv(d, manifests)));
      expect(config.PORT, name).toBe(8080);
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
    expect([...variables].sort()).toEqual(['ADMIN_TOKEN', 'CHAIN_ID', 'MERCHANT_ADDRESS', 'PUBLIC_URL', 'RPC_URL', 'VAPID_PUBLIC_KEY']);
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
  const trigger = scaledObject.spec.triggers[0];

  it('scales the transcoder Deployment on its BullMQ wait list, within bounds', () => {
    expect(scaledObject.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'transcoder' });
    expect(scaledObject.spec.triggers).toHaveLength(1);
    expect(trigger.type).toBe('redis');
    expect(trigger.metadata.listName).toBe(transcoderWaitList(configMap.data.REDIS_PREFIX));
    expect(Number(trigger.metadata.listLength)).toBeGreaterThan(0);
    expect(scaledObject.spec.minReplicaCount).toBe(1);
    expect(scaledObject.spec.maxReplicaCount).toBeGreaterThan(scaledObject.spec.minReplicaCount);
    // KEDA owns the replica count; a `replicas:` in the Deployment would reset it on every apply.
    expect(deployment('transcoder').spec.replicas).toBeUndefined();
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

  it('gives each replica one encode with as many ffmpeg threads as it requests cores', () => {
    const transcoder = deployment('transcoder');
    const config = loadTranscoderConfig(withOperatorValues(containerEnv(transcoder, manifests)));
    expect(config.TRANSCODE_CONCURRENCY).toBe(1);
    expect(config.TRANSCODE_CONCURRENCY * config.FFMPEG_THREADS).toBe(cores(transcoder.spec.template.spec.containers[0].resources.requests.cpu));
  });

  describe('against real Redis', () => {
    let redis: Redis;
    let bus: Bus;
    const prefix = `k8stest-${Date.now().toString(36)}`;

    beforeAll(() => {
      redis = connectRedis(infraEnv().REDIS_URL ?? '', 'k8s-test');
      bus = new Bus(redis, prefix, 'k8s-test', createLogger('k8s-test', 'error'));
    });

    afterAll(async () => {
      await bus.queue('payment.confirmed').obliterate({ force: true });
      await bus.close(1_000);
      await redis.quit();
    });

    it('a waiting transcoder job is in the list KEDA counts', async () => {
      expect(await redis.llen(transcoderWaitList(prefix))).toBe(0);
      await bus.queue('payment.confirmed').add('payment.confirmed', { uploadId: 'k8s-test' }, { jobId: 'k8s-test.payment.confirmed' });
      expect(await redis.llen(transcoderWaitList(prefix))).toBe(1);
    });
  });
});
