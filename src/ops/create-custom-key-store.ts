import type { CreateCustomKeyStoreRequest, CreateCustomKeyStoreResponse } from "@aws-sdk/client-kms";
import { newCustomKeyStoreId } from "../domain/custom-key-store.js";
import {
  CloudHsmClusterInUseException,
  CustomKeyStoreNameInUseException,
  LimitExceededException,
  ValidationException,
} from "../domain/errors.js";
import { authorize } from "./authorize.js";
import type { Operation } from "./context.js";
import {
  findCluster,
  refuseXksParameters,
  requireCloudHsmType,
  requireTrustAnchor,
  wrapPassword,
} from "./custom-key-store-access.js";

/** AWS's quota of custom key stores per account and Region. */
export const MAX_CUSTOM_KEY_STORES = 10;

/**
 * Creates an AWS_CLOUDHSM custom key store on a PKCS#11 token, DISCONNECTED. The password (the
 * token's user PIN) is not tried here, as AWS does not try it: ConnectCustomKeyStore does.
 */
export const createCustomKeyStore: Operation<CreateCustomKeyStoreRequest, CreateCustomKeyStoreResponse> = async (
  context,
  input,
) => {
  const { caller, services } = context;
  requireCloudHsmType(input.CustomKeyStoreType);
  refuseXksParameters(input);
  const name = input.CustomKeyStoreName as string;
  const clusterId = input.CloudHsmClusterId;
  const password = input.KeyStorePassword;
  if (clusterId === undefined || password === undefined) {
    throw new ValidationException(
      "CloudHsmClusterId, KeyStorePassword and TrustAnchorCertificate are required for a custom key store of type AWS_CLOUDHSM.",
    );
  }
  const trustAnchorCertificate = requireTrustAnchor(input.TrustAnchorCertificate);
  await authorize(context, "kms:CreateCustomKeyStore", null);
  findCluster(services, clusterId);
  const existing = await services.store.customKeyStores.listCustomKeyStores(
    caller.accountId,
    caller.region,
    null,
    MAX_CUSTOM_KEY_STORES,
  );
  if (existing.items.length >= MAX_CUSTOM_KEY_STORES) {
    throw new LimitExceededException(
      `This account already has ${MAX_CUSTOM_KEY_STORES} custom key stores in ${caller.region}, the most it can have.`,
    );
  }

  const customKeyStoreId = newCustomKeyStoreId();
  const created = await services.store.customKeyStores.createCustomKeyStore({
    customKeyStoreId,
    accountId: caller.accountId,
    region: caller.region,
    name,
    cloudHsmClusterId: clusterId,
    trustAnchorCertificate,
    wrappedPassword: await wrapPassword(services, customKeyStoreId, password),
    connectionState: "DISCONNECTED",
    connectionErrorCode: null,
    connectionGeneration: 0,
    createdAt: services.now(),
  });
  if (created === "name-in-use") {
    throw new CustomKeyStoreNameInUseException(
      `The custom key store name '${name}' is already assigned to another custom key store in this account and Region. Try again with a name that is unique.`,
    );
  }
  if (created === "cluster-in-use") {
    throw new CloudHsmClusterInUseException(
      `Cluster '${clusterId}' is already associated with a custom key store. Each custom key store must be associated with a different cluster.`,
    );
  }
  return { CustomKeyStoreId: customKeyStoreId };
};
