// Jobs started from a dataset: tag it with WD taggers (tag), lay it out for training (data-layout).
import { useEffect, useState } from "preact/hooks";
import { getJson, type Job } from "../api.ts";
import { ErrorBox } from "./error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import {
  FieldError,
  JobLive,
  enc,
  errorAt,
  formatBytes,
  startJob,
  type DatasetState,
} from "./dataset-common.tsx";

interface Model {
  name: string;
  bytes: number;
}

const isTagger = (name: string) => /tagger|^wd-/iu.test(name);
const isCaptioner = (name: string) => /florence|caption|blip|git-/iu.test(name);

interface TagResult {
  images: number;
  written: number;
  reused: number;
  top_tags: Record<string, number>;
  failed: { name: string; reason: string }[];
}

function TagJob({ ds }: { ds: DatasetState }) {
  const { t } = useI18n();
  const [models, setModels] = useState<Model[] | null>(null);
  const [modelsError, setModelsError] = useState<unknown>(null);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [captioner, setCaptioner] = useState("");
  const [threshold, setThreshold] = useState("");
  const [append, setAppend] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    getJson<{ models: Model[] }>("/api/models").then((answer) => {
      setModels(answer.models);
      const first = answer.models.find((model) => isTagger(model.name));
      if (first) setChosen(new Set([first.name]));
    }, setModelsError);
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const job = await startJob("tag", {
        dataset: ds.name,
        models: [...chosen],
        ...(captioner ? { caption_model: captioner } : {}),
        ...(threshold.trim() ? { general_threshold: Number(threshold) } : {}),
        append,
      });
      ds.setJob("tag", job.id);
    } catch (caught) {
      setError(caught);
    }
  };
  const taggers = (models ?? []).filter((model) => isTagger(model.name));
  const others = (models ?? []).filter((model) => !isTagger(model.name));
  const modelsFieldError = errorAt(error, "models");
  const thresholdError = errorAt(error, "general_threshold");
  return (
    <section class="ds-card" aria-labelledby="ds-tagjob-title">
      <h3 id="ds-tagjob-title">{t("ds.tagjob.title")}</h3>
      <p>
        <small>{t("ds.tagjob.explain")}</small>
      </p>
      <ErrorBox error={modelsError} />
      <form data-testid="tag-form" onSubmit={(e) => void submit(e)}>
        <fieldset aria-describedby={modelsFieldError ? "tagjob-models-error" : undefined}>
          <legend>{t("ds.tagjob.models")}</legend>
          {models === null && !modelsError ? <p aria-busy="true">{t("common.loading")}</p> : null}
          {models !== null && taggers.length === 0 ? (
            <p class="ds-muted" data-testid="no-taggers">
              {t("ds.tagjob.none")}
            </p>
          ) : null}
          {[...taggers, ...others].map((model) => (
            <label key={model.name} class="ds-inline">
              <input
                type="checkbox"
                data-testid="tag-model"
                value={model.name}
                checked={chosen.has(model.name)}
                onChange={(e) => {
                  const next = new Set(chosen);
                  if ((e.target as HTMLInputElement).checked) next.add(model.name);
                  else next.delete(model.name);
                  setChosen(next);
                }}
              />
              {model.name}{" "}
              {model.bytes > 4096 ? <small class="ds-muted">({formatBytes(model.bytes)})</small> : null}
            </label>
          ))}
          <FieldError id="tagjob-models-error" error={modelsFieldError} />
        </fieldset>
        <div class="ds-form-grid">
          <label>
            {t("ds.tagjob.captioner")}
            <select
              value={captioner}
              data-testid="tag-captioner"
              onChange={(e) => setCaptioner((e.target as HTMLSelectElement).value)}
            >
              <option value="">{t("ds.tagjob.noCaptioner")}</option>
              {(models ?? [])
                .filter((model) => isCaptioner(model.name))
                .map((model) => (
                  <option key={model.name} value={model.name}>
                    {model.name}
                  </option>
                ))}
            </select>
          </label>
          <label>
            {t("ds.tagjob.threshold")}
            <input
              type="number"
              min="0"
              max="1"
              step="0.01"
              value={threshold}
              data-testid="tag-threshold"
              aria-invalid={thresholdError ? "true" : undefined}
              aria-describedby="tagjob-threshold-help"
              onInput={(e) => setThreshold((e.target as HTMLInputElement).value)}
            />
            <small id="tagjob-threshold-help">{t("ds.tagjob.thresholdHelp")}</small>
            <FieldError id="tagjob-threshold-error" error={thresholdError} />
          </label>
        </div>
        <label class="ds-inline">
          <input
            type="checkbox"
            checked={append}
            data-testid="tag-append"
            onChange={(e) => setAppend((e.target as HTMLInputElement).checked)}
          />
          {t("ds.tagjob.append")}
        </label>
        <button type="submit" data-testid="tag-submit" disabled={chosen.size === 0 && !captioner}>
          {t("ds.tagjob.run")}
        </button>
        {!modelsFieldError && !thresholdError ? <ErrorBox error={error} /> : null}
      </form>
      {ds.jobs.tag ? (
        <JobLive
          jobId={ds.jobs.tag}
          onEnd={(job) => {
            if (job.state === "succeeded") void ds.reload();
          }}
        >
          {(job: Job) => {
            const result = job.result as TagResult;
            return (
              <div data-testid="tagjob-result">
                <p>{t("ds.tagjob.done", { written: result.written, images: result.images })}</p>
                <p class="ds-chips-static">
                  {Object.entries(result.top_tags)
                    .slice(0, 15)
                    .map(([tag, n]) => (
                      <span key={tag} class="ds-chip">
                        {tag} <small>{n}</small>
                      </span>
                    ))}
                </p>
                {result.failed.length > 0 ? (
                  <ul>
                    {result.failed.map((row) => (
                      <li key={row.name}>
                        {row.name}: {row.reason}
                      </li>
                    ))}
                  </ul>
                ) : null}
              </div>
            );
          }}
        </JobLive>
      ) : null}
    </section>
  );
}

interface LayoutResult {
  dataset: string;
  folders: { folder: string; images: number; repeats: number; perEpoch: number; isReg: boolean }[];
  written: { linked: number; copied: number; captions: number; uncaptioned: string[] };
  skipped: number;
  plan: { steps_per_epoch: number; total_steps: number; epochs: number; batch_size: number };
  warnings: string[];
}

function LayoutJob({ ds }: { ds: DatasetState }) {
  const { t } = useI18n();
  const [concept, setConcept] = useState("");
  const [repeats, setRepeats] = useState("");
  const [epochs, setEpochs] = useState("10");
  const [batch, setBatch] = useState("1");
  const [resolution, setResolution] = useState("512");
  const [out, setOut] = useState("");
  const [replace, setReplace] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const conceptName = concept.trim() || ds.trigger.trim();
  const outName = out.trim() || `${ds.name}-train`;
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const job = await startJob("data-layout", {
        concepts: [{ name: conceptName, dataset: ds.name }],
        ...(repeats.trim() ? { repeats: { [conceptName]: Number(repeats) } } : {}),
        out: outName,
        epochs: Number(epochs),
        batch_size: Number(batch),
        resolution: Number(resolution),
        replace,
      });
      ds.setJob("layout", job.id);
    } catch (caught) {
      setError(caught);
    }
  };
  const fieldError = (...names: string[]) => errorAt(error, ...names);
  const errs = {
    concept: fieldError("concepts", "concepts.0.name", "concepts.0"),
    repeats: fieldError("repeats", `repeats.${conceptName}`),
    epochs: fieldError("epochs"),
    batch: fieldError("batch_size"),
    resolution: fieldError("resolution"),
    out: fieldError("out"),
  };
  const anyField = Object.values(errs).some(Boolean);
  const input = (
    key: keyof typeof errs,
    value: string,
    set: (value: string) => void,
    props: Record<string, string | boolean>,
  ) => (
    <>
      <input
        value={value}
        data-testid={`layout-${key}`}
        aria-invalid={errs[key] ? "true" : undefined}
        aria-describedby={errs[key] ? `layout-${key}-error` : undefined}
        onInput={(e) => set((e.target as HTMLInputElement).value)}
        {...props}
      />
      <FieldError id={`layout-${key}-error`} error={errs[key]} />
    </>
  );
  return (
    <section class="ds-card" aria-labelledby="ds-layout-title">
      <h3 id="ds-layout-title">{t("ds.layout.title")}</h3>
      <p>
        <small>{t("ds.layout.explain")}</small>
      </p>
      <form data-testid="layout-form" onSubmit={(e) => void submit(e)}>
        <div class="ds-form-grid">
          <label>
            {t("ds.layout.concept")}
            {input("concept", concept, setConcept, {
              type: "text",
              placeholder: ds.trigger.trim(),
              required: !ds.trigger.trim(),
            })}
            <small>{t("ds.layout.conceptHelp")}</small>
          </label>
          <label>
            {t("ds.layout.repeats")}
            {input("repeats", repeats, setRepeats, {
              type: "number",
              min: "1",
              placeholder: t("ds.layout.auto"),
            })}
          </label>
          <label>
            {t("ds.layout.epochs")}
            {input("epochs", epochs, setEpochs, { type: "number", min: "1", required: true })}
          </label>
          <label>
            {t("ds.layout.batch")}
            {input("batch", batch, setBatch, { type: "number", min: "1", required: true })}
          </label>
          <label>
            {t("ds.layout.resolution")}
            {input("resolution", resolution, setResolution, {
              type: "number",
              min: "64",
              step: "64",
              required: true,
            })}
          </label>
          <label>
            {t("ds.layout.out")}
            {input("out", out, setOut, { type: "text", placeholder: `${ds.name}-train` })}
          </label>
        </div>
        <label class="ds-inline">
          <input
            type="checkbox"
            checked={replace}
            data-testid="layout-replace"
            onChange={(e) => setReplace((e.target as HTMLInputElement).checked)}
          />
          {t("ds.layout.replace")}
        </label>
        <button type="submit" data-testid="layout-submit" disabled={!conceptName}>
          {t("ds.layout.run")}
        </button>
        {!anyField ? <ErrorBox error={error} /> : null}
      </form>
      {ds.jobs.layout ? (
        <JobLive jobId={ds.jobs.layout}>
          {(job: Job) => {
            const result = job.result as LayoutResult;
            return (
              <div data-testid="layout-result">
                <p>
                  {t("ds.layout.done", {
                    written: result.written.linked + result.written.copied,
                    steps: result.plan.total_steps,
                    perEpoch: result.plan.steps_per_epoch,
                    epochs: result.plan.epochs,
                    batch: result.plan.batch_size,
                  })}
                </p>
                <ul data-testid="layout-folders">
                  {result.folders.map((folder) => (
                    <li key={folder.folder}>
                      <code>{folder.folder}</code>:{" "}
                      {t("ds.layout.folder", {
                        images: folder.images,
                        repeats: folder.repeats,
                        perEpoch: folder.perEpoch,
                      })}
                    </li>
                  ))}
                </ul>
                {result.written.uncaptioned.length > 0 ? (
                  <p class="ds-muted">
                    {t("ds.layout.uncaptioned", { n: result.written.uncaptioned.length })}
                  </p>
                ) : null}
                {result.warnings.length > 0 ? (
                  <ul class="ds-warnings">
                    {result.warnings.map((warning) => (
                      <li key={warning}>{warning}</li>
                    ))}
                  </ul>
                ) : null}
                <p class="ds-row">
                  <a
                    href={`/train?dataset=${enc(result.dataset)}`}
                    role="button"
                    data-testid="layout-train-link"
                  >
                    {t("ds.layout.train", { name: result.dataset })}
                  </a>
                  <a href={`/datasets/${enc(result.dataset)}`} data-testid="layout-dataset-link">
                    {t("ds.layout.open", { name: result.dataset })}
                  </a>
                </p>
              </div>
            );
          }}
        </JobLive>
      ) : null}
    </section>
  );
}

export function JobsPanel({ ds }: { ds: DatasetState }) {
  const { t } = useI18n();
  return (
    <section aria-labelledby="ds-jobs-title">
      <h2 id="ds-jobs-title">{t("ds.jobs.title")}</h2>
      <div class="ds-tags-tools">
        <TagJob ds={ds} />
        <LayoutJob ds={ds} />
      </div>
    </section>
  );
}
