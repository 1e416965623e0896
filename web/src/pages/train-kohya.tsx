// sd-scripts / kohya_ss config TOML: import (paste or upload; fills the form, lists what did not carry
// over) and export (these settings as a TOML file to download).
import { useState } from "preact/hooks";
import { sendJson } from "../api.ts";
import { ErrorBox } from "../components/error-box.tsx";
import { useI18n } from "../i18n/index.ts";

/** Hands a text to the browser as a file download. */
export function saveText(text: string, name: string, type = "application/toml"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function KohyaImport({ onImport }: { onImport: (config: Record<string, unknown>) => string[] }) {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [warnings, setWarnings] = useState<string[] | null>(null);
  const [count, setCount] = useState(0);

  const load = async (file: File | undefined) => {
    if (!file) return;
    setText(await file.text());
  };
  const submit = async () => {
    setBusy(true);
    setError(null);
    setWarnings(null);
    try {
      const answer = await sendJson<{ config: Record<string, unknown>; warnings: string[] }>(
        "/api/train/kohya-import",
        { toml: text },
      );
      const skipped = onImport(answer.config);
      setCount(Object.keys(answer.config).length - skipped.length);
      setWarnings([...answer.warnings, ...skipped.map((key) => t("kohya.skipped", { key }))]);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details data-testid="kohya-import">
      <summary>{t("kohya.import.title")}</summary>
      <p class="job-muted">{t("kohya.import.intro")}</p>
      <label>
        {t("kohya.import.file")}
        <input
          type="file"
          name="kohya-file"
          accept=".toml,text/plain,application/toml"
          onChange={(e) => void load((e.target as HTMLInputElement).files?.[0])}
          data-testid="kohya-file"
        />
      </label>
      <label>
        {t("kohya.import.paste")}
        <textarea
          name="kohya-toml"
          rows={6}
          value={text}
          spellcheck={false}
          placeholder={"network_dim = 32\nlearning_rate = 1e-4\nmax_train_epochs = 10"}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          data-testid="kohya-toml"
          class="job-mono"
        />
      </label>
      <button
        type="button"
        class="secondary"
        onClick={() => void submit()}
        disabled={busy || text.trim() === ""}
        aria-busy={busy}
        data-testid="kohya-import-button"
      >
        {t("kohya.import.button")}
      </button>
      <ErrorBox error={error} />
      {warnings ? (
        <div role="status" data-testid="kohya-import-result">
          <p>{t("kohya.import.done", { n: count })}</p>
          {warnings.length > 0 ? (
            <ul>
              {warnings.map((warning) => (
                <li key={warning}>
                  <small>{warning}</small>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </details>
  );
}
