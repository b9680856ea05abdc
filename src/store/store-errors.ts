/**
 * The database could not be reached or did not answer in time. The request did not take effect
 * (or its outcome is unknown) and may be retried; the protocol edge answers it as a dependency timeout.
 */
export class StoreUnavailableError extends Error {
  readonly code = "StoreUnavailable";

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}
