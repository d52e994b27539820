// Dictation: the microphone streamed to the API's live transcription (WebSocket
// /v1/audio/transcriptions/stream, run_services/api/routes/audio.py). The page asks for the microphone,
// turns its audio into 16 kHz 16-bit PCM in an AudioWorklet (pcm16.worklet.ts), and opens the socket on
// this origin (the CSP's connect-src 'self' covers ws: and wss: of the same host). The access token goes
// in the start message, never in the URL: a browser cannot set an Authorization header on a WebSocket,
// and URLs end up in access logs. The server answers "started", then "partial" with the transcript so
// far, and "final" (text, seconds, credits) after Stop; a failure is an "error" message and a close
// code (4000 + HTTP status, 1008 for a bad credential) that `ending` turns into a sentence.

import workletUrl from "./pcm16.worklet.ts?worker&url";
import { accessToken } from "../api";
import { ApiError, sentence } from "../errors";

const RATE = 16000;

export interface Final {
  text: string;
  seconds: number;
  credits: number;
}

export interface DictationHandlers {
  started(sessionId: string): void;
  partial(text: string): void;
  final(result: Final): void;
  /** The socket closed; `problem` is a sentence saying what went wrong and what to do, or null. */
  ended(problem: string | null): void;
}

export interface Dictation {
  /** Send the last audio and ask for the final transcript (the server then closes the socket). */
  stop(): void;
  /** Close at once (leaving the view): the server charges the seconds already sent. */
  abort(): void;
}

interface ServerMessage {
  type: string;
  session_id?: string;
  text?: string;
  seconds?: number;
  credits?: number;
  code?: string;
  message?: string;
}

/** Starts dictating; throws a sentence-ready error when the microphone or the session is unavailable. */
export async function dictate(on: DictationHandlers): Promise<Dictation> {
  const token = await accessToken();
  const mic = await microphone();
  const audio = new AudioContext();
  if (audio.state === "suspended") await audio.resume(); // made after awaits: may start suspended
  const rate = Math.min(RATE, audio.sampleRate);
  try {
    await audio.audioWorklet.addModule(workletUrl);
  } catch (err) {
    mic.getTracks().forEach((t) => t.stop());
    void audio.close();
    throw err;
  }
  const encoder = new AudioWorkletNode(audio, "pcm16", { processorOptions: { rate } });
  audio.createMediaStreamSource(mic).connect(encoder);
  encoder.connect(audio.destination); // keeps the graph pulling; the encoder writes silence

  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/v1/audio/transcriptions/stream`);
  ws.binaryType = "arraybuffer";
  const waiting: ArrayBuffer[] = []; // audio recorded before the server said "started"
  let started = false;
  let finished = false;
  let failure: ServerMessage | null = null;

  const release = (): void => {
    mic.getTracks().forEach((t) => t.stop());
    encoder.port.onmessage = null;
    if (audio.state !== "closed") void audio.close();
  };
  encoder.port.onmessage = (e: MessageEvent<ArrayBuffer | string>) => {
    if (e.data === "flushed") {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "stop" }));
      release();
    } else if (typeof e.data !== "string") {
      if (started && ws.readyState === WebSocket.OPEN) ws.send(e.data);
      else waiting.push(e.data);
    }
  };
  ws.onopen = () => {
    ws.send(JSON.stringify({ type: "start", token, encoding: "pcm16", sample_rate: rate, channels: 1 }));
  };
  ws.onmessage = (e: MessageEvent) => {
    const msg = JSON.parse(String(e.data)) as ServerMessage;
    if (msg.type === "started") {
      started = true;
      on.started(msg.session_id ?? "");
      for (const piece of waiting.splice(0)) ws.send(piece);
    } else if (msg.type === "partial") on.partial(msg.text ?? "");
    else if (msg.type === "final") {
      finished = true;
      on.final({ text: msg.text ?? "", seconds: msg.seconds ?? 0, credits: msg.credits ?? 0 });
    } else if (msg.type === "error") failure = msg;
  };
  ws.onclose = (e: CloseEvent) => {
    release();
    on.ended(ending(e.code, failure, finished));
  };
  return {
    stop: () => {
      mic.getTracks().forEach((t) => t.stop());
      if (ws.readyState === WebSocket.OPEN && started) encoder.port.postMessage("flush");
      else ws.close(1000);
    },
    abort: () => {
      release();
      ws.close(1000);
    },
  };
}

async function microphone(): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("This browser cannot record here (a microphone needs HTTPS or localhost).");
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
  } catch (err) {
    const name = err instanceof DOMException ? err.name : "";
    if (name === "NotAllowedError")
      throw new Error(
        "The browser was not allowed to use the microphone. Allow it for this site and press Dictate again.",
      );
    if (name === "NotFoundError") throw new Error("No microphone was found. Connect one and try again.");
    throw new Error("The microphone could not be opened. Check it is not in use and try again.");
  }
}

/** What a close means for the person dictating, as a sentence; null when it ended as asked. */
export function ending(code: number, failure: ServerMessage | null, finished: boolean): string | null {
  if (code === 1000 && !failure) return finished ? null : "Dictation ended before anything was heard.";
  const err = new ApiError(
    code >= 4000 ? code - 4000 : 0,
    failure?.code ?? `ws_${code}`,
    failure?.message ?? "",
  );
  if (code === 1008) return "Your session ended, so dictation was refused. Sign in again and press Dictate.";
  switch (code) {
    case 4402:
      return "You are out of credits for dictation. Buy credits and press Dictate again.";
    case 4403:
      return "Your plan does not include dictation. Upgrade your plan to use it.";
    case 4404:
      return `Dictation is not available here. ${failure?.message ?? ""}`.trim();
    case 4408:
      return "Dictation stopped because no audio arrived for a while. Press Dictate to start again.";
    case 4413:
      return "Dictation reached its longest allowed length; the text so far is in the message box. Press Dictate to go on.";
    case 4429:
      return failure?.code === "too_many_speech_sessions"
        ? "Dictation is already running in another tab or window. Stop it there, then press Dictate."
        : "Too many requests right now. Wait a moment, then press Dictate again.";
    case 4502:
      return "The transcription service failed; nothing was charged. Try again shortly.";
  }
  if (code >= 4000) return sentence(err);
  return "The connection to the server was lost during dictation. Check your connection and press Dictate again.";
}
