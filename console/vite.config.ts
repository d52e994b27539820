// The console is served by the API under /app (run_services/api/console.py); `npm run dev` proxies the API.
import { defineConfig } from "vite";

const api = process.env.CONSOLE_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/app/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, target: "es2022" },
  server: { proxy: { "/v1": { target: api, changeOrigin: false } } },
});
