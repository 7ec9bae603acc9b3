// GET /healthz and /readyz: what Docker and Kubernetes probes ask. Pure functions of the
// AdminSource (null while the store is still opening), so the logic is unit-testable.
import { type AdminSource } from './source.js';

export interface ProbeReply {
  status: 200 | 503;
  body: { status: 'ok' | 'unavailable'; checks?: Record<string, boolean>; reason?: string };
}

/** Liveness: the process serves HTTP, so it is alive (even while recovering). */
export function healthz(): ProbeReply {
  return { status: 200, body: { status: 'ok' } };
}

/**
 * Readiness: the store is open, start-up recovery has finished, and the store takes writes
 * (not failing closed). A READONLY or QUIESCENT status is the operator's choice and stays ready:
 * consumers still need to reach the server to drain it.
 */
export async function readyz(source: AdminSource | null): Promise<ProbeReply> {
  if (!source)
    return {
      status: 503,
      body: { status: 'unavailable', checks: { store_open: false }, reason: 'starting: the store is being opened and recovered' },
    };
  const { store } = await source.global();
  const checks = { store_open: true, recovered: store.ready, writable: store.writable };
  if (!store.ready) return { status: 503, body: { status: 'unavailable', checks, reason: 'recovering' } };
  if (!store.writable) {
    const cause = store.fault ? ` (${store.fault})` : '';
    return { status: 503, body: { status: 'unavailable', checks, reason: `the store is failing closed${cause}: writes are refused` } };
  }
  return { status: 200, body: { status: 'ok', checks } };
}
