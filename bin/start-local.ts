import path from 'node:path';
import { z } from 'zod';
import { apiConfigSchema } from '../api/api.config.js';
import { env, loadConfig } from '../common/config.js';
import { createLogger, safeUrl } from '../common/logger.js';
import { startSimulatedFleet } from '../fleet/simulated-fleet.js';
import { startInflux, startPostgres } from '../servers/local-servers.js';
import { startSmtpCatcher, type CaughtMail } from '../servers/smtp-catcher.js';
import { seedDemo, demoLogin } from './demo.js';
import { loadOrCreateSecrets, platformEnv, type ServerEndpoints } from './platform-env.js';
import { startPlatform } from './platform.js';
import { runMain } from './run-main.js';

/** Settings of the local start-up itself; the components' own keys are checked by their schemas. */
const localConfigSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  TELEMOAT_DATA_DIR: z.string().min(1).default('.data'),
  MQTT_PORT: env.port(1883),
  API_PORT: env.port(8080),
  FLEET_INTERVAL_MS: z.coerce.number().int().min(100).default(2000),
  DATABASE_URL: env.url(['postgres:', 'postgresql:']).optional(),
  INFLUX_URL: env.url(['http:', 'https:']).optional(),
  INFLUX_ADMIN_USER: env.name().optional(),
  INFLUX_ADMIN_PASSWORD: z.string().optional(),
  /** A mail server of your own; without it, e-mails are caught locally and printed. */
  SMTP_URL: env.url(['smtp:', 'smtps:']).optional(),
});

runMain('telemoat', async () => {
  const local = loadConfig('local start-up', localConfigSchema, process.env);
  const logger = createLogger({ name: 'telemoat', level: local.LOG_LEVEL, pretty: true });
  const log = logger.child({ module: 'start-local' });
  const dataDir = path.resolve(local.TELEMOAT_DATA_DIR);
  const stops: (() => Promise<void>)[] = [];
  const serverLog = (line: string) => log.debug(line);

  // Servers from the environment win; otherwise start our own in the data folder.
  const postgres = local.DATABASE_URL
    ? { url: local.DATABASE_URL }
    : await startPostgres({ dataDir: path.join(dataDir, 'postgres'), log: serverLog });
  if ('stop' in postgres) stops.push(() => postgres.stop());
  const influx: Omit<ServerEndpoints, 'postgresAdminUrl'> =
    local.INFLUX_URL && local.INFLUX_ADMIN_USER && local.INFLUX_ADMIN_PASSWORD
      ? {
          influxUrl: local.INFLUX_URL,
          influxAdminUser: local.INFLUX_ADMIN_USER,
          influxAdminPassword: local.INFLUX_ADMIN_PASSWORD,
        }
      : await startInflux({ dataDir: path.join(dataDir, 'influx'), log: serverLog }).then((s) => {
          stops.push(() => s.stop());
          return {
            influxUrl: s.url,
            influxAdminUser: s.adminUser,
            influxAdminPassword: s.adminPassword,
          };
        });

  const secrets = await loadOrCreateSecrets(path.join(dataDir, 'secrets.json'));
  // Sign-up needs e-mail: without SMTP_URL, a catcher on 127.0.0.1 prints every message.
  const mailContext = { apiBase: `http://127.0.0.1:${local.API_PORT}`, termsVersion: '1' };
  const mailCatcher = local.SMTP_URL ? undefined : await startSmtpCatcher({ port: 1025 });
  if (mailCatcher) {
    stops.push(() => mailCatcher.stop());
    mailCatcher.onMail((mail) => process.stdout.write(describeMail(mail, mailContext)));
  }
  const platformEnvironment = {
    ...platformEnv({ postgresAdminUrl: postgres.url, ...influx }, secrets, {
      database: 'telemoat',
      influxDatabase: 'telemoat',
      spoolDir: path.join(dataDir, 'spool'),
      mqttPort: local.MQTT_PORT,
      apiPort: local.API_PORT,
    }),
    ...(mailCatcher ? { SMTP_URL: mailCatcher.url } : {}),
    ...process.env,
  };
  const platform = await startPlatform(platformEnvironment, logger);
  stops.unshift(() => platform.close());
  const apiConfig = loadConfig('api', apiConfigSchema, platformEnvironment);
  Object.assign(mailContext, {
    apiBase: `http://127.0.0.1:${platform.apiPort}`,
    termsVersion: apiConfig.PRIVACY_TERMS_VERSION,
  });

  const fleetFile = path.join(dataDir, 'demo-fleet.json');
  const devices = await seedDemo(apiConfig, fleetFile);
  const fleet = startSimulatedFleet({
    mqttUrl: `mqtt://127.0.0.1:${platform.mqttPort}`,
    devices,
    intervalMs: local.FLEET_INTERVAL_MS,
    onError: (deviceId, err) => log.warn({ deviceId, err: err.message }, 'simulated device error'),
  });
  stops.unshift(() => fleet.stop());

  const first = devices[0]!;
  process.stdout.write(
    [
      '',
      'Telemoat is running.',
      `  Dashboard   http://127.0.0.1:${platform.apiPort}/`,
      `  API         http://127.0.0.1:${platform.apiPort}/api/v1`,
      `  MQTT        mqtt://127.0.0.1:${platform.mqttPort}  (WebSocket ws://127.0.0.1:${platform.brokerPorts.ws ?? '-'}/mqtt)`,
      `  Metrics     http://127.0.0.1:${platform.brokerPorts.metrics}/metrics`,
      `  Demo login  ${demoLogin.email} / ${demoLogin.password}`,
      mailCatcher
        ? `  E-mail      printed below; nothing is delivered (SMTP catcher on ${mailCatcher.url})`
        : `  E-mail      sent through ${safeUrl(local.SMTP_URL!)}`,
      `  Fleet       ${devices.length} simulated devices, one reading set every ${local.FLEET_INTERVAL_MS} ms (secrets in ${fleetFile})`,
      '',
      'Publish a reading yourself:',
      `  mosquitto_pub -h 127.0.0.1 -p ${platform.mqttPort} -q 1 -i ${first.id} -u ${first.id} -P "$(node -p 'require("${fleetFile}")[0].secret')" \\`,
      `    -t devices/${first.id}/telemetry -m '{"readings":{"temperature":21.5}}'`,
      '',
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );

  return {
    async close() {
      for (const stop of stops) await stop();
    },
  };
});

/** A caught e-mail for the console, with the API call its link stands for until a page exists. */
function describeMail(
  mail: CaughtMail,
  { apiBase, termsVersion }: { apiBase: string; termsVersion: string },
): string {
  const lines = ['', `E-mail to ${mail.to.join(', ')}: ${mail.subject}`];
  lines.push(...mail.text.split('\n').map((line) => `  | ${line}`));
  const token = /#token=([\w-]{43})/.exec(mail.text)?.[1];
  const json = `-H 'content-type: application/json'`;
  if (token && mail.text.includes('/accept-invitation#')) {
    lines.push(
      '  Accept it with:',
      `  curl -s -X POST ${apiBase}/api/v1/invitations/accept ${json} -d '{"token":"${token}","password":"choose-a-password","termsVersion":"${termsVersion}"}'`,
    );
  } else if (token && mail.text.includes('/sign-up/complete#')) {
    lines.push(
      '  Complete the sign-up with:',
      `  curl -s -X POST ${apiBase}/api/v1/auth/signup/complete ${json} -d '{"token":"${token}","name":"Your Name","password":"choose-a-password","termsVersion":"${termsVersion}"}'`,
    );
  } else if (token) {
    lines.push(
      '  Confirm it with:',
      `  curl -s -X POST ${apiBase}/api/v1/auth/verify-email ${json} -d '{"token":"${token}"}'`,
    );
  }
  return `${lines.join('\n')}\n`;
}
