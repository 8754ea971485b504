/** Options `build` and `dev` share: the project's entry module and the WIT world it is built for. */
import { Option } from 'commander';

export type World = 'seed' | 'alga';

export function entryOption(): Option {
  return new Option('--entry <file>', 'entry module exporting `handler`, relative to the project').default('src/index.ts');
}

export function worldOption(): Option {
  return new Option('--world <world>', "WIT dialect to build for (default: alga when the sources import Alga's @alga-psa/extension-runtime, else seed)").choices(['seed', 'alga']);
}
