import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from './free-port.js';

/** One message as a real SMTP client delivered it, parsed back from its MIME form. */
export interface CaughtMail {
  from: string;
  /** Envelope recipients. */
  to: string[];
  subject: string;
  text: string;
  receivedAt: Date;
}

export interface SmtpCatcher {
  /** smtp://127.0.0.1:PORT, the value for SMTP_URL. */
  url: string;
  port: number;
  /** Every message received so far, oldest first. */
  mails: readonly CaughtMail[];
  /** Called for every message received from now on. */
  onMail(listener: (mail: CaughtMail) => void): void;
  stop(): Promise<void>;
}

/**
 * A real SMTP server on 127.0.0.1 that keeps what it receives instead of delivering it: the
 * local start-up prints the messages (so sign-up works without a mail server) and the tests
 * read them. Plain SMTP without STARTTLS or AUTH, as a catcher on loopback needs neither.
 */
export async function startSmtpCatcher(options: { port?: number } = {}): Promise<SmtpCatcher> {
  const mails: CaughtMail[] = [];
  const listeners: ((mail: CaughtMail) => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    size: 1024 * 1024,
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (parsed) => {
          const mail: CaughtMail = {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            receivedAt: new Date(),
          };
          mails.push(mail);
          for (const listener of listeners) listener(mail);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  server.on('error', () => {});
  const port = await freePort(options.port);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    mails,
    onMail: (listener) => void listeners.push(listener),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
