/** One reading as ingest accepts it: pseudonyms, the metric, the value and the time (P2). */
export interface ReadingPoint {
  tenantKey: string;
  deviceKey: string;
  metric: string;
  value: number | boolean;
  /** Epoch milliseconds. */
  time: number;
}
