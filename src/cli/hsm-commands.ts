import { type Command, Option } from "commander";
import { TokenClusters } from "../hsm/token-clusters.js";

/**
 * `trent hsm list-clusters`: the tokens of a PKCS#11 module under the CloudHsmClusterId that
 * CreateCustomKeyStore takes for each (docs/custom-key-stores.md). Lists without logging in.
 */
export function addHsmCommands(program: Command): void {
  const hsm = program.command("hsm").description("PKCS#11 tokens as the CloudHSM clusters of custom key stores");
  hsm
    .command("list-clusters")
    .description("print each token of the PKCS#11 module with its CloudHsmClusterId, as JSON")
    .addOption(
      new Option("--pkcs11-module <path>", "the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so")
        .env("TRENT_PKCS11_MODULE")
        .makeOptionMandatory(),
    )
    .action((options: { pkcs11Module: string }) => {
      const clusters = new TokenClusters(options.pkcs11Module).list().map((token) => ({
        CloudHsmClusterId: token.clusterId,
        TokenLabel: token.label,
        SerialNumber: token.serialNumber,
        Slot: token.slot,
      }));
      process.stdout.write(`${JSON.stringify({ Clusters: clusters }, null, 2)}\n`);
    });
}
