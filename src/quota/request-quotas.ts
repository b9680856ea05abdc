import type { Caller } from "../domain/principal.js";

/** Request-rate quotas, checked by every edge before it runs an operation. */
export interface RequestQuotas {
  /** Throws ThrottlingException when the caller's account is over its rate for the operation's class. */
  admit(caller: Caller, operation: string): void;
}

/** No quotas at all: for unit tests that call operations directly. */
export class UnlimitedQuotas implements RequestQuotas {
  admit(): void {}
}
