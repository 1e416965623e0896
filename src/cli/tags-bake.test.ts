import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { askYesNo } from "./tags-bake.ts";

async function answer(text: string): Promise<{ yes: boolean; asked: string }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let asked = "";
  output.on("data", (chunk: Buffer) => (asked += chunk.toString()));
  const pending = askYesNo("bake 3 tags?", input, output);
  input.end(text);
  return { yes: await pending, asked };
}

describe("askYesNo", () => {
  it.each([
    ["y\n", true],
    ["YES\n", true],
    [" yes \n", true],
    ["n\n", false],
    ["\n", false],
    ["maybe\n", false],
    ["y", false], // input ended before the line did: no
    ["", false],
  ])("%j -> %s", async (text, expected) => {
    const { yes, asked } = await answer(text);
    expect(yes).toBe(expected);
    expect(asked).toBe("bake 3 tags? [y/N] ");
  });
});
