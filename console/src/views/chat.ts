// Chat with streaming: the answer shows token by token (SSE read from fetch), Stop cancels the request
// (the API stops the model and charges only what was generated), and each answer says what it cost from
// the stream's `usage` (credits). The conversation is a thread kept by the API (POST /v1/threads, then
// each message to /v1/threads/{id}/messages), so it shows in Threads and can be exported; `#/chat/{id}`
// continues one. The picker greys out what the picked model cannot do (views/models.ts): "Attach an image"
// is disabled for a model without `images`; a message with an image carries it as an image_url part (a
// data: URL), kept with the thread and shown again when the thread is reopened. "Answer from"
// picks a knowledge store (views/knowledge.ts; `#/chat/store=ID` preselects one): the message carries
// `vector_store_ids` and the answer's citations (the finish chunk's `annotations`) show under it.
// "Dictate" streams the microphone to live transcription (audio/dictation.ts): the transcript so far
// shows in the message box as it comes, the final one when stopped, with its charge; "Read aloud" under
// an answer speaks it (audio/read-aloud.ts).

import { call, getJson } from "../api";
import { type Dictation, dictate } from "../audio/dictation";
import { readAloud } from "../audio/read-aloud";
import { h, plural, usd } from "../dom";
import { ApiError, sentence } from "../errors";
import { type Balance, refreshBalance, toast } from "../shell";
import { sseData } from "../sse";
import { renderText } from "../text";
import { listStores } from "./knowledge";
import { chatModels, describe, modelDetails, modelOption, supports } from "./models";

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  credits: number;
}

interface Citation {
  type: string;
  filename?: string;
  file_id?: string;
  quote?: string;
  marker?: string;
}

interface Chunk {
  choices?: {
    delta?: { content?: string | null; annotations?: Citation[] };
    finish_reason?: string | null;
  }[];
  usage?: Usage;
  error?: { code: string; message: string };
}

interface Part {
  type: string;
  text?: string;
  image_url?: { url: string };
}

interface StoredMessage {
  role: string;
  content: string | Part[];
}

/** A message's content as shown: text rendered, a data: image as a picture, an https one as a link (the
 * page's CSP loads images from this origin and data: URLs only). */
function showContent(body: HTMLElement, content: string | Part[]): void {
  if (typeof content === "string") {
    renderText(body, content);
    return;
  }
  for (const part of content) {
    const url = part.image_url?.url ?? "";
    if (part.type === "text") body.append(h("p", {}, part.text ?? ""));
    else if (url.startsWith("data:"))
      body.append(h("img", { src: url, alt: "An image you sent", class: "sent" }));
    else if (url)
      body.append(h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "An image (link)"));
  }
}

export async function renderChat(main: HTMLElement, signal: AbortSignal, arg = ""): Promise<void> {
  const fromStore = arg.startsWith("store=") ? arg.slice(6) : "";
  let threadId: string | null = (!fromStore && arg) || null;
  const log = h("ol", { class: "chat-log", "aria-live": "polite", "aria-label": "Conversation" });
  const picker = h("select", { id: "model", "aria-label": "Model" });
  const input = h("textarea", {
    id: "prompt",
    rows: 3,
    placeholder: "Ask something… (Enter sends, Shift+Enter adds a line)",
    "aria-label": "Message",
  });
  const maxTokens = h("input", {
    id: "max-tokens",
    type: "number",
    min: 1,
    placeholder: "Max tokens",
    "aria-label": "Most tokens in the answer (optional)",
    class: "narrow",
  });
  const image = h("input", {
    id: "attach",
    type: "file",
    accept: "image/png,image/jpeg,image/gif,image/webp",
  });
  const imageWhy = h("small", { id: "attach-why", class: "muted" });
  const caps = h("p", { id: "model-caps", class: "meta" });
  const store = h("select", { id: "store" }, h("option", { value: "" }, "No files (the model alone)"));
  const send = h("button", { type: "submit", class: "primary", id: "send" }, "Send");
  const stop = h("button", { type: "button", id: "stop", disabled: true }, "Stop");
  const mic = h("button", { type: "button", id: "dictate", "aria-pressed": "false" }, "Dictate");
  const heard = h("p", { id: "dictation", class: "meta", role: "status" });
  const form = h(
    "form",
    { class: "composer" },
    input,
    h("div", { class: "row" }, picker, maxTokens, send, stop, mic),
    heard,
    h("div", { class: "row wrap" }, h("label", { for: "attach" }, "Attach an image"), image, imageWhy),
    h("div", { class: "row wrap" }, h("label", { for: "store" }, "Answer from"), store),
    caps,
  );
  main.append(h("h1", { class: "sr-only" }, "Chat"), log, form);
  setUpDictation(mic, input, heard, signal); // before the awaits below: the button works at once

  const models = await chatModels(signal);
  picker.append(...models.map(modelOption));
  const pick = async (): Promise<void> => {
    const listed = models.find((m) => m.id === picker.value);
    const picked = listed && (await modelDetails(listed, signal));
    caps.textContent = describe(picked);
    const images = supports(picked, "images");
    image.disabled = !images;
    if (!images) image.value = "";
    imageWhy.textContent = images ? "" : `${picker.value} does not take images.`;
  };
  picker.addEventListener("change", () => void pick());
  await pick();
  for (const s of await listStores(signal)) {
    store.append(h("option", { value: s.id, selected: s.id === fromStore }, s.name || s.id));
  }
  if (threadId) {
    const old = await getJson<{ data: StoredMessage[] }>(
      `/v1/threads/${encodeURIComponent(threadId)}/messages?limit=200`,
      { signal },
    );
    for (const m of old.data) {
      if (m.role !== "user" && m.role !== "assistant") continue;
      const body = h("div", { class: "body" });
      showContent(body, m.content ?? "");
      const spoken = typeof m.content === "string" ? m.content : "";
      log.append(
        h(
          "li",
          { class: `msg ${m.role}` },
          h("div", { class: "who" }, m.role === "user" ? "You" : "Assistant"),
          body,
          m.role === "assistant" && spoken && readAloud(spoken, signal),
        ),
      );
    }
  }
  input.focus();

  let running: AbortController | null = null;
  signal.addEventListener("abort", () => running?.abort());
  stop.addEventListener("click", () => running?.abort());
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
    if (e.key === "Escape") running?.abort();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    const file = image.files?.[0] ?? null;
    if ((!text && !file) || running) return;
    input.value = "";
    image.value = "";
    const shown = h("div", { class: "body" }, text);
    log.append(
      h(
        "li",
        { class: "msg user" },
        h("div", { class: "who" }, "You"),
        shown,
        file && h("div", { class: "meta" }, `With the image ${file.name}`),
      ),
    );
    running = new AbortController();
    send.disabled = true;
    stop.disabled = false;
    const sent = running.signal;
    const content: Promise<string | Part[]> = file
      ? dataUrl(file).then((url) => {
          shown.append(h("img", { src: url, alt: file.name, class: "sent" }));
          return [...(text ? [{ type: "text", text }] : []), { type: "image_url", image_url: { url } }];
        })
      : Promise.resolve(text);
    void content
      .then((c) => answer(c, text || file?.name || "An image", picker.value, store.value, sent))
      .catch((err: unknown) => toast(sentence(err)))
      .finally(() => {
        running = null;
        send.disabled = false;
        stop.disabled = true;
        input.focus();
      });
  });

  /** The message sent to the thread (made on the first message), streamed back. */
  async function threadMessage(
    content: string | Part[],
    title: string,
    model: string,
    limit: object,
    stopped: AbortSignal,
  ): Promise<Response> {
    if (!threadId) {
      title = title.length > 60 ? `${title.slice(0, 57)}…` : title;
      threadId = (await getJson<{ id: string }>("/v1/threads", { body: { title }, signal: stopped })).id;
      history.replaceState(null, "", `#/chat/${threadId}`);
    }
    return call(`/v1/threads/${encodeURIComponent(threadId)}/messages`, {
      body: { content, model, stream: true, ...limit },
      signal: stopped,
    });
  }

  async function answer(
    content: string | Part[],
    title: string,
    model: string,
    storeId: string,
    stopped: AbortSignal,
  ): Promise<void> {
    const body = h("div", { class: "body streaming" });
    const meta = h("div", { class: "meta", "data-testid": "charge" });
    const item = h("li", { class: "msg assistant" }, h("div", { class: "who" }, model), body, meta);
    log.append(item);
    let text = "";
    let usage: Usage | null = null;
    let pieces = 0;
    const before = await refreshBalance();
    try {
      const limit = {
        ...(maxTokens.valueAsNumber > 0 ? { max_tokens: maxTokens.valueAsNumber } : {}),
        ...(storeId ? { vector_store_ids: [storeId] } : {}),
      };
      const res = await threadMessage(content, title, model, limit, stopped);
      for await (const data of sseData(res, stopped)) {
        if (data === "[DONE]") break;
        const chunk = JSON.parse(data) as Chunk;
        if (chunk.usage) usage = chunk.usage;
        if (chunk.error) throw new ApiError(400, chunk.error.code, chunk.error.message);
        const cited = chunk.choices?.[0]?.delta?.annotations;
        if (cited?.length) item.append(citations(cited));
        const piece = chunk.choices?.[0]?.delta?.content;
        if (piece) {
          text += piece;
          pieces += 1;
          body.textContent = text;
          body.dataset.pieces = String(pieces);
          item.scrollIntoView({ block: "end" });
        }
      }
      if (stopped.aborted) throw new DOMException("stopped", "AbortError");
      renderText(body, text);
      meta.textContent = usage
        ? `${plural(usage.credits, "credit")} (${usd(usage.credits)}) · ${plural(usage.prompt_tokens, "token")} in, ${usage.completion_tokens} out`
        : "";
      if (usage) meta.dataset.credits = String(usage.credits);
      if (text) item.append(readAloud(text, signal));
    } catch (err) {
      const wasStopped = err instanceof DOMException && err.name === "AbortError";
      meta.classList.add(wasStopped ? "stopped" : "error");
      if (usage) meta.dataset.credits = String(usage.credits);
      if (!wasStopped) {
        // A stream cut by an error (a guardrail block, a provider failure) says what its part cost.
        const cost = usage ? ` ${plural(usage.credits, "credit")} charged for what was generated.` : "";
        meta.textContent = sentence(err) + cost;
      } else {
        meta.textContent = "Stopped. Working out what was charged…";
        const charged = await chargeAfterStop(before);
        meta.textContent =
          charged === null
            ? "Stopped: only what was generated is charged (see Credits)."
            : `Stopped: ${plural(charged, "credit")} charged for what was generated.`;
        if (charged !== null) meta.dataset.credits = String(charged);
      }
    } finally {
      body.classList.remove("streaming");
      item.dataset.done = "true";
      await refreshBalance();
    }
  }
}

/** The Dictate button: pressed, it streams the microphone to live transcription and writes the
 * transcript so far after what the message box held; pressed again ("Stop dictating"), it asks for the
 * final transcript. `heard` says what was charged, or what went wrong and what to do. */
function setUpDictation(
  mic: HTMLButtonElement,
  input: HTMLTextAreaElement,
  heard: HTMLElement,
  signal: AbortSignal,
): void {
  let live: Dictation | null = null;
  let before = "";
  const show = (on: boolean): void => {
    mic.textContent = on ? "Stop dictating" : "Dictate";
    mic.setAttribute("aria-pressed", String(on));
  };
  const write = (text: string): void => {
    input.value = before + text;
  };
  signal.addEventListener("abort", () => live?.abort());
  mic.addEventListener("click", () => {
    if (live) {
      mic.disabled = true;
      heard.textContent = "Finishing the transcript…";
      live.stop();
      return;
    }
    before = input.value.trim() ? `${input.value.trimEnd()} ` : "";
    mic.disabled = true;
    heard.textContent = "Asking for the microphone…";
    delete heard.dataset.credits;
    heard.classList.remove("error");
    dictate({
      started: (sessionId) => {
        heard.dataset.session = sessionId;
        heard.textContent = "Listening… press Stop dictating when done.";
      },
      partial: write,
      final: ({ text, seconds, credits }) => {
        write(text);
        heard.dataset.credits = String(credits);
        heard.textContent = `Dictated ${seconds.toFixed(1)} s: ${plural(credits, "credit")} (${usd(credits)}).`;
      },
      ended: (problem) => {
        live = null;
        show(false);
        mic.disabled = false;
        heard.dataset.closed = "true";
        if (problem) {
          heard.classList.add("error");
          heard.textContent = problem;
        }
        void refreshBalance();
        input.focus();
      },
    })
      .then((d) => {
        live = d;
        delete heard.dataset.closed;
        show(true);
        mic.disabled = false;
      })
      .catch((err: unknown) => {
        mic.disabled = false;
        heard.classList.add("error");
        heard.textContent = err instanceof ApiError ? sentence(err) : (err as Error).message || sentence(err);
      });
  });
}

/** The files an answer drew on, under it: marker, file name and the quoted excerpt. */
function citations(cited: Citation[]): HTMLElement {
  return h(
    "ul",
    { class: "citations", "aria-label": "Sources" },
    ...cited
      .filter((c) => c.type === "file_citation")
      .map((c) =>
        h(
          "li",
          { "data-file": c.file_id ?? "" },
          `${c.marker ?? ""} ${c.filename ?? c.file_id ?? "a file"}`.trim(),
          c.quote ? h("q", {}, c.quote.length > 200 ? `${c.quote.slice(0, 197)}…` : c.quote) : null,
        ),
      ),
  );
}

/** The picture as a data: URL, the image_url part's form (the API checks its type and size). */
function dataUrl(file: File): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error("unreadable"));
    reader.readAsDataURL(file);
  });
}

/** A stopped stream sends no usage: the charge is what left the balance once the hold settled (the
 * API settles a cancelled call for the tokens generated). Null when it cannot be told apart. */
async function chargeAfterStop(before: Balance | null): Promise<number | null> {
  if (!before || before.reserved !== 0) return null;
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await refreshBalance();
    if (now && now.reserved === 0) return before.available - now.available;
  }
  return null;
}
