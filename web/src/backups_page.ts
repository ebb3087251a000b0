// "Cloud backups" for a signed-in member (docs/web.md): the snapshots the
// server holds (pushed by the CLI), and asking to roll the vault back to
// one. The page downloads it, checks that it is this vault's and that
// every item opens, asks, and sends the items; the admins' approval then
// replaces the vault and unpairs every other device.
import { describe, el, show } from "./dom.js";
import { listSnapshots, requestCloudRestore, type SnapshotInfo } from "./snapshot.js";
import type { Session } from "./vault.js";

export interface BackupsNav {
  session: Session;
  back: () => void;
}

function size(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`;
}

export async function showBackups(nav: BackupsNav): Promise<void> {
  const error = el("p", { class: "error", role: "alert" });
  let snapshots: SnapshotInfo[] = [];
  try {
    snapshots = await listSnapshots();
  } catch (e) {
    error.textContent = describe(e);
  }
  const list = el("ul", { class: "items", "aria-label": "Cloud backups" });
  for (const s of snapshots) {
    const restore = el("button", { type: "button", class: "secondary", text: "Restore this backup" });
    restore.setAttribute("aria-label", `Restore the backup of ${new Date(s.created_at).toLocaleString()}`);
    restore.addEventListener("click", () => showRestore(nav, s));
    list.append(el("li", {}, el("strong", { text: new Date(s.created_at).toLocaleString() }),
      el("span", { class: "sub", text: `${size(s.size)} — ${s.id}` }), restore));
  }
  const back = el("button", { type: "button", class: "secondary", text: "Back to your vault" });
  back.addEventListener("click", nav.back);
  show(false, el("h1", { text: "Cloud backups" }), el("div", { class: "card" },
    el("p", { text: "Encrypted copies of your vault on the server, made with keyward backup push. Only your vault key opens them." }),
    snapshots.length ? list : el("p", { class: "muted", text: "No cloud backup yet: push one from the CLI (keyward backup push)." }),
    back, error));
}

function showRestore(nav: BackupsNav, s: SnapshotInfo): void {
  const ack = el("input", { id: "ack-unpair", type: "checkbox" });
  const error = el("p", { id: "form-error", class: "error", role: "alert" });
  const note = el("p", { class: "muted", role: "status" });
  const bar = el("progress", { max: "1", value: "0", "aria-label": "Restore", hidden: "" });
  const submit = el("button", { type: "submit", text: "Ask to restore it" });
  const cancel = el("button", { type: "button", class: "secondary", text: "Cancel" });
  cancel.addEventListener("click", () => void showBackups(nav));
  const form = el("form", { class: "card", novalidate: "" },
    el("p", { text: `Every item of your vault will be replaced with the backup's of ${new Date(s.created_at).toLocaleString()}, once a recovery admin of your organization approves.` }),
    el("div", { class: "check" }, ack, el("label", { for: "ack-unpair",
      text: "I understand that every other device of mine will be signed out and unpaired" })),
    el("div", { class: "actions" }, submit, cancel), bar, note, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!ack.checked) {
      error.textContent = "Tick the box first: the restore signs out every other device.";
      ack.focus();
      return;
    }
    submit.disabled = true;
    bar.hidden = false;
    try {
      const r = await requestCloudRestore(nav.session, s, (what, done, total) => {
        bar.max = Math.max(total, 1);
        bar.value = done;
        note.textContent = `${what}… ${done} of ${total}`;
      });
      const back = el("button", { type: "button", class: "secondary", text: "Back to your vault" });
      back.addEventListener("click", nav.back);
      show(false, el("h1", { text: "Restore requested" }), el("div", { class: "card" },
        el("p", { role: "status", text: `Your request ${r.id} is waiting for a recovery admin. Contact your administrator; your vault is replaced when they approve${r.expires_at ? ` (before ${new Date(r.expires_at).toLocaleString()})` : ""}.` }),
        back));
      back.focus();
    } catch (e) {
      error.textContent = describe(e);
      submit.disabled = false;
    }
  });
  const h1 = el("h1", { text: "Restore a cloud backup", tabindex: "-1" });
  show(false, h1, form);
  h1.focus();
}
