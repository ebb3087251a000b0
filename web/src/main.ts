// Keyward's pages (docs/web.md). This first slice: sign in (Argon2id in the
// page, two-step login when asked) and the vault's items, read and
// decrypted here. Keys and the session live in memory only; signing out or
// closing the tab forgets them.
import "./style.css";
import { ApiError } from "./api.js";
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
  const form = el("form", { class: "card", novalidate: "" },
    el("label", { for: "email", text: "Email" }), email,
    el("label", { for: "password", text: "Master password" }), password,
    totpBlock, submit, progress, error);
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
