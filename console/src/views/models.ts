// The model picker: chat models from GET /v1/models (embedding models left out), each with what it can
// do (`capabilities`: tools, images, ...). A model's details come from GET /v1/models/{id} when picked;
// controls that need a capability the model lacks are greyed out (disabled, with the reason beside).

import { getJson } from "../api";
import { h } from "../dom";

export interface Model {
  id: string;
  mode?: string;
  description?: string | null;
  default?: boolean;
  capabilities?: Record<string, boolean>;
}

const NAMES: Record<string, string> = {
  images: "images",
  audio_in: "audio",
  files: "files",
  tools: "tools",
  response_format: "JSON output",
  json_schema: "JSON schema",
  logprobs: "log probabilities",
  parallel_tool_calls: "parallel tool calls",
};

export async function chatModels(signal: AbortSignal): Promise<Model[]> {
  const list = await getJson<{ data: Model[] }>("/v1/models", { signal });
  return list.data.filter((m) => m.mode !== "embedding");
}

export function modelOption(m: Model): HTMLOptionElement {
  const caps = m.capabilities;
  const textOnly = caps !== undefined && !Object.values(caps).some(Boolean);
  return h("option", { value: m.id, selected: m.default === true }, textOnly ? `${m.id} (text only)` : m.id);
}

/** What the model can and cannot do, as one line (empty when the API does not say). */
export function describe(m: Model | undefined): string {
  const caps = m?.capabilities;
  if (!caps) return "";
  const can = Object.keys(NAMES).filter((k) => caps[k]);
  if (!can.length) return "Text only: no images, files, audio or tools.";
  const cannot = Object.keys(NAMES).filter((k) => k in caps && !caps[k]);
  return `Takes ${can.map((k) => NAMES[k]).join(", ")}${cannot.length ? `; not ${cannot.map((k) => NAMES[k]).join(", ")}` : ""}.`;
}

const details = new Map<string, Model>();

/** GET /v1/models/{id} (cached): the picked model's own answer, which wins over the list's. */
export async function modelDetails(listed: Model, signal: AbortSignal): Promise<Model> {
  const known = details.get(listed.id);
  if (known) return known;
  try {
    const one = await getJson<Model>(`/v1/models/${encodeURIComponent(listed.id)}`, { signal });
    details.set(listed.id, one);
    return one;
  } catch {
    return listed;
  }
}

export function supports(m: Model | undefined, capability: string): boolean {
  return m?.capabilities?.[capability] === true;
}
