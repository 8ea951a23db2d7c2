/**
 * One instance per process of a piece of shared state, whichever copy of the package asks:
 * the CLI bundle, the ESM build and the CommonJS build that users' migrations import are
 * separate module instances, and they must share the capture recorder and the runner.
 * @internal
 */
export function processSingleton<T>(key: string, create: () => T): T {
  const registry = globalThis as unknown as Record<symbol, T | undefined>;
  const symbol = Symbol.for(`knex-zero-downtime:${key}`);
  return (registry[symbol] ??= create());
}
