/**
 * The signed-in user's credentials live only in this tab's sessionStorage (never localStorage,
 * never a cookie): closing the tab forgets them. A session ends after an idle hour or twelve
 * hours in all, whichever comes first, and on Sign out.
 */
export interface Session {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  /** The ARN of the principal, when an answer revealed it. */
  readonly principalArn?: string;
  readonly startedAt: number;
  readonly lastActiveAt: number;
}

export const IDLE_LIMIT_MS = 60 * 60 * 1000;
export const ABSOLUTE_LIMIT_MS = 12 * 60 * 60 * 1000;
const STORAGE_KEY = "trent.console.session";

export function expiryReason(session: Session, now: number): string | null {
  if (now - session.startedAt >= ABSOLUTE_LIMIT_MS) return "Your session reached its 12-hour limit. Sign in again.";
  if (now - session.lastActiveAt >= IDLE_LIMIT_MS)
    return "Your session expired after an hour without activity. Sign in again.";
  return null;
}

export function loadSession(): Session | null {
  const text = sessionStorage.getItem(STORAGE_KEY);
  if (text === null) return null;
  try {
    const session = JSON.parse(text) as Session;
    if (typeof session.accessKeyId !== "string" || typeof session.secretAccessKey !== "string") return null;
    return session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** Marks activity, so the idle limit counts from now. */
export function touchSession(now: number): Session | null {
  const session = loadSession();
  if (session === null || expiryReason(session, now) !== null) return session;
  const touched = { ...session, lastActiveAt: now };
  saveSession(touched);
  return touched;
}
