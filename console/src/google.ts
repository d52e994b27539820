// "Sign in with Google", only when the server has a Google client id (GET /v1/auth/config): Google
// Identity Services' script is loaded then and only then (the page's CSP lets in that one script, its
// stylesheet and its frames only when Google sign-in is on: run_services/api/console.py). Its button hands
// the page an ID token, which the API verifies (POST /v1/auth/google) and answers with a session.

import { signInWithGoogle } from "./api";
import { h } from "./dom";
import { sentence } from "./errors";

interface Gis {
  accounts: {
    id: {
      initialize(config: { client_id: string; callback: (r: { credential: string }) => void }): void;
      renderButton(parent: HTMLElement, options: Record<string, string | number>): void;
    };
  };
}

const SCRIPT = "https://accounts.google.com/gsi/client";
let loading: Promise<Gis | null> | null = null;

function load(): Promise<Gis | null> {
  loading ??= new Promise((resolve) => {
    const script = h("script", { src: SCRIPT, async: true });
    script.addEventListener("load", () => resolve((window as { google?: Gis }).google ?? null));
    script.addEventListener("error", () => resolve(null));
    document.head.append(script);
  });
  return loading;
}

/** Adds Google's button under the sign-in form when Google sign-in is on; nothing otherwise. */
export async function googleButton(form: HTMLElement, status: HTMLElement): Promise<void> {
  const res = await fetch("/v1/auth/config").catch(() => null);
  const config = res?.ok ? ((await res.json()) as { google_client_id: string | null }) : null;
  if (!config?.google_client_id) return;
  const gis = await load();
  if (!gis) return; // Google could not be reached: the password form still works
  const slot = h("div", { class: "google", role: "group", "aria-label": "Sign in with Google" });
  form.after(slot);
  gis.accounts.id.initialize({
    client_id: config.google_client_id,
    callback: ({ credential }) => {
      status.textContent = "Signing in with Google…";
      signInWithGoogle(credential).catch((err: unknown) => {
        status.textContent = sentence(err);
        status.classList.add("error");
      });
    },
  });
  gis.accounts.id.renderButton(slot, { type: "standard", text: "signin_with", width: 280 });
}
