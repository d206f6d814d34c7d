/**
 * The API client. The access token lives in this module's memory only; the refresh token is the
 * API's HttpOnly cookie, which scripts cannot read (docs/dashboard.md).
 */

import type { components, paths } from './api-schema';

export type ApiErrorBody = components['schemas']['Error'];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<(signedIn: boolean) => void>();

export function onSessionChange(listener: (signedIn: boolean) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setToken(token: string | null): void {
  const changed = (token === null) !== (accessToken === null);
  accessToken = token;
  if (changed) for (const listener of listeners) listener(token !== null);
}

export function isSignedIn(): boolean {
  return accessToken !== null;
}

const csrfHeader = { 'x-telemoat-csrf': '1' };

async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as Partial<ApiErrorBody>;
    return new ApiError(
      response.status,
      body.code ?? 'HTTP_ERROR',
      body.message ?? `The server answered ${response.status}.`,
      body.details,
    );
  } catch {
    return new ApiError(response.status, 'HTTP_ERROR', `The server answered ${response.status}.`);
  }
}

/**
 * Exchanges the refresh cookie for a new access token. Concurrent callers share one request:
 * a refresh token works once, and using it twice would end the session.
 */
export function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const response = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: csrfHeader,
      });
      // 204: no refresh cookie, nobody is signed in.
      if (!response.ok || response.status === 204) {
        setToken(null);
        return false;
      }
      const body = (await response.json()) as NonNullable<Answer<'/auth/refresh', 'post'>>;
      setToken(body.accessToken);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
}

/** Calls the API with the bearer token; on a 401 refreshes once and retries once. */
export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const send = () =>
    fetch(`/api/v1${path}`, {
      method: options.method ?? 'GET',
      credentials: 'same-origin',
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  let response = await send();
  if (response.status === 401 && accessToken !== null && !path.startsWith('/auth/')) {
    // Only an expired or ended token is worth a refresh: a wrong password (INVALID_CREDENTIALS)
    // sent again would only count as a second failure.
    const { code } = (await response.clone().json()) as { code?: string };
    if (code === 'UNAUTHENTICATED' && (await refresh())) response = await send();
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await request(path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export async function login(email: string, password: string): Promise<void> {
  const response = await fetch('/api/v1/auth/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password } satisfies Body<'/auth/login', 'post'>),
  });
  if (!response.ok) throw await errorOf(response);
  const body = (await response.json()) as Answer<'/auth/login', 'post'>;
  setToken(body.accessToken);
}

/**
 * Ends this session at the API: the bearer token (even an expired one) and the refresh cookie
 * both name it. Resolves once the server has confirmed that no session is left here (204, or
 * 401: there was none); otherwise rejects and keeps the token, so the page can say that signing
 * out failed instead of showing a sign-in page that a reload would undo.
 */
export async function logout(): Promise<void> {
  const response = await fetch('/api/v1/auth/logout', {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      ...csrfHeader,
      ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
    },
  });
  if (response.status !== 204 && response.status !== 401) throw await errorOf(response);
  setToken(null);
}

export async function logoutEverywhere(): Promise<void> {
  await request('/auth/logout-all', { method: 'POST' });
  setToken(null);
}

/** The current token, for the live stream's own fetch. */
export function bearer(): string | null {
  return accessToken;
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    // VALIDATION_FAILED names the fields: `[{ path, message }]`.
    if (Array.isArray(error.details) && error.details.length > 0) {
      const fields = (error.details as { path?: unknown; message?: unknown }[])
        .filter((d) => typeof d.message === 'string')
        .map((d) =>
          typeof d.path === 'string' && d.path
            ? `${d.path}: ${String(d.message)}`
            : String(d.message),
        );
      if (fields.length) return `${error.message} (${fields.join('; ')})`;
    }
    return error.message;
  }
  if (error instanceof Error) return `Could not reach Telemoat (${error.message}).`;
  return 'Something went wrong.';
}

// --- The routes' requests and answers, from the generated OpenAPI types (npm run api-types) ---

type Relative<K> = K extends `/api/v1${infer R}` ? R : never;
/** A route as the dashboard calls it: relative to /api/v1, with `{name}` for its parameters. */
type Route = Relative<keyof paths>;
type Method = 'get' | 'put' | 'post' | 'patch' | 'delete';
type Operation<P extends Route, M extends Method> = paths[`/api/v1${P}`][M];
type Json<T> = T extends { content: { 'application/json': infer J } } ? J : undefined;

/** The JSON body of a route's successful answer; `undefined` for a 204. */
export type Answer<P extends Route, M extends Method> =
  Operation<P, M> extends { responses: infer R }
    ? Json<R[keyof R & (200 | 201 | 202 | 204)]>
    : never;
/** The JSON body a route accepts. */
export type Body<P extends Route, M extends Method> =
  Operation<P, M> extends { requestBody?: infer B } ? Json<NonNullable<B>> : never;

export type Me = Answer<'/me', 'get'>;
export type Organisation = Me['organisations'][number];
export type Role = Organisation['role'];
export type DeviceSummary = Answer<'/orgs/{orgId}/devices', 'get'>['devices'][number];
export type DeviceDetails = Answer<'/orgs/{orgId}/devices/{deviceId}', 'get'>;
export type MetricEntry = Answer<'/orgs/{orgId}/metrics', 'get'>['metrics'][number];
type Point = Answer<'/orgs/{orgId}/readings', 'get'>['devices'][number]['points'][number];
export type AggregatePoint = Extract<Point, { mean: unknown }>;
export type RawPoint = Extract<Point, { value: unknown }>;
export type SecretAnswer = Answer<'/orgs/{orgId}/devices', 'post'>;
export type Member = Answer<'/orgs/{orgId}/members', 'get'>['members'][number];
