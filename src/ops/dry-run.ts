import { DryRunOperationException } from "../domain/errors.js";

/** Called where an operation has checked everything and would act: a dry run stops here. */
export function stopIfDryRun(input: { DryRun?: boolean | undefined }): void {
  if (input.DryRun === true) {
    throw new DryRunOperationException("The request would have succeeded, but the DryRun option is set.");
  }
}
