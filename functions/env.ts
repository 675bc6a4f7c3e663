/**
 * The process environment as the functions see it: the only place they read `process.env`. It is
 * free of imports, so the entry module and the edge can read the function target and the log level
 * before anything heavy loads; everything else is parsed once by ./settings.ts.
 */
export const processEnv: Readonly<Record<string, string | undefined>> = process.env;

/** Set by the platform for functions-framework: the one function this instance serves. */
export const functionTarget = (): string | undefined => processEnv['FUNCTION_TARGET'];

/** FERRY_LOG_LEVEL (debug|info|warning|error), checked again with the rest by Settings. */
export const logLevelName = (): string | undefined => processEnv['FERRY_LOG_LEVEL'];

/** GOOGLE_CLOUD_PROJECT, for trace fields the edge adds before Settings are parsed. */
export const projectId = (): string | undefined => processEnv['GOOGLE_CLOUD_PROJECT'];
