// The server's API (docs/api.md) from the browser: JSON in and out, the
// session token in memory only (never localStorage), errors as ApiError
// with the server's code and message.
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

let token = "";

export function setToken(value: string): void {
  token = value;
}

export function hasSession(): boolean {
  return token !== "";
}

export async function call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "server.unreachable", "The server cannot be reached; check your connection.");
  }
  if (response.status === 204) return undefined as T;
  let json: any = undefined;
  try {
    json = await response.json();
  } catch {
    throw new ApiError(response.status, "server.bad_response", "The server's answer could not be read.");
  }
  if (!response.ok) {
    const e = json?.error ?? {};
    throw new ApiError(response.status, String(e.code ?? "server.error"),
      String(e.message ?? "The server refused the request."));
  }
  return json as T;
}
