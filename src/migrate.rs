//! Migration of SoftHSMv2 file-backend tokens (`oxihsm migrate --from-softhsm TOKENDIR`).
//!
//! A SoftHSMv2 token is a directory holding `token.object` and one `<uuid>.object` per token
//! object. Each file is a u64 generation counter, then attributes: PKCS#11 type (u64), kind
//! (u64: 1 boolean, 2 unsigned long, 3 byte string, 4 attribute map, 5 mechanism set) and
//! value (1 byte; u64; u64 length and bytes; u64 byte length and nested attributes; u64 count
//! and u64 mechanisms), all big-endian. The token's 256-bit key is stored under each PIN as
//! `salt (8) ‖ IV (16) ‖ AES-256-CBC("RJR" ‖ key)`, with the AES key derived from the PIN by
//! iterated, salted SHA-256 (OpenPGP S2K style: SHA-256(salt ‖ PIN), then rehashed for
//! 1500 + `salt[7]` rounds in all). In a CKA_PRIVATE object every non-empty byte string is
//! `IV (16) ‖ AES-256-CBC(token key, value)`.
//!
//! The migrated token keeps its label, serial and both PINs; every object keeps every
//! attribute oxihsm knows, re-sealed under the new token's master key.

use crate::config::Config;
use crate::crypto::evp::{CipherCtx, Mode};
use crate::crypto::{self, SecretKey256, sha256};
use crate::error::{Error, Result};
use crate::object::attr::{Kind, kind_of};
use crate::object::{Attribute, Object, Value};
use crate::store::sqlite::SqliteStore;
use crate::store::{Event, NewToken, Sealer, Store};
use cryptoki_sys::*;
use std::path::Path;
use zeroize::Zeroizing;

const CKA_OS_TOKENLABEL: u64 = 0x8000_5349;
const CKA_OS_TOKENSERIAL: u64 = 0x8000_534a;
const CKA_OS_SOPIN: u64 = 0x8000_534c;
const CKA_OS_USERPIN: u64 = 0x8000_534d;

/// A SoftHSMv2 attribute value as stored.
#[derive(Clone, Debug)]
enum Raw {
    Bool(bool),
    Ulong(u64),
    Bytes(Vec<u8>),
    Map(Vec<(u64, Raw)>),
    Mechs(Vec<u64>),
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u64(&mut self) -> Result<u64> {
        let (a, b) =
            self.0.split_at_checked(8).ok_or_else(|| Error::Corrupt("SoftHSMv2 object file: truncated".into()))?;
        self.0 = b;
        Ok(u64::from_be_bytes(a.try_into().expect("8")))
    }
    fn bytes(&mut self, n: u64) -> Result<&[u8]> {
        let n = usize::try_from(n).map_err(|_| Error::Corrupt("SoftHSMv2 object file: length".into()))?;
        let (a, b) =
            self.0.split_at_checked(n).ok_or_else(|| Error::Corrupt("SoftHSMv2 object file: truncated".into()))?;
        self.0 = b;
        Ok(a)
    }
    fn attrs(&mut self, depth: u32) -> Result<Vec<(u64, Raw)>> {
        let mut out = Vec::new();
        while !self.0.is_empty() {
            let ty = self.u64()?;
            let kind = self.u64()?;
            let v = match kind {
                1 => Raw::Bool(self.bytes(1)?[0] != 0),
                2 => Raw::Ulong(self.u64()?),
                3 => {
                    let n = self.u64()?;
                    Raw::Bytes(self.bytes(n)?.to_vec())
                }
                4 if depth < 2 => {
                    let n = self.u64()?;
                    Raw::Map(Reader(self.bytes(n)?).attrs(depth + 1)?)
                }
                5 => {
                    let n = self.u64()?;
                    Raw::Mechs((0..n).map(|_| self.u64()).collect::<Result<_>>()?)
                }
                k => return Err(Error::Corrupt(format!("SoftHSMv2 object file: attribute kind {k}"))),
            };
            out.push((ty, v));
        }
        Ok(out)
    }
}

fn read_object_file(path: &Path) -> Result<Vec<(u64, Raw)>> {
    let data = std::fs::read(path).map_err(|e| Error::Device(format!("{}: {e}", path.display())))?;
    let mut r = Reader(&data);
    r.u64()?; // generation
    r.attrs(0)
}

/// SoftHSMv2's PIN-derived AES-256 key.
fn pbe_key(pin: &[u8], salt: &[u8]) -> Zeroizing<[u8; 32]> {
    let rounds = 1500 + u32::from(salt[salt.len() - 1]);
    let mut h = Zeroizing::new(sha256(&[salt, pin]));
    for _ in 1..rounds {
        *h = sha256(&[&h[..]]);
    }
    h
}

fn cbc_decrypt(key: &[u8], iv: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut ctx = CipherCtx::block(Mode::Cbc, key, iv, false, true)?;
    let mut out = Zeroizing::new(Vec::new());
    ctx.update(data, &mut out)?;
    ctx.finish(&mut out)?;
    Ok(out)
}

/// Opens a PIN blob; the token key, or CKR_PIN_INCORRECT.
fn open_pin_blob(blob: &[u8], pin: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if blob.len() < 8 + 16 + 16 {
        return Err(Error::Corrupt("SoftHSMv2 PIN blob".into()));
    }
    let key = pbe_key(pin, &blob[..8]);
    let plain = cbc_decrypt(&key[..], &blob[8..24], &blob[24..]).map_err(|_| Error::PinIncorrect)?;
    if plain.len() != 35 || &plain[..3] != b"RJR" {
        return Err(Error::PinIncorrect);
    }
    Ok(Zeroizing::new(plain[3..].to_vec()))
}

fn decrypt_value(token_key: &[u8], v: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if v.len() < 32 {
        return Err(Error::Corrupt("SoftHSMv2 private attribute".into()));
    }
    cbc_decrypt(token_key, &v[..16], &v[16..])
}

/// Converts one attribute to oxihsm's form (None: not an attribute oxihsm keeps).
fn convert(ty: u64, v: &Raw, private: bool, token_key: &[u8]) -> Result<Option<Attribute>> {
    let ty = ty as CK_ATTRIBUTE_TYPE;
    let Some(kind) = kind_of(ty) else { return Ok(None) };
    let value = match (kind, v) {
        (Kind::Bool, Raw::Bool(b)) => Value::Bool(*b),
        (Kind::Ulong, Raw::Ulong(u)) => Value::Ulong(*u as CK_ULONG),
        (Kind::Bytes | Kind::Date, Raw::Bytes(b)) => {
            if private && !b.is_empty() {
                Value::bytes(decrypt_value(token_key, b)?.to_vec())
            } else {
                Value::bytes(b.clone())
            }
        }
        // SoftHSMv2 keeps an empty set for a key without restriction; oxihsm leaves the
        // attribute out (an empty list would allow nothing).
        (Kind::MechList, Raw::Mechs(m)) if m.is_empty() => return Ok(None),
        (Kind::MechList, Raw::Mechs(m)) => Value::MechList(m.iter().map(|&x| x as CK_MECHANISM_TYPE).collect()),
        (Kind::Template, Raw::Map(m)) => {
            let mut t = Vec::new();
            for (ty, v) in m {
                if let Some(a) = convert(*ty, v, private, token_key)? {
                    t.push(a);
                }
            }
            Value::Template(t)
        }
        _ => return Err(Error::Corrupt(format!("SoftHSMv2 attribute 0x{ty:x} has an unexpected kind"))),
    };
    Ok(Some(Attribute::new(ty, value)))
}

/// SoftHSMv2 2.6 makes X25519 keys with CKM_EC_EDWARDS_KEY_PAIR_GEN and keeps them as
/// CKK_EC_EDWARDS keys on "curve25519"; PKCS#11 3.0 names them CKK_EC_MONTGOMERY (made by
/// CKM_EC_MONTGOMERY_KEY_PAIR_GEN), which is what oxihsm's ECDH takes. Such a key changes its
/// key type (and its key generation mechanism) on the way; its values stay as they were.
fn legacy_x25519(attrs: &mut [Attribute]) {
    let edwards = attrs.iter().any(|a| a.ty == CKA_KEY_TYPE && a.value == Value::Ulong(CKK_EC_EDWARDS));
    let x25519 = attrs.iter().any(|a| {
        a.ty == CKA_EC_PARAMS
            && matches!(&a.value, Value::Bytes(p)
                if matches!(crate::mechanism::keys::curve_of(p), Ok(crate::mechanism::keys::CurveKind::X25519)))
    });
    if !(edwards && x25519) {
        return;
    }
    for a in attrs.iter_mut() {
        match a.ty {
            CKA_KEY_TYPE => a.value = Value::Ulong(CKK_EC_MONTGOMERY),
            CKA_KEY_GEN_MECHANISM if a.value == Value::Ulong(CKM_EC_EDWARDS_KEY_PAIR_GEN) => {
                a.value = Value::Ulong(CKM_EC_MONTGOMERY_KEY_PAIR_GEN);
            }
            _ => {}
        }
    }
}

/// What a migration did.
#[derive(Debug)]
pub struct Migrated {
    pub label: String,
    pub serial: String,
    pub slot_id: u64,
    pub objects: usize,
}

/// Migrates the SoftHSMv2 token in `token_dir` (one token's directory) into the store that
/// `config` names, with its SO and user PINs. The token lands in the next free slot; a token
/// there with the same serial is refused (migrate once).
pub fn from_softhsm(token_dir: &Path, config: &Config, so_pin: &[u8], user_pin: &[u8]) -> Result<Migrated> {
    let token = read_object_file(&token_dir.join("token.object"))?;
    let get = |t: u64| token.iter().find(|(ty, _)| *ty == t).map(|(_, v)| v.clone());
    let (Some(Raw::Bytes(label)), Some(Raw::Bytes(serial)), Some(Raw::Bytes(so_blob)), Some(Raw::Bytes(user_blob))) =
        (get(CKA_OS_TOKENLABEL), get(CKA_OS_TOKENSERIAL), get(CKA_OS_SOPIN), get(CKA_OS_USERPIN))
    else {
        return Err(Error::Corrupt(format!("{}: not an initialised SoftHSMv2 token", token_dir.display())));
    };
    let token_key = open_pin_blob(&user_blob, user_pin)?;
    let so_key = open_pin_blob(&so_blob, so_pin)?;
    if *so_key != *token_key {
        return Err(Error::Corrupt("SoftHSMv2 token: the SO and user PINs open different keys".into()));
    }
    let serial = String::from_utf8_lossy(&serial).trim().to_string();
    let mut label32 = [b' '; 32];
    label32[..label.len().min(32)].copy_from_slice(&label[..label.len().min(32)]);

    let mut store =
        SqliteStore::open(&config.token_dir, std::time::Duration::from_millis(config.busy_timeout_ms), config.umask)?;
    let tokens = store.tokens()?;
    if tokens.iter().any(|t| t.serial == serial) {
        return Err(Error::Config(format!("a token with serial {serial} is already in the store")));
    }
    let slot_id = tokens.iter().map(|t| t.slot_id + 1).max().unwrap_or(0);
    let mk = SecretKey256::random()?;
    let mut uuid = [0u8; 16];
    crypto::random_fill(&mut uuid)?;
    let kdf = config.pin_kdf;
    let so = crate::token::wrap_mk(&mk, so_pin, &uuid, kdf, true)?;
    let user = crate::token::wrap_mk(&mk, user_pin, &uuid, kdf, false)?;
    let ev = |function: &'static str, obj: Option<&Object>| Event {
        slot_id: Some(slot_id),
        serial: Some(serial.clone()),
        user: Some("so"),
        function,
        object_uid: obj.map(|o| o.unique_id().to_string()),
        label: obj
            .filter(|o| !o.is_private())
            .and_then(|o| o.bytes(CKA_LABEL))
            .map(|l| String::from_utf8_lossy(l).into_owned()),
        result: CKR_OK,
        ..Default::default()
    };
    let new = NewToken {
        slot_id,
        uuid,
        label: label32,
        serial: serial.clone(),
        kdf,
        so,
        max_failures: config.max_pin_failures,
    };
    let rec = store.put_token(&new, &ev("oxihsm migrate (token)", None))?;
    store.set_pin(rec.id, crate::store::Who::User, &user, &ev("oxihsm migrate (user PIN)", None))?;
    let sealer = Sealer::new(mk, uuid)?;

    let mut files: Vec<_> = std::fs::read_dir(token_dir)
        .map_err(|e| Error::Device(format!("{}: {e}", token_dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "object") && p.file_name().is_some_and(|n| n != "token.object"))
        .collect();
    files.sort();
    let mut count = 0;
    for f in files {
        let raw = read_object_file(&f)?;
        let private = raw.iter().any(|(t, v)| *t == CKA_PRIVATE as u64 && matches!(v, Raw::Bool(true)));
        let mut attrs = Vec::new();
        for (ty, v) in &raw {
            if *ty == CKA_UNIQUE_ID as u64 {
                continue;
            }
            if let Some(a) = convert(*ty, v, private, &token_key)? {
                attrs.push(a);
            }
        }
        legacy_x25519(&mut attrs);
        let uid = crate::token::objects::new_unique_id()?;
        attrs.push(Attribute::new(CKA_UNIQUE_ID, Value::bytes(uid.into_bytes())));
        attrs.push(Attribute::new(CKA_TOKEN, Value::Bool(true)));
        // Exactly the attributes SoftHSMv2 kept (oxihsm derives nothing extra here).
        let obj: Object = attrs.into_iter().map(|a| (a.ty, a.value)).collect();
        store.insert_object(rec.id, &obj, Some(&sealer), &ev("oxihsm migrate (object)", Some(&obj)))?;
        count += 1;
    }
    Ok(Migrated { label: String::from_utf8_lossy(&label).trim_end().to_string(), serial, slot_id, objects: count })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PIN blob made the way SoftHSMv2 makes one, around `plain` (normally "RJR" ‖ key).
    fn blob(pin: &[u8], plain: &[u8]) -> Vec<u8> {
        let (salt, iv) = ([3u8; 8], [5u8; 16]);
        let kek = pbe_key(pin, &salt);
        let mut ctx = CipherCtx::block(Mode::Cbc, &kek[..], &iv, true, true).unwrap();
        let mut ct = Vec::new();
        ctx.update(plain, &mut ct).unwrap();
        ctx.finish(&mut ct).unwrap();
        [&salt[..], &iv, &ct].concat()
    }

    #[test]
    fn pin_blob_round_trip_and_wrong_pin() {
        let key = [9u8; 32];
        let good = blob(b"1234", &[b"RJR".as_slice(), &key].concat());
        assert_eq!(good.len(), 72);
        assert_eq!(&open_pin_blob(&good, b"1234").unwrap()[..], &key);
        assert!(matches!(open_pin_blob(&good, b"4321"), Err(Error::PinIncorrect)));
        // What the right PIN opens must be "RJR" and a 32-byte key, else the PIN was wrong.
        for plain in [[b"RJS".as_slice(), &key].concat(), [b"RJR".as_slice(), &key[..31]].concat()] {
            assert!(matches!(open_pin_blob(&blob(b"1234", &plain), b"1234"), Err(Error::PinIncorrect)));
        }
        // Salt, IV and one block at least; shorter is a damaged file, not a wrong PIN.
        assert!(matches!(open_pin_blob(&good[..39], b"1234"), Err(Error::Corrupt(_))));
        assert!(matches!(open_pin_blob(&good[..40], b"1234"), Err(Error::PinIncorrect)));
    }

    /// One attribute as SoftHSMv2 writes it: type, kind, value (big-endian).
    fn attr(ty: u64, kind: u64, value: &[u8]) -> Vec<u8> {
        [&ty.to_be_bytes()[..], &kind.to_be_bytes(), value].concat()
    }

    /// An attribute map (kind 4) holding `inner`'s bytes.
    fn map(ty: u64, inner: &[u8]) -> Vec<u8> {
        attr(ty, 4, &[&(inner.len() as u64).to_be_bytes()[..], inner].concat())
    }

    #[test]
    fn attribute_maps_nest_two_deep_at_most() {
        let leaf = attr(CKA_ENCRYPT as u64, 1, &[1]);
        let one = map(CKA_UNWRAP_TEMPLATE as u64, &leaf);
        let two = map(CKA_UNWRAP_TEMPLATE as u64, &one);
        let three = map(CKA_UNWRAP_TEMPLATE as u64, &two);
        let parsed = Reader(&two).attrs(0).unwrap();
        let [(ty, Raw::Map(outer))] = &parsed[..] else { panic!("{parsed:?}") };
        assert_eq!(*ty, CKA_UNWRAP_TEMPLATE as u64);
        let [(_, Raw::Map(inner))] = &outer[..] else { panic!("{outer:?}") };
        assert!(matches!(inner[..], [(t, Raw::Bool(true))] if t == CKA_ENCRYPT as u64));
        // A third level is refused: SoftHSMv2 never writes one, and a file nesting without
        // end must not recurse without end.
        assert!(matches!(Reader(&three).attrs(0), Err(Error::Corrupt(_))));
        // Lengths that run past the file, and an unknown kind.
        let mut short = one.clone();
        short.pop();
        assert!(matches!(Reader(&short).attrs(0), Err(Error::Corrupt(_))));
        assert!(matches!(Reader(&attr(1, 6, &[])).attrs(0), Err(Error::Corrupt(_))));
    }
}
