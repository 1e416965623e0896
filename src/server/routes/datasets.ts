import type { App, AppDeps } from "../app.ts";
import { registerCaptionRoutes } from "../datasets/captions.ts";
import { registerCheckRoute } from "../datasets/checks.ts";
import { registerDatasetCrud } from "../datasets/crud.ts";
import { registerImageRoutes } from "../datasets/images.ts";
import { registerTagRoutes } from "../datasets/tags.ts";
import { registerThumbRoute } from "../datasets/thumbs.ts";
import { registerUploadRoute } from "../datasets/upload.ts";

/** Datasets: create, upload (through the import), images with check flags and thumbnails, captions, tags. */
export function registerDatasetRoutes(app: App, deps: AppDeps): void {
  registerDatasetCrud(app, deps);
  registerUploadRoute(app, deps);
  registerCheckRoute(app, deps);
  registerImageRoutes(app, deps);
  registerThumbRoute(app, deps);
  registerCaptionRoutes(app, deps);
  registerTagRoutes(app, deps);
}
