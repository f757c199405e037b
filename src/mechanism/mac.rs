//! MACs for C_Sign/C_Verify (PKCS#11 3.2 §6.x HMAC, §6.16 AES-CMAC): HMAC over SHA-1, SHA-2,
//! SHA-3 and MD5, AES-CMAC and Triple DES CMAC, and the CBC-MACs of FIPS PUB 113 over AES,
//! DES and Triple DES, each with its _GENERAL variant (output length from the parameter);
//! AES-GMAC, AES-XCBC-MAC(-96) and Poly1305 (CKM_POLY1305 on CKK_POLY1305 keys).

use super::ops::Mac;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::chacha;
use crate::crypto::evp::{CipherCtx, CmacCtx, Hash, HmacCtx, Mode};
use crate::crypto::sha::ShaHmac;
use crate::error::{Error, Result};
use crate::secret::Bytes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// What a MAC entry computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacKind {
    Hmac {
        hash: Hash,
        general: bool,
    },
    /// CMAC over AES, or over Triple DES.
    Cmac {
        general: bool,
        des3: bool,
    },
    /// AES-GMAC (SP 800-38D): the GCM tag of no plaintext, the data being the AAD.
    Gmac,
    /// AES-XCBC-MAC (RFC 3566), 16 bytes, or AES-XCBC-MAC-96, its first 12.
    Xcbc {
        len: usize,
    },
    /// CBC-MAC (FIPS PUB 113) over AES (`block` 16) or DES / Triple DES (`block` 8): the
    /// last block of a zero-IV CBC encryption of the data zero-padded to whole blocks (one
    /// block for empty data); the plain mechanism gives half a block.
    CbcMac {
        general: bool,
        block: usize,
    },
    /// CKM_TLS_MAC and CKM_TLS12_MAC (src/mechanism/tls.rs).
    Tls,
    /// Poly1305 (RFC 8439 §2.5) on a CKK_POLY1305 key: a 16-byte tag.
    Poly1305,
}

/// Key types usable with HMAC: generic secrets and every HMAC key type.
pub const HMAC_KEY_TYPES: &[CK_KEY_TYPE] = &[
    CKK_GENERIC_SECRET,
    CKK_MD5_HMAC,
    CKK_SHA_1_HMAC,
    CKK_SHA224_HMAC,
    CKK_SHA256_HMAC,
    CKK_SHA384_HMAC,
    CKK_SHA512_HMAC,
    CKK_SHA512_224_HMAC,
    CKK_SHA512_256_HMAC,
    CKK_SHA3_224_HMAC,
    CKK_SHA3_256_HMAC,
    CKK_SHA3_384_HMAC,
    CKK_SHA3_512_HMAC,
];

/// (HMAC, HMAC_GENERAL, hash).
pub const HMACS: [(CK_MECHANISM_TYPE, CK_MECHANISM_TYPE, Hash); 11] = [
    (CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, Hash::Sha1),
    (CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL, Hash::Sha224),
    (CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL, Hash::Sha256),
    (CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, Hash::Sha384),
    (CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL, Hash::Sha512),
    (CKM_SHA512_224_HMAC, CKM_SHA512_224_HMAC_GENERAL, Hash::Sha512_224),
    (CKM_SHA512_256_HMAC, CKM_SHA512_256_HMAC_GENERAL, Hash::Sha512_256),
    (CKM_SHA3_224_HMAC, CKM_SHA3_224_HMAC_GENERAL, Hash::Sha3_224),
    (CKM_SHA3_256_HMAC, CKM_SHA3_256_HMAC_GENERAL, Hash::Sha3_256),
    (CKM_SHA3_384_HMAC, CKM_SHA3_384_HMAC_GENERAL, Hash::Sha3_384),
    (CKM_SHA3_512_HMAC, CKM_SHA3_512_HMAC_GENERAL, Hash::Sha3_512),
];

pub fn register(r: &mut Registry) {
    let flags = CKF_SIGN | CKF_VERIFY;
    // MD5 HMAC as SoftHSMv2 offers it (outside HMACS: no KDF takes it as its PRF).
    for (plain, general, hash) in HMACS.into_iter().chain([(CKM_MD5_HMAC, CKM_MD5_HMAC_GENERAL, Hash::Md5)]) {
        for (ty, g) in [(plain, false), (general, true)] {
            r.add(Entry {
                ty,
                info: info(1, 512, flags),
                params: if g { ParamShape::MacGeneral } else { ParamShape::None },
                key_types: HMAC_KEY_TYPES,
                implementation: Implementation::Mac(MacKind::Hmac { hash, general: g }),
            });
        }
    }
    for (ty, g, des3) in [
        (CKM_AES_CMAC, false, false),
        (CKM_AES_CMAC_GENERAL, true, false),
        (CKM_DES3_CMAC, false, true),
        (CKM_DES3_CMAC_GENERAL, true, true),
    ] {
        r.add(Entry {
            ty,
            info: if des3 { info(16, 24, flags) } else { info(16, 32, flags) },
            params: if g { ParamShape::MacGeneral } else { ParamShape::None },
            key_types: if des3 { super::des::KEY_TYPES } else { &[CKK_AES] },
            implementation: Implementation::Mac(MacKind::Cmac { general: g, des3 }),
        });
    }
    // RFC 3566 is defined for 128-bit keys only.
    for (ty, len) in [(CKM_AES_XCBC_MAC, 16), (CKM_AES_XCBC_MAC_96, 12)] {
        r.add(Entry {
            ty,
            info: info(16, 16, flags),
            params: ParamShape::None,
            key_types: &[CKK_AES],
            implementation: Implementation::Mac(MacKind::Xcbc { len }),
        });
    }
    // The Poly1305 section gives no unit for its key sizes; its keys are 32 bytes.
    r.add(Entry {
        ty: CKM_POLY1305,
        info: info(32, 32, flags),
        params: ParamShape::None,
        key_types: &[CKK_POLY1305],
        implementation: Implementation::Mac(MacKind::Poly1305),
    });
    r.add(Entry {
        ty: CKM_AES_GMAC,
        info: info(16, 32, flags),
        params: ParamShape::Gmac,
        key_types: &[CKK_AES],
        implementation: Implementation::Mac(MacKind::Gmac),
    });
    let des3 = super::des::KEY_TYPES;
    let des = super::des::DES_KEY_TYPES;
    for (ty, g, block, key_types, (min, max)) in [
        (CKM_AES_MAC, false, 16, &[CKK_AES][..], (16, 32)),
        (CKM_AES_MAC_GENERAL, true, 16, &[CKK_AES][..], (16, 32)),
        (CKM_DES3_MAC, false, 8, des3, (16, 24)),
        (CKM_DES3_MAC_GENERAL, true, 8, des3, (16, 24)),
        (CKM_DES_MAC, false, 8, des, (8, 8)),
        (CKM_DES_MAC_GENERAL, true, 8, des, (8, 8)),
    ] {
        r.add(Entry {
            ty,
            info: info(min, max, flags),
            params: if g { ParamShape::MacGeneral } else { ParamShape::None },
            key_types,
            implementation: Implementation::Mac(MacKind::CbcMac { general: g, block }),
        });
    }
}

/// The key of an HMAC, by CKA_UNIQUE_ID (to recognise it when a saved state is restored).
/// No count is held on the key object: a count every thread using the key would update.
/// Unique ids as the token makes them (32 characters) are held in place. It is kept in the
/// boxed HMAC (the only MAC whose state can be saved), written once where it stays: moved
/// through the C_SignInit path as part of the operation it cost store-forwarding stalls
/// (odd-sized, at odd offsets).
#[derive(Clone)]
enum KeyRef {
    Short([u8; 32], u8),
    Long(Vec<u8>),
}

impl KeyRef {
    /// The key whose CKA_UNIQUE_ID is `uid` (its bytes, as the object holds them: no UTF-8
    /// check on the hot path).
    fn new(uid: &[u8]) -> KeyRef {
        // The usual length copied as one array (wide moves the compiler sees through), not
        // by a `memcpy` call whose stores the later moves of the value reload with
        // narrower, misaligned loads.
        if let Ok(b) = <[u8; 32]>::try_from(uid) {
            return KeyRef::Short(b, 32);
        }
        let mut b = [0u8; 32];
        match b.get_mut(..uid.len()) {
            Some(dst) => {
                dst.copy_from_slice(uid);
                KeyRef::Short(b, uid.len() as u8)
            }
            None => KeyRef::Long(uid.to_vec()),
        }
    }

    fn uid(&self) -> &str {
        let b = match self {
            KeyRef::Short(b, n) => &b[..usize::from(*n)],
            KeyRef::Long(u) => u,
        };
        std::str::from_utf8(b).unwrap_or("")
    }
}

/// HMAC on a low-level SHA-1/SHA-2 context (its state can be saved), or through EVP (SHA-3).
// The large variant is the common one (SHA-1/SHA-2): boxing it would cost an allocation
// per operation for nothing.
#[allow(clippy::large_enum_variant)]
enum HmacEngine {
    Low(ShaHmac),
    Evp(HmacCtx),
}

/// The engine, the output length, and the key (for a saved state).
struct Hmac(HmacEngine, usize, KeyRef);
struct Cmac(CmacCtx, usize);

impl Mac for Hmac {
    fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            HmacEngine::Low(h) => h.update(data),
            HmacEngine::Evp(h) => h.update(data),
        }
    }
    fn finish(mut self: Box<Self>) -> Bytes {
        match &mut self.0 {
            HmacEngine::Low(h) => h.finish(),
            HmacEngine::Evp(h) => h.finish().into(),
        }
    }
    fn try_finish_into(mut self: Box<Self>, out: &mut [u8]) -> Result<usize> {
        match &mut self.0 {
            HmacEngine::Low(h) => Ok(h.finish_into(out)),
            HmacEngine::Evp(h) => Ok(super::ops::copy_prefix(&h.finish(), out)),
        }
    }
    fn output_len(&self) -> usize {
        self.1
    }
    fn state(&self) -> Option<(Zeroizing<Vec<u8>>, &str)> {
        match &self.0 {
            HmacEngine::Low(h) => Some((h.to_bytes(), self.2.uid())),
            HmacEngine::Evp(_) => None,
        }
    }
}

/// Restores an HMAC saved by C_GetOperationState.
pub fn restore_hmac(state: &[u8], len: usize, key_uid: &str) -> Result<Box<dyn Mac>> {
    Ok(Box::new(Hmac(HmacEngine::Low(ShaHmac::from_bytes(state)?), len, KeyRef::new(key_uid.as_bytes()))))
}

impl Mac for Cmac {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data)
    }
    fn finish(self: Box<Self>) -> Bytes {
        self.0.finish().into()
    }
    fn output_len(&self) -> usize {
        self.1
    }
}

/// AES-GMAC in progress: a GCM encryption of no plaintext, each part of the data going in
/// as additional data as it comes.
struct Gmac {
    gcm: crate::crypto::gcm::GcmEncryptor,
    len: usize,
    failed: bool,
}

impl Mac for Gmac {
    fn update(&mut self, data: &[u8]) {
        if self.gcm.aad(data).is_err() {
            self.failed = true;
        }
    }
    fn finish(self: Box<Self>) -> Bytes {
        self.try_finish().unwrap_or_default()
    }
    fn try_finish(mut self: Box<Self>) -> Result<Bytes> {
        if self.failed {
            return Err(Error::Device("AES-GMAC".into()));
        }
        Ok(Bytes::new(self.gcm.finish(self.len)?))
    }
    fn output_len(&self) -> usize {
        self.len
    }
}

/// A zero-IV CBC encryption run for its last block: what the CBC-MACs and XCBC-MAC share.
/// Whole blocks go through as they come; the rest waits in `pending` (with `hold`, so does
/// the last whole block: XCBC masks it at the end).
struct CbcChain {
    ctx: CipherCtx,
    block: usize,
    hold: bool,
    pending: Zeroizing<Vec<u8>>,
    last: Zeroizing<Vec<u8>>,
    failed: bool,
}

impl CbcChain {
    fn new(ctx: CipherCtx, block: usize, hold: bool) -> CbcChain {
        let empty = || Zeroizing::new(Vec::new());
        CbcChain { ctx, block, hold, pending: empty(), last: empty(), failed: false }
    }

    fn update(&mut self, data: &[u8]) {
        self.pending.extend_from_slice(data);
        let n = self.pending.len();
        let whole = if self.hold { n.saturating_sub(1) / self.block * self.block } else { n / self.block * self.block };
        if whole > 0 {
            let blocks = Zeroizing::new(self.pending[..whole].to_vec());
            self.feed(&blocks);
            self.pending.drain(..whole);
        }
    }

    /// Whole blocks through the chain; the last cipher block is kept.
    fn feed(&mut self, data: &[u8]) {
        let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
        match self.ctx.update(data, &mut out) {
            Ok(()) if out.len() >= self.block => {
                self.last.clear();
                self.last.extend_from_slice(&out[out.len() - self.block..]);
            }
            Ok(()) => {}
            Err(_) => self.failed = true,
        }
    }

    /// The first `len` bytes of the last cipher block.
    fn mac(&self, len: usize, what: &str) -> Result<Bytes> {
        if self.failed || self.last.len() != self.block {
            return Err(Error::Device(what.into()));
        }
        Ok(Bytes::new(self.last[..len].to_vec()))
    }
}

/// AES-XCBC-MAC in progress (RFC 3566): CBC-MAC under K1 = E_K(1..1), the last block masked
/// with K2 = E_K(2..2) when whole, or padded with 10..0 and masked with K3 = E_K(3..3).
struct Xcbc {
    chain: CbcChain,
    k2: Zeroizing<[u8; 16]>,
    k3: Zeroizing<[u8; 16]>,
    len: usize,
}

impl Xcbc {
    fn new(key: &[u8], len: usize) -> Result<Xcbc> {
        if key.len() != 16 {
            return Err(Error::KeySizeRange);
        }
        let derive = |b: u8| crate::crypto::evp::aes_encrypt_block(key, &[b; 16]).map(Zeroizing::new);
        let k1 = derive(1)?;
        Ok(Xcbc {
            chain: CbcChain::new(CipherCtx::block(Mode::Cbc, &k1[..], &[0; 16], true, false)?, 16, true),
            k2: derive(2)?,
            k3: derive(3)?,
            len,
        })
    }
}

impl Mac for Xcbc {
    fn update(&mut self, data: &[u8]) {
        self.chain.update(data);
    }
    fn finish(self: Box<Self>) -> Bytes {
        self.try_finish().unwrap_or_default()
    }
    fn try_finish(mut self: Box<Self>) -> Result<Bytes> {
        let mut last = std::mem::take(&mut self.chain.pending);
        let mask = if last.len() == 16 {
            &self.k2
        } else {
            last.push(0x80);
            last.resize(16, 0);
            &self.k3
        };
        last.iter_mut().zip(mask.iter()).for_each(|(b, m)| *b ^= m);
        self.chain.feed(&last);
        self.chain.mac(self.len, "AES-XCBC-MAC")
    }
    fn output_len(&self) -> usize {
        self.len
    }
}

/// A CBC-MAC in progress (FIPS PUB 113): a partial last block is zero-padded at the end,
/// and empty data is one block of zeros.
struct CbcMac {
    chain: CbcChain,
    total: usize,
    len: usize,
}

impl Mac for CbcMac {
    fn update(&mut self, data: &[u8]) {
        self.total += data.len();
        self.chain.update(data);
    }
    fn finish(self: Box<Self>) -> Bytes {
        self.try_finish().unwrap_or_default()
    }
    fn try_finish(mut self: Box<Self>) -> Result<Bytes> {
        if !self.chain.pending.is_empty() || self.total == 0 {
            let mut last = std::mem::take(&mut self.chain.pending);
            last.resize(self.chain.block, 0);
            self.chain.feed(&last);
        }
        self.chain.mac(self.len, "CBC-MAC")
    }
    fn output_len(&self) -> usize {
        self.len
    }
}

fn out_len(general: bool, full: usize, p: &Params) -> Result<usize> {
    match (general, p) {
        (false, Params::None) => Ok(full),
        (true, Params::MacLen(n)) if (1..=full).contains(n) => Ok(*n),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// An HMAC key prepared for one hash (its inner and outer pads hashed) with the key's unique
/// id: kept with the key object after its first use, so that C_SignInit copies both and
/// searches none of the object's attributes.
#[derive(Clone)]
pub struct PreparedHmac {
    hmac: ShaHmac,
    uid: KeyRef,
}

impl PreparedHmac {
    /// `None` for hashes without a low-level context (SHA-3).
    pub fn new(hash: Hash, key: &[u8], uid: &[u8]) -> Option<PreparedHmac> {
        Some(PreparedHmac { hmac: ShaHmac::new(hash, key)?, uid: KeyRef::new(uid) })
    }
}

/// The HMAC `kind` (an HMAC kind) from its prepared key.
pub fn prepared_mac(kind: MacKind, m: &Mechanism, p: &PreparedHmac) -> Result<Box<dyn Mac>> {
    let MacKind::Hmac { hash, general } = kind else { return Err(Error::MechanismInvalid) };
    let n = out_len(general, hash.output_len(), &m.params)?;
    // Allocated first and written in place: `Box::new` of the clone copied the two hash
    // contexts (448 bytes) to the stack and then to the heap, on every C_SignInit.
    let hmac: Box<Hmac> = Box::write(Box::new_uninit(), Hmac(HmacEngine::Low(p.hmac.clone()), n, p.uid.clone()));
    Ok(hmac)
}

/// Builds the MAC for `kind` keyed with `key` (whose CKA_UNIQUE_ID is `uid`).
pub fn mac(kind: MacKind, m: &Mechanism, key: &[u8], uid: &[u8]) -> Result<Box<dyn Mac>> {
    Ok(match kind {
        MacKind::Hmac { hash, general } => {
            let n = out_len(general, hash.output_len(), &m.params)?;
            let engine = match ShaHmac::new(hash, key) {
                Some(h) => HmacEngine::Low(h),
                None => HmacEngine::Evp(HmacCtx::new(hash, key)?),
            };
            Box::new(Hmac(engine, n, KeyRef::new(uid)))
        }
        MacKind::Cmac { general, des3: false } => {
            let n = out_len(general, 16, &m.params)?;
            Box::new(Cmac(CmacCtx::new(key)?, n))
        }
        MacKind::Cmac { general, des3: true } => {
            let n = out_len(general, 8, &m.params)?;
            Box::new(Cmac(CmacCtx::des3(key)?, n))
        }
        MacKind::Xcbc { len } => {
            out_len(false, len, &m.params)?;
            Box::new(Xcbc::new(key, len)?)
        }
        MacKind::Gmac => {
            // The parameters' own AAD has no place: the data signed is the AAD.
            let Params::Gcm { iv, aad, tag_bits } = &m.params else {
                return Err(Error::MechanismParamInvalid);
            };
            if iv.is_empty() || iv.len() > 256 || !aad.is_empty() || tag_bits % 8 != 0 || !(32..=128).contains(tag_bits)
            {
                return Err(Error::MechanismParamInvalid);
            }
            if !matches!(key.len(), 16 | 24 | 32) {
                return Err(Error::KeySizeRange);
            }
            let gcm = crate::crypto::gcm::AeadKey::new(key, 16)?.encryptor(iv, &[])?;
            Box::new(Gmac { gcm, len: tag_bits / 8, failed: false })
        }
        MacKind::CbcMac { general, block } => {
            let n = if general { out_len(true, block, &m.params)? } else { out_len(false, block / 2, &m.params)? };
            let ctx = if block == 16 {
                CipherCtx::block(Mode::Cbc, key, &[0; 16], true, false)?
            } else {
                CipherCtx::des3(true, key, &[0; 8], true, false)?
            };
            Box::new(CbcMac { chain: CbcChain::new(ctx, block, false), total: 0, len: n })
        }
        MacKind::Tls => super::tls::mac(m, key)?,
        MacKind::Poly1305 => {
            out_len(false, chacha::TAG_LEN, &m.params)?;
            let key: &[u8; chacha::KEY_LEN] = key.try_into().map_err(|_| Error::KeySizeRange)?;
            Box::new(Poly1305Mac(chacha::Poly1305::new(key)))
        }
    })
}

/// A Poly1305 tag in progress.
struct Poly1305Mac(chacha::Poly1305);

impl Mac for Poly1305Mac {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data)
    }
    fn finish(self: Box<Self>) -> Bytes {
        Bytes::new(self.0.finish().to_vec())
    }
    fn output_len(&self) -> usize {
        chacha::TAG_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::KeyRef;

    #[test]
    fn key_refs_keep_any_unique_id() {
        for uid in ["", "0123456789abcdef0123456789abcdef", "a-longer-unique-id-from-another-token-0123"] {
            assert_eq!(KeyRef::new(uid.as_bytes()).uid(), uid);
        }
        assert!(matches!(KeyRef::new(b"0123456789abcdef0123456789abcdef"), KeyRef::Short(..)));
    }
}
