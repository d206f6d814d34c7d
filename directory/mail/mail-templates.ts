import type { Role } from '../organisations/roles.js';

/**
 * The e-mails the directory sends, as plain text. Ordinary e-mail is not secure, so each one
 * says only what it must; when the recipient has chosen to leave titles and names out (P14),
 * no person's or organisation's name appears, in the subject or the body.
 */
export interface Recipient {
  /** The recipient's own name, or null when unknown. */
  name: string | null;
  /** P14: leave titles and names out of this e-mail. */
  omitNames: boolean;
}

export interface MailContent {
  subject: string;
  text: string;
}

export interface MailLinks {
  completeSignup(token: string): string;
  verifyEmail(token: string): string;
  acceptInvitation(token: string): string;
  resetPassword(token: string): string;
  signIn(): string;
}

/**
 * Links into the service. The token travels in the fragment (`#token=`), which browsers do not
 * send to servers or put in Referer headers, so it stays out of access logs.
 */
export function mailLinks(publicUrl: string): MailLinks {
  const base = publicUrl.replace(/\/+$/, '');
  return {
    completeSignup: (token) => `${base}/sign-up/complete#token=${token}`,
    verifyEmail: (token) => `${base}/verify-email#token=${token}`,
    acceptInvitation: (token) => `${base}/accept-invitation#token=${token}`,
    resetPassword: (token) => `${base}/reset-password#token=${token}`,
    signIn: () => `${base}/`,
  };
}

const greeting = (to: Recipient) =>
  to.omitNames || !to.name ? 'Hello,' : `Hello ${singleLine(to.name)},`;

/** Names come from users: keep them to one line so they cannot add lines of their own. */
const singleLine = (value: string) => value.replace(/[\r\n\t]+/g, ' ').trim();

const body = (...paragraphs: string[]) =>
  `${paragraphs.join('\n\n')}\n\n-- \nTelemoat\nThis message was sent automatically; replies are not read.\n`;

const validFor = (hours: number) =>
  hours % 24 === 0 ? `${hours / 24} day${hours === 24 ? '' : 's'}` : `${hours} hours`;

/** No greeting by name: sign-up takes no name, and whoever typed the address is unknown. */
export function signupLinkMail(link: string, validHours: number): MailContent {
  return {
    subject: 'Confirm your e-mail address for Telemoat',
    text: body(
      'Hello,',
      'Someone, hopefully you, signed up for Telemoat with this e-mail address. Open this link to confirm the address and choose your name and password:',
      link,
      `The link works once and for ${validFor(validHours)}. If you did not sign up, ignore this message: nothing is set up until the link is used, and the account is deleted when it expires.`,
    ),
  };
}

export function alreadyRegisteredMail(to: Recipient, signInLink: string): MailContent {
  return {
    subject: 'You already have a Telemoat account',
    text: body(
      greeting(to),
      'Someone, hopefully you, tried to sign up for Telemoat with this e-mail address, but it already belongs to an account. Nothing was changed.',
      `Sign in at ${signInLink} instead. If this was not you, you can ignore this message.`,
    ),
  };
}

export function invitationMail(
  to: Recipient,
  invitation: {
    orgName: string;
    inviterName: string | null;
    role: Role;
    link: string;
    validDays: number;
  },
): MailContent {
  const org = singleLine(invitation.orgName);
  const inviter = invitation.inviterName ? singleLine(invitation.inviterName) : null;
  const what = to.omitNames
    ? `You have been invited to join an organisation on Telemoat as ${invitation.role}.`
    : `${inviter ?? 'An administrator'} invited you to join ${org} on Telemoat as ${invitation.role}.`;
  return {
    subject: to.omitNames ? 'You are invited to Telemoat' : `Invitation to ${org} on Telemoat`,
    text: body(
      greeting(to),
      what,
      'Open this link to accept the invitation and the privacy terms, and to choose a password:',
      invitation.link,
      `The link works once and for ${validFor(invitation.validDays * 24)}. If you do not accept it, an account created for the invitation is deleted then, with everything attached to it.`,
    ),
  };
}

/** To the new address: confirming it is what makes the change take effect (P16). */
export function emailChangeMail(to: Recipient, link: string, validHours: number): MailContent {
  return {
    subject: 'Confirm your new e-mail address for Telemoat',
    text: body(
      greeting(to),
      'You asked to use this e-mail address for your Telemoat account. Open this link to confirm it; until then, the account keeps its current address:',
      link,
      `The link works once and for ${validFor(validHours)}. If you did not ask for this, ignore this message.`,
    ),
  };
}

/** To the old address, so an unwanted change does not go unnoticed. */
export function emailChangeNoticeMail(to: Recipient): MailContent {
  return {
    subject: 'Your Telemoat e-mail address is about to change',
    text: body(
      greeting(to),
      'Someone signed in to your Telemoat account asked to move it to another e-mail address. The change takes effect only once it is confirmed from the new address.',
      'If this was not you, sign in, change your password and end your other sessions.',
    ),
  };
}

/** To an address that already has an account, when another account asks to move to it. */
export function emailInUseMail(to: Recipient): MailContent {
  return {
    subject: 'Your e-mail address was entered on Telemoat',
    text: body(
      greeting(to),
      'Someone asked to move another Telemoat account to this e-mail address, but it already belongs to your account. Nothing was changed.',
    ),
  };
}

export function passwordResetMail(to: Recipient, link: string, validHours: number): MailContent {
  return {
    subject: 'Reset your Telemoat password',
    text: body(
      greeting(to),
      'Someone, hopefully you, asked to reset the password of your Telemoat account. Open this link to choose a new one:',
      link,
      `The link works once and for ${validFor(validHours)}. Choosing a new password signs you out everywhere. If you did not ask for this, ignore this message: your password stays as it is.`,
    ),
  };
}

/** Tells the owner at once, so a change they did not make does not go unnoticed. */
export function passwordChangedMail(to: Recipient): MailContent {
  return {
    subject: 'Your Telemoat password was changed',
    text: body(
      greeting(to),
      'The password of your Telemoat account was just changed, and your other sessions were ended.',
      'If this was not you, reset your password from the sign-in page at once.',
    ),
  };
}
