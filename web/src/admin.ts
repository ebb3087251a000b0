// The recovery admin's side in the browser (src/client/org_client.cc and
// recovery_client.cc RecoveryAdmin): organizations checked from a pin,
// recovery requests listed, approved (the link made here) and declined.
//
// The pin: a browser keeps nothing between visits, so the admin confirms
// the organization's signing key by its fingerprint once per sign-in (the
// CLI keeps its pin in its profile: `keyward org show ORG` prints the same
// fingerprint). Every statement is then verified from that key, pk_org is
// read from the newest verified statement only, and the grant must open to
// that pk_org: a server that lists another key gets no approval.
import { call } from "./api.js";
import * as c from "./crypto/primitives.js";
import { createEscrow, openAdminShare, recoverVaultKey, resealAdminShare } from "./protocol/escrow.js";
import { createGrant, createSigningGrant, openGrant, openSigningGrant } from "./protocol/grant.js";
import { boxAdminShare } from "./protocol/device_share.js";
import { buildLinkText, createLink } from "./protocol/link.js";
import {
  decodeOrgStatement, encodeOrgStatement, pinOnFirstUse, verifyOrgStatement, type OrgPin,
  type OrgStatement, type SignedOrgStatement,
} from "./protocol/statement.js";
import { encodePolicy, type RecoveryPolicy } from "./protocol/policy.js";
import type { Session } from "./vault.js";
import { escrowFields, newAccountKeys, newPasswordFields } from "./keys.js";
import { type AuditRecord } from "./protocol/audit.js";

export interface OrgSummary {
  id: string;
  name: string;
  role: string;
  permissions: string;
  key_version: number;
  recovery_public_key: string;
  statement_version: number;
  enrollment?: { state: string; epoch: number; key_version: number; last_epoch: number } | null;
  policy?: Policy; // as the server decoded it: for display only, never for keys
}

export interface Policy {
  enrollment?: string;
  mode?: string;
  quorum?: number;
  link_ttl?: number;
  pending_ttl?: number;
  notify?: string[];
  [key: string]: unknown;
}

export interface VerifiedOrg {
  org: OrgSummary;
  statement: OrgStatement;
  nextPin: OrgPin;
  keyVersion: number; // pk_org changes counted over the verified chain
  keys: Map<number, Uint8Array>; // key version -> pk_org, from the verified chain
  signingFingerprint: string;
  recoveryFingerprint: string;
  policy: Policy;
}

export interface Approval {
  admin_id: string;
  email: string;
  at: string;
}

export interface RecoveryRequest {
  id: string;
  org_id: string;
  account_id: string;
  email: string;
  status: string;
  initiated_by: string | null;
  epoch: number;
  device_name: string;
  remote_address: string;
  created_at: string;
  expires_at: string;
  quorum: number;
  approvals: Approval[];
  decided_by: string | null;
  decided_at: string | null;
  decline_reason: string | null;
  completed_at: string | null;
  kind: string;
  snapshot_id: string | null;
  link: boolean;
  // A device request (kind "device"): the new device's X25519 key.
  device_public_key?: string | null;
  escrow?: { epoch: number; key_version: number; admin_share: string };
}

export interface RequestPage {
  requests: RecoveryRequest[];
  next_after: string | null;
}

export type Counts = Record<"pending" | "approved" | "link_used" | "declined" | "expired", number>;

export const STATUSES = ["pending", "approved", "link_used", "declined", "expired"] as const;

export function statusText(status: string): string {
  switch (status) {
    case "pending": return "Pending";
    case "approved": return "Approved";
    case "link_used": return "Link used";
    case "declined": return "Declined";
    case "expired": return "Expired";
    default: return status;
  }
}

export function isRecoveryAdmin(org: { role: string; permissions: string }): boolean {
  return org.role === "owner" || org.role === "admin" ||
    (org.role === "custom" && org.permissions.includes("manage_account_recovery"));
}

const enc = encodeURIComponent;

function denied(code: string, message: string): c.CryptoError {
  return new c.CryptoError(code, message);
}

export async function listOrgs(): Promise<OrgSummary[]> {
  const answer = await call<{ orgs: OrgSummary[] }>("GET", "/v1/orgs");
  return answer.orgs;
}

async function statements(orgId: string): Promise<(SignedOrgStatement & { version: number })[]> {
  const answer = await call<{ statements: { version: number; statement: string; signature: string }[] }>(
    "GET", `/v1/orgs/${enc(orgId)}/statements?after=0`);
  return answer.statements.map((s) => ({
    version: s.version,
    statement: c.fromBase64url(s.statement),
    signature: c.fromBase64url(s.signature),
  }));
}

// The signing key the server's first statement names, for the admin to
// confirm by its fingerprint before anything is verified from it.
export async function firstUsePin(orgId: string): Promise<{ pin: OrgPin; fingerprint: string }> {
  await c.init();
  const chain = await statements(orgId);
  if (chain.length === 0) {
    throw denied("org.statement_unsigned", "The server sent no signed statement for the organization.");
  }
  const first = decodeOrgStatement(chain[0].statement);
  const pin = pinOnFirstUse(orgId, first.signingPublicKey);
  return { pin, fingerprint: c.fingerprint(first.signingPublicKey) };
}

// The organization verified from `pin` (confirmed by the admin): the whole
// statement chain, pk_org from its newest statement, the key version
// counted here and compared with the server's.
export async function verifyOrg(orgId: string, pin: OrgPin): Promise<VerifiedOrg> {
  await c.init();
  const org = await call<OrgSummary>("GET", `/v1/orgs/${enc(orgId)}`);
  if (org.id !== orgId) throw denied("org.wrong_org", "The server answered for another organization.");
  const chain = await statements(orgId);
  if (chain.length === 0) {
    throw denied("org.statement_unsigned", "The server sent no signed statement for the organization.");
  }
  const now = Math.floor(Date.now() / 1000);
  let current = pin;
  let keyVersion = 0;
  let lastKey = new Uint8Array(0);
  let last: { statement: OrgStatement; nextPin: OrgPin } | undefined;
  const keys = new Map<number, Uint8Array>();
  for (const s of chain) {
    const v = verifyOrgStatement(s, current, now);
    if (keyVersion === 0 || !c.constantTimeEqual(lastKey, v.statement.orgPublicKey)) {
      keyVersion++;
      lastKey = v.statement.orgPublicKey;
      keys.set(keyVersion, lastKey);
    }
    current = v.nextPin;
    last = v;
  }
  if (!last) throw denied("org.statement_unsigned", "No organization statement.");
  if (!c.constantTimeEqual(c.fromBase64url(org.recovery_public_key), last.statement.orgPublicKey)) {
    throw denied("org.key_mismatch",
      "The organization key the server lists differs from the signed one; nothing was done.");
  }
  if (keyVersion !== org.key_version) {
    throw denied("org.key_version_mismatch",
      "The server's key version does not match the organization's signed history; nothing was done.");
  }
  let policy: Policy = {};
  try {
    policy = JSON.parse(last.statement.policyJson) as Policy;
  } catch {
    // verifyOrgStatement checked it is a JSON object
  }
  return {
    org,
    statement: last.statement,
    nextPin: last.nextPin,
    keyVersion,
    keys,
    signingFingerprint: c.fingerprint(last.nextPin.signingPublicKey),
    recoveryFingerprint: c.fingerprint(last.statement.orgPublicKey),
    policy,
  };
}

function requestsPath(orgId: string, rest = ""): string {
  return `/v1/orgs/${enc(orgId)}/recovery${rest}`;
}

export interface ListQuery {
  status?: string;
  email?: string;
  after?: string;
  limit?: number;
}

export async function listRequests(orgId: string, q: ListQuery): Promise<RequestPage> {
  const params = new URLSearchParams();
  params.set("limit", String(q.limit ?? 20));
  if (q.status) params.set("status", q.status);
  if (q.email) params.set("email", q.email);
  if (q.after) params.set("after", q.after);
  return call<RequestPage>("GET", requestsPath(orgId, `/requests?${params.toString()}`));
}

export async function countRequests(orgId: string): Promise<Counts> {
  const answer = await call<{ counts: Counts }>("GET", requestsPath(orgId, "/counts"));
  return answer.counts;
}

export async function getRequest(orgId: string, id: string): Promise<RecoveryRequest> {
  const r = await call<RecoveryRequest>("GET", requestsPath(orgId, `/requests/${enc(id)}`));
  if (r.id !== id || r.org_id !== orgId) {
    throw denied("server.bad_response", "The server answered with another request.");
  }
  return r;
}

export interface Approved {
  request: RecoveryRequest;
  link?: string; // shown once: the quorum was reached with this approval
}

// The fingerprint of a device request's key as the server lists it.
export function deviceFingerprint(r: RecoveryRequest): string {
  const key = c.fromBase64url(r.device_public_key ?? "");
  if (key.length !== 32) {
    throw denied("server.bad_response", "The server listed no valid key for the new device.");
  }
  return c.fingerprint(key);
}

// RecoveryAdmin::Approve: sk_org from this admin's grant (checked against
// the verified pk_org), A from the member's share SA, then L, T and LA with
// this admin's pin of the organization inside LA. The link text is built
// before the server records anything: a link that cannot be shown is not
// approved. A device request instead boxes A to the device's key, only
// when its fingerprint is `confirmedDevice`, the one the member read out.
export async function approve(session: Session, v: VerifiedOrg, requestId: string,
  confirmedDevice = ""): Promise<Approved> {
  await c.init();
  const orgId = v.org.id;
  const req = await getRequest(orgId, requestId);
  if (req.status !== "pending") {
    throw denied("recovery.not_pending",
      `The request is ${statusText(req.status).toLowerCase()}, not pending: only a pending request can be approved.`);
  }
  if (req.account_id === session.accountId) {
    throw denied("org.self_action", "You cannot approve your own recovery request: another recovery admin must.");
  }
  const path = requestsPath(orgId, `/requests/${enc(requestId)}/approve`);
  const device = req.kind === "device";
  if (device) {
    if (!confirmedDevice.trim()) {
      throw denied("device.fingerprint_required",
        "Type the fingerprint the member reads to you off their new device.");
    }
    if (!sameFingerprint(deviceFingerprint(req), confirmedDevice)) {
      throw denied("device.fingerprint_mismatch",
        "The device key the server lists is not the one the member's device shows: do not " +
        "approve; someone may be trying to take over the account.");
    }
  }
  if (!req.link && !device) {
    // A cloud restore asked in a session: no secret is released.
    return { request: await call<RecoveryRequest>("POST", path, {}) };
  }
  if (!req.escrow) {
    if (req.approvals.some((a) => a.admin_id === session.accountId)) {
      throw denied("recovery.already_approved", "You already approved this request.");
    }
    throw denied("org.forbidden",
      "The server did not give you this member's escrow share: your role does not allow approving " +
      "their recovery, or their escrow changed since they asked (then they must ask again).");
  }
  const share = req.escrow;
  if (share.epoch !== req.epoch) {
    throw denied("server.bad_response", "The server gave an escrow of another epoch than the request's.");
  }
  if (share.key_version !== v.keyVersion) {
    throw denied("org.rotation_in_progress",
      `The member's escrow is still sealed to key version ${share.key_version} (a key rotation is ` +
      "in progress); finish the rotation, then approve again.");
  }
  if (!session.memberKeys) {
    throw denied("client.member_key_invalid",
      "Your account's member key did not open in this browser; approve from the CLI.");
  }
  const grant = await call<{ recovery_grant: string }>(
    "GET", `/v1/orgs/${enc(orgId)}/grant?key_version=${share.key_version}`);
  const orgKey = openGrant(session.memberKeys, c.fromBase64url(grant.recovery_grant), orgId,
    session.accountId, share.key_version, v.statement.orgPublicKey);
  let adminPart: Uint8Array;
  let deviceShare: Uint8Array | undefined;
  try {
    adminPart = openAdminShare(orgKey, c.fromBase64url(share.admin_share), orgId, req.account_id,
      share.epoch);
    if (device) {
      // A from sk_org to the key the member confirmed: only that device
      // opens it, and it knows the organization's key made it.
      try {
        deviceShare = boxAdminShare(orgKey, c.fromBase64url(req.device_public_key!), adminPart,
          orgId, req.account_id, share.epoch, req.id);
      } finally {
        c.wipe(adminPart);
      }
    }
  } finally {
    c.wipe(orgKey.secretKey);
  }
  if (deviceShare) {
    return { request: await call<RecoveryRequest>("POST", path,
      { device_share: c.base64url(deviceShare) }) };
  }
  const server = await call<{ public_url?: string }>("GET", "/v1/server");
  let text: string;
  let body: { token: string; link_share: string };
  try {
    const link = createLink(adminPart, req.id, req.account_id, share.epoch, v.nextPin);
    text = buildLinkText(server.public_url ?? location.origin, req.id, link.linkSecret);
    body = { token: c.base64url(link.token), link_share: c.base64url(link.linkedAdminShare) };
    c.wipe(link.linkSecret);
    c.wipe(link.token);
  } finally {
    c.wipe(adminPart);
  }
  const after = await call<RecoveryRequest>("POST", path, body);
  return after.status === "approved" ? { request: after, link: text } : { request: after };
}

export async function decline(orgId: string, requestId: string, reason: string): Promise<RecoveryRequest> {
  return call<RecoveryRequest>("POST", requestsPath(orgId, `/requests/${enc(requestId)}/decline`),
    { reason });
}

export interface Member {
  account_id: string;
  public_key: string;
  email: string;
  role: string;
  permissions: string;
  status: string;
  joined_at: string;
  enrollment?: { state: string; epoch: number; key_version: number; last_epoch: number } | null;
  recovery_admin: boolean;
  grant_key_version: number;
}

export async function listMembers(orgId: string): Promise<Member[]> {
  const answer = await call<{ members: Member[] }>("GET", `/v1/orgs/${enc(orgId)}/members`);
  return answer.members;
}

// Admin-initiated recovery of the member with this email.
export async function startRecovery(orgId: string, email: string): Promise<RecoveryRequest> {
  const wanted = email.trim().toLowerCase();
  const member = (await listMembers(orgId)).find((m) => m.email.toLowerCase() === wanted);
  if (!member) {
    throw denied("org.member_not_found", `${email.trim()} is not a member of this organization.`);
  }
  return call<RecoveryRequest>("POST", requestsPath(orgId, "/start"), { member: member.account_id });
}

// ---- members (src/client/org_client.cc) ----

function memberPath(orgId: string, memberId: string, rest = ""): string {
  return `/v1/orgs/${enc(orgId)}/members/${enc(memberId)}${rest}`;
}

export function memberKeyFingerprint(m: Member): string {
  return c.fingerprint(c.fromBase64url(m.public_key));
}

// Fingerprints compare in any spacing or case.
export function sameFingerprint(a: string, b: string): boolean {
  const norm = (t: string) => t.toLowerCase().replace(/\s+/g, "");
  return norm(a) !== "" && norm(a) === norm(b);
}

export async function invite(orgId: string, email: string, role: string, permissions: string): Promise<void> {
  await call("POST", `/v1/orgs/${enc(orgId)}/invites`, { email, role, permissions });
}

export async function memberAction(orgId: string, memberId: string,
  action: "revoke" | "restore" | "remove" | "reset-2fa"): Promise<void> {
  if (action === "remove") await call("DELETE", memberPath(orgId, memberId));
  else if (action === "reset-2fa") await call("POST", memberPath(orgId, memberId, "/2fa/reset"), {});
  else await call("POST", memberPath(orgId, memberId, `/${action}`), {});
}

function holdsSigningKey(role: string): boolean {
  return role === "owner" || role === "admin";
}

export function roleChangeNeedsGrant(v: VerifiedOrg, m: Member, role: string, permissions: string): boolean {
  if (!isRecoveryAdmin({ role, permissions })) return false;
  return m.grant_key_version < v.keyVersion || (holdsSigningKey(role) && !holdsSigningKey(m.role));
}

async function fetchGrant(orgId: string, keyVersion: number):
  Promise<{ recovery: Uint8Array; signing?: Uint8Array }> {
  const g = await call<{ key_version: number; recovery_grant: string; signing_grant?: string | null }>(
    "GET", `/v1/orgs/${enc(orgId)}/grant?key_version=${keyVersion}`);
  if (g.key_version !== keyVersion) throw denied("server.bad_response", "The server sent a grant of another key version.");
  return {
    recovery: c.fromBase64url(g.recovery_grant),
    signing: g.signing_grant ? c.fromBase64url(g.signing_grant) : undefined,
  };
}

// The grant JSON for `m` as `role`: this admin's keys sealed to the member
// key the admin confirmed by its fingerprint (never to what the server lists
// unless the two agree).
async function grantFor(session: Session, v: VerifiedOrg, m: Member, role: string,
  confirmedFingerprint: string): Promise<Record<string, unknown>> {
  if (!session.memberKeys) {
    throw denied("client.member_key_invalid", "Your account's member key did not open in this browser.");
  }
  if (!sameFingerprint(confirmedFingerprint, memberKeyFingerprint(m))) {
    throw denied("org.member_key_mismatch",
      "The fingerprint you entered is not the one of the key the server lists for this member; nothing was granted.");
  }
  const memberKey = c.fromBase64url(m.public_key);
  const orgId = v.org.id;
  const blobs = await fetchGrant(orgId, v.keyVersion);
  const orgKey = openGrant(session.memberKeys, blobs.recovery, orgId, session.accountId, v.keyVersion,
    v.statement.orgPublicKey);
  const out: Record<string, unknown> = { key_version: v.keyVersion };
  try {
    out.recovery_grant = c.base64url(createGrant(memberKey, orgKey, orgId, m.account_id, v.keyVersion));
  } finally {
    c.wipe(orgKey.secretKey);
  }
  if (holdsSigningKey(role) && blobs.signing) {
    const signer = openSigningGrant(session.memberKeys, blobs.signing, orgId, session.accountId,
      v.keyVersion, v.statement.signingPublicKey);
    try {
      out.signing_grant = c.base64url(createSigningGrant(memberKey, signer, orgId, m.account_id, v.keyVersion));
    } finally {
      c.wipe(signer.secretKey);
    }
  }
  return out;
}

export async function setRole(session: Session, v: VerifiedOrg, m: Member, role: string,
  permissions: string, confirmedFingerprint: string): Promise<void> {
  const body: Record<string, unknown> = { role, permissions };
  if (roleChangeNeedsGrant(v, m, role, permissions)) {
    body.grant = await grantFor(session, v, m, role, confirmedFingerprint);
  }
  await call("PUT", memberPath(v.org.id, m.account_id, "/role"), body);
}

export async function grantRecovery(session: Session, v: VerifiedOrg, m: Member,
  confirmedFingerprint: string): Promise<void> {
  const grant = await grantFor(session, v, m, m.role, confirmedFingerprint);
  await call("POST", memberPath(v.org.id, m.account_id, "/grant"), { grant });
}

// Admin-reset mode (OrgClient::ResetPassword): the vault key from the
// escrow (A from this admin's grant, U from the server), a temporary
// password made here, the member's keys derived from it here, and a fresh
// escrow to the verified pk_org. Returns the temporary password, shown once.
export async function resetPassword(session: Session, v: VerifiedOrg, m: Member): Promise<string> {
  await c.init();
  if (!session.memberKeys) {
    throw denied("client.member_key_invalid", "Your account's member key did not open in this browser.");
  }
  const orgId = v.org.id;
  const begin = await call<{ epoch: number; key_version: number; wrapped_vault_key: string;
    admin_share: string; server_part: string }>("POST", memberPath(orgId, m.account_id, "/reset/begin"), {});
  const orgPk = v.keys.get(begin.key_version);
  if (!orgPk) throw denied("server.bad_response", "The server named a key version the signed statements do not have.");
  const blobs = await fetchGrant(orgId, begin.key_version);
  const orgKey = openGrant(session.memberKeys, blobs.recovery, orgId, session.accountId, begin.key_version, orgPk);
  let a: Uint8Array;
  try {
    a = openAdminShare(orgKey, c.fromBase64url(begin.admin_share), orgId, m.account_id, begin.epoch);
  } finally {
    c.wipe(orgKey.secretKey);
  }
  const u = c.fromBase64url(begin.server_part);
  let uk: Uint8Array;
  try {
    if (u.length !== 32) throw denied("server.bad_response", "The server's part of the escrow is malformed.");
    uk = recoverVaultKey(a, u, c.fromBase64url(begin.wrapped_vault_key), orgId, m.account_id, begin.epoch);
  } finally {
    c.wipe(a);
    c.wipe(u);
  }
  try {
    const server = await call<{ recovery_public_key?: string; kdf_minimum: c.KdfParams }>("GET", "/v1/server");
    if (!server.recovery_public_key) {
      throw denied("server.recovery_key_missing", "The server has no recovery key; escrow is not possible.");
    }
    const password = generateTemporaryPassword();
    const keys = newAccountKeys(password, server.kdf_minimum);
    try {
      const escrow = createEscrow(uk, orgId, m.account_id, begin.epoch + 1, v.statement.orgPublicKey,
        c.fromBase64url(server.recovery_public_key));
      await call("POST", memberPath(orgId, m.account_id, "/reset"), {
        ...newPasswordFields(keys, m.account_id, uk),
        escrow: escrowFields(escrow, v.keyVersion),
      });
    } finally {
      c.wipe(keys.auth);
      c.wipe(keys.enc);
    }
    return password;
  } finally {
    c.wipe(uk);
  }
}

// 20 characters without look-alikes, for reading out to the member.
function generateTemporaryPassword(): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < 20) {
    for (const b of c.randomBytes(32)) if (b < limit && out.length < 20) out += alphabet[b % alphabet.length];
  }
  return out;
}

// ---- the event log (src/client/org_client.cc Events, AllEvents) ----

export interface EventQuery {
  after?: number;
  limit?: number;
  type?: string;
  actor?: string;
  target?: string;
  since?: string;
  until?: string;
}

export interface EventRow {
  record: AuditRecord;
  at: string;
}

function parseEvent(j: any, orgId: string): EventRow {
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  if (!Number.isSafeInteger(j?.seq) || typeof j?.type !== "string" || !Number.isSafeInteger(j?.time)) {
    throw denied("server.bad_response", "The server sent a malformed event.");
  }
  const details = new Map<string, string>();
  if (j.details !== undefined && j.details !== null) {
    if (typeof j.details !== "object" || Array.isArray(j.details)) {
      throw denied("server.bad_response", "The server sent event details that are not an object.");
    }
    for (const [k, v] of Object.entries(j.details)) {
      if (typeof v !== "string") throw denied("server.bad_response", "The server sent a non-string event detail.");
      details.set(k, v);
    }
  }
  const hash = c.fromBase64url(text(j.hash));
  if (hash.length !== 32) throw denied("server.bad_response", "The server sent an event hash of the wrong size.");
  return {
    record: {
      event: { seq: j.seq, orgId, type: j.type, actorId: text(j.actor_id), targetId: text(j.target_id),
        deviceId: text(j.device_id), time: j.time, details },
      hash,
    },
    at: text(j.at),
  };
}

export async function listEvents(orgId: string, q: EventQuery): Promise<{ rows: EventRow[]; nextAfter: number | null }> {
  const params = new URLSearchParams();
  params.set("after", String(q.after ?? 0));
  params.set("limit", String(q.limit ?? 100));
  for (const k of ["type", "actor", "target", "since", "until"] as const) {
    if (q[k]) params.set(k, q[k]!);
  }
  const answer = await call<{ events: unknown[]; next_after: number | null }>("GET",
    `/v1/orgs/${enc(orgId)}/events?${params.toString()}`);
  return { rows: answer.events.map((e) => parseEvent(e, orgId)), nextAfter: answer.next_after ?? null };
}

// Every event, in pages of 1000, for verification and export; `progress`
// is told how many were read.
export async function allEvents(orgId: string, progress?: (n: number) => void): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  let after = 0;
  for (;;) {
    const page = await listEvents(orgId, { after, limit: 1000 });
    for (const r of page.rows) out.push(r.record);
    progress?.(out.length);
    if (page.nextAfter === null || page.nextAfter <= after) break;
    after = page.nextAfter;
  }
  return out;
}

// ---- the policy (OrgClient::SetPolicy) ----

export function holdsSigningKeyRole(role: string): boolean {
  return holdsSigningKey(role);
}

// Signs the next statement (same keys, this policy) in the browser with the
// signing key from this admin's grant, checked against the verified one;
// the server's answer is verified from this browser's pin before use.
export async function setPolicy(session: Session, v: VerifiedOrg, policy: RecoveryPolicy): Promise<VerifiedOrg> {
  await c.init();
  if (!session.memberKeys) {
    throw denied("client.member_key_invalid", "Your account's member key did not open in this browser.");
  }
  const policyJson = encodePolicy(policy);
  const blobs = await fetchGrant(v.org.id, v.keyVersion);
  if (!blobs.signing) {
    throw denied("org.no_signing_grant", "Only owners and admins hold the organization signing key, and you hold none.");
  }
  const signer = openSigningGrant(session.memberKeys, blobs.signing, v.org.id, session.accountId,
    v.keyVersion, v.statement.signingPublicKey);
  let signed: SignedOrgStatement;
  try {
    const st: OrgStatement = { ...v.statement, version: v.statement.version + 1, policyJson,
      notBefore: Math.floor(Date.now() / 1000) };
    const bytes = encodeOrgStatement(st);
    signed = { statement: bytes, signature: c.sign(signer.secretKey, bytes) };
  } finally {
    c.wipe(signer.secretKey);
  }
  const org = await call<OrgSummary>("PUT", `/v1/orgs/${enc(v.org.id)}/policy`, {
    statement: c.base64url(signed.statement), signature: c.base64url(signed.signature),
  });
  const verified = verifyOrgStatement(signed, v.nextPin, Math.floor(Date.now() / 1000));
  if (!c.constantTimeEqual(c.fromBase64url(org.recovery_public_key), verified.statement.orgPublicKey)) {
    throw denied("org.key_mismatch", "The organization key the server lists differs from the signed one.");
  }
  let parsed: Policy = {};
  try {
    parsed = JSON.parse(verified.statement.policyJson) as Policy;
  } catch {
    // encodePolicy made it
  }
  return { ...v, org: { ...v.org, ...org, role: v.org.role, permissions: v.org.permissions },
    statement: verified.statement, nextPin: verified.nextPin, policy: parsed };
}

// ---- key rotation (OrgClient::RotateKey) ----

export interface RotationState {
  keyVersion: number;
  pending: number;
  escrows: { account_id: string; epoch: number; key_version: number; admin_share: string }[];
}

export async function rotationState(orgId: string, after = "", limit = 1): Promise<RotationState> {
  const params = new URLSearchParams({ limit: String(limit) });
  if (after) params.set("after", after);
  const r = await call<{ key_version: number; pending: number; escrows: RotationState["escrows"] }>(
    "GET", `/v1/orgs/${enc(orgId)}/rotation?${params.toString()}`);
  if (!Number.isSafeInteger(r.key_version) || !Number.isSafeInteger(r.pending) || !Array.isArray(r.escrows)) {
    throw denied("server.bad_response", "The server's rotation state is malformed.");
  }
  return { keyVersion: r.key_version, pending: r.pending, escrows: r.escrows };
}

export interface RotationResult {
  keyVersion: number;
  resumed: boolean;
  rewrapped: number;
  skipped: number;
  notGranted: string[]; // emails of admins whose key was not confirmed
}

const ROTATION_PAGE = 200;

async function openOrgKeyOf(session: Session, orgId: string, keyVersion: number, pk: Uint8Array): Promise<c.BoxKeyPair> {
  let blobs: { recovery: Uint8Array };
  try {
    blobs = await fetchGrant(orgId, keyVersion);
  } catch (e) {
    if ((e as { code?: string }).code === "org.grant_not_found") {
      throw denied("org.rotation_in_progress",
        `A key rotation is in progress and you hold no grant for key version ${keyVersion}; an admin who holds both the old and the new key must finish it.`);
    }
    throw e;
  }
  return openGrant(session.memberKeys!, blobs.recovery, orgId, session.accountId, keyVersion, pk);
}

// A new rotation (when nothing is pending) or the end of an interrupted
// one: every share still sealed to the old key is opened and sealed to the
// new one here, a page at a time, with `progress(done, total)`. The new key
// is granted to this admin and to the other recovery admins whose member
// key fingerprint `confirmed` holds (keyed by account id); the others are
// left out and named.
export async function rotateKey(session: Session, v: VerifiedOrg, confirmed: Map<string, string>,
  progress: (done: number, total: number) => void): Promise<{ result: RotationResult; org: VerifiedOrg }> {
  await c.init();
  if (!session.memberKeys) {
    throw denied("client.member_key_invalid", "Your account's member key did not open in this browser.");
  }
  const orgId = v.org.id;
  const state = await rotationState(orgId);
  if (state.keyVersion !== v.keyVersion) {
    throw denied("org.key_version_mismatch", "The organization's key changed since it was verified; open the console again.");
  }
  const result: RotationResult = { keyVersion: v.keyVersion, resumed: false, rewrapped: 0, skipped: 0, notGranted: [] };
  let oldKey: c.BoxKeyPair;
  let newPublicKey: Uint8Array;
  let oldVersion: number;
  let next = v;
  if (state.pending > 0) {
    oldVersion = state.escrows.length ? state.escrows[0].key_version : state.keyVersion - 1;
    const oldPk = v.keys.get(oldVersion);
    if (oldVersion < 1 || oldVersion >= state.keyVersion || !oldPk) {
      throw denied("server.bad_response", "The server names a key version the signed statements do not have.");
    }
    oldKey = await openOrgKeyOf(session, orgId, oldVersion, oldPk);
    c.wipe((await openOrgKeyOf(session, orgId, state.keyVersion, v.statement.orgPublicKey)).secretKey);
    newPublicKey = v.statement.orgPublicKey;
    result.resumed = true;
  } else {
    oldVersion = v.keyVersion;
    oldKey = await openOrgKeyOf(session, orgId, v.keyVersion, v.statement.orgPublicKey);
    const blobs = await fetchGrant(orgId, v.keyVersion);
    if (!blobs.signing) {
      throw denied("org.no_signing_grant", "Only owners and admins hold the organization signing key, and you hold none.");
    }
    const signer = openSigningGrant(session.memberKeys, blobs.signing, orgId, session.accountId,
      v.keyVersion, v.statement.signingPublicKey);
    const fresh = c.generateBoxKeyPair();
    const newVersion = v.keyVersion + 1;
    try {
      const st: OrgStatement = { ...v.statement, version: v.statement.version + 1,
        orgPublicKey: fresh.publicKey, notBefore: Math.floor(Date.now() / 1000) };
      const bytes = encodeOrgStatement(st);
      const signed = { statement: bytes, signature: c.sign(signer.secretKey, bytes) };
      const grants: Record<string, unknown>[] = [];
      const grantTo = (accountId: string, pk: Uint8Array, signing: boolean) => {
        const g: Record<string, unknown> = { key_version: newVersion,
          recovery_grant: c.base64url(createGrant(pk, fresh, orgId, accountId, newVersion)) };
        if (signing) g.signing_grant = c.base64url(createSigningGrant(pk, signer, orgId, accountId, newVersion));
        grants.push({ account_id: accountId, grant: g });
      };
      for (const m of await listMembers(orgId)) {
        if (m.account_id === session.accountId) continue;
        if (m.status !== "active" || !m.recovery_admin || m.grant_key_version < v.keyVersion) continue;
        const given = confirmed.get(m.account_id) ?? "";
        if (!given || !sameFingerprint(given, memberKeyFingerprint(m))) {
          result.notGranted.push(m.email);
          continue;
        }
        grantTo(m.account_id, c.fromBase64url(m.public_key), holdsSigningKey(m.role));
      }
      grantTo(session.accountId, session.memberKeys.publicKey, true);
      await call("POST", `/v1/orgs/${enc(orgId)}/rotation`, {
        statement: c.base64url(signed.statement), signature: c.base64url(signed.signature), grants,
      });
      const verified = verifyOrgStatement(signed, v.nextPin, Math.floor(Date.now() / 1000));
      const keys = new Map(v.keys);
      keys.set(newVersion, fresh.publicKey);
      next = { ...v, org: { ...v.org, key_version: newVersion, recovery_public_key: c.base64url(fresh.publicKey) },
        statement: verified.statement, nextPin: verified.nextPin, keyVersion: newVersion, keys,
        recoveryFingerprint: c.fingerprint(fresh.publicKey) };
      newPublicKey = fresh.publicKey;
      result.keyVersion = newVersion;
    } finally {
      c.wipe(signer.secretKey);
      c.wipe(fresh.secretKey);
    }
  }
  try {
    let after = "";
    let done = 0;
    let total = -1;
    for (;;) {
      const page = await rotationState(orgId, after, ROTATION_PAGE);
      if (total < 0) {
        total = page.pending;
        progress(0, total);
      }
      if (page.escrows.length === 0) break;
      const escrows = page.escrows.map((e) => {
        if (e.key_version !== oldVersion) throw denied("server.bad_response", "The server lists escrows under more than one old key.");
        return { account_id: e.account_id, epoch: e.epoch, from_key_version: e.key_version,
          admin_share: c.base64url(resealAdminShare(oldKey, c.fromBase64url(e.admin_share), newPublicKey,
            orgId, e.account_id, e.epoch)) };
      });
      const r = await call<{ updated: number; skipped: number }>("POST", `/v1/orgs/${enc(orgId)}/rotation/escrows`, { escrows });
      result.rewrapped += r.updated ?? 0;
      result.skipped += r.skipped ?? 0;
      done += escrows.length;
      progress(done, Math.max(total, done));
      after = page.escrows[page.escrows.length - 1].account_id;
      if (page.escrows.length < ROTATION_PAGE) break;
    }
  } finally {
    c.wipe(oldKey.secretKey);
  }
  return { result, org: next };
}
