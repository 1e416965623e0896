// The live loss chart of a training job (uPlot): each step's loss, an EMA-smoothed line over it, the
// learning rate on a second axis, and validation loss as points when the run measures it. The box keeps
// its height from the start, so nothing below it moves when the first step arrives.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useI18n } from "../i18n/index.ts";
import "../i18n/jobs.ts";

/** The steps so far, in step order (x), with their loss and learning rate. */
export interface LossData {
  steps: number[];
  loss: number[];
  lr: number[];
}

export interface ValidationPoint {
  step: number;
  loss: number;
}

const COLORS = {
  loss: "rgba(127, 140, 160, 0.55)",
  ema: "#1f77d0",
  lr: "#d98a00",
  val: "#1e9e57",
};

/** Whole steps on the x axis, however few there are. */
const STEP_INCREMENTS = [
  1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 50_000,
];

/** Exponential moving average with the start-up bias taken out (as TensorBoard's smoothing). */
export function ema(values: number[], smoothing: number): number[] {
  const out: number[] = new Array<number>(values.length);
  let value = 0;
  let weight = 0;
  for (let i = 0; i < values.length; i += 1) {
    value = smoothing * value + (1 - smoothing) * values[i]!;
    weight = smoothing * weight + (1 - smoothing);
    out[i] = value / weight;
  }
  return out;
}

/** x = every step with a loss or a validation loss; the other series null where they have no value. */
function aligned(data: LossData, validation: ValidationPoint[], smoothing: number): uPlot.AlignedData {
  const smooth = ema(data.loss, smoothing);
  if (validation.length === 0) {
    return [data.steps, data.loss, smooth, data.lr, data.steps.map(() => null)];
  }
  const valAt = new Map(validation.map((point) => [point.step, point.loss]));
  const steps = [...new Set([...data.steps, ...valAt.keys()])].sort((a, b) => a - b);
  const index = new Map(data.steps.map((step, i) => [step, i]));
  const pick = (values: number[]) =>
    steps.map((step) => {
      const i = index.get(step);
      return i === undefined ? null : values[i]!;
    });
  return [steps, pick(data.loss), pick(smooth), pick(data.lr), steps.map((step) => valAt.get(step) ?? null)];
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function shortNumber(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  return abs < 1e-2 || abs >= 1e4 ? value.toExponential(1) : String(Number(value.toPrecision(3)));
}

export function LossChart({
  data,
  validation,
  version,
  smoothing = 0.9,
}: {
  data: LossData;
  validation: ValidationPoint[];
  /** bumped by the owner whenever data or validation changed (they are appended to in place) */
  version: number;
  smoothing?: number;
}) {
  const { t, lang } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef({ data, validation, smoothing });
  latest.current = { data, validation, smoothing };
  const frame = useRef(0);

  // (re)built when the language changes: the axis and legend labels are part of the options
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const text = cssVar("--pico-muted-color", "#777");
    const grid = cssVar("--pico-muted-border-color", "#ddd");
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const size = () => ({ width: Math.max(200, element.clientWidth), height: element.clientHeight });
    const options: uPlot.Options = {
      ...size(),
      legend: { show: false },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false }, loss: { auto: true }, lr: { auto: true } },
      axes: [
        { ...axis, label: t("chart.step"), labelSize: 18, size: 36, incrs: STEP_INCREMENTS },
        { ...axis, scale: "loss", size: 48, values: (_u, ticks) => ticks.map(shortNumber) },
        {
          ...axis,
          scale: "lr",
          side: 1,
          size: 56,
          grid: { show: false },
          values: (_u, ticks) => ticks.map(shortNumber),
        },
      ],
      series: [
        { label: t("chart.step") },
        { label: t("chart.loss"), scale: "loss", stroke: COLORS.loss, width: 1, points: { show: false } },
        { label: t("chart.ema"), scale: "loss", stroke: COLORS.ema, width: 2, points: { show: false } },
        {
          label: t("chart.lr"),
          scale: "lr",
          stroke: COLORS.lr,
          width: 1.5,
          dash: [6, 4],
          points: { show: false },
        },
        {
          label: t("chart.val"),
          scale: "loss",
          stroke: COLORS.val,
          width: 2,
          spanGaps: true,
          points: { show: true, size: 7, fill: COLORS.val },
        },
      ],
    };
    const now = latest.current;
    const chart = new uPlot(options, aligned(now.data, now.validation, now.smoothing), element);
    plot.current = chart;
    const observer = new ResizeObserver(() => chart.setSize(size()));
    observer.observe(element);
    return () => {
      observer.disconnect();
      cancelAnimationFrame(frame.current);
      chart.destroy();
      plot.current = null;
    };
  }, [lang]);

  // new steps: one redraw per animation frame however many events came in it
  useEffect(() => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => {
      const now = latest.current;
      plot.current?.setData(aligned(now.data, now.validation, now.smoothing));
    });
  }, [version, smoothing]);

  const empty = data.steps.length === 0 && validation.length === 0;
  const legend = [
    { key: "loss", color: COLORS.loss, label: t("chart.loss") },
    { key: "ema", color: COLORS.ema, label: t("chart.ema") },
    { key: "lr", color: COLORS.lr, label: t("chart.lr"), dashed: true },
    ...(validation.length > 0 ? [{ key: "val", color: COLORS.val, label: t("chart.val") }] : []),
  ];
  return (
    <figure class="loss-figure">
      <div
        class="loss-chart"
        data-testid="loss-chart"
        data-points={data.steps.length}
        role="img"
        aria-label={t("chart.aria", { n: data.steps.length })}
      >
        <div class="loss-plot" ref={box} />
        {empty ? <div class="loss-chart-empty">{t("chart.empty")}</div> : null}
      </div>
      <figcaption class="loss-legend">
        {legend.map((item) => (
          <span key={item.key}>
            <span
              class="loss-swatch"
              style={{ borderTopColor: item.color, borderTopStyle: item.dashed ? "dashed" : "solid" }}
              aria-hidden="true"
            />
            {item.label}
          </span>
        ))}
        <span class="job-muted">{t("chart.zoomhint")}</span>
      </figcaption>
    </figure>
  );
}
