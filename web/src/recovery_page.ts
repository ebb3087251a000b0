// "Account recovery" for a member (docs/web.md): the organizations the
// member belongs to, enrollment in each (the escrow sealed in the page to
// the recovery key of a statement chain verified from the signing key the
// member confirms by its fingerprint, the master password re-checked), and
// withdrawal where the policy allows it.
import { firstUsePin, listOrgs, verifyOrg, type OrgSummary } from "./admin.js";
import { enroll, withdraw } from "./account.js";
import { describe, el, field, show } from "./dom.js";
import type { Session } from "./vault.js";

export interface RecoveryNav {
  session: Session;
  back: () => void;
}

function policyText(o: OrgSummary): string {
  const p = o.policy ?? {};
  return `enrollment ${p.enrollment ?? "?"}, ${p.mode === "admin-reset" ? "admin reset" : "dual control"}`;
}

export async function showRecovery(nav: RecoveryNav, message = ""): Promise<void> {
  const error = el("p", { class: "error", role: "alert" });
  let orgs: OrgSummary[] = [];
  try {
    orgs = await listOrgs();
  } catch (e) {
    error.textContent = describe(e);
  }
  const list = el("ul", { class: "items", "aria-label": "Organizations" });
  for (const o of orgs) {
    const enrolled = o.enrollment?.state === "enrolled";
    const actions = el("div", { class: "actions" });
    const policy = o.policy?.enrollment ?? "disabled";
    if (!enrolled && policy !== "disabled") {
      const b = el("button", { type: "button", class: "secondary", text: `Enroll in ${o.name}` });
      b.addEventListener("click", () => void showEnroll(nav, o));
      actions.append(b);
    }
    if (enrolled && policy !== "mandatory") {
      const b = el("button", { type: "button", class: "secondary", text: `Withdraw from ${o.name}` });
      b.addEventListener("click", () => showWithdraw(nav, o));
      actions.append(b);
    }
    list.append(el("li", {}, el("strong", { text: o.name }),
      el("span", { class: "sub", text: `${enrolled ? `Enrolled (escrow ${o.enrollment!.epoch})` : "Not enrolled"} — ${policyText(o)}` }),
      actions));
  }
  const back = el("button", { type: "button", class: "secondary", text: "Back to your vault" });
  back.addEventListener("click", nav.back);
  show(false, el("h1", { text: "Account recovery" }), el("div", { class: "card" },
    message ? el("p", { role: "status", text: message }) : "",
    el("p", { text: "If you forget your master password or lose every device, an organization you are enrolled in can give you back this vault: its admins never see your items, and need the server's part and your emailed code to do it." }),
    orgs.length ? list : el("p", { class: "muted", text: "You are not a member of any organization." }),
    back, error));
}

function passwordForm(nav: RecoveryNav, heading: string, intro: (Node | string)[], submitText: string,
  extra: HTMLElement | undefined, run: (password: string) => Promise<string>,
  precheck?: () => HTMLElement | undefined): void {
  const password = field("confirm-password", "password", "current-password");
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const note = el("p", { class: "muted", role: "status" });
  const submit = el("button", { type: "submit", text: submitText });
  const cancel = el("button", { type: "button", class: "secondary", text: "Cancel" });
  cancel.addEventListener("click", () => void showRecovery(nav));
  const form = el("form", { class: "card", novalidate: "" }, ...intro, extra ?? "",
    el("label", { for: "confirm-password", text: "Your master password" }), password,
    el("div", { class: "actions" }, submit, cancel), note, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const unconfirmed = precheck?.();
    if (unconfirmed) {
      error.textContent = "Compare the fingerprint and tick the box first.";
      unconfirmed.focus();
      return;
    }
    if (!password.value) {
      error.textContent = "Enter your master password.";
      password.focus();
      return;
    }
    submit.disabled = true;
    note.textContent = "Working… (deriving your key on this device)";
    try {
      const done = await run(password.value);
      password.value = "";
      await showRecovery(nav, done);
    } catch (e) {
      error.textContent = describe(e);
      note.textContent = "";
      submit.disabled = false;
    }
  });
  const h1 = el("h1", { text: heading, tabindex: "-1" });
  show(false, h1, form);
  h1.focus();
}

async function showEnroll(nav: RecoveryNav, o: OrgSummary): Promise<void> {
  let candidate: Awaited<ReturnType<typeof firstUsePin>>;
  try {
    candidate = await firstUsePin(o.id);
  } catch (e) {
    await showRecovery(nav, describe(e));
    return;
  }
  const box = el("input", { id: "fingerprint-matches", type: "checkbox" });
  const check = el("div", {},
    el("p", { class: "fingerprint", id: "signing-fingerprint", text: candidate.fingerprint }),
    el("div", { class: "check" }, box, el("label", { for: "fingerprint-matches",
      text: "This is the fingerprint in my invitation email (or the one my administrator gave me)" })));
  passwordForm(nav, `Enroll in ${o.name}`, [
    el("p", { text: `Compare ${o.name}'s signing key fingerprint below with the one you were given. Your vault key is then sealed in this browser to the recovery key that signing key vouches for.` }),
  ], "Enroll", check, async (password) => {
    const v = await verifyOrg(o.id, candidate.pin);
    await enroll(nav.session, v, o.enrollment?.last_epoch ?? 0, password);
    return `You are enrolled in account recovery with ${o.name}.`;
  }, () => (box.checked ? undefined : box));
}

function showWithdraw(nav: RecoveryNav, o: OrgSummary): void {
  passwordForm(nav, `Withdraw from ${o.name}`, [
    el("p", { text: `${o.name}'s admins will no longer be able to give you back your vault if you forget your master password.` }),
  ], "Withdraw", undefined, async (password) => {
    await withdraw(nav.session, o.id, password);
    return `You withdrew from account recovery with ${o.name}.`;
  });
}
