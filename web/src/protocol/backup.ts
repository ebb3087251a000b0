// src/protocol/backup.h in the browser: the framing of a local backup file
// ("KWBACKUP", key Sub(Argon2id(password, salt, ops, mem), 1, "KWbackup"))
// and of a cloud snapshot ("KWSNAPSH", key Sub(UK, 1, "KWsnapsh")): a header
// in the clear, then records of a crypto_secretstream_xchacha20poly1305
// stream, the first with the whole header as associated data, the last
// tagged FINAL (docs/protocol.md "Local backup file", "Cloud snapshot").
//
//   local  = "KWBACKUP" ‖ 0x01 ‖ ops (u64 BE) ‖ mem (u64 BE) ‖ salt (16)
//            ‖ created_at (i64 BE) ‖ len (u8) ‖ account_id ‖ stream header (24)
//   cloud  = "KWSNAPSH" ‖ 0x01 ‖ created_at (i64 BE) ‖ len (u8) ‖ account_id
//            ‖ len (u8) ‖ snapshot_id ‖ stream header (24)
//   record = len (u32 BE) ‖ secretstream message (len bytes)
//
// What the records hold is the client's business; this frames and opens
// them, with the same refusals as the C++.
import * as c from "../crypto/primitives.js";

export const BACKUP_MAGIC = "KWBACKUP";
export const BACKUP_VERSION = 1;
export const BACKUP_CONTEXT = "KWbackup";
export const SNAPSHOT_MAGIC = "KWSNAPSH";
export const SNAPSHOT_VERSION = 1;
export const SNAPSHOT_CONTEXT = "KWsnapsh";
// Refused when reading, so a planted file cannot make the reader allocate or
// hash without bound.
export const MAX_BACKUP_RECORD = 16 * 1024 * 1024;
export const MAX_BACKUP_KDF_OPS = 64;
export const MAX_BACKUP_KDF_MEM = 4 * 1024 * 1024 * 1024;
const MAX_ID_SIZE = 64;

export interface BackupHeader {
  // A cloud snapshot's header has no KDF parameters and no salt (kdf
  // {0, 0} and an empty salt here), and names its snapshot.
  cloud: boolean;
  kdf: c.KdfParams;
  salt: Uint8Array; // SALT_SIZE
  createdAt: number; // unix seconds (i64 in the file)
  accountId: string; // 1..64 bytes
  snapshotId: string; // cloud: 1..64 bytes; "" otherwise
  streamHeader: Uint8Array; // STREAM_HEADER_SIZE
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8");

function u64(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, n));
  return out;
}

// As the C++: no checks (an id's length is written as one byte).
export function encodeBackupHeader(header: BackupHeader): Uint8Array {
  const parts = [c.utf8(header.cloud ? SNAPSHOT_MAGIC : BACKUP_MAGIC),
    Uint8Array.of(header.cloud ? SNAPSHOT_VERSION : BACKUP_VERSION)];
  if (!header.cloud) {
    parts.push(u64(BigInt(header.kdf.ops)), u64(BigInt(header.kdf.mem)), header.salt);
  }
  parts.push(u64(BigInt(header.createdAt)));
  const account = c.utf8(header.accountId);
  parts.push(Uint8Array.of(account.length & 0xff), account);
  if (header.cloud) {
    const snapshot = c.utf8(header.snapshotId);
    parts.push(Uint8Array.of(snapshot.length & 0xff), snapshot);
  }
  parts.push(header.streamHeader);
  return c.concat(...parts);
}

function badHeader(what: string): c.CryptoError {
  return new c.CryptoError("backup.bad_header", `the backup file's header is damaged (${what})`);
}

function startsWith(file: Uint8Array, magic: string): boolean {
  return file.length > magic.length && [...magic].every((ch, i) => file[i] === ch.charCodeAt(0));
}

export interface ParsedBackupHeader {
  header: BackupHeader;
  size: number; // of the header, in bytes: where the first record starts
}

// The header at the start of `file`. Errors: backup.not_a_backup,
// backup.unsupported_version, backup.bad_header, backup.kdf_out_of_range.
export function parseBackupHeader(file: Uint8Array): ParsedBackupHeader {
  const cloud = startsWith(file, SNAPSHOT_MAGIC);
  if (!cloud && !startsWith(file, BACKUP_MAGIC)) {
    throw new c.CryptoError("backup.not_a_backup", "this is not a Keyward backup file");
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let at = BACKUP_MAGIC.length;
  const has = (n: number) => file.length - at >= n;
  const take = (n: number) => {
    const out = file.slice(at, at + n);
    at += n;
    return out;
  };
  const readU64 = () => {
    const v = view.getBigUint64(at);
    at += 8;
    return v;
  };
  // A length-prefixed id of 1..64 bytes, or undefined.
  const readId = (): string | undefined => {
    if (!has(1)) return undefined;
    const size = file[at++];
    if (size === 0 || size > MAX_ID_SIZE || !has(size)) return undefined;
    const bytes = take(size);
    // Keyward writes ASCII ids; other bytes cannot be kept exactly in a
    // string (the C++ keeps them as bytes).
    try {
      return strictUtf8.decode(bytes);
    } catch {
      return lenientUtf8.decode(bytes);
    }
  };
  const supported = cloud ? SNAPSHOT_VERSION : BACKUP_VERSION;
  const version = file[at++];
  if (version !== supported) {
    throw new c.CryptoError("backup.unsupported_version", `backup format version ${version} is ` +
      `not supported by this keyward (it reads version ${supported})`);
  }
  let ops = 0n;
  let mem = 0n;
  let salt = new Uint8Array(0);
  if (!cloud) {
    if (!has(8 + 8 + c.SALT_SIZE)) throw badHeader("too short");
    ops = readU64();
    mem = readU64();
    salt = take(c.SALT_SIZE);
  }
  if (!has(8)) throw badHeader("too short");
  const createdAt = Number(BigInt.asIntN(64, readU64()));
  const accountId = readId();
  if (accountId === undefined) throw badHeader("account id");
  let snapshotId = "";
  if (cloud) {
    const id = readId();
    if (id === undefined) throw badHeader("snapshot id");
    snapshotId = id;
  }
  if (!has(c.STREAM_HEADER_SIZE)) throw badHeader("too short");
  const streamHeader = take(c.STREAM_HEADER_SIZE);
  if (!cloud && (ops === 0n || ops > BigInt(MAX_BACKUP_KDF_OPS) || mem === 0n ||
      mem > BigInt(MAX_BACKUP_KDF_MEM))) {
    throw new c.CryptoError("backup.kdf_out_of_range", "the backup asks for key derivation " +
      `parameters out of range (ops ${ops}, ${mem} bytes); refused`);
  }
  return {
    header: { cloud, kdf: { ops: Number(ops), mem: Number(mem) }, salt, createdAt, accountId,
      snapshotId, streamHeader },
    size: at,
  };
}

// Sub(UK, 1, "KWsnapsh"): a cloud snapshot's key.
export function deriveSnapshotKey(vaultKey: Uint8Array): Uint8Array {
  return c.sub(vaultKey, 1, SNAPSHOT_CONTEXT);
}

// Sub(Argon2id(password, salt, ops, mem), 1, "KWbackup"); the master key is
// wiped. Errors of deriveMasterKey (crypto.invalid_salt,
// crypto.invalid_kdf_params).
export function deriveBackupKey(password: string, header: BackupHeader): Uint8Array {
  const mk = c.deriveMasterKey(password, header.salt, header.kdf);
  try {
    return c.sub(mk, 1, BACKUP_CONTEXT);
  } finally {
    c.wipe(mk);
  }
}

// Writes a backup or snapshot: the header first, then one record per add,
// finish last.
export class BackupWriter {
  readonly header: BackupHeader;
  private readonly state: c.StreamState;
  private readonly headerBytes: Uint8Array;
  private chunks: Uint8Array[];
  private first = true;
  private finished = false;

  // `header` without its stream header, which the writer draws.
  constructor(key: Uint8Array, header: Omit<BackupHeader, "streamHeader">) {
    const stream = c.streamInitPush(key);
    this.state = stream.state;
    this.header = { ...header, streamHeader: stream.header };
    this.headerBytes = encodeBackupHeader(this.header);
    this.chunks = [this.headerBytes];
  }

  // The whole file so far.
  bytes(): Uint8Array {
    return c.concat(...this.chunks);
  }

  take(): Uint8Array {
    const out = this.bytes();
    this.chunks = [];
    return out;
  }

  add(record: Uint8Array): void {
    this.append(record, false);
  }

  // The last record (tagged FINAL); nothing may be added after it.
  finish(record: Uint8Array): void {
    this.append(record, true);
  }

  private append(record: Uint8Array, final: boolean): void {
    // A programming error (the C++ aborts): the stream is closed.
    if (this.finished) throw new Error("BackupWriter: the backup is finished");
    const ct = c.streamPush(this.state, record, this.first ? this.headerBytes : new Uint8Array(0),
      final);
    const size = new Uint8Array(4);
    new DataView(size.buffer).setUint32(0, ct.length);
    this.chunks.push(size, ct);
    this.first = false;
    this.finished = final;
  }
}

// Every record of a backup, opened. The records are views into one buffer,
// `plaintext`: wipe it when done.
export interface OpenedBackup {
  header: BackupHeader;
  plaintext: Uint8Array;
  records: Uint8Array[];
}

// Opens a whole file with `key`. Errors: those of parseBackupHeader;
// backup.cannot_open (the first record does not open: a wrong key, or the
// header or first record was changed); backup.damaged (a later record was
// changed, moved or dropped); backup.truncated (no FINAL record);
// backup.trailing_data (bytes after it). Nothing is returned unless every
// record opened.
export function openBackup(key: Uint8Array, file: Uint8Array): OpenedBackup {
  const { header, size: headerSize } = parseBackupHeader(file);
  const state = c.streamInitPull(key, header.streamHeader);
  const damaged = () => new c.CryptoError("backup.damaged", "the backup file was changed after " +
    "it was written (a record does not open in its place); nothing was restored from it");
  const truncated = () => new c.CryptoError("backup.truncated", "the backup file is cut short " +
    "(its end is missing); nothing was restored from it");
  // Every plaintext fits in the file's size: one buffer for all.
  const plaintext = new Uint8Array(file.length - headerSize);
  const records: Uint8Array[] = [];
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const noAd = new Uint8Array(0);
  let at = headerSize;
  let used = 0;
  let final = false;
  try {
    while (!final) {
      if (file.length - at < 4) throw truncated();
      const size = view.getUint32(at);
      at += 4;
      if (size < c.STREAM_OVERHEAD || size > MAX_BACKUP_RECORD + c.STREAM_OVERHEAD) {
        throw damaged();
      }
      if (file.length - at < size) throw truncated();
      const ct = file.subarray(at, at + size);
      at += size;
      let opened: c.StreamMessage;
      try {
        opened = c.streamPull(state, ct, records.length === 0 ? file.subarray(0, headerSize) : noAd);
      } catch {
        if (records.length === 0) {
          throw new c.CryptoError("backup.cannot_open", "the backup does not open with this " +
            "password (a wrong password, or the file was changed)");
        }
        throw damaged();
      }
      plaintext.set(opened.message, used);
      records.push(plaintext.subarray(used, used + opened.message.length));
      used += opened.message.length;
      c.wipe(opened.message);
      final = opened.final;
    }
    if (at !== file.length) {
      throw new c.CryptoError("backup.trailing_data", "the backup file has data after its last " +
        "record (it was appended to); refused");
    }
  } catch (e) {
    c.wipe(plaintext);
    throw e;
  }
  return { header, plaintext, records };
}
