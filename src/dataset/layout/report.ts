import type { LayoutImage, LayoutResult } from "./index.ts";

const size = ([w, h]: readonly number[]) => `${w}x${h}`;

function imageLine(image: LayoutImage, width: number): string {
  const direction = image.scale > 1 ? "enlarged" : image.scale < 1 ? "reduced" : "as is";
  const crop =
    image.cropped[0] === 0 && image.cropped[1] === 0
      ? "no crop"
      : `crop ${size(image.cropped)} px (${(image.croppedShare * 100).toFixed(1)}%)`;
  return (
    `  ${image.file.padEnd(width)}  ${size(image.size).padStart(9)} -> ${size(image.bucket).padEnd(9)}` +
    `  scale ${image.scale.toFixed(3)} ${direction}, ${crop}`
  );
}

function folderLines(result: LayoutResult): string[] {
  const width = Math.max(6, ...result.folders.map((f) => f.folder.length));
  const lines = [`  ${"folder".padEnd(width)}  images  repeats  per epoch`];
  for (const f of result.folders) {
    const note = f.isReg ? "  (regularization: cycled to match the training images)" : "";
    lines.push(
      `  ${f.folder.padEnd(width)}  ${String(f.images).padStart(6)}  ${String(f.repeats).padStart(7)}  ${String(f.perEpoch).padStart(9)}${note}`,
    );
  }
  return lines;
}

/** The text `danlu data layout` prints: folders, how files were placed, steps, buckets, each image's fit. */
export function formatLayoutReport(result: LayoutResult): string {
  const { plan, written } = result;
  const lines = [
    `wrote ${result.out}  (train_data_dir)`,
    ...(result.regOut ? [`wrote ${result.regOut}  (reg_data_dir: the regularization images)`] : []),
    ...folderLines(result),
    `  ${written.linked} hard links, ${written.copied} copies, ${written.captions} caption files`,
  ];
  if (written.uncaptioned.length > 0) {
    lines.push(
      `  ${written.uncaptioned.length} images have no caption file: they train on their folder's name`,
    );
  }
  for (const skipped of result.skipped)
    lines.push(`  left out (a format danlu does not train on): ${skipped}`);
  lines.push(
    `steps: ${plan.numEpochs} epochs x ${plan.stepsPerEpoch} steps per epoch (batch size ${plan.batchSize}, ` +
      `batches within buckets) = ${plan.totalSteps} steps`,
  );
  const b = plan.bucketSettings;
  const range = b.bucketNoUpscale ? "no upscale" : `${b.minBucketReso}-${b.maxBucketReso}`;
  lines.push(`buckets (resolution ${size(b.resolution)}, ${range}, step ${b.bucketResoSteps}):`);
  for (const bucket of plan.buckets)
    lines.push(`  ${size(bucket.size).padEnd(9)}  ${bucket.count} per epoch`);
  lines.push("images:");
  const width = Math.max(...result.images.map((image) => image.file.length));
  for (const image of result.images) lines.push(imageLine(image, width));
  for (const warning of result.warnings) lines.push(`warning: ${warning}`);
  lines.push(
    "train on it with:",
    `  danlu train --pretrained-model-name-or-path MODEL.safetensors --output-dir OUTPUT_DIR --output-name NAME \\\n      ${result.trainFlags.join(" ")}`,
  );
  return lines.join("\n");
}
