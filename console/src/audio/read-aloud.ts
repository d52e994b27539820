// Read aloud: an answer's text spoken by POST /v1/audio/speech (OpenAI's tts-1 and its voice alloy, the
// catalog's standard speech model), played in an <audio> element from a blob: URL (the CSP's media-src
// allows blob: and nothing else). The answer's X-Credits-Charged header says what it cost, shown beside.

import { call } from "../api";
import { h, plural, usd } from "../dom";
import { sentence } from "../errors";
import { refreshBalance } from "../shell";

export const SPEECH_MODEL = "tts-1";
export const VOICE = "alloy";

/** A "Read aloud" button, its player (hidden until there is audio) and its status line, for `text`. */
export function readAloud(text: string, signal: AbortSignal): HTMLElement {
  const button = h("button", { type: "button", class: "read-aloud" }, "Read aloud");
  const player = h("audio", { controls: true, hidden: true, "aria-label": "The answer, read aloud" });
  const status = h("small", { role: "status" });
  let url = "";
  const forget = (): void => {
    if (url) URL.revokeObjectURL(url);
    url = "";
  };
  signal.addEventListener("abort", forget);
  player.addEventListener("error", () => {
    if (player.src) status.textContent += " Your browser could not play this audio.";
  });
  button.addEventListener("click", () => {
    button.disabled = true;
    status.textContent = "Making the audio…";
    void speak(text, signal)
      .then(({ blob, charged }) => {
        forget();
        url = URL.createObjectURL(blob);
        player.src = url;
        player.hidden = false;
        status.dataset.credits = String(charged);
        status.textContent = `Read aloud: ${plural(charged, "credit")} (${usd(charged)}).`;
        player.play().catch(() => undefined); // a browser that refuses autoplay shows the controls
      })
      .catch((err: unknown) => {
        status.textContent = `Could not read this aloud: ${sentence(err)}`;
      })
      .finally(() => {
        button.disabled = false;
        void refreshBalance();
      });
  });
  return h("div", { class: "row wrap read" }, button, status, player);
}

async function speak(text: string, signal: AbortSignal): Promise<{ blob: Blob; charged: number }> {
  const res = await call("/v1/audio/speech", {
    body: { model: SPEECH_MODEL, voice: VOICE, input: text, response_format: "mp3" },
    signal,
  });
  const charged = Number(res.headers.get("X-Credits-Charged") ?? 0);
  return { blob: await res.blob(), charged };
}
