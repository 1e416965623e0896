// "Pick an epoch" for a finished training: each saved LoRA file (generate with it, download it), a grid
// job over the epochs (the grid images, zoomable), and an eval job's recommendation with its reason.
import { useEffect, useState } from "preact/hooks";
import { download, getJson, sendJson, type Job } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import {
  asApiError,
  enc,
  formatNumber,
  ImageViewer,
  isActive,
  JobImage,
  jobFilePath,
  JobProgress,
  StateBadge,
} from "../components/job-common.tsx";
import { useI18n } from "../i18n/index.ts";
import type { Checkpoint } from "./job-live.ts";

export interface SavedFile {
  file: string;
  epoch: number | null;
  step: number | null;
  final: boolean;
}

/** The LoRA files a training saved, by epoch: from its checkpoint events, else from its result's names. */
export function savedFiles(job: Job, checkpoints: Checkpoint[]): SavedFile[] {
  const files = (job.result as { files?: unknown } | null)?.files;
  const listed = Array.isArray(files) ? files.filter((f): f is string => typeof f === "string") : [];
  const byPath = new Map<string, SavedFile>();
  for (const point of checkpoints) {
    if (point.kind === "state") continue;
    byPath.set(point.path, {
      file: point.path,
      epoch: point.epoch,
      step: point.step,
      final: point.kind === "final",
    });
  }
  for (const file of listed) {
    if (byPath.has(file)) continue;
    const numbered = /-(\d{6})\.safetensors$/u.exec(file);
    byPath.set(file, {
      file,
      epoch: numbered ? Number(numbered[1]) : null,
      step: null,
      final: !numbered && !/-step\d+\.safetensors$/u.test(file),
    });
  }
  // only files the result still lists (a resumed run may have replaced some), when it lists any
  const out = [...byPath.values()].filter((f) => listed.length === 0 || listed.includes(f.file));
  return out.sort((a, b) => (a.step ?? a.epoch ?? Infinity) - (b.step ?? b.epoch ?? Infinity));
}

interface EvalResult {
  recommendation?: {
    epoch?: number | null;
    reason?: string;
    caveats?: string[];
    picks?: { signal: string; epoch: number }[];
  };
  face?: string | null;
  scores?: {
    epoch: number;
    meanLoss: number | null;
    valLoss: number | null;
    drift: number | null;
    identity: number | null;
  }[];
  grids?: string[];
  report?: { markdown: string; html: string };
}

/** Which training a grid or eval job is about. */
function trainingOf(job: Job): string | null {
  const p = job.params as { job?: unknown; target?: { job?: unknown } };
  const id = job.kind === "grid" ? p.target?.job : p.job;
  return typeof id === "string" ? id : null;
}

/** The newest grid or eval job of this training (kept current while it runs), and a way to start one. */
function useFollowUp(kind: "grid" | "eval", trainId: string) {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [starting, setStarting] = useState(false);
  const [looking, setLooking] = useState(true);
  useEffect(() => {
    let gone = false;
    setLooking(true);
    getJson<{ jobs: Job[] }>(`/api/jobs?kind=${kind}&limit=200`)
      .then((answer) => !gone && setJob(answer.jobs.find((j) => trainingOf(j) === trainId) ?? null))
      .catch((caught) => !gone && setError(caught))
      .finally(() => !gone && setLooking(false));
    return () => {
      gone = true;
    };
  }, [kind, trainId]);
  const id = job?.id;
  const active = isActive(job?.state);
  useEffect(() => {
    if (!id || !active) return;
    const timer = setInterval(() => {
      getJson<Job>(`/api/jobs/${enc(id)}`)
        .then(setJob)
        .catch(() => undefined);
    }, 1500);
    return () => clearInterval(timer);
  }, [id, active]);
  const start = async (params: Record<string, unknown>) => {
    setError(null);
    setStarting(true);
    try {
      setJob(await sendJson<Job>("/api/jobs", { kind, params }));
    } catch (caught) {
      setError(caught);
    } finally {
      setStarting(false);
    }
  };
  /** starting, looking for an earlier one, or one running: no second one now */
  const busy = starting || looking || isActive(job?.state);
  return { job, error, busy, start };
}

function generateLink(jobId: string, file: string): string {
  return `/generate?job=${enc(jobId)}&file=${enc(file)}`;
}

function FollowUpStatus({ job }: { job: Job }) {
  const { t } = useI18n();
  return (
    <div class="job-row-actions">
      <a href={`/jobs/${enc(job.id)}`} class="job-mono">
        {job.id}
      </a>
      <StateBadge state={job.state} />
      {isActive(job.state) ? <JobProgress job={job} label={t("job.progress")} /> : null}
      {job.progress?.total ? (
        <span class="job-muted">
          {job.progress.step ?? 0}/{job.progress.total}
        </span>
      ) : null}
    </div>
  );
}

export function PickEpoch({ job, checkpoints }: { job: Job; checkpoints: Checkpoint[] }) {
  const { t } = useI18n();
  const files = savedFiles(job, checkpoints);
  const grid = useFollowUp("grid", job.id);
  const evaluation = useFollowUp("eval", job.id);
  const [viewing, setViewing] = useState<{ url: string; alt: string } | null>(null);
  const [gridX, setGridX] = useState("");
  const [gridY, setGridY] = useState("");
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const open = (url: string, alt: string) => setViewing({ url, alt });

  const gridResult = grid.job?.state === "succeeded" ? (grid.job.result as { grids?: string[] }) : null;
  const evalResult = evaluation.job?.state === "succeeded" ? (evaluation.job.result as EvalResult) : null;
  const recommended = evalResult?.recommendation?.epoch ?? null;
  const recommendedFile =
    recommended === null
      ? undefined
      : (files.find((f) => f.epoch === recommended && !f.step) ??
        files.find((f) => f.epoch === recommended && f.final) ??
        files.find((f) => f.epoch === recommended));

  const save = async (file: string) => {
    setDownloadError(null);
    try {
      await download(jobFilePath(job.id, file), file.split("/").pop() ?? file);
    } catch (caught) {
      setDownloadError(caught);
    }
  };

  return (
    <section aria-labelledby="pick-title" data-testid="pick-epoch">
      <h2 id="pick-title">{t("pick.title")}</h2>
      <p class="job-muted">{t("pick.intro")}</p>
      {files.length > 0 ? (
        <div class="job-scroll">
          <table class="striped" data-testid="epoch-files">
            <thead>
              <tr>
                <th scope="col">{t("pick.epoch")}</th>
                <th scope="col">{t("pick.file")}</th>
                <th scope="col">
                  <span class="visually-hidden">{t("pick.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {files.map((f) => (
                <tr key={f.file} data-testid="epoch-row" data-file={f.file}>
                  <td>
                    {f.epoch === null ? "—" : f.epoch}
                    {f.final ? <span class="job-muted"> ({t("pick.final")})</span> : null}
                    {f === recommendedFile ? (
                      <>
                        {" "}
                        <mark>{t("pick.recommended")}</mark>
                      </>
                    ) : null}
                  </td>
                  <td class="job-mono">{f.file}</td>
                  <td>
                    <div class="job-row-actions" style={{ marginBottom: 0 }}>
                      <a
                        href={generateLink(job.id, f.file)}
                        role="button"
                        class="small"
                        data-testid="generate-link"
                        data-file={f.file}
                      >
                        {t("pick.generate")}
                      </a>
                      <button
                        type="button"
                        class="small secondary outline"
                        onClick={() => void save(f.file)}
                        aria-label={`${t("common.download")} ${f.file}`}
                        data-testid="lora-download"
                        data-file={f.file}
                      >
                        {t("common.download")}
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p>{t("pick.nofiles")}</p>
      )}
      <ErrorBox error={downloadError} />

      <article aria-labelledby="grid-title">
        <h3 id="grid-title">{t("pick.grid.title")}</h3>
        <p class="job-muted">{t("pick.grid.intro")}</p>
        <details>
          <summary>{t("pick.grid.options")}</summary>
          <div class="grid">
            <label>
              {t("pick.grid.x")}
              <input
                name="grid-x"
                value={gridX}
                placeholder="epoch=all"
                onInput={(e) => setGridX((e.target as HTMLInputElement).value)}
                aria-describedby="grid-axes-help"
              />
            </label>
            <label>
              {t("pick.grid.y")}
              <input
                name="grid-y"
                value={gridY}
                placeholder="weight=0.6,0.8,1.0"
                onInput={(e) => setGridY((e.target as HTMLInputElement).value)}
                aria-describedby="grid-axes-help"
              />
            </label>
          </div>
          <small id="grid-axes-help">{t("pick.grid.axeshelp")}</small>
        </details>
        <button
          type="button"
          onClick={() =>
            void grid.start({
              target: { job: job.id },
              ...(gridX.trim() ? { x: gridX.trim() } : {}),
              ...(gridY.trim() ? { y: gridY.trim() } : {}),
            })
          }
          disabled={grid.busy}
          aria-busy={grid.busy}
          data-testid="grid-button"
        >
          {grid.job ? t("pick.grid.again") : t("pick.grid.start")}
        </button>
        <ErrorBox error={grid.error} />
        {grid.job ? <FollowUpStatus job={grid.job} /> : null}
        {grid.job?.error ? <ErrorBox error={asApiError(grid.job.error)} /> : null}
        {gridResult?.grids?.length ? (
          <div class="job-grids">
            {gridResult.grids.map((path) => (
              <figure key={path}>
                <JobImage
                  jobId={grid.job!.id}
                  path={path}
                  alt={t("pick.grid.alt", { path })}
                  ratio={4 / 3}
                  testid="grid-image"
                  onOpen={open}
                />
                <figcaption>{path}</figcaption>
              </figure>
            ))}
          </div>
        ) : null}
      </article>

      <article aria-labelledby="eval-title">
        <h3 id="eval-title">{t("pick.eval.title")}</h3>
        <p class="job-muted">{t("pick.eval.intro")}</p>
        <button
          type="button"
          onClick={() => void evaluation.start({ job: job.id })}
          disabled={evaluation.busy}
          aria-busy={evaluation.busy}
          data-testid="eval-button"
        >
          {evaluation.job ? t("pick.eval.again") : t("pick.eval.start")}
        </button>
        <ErrorBox error={evaluation.error} />
        {evaluation.job ? <FollowUpStatus job={evaluation.job} /> : null}
        {evaluation.job?.error ? <ErrorBox error={asApiError(evaluation.job.error)} /> : null}
        {evalResult ? (
          <EvalReport
            jobId={evaluation.job!.id}
            trainId={job.id}
            result={evalResult}
            file={recommendedFile?.file ?? null}
            onOpen={open}
          />
        ) : null}
      </article>
      <ImageViewer image={viewing} onClose={() => setViewing(null)} />
    </section>
  );
}

function EvalReport({
  jobId,
  trainId,
  result,
  file,
  onOpen,
}: {
  jobId: string;
  trainId: string;
  result: EvalResult;
  file: string | null;
  onOpen: (url: string, alt: string) => void;
}) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  const rec = result.recommendation ?? {};
  const save = async (path: string) => {
    setError(null);
    try {
      await download(jobFilePath(jobId, path), path.split("/").pop() ?? path);
    } catch (caught) {
      setError(caught);
    }
  };
  const scores = result.scores ?? [];
  const has = (key: "valLoss" | "drift" | "identity" | "meanLoss") => scores.some((s) => s[key] !== null);
  return (
    <>
      <div class="job-recommend error-box" data-testid="eval-recommendation" data-epoch={rec.epoch ?? ""}>
        <strong>
          {rec.epoch === null || rec.epoch === undefined
            ? t("pick.eval.none")
            : t("pick.eval.pick", { epoch: rec.epoch })}
        </strong>
        {rec.reason ? <p data-testid="eval-reason">{rec.reason}</p> : null}
        {rec.caveats?.length ? (
          <ul>
            {rec.caveats.map((caveat) => (
              <li key={caveat}>
                <small>{caveat}</small>
              </li>
            ))}
          </ul>
        ) : null}
        {result.face ? <p class="job-muted">{result.face}</p> : null}
        {file ? (
          <a
            href={generateLink(trainId, file)}
            role="button"
            data-testid="generate-recommended"
            data-file={file}
          >
            {t("pick.eval.generate", { file })}
          </a>
        ) : null}
      </div>
      {scores.length > 0 ? (
        <div class="job-scroll">
          <table class="striped" data-testid="eval-scores">
            <thead>
              <tr>
                <th scope="col">{t("pick.epoch")}</th>
                {has("identity") ? <th scope="col">{t("pick.eval.identity")}</th> : null}
                {has("drift") ? <th scope="col">{t("pick.eval.drift")}</th> : null}
                {has("valLoss") ? <th scope="col">{t("pick.eval.val")}</th> : null}
                {has("meanLoss") ? <th scope="col">{t("pick.eval.loss")}</th> : null}
              </tr>
            </thead>
            <tbody>
              {scores.map((s) => (
                <tr key={s.epoch}>
                  <td>{s.epoch}</td>
                  {has("identity") ? <td>{formatNumber(s.identity, 3)}</td> : null}
                  {has("drift") ? <td>{formatNumber(s.drift, 4)}</td> : null}
                  {has("valLoss") ? <td>{formatNumber(s.valLoss, 4)}</td> : null}
                  {has("meanLoss") ? <td>{formatNumber(s.meanLoss, 4)}</td> : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {result.grids?.length ? (
        <div class="job-grids">
          {result.grids.map((path) => (
            <figure key={path}>
              <JobImage
                jobId={jobId}
                path={path}
                alt={t("pick.grid.alt", { path })}
                ratio={4 / 3}
                testid="eval-grid-image"
                onOpen={onOpen}
              />
              <figcaption>{path}</figcaption>
            </figure>
          ))}
        </div>
      ) : null}
      {result.report ? (
        <div class="job-row-actions">
          <button
            type="button"
            class="secondary outline small"
            onClick={() => void save(result.report!.html)}
            data-testid="eval-report-html"
          >
            {t("pick.eval.html")}
          </button>
          <button
            type="button"
            class="secondary outline small"
            onClick={() => void save(result.report!.markdown)}
            data-testid="eval-report-md"
          >
            {t("pick.eval.md")}
          </button>
        </div>
      ) : null}
      <ErrorBox error={error} />
    </>
  );
}
