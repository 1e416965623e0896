// One dataset: upload into it, look at its images and their check flags, fix them, edit their tags, and
// start the jobs that tag it or lay it out for training.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useRoute } from "preact-iso";
import { getJson } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import { useI18n } from "../i18n/index.ts";
import {
  datasetApi,
  formatBytes,
  useTrigger,
  type CheckSummary,
  type DatasetDetail,
  type DatasetImage,
  type DatasetState,
  type ImagesAnswer,
  type JobSlot,
} from "../components/dataset-common.tsx";
import { UploadPanel } from "../components/dataset-upload.tsx";
import { GalleryPanel } from "../components/dataset-gallery.tsx";
import { TagsPanel } from "../components/dataset-tags.tsx";
import { JobsPanel } from "../components/dataset-jobs.tsx";

const TABS = ["upload", "gallery", "tags", "jobs"] as const;
type Tab = (typeof TABS)[number];
const isTab = (value: string | undefined): value is Tab => (TABS as readonly string[]).includes(value ?? "");

export default function DatasetPage() {
  const { params, query } = useRoute();
  const name = params.name ?? "";
  // a new dataset (a link from a crop or a layout result) starts from nothing
  return <DatasetView key={name} name={name} initialTab={isTab(query.tab) ? query.tab : null} />;
}

function DatasetView({ name, initialTab }: { name: string; initialTab: Tab | null }) {
  const { t } = useI18n();
  const [detail, setDetail] = useState<DatasetDetail | null>(null);
  const [images, setImages] = useState<DatasetImage[] | null>(null);
  const [check, setCheck] = useState<CheckSummary | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [tab, setTabState] = useState<Tab | null>(initialTab);
  const [drafts, setDrafts] = useState<ReadonlyMap<string, string[]>>(new Map());
  // the jobs started here, kept for this browser tab: coming back to the dataset shows them again
  const jobsKey = `danlu.dataset-jobs.${name}`;
  const [jobs, setJobs] = useState<Partial<Record<JobSlot, string>>>(() => {
    try {
      return JSON.parse(sessionStorage.getItem(jobsKey) ?? "{}") as Partial<Record<JobSlot, string>>;
    } catch {
      return {};
    }
  });
  const [trigger, setTrigger] = useTrigger(name);
  const detailTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(detailTimer.current), []);

  const reload = useCallback(async () => {
    try {
      const [info, answer] = await Promise.all([
        getJson<DatasetDetail>(datasetApi(name)),
        getJson<ImagesAnswer>(`${datasetApi(name)}/images?check=stored`),
      ]);
      setDetail(info);
      setImages(answer.images);
      setCheck(answer.check);
      setLoadError(null);
      setTabState((now) => now ?? (info.images === 0 ? "upload" : "gallery"));
    } catch (caught) {
      setLoadError(caught);
    }
  }, [name]);
  useEffect(() => void reload(), [reload]);

  const setTab = (next: Tab) => {
    setTabState(next);
    window.history.replaceState(
      window.history.state,
      "",
      `/datasets/${encodeURIComponent(name)}?tab=${next}`,
    );
  };

  const ds: DatasetState = useMemo(
    () => ({
      name,
      images: images ?? [],
      check,
      detail,
      reload,
      trigger,
      setTrigger,
      drafts,
      setDraft: (file, tags) =>
        setDrafts((now) => {
          const next = new Map(now);
          if (tags === undefined) next.delete(file);
          else next.set(file, tags);
          return next;
        }),
      onSaved: (file, tags) => {
        setImages((now) =>
          (now ?? []).map((image) =>
            image.file === file ? { ...image, tags, caption: tags.join(", ") } : image,
          ),
        );
        // the saved edit is what undo reverts now: read the dataset again once a run of saves is over
        clearTimeout(detailTimer.current);
        detailTimer.current = setTimeout(
          () => void getJson<DatasetDetail>(datasetApi(name)).then(setDetail, () => undefined),
          400,
        );
      },
      jobs,
      setJob: (slot, id) =>
        setJobs((now) => {
          const next = { ...now, [slot]: id };
          sessionStorage.setItem(jobsKey, JSON.stringify(next));
          return next;
        }),
    }),
    [name, images, check, detail, reload, trigger, drafts, jobs],
  );

  if (loadError && !detail) {
    return (
      <>
        <h1>{name}</h1>
        <ErrorBox error={loadError} />
        <p>
          <a href="/datasets">← {t("nav.datasets")}</a>
        </p>
      </>
    );
  }

  return (
    <>
      <p class="ds-breadcrumb">
        <a href="/datasets">← {t("nav.datasets")}</a>
      </p>
      <h1 class="ds-title">{name}</h1>
      <p class="ds-muted" data-testid="dataset-summary">
        {detail
          ? t("ds.summary", {
              images: detail.images,
              size: formatBytes(detail.bytes),
              captioned: detail.captioned,
            })
          : t("common.loading")}
      </p>
      <ErrorBox error={detail ? loadError : null} />
      <div role="tablist" class="ds-tabs" aria-label={t("ds.tabs")}>
        {TABS.map((key) => (
          <button
            key={key}
            type="button"
            role="tab"
            id={`ds-tab-${key}`}
            aria-selected={tab === key}
            aria-controls={`ds-panel-${key}`}
            class={tab === key ? "" : "secondary outline"}
            data-testid={`tab-${key}`}
            onClick={() => setTab(key)}
            onKeyDown={(e) => {
              const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
              if (!step) return;
              const next = TABS[(TABS.indexOf(key) + step + TABS.length) % TABS.length]!;
              setTab(next);
              document.getElementById(`ds-tab-${next}`)?.focus();
            }}
          >
            {t(`ds.tab.${key}`)}
            {key === "gallery" && images ? ` (${images.length})` : ""}
            {key === "tags" && drafts.size > 0 ? ` •` : ""}
          </button>
        ))}
      </div>
      {/* upload and jobs stay mounted (an upload or a form keeps going); gallery and tags come and go */}
      <div role="tabpanel" id="ds-panel-upload" aria-labelledby="ds-tab-upload" hidden={tab !== "upload"}>
        <UploadPanel name={name} onUploaded={() => void reload()} />
      </div>
      <div role="tabpanel" id="ds-panel-gallery" aria-labelledby="ds-tab-gallery" hidden={tab !== "gallery"}>
        {tab === "gallery" && images ? <GalleryPanel ds={ds} /> : null}
      </div>
      <div role="tabpanel" id="ds-panel-tags" aria-labelledby="ds-tab-tags" hidden={tab !== "tags"}>
        {tab === "tags" && images ? <TagsPanel ds={ds} /> : null}
      </div>
      <div role="tabpanel" id="ds-panel-jobs" aria-labelledby="ds-tab-jobs" hidden={tab !== "jobs"}>
        <JobsPanel ds={ds} />
      </div>
    </>
  );
}
