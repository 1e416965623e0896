// The jobs list (/jobs): yours (everyone's for an admin who asks), filtered by state and kind (kept in the
// URL), refreshed every few seconds while any is queued or running; each links to its run page.
import { useLocation } from "preact-iso";
import { useEffect, useState } from "preact/hooks";
import { getJson, type Job } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import {
  enc,
  formatTime,
  isActive,
  JOB_STATES,
  JobProgress,
  kindName,
  StateBadge,
} from "../components/job-common.tsx";
import { useI18n } from "../i18n/index.ts";
import type { Me } from "./signin.tsx";

const REFRESH_MS = 3000;

export default function JobsPage() {
  const { t, lang } = useI18n();
  const { query, path, route } = useLocation();
  const state = query.state ?? "";
  const kind = query.kind ?? "";
  const all = query.all === "1";
  const [me, setMe] = useState<Me | null>(null);
  const [kinds, setKinds] = useState<string[]>([]);
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    getJson<Me>("/api/me")
      .then(setMe)
      .catch(() => undefined);
    getJson<{ kinds: { name: string }[] }>("/api/kinds")
      .then((answer) => setKinds(answer.kinds.map((k) => k.name).sort()))
      .catch(() => undefined);
  }, []);

  const admin = me?.role === "admin";
  const search = new URLSearchParams({ limit: "200" });
  if (state) search.set("state", state);
  if (kind) search.set("kind", kind);
  if (all && admin) search.set("all", "1");
  const url = `/api/jobs?${search.toString()}`;

  useEffect(() => {
    let gone = false;
    getJson<{ jobs: Job[] }>(url)
      .then((answer) => {
        if (gone) return;
        setJobs(answer.jobs);
        setError(null);
      })
      .catch((caught) => !gone && setError(caught));
    return () => {
      gone = true;
    };
  }, [url, tick]);

  const anyActive = (jobs ?? []).some((job) => isActive(job.state));
  useEffect(() => {
    if (!anyActive) return;
    const timer = setTimeout(() => setTick((n) => n + 1), REFRESH_MS);
    return () => clearTimeout(timer);
  }, [anyActive, jobs]);

  const setFilter = (key: "state" | "kind" | "all", value: string) => {
    const next = new URLSearchParams(query);
    if (value) next.set(key, value);
    else next.delete(key);
    const text = next.toString();
    route(text ? `${path}?${text}` : path, true);
  };

  return (
    <>
      <h1>{t("jobs.title")}</h1>
      <form class="grid" onSubmit={(e) => e.preventDefault()} aria-label={t("jobs.filters")}>
        <label>
          {t("jobs.state")}
          <select
            name="state"
            value={state}
            onChange={(e) => setFilter("state", (e.target as HTMLSelectElement).value)}
            data-testid="jobs-state-filter"
          >
            <option value="">{t("jobs.any")}</option>
            {JOB_STATES.map((s) => (
              <option key={s} value={s}>
                {t(`state.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("jobs.kind")}
          <select
            name="kind"
            value={kind}
            onChange={(e) => setFilter("kind", (e.target as HTMLSelectElement).value)}
            data-testid="jobs-kind-filter"
          >
            <option value="">{t("jobs.any")}</option>
            {(kinds.includes(kind) || !kind ? kinds : [...kinds, kind]).map((k) => (
              <option key={k} value={k}>
                {kindName(k, t)}
              </option>
            ))}
          </select>
        </label>
        {admin ? (
          <label class="jobs-all">
            <input
              type="checkbox"
              name="all"
              checked={all}
              onChange={(e) => setFilter("all", (e.target as HTMLInputElement).checked ? "1" : "")}
              data-testid="jobs-all"
            />
            {t("jobs.all")}
          </label>
        ) : null}
      </form>
      <div class="job-row-actions">
        <button
          type="button"
          class="secondary outline small"
          onClick={() => setTick((n) => n + 1)}
          data-testid="jobs-refresh"
        >
          {t("jobs.refresh")}
        </button>
        {anyActive ? <small class="job-muted">{t("jobs.auto")}</small> : null}
        <a href="/train" class="small">
          {t("jobs.newtrain")}
        </a>
      </div>
      <ErrorBox error={error} />
      {jobs === null ? (
        error ? null : (
          <p aria-busy="true">{t("common.loading")}</p>
        )
      ) : jobs.length === 0 ? (
        <p data-testid="jobs-empty">{state || kind ? t("jobs.nomatch") : t("jobs.none")}</p>
      ) : (
        <div class="job-scroll">
          <table class="striped jobs-table" data-testid="jobs-table">
            <thead>
              <tr>
                <th scope="col">{t("jobs.job")}</th>
                <th scope="col">{t("jobs.kind")}</th>
                <th scope="col">{t("jobs.state")}</th>
                <th scope="col">{t("jobs.stage")}</th>
                <th scope="col">{t("jobs.progress")}</th>
                <th scope="col">{t("jobs.created")}</th>
                {all && admin ? <th scope="col">{t("jobs.owner")}</th> : null}
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => (
                <tr key={job.id} data-testid="job-row" data-job-id={job.id} data-state={job.state}>
                  <td>
                    <a href={`/jobs/${enc(job.id)}`} class="job-id" data-testid="job-link">
                      {job.id}
                    </a>
                  </td>
                  <td>{kindName(job.kind, t)}</td>
                  <td>
                    <StateBadge state={job.state} />
                  </td>
                  <td class="job-muted">{job.stage ?? "—"}</td>
                  <td>
                    <div class="jobs-progress">
                      <JobProgress job={job} label={t("jobs.progress.of", { id: job.id })} />
                      {job.progress?.total ? (
                        <small>
                          {job.progress.step ?? 0}/{job.progress.total}
                        </small>
                      ) : null}
                    </div>
                  </td>
                  <td class="jobs-created">
                    <time dateTime={job.created_at}>{formatTime(job.created_at, lang)}</time>
                  </td>
                  {all && admin ? <td class="job-mono">{job.owner}</td> : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
