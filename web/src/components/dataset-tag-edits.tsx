// Bulk tag edits on a dataset's captions: bake-into-trigger (a dry run to look at, then accept or
// reject) and add/remove/replace over the (filtered) images, each showing what changed before -> after.
import { useState } from "preact/hooks";
import { sendJson } from "../api.ts";
import { ErrorBox } from "./error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import { FieldError, datasetApi, errorAt, splitTags, type DatasetState } from "./dataset-common.tsx";

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

export function BakePanel({ ds, afterEdit }: { ds: DatasetState; afterEdit: () => void }) {
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

export function BulkPanel({ ds, afterEdit }: { ds: DatasetState; afterEdit: () => void }) {
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
