// libsodium for the browser and for node's test runner: the one place that
// loads it. Everything else calls the functions of primitives.ts.
import sodiumModule from "libsodium-wrappers-sumo";

export type Sodium = typeof sodiumModule;

let ready: Promise<Sodium> | undefined;

// Resolves once libsodium (WebAssembly) is initialised; idempotent.
export function loadSodium(): Promise<Sodium> {
  ready ??= sodiumModule.ready.then(() => sodiumModule);
  return ready;
}
