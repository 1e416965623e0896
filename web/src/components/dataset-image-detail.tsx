// One image of the gallery in detail: its caption as chips, its check flags with the numbers behind them.
import { useEffect, useRef } from "preact/hooks";
import { useI18n } from "../i18n/index.ts";
import { CaptionEditor } from "./dataset-chips.tsx";
import { Thumb, thumbPath, type DatasetImage, type DatasetState, type Flag } from "./dataset-common.tsx";

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

export function DetailDialog({
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
