import nodemailer from 'nodemailer';
import { DirectoryError } from '../directory.errors.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/** Sends one e-mail; rejects with MAIL_UNAVAILABLE when the mail server cannot be reached. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

export interface SmtpMailerOptions {
  /** smtp://host:port, smtps://user:password@host:465, … (nodemailer's URL form). */
  url: string;
  /** The From header, e.g. `Telemoat <no-reply@example.com>`. */
  from: string;
}

/**
 * Plain-text mail over SMTP (P5, P14): no HTML, no images, no tracking links, and nothing the
 * message does not need. A link is the only way back to the service.
 */
export function createSmtpMailer(options: SmtpMailerOptions): Mailer & { close(): void } {
  const transport = nodemailer.createTransport(
    {
      url: options.url,
      // Short timeouts: the API answers the request that sends the mail.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
      disableFileAccess: true,
      disableUrlAccess: true,
    },
    { from: options.from },
  );
  return {
    async send(message) {
      try {
        await transport.sendMail({
          to: message.to,
          subject: message.subject,
          text: message.text,
        });
      } catch (err) {
        throw new DirectoryError('MAIL_UNAVAILABLE', 'the mail server did not accept the message', {
          cause: err,
        });
      }
    },
    close: () => transport.close(),
  };
}
