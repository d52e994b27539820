// Jobs (image, research, export): their state, live progress from GET /v1/jobs/{id}/events (SSE), and
// the results opened through the signed URLs the API adds when a job is read.

import { call, getJson } from "../api";
import { credits, h, when } from "../dom";
import { sentence } from "../errors";
import { sseData } from "../sse";

interface Result {
  index: number;
  kind: string;
  content_type: string;
  bytes: number;
  url: string | null;
  text: string | null;
}

interface Job {
  id: string;
  type: string;
  state: string;
  progress: number;
  step: number;
  steps: number;
  results: Result[];
  error: { code: string; message: string } | null;
  spent?: number;
  created_at?: string;
}

const FINAL = new Set(["succeeded", "failed", "cancelled"]);

function resultLinks(job: Job): HTMLElement {
  return h(
    "ul",
    { class: "results" },
    ...job.results.map((r) =>
      h(
        "li",
        {},
        r.url
          ? h(
              "a",
              { href: r.url, target: "_blank", rel: "noopener noreferrer", class: "result" },
              `Open ${r.kind} (${r.content_type}, ${Math.ceil(r.bytes / 1024)} KB)`,
            )
          : (r.text ?? r.kind),
      ),
    ),
  );
}

function jobCard(job: Job, signal: AbortSignal): HTMLElement {
  const bar = h("progress", { max: 100, value: job.progress, "aria-label": `${job.type} job progress` });
  const state = h("span", { class: `state ${job.state}`, "data-state": job.state }, job.state);
  const extra = h("div", {});
  const card = h(
    "li",
    { class: "card job", "data-job": job.id },
    h("strong", {}, `${job.type} job`),
    state,
    bar,
    extra,
  );
  const show = (j: Job): void => {
    bar.value = j.progress;
    state.textContent = j.state === "running" ? `running: step ${j.step + 1} of ${j.steps}` : j.state;
    state.dataset.state = j.state;
    extra.replaceChildren(
      ...(j.error ? [h("p", { class: "error" }, j.error.message)] : []),
      ...(j.results.length ? [resultLinks(j)] : []),
      ...(j.spent !== undefined && FINAL.has(j.state) ? [h("small", {}, `${credits(j.spent)} credits`)] : []),
    );
  };
  show(job);
  if (!FINAL.has(job.state))
    void follow(job.id, show, signal).catch((err) => extra.append(h("p", { class: "error" }, sentence(err))));
  return card;
}

async function follow(id: string, show: (j: Job) => void, signal: AbortSignal): Promise<void> {
  const res = await call(`/v1/jobs/${encodeURIComponent(id)}/events`, {
    signal,
    headers: { Accept: "text/event-stream" },
  });
  for await (const data of sseData(res, signal)) {
    const event = JSON.parse(data) as Job;
    show({ ...event, type: "", results: event.results ?? [] } as Job);
    if (FINAL.has(event.state)) break;
  }
  show(await getJson<Job>(`/v1/jobs/${encodeURIComponent(id)}`, { signal })); // fresh signed URLs, what it cost
}

export async function renderJobs(main: HTMLElement, signal: AbortSignal, focus = ""): Promise<void> {
  main.append(
    h("h1", {}, "Jobs"),
    h("p", {}, "Export a thread from Threads; images and research start from the API."),
  );
  const list = await getJson<{ data: Job[] }>("/v1/jobs?limit=50", { signal });
  const ul = h("ul", { class: "cards" });
  for (const summary of list.data) {
    // The list has no result URLs: the finished ones are read one by one for them.
    const job =
      FINAL.has(summary.state) && summary.results.length
        ? await getJson<Job>(`/v1/jobs/${summary.id}`, { signal })
        : summary;
    const card = jobCard(job, signal);
    if (job.created_at) card.append(h("small", {}, when(job.created_at)));
    if (job.id === focus) card.classList.add("focus");
    ul.append(card);
  }
  if (!list.data.length) ul.append(h("li", {}, "No jobs yet."));
  main.append(ul);
}
