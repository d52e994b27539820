// What every view shares: the toast line and the balance in the header.

import { currentUser, getJson } from "./api";
import { credits } from "./dom";
import { sentence } from "./errors";

let toastTimer = 0;

export function toast(message: string): void {
  const el = document.getElementById("toast")!;
  el.textContent = message;
  el.hidden = false;
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => (el.hidden = true), 8000);
}

export interface Balance {
  available: number;
  reserved: number;
  email_verified: boolean;
  notice: string | null;
}

/** Reads the balance, shows it in the header and returns it (null when signed out or it failed). */
export async function refreshBalance(): Promise<Balance | null> {
  const el = document.getElementById("balance")!;
  if (!currentUser()) {
    el.textContent = "";
    return null;
  }
  try {
    const b = await getJson<Balance>("/v1/credits");
    el.textContent = `${credits(b.available)} credits`;
    el.dataset.available = String(b.available);
    return b;
  } catch (err) {
    el.textContent = "";
    toast(sentence(err));
    return null;
  }
}
