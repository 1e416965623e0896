// Upload: files, folders (picked or dropped) and zips go to POST /upload a few at a time, with each file's
// progress; the import's report lists every file with what became of it.
import { useRef, useState } from "preact/hooks";
import { VList } from "virtua";
import { ApiError, getToken, type ApiErrorBody } from "../api.ts";
import { DropZone } from "./drop-zone.tsx";
import { ErrorBox } from "./error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import { datasetApi, formatBytes } from "./dataset-common.tsx";

export interface UploadReport {
  dataset: string;
  counts: { imported: number; duplicate: number; rejected: number; skipped: number };
  files: {
    name: string;
    status: "imported" | "duplicate" | "rejected" | "skipped";
    reason?: string;
    file?: string;
  }[];
  seconds: number;
}

interface Item {
  id: number;
  file: File;
  /** The name sent: the path inside a picked or dropped folder, else the file name. */
  path: string;
  state: "waiting" | "uploading" | "done" | "failed" | "cancelled";
  loaded: number;
  error?: ApiErrorBody;
}

/** Per request: at most this many images (with their captions), or this many bytes; a zip goes alone. */
const GROUPS_PER_REQUEST = 6;
const BYTES_PER_REQUEST = 32 * 1024 * 1024;
const PARALLEL_REQUESTS = 2;

const lower = (s: string) => s.toLowerCase();
const baseName = (path: string) => path.slice(path.lastIndexOf("/") + 1);
const stemOf = (name: string) => (name.lastIndexOf(".") > 0 ? name.slice(0, name.lastIndexOf(".")) : name);
const isZip = (name: string) => lower(name).endsWith(".zip");

/**
 * Requests to send: an image goes with the caption files of the same folder and stem (the import pairs
 * them only within one upload), and two images of the same stem never share a request (the server
 * renames the second, which would part it from its caption).
 */
export function planBatches(items: Item[]): Item[][] {
  const groups = new Map<string, Item[]>();
  for (const item of items) {
    const dir = item.path.slice(0, item.path.lastIndexOf("/") + 1);
    const key = isZip(item.path)
      ? `zip\u0000${item.id}`
      : `${lower(dir)}\u0000${lower(stemOf(baseName(item.path)))}`;
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  const batches: { items: Item[]; stems: Set<string>; bytes: number; groups: number; zip: boolean }[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const stem = lower(stemOf(baseName(first.path)));
    const bytes = group.reduce((sum, item) => sum + item.file.size, 0);
    const zip = isZip(first.path);
    const open = zip
      ? undefined
      : batches.find(
          (b) =>
            !b.zip &&
            !b.stems.has(stem) &&
            b.groups < GROUPS_PER_REQUEST &&
            b.bytes + bytes <= BYTES_PER_REQUEST,
        );
    if (open) {
      open.items.push(...group);
      open.stems.add(stem);
      open.bytes += bytes;
      open.groups += 1;
    } else {
      batches.push({ items: [...group], stems: new Set([stem]), bytes, groups: 1, zip });
    }
  }
  return batches.map((b) => b.items);
}

/**
 * One request: the files as `files` parts (and any text `fields`), the token in the header, upload
 * progress as it goes. Answers the route's JSON (an upload report unless the route says otherwise).
 */
export function send<T = UploadReport>(
  url: string,
  items: readonly Pick<Item, "file" | "path">[],
  onProgress: (loaded: number, total: number) => void,
  signal: AbortSignal,
  fields: Record<string, string> = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const item of items) form.append("files", item.file, item.path);
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    const token = getToken();
    if (token) xhr.setRequestHeader("authorization", `Bearer ${token}`);
    xhr.responseType = "json";
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.total);
    xhr.onload = () => {
      const body = xhr.response as (T & { error?: ApiErrorBody }) | null;
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else
        reject(
          new ApiError(
            xhr.status,
            body?.error ?? { code: `HTTP_${xhr.status}`, message: xhr.statusText || "upload failed" },
          ),
        );
    };
    xhr.onerror = () => reject(new ApiError(0, { code: "NETWORK", message: "the upload was cut off" }));
    xhr.onabort = () => reject(new DOMException("cancelled", "AbortError"));
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}

const STATUS_ORDER = { rejected: 0, skipped: 1, duplicate: 2, imported: 3 } as const;

export function UploadPanel({ name, onUploaded }: { name: string; onUploaded: () => void }) {
  const { t } = useI18n();
  const [items, setItems] = useState<Item[]>([]);
  const [report, setReport] = useState<UploadReport | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [problemsOnly, setProblemsOnly] = useState(false);
  const nextId = useRef(1);
  const abort = useRef<AbortController | null>(null);
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);

  const update = (ids: Set<number>, change: (item: Item) => Item) =>
    setItems((all) => all.map((item) => (ids.has(item.id) ? change(item) : item)));

  const start = async (picked: { file: File; path: string }[]) => {
    if (picked.length === 0 || busy) return;
    const queued: Item[] = picked.map(({ file, path }) => ({
      id: nextId.current++,
      file,
      path,
      state: "waiting",
      loaded: 0,
    }));
    setItems(queued);
    setReport(null);
    setError(null);
    setBusy(true);
    const controller = new AbortController();
    abort.current = controller;
    const batches = planBatches(queued);
    const merged: UploadReport = {
      dataset: name,
      counts: { imported: 0, duplicate: 0, rejected: 0, skipped: 0 },
      files: [],
      seconds: 0,
    };
    let next = 0;
    let sent = 0;
    const worker = async () => {
      while (next < batches.length && !controller.signal.aborted) {
        const batch = batches[next++]!;
        const ids = new Set(batch.map((item) => item.id));
        update(ids, (item) => ({ ...item, state: "uploading" }));
        const sizes = batch.map((item) => item.file.size);
        const sum = sizes.reduce((a, b) => a + b, 0);
        try {
          const answer = await send(
            `${datasetApi(name)}/upload`,
            batch,
            (loaded, total) => {
              // the parts go in order: spread the bytes sent over the files (the form's own bytes aside)
              let left = total > 0 ? (loaded / total) * sum : 0;
              const loadedById = new Map<number, number>();
              batch.forEach((item, i) => {
                const part = Math.min(left, sizes[i]!);
                loadedById.set(item.id, part);
                left -= part;
              });
              update(ids, (item) => ({ ...item, loaded: loadedById.get(item.id) ?? item.loaded }));
            },
            controller.signal,
          );
          for (const key of Object.keys(merged.counts) as (keyof UploadReport["counts"])[]) {
            merged.counts[key] += answer.counts[key];
          }
          merged.files.push(...answer.files);
          merged.seconds += answer.seconds;
          update(ids, (item) => ({ ...item, state: "done", loaded: item.file.size }));
        } catch (caught) {
          if (controller.signal.aborted) {
            update(ids, (item) => ({ ...item, state: "cancelled" }));
          } else {
            const body =
              caught instanceof ApiError ? caught.body : { code: "ERROR", message: String(caught) };
            update(ids, (item) => ({ ...item, state: "failed", error: body }));
            setError(caught);
          }
        }
        sent += 1;
        setReport({ ...merged, files: [...merged.files] });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_REQUESTS, batches.length) }, worker));
    if (controller.signal.aborted) {
      setItems((all) =>
        all.map((item) => (item.state === "waiting" ? { ...item, state: "cancelled" } : item)),
      );
    }
    setBusy(false);
    abort.current = null;
    if (sent > 0) onUploaded();
  };

  const fromInput = (input: HTMLInputElement | null) => {
    if (!input?.files) return;
    const picked = [...input.files].map((file) => ({
      file,
      path: file.webkitRelativePath || file.name,
    }));
    input.value = "";
    void start(picked.filter(({ path }) => !path.split("/").some((part) => part.startsWith("."))));
  };

  const totals = items.reduce(
    (acc, item) => ({ bytes: acc.bytes + item.file.size, loaded: acc.loaded + item.loaded }),
    { bytes: 0, loaded: 0 },
  );
  const finished = items.filter((item) => item.state === "done").length;
  const rows = report
    ? [...report.files]
        .filter((row) => !problemsOnly || row.status !== "imported")
        .sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status])
    : [];

  return (
    <section aria-labelledby="ds-upload-title">
      <h2 id="ds-upload-title">{t("ds.upload.title")}</h2>
      <DropZone testid="drop-zone" onFiles={start} onError={setError}>
        <p>{t("ds.upload.drop")}</p>
        <small>{t("ds.upload.kinds")}</small>
        <div class="ds-drop-inputs">
          <label>
            {t("ds.upload.files")}
            <input
              ref={filesInput}
              type="file"
              multiple
              accept="image/*,.zip,.txt,.caption"
              data-testid="upload-input"
              disabled={busy}
              onChange={() => fromInput(filesInput.current)}
            />
          </label>
          <label>
            {t("ds.upload.folder")}
            <input
              ref={folderInput}
              type="file"
              multiple
              // a folder picker: every file under it, with its path in webkitRelativePath
              {...{ webkitdirectory: true, directory: true }}
              data-testid="upload-folder-input"
              disabled={busy}
              onChange={() => fromInput(folderInput.current)}
            />
          </label>
        </div>
      </DropZone>

      {items.length > 0 ? (
        <div class="ds-upload-progress" data-testid="upload-progress">
          <div class="ds-row">
            <strong>
              {busy
                ? t("ds.upload.sending", { done: finished, total: items.length })
                : t("ds.upload.sent", { done: finished, total: items.length })}
            </strong>
            <span class="ds-muted">
              {formatBytes(totals.loaded)} / {formatBytes(totals.bytes)}
            </span>
            {busy ? (
              <button
                type="button"
                class="secondary outline small"
                data-testid="upload-cancel"
                onClick={() => abort.current?.abort()}
              >
                {t("common.cancel")}
              </button>
            ) : null}
          </div>
          <progress value={totals.loaded} max={totals.bytes || 1} aria-label={t("ds.upload.total")} />
          <VList
            style={{ height: `${Math.min(items.length * 44, 264)}px` }}
            class="ds-vlist"
            tabIndex={0}
            aria-label={t("ds.upload.files.list")}
          >
            {items.map((item) => (
              <div class="ds-upload-row" key={item.id} data-testid="upload-file" data-state={item.state}>
                <span class="ds-upload-name" title={item.path}>
                  {item.path}
                </span>
                <span class="ds-muted">{t(`ds.upload.state.${item.state}`)}</span>
                <progress
                  value={item.loaded}
                  max={item.file.size || 1}
                  aria-label={t("ds.upload.fileProgress", { file: item.path })}
                />
                {item.error ? (
                  <small class="ds-field-error">
                    {item.error.message}
                    {item.error.hint ? ` — ${item.error.hint}` : ""}
                  </small>
                ) : null}
              </div>
            ))}
          </VList>
        </div>
      ) : null}

      <ErrorBox error={error} />

      {report ? (
        <div class="ds-report" data-testid="upload-report">
          <h3>{t("ds.upload.report")}</h3>
          <p>
            {(["imported", "duplicate", "rejected", "skipped"] as const).map((key) => (
              <span key={key} class={`ds-status ds-status-${key}`} data-testid={`report-count-${key}`}>
                {t(`ds.upload.status.${key}`)}: {report.counts[key]}
              </span>
            ))}
          </p>
          <label>
            <input
              type="checkbox"
              checked={problemsOnly}
              onChange={(e) => setProblemsOnly((e.target as HTMLInputElement).checked)}
            />
            {t("ds.upload.problemsOnly")}
          </label>
          {rows.length > 0 ? (
            <VList
              style={{ height: `${Math.min(rows.length * 52, 360)}px` }}
              class="ds-vlist"
              tabIndex={0}
              aria-label={t("ds.upload.report")}
            >
              {rows.map((row, i) => (
                <div
                  key={`${row.name}-${i}`}
                  class="ds-report-row"
                  data-testid="report-row"
                  data-status={row.status}
                >
                  <span class={`ds-status ds-status-${row.status}`}>
                    {t(`ds.upload.status.${row.status}`)}
                  </span>
                  <span class="ds-upload-name" title={row.name}>
                    {row.name}
                  </span>
                  {row.file && row.status === "imported" ? (
                    <small class="ds-muted">→ {row.file}</small>
                  ) : null}
                  {row.reason ? <small class="ds-report-reason">{row.reason}</small> : null}
                  {row.status === "duplicate" && row.file ? (
                    <small class="ds-report-reason">{t("ds.upload.sameAs", { file: row.file })}</small>
                  ) : null}
                </div>
              ))}
            </VList>
          ) : (
            <p class="ds-muted">{t("ds.upload.noProblems")}</p>
          )}
        </div>
      ) : null}
    </section>
  );
}
