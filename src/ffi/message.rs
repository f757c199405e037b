//! Message-based encryption and decryption (PKCS#11 3.2 §5.10–§5.11): decoding of the
//! per-message CK_GCM_MESSAGE_PARAMS / CK_CCM_MESSAGE_PARAMS /
//! CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS (told apart by their sizes), and writing the IV
//! the token used and the tag it computed back into the caller's parameter.

use super::mechanism::{MAX_CCM_NONCE, MAX_CHACHA_NONCE, MAX_GCM_IV};
use super::{entry, out, slice, slice_mut};
use crate::error::{Error, Result};
use crate::mechanism::message::{MessageAead, MessageOutput, MessageParams};
use crate::mechanism::ops::Dir;
use cryptoki_sys::*;
use std::ffi::c_void;

/// A decoded message parameter and where to write the IV and tag back.
pub(super) struct Param {
    pub(super) params: MessageParams,
    iv_ptr: *mut CK_BYTE,
    tag_ptr: *mut CK_BYTE,
}

/// # Safety
/// `p` is valid for `len` bytes and, being a CK_GCM/CCM_MESSAGE_PARAMS or a
/// CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS, its pointers are valid for their lengths.
pub(super) unsafe fn param(p: *mut c_void, len: CK_ULONG, dir: Dir) -> Result<Param> {
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let bad = || Error::MechanismParamInvalid;
    // SAFETY: `p` holds `len` bytes, checked against each struct's size before
    // reading it; the embedded buffers are valid for the lengths the struct gives.
    unsafe {
        if len as usize == size_of::<CK_GCM_MESSAGE_PARAMS>() {
            let g = std::ptr::read_unaligned(p.cast::<CK_GCM_MESSAGE_PARAMS>());
            let mut params = gcm_message(g.pIv, g.ulIvLen, g.ulIvFixedBits, g.ivGenerator, g.ulTagBits)?;
            if dir == Dir::Decrypt {
                params.tag = slice(g.pTag, params.tag_len as CK_ULONG)?.to_vec();
            }
            Ok(Param { params, iv_ptr: g.pIv, tag_ptr: g.pTag })
        } else if len as usize == size_of::<CK_CCM_MESSAGE_PARAMS>() {
            let c = std::ptr::read_unaligned(p.cast::<CK_CCM_MESSAGE_PARAMS>());
            let data_len = Some(c.ulDataLen as usize);
            let mut params =
                ccm_message(c.pNonce, c.ulNonceLen, c.ulNonceFixedBits, c.nonceGenerator, c.ulMACLen, data_len)?;
            if dir == Dir::Decrypt {
                params.tag = slice(c.pMAC, c.ulMACLen)?.to_vec();
            }
            Ok(Param { params, iv_ptr: c.pNonce, tag_ptr: c.pMAC })
        } else if len as usize == size_of::<CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>() {
            let c = std::ptr::read_unaligned(p.cast::<CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>());
            if c.ulNonceLen > MAX_CHACHA_NONCE {
                return Err(bad());
            }
            // Poly1305's tag is 16 bytes; the structure has no room for another length.
            let tag = if dir == Dir::Decrypt { slice(c.pTag, 16)?.to_vec() } else { Vec::new() };
            Ok(Param {
                params: MessageParams {
                    layout: MessageAead::ChaChaPoly,
                    iv: slice(c.pNonce, c.ulNonceLen)?.to_vec(),
                    fixed_bits: 0,
                    generator: CKG_NO_GENERATE,
                    tag_len: 16,
                    tag,
                    data_len: None,
                },
                iv_ptr: c.pNonce,
                tag_ptr: c.pTag,
            })
        } else {
            Err(bad())
        }
    }
}

/// A CKM_AES_GCM or CKM_AES_CCM mechanism of C_WrapKey / C_UnwrapKey with PKCS#11 3.2's
/// CK_GCM_WRAP_PARAMS or CK_CCM_WRAP_PARAMS (told from CK_GCM_PARAMS / CK_CCM_PARAMS by their
/// sizes): the mechanism, the message parameter it stands for (the tag is filled in by the
/// unwrap; CCM's length is the wrapped key's, the structure's ulDataLen ignored as 3.2's
/// AES-CCM section says) and its associated data; `None` for any other.
///
/// # Safety
/// `m` is NULL or the caller's valid CK_MECHANISM, its parameter valid for its length.
pub(super) unsafe fn wrap_param(m: *const CK_MECHANISM) -> Option<Result<(CK_MECHANISM_TYPE, Param, Vec<u8>)>> {
    // SAFETY: NULL or the caller's CK_MECHANISM.
    let m = unsafe { m.as_ref() }?;
    let size = m.ulParameterLen as usize;
    let gcm = m.mechanism == CKM_AES_GCM && size == size_of::<CK_GCM_WRAP_PARAMS>();
    let ccm = m.mechanism == CKM_AES_CCM && size == size_of::<CK_CCM_WRAP_PARAMS>();
    if !(gcm || ccm) || m.pParameter.is_null() {
        return None;
    }
    crate::module::set_call_mechanism(m.mechanism);
    let bad = || Error::MechanismParamInvalid;
    // SAFETY: exactly the structure's size of readable bytes; the embedded buffers are valid
    // for the lengths the structure gives (checked against the largest the AEAD takes first).
    Some(unsafe {
        (|| {
            let (params, iv_ptr, aad) = if gcm {
                let g = std::ptr::read_unaligned(m.pParameter.cast::<CK_GCM_WRAP_PARAMS>());
                let params = gcm_message(g.pIv, g.ulIvLen, g.ulIvFixedBits, g.ivGenerator, g.ulTagBits);
                (params, g.pIv, (g.pAAD, g.ulAADLen))
            } else {
                let c = std::ptr::read_unaligned(m.pParameter.cast::<CK_CCM_WRAP_PARAMS>());
                let params =
                    ccm_message(c.pNonce, c.ulNonceLen, c.ulNonceFixedBits, c.nonceGenerator, c.ulMACLen, None);
                (params, c.pNonce, (c.pAAD, c.ulAADLen))
            };
            let params = params.map_err(|_| bad())?;
            let aad = slice(aad.0, aad.1).map_err(|_| bad())?.to_vec();
            Ok((m.mechanism, Param { params, iv_ptr, tag_ptr: std::ptr::null_mut() }, aad))
        })()
    })
}

/// The AES-GCM message parameter of an IV buffer, its generation fields and a tag length in
/// bits (a CK_GCM_MESSAGE_PARAMS's or a CK_GCM_WRAP_PARAMS's), without a tag: lengths no
/// AEAD takes (a tag over 16 bytes or of part of a byte, an IV over 256) are refused before
/// the IV is read.
///
/// # Safety
/// `iv` is NULL or valid for `iv_len` bytes.
unsafe fn gcm_message(
    iv: *mut CK_BYTE,
    iv_len: CK_ULONG,
    fixed_bits: CK_ULONG,
    generator: CK_GENERATOR_FUNCTION,
    tag_bits: CK_ULONG,
) -> Result<MessageParams> {
    if !tag_bits.is_multiple_of(8) || tag_bits > 128 || iv_len > MAX_GCM_IV {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(MessageParams {
        layout: MessageAead::Gcm,
        // SAFETY: the caller's IV buffer of `iv_len` bytes.
        iv: unsafe { slice(iv, iv_len) }?.to_vec(),
        fixed_bits: fixed_bits as usize,
        generator,
        tag_len: tag_bits as usize / 8,
        tag: Vec::new(),
        data_len: None,
    })
}

/// The AES-CCM message parameter of a nonce buffer, its generation fields, a MAC length and
/// the message length (a CK_CCM_MESSAGE_PARAMS's or, without a length, a
/// CK_CCM_WRAP_PARAMS's), without a MAC: lengths CCM cannot take refused before the nonce is
/// read.
///
/// # Safety
/// `nonce` is NULL or valid for `nonce_len` bytes.
unsafe fn ccm_message(
    nonce: *mut CK_BYTE,
    nonce_len: CK_ULONG,
    fixed_bits: CK_ULONG,
    generator: CK_GENERATOR_FUNCTION,
    mac_len: CK_ULONG,
    data_len: Option<usize>,
) -> Result<MessageParams> {
    if mac_len > 16 || nonce_len > MAX_CCM_NONCE {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(MessageParams {
        layout: MessageAead::Ccm,
        // SAFETY: the caller's nonce buffer of `nonce_len` bytes.
        iv: unsafe { slice(nonce, nonce_len) }?.to_vec(),
        fixed_bits: fixed_bits as usize,
        generator,
        tag_len: mac_len as usize,
        tag: Vec::new(),
        data_len,
    })
}

impl Param {
    /// Writes the IV used (and, for encryption, the tag) back into the caller's parameter.
    ///
    /// # Safety
    /// The pointers decoded by [`param`] are still valid.
    pub(super) unsafe fn write_back(&self, o: &MessageOutput, dir: Dir) -> Result<()> {
        // SAFETY: the IV buffer holds params.iv.len() == o.iv.len() bytes.
        unsafe { slice_mut(self.iv_ptr, o.iv.len() as CK_ULONG) }?.copy_from_slice(&o.iv);
        if dir == Dir::Encrypt && !o.tag.is_empty() {
            // SAFETY: the tag buffer holds tag_len == o.tag.len() bytes (§2.x of the mechanism).
            unsafe { slice_mut(self.tag_ptr, o.tag.len() as CK_ULONG) }?.copy_from_slice(&o.tag);
        }
        Ok(())
    }
}

fn init(h: CK_SESSION_HANDLE, dir: Dir, p_mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) -> CK_RV {
    let _call =
        crate::module::enter_call(if dir == Dir::Encrypt { "C_MessageEncryptInit" } else { "C_MessageDecryptInit" });
    entry(|m| {
        // SAFETY: NULL or the caller's CK_MECHANISM; its parameter is per message, not here.
        let Some(mech) = (unsafe { p_mechanism.as_ref() }) else {
            return m.end_operation(h, |s| crate::module::Module::message_slot(s, dir));
        };
        // The parameters travel with each message (§6.13: "the mechanism parameter is
        // passed to" C_EncryptMessage, C_EncryptMessageBegin and C_EncryptMessageNext). One
        // given here is not used, but must at least be the mechanism's message parameter
        // structure: anything else is CKR_MECHANISM_PARAM_INVALID (a key the operation
        // could not use is reported first, as for every C_*Init).
        let shape = match mech.mechanism {
            CKM_AES_GCM => size_of::<CK_GCM_MESSAGE_PARAMS>(),
            CKM_AES_CCM => size_of::<CK_CCM_MESSAGE_PARAMS>(),
            _ => size_of::<CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>(),
        };
        if mech.ulParameterLen != 0 && (mech.pParameter.is_null() || mech.ulParameterLen as usize != shape) {
            let usage = if dir == Dir::Encrypt {
                (CKF_MESSAGE_ENCRYPT, CKA_ENCRYPT)
            } else {
                (CKF_MESSAGE_DECRYPT, CKA_DECRYPT)
            };
            return Err(m.init_refused(h, Error::MechanismParamInvalid, mech.mechanism, key, usage));
        }
        m.message_init(h, dir, mech.mechanism, key)
    })
}

#[allow(clippy::too_many_arguments)]
fn whole(
    h: CK_SESSION_HANDLE,
    dir: Dir,
    p_param: *mut c_void,
    param_len: CK_ULONG,
    p_ad: *mut CK_BYTE,
    ad_len: CK_ULONG,
    p_in: *mut CK_BYTE,
    in_len: CK_ULONG,
    p_out: *mut CK_BYTE,
    pul_out: *mut CK_ULONG,
) -> CK_RV {
    entry(|m| {
        m.message_ready(h, dir)?;
        // SAFETY: the caller's buffers, valid for the lengths given (§5.10).
        let (p, ad, input, len) =
            unsafe { (param(p_param, param_len, dir)?, slice(p_ad, ad_len)?, slice(p_in, in_len)?, out(pul_out)?) };
        let Some(cap) = super::capacity(p_out, *len)? else {
            *len = in_len;
            return Ok(());
        };
        if cap < in_len as usize {
            *len = in_len;
            return Err(Error::BufferTooSmall);
        }
        // Into the caller's buffer, unless it overlaps the input (PKCS#11 allows in-place
        // calls; Rust must not alias them).
        let o = if super::crypt::overlaps(input, p_out, in_len as usize) {
            let o = m.message(h, dir, &p.params, ad, input, None)?;
            // SAFETY: the output holds *len >= in_len == o.data.len() bytes.
            unsafe { slice_mut(p_out, o.data.len() as CK_ULONG)?.copy_from_slice(&o.data) };
            o
        } else {
            // SAFETY: the caller's output buffer holds *len >= in_len bytes and does not
            // overlap the input slice (checked).
            let dest = unsafe { slice_mut(p_out, in_len) }?;
            m.message(h, dir, &p.params, ad, input, Some(dest))?
        };
        // SAFETY: the parameter's IV and tag buffers are still valid.
        unsafe { p.write_back(&o, dir) }?;
        *len = in_len;
        Ok(())
    })
}

fn begin(
    h: CK_SESSION_HANDLE,
    dir: Dir,
    p_param: *mut c_void,
    param_len: CK_ULONG,
    p_ad: *mut CK_BYTE,
    ad_len: CK_ULONG,
) -> CK_RV {
    entry(|m| {
        m.message_ready(h, dir)?;
        // SAFETY: the caller's buffers, valid for the lengths given.
        let (p, ad) = unsafe { (param(p_param, param_len, dir)?, slice(p_ad, ad_len)?) };
        let iv = m.message_begin(h, dir, &p.params, ad)?;
        // SAFETY: the parameter's IV buffer holds iv.len() bytes.
        unsafe { p.write_back(&MessageOutput { data: Vec::new(), iv, tag: Vec::new() }, dir) }
    })
}

#[allow(clippy::too_many_arguments)]
fn next(
    h: CK_SESSION_HANDLE,
    dir: Dir,
    p_param: *mut c_void,
    param_len: CK_ULONG,
    p_in: *mut CK_BYTE,
    in_len: CK_ULONG,
    p_out: *mut CK_BYTE,
    pul_out: *mut CK_ULONG,
    flags: CK_FLAGS,
) -> CK_RV {
    entry(|m| {
        let end = flags & CKF_END_OF_MESSAGE != 0;
        // The operation's state first (a message begun), then the arguments.
        let needed = m.message_next_len(h, dir, usize::try_from(in_len).unwrap_or(usize::MAX), end)?;
        let r = next_part(m, h, dir, (p_param, param_len), (p_in, in_len), (p_out, pul_out), end, needed);
        if r.as_ref().is_err_and(|e| !matches!(e, Error::BufferTooSmall)) {
            m.message_abort(h, dir);
        }
        r
    })
}

/// The rest of [`next`], once a message is known to be under way.
#[allow(clippy::too_many_arguments)]
fn next_part(
    m: &crate::module::Module,
    h: CK_SESSION_HANDLE,
    dir: Dir,
    (p_param, param_len): (*mut c_void, CK_ULONG),
    (p_in, in_len): (*mut CK_BYTE, CK_ULONG),
    (p_out, pul_out): (*mut CK_BYTE, *mut CK_ULONG),
    end: bool,
    needed: usize,
) -> Result<()> {
    // SAFETY: the caller's buffers, valid for the lengths given.
    let (p, input, len) = unsafe { (param(p_param, param_len, dir)?, slice(p_in, in_len)?, out(pul_out)?) };
    if p_out.is_null() {
        *len = needed as CK_ULONG;
        return Ok(());
    }
    if (*len as usize) < needed {
        *len = needed as CK_ULONG;
        return Err(Error::BufferTooSmall);
    }
    let tag = (dir == Dir::Decrypt).then_some(&p.params.tag[..]);
    let o = m.message_next(h, dir, input, end, tag)?;
    // SAFETY: the output holds *len >= needed == o.data.len() bytes; params still valid.
    unsafe {
        slice_mut(p_out, o.data.len() as CK_ULONG)?.copy_from_slice(&o.data);
        if end {
            p.write_back(&o, dir)?;
        }
    }
    *len = o.data.len() as CK_ULONG;
    Ok(())
}

/// §5.10 C_MessageEncryptInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageEncryptInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    init(h, Dir::Encrypt, p_mechanism, key)
}

/// §5.10 C_EncryptMessage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptMessage(
    h: CK_SESSION_HANDLE,
    p_param: *mut c_void,
    param_len: CK_ULONG,
    p_ad: *mut CK_BYTE,
    ad_len: CK_ULONG,
    p_plain: *mut CK_BYTE,
    plain_len: CK_ULONG,
    p_cipher: *mut CK_BYTE,
    pul_cipher: *mut CK_ULONG,
) -> CK_RV {
    whole(h, Dir::Encrypt, p_param, param_len, p_ad, ad_len, p_plain, plain_len, p_cipher, pul_cipher)
}

/// §5.10 C_EncryptMessageBegin.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptMessageBegin(
    h: CK_SESSION_HANDLE,
    p_param: *mut c_void,
    param_len: CK_ULONG,
    p_ad: *mut CK_BYTE,
    ad_len: CK_ULONG,
) -> CK_RV {
    begin(h, Dir::Encrypt, p_param, param_len, p_ad, ad_len)
}

/// §5.10 C_EncryptMessageNext.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_EncryptMessageNext(
    h: CK_SESSION_HANDLE,
    p_param: *mut c_void,
    param_len: CK_ULONG,
    p_part: *mut CK_BYTE,
    part_len: CK_ULONG,
    p_out: *mut CK_BYTE,
    pul_out: *mut CK_ULONG,
    flags: CK_FLAGS,
) -> CK_RV {
    next(h, Dir::Encrypt, p_param, param_len, p_part, part_len, p_out, pul_out, flags)
}

/// §5.10 C_MessageEncryptFinal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageEncryptFinal(h: CK_SESSION_HANDLE) -> CK_RV {
    entry(|m| m.message_final(h, Dir::Encrypt))
}

/// §5.11 C_MessageDecryptInit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageDecryptInit(
    h: CK_SESSION_HANDLE,
    p_mechanism: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    init(h, Dir::Decrypt, p_mechanism, key)
}

/// §5.11 C_DecryptMessage.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptMessage(
    h: CK_SESSION_HANDLE,
    p_param: *mut c_void,
    param_len: CK_ULONG,
    p_ad: *mut CK_BYTE,
    ad_len: CK_ULONG,
    p_cipher: *mut CK_BYTE,
    cipher_len: CK_ULONG,
    p_plain: *mut CK_BYTE,
    pul_plain: *mut CK_ULONG,
) -> CK_RV {
    whole(h, Dir::Decrypt, p_param, param_len, p_ad, ad_len, p_cipher, cipher_len, p_plain, pul_plain)
}

/// §5.11 C_DecryptMessageBegin.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptMessageBegin(
    h: CK_SESSION_HANDLE,
    p_param: *mut c_void,
    param_len: CK_ULONG,
    p_ad: *mut CK_BYTE,
    ad_len: CK_ULONG,
) -> CK_RV {
    begin(h, Dir::Decrypt, p_param, param_len, p_ad, ad_len)
}

/// §5.11 C_DecryptMessageNext.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_DecryptMessageNext(
    h: CK_SESSION_HANDLE,
    p_param: *mut c_void,
    param_len: CK_ULONG,
    p_part: *mut CK_BYTE,
    part_len: CK_ULONG,
    p_out: *mut CK_BYTE,
    pul_out: *mut CK_ULONG,
    flags: CK_FLAGS,
) -> CK_RV {
    next(h, Dir::Decrypt, p_param, param_len, p_part, part_len, p_out, pul_out, flags)
}

/// §5.11 C_MessageDecryptFinal.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_MessageDecryptFinal(h: CK_SESSION_HANDLE) -> CK_RV {
    entry(|m| m.message_final(h, Dir::Decrypt))
}
