//! The generic engine of cryptographic operations (PKCS#11 3.2 §5.8–§5.11): one typed
//! operation slot per kind in each session, the key checks every C_*Init makes, and the
//! output rules — size queries, CKR_BUFFER_TOO_SMALL that keeps the operation (the computed
//! output is held until the caller offers room), and the end of the operation on any other
//! error.

use super::{Entry, Implementation, Mechanism, lookup};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::Object;
use crate::secret::Bytes;
use cryptoki_sys::*;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A symmetric cipher in progress.
pub trait Cipher: Send {
    /// Processes more input; returns what can be released now.
    fn update(&mut self, input: &[u8]) -> Result<Vec<u8>>;
    /// Finishes; returns the rest.
    fn finish(&mut self) -> Result<Vec<u8>>;
    /// Single-part processing of the whole input.
    fn one_shot(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        let mut out = self.update(input)?;
        out.extend_from_slice(&self.finish()?);
        Ok(out)
    }
    /// Single-part processing straight into the caller's buffer, where the mode allows it
    /// and `out` is big enough; `None` otherwise (then [`Cipher::one_shot`] is used).
    fn one_shot_into(&mut self, _input: &[u8], _out: &mut [u8]) -> Result<Option<usize>> {
        Ok(None)
    }
    /// Whether a single-part input of `n` bytes can be processed: the error the call would
    /// give, for a size query to give it too.
    fn check_len(&self, _n: usize) -> Result<()> {
        Ok(())
    }
    /// As [`Cipher::check_len`], for a part of `n` bytes.
    fn check_update(&self, _n: usize) -> Result<()> {
        Ok(())
    }
    /// As [`Cipher::check_len`], for the end of a multi-part operation.
    fn check_final(&self) -> Result<()> {
        Ok(())
    }
    /// A length that is enough for `update` of `n` bytes.
    fn update_bound(&self, n: usize) -> usize;
    /// A length that is enough for `finish`.
    fn final_bound(&self) -> usize;
    /// A length that is enough for a single-part call on `n` bytes: the exact one where it
    /// is known before the work is done.
    fn single_bound(&self, n: usize) -> usize {
        self.update_bound(n) + self.final_bound()
    }
}

/// A MAC in progress.
pub trait Mac: Send {
    fn update(&mut self, data: &[u8]);
    fn finish(self: Box<Self>) -> Bytes;
    /// Output length.
    fn output_len(&self) -> usize;
    /// The running state, when it can be saved (C_GetOperationState), and the unique id of
    /// the key it needs on restoring.
    fn state(&self) -> Option<(Zeroizing<Vec<u8>>, &str)> {
        None
    }
    /// Whether the mechanism signs its data in one part only (C_SignUpdate and
    /// C_VerifyUpdate refuse it).
    fn single_part(&self) -> bool {
        false
    }
    /// Finishes a signature; signature schemes that can fail override it.
    fn try_finish(self: Box<Self>) -> Result<Bytes> {
        Ok(self.finish())
    }
    /// Finishes into `out`, which the output fills or overfills (a truncated MAC): writes
    /// the first `out.len()` bytes and returns how many were written.
    fn try_finish_into(self: Box<Self>, out: &mut [u8]) -> Result<usize> {
        Ok(copy_prefix(&self.try_finish()?, out))
    }
    /// Verifies `sig` (already of the right length): MACs recompute and compare in constant
    /// time; signature schemes override it.
    fn check(self: Box<Self>, sig: &[u8]) -> Result<()> {
        let full = self.finish();
        if full.len() >= sig.len() && bool::from(full[..sig.len()].ct_eq(sig)) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

/// Copies as much of `full` as `out` holds into it; returns how many bytes.
pub(crate) fn copy_prefix(full: &[u8], out: &mut [u8]) -> usize {
    let n = out.len().min(full.len());
    out[..n].copy_from_slice(&full[..n]);
    n
}

/// Which kind of call an operation has begun with. A call of the other kind is
/// CKR_OPERATION_ACTIVE and ends the operation, as every error of those calls but a short
/// buffer does (§5.2): a single-part call (C_Encrypt ...) in an operation that updates
/// began, which "cannot be used to terminate a multi-part operation" yet "always
/// terminates the active operation", and an update or final call in one that a
/// single-part call began (a size query, a short buffer). A result held for a short buffer
/// never goes to the other kind of call. (google/pkcs11test checks both: a refused
/// C_Digest after C_DigestUpdate leaves no operation for C_DigestFinal; SoftHSMv2 ends the
/// operation too.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Stage {
    #[default]
    Fresh,
    Multi,
    Single,
}

impl Stage {
    /// Records a single-part (`single`) or multi-part call, or refuses it.
    pub(crate) fn enter(&mut self, single: bool) -> Result<()> {
        match (*self, single) {
            (Stage::Fresh, true) => *self = Stage::Single,
            (Stage::Fresh, false) => *self = Stage::Multi,
            (Stage::Multi, true) | (Stage::Single, false) => return Err(Error::WrongStage),
            _ => {}
        }
        Ok(())
    }

    /// The stage as saved in an operation state.
    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(b: u8) -> Result<Stage> {
        [Stage::Fresh, Stage::Multi, Stage::Single].get(usize::from(b)).copied().ok_or(Error::SavedStateInvalid)
    }
}

/// An encryption, decryption or signature-recovery operation.
pub struct CipherOp {
    cipher: Box<dyn Cipher>,
    stage: Stage,
    /// Output computed for a call whose buffer was too small, handed out on the retry.
    pending: Option<Vec<u8>>,
    /// The key has CKA_ALWAYS_AUTHENTICATE: a CKU_CONTEXT_SPECIFIC login must come first.
    pub(crate) needs_auth: bool,
}

/// A signing or verification operation.
pub struct MacOp {
    /// The key has CKA_ALWAYS_AUTHENTICATE: a CKU_CONTEXT_SPECIFIC login must come first.
    pub(crate) needs_auth: bool,
    pub(crate) mac: Option<Box<dyn Mac>>,
    pub(crate) len: usize,
    pub(crate) stage: Stage,
    pending: Option<Vec<u8>>,
    pub(crate) mechanism: CK_MECHANISM_TYPE,
    /// The signature C_VerifySignatureInit was given (empty for other operations).
    signature: Vec<u8>,
}

impl MacOp {
    pub(crate) fn restored(mac: Box<dyn Mac>, len: usize, stage: Stage, mechanism: CK_MECHANISM_TYPE) -> MacOp {
        MacOp { needs_auth: false, mac: Some(mac), len, stage, pending: None, mechanism, signature: Vec::new() }
    }
}

/// Which call of a cryptographic function this is.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    /// C_Encrypt, C_Decrypt, C_Sign.
    Single(&'a [u8]),
    /// C_*Update.
    Update(&'a [u8]),
    /// C_*Final.
    Final,
}

/// What a producing call comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    /// A size query: this length is enough.
    Length(usize),
    /// The caller's buffer was too small; this much is needed; the operation stays active.
    TooSmall(usize),
    /// The output; the operation ended if the step was Single or Final.
    Data(Vec<u8>),
    /// This many bytes were written straight into the caller's buffer (single-part).
    Written(usize),
}

/// Which cipher-like operation: encryption, decryption, or RSA signature with recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Encrypt,
    Decrypt,
    SignRecover,
    VerifyRecover,
}

/// Signing or verification (C_Verify*, or 3.2's C_VerifySignature* with the signature given
/// first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacDir {
    Sign,
    Verify,
    VerifySignature,
}

impl Dir {
    /// The mechanism flag and the key's usage attribute the operation needs.
    pub(crate) fn flag_and_usage(self) -> (CK_FLAGS, CK_ATTRIBUTE_TYPE) {
        match self {
            Dir::Encrypt => (CKF_ENCRYPT, CKA_ENCRYPT),
            Dir::Decrypt => (CKF_DECRYPT, CKA_DECRYPT),
            Dir::SignRecover => (CKF_SIGN_RECOVER, CKA_SIGN_RECOVER),
            Dir::VerifyRecover => (CKF_VERIFY_RECOVER, CKA_VERIFY_RECOVER),
        }
    }
}

impl MacDir {
    /// The mechanism flag and the key's usage attribute the operation needs.
    pub(crate) fn flag_and_usage(self) -> (CK_FLAGS, CK_ATTRIBUTE_TYPE) {
        match self {
            MacDir::Sign => (CKF_SIGN, CKA_SIGN),
            MacDir::Verify | MacDir::VerifySignature => (CKF_VERIFY, CKA_VERIFY),
        }
    }
}

/// The key checks of [`Module::crypto_key`].
fn check_key(entry: &Entry, ty: CK_MECHANISM_TYPE, obj: &Object, usage: CK_ATTRIBUTE_TYPE) -> Result<()> {
    let u = obj.key_use();
    let kt = u.key_type.ok_or(Error::KeyTypeInconsistent)?;
    if !entry.key_types.contains(&kt) {
        return Err(Error::KeyTypeInconsistent);
    }
    if !u.allows(usage).unwrap_or_else(|| obj.flag(usage)) {
        return Err(Error::KeyFunctionNotPermitted);
    }
    if u.restricted
        && !matches!(obj.get(CKA_ALLOWED_MECHANISMS), Some(crate::object::Value::MechList(allowed)) if allowed.contains(&ty))
    {
        return Err(Error::MechanismInvalid);
    }
    // A public token key loaded without a login has no key material in memory.
    obj.material()?;
    let (min, max) = (entry.info.ulMinKeySize, entry.info.ulMaxKeySize);
    let outside = |size: CK_ULONG| (min != 0 && size < min) || (max != 0 && size > max);
    // The ChaCha20 section gives CKM_CHACHA20's key sizes in bits; the others are in bytes.
    let unit = if entry.ty == CKM_CHACHA20 { 8 } else { 1 };
    if u.class == CKO_SECRET_KEY && outside((u.value_len * unit) as CK_ULONG) {
        return Err(Error::KeySizeRange);
    }
    // RSA keys are kept from 512 bits; the mechanisms work from 1024 (their ulMinKeySize).
    if kt == CKK_RSA && obj.ulong(CKA_MODULUS_BITS).is_some_and(outside) {
        return Err(Error::KeySizeRange);
    }
    Ok(())
}

impl Module {
    /// Loads a key object the session may use; an unknown handle is CKR_KEY_HANDLE_INVALID.
    /// Its key material must be at hand (CKR_USER_NOT_LOGGED_IN for a public token key
    /// loaded without a login).
    pub(crate) fn key_object(&self, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<std::sync::Arc<Object>> {
        self.with_key(h, key, |o| o.material().map(|()| o.clone()))
    }

    /// As [`Module::with_object`], for a key: an unknown handle is CKR_KEY_HANDLE_INVALID.
    fn with_key<T>(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        f: impl FnOnce(&std::sync::Arc<Object>) -> Result<T>,
    ) -> Result<T> {
        self.with_object(h, key, f).map_err(|e| match e {
            Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
            e => e,
        })?
    }

    /// The checks of every C_*Init with a key: mechanism known and able to do `flag`, key
    /// usable with it, `usage` attribute set, mechanism allowed by CKA_ALLOWED_MECHANISMS.
    pub(crate) fn crypto_key(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        m: &Mechanism,
        flag: CK_FLAGS,
        usage: CK_ATTRIBUTE_TYPE,
    ) -> Result<(&'static Entry, std::sync::Arc<Object>)> {
        self.with_crypto_key(h, key, m.ty, flag, usage, |entry, obj| Ok((entry, obj.clone())))
    }

    /// As [`Module::crypto_key`], lending the checked key to `f` (see [`Module::with_object`]:
    /// `f` must not take the module state lock or a session-object lock).
    pub(crate) fn with_crypto_key<T>(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        ty: CK_MECHANISM_TYPE,
        flag: CK_FLAGS,
        usage: CK_ATTRIBUTE_TYPE,
        f: impl FnOnce(&'static Entry, &std::sync::Arc<Object>) -> Result<T>,
    ) -> Result<T> {
        let entry = lookup(ty).filter(|e| e.info.flags & flag != 0).ok_or(Error::MechanismInvalid)?;
        let (r, audited) = self.with_key(h, key, |obj| {
            check_key(entry, ty, obj, usage)?;
            let r = f(entry, obj)?;
            // The record is written outside the lock `f` runs under.
            Ok((r, self.config.audit_crypto_operations.then(|| obj.clone())))
        })?;
        if let Some(obj) = audited {
            self.audit_session_op(h, &obj)?;
        }
        Ok(r)
    }

    /// The error a C_*Init reports when its mechanism `ty` was refused with `e`: a bad
    /// session first; then, for a refused parameter, a key the operation could not use
    /// anyway (handle, type, usage flag, allowed mechanisms), as SoftHSMv2 checks the key
    /// before the parameter and the specification ranks neither; else `e`.
    pub(crate) fn init_refused(
        &self,
        h: CK_SESSION_HANDLE,
        e: Error,
        ty: CK_MECHANISM_TYPE,
        key: CK_OBJECT_HANDLE,
        (flag, usage): (CK_FLAGS, CK_ATTRIBUTE_TYPE),
    ) -> Error {
        let e = self.session_checked(h, e);
        let Some(entry) = lookup(ty).filter(|e| e.info.flags & flag != 0) else {
            return e;
        };
        if !matches!(e, Error::MechanismParamInvalid) {
            return e;
        }
        self.with_key(h, key, |obj| check_key(entry, ty, obj, usage)).err().unwrap_or(e)
    }

    pub(crate) fn cipher_slot(s: &mut crate::token::session::Ops, dir: Dir) -> &mut Option<CipherOp> {
        match dir {
            Dir::Encrypt => &mut s.encrypt,
            Dir::Decrypt => &mut s.decrypt,
            Dir::SignRecover => &mut s.sign_recover,
            Dir::VerifyRecover => &mut s.verify_recover,
        }
    }

    pub(crate) fn mac_slot(s: &mut crate::token::session::Ops, dir: MacDir) -> &mut Option<MacOp> {
        match dir {
            MacDir::Sign => &mut s.sign,
            MacDir::Verify => &mut s.verify,
            MacDir::VerifySignature => &mut s.verify_signature,
        }
    }

    /// C_EncryptInit / C_DecryptInit. An AES-GCM operation takes its IV and AAD out of `m`
    /// (no copy).
    pub fn crypt_init(&self, h: CK_SESSION_HANDLE, dir: Dir, m: &mut Mechanism, key: CK_OBJECT_HANDLE) -> Result<()> {
        // As in `mac_init`: an active operation is found where the new one would go.
        let (flag, usage) = dir.flag_and_usage();
        // Symmetric ciphers are made while the key is lent (no count taken on it); what the
        // closure finds it writes here (see `make_mac`).
        let (mut needs_auth, mut made, mut later) = (false, None, None);
        self.with_crypto_key(h, key, m.ty, flag, usage, |entry, obj| {
            needs_auth = obj.key_use().always_authenticate;
            let encrypt = dir == Dir::Encrypt;
            made = Some(match entry.implementation {
                Implementation::Aes(mode) => super::aes::cipher(mode, m, obj, encrypt)?,
                Implementation::Des3(mode) => super::des::cipher(mode, m, obj, encrypt)?,
                Implementation::ChaChaPoly => super::chacha::cipher(m, obj, encrypt)?,
                Implementation::ChaCha20 => super::chacha::stream(m, obj, encrypt)?,
                Implementation::Wrap(mode) => {
                    let value = obj.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent)?;
                    super::wrap::cipher(mode, m, value, encrypt)?
                }
                _ => {
                    later = Some((obj.clone(), entry));
                    return Ok(());
                }
            });
            Ok(())
        })?;
        let cipher = match (made, later) {
            (Some(cipher), _) => cipher,
            (None, Some((obj, entry))) => {
                let Implementation::Rsa(scheme) = entry.implementation else {
                    return Err(Error::MechanismInvalid);
                };
                let key = self.parsed_key(&obj)?;
                match dir {
                    Dir::SignRecover | Dir::VerifyRecover => {
                        super::rsa::recover(scheme, m, key, dir == Dir::SignRecover)?
                    }
                    Dir::Encrypt | Dir::Decrypt => super::rsa::cipher(scheme, m, key, dir == Dir::Encrypt)?,
                }
            }
            (None, None) => return Err(Error::MechanismInvalid),
        };
        let mut ops = self.ops(h)?;
        let slot = Module::cipher_slot(&mut ops, dir);
        if slot.is_some() {
            return Err(Error::OperationActive);
        }
        *slot = Some(CipherOp { cipher, stage: Stage::Fresh, pending: None, needs_auth });
        Ok(())
    }

    /// C_Encrypt/C_EncryptUpdate/C_EncryptFinal and the decrypt side. `cap` is the caller's
    /// buffer length, `None` for a size query.
    /// `direct` is the caller's output buffer when the engine may write into it (it does
    /// not overlap the input).
    pub fn crypt(
        &self,
        h: CK_SESSION_HANDLE,
        dir: Dir,
        step: Step<'_>,
        cap: Option<usize>,
        direct: Option<&mut [u8]>,
    ) -> Result<Output> {
        let mut op = {
            let mut ops = self.ops(h)?;
            let slot = Module::cipher_slot(&mut ops, dir);
            let op = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
            op.stage.enter(matches!(step, Step::Single(_)))?;
            if cap.is_none() {
                // A size query for input the call would refuse fails as the call would (and
                // so ends the operation, §5.2).
                let checked = match (&op.pending, &step) {
                    (Some(_), _) => Ok(()),
                    (None, Step::Single(d)) => op.cipher.check_len(d.len()),
                    (None, Step::Update(d)) => op.cipher.check_update(d.len()),
                    (None, Step::Final) => op.cipher.check_final(),
                };
                if let Err(e) = checked {
                    *slot = None;
                    return Err(e);
                }
                // A size query changes nothing else: answered in place.
                return Ok(Output::Length(match (&op.pending, step) {
                    (Some(p), _) => p.len(),
                    (None, Step::Single(d)) => op.cipher.single_bound(d.len()),
                    (None, Step::Update(d)) => op.cipher.update_bound(d.len()),
                    (None, Step::Final) => op.cipher.final_bound(),
                }));
            }
            // A key with CKA_ALWAYS_AUTHENTICATE used without the context-specific login:
            // the call fails, and so ends the operation (§5.2).
            if op.needs_auth {
                *slot = None;
                return Err(Error::UserNotLoggedIn);
            }
            slot.take().expect("checked")
        };
        let ends = !matches!(step, Step::Update(_));
        let r = (|| {
            let out = match op.pending.take() {
                Some(p) => p,
                None => {
                    if let (Step::Single(d), Some(buf)) = (&step, direct)
                        && let Some(n) = op.cipher.one_shot_into(d, buf)?
                    {
                        return Ok(Output::Written(n));
                    }
                    match step {
                        Step::Single(d) => op.cipher.one_shot(d)?,
                        Step::Update(d) => op.cipher.update(d)?,
                        Step::Final => op.cipher.finish()?,
                    }
                }
            };
            // `cap` is Some here: size queries were answered above.
            if cap.is_some_and(|c| c >= out.len()) {
                Ok(Output::Data(out))
            } else {
                let n = out.len();
                op.pending = Some(out);
                Ok(Output::TooSmall(n))
            }
        })();
        let keep = match &r {
            Ok(Output::Data(_) | Output::Written(_)) => !ends,
            Ok(_) => true,
            Err(_) => false,
        };
        if keep && let Ok(mut s) = self.ops(h) {
            *Module::cipher_slot(&mut s, dir) = Some(op);
        }
        r
    }

    /// C_SignInit / C_VerifyInit / C_VerifySignatureInit (with the signature to check).
    pub fn mac_init(
        &self,
        h: CK_SESSION_HANDLE,
        dir: MacDir,
        m: &Mechanism,
        key: CK_OBJECT_HANDLE,
        signature: &[u8],
    ) -> Result<()> {
        // An active operation is found where the new one would go (one lock of the session's
        // operations, not two); the key is checked first.
        let (flag, usage) = dir.flag_and_usage();
        let (mac, needs_auth) = self.make_mac(h, m, key, flag, usage)?;
        let len = mac.output_len();
        let mut ops = self.ops(h)?;
        let slot = Module::mac_slot(&mut ops, dir);
        if slot.is_some() {
            return Err(Error::OperationActive);
        }
        *slot = Some(MacOp {
            needs_auth,
            mac: Some(mac),
            len,
            stage: Stage::Fresh,
            pending: None,
            mechanism: m.ty,
            signature: signature.to_vec(),
        });
        Ok(())
    }

    /// The signature or MAC `m` with `key`, checked for the mechanism flag `flag` and the
    /// key's `usage`; with whether the key wants the context-specific login first.
    pub(crate) fn make_mac(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        key: CK_OBJECT_HANDLE,
        flag: CK_FLAGS,
        usage: CK_ATTRIBUTE_TYPE,
    ) -> Result<(Box<dyn Mac>, bool)> {
        // MACs are made while the key is lent (no count taken on it). What the closure finds
        // it writes here rather than returning it: a tuple inside a `Result` moved out of the
        // lending functions costs store-forwarding stalls (the compiler copies the error's
        // bytes where the tuple has padding, with overlapping loads).
        let (mut needs_auth, mut made, mut later) = (false, None, None);
        self.with_crypto_key(h, key, m.ty, flag, usage, |entry, obj| {
            needs_auth = obj.key_use().always_authenticate;
            match entry.implementation {
                Implementation::Mac(kind) => {
                    let prepared = match kind {
                        super::mac::MacKind::Hmac { hash, .. } => self.prepared_hmac(obj, hash),
                        _ => None,
                    };
                    made = Some(match prepared {
                        Some(p) => super::mac::prepared_mac(kind, m, p)?,
                        None => {
                            let key = obj.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent)?;
                            super::mac::mac(kind, m, key, obj.bytes(CKA_UNIQUE_ID).unwrap_or_default())?
                        }
                    });
                }
                _ => later = Some((obj.clone(), entry)),
            }
            Ok(())
        })?;
        let mac = match (made, later) {
            (Some(mac), _) => mac,
            (None, Some((obj, entry))) => match entry.implementation {
                Implementation::Rsa(scheme) => super::rsa::signer(scheme, m, self.parsed_key(&obj)?)?,
                Implementation::Ecdsa(hash) => super::ecc::ecdsa(hash, m, self.parsed_key(&obj)?)?,
                Implementation::EdDsa => super::ecc::eddsa(m, self.parsed_key(&obj)?)?,
                Implementation::MlDsa(v) => super::pqc::ml_dsa(v, m, self.parsed_key(&obj)?)?,
                _ => return Err(Error::MechanismInvalid),
            },
            (None, None) => return Err(Error::MechanismInvalid),
        };
        Ok((mac, needs_auth))
    }

    fn take_mac(&self, h: CK_SESSION_HANDLE, dir: MacDir, single: bool) -> Result<MacOp> {
        let mut ops = self.ops(h)?;
        let slot = Module::mac_slot(&mut ops, dir);
        let op = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
        op.stage.enter(single)?;
        if op.needs_auth && dir == MacDir::Sign {
            *slot = None;
            return Err(Error::UserNotLoggedIn);
        }
        Ok(slot.take().expect("checked"))
    }

    fn put_mac(&self, h: CK_SESSION_HANDLE, dir: MacDir, op: MacOp) {
        if let Ok(mut s) = self.ops(h) {
            *Module::mac_slot(&mut s, dir) = Some(op);
        }
    }

    /// C_SignUpdate / C_VerifyUpdate.
    pub fn mac_update(&self, h: CK_SESSION_HANDLE, dir: MacDir, data: &[u8]) -> Result<()> {
        let mut op = self.take_mac(h, dir, false)?;
        let mac = op.mac.as_mut().ok_or(Error::OperationNotInitialized)?;
        // A single-part mechanism has no multi-part operation to continue: the operation
        // ends, as SoftHSMv2 and Kryoptic end it (the specification names no code).
        if mac.single_part() {
            return Err(Error::OperationNotInitialized);
        }
        mac.update(data);
        self.put_mac(h, dir, op);
        Ok(())
    }

    /// C_Sign (with data) and C_SignFinal (without). `direct` is the caller's buffer when the
    /// signature may be written straight into it.
    pub fn sign(
        &self,
        h: CK_SESSION_HANDLE,
        data: Option<&[u8]>,
        cap: Option<usize>,
        direct: Option<&mut [u8]>,
    ) -> Result<Output> {
        if cap.is_none() {
            // A size query changes nothing: answer it in place.
            return self.with_ops(h, |s| {
                let op = s.sign.as_mut().ok_or(Error::OperationNotInitialized)?;
                op.stage.enter(data.is_some())?;
                Ok(Output::Length(op.pending.as_ref().map_or(op.len, Vec::len)))
            });
        }
        let mut op = self.take_mac(h, MacDir::Sign, data.is_some())?;
        let sig = match op.pending.take() {
            Some(p) => p,
            None if cap.is_none() => {
                let n = op.len;
                self.put_mac(h, MacDir::Sign, op);
                return Ok(Output::Length(n));
            }
            None => {
                let mut mac = op.mac.take().ok_or(Error::OperationNotInitialized)?;
                if let Some(d) = data {
                    mac.update(d);
                }
                if let Some(out) = direct
                    && out.len() >= op.len
                {
                    return Ok(Output::Written(mac.try_finish_into(&mut out[..op.len])?));
                }
                let mut full = mac.try_finish()?.into_vec();
                full.truncate(op.len);
                full
            }
        };
        match cap {
            Some(c) if c >= sig.len() => Ok(Output::Data(sig)),
            _ => {
                let n = sig.len();
                op.pending = Some(sig);
                self.put_mac(h, MacDir::Sign, op);
                Ok(if cap.is_none() { Output::Length(n) } else { Output::TooSmall(n) })
            }
        }
    }

    /// C_Verify (with data) and C_VerifyFinal (without). Ends the operation.
    pub fn verify(&self, h: CK_SESSION_HANDLE, data: Option<&[u8]>, signature: &[u8]) -> Result<()> {
        let op = self.take_mac(h, MacDir::Verify, data.is_some())?;
        Self::check_signature(op, data, signature)
    }

    /// C_VerifySignature (with data) and C_VerifySignatureFinal (without): checks the
    /// signature the operation was started with.
    pub fn verify_signature(&self, h: CK_SESSION_HANDLE, data: Option<&[u8]>) -> Result<()> {
        let mut op = self.take_mac(h, MacDir::VerifySignature, data.is_some())?;
        let signature = std::mem::take(&mut op.signature);
        Self::check_signature(op, data, &signature)
    }

    fn check_signature(mut op: MacOp, data: Option<&[u8]>, signature: &[u8]) -> Result<()> {
        let mut mac = op.mac.take().ok_or(Error::OperationNotInitialized)?;
        if signature.len() != op.len {
            return Err(Error::SignatureLenRange);
        }
        if let Some(d) = data {
            mac.update(d);
        }
        mac.check(signature)
    }

    /// Ends an operation after an argument error at the ABI.
    pub fn abort_crypt(&self, h: CK_SESSION_HANDLE, dir: Dir) {
        let _ = self.with_ops(h, |s| {
            *Module::cipher_slot(s, dir) = None;
            Ok(())
        });
    }

    /// Ends a signing or verification after an argument error at the ABI.
    pub fn abort_mac(&self, h: CK_SESSION_HANDLE, dir: MacDir) {
        let _ = self.with_ops(h, |s| {
            *Module::mac_slot(s, dir) = None;
            Ok(())
        });
    }
}

impl Module {
    /// CKU_CONTEXT_SPECIFIC login: satisfies the pending signature or decryption of a key
    /// with CKA_ALWAYS_AUTHENTICATE, for one operation (for a message-based signing process,
    /// its next message). Without such an operation the login is CKR_OPERATION_NOT_INITIALIZED,
    /// whoever is logged in (§5.6: "improper use of this user type"); with one, it needs the
    /// normal user logged in.
    pub(crate) fn context_authenticate(
        &self,
        h: CK_SESSION_HANDLE,
        user_logged_in: bool,
        verify_pin: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        {
            let s = self.ops(h)?;
            let pending = s.sign.as_ref().is_some_and(|o| o.needs_auth)
                || s.decrypt.as_ref().is_some_and(|o| o.needs_auth)
                || s.sign_recover.as_ref().is_some_and(|o| o.needs_auth)
                || s.message_sign.as_ref().is_some_and(|p| p.needs_auth && !p.authorized);
            if !pending {
                return Err(Error::OperationNotInitialized);
            }
        }
        if !user_logged_in {
            return Err(Error::UserNotLoggedIn);
        }
        verify_pin()?;
        self.with_ops(h, |s| {
            for op in [
                s.sign.as_mut().map(|o| &mut o.needs_auth),
                s.decrypt.as_mut().map(|o| &mut o.needs_auth),
                s.sign_recover.as_mut().map(|o| &mut o.needs_auth),
            ]
            .into_iter()
            .flatten()
            {
                *op = false;
            }
            // A message-based signing process: its next message.
            if let Some(p) = s.message_sign.as_mut().filter(|p| p.needs_auth) {
                p.authorized = true;
            }
            Ok(())
        })
    }
}
