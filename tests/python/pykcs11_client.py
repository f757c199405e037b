"""PyKCS11 (Debian's python3-pykcs11) as a real client of liboxihsm.so, run by
tests/clients.rs: python3 pykcs11_client.py MODULE TOKEN_LABEL USER_PIN P256_EXPLICIT_HEX

Each step checks a result independently where it can (raw RSA against Python's own
modular exponentiation) and exits non-zero with the step's name on the first failure.
"""

import sys

import PyKCS11
from PyKCS11 import LowLevel

MODULE, LABEL, PIN, P256_EXPLICIT = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4])


def check(cond, what):
    if not cond:
        sys.exit(f"pykcs11 client: {what}")


def low(rv, what):
    check(rv == PyKCS11.CKR_OK, f"{what}: {PyKCS11.CKR[rv]}")


def output(call, what, *args):
    """A C function with an output buffer, the low-level way: a call with an empty list
    asks the length (and sizes the list), a second one fills it."""
    out = PyKCS11.ckbytelist()
    low(call(*args, out), f"{what} (size)")
    if len(out):
        low(call(*args, out), what)
    return bytes(out)


lib = PyKCS11.PyKCS11Lib()
lib.load(MODULE)
slot = next(s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == LABEL)
session = lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
session.login(PIN)

# AES-256-GCM: single-part, then multi-part through the C functions (this PyKCS11 has no
# wrapper for them): every update returns its part's ciphertext, final the tag.
aes = session.generateKey(
    [
        (PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY),
        (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_AES),
        (PyKCS11.CKA_VALUE_LEN, 32),
        (PyKCS11.CKA_ENCRYPT, PyKCS11.CK_TRUE),
        (PyKCS11.CKA_DECRYPT, PyKCS11.CK_TRUE),
    ]
)
iv = bytes(session.generateRandom(12))
gcm = PyKCS11.AES_GCM_Mechanism(iv, b"associated data", 128)
data = bytes(range(256)) * 3
whole = bytes(session.encrypt(aes, data, gcm))
check(len(whole) == len(data) + 16, "GCM single-part length")
check(bytes(session.decrypt(aes, whole, gcm)) == data, "GCM single-part round trip")
low(lib.lib.C_EncryptInit(session.session, gcm.to_native(), aes), "C_EncryptInit GCM")
parts = b""
for i in range(0, len(data), 100):
    part = PyKCS11.ckbytelist(data[i : i + 100])
    out = output(lib.lib.C_EncryptUpdate, "C_EncryptUpdate", session.session, part)
    check(len(out) == len(part), "GCM update returns its part's ciphertext")
    parts += out
tag = output(lib.lib.C_EncryptFinal, "C_EncryptFinal", session.session)
check(len(tag) == 16 and parts + tag == whole, "GCM multi-part equals single-part")

# Raw RSA over a short text: the token zero-extends it; s^e mod n gives it back.
pub, priv = session.generateKeyPair(
    [(PyKCS11.CKA_MODULUS_BITS, 2048), (PyKCS11.CKA_VERIFY, PyKCS11.CK_TRUE)],
    [(PyKCS11.CKA_SIGN, PyKCS11.CK_TRUE)],
)
raw = PyKCS11.Mechanism(PyKCS11.CKM_RSA_X_509, None)
text = b"Hello world"
sig = bytes(session.sign(priv, text, raw))
check(len(sig) == 256, "X.509 signature length")
n, e = session.getAttributeValue(pub, [PyKCS11.CKA_MODULUS, PyKCS11.CKA_PUBLIC_EXPONENT])
m = pow(int.from_bytes(sig, "big"), int.from_bytes(bytes(e), "big"), int.from_bytes(bytes(n), "big"))
check(m == int.from_bytes(text, "big"), "raw RSA signature of a short text")
check(session.verify(pub, text, sig, raw), "raw RSA verify")

# A search naming an attribute no object here has finds nothing, without an error.
found = session.findObjects([(PyKCS11.CKA_HW_FEATURE_TYPE, PyKCS11.CKH_USER_INTERFACE)])
check(found == [], "search by CKA_HW_FEATURE_TYPE")

# EC key pair on P-256 given by explicit parameters; ECDSA signs and verifies.
ec_pub, ec_priv = session.generateKeyPair(
    [(PyKCS11.CKA_EC_PARAMS, P256_EXPLICIT), (PyKCS11.CKA_VERIFY, PyKCS11.CK_TRUE)],
    [(PyKCS11.CKA_SIGN, PyKCS11.CK_TRUE)],
    PyKCS11.Mechanism(PyKCS11.CKM_EC_KEY_PAIR_GEN, None),
)
params = bytes(session.getAttributeValue(ec_pub, [PyKCS11.CKA_EC_PARAMS])[0])
check(params == P256_EXPLICIT, "explicit EC parameters kept as given")
ecdsa = PyKCS11.Mechanism(PyKCS11.CKM_ECDSA_SHA256, None)
esig = session.sign(ec_priv, text, ecdsa)
check(len(esig) == 64 and session.verify(ec_pub, text, esig, ecdsa), "ECDSA under explicit parameters")

session.logout()
session.closeSession()
print("pykcs11 client: OK")
