// A job's event stream gathered for the run page: the loss curve, samples, validation, checkpoints and
// the log. The stream replays from the start, so a page opened late (or reloaded) shows the whole run.
// Events are added in place and the page re-renders at most once per animation frame.
import { useEffect, useRef, useState } from "preact/hooks";
import { followJob, type Job, type JobEvent } from "../api.ts";
import type { LossData, ValidationPoint } from "../components/loss-chart.tsx";

export interface StepProgress {
  step: number;
  total_steps: number;
  epoch: number;
  loss: number;
  lr: number;
  it_per_s: number;
  images_per_s: number;
  memory_mb: number | null;
  elapsed_s: number;
}

export interface SampleImage {
  path: string;
  prompt_index: number;
  epoch: number;
  step: number;
}

export interface Checkpoint {
  kind: "epoch" | "step" | "final" | "state";
  path: string;
  epoch: number;
  step: number;
}

export interface LogLine {
  level: string;
  message: string;
  at: number | null;
}

export interface Validation extends ValidationPoint {
  epoch: number;
  images: number;
}

export interface Live {
  loss: LossData;
  last: StepProgress | null;
  validation: Validation[];
  samples: SampleImage[];
  checkpoints: Checkpoint[];
  logs: LogLine[];
  phase: { name: string; current: number | null; total: number | null } | null;
  stage: string | null;
  state: string | null;
  attempt: number | null;
  /** the newest error event: {code, message, hint, retrying} */
  error: { code?: string; message?: string; hint?: string; retrying?: boolean } | null;
  ended: boolean;
}

function empty(): Live {
  return {
    loss: { steps: [], loss: [], lr: [] },
    last: null,
    validation: [],
    samples: [],
    checkpoints: [],
    logs: [],
    phase: null,
    stage: null,
    state: null,
    attempt: null,
    error: null,
    ended: false,
  };
}

const num = (value: unknown): number | null => (typeof value === "number" ? value : null);
const str = (value: unknown): string => (typeof value === "string" ? value : String(value ?? ""));

/** One event into the gathered state (exported for tests of the page logic). */
export function addEvent(live: Live, event: JobEvent): void {
  const data = event.data;
  const at = num(data.at);
  switch (event.type) {
    case "progress": {
      const step = num(data.step);
      if (step === null) return;
      const p = data as unknown as StepProgress;
      const { steps, loss, lr } = live.loss;
      // a resumed attempt starts again from its saved step: drop what comes after it
      if (steps.length > 0 && step <= steps[steps.length - 1]!) {
        let keep = steps.length;
        while (keep > 0 && steps[keep - 1]! >= step) keep -= 1;
        steps.length = keep;
        loss.length = keep;
        lr.length = keep;
      }
      steps.push(step);
      loss.push(p.loss);
      lr.push(p.lr);
      live.last = p;
      return;
    }
    case "engine": {
      const kind = str(data.event);
      if (kind === "sample") {
        const sample: SampleImage = {
          path: str(data.path),
          prompt_index: num(data.prompt_index) ?? 0,
          epoch: num(data.epoch) ?? 0,
          step: num(data.step) ?? 0,
        };
        live.samples = [...live.samples.filter((s) => s.path !== sample.path), sample];
      } else if (kind === "checkpoint") {
        const point = data as unknown as Checkpoint;
        live.checkpoints = [...live.checkpoints.filter((c) => c.path !== point.path), point];
        if (point.kind !== "state") live.logs.push({ level: "info", message: `saved ${point.path}`, at });
      } else if (kind === "validation") {
        const value = data as unknown as Validation;
        live.validation = [...live.validation.filter((v) => v.step !== value.step), value];
      } else if (kind === "log") {
        live.logs.push({ level: str(data.level), message: str(data.message), at });
      } else if (kind === "phase") {
        live.phase = { name: str(data.name), current: num(data.current), total: num(data.total) };
      } else if (kind === "ready") {
        live.logs.push({
          level: "info",
          message: `engine ${str(data.engine_version)} on ${str(data.device)} (${str(data.dtype)}, torch ${str(data.torch_version)})`,
          at,
        });
      } else if (kind === "error") {
        live.logs.push({ level: "error", message: `${str(data.code)}: ${str(data.message)}`, at });
      }
      return;
    }
    case "log":
      live.logs.push({ level: str(data.level || "info"), message: str(data.message), at });
      return;
    case "stage":
      live.stage = str(data.stage);
      return;
    case "state":
      live.state = str(data.state);
      if (num(data.attempt) !== null) live.attempt = num(data.attempt);
      if (live.state === "running") live.error = null;
      return;
    case "error":
      live.error = data as Live["error"];
      live.logs.push({ level: "error", message: str(data.message), at });
      return;
    default:
      return;
  }
}

/**
 * Follows the job's stream while mounted; `generation` restarts it from the start (after a resume).
 * `onEnd` gets the job record the stream ends with.
 */
export function useJobLive(
  jobId: string,
  generation: number,
  onEnd: (job: Job | null) => void,
): { live: Live; version: number } {
  const live = useRef<Live>(empty());
  const [version, setVersion] = useState(0);
  const frame = useRef(0);
  const endRef = useRef(onEnd);
  endRef.current = onEnd;
  useEffect(() => {
    live.current = empty();
    setVersion((v) => v + 1);
    const bump = () => {
      if (frame.current) return;
      frame.current = requestAnimationFrame(() => {
        frame.current = 0;
        setVersion((v) => v + 1);
      });
    };
    const stop = followJob(
      jobId,
      (event) => {
        addEvent(live.current, event);
        bump();
      },
      (job) => {
        live.current.ended = true;
        bump();
        endRef.current(job);
      },
    );
    return () => {
      stop();
      cancelAnimationFrame(frame.current);
      frame.current = 0;
    };
  }, [jobId, generation]);
  return { live: live.current, version };
}
