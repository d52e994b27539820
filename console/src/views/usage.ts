// Spend from GET /v1/usage: a bar chart of credits per day (SVG drawn here: no chart library, no inline
// styles, so the page's CSP stays strict), then the totals per model, feature and member. A workspace
// admin picks the workspace to see every member's spend.

import { getJson } from "../api";
import { credits, h, plural, svg, usd } from "../dom";

interface Bucket {
  key: string;
  requests: number;
  credits: number;
}

interface Report {
  scope: string;
  start: string;
  end: string;
  requests: number;
  credits: number;
  by_day: Bucket[];
  by_model: Bucket[];
  by_feature: Bucket[];
  by_member: Bucket[];
}

interface Workspace {
  id: string;
  name: string;
}

function days(start: string, end: string): string[] {
  const out: string[] = [];
  for (
    let d = new Date(`${start}T00:00:00Z`);
    d <= new Date(`${end}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1)
  ) {
    out.push(d.toISOString().slice(0, 10));
  }
  return out;
}

export function dayChart(report: Report): SVGElement {
  const spend = new Map(report.by_day.map((b) => [b.key, b]));
  const all = days(report.start, report.end);
  const W = 640,
    H = 220,
    left = 8,
    bottom = 24,
    top = 16;
  const max = Math.max(1, ...report.by_day.map((b) => b.credits));
  const step = (W - left * 2) / all.length;
  const bars = all.map((day, i) => {
    const b = spend.get(day);
    const value = b?.credits ?? 0;
    const height = value ? Math.max(2, ((H - bottom - top) * value) / max) : 0;
    const x = left + i * step;
    return svg(
      "rect",
      {
        x: x + step * 0.15,
        y: H - bottom - height,
        width: step * 0.7,
        height,
        class: "bar",
        "data-day": day,
        "data-credits": value,
      },
      svg("title", {}, `${day}: ${credits(value)} credits (${usd(value)}), ${b?.requests ?? 0} requests`),
    );
  });
  const labels = [all[0], all[all.length - 1]].map((day, i) =>
    svg(
      "text",
      { x: i ? W - left : left, y: H - 6, "text-anchor": i ? "end" : "start", class: "axis" },
      day ?? "",
    ),
  );
  return svg(
    "svg",
    {
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      class: "chart",
      id: "usage-chart",
      "aria-label": `Credits spent per day, ${report.start} to ${report.end}; most in one day: ${credits(max)}`,
    },
    svg("line", { x1: left, x2: W - left, y1: H - bottom, y2: H - bottom, class: "baseline" }),
    ...bars,
    ...labels,
  );
}

function table(title: string, rows: Bucket[]): HTMLElement {
  return h(
    "table",
    { class: "buckets" },
    h("caption", {}, title),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Name"),
        h("th", { scope: "col", class: "num" }, "Requests"),
        h("th", { scope: "col", class: "num" }, "Credits"),
      ),
    ),
    h(
      "tbody",
      {},
      ...(rows.length ? rows : [{ key: "none yet", requests: 0, credits: 0 }]).map((b) =>
        h(
          "tr",
          {},
          h("td", {}, b.key),
          h("td", { class: "num" }, b.requests),
          h("td", { class: "num" }, credits(b.credits)),
        ),
      ),
    ),
  );
}

export async function renderUsage(main: HTMLElement, signal: AbortSignal): Promise<void> {
  const scope = h(
    "select",
    { id: "usage-scope", "aria-label": "Whose usage" },
    h("option", { value: "" }, "My usage"),
  );
  const out = h("section", { "aria-live": "polite" });
  main.append(h("div", { class: "row spread" }, h("h1", {}, "Usage"), scope), out);
  try {
    const ws = await getJson<{ data: Workspace[] }>("/v1/workspaces", { signal });
    for (const w of ws.data) scope.append(h("option", { value: w.id }, `Workspace: ${w.name}`));
  } catch {
    // no workspaces: own usage only
  }
  const load = async (): Promise<void> => {
    const q = scope.value ? `?workspace_id=${encodeURIComponent(scope.value)}` : "";
    const r = await getJson<Report>(`/v1/usage${q}`, { signal });
    out.replaceChildren(
      h(
        "p",
        { class: "summary", id: "usage-total", "data-credits": r.credits },
        `${plural(r.credits, "credit")} (${usd(r.credits)}) over ${plural(r.requests, "request")}, ${r.start} to ${r.end} (UTC).`,
      ),
      h(
        "figure",
        {},
        dayChart(r),
        h("figcaption", {}, "Credits spent per day (UTC). Hover or focus a bar for its numbers."),
      ),
      h(
        "div",
        { class: "grid" },
        table("Per model", r.by_model),
        table("Per feature", r.by_feature),
        ...(r.by_member.length > 1 ? [table("Per member", r.by_member)] : []),
      ),
    );
  };
  scope.addEventListener("change", () => void load());
  await load();
}
