//! Migration (issue 6): tokens made by the real softhsm2-util and libsofthsm2.so (apt
//! `softhsm2`) are moved into an oxihsm store with `oxihsm migrate --from-softhsm`. After
//! it every object is present with the same attributes, the PINs work, and every key works:
//! a signature made by a migrated private key verifies under the original public key in
//! SoftHSMv2, and a migrated AES key encrypts as the original does.

mod common;
use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use cryptoki_sys::{
    CKA_BASE, CKA_DERIVE, CKA_EC_PARAMS, CKA_EC_POINT, CKA_EXTRACTABLE, CKA_KEY_GEN_MECHANISM, CKA_KEY_TYPE, CKA_LABEL,
    CKA_PRIME, CKA_PRIVATE, CKA_SENSITIVE, CKA_SUBPRIME, CKA_TOKEN, CKA_VALUE, CKA_VALUE_LEN, CKK_EC, CKK_EC_EDWARDS,
    CKK_GENERIC_SECRET, CKM_DSA_KEY_PAIR_GEN, CKM_DSA_SHA256, CKM_EC_EDWARDS_KEY_PAIR_GEN,
    CKM_EC_MONTGOMERY_KEY_PAIR_GEN, CKM_ECDH1_DERIVE, CKM_EDDSA, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY,
    CKR_OK,
};
use std::process::Command;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn by_label(s: &Session, label: &str, class: ObjectClass) -> ObjectHandle {
    let found = s.find_objects(&[Attribute::Label(label.as_bytes().to_vec()), Attribute::Class(class)]).unwrap();
    assert_eq!(found.len(), 1, "{label} {class:?}");
    found[0]
}

/// The attributes both tokens must agree on, for every object.
const COMPARED: &[AttributeType] = &[
    AttributeType::Class,
    AttributeType::Label,
    AttributeType::Id,
    AttributeType::Private,
    AttributeType::Modifiable,
    AttributeType::KeyType,
    AttributeType::Sensitive,
    AttributeType::Extractable,
    AttributeType::AlwaysSensitive,
    AttributeType::NeverExtractable,
    AttributeType::Local,
    AttributeType::Sign,
    AttributeType::Verify,
    AttributeType::Encrypt,
    AttributeType::Decrypt,
    AttributeType::Derive,
    AttributeType::EcParams,
    AttributeType::EcPoint,
    AttributeType::Modulus,
    AttributeType::PublicExponent,
    AttributeType::ValueLen,
    AttributeType::Value,
    AttributeType::Prime,
    AttributeType::Base,
    AttributeType::KeyGenMechanism,
];

/// A 1024/160 DSA group (SoftHSMv2 generates on the caller's parameters).
const DSA_P: &str = "86F5CA03DCFEB225063FF830A0C769B9DD9D6153AD91D7CE27F787C43278B447E6533B86B18BED6E8A48B784A14C252C5BE0DBF60B86D6385BD2F12FB763ED8873ABFD3F5BA2E0A8C0A59082EAC056935E529DAF7C610467899C77ADEDFC846C881870B7B19B2B58F9BE0521A17002E3BDD6B86685EE90B3D9A1B02B782B1779";
const DSA_Q: &str = "996F967F6C8E388D9E28D01E205FBA957A5698B1";
const DSA_G: &str = "07B0F92546150B62514BB771E2A0C0CE387F03BDA6C56B505209FF25FD3C133D89BBCD97E904E09114D9A7DEFDEADFC9078EA544D2E401AEECC40BB9FBBF78FD87995A10A1C27CB7789B594BA7EFB5C4326A9FE59A070E136DB77175464ADCA417BE5DCE2F40D10A46A3A3943F26AB7FD9C0398FF8C76EE0A56826A8A88F1DBD";

/// Every readable attribute of `COMPARED`, one by one (a missing or sensitive one is skipped
/// on both sides alike).
fn snapshot(s: &Session) -> Vec<(String, Vec<String>)> {
    let mut all = Vec::new();
    for h in s.find_objects(&[]).unwrap() {
        let mut v = Vec::new();
        for t in COMPARED {
            match s.get_attributes(h, &[*t]) {
                Ok(a) => v.push(format!("{a:?}")),
                Err(e) => v.push(format!("{t:?}: {e}")),
            }
        }
        let label = match s.get_attributes(h, &[AttributeType::Label, AttributeType::Class]).unwrap().as_slice() {
            [Attribute::Label(l), Attribute::Class(c)] => format!("{} {c:?}", String::from_utf8_lossy(l)),
            other => format!("{other:?}"),
        };
        all.push((label, v));
    }
    all.sort();
    all
}

#[test]
fn softhsm_tokens_migrate_with_every_object_and_key() {
    assert!(
        std::path::Path::new(SOFTHSM).exists(),
        "{SOFTHSM} is missing: .ci/run installs it (apt-get install softhsm2)"
    );
    let h = Harness::new();
    // The oxihsm store already holds a token, with an object: the migrated token lands in the
    // next slot and leaves it as it was.
    let p = h.ctx();
    let existing = init_token(&p, "existing");
    user_session(&p, existing)
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Label(b"already here".to_vec()),
        ])
        .unwrap();
    let d = h.dir.path();
    let tokens = d.join("softhsm-tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = d.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()),
    )
    .unwrap();
    // A SoftHSMv2 token, made by SoftHSMv2's tools.
    run_ok(
        tool("softhsm2-util")
            .args(["--init-token", "--free", "--label", "legacy", "--so-pin", SO_PIN, "--pin", USER_PIN])
            .env("SOFTHSM2_CONF", &conf),
    );
    let key = d.join("imported.pem");
    run_ok(
        tool("openssl").args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"]).arg(&key),
    );
    run_ok(
        tool("softhsm2-util")
            .args([
                "--import",
                key.to_str().unwrap(),
                "--token",
                "legacy",
                "--label",
                "imported",
                "--id",
                "0a",
                "--pin",
                USER_PIN,
            ])
            .env("SOFTHSM2_CONF", &conf),
    );
    // More objects through libsofthsm2.so: keys it generates, a secret key, data objects.
    // SAFETY: the only test in this binary; set before the module is initialised.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    let theirs = Pkcs11::new(SOFTHSM).unwrap();
    theirs.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)).unwrap();
    let slot = theirs.get_slots_with_initialized_token().unwrap()[0];
    let s = theirs.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))).unwrap();
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::Label(b"ec".to_vec()),
            Attribute::Id(vec![1]),
            Attribute::EcParams(vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
            Attribute::Verify(true),
        ],
        &[
            Attribute::Token(true),
            Attribute::Label(b"ec".to_vec()),
            Attribute::Id(vec![1]),
            Attribute::Sign(true),
            Attribute::Private(true),
        ],
    )
    .unwrap();
    s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(true),
            Attribute::Label(b"aes".to_vec()),
            Attribute::ValueLen(32.into()),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::AllowedMechanisms(vec![MechanismType::AES_ECB, MechanismType::AES_CBC_PAD]),
        ],
    )
    .unwrap();
    for (m, label, sensitive) in [(Mechanism::Des3KeyGen, "des3", true), (Mechanism::DesKeyGen, "des", false)] {
        s.generate_key(
            &m,
            &[
                Attribute::Token(true),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Sensitive(sensitive),
                Attribute::Extractable(!sensitive),
            ],
        )
        .unwrap();
    }
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(b"public note".to_vec()),
        Attribute::Value(b"for everyone".to_vec()),
    ])
    .unwrap();
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(b"private note".to_vec()),
        Attribute::Value(b"for the user".to_vec()),
    ])
    .unwrap();
    // A DSA pair (cryptoki has no DSA: raw calls into the same SoftHSMv2 instance).
    // SAFETY: loading the library cryptoki loaded: the same instance, where `s` is open.
    let raw_theirs = RawSession { lib: unsafe { cryptoki_sys::Pkcs11::new(SOFTHSM) }.unwrap(), h: s.handle() };
    let (dsa_pub, _) = raw_theirs
        .keypair(
            CKM_DSA_KEY_PAIR_GEN,
            &mut T::default()
                .flag(CKA_TOKEN, true)
                .bytes(CKA_LABEL, b"dsa")
                .bytes(CKA_PRIME, &unhex(DSA_P))
                .bytes(CKA_SUBPRIME, &unhex(DSA_Q))
                .bytes(CKA_BASE, &unhex(DSA_G)),
            &mut T::default().flag(CKA_TOKEN, true).bytes(CKA_LABEL, b"dsa").flag(CKA_PRIVATE, true),
        )
        .unwrap();
    // An X25519 pair as SoftHSMv2 2.6 makes them: CKM_EC_EDWARDS_KEY_PAIR_GEN on
    // "curve25519", kept as CKK_EC_EDWARDS keys.
    let curve25519 = [&[0x13, 0x0a][..], b"curve25519"].concat();
    let edwards = |t: T| t.flag(CKA_TOKEN, true).bytes(CKA_LABEL, b"x25519").ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS);
    raw_theirs
        .keypair(
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            &mut edwards(T::default()).bytes(CKA_EC_PARAMS, &curve25519),
            &mut edwards(T::default()).flag(CKA_PRIVATE, true).flag(CKA_DERIVE, true),
        )
        .unwrap();
    // An X25519 private key imported (no key generation mechanism), an Ed25519 pair (Edwards
    // keys that stay so), and an EC public key naming curve25519 (not an Edwards key: kept
    // as it is).
    raw_theirs
        .create(
            &mut edwards(T::default())
                .ulong(cryptoki_sys::CKA_CLASS, CKO_PRIVATE_KEY)
                .bytes(CKA_LABEL, b"x25519 imported")
                .bytes(CKA_EC_PARAMS, &curve25519)
                .bytes(CKA_VALUE, &[0x77; 32])
                .flag(CKA_PRIVATE, true)
                .flag(CKA_DERIVE, true),
        )
        .unwrap();
    let ed25519 = [&[0x13, 0x0c][..], b"edwards25519"].concat();
    let (_, ed_private) = raw_theirs
        .keypair(
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            &mut T::default().flag(CKA_TOKEN, true).bytes(CKA_LABEL, b"ed25519").bytes(CKA_EC_PARAMS, &ed25519),
            &mut T::default().flag(CKA_TOKEN, true).bytes(CKA_LABEL, b"ed25519").flag(CKA_PRIVATE, true),
        )
        .unwrap();
    raw_theirs
        .create(
            &mut T::default()
                .ulong(cryptoki_sys::CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_EC)
                .flag(CKA_TOKEN, true)
                .bytes(CKA_LABEL, b"ec on curve25519")
                .bytes(CKA_EC_PARAMS, &curve25519)
                .bytes(CKA_EC_POINT, &[&[0x04, 0x20][..], &[0x09; 32]].concat()),
        )
        .unwrap();
    let mut before = snapshot(&s);
    assert_eq!(before.len(), 17, "{before:#?}");
    // The X25519 keys become what PKCS#11 3.0 calls them, CKK_EC_MONTGOMERY keys, made (if
    // made by the token) by CKM_EC_MONTGOMERY_KEY_PAIR_GEN.
    let (ed, mont) = (
        format!("{:?}", [Attribute::KeyType(KeyType::EC_EDWARDS)]),
        format!("{:?}", [Attribute::KeyType(KeyType::EC_MONTGOMERY)]),
    );
    let (ed_gen, mont_gen) = (
        format!("{:?}", [Attribute::KeyGenMechanism(MechanismType::ECC_EDWARDS_KEY_PAIR_GEN)]),
        format!("{:?}", [Attribute::KeyGenMechanism(MechanismType::ECC_MONTGOMERY_KEY_PAIR_GEN)]),
    );
    for (label, attrs) in &mut before {
        if label.starts_with("x25519 ") {
            let kt = attrs.iter_mut().find(|a| **a == ed).expect("an Edwards key type");
            kt.clone_from(&mont);
            if let Some(m) = attrs.iter_mut().find(|a| **a == ed_gen) {
                m.clone_from(&mont_gen);
            }
        }
    }
    assert_eq!(before.iter().filter(|(l, a)| l.starts_with("x25519 ") && a.contains(&mont_gen)).count(), 2);

    // Migrate (a wrong PIN first: refused, nothing written).
    let migrate_only = |user: &str, token: &str| {
        Command::new(built_cli())
            .args(["migrate", "--from-softhsm"])
            .arg(&tokens)
            .args(["--token", token])
            .arg(format!("--so-pin-source=value:{SO_PIN}"))
            .arg(format!("--pin-source=value:{user}"))
            .envs(h.env())
            .output()
            .unwrap()
    };
    let migrate = |user: &str| migrate_only(user, "legacy");
    // --token names the SoftHSMv2 token to take from the directory of tokens.
    let none = migrate_only(USER_PIN, "no such token");
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no SoftHSMv2 token matches --token"), "{none:?}");
    let bad = migrate("0000");
    assert!(!bad.status.success(), "{}", String::from_utf8_lossy(&bad.stdout));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("PinIncorrect"), "{}", String::from_utf8_lossy(&bad.stderr));
    let good = migrate(USER_PIN);
    let text = String::from_utf8_lossy(&good.stdout);
    assert!(good.status.success(), "{text}{}", String::from_utf8_lossy(&good.stderr));
    assert!(text.contains("Migrated token legacy") && text.contains("with 17 objects"), "{text}");

    // The same token, objects and attributes in oxihsm; the user PIN and the SO PIN work.
    let slots = p.get_slots_with_initialized_token().unwrap();
    assert_eq!(slots.len(), 2);
    let ours_slot = slots[1];
    assert_eq!(ours_slot.id(), existing.id() + 1, "the next slot");
    let e = user_session(&p, existing);
    assert_eq!(
        snapshot(&e).iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(),
        ["already here ObjectClass { val: 0 }"]
    );
    assert_eq!(p.get_token_info(existing).unwrap().label(), "existing");
    drop(e);
    let info = p.get_token_info(ours_slot).unwrap();
    let theirs_info = theirs.get_token_info(slot).unwrap();
    assert_eq!((info.label(), info.serial_number()), (theirs_info.label(), theirs_info.serial_number()));
    let so = p.open_rw_session(ours_slot).unwrap();
    so.login(UserType::So, Some(&AuthPin::new(SO_PIN.into()))).unwrap();
    so.logout().unwrap();
    let o = user_session(&p, ours_slot);
    let after = snapshot(&o);
    assert_eq!(after, before, "every object with the same attributes");

    // Every key works: ECDSA and RSA signatures by migrated keys verify in SoftHSMv2 under the
    // original public keys; the migrated AES key encrypts as the original.
    let msg = b"signed after migration";
    use sha2::Digest;
    let digest = sha2::Sha256::digest(msg);
    let sig = o.sign(&Mechanism::Ecdsa, by_label(&o, "ec", ObjectClass::PRIVATE_KEY), &digest).unwrap();
    s.verify(&Mechanism::Ecdsa, by_label(&s, "ec", ObjectClass::PUBLIC_KEY), &digest, &sig).unwrap();
    let sig = o.sign(&Mechanism::Sha256RsaPkcs, by_label(&o, "imported", ObjectClass::PRIVATE_KEY), msg).unwrap();
    s.verify(&Mechanism::Sha256RsaPkcs, by_label(&s, "imported", ObjectClass::PUBLIC_KEY), msg, &sig).unwrap();
    let raw_ours = RawSession::new(&h, &o);
    let dsa = by_label(&o, "dsa", ObjectClass::PRIVATE_KEY).handle();
    let sig = raw_ours.sign(&mut mech::<u8>(CKM_DSA_SHA256, None), dsa, msg).unwrap();
    raw_theirs.verify(&mut mech::<u8>(CKM_DSA_SHA256, None), dsa_pub, msg, &sig).unwrap();
    // The X25519 private key agrees with SoftHSMv2's on a peer's public value (RFC 7748's).
    let peer = unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    let secret_of = |raw: &RawSession, key| {
        let mut point = [&[0x04, 0x20][..], &peer].concat();
        let mut p = ecdh_null(&mut point);
        let t = &mut T::default()
            .ulong(cryptoki_sys::CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .ulong(CKA_VALUE_LEN, 32)
            .flag(CKA_SENSITIVE, false)
            .flag(CKA_EXTRACTABLE, true);
        let k = raw.derive(&mut mech(CKM_ECDH1_DERIVE, Some(&mut p)), key, t).unwrap();
        raw.get_bytes(k, CKA_VALUE).unwrap()
    };
    let ours_x = by_label(&o, "x25519", ObjectClass::PRIVATE_KEY).handle();
    let theirs_x = by_label(&s, "x25519", ObjectClass::PRIVATE_KEY).handle();
    assert_eq!(secret_of(&raw_ours, ours_x), secret_of(&raw_theirs, theirs_x));
    assert_eq!(raw_ours.get_ulong(ours_x, CKA_KEY_GEN_MECHANISM), Ok(CKM_EC_MONTGOMERY_KEY_PAIR_GEN));
    // The Ed25519 key signs as SoftHSMv2's does (EdDSA is deterministic).
    let ours_ed = by_label(&o, "ed25519", ObjectClass::PRIVATE_KEY).handle();
    let mut eddsa = mech::<u8>(CKM_EDDSA, None);
    assert_eq!(raw_ours.sign(&mut eddsa, ours_ed, msg).unwrap(), raw_theirs.sign(&mut eddsa, ed_private, msg).unwrap());
    // The AES key keeps its mechanism restriction.
    let allowed = |s: &Session| {
        s.get_attributes(by_label(s, "aes", ObjectClass::SECRET_KEY), &[AttributeType::AllowedMechanisms]).unwrap()
    };
    assert_eq!(allowed(&o), allowed(&s));
    assert_eq!(
        allowed(&o),
        vec![Attribute::AllowedMechanisms(vec![MechanismType::AES_ECB, MechanismType::AES_CBC_PAD])]
    );
    let a = o.encrypt(&Mechanism::AesEcb, by_label(&o, "aes", ObjectClass::SECRET_KEY), &[7u8; 32]).unwrap();
    let b = s.encrypt(&Mechanism::AesEcb, by_label(&s, "aes", ObjectClass::SECRET_KEY), &[7u8; 32]).unwrap();
    assert_eq!(a, b);
    let k = by_label(&o, "aes", ObjectClass::SECRET_KEY);
    assert_eq!(o.get_attributes(k, &[AttributeType::KeyType]).unwrap(), vec![Attribute::KeyType(KeyType::AES)]);
    // A Triple DES key too.
    let a = o.encrypt(&Mechanism::Des3Ecb, by_label(&o, "des3", ObjectClass::SECRET_KEY), &[7u8; 32]).unwrap();
    let b = s.encrypt(&Mechanism::Des3Ecb, by_label(&s, "des3", ObjectClass::SECRET_KEY), &[7u8; 32]).unwrap();
    assert_eq!(a, b);
    // And a DES key (this SoftHSMv2 makes them but, on OpenSSL 3 without the legacy provider,
    // cannot use them: RustCrypto's DES under the key's value it reports is the reference).
    let value =
        match &s.get_attributes(by_label(&s, "des", ObjectClass::SECRET_KEY), &[AttributeType::Value]).unwrap()[..] {
            [Attribute::Value(v)] => v.clone(),
            other => panic!("{other:?}"),
        };
    let mut want = [7u8; 8];
    des::cipher::BlockEncrypt::encrypt_block(
        &<des::Des as des::cipher::KeyInit>::new_from_slice(&value).unwrap(),
        (&mut want).into(),
    );
    let got = o.encrypt(&Mechanism::DesEcb, by_label(&o, "des", ObjectClass::SECRET_KEY), &[7u8; 8]).unwrap();
    assert_eq!(got, want);
    // The key's checksum is SoftHSMv2's (three bytes of the encryption of a zero block).
    let kcv = |s: &cryptoki::session::Session| {
        let k = by_label(s, "aes", ObjectClass::SECRET_KEY);
        s.get_attributes(k, &[AttributeType::CheckValue]).unwrap()
    };
    let theirs = kcv(&s);
    assert!(matches!(&theirs[..], [Attribute::CheckValue(v)] if v.len() == 3), "{theirs:?}");
    assert_eq!(kcv(&o), theirs);
    // And both compute the same checksums for the same AES and generic secret values.
    for (kt, value) in [
        (KeyType::AES, vec![0x2bu8; 32]),
        (KeyType::GENERIC_SECRET, b"a generic secret".to_vec()),
        (KeyType::DES3, vec![0x2au8; 24]),
    ] {
        let t = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(kt),
            Attribute::Token(false),
            Attribute::Value(value),
        ];
        let check = |s: &cryptoki::session::Session| {
            let k = s.create_object(&t).unwrap();
            s.get_attributes(k, &[AttributeType::CheckValue]).unwrap()
        };
        assert_eq!(check(&o), check(&s), "{kt:?}");
    }
    // Private key material is sealed in oxihsm's store, never in clear.
    drop(o);
    p.finalize().unwrap();
    // The migration's audit records: the token, its user PIN, then each object (named by
    // its unique id, and by its label when it is public), all as the SO of the new token.
    let recs = {
        let db = rusqlite::Connection::open(h.token_dir.join("oxihsm.db")).unwrap();
        assert!(matches!(oxihsm::store::audit::verify(&db).unwrap(), oxihsm::store::audit::Verdict::Intact(_)));
        oxihsm::store::audit::records(&db).unwrap()
    };
    let migrated: Vec<_> = recs.iter().filter(|r| r.function.starts_with("oxihsm migrate")).collect();
    assert_eq!(migrated.len(), 2 + 17);
    assert_eq!(migrated[0].function, "oxihsm migrate (token)");
    assert_eq!(migrated[1].function, "oxihsm migrate (user PIN)");
    for r in &migrated {
        assert_eq!(r.slot_id, Some(ours_slot.id() as i64));
        assert_eq!(r.serial.as_deref(), Some(theirs_info.serial_number().trim()));
        assert_eq!(r.user.as_deref(), Some("so"));
        assert_eq!(r.result, CKR_OK as i64);
    }
    for r in &migrated[2..] {
        assert_eq!(r.function, "oxihsm migrate (object)");
        assert!(r.object_uid.as_ref().is_some_and(|u| !u.is_empty()), "{r:?}");
    }
    let mut labels: Vec<_> = migrated[2..].iter().map(|r| r.label.as_deref()).collect();
    labels.sort();
    // Private objects (both notes' private one, the private and secret keys) leave no label.
    assert_eq!(
        labels,
        [
            [None; 10].as_slice(),
            &[
                Some("dsa"),
                Some("ec"),
                Some("ec on curve25519"),
                Some("ed25519"),
                Some("imported"),
                Some("public note"),
                Some("x25519")
            ]
        ]
        .concat()
    );
    let db = std::fs::read(h.token_dir.join("oxihsm.db")).unwrap();
    assert!(!db.windows(12).any(|w| w == b"for the user"), "a private value in clear");
    // Migrating twice is refused.
    let again = migrate(USER_PIN);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already in the store"));
}
