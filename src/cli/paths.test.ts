import { describe, expect, it } from "vitest";
import { shownPath } from "./paths.ts";

describe("shownPath", () => {
  it("is relative under the current folder and absolute outside it, never ../", () => {
    expect(shownPath("/home/me/run/grids/grid-001", "/home/me/run")).toBe("grids/grid-001");
    expect(shownPath("/home/me/run", "/home/me/run")).toBe(".");
    expect(shownPath("/data/runs/a/grids/grid-001", "/home/me/work")).toBe("/data/runs/a/grids/grid-001");
    expect(shownPath("../other/x.txt", "/home/me/work")).toBe("/home/me/other/x.txt");
  });
});
