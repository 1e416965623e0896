// What the dataset pages share: the API's shapes, thumbnails fetched with the token, a job's live state,
// an error shown at the field it names.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, getJson, sendJson, followJob, type Job } from "../api.ts";
import { ErrorBox } from "./error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import "../i18n/datasets.ts";
import "./dataset-styles.css";
import { useObjectUrl } from "./object-url.ts";
export { formatBytes, formatTime } from "../format.ts";

export { useObjectUrl };

export interface DatasetSummary {
  name: string;
  images: number;
  bytes: number;
  modified_at: string;
}

export interface DatasetDetail extends DatasetSummary {
  captioned: number;
  undo: { batch: number; operation: string; created_at: string } | null;
}

export const FLAGS = ["unreadable", "small", "aspect", "blurry", "duplicate", "several-people"] as const;
export type Flag = (typeof FLAGS)[number];

export interface DatasetImage {
  file: string;
  bytes: number;
  modified_at: string;
  width: number | null;
  height: number | null;
  tags: string[];
  caption: string;
  flags: Flag[] | null;
  duplicate_of?: string;
  sharpness?: number;
  faces?: number;
  people?: number;
  source?: string;
}

export interface CheckSummary {
  checked_at: string;
  settings: Record<string, unknown>;
  summary: string[];
  seconds: number;
}

export interface ImagesAnswer {
  images: DatasetImage[];
  check: CheckSummary | null;
}

/** Path pieces for the dataset routes. */
export const enc = encodeURIComponent;
export const datasetApi = (name: string) => `/api/datasets/${enc(name)}`;
export const thumbPath = (name: string, file: string, size: 64 | 128 | 256 | 512 = 256) =>
  `${datasetApi(name)}/images/${enc(file)}/thumb?size=${size}`;

/** A caption batch as the undo journal names it ("tags add tags=[...]"): its kind, in the UI's language. */
export function operationLabel(operation: string, t: (key: string) => string): string {
  const verb = /^tags (\w+)/.exec(operation)?.[1];
  const key = `ds.op.${verb ?? ""}`;
  const label = verb ? t(key) : key;
  return label === key ? operation : label;
}

/** The API error's field, when it names this one (a job's params are named "params.x"). */
export function errorAt(error: unknown, ...fields: string[]): ApiError | null {
  if (!(error instanceof ApiError) || !error.body.field) return null;
  const field = error.body.field.replace(/^params\./u, "");
  return fields.includes(field) ? error : null;
}

/** The message and hint under an input (give the input aria-describedby={id} and aria-invalid). */
export function FieldError({ id, error }: { id: string; error: ApiError | null }) {
  if (!error) return null;
  return (
    <small id={id} class="ds-field-error" role="alert">
      {error.body.message}
      {error.body.hint ? ` — ${error.body.hint}` : ""}
    </small>
  );
}

/** A thumbnail in a box of fixed aspect ratio: nothing moves when it arrives. */
export function Thumb({
  path,
  alt,
  ratio = 1,
  fit = "cover",
}: {
  path: string | null;
  alt: string;
  ratio?: number;
  fit?: "cover" | "contain";
}) {
  const { t } = useI18n();
  const { url, failed } = useObjectUrl(path);
  return (
    <span class="ds-thumb" style={{ aspectRatio: String(ratio) }}>
      {url ? (
        <img src={url} alt={alt} style={{ objectFit: fit }} decoding="async" />
      ) : failed ? (
        <span class="ds-thumb-failed">{t("ds.thumb.failed")}</span>
      ) : null}
    </span>
  );
}

/** Queues a job; the API's error (a field named "params.x") is thrown as it came. */
export function startJob(kind: string, params: Record<string, unknown>): Promise<Job> {
  return sendJson<Job>("/api/jobs", { kind, params });
}

const FINAL = new Set(["succeeded", "failed", "cancelled"]);
/** Jobs whose end this page has acted on: a tab shown again follows the job again, but acts once. */
const handled = new Set<string>();

/**
 * A job's live state: followJob's events (state, stage, end) plus the job record, read every 1.5 s while
 * it runs (the progress of jobs without an engine is kept there, not sent as events). `onEnd` runs once
 * per job per page load; `children` shows the result.
 */
export function JobLive({
  jobId,
  onEnd,
  children,
}: {
  jobId: string;
  onEnd?: (job: Job) => void;
  children?: (job: Job) => ComponentChildren;
}) {
  const { t } = useI18n();
  const [job, setJob] = useState<Job | null>(null);
  const [stage, setStage] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const endRef = useRef(onEnd);
  endRef.current = onEnd;
  useEffect(() => {
    let over = false;
    const finish = (final: Job) => {
      setJob(final);
      if (over) return;
      over = true;
      clearInterval(timer);
      stop();
      if (!handled.has(final.id)) {
        handled.add(final.id);
        endRef.current?.(final);
      }
    };
    const poll = async () => {
      try {
        const now = await getJson<Job>(`/api/jobs/${enc(jobId)}`);
        if (over) return;
        if (FINAL.has(now.state)) finish(now);
        else setJob(now);
      } catch (caught) {
        if (!over) setError(caught);
      }
    };
    const stop = followJob(
      jobId,
      (event) => {
        if (event.type === "stage" && typeof event.data.stage === "string") setStage(event.data.stage);
      },
      (final) => (final ? finish(final) : void poll()),
    );
    const timer = setInterval(() => void poll(), 1500);
    void poll();
    return () => {
      over = true;
      clearInterval(timer);
      stop();
    };
  }, [jobId]);

  const cancel = async () => {
    try {
      setJob(await sendJson<Job>(`/api/jobs/${enc(jobId)}/cancel`, {}));
    } catch (caught) {
      setError(caught);
    }
  };
  const progress = job?.progress;
  const running = job && !FINAL.has(job.state);
  return (
    <div class="ds-job" data-testid="job-live" data-state={job?.state ?? "loading"} aria-live="polite">
      <div class="ds-job-head">
        <strong>{job ? t(`state.${job.state}`) : t("common.loading")}</strong>
        {running && (progress?.stage ?? stage) ? <span> · {progress?.stage ?? stage}</span> : null}
        {running && progress?.total ? (
          <span>
            {" "}
            · {progress.step ?? 0}/{progress.total}
          </span>
        ) : null}
        <a href={`/jobs/${enc(jobId)}`} data-testid="job-link">
          {t("ds.job.open", { id: jobId.slice(0, 8) })}
        </a>
        {running ? (
          <button type="button" class="secondary outline small" onClick={() => void cancel()}>
            {t("ds.job.cancel")}
          </button>
        ) : null}
      </div>
      {running ? (
        progress?.total ? (
          <progress value={progress.step ?? 0} max={progress.total} />
        ) : (
          <progress />
        )
      ) : null}
      {job?.state === "failed" && job.error ? <ErrorBox error={new ApiError(0, job.error)} /> : null}
      <ErrorBox error={error} />
      {job && job.state === "succeeded" && children ? children(job) : null}
    </div>
  );
}

/** A tag as a list: "a, b ,c" → ["a", "b", "c"]. */
export function splitTags(text: string): string[] {
  return text
    .split(",")
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "");
}

/** The trigger word of a dataset, remembered in this browser (tags, bake and layout use it). */
export function useTrigger(name: string): [string, (value: string) => void] {
  const key = `danlu.trigger.${name}`;
  const [value, setValue] = useState(() => localStorage.getItem(key) ?? "");
  return [
    value,
    (next: string) => {
      localStorage.setItem(key, next);
      setValue(next);
    },
  ];
}

export type JobSlot = "fix" | "crop" | "tag" | "layout";

/** What the dataset page holds and its tabs share (tabs come and go; this stays). */
export interface DatasetState {
  name: string;
  images: DatasetImage[];
  check: CheckSummary | null;
  detail: DatasetDetail | null;
  /** Reads the dataset and its images again (after an upload, a job, an undo...). */
  reload: () => Promise<void>;
  trigger: string;
  setTrigger: (value: string) => void;
  /** Unsaved chip edits by image file. */
  drafts: ReadonlyMap<string, string[]>;
  setDraft: (file: string, tags: string[] | undefined) => void;
  /** A caption saved: the image's tags now. */
  onSaved: (file: string, tags: string[]) => void;
  jobs: Partial<Record<JobSlot, string>>;
  setJob: (slot: JobSlot, id: string | undefined) => void;
}
