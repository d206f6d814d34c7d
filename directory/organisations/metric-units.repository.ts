import type { Queryable } from '../db/transaction.js';

export interface MetricDescription {
  metric: string;
  unit: string;
  label: string;
}

/**
 * The units and labels an organisation gives its metric names. InfluxDB knows only the names
 * (P2); what they mean to the organisation lives here.
 */
export class MetricUnitsRepository {
  constructor(private readonly db: Queryable) {}

  async listForOrg(orgId: string): Promise<MetricDescription[]> {
    const { rows } = await this.db.query<MetricDescription>(
      'SELECT metric, unit, label FROM metric_units WHERE org_id = $1 ORDER BY metric',
      [orgId],
    );
    return rows;
  }

  async describe(orgId: string, description: MetricDescription): Promise<void> {
    await this.db.query(
      `INSERT INTO metric_units (org_id, metric, unit, label) VALUES ($1, $2, $3, $4)
       ON CONFLICT (org_id, metric)
       DO UPDATE SET unit = EXCLUDED.unit, label = EXCLUDED.label, updated_at = now()`,
      [orgId, description.metric, description.unit, description.label],
    );
  }
}
