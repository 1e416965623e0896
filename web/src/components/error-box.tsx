import { ApiError } from "../api.ts";
import { useI18n } from "../i18n/index.ts";

/** An API error as the API said it: the message, and the hint on what to do. */
export function ErrorBox({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const body =
    error instanceof ApiError ? error.body : { message: String((error as Error).message ?? error) };
  return (
    <div role="alert" class="error-box">
      <strong>{t("common.error")}:</strong> {body.message}
      {"hint" in body && body.hint ? (
        <div>
          <small>
            {t("common.hint")}: {body.hint}
          </small>
        </div>
      ) : null}
    </div>
  );
}
