// The portrait form's "more settings": candidates per style, sampling steps, size and seed over every
// style, and the training steps over the portrait preset. An empty field leaves the default (each style's
// own, or the preset's), so a beginner can ignore the whole section.
import { useEffect, useRef } from "preact/hooks";
import type { ApiError } from "../api.ts";
import { FieldError, invalidProps } from "../components/job-common.tsx";
import { useI18n } from "../i18n/index.ts";

export interface Advanced {
  candidates: string;
  steps: string;
  width: string;
  height: string;
  seed: string;
  trainSteps: string;
}

export const NO_ADVANCED: Advanced = {
  candidates: "",
  steps: "",
  width: "",
  height: "",
  seed: "",
  trainSteps: "",
};

/** The API param each field sets (the key its errors name). */
const PARAM: Record<keyof Advanced, string> = {
  candidates: "candidates",
  steps: "gen_steps",
  width: "width",
  height: "height",
  seed: "seed",
  trainSteps: "config.max_train_steps",
};
export const ADVANCED_PARAMS = Object.values(PARAM);

/** POST /api/portraits params of the filled fields; candidates default to twice the portraits kept. */
export function advancedParams(a: Advanced, count: number): Record<string, unknown> {
  const number = (text: string) => (text.trim() === "" ? undefined : Number(text));
  const trainSteps = number(a.trainSteps);
  const params: Record<string, unknown> = {
    candidates: number(a.candidates) ?? count * 2,
    gen_steps: number(a.steps),
    width: number(a.width),
    height: number(a.height),
    seed: number(a.seed),
    ...(trainSteps === undefined ? {} : { config: { max_train_steps: trainSteps } }),
  };
  return Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined));
}

const FIELDS: { key: keyof Advanced; min: number; step?: number; help: string }[] = [
  { key: "candidates", min: 1, help: "pt.candidates.help" },
  { key: "steps", min: 1, help: "pt.same" },
  { key: "width", min: 64, step: 8, help: "pt.same" },
  { key: "height", min: 64, step: 8, help: "pt.same" },
  { key: "seed", min: 0, help: "pt.same" },
  { key: "trainSteps", min: 1, help: "pt.trainsteps.help" },
];

export function PortraitAdvanced({
  value,
  onChange,
  count,
  at,
}: {
  value: Advanced;
  onChange: (next: Advanced) => void;
  count: number;
  at: (field: string) => ApiError | null;
}) {
  const { t } = useI18n();
  const details = useRef<HTMLDetailsElement>(null);
  const failed = FIELDS.some(({ key }) => at(PARAM[key]));
  // an error about one of these fields opens the section (it is never closed for the user)
  useEffect(() => {
    if (failed && details.current) details.current.open = true;
  }, [failed]);
  return (
    <details data-testid="pt-advanced" ref={details}>
      <summary>{t("pt.advanced")}</summary>
      <div class="grid pt-advanced">
        {FIELDS.map(({ key, min, step, help }) => {
          const error = at(PARAM[key]);
          const id = `pt-${key}`;
          return (
            <label key={key}>
              {t(`pt.${key.toLowerCase()}`)}
              <input
                type="number"
                name={PARAM[key]}
                min={min}
                step={step ?? 1}
                value={value[key]}
                placeholder={key === "candidates" ? String(count * 2) : ""}
                data-testid={id}
                aria-describedby={error ? `${id}-error` : `${id}-help`}
                {...invalidProps(error, `${id}-error`)}
                onInput={(e) => onChange({ ...value, [key]: (e.target as HTMLInputElement).value })}
              />
              <small id={`${id}-help`}>{t(help)}</small>
              <FieldError id={`${id}-error`} error={error} />
            </label>
          );
        })}
      </div>
    </details>
  );
}
