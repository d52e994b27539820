// Buying credits: the packages and plans the API lists (GET /v1/billing/packages), one button each.
// A button starts a checkout (POST /v1/billing/checkout) and goes to the provider's page (Stripe's or
// SSLCommerz's); credits arrive when the provider confirms, and show on return in the balance.

import { getJson } from "../api";
import { credits, h } from "../dom";
import { sentence } from "../errors";

interface Offer {
  provider: string;
  kind: "package" | "plan";
  id: string;
  credits: number;
  currency: string;
  amount: string;
  available: boolean;
  interval?: string;
}

const PROVIDERS: Record<string, string> = { stripe: "Stripe", sslcommerz: "SSLCommerz" };

function label(o: Offer): string {
  const price = `${o.amount} ${o.currency}`;
  return o.kind === "plan"
    ? `Subscribe to ${o.id}: ${credits(o.credits)} credits a ${o.interval ?? "month"} for ${price}`
    : `Buy ${credits(o.credits)} credits for ${price}`;
}

export async function renderBuy(main: HTMLElement, signal: AbortSignal): Promise<void> {
  const offers = (await getJson<{ data: Offer[] }>("/v1/billing/packages", { signal })).data.filter(
    (o) => o.available,
  );
  if (!offers.length) return; // no payment provider configured here
  const status = h("p", { class: "status", role: "status" });
  const list = h("ul", { class: "cards", id: "offers" });
  for (const o of offers) {
    const button = h(
      "button",
      { type: "button", "data-provider": o.provider, "data-id": o.id },
      `${label(o)} (${PROVIDERS[o.provider] ?? o.provider})`,
    );
    button.addEventListener("click", () => {
      button.disabled = true;
      status.textContent = `Opening ${PROVIDERS[o.provider] ?? o.provider}…`;
      const body = { provider: o.provider, [o.kind]: o.id };
      getJson<{ url: string }>("/v1/billing/checkout", { body, signal })
        .then((out) => location.assign(out.url))
        .catch((err) => {
          button.disabled = false;
          status.textContent = sentence(err);
        });
    });
    list.append(h("li", { class: "card" }, button));
  }
  main.append(h("section", {}, h("h2", {}, "Buy credits"), list, status));
}
