// "Change master password" (docs/web.md), also the page an admin-reset
// member lands on after signing in with the temporary password. Each
// organization the member is enrolled in is shown with its signing key's
// fingerprint to compare before its escrow is renewed (the browser keeps
// no pin between visits).
import { firstUsePin, listOrgs, verifyOrg, type OrgSummary } from "./admin.js";
import { changePassword, type EnrolledOrg } from "./account.js";
import { describe, el, field, show } from "./dom.js";
import { checkNewPassword, newPasswordInputs } from "./password_fields.js";
import type { Session } from "./vault.js";

export interface PasswordNav {
  session: Session;
  current?: string; // the password just typed at sign-in (forced change)
  done: (message: string) => void;
  cancel?: () => void;
}

export async function showChangePassword(nav: PasswordNav): Promise<void> {
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const note = el("p", { class: "muted", role: "status" });
  const forced = nav.session.mustChangePassword;
  let enrolled: OrgSummary[] = [];
  const pins = new Map<string, Awaited<ReturnType<typeof firstUsePin>>>();
  try {
    enrolled = (await listOrgs()).filter((o) => o.enrollment?.state === "enrolled");
    for (const o of enrolled) pins.set(o.id, await firstUsePin(o.id));
  } catch (e) {
    error.textContent = describe(e);
  }
  const current = field("current-password", "password", "current-password");
  const inputs = newPasswordInputs();
  const { pw1, pw2, meter, meterText } = inputs;
  const checks: { org: OrgSummary; box: HTMLInputElement }[] = [];
  const orgBlock = el("div");
  if (enrolled.length) {
    orgBlock.append(el("p", { text: "Your account recovery is renewed with each organization below. Compare each signing key fingerprint with the one in your invitation email (or ask your administrator) before you tick it." }));
    for (const o of enrolled) {
      const id = `org-${o.id}`;
      const box = el("input", { id, type: "checkbox" });
      checks.push({ org: o, box });
      orgBlock.append(el("div", { class: "check" }, box,
        el("label", { for: id }, `${o.name}: `, el("span", { class: "fingerprint", text: pins.get(o.id)?.fingerprint ?? "?" }))));
    }
  }
  const submit = el("button", { type: "submit", text: "Change the master password" });
  const form = el("form", { class: "card", novalidate: "" },
    forced ? el("p", { text: "An administrator reset your master password. Choose a new one now: the temporary one stops working." }) : "",
    nav.current === undefined ? el("label", { for: "current-password", text: "Current master password" }) : "",
    nav.current === undefined ? current : "",
    el("label", { for: "new-password", text: "New master password" }), pw1, meter, meterText,
    el("label", { for: "repeat-password", text: "Repeat the new master password" }), pw2,
    orgBlock, submit, note, error);
  if (nav.cancel) {
    const cancel = el("button", { type: "button", class: "secondary", text: "Cancel" });
    cancel.addEventListener("click", nav.cancel);
    form.append(cancel);
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const old = nav.current ?? current.value;
    if (!old) {
      error.textContent = "Enter your current master password.";
      current.focus();
      return;
    }
    if (!checkNewPassword(inputs, error)) return;
    if (pw1.value === old) {
      error.textContent = "Choose a password different from the current one.";
      pw1.focus();
      return;
    }
    const unchecked = checks.find((c) => !c.box.checked);
    if (unchecked) {
      error.textContent = `Compare and tick ${unchecked.org.name}'s fingerprint: your recovery there is renewed with the new password.`;
      unchecked.box.focus();
      return;
    }
    submit.disabled = true;
    note.textContent = "Changing… (deriving your keys on this device)";
    try {
      const orgs: EnrolledOrg[] = [];
      for (const { org } of checks) {
        orgs.push({ v: await verifyOrg(org.id, pins.get(org.id)!.pin), lastEpoch: org.enrollment!.last_epoch });
      }
      await changePassword(nav.session, old, pw1.value, orgs);
      pw1.value = pw2.value = current.value = "";
      nav.done("Your master password is changed. Your other devices were signed out.");
    } catch (e) {
      error.textContent = describe(e);
    } finally {
      note.textContent = "";
      submit.disabled = false;
    }
  });
  const h1 = el("h1", { text: forced ? "Choose a new master password" : "Change master password", tabindex: "-1" });
  show(false, h1, form);
  h1.focus();
}
