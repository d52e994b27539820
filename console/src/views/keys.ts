// API keys: create one (its secret is shown once, here, and never again), list and delete them.

import { call, getJson } from "../api";
import { h, when } from "../dom";
import { sentence } from "../errors";
import { toast } from "../shell";

interface Key {
  id: string;
  name: string;
  prefix: string;
  last4: string;
  created_at: string;
  key?: string;
}

export async function renderKeys(main: HTMLElement, signal: AbortSignal): Promise<void> {
  const name = h("input", { id: "key-name", maxlength: 100, placeholder: "e.g. laptop" });
  const form = h(
    "form",
    { class: "row wrap" },
    h("label", { for: "key-name" }, "Name"),
    name,
    h("button", { type: "submit", class: "primary" }, "Create key"),
  );
  const shown = h("div", { role: "status", "aria-live": "polite" });
  const list = h("ul", { class: "cards" });
  main.append(h("h1", {}, "API keys"), form, shown, list);

  const load = async (): Promise<void> => {
    const keys = await getJson<{ data: Key[] }>("/v1/api-keys", { signal });
    list.replaceChildren(...(keys.data.length ? [] : [h("li", {}, "No keys yet.")]));
    for (const k of keys.data) {
      const del = h("button", { type: "button", class: "danger" }, "Delete");
      del.addEventListener("click", () => {
        if (!confirm(`Delete the key "${k.name || k.prefix}"? Programs using it stop working.`)) return;
        call(`/v1/api-keys/${encodeURIComponent(k.id)}`, { method: "DELETE" })
          .then(load)
          .catch((err) => toast(sentence(err)));
      });
      list.append(
        h(
          "li",
          { class: "card" },
          h("strong", {}, k.name || "(no name)"),
          h("code", {}, `${k.prefix}…${k.last4}`),
          h("small", {}, when(k.created_at)),
          del,
        ),
      );
    }
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    getJson<Key>("/v1/api-keys", { body: { name: name.value.trim() } })
      .then((k) => {
        name.value = "";
        const copy = h("button", { type: "button" }, "Copy");
        copy.addEventListener(
          "click",
          () => void navigator.clipboard.writeText(k.key ?? "").then(() => (copy.textContent = "Copied")),
        );
        shown.replaceChildren(
          h("p", { class: "notice" }, "Your new key. Copy it now: it is shown only this once."),
          h("code", { class: "secret", id: "new-key" }, k.key ?? ""),
          copy,
        );
        return load();
      })
      .catch((err) => toast(sentence(err)));
  });
  await load();
}
