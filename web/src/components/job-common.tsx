// What the train, job and jobs pages share: API errors placed at the field they name, job states and
// progress, times and sizes, images fetched with the token in fixed-ratio boxes, a zoomable viewer.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type Job } from "../api.ts";
export { formatBytes, formatDuration, formatNumber, formatTime } from "../format.ts";
import { useI18n } from "../i18n/index.ts";
import "../i18n/jobs.ts";
import "./job-styles.css";
import { useObjectUrl } from "./object-url.ts";

export const enc = encodeURIComponent;
export const FINAL_STATES: readonly Job["state"][] = ["succeeded", "failed", "cancelled"];
export const JOB_STATES: readonly Job["state"][] = ["queued", "running", "succeeded", "failed", "cancelled"];

export function isActive(state: Job["state"] | string | null | undefined): boolean {
  return state === "queued" || state === "running";
}

/** The URL of one file of a job (fetch it with request/imageUrl/download: it needs the token). */
export function jobFilePath(jobId: string, path: string): string {
  return `/api/jobs/${enc(jobId)}/file?path=${enc(path)}`;
}

/**
 * The form field an API error is about: its `field` without the `params.` a job request adds
 * ("params.config.network_dim" → "config.network_dim"); a NOT_FOUND dataset or model names no field, so
 * its message tells which.
 */
export function errorField(error: unknown): string | null {
  if (!(error instanceof ApiError)) return null;
  if (error.body.field) return error.body.field.replace(/^params\./u, "");
  const named = /^(dataset|model) '/u.exec(error.body.message);
  return error.body.code === "NOT_FOUND" && named ? named[1]! : null;
}

/** A job's recorded error (or an error event) as an ApiError, so ErrorBox shows its hint too. */
export function asApiError(body: { code?: string; message?: string; hint?: string }): ApiError {
  return new ApiError(0, {
    code: body.code ?? "ERROR",
    message: body.message ?? body.code ?? "",
    ...(body.hint ? { hint: body.hint } : {}),
  });
}

/** The error when it names this field, else null. */
export function errorAt(error: unknown, field: string): ApiError | null {
  return errorField(error) === field ? (error as ApiError) : null;
}

/** The message and hint under an input (give the input aria-describedby={id} and aria-invalid). */
export function FieldError({ id, error }: { id: string; error: ApiError | null }) {
  const { t } = useI18n();
  if (!error) return null;
  return (
    <small id={id} class="job-field-error" role="alert" data-testid="field-error">
      {error.body.message}
      {error.body.hint ? (
        <>
          <br />
          {t("common.hint")}: {error.body.hint}
        </>
      ) : null}
    </small>
  );
}

/** Props for an input an error may name: aria-invalid and the id of the message under it. */
export function invalidProps(error: ApiError | null, id: string) {
  return error ? { "aria-invalid": true as const, "aria-describedby": id } : {};
}

/** A job kind's name in the UI's language (the kind's own name when there is none). */
export function kindName(kind: string, t: (key: string) => string): string {
  const key = `kind.${kind}`;
  const name = t(key);
  return name === key ? kind : name;
}

export function StateBadge({ state }: { state: Job["state"] | string }) {
  const { t } = useI18n();
  return (
    <span class={`job-state job-state-${state}`} data-testid="job-state" data-state={state}>
      {t(`state.${state}`)}
    </span>
  );
}

/** A job's progress as a bar (indeterminate while it runs without a count). */
export function JobProgress({ job, label }: { job: Pick<Job, "state" | "progress">; label: string }) {
  const step = job.progress?.step;
  const total = job.progress?.total;
  if (typeof step === "number" && typeof total === "number" && total > 0) {
    return <progress class="job-progress" value={step} max={total} aria-label={label} />;
  }
  if (job.state === "succeeded")
    return <progress class="job-progress" value={1} max={1} aria-label={label} />;
  if (job.state === "running") return <progress class="job-progress" aria-label={label} />;
  return <progress class="job-progress" value={0} max={1} aria-label={label} />;
}

/**
 * A job's image in a box of fixed aspect ratio (nothing moves when it arrives); a button that opens it
 * full size when `onOpen` is given.
 */
export function JobImage({
  jobId,
  path,
  alt,
  ratio = 1,
  testid,
  onOpen,
}: {
  jobId: string;
  path: string | null;
  alt: string;
  ratio?: number;
  testid?: string;
  onOpen?: (url: string, alt: string) => void;
}) {
  const { t } = useI18n();
  const { url, failed } = useObjectUrl(path ? jobFilePath(jobId, path) : null);
  const box = (
    <span class="job-image" style={{ aspectRatio: String(ratio) }}>
      {url ? (
        <img src={url} alt={alt} decoding="async" data-testid={testid} data-path={path ?? undefined} />
      ) : failed ? (
        <span class="job-image-note">{t("job.image.failed")}</span>
      ) : (
        <span class="job-image-note" aria-hidden="true">
          {path ? "…" : ""}
        </span>
      )}
    </span>
  );
  if (!onOpen || !url) return box;
  return (
    <button
      type="button"
      class="job-image-button"
      onClick={() => onOpen(url, alt)}
      title={t("job.image.open")}
      aria-label={`${t("job.image.open")}: ${alt}`}
    >
      {box}
    </button>
  );
}

/** A full-size image in a dialog: fit to the window, or at 100% / 200% to scroll around in. */
export function ImageViewer({
  image,
  onClose,
}: {
  image: { url: string; alt: string } | null;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const ref = useRef<HTMLDialogElement>(null);
  const [zoom, setZoom] = useState<"fit" | "1" | "2">("fit");
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (image && !dialog.open) {
      setZoom("fit");
      dialog.showModal();
    } else if (!image && dialog.open) dialog.close();
  }, [image]);
  return (
    <dialog ref={ref} class="job-viewer" onClose={onClose} aria-label={image?.alt ?? t("job.image.open")}>
      {image ? (
        <article>
          <header class="job-viewer-bar">
            <div role="group" aria-label={t("job.zoom")}>
              {(["fit", "1", "2"] as const).map((level) => (
                <button
                  key={level}
                  type="button"
                  class={zoom === level ? "small" : "small secondary outline"}
                  aria-pressed={zoom === level}
                  onClick={() => setZoom(level)}
                  data-testid={`zoom-${level}`}
                >
                  {level === "fit" ? t("job.zoom.fit") : `${Number(level) * 100}%`}
                </button>
              ))}
            </div>
            <button type="button" class="small secondary" onClick={onClose} data-testid="viewer-close">
              {t("job.close")}
            </button>
          </header>
          <div class={`job-viewer-body zoom-${zoom}`}>
            <img
              src={image.url}
              alt={image.alt}
              style={zoom === "fit" ? undefined : { zoom: Number(zoom) }}
              data-testid="viewer-image"
            />
          </div>
        </article>
      ) : null}
    </dialog>
  );
}
