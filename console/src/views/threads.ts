// The threads the API keeps: open one to continue it in Chat, or export it to PDF (a job: see Jobs).

import { getJson } from "../api";
import { h, when } from "../dom";
import { sentence } from "../errors";
import { toast } from "../shell";

interface Thread {
  id: string;
  title: string | null;
  updated_at: string;
  message_count: number;
}

export async function startExport(threadId: string, title: string | null): Promise<string> {
  const job = await getJson<{ id: string }>("/v1/jobs", {
    body: {
      type: "export",
      input: { source: { thread_id: threadId }, formats: ["pdf"], title: title ?? undefined },
    },
    headers: { "Idempotency-Key": `export-${threadId}-${Date.now()}` },
  });
  return job.id;
}

export async function renderThreads(main: HTMLElement, signal: AbortSignal): Promise<void> {
  main.append(h("h1", {}, "Threads"));
  const list = await getJson<{ data: Thread[] }>("/v1/threads?limit=100", { signal });
  if (!list.data.length) {
    main.append(h("p", {}, "No threads yet: ", h("a", { href: "#/chat" }, "start a chat"), "."));
    return;
  }
  const ul = h("ul", { class: "cards" });
  for (const t of list.data) {
    const exportBtn = h("button", { type: "button" }, "Export PDF");
    exportBtn.addEventListener("click", () => {
      exportBtn.disabled = true;
      startExport(t.id, t.title)
        .then((jobId) => (location.hash = `#/jobs/${jobId}`))
        .catch((err) => {
          exportBtn.disabled = false;
          toast(sentence(err));
        });
    });
    ul.append(
      h(
        "li",
        { class: "card" },
        h("a", { href: `#/chat/${encodeURIComponent(t.id)}`, class: "title" }, t.title ?? "Untitled"),
        h("small", {}, `${t.message_count} messages · ${when(t.updated_at)}`),
        exportBtn,
      ),
    );
  }
  main.append(ul);
}
