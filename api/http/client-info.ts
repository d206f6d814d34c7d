import { isIPv4, isIPv6 } from 'node:net';
import type { Request } from 'express';
import type { SignInClient } from '../../directory/sessions/sign-in.service.js';

/**
 * What the API keeps about the client of a sign-in. The full User-Agent string is a tracking
 * aid (P1), so only a coarse family such as "Firefox on Linux" is derived and stored.
 */
export function userAgentFamily(userAgent: string | undefined): string {
  const ua = userAgent ?? '';
  return `${browserOf(ua)} on ${systemOf(ua)}`;
}

function browserOf(ua: string): string {
  if (/\bEdg(e|A|iOS)?\//.test(ua)) return 'Edge';
  if (/\bOPR\/|\bOpera\b/.test(ua)) return 'Opera';
  if (/\bFirefox\/|\bFxiOS\//.test(ua)) return 'Firefox';
  if (/\bChrome\/|\bCriOS\/|\bChromium\//.test(ua)) return 'Chrome';
  if (/\bSafari\//.test(ua) && /\bVersion\//.test(ua)) return 'Safari';
  if (/^curl\//.test(ua)) return 'curl';
  if (/^node\b|\bundici\b/i.test(ua) || ua === '') return 'a program';
  return 'another client';
}

function systemOf(ua: string): string {
  if (/\b(iPhone|iPad|iPod)\b/.test(ua)) return 'iOS';
  if (/\bAndroid\b/.test(ua)) return 'Android';
  if (/\bCrOS\b/.test(ua)) return 'ChromeOS';
  if (/\bWindows\b/.test(ua)) return 'Windows';
  if (/\bMac OS X\b|\bMacintosh\b/.test(ua)) return 'macOS';
  if (/\bLinux\b|\bX11\b/.test(ua)) return 'Linux';
  return 'an unknown system';
}

/** The peer's address, with IPv4-mapped IPv6 unwrapped; `trust proxy` is off, so no header. */
export function clientIp(req: Request): string | undefined {
  const raw = req.socket.remoteAddress;
  if (!raw) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
  const ip = mapped ? mapped[1]! : raw;
  return isIPv4(ip) || isIPv6(ip) ? ip : undefined;
}

/** The client of a sign-in as the records may keep it: its address and a coarse family. */
export function clientOf(req: Request): SignInClient {
  return { ip: clientIp(req), userAgent: userAgentFamily(req.header('user-agent')) };
}
