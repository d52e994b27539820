// Files & knowledge: upload files (POST /v1/files, purpose assistants), make a vector store of some of
// them (POST /v1/vector_stores), and watch each file's indexing until it is completed (or failed, with
// the reason). A store then answers questions in Chat ("Answer from"), the answers citing the files.

import { call, getJson } from "../api";
import { h, when } from "../dom";
import { sentence } from "../errors";
import { toast } from "../shell";

interface FileObject {
  id: string;
  filename: string;
  bytes: number;
  created_at: number;
}

export interface Store {
  id: string;
  name: string;
  created_at: number;
  status: string;
  file_counts: { in_progress: number; completed: number; failed: number; total: number };
}

interface StoreFile {
  id: string;
  status: string;
  last_error: { code: string; message: string } | null;
  chunks?: number;
}

const STATUS: Record<string, string> = {
  in_progress: "Indexing…",
  completed: "Ready",
  failed: "Failed",
  cancelled: "Cancelled",
};

export async function listStores(signal: AbortSignal): Promise<Store[]> {
  return (await getJson<{ data: Store[] }>("/v1/vector_stores?limit=100", { signal })).data;
}

function kb(bytes: number): string {
  return bytes < 1024 ? `${bytes} bytes` : `${(bytes / 1024).toFixed(1)} KB`;
}

export async function renderKnowledge(main: HTMLElement, signal: AbortSignal): Promise<void> {
  main.append(h("h1", {}, "Files & knowledge"));
  const chooser = h("input", { id: "upload-file", type: "file", required: true });
  const upload = h(
    "form",
    { class: "row wrap" },
    h("label", { for: "upload-file" }, "File to upload"),
    chooser,
    h("button", { type: "submit", class: "primary" }, "Upload"),
  );
  const files = h("ul", { class: "cards", id: "files", "aria-label": "Your files" });
  const storeName = h("input", { id: "store-name", required: true, maxlength: 200 });
  const makeStore = h(
    "form",
    { class: "row wrap" },
    h("label", { for: "store-name" }, "New store name"),
    storeName,
    h("button", { type: "submit" }, "Create store"),
  );
  const stores = h("ul", { class: "cards", id: "stores", "aria-label": "Your knowledge stores" });
  main.append(
    h("section", {}, h("h2", {}, "Files"), upload, files),
    h(
      "section",
      {},
      h("h2", {}, "Knowledge stores"),
      h("p", { class: "meta" }, "Tick the files above, name the store, and create it."),
      makeStore,
      stores,
    ),
  );
  const names = new Map<string, string>();

  const loadFiles = async (): Promise<void> => {
    const list = await getJson<{ data: FileObject[] }>("/v1/files?purpose=assistants&limit=100", { signal });
    files.replaceChildren(
      ...list.data.map((f) => {
        names.set(f.id, f.filename);
        const box = h("input", { type: "checkbox", value: f.id, id: `pick-${f.id}` });
        return h(
          "li",
          { class: "card" },
          h("label", { for: `pick-${f.id}`, class: "title" }, box, ` ${f.filename}`),
          h("small", {}, `${kb(f.bytes)} · ${when(new Date(f.created_at * 1000).toISOString())}`),
        );
      }),
    );
    if (!list.data.length) files.append(h("li", {}, "No files yet."));
  };

  const loadStores = async (): Promise<void> => {
    const list = await listStores(signal);
    stores.replaceChildren(...(await Promise.all(list.map(storeCard))));
    if (!list.length) stores.append(h("li", {}, "No stores yet."));
  };

  const storeCard = async (s: Store): Promise<HTMLElement> => {
    const rows = h("tbody", {});
    const card = h(
      "li",
      { class: "card store", "data-id": s.id },
      h("strong", { class: "title" }, s.name || s.id),
      h("a", { href: `#/chat/store=${encodeURIComponent(s.id)}` }, "Ask it in Chat"),
      h(
        "table",
        {},
        h("caption", { class: "sr-only" }, `Files of ${s.name}`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "File"), h("th", { scope: "col" }, "Status"))),
        rows,
      ),
    );
    const poll = async (): Promise<void> => {
      const out = await getJson<{ data: StoreFile[] }>(
        `/v1/vector_stores/${encodeURIComponent(s.id)}/files?limit=100`,
        { signal },
      );
      rows.replaceChildren(
        ...out.data.map((f) =>
          h(
            "tr",
            { "data-file": f.id },
            h("td", {}, names.get(f.id) ?? f.id),
            h(
              "td",
              { class: "state", "data-state": f.status },
              STATUS[f.status] ?? f.status,
              f.last_error ? `: ${f.last_error.message}` : "",
            ),
          ),
        ),
      );
      if (out.data.some((f) => f.status === "in_progress") && !signal.aborted) {
        window.setTimeout(() => void poll().catch(() => undefined), 1500);
      }
    };
    await poll();
    return card;
  };

  upload.addEventListener("submit", (e) => {
    e.preventDefault();
    const file = chooser.files?.[0];
    if (!file) return;
    const form = new FormData();
    form.append("purpose", "assistants");
    form.append("file", file);
    call("/v1/files", { form, signal })
      .then(async () => {
        chooser.value = "";
        toast(`Uploaded ${file.name}.`);
        await loadFiles();
      })
      .catch((err) => toast(sentence(err)));
  });
  makeStore.addEventListener("submit", (e) => {
    e.preventDefault();
    const picked = [...files.querySelectorAll<HTMLInputElement>("input:checked")].map((b) => b.value);
    const button = makeStore.querySelector<HTMLButtonElement>("button");
    if (button) button.disabled = true; // one store per click, however slow the answer
    getJson<Store>("/v1/vector_stores", { body: { name: storeName.value.trim(), file_ids: picked }, signal })
      .then(async (made) => {
        storeName.value = "";
        toast(`Created ${made.name || made.id}; its files are being indexed.`);
        await loadStores();
      })
      .catch((err) => toast(sentence(err)))
      .finally(() => {
        if (button) button.disabled = false;
      });
  });
  await loadFiles();
  await loadStores();
}
