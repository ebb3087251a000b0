// Cloud backups in the browser (src/client/snapshot.cc): a snapshot
// downloaded part by part, opened with Sub(UK, 1, "KWsnapsh"), its header
// required to name this account and this snapshot, every item checked to
// open under the vault key, and then staged for a restore request, asked
// in a session (the member kept the password) or through a recovery link
// (the member lost it too).
import { call } from "./api.js";
import * as c from "./crypto/primitives.js";
import { deriveSnapshotKey, openBackup, parseBackupHeader } from "./protocol/backup.js";
import type { Session } from "./vault.js";

export interface SnapshotInfo {
  id: string;
  state: string;
  size: number;
  parts: number;
  created_at: string;
}

export interface EncryptedItem {
  id: string;
  data: Uint8Array;
}

const FORMAT = "keyward-snapshot";
const BATCH_BYTES = 768 * 1024;
const BATCH_ITEMS = 5000;
const ITEM_LABEL = "keyward/v1/item";

function malformed(what: string): c.CryptoError {
  return new c.CryptoError("snapshot.malformed",
    `the cloud backup opened but its contents are not a Keyward vault (${what})`);
}

export function checkInfo(j: SnapshotInfo): SnapshotInfo {
  if (typeof j?.id !== "string" || !Number.isSafeInteger(j.size) || !Number.isSafeInteger(j.parts) ||
    j.parts < 1 || j.parts > 1024 || j.size < 1) {
    throw new c.CryptoError("server.bad_response", "The server described a cloud backup badly.");
  }
  return j;
}

export async function listSnapshots(): Promise<SnapshotInfo[]> {
  const r = await call<{ snapshots: SnapshotInfo[] }>("GET", "/v1/snapshots");
  return r.snapshots.map(checkInfo);
}

// The parts, joined; their sizes must add up to exactly info.size.
export async function download(info: SnapshotInfo, part: (n: number) => Promise<Uint8Array>,
  progress?: (done: number, total: number) => void): Promise<Uint8Array> {
  const file = new Uint8Array(info.size);
  let at = 0;
  for (let n = 0; n < info.parts; n++) {
    const data = await part(n);
    if (at + data.length > info.size) throw malformed("larger than announced");
    file.set(data, at);
    at += data.length;
    progress?.(at, info.size);
  }
  if (at !== info.size) throw malformed("smaller than announced");
  return file;
}

function itemOpens(session: { vaultKey: Uint8Array; accountId: string }, item: EncryptedItem): boolean {
  try {
    c.wipe(c.decrypt(session.vaultKey, item.data, c.ad(ITEM_LABEL, session.accountId, item.id)));
    return true;
  } catch {
    return false;
  }
}

// DecodeSnapshot: refuses a local backup, another account's or another
// snapshot's file (snapshot.other_snapshot), a bad structure
// (snapshot.malformed) and an item that does not open (snapshot.bad_item).
export function decodeSnapshot(keys: { vaultKey: Uint8Array; accountId: string }, file: Uint8Array,
  snapshotId: string): EncryptedItem[] {
  if (!parseBackupHeader(file).header.cloud) throw malformed("a local backup, not a cloud one");
  const key = deriveSnapshotKey(keys.vaultKey);
  let opened;
  try {
    opened = openBackup(key, file);
  } finally {
    c.wipe(key);
  }
  try {
    if (opened.header.accountId !== keys.accountId || opened.header.snapshotId !== snapshotId) {
      throw new c.CryptoError("snapshot.other_snapshot",
        "the server sent another cloud backup than the one asked for; nothing was restored");
    }
    const r = opened.records;
    if (r.length < 2) throw malformed("no records");
    const json = (bytes: Uint8Array) => {
      try {
        const j = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
        if (j === null || typeof j !== "object" || Array.isArray(j)) throw new Error();
        return j as Record<string, unknown>;
      } catch {
        throw malformed("not JSON");
      }
    };
    const meta = json(r[0]);
    const end = json(r[r.length - 1]);
    const n = r.length - 2;
    if (meta.format !== FORMAT) throw malformed("format");
    if (meta.items !== n || end.end !== n) throw malformed("item count");
    const items: EncryptedItem[] = [];
    const seen = new Set<string>();
    for (let i = 1; i <= n; i++) {
      const rec = r[i];
      if (rec.length < 9 || rec[0] !== 1) throw malformed("item record");
      const view = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
      const idSize = view.getUint32(1);
      if (idSize === 0 || idSize > 64 || rec.length < 9 + idSize) throw malformed("item id");
      const id = new TextDecoder().decode(rec.subarray(5, 5 + idSize));
      const dataSize = view.getUint32(5 + idSize);
      if (dataSize === 0 || rec.length !== 9 + idSize + dataSize) throw malformed("item data");
      const item = { id, data: rec.slice(9 + idSize) };
      if (seen.has(id)) throw malformed("an item twice");
      seen.add(id);
      if (!itemOpens(keys, item)) {
        throw new c.CryptoError("snapshot.bad_item",
          `item ${id} does not open with this vault's key (tampered or moved); refused`);
      }
      items.push(item);
    }
    return items;
  } finally {
    c.wipe(opened.plaintext);
  }
}

// StageItems: calls of at most 768 KiB and 5,000 items.
export async function stage(items: EncryptedItem[], send: (body: { items: { id: string; data: string }[] }) => Promise<void>,
  progress?: (done: number, total: number) => void): Promise<void> {
  let list: { id: string; data: string }[] = [];
  let bytes = 32;
  let done = 0;
  const flush = async () => {
    if (!list.length) return;
    await send({ items: list });
    done += list.length;
    progress?.(done, items.length);
    list = [];
    bytes = 32;
  };
  for (const item of items) {
    const size = item.id.length + Math.ceil((item.data.length * 4) / 3) + 32;
    if (list.length && (bytes + size > BATCH_BYTES || list.length >= BATCH_ITEMS)) await flush();
    list.push({ id: item.id, data: c.base64url(item.data) });
    bytes += size;
  }
  await flush();
}

interface RestoreRequest {
  id: string;
  status: string;
  kind: string;
  snapshot_id: string | null;
  link: boolean;
  item_count: number;
  expires_at: string;
  org_id: string;
}

// RequestCloudRestore, signed in: download, check, ask (or take up the
// same pending request cut short), stage. The admins' approval does the
// rollback; every other device is then unpaired.
export async function requestCloudRestore(session: Session, info: SnapshotInfo,
  progress: (what: string, done: number, total: number) => void): Promise<RestoreRequest> {
  await c.init();
  const file = await download(info, async (n) => {
    const r = await call<{ data: string }>("GET", `/v1/snapshots/${encodeURIComponent(info.id)}/parts/${n}`);
    return c.fromBase64url(r.data);
  }, (d, t) => progress("Downloading", d, t));
  const items = decodeSnapshot(session, file, info.id);
  const open = (await call<{ request: RestoreRequest | null }>("GET", "/v1/restores/current")).request;
  let request: RestoreRequest;
  if (open && open.kind === "restore" && open.snapshot_id === info.id && !open.link &&
    open.status === "pending" && open.item_count === items.length) {
    request = open;
  } else {
    request = await call<RestoreRequest>("POST", "/v1/restores", {
      snapshot_id: info.id, device_name: "Web browser", item_count: items.length,
      acknowledge: "unpair_other_devices",
    });
  }
  await stage(items, async (body) => {
    await call("POST", `/v1/restores/${encodeURIComponent(request.id)}/items`, body);
  }, (d, t) => progress("Sending", d, t));
  return request;
}
