/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return -- manifests are untyped YAML walked by path; their schema validation (the first test) is what types them */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { INestApplication } from '@nestjs/common';
import { parse, parseAllDocuments } from 'yaml';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Kafka, KafkaNodePool, KafkaTopic } from '@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1beta2';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ALL_ROLES } from '#apps/all-in-one/src/all-roles.js';
import { configSchema, loadConfig } from '#libs/config';
import { EVENT_TOPICS } from '#libs/events';
import { topicCatalog, topicConfigEntries } from '#libs/kafka';
import type { KafkaBatchServerOptions } from '#libs/messaging';
import { CONFIG, LOGGER } from '#libs/platform';
import { KAFKA_CLUSTER, KAFKA_TOPICS_FILE, PRODUCTION_CATALOG, renderKafkaTopics } from './kafka-topics.js';

/**
 * The deploy artifacts, checked offline: every manifest parses and validates against the Kubernetes (and KEDA,
 * Strimzi) schemas, the generated topics are the catalog's, every role has a Deployment with probes and resources,
 * the autoscalers watch the consumer groups the code really uses, and the Kustomize trees are complete.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K8S = join(ROOT, 'deploy/k8s');

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Manifest {
  readonly file: string;
  readonly doc: Doc;
}

const walk = (dir: string): string[] =>
  readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });

const yamlFiles = walk(K8S).filter((f) => f.endsWith('.yaml'));
const isKustomization = (file: string) => file.endsWith('/kustomization.yaml');

function parseFile(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const errors = docs.flatMap((d) => d.errors.map((e) => e.message));
  assert.deepEqual(errors, [], `${relative(ROOT, file)} does not parse`);
  return docs.map((d) => d.toJS() as unknown).filter((d): d is Doc => d !== null);
}

/** Every Kubernetes object of every manifest (kustomization files excluded). */
const manifests: Manifest[] = yamlFiles
  .filter((f) => !isKustomization(f))
  .flatMap((file) => parseFile(file).map((doc) => ({ file: relative(ROOT, file), doc })));

const byKind = (kind: string, from: readonly Manifest[] = manifests) => from.filter((m) => m.doc.kind === kind);
const named = (kind: string, name: string) => byKind(kind).find((m) => m.doc.metadata?.name === name)?.doc;

interface Validator {
  validate(): void;
}
const MODELS: Record<string, new (data: never) => Validator> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'kafka.strimzi.io/v1beta2/Kafka': Kafka,
  'kafka.strimzi.io/v1beta2/KafkaNodePool': KafkaNodePool,
  'kafka.strimzi.io/v1beta2/KafkaTopic': KafkaTopic,
};

/** The schema's verdict on one object, or why it has none. */
function schemaErrors(doc: Doc): string | undefined {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) return `no schema for ${doc.apiVersion} ${doc.kind}`;
  try {
    new Model(doc as never).validate();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const container = (deployment: Doc): Doc => deployment.spec.template.spec.containers[0] as Doc;
const envOf = (deployment: Doc, name: string): string | undefined =>
  (container(deployment).env as Doc[] | undefined)?.find((e) => e.name === name)?.value as string | undefined;
/** Every label of `selector` is on `labels`. */
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);

const deployments = byKind('Deployment');
/** The platform's own Deployments: those running the one image (the registry runs its own). */
const roleDeployments = deployments.filter((m) => container(m.doc).image === 'orchestrator');
const config = named('ConfigMap', 'orchestrator-config')?.data as Record<string, string>;

/** The consumer groups and topics each role really subscribes, from the roles' own transports, with no broker. */
function consumerGroups(): Map<string, { role: string; topics: string[] }> {
  const appConfig = loadConfig({
    NODE_ENV: 'test',
    WORKER_TYPES: 'function,http_request,agent',
    LLM_BASE_URL: 'http://127.0.0.1:1/v1',
  });
  const logger = { child: () => logger };
  const app = {
    get: (token: unknown) => (token === CONFIG ? appConfig : token === LOGGER ? logger : { track: () => undefined }),
  } as unknown as INestApplication;
  const groups = new Map<string, { role: string; topics: string[] }>();
  for (const role of ALL_ROLES) {
    for (const server of role.transports?.(app) ?? []) {
      const { groupId, topics } = (server as unknown as { options: KafkaBatchServerOptions }).options;
      groups.set(groupId, { role: role.name, topics: [...topics] });
    }
  }
  return groups;
}

describe('deploy: Kubernetes manifests', () => {
  it('every YAML file under deploy/k8s parses, and every object validates against its schema', () => {
    assert.ok(manifests.length > 20, `only ${manifests.length} objects found`);
    const failures = manifests
      .map((m) => ({ at: `${m.file}: ${m.doc.kind} ${m.doc.metadata?.name}`, error: schemaErrors(m.doc) }))
      .filter((f) => f.error !== undefined);
    assert.deepEqual(failures, []);
    for (const { file, doc } of manifests) {
      assert.match(String(doc.metadata?.name), /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, `${file}: metadata.name`);
    }
  });

  it('the schema validation catches a broken object (a probe port as an object, a missing selector)', () => {
    const api = structuredClone(named('Deployment', 'api')!);
    assert.equal(schemaErrors(api), undefined);
    container(api).livenessProbe.httpGet.port = { name: 'http' };
    assert.match(schemaErrors(api) ?? '', /port/);
    const pdb = structuredClone(named('PodDisruptionBudget', 'api')!);
    (pdb.spec as Doc).maxUnavailable = [1];
    assert.ok(schemaErrors(pdb));
    const scaled = structuredClone(named('ScaledObject', 'coordinator')!);
    delete (scaled.spec as Doc).scaleTargetRef;
    assert.ok(schemaErrors(scaled));
  });

  it('every role of the code has a Deployment of the one image, with probes, resources and a PDB', () => {
    const roles = new Set(roleDeployments.map((m) => (container(m.doc).args as string[])[0]));
    for (const role of ALL_ROLES) assert.ok(roles.has(role.name), `no Deployment runs the ${role.name} role`);
    for (const role of roles) {
      assert.ok(
        ALL_ROLES.some((r) => r.name === role),
        `a Deployment runs ${role}, which is no role`,
      );
    }
    // A worker Deployment per node type WORKER_TYPES accepts (one consumer group per type), each dispatch topic's.
    const workerTypes = (configSchema.shape.WORKER_TYPES.out as unknown as { element: { options: string[] } }).element
      .options;
    assert.ok(workerTypes.length > 0);
    for (const type of workerTypes) assert.ok(EVENT_TOPICS.includes(`node.dispatch.${type}` as never), type);
    const workers = roleDeployments.filter((m) => (container(m.doc).args as string[])[0] === 'worker');
    assert.deepEqual(workers.map((m) => envOf(m.doc, 'WORKER_TYPES')).sort(), [...workerTypes].sort());

    const pdbs = byKind('PodDisruptionBudget');
    for (const { file, doc } of deployments) {
      const name = doc.metadata.name as string;
      const labels = doc.spec.template.metadata.labels as Record<string, string>;
      assert.ok(selects(doc.spec.selector.matchLabels, labels), `${name}: selector does not match its pods`);
      for (const c of doc.spec.template.spec.containers as Doc[]) {
        const ports = new Set((c.ports as Doc[]).flatMap((p) => [p.name, p.containerPort]));
        for (const probe of ['livenessProbe', 'readinessProbe'] as const) {
          assert.ok(c[probe]?.httpGet, `${file}: ${name}/${c.name} has no ${probe}`);
          assert.ok(ports.has(c[probe].httpGet.port), `${name}: ${probe} on a port the container does not declare`);
        }
        for (const kind of ['requests', 'limits'] as const) {
          for (const resource of ['cpu', 'memory']) {
            assert.ok(c.resources?.[kind]?.[resource], `${file}: ${name}/${c.name} has no ${kind}.${resource}`);
          }
        }
      }
      assert.ok(
        pdbs.some((p) => selects(p.doc.spec.selector.matchLabels, labels)),
        `${name} has no PodDisruptionBudget`,
      );
    }
    for (const { doc } of roleDeployments) {
      const c = container(doc);
      assert.equal(c.livenessProbe.httpGet.path, '/livez', doc.metadata.name);
      assert.equal(c.readinessProbe.httpGet.path, '/readyz', doc.metadata.name);
      assert.ok(
        (c.envFrom as Doc[]).some((e) => e.configMapRef?.name === 'orchestrator-config'),
        `${doc.metadata.name} does not read the ConfigMap`,
      );
      assert.ok(
        (c.envFrom as Doc[]).some((e) => e.secretRef?.name === 'orchestrator-secrets'),
        `${doc.metadata.name} does not read the Secret`,
      );
      assert.equal(doc.spec.template.spec.securityContext.runAsNonRoot, true, doc.metadata.name);
    }
  });

  it('the autoscalers: KEDA on the real consumer groups and topics for coordinators and workers, an HPA for the api', () => {
    const groups = consumerGroups();
    const scaled = byKind('ScaledObject');
    const hpas = byKind('HorizontalPodAutoscaler');
    const partitions = Number(config.KAFKA_PARTITIONS);
    for (const { doc } of roleDeployments) {
      const role = (container(doc).args as string[])[0];
      const name = doc.metadata.name as string;
      const keda = scaled.filter((s) => s.doc.spec.scaleTargetRef.name === name);
      const hpa = hpas.filter((h) => h.doc.spec.scaleTargetRef.name === name);
      assert.ok(keda.length + hpa.length <= 1, `${name} has two autoscalers`);
      if (keda.length + hpa.length === 1) {
        assert.equal(doc.spec.replicas, undefined, `${name} is autoscaled: spec.replicas would fight the autoscaler`);
      }
      if (role === 'api') assert.equal(hpa.length, 1, 'the api has no HPA');
      if (role !== 'coordinator' && role !== 'worker') continue;
      assert.equal(keda.length, 1, `${name} has no ScaledObject`);
      const spec = keda[0]!.doc.spec as Doc;
      const triggers = spec.triggers as Doc[];
      const group = triggers[0]!.metadata.consumerGroup as string;
      const real = groups.get(`${config.KAFKA_TOPIC_PREFIX ?? ''}${group}`);
      assert.ok(real, `${name}: consumer group ${group} is none of the code's (${[...groups.keys()].join(', ')})`);
      assert.equal(real.role, role, `${name}: group ${group} belongs to the ${real.role} role`);
      if (role === 'worker') assert.equal(group, `worker-${envOf(doc, 'WORKER_TYPES')}`);
      assert.deepEqual(
        triggers.map((t) => t.metadata.topic as string).sort(),
        real.topics.map((t) => `${config.KAFKA_TOPIC_PREFIX ?? ''}${t}`).sort(),
        `${name}: the triggers must watch every topic of group ${group}`,
      );
      for (const t of triggers) {
        assert.equal(t.type, 'kafka');
        assert.equal(t.metadata.consumerGroup, group, `${name}: one group for every trigger`);
        assert.equal(t.metadata.bootstrapServers, config.KAFKA_BROKERS);
        assert.match(String(t.metadata.lagThreshold), /^[1-9][0-9]*$/);
      }
      assert.ok(spec.minReplicaCount >= 2, `${name}: fewer than 2 replicas`);
      assert.ok(spec.maxReplicaCount <= partitions, `${name}: more replicas than partitions sit idle`);
      if (role === 'coordinator') {
        // Coordinators past the number of transaction groups own nothing; many more groups, more transactions.
        assert.equal(
          Number(config.COORDINATOR_PARTITION_GROUPS),
          spec.maxReplicaCount,
          `${name}: COORDINATOR_PARTITION_GROUPS is its maxReplicaCount`,
        );
      }
    }
  });

  it('the generated KafkaTopic resources are the topic catalog, exactly, and the file is not stale', async () => {
    const file = join(ROOT, KAFKA_TOPICS_FILE);
    assert.equal(
      readFileSync(file, 'utf8'),
      await renderKafkaTopics(),
      `${KAFKA_TOPICS_FILE} is stale: run npm run deploy:topics`,
    );
    const topics = byKind('KafkaTopic').map((m) => m.doc);
    assert.ok(topics.every((t) => manifests.find((m) => m.doc === t)?.file === KAFKA_TOPICS_FILE));
    const catalog = topicCatalog(PRODUCTION_CATALOG);
    assert.deepEqual(topics.map((t) => t.spec.topicName as string).sort(), catalog.map((s) => s.name).sort());
    for (const spec of catalog) {
      const topic = topics.find((t) => t.spec.topicName === spec.name)!;
      assert.equal(topic.spec.partitions, spec.partitions, spec.name);
      assert.equal(topic.spec.replicas, spec.replicationFactor, spec.name);
      assert.equal(topic.metadata.labels['strimzi.io/cluster'], KAFKA_CLUSTER);
      const entries = topicConfigEntries(spec);
      for (const [key, value] of Object.entries(entries)) assert.equal(topic.spec.config[key], value, spec.name);
      assert.equal(topic.spec.config['min.insync.replicas'], '2', spec.name);
    }
    assert.equal(new Set(topics.map((t) => t.metadata.name)).size, topics.length, 'two topics share a resource name');
    // What the processes are told agrees with what the cluster gets.
    assert.equal(config.KAFKA_PARTITIONS, String(PRODUCTION_CATALOG.partitions));
    assert.equal(config.KAFKA_REPLICATION_FACTOR, String(PRODUCTION_CATALOG.replicationFactor));
    assert.equal(config.KAFKA_TOPIC_PREFIX, PRODUCTION_CATALOG.prefix);
  });

  it('Strimzi Kafka: KRaft, three nodes, min.insync.replicas=2, settings as the production broker profile', () => {
    const kafka = named('Kafka', KAFKA_CLUSTER);
    assert.ok(kafka, `no Kafka ${KAFKA_CLUSTER}`);
    assert.equal(kafka.metadata.annotations['strimzi.io/kraft'], 'enabled');
    assert.equal(kafka.metadata.annotations['strimzi.io/node-pools'], 'enabled');
    assert.ok(kafka.spec.entityOperator.topicOperator, 'no topic operator for the KafkaTopic resources');
    const pools = byKind('KafkaNodePool').filter((m) => m.doc.metadata.labels['strimzi.io/cluster'] === KAFKA_CLUSTER);
    const count = (role: string) =>
      pools.filter((p) => (p.doc.spec.roles as string[]).includes(role)).reduce((n, p) => n + p.doc.spec.replicas, 0);
    assert.ok(count('broker') >= 3 && count('controller') >= 3, 'three brokers and three controllers at least');
    const settings = kafka.spec.kafka.config as Record<string, unknown>;
    assert.equal(settings['min.insync.replicas'], 2);
    assert.equal(settings['default.replication.factor'], 3);
    const profile = new Map(
      readFileSync(join(ROOT, 'infra/kafka/config/production.properties'), 'utf8')
        .split('\n')
        .filter((l) => /^[a-z]/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()] as const),
    );
    for (const [key, value] of Object.entries(settings)) {
      if (profile.has(key)) assert.equal(String(value), profile.get(key), `${key} differs from production.properties`);
    }
    assert.equal(config.KAFKA_BROKERS, `${KAFKA_CLUSTER}-kafka-bootstrap:${kafka.spec.kafka.listeners[0].port}`);
  });

  it('services, network policies and the scrape config select pods that exist', () => {
    const podLabels = [...deployments, ...byKind('Job')].map(
      (m) => m.doc.spec.template.metadata.labels as Record<string, string>,
    );
    for (const { doc } of byKind('Service')) {
      assert.ok(
        deployments.some((d) => selects(doc.spec.selector, d.doc.spec.template.metadata.labels)),
        `Service ${doc.metadata.name} selects no pod`,
      );
    }
    assert.equal(config.FANOUT_URL, `http://fanout:${named('Service', 'fanout')!.spec.ports[0].port}`);
    const policies = byKind('NetworkPolicy');
    assert.ok(policies.some((p) => Object.keys(p.doc.spec.podSelector).length === 0 && !p.doc.spec.ingress));
    for (const { doc } of policies) {
      const selector = doc.spec.podSelector.matchLabels as Record<string, string> | undefined;
      if (selector)
        assert.ok(
          podLabels.some((l) => selects(selector, l)),
          `NetworkPolicy ${doc.metadata.name}`,
        );
      for (const rule of (doc.spec.ingress ?? []) as Doc[]) {
        for (const peer of (rule.from ?? []) as Doc[]) {
          if (peer.podSelector) assert.ok(podLabels.some((l) => selects(peer.podSelector.matchLabels, l)));
        }
      }
    }
    const scrape = parse(named('ConfigMap', 'orchestrator-prometheus-scrape')!.data['scrape-config.yaml']) as Doc[];
    const job = scrape[0]!;
    assert.equal(job.kubernetes_sd_configs[0].role, 'pod');
    assert.ok(job.authorization.credentials_file, 'off loopback /metrics needs METRICS_TOKEN');
    assert.equal(config.HOST, '0.0.0.0');
    for (const { doc } of roleDeployments) {
      const annotations = doc.spec.template.metadata.annotations as Record<string, string>;
      assert.equal(annotations['prometheus.io/scrape'], 'true', doc.metadata.name);
      assert.equal(annotations['prometheus.io/path'], '/metrics');
      assert.equal(Number(annotations['prometheus.io/port']), container(doc).ports[0].containerPort);
      assert.equal(Number(config.PORT), container(doc).ports[0].containerPort);
    }
  });

  it('the Secrets are templates: keys, tokens, passwords and URL credentials are placeholders', () => {
    const secrets = byKind('Secret');
    assert.ok(secrets.length > 0);
    for (const { doc } of secrets) {
      assert.equal(doc.data, undefined, `${doc.metadata.name}: base64 data hides what is committed`);
      for (const [key, value] of Object.entries(doc.stringData as Record<string, string>)) {
        const credential = /KEY|TOKEN|PASSWORD/.test(key) ? value : /\/\/[^/@:]+:([^@]*)@/.exec(value)?.[1];
        if (credential) assert.equal(credential, 'CHANGE_ME', `${doc.metadata.name}.${key} is not a placeholder`);
      }
    }
  });
});

describe('deploy: Kustomize trees', () => {
  const trees = yamlFiles.filter(isKustomization);

  it('every file a kustomization lists exists, and every manifest beside it is listed', () => {
    assert.ok(trees.length >= 3);
    for (const file of trees) {
      const dir = dirname(file);
      const kustomization = parse(readFileSync(file, 'utf8')) as Doc;
      const listed = [...(kustomization.resources ?? []), ...(kustomization.components ?? [])] as string[];
      for (const entry of listed) {
        const path = resolve(dir, entry);
        const exists = statSync(path, { throwIfNoEntry: false });
        assert.ok(exists, `${relative(ROOT, file)} lists ${entry}, which does not exist`);
        if (exists.isDirectory()) assert.ok(statSync(join(path, 'kustomization.yaml'), { throwIfNoEntry: false }));
      }
      const beside = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
      for (const name of beside) {
        assert.ok(listed.includes(name), `${relative(ROOT, join(dir, name))} is in no kustomization`);
      }
      // Patches target objects that exist.
      for (const patch of (kustomization.patches ?? []) as Doc[]) {
        const { kind, name } = patch.target as Doc;
        assert.ok(named(kind as string, name as string), `${relative(ROOT, file)} patches ${kind} ${name}: none`);
      }
    }
  });

  it('kubectl kustomize builds the base and the production overlay into valid objects (when kubectl exists)', async (t) => {
    const run = promisify(execFile);
    const found = await run('kubectl', ['version', '--client']).catch(() => undefined);
    if (!found) return t.skip('no kubectl on this machine: the file checks above stand in for a build');
    for (const dir of ['deploy/k8s/base', 'deploy/k8s/overlays/production']) {
      const { stdout } = await run('kubectl', ['kustomize', join(ROOT, dir)], { maxBuffer: 64 * 1024 * 1024 });
      const built = parseAllDocuments(stdout).map((d) => d.toJS() as Doc);
      const failures = built.map((d) => schemaErrors(d)).filter(Boolean);
      assert.deepEqual(failures, [], dir);
      assert.ok(built.every((d) => d.kind === 'Namespace' || d.metadata.namespace === 'orchestrator'));
      const images = built
        .filter((d) => d.kind === 'Deployment' || d.kind === 'Job')
        .map((d) => container(d).image as string)
        .filter((image) => !image.startsWith('apicurio/'));
      assert.equal(new Set(images).size, 1, `${dir}: one image for every role (${[...new Set(images)].join(', ')})`);
      if (dir.includes('production')) {
        assert.ok(built.some((d) => d.kind === 'Deployment' && d.metadata.name === 'worker-agent'));
        assert.equal(built.find((d) => d.kind === 'HorizontalPodAutoscaler')?.spec.minReplicas, 3);
      }
    }
  });
});

describe('deploy: image and compose', () => {
  const dockerfile = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
  const entrypoint = readFileSync(join(ROOT, 'deploy/entrypoint.sh'), 'utf8');

  it('the Dockerfile builds on the pinned Node, runs as a non-root user, checks /livez; the entrypoint knows every role', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    assert.match(
      dockerfile,
      new RegExp(`^ARG NODE_IMAGE=node:${pkg.devDependencies.node!.replace(/\./g, '\\.')}-bookworm-slim$`, 'm'),
    );
    assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^HEALTHCHECK [\s\S]*\/livez/m);
    for (const path of ['dist', 'schemas', 'migrations', 'node_modules', 'package.json']) {
      assert.match(dockerfile, new RegExp(`^COPY --from=build /app/${path} `, 'm'), `the runtime stage lacks ${path}`);
    }
    const cases = entrypoint.match(/^\s+api \|[^)]*\)/m)?.[0] ?? '';
    for (const role of [...ALL_ROLES.map((r) => r.name), 'all-in-one']) {
      assert.match(cases, new RegExp(`(^|[\\s|])${role}([\\s|)]|$)`), `the entrypoint does not start ${role}`);
    }
  });

  it('compose.yaml: every role from the one image, after the prepare job; Kafka, registry, Postgres, Redis', () => {
    const compose = parse(readFileSync(join(ROOT, 'deploy/compose.yaml'), 'utf8'), { merge: true }) as Doc;
    const services = compose.services as Record<string, Doc>;
    const platform = Object.entries(services).filter(([, s]) => String(s.image).includes('orchestrator'));
    assert.equal(new Set(platform.map(([, s]) => s.image as string)).size, 1, 'one image');
    const commands = platform.map(([, s]) => (s.command as string[])[0]);
    for (const role of ALL_ROLES) assert.ok(commands.includes(role.name), `no service runs ${role.name}`);
    assert.ok(commands.includes('prepare'));
    for (const [name, s] of platform) {
      if ((s.command as string[])[0] === 'prepare') continue;
      assert.equal(s.depends_on?.prepare?.condition, 'service_completed_successfully', name);
    }
    const images = Object.values(services).map((s) => String(s.image));
    for (const image of ['apache/kafka', 'apicurio/apicurio-registry', 'pgvector/pgvector', 'redis']) {
      assert.ok(
        images.some((i) => i.startsWith(image)),
        `no ${image} service`,
      );
    }
    for (const role of ['coordinator', 'worker']) {
      const replicas = platform
        .filter(([, s]) => (s.command as string[])[0] === role)
        .map(([, s]) => (s.deploy?.replicas as number | undefined) ?? 1);
      assert.ok(Math.min(...replicas) >= 2, `${role}: 2+ replicas`);
      if (role === 'coordinator') {
        const env = platform.find(([, s]) => (s.command as string[])[0] === role)?.[1].environment as Doc;
        assert.equal(env.COORDINATOR_PARTITION_GROUPS, replicas[0], 'one transaction group per coordinator');
      }
    }
  });
});
