import { describe, expect, it } from 'vitest';
import {
  alreadyRegisteredMail,
  emailChangeMail,
  emailChangeNoticeMail,
  emailInUseMail,
  invitationMail,
  mailLinks,
  signupLinkMail,
  type MailContent,
  type Recipient,
} from '../../directory/mail/mail-templates.js';

const links = mailLinks('https://telemoat.example.com/');
const token = 'a'.repeat(43);

function everyTemplate(to: Recipient): MailContent[] {
  return [
    signupLinkMail(links.completeSignup(token), 24),
    alreadyRegisteredMail(to, links.signIn()),
    invitationMail(to, {
      orgName: 'Hemliga Växthus AB',
      inviterName: 'Dr. Karin Lund',
      role: 'admin',
      link: links.acceptInvitation(token),
      validDays: 7,
    }),
    emailChangeMail(to, links.verifyEmail(token), 24),
    emailChangeNoticeMail(to),
    emailInUseMail(to),
  ];
}

describe('e-mail templates', () => {
  it('greet the recipient by name and name the organisation by default', () => {
    const mails = everyTemplate({ name: 'Ingrid Bergström', omitNames: false });
    // The sign-up link goes to whoever typed the address: it knows no name.
    const [signup, ...named] = mails;
    expect(signup!.text.split('\n')[0]).toBe('Hello,');
    for (const mail of named) expect(mail.text).toContain('Hello Ingrid Bergström,');
    expect(mails[2]!.subject).toContain('Hemliga Växthus AB');
    expect(mails[2]!.text).toContain('Dr. Karin Lund');
  });

  it('P14: leave every title and name out when the recipient asks', () => {
    for (const mail of everyTemplate({ name: 'Ingrid Bergström', omitNames: true })) {
      const all = `${mail.subject}\n${mail.text}`;
      for (const name of ['Ingrid', 'Bergström', 'Hemliga', 'Växthus', 'Karin', 'Lund', 'Dr.']) {
        expect(all, mail.subject).not.toContain(name);
      }
    }
  });

  it('carry link tokens in the fragment, which browsers never send to a server', () => {
    expect(links.completeSignup(token)).toBe(
      `https://telemoat.example.com/sign-up/complete#token=${token}`,
    );
    expect(links.verifyEmail(token)).toBe(
      `https://telemoat.example.com/verify-email#token=${token}`,
    );
    expect(links.acceptInvitation(token)).toBe(
      `https://telemoat.example.com/accept-invitation#token=${token}`,
    );
  });

  it('keep a name from adding lines of its own', () => {
    const mail = alreadyRegisteredMail(
      { name: 'Eve\r\nBcc: x@example.test', omitNames: false },
      'l',
    );
    expect(mail.text.split('\n')[0]).toBe('Hello Eve Bcc: x@example.test,');
  });
});
