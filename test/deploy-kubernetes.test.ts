// The Kubernetes base (deploy/kubernetes): every manifest is valid against the Kubernetes schemas
// (kubernetes-models builds the typed object and validate() checks it), and the pieces fit each
// other: the Service selects the pods, the probes name real ports, the server listens where the
// probes and the Service look, the security context is restrictive.
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const DIR = resolve(import.meta.dirname, '../deploy/kubernetes');

interface Kustomization {
  apiVersion: string;
  kind: string;
  resources: string[];
  images?: { name: string; newTag?: string }[];
}

function docs(file: string): unknown[] {
  return parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
    expect(d.errors, `${file}: YAML errors`).toEqual([]);
    return d.toJS();
  });
}

const kustomization = docs('kustomization.yaml')[0] as Kustomization;
const objects = kustomization.resources.flatMap(docs) as { kind: string }[];
const only = <T>(kind: string, Model: new (data: never) => T): T => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  const model = new Model(found[0] as never);
  (model as { validate(): void }).validate();
  return model;
};

describe('deploy/kubernetes', () => {
  it('kustomization lists every manifest in the folder, and only those', () => {
    expect(kustomization.apiVersion).toBe('kustomize.config.k8s.io/v1beta1');
    expect(kustomization.kind).toBe('Kustomization');
    const manifests = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(manifests.sort());
  });

  it('validates against the Kubernetes schemas', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['PodDisruptionBudget', 'Service', 'StatefulSet']);
    only('StatefulSet', StatefulSet);
    only('Service', Service);
    only('PodDisruptionBudget', PodDisruptionBudget);
  });

  it('a schema violation is caught (the validation is real)', () => {
    const bad = structuredClone(objects.find((o) => o.kind === 'StatefulSet')) as unknown as { spec: { replicas: unknown } };
    bad.spec.replicas = 'three';
    expect(() => new StatefulSet(bad as never).validate()).toThrow(/replicas/);
  });

  const sts = only('StatefulSet', StatefulSet);
  const svc = only('Service', Service);
  const pdb = only('PodDisruptionBudget', PodDisruptionBudget);
  const pod = sts.spec!.template.spec!;
  const container = pod.containers[0]!;
  const podLabels = sts.spec!.template.metadata!.labels!;

  it('a headless Service that selects the pods, named as the StatefulSet says', () => {
    expect(svc.spec!.clusterIP).toBe('None');
    expect(sts.spec!.serviceName).toBe(svc.metadata!.name);
    for (const [k, v] of Object.entries(svc.spec!.selector!)) expect(podLabels[k]).toBe(v);
    for (const [k, v] of Object.entries(sts.spec!.selector.matchLabels!)) expect(podLabels[k]).toBe(v);
    for (const [k, v] of Object.entries(pdb.spec!.selector!.matchLabels!)) expect(podLabels[k]).toBe(v);
    const ports = Object.fromEntries(svc.spec!.ports!.map((p) => [p.name, p]));
    expect(ports.memcache!.port).toBe(22133);
    expect(ports.admin!.port).toBe(9090);
  });

  it('the server listens on every interface and serves admin where the probes look', () => {
    const args = container.args!;
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag('-listen')).toBe('0.0.0.0:22133');
    expect(flag('-admin')).toBe('0.0.0.0:9090');
    expect(flag('-data')).toBe(container.volumeMounts![0]!.mountPath);
    const named = Object.fromEntries(container.ports!.map((p) => [p.name, p.containerPort]));
    expect(named).toEqual({ memcache: 22133, admin: 9090 });
    for (const svcPort of svc.spec!.ports!) expect(named[svcPort.targetPort as string]).toBe(svcPort.port);
    expect(container.readinessProbe!.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(container.livenessProbe!.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(container.startupProbe!.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    const annotations = sts.spec!.template.metadata!.annotations!;
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(annotations['prometheus.io/port']).toBe(String(named.admin));
  });

  it('one volume per pod from a claim template, mounted at /data', () => {
    const claims = sts.spec!.volumeClaimTemplates!;
    expect(claims.map((c) => c.metadata!.name)).toEqual([container.volumeMounts![0]!.name]);
    expect(claims[0]!.spec!.accessModes).toEqual(['ReadWriteOnce']);
  });

  it('restrictive security: non-root, read-only root, no escalation, no capabilities', () => {
    expect(pod.securityContext!.runAsNonRoot).toBe(true);
    expect(pod.securityContext!.runAsUser).not.toBe(0);
    expect(pod.securityContext!.seccompProfile!.type).toBe('RuntimeDefault');
    expect(pod.automountServiceAccountToken).toBe(false);
    const sc = container.securityContext!;
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.capabilities!.drop).toEqual(['ALL']);
  });

  it('resources sized from the measured RSS, grace long enough to drain, one pod down at a time', () => {
    const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? NaN);
    const { requests, limits } = container.resources!;
    // Steady use is 75–100 MB, peaks ~140 MB (docs/benchmarks.md): the request covers steady
    // use, the limit covers peaks with room.
    expect(mib(requests!.memory as string)).toBeGreaterThanOrEqual(128);
    expect(mib(limits!.memory as string)).toBeGreaterThanOrEqual(2 * 140);
    expect(limits!.cpu).toBeDefined();
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    expect(pdb.spec!.maxUnavailable).toBe(1);
  });
});
