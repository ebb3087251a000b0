// "Pair a new device" (docs/web.md; src/client/pairing_client.cc
// PairingShower): this signed-in tab shows a 6-digit code, the new device
// (the CLI's `keyward device pair`) types it, and the two run CPace through
// the server, which relays group elements only. The page checks the new
// device's confirmation (a wrong code, or an answer the server changed,
// closes the pairing: one try per code), asks its user, and only then
// seals the vault key for that device.
import { call } from "./api.js";
import * as c from "./crypto/primitives.js";
import { describe, el, show } from "./dom.js";
import { ShowingSide, SID_SIZE } from "./protocol/pairing.js";
import { deviceId, newItemId, type Session } from "./vault.js";

export interface PairingNav {
  session: Session;
  back: () => void;
}

function randomCode(): Uint8Array {
  const out = new Uint8Array(6);
  let i = 0;
  while (i < 6) {
    for (const b of c.randomBytes(16)) {
      if (b < 250 && i < 6) out[i++] = 0x30 + (b % 10);
    }
  }
  return out;
}

interface PairingAnswer {
  state: string;
  yb?: string;
  tb?: string;
  device?: { name: string; type: string };
  remote_address?: string;
  expires_at?: string;
}

let polling: ReturnType<typeof setTimeout> | undefined;

function stopPolling(): void {
  if (polling) clearTimeout(polling);
  polling = undefined;
}

export async function showPairing(nav: PairingNav): Promise<void> {
  stopPolling();
  await c.init();
  const back = el("button", { type: "button", class: "secondary", text: "Back to your vault" });
  back.addEventListener("click", () => {
    stopPolling();
    nav.back();
  });
  const status = el("p", { role: "status" });
  const error = el("p", { class: "error", role: "alert" });
  const card = el("div", { class: "card" });
  const h1 = el("h1", { text: "Pair a new device", tabindex: "-1" });
  show(false, h1, card);
  h1.focus();

  const sid = c.randomBytes(SID_SIZE);
  const id = c.base64url(sid);
  const code = randomCode();
  let side: ShowingSide;
  let expires = "";
  try {
    side = ShowingSide.start({ accountId: nav.session.accountId, sid, shownDeviceId: deviceId,
      joiningDeviceId: newItemId() }, code);
    const r = await call<PairingAnswer>("POST", "/v1/pairings",
      { id, joining_device_id: side.ids.joiningDeviceId, ya: c.base64url(side.message) });
    expires = r.expires_at ?? "";
  } catch (e) {
    card.replaceChildren(error, back);
    error.textContent = describe(e);
    return;
  }
  const text = new TextDecoder().decode(code);
  c.wipe(code);
  card.replaceChildren(
    el("p", { text: "On the new device, run keyward device pair --email " + nav.session.email + " and type this code:" }),
    el("p", { class: "pairing-code", id: "pairing-code", text: `${text.slice(0, 3)} ${text.slice(3)}` }),
    el("p", { class: "muted", text: expires ? `It works once, until ${new Date(expires).toLocaleTimeString()}.` : "It works once." }),
    status, error, back);
  status.textContent = "Waiting for the new device…";

  const close = async () => {
    try {
      await call("POST", `/v1/pairings/${encodeURIComponent(id)}/close`, {});
    } catch {
      // closed or expired already
    }
  };
  const poll = async () => {
    polling = undefined;
    let r: PairingAnswer;
    try {
      r = await call<PairingAnswer>("GET", `/v1/pairings/${encodeURIComponent(id)}`);
    } catch (e) {
      status.textContent = "";
      error.textContent = describe(e);
      return;
    }
    if (r.state === "waiting") {
      polling = setTimeout(() => void poll(), 1000);
      return;
    }
    if (r.state !== "answered" || !r.yb || !r.tb || !r.device) {
      status.textContent = "";
      error.textContent = r.state === "expired" ? "The code expired before a device typed it; start again."
        : "This pairing was closed; start again.";
      return;
    }
    const device = { name: String(r.device.name), type: String(r.device.type) };
    try {
      side.check(c.fromBase64url(r.yb), device, c.fromBase64url(r.tb));
    } catch (e) {
      await close();
      status.textContent = "";
      error.textContent = e instanceof c.CryptoError && (e.code === "pair.wrong_code" || e.code === "pair.bad_point")
        ? "The code typed on the new device was wrong (or the answer was changed on the way): nothing was sent, and this code is closed. Start again."
        : describe(e);
      return;
    }
    status.textContent = "";
    const yes = el("button", { type: "button", text: `Pair ${device.name}` });
    const no = el("button", { type: "button", class: "secondary", text: "No, it is not mine" });
    yes.addEventListener("click", async () => {
      yes.disabled = no.disabled = true;
      try {
        const release = side.seal(nav.session.vaultKey);
        await call("POST", `/v1/pairings/${encodeURIComponent(id)}/release`,
          { ta: c.base64url(release.confirmation), payload: c.base64url(release.payload) });
        card.replaceChildren(el("p", { role: "status", text: `${device.name} is paired: it has your vault now.` }), back);
      } catch (e) {
        error.textContent = describe(e);
      }
    });
    no.addEventListener("click", async () => {
      yes.disabled = no.disabled = true;
      await close();
      card.replaceChildren(el("p", { role: "status", text: "Not paired: nothing was sent. If you did not start this, change your master password." }), back);
    });
    card.replaceChildren(
      el("p", { text: `A new device typed the code: “${device.name}” (${device.type}) from ${r.remote_address ?? "an unknown address"}. Is it yours?` }),
      el("div", { class: "actions" }, yes, no), error, back);
    yes.focus();
  };
  polling = setTimeout(() => void poll(), 1000);
}
