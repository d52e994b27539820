// The shell: navigation (hash routes, so the API serves one static page), theme, balance, sign-out.

import "./style.css";
import { currentUser, onSessionChange, resume, signOut } from "./api";
import { h } from "./dom";
import { refreshBalance } from "./shell";
import { sentence } from "./errors";
import { renderAuth } from "./views/auth";
import { renderChat } from "./views/chat";
import { renderCredits } from "./views/credits";
import { renderJobs } from "./views/jobs";
import { renderKeys } from "./views/keys";
import { renderKnowledge } from "./views/knowledge";
import { renderThreads } from "./views/threads";
import { renderUsage } from "./views/usage";
import { renderVerify } from "./views/verify";
import { renderWorkspaces } from "./views/workspaces";

type View = (main: HTMLElement, signal: AbortSignal, arg: string) => void | Promise<void>;

const ROUTES: [string, string, View][] = [
  ["chat", "Chat", renderChat],
  ["credits", "Credits", renderCredits],
  ["usage", "Usage", renderUsage],
  ["threads", "Threads", renderThreads],
  ["knowledge", "Files & knowledge", renderKnowledge],
  ["jobs", "Jobs", renderJobs],
  ["workspaces", "Workspaces", renderWorkspaces],
  ["keys", "API keys", renderKeys],
];

const main = document.getElementById("main")!;
const nav = document.getElementById("nav")!;
const signoutBtn = document.getElementById("signout") as HTMLButtonElement;
const themeBtn = document.getElementById("theme") as HTMLButtonElement;
let current: AbortController | null = null;

/** `#/name/arg`: the view's name (chat when unknown) and its argument (e.g. a thread id). */
function route(): [string, string] {
  const [name = "", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const known = name === "verify" || ROUTES.some(([r]) => r === name);
  return known ? [name, decodeURIComponent(rest.join("/"))] : ["chat", ""];
}

async function show(): Promise<void> {
  current?.abort();
  current = new AbortController();
  const signedIn = currentUser() !== null;
  nav.replaceChildren(
    ...(signedIn
      ? ROUTES.map(([r, label]) =>
          h("a", { href: `#/${r}`, "aria-current": r === route()[0] ? "page" : null }, label),
        )
      : []),
  );
  signoutBtn.hidden = !signedIn;
  main.replaceChildren();
  const [name, arg] = route();
  if (!signedIn && name !== "verify") {
    renderAuth(main);
    return;
  }
  // The emailed verification link opens #/verify/<token>, signed in or not.
  const view = name === "verify" ? renderVerify : ROUTES.find(([r]) => r === name)![2];
  const signal = current.signal;
  try {
    await view(main, signal, arg);
  } catch (err) {
    // A view left for another mid-load fails with its aborted calls: not the new view's to show.
    if (!signal.aborted) main.append(h("p", { class: "error", role: "alert" }, sentence(err)));
  }
}

function applyTheme(theme: string): void {
  document.documentElement.dataset.theme = theme;
  themeBtn.textContent = theme === "dark" ? "Light theme" : "Dark theme";
}

const preferred = window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
applyTheme(localStorage.getItem("theme") ?? preferred); // the theme only: nothing secret is stored
themeBtn.addEventListener("click", () => {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  localStorage.setItem("theme", next);
  applyTheme(next);
});
signoutBtn.addEventListener("click", () => void signOut());
window.addEventListener("hashchange", () => {
  void show().then(() => main.focus());
});
main.setAttribute("aria-busy", "true");
// Signed back in from the refresh cookie (a reload keeps the session), then the first view.
void resume().then(() => {
  main.removeAttribute("aria-busy");
  onSessionChange(() => {
    void refreshBalance();
    void show();
  });
  void refreshBalance();
  void show();
});
