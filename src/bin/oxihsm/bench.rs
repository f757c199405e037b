//! `oxihsm bench`: the same operations on several PKCS#11 modules (oxihsm, SoftHSMv2, any
//! other) and on aws-lc-rs directly, interleaved A, B, raw, A, B, raw ... in one run, with 1
//! and 2 threads; then a token-object scale test. Prints ops/s, MB/s, medians and ratios.
//! Speed is measured here, never asserted by a test.

use crate::Result;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::aead::{GcmMessageParams, GcmParams, GeneratorFunction};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType, MessageParam};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::p11::ED25519;
use oxihsm::crypto::ec::Curve;

const SO_PIN: &str = "bench-so-pin";
const USER_PIN: &str = "bench-user-pin";
const P256: &[u8] = Curve::P256.oid();
const P384: &[u8] = Curve::P384.oid();

#[derive(clap::Args)]
pub struct BenchArgs {
    /// A module to measure, as NAME=PATH; repeat to compare. Default: oxihsm (beside this
    /// program) and softhsm (/usr/lib/softhsm/libsofthsm2.so) when installed.
    #[arg(long = "compare", value_name = "NAME=PATH")]
    modules: Vec<String>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 0.5)]
    seconds: f64,
    /// Interleaved rounds per measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Only operations whose name contains this (or one of these, separated by `|`: names
    /// have commas).
    #[arg(long)]
    only: Option<String>,
    /// Token-object counts for the scale test (empty: skip it).
    #[arg(long, default_value = "1000,10000,100000")]
    scale: String,
    /// Largest object count for the scale test per module, as NAME=N (SoftHSMv2 takes
    /// minutes per 10 000 objects).
    #[arg(long = "scale-limit", value_name = "NAME=N")]
    scale_limit: Vec<String>,
    /// Thread counts.
    #[arg(long, default_value = "1,2")]
    threads: String,
    /// Print the tables as Markdown.
    #[arg(long)]
    markdown: bool,
    /// Skip the aws-lc-rs measurements.
    #[arg(long)]
    no_raw: bool,
}

/// One module under test, with its token and keys.
struct Target {
    name: String,
    path: PathBuf,
    p: Pkcs11,
    slot: Slot,
    dir: PathBuf,
    keys: Keys,
}

#[derive(Clone, Copy)]
struct Keys {
    rsa: ObjectHandle,
    rsa_pub: ObjectHandle,
    p256: ObjectHandle,
    p256_pub: ObjectHandle,
    p384: ObjectHandle,
    /// A P-256 key kept on the token (loaded from the store, not a session object).
    p256_token: ObjectHandle,
    ed25519: Option<ObjectHandle>,
    aes: ObjectHandle,
    /// An AES-256 key kept on the token.
    aes_token: ObjectHandle,
    hmac: ObjectHandle,
    /// An AES-256 key that wraps (CKM_AES_KEY_WRAP), and an extractable AES-256 key to wrap.
    kek: ObjectHandle,
    exportable: ObjectHandle,
}

/// Precomputed inputs shared by every target.
struct Inputs {
    data_1k: Vec<u8>,
    data_64k: Vec<u8>,
    data_1m: Vec<u8>,
    digest32: [u8; 32],
    digest48: [u8; 48],
    peer_point: Vec<u8>,
}

type Op<'a> = Box<dyn FnMut() -> Result<()> + 'a>;

fn ck<T>(what: &str, r: cryptoki::error::Result<T>) -> Result<T> {
    r.map_err(|e| format!("{what}: {e}"))
}

fn pin(s: &str) -> AuthPin {
    AuthPin::new(s.into())
}

/// Opens a module, initialises a bench token and makes the keys; the returned session owns
/// the keys (session objects) and must stay open.
fn open_target(name: &str, path: &Path, dir: &Path) -> Result<(Target, Session)> {
    let p = ck(&format!("load {}", path.display()), Pkcs11::new(path))?;
    ck("C_Initialize", p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)))?;
    let slots = ck("C_GetSlotList", p.get_all_slots())?;
    let mut slot = None;
    for s in &slots {
        if !ck("C_GetTokenInfo", p.get_token_info(*s))?.token_initialized() {
            slot = Some(*s);
            break;
        }
    }
    let slot = slot.ok_or(format!("{name}: no free slot to initialise a bench token in"))?;
    ck("C_InitToken", p.init_token(slot, &pin(SO_PIN), "bench"))?;
    // SoftHSMv2 moves a new token to another slot: find it by label.
    let slot = ck("C_GetSlotList", p.get_slots_with_initialized_token())?
        .into_iter()
        .find(|s| p.get_token_info(*s).map(|t| t.label() == "bench").unwrap_or(false))
        .ok_or("bench token vanished")?;
    let s = ck("C_OpenSession", p.open_rw_session(slot))?;
    ck("C_Login SO", s.login(UserType::So, Some(&pin(SO_PIN))))?;
    ck("C_InitPIN", s.init_pin(&pin(USER_PIN)))?;
    ck("C_Logout", s.logout())?;
    ck("C_Login", s.login(UserType::User, Some(&pin(USER_PIN))))?;
    let keys = make_keys(&s)?;
    Ok((Target { name: name.into(), path: path.into(), p, slot, dir: dir.into(), keys }, s))
}

fn make_keys(s: &Session) -> Result<Keys> {
    let pair = |mech: &Mechanism, public: &[Attribute], private: &[Attribute]| {
        let mut pu = vec![Attribute::Token(false), Attribute::Verify(true)];
        pu.extend_from_slice(public);
        let mut pr = vec![Attribute::Token(false), Attribute::Sign(true), Attribute::Private(true)];
        pr.extend_from_slice(private);
        ck("C_GenerateKeyPair", s.generate_key_pair(mech, &pu, &pr))
    };
    let (rsa_pub, rsa) = pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[Attribute::ModulusBits(2048.into()), Attribute::PublicExponent(vec![1, 0, 1]), Attribute::Encrypt(true)],
        &[Attribute::Decrypt(true)],
    )?;
    let (p256_pub, p256) =
        pair(&Mechanism::EccKeyPairGen, &[Attribute::EcParams(P256.to_vec())], &[Attribute::Derive(true)])?;
    let (_, p384) = pair(&Mechanism::EccKeyPairGen, &[Attribute::EcParams(P384.to_vec())], &[])?;
    let (_, p256_token) = ck(
        "C_GenerateKeyPair (token)",
        s.generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::Token(true), Attribute::EcParams(P256.to_vec()), Attribute::Verify(true)],
            &[Attribute::Token(true), Attribute::Private(true), Attribute::Sign(true)],
        ),
    )?;
    let ed25519 =
        pair(&Mechanism::EccEdwardsKeyPairGen, &[Attribute::EcParams(ED25519.to_vec())], &[]).ok().map(|k| k.1);
    let aes = ck(
        "C_GenerateKey AES",
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ],
        ),
    )?;
    let aes_token = ck(
        "C_GenerateKey AES (token)",
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::Token(true), Attribute::ValueLen(32.into()), Attribute::Encrypt(true)],
        ),
    )?;
    let hmac = ck(
        "C_CreateObject HMAC key",
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::Sign(true),
            Attribute::Value(vec![0x5a; 32]),
        ]),
    )?;
    let aes_key = |what: &str, usage: Attribute| {
        ck(
            what,
            s.generate_key(&Mechanism::AesKeyGen, &[Attribute::Token(false), Attribute::ValueLen(32.into()), usage]),
        )
    };
    let kek = aes_key("C_GenerateKey AES (wrapping)", Attribute::Wrap(true))?;
    let exportable = aes_key("C_GenerateKey AES (extractable)", Attribute::Extractable(true))?;
    Ok(Keys { rsa, rsa_pub, p256, p256_pub, p384, p256_token, ed25519, aes, aes_token, hmac, kek, exportable })
}

fn session(t: &Target) -> Result<Session> {
    ck("C_OpenSession", t.p.open_rw_session(t.slot))
}

fn gcm<'a>(iv: &'a mut [u8; 12]) -> Mechanism<'a> {
    Mechanism::AesGcm(GcmParams::new(iv, &[], 128.into()).expect("GCM params"))
}

fn pss() -> Mechanism<'static> {
    Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    })
}

fn oaep() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(MechanismType::SHA1, PkcsMgfType::MGF1_SHA1, PkcsOaepSource::empty()))
}

/// One benchmarked operation: its name, bytes per op (for MB/s), and how to run it on a
/// module session and on aws-lc-rs.
struct Bench {
    name: &'static str,
    bytes: usize,
    module: fn(&Target, &Inputs) -> Result<Op<'static>>,
    raw: Option<fn(&Inputs) -> Result<Op<'static>>>,
}

macro_rules! op {
    ($($body:tt)*) => { Ok(Box::new(move || { $($body)* Ok(()) })) };
}

fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "RSA-2048 sign SHA256_RSA_PKCS",
            bytes: 0,
            module: |t, i| {
                let (s, k, d) = (session(t)?, t.keys.rsa, i.digest32.to_vec());
                op! { ck("sign", s.sign(&Mechanism::Sha256RsaPkcs, k, &d))?; }
            },
            raw: Some(|i| {
                let k =
                    aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|e| e.to_string())?;
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let (d, mut sig) = (i.digest32.to_vec(), vec![0u8; 256]);
                op! { k.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, &d, &mut sig).map_err(|e| e.to_string())?; }
            }),
        },
        Bench {
            name: "RSA-2048 sign SHA256_RSA_PKCS_PSS",
            bytes: 0,
            module: |t, i| {
                let (s, k, d) = (session(t)?, t.keys.rsa, i.digest32.to_vec());
                op! { ck("sign", s.sign(&pss(), k, &d))?; }
            },
            raw: Some(|i| {
                let k =
                    aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|e| e.to_string())?;
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let (d, mut sig) = (i.digest32.to_vec(), vec![0u8; 256]);
                op! { k.sign(&aws_lc_rs::signature::RSA_PSS_SHA256, &rng, &d, &mut sig).map_err(|e| e.to_string())?; }
            }),
        },
        Bench {
            name: "RSA-2048 verify SHA256_RSA_PKCS",
            bytes: 0,
            module: |t, i| {
                let (s, d) = (session(t)?, i.digest32.to_vec());
                let sig = ck("sign", s.sign(&Mechanism::Sha256RsaPkcs, t.keys.rsa, &d))?;
                let k = t.keys.rsa_pub;
                op! { ck("verify", s.verify(&Mechanism::Sha256RsaPkcs, k, &d, &sig))?; }
            },
            raw: Some(|i| {
                use aws_lc_rs::signature::KeyPair;
                let k =
                    aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|e| e.to_string())?;
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let (d, mut sig) = (i.digest32.to_vec(), vec![0u8; 256]);
                k.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, &d, &mut sig).map_err(|e| e.to_string())?;
                let public = aws_lc_rs::signature::UnparsedPublicKey::new(
                    &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                    k.public_key().as_ref().to_vec(),
                );
                op! { public.verify(&d, &sig).map_err(|e| e.to_string())?; }
            }),
        },
        Bench {
            name: "RSA-2048 decrypt RSA_PKCS_OAEP (SHA-1)",
            bytes: 0,
            module: |t, i| {
                let s = session(t)?;
                let ct = ck("encrypt", s.encrypt(&oaep(), t.keys.rsa_pub, &i.digest32))?;
                let k = t.keys.rsa;
                op! { ck("decrypt", s.decrypt(&oaep(), k, &ct))?; }
            },
            raw: Some(|i| {
                use aws_lc_rs::rsa::{
                    OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
                };
                let k = PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|e| e.to_string())?;
                let public = OaepPublicEncryptingKey::new(k.public_key()).map_err(|e| e.to_string())?;
                let mut ct = vec![0u8; 256];
                let ct = public
                    .encrypt(&OAEP_SHA1_MGF1SHA1, &i.digest32, &mut ct, None)
                    .map_err(|e| e.to_string())?
                    .to_vec();
                let k = OaepPrivateDecryptingKey::new(k).map_err(|e| e.to_string())?;
                let mut out = vec![0u8; 256];
                op! { k.decrypt(&OAEP_SHA1_MGF1SHA1, &ct, &mut out, None).map_err(|e| e.to_string())?; }
            }),
        },
        Bench {
            name: "ECDSA P-256 sign",
            bytes: 0,
            module: |t, i| {
                let (s, k, d) = (session(t)?, t.keys.p256, i.digest32.to_vec());
                op! { ck("sign", s.sign(&Mechanism::Ecdsa, k, &d))?; }
            },
            raw: Some(|i| ecdsa_raw(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING, i.digest32.to_vec())),
        },
        Bench {
            name: "ECDSA P-256 sign, token key",
            bytes: 0,
            module: |t, i| {
                let (s, k, d) = (session(t)?, t.keys.p256_token, i.digest32.to_vec());
                op! { ck("sign", s.sign(&Mechanism::Ecdsa, k, &d))?; }
            },
            raw: Some(|i| ecdsa_raw(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING, i.digest32.to_vec())),
        },
        Bench {
            name: "ECDSA P-384 sign",
            bytes: 0,
            module: |t, i| {
                let (s, k, d) = (session(t)?, t.keys.p384, i.digest48.to_vec());
                op! { ck("sign", s.sign(&Mechanism::Ecdsa, k, &d))?; }
            },
            raw: Some(|i| ecdsa_raw(&aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING, i.digest48.to_vec())),
        },
        Bench {
            name: "ECDSA P-256 verify",
            bytes: 0,
            module: |t, i| {
                let (s, d) = (session(t)?, i.digest32.to_vec());
                let sig = ck("sign", s.sign(&Mechanism::Ecdsa, t.keys.p256, &d))?;
                let k = t.keys.p256_pub;
                op! { ck("verify", s.verify(&Mechanism::Ecdsa, k, &d, &sig))?; }
            },
            raw: Some(|i| {
                use aws_lc_rs::signature::{
                    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
                };
                let k = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|e| e.to_string())?;
                let d = i.digest32.to_vec();
                let sig =
                    k.sign(&aws_lc_rs::rand::SystemRandom::new(), &d).map_err(|e| e.to_string())?.as_ref().to_vec();
                let public = aws_lc_rs::signature::UnparsedPublicKey::new(
                    &ECDSA_P256_SHA256_FIXED,
                    k.public_key().as_ref().to_vec(),
                );
                op! { public.verify(&d, &sig).map_err(|e| e.to_string())?; }
            }),
        },
        Bench {
            name: "Ed25519 sign",
            bytes: 0,
            module: |t, i| {
                let k = t.keys.ed25519.ok_or("no Ed25519 support")?;
                let (s, d) = (session(t)?, i.digest32.to_vec());
                op! { ck("sign", s.sign(&Mechanism::Eddsa(cryptoki::mechanism::eddsa::EddsaParams::new(cryptoki::mechanism::eddsa::EddsaSignatureScheme::Pure)), k, &d))?; }
            },
            raw: Some(|i| {
                let k = aws_lc_rs::signature::Ed25519KeyPair::generate().map_err(|e| e.to_string())?;
                let d = i.digest32.to_vec();
                op! { std::hint::black_box(k.sign(&d)); }
            }),
        },
        Bench {
            name: "ECDH P-256 derive",
            bytes: 0,
            module: |t, i| {
                let (s, k, peer) = (session(t)?, t.keys.p256, i.peer_point.clone());
                op! {
                    let params = cryptoki::mechanism::elliptic_curve::Ecdh1DeriveParams::new(
                        cryptoki::mechanism::elliptic_curve::EcKdf::null(), &peer);
                    let h = ck("derive", s.derive_key(&Mechanism::Ecdh1Derive(params), k, &[
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::GENERIC_SECRET),
                        Attribute::Token(false),
                        Attribute::ValueLen(32.into()),
                    ]))?;
                    ck("destroy", s.destroy_object(h))?;
                }
            },
            raw: Some(|i| {
                use aws_lc_rs::agreement::{ECDH_P256, PrivateKey, UnparsedPublicKey, agree};
                let k = PrivateKey::generate(&ECDH_P256).map_err(|e| e.to_string())?;
                let peer = i.peer_point[2..].to_vec();
                op! { agree(&k, UnparsedPublicKey::new(&ECDH_P256, &peer), "agree", |s| Ok(s.len()))?; }
            }),
        },
        aes_gcm("AES-256-GCM encrypt 1 KiB", 1024),
        aes_gcm("AES-256-GCM encrypt 64 KiB", 64 * 1024),
        aes_gcm("AES-256-GCM encrypt 1 MiB", 1024 * 1024),
        Bench {
            name: "AES-256-GCM encrypt 1 KiB, token key",
            bytes: 1024,
            module: |t, i| gcm_module(t, t.keys.aes_token, i.data_1k.clone()),
            raw: Some(|i| gcm_raw(i.data_1k.clone())),
        },
        Bench {
            name: "AES-256-GCM encrypt 1 KiB, message-based",
            bytes: 1024,
            module: |t, i| gcm_message_module(t, t.keys.aes, i.data_1k.clone()),
            raw: Some(|i| gcm_raw(i.data_1k.clone())),
        },
        Bench {
            name: "AES-256-CBC_PAD encrypt 64 KiB",
            bytes: 64 * 1024,
            module: |t, i| {
                let (s, k, d) = (session(t)?, t.keys.aes, i.data_64k.clone());
                op! { ck("encrypt", s.encrypt(&Mechanism::AesCbcPad([7u8; 16]), k, &d))?; }
            },
            raw: Some(|i| {
                use aws_lc_rs::cipher::{AES_256, PaddedBlockEncryptingKey, UnboundCipherKey};
                let k = PaddedBlockEncryptingKey::cbc_pkcs7(
                    UnboundCipherKey::new(&AES_256, &[9u8; 32]).map_err(|e| e.to_string())?,
                )
                .map_err(|e| e.to_string())?;
                let d = i.data_64k.clone();
                op! { let mut v = d.clone(); k.encrypt(&mut v).map_err(|e| e.to_string())?; }
            }),
        },
        Bench {
            name: "SHA-256 digest 1 MiB",
            bytes: 1024 * 1024,
            module: |t, i| {
                let (s, d) = (session(t)?, i.data_1m.clone());
                op! { ck("digest", s.digest(&Mechanism::Sha256, &d))?; }
            },
            raw: Some(|i| {
                let d = i.data_1m.clone();
                op! { std::hint::black_box(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &d)); }
            }),
        },
        Bench {
            name: "HMAC-SHA256 sign 1 KiB",
            bytes: 1024,
            module: |t, i| {
                let (s, k, d) = (session(t)?, t.keys.hmac, i.data_1k.clone());
                op! { ck("sign", s.sign(&Mechanism::Sha256Hmac, k, &d))?; }
            },
            raw: Some(|i| {
                let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &[0x5a; 32]);
                let d = i.data_1k.clone();
                op! { std::hint::black_box(aws_lc_rs::hmac::sign(&k, &d)); }
            }),
        },
        Bench {
            name: "AES-256 key wrap (AES_KEY_WRAP, audited)",
            bytes: 0,
            module: |t, _| {
                let (s, kek, k) = (session(t)?, t.keys.kek, t.keys.exportable);
                op! { ck("wrap", s.wrap_key(&Mechanism::AesKeyWrap, kek, k))?; }
            },
            raw: Some(|_| {
                use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrap};
                op! {
                    let mut out = [0u8; 40];
                    AesKek::new(&AES_256, &[9u8; 32]).and_then(|k| k.wrap(&[7u8; 32], &mut out).map(|w| w.len())).map_err(|e| e.to_string())?;
                }
            }),
        },
        Bench {
            name: "keygen AES-256",
            bytes: 0,
            module: |t, _| {
                let s = session(t)?;
                op! {
                    let h = ck("keygen", s.generate_key(&Mechanism::AesKeyGen, &[Attribute::Token(false), Attribute::ValueLen(32.into()), Attribute::Encrypt(true)]))?;
                    ck("destroy", s.destroy_object(h))?;
                }
            },
            raw: Some(|_| {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                op! { let k: [u8; 32] = aws_lc_rs::rand::generate(&rng).map_err(|e| e.to_string())?.expose(); std::hint::black_box(k); }
            }),
        },
        Bench {
            name: "keygen P-256",
            bytes: 0,
            module: |t, _| {
                let s = session(t)?;
                op! {
                    let (a, b) = ck("keygen", s.generate_key_pair(&Mechanism::EccKeyPairGen,
                        &[Attribute::Token(false), Attribute::EcParams(P256.to_vec())], &[Attribute::Token(false), Attribute::Sign(true)]))?;
                    ck("destroy", s.destroy_object(a))?;
                    ck("destroy", s.destroy_object(b))?;
                }
            },
            raw: Some(|_| {
                op! { aws_lc_rs::signature::EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|e| e.to_string())?; }
            }),
        },
        Bench {
            name: "keygen RSA-2048",
            bytes: 0,
            module: |t, _| {
                let s = session(t)?;
                op! {
                    let (a, b) = ck("keygen", s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen,
                        &[Attribute::Token(false), Attribute::ModulusBits(2048.into()), Attribute::PublicExponent(vec![1, 0, 1])],
                        &[Attribute::Token(false), Attribute::Sign(true)]))?;
                    ck("destroy", s.destroy_object(a))?;
                    ck("destroy", s.destroy_object(b))?;
                }
            },
            raw: Some(|_| {
                op! { aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|e| e.to_string())?; }
            }),
        },
        Bench {
            name: "session open/close",
            bytes: 0,
            module: |t, _| {
                // A context of this thread's own (the module is initialised already): a
                // cryptoki session holds a count on its context, and a shared one would make
                // the threads contend on the bench's side of the call.
                let (p, slot) = (ck("load", Pkcs11::new(&t.path))?, t.slot);
                op! { let s = ck("open", p.open_ro_session(slot))?; ck("close", s.close())?; }
            },
            raw: None,
        },
        Bench {
            // What an application asks before it picks a slot and a mechanism.
            name: "slot list, slot and mechanism info",
            bytes: 0,
            module: |t, _| {
                let (p, slot) = (ck("load", Pkcs11::new(&t.path))?, t.slot);
                op! {
                    ck("slots", p.get_all_slots())?;
                    ck("slot info", p.get_slot_info(slot))?;
                    ck("mechanisms", p.get_mechanism_list(slot))?;
                    ck("mechanism info", p.get_mechanism_info(slot, MechanismType::AES_GCM))?;
                }
            },
            raw: None,
        },
    ]
}

fn aes_gcm(name: &'static str, bytes: usize) -> Bench {
    fn data(i: &Inputs, n: usize) -> Vec<u8> {
        match n {
            1024 => i.data_1k.clone(),
            65536 => i.data_64k.clone(),
            _ => i.data_1m.clone(),
        }
    }
    Bench {
        name,
        bytes,
        module: match bytes {
            1024 => |t, i| gcm_module(t, t.keys.aes, data(i, 1024)),
            65536 => |t, i| gcm_module(t, t.keys.aes, data(i, 65536)),
            _ => |t, i| gcm_module(t, t.keys.aes, data(i, 1 << 20)),
        },
        raw: Some(match bytes {
            1024 => |i| gcm_raw(data(i, 1024)),
            65536 => |i| gcm_raw(data(i, 65536)),
            _ => |i| gcm_raw(data(i, 1 << 20)),
        }),
    }
}

/// AES-256-GCM encryption of `d` under `k` (a session or a token key).
fn gcm_module(t: &Target, k: ObjectHandle, d: Vec<u8>) -> Result<Op<'static>> {
    let s = session(t)?;
    let mut iv = [3u8; 12];
    op! { ck("encrypt", s.encrypt(&gcm(&mut iv), k, &d))?; }
}

/// AES-256-GCM through PKCS#11 3.0's message-based encryption, the API for many messages
/// under one key: C_MessageEncryptInit once, then one C_EncryptMessage per message (with
/// cryptoki's size query before it), the token counting the IVs (CKG_GENERATE_COUNTER).
/// The raw loop's pre-keyed context is its counterpart. A 2.x module has no such functions.
fn gcm_message_module(t: &Target, k: ObjectHandle, d: Vec<u8>) -> Result<Op<'static>> {
    fn counted<'a>(iv: &'a mut [u8; 12], tag: &'a mut [u8; 16]) -> Result<GcmMessageParams<'a>> {
        GcmMessageParams::new(iv, 0.into(), GeneratorFunction::GenerateCounter, tag).map_err(|e| e.to_string())
    }
    let s = session(t)?;
    let (mut iv, mut tag) = ([0u8; 12], [0u8; 16]);
    ck("C_MessageEncryptInit", s.message_encrypt_init(&Mechanism::AesGcmMessage(counted(&mut iv, &mut tag)?), k))?;
    op! {
        let (mut iv, mut tag) = ([0u8; 12], [0u8; 16]);
        ck("C_EncryptMessage", s.encrypt_message(&MessageParam::AesGcmMessage(counted(&mut iv, &mut tag)?), &[], &d))?;
    }
}

fn gcm_raw(d: Vec<u8>) -> Result<Op<'static>> {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[9u8; 32]).map_err(|e| e.to_string())?);
    op! {
        let mut v = d.clone();
        k.seal_in_place_append_tag(Nonce::assume_unique_for_key([3u8; 12]), Aad::empty(), &mut v).map_err(|e| e.to_string())?;
    }
}

fn ecdsa_raw(alg: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm, d: Vec<u8>) -> Result<Op<'static>> {
    let k = aws_lc_rs::signature::EcdsaKeyPair::generate(alg).map_err(|e| e.to_string())?;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    op! { k.sign(&rng, &d).map_err(|e| e.to_string())?; }
}

/// Runs `make()` on `threads` threads for `secs`; returns total ops per second.
fn measure(threads: usize, secs: f64, make: &(dyn Fn() -> Result<Op<'static>> + Sync)) -> Result<f64> {
    let barrier = std::sync::Barrier::new(threads);
    let results: Vec<Result<(u64, Duration)>> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                sc.spawn(|| -> Result<(u64, Duration)> {
                    let mut op = make();
                    barrier.wait();
                    let op = op.as_mut().map_err(|e| e.clone())?;
                    let start = Instant::now();
                    let deadline = Duration::from_secs_f64(secs);
                    // The clock is read once per batch, not per operation: a read costs tens
                    // of nanoseconds here, a good part of a sub-microsecond operation. Batches
                    // double while they take under 100 µs, so slow operations stay at one.
                    let (mut n, mut batch) = (0u64, 1u64);
                    loop {
                        let before = start.elapsed();
                        for _ in 0..batch {
                            op()?;
                        }
                        n += batch;
                        let now = start.elapsed();
                        if now >= deadline && n >= 2 {
                            return Ok((n, now));
                        }
                        if now - before < Duration::from_micros(100) && batch < 1024 {
                            batch *= 2;
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("bench thread")).collect()
    });
    let mut total = 0.0;
    for r in results {
        let (n, d) = r?;
        total += n as f64 / d.as_secs_f64();
    }
    Ok(total)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The median over rounds of `a[i] / b[i]`, as "1.23x"; "-" when there is no pair.
fn median_ratio(a: &[f64], b: &[f64]) -> String {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    if ratios.is_empty() { "-".into() } else { fmt_ratio(median(ratios)) }
}

/// A ratio with two decimals, or two significant digits below 0.1, so that a small ratio (a
/// debug build against the raw library) never rounds to "0.00x".
fn fmt_ratio(r: f64) -> String {
    if r >= 0.1 || r <= 0.0 || !r.is_finite() {
        return format!("{r:.2}x");
    }
    // Digits after the point for two significant ones: 0.0123 -> 3, 0.00123 -> 4.
    let decimals = (1.0 - r.log10().floor()).min(12.0) as usize;
    format!("{r:.decimals$}x")
}

fn fmt_rate(ops: f64) -> String {
    if ops >= 100.0 { format!("{ops:.0}") } else { format!("{ops:.1}") }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    format!("{cpu}, {} CPUs", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

fn default_modules() -> Result<Vec<(String, PathBuf)>> {
    let mut v = Vec::new();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    v.push(("oxihsm".to_string(), exe.with_file_name("liboxihsm.so")));
    for p in ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"] {
        if Path::new(p).exists() {
            v.push(("softhsm".to_string(), PathBuf::from(p)));
            break;
        }
    }
    Ok(v)
}

/// A private scratch directory, removed at the end.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> Result<WorkDir> {
        let p = std::env::temp_dir().join(format!("oxihsm-bench-{}", std::process::id()));
        std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(WorkDir(p))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = e.metadata();
            match m {
                Ok(m) if m.is_dir() => n += dir_size(&e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}

/// `oxihsm bench`.
pub fn run(a: &BenchArgs) -> Result<()> {
    let modules: Vec<(String, PathBuf)> = if a.modules.is_empty() {
        default_modules()?
    } else {
        a.modules
            .iter()
            .map(|m| {
                m.split_once('=')
                    .map(|(n, p)| (n.to_string(), PathBuf::from(p)))
                    .ok_or(format!("--compare {m}: NAME=PATH"))
            })
            .collect::<Result<_>>()?
    };
    let threads: Vec<usize> =
        a.threads.split(',').map(|t| t.trim().parse().map_err(|_| format!("--threads {t}"))).collect::<Result<_>>()?;
    // One store per module, named by the variables each reads; the measuring runs in a
    // child process that has them set.
    let Some(work) = std::env::var_os("OXIHSM_BENCH_DIR").map(PathBuf::from) else {
        let work = WorkDir::new()?;
        let ox_dir = work.path().join("oxihsm");
        let sh_dir = work.path().join("softhsm");
        std::fs::create_dir_all(&sh_dir).map_err(|e| e.to_string())?;
        let ox_conf = work.path().join("oxihsm.toml");
        let sh_conf = work.path().join("softhsm2.conf");
        std::fs::write(&ox_conf, format!("token_dir = \"{}\"\n", ox_dir.display())).map_err(|e| e.to_string())?;
        std::fs::write(
            &sh_conf,
            format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", sh_dir.display()),
        )
        .map_err(|e| e.to_string())?;
        let status = std::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
            .args(std::env::args_os().skip(1))
            .env("OXIHSM_BENCH_DIR", work.path())
            .env("OXIHSM_CONF", &ox_conf)
            .env("SOFTHSM2_CONF", &sh_conf)
            .status()
            .map_err(|e| e.to_string())?;
        return if status.success() { Ok(()) } else { Err("bench failed".into()) };
    };
    let (ox_dir, sh_dir) = (work.join("oxihsm"), work.join("softhsm"));
    let mut targets = Vec::new();
    let mut _owners = Vec::new();
    for (name, path) in &modules {
        let dir = if name.contains("softhsm") { sh_dir.clone() } else { ox_dir.clone() };
        let (t, owner) = open_target(name, path, &dir)?;
        targets.push(t);
        _owners.push(owner);
    }
    let inputs = Inputs {
        data_1k: vec![0xa5; 1024],
        data_64k: vec![0xa5; 64 * 1024],
        data_1m: vec![0xa5; 1024 * 1024],
        digest32: [0x11; 32],
        digest48: [0x22; 48],
        peer_point: {
            let s = session(&targets[0])?;
            let (pubk, _) = ck(
                "peer key",
                s.generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &[Attribute::Token(false), Attribute::EcParams(P256.to_vec())],
                    &[Attribute::Token(false), Attribute::Derive(true)],
                ),
            )?;
            let v = ck("EC_POINT", s.get_attributes(pubk, &[cryptoki::object::AttributeType::EcPoint]))?;
            match v.into_iter().next() {
                Some(Attribute::EcPoint(p)) if p.len() == 67 => p,
                Some(Attribute::EcPoint(p)) if p.len() == 65 => [vec![0x04, 65], p].concat(),
                _ => return Err("peer EC point".into()),
            }
        },
    };
    let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    println!("# oxihsm bench: {} on {}", names.join(" vs "), machine());
    println!(
        "# {} s per measurement, median of {} interleaved rounds; ops/s (higher is better)\n",
        a.seconds, a.rounds
    );
    let mut header = vec!["operation".to_string(), "thr".into()];
    header.extend(names.iter().map(|n| format!("{n} ops/s")));
    header.push("aws-lc-rs ops/s".into());
    for n in &names[1..] {
        header.push(format!("{} / {n}", names[0]));
    }
    header.push(format!("{} / raw", names[0]));
    header.push(format!("{} MB/s", names[0]));
    // Thread scaling: aggregate ops/s against the first thread count's, for the first module
    // and for aws-lc-rs (what the machine itself allows).
    header.push(format!("{} scaling", names[0]));
    header.push("raw scaling".into());
    let mut rows = Vec::new();
    for b in benches() {
        if a.only.as_deref().is_some_and(|o| !o.split('|').any(|part| b.name.contains(part))) {
            continue;
        }
        // Rounds interleave thread counts as well as modules, so that the scaling ratio
        // compares measurements taken under the same conditions.
        let n = targets.len() + 1;
        let mut per_th: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); n]; threads.len()];
        let mut failed_th: Vec<Vec<Option<String>>> = vec![vec![None; n]; threads.len()];
        for _ in 0..a.rounds {
            for (ti, &th) in threads.iter().enumerate() {
                let (per, failed) = (&mut per_th[ti], &mut failed_th[ti]);
                for (k, t) in targets.iter().enumerate() {
                    if failed[k].is_some() {
                        continue;
                    }
                    let make = || (b.module)(t, &inputs);
                    match measure(th, a.seconds, &make) {
                        Ok(r) => per[k].push(r),
                        Err(e) => failed[k] = Some(e),
                    }
                }
                if let Some(raw) = b.raw.filter(|_| !a.no_raw) {
                    let k = targets.len();
                    if failed[k].is_none() {
                        match measure(th, a.seconds, &|| raw(&inputs)) {
                            Ok(r) => per[k].push(r),
                            Err(e) => failed[k] = Some(e),
                        }
                    }
                }
            }
        }
        for (ti, &th) in threads.iter().enumerate() {
            let (per, failed) = (&per_th[ti], &failed_th[ti]);
            let med: Vec<Option<f64>> = per.iter().map(|v| (!v.is_empty()).then(|| median(v.clone()))).collect();
            let mut row = vec![b.name.to_string(), th.to_string()];
            for (k, m) in med.iter().enumerate() {
                row.push(match (m, &failed[k]) {
                    (Some(m), _) => fmt_rate(*m),
                    (None, Some(_)) => "n/a".into(),
                    (None, None) => "-".into(),
                });
            }
            // The median of each round's ratio: the two measurements of a round are taken
            // seconds apart, so a machine that runs faster or slower for a while moves both.
            let paired = |k: usize| {
                if per[0].len() != per[k].len() { "-".into() } else { median_ratio(&per[0], &per[k]) }
            };
            for k in 1..=targets.len() {
                row.push(paired(k));
            }
            row.push(match med[0] {
                Some(x) if b.bytes > 0 => format!("{:.0}", x * b.bytes as f64 / 1e6),
                _ => "-".into(),
            });
            // The median of each round's ratio to the first thread count's measurement of
            // the same round.
            let scaling = |k: usize| if ti == 0 { "-".into() } else { median_ratio(&per[k], &per_th[0][k]) };
            row.push(scaling(0));
            row.push(scaling(targets.len()));
            print_row(a.markdown, &header, &row, rows.is_empty());
            rows.push(row);
            for (k, f) in failed.iter().enumerate() {
                if let Some(e) = f {
                    let who = targets.get(k).map(|t| t.name.as_str()).unwrap_or("aws-lc-rs");
                    eprintln!("  ({who}: {e})");
                }
            }
        }
    }
    let scales: Vec<usize> = a
        .scale
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().parse().map_err(|_| format!("--scale {s}")))
        .collect::<Result<_>>()?;
    if !scales.is_empty() {
        scale_test(a, &targets, &scales)?;
    }
    Ok(())
}

fn print_row(markdown: bool, header: &[String], row: &[String], first: bool) {
    // Markdown, or a text table: the first column left-aligned, the others right-aligned.
    let line = |cells: &[String]| {
        if markdown {
            format!("| {} |", cells.join(" | "))
        } else {
            cells
                .iter()
                .enumerate()
                .map(|(i, h)| if i == 0 { format!("{h:<44}") } else { format!(" {h:>16}") })
                .collect::<String>()
        }
    };
    if first {
        println!("{}", line(header));
        if markdown {
            println!("|{}", "---|".repeat(header.len()));
        }
    }
    println!("{}", line(row));
}

/// The token-object scale test: per module and object count, the rate of C_CreateObject,
/// the time of a find by label, of a fresh process's C_Initialize and login, of
/// C_DestroyObject, the store's size on disk and how much of it the test's objects added.
fn scale_test(a: &BenchArgs, targets: &[Target], scales: &[usize]) -> Result<()> {
    let limits: Vec<(String, usize)> = a
        .scale_limit
        .iter()
        .map(|l| {
            l.split_once('=')
                .and_then(|(n, v)| Some((n.to_string(), v.parse().ok()?)))
                .ok_or(format!("--scale-limit {l}"))
        })
        .collect::<Result<_>>()?;
    println!("\n# token-object scale test (public data objects with distinct labels; times are medians)\n");
    let header: Vec<String> = [
        "module",
        "objects",
        "create ops/s",
        "find by label",
        "fresh C_Initialize",
        "fresh login",
        "C_DestroyObject",
        "store size",
        "store growth",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut first = true;
    for t in targets {
        let limit = limits.iter().find(|(n, _)| *n == t.name).map(|(_, v)| *v).unwrap_or(usize::MAX);
        let s = session(t)?;
        ck("C_Login", s.login(UserType::User, Some(&pin(USER_PIN))))
            .or_else(|e| if e.contains("AlreadyLoggedIn") || e.contains("already") { Ok(()) } else { Err(e) })?;
        let mut have = 0usize;
        // What the objects take: the store already holds the operation benchmarks' keys and
        // (oxihsm) their audit records, one per wrapped key.
        let base = dir_size(&t.dir);
        for &n in scales {
            if n > limit {
                let row = vec![
                    t.name.clone(),
                    n.to_string(),
                    "not run (--scale-limit)".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ];
                print_row(a.markdown, &header, &row, first);
                first = false;
                continue;
            }
            let start = Instant::now();
            let to_add = n - have;
            for i in have..n {
                ck(
                    "C_CreateObject",
                    s.create_object(&[
                        Attribute::Class(ObjectClass::DATA),
                        Attribute::Token(true),
                        Attribute::Private(false),
                        Attribute::Label(format!("scale-{i}").into_bytes()),
                        Attribute::Value(vec![0x42; 32]),
                    ]),
                )?;
            }
            let create_rate = to_add as f64 / start.elapsed().as_secs_f64();
            have = n;
            // Find by label: random labels, until a second has passed (at least 5).
            let mut times = Vec::new();
            let mut x = 0x9e37_79b9u64;
            let started = Instant::now();
            while times.len() < 5 || (started.elapsed() < Duration::from_secs(1) && times.len() < 2000) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let label = format!("scale-{}", x as usize % n);
                let t0 = Instant::now();
                let found = ck("C_FindObjects", s.find_objects(&[Attribute::Label(label.into_bytes())]))?;
                times.push(t0.elapsed().as_secs_f64());
                if found.len() != 1 {
                    return Err(format!("{}: find by label found {} objects", t.name, found.len()));
                }
            }
            let find = median(times);
            // A fresh process: C_Initialize, then login.
            let mut inits = Vec::new();
            let mut logins = Vec::new();
            for _ in 0..3 {
                let out = std::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
                    .args(["bench-child", "--lib"])
                    .arg(&t.path)
                    .output()
                    .map_err(|e| e.to_string())?;
                let text = String::from_utf8_lossy(&out.stdout);
                let mut it = text.split_whitespace().filter_map(|w| w.parse::<f64>().ok());
                match (it.next(), it.next()) {
                    (Some(i), Some(l)) => {
                        inits.push(i);
                        logins.push(l);
                    }
                    _ => return Err(format!("bench child failed: {}", String::from_utf8_lossy(&out.stderr))),
                }
            }
            // Destroy: 20 objects (recreated so the count stays n).
            let mut dtimes = Vec::new();
            for j in 0..20 {
                let label = format!("scale-{}", (j * 7919) % n);
                let h = ck("C_FindObjects", s.find_objects(&[Attribute::Label(label.clone().into_bytes())]))?;
                let t0 = Instant::now();
                ck("C_DestroyObject", s.destroy_object(h[0]))?;
                dtimes.push(t0.elapsed().as_secs_f64());
                ck(
                    "C_CreateObject",
                    s.create_object(&[
                        Attribute::Class(ObjectClass::DATA),
                        Attribute::Token(true),
                        Attribute::Private(false),
                        Attribute::Label(label.into_bytes()),
                        Attribute::Value(vec![0x42; 32]),
                    ]),
                )?;
            }
            let size = dir_size(&t.dir);
            let row = vec![
                t.name.clone(),
                n.to_string(),
                fmt_rate(create_rate),
                fmt_time(find),
                fmt_time(median(inits)),
                fmt_time(median(logins)),
                fmt_time(median(dtimes)),
                format!("{:.1} MiB", size as f64 / (1024.0 * 1024.0)),
                format!("{:.1} MiB", size.saturating_sub(base) as f64 / (1024.0 * 1024.0)),
            ];
            print_row(a.markdown, &header, &row, first);
            first = false;
        }
    }
    Ok(())
}

fn fmt_time(secs: f64) -> String {
    if secs < 1e-3 {
        format!("{:.0} µs", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

/// `oxihsm bench-child --lib PATH`: in a fresh process, times C_Initialize (with the first
/// C_GetSlotList) and the user login on the bench token; prints both in seconds.
pub fn child(lib: &Path) -> Result<()> {
    let p = ck("load", Pkcs11::new(lib))?;
    let t0 = Instant::now();
    ck("C_Initialize", p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)))?;
    let slots = ck("C_GetSlotList", p.get_slots_with_initialized_token())?;
    let init = t0.elapsed().as_secs_f64();
    let slot = slots
        .into_iter()
        .find(|s| p.get_token_info(*s).map(|t| t.label() == "bench").unwrap_or(false))
        .ok_or("no bench token")?;
    let t1 = Instant::now();
    let s = ck("C_OpenSession", p.open_ro_session(slot))?;
    ck("C_Login", s.login(UserType::User, Some(&pin(USER_PIN))))?;
    let login = t1.elapsed().as_secs_f64();
    println!("{init} {login}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fmt_ratio;

    #[test]
    fn small_ratios_keep_two_significant_digits() {
        assert_eq!(fmt_ratio(8.8412), "8.84x");
        assert_eq!(fmt_ratio(0.1), "0.10x");
        assert_eq!(fmt_ratio(0.0289), "0.029x");
        assert_eq!(fmt_ratio(0.00289), "0.0029x");
        assert_eq!(fmt_ratio(0.0), "0.00x");
    }
}
