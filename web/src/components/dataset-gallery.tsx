// Gallery: a virtual grid of thumbnails with the check's flags on each, "flagged only", run the check,
// a detail panel per image (its caption as chips, its flags explained), and the fixes: move the flagged
// images to _rejected (data-check with fix) or crop to the subject into a new dataset (data-crop).
import type { RefObject } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { WindowVirtualizer } from "virtua";
import { getJson, sendJson, request, type Job } from "../api.ts";
import { ErrorBox } from "./error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import { CaptionEditor } from "./dataset-chips.tsx";
import {
  FLAGS,
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

const TILE_MIN_PX = 140;

/** The grid's columns for its width: tiles of at least 140 px, at least 2 across. */
function useColumns(): [RefObject<HTMLDivElement>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [columns, setColumns] = useState(4);
  // measured before the first paint: tiles are not laid out twice (and fetched twice) on arrival
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    const first = element.getBoundingClientRect().width;
    if (first > 0) setColumns(Math.max(2, Math.floor(first / TILE_MIN_PX)));
    const observer = new ResizeObserver(([entry]) => {
      const width = entry?.contentRect.width ?? 0;
      if (width > 0) setColumns(Math.max(2, Math.floor(width / TILE_MIN_PX)));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, columns];
}

export function FlagBadges({ flags }: { flags: readonly Flag[] | null }) {
  const { t } = useI18n();
  if (!flags || flags.length === 0) return null;
  return (
    <span class="ds-badges">
      {flags.map((flag) => (
        <span key={flag} class={`ds-badge ds-flag-${flag}`} data-testid="flag-badge" data-flag={flag}>
          {t(`flag.${flag}`)}
        </span>
      ))}
    </span>
  );
}

function Tile({ name, image, onOpen }: { name: string; image: DatasetImage; onOpen: () => void }) {
  // its name for assistive technology is what it shows: the flags, then the file name
  const flags = image.flags ?? [];
  return (
    <button
      type="button"
      class={`ds-tile${flags.length > 0 ? " ds-tile-flagged" : ""}`}
      data-testid="gallery-tile"
      data-file={image.file}
      data-flags={flags.join(" ")}
      onClick={onOpen}
    >
      <Thumb path={thumbPath(name, image.file, 256)} alt="" />
      <FlagBadges flags={image.flags} />
      <span class="ds-tile-name">{image.file}</span>
    </button>
  );
}

/** Why an image carries each flag, in numbers. */
function flagReason(image: DatasetImage, flag: Flag, settings: Record<string, unknown>, t: T): string {
  const w = image.width ?? 0;
  const h = image.height ?? 0;
  switch (flag) {
    case "small":
      return t("flag.why.small", { side: Math.min(w, h), min: String(settings.minSide ?? 512) });
    case "aspect":
      return t("flag.why.aspect", { w, h, max: String(settings.maxAspect ?? 2) });
    case "blurry":
      return t("flag.why.blurry", {
        value: Math.round(image.sharpness ?? 0),
        min: String(settings.blurThreshold ?? 60),
      });
    case "duplicate":
      return t("flag.why.duplicate", { file: image.duplicate_of ?? "?" });
    case "several-people":
      return t("flag.why.people", { people: image.people ?? 0, faces: image.faces ?? 0 });
    case "unreadable":
      return t("flag.why.unreadable");
  }
}
type T = (key: string, vars?: Record<string, string | number>) => string;

function DetailDialog({
  ds,
  index,
  list,
  onIndex,
  onClose,
  onFix,
}: {
  ds: DatasetState;
  index: number;
  list: DatasetImage[];
  onIndex: (index: number) => void;
  onClose: () => void;
  onFix: () => void;
}) {
  const { t } = useI18n();
  const dialog = useRef<HTMLDialogElement>(null);
  const image = list[index];
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
  }, []);
  if (!image) return null;
  const ratio = image.width && image.height ? image.width / image.height : 1;
  const flags = image.flags ?? [];
  const fixable = flags.some((flag) => flag === "blurry" || flag === "duplicate" || flag === "unreadable");
  return (
    <dialog
      ref={dialog}
      class="ds-dialog"
      data-testid="image-detail"
      aria-labelledby="ds-detail-title"
      onClose={onClose}
      onKeyDown={(e) => {
        const target = e.target as HTMLElement;
        if (target.tagName === "INPUT") return;
        if (e.key === "ArrowLeft" && index > 0) onIndex(index - 1);
        if (e.key === "ArrowRight" && index < list.length - 1) onIndex(index + 1);
      }}
    >
      <article>
        <header class="ds-dialog-head">
          <h3 id="ds-detail-title">{image.file}</h3>
          <button
            type="button"
            class="secondary outline small"
            aria-label={t("ds.detail.close")}
            data-testid="detail-close"
            onClick={() => dialog.current?.close()}
          >
            ×
          </button>
        </header>
        <div class="ds-detail-body">
          <div class="ds-detail-image">
            <Thumb path={thumbPath(ds.name, image.file, 512)} alt={image.file} ratio={ratio} fit="contain" />
            <small class="ds-muted">
              {image.width && image.height ? `${image.width} × ${image.height} px · ` : ""}
              {image.source ? t("ds.detail.source", { source: image.source }) : ""}
            </small>
          </div>
          <div>
            <h4>{t("ds.detail.flags")}</h4>
            {image.flags === null ? (
              <p class="ds-muted">{t("ds.detail.notChecked")}</p>
            ) : flags.length === 0 ? (
              <p>{t("ds.detail.noFlags")}</p>
            ) : (
              <ul class="ds-flag-list">
                {flags.map((flag) => (
                  <li key={flag}>
                    <span class={`ds-badge ds-flag-${flag}`}>{t(`flag.${flag}`)}</span>{" "}
                    {flagReason(image, flag, ds.check?.settings ?? {}, t)}
                    <br />
                    <small class="ds-muted">{t(`flag.fix.${flag}`)}</small>
                  </li>
                ))}
              </ul>
            )}
            {fixable ? (
              <button type="button" class="secondary small" data-testid="detail-fix" onClick={onFix}>
                {t("ds.fix.run")}
              </button>
            ) : null}
            <h4>{t("ds.detail.caption")}</h4>
            <CaptionEditor
              name={ds.name}
              image={image}
              draft={ds.drafts.get(image.file)}
              setDraft={ds.setDraft}
              onSaved={ds.onSaved}
              trigger={ds.trigger}
              idPrefix="detail"
            />
          </div>
        </div>
        <footer class="ds-row ds-dialog-foot">
          <button
            type="button"
            class="secondary small"
            disabled={index === 0}
            onClick={() => onIndex(index - 1)}
            data-testid="detail-prev"
          >
            ← {t("ds.detail.prev")}
          </button>
          <span class="ds-muted">
            {index + 1} / {list.length}
          </span>
          <button
            type="button"
            class="secondary small"
            disabled={index >= list.length - 1}
            onClick={() => onIndex(index + 1)}
            data-testid="detail-next"
          >
            {t("ds.detail.next")} →
          </button>
        </footer>
      </article>
    </dialog>
  );
}

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

function FixTools({ ds, runCheck }: { ds: DatasetState; runCheck: () => Promise<void> }) {
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

export function GalleryPanel({ ds }: { ds: DatasetState }) {
  const { t } = useI18n();
  const [flaggedOnly, setFlaggedOnly] = useState(false);
  const [checking, setChecking] = useState(false);
  const [people, setPeople] = useState(true);
  const [checkError, setCheckError] = useState<unknown>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [gridRef, columns] = useColumns();

  const list = useMemo(
    () => (flaggedOnly ? ds.images.filter((image) => (image.flags?.length ?? 0) > 0) : ds.images),
    [ds.images, flaggedOnly],
  );
  const rows = useMemo(() => {
    const out: DatasetImage[][] = [];
    for (let i = 0; i < list.length; i += columns) out.push(list.slice(i, i + columns));
    return out;
  }, [list, columns]);
  const counts = useMemo(() => {
    const byFlag = new Map<Flag, number>();
    let flagged = 0;
    for (const image of ds.images) {
      if (image.flags && image.flags.length > 0) flagged += 1;
      for (const flag of image.flags ?? []) byFlag.set(flag, (byFlag.get(flag) ?? 0) + 1);
    }
    return { byFlag, flagged };
  }, [ds.images]);
  const unchecked = ds.images.length > 0 && ds.check === null;

  const runCheck = async () => {
    setChecking(true);
    setCheckError(null);
    try {
      await sendJson(`${datasetApi(ds.name)}/check`, { detect_people: people });
      await ds.reload();
    } catch (caught) {
      setCheckError(caught);
    } finally {
      setChecking(false);
    }
  };
  const startFix = async () => {
    try {
      const job = await startJob("data-check", { dataset: ds.name, fix: true, people: false });
      ds.setJob("fix", job.id);
      setOpen(null);
    } catch (caught) {
      setCheckError(caught);
    }
  };
  const openIndex = open === null ? -1 : list.findIndex((image) => image.file === open);

  return (
    <section aria-labelledby="ds-gallery-title">
      <h2 id="ds-gallery-title">{t("ds.gallery.title")}</h2>
      <div class="ds-toolbar">
        <button
          type="button"
          data-testid="run-check"
          onClick={() => void runCheck()}
          aria-busy={checking}
          disabled={checking || ds.images.length === 0}
        >
          {checking ? t("ds.check.running") : t("ds.check.run")}
        </button>
        <label class="ds-inline">
          <input
            type="checkbox"
            checked={people}
            data-testid="check-people"
            disabled={checking}
            onChange={(e) => setPeople((e.target as HTMLInputElement).checked)}
          />
          {t("ds.check.people")}
        </label>
        <label class="ds-inline">
          <input
            type="checkbox"
            role="switch"
            checked={flaggedOnly}
            data-testid="flagged-only"
            onChange={(e) => setFlaggedOnly((e.target as HTMLInputElement).checked)}
          />
          {t("ds.gallery.flaggedOnly", { n: counts.flagged })}
        </label>
      </div>
      <ErrorBox error={checkError} />
      <p class="ds-check-status" data-testid="check-status">
        {ds.check ? (
          <>
            {t("ds.check.at", {
              when: new Date(ds.check.checked_at).toLocaleString(),
              seconds: ds.check.seconds,
            })}{" "}
            {FLAGS.filter((flag) => counts.byFlag.has(flag)).map((flag) => (
              <span key={flag} class={`ds-badge ds-flag-${flag}`}>
                {t(`flag.${flag}`)} {counts.byFlag.get(flag)}
              </span>
            ))}
            {counts.flagged === 0 ? t("ds.check.allPass") : null}
          </>
        ) : unchecked ? (
          t("ds.check.none")
        ) : null}
      </p>

      <FixTools ds={ds} runCheck={runCheck} />

      <div ref={gridRef} class="ds-grid" data-testid="gallery-grid" data-columns={columns}>
        {list.length === 0 ? (
          <p class="ds-muted">
            {ds.images.length === 0 ? t("ds.gallery.empty") : t("ds.gallery.noneFlagged")}
          </p>
        ) : (
          <WindowVirtualizer data={rows}>
            {(row: DatasetImage[], i: number) => (
              <div
                key={i}
                class="ds-grid-row"
                style={{ gridTemplateColumns: `repeat(${columns}, minmax(0, 1fr))` }}
              >
                {row.map((image) => (
                  <Tile key={image.file} name={ds.name} image={image} onOpen={() => setOpen(image.file)} />
                ))}
              </div>
            )}
          </WindowVirtualizer>
        )}
      </div>
      {openIndex >= 0 ? (
        <DetailDialog
          ds={ds}
          index={openIndex}
          list={list}
          onIndex={(i) => setOpen(list[i]?.file ?? null)}
          onClose={() => setOpen(null)}
          onFix={() => void startFix()}
        />
      ) : null}
    </section>
  );
}
