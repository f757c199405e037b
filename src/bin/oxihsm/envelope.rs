//! Envelope encryption (`oxihsm encrypt` / `oxihsm decrypt`), the KMS GenerateDataKey
//! pattern with a token key: a fresh AES-256 data key is generated inside the token (a
//! session object that never leaves it in clear), wrapped under the token key (AES key wrap
//! with padding, or RSA-OAEP with SHA-256), and the file is encrypted in chunks with
//! AES-256-GCM by the token under the data key. The format is in `doc/ENVELOPE.md`.

use crate::output::Output;
use crate::token::{Ctx, ck, emit, open, user_session};
use crate::uri::Uri;
use crate::{PinArgs, Result, TokenSel};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use std::io::Read;
use std::path::PathBuf;

const MAGIC: &[u8; 6] = b"OXENV\0";
const VERSION: u8 = 1;
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const WRAP_KW: u64 = cryptoki_sys::CKM_AES_KEY_WRAP;
const WRAP_OAEP: u64 = cryptoki_sys::CKM_RSA_PKCS_OAEP;

#[derive(clap::Args)]
pub struct EncryptArgs {
    /// pkcs11: URI of the token key: an AES key (wrap) or an RSA public key.
    #[arg(long)]
    key: String,
    input: PathBuf,
    output: PathBuf,
    #[command(flatten)]
    pin: PinArgs,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
pub struct DecryptArgs {
    /// pkcs11: URI of the token key (default: the one recorded in the file).
    #[arg(long)]
    key: Option<String>,
    input: PathBuf,
    output: PathBuf,
    #[command(flatten)]
    pin: PinArgs,
    #[arg(long)]
    quiet: bool,
}

struct Header {
    wrap_mech: u64,
    chunk: u32,
    nonce_prefix: [u8; 4],
    key_uri: String,
    wrapped: Vec<u8>,
}

impl Header {
    fn encode(&self) -> Vec<u8> {
        let mut h = MAGIC.to_vec();
        h.push(VERSION);
        h.extend_from_slice(&self.wrap_mech.to_le_bytes());
        h.extend_from_slice(&self.chunk.to_le_bytes());
        h.extend_from_slice(&self.nonce_prefix);
        h.extend_from_slice(&(self.key_uri.len() as u16).to_le_bytes());
        h.extend_from_slice(self.key_uri.as_bytes());
        h.extend_from_slice(&(self.wrapped.len() as u16).to_le_bytes());
        h.extend_from_slice(&self.wrapped);
        h
    }

    fn read(r: &mut impl Read) -> Result<(Header, Vec<u8>)> {
        let bad = || "not an oxihsm envelope file (bad header)".to_string();
        let mut fixed = [0u8; 6 + 1 + 8 + 4 + 4 + 2];
        r.read_exact(&mut fixed).map_err(|_| bad())?;
        if &fixed[..6] != MAGIC {
            return Err(bad());
        }
        if fixed[6] != VERSION {
            return Err(format!("envelope version {} is not supported by this oxihsm", fixed[6]));
        }
        let wrap_mech = u64::from_le_bytes(fixed[7..15].try_into().expect("8"));
        let chunk = u32::from_le_bytes(fixed[15..19].try_into().expect("4"));
        let nonce_prefix: [u8; 4] = fixed[19..23].try_into().expect("4");
        let uri_len = u16::from_le_bytes(fixed[23..25].try_into().expect("2")) as usize;
        let mut uri = vec![0u8; uri_len];
        r.read_exact(&mut uri).map_err(|_| bad())?;
        let mut wl = [0u8; 2];
        r.read_exact(&mut wl).map_err(|_| bad())?;
        let mut wrapped = vec![0u8; u16::from_le_bytes(wl) as usize];
        r.read_exact(&mut wrapped).map_err(|_| bad())?;
        if chunk == 0 || chunk as usize > 16 * 1024 * 1024 || !matches!(wrap_mech, WRAP_KW | WRAP_OAEP) {
            return Err(bad());
        }
        let h = Header { wrap_mech, chunk, nonce_prefix, key_uri: String::from_utf8(uri).map_err(|_| bad())?, wrapped };
        let raw = h.encode();
        Ok((h, raw))
    }
}

fn oaep() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::empty(),
    ))
}

/// The one object `uri` names among `classes`.
fn find_key(s: &Session, uri: &Uri, classes: &[ObjectClass]) -> Result<(ObjectHandle, ObjectClass, KeyType)> {
    let mut t = Vec::new();
    if let Some(l) = &uri.object {
        t.push(Attribute::Label(l.clone().into_bytes()));
    }
    if let Some(i) = &uri.id {
        t.push(Attribute::Id(i.clone()));
    }
    if t.is_empty() {
        return Err("the key URI names no object (object= or id=)".into());
    }
    let mut hits = Vec::new();
    for h in ck("C_FindObjects", s.find_objects(&t))? {
        let a = ck("C_GetAttributeValue", s.get_attributes(h, &[AttributeType::Class, AttributeType::KeyType]))?;
        if let [Attribute::Class(c), Attribute::KeyType(k)] = a.as_slice()
            && classes.contains(c)
        {
            hits.push((h, *c, *k));
        }
    }
    match hits.len() {
        0 => Err("no usable key matches the URI".into()),
        1 => Ok(hits[0]),
        n => Err(format!("{n} keys match the URI: narrow it (id=, type=)")),
    }
}

fn sel_of(u: &Uri) -> TokenSel {
    TokenSel { token: u.token.clone(), slot: u.slot_id, serial: u.serial.clone() }
}

fn nonce(prefix: &[u8; 4], counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(prefix);
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n
}

fn aad(header_hash: &[u8; 32], counter: u64, last: bool) -> Vec<u8> {
    let mut a = header_hash.to_vec();
    a.extend_from_slice(&counter.to_be_bytes());
    a.push(last as u8);
    a
}

fn progress(quiet: bool, total: u64) -> indicatif::ProgressBar {
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("template"),
    );
    pb
}

/// Reads up to `buf.len()` bytes (fewer only at end of input).
fn fill(r: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(n)
}

/// Calls `f(number, is_last, chunk)` for each `size`-byte chunk of `input` (the last may be
/// shorter, or empty when the input is), reading one ahead to know which is last. Returns
/// the number of chunks.
fn each_chunk(input: &mut impl Read, size: usize, mut f: impl FnMut(u64, bool, &[u8]) -> Result<()>) -> Result<u64> {
    let mut cur = vec![0u8; size];
    let mut next = vec![0u8; size];
    let mut n = fill(input, &mut cur)?;
    let mut counter = 0u64;
    loop {
        let m = if n == size { fill(input, &mut next)? } else { 0 };
        let last = m == 0;
        f(counter, last, &cur[..n])?;
        if last {
            return Ok(counter + 1);
        }
        std::mem::swap(&mut cur, &mut next);
        n = m;
        counter += 1;
    }
}

/// `oxihsm encrypt`.
pub fn encrypt(ctx: &Ctx, a: &EncryptArgs) -> Result<()> {
    let uri = Uri::parse(&a.key)?;
    let mut input = std::fs::File::open(&a.input).map_err(|e| format!("{}: {e}", a.input.display()))?;
    let total = input.metadata().map(|m| m.len()).unwrap_or(0);
    let p = open(ctx)?;
    let (s, _) = user_session(&p, &sel_of(&uri), &a.pin)?;
    let (kek, class, kt) = find_key(&s, &uri, &[ObjectClass::SECRET_KEY, ObjectClass::PUBLIC_KEY])?;
    let (wrap_mech, mech) = match (class, kt) {
        (ObjectClass::SECRET_KEY, KeyType::AES) => (WRAP_KW, Mechanism::AesKeyWrap),
        (ObjectClass::PUBLIC_KEY, KeyType::RSA) => (WRAP_OAEP, oaep()),
        _ => return Err("the key must be an AES secret key or an RSA public key".into()),
    };
    // The data key: made in the token, extractable only so that it can be wrapped.
    let dk = ck(
        "C_GenerateKey (data key)",
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
            ],
        ),
    )?;
    let wrapped = ck("C_WrapKey (data key)", s.wrap_key(&mech, kek, dk))?;
    let mut prefix = [0u8; 4];
    ck("C_GenerateRandom", s.generate_random_slice(&mut prefix))?;
    let mut key_uri = uri.clone();
    key_uri.kind = None;
    let header = Header { wrap_mech, chunk: CHUNK as u32, nonce_prefix: prefix, key_uri: key_uri.format(), wrapped };
    let raw = header.encode();
    let hh = oxihsm::crypto::sha256(&[&raw]);
    let mut out = Output::create(&a.output, 0o666)?;
    out.write(&raw)?;
    let pb = progress(a.quiet, total);
    let chunks = each_chunk(&mut input, CHUNK, |counter, last, chunk| {
        let mut iv = nonce(&prefix, counter);
        let ad = aad(&hh, counter, last);
        let gcm = GcmParams::new(&mut iv, &ad, 128.into()).map_err(|e| e.to_string())?;
        let ct = ck("C_Encrypt (AES-GCM)", s.encrypt(&Mechanism::AesGcm(gcm), dk, chunk))?;
        out.write(&ct)?;
        pb.inc(chunk.len() as u64);
        Ok(())
    })?;
    pb.finish_and_clear();
    out.finish()?;
    let _ = s.destroy_object(dk);
    emit(ctx, serde_json::json!({"output": a.output, "chunks": chunks, "bytes": total}), || {
        format!("encrypted {} bytes to {}\n", total, a.output.display())
    });
    Ok(())
}

/// `oxihsm decrypt`.
pub fn decrypt(ctx: &Ctx, a: &DecryptArgs) -> Result<()> {
    let mut input =
        std::io::BufReader::new(std::fs::File::open(&a.input).map_err(|e| format!("{}: {e}", a.input.display()))?);
    let total = std::fs::metadata(&a.input).map(|m| m.len()).unwrap_or(0);
    let (header, raw) = Header::read(&mut input)?;
    let uri = Uri::parse(a.key.as_deref().unwrap_or(&header.key_uri))?;
    let p = open(ctx)?;
    let (s, _) = user_session(&p, &sel_of(&uri), &a.pin)?;
    let (kek, mech) = match header.wrap_mech {
        WRAP_KW => (find_key(&s, &uri, &[ObjectClass::SECRET_KEY])?.0, Mechanism::AesKeyWrap),
        _ => (find_key(&s, &uri, &[ObjectClass::PRIVATE_KEY])?.0, oaep()),
    };
    let dk = ck(
        "C_UnwrapKey (data key): wrong key, or the file was changed",
        s.unwrap_key(
            &mech,
            kek,
            &header.wrapped,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(false),
                Attribute::Decrypt(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
            ],
        ),
    )?;
    let hh = oxihsm::crypto::sha256(&[&raw]);
    let block = header.chunk as usize + TAG;
    let mut out = Output::create(&a.output, 0o666)?;
    let pb = progress(a.quiet, total);
    let chunks = each_chunk(&mut input, block, |counter, last, chunk| {
        if chunk.len() < TAG {
            return Err("the file is truncated".into());
        }
        let mut iv = nonce(&header.nonce_prefix, counter);
        let ad = aad(&hh, counter, last);
        let gcm = GcmParams::new(&mut iv, &ad, 128.into()).map_err(|e| e.to_string())?;
        let pt = s.decrypt(&Mechanism::AesGcm(gcm), dk, chunk).map_err(|e| {
            format!("chunk {counter}: authentication failed: the file was changed, truncated or reordered ({e})")
        })?;
        out.write(&pt)?;
        pb.inc(chunk.len() as u64);
        Ok(())
    })?;
    pb.finish_and_clear();
    out.finish()?;
    let _ = s.destroy_object(dk);
    emit(ctx, serde_json::json!({"output": a.output, "chunks": chunks}), || {
        format!("decrypted to {}\n", a.output.display())
    });
    Ok(())
}
