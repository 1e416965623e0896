import { describe, expect, it } from "vitest";
import { PRESET_NAMES, PRESETS, resolvePreset } from "./index.ts";
import type { PresetDefinition } from "./types.ts";
import { PRESET_TEXT_ZH, translatePreset } from "./zh.ts";

const CHINESE = /[\u4e00-\u9fff]/;

/** Every text a definition can show: summary, each option's reasons (not only the chosen), missing, advice. */
function definitionTexts(preset: PresetDefinition): string[] {
  const texts = [preset.summary];
  for (const group of preset.groups) {
    for (const option of group.options) for (const setting of option) texts.push(setting.reason);
    if (group.missing !== undefined) texts.push(group.missing);
  }
  for (const advice of preset.advice) texts.push(advice.topic, advice.text);
  return texts;
}

const ALL_TEXTS = new Set(Object.values(PRESETS).flatMap(definitionTexts));

/** What a translation keeps word for word: flags (with their values) and numbers (guide ids among them). */
function literals(text: string): string[] {
  return text.match(/--[\w-]+(?:=[^\s()]+)?|\d+(?:[.,]\d+)*(?:e-\d+)?/g) ?? [];
}

describe("preset texts in Chinese", () => {
  it.each(Object.keys(PRESETS))("%s: every text of the definition has a Chinese translation", (name) => {
    const preset = PRESETS[name] as PresetDefinition;
    for (const text of definitionTexts(preset)) {
      expect(Object.hasOwn(PRESET_TEXT_ZH, text), `no translation for: ${text}`).toBe(true);
      expect(PRESET_TEXT_ZH[text], text).toMatch(CHINESE);
    }
  });

  it("no translation is unused (a changed English text leaves a stale entry)", () => {
    const unused = Object.keys(PRESET_TEXT_ZH).filter((text) => !ALL_TEXTS.has(text));
    expect(unused).toEqual([]);
  });

  it("keep the English's flags and numbers, and say 教程 for guide", () => {
    for (const [english, chinese] of Object.entries(PRESET_TEXT_ZH)) {
      for (const literal of literals(english)) expect(chinese, english).toContain(literal);
      expect(chinese, english).not.toMatch(/\bguides?\b/);
      if (/\bguides? \d{3}/.test(english)) expect(chinese, english).toMatch(/教程 \d{3}/);
    }
  });

  it.each(PRESET_NAMES)("%s: translatePreset keeps keys and values, and its texts are Chinese", (name) => {
    const english = resolvePreset(name);
    const before = structuredClone(english);
    const chinese = translatePreset(english);
    expect(english, "the resolved preset is not changed").toEqual(before);
    expect(chinese.name).toBe(english.name);
    expect(chinese.settings.map(({ key, value }) => ({ key, value }))).toEqual(
      english.settings.map(({ key, value }) => ({ key, value })),
    );
    expect(chinese.missing).toHaveLength(english.missing.length);
    expect(chinese.advice).toHaveLength(english.advice.length);
    const texts = [
      chinese.summary,
      ...chinese.settings.map((setting) => setting.reason),
      ...chinese.missing,
      ...chinese.advice.flatMap((advice) => [advice.topic, advice.text]),
    ];
    for (const text of texts) expect(text).toMatch(CHINESE);
    expect(chinese.summary).toBe(PRESET_TEXT_ZH[english.summary]);
    english.settings.forEach((setting, i) =>
      expect(chinese.settings[i]?.reason).toBe(PRESET_TEXT_ZH[setting.reason]),
    );
    english.advice.forEach((advice, i) => {
      expect(chinese.advice[i]?.topic).toBe(PRESET_TEXT_ZH[advice.topic]);
      expect(chinese.advice[i]?.text).toBe(PRESET_TEXT_ZH[advice.text]);
    });
  });

  it("a text without a translation stays English", () => {
    const preset = { ...resolvePreset("person"), summary: "not translated", missing: ["constructor"] };
    const chinese = translatePreset(preset);
    expect(chinese.summary).toBe("not translated");
    expect(chinese.missing).toEqual(["constructor"]);
  });
});
