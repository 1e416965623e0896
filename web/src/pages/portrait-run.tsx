// A portrait job followed live: the seven stages with the current one's progress (the job's stage and
// progress, refreshed on each event of its stream), then each style's portraits with their scores, the
// photos left out and why, the seconds per stage, and the LoRA and report.html.
import { useEffect, useState } from "preact/hooks";
import { download, followJob, getJson, request, type Job } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import {
  asApiError,
  FINAL_STATES,
  ImageViewer,
  JobImage,
  JobProgress,
  jobFilePath,
  StateBadge,
} from "../components/job-common.tsx";
import { useI18n } from "../i18n/index.ts";
import "../i18n/portrait.ts";

export const STAGES = ["import", "select", "prepare", "train", "generate", "rank", "report"] as const;

export interface PortraitStyleInfo {
  name: string;
  title: string;
  title_zh: string;
  width: number;
  height: number;
  sampler: string;
  steps: number;
}

interface Ranked {
  file: string;
  score: number;
  gate: string;
}

interface PortraitResult {
  lora: string;
  report: string;
  photos: { kept: { file: string }[]; dropped: { file: string; reason: string; detail: string }[] };
  styles: { name: string; title: string; title_zh: string; portraits: Ranked[] }[];
  seconds: Record<string, number>;
}

const POLL_MS = 1500;

/** The job, fetched again on each event of its stream (throttled to one fetch at a time). */
function useFollowedJob(id: string): Job | null {
  const [job, setJob] = useState<Job | null>(null);
  useEffect(() => {
    let busy = false;
    let again = false;
    let stopped = false;
    const refresh = async (): Promise<void> => {
      if (busy) return void (again = true);
      busy = true;
      try {
        const next = await getJson<Job>(`/api/jobs/${encodeURIComponent(id)}`);
        if (!stopped) setJob(next);
        if (FINAL_STATES.includes(next.state)) clearInterval(poll);
      } catch {
        // the next event or the end fetches again
      } finally {
        busy = false;
        if (again && !stopped) {
          again = false;
          void refresh();
        }
      }
    };
    // and every few seconds while it runs: a stream cut off (a proxy, a sleeping laptop) misses nothing
    const poll = setInterval(() => void refresh(), POLL_MS);
    void refresh();
    const stop = followJob(
      id,
      (event) => {
        if (event.type !== "log" && event.type !== "engine") void refresh();
      },
      (ended) => (ended ? setJob(ended) : void refresh()),
    );
    return () => {
      stopped = true;
      clearInterval(poll);
      stop();
    };
  }, [id]);
  return job;
}

function StageList({ job }: { job: Job }) {
  const { t } = useI18n();
  const done = job.state === "succeeded";
  const current = STAGES.indexOf((job.stage ?? "") as (typeof STAGES)[number]);
  const seconds = (job.result as PortraitResult | null)?.seconds;
  return (
    <ol class="pt-stages" aria-label={t("pt.stages")} data-testid="pt-stages">
      {STAGES.map((stage, index) => {
        const state = done || index < current ? "done" : index === current ? "now" : "waiting";
        const name = t(`pt.stage.${stage}`);
        return (
          <li key={stage} class={`pt-stage pt-stage-${state}`} data-stage={stage} data-state={state}>
            <span class="pt-stage-name">{name}</span>
            <small class="pt-stage-state">
              {seconds?.[stage] !== undefined
                ? t("pt.seconds", { seconds: seconds[stage] })
                : t(`pt.stage.${state}`)}
            </small>
            {state === "now" && job.state === "running" ? (
              <JobProgress job={job} label={t("pt.stage.progress", { stage: name })} />
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}

/**
 * report.html as a page the browser can open: its pictures are job files behind the token, so each relative
 * src is fetched with it and replaced by an object URL (the page itself opens from a blob, where relative
 * links would resolve nowhere).
 */
async function reportUrl(jobId: string, report: string): Promise<string> {
  const folder = report.includes("/") ? report.slice(0, report.lastIndexOf("/") + 1) : "";
  const html = await (await request(jobFilePath(jobId, report))).text();
  const page = new DOMParser().parseFromString(html, "text/html");
  await Promise.all(
    [...page.querySelectorAll("img[src]")].map(async (img) => {
      const src = img.getAttribute("src") ?? "";
      if (/^[a-z][\w+.-]*:/i.test(src) || src.startsWith("/")) return;
      const blob = await (await request(jobFilePath(jobId, folder + decodeURIComponent(src)))).blob();
      img.setAttribute("src", URL.createObjectURL(blob));
    }),
  );
  const text = "<!doctype html>\n" + page.documentElement.outerHTML;
  return URL.createObjectURL(new Blob([text], { type: "text/html" }));
}

function Results({ job, result }: { job: Job; result: PortraitResult }) {
  const { t, lang } = useI18n();
  const [viewing, setViewing] = useState<{ url: string; alt: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const openReport = async () => {
    try {
      window.open(await reportUrl(job.id, result.report), "_blank", "noopener");
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <>
      <section aria-labelledby="pt-results-title">
        <h2 id="pt-results-title">{t("pt.results")}</h2>
        {result.styles.map((style) => {
          const title = lang === "zh" ? style.title_zh : style.title;
          return (
            <article key={style.name} class="pt-style" data-testid="pt-style" data-style={style.name}>
              <h3>{title}</h3>
              <ul class="pt-grid">
                {style.portraits.map((portrait, index) => (
                  <li key={portrait.file} data-testid="pt-portrait">
                    <JobImage
                      jobId={job.id}
                      path={portrait.file}
                      alt={t("pt.portrait.alt", { style: title, rank: index + 1 })}
                      onOpen={(url, alt) => setViewing({ url, alt })}
                    />
                    <small data-testid="pt-score" data-score={portrait.score}>
                      {t("pt.rank", { rank: index + 1 })} ·{" "}
                      {t("pt.score", { score: portrait.score.toFixed(3) })}
                    </small>
                  </li>
                ))}
              </ul>
            </article>
          );
        })}
      </section>
      <section aria-labelledby="pt-dropped-title">
        <h2 id="pt-dropped-title">{t("pt.dropped")}</h2>
        <p class="ds-muted">{t("pt.kept", { count: result.photos.kept.length })}</p>
        {result.photos.dropped.length === 0 ? (
          <p>{t("pt.dropped.none")}</p>
        ) : (
          <ul data-testid="pt-dropped">
            {result.photos.dropped.map((photo) => (
              <li key={photo.file} data-file={photo.file} data-reason={photo.reason}>
                <code>{photo.file}</code>: {t(`pt.reason.${photo.reason}`)}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="pt-files-title">
        <h2 id="pt-files-title">{t("pt.downloads")}</h2>
        <div class="pt-actions">
          <button
            type="button"
            data-testid="pt-lora"
            onClick={() =>
              void download(jobFilePath(job.id, result.lora), result.lora.split("/").pop()!).catch(setError)
            }
          >
            {t("pt.lora")}
          </button>
          <button type="button" class="secondary" data-testid="pt-report" onClick={() => void openReport()}>
            {t("pt.report")}
          </button>
        </div>
        <ErrorBox error={error} />
      </section>
      <ImageViewer image={viewing} onClose={() => setViewing(null)} />
    </>
  );
}

export function PortraitRun({ id, onAgain }: { id: string; onAgain: () => void }) {
  const { t } = useI18n();
  const job = useFollowedJob(id);
  if (!job) return <p aria-busy="true">{t("common.loading")}</p>;
  const result = job.state === "succeeded" ? (job.result as PortraitResult) : null;
  const seconds = result?.seconds;
  return (
    <div data-testid="pt-run" data-state={job.state}>
      <div class="ds-row">
        <strong>{t("pt.job", { id: job.id })}</strong>
        <StateBadge state={job.state} />
        <a href={`/jobs/${encodeURIComponent(job.id)}`}>{t("pt.openjob")}</a>
        {FINAL_STATES.includes(job.state) ? (
          <button type="button" class="secondary outline small" onClick={onAgain}>
            {t("pt.again")}
          </button>
        ) : null}
      </div>
      <StageList job={job} />
      {job.error ? (
        <>
          <p>{t("pt.failed")}</p>
          <ErrorBox error={asApiError(job.error)} />
        </>
      ) : null}
      {result ? <Results job={job} result={result} /> : null}
      {seconds ? (
        <section aria-labelledby="pt-timings-title">
          <h2 id="pt-timings-title">{t("pt.timings")}</h2>
          <table class="pt-timings" data-testid="pt-timings">
            <tbody>
              {[...STAGES, "total" as const].map((stage) => (
                <tr key={stage}>
                  <th scope="row">{stage === "total" ? t("pt.total") : t(`pt.stage.${stage}`)}</th>
                  <td>{t("pt.seconds", { seconds: seconds[stage] ?? 0 })}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </div>
  );
}
