import type { AuditLogRepository } from '../accounts/audit-log.repository.js';
import type { MetricDescription, MetricUnitsRepository } from './metric-units.repository.js';
import type { MetricUnitsService } from './metric-units.service.js';

/** The units and labels organisations give their metrics, in memory, by organisation. */
export class FakeMetricUnits implements Pick<MetricUnitsRepository, keyof MetricUnitsRepository> {
  private readonly byOrg = new Map<string, Map<string, MetricDescription>>();

  listForOrg(orgId: string): Promise<MetricDescription[]> {
    const described = [...(this.byOrg.get(orgId)?.values() ?? [])];
    return Promise.resolve(
      described.sort((a, b) => (a.metric < b.metric ? -1 : 1)).map((d) => ({ ...d })),
    );
  }

  /** One description per organisation and metric: a second replaces the first. */
  describe(orgId: string, description: MetricDescription): Promise<void> {
    const described = this.byOrg.get(orgId) ?? new Map<string, MetricDescription>();
    described.set(description.metric, { ...description });
    this.byOrg.set(orgId, described);
    return Promise.resolve();
  }
}

/** MetricUnitsService over FakeMetricUnits: the change and its record in the admin's history. */
export class FakeMetricUnitsService implements Pick<MetricUnitsService, keyof MetricUnitsService> {
  constructor(
    private readonly units: FakeMetricUnits,
    private readonly audit: Pick<AuditLogRepository, 'record'>,
  ) {}

  async describe(actorId: string, orgId: string, description: MetricDescription): Promise<void> {
    await this.units.describe(orgId, description);
    await this.audit.record({
      userId: actorId,
      actorUserId: actorId,
      action: 'metric.described',
      details: { orgId, metric: description.metric },
    });
  }
}
