// Redeeming a recovery link in the page (docs/recovery.md, the member's
// side; src/client/recovery_client.cc Redemption): the link's secret L is
// read from the URL fragment once (the browser never sends it), the token
// T = Sub(L, 1) starts the redemption, the emailed code gives U, W and LA,
// and A = Dec(KL, LA), UK = Dec(A xor U, W) are computed here. The new
// master password is derived here, and the vault key is escrowed again only
// to organizations this page can verify: the one the approving admin
// anchored inside LA. Any other organization the server lists is left out
// (its escrow stays; re-enroll from a trusted device), so a server that
// invents an organization gets nothing.
import { call } from "./api.js";
import { escrowFields, newAccountKeys, newPasswordFields } from "./keys.js";
import { checkInfo, decodeSnapshot, download, stage, type SnapshotInfo } from "./snapshot.js";
import * as c from "./crypto/primitives.js";
import { createEscrow, recoverVaultKey } from "./protocol/escrow.js";
import { linkToken, openLink, parseLinkText, type OrgPin } from "./protocol/link.js";
import { decodeOrgStatement, decodeWireStatements, verifyOffered } from "./protocol/statement.js";

interface RedeemOrg {
  org_id: string;
  name: string;
  last_epoch: number;
  key_version: number;
  recovery_public_key: string;
  statements: { version: number; statement: string; signature: string }[];
}

interface Material {
  account_id: string;
  email: string;
  epoch: number;
  wrapped_vault_key: string;
  link_share: string;
  server_part: string;
  ticket: string;
  kdf_minimum: { ops: number; mem: number };
  orgs: RedeemOrg[];
  kind?: string;
  snapshot?: SnapshotInfo | null;
}

export interface Completed {
  email: string;
  escrowedTo: string[]; // organization names
  leftOut: string[]; // organizations listed but not verifiable here
}

export class Redemption {
  private material?: Material;
  private vaultKey?: Uint8Array;
  private anchor?: OrgPin;
  private staged?: number;

  private constructor(readonly requestId: string, private readonly linkSecret: Uint8Array) {}

  // The link's text (its fragment included); refused when it names another
  // server than this page's.
  static parse(text: string, origin: string): Redemption {
    const link = parseLinkText(text);
    if (link.publicUrl !== origin) {
      throw new c.CryptoError("recovery.link_other_server",
        "This recovery link is for another Keyward server.");
    }
    return new Redemption(link.requestId, link.linkSecret);
  }

  get email(): string {
    return this.material?.email ?? "";
  }

  // The cloud backup this link also restores (after verify), if any.
  get restores(): SnapshotInfo | undefined {
    return this.material?.kind === "restore" ? this.material.snapshot ?? undefined : undefined;
  }

  // Redemption::StageRestore: the snapshot read with the ticket, checked
  // under the vault key the link gave back, and its items staged.
  async stageRestore(progress: (what: string, done: number, total: number) => void): Promise<number> {
    const m = this.material;
    const info = this.restores;
    if (!m || !this.vaultKey || !info) throw new Error("redeem: not a verified restore");
    const file = await download(info, async (n) => {
      const r = await call<{ data: string }>("POST", "/v1/recovery/redeem/snapshot", { ticket: m.ticket, n });
      return c.fromBase64url(r.data);
    }, (d, t) => progress("Downloading", d, t));
    const items = decodeSnapshot({ vaultKey: this.vaultKey, accountId: m.account_id }, file, info.id);
    await stage(items, async (body) => {
      await call("POST", "/v1/recovery/redeem/stage", { ticket: m.ticket, items: body.items });
    }, (d, t) => progress("Sending", d, t));
    this.staged = items.length;
    return items.length;
  }

  // Asks the server to email the code.
  async begin(): Promise<void> {
    await c.init();
    await call("POST", "/v1/recovery/redeem",
      { request_id: this.requestId, token: c.base64url(linkToken(this.linkSecret)) });
  }

  async verify(code: string): Promise<void> {
    const m = await call<Material>("POST", "/v1/recovery/redeem/verify",
      { request_id: this.requestId, token: c.base64url(linkToken(this.linkSecret)), code });
    if (m.kind === "restore") {
      if (!m.snapshot) throw new c.CryptoError("server.bad_response", "The server did not name the cloud backup.");
      checkInfo(m.snapshot);
    }
    const opened = openLink(this.linkSecret, c.fromBase64url(m.link_share), this.requestId,
      m.account_id, m.epoch);
    // The escrow is bound to its organization: the one of the member's
    // organizations whose binding opens it, which must be the one the
    // approving admin anchored (when the link has an anchor).
    const u = c.fromBase64url(m.server_part);
    const w = c.fromBase64url(m.wrapped_vault_key);
    let orgId = "";
    try {
      for (const o of m.orgs) {
        try {
          this.vaultKey = recoverVaultKey(opened.adminPart, u, w, o.org_id, m.account_id, m.epoch);
          orgId = o.org_id;
          break;
        } catch {
          // another organization's binding
        }
      }
    } finally {
      c.wipe(opened.adminPart);
    }
    if (!this.vaultKey) throw c.decryptFailed();
    if (opened.anchor && opened.anchor.orgId !== orgId) {
      c.wipe(this.vaultKey);
      this.vaultKey = undefined;
      throw c.decryptFailed();
    }
    this.anchor = opened.anchor;
    this.material = m;
  }

  // The organizations the link does not vouch for, with the fingerprint of
  // the signing key their first statement names: escrowed to only when the
  // member confirms it (the CLI's --fingerprint at redeem).
  unvouched(): { orgId: string; name: string; fingerprint: string }[] {
    const m = this.material;
    if (!m) return [];
    const out: { orgId: string; name: string; fingerprint: string }[] = [];
    for (const o of m.orgs) {
      if (this.anchor && this.anchor.orgId === o.org_id) continue;
      const first = o.statements.find((s) => s.version === 1) ?? o.statements[0];
      if (!first) continue;
      try {
        const st = decodeOrgStatement(c.fromBase64url(first.statement));
        out.push({ orgId: o.org_id, name: o.name || o.org_id, fingerprint: c.fingerprint(st.signingPublicKey) });
      } catch {
        // not offered: it cannot be verified
      }
    }
    return out;
  }

  // Sets the new master password; escrows again to the anchored
  // organization and to those in `confirmed` (ids whose fingerprint the
  // member confirmed), each verified from its pin.
  async complete(newPassword: string, confirmed: ReadonlySet<string> = new Set()): Promise<Completed> {
    const m = this.material;
    const uk = this.vaultKey;
    if (!m || !uk) throw new Error("redeem: verify() first");
    const server = await call<{ recovery_public_key?: string }>("GET", "/v1/server");
    const escrows: Record<string, unknown>[] = [];
    const done: Completed = { email: m.email, escrowedTo: [], leftOut: [] };
    const now = Math.floor(Date.now() / 1000);
    for (const o of m.orgs) {
      const anchored = this.anchor !== undefined && this.anchor.orgId === o.org_id;
      if ((!anchored && !confirmed.has(o.org_id)) || !server.recovery_public_key) {
        done.leftOut.push(o.name || o.org_id);
        continue;
      }
      // The anchor inside LA, else the whole chain from its first statement
      // (whose fingerprint the member confirmed).
      const verified = verifyOffered(o.org_id, decodeWireStatements(o.statements),
        anchored ? this.anchor : undefined, c.fromBase64url(o.recovery_public_key), now);
      const escrow = createEscrow(uk, o.org_id, m.account_id, o.last_epoch + 1,
        verified.statement.orgPublicKey, c.fromBase64url(server.recovery_public_key));
      escrows.push({ org_id: o.org_id, ...escrowFields(escrow, o.key_version) });
      done.escrowedTo.push(o.name || o.org_id);
    }
    if (this.restores && this.staged === undefined) {
      throw new c.CryptoError("restore.not_staged", "The cloud backup's items were not sent yet.");
    }
    const keys = newAccountKeys(newPassword, m.kdf_minimum);
    try {
      await call("POST", "/v1/recovery/redeem/complete", {
        ticket: m.ticket,
        ...newPasswordFields(keys, m.account_id, uk),
        escrows,
        ...(this.staged !== undefined ? { restore_items: this.staged } : {}),
      });
    } finally {
      c.wipe(keys.auth);
      c.wipe(keys.enc);
      c.wipe(uk);
      this.vaultKey = undefined;
    }
    return done;
  }
}
