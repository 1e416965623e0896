import cliProgress from "cli-progress";
import { InvalidArgumentError, type Command } from "commander";
import { addModelFiles } from "../models-store/add.ts";
import { KNOWN_MODELS } from "../models-store/registry.ts";
import { SOURCE_CHOICES, sourceChoice, type SourceChoice } from "../models-store/sources.ts";
import { listInstalled, modelsDir, pullModel } from "../models-store/store.ts";

function source(text: string): SourceChoice {
  try {
    return sourceChoice(text);
  } catch {
    throw new InvalidArgumentError(`expected one of ${SOURCE_CHOICES.join(", ")}`);
  }
}

/** `danlu models list|pull|add`: the local folder of taggers and captioners. */
export function registerModels(program: Command): void {
  const models = program
    .command("models")
    .description("taggers and captioning models: what is installed, and downloading known ones");

  models
    .command("list")
    .description("show installed models and the ones `danlu models pull` knows")
    .option("--dir <dir>", "model folder (default $DANLU_MODELS_DIR or ~/.cache/danlu/models)")
    .option("--json", "print as JSON", false)
    .action(async (flags: { dir?: string; json: boolean }) => {
      const installed = await listInstalled(flags.dir);
      if (flags.json) {
        process.stdout.write(
          JSON.stringify({ dir: modelsDir(flags.dir), installed, known: KNOWN_MODELS }, null, 2) + "\n",
        );
        return;
      }
      process.stdout.write(formatList(modelsDir(flags.dir), installed) + "\n");
    });

  models
    .command("pull")
    .description("download a known model into the model folder (resumes, checks sha256)")
    .argument("<name>", "a name from `danlu models list`")
    .option("--dir <dir>", "model folder (default $DANLU_MODELS_DIR or ~/.cache/danlu/models)")
    .option("--force", "download again even if the files are there", false)
    .option(
      "--source <where>",
      "huggingface (the hub, or the mirror in $HF_ENDPOINT such as https://hf-mirror.com), " +
        "modelscope ($MODELSCOPE_ENDPOINT, default https://www.modelscope.cn), or auto (the hub, then " +
        "ModelScope when the hub cannot be reached) (default $DANLU_MODEL_SOURCE, else huggingface)",
      source,
    )
    .action(async (name: string, flags: { dir?: string; force: boolean; source?: SourceChoice }) => {
      const bar = byteProgress();
      const record = await pullModel(name, {
        ...(flags.dir ? { dir: flags.dir } : {}),
        ...(flags.source ? { source: flags.source } : {}),
        force: flags.force,
        onFile: (path, index, count) => bar.file(`${path} (${index + 1}/${count})`),
        onProgress: bar.update,
      }).finally(bar.stop);
      const lines = [`${record.name} is in ${modelsDir(flags.dir)}/${record.name}`];
      for (const f of record.files) {
        lines.push(
          `  ${f.path}  ${megabytes(f.size)}  sha256 ${f.sha256}${f.checked ? " (checked)" : " (recorded)"}`,
        );
      }
      process.stdout.write(lines.join("\n") + "\n");
    });

  models
    .command("add")
    .description("install files of a known model downloaded by hand (checked against its size and sha256)")
    .argument("<name>", "a name from `danlu models list`")
    .argument("<path>", "the folder holding the downloaded files, or one downloaded file")
    .option("--dir <dir>", "model folder (default $DANLU_MODELS_DIR or ~/.cache/danlu/models)")
    .action(async (name: string, path: string, flags: { dir?: string }) => {
      const { record, added, missing } = await addModelFiles(name, path, flags.dir ? { dir: flags.dir } : {});
      const lines = [`${record.name}: added to ${modelsDir(flags.dir)}/${record.name}`];
      for (const f of added) {
        lines.push(
          `  ${f.path}  ${megabytes(f.size)}  sha256 ${f.sha256}${f.checked ? " (checked)" : " (recorded)"}`,
        );
      }
      if (missing.length === 0) lines.push("all its files are there");
      for (const m of missing) lines.push(`still missing: ${m.path} (from ${m.url})`);
      process.stdout.write(lines.join("\n") + "\n");
    });
}

type Installed = Awaited<ReturnType<typeof listInstalled>>;

function formatList(dir: string, installed: Installed): string {
  const lines = [`model folder: ${dir}`, ""];
  if (installed.length === 0) lines.push("installed: none");
  else lines.push("installed:");
  for (const m of installed) {
    lines.push(`  ${m.name.padEnd(30)} ${m.kind.padEnd(12)} ${m.state.padEnd(8)} ${megabytes(m.bytes)}`);
  }
  lines.push("", "known (danlu models pull NAME):");
  const have = new Set(installed.filter((m) => m.state !== "partial").map((m) => m.name));
  for (const m of KNOWN_MODELS) {
    const mark = have.has(m.name) ? "*" : " ";
    lines.push(`${mark} ${m.name.padEnd(30)} ${m.kind.padEnd(12)} ${m.licence.padEnd(12)} ${m.about}`);
  }
  return lines.join("\n");
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A byte progress bar per file on a terminal; one line per file otherwise. */
function byteProgress() {
  const tty = process.stderr.isTTY;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: "{file} [{bar}] {percentage}% {received}/{size} MB | {eta_formatted} left",
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let active = false;
  let name = "";
  return {
    file(label: string) {
      if (active) bar.stop();
      active = false;
      name = label;
      if (!tty) process.stderr.write(`downloading ${label}\n`);
    },
    update(received: number, total: number | undefined) {
      if (!tty) return;
      const payload = {
        file: name,
        received: (received / 1e6).toFixed(1),
        size: total ? (total / 1e6).toFixed(1) : "?",
      };
      if (!active) bar.start(total ?? received, received, payload);
      active = true;
      if (total !== undefined) bar.setTotal(total);
      bar.update(received, payload);
    },
    stop() {
      if (active) bar.stop();
      active = false;
    },
  };
}
