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
import { openAdminShare } from "./protocol/escrow.js";
import { openGrant } from "./protocol/grant.js";
import { buildLinkText, createLink } from "./protocol/link.js";
import {
  decodeOrgStatement, pinOnFirstUse, verifyOrgStatement, type OrgPin, type OrgStatement,
  type SignedOrgStatement,
} from "./protocol/statement.js";
import type { Session } from "./vault.js";

export interface OrgSummary {
  id: string;
  name: string;
  role: string;
  permissions: string;
  key_version: number;
  recovery_public_key: string;
  statement_version: number;
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
  for (const s of chain) {
    const v = verifyOrgStatement(s, current, now);
    if (keyVersion === 0 || !c.constantTimeEqual(lastKey, v.statement.orgPublicKey)) {
      keyVersion++;
      lastKey = v.statement.orgPublicKey;
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

// RecoveryAdmin::Approve: sk_org from this admin's grant (checked against
// the verified pk_org), A from the member's share SA, then L, T and LA with
// this admin's pin of the organization inside LA. The link text is built
// before the server records anything: a link that cannot be shown is not
// approved.
export async function approve(session: Session, v: VerifiedOrg, requestId: string): Promise<Approved> {
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
  if (!req.link) {
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
  try {
    adminPart = openAdminShare(orgKey, c.fromBase64url(share.admin_share), orgId, req.account_id,
      share.epoch);
  } finally {
    c.wipe(orgKey.secretKey);
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
