import type { LegacyOptions } from './config';
import type { Dialect, DialectContext } from './dialect';
import { kopanoDialect } from './kopano/routes';
import { openFnDialect } from './openfn/routes';
import { prosodyDialect } from './prosody/routes';
import { rivetDialect } from './rivet/routes';

export { legacyOptions, LegacyConfigSchema, type LegacyOptions } from './config';
export type { Dialect, DialectRoute } from './dialect';

/** The legacy dialects, each answering its own paths. */
export function legacyDialects(context: DialectContext, options: LegacyOptions): Dialect[] {
  return [
    kopanoDialect(context, options.kopano),
    rivetDialect(context, options.rivet),
    prosodyDialect(context, options.prosody),
    openFnDialect(context, options.openfn),
  ];
}
