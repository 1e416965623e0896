import { useEffect, useState } from "preact/hooks";
import { request } from "../api.ts";

/**
 * Image requests in flight at most, and the wait before one starts: a tile that a fast scroll carries
 * past in less time asks the server for nothing. Waiting requests start newest first (what is on screen
 * now), and leave the queue when their tile goes.
 */
const MAX_ACTIVE_IMAGES = 6;
const IMAGE_DELAY_MS = 120;
let activeImages = 0;
const waitingImages: (() => void)[] = [];

function imageSlot(signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = () => {
      activeImages += 1;
      resolve();
    };
    if (activeImages < MAX_ACTIVE_IMAGES) return start();
    waitingImages.push(start);
    signal.addEventListener(
      "abort",
      () => {
        const at = waitingImages.indexOf(start);
        if (at >= 0) waitingImages.splice(at, 1);
        reject(new DOMException("aborted", "AbortError"));
      },
      { once: true },
    );
  });
}

function freeImageSlot(): void {
  activeImages -= 1;
  waitingImages.pop()?.();
}

/**
 * An image the API serves, as an object URL: fetched with the token (as api.ts's imageUrl does, plus an
 * abort), given up when the component goes before it arrives, the URL revoked when it unmounts (a
 * virtual grid mounts and unmounts tiles all the time).
 */
export function useObjectUrl(path: string | null): { url: string | null; failed: boolean } {
  const [state, setState] = useState<{ url: string | null; failed: boolean; path: string | null }>({
    url: null,
    failed: false,
    path: null,
  });
  useEffect(() => {
    if (!path) return;
    const controller = new AbortController();
    let url: string | null = null;
    const load = async () => {
      await imageSlot(controller.signal);
      try {
        const blob = await (await request(path, { signal: controller.signal })).blob();
        if (controller.signal.aborted) return;
        url = URL.createObjectURL(blob);
        setState({ url, failed: false, path });
      } finally {
        freeImageSlot();
      }
    };
    const timer = setTimeout(
      () =>
        void load().catch(() => {
          if (!controller.signal.aborted) setState({ url: null, failed: true, path });
        }),
      IMAGE_DELAY_MS,
    );
    return () => {
      clearTimeout(timer);
      controller.abort();
      if (url) URL.revokeObjectURL(url);
    };
  }, [path]);
  // a stale URL (another path's, already revoked) is never shown
  return state.path === path ? state : { url: null, failed: false };
}
