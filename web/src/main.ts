// Keyward's pages (docs/web.md). This first slice: sign in (Argon2id in the
// page, two-step login when asked) and the vault's items, read and
// decrypted here. Keys and the session live in memory only; signing out or
// closing the tab forgets them.
import "./style.css";
import { ApiError } from "./api.js";
import { askCode, confirmCode, describeRecoveryError } from "./forgot.js";
import { CryptoError } from "./crypto/primitives.js";
import { listItems, NeedsSecondFactor, signIn, signOut, type Session } from "./vault.js";

const app = document.getElementById("app")!;

// A tiny element builder: text is always set as text, never as HTML.
function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, string> = {},
  ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

// Errors in words, never raw JSON.
function describe(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === "auth.invalid_credentials") return "The email or master password is wrong.";
    if (e.code === "request.rate_limited" || e.code === "auth.locked") return e.message;
    return e.message;
  }
  if (e instanceof CryptoError) {
    if (e.code === "crypto.decrypt_failed") {
      return "Your vault key did not open: the server's data does not match this password.";
    }
    return e.message;
  }
  return "Something went wrong; try again.";
}

function field(id: string, type: string, autocomplete: string): HTMLInputElement {
  return el("input", { id, name: id, type, autocomplete, required: "", "aria-describedby": "form-error" });
}

function showSignIn(message = ""): void {
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
  const form = el("form", { class: "card", novalidate: "" },
    el("label", { for: "email", text: "Email" }), email,
    el("label", { for: "password", text: "Master password" }), password,
    totpBlock, submit, progress, error, forgot);
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
      const session = await signIn(email.value.trim(), password.value,
        totpBlock.hidden ? undefined : totp.value.trim());
      password.value = "";
      await showVault(session);
    } catch (e) {
      if (e instanceof NeedsSecondFactor) {
        totpBlock.hidden = false;
        totp.setAttribute("required", "");
        error.textContent = "Enter the code from your authenticator app.";
        totp.focus();
      } else {
        error.textContent = describe(e);
      }
    } finally {
      submit.disabled = false;
      progress.textContent = "";
    }
  });
  app.replaceChildren(el("h1", { text: "Sign in to Keyward" }), form);
  email.focus();
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
  const form = el("form", { class: "card", novalidate: "" },
    el("p", { text: "Your organization's recovery admins can give you back your vault. Ask for it here; an admin will check with you and send you a recovery link." }),
    el("label", { for: "email", text: "Email" }), email, codeBlock, submit, note, error, back);
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
        await askCode(address);
        codeBlock.hidden = false;
        email.readOnly = true;
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
  app.replaceChildren(el("h1", { text: "Forgot master password?" }), form);
  email.focus();
}

function showRequestSent(id: string, org: string, expires: string): void {
  const back = el("button", { type: "button", class: "secondary", text: "Back to sign in" });
  back.addEventListener("click", () => showSignIn());
  app.replaceChildren(
    el("h1", { text: "Request sent — contact your administrator" }),
    el("div", { class: "card" },
      el("p", { text: `Your recovery request ${id}${org ? ` to ${org}` : ""} is waiting for a recovery admin. Call or meet them so they can check it is you; they will send you a recovery link.` }),
      el("p", { class: "muted", text: expires ? `It expires at ${expires} if nobody answers it.` : "" }),
      back));
  back.focus();
}

async function showVault(session: Session): Promise<void> {
  const items = await listItems(session);
  const list = el("ul", { class: "items", "aria-label": "Items" });
  for (const item of items) {
    list.append(el("li", {}, el("strong", { text: item.fields.name || "(no name)" }),
      el("span", { class: "sub", text: [item.fields.username, item.fields.url].filter(Boolean).join(" · ") })));
  }
  const out = el("button", { type: "button", class: "secondary", text: "Sign out" });
  out.addEventListener("click", async () => {
    try {
      await signOut(session);
    } finally {
      showSignIn("You are signed out.");
    }
  });
  app.replaceChildren(
    el("h1", { text: "Your vault" }),
    el("div", { class: "card" },
      el("p", { class: "muted", text: `Signed in as ${session.email}. ${items.length} item(s).` }),
      list, out));
}

showSignIn();
