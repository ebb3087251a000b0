// The member's vault in the page (docs/web.md "Vault"): the items decrypted
// here, searched here (the server sees no query), each one's password
// hidden until revealed, copied without being shown, added, edited and
// deleted, every change encrypted here before it is sent.
import { ApiError } from "./api.js";
import { fingerprint } from "./crypto/primitives.js";
import { describe, el, field, show } from "./dom.js";
import {
  addItem, deleteItem, generatePassword, listItems, updateItem, type Item, type ItemFields,
  type Session,
} from "./vault.js";

export interface VaultNav {
  session: Session;
  signOut: () => void;
  openConsole?: () => void;
  changePassword?: () => void;
  recovery?: () => void;
  backups?: () => void;
  pair?: () => void;
  // A trusted browser (trusted_browser.ts): make this one, or forget it.
  trust?: () => void;
  forget?: () => void;
}

function describeItemError(e: unknown): string {
  if (e instanceof ApiError) {
    switch (e.code) {
      case "item.stale_revision":
        return "This item was changed on another device since you opened it; go back to the list to see the new version.";
      case "item.not_found":
        return "This item was deleted on another device.";
      case "item.too_large":
        return "This item is too large to store; shorten the notes.";
    }
  }
  return describe(e);
}

function button(text: string, onClick: () => void, secondary = true): HTMLButtonElement {
  const b = el("button", { type: "button", text });
  if (secondary) b.className = "secondary";
  b.addEventListener("click", onClick);
  return b;
}

async function copy(text: string, status: HTMLElement, what: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = `${what} copied.`;
  } catch {
    status.textContent = `Copying is not allowed in this browser; reveal the ${what.toLowerCase()} instead.`;
  }
}

export async function showVaultPage(nav: VaultNav, message = ""): Promise<void> {
  const error = el("p", { class: "error", role: "alert" });
  let items: Item[] = [];
  try {
    items = await listItems(nav.session);
  } catch (e) {
    error.textContent = describe(e);
  }
  items.sort((a, b) => a.fields.name.localeCompare(b.fields.name));
  const search = field("search", "search", "off");
  search.removeAttribute("required");
  search.removeAttribute("aria-describedby");
  const list = el("ul", { class: "items", "aria-label": "Items" });
  const count = el("p", { class: "muted", role: "status" });
  const render = () => {
    const q = search.value.trim().toLowerCase();
    const shown = items.filter((i) => !q || [i.fields.name, i.fields.username, i.fields.url]
      .some((t) => t.toLowerCase().includes(q)));
    list.replaceChildren(...shown.map((item) => {
      const open = button(item.fields.name || "(no name)", () => showItem(nav, item));
      open.classList.add("item-link");
      return el("li", {}, open,
        el("span", { class: "sub", text: [item.fields.username, item.fields.url].filter(Boolean).join(" · ") }));
    }));
    count.textContent = q ? `${shown.length} of ${items.length} item(s) match.` : `${items.length} item(s).`;
  };
  search.addEventListener("input", render);
  render();
  const actions = el("div", { class: "actions" },
    button("Add an item", () => showEditor(nav), false));
  if (nav.openConsole) actions.append(button("Admin console", nav.openConsole));
  if (nav.changePassword) actions.append(button("Change master password", nav.changePassword));
  if (nav.recovery) actions.append(button("Account recovery", nav.recovery));
  if (nav.backups) actions.append(button("Cloud backups", nav.backups));
  if (nav.pair) actions.append(button("Pair a new device", nav.pair));
  if (nav.trust) actions.append(button("Trust this browser", nav.trust));
  if (nav.forget) actions.append(button("Forget this browser", nav.forget));
  actions.append(button("Sign out", nav.signOut));
  show(false,
    el("h1", { text: "Your vault" }),
    el("div", { class: "card" },
      el("p", { class: "muted", text: `Signed in as ${nav.session.email}.` }),
      nav.session.memberKeys ? el("p", { class: "muted", id: "member-key-fingerprint",
        text: `Your member key fingerprint (an admin may ask you to read it out): ${fingerprint(nav.session.memberKeys.publicKey)}` }) : "",
      message ? el("p", { role: "status", text: message }) : "",
      el("label", { for: "search", text: "Search your vault" }), search,
      count, list, actions, error));
}

function showItem(nav: VaultNav, item: Item): void {
  const status = el("p", { class: "muted", role: "status" });
  const error = el("p", { class: "error", role: "alert" });
  const password = el("span", { class: "secret", id: "item-password", text: "••••••••" });
  let revealed = false;
  const reveal = button("Reveal", () => {
    revealed = !revealed;
    password.textContent = revealed ? item.fields.password : "••••••••";
    reveal.textContent = revealed ? "Hide" : "Reveal";
    reveal.setAttribute("aria-pressed", String(revealed));
  });
  reveal.setAttribute("aria-pressed", "false");
  reveal.setAttribute("aria-label", "Reveal the password");
  const dl = el("dl", { class: "details" });
  const add = (k: string, v: Node | string) => dl.append(el("dt", { text: k }), el("dd", {}, v));
  add("Name", item.fields.name);
  add("Username", item.fields.username || "—");
  add("Password", item.fields.password ? password : "—");
  add("Website", item.fields.url || "—");
  add("Notes", item.fields.notes || "—");
  const actions = el("div", { class: "actions" });
  if (item.fields.password) {
    actions.append(reveal,
      button("Copy the password", () => void copy(item.fields.password, status, "Password")));
  }
  if (item.fields.username) {
    actions.append(button("Copy the username", () => void copy(item.fields.username, status, "Username")));
  }
  actions.append(button("Edit", () => showEditor(nav, item)));
  const remove = button("Delete", async () => {
    if (remove.dataset.confirm !== "yes") {
      remove.dataset.confirm = "yes";
      remove.textContent = "Delete for good";
      status.textContent = `Press “Delete for good” to delete ${item.fields.name} from every device.`;
      return;
    }
    try {
      await deleteItem(item);
      await showVaultPage(nav, `${item.fields.name} was deleted.`);
    } catch (e) {
      error.textContent = describeItemError(e);
    }
  });
  actions.append(remove, button("Back to the list", () => void showVaultPage(nav)));
  const h1 = el("h1", { text: item.fields.name || "(no name)", tabindex: "-1" });
  show(false, h1, el("div", { class: "card" }, dl, actions, status, error));
  h1.focus();
}

// Adds an item, or edits `item`.
function showEditor(nav: VaultNav, item?: Item): void {
  const f = item?.fields ?? { name: "", username: "", password: "", url: "", notes: "" };
  const name = field("item-name", "text", "off");
  name.value = f.name;
  const username = field("item-username", "text", "off");
  username.removeAttribute("required");
  username.value = f.username;
  const password = field("item-password-field", "password", "new-password");
  password.removeAttribute("required");
  password.value = f.password;
  const url = field("item-url", "url", "off");
  url.removeAttribute("required");
  url.value = f.url;
  const notes = el("textarea", { id: "item-notes", name: "notes", rows: "4" });
  notes.value = f.notes;
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const generate = button("Generate a password", () => {
    password.value = generatePassword();
    password.type = "text";
  });
  const form = el("form", { class: "card", novalidate: "" },
    el("label", { for: "item-name", text: "Name" }), name,
    el("label", { for: "item-username", text: "Username" }), username,
    el("label", { for: "item-password-field", text: "Password" }), password, generate,
    el("label", { for: "item-url", text: "Website" }), url,
    el("label", { for: "item-notes", text: "Notes" }), notes,
    el("div", { class: "actions" },
      el("button", { type: "submit", text: item ? "Save" : "Add" }),
      button("Cancel", () => (item ? showItem(nav, item) : void showVaultPage(nav)))),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const fields: ItemFields = {
      name: name.value.trim(), username: username.value.trim(), password: password.value,
      url: url.value.trim(), notes: notes.value,
    };
    if (!fields.name) {
      error.textContent = "Give the item a name.";
      name.focus();
      return;
    }
    if (fields.url && !/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(fields.url)) {
      error.textContent = "Enter the website as a whole address, like https://example.com.";
      url.focus();
      return;
    }
    try {
      const saved = item ? await updateItem(nav.session, item, fields) : await addItem(nav.session, fields);
      password.value = "";
      showItem(nav, saved);
    } catch (e) {
      error.textContent = describeItemError(e);
    }
  });
  const h1 = el("h1", { text: item ? `Edit ${f.name}` : "Add an item", tabindex: "-1" });
  show(false, h1, form);
  name.focus();
}
