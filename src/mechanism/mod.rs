//! The mechanism registry (DESIGN §1): every mechanism oxihsm implements is one entry, added
//! by its family's file. C_GetMechanismList, C_GetMechanismInfo and every CKF_* and key-type
//! check read this table; nothing else in the code switches on mechanism numbers.

pub mod aes;
pub mod chacha;
pub mod des;
pub mod digest;
pub mod dual;
pub mod ecc;
pub mod ike;
pub mod kbkdf;
pub mod kdf;
pub mod keygen;
pub mod keypair;
pub mod keys;
pub mod mac;
pub mod message;
pub mod message_sign;
pub mod names;
pub mod ops;
pub mod pqc;
pub mod pubkey;
pub mod rsa;
pub mod state;
pub mod tls;
pub mod wrap;

use crate::crypto::evp::Hash;
use cryptoki_sys::*;
use std::sync::LazyLock;

/// The shape of a mechanism's parameter, decoded at the ABI boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamShape {
    /// No parameter (ulParameterLen 0).
    None,
    /// A 16-byte IV (AES-CBC).
    Iv16,
    /// An 8-byte IV (DES3-CBC).
    Iv8,
    /// CK_AES_CTR_PARAMS.
    AesCtr,
    /// CK_GCM_PARAMS (3.x layout, or the 2.40 layout without ulIvBits).
    Gcm,
    /// CKM_AES_GMAC's: CK_GCM_PARAMS (3.x), or a bare 12-byte IV (2.40, a 16-byte tag).
    Gmac,
    /// CK_CCM_PARAMS.
    Ccm,
    /// CK_SALSA20_CHACHA20_POLY1305_PARAMS.
    ChaChaPoly,
    /// CK_CHACHA20_PARAMS.
    ChaCha20,
    /// CK_PKCS5_PBKD2_PARAMS2, or the 2.40 CK_PKCS5_PBKD2_PARAMS (the password length by
    /// pointer).
    Pbkdf2,
    /// CK_PBE_PARAMS (the PKCS #12 PBE mechanisms; the IV buffer is the FFI's to fill).
    Pbe,
    /// CK_MAC_GENERAL_PARAMS: the output length.
    MacGeneral,
    /// No parameter, or an 8-byte initial value (RFC 3394).
    OptIv8,
    /// No parameter, or a 4-byte initial value (RFC 5649).
    OptIv4,
    /// CK_KEY_DERIVATION_STRING_DATA.
    DerivationData,
    /// CK_AES_CBC_ENCRYPT_DATA_PARAMS.
    AesCbcData,
    /// CK_DES_CBC_ENCRYPT_DATA_PARAMS.
    Des3CbcData,
    /// A CK_OBJECT_HANDLE.
    Handle,
    /// A CK_ULONG (CK_EXTRACT_PARAMS).
    Ulong,
    /// CK_HKDF_PARAMS.
    Hkdf,
    /// CK_SP800_108_KDF_PARAMS.
    Sp800,
    /// CK_SP800_108_FEEDBACK_KDF_PARAMS.
    Sp800Feedback,
    /// CK_RSA_PKCS_PSS_PARAMS.
    RsaPss,
    /// CK_RSA_PKCS_OAEP_PARAMS.
    RsaOaep,
    /// No parameter, or CK_EDDSA_PARAMS.
    EdDsa,
    /// CK_ECDH1_DERIVE_PARAMS.
    Ecdh,
    /// The parameter is itself a byte string (CKM_DH_PKCS_DERIVE: the other party's
    /// public value).
    Bytes,
    /// CK_RSA_AES_KEY_WRAP_PARAMS.
    RsaAesWrap,
    /// CK_ECDH_AES_KEY_WRAP_PARAMS.
    EcdhAesWrap,
    /// CK_X9_42_DH1_DERIVE_PARAMS.
    X942Dh1,
    /// CK_X9_42_DH2_DERIVE_PARAMS.
    X942Dh2,
    /// No parameter, or CK_SIGN_ADDITIONAL_CONTEXT (ML-DSA).
    SignContext,
    /// CK_HASH_SIGN_ADDITIONAL_CONTEXT (CKM_HASH_ML_DSA).
    HashSignContext,
    /// CK_TLS12_MASTER_KEY_DERIVE_PARAMS.
    TlsMaster,
    /// CK_TLS12_EXTENDED_MASTER_KEY_DERIVE_PARAMS.
    TlsExtendedMaster,
    /// CK_TLS12_KEY_MAT_PARAMS.
    TlsKeyMaterial,
    /// CK_TLS_KDF_PARAMS.
    TlsKdf,
    /// CK_TLS_MAC_PARAMS.
    TlsMac,
    /// A CK_VERSION (CKM_TLS_PRE_MASTER_KEY_GEN).
    Version,
    /// CK_IKE_PRF_DERIVE_PARAMS.
    IkePrf,
    /// CK_IKE1_PRF_DERIVE_PARAMS.
    Ike1Prf,
    /// CK_IKE2_PRF_PLUS_DERIVE_PARAMS.
    Ike2PrfPlus,
    /// CK_IKE1_EXTENDED_DERIVE_PARAMS.
    Ike1Extended,
}

/// A decoded mechanism parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Params {
    None,
    Iv(Vec<u8>),
    Ctr {
        counter_bits: u32,
        block: [u8; 16],
    },
    Gcm {
        iv: Vec<u8>,
        aad: Vec<u8>,
        tag_bits: usize,
    },
    Ccm {
        data_len: usize,
        nonce: Vec<u8>,
        aad: Vec<u8>,
        mac_len: usize,
    },
    /// An AEAD's nonce and additional data (ChaCha20-Poly1305).
    Aead {
        nonce: Vec<u8>,
        aad: Vec<u8>,
    },
    /// CK_CHACHA20_PARAMS: the initial block counter and its width in bits (32 or 64), the
    /// nonce (8, 12 or 24 bytes).
    ChaCha20 {
        counter: u64,
        counter_bits: u32,
        nonce: Vec<u8>,
    },
    /// PBKDF2 (CKM_PKCS5_PBKD2): HMAC over `prf`, the salt, the iteration count, the
    /// password.
    Pbkdf2 {
        prf: Hash,
        salt: Vec<u8>,
        iterations: u32,
        password: crate::secret::Hidden,
    },
    /// CK_PBE_PARAMS: the password, the salt, the iteration count.
    Pbe {
        password: crate::secret::Hidden,
        salt: Vec<u8>,
        iterations: u32,
    },
    MacLen(usize),
    Data(Vec<u8>),
    IvData {
        iv: Vec<u8>,
        data: Vec<u8>,
    },
    Handle(CK_OBJECT_HANDLE),
    Ulong(CK_ULONG),
    Hkdf {
        extract: bool,
        expand: bool,
        prf: CK_MECHANISM_TYPE,
        salt: kdf::Salt,
        info: Vec<u8>,
    },
    Kbkdf(kbkdf::KbkdfParams),
    Pss {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_ULONG,
        salt: usize,
    },
    Oaep {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_ULONG,
        label: Vec<u8>,
    },
    EdDsa {
        prehash: bool,
        context: Vec<u8>,
    },
    Ecdh {
        kdf: CK_ULONG,
        shared: Vec<u8>,
        public: Vec<u8>,
    },
    /// CK_X9_42_DH1_DERIVE_PARAMS and CK_X9_42_DH2_DERIVE_PARAMS: the KDF, the other info,
    /// the other party's public value; for the hybrid scheme, the second private key and the
    /// other party's second public value.
    X942 {
        kdf: CK_ULONG,
        other_info: Vec<u8>,
        public: Vec<u8>,
        second: Option<(CK_OBJECT_HANDLE, Vec<u8>)>,
    },
    /// CK_ECDH_AES_KEY_WRAP_PARAMS: the temporary AES key's bits, the KDF (a CKD_*), its
    /// shared data.
    EcdhAesWrap {
        aes_bits: usize,
        kdf: CK_ULONG,
        shared: Vec<u8>,
    },
    RsaAesWrap {
        aes_bits: usize,
        hash: CK_MECHANISM_TYPE,
        mgf: CK_ULONG,
        label: Vec<u8>,
    },
    /// CK_SIGN_ADDITIONAL_CONTEXT: a CKH_* hedging choice and the context string.
    SignContext {
        hedge: CK_ULONG,
        context: Vec<u8>,
    },
    /// CK_HASH_SIGN_ADDITIONAL_CONTEXT: as SignContext, and the hash's digest mechanism.
    HashSignContext {
        hedge: CK_ULONG,
        context: Vec<u8>,
        hash: CK_MECHANISM_TYPE,
    },
    /// A TLS master secret derivation: the PRF's hash mechanism, its seed (the client's and
    /// the server's randoms, or the session hash), and whether the caller gave a CK_VERSION
    /// to receive the pre-master secret's version.
    TlsMaster {
        prf: CK_MECHANISM_TYPE,
        seed: Vec<u8>,
        version: bool,
    },
    /// CK_TLS12_KEY_MAT_PARAMS (the output structure is written by the caller).
    TlsKeyMaterial {
        prf: CK_MECHANISM_TYPE,
        mac_bits: usize,
        key_bits: usize,
        iv_bits: usize,
        client_random: Vec<u8>,
        server_random: Vec<u8>,
    },
    /// CK_TLS_KDF_PARAMS: the PRF, the label, and the seed (the randoms, then the context
    /// with its length when there is one).
    TlsKdf {
        prf: CK_MECHANISM_TYPE,
        label: Vec<u8>,
        seed: Vec<u8>,
    },
    /// CK_TLS_MAC_PARAMS: the PRF, the verify_data's length, and whether it is the
    /// server's.
    TlsMac {
        prf: CK_MECHANISM_TYPE,
        len: usize,
        server: bool,
    },
    /// A CK_VERSION: major, minor.
    Version(u8, u8),
    /// CK_IKE_PRF_DERIVE_PARAMS: the PRF's MAC mechanism, whether Ni || Nr is the PRF's key,
    /// whether hNewKey's value precedes them (a rekey), Ni || Nr, and hNewKey.
    IkePrf {
        prf: CK_MECHANISM_TYPE,
        data_as_key: bool,
        rekey: bool,
        nonces: Vec<u8>,
        new_key: CK_OBJECT_HANDLE,
    },
    /// CK_IKE1_PRF_DERIVE_PARAMS: the PRF, g^xy's key, the previous key if any, CKY-I ||
    /// CKY-R, and the key number.
    Ike1Prf {
        prf: CK_MECHANISM_TYPE,
        gxy: CK_OBJECT_HANDLE,
        previous: Option<CK_OBJECT_HANDLE>,
        cookies: Vec<u8>,
        key_number: u8,
    },
    /// CK_IKE2_PRF_PLUS_DERIVE_PARAMS: the PRF, the seed's key if any, the seed's data.
    Ike2PrfPlus {
        prf: CK_MECHANISM_TYPE,
        seed_key: Option<CK_OBJECT_HANDLE>,
        seed: Vec<u8>,
    },
    /// CK_IKE1_EXTENDED_DERIVE_PARAMS: the PRF, g^xy's key if any, the extra data.
    Ike1Extended {
        prf: CK_MECHANISM_TYPE,
        gxy: Option<CK_OBJECT_HANDLE>,
        extra: Vec<u8>,
    },
}

/// A mechanism as the caller gave it, decoded.
#[derive(Clone, Debug)]
pub struct Mechanism {
    pub ty: CK_MECHANISM_TYPE,
    pub params: Params,
}

/// What a registry entry implements.
#[derive(Clone, Copy, Debug)]
pub enum Implementation {
    Digest(Hash),
    KeyGen(keygen::KeyGen),
    Aes(aes::AesMode),
    Des3(des::Des3Mode),
    ChaChaPoly,
    /// The ChaCha20 stream cipher (CKM_CHACHA20).
    ChaCha20,
    Mac(mac::MacKind),
    Wrap(wrap::WrapMode),
    Kdf(kdf::Kdf),
    Kbkdf(kbkdf::KbkdfMode),
    Rsa(rsa::RsaScheme),
    Ecdsa(Option<Hash>),
    EdDsa,
    KeyPair(keypair::PairKind),
    RsaAesWrap,
    /// CKM_ECDH_AES_KEY_WRAP and its cofactor and Montgomery variants (src/mechanism/wrap.rs).
    EcdhAesWrap,
    MlDsa(pqc::MlDsaVariant),
    MlKem,
    /// The TLS 1.2 key derivations.
    Tls(tls::TlsKdf),
    /// CKM_PUB_KEY_FROM_PRIV_KEY.
    PublicFromPrivate,
}

/// One registry entry.
#[derive(Clone, Copy)]
pub struct Entry {
    pub ty: CK_MECHANISM_TYPE,
    pub info: CK_MECHANISM_INFO,
    pub params: ParamShape,
    /// Key types the mechanism accepts (empty for keyless mechanisms).
    pub key_types: &'static [CK_KEY_TYPE],
    pub implementation: Implementation,
}

/// Collects the entries of every family.
pub struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    pub fn add(&mut self, mut e: Entry) {
        debug_assert!(self.entries.iter().all(|x| x.ty != e.ty), "mechanism 0x{:x} registered twice", e.ty);
        // Every signature and MAC is offered message-based too (message_sign.rs), but GMAC
        // and Poly1305: GMAC's IV belongs to one message, and the message calls keep the
        // parameters of the init for every message, so each would reuse it (which gives
        // GMAC's key away); a Poly1305 key is for one message, the same way.
        let one_message = e.params == ParamShape::Gmac || e.ty == CKM_POLY1305;
        if e.info.flags & CKF_SIGN != 0 && !one_message {
            e.info.flags |= CKF_MESSAGE_SIGN;
        }
        if e.info.flags & CKF_VERIFY != 0 && !one_message {
            e.info.flags |= CKF_MESSAGE_VERIFY;
        }
        self.entries.push(e);
    }
}

/// Mechanism types below this are found by direct indexing, one load on every C_*Init
/// instead of a hash lookup: the standard ones up to the key derivations by encryption
/// (0x1105). The parameter generators (0x2000), the 3.0 ones numbered from 0x4000 and vendor
/// ones go through the hash map.
const DENSE: usize = 0x1200;
/// No entry, in the direct index.
const NONE: u16 = u16::MAX;

/// The entries, sorted by type; the index of each by type (a hash map); the direct index of
/// the types below [`DENSE`].
type Tables = (Vec<Entry>, rustc_hash::FxHashMap<CK_MECHANISM_TYPE, usize>, Box<[u16]>);

static REGISTRY: LazyLock<Tables> = LazyLock::new(|| {
    let mut r = Registry { entries: Vec::new() };
    digest::register(&mut r);
    keygen::register(&mut r);
    aes::register(&mut r);
    des::register(&mut r);
    chacha::register(&mut r);
    mac::register(&mut r);
    wrap::register(&mut r);
    kdf::register(&mut r);
    kbkdf::register(&mut r);
    tls::register(&mut r);
    rsa::register(&mut r);
    ecc::register(&mut r);
    pubkey::register(&mut r);
    if crate::crypto::pqc::OFFERED {
        pqc::register(&mut r);
    }
    r.entries.sort_by_key(|e| e.ty);
    let index = r.entries.iter().enumerate().map(|(i, e)| (e.ty, i)).collect();
    let mut dense = vec![NONE; DENSE].into_boxed_slice();
    for (i, e) in r.entries.iter().enumerate() {
        if let Some(slot) = dense.get_mut(e.ty as usize) {
            *slot = u16::try_from(i).expect("fewer than 65535 mechanisms");
        }
    }
    (r.entries, index, dense)
});

/// Every registered mechanism, sorted by type.
pub fn registry() -> &'static [Entry] {
    &REGISTRY.0
}

/// Mechanisms the configuration turned off (softhsm2.conf `slots.mechanisms`), for the
/// module instance of this process.
static DISABLED: arc_swap::ArcSwapOption<Vec<CK_MECHANISM_TYPE>> = arc_swap::ArcSwapOption::const_empty();

/// Whether [`DISABLED`] has anything in it (the common answer, no, without touching it).
static ANY_DISABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets the mechanisms the module does not offer.
pub fn set_disabled(list: &[u64]) {
    let list: Vec<CK_MECHANISM_TYPE> = list.iter().map(|&t| t as CK_MECHANISM_TYPE).collect();
    ANY_DISABLED.store(!list.is_empty(), std::sync::atomic::Ordering::Release);
    DISABLED.store((!list.is_empty()).then(|| std::sync::Arc::new(list)));
}

/// Every mechanism offered (C_GetMechanismList), in type order: made once, unless the
/// configuration turned some off.
pub fn offered() -> std::borrow::Cow<'static, [CK_MECHANISM_TYPE]> {
    static ALL: LazyLock<Vec<CK_MECHANISM_TYPE>> = LazyLock::new(|| registry().iter().map(|m| m.ty).collect());
    if ANY_DISABLED.load(std::sync::atomic::Ordering::Acquire) {
        std::borrow::Cow::Owned(ALL.iter().copied().filter(|&t| !disabled(t)).collect())
    } else {
        std::borrow::Cow::Borrowed(&ALL)
    }
}

/// Whether the configuration turned `ty` off. Inlined: with nothing disabled (the usual
/// case) it is one load.
#[inline]
pub fn disabled(ty: CK_MECHANISM_TYPE) -> bool {
    ANY_DISABLED.load(std::sync::atomic::Ordering::Acquire) && listed_disabled(ty)
}

#[cold]
fn listed_disabled(ty: CK_MECHANISM_TYPE) -> bool {
    DISABLED.load().as_ref().is_some_and(|d| d.contains(&ty))
}

/// The entry for `ty`, unless the configuration disabled it.
pub fn lookup(ty: CK_MECHANISM_TYPE) -> Option<&'static Entry> {
    let (entries, index, dense) = &*REGISTRY;
    let i = match usize::try_from(ty).ok().and_then(|t| dense.get(t)) {
        Some(&NONE) => return None,
        Some(&i) => usize::from(i),
        None => *index.get(&ty)?,
    };
    let e = &entries[i];
    if disabled(ty) {
        return None;
    }
    Some(e)
}

/// CK_MECHANISM_INFO in one expression.
pub const fn info(min: CK_ULONG, max: CK_ULONG, flags: CK_FLAGS) -> CK_MECHANISM_INFO {
    CK_MECHANISM_INFO { ulMinKeySize: min, ulMaxKeySize: max, flags }
}

#[cfg(test)]
mod tests {
    use super::{DENSE, lookup, registry};
    use cryptoki_sys::*;

    #[test]
    fn every_mechanism_is_found_by_its_type_and_no_other() {
        let all = registry();
        assert!(all.iter().any(|e| e.ty as usize >= DENSE), "some types are past the direct index");
        for e in all {
            assert_eq!(lookup(e.ty).map(|f| f.ty), Some(e.ty));
        }
        // Unregistered types, below and past the direct index, and past 32 bits.
        for ty in
            [0x1099, 0x11ff, DENSE as CK_MECHANISM_TYPE, 0x3fff, CKM_VENDOR_DEFINED | 7, u64::MAX as CK_MECHANISM_TYPE]
        {
            assert!(all.iter().all(|e| e.ty != ty));
            assert!(lookup(ty).is_none(), "{ty:#x}");
        }
    }
}
