// What the vector tests share: reading tests/vectors/*.json (or
// $KEYWARD_VECTORS), their rows with a floor on how many (an emptied file
// must fail), hex, and the error code a call throws.
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

import * as c from "../src/crypto/primitives.js";

export type Json = Record<string, any>;

export function load(name: string): Json {
  const dir = process.env.KEYWARD_VECTORS ?? new URL("../../../tests/vectors/", import.meta.url);
  return JSON.parse(readFileSync(new URL(name, dir instanceof URL ? dir : `file://${dir}/`), "utf8"));
}

// The rows of `key`, at least `min` of them: objects, or strings.
export function rows(doc: Json, key: string, min: number): any[] {
  const r = doc[key];
  assert.ok(Array.isArray(r) && r.length >= min, `${key}: at least ${min} rows`);
  return r;
}

export const h = c.fromHex;

// The CryptoError code `f` throws, "ok" when it returns.
export function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof c.CryptoError ? e.code : String(e);
  }
  return "ok";
}
