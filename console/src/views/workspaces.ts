// Workspaces: create one, see its members and the shared wallet, invite by email (the invitation token
// is shown once, to pass on; the invitee accepts it here). Admins also see each member's spend (from
// GET /v1/usage?workspace_id=, which answers a plain member with their own usage only).

import { getJson } from "../api";
import { credits, h, svg, usd, when } from "../dom";
import { sentence } from "../errors";
import { toast } from "../shell";

interface Workspace {
  id: string;
  name: string;
  role: string;
  members: number;
}

interface Member {
  user_id: string;
  email: string;
  role: string;
  monthly_limit: number | null;
}

interface Invitation {
  id: string;
  email: string;
  role: string;
  expires_at: string;
  state: string;
  token?: string;
}

interface MemberUsage {
  start: string;
  end: string;
  by_member: { key: string; requests: number; credits: number }[];
}

/** Horizontal bars, one per member (those who spent nothing included), labelled with their numbers. */
function memberChart(usage: MemberUsage, members: Member[]): HTMLElement {
  const spent = new Map(usage.by_member.map((b) => [b.key, b]));
  const rows = members
    .map((m) => ({ email: m.email, credits: spent.get(m.user_id)?.credits ?? 0 }))
    .sort((a, b) => b.credits - a.credits);
  const W = 640,
    row = 28,
    label = 260;
  const max = Math.max(1, ...rows.map((r) => r.credits));
  const bars = rows.flatMap((r, i) => [
    svg("text", { x: 0, y: i * row + 18, class: "axis" }, r.email),
    svg(
      "rect",
      {
        x: label,
        y: i * row + 6,
        height: 16,
        width: r.credits ? Math.max(2, ((W - label - 120) * r.credits) / max) : 0,
        class: "bar",
        "data-member": r.email,
        "data-credits": r.credits,
      },
      svg("title", {}, `${r.email}: ${credits(r.credits)} credits (${usd(r.credits)})`),
    ),
    svg("text", { x: W, y: i * row + 18, "text-anchor": "end", class: "axis" }, credits(r.credits)),
  ]);
  const summary = rows.map((r) => `${r.email}: ${credits(r.credits)}`).join("; ");
  return h(
    "figure",
    { class: "member-usage" },
    svg(
      "svg",
      {
        viewBox: `0 0 ${W} ${rows.length * row + 4}`,
        role: "img",
        class: "chart",
        "aria-label": `Credits spent per member: ${summary}`,
      },
      ...bars,
    ),
    h("figcaption", {}, `Credits spent per member, ${usage.start} to ${usage.end} (UTC).`),
  );
}

function field(
  id: string,
  label: string,
  attrs: Record<string, string | boolean> = {},
): [HTMLLabelElement, HTMLInputElement] {
  return [h("label", { for: id }, label), h("input", { id, ...attrs })];
}

async function details(ws: Workspace, box: HTMLElement, signal: AbortSignal): Promise<void> {
  const admin = ws.role === "owner" || ws.role === "admin";
  const [members, wallet] = await Promise.all([
    getJson<{ data: Member[] }>(`/v1/workspaces/${ws.id}/members`, { signal }),
    getJson<{ available: number; my_monthly_limit: number | null; my_used_this_month: number }>(
      `/v1/workspaces/${ws.id}/wallet`,
      { signal },
    ),
  ]);
  box.replaceChildren(
    h(
      "p",
      {},
      `Wallet: ${credits(wallet.available)} credits. You used ${credits(wallet.my_used_this_month)} this month${wallet.my_monthly_limit === null ? "" : ` of your ${credits(wallet.my_monthly_limit)} limit`}.`,
    ),
    h(
      "table",
      { class: "members" },
      h("caption", {}, "Members"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Email"),
          h("th", { scope: "col" }, "Role"),
          h("th", { scope: "col", class: "num" }, "Monthly limit"),
        ),
      ),
      h(
        "tbody",
        {},
        ...members.data.map((m) =>
          h(
            "tr",
            {},
            h("td", {}, m.email),
            h("td", {}, m.role),
            h("td", { class: "num" }, m.monthly_limit === null ? "none" : credits(m.monthly_limit)),
          ),
        ),
      ),
    ),
  );
  if (!admin) return;
  const usage = await getJson<MemberUsage>(`/v1/usage?workspace_id=${encodeURIComponent(ws.id)}`, {
    signal,
  });
  box.append(h("h3", {}, "Spend per member"), memberChart(usage, members.data));
  const invites = await getJson<{ data: Invitation[] }>(`/v1/workspaces/${ws.id}/invitations`, { signal });
  const pending = h(
    "ul",
    { class: "invites" },
    ...invites.data
      .filter((i) => i.state === "pending")
      .map((i) => h("li", {}, `${i.email} (${i.role}), until ${when(i.expires_at)}`)),
  );
  const [emailLabel, email] = field(`invite-${ws.id}`, "Invite by email", { type: "email", required: true });
  const role = h(
    "select",
    { "aria-label": "Role" },
    h("option", { value: "member" }, "member"),
    h("option", { value: "admin" }, "admin"),
  );
  const out = h("p", { role: "status" });
  const form = h(
    "form",
    { class: "row wrap" },
    emailLabel,
    email,
    role,
    h("button", { type: "submit" }, "Invite"),
    out,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    getJson<Invitation>(`/v1/workspaces/${ws.id}/invitations`, {
      body: { email: email.value.trim(), role: role.value },
    })
      .then((inv) => {
        pending.append(h("li", {}, `${inv.email} (${inv.role}), until ${when(inv.expires_at)}`));
        out.replaceChildren(
          "Invitation sent. Its token, shown only now, for the invitee to accept: ",
          h("code", { class: "secret" }, inv.token ?? ""),
        );
        email.value = "";
      })
      .catch((err) => (out.textContent = sentence(err)));
  });
  box.append(h("h3", {}, "Pending invitations"), pending, form);
}

export async function renderWorkspaces(main: HTMLElement, signal: AbortSignal): Promise<void> {
  main.append(h("h1", {}, "Workspaces"));
  const [nameLabel, name] = field("ws-name", "New workspace name", { required: true, maxlength: "100" });
  const create = h(
    "form",
    { class: "row wrap" },
    nameLabel,
    name,
    h("button", { type: "submit", class: "primary" }, "Create"),
  );
  const [tokenLabel, token] = field("ws-token", "Accept an invitation (token)", { required: true });
  const accept = h("form", { class: "row wrap" }, tokenLabel, token, h("button", { type: "submit" }, "Join"));
  const list = h("div", {});
  main.append(create, accept, list);
  const load = async (): Promise<void> => {
    const ws = await getJson<{ data: Workspace[] }>("/v1/workspaces", { signal });
    list.replaceChildren(...(ws.data.length ? [] : [h("p", {}, "You are in no workspace yet.")]));
    for (const w of ws.data) {
      const box = h("div", {});
      list.append(
        h(
          "section",
          { class: "card", "data-workspace": w.id },
          h("h2", {}, w.name),
          h("small", {}, `You are ${w.role} · ${w.members} member${w.members === 1 ? "" : "s"}`),
          box,
        ),
      );
      await details(w, box, signal).catch((err) => box.append(h("p", { class: "error" }, sentence(err))));
    }
  };
  create.addEventListener("submit", (e) => {
    e.preventDefault();
    getJson("/v1/workspaces", { body: { name: name.value.trim() } })
      .then(() => ((name.value = ""), load()))
      .catch((err) => toast(sentence(err)));
  });
  accept.addEventListener("submit", (e) => {
    e.preventDefault();
    getJson("/v1/workspaces/invitations/accept", { body: { token: token.value.trim() } })
      .then(() => ((token.value = ""), load()))
      .catch((err) => toast(sentence(err)));
  });
  await load();
}
