// Tags: the trigger word, undo, bake-into-trigger (a dry run to look at, then accept or reject), bulk
// add/remove/replace, the frequency table, and every image's tags as chips (a virtual list).
import { useEffect, useMemo, useState } from "preact/hooks";
import { WindowVirtualizer } from "virtua";
import { ApiError, getJson, sendJson } from "../api.ts";
import { ErrorBox } from "./error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import { CaptionEditor } from "./dataset-chips.tsx";
import {
  FieldError,
  Thumb,
  datasetApi,
  errorAt,
  splitTags,
  thumbPath,
  type DatasetImage,
  type DatasetState,
} from "./dataset-common.tsx";

interface Frequency {
  images: number;
  tags: { tag: string; images: number; share: number }[];
}

interface EditResult {
  matched: number;
  changed: number;
  batch: number | null;
  dry_run: boolean;
  keep_first: number;
  trigger: string | null;
  traits?: string[];
  changes: { file: string; before: string[]; after: string[] }[];
}

interface UndoResult {
  batch: number;
  operation: string;
  created_at: string;
  restored: number;
  removed: number;
}

const SHOWN_CHANGES = 30;

/** Before → after of each changed caption: removed tags struck out, added ones marked. */
function Changes({ result }: { result: EditResult }) {
  const { t } = useI18n();
  if (result.changes.length === 0) return <p class="ds-muted">{t("ds.tags.noChange")}</p>;
  return (
    <ul class="ds-changes" data-testid="tag-changes">
      {result.changes.slice(0, SHOWN_CHANGES).map((change) => {
        const after = new Set(change.after);
        const before = new Set(change.before);
        return (
          <li key={change.file}>
            <strong>{change.file}</strong>:{" "}
            {change.before
              .filter((tag) => !after.has(tag))
              .map((tag) => (
                <del key={`-${tag}`}>{tag}</del>
              ))}
            {change.after.map((tag) =>
              before.has(tag) ? (
                <span key={tag} class="ds-kept">
                  {tag}
                </span>
              ) : (
                <ins key={`+${tag}`}>{tag}</ins>
              ),
            )}
          </li>
        );
      })}
      {result.changes.length > SHOWN_CHANGES ? (
        <li class="ds-muted">{t("ds.tags.more", { n: result.changes.length - SHOWN_CHANGES })}</li>
      ) : null}
    </ul>
  );
}

function Summary({ result }: { result: EditResult }) {
  const { t } = useI18n();
  return (
    <p data-testid="tag-result">
      {t(result.dry_run ? "ds.tags.wouldChange" : "ds.tags.changed", {
        changed: result.changed,
        matched: result.matched,
      })}
      {result.keep_first > 0 && result.trigger ? ` ${t("ds.tags.keptFirst", { tag: result.trigger })}` : ""}
    </p>
  );
}

function UndoBar({ ds, afterEdit }: { ds: DatasetState; afterEdit: () => void }) {
  const { t } = useI18n();
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const undo = async (force: boolean) => {
    setBusy(true);
    setMessage(null);
    setError(null);
    try {
      const result = await sendJson<UndoResult>(`${datasetApi(ds.name)}/tags/undo`, force ? { force } : {});
      setMessage(t("ds.undo.done", { operation: result.operation, n: result.restored + result.removed }));
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
              operation: ds.detail.undo.operation,
              when: new Date(ds.detail.undo.created_at).toLocaleString(),
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

function BakePanel({ ds, afterEdit }: { ds: DatasetState; afterEdit: () => void }) {
  const { t } = useI18n();
  const [minShare, setMinShare] = useState("0.6");
  const [proposal, setProposal] = useState<EditResult | null>(null);
  const [keep, setKeep] = useState<Set<string>>(new Set());
  const [applied, setApplied] = useState<EditResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const trigger = ds.trigger.trim();

  const propose = async () => {
    setBusy(true);
    setError(null);
    setApplied(null);
    try {
      const result = await sendJson<EditResult>(`${datasetApi(ds.name)}/tags`, {
        op: "bake",
        trigger,
        min_share: Number(minShare),
        dry_run: true,
      });
      setProposal(result);
      setKeep(new Set(result.traits ?? []));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const accept = async () => {
    if (!proposal) return;
    setBusy(true);
    setError(null);
    try {
      // exactly the traits looked at (and left ticked): not a new guess from the captions of now
      const result = await sendJson<EditResult>(`${datasetApi(ds.name)}/tags`, {
        op: "bake",
        trigger,
        traits: (proposal.traits ?? []).filter((tag) => keep.has(tag)),
        dry_run: false,
      });
      setApplied(result);
      setProposal(null);
      afterEdit();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const triggerError = errorAt(error, "trigger");
  const shareError = errorAt(error, "min_share");
  return (
    <section class="ds-card" aria-labelledby="ds-bake-title">
      <h3 id="ds-bake-title">{t("ds.bake.title")}</h3>
      <p>
        <small>{t("ds.bake.explain")}</small>
      </p>
      <div class="ds-row">
        <label>
          {t("ds.bake.minShare")}
          <input
            type="number"
            min="0.05"
            max="1"
            step="0.05"
            value={minShare}
            data-testid="bake-min-share"
            aria-invalid={shareError ? "true" : undefined}
            onInput={(e) => setMinShare((e.target as HTMLInputElement).value)}
          />
        </label>
        <button
          type="button"
          data-testid="bake-propose"
          disabled={!trigger || busy}
          aria-busy={busy && !proposal}
          onClick={() => void propose()}
        >
          {t("ds.bake.propose")}
        </button>
      </div>
      {!trigger ? <small class="ds-muted">{t("ds.bake.needTrigger")}</small> : null}
      <FieldError id="bake-trigger-error" error={triggerError ?? shareError} />
      {!triggerError && !shareError ? <ErrorBox error={error} /> : null}
      {proposal ? (
        <div class="ds-proposal" data-testid="bake-proposal">
          <Summary result={proposal} />
          {(proposal.traits ?? []).length > 0 ? (
            <fieldset>
              <legend>{t("ds.bake.traits")}</legend>
              {(proposal.traits ?? []).map((tag) => (
                <label key={tag} class="ds-inline">
                  <input
                    type="checkbox"
                    data-testid="bake-trait"
                    value={tag}
                    checked={keep.has(tag)}
                    onChange={(e) => {
                      const next = new Set(keep);
                      if ((e.target as HTMLInputElement).checked) next.add(tag);
                      else next.delete(tag);
                      setKeep(next);
                    }}
                  />
                  {tag}
                </label>
              ))}
            </fieldset>
          ) : (
            <p class="ds-muted">{t("ds.bake.noTraits")}</p>
          )}
          <Changes result={proposal} />
          <div class="ds-row">
            <button type="button" data-testid="bake-accept" disabled={busy} onClick={() => void accept()}>
              {t("ds.bake.accept")}
            </button>
            <button
              type="button"
              class="secondary outline"
              data-testid="bake-reject"
              onClick={() => setProposal(null)}
            >
              {t("ds.bake.reject")}
            </button>
          </div>
        </div>
      ) : null}
      {applied ? <Summary result={applied} /> : null}
    </section>
  );
}

type BulkOp = "add" | "remove" | "replace";

function BulkPanel({ ds, afterEdit }: { ds: DatasetState; afterEdit: () => void }) {
  const { t } = useI18n();
  const [op, setOp] = useState<BulkOp>("add");
  const [tags, setTags] = useState("");
  const [position, setPosition] = useState<"back" | "front">("back");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [only, setOnly] = useState("");
  const [result, setResult] = useState<EditResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const body = (dryRun: boolean) => {
    const filter = splitTags(only);
    return {
      op,
      dry_run: dryRun,
      ...(filter.length > 0 ? { filter: { any_of: filter } } : {}),
      ...(op === "add" ? { tags: splitTags(tags), position } : {}),
      ...(op === "remove" ? { tags: splitTags(tags) } : {}),
      ...(op === "replace" ? { from: from.trim(), to: to.trim() } : {}),
    };
  };
  const submit = async (dryRun: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const answer = await sendJson<EditResult>(`${datasetApi(ds.name)}/tags`, body(dryRun));
      setResult(answer);
      if (!dryRun) afterEdit();
    } catch (caught) {
      setError(caught);
      setResult(null);
    } finally {
      setBusy(false);
    }
  };
  const tagsError = errorAt(error, "tags");
  const fromError = errorAt(error, "from", "pattern");
  const toError = errorAt(error, "to");
  const filterError = errorAt(error, "filter.any_of", "filter");
  const shown = tagsError ?? fromError ?? toError ?? filterError;
  return (
    <section class="ds-card" aria-labelledby="ds-bulk-title">
      <h3 id="ds-bulk-title">{t("ds.bulk.title")}</h3>
      <form
        data-testid="bulk-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit(false);
        }}
      >
        <div class="ds-form-grid">
          <label>
            {t("ds.bulk.op")}
            <select
              value={op}
              data-testid="bulk-op"
              onChange={(e) => {
                setOp((e.target as HTMLSelectElement).value as BulkOp);
                setResult(null);
                setError(null);
              }}
            >
              <option value="add">{t("ds.bulk.op.add")}</option>
              <option value="remove">{t("ds.bulk.op.remove")}</option>
              <option value="replace">{t("ds.bulk.op.replace")}</option>
            </select>
          </label>
          {op === "replace" ? (
            <>
              <label>
                {t("ds.bulk.from")}
                <input
                  type="text"
                  value={from}
                  required
                  data-testid="bulk-from"
                  aria-invalid={fromError ? "true" : undefined}
                  aria-describedby={fromError ? "bulk-from-error" : undefined}
                  onInput={(e) => setFrom((e.target as HTMLInputElement).value)}
                />
                <FieldError id="bulk-from-error" error={fromError} />
              </label>
              <label>
                {t("ds.bulk.to")}
                <input
                  type="text"
                  value={to}
                  data-testid="bulk-to"
                  aria-invalid={toError ? "true" : undefined}
                  aria-describedby={toError ? "bulk-to-error" : undefined}
                  onInput={(e) => setTo((e.target as HTMLInputElement).value)}
                />
                <FieldError id="bulk-to-error" error={toError} />
              </label>
            </>
          ) : (
            <label>
              {t("ds.bulk.tags")}
              <input
                type="text"
                value={tags}
                required
                placeholder={t("ds.bulk.tagsPlaceholder")}
                data-testid="bulk-tags"
                aria-invalid={tagsError ? "true" : undefined}
                aria-describedby={tagsError ? "bulk-tags-error" : undefined}
                onInput={(e) => setTags((e.target as HTMLInputElement).value)}
              />
              <FieldError id="bulk-tags-error" error={tagsError} />
            </label>
          )}
          {op === "add" ? (
            <label>
              {t("ds.bulk.position")}
              <select
                value={position}
                data-testid="bulk-position"
                onChange={(e) => setPosition((e.target as HTMLSelectElement).value as "back" | "front")}
              >
                <option value="back">{t("ds.bulk.position.back")}</option>
                <option value="front">{t("ds.bulk.position.front")}</option>
              </select>
            </label>
          ) : null}
          <label>
            {t("ds.bulk.only")}
            <input
              type="text"
              value={only}
              placeholder={t("ds.bulk.onlyPlaceholder")}
              data-testid="bulk-filter"
              aria-invalid={filterError ? "true" : undefined}
              onInput={(e) => setOnly((e.target as HTMLInputElement).value)}
            />
            <FieldError id="bulk-filter-error" error={filterError} />
          </label>
        </div>
        <div class="ds-row">
          <button
            type="button"
            class="secondary"
            data-testid="bulk-preview"
            disabled={busy}
            onClick={(e) => {
              const form = (e.target as HTMLElement).closest("form");
              if (form && !form.reportValidity()) return;
              void submit(true);
            }}
          >
            {t("ds.bulk.preview")}
          </button>
          <button type="submit" data-testid="bulk-apply" disabled={busy} aria-busy={busy}>
            {t("ds.bulk.apply")}
          </button>
        </div>
        {!shown ? <ErrorBox error={error} /> : null}
      </form>
      {result ? (
        <div data-testid="bulk-result">
          <Summary result={result} />
          <Changes result={result} />
        </div>
      ) : null}
    </section>
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
