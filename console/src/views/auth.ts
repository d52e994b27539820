// Sign in and sign up. Registering never returns tokens (the API answers the same for a known address),
// so the console signs in with the same password right after; the welcome credits arrive once the
// address is verified through the emailed link (locally: the mail catcher's page that `make run` prints).

import { register, signIn } from "../api";
import { h } from "../dom";
import { sentence } from "../errors";
import { googleButton } from "../google";
import { toast } from "../shell";

export function renderAuth(main: HTMLElement): void {
  let mode: "signin" | "signup" = "signin";
  const email = h("input", {
    id: "email",
    type: "email",
    name: "email",
    autocomplete: "email",
    required: true,
  });
  const password = h("input", {
    id: "password",
    type: "password",
    name: "password",
    autocomplete: "current-password",
    required: true,
    minlength: 8,
  });
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const switcher = h("button", { type: "button", class: "link" }, "New here? Create an account");
  const title = h("h1", {}, "Sign in");

  const setMode = (next: typeof mode): void => {
    mode = next;
    title.textContent = mode === "signin" ? "Sign in" : "Create an account";
    submit.textContent = mode === "signin" ? "Sign in" : "Create account";
    switcher.textContent = mode === "signin" ? "New here? Create an account" : "Have an account? Sign in";
    password.setAttribute("autocomplete", mode === "signin" ? "current-password" : "new-password");
    status.textContent = "";
  };
  switcher.addEventListener("click", () => setMode(mode === "signin" ? "signup" : "signin"));

  const form = h(
    "form",
    { class: "card auth", novalidate: false },
    title,
    h("label", { for: "email" }, "Email"),
    email,
    h("label", { for: "password" }, "Password"),
    password,
    submit,
    status,
    switcher,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void (async () => {
      submit.disabled = true;
      status.classList.remove("error");
      try {
        if (mode === "signup") {
          status.textContent = "Creating your account…";
          await register(email.value.trim(), password.value);
        }
        status.textContent = "Signing in…";
        const user = await signIn(email.value.trim(), password.value);
        if (!user.email_verified) {
          toast("Check your inbox for the link that verifies your email: your welcome credits arrive then.");
        }
      } catch (err) {
        status.textContent = sentence(err);
        status.classList.add("error");
      } finally {
        submit.disabled = false;
      }
    })();
  });
  main.append(form);
  email.focus();
  void googleButton(form, status);
}
