import { LocationProvider, Route, Router, lazy } from "preact-iso";
import { useEffect, useMemo, useState } from "preact/hooks";
import { getJson, getToken, setToken } from "./api.ts";
import {
  I18nContext,
  initialLang,
  saveLang,
  translate,
  useI18n as useContext18n,
  type Lang,
} from "./i18n/index.ts";
import { SignIn, type Me } from "./pages/signin.tsx";

// Pages load on demand, so the first page's JavaScript stays small.
const Datasets = lazy(() => import("./pages/datasets.tsx"));
const Dataset = lazy(() => import("./pages/dataset.tsx"));
const Train = lazy(() => import("./pages/train.tsx"));
const Jobs = lazy(() => import("./pages/jobs.tsx"));
const JobPage = lazy(() => import("./pages/job.tsx"));
const Generate = lazy(() => import("./pages/generate.tsx"));
const Portraits = lazy(() => import("./pages/portrait.tsx"));

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(Boolean(getToken()));
  const i18n = useMemo(
    () => ({
      lang,
      setLang: (next: Lang) => {
        saveLang(next);
        setLangState(next);
      },
      t: (key: string, vars?: Record<string, string | number>) => translate(lang, key, vars),
    }),
    [lang],
  );
  useEffect(() => saveLang(lang), []);
  useEffect(() => {
    if (!getToken()) return;
    getJson<Me>("/api/me")
      .then(setMe)
      .catch(() => setToken(null))
      .finally(() => setChecking(false));
  }, []);
  const { t } = i18n;
  return (
    <I18nContext.Provider value={i18n}>
      {checking ? (
        <main class="container" aria-busy="true">
          {t("common.loading")}
        </main>
      ) : !me ? (
        <>
          <LanguageSwitch />
          <SignIn onSignedIn={setMe} />
        </>
      ) : (
        <LocationProvider>
          <Header me={me} onSignOut={() => (setToken(null), setMe(null))} />
          <main class="container">
            <Router>
              <Route path="/" component={Datasets} />
              <Route path="/datasets" component={Datasets} />
              <Route path="/datasets/:name" component={Dataset} />
              <Route path="/train" component={Train} />
              <Route path="/jobs" component={Jobs} />
              <Route path="/jobs/:id" component={JobPage} />
              <Route path="/generate" component={Generate} />
              <Route path="/portraits" component={Portraits} />
            </Router>
          </main>
        </LocationProvider>
      )}
    </I18nContext.Provider>
  );
}

function LanguageSwitch() {
  const { lang, setLang, t } = useContext18n();
  return (
    <div class="lang-switch">
      <label>
        <span class="visually-hidden">{t("nav.language")}</span>
        <select
          name="language"
          aria-label={t("nav.language")}
          value={lang}
          onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)}
        >
          <option value="zh">中文</option>
          <option value="en">English</option>
        </select>
      </label>
    </div>
  );
}

function Header({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  const { t } = useContext18n();
  return (
    <header class="container">
      <nav aria-label={t("nav.menu")}>
        <ul>
          <li>
            <a href="/" class="brand">
              <strong>{t("app.title")}</strong>
            </a>
          </li>
        </ul>
        <ul class="nav-links">
          <li>
            <a href="/datasets">{t("nav.datasets")}</a>
          </li>
          <li>
            <a href="/train">{t("nav.train")}</a>
          </li>
          <li>
            <a href="/jobs">{t("nav.jobs")}</a>
          </li>
          <li>
            <a href="/generate">{t("nav.generate")}</a>
          </li>
          <li>
            <a href="/portraits">{t("nav.portraits")}</a>
          </li>
          <li>
            <LanguageSwitch />
          </li>
          <li>
            <button
              class="secondary outline small"
              onClick={onSignOut}
              title={t("common.signedin", { name: me.name })}
            >
              {t("nav.signout")}
            </button>
          </li>
        </ul>
      </nav>
    </header>
  );
}
