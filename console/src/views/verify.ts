// The page the verification email links to (#/verify/<token>; shared/auth/signup.py builds the link): it
// sends the token to GET /v1/auth/verify-email and says what happened. An expired or broken link gets the
// way forward: a new link sent to the signed-in user, or the sign-in form first (this page shows again
// after signing in, with the button).

import { call, currentUser, toError } from "../api";
import { h } from "../dom";
import { sentence } from "../errors";
import { refreshBalance } from "../shell";
import { renderAuth } from "./auth";

interface Verified {
  status: "verified" | "already_verified";
  message: string;
}

const FAILED: Record<string, string> = {
  verification_token_expired: "This verification link has expired.",
  invalid_verification_token: "This verification link is not valid (your mail app may have cut it short).",
};

export async function renderVerify(main: HTMLElement, signal: AbortSignal, token: string): Promise<void> {
  const status = h("p", { role: "status", "aria-live": "polite" }, "Verifying your email address…");
  main.append(h("section", { class: "card" }, h("h1", {}, "Verify your email"), status));
  const res = await fetch(`/v1/auth/verify-email?${new URLSearchParams({ token })}`, { signal });
  if (res.ok) {
    const out = (await res.json()) as Verified;
    status.textContent =
      out.status === "verified" ? `Your email address is verified. ${out.message}` : out.message;
    status.dataset.outcome = out.status;
    status.after(h("p", {}, h("a", { href: "#/chat" }, currentUser() ? "Go to the console" : "Sign in")));
    void refreshBalance();
    return;
  }
  const err = await toError(res);
  status.textContent = FAILED[err.code] ?? sentence(err);
  status.dataset.outcome = err.code;
  status.classList.add("error");
  if (!currentUser()) {
    status.after(h("p", {}, "Sign in to get a new link sent to you."));
    renderAuth(main);
    return;
  }
  const sent = h("p", { role: "status", "aria-live": "polite" });
  const resend = h("button", { type: "button", class: "primary" }, "Send a new link");
  resend.addEventListener("click", () => {
    void (async () => {
      resend.disabled = true;
      try {
        const out = (await (await call("/v1/auth/verify-email/resend", { method: "POST" })).json()) as {
          message: string;
        };
        sent.textContent = out.message;
      } catch (e) {
        sent.textContent = sentence(e);
        resend.disabled = false;
      }
    })();
  });
  status.after(resend, sent);
}
