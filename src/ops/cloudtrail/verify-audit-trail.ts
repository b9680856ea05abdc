import type { AuditFiles } from "../../audit/audit-files.js";
import type { OperationContext } from "../context.js";
import { authorizeTrailRead } from "./lookup-events.js";

export interface VerifyAuditTrailOutput {
  /** True when every chain verified from its first line to its last. */
  readonly Ok: boolean;
  readonly Chains: {
    readonly Chain: string;
    readonly Files: number;
    readonly Records: number;
    readonly Seals: number;
    /** Records after the chain's last seal: hash-chained, not yet covered by a MAC. */
    readonly Unsealed: number;
    readonly Problem?: {
      readonly Kind: string;
      readonly File: string;
      readonly Line: number;
      readonly Message: string;
    };
  }[];
  readonly CheckedAt: Date;
}

/**
 * Trent's own operation beside LookupEvents: checks every audit chain in the audit directory as
 * `trent audit verify` does (hash chain and seals, under the seal key the server holds), and
 * reports each chain's counts and its first problem. Reading the trail's integrity is reading the
 * trail: it is allowed by cloudtrail:LookupEvents.
 */
export async function verifyAuditTrail(context: OperationContext, files: AuditFiles): Promise<VerifyAuditTrailOutput> {
  await authorizeTrailRead(context);
  const statuses = await files.verify();
  return {
    Ok: statuses.every((status) => status.problem === null),
    Chains: statuses.map((status) => ({
      Chain: status.chain,
      Files: status.files,
      Records: status.records,
      Seals: status.seals,
      Unsealed: status.unsealed,
      ...(status.problem === null
        ? {}
        : {
            Problem: {
              Kind: status.problem.kind,
              File: status.problem.file.slice(files.dir.length + 1),
              Line: status.problem.line,
              Message: status.problem.message,
            },
          }),
    })),
    CheckedAt: context.services.now(),
  };
}
