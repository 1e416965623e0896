/**
 * Face identity separation (prints figures; passes or fails nothing): how far apart the same person's
 * and different people's similarities lie for dlib's ResNet descriptor (src/faces), with HSE FaceRes
 * (Human's descriptor, no longer used by danlu: docs/MODELS.md) beside it for comparison.
 *
 *   npx tsx bench/faces/index.ts
 *
 * The identities are the two public-domain portraits in fixtures/photos (astronaut.png: Eileen Collins,
 * NASA; camera.png: the cameraman), each under the edits below. Same-person pairs: every pair of
 * versions of one portrait; different-person pairs: every version of one against every version of the other.
 */
import { join } from "node:path";
import sharp, { type Sharp } from "sharp";
import { openImage } from "../../src/dataset/images.ts";
import { REPO_ROOT } from "../../src/engine/python.ts";
import { loadFaceAnalyzer, identitySimilarity, SAME_PERSON } from "../../src/faces/index.ts";
import { loadHuman } from "../../src/faces/models.ts";

/** An edit of a portrait; sharp applies one resize per pipeline, so each edit is its own pipeline. */
const EDITS: Record<string, (image: Sharp, side: number) => Sharp> = {
  original: (i) => i,
  "crop centre 70%": (i, s) =>
    i.extract({
      left: Math.round(s * 0.15),
      top: 0,
      width: Math.round(s * 0.7),
      height: Math.round(s * 0.7),
    }),
  "crop left 60%": (i, s) =>
    i.extract({ left: Math.round(s * 0.1), top: 0, width: Math.round(s * 0.6), height: Math.round(s * 0.6) }),
  flip: (i) => i.flop(),
  "scale 50%": (i, s) => i.resize(Math.round(s * 0.5)),
  "scale 35%": (i, s) => i.resize(Math.round(s * 0.35)),
  "rotate +5°": (i) => i.rotate(5),
  "rotate -5°": (i) => i.rotate(-5),
  "brightness 0.7": (i) => i.modulate({ brightness: 0.7 }),
  "brightness 1.3": (i) => i.modulate({ brightness: 1.3 }),
  "JPEG q30": (i) => i.jpeg({ quality: 30 }),
  "blur sigma 1.5": (i) => i.blur(1.5),
};

const PEOPLE = { astronaut: "astronaut.png", cameraman: "camera.png" } as const;
type Person = keyof typeof PEOPLE;

interface Version {
  person: Person;
  edit: string;
  image: Buffer;
}

async function versions(): Promise<Version[]> {
  const all: Version[] = [];
  for (const [person, file] of Object.entries(PEOPLE) as [Person, string][]) {
    const path = join(REPO_ROOT, "fixtures", "photos", file);
    const side = (await openImage(path).metadata()).width ?? 512;
    for (const [edit, apply] of Object.entries(EDITS)) {
      // encode in the edit's own format (JPEG stays JPEG), then decode to PNG for one path into the models
      const encoded = await apply(openImage(path), side).toBuffer();
      all.push({ person, edit, image: await sharp(encoded).png().toBuffer() });
    }
  }
  return all;
}

interface Stats {
  min: number;
  mean: number;
  max: number;
  count: number;
}

function stats(values: number[]): Stats {
  return {
    min: Math.min(...values),
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    max: Math.max(...values),
    count: values.length,
  };
}

type Descriptors = Map<Version, Float32Array>;

function separation(descriptors: Descriptors, similarity: (a: Float32Array, b: Float32Array) => number) {
  const entries = [...descriptors.entries()];
  const same: number[] = [];
  const different: number[] = [];
  for (let i = 0; i < entries.length; i++) {
    for (let j = i + 1; j < entries.length; j++) {
      const [a, da] = entries[i]!;
      const [b, db] = entries[j]!;
      (a.person === b.person ? same : different).push(similarity(da, db));
    }
  }
  const within = (person: Person) =>
    stats(
      entries.flatMap(([a, da], i) =>
        entries
          .slice(i + 1)
          .filter(([b]) => a.person === person && b.person === person)
          .map(([, db]) => similarity(da, db)),
      ),
    );
  return {
    same: stats(same),
    different: stats(different),
    astronaut: within("astronaut"),
    cameraman: within("cameraman"),
  };
}

async function dlibDescriptors(all: Version[]): Promise<Descriptors> {
  const analyzer = await loadFaceAnalyzer();
  const found: Descriptors = new Map();
  for (const version of all) {
    const face = (await analyzer.analyze(sharp(version.image)))[0];
    if (face) found.set(version, face.descriptor);
    else console.log(`  dlib: no face in ${version.person} / ${version.edit}`);
  }
  return found;
}

/** HSE FaceRes through Human (comparison only: not licensed for the product). */
async function faceresDescriptors(all: Version[]): Promise<Descriptors> {
  const human = await loadHuman();
  const withFaceres = { face: { description: { enabled: true } } };
  await human.load(withFaceres);
  const found: Descriptors = new Map();
  for (const version of all) {
    const { data, info } = await sharp(version.image)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const tensor = human.tf.tensor4d(Int32Array.from(data), [1, info.height, info.width, 3], "int32");
    const face = (await human.detect(tensor, withFaceres)).face.sort(
      (a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3],
    )[0];
    human.tf.dispose(tensor);
    if (face?.embedding?.length) found.set(version, Float32Array.from(face.embedding));
    else console.log(`  FaceRes: no face in ${version.person} / ${version.edit}`);
  }
  return found;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

function report(
  name: string,
  threshold: number,
  descriptors: Descriptors,
  total: number,
  similarity: typeof cosine,
) {
  const { same, different, astronaut, cameraman } = separation(descriptors, similarity);
  const f = (s: Stats) =>
    `${s.min.toFixed(3)} / ${s.mean.toFixed(3)} / ${s.max.toFixed(3)} (${s.count} pairs)`;
  console.log(
    `\n${name}: faces found in ${descriptors.size} of ${total} versions; same-person line ${threshold}`,
  );
  console.log(`  same person      min / mean / max: ${f(same)}`);
  console.log(`    of which astronaut:            ${f(astronaut)}`);
  console.log(`    of which cameraman:            ${f(cameraman)}`);
  console.log(`  different people min / mean / max: ${f(different)}`);
  console.log(`  gap (lowest same - highest different): ${(same.min - different.max).toFixed(3)}`);
  console.log(
    `  same pairs below the line: ${same.min < threshold ? "some" : "none"}; different pairs at or above it: ${different.max >= threshold ? "some" : "none"}`,
  );
}

const all = await versions();
console.log(`${all.length} versions: ${Object.keys(EDITS).join(", ")}`);
// FaceRes first: a second Human instance in one process returns no FaceRes embeddings (Human keeps
// per-model state at module level), while face detection and mesh work in any instance
const faceres = await faceresDescriptors(all);
const started = performance.now();
const dlib = await dlibDescriptors(all);
console.log(
  `dlib pipeline: ${((performance.now() - started) / all.length).toFixed(0)} ms per image (incl. model load)`,
);
report("dlib ResNet (identitySimilarity)", SAME_PERSON, dlib, all.length, identitySimilarity);
report("HSE FaceRes (cosine, old danlu)", 0.6, faceres, all.length, cosine);
