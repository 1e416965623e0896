// The gallery's fixes: move the flagged images to _rejected (data-check with fix), or crop every image to
// its subject into a new dataset (data-crop) with a preview to keep or discard.
import { useEffect, useState } from "preact/hooks";
import { getJson, request, type Job } from "../api.ts";
import { ErrorBox } from "./error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import {
  FieldError,
  JobLive,
  Thumb,
  datasetApi,
  enc,
  errorAt,
  startJob,
  thumbPath,
  type DatasetImage,
  type DatasetState,
  type Flag,
  type ImagesAnswer,
} from "./dataset-common.tsx";

interface FixResult {
  images: number;
  flagged: { file: string; flags: Flag[] }[];
  fixes: { file: string; movedTo: string; reason: string }[];
}

interface CropResult {
  dataset: string;
  cropped: number;
  skipped: { file: string; reason: string }[];
}

/** The first crops of the new dataset, its link, and a way to throw it away. */
function CropPreview({ result, onDiscarded }: { result: CropResult; onDiscarded: () => void }) {
  const { t } = useI18n();
  const [images, setImages] = useState<DatasetImage[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [confirm, setConfirm] = useState(false);
  useEffect(() => {
    getJson<ImagesAnswer>(`${datasetApi(result.dataset)}/images?check=stored`).then(
      (answer) => setImages(answer.images),
      setError,
    );
  }, [result.dataset]);
  const discard = async () => {
    try {
      await request(datasetApi(result.dataset), { method: "DELETE" });
      onDiscarded();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <div class="ds-crop-result" data-testid="crop-result">
      <p>
        {t("ds.crop.done", { cropped: result.cropped, skipped: result.skipped.length })}{" "}
        <a href={`/datasets/${enc(result.dataset)}`} data-testid="crop-link">
          {t("ds.crop.open", { name: result.dataset })}
        </a>
      </p>
      <div class="ds-strip">
        {(images ?? []).slice(0, 12).map((image) => (
          <Thumb key={image.file} path={thumbPath(result.dataset, image.file, 128)} alt={image.file} />
        ))}
      </div>
      {result.skipped.length > 0 ? (
        <details>
          <summary>{t("ds.crop.skipped", { n: result.skipped.length })}</summary>
          <ul>
            {result.skipped.map((row) => (
              <li key={row.file}>
                {row.file}: {row.reason}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      {confirm ? (
        <div class="ds-row">
          <span>{t("ds.crop.discardConfirm", { name: result.dataset })}</span>
          <button type="button" class="small" data-testid="crop-discard-yes" onClick={() => void discard()}>
            {t("common.delete")}
          </button>
          <button type="button" class="secondary outline small" onClick={() => setConfirm(false)}>
            {t("common.cancel")}
          </button>
        </div>
      ) : (
        <button
          type="button"
          class="secondary outline small"
          data-testid="crop-discard"
          onClick={() => setConfirm(true)}
        >
          {t("ds.crop.discard")}
        </button>
      )}
      <ErrorBox error={error} />
    </div>
  );
}

export function FixTools({ ds, runCheck }: { ds: DatasetState; runCheck: () => Promise<void> }) {
  const { t } = useI18n();
  const [fixError, setFixError] = useState<unknown>(null);
  const [cropError, setCropError] = useState<unknown>(null);
  const [mode, setMode] = useState<"face" | "upper-body" | "person">("upper-body");
  const [aspect, setAspect] = useState("bucket");
  const [out, setOut] = useState("");
  const [discarded, setDiscarded] = useState<string | null>(null);
  const outName = out.trim() || `${ds.name}-${mode}`;

  const fix = async () => {
    setFixError(null);
    try {
      // faces are not a reason to move an image: leave the slow people detection out
      const job = await startJob("data-check", { dataset: ds.name, fix: true, people: false });
      ds.setJob("fix", job.id);
    } catch (caught) {
      setFixError(caught);
    }
  };
  const crop = async (event: Event) => {
    event.preventDefault();
    setCropError(null);
    try {
      const job = await startJob("data-crop", { dataset: ds.name, out: outName, mode, aspect });
      ds.setJob("crop", job.id);
      setDiscarded(null);
    } catch (caught) {
      setCropError(caught);
    }
  };
  const outError = errorAt(cropError, "out");
  return (
    <details class="ds-fix" data-testid="fix-tools" open={Boolean(ds.jobs.fix || ds.jobs.crop)}>
      <summary>{t("ds.fix.title")}</summary>
      <div class="ds-fix-grid">
        <section>
          <h4>{t("ds.fix.flaggedTitle")}</h4>
          <p>
            <small>{t("ds.fix.explain")}</small>
          </p>
          <button type="button" data-testid="fix-flagged" onClick={() => void fix()}>
            {t("ds.fix.run")}
          </button>
          <ErrorBox error={fixError} />
          {ds.jobs.fix ? (
            <JobLive
              jobId={ds.jobs.fix}
              onEnd={(job) => {
                if (job.state === "succeeded") void ds.reload().then(runCheck);
              }}
            >
              {(job: Job) => {
                const result = job.result as FixResult;
                return (
                  <div data-testid="fix-result">
                    <p>{t("ds.fix.done", { n: result.fixes.length })}</p>
                    <ul>
                      {result.fixes.map((fixed) => (
                        <li key={fixed.file}>
                          {fixed.file} → {fixed.movedTo}: <small>{fixed.reason}</small>
                        </li>
                      ))}
                    </ul>
                  </div>
                );
              }}
            </JobLive>
          ) : null}
        </section>
        <section>
          <h4>{t("ds.crop.title")}</h4>
          <form onSubmit={(e) => void crop(e)} data-testid="crop-form">
            <label>
              {t("ds.crop.mode")}
              <select
                value={mode}
                data-testid="crop-mode"
                onChange={(e) => setMode((e.target as HTMLSelectElement).value as typeof mode)}
              >
                <option value="face">{t("ds.crop.mode.face")}</option>
                <option value="upper-body">{t("ds.crop.mode.upper-body")}</option>
                <option value="person">{t("ds.crop.mode.person")}</option>
              </select>
            </label>
            <label>
              {t("ds.crop.aspect")}
              <select
                value={aspect}
                data-testid="crop-aspect"
                onChange={(e) => setAspect((e.target as HTMLSelectElement).value)}
              >
                <option value="bucket">{t("ds.crop.aspect.bucket")}</option>
                <option value="1:1">1:1</option>
                <option value="2:3">2:3</option>
                <option value="3:2">3:2</option>
              </select>
            </label>
            <label>
              {t("ds.crop.out")}
              <input
                type="text"
                value={out}
                placeholder={`${ds.name}-${mode}`}
                data-testid="crop-out"
                aria-invalid={outError ? "true" : undefined}
                aria-describedby={outError ? "crop-out-error" : undefined}
                onInput={(e) => setOut((e.target as HTMLInputElement).value)}
              />
              <FieldError id="crop-out-error" error={outError} />
            </label>
            <button type="submit" data-testid="crop-submit">
              {t("ds.crop.run")}
            </button>
            {!outError ? <ErrorBox error={cropError} /> : null}
          </form>
          {ds.jobs.crop ? (
            <JobLive jobId={ds.jobs.crop}>
              {(job: Job) => {
                const result = job.result as CropResult;
                return discarded === result.dataset ? (
                  <p>{t("ds.crop.discarded", { name: result.dataset })}</p>
                ) : (
                  <CropPreview result={result} onDiscarded={() => setDiscarded(result.dataset)} />
                );
              }}
            </JobLive>
          ) : null}
        </section>
      </div>
    </details>
  );
}
