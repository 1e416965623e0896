import { describe, expect, test } from "vitest";
import { coverSize, cropOffset, makeBuckets, resizeAndCropFor, selectBucket, type Size } from "./buckets.ts";

// Expected values worked out from sd-scripts' algorithm (model_util.make_bucket_resolutions,
// train_util.BucketManager.select_bucket); a few are worked through by hand in the comments.

describe("makeBuckets", () => {
  test("512x512, min 256, max 1024, step 64: 17 buckets from (256,1024) to (1024,256)", () => {
    const buckets = makeBuckets({ resolution: [512, 512], minReso: 256, maxReso: 1024, step: 64 });
    // width 256: floor(262144/256/64)*64 = 1024 -> (256,1024); width 320: 819.2 -> 768; ...
    expect(buckets).toEqual([
      [256, 832], [256, 896], [256, 960], [256, 1024], [320, 704], [320, 768], [384, 640], [448, 576],
      [512, 512], [576, 448], [640, 384], [704, 320], [768, 320], [832, 256], [896, 256], [960, 256],
      [1024, 256],
    ]); // prettier-ignore
    expect(buckets).toHaveLength(17);
  });

  test("a non-square resolution keeps its area and adds the transposes", () => {
    const buckets = makeBuckets({ resolution: [512, 768], minReso: 256, maxReso: 1024, step: 64 });
    // area 393216; the square side is floor(627.06/64)*64 = 576; heights are capped at 1024
    expect(buckets).toEqual([
      [256, 1024], [320, 1024], [384, 896], [384, 960], [384, 1024], [448, 832], [512, 704], [512, 768],
      [576, 576], [576, 640], [640, 576], [704, 512], [768, 512], [832, 448], [896, 384], [960, 384],
      [1024, 256], [1024, 320], [1024, 384],
    ]); // prettier-ignore
  });

  test("SDXL 1024x1024, min 512, max 2048, step 32: 65 buckets including the usual SDXL sizes", () => {
    const buckets = makeBuckets({ resolution: [1024, 1024], minReso: 512, maxReso: 2048, step: 32 });
    expect(buckets).toHaveLength(65);
    expect(buckets[0]).toEqual([512, 1952]);
    expect(buckets.at(-1)).toEqual([2048, 512]);
    for (const common of [
      [1024, 1024],
      [832, 1216],
      [1216, 832],
      [896, 1152],
      [1344, 768],
    ]) {
      expect(buckets).toContainEqual(common);
    }
    for (const [w, h] of buckets) {
      expect(w % 32 === 0 && h % 32 === 0 && w * h <= 1024 * 1024).toBe(true);
    }
  });
});

type Row = [image: Size, bucket: Size, resized: Size];

function check(rows: Row[], rule: Parameters<typeof selectBucket>[1]): void {
  for (const [image, bucket, resized] of rows) {
    const choice = selectBucket(image, rule);
    expect({ image, bucket: choice.bucket, resized: choice.resized }).toEqual({ image, bucket, resized });
  }
}

describe("selectBucket with predefined buckets", () => {
  const sd15 = makeBuckets({ resolution: [512, 512], minReso: 256, maxReso: 1024, step: 64 });
  const rows: Row[] = [
    [
      [512, 512],
      [512, 512],
      [512, 512],
    ], // exact hit
    [
      [448, 576],
      [448, 576],
      [448, 576],
    ], // exact hit on a non-square bucket
    [
      [256, 1024],
      [256, 1024],
      [256, 1024],
    ], // exact hit on an extreme bucket
    [
      [1024, 1024],
      [512, 512],
      [512, 512],
    ], // downscaled
    // aspect 1.4988: |1.6667-1.4988| = .168 beats |1.2857-1.4988| = .213; narrower than the bucket,
    // so the width is matched: scale 1 -> 640x427, 43 rows of overflow
    [
      [640, 427],
      [640, 384],
      [640, 427],
    ],
    [
      [451, 300],
      [640, 384],
      [640, 426],
    ], // 300 * 640/451 = 425.7 -> 426
    [
      [768, 512],
      [640, 384],
      [640, 427],
    ],
    [
      [512, 768],
      [384, 640],
      [427, 640],
    ],
    [
      [600, 400],
      [640, 384],
      [640, 427],
    ],
    [
      [333, 500],
      [384, 640],
      [426, 640],
    ],
    [
      [500, 666],
      [448, 576],
      [448, 597],
    ],
    [
      [1920, 1080],
      [640, 384],
      [683, 384],
    ], // wider than the bucket: height matched, 1920*384/1080 = 682.7
    [
      [1080, 1920],
      [384, 640],
      [384, 683],
    ],
    [
      [1000, 999],
      [512, 512],
      [513, 512],
    ],
    [
      [300, 2000],
      [256, 1024],
      [256, 1707],
    ], // extreme aspects take the extreme bucket
    [
      [3000, 100],
      [1024, 256],
      [7680, 256],
    ],
    [
      [1, 1000],
      [256, 1024],
      [256, 256000],
    ],
  ];
  test("SD1.5 512 px buckets", () => check(rows, { kind: "predefined", buckets: sd15 }));

  const sdxl = makeBuckets({ resolution: [1024, 1024], minReso: 512, maxReso: 2048, step: 32 });
  const sdxlRows: Row[] = [
    [
      [1024, 1024],
      [1024, 1024],
      [1024, 1024],
    ],
    [
      [832, 1216],
      [832, 1216],
      [832, 1216],
    ],
    [
      [1216, 832],
      [1216, 832],
      [1216, 832],
    ],
    [
      [1920, 1080],
      [1344, 768],
      [1365, 768],
    ],
    [
      [1080, 1350],
      [896, 1152],
      [922, 1152],
    ],
    [
      [3000, 2000],
      [1248, 832],
      [1248, 832],
    ],
    [
      [640, 427],
      [1248, 832],
      [1248, 833],
    ], // upscaled to cover
  ];
  test("SDXL 1024 px buckets, step 32", () => check(sdxlRows, { kind: "predefined", buckets: sdxl }));

  test("an aspect-error tie keeps the first bucket in sorted order, as numpy's argmin does", () => {
    const buckets: Size[] = [
      [256, 512],
      [512, 256],
    ]; // aspects 0.5 and 2.0
    // aspect 1.25 is 0.75 from both
    expect(selectBucket([500, 400], { kind: "predefined", buckets }).bucket).toEqual([256, 512]);
  });

  test("without enable_bucket the resolution is the one bucket", () => {
    const rule = { kind: "predefined" as const, buckets: [[512, 512] as Size] };
    check(
      [
        [
          [640, 427],
          [512, 512],
          [767, 512],
        ],
        [
          [427, 640],
          [512, 512],
          [512, 767],
        ],
        [
          [512, 512],
          [512, 512],
          [512, 512],
        ],
        [
          [300, 300],
          [512, 512],
          [512, 512],
        ],
        [
          [1024, 512],
          [512, 512],
          [1024, 512],
        ],
      ],
      rule,
    );
  });
});

describe("selectBucket with bucket_no_upscale", () => {
  const rows: Row[] = [
    [
      [400, 300],
      [384, 256],
      [400, 300],
    ], // under the area: not resized, cropped to multiples of 64
    [
      [100, 100],
      [64, 64],
      [100, 100],
    ],
    [
      [451, 300],
      [448, 256],
      [451, 300],
    ],
    [
      [700, 200],
      [640, 192],
      [700, 200],
    ],
    [
      [512, 512],
      [512, 512],
      [512, 512],
    ],
    // 1024x768 over 512x512: ideal 591.2x443.4; rounding the width gives 576x384 (aspect 1.5, error .167),
    // rounding the height gives 512x384 (aspect 1.333, error 0): the height wins
    [
      [1024, 768],
      [512, 384],
      [512, 384],
    ],
    [
      [4000, 3000],
      [512, 384],
      [512, 384],
    ],
    [
      [640, 427],
      [576, 384],
      [576, 384],
    ],
    [
      [513, 513],
      [512, 512],
      [512, 512],
    ],
    [
      [1000, 1000],
      [512, 512],
      [512, 512],
    ],
    [
      [2000, 300],
      [1280, 192],
      [1280, 192],
    ], // min/max bucket reso do not apply
  ];
  test("512x512, step 64", () => check(rows, { kind: "noUpscale", maxArea: 512 * 512, step: 64 }));

  const sdxlRows: Row[] = [
    [
      [1920, 1080],
      [1344, 768],
      [1365, 768],
    ],
    [
      [1000, 700],
      [992, 672],
      [1000, 700],
    ],
    [
      [4032, 3024],
      [1152, 864],
      [1152, 864],
    ],
    [
      [1024, 1024],
      [1024, 1024],
      [1024, 1024],
    ],
    [
      [1025, 1023],
      [1024, 992],
      [1025, 1023],
    ], // 1048575 px is under the area
  ];
  test("SDXL 1024x1024, step 32", () =>
    check(sdxlRows, { kind: "noUpscale", maxArea: 1024 * 1024, step: 32 }));

  test("an image too thin for the step gets a zero-size bucket (the plan rejects it)", () => {
    // sd-scripts divides by zero here
    expect(selectBucket([4810, 73], { kind: "noUpscale", maxArea: 512 * 512, step: 64 }).bucket).toContain(0);
  });
});

describe("resize and crop", () => {
  test("coverSize matches the side that leaves the other one overflowing", () => {
    expect(coverSize([1920, 1080], [640, 384])).toEqual([683, 384]);
    expect(coverSize([1080, 1920], [384, 640])).toEqual([384, 683]);
    expect(coverSize([512, 512], [512, 512])).toEqual([512, 512]);
  });

  test("centre crop halves the overflow, rounding down", () => {
    expect(resizeAndCropFor([640, 427], [640, 384])).toEqual({ resized: [640, 427], crop: [0, 21] });
    expect(resizeAndCropFor([1920, 1080], [640, 384])).toEqual({ resized: [683, 384], crop: [21, 0] });
    expect(resizeAndCropFor([640, 427], [512, 512])).toEqual({ resized: [767, 512], crop: [127, 0] });
  });

  test("random crop stays inside 0..overflow and follows the rng", () => {
    expect(cropOffset([700, 512], [512, 512], { randomCrop: true, rng: () => 0 })).toEqual([0, 0]);
    expect(cropOffset([700, 512], [512, 512], { randomCrop: true, rng: () => 0.999999 })).toEqual([188, 0]);
    expect(cropOffset([700, 600], [512, 512], { randomCrop: true, rng: () => 0.5 })).toEqual([94, 44]);
    expect(() => cropOffset([700, 512], [512, 512], { randomCrop: true })).toThrow(/rng/);
  });
});
