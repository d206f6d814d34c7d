import http from 'node:http';

/**
 * A minimal cookie jar for driving redirects and cookie-authenticated calls with fetch: it
 * keeps each cookie by name (paths and domains are not modelled; the tests talk to one API).
 */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some(
        (a) =>
          /^\s*max-age=0\s*$/i.test(a) ||
          (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1] ?? '') < Date.now()),
      );
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  set(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  delete(name: string): void {
    this.cookies.delete(name);
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** The attributes of the named cookie in a response's Set-Cookie lines, lower-cased. */
export function setCookieAttributes(response: Response, name: string): string[] | undefined {
  const line = response.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  return line
    ?.split(';')
    .slice(1)
    .map((a) => a.trim().toLowerCase());
}

export interface JsonResponse {
  status: number;
  body: unknown;
  response: Response;
}

/** One API call with JSON in and out; a jar, when given, sends and keeps cookies. */
export async function call(
  url: string,
  init: {
    method?: string;
    body?: unknown;
    token?: string;
    jar?: CookieJar;
    csrf?: boolean;
    userAgent?: string;
    /** A loopback address to call from (127.0.0.2, …): another client network, for real. */
    from?: string;
  } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.jar) headers.cookie = init.jar.header();
  if (init.csrf) headers['x-telemoat-csrf'] = '1';
  if (init.userAgent) headers['user-agent'] = init.userAgent;
  const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
  const sent = init.body === undefined ? undefined : JSON.stringify(init.body);
  const response = init.from
    ? await requestFrom(init.from, url, { method, headers, body: sent })
    : await fetch(url, { method, headers, redirect: 'manual', ...(sent ? { body: sent } : {}) });
  init.jar?.store(response);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, body, response };
}

/** fetch cannot choose its source address; node:http can, and its answer becomes a Response. */
function requestFrom(
  localAddress: string,
  url: string,
  init: { method: string; headers: Record<string, string>; body: string | undefined },
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method, headers: init.headers, localAddress });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          for (const v of Array.isArray(value) ? value : value ? [value] : []) {
            headers.append(name, v);
          }
        }
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers }));
      });
    });
    req.end(init.body);
  });
}
