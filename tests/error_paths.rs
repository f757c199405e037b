//! Error paths, operation by operation and mechanism by mechanism, with the return code the
//! text of PKCS#11 3.2 §5 gives for each (the codes a conformance suite can assert from the
//! specification alone): a second C_*Init while one is active, a call after the operation
//! ended, C_*Init with a NULL mechanism ending the operation, a key without the usage
//! attribute or of the wrong type, key handle 0, a closed session, a read-only session asked
//! for a token object, an unextractable key to wrap, a one-byte output buffer (the operation
//! stays active), a one-byte mechanism parameter, the other key-generation function, a key
//! type the generation mechanism does not make. Everything goes through the C ABI of
//! liboxihsm.so, and every mechanism probed must be advertised for the operation.

mod common;
use common::asymmetric::{ED25519, P256, X25519};
use common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Op {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    SignRecover,
    VerifyRecover,
    Digest,
}

impl Op {
    fn flag(self) -> CK_FLAGS {
        match self {
            Op::Encrypt => CKF_ENCRYPT,
            Op::Decrypt => CKF_DECRYPT,
            Op::Sign => CKF_SIGN,
            Op::Verify => CKF_VERIFY,
            Op::SignRecover => CKF_SIGN_RECOVER,
            Op::VerifyRecover => CKF_VERIFY_RECOVER,
            Op::Digest => CKF_DIGEST,
        }
    }
    fn usage(self) -> CK_ATTRIBUTE_TYPE {
        match self {
            Op::Encrypt => CKA_ENCRYPT,
            Op::Decrypt => CKA_DECRYPT,
            Op::Sign => CKA_SIGN,
            Op::Verify => CKA_VERIFY,
            Op::SignRecover => CKA_SIGN_RECOVER,
            Op::VerifyRecover => CKA_VERIFY_RECOVER,
            Op::Digest => unreachable!("digests take no key"),
        }
    }
    /// Whether the operation uses the private (or secret) side of a key.
    fn private(self) -> bool {
        matches!(self, Op::Decrypt | Op::Sign | Op::SignRecover)
    }
    /// Whether the call writes output by the §5.2 convention.
    fn output(self) -> bool {
        self != Op::Verify
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Key {
    None,
    Aes,
    Aes128,
    Xts,
    Des,
    Des3,
    Generic,
    ChaCha,
    Poly1305,
    Rsa,
    Ec,
    Ed,
    MlDsa,
    Dsa,
}

impl Key {
    fn symmetric(self) -> bool {
        matches!(
            self,
            Key::Aes | Key::Aes128 | Key::Xts | Key::Des | Key::Des3 | Key::Generic | Key::ChaCha | Key::Poly1305
        )
    }
}

/// A buffer a parameter's pointer points at, kept alive with it (never read).
struct Keep(#[allow(dead_code)] Vec<u8>);

/// A mechanism parameter, owning what its pointers point at (boxed: the pointers stay valid).
#[allow(clippy::large_enum_variant, dead_code)] // the `Keep`s are held, not read
enum Param {
    None,
    Bytes(Vec<u8>),
    Ulong(Box<CK_ULONG>),
    Gcm(Box<CK_GCM_PARAMS>, Keep),
    Ccm(Box<CK_CCM_PARAMS>, Keep),
    Ctr(Box<CK_AES_CTR_PARAMS>),
    Oaep(Box<CK_RSA_PKCS_OAEP_PARAMS>),
    Pss(Box<CK_RSA_PKCS_PSS_PARAMS>),
    ChaChaPoly(Box<CK_SALSA20_CHACHA20_POLY1305_PARAMS>, Keep),
    Ecdh(Box<CK_ECDH1_DERIVE_PARAMS>, Keep),
    Hkdf(Box<CK_HKDF_PARAMS>, Keep),
    Data(Box<CK_KEY_DERIVATION_STRING_DATA>, Keep),
    CbcData(Box<CK_AES_CBC_ENCRYPT_DATA_PARAMS>, Keep),
    ChaCha20(Box<CK_CHACHA20_PARAMS>, Keep),
    Ike2(Box<CK_IKE2_PRF_PLUS_DERIVE_PARAMS>, Keep),
    Ike1Extended(Box<CK_IKE1_EXTENDED_DERIVE_PARAMS>, Keep),
}

/// The mechanism's usual parameter (`peer` is the other party's EC point, for ECDH).
fn param(ty: CK_MECHANISM_TYPE, peer: &[u8]) -> Param {
    match ty {
        CKM_AES_CBC | CKM_AES_CBC_PAD | CKM_AES_OFB | CKM_AES_CFB8 | CKM_AES_CFB128 | CKM_AES_CFB1 | CKM_AES_CTS
        | CKM_AES_XTS => Param::Bytes(vec![7; 16]),
        CKM_DES3_CBC | CKM_DES3_CBC_PAD | CKM_DES_CBC | CKM_DES_CBC_PAD => Param::Bytes(vec![7; 8]),
        CKM_SHA_1_HMAC_GENERAL
        | CKM_SHA224_HMAC_GENERAL
        | CKM_SHA256_HMAC_GENERAL
        | CKM_SHA384_HMAC_GENERAL
        | CKM_SHA512_HMAC_GENERAL
        | CKM_SHA3_224_HMAC_GENERAL
        | CKM_SHA3_256_HMAC_GENERAL
        | CKM_SHA3_384_HMAC_GENERAL
        | CKM_SHA3_512_HMAC_GENERAL
        | CKM_MD5_HMAC_GENERAL
        | CKM_AES_CMAC_GENERAL
        | CKM_AES_MAC_GENERAL => Param::Ulong(Box::new(8)),
        CKM_DES3_CMAC_GENERAL | CKM_DES3_MAC_GENERAL | CKM_DES_MAC_GENERAL => Param::Ulong(Box::new(4)),
        CKM_AES_CTR => Param::Ctr(Box::new(CK_AES_CTR_PARAMS { ulCounterBits: 32, cb: [9; 16] })),
        CKM_AES_GCM | CKM_AES_GMAC => {
            let mut iv = vec![5u8; 12];
            Param::Gcm(Box::new(gcm_params(&mut iv, None, 128)), Keep(iv))
        }
        CKM_AES_CCM => {
            let mut nonce = vec![6u8; 12];
            let p = CK_CCM_PARAMS {
                ulDataLen: 13,
                pNonce: nonce.as_mut_ptr(),
                ulNonceLen: 12,
                pAAD: null_mut(),
                ulAADLen: 0,
                ulMACLen: 16,
            };
            Param::Ccm(Box::new(p), Keep(nonce))
        }
        CKM_CHACHA20_POLY1305 => {
            let mut nonce = vec![4u8; 12];
            let p = CK_SALSA20_CHACHA20_POLY1305_PARAMS {
                pNonce: nonce.as_mut_ptr(),
                ulNonceLen: 12,
                pAAD: null_mut(),
                ulAADLen: 0,
            };
            Param::ChaChaPoly(Box::new(p), Keep(nonce))
        }
        CKM_RSA_PKCS_OAEP => Param::Oaep(Box::new(CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            source: CKZ_DATA_SPECIFIED,
            pSourceData: null_mut(),
            ulSourceDataLen: 0,
        })),
        CKM_RSA_PKCS_PSS => {
            Param::Pss(Box::new(CK_RSA_PKCS_PSS_PARAMS { hashAlg: CKM_SHA256, mgf: CKG_MGF1_SHA256, sLen: 32 }))
        }
        CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS
        | CKM_SHA3_224_RSA_PKCS_PSS
        | CKM_SHA3_256_RSA_PKCS_PSS
        | CKM_SHA3_384_RSA_PKCS_PSS
        | CKM_SHA3_512_RSA_PKCS_PSS => {
            // The hash of each, by its place in HASHES.
            #[rustfmt::skip]
            let order = [CKM_SHA1_RSA_PKCS_PSS, CKM_SHA224_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS,
                CKM_SHA512_RSA_PKCS_PSS, CKM_SHA3_224_RSA_PKCS_PSS, CKM_SHA3_256_RSA_PKCS_PSS, CKM_SHA3_384_RSA_PKCS_PSS,
                CKM_SHA3_512_RSA_PKCS_PSS];
            let (hash, mgf) = HASHES[order.iter().position(|m| *m == ty).unwrap()];
            Param::Pss(Box::new(CK_RSA_PKCS_PSS_PARAMS { hashAlg: hash, mgf, sLen: 20 }))
        }
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => {
            let mut point = peer.to_vec();
            let p = CK_ECDH1_DERIVE_PARAMS {
                kdf: CKD_NULL,
                ulSharedDataLen: 0,
                pSharedData: null_mut(),
                ulPublicDataLen: point.len() as CK_ULONG,
                pPublicData: point.as_mut_ptr(),
            };
            Param::Ecdh(Box::new(p), Keep(point))
        }
        CKM_HKDF_DERIVE => {
            let mut info = b"error paths".to_vec();
            let p = CK_HKDF_PARAMS {
                bExtract: 1,
                bExpand: 1,
                prfHashMechanism: CKM_SHA256,
                ulSaltType: CKF_HKDF_SALT_NULL,
                pSalt: null_mut(),
                ulSaltLen: 0,
                hSaltKey: 0,
                pInfo: info.as_mut_ptr(),
                ulInfoLen: info.len() as CK_ULONG,
            };
            Param::Hkdf(Box::new(p), Keep(info))
        }
        CKM_CONCATENATE_BASE_AND_DATA
        | CKM_CONCATENATE_DATA_AND_BASE
        | CKM_XOR_BASE_AND_DATA
        | CKM_AES_ECB_ENCRYPT_DATA => {
            let mut data = vec![3u8; 16];
            let p = CK_KEY_DERIVATION_STRING_DATA { pData: data.as_mut_ptr(), ulLen: 16 };
            Param::Data(Box::new(p), Keep(data))
        }
        CKM_CHACHA20 => {
            // A 32-bit block counter (4 bytes) and a 96-bit nonce, in one buffer.
            let mut b = vec![0u8; 16];
            let p = CK_CHACHA20_PARAMS {
                pBlockCounter: b.as_mut_ptr(),
                blockCounterBits: 32,
                pNonce: b[4..].as_mut_ptr(),
                ulNonceBits: 96,
            };
            Param::ChaCha20(Box::new(p), Keep(b))
        }
        CKM_IKE2_PRF_PLUS_DERIVE => {
            let mut seed = b"error paths".to_vec();
            let p = CK_IKE2_PRF_PLUS_DERIVE_PARAMS {
                prfMechanism: CKM_SHA256_HMAC,
                bHasSeedKey: 0,
                hSeedKey: 0,
                pSeedData: seed.as_mut_ptr(),
                ulSeedDataLen: seed.len() as CK_ULONG,
            };
            Param::Ike2(Box::new(p), Keep(seed))
        }
        CKM_IKE1_EXTENDED_DERIVE => {
            let mut extra = b"error paths".to_vec();
            let p = CK_IKE1_EXTENDED_DERIVE_PARAMS {
                prfMechanism: CKM_SHA256_HMAC,
                bHasKeygxy: 0,
                hKeygxy: 0,
                pExtraData: extra.as_mut_ptr(),
                ulExtraDataLen: extra.len() as CK_ULONG,
            };
            Param::Ike1Extended(Box::new(p), Keep(extra))
        }
        CKM_AES_CBC_ENCRYPT_DATA => {
            let mut data = vec![2u8; 32];
            let p = CK_AES_CBC_ENCRYPT_DATA_PARAMS { iv: [1; 16], pData: data.as_mut_ptr(), length: 32 };
            Param::CbcData(Box::new(p), Keep(data))
        }
        _ => Param::None,
    }
}

impl Param {
    /// A CK_MECHANISM of type `ty` pointing at this parameter.
    fn mech(&mut self, ty: CK_MECHANISM_TYPE) -> CK_MECHANISM {
        fn of<T>(ty: CK_MECHANISM_TYPE, p: &mut T) -> CK_MECHANISM {
            mech(ty, Some(p))
        }
        match self {
            Param::None => mech::<u8>(ty, None),
            Param::Bytes(b) => {
                CK_MECHANISM { mechanism: ty, pParameter: b.as_mut_ptr().cast(), ulParameterLen: b.len() as CK_ULONG }
            }
            Param::Ulong(p) => of(ty, &mut **p),
            Param::Gcm(p, _) => of(ty, &mut **p),
            Param::Ccm(p, _) => of(ty, &mut **p),
            Param::Ctr(p) => of(ty, &mut **p),
            Param::Oaep(p) => of(ty, &mut **p),
            Param::Pss(p) => of(ty, &mut **p),
            Param::ChaChaPoly(p, _) => of(ty, &mut **p),
            Param::Ecdh(p, _) => of(ty, &mut **p),
            Param::Hkdf(p, _) => of(ty, &mut **p),
            Param::Data(p, _) => of(ty, &mut **p),
            Param::CbcData(p, _) => of(ty, &mut **p),
            Param::ChaCha20(p, _) => of(ty, &mut **p),
            Param::Ike2(p, _) => of(ty, &mut **p),
            Param::Ike1Extended(p, _) => of(ty, &mut **p),
        }
    }
    fn required(&self) -> bool {
        !matches!(self, Param::None)
    }
}

/// The token's keys for the probes: (public side, private side) of each kind, session
/// objects with every usage their class has; and a second EC point for ECDH.
struct Keys {
    aes: CK_OBJECT_HANDLE,
    aes128: CK_OBJECT_HANDLE,
    xts: CK_OBJECT_HANDLE,
    des: CK_OBJECT_HANDLE,
    des3: CK_OBJECT_HANDLE,
    mldsa: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    dsa: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    generic: CK_OBJECT_HANDLE,
    chacha: CK_OBJECT_HANDLE,
    poly1305: CK_OBJECT_HANDLE,
    rsa: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    ec: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    ed: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    mlkem: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    peer_point: Vec<u8>,
}

impl Keys {
    fn make(s: &RawSession) -> Keys {
        let secret = |kt, len| {
            let all = [CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE];
            let t = all.iter().fold(T::secret(kt), |t, a| t.flag(*a, true));
            // Distinct bytes: an XTS key's halves must differ, and no DES key may be weak.
            let value: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(37).wrapping_add(11)).collect();
            s.create(&mut t.bytes(CKA_VALUE, &value)).unwrap_or_else(|rv| panic!("key type {kt:#x}: {rv:#x}"))
        };
        let pair = |m, public: T, private: T| s.keypair(m, &mut { public }, &mut { private }).unwrap();
        let rsa_flags = |t: T, attrs: &[CK_ATTRIBUTE_TYPE]| attrs.iter().fold(t, |t, a| t.flag(*a, true));
        let rsa = pair(
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            rsa_flags(
                T::default().ulong(CKA_MODULUS_BITS, 2048),
                &[CKA_ENCRYPT, CKA_VERIFY, CKA_VERIFY_RECOVER, CKA_WRAP],
            ),
            rsa_flags(T::default(), &[CKA_DECRYPT, CKA_SIGN, CKA_SIGN_RECOVER, CKA_UNWRAP]),
        );
        let ec_params = || T::default().bytes(CKA_EC_PARAMS, P256);
        let ec = pair(CKM_EC_KEY_PAIR_GEN, ec_params(), T::default().flag(CKA_DERIVE, true));
        let peer = pair(CKM_EC_KEY_PAIR_GEN, ec_params(), T::default());
        let ed = pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, T::default().bytes(CKA_EC_PARAMS, ED25519), T::default());
        // A `fips` build has no ML-KEM or ML-DSA: their cases are left out there.
        let pq_pair =
            |m, set| if PQC { pair(m, T::default().ulong(CKA_PARAMETER_SET, set), T::default()) } else { (0, 0) };
        let mlkem = pq_pair(CKM_ML_KEM_KEY_PAIR_GEN, CKP_ML_KEM_768);
        // The peer's point, unwrapped from its DER OCTET STRING (65 bytes for P-256).
        let der_point = s.get_bytes(peer.0, CKA_EC_POINT).unwrap();
        let peer_point = der_point[der_point.len() - 65..].to_vec();
        let mldsa = pq_pair(CKM_ML_DSA_KEY_PAIR_GEN, CKP_ML_DSA_44);
        // DSA on domain parameters the token makes (1024 bits: quick).
        let params = s.generate(CKM_DSA_PARAMETER_GEN, &mut T::default().ulong(CKA_PRIME_BITS, 1024)).unwrap();
        let domain = [CKA_PRIME, CKA_SUBPRIME, CKA_BASE].map(|ty| (ty, s.get_bytes(params, ty).unwrap()));
        let dsa =
            pair(CKM_DSA_KEY_PAIR_GEN, domain.iter().fold(T::default(), |t, (ty, v)| t.bytes(*ty, v)), T::default());
        Keys {
            aes: secret(CKK_AES, 32),
            aes128: secret(CKK_AES, 16),
            xts: secret(CKK_AES_XTS, 32),
            des: secret(CKK_DES, 8),
            des3: secret(CKK_DES3, 24),
            mldsa,
            dsa,
            generic: secret(CKK_GENERIC_SECRET, 32),
            chacha: secret(CKK_CHACHA20, 32),
            poly1305: secret(CKK_POLY1305, 32),
            rsa,
            ec,
            ed,
            mlkem,
            peer_point,
        }
    }

    /// The key of `kind` for an operation on its private side or not.
    fn get(&self, kind: Key, private: bool) -> CK_OBJECT_HANDLE {
        let side = |(public, secret): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)| if private { secret } else { public };
        match kind {
            Key::None => 0,
            Key::Aes => self.aes,
            Key::Aes128 => self.aes128,
            Key::Xts => self.xts,
            Key::Des => self.des,
            Key::Des3 => self.des3,
            Key::MlDsa => side(self.mldsa),
            Key::Dsa => side(self.dsa),
            Key::Generic => self.generic,
            Key::ChaCha => self.chacha,
            Key::Poly1305 => self.poly1305,
            Key::Rsa => side(self.rsa),
            Key::Ec => side(self.ec),
            Key::Ed => side(self.ed),
        }
    }

    /// A key of another type than `kind`: an EC key for secret-key mechanisms, an AES key for
    /// the others.
    fn wrong(&self, kind: Key, private: bool) -> CK_OBJECT_HANDLE {
        if kind.symmetric() { self.get(Key::Ec, private) } else { self.aes }
    }
}

/// The hash mechanisms the hashed signature mechanisms are named after, with their MGF1.
const HASHES: [(CK_MECHANISM_TYPE, CK_RSA_PKCS_MGF_TYPE); 9] = [
    (CKM_SHA_1, CKG_MGF1_SHA1),
    (CKM_SHA224, CKG_MGF1_SHA224),
    (CKM_SHA256, CKG_MGF1_SHA256),
    (CKM_SHA384, CKG_MGF1_SHA384),
    (CKM_SHA512, CKG_MGF1_SHA512),
    (CKM_SHA3_224, CKG_MGF1_SHA3_224),
    (CKM_SHA3_256, CKG_MGF1_SHA3_256),
    (CKM_SHA3_384, CKG_MGF1_SHA3_384),
    (CKM_SHA3_512, CKG_MGF1_SHA3_512),
];

/// The mechanisms probed with C_*Init operations: (mechanism, key, operations, input length).
fn init_cases() -> Vec<(CK_MECHANISM_TYPE, Key, Vec<Op>, usize)> {
    use Op::*;
    let both = || vec![Encrypt, Decrypt];
    let mac = || vec![Sign, Verify];
    let mut v = vec![
        (CKM_AES_ECB, Key::Aes, both(), 32),
        (CKM_AES_CBC, Key::Aes, both(), 32),
        (CKM_AES_CBC_PAD, Key::Aes, both(), 13),
        (CKM_AES_CTR, Key::Aes, both(), 13),
        (CKM_AES_OFB, Key::Aes, both(), 13),
        (CKM_AES_CFB8, Key::Aes, both(), 13),
        (CKM_AES_CFB128, Key::Aes, both(), 13),
        (CKM_AES_CFB1, Key::Aes, both(), 13),
        (CKM_AES_CTS, Key::Aes, both(), 32),
        (CKM_AES_GCM, Key::Aes, both(), 13),
        (CKM_AES_CCM, Key::Aes, both(), 13),
        (CKM_AES_XTS, Key::Xts, both(), 32),
        (CKM_DES3_ECB, Key::Des3, both(), 32),
        (CKM_DES3_CBC, Key::Des3, both(), 32),
        (CKM_DES3_CBC_PAD, Key::Des3, both(), 13),
        (CKM_CHACHA20_POLY1305, Key::ChaCha, both(), 13),
        (CKM_CHACHA20, Key::ChaCha, both(), 13),
        (CKM_POLY1305, Key::Poly1305, mac(), 13),
        (CKM_RSA_PKCS, Key::Rsa, vec![Encrypt, Decrypt, Sign, Verify, SignRecover, VerifyRecover], 13),
        (CKM_RSA_X_509, Key::Rsa, vec![Encrypt, Decrypt, Sign, Verify, SignRecover, VerifyRecover], 256),
        (CKM_RSA_PKCS_OAEP, Key::Rsa, both(), 13),
        (CKM_RSA_PKCS_PSS, Key::Rsa, mac(), 32),
        (CKM_MD5_RSA_PKCS, Key::Rsa, mac(), 13),
        (CKM_ECDSA, Key::Ec, mac(), 32),
        (CKM_EDDSA, Key::Ed, mac(), 13),
        (CKM_ML_DSA, Key::MlDsa, mac(), 13),
        (CKM_AES_CMAC, Key::Aes, mac(), 13),
        (CKM_AES_CMAC_GENERAL, Key::Aes, mac(), 13),
        (CKM_AES_MAC, Key::Aes, mac(), 13),
        (CKM_AES_MAC_GENERAL, Key::Aes, mac(), 13),
        (CKM_AES_XCBC_MAC, Key::Aes128, mac(), 13),
        (CKM_AES_GMAC, Key::Aes, mac(), 13),
        (CKM_DES3_CMAC, Key::Des3, mac(), 13),
        (CKM_DES3_CMAC_GENERAL, Key::Des3, mac(), 13),
        (CKM_DES3_MAC, Key::Des3, mac(), 13),
        (CKM_DES3_MAC_GENERAL, Key::Des3, mac(), 13),
        (CKM_DES_ECB, Key::Des, both(), 32),
        (CKM_DES_CBC, Key::Des, both(), 32),
        (CKM_DES_CBC_PAD, Key::Des, both(), 13),
        (CKM_DES_MAC, Key::Des, mac(), 13),
        (CKM_DES_MAC_GENERAL, Key::Des, mac(), 13),
        (CKM_AES_XCBC_MAC_96, Key::Aes128, mac(), 13),
        (CKM_DSA, Key::Dsa, mac(), 20),
        (CKM_DSA_SHA1, Key::Dsa, mac(), 13),
        (CKM_DSA_SHA224, Key::Dsa, mac(), 13),
        (CKM_DSA_SHA256, Key::Dsa, mac(), 13),
        (CKM_DSA_SHA384, Key::Dsa, mac(), 13),
        (CKM_DSA_SHA512, Key::Dsa, mac(), 13),
        (CKM_MD5_HMAC, Key::Generic, mac(), 13),
        (CKM_MD5_HMAC_GENERAL, Key::Generic, mac(), 13),
        (CKM_MD5, Key::None, vec![Digest], 13),
        (CKM_SHA512_224, Key::None, vec![Digest], 13),
        (CKM_SHA512_256, Key::None, vec![Digest], 13),
    ];
    for (hash, _) in HASHES {
        let named = |sha1, sha224, sha256, sha384, sha512, sha3_224, sha3_256, sha3_384, sha3_512| match hash {
            CKM_SHA_1 => sha1,
            CKM_SHA224 => sha224,
            CKM_SHA256 => sha256,
            CKM_SHA384 => sha384,
            CKM_SHA512 => sha512,
            CKM_SHA3_224 => sha3_224,
            CKM_SHA3_256 => sha3_256,
            CKM_SHA3_384 => sha3_384,
            _ => sha3_512,
        };
        #[rustfmt::skip]
        let rsa = named(CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS,
            CKM_SHA3_224_RSA_PKCS, CKM_SHA3_256_RSA_PKCS, CKM_SHA3_384_RSA_PKCS, CKM_SHA3_512_RSA_PKCS);
        #[rustfmt::skip]
        let pss = named(CKM_SHA1_RSA_PKCS_PSS, CKM_SHA224_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS,
            CKM_SHA512_RSA_PKCS_PSS, CKM_SHA3_224_RSA_PKCS_PSS, CKM_SHA3_256_RSA_PKCS_PSS, CKM_SHA3_384_RSA_PKCS_PSS,
            CKM_SHA3_512_RSA_PKCS_PSS);
        #[rustfmt::skip]
        let ecdsa = named(CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512,
            CKM_ECDSA_SHA3_224, CKM_ECDSA_SHA3_256, CKM_ECDSA_SHA3_384, CKM_ECDSA_SHA3_512);
        #[rustfmt::skip]
        let hmac = named(CKM_SHA_1_HMAC, CKM_SHA224_HMAC, CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC,
            CKM_SHA3_224_HMAC, CKM_SHA3_256_HMAC, CKM_SHA3_384_HMAC, CKM_SHA3_512_HMAC);
        #[rustfmt::skip]
        let general = named(CKM_SHA_1_HMAC_GENERAL, CKM_SHA224_HMAC_GENERAL, CKM_SHA256_HMAC_GENERAL,
            CKM_SHA384_HMAC_GENERAL, CKM_SHA512_HMAC_GENERAL, CKM_SHA3_224_HMAC_GENERAL, CKM_SHA3_256_HMAC_GENERAL,
            CKM_SHA3_384_HMAC_GENERAL, CKM_SHA3_512_HMAC_GENERAL);
        v.extend([
            (rsa, Key::Rsa, mac(), 13),
            (pss, Key::Rsa, mac(), 13),
            (ecdsa, Key::Ec, mac(), 13),
            (hmac, Key::Generic, mac(), 13),
            (general, Key::Generic, mac(), 13),
            (hash, Key::None, vec![Digest], 13),
        ]);
    }
    v.retain(|(ty, ..)| offered_by_this_build(*ty));
    v
}

struct Env {
    _h: Harness,
    _p: cryptoki::context::Pkcs11,
    slot: CK_SLOT_ID,
    s: RawSession,
    keys: Keys,
}

fn env() -> Env {
    let (h, p, slot, s) = raw_user_env("error paths");
    let keys = Keys::make(&s);
    Env { _h: h, _p: p, slot: slot.id(), s, keys }
}

impl Env {
    /// Asserts that `ty` is advertised with `flag`.
    fn offered(&self, ty: CK_MECHANISM_TYPE, flag: CK_FLAGS) {
        let mut info = CK_MECHANISM_INFO { ulMinKeySize: 0, ulMaxKeySize: 0, flags: 0 };
        // SAFETY: a live CK_MECHANISM_INFO.
        assert_eq!(unsafe { self.s.lib.C_GetMechanismInfo(self.slot, ty, &mut info) }, CKR_OK, "{ty:#x}");
        assert_ne!(info.flags & flag, 0, "mechanism {ty:#x} lacks flag {flag:#x}");
    }

    /// A session closed again: its handle names no session.
    fn closed_session(&self) -> CK_SESSION_HANDLE {
        let mut h = 0;
        // SAFETY: a live output handle.
        unsafe {
            assert_eq!(
                self.s.lib.C_OpenSession(self.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, null_mut(), None, &mut h),
                CKR_OK
            );
            assert_eq!(self.s.lib.C_CloseSession(h), CKR_OK);
        }
        h
    }

    /// A read-only session of the logged-in application.
    fn read_only_session(&self) -> CK_SESSION_HANDLE {
        let mut h = 0;
        // SAFETY: a live output handle.
        let rv = unsafe { self.s.lib.C_OpenSession(self.slot, CKF_SERIAL_SESSION, null_mut(), None, &mut h) };
        assert_eq!(rv, CKR_OK);
        h
    }

    /// A copy of `key` with `attr` false.
    fn without(&self, key: CK_OBJECT_HANDLE, attr: CK_ATTRIBUTE_TYPE) -> CK_OBJECT_HANDLE {
        self.s
            .copy(key, &mut T::default().flag(attr, false))
            .unwrap_or_else(|rv| panic!("copy of {key} without {attr:#x}: {rv:#x}"))
    }

    fn init(&self, h: CK_SESSION_HANDLE, op: Op, m: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) -> CK_RV {
        let l = &self.s.lib;
        // SAFETY: `m` is NULL or a live mechanism whose parameter outlives the call.
        unsafe {
            match op {
                Op::Encrypt => l.C_EncryptInit(h, m, key),
                Op::Decrypt => l.C_DecryptInit(h, m, key),
                Op::Sign => l.C_SignInit(h, m, key),
                Op::Verify => l.C_VerifyInit(h, m, key),
                Op::SignRecover => l.C_SignRecoverInit(h, m, key),
                Op::VerifyRecover => l.C_VerifyRecoverInit(h, m, key),
                Op::Digest => l.C_DigestInit(h, m),
            }
        }
    }

    /// The operation's single-part call on `input`: output into `out` (NULL for a size
    /// query) with `*len` its capacity; for C_Verify, `out` is the signature to check.
    fn call(&self, op: Op, input: &[u8], out: *mut u8, len: &mut CK_ULONG) -> CK_RV {
        let (l, h) = (&self.s.lib, self.s.h);
        let mut d = input.to_vec();
        let (p, n) = (d.as_mut_ptr(), d.len() as CK_ULONG);
        // SAFETY: `d` is live; `out` is NULL or holds `*len` bytes.
        unsafe {
            match op {
                Op::Encrypt => l.C_Encrypt(h, p, n, out, len),
                Op::Decrypt => l.C_Decrypt(h, p, n, out, len),
                Op::Sign => l.C_Sign(h, p, n, out, len),
                Op::Verify => l.C_Verify(h, p, n, out, *len),
                Op::SignRecover => l.C_SignRecover(h, p, n, out, len),
                Op::VerifyRecover => l.C_VerifyRecover(h, p, n, out, len),
                Op::Digest => l.C_Digest(h, p, n, out, len),
            }
        }
    }

    /// A whole operation with a fresh parameter: its output (empty for C_Verify).
    fn run(&self, ty: CK_MECHANISM_TYPE, op: Op, key: CK_OBJECT_HANDLE, input: &[u8], sig: &[u8]) -> Vec<u8> {
        let mut p = param(ty, &self.keys.peer_point);
        let mut m = p.mech(ty);
        assert_eq!(self.init(self.s.h, op, &mut m, key), CKR_OK, "{op:?} {ty:#x}");
        if op == Op::Verify {
            let mut sig = sig.to_vec();
            let mut n = sig.len() as CK_ULONG;
            assert_eq!(self.call(op, input, sig.as_mut_ptr(), &mut n), CKR_OK, "{op:?} {ty:#x}");
            return Vec::new();
        }
        let mut n = 0;
        assert_eq!(self.call(op, input, null_mut(), &mut n), CKR_OK, "{op:?} {ty:#x} size query");
        let mut out = vec![0u8; n as usize];
        assert_eq!(self.call(op, input, out.as_mut_ptr(), &mut n), CKR_OK, "{op:?} {ty:#x}");
        out.truncate(n as usize);
        out
    }

    /// What the operation is called on, and for C_Verify the signature: plaintext for
    /// encryption, signing and digests, a ciphertext or signature made by the token for the
    /// other side.
    fn input(&self, ty: CK_MECHANISM_TYPE, op: Op, kind: Key, len: usize) -> (Vec<u8>, Vec<u8>) {
        let data = vec![0x21u8; len];
        let private = self.keys.get(kind, true);
        match op {
            Op::Decrypt => (self.run(ty, Op::Encrypt, self.keys.get(kind, false), &data, &[]), Vec::new()),
            Op::Verify => {
                let sig = self.run(ty, Op::Sign, private, &data, &[]);
                (data, sig)
            }
            Op::VerifyRecover => (self.run(ty, Op::SignRecover, private, &data, &[]), Vec::new()),
            _ => (data, Vec::new()),
        }
    }
}

/// Every probe of §5's C_*Init operations, for each mechanism and operation of `init_cases`.
#[test]
fn init_operations() {
    let e = env();
    let cases = init_cases();
    assert!(cases.len() > 80);
    for (ty, kind, ops, len) in cases {
        for op in ops {
            let what = format!("{op:?} with {ty:#x}");
            e.offered(ty, op.flag());
            let key = e.keys.get(kind, op.private());
            let (input, sig) = e.input(ty, op, kind, len);
            let mut p = param(ty, &e.keys.peer_point);
            let mut m = p.mech(ty);
            let h = e.s.h;
            // The call that ends the operation, with a buffer that holds its output.
            let finish = |want: CK_RV| {
                let mut out = sig.clone();
                out.resize(out.len().max(4096), 0);
                let mut n = if op == Op::Verify { sig.len() } else { out.len() } as CK_ULONG;
                assert_eq!(e.call(op, &input, out.as_mut_ptr(), &mut n), want, "{what}: the ending call");
            };

            // It runs; after the call that ends it, the next is CKR_OPERATION_NOT_INITIALIZED.
            assert_eq!(e.init(h, op, &mut m, key), CKR_OK, "{what}");
            finish(CKR_OK);
            finish(CKR_OPERATION_NOT_INITIALIZED);

            // A second C_*Init while one is active; C_*Init(NULL) ends it (§5.8-§5.15).
            let mut p = param(ty, &e.keys.peer_point);
            let mut m = p.mech(ty);
            assert_eq!(e.init(h, op, &mut m, key), CKR_OK, "{what}");
            assert_eq!(e.init(h, op, &mut m, key), CKR_OPERATION_ACTIVE, "{what}: a second init");
            assert_eq!(e.init(h, op, null_mut(), key), CKR_OK, "{what}: init with a NULL mechanism");
            finish(CKR_OPERATION_NOT_INITIALIZED);
            // With nothing active, a NULL mechanism neither ends nor starts anything.
            assert_eq!(e.init(h, op, null_mut(), key), CKR_ARGUMENTS_BAD, "{what}: NULL mechanism, nothing active");

            // A one-byte output buffer: CKR_BUFFER_TOO_SMALL with the length needed, and
            // the operation stays active (§5.2).
            if op.output() {
                let mut p = param(ty, &e.keys.peer_point);
                let mut m = p.mech(ty);
                assert_eq!(e.init(h, op, &mut m, key), CKR_OK, "{what}");
                let mut n = 0;
                assert_eq!(e.call(op, &input, null_mut(), &mut n), CKR_OK, "{what}: size query");
                assert!(n >= 2, "{what}: size {n}");
                let mut one = [0u8; 1];
                let mut short: CK_ULONG = 1;
                assert_eq!(e.call(op, &input, one.as_mut_ptr(), &mut short), CKR_BUFFER_TOO_SMALL, "{what}");
                assert!(short >= 2 && short <= n, "{what}: {short} needed, {n} reported before");
                finish(CKR_OK);
            }

            // A closed session's handle.
            let mut p = param(ty, &e.keys.peer_point);
            let mut m = p.mech(ty);
            assert_eq!(e.init(e.closed_session(), op, &mut m, key), CKR_SESSION_HANDLE_INVALID, "{what}");

            // A one-byte parameter where the mechanism takes a structure or an IV; with a key
            // the operation could not use anyway, the key is what is reported (as SoftHSMv2
            // does, checking the key first), with no parameter at all too.
            if p.required() {
                let mut byte = 1u8;
                let mut m = CK_MECHANISM { mechanism: ty, pParameter: (&raw mut byte).cast(), ulParameterLen: 1 };
                assert_eq!(e.init(h, op, &mut m, key), CKR_MECHANISM_PARAM_INVALID, "{what}: one-byte parameter");
                let mut none = mech::<u8>(ty, None);
                assert_eq!(e.init(h, op, &mut none, key), CKR_MECHANISM_PARAM_INVALID, "{what}: no parameter");
                if kind != Key::None {
                    let wrong = e.keys.wrong(kind, op.private());
                    for m in [&mut m, &mut none] {
                        assert_eq!(e.init(h, op, m, wrong), CKR_KEY_TYPE_INCONSISTENT, "{what}: bad parameter, key");
                        assert_eq!(e.init(h, op, m, 0), CKR_KEY_HANDLE_INVALID, "{what}: bad parameter, handle 0");
                        let unusable = e.without(key, op.usage());
                        assert_eq!(e.init(h, op, m, unusable), CKR_KEY_FUNCTION_NOT_PERMITTED, "{what}: bad parameter");
                    }
                }
            }

            if kind == Key::None {
                continue;
            }
            let mut p = param(ty, &e.keys.peer_point);
            let mut m = p.mech(ty);
            // Key handle 0 (never valid), the usage attribute false, a key of another type
            // (CKR_KEY_TYPE_INCONSISTENT outranks CKR_KEY_FUNCTION_NOT_PERMITTED, §5.1.6).
            assert_eq!(e.init(h, op, &mut m, 0), CKR_KEY_HANDLE_INVALID, "{what}: key handle 0");
            let unusable = e.without(key, op.usage());
            assert_eq!(e.init(h, op, &mut m, unusable), CKR_KEY_FUNCTION_NOT_PERMITTED, "{what}: usage false");
            let wrong = e.keys.wrong(kind, op.private());
            assert_eq!(e.init(h, op, &mut m, wrong), CKR_KEY_TYPE_INCONSISTENT, "{what}: another key type");
            // (Secret keys have no CKA_SIGN_RECOVER or CKA_VERIFY_RECOVER to turn off.)
            if kind.symmetric() || !matches!(op, Op::SignRecover | Op::VerifyRecover) {
                let wrong_unusable = e.without(wrong, op.usage());
                assert_eq!(e.init(h, op, &mut m, wrong_unusable), CKR_KEY_TYPE_INCONSISTENT, "{what}: both");
            }
            // None of these left an operation behind.
            assert_eq!(e.init(h, op, null_mut(), key), CKR_ARGUMENTS_BAD, "{what}");
        }
    }
}

/// A secret key to wrap: AES-128, extractable or not.
fn wrap_target(e: &Env, extractable: bool) -> CK_OBJECT_HANDLE {
    let t = T::secret(CKK_AES).bytes(CKA_VALUE, &[0x6d; 16]).flag(CKA_EXTRACTABLE, extractable);
    e.s.create(&mut { t }).unwrap()
}

/// The template of an unwrapped or derived key.
fn new_key(kt: CK_KEY_TYPE, len: Option<CK_ULONG>, token: bool) -> T {
    let t = T::secret(kt).flag(CKA_TOKEN, token);
    match len {
        Some(n) => t.ulong(CKA_VALUE_LEN, n),
        None => t,
    }
}

impl Env {
    fn wrap(
        &self,
        h: CK_SESSION_HANDLE,
        m: &mut CK_MECHANISM,
        kek: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        out: *mut u8,
        n: &mut CK_ULONG,
    ) -> CK_RV {
        // SAFETY: live mechanism; `out` is NULL or holds `*n` bytes.
        unsafe { self.s.lib.C_WrapKey(h, m, kek, key, out, n) }
    }

    fn unwrap(
        &self,
        h: CK_SESSION_HANDLE,
        m: &mut CK_MECHANISM,
        kek: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        t: &mut T,
    ) -> CK_RV {
        self.s.unwrap_on(h, m, kek, wrapped, t).err().unwrap_or(CKR_OK)
    }

    fn derive(&self, h: CK_SESSION_HANDLE, m: &mut CK_MECHANISM, base: CK_OBJECT_HANDLE, t: &mut T) -> CK_RV {
        self.s.derive_on(h, m, base, t).err().unwrap_or(CKR_OK)
    }
}

/// C_WrapKey and C_UnwrapKey (§5.18.3, §5.18.4).
#[test]
fn wrapping() {
    let e = env();
    let h = e.s.h;
    for (ty, kind) in [
        (CKM_AES_KEY_WRAP, Key::Aes),
        (CKM_AES_KEY_WRAP_KWP, Key::Aes),
        (CKM_AES_KEY_WRAP_PAD, Key::Aes),
        (CKM_AES_ECB, Key::Aes),
        (CKM_AES_CBC_PAD, Key::Aes),
        (CKM_AES_GCM, Key::Aes),
        (CKM_DES3_CBC_PAD, Key::Des3),
        (CKM_RSA_PKCS_OAEP, Key::Rsa),
        (CKM_RSA_PKCS, Key::Rsa),
    ] {
        let what = format!("{ty:#x}");
        e.offered(ty, CKF_WRAP | CKF_UNWRAP);
        let (kek, unwrapping) = (e.keys.get(kind, false), e.keys.get(kind, true));
        let target = wrap_target(&e, true);
        let mut p = param(ty, &[]);
        let mut m = p.mech(ty);

        // A size query, then a one-byte buffer: CKR_BUFFER_TOO_SMALL with the length.
        let mut n = 0;
        assert_eq!(e.wrap(h, &mut m, kek, target, null_mut(), &mut n), CKR_OK, "{what}");
        assert!(n >= 2, "{what}");
        let mut one = [0u8; 1];
        let mut short = 1;
        assert_eq!(e.wrap(h, &mut m, kek, target, one.as_mut_ptr(), &mut short), CKR_BUFFER_TOO_SMALL, "{what}");
        assert_eq!(short, n, "{what}");
        let mut wrapped = vec![0u8; n as usize];
        assert_eq!(e.wrap(h, &mut m, kek, target, wrapped.as_mut_ptr(), &mut n), CKR_OK, "{what}");
        wrapped.truncate(n as usize);

        let mut n = 4096;
        let mut buf = vec![0u8; 4096];
        let mut wrap = |h, kek, key| e.wrap(h, &mut m, kek, key, buf.as_mut_ptr(), &mut n);
        // The key to wrap is not extractable; the wrapping key handle is 0 or names a key of
        // another type; the session is closed.
        assert_eq!(wrap(h, kek, wrap_target(&e, false)), CKR_KEY_UNEXTRACTABLE, "{what}");
        assert_eq!(wrap(h, 0, target), CKR_WRAPPING_KEY_HANDLE_INVALID, "{what}");
        assert_eq!(wrap(h, e.keys.wrong(kind, false), target), CKR_WRAPPING_KEY_TYPE_INCONSISTENT, "{what}");
        assert_eq!(wrap(e.closed_session(), kek, target), CKR_SESSION_HANDLE_INVALID, "{what}");

        // Unwrapping: it works; a token key from a read-only session is CKR_SESSION_READ_ONLY;
        // the unwrapping key handle is 0 or names a key of another type; closed session.
        let mut m = p.mech(ty);
        let aes = |token| new_key(CKK_AES, None, token);
        assert_eq!(e.unwrap(h, &mut m, unwrapping, &wrapped, &mut aes(false)), CKR_OK, "{what}");
        let ro = e.read_only_session();
        assert_eq!(e.unwrap(ro, &mut m, unwrapping, &wrapped, &mut aes(true)), CKR_SESSION_READ_ONLY, "{what}");
        assert_eq!(e.unwrap(h, &mut m, 0, &wrapped, &mut aes(false)), CKR_UNWRAPPING_KEY_HANDLE_INVALID, "{what}");
        let wrong = e.keys.wrong(kind, true);
        assert_eq!(
            e.unwrap(h, &mut m, wrong, &wrapped, &mut aes(false)),
            CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
            "{what}"
        );
        assert_eq!(
            e.unwrap(e.closed_session(), &mut m, unwrapping, &wrapped, &mut aes(false)),
            CKR_SESSION_HANDLE_INVALID
        );

        // A one-byte parameter, where the mechanism takes one.
        if p.required() {
            let mut byte = 1u8;
            let mut m = CK_MECHANISM { mechanism: ty, pParameter: (&raw mut byte).cast(), ulParameterLen: 1 };
            let mut n = 4096;
            let mut buf = vec![0u8; 4096];
            assert_eq!(e.wrap(h, &mut m, kek, target, buf.as_mut_ptr(), &mut n), CKR_MECHANISM_PARAM_INVALID, "{what}");
            let rv = e.unwrap(h, &mut m, unwrapping, &wrapped, &mut aes(false));
            assert_eq!(rv, CKR_MECHANISM_PARAM_INVALID, "{what}");
        }
    }
}

/// C_DeriveKey (§5.18.5).
#[test]
fn derivation() {
    let e = env();
    let h = e.s.h;
    let generic = |ty| (ty, Key::Generic, CKK_GENERIC_SECRET, Some(16));
    let mut cases = vec![
        (CKM_ECDH1_DERIVE, Key::Ec, CKK_GENERIC_SECRET, Some(32)),
        (CKM_ECDH1_COFACTOR_DERIVE, Key::Ec, CKK_GENERIC_SECRET, Some(32)),
        (CKM_HKDF_DERIVE, Key::Generic, CKK_GENERIC_SECRET, Some(32)),
        (CKM_IKE2_PRF_PLUS_DERIVE, Key::Generic, CKK_GENERIC_SECRET, Some(100)),
        (CKM_IKE1_EXTENDED_DERIVE, Key::Generic, CKK_GENERIC_SECRET, Some(48)),
        (CKM_AES_CBC_ENCRYPT_DATA, Key::Aes, CKK_AES, Some(16)),
        (CKM_AES_ECB_ENCRYPT_DATA, Key::Aes, CKK_AES, Some(16)),
        (CKM_CONCATENATE_BASE_AND_DATA, Key::Generic, CKK_GENERIC_SECRET, None),
        (CKM_CONCATENATE_DATA_AND_BASE, Key::Generic, CKK_GENERIC_SECRET, None),
        (CKM_XOR_BASE_AND_DATA, Key::Generic, CKK_GENERIC_SECRET, None),
    ];
    cases.extend(
        [
            CKM_SHA1_KEY_DERIVATION,
            CKM_SHA224_KEY_DERIVATION,
            CKM_SHA256_KEY_DERIVATION,
            CKM_SHA384_KEY_DERIVATION,
            CKM_SHA512_KEY_DERIVATION,
            CKM_SHA512_224_KEY_DERIVATION,
            CKM_SHA512_256_KEY_DERIVATION,
            CKM_SHA3_224_KEY_DERIVATION,
            CKM_SHA3_256_KEY_DERIVATION,
            CKM_SHA3_384_KEY_DERIVATION,
            CKM_SHA3_512_KEY_DERIVATION,
            CKM_SHAKE_128_KEY_DERIVATION,
            CKM_SHAKE_256_KEY_DERIVATION,
        ]
        .map(generic),
    );
    for (ty, kind, kt, len) in cases {
        let what = format!("{ty:#x}");
        e.offered(ty, CKF_DERIVE);
        let base = e.keys.get(kind, true);
        let mut p = param(ty, &e.keys.peer_point);
        let mut m = p.mech(ty);
        let t = |token| new_key(kt, len, token);
        assert_eq!(e.derive(h, &mut m, base, &mut t(false)), CKR_OK, "{what}");
        let ro = e.read_only_session();
        assert_eq!(e.derive(ro, &mut m, base, &mut t(true)), CKR_SESSION_READ_ONLY, "{what}");
        assert_eq!(e.derive(h, &mut m, 0, &mut t(false)), CKR_KEY_HANDLE_INVALID, "{what}");
        let wrong = e.keys.wrong(kind, true);
        assert_eq!(e.derive(h, &mut m, wrong, &mut t(false)), CKR_KEY_TYPE_INCONSISTENT, "{what}");
        let unusable = e.without(base, CKA_DERIVE);
        assert_eq!(e.derive(h, &mut m, unusable, &mut t(false)), CKR_KEY_FUNCTION_NOT_PERMITTED, "{what}");
        assert_eq!(e.derive(e.closed_session(), &mut m, base, &mut t(false)), CKR_SESSION_HANDLE_INVALID, "{what}");
        if p.required() {
            let mut byte = 1u8;
            let mut m = CK_MECHANISM { mechanism: ty, pParameter: (&raw mut byte).cast(), ulParameterLen: 1 };
            assert_eq!(e.derive(h, &mut m, base, &mut t(false)), CKR_MECHANISM_PARAM_INVALID, "{what}");
            // A base key the mechanism cannot use is told first, as by C_*Init.
            assert_eq!(e.derive(h, &mut m, wrong, &mut t(false)), CKR_KEY_TYPE_INCONSISTENT, "{what}");
            assert_eq!(e.derive(h, &mut m, unusable, &mut t(false)), CKR_KEY_FUNCTION_NOT_PERMITTED, "{what}");
            assert_eq!(e.derive(h, &mut m, 0, &mut t(false)), CKR_KEY_HANDLE_INVALID, "{what}");
        }
    }
}

/// C_EncapsulateKey and C_DecapsulateKey (3.2 §5.18.8, §5.18.9).
#[test]
fn encapsulation() {
    let e = env();
    // ML-KEM-768, and ECDH on P-256 as a KEM (no parameter).
    for (ty, keys) in [(CKM_ML_KEM, e.keys.mlkem), (CKM_ECDH1_DERIVE, e.keys.ec)] {
        if !offered_by_this_build(ty) {
            continue;
        }
        encapsulation_with(&e, ty, keys);
    }
}

fn encapsulation_with(e: &Env, ty: CK_MECHANISM_TYPE, (public, private): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)) {
    let (h, l) = (e.s.h, &e.s.lib);
    e.offered(ty, CKF_ENCAPSULATE | CKF_DECAPSULATE);
    let mut m = mech::<u8>(ty, None);
    let t = |token| new_key(CKK_GENERIC_SECRET, None, token);
    let encapsulate = |h, key, t: &mut T, out: *mut u8, n: &mut CK_ULONG| {
        let mut m = mech::<u8>(ty, None);
        let mut o = 0;
        // SAFETY: live mechanism and template; `out` is NULL or holds `*n` bytes.
        unsafe { l.C_EncapsulateKey(h, &mut m, key, t.attrs.as_mut_ptr(), t.attrs.len() as _, out, n, &mut o) }
    };
    // A size query, a one-byte buffer, then the ciphertext.
    let mut n = 0;
    assert_eq!(encapsulate(h, public, &mut t(false), null_mut(), &mut n), CKR_OK);
    assert!(n >= 2);
    let mut one = [0u8; 1];
    let mut short = 1;
    assert_eq!(encapsulate(h, public, &mut t(false), one.as_mut_ptr(), &mut short), CKR_BUFFER_TOO_SMALL);
    assert_eq!(short, n);
    let mut ct = vec![0u8; n as usize];
    assert_eq!(encapsulate(h, public, &mut t(false), ct.as_mut_ptr(), &mut n), CKR_OK);
    let mut buf = vec![0u8; n as usize];
    let mut full = |h, key, token| {
        let mut n = buf.len() as CK_ULONG;
        encapsulate(h, key, &mut t(token), buf.as_mut_ptr(), &mut n)
    };
    assert_eq!(full(e.read_only_session(), public, true), CKR_SESSION_READ_ONLY);
    assert_eq!(full(h, 0, false), CKR_KEY_HANDLE_INVALID);
    assert_eq!(full(h, e.keys.aes, false), CKR_KEY_TYPE_INCONSISTENT);
    assert_eq!(full(e.closed_session(), public, false), CKR_SESSION_HANDLE_INVALID);

    let mut decapsulate = |h, t: &mut T, ph: *mut CK_OBJECT_HANDLE| {
        // SAFETY: live mechanism, ciphertext and template; `ph` is NULL or live.
        unsafe {
            l.C_DecapsulateKey(
                h,
                &mut m,
                private,
                t.attrs.as_mut_ptr(),
                t.attrs.len() as _,
                ct.as_mut_ptr(),
                ct.len() as _,
                ph,
            )
        }
    };
    let mut o = 0;
    assert_eq!(decapsulate(h, &mut t(false), &mut o), CKR_OK);
    assert_eq!(decapsulate(e.read_only_session(), &mut t(true), &mut o), CKR_SESSION_READ_ONLY);
    assert_eq!(decapsulate(h, &mut t(false), null_mut()), CKR_ARGUMENTS_BAD);
    assert_eq!(decapsulate(e.closed_session(), &mut t(false), &mut o), CKR_SESSION_HANDLE_INVALID);
}

/// C_GenerateKey and C_GenerateKeyPair (§5.18.1, §5.18.2).
#[test]
fn key_generation() {
    let e = env();
    let h = e.s.h;
    // The calls' return codes.
    let generate = |h, ty, t: &mut T| e.s.generate_on(h, ty, t).err().unwrap_or(CKR_OK);
    let pair = |h, ty, public: &mut T, private: &mut T| e.s.keypair_on(h, ty, public, private).err().unwrap_or(CKR_OK);
    let value_len = |t: T| t.ulong(CKA_VALUE_LEN, 32);
    for (ty, kt, other) in [
        (CKM_AES_KEY_GEN, CKK_AES, CKK_RSA),
        (CKM_GENERIC_SECRET_KEY_GEN, CKK_GENERIC_SECRET, CKK_EC),
        (CKM_AES_XTS_KEY_GEN, CKK_AES_XTS, CKK_AES),
        (CKM_CHACHA20_KEY_GEN, CKK_CHACHA20, CKK_GENERIC_SECRET),
    ] {
        e.offered(ty, CKF_GENERATE);
        let t = |token| value_len(T::default().flag(CKA_TOKEN, token));
        assert_eq!(generate(h, ty, &mut t(false)), CKR_OK, "{ty:#x}");
        assert_eq!(generate(h, ty, &mut t(false).ulong(CKA_KEY_TYPE, kt)), CKR_OK, "{ty:#x}");
        assert_eq!(generate(e.read_only_session(), ty, &mut t(true)), CKR_SESSION_READ_ONLY, "{ty:#x}");
        assert_eq!(generate(e.closed_session(), ty, &mut t(false)), CKR_SESSION_HANDLE_INVALID, "{ty:#x}");
        assert_eq!(generate(h, ty, &mut t(false).ulong(CKA_KEY_TYPE, other)), CKR_TEMPLATE_INCONSISTENT, "{ty:#x}");
        assert_eq!(pair(h, ty, &mut T::default(), &mut T::default()), CKR_MECHANISM_INVALID, "{ty:#x}");
    }
    /// A key-pair mechanism, its key type, and its public-key template.
    type PairCase = (CK_MECHANISM_TYPE, CK_KEY_TYPE, fn() -> T);
    let pairs: [PairCase; 6] = [
        (CKM_EC_KEY_PAIR_GEN, CKK_EC, || T::default().bytes(CKA_EC_PARAMS, P256)),
        (CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, || T::default().bytes(CKA_EC_PARAMS, ED25519)),
        (CKM_EC_MONTGOMERY_KEY_PAIR_GEN, CKK_EC_MONTGOMERY, || T::default().bytes(CKA_EC_PARAMS, X25519)),
        (CKM_ML_DSA_KEY_PAIR_GEN, CKK_ML_DSA, || T::default().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_65)),
        (CKM_ML_KEM_KEY_PAIR_GEN, CKK_ML_KEM, || T::default().ulong(CKA_PARAMETER_SET, CKP_ML_KEM_512)),
        (CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, || T::default().ulong(CKA_MODULUS_BITS, 2048)),
    ];
    for (ty, kt, public) in pairs {
        if !offered_by_this_build(ty) {
            continue;
        }
        e.offered(ty, CKF_GENERATE_KEY_PAIR);
        let token = |t: T, token| t.flag(CKA_TOKEN, token);
        let other = if kt == CKK_RSA { CKK_EC } else { CKK_RSA };
        assert_eq!(pair(h, ty, &mut public(), &mut T::default()), CKR_OK, "{ty:#x}");
        let (mut p, mut q) = (public().ulong(CKA_KEY_TYPE, kt), T::default().ulong(CKA_KEY_TYPE, kt));
        assert_eq!(pair(h, ty, &mut p, &mut q), CKR_OK, "{ty:#x}");
        let ro = e.read_only_session();
        assert_eq!(pair(ro, ty, &mut token(public(), true), &mut T::default()), CKR_SESSION_READ_ONLY, "{ty:#x}");
        assert_eq!(pair(ro, ty, &mut public(), &mut token(T::default(), true)), CKR_SESSION_READ_ONLY, "{ty:#x}");
        assert_eq!(pair(e.closed_session(), ty, &mut public(), &mut T::default()), CKR_SESSION_HANDLE_INVALID);
        let mut p = public().ulong(CKA_KEY_TYPE, other);
        assert_eq!(pair(h, ty, &mut p, &mut T::default()), CKR_TEMPLATE_INCONSISTENT, "{ty:#x}");
        let mut q = T::default().ulong(CKA_KEY_TYPE, other);
        assert_eq!(pair(h, ty, &mut public(), &mut q), CKR_TEMPLATE_INCONSISTENT, "{ty:#x}");
        assert_eq!(generate(h, ty, &mut public()), CKR_MECHANISM_INVALID, "{ty:#x}");
    }
    // An RSA template refused anyway is refused before a key is made: with a size the token
    // refuses (CKR_ATTRIBUTE_VALUE_INVALID once it tries), the template's own fault is returned.
    let big = || T::default().ulong(CKA_MODULUS_BITS, 16384);
    let rsa = CKM_RSA_PKCS_KEY_PAIR_GEN;
    assert_eq!(pair(h, rsa, &mut big(), &mut T::default()), CKR_ATTRIBUTE_VALUE_INVALID);
    for (session, mut public, mut private, rv) in [
        (e.read_only_session(), big().flag(CKA_TOKEN, true), T::default(), CKR_SESSION_READ_ONLY),
        (e.read_only_session(), big(), T::default().flag(CKA_TOKEN, true), CKR_SESSION_READ_ONLY),
        (h, big().bytes(CKA_MODULUS, &[1]), T::default(), CKR_ATTRIBUTE_READ_ONLY),
        (h, big(), T::default().bytes(CKA_PRIME_1, &[1]), CKR_ATTRIBUTE_READ_ONLY),
        (h, big().ulong(CKA_KEY_TYPE, CKK_EC), T::default(), CKR_TEMPLATE_INCONSISTENT),
        (h, big(), T::default().ulong(CKA_CLASS, CKO_SECRET_KEY), CKR_TEMPLATE_INCONSISTENT),
        (h, big(), T::default().ulong(CKA_VALUE_LEN, 32), CKR_ATTRIBUTE_TYPE_INVALID),
    ] {
        assert_eq!(pair(session, rsa, &mut public, &mut private), rv);
    }
}

/// The message-based functions (3.2 §5.9, §5.11, §5.14, §5.16): AES-GCM encryption and
/// decryption, HMAC and ECDSA signing and verification.
#[test]
fn message_operations() {
    let e = env();
    let (h, l) = (e.s.h, &e.s.lib);
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum M {
        Encrypt,
        Decrypt,
        Sign,
        Verify,
    }
    let init = |h, op, m: *mut CK_MECHANISM, key| {
        // SAFETY: `m` is NULL or a live mechanism.
        unsafe {
            match op {
                M::Encrypt => l.C_MessageEncryptInit(h, m, key),
                M::Decrypt => l.C_MessageDecryptInit(h, m, key),
                M::Sign => l.C_MessageSignInit(h, m, key),
                M::Verify => l.C_MessageVerifyInit(h, m, key),
            }
        }
    };
    let finish = |op| {
        // SAFETY: plain calls on the session.
        unsafe {
            match op {
                M::Encrypt => l.C_MessageEncryptFinal(h),
                M::Decrypt => l.C_MessageDecryptFinal(h),
                M::Sign => l.C_MessageSignFinal(h),
                M::Verify => l.C_MessageVerifyFinal(h),
            }
        }
    };
    // One message: GCM takes a per-message parameter (IV given, tag written back or read).
    let data = b"a message".to_vec();
    let mut tag = [0u8; 16];
    let message = |op, input: &[u8], sig: &[u8], tag: &mut [u8; 16], out: *mut u8, n: &mut CK_ULONG| {
        let mut iv = [8u8; 12];
        let mut d = input.to_vec();
        let mut s = sig.to_vec();
        let mut p = gcm_message(&mut iv, tag);
        let (pp, pl) = ((&raw mut p).cast(), size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG);
        let (dp, dl) = (d.as_mut_ptr(), d.len() as CK_ULONG);
        // SAFETY: live parameter and buffers; `out` is NULL or holds `*n` bytes.
        unsafe {
            match op {
                M::Encrypt => l.C_EncryptMessage(h, pp, pl, null_mut(), 0, dp, dl, out, n),
                M::Decrypt => l.C_DecryptMessage(h, pp, pl, null_mut(), 0, dp, dl, out, n),
                M::Sign => l.C_SignMessage(h, null_mut(), 0, dp, dl, out, n),
                M::Verify => l.C_VerifyMessage(h, null_mut(), 0, dp, dl, s.as_mut_ptr(), s.len() as _),
            }
        }
    };
    for (ty, kind, ops, flags) in [
        (CKM_AES_GCM, Key::Aes, [M::Encrypt, M::Decrypt], CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT),
        (CKM_SHA256_HMAC, Key::Generic, [M::Sign, M::Verify], CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY),
        (CKM_ECDSA_SHA256, Key::Ec, [M::Sign, M::Verify], CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY),
    ] {
        e.offered(ty, flags);
        // What the second operation of the pair works on: a ciphertext or a signature.
        let private = |op| matches!(op, M::Decrypt | M::Sign);
        let first = e.keys.get(kind, private(ops[0]));
        let mut m = mech::<u8>(ty, None);
        assert_eq!(init(h, ops[0], &mut m, first), CKR_OK);
        let mut n = 4096;
        let mut produced = vec![0u8; 4096];
        assert_eq!(message(ops[0], &data, &[], &mut tag, produced.as_mut_ptr(), &mut n), CKR_OK, "{ty:#x}");
        produced.truncate(n as usize);
        assert_eq!(finish(ops[0]), CKR_OK);
        for op in ops {
            let what = format!("{op:?} with {ty:#x}");
            let key = e.keys.get(kind, private(op));
            let (input, sig) = match op {
                M::Decrypt => (produced.clone(), Vec::new()),
                M::Verify if ty != CKM_AES_GCM => (data.clone(), produced.clone()),
                _ => (data.clone(), Vec::new()),
            };
            let mut call = |out: *mut u8, n: &mut CK_ULONG| message(op, &input, &sig, &mut tag, out, n);
            let full = |call: &mut dyn FnMut(*mut u8, &mut CK_ULONG) -> CK_RV| {
                let mut buf = vec![0u8; 4096];
                let mut n = 4096;
                call(buf.as_mut_ptr(), &mut n)
            };
            // A message, the end of the process; a message after it is refused.
            assert_eq!(init(h, op, &mut m, key), CKR_OK, "{what}");
            assert_eq!(full(&mut call), CKR_OK, "{what}");
            assert_eq!(finish(op), CKR_OK, "{what}");
            assert_eq!(full(&mut call), CKR_OPERATION_NOT_INITIALIZED, "{what}: after the final call");
            // A second init while one is active; init with a NULL mechanism ends it.
            assert_eq!(init(h, op, &mut m, key), CKR_OK, "{what}");
            assert_eq!(init(h, op, &mut m, key), CKR_OPERATION_ACTIVE, "{what}");
            assert_eq!(init(h, op, null_mut(), key), CKR_OK, "{what}: NULL mechanism");
            assert_eq!(full(&mut call), CKR_OPERATION_NOT_INITIALIZED, "{what}: after a NULL mechanism");
            assert_eq!(init(h, op, null_mut(), key), CKR_ARGUMENTS_BAD, "{what}: NULL mechanism, nothing active");
            // A one-byte buffer: CKR_BUFFER_TOO_SMALL, and the process goes on.
            if op != M::Verify {
                assert_eq!(init(h, op, &mut m, key), CKR_OK, "{what}");
                let mut n = 0;
                assert_eq!(call(null_mut(), &mut n), CKR_OK, "{what}: size query");
                let mut one = [0u8; 1];
                let mut short = 1;
                assert_eq!(call(one.as_mut_ptr(), &mut short), CKR_BUFFER_TOO_SMALL, "{what}");
                assert!(short >= 2 && short <= n, "{what}");
                assert_eq!(full(&mut call), CKR_OK, "{what}: after a short buffer");
                assert_eq!(finish(op), CKR_OK, "{what}");
            }
            // Key handle 0, the usage attribute false, a key of another type, a closed session.
            let usage = match op {
                M::Encrypt => CKA_ENCRYPT,
                M::Decrypt => CKA_DECRYPT,
                M::Sign => CKA_SIGN,
                M::Verify => CKA_VERIFY,
            };
            assert_eq!(init(h, op, &mut m, 0), CKR_KEY_HANDLE_INVALID, "{what}");
            assert_eq!(init(h, op, &mut m, e.without(key, usage)), CKR_KEY_FUNCTION_NOT_PERMITTED, "{what}");
            let wrong = e.keys.wrong(kind, private(op));
            assert_eq!(init(h, op, &mut m, wrong), CKR_KEY_TYPE_INCONSISTENT, "{what}");
            assert_eq!(init(e.closed_session(), op, &mut m, key), CKR_SESSION_HANDLE_INVALID, "{what}");
        }
    }
}

/// Mechanism parameters of the wrong shape (§5.1.6 CKR_MECHANISM_PARAM_INVALID and the
/// mechanisms' sections): none where one is required, IVs of the wrong length, RSA-PSS and
/// RSA-OAEP structures cut short or naming what the mechanism cannot use, a PSS salt too
/// long for the key. A well-formed parameter still starts the operation.
#[test]
fn malformed_parameters() {
    let e = env();
    let h = e.s.h;
    let bad = CKR_MECHANISM_PARAM_INVALID;
    let raw =
        |ty, p: *mut u8, len: usize| CK_MECHANISM { mechanism: ty, pParameter: p.cast(), ulParameterLen: len as _ };
    // Each init that succeeds is ended again with a NULL mechanism.
    let init = |op: Op, m: &mut CK_MECHANISM, key| {
        let rv = e.init(h, op, m, key);
        if rv == CKR_OK {
            assert_eq!(e.init(h, op, null_mut(), key), CKR_OK);
        }
        rv
    };
    let ivs = [
        (CKM_AES_CBC, Key::Aes),
        (CKM_AES_CBC_PAD, Key::Aes),
        (CKM_AES_OFB, Key::Aes),
        (CKM_AES_CFB1, Key::Aes),
        (CKM_AES_CFB8, Key::Aes),
        (CKM_AES_CFB128, Key::Aes),
        (CKM_AES_CTS, Key::Aes),
        (CKM_AES_XTS, Key::Xts),
    ];
    for (ty, kind) in ivs {
        let key = e.keys.get(kind, true);
        for op in [Op::Encrypt, Op::Decrypt] {
            assert_eq!(init(op, &mut raw(ty, null_mut(), 0), key), bad, "{ty:#x}: no IV");
            for len in [1usize, 8, 12, 15, 17, 24, 32] {
                let mut iv = vec![0x11u8; len];
                assert_eq!(init(op, &mut raw(ty, iv.as_mut_ptr(), len), key), bad, "{ty:#x}: {len}-byte IV");
            }
            let mut iv = vec![0x11u8; 16];
            assert_eq!(init(op, &mut raw(ty, iv.as_mut_ptr(), 16), key), CKR_OK, "{ty:#x}: 16-byte IV");
        }
    }
    for ty in [CKM_AES_CTR, CKM_AES_GCM, CKM_AES_CCM, CKM_CHACHA20_POLY1305, CKM_RSA_PKCS_OAEP] {
        let kind = match ty {
            CKM_CHACHA20_POLY1305 => Key::ChaCha,
            CKM_RSA_PKCS_OAEP => Key::Rsa,
            _ => Key::Aes,
        };
        let key = e.keys.get(kind, false);
        assert_eq!(init(Op::Encrypt, &mut raw(ty, null_mut(), 0), key), bad, "{ty:#x}: no parameter");
    }

    // RSA-PSS: the structure whole, its hash the mechanism's, sLen at most k - 2 - hLen
    // (a 2048-bit key: k = 256).
    let (public, private) = e.keys.rsa;
    let usz = size_of::<CK_ULONG>();
    let pss_mechs = [
        (CKM_SHA1_RSA_PKCS_PSS, 0usize, 20usize),
        (CKM_SHA224_RSA_PKCS_PSS, 1, 28),
        (CKM_SHA256_RSA_PKCS_PSS, 2, 32),
        (CKM_SHA384_RSA_PKCS_PSS, 3, 48),
        (CKM_SHA512_RSA_PKCS_PSS, 4, 64),
        (CKM_SHA3_224_RSA_PKCS_PSS, 5, 28),
        (CKM_SHA3_256_RSA_PKCS_PSS, 6, 32),
        (CKM_SHA3_384_RSA_PKCS_PSS, 7, 48),
        (CKM_SHA3_512_RSA_PKCS_PSS, 8, 64),
        (CKM_RSA_PKCS_PSS, 2, 32),
    ];
    for (ty, i, hlen) in pss_mechs {
        let (hash, mgf) = HASHES[i];
        let both = |p: &mut CK_RSA_PKCS_PSS_PARAMS, len: usize| {
            let pp: *mut CK_RSA_PKCS_PSS_PARAMS = p;
            let s = init(Op::Sign, &mut raw(ty, pp.cast(), len), private);
            let v = init(Op::Verify, &mut raw(ty, pp.cast(), len), public);
            (s, v)
        };
        let pss = |hash_alg, mgf, s_len| CK_RSA_PKCS_PSS_PARAMS { hashAlg: hash_alg, mgf, sLen: s_len as CK_ULONG };
        let full = size_of::<CK_RSA_PKCS_PSS_PARAMS>();
        let max = 256 - 2 - hlen;
        assert_eq!(both(&mut pss(hash, mgf, hlen), full), (CKR_OK, CKR_OK), "{ty:#x}");
        assert_eq!(both(&mut pss(hash, mgf, max), full), (CKR_OK, CKR_OK), "{ty:#x}: sLen {max}");
        assert_eq!(both(&mut pss(hash, mgf, max + 1), full), (bad, bad), "{ty:#x}: sLen {}", max + 1);
        for len in [0, 1, 2 * usz, full + 1] {
            assert_eq!(both(&mut pss(hash, mgf, hlen), len), (bad, bad), "{ty:#x}: {len}-byte parameter");
        }
        assert_eq!(both(&mut pss(hash, 0, hlen), full), (bad, bad), "{ty:#x}: mgf 0");
        if ty != CKM_RSA_PKCS_PSS {
            let other = if hash == CKM_SHA256 { CKM_SHA384 } else { CKM_SHA256 };
            assert_eq!(both(&mut pss(other, mgf, hlen), full), (bad, bad), "{ty:#x}: another hash");
        }
    }

    // RSA-OAEP: encryption, decryption, wrapping and unwrapping.
    let target = wrap_target(&e, true);
    let oaep_all = |p: &mut CK_RSA_PKCS_OAEP_PARAMS, len: usize| {
        let pp: *mut CK_RSA_PKCS_OAEP_PARAMS = p;
        let m = || raw(CKM_RSA_PKCS_OAEP, pp.cast(), len);
        let enc = init(Op::Encrypt, &mut m(), public);
        let dec = init(Op::Decrypt, &mut m(), private);
        let mut out = vec![0u8; 512];
        let mut n = 512;
        let wrap = e.wrap(h, &mut m(), public, target, out.as_mut_ptr(), &mut n);
        let unwrap = e.unwrap(h, &mut m(), private, &[0x5a; 256], &mut new_key(CKK_AES, None, false));
        [enc, dec, wrap, if unwrap == CKR_ENCRYPTED_DATA_INVALID { CKR_OK } else { unwrap }]
    };
    let oaep = |hash, mgf, source, label: *mut u8, label_len: usize| CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: hash,
        mgf,
        source,
        pSourceData: label.cast(),
        ulSourceDataLen: label_len as CK_ULONG,
    };
    let full = size_of::<CK_RSA_PKCS_OAEP_PARAMS>();
    let z = CKZ_DATA_SPECIFIED;
    let mut label = b"label".to_vec();
    let lp = label.as_mut_ptr();
    let ok = |rv: [CK_RV; 4]| rv.iter().all(|r| *r != bad) && rv[..2] == [CKR_OK, CKR_OK];
    assert!(ok(oaep_all(&mut oaep(CKM_SHA256, CKG_MGF1_SHA256, z, null_mut(), 0), full)));
    assert!(ok(oaep_all(&mut oaep(CKM_SHA384, CKG_MGF1_SHA384, z, lp, 5), full)));
    for len in [0, 1, usz, 4 * usz] {
        assert_eq!(oaep_all(&mut oaep(CKM_SHA256, CKG_MGF1_SHA256, z, null_mut(), 0), len), [bad; 4], "{len} bytes");
    }
    // §6.1.7 defines no source but CKZ_DATA_SPECIFIED; libp11 (the OpenSSL engine) passes 0
    // with no label, and is served. A label under another source is refused.
    assert!(ok(oaep_all(&mut oaep(CKM_SHA256, CKG_MGF1_SHA256, 0, null_mut(), 0), full)), "source 0, libp11's");
    assert_eq!(oaep_all(&mut oaep(CKM_SHA256, CKG_MGF1_SHA256, 0, lp, 5), full), [bad; 4], "source 0 with a label");
    assert_eq!(oaep_all(&mut oaep(CKM_SHA256, CKG_MGF1_SHA256, 2, null_mut(), 0), full), [bad; 4], "source 2");
    assert_eq!(oaep_all(&mut oaep(CKM_SHA256, CKG_MGF1_SHA256, z, null_mut(), 4), full), [bad; 4], "NULL label");
    assert_eq!(oaep_all(&mut oaep(CKM_SHA256, 0, z, null_mut(), 0), full), [bad; 4], "mgf 0");
    assert_eq!(oaep_all(&mut oaep(CKM_MD5, CKG_MGF1_SHA256, z, null_mut(), 0), full), [bad; 4], "MD5");
}

/// A NULL mechanism ends only the operation of the C_*Init it is given to: C_VerifyInit(NULL)
/// leaves a C_VerifySignatureInit operation (and the reverse), C_DigestInit(NULL) leaves an
/// encryption, and C_VerifySignatureInit(NULL) ends its own.
#[test]
fn a_null_mechanism_ends_only_its_own_operation() {
    let e = env();
    let (h, l) = (e.s.h, &e.s.lib);
    let key = e.keys.generic;
    let data = b"signed data".to_vec();
    let sig = e.run(CKM_SHA256_HMAC, Op::Sign, key, &data, &[]);
    let mut m = mech::<u8>(CKM_SHA256_HMAC, None);
    let mut s = sig.clone();
    let mut d = data.clone();
    // SAFETY: live mechanism, data and signature buffers.
    unsafe {
        let signature_init =
            |m: *mut CK_MECHANISM, s: &mut Vec<u8>| l.C_VerifySignatureInit(h, m, key, s.as_mut_ptr(), s.len() as _);
        assert_eq!(signature_init(&mut m, &mut s), CKR_OK);
        assert_eq!(l.C_VerifyInit(h, &mut m, key), CKR_OK);
        assert_eq!(l.C_VerifyInit(h, null_mut(), key), CKR_OK);
        assert_eq!(l.C_VerifySignature(h, d.as_mut_ptr(), d.len() as _), CKR_OK, "still active");
        assert_eq!(signature_init(&mut m, &mut s), CKR_OK);
        assert_eq!(l.C_VerifyInit(h, &mut m, key), CKR_OK);
        assert_eq!(signature_init(null_mut(), &mut s), CKR_OK);
        assert_eq!(l.C_VerifySignature(h, d.as_mut_ptr(), d.len() as _), CKR_OPERATION_NOT_INITIALIZED);
        assert_eq!(l.C_Verify(h, d.as_mut_ptr(), d.len() as _, s.as_mut_ptr(), s.len() as _), CKR_OK, "still active");

        let mut sha = mech::<u8>(CKM_SHA256, None);
        let mut ecb = mech::<u8>(CKM_AES_ECB, None);
        assert_eq!(l.C_EncryptInit(h, &mut ecb, e.keys.aes), CKR_OK);
        assert_eq!(l.C_DigestInit(h, &mut sha), CKR_OK);
        assert_eq!(l.C_DigestInit(h, null_mut()), CKR_OK);
        let mut block = [0u8; 16];
        let mut out = [0u8; 16];
        let mut n: CK_ULONG = 16;
        assert_eq!(l.C_Encrypt(h, block.as_mut_ptr(), 16, out.as_mut_ptr(), &mut n), CKR_OK, "still active");
        // A session handle that names no session is reported, NULL mechanism or not.
        assert_eq!(l.C_DigestInit(e.closed_session(), null_mut()), CKR_SESSION_HANDLE_INVALID);
        assert_eq!(l.C_SignInit(e.closed_session(), null_mut(), key), CKR_SESSION_HANDLE_INVALID);
    }
}

/// C_SessionCancel (3.2 §5.6) ends exactly the operations its flags name: with every kind
/// of operation active at once in one session, each flag ends its own (its C_*Init then
/// starts again) and leaves every other one active (its C_*Init is CKR_OPERATION_ACTIVE);
/// CKF_VERIFY ends C_VerifySignatureInit's too; no flag ends nothing, all flags end all.
#[test]
fn session_cancel_ends_the_operations_named() {
    let e = env();
    let (h, l, k) = (e.s.h, &e.s.lib, &e.keys);
    let mut sig = e.run(CKM_SHA256_HMAC, Op::Sign, k.generic, b"data", &[]);
    let (sig, sig_len) = (sig.as_mut_ptr(), sig.len() as CK_ULONG);
    let (public, private) = k.rsa;
    let mut mechs = [CKM_SHA256_HMAC, CKM_SHA256, CKM_AES_ECB, CKM_AES_GCM, CKM_RSA_PKCS].map(|m| mech::<u8>(m, None));
    let [hmac, sha, ecb, gcm, rsa] = mechs.each_mut().map(|m| m as *mut CK_MECHANISM);
    // SAFETY: each call is given live mechanisms and signature buffer, or a NULL template of length 0.
    let inits: Vec<(CK_FLAGS, Box<dyn Fn() -> CK_RV>)> = unsafe {
        vec![
            (CKF_FIND_OBJECTS, Box::new(|| l.C_FindObjectsInit(h, null_mut(), 0))),
            (CKF_DIGEST, Box::new(|| l.C_DigestInit(h, sha))),
            (CKF_ENCRYPT, Box::new(|| l.C_EncryptInit(h, ecb, k.aes))),
            (CKF_DECRYPT, Box::new(|| l.C_DecryptInit(h, ecb, k.aes))),
            (CKF_SIGN, Box::new(|| l.C_SignInit(h, hmac, k.generic))),
            (CKF_VERIFY, Box::new(|| l.C_VerifyInit(h, hmac, k.generic))),
            (CKF_VERIFY, Box::new(|| l.C_VerifySignatureInit(h, hmac, k.generic, sig, sig_len))),
            (CKF_MESSAGE_ENCRYPT, Box::new(|| l.C_MessageEncryptInit(h, gcm, k.aes))),
            (CKF_MESSAGE_DECRYPT, Box::new(|| l.C_MessageDecryptInit(h, gcm, k.aes))),
            (CKF_MESSAGE_SIGN, Box::new(|| l.C_MessageSignInit(h, hmac, k.generic))),
            (CKF_MESSAGE_VERIFY, Box::new(|| l.C_MessageVerifyInit(h, hmac, k.generic))),
            (CKF_SIGN_RECOVER, Box::new(|| l.C_SignRecoverInit(h, rsa, private))),
            (CKF_VERIFY_RECOVER, Box::new(|| l.C_VerifyRecoverInit(h, rsa, public))),
        ]
    };
    // Starts every operation not active; returns the flags of those that had ended.
    let start_all = || {
        inits.iter().fold(0, |ended, (flag, init)| match init() {
            CKR_OK => ended | flag,
            rv => {
                assert_eq!(rv, CKR_OPERATION_ACTIVE, "{flag:#x}");
                ended
            }
        })
    };
    // SAFETY: a plain call on a live session.
    let cancel = |flags| assert_eq!(unsafe { l.C_SessionCancel(h, flags) }, CKR_OK, "{flags:#x}");
    let all = inits.iter().fold(0, |all, (flag, _)| all | flag);
    assert_eq!(start_all(), all, "none was active");
    for (flag, _) in &inits {
        cancel(*flag);
        assert_eq!(start_all(), *flag, "cancelling {flag:#x}");
    }
    cancel(0);
    assert_eq!(start_all(), 0);
    cancel(all);
    assert_eq!(start_all(), all);
    cancel(all);
}

/// A length no buffer of the process can have (its end past the address space, though its
/// size fits in an isize) is refused with CKR_ARGUMENTS_BAD before anything is read from or
/// written to the buffer, for data, AAD, templates and output lengths alike; the session
/// works normally afterwards.
#[test]
fn lengths_past_the_address_space() {
    let (_h, _p, _slot, s) = raw_user_env("huge lengths");
    let (l, h) = (&s.lib, s.h);
    let key = s.secret_key(CKK_GENERIC_SECRET, &[7u8; 32]).unwrap();
    let aes = s.secret_key(CKK_AES, &[9u8; 32]).unwrap();
    let mut data = [0x11u8; 64];
    let mut out = [0u8; 64];
    for huge in [1u64 << 57, 1 << 62, (1 << 63) - 1] {
        let mut n: CK_ULONG = 64;
        // SAFETY: every buffer is live for 64 bytes; the lengths lie, which is the point.
        unsafe {
            assert_eq!(l.C_DigestInit(h, &mut mech::<u8>(CKM_SHA256, None)), CKR_OK);
            assert_eq!(l.C_Digest(h, data.as_mut_ptr(), huge, out.as_mut_ptr(), &mut n), CKR_ARGUMENTS_BAD);
            assert_eq!(l.C_SignInit(h, &mut mech::<u8>(CKM_SHA256_HMAC, None), key), CKR_OK);
            assert_eq!(l.C_SignUpdate(h, data.as_mut_ptr(), huge), CKR_ARGUMENTS_BAD);
            assert_eq!(l.C_MessageSignInit(h, &mut mech::<u8>(CKM_SHA256_HMAC, None), key), CKR_OK);
            let rv = l.C_SignMessage(h, null_mut(), 0, data.as_mut_ptr(), huge, out.as_mut_ptr(), &mut n);
            assert_eq!(rv, CKR_ARGUMENTS_BAD);
            assert_eq!(l.C_MessageSignFinal(h), CKR_OK);
            // The AAD of a message, and an output length.
            assert_eq!(l.C_MessageDecryptInit(h, &mut mech::<u8>(CKM_AES_GCM, None), aes), CKR_OK);
            let mut iv = [1u8; 12];
            let mut tag = [0u8; 16];
            let mut p = gcm_message(&mut iv, &mut tag);
            let size = size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG;
            let rv = l.C_DecryptMessageBegin(h, (&raw mut p).cast(), size, data.as_mut_ptr(), huge);
            assert_eq!(rv, CKR_ARGUMENTS_BAD);
            assert_eq!(l.C_MessageDecryptFinal(h), CKR_OK);
            assert_eq!(l.C_EncryptInit(h, &mut mech::<u8>(CKM_AES_ECB, None), aes), CKR_OK);
            let mut claimed = huge;
            assert_eq!(l.C_Encrypt(h, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut claimed), CKR_ARGUMENTS_BAD);
            // A template.
            let class = CKO_DATA;
            let mut t =
                [CK_ATTRIBUTE { type_: CKA_CLASS, pValue: (&raw const class).cast_mut().cast(), ulValueLen: 8 }];
            let mut o = 0;
            assert_eq!(l.C_CreateObject(h, t.as_mut_ptr(), huge / 16, &mut o), CKR_ARGUMENTS_BAD);
            assert_eq!(l.C_FindObjectsInit(h, t.as_mut_ptr(), huge / 16), CKR_ARGUMENTS_BAD);
            // The same claimed output lengths with the input just after the output in one
            // buffer, so that the claimed output would cover it (the module then cannot
            // write straight into the output): refused all the same, not written.
            let mut one = [0x22u8; 128];
            let (o, d) = (one.as_mut_ptr(), one.as_mut_ptr().add(64));
            assert_eq!(l.C_EncryptInit(h, &mut mech::<u8>(CKM_AES_ECB, None), aes), CKR_OK);
            let mut claimed = huge;
            assert_eq!(l.C_Encrypt(h, d, 16, o, &mut claimed), CKR_ARGUMENTS_BAD);
            assert_eq!(l.C_SignInit(h, &mut mech::<u8>(CKM_SHA256_HMAC, None), key), CKR_OK);
            let mut claimed = huge;
            assert_eq!(l.C_Sign(h, d, 16, o, &mut claimed), CKR_ARGUMENTS_BAD);
            assert_eq!(l.C_MessageSignInit(h, &mut mech::<u8>(CKM_SHA256_HMAC, None), key), CKR_OK);
            let mut claimed = huge;
            assert_eq!(l.C_SignMessage(h, null_mut(), 0, d, 16, o, &mut claimed), CKR_ARGUMENTS_BAD);
            assert_eq!(l.C_MessageSignFinal(h), CKR_OK);
            assert_eq!(l.C_MessageEncryptInit(h, &mut mech::<u8>(CKM_AES_GCM, None), aes), CKR_OK);
            let (mut iv, mut tag) = ([1u8; 12], [0u8; 16]);
            let mut p = gcm_message(&mut iv, &mut tag);
            let size = size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG;
            let mut claimed = huge;
            let rv = l.C_EncryptMessage(h, (&raw mut p).cast(), size, null_mut(), 0, d, 16, o, &mut claimed);
            assert_eq!(rv, CKR_ARGUMENTS_BAD);
            assert_eq!(l.C_MessageEncryptFinal(h), CKR_OK);
            assert!(one.iter().all(|&b| b == 0x22), "nothing written");
        }
    }
    // Nothing was left behind: the same calls with true lengths work.
    let mut sha = mech::<u8>(CKM_SHA256, None);
    assert_eq!(
        s.digest(&mut sha, b"abc").unwrap(),
        unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(s.sign(&mut mech::<u8>(CKM_SHA256_HMAC, None), key, &data).unwrap().len(), 32);
}

/// A multi-part AEAD operation holds its input until the final call (to release no
/// unauthenticated plaintext), up to 1 GiB: a part that would take it past that is refused
/// (CKR_ENCRYPTED_DATA_LEN_RANGE decrypting, CKR_DATA_LEN_RANGE encrypting) before it is
/// copied, and the operation ends, as §5.9 says of every error but CKR_BUFFER_TOO_SMALL.
/// The oversized part is a zeroed allocation that nothing reads, so the test costs no memory.
#[test]
fn multi_part_aead_holds_at_most_a_gib() {
    let (_h, _p, _slot, s) = raw_user_env("aead cap");
    let (l, h) = (&s.lib, s.h);
    let aes = s.secret_key(CKK_AES, &[9u8; 32]).unwrap();
    let chacha = s.secret_key(CKK_CHACHA20, &[5u8; 32]).unwrap();
    let mut big = vec![0u8; (1 << 30) + 1];
    let mut small = [0u8; 16];
    let mut iv = [3u8; 12];
    let mut gp = gcm_params(&mut iv, None, 128);
    let mut nonce = [4u8; 12];
    let mut cp = CK_SALSA20_CHACHA20_POLY1305_PARAMS {
        pNonce: nonce.as_mut_ptr(),
        ulNonceLen: 12,
        pAAD: null_mut(),
        ulAADLen: 0,
    };
    let mut out = [0u8; 64];
    // SAFETY: `big` holds 1 GiB + 1 bytes and `small` 16; the parameters are live.
    unsafe {
        // GCM decryption: a small part is held, the big one is refused, the operation ends.
        assert_eq!(l.C_DecryptInit(h, &mut mech(CKM_AES_GCM, Some(&mut gp)), aes), CKR_OK);
        let mut n = 64;
        assert_eq!(l.C_DecryptUpdate(h, small.as_mut_ptr(), 16, out.as_mut_ptr(), &mut n), CKR_OK);
        let mut n = 64;
        let rv = l.C_DecryptUpdate(h, big.as_mut_ptr(), big.len() as CK_ULONG, out.as_mut_ptr(), &mut n);
        assert_eq!(rv, CKR_ENCRYPTED_DATA_LEN_RANGE);
        let mut n = 64;
        assert_eq!(l.C_DecryptFinal(h, out.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        // ChaCha20-Poly1305 encryption holds its input too.
        assert_eq!(l.C_EncryptInit(h, &mut mech(CKM_CHACHA20_POLY1305, Some(&mut cp)), chacha), CKR_OK);
        let mut n = 64;
        let rv = l.C_EncryptUpdate(h, big.as_mut_ptr(), big.len() as CK_ULONG, out.as_mut_ptr(), &mut n);
        assert_eq!(rv, CKR_DATA_LEN_RANGE);
        let mut n = 64;
        assert_eq!(l.C_EncryptFinal(h, out.as_mut_ptr(), &mut n), CKR_OPERATION_NOT_INITIALIZED);
        // A message in parts (C_DecryptMessageNext) likewise.
        assert_eq!(l.C_MessageDecryptInit(h, &mut mech::<u8>(CKM_AES_GCM, None), aes), CKR_OK);
        let mut tag = [0u8; 16];
        let mut mp = gcm_message(&mut iv, &mut tag);
        let (pp, pl) = ((&raw mut mp).cast(), size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG);
        assert_eq!(l.C_DecryptMessageBegin(h, pp, pl, null_mut(), 0), CKR_OK);
        let mut n = 64;
        let rv =
            l.C_DecryptMessageNext(h, pp, pl, big.as_mut_ptr(), big.len() as CK_ULONG, out.as_mut_ptr(), &mut n, 0);
        assert_eq!(rv, CKR_ENCRYPTED_DATA_LEN_RANGE);
        assert_eq!(l.C_MessageDecryptFinal(h), CKR_OK);
    }
}

/// A CK_GCM_MESSAGE_PARAMS with the 12-byte IV given and a 16-byte tag.
fn gcm_message(iv: &mut [u8; 12], tag: &mut [u8; 16]) -> CK_GCM_MESSAGE_PARAMS {
    CK_GCM_MESSAGE_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvFixedBits: 0,
        ivGenerator: CKG_NO_GENERATE,
        pTag: tag.as_mut_ptr(),
        ulTagBits: 128,
    }
}

/// Lengths inside the address space but far past anything the token takes (0xFFFFFFFF bytes
/// behind a 3-byte value, 2^32 attributes behind a one-attribute template, a 4 GiB PIN) are
/// refused before the buffer they claim is read: an attribute value is
/// CKR_ATTRIBUTE_VALUE_INVALID (so is a nested template of a million attributes), a count or
/// a PIN CKR_ARGUMENTS_BAD. Reading them would fault.
#[test]
fn lengths_past_what_the_token_takes() {
    let (_h, _p, _slot, s) = raw_user_env("wild lengths");
    let (l, h) = (&s.lib, s.h);
    let class = CKO_PUBLIC_KEY;
    let kt = CKK_RSA;
    let mut value = *b"\x01\x00\x01";
    let attr = |ty, p: *const u8, n| CK_ATTRIBUTE { type_: ty, pValue: p.cast_mut().cast(), ulValueLen: n };
    let ulong = |ty, v: &CK_ULONG| attr(ty, (v as *const CK_ULONG).cast(), 8);
    let mut o = 0;
    for ty in [CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_LABEL] {
        let mut t = [ulong(CKA_CLASS, &class), ulong(CKA_KEY_TYPE, &kt), attr(ty, value.as_mut_ptr(), 0xFFFF_FFFF)];
        // SAFETY: the template is live; one length lies, which is the point.
        let rv = unsafe { l.C_CreateObject(h, t.as_mut_ptr(), 3, &mut o) };
        assert_eq!(rv, CKR_ATTRIBUTE_VALUE_INVALID, "{ty:#x}");
    }
    let mut one = [ulong(CKA_CLASS, &class)];
    let mut inner = [ulong(CKA_CLASS, &CKO_SECRET_KEY)];
    let nested = size_of::<CK_ATTRIBUTE>() as CK_ULONG * (1 << 20);
    let aes_value = [7u8; 16];
    let mut wrap_template = [
        ulong(CKA_CLASS, &CKO_SECRET_KEY),
        ulong(CKA_KEY_TYPE, &CKK_AES),
        attr(CKA_VALUE, aes_value.as_ptr(), 16),
        attr(CKA_WRAP_TEMPLATE, inner.as_mut_ptr().cast(), nested),
    ];
    let mut types = [CK_ATTRIBUTE { type_: CKA_CLASS, pValue: null_mut(), ulValueLen: 0 }];
    let mut pin = *b"1234";
    // SAFETY: as above.
    unsafe {
        assert_eq!(l.C_CreateObject(h, one.as_mut_ptr(), 1 << 32, &mut o), CKR_ARGUMENTS_BAD);
        assert_eq!(l.C_FindObjectsInit(h, one.as_mut_ptr(), 1 << 32), CKR_ARGUMENTS_BAD);
        assert_eq!(l.C_CreateObject(h, wrap_template.as_mut_ptr(), 4, &mut o), CKR_ATTRIBUTE_VALUE_INVALID);
        let key = s.secret_key(CKK_AES, &[7u8; 16]).unwrap();
        assert_eq!(l.C_GetAttributeValue(h, key, types.as_mut_ptr(), 1 << 32), CKR_ARGUMENTS_BAD);
        assert_eq!(l.C_GetAttributeValue(h, key, types.as_mut_ptr(), 1), CKR_OK);
        assert_eq!(types[0].ulValueLen, 8);
        assert_eq!(l.C_Login(h, CKU_USER, pin.as_mut_ptr(), 0xFFFF_FFFF), CKR_ARGUMENTS_BAD);
    }
    // The real lengths are taken.
    let mut t = [ulong(CKA_CLASS, &CKO_DATA), attr(CKA_VALUE, value.as_mut_ptr(), 3)];
    // SAFETY: a live template of true lengths.
    assert_eq!(unsafe { l.C_CreateObject(h, t.as_mut_ptr(), 2, &mut o) }, CKR_OK);
    assert_eq!(s.get_bytes(o, CKA_VALUE).unwrap(), value);
}
