import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The package root: compiled code lives in dist/src/, so it is three levels up from here. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MIGRATIONS_DIR = join(PACKAGE_ROOT, 'migrations');
