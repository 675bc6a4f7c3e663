/** ferry's version, as `ferry --version` prints it and `ferry.manifest.json` records it. */
export const FERRY_VERSION = '0.1.0';
