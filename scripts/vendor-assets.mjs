// Copies the front-end files the pages use from node_modules into the package's static folder,
// so the running platform serves them itself and never reaches a CDN.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

const target = "src/creditbridge/presentation/static/vendor";
const files = {
  "bootstrap/dist/css/bootstrap.min.css": "bootstrap.min.css",
  "bootstrap/dist/js/bootstrap.bundle.min.js": "bootstrap.bundle.min.js",
  "echarts/dist/echarts.min.js": "echarts.min.js",
  "htmx.org/dist/htmx.min.js": "htmx.min.js",
  // Swagger UI for /api/v1/docs (FastAPI's default page would load it from a CDN).
  "swagger-ui-dist/swagger-ui.css": "swagger-ui/swagger-ui.css",
  "swagger-ui-dist/swagger-ui-bundle.js": "swagger-ui/swagger-ui-bundle.js",
};
for (const [source, name] of Object.entries(files)) {
  const out = join(target, name);
  mkdirSync(dirname(out), { recursive: true });
  copyFileSync(join("node_modules", source), out);
}
console.log(`vendored ${Object.keys(files).length} files into ${target}`);
