// Keyward's pages (docs/web.md). This first slice: sign in (Argon2id in the
// page, two-step login when asked) and the vault's items, read and
// decrypted here. Keys and the session live in memory only; signing out or
// closing the tab forgets them.
import "./style.css";
import { ApiError, call } from "./api.js";
import { forgetConsole, showConsole } from "./console.js";
import { isRecoveryAdmin, listOrgs } from "./admin.js";
import { describe, el, field, show } from "./dom.js";
import { init } from "./crypto/primitives.js";
import { askCode, confirmCode, describeRecoveryError } from "./forgot.js";
import { Redemption } from "./redeem.js";
import { checkNewPassword, newPasswordInputs } from "./password_fields.js";
import { NeedsSecondFactor, signIn, signOut as endSession, type Session } from "./vault.js";
import { showVaultPage, type VaultNav } from "./vault_page.js";
import { forgetThisBrowser, loadTrusted, signInTrusted, trustThisBrowser } from "./trusted_browser.js";
import { askAdmins, loadPending } from "./device_request.js";
import { showDeviceRequest } from "./device_request_page.js";
import { showChangePassword } from "./password_page.js";
import { showRecovery } from "./recovery_page.js";
import { showBackups } from "./backups_page.js";
import { showPairing } from "./pairing_page.js";
import { CALLBACK_PATH, finishSso, plausibleOrgId, startSso, type SsoTicket } from "./sso.js";

// Ends the session and forgets every key and verified organization.
async function signOut(session: Session): Promise<void> {
  forgetConsole();
  await endSession(session);
}

// "Sign in with single sign-on": a link (not a button, so that it never
// reads as the form's "Sign in"), to the organization id page.
// With `carried` tickets, the next organization's sign-in keeps them.
function ssoLink(carried: SsoTicket[] = []): HTMLAnchorElement {
  const link = el("a", { href: "/#sso", class: "sso-link", text: "Sign in with single sign-on" });
  link.addEventListener("click", (event) => {
    event.preventDefault();
    showSsoStart("", carried);
  });
  return link;
}

// The sign-in form; with `tickets`, after organizations' providers vouched
// for the member (/sso/callback): the tickets go with the auth key, and a
// refusal naming one more organization that requires single sign-on
// leads to its provider with these carried along.
function showSignIn(message = "", tickets: SsoTicket[] = []): void {
  const email = field("email", "email", "username");
  const password = field("password", "password", "current-password");
  const totp = field("totp", "text", "one-time-code");
  totp.setAttribute("inputmode", "numeric");
  totp.removeAttribute("required");
  const totpBlock = el("div", { hidden: "" },
    el("label", { for: "totp", text: "Code from your authenticator app" }), totp);
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  error.textContent = message;
  const progress = el("p", { class: "progress muted", role: "status" });
  const submit = el("button", { type: "submit", text: "Sign in" });
  const forgot = el("button", { type: "button", class: "secondary", text: "Forgot master password?" });
  forgot.addEventListener("click", () => showForgot(email.value.trim()));
  const ssoStart = ssoLink(tickets);
  const orgs = tickets.map((t) => t.orgId).join(", ");
  const emailLabel = el("label", { for: "email", text: "Email" });
  const form = el("form", { class: "card", novalidate: "" },
    tickets.length ? el("p", { id: "sso-done", role: "status", text: tickets.length === 1
      ? `Your organization's single sign-on confirmed you (organization ${orgs}). Now your email and master password: the master password still unlocks your vault, on this device only.`
      : `Your organizations' single sign-on confirmed you (organizations ${orgs}). Now your email and master password: the master password still unlocks your vault, on this device only.` }) : "",
    emailLabel, email,
    el("label", { for: "password", text: "Master password" }), password,
    totpBlock, submit, progress, error, forgot, el("p", { class: "sso" }, ssoStart));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!email.value.includes("@")) {
      error.textContent = "Enter the email address of your account.";
      email.focus();
      return;
    }
    if (password.value === "") {
      error.textContent = "Enter your master password.";
      password.focus();
      return;
    }
    submit.disabled = true;
    progress.textContent = "Unlocking… (deriving your key on this device)";
    try {
      const typed = password.value;
      const session = await signIn(email.value.trim(), typed,
        totpBlock.hidden ? undefined : totp.value.trim(), tickets.map((t) => t.ticket));
      password.value = "";
      if (session.mustChangePassword) {
        await startIdleLock(session);
        await showChangePassword({ session, current: typed, done: (m) => void showVault(session, m) });
      } else {
        await showVault(session);
      }
    } catch (e) {
      if (e instanceof NeedsSecondFactor) {
        totpBlock.hidden = false;
        totp.setAttribute("required", "");
        error.textContent = "Enter the code from your authenticator app.";
        totp.focus();
      } else if (e instanceof ApiError && (e.code === "auth.sso_required" || e.code.startsWith("sso."))) {
        // The server's words name the organization and its id; the way on
        // is the provider's sign-in, from the link below the form.
        password.value = "";
        error.textContent = e.message;
        // With tickets already: another organization also requires it.
        if (e.code === "auth.sso_required" && tickets.length) {
          ssoStart.textContent = "Also sign in at the next organization's single sign-on";
        }
        ssoStart.focus();
      } else {
        error.textContent = describe(e);
      }
    } finally {
      submit.disabled = false;
      progress.textContent = "";
    }
  });
  show(false, el("h1", { text: tickets.length ? "Finish signing in to Keyward" : "Sign in to Keyward" }), form);
  email.focus();
  if (tickets.length) {
    void offerTrustedSignIn(form, emailLabel, tickets, totpBlock, totp, progress, error);
    // Every trusted device lost: the organization's admins approve this one.
    const ask = el("button", { type: "button", class: "secondary",
      text: "Lost every trusted device? Ask your administrators to approve this browser" });
    ask.addEventListener("click", async () => {
      error.textContent = "";
      ask.disabled = true;
      try {
        const pending = await askAdmins(tickets[0].ticket, tickets[0].orgId);
        showDeviceRequest(pending, { signIn: (m) => showSignIn(m) },
          "Request sent: your administrators were emailed.");
      } catch (e) {
        error.textContent = describe(e);
        ask.disabled = false;
      }
    });
    form.insertBefore(ask, forgot);
  } else {
    void loadPending().then((pending) => {
      if (!pending) return;
      const resume = el("button", { type: "button", class: "secondary",
        text: "Your request for this browser to your administrators" });
      resume.addEventListener("click", () => showDeviceRequest(pending, { signIn: (m) => showSignIn(m) }));
      form.insertBefore(resume, forgot);
    });
  }
}

// After the provider's sign-in, on a trusted browser: the way in without the
// master password (trusted_browser.ts), the two-step code still asked.
async function offerTrustedSignIn(form: HTMLFormElement, before: HTMLElement, tickets: SsoTicket[],
  totpBlock: HTMLElement, totp: HTMLInputElement, progress: HTMLElement,
  error: HTMLElement): Promise<void> {
  const rec = await loadTrusted();
  if (!rec) return;
  const go = el("button", { type: "button", text: `Sign in as ${rec.email} with this trusted browser` });
  go.addEventListener("click", async () => {
    error.textContent = "";
    go.disabled = true;
    progress.textContent = "Signing in with this browser's key…";
    try {
      const session = await signInTrusted(rec, tickets.map((t) => t.ticket),
        totpBlock.hidden ? undefined : totp.value.trim());
      await showVault(session);
    } catch (e) {
      if (e instanceof NeedsSecondFactor) {
        totpBlock.hidden = false;
        error.textContent = "Enter the code from your authenticator app, then sign in with this trusted browser again.";
        totp.focus();
      } else if (e instanceof ApiError && e.code === "auth.invalid_credentials") {
        error.textContent = "This browser is not a trusted device of the account any more (forgotten, removed, or dropped by a recovery): sign in with your master password.";
      } else {
        error.textContent = describe(e);
      }
    } finally {
      go.disabled = false;
      progress.textContent = "";
    }
  });
  form.insertBefore(el("p", { id: "trusted-browser",
    text: `This browser is a trusted device of ${rec.email}: no master password needed.` }), before);
  form.insertBefore(go, before);
  form.insertBefore(el("p", { class: "muted", text: "Or with a master password:" }), before);
  go.focus();
}

// Single sign-on, first step: the organization id, then the browser goes to
// the organization's identity provider (sso.ts checks the address).
function showSsoStart(message = "", carried: SsoTicket[] = []): void {
  const org = field("sso-org", "text", "off");
  org.setAttribute("spellcheck", "false");
  org.setAttribute("autocapitalize", "off");
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  error.textContent = message;
  const progress = el("p", { class: "progress muted", role: "status" });
  const submit = el("button", { type: "submit", text: "Continue to your organization's sign-in" });
  const back = el("button", { type: "button", class: "secondary", text: "Back to sign in" });
  back.addEventListener("click", () => showSignIn("", carried));
  const form = el("form", { class: "card", novalidate: "" },
    el("p", { text: carried.length
      ? `Your single sign-on at organization ${carried.map((t) => t.orgId).join(", ")} is kept for this sign-in; now the next organization's identity provider.`
      : "Your organization asks you to sign in at its identity provider first; your master password still unlocks your vault afterwards." }),
    el("label", { for: "sso-org", text: "Organization id" }), org,
    el("p", { class: "muted", text: "Your administrator gives it to you; `keyward org list` shows it, and the message of a refused sign-in names it." }),
    submit, progress, error, back);
  org.addEventListener("input", () => (error.textContent = ""));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const id = org.value.trim();
    if (!plausibleOrgId(id)) {
      error.textContent = id === ""
        ? "Enter your organization's id."
        : "An organization id is letters, digits, - and _ (like ecc0oIxkWRRigvVQBbkrpw).";
      org.focus();
      return;
    }
    submit.disabled = true;
    progress.textContent = "Asking the server for your organization's sign-in page…";
    try {
      await startSso(id, carried);
      progress.textContent = "Opening your organization's sign-in page…";
    } catch (e) {
      progress.textContent = "";
      error.textContent = describe(e);
      submit.disabled = false;
    }
  });
  show(false, el("h1", { text: "Sign in with single sign-on" }), form);
  org.focus();
}

// /sso/callback?code=…&state=… (or ?error=…): the query is removed from the
// address bar first; a state this tab did not store does nothing else.
async function showSsoCallback(query: string): Promise<void> {
  const back = el("button", { type: "button", class: "secondary", text: "Back to sign in" });
  back.addEventListener("click", () => showSignIn());
  const again = el("button", { type: "button", text: "Sign in with single sign-on again" });
  again.addEventListener("click", () => showSsoStart());
  const page = (...lines: (Node | string)[]) =>
    show(false, el("h1", { text: "Single sign-on" }), el("div", { class: "card" }, ...lines));
  const status = el("p", { class: "progress muted", role: "status", text: "Checking the sign-in with the server…" });
  page(status);
  try {
    const answer = await finishSso(query);
    if (answer.kind === "not-started") {
      page(el("p", { class: "error", role: "alert", text: "This sign-in was not started here. Nothing was done: to sign in, start again from the sign-in page." }), back);
      back.focus();
    } else if (answer.kind === "provider-error") {
      page(el("p", { class: "error", role: "alert", text: `Your organization's identity provider did not sign you in (${answer.error}).` }), again, back);
      again.focus();
    } else {
      showSignIn("", answer.tickets);
    }
  } catch (e) {
    page(el("p", { class: "error", role: "alert", text: describe(e) }), again, back);
    again.focus();
  }
}

// The member's recovery request: email, then the emailed code.
function showForgot(prefill: string): void {
  const email = field("email", "email", "username");
  email.value = prefill;
  const code = field("code", "text", "one-time-code");
  code.setAttribute("inputmode", "numeric");
  code.removeAttribute("required");
  const codeBlock = el("div", { hidden: "" },
    el("label", { for: "code", text: "6-digit code from the email" }), code);
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const note = el("p", { class: "muted", role: "status" });
  const submit = el("button", { type: "submit", text: "Send me a code" });
  const back = el("button", { type: "button", class: "secondary", text: "Back to sign in" });
  back.addEventListener("click", () => showSignIn());
  const restoreBox = el("input", { id: "restore-backup", type: "checkbox" });
  const form = el("form", { class: "card", novalidate: "" },
    el("p", { text: "Your organization's recovery admins can give you back your vault. Ask for it here; an admin will check with you and send you a recovery link." }),
    el("label", { for: "email", text: "Email" }), email,
    el("div", { class: "check" }, restoreBox, el("label", { for: "restore-backup",
      text: "Also put back my newest cloud backup (it replaces every item of the vault)" })),
    codeBlock, submit, note, error, back);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const address = email.value.trim();
    if (!address.includes("@")) {
      error.textContent = "Enter the email address of your account.";
      email.focus();
      return;
    }
    submit.disabled = true;
    try {
      if (codeBlock.hidden) {
        await askCode(address, restoreBox.checked);
        codeBlock.hidden = false;
        email.readOnly = true;
        restoreBox.disabled = true;
        submit.textContent = "Send request";
        note.textContent = `If ${address} can be recovered, a 6-digit code was emailed to it.`;
        code.focus();
        return;
      }
      if (!/^[0-9]{6}$/.test(code.value.trim())) {
        error.textContent = "Enter the 6 digits of the code from the email.";
        code.focus();
        return;
      }
      const sent = await confirmCode(address, code.value.trim());
      showRequestSent(sent.request_id, sent.org_name, sent.expires_at);
    } catch (e) {
      error.textContent = describeRecoveryError(e) ?? describe(e);
    } finally {
      submit.disabled = false;
    }
  });
  show(false, el("h1", { text: "Forgot master password?" }), form);
  email.focus();
}

function showRequestSent(id: string, org: string, expires: string): void {
  const back = el("button", { type: "button", class: "secondary", text: "Back to sign in" });
  back.addEventListener("click", () => showSignIn());
  show(false,
    el("h1", { text: "Request sent — contact your administrator" }),
    el("div", { class: "card" },
      el("p", { text: `Your recovery request ${id}${org ? ` to ${org}` : ""} is waiting for a recovery admin. Call or meet them so they can check it is you; they will send you a recovery link.` }),
      el("p", { class: "muted", text: expires ? `It expires at ${expires} if nobody answers it.` : "" }),
      back));
  back.focus();
}

// The idle lock (docs/web.md): after the server's web_lock_seconds without
// a key press, click or touch, the page forgets the session and the keys.
let lockTimer: ReturnType<typeof setTimeout> | undefined;
let stopWatching: (() => void) | undefined;

function stopIdleLock(): void {
  if (lockTimer) clearTimeout(lockTimer);
  lockTimer = undefined;
  stopWatching?.();
  stopWatching = undefined;
}

async function startIdleLock(session: Session): Promise<void> {
  stopIdleLock();
  let seconds = 15 * 60;
  try {
    const info = await call<{ web_lock_seconds?: number }>("GET", "/v1/server");
    if (typeof info.web_lock_seconds === "number" && info.web_lock_seconds > 0) {
      seconds = info.web_lock_seconds;
    }
  } catch {
    // keep the default
  }
  const lock = async () => {
    stopIdleLock();
    try {
      await signOut(session);
    } catch {
      // the keys are wiped whatever the server says
    }
    const minutes = Math.round(seconds / 60);
    showSignIn(minutes >= 1
      ? `Locked after ${minutes} minute(s) without activity; sign in again.`
      : "Locked after a while without activity; sign in again.");
  };
  const reset = () => {
    if (lockTimer) clearTimeout(lockTimer);
    lockTimer = setTimeout(lock, seconds * 1000);
  };
  const events = ["keydown", "pointerdown", "touchstart"];
  for (const e of events) document.addEventListener(e, reset, { passive: true });
  stopWatching = () => {
    for (const e of events) document.removeEventListener(e, reset);
  };
  reset();
}

async function showVault(session: Session, message = ""): Promise<void> {
  await startIdleLock(session);
  const orgs = await listOrgs().catch(() => []);
  const nav: VaultNav = {
    session,
    signOut: async () => {
      stopIdleLock();
      try {
        await signOut(session);
      } finally {
        showSignIn("You are signed out.");
      }
    },
    changePassword: () => void showChangePassword({
      session,
      done: (m) => void showVaultPage(nav, m),
      cancel: () => void showVaultPage(nav),
    }),
    recovery: () => void showRecovery({ session, back: () => void showVaultPage(nav) }),
    backups: () => void showBackups({ session, back: () => void showVaultPage(nav) }),
    pair: () => void showPairing({ session, back: () => void showVaultPage(nav) }),
  };
  if (orgs.some(isRecoveryAdmin)) {
    nav.openConsole = () => void showConsole({ session, toVault: () => void showVaultPage(nav) });
  }
  const trusted = await loadTrusted();
  if (trusted && trusted.accountId === session.accountId) {
    nav.forget = () => void forgetThisBrowser(trusted, true).then(
      () => showVault(session, "This browser is no longer trusted: sign in with your master password next time."),
      (e) => showVaultPage(nav, describe(e)));
  } else {
    nav.trust = () => void trustThisBrowser(session).then(
      () => showVault(session, "This browser is now trusted: next time, your organization's single sign-on (and your two-step code) opens this vault here without the master password."),
      (e) => showVaultPage(nav, describe(e)));
  }
  await showVaultPage(nav, message);
}

// A recovery link (`/recover/<id>#<secret>`): the fragment is read once and
// removed from the address bar and the history at once, before anything
// else runs.
function showRedeem(linkText: string): void {
  let redemption: Redemption;
  try {
    redemption = Redemption.parse(linkText, location.origin);
  } catch (e) {
    showSignIn(describe(e) + " Ask your administrator for the link again.");
    return;
  }
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const note = el("p", { class: "muted", role: "status" });
  const step = el("div");
  const form = el("form", { class: "card", novalidate: "" }, step, note, error);
  show(false, el("h1", { text: "Recover your account" }), form);

  let stage: "start" | "code" | "password" = "start";
  const renew: HTMLInputElement[] = [];
  const start = el("button", { type: "submit", text: "Email me a code" });
  step.replaceChildren(
    el("p", { text: "Your administrator approved your recovery. A 6-digit code will be emailed to the account this link recovers: the link alone cannot reset your password." }),
    start);
  start.focus();

  const code = field("code", "text", "one-time-code");
  code.setAttribute("inputmode", "numeric");
  const inputs = newPasswordInputs();
  const { pw1, pw2, meter, meterText } = inputs;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const button = form.querySelector("button[type=submit]") as HTMLButtonElement;
    button.disabled = true;
    try {
      if (stage === "start") {
        await redemption.begin();
        stage = "code";
        step.replaceChildren(el("label", { for: "code", text: "6-digit code from the email" }), code,
          el("button", { type: "submit", text: "Check the code" }));
        code.focus();
      } else if (stage === "code") {
        if (!/^[0-9]{6}$/.test(code.value.trim())) {
          error.textContent = "Enter the 6 digits of the code from the email.";
          return;
        }
        note.textContent = "Checking…";
        await redemption.verify(code.value.trim());
        note.textContent = "";
        const restoring = redemption.restores;
        if (restoring) {
          // As the CLI: the backup is read, checked and sent before the
          // new password is asked for.
          const bar = el("progress", { max: "1", value: "0", "aria-label": "Cloud backup" });
          step.replaceChildren(el("p", { text: `This link also restores your cloud backup of ${new Date(restoring.created_at).toLocaleString()}: every item of your vault is replaced with the backup's and every device is signed out.` }), bar);
          await redemption.stageRestore((what, done, total) => {
            bar.max = Math.max(total, 1);
            bar.value = done;
            note.textContent = `${what}… ${done} of ${total}`;
          });
          note.textContent = "";
        }
        stage = "password";
        const others = el("div");
        const unvouched = redemption.unvouched();
        if (unvouched.length) {
          others.append(el("p", { text: "Your recovery is renewed with the organization that approved this link. You also belong to the organizations below: tick one only if its signing key fingerprint is the one you were given (in your invitation email or by its administrator)." }));
          for (const o of unvouched) {
            const box = el("input", { id: `renew-${o.orgId}`, type: "checkbox", value: o.orgId });
            renew.push(box);
            others.append(el("div", { class: "check" }, box, el("label", { for: `renew-${o.orgId}` },
              `Renew with ${o.name}: `, el("span", { class: "fingerprint", text: o.fingerprint }))));
          }
        }
        step.replaceChildren(
          restoring ? el("p", { text: "The cloud backup is checked and ready: it replaces your vault when you set the new password." }) : "",
          el("p", { text: `Choose a new master password for ${redemption.email}.` }),
          el("label", { for: "new-password", text: "New master password" }), pw1, meter, meterText,
          el("label", { for: "repeat-password", text: "Repeat the new master password" }), pw2,
          others,
          el("button", { type: "submit", text: "Set the new master password" }));
        pw1.focus();
      } else {
        if (!checkNewPassword(inputs, error)) return;
        note.textContent = "Setting the new password… (deriving your key on this device)";
        await new Promise((resolve) => setTimeout(resolve, 30));
        const done = await redemption.complete(pw1.value,
          new Set(renew.filter((b) => b.checked).map((b) => b.value)));
        pw1.value = pw2.value = "";
        showRecovered(done.email, done.escrowedTo, done.leftOut);
      }
    } catch (e) {
      note.textContent = "";
      error.textContent = describeRecoveryError(e) ?? describe(e);
    } finally {
      button.disabled = false;
    }
  });
}

function showRecovered(email: string, escrowedTo: string[], leftOut: string[]): void {
  const signIn = el("button", { type: "button", text: "Sign in" });
  signIn.addEventListener("click", () => showSignIn());
  const lines = [
    el("p", { text: `The master password of ${email} is reset. Sign in with it: two-step login is still asked if it is on.` }),
  ];
  if (escrowedTo.length) {
    lines.push(el("p", { class: "muted", text: `Account recovery renewed with: ${escrowedTo.join(", ")}.` }));
  }
  if (leftOut.length) {
    lines.push(el("p", { class: "muted", text: `Not renewed (not confirmed): ${leftOut.join(", ")}. Your previous recovery there stays; enroll again from Account recovery after signing in.` }));
  }
  show(false, el("h1", { text: "Done" }), el("div", { class: "card" }, ...lines, signIn));
  signIn.focus();
}

if (location.pathname.startsWith("/recover/") && location.hash.length > 1) {
  const linkText = location.origin + location.pathname + location.hash;
  history.replaceState(null, "", location.pathname);
  showRedeem(linkText);
} else if (location.pathname === CALLBACK_PATH) {
  // The provider's code must not stay in the address bar or the history.
  const query = location.search;
  history.replaceState(null, "", "/");
  void showSsoCallback(query);
} else if (location.hash === "#sso") {
  history.replaceState(null, "", "/");
  showSsoStart();
} else {
  showSignIn();
}

// The first page is drawn without libsodium; fetch and compile it now, so
// it is ready by the time a password has been typed.
setTimeout(() => void init().catch(() => undefined), 0);
