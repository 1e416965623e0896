import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BACKUP_DIR, listBatches, undoLastBatch, writeBatchWithBackup } from "./backup.ts";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-backup-"));
  await writeFile(join(root, "a.txt"), "old a");
  await writeFile(join(root, "b.txt"), "old b");
});
afterEach(() => rm(root, { recursive: true, force: true }));

const read = (name: string) => readFile(join(root, name), "utf8");

describe("writeBatchWithBackup", () => {
  it("backs up the changed files in a numbered folder and writes the new text", async () => {
    const result = await writeBatchWithBackup(
      root,
      [
        { path: "a.txt", text: "new a" },
        { path: "b.txt", text: "old b" }, // unchanged: skipped
        { path: "c.txt", text: "new c" }, // created
      ],
      "tags add",
    );
    expect(result).toEqual({ batch: 1, written: 2 });
    expect([await read("a.txt"), await read("b.txt"), await read("c.txt")]).toEqual([
      "new a",
      "old b",
      "new c",
    ]);
    expect(await readFile(join(root, BACKUP_DIR, "0001", "files", "a.txt"), "utf8")).toBe("old a");
    const [journal] = await listBatches(root);
    expect(journal?.status).toBe("complete");
    expect(journal?.files.map((f) => [f.path, f.existed])).toEqual([
      ["a.txt", true],
      ["c.txt", false],
    ]);
    expect((await readdir(root)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("creates no batch when nothing changes", async () => {
    expect(await writeBatchWithBackup(root, [{ path: "a.txt", text: "old a" }], "noop")).toEqual({
      batch: null,
      written: 0,
    });
    expect(existsSync(join(root, BACKUP_DIR, "0001"))).toBe(false);
  });

  it.each(["../escape.txt", "/etc/x.txt", `${BACKUP_DIR}/0001/journal.json`, "."])(
    "refuses %s",
    async (path) => {
      await expect(writeBatchWithBackup(root, [{ path, text: "x" }], "bad")).rejects.toThrow(
        /refusing to write/u,
      );
    },
  );
});

describe("undoLastBatch", () => {
  it("restores the newest batch, then the one before", async () => {
    await writeBatchWithBackup(root, [{ path: "a.txt", text: "a1" }], "first");
    await writeBatchWithBackup(
      root,
      [
        { path: "a.txt", text: "a2" },
        { path: "new.txt", text: "n" },
      ],
      "second",
    );
    const second = await undoLastBatch(root);
    expect([second.journal.operation, second.restored, second.removed]).toEqual(["second", 1, 1]);
    expect(await read("a.txt")).toBe("a1");
    expect(existsSync(join(root, "new.txt"))).toBe(false);
    await undoLastBatch(root);
    expect(await read("a.txt")).toBe("old a");
    await expect(undoLastBatch(root)).rejects.toThrow(/nothing to undo/u);
  });

  it("refuses to overwrite a later change unless forced", async () => {
    await writeBatchWithBackup(root, [{ path: "a.txt", text: "a1" }], "edit");
    await writeFile(join(root, "a.txt"), "edited by hand");
    await expect(undoLastBatch(root)).rejects.toThrow(/changed since/u);
    expect(await read("a.txt")).toBe("edited by hand");
    await undoLastBatch(root, { force: true });
    expect(await read("a.txt")).toBe("old a");
  });

  it("numbers batches in order, past 9999", async () => {
    await writeBatchWithBackup(root, [{ path: "a.txt", text: "x" }], "one");
    await writeBatchWithBackup(root, [{ path: "a.txt", text: "y" }], "two");
    expect((await readdir(join(root, BACKUP_DIR))).sort()).toEqual(["0001", "0002"]);
    await rename(join(root, BACKUP_DIR, "0002"), join(root, BACKUP_DIR, "9999"));
    await writeFile(
      join(root, BACKUP_DIR, "9999", "journal.json"),
      JSON.stringify({ ...(await listBatches(root))[1], batch: 9999 }),
    );
    expect(await writeBatchWithBackup(root, [{ path: "a.txt", text: "z" }], "three")).toEqual({
      batch: 10000,
      written: 1,
    });
    expect((await undoLastBatch(root)).journal.operation).toBe("three");
    expect(await read("a.txt")).toBe("y");
  });
});
