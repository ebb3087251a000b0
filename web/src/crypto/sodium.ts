// libsodium for the browser and for node's test runner: the one place that
// loads it. Everything else calls the functions of primitives.ts.
//
// Loaded on demand (a dynamic import: its own chunk, 1 MB with the
// WebAssembly inside), so the sign-in page is interactive before it has
// arrived; main.ts starts fetching it as soon as the first page is drawn.
import type sodiumModule from "libsodium-wrappers-sumo";

export type Sodium = typeof sodiumModule;

let ready: Promise<Sodium> | undefined;

// Resolves once libsodium (WebAssembly) is initialised; idempotent.
export function loadSodium(): Promise<Sodium> {
  ready ??= import("libsodium-wrappers-sumo").then(async (m) => {
    const sodium = (m.default ?? m) as Sodium;
    await sodium.ready;
    return sodium;
  });
  return ready;
}
