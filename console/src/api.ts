// Calls to the API (same origin: the console is served under /app by the API itself).
//
// The access token lives in this module's memory only; the refresh token in an HttpOnly cookie the API
// sets (Path=/v1/auth, SameSite=Strict: run_services/api/auth_cookie.py), which no script can read. So a
// script injected into the page (which the Content-Security-Policy already refuses to run) finds nothing
// stored to lift, and a reload signs back in by refreshing (`resume`). The API rotates the refresh token
// on every use and revokes the whole session when an old one comes back, so one refresh runs at a time:
// in this tab (`refreshing`) and across the tabs sharing the cookie (a Web Lock), a minute before the
// access token expires or on a 401. The refresh and logout calls carry `X-Requested-With: console`,
// without which the API refuses the cookie (a cross-site page cannot add it).

import { ApiError } from "./errors";

export interface UserOut {
  id: string;
  email: string;
  email_verified: boolean;
}

interface TokenResponse {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  user: UserOut;
}

interface Session {
  access: string;
  expiresAt: number;
  user: UserOut;
}

let session: Session | null = null;
let refreshing: Promise<void> | null = null;
const listeners = new Set<(user: UserOut | null) => void>();

export function currentUser(): UserOut | null {
  return session?.user ?? null;
}

export function onSessionChange(fn: (user: UserOut | null) => void): void {
  listeners.add(fn);
}

function setSession(tokens: TokenResponse | null): void {
  const before = session?.user.id ?? null;
  session = tokens && {
    access: tokens.access_token,
    expiresAt: Date.now() + tokens.expires_in * 1000,
    user: tokens.user,
  };
  if ((session?.user.id ?? null) !== before) listeners.forEach((fn) => fn(currentUser()));
}

export async function toError(res: Response): Promise<ApiError> {
  const retry = res.headers.get("Retry-After");
  const retryAfter = retry !== null && retry !== "" ? Number(retry) : null;
  let code = `http_${res.status}`;
  let message = res.statusText;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message, retryAfter);
}

const CONSOLE = { "X-Requested-With": "console" };

async function post<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method: "POST",
    headers: body === undefined ? CONSOLE : { ...CONSOLE, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await toError(res);
  return (await res.json()) as T;
}

export async function register(email: string, password: string): Promise<string> {
  const out = await post<{ message: string }>("/v1/auth/register", { email, password });
  return out.message;
}

export async function signIn(email: string, password: string): Promise<UserOut> {
  setSession(await post<TokenResponse>("/v1/auth/login", { email, password }));
  return session!.user;
}

/** Google sign-in: the ID token (credential) Google Identity Services handed the page. */
export async function signInWithGoogle(credential: string): Promise<UserOut> {
  setSession(await post<TokenResponse>("/v1/auth/google", { id_token: credential }));
  return session!.user;
}

export async function signOut(): Promise<void> {
  // Revokes the session and clears the cookie before the page says signed out, so a reload finds none.
  await fetch("/v1/auth/logout", { method: "POST", headers: CONSOLE }).catch(() => undefined);
  setSession(null);
}

/** One refresh by cookie at a time across this browser's tabs (each would spend the same token). */
async function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  if (!("locks" in navigator)) return fn();
  let out: T | undefined;
  await navigator.locks.request("console-refresh", async () => {
    out = await fn();
  });
  return out as T;
}

async function refresh(): Promise<void> {
  refreshing ??= exclusive(() => post<TokenResponse>("/v1/auth/refresh"))
    .then(setSession)
    .catch((err: unknown) => {
      setSession(null);
      throw err;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** On load: signed back in from the refresh cookie when there is a live one; signed out otherwise. */
export async function resume(): Promise<void> {
  await refresh().catch(() => undefined);
}

async function bearer(): Promise<string> {
  if (refreshing) await refreshing;
  if (!session) throw new ApiError(401, "session_required", "Sign in first.");
  if (session.expiresAt - Date.now() < 60_000) await refresh();
  return session!.access;
}

/** The access token for a call that cannot go through `call`: the transcription WebSocket, which takes
 * it in its first message (a browser cannot set headers on a WebSocket, and a URL ends up in logs). */
export async function accessToken(): Promise<string> {
  return bearer();
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** A multipart body (an upload): sent as is, the browser sets its Content-Type. */
  form?: FormData;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A signed-in call: the raw Response once it is OK (streams included); an ApiError otherwise. */
export async function call(path: string, opts: CallOptions = {}): Promise<Response> {
  const send = async (): Promise<Response> =>
    fetch(path, {
      method: opts.method ?? (opts.body === undefined && !opts.form ? "GET" : "POST"),
      headers: {
        ...(opts.body === undefined ? {} : { "Content-Type": "application/json" }),
        ...opts.headers,
        Authorization: `Bearer ${await bearer()}`,
      },
      body: opts.form ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
      signal: opts.signal,
    });
  let res = await send();
  if (res.status === 401 && session) {
    await refresh();
    res = await send();
  }
  if (!res.ok) throw await toError(res);
  return res;
}

export async function getJson<T>(path: string, opts: CallOptions = {}): Promise<T> {
  const res = await call(path, opts);
  return res.status === 204 ? (undefined as T) : ((await res.json()) as T);
}
