import { AuditLogRepository } from '../accounts/audit-log.repository.js';
import { transaction, type Queryable } from '../db/transaction.js';
import { MetricUnitsRepository, type MetricDescription } from './metric-units.repository.js';

/** The units and labels an organisation's admins give its metrics, with their history (P11). */
export class MetricUnitsService {
  constructor(private readonly pool: Queryable) {}

  async describe(actorId: string, orgId: string, description: MetricDescription): Promise<void> {
    await transaction(this.pool, async (client) => {
      await new MetricUnitsRepository(client).describe(orgId, description);
      await new AuditLogRepository(client).record({
        userId: actorId,
        actorUserId: actorId,
        action: 'metric.described',
        details: { orgId, metric: description.metric },
      });
    });
  }
}
