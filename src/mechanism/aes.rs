//! AES (PKCS#11 3.2 §6.13–6.16): ECB, CBC, CBC_PAD, CTR with any counter width, OFB and CFB
//! (1, 8, 128 bits), CBC with ciphertext stealing (CTS), GCM with any IV length from 1 to
//! 256 bytes and tags of 32 to 128 bits, CCM, and XTS (SP 800-38E), on AWS-LC.
//! AEAD decryption releases nothing before the tag verifies: everything comes at the end.

use super::ops::Cipher;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::ccm;
use crate::crypto::evp::{CipherCtx, Mode};
use crate::crypto::gcm::{AeadKey, GcmEncryptor};
use crate::error::{Error, Result};
use crate::object::Object;
use crate::secret::Bytes;
use crate::spread::PerThread;
use cryptoki_sys::*;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The AES modes a registry entry can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AesMode {
    Ecb,
    Cbc,
    CbcPad,
    Ctr,
    /// OFB, CFB1, CFB8, CFB128: stream modes over a 16-byte IV, any data length.
    Stream(Mode),
    /// CBC with ciphertext stealing, NIST's CBC-CS1.
    Cts,
    /// XTS (IEEE 1619 / SP 800-38E) on CKK_AES_XTS keys.
    Xts,
    Gcm,
    Ccm,
}

pub fn register(r: &mut Registry) {
    let modes = [
        (CKM_AES_ECB, AesMode::Ecb, ParamShape::None),
        (CKM_AES_CBC, AesMode::Cbc, ParamShape::Iv16),
        (CKM_AES_CBC_PAD, AesMode::CbcPad, ParamShape::Iv16),
        (CKM_AES_CTR, AesMode::Ctr, ParamShape::AesCtr),
        (CKM_AES_OFB, AesMode::Stream(Mode::Ofb), ParamShape::Iv16),
        (CKM_AES_CFB1, AesMode::Stream(Mode::Cfb1), ParamShape::Iv16),
        (CKM_AES_CFB8, AesMode::Stream(Mode::Cfb8), ParamShape::Iv16),
        (CKM_AES_CFB128, AesMode::Stream(Mode::Cfb128), ParamShape::Iv16),
        (CKM_AES_CTS, AesMode::Cts, ParamShape::Iv16),
        (CKM_AES_GCM, AesMode::Gcm, ParamShape::Gcm),
        (CKM_AES_CCM, AesMode::Ccm, ParamShape::Ccm),
    ];
    r.add(Entry {
        ty: CKM_AES_XTS,
        info: info(32, 64, CKF_ENCRYPT | CKF_DECRYPT),
        params: ParamShape::Iv16,
        key_types: &[CKK_AES_XTS],
        implementation: Implementation::Aes(AesMode::Xts),
    });
    for (ty, mode, params) in modes {
        let wraps = matches!(mode, AesMode::Ecb | AesMode::Cbc | AesMode::CbcPad | AesMode::Gcm | AesMode::Ccm);
        r.add(Entry {
            ty,
            info: info(
                16,
                32,
                CKF_ENCRYPT
                    | CKF_DECRYPT
                    | if wraps { CKF_WRAP | CKF_UNWRAP } else { 0 }
                    | if matches!(mode, AesMode::Gcm | AesMode::Ccm) {
                        CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT
                    } else {
                        0
                    },
            ),
            params,
            key_types: &[CKK_AES],
            implementation: Implementation::Aes(mode),
        });
    }
}

/// Builds the cipher for `mode` with the caller's parameters and the key object `obj`.
/// AES-GCM takes its IV and AAD out of `m`.
pub fn cipher(mode: AesMode, m: &mut Mechanism, obj: &Object, encrypt: bool) -> Result<Box<dyn Cipher>> {
    if let (AesMode::Gcm, Params::Gcm { iv, aad, tag_bits }) = (mode, &mut m.params) {
        if iv.is_empty() || iv.len() > 256 || *tag_bits % 8 != 0 || !(32..=128).contains(tag_bits) {
            return Err(Error::MechanismParamInvalid);
        }
        let tag_len = *tag_bits / 8;
        // Encryption truncates the full tag; a shorter tag to check needs its own key.
        let key = AeadKeyRef::new(obj, if encrypt { 16 } else { tag_len })?;
        return Ok(evp_aead(key, std::mem::take(iv), std::mem::take(aad), tag_len, encrypt));
    }
    let key = obj.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent)?;
    Ok(match (mode, &m.params) {
        (AesMode::Ecb, Params::None) => Box::new(Block::new(Mode::Ecb, key, &[], encrypt, false)?),
        (AesMode::Cbc, Params::Iv(iv)) => Box::new(Block::new(Mode::Cbc, key, iv, encrypt, false)?),
        (AesMode::CbcPad, Params::Iv(iv)) => Box::new(Block::new(Mode::Cbc, key, iv, encrypt, true)?),
        (AesMode::Stream(mode), Params::Iv(iv)) => Box::new(Block::new(mode, key, iv, encrypt, false)?),
        (AesMode::Cts, Params::Iv(iv)) => Box::new(Cts::new(key, iv, encrypt)?),
        (AesMode::Xts, Params::Iv(tweak)) => Box::new(Xts::new(key, tweak, encrypt)?),
        (AesMode::Ctr, Params::Ctr { counter_bits, block }) => Box::new(Ctr::new(key, *counter_bits, block, encrypt)?),
        (AesMode::Ccm, Params::Ccm { data_len, nonce, aad, mac_len }) => {
            if !(7..=13).contains(&nonce.len()) || !(4..=16).contains(mac_len) || mac_len % 2 != 0 {
                return Err(Error::MechanismParamInvalid);
            }
            if !matches!(key.len(), 16 | 24 | 32) {
                return Err(Error::KeySizeRange);
            }
            Box::new(Aead {
                kind: AeadKind::Ccm { nonce: nonce.clone(), data_len: *data_len, key: Zeroizing::new(key.to_vec()) },
                aad: aad.clone(),
                tag_len: *mac_len,
                encrypt,
                buf: Bytes::default(),
                stream: None,
            })
        }
        _ => return Err(Error::MechanismParamInvalid),
    })
}

/// The engine of an AEAD on AWS-LC's EVP_AEAD (AES-GCM, ChaCha20-Poly1305) under `key`,
/// with `nonce`, `aad` and tags of `tag_len` bytes.
pub(super) fn evp_aead(
    key: AeadKeyRef,
    nonce: Vec<u8>,
    aad: Vec<u8>,
    tag_len: usize,
    encrypt: bool,
) -> Box<dyn Cipher> {
    Box::new(Aead {
        kind: AeadKind::Evp { iv: nonce, key },
        aad,
        tag_len,
        encrypt,
        buf: Bytes::default(),
        stream: None,
    })
}

/// The ECB/CBC engine over a context of another block cipher (Triple DES), `block` bytes
/// wide, with PKCS#7 padding if `pad`.
pub(super) fn block_engine(ctx: CipherCtx, block: usize, encrypt: bool, pad: bool) -> Box<dyn Cipher> {
    Box::new(Block { ctx, block, encrypt, pad, stream: false, total: 0 })
}

pub(super) fn len_error(encrypt: bool) -> Error {
    if encrypt { Error::DataLenRange } else { Error::EncryptedDataLenRange }
}

/// ECB and CBC, with or without PKCS#7 padding; and the stream modes (OFB, CFB), which take
/// data of any length.
struct Block {
    ctx: CipherCtx,
    /// The cipher's block size: 16 for AES, 8 for Triple DES.
    block: usize,
    encrypt: bool,
    pad: bool,
    stream: bool,
    total: usize,
}

impl Block {
    fn new(mode: Mode, key: &[u8], iv: &[u8], encrypt: bool, pad: bool) -> Result<Block> {
        let stream = !matches!(mode, Mode::Ecb | Mode::Cbc);
        Ok(Block { ctx: CipherCtx::block(mode, key, iv, encrypt, pad)?, block: 16, encrypt, pad, stream, total: 0 })
    }

    fn check_total(&self, total: usize) -> Result<()> {
        let aligned = self.stream || total.is_multiple_of(self.block);
        let ok = match (self.pad, self.encrypt) {
            (false, _) => aligned,
            (true, true) => true,
            (true, false) => aligned && total > 0,
        };
        if ok { Ok(()) } else { Err(len_error(self.encrypt)) }
    }
}

impl Cipher for Block {
    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(input.len() + 16);
        self.ctx.update(input, &mut out)?;
        self.total += input.len();
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        self.check_total(self.total)?;
        let mut out = Vec::new();
        self.ctx.finish(&mut out)?;
        Ok(out)
    }

    fn check_len(&self, n: usize) -> Result<()> {
        self.check_total(n)
    }

    fn check_final(&self) -> Result<()> {
        self.check_total(self.total)
    }

    fn one_shot(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.check_total(input.len())?;
        let mut out = self.update(input)?;
        self.ctx.finish(&mut out)?;
        Ok(out)
    }

    fn update_bound(&self, n: usize) -> usize {
        n + 16
    }

    fn final_bound(&self) -> usize {
        16
    }

    /// Padded encryption adds one to a whole block of padding; everything else is as long
    /// as its input (padded decryption at most).
    fn single_bound(&self, n: usize) -> usize {
        if self.pad && self.encrypt { (n / self.block + 1) * self.block } else { n }
    }
}

/// CBC with ciphertext stealing (CKM_AES_CTS): any length from one block, the ciphertext as
/// long as the plaintext. The specification points to NIST's addendum to SP 800-38A without
/// naming one of its three variants; this is CBC-CS1 (NIST's own, and NSS's and Kryoptic's
/// choice): all blocks in order, the last but one cut to the length of the partial last
/// block, so whole-block data is plain CBC. Parts are released as whole CBC blocks; the last
/// 17 to 32 bytes wait for the end, which steals.
struct Cts {
    cbc: CipherCtx,
    /// Single blocks in the same direction, for the two blocks of the end.
    ecb: CipherCtx,
    /// The chaining block: the IV, then the last whole ciphertext block released.
    prev: [u8; 16],
    pending: Zeroizing<Vec<u8>>,
    encrypt: bool,
    total: usize,
}

impl Cts {
    fn new(key: &[u8], iv: &[u8], encrypt: bool) -> Result<Cts> {
        let prev = iv.try_into().map_err(|_| Error::MechanismParamInvalid)?;
        Ok(Cts {
            cbc: CipherCtx::block(Mode::Cbc, key, iv, encrypt, false)?,
            ecb: CipherCtx::block(Mode::Ecb, key, &[], encrypt, false)?,
            prev,
            pending: Zeroizing::new(Vec::new()),
            encrypt,
            total: 0,
        })
    }

    /// One block through the cipher (encryption or decryption, as the operation).
    fn block(&mut self, input: &[u8; 16]) -> Result<Zeroizing<[u8; 16]>> {
        let mut out = Zeroizing::new(Vec::with_capacity(16));
        self.ecb.update(input, &mut out)?;
        let block: [u8; 16] = out.as_slice().try_into().map_err(|_| Error::Device("AES block".into()))?;
        Ok(Zeroizing::new(block))
    }

    fn check_total(&self, total: usize) -> Result<()> {
        if total >= 16 { Ok(()) } else { Err(len_error(self.encrypt)) }
    }
}

impl Cipher for Cts {
    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.pending.extend_from_slice(input);
        self.total += input.len();
        if self.pending.len() <= 32 {
            return Ok(Vec::new());
        }
        let n = (self.pending.len() - 17) / 16 * 16;
        let mut out = Vec::with_capacity(n);
        self.cbc.update(&self.pending[..n], &mut out)?;
        let last = if self.encrypt { &out[n - 16..n] } else { &self.pending[n - 16..n] };
        self.prev.copy_from_slice(last);
        self.pending.drain(..n);
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        self.check_total(self.total)?;
        let p = std::mem::take(&mut self.pending);
        let mut out = Vec::with_capacity(p.len());
        if p.len().is_multiple_of(16) {
            self.cbc.update(&p, &mut out)?;
            return Ok(out);
        }
        // The last whole block (P1 or C1) and the partial one of d bytes.
        let d = p.len() - 16;
        let mut x = Zeroizing::new([0u8; 16]);
        if self.encrypt {
            // E1 = E(P1 ^ prev); C2 = E((P2 || 0) ^ E1); out E1[..d] || C2.
            x.iter_mut().zip(&p[..16]).zip(&self.prev).for_each(|((x, p), c)| *x = p ^ c);
            let e1 = self.block(&x)?;
            *x = *e1;
            x.iter_mut().zip(&p[16..]).for_each(|(x, p)| *x ^= p);
            let c2 = self.block(&x)?;
            out.extend_from_slice(&e1[..d]);
            out.extend_from_slice(&*c2);
        } else {
            // D(C2) = (P2 || 0) ^ E1, so E1 = C1* || D(C2)[d..] and P2 = D(C2)[..d] ^ C1*.
            x.copy_from_slice(&p[d..]);
            let dc2 = self.block(&x)?;
            x[..d].copy_from_slice(&p[..d]);
            x[d..].copy_from_slice(&dc2[d..]);
            let p1 = self.block(&x)?;
            out.extend(p1.iter().zip(&self.prev).map(|(a, b)| a ^ b));
            out.extend(dc2[..d].iter().zip(&p[..d]).map(|(a, b)| a ^ b));
        }
        Ok(out)
    }

    fn check_len(&self, n: usize) -> Result<()> {
        self.check_total(n)
    }

    fn check_final(&self) -> Result<()> {
        self.check_total(self.total)
    }

    fn update_bound(&self, n: usize) -> usize {
        self.pending.len() + n
    }

    fn final_bound(&self) -> usize {
        32
    }

    /// The ciphertext is as long as the plaintext.
    fn single_bound(&self, n: usize) -> usize {
        n
    }
}

/// XTS-AES (IEEE 1619, SP 800-38E) over one data unit: the key is two AES keys (data key,
/// tweak key), the parameter the 16-byte tweak (the data unit's sequence number). A data
/// unit is encrypted as a whole, with ciphertext stealing for a partial last block, so the
/// parts of a multi-part operation are gathered and everything comes at C_*Final. At most
/// 2^20 blocks, SP 800-38E's limit. (AWS-LC's EVP has AES-256-XTS only; this runs on its
/// AES-ECB, so both key sizes work.)
struct Xts {
    data_key: CipherCtx,
    /// The encrypted tweak, T0.
    tweak: [u8; 16],
    buf: Zeroizing<Vec<u8>>,
    encrypt: bool,
}

/// SP 800-38E's limit on a data unit: 2^20 blocks.
const XTS_MAX: usize = 16 << 20;

impl Xts {
    fn new(key: &[u8], tweak: &[u8], encrypt: bool) -> Result<Xts> {
        if !matches!(key.len(), 32 | 64) {
            return Err(Error::KeySizeRange);
        }
        let (k1, k2) = key.split_at(key.len() / 2);
        let iv: &[u8; 16] = tweak.try_into().map_err(|_| Error::MechanismParamInvalid)?;
        Ok(Xts {
            data_key: CipherCtx::block(Mode::Ecb, k1, &[], encrypt, false)?,
            tweak: crate::crypto::evp::aes_encrypt_block(k2, iv)?,
            buf: Zeroizing::new(Vec::new()),
            encrypt,
        })
    }

    fn check_total(&self, n: usize) -> Result<()> {
        if (16..=XTS_MAX).contains(&n) { Ok(()) } else { Err(len_error(self.encrypt)) }
    }

    /// `t` times the primitive element of GF(2^128), in IEEE 1619's byte order.
    fn next(t: &mut [u8; 16]) {
        let carry = t[15] >> 7;
        for i in (1..16).rev() {
            t[i] = (t[i] << 1) | (t[i - 1] >> 7);
        }
        t[0] = (t[0] << 1) ^ (0x87 * carry);
    }

    /// Whole blocks through the data key, each masked before and after by its tweak.
    fn blocks(&mut self, data: &[u8], tweaks: &[[u8; 16]]) -> Result<Zeroizing<Vec<u8>>> {
        let mut x = Zeroizing::new(data.to_vec());
        x.chunks_mut(16).zip(tweaks).for_each(|(b, t)| b.iter_mut().zip(t).for_each(|(b, t)| *b ^= t));
        let mut y = Zeroizing::new(Vec::with_capacity(x.len()));
        self.data_key.update(&x, &mut y)?;
        y.chunks_mut(16).zip(tweaks).for_each(|(b, t)| b.iter_mut().zip(t).for_each(|(b, t)| *b ^= t));
        Ok(y)
    }
}

impl Cipher for Xts {
    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        if self.buf.len() + input.len() > XTS_MAX {
            return Err(len_error(self.encrypt));
        }
        self.buf.extend_from_slice(input);
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        self.check_total(self.buf.len())?;
        let data = std::mem::take(&mut self.buf);
        let (full, r) = (data.len() / 16, data.len() % 16);
        let mut tweaks = Vec::with_capacity(full + 1);
        let mut t = self.tweak;
        for _ in 0..=full {
            tweaks.push(t);
            Xts::next(&mut t);
        }
        if r == 0 {
            return Ok(self.blocks(&data, &tweaks[..full])?.to_vec());
        }
        // Ciphertext stealing: the last whole block takes the tweak after it on one side.
        let head = (full - 1) * 16;
        let mut out = self.blocks(&data[..head], &tweaks[..full - 1])?.to_vec();
        let (first, second) = if self.encrypt { (full - 1, full) } else { (full, full - 1) };
        let cc = self.blocks(&data[head..head + 16], &tweaks[first..first + 1])?;
        let mut pp = Zeroizing::new(data[head + 16..].to_vec());
        pp.extend_from_slice(&cc[r..]);
        let last = self.blocks(&pp, &tweaks[second..second + 1])?;
        out.extend_from_slice(&last);
        out.extend_from_slice(&cc[..r]);
        Ok(out)
    }

    fn check_len(&self, n: usize) -> Result<()> {
        self.check_total(n)
    }

    fn check_final(&self) -> Result<()> {
        self.check_total(self.buf.len())
    }

    /// Enough for a single-part call (an update itself gives nothing).
    fn update_bound(&self, n: usize) -> usize {
        n
    }

    fn final_bound(&self) -> usize {
        self.buf.len()
    }
}

/// CTR: the counter is the low `counter_bits` bits of the counter block; data that would
/// make it wrap is refused.
struct Ctr {
    ctx: CipherCtx,
    encrypt: bool,
    /// Bytes left before the counter wraps; `None` when it cannot within any message.
    left: Option<u128>,
}

impl Ctr {
    fn new(key: &[u8], bits: u32, block: &[u8; 16], encrypt: bool) -> Result<Ctr> {
        if !(1..=128).contains(&bits) {
            return Err(Error::MechanismParamInvalid);
        }
        let counter = u128::from_be_bytes(*block);
        let left = if bits >= 124 {
            None
        } else {
            let mask = (1u128 << bits) - 1;
            Some(((1u128 << bits) - (counter & mask)) * 16)
        };
        Ok(Ctr { ctx: CipherCtx::block(Mode::Ctr, key, block, encrypt, false)?, encrypt, left })
    }
}

impl Cipher for Ctr {
    fn check_len(&self, n: usize) -> Result<()> {
        match self.left {
            Some(left) if n as u128 > left => Err(len_error(self.encrypt)),
            _ => Ok(()),
        }
    }

    fn check_update(&self, n: usize) -> Result<()> {
        self.check_len(n)
    }

    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.check_len(input.len())?;
        if let Some(left) = self.left.as_mut() {
            *left -= input.len() as u128;
        }
        let mut out = Vec::with_capacity(input.len());
        self.ctx.update(input, &mut out)?;
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    fn update_bound(&self, n: usize) -> usize {
        n
    }

    fn final_bound(&self) -> usize {
        0
    }
}

enum AeadKind {
    /// AES-GCM, whose key is the object's prepared one (16-byte tags, truncated when
    /// encrypting) or, to check a shorter tag, one made for this operation; or
    /// ChaCha20-Poly1305, whose key is made for the operation.
    Evp {
        iv: Vec<u8>,
        key: AeadKeyRef,
    },
    Ccm {
        nonce: Vec<u8>,
        data_len: usize,
        key: Zeroizing<Vec<u8>>,
    },
}

/// The object's prepared-key slot for its expanded AES-GCM keys (one per group of threads).
const GCM_SLOT: usize = 0;

/// The AEAD key of one operation.
pub enum AeadKeyRef {
    /// The key object's prepared key (16-byte tags): expanded once per object for each
    /// group of threads ([`PerThread`]), so operations on one key in different threads hold
    /// different counts, and none on the object itself.
    Prepared(Arc<crossbeam_utils::CachePadded<AeadKey>>),
    /// A key made for this operation (to check a GCM tag shorter than 16 bytes, or a
    /// ChaCha20-Poly1305 key).
    Own(AeadKey),
}

impl AeadKeyRef {
    /// The key `obj` with tags of `tag_len` bytes.
    pub fn new(obj: &Object, tag_len: usize) -> Result<AeadKeyRef> {
        let value = || obj.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent);
        if tag_len == 16
            && let Some(k) = obj
                .prepared(GCM_SLOT, || Some(PerThread::<AeadKey>::default()))
                .and_then(|p| p.get(|| AeadKey::new(value().ok()?, 16).ok()))
        {
            return Ok(AeadKeyRef::Prepared(k));
        }
        Ok(AeadKeyRef::Own(AeadKey::new(value()?, tag_len)?))
    }

    pub fn get(&self) -> &AeadKey {
        match self {
            AeadKeyRef::Prepared(k) => k,
            AeadKeyRef::Own(k) => k,
        }
    }
}

/// The most a multi-part AEAD operation holds until its final call (1 GiB): the token keeps
/// it whole to release no unauthenticated plaintext. Longer messages go through single-part
/// calls (C_Decrypt), which hold nothing. C_*Update past it is CKR_ENCRYPTED_DATA_LEN_RANGE
/// (CKR_DATA_LEN_RANGE when encrypting), before the part is copied.
pub(crate) const AEAD_HELD_MAX: usize = 1 << 30;

/// GCM, CCM and ChaCha20-Poly1305. Decryption gathers its input and processes it at the
/// end, so it releases no plaintext before the tag is verified; so do CCM encryption (its tag
/// comes first in its computation) and ChaCha20-Poly1305 encryption (AWS-LC seals it in one
/// call). Multi-part GCM encryption streams: each C_EncryptUpdate returns its part's
/// ciphertext, C_EncryptFinal the tag.
struct Aead {
    kind: AeadKind,
    aad: Vec<u8>,
    tag_len: usize,
    encrypt: bool,
    buf: Bytes,
    /// The GCM encryption stream, from the first C_EncryptUpdate on.
    stream: Option<GcmEncryptor>,
}

impl Aead {
    fn process(&self, data: &[u8]) -> Result<Vec<u8>> {
        match &self.kind {
            AeadKind::Evp { iv, key } => {
                let key = key.get();
                if self.encrypt {
                    // A shorter GCM tag is the full tag's leading bytes (SP 800-38D §7.1).
                    let mut out = key.seal(iv, &self.aad, data)?;
                    out.truncate(data.len() + self.tag_len);
                    Ok(out)
                } else {
                    // The key checks tags of this operation's length (short input included).
                    Ok(std::mem::take(&mut *key.open(iv, &self.aad, data)?))
                }
            }
            AeadKind::Ccm { nonce, data_len, key } => {
                if self.encrypt {
                    if data.len() != *data_len {
                        return Err(Error::DataLenRange);
                    }
                    return ccm::seal(key, nonce, self.tag_len, &self.aad, data);
                }
                if data.len() < self.tag_len || data.len() - self.tag_len != *data_len {
                    return Err(Error::EncryptedDataLenRange);
                }
                Ok(ccm::open(key, nonce, self.tag_len, &self.aad, data)?.to_vec())
            }
        }
    }
}

impl Cipher for Aead {
    fn one_shot_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
        // EVP_AEAD encryption only: decryption must not release plaintext before the tag
        // check.
        let AeadKind::Evp { iv, key } = &self.kind else { return Ok(None) };
        let key = key.get();
        let n = input.len();
        if !self.encrypt || out.len() < n + key.tag_len() {
            return Ok(None);
        }
        key.seal_into(iv, &self.aad, input, out)?;
        Ok(Some(n + self.tag_len))
    }

    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        if let (true, AeadKind::Evp { iv, key }) = (self.encrypt, &self.kind)
            && key.get().streams()
        {
            let stream = match &mut self.stream {
                Some(s) => s,
                None => self.stream.insert(key.get().encryptor(iv, &self.aad)?),
            };
            let mut out = Vec::new();
            stream.update(input, &mut out)?;
            return Ok(out);
        }
        // What is held must fit the token: more is refused before any of it is copied.
        if self.buf.len().saturating_add(input.len()) > AEAD_HELD_MAX {
            return Err(len_error(self.encrypt));
        }
        self.buf.extend_from_slice(input);
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        if let Some(stream) = self.stream.as_mut() {
            return stream.finish(self.tag_len);
        }
        let data = std::mem::take(&mut self.buf);
        self.process(&data)
    }

    fn one_shot(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.process(input)
    }

    fn update_bound(&self, n: usize) -> usize {
        n
    }

    fn final_bound(&self) -> usize {
        self.buf.len() + if self.encrypt { self.tag_len } else { 0 }
    }
}
