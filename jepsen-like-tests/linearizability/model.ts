/**
 * What the linearizability checker needs to know about the system under test.
 *
 * An operation's outcome is unknown when the client timed out: `return` is undefined (or
 * Infinity) and `output` is absent. Such an operation may take effect at any moment after its
 * call, or never; the checker lets it linearize anywhere after the call, including after the
 * end of the history (which is the same as never, since nothing observes it afterwards).
 */

export interface Operation<I, O> {
  readonly clientId: number;
  readonly input: I;
  /** Logical time of the invocation; any monotonic clock shared by all clients. */
  readonly call: number;
  /** The response, absent when the outcome is unknown. */
  readonly output?: O;
  /** Logical time of the response; undefined or Infinity when the outcome is unknown. */
  readonly return?: number;
}

export interface Model<S, I, O> {
  init(): S;
  /**
   * Applies `input` to `state`. With a known `output`, returns whether the system could have
   * answered that; with `output` undefined (unknown outcome) it must return true and the state
   * the operation would produce.
   */
  step(state: S, input: I, output: O | undefined): readonly [boolean, S];
  /** Splits a history into independent sub-histories (P-compositionality), e.g. by key. */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
  /** A string that identifies the state, for the search cache; defaults to JSON. */
  stateKey?(state: S): string;
  /** True when the input cannot change the state: unknown-outcome reads are dropped. */
  readOnly?(input: I): boolean;
  describe?(op: Operation<I, O>): string;
}

export function isUnknown(op: Operation<unknown, unknown>): boolean {
  return op.return === undefined || op.return === Infinity;
}
