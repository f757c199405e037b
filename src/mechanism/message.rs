//! Message-based encryption (PKCS#11 3.2 §5.10, §5.11 of 3.0): C_MessageEncryptInit,
//! C_EncryptMessage, C_EncryptMessageBegin/Next, C_MessageEncryptFinal and the decrypt side,
//! for AES-GCM, AES-CCM and ChaCha20-Poly1305, and the single messages of 3.2's
//! C_WrapKeyAuthenticated / C_UnwrapKeyAuthenticated. For AES the token can generate each
//! message's IV (CKG_GENERATE, CKG_GENERATE_COUNTER, CKG_GENERATE_COUNTER_XOR,
//! CKG_GENERATE_RANDOM); ChaCha20-Poly1305's parameter has no generator, its nonce is the
//! caller's. The IV used and
//! the tag are handed back to the caller. Decryption releases nothing before the tag verifies;
//! GCM encryption in parts (C_EncryptMessageNext) returns each part's ciphertext at once.

use super::ops::Dir;
use super::{Implementation, aes::AesMode, lookup};
use crate::crypto::gcm::{AeadKey, GcmEncryptor};
use crate::crypto::{self, ccm};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::Object;
use crate::secret::Bytes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// The message-based AEADs, and the per-message parameter structure each takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageAead {
    /// AES-GCM, CK_GCM_MESSAGE_PARAMS.
    Gcm,
    /// AES-CCM, CK_CCM_MESSAGE_PARAMS.
    Ccm,
    /// ChaCha20-Poly1305, CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS.
    ChaChaPoly,
}

/// Per-message parameters (CK_GCM_MESSAGE_PARAMS, CK_CCM_MESSAGE_PARAMS or
/// CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS), decoded.
#[derive(Clone, Debug)]
pub struct MessageParams {
    /// The structure the caller gave.
    pub layout: MessageAead,
    /// The IV (nonce) buffer's content: the IV itself, or the fixed part to generate from.
    pub iv: Vec<u8>,
    pub fixed_bits: usize,
    pub generator: CK_GENERATOR_FUNCTION,
    /// Tag (MAC) length in bytes.
    pub tag_len: usize,
    /// For decryption: the tag to verify.
    pub tag: Vec<u8>,
    /// CCM: the total message length.
    pub data_len: Option<usize>,
}

/// What one message came to.
#[derive(Debug)]
pub struct MessageOutput {
    pub data: Vec<u8>,
    /// The IV actually used (to write back when generated).
    pub iv: Vec<u8>,
    /// Encryption: the tag.
    pub tag: Vec<u8>,
}

struct Pending {
    params: MessageParams,
    iv: Vec<u8>,
    aad: Vec<u8>,
    buf: Bytes,
    /// GCM encryption streams: each part's ciphertext at once, the tag at the end.
    stream: Option<GcmEncryptor>,
}

/// A message-based encryption or decryption operation.
pub struct MessageOp {
    aead: MessageAead,
    key: Zeroizing<Vec<u8>>,
    /// GCM: the key's prepared form (16-byte tags; shorter ones are its leading bytes when
    /// encrypting, and checked with a key made for the message when decrypting).
    gcm: Option<super::aes::AeadKeyRef>,
    encrypt: bool,
    counter: u64,
    pending: Option<Pending>,
}

impl MessageOp {
    /// An encryption or decryption with `aead` under the key object `obj`.
    pub(crate) fn new(aead: MessageAead, obj: &Object, encrypt: bool) -> Result<MessageOp> {
        let key = Zeroizing::new(obj.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent)?.to_vec());
        let gcm = if aead == MessageAead::Gcm { Some(super::aes::AeadKeyRef::new(obj, 16)?) } else { None };
        Ok(MessageOp { aead, key, gcm, encrypt, counter: 0, pending: None })
    }

    /// One message outside a message-based operation (C_WrapKeyAuthenticated and
    /// C_UnwrapKeyAuthenticated): its IV is the caller's or random, never from a counter.
    pub(crate) fn single(&self, p: &MessageParams, aad: &[u8], data: &[u8]) -> Result<MessageOutput> {
        self.check(p)?;
        let iv = if self.encrypt { generate_iv(p, None)? } else { p.iv.clone() };
        self.run(p, &iv, aad, data)
    }

    fn check(&self, p: &MessageParams) -> Result<()> {
        let (ok_tag, ok_iv) = match self.aead {
            MessageAead::Gcm => ((4..=16).contains(&p.tag_len), (1..=256).contains(&p.iv.len())),
            MessageAead::Ccm => {
                ((4..=16).contains(&p.tag_len) && p.tag_len.is_multiple_of(2), (7..=13).contains(&p.iv.len()))
            }
            MessageAead::ChaChaPoly => (p.tag_len == 16, matches!(p.iv.len(), 8 | 12 | 24)),
        };
        let ccm = self.aead == MessageAead::Ccm;
        if p.layout != self.aead || !ok_tag || !ok_iv || (ccm && p.data_len.is_none()) || p.fixed_bits > p.iv.len() * 8
        {
            return Err(Error::MechanismParamInvalid);
        }
        if !self.encrypt && p.tag.len() != p.tag_len {
            return Err(Error::MechanismParamInvalid);
        }
        Ok(())
    }

    /// The IV for the next message: given, or generated from the fixed part.
    fn next_iv(&mut self, p: &MessageParams) -> Result<Vec<u8>> {
        if !self.encrypt {
            return Ok(p.iv.clone());
        }
        generate_iv(p, Some(&mut self.counter))
    }

    fn run(&self, p: &MessageParams, iv: &[u8], aad: &[u8], data: &[u8]) -> Result<MessageOutput> {
        if let Some(n) = p.data_len
            && n != data.len()
        {
            return Err(if self.encrypt { Error::DataLenRange } else { Error::EncryptedDataLenRange });
        }
        let (out, tag) = match (self.aead, self.encrypt) {
            (MessageAead::ChaChaPoly, encrypt) => {
                let (key, nonce) = super::chacha::key_and_nonce(&self.key, iv)?;
                if encrypt {
                    let mut out = key.seal(&nonce, aad, data)?;
                    let tag = out.split_off(data.len());
                    (out, tag)
                } else {
                    let mut all = Zeroizing::new(Vec::with_capacity(data.len() + p.tag.len()));
                    all.extend_from_slice(data);
                    all.extend_from_slice(&p.tag);
                    let mut out = key.open(&nonce, aad, &all).map_err(aead_failed)?;
                    (std::mem::take(&mut *out), Vec::new())
                }
            }
            (MessageAead::Gcm, true) => {
                let key = self.gcm.as_ref().ok_or(Error::OperationNotInitialized)?.get();
                let mut out = key.seal(iv, aad, data)?;
                let tag = out[data.len()..data.len() + p.tag_len].to_vec();
                out.truncate(data.len());
                (out, tag)
            }
            (MessageAead::Gcm, false) => {
                let own;
                let key = match self.gcm.as_ref().map(|k| k.get()) {
                    Some(k) if p.tag_len == k.tag_len() => k,
                    _ => {
                        own = AeadKey::new(&self.key, p.tag_len)?;
                        &own
                    }
                };
                let mut all = Zeroizing::new(Vec::with_capacity(data.len() + p.tag.len()));
                all.extend_from_slice(data);
                all.extend_from_slice(&p.tag);
                let mut out = key.open(iv, aad, &all).map_err(aead_failed)?;
                (std::mem::take(&mut *out), Vec::new())
            }
            (MessageAead::Ccm, true) => {
                let mut sealed = ccm::seal(&self.key, iv, p.tag_len, aad, data)?;
                let tag = sealed.split_off(data.len());
                (sealed, tag)
            }
            (MessageAead::Ccm, false) => {
                let mut all = data.to_vec();
                all.extend_from_slice(&p.tag);
                let plain = ccm::open(&self.key, iv, p.tag_len, aad, &all).map_err(aead_failed)?;
                (plain.to_vec(), Vec::new())
            }
        };
        Ok(MessageOutput { data: out, iv: iv.to_vec(), tag })
    }
}

/// The IV of an encryption: the caller's (CKG_NO_GENERATE), or the fixed part followed by a
/// generated one. `counter` is the operation's message counter; `None` for a single message
/// outside a message-based operation (C_WrapKeyAuthenticated), where a counter would start at
/// zero with every call: the counter generators are refused there. CKG_GENERATE, whose
/// method the token chooses, draws at least 8 random bytes: a counter would repeat IVs
/// across operations on the same key (each C_MessageEncryptInit starts one at zero); only a
/// free part shorter than 8 bytes counts, as within one operation it cannot repeat.
fn generate_iv(p: &MessageParams, counter: Option<&mut u64>) -> Result<Vec<u8>> {
    if p.generator == CKG_NO_GENERATE {
        return Ok(p.iv.clone());
    }
    if !p.fixed_bits.is_multiple_of(8) {
        return Err(Error::MechanismParamInvalid);
    }
    let fixed = p.fixed_bits / 8;
    let mut iv = p.iv.clone();
    let free = iv.len() - fixed;
    let counter = match (p.generator, counter) {
        (CKG_GENERATE_RANDOM, _) => None,
        (CKG_GENERATE, c) if free >= 8 || c.is_none() => None,
        (CKG_GENERATE | CKG_GENERATE_COUNTER | CKG_GENERATE_COUNTER_XOR, Some(c)) => Some(c),
        _ => return Err(Error::MechanismParamInvalid),
    };
    let Some(counter) = counter else {
        crypto::random_fill(&mut iv[fixed..])?;
        return Ok(iv);
    };
    let n = *counter;
    if free < 8 && n >> (8 * free) != 0 {
        return Err(Error::MechanismParamInvalid);
    }
    *counter = n.checked_add(1).ok_or(Error::MechanismParamInvalid)?;
    let ctr = n.to_be_bytes();
    for (i, b) in iv[fixed..].iter_mut().rev().enumerate() {
        let c = if i < 8 { ctr[7 - i] } else { 0 };
        *b = if p.generator == CKG_GENERATE_COUNTER_XOR { *b ^ c } else { c };
    }
    Ok(iv)
}

/// A tag that does not verify is CKR_AEAD_DECRYPT_FAILED in the message-based functions.
fn aead_failed(e: Error) -> Error {
    match e {
        Error::EncryptedDataInvalid => Error::AeadDecryptFailed,
        other => other,
    }
}

impl Module {
    pub(crate) fn message_slot(s: &mut crate::token::session::Ops, dir: Dir) -> &mut Option<Box<MessageOp>> {
        match dir {
            Dir::Encrypt | Dir::SignRecover => &mut s.message_encrypt,
            Dir::Decrypt | Dir::VerifyRecover => &mut s.message_decrypt,
        }
    }

    fn with_message<T>(
        &self,
        h: CK_SESSION_HANDLE,
        dir: Dir,
        f: impl FnOnce(&mut MessageOp) -> Result<T>,
    ) -> Result<T> {
        let mut op = self.with_ops(h, |s| Module::message_slot(s, dir).take().ok_or(Error::OperationNotInitialized))?;
        let r = f(&mut op);
        let _ = self.with_ops(h, |s| {
            *Module::message_slot(s, dir) = Some(op);
            Ok(())
        });
        r
    }

    /// What C_EncryptMessage and C_EncryptMessageBegin (and the decrypting ones) check
    /// before they read their arguments, whose shape only the operation's mechanism gives:
    /// the session, an operation started, no message in parts under way.
    pub fn message_ready(&self, h: CK_SESSION_HANDLE, dir: Dir) -> Result<()> {
        self.with_ops(h, |s| match Module::message_slot(s, dir) {
            None => Err(Error::OperationNotInitialized),
            Some(op) if op.pending.is_some() => Err(Error::OperationActive),
            Some(_) => Ok(()),
        })
    }

    /// C_MessageEncryptInit / C_MessageDecryptInit.
    pub fn message_init(
        &self,
        h: CK_SESSION_HANDLE,
        dir: Dir,
        ty: CK_MECHANISM_TYPE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        if self.with_ops(h, |s| Ok(Module::message_slot(s, dir).is_some()))? {
            return Err(Error::OperationActive);
        }
        let (flag, usage) = match dir {
            Dir::Encrypt | Dir::SignRecover => (CKF_MESSAGE_ENCRYPT, CKA_ENCRYPT),
            Dir::Decrypt | Dir::VerifyRecover => (CKF_MESSAGE_DECRYPT, CKA_DECRYPT),
        };
        let m = super::Mechanism { ty, params: super::Params::None };
        let (entry, obj) = self.crypto_key(h, key, &m, flag, usage)?;
        let aead = match entry.implementation {
            Implementation::Aes(AesMode::Gcm) => MessageAead::Gcm,
            Implementation::Aes(AesMode::Ccm) => MessageAead::Ccm,
            Implementation::ChaChaPoly => MessageAead::ChaChaPoly,
            _ => return Err(Error::MechanismInvalid),
        };
        debug_assert!(lookup(ty).is_some());
        let op = Box::new(MessageOp::new(aead, &obj, dir == Dir::Encrypt)?);
        self.with_ops(h, |s| {
            let slot = Module::message_slot(s, dir);
            if slot.is_some() {
                return Err(Error::OperationActive);
            }
            *slot = Some(op);
            Ok(())
        })
    }

    /// C_EncryptMessage / C_DecryptMessage: one whole message, whose output is as long as
    /// its input. With `out` (room for that, not overlapping the input) the output is written
    /// there, a GCM encryption sealing straight into it, and the data returned is not to be
    /// used (empty, or a copy); without, it is returned.
    pub fn message(
        &self,
        h: CK_SESSION_HANDLE,
        dir: Dir,
        p: &MessageParams,
        aad: &[u8],
        data: &[u8],
        out: Option<&mut [u8]>,
    ) -> Result<MessageOutput> {
        self.with_message(h, dir, |op| {
            if op.pending.is_some() {
                return Err(Error::OperationActive);
            }
            op.check(p)?;
            let iv = op.next_iv(p)?;
            let Some(out) = out else { return op.run(p, &iv, aad, data) };
            let out = out.get_mut(..data.len()).ok_or(Error::BufferTooSmall)?;
            if let (MessageAead::Gcm, true, Some(k)) = (op.aead, op.encrypt, op.gcm.as_ref()) {
                // The prepared key's 16-byte tag; a shorter one is its leading bytes.
                let mut tag = [0u8; 16];
                k.get().seal_scatter(&iv, aad, data, out, &mut tag)?;
                return Ok(MessageOutput { data: Vec::new(), iv, tag: tag[..p.tag_len].to_vec() });
            }
            let o = op.run(p, &iv, aad, data)?;
            out.copy_from_slice(o.data.get(..data.len()).ok_or(Error::Internal("message output length".into()))?);
            Ok(o)
        })
    }

    /// C_EncryptMessageBegin / C_DecryptMessageBegin: returns the IV to be used.
    pub fn message_begin(&self, h: CK_SESSION_HANDLE, dir: Dir, p: &MessageParams, aad: &[u8]) -> Result<Vec<u8>> {
        self.with_message(h, dir, |op| {
            if op.pending.is_some() {
                return Err(Error::OperationActive);
            }
            op.check(p)?;
            let iv = op.next_iv(p)?;
            let stream = match (&op.gcm, op.encrypt) {
                (Some(k), true) => Some(k.get().encryptor(&iv, aad)?),
                _ => None,
            };
            let aad = if stream.is_some() { Vec::new() } else { aad.to_vec() };
            op.pending = Some(Pending { params: p.clone(), iv: iv.clone(), aad, buf: Bytes::default(), stream });
            Ok(iv)
        })
    }

    /// The output length of C_*MessageNext for a part of `n` bytes.
    pub fn message_next_len(&self, h: CK_SESSION_HANDLE, dir: Dir, n: usize, end: bool) -> Result<usize> {
        self.with_message(h, dir, |op| {
            let p = op.pending.as_ref().ok_or(Error::OperationNotInitialized)?;
            Ok(if p.stream.is_some() {
                n
            } else if end {
                p.buf.len().saturating_add(n)
            } else {
                0
            })
        })
    }

    /// C_EncryptMessageNext / C_DecryptMessageNext. GCM encryption returns each part's
    /// ciphertext and, with `end`, the tag; otherwise parts are gathered and with `end` the
    /// whole message is processed and returned. `tag` is the tag to verify (decryption, at
    /// the end).
    pub fn message_next(
        &self,
        h: CK_SESSION_HANDLE,
        dir: Dir,
        data: &[u8],
        end: bool,
        tag: Option<&[u8]>,
    ) -> Result<MessageOutput> {
        self.with_message(h, dir, |op| {
            let pending = op.pending.as_mut().ok_or(Error::OperationNotInitialized)?;
            if let Some(stream) = pending.stream.as_mut() {
                let mut out = Vec::new();
                stream.update(data, &mut out)?;
                let tag = if end { stream.finish(pending.params.tag_len)? } else { Vec::new() };
                let iv = if end { op.pending.take().expect("checked").iv } else { pending.iv.clone() };
                return Ok(MessageOutput { data: out, iv, tag });
            }
            if pending.buf.len().saturating_add(data.len()) > super::aes::AEAD_HELD_MAX {
                return Err(if op.encrypt { Error::DataLenRange } else { Error::EncryptedDataLenRange });
            }
            pending.buf.extend_from_slice(data);
            if !end {
                return Ok(MessageOutput { data: Vec::new(), iv: pending.iv.clone(), tag: Vec::new() });
            }
            let p = op.pending.take().expect("checked");
            let mut params = p.params.clone();
            if let Some(t) = tag {
                params.tag = t.to_vec();
            }
            op.check(&params)?;
            op.run(&params, &p.iv, &p.aad, &p.buf)
        })
    }

    /// Ends the message in parts under way after a C_*MessageNext error: "an error other
    /// than CKR_BUFFER_TOO_SMALL terminates the current message" operation (§5.10); the
    /// message-based process itself goes on.
    pub fn message_abort(&self, h: CK_SESSION_HANDLE, dir: Dir) {
        let _ = self.with_ops(h, |s| {
            if let Some(op) = Module::message_slot(s, dir).as_mut() {
                op.pending = None;
            }
            Ok(())
        });
    }

    /// C_MessageEncryptFinal / C_MessageDecryptFinal.
    pub fn message_final(&self, h: CK_SESSION_HANDLE, dir: Dir) -> Result<()> {
        self.with_ops(h, |s| Module::message_slot(s, dir).take().map(|_| ()).ok_or(Error::OperationNotInitialized))
    }
}
