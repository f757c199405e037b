//! Objects and keys: listing with URIs, generation, import, public key export, deletion.

use crate::p11::{self, ED25519, certificate_attrs, public_attrs, public_of, to_cryptoki};
use crate::token::{Ctx, ck, emit, open, public_session, user_session};
use crate::uri::Uri;
use crate::{PinArgs, Result, TokenSel};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{
    Attribute, AttributeType, KeyType, MlDsaParameterSetType, MlKemParameterSetType, ObjectClass, ObjectHandle,
};
use cryptoki::session::Session;
use cryptoki::slot::TokenInfo;
use oxihsm::crypto::ec::{Curve, Pkcs8Key};
use oxihsm::crypto::keyfile::{self, PublicKey};
use serde_json::json;
use std::path::{Path, PathBuf};

use oxihsm::hex::encode as hex;

fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("--id {s}: an even number of hex digits"));
    }
    p11::unhex(s).ok_or_else(|| format!("--id {s}: not hex"))
}

fn class_name(c: ObjectClass) -> &'static str {
    match c {
        ObjectClass::CERTIFICATE => "cert",
        ObjectClass::DATA => "data",
        ObjectClass::PRIVATE_KEY => "private",
        ObjectClass::PUBLIC_KEY => "public",
        ObjectClass::SECRET_KEY => "secret-key",
        _ => "other",
    }
}

fn class_of(name: &str) -> Option<ObjectClass> {
    Some(match name {
        "cert" => ObjectClass::CERTIFICATE,
        "data" => ObjectClass::DATA,
        "private" => ObjectClass::PRIVATE_KEY,
        "public" => ObjectClass::PUBLIC_KEY,
        "secret-key" => ObjectClass::SECRET_KEY,
        _ => return None,
    })
}

/// The URI of an object on a token.
fn object_uri(info: &TokenInfo, class: ObjectClass, label: Option<&str>, id: Option<&[u8]>) -> String {
    Uri {
        token: Some(info.label().to_string()),
        serial: Some(info.serial_number().to_string()),
        manufacturer: Some(info.manufacturer_id().to_string()),
        model: Some(info.model().to_string()),
        object: label.map(String::from),
        id: id.filter(|i| !i.is_empty()).map(<[u8]>::to_vec),
        kind: Some(class_name(class).to_string()),
        slot_id: None,
    }
    .format()
}

/// What `objects` reports of one object.
struct Listed {
    handle: ObjectHandle,
    class: ObjectClass,
    label: Option<String>,
    id: Option<Vec<u8>>,
    key_type: Option<KeyType>,
}

fn describe(s: &Session, h: ObjectHandle) -> Result<Listed> {
    let attrs = ck(
        "C_GetAttributeValue",
        s.get_attributes(h, &[AttributeType::Class, AttributeType::Label, AttributeType::Id]),
    )?;
    let mut l = Listed { handle: h, class: ObjectClass::DATA, label: None, id: None, key_type: None };
    for a in attrs {
        match a {
            Attribute::Class(c) => l.class = c,
            Attribute::Label(v) => l.label = Some(String::from_utf8_lossy(&v).into_owned()),
            Attribute::Id(v) => l.id = Some(v),
            _ => {}
        }
    }
    if matches!(l.class, ObjectClass::PRIVATE_KEY | ObjectClass::PUBLIC_KEY | ObjectClass::SECRET_KEY)
        && let Ok(v) = s.get_attributes(h, &[AttributeType::KeyType])
        && let Some(Attribute::KeyType(k)) = v.into_iter().next()
    {
        l.key_type = Some(k);
    }
    Ok(l)
}

/// `oxihsm objects`.
pub fn objects(ctx: &Ctx, sel: &TokenSel, pin: &PinArgs, no_login: bool) -> Result<()> {
    let p = open(ctx)?;
    let (s, info) = if no_login { public_session(&p, sel)? } else { user_session(&p, sel, pin)? };
    let mut rows = Vec::new();
    let mut text = String::new();
    for h in ck("C_FindObjects", s.find_objects(&[]))? {
        let l = describe(&s, h)?;
        let uri = object_uri(&info, l.class, l.label.as_deref(), l.id.as_deref());
        let kt = l.key_type.map(|k| format!("{k}"));
        text.push_str(&format!(
            "{:<10} {:<12} {}\n",
            class_name(l.class),
            kt.clone().unwrap_or_else(|| "-".into()),
            uri
        ));
        rows.push(json!({
            "uri": uri,
            "class": class_name(l.class),
            "key_type": kt,
            "label": l.label,
            "id": l.id.as_deref().map(hex),
        }));
    }
    emit(ctx, json!(rows), || text);
    Ok(())
}

#[derive(clap::Args)]
pub struct KeygenArgs {
    #[command(flatten)]
    sel: TokenSel,
    #[command(flatten)]
    pin: PinArgs,
    /// aes, generic, rsa, ec, ed25519, ml-dsa-44/65/87 or ml-kem-512/768/1024.
    #[arg(long = "type", value_name = "TYPE")]
    kind: String,
    /// Key size in bits (aes 128/192/256, default 256; generic default 256; rsa 1024-8192 in
    /// steps of 128, default 2048).
    #[arg(long)]
    bits: Option<usize>,
    /// EC curve: p256 (default), p224, p384, p521 or secp256k1.
    #[arg(long, default_value = "p256")]
    curve: String,
    #[arg(long)]
    label: String,
    /// CKA_ID in hex.
    #[arg(long)]
    id: Option<String>,
    /// Comma-separated: encrypt, decrypt, sign, verify, wrap, unwrap, derive, and for RSA, EC
    /// and ML-KEM keys encapsulate, decapsulate. The key may do exactly these (the others are
    /// set false); default by type.
    #[arg(long)]
    usage: Option<String>,
    /// Allow the key to be wrapped out of the token (CKA_EXTRACTABLE).
    #[arg(long)]
    extractable: bool,
    /// Let the key's value be read in clear (CKA_SENSITIVE false); needs --extractable.
    #[arg(long)]
    not_sensitive: bool,
}

fn usages(list: &str) -> Result<Vec<AttributeType>> {
    list.split(',')
        .filter(|u| !u.is_empty())
        .map(|u| {
            Ok(match u.trim() {
                "encrypt" => AttributeType::Encrypt,
                "decrypt" => AttributeType::Decrypt,
                "sign" => AttributeType::Sign,
                "verify" => AttributeType::Verify,
                "wrap" => AttributeType::Wrap,
                "unwrap" => AttributeType::Unwrap,
                "derive" => AttributeType::Derive,
                "encapsulate" => AttributeType::Encapsulate,
                "decapsulate" => AttributeType::Decapsulate,
                other => return Err(format!("unknown usage `{other}`")),
            })
        })
        .collect()
}

fn flag(t: AttributeType, v: bool) -> Attribute {
    match t {
        AttributeType::Encrypt => Attribute::Encrypt(v),
        AttributeType::Decrypt => Attribute::Decrypt(v),
        AttributeType::Sign => Attribute::Sign(v),
        AttributeType::Verify => Attribute::Verify(v),
        AttributeType::Wrap => Attribute::Wrap(v),
        AttributeType::Unwrap => Attribute::Unwrap(v),
        AttributeType::Derive => Attribute::Derive(v),
        AttributeType::Encapsulate => Attribute::Encapsulate(v),
        AttributeType::Decapsulate => Attribute::Decapsulate(v),
        _ => unreachable!("usage flags only"),
    }
}

/// Usages that belong on a public key; the others go on the private key.
const PUBLIC_USES: [AttributeType; 3] = [AttributeType::Encrypt, AttributeType::Verify, AttributeType::Wrap];
const PRIVATE_USES: [AttributeType; 4] =
    [AttributeType::Decrypt, AttributeType::Sign, AttributeType::Unwrap, AttributeType::Derive];

/// Every flag of `of`, true when `uses` names it and false otherwise: the key does exactly
/// what was asked, whatever the token's defaults for the usages not named.
fn exactly(uses: &[AttributeType], of: &[AttributeType]) -> Vec<Attribute> {
    of.iter().map(|&u| flag(u, uses.contains(&u))).collect()
}

/// Refuses CKA_ENCAPSULATE and CKA_DECAPSULATE for a key type without them.
fn no_kem(uses: &[AttributeType]) -> Result<()> {
    match uses.iter().find(|u| matches!(u, AttributeType::Encapsulate | AttributeType::Decapsulate)) {
        Some(u) => Err(format!("--usage: this key type cannot {}", format!("{u:?}").to_lowercase())),
        None => Ok(()),
    }
}

/// The usage flags of a key pair: the public key's and the private key's; with `kem`
/// (key types that encapsulate) CKA_ENCAPSULATE and CKA_DECAPSULATE too. Any other usage
/// named is refused: the key would not have it.
fn split_uses(uses: &[AttributeType], kem: bool) -> Result<(Vec<Attribute>, Vec<Attribute>)> {
    if !kem {
        no_kem(uses)?;
    }
    let mut public = exactly(uses, &PUBLIC_USES);
    let mut private = exactly(uses, &PRIVATE_USES);
    if kem {
        public.push(flag(AttributeType::Encapsulate, uses.contains(&AttributeType::Encapsulate)));
        private.push(flag(AttributeType::Decapsulate, uses.contains(&AttributeType::Decapsulate)));
    }
    Ok((public, private))
}

/// `oxihsm keygen`.
pub fn keygen(ctx: &Ctx, a: &KeygenArgs) -> Result<()> {
    if a.not_sensitive && !a.extractable {
        return Err("--not-sensitive needs --extractable".into());
    }
    let default_uses = match a.kind.as_str() {
        "aes" => "encrypt,decrypt,wrap,unwrap",
        "generic" => "sign,verify,derive",
        "rsa" => "sign,verify,encrypt,decrypt",
        "ec" => "sign,verify",
        "ed25519" | "ml-dsa-44" | "ml-dsa-65" | "ml-dsa-87" => "sign,verify",
        "ml-kem-512" | "ml-kem-768" | "ml-kem-1024" => "encapsulate,decapsulate",
        other => {
            return Err(format!(
                "--type {other}: use aes, generic, rsa, ec, ed25519, ml-dsa-44/65/87 or ml-kem-512/768/1024"
            ));
        }
    };
    let uses = usages(a.usage.as_deref().unwrap_or(default_uses))?;
    let id = a.id.as_deref().map(unhex).transpose()?.unwrap_or_default();
    let common =
        vec![Attribute::Token(true), Attribute::Label(a.label.clone().into_bytes()), Attribute::Id(id.clone())];
    let secret_flags =
        vec![Attribute::Private(true), Attribute::Sensitive(!a.not_sensitive), Attribute::Extractable(a.extractable)];
    let p = open(ctx)?;
    let (s, info) = user_session(&p, &a.sel, &a.pin)?;
    let made: Vec<(ObjectHandle, ObjectClass)> = match a.kind.as_str() {
        "aes" | "generic" => {
            let bits = a.bits.unwrap_or(256);
            if a.kind == "aes" && !matches!(bits, 128 | 192 | 256) {
                return Err("AES keys are 128, 192 or 256 bits".into());
            }
            if !bits.is_multiple_of(8) || bits == 0 {
                return Err("--bits must be a positive multiple of 8".into());
            }
            let mech = if a.kind == "aes" { Mechanism::AesKeyGen } else { Mechanism::GenericSecretKeyGen };
            let mut t = common.clone();
            t.extend(secret_flags);
            t.push(Attribute::ValueLen(((bits / 8) as u64).into()));
            no_kem(&uses)?;
            t.extend(exactly(&uses, &[&PUBLIC_USES[..], &PRIVATE_USES[..]].concat()));
            vec![(ck("C_GenerateKey", s.generate_key(&mech, &t))?, ObjectClass::SECRET_KEY)]
        }
        kind => {
            let (mech, mut public) = match kind {
                "rsa" => {
                    let bits = a.bits.unwrap_or(2048);
                    (
                        Mechanism::RsaPkcsKeyPairGen,
                        vec![Attribute::ModulusBits((bits as u64).into()), Attribute::PublicExponent(vec![1, 0, 1])],
                    )
                }
                "ec" => {
                    let oid = match a.curve.as_str() {
                        "p224" | "P-224" | "secp224r1" => Curve::P224,
                        "p256" | "P-256" | "prime256v1" => Curve::P256,
                        "p384" | "P-384" | "secp384r1" => Curve::P384,
                        "p521" | "P-521" | "secp521r1" => Curve::P521,
                        "secp256k1" => Curve::Secp256k1,
                        c => return Err(format!("--curve {c}: use p224, p256, p384, p521 or secp256k1")),
                    }
                    .oid();
                    (Mechanism::EccKeyPairGen, vec![Attribute::EcParams(oid.to_vec())])
                }
                "ml-dsa-44" | "ml-dsa-65" | "ml-dsa-87" => {
                    let set = match kind {
                        "ml-dsa-44" => MlDsaParameterSetType::ML_DSA_44,
                        "ml-dsa-65" => MlDsaParameterSetType::ML_DSA_65,
                        _ => MlDsaParameterSetType::ML_DSA_87,
                    };
                    (Mechanism::MlDsaKeyPairGen, vec![Attribute::ParameterSet(set.into())])
                }
                "ml-kem-512" | "ml-kem-768" | "ml-kem-1024" => {
                    let set = match kind {
                        "ml-kem-512" => MlKemParameterSetType::ML_KEM_512,
                        "ml-kem-768" => MlKemParameterSetType::ML_KEM_768,
                        _ => MlKemParameterSetType::ML_KEM_1024,
                    };
                    (Mechanism::MlKemKeyPairGen, vec![Attribute::ParameterSet(set.into())])
                }
                _ => (Mechanism::EccEdwardsKeyPairGen, vec![Attribute::EcParams(ED25519.to_vec())]),
            };
            let kem = matches!(kind, "rsa" | "ec") || kind.starts_with("ml-kem");
            let (pub_uses, priv_uses) = split_uses(&uses, kem)?;
            public.extend(common.clone());
            public.extend(pub_uses);
            let mut private = common.clone();
            private.extend(secret_flags);
            private.extend(priv_uses);
            let (hp, hq) = ck("C_GenerateKeyPair", s.generate_key_pair(&mech, &public, &private))?;
            vec![(hp, ObjectClass::PUBLIC_KEY), (hq, ObjectClass::PRIVATE_KEY)]
        }
    };
    report(ctx, &info, &a.label, &id, &made);
    Ok(())
}

fn report(ctx: &Ctx, info: &TokenInfo, label: &str, id: &[u8], made: &[(ObjectHandle, ObjectClass)]) {
    let uris: Vec<String> = made.iter().map(|(_, c)| object_uri(info, *c, Some(label), Some(id))).collect();
    emit(ctx, json!({"objects": uris}), || uris.iter().map(|u| format!("created {u}\n")).collect());
}

#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    sel: TokenSel,
    #[command(flatten)]
    pin: PinArgs,
    /// PEM or DER: a private key (PKCS#8, PKCS#1, SEC1), a public key (SPKI, PKCS#1) or an
    /// X.509 certificate.
    file: PathBuf,
    #[arg(long)]
    label: String,
    /// CKA_ID in hex.
    #[arg(long)]
    id: Option<String>,
    /// With a private key, do not also create its public key object.
    #[arg(long)]
    no_public_key: bool,
    /// Let the imported private key be wrapped out of the token again (CKA_EXTRACTABLE).
    #[arg(long)]
    extractable: bool,
}

/// What a key file holds.
enum Material {
    Private(Pkcs8Key),
    /// An ML-DSA or ML-KEM private key: its key type and attributes (parameter set, seed
    /// and/or expanded key).
    PqcPrivate(cryptoki_sys::CK_KEY_TYPE, Vec<oxihsm::object::Attribute>),
    /// An ML-DSA or ML-KEM public key: key type, parameter set, encoded key.
    PqcPublic(cryptoki_sys::CK_KEY_TYPE, cryptoki_sys::CK_ULONG, Vec<u8>),
    Public(PublicKey),
    Cert(Vec<u8>, keyfile::Certificate),
}

/// A SubjectPublicKeyInfo: ML-DSA/ML-KEM by their own reader, the others by AWS-LC's.
fn public_material(der: &[u8]) -> oxihsm::Result<Material> {
    match oxihsm::mechanism::pqc::parse_spki(der) {
        Some(r) => r.map(|(kt, set, key)| Material::PqcPublic(kt, set, key)),
        None => keyfile::parse_public(der).map(Material::Public),
    }
}

/// A PKCS#8 private key: ML-DSA/ML-KEM by their own reader, the others by AWS-LC's.
fn private_material(der: &[u8]) -> oxihsm::Result<Material> {
    match oxihsm::mechanism::pqc::parse_pkcs8(der) {
        Some(r) => r.map(|(kt, attrs)| Material::PqcPrivate(kt, attrs)),
        None => keyfile::parse_private(der).map(Material::Private),
    }
}

fn read_material(path: &Path) -> Result<Vec<Material>> {
    let raw = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
    let blocks = keyfile::pem_blocks(&raw);
    let err = |what: &str, e: oxihsm::Error| format!("{}: {what}: {e}", path.display());
    if blocks.is_empty() {
        // DER: whichever parser accepts it.
        if let Ok(k) = private_material(&raw) {
            return Ok(vec![k]);
        }
        if let Ok(k) = public_material(&raw) {
            return Ok(vec![k]);
        }
        let c = keyfile::parse_certificate(&raw).map_err(|_| {
            format!("{}: not a PEM file, nor a DER private key, public key or certificate", path.display())
        })?;
        return Ok(vec![Material::Cert(raw.to_vec(), c)]);
    }
    let mut out = Vec::new();
    for (label, der) in blocks {
        out.push(match label.as_str() {
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
                private_material(&der).map_err(|e| err(&label, e))?
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" => public_material(&der).map_err(|e| err(&label, e))?,
            "CERTIFICATE" => {
                let c = keyfile::parse_certificate(&der).map_err(|e| err(&label, e))?;
                Material::Cert(der.to_vec(), c)
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(format!(
                    "{}: an encrypted private key: decrypt it first (openssl pkcs8 -in ... -out ...)",
                    path.display()
                ));
            }
            "EC PARAMETERS" => continue,
            other => return Err(format!("{}: PEM block `{other}` is not a key or certificate", path.display())),
        });
    }
    Ok(out)
}

/// `oxihsm import`.
pub fn import(ctx: &Ctx, a: &ImportArgs) -> Result<()> {
    let material = read_material(&a.file)?;
    if material.is_empty() {
        return Err(format!("{}: nothing to import", a.file.display()));
    }
    let id = a.id.as_deref().map(unhex).transpose()?.unwrap_or_default();
    let common =
        vec![Attribute::Token(true), Attribute::Label(a.label.clone().into_bytes()), Attribute::Id(id.clone())];
    let p = open(ctx)?;
    let (s, info) = user_session(&p, &a.sel, &a.pin)?;
    let mut made = Vec::new();
    for m in material {
        match m {
            Material::Private(k) => {
                let public = public_of(&k)?;
                let (kt, attrs) = oxihsm::mechanism::wrap::key_material(k);
                let mut t = common.clone();
                t.push(Attribute::Class(ObjectClass::PRIVATE_KEY));
                t.push(Attribute::KeyType(KeyType::try_from(kt).map_err(|e| e.to_string())?));
                t.extend([Attribute::Private(true), Attribute::Sensitive(true), Attribute::Extractable(a.extractable)]);
                t.push(Attribute::Sign(true));
                match kt {
                    cryptoki_sys::CKK_RSA => t.extend([Attribute::Decrypt(true), Attribute::Unwrap(true)]),
                    cryptoki_sys::CKK_EC => t.push(Attribute::Derive(true)),
                    _ => {}
                }
                t.extend(to_cryptoki(&attrs)?);
                made.push((ck("C_CreateObject", s.create_object(&t))?, ObjectClass::PRIVATE_KEY));
                if !a.no_public_key {
                    let mut t = common.clone();
                    t.extend(public_attrs(&public));
                    made.push((ck("C_CreateObject", s.create_object(&t))?, ObjectClass::PUBLIC_KEY));
                }
            }
            Material::PqcPrivate(kt, attrs) => {
                made.extend(import_pqc(&s, &common, kt, &attrs, a)?);
            }
            Material::PqcPublic(kt, set, key) => {
                let mut t = common.clone();
                t.extend(pqc_public_attrs(kt, set, key)?);
                made.push((ck("C_CreateObject", s.create_object(&t))?, ObjectClass::PUBLIC_KEY));
            }
            Material::Public(k) => {
                let mut t = common.clone();
                t.extend(public_attrs(&k));
                made.push((ck("C_CreateObject", s.create_object(&t))?, ObjectClass::PUBLIC_KEY));
            }
            Material::Cert(der, c) => {
                let mut t = common.clone();
                t.extend(certificate_attrs(der, c));
                made.push((ck("C_CreateObject", s.create_object(&t))?, ObjectClass::CERTIFICATE));
            }
        }
    }
    report(ctx, &info, &a.label, &id, &made);
    Ok(())
}

/// Imports an ML-DSA or ML-KEM private key, and (unless asked not to) its public key, whose
/// encoding the token computed into the private key's CKA_PUBLIC_KEY_INFO.
fn import_pqc(
    s: &Session,
    common: &[Attribute],
    kt: cryptoki_sys::CK_KEY_TYPE,
    attrs: &[oxihsm::object::Attribute],
    a: &ImportArgs,
) -> Result<Vec<(ObjectHandle, ObjectClass)>> {
    let Some((oxihsm::object::Value::Ulong(set), material)) = attrs.split_first().map(|(f, r)| (&f.value, r)) else {
        return Err("unexpected ML key material".into());
    };
    let mut t = common.to_vec();
    t.extend([
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::try_from(kt).map_err(|e| e.to_string())?),
        Attribute::ParameterSet(cryptoki::types::Ulong::from(*set).try_into().map_err(|e| format!("{e}"))?),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(a.extractable),
        if kt == cryptoki_sys::CKK_ML_DSA { Attribute::Sign(true) } else { Attribute::Decapsulate(true) },
    ]);
    t.extend(to_cryptoki(material)?);
    let private = ck("C_CreateObject", s.create_object(&t))?;
    let mut made = vec![(private, ObjectClass::PRIVATE_KEY)];
    if !a.no_public_key {
        let spki = get_bytes(s, private, AttributeType::PublicKeyInfo)?;
        let (kt, set, key) = oxihsm::mechanism::pqc::parse_spki(&spki)
            .and_then(|r| r.ok())
            .ok_or("the token's SubjectPublicKeyInfo is malformed")?;
        let mut t = common.to_vec();
        t.extend(pqc_public_attrs(kt, set, key)?);
        made.push((ck("C_CreateObject", s.create_object(&t))?, ObjectClass::PUBLIC_KEY));
    }
    Ok(made)
}

/// An ML-DSA (verify) or ML-KEM (encapsulate) public key object's class, key type, parameter
/// set and key.
fn pqc_public_attrs(
    kt: cryptoki_sys::CK_KEY_TYPE,
    set: cryptoki_sys::CK_ULONG,
    key: Vec<u8>,
) -> Result<Vec<Attribute>> {
    let param = cryptoki::types::Ulong::from(set).try_into().map_err(|e| format!("{e}"))?;
    Ok(vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::try_from(kt).map_err(|e| e.to_string())?),
        Attribute::ParameterSet(param),
        Attribute::Value(key),
        if kt == cryptoki_sys::CKK_ML_DSA { Attribute::Verify(true) } else { Attribute::Encapsulate(true) },
    ])
}

/// The template a URI's object attributes stand for.
fn template_of(u: &Uri) -> Result<Vec<Attribute>> {
    let mut t = Vec::new();
    if let Some(l) = &u.object {
        t.push(Attribute::Label(l.clone().into_bytes()));
    }
    if let Some(i) = &u.id {
        t.push(Attribute::Id(i.clone()));
    }
    if let Some(k) = &u.kind {
        t.push(Attribute::Class(class_of(k).ok_or_else(|| format!("URI type {k}"))?));
    }
    if t.is_empty() {
        return Err("the URI names no object (give object=, id= or type=)".into());
    }
    Ok(t)
}

fn sel_of(u: &Uri) -> TokenSel {
    TokenSel { token: u.token.clone(), slot: u.slot_id, serial: u.serial.clone() }
}

/// `oxihsm export-pub`.
pub fn export_pub(ctx: &Ctx, uri: &str, out: Option<&Path>, pin: &PinArgs) -> Result<()> {
    let u = Uri::parse(uri)?;
    let p = open(ctx)?;
    let (s, _) = user_session(&p, &sel_of(&u), pin)?;
    let found = ck("C_FindObjects", s.find_objects(&template_of(&u)?))?;
    let listed: Vec<Listed> = found.into_iter().map(|h| describe(&s, h)).collect::<Result<_>>()?;
    // Prefer the public key; else a certificate's key; else the public half of a private key.
    let pick = listed
        .iter()
        .find(|l| l.class == ObjectClass::PUBLIC_KEY)
        .or_else(|| listed.iter().find(|l| l.class == ObjectClass::CERTIFICATE))
        .or_else(|| listed.iter().find(|l| l.class == ObjectClass::PRIVATE_KEY))
        .ok_or("the URI matches no public key, certificate or private key")?;
    // ML-DSA and ML-KEM keys carry their SubjectPublicKeyInfo (public and private keys alike).
    let spki = match pick.key_type {
        Some(KeyType::ML_DSA | KeyType::ML_KEM) => get_bytes(&s, pick.handle, AttributeType::PublicKeyInfo)?,
        _ => public_key_of(&s, pick)?.spki().map_err(|e| e.to_string())?,
    };
    let pem = keyfile::pem("PUBLIC KEY", &spki);
    match out {
        Some(path) => std::fs::write(path, &pem).map_err(|e| format!("{}: {e}", path.display()))?,
        None => print!("{pem}"),
    }
    Ok(())
}

fn get_bytes(s: &Session, h: ObjectHandle, t: AttributeType) -> Result<Vec<u8>> {
    let v = ck("C_GetAttributeValue", s.get_attributes(h, &[t]))?;
    match v.into_iter().next() {
        Some(Attribute::Modulus(b) | Attribute::PublicExponent(b) | Attribute::EcParams(b) | Attribute::EcPoint(b))
        | Some(Attribute::Value(b) | Attribute::PublicKeyInfo(b)) => Ok(b),
        _ => Err(format!("the object has no {t}")),
    }
}

/// Strips a DER OCTET STRING wrapper if present.
fn unwrap_octets(b: Vec<u8>) -> Vec<u8> {
    match b.as_slice() {
        [0x04, n, rest @ ..] if *n as usize == rest.len() => rest.to_vec(),
        [0x04, 0x81, n, rest @ ..] if *n as usize == rest.len() => rest.to_vec(),
        _ => b,
    }
}

fn public_key_of(s: &Session, l: &Listed) -> Result<PublicKey> {
    if l.class == ObjectClass::CERTIFICATE {
        let der = get_bytes(s, l.handle, AttributeType::Value)?;
        return keyfile::parse_certificate(&der)
            .map_err(|e| e.to_string())?
            .public
            .ok_or_else(|| "the certificate's key algorithm is not supported".into());
    }
    match l.key_type {
        Some(KeyType::RSA) => Ok(PublicKey::Rsa {
            n: get_bytes(s, l.handle, AttributeType::Modulus)?,
            e: get_bytes(s, l.handle, AttributeType::PublicExponent)?,
        }),
        Some(KeyType::EC) => {
            let params = get_bytes(s, l.handle, AttributeType::EcParams)?;
            let curve = Curve::ALL.into_iter().find(|c| c.oid() == params.as_slice()).ok_or("unsupported curve")?;
            Ok(PublicKey::Ec { curve, point: unwrap_octets(get_bytes(s, l.handle, AttributeType::EcPoint)?) })
        }
        Some(KeyType::EC_EDWARDS) => {
            Ok(PublicKey::Ed25519(unwrap_octets(get_bytes(s, l.handle, AttributeType::EcPoint)?)))
        }
        other => Err(format!("no public key to export for key type {other:?}")),
    }
}

/// `oxihsm delete`.
pub fn delete(ctx: &Ctx, uri: &str, pin: &PinArgs, all: bool) -> Result<()> {
    let u = Uri::parse(uri)?;
    let p = open(ctx)?;
    let (s, info) = user_session(&p, &sel_of(&u), pin)?;
    let found = ck("C_FindObjects", s.find_objects(&template_of(&u)?))?;
    if found.is_empty() {
        return Err("the URI matches no object".into());
    }
    if found.len() > 1 && !all {
        return Err(format!("the URI matches {} objects: narrow it, or pass --all", found.len()));
    }
    let mut gone = Vec::new();
    for h in found {
        let l = describe(&s, h)?;
        ck("C_DestroyObject", s.destroy_object(h))?;
        gone.push(object_uri(&info, l.class, l.label.as_deref(), l.id.as_deref()));
    }
    emit(ctx, json!({"deleted": gone}), || gone.iter().map(|u| format!("deleted {u}\n")).collect());
    Ok(())
}
