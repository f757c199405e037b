//! Key pair generation (PKCS#11 3.2 §5.14 C_GenerateKeyPair): RSA (1024 to 8192 bits in steps of
//! 128, the template's public exponent), EC on P-224/P-256/P-384/P-521 and secp256k1, Ed25519 and
//! X25519, DSA and PKCS #3 Diffie-Hellman on the template's domain parameters, ML-DSA and
//! ML-KEM (PKCS#11 3.2 §6.67-6.68; the parameter set from CKA_PARAMETER_SET).

use super::keys::{CurveKind, curve_of, der_octets, ml_dsa_set, ml_kem_set, spki_nist_pqc};
use super::{Implementation, Mechanism, Params, lookup};
use crate::crypto::dh::DhKey;
use crate::crypto::dsa::DsaKey;
use crate::crypto::ec::{self, EcKey};
use crate::crypto::pqc::{DSA_SEED_LEN, KEM_SEED_LEN};
use crate::crypto::rsa::RsaKey;
use crate::error::{Error, Result};
use crate::module::Module;
use crate::object::policy::Origin;
use crate::object::{Attribute, Value};
use cryptoki_sys::*;

/// Which kind of pair an entry generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairKind {
    Rsa,
    Ec,
    /// CKM_EC_KEY_PAIR_GEN_W_EXTRA_BITS: FIPS 186-4 B.4.1's way to the private scalar.
    EcExtraBits,
    Edwards,
    Montgomery,
    Dsa,
    Dh,
    /// An X9.42 Diffie-Hellman key pair (DSA's shape: x in [1, q - 1], y = g^x mod p).
    X942,
    MlDsa,
    MlKem,
}

fn find(t: &[Attribute], ty: CK_ATTRIBUTE_TYPE) -> Option<&Value> {
    t.iter().find(|a| a.ty == ty).map(|a| &a.value)
}

/// A domain parameter (CKA_PRIME, CKA_SUBPRIME, CKA_BASE) the template must give.
fn domain_value(t: &[Attribute], ty: CK_ATTRIBUTE_TYPE) -> Result<Vec<u8>> {
    match find(t, ty) {
        Some(Value::Bytes(v)) => Ok(v.to_vec()),
        Some(_) => Err(Error::AttributeValueInvalid),
        None => Err(Error::TemplateIncomplete),
    }
}

fn b(v: &[u8]) -> Attribute {
    Attribute::new(0, Value::bytes(v))
}

fn attr(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Attribute {
    Attribute { ty, ..b(v) }
}

impl Module {
    /// C_GenerateKeyPair: returns (public key, private key).
    pub fn generate_key_pair(
        &self,
        h: CK_SESSION_HANDLE,
        m: &Mechanism,
        public_t: &[Attribute],
        private_t: &[Attribute],
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let kind = match lookup(m.ty).map(|e| e.implementation) {
            Some(Implementation::KeyPair(k)) => k,
            _ => return Err(Error::MechanismInvalid),
        };
        if m.params != Params::None {
            return Err(Error::MechanismParamInvalid);
        }
        let (key_type, public, private) = match kind {
            PairKind::Rsa => {
                // An RSA key takes from milliseconds to seconds to make: the templates first.
                self.check_generated_template(h, CKO_PUBLIC_KEY, CKK_RSA, m.ty, public_t)?;
                self.check_generated_template(h, CKO_PRIVATE_KEY, CKK_RSA, m.ty, private_t)?;
                let bits = match find(public_t, CKA_MODULUS_BITS) {
                    Some(Value::Ulong(n)) => *n as usize,
                    _ => return Err(Error::TemplateIncomplete),
                };
                let e = match find(public_t, CKA_PUBLIC_EXPONENT) {
                    Some(Value::Bytes(e)) => e.to_vec(),
                    Some(_) => return Err(Error::AttributeValueInvalid),
                    None => vec![0x01, 0x00, 0x01],
                };
                // Checks the size and the exponent.
                let k = RsaKey::generate(bits, &e)?;
                let p = k.parts();
                // What keys::complete would compute, from the key in hand: no re-parse.
                let computed = [
                    Attribute::new(CKA_MODULUS_BITS, Value::Ulong(k.bits() as CK_ULONG)),
                    attr(CKA_PUBLIC_KEY_INFO, &k.spki()?),
                ];
                let mut public = vec![attr(CKA_MODULUS, &p.n)];
                if find(public_t, CKA_PUBLIC_EXPONENT).is_none() {
                    public.push(attr(CKA_PUBLIC_EXPONENT, &p.e));
                }
                let mut private = vec![attr(CKA_MODULUS, &p.n), attr(CKA_PUBLIC_EXPONENT, &p.e)];
                for (ty, v) in [
                    (CKA_PRIVATE_EXPONENT, &p.d),
                    (CKA_PRIME_1, &p.p),
                    (CKA_PRIME_2, &p.q),
                    (CKA_EXPONENT_1, &p.dp),
                    (CKA_EXPONENT_2, &p.dq),
                    (CKA_COEFFICIENT, &p.qinv),
                ] {
                    private.push(attr(ty, v.as_ref().ok_or(Error::Internal("RSA component".into()))?));
                }
                public.extend(computed.iter().cloned());
                private.extend(computed);
                (CKK_RSA, public, private)
            }
            PairKind::Ec | PairKind::EcExtraBits | PairKind::Edwards | PairKind::Montgomery => {
                let params = match find(public_t, CKA_EC_PARAMS) {
                    Some(Value::Bytes(p)) => p.to_vec(),
                    _ => return Err(Error::TemplateIncomplete),
                };
                let curve = curve_of(&params)?;
                let (kt, point, secret, spki) = match (kind, curve) {
                    (PairKind::Ec | PairKind::EcExtraBits, CurveKind::Nist(c)) => {
                        let k = if kind == PairKind::Ec { EcKey::generate(c)? } else { EcKey::generate_extra_bits(c)? };
                        // Each encoding of the point costs a field inversion: encode it once.
                        let point = k.point();
                        let spki = ec::spki_ec(c, &point);
                        (CKK_EC, point, k.scalar().ok_or(Error::Internal("EC scalar".into()))?, spki)
                    }
                    (PairKind::Edwards, CurveKind::Ed25519) => {
                        let (seed, public) = ec::ed25519_generate();
                        let spki = ec::spki_25519(&public, true);
                        (CKK_EC_EDWARDS, public, seed, spki)
                    }
                    (PairKind::Montgomery, CurveKind::X25519) => {
                        let (private, public) = ec::x25519_generate();
                        let spki = ec::spki_25519(&public, false);
                        (CKK_EC_MONTGOMERY, public, private, spki)
                    }
                    _ => return Err(Error::CurveNotSupported),
                };
                // What keys::complete would compute, from the key in hand: no re-parse.
                let computed = [attr(CKA_EC_POINT, &der_octets(&point)), attr(CKA_PUBLIC_KEY_INFO, &spki)];
                let public = computed.to_vec();
                let mut private = vec![attr(CKA_EC_PARAMS, &params), attr(CKA_VALUE, &secret)];
                private.extend(computed);
                (kt, public, private)
            }
            PairKind::Dsa | PairKind::X942 => {
                // The domain parameters come with the public template (the private key
                // takes them from it). An X9.42 Diffie-Hellman pair has DSA's shape.
                let domain = |ty| domain_value(public_t, ty);
                let (p, q, g) = (domain(CKA_PRIME)?, domain(CKA_SUBPRIME)?, domain(CKA_BASE)?);
                let k = DsaKey::generate(&p, &q, &g)?;
                let parts = k.parts();
                let x = parts.x.as_ref().ok_or(Error::Internal("DSA private value".into()))?;
                let (kt, spki) =
                    if kind == PairKind::X942 { (CKK_X9_42_DH, k.spki_x942()) } else { (CKK_DSA, k.spki()?) };
                let spki = attr(CKA_PUBLIC_KEY_INFO, &spki);
                let public = vec![attr(CKA_VALUE, &parts.y), spki.clone()];
                let private =
                    vec![attr(CKA_PRIME, &p), attr(CKA_SUBPRIME, &q), attr(CKA_BASE, &g), attr(CKA_VALUE, x), spki];
                (kt, public, private)
            }
            PairKind::Dh => {
                let (p, g) = (domain_value(public_t, CKA_PRIME)?, domain_value(public_t, CKA_BASE)?);
                let bits = match find(private_t, CKA_VALUE_BITS) {
                    Some(Value::Ulong(n)) => Some(*n as usize),
                    Some(_) => return Err(Error::AttributeValueInvalid),
                    None => None,
                };
                let k = DhKey::generate(&p, &g, bits)?;
                let (y, x) = (k.public_value(), k.private_value().ok_or(Error::Internal("DH private value".into()))?);
                let spki = attr(CKA_PUBLIC_KEY_INFO, &k.spki()?);
                let public = vec![attr(CKA_VALUE, &y), spki.clone()];
                let bits = Attribute::new(CKA_VALUE_BITS, Value::Ulong(k.private_bits().unwrap_or(0) as CK_ULONG));
                let private = vec![attr(CKA_PRIME, &p), attr(CKA_BASE, &g), attr(CKA_VALUE, &x), bits, spki];
                (CKK_DH, public, private)
            }
            PairKind::MlDsa | PairKind::MlKem => {
                // The parameter set is named in the public template, or the private one.
                let set = match (find(public_t, CKA_PARAMETER_SET), find(private_t, CKA_PARAMETER_SET)) {
                    (Some(Value::Ulong(p)), None) | (None, Some(Value::Ulong(p))) => *p,
                    (Some(Value::Ulong(p)), Some(Value::Ulong(q))) if p == q => *p,
                    (Some(Value::Ulong(_)), Some(Value::Ulong(_))) => return Err(Error::TemplateInconsistent),
                    (None, None) => return Err(Error::TemplateIncomplete),
                    _ => return Err(Error::AttributeValueInvalid),
                };
                let (kt, seed, public, secret, spki) = if kind == PairKind::MlDsa {
                    let set_ = ml_dsa_set(set)?;
                    let seed = crate::crypto::random_vec(DSA_SEED_LEN)?;
                    let (public, secret) = set_.keypair(&seed)?;
                    let spki = spki_nist_pqc(3, set_.oid_arc(), &public);
                    (CKK_ML_DSA, seed, public, secret, spki)
                } else {
                    let set_ = ml_kem_set(set)?;
                    let seed = crate::crypto::random_vec(KEM_SEED_LEN)?;
                    let (public, secret) = set_.keypair(&seed)?;
                    let spki = spki_nist_pqc(4, set_.oid_arc(), &public);
                    (CKK_ML_KEM, seed, public, secret, spki)
                };
                let seed = zeroize::Zeroizing::new(seed);
                let set_attr = Attribute::new(CKA_PARAMETER_SET, Value::Ulong(set));
                let public = vec![set_attr.clone(), attr(CKA_VALUE, &public), attr(CKA_PUBLIC_KEY_INFO, &spki)];
                let private =
                    vec![set_attr, attr(CKA_VALUE, &secret), attr(CKA_SEED, &seed), attr(CKA_PUBLIC_KEY_INFO, &spki)];
                (kt, public, private)
            }
        };
        let pub_origin = Origin::Generate { class: CKO_PUBLIC_KEY, key_type, mechanism: m.ty, material: public };
        let priv_origin = Origin::Generate { class: CKO_PRIVATE_KEY, key_type, mechanism: m.ty, material: private };
        self.create_pair(h, (public_t, pub_origin), (private_t, priv_origin))
    }
}
