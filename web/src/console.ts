// The admin console (docs/web.md "Admin console"): the organizations this
// account is a recovery admin of, each checked by its signing key's
// fingerprint before anything else; then the recovery requests by status,
// with counts, search by email and pages; a request's view with Approve (the
// link made here, shown once with a copy button and a QR code) and Decline
// with a reason; and starting a recovery for a member.
import { ApiError } from "./api.js";
import {
  approve, countRequests, deviceFingerprint, decline, firstUsePin, getRequest, grantRecovery, invite, isRecoveryAdmin,
  listMembers, listOrgs, listRequests, memberAction, memberKeyFingerprint, resetPassword,
  roleChangeNeedsGrant, setRole, startRecovery, statusText, STATUSES, verifyOrg, type Counts,
  type Member, type OrgSummary, type RecoveryRequest, type VerifiedOrg,
} from "./admin.js";
import { CryptoError } from "./crypto/primitives.js";
import { app, describe as describeAny, el, field, show } from "./dom.js";
import { qrSvg } from "./qr.js";
import { checkExtends, exportJsonLines, verifyRecords } from "./protocol/audit.js";
import { fromHex, hex } from "./crypto/primitives.js";
import {
  allEvents, holdsSigningKeyRole, listEvents, rotateKey, rotationState, setPolicy, type EventQuery,
} from "./admin.js";
import { formatDuration, parseDuration, parsePolicy, type RecoveryPolicy } from "./protocol/policy.js";
import type { Session } from "./vault.js";

// Organizations this tab verified, forgotten with the session.
const verified = new Map<string, VerifiedOrg>();

export function forgetConsole(): void {
  verified.clear();
}

interface Nav {
  session: Session;
  toVault: () => void;
}

function describe(e: unknown): string {
  if (e instanceof CryptoError && e.code === "crypto.decrypt_failed") {
    return "A key the server sent did not open with your keys; nothing was done. " +
      "If it happens again, approve from the CLI and tell your server's operator.";
  }
  if (e instanceof CryptoError && e.code === "org.grant_key_mismatch") {
    return "The organization key the server gave you does not match the organization's signed key; " +
      "nothing was approved. Tell your server's operator.";
  }
  if (e instanceof ApiError && e.code === "recovery.expired") {
    return "This request has expired; the member must ask again.";
  }
  return describeAny(e);
}

function when(iso: string | null): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function button(text: string, onClick: () => void, secondary = false): HTMLButtonElement {
  const b = el("button", { type: "button", text });
  if (secondary) b.className = "secondary";
  b.addEventListener("click", onClick);
  return b;
}

function page(title: string, ...body: (Node | string)[]): void {
  const h1 = el("h1", { text: title, tabindex: "-1" });
  show(true, h1, ...body);
  h1.focus();
}

export async function showConsole(nav: Nav): Promise<void> {
  const error = el("p", { class: "error", role: "alert" });
  page("Admin console", el("p", { class: "muted", role: "status", text: "Loading your organizations…" }), error);
  let orgs: OrgSummary[];
  try {
    orgs = (await listOrgs()).filter(isRecoveryAdmin);
  } catch (e) {
    error.textContent = describe(e);
    app.append(button("Back to your vault", nav.toVault, true));
    return;
  }
  if (orgs.length === 1) {
    await openOrg(nav, orgs[0]);
    return;
  }
  const list = el("ul", { class: "items", "aria-label": "Organizations" });
  for (const o of orgs) {
    list.append(el("li", {}, button(`${o.name} (${o.role})`, () => void openOrg(nav, o), true)));
  }
  page("Admin console",
    el("div", { class: "card" },
      el("p", { text: orgs.length ? "Choose an organization." : "You are not a recovery admin of any organization." }),
      list, button("Back to your vault", nav.toVault, true)));
}

async function openOrg(nav: Nav, org: OrgSummary): Promise<void> {
  const known = verified.get(org.id);
  if (known) {
    await showRequests(nav, known, { status: "pending" });
    return;
  }
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  page(`Check ${org.name}'s signing key`, error);
  let candidate: Awaited<ReturnType<typeof firstUsePin>>;
  try {
    candidate = await firstUsePin(org.id);
  } catch (e) {
    error.textContent = describe(e);
    app.append(button("Back", () => void showConsole(nav), true));
    return;
  }
  const yes = button("The fingerprints match", async () => {
    yes.disabled = true;
    error.textContent = "";
    try {
      const v = await verifyOrg(org.id, candidate.pin);
      verified.set(org.id, v);
      await showRequests(nav, v, { status: "pending" });
    } catch (e) {
      error.textContent = describe(e);
      yes.disabled = false;
    }
  });
  const no = button("They differ — stop", () => {
    page("Stopped", el("div", { class: "card" },
      el("p", { text: `Nothing was done for ${org.name}. A different fingerprint means this server may be showing you a key of its own: tell your organization's owner and your server's operator.` }),
      button("Back to your vault", nav.toVault, true)));
  }, true);
  page(`Check ${org.name}'s signing key`,
    el("div", { class: "card" },
      el("p", { text: "Before this browser acts for the organization, compare this fingerprint with the one `keyward org show " + org.id + "` prints on a device you trust, or the one your organization's owner gave you." }),
      el("p", { class: "fingerprint", id: "signing-fingerprint", text: candidate.fingerprint }),
      el("p", { class: "muted", text: "This browser keeps nothing after you sign out, so it asks at every sign-in." }),
      yes, no, error));
}

interface ListState {
  status: string; // "" for every status
  email?: string;
  after?: string;
  previous?: (string | undefined)[];
}

function header(nav: Nav, v: VerifiedOrg): HTMLElement {
  return el("div", { class: "card org" },
    el("p", {}, el("strong", { text: v.org.name }), ` — you are ${v.org.role}. Quorum: ${v.policy.quorum ?? 1} approval(s).` +
      (v.policy.sso === "required" ? " Single sign-on: required." : "")),
    el("p", { class: "muted", text: `Signing key ${v.signingFingerprint} (checked)` }),
    el("div", { class: "actions" },
      button("Requests", () => void showRequests(nav, v, { status: "pending" }), true),
      button("Members", () => void showMembers(nav, v), true),
      button("Event log", () => void showEvents(nav, v, {}), true),
      button("Policy", () => showPolicy(nav, v), true),
      // Rotation needs the signing key: owners and admins only.
      ...(holdsSigningKeyRole(v.org.role) ? [button("Key rotation", () => void showRotation(nav, v), true)] : []),
      button("Start a recovery", () => showStart(nav, v), true),
      button("Your vault", nav.toVault, true)));
}

async function showRequests(nav: Nav, v: VerifiedOrg, state: ListState): Promise<void> {
  const error = el("p", { class: "error", role: "alert" });
  let counts: Counts | undefined;
  let rows: RecoveryRequest[] = [];
  let next: string | null = null;
  try {
    [counts, { requests: rows, next_after: next }] = await Promise.all([
      countRequests(v.org.id),
      listRequests(v.org.id, { status: state.status || undefined, email: state.email, after: state.after }),
    ]);
  } catch (e) {
    error.textContent = describe(e);
  }

  const filters = el("div", { class: "actions", role: "group", "aria-label": "Status" });
  const all = counts ? STATUSES.reduce((n, s) => n + counts![s], 0) : undefined;
  for (const s of [...STATUSES, ""]) {
    const n = s === "" ? all : counts?.[s as keyof Counts];
    const label = `${s ? statusText(s) : "All"}${n === undefined ? "" : ` (${n})`}`;
    const b = button(label, () => void showRequests(nav, v, { status: s, email: state.email }), true);
    b.setAttribute("aria-pressed", String(s === state.status));
    filters.append(b);
  }

  const email = field("search-email", "email", "off");
  email.removeAttribute("required");
  email.value = state.email ?? "";
  const searchError = el("p", { id: "form-error", class: "error", role: "alert" });
  const search = el("form", { class: "search", role: "search", novalidate: "" },
    el("label", { for: "search-email", text: "Search by member email" }), email,
    el("button", { type: "submit", text: "Search" }));
  if (state.email) {
    search.append(button("Clear the search", () => void showRequests(nav, v, { status: state.status }), true));
  }
  search.append(searchError);
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = email.value.trim();
    if (text && !text.includes("@")) {
      searchError.textContent = "Enter a member's whole email address.";
      email.focus();
      return;
    }
    void showRequests(nav, v, { status: state.status, email: text || undefined });
  });

  const table = el("table", { class: "requests" },
    el("caption", { text: `${state.status ? statusText(state.status) : "All"} requests${state.email ? ` of ${state.email}` : ""}` }),
    el("thead", {}, el("tr", {}, ...["Member", "Type", "Status", "Asked", "Approvals", ""].map(
      (t) => el("th", { scope: "col", text: t })))));
  const body = el("tbody");
  for (const r of rows) {
    const open = button("Open", () => void showRequest(nav, v, r.id, state), true);
    open.setAttribute("aria-label", `Open the request of ${r.email}`);
    body.append(el("tr", {},
      el("td", { text: r.email }),
      el("td", { text: kindText(r) }),
      el("td", { text: statusText(r.status) }),
      el("td", { text: when(r.created_at) }),
      el("td", { text: `${r.approvals.length} of ${r.quorum}` }),
      el("td", {}, open)));
  }
  table.append(body);
  const paging = el("div", { class: "actions" });
  if (state.after !== undefined) {
    paging.append(button("First page", () => void showRequests(nav, v, { status: state.status, email: state.email }), true));
  }
  if (next) {
    const after = next;
    paging.append(button("Next page", () => void showRequests(nav, v,
      { status: state.status, email: state.email, after }), true));
  }
  page(`${v.org.name}: recovery requests`, header(nav, v),
    el("div", { class: "card" }, filters, search,
      rows.length ? table : el("p", { class: "muted", text: "No request here." }), paging, error));
}

function kindText(r: RecoveryRequest): string {
  return r.kind === "restore" ? "Restore" : r.kind === "device" ? "New device" : "Recovery";
}

function details(r: RecoveryRequest): HTMLElement {
  const dl = el("dl", { class: "details" });
  const add = (k: string, value: string) => dl.append(el("dt", { text: k }), el("dd", { text: value }));
  add("Member", r.email);
  add("Type", r.kind === "restore" ? `Cloud backup restore${r.snapshot_id ? ` (snapshot ${r.snapshot_id})` : ""}`
    : r.kind === "device" ? "New device (approving releases the vault key to that device only)"
      : "Account recovery");
  if (r.kind === "device") {
    let fp: string;
    try {
      fp = deviceFingerprint(r);
    } catch {
      fp = "— (the server listed no valid key)";
    }
    add("Device fingerprint", fp);
  }
  add("Status", statusText(r.status));
  add("Asked", when(r.created_at));
  add(r.status === "approved" ? "Link expires" : "Expires", when(r.expires_at));
  add("Started by", r.initiated_by ? "an admin" : "the member");
  add("Device", r.device_name || "—");
  add("Address", r.remote_address || "—");
  add("Enrollment", r.epoch > 0 ? `enrolled (escrow ${r.epoch})` : "not enrolled here");
  add("Approvals", r.approvals.length
    ? `${r.approvals.length} of ${r.quorum}: ${r.approvals.map((a) => `${a.email} (${when(a.at)})`).join(", ")}`
    : `0 of ${r.quorum}`);
  if (r.decline_reason) add("Declined because", r.decline_reason);
  if (r.completed_at) add("Completed", when(r.completed_at));
  return dl;
}

async function showRequest(nav: Nav, v: VerifiedOrg, id: string, back: ListState): Promise<void> {
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const progress = el("p", { class: "muted", role: "status" });
  let r: RecoveryRequest;
  try {
    r = await getRequest(v.org.id, id);
  } catch (e) {
    page("Recovery request", header(nav, v), el("div", { class: "card" }, error));
    error.textContent = describe(e);
    return;
  }
  const toList = button("Back to the list", () => void showRequests(nav, v, back), true);
  const card = el("div", { class: "card" }, details(r));
  if (r.status === "pending") {
    const device = r.kind === "device";
    const typed = el("input", { id: "device-fingerprint", type: "text", autocomplete: "off",
      spellcheck: "false", "aria-describedby": "form-error" });
    const approveButton = button("Approve", async () => {
      approveButton.disabled = true;
      error.textContent = "";
      progress.textContent = device ? "Approving… (releasing the vault key to that device only)"
        : "Approving… (making the recovery link in this browser)";
      try {
        const done = await approve(nav.session, v, id, device ? typed.value : "");
        progress.textContent = "";
        if (done.link) showLink(nav, v, done.request, done.link, back);
        else await showApproved(nav, v, done.request, back);
      } catch (e) {
        progress.textContent = "";
        error.textContent = describe(e);
        approveButton.disabled = false;
      }
    });
    const reason = el("textarea", { id: "decline-reason", name: "reason", rows: "3", maxlength: "500",
      "aria-describedby": "form-error" });
    const declineForm = el("form", { class: "decline", novalidate: "" },
      el("label", { for: "decline-reason", text: "Reason for declining (emailed to the member)" }), reason,
      el("button", { type: "submit", class: "secondary", text: "Decline" }));
    declineForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const text = reason.value.trim();
      if (!text) {
        error.textContent = "Give the member a reason: it is emailed to them.";
        reason.focus();
        return;
      }
      if (/[\u0000-\u001f\u007f]/.test(text)) {
        error.textContent = "Write the reason on one line, without tabs.";
        reason.focus();
        return;
      }
      try {
        const after = await decline(v.org.id, id, text);
        page("Request declined", header(nav, v), el("div", { class: "card" },
          el("p", { text: `The request of ${after.email} is declined; they were emailed your reason.` }), toList));
      } catch (e) {
        error.textContent = describe(e);
      }
    });
    if (device) {
      card.append(el("p", { text: "Ask the member (in person or by phone) to read you the " +
        "fingerprint their new device shows, and type it here: you approve only that device." }),
      el("label", { for: "device-fingerprint", text: "Fingerprint the member reads off the new device" }),
      typed);
    }
    card.append(el("div", { class: "actions" }, approveButton), progress, declineForm);
  }
  card.append(error, toList);
  page("Recovery request", header(nav, v), card);
}

async function showApproved(nav: Nav, v: VerifiedOrg, r: RecoveryRequest, back: ListState): Promise<void> {
  const text = r.kind === "device" && r.status === "approved"
    ? `Approved: the new device of ${r.email} can now finish on its side (keyward device request-finish).`
    : r.kind === "device"
      ? `Your approval is recorded: ${r.approvals.length} of ${r.quorum}. Another recovery admin must approve.`
      : r.status === "link_used"
    ? `Approved: the vault of ${r.email} was rolled back to the cloud backup.`
    : `Your approval is recorded: ${r.approvals.length} of ${r.quorum}. Another recovery admin must approve before a link is made.`;
  page("Approval recorded", header(nav, v), el("div", { class: "card" }, el("p", { text }),
    button("Back to the list", () => void showRequests(nav, v, back), true)));
}

// The link, once: a read-only field, a copy button and a QR code. Leaving
// this page drops it from the page.
function showLink(nav: Nav, v: VerifiedOrg, r: RecoveryRequest, link: string, back: ListState): void {
  const input = el("input", { id: "recovery-link", type: "text", readonly: "", autocomplete: "off",
    spellcheck: "false" });
  input.value = link;
  const copied = el("p", { class: "muted", role: "status" });
  const copy = button("Copy the link", async () => {
    try {
      await navigator.clipboard.writeText(link);
      copied.textContent = "Copied. Clear your clipboard once the member has it.";
    } catch {
      input.select();
      copied.textContent = "Copying is not allowed here: the link is selected, press Ctrl+C.";
    }
  });
  const done = button("Done: I gave the link to the member", () => {
    input.value = "";
    void showRequests(nav, v, back);
  }, true);
  page("Recovery link — shown once", header(nav, v), el("div", { class: "card" },
    el("p", { text: `The recovery of ${r.email} is approved. Give this link to them over a channel you trust (in person, by phone, or a message they can verify); it works once, with a code emailed to them, until ${when(r.expires_at)}.` }),
    el("label", { for: "recovery-link", text: "Recovery link" }), input,
    el("div", { class: "actions" }, copy), copied,
    el("figure", {}, qrSvg(link, "QR code of the recovery link"),
      el("figcaption", { class: "muted", text: "The member can scan this with their phone." })),
    el("p", { class: "muted", text: "Keyward does not keep this link: if it is lost, decline and ask the member to request again." }),
    done));
}

function showStart(nav: Nav, v: VerifiedOrg): void {
  const email = field("member-email", "email", "off");
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const form = el("form", { class: "card", novalidate: "" },
    el("p", { text: "Start a recovery for a member who cannot ask (JumpCloud's force reset). It is approved like any other request; the member still needs the emailed code to use the link." }),
    el("label", { for: "member-email", text: "Member email" }), email,
    el("button", { type: "submit", text: "Start the recovery" }), error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!email.value.includes("@")) {
      error.textContent = "Enter the member's email address.";
      email.focus();
      return;
    }
    try {
      const r = await startRecovery(v.org.id, email.value);
      await showRequest(nav, v, r.id, { status: "pending" });
    } catch (e) {
      error.textContent = describe(e);
      email.focus();
    }
  });
  page(`${v.org.name}: start a recovery`, header(nav, v), form);
  email.focus();
}

// ---- members ----

const ROLES = ["owner", "admin", "custom", "user"];

function enrollmentText(m: Member): string {
  return m.enrollment?.state === "enrolled" ? `enrolled (escrow ${m.enrollment.epoch})` : "not enrolled";
}

function grantText(v: VerifiedOrg, m: Member): string {
  if (!m.recovery_admin) return "—";
  if (m.grant_key_version >= v.keyVersion) return "holds the key";
  return "missing: grant it";
}

function roleSelect(id: string, value: string): HTMLSelectElement {
  const select = el("select", { id, name: id });
  for (const r of ROLES) {
    const o = el("option", { value: r, text: r });
    if (r === value) o.selected = true;
    select.append(o);
  }
  return select;
}

async function showMembers(nav: Nav, v: VerifiedOrg, message = ""): Promise<void> {
  const error = el("p", { class: "error", role: "alert" });
  let members: Member[] = [];
  try {
    members = await listMembers(v.org.id);
  } catch (e) {
    error.textContent = describe(e);
  }
  const table = el("table", { class: "requests" },
    el("caption", { text: `${members.length} member(s)` }),
    el("thead", {}, el("tr", {}, ...["Member", "Role", "Status", "Recovery", "Recovery key", ""].map(
      (t) => el("th", { scope: "col", text: t })))));
  const body = el("tbody");
  for (const m of members) {
    const manage = button("Manage", () => showMember(nav, v, m), true);
    manage.setAttribute("aria-label", `Manage ${m.email}`);
    body.append(el("tr", {},
      el("td", { text: m.email }), el("td", { text: m.role }), el("td", { text: m.status }),
      el("td", { text: enrollmentText(m) }), el("td", { text: grantText(v, m) }), el("td", {}, manage)));
  }
  table.append(body);

  const email = field("invite-email", "email", "off");
  const role = roleSelect("invite-role", "user");
  const recovery = el("input", { id: "invite-recovery", type: "checkbox" });
  const inviteError = el("p", { id: "form-error", class: "error", role: "alert" });
  const form = el("form", { class: "search", novalidate: "" },
    el("h2", { text: "Invite" }),
    el("label", { for: "invite-email", text: "Email" }), email,
    el("label", { for: "invite-role", text: "Role" }), role,
    el("div", { class: "check" }, recovery,
      el("label", { for: "invite-recovery", text: "Custom role: may manage account recovery" })),
    el("button", { type: "submit", text: "Send the invitation" }), inviteError);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    inviteError.textContent = "";
    if (!email.value.includes("@")) {
      inviteError.textContent = "Enter the email address to invite.";
      email.focus();
      return;
    }
    try {
      await invite(v.org.id, email.value.trim(), role.value,
        role.value === "custom" && recovery.checked ? "manage_account_recovery" : "");
      await showMembers(nav, v, `Invitation emailed to ${email.value.trim()}.`);
    } catch (e) {
      inviteError.textContent = describe(e);
    }
  });
  page(`${v.org.name}: members`, header(nav, v),
    el("div", { class: "card" }, message ? el("p", { role: "status", text: message }) : "",
      table, error),
    el("div", { class: "card" }, form));
}

function showMember(nav: Nav, v: VerifiedOrg, m: Member): void {
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const status = el("p", { class: "muted", role: "status" });
  const dl = el("dl", { class: "details" });
  const add = (k: string, value: string) => dl.append(el("dt", { text: k }), el("dd", { text: value }));
  add("Member", m.email);
  add("Role", m.role + (m.permissions ? ` (${m.permissions})` : ""));
  add("Status", m.status);
  add("Joined", when(m.joined_at));
  add("Recovery", enrollmentText(m));
  add("Recovery key", grantText(v, m));
  add("Member key fingerprint (as the server lists it)", memberKeyFingerprint(m));
  const back = button("Back to the members", () => void showMembers(nav, v), true);
  const done = (text: string) => void showMembers(nav, v, text);
  const fail = (e: unknown) => (error.textContent = describe(e));

  // The fingerprint the member reads from their own vault page.
  const fingerprint = field("member-fingerprint", "text", "off");
  fingerprint.removeAttribute("required");
  const fingerprintBlock = el("div", {},
    el("label", { for: "member-fingerprint", text: "The member's key fingerprint, as they read it from their vault page" }),
    fingerprint);

  const role = roleSelect("member-role", m.role);
  const recovery = el("input", { id: "member-recovery", type: "checkbox" });
  if (m.permissions.includes("manage_account_recovery")) recovery.checked = true;
  const roleForm = el("form", { class: "decline", novalidate: "" },
    el("h2", { text: "Role" }),
    el("label", { for: "member-role", text: "Role" }), role,
    el("div", { class: "check" }, recovery,
      el("label", { for: "member-recovery", text: "Custom role: may manage account recovery" })),
    el("button", { type: "submit", text: "Change the role" }));
  roleForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const permissions = role.value === "custom" && recovery.checked ? "manage_account_recovery" : "";
    if (roleChangeNeedsGrant(v, m, role.value, permissions) && !fingerprint.value.trim()) {
      error.textContent = "This role holds the recovery key: enter the member's key fingerprint first, read to you by the member.";
      fingerprint.focus();
      return;
    }
    try {
      await setRole(nav.session, v, m, role.value, permissions, fingerprint.value);
      done(`${m.email} is now ${role.value}.`);
    } catch (e) {
      fail(e);
    }
  });

  const actions = el("div", { class: "actions" });
  if (m.recovery_admin && m.grant_key_version < v.keyVersion) {
    actions.append(button("Grant the recovery key", async () => {
      error.textContent = "";
      if (!fingerprint.value.trim()) {
        error.textContent = "Enter the member's key fingerprint first, read to you by the member.";
        fingerprint.focus();
        return;
      }
      try {
        await grantRecovery(nav.session, v, m, fingerprint.value);
        done(`${m.email} now holds the recovery key.`);
      } catch (e) {
        fail(e);
      }
    }));
  }
  if (v.policy.mode === "admin-reset" && m.enrollment?.state === "enrolled" && m.status === "active") {
    actions.append(button("Reset the master password", async () => {
      error.textContent = "";
      status.textContent = "Resetting… (opening the escrow and deriving the new keys in this browser)";
      try {
        const temporary = await resetPassword(nav.session, v, m);
        status.textContent = "";
        showTemporaryPassword(nav, v, m, temporary);
      } catch (e) {
        status.textContent = "";
        fail(e);
      }
    }, true));
  }
  actions.append(button("Reset two-step login", async () => {
    try {
      await memberAction(v.org.id, m.account_id, "reset-2fa");
      done(`Two-step login of ${m.email} is off; they were emailed.`);
    } catch (e) {
      fail(e);
    }
  }, true));
  const confirmTwice = (label: string, run: () => Promise<void>) => {
    const b = button(label, async () => {
      if (b.dataset.confirm !== "yes") {
        b.dataset.confirm = "yes";
        b.textContent = `${label}: press again to confirm`;
        return;
      }
      try {
        await run();
      } catch (e) {
        fail(e);
      }
    }, true);
    return b;
  };
  if (m.status === "revoked") {
    actions.append(button("Restore access", async () => {
      try {
        await memberAction(v.org.id, m.account_id, "restore");
        done(`${m.email} is active again.`);
      } catch (e) {
        fail(e);
      }
    }, true));
  } else {
    actions.append(confirmTwice("Revoke access", async () => {
      await memberAction(v.org.id, m.account_id, "revoke");
      done(`${m.email} is revoked.`);
    }));
  }
  actions.append(confirmTwice("Remove from the organization", async () => {
    await memberAction(v.org.id, m.account_id, "remove");
    done(`${m.email} was removed.`);
  }));
  page(m.email, header(nav, v),
    el("div", { class: "card" }, dl, fingerprintBlock, roleForm, el("h2", { text: "Actions" }), actions,
      status, error, back));
}

function showTemporaryPassword(nav: Nav, v: VerifiedOrg, m: Member, temporary: string): void {
  const input = el("input", { id: "temporary-password", type: "text", readonly: "", autocomplete: "off",
    spellcheck: "false" });
  input.value = temporary;
  page("Temporary master password — shown once", header(nav, v), el("div", { class: "card" },
    el("p", { text: `The master password of ${m.email} is reset. Give them this temporary password in person or by phone; they must choose a new one when they sign in, and two-step login is still asked.` }),
    el("label", { for: "temporary-password", text: "Temporary master password" }), input,
    button("Done: I gave it to the member", () => {
      input.value = "";
      void showMembers(nav, v);
    }, true)));
}

// ---- the event log ----

async function showEvents(nav: Nav, v: VerifiedOrg, q: EventQuery, previous: number[] = []): Promise<void> {
  const error = el("p", { class: "error", role: "alert" });
  const names = new Map<string, string>();
  let rows: Awaited<ReturnType<typeof listEvents>>["rows"] = [];
  let nextAfter: number | null = null;
  try {
    for (const m of await listMembers(v.org.id)) names.set(m.account_id, m.email);
    ({ rows, nextAfter } = await listEvents(v.org.id, { ...q, limit: 50 }));
  } catch (e) {
    error.textContent = describe(e);
  }
  const who = (id: string) => (id ? names.get(id) ?? id : "—");

  // Filters.
  const type = field("event-type", "text", "off");
  type.removeAttribute("required");
  type.value = q.type ?? "";
  const member = field("event-member", "email", "off");
  member.removeAttribute("required");
  member.value = [...names].find(([id]) => id === (q.actor ?? q.target))?.[1] ?? "";
  const role = el("select", { id: "event-role", name: "event-role" },
    el("option", { value: "actor", text: "who acted" }), el("option", { value: "target", text: "whom it concerns" }));
  if (q.target) role.value = "target";
  const since = field("event-since", "date", "off");
  since.removeAttribute("required");
  since.value = q.since?.slice(0, 10) ?? "";
  const until = field("event-until", "date", "off");
  until.removeAttribute("required");
  until.value = q.until?.slice(0, 10) ?? "";
  const filterError = el("p", { id: "form-error", class: "error", role: "alert" });
  const filters = el("form", { class: "search", novalidate: "" },
    el("label", { for: "event-type", text: "Event type (e.g. recovery.approved)" }), type,
    el("label", { for: "event-member", text: "Member email" }), member,
    el("label", { for: "event-role", text: "The member is" }), role,
    el("label", { for: "event-since", text: "From (UTC day)" }), since,
    el("label", { for: "event-until", text: "Before (UTC day)" }), until,
    el("button", { type: "submit", text: "Filter" }), filterError);
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    filterError.textContent = "";
    const next: EventQuery = {};
    if (type.value.trim()) {
      if (!/^[a-z0-9_.]{3,64}$/.test(type.value.trim())) {
        filterError.textContent = "An event type is 3 to 64 lowercase letters, digits, dots or underscores.";
        type.focus();
        return;
      }
      next.type = type.value.trim();
    }
    if (member.value.trim()) {
      const wanted = member.value.trim().toLowerCase();
      const id = [...names].find(([, email]) => email.toLowerCase() === wanted)?.[0];
      if (!id) {
        filterError.textContent = `${member.value.trim()} is not a member of this organization.`;
        member.focus();
        return;
      }
      if (role.value === "target") next.target = id;
      else next.actor = id;
    }
    if (since.value) next.since = `${since.value}T00:00:00Z`;
    if (until.value) next.until = `${until.value}T00:00:00Z`;
    if (next.since && next.until && next.since >= next.until) {
      filterError.textContent = "The first day must come before the last one.";
      until.focus();
      return;
    }
    void showEvents(nav, v, next);
  });

  const table = el("table", { class: "requests" },
    el("caption", { text: rows.length ? `Events ${rows[0].record.event.seq} to ${rows[rows.length - 1].record.event.seq}` : "Events" }),
    el("thead", {}, el("tr", {}, ...["#", "Time", "Event", "Who", "Whom", "Details"].map(
      (t) => el("th", { scope: "col", text: t })))));
  const body = el("tbody");
  for (const { record, at } of rows) {
    const e = record.event;
    body.append(el("tr", {},
      el("td", { text: String(e.seq) }), el("td", { text: when(at) }), el("td", { text: e.type }),
      el("td", { text: who(e.actorId) }), el("td", { text: who(e.targetId) }),
      el("td", { text: [...e.details].map(([k, val]) => `${k}=${val}`).join(", ") })));
  }
  table.append(body);
  const paging = el("div", { class: "actions" });
  if (previous.length) {
    paging.append(button("Previous page", () => void showEvents(nav, v,
      { ...q, after: previous[previous.length - 1] }, previous.slice(0, -1)), true));
  }
  if (nextAfter !== null) {
    const after = nextAfter;
    paging.append(button("Next page", () => void showEvents(nav, v, { ...q, after },
      [...previous, q.after ?? 0]), true));
  }

  // The whole chain, verified here; and the export.
  const result = el("p", { role: "status", id: "chain-result" });
  // A head noted earlier (what `keyward events verify` prints): a log
  // rewritten since, even consistently, no longer reaches it.
  const known = field("known-head", "text", "off");
  known.removeAttribute("required");
  known.setAttribute("aria-describedby", "chain-result");
  const verifyButton = button("Verify the whole chain", async () => {
    verifyButton.disabled = true;
    result.className = "";
    try {
      let remembered: { seq: number; hash: Uint8Array } | undefined;
      if (known.value.trim()) {
        const m = known.value.trim().match(/^([0-9]{1,15})\s+([0-9a-f]{64})$/i);
        if (!m) {
          result.className = "error";
          result.textContent = "Give the head as its event number and hash, e.g. “8 6dad1e…”, as keyward events verify prints it.";
          known.focus();
          return;
        }
        remembered = { seq: Number(m[1]), hash: fromHex(m[2].toLowerCase()) };
      }
      const records = await allEvents(v.org.id, (n) => (result.textContent = `Reading events… ${n}`));
      const head = verifyRecords(v.org.id, records);
      if (remembered) checkExtends(remembered, records.map((r) => r.event));
      result.textContent = `The chain verifies: ${head.seq} event(s), none changed, none missing. Head: ${head.seq} ${hex(head.hash)}` +
        (remembered ? `; it extends the head ${remembered.seq} you gave.` : ".");
    } catch (e) {
      result.className = "error";
      result.textContent = `The chain does not verify: ${describe(e)}`;
    } finally {
      verifyButton.disabled = false;
    }
  }, true);
  const exportButton = button("Export (JSON Lines)", async () => {
    exportButton.disabled = true;
    try {
      const records = await allEvents(v.org.id, (n) => (result.textContent = `Reading events… ${n}`));
      const blob = new Blob([exportJsonLines(records)], { type: "application/jsonl" });
      const a = el("a", { href: URL.createObjectURL(blob), download: `keyward-events-${v.org.id}.jsonl` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      result.className = "";
      result.textContent = `Exported ${records.length} event(s).`;
    } catch (e) {
      result.className = "error";
      result.textContent = describe(e);
    } finally {
      exportButton.disabled = false;
    }
  }, true);
  page(`${v.org.name}: event log`, header(nav, v),
    el("div", { class: "card" },
      el("label", { for: "known-head", text: "A head you noted before (optional): event number and hash" }), known,
      el("div", { class: "actions" }, verifyButton, exportButton), result),
    el("div", { class: "card" }, filters,
      rows.length ? table : el("p", { class: "muted", text: "No event here." }), paging, error));
}

// ---- the policy editor ----

function showPolicy(nav: Nav, v: VerifiedOrg, message = ""): void {
  let current: RecoveryPolicy;
  try {
    current = parsePolicy(v.statement.policyJson);
  } catch (e) {
    page(`${v.org.name}: policy`, header(nav, v), el("div", { class: "card" },
      el("p", { class: "error", role: "alert", text: describe(e) })));
    return;
  }
  const canSign = holdsSigningKeyRole(v.org.role);
  const select = (id: string, options: [string, string][], value: string) => {
    const s = el("select", { id, name: id });
    for (const [val, text] of options) {
      const o = el("option", { value: val, text });
      if (val === value) o.selected = true;
      s.append(o);
    }
    return s;
  };
  const input = (id: string, value: string, type = "text") => {
    const i = field(id, type, "off");
    i.value = value;
    return i;
  };
  const enrollment = select("policy-enrollment", [["disabled", "disabled: nobody can enroll"],
    ["opt-in", "opt-in: members choose"], ["opt-out", "opt-out: enrolled on joining unless they decline"],
    ["mandatory", "mandatory: every member"]], current.enrollment);
  const mode = select("policy-mode", [["dual-control", "dual control: a recovery link, the member sets the password"],
    ["admin-reset", "admin reset: an admin sets a temporary password"]], current.mode);
  const quorum = input("policy-quorum", String(current.quorum), "number");
  quorum.setAttribute("min", "1");
  quorum.setAttribute("max", "10");
  const linkTtl = input("policy-link-ttl", formatDuration(current.linkTtl));
  const pendingTtl = input("policy-pending-ttl", formatDuration(current.pendingTtl));
  const notify = el("textarea", { id: "policy-notify", name: "policy-notify", rows: "3" });
  notify.value = current.notify.join("\n");
  const pairing = el("input", { id: "policy-pairing-reset", type: "checkbox" });
  pairing.checked = current.pairingReset;
  const keep = input("policy-snapshot-keep", String(current.snapshotKeep), "number");
  const sso = select("policy-sso", [
    ["optional", "optional: members may sign in with their master password alone"],
    ["required", "required: members sign in through the organization's identity provider too"]],
  current.requireSso ? "required" : "optional");
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const note = el("p", { class: "muted", role: "status" });
  const submit = el("button", { type: "submit", text: "Sign and save the policy" });
  const form = el("form", { class: "card", novalidate: "" },
    message ? el("p", { role: "status", text: message }) : "",
    el("p", { class: "muted", text: `Statement ${v.statement.version}, signed by the organization's signing key ${v.signingFingerprint}. Saving signs statement ${v.statement.version + 1} in this browser with that key; every member's client checks it.` }),
    el("label", { for: "policy-enrollment", text: "Enrollment" }), enrollment,
    el("label", { for: "policy-mode", text: "Recovery mode" }), mode,
    el("label", { for: "policy-quorum", text: "Approvals needed (quorum, 1–10)" }), quorum,
    el("label", { for: "policy-link-ttl", text: "Recovery link lifetime (5m to 30d, e.g. 24h)" }), linkTtl,
    el("label", { for: "policy-pending-ttl", text: "Unanswered request lifetime (1h to 90d, e.g. 7d)" }), pendingTtl,
    el("label", { for: "policy-notify", text: "Admins to email about requests, one per line (empty: every recovery admin who may act)" }), notify,
    el("div", { class: "check" }, pairing,
      el("label", { for: "policy-pairing-reset", text: "A member may set a new master password after pairing a device" })),
    el("label", { for: "policy-snapshot-keep", text: "Cloud backups kept per member (1–100)" }), keep,
    el("label", { for: "policy-sso", text: "Single sign-on" }), sso,
    el("p", { class: "muted", text: "Required: every new sign-in of a member (owners excepted) also goes through the organization's single sign-on provider, which this server's operator configures; the master password still unlocks the vault." }),
    canSign ? submit : el("p", { class: "muted", text: "Only owners and admins hold the signing key: you can read the policy but not change it." }),
    note, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const fail = (text: string, focus: HTMLElement) => {
      error.textContent = text;
      focus.focus();
    };
    const q = Number(quorum.value);
    if (!Number.isInteger(q) || q < 1 || q > 10) return fail("The quorum is a whole number from 1 to 10.", quorum);
    let link: number;
    let pending: number;
    try {
      link = parseDuration(linkTtl.value.trim());
    } catch {
      return fail("Write the link lifetime as a number and a unit, like 30m, 24h or 7d.", linkTtl);
    }
    try {
      pending = parseDuration(pendingTtl.value.trim());
    } catch {
      return fail("Write the request lifetime as a number and a unit, like 12h or 7d.", pendingTtl);
    }
    const k = Number(keep.value);
    if (!Number.isInteger(k) || k < 1 || k > 100) return fail("Keep from 1 to 100 cloud backups.", keep);
    const emails = notify.value.split(/[\s,]+/).map((t) => t.trim().toLowerCase()).filter(Boolean);
    const bad = emails.find((e) => !/^[^@\s]+@[^@\s]+$/.test(e));
    if (bad) return fail(`${bad} is not an email address.`, notify);
    const policy: RecoveryPolicy = {
      enrollment: enrollment.value as RecoveryPolicy["enrollment"],
      mode: mode.value as RecoveryPolicy["mode"],
      quorum: q, linkTtl: link, pendingTtl: pending, notify: [...new Set(emails)],
      pairingReset: pairing.checked, snapshotKeep: k, requireSso: sso.value === "required",
    };
    submit.disabled = true;
    note.textContent = "Signing…";
    try {
      const next = await setPolicy(nav.session, v, policy);
      verified.set(v.org.id, next);
      showPolicy(nav, next, `Statement ${next.statement.version} is signed and saved.`);
    } catch (e) {
      note.textContent = "";
      error.textContent = e instanceof CryptoError && e.code === "org.invalid_policy"
        ? `The policy is not valid: ${e.message}.` : describe(e);
      submit.disabled = false;
    }
  });
  page(`${v.org.name}: policy`, header(nav, v), form);
}

// ---- key rotation ----

async function showRotation(nav: Nav, v: VerifiedOrg): Promise<void> {
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const bar = el("progress", { id: "rotation-progress", max: "1", value: "0", "aria-label": "Re-wrapped escrows" });
  const barText = el("p", { class: "muted", role: "status" });
  const progressBlock = el("div", { hidden: "" }, bar, barText);
  let pending = 0;
  let others: Member[] = [];
  try {
    pending = (await rotationState(v.org.id)).pending;
    others = (await listMembers(v.org.id)).filter((m) => m.account_id !== nav.session.accountId &&
      m.status === "active" && m.recovery_admin && m.grant_key_version >= v.keyVersion);
  } catch (e) {
    error.textContent = describe(e);
  }
  const inputs = new Map<string, HTMLInputElement>();
  const list = el("div");
  if (pending === 0) {
    for (const m of others) {
      const id = `fp-${m.account_id}`;
      const input = field(id, "text", "off");
      input.removeAttribute("required");
      inputs.set(m.account_id, input);
      list.append(el("label", { for: id, text: `Member key fingerprint of ${m.email} (${m.role}), as they read it to you` }), input);
    }
  }
  const start = el("button", { type: "button",
    text: pending > 0 ? "Finish the rotation" : "Rotate the recovery key" });
  start.addEventListener("click", async () => {
    error.textContent = "";
    start.disabled = true;
    progressBlock.hidden = false;
    const confirmed = new Map<string, string>();
    for (const [id, input] of inputs) if (input.value.trim()) confirmed.set(id, input.value.trim());
    try {
      const { result, org } = await rotateKey(nav.session, v, confirmed, (done, total) => {
        bar.max = Math.max(total, 1);
        bar.value = done;
        barText.textContent = `${done} of ${total} escrow(s) re-wrapped`;
      });
      verified.set(org.org.id, org);
      const lines = [
        el("p", { text: `${result.resumed ? "The interrupted rotation is finished" : "The recovery key is rotated"}: key version ${result.keyVersion}. ${result.rewrapped} escrow(s) re-wrapped in this browser${result.skipped ? `, ${result.skipped} skipped (changed meanwhile)` : ""}.` }),
      ];
      if (result.notGranted.length) {
        lines.push(el("p", { text: `Not given the new key (no confirmed fingerprint): ${result.notGranted.join(", ")}. Grant it to them from Members once they read you their fingerprint.` }));
      }
      page(`${org.org.name}: key rotation`, header(nav, org), el("div", { class: "card" }, ...lines, bar, barText));
    } catch (e) {
      error.textContent = `${describe(e)} Open Key rotation again to finish it: nothing is lost.`;
      start.disabled = false;
    }
  });
  const intro = pending > 0
    ? el("p", { text: `A key rotation is in progress: ${pending} escrow(s) are still sealed to the old key. Finish it here; each one is opened with the old key and sealed to the new one in this browser.` })
    : el("p", { text: "Rotating makes a new recovery key, signs a statement naming it in this browser, gives it to you and to each recovery admin whose member key fingerprint you enter, and moves every member's escrow share to it. The server never holds either key." });
  page(`${v.org.name}: key rotation`, header(nav, v), el("div", { class: "card" },
    intro, list, start, progressBlock, error));
}
