// Reports what a PKCS#11 token holds under a label, for test_custom_key_stores.py (SOFTHSM2_CONF
// in the environment): node token_object.mjs <module> <token label> <pin> <object label>
// prints {"found":bool,"sensitive":bool,"extractable":bool,"keyType":number}.
import pkcs11js from "pkcs11js";

const [modulePath, tokenLabel, pin, objectLabel] = process.argv.slice(2);
const pkcs11 = new pkcs11js.PKCS11();
pkcs11.load(modulePath);
pkcs11.C_Initialize();
try {
  const slot = pkcs11.C_GetSlotList(true).find((s) => pkcs11.C_GetTokenInfo(s).label.trim() === tokenLabel);
  if (slot === undefined) throw new Error(`no token labelled ${tokenLabel}`);
  const session = pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  pkcs11.C_Login(session, pkcs11js.CKU_USER, pin);
  pkcs11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: objectLabel }]);
  const handle = pkcs11.C_FindObjects(session);
  pkcs11.C_FindObjectsFinal(session);
  if (!handle) {
    process.stdout.write(`${JSON.stringify({ found: false })}\n`);
  } else {
    const [sensitive, extractable, keyType] = pkcs11.C_GetAttributeValue(session, handle, [
      { type: pkcs11js.CKA_SENSITIVE },
      { type: pkcs11js.CKA_EXTRACTABLE },
      { type: pkcs11js.CKA_KEY_TYPE },
    ]);
    process.stdout.write(
      `${JSON.stringify({
        found: true,
        sensitive: sensitive.value[0] === 1,
        extractable: extractable.value[0] === 1,
        keyType: Number(keyType.value.readBigUInt64LE(0)),
      })}\n`,
    );
  }
  pkcs11.C_CloseSession(session);
} finally {
  pkcs11.C_Finalize();
}
