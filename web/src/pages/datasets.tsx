// The user's datasets: name, images, size; create one (the API's error at the name field), delete one
// (after a confirm), open one.
import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { getJson, request, sendJson } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import {
  FieldError,
  datasetApi,
  enc,
  errorAt,
  formatBytes,
  formatTime,
  type DatasetSummary,
} from "../components/dataset-common.tsx";

export default function DatasetsPage() {
  const { t, lang } = useI18n();
  const { route } = useLocation();
  const [datasets, setDatasets] = useState<DatasetSummary[] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [name, setName] = useState("");
  const [createError, setCreateError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [confirm, setConfirm] = useState<string | null>(null);
  const [deleteError, setDeleteError] = useState<{ name: string; error: unknown } | null>(null);

  const load = () =>
    getJson<{ datasets: DatasetSummary[] }>("/api/datasets").then(
      (answer) => (setDatasets(answer.datasets), setLoadError(null)),
      setLoadError,
    );
  useEffect(() => void load(), []);

  const create = async (event: Event) => {
    event.preventDefault();
    setCreating(true);
    setCreateError(null);
    try {
      const made = await sendJson<DatasetSummary>("/api/datasets", { name: name.trim() });
      route(`/datasets/${enc(made.name)}?tab=upload`);
    } catch (caught) {
      setCreateError(caught);
    } finally {
      setCreating(false);
    }
  };
  const remove = async (target: string) => {
    setDeleteError(null);
    try {
      await request(datasetApi(target), { method: "DELETE" });
      setConfirm(null);
      await load();
    } catch (caught) {
      setDeleteError({ name: target, error: caught });
    }
  };
  const nameError = errorAt(createError, "name");

  return (
    <>
      <h1>{t("nav.datasets")}</h1>
      <section aria-labelledby="ds-create-title">
        <h2 id="ds-create-title" class="ds-h3">
          {t("dsl.create.title")}
        </h2>
        <form onSubmit={(e) => void create(e)} data-testid="create-form" class="ds-create">
          <label for="ds-new-name">{t("dsl.create.name")}</label>
          <div class="ds-create-row">
            <input
              id="ds-new-name"
              name="name"
              type="text"
              value={name}
              required
              autocomplete="off"
              placeholder={t("dsl.create.placeholder")}
              data-testid="create-name"
              aria-invalid={nameError ? "true" : undefined}
              aria-describedby={nameError ? "ds-new-name-error" : "ds-new-name-help"}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
            />
            <button type="submit" data-testid="create-submit" aria-busy={creating} disabled={creating}>
              {t("common.create")}
            </button>
          </div>
          {nameError ? (
            <FieldError id="ds-new-name-error" error={nameError} />
          ) : (
            <small id="ds-new-name-help">{t("dsl.create.help")}</small>
          )}
          {!nameError ? <ErrorBox error={createError} /> : null}
        </form>
      </section>

      <section aria-labelledby="ds-list-title">
        <h2 id="ds-list-title" class="ds-h3">
          {t("dsl.list.title")}
        </h2>
        <ErrorBox error={loadError} />
        {datasets === null && !loadError ? <p aria-busy="true">{t("common.loading")}</p> : null}
        {datasets !== null && datasets.length === 0 ? (
          <p class="ds-muted" data-testid="datasets-empty">
            {t("dsl.list.empty")}
          </p>
        ) : null}
        {datasets && datasets.length > 0 ? (
          <div class="overflow-auto">
            <table class="ds-table" data-testid="datasets-table">
              <thead>
                <tr>
                  <th scope="col">{t("common.name")}</th>
                  <th scope="col" class="ds-wide-only">
                    {t("dsl.list.images")}
                  </th>
                  <th scope="col" class="ds-wide-only">
                    {t("dsl.list.size")}
                  </th>
                  <th scope="col" class="ds-wide-only">
                    {t("dsl.list.modified")}
                  </th>
                  <th scope="col">
                    <span class="visually-hidden">{t("dsl.list.actions")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {datasets.map((dataset) => (
                  <tr key={dataset.name} data-testid="dataset-row" data-name={dataset.name}>
                    <td>
                      <a href={`/datasets/${enc(dataset.name)}`} data-testid="dataset-link">
                        {dataset.name}
                      </a>
                      {/* narrow screens: the counts under the name, not in columns of their own */}
                      <small class="ds-narrow-only ds-muted">
                        {t("dsl.list.counts", { images: dataset.images, size: formatBytes(dataset.bytes) })}
                      </small>
                    </td>
                    <td class="ds-wide-only">{dataset.images}</td>
                    <td class="ds-wide-only">{formatBytes(dataset.bytes)}</td>
                    <td class="ds-wide-only">{formatTime(dataset.modified_at, lang)}</td>
                    <td class="ds-actions">
                      {confirm === dataset.name ? (
                        <span
                          class="ds-confirm"
                          role="group"
                          aria-label={t("dsl.delete.confirm", { name: dataset.name, images: dataset.images })}
                        >
                          <small>
                            {t("dsl.delete.confirm", { name: dataset.name, images: dataset.images })}
                          </small>
                          <button
                            type="button"
                            class="small ds-danger"
                            data-testid="delete-confirm"
                            onClick={() => void remove(dataset.name)}
                          >
                            {t("common.delete")}
                          </button>
                          <button
                            type="button"
                            class="secondary outline small"
                            data-testid="delete-cancel"
                            onClick={() => setConfirm(null)}
                          >
                            {t("common.cancel")}
                          </button>
                        </span>
                      ) : (
                        <button
                          type="button"
                          class="secondary outline small"
                          data-testid="delete-dataset"
                          aria-label={t("dsl.delete.label", { name: dataset.name })}
                          onClick={() => (setConfirm(dataset.name), setDeleteError(null))}
                        >
                          {t("common.delete")}
                        </button>
                      )}
                      {deleteError?.name === dataset.name ? <ErrorBox error={deleteError.error} /> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
    </>
  );
}
