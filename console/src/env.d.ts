// Vite's import suffix for a module built as a file of its own (the AudioWorklet's): its URL.
declare module "*?worker&url" {
  const url: string;
  export default url;
}
