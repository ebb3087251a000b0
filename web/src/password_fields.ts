// The new-master-password fields every page that sets one shares: the
// password, its repetition, and a strength meter read out to screen readers.
import { el, field } from "./dom.js";

// A rough strength estimate for the meter: 0 (weak) .. 4 (strong), from
// length and character classes. Not a policy: the server checks nothing of
// the password (it never sees it).
export function strength(password: string): number {
  let classes = 0;
  for (const re of [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/]) if (re.test(password)) classes++;
  const bits = password.length * Math.log2([1, 26, 52, 62, 94][classes]);
  return bits < 40 ? 0 : bits < 60 ? 1 : bits < 80 ? 2 : bits < 100 ? 3 : 4;
}

export interface NewPasswordInputs {
  pw1: HTMLInputElement;
  pw2: HTMLInputElement;
  meter: HTMLMeterElement;
  meterText: HTMLSpanElement;
}

export function newPasswordInputs(): NewPasswordInputs {
  const pw1 = field("new-password", "password", "new-password");
  const pw2 = field("repeat-password", "password", "new-password");
  const meter = el("meter", { id: "strength", min: "0", max: "4", low: "2", high: "3", optimum: "4",
    value: "0", "aria-label": "Password strength" });
  const meterText = el("span", { class: "muted", "aria-live": "polite" });
  pw1.addEventListener("input", () => {
    const n = strength(pw1.value);
    meter.value = n;
    meterText.textContent = ["very weak", "weak", "fair", "good", "strong"][n];
  });
  return { pw1, pw2, meter, meterText };
}

// At least 12 characters, typed the same twice; else says so in `error`,
// moves the focus there and returns false.
export function checkNewPassword(inputs: NewPasswordInputs, error: HTMLElement): boolean {
  if (inputs.pw1.value.length < 12) {
    error.textContent = "Use at least 12 characters.";
    inputs.pw1.focus();
    return false;
  }
  if (inputs.pw1.value !== inputs.pw2.value) {
    error.textContent = "The two passwords differ.";
    inputs.pw2.focus();
    return false;
  }
  return true;
}
