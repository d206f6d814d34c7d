import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Browser-facing hardening for every answer. The dashboard loads only its own scripts, styles,
 * images and API, so the content security policy allows `'self'` and nothing else; no page may
 * frame it. HSTS only when the platform is reached over https (PUBLIC_URL): on plain-HTTP local
 * use it would pin browsers to a scheme the server does not speak.
 *
 * There is deliberately no CORS middleware: the dashboard is served from the API's own origin,
 * so no answer carries `Access-Control-Allow-*` and browsers refuse cross-origin reads.
 */
export function securityHeaders(options: { https: boolean }): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        imgSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        ...(options.https ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: options.https
      ? { maxAge: 31_536_000, includeSubDomains: true }
      : false,
    xPoweredBy: true,
  });
}
