// One image's caption as tag chips: add (type, Enter), remove (×), move left/right, trigger word first;
// saved with PUT /captions/{file} (every save is an undoable batch).
import { useState } from "preact/hooks";
import { sendJson } from "../api.ts";
import { ErrorBox } from "./error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import { datasetApi, enc, splitTags, type DatasetImage } from "./dataset-common.tsx";

const same = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((tag, i) => tag === b[i]);

export function ChipEditor({
  tags,
  onChange,
  trigger,
  label,
  inputId,
}: {
  tags: string[];
  onChange: (tags: string[]) => void;
  trigger: string;
  label: string;
  inputId: string;
}) {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const add = () => {
    const fresh = splitTags(text).filter((tag) => !tags.includes(tag));
    if (fresh.length > 0) onChange([...tags, ...fresh]);
    setText("");
  };
  const move = (from: number, to: number) => {
    if (to < 0 || to >= tags.length) return;
    const next = [...tags];
    const [tag] = next.splice(from, 1);
    next.splice(to, 0, tag!);
    onChange(next);
  };
  const triggerWord = trigger.trim();
  return (
    <div class="ds-chips-editor">
      <ul class="ds-chips" aria-label={label}>
        {tags.map((tag, i) => (
          // keyed by the tag (and which repeat of it): a moved chip keeps its focused button
          <li
            key={`${tag}\u0000${tags.slice(0, i).filter((x) => x === tag).length}`}
            class="ds-chip"
            data-testid="tag-chip"
            data-tag={tag}
          >
            <span class="ds-chip-text">{tag}</span>
            <button
              type="button"
              class="ds-chip-btn"
              onClick={() => move(i, i - 1)}
              disabled={i === 0}
              aria-label={t("ds.chip.left", { tag })}
              title={t("ds.chip.left", { tag })}
              data-testid="tag-chip-left"
            >
              ‹
            </button>
            <button
              type="button"
              class="ds-chip-btn"
              onClick={() => move(i, i + 1)}
              disabled={i === tags.length - 1}
              aria-label={t("ds.chip.right", { tag })}
              title={t("ds.chip.right", { tag })}
              data-testid="tag-chip-right"
            >
              ›
            </button>
            <button
              type="button"
              class="ds-chip-btn"
              onClick={() => onChange(tags.filter((_, j) => j !== i))}
              aria-label={t("ds.chip.remove", { tag })}
              title={t("ds.chip.remove", { tag })}
              data-testid="tag-chip-remove"
            >
              ×
            </button>
          </li>
        ))}
        {tags.length === 0 ? <li class="ds-muted">{t("ds.chip.none")}</li> : null}
      </ul>
      <div class="ds-chip-add">
        <label for={inputId}>{t("ds.chip.add")}</label>
        <input
          id={inputId}
          type="text"
          value={text}
          data-testid="tag-input"
          placeholder={t("ds.chip.placeholder")}
          autocomplete="off"
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              add();
            }
          }}
        />
        {triggerWord ? (
          <button
            type="button"
            class="secondary outline small"
            data-testid="trigger-first"
            disabled={tags[0] === triggerWord}
            onClick={() => onChange([triggerWord, ...tags.filter((tag) => tag !== triggerWord)])}
          >
            {t("ds.chip.triggerFirst", { trigger: triggerWord })}
          </button>
        ) : null}
      </div>
    </div>
  );
}

/** The chips of one image with Save and Revert; the draft lives with the caller so it survives scrolling. */
export function CaptionEditor({
  name,
  image,
  draft,
  setDraft,
  onSaved,
  trigger,
  idPrefix,
}: {
  name: string;
  image: DatasetImage;
  draft: string[] | undefined;
  setDraft: (file: string, tags: string[] | undefined) => void;
  onSaved: (file: string, tags: string[]) => void;
  trigger: string;
  idPrefix: string;
}) {
  const { t } = useI18n();
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const tags = draft ?? image.tags;
  const dirty = draft !== undefined && !same(draft, image.tags);
  const save = async () => {
    setSaving(true);
    setError(null);
    try {
      const saved = await sendJson<{ tags: string[] }>(
        `${datasetApi(name)}/captions/${enc(image.file)}`,
        { tags },
        "PUT",
      );
      setDraft(image.file, undefined);
      onSaved(image.file, saved.tags);
    } catch (caught) {
      setError(caught);
    } finally {
      setSaving(false);
    }
  };
  return (
    <div class="ds-caption-editor" data-testid="caption-editor" data-file={image.file}>
      <ChipEditor
        tags={tags}
        onChange={(next) => setDraft(image.file, same(next, image.tags) ? undefined : next)}
        trigger={trigger}
        label={t("ds.chip.list", { file: image.file })}
        inputId={`${idPrefix}-tag-input`}
      />
      <div class="ds-row">
        <button
          type="button"
          class="small"
          disabled={!dirty || saving}
          aria-busy={saving}
          onClick={() => void save()}
          data-testid="caption-save"
        >
          {t("common.save")}
        </button>
        <button
          type="button"
          class="secondary outline small"
          disabled={!dirty || saving}
          onClick={() => setDraft(image.file, undefined)}
          data-testid="caption-revert"
        >
          {t("ds.chip.revert")}
        </button>
        {dirty ? <small class="ds-unsaved">{t("ds.chip.unsaved")}</small> : null}
      </div>
      <ErrorBox error={error} />
    </div>
  );
}
