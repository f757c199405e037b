//! TLS 1.2 key derivation and MAC mechanisms (PKCS#11 3.2 "TLS 1.2 Mechanisms"): the master
//! secret from a pre-master secret (RFC 5246 §8.1, and RFC 7627's extended master secret),
//! the key block of a cipher suite (RFC 5246 §6.3), key material exporters (RFC 5705,
//! CKM_TLS_KDF), the Finished message's verify_data (CKM_TLS_MAC), and the pre-master
//! secret of the RSA key exchange (CKM_TLS_PRE_MASTER_KEY_GEN). The PRF is TLS 1.2's P_hash
//! over the HMAC of the parameter's hash, or TLS 1.0's (MD5 and SHA-1, RFC 2246 §5) where
//! the parameter names CKM_TLS_PRF, as the section allows for the KDF and the MAC.

use super::kdf::{derived_len, force, imposed_template, key_type, value_len};
use super::ops::Mac;
use super::{Entry, Implementation, Mechanism, ParamShape, Params, Registry, info};
use crate::crypto::evp::{Hash, HmacCtx};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::policy::{Origin, merge_template};
use crate::object::{Attribute, Value};
use crate::secret::Bytes;
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// Which TLS derivation an entry makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsKdf {
    /// The 48-byte master secret: from a 48-byte pre-master secret holding the client's
    /// version (`dh` false), or from a secret of any length (`dh`); with RFC 7627's session
    /// hash instead of the two randoms (`extended`).
    Master { dh: bool, extended: bool },
    /// The MAC keys, cipher keys and (unless `safe`) IVs of a cipher suite.
    KeyMaterial { safe: bool },
    /// RFC 5705's exporter: a key of the template's length.
    Export,
}

/// The PRF a parameter names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prf {
    /// TLS 1.0 and 1.1 (CKM_TLS_PRF): P_MD5 over the first half of the secret XOR P_SHA1
    /// over the second.
    Tls10,
    /// TLS 1.2: P_hash over one HMAC.
    Tls12(Hash),
}

/// The PRF named by a parameter's hash mechanism: SHA-2 for TLS 1.2 (RFC 5246 says SHA-256
/// or stronger), or CKM_TLS_PRF where `legacy` allows it (the KDF and MAC sections).
pub fn prf_of(mech: CK_MECHANISM_TYPE, legacy: bool) -> Result<Prf> {
    Ok(match mech {
        CKM_SHA224 => Prf::Tls12(Hash::Sha224),
        CKM_SHA256 => Prf::Tls12(Hash::Sha256),
        CKM_SHA384 => Prf::Tls12(Hash::Sha384),
        CKM_SHA512 => Prf::Tls12(Hash::Sha512),
        CKM_TLS_PRF if legacy => Prf::Tls10,
        _ => return Err(Error::MechanismParamInvalid),
    })
}

/// P_hash(secret, seed) of RFC 5246 §5, `out.len()` bytes, XORed into `out`.
fn p_hash_xor(hash: Hash, secret: &[u8], seed: &[&[u8]], out: &mut [u8]) -> Result<()> {
    let hmac = |parts: &[&[u8]]| -> Result<Zeroizing<Vec<u8>>> {
        let mut h = HmacCtx::new(hash, secret)?;
        for p in parts {
            h.update(p);
        }
        Ok(h.finish())
    };
    // A(1) = HMAC(secret, seed); A(i) = HMAC(secret, A(i-1)); each output block is
    // HMAC(secret, A(i) || seed).
    let mut a = hmac(seed)?;
    for chunk in out.chunks_mut(hash.output_len()) {
        let mut parts = Vec::with_capacity(seed.len() + 1);
        parts.push(&a[..]);
        parts.extend_from_slice(seed);
        for (o, b) in chunk.iter_mut().zip(hmac(&parts)?.iter()) {
            *o ^= b;
        }
        a = hmac(&[&a])?;
    }
    Ok(())
}

/// PRF(secret, label, seed) of `len` bytes.
pub fn prf(prf: Prf, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    match prf {
        Prf::Tls12(hash) => p_hash_xor(hash, secret, &[label, seed], &mut out)?,
        Prf::Tls10 => {
            // The halves overlap by a byte when the secret's length is odd (RFC 2246 §5).
            let half = secret.len().div_ceil(2);
            p_hash_xor(Hash::Md5, &secret[..half], &[label, seed], &mut out)?;
            p_hash_xor(Hash::Sha1, &secret[secret.len() - half..], &[label, seed], &mut out)?;
        }
    }
    Ok(out)
}

/// The mechanisms the master secret is contributed CKA_ALLOWED_MECHANISMS of (the master key
/// derivation sections: the four, and the deprecated aliases this token also implements).
pub const MASTER_SECRET_MECHANISMS: [CK_MECHANISM_TYPE; 6] =
    [CKM_TLS12_KEY_AND_MAC_DERIVE, CKM_TLS12_KEY_SAFE_DERIVE, CKM_TLS_KDF, CKM_TLS_MAC, CKM_TLS12_KDF, CKM_TLS12_MAC];

/// The most a verify_data may be (RFC 5246 lets a cipher suite name its length; none names
/// more than a hash's).
const MAX_MAC_LEN: usize = 64;

pub fn register(r: &mut Registry) {
    let derive = |ty, shape, kdf, min, max| Entry {
        ty,
        info: info(min, max, CKF_DERIVE),
        params: shape,
        key_types: &[CKK_GENERIC_SECRET],
        implementation: Implementation::Tls(kdf),
    };
    let master = |dh, extended| TlsKdf::Master { dh, extended };
    // The key sizes are the base key's, in bytes, as the token checks them: 48 for RSA key
    // exchange's pre-master secret; a (EC)DH one is as long as its group makes it (the
    // sections' "both indicate 48 bytes" would refuse every ECDH secret, which the DH
    // mechanisms exist for).
    r.add(derive(CKM_TLS12_MASTER_KEY_DERIVE, ParamShape::TlsMaster, master(false, false), 48, 48));
    r.add(derive(CKM_TLS12_MASTER_KEY_DERIVE_DH, ParamShape::TlsMaster, master(true, false), 1, 1024));
    r.add(derive(CKM_TLS12_EXTENDED_MASTER_KEY_DERIVE, ParamShape::TlsExtendedMaster, master(false, true), 48, 48));
    r.add(derive(CKM_TLS12_EXTENDED_MASTER_KEY_DERIVE_DH, ParamShape::TlsExtendedMaster, master(true, true), 1, 1024));
    let key_material = |safe| TlsKdf::KeyMaterial { safe };
    r.add(derive(CKM_TLS12_KEY_AND_MAC_DERIVE, ParamShape::TlsKeyMaterial, key_material(false), 48, 48));
    r.add(derive(CKM_TLS12_KEY_SAFE_DERIVE, ParamShape::TlsKeyMaterial, key_material(true), 48, 48));
    for ty in [CKM_TLS_KDF, CKM_TLS12_KDF] {
        r.add(derive(ty, ParamShape::TlsKdf, TlsKdf::Export, 0, 0));
    }
    for ty in [CKM_TLS_MAC, CKM_TLS12_MAC] {
        r.add(Entry {
            ty,
            info: info(0, 0, CKF_SIGN | CKF_VERIFY),
            params: ParamShape::TlsMac,
            key_types: &[CKK_GENERIC_SECRET],
            implementation: Implementation::Mac(super::mac::MacKind::Tls),
        });
    }
    r.add(Entry {
        ty: CKM_TLS_PRE_MASTER_KEY_GEN,
        info: info(48, 48, CKF_GENERATE),
        params: ParamShape::Version,
        key_types: &[],
        implementation: Implementation::KeyGen(super::keygen::KeyGen::TlsPreMaster),
    });
}

/// The TLS Finished message's verify_data (CKM_TLS_MAC): PRF(master secret, "client
/// finished" or "server finished", data), the data being what the caller gives (the hash
/// of the handshake messages), gathered until the end.
struct TlsMac {
    key: Zeroizing<Vec<u8>>,
    prf: Prf,
    label: &'static [u8],
    data: Zeroizing<Vec<u8>>,
    len: usize,
}

impl Mac for TlsMac {
    fn update(&mut self, data: &[u8]) {
        self.data.extend_from_slice(data);
    }
    fn finish(self: Box<Self>) -> Bytes {
        self.try_finish().unwrap_or_default()
    }
    fn try_finish(self: Box<Self>) -> Result<Bytes> {
        let out = prf(self.prf, &self.key, self.label, &self.data, self.len)?;
        Ok(Bytes::new(out.to_vec()))
    }
    fn output_len(&self) -> usize {
        self.len
    }
}

/// The MAC of CKM_TLS_MAC (and CKM_TLS12_MAC) keyed with `key`.
pub fn mac(m: &Mechanism, key: &[u8]) -> Result<Box<dyn Mac>> {
    let Params::TlsMac { prf: p, len, server } = m.params else {
        return Err(Error::MechanismParamInvalid);
    };
    let prf = prf_of(p, true)?;
    // "Always 12 octets in TLS 1.0 and 1.1"; at least 12 in TLS 1.2.
    let len_ok = match prf {
        Prf::Tls10 => len == 12,
        Prf::Tls12(_) => (12..=MAX_MAC_LEN).contains(&len),
    };
    if !len_ok {
        return Err(Error::MechanismParamInvalid);
    }
    let label: &'static [u8] = if server { b"server finished" } else { b"client finished" };
    Ok(Box::new(TlsMac { key: Zeroizing::new(key.to_vec()), prf, label, data: Zeroizing::new(Vec::new()), len }))
}

/// What a TLS derivation gives back besides its keys' handles.
#[derive(Debug, Default)]
pub struct TlsDerived {
    /// The derived key (the master secret, an exported key); none for key material.
    pub key: CK_OBJECT_HANDLE,
    /// The client's version in the pre-master secret (CKM_TLS12_MASTER_KEY_DERIVE).
    pub version: Option<(u8, u8)>,
    /// Key material: the client and server MAC keys and cipher keys (CK_INVALID_HANDLE
    /// when the cipher suite has none), and the client and server IVs (empty when none).
    pub material: [CK_OBJECT_HANDLE; 4],
    pub ivs: (Vec<u8>, Vec<u8>),
}

impl Module {
    /// C_DeriveKey with a TLS mechanism.
    pub fn derive_tls(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        base: CK_OBJECT_HANDLE,
        template: &[Attribute],
    ) -> Result<TlsDerived> {
        let (entry, base_obj) = self.crypto_key(h, base, m, CKF_DERIVE, CKA_DERIVE)?;
        let Implementation::Tls(kind) = entry.implementation else {
            return Err(Error::MechanismInvalid);
        };
        let mut template = imposed_template(&base_obj, template)?;
        let secret = base_obj.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent)?;
        let origin = |value: Zeroizing<Vec<u8>>| Origin::Derive {
            value: value.into(),
            base_always_sensitive: base_obj.flag(CKA_ALWAYS_SENSITIVE),
            base_never_extractable: base_obj.flag(CKA_NEVER_EXTRACTABLE),
        };
        let mut out = TlsDerived::default();
        match (kind, &m.params) {
            (TlsKdf::Master { dh, extended }, Params::TlsMaster { prf: p, seed, version }) => {
                // The pre-master secret of RSA key exchange is 48 bytes (the entry's key
                // size), its first two the client's version; a DH one has none to give.
                if dh && *version {
                    return Err(Error::MechanismParamInvalid);
                }
                let label: &[u8] = if extended { b"extended master secret" } else { b"master secret" };
                let value = prf(prf_of(*p, false)?, secret, label, seed, 48)?;
                // The mechanism contributes the class, key type and length (the template
                // may repeat them, not contradict them), and CKA_ALLOWED_MECHANISMS: a
                // template naming fewer of those mechanisms is kept, one naming others refused.
                let contributed = [
                    Attribute::new(CKA_CLASS, Value::Ulong(CKO_SECRET_KEY)),
                    Attribute::new(CKA_KEY_TYPE, Value::Ulong(CKK_GENERIC_SECRET)),
                    Attribute::new(CKA_VALUE_LEN, Value::Ulong(48)),
                ];
                let mut template = merge_template(&template, &contributed)?;
                match template.iter().find(|a| a.ty == CKA_ALLOWED_MECHANISMS) {
                    Some(Attribute { value: Value::MechList(l), .. })
                        if l.iter().all(|t| MASTER_SECRET_MECHANISMS.contains(t)) => {}
                    Some(_) => return Err(Error::TemplateInconsistent),
                    None => template.push(Attribute::new(
                        CKA_ALLOWED_MECHANISMS,
                        Value::MechList(MASTER_SECRET_MECHANISMS.to_vec()),
                    )),
                }
                // (Written back only where the caller gave a CK_VERSION.)
                out.version = (!dh).then(|| (secret[0], secret[1]));
                out.key = self.create_with(h, &template, origin(value))?;
            }
            (TlsKdf::Export, Params::TlsKdf { prf: p, label, seed }) => {
                let mut value = prf(prf_of(*p, true)?, secret, label, seed, derived_len(&template, None)?)?;
                // The new key is sensitive if the original is, unextractable if it is;
                // otherwise as the template says, else as the original key (the section's
                // rules; CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE follow from them).
                for (ty, base_value, forced) in [
                    (CKA_SENSITIVE, base_obj.flag(CKA_SENSITIVE), base_obj.flag(CKA_SENSITIVE)),
                    (CKA_EXTRACTABLE, base_obj.flag(CKA_EXTRACTABLE), !base_obj.flag(CKA_EXTRACTABLE)),
                ] {
                    if forced || !template.iter().any(|a| a.ty == ty) {
                        force(&mut template, ty, Value::Bool(base_value));
                    }
                }
                super::des::set_parity_for(key_type(&template), &mut value);
                out.key = self.create_with(h, &template, origin(value))?;
            }
            (
                TlsKdf::KeyMaterial { safe },
                Params::TlsKeyMaterial { prf: p, mac_bits, key_bits, iv_bits, server_random, client_random },
            ) => {
                let bytes =
                    |bits: usize| if bits.is_multiple_of(8) { Ok(bits / 8) } else { Err(Error::MechanismParamInvalid) };
                let (mac_len, key_len) = (bytes(*mac_bits)?, bytes(*key_bits)?);
                let iv_len = if safe { 0 } else { bytes(*iv_bits)? };
                // The keys take the base key's protection; a template asking other is
                // refused (the section: "may not specify values ... which differ").
                let protection =
                    [CKA_SENSITIVE, CKA_EXTRACTABLE].map(|ty| Attribute::new(ty, Value::Bool(base_obj.flag(ty))));
                let mut template = merge_template(&template, &protection)?;
                if value_len(&template).is_some_and(|n| n != key_len) {
                    return Err(Error::TemplateInconsistent);
                }
                let total = 2 * (mac_len + key_len + iv_len);
                let seed = [&server_random[..], &client_random[..]].concat();
                let block = prf(prf_of(*p, false)?, secret, b"key expansion", &seed, total)?;
                let mut at = 0;
                let mut take = |n: usize| {
                    at += n;
                    Zeroizing::new(block[at - n..at].to_vec())
                };
                let (client_mac, server_mac) = (take(mac_len), take(mac_len));
                let (client_key, server_key) = (take(key_len), take(key_len));
                let (client_iv, server_iv) = (take(iv_len), take(iv_len));
                // The MAC keys: generic secrets for signing and verifying, the template's
                // other attributes (its token, label, protection) as the cipher keys'.
                let mut mac_template: Vec<Attribute> = template
                    .iter()
                    .filter(|a| !matches!(a.ty, CKA_KEY_TYPE | CKA_VALUE_LEN) && !is_usage(a.ty))
                    .cloned()
                    .collect();
                mac_template.push(Attribute::new(CKA_KEY_TYPE, Value::Ulong(CKK_GENERIC_SECRET)));
                mac_template.push(Attribute::new(CKA_SIGN, Value::Bool(true)));
                mac_template.push(Attribute::new(CKA_VERIFY, Value::Bool(true)));
                // The cipher keys: the template's type (generic secret unless it says) and
                // the suite's length.
                let kt = key_type(&template);
                // A suite's key length the template's type cannot have (Triple DES of 16
                // bytes, AES of 20) contradicts the template.
                if key_len > 0 && !crate::object::policy::value_len_ok(kt, key_len) {
                    return Err(Error::TemplateInconsistent);
                }
                if value_len(&template).is_none() && crate::object::policy::fixed_value_len(kt).is_none() {
                    template.push(Attribute::new(CKA_VALUE_LEN, Value::Ulong(key_len as CK_ULONG)));
                }
                let mut made = Vec::new();
                if mac_len > 0 {
                    made.push((&mac_template[..], origin(client_mac)));
                    made.push((&mac_template[..], origin(server_mac)));
                }
                if key_len > 0 {
                    for mut k in [client_key, server_key] {
                        super::des::set_parity_for(kt, &mut k);
                        made.push((&template[..], origin(k)));
                    }
                }
                // All the keys or none.
                let handles = self.create_all(h, made)?;
                let (macs, keys) = handles.split_at(if mac_len > 0 { 2 } else { 0 });
                for (slot, k) in out.material.iter_mut().zip(macs) {
                    *slot = *k;
                }
                for (slot, k) in out.material[2..].iter_mut().zip(keys) {
                    *slot = *k;
                }
                out.ivs = (client_iv.to_vec(), server_iv.to_vec());
            }
            _ => return Err(Error::MechanismParamInvalid),
        }
        Ok(out)
    }
}

/// The usage attributes a template for key material may set for the cipher keys.
fn is_usage(ty: CK_ATTRIBUTE_TYPE) -> bool {
    matches!(ty, CKA_ENCRYPT | CKA_DECRYPT | CKA_SIGN | CKA_VERIFY | CKA_WRAP | CKA_UNWRAP | CKA_DERIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::hex::encode as hex;

    /// The TLS 1.2 PRF with SHA-256 against a vector computed by OpenSSL's TLS1-PRF
    /// (`openssl kdf -keylen 16 -kdfopt digest:SHA256 -kdfopt hexsecret:0102 -kdfopt
    /// seed:"master secret" -kdfopt hexseed:aabb TLS1-PRF`), and TLS 1.0's (digest MD5-SHA1,
    /// no second seed).
    #[test]
    fn prf_matches_openssl() {
        let out = prf(Prf::Tls12(Hash::Sha256), &[1, 2], b"master secret", &[0xaa, 0xbb], 16).unwrap();
        assert_eq!(hex(&out), "56c556dba9c9efeb1ef1c734ad70ec8c");
        let out = prf(Prf::Tls10, &[1, 2], b"master secret", &[], 16).unwrap();
        assert_eq!(hex(&out), "d8c8a680d29314e98d62c43e3636b89c");
    }
}
