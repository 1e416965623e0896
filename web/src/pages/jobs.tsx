import { useI18n } from "../i18n/index.ts";

export default function Page() {
  const { t } = useI18n();
  return <h1>{t("nav.jobs")}</h1>;
}
