/**
 * Reason catalogues: every code ferry writes (an error code, a rejection or skip reason, a rollout
 * condition, a validation finding) is listed once, per feature, with its one-line meaning and the
 * hint shown to people — the shape of argo-rollouts' conditions
 * (https://github.com/argoproj/argo-rollouts/blob/master/utils/conditions/conditions.go: a reason
 * constant next to its message). A catalogue is an `as const` object, so its keys are a closed
 * union (`keyof typeof X`) and a code that is not listed does not compile. README's "Reason codes"
 * section is generated from these files (`npm run docs:reasons`).
 */

/** What a code means, in one line, and what a person should do next. */
export interface ReasonEntry {
  readonly meaning: string;
  readonly hint: string;
}

export type Catalogue = Readonly<Record<string, ReasonEntry>>;

/** The codes of a catalogue in the order they are listed (z.enum takes this list as it is). */
export const codesOf = <C extends Catalogue>(catalogue: C): ReadonlyArray<keyof C & string> => Object.keys(catalogue) as Array<keyof C & string>;

/** A type guard for a catalogue's codes (for codes that arrive as strings from outside). */
export const isCodeOf =
  <C extends Catalogue>(catalogue: C) =>
  (code: unknown): code is keyof C & string =>
    typeof code === 'string' && Object.hasOwn(catalogue, code);
