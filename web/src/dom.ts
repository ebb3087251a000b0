// The pages' small DOM helpers: an element builder that sets text as text
// (never as HTML), form fields, and errors in words (never raw JSON).
import { ApiError } from "./api.js";
import { CryptoError } from "./crypto/primitives.js";

export const app = document.getElementById("app")!;

// A tiny element builder: text is always set as text, never as HTML.
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, string> = {},
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
export function describe(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === "auth.invalid_credentials") return "The email or master password is wrong.";
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

export function field(id: string, type: string, autocomplete: string): HTMLInputElement {
  return el("input", { id, name: id, type, autocomplete, required: "", "aria-describedby": "form-error" });
}


// Replaces the page's content: narrow for forms, wide for the console's
// tables.
export function show(wide: boolean, ...children: (Node | string)[]): void {
  app.classList.toggle("wide", wide);
  app.replaceChildren(...children);
}
