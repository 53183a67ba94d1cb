/**
 * Each actor boots with only the sections it needs. A slice crosses into worker threads by
 * structured clone, so it must stay plain data: no functions, classes or getters.
 */
import type { Config, ConfigSection } from './schema.js';

export function sliceFor<K extends ConfigSection>(config: Config, ...sections: K[]): Pick<Config, K> {
  const out = {} as Pick<Config, K>;
  for (const s of sections) {
    if (!Object.hasOwn(config, s)) throw new RangeError(`no config section "${String(s)}"`);
    (out as Record<string, unknown>)[s] = config[s];
  }
  return Object.freeze(out);
}
