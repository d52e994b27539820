// The balance (spendable now, and held by requests still running) and the ledger, newest first.

import { getJson } from "../api";
import { credits, h, usd, when } from "../dom";
import { sentence } from "../errors";
import { refreshBalance } from "../shell";
import { renderBuy } from "./billing";

interface Entry {
  id: string;
  kind: string;
  amount: number;
  ref: string | null;
  at: string;
}

const KINDS: Record<string, string> = {
  grant: "Credits added",
  reserve: "Held for a request",
  settle: "Request settled (unused hold returned)",
  void: "Hold released",
  expire: "Hold expired",
  clawback: "Taken back",
  lot_expired: "Plan credits expired",
};

export async function renderCredits(main: HTMLElement, signal: AbortSignal): Promise<void> {
  const b = await refreshBalance();
  main.append(h("h1", {}, "Credits"));
  if (b) {
    main.append(
      h(
        "div",
        { class: "stats" },
        h(
          "div",
          { class: "stat" },
          h("span", {}, "Available"),
          h("strong", { id: "available" }, credits(b.available)),
          h("small", {}, usd(b.available)),
        ),
        h(
          "div",
          { class: "stat" },
          h("span", {}, "Held by running requests"),
          h("strong", {}, credits(b.reserved)),
        ),
      ),
    );
    if (b.notice) main.append(h("p", { class: "notice" }, b.notice));
  }
  await renderBuy(main, signal).catch((err) => main.append(h("p", { class: "error" }, sentence(err))));
  const body = h("tbody", {});
  const table = h(
    "table",
    { class: "ledger" },
    h("caption", {}, "Ledger, newest first. One credit is a millionth of a US dollar."),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "When"),
        h("th", { scope: "col" }, "What"),
        h("th", { scope: "col", class: "num" }, "Change"),
      ),
    ),
    body,
  );
  const more = h("button", { type: "button", hidden: true }, "Load more");
  main.append(h("div", { class: "scroll" }, table), more);

  let cursor: string | null = null;
  const load = async (): Promise<void> => {
    const q = new URLSearchParams({ limit: "25" });
    if (cursor) q.set("cursor", cursor);
    const page = await getJson<{ data: Entry[]; next_cursor: string | null }>(`/v1/credits/ledger?${q}`, {
      signal,
    });
    for (const e of page.data) {
      body.append(
        h(
          "tr",
          {},
          h("td", {}, when(e.at)),
          h("td", {}, KINDS[e.kind] ?? e.kind),
          h(
            "td",
            { class: `num ${e.amount < 0 ? "neg" : "pos"}` },
            `${e.amount > 0 ? "+" : ""}${credits(e.amount)}`,
          ),
        ),
      );
    }
    if (!page.data.length && !cursor) body.append(h("tr", {}, h("td", { colspan: 3 }, "Nothing yet.")));
    cursor = page.next_cursor;
    more.hidden = cursor === null;
  };
  more.addEventListener(
    "click",
    () => void load().catch((err) => more.replaceWith(h("p", { class: "error" }, sentence(err)))),
  );
  await load();
}
