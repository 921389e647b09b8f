import type { LegacyOptions } from './config';
import type { Dialect, DialectContext } from './dialect';
import { dvidDialect } from './dvid/routes';
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
    // Last: every other path under /api is DVID's, and Kopano's /api/kvs comes first.
    dvidDialect(context, options.dvid),
  ];
}
