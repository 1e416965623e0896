import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local HTTP server for download tests: serves byte buffers by path, answers `Range: bytes=N-`
 * with 206 (unless told to ignore ranges), and can cut the connection halfway through a response.
 */
export interface FileServer {
  url: string;
  /** Range headers received, in order ("" for a request without one). */
  ranges: string[];
  requests: string[];
  /** The next N full responses send half the body, then drop the connection. */
  cutNext(count: number): void;
  close(): Promise<void>;
}

export interface FileServerOptions {
  files: Record<string, Uint8Array>;
  ignoreRange?: boolean;
}

export async function startFileServer(o: FileServerOptions): Promise<FileServer> {
  const ranges: string[] = [];
  const requests: string[] = [];
  let cuts = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    requests.push(path);
    ranges.push(req.headers.range ?? "");
    const body = o.files[path];
    if (!body) {
      res.writeHead(404).end("not found");
      return;
    }
    const start = o.ignoreRange ? 0 : Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
    if (start >= body.length && start > 0) {
      res.writeHead(416, { "Content-Range": `bytes */${body.length}` }).end();
      return;
    }
    const rest = body.subarray(start);
    const headers: Record<string, string | number> = { "Content-Length": rest.length };
    if (start > 0) headers["Content-Range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    if (cuts > 0) {
      cuts--;
      res.write(rest.subarray(0, Math.floor(rest.length / 2)), () => res.destroy());
      return;
    }
    res.end(rest);
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ranges,
    requests,
    cutNext: (count) => (cuts = count),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
