// The page of a new device's request from this browser (device_request.ts;
// docs/web.md "A new device, approved by the admins"): the fingerprint to
// read to the administrators, the request's status, and once approved the
// organization's signing key fingerprint to type before the vault key is
// opened here.
import { sameFingerprint } from "./admin.js";
import { describe, el, field, show } from "./dom.js";
import {
  checkRequest, dropPending, finishRequest, requestFingerprint, type PendingRequest,
} from "./device_request.js";

export interface DeviceRequestNav {
  // Back to the sign-in page, with a message.
  signIn: (message: string) => void;
}

export function showDeviceRequest(p: PendingRequest, nav: DeviceRequestNav, message = ""): void {
  const status = el("p", { id: "request-status", role: "status", text: message });
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const check = el("button", { type: "button", text: "Check the request" });
  const back = el("button", { type: "button", class: "secondary", text: "Back to sign in" });
  back.addEventListener("click", () => nav.signIn(""));
  const finish = el("div", { hidden: "" });
  const orgFp = field("org-fingerprint", "text", "off");
  orgFp.setAttribute("spellcheck", "false");
  const open = el("button", { type: "button", text: "Open my vault on this browser" });
  finish.append(
    el("p", { text: "Approved. Type your organization's signing key fingerprint, as your administrator gives it (the invitation email carried it): the page opens what was released only if the organization's signed statements match it." }),
    el("label", { for: "org-fingerprint", text: "Organization signing key fingerprint" }), orgFp, open);
  const forget = el("button", { type: "button", class: "secondary", text: "Forget this request" });
  forget.hidden = true;
  forget.addEventListener("click", () => void dropPending().then(() => nav.signIn("")));

  check.addEventListener("click", async () => {
    error.textContent = "";
    check.disabled = true;
    try {
      const s = await checkRequest(p);
      if (s.status === "pending") {
        status.textContent = `Waiting for your administrators: ${s.approvals} of ${s.quorum} approval(s).`;
      } else if (s.status === "approved") {
        status.textContent = "";
        finish.hidden = false;
        orgFp.focus();
      } else {
        status.textContent = s.status === "declined"
          ? `Declined by your administrators: ${s.decline_reason ?? ""}`
          : `This request is ${s.status.replace("_", " ")}: ask again after signing in with single sign-on.`;
        forget.hidden = false;
      }
    } catch (e) {
      error.textContent = describe(e);
    } finally {
      check.disabled = false;
    }
  });
  open.addEventListener("click", async () => {
    error.textContent = "";
    if (!orgFp.value.trim()) {
      error.textContent = "Type the fingerprint your administrator gave you.";
      orgFp.focus();
      return;
    }
    open.disabled = true;
    try {
      const rec = await finishRequest(p, orgFp.value, sameFingerprint);
      nav.signIn(`This browser is now a trusted device of ${rec.email}. Sign in with single sign-on to open your vault here (your two-step code is still asked).`);
    } catch (e) {
      error.textContent = describe(e);
      open.disabled = false;
    }
  });
  show(false, el("h1", { text: "Ask your administrators to approve this browser" }),
    el("div", { class: "card" },
      el("p", { text: "Read this fingerprint to the administrator who approves (in person or by phone): they approve only this browser with it." }),
      el("p", { id: "device-fingerprint", class: "fingerprint", text: requestFingerprint(p) }),
      status, check, finish, error, forget, back));
  check.focus();
}
