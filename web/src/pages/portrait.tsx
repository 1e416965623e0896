// Portraits: a customer's photos and the styles in one request (POST /api/portraits), then the job
// followed stage by stage to its ranked portraits. ?job=ID shows a started one (reloads keep it).
import { useLocation } from "preact-iso";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, getJson, type Job } from "../api.ts";
import { send, type UploadReport } from "../components/dataset-upload.tsx";
import { DropZone, type PickedFile } from "../components/drop-zone.tsx";
import { ErrorBox } from "../components/error-box.tsx";
import { errorAt, FieldError, formatBytes, invalidProps } from "../components/job-common.tsx";
import { useI18n } from "../i18n/index.ts";
import "../i18n/portrait.ts";
import "./portrait.css";
import {
  ADVANCED_PARAMS,
  advancedParams,
  NO_ADVANCED,
  PortraitAdvanced,
  type Advanced,
} from "./portrait-advanced.tsx";
import { PortraitRun, type PortraitStyleInfo } from "./portrait-run.tsx";

const CLASSES = ["woman", "man", "person"] as const;
const noHidden = (picked: PickedFile[]) =>
  picked.filter(({ path }) => !path.split("/").some((p) => p.startsWith(".")));

function PortraitForm({ onStarted }: { onStarted: (jobId: string) => void }) {
  const { t, lang } = useI18n();
  const [photos, setPhotos] = useState<PickedFile[]>([]);
  const [models, setModels] = useState<string[] | null>(null);
  const [model, setModel] = useState("");
  const [styles, setStyles] = useState<PortraitStyleInfo[]>([]);
  const [ticked, setTicked] = useState<Set<string>>(new Set());
  const [count, setCount] = useState(4);
  const [cls, setCls] = useState("");
  const [trigger, setTrigger] = useState("");
  const [advanced, setAdvanced] = useState<Advanced>(NO_ADVANCED);
  const [busy, setBusy] = useState(false);
  const [percent, setPercent] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    getJson<{ models: { name: string }[] }>("/api/models")
      .then(({ models: list }) => {
        setModels(list.map((m) => m.name));
        setModel((current) => current || list[0]?.name || "");
      })
      .catch(setError);
    getJson<{ styles: PortraitStyleInfo[] }>("/api/portraits/styles")
      .then(({ styles: list }) => setStyles(list))
      .catch(setError);
  }, []);

  const add = (picked: PickedFile[]) => setPhotos((all) => [...all, ...noHidden(picked)]);
  const toggle = (name: string, on: boolean) =>
    setTicked((all) => {
      const next = new Set(all);
      if (on) next.add(name);
      else next.delete(name);
      return next;
    });

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    if (ticked.size === 0) {
      setError(
        new ApiError(400, { code: "BAD_REQUEST", message: t("pt.styles.pick"), field: "params.styles" }),
      );
      return;
    }
    const params = {
      model,
      styles: styles.map((s) => s.name).filter((name) => ticked.has(name)),
      count,
      ...advancedParams(advanced, count),
      ...(cls ? { class: cls } : {}),
      ...(trigger.trim() ? { trigger: trigger.trim() } : {}),
    };
    setBusy(true);
    setError(null);
    setPercent(0);
    try {
      const answer = await send<{ job: Job; dataset: string; upload: UploadReport }>(
        "/api/portraits",
        photos,
        (loaded, total) => setPercent(total > 0 ? Math.round((loaded / total) * 100) : 0),
        new AbortController().signal,
        { params: JSON.stringify(params) },
      );
      onStarted(answer.job.id);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const at = (field: string) => errorAt(error, field);
  const shown = [
    at("files"),
    at("model"),
    at("styles"),
    at("count"),
    at("class"),
    at("trigger"),
    at("config"),
    ...ADVANCED_PARAMS.map(at),
  ];
  const bytes = photos.reduce((sum, p) => sum + p.file.size, 0);
  return (
    <form onSubmit={(e) => void submit(e)} data-testid="pt-form" noValidate>
      <fieldset>
        <legend>{t("pt.photos")}</legend>
        <DropZone testid="pt-drop" onFiles={add} onError={setError}>
          <p>{t("pt.drop")}</p>
          <small>{t("pt.kinds")}</small>
          <label class="pt-pick">
            {t("pt.pick")}
            <input
              ref={input}
              type="file"
              multiple
              accept="image/*,.zip"
              data-testid="pt-files"
              disabled={busy}
              {...invalidProps(at("files"), "pt-files-error")}
              onChange={() => {
                const list = input.current?.files;
                if (list) add([...list].map((file) => ({ file, path: file.name })));
                if (input.current) input.current.value = "";
              }}
            />
          </label>
        </DropZone>
        <FieldError id="pt-files-error" error={at("files")} />
        {photos.length > 0 ? (
          <div class="ds-row" data-testid="pt-picked">
            <span>{t("pt.picked", { count: photos.length, size: formatBytes(bytes) })}</span>
            <button
              type="button"
              class="secondary outline small"
              onClick={() => setPhotos([])}
              disabled={busy}
            >
              {t("pt.clear")}
            </button>
          </div>
        ) : null}
      </fieldset>

      <label>
        {t("pt.model")}
        <select
          name="model"
          value={model}
          data-testid="pt-model"
          onChange={(e) => setModel((e.target as HTMLSelectElement).value)}
          {...invalidProps(at("model"), "pt-model-error")}
        >
          {models?.length === 0 ? <option value="">{t("pt.model.none")}</option> : null}
          {(models ?? []).map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <FieldError id="pt-model-error" error={at("model")} />
      </label>

      <fieldset data-testid="pt-styles" {...invalidProps(at("styles"), "pt-styles-error")}>
        <legend>{t("pt.styles")}</legend>
        <div class="pt-style-picks">
          {styles.map((style) => (
            <label key={style.name} class="pt-style-pick">
              <input
                type="checkbox"
                name="styles"
                value={style.name}
                checked={ticked.has(style.name)}
                onChange={(e) => toggle(style.name, (e.target as HTMLInputElement).checked)}
              />
              <span>
                {lang === "zh" ? style.title_zh : style.title}
                <br />
                <small class="ds-muted">
                  {t("pt.styles.size", { width: style.width, height: style.height, steps: style.steps })}
                </small>
              </span>
            </label>
          ))}
        </div>
        <FieldError id="pt-styles-error" error={at("styles")} />
      </fieldset>

      <div class="grid">
        <label>
          {t("pt.count")}
          <input
            type="number"
            name="count"
            min={1}
            max={32}
            value={count}
            data-testid="pt-count"
            onInput={(e) => setCount(Number((e.target as HTMLInputElement).value))}
            {...invalidProps(at("count"), "pt-count-error")}
          />
          <FieldError id="pt-count-error" error={at("count")} />
        </label>
        <label>
          {t("pt.class")}
          <select
            name="class"
            value={cls}
            onChange={(e) => setCls((e.target as HTMLSelectElement).value)}
            {...invalidProps(at("class"), "pt-class-error")}
          >
            <option value="">{t("pt.class.auto")}</option>
            {CLASSES.map((name) => (
              <option key={name} value={name}>
                {t(`pt.class.${name}`)}
              </option>
            ))}
          </select>
          <FieldError id="pt-class-error" error={at("class")} />
        </label>
        <label>
          {t("pt.trigger")}
          <input
            type="text"
            name="trigger"
            value={trigger}
            placeholder="dlperson"
            aria-describedby={at("trigger") ? "pt-trigger-error" : "pt-trigger-help"}
            aria-invalid={at("trigger") ? true : undefined}
            onInput={(e) => setTrigger((e.target as HTMLInputElement).value)}
          />
          <small id="pt-trigger-help">{t("pt.trigger.help")}</small>
          <FieldError id="pt-trigger-error" error={at("trigger")} />
        </label>
      </div>

      <PortraitAdvanced value={advanced} onChange={setAdvanced} count={count} at={at} />

      {error && !shown.some(Boolean) ? <ErrorBox error={error} /> : null}
      <button type="submit" data-testid="pt-start" disabled={busy || !model} aria-busy={busy}>
        {busy ? t("pt.sending", { percent }) : t("pt.start")}
      </button>
    </form>
  );
}

export default function PortraitPage() {
  const { t } = useI18n();
  const { query, route } = useLocation();
  const jobId = query.job;
  return (
    <>
      <h1>{t("pt.title")}</h1>
      <p>{t("pt.intro")}</p>
      {jobId ? (
        <PortraitRun id={jobId} onAgain={() => route("/portraits")} />
      ) : (
        <PortraitForm onStarted={(id) => route(`/portraits?job=${encodeURIComponent(id)}`)} />
      )}
    </>
  );
}
