// The run page (/jobs/:id): a job's state, timings and error; for a training the live loss chart, speed,
// ETA and memory, the samples of each epoch as they arrive, validation loss and the log; Cancel and
// Resume; when a training is done, picking an epoch (grid, eval, generate) and every file to download.
import { useRoute } from "preact-iso";
import { useEffect, useRef, useState } from "preact/hooks";
import { getJson, sendJson, type Job } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import {
  asApiError,
  enc,
  formatDuration,
  formatNumber,
  formatTime,
  kindName,
  ImageViewer,
  isActive,
  JobImage,
  JobProgress,
  StateBadge,
} from "../components/job-common.tsx";
import { ema, LossChart } from "../components/loss-chart.tsx";
import { useI18n } from "../i18n/index.ts";
import { JobFiles } from "./job-files.tsx";
import { useJobLive, type Live, type LogLine, type SampleImage } from "./job-live.ts";
import { PickEpoch } from "./job-pick.tsx";

interface JobRecord extends Job {
  max_attempts?: number;
}

/** The sample prompts of a train job's params: text without its --options, and the --w/--h ratio. */
export function samplePrompts(text: unknown): { prompt: string; ratio: number }[] {
  if (typeof text !== "string") return [];
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const w = Number(/--w\s+(\d+)/u.exec(line)?.[1]);
      const h = Number(/--h\s+(\d+)/u.exec(line)?.[1]);
      return { prompt: line.split(/\s--\w/u)[0]!.trim(), ratio: w > 0 && h > 0 ? w / h : 1 };
    });
}

export default function JobPage() {
  const { t, lang } = useI18n();
  const { params } = useRoute();
  const id = params.id ?? "";
  const [job, setJob] = useState<JobRecord | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState<"cancel" | "resume" | null>(null);
  const [generation, setGeneration] = useState(0);
  const [filesKey, setFilesKey] = useState(0);

  const reload = () =>
    getJson<JobRecord>(`/api/jobs/${enc(id)}`)
      .then((record) => {
        setJob(record);
        setLoadError(null);
      })
      .catch(setLoadError);

  useEffect(() => {
    setJob(null);
    void reload();
  }, [id]);

  const { live, version } = useJobLive(id, generation, (ended) => {
    if (ended) setJob(ended);
    setFilesKey((k) => k + 1);
  });

  // the record's attempts and timings follow the stream's state changes
  useEffect(() => {
    if (live.state) void reload();
  }, [live.state, live.attempt]);
  // and its run time while it runs
  const active = job ? isActive(job.state) : false;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => void reload(), 5000);
    return () => clearInterval(timer);
  }, [id, active]);
  // new files appear with each checkpoint and sample
  useEffect(() => {
    if (live.checkpoints.length > 0) setFilesKey((k) => k + 1);
  }, [live.checkpoints.length]);

  const act = async (what: "cancel" | "resume") => {
    setBusy(what);
    setActionError(null);
    try {
      const after = await sendJson<JobRecord>(`/api/jobs/${enc(id)}/${what}`, {});
      setJob(after);
      if (what === "resume") setGeneration((g) => g + 1);
    } catch (caught) {
      setActionError(caught);
    } finally {
      setBusy(null);
    }
  };

  if (!job) {
    return loadError ? (
      <>
        <h1>{t("job.title")}</h1>
        <ErrorBox error={loadError} />
        <p>
          <a href="/jobs">{t("job.back")}</a>
        </p>
      </>
    ) : (
      <p aria-busy="true">{t("common.loading")}</p>
    );
  }

  const state = job.state;
  const isTrain = job.kind === "train";
  const showLive = (isTrain && isActive(state)) || live.loss.steps.length > 0;
  const p = job.params as Record<string, unknown>;

  return (
    <>
      <nav aria-label={t("job.breadcrumb")}>
        <ul>
          <li>
            <a href="/jobs">{t("nav.jobs")}</a>
          </li>
          <li class="job-mono">{job.id}</li>
        </ul>
      </nav>
      <hgroup>
        <h1>{t("job.heading", { kind: kindName(job.kind, t) })}</h1>
        <p>
          <StateBadge state={state} /> {job.stage ? <span class="job-muted">· {job.stage}</span> : null}
          {job.cancel_requested && isActive(state) ? (
            <span class="job-muted"> · {t("job.cancelling")}</span>
          ) : null}
        </p>
      </hgroup>

      <dl class="job-facts" data-testid="job-facts">
        {isTrain ? (
          <>
            <Fact label={t("job.dataset")} value={String(p.dataset ?? "—")} />
            <Fact label={t("job.model")} value={String(p.model ?? "—")} />
            {p.preset ? <Fact label={t("job.preset")} value={String(p.preset)} /> : null}
          </>
        ) : null}
        <Fact
          label={t("job.attempts")}
          value={job.max_attempts ? `${job.attempts} / ${job.max_attempts}` : String(job.attempts)}
          testid="job-attempts"
        />
        <Fact label={t("job.created")} value={formatTime(job.created_at, lang)} />
        <Fact label={t("job.started")} value={formatTime(job.started_at, lang)} />
        <Fact label={t("job.finished")} value={formatTime(job.finished_at, lang)} />
        <Fact label={t("job.waited")} value={formatDuration(job.timings.wait_s)} />
        <Fact label={t("job.ran")} value={formatDuration(job.timings.run_s)} />
      </dl>

      {job.error ? <ErrorBox error={asApiError(job.error)} /> : null}
      {!job.error && live.error && isActive(state) ? (
        <>
          <ErrorBox error={asApiError(live.error)} />
          {live.error.retrying ? <p class="job-muted">{t("job.retrying")}</p> : null}
        </>
      ) : null}

      <div class="job-row-actions">
        {isActive(state) ? (
          <button
            type="button"
            class="secondary"
            onClick={() => void act("cancel")}
            disabled={busy !== null || job.cancel_requested}
            aria-busy={busy === "cancel"}
            data-testid="cancel-button"
          >
            {job.cancel_requested ? t("job.cancelling") : t("job.cancel")}
          </button>
        ) : null}
        {state === "failed" || state === "cancelled" ? (
          <button
            type="button"
            onClick={() => void act("resume")}
            disabled={busy !== null}
            aria-busy={busy === "resume"}
            data-testid="resume-button"
          >
            {isTrain ? t("job.resume.train") : t("job.resume")}
          </button>
        ) : null}
        {isTrain && state === "succeeded" ? (
          <a href="#pick-title" class="secondary">
            {t("job.topick")}
          </a>
        ) : null}
      </div>
      <ErrorBox error={actionError} />

      {showLive ? <TrainingLive live={live} version={version} job={job} /> : null}
      {!showLive && isActive(state) ? (
        <div class="job-row-actions" data-testid="job-progress">
          <JobProgress job={job} label={t("job.progress")} />
          {job.progress?.total ? (
            <span>
              {job.progress.step ?? 0}/{job.progress.total}
            </span>
          ) : null}
        </div>
      ) : null}

      {isTrain ? (
        <Samples
          jobId={job.id}
          samples={live.samples}
          prompts={samplePrompts(p.sample_prompts)}
          active={isActive(state)}
        />
      ) : null}
      {live.validation.length > 0 ? <ValidationTable live={live} /> : null}

      {isTrain && state === "succeeded" ? <PickEpoch job={job} checkpoints={live.checkpoints} /> : null}
      {!isTrain && state === "succeeded" ? <ResultView job={job} /> : null}

      <section aria-labelledby="log-title">
        <h2 id="log-title">{t("job.log")}</h2>
        <LogView lines={live.logs} version={version} />
      </section>

      <section aria-labelledby="files-title">
        <h2 id="files-title">{t("job.files")}</h2>
        <JobFiles jobId={job.id} refresh={filesKey} />
      </section>
    </>
  );
}

function Fact({ label, value, testid }: { label: string; value: string; testid?: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testid}>{value}</dd>
    </div>
  );
}

function TrainingLive({ live, version, job }: { live: Live; version: number; job: JobRecord }) {
  const { t } = useI18n();
  const last = live.last;
  const running = job.state === "running";
  const eta = last && last.it_per_s > 0 ? (last.total_steps - last.step) / last.it_per_s : null;
  const loss = live.loss.loss;
  const smooth = loss.length > 0 ? ema(loss, 0.9)[loss.length - 1] : null;
  const phase = live.phase && running && live.phase.name !== "train" ? live.phase : null;
  return (
    <section aria-labelledby="live-title">
      <h2 id="live-title">{t("job.training")}</h2>
      <div class="job-row-actions">
        <progress
          class="job-progress"
          style={{ flex: "1 1 12rem" }}
          value={last?.step ?? 0}
          max={last?.total_steps || 1}
          aria-label={t("job.progress")}
        />
        <strong data-testid="step-counter" data-step={last?.step ?? 0} data-total={last?.total_steps ?? 0}>
          {t("job.step", { step: last?.step ?? 0, total: last?.total_steps ?? "?" })}
        </strong>
      </div>
      {/* always there (empty between phases), so the chart below never moves */}
      <p class="job-muted job-phase" data-testid="job-phase" aria-live="polite">
        {phase
          ? `${t(`phase.${phase.name}`)}${phase.total ? ` ${phase.current ?? 0}/${phase.total}` : ""}`
          : ""}
      </p>
      <dl class="job-facts" aria-live="off">
        <Fact label={t("job.epoch")} value={last ? String(last.epoch) : "—"} />
        <Fact label={t("chart.loss")} value={formatNumber(last?.loss)} testid="stat-loss" />
        <Fact label={t("chart.ema")} value={formatNumber(smooth)} />
        <Fact label={t("chart.lr")} value={formatNumber(last?.lr)} />
        <Fact label={t("job.itps")} value={last ? last.it_per_s.toFixed(2) : "—"} testid="stat-itps" />
        <Fact label={t("job.imgps")} value={last ? last.images_per_s.toFixed(2) : "—"} />
        <Fact label={t("job.eta")} value={running ? formatDuration(eta) : "—"} testid="stat-eta" />
        <Fact label={t("job.elapsed")} value={formatDuration(last?.elapsed_s)} />
        <Fact
          label={t("job.memory")}
          value={
            !last ? "—" : last.memory_mb !== null ? `${Math.round(last.memory_mb)} MiB` : t("job.memory.none")
          }
          testid="stat-memory"
        />
      </dl>
      <LossChart data={live.loss} validation={live.validation} version={version} />
    </section>
  );
}

/** One column per sampling (epoch, step), one row per prompt; boxes keep the prompt's --w/--h ratio. */
function Samples({
  jobId,
  samples,
  prompts,
  active,
}: {
  jobId: string;
  samples: SampleImage[];
  prompts: { prompt: string; ratio: number }[];
  active: boolean;
}) {
  const { t } = useI18n();
  const [viewing, setViewing] = useState<{ url: string; alt: string } | null>(null);
  // while it runs, an empty column holds the place of the first samples: nothing moves when they come
  if (samples.length === 0 && (!active || prompts.length === 0)) return null;
  const columns: (number | null)[] = [...new Set(samples.map((s) => s.step))].sort((a, b) => a - b);
  if (columns.length === 0) columns.push(null);
  const rows = Math.max(prompts.length, ...samples.map((s) => s.prompt_index + 1));
  const at = new Map(samples.map((s) => [`${s.step}:${s.prompt_index}`, s]));
  const epochOf = (step: number | null) => samples.find((s) => s.step === step)?.epoch ?? null;
  const multiplePerEpoch = new Set(columns.map(epochOf)).size !== columns.length;
  return (
    <section aria-labelledby="samples-title">
      <h2 id="samples-title">{t("job.samples")}</h2>
      <div class="job-samples" data-testid="samples">
        <table>
          <thead>
            <tr>
              <th scope="col" class="job-prompt">
                {t("job.prompt")}
              </th>
              {columns.map((step) => {
                const epoch = epochOf(step);
                if (step === null || epoch === null) {
                  return (
                    <th scope="col" key="waiting" class="job-muted" data-testid="samples-waiting">
                      {t("job.samples.wait")}
                    </th>
                  );
                }
                return (
                  <th scope="col" key={step} data-testid="sample-epoch" data-epoch={epoch}>
                    {epoch === 0 ? t("job.before") : t("job.epochn", { epoch })}
                    {multiplePerEpoch ? <small class="job-muted"> · {t("job.stepn", { step })}</small> : null}
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {Array.from({ length: rows }, (_, index) => {
              const prompt = prompts[index];
              return (
                <tr key={index}>
                  <th scope="row" class="job-prompt">
                    {prompt?.prompt || `#${index + 1}`}
                  </th>
                  {columns.map((step) => {
                    const sample = at.get(`${step}:${index}`);
                    const alt = t("job.sample.alt", {
                      epoch: epochOf(step) ?? "",
                      prompt: prompt?.prompt || `#${index + 1}`,
                    });
                    return (
                      <td key={step ?? "waiting"}>
                        <JobImage
                          jobId={jobId}
                          path={sample?.path ?? null}
                          alt={alt}
                          ratio={prompt?.ratio ?? 1}
                          testid="sample-image"
                          onOpen={(url, text) => setViewing({ url, alt: text })}
                        />
                      </td>
                    );
                  })}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <ImageViewer image={viewing} onClose={() => setViewing(null)} />
    </section>
  );
}

function ValidationTable({ live }: { live: Live }) {
  const { t } = useI18n();
  const rows = [...live.validation].sort((a, b) => a.step - b.step);
  return (
    <section aria-labelledby="val-title">
      <h2 id="val-title">{t("job.validation")}</h2>
      <div class="job-scroll">
        <table class="striped" data-testid="validation">
          <thead>
            <tr>
              <th scope="col">{t("job.epoch")}</th>
              <th scope="col">{t("job.stepcol")}</th>
              <th scope="col">{t("chart.val")}</th>
              <th scope="col">{t("job.valimages")}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.step}>
                <td>{row.epoch === 0 ? t("job.before") : row.epoch}</td>
                <td>{row.step}</td>
                <td>{formatNumber(row.loss)}</td>
                <td>{row.images}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

const MAX_LOG_LINES = 1000;

function LogView({ lines, version }: { lines: LogLine[]; version: number }) {
  const { t, lang } = useI18n();
  const ref = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  useEffect(() => {
    const pre = ref.current;
    if (pre && stick.current) pre.scrollTop = pre.scrollHeight;
  }, [version]);
  if (lines.length === 0) return <p class="job-muted">{t("job.log.none")}</p>;
  const shown = lines.slice(-MAX_LOG_LINES);
  return (
    <pre
      class="job-log"
      ref={ref}
      tabIndex={0}
      aria-label={t("job.log")}
      data-testid="job-log"
      onScroll={(e) => {
        const pre = e.currentTarget;
        stick.current = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      }}
    >
      {lines.length > shown.length ? (
        <span class="job-muted">
          {t("job.log.cut", { n: lines.length - shown.length })}
          {"\n"}
        </span>
      ) : null}
      {shown.map((line, i) => (
        <span key={i} class={`log-${line.level}`}>
          {line.at ? `${new Date(line.at).toLocaleTimeString(lang === "zh" ? "zh-CN" : "en")} ` : ""}
          {line.level !== "info" ? `[${line.level}] ` : ""}
          {line.message}
          {"\n"}
        </span>
      ))}
    </pre>
  );
}

/** Another kind's result: its images (grids, generated images) and the rest as JSON. */
function ResultView({ job }: { job: Job }) {
  const { t } = useI18n();
  const [viewing, setViewing] = useState<{ url: string; alt: string } | null>(null);
  const result = (job.result ?? {}) as Record<string, unknown>;
  const images: string[] = [];
  for (const value of Object.values(result)) {
    if (!Array.isArray(value)) continue;
    for (const item of value) {
      if (typeof item === "string" && /\.(png|jpe?g|webp)$/iu.test(item)) images.push(item);
    }
  }
  return (
    <section aria-labelledby="result-title">
      <h2 id="result-title">{t("job.result")}</h2>
      {images.length > 0 ? (
        <div class="job-grids">
          {images.slice(0, 48).map((path) => (
            <figure key={path}>
              <JobImage
                jobId={job.id}
                path={path}
                alt={path}
                ratio={job.kind === "gen" ? 1 : 4 / 3}
                testid="result-image"
                onOpen={(url, alt) => setViewing({ url, alt })}
              />
              <figcaption>{path}</figcaption>
            </figure>
          ))}
        </div>
      ) : null}
      <details>
        <summary>{t("job.result.json")}</summary>
        <pre class="job-log">{JSON.stringify(job.result, null, 2)}</pre>
      </details>
      <ImageViewer image={viewing} onClose={() => setViewing(null)} />
    </section>
  );
}
