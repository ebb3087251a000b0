// "Forgot master password?" (docs/recovery.md, the member's request): the
// email, then the 6-digit code emailed to it, then "Request sent — contact
// your administrator". The page asks for nothing secret: an admin's
// approval brings a recovery link, redeemed later. The answers are the same
// for every email (the server's rule), so the page says "if".
import { ApiError, call } from "./api.js";

export interface Submitted {
  request_id: string;
  org_name: string;
  expires_at: string;
}

// `restore`: ask for the newest cloud backup to be restored too (a
// request of kind restore, approved with a link like a recovery).
export async function askCode(email: string, restore = false): Promise<void> {
  await call("POST", "/v1/recovery/requests",
    { email, device_name: "Web browser", intent: "submit", ...(restore ? { kind: "restore" } : {}) });
}

export async function confirmCode(email: string, code: string): Promise<Submitted> {
  return call<Submitted>("POST", "/v1/recovery/requests/confirm", { email, code });
}

// The server's refusals of this flow, in words.
export function describeRecoveryError(e: unknown): string | undefined {
  if (!(e instanceof ApiError)) return undefined;
  switch (e.code) {
    case "recovery.invalid_code":
      return "The code is wrong, expired or already used; check the email or ask for a new code.";
    case "recovery.request_open":
      return "You already have an open recovery request: contact your administrator.";
    case "org.not_enrolled":
      return "Your account is not enrolled in account recovery, so no administrator can recover it.";
    case "recovery.link_invalid":
      return "This recovery link is not valid; check that it was copied whole.";
    case "recovery.link_expired":
      return "This recovery link has expired; ask for recovery again.";
    case "recovery.link_used":
      return "This recovery link was already used. If that was not you, tell your administrator at once.";
    case "account.invalid_email":
      return "Enter the email address of your account.";
    default:
      return e.message;
  }
}
