// The user's previous generations (GET /api/jobs?kind=gen), newest first: open one's images, or take
// its settings back into the form.
import type { Job } from "../api.ts";
import { useI18n } from "../i18n/index.ts";
import { numberParam } from "./generate-result.tsx";

export function GenHistory({
  jobs,
  currentId,
  onOpen,
  onReuse,
}: {
  jobs: Job[] | null;
  currentId: string | null;
  onOpen: (job: Job) => void;
  onReuse: (job: Job) => void;
}) {
  const { t, lang } = useI18n();
  const when = (iso: string) =>
    new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-US", {
      dateStyle: "short",
      timeStyle: "short",
    });
  return (
    <section aria-labelledby="gen-history-title" data-testid="gen-history">
      <h2 id="gen-history-title">{t("gen.history.title")}</h2>
      {jobs === null ? (
        <p aria-busy="true">{t("common.loading")}</p>
      ) : jobs.length === 0 ? (
        <p>{t("gen.history.empty")}</p>
      ) : (
        <ul style={LIST}>
          {jobs.map((job) => {
            const prompt = typeof job.params.prompt === "string" ? job.params.prompt : "";
            const count = numberParam(job, "batch_count", 1) * numberParam(job, "batch_size", 1);
            const summary = `gen-history-${job.id}`;
            return (
              <li
                key={job.id}
                style={job.id === currentId ? { ...ITEM, ...CURRENT } : ITEM}
                aria-current={job.id === currentId ? "true" : undefined}
                data-testid="gen-history-item"
              >
                <div id={summary}>
                  <small>
                    <strong>{t(`state.${job.state}`)}</strong>
                    {" · "}
                    <time dateTime={job.created_at}>{when(job.created_at)}</time>
                    {" · "}
                    {t("gen.size.value", {
                      width: numberParam(job, "width", 0),
                      height: numberParam(job, "height", 0),
                    })}
                    {" · "}
                    {t("gen.history.count", { n: count })}
                  </small>
                  <p style={PROMPT}>{prompt || t("gen.history.noprompt")}</p>
                </div>
                <div style={ACTIONS}>
                  <button
                    type="button"
                    class="small outline"
                    data-testid="gen-history-open"
                    aria-describedby={summary}
                    disabled={job.id === currentId}
                    onClick={() => onOpen(job)}
                  >
                    {t("gen.history.open")}
                  </button>
                  <button
                    type="button"
                    class="small secondary outline"
                    data-testid="gen-history-reuse"
                    aria-describedby={summary}
                    onClick={() => onReuse(job)}
                  >
                    {t("gen.history.reuse")}
                  </button>
                  <a href={`/jobs/${job.id}`} aria-describedby={summary} style={{ fontSize: "0.85rem" }}>
                    {t("gen.history.details")}
                  </a>
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

const LIST = { padding: 0, margin: 0 };
const ITEM = {
  listStyle: "none",
  padding: "0.5rem 0.75rem",
  marginBottom: "0.5rem",
  borderLeft: "3px solid var(--pico-muted-border-color)",
};
const CURRENT = { borderLeftColor: "var(--pico-primary)" };
const PROMPT = {
  margin: "0.25rem 0",
  overflow: "hidden",
  textOverflow: "ellipsis",
  whiteSpace: "nowrap",
};
const ACTIONS = { display: "flex", flexWrap: "wrap", gap: "0.5rem", alignItems: "center" };
