// The generate form's A1111 extras: img2img from a generated image, hires fix (generate, upscale, a second
// pass) and face detailing (what the ADetailer extension does). Each switch shows its settings when on.
import type { ComponentChildren } from "preact";
import { useI18n } from "../i18n/index.ts";
import { JobImage } from "../components/job-common.tsx";
import { HIRES_UPSCALERS, type DetailForm, type HiresForm, type InitImage } from "./generate-params.ts";

const ROW = {
  display: "grid",
  gridTemplateColumns: "repeat(auto-fit, minmax(7rem, 1fr))",
  columnGap: "var(--pico-grid-column-gap)",
  alignItems: "end",
};

function NumberInput(props: {
  id: string;
  label: string;
  value: string;
  min: number;
  max: number;
  step: number;
  onInput: (value: string) => void;
}) {
  return (
    <div>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="number"
        data-testid={props.id}
        inputMode={props.step < 1 ? "decimal" : "numeric"}
        required
        min={props.min}
        max={props.max}
        step={props.step}
        value={props.value}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
    </div>
  );
}

/** A switch with its help; the section's settings (children) show while it is on. */
function SwitchSection(props: {
  id: string;
  label: string;
  help: string;
  on: boolean;
  onToggle: (on: boolean) => void;
  error: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <fieldset data-testid={props.id}>
      <label>
        <input
          type="checkbox"
          role="switch"
          data-testid={`${props.id}-on`}
          checked={props.on}
          onChange={(e) => props.onToggle((e.target as HTMLInputElement).checked)}
          aria-describedby={`${props.id}-help`}
        />
        {props.label}
      </label>
      <small id={`${props.id}-help`}>{props.help}</small>
      {props.on ? props.children : null}
      {props.error}
    </fieldset>
  );
}

export function HiresFields({
  value,
  onChange,
  error,
}: {
  value: HiresForm;
  onChange: (next: HiresForm) => void;
  error: ComponentChildren;
}) {
  const { t } = useI18n();
  const set = (change: Partial<HiresForm>) => onChange({ ...value, ...change });
  return (
    <SwitchSection
      id="gen-hires"
      label={t("gen.hires")}
      help={t("gen.hires.help")}
      on={value.on}
      onToggle={(on) => set({ on })}
      error={error}
    >
      <div style={ROW}>
        <NumberInput
          id="gen-hires-scale"
          label={t("gen.hires.scale")}
          value={value.scale}
          min={1}
          max={8}
          step={0.05}
          onInput={(scale) => set({ scale })}
        />
        <NumberInput
          id="gen-hires-steps"
          label={t("gen.hires.steps")}
          value={value.steps}
          min={0}
          max={150}
          step={1}
          onInput={(steps) => set({ steps })}
        />
        <NumberInput
          id="gen-hires-denoising"
          label={t("gen.denoising")}
          value={value.denoising}
          min={0.01}
          max={1}
          step={0.01}
          onInput={(denoising) => set({ denoising })}
        />
      </div>
      <label for="gen-hires-upscaler">{t("gen.hires.upscaler")}</label>
      <select
        id="gen-hires-upscaler"
        data-testid="gen-hires-upscaler"
        value={value.upscaler}
        onChange={(e) => set({ upscaler: (e.target as HTMLSelectElement).value })}
      >
        {HIRES_UPSCALERS.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
      <small>{t("gen.hires.steps.help")}</small>
    </SwitchSection>
  );
}

export function DetailFields({
  value,
  onChange,
  error,
}: {
  value: DetailForm;
  onChange: (next: DetailForm) => void;
  error: ComponentChildren;
}) {
  const { t } = useI18n();
  const set = (change: Partial<DetailForm>) => onChange({ ...value, ...change });
  return (
    <SwitchSection
      id="gen-detail"
      label={t("gen.detail")}
      help={t("gen.detail.help")}
      on={value.on}
      onToggle={(on) => set({ on })}
      error={error}
    >
      <div style={ROW}>
        <div style={{ gridColumn: "span 2" }}>
          <label for="gen-detail-prompt">{t("gen.detail.prompt")}</label>
          <input
            id="gen-detail-prompt"
            type="text"
            data-testid="gen-detail-prompt"
            placeholder={t("gen.detail.prompt.placeholder")}
            value={value.prompt}
            onInput={(e) => set({ prompt: (e.target as HTMLInputElement).value })}
          />
        </div>
        <NumberInput
          id="gen-detail-denoising"
          label={t("gen.denoising")}
          value={value.denoising}
          min={0.01}
          max={1}
          step={0.01}
          onInput={(denoising) => set({ denoising })}
        />
      </div>
    </SwitchSection>
  );
}

/** img2img from one of the user's generated images: the image, how much is redrawn, and the way back. */
export function Img2ImgFields({
  init,
  strength,
  onStrength,
  onClear,
  error,
}: {
  init: InitImage;
  strength: string;
  onStrength: (strength: string) => void;
  onClear: () => void;
  error: ComponentChildren;
}) {
  const { t } = useI18n();
  return (
    <fieldset data-testid="gen-init">
      <legend>{t("gen.img2img")}</legend>
      <div style={{ display: "grid", gridTemplateColumns: "6rem minmax(0, 1fr)", gap: "0.75rem" }}>
        <JobImage jobId={init.job} path={init.file} alt={t("gen.img2img.image")} testid="gen-init-image" />
        <div>
          <NumberInput
            id="gen-strength"
            label={t("gen.denoising")}
            value={strength}
            min={0}
            max={1}
            step={0.01}
            onInput={onStrength}
          />
          <small>{t("gen.img2img.help")}</small>
        </div>
      </div>
      <button type="button" class="secondary outline small" data-testid="gen-init-clear" onClick={onClear}>
        {t("gen.img2img.clear")}
      </button>
      {error}
    </fieldset>
  );
}
