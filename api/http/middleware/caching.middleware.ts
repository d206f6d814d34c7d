import type { RequestHandler } from 'express';
import compressionMiddleware from 'compression';

/**
 * API answers are personal or organisation data: no cache may store them, shared or private.
 * GET answers still carry an ETag (see buildApi), so a client that keeps its own copy can
 * revalidate with If-None-Match and get a 304 without the body.
 */
export function noStore(): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  };
}

/** Static dashboard files: long-lived for versioned assets, revalidated for the HTML entry. */
export const staticCaching = {
  maxAge: '1d',
  setHeaders(res: { setHeader(name: string, value: string): unknown }, filePath: string) {
    if (filePath.endsWith('.html')) res.setHeader('Cache-Control', 'no-cache');
  },
};

/**
 * gzip/brotli for JSON, HTML, CSV and the dashboard's scripts and styles. Never for
 * `text/event-stream`: a live stream must reach the client event by event, not buffered.
 */
export function compression(): RequestHandler {
  return compressionMiddleware({
    filter(req, res) {
      const type = String(res.getHeader('Content-Type') ?? '');
      if (type.startsWith('text/event-stream')) return false;
      return compressionMiddleware.filter(req, res);
    },
  });
}
