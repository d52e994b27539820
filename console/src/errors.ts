// API errors as people read them: the status and machine code decide the sentence; the API's own message
// (already written for people) is shown when no better one is known. Never raw JSON.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

function wait(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "in a moment";
  if (seconds < 60) return `in ${Math.max(1, Math.ceil(seconds))} second${seconds <= 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `in ${minutes} minute${minutes === 1 ? "" : "s"}`;
}

export function sentence(err: unknown): string {
  if (err instanceof DOMException && err.name === "AbortError") return "Stopped.";
  if (!(err instanceof ApiError)) {
    return "The API could not be reached. Check your connection and try again.";
  }
  switch (err.code) {
    case "insufficient_credits":
      return "You are out of credits for this: your balance does not cover it. Buy credits or try a cheaper model.";
    case "guardrail_blocked":
      return `This was blocked by a safety check. ${err.message}`;
    case "too_many_login_attempts":
      return `Too many sign-in attempts for this account. Try again ${wait(err.retryAfter)}.`;
    case "invalid_credentials":
      return "That email and password do not match an account.";
    case "token_expired":
    case "invalid_token":
      return "Your session ended. Sign in again.";
  }
  if (err.status === 402) return "You are out of credits for this. Buy credits or try a cheaper model.";
  if (err.status === 429) return `Too many requests right now. Try again ${wait(err.retryAfter)}.`;
  if (err.status === 401) return "Your session ended. Sign in again.";
  if (err.status === 403) return "You are not allowed to do that here.";
  if (err.status === 404) return "That was not found: it may have been deleted, or belong to someone else.";
  if (err.status === 413) return "That is too large to send.";
  if (err.status >= 500) return `Something went wrong on our side (${err.code}). Try again shortly.`;
  return err.message || `The request failed (${err.code}).`;
}
