// Gallery: a virtual grid of thumbnails with the check's flags on each, "flagged only", run the check;
// an image in detail (dataset-image-detail.tsx) and the fixes (dataset-fix.tsx) open from here.
import type { RefObject } from "preact";
import { useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { WindowVirtualizer } from "virtua";
import { sendJson } from "../api.ts";
import { ErrorBox } from "./error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import { DetailDialog, FlagBadges } from "./dataset-image-detail.tsx";
import { FixTools } from "./dataset-fix.tsx";
import {
  FLAGS,
  Thumb,
  datasetApi,
  formatTime,
  startJob,
  thumbPath,
  type DatasetImage,
  type DatasetState,
  type Flag,
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

export function GalleryPanel({ ds }: { ds: DatasetState }) {
  const { t, lang } = useI18n();
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
              when: formatTime(ds.check.checked_at, lang),
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
