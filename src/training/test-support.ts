import type { PlanOptions } from "./plan.ts";

/** For tests: SD1.5 at 512 px with the guides' bucket settings (256-1024, step 64). */
export const SD15_512_BUCKETS = {
  arch: "sd15",
  resolution: [512, 512],
  enableBucket: true,
  minBucketReso: 256,
  maxBucketReso: 1024,
  bucketResoSteps: 64,
  bucketNoUpscale: false,
} as const satisfies Partial<PlanOptions>;
