import { LOCAL_BOOTSTRAP_ADMIN_KEY, type AppConfig } from '#libs/config';
import { isLoopbackHost } from '#libs/platform';

/**
 * The local default admin key is published in the README: anyone who can reach the API could use it. It is fine on a
 * loopback address only; elsewhere the API refuses to start with it, and refuses the key itself on every request (a
 * database bootstrapped locally keeps it after HOST changes).
 */
export function bootstrapKeyRefusal(config: Pick<AppConfig, 'HOST' | 'BOOTSTRAP_ADMIN_KEY'>): string | undefined {
  if (config.BOOTSTRAP_ADMIN_KEY !== LOCAL_BOOTSTRAP_ADMIN_KEY || isLoopbackHost(config.HOST)) return undefined;
  return (
    `BOOTSTRAP_ADMIN_KEY is the published local default, and HOST (${config.HOST}) is not a loopback address: ` +
    'set BOOTSTRAP_ADMIN_KEY to a secret of your own, or to an empty value for no bootstrap'
  );
}

/** Whether a presented key must be refused whatever the database says (the local default, off loopback). */
export const refusesPresentedKey = (host: string, key: string): boolean =>
  key === LOCAL_BOOTSTRAP_ADMIN_KEY && !isLoopbackHost(host);
