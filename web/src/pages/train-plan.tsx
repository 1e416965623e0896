// The train form's read-only parts: a preset's settings with their reasons (in the UI's language) and
// the plan before starting (its numbers worded here, the CLI's full report beside them).
import { useI18n } from "../i18n/index.ts";
import "../i18n/train.ts";

export interface PresetTexts {
  name: string;
  summary: string;
  settings: { key: string; value: unknown; reason: string }[];
  missing: string[];
  advice: { topic: string; text: string }[];
}

/** A preset as GET /api/presets serves it: English, with the same texts in Chinese beside. */
export interface Preset extends PresetTexts {
  zh: PresetTexts;
}

/** The preset's texts in the UI's language. */
export const inLang = (preset: Preset, lang: string): PresetTexts => (lang === "zh" ? preset.zh : preset);

export interface Plan {
  report: string;
  warnings: string[];
  total_steps: number;
  epochs: number;
  arch: string;
  details: {
    subsets: { name: string; images: number; repeats: number }[];
    reg_images: number;
    images_per_epoch: number;
    batch_size: number;
    gradient_accumulation_steps: number;
    steps_per_epoch: number;
    buckets: { width: number; height: number; count: number }[];
    save_every_n_epochs: number;
    save_every_n_steps: number;
  };
}

/** The fields outside the config an API error may name. */
export function showValue(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

export function PresetDetails({ preset: both }: { preset: Preset }) {
  const { t, lang } = useI18n();
  const preset = inLang(both, lang);
  return (
    <details open data-testid="preset-details">
      <summary>{t("train.preset.settings", { name: preset.name, n: preset.settings.length })}</summary>
      <div class="job-scroll">
        <table class="striped train-preset">
          <thead>
            <tr>
              <th scope="col">{t("train.preset.key")}</th>
              <th scope="col">{t("train.preset.value")}</th>
              <th scope="col">{t("train.preset.reason")}</th>
            </tr>
          </thead>
          <tbody>
            {preset.settings.map((setting) => (
              <tr key={setting.key} data-testid="preset-setting" data-key={setting.key}>
                <td>{setting.key}</td>
                <td>
                  <code>{showValue(setting.value)}</code>
                </td>
                <td>
                  <small>{setting.reason}</small>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {preset.advice.length > 0 ? (
        <>
          <h3>{t("train.preset.advice")}</h3>
          <ul>
            {preset.advice.map((line) => (
              <li key={line.topic}>
                <small>
                  {line.topic}: {line.text}
                </small>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {preset.missing.length > 0 ? (
        <>
          <h3>{t("train.preset.missing")}</h3>
          <ul>
            {preset.missing.map((line) => (
              <li key={line}>
                <small>{line}</small>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </details>
  );
}

/** The plan's numbers in the reader's language: images x repeats / batch, buckets, what is saved. */
function PlanDetails({ plan }: { plan: Plan }) {
  const { t } = useI18n();
  const d = plan.details;
  const list = d.subsets.map((s) =>
    t("train.plan.subset", { name: s.name, images: s.images, repeats: s.repeats }),
  );
  const accum =
    d.gradient_accumulation_steps > 1 ? t("train.plan.accum", { n: d.gradient_accumulation_steps }) : "";
  const buckets = d.buckets.map((b) => `${b.width}×${b.height}: ${b.count}`).join(", ");
  return (
    <ul data-testid="plan-details">
      <li>
        {t("train.plan.epoch", {
          images: d.images_per_epoch,
          list: list.join("; "),
          batch: d.batch_size,
          accum,
          steps: d.steps_per_epoch,
        })}
      </li>
      {d.reg_images > 0 ? <li>{t("train.plan.reg", { n: d.reg_images })}</li> : null}
      <li>{t("train.plan.buckets", { list: buckets })}</li>
      <li>
        {d.save_every_n_epochs > 0
          ? t("train.plan.saves.epochs", { n: d.save_every_n_epochs })
          : t("train.plan.saves.final")}
        {d.save_every_n_steps > 0 ? ` ${t("train.plan.saves.steps", { n: d.save_every_n_steps })}` : ""}
      </li>
    </ul>
  );
}

export function PlanView({ plan, stale }: { plan: Plan; stale: boolean }) {
  const { t, lang } = useI18n();
  return (
    <section aria-labelledby="plan-title" class="train-plan" data-testid="plan-report" aria-live="polite">
      <h2 id="plan-title">{t("train.plan.title")}</h2>
      <p>
        <strong data-testid="plan-summary" data-steps={plan.total_steps} data-epochs={plan.epochs}>
          {t("train.plan.summary", { steps: plan.total_steps, epochs: plan.epochs, arch: plan.arch })}
        </strong>
      </p>
      {stale ? (
        <p class="job-muted" data-testid="plan-stale">
          <small>{t("train.plan.stale")}</small>
        </p>
      ) : null}
      {plan.warnings.length > 0 ? (
        <div class="error-box" data-testid="plan-warnings">
          <strong>{t("train.plan.warnings")}</strong>
          <ul>
            {plan.warnings.map((warning) => (
              <li key={warning}>
                <small>{warning}</small>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <PlanDetails plan={plan} />
      <details open={lang !== "zh"}>
        <summary>{t("train.plan.full")}</summary>
        <pre tabIndex={0} aria-label={t("train.plan.full")}>
          {plan.report}
        </pre>
      </details>
    </section>
  );
}
