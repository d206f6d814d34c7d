/** Times in the user's own time zone, numbers in their locale, always with the unit. */
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function formatDateTime(iso: string | number | Date): string {
  return dateTime.format(new Date(iso));
}

export function formatTime(iso: string | number | Date): string {
  return timeOnly.format(new Date(iso));
}

export function formatValue(value: number | boolean, unit: string | null | undefined): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  const text = number.format(value);
  if (!unit || unit === 'count') return unit === 'count' ? `${text} count` : text;
  return unit === '%' || unit === '°C' || unit === '°F' || unit === '°'
    ? `${text}${unit}`
    : `${text} ${unit}`;
}

export function formatAgo(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(seconds, 'second');
  if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), 'hour');
  return relative.format(Math.round(seconds / 86_400), 'day');
}

export const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** The value of a `datetime-local` input for a time, in the user's zone. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
