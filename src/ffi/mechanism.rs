//! Decoding of CK_MECHANISM into an owned, typed [`crate::mechanism::Mechanism`] by the parameter shape its
//! registry entry declares (PKCS#11 3.2 §5.2 and the mechanisms' parameter structures).
//! Unknown mechanisms are CKR_MECHANISM_INVALID; parameters of the wrong size or with
//! out-of-range fields are CKR_MECHANISM_PARAM_INVALID.

use super::slice;
use crate::crypto::evp::Hash;
use crate::error::{Error, Result};
use crate::mechanism::kbkdf::{Format, KbkdfParams, PrfData};
use crate::mechanism::kdf::Salt;
use crate::mechanism::{self, Mechanism, ParamShape, Params};
use crate::object::Attribute;
use crate::secret::{Bytes, Hidden};
use cryptoki_sys::*;

/// CK_GCM_PARAMS as PKCS#11 2.40 headers laid it out (no ulIvBits); still sent by clients
/// built against them.
#[repr(C)]
#[derive(Clone, Copy)]
struct GcmParams240 {
    p_iv: *mut CK_BYTE,
    ul_iv_len: CK_ULONG,
    p_aad: *mut CK_BYTE,
    ul_aad_len: CK_ULONG,
    ul_tag_bits: CK_ULONG,
}

/// A CK_PKCS5_PBKD2_PARAMS2 password length from this value up is the address of the length
/// (the 2.40 CK_PKCS5_PBKD2_PARAMS layout).
pub const PBKDF2_LEN_AS_POINTER: CK_ULONG = 0x1_0000;

/// Reads the parameter as a `T` when its length is exactly `size_of::<T>()`.
///
/// # Safety
/// `m.pParameter` is valid for `m.ulParameterLen` bytes.
unsafe fn param<T: Copy>(m: &CK_MECHANISM) -> Option<T> {
    if m.pParameter.is_null() || m.ulParameterLen as usize != size_of::<T>() {
        return None;
    }
    // SAFETY: non-NULL and exactly size_of::<T>() readable bytes; read_unaligned copes with
    // any alignment; T is plain old data.
    Some(unsafe { std::ptr::read_unaligned(m.pParameter.cast::<T>()) })
}

/// Copies `len` bytes at `p` (NULL allowed when `len` is 0).
///
/// # Safety
/// `p` is NULL or valid for `len` bytes.
unsafe fn bytes(p: *const CK_BYTE, len: CK_ULONG) -> Result<Vec<u8>> {
    // SAFETY: caller's contract.
    unsafe { slice(p, len) }.map(<[u8]>::to_vec).map_err(|_| Error::MechanismParamInvalid)
}

/// The longest AES-GCM IV, AES-CCM nonce and ChaCha20-Poly1305 nonce (XChaCha20's) any
/// mechanism takes, in bytes: longer ones are refused before their buffers are read, in the
/// mechanism parameters here and in the message-based ones (`ffi::message`).
pub(super) const MAX_GCM_IV: CK_ULONG = 256;
pub(super) const MAX_CCM_NONCE: CK_ULONG = 13;
pub(super) const MAX_CHACHA_NONCE: CK_ULONG = 24;

/// As [`bytes`], for a field no mechanism takes more than `max` bytes of (an IV, a nonce):
/// a longer one is CKR_MECHANISM_PARAM_INVALID before its buffer is read.
///
/// # Safety
/// As [`bytes`].
unsafe fn short_bytes(p: *const CK_BYTE, len: CK_ULONG, max: CK_ULONG) -> Result<Vec<u8>> {
    if len > max {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: caller's contract.
    unsafe { bytes(p, len) }
}

/// An ML-DSA context string: FIPS 204 contexts are at most 255 bytes, and a longer one is not
/// read.
///
/// # Safety
/// As [`bytes`].
unsafe fn sign_context(p: *const CK_BYTE, len: CK_ULONG) -> Result<Vec<u8>> {
    if len > 255 {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: caller's contract.
    unsafe { bytes(p, len) }
}

/// Decodes a CK_MECHANISM.
///
/// # Safety
/// `p` is NULL or a valid CK_MECHANISM whose parameter is valid for its length, and whose
/// embedded pointers are valid for their lengths.
pub unsafe fn mechanism(p: *const CK_MECHANISM) -> Result<Mechanism> {
    // SAFETY: caller's contract.
    let m = unsafe { p.as_ref() }.ok_or(Error::ArgumentsBad)?;
    crate::module::set_call_mechanism(m.mechanism);
    let entry = mechanism::lookup(m.mechanism).ok_or(Error::MechanismInvalid)?;
    // SAFETY: the parameter and its embedded buffers are the caller's, valid for the lengths
    // given, per this function's contract; every read below is bounded by those lengths.
    let params = unsafe { decode(entry.params, m) }?;
    Ok(Mechanism { ty: m.mechanism, params })
}

/// As [`mechanism`], for a call on session `h`: when the mechanism is refused, a handle
/// that names no open session is the error reported (the session is the call's first
/// argument; SoftHSMv2 and other tokens check it first).
///
/// # Safety
/// As [`mechanism`].
pub unsafe fn session_mechanism(m: &crate::Module, h: CK_SESSION_HANDLE, p: *const CK_MECHANISM) -> Result<Mechanism> {
    // SAFETY: the caller's contract.
    unsafe { mechanism(p) }.map_err(|e| m.session_checked(h, e))
}

/// Decodes the parameter of `m` for `shape`.
///
/// # Safety
/// As [`mechanism`].
unsafe fn decode(shape: ParamShape, m: &CK_MECHANISM) -> Result<Params> {
    let bad = Error::MechanismParamInvalid;
    // SAFETY: the caller guarantees the parameter and its embedded buffers are valid.
    unsafe {
        Ok(match shape {
            ParamShape::None if m.ulParameterLen == 0 => Params::None,
            ParamShape::None => return Err(bad),
            ParamShape::Iv16 => match param::<[u8; 16]>(m) {
                Some(iv) => Params::Iv(iv.to_vec()),
                None => return Err(bad),
            },
            ParamShape::Iv8 => match param::<[u8; 8]>(m) {
                Some(iv) => Params::Iv(iv.to_vec()),
                None => return Err(bad),
            },
            ParamShape::AesCtr => {
                let c = param::<CK_AES_CTR_PARAMS>(m).ok_or(bad)?;
                if !(1..=128).contains(&c.ulCounterBits) {
                    return Err(Error::MechanismParamInvalid);
                }
                Params::Ctr { counter_bits: c.ulCounterBits as u32, block: c.cb }
            }
            // 2.40 gave CKM_AES_GMAC a bare 12-byte IV; no CK_GCM_PARAMS is 12 bytes long.
            ParamShape::Gmac if m.ulParameterLen == 12 => match param::<[u8; 12]>(m) {
                Some(iv) => Params::Gcm { iv: iv.to_vec(), aad: Vec::new(), tag_bits: 128 },
                None => return Err(bad),
            },
            ParamShape::Gcm | ParamShape::Gmac => {
                let (iv, aad, tag_bits) = if let Some(g) = param::<CK_GCM_PARAMS>(m) {
                    (short_bytes(g.pIv, g.ulIvLen, MAX_GCM_IV)?, bytes(g.pAAD, g.ulAADLen)?, g.ulTagBits)
                } else if let Some(g) = param::<GcmParams240>(m) {
                    (short_bytes(g.p_iv, g.ul_iv_len, MAX_GCM_IV)?, bytes(g.p_aad, g.ul_aad_len)?, g.ul_tag_bits)
                } else {
                    return Err(bad);
                };
                Params::Gcm { iv, aad, tag_bits: tag_bits as usize }
            }
            ParamShape::Ccm => {
                let c = param::<CK_CCM_PARAMS>(m).ok_or(bad)?;
                Params::Ccm {
                    data_len: c.ulDataLen as usize,
                    nonce: short_bytes(c.pNonce, c.ulNonceLen, MAX_CCM_NONCE)?,
                    aad: bytes(c.pAAD, c.ulAADLen)?,
                    mac_len: c.ulMACLen as usize,
                }
            }
            ParamShape::ChaChaPoly => {
                let c = param::<CK_SALSA20_CHACHA20_POLY1305_PARAMS>(m).ok_or(bad)?;
                Params::Aead {
                    nonce: short_bytes(c.pNonce, c.ulNonceLen, MAX_CHACHA_NONCE)?,
                    aad: bytes(c.pAAD, c.ulAADLen)?,
                }
            }
            ParamShape::ChaCha20 => {
                let c = param::<CK_CHACHA20_PARAMS>(m).ok_or(bad)?;
                // The counter as the state's words hold it, least significant byte first
                // (RFC 8439 §2.3); a NULL counter starts at block 0.
                let width = match c.blockCounterBits {
                    32 | 64 => c.blockCounterBits as u32,
                    _ => return Err(Error::MechanismParamInvalid),
                };
                let mut le = [0u8; 8];
                if !c.pBlockCounter.is_null() {
                    le[..width as usize / 8].copy_from_slice(&bytes(c.pBlockCounter, CK_ULONG::from(width / 8))?);
                }
                if !matches!(c.ulNonceBits, 64 | 96 | 192) {
                    return Err(Error::MechanismParamInvalid);
                }
                let nonce = bytes(c.pNonce, c.ulNonceBits / 8)?;
                Params::ChaCha20 { counter: u64::from_le_bytes(le), counter_bits: width, nonce }
            }
            ParamShape::Pbkdf2 => {
                let c = param::<CK_PKCS5_PBKD2_PARAMS2>(m).ok_or(bad)?;
                let prf = match c.prf {
                    CKP_PKCS5_PBKD2_HMAC_SHA1 => Hash::Sha1,
                    CKP_PKCS5_PBKD2_HMAC_SHA224 => Hash::Sha224,
                    CKP_PKCS5_PBKD2_HMAC_SHA256 => Hash::Sha256,
                    CKP_PKCS5_PBKD2_HMAC_SHA384 => Hash::Sha384,
                    CKP_PKCS5_PBKD2_HMAC_SHA512 => Hash::Sha512,
                    CKP_PKCS5_PBKD2_HMAC_SHA512_224 => Hash::Sha512_224,
                    CKP_PKCS5_PBKD2_HMAC_SHA512_256 => Hash::Sha512_256,
                    _ => return Err(Error::MechanismParamInvalid),
                };
                // The HMAC functions take no PRF data; the salt is the only source there is.
                if c.saltSource != CKZ_SALT_SPECIFIED || c.ulPrfDataLen != 0 || c.iterations == 0 {
                    return Err(Error::MechanismParamInvalid);
                }
                let iterations = u32::try_from(c.iterations).map_err(|_| Error::MechanismParamInvalid)?;
                // PKCS#11 2.40's CK_PKCS5_PBKD2_PARAMS has the same size and fields, but its
                // last field points at the password length. No password is 64 KiB long, and
                // no program's data lies in the first 64 KiB of its address space (programs
                // are linked far above it, and heap, stacks and libraries are mapped higher
                // still), so the value tells the two layouts apart.
                let password_len = if c.ulPasswordLen < PBKDF2_LEN_AS_POINTER {
                    c.ulPasswordLen
                } else {
                    std::ptr::read_unaligned(c.ulPasswordLen as usize as *const CK_ULONG)
                };
                Params::Pbkdf2 {
                    prf,
                    salt: bytes(c.pSaltSourceData.cast(), c.ulSaltSourceDataLen)?,
                    iterations,
                    password: Hidden(Bytes::new(bytes(c.pPassword, password_len)?)),
                }
            }
            ParamShape::Pbe => {
                let c = param::<CK_PBE_PARAMS>(m).ok_or(bad)?;
                // The DES mechanisms write their IV where pInitVector points (C_GenerateKey).
                if c.ulIteration == 0 || c.pInitVector.is_null() && m.mechanism != CKM_PBA_SHA1_WITH_SHA1_HMAC {
                    return Err(Error::MechanismParamInvalid);
                }
                Params::Pbe {
                    password: Hidden(Bytes::new(bytes(c.pPassword, c.ulPasswordLen)?)),
                    salt: bytes(c.pSalt, c.ulSaltLen)?,
                    iterations: u32::try_from(c.ulIteration).map_err(|_| Error::MechanismParamInvalid)?,
                }
            }
            ParamShape::OptIv8 | ParamShape::OptIv4 if m.ulParameterLen == 0 => Params::None,
            ParamShape::OptIv8 => Params::Iv(param::<[u8; 8]>(m).ok_or(bad)?.to_vec()),
            ParamShape::OptIv4 => Params::Iv(param::<[u8; 4]>(m).ok_or(bad)?.to_vec()),
            ParamShape::DerivationData => {
                let d = param::<CK_KEY_DERIVATION_STRING_DATA>(m).ok_or(bad)?;
                Params::Data(bytes(d.pData, d.ulLen)?)
            }
            ParamShape::AesCbcData => {
                let d = param::<CK_AES_CBC_ENCRYPT_DATA_PARAMS>(m).ok_or(bad)?;
                Params::IvData { iv: d.iv.to_vec(), data: bytes(d.pData, d.length)? }
            }
            ParamShape::Des3CbcData => {
                let d = param::<CK_DES_CBC_ENCRYPT_DATA_PARAMS>(m).ok_or(bad)?;
                Params::IvData { iv: d.iv.to_vec(), data: bytes(d.pData, d.length)? }
            }
            ParamShape::Bytes => Params::Data(bytes(m.pParameter.cast(), m.ulParameterLen)?),
            ParamShape::Handle => Params::Handle(param::<CK_OBJECT_HANDLE>(m).ok_or(bad)?),
            ParamShape::IkePrf => {
                let p = param::<CK_IKE_PRF_DERIVE_PARAMS>(m).ok_or(bad)?;
                let mut nonces = bytes(p.pNi, p.ulNiLen)?;
                nonces.extend_from_slice(&bytes(p.pNr, p.ulNrLen)?);
                Params::IkePrf {
                    prf: p.prfMechanism,
                    data_as_key: p.bDataAsKey != 0,
                    rekey: p.bRekey != 0,
                    nonces,
                    new_key: p.hNewKey,
                }
            }
            ParamShape::Ike1Prf => {
                let p = param::<CK_IKE1_PRF_DERIVE_PARAMS>(m).ok_or(bad)?;
                let mut cookies = bytes(p.pCKYi, p.ulCKYiLen)?;
                cookies.extend_from_slice(&bytes(p.pCKYr, p.ulCKYrLen)?);
                Params::Ike1Prf {
                    prf: p.prfMechanism,
                    gxy: p.hKeygxy,
                    previous: (p.bHasPrevKey != 0).then_some(p.hPrevKey),
                    cookies,
                    key_number: p.keyNumber,
                }
            }
            ParamShape::Ike2PrfPlus => {
                let p = param::<CK_IKE2_PRF_PLUS_DERIVE_PARAMS>(m).ok_or(bad)?;
                Params::Ike2PrfPlus {
                    prf: p.prfMechanism,
                    seed_key: (p.bHasSeedKey != 0).then_some(p.hSeedKey),
                    seed: bytes(p.pSeedData, p.ulSeedDataLen)?,
                }
            }
            ParamShape::Ike1Extended => {
                let p = param::<CK_IKE1_EXTENDED_DERIVE_PARAMS>(m).ok_or(bad)?;
                Params::Ike1Extended {
                    prf: p.prfMechanism,
                    gxy: (p.bHasKeygxy != 0).then_some(p.hKeygxy),
                    extra: bytes(p.pExtraData, p.ulExtraDataLen)?,
                }
            }
            ParamShape::Ulong => Params::Ulong(param::<CK_ULONG>(m).ok_or(bad)?),
            ParamShape::Hkdf => {
                let p = param::<CK_HKDF_PARAMS>(m).ok_or(bad)?;
                let (extract, expand) = (p.bExtract != 0, p.bExpand != 0);
                // "The salt should be ignored if bExtract is false. The pInfo should be
                // ignored if bExpand is set to false" (3.2's HKDF section): neither is read
                // then (pkcs11-provider's expand-only calls are reported to leave ulSaltType
                // zero).
                let salt = match p.ulSaltType {
                    _ if !extract => Salt::Null,
                    CKF_HKDF_SALT_NULL => Salt::Null,
                    CKF_HKDF_SALT_DATA => Salt::Data(bytes(p.pSalt, p.ulSaltLen)?),
                    CKF_HKDF_SALT_KEY => Salt::Key(p.hSaltKey),
                    _ => return Err(Error::MechanismParamInvalid),
                };
                let info = if expand { bytes(p.pInfo, p.ulInfoLen)? } else { Vec::new() };
                Params::Hkdf { extract, expand, prf: p.prfHashMechanism, salt, info }
            }
            ParamShape::Sp800 => {
                let k = param::<CK_SP800_108_KDF_PARAMS>(m).ok_or(bad)?;
                Params::Kbkdf(KbkdfParams {
                    prf: k.prfType,
                    data: data_params(k.pDataParams, k.ulNumberOfDataParams)?,
                    iv: Vec::new(),
                    additional: additional(k.pAdditionalDerivedKeys, k.ulAdditionalDerivedKeys)?,
                })
            }
            ParamShape::Sp800Feedback => {
                let k = param::<CK_SP800_108_FEEDBACK_KDF_PARAMS>(m).ok_or(bad)?;
                Params::Kbkdf(KbkdfParams {
                    prf: k.prfType,
                    data: data_params(k.pDataParams, k.ulNumberOfDataParams)?,
                    iv: bytes(k.pIV, k.ulIVLen)?,
                    additional: additional(k.pAdditionalDerivedKeys, k.ulAdditionalDerivedKeys)?,
                })
            }
            ParamShape::RsaPss => {
                let p = param::<CK_RSA_PKCS_PSS_PARAMS>(m).ok_or(bad)?;
                Params::Pss { hash: p.hashAlg, mgf: p.mgf, salt: p.sLen as usize }
            }
            ParamShape::RsaOaep => {
                let p = param::<CK_RSA_PKCS_OAEP_PARAMS>(m).ok_or(bad)?;
                let label = match p.source {
                    0 if p.ulSourceDataLen == 0 => Vec::new(),
                    CKZ_DATA_SPECIFIED => bytes(p.pSourceData.cast(), p.ulSourceDataLen)?,
                    _ => return Err(Error::MechanismParamInvalid),
                };
                Params::Oaep { hash: p.hashAlg, mgf: p.mgf, label }
            }
            ParamShape::X942Dh1 => {
                let p = param::<CK_X9_42_DH1_DERIVE_PARAMS>(m).ok_or(bad)?;
                Params::X942 {
                    kdf: p.kdf,
                    other_info: bytes(p.pOtherInfo, p.ulOtherInfoLen)?,
                    public: bytes(p.pPublicData, p.ulPublicDataLen)?,
                    second: None,
                }
            }
            ParamShape::X942Dh2 => {
                let p = param::<CK_X9_42_DH2_DERIVE_PARAMS>(m).ok_or(bad)?;
                Params::X942 {
                    kdf: p.kdf,
                    other_info: bytes(p.pOtherInfo, p.ulOtherInfoLen)?,
                    public: bytes(p.pPublicData, p.ulPublicDataLen)?,
                    second: Some((p.hPrivateData, bytes(p.pPublicData2, p.ulPublicDataLen2)?)),
                }
            }
            ParamShape::EcdhAesWrap => {
                let p = param::<CK_ECDH_AES_KEY_WRAP_PARAMS>(m).ok_or(bad)?;
                Params::EcdhAesWrap {
                    aes_bits: p.ulAESKeyBits as usize,
                    kdf: p.kdf,
                    shared: bytes(p.pSharedData, p.ulSharedDataLen)?,
                }
            }
            ParamShape::RsaAesWrap => {
                let p = param::<CK_RSA_AES_KEY_WRAP_PARAMS>(m).ok_or(bad)?;
                let o = p.pOAEPParams.as_ref().ok_or(Error::MechanismParamInvalid)?;
                let label = match o.source {
                    0 if o.ulSourceDataLen == 0 => Vec::new(),
                    CKZ_DATA_SPECIFIED => bytes(o.pSourceData.cast(), o.ulSourceDataLen)?,
                    _ => return Err(Error::MechanismParamInvalid),
                };
                Params::RsaAesWrap { aes_bits: p.ulAESKeyBits as usize, hash: o.hashAlg, mgf: o.mgf, label }
            }
            ParamShape::EdDsa if m.ulParameterLen == 0 => Params::None,
            ParamShape::EdDsa => {
                let p = param::<CK_EDDSA_PARAMS>(m).ok_or(bad)?;
                Params::EdDsa { prehash: p.phFlag != 0, context: bytes(p.pContextData, p.ulContextDataLen)? }
            }
            ParamShape::SignContext if m.ulParameterLen == 0 => Params::None,
            ParamShape::SignContext => {
                let p = param::<CK_SIGN_ADDITIONAL_CONTEXT>(m).ok_or(bad)?;
                Params::SignContext { hedge: p.hedgeVariant, context: sign_context(p.pContext, p.ulContextLen)? }
            }
            ParamShape::HashSignContext => {
                let p = param::<CK_HASH_SIGN_ADDITIONAL_CONTEXT>(m).ok_or(bad)?;
                Params::HashSignContext {
                    hedge: p.hedgeVariant,
                    context: sign_context(p.pContext, p.ulContextLen)?,
                    hash: p.hash,
                }
            }
            // None at all: ECDH as a KEM may take none (C_DeriveKey refuses it).
            ParamShape::Ecdh if m.ulParameterLen == 0 && m.pParameter.is_null() => Params::None,
            ParamShape::Ecdh => {
                let p = param::<CK_ECDH1_DERIVE_PARAMS>(m).ok_or(bad)?;
                Params::Ecdh {
                    kdf: p.kdf,
                    shared: bytes(p.pSharedData, p.ulSharedDataLen)?,
                    public: bytes(p.pPublicData, p.ulPublicDataLen)?,
                }
            }
            ParamShape::MacGeneral => Params::MacLen(param::<CK_ULONG>(m).ok_or(bad)? as usize),
            ParamShape::TlsMaster => {
                let p = param::<CK_TLS12_MASTER_KEY_DERIVE_PARAMS>(m).ok_or(bad)?;
                Params::TlsMaster {
                    prf: p.prfHashMechanism,
                    seed: randoms(&p.RandomInfo)?,
                    version: !p.pVersion.is_null(),
                }
            }
            ParamShape::TlsExtendedMaster => {
                let p = param::<CK_TLS12_EXTENDED_MASTER_KEY_DERIVE_PARAMS>(m).ok_or(bad)?;
                Params::TlsMaster {
                    prf: p.prfHashMechanism,
                    seed: bytes(p.pSessionHash, p.ulSessionHashLen)?,
                    version: !p.pVersion.is_null(),
                }
            }
            ParamShape::TlsKeyMaterial => {
                let p = param::<CK_TLS12_KEY_MAT_PARAMS>(m).ok_or(bad)?;
                // Export suites have no place in TLS 1.1 and later ("must be set to
                // CK_FALSE"); the handles and IVs need somewhere to go, the IVs (when asked
                // for) buffers of their length.
                let out = p.pReturnedKeyMaterial.as_ref().ok_or(Error::MechanismParamInvalid)?;
                let ivs = m.mechanism != CKM_TLS12_KEY_SAFE_DERIVE && p.ulIVSizeInBits != 0;
                if p.bIsExport != 0 || ivs && (out.pIVClient.is_null() || out.pIVServer.is_null()) {
                    return Err(Error::MechanismParamInvalid);
                }
                let bits = |b: CK_ULONG| {
                    usize::try_from(b).ok().filter(|&b| b <= 8 * 1024).ok_or(Error::MechanismParamInvalid)
                };
                let r = &p.RandomInfo;
                Params::TlsKeyMaterial {
                    prf: p.prfHashMechanism,
                    mac_bits: bits(p.ulMacSizeInBits)?,
                    key_bits: bits(p.ulKeySizeInBits)?,
                    iv_bits: bits(p.ulIVSizeInBits)?,
                    client_random: bytes(r.pClientRandom, r.ulClientRandomLen)?,
                    server_random: bytes(r.pServerRandom, r.ulServerRandomLen)?,
                }
            }
            ParamShape::TlsKdf => {
                let p = param::<CK_TLS_KDF_PARAMS>(m).ok_or(bad)?;
                // RFC 5705: with a context, its length (two bytes) and itself follow the
                // randoms; "NULL_PTR if not present".
                let mut seed = randoms(&p.RandomInfo)?;
                if !p.pContextData.is_null() {
                    let context = bytes(p.pContextData, p.ulContextDataLength)?;
                    let n = u16::try_from(context.len()).map_err(|_| Error::MechanismParamInvalid)?;
                    seed.extend_from_slice(&n.to_be_bytes());
                    seed.extend_from_slice(&context);
                } else if p.ulContextDataLength != 0 {
                    return Err(Error::MechanismParamInvalid);
                }
                Params::TlsKdf { prf: p.prfMechanism, label: bytes(p.pLabel, p.ulLabelLength)?, seed }
            }
            ParamShape::TlsMac => {
                let p = param::<CK_TLS_MAC_PARAMS>(m).ok_or(bad)?;
                // 1 for "server finished", 2 for "client finished"; "all other values are
                // invalid".
                let server = match p.ulServerOrClient {
                    1 => true,
                    2 => false,
                    _ => return Err(Error::MechanismParamInvalid),
                };
                Params::TlsMac { prf: p.prfHashMechanism, len: p.ulMacLength as usize, server }
            }
            ParamShape::Version => {
                let v = param::<CK_VERSION>(m).ok_or(bad)?;
                Params::Version(v.major, v.minor)
            }
        })
    }
}

/// The client's random, then the server's (CK_SSL3_RANDOM_DATA), as the TLS PRF seeds of the
/// master secret and exporters take them.
///
/// # Safety
/// The randoms' pointers are NULL or valid for their lengths.
unsafe fn randoms(r: &CK_SSL3_RANDOM_DATA) -> Result<Vec<u8>> {
    // SAFETY: caller's contract.
    unsafe { Ok([bytes(r.pClientRandom, r.ulClientRandomLen)?, bytes(r.pServerRandom, r.ulServerRandomLen)?].concat()) }
}

/// Where a TLS derivation's results go: the CK_VERSION of a master secret derivation, and
/// the CK_SSL3_KEY_MAT_OUT of key material.
pub struct TlsOutputs {
    pub version: *mut CK_VERSION,
    pub material: *mut CK_SSL3_KEY_MAT_OUT,
}

/// The output pointers in a TLS mechanism's parameter.
///
/// # Safety
/// As [`mechanism`]; the mechanism was decoded successfully.
pub unsafe fn tls_outputs(p: *const CK_MECHANISM) -> TlsOutputs {
    let mut out = TlsOutputs { version: std::ptr::null_mut(), material: std::ptr::null_mut() };
    // SAFETY: caller's contract: the mechanism and its parameter were decoded before.
    unsafe {
        let Some(m) = p.as_ref() else { return out };
        match m.mechanism {
            CKM_TLS12_MASTER_KEY_DERIVE | CKM_TLS12_MASTER_KEY_DERIVE_DH => {
                if let Some(k) = param::<CK_TLS12_MASTER_KEY_DERIVE_PARAMS>(m) {
                    out.version = k.pVersion;
                }
            }
            CKM_TLS12_EXTENDED_MASTER_KEY_DERIVE | CKM_TLS12_EXTENDED_MASTER_KEY_DERIVE_DH => {
                if let Some(k) = param::<CK_TLS12_EXTENDED_MASTER_KEY_DERIVE_PARAMS>(m) {
                    out.version = k.pVersion;
                }
            }
            CKM_TLS12_KEY_AND_MAC_DERIVE | CKM_TLS12_KEY_SAFE_DERIVE => {
                if let Some(k) = param::<CK_TLS12_KEY_MAT_PARAMS>(m) {
                    out.material = k.pReturnedKeyMaterial;
                }
            }
            _ => {}
        }
    }
    out
}

/// Reads a value of exactly `size_of::<T>()` bytes.
///
/// # Safety
/// `p` is valid for `len` bytes.
unsafe fn exact<T: Copy>(p: *const std::ffi::c_void, len: CK_ULONG) -> Result<T> {
    if p.is_null() || len as usize != size_of::<T>() {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: non-NULL and exactly size_of::<T>() readable bytes; T is plain old data.
    Ok(unsafe { std::ptr::read_unaligned(p.cast::<T>()) })
}

/// Decodes an array of CK_PRF_DATA_PARAM.
///
/// # Safety
/// `p` is NULL or valid for `n` parameters whose values are valid for their lengths.
unsafe fn data_params(p: *const CK_PRF_DATA_PARAM, n: CK_ULONG) -> Result<Vec<PrfData>> {
    // SAFETY: caller's contract.
    let list = unsafe { slice(p, n) }.map_err(|_| Error::MechanismParamInvalid)?;
    let format =
        |c: CK_SP800_108_COUNTER_FORMAT| Format { little_endian: c.bLittleEndian != 0, bits: c.ulWidthInBits as u32 };
    let mut out = Vec::with_capacity(list.len().min(16));
    for d in list {
        // SAFETY: the value is valid for ulValueLen bytes; `exact` checks sizes.
        let decoded = unsafe {
            match d.type_ {
                CK_SP800_108_ITERATION_VARIABLE if d.pValue.is_null() && d.ulValueLen == 0 => PrfData::Iteration(None),
                CK_SP800_108_ITERATION_VARIABLE => PrfData::Iteration(Some(format(exact(d.pValue, d.ulValueLen)?))),
                CK_SP800_108_OPTIONAL_COUNTER => PrfData::OptionalCounter(format(exact(d.pValue, d.ulValueLen)?)),
                CK_SP800_108_DKM_LENGTH => {
                    let f: CK_SP800_108_DKM_LENGTH_FORMAT = exact(d.pValue, d.ulValueLen)?;
                    let sum_of_segments = match f.dkmLengthMethod {
                        CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS => false,
                        CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS => true,
                        _ => return Err(Error::MechanismParamInvalid),
                    };
                    PrfData::DkmLength {
                        sum_of_segments,
                        format: Format { little_endian: f.bLittleEndian != 0, bits: f.ulWidthInBits as u32 },
                    }
                }
                CK_SP800_108_BYTE_ARRAY => PrfData::Bytes(bytes(d.pValue.cast(), d.ulValueLen)?),
                CK_SP800_108_KEY_HANDLE => PrfData::Key(exact(d.pValue, d.ulValueLen)?),
                _ => return Err(Error::MechanismParamInvalid),
            }
        };
        out.push(decoded);
    }
    Ok(out)
}

/// Decodes the templates of CK_DERIVED_KEY entries (their handles are written by the caller).
///
/// # Safety
/// `p` is NULL or valid for `n` entries whose templates are valid.
unsafe fn additional(p: *const CK_DERIVED_KEY, n: CK_ULONG) -> Result<Vec<Vec<Attribute>>> {
    // SAFETY: caller's contract.
    let list = unsafe { slice(p, n) }.map_err(|_| Error::MechanismParamInvalid)?;
    list.iter()
        .map(|k| {
            if k.phKey.is_null() {
                return Err(Error::MechanismParamInvalid);
            }
            // SAFETY: each entry's template is valid for its count.
            unsafe { super::attributes::template(k.pTemplate, k.ulAttributeCount) }
        })
        .collect()
}

/// Where the handles of SP 800-108 additional derived keys go.
///
/// # Safety
/// As [`mechanism`]; the mechanism was decoded successfully.
pub unsafe fn additional_key_outputs(p: *const CK_MECHANISM) -> Vec<*mut CK_OBJECT_HANDLE> {
    // SAFETY: caller's contract: the mechanism and its parameter were decoded before.
    unsafe {
        let Some(m) = p.as_ref() else { return Vec::new() };
        let list = match m.mechanism {
            CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_DOUBLE_PIPELINE_KDF => {
                param::<CK_SP800_108_KDF_PARAMS>(m).map(|k| (k.pAdditionalDerivedKeys, k.ulAdditionalDerivedKeys))
            }
            CKM_SP800_108_FEEDBACK_KDF => param::<CK_SP800_108_FEEDBACK_KDF_PARAMS>(m)
                .map(|k| (k.pAdditionalDerivedKeys, k.ulAdditionalDerivedKeys)),
            _ => None,
        };
        match list {
            Some((ptr, n)) => slice(ptr, n).map(|l| l.iter().map(|k| k.phKey).collect()).unwrap_or_default(),
            None => Vec::new(),
        }
    }
}
