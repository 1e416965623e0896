// The area files, folders and zips are dropped on (the dataset upload and the portrait page): highlighted
// while something is dragged over it, folders walked into the files under them.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";

export interface PickedFile {
  file: File;
  path: string;
}

/** Every file under the dropped items; folders are walked (hidden files such as .DS_Store left out). */
export async function droppedFiles(transfer: DataTransfer): Promise<PickedFile[]> {
  const entries = [...transfer.items]
    .filter((item) => item.kind === "file")
    .map((item) => (typeof item.webkitGetAsEntry === "function" ? item.webkitGetAsEntry() : null));
  if (entries.length === 0 || entries.some((entry) => entry === null)) {
    return [...transfer.files].map((file) => ({ file, path: file.name }));
  }
  const out: PickedFile[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) =>
        (entry as FileSystemFileEntry).file(resolve, reject),
      );
      out.push({ file, path: prefix + file.name });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) =>
          reader.readEntries(resolve, reject),
        );
        if (batch.length === 0) break;
        for (const child of batch) {
          if (!child.name.startsWith(".")) await walk(child, `${prefix}${entry.name}/`);
        }
      }
    }
  };
  for (const entry of entries) await walk(entry!, "");
  return out;
}

export function DropZone({
  testid,
  onFiles,
  onError,
  children,
}: {
  testid: string;
  onFiles: (picked: PickedFile[]) => unknown;
  onError: (error: unknown) => void;
  children: ComponentChildren;
}) {
  const [over, setOver] = useState(false);
  return (
    <div
      class={`ds-drop${over ? " ds-drop-over" : ""}`}
      data-testid={testid}
      onDragOver={(e) => {
        e.preventDefault();
        if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        if (!e.dataTransfer) return;
        // entries must be read during the event: take them now, walk them after
        void droppedFiles(e.dataTransfer).then(onFiles, onError);
      }}
    >
      {children}
    </div>
  );
}
