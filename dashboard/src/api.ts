/**
 * The API client. The access token lives in this module's memory only; the refresh token is the
 * API's HttpOnly cookie, which scripts cannot read (docs/dashboard.md).
 */

export interface ApiErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

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
      const body = (await response.json()) as { accessToken: string };
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
    if (await refresh()) response = await send();
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
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw await errorOf(response);
  const body = (await response.json()) as { accessToken: string };
  setToken(body.accessToken);
}

/** Ends this session at the API (bearer token and cookie), then forgets the token. */
export async function logout(): Promise<void> {
  try {
    await fetch('/api/v1/auth/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        ...csrfHeader,
        ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
      },
    });
  } finally {
    setToken(null);
  }
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

// --- Answers of the routes the dashboard uses ---

export type Role = 'owner' | 'admin' | 'member' | 'viewer';
export interface Me {
  id: string;
  name: string;
  email: string;
  phone: string | null;
  address: string | null;
  settings: { omitNamesInEmail: boolean };
  organisations: { id: string; name: string; role: Role }[];
}
export interface DeviceSummary {
  id: string;
  name: string;
  status: 'active' | 'disabled';
}
export interface DeviceDetails extends DeviceSummary {
  createdAt: string;
  updatedAt: string;
  connected: boolean;
  lastSeen: string | null;
  lastReadingAt: string | null;
}
export interface Reading {
  time: string;
  metric: string;
  value: number | boolean;
}
export interface LatestAnswer {
  devices: (DeviceSummary & { readings: Reading[] })[];
}
export interface MetricEntry {
  metric: string;
  unit: string | null;
  label: string | null;
  reported: boolean;
}
export interface AggregatePoint {
  time: string;
  min: number | null;
  max: number | null;
  mean: number | null;
  count: number;
}
export interface RawPoint {
  time: string;
  value: number | boolean;
}
export interface SeriesAnswer {
  window: 'raw' | '1m' | '1h' | '1d';
  from: string;
  to: string;
  devices: { id: string; name: string; metric: string; points: (AggregatePoint | RawPoint)[] }[];
}
export interface SecretAnswer {
  device: DeviceSummary & { createdAt: string; updatedAt: string };
  secret: string;
  mosquittoPub: string;
}
export interface Member {
  userId: string;
  name: string | null;
  role: Role;
  joinedAt: string;
  email?: string | null;
}
export interface Session {
  id: string;
  method: string;
  userAgent: string | null;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  current: boolean;
}
export interface SignIn {
  time: string;
  method: string;
  userAgent: string | null;
  network: string | null;
}
export interface AuditEntry {
  action: string;
  at: string;
  actor: { self: boolean; userId: string | null };
  details: Record<string, string | number | boolean | string[]>;
}
