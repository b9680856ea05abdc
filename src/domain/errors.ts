/**
 * The typed error model. Each class is named exactly like the AWS error code it becomes on the
 * wire; operations throw them and the protocol edge maps them once.
 */
export abstract class KmsError extends Error {
  /** The HTTP status AWS answers this error with. */
  readonly status: number = 400;
  /** The wire `__type` (AWS error code). */
  abstract readonly code: string;
}

function kmsError(code: string, status = 400) {
  return class extends KmsError {
    override readonly status = status;
    readonly code = code;
    constructor(message: string) {
      super(message);
      this.name = code;
    }
  };
}

export class AccessDeniedException extends kmsError("AccessDeniedException") {}
export class CloudHsmClusterInUseException extends kmsError("CloudHsmClusterInUseException") {}
export class CloudHsmClusterInvalidConfigurationException extends kmsError(
  "CloudHsmClusterInvalidConfigurationException",
) {}
export class CloudHsmClusterNotActiveException extends kmsError("CloudHsmClusterNotActiveException") {}
export class CloudHsmClusterNotFoundException extends kmsError("CloudHsmClusterNotFoundException") {}
export class CloudHsmClusterNotRelatedException extends kmsError("CloudHsmClusterNotRelatedException") {}
export class ConflictException extends kmsError("ConflictException") {}
export class CustomKeyStoreHasCMKsException extends kmsError("CustomKeyStoreHasCMKsException") {}
export class CustomKeyStoreInvalidStateException extends kmsError("CustomKeyStoreInvalidStateException") {}
export class CustomKeyStoreNameInUseException extends kmsError("CustomKeyStoreNameInUseException") {}
export class CustomKeyStoreNotFoundException extends kmsError("CustomKeyStoreNotFoundException") {}
export class AlreadyExistsException extends kmsError("AlreadyExistsException") {}
export class DependencyTimeoutException extends kmsError("DependencyTimeoutException", 503) {}
export class DisabledException extends kmsError("DisabledException") {}
export class DryRunOperationException extends kmsError("DryRunOperationException", 412) {}
export class ExpiredImportTokenException extends kmsError("ExpiredImportTokenException") {}
export class IncorrectKeyException extends kmsError("IncorrectKeyException") {}
export class IncorrectTrustAnchorException extends kmsError("IncorrectTrustAnchorException") {}
export class IncorrectKeyMaterialException extends kmsError("IncorrectKeyMaterialException") {}
export class IncompleteSignatureException extends kmsError("IncompleteSignatureException") {}
export class InvalidAliasNameException extends kmsError("InvalidAliasNameException") {}
export class InvalidArnException extends kmsError("InvalidArnException") {}
export class InvalidCiphertextException extends kmsError("InvalidCiphertextException") {}
export class InvalidGrantIdException extends kmsError("InvalidGrantIdException") {}
export class InvalidGrantTokenException extends kmsError("InvalidGrantTokenException") {}
export class InvalidImportTokenException extends kmsError("InvalidImportTokenException") {}
export class InvalidKeyUsageException extends kmsError("InvalidKeyUsageException") {}
export class InvalidMarkerException extends kmsError("InvalidMarkerException") {}
export class InvalidSignatureException extends kmsError("InvalidSignatureException") {}
export class KMSInternalException extends kmsError("KMSInternalException", 500) {}
export class KeyUnavailableException extends kmsError("KeyUnavailableException", 500) {}
export class KMSInvalidMacException extends kmsError("KMSInvalidMacException") {}
export class KMSInvalidSignatureException extends kmsError("KMSInvalidSignatureException") {}
export class KMSInvalidStateException extends kmsError("KMSInvalidStateException") {}
export class LimitExceededException extends kmsError("LimitExceededException") {}
export class MalformedPolicyDocumentException extends kmsError("MalformedPolicyDocumentException") {}
export class MissingAuthenticationTokenException extends kmsError("MissingAuthenticationTokenException") {}
export class NotFoundException extends kmsError("NotFoundException") {}
export class RequestEntityTooLargeException extends kmsError("RequestEntityTooLargeException", 413) {}
export class SerializationException extends kmsError("SerializationException") {}
export class TagException extends kmsError("TagException") {}
export class ThrottlingException extends kmsError("ThrottlingException") {}
export class UnknownOperationException extends kmsError("UnknownOperationException") {}
export class UnrecognizedClientException extends kmsError("UnrecognizedClientException") {}
export class UnsupportedOperationException extends kmsError("UnsupportedOperationException") {}
export class ValidationException extends kmsError("ValidationException") {}

// CloudTrail's LookupEvents errors, for the audit API the web console reads (protocol/aws/cloudtrail-edge.ts).
export class InvalidLookupAttributesException extends kmsError("InvalidLookupAttributesException") {}
export class InvalidMaxResultsException extends kmsError("InvalidMaxResultsException") {}
export class InvalidNextTokenException extends kmsError("InvalidNextTokenException") {}
export class InvalidTimeRangeException extends kmsError("InvalidTimeRangeException") {}
