// The microphone's audio as the transcription stream takes it: mono 16-bit little-endian PCM at
// `rate` (16 kHz, or the device's own rate when lower), posted to the page in 100 ms pieces. It runs in
// the AudioWorklet's own thread (loaded by the page as a module of its own origin: the CSP's
// script-src 'self'), so the page's thread never handles individual samples. Down-sampling averages the
// input samples that fall in each output sample (a box filter): enough to keep speech clear and keep
// the high frequencies from folding back in, with no library.

export {}; // a module: the declarations below stay in this file

// The AudioWorkletGlobalScope's names (TypeScript's DOM library does not describe that scope).
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: { processorOptions?: { rate?: number } });
}
declare function registerProcessor(name: string, processor: typeof AudioWorkletProcessor): void;

class Pcm16 extends AudioWorkletProcessor {
  private readonly step: number; // input samples per output sample (1 or more)
  private readonly size: number; // output samples per piece: 100 ms
  private pos = 0;
  private sum = 0;
  private count = 0;
  private out: Int16Array;
  private n = 0;

  constructor(options?: { processorOptions?: { rate?: number } }) {
    super(options);
    const rate = Math.min(options?.processorOptions?.rate ?? 16000, sampleRate);
    this.step = sampleRate / rate;
    this.size = Math.round(rate / 10);
    this.out = new Int16Array(this.size);
    // "flush": post what is left (the last words before Stop), then "flushed" so the page ends the stream.
    this.port.onmessage = () => {
      this.post();
      this.port.postMessage("flushed");
    };
  }

  process(inputs: Float32Array[][]): boolean {
    const samples = inputs[0]?.[0];
    if (!samples) return true;
    for (let i = 0; i < samples.length; i++) {
      this.sum += samples[i];
      this.count += 1;
      this.pos += 1;
      if (this.pos < this.step) continue;
      this.pos -= this.step;
      const v = Math.max(-1, Math.min(1, this.sum / this.count));
      this.out[this.n++] = v < 0 ? v * 0x8000 : v * 0x7fff;
      this.sum = 0;
      this.count = 0;
      if (this.n === this.size) this.post();
    }
    return true;
  }

  private post(): void {
    if (this.n === 0) return;
    const piece = this.out.slice(0, this.n);
    this.port.postMessage(piece.buffer, [piece.buffer]);
    this.n = 0;
  }
}

registerProcessor("pcm16", Pcm16);
