// One generation: its state and progress while it runs (followed over the event stream), then its
// images in fixed-ratio boxes with the settings they were drawn with and a download button each.
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, download, followJob, getJson, imageUrl, sendJson, type Job } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import { baseName, seedOf, type InitImage } from "./generate-params.ts";

const FINAL: Job["state"][] = ["succeeded", "failed", "cancelled"];

export const isFinal = (job: Job) => FINAL.includes(job.state);

interface JobFile {
  path: string;
  kind: string;
}

const fileUrl = (job: string, path: string) => `/api/jobs/${job}/file?path=${encodeURIComponent(path)}`;

/** A number param of a gen job, or the fallback. */
export function numberParam(job: Job, key: string, fallback: number): number {
  const value = job.params[key];
  return typeof value === "number" ? value : fallback;
}

export function GenResult({
  job: initial,
  onEnd,
  onUseSeed,
  onImg2Img,
}: {
  job: Job;
  onEnd: (job: Job) => void;
  onUseSeed: (seed: number) => void;
  onImg2Img: (image: InitImage) => void;
}) {
  const { t } = useI18n();
  const [job, setJob] = useState(initial);
  const [images, setImages] = useState<string[]>([]);
  const [phase, setPhase] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [cancelling, setCancelling] = useState(false);

  useEffect(() => {
    let live = true;
    const loadFiles = (id: string) =>
      getJson<{ files: JobFile[] }>(`/api/jobs/${id}/files`)
        .then(({ files }) => {
          if (!live) return;
          const found = files
            .filter((file) => file.kind === "image" && file.path.startsWith("images/"))
            .map((file) => file.path)
            .sort();
          setImages(found);
        })
        .catch((caught: unknown) => live && setError(caught));
    if (isFinal(initial)) {
      void loadFiles(initial.id);
      return () => {
        live = false;
      };
    }
    const stop = followJob(
      initial.id,
      (event) => {
        const data = event.data;
        if (event.type === "state" && typeof data.state === "string") {
          setJob((now) => ({ ...now, state: data.state as Job["state"] }));
        } else if (event.type === "stage" && typeof data.stage === "string") {
          setPhase(data.stage);
        } else if (event.type === "engine" && data.event === "phase" && typeof data.name === "string") {
          setPhase(data.name);
        } else if (event.type === "engine" && data.event === "sample" && typeof data.path === "string") {
          const path = data.path;
          setImages((list) => (list.includes(path) ? list : [...list, path]));
        }
      },
      (final) => {
        if (!live) return;
        const ended = final ?? initial;
        setJob(ended);
        void loadFiles(ended.id);
        onEnd(ended);
      },
    );
    return () => {
      live = false;
      stop();
    };
  }, [initial.id]);

  const cancel = async () => {
    setCancelling(true);
    try {
      setJob(await sendJson<Job>(`/api/jobs/${job.id}/cancel`, {}));
    } catch (caught) {
      setError(caught);
    } finally {
      setCancelling(false);
    }
  };

  const expected = numberParam(job, "batch_count", 1) * numberParam(job, "batch_size", 1);
  const running = !isFinal(job);
  return (
    <div data-testid="gen-current" aria-live="polite">
      <p>
        <strong data-testid="gen-state">{t(`state.${job.state}`)}</strong>
        {running ? (
          <>
            {" · "}
            {job.state === "queued" ? t("gen.queued.help") : t(phaseKey(phase))}
          </>
        ) : null}
      </p>
      {running ? (
        <div class="gen-progress">
          <progress
            data-testid="gen-progress"
            aria-label={t("gen.progress", { done: images.length, total: expected })}
            {...(job.state === "running" ? { value: images.length, max: expected } : {})}
          />
          <button
            type="button"
            class="secondary outline"
            data-testid="gen-cancel"
            aria-busy={cancelling}
            disabled={cancelling || job.cancel_requested}
            onClick={() => void cancel()}
          >
            {t("common.cancel")}
          </button>
        </div>
      ) : null}
      {job.state === "failed" && job.error ? <ErrorBox error={new ApiError(0, job.error)} /> : null}
      <ErrorBox error={error} />
      <ParamsSummary job={job} />
      {images.length === 0 && job.state === "succeeded" ? <p>{t("gen.images.none")}</p> : null}
      <Gallery job={job} images={images} onUseSeed={onUseSeed} onImg2Img={onImg2Img} />
    </div>
  );
}

function phaseKey(phase: string | null): string {
  const known = ["load_model", "sample", "generating", "preparing"];
  return phase && known.includes(phase) ? `gen.phase.${phase}` : "gen.phase.working";
}

/** The settings every image of the job shares (each image's own seed is under it). */
function ParamsSummary({ job }: { job: Job }) {
  const { t } = useI18n();
  const p = job.params;
  const loras = Array.isArray(p.loras) ? (p.loras as { file?: string; weight?: number }[]) : [];
  const text = (key: string) => (typeof p[key] === "string" ? (p[key] as string) : "");
  const rows: [string, string][] = [
    [t("gen.prompt"), text("prompt")],
    [t("gen.negative"), text("negative")],
    [t("gen.model"), text("model")],
    [t("gen.sampler"), text("sampler")],
    [t("gen.steps"), String(numberParam(job, "steps", 0) || "")],
    [t("gen.cfg"), String(numberParam(job, "cfg", 0) || "")],
    [
      t("gen.size"),
      t("gen.size.value", { width: numberParam(job, "width", 0), height: numberParam(job, "height", 0) }),
    ],
    [t("gen.loras"), loras.map((lora) => `${lora.file ?? ""} × ${lora.weight ?? 1}`).join(", ")],
  ];
  return (
    <details data-testid="gen-params" open>
      <summary>{t("gen.params")}</summary>
      <dl class="gen-params" style={PARAMS}>
        {rows
          .filter(([, value]) => value !== "")
          .map(([label, value]) => (
            <Fragment key={label}>
              <dt style={{ fontWeight: "bold" }}>{label}</dt>
              <dd style={{ margin: 0, overflowWrap: "anywhere" }}>{value}</dd>
            </Fragment>
          ))}
      </dl>
    </details>
  );
}

function Gallery({
  job,
  images,
  onUseSeed,
  onImg2Img,
}: {
  job: Job;
  images: string[];
  onUseSeed: (seed: number) => void;
  onImg2Img: (image: InitImage) => void;
}) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  if (images.length === 0) return null;
  const ratio = `${numberParam(job, "width", 1)} / ${numberParam(job, "height", 1)}`;
  return (
    <>
      <ErrorBox error={error} />
      <ul data-testid="gen-gallery" style={GALLERY} aria-label={t("gen.gallery")}>
        {images.map((path, index) => {
          const seed = seedOf(path);
          const label = t("gen.image.alt", { n: index + 1, seed: seed ?? "?" });
          return (
            <li key={path} style={{ listStyle: "none", margin: 0 }}>
              <figure style={{ margin: 0 }}>
                <AuthImage path={fileUrl(job.id, path)} alt={label} ratio={ratio} />
                <figcaption style={{ fontSize: "0.85rem" }}>
                  {seed !== null ? t("gen.seed.value", { seed }) : baseName(path)}
                </figcaption>
              </figure>
              <div style={IMAGE_ACTIONS}>
                <button
                  type="button"
                  class="small"
                  style={{ margin: 0 }}
                  data-testid="gen-download"
                  aria-label={t("gen.download.n", { n: index + 1 })}
                  onClick={() => void download(fileUrl(job.id, path), baseName(path)).catch(setError)}
                >
                  {t("common.download")}
                </button>
                {seed !== null ? (
                  <button
                    type="button"
                    class="small secondary outline"
                    style={{ margin: 0 }}
                    data-testid="gen-use-seed"
                    aria-label={t("gen.seed.use.n", { n: index + 1 })}
                    onClick={() => onUseSeed(seed)}
                  >
                    {t("gen.seed.use")}
                  </button>
                ) : null}
                <button
                  type="button"
                  class="small secondary outline"
                  style={{ margin: 0 }}
                  data-testid="gen-img2img"
                  aria-label={t("gen.img2img.use.n", { n: index + 1 })}
                  onClick={() => onImg2Img({ job: job.id, file: path })}
                >
                  {t("gen.img2img.use")}
                </button>
              </div>
            </li>
          );
        })}
      </ul>
    </>
  );
}

/** An image the API serves, in a box of the image's aspect ratio that is there before the image is. */
function AuthImage({ path, alt, ratio }: { path: string; alt: string; ratio: string }) {
  const [src, setSrc] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let url: string | null = null;
    let live = true;
    imageUrl(path)
      .then((made) => {
        url = made;
        if (live) setSrc(made);
        else URL.revokeObjectURL(made);
      })
      .catch(() => live && setFailed(true));
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [path]);
  return (
    <div style={{ ...FRAME, aspectRatio: ratio }} aria-busy={!src && !failed}>
      {src ? (
        <img src={src} alt={alt} style={IMAGE} data-testid="gen-image" />
      ) : failed ? (
        <span role="img" aria-label={alt}>
          ⚠
        </span>
      ) : null}
    </div>
  );
}

const GALLERY = {
  display: "grid",
  gridTemplateColumns: "repeat(auto-fill, minmax(9rem, 1fr))",
  gap: "0.75rem",
  padding: 0,
  margin: "0 0 1rem",
};
const FRAME = {
  width: "100%",
  background: "var(--pico-muted-border-color)",
  borderRadius: "var(--pico-border-radius)",
  overflow: "hidden",
  display: "flex",
  alignItems: "center",
  justifyContent: "center",
};
const IMAGE = { width: "100%", height: "100%", objectFit: "contain", display: "block" };
const IMAGE_ACTIONS = { display: "flex", flexWrap: "wrap", gap: "0.25rem", marginTop: "0.25rem" };
const PARAMS = {
  display: "grid",
  gridTemplateColumns: "max-content minmax(0, 1fr)",
  gap: "0.25rem 0.75rem",
  fontSize: "0.9rem",
};
