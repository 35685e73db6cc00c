import { defineConfig } from 'vite';

// The build goes straight into the Go package that embeds it
// (internal/web/dist). The hub serves index.html for every non-API path, so
// assets are addressed from the root. `npm run dev` proxies the API to a hub
// given in BRINK_HUB (default http://127.0.0.1:9339).
export default defineConfig({
  base: '/',
  build: {
    outDir: '../internal/web/dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': process.env.BRINK_HUB ?? 'http://127.0.0.1:9339',
    },
  },
});
