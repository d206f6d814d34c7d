import { startSmtpCatcher, type CaughtMail, type SmtpCatcher } from '../../servers/smtp-catcher.js';

export type { CaughtMail };

export interface TestMailbox extends SmtpCatcher {
  /**
   * The next message to `address` that no earlier call returned, waiting up to `timeoutMs`
   * for it to arrive over SMTP.
   */
  next(address: string, timeoutMs?: number): Promise<CaughtMail>;
  /** Every message to `address` so far. */
  to(address: string): CaughtMail[];
}

const normalise = (address: string) => address.trim().toLowerCase();

/**
 * A real SMTP server on a free loopback port for one test file; pass `url` to the platform as
 * SMTP_URL. The API's mailer (nodemailer) delivers to it exactly as to a real mail server.
 */
export async function startTestMailbox(): Promise<TestMailbox> {
  const catcher = await startSmtpCatcher();
  const taken = new Set<CaughtMail>();
  const waiting: (() => void)[] = [];
  catcher.onMail(() => waiting.splice(0).forEach((wake) => wake()));

  const to = (address: string) =>
    catcher.mails.filter((m) => m.to.some((t) => normalise(t) === normalise(address)));

  return {
    ...catcher,
    get mails() {
      return catcher.mails;
    },
    to,
    async next(address, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = to(address).find((m) => !taken.has(m));
        if (found) {
          taken.add(found);
          return found;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no e-mail to ${address} within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiting.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

/** The one-time token of the link in a message (`…#token=<43 characters>`). */
export function tokenIn(mail: CaughtMail): string {
  const match = /#token=([A-Za-z0-9_-]{43})\b/.exec(mail.text);
  if (!match) throw new Error(`no link token in the e-mail "${mail.subject}"`);
  return match[1]!;
}
