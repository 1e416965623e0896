import { useState } from "preact/hooks";
import { ApiError, getJson, setToken } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import { useI18n } from "../i18n/index.ts";

export interface Me {
  id: string;
  name: string;
  role: "admin" | "user";
}

export function SignIn({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const { t } = useI18n();
  const [token, setValue] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setToken(token.trim());
    try {
      onSignedIn(await getJson<Me>("/api/me"));
    } catch (caught) {
      setToken(null);
      setError(caught instanceof ApiError && caught.status === 401 ? new Error(t("signin.bad")) : caught);
    }
  };
  return (
    <main class="container narrow">
      <h1>{t("signin.title")}</h1>
      <form onSubmit={submit}>
        <label>
          {t("signin.token")}
          <input
            name="token"
            type="password"
            autocomplete="current-password"
            value={token}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
            aria-describedby="token-help"
            required
          />
        </label>
        <small id="token-help">{t("signin.help")}</small>
        <ErrorBox error={error} />
        <button type="submit">{t("signin.submit")}</button>
      </form>
    </main>
  );
}
