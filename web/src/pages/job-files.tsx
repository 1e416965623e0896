// Every file of a job with a download button each (LoRA files first; the resumable state's files folded).
import { useEffect, useState } from "preact/hooks";
import { download, getJson } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import { enc, formatBytes, jobFilePath } from "../components/job-common.tsx";
import { useI18n } from "../i18n/index.ts";

export interface JobFile {
  path: string;
  bytes: number;
  modified_at: string;
  kind: "lora" | "state" | "image" | "log" | "report" | "other";
}

const ORDER: JobFile["kind"][] = ["lora", "report", "image", "log", "other", "state"];

export function JobFiles({ jobId, refresh }: { jobId: string; refresh: number }) {
  const { t } = useI18n();
  const [files, setFiles] = useState<JobFile[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [showState, setShowState] = useState(false);
  useEffect(() => {
    let gone = false;
    getJson<{ files: JobFile[] }>(`/api/jobs/${enc(jobId)}/files`)
      .then((answer) => !gone && setFiles(answer.files))
      .catch((caught) => !gone && setError(caught));
    return () => {
      gone = true;
    };
  }, [jobId, refresh]);

  const save = async (file: JobFile) => {
    setBusy(file.path);
    setError(null);
    try {
      await download(jobFilePath(jobId, file.path), file.path.split("/").pop() ?? "file");
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(null);
    }
  };

  if (!files) return error ? <ErrorBox error={error} /> : <p aria-busy="true">{t("common.loading")}</p>;
  const states = files.filter((f) => f.kind === "state");
  const shown = files
    .filter((f) => showState || f.kind !== "state")
    .sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind) || a.path.localeCompare(b.path));
  return (
    <>
      {files.length === 0 ? <p class="job-muted">{t("files.none")}</p> : null}
      {shown.length > 0 ? (
        <div class="job-scroll">
          <table class="striped job-files" data-testid="file-list">
            <thead>
              <tr>
                <th scope="col">{t("files.path")}</th>
                <th scope="col">{t("files.kind")}</th>
                <th scope="col">{t("files.size")}</th>
                <th scope="col">
                  <span class="visually-hidden">{t("common.download")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((file) => (
                <tr key={file.path}>
                  <td class="job-mono">{file.path}</td>
                  <td>{t(`files.kind.${file.kind}`)}</td>
                  <td>{formatBytes(file.bytes)}</td>
                  <td>
                    <button
                      type="button"
                      class="small secondary outline"
                      onClick={() => void save(file)}
                      aria-busy={busy === file.path}
                      disabled={busy === file.path}
                      aria-label={`${t("common.download")} ${file.path}`}
                      data-testid="file-download"
                      data-path={file.path}
                    >
                      {t("common.download")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {states.length > 0 ? (
        <label>
          <input
            type="checkbox"
            role="switch"
            checked={showState}
            onChange={(e) => setShowState((e.target as HTMLInputElement).checked)}
          />
          {t("files.showstate", { n: states.length })}
        </label>
      ) : null}
      <ErrorBox error={error} />
    </>
  );
}
