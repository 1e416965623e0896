// Tags: the trigger word, undo, the bulk edits (dataset-tag-edits.tsx), the frequency table, and every
// image's tags as chips (a virtual list).
import { useEffect, useMemo, useState } from "preact/hooks";
import { WindowVirtualizer } from "virtua";
import { ApiError, getJson, sendJson } from "../api.ts";
import { ErrorBox } from "./error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import { CaptionEditor } from "./dataset-chips.tsx";
import { BakePanel, BulkPanel } from "./dataset-tag-edits.tsx";
import {
  Thumb,
  datasetApi,
  formatTime,
  operationLabel,
  thumbPath,
  type DatasetImage,
  type DatasetState,
} from "./dataset-common.tsx";

interface Frequency {
  images: number;
  tags: { tag: string; images: number; share: number }[];
}

interface UndoResult {
  batch: number;
  operation: string;
  created_at: string;
  restored: number;
  removed: number;
}

function UndoBar({ ds, afterEdit }: { ds: DatasetState; afterEdit: () => void }) {
  const { t, lang } = useI18n();
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const undo = async (force: boolean) => {
    setBusy(true);
    setMessage(null);
    setError(null);
    try {
      const result = await sendJson<UndoResult>(`${datasetApi(ds.name)}/tags/undo`, force ? { force } : {});
      setMessage(
        t("ds.undo.done", {
          operation: operationLabel(result.operation, t),
          n: result.restored + result.removed,
        }),
      );
      afterEdit();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const conflict = error instanceof ApiError && error.body.code === "UNDO_CONFLICT";
  return (
    <div class="ds-undo">
      <div class="ds-row">
        <button
          type="button"
          class="secondary"
          data-testid="tags-undo"
          aria-busy={busy}
          disabled={busy}
          onClick={() => void undo(false)}
        >
          {t("ds.undo.run")}
        </button>
        {ds.detail?.undo ? (
          <small class="ds-muted" data-testid="undo-next">
            {t("ds.undo.next", {
              operation: operationLabel(ds.detail.undo.operation, t),
              when: formatTime(ds.detail.undo.created_at, lang),
            })}
          </small>
        ) : null}
        {conflict ? (
          <button
            type="button"
            class="secondary outline small"
            data-testid="tags-undo-force"
            onClick={() => void undo(true)}
          >
            {t("ds.undo.force")}
          </button>
        ) : null}
      </div>
      {message ? (
        <p role="status" data-testid="undo-message">
          {message}
        </p>
      ) : null}
      <div data-testid="undo-error">
        <ErrorBox error={error} />
      </div>
    </div>
  );
}

function FrequencyTable({ frequency, error }: { frequency: Frequency | null; error: unknown }) {
  const { t } = useI18n();
  const [all, setAll] = useState(false);
  const LIMIT = 60;
  if (error) return <ErrorBox error={error} />;
  if (!frequency) return <p aria-busy="true">{t("common.loading")}</p>;
  if (frequency.tags.length === 0) return <p class="ds-muted">{t("ds.freq.none")}</p>;
  const rows = all ? frequency.tags : frequency.tags.slice(0, LIMIT);
  return (
    <div class="overflow-auto">
      <table class="ds-freq" data-testid="tag-frequency">
        <thead>
          <tr>
            <th scope="col">{t("ds.freq.tag")}</th>
            <th scope="col">{t("ds.freq.images")}</th>
            <th scope="col">{t("ds.freq.share")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.tag} data-testid="freq-row" data-tag={row.tag}>
              <td>{row.tag}</td>
              <td>{row.images}</td>
              <td>
                <span class="ds-bar-track" aria-hidden="true">
                  <span class="ds-bar" style={{ width: `${Math.round(row.share * 100)}%` }} />
                </span>
                {Math.round(row.share * 100)}%
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {frequency.tags.length > LIMIT ? (
        <button type="button" class="secondary outline small" onClick={() => setAll(!all)}>
          {all ? t("ds.freq.fewer") : t("ds.freq.all", { n: frequency.tags.length })}
        </button>
      ) : null}
    </div>
  );
}

function ImageRow({ ds, image }: { ds: DatasetState; image: DatasetImage }) {
  const id = `row-${image.file.replace(/[^a-zA-Z0-9_-]/gu, "_")}`;
  return (
    <div class="ds-tag-row" data-testid="tag-row" data-file={image.file}>
      <div class="ds-tag-row-thumb">
        <Thumb path={thumbPath(ds.name, image.file, 128)} alt="" />
        <small class="ds-tile-name" title={image.file}>
          {image.file}
        </small>
      </div>
      <CaptionEditor
        name={ds.name}
        image={image}
        draft={ds.drafts.get(image.file)}
        setDraft={ds.setDraft}
        onSaved={ds.onSaved}
        trigger={ds.trigger}
        idPrefix={id}
      />
    </div>
  );
}

export function TagsPanel({ ds }: { ds: DatasetState }) {
  const { t } = useI18n();
  const [frequency, setFrequency] = useState<Frequency | null>(null);
  const [freqError, setFreqError] = useState<unknown>(null);
  const [search, setSearch] = useState("");
  const [savingAll, setSavingAll] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const loadFrequency = () =>
    getJson<Frequency>(`${datasetApi(ds.name)}/tags`).then(
      (answer) => (setFrequency(answer), setFreqError(null)),
      setFreqError,
    );
  // the table follows the captions: any saved change reloads it
  useEffect(() => void loadFrequency(), [ds.name, ds.images]);
  const afterEdit = () => void ds.reload();

  const list = useMemo(() => {
    const needle = search.trim().toLowerCase();
    if (!needle) return ds.images;
    return ds.images.filter(
      (image) =>
        image.file.toLowerCase().includes(needle) ||
        image.tags.some((tag) => tag.toLowerCase().includes(needle)),
    );
  }, [ds.images, search]);
  const unsaved = [...ds.drafts.keys()].filter((file) => ds.images.some((image) => image.file === file));
  const saveAll = async () => {
    setSavingAll(true);
    setSaveError(null);
    try {
      for (const file of unsaved) {
        const tags = ds.drafts.get(file);
        if (!tags) continue;
        const saved = await sendJson<{ tags: string[] }>(
          `${datasetApi(ds.name)}/captions/${encodeURIComponent(file)}`,
          { tags },
          "PUT",
        );
        ds.setDraft(file, undefined);
        ds.onSaved(file, saved.tags);
      }
    } catch (caught) {
      setSaveError(caught);
    } finally {
      setSavingAll(false);
    }
  };

  return (
    <section aria-labelledby="ds-tags-title">
      <h2 id="ds-tags-title">{t("ds.tags.title")}</h2>
      <div class="ds-tags-top">
        <label>
          {t("ds.trigger")}
          <input
            type="text"
            value={ds.trigger}
            data-testid="trigger-input"
            aria-describedby="ds-trigger-help"
            onInput={(e) => ds.setTrigger((e.target as HTMLInputElement).value)}
          />
          <small id="ds-trigger-help">{t("ds.trigger.help")}</small>
        </label>
        <UndoBar ds={ds} afterEdit={afterEdit} />
      </div>
      <div class="ds-tags-tools">
        <BakePanel ds={ds} afterEdit={afterEdit} />
        <BulkPanel ds={ds} afterEdit={afterEdit} />
      </div>
      <details open>
        <summary>{t("ds.freq.title", { n: frequency?.tags.length ?? 0 })}</summary>
        <FrequencyTable frequency={frequency} error={freqError} />
      </details>

      <h3>{t("ds.tags.perImage")}</h3>
      <div class="ds-row">
        <label class="ds-grow">
          {t("ds.tags.search")}
          <input
            type="search"
            value={search}
            data-testid="tags-search"
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
          />
        </label>
        <button
          type="button"
          data-testid="save-all"
          disabled={unsaved.length === 0 || savingAll}
          aria-busy={savingAll}
          onClick={() => void saveAll()}
        >
          {t("ds.tags.saveAll", { n: unsaved.length })}
        </button>
      </div>
      <ErrorBox error={saveError} />
      {list.length === 0 ? (
        <p class="ds-muted">{t("ds.gallery.empty")}</p>
      ) : (
        <div class="ds-tag-list" data-testid="tag-list">
          <WindowVirtualizer data={list}>
            {(image: DatasetImage) => <ImageRow key={image.file} ds={ds} image={image} />}
          </WindowVirtualizer>
        </div>
      )}
    </section>
  );
}
