import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import pkcs11 from "pkcs11js";

/** Where a token is and how to log in to it. */
export interface Pkcs11TokenConfig {
  /** The PKCS#11 module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so. */
  readonly modulePath: string;
  /** The token's label; either this or `slot`. */
  readonly tokenLabel?: string;
  /** The slot id, as `softhsm2-util --show-slots` or `pkcs11-tool -L` print it. */
  readonly slot?: number;
  /** The user PIN. */
  readonly pin: string;
}

export class Pkcs11TokenError extends Error {
  constructor(
    message: string,
    /** The Cryptoki return value name (CKR_...), when the token gave one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Return values after which a session is gone for good (token removed, HSM restarted, logged out): open a new one. */
const SESSION_LOST = new Set([
  "CKR_SESSION_HANDLE_INVALID",
  "CKR_SESSION_CLOSED",
  "CKR_DEVICE_REMOVED",
  "CKR_DEVICE_ERROR",
  "CKR_TOKEN_NOT_PRESENT",
  "CKR_USER_NOT_LOGGED_IN",
  "CKR_CRYPTOKI_NOT_INITIALIZED",
]);

/** Whether a failure means the session is lost (another session may work), not that the operation was refused. */
export function isSessionLost(error: unknown): error is Pkcs11TokenError {
  return error instanceof Pkcs11TokenError && SESSION_LOST.has(error.code ?? "");
}

/** A handle of an object inside the token; it never holds key bytes. */
export type TokenKey = pkcs11.Handle;

const GCM_TAG_BYTES = 16;
const GCM_IV_BYTES = 12;
/** Session states of a logged-in user (pkcs11js does not export CKS_*). */
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;

/**
 * Cryptoki allows one C_Initialize per module per process, and one login per token per
 * application, so modules are loaded once and shared by every token opened from them.
 */
const loadedModules = new Map<string, pkcs11.PKCS11>();

function loadModule(path: string): pkcs11.PKCS11 {
  let module = loadedModules.get(path);
  if (module === undefined) {
    module = new pkcs11.PKCS11();
    try {
      module.load(path);
      module.C_Initialize();
    } catch (error) {
      throw tokenError(`cannot load the PKCS#11 module ${path}`, error);
    }
    loadedModules.set(path, module);
  }
  return module;
}

/**
 * Cryptoki keeps a token logged in for the whole application while any of its sessions is open,
 * and C_Login then answers CKR_USER_ALREADY_LOGGED_IN without looking at the PIN. So that a
 * second login (a custom key store on the root's token, a store connected again) still tests
 * its PIN, each token's last accepted PIN is kept here, as an HMAC under a key of this process.
 */
const PIN_VERIFIER_KEY = randomBytes(32);
const acceptedPins = new Map<string, Buffer>();

function pinVerifier(pin: string): Buffer {
  return createHmac("sha256", PIN_VERIFIER_KEY).update(pin, "utf8").digest();
}

function tokenError(what: string, error: unknown): Pkcs11TokenError {
  const message = error instanceof Error ? error.message : String(error);
  const code = /CKR_[A-Z_]+/.exec(message)?.[0];
  return new Pkcs11TokenError(`${what}: ${message}`, code);
}

/**
 * One logged-in session on a PKCS#11 token, with the few operations Trent needs: keys are
 * generated inside the token as sensitive, non-extractable objects found again by label, and
 * every use of them (AES-GCM, HMAC) runs in the token. Calls are synchronous: a
 * Cryptoki session serves one operation at a time, and Node runs one call at a time.
 */
export class Pkcs11Token {
  private constructor(
    private readonly module: pkcs11.PKCS11,
    private readonly session: pkcs11.Handle,
    readonly slot: pkcs11.Handle,
    /** The token's label as the token reports it (trailing padding removed). */
    readonly label: string,
    /** The token's serial number, which identifies it across slots (CloudHSM's cluster id plays this part). */
    readonly serialNumber: string,
  ) {}

  static open(config: Pkcs11TokenConfig): Pkcs11Token {
    const module = loadModule(config.modulePath);
    const slot = findSlot(module, config);
    let info: pkcs11.TokenInfo;
    let session: pkcs11.Handle;
    try {
      info = module.C_GetTokenInfo(slot);
      session = module.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
    } catch (error) {
      throw tokenError("cannot open a session on the PKCS#11 token", error);
    }
    const serialNumber = info.serialNumber.trim();
    const loginOf = `${config.modulePath}\0${serialNumber}`;
    try {
      module.C_Login(session, pkcs11.CKU_USER, config.pin);
      acceptedPins.set(loginOf, pinVerifier(config.pin));
    } catch (error) {
      const failure = tokenError("cannot log in to the PKCS#11 token", error);
      const accepted = acceptedPins.get(loginOf);
      const samePin = accepted !== undefined && timingSafeEqual(accepted, pinVerifier(config.pin));
      if (failure.code !== "CKR_USER_ALREADY_LOGGED_IN" || !samePin) {
        closeQuietly(module, session);
        throw failure.code === "CKR_USER_ALREADY_LOGGED_IN"
          ? new Pkcs11TokenError(
              "cannot log in to the PKCS#11 token: CKR_PIN_INCORRECT (not the PIN this process is logged in with)",
              "CKR_PIN_INCORRECT",
            )
          : failure;
      }
    }
    return new Pkcs11Token(module, session, slot, info.label.trim(), serialNumber);
  }

  /** The secret key object with this label, if the token holds one (another kind of object is never taken for it). */
  findKey(label: string): TokenKey | undefined {
    try {
      this.module.C_FindObjectsInit(this.session, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_SECRET_KEY },
        { type: pkcs11.CKA_LABEL, value: label },
      ]);
      try {
        return this.module.C_FindObjects(this.session) ?? undefined;
      } finally {
        this.module.C_FindObjectsFinal(this.session);
      }
    } catch (error) {
      throw tokenError(`cannot search the token for ${label}`, error);
    }
  }

  /** A new persistent AES-256 key, sensitive and non-extractable, for AES-GCM in the token. */
  generateAesKey(label: string): TokenKey {
    return this.generate(label, pkcs11.CKM_AES_KEY_GEN, pkcs11.CKK_AES, [
      { type: pkcs11.CKA_ENCRYPT, value: true },
      { type: pkcs11.CKA_DECRYPT, value: true },
    ]);
  }

  /** A new persistent 256-bit generic secret for HMAC-SHA256, sensitive and non-extractable. */
  generateHmacKey(label: string): TokenKey {
    return this.generate(label, pkcs11.CKM_GENERIC_SECRET_KEY_GEN, pkcs11.CKK_GENERIC_SECRET, [
      { type: pkcs11.CKA_SIGN, value: true },
      { type: pkcs11.CKA_VERIFY, value: true },
    ]);
  }

  private generate(label: string, mechanism: number, keyType: number, usage: pkcs11.Attribute[]): TokenKey {
    try {
      return this.module.C_GenerateKey(this.session, { mechanism }, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_SECRET_KEY },
        { type: pkcs11.CKA_KEY_TYPE, value: keyType },
        { type: pkcs11.CKA_LABEL, value: label },
        { type: pkcs11.CKA_TOKEN, value: true },
        { type: pkcs11.CKA_PRIVATE, value: true },
        { type: pkcs11.CKA_SENSITIVE, value: true },
        { type: pkcs11.CKA_EXTRACTABLE, value: false },
        { type: pkcs11.CKA_VALUE_LEN, value: 32 },
        ...usage,
      ]);
    } catch (error) {
      throw tokenError(`cannot generate ${label} in the token`, error);
    }
  }

  /** Whether the key can be read out of the token (it never should be). */
  isExtractable(key: TokenKey): boolean {
    let attributes: ReturnType<pkcs11.PKCS11["C_GetAttributeValue"]>;
    try {
      attributes = this.module.C_GetAttributeValue(this.session, key, [
        { type: pkcs11.CKA_SENSITIVE },
        { type: pkcs11.CKA_EXTRACTABLE },
      ]);
    } catch (error) {
      throw tokenError("cannot read a key's attributes in the token", error);
    }
    const [sensitive, extractable] = attributes;
    return sensitive?.value?.[0] !== 1 || extractable?.value?.[0] !== 0;
  }

  destroyKey(key: TokenKey): void {
    try {
      this.module.C_DestroyObject(this.session, key);
    } catch (error) {
      throw tokenError("cannot destroy a key in the token", error);
    }
  }

  /** AES-GCM in the token: returns iv ‖ ciphertext ‖ tag, with a fresh IV from the token's generator. */
  encryptGcm(key: TokenKey, plaintext: Buffer, aad: Buffer): Buffer {
    const iv = this.random(GCM_IV_BYTES);
    try {
      this.module.C_EncryptInit(this.session, gcm(iv, aad), key);
      const sealed = this.module.C_Encrypt(this.session, plaintext, Buffer.alloc(plaintext.length + GCM_TAG_BYTES));
      return Buffer.concat([iv, sealed]);
    } catch (error) {
      throw tokenError("AES-GCM encryption in the token failed", error);
    }
  }

  /** Opens what encryptGcm sealed; throws Pkcs11TokenError (CKR_ENCRYPTED_DATA_INVALID or similar) if it does not authenticate. */
  decryptGcm(key: TokenKey, sealed: Buffer, aad: Buffer): Buffer {
    if (sealed.length < GCM_IV_BYTES + GCM_TAG_BYTES) throw new Pkcs11TokenError("sealed value is too short");
    const iv = sealed.subarray(0, GCM_IV_BYTES);
    const body = sealed.subarray(GCM_IV_BYTES);
    try {
      this.module.C_DecryptInit(this.session, gcm(iv, aad), key);
      return this.module.C_Decrypt(this.session, body, Buffer.alloc(body.length));
    } catch (error) {
      throw tokenError("AES-GCM decryption in the token failed", error);
    }
  }

  /** HMAC-SHA256 computed in the token. */
  hmacSha256(key: TokenKey, data: Buffer): Buffer {
    try {
      this.module.C_SignInit(this.session, { mechanism: pkcs11.CKM_SHA256_HMAC }, key);
      return this.module.C_Sign(this.session, data, Buffer.alloc(32));
    } catch (error) {
      throw tokenError("HMAC in the token failed", error);
    }
  }

  random(length: number): Buffer {
    try {
      return this.module.C_GenerateRandom(this.session, Buffer.alloc(length));
    } catch (error) {
      throw tokenError("the token's random generator failed", error);
    }
  }

  /** Whether the session still works (the token is present and logged in). */
  isReachable(): boolean {
    try {
      const { state } = this.module.C_GetSessionInfo(this.session);
      return state === CKS_RO_USER_FUNCTIONS || state === CKS_RW_USER_FUNCTIONS;
    } catch {
      return false;
    }
  }

  close(): void {
    closeQuietly(this.module, this.session);
  }
}

function closeQuietly(module: pkcs11.PKCS11, session: pkcs11.Handle): void {
  try {
    module.C_CloseSession(session);
  } catch {
    // Already closed, or the token is gone: nothing left to release.
  }
}

/** A token as the module lists it, before anyone logs in. */
export interface TokenListing {
  /** The slot id, as `slot` in Pkcs11TokenConfig takes it. */
  readonly slot: number;
  readonly label: string;
  readonly serialNumber: string;
}

/** Every initialised token in the module's slots, in slot order, without logging in to any. */
export function listTokens(modulePath: string): TokenListing[] {
  const module = loadModule(modulePath);
  try {
    return module.C_GetSlotList(true).flatMap((slot) => {
      const info = module.C_GetTokenInfo(slot);
      if ((info.flags & pkcs11.CKF_TOKEN_INITIALIZED) === 0) return [];
      return [{ slot: slotNumber(slot), label: info.label.trim(), serialNumber: info.serialNumber.trim() }];
    });
  } catch (error) {
    throw tokenError(`cannot list the tokens of ${modulePath}`, error);
  }
}

function slotNumber(slot: pkcs11.Handle): number {
  return slot.readUIntLE(0, Math.min(slot.length, 6));
}

function gcm(iv: Buffer, aad: Buffer): pkcs11.Mechanism {
  const parameter: pkcs11.GcmParams = {
    type: pkcs11.CK_PARAMS_GCM,
    iv,
    ivBits: iv.length * 8,
    aad,
    tagBits: GCM_TAG_BYTES * 8,
  };
  return { mechanism: pkcs11.CKM_AES_GCM, parameter };
}

function findSlot(module: pkcs11.PKCS11, config: Pkcs11TokenConfig): pkcs11.Handle {
  try {
    for (const slot of module.C_GetSlotList(true)) {
      if (config.slot !== undefined) {
        if (slotNumber(slot) === config.slot) return slot;
        continue;
      }
      if (module.C_GetTokenInfo(slot).label.trim() === config.tokenLabel) return slot;
    }
  } catch (error) {
    throw tokenError(`cannot list the tokens of ${config.modulePath}`, error);
  }
  const wanted = config.slot !== undefined ? `slot ${config.slot}` : `token labelled "${config.tokenLabel}"`;
  throw new Pkcs11TokenError(`the PKCS#11 module ${config.modulePath} has no ${wanted}`, "CKR_TOKEN_NOT_PRESENT");
}
